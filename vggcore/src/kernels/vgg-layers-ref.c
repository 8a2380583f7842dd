/* Reference layers: the obvious loops, NCHW, accumulating in double where
 * it keeps them a trustworthy yardstick. */
#include "vgg-layers-private.h"

#include <float.h>
#include <math.h>

void
vgg_conv3x3_ref (const float *in, const float *weight, const float *bias,
    float *out, int n, int c, int o, int h, int w, int relu)
{
  for (int b = 0; b < n; b++)
    for (int oc = 0; oc < o; oc++)
      for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
          double acc = bias ? bias[oc] : 0.0;
          for (int ic = 0; ic < c; ic++)
            for (int ky = 0; ky < 3; ky++)
              for (int kx = 0; kx < 3; kx++) {
                int yy = y + ky - 1, xx = x + kx - 1;
                if (yy < 0 || yy >= h || xx < 0 || xx >= w)
                  continue;
                acc += (double) in[(((size_t) b * c + ic) * h + yy) * w + xx]
                    * weight[(((size_t) oc * c + ic) * 3 + ky) * 3 + kx];
              }
          if (relu && acc < 0)
            acc = 0;
          out[(((size_t) b * o + oc) * h + y) * w + x] = (float) acc;
        }
}

void
vgg_batchnorm_ref (float *x, const float *gamma, const float *beta,
    const float *mean, const float *var, int n, int c, int h, int w)
{
  for (int b = 0; b < n; b++)
    for (int ch = 0; ch < c; ch++) {
      float *p = x + ((size_t) b * c + ch) * h * w;
      double inv = 1.0 / sqrt ((double) var[ch] + VGG_BN_EPS);
      for (int i = 0; i < h * w; i++)
        p[i] = (float) ((p[i] - mean[ch]) * inv * gamma[ch] + beta[ch]);
    }
}

void
vgg_relu_ref (float *x, size_t count)
{
  for (size_t i = 0; i < count; i++)
    if (x[i] < 0)
      x[i] = 0;
}

void
vgg_maxpool2x2_ref (const float *in, float *out, int n, int c, int h, int w)
{
  int oh = h / 2, ow = w / 2;

  for (int b = 0; b < n; b++)
    for (int ch = 0; ch < c; ch++)
      for (int y = 0; y < oh; y++)
        for (int x = 0; x < ow; x++) {
          float m = -FLT_MAX;
          for (int dy = 0; dy < 2; dy++)
            for (int dx = 0; dx < 2; dx++) {
              float v =
                  in[(((size_t) b * c + ch) * h + 2 * y + dy) * w + 2 * x + dx];
              if (v > m)
                m = v;
            }
          out[(((size_t) b * c + ch) * oh + y) * ow + x] = m;
        }
}

void
vgg_avgpool7_ref (const float *in, float *out, int n, int c, int h, int w)
{
  const int s = VGG_POOL_OUT;

  for (int b = 0; b < n; b++)
    for (int ch = 0; ch < c; ch++)
      for (int oy = 0; oy < s; oy++)
        for (int ox = 0; ox < s; ox++) {
          int y0 = oy * h / s, y1 = ((oy + 1) * h + s - 1) / s;
          int x0 = ox * w / s, x1 = ((ox + 1) * w + s - 1) / s;
          double acc = 0;
          for (int y = y0; y < y1; y++)
            for (int x = x0; x < x1; x++)
              acc += in[(((size_t) b * c + ch) * h + y) * w + x];
          out[(((size_t) b * c + ch) * s + oy) * s + ox] =
              (float) (acc / ((y1 - y0) * (x1 - x0)));
        }
}

void
vgg_linear_ref (const float *in, const float *weight, const float *bias,
    float *out, int n, int i, int o, int relu)
{
  for (int b = 0; b < n; b++)
    for (int k = 0; k < o; k++) {
      double acc = bias ? bias[k] : 0.0;
      for (int j = 0; j < i; j++)
        acc += (double) in[(size_t) b * i + j] * weight[(size_t) k * i + j];
      if (relu && acc < 0)
        acc = 0;
      out[(size_t) b * o + k] = (float) acc;
    }
}

void
vgg_softmax (const float *in, float *out, int n, int k)
{
  for (int b = 0; b < n; b++) {
    const float *x = in + (size_t) b * k;
    float *y = out + (size_t) b * k;
    float m = -INFINITY;
    double sum = 0;
    for (int j = 0; j < k; j++)
      if (x[j] > m)
        m = x[j];
    for (int j = 0; j < k; j++)
      sum += exp ((double) x[j] - m);
    for (int j = 0; j < k; j++)
      y[j] = (float) (exp ((double) x[j] - m) / sum);
  }
}

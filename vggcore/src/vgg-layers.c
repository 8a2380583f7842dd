/* Fast layers on NHWC activations.
 *
 * NHWC keeps the channels of a pixel contiguous, so the im2col row of an
 * output pixel is three runs of 3c contiguous floats (one per kernel row)
 * and every convolution is a plain row-major GEMM:
 *   out (pixels, o) = col (pixels, 9c) . packed (9c, o). */
#include "vgg-layers-private.h"

#include <cblas.h>
#include <float.h>
#include <math.h>
#include <string.h>

/* Scratch per thread for im2col: 2M floats (8 MiB) keeps a block of
 * pixels large enough that OpenBLAS's packing of the weights is amortized
 * (~450 pixels at c = 512), and small enough to stay in L3. */
#define COL_FLOATS (2u << 20)
/* Longer blocks cost more than they save: the output block (rows x o)
 * falls out of L2 and, for the first layer's K = 27, GEMM speed halves
 * (measured with OpenBLAS 0.3.21's Zen kernels: 4096 rows at 47 GFLOP/s,
 * 67000 rows at 16). */
#define MAX_ROWS 2048
/* Under this many pixels per thread the output channels are split
 * instead, so each thread keeps whole-width GEMM rows. */
#define MIN_ROWS_PER_THREAD 256

static inline int
min_int (int a, int b)
{
  return a < b ? a : b;
}

static inline int
ceil_div (int a, int b)
{
  return (a + b - 1) / b;
}

/* rows x [o0, o1) of a matrix with row stride ld: x + bias, then ReLU.
 * Written so that the compiler vectorizes both loops. */
static void
add_bias_relu (float *out, int rows, int ld, const float *bias, int o0,
    int o1, int relu)
{
  for (int r = 0; r < rows; r++) {
    float *restrict row = out + (size_t) r * ld;
    if (relu) {
      for (int k = o0; k < o1; k++) {
        float v = row[k] + bias[k];
        row[k] = v > 0.0f ? v : 0.0f;
      }
    } else {
      for (int k = o0; k < o1; k++)
        row[k] += bias[k];
    }
  }
}

void
vgg_conv3x3_pack (const float *weight, const float *bias, const float *bn_gamma,
    const float *bn_beta, const float *bn_mean, const float *bn_var, int c,
    int o, float *packed, float *packed_bias)
{
  for (int oc = 0; oc < o; oc++) {
    float scale = 1.0f, shift = bias ? bias[oc] : 0.0f;
    if (bn_gamma) {
      scale = (float) (bn_gamma[oc] / sqrt ((double) bn_var[oc] + VGG_BN_EPS));
      shift = (shift - bn_mean[oc]) * scale + bn_beta[oc];
    }
    packed_bias[oc] = shift;
    for (int ic = 0; ic < c; ic++)
      for (int k = 0; k < 9; k++)
        packed[((size_t) k * c + ic) * o + oc] =
            weight[((size_t) oc * c + ic) * 9 + k] * scale;
  }
}

size_t
vgg_conv3x3_scratch_size (int c)
{
  size_t k = 9 * (size_t) c;
  /* at least 16 rows of col, whatever c */
  return k * 16 > COL_FLOATS ? k * 16 : COL_FLOATS;
}

typedef struct
{
  float *const *scratch;
  const float *in;
  const float *packed;
  const float *bias;
  float *out;
  int n, h, w, c, o, relu;
  int rows_per_task, n_row_tasks;
  int cols_per_task, n_col_tasks;
} ConvJob;

/* Writes col rows for output pixels [p0, p1) of the whole batch. */
static void
im2col_nhwc (const ConvJob *job, float *col, int p0, int p1)
{
  const int h = job->h, w = job->w, c = job->c;
  const size_t k = 9 * (size_t) c;

  for (int p = p0; p < p1; p++) {
    int b = p / (h * w), y = p / w % h, x = p % w;
    float *row = col + (size_t) (p - p0) * k;
    for (int ky = 0; ky < 3; ky++) {
      int yy = y + ky - 1;
      float *dst = row + (size_t) ky * 3 * c;
      const float *src = job->in + (((size_t) b * h + yy) * w + x - 1) * c;
      if (yy < 0 || yy >= h) {
        memset (dst, 0, 3 * c * sizeof (float));
      } else if (x > 0 && x + 1 < w) {
        memcpy (dst, src, 3 * c * sizeof (float));
      } else {
        for (int kx = 0; kx < 3; kx++) {
          int xx = x + kx - 1;
          if (xx < 0 || xx >= w)
            memset (dst + kx * c, 0, c * sizeof (float));
          else
            memcpy (dst + kx * c, src + (size_t) kx * c, c * sizeof (float));
        }
      }
    }
  }
}

static void
conv_task (void *user_data, int task, int thread)
{
  const ConvJob *job = user_data;
  int rt = task / job->n_col_tasks, ct = task % job->n_col_tasks;
  int total = job->n * job->h * job->w;
  int p0 = rt * job->rows_per_task;
  int p1 = min_int (total, p0 + job->rows_per_task);
  int o0 = ct * job->cols_per_task;
  int o1 = min_int (job->o, o0 + job->cols_per_task);
  int k = 9 * job->c;
  float *col = job->scratch[thread];
  float *out = job->out + (size_t) p0 * job->o;

  if (p0 >= p1 || o0 >= o1)
    return;
  im2col_nhwc (job, col, p0, p1);
  cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, p1 - p0, o1 - o0, k,
      1.0f, col, k, job->packed + o0, job->o, 0.0f, out + o0, job->o);

  add_bias_relu (out, p1 - p0, job->o, job->bias, o0, o1, job->relu);
}

void
vgg_conv3x3_nhwc (VggPool *pool, float *const *scratch, const float *in,
    const float *packed, const float *bias, float *out, int n, int h, int w,
    int c, int o, int relu)
{
  int threads = vgg_pool_get_threads (pool);
  int total = n * h * w;
  int max_rows = min_int (
      MAX_ROWS, (int) (vgg_conv3x3_scratch_size (c) / (9 * (size_t) c)));
  ConvJob job = {
    .scratch = scratch,
    .in = in,
    .packed = packed,
    .bias = bias,
    .out = out,
    .n = n,
    .h = h,
    .w = w,
    .c = c,
    .o = o,
    .relu = relu,
  };

  if (threads > 1 && total < MIN_ROWS_PER_THREAD * threads) {
    /* few pixels: every thread takes all rows and a share of the output
     * channels (a multiple of 16 for the GEMM's column blocking) */
    job.n_col_tasks = threads;
    job.cols_per_task = ceil_div (ceil_div (o, threads), 16) * 16;
  } else {
    job.n_col_tasks = 1;
    job.cols_per_task = o;
  }
  /* row blocks: as large as the scratch allows, a multiple of the thread
   * count so no thread idles at the end */
  job.n_row_tasks = ceil_div (total, max_rows);
  if (job.n_col_tasks == 1)
    job.n_row_tasks = ceil_div (job.n_row_tasks, threads) * threads;
  job.rows_per_task = ceil_div (total, job.n_row_tasks);
  vgg_pool_run (pool, job.n_row_tasks * job.n_col_tasks, conv_task, &job);
}

typedef struct
{
  const float *in;
  float *out;
  int n, h, w, c;
} PoolJob;

/* one task per output row of one image */
static void
maxpool_task (void *user_data, int task, int thread)
{
  const PoolJob *job = user_data;
  const int oh = job->h / 2, ow = job->w / 2, c = job->c, w = job->w;
  int b = task / oh, y = task % oh;
  const float *r0 = job->in + (((size_t) b * job->h + 2 * y) * w) * c;
  const float *r1 = r0 + (size_t) w * c;
  float *dst = job->out + (((size_t) b * oh + y) * ow) * c;

  for (int x = 0; x < ow; x++) {
    const float *a = r0 + (size_t) 2 * x * c, *bb = r1 + (size_t) 2 * x * c;
    float *d = dst + (size_t) x * c;
    for (int ch = 0; ch < c; ch++) {
      float m0 = a[ch] > a[ch + c] ? a[ch] : a[ch + c];
      float m1 = bb[ch] > bb[ch + c] ? bb[ch] : bb[ch + c];
      d[ch] = m0 > m1 ? m0 : m1;
    }
  }
}

void
vgg_maxpool2x2_nhwc (
    VggPool *pool, const float *in, float *out, int n, int h, int w, int c)
{
  PoolJob job = { in, out, n, h, w, c };
  vgg_pool_run (pool, n * (h / 2), maxpool_task, &job);
}

/* one task per image */
static void
avgpool_task (void *user_data, int b, int thread)
{
  const PoolJob *job = user_data;
  const int s = VGG_POOL_OUT, h = job->h, w = job->w, c = job->c;
  const float *img = job->in + (size_t) b * h * w * c;
  float *dst = job->out + (size_t) b * c * s * s;

  for (int oy = 0; oy < s; oy++) {
    int y0 = oy * h / s, y1 = ((oy + 1) * h + s - 1) / s;
    for (int ox = 0; ox < s; ox++) {
      int x0 = ox * w / s, x1 = ((ox + 1) * w + s - 1) / s;
      float inv = 1.0f / (float) ((y1 - y0) * (x1 - x0));
      for (int ch = 0; ch < c; ch++) {
        float acc = 0;
        for (int y = y0; y < y1; y++)
          for (int x = x0; x < x1; x++)
            acc += img[((size_t) y * w + x) * c + ch];
        dst[((size_t) ch * s + oy) * s + ox] = acc * inv;
      }
    }
  }
}

void
vgg_avgpool7_nhwc (
    VggPool *pool, const float *in, float *out, int n, int h, int w, int c)
{
  PoolJob job = { in, out, n, h, w, c };
  vgg_pool_run (pool, n, avgpool_task, &job);
}

typedef struct
{
  const float *in, *weight, *bias;
  float *out;
  int n, i, o, relu, chunk;
} LinearJob;

static void
linear_task (void *user_data, int task, int thread)
{
  const LinearJob *job = user_data;
  int o0 = task * job->chunk, o1 = min_int (job->o, o0 + job->chunk);
  const float *wt = job->weight + (size_t) o0 * job->i;

  if (o0 >= o1)
    return;
  if (job->n == 1)
    /* sgemm with one row spends its time packing the weights: a
     * matrix-vector product reads them once and is bandwidth-bound */
    cblas_sgemv (CblasRowMajor, CblasNoTrans, o1 - o0, job->i, 1.0f, wt, job->i,
        job->in, 1, 0.0f, job->out + o0, 1);
  else
    cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, job->n, o1 - o0,
        job->i, 1.0f, job->in, job->i, wt, job->i, 0.0f, job->out + o0, job->o);
  add_bias_relu (job->out, job->n, job->o, job->bias, o0, o1, job->relu);
}

void
vgg_linear (VggPool *pool, const float *in, const float *weight,
    const float *bias, float *out, int n, int i, int o, int relu)
{
  int threads = vgg_pool_get_threads (pool);
  /* a few chunks per thread, multiples of 16 outputs */
  int chunk = ceil_div (ceil_div (o, threads * 4), 16) * 16;
  LinearJob job = { in, weight, bias, out, n, i, o, relu, chunk };
  vgg_pool_run (pool, ceil_div (o, chunk), linear_task, &job);
}

typedef struct
{
  const float *in;
  float *out;
  int n, c, h, w;
} TransposeJob;

/* one task per image row */
static void
nchw_to_nhwc_task (void *user_data, int task, int thread)
{
  const TransposeJob *job = user_data;
  int b = task / job->h, y = task % job->h;
  float *dst = job->out + (((size_t) b * job->h + y) * job->w) * job->c;

  for (int ch = 0; ch < job->c; ch++) {
    const float *src =
        job->in + (((size_t) b * job->c + ch) * job->h + y) * job->w;
    for (int x = 0; x < job->w; x++)
      dst[(size_t) x * job->c + ch] = src[x];
  }
}

void
vgg_nchw_to_nhwc (
    VggPool *pool, const float *in, float *out, int n, int c, int h, int w)
{
  TransposeJob job = { in, out, n, c, h, w };
  vgg_pool_run (pool, n * h, nchw_to_nhwc_task, &job);
}

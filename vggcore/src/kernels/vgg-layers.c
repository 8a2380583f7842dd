/* The layer drivers on NHWC activations: each splits a layer over the
 * thread pool and runs the level's kernels (vgg-kernels-private.h) on the
 * pieces.
 *
 * NHWC keeps the channels of a pixel contiguous, so on an input padded
 * with a zero border the patch of an output pixel is three runs of 3c
 * contiguous floats (one per kernel row) and a convolution is an
 * implicit GEMM, with no im2col copy:
 *   out (pixels, o) = patches (pixels, 9c) . packed (9c, o). */
#include "vgg-layers-private.h"

#include <float.h>
#include <math.h>
#include <string.h>

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
    if (packed_bias)
      packed_bias[oc] = shift;
    for (int ic = 0; packed && ic < c; ic++)
      for (int k = 0; k < 9; k++)
        packed[((size_t) k * c + ic) * o + oc] =
            weight[((size_t) oc * c + ic) * 9 + k] * scale;
  }
}

size_t
vgg_conv3x3_panels_floats (const VggKernels *k, int c, int o)
{
  return (size_t) 9 * c * ceil_div (o, k->nr) * k->nr;
}

void
vgg_conv3x3_pack_panels (
    const VggKernels *k, const float *packed, int c, int o, float *panels)
{
  const int nr = k->nr, kk = 9 * c;

  memset (panels, 0, vgg_conv3x3_panels_floats (k, c, o) * sizeof (float));
  for (int r = 0; r < kk; r++)
    for (int oc = 0; oc < o; oc++)
      panels[((size_t) (oc / nr) * kk + r) * nr + oc % nr] =
          packed[(size_t) r * o + oc];
}

size_t
vgg_conv3x3_padded_floats (int n, int h, int w, int c)
{
  return (size_t) n * (h + 2) * (w + 2) * c;
}

typedef struct
{
  const VggKernels *k;
  const float *in;
  float *pad;
  const float *panels;
  const float *bias;
  float *out;
  int n, h, w, c, o, flags;
} ConvJob;

/* one task per padded row of one image: rows 0 and h + 1 and the first
 * and last pixel of each row are zero */
static void
pad_task (void *user_data, int task, int thread)
{
  const ConvJob *job = user_data;
  const int h = job->h, w = job->w, c = job->c;
  int b = task / (h + 2), y = task % (h + 2);
  float *dst = job->pad + ((size_t) b * (h + 2) + y) * (w + 2) * c;

  if (y == 0 || y == h + 1) {
    memset (dst, 0, (size_t) (w + 2) * c * sizeof (float));
    return;
  }
  memset (dst, 0, c * sizeof (float));
  memcpy (dst + c, job->in + ((size_t) b * h + y - 1) * w * c,
      (size_t) w * c * sizeof (float));
  memset (dst + (size_t) (w + 1) * c, 0, c * sizeof (float));
}

/* one task per output row of one image */
static void
conv_task (void *user_data, int task, int thread)
{
  const ConvJob *job = user_data;
  const int h = job->h, w = job->w, c = job->c;
  int b = task / h, y = task % h;

  job->k->conv_row (job->pad + ((size_t) b * (h + 2) + y) * (w + 2) * c,
      (size_t) (w + 2) * c, c, job->panels, job->bias,
      job->out + ((size_t) b * h + y) * w * job->o, w, job->o, job->flags);
}

void
vgg_conv3x3_direct (const VggKernels *k, VggPool *pool, float *pad,
    const float *in, const float *panels, const float *bias, float *out, int n,
    int h, int w, int c, int o, int flags)
{
  ConvJob job = { k, in, pad, panels, bias, out, n, h, w, c, o, flags };

  vgg_pool_run (pool, n * (h + 2), pad_task, &job);
  vgg_pool_run (pool, n * h, conv_task, &job);
}

int
vgg_conv3x3_amx_supported (const VggKernels *k, int c, int o)
{
  /* the CPU's tiles need Linux's permission (a table below amx with
   * conv_amx runs no tile instruction: the tests' model of them) */
  return k->conv_amx != NULL && c > 0 && c % 32 == 0 && o > 0
      && (k->isa != VGG_ISA_AMX || vgg_amx_permitted ());
}

size_t
vgg_conv3x3_amx_packed_count (int c, int o)
{
  return (size_t) 9 * c * ceil_div (o, VGG_AMX_BLOCK) * VGG_AMX_BLOCK;
}

void
vgg_conv3x3_amx_pack (const float *packed, int c, int o, vgg_bf16 *wt)
{
  const int kbn = c / 32;

  memset (wt, 0, vgg_conv3x3_amx_packed_count (c, o) * sizeof (vgg_bf16));
  for (int t = 0; t < 9; t++)
    for (int ic = 0; ic < c; ic++)
      for (int oc = 0; oc < o; oc++) {
        int nb = oc / 32, half = oc % 32 / 16, j = oc % 16;
        int kb = ic / 32, i = ic % 32 / 2, e = ic % 2;
        size_t tile = (((size_t) nb * 9 + t) * kbn + kb) * 2 + half;
        wt[tile * 512 + i * 32 + 2 * j + e] =
            vgg_float_to_bf16 (packed[((size_t) t * c + ic) * o + oc]);
      }
}

/* the padded images, then room for the reads of the last block past them
 * (VGG_AMX_BLOCK - 1 positions, then 2 (w + 2) + 2 for the taps, of which
 * 2 (w + 2) are the last image's bottom border rows) */
static size_t
amx_padded_positions (int n, int h, int w)
{
  return (size_t) n * (h + 2) * (w + 2) + VGG_AMX_BLOCK + 2;
}

size_t
vgg_conv3x3_amx_padded_floats (int n, int h, int w, int c)
{
  return (amx_padded_positions (n, h, w) * c + 1) / 2;
}

typedef struct
{
  const VggKernels *k;
  const float *in;
  VggAmxGeom g;
  vgg_bf16 *pad;
  int chunks; /* tasks per image */
  int chunk;  /* positions per task, a multiple of VGG_AMX_BLOCK */
} AmxJob;

/* one task per padded row of one image, and one for the slack */
static void
amx_pad_task (void *user_data, int task, int thread)
{
  const AmxJob *job = user_data;
  const int h = job->g.h, w = job->g.w, c = job->g.c;
  const size_t row = (size_t) (w + 2) * c;
  int b = task / (h + 2), y = task % (h + 2);
  vgg_bf16 *dst = job->pad + ((size_t) b * (h + 2) + y) * row;
  const float *src;

  if (b == job->g.n) {
    memset (dst, 0, (VGG_AMX_BLOCK + 2) * (size_t) c * sizeof (vgg_bf16));
    return;
  }
  if (y == 0 || y == h + 1) {
    memset (dst, 0, row * sizeof (vgg_bf16));
    return;
  }
  src = job->in + ((size_t) b * h + y - 1) * w * c;
  memset (dst, 0, c * sizeof (vgg_bf16));
  /* the high halves, exact for bf16 values: 0.90 ms for 224x224x64 on one
   * core of AMD Zen 4, 1.55 ms with vgg_float_to_bf16's rounding */
  for (size_t e = 0; e < (size_t) w * c; e++) {
    uint32_t u;
    memcpy (&u, &src[e], sizeof u);
    dst[c + e] = (vgg_bf16) (u >> 16);
  }
  memset (dst + row - c, 0, c * sizeof (vgg_bf16));
}

/* positions [chunk * j, chunk * (j + 1)) of the h (w + 2) that hold an
 * image's output rows */
static void
amx_conv_task (void *user_data, int task, int thread)
{
  const AmxJob *job = user_data;
  int b = task / job->chunks, j = task % job->chunks;
  int rows = job->g.h * (job->g.w + 2), q = job->chunk * j;
  int count = min_int (job->chunk, rows - q);

  (void) thread;
  job->k->conv_amx (&job->g, b * (job->g.h + 2) * (job->g.w + 2) + q,
      ceil_div (count, VGG_AMX_BLOCK) * VGG_AMX_BLOCK);
}

/* positions per task: at most 8 blocks (the weights of an output block are
 * read from L2 once per task), and at least 4 tasks per thread when the
 * layer allows */
#define AMX_MAX_CHUNK_BLOCKS 8

void
vgg_conv3x3_amx (const VggKernels *k, VggPool *pool, float *pad,
    const float *in, const vgg_bf16 *wt, const float *bias, float *out, int n,
    int h, int w, int c, int o, int flags)
{
  AmxJob job = { .k = k,
    .in = in,
    .g = { .pad = (const vgg_bf16 *) pad,
        .wt = wt,
        .bias = bias,
        .out = out,
        .n = n,
        .h = h,
        .w = w,
        .c = c,
        .o = o,
        .flags = flags },
    .pad = (vgg_bf16 *) pad };
  int blocks = ceil_div (h * (w + 2), VGG_AMX_BLOCK);
  int per_task = ceil_div (n * blocks, 4 * vgg_pool_get_threads (pool));

  per_task = per_task < 1 ? 1 : min_int (per_task, AMX_MAX_CHUNK_BLOCKS);
  job.chunk = per_task * VGG_AMX_BLOCK;
  job.chunks = ceil_div (blocks, per_task);
  vgg_pool_run (pool, n * (h + 2) + 1, amx_pad_task, &job);
  vgg_pool_run (pool, n * job.chunks, amx_conv_task, &job);
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
  const VggKernels *k;
  const float *in, *weight, *bias;
  const vgg_bf16 *in_bf16, *weight_bf16; /* or NULL: fp32 */
  float *out;
  int n, i, o, relu, chunk;
} LinearJob;

static void
linear_task (void *user_data, int task, int thread)
{
  const LinearJob *job = user_data;
  int o0 = task * job->chunk, o1 = min_int (job->o, o0 + job->chunk);

  if (o0 >= o1)
    return;
  if (job->weight_bf16)
    job->k->dot_rows_bf16 (job->in_bf16, job->n, job->i,
        job->weight_bf16 + (size_t) o0 * job->i, o1 - o0, job->i, job->out + o0,
        job->o);
  else
    job->k->dot_rows (job->in, job->n, job->i,
        job->weight + (size_t) o0 * job->i, o1 - o0, job->i, job->out + o0,
        job->o);
  for (int b = 0; b < job->n; b++) {
    float *row = job->out + (size_t) b * job->o;
    for (int r = o0; r < o1; r++) {
      float v = row[r] + job->bias[r];
      /* v < 0 is false for NaN, which stays, as in torch.relu */
      row[r] = job->relu && v < 0.0f ? 0.0f : v;
    }
  }
}

static void
run_linear (VggPool *pool, LinearJob *job)
{
  int threads = vgg_pool_get_threads (pool);
  /* a few chunks per thread, multiples of 16 outputs */
  job->chunk = ceil_div (ceil_div (job->o, threads * 4), 16) * 16;
  vgg_pool_run (pool, ceil_div (job->o, job->chunk), linear_task, job);
}

void
vgg_linear (const VggKernels *k, VggPool *pool, const float *in,
    const float *weight, const float *bias, float *out, int n, int i, int o,
    int relu)
{
  LinearJob job = { .k = k,
    .in = in,
    .weight = weight,
    .bias = bias,
    .out = out,
    .n = n,
    .i = i,
    .o = o,
    .relu = relu };
  run_linear (pool, &job);
}

void
vgg_linear_bf16 (const VggKernels *k, VggPool *pool, const float *in,
    vgg_bf16 *in_bf16, const vgg_bf16 *weight, const float *bias, float *out,
    int n, int i, int o, int relu)
{
  LinearJob job = { .k = k,
    .in_bf16 = in_bf16,
    .weight_bf16 = weight,
    .bias = bias,
    .out = out,
    .n = n,
    .i = i,
    .o = o,
    .relu = relu };

  for (size_t e = 0; e < (size_t) n * i; e++)
    in_bf16[e] = vgg_float_to_bf16 (in[e]);
  run_linear (pool, &job);
}

void
vgg_round_bf16 (float *x, size_t count)
{
  for (size_t e = 0; e < count; e++)
    x[e] = vgg_bf16_to_float (vgg_float_to_bf16 (x[e]));
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

typedef struct
{
  const float *in;
  float *out;
  int hw, c, channels_last, max;
} GlobalPoolJob;

/* Channels per task of vgg_global_pool: with channels last, a task reads
 * GLOBAL_POOL_BLOCK adjacent floats of every position, a cache line. */
#define GLOBAL_POOL_BLOCK 16

static void
global_pool_task (void *user_data, int task, int thread)
{
  const GlobalPoolJob *job = user_data;
  int blocks = (job->c + GLOBAL_POOL_BLOCK - 1) / GLOBAL_POOL_BLOCK;
  int b = task / blocks, c0 = task % blocks * GLOBAL_POOL_BLOCK;
  int nc = job->c - c0 < GLOBAL_POOL_BLOCK ? job->c - c0 : GLOBAL_POOL_BLOCK;
  const float *in = job->in + (size_t) b * job->hw * job->c;
  /* the mean is summed in double: a float sum over a 224x224 map drifts
   * past the parity tests' 1e-4 */
  double acc[GLOBAL_POOL_BLOCK];
  size_t pos_stride = job->channels_last ? (size_t) job->c : 1;
  size_t chan_stride = job->channels_last ? 1 : (size_t) job->hw;

  (void) thread;
  for (int k = 0; k < nc; k++) {
    const float *p = in + (size_t) (c0 + k) * chan_stride;
    acc[k] = job->max ? p[0] : 0.0;
  }
  for (int j = 0; j < job->hw; j++) {
    const float *p = in + j * pos_stride + (size_t) c0 * chan_stride;
    for (int k = 0; k < nc; k++) {
      float v = p[(size_t) k * chan_stride];
      if (!job->max)
        acc[k] += v;
      else if (v > acc[k] || v != v) /* a NaN stays, as in torch.amax */
        acc[k] = v;
    }
  }
  for (int k = 0; k < nc; k++)
    job->out[(size_t) b * job->c + c0 + k] =
        (float) (job->max ? acc[k] : acc[k] / job->hw);
}

void
vgg_global_pool (VggPool *pool, const float *in, float *out, int n, int hw,
    int c, int channels_last, int max)
{
  GlobalPoolJob job = { in, out, hw, c, channels_last, max };
  int blocks = (c + GLOBAL_POOL_BLOCK - 1) / GLOBAL_POOL_BLOCK;

  vgg_pool_run (pool, n * blocks, global_pool_task, &job);
}

/* The per-tile work of Winograd F(4x4, 3x3): input and output transforms
 * on eight channels at a time, and the 36 GEMMs between them.  See
 * vgg-winograd.c for the algorithm and its matrices.
 *
 * Compiled twice: for baseline x86-64 (VGG_WINOGRAD_FN =
 * vgg_conv3x3_winograd_generic) and with -mavx2 -mfma
 * (vgg_conv3x3_winograd_avx2); vgg-winograd.c picks one at run time. */
#include "vgg-layers-private.h"
#include "vgg-winograd-private.h"

#include <cblas.h>
#include <string.h>

#define T VGG_WINOGRAD_TILE
#define R VGG_WINOGRAD_OUT
#define XI (T * T)

/* Eight floats, with GCC's vector extension: one AVX register, or two SSE
 * ones on a baseline x86-64 build. */
typedef float v8 __attribute__ ((vector_size (32)));
typedef int vi8 __attribute__ ((vector_size (32)));

static inline __attribute__ ((always_inline)) v8
load8 (const float *p)
{
  v8 v;
  memcpy (&v, p, sizeof v);
  return v;
}

static inline __attribute__ ((always_inline)) void
store8 (float *p, v8 v)
{
  memcpy (p, &v, sizeof v);
}

/* r = B^T d for six vectors */
static inline __attribute__ ((always_inline)) void
input_1d (const v8 *d, v8 *r)
{
  r[0] = 4.0f * d[0] - 5.0f * d[2] + d[4];
  r[1] = -4.0f * (d[1] + d[2]) + d[3] + d[4];
  r[2] = 4.0f * (d[1] - d[2]) - d[3] + d[4];
  r[3] = 2.0f * (d[3] - d[1]) - d[2] + d[4];
  r[4] = 2.0f * (d[1] - d[3]) - d[2] + d[4];
  r[5] = 4.0f * d[1] - 5.0f * d[3] + d[5];
}

/* r = A^T m, six vectors into four */
static inline __attribute__ ((always_inline)) void
output_1d (const v8 *m, v8 *r)
{
  v8 a = m[1] + m[2], b = m[1] - m[2], c = m[3] + m[4], d = m[3] - m[4];
  r[0] = m[0] + a + c;
  r[1] = b + 2.0f * d;
  r[2] = a + 4.0f * c;
  r[3] = b + 8.0f * d + m[5];
}

typedef struct
{
  float *const *scratch;
  const float *zeros; /* c zero floats, for taps outside the image */
  const float *in;
  const float *u;
  const float *bias;
  float *out;
  int n, h, w, c, o, relu;
  int tiles_y, tiles_x, n_tiles;
  int block; /* tiles per task */
} WinoJob;

/* V[xi][t][c] = (B^T d B)[xi] for tiles [t0, t0 + count) */
static void
transform_input (const WinoJob *job, float *v, int t0, int count)
{
  const int c = job->c, h = job->h, w = job->w;
  const size_t xi_stride = (size_t) count * c;

  for (int t = 0; t < count; t++) {
    int tile = t0 + t;
    int b = tile / (job->tiles_y * job->tiles_x);
    int ty = tile / job->tiles_x % job->tiles_y, tx = tile % job->tiles_x;
    const float *src[T][T];
    for (int i = 0; i < T; i++)
      for (int j = 0; j < T; j++) {
        int y = ty * R - 1 + i, x = tx * R - 1 + j;
        src[i][j] = y < 0 || y >= h || x < 0 || x >= w
            ? job->zeros
            : job->in + (((size_t) b * h + y) * w + x) * c;
      }
    for (int ch = 0; ch < c; ch += 8) {
      v8 d[T][T], tmp[T][T], col[T], res[T];
      for (int i = 0; i < T; i++)
        for (int j = 0; j < T; j++)
          d[i][j] = load8 (src[i][j] + ch);
      /* columns: tmp = B^T d */
      for (int j = 0; j < T; j++) {
        for (int i = 0; i < T; i++)
          col[i] = d[i][j];
        input_1d (col, res);
        for (int i = 0; i < T; i++)
          tmp[i][j] = res[i];
      }
      /* rows: (B^T d) B */
      for (int i = 0; i < T; i++) {
        input_1d (tmp[i], res);
        for (int j = 0; j < T; j++)
          store8 (v + (i * T + j) * xi_stride + (size_t) t * c + ch, res[j]);
      }
    }
  }
}

/* out tiles from M[xi][t][o], plus bias and ReLU, clipped at the border */
static void
transform_output (const WinoJob *job, const float *m, int t0, int count)
{
  const int o = job->o, h = job->h, w = job->w;
  const size_t xi_stride = (size_t) count * o;

  for (int t = 0; t < count; t++) {
    int tile = t0 + t;
    int b = tile / (job->tiles_y * job->tiles_x);
    int ty = tile / job->tiles_x % job->tiles_y, tx = tile % job->tiles_x;
    int rows = h - ty * R < R ? h - ty * R : R;
    int cols = w - tx * R < R ? w - tx * R : R;
    float *dst = job->out + (((size_t) b * h + ty * R) * w + tx * R) * o;
    for (int oc = 0; oc < o; oc += 8) {
      v8 mm[T][T], tmp[R][T], col[T], res[R];
      v8 bias = load8 (job->bias + oc), zero = { 0 };
      for (int i = 0; i < T; i++)
        for (int j = 0; j < T; j++)
          mm[i][j] = load8 (m + (i * T + j) * xi_stride + (size_t) t * o + oc);
      for (int j = 0; j < T; j++) {
        for (int i = 0; i < T; i++)
          col[i] = mm[i][j];
        output_1d (col, res);
        for (int i = 0; i < R; i++)
          tmp[i][j] = res[i];
      }
      for (int i = 0; i < rows; i++) {
        output_1d (tmp[i], res);
        for (int j = 0; j < cols; j++) {
          v8 y = res[j] + bias;
          if (job->relu)
            y = (v8) ((vi8) (y > zero) & (vi8) y);
          store8 (dst + ((size_t) i * w + j) * o + oc, y);
        }
      }
    }
  }
}

static void
winograd_task (void *user_data, int task, int thread)
{
  const WinoJob *job = user_data;
  int t0 = task * job->block;
  int count = job->n_tiles - t0 < job->block ? job->n_tiles - t0 : job->block;
  float *v = job->scratch[thread];
  float *m = v + (size_t) XI * job->block * job->c;

  if (count <= 0)
    return;
  transform_input (job, v, t0, count);
  for (int xi = 0; xi < XI; xi++)
    cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, count, job->o,
        job->c, 1.0f, v + (size_t) xi * count * job->c, job->c,
        job->u + (size_t) xi * job->c * job->o, job->o, 0.0f,
        m + (size_t) xi * count * job->o, job->o);
  transform_output (job, m, t0, count);
}

void
VGG_WINOGRAD_FN (VggPool *pool, float *const *scratch, const float *zeros,
    const float *in, const float *u, const float *bias, float *out, int n,
    int h, int w, int c, int o, int relu)
{
  int threads = vgg_pool_get_threads (pool);
  int max_block = (int) (VGG_WINOGRAD_SCRATCH_FLOATS / ((size_t) XI * (c + o)));
  int n_tasks;
  WinoJob job = {
    .scratch = scratch,
    .zeros = zeros,
    .in = in,
    .u = u,
    .bias = bias,
    .out = out,
    .n = n,
    .h = h,
    .w = w,
    .c = c,
    .o = o,
    .relu = relu,
    .tiles_y = (h + R - 1) / R,
    .tiles_x = (w + R - 1) / R,
  };

  if (max_block > VGG_WINOGRAD_MAX_BLOCK)
    max_block = VGG_WINOGRAD_MAX_BLOCK;
  job.n_tiles = n * job.tiles_y * job.tiles_x;
  /* as few blocks as the scratch allows, a multiple of the threads */
  n_tasks = (job.n_tiles + max_block - 1) / max_block;
  n_tasks = (n_tasks + threads - 1) / threads * threads;
  job.block = (job.n_tiles + n_tasks - 1) / n_tasks;
  vgg_pool_run (pool, n_tasks, winograd_task, &job);
}

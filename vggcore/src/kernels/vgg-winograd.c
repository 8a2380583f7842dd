/* 3x3 convolution by Winograd's minimal filtering F(r x r, 3x3) (Lavin and
 * Gray, 2015), r = 4 or 6, on NHWC activations.
 *
 * Each r x r output tile is computed from a T x T input tile d, T = r + 2:
 *   Y = A^T [ (G g G^T) (.) (B^T d B) ] A
 *
 * F(4x4), interpolation points 0, 1, -1, 2, -2 and infinity:
 *
 *   B^T = | 4  0 -5  0  1  0 |   G = |  1/4     0     0  |
 *         | 0 -4 -4  1  1  0 |       | -1/6  -1/6  -1/6  |
 *         | 0  4 -4 -1  1  0 |       | -1/6   1/6  -1/6  |
 *         | 0 -2 -1  2  1  0 |       |  1/24  1/12  1/6  |
 *         | 0  2 -1 -2  1  0 |       |  1/24 -1/12  1/6  |
 *         | 0  4  0 -5  0  1 |       |  0     0     1    |
 *
 *   A^T = | 1  1  1  1  1  0 |
 *         | 0  1 -1  2 -2  0 |
 *         | 0  1  1  4  4  0 |
 *         | 0  1 -1  8 -8  1 |
 *
 * F(6x6), points 0, 1, -1, 1/2, -1/2, 2, -2 and infinity:
 *
 *   B^T = | 1   0   -21/4   0     21/4   0     -1  0 |
 *         | 0   1    1    -17/4 -17/4   1      1  0 |
 *         | 0  -1    1     17/4 -17/4  -1      1  0 |
 *         | 0  1/2  1/4   -5/2   -5/4   2      1  0 |
 *         | 0 -1/2  1/4    5/2   -5/4  -2      1  0 |
 *         | 0   2    4    -5/2   -5    1/2     1  0 |
 *         | 0  -2    4     5/2   -5   -1/2     1  0 |
 *         | 0  -1    0     21/4   0   -21/4    0  1 |
 *
 *   G = |  1      0      0    |   A^T = | 1  1  1  1   1   1     1    0 |
 *       | -2/9   -2/9   -2/9  |         | 0  1 -1  2  -2  1/2  -1/2   0 |
 *       | -2/9    2/9   -2/9  |         | 0  1  1  4   4  1/4   1/4   0 |
 *       |  1/90   1/45   2/45 |         | 0  1 -1  8  -8  1/8  -1/8   0 |
 *       |  1/90  -1/45   2/45 |         | 0  1  1 16  16  1/16  1/16  0 |
 *       | 32/45  16/45   8/45 |         | 0  1 -1 32 -32  1/32 -1/32  1 |
 *       | 32/45 -16/45   8/45 |
 *       |  0      0      1    |
 *
 * Summed over input channels, the elementwise product becomes T^2
 * independent GEMMs, one per position xi of the T x T tile:
 *   M[xi] (tiles, o) = V[xi] (tiles, c) . U[xi] (c, o)
 * run by the level's register-blocked GEMM (vgg-kernels-body.h) on U packed
 * once at load in its panels (vgg-kernels-private.h).  r^2 output pixels
 * take T^2 c o multiply-adds instead of 9 r^2 c o: 2.25 per pixel for
 * F(4x4), 1.78 for F(6x6), before the tiles that poke out of the map.
 *
 * Two ways to spread a layer over the threads:
 * - many tiles: each thread takes blocks of tiles and runs the input
 *   transform, the GEMMs and the output transform of its block in its
 *   own slice of the scratch, where V and M stay in cache;
 * - few tiles (the 28x28 and 14x14 layers at small batches): one block of
 *   every tile, each stage split over all threads (the GEMMs by position
 *   and column panel), so U (up to 36 MiB) is read once, not once per
 *   thread. */
#include "vgg-layers-private.h"

#include <string.h>

/* tiles per thread under which a layer runs as one shared block */
#define SHARED_TILES_PER_THREAD 64

/* The distance between the matrices of two positions xi in V (or M), for
 * floats of one: rounded up to whole 4 KiB and one 64-byte line more.  A
 * tile's transform writes (reads) one line in each of the T^2 matrices;
 * at distances that are multiples of 2 or 4 KiB (a block of 128 F(4x4)
 * tiles of 512 channels is 256 KiB) those lines all fall in one or two
 * sets of the L1 cache, which holds 8 to 12 of them, and the stores went
 * to L2.  build/bench/wino-transforms times the transforms alone at both
 * distances; the figures are in the README. */
#define XI_PAGE_FLOATS 1024
#define XI_SKEW_FLOATS 16

size_t
vgg_winograd_xi_stride (size_t floats)
{
  return (floats + XI_PAGE_FLOATS - 1) / XI_PAGE_FLOATS * XI_PAGE_FLOATS
      + XI_SKEW_FLOATS;
}

int
vgg_winograd_supported (int c, int o)
{
  return c % 8 == 0 && o % 8 == 0;
}

/* The tile by measurement (bench/winograd-tiles, 40 rounds interleaved,
 * 2 threads, AMD Zen 4 at the avx512bf16 level; best-of ratio F(6x6) /
 * F(4x4) per VGG16 shape, one image for the head's maps, 8 below):
 *   224x224 64->64 0.91; 112x112 64->128 0.93, 128->128 0.92;
 *   56x56 128->256 0.96, 256->256 0.98;
 *   28x28 256->512 0.93 (batch 8) 0.98 (batch 1), 512->512 0.97 / 1.03;
 *   14x14 512->512 1.07 / 1.44.
 * F(6x6) does 18% fewer multiplies on the large maps (9% on 56x56 and
 * 28x28, whose 6x6 tiles poke out, none on 14x14) and its transforms cost
 * more per pixel, so it wins by less than that.  On 28x28 it gains a few
 * percent at batch 8, none at batch 1, and its filters take 1.78 times
 * F(4x4)'s memory: 74 MB more for VGG16's 28x28 layers.  So F(6x6) for
 * maps of at least 56x56 (21 MB more for VGG16), F(4x4) below.  VGG16
 * whole (vgg-bench, 6 rounds interleaved, best ms per batch): batch 1
 * 74.9 all F(4x4), 70.6 this choice, 73.0 F(6x6) from 28x28; batch 8
 * 433.4, 418.7 and 447.7.  Accuracy:
 * test-layers bounds F(6x6) at 3e-5 of the largest output (measured up to
 * 1.2e-5 at 128 channels, F(4x4) 5e-6); in the parity tests the worst
 * error, VGG19_bn's fc7, goes from 1.7e-5 to 3.0e-5 of the largest value
 * (the bound is 1e-4). */
int
vgg_winograd_tile (int h, int w)
{
  return h >= 56 && w >= 56 ? 6 : 4;
}

static int
padded (const VggKernels *k, int o)
{
  return (o + k->nr - 1) / k->nr * k->nr;
}

size_t
vgg_winograd_packed_floats (const VggKernels *k, int c, int o, int r)
{
  return (size_t) VGG_WINO_XI (r) * c * padded (k, o);
}

void
vgg_winograd_pack (
    const VggKernels *k, const float *packed, int c, int o, int r, float *u)
{
  static const double G4[6][3] = {
    { 1.0 / 4, 0, 0 },
    { -1.0 / 6, -1.0 / 6, -1.0 / 6 },
    { -1.0 / 6, 1.0 / 6, -1.0 / 6 },
    { 1.0 / 24, 1.0 / 12, 1.0 / 6 },
    { 1.0 / 24, -1.0 / 12, 1.0 / 6 },
    { 0, 0, 1 },
  };
  static const double G6[8][3] = {
    { 1, 0, 0 },
    { -2.0 / 9, -2.0 / 9, -2.0 / 9 },
    { -2.0 / 9, 2.0 / 9, -2.0 / 9 },
    { 1.0 / 90, 1.0 / 45, 2.0 / 45 },
    { 1.0 / 90, -1.0 / 45, 2.0 / 45 },
    { 32.0 / 45, 16.0 / 45, 8.0 / 45 },
    { 32.0 / 45, -16.0 / 45, 8.0 / 45 },
    { 0, 0, 1 },
  };
  const double (*G)[3] = r == 6 ? G6 : G4;
  const int T = r + 2, nr = k->nr, o_pad = padded (k, o);

  /* packed: (3, 3, c, o); u: (T^2, o_pad / nr, c, nr), U = G g G^T, the
   * padding columns zero */
  memset (u, 0, vgg_winograd_packed_floats (k, c, o, r) * sizeof (float));
  for (int ic = 0; ic < c; ic++)
    for (int oc = 0; oc < o; oc++) {
      double g[3][3], gg[8][3];
      for (int ky = 0; ky < 3; ky++)
        for (int kx = 0; kx < 3; kx++)
          g[ky][kx] = packed[((size_t) (ky * 3 + kx) * c + ic) * o + oc];
      for (int a = 0; a < T; a++)
        for (int kx = 0; kx < 3; kx++)
          gg[a][kx] =
              G[a][0] * g[0][kx] + G[a][1] * g[1][kx] + G[a][2] * g[2][kx];
      for (int a = 0; a < T; a++)
        for (int b = 0; b < T; b++)
          u[(size_t) (a * T + b) * c * o_pad
              + ((size_t) (oc / nr) * c + ic) * nr + oc % nr] =
              (float) (G[b][0] * gg[a][0] + G[b][1] * gg[a][1]
                  + G[b][2] * gg[a][2]);
    }
}

/* The tiles whose V and M fit in floats of scratch, with their xi
 * strides */
static int
tiles_in (size_t floats, int c, int o_pad, int r)
{
  int xi = VGG_WINO_XI (r);
  size_t skew = (size_t) 2 * xi * (XI_PAGE_FLOATS + XI_SKEW_FLOATS);

  return (int) ((floats - skew) / ((size_t) xi * (c + o_pad)));
}

size_t
vgg_winograd_scratch_floats (int threads)
{
  return (size_t) threads * VGG_WINOGRAD_SCRATCH_FLOATS;
}

typedef struct
{
  const VggKernels *k;
  VggWinoGeom g;
  float *scratch;
  const float *u;
  int xi; /* positions of the input tile */
  int o_pad, n_tiles;
  int block; /* tiles per task */
  /* the shared block: V, M, their xi strides and the stage's split */
  float *v, *m;
  size_t v_stride, m_stride;
  int t0, count, panels;
} WinoJob;

/* many tiles: a block per task, in the thread's own scratch */
static void
block_task (void *user_data, int task, int thread)
{
  const WinoJob *job = user_data;
  const VggKernels *k = job->k;
  const int c = job->g.c, o_pad = job->o_pad;
  int t0 = task * job->block;
  int count = job->n_tiles - t0 < job->block ? job->n_tiles - t0 : job->block;
  size_t v_stride = vgg_winograd_xi_stride ((size_t) count * c);
  size_t m_stride = vgg_winograd_xi_stride ((size_t) count * o_pad);
  float *v = job->scratch + (size_t) thread * VGG_WINOGRAD_SCRATCH_FLOATS;
  float *m = v + job->xi * v_stride;

  k->wino_input (&job->g, v, v_stride, t0, count);
  for (int xi = 0; xi < job->xi; xi++)
    k->gemm (count, o_pad, c, v + xi * v_stride, c,
        job->u + (size_t) xi * c * o_pad, m + xi * m_stride, o_pad);
  k->wino_output (&job->g, m, m_stride, o_pad, t0, count);
}

/* few tiles: the stages of one shared block of job->count tiles from
 * job->t0, each stage split over the threads */
#define STAGE_TILES 4

static void
shared_input_task (void *user_data, int task, int thread)
{
  const WinoJob *job = user_data;
  int i = task * STAGE_TILES;
  int count = job->count - i < STAGE_TILES ? job->count - i : STAGE_TILES;

  job->k->wino_input (&job->g, job->v + (size_t) i * job->g.c, job->v_stride,
      job->t0 + i, count);
}

static void
shared_gemm_task (void *user_data, int task, int thread)
{
  const WinoJob *job = user_data;
  const int c = job->g.c, o_pad = job->o_pad, nr = job->k->nr;
  int xi = task / job->panels, p = task % job->panels;

  job->k->gemm (job->count, nr, c, job->v + xi * job->v_stride, c,
      job->u + (size_t) xi * c * o_pad + (size_t) p * c * nr,
      job->m + xi * job->m_stride + (size_t) p * nr, o_pad);
}

static void
shared_output_task (void *user_data, int task, int thread)
{
  const WinoJob *job = user_data;
  int i = task * STAGE_TILES;
  int count = job->count - i < STAGE_TILES ? job->count - i : STAGE_TILES;

  job->k->wino_output (&job->g, job->m + (size_t) i * job->o_pad, job->m_stride,
      job->o_pad, job->t0 + i, count);
}

void
vgg_conv3x3_winograd (const VggKernels *k, VggPool *pool, float *scratch,
    const float *zeros, const float *in, const float *u, int r,
    const float *bias, float *out, int n, int h, int w, int c, int o, int flags)
{
  int threads = vgg_pool_get_threads (pool);
  int o_pad = padded (k, o), xi = VGG_WINO_XI (r);
  WinoJob job = {
    .k = k,
    .g = {
      .in = in,
      .zeros = zeros,
      .out = out,
      .bias = bias,
      .h = h,
      .w = w,
      .c = c,
      .o = o,
      .flags = flags,
      .r = r,
      .tiles_y = (h + r - 1) / r,
      .tiles_x = (w + r - 1) / r,
    },
    .xi = xi,
    .scratch = scratch,
    .u = u,
    .o_pad = o_pad,
    .panels = o_pad / k->nr,
  };

  job.n_tiles = n * job.g.tiles_y * job.g.tiles_x;
  if (threads > 1 && job.n_tiles < threads * SHARED_TILES_PER_THREAD) {
    /* the whole scratch holds one block of max_shared tiles */
    int max_shared =
        tiles_in (vgg_winograd_scratch_floats (threads), c, o_pad, r);
    for (job.t0 = 0; job.t0 < job.n_tiles; job.t0 += job.count) {
      job.count =
          job.n_tiles - job.t0 < max_shared ? job.n_tiles - job.t0 : max_shared;
      job.v_stride = vgg_winograd_xi_stride ((size_t) job.count * c);
      job.m_stride = vgg_winograd_xi_stride ((size_t) job.count * o_pad);
      job.v = scratch;
      job.m = scratch + xi * job.v_stride;
      vgg_pool_run (pool, (job.count + STAGE_TILES - 1) / STAGE_TILES,
          shared_input_task, &job);
      vgg_pool_run (pool, xi * job.panels, shared_gemm_task, &job);
      vgg_pool_run (pool, (job.count + STAGE_TILES - 1) / STAGE_TILES,
          shared_output_task, &job);
    }
  } else {
    job.block = vgg_winograd_block_tiles (k, job.n_tiles, c, o, r, threads);
    vgg_pool_run (
        pool, (job.n_tiles + job.block - 1) / job.block, block_task, &job);
  }
}

int
vgg_winograd_block_tiles (
    const VggKernels *k, int n_tiles, int c, int o, int r, int threads)
{
  int max_block = tiles_in (VGG_WINOGRAD_SCRATCH_FLOATS, c, padded (k, o), r);
  int n_tasks;

  if (max_block > VGG_WINOGRAD_MAX_BLOCK_PIXELS / (r * r))
    max_block = VGG_WINOGRAD_MAX_BLOCK_PIXELS / (r * r);
  /* as few blocks as the scratch allows, a multiple of the threads */
  n_tasks = (n_tiles + max_block - 1) / max_block;
  n_tasks = (n_tasks + threads - 1) / threads * threads;
  return (n_tiles + n_tasks - 1) / n_tasks;
}

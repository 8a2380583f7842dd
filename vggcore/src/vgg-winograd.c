/* 3x3 convolution by Winograd's minimal filtering F(4x4, 3x3) (Lavin and
 * Gray, 2015), on NHWC activations.
 *
 * Each 4x4 output tile is computed from a 6x6 input tile d:
 *   Y = A^T [ (G g G^T) (.) (B^T d B) ] A
 * with interpolation points 0, 1, -1, 2, -2 and infinity:
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
 * Summed over input channels, the elementwise product becomes 36
 * independent GEMMs, one per position xi of the 6x6 tile:
 *   M[xi] (tiles, o) = V[xi] (tiles, c) . U[xi] (c, o)
 * run by OpenBLAS on blocks of tiles small enough for a thread's scratch.
 * 16 output pixels take 36 c o multiply-adds instead of 144 c o. */
#include "vgg-layers-private.h"
#include "vgg-winograd-private.h"

#define T VGG_WINOGRAD_TILE

int
vgg_winograd_supported (int c, int o)
{
  return c % 8 == 0 && o % 8 == 0;
}

size_t
vgg_winograd_scratch_size (void)
{
  return VGG_WINOGRAD_SCRATCH_FLOATS;
}

void
vgg_winograd_pack (const float *packed, int c, int o, float *u)
{
  static const double G[T][3] = {
    { 1.0 / 4, 0, 0 },
    { -1.0 / 6, -1.0 / 6, -1.0 / 6 },
    { -1.0 / 6, 1.0 / 6, -1.0 / 6 },
    { 1.0 / 24, 1.0 / 12, 1.0 / 6 },
    { 1.0 / 24, -1.0 / 12, 1.0 / 6 },
    { 0, 0, 1 },
  };

  /* packed: (3, 3, c, o); u: (36, c, o), U = G g G^T */
  for (int ic = 0; ic < c; ic++)
    for (int oc = 0; oc < o; oc++) {
      double g[3][3], gg[T][3];
      for (int ky = 0; ky < 3; ky++)
        for (int kx = 0; kx < 3; kx++)
          g[ky][kx] = packed[((size_t) (ky * 3 + kx) * c + ic) * o + oc];
      for (int a = 0; a < T; a++)
        for (int kx = 0; kx < 3; kx++)
          gg[a][kx] =
              G[a][0] * g[0][kx] + G[a][1] * g[1][kx] + G[a][2] * g[2][kx];
      for (int a = 0; a < T; a++)
        for (int b = 0; b < T; b++)
          u[((size_t) (a * T + b) * c + ic) * o + oc] =
              (float) (G[b][0] * gg[a][0] + G[b][1] * gg[a][1]
                  + G[b][2] * gg[a][2]);
    }
}

void
vgg_conv3x3_winograd (VggPool *pool, float *const *scratch, const float *zeros,
    const float *in, const float *u, const float *bias, float *out, int n,
    int h, int w, int c, int o, int relu)
{
  /* the same arithmetic either way; AVX2 does eight channels in one
   * register instead of two */
  /* atomic: contexts in several threads may ask first at the same time */
  static int cached_avx2 = -1;
  int have_avx2 = __atomic_load_n (&cached_avx2, __ATOMIC_RELAXED);

  if (have_avx2 < 0) {
    __builtin_cpu_init ();
    have_avx2 =
        __builtin_cpu_supports ("avx2") && __builtin_cpu_supports ("fma");
    __atomic_store_n (&cached_avx2, have_avx2, __ATOMIC_RELAXED);
  }
  (have_avx2 ? vgg_conv3x3_winograd_avx2 : vgg_conv3x3_winograd_generic) (
      pool, scratch, zeros, in, u, bias, out, n, h, w, c, o, relu);
}

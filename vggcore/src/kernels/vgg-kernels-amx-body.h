/* The bf16 convolution on AMX tiles, written over six tile operations so
 * that the same code runs on the CPU's tiles (vgg-kernels-amx.c) and, in
 * the tests, on a C model of them that any CPU runs (the layout and the
 * bookkeeping are then checked where no AMX is at hand).
 *
 * The includer defines, t being a tile number 0..7:
 *   TILE_CONFIG(cfg)       load the 64-byte tile configuration cfg
 *                          (an AmxTileConfig)
 *   TILE_ZERO(t)
 *   TILE_LOAD(t, p, s)     rows of the tile from p, s bytes apart
 *   TILE_STORE(t, p, s)
 *   TILE_DPBF16(c, a, b)   tdpbf16ps: c (16 x 16 fp32) += a (16 x 32 bf16)
 *                          . b (16 pairs of rows x 16 columns, VNNI)
 *   TILE_RELEASE()
 *   AMX_CONV               the function's name
 *
 * A block is 32 positions x 32 outputs: A tiles 4 and 5 hold positions
 * q..q+15 and q+16..q+31 (32 input channels of one tap each), B tiles 6
 * and 7 the weights of outputs 0..15 and 16..31 of the block, tiles 0..3
 * the four 16 x 16 fp32 sums.  Each step of k (one tap, 32 channels) is 4
 * loads for 4 tdpbf16ps.  The output blocks are the outer loop, so the
 * weights of one (9c x 32 bf16, 288 KB at c = 512) stay in L2 while the
 * call's positions go by.
 *
 * Packed weights (vgg_conv3x3_amx_pack), for output block nb, tap t =
 * ky * 3 + kx, channel block kb of 32 and half h of the block, a B tile of
 * 16 rows of 32 bf16: row i, element 2 j + e is the weight of input
 * channel kb * 32 + 2 i + e to output nb * 32 + h * 16 + j, at
 *   wt[(((nb * 9 + t) * (c / 32) + kb) * 2 + h) * 512 + i * 32 + 2 j + e]
 * and zero for outputs past o (o is padded to a multiple of 32). */
#include "vgg-kernels-private.h"

#include <string.h>

/* Bias, then flags, on the sums of the block at q (acc[tile][row][column],
 * tiles 0..3 = positions half i, outputs half j at 2 i + j), kept for the
 * positions before end that are inside the image and outputs below o. */
static void
amx_epilogue (
    const VggAmxGeom *g, int q, int end, int o0, const float acc[4][16][16])
{
  const int wp = g->w + 2, plane = (g->h + 2) * wp, h = g->h, w = g->w;
  const int o = g->o, flags = g->flags, b = q / plane;
  const int no = o - o0 < VGG_AMX_BLOCK ? o - o0 : VGG_AMX_BLOCK;
  const float *restrict bias = g->bias + o0;
  int y = q % plane / wp, x = q % wp;

  for (int p = 0; p < VGG_AMX_BLOCK && q + p < end; p++) {
    if (y < h && x < w) {
      float *restrict dst = g->out + (((size_t) b * h + y) * w + x) * o + o0;
      for (int half = 0; half * 16 < no; half++) {
        const float *restrict sums = acc[p / 16 * 2 + half][p % 16];
        int nj = no - half * 16 < 16 ? no - half * 16 : 16;
        for (int j = 0; j < nj; j++) {
          float v = sums[j] + bias[half * 16 + j];
          /* v < 0 is false for NaN, which stays, as in torch.relu */
          if ((flags & VGG_OUT_RELU) && v < 0.0f)
            v = 0.0f;
          if (flags & VGG_OUT_BF16)
            v = vgg_bf16_to_float (vgg_float_to_bf16 (v));
          dst[half * 16 + j] = v;
        }
      }
    }
    if (++x == wp) {
      x = 0;
      y++;
    }
  }
}

static void
AMX_CONV (const VggAmxGeom *g, int q0, int count)
{
  const int c = g->c, kbn = c / 32, wp = g->w + 2;
  const int blocks = (g->o + VGG_AMX_BLOCK - 1) / VGG_AMX_BLOCK;
  const long stride = (long) c * sizeof (vgg_bf16);
  /* the output rows of q0's image end here: a block rounded up past them
   * computes the next image's first positions, which its own call keeps */
  const int plane = (g->h + 2) * wp, end = q0 / plane * plane + g->h * wp;
  AmxTileConfig cfg;
  _Alignas(64) float acc[4][16][16];

  memset (&cfg, 0, sizeof cfg);
  cfg.palette = 1;
  for (int t = 0; t < 8; t++) {
    cfg.rows[t] = 16;
    cfg.colsb[t] = 64;
  }
  TILE_CONFIG (&cfg);
  for (int nb = 0; nb < blocks; nb++) {
    const vgg_bf16 *wb = g->wt + (size_t) nb * 9 * kbn * 1024;
    for (int q = q0; q < q0 + count; q += VGG_AMX_BLOCK) {
      const vgg_bf16 *bt = wb;
      TILE_ZERO (0);
      TILE_ZERO (1);
      TILE_ZERO (2);
      TILE_ZERO (3);
      for (int t = 0; t < 9; t++) {
        const vgg_bf16 *a = g->pad + (size_t) (q + t / 3 * wp + t % 3) * c;
        for (int kb = 0; kb < kbn; kb++, bt += 1024) {
          TILE_LOAD (4, a + kb * 32, stride);
          TILE_LOAD (5, a + (size_t) 16 * c + kb * 32, stride);
          TILE_LOAD (6, bt, 64);
          TILE_LOAD (7, bt + 512, 64);
          TILE_DPBF16 (0, 4, 6);
          TILE_DPBF16 (1, 4, 7);
          TILE_DPBF16 (2, 5, 6);
          TILE_DPBF16 (3, 5, 7);
        }
      }
      TILE_STORE (0, acc[0], 64);
      TILE_STORE (1, acc[1], 64);
      TILE_STORE (2, acc[2], 64);
      TILE_STORE (3, acc[3], 64);
      amx_epilogue (g, q, end, nb * VGG_AMX_BLOCK, acc);
    }
  }
  TILE_RELEASE ();
}

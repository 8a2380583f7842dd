/* The engine's compute kernels, one table per instruction-set level.
 *
 * The drivers (vgg-winograd.c, vgg-layers.c) split the work of a layer
 * over the thread pool and call the level's kernels on pieces of it; the
 * model packs its weights once, in the layout of the level chosen for the
 * process (vgg-cpu.c).  Every kernel has a plain reference beside it
 * (vgg-layers-ref.c) that the tests compare it with.
 *
 * Packed layouts, for a level whose fp32 GEMM block is mr x nr:
 *   GEMM B       (n_pad / nr, k, nr): column panels of nr, k rows each,
 *                n padded with zero columns to a multiple of nr
 *   conv weights the B of out (pixels, o) = patches (pixels, 9c) . W,
 *                W (9c, o) row k = (ky * 3 + kx) * c + ic, as GEMM B
 *   Winograd U   ((r + 2)^2, o_pad / nr, c, nr): one GEMM B per position
 *                of the r + 2 input tile */
#ifndef VGG_KERNELS_PRIVATE_H
#define VGG_KERNELS_PRIVATE_H

#include "vggcore/vggcore.h"

#include <stddef.h>
#include <stdint.h>

/* Winograd tiles: F(r x r, 3x3) with r = 4 or 6 outputs on a side, from
 * an input tile of r + 2 on a side, (r + 2)^2 positions */
#define VGG_WINO_XI(r) (((r) + 2) * ((r) + 2))

/* One layer's geometry for the Winograd transforms.  Tiles are numbered
 * over the batch: tile t is image t / (tiles_y tiles_x), row
 * t / tiles_x % tiles_y, column t % tiles_x. */
typedef struct
{
  const float *in;    /* (n, h, w, c) */
  const float *zeros; /* c zero floats, for taps outside the image */
  float *out;         /* (n, h, w, o) */
  const float *bias;  /* (o) */
  int h, w, c, o;
  int flags; /* VGG_OUT_* */
  int r;     /* the tile: 4 or 6 outputs on a side */
  int tiles_y, tiles_x;
} VggWinoGeom;

/* What a convolution does to its outputs after the bias */
#define VGG_OUT_RELU 1 /* max (x, 0), keeping NaN as torch.relu */
#define VGG_OUT_BF16                                                           \
  2 /* rounded to bfloat16 (kept as float): the next
                          layer's input in VGG_PRECISION_BF16 */

typedef uint16_t vgg_bf16;

/* One layer's bf16 convolution on AMX tiles (vgg-kernels-amx-body.h).
 * The input is copied as bf16 into pad with a zero border, n
 * padded images one after the other, (n (h + 2) (w + 2) + slack, c): the
 * patch row (ky, kx) of an output at position q = (b (h + 2) + y) (w + 2)
 * + x starts at pad position q + ky (w + 2) + kx, so for any q0 the rows
 * q0..q0+15 of a GEMM A tile lie c apart and one tile load reads them.
 * Positions whose x >= w or y >= h are computed and thrown away. */
typedef struct
{
  const vgg_bf16 *pad;
  const vgg_bf16 *wt; /* vgg_conv3x3_amx_pack's layout */
  const float *bias;  /* (o) */
  float *out;         /* (n, h, w, o) */
  int n, h, w, c, o;
  int flags; /* VGG_OUT_* */
} VggAmxGeom;

/* ldtilecfg's 64 bytes: palette 1 gives 8 tiles of up to 16 rows of 64
 * bytes, each configured to rows x colsb */
typedef struct
{
  uint8_t palette, start_row, reserved[14];
  uint16_t colsb[16];
  uint8_t rows[16];
} AmxTileConfig;

/* ldtilecfg on all of cfg: GCC 12's _tile_loadconfig tells the compiler
 * that it reads 8 bytes, which lets it drop the stores of the rest */
static inline void
vgg_amx_load_config (const AmxTileConfig *cfg)
{
  __asm__ volatile("ldtilecfg %0" ::"m"(*cfg));
}

/* positions of an AMX block: two A tiles of 16 rows; outputs of a block:
 * two B tiles of 16 columns */
#define VGG_AMX_BLOCK 32

typedef struct
{
  VggIsa isa;
  int vw;     /* floats in one vector register */
  int mr, nr; /* fp32 GEMM register block: rows x columns */

  /* c (m, n) = a (m, k; rows lda apart) . B, bp packed as above; n is a
   * multiple of nr, c rows ldc apart. */
  void (*gemm) (int m, int n, int k, const float *a, size_t lda,
      const float *bp, float *c, size_t ldc);
  /* V = B^T d B for tiles [t0, t0 + count): tile i, position xi at
   * v + xi * xi_stride + i * c */
  void (*wino_input) (
      const VggWinoGeom *g, float *v, size_t xi_stride, int t0, int count);
  /* out tiles [t0, t0 + count) = A^T M A + bias, then g->flags; tile i,
   * position xi of M at m + xi * xi_stride + i * ldm */
  void (*wino_output) (const VggWinoGeom *g, const float *m, size_t xi_stride,
      size_t ldm, int t0, int count);
  /* One output row of a convolution on a zero-padded input:
   * out (w, o) = bias + sum over ky, kx, ic of
   *              in[ky * in_row + (x + kx) * c + ic] . W[(ky*3+kx)*c+ic]
   * with in at the padded row of output row y; then flags (VGG_OUT_*). */
  void (*conv_row) (const float *in, size_t in_row, int c, const float *wp,
      const float *bias, float *out, int w, int o, int flags);
  /* out[b * ldo + r] = x (b) . w (r) over len, b < n, r < rows;
   * x rows ldx apart, w rows len apart. */
  void (*dot_rows) (const float *x, int n, size_t ldx, const float *w, int rows,
      int len, float *out, size_t ldo);

  /* As dot_rows with bf16 x and w, products summed in fp32: vdpbf16ps
   * at the avx512bf16 level, each bf16 widened to fp32 (exactly) below it.
   *
   * Below amx there is no bf16 convolution kernel: a direct one on
   * vdpbf16ps does four times the multiplies of fp32 Winograd F(4x4) at
   * about the same rate per instruction (one core of AMD Zen 5,
   * bench/vgg-peak: 207 GFLOP/s vdpbf16ps against 169 fp32 FMA), and
   * Winograd in bf16 itself loses too much (its transformed inputs round
   * badly).  There VGG_PRECISION_BF16 runs the fp32 kernels on
   * bf16-rounded weights and inputs, which gives the products a bf16
   * kernel would give, summed in fp32; conv_amx gives the same. */
  void (*dot_rows_bf16) (const vgg_bf16 *x, int n, size_t ldx,
      const vgg_bf16 *w, int rows, int len, float *out, size_t ldo);

  /* The bf16 convolution of positions [q0, q0 + count) (count a multiple
   * of VGG_AMX_BLOCK) on AMX tiles, bias and flags applied to the outputs
   * kept: those of q0's image only; NULL below the amx level.  Each call
   * configures the tiles of its thread and releases them. */
  void (*conv_amx) (const VggAmxGeom *g, int q0, int count);
} VggKernels;

extern const VggKernels vgg_kernels_generic;
extern const VggKernels vgg_kernels_avx2;
extern const VggKernels vgg_kernels_avx512;
extern const VggKernels vgg_kernels_avx512bf16;
extern const VggKernels vgg_kernels_amx;

/* The kernels of a level (amx: avx512bf16's and conv_amx). */
const VggKernels *vgg_kernels_for (VggIsa isa);
/* vgg_kernels_for (vgg_isa_get ()) */
const VggKernels *vgg_kernels_get (void);

/* The CPU's own level, before VGG_ISA. */
VggIsa vgg_isa_get_cpu (void);
/* Whether this process may use the AMX tiles: at the amx level, Linux's
 * permission, asked the first time (vgg-cpu.c says why not sooner). */
int vgg_amx_permitted (void);
int vgg_isa_from_string (const char *name);

/* bf16 <-> float, round to nearest even as torch; NaN stays NaN */
static inline vgg_bf16
vgg_float_to_bf16 (float f)
{
  union
  {
    float f;
    uint32_t u;
  } v = { f };
  if ((v.u & 0x7fffffffu) > 0x7f800000u)
    return (vgg_bf16) ((v.u >> 16) | 0x40);
  return (vgg_bf16) ((v.u + 0x7fffu + ((v.u >> 16) & 1)) >> 16);
}

static inline float
vgg_bf16_to_float (vgg_bf16 h)
{
  union
  {
    uint32_t u;
    float f;
  } v = { (uint32_t) h << 16 };
  return v.f;
}

#endif

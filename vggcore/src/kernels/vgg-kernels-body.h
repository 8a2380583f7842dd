/* The fp32 kernels, written once over a small vector vocabulary and
 * compiled per level: vgg-kernels-generic.c, -avx2.c and -avx512.c each
 * define the vocabulary and the block sizes, then include this file.
 *
 * The level defines:
 *   VEC, VW             vector type and its floats
 *   V_LOAD, V_STORE     unaligned full vectors
 *   V_LOADN, V_STOREN   the first n < VW lanes (the rest read as 0)
 *   V_SET1, V_ZERO, V_ADD, V_SUB, V_MUL, V_FMA (a * b + c), V_HSUM
 *   V_RELU              max (x, 0) that keeps NaN, as torch.relu
 *   V_ROUND_BF16        x rounded to bfloat16, nearest even, kept as float
 *   V_LOAD_BF16, V_LOADN_BF16  VW (or n) bfloat16 widened to float
 *   MR, NRV             GEMM register block: MR rows x NRV vectors
 *   LIN_R, LIN_NB       dot_rows block: weight rows x inputs
 *   KERNELS_NAME, KERNELS_ISA
 * and may define KERNELS_EXTRA (more kernels), KERNELS_DOT_ROWS_BF16 and
 * KERNELS_CONV_AMX (kernels of its own in the table). */
#include <string.h>

#define NR (NRV * VW)
#define UNROLL _Pragma ("GCC unroll 16")
#define ALWAYS_INLINE static inline __attribute__ ((always_inline))

ALWAYS_INLINE VEC
load_part (const float *p, int n)
{
  return n >= VW ? V_LOAD (p) : V_LOADN (p, n);
}

/* bias added; then ReLU and bf16 rounding as flags say */
ALWAYS_INLINE VEC
epilogue (VEC y, VEC bias, int flags)
{
  y = V_ADD (y, bias);
  if (flags & VGG_OUT_RELU)
    y = V_RELU (y);
  if (flags & VGG_OUT_BF16)
    y = V_ROUND_BF16 (y);
  return y;
}

ALWAYS_INLINE void
store_part (float *p, VEC v, int n)
{
  if (n >= VW)
    V_STORE (p, v);
  else if (n > 0)
    V_STOREN (p, v, n);
}

/* --- the register block: c (m, NR) = sum over segments s < nseg of
 *     a_s (m, k) . b_s (k, NR), a_s = a + s * seg, b_s = b + s * k * NR.
 * One segment is a GEMM; three are the kernel rows of a convolution. --- */

ALWAYS_INLINE void
block (const int m, int nseg, size_t seg, int k, const float *a, size_t lda,
    const float *b, float *c, size_t ldc)
{
  VEC acc[MR][NRV];

  UNROLL for (int i = 0; i < m; i++) UNROLL for (int j = 0; j < NRV; j++)
      acc[i][j] = V_ZERO ();
  for (int s = 0; s < nseg; s++, a += seg) {
    for (int kk = 0; kk < k; kk++, b += NR) {
      VEC bv[NRV];
      UNROLL for (int j = 0; j < NRV; j++) bv[j] = V_LOAD (b + j * VW);
      UNROLL for (int i = 0; i < m; i++)
      {
        VEC av = V_SET1 (a[i * lda + kk]);
        UNROLL for (int j = 0; j < NRV; j++) acc[i][j] =
            V_FMA (av, bv[j], acc[i][j]);
      }
    }
  }
  UNROLL for (int i = 0; i < m; i++) UNROLL for (int j = 0; j < NRV; j++)
      V_STORE (c + i * ldc + j * VW, acc[i][j]);
}

/* block () with the row count m made a constant */
static void
block_rows (int m, int nseg, size_t seg, int k, const float *a, size_t lda,
    const float *b, float *c, size_t ldc)
{
  switch (m) {
    case 1:
      block (1, nseg, seg, k, a, lda, b, c, ldc);
      break;
#if MR >= 2
    case 2:
      block (2, nseg, seg, k, a, lda, b, c, ldc);
      break;
#endif
#if MR >= 3
    case 3:
      block (3, nseg, seg, k, a, lda, b, c, ldc);
      break;
#endif
#if MR >= 4
    case 4:
      block (4, nseg, seg, k, a, lda, b, c, ldc);
      break;
#endif
#if MR >= 5
    case 5:
      block (5, nseg, seg, k, a, lda, b, c, ldc);
      break;
#endif
#if MR >= 6
    case 6:
      block (6, nseg, seg, k, a, lda, b, c, ldc);
      break;
#endif
#if MR > 6
#error "MR > 6 needs more cases"
#endif
  }
}

static void __attribute__ ((unused)) gemm (int m, int n, int k, const float *a,
    size_t lda, const float *bp, float *c, size_t ldc)
{
  for (int p = 0; p < n / NR; p++) {
    const float *b = bp + (size_t) p * k * NR;
    for (int i0 = 0; i0 < m; i0 += MR)
      block_rows (m - i0 < MR ? m - i0 : MR, 1, 0, k, a + i0 * lda, lda, b,
          c + i0 * ldc + (size_t) p * NR, ldc);
  }
}

/* --- direct convolution, one output row, zero-padded input --- */

static void
conv_row (const float *in, size_t in_row, int c, const float *wp,
    const float *bias, float *out, int w, int o, int flags)
{
  int panels = (o + NR - 1) / NR;

  for (int x0 = 0; x0 < w; x0 += MR) {
    int m = w - x0 < MR ? w - x0 : MR;
    for (int p = 0; p < panels; p++) {
      float tmp[MR * NR];
      int cols = o - p * NR < NR ? o - p * NR : NR;
      /* pixel i's patch row ky is 3c floats at in + ky in_row + (x0+i) c */
      block_rows (m, 3, in_row, 3 * c, in + (size_t) x0 * c, c,
          wp + (size_t) p * 9 * c * NR, tmp, NR);
      for (int i = 0; i < m; i++) {
        float *dst = out + (size_t) (x0 + i) * o + p * NR;
        for (int j = 0; j < cols; j += VW) {
          VEC y = epilogue (V_LOAD (tmp + i * NR + j),
              load_part (bias + p * NR + j, cols - j), flags);
          store_part (dst + j, y, cols - j);
        }
      }
    }
  }
}

/* --- Winograd F(4x4, 3x3) and F(6x6, 3x3) transforms (matrices in
 *     vgg-winograd.c): an input tile of T = r + 2 on a side, r outputs --- */

#define WINO_TMAX 8

/* r = B^T d, F(4x4): six vectors */
ALWAYS_INLINE void
input_1d_f4 (const VEC *d, VEC *r)
{
  const VEC k4 = V_SET1 (4.0f), k5 = V_SET1 (5.0f), k2 = V_SET1 (2.0f);
  r[0] = V_ADD (V_SUB (V_MUL (k4, d[0]), V_MUL (k5, d[2])), d[4]);
  r[1] = V_SUB (V_ADD (d[3], d[4]), V_MUL (k4, V_ADD (d[1], d[2])));
  r[2] = V_ADD (V_SUB (V_MUL (k4, V_SUB (d[1], d[2])), d[3]), d[4]);
  r[3] = V_ADD (V_SUB (V_MUL (k2, V_SUB (d[3], d[1])), d[2]), d[4]);
  r[4] = V_ADD (V_SUB (V_MUL (k2, V_SUB (d[1], d[3])), d[2]), d[4]);
  r[5] = V_ADD (V_SUB (V_MUL (k4, d[1]), V_MUL (k5, d[3])), d[5]);
}

/* r = A^T m, F(4x4): six vectors into four */
ALWAYS_INLINE void
output_1d_f4 (const VEC *m, VEC *r)
{
  VEC a = V_ADD (m[1], m[2]), b = V_SUB (m[1], m[2]);
  VEC c = V_ADD (m[3], m[4]), d = V_SUB (m[3], m[4]);
  r[0] = V_ADD (V_ADD (m[0], a), c);
  r[1] = V_FMA (V_SET1 (2.0f), d, b);
  r[2] = V_FMA (V_SET1 (4.0f), c, a);
  r[3] = V_ADD (V_FMA (V_SET1 (8.0f), d, b), m[5]);
}

/* r = B^T d, F(6x6): eight vectors, rows paired as t1 + t2 and t1 - t2 */
ALWAYS_INLINE void
input_1d_f6 (const VEC *d, VEC *r)
{
  const VEC k525 = V_SET1 (5.25f), k425 = V_SET1 (4.25f);
  const VEC k125 = V_SET1 (1.25f), k25 = V_SET1 (2.5f);
  const VEC k2 = V_SET1 (2.0f), k4 = V_SET1 (4.0f), k5 = V_SET1 (5.0f);
  const VEC half = V_SET1 (0.5f), quarter = V_SET1 (0.25f);
  VEC t1, t2;

  r[0] = V_FMA (k525, V_SUB (d[4], d[2]), V_SUB (d[0], d[6]));
  r[7] = V_FMA (k525, V_SUB (d[3], d[5]), V_SUB (d[7], d[1]));
  t1 = V_SUB (V_ADD (d[2], d[6]), V_MUL (k425, d[4]));
  t2 = V_SUB (V_ADD (d[1], d[5]), V_MUL (k425, d[3]));
  r[1] = V_ADD (t1, t2);
  r[2] = V_SUB (t1, t2);
  t1 = V_SUB (V_FMA (quarter, d[2], d[6]), V_MUL (k125, d[4]));
  t2 = V_FMA (k2, d[5], V_SUB (V_MUL (half, d[1]), V_MUL (k25, d[3])));
  r[3] = V_ADD (t1, t2);
  r[4] = V_SUB (t1, t2);
  t1 = V_SUB (V_FMA (k4, d[2], d[6]), V_MUL (k5, d[4]));
  t2 = V_FMA (half, d[5], V_SUB (V_MUL (k2, d[1]), V_MUL (k25, d[3])));
  r[5] = V_ADD (t1, t2);
  r[6] = V_SUB (t1, t2);
}

/* r = A^T m, F(6x6): eight vectors into six */
ALWAYS_INLINE void
output_1d_f6 (const VEC *m, VEC *r)
{
  VEC a = V_ADD (m[1], m[2]), b = V_SUB (m[1], m[2]);
  VEC c = V_ADD (m[3], m[4]), d = V_SUB (m[3], m[4]);
  VEC e = V_ADD (m[5], m[6]), f = V_SUB (m[5], m[6]);
  r[0] = V_ADD (V_ADD (m[0], a), V_ADD (c, e));
  r[1] = V_FMA (V_SET1 (0.5f), f, V_FMA (V_SET1 (2.0f), d, b));
  r[2] = V_FMA (V_SET1 (0.25f), e, V_FMA (V_SET1 (4.0f), c, a));
  r[3] = V_FMA (V_SET1 (0.125f), f, V_FMA (V_SET1 (8.0f), d, b));
  r[4] = V_FMA (V_SET1 (0.0625f), e, V_FMA (V_SET1 (16.0f), c, a));
  r[5] =
      V_ADD (V_FMA (V_SET1 (0.03125f), f, V_FMA (V_SET1 (32.0f), d, b)), m[7]);
}

ALWAYS_INLINE void
input_1d (const int T, const VEC *d, VEC *r)
{
  if (T == 8)
    input_1d_f6 (d, r);
  else
    input_1d_f4 (d, r);
}

ALWAYS_INLINE void
output_1d (const int T, const VEC *m, VEC *r)
{
  if (T == 8)
    output_1d_f6 (m, r);
  else
    output_1d_f4 (m, r);
}

/* V = B^T d B of tiles [t0, t0 + count), T a constant once inlined */
ALWAYS_INLINE void
wino_input_t (const int T, const VggWinoGeom *g, float *v, size_t xi_stride,
    int t0, int count)
{
  const int R = T - 2, c = g->c, h = g->h, w = g->w;

  for (int t = 0; t < count; t++) {
    int tile = t0 + t;
    int b = tile / (g->tiles_y * g->tiles_x);
    int ty = tile / g->tiles_x % g->tiles_y, tx = tile % g->tiles_x;
    const float *src[WINO_TMAX][WINO_TMAX];
    for (int i = 0; i < T; i++)
      for (int j = 0; j < T; j++) {
        int y = ty * R - 1 + i, x = tx * R - 1 + j;
        src[i][j] = y < 0 || y >= h || x < 0 || x >= w
            ? g->zeros
            : g->in + (((size_t) b * h + y) * w + x) * c;
      }
    for (int ch = 0; ch < c; ch += VW) {
      int n = c - ch;
      VEC d[WINO_TMAX][WINO_TMAX], tmp[WINO_TMAX][WINO_TMAX], col[WINO_TMAX],
          res[WINO_TMAX];
      UNROLL for (int i = 0; i < T; i++) UNROLL for (int j = 0; j < T; j++)
          d[i][j] = load_part (src[i][j] + ch, n);
      UNROLL for (int j = 0; j < T; j++)
      {
        UNROLL for (int i = 0; i < T; i++) col[i] = d[i][j];
        input_1d (T, col, res);
        UNROLL for (int i = 0; i < T; i++) tmp[i][j] = res[i];
      }
      UNROLL for (int i = 0; i < T; i++)
      {
        input_1d (T, tmp[i], res);
        UNROLL for (int j = 0; j < T; j++) store_part (
            v + (i * T + j) * xi_stride + (size_t) t * c + ch, res[j], n);
      }
    }
  }
}

/* out tiles [t0, t0 + count) = A^T M A + bias, then the flags */
ALWAYS_INLINE void
wino_output_t (const int T, const VggWinoGeom *g, const float *m,
    size_t xi_stride, size_t ldm, int t0, int count)
{
  const int R = T - 2, o = g->o, h = g->h, w = g->w;

  for (int t = 0; t < count; t++) {
    int tile = t0 + t;
    int b = tile / (g->tiles_y * g->tiles_x);
    int ty = tile / g->tiles_x % g->tiles_y, tx = tile % g->tiles_x;
    int rows = h - ty * R < R ? h - ty * R : R;
    int cols = w - tx * R < R ? w - tx * R : R;
    float *dst = g->out + (((size_t) b * h + ty * R) * w + tx * R) * o;
    for (int oc = 0; oc < o; oc += VW) {
      int n = o - oc;
      VEC mm[WINO_TMAX][WINO_TMAX], tmp[WINO_TMAX][WINO_TMAX], col[WINO_TMAX],
          res[WINO_TMAX];
      VEC bias = load_part (g->bias + oc, n);
      UNROLL for (int i = 0; i < T; i++) UNROLL for (int j = 0; j < T; j++)
          mm[i][j] =
              V_LOAD (m + (i * T + j) * xi_stride + (size_t) t * ldm + oc);
      UNROLL for (int j = 0; j < T; j++)
      {
        UNROLL for (int i = 0; i < T; i++) col[i] = mm[i][j];
        output_1d (T, col, res);
        UNROLL for (int i = 0; i < R; i++) tmp[i][j] = res[i];
      }
      for (int i = 0; i < rows; i++) {
        output_1d (T, tmp[i], res);
        for (int j = 0; j < cols; j++) {
          store_part (dst + ((size_t) i * w + j) * o + oc,
              epilogue (res[j], bias, g->flags), n);
        }
      }
    }
  }
}

static void
wino_input (const VggWinoGeom *g, float *v, size_t xi_stride, int t0, int count)
{
  if (g->r == 6)
    wino_input_t (8, g, v, xi_stride, t0, count);
  else
    wino_input_t (6, g, v, xi_stride, t0, count);
}

static void
wino_output (const VggWinoGeom *g, const float *m, size_t xi_stride, size_t ldm,
    int t0, int count)
{
  if (g->r == 6)
    wino_output_t (8, g, m, xi_stride, ldm, t0, count);
  else
    wino_output_t (6, g, m, xi_stride, ldm, t0, count);
}

/* --- fully connected: dot products of LIN_NB inputs with LIN_R weight
 *     rows, over chunks of the input that keep the rows in L1 --- */

/* 2048 floats: LIN_R rows of 8 KiB stay in a 32-48 KiB L1 while every
 * input of the batch passes over them */
#define DOT_CHUNK 2048

/* dot_block and dot_rows for operands of TYPE, loaded STEP at a time into
 * vectors of VT by LOAD (LOADN: the first n), summed by FMA (w, x, acc) */
#define DEFINE_DOT(SUFFIX, TYPE, VT, STEP, LOAD, LOADN, FMA)                   \
  ALWAYS_INLINE void dot_block_##SUFFIX (const int nr, const int nb,           \
      const TYPE *x, size_t ldx, const TYPE *w, size_t ldw, int len,           \
      float *out, size_t ldo, int add)                                         \
  {                                                                            \
    VEC acc[LIN_R][LIN_NB];                                                    \
    int k = 0;                                                                 \
    UNROLL for (int r = 0; r < nr; r++) UNROLL for (int b = 0; b < nb; b++)    \
        acc[r][b] = V_ZERO ();                                                 \
    for (; k + STEP <= len; k += STEP) {                                       \
      VT wv[LIN_R];                                                            \
      UNROLL for (int r = 0; r < nr; r++) wv[r] = LOAD (w + r * ldw + k);      \
      UNROLL for (int b = 0; b < nb; b++)                                      \
      {                                                                        \
        VT xv = LOAD (x + b * ldx + k);                                        \
        UNROLL for (int r = 0; r < nr; r++) acc[r][b] =                        \
            FMA (wv[r], xv, acc[r][b]);                                        \
      }                                                                        \
    }                                                                          \
    if (k < len) {                                                             \
      UNROLL for (int b = 0; b < nb; b++)                                      \
      {                                                                        \
        VT xv = LOADN (x + b * ldx + k, len - k);                              \
        UNROLL for (int r = 0; r < nr; r++) acc[r][b] =                        \
            FMA (LOADN (w + r * ldw + k, len - k), xv, acc[r][b]);             \
      }                                                                        \
    }                                                                          \
    UNROLL for (int b = 0; b < nb; b++) UNROLL for (int r = 0; r < nr; r++)    \
    {                                                                          \
      float s = V_HSUM (acc[r][b]);                                            \
      out[b * ldo + r] = add ? out[b * ldo + r] + s : s;                       \
    }                                                                          \
  }                                                                            \
                                                                               \
  static void __attribute__ ((unused))                                         \
  dot_rows_##SUFFIX (const TYPE *x, int n, size_t ldx, const TYPE *w,          \
      int rows, int len, float *out, size_t ldo)                               \
  {                                                                            \
    for (int k0 = 0; k0 < len; k0 += DOT_CHUNK) {                              \
      int kl = len - k0 < DOT_CHUNK ? len - k0 : DOT_CHUNK;                    \
      for (int r0 = 0; r0 < rows; r0 += LIN_R) {                               \
        const TYPE *wr = w + (size_t) r0 * len + k0;                           \
        int b0 = 0;                                                            \
        if (rows - r0 >= LIN_R) {                                              \
          for (; b0 + LIN_NB <= n; b0 += LIN_NB)                               \
            dot_block_##SUFFIX (LIN_R, LIN_NB, x + b0 * ldx + k0, ldx, wr,     \
                len, kl, out + b0 * ldo + r0, ldo, k0 > 0);                    \
          for (; b0 < n; b0++)                                                 \
            dot_block_##SUFFIX (LIN_R, 1, x + b0 * ldx + k0, ldx, wr, len, kl, \
                out + b0 * ldo + r0, ldo, k0 > 0);                             \
        } else {                                                               \
          for (int r = r0; r < rows; r++)                                      \
            for (b0 = 0; b0 < n; b0++)                                         \
              dot_block_##SUFFIX (1, 1, x + b0 * ldx + k0, ldx,                \
                  w + (size_t) r * len + k0, len, kl, out + b0 * ldo + r, ldo, \
                  k0 > 0);                                                     \
        }                                                                      \
      }                                                                        \
    }                                                                          \
  }

DEFINE_DOT (f32, float, VEC, VW, V_LOAD, V_LOADN, V_FMA)
DEFINE_DOT (bf16, vgg_bf16, VEC, VW, V_LOAD_BF16, V_LOADN_BF16, V_FMA)
#ifdef KERNELS_EXTRA
KERNELS_EXTRA
#endif

#ifndef KERNELS_GEMM
#define KERNELS_GEMM gemm
#define KERNELS_DOT_ROWS dot_rows_f32
#endif
#ifndef KERNELS_DOT_ROWS_BF16
#define KERNELS_DOT_ROWS_BF16 dot_rows_bf16
#endif
#ifndef KERNELS_CONV_AMX
#define KERNELS_CONV_AMX NULL
#endif

const VggKernels KERNELS_NAME = {
  .isa = KERNELS_ISA,
  .vw = VW,
  .mr = MR,
  .nr = NR,
  .gemm = KERNELS_GEMM,
  .wino_input = wino_input,
  .wino_output = wino_output,
  .conv_row = conv_row,
  .dot_rows = KERNELS_DOT_ROWS,
  .dot_rows_bf16 = KERNELS_DOT_ROWS_BF16,
  .conv_amx = KERNELS_CONV_AMX,
};

/* Generic level: baseline x86-64 (or any GCC target), eight floats per
 * vector through GCC's vector extension (two SSE registers on x86-64) for
 * the transforms and the direct convolution; the GEMMs and the fully
 * connected layers go to OpenBLAS, the fallback, whose own CPU detection
 * then decides their speed. */
#include "vgg-kernels-private.h"

#include <cblas.h>
#include <string.h>

/* each packed panel of B is a (k, nr) row-major matrix */
static void
blas_gemm (int m, int n, int k, const float *a, size_t lda, const float *bp,
    float *c, size_t ldc)
{
  for (int p = 0; p < n / 32; p++)
    cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, m, 32, k, 1.0f, a,
        (int) lda, bp + (size_t) p * k * 32, 32, 0.0f, c + p * 32, (int) ldc);
}

static void
blas_dot_rows (const float *x, int n, size_t ldx, const float *w, int rows,
    int len, float *out, size_t ldo)
{
  if (n == 1)
    cblas_sgemv (CblasRowMajor, CblasNoTrans, rows, len, 1.0f, w, len, x, 1,
        0.0f, out, 1);
  else
    cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, n, rows, len, 1.0f, x,
        (int) ldx, w, len, 0.0f, out, (int) ldo);
}

#define KERNELS_GEMM blas_gemm
#define KERNELS_DOT_ROWS blas_dot_rows

typedef float VEC __attribute__ ((vector_size (32)));
typedef int32_t VECI __attribute__ ((vector_size (32)));
typedef uint32_t VECU __attribute__ ((vector_size (32)));
#define VW 8
#define MR 2
#define NRV 4
#define LIN_R 2
#define LIN_NB 2

static inline VEC
v_load (const float *p)
{
  VEC v;
  memcpy (&v, p, sizeof v);
  return v;
}

static inline void
v_store (float *p, VEC v)
{
  memcpy (p, &v, sizeof v);
}

static inline VEC
v_loadn (const float *p, int n)
{
  VEC v = { 0 };
  memcpy (&v, p, n * sizeof (float));
  return v;
}

static inline void
v_storen (float *p, VEC v, int n)
{
  memcpy (p, &v, n * sizeof (float));
}

static inline VEC
v_relu (VEC x)
{
  /* x < 0 is false for NaN, which stays */
  VEC zero = { 0 };
  return (VEC) (~(VECI) (x < zero) & (VECI) x);
}

/* nearest even: add 0x7fff plus the lowest kept bit, cut the low half */
static inline VEC
v_round_bf16 (VEC x)
{
  VECU u = (VECU) x;
  u = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
  return (VEC) u;
}

static inline VEC
v_loadn_bf16 (const vgg_bf16 *p, int n)
{
  VEC v = { 0 };
  for (int i = 0; i < n; i++)
    v[i] = vgg_bf16_to_float (p[i]);
  return v;
}

static inline float
v_hsum (VEC v)
{
  float s = 0;
  for (int i = 0; i < VW; i++)
    s += v[i];
  return s;
}

#define V_LOAD(p) v_load (p)
#define V_STORE(p, v) v_store (p, v)
#define V_LOADN(p, n) v_loadn (p, n)
#define V_STOREN(p, v, n) v_storen (p, v, n)
#define V_SET1(x) ((VEC){ 0 } + (x))
#define V_ZERO() ((VEC){ 0 })
#define V_ADD(a, b) ((a) + (b))
#define V_SUB(a, b) ((a) - (b))
#define V_MUL(a, b) ((a) * (b))
#define V_FMA(a, b, c) ((a) * (b) + (c))
#define V_HSUM(v) v_hsum (v)
#define V_RELU(x) v_relu (x)
#define V_ROUND_BF16(x) v_round_bf16 (x)
#define V_LOAD_BF16(p) v_loadn_bf16 (p, VW)
#define V_LOADN_BF16(p, n) v_loadn_bf16 (p, n)
#define KERNELS_NAME vgg_kernels_generic
#define KERNELS_ISA VGG_ISA_GENERIC

#include "vgg-kernels-body.h"

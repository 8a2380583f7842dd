/* AVX2 + FMA level: eight floats per ymm register; GEMM block 6 x 16
 * (12 accumulators, 2 of B, 1 broadcast: 15 of the 16 registers). */
#include "vgg-kernels-private.h"

#include <immintrin.h>

#define VEC __m256
#define VW 8
#define MR 6
#define NRV 2
#define LIN_R 2
#define LIN_NB 4

static inline __m256i
tail_mask (int n)
{
  return _mm256_cmpgt_epi32 (
      _mm256_set1_epi32 (n), _mm256_setr_epi32 (0, 1, 2, 3, 4, 5, 6, 7));
}

static inline float
v_hsum (__m256 v)
{
  __m128 s = _mm_add_ps (_mm256_castps256_ps128 (v), _mm256_extractf128_ps (v, 1));
  s = _mm_add_ps (s, _mm_movehl_ps (s, s));
  s = _mm_add_ss (s, _mm_movehdup_ps (s));
  return _mm_cvtss_f32 (s);
}

#define V_LOAD(p) _mm256_loadu_ps (p)
#define V_STORE(p, v) _mm256_storeu_ps (p, v)
#define V_LOADN(p, n) _mm256_maskload_ps (p, tail_mask (n))
#define V_STOREN(p, v, n) _mm256_maskstore_ps (p, tail_mask (n), v)
#define V_SET1(x) _mm256_set1_ps (x)
#define V_ZERO() _mm256_setzero_ps ()
#define V_ADD(a, b) _mm256_add_ps (a, b)
#define V_SUB(a, b) _mm256_sub_ps (a, b)
#define V_MUL(a, b) _mm256_mul_ps (a, b)
#define V_FMA(a, b, c) _mm256_fmadd_ps (a, b, c)
#define V_HSUM(v) v_hsum (v)
/* maxps returns its second operand when either is NaN */
#define V_RELU(x) _mm256_max_ps (_mm256_setzero_ps (), x)
#define KERNELS_NAME vgg_kernels_avx2
#define KERNELS_ISA VGG_ISA_AVX2

#include "vgg-kernels-body.h"

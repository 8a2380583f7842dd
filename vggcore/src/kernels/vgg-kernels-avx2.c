/* AVX2 + FMA level: eight floats per ymm register; GEMM block 6 x 16
 * (12 accumulators, 2 of B, 1 broadcast: 15 of the 16 registers). */
#include "vgg-kernels-private.h"

#include <immintrin.h>
#include <string.h>

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

/* nearest even: add 0x7fff plus the lowest kept bit, cut the low half */
static inline __m256
v_round_bf16 (__m256 x)
{
  __m256i u = _mm256_castps_si256 (x);
  __m256i lsb =
      _mm256_and_si256 (_mm256_srli_epi32 (u, 16), _mm256_set1_epi32 (1));
  u = _mm256_add_epi32 (u, _mm256_add_epi32 (_mm256_set1_epi32 (0x7fff), lsb));
  return _mm256_castsi256_ps (
      _mm256_and_si256 (u, _mm256_set1_epi32 ((int) 0xffff0000u)));
}

static inline __m256
widen_bf16 (__m128i h)
{
  return _mm256_castsi256_ps (
      _mm256_slli_epi32 (_mm256_cvtepu16_epi32 (h), 16));
}

static inline __m256
v_loadn_bf16 (const vgg_bf16 *p, int n)
{
  vgg_bf16 tmp[8] = { 0 };
  memcpy (tmp, p, n * sizeof (vgg_bf16));
  return widen_bf16 (_mm_loadu_si128 ((const __m128i *) tmp));
}

static inline float
v_hsum (__m256 v)
{
  __m128 s =
      _mm_add_ps (_mm256_castps256_ps128 (v), _mm256_extractf128_ps (v, 1));
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
#define V_ROUND_BF16(x) v_round_bf16 (x)
#define V_LOAD_BF16(p) widen_bf16 (_mm_loadu_si128 ((const __m128i *) (p)))
#define V_LOADN_BF16(p, n) v_loadn_bf16 (p, n)
#define KERNELS_NAME vgg_kernels_avx2
#define KERNELS_ISA VGG_ISA_AVX2

#include "vgg-kernels-body.h"

/* AVX512-BF16 level: the AVX-512 fp32 kernels, and the bf16 dot products
 * of the fully connected layers on vdpbf16ps (two bf16 products summed
 * into each fp32 lane). */
#include "vgg-kernels-private.h"

#include <immintrin.h>

/* nearest even: add 0x7fff plus the lowest kept bit, cut the low half */
static inline __m512
v_round_bf16 (__m512 x)
{
  __m512i u = _mm512_castps_si512 (x);
  __m512i lsb = _mm512_and_si512 (_mm512_srli_epi32 (u, 16), _mm512_set1_epi32 (1));
  u = _mm512_add_epi32 (u, _mm512_add_epi32 (_mm512_set1_epi32 (0x7fff), lsb));
  return _mm512_castsi512_ps (
      _mm512_and_si512 (u, _mm512_set1_epi32 ((int) 0xffff0000u)));
}

static inline __m512
widen_bf16 (__m256i h)
{
  return _mm512_castsi512_ps (_mm512_slli_epi32 (_mm512_cvtepu16_epi32 (h), 16));
}

#define VEC __m512
#define VW 16
#define MR 6
#define NRV 4
#define LIN_R 4
#define LIN_NB 4

#define V_LOAD(p) _mm512_loadu_ps (p)
#define V_STORE(p, v) _mm512_storeu_ps (p, v)
#define V_LOADN(p, n) _mm512_maskz_loadu_ps ((__mmask16) ((1u << (n)) - 1), p)
#define V_STOREN(p, v, n)                                                      \
  _mm512_mask_storeu_ps (p, (__mmask16) ((1u << (n)) - 1), v)
#define V_ROUND_BF16(x) v_round_bf16 (x)
#define V_LOAD_BF16(p) widen_bf16 (_mm256_loadu_si256 ((const __m256i *) (p)))
#define V_LOADN_BF16(p, n)                                                     \
  widen_bf16 (_mm256_maskz_loadu_epi16 ((__mmask16) ((1u << (n)) - 1), p))
#define V_SET1(x) _mm512_set1_ps (x)
#define V_ZERO() _mm512_setzero_ps ()
#define V_ADD(a, b) _mm512_add_ps (a, b)
#define V_SUB(a, b) _mm512_sub_ps (a, b)
#define V_MUL(a, b) _mm512_mul_ps (a, b)
#define V_FMA(a, b, c) _mm512_fmadd_ps (a, b, c)
#define V_HSUM(v) _mm512_reduce_add_ps (v)
#define V_RELU(x) _mm512_max_ps (_mm512_setzero_ps (), x)
/* bf16 dot products on vdpbf16ps: 32 bf16 a vector, pairs summed into 16
 * fp32 lanes */
#define DP_LOAD(p) ((__m512bh) _mm512_loadu_si512 (p))
#define DP_LOADN(p, n)                                                         \
  ((__m512bh) _mm512_maskz_loadu_epi16 ((__mmask32) ((1ull << (n)) - 1), p))
#define DP_FMA(w, x, acc) _mm512_dpbf16_ps (acc, w, x)
#define KERNELS_EXTRA                                                          \
  DEFINE_DOT (dp, vgg_bf16, __m512bh, 32, DP_LOAD, DP_LOADN, DP_FMA)
#define KERNELS_DOT_ROWS_BF16 dot_rows_dp
#define KERNELS_NAME vgg_kernels_avx512bf16
#define KERNELS_ISA VGG_ISA_AVX512BF16

#include "vgg-kernels-body.h"

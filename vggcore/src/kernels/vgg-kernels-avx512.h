/* The AVX-512 vector vocabulary of vgg-kernels-body.h (sixteen floats per
 * zmm register; GEMM block 6 x 64: 24 accumulators, 4 of B, 1 broadcast, of
 * 32 registers, 10 loads for 24 FMAs per k, under the two loads a cycle of
 * the cores seen here), shared by the avx512 and avx512bf16 levels. */
#ifndef VGG_KERNELS_AVX512_H
#define VGG_KERNELS_AVX512_H

#include "vgg-kernels-private.h"

#include <immintrin.h>

/* nearest even: add 0x7fff plus the lowest kept bit, cut the low half */
static inline __m512
v_round_bf16 (__m512 x)
{
  __m512i u = _mm512_castps_si512 (x);
  __m512i lsb =
      _mm512_and_si512 (_mm512_srli_epi32 (u, 16), _mm512_set1_epi32 (1));
  u = _mm512_add_epi32 (u, _mm512_add_epi32 (_mm512_set1_epi32 (0x7fff), lsb));
  return _mm512_castsi512_ps (
      _mm512_and_si512 (u, _mm512_set1_epi32 ((int) 0xffff0000u)));
}

static inline __m512
widen_bf16 (__m256i h)
{
  return _mm512_castsi512_ps (
      _mm512_slli_epi32 (_mm512_cvtepu16_epi32 (h), 16));
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
/* maxps returns its second operand when either is NaN */
#define V_RELU(x) _mm512_max_ps (_mm512_setzero_ps (), x)
#endif

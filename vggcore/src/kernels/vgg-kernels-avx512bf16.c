/* AVX512-BF16 level: the AVX-512 fp32 kernels, and the bf16 dot products
 * of the fully connected layers on vdpbf16ps (two bf16 products summed
 * into each fp32 lane). */
#include "vgg-kernels-avx512.h"

/* bf16 dot products on vdpbf16ps: 32 bf16 a vector, pairs summed into 16
 * fp32 lanes */
#define DP_LOAD(p) ((__m512bh) _mm512_loadu_si512 (p))
#define DP_LOADN(p, n)                                                         \
  ((__m512bh) _mm512_maskz_loadu_epi16 ((__mmask32) ((1ull << (n)) - 1), p))
#define DP_FMA(w, x, acc) _mm512_dpbf16_ps (acc, w, x)
#define KERNELS_EXTRA                                                          \
  DEFINE_DOT (dp, vgg_bf16, __m512bh, 32, DP_LOAD, DP_LOADN, DP_FMA)
#define KERNELS_DOT_ROWS_BF16 dot_rows_dp
/* vgg-kernels-amx.c includes this file under its own name */
#ifndef KERNELS_NAME
#define KERNELS_NAME vgg_kernels_avx512bf16
#define KERNELS_ISA VGG_ISA_AVX512BF16
#endif

#include "vgg-kernels-body.h"

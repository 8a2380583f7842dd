/* AVX512-BF16 level: the AVX-512 fp32 kernels, plus bf16 kernels on
 * vdpbf16ps (two bf16 products summed into each fp32 lane). */
#include "vgg-kernels-private.h"

#include <immintrin.h>

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
#define V_SET1(x) _mm512_set1_ps (x)
#define V_ZERO() _mm512_setzero_ps ()
#define V_ADD(a, b) _mm512_add_ps (a, b)
#define V_SUB(a, b) _mm512_sub_ps (a, b)
#define V_MUL(a, b) _mm512_mul_ps (a, b)
#define V_FMA(a, b, c) _mm512_fmadd_ps (a, b, c)
#define V_HSUM(v) _mm512_reduce_add_ps (v)
#define V_RELU(x) _mm512_max_ps (_mm512_setzero_ps (), x)
#define KERNELS_NAME vgg_kernels_avx512bf16
#define KERNELS_ISA VGG_ISA_AVX512BF16

#include "vgg-kernels-body.h"

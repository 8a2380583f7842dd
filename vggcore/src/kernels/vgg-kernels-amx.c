/* AMX level: the AVX512-BF16 level's kernels, and the bf16 convolution of
 * vgg-kernels-amx-body.h on the CPU's tiles. */
#include "vgg-kernels-avx512.h"

#define TILE_CONFIG(cfg) vgg_amx_load_config (cfg)
#define TILE_ZERO(t) _tile_zero (t)
/* GCC 12's _tile_loadd does not tell the compiler that it reads memory */
#define TILE_LOAD(t, p, s)                                                     \
  __asm__ volatile("tileloadd (%0,%1,1), %%tmm" #t ::"r"((const void *) (p)),  \
                   "r"((long) (s))                                             \
                   : "memory")
#define TILE_STORE(t, p, s) _tile_stored (t, p, s)
#define TILE_DPBF16(c, a, b) _tile_dpbf16ps (c, a, b)
#define TILE_RELEASE() _tile_release ()
#define AMX_CONV conv_amx
#include "vgg-kernels-amx-body.h"

#define KERNELS_NAME vgg_kernels_amx
#define KERNELS_ISA VGG_ISA_AMX
#define KERNELS_CONV_AMX conv_amx
#include "vgg-kernels-avx512bf16.c"

/* Shared by the Winograd driver and its per-ISA kernels. */
#ifndef VGG_WINOGRAD_PRIVATE_H
#define VGG_WINOGRAD_PRIVATE_H

#include "vgg-pool-private.h"

#define VGG_WINOGRAD_TILE 6 /* input tile side */
#define VGG_WINOGRAD_OUT 4  /* output tile side */
/* Scratch per thread, in floats; a block of tiles holds V and M. */
#define VGG_WINOGRAD_SCRATCH_FLOATS (6u << 20)
#define VGG_WINOGRAD_MAX_BLOCK 128

void vgg_conv3x3_winograd_generic (VggPool *pool, float *const *scratch,
    const float *zeros, const float *in, const float *u, const float *bias,
    float *out, int n, int h, int w, int c, int o, int relu);
void vgg_conv3x3_winograd_avx2 (VggPool *pool, float *const *scratch,
    const float *zeros, const float *in, const float *u, const float *bias,
    float *out, int n, int h, int w, int c, int o, int relu);

#endif

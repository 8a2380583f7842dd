/* The layers of a VGG network, twice: plain reference loops on torch's
 * NCHW layout (the definition, what tests compare against), and the fast
 * drivers of the kernels the engine runs, on NHWC activations, spread over
 * a VggPool.
 *
 * Shapes use n = batch, c = input channels, o = output channels,
 * h x w = spatial size. */
#ifndef VGG_LAYERS_PRIVATE_H
#define VGG_LAYERS_PRIVATE_H

#include "vgg-kernels-private.h"
#include "vgg-pool-private.h"

#include <stddef.h>

#define VGG_BN_EPS 1e-5f
#define VGG_POOL_OUT 7 /* adaptive average pool output side */

/* --- reference kernels, NCHW --- */

/* out (n, o, h, w) = conv3x3(in (n, c, h, w), w (o, c, 3, 3)) + b (o),
 * zero padding 1, then ReLU if relu. */
void vgg_conv3x3_ref (const float *in, const float *weight, const float *bias,
    float *out, int n, int c, int o, int h, int w, int relu);
/* In place on x (n, c, h, w): (x - mean) / sqrt(var + eps) * gamma + beta. */
void vgg_batchnorm_ref (float *x, const float *gamma, const float *beta,
    const float *mean, const float *var, int n, int c, int h, int w);
void vgg_relu_ref (float *x, size_t count);
/* out (n, c, h/2, w/2): 2x2 max, stride 2, floor. */
void vgg_maxpool2x2_ref (
    const float *in, float *out, int n, int c, int h, int w);
/* out (n, c, 7, 7): bin i of a side of length L covers
 * [floor(i L / 7), ceil((i + 1) L / 7)), as torch's adaptive_avg_pool2d. */
void vgg_avgpool7_ref (const float *in, float *out, int n, int c, int h, int w);
/* out (n, o) = in (n, i) . weight (o, i)^T + bias (o), ReLU if relu. */
void vgg_linear_ref (const float *in, const float *weight, const float *bias,
    float *out, int n, int i, int o, int relu);
/* Row-wise softmax of (n, k), in double; the engine uses it too. */
void vgg_softmax (const float *in, float *out, int n, int k);

/* --- fast kernels --- */

/* Folds an optional eval-mode batch-norm into the convolution and packs the
 * weights as the B matrix of the implicit GEMM:
 *   src weight (o, c, 3, 3)        = outch-inch-kh-kw (torch)
 *   dst packed (3, 3, c, o)        = kh-kw-inch-outch, B (9c x o)
 *   dst bias   (o)                 = (b - mean) * s + beta,
 *   with s = gamma / sqrt(var + eps) multiplying every weight of outch.
 * bn_* may all be NULL (no batch-norm).  Either output may be NULL and is
 * then not made (weight is not read without packed). */
void vgg_conv3x3_pack (const float *weight, const float *bias,
    const float *bn_gamma, const float *bn_beta, const float *bn_mean,
    const float *bn_var, int c, int o, float *packed, float *packed_bias);

/* packed (9c, o) into the level's column panels (vgg-kernels-private.h):
 * panels (o_pad / nr, 9c, nr), of vgg_conv3x3_panels_floats floats. */
size_t vgg_conv3x3_panels_floats (const VggKernels *k, int c, int o);
void vgg_conv3x3_pack_panels (
    const VggKernels *k, const float *packed, int c, int o, float *panels);

/* The zero-padded copy of an input (n, h + 2, w + 2, c) that
 * vgg_conv3x3_direct makes in pad, in floats. */
size_t vgg_conv3x3_padded_floats (int n, int h, int w, int c);

/* out (n, h, w, o) = conv3x3(in (n, h, w, c)) + bias, then flags
 * (VGG_OUT_RELU, VGG_OUT_BF16): the input copied with a zero border into
 * pad, then the level's conv_row on every output row. */
void vgg_conv3x3_direct (const VggKernels *k, VggPool *pool, float *pad,
    const float *in, const float *panels, const float *bias, float *out, int n,
    int h, int w, int c, int o, int flags);

/* Winograd F(r x r, 3x3), r = 4 or 6 (vgg-winograd.c), for layers with c
 * and o multiples of 8. */
#define VGG_WINOGRAD_SCRATCH_FLOATS (6u << 20) /* per thread */
/* output pixels per block: 128 F(4x4) tiles, 56 F(6x6) ones, whose V and
 * M take about the same scratch */
#define VGG_WINOGRAD_MAX_BLOCK_PIXELS 2048
int vgg_winograd_supported (int c, int o);
/* The tile r for a layer on h x w maps (chosen by the measurements in
 * vgg-winograd.c). */
int vgg_winograd_tile (int h, int w);
/* The scratch of a pool of threads, in floats, one piece. */
size_t vgg_winograd_scratch_floats (int threads);
/* u ((r + 2)^2, o_pad / nr, c, nr): the transformed filters G g G^T of
 * packed (3, 3, c, o) in the level's panels, vgg_winograd_packed_floats
 * floats. */
size_t vgg_winograd_packed_floats (const VggKernels *k, int c, int o, int r);
void vgg_winograd_pack (
    const VggKernels *k, const float *packed, int c, int o, int r, float *u);
/* The distance in floats between the matrices of two tile positions in V
 * or M when one holds floats (vgg-winograd.c says why it is not floats). */
size_t vgg_winograd_xi_stride (size_t floats);
/* The tiles of a block in vgg_conv3x3_winograd's path of a block per task
 * (n_tiles tiles of at least threads * 64 over the threads): as few
 * blocks as a thread's scratch allows, a multiple of the threads. */
int vgg_winograd_block_tiles (
    const VggKernels *k, int n_tiles, int c, int o, int r, int threads);
/* Same result as vgg_conv3x3_direct, u packed for the tile r; zeros holds c
 * zero floats. */
void vgg_conv3x3_winograd (const VggKernels *k, VggPool *pool, float *scratch,
    const float *zeros, const float *in, const float *u, int r,
    const float *bias, float *out, int n, int h, int w, int c, int o,
    int flags);

/* bf16 convolution on AMX tiles (VggKernels.conv_amx), for layers whose
 * input channels are a multiple of 32 at a level that has it, once Linux
 * permits the tiles (asked here the first time). */
int vgg_conv3x3_amx_supported (const VggKernels *k, int c, int o);
/* packed (9c, o) rounded to bf16 in the kernel's B tiles
 * (vgg-kernels-amx-body.h), vgg_conv3x3_amx_packed_count elements */
size_t vgg_conv3x3_amx_packed_count (int c, int o);
void vgg_conv3x3_amx_pack (const float *packed, int c, int o, vgg_bf16 *wt);
/* The padded bf16 copy of an input that vgg_conv3x3_amx makes in pad, in
 * floats (two bf16 each). */
size_t vgg_conv3x3_amx_padded_floats (int n, int h, int w, int c);
/* out (n, h, w, o) = conv3x3(in (n, h, w, c)) + bias, then flags, the
 * products summed in fp32.  in must hold bf16 values, as every
 * convolution's input in VGG_PRECISION_BF16 does (the pass rounds its
 * input and every convolution's output): their low halves are dropped. */
void vgg_conv3x3_amx (const VggKernels *k, VggPool *pool, float *pad,
    const float *in, const vgg_bf16 *wt, const float *bias, float *out, int n,
    int h, int w, int c, int o, int flags);

/* out (n, h/2, w/2, c) */
void vgg_maxpool2x2_nhwc (
    VggPool *pool, const float *in, float *out, int n, int h, int w, int c);

/* out (n, c, 7, 7) = adaptive average pool of in (n, h, w, c): torch's bins
 * and torch.flatten's order, ready for the first linear layer. */
void vgg_avgpool7_nhwc (
    VggPool *pool, const float *in, float *out, int n, int h, int w, int c);

/* out (n, o) = in (n, i) . weight (o, i)^T + bias, ReLU if relu; the
 * output features are split over the pool and the level's dot_rows reads
 * every weight once per batch. */
void vgg_linear (const VggKernels *k, VggPool *pool, const float *in,
    const float *weight, const float *bias, float *out, int n, int i, int o,
    int relu);
/* The same with weight (o, i) in bf16: in rounded to bf16 into in_bf16
 * (n, i), products summed in fp32. */
void vgg_linear_bf16 (const VggKernels *k, VggPool *pool, const float *in,
    vgg_bf16 *in_bf16, const vgg_bf16 *weight, const float *bias, float *out,
    int n, int i, int o, int relu);
/* x rounded to bf16 in place (nearest even), kept as float */
void vgg_round_bf16 (float *x, size_t count);

/* out (n, c): the mean or, if max, the maximum (NaN if any is NaN, as
 * torch.amax) of each channel over the hw positions of in, which is
 * (n, hw, c) if channels_last else (n, c, hw).  Means are summed in
 * double. */
void vgg_global_pool (VggPool *pool, const float *in, float *out, int n, int hw,
    int c, int channels_last, int max);

/* out (n, h, w, c) from in (n, c, h, w). */
void vgg_nchw_to_nhwc (
    VggPool *pool, const float *in, float *out, int n, int c, int h, int w);

#endif

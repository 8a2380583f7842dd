/* Every fast layer against its reference, at every kernel level this CPU
 * has, on odd shapes, fixed seeds, with 1, 2 and 3 threads.  Bound:
 * max|fast - ref| <= 1e-5 * max|ref| (float32 against double-accumulated
 * loops), 3e-5 for Winograd F(6x6), whose transforms round more.  A level
 * the CPU lacks is named as not run, never counted.  The levels' GEMM is
 * also checked against OpenBLAS's cblas_sgemm, an independent
 * implementation.  The AMX convolution runs on the CPU's tiles at the amx
 * level and, on every CPU, on the model of the tiles in amx-model.h. */
#include "vgg-layers-private.h"

#include "amx-model.h"

#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures, checks;
static uint64_t rng_state;

static float
uniform (void)
{
  rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
  return (float) ((rng_state >> 40) / (double) (1 << 24) * 2.0 - 1.0);
}

static float *
random_floats (size_t count)
{
  float *v = malloc (count * sizeof (float));
  for (size_t i = 0; i < count; i++)
    v[i] = uniform ();
  return v;
}

static void
check_close (const char *what, const float *got, const float *want,
    size_t count, double rel)
{
  double max_ref = 0, max_diff = 0;
  size_t worst = 0;

  for (size_t i = 0; i < count; i++) {
    double d = fabs ((double) got[i] - want[i]);
    if (fabs (want[i]) > max_ref)
      max_ref = fabs (want[i]);
    if (d > max_diff || isnan (got[i])) {
      max_diff = isnan (got[i]) ? INFINITY : d;
      worst = i;
    }
  }
  checks++;
  if (!(max_diff <= rel * max_ref) || max_ref == 0) {
    failures++;
    printf ("FAIL %s: max|diff| %.3g > %.1g * max|ref| %.3g (at %zu: got %g, "
            "want %g)\n",
        what, max_diff, rel, max_ref, worst, got[worst], want[worst]);
  } else {
    printf (
        "ok   %s: max|diff| %.3g, max|ref| %.3g\n", what, max_diff, max_ref);
  }
}

/* (n, h, w, c) -> (n, c, h, w) */
static float *
nhwc_to_nchw (const float *in, int n, int h, int w, int c)
{
  float *out = malloc ((size_t) n * h * w * c * sizeof (float));
  for (int b = 0; b < n; b++)
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++)
        for (int ch = 0; ch < c; ch++)
          out[(((size_t) b * c + ch) * h + y) * w + x] =
              in[(((size_t) b * h + y) * w + x) * c + ch];
  return out;
}

static const VggKernels *kernels; /* the level under test */

static void
test_conv3x3 (
    VggPool *pool, int n, int c, int o, int h, int w, int bn, int relu)
{
  size_t in_count = (size_t) n * c * h * w, out_count = (size_t) n * o * h * w;
  float *in = random_floats (in_count);
  float *weight = random_floats ((size_t) o * c * 9);
  float *bias = random_floats (o);
  float *gamma = random_floats (o), *beta = random_floats (o);
  float *mean = random_floats (o), *var = random_floats (o);
  float *ref = malloc (out_count * sizeof (float));
  float *in_nhwc = malloc (in_count * sizeof (float));
  float *out_nhwc = malloc (out_count * sizeof (float));
  float *packed = malloc ((size_t) 9 * c * o * sizeof (float));
  float *panels =
      malloc (vgg_conv3x3_panels_floats (kernels, c, o) * sizeof (float));
  float *pad = malloc (vgg_conv3x3_padded_floats (n, h, w, c) * sizeof (float));
  float *packed_bias = malloc (o * sizeof (float));
  float *got;
  char what[160];

  for (int i = 0; i < o; i++)
    var[i] = var[i] * var[i] + 0.1f;
  vgg_conv3x3_ref (in, weight, bias, ref, n, c, o, h, w, 0);
  if (bn)
    vgg_batchnorm_ref (ref, gamma, beta, mean, var, n, o, h, w);
  if (relu)
    vgg_relu_ref (ref, out_count);

  vgg_nchw_to_nhwc (pool, in, in_nhwc, n, c, h, w);
  vgg_conv3x3_pack (weight, bias, bn ? gamma : NULL, bn ? beta : NULL,
      bn ? mean : NULL, bn ? var : NULL, c, o, packed, packed_bias);
  vgg_conv3x3_pack_panels (kernels, packed, c, o, panels);
  vgg_conv3x3_direct (kernels, pool, pad, in_nhwc, panels, packed_bias,
      out_nhwc, n, h, w, c, o, relu);
  got = nhwc_to_nchw (out_nhwc, n, h, w, o);
  snprintf (what, sizeof what,
      "%s conv3x3 n=%d c=%d o=%d h=%d w=%d bn=%d relu=%d threads=%d",
      vgg_isa_to_string (kernels->isa), n, c, o, h, w, bn, relu,
      vgg_pool_get_threads (pool));
  check_close (what, got, ref, out_count, 1e-5);

  free (in), free (weight), free (bias), free (gamma), free (beta);
  free (mean), free (var), free (ref), free (in_nhwc), free (out_nhwc);
  free (packed), free (panels), free (pad), free (packed_bias), free (got);
}

/* Winograd F(r x r, 3x3) against the reference: maps that are not
 * multiples of the tile, 1x1 maps, batch-norm folded first. */
static void
test_winograd (VggPool *pool, float *scratch, int r, int n, int c, int o, int h,
    int w, int bn, int relu)
{
  size_t in_count = (size_t) n * c * h * w, out_count = (size_t) n * o * h * w;
  float *in = random_floats (in_count);
  float *weight = random_floats ((size_t) o * c * 9);
  float *bias = random_floats (o);
  float *gamma = random_floats (o), *beta = random_floats (o);
  float *mean = random_floats (o), *var = random_floats (o);
  float *ref = malloc (out_count * sizeof (float));
  float *in_nhwc = malloc (in_count * sizeof (float));
  float *out_nhwc = malloc (out_count * sizeof (float));
  float *packed = malloc ((size_t) 9 * c * o * sizeof (float));
  float *u =
      malloc (vgg_winograd_packed_floats (kernels, c, o, r) * sizeof (float));
  float *packed_bias = malloc (o * sizeof (float));
  float *zeros = calloc (c, sizeof (float));
  float *got;
  char what[160];

  for (int i = 0; i < o; i++)
    var[i] = var[i] * var[i] + 0.1f;
  vgg_conv3x3_ref (in, weight, bias, ref, n, c, o, h, w, 0);
  if (bn)
    vgg_batchnorm_ref (ref, gamma, beta, mean, var, n, o, h, w);
  if (relu)
    vgg_relu_ref (ref, out_count);

  vgg_nchw_to_nhwc (pool, in, in_nhwc, n, c, h, w);
  vgg_conv3x3_pack (weight, bias, bn ? gamma : NULL, bn ? beta : NULL,
      bn ? mean : NULL, bn ? var : NULL, c, o, packed, packed_bias);
  vgg_winograd_pack (kernels, packed, c, o, r, u);
  vgg_conv3x3_winograd (kernels, pool, scratch, zeros, in_nhwc, u, r,
      packed_bias, out_nhwc, n, h, w, c, o, relu);
  got = nhwc_to_nchw (out_nhwc, n, h, w, o);
  snprintf (what, sizeof what,
      "%s winograd F(%dx%d) n=%d c=%d o=%d h=%d w=%d bn=%d relu=%d "
      "threads=%d",
      vgg_isa_to_string (kernels->isa), r, r, n, c, o, h, w, bn, relu,
      vgg_pool_get_threads (pool));
  /* F(6x6) rounds about twice as much as F(4x4): its transforms have
   * larger coefficients */
  check_close (what, got, ref, out_count, r == 6 ? 3e-5 : 1e-5);

  free (in), free (weight), free (bias), free (gamma), free (beta);
  free (mean), free (var), free (ref), free (in_nhwc), free (out_nhwc);
  free (packed), free (packed_bias), free (got), free (u), free (zeros);
}

/* The bf16 convolution of the AMX kernel (k->conv_amx: the CPU's tiles or
 * the model above) against the reference on bf16 inputs and weights, whose
 * products are exact in fp32: bound 1e-5 * max|ref| as for fp32.  With
 * VGG_OUT_BF16 every output must also be a bf16 value within half an ulp
 * (2^-8 relative) of the fp32 output. */
static void
test_conv_amx (const VggKernels *k, const char *how, VggPool *pool, int n,
    int c, int o, int h, int w, int relu)
{
  size_t in_count = (size_t) n * c * h * w, out_count = (size_t) n * o * h * w;
  float *in = random_floats (in_count);
  float *weight = random_floats ((size_t) o * c * 9);
  float *bias = random_floats (o);
  float *ref = malloc (out_count * sizeof (float));
  float *in_nhwc = malloc (in_count * sizeof (float));
  float *out_nhwc = malloc (out_count * sizeof (float));
  float *out_bf16 = malloc (out_count * sizeof (float));
  float *packed = malloc ((size_t) 9 * c * o * sizeof (float));
  float *packed_bias = malloc (o * sizeof (float));
  vgg_bf16 *wt =
      malloc (vgg_conv3x3_amx_packed_count (c, o) * sizeof (vgg_bf16));
  float *pad =
      malloc (vgg_conv3x3_amx_padded_floats (n, h, w, c) * sizeof (float));
  float *got;
  int faults = emu_faults, bad = -1;
  char what[192];

  vgg_round_bf16 (in, in_count);
  vgg_round_bf16 (weight, (size_t) o * c * 9);
  vgg_conv3x3_ref (in, weight, bias, ref, n, c, o, h, w, relu);
  vgg_nchw_to_nhwc (pool, in, in_nhwc, n, c, h, w);
  vgg_conv3x3_pack (
      weight, bias, NULL, NULL, NULL, NULL, c, o, packed, packed_bias);
  vgg_conv3x3_amx_pack (packed, c, o, wt);
  vgg_conv3x3_amx (k, pool, pad, in_nhwc, wt, packed_bias, out_nhwc, n, h, w, c,
      o, relu ? VGG_OUT_RELU : 0);
  vgg_conv3x3_amx (k, pool, pad, in_nhwc, wt, packed_bias, out_bf16, n, h, w, c,
      o, (relu ? VGG_OUT_RELU : 0) | VGG_OUT_BF16);
  got = nhwc_to_nchw (out_nhwc, n, h, w, o);
  snprintf (what, sizeof what,
      "amx conv3x3 (%s) n=%d c=%d o=%d h=%d w=%d relu=%d threads=%d", how, n, c,
      o, h, w, relu, vgg_pool_get_threads (pool));
  check_close (what, got, ref, out_count, 1e-5);

  for (size_t e = 0; e < out_count && bad < 0; e++)
    if (vgg_bf16_to_float (vgg_float_to_bf16 (out_bf16[e])) != out_bf16[e]
        || fabsf (out_bf16[e] - out_nhwc[e])
            > fabsf (out_nhwc[e]) * 0x1p-8f * 1.001f)
      bad = (int) e;
  checks++;
  if (bad >= 0 || emu_faults != faults) {
    failures++;
    printf ("FAIL %s, bf16 output: %d tile faults; output %d is %a, fp32 "
            "%a\n",
        what, emu_faults - faults, bad, bad >= 0 ? out_bf16[bad] : 0.0f,
        bad >= 0 ? out_nhwc[bad] : 0.0f);
  } else {
    printf ("ok   %s, bf16 output\n", what);
  }
  free (in), free (weight), free (bias), free (ref), free (in_nhwc);
  free (out_nhwc), free (out_bf16), free (packed), free (packed_bias);
  free (wt), free (pad), free (got);
}

/* The AMX kernel's cases: the channels it takes (multiples of 32), outputs
 * that are not a multiple of its 32 (16, 48, 70), 9x7 and 1x1 maps whose
 * rows end inside a block, batch 3, and maps of many blocks per task */
static void
test_conv_amx_cases (const VggKernels *k, const char *how, VggPool *pool)
{
  test_conv_amx (k, how, pool, 3, 32, 48, 9, 7, 1);
  test_conv_amx (k, how, pool, 1, 64, 16, 1, 1, 0);
  test_conv_amx (k, how, pool, 2, 96, 70, 13, 10, 1);
  test_conv_amx (k, how, pool, 1, 64, 64, 33, 29, 1);
  test_conv_amx (k, how, pool, 3, 32, 32, 2, 45, 0);
}

static void
test_maxpool (VggPool *pool, int n, int c, int h, int w)
{
  int oh = h / 2, ow = w / 2;
  float *in = random_floats ((size_t) n * c * h * w);
  float *ref = malloc ((size_t) n * c * oh * ow * sizeof (float));
  float *in_nhwc = malloc ((size_t) n * c * h * w * sizeof (float));
  float *out_nhwc = malloc ((size_t) n * c * oh * ow * sizeof (float));
  float *got;
  char what[128];

  vgg_maxpool2x2_ref (in, ref, n, c, h, w);
  vgg_nchw_to_nhwc (pool, in, in_nhwc, n, c, h, w);
  vgg_maxpool2x2_nhwc (pool, in_nhwc, out_nhwc, n, h, w, c);
  got = nhwc_to_nchw (out_nhwc, n, oh, ow, c);
  snprintf (what, sizeof what, "maxpool2x2 n=%d c=%d h=%d w=%d", n, c, h, w);
  /* a max is exact */
  check_close (what, got, ref, (size_t) n * c * oh * ow, 0);
  free (in), free (ref), free (in_nhwc), free (out_nhwc), free (got);
}

static void
test_avgpool (VggPool *pool, int n, int c, int h, int w)
{
  size_t out_count = (size_t) n * c * 49;
  float *in = random_floats ((size_t) n * c * h * w);
  float *ref = malloc (out_count * sizeof (float));
  float *got = malloc (out_count * sizeof (float));
  float *in_nhwc = malloc ((size_t) n * c * h * w * sizeof (float));
  char what[128];

  vgg_avgpool7_ref (in, ref, n, c, h, w);
  vgg_nchw_to_nhwc (pool, in, in_nhwc, n, c, h, w);
  /* the fast pool writes torch's (n, c, 7, 7) order directly */
  vgg_avgpool7_nhwc (pool, in_nhwc, got, n, h, w, c);
  snprintf (what, sizeof what, "avgpool7 n=%d c=%d h=%d w=%d", n, c, h, w);
  check_close (what, got, ref, out_count, 1e-6);
  if (h == 7 && w == 7) {
    /* identity at 7x7, as at 224x224 input */
    checks++;
    if (memcmp (got, in, out_count * sizeof (float)) != 0) {
      failures++;
      printf ("FAIL avgpool7 at 7x7 is not the identity (n=%d c=%d)\n", n, c);
    }
  }
  free (in), free (ref), free (got), free (in_nhwc);
}

/* Bins of torch's adaptive_avg_pool2d written out for L = 10 and L = 5:
 * start floor(i L / 7), end ceil((i + 1) L / 7). */
static void
test_avgpool_bins (void)
{
  static const int starts10[7] = { 0, 1, 2, 4, 5, 7, 8 };
  static const int ends10[7] = { 2, 3, 5, 6, 8, 9, 10 };
  float in[10], out[49];
  int before = failures;

  for (int i = 0; i < 10; i++)
    in[i] = (float) (1 << i);
  /* a 1 x 10 row: h = 1 repeats it in all 7 rows; row 0 is checked */
  vgg_avgpool7_ref (in, out, 1, 1, 1, 10);
  for (int i = 0; i < 7; i++) {
    double want = 0;
    for (int k = starts10[i]; k < ends10[i]; k++)
      want += in[k];
    want /= ends10[i] - starts10[i];
    checks++;
    if (out[i] != (float) want) {
      failures++;
      printf ("FAIL avgpool7 bin %d of 10: got %g want %g\n", i, out[i], want);
    }
  }
  if (failures == before)
    printf ("ok   avgpool7 bins of a 10-wide row match torch's formula\n");
}

static void
test_linear (VggPool *pool, int n, int i, int o, int relu)
{
  float *in = random_floats ((size_t) n * i);
  float *weight = random_floats ((size_t) o * i);
  float *bias = random_floats (o);
  float *ref = malloc ((size_t) n * o * sizeof (float));
  float *got = malloc ((size_t) n * o * sizeof (float));
  char what[128];

  vgg_linear_ref (in, weight, bias, ref, n, i, o, relu);
  vgg_linear (kernels, pool, in, weight, bias, got, n, i, o, relu);
  snprintf (what, sizeof what, "%s linear n=%d in=%d out=%d relu=%d threads=%d",
      vgg_isa_to_string (kernels->isa), n, i, o, relu,
      vgg_pool_get_threads (pool));
  check_close (what, got, ref, (size_t) n * o, 1e-5);
  free (in), free (weight), free (bias), free (ref), free (got);
}

/* bf16 weights and inputs, products summed in fp32, against the reference
 * on the same rounded values */
static void
test_linear_bf16 (VggPool *pool, int n, int i, int o, int relu)
{
  float *in = random_floats ((size_t) n * i);
  float *weight = random_floats ((size_t) o * i);
  float *bias = random_floats (o);
  vgg_bf16 *w16 = malloc ((size_t) o * i * sizeof (vgg_bf16));
  vgg_bf16 *in16 = malloc ((size_t) n * i * sizeof (vgg_bf16));
  float *ref = malloc ((size_t) n * o * sizeof (float));
  float *got = malloc ((size_t) n * o * sizeof (float));
  char what[128];

  for (size_t e = 0; e < (size_t) o * i; e++) {
    w16[e] = vgg_float_to_bf16 (weight[e]);
    weight[e] = vgg_bf16_to_float (w16[e]);
  }
  vgg_linear_bf16 (kernels, pool, in, in16, w16, bias, got, n, i, o, relu);
  vgg_round_bf16 (in, (size_t) n * i);
  vgg_linear_ref (in, weight, bias, ref, n, i, o, relu);
  snprintf (what, sizeof what,
      "%s linear-bf16 n=%d in=%d out=%d relu=%d threads=%d",
      vgg_isa_to_string (kernels->isa), n, i, o, relu,
      vgg_pool_get_threads (pool));
  check_close (what, got, ref, (size_t) n * o, 1e-5);
  free (in), free (weight), free (bias), free (w16), free (in16), free (ref);
  free (got);
}

/* bf16 rounding: nearest, ties to even, as torch's float -> bfloat16 */
static void
test_bf16_rounding (void)
{
  /* 1 + 2^-8 is a tie between 1 and 1 + 2^-7: even is 1; 1 + 3 * 2^-8
   * ties to 1 + 2^-6 (even); just above a tie rounds up */
  static const float in[] = { 1.0f + 0x1p-8f, 1.0f + 3 * 0x1p-8f,
    1.0f + 0x1p-8f + 0x1p-20f, -2.5f, 65504.0f, 1e-40f };
  static const float want[] = { 1.0f, 1.0f + 0x1p-6f, 1.0f + 0x1p-7f, -2.5f,
    65536.0f, 0x1.0p-133f };
  float x[6];
  int before = failures;

  memcpy (x, in, sizeof x);
  vgg_round_bf16 (x, 6);
  for (int i = 0; i < 6; i++) {
    checks++;
    if (x[i] != want[i]) {
      failures++;
      printf (
          "FAIL bf16 rounding of %a: got %a, want %a\n", in[i], x[i], want[i]);
    }
  }
  if (failures == before)
    printf ("ok   bf16 rounding ties to even\n");
}

/* Both convolutions with their outputs rounded to bf16 (VGG_OUT_BF16, the
 * next layer's input in bf16 precision): every output is a bf16 value and
 * at most half a bf16 ulp (2^-8 relative) from the float32 result, plus
 * the float32 error */
static void
test_conv_bf16_epilogue (VggPool *pool, float *scratch, int winograd_r)
{
  const int n = 2, c = 16, o = 24, h = 9, w = 7;
  size_t in_count = (size_t) n * h * w * c, out_count = (size_t) n * h * w * o;
  float *in = random_floats (in_count), *weight = random_floats (9 * c * o);
  float *bias = random_floats (o),
        *packed = malloc (9 * c * o * sizeof (float));
  float *pb = malloc (o * sizeof (float));
  size_t wf = winograd_r
      ? vgg_winograd_packed_floats (kernels, c, o, winograd_r)
      : vgg_conv3x3_panels_floats (kernels, c, o);
  float *wk = malloc (wf * sizeof (float));
  float *pad = malloc (vgg_conv3x3_padded_floats (n, h, w, c) * sizeof (float));
  float *zeros = calloc (c, sizeof (float));
  float *f32 = malloc (out_count * sizeof (float));
  float *got = malloc (out_count * sizeof (float));
  int bad = -1;
  char what[128];

  vgg_conv3x3_pack (weight, bias, NULL, NULL, NULL, NULL, c, o, packed, pb);
  for (int flags = VGG_OUT_RELU; flags <= (VGG_OUT_RELU | VGG_OUT_BF16);
       flags += VGG_OUT_BF16) {
    float *dst = flags & VGG_OUT_BF16 ? got : f32;
    if (winograd_r) {
      vgg_winograd_pack (kernels, packed, c, o, winograd_r, wk);
      vgg_conv3x3_winograd (kernels, pool, scratch, zeros, in, wk, winograd_r,
          pb, dst, n, h, w, c, o, flags);
    } else {
      vgg_conv3x3_pack_panels (kernels, packed, c, o, wk);
      vgg_conv3x3_direct (
          kernels, pool, pad, in, wk, pb, dst, n, h, w, c, o, flags);
    }
  }
  for (size_t e = 0; e < out_count && bad < 0; e++) {
    float r = vgg_bf16_to_float (vgg_float_to_bf16 (got[e]));
    if (r != got[e]
        || fabsf (got[e] - f32[e]) > fabsf (f32[e]) * 0x1p-8f * 1.001f)
      bad = (int) e;
  }
  snprintf (what, sizeof what, "%s %s conv with bf16 output threads=%d",
      vgg_isa_to_string (kernels->isa),
      winograd_r == 6 ? "winograd F(6x6)"
                      : (winograd_r ? "winograd F(4x4)" : "direct"),
      vgg_pool_get_threads (pool));
  checks++;
  if (bad >= 0) {
    failures++;
    printf ("FAIL %s: output %d is %a, float32 %a\n", what, bad, got[bad],
        f32[bad]);
  } else {
    printf ("ok   %s\n", what);
  }
  free (in), free (weight), free (bias), free (packed), free (pb), free (wk);
  free (pad), free (zeros), free (f32), free (got);
}

/* The level's GEMM on packed panels against OpenBLAS on the plain matrix */
static void
test_gemm_against_openblas (int m, int n, int k)
{
  int n_pad = (n + kernels->nr - 1) / kernels->nr * kernels->nr;
  float *a = random_floats ((size_t) m * k),
        *b = random_floats ((size_t) k * n);
  float *bp = calloc ((size_t) k * n_pad, sizeof (float));
  float *want = malloc ((size_t) m * n * sizeof (float));
  float *got = malloc ((size_t) m * n_pad * sizeof (float));
  float *got_n = malloc ((size_t) m * n * sizeof (float));
  char what[128];

  for (int r = 0; r < k; r++)
    for (int col = 0; col < n; col++)
      bp[((size_t) (col / kernels->nr) * k + r) * kernels->nr
          + col % kernels->nr] = b[(size_t) r * n + col];
  cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, a, k,
      b, n, 0.0f, want, n);
  kernels->gemm (m, n_pad, k, a, k, bp, got, n_pad);
  for (int r = 0; r < m; r++)
    memcpy (
        got_n + (size_t) r * n, got + (size_t) r * n_pad, n * sizeof (float));
  snprintf (what, sizeof what, "%s gemm m=%d n=%d k=%d against cblas_sgemm",
      vgg_isa_to_string (kernels->isa), m, n, k);
  check_close (what, got_n, want, (size_t) m * n, 1e-5);
  free (a), free (b), free (bp), free (want), free (got), free (got_n);
}

/* torch.relu keeps NaN: one NaN input feature makes every output NaN */
static void
test_relu_keeps_nan (VggPool *pool)
{
  float in[2 * 19], weight[5 * 19], bias[5], out[2 * 5];
  int nans = 0;

  for (int i = 0; i < 2 * 19; i++)
    in[i] = uniform ();
  for (int i = 0; i < 5 * 19; i++)
    weight[i] = uniform ();
  for (int i = 0; i < 5; i++)
    bias[i] = -10.0f; /* every output negative but for the NaN */
  in[19 + 7] = NAN;
  vgg_linear (kernels, pool, in, weight, bias, out, 2, 19, 5, 1);
  for (int i = 0; i < 5; i++)
    nans += isnan (out[5 + i]) && out[i] == 0.0f;
  checks++;
  if (nans != 5) {
    failures++;
    printf ("FAIL %s relu keeps NaN: %d of 5 outputs NaN (want 5) and the "
            "other image's zero\n",
        vgg_isa_to_string (kernels->isa), nans);
  } else {
    printf ("ok   %s relu keeps NaN\n", vgg_isa_to_string (kernels->isa));
  }
}

static void
test_softmax (void)
{
  float in[2 * 5] = { 1, 2, 3, 4, 5, 1000, 1001, -1000, 0, 1000 };
  float out[10];

  vgg_softmax (in, out, 2, 5);
  for (int b = 0; b < 2; b++) {
    double sum = 0;
    for (int k = 0; k < 5; k++)
      sum += out[b * 5 + k];
    checks++;
    if (fabs (sum - 1) > 1e-6) {
      failures++;
      printf ("FAIL softmax row %d sums to %.9g\n", b, sum);
    }
  }
  /* exp(1)/(1+e) for the pair 1000, 1001 with large offsets */
  checks++;
  if (fabs (out[6] / out[5] - exp (1.0)) > 1e-5 || out[7] != 0.0f
      || fabs (out[0]
             - exp (-4.0)
                 / (1 + exp (-1.0) + exp (-2.0) + exp (-3.0) + exp (-4.0)))
          > 1e-7) {
    failures++;
    printf ("FAIL softmax values: %g %g %g\n", out[0], out[5], out[6]);
  }
  if (failures == 0)
    printf ("ok   softmax\n");
}

/* The kernels of one level, on one pool */
static void
test_level (VggPool *pool, float *scratch)
{
  /* direct convolutions: the first layer's 3 channels, odd channel counts
   * (13, 17, 19), 9x7 maps, batch 3, 1x1 maps */
  test_conv3x3 (pool, 3, 13, 19, 9, 7, 0, 1);
  test_conv3x3 (pool, 3, 13, 19, 9, 7, 1, 1);
  test_conv3x3 (pool, 3, 13, 17, 9, 7, 1, 0);
  test_conv3x3 (pool, 1, 3, 5, 1, 1, 0, 0);
  test_conv3x3 (pool, 2, 3, 64, 33, 29, 0, 1);
  test_conv3x3 (pool, 3, 19, 70, 9, 7, 1, 1);
  /* Winograd, both tiles: channel counts that leave a tail of 8 in a
   * 16-float vector and in a 64-wide panel, maps off the tile grid, 1x1
   * maps; few tiles (one block shared by the threads) and many (a block
   * per thread) */
  for (int r = 4; r <= 6; r += 2) {
    test_winograd (pool, scratch, r, 3, 16, 24, 9, 7, 1, 1);
    test_winograd (pool, scratch, r, 3, 16, 24, 9, 7, 0, 0);
    test_winograd (pool, scratch, r, 2, 8, 8, 1, 1, 0, 1);
    test_winograd (pool, scratch, r, 1, 24, 16, 4, 4, 1, 1);
    test_winograd (pool, scratch, r, 3, 32, 40, 13, 10, 1, 1);
    test_winograd (pool, scratch, r, 2, 64, 72, 33, 29, 1, 1);
    test_winograd (pool, scratch, r, 3, 8, 136, 57, 45, 0, 1);
    test_winograd (pool, scratch, r, 1, 128, 64, 19, 23, 1, 1);
  }
  /* linear: every batch from 1 to 16, inputs with a tail of i % 16 */
  test_linear (pool, 3, 37, 53, 1);
  test_linear (pool, 3, 37, 53, 0);
  test_linear (pool, 1, 61, 29, 1);
  test_linear (pool, 5, 200, 131, 1);
  for (int n = 1; n <= 16; n++)
    test_linear (pool, n, 2085, 19, n % 2);
  test_linear (pool, 2, 5, 7, 0);
  test_linear (pool, 3, 4099, 45, 1);
  test_relu_keeps_nan (pool);
  test_conv_bf16_epilogue (pool, scratch, 0);
  test_conv_bf16_epilogue (pool, scratch, 4);
  test_conv_bf16_epilogue (pool, scratch, 6);
  for (int n = 1; n <= 16; n += 5)
    test_linear_bf16 (pool, n, 2085, 19, n % 2);
  test_linear_bf16 (pool, 3, 4099, 45, 1);
  test_linear_bf16 (pool, 2, 31, 7, 0);
  test_gemm_against_openblas (13, 19, 9);
  test_gemm_against_openblas (128, 64, 64);
  test_gemm_against_openblas (7, 200, 131);
  if (kernels->conv_amx && vgg_amx_permitted ())
    test_conv_amx_cases (kernels, "the CPU's tiles", pool);
  else if (kernels->conv_amx)
    printf ("amx: Linux refused the tile permission; the CPU's tiles not "
            "run\n");
}

int
main (void)
{
  VggIsa best = vgg_isa_get ();

  printf ("cpu: %s; levels up to %s (VGG_ISA caps it)\n", vgg_cpu_get_name (),
      vgg_isa_to_string (best));
  for (int level = VGG_ISA_GENERIC; level <= VGG_ISA_AMX; level++) {
    if ((VggIsa) level > best) {
      printf ("%s: not on this CPU (or capped by VGG_ISA), not run\n",
          vgg_isa_to_string ((VggIsa) level));
      continue;
    }
    kernels = vgg_kernels_for ((VggIsa) level);
    if (kernels->isa != (VggIsa) level) {
      printf ("%s: no kernels of its own, runs %s's (tested there)\n",
          vgg_isa_to_string ((VggIsa) level), vgg_isa_to_string (kernels->isa));
      continue;
    }
    for (int threads = 1; threads <= 3; threads++) {
      VggPool *pool = vgg_pool_new (threads);
      float *scratch =
          malloc (vgg_winograd_scratch_floats (threads) * sizeof (float));
      rng_state = 1234 + threads;
      test_level (pool, scratch);
      free (scratch);
      vgg_pool_free (pool);
    }
  }

  /* the AMX kernel's code on the C model of the tiles, on every CPU */
  for (int threads = 1; threads <= 3; threads += 2) {
    VggKernels modelled = *vgg_kernels_for (VGG_ISA_GENERIC);
    VggPool *pool = vgg_pool_new (threads);
    modelled.conv_amx = conv_amx_emulated;
    rng_state = 77 + threads;
    test_conv_amx_cases (&modelled, "tiles modelled in C", pool);
    vgg_pool_free (pool);
  }

  {
    VggPool *pool = vgg_pool_new (2);
    rng_state = 99;
    test_maxpool (pool, 3, 13, 9, 7);
    test_maxpool (pool, 2, 5, 2, 2);
    test_maxpool (pool, 1, 3, 15, 32);
    test_avgpool (pool, 3, 13, 9, 7);
    test_avgpool (pool, 3, 13, 7, 7);
    test_avgpool (pool, 2, 5, 3, 5);
    test_avgpool (pool, 1, 4, 14, 14);
    test_avgpool (pool, 2, 3, 13, 17);
    test_avgpool (pool, 1, 2, 1, 1);
    vgg_pool_free (pool);
  }
  test_avgpool_bins ();
  test_softmax ();
  test_bf16_rounding ();

  printf ("layers: %d passed, %d failed\n", checks - failures, failures);
  return failures ? 1 : 0;
}

/* vgginfer's ORC preprocessing (gst/vggorc.orc) against plain C: both
 * functions bit for bit against x * scale + offset in float, and within a
 * stated bound of torchvision's (x / 255 - mean) / std in double.
 *
 * This file is compiled with -ffp-contract=off (tests/gst/meson.build):
 * the reference's multiply and add are two roundings, as ORC's mulf and
 * addf are.  ORC flushes denormal inputs and results to zero; no value
 * here comes near them (2^-126): scales are above 2^-9, offsets 0 or
 * above 2^-60.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <glib.h>
#include <math.h>
#include <orc/orc.h>
#include <string.h>

#include "vggorc.h"

/* the element's normalization of a channel: out = x * scale + offset */
typedef struct
{
  gfloat mean[3], std[3];
  gfloat scale[3], offset[3];
} Norm;

static void
norm_init (Norm *norm, const gfloat mean[3], const gfloat std[3])
{
  for (gint c = 0; c < 3; c++) {
    norm->mean[c] = mean[c];
    norm->std[c] = std[c];
    /* as gstvgginfer.c computes them */
    norm->scale[c] = 1.0f / (255.0f * std[c]);
    norm->offset[c] = -mean[c] / std[c];
  }
}

/* ImageNet's, none (mean 0, std 1), then random ones */
static void
norm_pick (Norm *norm, GRand *rand, guint index)
{
  static const gfloat imagenet_mean[3] = { 0.485f, 0.456f, 0.406f };
  static const gfloat imagenet_std[3] = { 0.229f, 0.224f, 0.225f };
  static const gfloat zero[3] = { 0, 0, 0 }, one[3] = { 1, 1, 1 };
  gfloat mean[3], std[3];

  if (index == 0) {
    norm_init (norm, imagenet_mean, imagenet_std);
    return;
  }
  if (index == 1) {
    norm_init (norm, zero, one);
    return;
  }
  for (gint c = 0; c < 3; c++) {
    mean[c] = (gfloat) g_rand_double_range (rand, 0.0, 1.0);
    std[c] = (gfloat) g_rand_double_range (rand, 0.05, 1.0);
  }
  norm_init (norm, mean, std);
}

static const gint sizes[] = { 1, 3, 7, 15, 17, 33, 224 * 3, 1001 };
#define N_NORMS 6

/* the reference: one multiply, one add, each rounded to float */
static gfloat
reference (guint8 x, gfloat scale, gfloat offset)
{
  gfloat product = (gfloat) x * scale;
  return product + offset;
}

/* torchvision's ToTensor + Normalize, exactly (in double) */
static gdouble
torchvision (guint8 x, gfloat mean, gfloat std)
{
  return ((gdouble) x / 255.0 - mean) / std;
}

/* The float path rounds scale twice (255 * std, then 1 / that), the
 * product once, offset once and the sum once: with a = x / (255 std) and
 * b = mean / std, |got - exact| <= 4 * 2^-24 * (|a| + |b|), that is 2 ulp
 * (2^-23 relative) of |a| + |b|.  The error is relative to the terms, not
 * to the result, which cancels to 0 where x / 255 = mean. */
#define TORCH_BOUND_ULPS 2.0

/* What a function's run gave: each value checked, the worst error. */
typedef struct
{
  const gchar *what;
  gint n;
  gdouble worst_ulps; /* against torchvision, in 2^-23 (|a| + |b|) */
  guint checked;
} Stats;

/* Value i of a run of n: x of channel c normalized by the function into
 * got, equal bit for bit to the C reference and within TORCH_BOUND_ULPS of
 * torchvision's. */
static void
check_value (
    Stats *stats, gint i, guint8 x, gint c, const Norm *norm, gfloat got)
{
  gfloat ref = reference (x, norm->scale[c], norm->offset[c]);
  gdouble exact = torchvision (x, norm->mean[c], norm->std[c]);
  gdouble terms = fabs ((gdouble) x / (255.0 * norm->std[c]))
      + fabs ((gdouble) norm->mean[c] / norm->std[c]);
  gdouble ulps = terms > 0 ? fabs (got - exact) / (terms * 0x1p-23) : 0;

  if (memcmp (&got, &ref, 4) != 0) {
    guint32 gb, rb;

    memcpy (&gb, &got, 4);
    memcpy (&rb, &ref, 4);
    g_error ("%s n=%d index %d: x %u, scale %.9g, offset %.9g: ORC %.9g "
             "(0x%08x), C %.9g (0x%08x)",
        stats->what, stats->n, i, x, norm->scale[c], norm->offset[c], got, gb,
        ref, rb);
  }
  if (!(ulps <= TORCH_BOUND_ULPS))
    g_error ("%s n=%d index %d: x %u, mean %.9g, std %.9g: %.9g, torchvision "
             "%.17g, error %.2f ulp of |a| + |b| (bound %.1f)",
        stats->what, stats->n, i, x, norm->mean[c], norm->std[c], got, exact,
        ulps, TORCH_BOUND_ULPS);
  stats->worst_ulps = MAX (stats->worst_ulps, ulps);
  stats->checked++;
}

static guint8
random_byte (GRand *rand, gint i)
{
  /* the ends of the range first */
  if (i < 2)
    return i ? 255 : 0;
  return (guint8) g_rand_int_range (rand, 0, 256);
}

/* One run of a function on stats->n random values under norm. */
typedef void (*RunFunc) (GRand *rand, const Norm *norm, Stats *stats);

/* Every size with every normalization, from a fixed seed. */
static void
run_all (const gchar *what, guint32 seed, RunFunc run)
{
  GRand *rand = g_rand_new_with_seed (seed);
  Stats stats = { what, 0, 0.0, 0 };

  for (guint s = 0; s < G_N_ELEMENTS (sizes); s++) {
    for (guint k = 0; k < N_NORMS; k++) {
      Norm norm;

      norm_pick (&norm, rand, k);
      stats.n = sizes[s];
      run (rand, &norm, &stats);
    }
  }
  g_test_message ("%s: %u values bit for bit; against torchvision at most "
                  "%.3f ulp of |a| + |b| (bound %.1f)",
      what, stats.checked, stats.worst_ulps, TORCH_BOUND_ULPS);
  g_rand_free (rand);
}

/* vgg_orc_bytes_to_floats on a row of n bytes of packed RGB (3 * width,
 * but also lengths that are not a multiple of 3) with the per-channel
 * pattern in scale and offset; every array one element off its
 * alignment, and nothing written past the row. */
static void
run_bytes_to_floats (GRand *rand, const Norm *norm, Stats *stats)
{
  gint n = stats->n;
  guint8 *src = g_malloc (n + 1);
  gfloat *scale = g_new (gfloat, n + 1);
  gfloat *offset = g_new (gfloat, n + 1);
  gfloat *dst = g_new (gfloat, n + 2);

  for (gint i = 0; i < n; i++) {
    src[i + 1] = random_byte (rand, i / 3);
    scale[i + 1] = norm->scale[i % 3];
    offset[i + 1] = norm->offset[i % 3];
  }
  dst[n + 1] = -1.0f;
  vgg_orc_bytes_to_floats (dst + 1, src + 1, scale + 1, offset + 1, n);
  g_assert_cmpfloat (dst[n + 1], ==, -1.0f);
  for (gint i = 0; i < n; i++)
    check_value (stats, i, src[i + 1], i % 3, norm, dst[i + 1]);
  g_free (dst);
  g_free (offset);
  g_free (scale);
  g_free (src);
}

static void
test_bytes_to_floats_equals_c_bit_for_bit (void)
{
  run_all ("bytes_to_floats", 2025, run_bytes_to_floats);
}

int
main (int argc, char **argv)
{
  orc_init ();
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/orc/bytes-to-floats-equals-c-bit-for-bit",
      test_bytes_to_floats_equals_c_bit_for_bit);
  return g_test_run ();
}

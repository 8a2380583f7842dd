/* The two input layouts of a forward pass: vgg_context_forward_nhwc on
 * (n, h, w, 3) pixels gives bit for bit the outputs of
 * vgg_context_forward on the same pixels as (n, 3, h, w), in fp32 and
 * bf16, at odd sizes; it refuses what the NCHW entry refuses and never
 * writes the caller's input. */
#include "vggcore/vggcore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures, checks;

#define CHECK(cond, ...)                                                       \
  do {                                                                         \
    checks++;                                                                  \
    if (!(cond)) {                                                             \
      failures++;                                                              \
      printf ("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                  \
      printf (__VA_ARGS__);                                                    \
      printf ("\n");                                                           \
    }                                                                          \
  } while (0)

static const VggOutput compared[] = { VGG_OUTPUT_POOL5, VGG_OUTPUT_FC6,
  VGG_OUTPUT_FC7, VGG_OUTPUT_LOGITS, VGG_OUTPUT_PROBS };
#define N_COMPARED ((int) (sizeof compared / sizeof compared[0]))

/* Normalized-looking pixels in [-2, 2), (n, 3, h, w), from a fixed seed. */
static void
fill_nchw (float *x, size_t count, uint64_t seed)
{
  for (size_t i = 0; i < count; i++) {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    x[i] = (float) ((seed >> 40) / (double) (1 << 24) * 4 - 2);
  }
}

/* nhwc (n, h, w, 3) from nchw (n, 3, h, w) */
static void
to_nhwc (const float *nchw, float *nhwc, int n, int h, int w)
{
  for (int b = 0; b < n; b++)
    for (int c = 0; c < 3; c++)
      for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
          nhwc[(((size_t) b * h + y) * w + x) * 3 + c] =
              nchw[(((size_t) b * 3 + c) * h + y) * w + x];
}

/* arch/8 with 11 classes and seed `seed`, one context per entry (so that
 * neither reads what the other left in its buffers), batch n at h x w. */
static void
test_nhwc_input_matches_nchw (const char *arch, uint64_t seed,
    VggPrecision precision, int n, int h, int w)
{
  const char *prec = vgg_precision_to_string (precision);
  char error[VGG_ERROR_SIZE];
  VggModel *model = NULL;
  VggContext *planar = NULL, *interleaved = NULL;
  size_t count = (size_t) n * 3 * h * w;
  float *nchw = malloc (count * sizeof (float));
  float *nhwc = malloc (count * sizeof (float));
  float *nhwc_copy = malloc (count * sizeof (float));
  VggStatus s;
  int failed = failures;

  if (nchw == NULL || nhwc == NULL || nhwc_copy == NULL) {
    CHECK (0, "out of memory for %zu floats", count);
    goto out;
  }
  fill_nchw (nchw, count, seed);
  to_nhwc (nchw, nhwc, n, h, w);
  memcpy (nhwc_copy, nhwc, count * sizeof (float));

  s = vgg_model_new_random (arch, 8, 11, seed, &model, error);
  CHECK (s == VGG_OK, "%s: %s", arch, error);
  if (s != VGG_OK)
    goto out;
  s = vgg_context_new_with_precision (model, 3, 2, precision, &planar, error);
  CHECK (s == VGG_OK, "%s %s: %s", arch, prec, error);
  if (s != VGG_OK)
    goto out;
  s = vgg_context_new_with_precision (
      model, 3, 2, precision, &interleaved, error);
  CHECK (s == VGG_OK, "%s %s: %s", arch, prec, error);
  if (s != VGG_OK)
    goto out;

  s = vgg_context_forward (planar, nchw, n, h, w);
  CHECK (s == VGG_OK, "%s %s batch %d HxW %dx%d NCHW: %s", arch, prec, n, h, w,
      vgg_context_get_error (planar));
  s = vgg_context_forward_nhwc (interleaved, nhwc, n, h, w);
  CHECK (s == VGG_OK, "%s %s batch %d HxW %dx%d NHWC: %s", arch, prec, n, h, w,
      vgg_context_get_error (interleaved));
  CHECK (memcmp (nhwc, nhwc_copy, count * sizeof (float)) == 0,
      "%s %s batch %d HxW %dx%d: the NHWC pass wrote its input", arch, prec, n,
      h, w);

  for (int o = 0; o < N_COMPARED; o++) {
    int dims_a, dims_b;
    const float *a = vgg_context_get_output (planar, compared[o], &dims_a);
    const float *b = vgg_context_get_output (interleaved, compared[o], &dims_b);
    size_t first = 0, total = (size_t) n * dims_a;

    CHECK (a != NULL && b != NULL && dims_a == dims_b,
        "%s %s batch %d HxW %dx%d %s: dims %d (NCHW) vs %d (NHWC)", arch, prec,
        n, h, w, vgg_output_to_string (compared[o]), dims_a, dims_b);
    if (a == NULL || b == NULL || dims_a != dims_b)
      continue;
    while (first < total && memcmp (&a[first], &b[first], sizeof (float)) == 0)
      first++;
    CHECK (first == total,
        "%s %s batch %d HxW %dx%d %s: element %zu of %zu is %.9g from NCHW, "
        "%.9g from NHWC",
        arch, prec, n, h, w, vgg_output_to_string (compared[o]), first, total,
        first < total ? a[first] : 0.0f, first < total ? b[first] : 0.0f);
  }

  /* the same refusals as the NCHW entry, and the context stays usable */
  CHECK (vgg_context_forward_nhwc (interleaved, NULL, n, h, w)
          == VGG_ERROR_INVALID,
      "NHWC: NULL input accepted");
  CHECK (
      vgg_context_forward_nhwc (interleaved, nhwc, 4, h, w) == VGG_ERROR_INVALID
          && strstr (vgg_context_get_error (interleaved), "batch"),
      "NHWC: batch 4 for a context of 3: %s",
      vgg_context_get_error (interleaved));
  CHECK (vgg_context_forward_nhwc (interleaved, nhwc, 1, 31, w)
              == VGG_ERROR_INVALID
          && strstr (vgg_context_get_error (interleaved), "32"),
      "NHWC: 31 rows: %s", vgg_context_get_error (interleaved));
  CHECK (vgg_context_forward_nhwc (interleaved, nhwc, n, h, w) == VGG_OK,
      "NHWC after refusals: %s", vgg_context_get_error (interleaved));

  if (failures == failed)
    printf ("ok   NHWC == NCHW bit for bit: %s/8 seed %llu %s batch %d at "
            "HxW %dx%d\n",
        arch, (unsigned long long) seed, prec, n, h, w);

out:
  vgg_context_free (planar);
  vgg_context_free (interleaved);
  vgg_model_unref (model);
  free (nchw);
  free (nhwc);
  free (nhwc_copy);
}

int
main (void)
{
  static const struct
  {
    const char *arch;
    uint64_t seed;
    int h, w;
  } cases[] = {
    { "vgg11_bn", 41, 37, 45 },
    { "vgg13", 42, 64, 32 },
  };
  static const int batches[] = { 1, 3 };
  static const VggPrecision precisions[] = { VGG_PRECISION_FP32,
    VGG_PRECISION_BF16 };

  for (int c = 0; c < (int) (sizeof cases / sizeof cases[0]); c++)
    for (int p = 0; p < 2; p++)
      for (int b = 0; b < 2; b++)
        test_nhwc_input_matches_nchw (cases[c].arch, cases[c].seed,
            precisions[p], batches[b], cases[c].h, cases[c].w);
  printf ("input-layout: %d passed, %d failed\n", checks - failures, failures);
  return failures ? 1 : 0;
}

/* Models and contexts through the public API: torchvision's published
 * parameter and multiply-accumulate counts for the eight architectures,
 * output sizes, argument errors, no allocation inside a forward pass
 * (malloc, calloc, realloc and posix_memalign are wrapped by the linker),
 * the NHWC entry against the NCHW one, a batch against its images one
 * by one, a model file packed for one precision and later for the other,
 * and where vgg_model_find searches. */
#include "vggcore/vggcore.h"
#include "vgg-model-private.h"

#define TEST_CHECK_COUNT_ALLOCATIONS
#include "test-check.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* torchvision's published figures: num_params from the weights' meta,
 * GFLOPS (multiply-accumulates) from its model table at 224x224. */
static const struct
{
  const char *arch;
  uint64_t params;
  double gmacs;
} published[] = {
  { "vgg11", 132863336, 7.61 },
  { "vgg11_bn", 132868840, 7.61 },
  { "vgg13", 133047848, 11.31 },
  { "vgg13_bn", 133053736, 11.31 },
  { "vgg16", 138357544, 15.47 },
  { "vgg16_bn", 138365992, 15.47 },
  { "vgg19", 143667240, 19.63 },
  { "vgg19_bn", 143678248, 19.63 },
};

static void
test_published_counts (void)
{
  for (size_t i = 0; i < sizeof published / sizeof *published; i++) {
    char error[VGG_ERROR_SIZE];
    VggModel *model;
    VggStatus s =
        vgg_model_new_random (published[i].arch, 1, 1000, 1, &model, error);
    CHECK (s == VGG_OK, "%s: %s", published[i].arch, error);
    if (s != VGG_OK)
      continue;
    uint64_t params = vgg_model_get_n_params (model);
    double gmacs = vgg_model_get_macs (model, 224, 224) / 1e9;
    CHECK (params == published[i].params,
        "%s: %llu parameters, published "
        "%llu",
        published[i].arch, (unsigned long long) params,
        (unsigned long long) published[i].params);
    CHECK (fabs (gmacs - published[i].gmacs) < 0.005,
        "%s: %.4f GMACs, "
        "published %.2f",
        published[i].arch, gmacs, published[i].gmacs);
    CHECK (strcmp (vgg_model_get_arch (model), published[i].arch) == 0,
        "arch %s recognised as %s", published[i].arch,
        vgg_model_get_arch (model));
    CHECK (vgg_model_get_output_dims (model, VGG_OUTPUT_POOL5) == 25088
            && vgg_model_get_output_dims (model, VGG_OUTPUT_FC6) == 4096
            && vgg_model_get_output_dims (model, VGG_OUTPUT_FC7) == 4096
            && vgg_model_get_output_dims (model, VGG_OUTPUT_LOGITS) == 1000,
        "%s: output dims", published[i].arch);
    printf ("ok   %s: %llu parameters, %.2f GMACs\n", published[i].arch,
        (unsigned long long) params, gmacs);
    vgg_model_unref (model);
  }
}

static void
test_forward (const char *arch, int batch, int threads, int h, int w)
{
  char error[VGG_ERROR_SIZE];
  VggModel *model = NULL;
  VggContext *ctx = NULL;
  size_t count = (size_t) batch * 3 * h * w;
  float *input = malloc (count * sizeof (float));
  const float *probs, *logits;
  int dims, before, during;

  random_input (input, count, 99, 1);
  CHECK (vgg_model_new_random (arch, 8, 17, 5, &model, error) == VGG_OK, "%s",
      error);
  CHECK (vgg_context_new (model, batch, threads, &ctx, error) == VGG_OK, "%s",
      error);
  /* the model stays alive through the context's reference */
  vgg_model_unref (model);
  if (ctx == NULL)
    goto out;

  /* the first pass at this size may grow buffers; the second must not
   * allocate */
  CHECK (vgg_context_forward (ctx, input, batch, h, w) == VGG_OK, "%s",
      vgg_context_get_error (ctx));
  before = atomic_load (&allocations);
  CHECK (vgg_context_forward (ctx, input, batch, h, w) == VGG_OK, "%s",
      vgg_context_get_error (ctx));
  during = atomic_load (&allocations) - before;
  CHECK (during == 0, "%s %dx%d batch %d: %d allocations in a forward pass",
      arch, h, w, batch, during);

  probs = vgg_context_get_output (ctx, VGG_OUTPUT_PROBS, &dims);
  logits = vgg_context_get_output (ctx, VGG_OUTPUT_LOGITS, NULL);
  CHECK (probs != NULL && dims == 17, "probs dims %d", dims);
  for (int b = 0; probs && b < batch; b++) {
    double sum = 0, max_logit = -INFINITY;
    int argmax_p = 0, argmax_l = 0;
    for (int k = 0; k < dims; k++) {
      sum += probs[b * dims + k];
      if (probs[b * dims + k] > probs[b * dims + argmax_p])
        argmax_p = k;
      if (logits[b * dims + k] > max_logit) {
        max_logit = logits[b * dims + k];
        argmax_l = k;
      }
    }
    CHECK (fabs (sum - 1) < 1e-5 && argmax_p == argmax_l,
        "%s image %d: "
        "probs sum %.7f, argmax %d vs logits %d",
        arch, b, sum, argmax_p, argmax_l);
  }
  CHECK (vgg_context_get_output (ctx, VGG_OUTPUT_POOL5, &dims)
          && dims == (512 / 8) * 49,
      "pool5 dims %d", dims);
  CHECK (vgg_context_get_output (ctx, VGG_OUTPUT_FC7, &dims) && dims == 512,
      "fc7 dims %d", dims);

  /* bad arguments are refused with a message, and the context stays usable */
  CHECK (vgg_context_forward (ctx, input, batch + 1, h, w) == VGG_ERROR_INVALID
          && strstr (vgg_context_get_error (ctx), "batch"),
      "oversized batch: %s", vgg_context_get_error (ctx));
  CHECK (vgg_context_forward (ctx, input, 1, 31, w) == VGG_ERROR_INVALID
          && strstr (vgg_context_get_error (ctx), "32"),
      "31 rows: %s", vgg_context_get_error (ctx));
  CHECK (vgg_context_forward (ctx, NULL, 1, h, w) == VGG_ERROR_INVALID,
      "NULL input accepted");
  CHECK (vgg_context_forward (ctx, input, batch, h, w) == VGG_OK, "%s",
      vgg_context_get_error (ctx));
  /* bf16: packed once when set, then no allocation in a pass either */
  CHECK (vgg_context_set_precision (ctx, VGG_PRECISION_BF16) == VGG_OK, "%s",
      vgg_context_get_error (ctx));
  CHECK (vgg_context_forward (ctx, input, batch, h, w) == VGG_OK, "%s",
      vgg_context_get_error (ctx));
  before = atomic_load (&allocations);
  CHECK (vgg_context_forward (ctx, input, batch, h, w) == VGG_OK, "%s",
      vgg_context_get_error (ctx));
  during = atomic_load (&allocations) - before;
  CHECK (during == 0, "%s %dx%d batch %d bf16: %d allocations in a pass", arch,
      h, w, batch, during);
  printf ("ok   forward %s/8 batch %d threads %d at %dx%d (fp32, bf16)\n", arch,
      batch, threads, h, w);

out:
  vgg_context_free (ctx);
  free (input);
}

/* A batch gives each image bit for bit what the image gives alone: the
 * first layers of a batch run image by image (the head, whose length
 * depends on the threads and the map size), the rest on the whole batch;
 * a pass of one image has no head.  Neither size allocates in a pass, in
 * either order, on a context made for n images (sized for 224x224, the
 * largest map here). */
static void
test_batch_matches_images_alone (
    const char *arch, VggPrecision precision, int n, int threads, int h, int w)
{
  const char *prec = vgg_precision_to_string (precision);
  const VggOutput outputs[] = { VGG_OUTPUT_POOL5, VGG_OUTPUT_FC7,
    VGG_OUTPUT_LOGITS };
  char error[VGG_ERROR_SIZE];
  VggModel *model = NULL;
  VggContext *ctx = NULL;
  size_t image = (size_t) 3 * h * w;
  float *input = malloc (n * image * sizeof (float));
  float *batch[3] = { NULL, NULL, NULL };
  int dims[3], before, during;

  random_input (input, n * image, 1000 + n, 1);
  CHECK (vgg_model_new_random (arch, 8, 9, 77, &model, error) == VGG_OK, "%s",
      error);
  CHECK (model
          && vgg_context_new_with_precision (
                 model, n, threads, precision, &ctx, error)
              == VGG_OK,
      "%s", error);
  vgg_model_unref (model);
  if (ctx == NULL)
    goto out;
  before = atomic_load (&allocations);
  CHECK (vgg_context_forward (ctx, input, 1, h, w) == VGG_OK, "%s",
      vgg_context_get_error (ctx));
  CHECK (vgg_context_forward (ctx, input, n, h, w) == VGG_OK, "%s",
      vgg_context_get_error (ctx));
  during = atomic_load (&allocations) - before;
  CHECK (during == 0,
      "%s %s %dx%d batch %d threads %d: %d allocations in passes of 1 and "
      "%d images",
      arch, prec, h, w, n, threads, during, n);
  for (int o = 0; o < 3; o++) {
    const float *out = vgg_context_get_output (ctx, outputs[o], &dims[o]);
    batch[o] = malloc ((size_t) n * dims[o] * sizeof (float));
    memcpy (batch[o], out, (size_t) n * dims[o] * sizeof (float));
  }
  for (int b = 0; b < n; b++) {
    CHECK (vgg_context_forward (ctx, input + b * image, 1, h, w) == VGG_OK,
        "%s", vgg_context_get_error (ctx));
    for (int o = 0; o < 3; o++) {
      const float *alone = vgg_context_get_output (ctx, outputs[o], NULL);
      const float *in_batch = batch[o] + (size_t) b * dims[o];
      int first = (int) first_difference (alone, in_batch, dims[o]);
      CHECK (first == dims[o],
          "%s %s %dx%d batch %d threads %d, image %d, %s[%d]: %.9g in the "
          "batch, %.9g alone",
          arch, prec, h, w, n, threads, b, vgg_output_to_string (outputs[o]),
          first, first < dims[o] ? in_batch[first] : 0.0,
          first < dims[o] ? alone[first] : 0.0);
    }
  }
  printf ("ok   %s/8 %s batch %d threads %d at %dx%d: each image as alone\n",
      arch, prec, n, threads, h, w);

out:
  for (int o = 0; o < 3; o++)
    free (batch[o]);
  vgg_context_free (ctx);
  free (input);
}

static const VggOutput compared_outputs[] = { VGG_OUTPUT_POOL5, VGG_OUTPUT_FC6,
  VGG_OUTPUT_FC7, VGG_OUTPUT_LOGITS, VGG_OUTPUT_PROBS };

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

/* vgg_context_forward_nhwc on (n, h, w, 3) pixels gives bit for bit the
 * outputs of vgg_context_forward on the same pixels as (n, 3, h, w), each
 * entry on a context of its own (so that neither reads what the other
 * left in its buffers); it allocates nothing after its first pass, never
 * writes the caller's input and refuses what the NCHW entry refuses.
 * The model: arch/8, 11 classes, weights from seed. */
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
  int failed = failures, before, during;

  if (nchw == NULL || nhwc == NULL || nhwc_copy == NULL) {
    CHECK (0, "out of memory for %zu floats", count);
    goto out;
  }
  random_input (nchw, count, seed, 1);
  to_nhwc (nchw, nhwc, n, h, w);
  memcpy (nhwc_copy, nhwc, count * sizeof (float));

  CHECK (vgg_model_new_random (arch, 8, 11, seed, &model, error) == VGG_OK,
      "%s: %s", arch, error);
  if (model == NULL)
    goto out;
  CHECK (vgg_context_new_with_precision (model, 3, 2, precision, &planar, error)
              == VGG_OK
          && vgg_context_new_with_precision (
                 model, 3, 2, precision, &interleaved, error)
              == VGG_OK,
      "%s %s: %s", arch, prec, error);
  if (planar == NULL || interleaved == NULL)
    goto out;

  CHECK (vgg_context_forward (planar, nchw, n, h, w) == VGG_OK,
      "%s %s batch %d HxW %dx%d NCHW: %s", arch, prec, n, h, w,
      vgg_context_get_error (planar));
  CHECK (vgg_context_forward_nhwc (interleaved, nhwc, n, h, w) == VGG_OK,
      "%s %s batch %d HxW %dx%d NHWC: %s", arch, prec, n, h, w,
      vgg_context_get_error (interleaved));
  for (int o = 0;
       o < (int) (sizeof compared_outputs / sizeof *compared_outputs); o++) {
    const char *name = vgg_output_to_string (compared_outputs[o]);
    int dims_a, dims_b;
    const float *a =
        vgg_context_get_output (planar, compared_outputs[o], &dims_a);
    const float *b =
        vgg_context_get_output (interleaved, compared_outputs[o], &dims_b);
    size_t first, total = (size_t) n * dims_a;

    CHECK (a != NULL && b != NULL && dims_a == dims_b,
        "%s %s batch %d HxW %dx%d %s: dims %d (NCHW) vs %d (NHWC)", arch, prec,
        n, h, w, name, dims_a, dims_b);
    if (a == NULL || b == NULL || dims_a != dims_b)
      continue;
    first = first_difference (a, b, total);
    CHECK (first == total,
        "%s %s batch %d HxW %dx%d %s: element %zu of %zu is %.9g from NCHW, "
        "%.9g from NHWC",
        arch, prec, n, h, w, name, first, total,
        first < total ? a[first] : 0.0f, first < total ? b[first] : 0.0f);
  }

  before = atomic_load (&allocations);
  CHECK (vgg_context_forward_nhwc (interleaved, nhwc, n, h, w) == VGG_OK, "%s",
      vgg_context_get_error (interleaved));
  during = atomic_load (&allocations) - before;
  CHECK (during == 0, "%s %s batch %d HxW %dx%d: %d allocations in a NHWC pass",
      arch, prec, n, h, w, during);
  CHECK (memcmp (nhwc, nhwc_copy, count * sizeof (float)) == 0,
      "%s %s batch %d HxW %dx%d: the NHWC pass wrote its input", arch, prec, n,
      h, w);

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

static void
test_bad_arguments (void)
{
  char error[VGG_ERROR_SIZE];
  VggModel *model = NULL;
  VggContext *ctx = NULL;

  CHECK (vgg_model_new_random ("vgg17", 1, 1000, 0, &model, error)
              == VGG_ERROR_INVALID
          && strstr (error, "vgg17") && model == NULL,
      "unknown arch: %s", error);
  CHECK (vgg_model_load ("/nonexistent/model.safetensors", &model, error)
              == VGG_ERROR_IO
          && strstr (error, "/nonexistent/model.safetensors"),
      "missing file: %s", error);
  CHECK (vgg_model_new_random ("vgg11", 16, 3, 0, &model, error) == VGG_OK,
      "%s", error);
  CHECK (vgg_context_new (model, 0, 1, &ctx, error) == VGG_ERROR_INVALID
          && ctx == NULL && strstr (error, "batch"),
      "batch 0: %s", error);
  vgg_model_unref (model);
  CHECK (vgg_output_from_string ("fc7") == VGG_OUTPUT_FC7
          && vgg_output_from_string ("fc8") == -1,
      "output names");
  printf ("ok   bad arguments\n");
}

/* Contexts in several threads at once on one model: half of them ask for
 * bf16 at the same moment, so the model's packing for bf16 is made by
 * whichever comes first while the others wait on it; every thread's
 * logits must equal, bit for bit, those of a context made beforehand in
 * the main thread in the same precision (each pool task computes its part
 * in a fixed order, whichever thread runs it). */
#define N_THREADS 4

typedef struct
{
  VggModel *model;
  const float *input;
  VggPrecision precision;
  pthread_barrier_t *barrier;
  float logits[2 * 17];
  int ok;
} ThreadRun;

static void *
thread_run (void *data)
{
  ThreadRun *run = data;
  char error[VGG_ERROR_SIZE];
  VggContext *ctx = NULL;
  const float *logits;

  pthread_barrier_wait (run->barrier);
  if (vgg_context_new_with_precision (
          run->model, 2, 2, run->precision, &ctx, error)
          != VGG_OK
      || vgg_context_forward (ctx, run->input, 2, 40, 48) != VGG_OK)
    goto out;
  logits = vgg_context_get_output (ctx, VGG_OUTPUT_LOGITS, NULL);
  memcpy (run->logits, logits, sizeof run->logits);
  run->ok = 1;
out:
  vgg_context_free (ctx);
  return NULL;
}

static void
test_contexts_in_threads (void)
{
  char error[VGG_ERROR_SIZE];
  VggModel *model = NULL, *model2 = NULL;
  VggContext *ref[2] = { NULL, NULL };
  float want[2][2 * 17], input[2 * 3 * 40 * 48];
  pthread_t threads[N_THREADS];
  ThreadRun runs[N_THREADS];
  pthread_barrier_t barrier;

  random_input (input, sizeof input / sizeof *input, 7, 1);
  /* the references on a model of their own (same seed, same weights), so
   * that the shared model is packed for bf16 by the threads */
  CHECK (vgg_model_new_random ("vgg11_bn", 8, 17, 3, &model, error) == VGG_OK
          && vgg_model_new_random ("vgg11_bn", 8, 17, 3, &model2, error)
              == VGG_OK,
      "%s", error);
  if (model == NULL || model2 == NULL)
    goto out;
  for (int p = 0; p < 2; p++) {
    CHECK (vgg_context_new_with_precision (
               model2, 2, 2, (VggPrecision) p, &ref[p], error)
            == VGG_OK,
        "%s", error);
    if (ref[p] == NULL
        || vgg_context_forward (ref[p], input, 2, 40, 48) != VGG_OK)
      goto out;
    memcpy (want[p], vgg_context_get_output (ref[p], VGG_OUTPUT_LOGITS, NULL),
        sizeof want[p]);
  }
  CHECK (memcmp (want[0], want[1], sizeof want[0]) != 0,
      "bf16 logits equal fp32's: the precision did nothing");
  pthread_barrier_init (&barrier, NULL, N_THREADS);
  for (int t = 0; t < N_THREADS; t++) {
    runs[t] = (ThreadRun){ model, input, (VggPrecision) (t % 2), &barrier };
    pthread_create (&threads[t], NULL, thread_run, &runs[t]);
  }
  for (int t = 0; t < N_THREADS; t++) {
    pthread_join (threads[t], NULL);
    CHECK (
        runs[t].ok && memcmp (runs[t].logits, want[t % 2], sizeof want[0]) == 0,
        "thread %d (%s): ok %d, logits %g %g, reference %g %g", t,
        vgg_precision_to_string ((VggPrecision) (t % 2)), runs[t].ok,
        runs[t].logits[0], runs[t].logits[1], want[t % 2][0], want[t % 2][1]);
  }
  pthread_barrier_destroy (&barrier);
  printf ("ok   %d contexts in %d threads, fp32 and bf16 on one model\n",
      N_THREADS, N_THREADS);
out:
  vgg_context_free (ref[0]);
  vgg_context_free (ref[1]);
  vgg_model_unref (model);
  vgg_model_unref (model2);
}

/* dir/name in path (room for 512 chars) */
static const char *
in_dir (char path[512], const char *dir, const char *name)
{
  snprintf (path, 512, "%s/%s", dir, name);
  return path;
}

/* vgg_model_find (name, search_path) finds dir/name (without
 * search_path: in the $VGG_MODEL_PATH of the moment). */
static void
expect_found (const char *name, const char *search_path, const char *dir,
    const char *file)
{
  char error[VGG_ERROR_SIZE], want[512];
  char *found = NULL;
  VggStatus s = vgg_model_find (name, search_path, &found, error);

  in_dir (want, dir, file);
  CHECK (s == VGG_OK && found && strcmp (found, want) == 0,
      "%s, search path %s, $VGG_MODEL_PATH %s: %s, found %s, not %s (%s)", name,
      search_path ? search_path : "NULL",
      getenv ("VGG_MODEL_PATH") ? getenv ("VGG_MODEL_PATH") : "unset",
      vgg_status_to_string (s), found ? found : "nothing", want, error);
  free (found);
}

/* vgg_model_find (name, search_path) finds nothing, and its error holds
 * `says` but not `not_said` (NULL: anything). */
static void
expect_not_found (const char *name, const char *search_path, const char *says,
    const char *not_said)
{
  char error[VGG_ERROR_SIZE];
  char *found = NULL;
  VggStatus s = vgg_model_find (name, search_path, &found, error);

  CHECK (s == VGG_ERROR_IO && found == NULL && strstr (error, says)
          && (not_said == NULL || !strstr (error, not_said)),
      "%s, search path %s, $VGG_MODEL_PATH %s: %s, found %s; the error "
      "should say \"%s\"%s%s: %s",
      name, search_path ? search_path : "NULL",
      getenv ("VGG_MODEL_PATH") ? getenv ("VGG_MODEL_PATH") : "unset",
      vgg_status_to_string (s), found ? found : "nothing", says,
      not_said ? " and not " : "", not_said ? not_said : "", error);
  free (found);
}

/* A VGG-style F32 safetensors file with batch-norm: features.0 3->8 and
 * features.4 8->16 (each with its batch-norm and a pool), classifier.0
 * 784->24 and classifier.3 24->10, seeded values. */
static int
write_bn_model (const char *path, uint64_t seed)
{
  static const struct
  {
    const char *name, *shape;
    int count;
    float scale, offset;
  } t[] = {
    { "features.0.weight", "[8,3,3,3]", 216, 0.8f, 0 },
    { "features.0.bias", "[8]", 8, 0.2f, 0 },
    { "features.1.weight", "[8]", 8, 0.5f, 1 },
    { "features.1.bias", "[8]", 8, 0.2f, 0 },
    { "features.1.running_mean", "[8]", 8, 0.2f, 0 },
    { "features.1.running_var", "[8]", 8, 0.5f, 0.8f },
    { "features.4.weight", "[16,8,3,3]", 1152, 0.4f, 0 },
    { "features.4.bias", "[16]", 16, 0.2f, 0 },
    { "features.5.weight", "[16]", 16, 0.5f, 1 },
    { "features.5.bias", "[16]", 16, 0.2f, 0 },
    { "features.5.running_mean", "[16]", 16, 0.2f, 0 },
    { "features.5.running_var", "[16]", 16, 0.5f, 0.8f },
    { "classifier.0.weight", "[24,784]", 18816, 0.1f, 0 },
    { "classifier.0.bias", "[24]", 24, 0.2f, 0 },
    { "classifier.3.weight", "[10,24]", 240, 0.5f, 0 },
    { "classifier.3.bias", "[10]", 10, 0.2f, 0 },
  };
  const int n = (int) (sizeof t / sizeof *t);
  char header[4096];
  size_t len = 1, offset = 0, padded;
  FILE *f = fopen (path, "wb");
  int ok = f != NULL;

  header[0] = '{';
  for (int i = 0; i < n; i++) {
    len += snprintf (header + len, sizeof header - len,
        "%s\"%s\":{\"dtype\":\"F32\",\"shape\":%s,\"data_offsets\":[%zu,%zu]}",
        i ? "," : "", t[i].name, t[i].shape, offset,
        offset + (size_t) t[i].count * 4);
    offset += (size_t) t[i].count * 4;
  }
  len += snprintf (header + len, sizeof header - len, "}");
  /* the data 8-byte aligned, as vgg-convert writes it */
  padded = (len + 7) / 8 * 8;
  memset (header + len, ' ', padded - len);
  for (int i = 0; ok && i < 8; i++)
    ok = fputc ((int) (padded >> (8 * i)) & 0xff, f) != EOF;
  ok = ok && fwrite (header, 1, padded, f) == padded;
  for (int i = 0; ok && i < n; i++) {
    float v[18816];
    random_input (v, t[i].count, seed + i, t[i].scale);
    for (int k = 0; k < t[i].count; k++)
      v[k] += t[i].offset;
    ok = fwrite (v, 4, t[i].count, f) == (size_t) t[i].count;
  }
  if (f && fclose (f) != 0)
    ok = 0;
  return ok;
}

/* The logits of a context of the given precision on model for input. */
static int
logits_of (VggModel *model, VggPrecision precision, const float *input,
    int n, int h, int w, float *logits)
{
  char error[VGG_ERROR_SIZE];
  VggContext *ctx = NULL;
  int ok = vgg_context_new_with_precision (model, n, 1, precision, &ctx, error)
          == VGG_OK
      && vgg_context_forward (ctx, input, n, h, w) == VGG_OK;

  CHECK (ok, "%s context: %s", vgg_precision_to_string (precision),
      ctx ? vgg_context_get_error (ctx) : error);
  if (ok)
    memcpy (logits, vgg_context_get_output (ctx, VGG_OUTPUT_LOGITS, NULL),
        (size_t) n * 10 * sizeof (float));
  vgg_context_free (ctx);
  return ok;
}

/* A model loaded from a file keeps no copy of its weights that its
 * precisions do not use: each precision's packing folds the convolutions'
 * weights anew from the file's tensors (converted first when they are
 * F16 or BF16), and converts the linear layers' weights only when the
 * file does not hold them in that type (a BF16 file's are used in place
 * in bf16).  The precision packed second, in a model that runs the other
 * already, gives bit for bit what it gives when packed first, and the two
 * differ. */
static void
test_second_precision_packed_from_the_file (void)
{
  static const struct
  {
    const char *name;
    VggConvertDType dtype; /* VGG_CONVERT_KEEP: the F32 file itself */
  } files[] = {
    { "bn.safetensors", VGG_CONVERT_KEEP },
    { "bn-f16.safetensors", VGG_CONVERT_F16 },
    { "bn-bf16.safetensors", VGG_CONVERT_BF16 },
  };
  char dir[] = "/tmp/test-model-fold-XXXXXX", paths[3][512];
  char error[VGG_ERROR_SIZE];
  const int n = 3, h = 37, w = 41;
  float input[3 * 3 * 37 * 41], got[2][2][30];

  random_input (input, sizeof input / sizeof *input, 5, 2);
  if (mkdtemp (dir) == NULL) {
    CHECK (0, "mkdtemp failed");
    return;
  }
  for (int file = 0; file < 3; file++) {
    const char *path = in_dir (paths[file], dir, files[file].name);
    VggConvertOptions options = { .dtype = files[file].dtype };
    if (file == 0)
      CHECK (write_bn_model (path, 31), "cannot write %s", path);
    else
      CHECK (vgg_model_convert (paths[0], path, &options, error) == VGG_OK,
          "%s", error);
    /* order 0: fp32 first, then bf16; order 1: bf16 first */
    for (int order = 0; order < 2; order++) {
      VggModel *model = NULL;
      int folded = 0, fp32 = 0, bf16 = 0;
      if (vgg_model_load (path, &model, error) != VGG_OK) {
        CHECK (0, "%s: %s", path, error);
        continue;
      }
      for (int k = 0; k < 2; k++) {
        VggPrecision p = (VggPrecision) (k ^ order);
        logits_of (model, p, input, n, h, w, got[order][p]);
        for (int i = 0; k == 0 && i < model->n_layers; i++) {
          fp32 += model->layers[i].owned_weight != NULL;
          bf16 += model->layers[i].owned_bf16 != NULL;
        }
      }
      for (int i = 0; i < model->n_layers; i++)
        folded += model->layers[i].packed != NULL;
      CHECK (folded == 0, "%s: %d convolutions keep their folded weights",
          path, folded);
      /* the copies the first precision made: none of the other type;
       * none at all for the file's own type */
      CHECK (order == 0 ? bf16 == 0 && (fp32 == 0) == (file == 0)
                        : fp32 == 0 && (bf16 == 0) == (file == 2),
          "%s, %s alone: %d float32 and %d bf16 copies of linear layers",
          path, order ? "bf16" : "fp32", fp32, bf16);
      vgg_model_unref (model);
    }
    for (int p = 0; p < 2; p++) {
      size_t i = first_difference (got[0][p], got[1][p], (size_t) n * 10);
      CHECK (i == (size_t) n * 10,
          "%s, %s: packed second gives logit %zu = %.9g, packed first %.9g",
          path, vgg_precision_to_string ((VggPrecision) p), i,
          got[0][p][i % (n * 10)], got[1][p][i % (n * 10)]);
    }
    CHECK (memcmp (got[0][0], got[0][1], sizeof got[0][0]) != 0,
        "%s: bf16 logits equal fp32's", path);
  }
  printf ("ok   the second precision packed from F32, F16 and BF16 files\n");
  for (int file = 0; file < 3; file++)
    unlink (paths[file]);
  rmdir (dir);
}

/* Model names are searched first in the caller's search path; without
 * one, in the engine's $VGG_MODEL_PATH (never the plugin's
 * $GST_VGG_MODEL_PATH); the error names which one it searched. */
static void
test_model_find_searches_the_callers_path (void)
{
  char env_dir[] = "/tmp/test-model-env-XXXXXX";
  char arg_dir[] = "/tmp/test-model-arg-XXXXXX";
  char custom[512], vgg11[512], says[600];
  FILE *f;

  if (mkdtemp (env_dir) == NULL || mkdtemp (arg_dir) == NULL) {
    CHECK (0, "mkdtemp failed");
    return;
  }
  /* empty regular files: vgg_model_find only looks */
  CHECK ((f = fopen (in_dir (custom, env_dir, "custom.pth"), "w")) != NULL,
      "cannot create %s", custom);
  if (f)
    fclose (f);
  CHECK (
      (f = fopen (in_dir (vgg11, arg_dir, "vgg11.safetensors"), "w")) != NULL,
      "cannot create %s", vgg11);
  if (f)
    fclose (f);
  /* no hub cache: torch's folder is an empty one */
  setenv ("TORCH_HOME", env_dir, 1);
  setenv ("VGG_MODEL_PATH", env_dir, 1);
  unsetenv ("GST_VGG_MODEL_PATH");

  expect_found ("vgg11", arg_dir, arg_dir, "vgg11.safetensors");
  expect_found ("custom", NULL, env_dir, "custom.pth");
  /* a search path replaces $VGG_MODEL_PATH, and the error says so */
  snprintf (says, sizeof says, "the search path (%s)", arg_dir);
  expect_not_found ("custom", arg_dir, says, "VGG_MODEL_PATH");
  expect_not_found ("custom", "", "the search path (empty)", NULL);
  /* NULL: $VGG_MODEL_PATH only; the plugin's variable is not read */
  unsetenv ("VGG_MODEL_PATH");
  setenv ("GST_VGG_MODEL_PATH", env_dir, 1);
  expect_not_found ("custom", NULL, "$VGG_MODEL_PATH (unset)", NULL);
  expect_not_found ("vgg13", NULL,
      "https://download.pytorch.org/models/vgg13-19584684.pth", NULL);
  printf ("ok   vgg_model_find: the caller's search path, else "
          "$VGG_MODEL_PATH\n");

  unsetenv ("GST_VGG_MODEL_PATH");
  unsetenv ("TORCH_HOME");
  unlink (custom);
  unlink (vgg11);
  rmdir (env_dir);
  rmdir (arg_dir);
}

int
main (void)
{
  test_published_counts ();
  test_forward ("vgg11", 3, 2, 32, 32);
  test_forward ("vgg13_bn", 2, 1, 67, 45);
  test_forward ("vgg16", 1, 3, 224, 224);
  test_forward ("vgg19_bn", 2, 2, 200, 256);
  for (int p = 0; p < 2; p++)
    for (int b = 1; b <= 3; b += 2) {
      test_nhwc_input_matches_nchw (
          "vgg11_bn", 41, (VggPrecision) p, b, 37, 45);
      test_nhwc_input_matches_nchw ("vgg13", 42, (VggPrecision) p, b, 64, 32);
    }
  test_batch_matches_images_alone ("vgg16", VGG_PRECISION_FP32, 3, 2, 224, 224);
  test_batch_matches_images_alone (
      "vgg13_bn", VGG_PRECISION_BF16, 4, 1, 97, 131);
  test_batch_matches_images_alone ("vgg11", VGG_PRECISION_FP32, 2, 3, 130, 71);
  test_bad_arguments ();
  test_contexts_in_threads ();
  test_second_precision_packed_from_the_file ();
  test_model_find_searches_the_callers_path ();
  printf ("model: %d passed, %d failed\n", checks - failures, failures);
  return failures ? 1 : 0;
}

/* Models and contexts through the public API: torchvision's published
 * parameter and multiply-accumulate counts for the eight architectures,
 * output sizes, argument errors, and no allocation inside a forward pass
 * (malloc, calloc and realloc are wrapped by the linker for this test). */
#include "vggcore/vggcore.h"

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures, checks;
static atomic_int allocations;

void *__real_malloc (size_t size);
void *__real_calloc (size_t n, size_t size);
void *__real_realloc (void *p, size_t size);
void *__wrap_malloc (size_t size);
void *__wrap_calloc (size_t n, size_t size);
void *__wrap_realloc (void *p, size_t size);

void *
__wrap_malloc (size_t size)
{
  atomic_fetch_add (&allocations, 1);
  return __real_malloc (size);
}

void *
__wrap_calloc (size_t n, size_t size)
{
  atomic_fetch_add (&allocations, 1);
  return __real_calloc (n, size);
}

void *
__wrap_realloc (void *p, size_t size)
{
  atomic_fetch_add (&allocations, 1);
  return __real_realloc (p, size);
}

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
  uint64_t seed = 99;

  for (size_t i = 0; i < count; i++) {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    input[i] = (float) ((seed >> 40) / (double) (1 << 24) - 0.5);
  }
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
  printf ("ok   forward %s/8 batch %d threads %d at %dx%d\n", arch, batch,
      threads, h, w);

out:
  vgg_context_free (ctx);
  free (input);
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

int
main (void)
{
  test_published_counts ();
  test_forward ("vgg11", 3, 2, 32, 32);
  test_forward ("vgg13_bn", 2, 1, 67, 45);
  test_forward ("vgg16", 1, 3, 224, 224);
  test_forward ("vgg19_bn", 2, 2, 200, 256);
  test_bad_arguments ();
  printf ("model: %d passed, %d failed\n", checks - failures, failures);
  return failures ? 1 : 0;
}

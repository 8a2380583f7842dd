/* VGG_PRECISION_BF16 passes through the AMX convolution (conv_amx), whole:
 * the model's packing, the contexts' padded buffers, the head that runs
 * image by image, the thread pool.  Run on the CPU's tiles where it has
 * them (the amx level) and, on every CPU, on the model of the tiles in
 * amx-model.h, put in the model's kernel table in place of the CPU's.
 *
 * On vgg11 at width / 4 (its convolutions with 32, 64 and 128 input
 * channels take the AMX kernel, the first two do not), batch 3 of 200x176
 * with 2 threads (the layer 32 -> 64 is in the head):
 *   - logits within BF16_RTOL of max|logit| of the fp32 pass, and of the
 *     bf16 pass without the AMX kernel (the same bound as
 *     tests/python/test_bf16.py: the two differ by the bf16 roundings a
 *     float32 ulp flips); fc7 cosine against fp32 >= 0.999;
 *   - each image of the batch as alone, bit for bit;
 *   - three contexts in three threads on one model, their pools made
 *     before any tile is used, each bit for bit as one context alone;
 *   - a context made fp32 and set to bf16 gives the bf16 context's logits
 *     bit for bit, with no allocation in its passes. */
#include "vgg-model-private.h"

#include "amx-model.h"
#define TEST_CHECK_COUNT_ALLOCATIONS
#include "test-check.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define H 200
#define W 176
#define N 3
#define BF16_RTOL 5e-2

static const VggKernels *tiles; /* the kernel table under test */
static const char *how;

/* vgg11 / 4 with 9 classes; with_tiles: on the table under test */
static VggModel *
make_model (int with_tiles)
{
  char error[VGG_ERROR_SIZE];
  VggModel *model = NULL;

  CHECK (vgg_model_new_random ("vgg11", 4, 9, 31, &model, error) == VGG_OK,
      "%s", error);
  if (model && with_tiles)
    model->kernels = tiles;
  return model;
}

/* one pass; copies the output out (n x dims floats, freed by the caller) */
static float *
run (VggContext *ctx, const float *input, int n, VggOutput output)
{
  int dims = 0;
  const float *out;
  float *copy;

  CHECK (vgg_context_forward (ctx, input, n, H, W) == VGG_OK, "%s: %s", how,
      vgg_context_get_error (ctx));
  out = vgg_context_get_output (ctx, output, &dims);
  copy = calloc ((size_t) n * (dims > 0 ? dims : 1), sizeof (float));
  if (out)
    memcpy (copy, out, (size_t) n * dims * sizeof (float));
  return copy;
}

static VggContext *
new_context (VggModel *model, int batch, int threads, VggPrecision p)
{
  char error[VGG_ERROR_SIZE];
  VggContext *ctx = NULL;

  CHECK (vgg_context_new_with_precision (model, batch, threads, p, &ctx, error)
          == VGG_OK,
      "%s: %s", how, error);
  return ctx;
}

static double
rel_diff (const float *a, const float *b, size_t count)
{
  double d = 0, m = 0;
  for (size_t i = 0; i < count; i++) {
    d = fmax (d, fabs ((double) a[i] - b[i]));
    m = fmax (m, fabs ((double) b[i]));
  }
  return m > 0 ? d / m : INFINITY;
}

static void
test_accuracy_and_batch (const float *input)
{
  VggModel *model = make_model (1), *plain = make_model (0);
  VggContext *bf = new_context (model, N, 2, VGG_PRECISION_BF16);
  VggContext *fp = new_context (plain, N, 2, VGG_PRECISION_FP32);
  VggContext *no_tiles = new_context (plain, N, 2, VGG_PRECISION_BF16);
  const int classes = 9, image = 3 * H * W;
  int calls = emu_calls, amx_layers = 0, fc7 = 1024;
  float *got, *ref, *other, *got7, *ref7;
  double rel, rel_other, cos = 1;

  if (!bf || !fp || !no_tiles)
    goto out;
  for (int i = 0; i < model->n_layers; i++)
    amx_layers += model->layers[i].amx != NULL;
  CHECK (amx_layers == 6, "%s: %d layers packed for the AMX kernel, want 6",
      how, amx_layers);
  got = run (bf, input, N, VGG_OUTPUT_LOGITS);
  got7 = run (bf, input, N, VGG_OUTPUT_FC7);
  ref = run (fp, input, N, VGG_OUTPUT_LOGITS);
  ref7 = run (fp, input, N, VGG_OUTPUT_FC7);
  other = run (no_tiles, input, N, VGG_OUTPUT_LOGITS);
  rel = rel_diff (got, ref, (size_t) N * classes);
  rel_other = rel_diff (got, other, (size_t) N * classes);
  for (int b = 0; b < N; b++) {
    double ab = 0, aa = 0, bb = 0;
    for (int j = 0; j < fc7; j++) {
      double x = got7[b * fc7 + j], y = ref7[b * fc7 + j];
      ab += x * y, aa += x * x, bb += y * y;
    }
    cos = fmin (cos, ab / (sqrt (aa * bb) + 1e-30));
  }
  CHECK (
      rel <= BF16_RTOL && rel >= 1e-4 && rel_other <= BF16_RTOL && cos >= 0.999,
      "%s: logits vs fp32 %.3g, vs bf16 without the AMX kernel %.3g "
      "(want 1e-4 <= both <= %g, the first), fc7 cosine %.6f",
      how, rel, rel_other, BF16_RTOL, cos);
  printf ("ok   %s: logits vs fp32 %.3g, vs bf16 without the AMX kernel "
          "%.3g, fc7 cosine %.6f\n",
      how, rel, rel_other, cos);
  if (tiles->conv_amx == conv_amx_emulated)
    CHECK (emu_calls > calls, "%s: the tile model was never called", how);

  for (int b = 0; b < N; b++) {
    float *alone = run (bf, input + (size_t) b * image, 1, VGG_OUTPUT_LOGITS);
    size_t at = first_difference (alone, got + b * classes, classes);
    CHECK (at == (size_t) classes,
        "%s: image %d of %d, logit %zu: %.9g alone, %.9g in the batch", how, b,
        N, at, at < (size_t) classes ? alone[at] : 0.0,
        at < (size_t) classes ? got[b * classes + at] : 0.0);
    free (alone);
  }
  printf ("ok   %s: each image of a batch of %d as alone\n", how, N);
  free (got), free (got7), free (ref), free (ref7), free (other);

out:
  vgg_context_free (bf);
  vgg_context_free (fp);
  vgg_context_free (no_tiles);
  vgg_model_unref (model);
  vgg_model_unref (plain);
}

typedef struct
{
  VggContext *ctx;
  const float *input;
  VggStatus status;
  float logits[9];
} ThreadJob;

/* one pass in a thread of its own (the checks are the main thread's) */
static void *
thread_pass (void *data)
{
  ThreadJob *job = data;
  job->status = vgg_context_forward (job->ctx, job->input, 1, H, W);
  if (job->status == VGG_OK)
    memcpy (job->logits,
        vgg_context_get_output (job->ctx, VGG_OUTPUT_LOGITS, NULL),
        sizeof job->logits);
  return NULL;
}

static void
test_threads_and_precision_switch (const float *input)
{
  VggModel *model = make_model (1);
  VggContext *ctxs[3] = { NULL, NULL, NULL }, *fp_first = NULL;
  ThreadJob jobs[3];
  pthread_t threads[3];
  float *want = NULL, *switched = NULL;
  int before, during;

  if (!model)
    return;
  /* every pool's threads exist before the first tile is used */
  for (int t = 0; t < 3; t++)
    ctxs[t] = new_context (model, 1, t + 1, VGG_PRECISION_BF16);
  fp_first = new_context (model, 1, 2, VGG_PRECISION_FP32);
  if (!ctxs[0] || !ctxs[1] || !ctxs[2] || !fp_first)
    goto out;
  for (int t = 0; t < 3; t++) {
    jobs[t] = (ThreadJob){ ctxs[t], input, VGG_OK, { 0 } };
    pthread_create (&threads[t], NULL, thread_pass, &jobs[t]);
  }
  for (int t = 0; t < 3; t++)
    pthread_join (threads[t], NULL);
  want = run (ctxs[0], input, 1, VGG_OUTPUT_LOGITS);
  for (int t = 0; t < 3; t++) {
    size_t at = first_difference (jobs[t].logits, want, 9);
    CHECK (jobs[t].status == VGG_OK && at == 9,
        "%s: context of %d threads in a thread: %s, logit %zu differs", how,
        t + 1, vgg_context_get_error (ctxs[t]), at);
  }
  printf ("ok   %s: 3 contexts of 1, 2 and 3 threads in 3 threads, each as "
          "alone\n",
      how);

  CHECK (vgg_context_set_precision (fp_first, VGG_PRECISION_BF16) == VGG_OK,
      "%s: %s", how, vgg_context_get_error (fp_first));
  before = atomic_load (&allocations);
  CHECK (vgg_context_forward (fp_first, input, 1, H, W) == VGG_OK, "%s: %s",
      how, vgg_context_get_error (fp_first));
  during = atomic_load (&allocations) - before;
  switched = run (fp_first, input, 1, VGG_OUTPUT_LOGITS);
  CHECK (during == 0 && first_difference (switched, want, 9) == 9,
      "%s: fp32 context set to bf16: %d allocations in a pass, logits %s", how,
      during, first_difference (switched, want, 9) == 9 ? "equal" : "differ");
  printf ("ok   %s: an fp32 context set to bf16, as one made bf16\n", how);

out:
  free (want);
  free (switched);
  for (int t = 0; t < 3; t++)
    vgg_context_free (ctxs[t]);
  vgg_context_free (fp_first);
  vgg_model_unref (model);
}

int
main (void)
{
  float *input = malloc ((size_t) N * 3 * H * W * sizeof (float));
  VggKernels modelled = *vgg_kernels_get ();

  random_input (input, (size_t) N * 3 * H * W, 4242, 2);
  printf ("cpu: %s; level %s\n", vgg_cpu_get_name (),
      vgg_isa_to_string (vgg_isa_get ()));
  if (vgg_kernels_get ()->conv_amx && vgg_amx_permitted ()) {
    tiles = vgg_kernels_get ();
    how = "amx, the CPU's tiles";
    test_accuracy_and_batch (input);
    test_threads_and_precision_switch (input);
  } else {
    printf ("amx: not on this CPU (or capped by VGG_ISA, or Linux refused "
            "the tiles); the CPU's tiles not run\n");
  }
  modelled.conv_amx = conv_amx_emulated;
  tiles = &modelled;
  how = "amx, tiles modelled in C";
  test_accuracy_and_batch (input);
  test_threads_and_precision_switch (input);
  CHECK (emu_faults == 0, "%d tile faults in the model", emu_faults);

  free (input);
  printf ("amx: %d passed, %d failed\n", checks - failures, failures);
  return failures ? 1 : 0;
}

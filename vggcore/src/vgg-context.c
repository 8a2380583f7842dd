/* Contexts: the scratch memory and the thread pool of forward passes. */
#include "vgg-model-private.h"
#include "vgg-layers-private.h"
#include "vgg-error-private.h"
#include "vgg-context-private.h"

#include <cblas.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct VggContext
{
  VggModel *model;
  VggPool *pool;
  int threads;
  int max_batch;
  VggPrecision precision;

  size_t act_floats;  /* capacity of each activation buffer */
  float *act[2];      /* ping-pong NHWC activations, (n, h, w, c) */
  size_t head_floats; /* capacity of each head buffer */
  float *head[2];     /* ping-pong activations of one image in the head */
  size_t pad_floats;  /* capacity of pad */
  float *pad;         /* the zero-padded input of a direct convolution */
  float *scratch;     /* Winograd tiles: threads slices, or one piece */
  float *zeros;       /* the widest layer's input channels, zero */
  float *pool5;       /* (max_batch, pool5 dims), torch's flatten order */
  float **linear_out; /* per layer index: (max_batch, out) for linear
                         layers, NULL for the others */
  float *probs;       /* (max_batch, classes) */
  vgg_bf16 *in_bf16;  /* (max_batch, widest linear input), bf16 precision */
  int n;              /* images in the last forward pass; 0 before */

  /* the layers of the last pass whose outputs are what a full pass
   * leaves (indices below n_complete): a pass stopped at a point ends
   * early, perhaps before its last layer's ReLU */
  int n_complete;
  /* layers computed since creation: a deterministic count for tests */
  uint64_t layers_run;
  /* the map the last pass ended on, (n, map_h, map_w, map_c) NHWC, and
   * the ping-pong buffer it did not end in, free to hold its pooling */
  const float *map;
  float *spare;
  int map_c, map_h, map_w;

  int profiling;
  double *layer_ms; /* per layer, when profiling */

  char error[VGG_ERROR_SIZE];
};

/* h, w and c of the map out of layers from..to-1, given those of their
 * input */
static void
map_dims (const VggModel *model, int from, int to, int *h, int *w, int *c)
{
  for (int i = from; i < to; i++) {
    const VggLayerInfo *info = &model->layers[i].info;
    if (info->kind == VGG_LAYER_CONV3X3) {
      *c = info->out_channels;
    } else if (info->kind == VGG_LAYER_MAXPOOL) {
      *h /= 2;
      *w /= 2;
    }
  }
}

/* The head of a pass: its first layers, whose maps are large enough that
 * one image keeps every thread busy, run image by image, so that only the
 * ping-pong buffers of one image hold their outputs; the rest of the pass
 * runs on the whole batch.  A layer is in the head while a batch has more
 * than one image and its input gives at least HEAD_TILES_PER_THREAD
 * Winograd tiles (4x4 outputs) per thread: the 224x224, 112x112 and 56x56
 * maps of a 224x224 VGG with two threads.  VGG16 at batch 8, 2 threads
 * (AMD Zen 4): activations 51 MB instead of 206 MB, peak RSS 840 MB
 * instead of 993 MB in fp32, the same speed within the noise (thresholds
 * 64, 128 and no head interleaved over 3 rounds: 455/492/474, 434/493/472
 * and 451/491/495 ms per batch).  Returns the number of layers of 0..last
 * in the head. */
#define HEAD_TILES_PER_THREAD 64

static int
head_layers (const VggModel *model, int n, int h, int w, int last, int threads)
{
  int i;

  if (n < 2)
    return 0;
  for (i = 0; i <= last; i++) {
    const VggLayerInfo *info = &model->layers[i].info;
    if (info->kind == VGG_LAYER_MAXPOOL) {
      h /= 2;
      w /= 2;
    } else if (info->kind != VGG_LAYER_CONV3X3
        || (size_t) ((h + 3) / 4) * ((w + 3) / 4)
            < (size_t) threads * HEAD_TILES_PER_THREAD) {
      break;
    }
  }
  return i;
}

/* The activation memory of a pass in precision p over n images of h x w
 * through layers 0..last whose first n_head layers run image by image, in
 * floats: each batch buffer (*act: the input, the head's last output and
 * every later layer's, n images each), each head buffer (*head: one image)
 * and the padded input of a direct or AMX convolution (*pad).  Returns 0
 * when the pools would shrink the image to nothing. */
static int
activation_floats (const VggModel *model, VggPrecision p, int n, int h, int w,
    int last, int n_head, size_t *act, size_t *head, size_t *pad)
{
  int c = 3;

  *act = (size_t) n * h * w * c;
  *head = 0;
  *pad = 0;
  for (int i = 0; i <= last; i++) {
    const VggLayerInfo *info = &model->layers[i].info;
    size_t size;
    if (info->kind != VGG_LAYER_CONV3X3 && info->kind != VGG_LAYER_MAXPOOL)
      continue;
    if (info->kind == VGG_LAYER_CONV3X3) {
      /* the images this layer runs on at once */
      int images = i < n_head ? 1 : n;
      size_t floats = 0;
      if (p == VGG_PRECISION_BF16 && model->layers[i].amx)
        floats = vgg_conv3x3_amx_padded_floats (images, h, w, c);
      else if (!vgg_winograd_supported (c, info->out_channels))
        floats = vgg_conv3x3_padded_floats (images, h, w, c);
      if (floats > *pad)
        *pad = floats;
    }
    map_dims (model, i, i + 1, &h, &w, &c);
    if (h == 0 || w == 0)
      return 0;
    size = (size_t) h * w * c;
    /* the head's last layer writes its image into the batch buffer */
    if (i < n_head - 1 && size > *head)
      *head = size;
    if (i >= n_head - 1 && n * size > *act)
      *act = n * size;
  }
  return 1;
}

/* n buffers of capacity floats each, made at least floats; their contents
 * go (they hold one pass's data).  Aligned to a cache line, where the AMX
 * convolution's 64-byte tile rows then fall whole. */
static int
grow (float **buffers, int n, size_t *capacity, size_t floats)
{
  if (floats <= *capacity)
    return 1;
  for (int i = 0; i < n; i++) {
    void *p;
    if (posix_memalign (&p, 64, floats * sizeof (float)) != 0)
      return 0;
    free (buffers[i]);
    buffers[i] = p;
  }
  *capacity = floats;
  return 1;
}

static int
grow_activations (VggContext *ctx, size_t act, size_t head, size_t pad)
{
  return grow (ctx->act, 2, &ctx->act_floats, act)
      && grow (ctx->head, 2, &ctx->head_floats, head)
      && grow (&ctx->pad, 1, &ctx->pad_floats, pad);
}

/* The buffers grown for a pass in the context's precision at the model's
 * own input size (a pass on a larger one grows them), for a full batch and
 * for one image, which has no head. */
static int
grow_for_model (VggContext *ctx)
{
  const VggModel *model = ctx->model;
  size_t act = 0, head = 0, pad = 0;
  const int n_max = ctx->max_batch;

  for (int n = 1; n <= n_max; n += n_max > 1 ? n_max - 1 : 1) {
    int h = model->input_height, w = model->input_width,
        last = model->n_layers - 1;
    size_t a, hd, pd;
    activation_floats (model, ctx->precision, n, h, w, last,
        head_layers (model, n, h, w, last, ctx->threads), &a, &hd, &pd);
    act = a > act ? a : act;
    head = hd > head ? hd : head;
    pad = pd > pad ? pd : pad;
  }
  return grow_activations (ctx, act, head, pad);
}

VggStatus
vgg_context_new (VggModel *model, int max_batch, int threads, VggContext **out,
    char error[VGG_ERROR_SIZE])
{
  return vgg_context_new_with_precision (
      model, max_batch, threads, VGG_PRECISION_FP32, out, error);
}

static pthread_once_t blas_once = PTHREAD_ONCE_INIT;

static void
blas_single_thread (void)
{
  openblas_set_num_threads (1);
}

VggStatus
vgg_context_new_with_precision (VggModel *model, int max_batch, int threads,
    VggPrecision precision, VggContext **out, char error[VGG_ERROR_SIZE])
{
  VggContext *ctx;
  int classes, max_channels = 3, winograd = 0, max_linear = 0;

  *out = NULL;
  if (error)
    error[0] = '\0';
  if (model == NULL || max_batch < 1 || max_batch > 4096) {
    return vgg_set_error (error, VGG_ERROR_INVALID, NULL,
        "batch size %d is outside 1..4096", max_batch);
  }
  if (threads <= 0)
    threads = (int) sysconf (_SC_NPROCESSORS_ONLN);
  if (threads < 1)
    threads = 1;
  if (threads > 256)
    threads = 256;

  if (vgg_precision_to_string (precision) == NULL) {
    return vgg_set_error (error, VGG_ERROR_INVALID, NULL,
        "unknown precision %d", (int) precision);
  }
  if (vgg_model_prepare (model, precision, error) != VGG_OK)
    return VGG_ERROR_NOMEM;
  ctx = calloc (1, sizeof *ctx);
  if (ctx == NULL)
    goto nomem;
  ctx->model = vgg_model_ref (model);
  ctx->precision = precision;
  ctx->max_batch = max_batch;
  ctx->threads = threads;
  classes = model->n_classes;

  /* Our pool is the only parallelism: each OpenBLAS call (the generic
   * level's GEMMs, the only ones) runs on the thread that makes it.  Said
   * once, and only at that level: the setting is the whole process's. */
  if (model->kernels->isa == VGG_ISA_GENERIC)
    pthread_once (&blas_once, blas_single_thread);
  ctx->pool = vgg_pool_new (threads);
  ctx->linear_out = calloc (model->n_layers, sizeof (float *));
  ctx->pool5 = malloc ((size_t) max_batch * model->pool5_dims * sizeof (float));
  ctx->probs = malloc ((size_t) max_batch * classes * sizeof (float));
  ctx->layer_ms = calloc (model->n_layers, sizeof (double));
  if (!ctx->pool || !ctx->linear_out || !ctx->pool5 || !ctx->probs
      || !ctx->layer_ms)
    goto nomem;
  for (int i = 0; i < model->n_layers; i++) {
    const VggLayerInfo *info = &model->layers[i].info;
    if (info->kind == VGG_LAYER_LINEAR) {
      ctx->linear_out[i] =
          malloc ((size_t) max_batch * info->out_channels * sizeof (float));
      if (ctx->linear_out[i] == NULL)
        goto nomem;
      if (info->in_channels > max_linear)
        max_linear = info->in_channels;
    } else if (info->kind == VGG_LAYER_CONV3X3) {
      if (vgg_winograd_supported (info->in_channels, info->out_channels))
        winograd = 1;
      if (info->in_channels > max_channels)
        max_channels = info->in_channels;
    }
  }
  if (winograd
      && (ctx->scratch = malloc (
              vgg_winograd_scratch_floats (threads) * sizeof (float)))
          == NULL)
    goto nomem;
  if ((ctx->zeros = calloc (max_channels, sizeof (float))) == NULL)
    goto nomem;
  if ((ctx->in_bf16 = malloc ((size_t) max_batch * (max_linear ? max_linear : 1)
           * sizeof (vgg_bf16)))
      == NULL)
    goto nomem;
  if (!grow_for_model (ctx))
    goto nomem;
  *out = ctx;
  return VGG_OK;

nomem:
  vgg_set_error (error, VGG_ERROR_NOMEM, NULL,
      "out of memory for a context of batch %d and %d threads", max_batch,
      threads);
  vgg_context_free (ctx);
  return VGG_ERROR_NOMEM;
}

void
vgg_context_free (VggContext *ctx)
{
  if (ctx == NULL)
    return;
  vgg_pool_free (ctx->pool);
  free (ctx->scratch);
  free (ctx->pad);
  free (ctx->in_bf16);
  free (ctx->zeros);
  for (int i = 0; ctx->linear_out && i < ctx->model->n_layers; i++)
    free (ctx->linear_out[i]);
  free (ctx->linear_out);
  for (int i = 0; i < 2; i++) {
    free (ctx->act[i]);
    free (ctx->head[i]);
  }
  free (ctx->pool5);
  free (ctx->probs);
  free (ctx->layer_ms);
  vgg_model_unref (ctx->model);
  free (ctx);
}

VggModel *
vgg_context_get_model (const VggContext *ctx)
{
  return ctx->model;
}

int
vgg_context_get_threads (const VggContext *ctx)
{
  return ctx->threads;
}

int
vgg_context_get_max_batch (const VggContext *ctx)
{
  return ctx->max_batch;
}

VggStatus
vgg_context_set_precision (VggContext *ctx, VggPrecision precision)
{
  VggPrecision previous;
  VggStatus status;

  ctx->error[0] = '\0';
  if (vgg_precision_to_string (precision) == NULL)
    return vgg_set_error (ctx->error, VGG_ERROR_INVALID, NULL,
        "unknown precision %d", (int) precision);
  status = vgg_model_prepare (ctx->model, precision, ctx->error);
  if (status != VGG_OK)
    return status;
  /* the buffers are sized for the context's precision: refused, it
   * keeps the old one */
  previous = ctx->precision;
  ctx->precision = precision;
  if (!grow_for_model (ctx)) {
    ctx->precision = previous;
    return vgg_set_error (ctx->error, VGG_ERROR_NOMEM, NULL,
        "out of memory for the buffers of %s precision",
        vgg_precision_to_string (precision));
  }
  return VGG_OK;
}

VggPrecision
vgg_context_get_precision (const VggContext *ctx)
{
  return ctx->precision;
}

void
vgg_context_set_profiling (VggContext *ctx, int enable)
{
  ctx->profiling = enable;
}

double
vgg_context_get_layer_ms (const VggContext *ctx, int index)
{
  if (index < 0 || index >= ctx->model->n_layers)
    return 0;
  return ctx->layer_ms[index];
}

static double
now_ms (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

const char *
vgg_context_get_error (const VggContext *ctx)
{
  return ctx->error;
}

/* The memory order of a forward pass's input. */
typedef enum
{
  INPUT_NCHW, /* (n, 3, h, w), planar: transposed into act[0] */
  INPUT_NHWC  /* (n, h, w, 3), the engine's own order: read in place */
} InputLayout;

/* Runs map layer i (a convolution or a max pool) on n images (n, h, w, c)
 * at src into dst, and updates h, w and c to its output's. */
static void
run_map_layer (VggContext *ctx, int i, int relu, const float *src, float *dst,
    int n, int *h, int *w, int *c)
{
  const VggLayer *layer = &ctx->model->layers[i];
  const VggKernels *k = ctx->model->kernels;
  const VggPrecision p = ctx->precision;
  /* bf16: every conv rounds its output, the next layer's input */
  int flags =
      (relu ? VGG_OUT_RELU : 0) | (p == VGG_PRECISION_BF16 ? VGG_OUT_BF16 : 0);

  if (layer->info.kind == VGG_LAYER_CONV3X3) {
    if (p == VGG_PRECISION_BF16 && layer->amx)
      vgg_conv3x3_amx (k, ctx->pool, ctx->pad, src, layer->amx, layer->bias,
          dst, n, *h, *w, *c, layer->info.out_channels, flags);
    else if (layer->winograd[p])
      vgg_conv3x3_winograd (k, ctx->pool, ctx->scratch, ctx->zeros, src,
          layer->winograd[p], layer->wino_r, layer->bias, dst, n, *h, *w, *c,
          layer->info.out_channels, flags);
    else
      vgg_conv3x3_direct (k, ctx->pool, ctx->pad, src, layer->panels[p],
          layer->bias, dst, n, *h, *w, *c, layer->info.out_channels, flags);
    *c = layer->info.out_channels;
  } else {
    vgg_maxpool2x2_nhwc (ctx->pool, src, dst, n, *h, *w, *c);
    *h /= 2;
    *w /= 2;
  }
}

/* Runs layers 0..last; last_relu < 0 keeps the last layer's own ReLU, 0
 * or 1 overrides it.  The softmax runs only when last is the last layer.
 * Leaves the final map in ctx->map (conv stage) and sets n_complete. */
static VggStatus
context_forward (VggContext *ctx, const float *input, InputLayout layout, int n,
    int height, int width, int last, int last_relu)
{
  const VggModel *model = ctx->model;
  const VggKernels *k = model->kernels;
  const VggPrecision p = ctx->precision;
  const int n_head = head_layers (model, n, height, width, last, ctx->threads);
  size_t need, head, pad, head_out;
  const float *x = NULL;
  /* the input of the next layer, (n, h, w, c): act[cur], or the caller's
   * NHWC input itself before the first layer */
  const float *src;
  int cur = 0, c = 3, h = height, w = width;
  double t = 0;

  ctx->error[0] = '\0';
  ctx->n = 0;
  ctx->n_complete = 0;
  ctx->map = NULL;
  if (input == NULL || n < 1 || n > ctx->max_batch)
    return vgg_set_error (ctx->error, VGG_ERROR_INVALID, NULL,
        "batch of %d images for a "
        "context of at most %d",
        n, ctx->max_batch);
  if (height < 32 || width < 32 || height > 16384 || width > 16384)
    return vgg_set_error (ctx->error, VGG_ERROR_INVALID, NULL,
        "input %dx%d: width and "
        "height must be between 32 and 16384",
        width, height);
  if (!activation_floats (
          model, p, n, height, width, last, n_head, &need, &head, &pad))
    return vgg_set_error (ctx->error, VGG_ERROR_INVALID, NULL,
        "input %dx%d is too small "
        "for the pools of %s",
        width, height, vgg_model_get_name (model));
  /* the one allocation a forward pass may make: a larger input than any
   * before */
  if (!grow_activations (ctx, need, head, pad))
    return vgg_set_error (ctx->error, VGG_ERROR_NOMEM, NULL,
        "out of memory for "
        "%d images of %dx%d",
        n, width, height);

  if (ctx->profiling) {
    memset (ctx->layer_ms, 0, model->n_layers * sizeof (double));
    t = now_ms ();
  }
  src = ctx->act[0];
  if (layout == INPUT_NCHW)
    vgg_nchw_to_nhwc (ctx->pool, input, ctx->act[0], n, 3, h, w);
  else if (p == VGG_PRECISION_BF16) /* rounded below, in our copy */
    memcpy (ctx->act[0], input, (size_t) n * h * w * 3 * sizeof (float));
  else
    src = input;
  if (p == VGG_PRECISION_BF16)
    vgg_round_bf16 (ctx->act[0], (size_t) n * h * w * 3);

  /* the head, image by image: its last layer writes each image's map into
   * act[1], where the batch continues */
  map_dims (model, 0, n_head, &h, &w, &c);
  head_out = (size_t) h * w * c;
  for (int j = 0; j < n && n_head > 0; j++) {
    const float *in = src + (size_t) j * height * width * 3;
    h = height;
    w = width;
    c = 3;
    for (int i = 0; i < n_head; i++) {
      int relu =
          i == last && last_relu >= 0 ? last_relu : model->layers[i].info.relu;
      float *dst =
          i == n_head - 1 ? ctx->act[1] + j * head_out : ctx->head[i % 2];
      /* the input's conversion counts in the first layer, as below */
      double t0 = ctx->profiling && (i > 0 || j > 0) ? now_ms () : t;
      run_map_layer (ctx, i, relu, in, dst, 1, &h, &w, &c);
      in = dst;
      if (ctx->profiling)
        ctx->layer_ms[i] += now_ms () - t0;
    }
  }
  if (n_head > 0) {
    ctx->layers_run += n_head;
    cur = 1;
    src = ctx->act[1];
    if (ctx->profiling)
      t = now_ms ();
  }

  for (int i = n_head; i <= last; i++) {
    const VggLayer *layer = &model->layers[i];
    const VggLayerInfo *info = &layer->info;
    /* the fused ReLU of conv and linear kernels, skipped for a point read
     * before it */
    const int relu = i == last && last_relu >= 0 ? last_relu : info->relu;
    switch (info->kind) {
      case VGG_LAYER_CONV3X3:
      case VGG_LAYER_MAXPOOL:
        run_map_layer (ctx, i, relu, src, ctx->act[!cur], n, &h, &w, &c);
        cur = !cur;
        src = ctx->act[cur];
        break;
      case VGG_LAYER_AVGPOOL:
        vgg_avgpool7_nhwc (ctx->pool, src, ctx->pool5, n, h, w, c);
        x = ctx->pool5;
        break;
      case VGG_LAYER_LINEAR:
        if (p == VGG_PRECISION_BF16)
          vgg_linear_bf16 (k, ctx->pool, x, ctx->in_bf16, layer->weight_bf16,
              layer->lin_bias, ctx->linear_out[i], n, info->in_channels,
              info->out_channels, relu);
        else
          vgg_linear (k, ctx->pool, x, layer->weight, layer->lin_bias,
              ctx->linear_out[i], n, info->in_channels, info->out_channels,
              relu);
        x = ctx->linear_out[i];
        break;
    }
    ctx->layers_run++;
    if (ctx->profiling && i + 1 < model->n_layers) {
      double t1 = now_ms ();
      ctx->layer_ms[i] = t1 - t;
      t = t1;
    }
  }
  if (last == model->n_layers - 1)
    vgg_softmax (x, ctx->probs, n, model->n_classes);
  if (ctx->profiling && last == model->n_layers - 1)
    ctx->layer_ms[last] = now_ms () - t;
  ctx->map = src;
  ctx->spare = ctx->act[!cur];
  ctx->map_c = c;
  ctx->map_h = h;
  ctx->map_w = w;
  /* a layer whose ReLU was overridden is not the output a full pass
   * leaves: vgg_context_get_output must not offer it */
  ctx->n_complete = last_relu >= 0 && last_relu != model->layers[last].info.relu
      ? last
      : last + 1;
  ctx->n = n;
  return VGG_OK;
}

VggStatus
vgg_context_forward (
    VggContext *ctx, const float *input, int n, int height, int width)
{
  return context_forward (
      ctx, input, INPUT_NCHW, n, height, width, ctx->model->n_layers - 1, -1);
}

VggStatus
vgg_context_forward_nhwc (
    VggContext *ctx, const float *input, int n, int height, int width)
{
  return context_forward (
      ctx, input, INPUT_NHWC, n, height, width, ctx->model->n_layers - 1, -1);
}

const float *
vgg_context_get_output (VggContext *ctx, VggOutput output, int *dims)
{
  const VggModel *model = ctx->model;
  int d = vgg_model_get_output_dims (model, output);
  int layer = vgg_model_output_layer (model, output);
  const float *data = NULL;

  /* after a pass stopped at a point, only what it computed in full */
  if (ctx->n > 0 && d > 0 && layer >= 0 && layer < ctx->n_complete
      && (output != VGG_OUTPUT_PROBS || ctx->n_complete == model->n_layers)) {
    switch (output) {
      case VGG_OUTPUT_POOL5:
        data = ctx->pool5;
        break;
      case VGG_OUTPUT_FC6:
      case VGG_OUTPUT_FC7:
      case VGG_OUTPUT_LOGITS:
        data = ctx->linear_out[layer];
        break;
      case VGG_OUTPUT_PROBS:
        data = ctx->probs;
        break;
    }
  }
  if (dims)
    *dims = data ? d : 0;
  return data;
}

static VggStatus
context_forward_point (VggContext *ctx, const float *input, InputLayout layout,
    int n, int height, int width, const VggPoint *point, VggPooling pooling,
    const float **out, int *dims)
{
  const VggModel *model = ctx->model;
  const VggLayerInfo *info;
  int last, relu, d;
  VggStatus status;
  double t = 0;

  if (out)
    *out = NULL;
  if (dims)
    *dims = 0;
  ctx->error[0] = '\0';
  if (point == NULL || out == NULL)
    return vgg_set_error (ctx->error, VGG_ERROR_INVALID, NULL,
        "vgg_context_forward_point: NULL point or out");
  if (point->spatial && vgg_pooling_to_string (pooling) == NULL)
    return vgg_set_error (ctx->error, VGG_ERROR_INVALID, NULL,
        "unknown pooling %d", (int) pooling);
  /* an output point is taken by its output alone; a conv-stage one must
   * name a convolution (either side of its ReLU) or a max pool */
  if (point->output >= 0) {
    if (vgg_output_to_string (point->output) == NULL
        || (last = vgg_model_output_layer (model, point->output)) < 0)
      return vgg_set_error (ctx->error, VGG_ERROR_INVALID, NULL,
          "point \"%s\": %s has no output %d", point->name,
          vgg_model_get_name (model), point->output);
    relu = -1;
  } else {
    last = point->layer;
    info = vgg_model_get_layer (model, last);
    if (info == NULL
        || !(info->kind == VGG_LAYER_CONV3X3
            || (info->kind == VGG_LAYER_MAXPOOL && point->relu == 0))
        || (point->relu != 0 && point->relu != 1) || !point->spatial)
      return vgg_set_error (ctx->error, VGG_ERROR_INVALID, NULL,
          "point \"%s\" (layer %d, relu %d) is not a point of %s: "
          "use vgg_model_find_point",
          point->name, point->layer, point->relu, vgg_model_get_name (model));
    relu = point->relu;
  }
  status = context_forward (ctx, input, layout, n, height, width, last, relu);
  if (status != VGG_OK)
    return status;
  if (vgg_model_get_point_dims (model, point, pooling, width, height) == 0) {
    ctx->n = 0;
    return vgg_set_error (ctx->error, VGG_ERROR_INVALID, NULL,
        "point \"%s\" at %dx%d: a row of more than INT_MAX floats", point->name,
        width, height);
  }
  if (ctx->profiling)
    t = now_ms ();

  if (point->output >= 0 && point->output != VGG_OUTPUT_POOL5) {
    *out = vgg_context_get_output (ctx, point->output, &d);
  } else if (point->output == VGG_OUTPUT_POOL5) {
    /* ctx->pool5 is (n, c, 7, 7) already, channels first */
    int c = model->pool5_dims / (VGG_POOL_OUT * VGG_POOL_OUT);
    if (pooling == VGG_POOLING_NONE) {
      *out = ctx->pool5;
      d = model->pool5_dims;
    } else {
      vgg_global_pool (ctx->pool, ctx->pool5, ctx->spare, n,
          VGG_POOL_OUT * VGG_POOL_OUT, c, 0, pooling == VGG_POOLING_MAX);
      *out = ctx->spare;
      d = c;
    }
  } else {
    /* the map is (n, h, w, c) in a batch buffer; the other one, as large,
     * takes the result */
    int c = ctx->map_c, hw = ctx->map_h * ctx->map_w;
    if (pooling == VGG_POOLING_NONE) {
      /* (n, hw, c) -> (n, c, hw): nchw_to_nhwc's transposition of
       * (n, hw, c, 1) */
      vgg_nchw_to_nhwc (ctx->pool, ctx->map, ctx->spare, n, hw, c, 1);
      d = c * hw;
    } else {
      vgg_global_pool (ctx->pool, ctx->map, ctx->spare, n, hw, c, 1,
          pooling == VGG_POOLING_MAX);
      d = c;
    }
    *out = ctx->spare;
  }
  if (ctx->profiling)
    ctx->layer_ms[last] += now_ms () - t;
  if (dims)
    *dims = d;
  return VGG_OK;
}

VggStatus
vgg_context_forward_point (VggContext *ctx, const float *input, int n,
    int height, int width, const VggPoint *point, VggPooling pooling,
    const float **out, int *dims)
{
  return context_forward_point (
      ctx, input, INPUT_NCHW, n, height, width, point, pooling, out, dims);
}

VggStatus
vgg_context_forward_point_nhwc (VggContext *ctx, const float *input, int n,
    int height, int width, const VggPoint *point, VggPooling pooling,
    const float **out, int *dims)
{
  return context_forward_point (
      ctx, input, INPUT_NHWC, n, height, width, point, pooling, out, dims);
}

uint64_t
vgg_context_get_layers_run (const VggContext *ctx)
{
  return ctx->layers_run;
}

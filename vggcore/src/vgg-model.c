/* Models: inferring a VGG architecture from a file's tensor names and
 * shapes, folding and packing its weights, and the public queries. */
#include "vgg-model-private.h"
#include "vgg-layers-private.h"
#include "vgg-error-private.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static const float imagenet_mean[3] = { 0.485f, 0.456f, 0.406f };
static const float imagenet_std[3] = { 0.229f, 0.224f, 0.225f };

#define P VGG_CFG_POOL
static const struct
{
  const char *name;
  int cfg[21];
  int len;
} torchvision_configs[] = {
  { "vgg11", { 64, P, 128, P, 256, 256, P, 512, 512, P, 512, 512, P }, 13 },
  { "vgg13", { 64, 64, P, 128, 128, P, 256, 256, P, 512, 512, P, 512, 512, P },
      15 },
  { "vgg16",
      { 64, 64, P, 128, 128, P, 256, 256, 256, P, 512, 512, 512, P, 512, 512,
          512, P },
      18 },
  { "vgg19",
      { 64, 64, P, 128, 128, P, 256, 256, 256, 256, P, 512, 512, 512, 512, P,
          512, 512, 512, 512, P },
      21 },
};
#undef P

static const char *const arch_names[][2] = {
  { "vgg11", "vgg11_bn" },
  { "vgg13", "vgg13_bn" },
  { "vgg16", "vgg16_bn" },
  { "vgg19", "vgg19_bn" },
};

int
vgg_arch_config (const char *arch, int cfg[VGG_CFG_MAX], int *batch_norm)
{
  for (size_t i = 0; i < sizeof arch_names / sizeof arch_names[0]; i++)
    for (int bn = 0; bn < 2; bn++)
      if (strcmp (arch, arch_names[i][bn]) == 0) {
        memcpy (cfg, torchvision_configs[i].cfg,
            torchvision_configs[i].len * sizeof (int));
        *batch_norm = bn;
        return torchvision_configs[i].len;
      }
  return -1;
}

VggModel *
vgg_model_alloc (int n_layers)
{
  VggModel *model = calloc (1, sizeof *model);

  if (model == NULL)
    return NULL;
  model->layers = calloc (n_layers > 0 ? n_layers : 1, sizeof (VggLayer));
  if (model->layers == NULL) {
    free (model);
    return NULL;
  }
  model->n_layers = n_layers;
  atomic_init (&model->ref_count, 1);
  model->kernels = vgg_kernels_get ();
  pthread_mutex_init (&model->prepare_lock, NULL);
  model->input_width = model->input_height = 224;
  memcpy (model->mean, imagenet_mean, sizeof model->mean);
  memcpy (model->std, imagenet_std, sizeof model->std);
  for (int i = 0; i < 3; i++)
    model->linear_index[i] = -1;
  return model;
}

static int conv_weights (const VggLayer *layer, float *packed);

/* The data of t when the file's mapping holds it as dtype, aligned for its
 * elements of size bytes, to be used in place; else NULL. */
static const void *
in_place (const VggTensor *t, VggDType dtype, size_t size)
{
  return t != NULL && t->dtype == dtype && (uintptr_t) t->data % size == 0
      ? t->data
      : NULL;
}

/* One conv layer's kernels for a precision: in bf16 the AMX tiles' weights
 * when the level and the channels allow; else Winograd's transformed
 * filters when the channels allow (the tile chosen for its h x w maps at
 * the model's input size), else the direct kernel's panels. */
static int
prepare_conv (
    const VggKernels *k, VggLayer *layer, VggPrecision precision, int h, int w)
{
  int c = layer->info.in_channels, o = layer->info.out_channels;
  size_t count = (size_t) 9 * c * o;
  float *folded = malloc (count * sizeof (float));
  int ok = 0;

  if (folded == NULL || !conv_weights (layer, folded))
    goto out;
  if (precision == VGG_PRECISION_BF16)
    for (size_t i = 0; i < count; i++)
      folded[i] = vgg_bf16_to_float (vgg_float_to_bf16 (folded[i]));
  if (precision == VGG_PRECISION_BF16 && vgg_conv3x3_amx_supported (k, c, o)) {
    /* whole cache lines: each B tile is 1 KiB */
    void *wt;
    if (posix_memalign (
            &wt, 64, vgg_conv3x3_amx_packed_count (c, o) * sizeof (vgg_bf16))
        != 0)
      goto out;
    layer->amx = wt;
    vgg_conv3x3_amx_pack (folded, c, o, layer->amx);
  } else if (vgg_winograd_supported (c, o)) {
    /* one tile for both precisions: written by the first packing only,
     * since contexts already running the other precision read it */
    if (!layer->wino_r)
      layer->wino_r = vgg_winograd_tile (h, w);
    layer->winograd[precision] = malloc (
        vgg_winograd_packed_floats (k, c, o, layer->wino_r) * sizeof (float));
    if (layer->winograd[precision] == NULL)
      goto out;
    vgg_winograd_pack (
        k, folded, c, o, layer->wino_r, layer->winograd[precision]);
  } else {
    layer->panels[precision] =
        malloc (vgg_conv3x3_panels_floats (k, c, o) * sizeof (float));
    if (layer->panels[precision] == NULL)
      goto out;
    vgg_conv3x3_pack_panels (k, folded, c, o, layer->panels[precision]);
  }
  ok = 1;

out:
  free (folded);
  return ok;
}

static void release_range (const void *data, size_t nbytes);

/* elements converted between two releases of the source's pages */
#define CONVERT_CHUNK (1 << 18)

/* After the first done of count elements of size bytes at from (in the
 * file's mapping) are read: gives back to the file the pages among them
 * not given back yet (*released bytes from the start), whole pages only
 * until the last element is done. */
static void
release_done (const void *from, size_t size, size_t done, size_t count,
    size_t *released)
{
  const uintptr_t page = (uintptr_t) sysconf (_SC_PAGESIZE);
  uintptr_t begin = (uintptr_t) from + *released;
  uintptr_t end = (uintptr_t) from + done * size;

  if (done < count)
    end &= ~(page - 1);
  if (end > begin) {
    release_range ((const void *) begin, end - begin);
    *released = end - (uintptr_t) from;
  }
}

/* Bytes per element of a float tensor (F32, F16 or BF16). */
static size_t
element_size (const VggTensor *t)
{
  return t->dtype == VGG_DTYPE_F32 ? sizeof (float) : sizeof (vgg_bf16);
}

/* A linear layer's bf16 weights: the file's BF16 tensor in place, else
 * converted, a chunk at a time, from the file's tensor (or, in a model
 * made without a file, from its float32 weights).  The file's pages go
 * back to it as they are done: they come back from the file if an fp32
 * context reads them, so a bf16-only process keeps only half the bytes
 * resident, and never both copies of a whole layer. */
static int
prepare_linear_bf16 (VggLayer *layer)
{
  const VggTensor *t = layer->source[0];
  size_t count = (size_t) layer->info.in_channels * layer->info.out_channels;
  const float *floats = t ? in_place (t, VGG_DTYPE_F32, sizeof (float))
                          : layer->weight;
  size_t released = 0;
  float *chunk = NULL;

  if ((layer->weight_bf16 = in_place (t, VGG_DTYPE_BF16, sizeof (vgg_bf16))))
    return 1;
  if (floats == NULL
      && (chunk = malloc (CONVERT_CHUNK * sizeof (float))) == NULL)
    return 0;
  if ((layer->owned_bf16 = malloc (count * sizeof (vgg_bf16))) == NULL) {
    free (chunk);
    return 0;
  }
  for (size_t i0 = 0; i0 < count; i0 += CONVERT_CHUNK) {
    size_t i1 = count - i0 < CONVERT_CHUNK ? count : i0 + CONVERT_CHUNK;
    const float *x = chunk ? chunk : floats + i0;
    if (chunk)
      vgg_tensor_range_to_f32 (t, (int64_t) i0, (int64_t) (i1 - i0), chunk);
    for (size_t i = i0; i < i1; i++)
      layer->owned_bf16[i] = vgg_float_to_bf16 (x[i - i0]);
    if (t)
      release_done (t->data, element_size (t), i1, count, &released);
  }
  free (chunk);
  layer->weight_bf16 = layer->owned_bf16;
  return 1;
}

/* A linear layer's float32 weights when the file does not hold them
 * aligned as float32: converted from its tensor, a chunk at a time, its
 * pages given back to the file as they are done. */
static int
prepare_linear_fp32 (VggLayer *layer)
{
  const VggTensor *t = layer->source[0];
  size_t count = (size_t) vgg_tensor_numel (t), released = 0;

  if ((layer->owned_weight = malloc (count * sizeof (float))) == NULL)
    return 0;
  for (size_t i0 = 0; i0 < count; i0 += CONVERT_CHUNK) {
    size_t i1 = count - i0 < CONVERT_CHUNK ? count : i0 + CONVERT_CHUNK;
    vgg_tensor_range_to_f32 (
        t, (int64_t) i0, (int64_t) (i1 - i0), layer->owned_weight + i0);
    release_done (t->data, element_size (t), i1, count, &released);
  }
  layer->weight = layer->owned_weight;
  return 1;
}

VggStatus
vgg_model_prepare (
    VggModel *model, VggPrecision precision, char error[VGG_ERROR_SIZE])
{
  VggStatus status = VGG_OK;
  int h = model->input_height, w = model->input_width;

  pthread_mutex_lock (&model->prepare_lock);
  /* the linear layers first (j < n_layers), then the convolutions: the
   * fp32 pages of the former go before the packings of the latter come */
  for (int j = 0; !model->prepared[precision] && j < 2 * model->n_layers; j++) {
    VggLayer *layer = &model->layers[j % model->n_layers];
    int ok = 1;
    if ((layer->info.kind == VGG_LAYER_LINEAR) != (j < model->n_layers))
      continue;
    if (layer->info.kind == VGG_LAYER_MAXPOOL) {
      h /= 2;
      w /= 2;
    }
    if (layer->info.kind == VGG_LAYER_CONV3X3 && !layer->winograd[precision]
        && !layer->panels[precision]
        && !(precision == VGG_PRECISION_BF16 && layer->amx))
      ok = prepare_conv (model->kernels, layer, precision, h, w);
    else if (layer->info.kind == VGG_LAYER_LINEAR
        && precision == VGG_PRECISION_BF16 && !layer->weight_bf16)
      ok = prepare_linear_bf16 (layer);
    else if (layer->info.kind == VGG_LAYER_LINEAR
        && precision == VGG_PRECISION_FP32 && !layer->weight)
      ok = prepare_linear_fp32 (layer);
    if (!ok) {
      /* the layers before keep their packing: freed with the model, and
       * the next call makes the rest */
      status = vgg_set_error (error, VGG_ERROR_NOMEM, NULL,
          "out of memory packing %s of %s for %s", layer->name,
          vgg_model_get_name (model), vgg_precision_to_string (precision));
      goto out;
    }
  }
  model->prepared[precision] = 1;

out:
  pthread_mutex_unlock (&model->prepare_lock);
  return status;
}

const char *
vgg_precision_to_string (VggPrecision precision)
{
  switch (precision) {
    case VGG_PRECISION_FP32:
      return "fp32";
    case VGG_PRECISION_BF16:
      return "bf16";
  }
  return NULL;
}

int
vgg_precision_from_string (const char *name)
{
  if (name && strcmp (name, "fp32") == 0)
    return VGG_PRECISION_FP32;
  if (name && strcmp (name, "bf16") == 0)
    return VGG_PRECISION_BF16;
  return -1;
}

static void
model_free (VggModel *model)
{
  for (int i = 0; i < model->n_layers; i++) {
    VggLayer *layer = &model->layers[i];
    free (layer->packed);
    for (int p = 0; p < VGG_N_PRECISIONS; p++) {
      free (layer->panels[p]);
      free (layer->winograd[p]);
    }
    free (layer->owned_bf16);
    free (layer->amx);
    free (layer->bias);
    free (layer->owned_weight);
    free (layer->owned_bias);
  }
  free (model->layers);
  free (model->labels);
  free (model->labels_text);
  free (model->path);
  free (model->name);
  vgg_tensor_file_free (model->file);
  pthread_mutex_destroy (&model->prepare_lock);
  free (model);
}

VggModel *
vgg_model_ref (VggModel *model)
{
  atomic_fetch_add (&model->ref_count, 1);
  return model;
}

void
vgg_model_unref (VggModel *model)
{
  if (model != NULL && atomic_fetch_sub (&model->ref_count, 1) == 1)
    model_free (model);
}

/* Which torchvision configuration the layers follow, if any. */
static const char *
match_arch (const VggModel *model)
{
  int cfg[VGG_CFG_MAX], len = 0, bn = -1;

  for (int i = 0; i < model->n_layers; i++) {
    const VggLayerInfo *info = &model->layers[i].info;
    if (info->kind == VGG_LAYER_AVGPOOL)
      break;
    if (len == VGG_CFG_MAX)
      return NULL;
    if (info->kind == VGG_LAYER_CONV3X3) {
      if (bn >= 0 && bn != info->batch_norm)
        return NULL;
      bn = info->batch_norm;
      cfg[len++] = info->out_channels;
    } else {
      cfg[len++] = VGG_CFG_POOL;
    }
  }
  for (size_t i = 0;
       i < sizeof torchvision_configs / sizeof *torchvision_configs; i++)
    if (torchvision_configs[i].len == len
        && memcmp (torchvision_configs[i].cfg, cfg, len * sizeof (int)) == 0)
      return arch_names[i][bn > 0];
  return NULL;
}

VggStatus
vgg_model_finish (
    VggModel *model, const char *prefix, char error[VGG_ERROR_SIZE])
{
  int channels = 3, n_conv = 0, seen_avgpool = 0, features = 0;

  model->n_linear = 0;
  for (int i = 0; i < model->n_layers; i++) {
    VggLayerInfo *info = &model->layers[i].info;
    info->name = model->layers[i].name;
    switch (info->kind) {
      case VGG_LAYER_CONV3X3:
        if (info->in_channels != channels) {
          return vgg_set_error (error, VGG_ERROR_UNSUPPORTED, prefix,
              "convolution %s takes %d input channels but receives %d",
              info->name, info->in_channels, channels);
        }
        channels = info->out_channels;
        n_conv++;
        break;
      case VGG_LAYER_MAXPOOL:
        break;
      case VGG_LAYER_AVGPOOL:
        seen_avgpool = 1;
        features = channels * VGG_POOL_OUT * VGG_POOL_OUT;
        model->pool5_dims = features;
        break;
      case VGG_LAYER_LINEAR:
        if (info->in_channels != features) {
          return vgg_set_error (error, VGG_ERROR_UNSUPPORTED, prefix,
              "linear layer %s takes %d inputs but receives "
              "%d (%d channels x 7 x 7)",
              info->name, info->in_channels, features, channels);
        }
        features = info->out_channels;
        if (model->n_linear < 3)
          model->linear_index[model->n_linear] = i;
        model->n_linear++;
        break;
    }
  }
  if (n_conv == 0 || !seen_avgpool || model->n_linear == 0) {
    return vgg_set_error (error, VGG_ERROR_UNSUPPORTED, prefix,
        "not a VGG network: %d convolutions and %d linear layers", n_conv,
        model->n_linear);
  }
  /* fc6, fc7, logits: the first two hidden layers and the last one */
  model->linear_index[2] = -1;
  for (int i = model->n_layers - 1; i >= 0; i--)
    if (model->layers[i].info.kind == VGG_LAYER_LINEAR) {
      model->linear_index[2] = i;
      break;
    }
  if (model->n_linear < 3)
    model->linear_index[1] = -1;
  if (model->n_linear < 2)
    model->linear_index[0] = -1;
  model->n_classes = features;
  model->arch = match_arch (model);
  if (model->arch == NULL)
    model->arch = "vgg-custom";
  return VGG_OK;
}

/* --- loading from a tensor file --- */

typedef struct
{
  const VggTensorFile *file;
  const char *path;
  char *error;
} Loader;

/* The tensor `name`, checked to be a float tensor of the given shape
 * (dims < 0 in want means "any"). */
static VggStatus
get_tensor (const Loader *ld, const char *name, int ndim, const int64_t *want,
    const VggTensor **out)
{
  const VggTensor *t = vgg_tensor_file_find (ld->file, name);
  char shape[128] = "", expected[128] = "";
  int64_t bad;
  int ok;

  if (t == NULL) {
    return vgg_set_error (
        ld->error, VGG_ERROR_FORMAT, ld->path, "missing tensor \"%s\"", name);
  }
  if (t->dtype == VGG_DTYPE_OTHER) {
    return vgg_set_error (ld->error, VGG_ERROR_FORMAT, ld->path,
        "tensor \"%s\" has dtype %s; F32, F16 or BF16 expected", name,
        t->dtype_name);
  }
  ok = t->ndim == ndim;
  for (int i = 0; ok && i < ndim; i++)
    ok = want[i] < 0 || t->shape[i] == want[i];
  if (!ok) {
    size_t len = 0;
    for (int i = 0; i < t->ndim && len < sizeof shape; i++)
      len += snprintf (shape + len, sizeof shape - len, "%s%lld", i ? ", " : "",
          (long long) t->shape[i]);
    len = 0;
    for (int i = 0; i < ndim && len < sizeof expected; i++)
      len += want[i] < 0 ? snprintf (
                 expected + len, sizeof expected - len, "%s*", i ? ", " : "")
                         : snprintf (expected + len, sizeof expected - len,
                             "%s%lld", i ? ", " : "", (long long) want[i]);
    return vgg_set_error (ld->error, VGG_ERROR_FORMAT, ld->path,
        "tensor \"%s\" has shape [%s]; expected [%s]", name, shape, expected);
  }
  /* a NaN or infinite weight makes every result NaN (or a silent 0 after
   * a ReLU): refused here, with the place, rather than met in the output */
  bad = vgg_tensor_find_nonfinite (t);
  if (bad >= 0) {
    return vgg_set_error (ld->error, VGG_ERROR_FORMAT, ld->path,
        "tensor \"%s\" holds a non-finite value (NaN or infinity) at "
        "element %lld",
        name, (long long) bad);
  }
  *out = t;
  return VGG_OK;
}

/* Refuses a layer's weight tensor t (its first dimension the outputs)
 * when it has no outputs, which no later step expects. */
static VggStatus
check_outputs (const Loader *ld, const char *name, const VggTensor *t)
{
  if (t->shape[0] > 0)
    return VGG_OK;
  return vgg_set_error (ld->error, VGG_ERROR_FORMAT, ld->path,
      "tensor \"%s\" has no outputs (its first dimension is 0)", name);
}

/* Gives the pages of a tensor that was copied back to the kernel: it was
 * read once, and keeping it would double its weight in the RSS. */
static void
release_range (const void *data, size_t nbytes)
{
  long page = sysconf (_SC_PAGESIZE);
  uintptr_t begin = ((uintptr_t) data + page - 1) & ~(uintptr_t) (page - 1);
  uintptr_t end = ((uintptr_t) data + nbytes) & ~(uintptr_t) (page - 1);

  if (end > begin)
    madvise ((void *) begin, end - begin, MADV_DONTNEED);
}

static void
release_pages (const VggTensor *t)
{
  release_range (t->data, t->nbytes);
}

/* float32 data of t: borrowed from the mapping when possible (*owned NULL),
 * else converted into a new buffer (*owned set). */
static const float *
tensor_floats (const VggTensor *t, float **owned)
{
  const float *data = in_place (t, VGG_DTYPE_F32, sizeof (float));

  *owned = NULL;
  if (data != NULL)
    return data;
  *owned = malloc ((size_t) vgg_tensor_numel (t) * sizeof (float));
  if (*owned == NULL)
    return NULL;
  vgg_tensor_to_f32 (t, *owned);
  release_pages (t);
  return *owned;
}

typedef struct
{
  int index; /* N of features.N */
  int bn;    /* batch-norm at N + 1 */
  int pools_after;
} ConvEntry;

static int
compare_ints (const void *a, const void *b)
{
  const int *x = a, *y = b;
  return (*x > *y) - (*x < *y);
}

/* Parses "features.N.<rest>": N into *index, returns rest or NULL. */
static const char *
parse_indexed (const char *name, const char *prefix, int *index)
{
  size_t len = strlen (prefix);
  char *end;
  long v;

  if (strncmp (name, prefix, len) != 0 || name[len] < '0' || name[len] > '9')
    return NULL;
  errno = 0;
  v = strtol (name + len, &end, 10);
  if (errno != 0 || v > 100000 || *end != '.')
    return NULL;
  *index = (int) v;
  return end + 1;
}

/* Checks features.index (and its batch-norm at index + 1) and folds its
 * bias; the weights are folded by each packing (conv_weights). */
static VggStatus
load_conv (const Loader *ld, VggLayer *layer, int index, int bn)
{
  static const char *const bn_parts[4] = { "weight", "bias", "running_mean",
    "running_var" };
  const VggTensor **src = layer->source;
  const float *f[6] = { NULL };
  float *owned[6] = { NULL };
  char name[96];
  VggStatus status;
  int64_t any4[4] = { -1, -1, 3, 3 }, vec[1];
  int o, c, n_src = bn ? 6 : 2;

  snprintf (name, sizeof name, "features.%d.weight", index);
  status = get_tensor (ld, name, 4, any4, &src[0]);
  if (status == VGG_OK)
    status = check_outputs (ld, name, src[0]);
  if (status != VGG_OK)
    return status;
  /* read by the scan for non-finite values; the packings read it again */
  release_pages (src[0]);
  o = (int) src[0]->shape[0];
  c = (int) src[0]->shape[1];
  vec[0] = o;
  snprintf (name, sizeof name, "features.%d.bias", index);
  if ((status = get_tensor (ld, name, 1, vec, &src[1])) != VGG_OK)
    return status;
  for (int i = 2; i < n_src; i++) {
    snprintf (
        name, sizeof name, "features.%d.%s", index + 1, bn_parts[i - 2]);
    if ((status = get_tensor (ld, name, 1, vec, &src[i])) != VGG_OK)
      return status;
  }

  status = VGG_ERROR_NOMEM;
  for (int i = 1; i < n_src; i++)
    if ((f[i] = tensor_floats (src[i], &owned[i])) == NULL)
      goto out;
  if ((layer->bias = malloc ((size_t) o * sizeof (float))) == NULL)
    goto out;
  for (int i = 0; bn && i < o; i++)
    if (!(f[5][i] >= 0)) {
      status = vgg_set_error (ld->error, VGG_ERROR_FORMAT, ld->path,
          "tensor \"features.%d.running_var\" holds a "
          "negative or NaN variance at %d",
          index + 1, i);
      goto out;
    }
  vgg_conv3x3_pack (
      NULL, f[1], f[2], f[3], f[4], f[5], c, o, NULL, layer->bias);

  layer->info.kind = VGG_LAYER_CONV3X3;
  layer->info.in_channels = c;
  layer->info.out_channels = o;
  layer->info.batch_norm = bn;
  layer->info.relu = 1;
  snprintf (layer->name, sizeof layer->name, "features.%d", index);
  status = VGG_OK;

out:
  if (status == VGG_ERROR_NOMEM)
    vgg_set_error (ld->error, status, ld->path,
        "out of memory packing features.%d", index);
  for (int i = 0; i < 6; i++)
    free (owned[i]);
  return status;
}

/* The weights of a conv layer with its batch-norm folded, (3, 3, c, o),
 * into packed: the model's own copy, or folded anew from the file's
 * tensors, whose pages then go back to the file.  0 when out of memory. */
static int
conv_weights (const VggLayer *layer, float *packed)
{
  const int c = layer->info.in_channels, o = layer->info.out_channels;
  const float *f[6] = { NULL };
  float *owned[6] = { NULL };
  int ok = 1;

  if (layer->packed != NULL) {
    memcpy (packed, layer->packed, (size_t) 9 * c * o * sizeof (float));
    return 1;
  }
  for (int i = 0; ok && i < 6; i++)
    if (layer->source[i] != NULL)
      ok = (f[i] = tensor_floats (layer->source[i], &owned[i])) != NULL;
  if (ok) {
    vgg_conv3x3_pack (f[0], f[1], f[2], f[3], f[4], f[5], c, o, packed, NULL);
    release_pages (layer->source[0]);
  }
  for (int i = 0; i < 6; i++)
    free (owned[i]);
  return ok;
}

/* A linear layer from `prefix`.weight of shape (o, i) or, for timm's
 * convolutional pre-logits, (o, c, k, k) read as (o, c*k*k). */
static VggStatus
load_linear (const Loader *ld, VggLayer *layer, const char *prefix, int ndim,
    int kernel, int relu)
{
  char name[96];
  const VggTensor *w, *b;
  int64_t want[4] = { -1, -1, kernel, kernel }, vec[1];
  VggStatus status;
  int64_t in;

  snprintf (name, sizeof name, "%s.weight", prefix);
  if ((status = get_tensor (ld, name, ndim, want, &w)) != VGG_OK
      || (status = check_outputs (ld, name, w)) != VGG_OK)
    return status;
  in = w->shape[1] * (ndim == 4 ? (int64_t) kernel * kernel : 1);
  if (w->shape[0] > (1 << 24) || in > (1 << 28)) {
    return vgg_set_error (ld->error, VGG_ERROR_UNSUPPORTED, ld->path,
        "tensor \"%s\" is too large for a VGG layer", name);
  }
  vec[0] = w->shape[0];
  snprintf (name, sizeof name, "%s.bias", prefix);
  if ((status = get_tensor (ld, name, 1, vec, &b)) != VGG_OK)
    return status;

  /* float32 in place; any other weights are converted by the packing of
   * each precision */
  layer->source[0] = w;
  layer->weight = in_place (w, VGG_DTYPE_F32, sizeof (float));
  layer->lin_bias = tensor_floats (b, &layer->owned_bias);
  if (layer->lin_bias == NULL) {
    return vgg_set_error (ld->error, VGG_ERROR_NOMEM, ld->path,
        "out of memory reading %s", prefix);
  }
  layer->info.kind = VGG_LAYER_LINEAR;
  layer->info.in_channels = (int) in;
  layer->info.out_channels = (int) w->shape[0];
  layer->info.relu = relu;
  snprintf (layer->name, sizeof layer->name, "%s", prefix);
  return VGG_OK;
}

/* Collects the convolutions of `features.N`: where each is, whether
 * batch-norm follows, how many pools come after it. */
static VggStatus
scan_features (const Loader *ld, ConvEntry **out, int *n_out)
{
  const VggTensorFile *f = ld->file;
  int *conv_idx = calloc (f->n_tensors + 1, sizeof (int)), n = 0;
  ConvEntry *convs = NULL;
  VggStatus status = VGG_ERROR_UNSUPPORTED;

  if (conv_idx == NULL)
    return VGG_ERROR_NOMEM;
  for (int i = 0; i < f->n_tensors; i++) {
    int idx;
    const char *rest = parse_indexed (f->tensors[i].name, "features.", &idx);
    if (rest && strcmp (rest, "weight") == 0 && f->tensors[i].ndim == 4)
      conv_idx[n++] = idx;
  }
  if (n == 0) {
    vgg_set_error (ld->error, status, ld->path,
        "no convolution weights \"features.N.weight\" found: not a VGG "
        "state dict");
    goto out;
  }
  qsort (conv_idx, n, sizeof (int), compare_ints);
  convs = calloc (n, sizeof *convs);
  if (convs == NULL) {
    status = VGG_ERROR_NOMEM;
    goto out;
  }
  for (int k = 0; k < n; k++) {
    char name[64];
    snprintf (name, sizeof name, "features.%d.running_mean", conv_idx[k] + 1);
    convs[k].index = conv_idx[k];
    convs[k].bn = vgg_tensor_file_find (f, name) != NULL;
  }
  /* torchvision's make_layers: conv, [bn], relu for each width; one
   * module per pool.  The gap between two convolutions counts the pools. */
  for (int k = 0; k + 1 < n; k++) {
    int used = convs[k].bn ? 3 : 2;
    int gap = convs[k + 1].index - convs[k].index - used;
    if (gap < 0) {
      vgg_set_error (ld->error, status, ld->path,
          "features.%d follows features.%d too closely for conv%s + ReLU",
          convs[k + 1].index, convs[k].index,
          convs[k].bn ? " + batch-norm" : "");
      goto out;
    }
    convs[k].pools_after = gap;
  }
  /* every torchvision configuration ends with a pool */
  convs[n - 1].pools_after = 1;

  /* every other features.* tensor must belong to one of them */
  for (int i = 0; i < f->n_tensors; i++) {
    int idx, known = 0;
    const char *rest = parse_indexed (f->tensors[i].name, "features.", &idx);
    if (rest == NULL)
      continue;
    for (int k = 0; k < n && !known; k++)
      known =
          idx == convs[k].index || (convs[k].bn && idx == convs[k].index + 1);
    if (!known) {
      vgg_set_error (ld->error, status, ld->path,
          "unexpected tensor \"%s\": not a 3x3 "
          "convolution or the batch-norm after one",
          f->tensors[i].name);
      goto out;
    }
  }
  *out = convs;
  *n_out = n;
  convs = NULL;
  status = VGG_OK;

out:
  free (convs);
  free (conv_idx);
  return status;
}

/* Three comma-separated floats, each finite as a float (strtof parses
 * "nan" and "inf" without complaint, and overflows to infinity). */
static VggStatus
parse_floats3 (const char *text, float v[3])
{
  const char *p = text;

  for (int i = 0; i < 3; i++) {
    char *end;
    errno = 0;
    v[i] = strtof (p, &end);
    if (end == p || !isfinite (v[i]))
      return VGG_ERROR_FORMAT;
    p = end;
    while (*p == ' ')
      p++;
    if (i < 2 && *p++ != ',')
      return VGG_ERROR_FORMAT;
  }
  while (*p == ' ')
    p++;
  return *p == '\0' ? VGG_OK : VGG_ERROR_FORMAT;
}

static VggStatus
read_metadata (VggModel *model, const Loader *ld)
{
  const char *v;

  if ((v = vgg_tensor_file_get_metadata (ld->file, "vgg.mean")) != NULL) {
    if (parse_floats3 (v, model->mean) != VGG_OK) {
      return vgg_set_error (ld->error, VGG_ERROR_FORMAT, ld->path,
          "metadata vgg.mean \"%s\" is not three "
          "comma-separated finite numbers",
          v);
    }
    model->has_normalization = 1;
  }
  if ((v = vgg_tensor_file_get_metadata (ld->file, "vgg.std")) != NULL) {
    if (parse_floats3 (v, model->std) != VGG_OK || !(model->std[0] > 0)
        || !(model->std[1] > 0) || !(model->std[2] > 0)
        || !isnormal (model->std[0]) || !isnormal (model->std[1])
        || !isnormal (model->std[2])) {
      return vgg_set_error (ld->error, VGG_ERROR_FORMAT, ld->path,
          "metadata vgg.std \"%s\" is not three "
          "comma-separated positive numbers (finite and normal as float)",
          v);
    }
    model->has_normalization = 1;
  }
  if ((v = vgg_tensor_file_get_metadata (ld->file, "vgg.input_size")) != NULL) {
    int w, h;
    char tail;
    if (sscanf (v, "%dx%d%c", &h, &w, &tail) != 2 || w < 32 || h < 32
        || w > 8192 || h > 8192) {
      return vgg_set_error (ld->error, VGG_ERROR_FORMAT, ld->path,
          "metadata vgg.input_size \"%s\" is not "
          "HEIGHTxWIDTH between 32 and 8192",
          v);
    }
    model->input_width = w;
    model->input_height = h;
  }
  if ((v = vgg_tensor_file_get_metadata (ld->file, "vgg.name")) != NULL
      && *v != '\0')
    model->name = strdup (v);
  if ((v = vgg_tensor_file_get_metadata (ld->file, "vgg.labels")) != NULL) {
    size_t len = strlen (v);
    int n = 0;
    model->labels_text = strdup (v);
    if (model->labels_text == NULL)
      return VGG_ERROR_NOMEM;
    /* one label per line; a final newline ends the last one */
    if (len > 0 && model->labels_text[len - 1] == '\n')
      model->labels_text[--len] = '\0';
    for (size_t i = 0; i <= len; i++)
      n += i == len || model->labels_text[i] == '\n';
    model->labels = calloc (n, sizeof (char *));
    if (model->labels == NULL)
      return VGG_ERROR_NOMEM;
    for (char *p = model->labels_text; model->n_labels < n;) {
      char *nl = strchr (p, '\n');
      if (nl)
        *nl = '\0';
      if (nl > p && nl[-1] == '\r')
        nl[-1] = '\0';
      model->labels[model->n_labels++] = p;
      p = nl ? nl + 1 : p + strlen (p);
    }
    if (model->n_labels != model->n_classes) {
      return vgg_set_error (ld->error, VGG_ERROR_FORMAT, ld->path,
          "metadata vgg.labels has %d labels but the "
          "model has %d classes",
          model->n_labels, model->n_classes);
    }
  }
  return VGG_OK;
}

VggStatus
vgg_model_load (const char *path, VggModel **out, char error[VGG_ERROR_SIZE])
{
  VggTensorFile *file = NULL;
  VggModel *model = NULL;
  ConvEntry *convs = NULL;
  int n_convs = 0, n_layers, l = 0;
  int n_tv = 0, tv_idx[64], timm;
  Loader ld = { NULL, path, error };
  VggStatus status;

  if (error)
    error[0] = '\0';
  *out = NULL;
  if (path == NULL) {
    return vgg_set_error (
        error, VGG_ERROR_INVALID, NULL, "no model file given");
  }
  status = vgg_tensor_file_open (path, &file, error);
  if (status != VGG_OK)
    return status;
  ld.file = file;

  status = scan_features (&ld, &convs, &n_convs);
  if (status != VGG_OK)
    goto error;

  /* classifier: torchvision's classifier.N or timm's pre_logits + head */
  for (int i = 0; i < file->n_tensors; i++) {
    int idx;
    const char *rest =
        parse_indexed (file->tensors[i].name, "classifier.", &idx);
    if (rest && strcmp (rest, "weight") == 0) {
      if (n_tv == 64) {
        status = vgg_set_error (error, VGG_ERROR_UNSUPPORTED, path,
            "more than 64 classifier layers");
        goto error;
      }
      tv_idx[n_tv++] = idx;
    }
  }
  qsort (tv_idx, n_tv, sizeof (int), compare_ints);
  timm = vgg_tensor_file_find (file, "head.fc.weight") != NULL;
  if ((n_tv > 0) == timm) {
    status = vgg_set_error (error, VGG_ERROR_UNSUPPORTED, path, "%s",
        n_tv ? "both classifier.N and head.fc tensors: "
               "torchvision or timm names, not both"
             : "no classifier tensors "
               "(\"classifier.N.weight\" or \"head.fc.weight\")");
    goto error;
  }

  n_layers = 1 + (timm ? 3 : n_tv);
  for (int k = 0; k < n_convs; k++)
    n_layers += 1 + convs[k].pools_after;
  model = vgg_model_alloc (n_layers);
  if (model == NULL || (model->path = strdup (path)) == NULL) {
    status = vgg_set_error (error, VGG_ERROR_NOMEM, path, "out of memory");
    goto error;
  }

  for (int k = 0; k < n_convs; k++) {
    status = load_conv (&ld, &model->layers[l++], convs[k].index, convs[k].bn);
    if (status != VGG_OK)
      goto error;
    for (int p = 0; p < convs[k].pools_after; p++)
      model->layers[l++].info.kind = VGG_LAYER_MAXPOOL;
  }
  model->layers[l++].info.kind = VGG_LAYER_AVGPOOL;
  if (timm) {
    status = load_linear (&ld, &model->layers[l++], "pre_logits.fc1", 4, 7, 1);
    if (status == VGG_OK)
      status =
          load_linear (&ld, &model->layers[l++], "pre_logits.fc2", 4, 1, 1);
    if (status == VGG_OK)
      status = load_linear (&ld, &model->layers[l++], "head.fc", 2, 1, 0);
  } else {
    for (int k = 0; k < n_tv && status == VGG_OK; k++) {
      char prefix[32];
      snprintf (prefix, sizeof prefix, "classifier.%d", tv_idx[k]);
      status =
          load_linear (&ld, &model->layers[l++], prefix, 2, 1, k + 1 < n_tv);
    }
  }
  if (status != VGG_OK)
    goto error;

  status = vgg_model_finish (model, path, error);
  if (status != VGG_OK)
    goto error;
  model->file = file;
  file = NULL;
  ld.file = model->file;
  status = read_metadata (model, &ld);
  if (status != VGG_OK)
    goto error;
  if (model->file->n_meta == 0) {
    /* torchvision's published checkpoints carry no metadata; their file
     * name says which they are */
    const VggKnownModel *known = vgg_known_model_for_file (path);
    if (known != NULL) {
      model->name = strdup (known->name);
      if (model->name == NULL) {
        status = VGG_ERROR_NOMEM;
        goto error;
      }
      memcpy (model->mean, known->mean, sizeof model->mean);
      memcpy (model->std, known->std, sizeof model->std);
      model->has_normalization = 1;
    }
  }
  free (convs);
  *out = model;
  return VGG_OK;

error:
  if (status == VGG_ERROR_NOMEM && error && error[0] == '\0')
    vgg_set_error (error, status, path, "out of memory");
  free (convs);
  if (model)
    model_free (model);
  vgg_tensor_file_free (file);
  return status;
}

/* --- queries --- */

const char *
vgg_model_get_path (const VggModel *model)
{
  return model->path ? model->path : "";
}

const char *
vgg_model_get_name (const VggModel *model)
{
  return model->name ? model->name : model->arch;
}

const char *
vgg_model_get_arch (const VggModel *model)
{
  return model->arch;
}

int
vgg_model_get_n_layers (const VggModel *model)
{
  return model->n_layers;
}

const VggLayerInfo *
vgg_model_get_layer (const VggModel *model, int index)
{
  if (index < 0 || index >= model->n_layers)
    return NULL;
  return &model->layers[index].info;
}

void
vgg_model_get_input_size (const VggModel *model, int *width, int *height)
{
  if (width)
    *width = model->input_width;
  if (height)
    *height = model->input_height;
}

int
vgg_model_get_n_classes (const VggModel *model)
{
  return model->n_classes;
}

int
vgg_model_get_output_dims (const VggModel *model, VggOutput output)
{
  int idx;

  switch (output) {
    case VGG_OUTPUT_POOL5:
      return model->pool5_dims;
    case VGG_OUTPUT_FC6:
    case VGG_OUTPUT_FC7:
      idx = model->linear_index[output - VGG_OUTPUT_FC6];
      return idx >= 0 ? model->layers[idx].info.out_channels : 0;
    case VGG_OUTPUT_LOGITS:
    case VGG_OUTPUT_PROBS:
      return model->n_classes;
  }
  return 0;
}

int
vgg_model_get_n_labels (const VggModel *model)
{
  return model->n_labels;
}

const char *
vgg_model_get_label (const VggModel *model, int index)
{
  if (index < 0 || index >= model->n_labels)
    return NULL;
  return model->labels[index];
}

int
vgg_model_get_normalization (const VggModel *model, float mean[3], float std[3])
{
  memcpy (mean, model->mean, sizeof model->mean);
  memcpy (std, model->std, sizeof model->std);
  return model->has_normalization;
}

const char *
vgg_model_get_metadata (const VggModel *model, const char *key)
{
  return model->file ? vgg_tensor_file_get_metadata (model->file, key) : NULL;
}

int
vgg_model_get_n_metadata (const VggModel *model)
{
  return model->file ? model->file->n_meta : 0;
}

const char *
vgg_model_get_metadata_key (const VggModel *model, int index)
{
  if (index < 0 || index >= vgg_model_get_n_metadata (model))
    return NULL;
  return model->file->meta_keys[index];
}

uint64_t
vgg_model_get_n_params (const VggModel *model)
{
  uint64_t n = 0;

  for (int i = 0; i < model->n_layers; i++) {
    const VggLayerInfo *info = &model->layers[i].info;
    uint64_t in = info->in_channels, o = info->out_channels;
    if (info->kind == VGG_LAYER_CONV3X3)
      n += 9 * in * o + o + (info->batch_norm ? 2 * o : 0);
    else if (info->kind == VGG_LAYER_LINEAR)
      n += in * o + o;
  }
  return n;
}

uint64_t
vgg_model_get_macs (const VggModel *model, int width, int height)
{
  uint64_t macs = 0;

  for (int i = 0; i < model->n_layers; i++) {
    const VggLayerInfo *info = &model->layers[i].info;
    uint64_t in = info->in_channels, o = info->out_channels;
    if (info->kind == VGG_LAYER_CONV3X3)
      macs += (uint64_t) width * height * 9 * in * o;
    else if (info->kind == VGG_LAYER_MAXPOOL) {
      width /= 2;
      height /= 2;
    } else if (info->kind == VGG_LAYER_LINEAR)
      macs += in * o;
  }
  return macs;
}

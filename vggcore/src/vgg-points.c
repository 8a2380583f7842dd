/* Points of a network: the names of the activations a caller can read
 * (vgg_model_find_point and the rest in vggcore.h), mapped to the engine's
 * layers.
 *
 * The engine's layer list has one entry per convolution (ReLU fused,
 * batch-norm folded), max pool, the adaptive pool and each linear layer;
 * torchvision's `features` has one module per Conv2d, BatchNorm2d, ReLU
 * and MaxPool2d.  A convolution's tensor prefix "features.K" is its Conv2d
 * module; the BatchNorm2d (if any) and the ReLU follow it, and a max pool
 * takes the next index after the module before it, as make_layers builds
 * them. */
#include "vgg-model-private.h"
#include "vgg-error-private.h"
#include "vgg-layers-private.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The fifth block's pool name is taken by the classifier's input. */
#define CLASSIFIER_INPUT_BLOCK 5

static const char *const pooling_names[] = {
  [VGG_POOLING_AVG] = "avg",
  [VGG_POOLING_MAX] = "max",
  [VGG_POOLING_NONE] = "none",
};

const char *
vgg_pooling_to_string (VggPooling pooling)
{
  if ((unsigned) pooling >= sizeof pooling_names / sizeof *pooling_names)
    return NULL;
  return pooling_names[pooling];
}

int
vgg_pooling_from_string (const char *name)
{
  for (int i = 0;
       name && i < (int) (sizeof pooling_names / sizeof *pooling_names); i++)
    if (strcmp (name, pooling_names[i]) == 0)
      return i;
  return -1;
}

/* A point as the walk below meets it.  folded marks the Conv2d module of
 * a batch-norm convolution: it has a name but no value of its own. */
typedef struct
{
  VggPoint point;
  int folded;
  int block, conv; /* reluB_C's numbers of a convolution's points, else 0 */
} WalkEntry;

/* Called for every point in network order; returns nonzero to stop. */
typedef int (*WalkFunc) (const WalkEntry *entry, void *user_data);

/* "features.K" -> K, or -1 when name is not a features module. */
static int
features_index (const char *name)
{
  char *end;
  long v;

  if (strncmp (name, "features.", 9) != 0 || name[9] < '0' || name[9] > '9')
    return -1;
  errno = 0;
  v = strtol (name + 9, &end, 10);
  if (errno != 0 || *end != '\0' || v > 100000)
    return -1;
  return (int) v;
}

int
vgg_model_output_layer (const VggModel *model, VggOutput output)
{
  switch (output) {
    case VGG_OUTPUT_POOL5:
      for (int i = 0; i < model->n_layers; i++)
        if (model->layers[i].info.kind == VGG_LAYER_AVGPOOL)
          return i;
      return -1;
    case VGG_OUTPUT_FC6:
    case VGG_OUTPUT_FC7:
      return model->linear_index[output - VGG_OUTPUT_FC6];
    case VGG_OUTPUT_LOGITS:
    case VGG_OUTPUT_PROBS:
      return model->linear_index[2];
  }
  return -1;
}

/* Fills entry as the point of output, or returns 0 if the model lacks it. */
static int
output_entry (const VggModel *model, VggOutput output, WalkEntry *entry)
{
  int layer = vgg_model_output_layer (model, output);

  if (layer < 0)
    return 0;
  memset (entry, 0, sizeof *entry);
  entry->point.layer = layer;
  entry->point.relu = model->layers[layer].info.relu;
  entry->point.output = output;
  entry->point.spatial = output == VGG_OUTPUT_POOL5;
  snprintf (entry->point.name, sizeof entry->point.name, "%s",
      vgg_output_to_string (output));
  return 1;
}

static void
conv_stage_entry (WalkEntry *e, int layer, int relu, int module,
    const char *alias_kind, int a, int b)
{
  memset (e, 0, sizeof *e);
  e->point.layer = layer;
  e->point.relu = relu;
  e->point.output = -1;
  e->point.spatial = 1;
  snprintf (e->point.name, sizeof e->point.name, "features.%d", module);
  /* block and convolution numbers are below the 100000 layers a file may
   * name: unsigned short is wide enough, and lets GCC see the fit */
  if (alias_kind && b > 0)
    snprintf (e->point.alias, sizeof e->point.alias, "%s%hu_%hu", alias_kind,
        (unsigned short) a, (unsigned short) b);
  else if (alias_kind)
    snprintf (e->point.alias, sizeof e->point.alias, "%s%hu", alias_kind,
        (unsigned short) a);
}

static void
walk_points (const VggModel *model, WalkFunc func, void *user_data)
{
  WalkEntry e;
  int next = 0, block = 1, conv = 0;

  for (int i = 0; i < model->n_layers; i++) {
    const VggLayerInfo *info = &model->layers[i].info;
    if (info->kind == VGG_LAYER_CONV3X3) {
      int k = features_index (info->name);
      int bn = info->batch_norm != 0;
      if (k < 0) /* not torchvision's naming: number as make_layers would */
        k = next;
      conv++;
      conv_stage_entry (&e, i, 0, k, "conv", block, conv);
      e.folded = bn;
      e.block = block;
      e.conv = conv;
      if (func (&e, user_data))
        return;
      if (bn) {
        conv_stage_entry (&e, i, 0, k + 1, NULL, 0, 0);
        e.block = block;
        e.conv = conv;
        if (func (&e, user_data))
          return;
      }
      conv_stage_entry (&e, i, 1, k + 1 + bn, "relu", block, conv);
      e.block = block;
      e.conv = conv;
      if (func (&e, user_data))
        return;
      next = k + 2 + bn;
    } else if (info->kind == VGG_LAYER_MAXPOOL) {
      conv_stage_entry (&e, i, 0, next,
          block == CLASSIFIER_INPUT_BLOCK ? NULL : "pool", block, 0);
      if (func (&e, user_data))
        return;
      next++;
      block++;
      conv = 0;
    }
  }
  for (int o = VGG_OUTPUT_POOL5; o <= VGG_OUTPUT_PROBS; o++)
    if (output_entry (model, (VggOutput) o, &e) && func (&e, user_data))
      return;
}

typedef struct
{
  int index, count;
  VggPoint *point;
} NthPoint;

static int
nth_point (const WalkEntry *e, void *user_data)
{
  NthPoint *nth = user_data;

  if (e->folded)
    return 0;
  if (nth->count++ == nth->index) {
    *nth->point = e->point;
    return 1;
  }
  return 0;
}

int
vgg_model_get_n_points (const VggModel *model)
{
  NthPoint nth = { -1, 0, NULL };

  walk_points (model, nth_point, &nth);
  return nth.count;
}

int
vgg_model_get_point (const VggModel *model, int index, VggPoint *point)
{
  NthPoint nth = { index, 0, point };

  if (index < 0)
    return 0;
  walk_points (model, nth_point, &nth);
  return nth.count > index;
}

typedef struct
{
  const char *name;
  WalkEntry found;
  int matched;
} FindName;

static int
find_name (const WalkEntry *e, void *user_data)
{
  FindName *f = user_data;

  if (strcmp (e->point.name, f->name) == 0
      || (e->point.alias[0] && strcmp (e->point.alias, f->name) == 0)) {
    f->found = *e;
    f->matched = 1;
    return 1;
  }
  return 0;
}

/* The list of valid names for an error message, built block by block:
 * "relu1_1..relu1_2, ..., pool1..pool4, pool5, fc6, ...,
 * features.0..features.30". */
typedef struct
{
  char text[VGG_ERROR_SIZE];
  size_t len;
  int bn, last_module;
  int block, convs; /* the block being listed and its convolutions */
  int pools[2];     /* first and last aliased pool, 0 if none */
  int pool_gap;     /* an aliased pool after a skipped number */
} NameList;

/* Appends to the list; item: a new item, after ", " unless the first. */
static void
list_append (NameList *l, int item, const char *format, ...)
{
  va_list args;
  int r;

  if (item && l->len > 0)
    list_append (l, 0, ", ");
  if (l->len >= sizeof l->text)
    return;
  va_start (args, format);
  r = vsnprintf (l->text + l->len, sizeof l->text - l->len, format, args);
  va_end (args);
  if (r > 0)
    l->len += (size_t) r;
}

static void
list_flush_block (NameList *l)
{
  if (l->convs == 1)
    list_append (l, 1, "relu%d_1", l->block);
  else if (l->convs > 1)
    list_append (l, 1, "relu%d_1..relu%d_%d", l->block, l->block, l->convs);
  l->convs = 0;
}

static int
list_name (const WalkEntry *e, void *user_data)
{
  NameList *l = user_data;
  int module = features_index (e->point.name);

  if (module > l->last_module)
    l->last_module = module;
  if (e->block && e->point.relu) {
    if (e->block != l->block)
      list_flush_block (l);
    l->block = e->block;
    l->convs = e->conv;
  }
  if (e->point.output < 0 && strncmp (e->point.alias, "pool", 4) == 0) {
    int b = atoi (e->point.alias + 4);
    if (l->pools[0] == 0)
      l->pools[0] = b;
    else if (b != l->pools[1] + 1)
      l->pool_gap = 1;
    l->pools[1] = b;
  }
  if (e->point.output == VGG_OUTPUT_POOL5) {
    list_flush_block (l);
    if (!l->bn)
      list_append (l, 0, " (convB_C alike)");
    if (l->pools[0] && l->pools[0] == l->pools[1])
      list_append (l, 1, "pool%d", l->pools[0]);
    else if (l->pools[0])
      list_append (l, 1, "pool%d..pool%d%s", l->pools[0], l->pools[1],
          l->pool_gap ? " (but pool5)" : "");
  }
  if (e->point.output >= 0)
    list_append (l, 1, "%s", e->point.name);
  return 0;
}

static void
list_names (const VggModel *model, NameList *l)
{
  memset (l, 0, sizeof *l);
  l->last_module = -1;
  for (int i = 0; i < model->n_layers; i++)
    l->bn |= model->layers[i].info.batch_norm;
  walk_points (model, list_name, l);
  if (l->last_module >= 0)
    list_append (l, 1, "features.0..features.%d%s", l->last_module,
        l->bn ? " (but a convolution's own module: batch-norm is folded "
                "into it)"
              : "");
}

VggStatus
vgg_model_find_point (const VggModel *model, const char *name, VggPoint *point,
    char error[VGG_ERROR_SIZE])
{
  FindName f = { name, { { 0 } }, 0 };
  int output;
  NameList *list;
  VggStatus status;

  if (error)
    error[0] = '\0';
  if (model == NULL || name == NULL || point == NULL)
    return vgg_set_error (
        error, VGG_ERROR_INVALID, NULL, "vgg_model_find_point: NULL argument");
  output = vgg_output_from_string (name);
  if (output >= 0 && !output_entry (model, (VggOutput) output, &f.found))
    return vgg_set_error (error, VGG_ERROR_INVALID, NULL,
        "%s has no %s: its classifier has %d linear layer%s",
        vgg_model_get_name (model), name, model->n_linear,
        model->n_linear == 1 ? "" : "s");
  if (output < 0)
    walk_points (model, find_name, &f);
  else
    f.matched = 1;
  if (f.matched && f.found.folded) {
    const VggPoint *p = &f.found.point;
    int k = features_index (p->name);
    char what[48];
    if (strcmp (name, p->name) == 0)
      snprintf (what, sizeof what, "%s", name);
    else
      snprintf (what, sizeof what, "%s (features.%d)", name, k);
    return vgg_set_error (error, VGG_ERROR_INVALID, NULL,
        "%s of %s is the convolution of relu%d_%d, into which batch-norm is "
        "folded at load: its output alone is never computed; read "
        "features.%d (after batch-norm, before ReLU) or features.%d = "
        "relu%d_%d (after ReLU)",
        what, vgg_model_get_name (model), f.found.block, f.found.conv, k + 1,
        k + 2, f.found.block, f.found.conv);
  }
  if (f.matched) {
    *point = f.found.point;
    return VGG_OK;
  }
  /* the list is longer than a stack frame likes */
  list = malloc (sizeof *list);
  if (list == NULL)
    return vgg_set_error (error, VGG_ERROR_INVALID, NULL,
        "unknown point \"%s\" in %s", name, vgg_model_get_name (model));
  list_names (model, list);
  status = vgg_set_error (error, VGG_ERROR_INVALID, NULL,
      "unknown point \"%s\" in %s; valid names: %s", name,
      vgg_model_get_name (model), list->text);
  free (list);
  return status;
}

int
vgg_model_get_point_shape (const VggModel *model, const VggPoint *point,
    int width, int height, int *channels, int *map_height, int *map_width)
{
  int c = 3, h = height, w = width, last;

  if (model == NULL || point == NULL || width < 32 || height < 32
      || width > 16384 || height > 16384)
    return 0;
  last = point->output >= 0 ? vgg_model_output_layer (model, point->output)
                            : point->layer;
  if (last < 0 || last >= model->n_layers)
    return 0;
  for (int i = 0; i <= last; i++) {
    const VggLayerInfo *info = &model->layers[i].info;
    switch (info->kind) {
      case VGG_LAYER_CONV3X3:
        c = info->out_channels;
        break;
      case VGG_LAYER_MAXPOOL:
        h /= 2;
        w /= 2;
        if (h == 0 || w == 0)
          return 0;
        break;
      case VGG_LAYER_AVGPOOL:
        h = w = VGG_POOL_OUT;
        break;
      case VGG_LAYER_LINEAR:
        c = info->out_channels;
        h = w = 1;
        break;
    }
  }
  if (channels)
    *channels = c;
  if (map_height)
    *map_height = h;
  if (map_width)
    *map_width = w;
  return 1;
}

int
vgg_model_get_point_dims (const VggModel *model, const VggPoint *point,
    VggPooling pooling, int width, int height)
{
  int c, h, w;

  if (!vgg_model_get_point_shape (model, point, width, height, &c, &h, &w))
    return 0;
  if (point->spatial && vgg_pooling_to_string (pooling) == NULL)
    return 0;
  if (point->spatial && pooling != VGG_POOLING_NONE)
    return c;
  /* the largest conv-stage maps at 16384x16384 do not fit an int */
  if ((int64_t) c * h * w > INT_MAX)
    return 0;
  return c * h * w;
}

/* Models with seeded random weights, for benchmarks and tests, drawn from
 * the distributions of torchvision's VGG initialisation: convolutions
 * kaiming-normal (fan_out, ReLU) with zero bias, batch-norm as identity,
 * linear layers normal(0, 0.01) with zero bias. */
#include "vgg-model-private.h"
#include "vgg-layers-private.h"
#include "vgg-error-private.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct
{
  uint64_t s;
  int has_spare;
  double spare;
} Rng;

/* splitmix64 */
static uint64_t
rng_next (Rng *r)
{
  uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/* standard normal, Box-Muller */
static double
rng_normal (Rng *r)
{
  double u, v;

  if (r->has_spare) {
    r->has_spare = 0;
    return r->spare;
  }
  u = ((rng_next (r) >> 11) + 1.0) * 0x1.0p-53;
  v = (rng_next (r) >> 11) * 0x1.0p-53;
  r->spare = sqrt (-2 * log (u)) * sin (2 * M_PI * v);
  r->has_spare = 1;
  return sqrt (-2 * log (u)) * cos (2 * M_PI * v);
}

static float *
normal_floats (Rng *r, size_t count, double std)
{
  float *v = malloc (count * sizeof (float));

  for (size_t i = 0; v && i < count; i++)
    v[i] = (float) (rng_normal (r) * std);
  return v;
}

VggStatus
vgg_model_new_random (const char *arch, int width_divisor, int num_classes,
    uint64_t seed, VggModel **out, char error[VGG_ERROR_SIZE])
{
  int cfg[VGG_CFG_MAX], len, bn, n_layers, l = 0, c = 3, module = 0;
  int hidden = 4096 / (width_divisor > 0 ? width_divisor : 1);
  VggModel *model;
  Rng rng = { seed, 0, 0 };
  VggStatus status = VGG_ERROR_NOMEM;

  *out = NULL;
  if (error)
    error[0] = '\0';
  len = arch ? vgg_arch_config (arch, cfg, &bn) : -1;
  if (len < 0 || width_divisor < 1 || width_divisor > 64 || num_classes < 1) {
    return vgg_set_error (error, VGG_ERROR_INVALID, NULL,
        "unknown architecture "
        "\"%s\" (vgg11, vgg11_bn, vgg13, vgg13_bn, vgg16, vgg16_bn, vgg19, "
        "vgg19_bn), or a width divisor outside 1..64, or no classes",
        arch ? arch : "(null)");
  }
  n_layers = len + 1 + 3;
  model = vgg_model_alloc (n_layers);
  if (model == NULL)
    goto error;

  for (int i = 0; i < len; i++) {
    VggLayer *layer = &model->layers[l++];
    float *w, *zero;
    int o;
    if (cfg[i] == VGG_CFG_POOL) {
      layer->info.kind = VGG_LAYER_MAXPOOL;
      module++;
      continue;
    }
    o = cfg[i] / width_divisor > 0 ? cfg[i] / width_divisor : 1;
    w = normal_floats (&rng, (size_t) o * c * 9, sqrt (2.0 / (o * 9.0)));
    zero = calloc (o, sizeof (float));
    layer->packed = malloc ((size_t) 9 * c * o * sizeof (float));
    layer->bias = malloc (o * sizeof (float));
    if (w && zero && layer->packed && layer->bias)
      vgg_conv3x3_pack (
          w, zero, NULL, NULL, NULL, NULL, c, o, layer->packed, layer->bias);
    free (w);
    free (zero);
    if (layer->bias == NULL || layer->packed == NULL)
      goto error;
    layer->info.kind = VGG_LAYER_CONV3X3;
    layer->info.in_channels = c;
    layer->info.out_channels = o;
    layer->info.batch_norm = bn;
    layer->info.relu = 1;
    /* torchvision's module index: conv, [bn], relu per width */
    snprintf (layer->name, sizeof layer->name, "features.%d", module);
    module += bn ? 3 : 2;
    c = o;
  }
  model->layers[l++].info.kind = VGG_LAYER_AVGPOOL;
  {
    int widths[3] = { hidden, hidden, num_classes };
    int in = c * VGG_POOL_OUT * VGG_POOL_OUT;
    for (int k = 0; k < 3; k++) {
      VggLayer *layer = &model->layers[l++];
      layer->owned_weight = normal_floats (&rng, (size_t) widths[k] * in, 0.01);
      layer->owned_bias = calloc (widths[k], sizeof (float));
      if (layer->owned_weight == NULL || layer->owned_bias == NULL)
        goto error;
      layer->weight = layer->owned_weight;
      layer->lin_bias = layer->owned_bias;
      layer->info.kind = VGG_LAYER_LINEAR;
      layer->info.in_channels = in;
      layer->info.out_channels = widths[k];
      layer->info.relu = k < 2;
      snprintf (layer->name, sizeof layer->name, "classifier.%d", 3 * k);
      in = widths[k];
    }
  }
  status = vgg_model_finish (model, arch, error);
  if (status != VGG_OK)
    goto error;
  *out = model;
  return VGG_OK;

error:
  if (status == VGG_ERROR_NOMEM)
    vgg_set_error (error, status, arch, "out of memory");
  vgg_model_unref (model);
  return status;
}

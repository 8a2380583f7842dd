#ifndef VGG_MODEL_PRIVATE_H
#define VGG_MODEL_PRIVATE_H

#include "vgg-tensors-private.h"
#include "kernels/vgg-kernels-private.h"

#include <pthread.h>
#include <stdatomic.h>

#define VGG_N_PRECISIONS 2

typedef struct
{
  VggLayerInfo info;
  char name[64];
  /* The file's tensors that the packings read (NULL for a model made
   * without a file): conv weight, bias, then the batch-norm's weight,
   * bias, running mean and variance (or NULL); linear weight. */
  const VggTensor *source[6];
  /* conv: per precision on first use (vgg_model_prepare), one of panels
   * and winograd from the weights with batch-norm folded
   * (vgg_conv3x3_pack; rounded to bf16 first for VGG_PRECISION_BF16).
   * The packing folds them anew from source, so that no copy stays; a
   * model made without a file keeps them in packed (else NULL). */
  float *packed; /* (3, 3, in, out) */
  float *bias;   /* (out), folded at load */
  float *panels[VGG_N_PRECISIONS];   /* the direct kernel's, or NULL */
  float *winograd[VGG_N_PRECISIONS]; /* transformed filters, or NULL
                                           (kernels/vgg-layers-private.h
                                           has both layouts) */
  int wino_r; /* their tile: vgg_winograd_tile at the model's input size */
  vgg_bf16 *amx; /* VGG_PRECISION_BF16's weights at the amx level, in
                    place of panels and winograd, or NULL */
  /* linear: torch layout (out, in) in each precision, borrowed from the
   * file's mapping when it holds that type aligned, else owned copies
   * made by the precision's packing (weight: at load when borrowed) */
  const float *weight;
  const float *lin_bias; /* (out), at load */
  float *owned_weight;
  float *owned_bias;
  const vgg_bf16 *weight_bf16;
  vgg_bf16 *owned_bf16;
} VggLayer;

struct VggModel
{
  atomic_int ref_count;
  const VggKernels *kernels; /* the level its weights are packed for */
  /* the per-precision packings are made once, under prepare_lock */
  pthread_mutex_t prepare_lock;
  int prepared[VGG_N_PRECISIONS];
  char *path;
  char *name;
  const char *arch;
  VggTensorFile *file; /* kept for the mapping and the metadata; may be NULL */

  VggLayer *layers;
  int n_layers;
  int n_linear;
  int linear_index[3]; /* layers of fc6, fc7, logits (-1: none) */

  int input_width, input_height;
  int n_classes;
  int pool5_dims; /* last conv's channels x 7 x 7 */
  char **labels;  /* n_labels pointers into labels_text */
  char *labels_text;
  int n_labels;
  float mean[3], std[3];
  int has_normalization;
};

/* A conv entry of a configuration: out channels, or VGG_CFG_POOL. */
#define VGG_CFG_POOL 0
#define VGG_CFG_MAX 64

/* Allocates an empty model with n_layers zeroed layers. */
VggModel *vgg_model_alloc (int n_layers);
/* Packs the weights of every layer for precision (once per model; later
 * calls return at once).  VGG_ERROR_NOMEM with a message in error. */
VggStatus vgg_model_prepare (
    VggModel *model, VggPrecision precision, char error[VGG_ERROR_SIZE]);
/* Derives linear_index, n_classes, arch and name after the layers are
 * filled in; checks the chain of shapes.  Returns VGG_OK or an error
 * naming prefix (the file) and the layer. */
VggStatus vgg_model_finish (
    VggModel *model, const char *prefix, char error[VGG_ERROR_SIZE]);

/* torchvision's configuration for "vgg11".."vgg19_bn": fills cfg (widths
 * and VGG_CFG_POOL), returns its length and sets *batch_norm; -1 if the
 * name is unknown. */
int vgg_arch_config (const char *arch, int cfg[VGG_CFG_MAX], int *batch_norm);

/* The layer that computes output (the adaptive pool for pool5, the last
 * linear layer for logits and probs), or -1 if the model has none. */
int vgg_model_output_layer (const VggModel *model, VggOutput output);

/* The known model whose torchvision file name is the base name of path,
 * or NULL. */
const VggKnownModel *vgg_known_model_for_file (const char *path);

#endif

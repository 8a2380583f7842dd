/* Small VGG-style models written by the element tests themselves.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef VGG_TEST_MODELS_H
#define VGG_TEST_MODELS_H

#include <glib.h>

G_BEGIN_DECLS

/* A new folder for a test's files (g_dir_make_tmp's template), and its
 * removal with the files in it. */
gchar *vgg_test_make_tmp_dir (const gchar *tmpl);
void vgg_test_remove_tmp_dir (const gchar *dir);

/* The folder a test program writes its models to: $VGG_TEST_DIR (made
 * when missing), else a new one from g_dir_make_tmp's template tmpl. */
gchar *vgg_test_models_dir (const gchar *tmpl);

/* One float32 tensor of a safetensors file. */
typedef struct
{
  const gchar *name;
  gint ndim;
  gint64 shape[4];
  const gfloat *data;
} VggTestTensor;

/* Writes tensors and the metadata pairs (key, value, ..., NULL) as a
 * safetensors file. */
gboolean vgg_test_write_safetensors (const gchar *path,
    const VggTestTensor *tensors, gint n_tensors, const gchar *const *metadata);

/* A torchvision-style VGG with seeded He-initialized weights.
 * cfg: conv widths, 0 for a max-pool ("M"), ending with -1.
 * hidden: the two hidden classifier widths.  labels: NULL or the
 * newline-separated `vgg.labels`.  mean_std: NULL (ImageNet's) or
 * "m0,m1,m2;s0,s1,s2". */
gboolean vgg_test_write_random_model (const gchar *path, const gint *cfg,
    gint hidden, gint n_classes, gint width, gint height, guint64 seed,
    const gchar *labels, const gchar *name);

/* The "where is the bright spot" model: input 64x64, inputs in [0, 1]
 * (mean 0, std 1).  Its nine classes ("top-left", "top", "top-right",
 * "left", "centre", "right", "bottom-left", "bottom", "bottom-right") score
 * the mean brightness (R+G+B)/3 of the 3x3 regions of the pooled 6x6
 * grid (a 3x3 convolution averaging the channels, the 7x7 adaptive pool,
 * then linear layers computing region means, times a gain).  A picture
 * with one bright spot has a clear top-1 in every colour format, GRAY8
 * included. */
gboolean vgg_test_write_spot_model (const gchar *path);
/* Its classes, in order: (row, column) of the 3x3 regions. */
extern const gchar *const vgg_test_spot_labels[9];

G_END_DECLS

#endif

/* GstVggModelInfo: everything vgginfer needs of a model, built at once and
 * never changed: the weights (one use of the model cache), the labels, the
 * input normalization and size.  Opening, reopening and a change of
 * model, labels, mean or std while running each build a new one, in the
 * thread that asks; the streaming task swaps the pointer at a batch
 * boundary, so a part that fails leaves the running model untouched.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __GST_VGG_MODEL_INFO_H__
#define __GST_VGG_MODEL_INFO_H__

#include <gst/gst.h>
#include <vggcore/vggcore.h>

G_BEGIN_DECLS

/* What a bundle is built from: vgginfer's properties model, labels, mean
 * and std (borrowed strings; NULL or "" for unset). */
typedef struct
{
  const gchar *model;
  const gchar *labels;
  const gchar *mean;
  const gchar *std;
} GstVggModelSpec;

typedef struct
{
  /* The spec it was built from (owned copies). */
  gchar *model_spec;
  gchar *labels_spec;
  gchar *mean_spec;
  gchar *std_spec;

  VggModel *model;            /* one use of the model cache */
  const VggKnownModel *known; /* when the spec named a known model */
  gint n_classes;
  GQuark *labels; /* (n_classes), 0 for a class without a label */
  gint width, height;
  gfloat scale[3], offset[3]; /* x * scale + offset = (x/255-mean)/std */
  guint32 border_argb;        /* the mean colour, letterbox borders */

  /* Warnings met while building (labels of another count, ImageNet
   * labels not found), for the element to post: GST_RESOURCE_ERROR
   * GErrors, (element-type GError) */
  GPtrArray *warnings;

  gint ref_count;
} GstVggModelInfo;

/* Resolves the model name (vgg16, ... through vgg_model_find with
 * `search_path`, colon-separated, may be NULL), loads it through the model
 * cache, reads the labels and checks the normalization.  NULL with a
 * GST_RESOURCE_ERROR (NOT_FOUND, OPEN_READ, SETTINGS or FAILED) naming the
 * file and the problem. */
GstVggModelInfo *gst_vgg_model_info_new (
    const GstVggModelSpec *spec, const gchar *search_path, GError **error);

GstVggModelInfo *gst_vgg_model_info_ref (GstVggModelInfo *info);
void gst_vgg_model_info_unref (GstVggModelInfo *info);

/* TRUE when info was built from spec (same strings, NULL equal to ""). */
gboolean gst_vgg_model_info_matches (
    const GstVggModelInfo *info, const GstVggModelSpec *spec);

/* Parses "R,G,B" into v (NULL or "" leaves v as it is): three numbers
 * finite as floats and, with `positive` (a std), above zero and normal. */
gboolean gst_vgg_parse_rgb (const gchar *text, gfloat v[3], gboolean positive);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GstVggModelInfo, gst_vgg_model_info_unref)

G_END_DECLS

#endif /* __GST_VGG_MODEL_INFO_H__ */

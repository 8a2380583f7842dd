/* GstVggMeta: classification results and feature vectors of vgginfer.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __GST_VGG_META_H__
#define __GST_VGG_META_H__

#include <gst/gst.h>

G_BEGIN_DECLS

#if defined(BUILDING_GST_VGG_META)
#define GST_VGG_META_API __attribute__ ((visibility ("default"))) extern
#else
#define GST_VGG_META_API extern
#endif

#define GST_VGG_META_API_TYPE (gst_vgg_meta_api_get_type ())
#define GST_VGG_META_INFO (gst_vgg_meta_get_info ())

typedef struct _GstVggMeta GstVggMeta;
typedef struct _GstVggClassification GstVggClassification;

/**
 * GstVggClassification:
 * @class_id: index of the class in the model's output
 * @score: softmax probability of the class, 0 to 1
 * @label: interned label of the class (see g_quark_to_string()), 0 when
 *   the model has no labels
 *
 * One entry of the top-k list of a #GstVggMeta.
 */
struct _GstVggClassification
{
  gint class_id;
  gfloat score;
  GQuark label;
};

/**
 * GstVggMeta:
 * @meta: parent #GstMeta
 * @model_name: (nullable): name of the model (its `vgg.name` metadata or
 *   architecture)
 * @inference_ms: wall time of the forward pass, per frame (a batch's time
 *   divided by its size), in milliseconds
 * @n_results: number of entries in @results
 * @results: (array length=n_results): the top-k classes, best first
 * @feature_layer: (nullable): name of the layer of @features ("fc7",
 *   "fc6", "pool5", "logits") or %NULL when there are none
 * @n_features: number of floats in @features, 0 when there are none
 * @features: (array length=n_features): the feature vector
 *
 * The results of one forward pass of a VGG network on one video frame.
 * The meta owns all its data; use the accessors from bindings.
 */
struct _GstVggMeta
{
  GstMeta meta;

  gchar *model_name;
  gdouble inference_ms;

  guint n_results;
  GstVggClassification *results;

  const gchar *feature_layer;
  guint n_features;
  gfloat *features;
};

GST_VGG_META_API GType gst_vgg_meta_api_get_type (void);
GST_VGG_META_API const GstMetaInfo *gst_vgg_meta_get_info (void);

GST_VGG_META_API GstVggMeta *gst_buffer_add_vgg_meta (GstBuffer *buffer);
GST_VGG_META_API GstVggMeta *gst_buffer_get_vgg_meta (GstBuffer *buffer);

GST_VGG_META_API void gst_vgg_meta_set_model_name (
    GstVggMeta *meta, const gchar *name);
GST_VGG_META_API void gst_vgg_meta_set_results (
    GstVggMeta *meta, const GstVggClassification *results, guint n_results);
GST_VGG_META_API void gst_vgg_meta_set_features (GstVggMeta *meta,
    const gchar *layer, const gfloat *features, guint n_features);

GST_VGG_META_API const gchar *gst_vgg_meta_get_model_name (
    const GstVggMeta *meta);
GST_VGG_META_API gdouble gst_vgg_meta_get_inference_ms (const GstVggMeta *meta);
GST_VGG_META_API guint gst_vgg_meta_get_n_results (const GstVggMeta *meta);
GST_VGG_META_API gboolean gst_vgg_meta_get_result (const GstVggMeta *meta,
    guint index, gint *class_id, gfloat *score, const gchar **label);
GST_VGG_META_API const gchar *gst_vgg_meta_get_feature_layer (
    const GstVggMeta *meta);
GST_VGG_META_API const gfloat *gst_vgg_meta_get_features (
    const GstVggMeta *meta, guint *n_features);

/**
 * GstVggFeaturesFormat:
 * @GST_VGG_FEATURES_FORMAT_NONE: the feature vector is left out
 * @GST_VGG_FEATURES_FORMAT_ARRAY: "features": an array of numbers
 * @GST_VGG_FEATURES_FORMAT_BASE64: "features_base64": base64 of the
 *   little-endian float32 values
 *
 * How gst_vgg_frame_to_json() writes the feature vector of a frame.
 */
typedef enum
{
  GST_VGG_FEATURES_FORMAT_NONE,
  GST_VGG_FEATURES_FORMAT_ARRAY,
  GST_VGG_FEATURES_FORMAT_BASE64
} GstVggFeaturesFormat;

#define GST_TYPE_VGG_FEATURES_FORMAT (gst_vgg_features_format_get_type ())
GST_VGG_META_API GType gst_vgg_features_format_get_type (void);

GST_VGG_META_API gchar *gst_vgg_meta_to_json (const GstVggMeta *meta);
GST_VGG_META_API gchar *gst_vgg_frame_to_json (GstBuffer *buffer,
    const gchar *stream, guint64 frame, GstVggFeaturesFormat features_format);

G_END_DECLS

#endif /* __GST_VGG_META_H__ */

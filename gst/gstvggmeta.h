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
typedef struct _GstVggRegion GstVggRegion;

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
 * GstVggRegion:
 * @id: the @id of the region's #GstVideoRegionOfInterestMeta on the frame
 * @roi_type: interned type of that ROI ("face", "vgg-region", a detector's
 *   label; see g_quark_to_string())
 * @x: left edge of the box in frame pixels, clipped to the frame
 * @y: top edge
 * @w: width, at least 1
 * @h: height, at least 1
 * @n_results: number of entries in @results
 * @results: (array length=n_results): the region's top-k classes, best first
 * @feature_layer: (nullable): the layer of @features, %NULL when none
 * @n_features: number of floats in @features
 * @features: (array length=n_features): the region's feature vector
 *
 * The results of one region of a frame (vgginfer inference-region=roi-list
 * or regions=...).  Owned by its #GstVggMeta; read it with the
 * gst_vgg_meta_get_region() family from bindings.
 */
struct _GstVggRegion
{
  gint id;
  GQuark roi_type;
  guint x, y, w, h;

  guint n_results;
  GstVggClassification *results;

  const gchar *feature_layer;
  guint n_features;
  gfloat *features;
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
 * @n_regions: number of entries in @regions
 * @regions: (array length=n_regions): the results of each classified
 *   region of the frame, in the order of their ROI metas
 *
 * The results of a VGG network on one video frame: the frame's own
 * (@results, @features) when vgginfer ran on the whole frame, or each
 * region's (@regions) when it ran on regions of it.  The meta owns all
 * its data; use the accessors from bindings.
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

  guint n_regions;
  GstVggRegion *regions;
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

GST_VGG_META_API guint gst_vgg_meta_add_region (GstVggMeta *meta, gint id,
    const gchar *roi_type, guint x, guint y, guint w, guint h);
GST_VGG_META_API void gst_vgg_meta_set_region_results (GstVggMeta *meta,
    guint region, const GstVggClassification *results, guint n_results);
GST_VGG_META_API void gst_vgg_meta_set_region_features (GstVggMeta *meta,
    guint region, const gchar *layer, const gfloat *features,
    guint n_features);

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
GST_VGG_META_API guint gst_vgg_meta_get_n_regions (const GstVggMeta *meta);
GST_VGG_META_API gboolean gst_vgg_meta_get_region (const GstVggMeta *meta,
    guint region, gint *id, const gchar **roi_type, guint *x, guint *y,
    guint *w, guint *h);
GST_VGG_META_API guint gst_vgg_meta_get_region_n_results (
    const GstVggMeta *meta, guint region);
GST_VGG_META_API gboolean gst_vgg_meta_get_region_result (
    const GstVggMeta *meta, guint region, guint index, gint *class_id,
    gfloat *score, const gchar **label);
GST_VGG_META_API const gchar *gst_vgg_meta_get_region_feature_layer (
    const GstVggMeta *meta, guint region);
GST_VGG_META_API const gfloat *gst_vgg_meta_get_region_features (
    const GstVggMeta *meta, guint region, guint *n_features);

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

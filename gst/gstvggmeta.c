/* GstVggMeta: classification results and feature vectors of vgginfer.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
/**
 * SECTION:gstvggmeta
 * @title: GstVggMeta
 * @short_description: results of the vgginfer element on a video frame
 *
 * vgginfer attaches one #GstVggMeta to every frame it runs the network on:
 * the top-k classes with their labels and scores (mode=classify) or the
 * feature vector of one layer (mode=features), the model's name and the
 * inference time; when it classifies regions of the frame
 * (inference-region=roi-list, regions), the same for each region, with
 * the region's ROI id, type and box (#GstVggRegion).  The meta owns its data and is copied with the buffer
 * (by gst_buffer_copy(), gst_buffer_make_writable() and the video
 * converters, which keep metas that carry no tags).
 *
 * Applications that do not link this library see the same results as
 * element messages named "vgginfer" on the bus.
 */
#include "gstvggmeta.h"

#include <gst/video/video.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

static void
gst_vgg_meta_clear_results (GstVggMeta *meta)
{
  g_clear_pointer (&meta->results, g_free);
  meta->n_results = 0;
}

static void
gst_vgg_meta_clear_features (GstVggMeta *meta)
{
  g_clear_pointer (&meta->features, g_free);
  meta->n_features = 0;
  meta->feature_layer = NULL;
}

static void
gst_vgg_meta_clear_regions (GstVggMeta *meta)
{
  for (guint i = 0; i < meta->n_regions; i++) {
    g_free (meta->regions[i].results);
    g_free (meta->regions[i].features);
  }
  g_clear_pointer (&meta->regions, g_free);
  meta->n_regions = 0;
}

static gboolean
gst_vgg_meta_init (GstMeta *meta, gpointer params, GstBuffer *buffer)
{
  GstVggMeta *vmeta = (GstVggMeta *) meta;

  vmeta->model_name = NULL;
  vmeta->inference_ms = 0.0;
  vmeta->n_results = 0;
  vmeta->results = NULL;
  vmeta->feature_layer = NULL;
  vmeta->n_features = 0;
  vmeta->features = NULL;
  vmeta->n_regions = 0;
  vmeta->regions = NULL;
  return TRUE;
}

static void
gst_vgg_meta_free (GstMeta *meta, GstBuffer *buffer)
{
  GstVggMeta *vmeta = (GstVggMeta *) meta;

  g_clear_pointer (&vmeta->model_name, g_free);
  gst_vgg_meta_clear_results (vmeta);
  gst_vgg_meta_clear_features (vmeta);
  gst_vgg_meta_clear_regions (vmeta);
}

/* The results describe the picture, so every transform (copy, scale,
 * format conversion) keeps them.  The meta has no tags, which is what
 * lets videoconvert and videoscale keep it: they copy it without calling
 * a scale transform, so the regions' boxes stay in the pixels vgginfer
 * saw; an element that does call one gets them moved with the picture. */
static gboolean
gst_vgg_meta_transform (GstBuffer *dest, GstMeta *meta, GstBuffer *buffer,
    GQuark type, gpointer data)
{
  GstVggMeta *src = (GstVggMeta *) meta, *dmeta;

  dmeta = gst_buffer_add_vgg_meta (dest);
  if (dmeta == NULL)
    return FALSE;
  gst_vgg_meta_set_model_name (dmeta, src->model_name);
  dmeta->inference_ms = src->inference_ms;
  gst_vgg_meta_set_results (dmeta, src->results, src->n_results);
  gst_vgg_meta_set_features (
      dmeta, src->feature_layer, src->features, src->n_features);
  for (guint i = 0; i < src->n_regions; i++) {
    const GstVggRegion *r = &src->regions[i];
    guint x = r->x, y = r->y, w = r->w, h = r->h, k;

    if (GST_VIDEO_META_TRANSFORM_IS_SCALE (type)) {
      GstVideoMetaTransform *trans = data;
      gint iw = GST_VIDEO_INFO_WIDTH (trans->in_info);
      gint ih = GST_VIDEO_INFO_HEIGHT (trans->in_info);
      gint ow = GST_VIDEO_INFO_WIDTH (trans->out_info);
      gint oh = GST_VIDEO_INFO_HEIGHT (trans->out_info);

      if (iw > 0 && ih > 0) {
        x = (guint) gst_util_uint64_scale_int (r->x, ow, iw);
        y = (guint) gst_util_uint64_scale_int (r->y, oh, ih);
        w = MAX (1, (guint) gst_util_uint64_scale_int (r->w, ow, iw));
        h = MAX (1, (guint) gst_util_uint64_scale_int (r->h, oh, ih));
      }
    }
    k = gst_vgg_meta_add_region (dmeta, r->id,
        r->roi_type ? g_quark_to_string (r->roi_type) : NULL, x, y, w, h);
    gst_vgg_meta_set_region_results (dmeta, k, r->results, r->n_results);
    gst_vgg_meta_set_region_features (
        dmeta, k, r->feature_layer, r->features, r->n_features);
  }
  return TRUE;
}

GType
gst_vgg_meta_api_get_type (void)
{
  static GType type = 0;
  static const gchar *tags[] = { NULL };

  if (g_once_init_enter (&type)) {
    GType t = gst_meta_api_type_register ("GstVggMetaAPI", tags);
    g_once_init_leave (&type, t);
  }
  return type;
}

const GstMetaInfo *
gst_vgg_meta_get_info (void)
{
  static const GstMetaInfo *info = NULL;

  if (g_once_init_enter ((GstMetaInfo **) &info)) {
    const GstMetaInfo *mi = gst_meta_register (GST_VGG_META_API_TYPE,
        "GstVggMeta", sizeof (GstVggMeta), gst_vgg_meta_init, gst_vgg_meta_free,
        gst_vgg_meta_transform);
    g_once_init_leave ((GstMetaInfo **) &info, (GstMetaInfo *) mi);
  }
  return info;
}

/**
 * gst_buffer_add_vgg_meta:
 * @buffer: a writable #GstBuffer
 *
 * Adds an empty #GstVggMeta to @buffer.
 *
 * Returns: (transfer none): the new meta, owned by @buffer
 */
GstVggMeta *
gst_buffer_add_vgg_meta (GstBuffer *buffer)
{
  g_return_val_if_fail (GST_IS_BUFFER (buffer), NULL);
  return (GstVggMeta *) gst_buffer_add_meta (buffer, GST_VGG_META_INFO, NULL);
}

/**
 * gst_buffer_get_vgg_meta:
 * @buffer: a #GstBuffer
 *
 * Returns: (transfer none) (nullable): the #GstVggMeta of @buffer, or %NULL
 */
GstVggMeta *
gst_buffer_get_vgg_meta (GstBuffer *buffer)
{
  g_return_val_if_fail (GST_IS_BUFFER (buffer), NULL);
  return (GstVggMeta *) gst_buffer_get_meta (buffer, GST_VGG_META_API_TYPE);
}

/**
 * gst_vgg_meta_set_model_name:
 * @meta: a #GstVggMeta
 * @name: (nullable): the model's name, copied
 */
void
gst_vgg_meta_set_model_name (GstVggMeta *meta, const gchar *name)
{
  g_return_if_fail (meta != NULL);
  g_free (meta->model_name);
  meta->model_name = g_strdup (name);
}

/**
 * gst_vgg_meta_set_results:
 * @meta: a #GstVggMeta
 * @results: (array length=n_results) (nullable): the top-k entries, copied
 * @n_results: number of entries
 *
 * Replaces the top-k list of @meta.
 */
void
gst_vgg_meta_set_results (
    GstVggMeta *meta, const GstVggClassification *results, guint n_results)
{
  g_return_if_fail (meta != NULL);
  g_return_if_fail (results != NULL || n_results == 0);
  gst_vgg_meta_clear_results (meta);
  if (n_results > 0) {
    meta->results = g_memdup2 (results, sizeof (*results) * n_results);
    meta->n_results = n_results;
  }
}

/**
 * gst_vgg_meta_set_features:
 * @meta: a #GstVggMeta
 * @layer: (nullable): the layer's name, an interned or static string
 *   ("fc7", "fc6", "pool5", "logits")
 * @features: (array length=n_features) (nullable): the vector, copied
 * @n_features: its number of floats
 *
 * Replaces the feature vector of @meta.
 */
void
gst_vgg_meta_set_features (GstVggMeta *meta, const gchar *layer,
    const gfloat *features, guint n_features)
{
  g_return_if_fail (meta != NULL);
  g_return_if_fail (features != NULL || n_features == 0);
  gst_vgg_meta_clear_features (meta);
  if (n_features > 0) {
    meta->features = g_memdup2 (features, sizeof (gfloat) * n_features);
    meta->n_features = n_features;
    meta->feature_layer = g_intern_string (layer);
  }
}

/**
 * gst_vgg_meta_add_region:
 * @meta: a #GstVggMeta
 * @id: the @id of the region's #GstVideoRegionOfInterestMeta
 * @roi_type: (nullable): its type
 * @x: left edge of the box in frame pixels
 * @y: top edge
 * @w: width
 * @h: height
 *
 * Appends a region without results to @meta.
 *
 * Returns: the index of the new region
 */
guint
gst_vgg_meta_add_region (GstVggMeta *meta, gint id, const gchar *roi_type,
    guint x, guint y, guint w, guint h)
{
  GstVggRegion *r;

  g_return_val_if_fail (meta != NULL, 0);
  meta->regions = g_renew (GstVggRegion, meta->regions, meta->n_regions + 1);
  r = &meta->regions[meta->n_regions];
  memset (r, 0, sizeof (*r));
  r->id = id;
  r->roi_type = roi_type ? g_quark_from_string (roi_type) : 0;
  r->x = x;
  r->y = y;
  r->w = w;
  r->h = h;
  return meta->n_regions++;
}

/**
 * gst_vgg_meta_set_region_results:
 * @meta: a #GstVggMeta
 * @region: index of a region (see gst_vgg_meta_add_region())
 * @results: (array length=n_results) (nullable): the top-k entries, copied
 * @n_results: number of entries
 *
 * Replaces the top-k list of a region.
 */
void
gst_vgg_meta_set_region_results (GstVggMeta *meta, guint region,
    const GstVggClassification *results, guint n_results)
{
  GstVggRegion *r;

  g_return_if_fail (meta != NULL && region < meta->n_regions);
  g_return_if_fail (results != NULL || n_results == 0);
  r = &meta->regions[region];
  g_clear_pointer (&r->results, g_free);
  r->n_results = n_results;
  if (n_results > 0)
    r->results = g_memdup2 (results, sizeof (*results) * n_results);
}

/**
 * gst_vgg_meta_set_region_features:
 * @meta: a #GstVggMeta
 * @region: index of a region
 * @layer: (nullable): the layer's name
 * @features: (array length=n_features) (nullable): the vector, copied
 * @n_features: its number of floats
 *
 * Replaces the feature vector of a region.
 */
void
gst_vgg_meta_set_region_features (GstVggMeta *meta, guint region,
    const gchar *layer, const gfloat *features, guint n_features)
{
  GstVggRegion *r;

  g_return_if_fail (meta != NULL && region < meta->n_regions);
  g_return_if_fail (features != NULL || n_features == 0);
  r = &meta->regions[region];
  g_clear_pointer (&r->features, g_free);
  r->n_features = n_features;
  r->feature_layer = NULL;
  if (n_features > 0) {
    r->features = g_memdup2 (features, sizeof (gfloat) * n_features);
    r->feature_layer = g_intern_string (layer);
  }
}

/**
 * gst_vgg_meta_get_model_name:
 * @meta: a #GstVggMeta
 *
 * Returns: (transfer none) (nullable): the model's name
 */
const gchar *
gst_vgg_meta_get_model_name (const GstVggMeta *meta)
{
  g_return_val_if_fail (meta != NULL, NULL);
  return meta->model_name;
}

/**
 * gst_vgg_meta_get_inference_ms:
 * @meta: a #GstVggMeta
 *
 * Returns: the inference time of the frame in milliseconds (its batch's
 *   time divided by the batch size)
 */
gdouble
gst_vgg_meta_get_inference_ms (const GstVggMeta *meta)
{
  g_return_val_if_fail (meta != NULL, 0.0);
  return meta->inference_ms;
}

/**
 * gst_vgg_meta_get_n_results:
 * @meta: a #GstVggMeta
 *
 * Returns: the number of top-k entries
 */
guint
gst_vgg_meta_get_n_results (const GstVggMeta *meta)
{
  g_return_val_if_fail (meta != NULL, 0);
  return meta->n_results;
}

static gboolean
get_classification (const GstVggClassification *results, guint n,
    guint index, gint *class_id, gfloat *score, const gchar **label)
{
  const GstVggClassification *r;

  if (index >= n)
    return FALSE;
  r = &results[index];
  if (class_id)
    *class_id = r->class_id;
  if (score)
    *score = r->score;
  if (label)
    *label = r->label ? g_quark_to_string (r->label) : NULL;
  return TRUE;
}

/**
 * gst_vgg_meta_get_result:
 * @meta: a #GstVggMeta
 * @index: entry index, 0 for the best class
 * @class_id: (out) (optional): the class index
 * @score: (out) (optional): its probability
 * @label: (out) (optional) (transfer none) (nullable): its label
 *
 * Returns: %TRUE when @index is below gst_vgg_meta_get_n_results()
 */
gboolean
gst_vgg_meta_get_result (const GstVggMeta *meta, guint index, gint *class_id,
    gfloat *score, const gchar **label)
{
  g_return_val_if_fail (meta != NULL, FALSE);
  return get_classification (
      meta->results, meta->n_results, index, class_id, score, label);
}

/**
 * gst_vgg_meta_get_feature_layer:
 * @meta: a #GstVggMeta
 *
 * Returns: (transfer none) (nullable): the layer of the feature vector
 */
const gchar *
gst_vgg_meta_get_feature_layer (const GstVggMeta *meta)
{
  g_return_val_if_fail (meta != NULL, NULL);
  return meta->feature_layer;
}

/**
 * gst_vgg_meta_get_features:
 * @meta: a #GstVggMeta
 * @n_features: (out): number of floats
 *
 * Returns: (transfer none) (array length=n_features) (nullable): the
 *   feature vector, owned by @meta
 */
const gfloat *
gst_vgg_meta_get_features (const GstVggMeta *meta, guint *n_features)
{
  g_return_val_if_fail (meta != NULL, NULL);
  if (n_features)
    *n_features = meta->n_features;
  return meta->features;
}

/**
 * gst_vgg_meta_get_n_regions:
 * @meta: a #GstVggMeta
 *
 * Returns: the number of classified regions
 */
guint
gst_vgg_meta_get_n_regions (const GstVggMeta *meta)
{
  g_return_val_if_fail (meta != NULL, 0);
  return meta->n_regions;
}

/**
 * gst_vgg_meta_get_region:
 * @meta: a #GstVggMeta
 * @region: index of the region, from 0
 * @id: (out) (optional): the id of its #GstVideoRegionOfInterestMeta
 * @roi_type: (out) (optional) (transfer none) (nullable): its type
 * @x: (out) (optional): left edge of the box in frame pixels
 * @y: (out) (optional): top edge
 * @w: (out) (optional): width
 * @h: (out) (optional): height
 *
 * Returns: %TRUE when @region is below gst_vgg_meta_get_n_regions()
 */
gboolean
gst_vgg_meta_get_region (const GstVggMeta *meta, guint region, gint *id,
    const gchar **roi_type, guint *x, guint *y, guint *w, guint *h)
{
  const GstVggRegion *r;

  g_return_val_if_fail (meta != NULL, FALSE);
  if (region >= meta->n_regions)
    return FALSE;
  r = &meta->regions[region];
  if (id)
    *id = r->id;
  if (roi_type)
    *roi_type = r->roi_type ? g_quark_to_string (r->roi_type) : NULL;
  if (x)
    *x = r->x;
  if (y)
    *y = r->y;
  if (w)
    *w = r->w;
  if (h)
    *h = r->h;
  return TRUE;
}

/**
 * gst_vgg_meta_get_region_n_results:
 * @meta: a #GstVggMeta
 * @region: index of the region
 *
 * Returns: the number of top-k entries of the region, 0 when there is no
 *   such region
 */
guint
gst_vgg_meta_get_region_n_results (const GstVggMeta *meta, guint region)
{
  g_return_val_if_fail (meta != NULL, 0);
  return region < meta->n_regions ? meta->regions[region].n_results : 0;
}

/**
 * gst_vgg_meta_get_region_result:
 * @meta: a #GstVggMeta
 * @region: index of the region
 * @index: entry index, 0 for the best class
 * @class_id: (out) (optional): the class index
 * @score: (out) (optional): its probability
 * @label: (out) (optional) (transfer none) (nullable): its label
 *
 * Returns: %TRUE when the region and the entry exist
 */
gboolean
gst_vgg_meta_get_region_result (const GstVggMeta *meta, guint region,
    guint index, gint *class_id, gfloat *score, const gchar **label)
{
  g_return_val_if_fail (meta != NULL, FALSE);
  if (region >= meta->n_regions)
    return FALSE;
  return get_classification (meta->regions[region].results,
      meta->regions[region].n_results, index, class_id, score, label);
}

/**
 * gst_vgg_meta_get_region_feature_layer:
 * @meta: a #GstVggMeta
 * @region: index of the region
 *
 * Returns: (transfer none) (nullable): the layer of the region's features
 */
const gchar *
gst_vgg_meta_get_region_feature_layer (const GstVggMeta *meta, guint region)
{
  g_return_val_if_fail (meta != NULL, NULL);
  return region < meta->n_regions ? meta->regions[region].feature_layer : NULL;
}

/**
 * gst_vgg_meta_get_region_features:
 * @meta: a #GstVggMeta
 * @region: index of the region
 * @n_features: (out): number of floats
 *
 * Returns: (transfer none) (array length=n_features) (nullable): the
 *   region's feature vector, owned by @meta
 */
const gfloat *
gst_vgg_meta_get_region_features (
    const GstVggMeta *meta, guint region, guint *n_features)
{
  g_return_val_if_fail (meta != NULL, NULL);
  if (region >= meta->n_regions) {
    if (n_features)
      *n_features = 0;
    return NULL;
  }
  if (n_features)
    *n_features = meta->regions[region].n_features;
  return meta->regions[region].features;
}

/* One serializer for the meta's JSON and vggpublish's records (schema 1,
 * README "The vggpublish element"): members in this order, numbers as
 * json-glib writes doubles (17 significant digits: the float32 value
 * exactly), NaN and infinities (which JSON lacks) as null. */
#define GST_VGG_JSON_SCHEMA 1

static void
add_number (JsonBuilder *b, const gchar *name, gdouble v)
{
  if (name)
    json_builder_set_member_name (b, name);
  if (isfinite (v))
    json_builder_add_double_value (b, v);
  else
    json_builder_add_null_value (b);
}

/* Bytes that are not UTF-8 (a label set by an application, in another
 * encoding) become U+FFFD, so that the output is always valid UTF-8 JSON. */
static void
add_string (JsonBuilder *b, const gchar *name, const gchar *s)
{
  json_builder_set_member_name (b, name);
  if (s == NULL) {
    json_builder_add_null_value (b);
  } else if (g_utf8_validate (s, -1, NULL)) {
    json_builder_add_string_value (b, s);
  } else {
    gchar *valid = g_utf8_make_valid (s, -1);
    json_builder_add_string_value (b, valid);
    g_free (valid);
  }
}

/* json-glib 1.6 escapes every control character but U+001F, which it
 * writes as the raw byte: JSON forbids that inside a string (RFC 8259,
 * section 7) and strict parsers (Python's json) refuse the record.  In
 * UTF-8 the byte 0x1f is only ever that character, and in our records
 * only ever inside a string: escape it there. */
static gchar *
escape_raw_unit_separators (gchar *text)
{
  GString *out;

  if (strchr (text, '\x1f') == NULL)
    return text;
  out = g_string_sized_new (strlen (text) + 16);
  for (const gchar *p = text; *p; p++) {
    if (*p == '\x1f')
      g_string_append (out, "\\u001f");
    else
      g_string_append_c (out, *p);
  }
  g_free (text);
  return g_string_free (out, FALSE);
}

/* features: float32 little-endian, as base64 (the layout numpy's
 * frombuffer(..., "<f4") reads) */
static void
add_features_base64 (JsonBuilder *b, const gfloat *f, guint n)
{
  guint32 *le = g_new (guint32, n);
  gchar *text;

  for (guint i = 0; i < n; i++) {
    guint32 bits;
    memcpy (&bits, &f[i], sizeof bits);
    le[i] = GUINT32_TO_LE (bits);
  }
  text = g_base64_encode ((const guchar *) le, sizeof (guint32) * n);
  json_builder_set_member_name (b, "features_base64");
  json_builder_add_string_value (b, text);
  g_free (text);
  g_free (le);
}

/* "results": the top-k list */
static void
add_results (JsonBuilder *b, const GstVggClassification *results, guint n)
{
  json_builder_set_member_name (b, "results");
  json_builder_begin_array (b);
  for (guint i = 0; i < n; i++) {
    const GstVggClassification *r = &results[i];

    json_builder_begin_object (b);
    json_builder_set_member_name (b, "class_id");
    json_builder_add_int_value (b, r->class_id);
    add_string (b, "label", r->label ? g_quark_to_string (r->label) : NULL);
    add_number (b, "score", r->score);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
}

/* "feature_layer", "n_features" and the vector, when there is one */
static void
add_features (JsonBuilder *b, const gchar *layer, const gfloat *features,
    guint n, GstVggFeaturesFormat format)
{
  if (n == 0 || format == GST_VGG_FEATURES_FORMAT_NONE)
    return;
  add_string (b, "feature_layer", layer);
  json_builder_set_member_name (b, "n_features");
  json_builder_add_int_value (b, n);
  if (format == GST_VGG_FEATURES_FORMAT_BASE64) {
    add_features_base64 (b, features, n);
  } else {
    json_builder_set_member_name (b, "features");
    json_builder_begin_array (b);
    for (guint i = 0; i < n; i++)
      add_number (b, NULL, features[i]);
    json_builder_end_array (b);
  }
}

/* The members of one record; @meta may be NULL (a frame without results),
 * @frame NULL leaves out "stream", "frame" and "timestamp". */
typedef struct
{
  const gchar *stream;
  guint64 frame;
  GstClockTime timestamp;
} GstVggJsonFrame;

static gchar *
gst_vgg_json_record (const GstVggMeta *meta, const GstVggJsonFrame *frame,
    GstVggFeaturesFormat features_format)
{
  JsonBuilder *b = json_builder_new ();
  JsonGenerator *gen = json_generator_new ();
  JsonNode *root;
  gchar *text;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "schema");
  json_builder_add_int_value (b, GST_VGG_JSON_SCHEMA);
  if (frame) {
    add_string (b, "stream", frame->stream);
    json_builder_set_member_name (b, "frame");
    json_builder_add_int_value (b, (gint64) frame->frame);
    json_builder_set_member_name (b, "timestamp");
    if (GST_CLOCK_TIME_IS_VALID (frame->timestamp))
      json_builder_add_int_value (b, (gint64) frame->timestamp);
    else
      json_builder_add_null_value (b);
  }
  add_string (b, "model", meta ? meta->model_name : NULL);
  add_number (b, "inference_ms", meta ? meta->inference_ms : 0.0);
  add_results (b, meta ? meta->results : NULL, meta ? meta->n_results : 0);
  if (meta)
    add_features (b, meta->feature_layer, meta->features, meta->n_features,
        features_format);
  json_builder_set_member_name (b, "regions");
  json_builder_begin_array (b);
  for (guint i = 0; meta && i < meta->n_regions; i++) {
    const GstVggRegion *r = &meta->regions[i];

    json_builder_begin_object (b);
    json_builder_set_member_name (b, "id");
    json_builder_add_int_value (b, r->id);
    add_string (
        b, "type", r->roi_type ? g_quark_to_string (r->roi_type) : NULL);
    json_builder_set_member_name (b, "x");
    json_builder_add_int_value (b, r->x);
    json_builder_set_member_name (b, "y");
    json_builder_add_int_value (b, r->y);
    json_builder_set_member_name (b, "w");
    json_builder_add_int_value (b, r->w);
    json_builder_set_member_name (b, "h");
    json_builder_add_int_value (b, r->h);
    add_results (b, r->results, r->n_results);
    add_features (b, r->feature_layer, r->features, r->n_features,
        features_format);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  json_builder_end_object (b);

  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  text = escape_raw_unit_separators (json_generator_to_data (gen, NULL));
  json_node_unref (root);
  g_object_unref (gen);
  g_object_unref (b);
  return text;
}

GType
gst_vgg_features_format_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    { GST_VGG_FEATURES_FORMAT_NONE, "Leave the feature vector out", "none" },
    { GST_VGG_FEATURES_FORMAT_ARRAY, "An array of numbers", "array" },
    { GST_VGG_FEATURES_FORMAT_BASE64,
        "Base64 of the little-endian float32 values", "base64" },
    { 0, NULL, NULL },
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstVggFeaturesFormat", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

/**
 * gst_vgg_meta_to_json:
 * @meta: a #GstVggMeta
 *
 * Serializes @meta as one JSON object of schema 1, the record that
 * vggpublish writes for a frame without its "stream", "frame" and
 * "timestamp" members: `{"schema": 1, "model": "vgg16", "inference_ms":
 * 310.2, "results": [{"class_id": 409, "label": "analog clock", "score":
 * 0.91}, ...], "feature_layer": "fc7", "n_features": 4096, "features":
 * [0.0, 1.25, ...], "regions": [{"id": 0, "type": "face", "x": 10, "y":
 * 20, "w": 64, "h": 80, "results": [...], ...}]}` (the feature members
 * only when the frame or region has a feature vector; "label" is null for
 * models without labels; "regions" in the order of the meta's regions,
 * each with the members of a frame's results and features).  The README
 * gives the schema.
 *
 * Returns: (transfer full): a newly allocated string, free with g_free()
 */
gchar *
gst_vgg_meta_to_json (const GstVggMeta *meta)
{
  g_return_val_if_fail (meta != NULL, NULL);
  return gst_vgg_json_record (meta, NULL, GST_VGG_FEATURES_FORMAT_ARRAY);
}

/**
 * gst_vgg_frame_to_json:
 * @buffer: a #GstBuffer, with or without a #GstVggMeta
 * @stream: (nullable): the name of the stream, the "stream" member
 * @frame: the number of @buffer in its stream, the "frame" member
 * @features_format: how a feature vector is written
 *
 * Serializes the results of one frame as the JSON object (schema 1) that
 * vggpublish writes: "stream", "frame", "timestamp" (the PTS of @buffer in
 * nanoseconds, null when it has none) and the members of
 * gst_vgg_meta_to_json(), with empty results when @buffer has no meta.
 *
 * Returns: (transfer full): a newly allocated string, one line, free with
 *   g_free()
 */
gchar *
gst_vgg_frame_to_json (GstBuffer *buffer, const gchar *stream, guint64 frame,
    GstVggFeaturesFormat features_format)
{
  GstVggJsonFrame f;

  g_return_val_if_fail (GST_IS_BUFFER (buffer), NULL);
  f.stream = stream;
  f.frame = frame;
  f.timestamp = GST_BUFFER_PTS (buffer);
  return gst_vgg_json_record (
      gst_buffer_get_vgg_meta (buffer), &f, features_format);
}

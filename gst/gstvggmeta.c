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
 * inference time.  The meta owns its data and is copied with the buffer
 * (by gst_buffer_copy(), gst_buffer_make_writable() and the video
 * converters, which keep metas that carry no tags).
 *
 * Applications that do not link this library see the same results as
 * element messages named "vgginfer" on the bus.
 */
#include "gstvggmeta.h"

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
  return TRUE;
}

static void
gst_vgg_meta_free (GstMeta *meta, GstBuffer *buffer)
{
  GstVggMeta *vmeta = (GstVggMeta *) meta;

  g_clear_pointer (&vmeta->model_name, g_free);
  gst_vgg_meta_clear_results (vmeta);
  gst_vgg_meta_clear_features (vmeta);
}

/* The results describe the whole picture, so every transform (copy, scale,
 * format conversion) keeps them as they are. */
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
  const GstVggClassification *r;

  g_return_val_if_fail (meta != NULL, FALSE);
  if (index >= meta->n_results)
    return FALSE;
  r = &meta->results[index];
  if (class_id)
    *class_id = r->class_id;
  if (score)
    *score = r->score;
  if (label)
    *label = r->label ? g_quark_to_string (r->label) : NULL;
  return TRUE;
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

/* A JSON string of s; bytes that are not UTF-8 (a label from a file in
 * another encoding, set by an application) become U+FFFD, so that the
 * output is always valid UTF-8 JSON. */
static void
append_json_string (GString *out, const gchar *s)
{
  const gchar *end;

  if (s == NULL) {
    g_string_append (out, "null");
    return;
  }
  end = s + strlen (s);
  g_string_append_c (out, '"');
  for (; *s; s++) {
    guchar c = (guchar) *s;
    if (c >= 0x80) {
      gunichar u = g_utf8_get_char_validated (s, end - s);
      if (u == (gunichar) -1 || u == (gunichar) -2) {
        g_string_append (out, "\\ufffd");
      } else {
        const gchar *next = g_utf8_next_char (s);
        g_string_append_len (out, s, next - s);
        s = next - 1;
      }
      continue;
    }
    switch (c) {
      case '"':
        g_string_append (out, "\\\"");
        break;
      case '\\':
        g_string_append (out, "\\\\");
        break;
      case '\n':
        g_string_append (out, "\\n");
        break;
      case '\t':
        g_string_append (out, "\\t");
        break;
      case '\r':
        g_string_append (out, "\\r");
        break;
      default:
        if (c < 0x20)
          g_string_append_printf (out, "\\u%04x", c);
        else
          g_string_append_c (out, (gchar) c);
    }
  }
  g_string_append_c (out, '"');
}

/* JSON has no NaN or infinity: those become null. */
static void
append_json_number (GString *out, gdouble v)
{
  gchar buf[G_ASCII_DTOSTR_BUF_SIZE];

  if (!isfinite (v)) {
    g_string_append (out, "null");
    return;
  }
  g_string_append (out, g_ascii_formatd (buf, sizeof buf, "%.9g", v));
}

/**
 * gst_vgg_meta_to_json:
 * @meta: a #GstVggMeta
 *
 * Serializes @meta as one JSON object:
 * `{"model": "vgg16", "inference_ms": 310.2, "results": [{"class_id": 409,
 * "label": "analog clock", "score": 0.91}, ...], "feature_layer": "fc7",
 * "features": [0.0, 1.25, ...]}` ("feature_layer" and "features" only when
 * the meta has a feature vector; "label" is null for models without
 * labels).
 *
 * Returns: (transfer full): a newly allocated string, free with g_free()
 */
gchar *
gst_vgg_meta_to_json (const GstVggMeta *meta)
{
  GString *out;

  g_return_val_if_fail (meta != NULL, NULL);
  out = g_string_new ("{\"model\": ");
  append_json_string (out, meta->model_name);
  g_string_append (out, ", \"inference_ms\": ");
  append_json_number (out, meta->inference_ms);
  g_string_append (out, ", \"results\": [");
  for (guint i = 0; i < meta->n_results; i++) {
    const GstVggClassification *r = &meta->results[i];
    g_string_append_printf (
        out, "%s{\"class_id\": %d, \"label\": ", i ? ", " : "", r->class_id);
    append_json_string (out, r->label ? g_quark_to_string (r->label) : NULL);
    g_string_append (out, ", \"score\": ");
    append_json_number (out, r->score);
    g_string_append_c (out, '}');
  }
  g_string_append_c (out, ']');
  if (meta->n_features > 0) {
    g_string_append (out, ", \"feature_layer\": ");
    append_json_string (out, meta->feature_layer);
    g_string_append (out, ", \"features\": [");
    for (guint i = 0; i < meta->n_features; i++) {
      if (i)
        g_string_append (out, ", ");
      append_json_number (out, meta->features[i]);
    }
    g_string_append_c (out, ']');
  }
  g_string_append_c (out, '}');
  return g_string_free (out, FALSE);
}

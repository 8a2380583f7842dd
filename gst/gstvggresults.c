/* The network's output rows to results on a frame.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "gstvggresults.h"

#include <math.h>
#include <string.h>

guint
gst_vgg_top_k (const gfloat *probs, gint n, guint k, gdouble threshold,
    const GQuark *labels, GstVggClassification *top)
{
  guint count = 0;

  k = MIN (k, (guint) n);
  for (gint c = 0; c < n; c++) {
    gfloat p = probs[c];
    guint pos;
    /* written so that NaN (every comparison false) never passes */
    if (!(p >= threshold) || (count == k && !(p > top[k - 1].score)))
      continue;
    /* insertion into the sorted top list; ties keep the lower class id */
    pos = count < k ? count++ : k - 1;
    while (pos > 0 && top[pos - 1].score < p) {
      top[pos] = top[pos - 1];
      pos--;
    }
    top[pos].class_id = c;
    top[pos].score = p;
    top[pos].label = labels[c];
  }
  return count;
}

void
gst_vgg_l2_normalize (const gfloat *in, gfloat *out, gint n)
{
  gdouble sum = 0.0;
  gfloat scale;

  for (gint i = 0; i < n; i++)
    sum += (gdouble) in[i] * in[i];
  scale = sum > 0.0 ? (gfloat) (1.0 / sqrt (sum)) : 1.0f;
  for (gint i = 0; i < n; i++)
    out[i] = in[i] * scale;
}

void
gst_vgg_results_clear (GstVggResults *r)
{
  g_clear_pointer (&r->top, g_free);
  g_clear_pointer (&r->features, g_free);
  r->top_alloc = r->features_alloc = 0;
}

/* The top-k of a probs row into r->top; returns how many. */
static guint
results_top_k (GstVggResults *r, const GstVggModelInfo *info,
    const GstVggResultsSettings *settings, const gfloat *probs, gint dims)
{
  guint k = MIN (settings->top_k, (guint) dims);

  if (r->top_alloc < k) {
    r->top = g_renew (GstVggClassification, r->top, k);
    r->top_alloc = k;
  }
  return gst_vgg_top_k (
      probs, dims, k, settings->threshold, info->labels, r->top);
}

/* A features row as attached: itself, or L2-normalized into r. */
static const gfloat *
results_features (GstVggResults *r, const GstVggResultsSettings *settings,
    const gfloat *feats, gint dims)
{
  if (!settings->normalize_features)
    return feats;
  if (r->features_alloc < (guint) dims) {
    r->features = g_renew (gfloat, r->features, dims);
    r->features_alloc = dims;
  }
  gst_vgg_l2_normalize (feats, r->features, dims);
  return r->features;
}

GstVggMeta *
gst_vgg_results_attach (GstVggResults *r, GstBuffer *buffer,
    const GstVggModelInfo *info, const GstVggResultsSettings *settings,
    gdouble inference_ms, const gfloat *probs, gint probs_dims,
    const gfloat *feats, gint feat_dims)
{
  GstVggMeta *meta = gst_buffer_add_vgg_meta (buffer);

  gst_vgg_meta_set_model_name (meta, vgg_model_get_name (info->model));
  meta->inference_ms = inference_ms;
  if (probs) {
    /* (results_top_k may move r->top: called before it is read) */
    guint n = results_top_k (r, info, settings, probs, probs_dims);
    gst_vgg_meta_set_results (meta, r->top, n);
  }
  if (feats)
    gst_vgg_meta_set_features (meta, settings->feature_layer,
        results_features (r, settings, feats, feat_dims), feat_dims);
  return meta;
}

/* A GstValueArray of the values of one type that `get` reads from each
 * of n entries. */
static void
take_array (GstStructure *s, const gchar *field, GType type, guint n,
    void (*set) (GValue *v, gconstpointer entries, guint i),
    gconstpointer entries)
{
  GValue array = G_VALUE_INIT;

  gst_value_array_init (&array, n);
  for (guint i = 0; i < n; i++) {
    GValue v = G_VALUE_INIT;
    g_value_init (&v, type);
    set (&v, entries, i);
    gst_value_array_append_and_take_value (&array, &v);
  }
  gst_structure_take_value (s, field, &array);
}

static void
set_class_id (GValue *v, gconstpointer entries, guint i)
{
  g_value_set_int (v, ((const GstVggClassification *) entries)[i].class_id);
}

static void
set_label (GValue *v, gconstpointer entries, guint i)
{
  GQuark label = ((const GstVggClassification *) entries)[i].label;
  g_value_set_static_string (v, label ? g_quark_to_string (label) : "");
}

static void
set_score_double (GValue *v, gconstpointer entries, guint i)
{
  g_value_set_double (v, ((const GstVggClassification *) entries)[i].score);
}

static void
set_score (GValue *v, gconstpointer entries, guint i)
{
  g_value_set_float (v, ((const GstVggClassification *) entries)[i].score);
}

static void
set_feature (GValue *v, gconstpointer entries, guint i)
{
  g_value_set_float (v, ((const gfloat *) entries)[i]);
}

void
gst_vgg_results_attach_region (GstVggResults *r, GstVggMeta *meta, const GstVggRoi *roi, const GstVggModelInfo *info,
    const GstVggResultsSettings *settings, const gfloat *probs,
    gint probs_dims, const gfloat *feats, gint feat_dims)
{
  GstVideoRegionOfInterestMeta *roi_meta;
  guint region = gst_vgg_meta_add_region (meta, roi->id,
      g_quark_to_string (roi->roi_type), roi->box[0], roi->box[1], roi->box[2],
      roi->box[3]);
  guint n;
  GstStructure *s;

  if (feats)
    gst_vgg_meta_set_region_features (meta, region, settings->feature_layer,
        results_features (r, settings, feats, feat_dims), feat_dims);
  if (probs == NULL)
    return;
  n = results_top_k (r, info, settings, probs, probs_dims);
  gst_vgg_meta_set_region_results (meta, region, r->top, n);
  roi_meta = roi->meta;
  if (n == 0 || roi_meta == NULL)
    return;
  /* DL Streamer's classification result, which its tools and ours read */
  s = gst_structure_new ("classification", "type", G_TYPE_STRING,
      "classification_result", "model_name", G_TYPE_STRING,
      vgg_model_get_name (info->model), "layer_name", G_TYPE_STRING,
      settings->feature_layer, "label", G_TYPE_STRING,
      r->top[0].label ? g_quark_to_string (r->top[0].label) : "", "label_id",
      G_TYPE_INT, r->top[0].class_id, "confidence", G_TYPE_DOUBLE,
      (gdouble) r->top[0].score, NULL);
  take_array (s, "label_ids", G_TYPE_INT, n, set_class_id, r->top);
  take_array (s, "labels", G_TYPE_STRING, n, set_label, r->top);
  take_array (s, "confidences", G_TYPE_DOUBLE, n, set_score_double, r->top);
  gst_video_region_of_interest_meta_add_param (roi_meta, s);
}

/* The top-k and features fields of a frame's or a region's results. */
static void
set_results_fields (GstStructure *s, const GstVggClassification *results,
    guint n, const gchar *feature_layer, const gfloat *features,
    guint n_features)
{
  take_array (s, "class-ids", G_TYPE_INT, n, set_class_id, results);
  take_array (s, "labels", G_TYPE_STRING, n, set_label, results);
  take_array (s, "scores", G_TYPE_FLOAT, n, set_score, results);
  if (n_features > 0) {
    gst_structure_set (s, "feature-layer", G_TYPE_STRING, feature_layer, NULL);
    take_array (
        s, "features", G_TYPE_FLOAT, n_features, set_feature, features);
  }
}

GstStructure *
gst_vgg_results_to_structure (GstBuffer *buffer, const GstVggMeta *meta,
    const GstSegment *segment, gboolean by_regions, guint rois_skipped)
{
  GstStructure *s;
  GstClockTime ts = GST_BUFFER_PTS (buffer);
  GstClockTime stream_time = GST_CLOCK_TIME_NONE;
  GstClockTime running_time = GST_CLOCK_TIME_NONE;

  /* a segment in bytes, buffers or anything but time (filesrc !
   * capsfilter, appsrc's default) has no stream or running time for a
   * timestamp: GST_CLOCK_TIME_NONE then */
  if (segment->format == GST_FORMAT_TIME) {
    stream_time = gst_segment_to_stream_time (segment, GST_FORMAT_TIME, ts);
    /* in reverse, running time counts from the stop, which the segment
     * must then have (else a CRITICAL) */
    if (segment->rate > 0.0 || GST_CLOCK_TIME_IS_VALID (segment->stop))
      running_time = gst_segment_to_running_time (segment, GST_FORMAT_TIME, ts);
  }
  s = gst_structure_new ("vgginfer", "timestamp", G_TYPE_UINT64, ts,
      "stream-time", G_TYPE_UINT64, stream_time, "running-time", G_TYPE_UINT64,
      running_time, "duration", G_TYPE_UINT64, GST_BUFFER_DURATION (buffer),
      "model", G_TYPE_STRING, meta->model_name, "inference-ms", G_TYPE_DOUBLE,
      meta->inference_ms, NULL);
  set_results_fields (s, meta->results, meta->n_results, meta->feature_layer,
      meta->features, meta->n_features);
  if (meta->n_regions > 0 || by_regions) {
    GValue regions = G_VALUE_INIT;

    gst_value_array_init (&regions, meta->n_regions);
    for (guint i = 0; i < meta->n_regions; i++) {
      const GstVggRegion *r = &meta->regions[i];
      GValue v = G_VALUE_INIT;
      GstStructure *rs = gst_structure_new ("region", "id", G_TYPE_INT, r->id,
          "type", G_TYPE_STRING,
          r->roi_type ? g_quark_to_string (r->roi_type) : "", "x", G_TYPE_UINT,
          r->x, "y", G_TYPE_UINT, r->y, "w", G_TYPE_UINT, r->w, "h",
          G_TYPE_UINT, r->h, NULL);

      set_results_fields (rs, r->results, r->n_results, r->feature_layer,
          r->features, r->n_features);
      g_value_init (&v, GST_TYPE_STRUCTURE);
      g_value_take_boxed (&v, rs);
      gst_value_array_append_and_take_value (&regions, &v);
    }
    gst_structure_take_value (s, "regions", &regions);
    gst_structure_set (s, "rois-skipped", G_TYPE_UINT, rois_skipped, NULL);
  }
  return s;
}

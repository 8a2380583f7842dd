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
    guint k = MIN (settings->top_k, (guint) probs_dims), n;
    if (r->top_alloc < k) {
      r->top = g_renew (GstVggClassification, r->top, k);
      r->top_alloc = k;
    }
    n = gst_vgg_top_k (
        probs, probs_dims, k, settings->threshold, info->labels, r->top);
    gst_vgg_meta_set_results (meta, r->top, n);
  }
  if (feats) {
    const gfloat *f = feats;
    if (settings->normalize_features) {
      if (r->features_alloc < (guint) feat_dims) {
        r->features = g_renew (gfloat, r->features, feat_dims);
        r->features_alloc = feat_dims;
      }
      gst_vgg_l2_normalize (feats, r->features, feat_dims);
      f = r->features;
    }
    gst_vgg_meta_set_features (meta, settings->feature_layer, f, feat_dims);
  }
  return meta;
}

GstStructure *
gst_vgg_results_to_structure (
    GstBuffer *buffer, const GstVggMeta *meta, const GstSegment *segment)
{
  GstStructure *s;
  GValue ids = G_VALUE_INIT, labels = G_VALUE_INIT, scores = G_VALUE_INIT;
  GValue v = G_VALUE_INIT;
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
  gst_value_array_init (&ids, meta->n_results);
  gst_value_array_init (&labels, meta->n_results);
  gst_value_array_init (&scores, meta->n_results);
  for (guint i = 0; i < meta->n_results; i++) {
    const GstVggClassification *r = &meta->results[i];
    g_value_init (&v, G_TYPE_INT);
    g_value_set_int (&v, r->class_id);
    gst_value_array_append_and_take_value (&ids, &v);
    memset (&v, 0, sizeof v);
    g_value_init (&v, G_TYPE_STRING);
    g_value_set_static_string (
        &v, r->label ? g_quark_to_string (r->label) : "");
    gst_value_array_append_and_take_value (&labels, &v);
    memset (&v, 0, sizeof v);
    g_value_init (&v, G_TYPE_FLOAT);
    g_value_set_float (&v, r->score);
    gst_value_array_append_and_take_value (&scores, &v);
    memset (&v, 0, sizeof v);
  }
  gst_structure_take_value (s, "class-ids", &ids);
  gst_structure_take_value (s, "labels", &labels);
  gst_structure_take_value (s, "scores", &scores);
  if (meta->n_features > 0) {
    GValue features = G_VALUE_INIT;
    gst_value_array_init (&features, meta->n_features);
    for (guint i = 0; i < meta->n_features; i++) {
      g_value_init (&v, G_TYPE_FLOAT);
      g_value_set_float (&v, meta->features[i]);
      gst_value_array_append_and_take_value (&features, &v);
      memset (&v, 0, sizeof v);
    }
    gst_structure_set (
        s, "feature-layer", G_TYPE_STRING, meta->feature_layer, NULL);
    gst_structure_take_value (s, "features", &features);
  }
  return s;
}

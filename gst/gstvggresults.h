/* The network's output rows to results on a frame: top-k, L2-normalized
 * features, the GstVggMeta and the element message.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __GST_VGG_RESULTS_H__
#define __GST_VGG_RESULTS_H__

#include <gst/gst.h>

#include "gstvggmeta.h"
#include "gstvggmodelinfo.h"
#include "gstvggregions.h"

G_BEGIN_DECLS

/* The k best of probs (n) with p >= threshold into top (at least
 * MIN (k, n) entries), best first, ties to the lower class id, labels from
 * `labels` (n quarks); returns how many.  NaN never passes. */
guint gst_vgg_top_k (const gfloat *probs, gint n, guint k, gdouble threshold,
    const GQuark *labels, GstVggClassification *top);

/* out = in / ||in||_2 (n values; a zero vector is copied). */
void gst_vgg_l2_normalize (const gfloat *in, gfloat *out, gint n);

/* What a frame's results are made of, for one batch. */
typedef struct
{
  guint top_k;
  gdouble threshold;
  gboolean normalize_features;
  const gchar *feature_layer; /* static, the engine's name */
} GstVggResultsSettings;

/* Scratch of the streaming thread, sized as results grow; embedded,
 * cleared with gst_vgg_results_clear. */
typedef struct
{
  GstVggClassification *top;
  guint top_alloc;
  gfloat *features;
  guint features_alloc;
} GstVggResults;

void gst_vgg_results_clear (GstVggResults *r);

/* Adds a GstVggMeta to `buffer` (writable) with the model's name, the
 * time and either the top-k of `probs` (probs_dims, may be NULL) or the
 * features `feats` (feat_dims, may be NULL).  (transfer none) */
GstVggMeta *gst_vgg_results_attach (GstVggResults *r, GstBuffer *buffer,
    const GstVggModelInfo *info, const GstVggResultsSettings *settings,
    gdouble inference_ms, const gfloat *probs, gint probs_dims,
    const gfloat *feats, gint feat_dims);

/* Adds the region `roi` to `meta` with either the top-k of `probs` or
 * the features `feats`, and, with a top-k, a "classification" param (DL
 * Streamer's fields and the top-k as arrays) to the region's ROI meta
 * (on a writable buffer). */
void gst_vgg_results_attach_region (GstVggResults *r,
    GstVggMeta *meta, const GstVggRoi *roi, const GstVggModelInfo *info,
    const GstVggResultsSettings *settings, const gfloat *probs,
    gint probs_dims, const gfloat *feats, gint feat_dims);

/* The "vgginfer" element message's structure for a frame and its meta
 * (fields in the element's documentation); the times through `segment`;
 * when by_regions, the "regions" and "rois-skipped" fields.
 * (transfer full) */
GstStructure *gst_vgg_results_to_structure (GstBuffer *buffer,
    const GstVggMeta *meta, const GstSegment *segment, gboolean by_regions,
    guint rois_skipped);

G_END_DECLS

#endif /* __GST_VGG_RESULTS_H__ */

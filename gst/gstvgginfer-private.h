/* vgginfer's instance: for gstvgginfer.c only.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __GST_VGG_INFER_PRIVATE_H__
#define __GST_VGG_INFER_PRIVATE_H__

#include <gst/base/gstqueuearray.h>

#include "gstvgginfer.h"
#include "gstvggmodelinfo.h"
#include "gstvggpreprocess.h"
#include "gstvggregions.h"
#include "gstvggresults.h"
#include "gstvggrunner.h"

G_BEGIN_DECLS

/* The settings of the properties that may change while running; the
 * streaming task takes one copy per batch. */
typedef struct
{
  GstVggInferMode mode;
  const gchar *feature_layer; /* interned */
  GstVggInferPooling feature_pooling;
  gboolean normalize_features;
  guint top_k;
  gdouble threshold;
  guint batch_size;
  guint batch_timeout; /* ms */
  gint threads;
  GstVggInferPrecision precision;
  guint inference_interval;
  GstVggInferLeaky leaky;
  guint max_queue;
  gboolean post_messages;
  GstVggInferResize resize;
  /* inference-region, object-class, regions, min-roi-size, max-rois,
   * roi-padding: replaced, never changed, by the setters; a batch holds a
   * reference to the one it runs with */
  GstVggRegionSpec *regions;
  guint64 regions_serial; /* from 1, one more for each new `regions` */
} GstVggInferSettings;

/* What the queue between the sink pad and the streaming task holds, in
 * stream order. */
typedef enum
{
  GST_VGG_INFER_ITEM_BUFFER, /* a frame to run the network on */
  GST_VGG_INFER_ITEM_PASS,   /* a frame to push without inference */
  GST_VGG_INFER_ITEM_EVENT,  /* a serialized event */
  GST_VGG_INFER_ITEM_QUERY   /* a serialized query, owned by its caller */
} GstVggInferItemType;

typedef struct
{
  GstVggInferItemType type;
  GstMiniObject *object;
  gint64 arrival; /* g_get_monotonic_time () when queued, us */
  guint64 number; /* frames received before it since the last flush */
  /* in a batch by regions: its regions in `rois`, and how many of the
   * frame's ROIs were not classified */
  guint first_roi, n_rois, rois_skipped;
  /* queued, by regions: how many regions the frame has under the region
   * spec of settings.regions_serial `counted_serial` (0: not counted
   * yet), for the batching to count each frame once */
  guint64 counted_serial;
  guint n_counted;
} GstVggInferItem;

/* One input of a forward pass: a frame of the batch (its index in
 * `batch`), or the part `crop` of it. */
typedef struct
{
  guint item;
  const gint *crop;
} GstVggInferInput;

/* Locks: `lock` (the queue) may be held when taking the object lock,
 * never the other way round.  The active bundle changes only in the
 * streaming task and in state changes while the task is stopped, always
 * under `lock` (a setter of a running element reads it there); the task
 * reads it without.  The runner's member_lock (then a batch group's own)
 * is taken with neither held. */
struct _GstVggInfer
{
  GstElement parent;

  GstPad *sinkpad;
  GstPad *srcpad;

  /* Under the object lock: the properties... */
  GstVggInferSettings settings;
  gchar *model_path;
  gchar *labels_path;
  gchar *mean_text; /* "R,G,B" overriding the model's, or NULL */
  gchar *std_text;
  gboolean mode_set; /* mode was set: no default from the model name */
  gchar *batch_group;
  /* ...the statistics... */
  guint64 frames_inferred;
  guint64 frames_skipped;
  guint64 rois_inferred;
  guint64 rois_skipped;
  gdouble inference_ms_total;
  /* ...and the last caps refused with an error, so that retries of the
   * same caps post it once. */
  GstCaps *caps_error;

  /* The queue, under `lock`. */
  GMutex lock;
  GCond item_added;     /* an item was queued, or srcresult changed */
  GCond item_removed;   /* frames left the queue, or the limits changed */
  GCond query_handled;  /* `query` was answered or abandoned */
  GstQueueArray *queue; /* GstVggInferItem */
  guint n_pending;      /* ITEM_BUFFERs in the queue */
  guint n_frames;       /* ITEM_BUFFERs and ITEM_PASSes in the queue */
  GstFlowReturn srcresult;
  GstQuery *query;        /* the serialized query being answered */
  gboolean query_running; /* the task holds `query` */
  gboolean query_result;
  guint64 frame_count; /* frames seen by the chain function */
  /* A bundle built while PAUSED or PLAYING, for the task to switch to at
   * its next batch. */
  GstVggModelInfo *next_info;

  /* The active bundle: built at NULL to READY, rebuilt at READY to
   * PAUSED when the properties it was built from changed, replaced by
   * next_info in the task. */
  GstVggModelInfo *info;

  /* Streaming task only (and state changes while it is stopped). */
  GstVggRunner runner;
  GstVggPreprocess preprocess;
  GstVggResults results;
  GstSegment segment;
  GstVggInferItem *batch; /* the items of the batch being processed */
  guint batch_alloc;
  GArray *rois;   /* GstVggRoi: the regions of the batch's frames */
  GArray *inputs; /* GstVggInferInput: what the network runs on */
  gfloat *rows;   /* (rows_alloc) the output rows of a batch that takes
                     more than one forward pass */
  gsize rows_alloc;
  gboolean warned_layer;
};

G_END_DECLS

#endif /* __GST_VGG_INFER_PRIVATE_H__ */

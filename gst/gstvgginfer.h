/* vgginfer: batched VGG inference on raw video.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __GST_VGG_INFER_H__
#define __GST_VGG_INFER_H__

#include <gst/gst.h>
#include <gst/base/gstqueuearray.h>
#include <gst/video/video.h>
#include <vggcore/vggcore.h>

#include "gstvggbatchgroup.h"
#include "gstvggmeta.h"

G_BEGIN_DECLS

#define GST_TYPE_VGG_INFER (gst_vgg_infer_get_type ())
G_DECLARE_FINAL_TYPE (GstVggInfer, gst_vgg_infer, GST, VGG_INFER, GstElement)

#define GST_TYPE_VGG_INFER_MODE (gst_vgg_infer_mode_get_type ())
#define GST_TYPE_VGG_INFER_FEATURE_LAYER                                       \
  (gst_vgg_infer_feature_layer_get_type ())
#define GST_TYPE_VGG_INFER_LEAKY (gst_vgg_infer_leaky_get_type ())
#define GST_TYPE_VGG_INFER_RESIZE (gst_vgg_infer_resize_get_type ())

GType gst_vgg_infer_mode_get_type (void);
GType gst_vgg_infer_feature_layer_get_type (void);
GType gst_vgg_infer_leaky_get_type (void);
GType gst_vgg_infer_resize_get_type (void);
#define GST_TYPE_VGG_INFER_PRECISION (gst_vgg_infer_precision_get_type ())
GType gst_vgg_infer_precision_get_type (void);

typedef enum
{
  GST_VGG_INFER_MODE_CLASSIFY,
  GST_VGG_INFER_MODE_FEATURES
} GstVggInferMode;

typedef enum
{
  GST_VGG_INFER_FEATURE_LAYER_FC7,
  GST_VGG_INFER_FEATURE_LAYER_FC6,
  GST_VGG_INFER_FEATURE_LAYER_POOL5,
  GST_VGG_INFER_FEATURE_LAYER_LOGITS
} GstVggInferFeatureLayer;

typedef enum
{
  GST_VGG_INFER_LEAKY_NONE,
  GST_VGG_INFER_LEAKY_SKIP
} GstVggInferLeaky;

typedef enum
{
  GST_VGG_INFER_RESIZE_CENTER_CROP,
  GST_VGG_INFER_RESIZE_STRETCH,
  GST_VGG_INFER_RESIZE_LETTERBOX
} GstVggInferResize;

/* the engine's VggPrecision */
typedef enum
{
  GST_VGG_INFER_PRECISION_FP32,
  GST_VGG_INFER_PRECISION_BF16
} GstVggInferPrecision;

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
  gint64 arrival; /* g_get_monotonic_time() when queued, us */
  guint64 number; /* frames received before it since the last flush */
} GstVggInferItem;

struct _GstVggInfer
{
  GstElement parent;

  GstPad *sinkpad;
  GstPad *srcpad;

  /* Settings, under the object lock. */
  gchar *model_path;
  gchar *labels_path;
  GstVggInferMode mode;
  GstVggInferFeatureLayer feature_layer;
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
  gchar *mean_text; /* "R,G,B" overriding the model's, or NULL */
  gchar *std_text;
  gboolean mode_set; /* mode was set: no default from the model name */
  gchar *batch_group;

  /* Statistics, under the object lock. */
  guint64 frames_inferred;
  guint64 frames_skipped;
  gdouble inference_ms_total;

  /* The model, loaded when going to READY and fixed from READY up. */
  VggModel *model;
  gchar *loaded_model_path;
  gchar *loaded_labels_path;
  const VggKnownModel *known; /* when `model` named a known model */
  GQuark *labels;             /* (n_classes), 0 for a class without a label */
  gint n_classes;
  gint model_width, model_height;
  gfloat scale[3], offset[3]; /* x * scale + offset = (x/255-mean)/std */
  guint32 border_argb;        /* the mean colour, letterbox borders */

  /* The queue; lock and cond guard everything down to query_result. */
  GMutex lock;
  GCond cond;
  GstQueueArray *queue; /* GstVggInferItem */
  guint n_pending;      /* ITEM_BUFFERs in the queue */
  GstFlowReturn srcresult;
  GstQuery *query;        /* the serialized query being answered */
  gboolean query_running; /* the task holds `query` */
  gboolean query_result;
  guint64 frame_count; /* frames seen by the chain function */
  /* The last caps refused with an error (under the object lock), so
   * that retries of the same caps post it once. */
  GstCaps *caps_error;
  /* A model set while PAUSED or PLAYING, loaded by the setter (one use of
   * the model cache, so it stays loaded); the task switches to it at the
   * next batch. */
  VggModel *next_model;

  /* The batch group joined from PAUSED up (NULL when batch-group is
   * unset): its worker runs the network instead of self->context. */
  GstVggBatchGroupMember *group_member;

  /* Streaming task only. */
  VggContext *context;
  guint context_batch;
  gint context_threads;
  GstVggInferPrecision context_precision;
  gfloat *input; /* (context_batch, 3, model_height, model_width) */
  GstVideoInfo in_info;
  gboolean have_info;
  GstVideoConverter *converter;
  GstVggInferResize converter_resize;
  GstVideoInfo rgbx_info; /* RGBx at the model's input size */
  GstBuffer *rgbx;        /* one frame of rgbx_info */
  GstSegment segment;
  GstVggInferItem *batch; /* the items of the batch being processed */
  guint batch_alloc;
  GstVggClassification *top; /* (top_alloc) */
  guint top_alloc;
  gfloat *group_out; /* (group_out_alloc), the rows a group returns */
  gsize group_out_alloc;
  gsize input_alloc; /* floats of self->input */
  gfloat *features;  /* (features_alloc) */
  guint features_alloc;
  gboolean warned_layer;
};

GST_ELEMENT_REGISTER_DECLARE (vgginfer);

G_END_DECLS

#endif /* __GST_VGG_INFER_H__ */

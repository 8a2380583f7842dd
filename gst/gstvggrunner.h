/* vgginfer's one inference path: a forward pass over an own VggContext or
 * through a batch group's worker, whichever the element has.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __GST_VGG_RUNNER_H__
#define __GST_VGG_RUNNER_H__

#include <gst/gst.h>
#include <vggcore/vggcore.h>

#include "gstvggbatchgroup.h"
#include "gstvggenums.h"

G_BEGIN_DECLS

/* Embedded in the element, used by its streaming task (and by state
 * changes while the task is stopped); _init/_clear. */
typedef struct
{
  /* An own context... */
  VggContext *context; /* holds a reference to `model` */
  VggModel *model;
  guint batch;
  gint threads;
  GstVggInferPrecision precision;

  /* ...or a seat in a batch group (set from PAUSED up).  The streaming
   * task reads it freely (it does not run while the seat is taken or
   * given up); other threads (flushes, pad activation, queries) under
   * member_lock, which the seat is taken and given up under. */
  GstVggBatchGroupMember *member;
  GMutex member_lock;
  gfloat *rows; /* (rows_alloc) what the group returns */
  gsize rows_alloc;

  gfloat *input; /* (input_alloc), the batch's frames */
  gsize input_alloc;
} GstVggRunner;

void gst_vgg_runner_init (GstVggRunner *runner);
/* Frees the context and leaves the group; the runner can be used again. */
void gst_vgg_runner_reset (GstVggRunner *runner);
/* _reset, and the runner is done with. */
void gst_vgg_runner_clear (GstVggRunner *runner);

/* An own context for `model`, `batch` frames, `threads` and `precision`,
 * made anew only when one of them changed.  FALSE with a
 * GST_LIBRARY_ERROR_INIT. */
gboolean gst_vgg_runner_configure (GstVggRunner *runner, VggModel *model,
    guint batch, gint threads, GstVggInferPrecision precision, GError **error);

/* Joins the batch group `name` (see gst_vgg_batch_group_join) instead of
 * an own context.  FALSE with a GST_RESOURCE_ERROR_SETTINGS. */
gboolean gst_vgg_runner_join_group (GstVggRunner *runner, const gchar *name,
    VggModel *model, guint batch, guint batch_timeout_ms, gint threads,
    GstVggInferPrecision precision, GError **error);
void gst_vgg_runner_leave_group (GstVggRunner *runner);
gboolean gst_vgg_runner_is_grouped (const GstVggRunner *runner);

/* Makes a running and every later forward of a group member return
 * GST_FLOW_FLUSHING until resume (a flush, a state change); nothing for
 * an own context, whose forward is never waiting on others. */
void gst_vgg_runner_cancel (GstVggRunner *runner);
void gst_vgg_runner_resume (GstVggRunner *runner);
/* The stream has ended or stopped: a group's other members no longer
 * wait for its frames (gst_vgg_batch_group_end); nothing for an own
 * context. */
void gst_vgg_runner_end (GstVggRunner *runner);
/* In a group: TRUE, and how long a frame may wait in its worker for a
 * batch to fill (the group's batch-timeout, 0 at batch size 1); any
 * thread. */
gboolean gst_vgg_runner_group_wait (
    GstVggRunner *runner, guint *batch_timeout_ms);

/* Room for n frames of `frame_floats` each, (n, height, width, 3); the
 * caller writes the frames there before gst_vgg_runner_forward. */
gfloat *gst_vgg_runner_get_input (
    GstVggRunner *runner, guint n, gsize frame_floats);

/* Runs the n frames of the input (height x width) through the model up
 * to `point` and points *rows at their rows of it under `pooling`, (n,
 * dims), valid until the next call.  A batch group reads the classifier's
 * outputs only (point->output, unpooled).  GST_FLOW_FLUSHING when
 * cancelled, GST_FLOW_ERROR with a GST_STREAM_ERROR_FAILED. */
GstFlowReturn gst_vgg_runner_forward (GstVggRunner *runner, guint n,
    gint height, gint width, const VggPoint *point, VggPooling pooling,
    gint dims, const gfloat **rows, GError **error);

G_END_DECLS

#endif /* __GST_VGG_RUNNER_H__ */

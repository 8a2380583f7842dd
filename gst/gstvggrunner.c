/* vgginfer's one inference path.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "gstvggrunner.h"

#include <string.h>

void
gst_vgg_runner_init (GstVggRunner *runner)
{
  memset (runner, 0, sizeof *runner);
  g_mutex_init (&runner->member_lock);
}

void
gst_vgg_runner_reset (GstVggRunner *runner)
{
  gst_vgg_runner_leave_group (runner);
  g_clear_pointer (&runner->context, vgg_context_free);
  runner->model = NULL;
  g_clear_pointer (&runner->input, g_free);
  g_clear_pointer (&runner->rows, g_free);
  runner->input_alloc = runner->rows_alloc = 0;
}

void
gst_vgg_runner_clear (GstVggRunner *runner)
{
  gst_vgg_runner_reset (runner);
  g_mutex_clear (&runner->member_lock);
}

gboolean
gst_vgg_runner_configure (GstVggRunner *runner, VggModel *model, guint batch,
    gint threads, GstVggInferPrecision precision, GError **error)
{
  char msg[VGG_ERROR_SIZE];
  VggStatus status;

  if (runner->context && runner->model == model && runner->batch == batch
      && runner->threads == threads && runner->precision == precision)
    return TRUE;
  g_clear_pointer (&runner->context, vgg_context_free);
  runner->model = NULL;
  status = vgg_context_new_with_precision (model, (int) batch, threads,
      (VggPrecision) precision, &runner->context, msg);
  if (status != VGG_OK) {
    g_set_error (error, GST_LIBRARY_ERROR, GST_LIBRARY_ERROR_INIT,
        "Could not create an inference context for batch %u, threads %d, "
        "precision %s: %s",
        batch, threads, vgg_precision_to_string ((VggPrecision) precision),
        msg);
    return FALSE;
  }
  runner->model = model;
  runner->batch = batch;
  runner->threads = threads;
  runner->precision = precision;
  return TRUE;
}

gboolean
gst_vgg_runner_join_group (GstVggRunner *runner, const gchar *name,
    VggModel *model, guint batch, guint batch_timeout_ms, gint threads,
    GstVggInferPrecision precision, GError **error)
{
  GstVggBatchGroupMember *member;
  gchar *msg = NULL;

  g_return_val_if_fail (runner->member == NULL, FALSE);
  /* the group's worker has the context */
  g_clear_pointer (&runner->context, vgg_context_free);
  runner->model = NULL;
  member = gst_vgg_batch_group_join (name, model, batch, batch_timeout_ms,
      threads, (VggPrecision) precision, &msg);
  g_mutex_lock (&runner->member_lock);
  runner->member = member;
  g_mutex_unlock (&runner->member_lock);
  if (member == NULL) {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
        "Could not join the batch group: %s", msg);
    g_free (msg);
    return FALSE;
  }
  return TRUE;
}

void
gst_vgg_runner_leave_group (GstVggRunner *runner)
{
  GstVggBatchGroupMember *member;

  /* a cancel from a flush that raced the state change finds no member */
  g_mutex_lock (&runner->member_lock);
  member = runner->member;
  runner->member = NULL;
  g_mutex_unlock (&runner->member_lock);
  if (member)
    gst_vgg_batch_group_leave (member);
}

gboolean
gst_vgg_runner_is_grouped (const GstVggRunner *runner)
{
  return runner->member != NULL;
}

/* func on the seat, if there is one, under member_lock */
static void
with_member (GstVggRunner *runner, void (*func) (GstVggBatchGroupMember *))
{
  g_mutex_lock (&runner->member_lock);
  if (runner->member)
    func (runner->member);
  g_mutex_unlock (&runner->member_lock);
}

void
gst_vgg_runner_cancel (GstVggRunner *runner)
{
  with_member (runner, gst_vgg_batch_group_cancel);
}

void
gst_vgg_runner_resume (GstVggRunner *runner)
{
  with_member (runner, gst_vgg_batch_group_resume);
}

void
gst_vgg_runner_end (GstVggRunner *runner)
{
  with_member (runner, gst_vgg_batch_group_end);
}

gboolean
gst_vgg_runner_group_wait (GstVggRunner *runner, guint *batch_timeout_ms)
{
  gboolean grouped;

  g_mutex_lock (&runner->member_lock);
  grouped = runner->member != NULL;
  if (grouped)
    *batch_timeout_ms = gst_vgg_batch_group_get_batch_size (runner->member) > 1
        ? gst_vgg_batch_group_get_batch_timeout (runner->member)
        : 0;
  g_mutex_unlock (&runner->member_lock);
  return grouped;
}

gfloat *
gst_vgg_runner_get_input (GstVggRunner *runner, guint n, gsize frame_floats)
{
  if (runner->input_alloc < n * frame_floats) {
    runner->input_alloc = n * frame_floats;
    runner->input = g_renew (gfloat, runner->input, runner->input_alloc);
  }
  return runner->input;
}

GstFlowReturn
gst_vgg_runner_forward (GstVggRunner *runner, guint n, gint height, gint width,
    const VggPoint *point, VggPooling pooling, gint dims, const gfloat **rows,
    GError **error)
{
  char msg[VGG_ERROR_SIZE];
  VggStatus status;
  gint got = 0;

  if (runner->member) {
    if (!gst_vgg_batch_group_reads (point, pooling)) {
      g_set_error (error, GST_STREAM_ERROR, GST_STREAM_ERROR_FAILED,
          "A batch group reads pool5 (without pooling), fc6, fc7, logits "
          "and probs only, not feature-layer %s with feature-pooling %s; "
          "leave batch-group unset for it",
          point->name, vgg_pooling_to_string (pooling));
      return GST_FLOW_ERROR;
    }
    if (runner->rows_alloc < (gsize) n * dims) {
      runner->rows_alloc = (gsize) n * dims;
      runner->rows = g_renew (gfloat, runner->rows, runner->rows_alloc);
    }
    switch (gst_vgg_batch_group_forward (runner->member, runner->input, n,
        (VggOutput) point->output, dims, runner->rows, msg)) {
      case GST_VGG_BATCH_GROUP_OK:
        *rows = runner->rows;
        return GST_FLOW_OK;
      case GST_VGG_BATCH_GROUP_CANCELLED:
        return GST_FLOW_FLUSHING;
      case GST_VGG_BATCH_GROUP_ERROR:
        break;
    }
    g_set_error (error, GST_STREAM_ERROR, GST_STREAM_ERROR_FAILED,
        "Inference failed: %s", msg);
    return GST_FLOW_ERROR;
  }

  g_return_val_if_fail (runner->context != NULL, GST_FLOW_ERROR);
  /* (the pass stops at the point's layer) */
  status = vgg_context_forward_point_nhwc (runner->context, runner->input,
      (int) n, height, width, point, pooling, rows, &got);
  if (status != VGG_OK) {
    g_set_error (error, GST_STREAM_ERROR, GST_STREAM_ERROR_FAILED,
        "Inference failed: %s (%s)", vgg_context_get_error (runner->context),
        vgg_status_to_string (status));
    return GST_FLOW_ERROR;
  }
  if (got != dims) {
    g_set_error (error, GST_STREAM_ERROR, GST_STREAM_ERROR_FAILED,
        "Inference failed: %s has %d values per frame, expected %d",
        point->name, got, dims);
    return GST_FLOW_ERROR;
  }
  return GST_FLOW_OK;
}

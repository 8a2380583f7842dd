/* Batch groups: one inference worker shared by several vgginfer elements.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __GST_VGG_BATCH_GROUP_H__
#define __GST_VGG_BATCH_GROUP_H__

#include <glib.h>
#include <vggcore/vggcore.h>

G_BEGIN_DECLS

/* The batching policy of vgginfer's streaming task and of a group's
 * worker: a batch runs when `ready` frames fill batch_size, when no more
 * frames can come before it would run (!more_may_come), or once
 * batch_timeout_ms have passed since the oldest waiting frame arrived
 * (`oldest`, g_get_monotonic_time () microseconds, as `now`).  Returns 0
 * to run now, else the monotonic time to wait until. */
static inline gint64
gst_vgg_batch_wait_until (guint ready, guint batch_size, gboolean more_may_come,
    gint64 oldest, guint batch_timeout_ms, gint64 now)
{
  gint64 deadline =
      oldest + (gint64) batch_timeout_ms * G_TIME_SPAN_MILLISECOND;

  if (ready >= batch_size || !more_may_come || now >= deadline)
    return 0;
  return deadline;
}

/* One element's seat in a group. */
typedef struct _GstVggBatchGroupMember GstVggBatchGroupMember;

typedef enum
{
  GST_VGG_BATCH_GROUP_OK,
  GST_VGG_BATCH_GROUP_CANCELLED, /* gst_vgg_batch_group_cancel() */
  GST_VGG_BATCH_GROUP_ERROR      /* the engine failed; see the message */
} GstVggBatchGroupResult;

/* Joins the group `name` of this process, creating it (its context and
 * worker thread, with batch_size, batch_timeout_ms and threads) when this
 * is the first member.  Later members keep the group's settings.  Every
 * member must run the same model (the same pointer from the model cache,
 * i.e. the same file); otherwise returns NULL and sets `error` to a
 * message naming both files.  (transfer full) */
GstVggBatchGroupMember *gst_vgg_batch_group_join (const gchar *name,
    VggModel *model, guint batch_size, guint batch_timeout_ms, gint threads,
    VggPrecision precision, gchar **error);

/* Leaves the group; the last member stops the worker and frees the group.
 * No forward may be running on the member. */
void gst_vgg_batch_group_leave (GstVggBatchGroupMember *member);

/* Runs the network on n frames, `input` (n, height, width, 3) interleaved
 * (vgg_context_forward_nhwc), already normalized at the model's input size, in the group's worker together
 * with frames of the other members; blocks until all n are done and
 * writes their `output` rows, (n, dims), to `out`.  Returns CANCELLED at
 * once, or as soon as the frames already in a running batch are done,
 * after gst_vgg_batch_group_cancel(). */
GstVggBatchGroupResult gst_vgg_batch_group_forward (
    GstVggBatchGroupMember *member, const gfloat *input, guint n,
    VggOutput output, gint dims, gfloat *out, char error[VGG_ERROR_SIZE]);

/* Whether a group's worker gives the outputs of `point` under `pooling`
 * (resolved): it runs whole passes and reads VggOutputs only (fc7, fc6,
 * logits, probs, and pool5 without pooling; pooling does not apply to
 * the vectors). */
gboolean gst_vgg_batch_group_reads (const VggPoint *point, VggPooling pooling);

/* Makes the running and every later forward of the member return
 * CANCELLED until gst_vgg_batch_group_resume().  The other members'
 * partial batches no longer wait for its frames. */
void gst_vgg_batch_group_cancel (GstVggBatchGroupMember *member);
void gst_vgg_batch_group_resume (GstVggBatchGroupMember *member);

/* The member's stream has ended (EOS) or stopped (an error): the other
 * members' partial batches no longer wait for its frames, until its next
 * forward or resume. */
void gst_vgg_batch_group_end (GstVggBatchGroupMember *member);

/* The group's settings, and how many frames its worker has run. */
guint gst_vgg_batch_group_get_batch_size (GstVggBatchGroupMember *member);
guint gst_vgg_batch_group_get_batch_timeout (GstVggBatchGroupMember *member);
guint64 gst_vgg_batch_group_get_frames (GstVggBatchGroupMember *member);
guint64 gst_vgg_batch_group_get_batches (GstVggBatchGroupMember *member);

G_END_DECLS

#endif

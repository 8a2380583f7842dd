/* Batch groups: one inference worker shared by several vgginfer elements.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
/* Each member has at most one job at a time (its element's streaming task
 * blocks in gst_vgg_batch_group_forward), so a member's frames leave the
 * worker in the order they came and each element pushes its own frames
 * from its own task, in order.  The worker fills a batch round-robin, one
 * frame per member per pass, starting one member further each batch, so
 * no stream waits behind another's long job, and runs it as
 * gst_vgg_batch_wait_until says: more frames may come while a member
 * without a job may still send one (not cancelled, not ended). */

#include "gstvggbatchgroup.h"

#include <string.h>

typedef struct _GstVggBatchGroup GstVggBatchGroup;

struct _GstVggBatchGroupMember
{
  GstVggBatchGroup *group;
  GCond done_cond;

  /* The job, under group->lock. */
  const gfloat *input; /* (n, h, w, 3) */
  gfloat *out;         /* (n, dims) */
  VggOutput output;
  gint dims;
  guint n, taken, done; /* frames in the job, given to a batch, finished */
  gint64 arrival;       /* monotonic time of the job, us */
  gboolean cancelled;
  gboolean ended; /* sends no job until its next forward or resume */
  gboolean failed;
  char error[VGG_ERROR_SIZE];
};

/* Where a row of the worker's batch comes from. */
typedef struct
{
  GstVggBatchGroupMember *member;
  guint index;
} BatchRow;

struct _GstVggBatchGroup
{
  gchar *name;
  VggModel *model; /* (owned) */
  guint batch_size;
  guint batch_timeout_ms;

  GMutex lock;
  GCond work_cond;
  GPtrArray *members; /* GstVggBatchGroupMember, round-robin order */
  guint next_first;   /* the member the next batch starts with */
  gboolean quit;
  guint64 frames, batches;

  /* Worker thread only. */
  GThread *thread;
  VggContext *context;
  gint width, height;
  gfloat *input;  /* (batch_size, height, width, 3) */
  BatchRow *rows; /* (batch_size) */
};

/* name -> GstVggBatchGroup, under groups_lock */
static GMutex groups_lock;
static GHashTable *groups;

/* The frames waiting for a batch, the arrival of the oldest job, and
 * whether a member without a job may still send one. */
static guint
pending_frames_locked (
    GstVggBatchGroup *g, gint64 *oldest, gboolean *more_may_come)
{
  guint pending = 0;

  *oldest = G_MAXINT64;
  *more_may_come = FALSE;
  for (guint i = 0; i < g->members->len; i++) {
    GstVggBatchGroupMember *m = g_ptr_array_index (g->members, i);
    if (m->taken < m->n) {
      pending += m->n - m->taken;
      *oldest = MIN (*oldest, m->arrival);
    } else if (!m->cancelled && !m->ended) {
      *more_may_come = TRUE;
    }
  }
  return pending;
}

/* Takes up to batch_size frames, round-robin, into g->rows. */
static guint
fill_batch_locked (GstVggBatchGroup *g)
{
  guint n = 0, n_members = g->members->len;
  gboolean took = TRUE;

  while (n < g->batch_size && took) {
    took = FALSE;
    for (guint j = 0; j < n_members && n < g->batch_size; j++) {
      GstVggBatchGroupMember *m =
          g_ptr_array_index (g->members, (g->next_first + j) % n_members);
      if (m->taken < m->n) {
        g->rows[n].member = m;
        g->rows[n].index = m->taken++;
        n++;
        took = TRUE;
      }
    }
  }
  g->next_first = (g->next_first + 1) % n_members;
  return n;
}

static gpointer
gst_vgg_batch_group_worker (gpointer data)
{
  GstVggBatchGroup *g = data;
  gsize plane3 = (gsize) 3 * g->width * g->height;

  g_mutex_lock (&g->lock);
  while (!g->quit) {
    gint64 oldest, deadline;
    guint pending, n;
    gboolean more_may_come;
    VggStatus status;

    pending = pending_frames_locked (g, &oldest, &more_may_come);
    if (pending == 0) {
      g_cond_wait (&g->work_cond, &g->lock);
      continue;
    }
    deadline = gst_vgg_batch_wait_until (pending, g->batch_size, more_may_come,
        oldest, g->batch_timeout_ms, g_get_monotonic_time ());
    if (deadline != 0) {
      g_cond_wait_until (&g->work_cond, &g->lock, deadline);
      continue;
    }

    n = fill_batch_locked (g);
    g_mutex_unlock (&g->lock);

    /* the members' inputs stay valid: a job with taken frames does not
     * end before they are done */
    for (guint r = 0; r < n; r++) {
      memcpy (g->input + r * plane3,
          g->rows[r].member->input + g->rows[r].index * plane3,
          plane3 * sizeof (gfloat));
    }
    status = vgg_context_forward_nhwc (
        g->context, g->input, (int) n, g->height, g->width);
    if (status == VGG_OK) {
      for (guint r = 0; r < n; r++) {
        GstVggBatchGroupMember *m = g->rows[r].member;
        gint dims = 0;
        const gfloat *o = vgg_context_get_output (g->context, m->output, &dims);
        if (o == NULL || dims != m->dims) {
          g_snprintf (m->error, VGG_ERROR_SIZE,
              "batch-group \"%s\": output %s has %d values per frame, "
              "expected %d",
              g->name, vgg_output_to_string (m->output), dims, m->dims);
          m->failed = TRUE;
          continue;
        }
        memcpy (m->out + (gsize) g->rows[r].index * dims, o + (gsize) r * dims,
            (gsize) dims * sizeof (gfloat));
      }
    }

    g_mutex_lock (&g->lock);
    g->frames += n;
    g->batches++;
    for (guint r = 0; r < n; r++) {
      GstVggBatchGroupMember *m = g->rows[r].member;
      if (status != VGG_OK && !m->failed) {
        g_strlcpy (
            m->error, vgg_context_get_error (g->context), VGG_ERROR_SIZE);
        m->failed = TRUE;
      }
      if (++m->done == m->n)
        g_cond_signal (&m->done_cond);
    }
  }
  g_mutex_unlock (&g->lock);
  return NULL;
}

static void
gst_vgg_batch_group_free (GstVggBatchGroup *g)
{
  if (g->thread) {
    g_mutex_lock (&g->lock);
    g->quit = TRUE;
    g_cond_signal (&g->work_cond);
    g_mutex_unlock (&g->lock);
    g_thread_join (g->thread);
  }
  g_clear_pointer (&g->context, vgg_context_free);
  g_clear_pointer (&g->model, vgg_model_unref);
  g_ptr_array_unref (g->members);
  g_mutex_clear (&g->lock);
  g_cond_clear (&g->work_cond);
  g_free (g->input);
  g_free (g->rows);
  g_free (g->name);
  g_free (g);
}

static GstVggBatchGroup *
gst_vgg_batch_group_new (const gchar *name, VggModel *model, guint batch_size,
    guint batch_timeout_ms, gint threads, VggPrecision precision, gchar **error)
{
  GstVggBatchGroup *g = g_new0 (GstVggBatchGroup, 1);
  char msg[VGG_ERROR_SIZE];
  VggStatus status;

  g->name = g_strdup (name);
  g->model = vgg_model_ref (model);
  g->batch_size = MAX (batch_size, 1);
  g->batch_timeout_ms = batch_timeout_ms;
  g_mutex_init (&g->lock);
  g_cond_init (&g->work_cond);
  g->members = g_ptr_array_new ();
  vgg_model_get_input_size (model, &g->width, &g->height);
  status = vgg_context_new_with_precision (
      model, (int) g->batch_size, threads, precision, &g->context, msg);
  if (status != VGG_OK) {
    *error = g_strdup_printf ("batch-group \"%s\": %s", name, msg);
    gst_vgg_batch_group_free (g);
    return NULL;
  }
  g->input = g_new (gfloat, (gsize) g->batch_size * 3 * g->width * g->height);
  g->rows = g_new (BatchRow, g->batch_size);
  g->thread = g_thread_new ("vggbatchgroup", gst_vgg_batch_group_worker, g);
  return g;
}

GstVggBatchGroupMember *
gst_vgg_batch_group_join (const gchar *name, VggModel *model, guint batch_size,
    guint batch_timeout_ms, gint threads, VggPrecision precision, gchar **error)
{
  GstVggBatchGroup *g;
  GstVggBatchGroupMember *m = NULL;

  g_return_val_if_fail (name != NULL && model != NULL, NULL);

  g_mutex_lock (&groups_lock);
  if (groups == NULL)
    groups = g_hash_table_new (g_str_hash, g_str_equal);
  g = g_hash_table_lookup (groups, name);
  if (g && g->model != model) {
    *error = g_strdup_printf ("batch-group \"%s\" runs the model %s; this "
                              "element's model %s is a different file, and "
                              "all elements of a group must run the same one",
        name, vgg_model_get_path (g->model), vgg_model_get_path (model));
    goto out;
  }
  if (g == NULL) {
    g = gst_vgg_batch_group_new (
        name, model, batch_size, batch_timeout_ms, threads, precision, error);
    if (g == NULL)
      goto out;
    g_hash_table_insert (groups, g->name, g);
  }
  m = g_new0 (GstVggBatchGroupMember, 1);
  m->group = g;
  g_cond_init (&m->done_cond);
  g_mutex_lock (&g->lock);
  g_ptr_array_add (g->members, m);
  g_mutex_unlock (&g->lock);

out:
  g_mutex_unlock (&groups_lock);
  return m;
}

void
gst_vgg_batch_group_leave (GstVggBatchGroupMember *m)
{
  GstVggBatchGroup *g = m->group;
  gboolean last;

  g_mutex_lock (&groups_lock);
  g_mutex_lock (&g->lock);
  /* a cancelled job may still have frames in the running batch */
  while (m->done < m->taken)
    g_cond_wait (&m->done_cond, &g->lock);
  g_ptr_array_remove (g->members, m);
  last = g->members->len == 0;
  if (!last)
    g->next_first %= g->members->len;
  else
    g->next_first = 0;
  /* a partial batch may have waited for this member's frames */
  g_cond_signal (&g->work_cond);
  g_mutex_unlock (&g->lock);
  if (last)
    g_hash_table_remove (groups, g->name);
  if (groups && g_hash_table_size (groups) == 0)
    g_clear_pointer (&groups, g_hash_table_unref);
  g_mutex_unlock (&groups_lock);

  if (last)
    gst_vgg_batch_group_free (g);
  g_cond_clear (&m->done_cond);
  g_free (m);
}

GstVggBatchGroupResult
gst_vgg_batch_group_forward (GstVggBatchGroupMember *m, const gfloat *input,
    guint n, VggOutput output, gint dims, gfloat *out,
    char error[VGG_ERROR_SIZE])
{
  GstVggBatchGroup *g = m->group;
  GstVggBatchGroupResult ret = GST_VGG_BATCH_GROUP_OK;

  g_mutex_lock (&g->lock);
  if (m->cancelled) {
    ret = GST_VGG_BATCH_GROUP_CANCELLED;
    goto out;
  }
  m->input = input;
  m->out = out;
  m->output = output;
  m->dims = dims;
  m->n = n;
  m->taken = m->done = 0;
  m->failed = FALSE;
  m->ended = FALSE;
  m->arrival = g_get_monotonic_time ();
  g_cond_signal (&g->work_cond);
  while (m->done < m->n)
    g_cond_wait (&m->done_cond, &g->lock);
  /* m->n < n: a cancel dropped frames of this job, whose rows are not
   * written, even if resume came before this thread woke up */
  if (m->cancelled || m->n < n)
    ret = GST_VGG_BATCH_GROUP_CANCELLED;
  else if (m->failed) {
    g_strlcpy (error, m->error, VGG_ERROR_SIZE);
    ret = GST_VGG_BATCH_GROUP_ERROR;
  }
  m->input = NULL;
  m->out = NULL;
  m->n = m->taken = m->done = 0;

out:
  g_mutex_unlock (&g->lock);
  return ret;
}

gboolean
gst_vgg_batch_group_reads (const VggPoint *point, VggPooling pooling)
{
  return point->output >= 0 && (!point->spatial || pooling == VGG_POOLING_NONE);
}

void
gst_vgg_batch_group_cancel (GstVggBatchGroupMember *m)
{
  GstVggBatchGroup *g = m->group;

  g_mutex_lock (&g->lock);
  m->cancelled = TRUE;
  /* frames not yet in a batch are dropped; the job ends when the running
   * batch is done with the others */
  m->n = m->taken;
  if (m->done == m->n)
    g_cond_signal (&m->done_cond);
  g_cond_signal (&g->work_cond);
  g_mutex_unlock (&g->lock);
}

void
gst_vgg_batch_group_resume (GstVggBatchGroupMember *m)
{
  g_mutex_lock (&m->group->lock);
  m->cancelled = FALSE;
  m->ended = FALSE;
  g_mutex_unlock (&m->group->lock);
}

void
gst_vgg_batch_group_end (GstVggBatchGroupMember *m)
{
  GstVggBatchGroup *g = m->group;

  g_mutex_lock (&g->lock);
  m->ended = TRUE;
  g_cond_signal (&g->work_cond);
  g_mutex_unlock (&g->lock);
}

guint
gst_vgg_batch_group_get_batch_size (GstVggBatchGroupMember *m)
{
  return m->group->batch_size;
}

guint
gst_vgg_batch_group_get_batch_timeout (GstVggBatchGroupMember *m)
{
  return m->group->batch_timeout_ms;
}

guint64
gst_vgg_batch_group_get_frames (GstVggBatchGroupMember *m)
{
  guint64 frames;

  g_mutex_lock (&m->group->lock);
  frames = m->group->frames;
  g_mutex_unlock (&m->group->lock);
  return frames;
}

guint64
gst_vgg_batch_group_get_batches (GstVggBatchGroupMember *m)
{
  guint64 batches;

  g_mutex_lock (&m->group->lock);
  batches = m->group->batches;
  g_mutex_unlock (&m->group->lock);
  return batches;
}

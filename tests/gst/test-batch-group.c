/* Batch groups on their own (gst/gstvggbatchgroup.c, no element): a
 * group's rows equal those of a context of one's own, each member gets its
 * own frames in order, a flooding member does not starve another, the
 * batch timeout, refusals, cancel and resume, the last leave, and errors.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <glib.h>
#include <math.h>
#include <string.h>

#include "gstvggbatchgroup.h"
#include "vgg-test-models.h"

static gchar *dir;
/* 35x33 input, 7 classes, fc6 of 24: fast, for the equality tests */
static gchar *small_path;
/* another file: 41x37 input, 5 classes */
static gchar *other_path;
/* 129x127 input, 32 and 64 channels: about 6 ms a frame on one thread, so
 * that a batch outlasts a thread's wake-up by far (fairness, cancel) */
static gchar *heavy_path;

/* a row of `out` past a job's rows: the worker must not write it */
#define CANARY_BITS 0x7fc0dead

/* A new reference to the model of path (the group takes its own). */
static VggModel *
load (const gchar *path)
{
  char error[VGG_ERROR_SIZE];
  VggModel *model = NULL;

  if (vgg_model_load (path, &model, error) != VGG_OK)
    g_error ("%s", error);
  return model;
}

static GstVggBatchGroupMember *
join_ok (const gchar *name, VggModel *model, guint batch_size, guint timeout_ms,
    gint threads, VggPrecision precision)
{
  gchar *error = NULL;
  GstVggBatchGroupMember *m = gst_vgg_batch_group_join (
      name, model, batch_size, timeout_ms, threads, precision, &error);

  if (m == NULL)
    g_error ("join \"%s\" (batch %u): %s", name, batch_size, error);
  g_assert_null (error);
  return m;
}

/* floats of one frame (3, height, width) at the model's size */
static gsize
frame_floats (VggModel *model)
{
  gint width, height;

  vgg_model_get_input_size (model, &width, &height);
  return (gsize) 3 * width * height;
}

/* n frames (n, height, width, 3) of the model's size, values as a
 * normalized picture has them */
static gfloat *
random_frames (GRand *rand, VggModel *model, guint n)
{
  gsize count = n * frame_floats (model);
  gfloat *frames;

  frames = g_new (gfloat, count);
  for (gsize i = 0; i < count; i++)
    frames[i] = (gfloat) g_rand_double_range (rand, -2.2, 2.7);
  return frames;
}

/* The rows of frames run one by one on a context of our own. */
static gfloat *
reference_rows (VggModel *model, VggPrecision precision, const gfloat *frames,
    guint n, VggOutput output, gint *dims)
{
  char error[VGG_ERROR_SIZE];
  VggContext *ctx = NULL;
  gsize plane3 = frame_floats (model);
  gint width, height;
  gfloat *rows;

  vgg_model_get_input_size (model, &width, &height);
  *dims = vgg_model_get_output_dims (model, output);
  rows = g_new (gfloat, (gsize) n * *dims);
  if (vgg_context_new_with_precision (model, 1, 1, precision, &ctx, error))
    g_error ("reference context: %s", error);
  for (guint i = 0; i < n; i++) {
    gint d = 0;
    const gfloat *o;

    if (vgg_context_forward_nhwc (ctx, frames + i * plane3, 1, height, width))
      g_error ("reference forward: %s", vgg_context_get_error (ctx));
    o = vgg_context_get_output (ctx, output, &d);
    g_assert_cmpint (d, ==, *dims);
    memcpy (rows + (gsize) i * d, o, sizeof (gfloat) * d);
  }
  vgg_context_free (ctx);
  return rows;
}

/* Bit for bit where the engine's own kernels run: their sums do not depend
 * on a frame's place in the batch (measured at avx2 and avx512).  The
 * generic level runs the fully connected layers on OpenBLAS, whose sgemm
 * sums in an order that depends on the batch size (fc6 rows of batch 1 and
 * of batch 2 to 16 differ in their last bits), so there the bound is the
 * layer tests' max|a - b| <= 1e-5 max|ref| per row. */
static void
assert_rows_match (
    const gchar *what, const gfloat *got, const gfloat *ref, guint n, gint dims)
{
  gboolean exact = vgg_isa_get () != VGG_ISA_GENERIC;

  for (guint i = 0; i < n; i++) {
    const gfloat *g = got + (gsize) i * dims, *r = ref + (gsize) i * dims;
    gfloat max_ref = 0.0f;

    for (gint j = 0; j < dims; j++)
      max_ref = MAX (max_ref, fabsf (r[j]));
    for (gint j = 0; j < dims; j++) {
      gboolean same = exact ? memcmp (&g[j], &r[j], sizeof (gfloat)) == 0
                            : fabsf (g[j] - r[j]) <= 1e-5f * max_ref;
      if (!same)
        g_error ("%s: row %u value %d: group %.9g, own context %.9g "
                 "(level %s, %s)",
            what, i, j, g[j], r[j], vgg_isa_to_string (vgg_isa_get ()),
            exact ? "bit for bit" : "bound 1e-5 max|ref|");
    }
  }
}

/* --- one member per thread, jobs of odd sizes --- */

typedef struct
{
  GstVggBatchGroupMember *member;
  VggOutput output;
  gint dims;
  const guint *jobs; /* frames per forward, ending with 0 */
  guint total;
  gfloat *frames; /* (total, 3, h, w) */
  gfloat *out;    /* (total + 1, dims): each job's rows, then a canary */
  gsize plane3;
  GstVggBatchGroupResult failed_result;
  gchar *failure;
} MemberRun;

static gpointer
member_run_thread (gpointer data)
{
  MemberRun *run = data;
  char error[VGG_ERROR_SIZE];
  guint first = 0;

  for (guint j = 0; run->jobs[j] && run->failure == NULL; j++) {
    guint n = run->jobs[j];
    gfloat *out = run->out + (gsize) first * run->dims;
    guint32 canary;
    GstVggBatchGroupResult res;

    res = gst_vgg_batch_group_forward (run->member,
        run->frames + first * run->plane3, n, run->output, run->dims, out,
        error);
    memcpy (&canary, out + (gsize) n * run->dims, sizeof canary);
    if (res != GST_VGG_BATCH_GROUP_OK)
      run->failure = g_strdup_printf ("job %u (%u frames): result %d, %s", j, n,
          res, res == GST_VGG_BATCH_GROUP_ERROR ? error : "");
    else if (canary != CANARY_BITS)
      run->failure = g_strdup_printf (
          "job %u (%u frames) wrote the row after its own", j, n);
    first += n;
  }
  return NULL;
}

typedef struct
{
  guint batch_size;
  VggPrecision precision;
} GroupParams;

static void
test_members_get_their_own_rows_as_an_own_context_does (gconstpointer data)
{
  const GroupParams *p = data;
  static const guint jobs[3][6] = {
    { 1, 4, 7, 2, 0 },
    { 3, 1, 5, 6, 0 },
    { 2, 7, 1, 1, 3, 0 },
  };
  static const VggOutput outputs[3] = { VGG_OUTPUT_LOGITS, VGG_OUTPUT_PROBS,
    VGG_OUTPUT_FC6 };
  VggModel *model = load (small_path);
  GRand *rand = g_rand_new_with_seed (1400 + p->batch_size);
  MemberRun runs[3];
  GThread *threads[3];
  guint64 all = 0, batches;

  for (guint t = 0; t < 3; t++) {
    MemberRun *run = &runs[t];
    guint32 canary = CANARY_BITS;

    memset (run, 0, sizeof *run);
    run->member = join_ok ("rows", model, p->batch_size, 5, 2, p->precision);
    run->output = outputs[t];
    run->dims = vgg_model_get_output_dims (model, outputs[t]);
    run->jobs = jobs[t];
    for (guint j = 0; jobs[t][j]; j++)
      run->total += jobs[t][j];
    run->plane3 = frame_floats (model);
    run->frames = random_frames (rand, model, run->total);
    run->out = g_new (gfloat, (gsize) (run->total + 1) * run->dims);
    for (gsize i = 0; i < (gsize) (run->total + 1) * run->dims; i++)
      memcpy (&run->out[i], &canary, sizeof canary);
    all += run->total;
  }
  g_assert_cmpuint (
      gst_vgg_batch_group_get_batch_size (runs[0].member), ==, p->batch_size);
  for (guint t = 0; t < 3; t++)
    threads[t] = g_thread_new ("member", member_run_thread, &runs[t]);
  for (guint t = 0; t < 3; t++)
    g_thread_join (threads[t]);

  batches = gst_vgg_batch_group_get_batches (runs[0].member);
  g_test_message ("batch %u, %s: %" G_GUINT64_FORMAT
                  " frames in %" G_GUINT64_FORMAT " batches",
      p->batch_size, vgg_precision_to_string (p->precision), all, batches);
  g_assert_cmpuint (gst_vgg_batch_group_get_frames (runs[0].member), ==, all);
  g_assert_cmpuint (batches, >=, (all + p->batch_size - 1) / p->batch_size);
  g_assert_cmpuint (batches, <=, all);
  for (guint t = 0; t < 3; t++) {
    MemberRun *run = &runs[t];
    gchar *what = g_strdup_printf ("batch %u, %s, member %u (%s)",
        p->batch_size, vgg_precision_to_string (p->precision), t,
        vgg_output_to_string (run->output));
    gint dims;
    gfloat *ref;

    if (run->failure)
      g_error ("%s: %s", what, run->failure);
    ref = reference_rows (
        model, p->precision, run->frames, run->total, run->output, &dims);
    g_assert_cmpint (dims, ==, run->dims);
    assert_rows_match (what, run->out, ref, run->total, dims);
    g_free (ref);
    g_free (what);
    gst_vgg_batch_group_leave (run->member);
    g_free (run->frames);
    g_free (run->out);
  }
  g_rand_free (rand);
  vgg_model_unref (model);
}

/* The frames and batches the member's group has run. */
static void
assert_counts (GstVggBatchGroupMember *m, guint64 frames, guint64 batches)
{
  guint64 f = gst_vgg_batch_group_get_frames (m);
  guint64 b = gst_vgg_batch_group_get_batches (m);

  if (f != frames || b != batches)
    g_error ("the group ran %" G_GUINT64_FORMAT " frames in %" G_GUINT64_FORMAT
             " batches, expected %" G_GUINT64_FORMAT " in %" G_GUINT64_FORMAT,
        f, b, frames, batches);
}

/* --- one test's frames --- */

/* n random frames (seeded) of the model of a file, with `reference` their
 * rows from a context of our own, and room for the group's rows. */
typedef struct
{
  VggModel *model;
  gsize plane3; /* floats of one frame, (h, w, 3) */
  guint n;
  gfloat *frames; /* (n, h, w, 3) */
  VggOutput output;
  gint dims;   /* of output */
  gfloat *ref; /* (n, dims), or NULL */
  gfloat *out; /* (n, dims) */
} Frames;

static void
frames_init (Frames *f, const gchar *path, guint32 seed, guint n,
    VggOutput output, gboolean reference)
{
  GRand *rand = g_rand_new_with_seed (seed);

  f->model = load (path);
  f->plane3 = frame_floats (f->model);
  f->n = n;
  f->frames = random_frames (rand, f->model, n);
  f->output = output;
  f->dims = vgg_model_get_output_dims (f->model, output);
  f->ref = reference ? reference_rows (
               f->model, VGG_PRECISION_FP32, f->frames, n, output, &f->dims)
                     : NULL;
  f->out = g_new0 (gfloat, (gsize) n * f->dims);
  g_rand_free (rand);
}

static void
frames_clear (Frames *f)
{
  g_free (f->out);
  g_free (f->ref);
  g_free (f->frames);
  vgg_model_unref (f->model);
}

/* Frames [first, first + n) of f through the group, their rows to
 * f->out. */
static GstVggBatchGroupResult
forward_frames (GstVggBatchGroupMember *m, Frames *f, guint first, guint n)
{
  char error[VGG_ERROR_SIZE];

  g_assert_cmpuint (first + n, <=, f->n);
  return gst_vgg_batch_group_forward (m, f->frames + first * f->plane3, n,
      f->output, f->dims, f->out + (gsize) first * f->dims, error);
}

/* The group's rows [first, first + n) equal the reference's. */
static void
assert_frames_match (const gchar *what, const Frames *f, guint first, guint n)
{
  assert_rows_match (what, f->out + (gsize) first * f->dims,
      f->ref + (gsize) first * f->dims, n, f->dims);
}

/* forward_frames in a thread of its own */
typedef struct
{
  GstVggBatchGroupMember *member;
  Frames *f;
  guint first, n;
  GThread *thread;
  GstVggBatchGroupResult result;
} Job;

static gpointer
job_thread (gpointer data)
{
  Job *job = data;

  job->result = forward_frames (job->member, job->f, job->first, job->n);
  return NULL;
}

static void
job_start (Job *job, GstVggBatchGroupMember *m, Frames *f, guint first, guint n)
{
  *job = (Job){ m, f, first, n, NULL, GST_VGG_BATCH_GROUP_ERROR };
  job->thread = g_thread_new ("job", job_thread, job);
}

static GstVggBatchGroupResult
job_finish (Job *job)
{
  g_thread_join (job->thread);
  return job->result;
}

/* --- fairness --- */

typedef struct
{
  GstVggBatchGroupMember *member;
  Frames *f;
  guint n;
  gint stop; /* atomic */
  guint jobs;
  GstVggBatchGroupResult last;
} Flood;

static gpointer
flood_thread (gpointer data)
{
  Flood *flood = data;

  while (!g_atomic_int_get (&flood->stop)) {
    flood->last = forward_frames (flood->member, flood->f, 0, flood->n);
    if (flood->last != GST_VGG_BATCH_GROUP_OK)
      break;
    flood->jobs++;
  }
  return NULL;
}

/* While member A sends job after job of 60 frames, each single frame of B
 * runs in the batch after the one running when it comes: the worker fills
 * it one frame per member in turn.  So the group runs at most
 * 2 * batch-size frames (A's and B's own) between B's arrival and its
 * return (6 of 6 in every probe here).  The counters are read outside the
 * group's lock, before B's job arrives and after it is back, so the bound
 * allows one batch more (3 * batch-size): one that ends between the first
 * reading and the arrival.  A worker that filled batches member by member
 * would run up to 60 of A's first. */
static void
test_flooding_member_does_not_starve_another (void)
{
  const guint batch_size = 3, flood_n = 60, probes = 8;
  Frames f;
  Flood flood = { 0 };
  GstVggBatchGroupMember *b;
  GThread *thread;
  guint max_between = 0, a_frames_during = 0;
  GString *counts = g_string_new (NULL);

  /* A's 60 frames, then B's */
  frames_init (&f, heavy_path, 14, flood_n + 1, VGG_OUTPUT_LOGITS, FALSE);
  /* the worker on one thread: the other core is for A's and B's threads */
  flood.member =
      join_ok ("fair", f.model, batch_size, 1000, 1, VGG_PRECISION_FP32);
  b = join_ok ("fair", f.model, batch_size, 1000, 1, VGG_PRECISION_FP32);
  flood.f = &f;
  flood.n = flood_n;
  thread = g_thread_new ("flood", flood_thread, &flood);
  /* A's first batch is running */
  while (gst_vgg_batch_group_get_frames (b) == 0)
    g_usleep (1000);

  for (guint i = 0; i < probes; i++) {
    guint64 f0, f1, b0, b1;
    GstVggBatchGroupResult res;

    f0 = gst_vgg_batch_group_get_frames (b);
    b0 = gst_vgg_batch_group_get_batches (b);
    res = forward_frames (b, &f, flood_n, 1);
    f1 = gst_vgg_batch_group_get_frames (b);
    b1 = gst_vgg_batch_group_get_batches (b);
    g_assert_cmpint (res, ==, GST_VGG_BATCH_GROUP_OK);
    g_string_append_printf (counts,
        "%s%" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT, i ? ", " : "", f1 - f0,
        b1 - b0);
    max_between = MAX (max_between, (guint) (f1 - f0));
    a_frames_during += (guint) (f1 - f0 - 1);
    if (f1 - f0 > 3 * batch_size)
      g_error ("probe %u: B's frame came back after %" G_GUINT64_FORMAT
               " frames in %" G_GUINT64_FORMAT " batches (batch %u; "
               "bound %u frames); frames/batches of every probe: %s",
          i, f1 - f0, b1 - b0, batch_size, 3 * batch_size, counts->str);
  }
  g_atomic_int_set (&flood.stop, 1);
  g_thread_join (thread);
  g_test_message ("frames/batches run while each single frame of B waited "
                  "(batch %u, A's jobs %u frames): %s; max %u, A's jobs "
                  "done %u",
      batch_size, flood_n, counts->str, max_between, flood.jobs);
  g_assert_cmpint (flood.last, ==, GST_VGG_BATCH_GROUP_OK);
  /* A was running the whole time: B's frames shared the worker with it */
  g_assert_cmpuint (a_frames_during, >=, probes);

  gst_vgg_batch_group_leave (b);
  gst_vgg_batch_group_leave (flood.member);
  g_string_free (counts, TRUE);
  frames_clear (&f);
}

/* --- the batch timeout --- */

/* A lone partial job while another member could still send frames waits
 * the whole batch-timeout (a lower bound, exact: the deadline counts from
 * the job's arrival, after our first clock reading), then runs alone. */
static void
test_partial_job_waits_for_the_timeout_when_frames_could_come (void)
{
  const guint timeout_ms = 250;
  Frames f;
  GstVggBatchGroupMember *a, *idle;
  gint64 start, elapsed_us;
  GstVggBatchGroupResult res;

  frames_init (&f, small_path, 2, 1, VGG_OUTPUT_LOGITS, TRUE);
  a = join_ok ("timeout", f.model, 4, timeout_ms, 1, VGG_PRECISION_FP32);
  idle = join_ok ("timeout", f.model, 4, timeout_ms, 1, VGG_PRECISION_FP32);
  start = g_get_monotonic_time ();
  res = forward_frames (a, &f, 0, 1);
  elapsed_us = g_get_monotonic_time () - start;
  g_test_message ("a lone frame (batch 4, timeout %u ms) came back after "
                  "%.1f ms",
      timeout_ms, elapsed_us / 1000.0);
  g_assert_cmpint (res, ==, GST_VGG_BATCH_GROUP_OK);
  g_assert_cmpint (elapsed_us, >=, (gint64) timeout_ms * 1000);
  assert_counts (a, 1, 1);
  assert_frames_match ("lone frame", &f, 0, 1);

  gst_vgg_batch_group_leave (idle);
  gst_vgg_batch_group_leave (a);
  frames_clear (&f);
}

/* When every member has a job waiting no more frames can come: the partial
 * batch runs at once, as one batch, not after the (one minute) timeout. */
static void
test_partial_batch_runs_when_every_member_waits (void)
{
  const guint timeout_ms = 60000;
  Frames f;
  GstVggBatchGroupMember *a, *b, *alone;
  Job job;
  gint64 start;

  frames_init (&f, small_path, 3, 3, VGG_OUTPUT_LOGITS, TRUE);
  /* one member alone: its job is all that can come */
  alone = join_ok ("alone", f.model, 5, timeout_ms, 1, VGG_PRECISION_FP32);
  start = g_get_monotonic_time ();
  g_assert_cmpint (
      forward_frames (alone, &f, 0, 2), ==, GST_VGG_BATCH_GROUP_OK);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 30 * G_TIME_SPAN_SECOND);
  g_assert_cmpuint (gst_vgg_batch_group_get_batches (alone), ==, 1);
  assert_frames_match ("alone", &f, 0, 2);
  /* no frames: nothing runs */
  g_assert_cmpint (
      forward_frames (alone, &f, 0, 0), ==, GST_VGG_BATCH_GROUP_OK);
  g_assert_cmpuint (gst_vgg_batch_group_get_frames (alone), ==, 2);
  gst_vgg_batch_group_leave (alone);

  /* two members, 2 + 1 frames of a batch of 4: one batch */
  memset (f.out, 0, sizeof (gfloat) * 3 * f.dims);
  a = join_ok ("together", f.model, 4, timeout_ms, 1, VGG_PRECISION_FP32);
  b = join_ok ("together", f.model, 4, timeout_ms, 1, VGG_PRECISION_FP32);
  start = g_get_monotonic_time ();
  job_start (&job, a, &f, 0, 2);
  g_usleep (20000);
  g_assert_cmpint (forward_frames (b, &f, 2, 1), ==, GST_VGG_BATCH_GROUP_OK);
  g_assert_cmpint (job_finish (&job), ==, GST_VGG_BATCH_GROUP_OK);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 30 * G_TIME_SPAN_SECOND);
  assert_counts (a, 3, 1);
  assert_frames_match ("together", &f, 0, 3);
  gst_vgg_batch_group_leave (b);
  gst_vgg_batch_group_leave (a);
  frames_clear (&f);
}

/* A partial job waits for the frames of members that may still send
 * some: not for one whose stream ended (until its next job), was
 * cancelled (until resume), or left.  The group's timeout is long, so a
 * job that came back within half of it did not wait for it. */
static void
test_ended_cancelled_and_left_members_are_not_waited_for (void)
{
  const guint timeout_ms = 4000;
  const gint64 quick_us = timeout_ms * G_TIME_SPAN_MILLISECOND / 2;
  Frames f;
  GstVggBatchGroupMember *a, *b;
  Job job;
  gint64 start, took[4];

  frames_init (&f, small_path, 7, 2, VGG_OUTPUT_LOGITS, TRUE);
  a = join_ok ("ended", f.model, 4, timeout_ms, 1, VGG_PRECISION_FP32);
  b = join_ok ("ended", f.model, 4, timeout_ms, 1, VGG_PRECISION_FP32);

  /* b's stream ended: a's lone frame runs at once */
  gst_vgg_batch_group_end (b);
  start = g_get_monotonic_time ();
  g_assert_cmpint (forward_frames (a, &f, 0, 1), ==, GST_VGG_BATCH_GROUP_OK);
  took[0] = g_get_monotonic_time () - start;
  /* b sends again: it counts again, and a (idle) may send: b waits */
  start = g_get_monotonic_time ();
  g_assert_cmpint (forward_frames (b, &f, 1, 1), ==, GST_VGG_BATCH_GROUP_OK);
  took[1] = g_get_monotonic_time () - start;
  assert_frames_match ("ended", &f, 0, 2);
  /* b flushing: a does not wait for it */
  gst_vgg_batch_group_cancel (b);
  start = g_get_monotonic_time ();
  g_assert_cmpint (forward_frames (a, &f, 0, 1), ==, GST_VGG_BATCH_GROUP_OK);
  took[2] = g_get_monotonic_time () - start;
  gst_vgg_batch_group_resume (b);
  /* a waits for b, idle, until b leaves */
  start = g_get_monotonic_time ();
  job_start (&job, a, &f, 0, 1);
  g_usleep (100000);
  gst_vgg_batch_group_leave (b);
  g_assert_cmpint (job_finish (&job), ==, GST_VGG_BATCH_GROUP_OK);
  took[3] = g_get_monotonic_time () - start;
  g_test_message ("timeout %u ms: with b ended %.1f ms, b's frame after "
                  "%.1f ms, with b cancelled %.1f ms, until b left %.1f ms",
      timeout_ms, took[0] / 1e3, took[1] / 1e3, took[2] / 1e3, took[3] / 1e3);
  g_assert_cmpint (took[0], <, quick_us);
  g_assert_cmpint (took[1], >=, (gint64) timeout_ms * 1000);
  g_assert_cmpint (took[2], <, quick_us);
  g_assert_cmpint (took[3], <, quick_us);
  assert_counts (a, 4, 4);

  gst_vgg_batch_group_leave (a);
  frames_clear (&f);
}

/* --- refusals --- */

static void
test_joining_with_another_model_is_refused_naming_both_files (void)
{
  VggModel *model = load (small_path), *other = load (other_path);
  GstVggBatchGroupMember *first, *second;
  gchar *error = NULL;

  first = join_ok ("models", model, 3, 10, 1, VGG_PRECISION_FP32);
  g_assert_null (gst_vgg_batch_group_join (
      "models", other, 3, 10, 1, VGG_PRECISION_FP32, &error));
  g_assert_nonnull (error);
  g_test_message ("%s", error);
  if (!strstr (error, small_path) || !strstr (error, other_path)
      || !strstr (error, "\"models\""))
    g_error ("the refusal should name the group, %s and %s: \"%s\"", small_path,
        other_path, error);
  g_clear_pointer (&error, g_free);
  /* the same model joins, with the group's settings */
  second = join_ok ("models", model, 7, 10, 1, VGG_PRECISION_FP32);
  g_assert_cmpuint (gst_vgg_batch_group_get_batch_size (second), ==, 3);
  /* another name is another group */
  gst_vgg_batch_group_leave (
      join_ok ("models-2", other, 5, 10, 1, VGG_PRECISION_FP32));
  gst_vgg_batch_group_leave (second);
  gst_vgg_batch_group_leave (first);
  vgg_model_unref (other);
  vgg_model_unref (model);
}

/* A group the engine cannot make a context for is not made: the engine's
 * message comes back, and the name stays free. */
static void
test_group_the_engine_refuses_returns_its_message (void)
{
  VggModel *model = load (small_path);
  GstVggBatchGroupMember *m;
  gchar *error = NULL;

  g_assert_null (gst_vgg_batch_group_join (
      "huge", model, 5000, 10, 1, VGG_PRECISION_FP32, &error));
  g_assert_nonnull (error);
  g_test_message ("%s", error);
  if (!strstr (error, "batch-group \"huge\"") || !strstr (error, "5000"))
    g_error (
        "the message should name the group and the batch size: \"%s\"", error);
  g_free (error);
  m = join_ok ("huge", model, 3, 10, 1, VGG_PRECISION_FP32);
  g_assert_cmpuint (gst_vgg_batch_group_get_batch_size (m), ==, 3);
  gst_vgg_batch_group_leave (m);
  vgg_model_unref (model);
}

/* --- cancel and resume --- */

/* A forward blocked on the timeout returns CANCELLED at cancel, having run
 * nothing; every later forward returns CANCELLED at once until resume; the
 * other member is not affected. */
static void
test_cancel_returns_cancelled_until_resume (void)
{
  Frames f;
  GstVggBatchGroupMember *a, *b;
  Job job;
  gint64 start;

  frames_init (&f, small_path, 4, 4, VGG_OUTPUT_LOGITS, TRUE);
  a = join_ok ("cancel", f.model, 4, 60000, 1, VGG_PRECISION_FP32);
  b = join_ok ("cancel", f.model, 4, 60000, 1, VGG_PRECISION_FP32);
  start = g_get_monotonic_time ();
  job_start (&job, a, &f, 0, 1);
  g_usleep (100000);
  gst_vgg_batch_group_cancel (a);
  g_assert_cmpint (job_finish (&job), ==, GST_VGG_BATCH_GROUP_CANCELLED);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 30 * G_TIME_SPAN_SECOND);
  g_assert_cmpuint (gst_vgg_batch_group_get_frames (a), ==, 0);

  for (guint n = 1; n <= 4; n += 3)
    g_assert_cmpint (
        forward_frames (a, &f, 0, n), ==, GST_VGG_BATCH_GROUP_CANCELLED);
  g_assert_cmpuint (gst_vgg_batch_group_get_frames (a), ==, 0);
  /* b runs a full batch meanwhile */
  g_assert_cmpint (forward_frames (b, &f, 0, 4), ==, GST_VGG_BATCH_GROUP_OK);
  assert_frames_match ("the other member", &f, 0, 4);

  gst_vgg_batch_group_resume (a);
  memset (f.out, 0, sizeof (gfloat) * 4 * f.dims);
  g_assert_cmpint (forward_frames (a, &f, 0, 4), ==, GST_VGG_BATCH_GROUP_OK);
  assert_frames_match ("after resume", &f, 0, 4);
  g_assert_cmpuint (gst_vgg_batch_group_get_frames (a), ==, 8);

  gst_vgg_batch_group_leave (b);
  gst_vgg_batch_group_leave (a);
  frames_clear (&f);
}

/* Cancel while the job's frames are in a running batch: the forward
 * returns CANCELLED once that batch is done, even when resume came before
 * it woke up (its later frames were dropped, their rows never written);
 * the dropped frames never run. */
static void
test_cancel_during_a_batch_returns_cancelled_even_if_resumed (void)
{
  const guint batch_size = 3, n = 40;
  Frames f;
  GstVggBatchGroupMember *a;
  Job job;
  guint64 at_return;

  frames_init (&f, heavy_path, 5, n, VGG_OUTPUT_LOGITS, FALSE);
  a = join_ok (
      "cancel-running", f.model, batch_size, 10, 1, VGG_PRECISION_FP32);
  job_start (&job, a, &f, 0, n);
  /* the first batch is done, the second running */
  while (gst_vgg_batch_group_get_frames (a) < batch_size)
    g_usleep (500);
  gst_vgg_batch_group_cancel (a);
  gst_vgg_batch_group_resume (a);
  g_assert_cmpint (job_finish (&job), ==, GST_VGG_BATCH_GROUP_CANCELLED);
  at_return = gst_vgg_batch_group_get_frames (a);
  g_test_message (
      "cancelled after %" G_GUINT64_FORMAT " of %u frames", at_return, n);
  g_assert_cmpuint (at_return, <, n);
  g_usleep (100000);
  g_assert_cmpuint (gst_vgg_batch_group_get_frames (a), ==, at_return);
  /* resumed: the next job runs whole */
  g_assert_cmpint (
      forward_frames (a, &f, 0, batch_size), ==, GST_VGG_BATCH_GROUP_OK);
  g_assert_cmpuint (
      gst_vgg_batch_group_get_frames (a), ==, at_return + batch_size);

  gst_vgg_batch_group_leave (a);
  frames_clear (&f);
}

/* --- the last leave --- */

static void
test_last_leave_frees_the_group (void)
{
  VggModel *other = load (other_path);
  Frames f;
  GstVggBatchGroupMember *a, *b;

  frames_init (&f, small_path, 6, 3, VGG_OUTPUT_LOGITS, FALSE);
  a = join_ok ("free", f.model, 3, 10, 1, VGG_PRECISION_FP32);
  b = join_ok ("free", f.model, 7, 10, 1, VGG_PRECISION_FP32);
  g_assert_cmpuint (gst_vgg_batch_group_get_batch_size (b), ==, 3);
  g_assert_cmpint (forward_frames (a, &f, 0, 3), ==, GST_VGG_BATCH_GROUP_OK);
  gst_vgg_batch_group_leave (a);
  /* one member left: the group lives on with its counters */
  g_assert_cmpuint (gst_vgg_batch_group_get_frames (b), ==, 3);
  gst_vgg_batch_group_leave (b);

  /* a fresh group: the new settings, no frames, any model */
  a = join_ok ("free", f.model, 7, 10, 1, VGG_PRECISION_FP32);
  g_assert_cmpuint (gst_vgg_batch_group_get_batch_size (a), ==, 7);
  assert_counts (a, 0, 0);
  gst_vgg_batch_group_leave (a);
  a = join_ok ("free", other, 5, 10, 1, VGG_PRECISION_FP32);
  g_assert_cmpuint (gst_vgg_batch_group_get_batch_size (a), ==, 5);
  gst_vgg_batch_group_leave (a);

  frames_clear (&f);
  vgg_model_unref (other);
}

/* --- errors --- */

/* A member asking for rows of the wrong width gets ERROR with a message;
 * the member sharing its batch gets its rows; the next forward is fine. */
static void
test_engine_error_comes_back_to_its_member_only (void)
{
  Frames f;
  gfloat *bad;
  GstVggBatchGroupMember *a, *b;
  char error[VGG_ERROR_SIZE] = "";
  gchar *expected;
  GstVggBatchGroupResult res;
  Job job;

  frames_init (&f, small_path, 7, 4, VGG_OUTPUT_PROBS, TRUE);
  bad = g_new (gfloat, f.dims + 1);
  a = join_ok ("errors", f.model, 4, 60000, 1, VGG_PRECISION_FP32);
  b = join_ok ("errors", f.model, 4, 60000, 1, VGG_PRECISION_FP32);
  /* the timeout is a minute: both jobs run in one batch */
  job_start (&job, b, &f, 1, 1);
  res = gst_vgg_batch_group_forward (
      a, f.frames, 1, VGG_OUTPUT_PROBS, f.dims + 1, bad, error);
  g_assert_cmpint (job_finish (&job), ==, GST_VGG_BATCH_GROUP_OK);
  g_test_message ("%s", error);
  g_assert_cmpint (res, ==, GST_VGG_BATCH_GROUP_ERROR);
  expected = g_strdup_printf ("output probs has %d values per frame, "
                              "expected %d",
      f.dims, f.dims + 1);
  if (!strstr (error, expected) || !strstr (error, "\"errors\""))
    g_error ("the message should name the group and say \"%s\": \"%s\"",
        expected, error);
  assert_counts (a, 2, 1);
  assert_frames_match ("the member sharing the batch", &f, 1, 1);

  /* a full batch: runs without waiting for b */
  g_assert_cmpint (forward_frames (a, &f, 0, 4), ==, GST_VGG_BATCH_GROUP_OK);
  assert_frames_match ("after an error", &f, 0, 4);

  gst_vgg_batch_group_leave (b);
  gst_vgg_batch_group_leave (a);
  g_free (expected);
  g_free (bad);
  frames_clear (&f);
}

int
main (int argc, char **argv)
{
  static const gint small_cfg[] = { 8, 0, 16, 0, -1 };
  static const gint heavy_cfg[] = { 32, 32, 0, 64, -1 };
  static const GroupParams params[] = {
    { 3, VGG_PRECISION_FP32 },
    { 5, VGG_PRECISION_FP32 },
    { 5, VGG_PRECISION_BF16 },
  };
  int ret;

  g_test_init (&argc, &argv, NULL);
  dir = vgg_test_make_tmp_dir ("vgg-batch-group-XXXXXX");
  small_path = g_build_filename (dir, "small.safetensors", NULL);
  other_path = g_build_filename (dir, "other.safetensors", NULL);
  heavy_path = g_build_filename (dir, "heavy.safetensors", NULL);
  g_assert_true (vgg_test_write_random_model (
      small_path, small_cfg, 24, 7, 35, 33, 11, NULL, "small"));
  g_assert_true (vgg_test_write_random_model (
      other_path, small_cfg, 24, 5, 41, 37, 12, NULL, "other"));
  g_assert_true (vgg_test_write_random_model (
      heavy_path, heavy_cfg, 64, 10, 129, 127, 13, NULL, "heavy"));

  for (guint i = 0; i < G_N_ELEMENTS (params); i++) {
    gchar *name = g_strdup_printf ("/batch-group/own-rows-as-own-context/"
                                   "batch-%u-%s",
        params[i].batch_size, vgg_precision_to_string (params[i].precision));
    g_test_add_data_func (name, &params[i],
        test_members_get_their_own_rows_as_an_own_context_does);
    g_free (name);
  }
  g_test_add_func ("/batch-group/flooding-member-does-not-starve-another",
      test_flooding_member_does_not_starve_another);
  g_test_add_func ("/batch-group/partial-job-waits-for-the-timeout",
      test_partial_job_waits_for_the_timeout_when_frames_could_come);
  g_test_add_func ("/batch-group/partial-batch-runs-when-every-member-waits",
      test_partial_batch_runs_when_every_member_waits);
  g_test_add_func ("/batch-group/ended-cancelled-left-not-waited-for",
      test_ended_cancelled_and_left_members_are_not_waited_for);
  g_test_add_func ("/batch-group/another-model-refused-naming-both-files",
      test_joining_with_another_model_is_refused_naming_both_files);
  g_test_add_func ("/batch-group/engine-refusal-returns-its-message",
      test_group_the_engine_refuses_returns_its_message);
  g_test_add_func ("/batch-group/cancel-until-resume",
      test_cancel_returns_cancelled_until_resume);
  g_test_add_func ("/batch-group/cancel-during-a-batch-even-if-resumed",
      test_cancel_during_a_batch_returns_cancelled_even_if_resumed);
  g_test_add_func ("/batch-group/last-leave-frees-the-group",
      test_last_leave_frees_the_group);
  g_test_add_func ("/batch-group/engine-error-to-its-member-only",
      test_engine_error_comes_back_to_its_member_only);
  ret = g_test_run ();
  vgg_test_remove_tmp_dir (dir);
  g_free (heavy_path);
  g_free (other_path);
  g_free (small_path);
  g_free (dir);
  return ret;
}

/* Soak: 100,000 frames of a tiny model through each of two vgginfer
 * elements (batch-size 4; one with its own worker, one in a batch group)
 * from live sources, with a flushing seek, a PAUSED round trip or a READY
 * round trip every few thousand frames.  Checks that every frame that
 * enters the element leaves it once and in order (frames inside it at a
 * flush or at READY may be dropped: that is what those do), and that RSS,
 * threads and file descriptors stay flat after warm-up.
 *
 * Environment: VGG_SOAK_FRAMES (default 100000), VGG_SOAK_CHECK_RSS=0 to
 * skip the RSS bound (sanitizers and valgrind hold freed memory back).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <dirent.h>
#include <glib/gstdio.h>
#include <gst/gst.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vgg-test-models.h"

#define DISTURB_EVERY 3000
#define RSS_SLACK_KB (5 * 1024)

/* A frame that entered vgginfer and has not left it. */
typedef struct
{
  guint64 serial;
  gboolean droppable; /* in the element at a flush or at READY */
} InFlight;

typedef struct
{
  GMutex lock;
  GQueue in_flight; /* InFlight*, oldest first */
  guint64 next_serial;
  guint64 frames_in, frames_out, dropped;
  gchar *failure; /* the first inconsistency */
} Soak;

static void
fail_locked (Soak *soak, gchar *msg)
{
  if (soak->failure == NULL)
    soak->failure = msg;
  else
    g_free (msg);
}

static void
mark_droppable_locked (Soak *soak)
{
  for (GList *l = soak->in_flight.head; l; l = l->next)
    ((InFlight *) l->data)->droppable = TRUE;
}

/* vgginfer's sink pad: numbers each frame (OFFSET_END, which the element
 * keeps) and remembers it; a FLUSH_STOP makes the frames inside droppable. */
static GstPadProbeReturn
sink_probe (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  Soak *soak = data;

  if (info->type & GST_PAD_PROBE_TYPE_BUFFER) {
    GstBuffer *buf =
        gst_buffer_make_writable (GST_PAD_PROBE_INFO_BUFFER (info));
    InFlight *f = g_new0 (InFlight, 1);

    g_mutex_lock (&soak->lock);
    f->serial = soak->next_serial++;
    soak->frames_in++;
    g_queue_push_tail (&soak->in_flight, f);
    g_mutex_unlock (&soak->lock);
    GST_BUFFER_OFFSET_END (buf) = f->serial;
    GST_PAD_PROBE_INFO_DATA (info) = buf;
  } else if (GST_EVENT_TYPE (GST_PAD_PROBE_INFO_EVENT (info))
      == GST_EVENT_FLUSH_STOP) {
    g_mutex_lock (&soak->lock);
    mark_droppable_locked (soak);
    g_mutex_unlock (&soak->lock);
  }
  return GST_PAD_PROBE_OK;
}

/* vgginfer's src pad: the frame must be the oldest one inside, after only
 * droppable ones. */
static GstPadProbeReturn
src_probe (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  Soak *soak = data;
  guint64 serial = GST_BUFFER_OFFSET_END (GST_PAD_PROBE_INFO_BUFFER (info));
  InFlight *f;

  g_mutex_lock (&soak->lock);
  soak->frames_out++;
  while ((f = g_queue_pop_head (&soak->in_flight)) && f->serial != serial) {
    if (!f->droppable)
      fail_locked (soak,
          g_strdup_printf ("frame %" G_GUINT64_FORMAT
                           " lost: frame %" G_GUINT64_FORMAT
                           " came out before it",
              f->serial, serial));
    soak->dropped++;
    g_free (f);
  }
  if (f == NULL)
    fail_locked (soak,
        g_strdup_printf ("frame %" G_GUINT64_FORMAT
                         " came out twice or out of order",
            serial));
  g_free (f);
  g_mutex_unlock (&soak->lock);
  return GST_PAD_PROBE_OK;
}

static guint64
get_frames_out (Soak *soak)
{
  guint64 n;
  g_mutex_lock (&soak->lock);
  n = soak->frames_out;
  g_mutex_unlock (&soak->lock);
  return n;
}

static glong
status_kb (const gchar *field)
{
  gchar *contents = NULL, *line;
  glong v = -1;

  if (!g_file_get_contents ("/proc/self/status", &contents, NULL, NULL))
    return -1;
  line = strstr (contents, field);
  if (line)
    v = strtol (line + strlen (field), NULL, 10);
  g_free (contents);
  return v;
}

static gint
count_dir (const gchar *path)
{
  GDir *dir = g_dir_open (path, 0, NULL);
  gint n = 0;

  g_assert_nonnull (dir);
  while (g_dir_read_name (dir))
    n++;
  g_dir_close (dir);
  return n;
}

typedef struct
{
  glong rss_kb;
  gint threads, fds;
} Usage;

static void
measure (Usage *u)
{
  u->rss_kb = status_kb ("VmRSS:");
  u->threads = count_dir ("/proc/self/task");
  u->fds = count_dir ("/proc/self/fd");
}

#define N_BRANCHES 2

static guint64
min_frames_out (Soak *soaks)
{
  guint64 n = G_MAXUINT64;
  for (gint b = 0; b < N_BRANCHES; b++)
    n = MIN (n, get_frames_out (&soaks[b]));
  return n;
}

static void
wait_frames (Soak *soaks, GstBus *bus, guint64 target)
{
  while (min_frames_out (soaks) < target) {
    GstMessage *msg = gst_bus_timed_pop_filtered (
        bus, 10 * GST_MSECOND, GST_MESSAGE_ERROR | GST_MESSAGE_WARNING);
    if (msg) {
      GError *err = NULL;
      gchar *dbg = NULL;
      if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR)
        gst_message_parse_error (msg, &err, &dbg);
      else
        gst_message_parse_warning (msg, &err, &dbg);
      g_error ("%s from %s at %" G_GUINT64_FORMAT " frames: %s (%s)",
          GST_MESSAGE_TYPE_NAME (msg), GST_MESSAGE_SRC_NAME (msg),
          min_frames_out (soaks), err->message, dbg ? dbg : "");
    }
  }
}

static void
set_state_sync (GstElement *p, GstState state)
{
  GstStateChangeReturn r = gst_element_set_state (p, state);
  g_assert_cmpint (r, !=, GST_STATE_CHANGE_FAILURE);
  r = gst_element_get_state (p, NULL, NULL, 10 * GST_SECOND);
  g_assert_cmpint (r, !=, GST_STATE_CHANGE_FAILURE);
}

static void
check_branch (Soak *soak, const gchar *name, guint64 total)
{
  g_mutex_lock (&soak->lock);
  printf ("soak, %s: %" G_GUINT64_FORMAT " frames in, %" G_GUINT64_FORMAT
          " out, %" G_GUINT64_FORMAT " dropped by flushes and READY\n",
      name, soak->frames_in, soak->frames_out, soak->dropped);
  if (soak->failure)
    g_error ("%s: %s", name, soak->failure);
  /* at EOS everything has come out */
  if (!g_queue_is_empty (&soak->in_flight))
    g_error ("%s: %u frames still inside after EOS, first %" G_GUINT64_FORMAT,
        name, g_queue_get_length (&soak->in_flight),
        ((InFlight *) g_queue_peek_head (&soak->in_flight))->serial);
  g_assert_cmpuint (soak->frames_in, ==, soak->frames_out + soak->dropped);
  g_assert_cmpuint (soak->frames_out, >=, total);
  g_mutex_unlock (&soak->lock);
}

static void
test_soak_live_batching_with_flushes_and_state_changes (void)
{
  const gchar *env = g_getenv ("VGG_SOAK_FRAMES");
  guint64 total = env ? g_ascii_strtoull (env, NULL, 10) : 100000;
  gboolean check_rss = g_strcmp0 (g_getenv ("VGG_SOAK_CHECK_RSS"), "0") != 0;
  static const gint cfg[] = { 8, 0, 8, 0, -1 };
  static const gchar *names[N_BRANCHES] = { "own worker", "batch group" };
  gchar *dir = g_dir_make_tmp ("vgg-soak-XXXXXX", NULL);
  gchar *model = g_build_filename (dir, "tiny.safetensors", NULL);
  gchar *desc;
  GstElement *pipeline;
  GstBus *bus;
  GstMessage *msg;
  Soak soaks[N_BRANCHES];
  Usage warm = { 0 }, end;
  guint64 warm_at = MIN (total / 5, 20000), next;
  guint n_seeks = 0, n_pauses = 0, n_readies = 0, kind = 0;

  g_assert_true (vgg_test_write_random_model (
      model, cfg, 16, 10, 32, 32, 17, NULL, "tiny"));
  memset (soaks, 0, sizeof soaks);
  desc = g_strdup_printf (
      "videotestsrc is-live=true pattern=ball ! "
      "video/x-raw,format=I420,width=40,height=30,framerate=1000/1 ! "
      "vgginfer name=infer0 model=\"%s\" batch-size=4 batch-timeout=5 "
      "max-queue=32 post-messages=false ! fakesink sync=false  "
      "videotestsrc is-live=true pattern=snow ! "
      "video/x-raw,format=RGB,width=33,height=35,framerate=1000/1 ! "
      "vgginfer name=infer1 model=\"%s\" batch-size=4 batch-timeout=5 "
      "batch-group=soak max-queue=32 post-messages=false ! "
      "fakesink sync=false",
      model, model);
  pipeline = gst_parse_launch (desc, NULL);
  g_assert_nonnull (pipeline);
  for (gint b = 0; b < N_BRANCHES; b++) {
    gchar *name = g_strdup_printf ("infer%d", b);
    GstElement *infer = gst_bin_get_by_name (GST_BIN (pipeline), name);
    GstPad *sinkpad = gst_element_get_static_pad (infer, "sink");
    GstPad *srcpad = gst_element_get_static_pad (infer, "src");
    g_mutex_init (&soaks[b].lock);
    g_queue_init (&soaks[b].in_flight);
    gst_pad_add_probe (sinkpad,
        GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_EVENT_FLUSH, sink_probe,
        &soaks[b], NULL);
    gst_pad_add_probe (
        srcpad, GST_PAD_PROBE_TYPE_BUFFER, src_probe, &soaks[b], NULL);
    gst_object_unref (sinkpad);
    gst_object_unref (srcpad);
    gst_object_unref (infer);
    g_free (name);
  }
  bus = gst_element_get_bus (pipeline);
  set_state_sync (pipeline, GST_STATE_PLAYING);

  for (next = DISTURB_EVERY; next < total; next += DISTURB_EVERY) {
    wait_frames (soaks, bus, next);
    if (warm.rss_kb == 0 && next >= warm_at)
      measure (&warm);
    switch (kind++ % 3) {
      case 0:
        g_assert_true (gst_element_seek_simple (
            pipeline, GST_FORMAT_TIME, GST_SEEK_FLAG_FLUSH, 0));
        n_seeks++;
        break;
      case 1:
        set_state_sync (pipeline, GST_STATE_PAUSED);
        g_usleep (2000);
        set_state_sync (pipeline, GST_STATE_PLAYING);
        n_pauses++;
        break;
      case 2:
        set_state_sync (pipeline, GST_STATE_READY);
        /* the frames inside were dropped with the pads */
        for (gint b = 0; b < N_BRANCHES; b++) {
          g_mutex_lock (&soaks[b].lock);
          mark_droppable_locked (&soaks[b]);
          g_mutex_unlock (&soaks[b].lock);
        }
        set_state_sync (pipeline, GST_STATE_PLAYING);
        n_readies++;
        break;
    }
  }
  wait_frames (soaks, bus, total);
  measure (&end);
  gst_element_send_event (pipeline, gst_event_new_eos ());
  msg = gst_bus_timed_pop_filtered (
      bus, 60 * GST_SECOND, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  g_assert_nonnull (msg);
  g_assert_cmpint (GST_MESSAGE_TYPE (msg), ==, GST_MESSAGE_EOS);
  gst_message_unref (msg);

  for (gint b = 0; b < N_BRANCHES; b++)
    check_branch (&soaks[b], names[b], total);
  printf ("soak: %u flushing seeks, %u PAUSED and %u READY cycles; after "
          "warm-up at %" G_GUINT64_FORMAT
          " frames: RSS %ld -> %ld kB, threads %d -> %d, fds %d -> %d\n",
      n_seeks, n_pauses, n_readies, warm_at, warm.rss_kb, end.rss_kb,
      warm.threads, end.threads, warm.fds, end.fds);
  if (check_rss && ABS (end.rss_kb - warm.rss_kb) > RSS_SLACK_KB)
    g_error ("RSS %ld kB after warm-up, %ld kB at the end (bound %d kB)",
        warm.rss_kb, end.rss_kb, RSS_SLACK_KB);
  if (end.threads > warm.threads || end.fds > warm.fds)
    g_error ("threads %d -> %d, fds %d -> %d", warm.threads, end.threads,
        warm.fds, end.fds);

  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (pipeline);
  for (gint b = 0; b < N_BRANCHES; b++) {
    g_queue_clear_full (&soaks[b].in_flight, g_free);
    g_mutex_clear (&soaks[b].lock);
  }
  g_unlink (model);
  g_rmdir (dir);
  g_free (model);
  g_free (dir);
  g_free (desc);
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  g_test_add_func (
      "/vgginfer/soak", test_soak_live_batching_with_flushes_and_state_changes);
  return g_test_run ();
}

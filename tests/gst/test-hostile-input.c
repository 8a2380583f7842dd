/* Hostile and careless input to vgginfer and vggoverlay (issue 17): one
 * test per way the elements used to hang, abort or mislead.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/video/video.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vggcore/vggcore.h>

#include "gstvggmeta.h"
#include "vgg-test-models.h"

static gchar *model_dir;
static gchar *spot_model; /* 9 classes, labels in metadata, 64x64 */
static gchar *rand_model; /* random weights, 48x40, 10 classes */
static gchar *nan_model;  /* finite weights whose logits overflow: NaN */

#define CAPS_RGB_64x48                                                         \
  "video/x-raw,format=RGB,width=64,height=48,framerate=30/1"

static void
write_models (void)
{
  static const gint small_cfg[] = { 8, 0, 16, 0, -1 };
  const gchar *dir = g_getenv ("VGG_TEST_DIR");
  /* conv 3->1 of ones (bias 1): after ReLU every pixel is >= 1, so each of
   * the 49 pooled features is >= 1, and classifier weights of 1e38 sum to
   * more than FLT_MAX: every logit is +inf and softmax gives NaN, as
   * torch's does.  Every weight is finite: the file loads. */
  static gfloat conv_w[27], conv_b[1] = { 1.0f }, fc_w[3 * 49], fc_b[3];
  const VggTestTensor tensors[] = {
    { "features.0.weight", 4, { 1, 3, 3, 3 }, conv_w },
    { "features.0.bias", 1, { 1 }, conv_b },
    { "classifier.0.weight", 2, { 3, 49 }, fc_w },
    { "classifier.0.bias", 1, { 3 }, fc_b },
  };
  const gchar *meta[] = { "vgg.input_size", "32x32", "vgg.mean", "0,0,0",
    "vgg.std", "1,1,1", "vgg.labels", "a\nb\nc", "vgg.name", "nan", NULL };

  model_dir = dir ? g_strdup (dir) : g_dir_make_tmp ("hostile-XXXXXX", NULL);
  g_assert_nonnull (model_dir);
  g_mkdir_with_parents (model_dir, 0755);
  spot_model = g_build_filename (model_dir, "hostile-spot.safetensors", NULL);
  rand_model = g_build_filename (model_dir, "hostile-rand.safetensors", NULL);
  nan_model = g_build_filename (model_dir, "hostile-nan.safetensors", NULL);
  g_assert_true (vgg_test_write_spot_model (spot_model));
  g_assert_true (vgg_test_write_random_model (
      rand_model, small_cfg, 32, 10, 48, 40, 7, NULL, "rand"));
  for (guint i = 0; i < G_N_ELEMENTS (conv_w); i++)
    conv_w[i] = 1.0f;
  for (guint i = 0; i < G_N_ELEMENTS (fc_w); i++)
    fc_w[i] = 1e38f;
  g_assert_true (vgg_test_write_safetensors (nan_model, tensors, 4, meta));
}

static GstElement *
new_infer (const gchar *first_prop, ...)
{
  GstElement *e = gst_element_factory_make ("vgginfer", NULL);
  va_list args;

  fail_unless (e != NULL);
  va_start (args, first_prop);
  if (first_prop)
    g_object_set_valist (G_OBJECT (e), first_prop, args);
  va_end (args);
  return e;
}

/* A harness around a vgginfer with the properties set while in NULL
 * (the harness sets it PLAYING). */
static GstHarness *
infer_harness (const gchar *first_prop, ...)
{
  GstElement *e = gst_element_factory_make ("vgginfer", NULL);
  GstHarness *h;
  va_list args;

  fail_unless (e != NULL);
  va_start (args, first_prop);
  g_object_set_valist (G_OBJECT (e), first_prop, args);
  va_end (args);
  h = gst_harness_new_with_element (e, "sink", "src");
  gst_object_unref (e);
  return h;
}

/* A buffer of `size` bytes of mid grey (memcheck would report the
 * harness's uninitialized bytes flowing through the network). */
static GstBuffer *
grey_buffer (GstHarness *h, gsize size)
{
  GstBuffer *b = gst_harness_create_buffer (h, size);

  gst_buffer_memset (b, 0, 128, size);
  return b;
}

/* An element that posts on a bus of its own. */
static GstBus *
own_bus (GstElement *e)
{
  GstBus *bus = gst_bus_new ();
  gst_element_set_bus (e, bus);
  return bus;
}

/* Undoes own_bus: the messages left on the bus hold references to the
 * element, which holds the bus, so the element would never be freed. */
static void
drop_bus (GstElement *e, GstBus *bus)
{
  gst_element_set_bus (e, NULL);
  gst_bus_set_flushing (bus, TRUE);
  gst_object_unref (bus);
}

/* The first ERROR on bus (within 5 s) contains `expected`; returns its
 * message (owned) for further checks. */
static gchar *
expect_error (GstBus *bus, const gchar *what, const gchar *expected)
{
  GstMessage *msg =
      gst_bus_timed_pop_filtered (bus, 5 * GST_SECOND, GST_MESSAGE_ERROR);
  GError *err = NULL;
  gchar *text;

  fail_unless (msg != NULL, "%s: no error on the bus", what);
  gst_message_parse_error (msg, &err, NULL);
  GST_INFO ("%s: %s", what, err->message);
  fail_unless (strstr (err->message, expected) != NULL,
      "%s: error \"%s\" lacks \"%s\"", what, err->message, expected);
  text = g_strdup (err->message);
  g_error_free (err);
  gst_message_unref (msg);
  return text;
}

/* NULL -> READY must fail at once with an error containing `expected`. */
static void
expect_ready_fails (GstElement *e, const gchar *what, const gchar *expected)
{
  GstBus *bus = own_bus (e);
  gint64 t0 = g_get_monotonic_time ();

  fail_unless_equals_int (
      gst_element_set_state (e, GST_STATE_READY), GST_STATE_CHANGE_FAILURE);
  fail_unless (g_get_monotonic_time () - t0 < 5 * G_USEC_PER_SEC,
      "%s: the state change took %" G_GINT64_FORMAT " ms", what,
      (g_get_monotonic_time () - t0) / 1000);
  g_free (expect_error (bus, what, expected));
  gst_element_set_state (e, GST_STATE_NULL);
  drop_bus (e, bus);
}

/* --- 1. FIFOs --- */

/* No writer ever opens these FIFOs: a blocking open(2) would hang the
 * state change (the tcase's 30 s timeout fails the test then). */
GST_START_TEST (test_fifo_model_or_labels_fails_at_once)
{
  gchar *fifo = g_build_filename (model_dir, "hostile.fifo", NULL);
  GstElement *e;
  GstHarness *h;
  GstBus *bus;
  gchar *model = NULL;
  gint64 t0;

  g_unlink (fifo);
  fail_unless (mkfifo (fifo, 0600) == 0);

  e = new_infer ("model", fifo, NULL);
  expect_ready_fails (e, "model=FIFO", "not a regular file (a FIFO)");
  gst_object_unref (e);

  e = new_infer ("model", spot_model, "labels", fifo, NULL);
  expect_ready_fails (e, "labels=FIFO", "not a regular file (a FIFO)");
  gst_object_unref (e);

  /* set while PLAYING, from the application's thread: a warning, the old
   * model keeps running */
  h = infer_harness ("model", spot_model, NULL);
  bus = own_bus (h->element);
  t0 = g_get_monotonic_time ();
  g_object_set (h->element, "model", fifo, NULL);
  fail_unless (g_get_monotonic_time () - t0 < 5 * G_USEC_PER_SEC);
  {
    GstMessage *msg =
        gst_bus_timed_pop_filtered (bus, GST_SECOND, GST_MESSAGE_WARNING);
    GError *err = NULL;
    fail_unless (msg != NULL, "no warning for model=FIFO while playing");
    gst_message_parse_warning (msg, &err, NULL);
    fail_unless (strstr (err->message, "a FIFO") != NULL, "warning \"%s\"",
        err->message);
    g_error_free (err);
    gst_message_unref (msg);
  }
  g_object_get (h->element, "model", &model, NULL);
  fail_unless_equals_string (model, spot_model);
  g_free (model);
  drop_bus (h->element, bus);
  gst_harness_teardown (h);
  g_unlink (fifo);
  g_free (fifo);
}

GST_END_TEST;

/* --- 2. endless or huge labels --- */

GST_START_TEST (test_endless_or_huge_labels_are_refused)
{
  gchar *big = g_build_filename (model_dir, "hostile-big-labels.txt", NULL);
  GstElement *e;
  FILE *f;

  e = new_infer ("model", spot_model, "labels", "/dev/zero", NULL);
  expect_ready_fails (
      e, "labels=/dev/zero", "not a regular file (a character device)");
  gst_object_unref (e);

  /* 17 MiB (sparse) */
  f = fopen (big, "w");
  fail_unless (f != NULL);
  fail_unless (ftruncate (fileno (f), 17 << 20) == 0);
  fclose (f);
  e = new_infer ("model", spot_model, "labels", big, NULL);
  expect_ready_fails (e, "labels=17 MiB file",
      "17825792 bytes, more than the 16 MiB a labels file may have");
  gst_object_unref (e);
  g_unlink (big);
  g_free (big);
}

GST_END_TEST;

/* --- 3. labels that are not UTF-8 --- */

GST_START_TEST (test_labels_not_utf8_are_refused_and_json_stays_utf8)
{
  gchar *latin1 = g_build_filename (model_dir, "hostile-latin1.txt", NULL);
  GstBuffer *buf = gst_buffer_new ();
  GstVggClassification r = { 3, 0.5f, 0 };
  GstVggMeta *meta;
  GstElement *e;
  gchar *json;

  /* "caf\xe9" is Latin-1 */
  fail_unless (g_file_set_contents (latin1, "tea\ncaf\xe9\nmilk\n", -1, NULL));
  e = new_infer ("model", spot_model, "labels", latin1, NULL);
  expect_ready_fails (
      e, "Latin-1 labels", "line 2 is not valid UTF-8 (byte 0xe9 at column 4)");
  gst_object_unref (e);
  g_unlink (latin1);
  g_free (latin1);

  /* an application may still put such bytes in a meta: the JSON is UTF-8 */
  meta = gst_buffer_add_vgg_meta (buf);
  r.label = g_quark_from_string ("caf\xe9 \xff\xfe ok \xc3\xa9");
  gst_vgg_meta_set_results (meta, &r, 1);
  gst_vgg_meta_set_model_name (meta, "m\x80");
  json = gst_vgg_meta_to_json (meta);
  fail_unless (g_utf8_validate (json, -1, NULL), "JSON not UTF-8: %s", json);
  fail_unless (
      strstr (json,
          "\"label\":\"caf\xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd ok \xc3\xa9\"")
          != NULL,
      "JSON %s", json);
  fail_unless (
      strstr (json, "\"model\":\"m\xef\xbf\xbd\"") != NULL, "%s", json);
  g_free (json);
  gst_buffer_unref (buf);
}

GST_END_TEST;

/* --- 4. segments in other formats than time --- */

static gint n_criticals;

static void
count_critical (const gchar *domain, GLogLevelFlags level, const gchar *msg,
    gpointer user_data)
{
  g_atomic_int_inc (&n_criticals);
  g_printerr ("CRITICAL (%s): %s\n", domain ? domain : "", msg);
}

GST_START_TEST (test_non_time_segment_logs_no_critical)
{
  static const GstFormat formats[] = { GST_FORMAT_BYTES, GST_FORMAT_DEFAULT,
    GST_FORMAT_BUFFERS, GST_FORMAT_PERCENT, GST_FORMAT_TIME };
  const gchar *domains[] = { "GStreamer", "GLib", "GLib-GObject", "vgginfer",
    NULL };
  guint ids[4];

  for (gint d = 0; domains[d]; d++)
    ids[d] = g_log_set_handler (domains[d],
        G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING, count_critical, NULL);

  for (guint f = 0; f < G_N_ELEMENTS (formats); f++) {
    GstHarness *h = infer_harness ("model", spot_model, NULL);
    GstBus *bus;
    GstSegment seg;

    bus = own_bus (h->element);
    gst_harness_set_src_caps_str (h, CAPS_RGB_64x48);
    gst_segment_init (&seg, formats[f]);
    /* found by fuzz-element: in reverse, a time segment without a stop
     * has no running time (asking was a CRITICAL) */
    if (formats[f] == GST_FORMAT_TIME)
      seg.rate = -1.0;
    fail_unless (gst_harness_push_event (h, gst_event_new_segment (&seg)));
    for (gint i = 0; i < 3; i++) {
      GstBuffer *b = grey_buffer (h, 64 * 48 * 3);
      GST_BUFFER_PTS (b) = i * GST_SECOND;
      fail_unless_equals_int (gst_harness_push (h, b), GST_FLOW_OK);
    }
    for (gint i = 0; i < 3; i++) {
      GstBuffer *out = gst_harness_pull (h);
      GstMessage *msg =
          gst_bus_timed_pop_filtered (bus, 5 * GST_SECOND, GST_MESSAGE_ELEMENT);
      const GstStructure *s;
      guint64 ts, st, rt;
      fail_unless (out != NULL && msg != NULL, "%s: frame %d",
          gst_format_get_name (formats[f]), i);
      fail_unless (gst_buffer_get_vgg_meta (out) != NULL);
      s = gst_message_get_structure (msg);
      fail_unless (gst_structure_get_uint64 (s, "timestamp", &ts)
          && gst_structure_get_uint64 (s, "stream-time", &st)
          && gst_structure_get_uint64 (s, "running-time", &rt));
      fail_unless_equals_uint64 (ts, i * GST_SECOND);
      /* stream time needs a time segment, running time in reverse also
       * its stop */
      fail_unless (rt == GST_CLOCK_TIME_NONE
              && st
                  == (formats[f] == GST_FORMAT_TIME ? ts : GST_CLOCK_TIME_NONE),
          "%s segment: stream-time %" G_GUINT64_FORMAT
          ", running-time %" G_GUINT64_FORMAT,
          gst_format_get_name (formats[f]), st, rt);
      gst_message_unref (msg);
      gst_buffer_unref (out);
    }
    fail_unless_equals_int (g_atomic_int_get (&n_criticals), 0);
    drop_bus (h->element, bus);
    gst_harness_teardown (h);
  }
  for (gint d = 0; domains[d]; d++)
    g_log_remove_handler (domains[d], ids[d]);
  fail_unless_equals_int (n_criticals, 0);
}

GST_END_TEST;

/* --- 5. caps the element cannot parse --- */

GST_START_TEST (test_unparseable_caps_fail_with_not_negotiated_saying_why)
{
  static const struct
  {
    const gchar *caps;
    const gchar *expected;
  } cases[] = {
    { "video/x-raw,format=RGB,width=64,height=48,framerate=30/1,"
      "interlace-mode=alternate",
        "interlace-mode=alternate (one field per buffer) is not supported" },
    { "video/x-raw,format=RGB,width=2147483647,height=48,framerate=30/1",
        "width 2147483647 is outside 1..16384" },
    { "video/x-raw,format=RGB,width=64,height=2147483647,framerate=30/1",
        "height 2147483647 is outside 1..16384" },
    /* found by fuzz-element: GstVideoConverter scales each field, and a
     * field of no rows was a CRITICAL */
    { "video/x-raw,format=RGB,width=64,height=1,framerate=30/1,"
      "interlace-mode=interleaved",
        "interlace-mode=interleaved with a height of 1: each field needs a "
        "row" },
  };
  const gchar *elements[] = { "vgginfer", "vggoverlay" };

  for (guint el = 0; el < G_N_ELEMENTS (elements); el++)
    for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
      GstHarness *h = el == 0 ? infer_harness ("model", spot_model, NULL)
                              : gst_harness_new (elements[el]);
      GstCaps *bad = gst_caps_from_string (cases[i].caps);
      GstCaps *good = gst_caps_from_string (CAPS_RGB_64x48);
      GstPad *sink = gst_element_get_static_pad (h->element, "sink");
      GstBus *bus;
      gchar *what = g_strdup_printf ("%s, %s", elements[el], cases[i].caps);

      bus = own_bus (h->element);
      /* accept-caps agrees with what the CAPS event does */
      fail_unless (gst_pad_query_accept_caps (sink, good), "%s", what);
      fail_unless (!gst_pad_query_accept_caps (sink, bad), "%s", what);
      /* a speculative query posts nothing */
      fail_unless (gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR) == NULL);
      gst_harness_set_src_caps (h, gst_caps_ref (bad));
      fail_unless_equals_int (
          gst_harness_push (h, grey_buffer (h, 64 * 48 * 3)),
          GST_FLOW_NOT_NEGOTIATED);
      fail_unless_equals_int (
          gst_harness_push (h, grey_buffer (h, 64 * 48 * 3)),
          GST_FLOW_NOT_NEGOTIATED);
      g_free (expect_error (bus, what, cases[i].expected));
      /* once, not once per buffer */
      fail_unless (gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR) == NULL,
          "%s: a second error", what);
      fail_unless_equals_int (gst_harness_buffers_in_queue (h), 0);
      drop_bus (h->element, bus);
      gst_object_unref (sink);
      gst_caps_unref (bad);
      gst_caps_unref (good);
      gst_harness_teardown (h);
      g_free (what);
    }
}

GST_END_TEST;

/* --- 6. non-finite numbers --- */

GST_START_TEST (test_nan_scores_never_pass_threshold)
{
  static const gdouble thresholds[] = { 0.0, 0.5, 0.9 };
  gfloat input[3 * 32 * 32] = { 0 };
  char error[VGG_ERROR_SIZE];
  VggModel *model = NULL;
  VggContext *ctx = NULL;
  const gfloat *probs;
  gint dims = 0;

  /* the precondition: the engine's probabilities are NaN for this model,
   * as torch's softmax of +inf logits is */
  fail_unless (
      vgg_model_load (nan_model, &model, error) == VGG_OK, "%s", error);
  fail_unless (
      vgg_context_new (model, 1, 1, &ctx, error) == VGG_OK, "%s", error);
  fail_unless (vgg_context_forward (ctx, input, 1, 32, 32) == VGG_OK);
  probs = vgg_context_get_output (ctx, VGG_OUTPUT_PROBS, &dims);
  fail_unless_equals_int (dims, 3);
  fail_unless (isnan (probs[0]) && isnan (probs[1]) && isnan (probs[2]),
      "the engine gives %g %g %g, not NaN", probs[0], probs[1], probs[2]);
  vgg_context_free (ctx);
  vgg_model_unref (model);

  for (guint t = 0; t < G_N_ELEMENTS (thresholds); t++) {
    GstHarness *h = infer_harness ("model", nan_model, "threshold",
        thresholds[t], "top-k", 3, "post-messages", FALSE, NULL);
    GstBuffer *out;
    GstVggMeta *meta;

    gst_harness_set_src_caps_str (
        h, "video/x-raw,format=RGB,width=32,height=32,framerate=30/1");
    fail_unless_equals_int (
        gst_harness_push (h, grey_buffer (h, 32 * 32 * 3)), GST_FLOW_OK);
    out = gst_harness_pull (h);
    meta = gst_buffer_get_vgg_meta (out);
    fail_unless (meta != NULL);
    for (guint i = 0; i < meta->n_results; i++)
      GST_ERROR ("threshold %g: class %d score %g", thresholds[t],
          meta->results[i].class_id, meta->results[i].score);
    fail_unless_equals_int (meta->n_results, 0);
    gst_buffer_unref (out);
    gst_harness_teardown (h);
  }
}

GST_END_TEST;

GST_START_TEST (test_mean_and_std_must_stay_finite_as_float)
{
  static const struct
  {
    const gchar *prop, *value;
  } refused[] = {
    { "mean", "1e39,0,0" },
    { "mean", "nan,0,0" },
    { "mean", "0,inf,0" },
    { "std", "1e-45,1,1" },
    { "std", "1,1e39,1" },
    { "std", "1,1,0" },
    { "std", "1,-1,1" },
    { "std", "1,nan,1" },
  };
  gchar *meta_nan =
      g_build_filename (model_dir, "hostile-meta.safetensors", NULL);
  gfloat w[27] = { 0 }, b[1] = { 0 }, fw[3 * 49] = { 0 }, fb[3] = { 0 };
  const VggTestTensor tensors[] = {
    { "features.0.weight", 4, { 1, 3, 3, 3 }, w },
    { "features.0.bias", 1, { 1 }, b },
    { "classifier.0.weight", 2, { 3, 49 }, fw },
    { "classifier.0.bias", 1, { 3 }, fb },
  };
  const gchar *mean_nan[] = { "vgg.mean", "nan,0,0", NULL };
  const gchar *std_inf[] = { "vgg.std", "inf,1,1", NULL };
  GstElement *e;

  for (guint i = 0; i < G_N_ELEMENTS (refused); i++) {
    gchar *v = NULL;
    e = new_infer ("mean", "0.5,0.5,0.5", "std", "0.25,0.25,0.25", NULL);
    /* a g_warning in the element's domain, which gst-check lets pass */
    g_object_set (e, refused[i].prop, refused[i].value, NULL);
    g_object_get (e, refused[i].prop, &v, NULL);
    fail_unless_equals_string (v,
        strcmp (refused[i].prop, "mean") == 0 ? "0.5,0.5,0.5"
                                              : "0.25,0.25,0.25");
    g_free (v);
    gst_object_unref (e);
  }
  /* finite values whose normalization (x - mean) / std overflows */
  e = new_infer (
      "model", spot_model, "mean", "3e38,0,0", "std", "1.5e-38,1,1", NULL);
  expect_ready_fails (e, "mean 3e38, std 1.5e-38", "overflows a float");
  gst_object_unref (e);

  fail_unless (vgg_test_write_safetensors (meta_nan, tensors, 4, mean_nan));
  e = new_infer ("model", meta_nan, NULL);
  expect_ready_fails (e, "vgg.mean=nan",
      "metadata vgg.mean \"nan,0,0\" is not three comma-separated finite");
  gst_object_unref (e);
  fail_unless (vgg_test_write_safetensors (meta_nan, tensors, 4, std_inf));
  e = new_infer ("model", meta_nan, NULL);
  expect_ready_fails (e, "vgg.std=inf", "metadata vgg.std \"inf,1,1\"");
  gst_object_unref (e);
  g_unlink (meta_nan);
  g_free (meta_nan);
}

GST_END_TEST;

/* --- 7. a GstVideoMeta that lies --- */

static GstBuffer *
rgb_buffer_with_meta (
    gint w, gint h, gsize size, gint stride, GstVideoFormat format)
{
  GstBuffer *buf = gst_buffer_new_allocate (NULL, size, NULL);
  gsize offset[GST_VIDEO_MAX_PLANES] = { 0 };
  gint strides[GST_VIDEO_MAX_PLANES] = { stride };

  gst_buffer_memset (buf, 0, 0x40, size);
  gst_buffer_add_video_meta_full (
      buf, GST_VIDEO_FRAME_FLAG_NONE, format, w, h, 1, offset, strides);
  return buf;
}

GST_START_TEST (test_lying_video_meta_is_an_error_naming_the_frame)
{
  static const struct
  {
    gsize size;
    gint stride, w, h;
    GstVideoFormat format;
    const gchar *expected;
  } cases[] = {
    /* the case: a stride of 1 MiB on a 9 KB buffer */
    { 64 * 48 * 3, 1 << 20, 64, 48, GST_VIDEO_FORMAT_RGB,
        "plane 0 (offset 0, stride 1048576, 48 rows) needs 49283264 bytes, "
        "its memory holds 9216" },
    { 64 * 48 * 3, 100, 64, 48, GST_VIDEO_FORMAT_RGB,
        "plane 0 has a stride of 100 bytes where a row takes 192" },
    { 64 * 48 * 3, -192, 64, 48, GST_VIDEO_FORMAT_RGB,
        "plane 0 has a stride of -192 bytes" },
    { 64 * 48 * 3, 192, 64, 32, GST_VIDEO_FORMAT_RGB,
        "its GstVideoMeta says RGB 64x32 in 1 planes, the caps RGB 64x48" },
    { 64 * 48 * 3, 256, 64, 48, GST_VIDEO_FORMAT_RGBx,
        "its GstVideoMeta says RGBx 64x48" },
  };

  for (guint el = 0; el < 2; el++)
    for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
      GstHarness *h = el == 0 ? infer_harness ("model", spot_model, NULL)
                              : gst_harness_new ("vggoverlay");
      GstBus *bus;
      GstBuffer *good, *bad;
      gchar *what =
          g_strdup_printf ("%s, case %u", el ? "vggoverlay" : "vgginfer", i);
      gchar *err;

      bus = own_bus (h->element);
      gst_harness_set_src_caps_str (h, CAPS_RGB_64x48);
      /* a frame with an honest meta first (padded rows) */
      good = rgb_buffer_with_meta (
          64, 48, 200 * 47 + 192, 200, GST_VIDEO_FORMAT_RGB);
      bad = rgb_buffer_with_meta (cases[i].w, cases[i].h, cases[i].size,
          cases[i].stride, cases[i].format);
      if (el == 1) {
        /* vggoverlay maps only frames with results to draw */
        GstVggClassification r = { 1, 0.75f, 0 };
        gst_vgg_meta_set_results (gst_buffer_add_vgg_meta (good), &r, 1);
        gst_vgg_meta_set_results (gst_buffer_add_vgg_meta (bad), &r, 1);
      }
      GST_BUFFER_PTS (good) = 0;
      GST_BUFFER_PTS (bad) = GST_SECOND / 30;
      fail_unless_equals_int (gst_harness_push (h, good), GST_FLOW_OK);
      gst_buffer_unref (gst_harness_pull (h));
      /* vgginfer's task posts the error and stops; the push that follows
       * sees it */
      gst_harness_push (h, bad);
      err = expect_error (bus, what, cases[i].expected);
      fail_unless (strstr (err, "Frame 1 (pts 0:00:00.033333333)") != NULL,
          "%s: \"%s\" does not name the frame", what, err);
      g_free (err);
      drop_bus (h->element, bus);
      gst_harness_teardown (h);
      g_free (what);
    }
}

GST_END_TEST;

/* --- 8. documented behaviour --- */

/* post-messages=true posts one message per inferred frame; a bus nobody
 * reads keeps them all (README: "an application that never reads its
 * bus ... set post-messages=false"); false posts none. */
GST_START_TEST (test_unread_bus_keeps_one_message_per_frame)
{
  for (gint post = 0; post < 2; post++) {
    GstHarness *h = infer_harness (
        "model", spot_model, "post-messages", post, "batch-size", 4, NULL);
    GstBus *bus;
    guint n = 0;
    GstMessage *msg;

    bus = own_bus (h->element);
    gst_harness_set_src_caps_str (h, CAPS_RGB_64x48);
    for (gint i = 0; i < 40; i++)
      fail_unless_equals_int (
          gst_harness_push (h, grey_buffer (h, 64 * 48 * 3)), GST_FLOW_OK);
    for (gint i = 0; i < 40; i++)
      gst_buffer_unref (gst_harness_pull (h));
    while ((msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ELEMENT))) {
      n++;
      gst_message_unref (msg);
    }
    fail_unless_equals_int (n, post ? 40 : 0);
    drop_bus (h->element, bus);
    gst_harness_teardown (h);
  }
}

GST_END_TEST;

/* Interlaced input is converted field by field (GstVideoConverter's
 * interlaced scaling), as the README says: a frame of one-row stripes,
 * scaled down as progressive, is an even grey; as interleaved, each field
 * is uniform and the model sees stripes.  The scores differ. */
static gfloat
stripes_top1_score (const gchar *interlace, gint *top)
{
  GstHarness *h = infer_harness ("model", rand_model, NULL);
  gchar *caps = g_strdup_printf ("video/x-raw,format=GRAY8,width=192,"
                                 "height=160,framerate=30/1,interlace-mode=%s",
      interlace);
  GstBuffer *buf = gst_buffer_new_allocate (NULL, 192 * 160, NULL);
  GstMapInfo map;
  GstBuffer *out;
  gfloat score = -1.0f;

  gst_util_set_object_arg (G_OBJECT (h->element), "resize", "stretch");
  gst_harness_set_src_caps_str (h, caps);
  gst_buffer_map (buf, &map, GST_MAP_WRITE);
  for (gint y = 0; y < 160; y++)
    memset (map.data + y * 192, y % 2 ? 16 : 235, 192);
  gst_buffer_unmap (buf, &map);
  fail_unless_equals_int (gst_harness_push (h, buf), GST_FLOW_OK);
  out = gst_harness_pull (h);
  fail_unless (gst_vgg_meta_get_result (
      gst_buffer_get_vgg_meta (out), 0, top, &score, NULL));
  gst_buffer_unref (out);
  gst_harness_teardown (h);
  g_free (caps);
  return score;
}

GST_START_TEST (test_interlaced_input_is_scaled_field_by_field)
{
  gint top_p = -1, top_i = -1;
  gfloat p = stripes_top1_score ("progressive", &top_p);
  gfloat i = stripes_top1_score ("interleaved", &top_i);

  GST_INFO ("progressive: class %d %.6f, interleaved: class %d %.6f", top_p, p,
      top_i, i);
  fail_unless (top_p != top_i || fabsf (p - i) > 1e-3f,
      "progressive (class %d, %.6f) and interleaved (class %d, %.6f) agree",
      top_p, p, top_i, i);
}

GST_END_TEST;

/* Found by fuzz-element: GstVideoConverter scales an interlaced frame
 * field by field and asserts that both fields have the same height, so
 * odd heights (and odd crops) were CRITICALs; every height and resize
 * mode now gives a frame with results. */
GST_START_TEST (test_interlaced_odd_heights_convert)
{
  static const gint heights[] = { 2, 3, 5, 47, 97 };
  static const gchar *resizes[] = { "center-crop", "stretch", "letterbox" };
  guint id = g_log_set_handler ("GStreamer-Video",
      G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING, count_critical, NULL);

  g_atomic_int_set (&n_criticals, 0);

  for (guint r = 0; r < G_N_ELEMENTS (resizes); r++)
    for (guint i = 0; i < G_N_ELEMENTS (heights); i++) {
      GstHarness *h = infer_harness ("model", rand_model, NULL);
      gchar *caps = g_strdup_printf ("video/x-raw,format=I420,width=37,"
                                     "height=%d,framerate=30/1,"
                                     "interlace-mode=interleaved",
          heights[i]);
      GstVideoInfo info;
      GstBuffer *out;

      gst_util_set_object_arg (G_OBJECT (h->element), "resize", resizes[r]);
      gst_harness_set_src_caps_str (h, caps);
      gst_video_info_set_interlaced_format (&info, GST_VIDEO_FORMAT_I420,
          GST_VIDEO_INTERLACE_MODE_INTERLEAVED, 37, heights[i]);
      fail_unless_equals_int (
          gst_harness_push (h, grey_buffer (h, info.size)), GST_FLOW_OK);
      out = gst_harness_pull (h);
      fail_unless (out != NULL && gst_buffer_get_vgg_meta (out) != NULL,
          "%s, height %d: no results", resizes[r], heights[i]);
      fail_unless_equals_int (g_atomic_int_get (&n_criticals), 0);
      gst_buffer_unref (out);
      gst_harness_teardown (h);
      g_free (caps);
    }
  g_log_remove_handler ("GStreamer-Video", id);
}

GST_END_TEST;

/* Found by fuzz-element (a heap-use-after-free once GSlice no longer
 * hid freed buffers from ASan): GstVideoConverter, reused for a source
 * rectangle of a few rows, converted the previous frame's picture again
 * (with ARGB, from that frame's memory, freed by then).  Frames whose crop
 * or height is 1 to 6 rows, in formats that showed it, must each score
 * as they do alone in a new element.  The scores of the 10 classes of
 * frame `i` of `n` (pushed, pulled and dropped one after the other) go
 * to scores[10 * i + class]. */
static void
tiny_frames_scores (const gchar *caps_str, const gchar *resize,
    GstBuffer *const *frames, guint n, gfloat *scores)
{
  GstHarness *h = infer_harness ("model", rand_model, "top-k", 10, "threads", 1,
      "post-messages", FALSE, NULL);

  gst_util_set_object_arg (G_OBJECT (h->element), "resize", resize);
  gst_harness_set_src_caps_str (h, caps_str);
  for (guint i = 0; i < n; i++) {
    GstVggMeta *meta;
    GstBuffer *out;

    fail_unless_equals_int (
        gst_harness_push (h, gst_buffer_ref (frames[i])), GST_FLOW_OK);
    out = gst_harness_pull (h);
    meta = out ? gst_buffer_get_vgg_meta (out) : NULL;
    fail_unless (meta != NULL, "%s: frame %u has no results", caps_str, i);
    fail_unless_equals_int (gst_vgg_meta_get_n_results (meta), 10);
    for (guint k = 0; k < 10; k++) {
      gint id = -1;
      gfloat score = 0.0f;
      fail_unless (gst_vgg_meta_get_result (meta, k, &id, &score, NULL));
      fail_unless (id >= 0 && id < 10);
      scores[10 * i + id] = score;
    }
    /* the frame goes before the next comes, as downstream would drop it */
    gst_buffer_unref (out);
  }
  gst_harness_teardown (h);
}

GST_START_TEST (test_tiny_frames_are_each_converted_anew)
{
  static const struct
  {
    const gchar *format, *interlace, *resize;
    gint width, height; /* source rectangle: rows */
  } cases[] = {
    { "BGRx", "progressive", "center-crop", 1, 12 }, /* 1 */
    { "I420", "progressive", "stretch", 2, 2 },      /* 2 */
    { "GRAY8", "progressive", "letterbox", 40, 1 },  /* 1 */
    { "ARGB", "interleaved", "center-crop", 1, 12 }, /* 2, 1 per field */
    { "NV12", "interleaved", "stretch", 6, 6 },      /* 6, 3 per field */
  };

  for (guint c = 0; c < G_N_ELEMENTS (cases); c++) {
    gchar *caps_str = g_strdup_printf ("video/x-raw,format=%s,width=%d,"
                                       "height=%d,framerate=30/1,"
                                       "interlace-mode=%s",
        cases[c].format, cases[c].width, cases[c].height, cases[c].interlace);
    GstCaps *caps = gst_caps_from_string (caps_str);
    GstBuffer *frames[2];
    gfloat both[20], alone[2][10];
    GstVideoInfo info;

    fail_unless (gst_video_info_from_caps (&info, caps));
    for (guint f = 0; f < 2; f++) {
      GstMapInfo map;
      frames[f] = gst_buffer_new_allocate (NULL, info.size, NULL);
      gst_buffer_map (frames[f], &map, GST_MAP_WRITE);
      /* two different pictures: a dark and a bright ramp */
      for (gsize i = 0; i < map.size; i++)
        map.data[i] = f ? 255 - (i * 7) % 64 : (i * 13) % 64;
      gst_buffer_unmap (frames[f], &map);
    }
    tiny_frames_scores (caps_str, cases[c].resize, frames, 2, both);
    for (guint f = 0; f < 2; f++)
      tiny_frames_scores (caps_str, cases[c].resize, &frames[f], 1, alone[f]);
    /* the two pictures score differently, or the test proves nothing */
    fail_unless (memcmp (alone[0], alone[1], sizeof alone[0]) != 0,
        "%s: both frames score the same", caps_str);
    for (guint f = 0; f < 2; f++)
      for (guint k = 0; k < 10; k++)
        fail_unless (both[10 * f + k] == alone[f][k],
            "%s %s, frame %u, class %u: %.9g after frame 0, %.9g alone",
            caps_str, cases[c].resize, f, k, both[10 * f + k], alone[f][k]);
    gst_buffer_unref (frames[0]);
    gst_buffer_unref (frames[1]);
    gst_caps_unref (caps);
    g_free (caps_str);
  }
}

GST_END_TEST;

static Suite *
hostile_suite (void)
{
  Suite *s = suite_create ("hostile-input");
  TCase *tc = tcase_create ("general");

  write_models ();
  suite_add_tcase (s, tc);
  tcase_set_timeout (tc, 30);
  tcase_add_test (tc, test_fifo_model_or_labels_fails_at_once);
  tcase_add_test (tc, test_endless_or_huge_labels_are_refused);
  tcase_add_test (tc, test_labels_not_utf8_are_refused_and_json_stays_utf8);
  tcase_add_test (tc, test_non_time_segment_logs_no_critical);
  tcase_add_test (
      tc, test_unparseable_caps_fail_with_not_negotiated_saying_why);
  tcase_add_test (tc, test_nan_scores_never_pass_threshold);
  tcase_add_test (tc, test_mean_and_std_must_stay_finite_as_float);
  tcase_add_test (tc, test_lying_video_meta_is_an_error_naming_the_frame);
  tcase_add_test (tc, test_unread_bus_keeps_one_message_per_frame);
  tcase_add_test (tc, test_interlaced_input_is_scaled_field_by_field);
  tcase_add_test (tc, test_interlaced_odd_heights_convert);
  tcase_add_test (tc, test_tiny_frames_are_each_converted_anew);
  return s;
}

GST_CHECK_MAIN (hostile);

/* libFuzzer target: `vgginfer ! vggoverlay` through GstHarness, driven by
 * the fuzz input as a program of operations: caps of every accepted
 * format with fuzzed width, height, rate and interlacing (and a few sizes
 * far out of range), buffers of fuzzed size and content with and without
 * a GstVideoMeta (fuzzed offsets, strides, size and format), segments of
 * every format, gaps, flushes, EOS, property changes of both elements
 * (the region properties and any feature layer among them), regions of
 * interest with fuzzed boxes on the buffers, and non-blocking pulls of the
 * output.
 *
 * A GLib CRITICAL aborts (as G_DEBUG=fatal-criticals would), so libFuzzer
 * reports it as a crash with the input; so do ASan and UBSan findings,
 * leaks, hangs (-timeout) and memory blow-ups.  The elements' errors are
 * expected (they are how hostile input is refused) and ignored.
 *
 * The plugin's objects are linked into this program and its elements
 * registered without a plugin; the model is a small random VGG written
 * at start-up into a temporary folder. */
#include <gst/check/gstharness.h>
#include <gst/gst.h>
#include <gst/video/video.h>
#include <glib/gstdio.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gstvggmeta.h"
#include "gstvggoverlay.h"
#include "vgg-test-models.h"

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* GST_ELEMENT_REGISTER_DECLARE (vgginfer) and (vggoverlay), without the
 * plugin's headers */
gboolean gst_element_register_vgginfer (GstPlugin *plugin);
gboolean gst_element_register_vggoverlay (GstPlugin *plugin);

static gchar *model_path;
static GstElement *model_holder; /* keeps the model in the plugin's cache */

/* Bytes of the input, read as needed; zeros once it is used up. */
typedef struct
{
  const uint8_t *data;
  size_t size, pos;
} Input;

static guint
take_u8 (Input *in)
{
  return in->pos < in->size ? in->data[in->pos++] : 0;
}

static guint
take_u16 (Input *in)
{
  return take_u8 (in) | take_u8 (in) << 8;
}

static guint32
take_u32 (Input *in)
{
  return take_u16 (in) | (guint32) take_u16 (in) << 16;
}

static const GstVideoFormat formats[] = { GST_VIDEO_FORMAT_RGB,
  GST_VIDEO_FORMAT_BGR, GST_VIDEO_FORMAT_RGBx, GST_VIDEO_FORMAT_BGRx,
  GST_VIDEO_FORMAT_xRGB, GST_VIDEO_FORMAT_xBGR, GST_VIDEO_FORMAT_RGBA,
  GST_VIDEO_FORMAT_BGRA, GST_VIDEO_FORMAT_ARGB, GST_VIDEO_FORMAT_ABGR,
  GST_VIDEO_FORMAT_I420, GST_VIDEO_FORMAT_YV12, GST_VIDEO_FORMAT_NV12,
  GST_VIDEO_FORMAT_NV21, GST_VIDEO_FORMAT_YUY2, GST_VIDEO_FORMAT_UYVY,
  GST_VIDEO_FORMAT_GRAY8,
  /* not accepted */
  GST_VIDEO_FORMAT_GRAY16_LE, GST_VIDEO_FORMAT_v210 };

/* A width or height: mostly small (buffers stay small), sometimes one of
 * the edges. */
static gint
take_dimension (Input *in)
{
  static const gint edges[] = { 0, 1, 2, 3, 16383, 16384, 16385, 65535,
    G_MAXINT, -1 };
  guint v = take_u8 (in);

  if (v >= 250)
    return edges[take_u8 (in) % G_N_ELEMENTS (edges)];
  return 1 + v % 97;
}

static GstCaps *
take_caps (Input *in)
{
  static const gchar *interlace[] = { NULL, "progressive", "interleaved",
    "mixed", "alternate" };
  static const gchar *features[] = { NULL, GST_CAPS_FEATURE_FORMAT_INTERLACED,
    "memory:DMABuf" };
  GstVideoFormat format = formats[take_u8 (in) % G_N_ELEMENTS (formats)];
  gint w = take_dimension (in), h = take_dimension (in);
  guint flags = take_u8 (in);
  GstCaps *caps = gst_caps_new_simple ("video/x-raw", "format", G_TYPE_STRING,
      gst_video_format_to_string (format), "width", G_TYPE_INT, w, "height",
      G_TYPE_INT, h, "framerate", GST_TYPE_FRACTION, (gint) (flags & 7) * 15,
      1 + (gint) ((flags >> 3) & 1), NULL);

  if (interlace[(flags >> 4) % G_N_ELEMENTS (interlace)])
    gst_caps_set_simple (caps, "interlace-mode", G_TYPE_STRING,
        interlace[(flags >> 4) % G_N_ELEMENTS (interlace)], NULL);
  if (flags >> 7) {
    const gchar *feature = features[take_u8 (in) % G_N_ELEMENTS (features)];
    if (feature)
      gst_caps_set_features (caps, 0, gst_caps_features_new (feature, NULL));
  }
  return caps;
}

/* A buffer for the current caps (or of a fuzzed size), filled from the
 * input, perhaps with a GstVggMeta (so that vggoverlay draws) and a
 * GstVideoMeta that may lie. */
static GstBuffer *
take_buffer (Input *in, const GstVideoInfo *info, gboolean have_info)
{
  guint mode = take_u8 (in);
  gsize size = have_info ? GST_VIDEO_INFO_SIZE (info) : 0;
  GstBuffer *buf;
  GstMapInfo map;

  if ((mode & 3) == 1)
    size = take_u16 (in);
  else if ((mode & 3) == 2 && size > 0)
    size = size - MIN (size, take_u8 (in) + 1);
  else if ((mode & 3) == 3)
    size += take_u8 (in);
  /* at most 1 MiB per buffer: a 16384x16384 frame is not the point */
  size = MIN (size, (gsize) 1 << 20);
  buf = gst_buffer_new_allocate (NULL, size, NULL);
  if (size > 0 && gst_buffer_map (buf, &map, GST_MAP_WRITE)) {
    for (gsize i = 0; i < size; i++)
      map.data[i] = in->size ? in->data[(in->pos + i) % in->size] : 0;
    gst_buffer_unmap (buf, &map);
  }
  if (mode & 4) {
    GstVideoFormat format = have_info && !(mode & 8)
        ? GST_VIDEO_INFO_FORMAT (info)
        : formats[take_u8 (in) % G_N_ELEMENTS (formats)];
    const GstVideoFormatInfo *finfo = gst_video_format_get_info (format);
    gsize offset[GST_VIDEO_MAX_PLANES] = { 0 };
    gint stride[GST_VIDEO_MAX_PLANES] = { 0 };
    guint w = have_info ? GST_VIDEO_INFO_WIDTH (info) : 1;
    guint h = have_info ? GST_VIDEO_INFO_HEIGHT (info) : 1;

    for (guint p = 0; p < GST_VIDEO_FORMAT_INFO_N_PLANES (finfo); p++) {
      if (have_info && !(mode & 16)) {
        offset[p] = GST_VIDEO_INFO_PLANE_OFFSET (info, p);
        stride[p] = GST_VIDEO_INFO_PLANE_STRIDE (info, p);
      }
      if (mode & 32) {
        offset[p] += take_u16 (in);
        stride[p] += (gint16) take_u16 (in);
      }
    }
    if (mode & 64) {
      w += (gint8) take_u8 (in);
      h += (gint8) take_u8 (in);
    }
    gst_buffer_add_video_meta_full (buf, GST_VIDEO_FRAME_FLAG_NONE, format, w,
        h, GST_VIDEO_FORMAT_INFO_N_PLANES (finfo), offset, stride);
  }
  if (mode & 128) {
    GstVggClassification r[3] = { { 0, 0.5f, 0 }, { 1, 0.25f, 0 },
      { (gint) take_u16 (in), (gfloat) take_u8 (in) / 100.0f,
          g_quark_from_static_string ("caf\xe9 \xff") } };
    gst_vgg_meta_set_results (gst_buffer_add_vgg_meta (buf), r, 3);
  }
  GST_BUFFER_PTS (buf) = take_u8 (in) == 255
      ? GST_CLOCK_TIME_NONE
      : (GstClockTime) take_u16 (in) * GST_MSECOND;
  GST_BUFFER_DURATION (buf) = 33 * GST_MSECOND;
  if (take_u8 (in) & 1)
    GST_BUFFER_FLAG_SET (buf, GST_VIDEO_BUFFER_FLAG_INTERLACED);
  return buf;
}

static GstEvent *
take_segment (Input *in)
{
  static const GstFormat seg_formats[] = { GST_FORMAT_TIME, GST_FORMAT_BYTES,
    GST_FORMAT_DEFAULT, GST_FORMAT_BUFFERS, GST_FORMAT_PERCENT };
  static const gdouble rates[] = { 1.0, -1.0, 2.0, 0.5 };
  GstSegment seg;
  guint v = take_u8 (in);

  gst_segment_init (&seg, seg_formats[v % G_N_ELEMENTS (seg_formats)]);
  seg.rate = rates[(v >> 3) % G_N_ELEMENTS (rates)];
  seg.start = take_u16 (in) * GST_MSECOND;
  if (v & 32)
    seg.stop = seg.start + take_u16 (in) * GST_MSECOND;
  if (v & 64)
    seg.base = take_u16 (in) * GST_MSECOND;
  if (seg.format == GST_FORMAT_PERCENT) {
    seg.start = MIN (seg.start, GST_FORMAT_PERCENT_MAX);
    seg.stop = GST_CLOCK_TIME_NONE;
  }
  seg.time = seg.start;
  seg.position = seg.start;
  return gst_event_new_segment (&seg);
}

/* Up to 3 regions of interest with fuzzed boxes, types and ids, some
 * with a detector's param, as facedetect, onnxobjectdetector and DL
 * Streamer attach them. */
static void
add_rois (Input *in, GstBuffer *buf)
{
  static const gchar *types[] = { "face", "onnx-object_detector", "person",
    "vgg-region" };
  guint n = take_u8 (in) % 4;

  for (guint i = 0; i < n; i++) {
    guint kind = take_u8 (in);
    guint x = take_u16 (in), y = take_u16 (in), w = take_u16 (in),
          h = take_u16 (in);
    GstVideoRegionOfInterestMeta *roi;

    /* now and then near the ends of guint */
    if (kind & 0x80)
      x = G_MAXUINT - x;
    roi = gst_buffer_add_video_region_of_interest_meta (
        buf, types[kind % G_N_ELEMENTS (types)], x, y, w, h);
    roi->id = (gint) take_u8 (in) - 128;
    if (kind & 0x10)
      gst_video_region_of_interest_meta_add_param (roi,
          gst_structure_new (kind & 0x20 ? "detection" : "extra-data",
              "label", G_TYPE_STRING, kind & 0x40 ? "dog" : "person", NULL));
  }
}

static void
change_property (Input *in, GstElement *infer, GstElement *overlay)
{
  static const gchar *fonts[] = { "Sans 12", "Mono Bold 3", "Serif 200", "",
    "&%$" };
  static const gchar *layers[] = { "fc7", "fc6", "pool5", "logits",
    "features.0", "features.1", "relu2_1", "pool1", "conv1_1", "relu9_9",
    "features.99999999999", "", "probs" };
  static const gchar *zones[] = { NULL, "0,0,8,8", "0,0,1.0,1.0;0.5,0.5,0.5,0.5",
    "4294967295,0,5,5", "0,0,1e308,1e308", "1,1,1,1;2,2,2,2;3,3,3,3",
    "0.999,0.999,0.001,0.001", "x;;", "0,0,0.0001,0.0001" };
  static const gchar *classes[] = { NULL, "face", "dog,person", ",,,", "" };
  guint which = take_u8 (in), v = take_u8 (in);

  switch (which % 21) {
    case 0:
      g_object_set (infer, "top-k", 1 + v % 12, NULL);
      break;
    case 1:
      g_object_set (infer, "threshold", v / 255.0, NULL);
      break;
    case 2:
      g_object_set (infer, "batch-size", 1 + v % 5, NULL);
      break;
    case 3:
      g_object_set (infer, "batch-timeout", v % 4, NULL);
      break;
    case 4:
      g_object_set (infer, "inference-interval", 1 + v % 3, NULL);
      break;
    case 5:
      g_object_set (infer, "resize", v % 3, NULL);
      break;
    case 6:
      g_object_set (infer, "mode", v % 2, NULL);
      break;
    case 7:
      g_object_set (infer, "feature-layer", layers[v % G_N_ELEMENTS (layers)],
          "feature-pooling", (v >> 4) % 4, "normalize-features",
          (gboolean) (v >> 7), NULL);
      break;
    case 8:
      g_object_set (infer, "post-messages", (gboolean) (v & 1), NULL);
      break;
    case 9:
      g_object_set (infer, "leaky", v % 2, "max-queue", 1 + v % 4, NULL);
      break;
    case 10:
      g_object_set (overlay, "position", v % 4, NULL);
      break;
    case 11:
      g_object_set (overlay, "top-k", 1 + v % 32, NULL);
      break;
    case 12:
      g_object_set (overlay, "show-bars", (gboolean) (v & 1), "show-scores",
          (gboolean) ((v & 2) != 0), NULL);
      break;
    case 13:
      g_object_set (
          overlay, "font-desc", fonts[v % G_N_ELEMENTS (fonts)], NULL);
      break;
    case 14:
      g_object_set (overlay, "color", take_u32 (in), "background-color",
          take_u32 (in), NULL);
      break;
    case 15:
      /* the same model under another spelling, loaded while playing */
      g_object_set (infer, "model", model_path, NULL);
      break;
    case 16:
      g_object_set (infer, "inference-region", v % 2, NULL);
      break;
    case 17:
      g_object_set (infer, "regions", zones[v % G_N_ELEMENTS (zones)], NULL);
      break;
    case 18:
      g_object_set (infer, "object-class",
          classes[v % G_N_ELEMENTS (classes)], NULL);
      break;
    case 19:
      g_object_set (infer, "min-roi-size", v % 40, "max-rois", (v >> 3) % 8,
          NULL);
      break;
    case 20:
      g_object_set (infer, "roi-padding", (v % 101) * 1.0, NULL);
      break;
  }
}

static void
drain (GstHarness *h)
{
  GstBuffer *b;

  while ((b = gst_harness_try_pull (h)) != NULL)
    gst_buffer_unref (b);
}

/* CRITICALs abort, as with G_DEBUG=fatal-criticals.  GStreamer's warnings
 * about events out of order (caps after a segment, data before a
 * segment) are what a fuzzer does all the time: not printed. */
static void
log_handler (const gchar *domain, GLogLevelFlags level, const gchar *msg,
    gpointer user_data)
{
  if (level & (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_ERROR)) {
    fprintf (stderr, "%s-CRITICAL: %s\n", domain ? domain : "", msg);
    abort ();
  }
  if ((level & G_LOG_LEVEL_WARNING) && g_strcmp0 (domain, "GStreamer") != 0)
    fprintf (stderr, "%s-WARNING: %s\n", domain ? domain : "", msg);
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  static const gint cfg[] = { 4, 0, 8, 0, -1 };
  gchar *dir;

  /* no plugins from the system: only the two elements below */
  g_setenv ("GST_PLUGIN_SYSTEM_PATH_1_0", "", TRUE);
  g_setenv ("GST_PLUGIN_PATH_1_0", "", TRUE);
  g_setenv ("GST_PLUGIN_PATH", "", TRUE);
  g_setenv ("GST_REGISTRY_FORK", "no", TRUE);
  g_setenv ("GST_REGISTRY_UPDATE", "no", TRUE);
  gst_init (argc, argv);
  /* abort(), which libFuzzer catches and reports with the input (GLib's
   * own fatal handling raises SIGTRAP, which it does not) */
  g_log_set_default_handler (log_handler, NULL);
  if (!gst_element_register_vgginfer (NULL)
      || !gst_element_register_vggoverlay (NULL))
    abort ();

  dir = g_dir_make_tmp ("fuzz-element-XXXXXX", NULL);
  if (dir == NULL)
    abort ();
  model_path = g_build_filename (dir, "model.safetensors", NULL);
  if (!vgg_test_write_random_model (
          model_path, cfg, 8, 5, 32, 32, 3, "a\nb\nc\nd\ne", "fuzz"))
    abort ();
  g_free (dir);
  /* one element keeps the model loaded, so that each input's element
   * takes it from the plugin's cache instead of reading the file */
  model_holder = gst_element_factory_make ("vgginfer", NULL);
  g_object_set (model_holder, "model", model_path, NULL);
  if (gst_element_set_state (model_holder, GST_STATE_READY)
      != GST_STATE_CHANGE_SUCCESS)
    abort ();
  return 0;
}

/* pango (1.50) matches fonts in threads of its own, each holding a
 * reference to the font map until it is done: the last reference, and the
 * finalization of the map with its fonts and caches, may come after the
 * element has been torn down.  libFuzzer checks for leaks as soon as an
 * input returns, and blocks that such a thread is still freeing are
 * reported as leaked (they are gone a second later).  So each input
 * waits for vggoverlay's font map to be finalized, at most 5 s (half the
 * -timeout of an input); a map still alive then is the leak check's. */
static void
wait_for_font_map (GWeakRef *font_map)
{
  for (guint i = 0; i < 5000; i++) {
    GObject *map = g_weak_ref_get (font_map);
    if (map == NULL)
      return;
    /* the last reference may be this one: the map is finalized here */
    g_object_unref (map);
    g_usleep (1000);
  }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  Input in = { data, size, 0 };
  GstHarness *h;
  GstElement *infer, *overlay;
  PangoContext *context;
  GWeakRef font_map;
  GstVideoInfo info;
  gboolean have_info = FALSE;
  gchar *launch;
  guint n_ops = 0, threads_and_batch = take_u8 (&in);

  launch = g_strdup_printf ("vgginfer name=i model=\"%s\" threads=1 "
                            "batch-size=%u batch-timeout=1 ! vggoverlay name=o",
      model_path, 1 + threads_and_batch % 3);
  h = gst_harness_new_parse (launch);
  g_free (launch);
  infer = gst_bin_get_by_name (GST_BIN (h->element), "i");
  overlay = gst_bin_get_by_name (GST_BIN (h->element), "o");
  /* the harness has set the pipeline playing: the context exists */
  context = GST_VGG_OVERLAY (overlay)->pango_context;
  g_weak_ref_init (
      &font_map, context ? pango_context_get_font_map (context) : NULL);
  gst_video_info_init (&info);
  gst_harness_push_event (h, gst_event_new_stream_start ("fuzz"));

  while (in.pos < in.size && n_ops++ < 64) {
    guint op = take_u8 (&in);
    switch (op % 10) {
      case 0: {
        GstCaps *caps = take_caps (&in);
        GstVideoInfo parsed;
        /* what the buffers that follow are made for: the caps as
         * GStreamer parses them, when it can */
        if (gst_caps_is_fixed (caps) && gst_video_info_from_caps (&parsed, caps)
            && GST_VIDEO_INFO_SIZE (&parsed) <= ((gsize) 1 << 20)) {
          info = parsed;
          have_info = TRUE;
        }
        gst_pad_push_event (h->srcpad, gst_event_new_caps (caps));
        gst_caps_unref (caps);
        break;
      }
      case 1:
      case 2:
      case 3: {
        GstBuffer *buf = take_buffer (&in, &info, have_info);
        add_rois (&in, buf);
        gst_harness_push (h, buf);
        break;
      }
      case 4:
        gst_harness_push_event (h, take_segment (&in));
        break;
      case 5:
        gst_harness_push_event (h,
            gst_event_new_gap (take_u16 (&in) * GST_MSECOND,
                take_u8 (&in) == 0 ? GST_CLOCK_TIME_NONE : 40 * GST_MSECOND));
        break;
      case 6:
        gst_harness_push_event (h, gst_event_new_flush_start ());
        gst_harness_push_event (
            h, gst_event_new_flush_stop ((gboolean) (take_u8 (&in) & 1)));
        break;
      case 7:
        gst_harness_push_event (h, gst_event_new_eos ());
        break;
      case 8:
        change_property (&in, infer, overlay);
        break;
      case 9:
        drain (h);
        break;
    }
  }
  gst_harness_push_event (h, gst_event_new_eos ());
  drain (h);
  gst_object_unref (infer);
  gst_object_unref (overlay);
  gst_harness_teardown (h);
  wait_for_font_map (&font_map);
  g_weak_ref_clear (&font_map);
  return 0;
}

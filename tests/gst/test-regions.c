/* vgginfer on regions of frames (inference-region=roi-list, regions):
 * which ROIs are classified, the crops they are classified on, their
 * results in GstVggMeta, in the ROI metas' params, in the JSON and the
 * element message, and batching of regions across frames.  GstHarness
 * and full pipelines, with the "where is the bright spot" model
 * (vgg-test-models.c), whose answer for a crop is known.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/video/video.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

#include "gstvggmeta.h"
#include "vgg-test-harness.h"
#include "vgg-test-models.h"

static gchar *model_dir;
static gchar *spot_model; /* 9 classes: where the bright spot is */
static gchar *rand_model; /* random weights, 48x40 input, 10 classes */

static void
write_models (void)
{
  static const gint small_cfg[] = { 8, 0, 16, 0, 16, 0, -1 };

  model_dir = vgg_test_models_dir ("regions-XXXXXX");
  spot_model = g_build_filename (model_dir, "regions-spot.safetensors", NULL);
  rand_model = g_build_filename (model_dir, "regions-rand.safetensors", NULL);
  g_assert_true (vgg_test_write_spot_model (spot_model));
  g_assert_true (vgg_test_write_random_model (rand_model, small_cfg, 32, 10, 48,
      40, 17, NULL, "rand"));
}

/* --- pictures --- */

#define FRAME_W 320
#define FRAME_H 240

/* An RGB frame: a dark background with a gentle gradient and the n bright
 * discs centred at (spots[2i], spots[2i+1]), radius r. */
static GstBuffer *
make_frame (gint w, gint h, const gint *spots, guint n, gint r)
{
  GstVideoInfo info;
  GstVideoFrame frame;
  GstBuffer *buf;

  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_RGB, w, h);
  buf = gst_buffer_new_allocate (NULL, info.size, NULL);
  fail_unless (gst_video_frame_map (&frame, &info, buf, GST_MAP_WRITE));
  for (gint y = 0; y < h; y++) {
    guint8 *row = (guint8 *) GST_VIDEO_FRAME_PLANE_DATA (&frame, 0)
        + y * GST_VIDEO_FRAME_PLANE_STRIDE (&frame, 0);
    for (gint x = 0; x < w; x++) {
      gboolean in = FALSE;
      for (guint i = 0; i < n && !in; i++) {
        gint dx = x - spots[2 * i], dy = y - spots[2 * i + 1];
        in = dx * dx + dy * dy < r * r;
      }
      row[3 * x + 0] = in ? 255 : 10 + (x * 20) / w;
      row[3 * x + 1] = in ? 230 : 15;
      row[3 * x + 2] = in ? 200 : 20 + (y * 20) / h;
    }
  }
  gst_video_frame_unmap (&frame);
  return buf;
}

/* The part x, y, w, h of an RGB frame of width fw, as a frame of its own. */
static GstBuffer *
crop_frame (GstBuffer *src, gint fw, gint fh, const gint box[4])
{
  GstVideoInfo in_info, out_info;
  GstVideoFrame in, out;
  GstBuffer *buf;

  gst_video_info_set_format (&in_info, GST_VIDEO_FORMAT_RGB, fw, fh);
  gst_video_info_set_format (&out_info, GST_VIDEO_FORMAT_RGB, box[2], box[3]);
  buf = gst_buffer_new_allocate (NULL, out_info.size, NULL);
  fail_unless (gst_video_frame_map (&in, &in_info, src, GST_MAP_READ));
  fail_unless (gst_video_frame_map (&out, &out_info, buf, GST_MAP_WRITE));
  for (gint y = 0; y < box[3]; y++)
    memcpy ((guint8 *) GST_VIDEO_FRAME_PLANE_DATA (&out, 0)
            + y * GST_VIDEO_FRAME_PLANE_STRIDE (&out, 0),
        (const guint8 *) GST_VIDEO_FRAME_PLANE_DATA (&in, 0)
            + (box[1] + y) * GST_VIDEO_FRAME_PLANE_STRIDE (&in, 0)
            + 3 * box[0],
        3 * box[2]);
  gst_video_frame_unmap (&out);
  gst_video_frame_unmap (&in);
  return buf;
}

static GstVideoRegionOfInterestMeta *
add_roi (GstBuffer *buf, const gchar *type, gint id, guint x, guint y, guint w,
    guint h)
{
  GstVideoRegionOfInterestMeta *roi =
      gst_buffer_add_video_region_of_interest_meta (buf, type, x, y, w, h);
  roi->id = id;
  return roi;
}

/* A harness around a vgginfer with props ("name=value ...") set before it
 * leaves NULL, RGB frames of w x h. */
static GstHarness *
new_harness (const gchar *props, gint w, gint h)
{
  GstHarness *h_ = vgg_test_harness_new ("vgginfer", NULL, props);
  gchar *caps = g_strdup_printf (
      "video/x-raw,format=RGB,width=%d,height=%d,framerate=30/1", w, h);
  gst_harness_set_src_caps_str (h_, caps);
  g_free (caps);
  return h_;
}

/* Pushes buf (transfer full) and pulls the frame that comes out. */
static GstBuffer *
infer (GstHarness *h, GstBuffer *buf)
{
  GstBuffer *out;

  fail_unless_equals_int (gst_harness_push (h, buf), GST_FLOW_OK);
  out = gst_harness_pull (h);
  fail_unless (out != NULL);
  return out;
}

static gint
region_top1 (GstVggMeta *meta, guint region, gfloat *score)
{
  gint id = -1;

  if (!gst_vgg_meta_get_region_result (meta, region, 0, &id, score, NULL))
    return -1;
  return id;
}

static guint64
get_u64 (GstHarness *h, const gchar *name)
{
  guint64 v = 0;
  g_object_get (h->element, name, &v, NULL);
  return v;
}

/* --- tests --- */

/* Two boxes, each with the spot in a known place of it: each box gets its
 * own answer, in GstVggMeta and as a "classification" param of its ROI
 * meta with DL Streamer's fields; the frame's own results stay empty. */
GST_START_TEST (test_each_box_gets_its_class)
{
  /* box A (8,8 96x96): spot at 1/6 of it, top-left; box B (180,100
   * 120x120): spot at 5/6, bottom-right */
  static const gint spots[] = { 8 + 16, 8 + 16, 180 + 100, 100 + 100 };
  gchar *props = g_strdup_printf (
      "model=%s inference-region=roi-list resize=stretch top-k=3", spot_model);
  GstHarness *h = new_harness (props, FRAME_W, FRAME_H);
  GstBuffer *buf = make_frame (FRAME_W, FRAME_H, spots, 2, 10), *out;
  GstVideoRegionOfInterestMeta *roi;
  GstVggMeta *meta;
  GstStructure *cls;
  const gchar *type, *label;
  guint x, y, w, hh;
  gint id, label_id;
  gfloat score;
  gdouble confidence;
  gpointer state = NULL;
  guint n_params = 0;

  add_roi (buf, "face", 7, 8, 8, 96, 96);
  add_roi (buf, "face", 9, 180, 100, 120, 120);
  out = infer (h, buf);
  meta = gst_buffer_get_vgg_meta (out);
  fail_unless (meta != NULL);
  fail_unless_equals_int (gst_vgg_meta_get_n_results (meta), 0);
  fail_unless_equals_int (gst_vgg_meta_get_n_regions (meta), 2);
  fail_unless (gst_vgg_meta_get_region (meta, 0, &id, &type, &x, &y, &w, &hh));
  fail_unless_equals_int (id, 7);
  fail_unless_equals_string (type, "face");
  fail_unless (x == 8 && y == 8 && w == 96 && hh == 96, "box %u,%u %ux%u", x,
      y, w, hh);
  fail_unless_equals_int (gst_vgg_meta_get_region_n_results (meta, 0), 3);
  fail_unless_equals_int (region_top1 (meta, 0, &score), 0);
  fail_unless (gst_vgg_meta_get_region_result (meta, 0, 0, NULL, NULL, &label));
  fail_unless_equals_string (label, "top-left");
  fail_unless_equals_int (region_top1 (meta, 1, NULL), 8);
  fail_unless (gst_vgg_meta_get_region (meta, 1, &id, NULL, NULL, NULL, NULL,
      NULL));
  fail_unless_equals_int (id, 9);
  fail_if (gst_vgg_meta_get_region (meta, 2, NULL, NULL, NULL, NULL, NULL,
      NULL));

  /* the params, on the ROI metas of the output buffer */
  while ((roi = (GstVideoRegionOfInterestMeta *) gst_buffer_iterate_meta_filtered (
              out, &state, GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE))) {
    guint region = roi->id == 7 ? 0 : 1;
    const GValue *ids;
    gfloat s0;
    gint c0;

    cls = gst_video_region_of_interest_meta_get_param (roi, "classification");
    fail_unless (cls != NULL, "ROI %d has no classification", roi->id);
    fail_unless (gst_vgg_meta_get_region_result (
        meta, region, 0, &c0, &s0, &label));
    fail_unless_equals_string (
        gst_structure_get_string (cls, "type"), "classification_result");
    fail_unless_equals_string (
        gst_structure_get_string (cls, "model_name"), "spot");
    fail_unless_equals_string (
        gst_structure_get_string (cls, "layer_name"), "probs");
    fail_unless_equals_string (gst_structure_get_string (cls, "label"), label);
    fail_unless (gst_structure_get_int (cls, "label_id", &label_id));
    fail_unless_equals_int (label_id, c0);
    fail_unless (gst_structure_get_double (cls, "confidence", &confidence));
    fail_unless_equals_float ((gfloat) confidence, s0);
    ids = gst_structure_get_value (cls, "label_ids");
    fail_unless (ids && gst_value_array_get_size (ids) == 3);
    fail_unless_equals_int (
        g_value_get_int (gst_value_array_get_value (ids, 0)), c0);
    fail_unless_equals_int (gst_value_array_get_size (
                                gst_structure_get_value (cls, "confidences")),
        3);
    n_params++;
  }
  fail_unless_equals_int (n_params, 2);
  fail_unless_equals_int (get_u64 (h, "rois-inferred"), 2);
  fail_unless_equals_int (get_u64 (h, "frames-inferred"), 1);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
  g_free (props);
}

GST_END_TEST;

/* The scores of a region are those of the same pixels cropped and
 * classified as a frame of their own, bit for bit (the crop goes through
 * the same converter, resize policy and network), with and without
 * roi-padding, in classify and features mode, at odd boxes. */
GST_START_TEST (test_region_equals_its_crop_alone)
{
  static const gint spots[] = { 101, 77, 250, 180 };
  /* x, y, w, h of the boxes; the second pokes out of the frame */
  static const gint boxes[][4] = { { 61, 33, 97, 71 }, { 230, 150, 131, 111 },
    { 0, 0, 13, 7 } };
  static const gchar *modes[][2] = { { "classify", "top-k=10" },
    { "features", "feature-layer=fc7" } };
  static const gchar *resize[] = { "center-crop", "letterbox" };
  GstBuffer *frame = make_frame (FRAME_W, FRAME_H, spots, 2, 14);

  for (guint m = 0; m < G_N_ELEMENTS (modes); m++)
    for (guint r = 0; r < G_N_ELEMENTS (resize); r++)
      for (guint pad = 0; pad <= 20; pad += 20) {
        gchar *props = g_strdup_printf (
            "model=%s inference-region=roi-list mode=%s %s resize=%s "
            "roi-padding=%u",
            rand_model, modes[m][0], modes[m][1], resize[r], pad);
        gchar *alone_props = g_strdup_printf (
            "model=%s mode=%s %s resize=%s", rand_model, modes[m][0],
            modes[m][1], resize[r]);
        GstHarness *h = new_harness (props, FRAME_W, FRAME_H);
        GstBuffer *buf = gst_buffer_copy (frame), *out;
        GstVggMeta *meta;

        for (guint b = 0; b < G_N_ELEMENTS (boxes); b++)
          add_roi (buf, "object", b, boxes[b][0], boxes[b][1], boxes[b][2],
              boxes[b][3]);
        out = infer (h, buf);
        meta = gst_buffer_get_vgg_meta (out);
        fail_unless (meta && gst_vgg_meta_get_n_regions (meta) == 3);
        for (guint b = 0; b < G_N_ELEMENTS (boxes); b++) {
          /* the crop: the box clipped, grown by pad percent per side */
          gint x0 = boxes[b][0], y0 = boxes[b][1];
          gint x1 = MIN (FRAME_W, x0 + boxes[b][2]);
          gint y1 = MIN (FRAME_H, y0 + boxes[b][3]);
          gint px = (x1 - x0) * (gint) pad / 100, py = (y1 - y0) * (gint) pad / 100;
          gint crop[4];
          GstHarness *ha;
          GstBuffer *alone;
          GstVggMeta *am;

          crop[0] = MAX (0, x0 - px);
          crop[1] = MAX (0, y0 - py);
          crop[2] = MIN (FRAME_W, x1 + px) - crop[0];
          crop[3] = MIN (FRAME_H, y1 + py) - crop[1];
          ha = new_harness (alone_props, crop[2], crop[3]);
          alone = infer (ha, crop_frame (frame, FRAME_W, FRAME_H, crop));
          am = gst_buffer_get_vgg_meta (alone);
          fail_unless (am != NULL);
          if (m == 0) {
            fail_unless_equals_int (
                gst_vgg_meta_get_region_n_results (meta, b), 10);
            for (guint k = 0; k < 10; k++) {
              gint c1, c2;
              gfloat s1, s2;
              fail_unless (gst_vgg_meta_get_region_result (
                  meta, b, k, &c1, &s1, NULL));
              fail_unless (gst_vgg_meta_get_result (am, k, &c2, &s2, NULL));
              fail_unless (c1 == c2 && s1 == s2,
                  "%s pad %u box %u (crop %d,%d %dx%d) entry %u: region "
                  "%d %.9g, alone %d %.9g",
                  resize[r], pad, b, crop[0], crop[1], crop[2], crop[3], k,
                  c1, s1, c2, s2);
            }
          } else {
            guint n1, n2;
            const gfloat *f1 = gst_vgg_meta_get_region_features (meta, b, &n1);
            const gfloat *f2 = gst_vgg_meta_get_features (am, &n2);
            fail_unless (n1 == 32 && n2 == 32, "%u %u", n1, n2);
            fail_unless_equals_string (
                gst_vgg_meta_get_region_feature_layer (meta, b), "fc7");
            fail_unless (memcmp (f1, f2, sizeof (gfloat) * n1) == 0,
                "%s pad %u box %u: features differ", resize[r], pad, b);
          }
          gst_buffer_unref (alone);
          gst_harness_teardown (ha);
        }
        gst_buffer_unref (out);
        gst_harness_teardown (h);
        g_free (props);
        g_free (alone_props);
      }
  gst_buffer_unref (frame);
}

GST_END_TEST;

/* Fixed zones over frames whose picture changes, 3 and 11 of them, with
 * 1 and 2 converter threads: each zone's features equal those of its
 * crop fed alone, frame after frame (a zone 5 rows high among them). */
GST_START_TEST (test_zones_over_frames_equal_crops_alone)
{
  /* x, y, w, h */
  static const gint zones[][4] = { { 61, 33, 97, 71 }, { 0, 0, 13, 5 },
    { 200, 101, 119, 139 }, { 5, 130, 150, 60 }, { 170, 20, 64, 64 },
    { 30, 200, 41, 37 }, { 250, 0, 70, 99 }, { 100, 100, 100, 100 },
    { 1, 1, 318, 238 }, { 140, 60, 9, 31 }, { 290, 170, 29, 69 } };
  static const guint counts[] = { 3, G_N_ELEMENTS (zones) };
  const guint n_frames = 4;

  for (guint c = 0; c < G_N_ELEMENTS (counts); c++)
    for (guint threads = 1; threads <= 2; threads++) {
      GString *text = g_string_new (NULL);
      GstHarness *alone[G_N_ELEMENTS (zones)];
      GstHarness *h;
      gchar *props;

      for (guint z = 0; z < counts[c]; z++) {
        gchar *p = g_strdup_printf ("model=%s mode=features "
                                    "feature-layer=fc7 threads=%u",
            rand_model, threads);
        g_string_append_printf (text, "%s%d,%d,%d,%d", z ? ";" : "",
            zones[z][0], zones[z][1], zones[z][2], zones[z][3]);
        alone[z] = new_harness (p, zones[z][2], zones[z][3]);
        g_free (p);
      }
      props = g_strdup_printf ("model=%s mode=features feature-layer=fc7 "
                               "threads=%u regions=%s",
          rand_model, threads, text->str);
      h = new_harness (props, FRAME_W, FRAME_H);
      for (guint f = 0; f < n_frames; f++) {
        /* the spots move from frame to frame */
        const gint spots[] = { 40 + 50 * (gint) f, 60 + 30 * (gint) f,
          280 - 60 * (gint) f, 200 - 40 * (gint) f };
        GstBuffer *frame = make_frame (FRAME_W, FRAME_H, spots, 2, 25);
        GstBuffer *out = infer (h, gst_buffer_ref (frame));
        GstVggMeta *meta = gst_buffer_get_vgg_meta (out);

        fail_unless (meta != NULL);
        fail_unless_equals_int (gst_vgg_meta_get_n_regions (meta), counts[c]);
        for (guint z = 0; z < counts[c]; z++) {
          GstBuffer *crop =
              infer (alone[z], crop_frame (frame, FRAME_W, FRAME_H, zones[z]));
          GstVggMeta *am = gst_buffer_get_vgg_meta (crop);
          guint n1, n2;
          const gfloat *f1 = gst_vgg_meta_get_region_features (meta, z, &n1);
          const gfloat *f2 = am ? gst_vgg_meta_get_features (am, &n2) : NULL;

          fail_unless (f1 && f2 && n1 == 32 && n2 == 32);
          fail_unless (memcmp (f1, f2, sizeof (gfloat) * n1) == 0,
              "%u zones, %u threads, frame %u, zone %u (%d,%d %dx%d): "
              "features differ from the crop's alone (first %.9g, %.9g)",
              counts[c], threads, f, z, zones[z][0], zones[z][1], zones[z][2],
              zones[z][3], f1[0], f2[0]);
          gst_buffer_unref (crop);
        }
        gst_buffer_unref (out);
        gst_buffer_unref (frame);
      }
      for (guint z = 0; z < counts[c]; z++)
        gst_harness_teardown (alone[z]);
      gst_harness_teardown (h);
      g_free (props);
      g_string_free (text, TRUE);
    }
}

GST_END_TEST;

/* The fc7 features of the n regions of frame (transfer full) through h:
 * into features[32 * region]. */
static void
zone_features (GstHarness *h, GstBuffer *frame, guint n, gfloat *features)
{
  GstBuffer *out = infer (h, frame);
  GstVggMeta *meta = gst_buffer_get_vgg_meta (out);

  fail_unless (meta != NULL);
  fail_unless_equals_int (gst_vgg_meta_get_n_regions (meta), n);
  for (guint z = 0; z < n; z++) {
    guint len = 0;
    const gfloat *f = gst_vgg_meta_get_region_features (meta, z, &len);
    fail_unless (f != NULL && len == 32);
    memcpy (features + 32 * z, f, sizeof (gfloat) * len);
  }
  gst_buffer_unref (out);
}

/* Zones of 2, 3 and 40 rows score on each I420 frame of a stream as on
 * that frame in a new element (a GstVideoConverter reused for an area of
 * a few rows converts the previous frame's picture again, in every
 * format but RGB: see CONVERTER_REUSE_MIN_ROWS). */
GST_START_TEST (test_thin_zones_over_frames_equal_new_element)
{
  const gchar *caps = "video/x-raw,format=I420,width=320,height=240,"
                      "framerate=30/1";
  gchar *props = g_strdup_printf ("model=%s mode=features feature-layer=fc7 "
                                  "resize=stretch regions=0,0,13,2;"
                                  "31,17,50,3;100,50,61,40",
      rand_model);
  GstHarness *h = vgg_test_harness_new ("vgginfer", NULL, props);
  GstVideoInfo info;
  gfloat stream[3 * 32], fresh[3 * 32], first[3 * 32];

  gst_harness_set_src_caps_str (h, caps);
  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_I420, 320, 240);
  for (guint f = 0; f < 3; f++) {
    GstBuffer *frame = gst_buffer_new_allocate (NULL, info.size, NULL);
    GstHarness *h1 = vgg_test_harness_new ("vgginfer", NULL, props);
    GstMapInfo map;

    gst_harness_set_src_caps_str (h1, caps);
    fail_unless (gst_buffer_map (frame, &map, GST_MAP_WRITE));
    /* a different ramp on each frame */
    for (gsize i = 0; i < map.size; i++)
      map.data[i] = (guint8) ((i * (7 + 6 * f)) % 251);
    gst_buffer_unmap (frame, &map);
    zone_features (h, gst_buffer_ref (frame), 3, stream);
    zone_features (h1, frame, 3, fresh);
    if (f == 0)
      memcpy (first, stream, sizeof first);
    else /* the pictures differ, or the test proves nothing */
      fail_unless (memcmp (first, stream, 32 * sizeof (gfloat)) != 0,
          "frame %u: the first zone scores as on frame 0", f);
    for (guint i = 0; i < 3 * 32; i++)
      fail_unless (stream[i] == fresh[i],
          "frame %u, zone %u, feature %u: %.9g in the stream, %.9g in a new "
          "element",
          f, i / 32, i % 32, stream[i], fresh[i]);
    gst_harness_teardown (h1);
  }
  gst_harness_teardown (h);
  g_free (props);
}

GST_END_TEST;

/* The producers of GStreamer 1.22 and DL Streamer, as they tag their
 * boxes: object-class picks by ROI type or by detected label. */
GST_START_TEST (test_object_class_reads_every_convention)
{
  static const gint spots[] = { 40, 40 };
  static const struct
  {
    const gchar *classes; /* object-class */
    guint n;              /* regions classified */
    gint ids[4];
  } cases[] = {
    { NULL, 4, { 1, 2, 3, 4 } },
    { "", 4, { 1, 2, 3, 4 } },
    { "face", 1, { 1 } },
    { "dog", 1, { 2 } },           /* onnxobjectdetector's label */
    { "person", 1, { 3 } },        /* DL Streamer: type and label */
    { " car , face", 2, { 1, 4 } }, /* DL Streamer's label only */
    { "onnx-object_detector,cat", 1, { 2 } },
    { "nothing", 0, { 0 } },
  };

  for (guint c = 0; c < G_N_ELEMENTS (cases); c++) {
    gchar *props = g_strdup_printf ("model=%s inference-region=roi-list",
        spot_model);
    GstHarness *h = new_harness (props, FRAME_W, FRAME_H);
    GstBuffer *buf = make_frame (FRAME_W, FRAME_H, spots, 1, 8), *out;
    GstVideoRegionOfInterestMeta *roi;
    GstVggMeta *meta;

    if (cases[c].classes)
      g_object_set (h->element, "object-class", cases[c].classes, NULL);
    /* facedetect: type "face", no params */
    add_roi (buf, "face", 1, 0, 0, 80, 80);
    /* onnxobjectdetector: its own type, label in "extra-data" */
    roi = add_roi (buf, "onnx-object_detector", 2, 10, 10, 80, 80);
    gst_video_region_of_interest_meta_add_param (roi,
        gst_structure_new ("extra-data", "label", G_TYPE_STRING, "dog",
            "score", G_TYPE_FLOAT, 0.9f, NULL));
    /* DL Streamer: type = label, a "detection" structure */
    roi = add_roi (buf, "person", 3, 20, 20, 80, 80);
    gst_video_region_of_interest_meta_add_param (roi,
        gst_structure_new ("detection", "confidence", G_TYPE_DOUBLE, 0.8,
            "label_id", G_TYPE_INT, 0, "label", G_TYPE_STRING, "person", NULL));
    roi = add_roi (buf, "vehicle", 4, 30, 30, 80, 80);
    gst_video_region_of_interest_meta_add_param (roi,
        gst_structure_new ("detection", "confidence", G_TYPE_DOUBLE, 0.7,
            "label_id", G_TYPE_INT, 2, "label", G_TYPE_STRING, "car", NULL));
    out = infer (h, buf);
    meta = gst_buffer_get_vgg_meta (out);
    fail_unless (meta != NULL);
    fail_unless (gst_vgg_meta_get_n_regions (meta) == cases[c].n,
        "object-class \"%s\": %u regions, expected %u",
        GST_STR_NULL (cases[c].classes), gst_vgg_meta_get_n_regions (meta),
        cases[c].n);
    for (guint i = 0; i < cases[c].n; i++) {
      gint id;
      fail_unless (gst_vgg_meta_get_region (
          meta, i, &id, NULL, NULL, NULL, NULL, NULL));
      fail_unless (id == cases[c].ids[i], "object-class \"%s\": region %u "
          "is ROI %d, expected %d", cases[c].classes, i, id, cases[c].ids[i]);
      fail_unless (region_top1 (meta, i, NULL) >= 0);
    }
    /* ROIs left out by object-class are not "skipped" */
    fail_unless_equals_int (get_u64 (h, "rois-skipped"), 0);
    gst_buffer_unref (out);
    gst_harness_teardown (h);
    g_free (props);
  }
}

GST_END_TEST;

/* Boxes partly or wholly outside the frame, empty, tiny, too many: the
 * ones left are clipped, the others skipped and counted, nothing
 * crashes. */
GST_START_TEST (test_clip_empty_tiny_and_too_many)
{
  static const gint spots[] = { 310, 225 };
  gchar *props = g_strdup_printf ("model=%s inference-region=roi-list "
                                  "min-roi-size=8 max-rois=4 resize=stretch",
      spot_model);
  GstHarness *h = new_harness (props, FRAME_W, FRAME_H);
  GstBuffer *buf = make_frame (FRAME_W, FRAME_H, spots, 1, 12), *out;
  GstVggMeta *meta;
  GstStructure *msg_s = NULL;
  const GValue *regions;
  guint skipped = 0;
  GstBus *bus = gst_bus_new ();
  GstMessage *msg;
  guint x, y, w, hh;

  gst_element_set_bus (h->element, bus);
  add_roi (buf, "o", 0, 260, 160, 200, 200);            /* clipped: 60x80 */
  add_roi (buf, "o", 1, 400, 10, 50, 50);               /* outside */
  add_roi (buf, "o", 2, 10, 10, 0, 40);                 /* empty */
  add_roi (buf, "o", 3, 10, 10, 7, 40);                 /* under 8 */
  add_roi (buf, "o", 4, G_MAXUINT - 5, 0, 100, 100);    /* wraps past 2^32 */
  add_roi (buf, "o", 5, 0, 0, G_MAXUINT, G_MAXUINT);    /* the whole frame */
  add_roi (buf, "o", 6, 312, 232, 8, 8);                /* the corner */
  add_roi (buf, "o", 7, 100, 100, 8, 8);                /* fourth kept */
  add_roi (buf, "o", 8, 120, 100, 30, 30);              /* past max-rois */
  out = infer (h, buf);
  meta = gst_buffer_get_vgg_meta (out);
  fail_unless (meta && gst_vgg_meta_get_n_regions (meta) == 4, "%u regions",
      meta ? gst_vgg_meta_get_n_regions (meta) : 0);
  fail_unless (gst_vgg_meta_get_region (meta, 0, NULL, NULL, &x, &y, &w, &hh));
  fail_unless (x == 260 && y == 160 && w == 60 && hh == 80, "%u,%u %ux%u", x,
      y, w, hh);
  /* the spot (310, 225) is at 50/60, 65/80 of the clipped box */
  fail_unless_equals_string (
      vgg_test_spot_labels[region_top1 (meta, 0, NULL)], "bottom-right");
  fail_unless (gst_vgg_meta_get_region (meta, 1, NULL, NULL, &x, &y, &w, &hh));
  fail_unless (x == 0 && y == 0 && w == FRAME_W && hh == FRAME_H);
  fail_unless_equals_string (
      vgg_test_spot_labels[region_top1 (meta, 1, NULL)], "bottom-right");
  fail_unless (gst_vgg_meta_get_region (meta, 2, NULL, NULL, &x, &y, &w, &hh));
  fail_unless (x == 312 && y == 232 && w == 8 && hh == 8);
  fail_unless_equals_int (get_u64 (h, "rois-skipped"), 5);
  fail_unless_equals_int (get_u64 (h, "rois-inferred"), 4);

  /* the message lists the regions and the skipped count */
  while ((msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ELEMENT))) {
    if (gst_message_has_name (msg, "vgginfer"))
      msg_s = gst_structure_copy (gst_message_get_structure (msg));
    gst_message_unref (msg);
  }
  fail_unless (msg_s != NULL);
  fail_unless (gst_structure_get_uint (msg_s, "rois-skipped", &skipped));
  fail_unless_equals_int (skipped, 5);
  regions = gst_structure_get_value (msg_s, "regions");
  fail_unless (regions && gst_value_array_get_size (regions) == 4);
  {
    const GstStructure *r0 =
        gst_value_get_structure (gst_value_array_get_value (regions, 0));
    const GValue *labels = gst_structure_get_value (r0, "labels");
    guint rw = 0;
    fail_unless (gst_structure_get_uint (r0, "w", &rw) && rw == 60);
    fail_unless_equals_string (
        g_value_get_string (gst_value_array_get_value (labels, 0)),
        "bottom-right");
  }
  gst_structure_free (msg_s);
  gst_buffer_unref (out);
  gst_element_set_bus (h->element, NULL);
  gst_object_unref (bus);
  gst_harness_teardown (h);
  g_free (props);
}

GST_END_TEST;

/* 300 boxes on one frame run in forward passes of batch-size, each with
 * the answer of its own box: the spot in one of the nine places of each
 * box, by a seeded draw. */
GST_START_TEST (test_hundreds_of_boxes)
{
  static const guint batch_sizes[] = { 1, 7, 64 };
  const guint n = 300, cols = 20;
  GRand *rand = g_rand_new_with_seed (1515);
  gint *spots = g_new (gint, 2 * n), *cls = g_new (gint, n);
  GstBuffer *frame;

  /* boxes of 32x32 on a grid of 20 x 15 over a 640x480 frame */
  for (guint i = 0; i < n; i++) {
    gint bx = (i % cols) * 32, by = (i / cols) * 32;
    cls[i] = g_rand_int_range (rand, 0, 9);
    spots[2 * i] = bx + 5 + (cls[i] % 3) * 11;
    spots[2 * i + 1] = by + 5 + (cls[i] / 3) * 11;
  }
  frame = make_frame (640, 480, spots, n, 4);
  for (guint b = 0; b < G_N_ELEMENTS (batch_sizes); b++) {
    gchar *props = g_strdup_printf (
        "model=%s inference-region=roi-list resize=stretch batch-size=%u",
        spot_model, batch_sizes[b]);
    GstHarness *h = new_harness (props, 640, 480);
    GstBuffer *buf = gst_buffer_copy (frame), *out;
    GstVggMeta *meta;

    for (guint i = 0; i < n; i++)
      add_roi (buf, "cell", i, (i % cols) * 32, (i / cols) * 32, 32, 32);
    out = infer (h, buf);
    meta = gst_buffer_get_vgg_meta (out);
    fail_unless (meta && gst_vgg_meta_get_n_regions (meta) == n);
    for (guint i = 0; i < n; i++) {
      gint id;
      fail_unless (gst_vgg_meta_get_region (
          meta, i, &id, NULL, NULL, NULL, NULL, NULL));
      fail_unless_equals_int (id, i);
      fail_unless (region_top1 (meta, i, NULL) == cls[i],
          "batch-size %u box %u: %s, expected %s", batch_sizes[b], i,
          region_top1 (meta, i, NULL) >= 0
              ? vgg_test_spot_labels[region_top1 (meta, i, NULL)]
              : "none",
          vgg_test_spot_labels[cls[i]]);
    }
    fail_unless_equals_int (get_u64 (h, "rois-inferred"), n);
    gst_buffer_unref (out);
    gst_harness_teardown (h);
    g_free (props);
  }
  gst_buffer_unref (frame);
  g_free (spots);
  g_free (cls);
  g_rand_free (rand);
}

GST_END_TEST;

/* Frames with 0 to 6 boxes (seeded), batched by regions across frames
 * with a long timeout: every frame leaves once, in order, with the
 * regions of its own boxes. */
GST_START_TEST (test_batches_across_frames_keep_order)
{
  static const guint batch_sizes[] = { 1, 4, 5 };
  const guint n_frames = 40;
  GRand *rand = g_rand_new_with_seed (4242);
  guint counts[40];
  gint classes[40][6];

  for (guint f = 0; f < n_frames; f++) {
    counts[f] = g_rand_int_range (rand, 0, 7);
    for (guint i = 0; i < 6; i++)
      classes[f][i] = g_rand_int_range (rand, 0, 9);
  }
  for (guint b = 0; b < G_N_ELEMENTS (batch_sizes); b++) {
    gchar *props = g_strdup_printf ("model=%s inference-region=roi-list "
                                    "resize=stretch batch-size=%u "
                                    "batch-timeout=60000",
        spot_model, batch_sizes[b]);
    GstHarness *h = new_harness (props, FRAME_W, FRAME_H);
    guint64 total = 0, with_boxes = 0;

    for (guint f = 0; f < n_frames; f++) {
      gint spots[12];
      GstBuffer *buf;

      /* boxes of 48x48 side by side on the top row */
      for (guint i = 0; i < counts[f]; i++) {
        spots[2 * i] = i * 50 + 8 + (classes[f][i] % 3) * 16;
        spots[2 * i + 1] = 8 + (classes[f][i] / 3) * 16;
      }
      buf = make_frame (FRAME_W, FRAME_H, spots, counts[f], 6);
      for (guint i = 0; i < counts[f]; i++)
        add_roi (buf, "box", i, i * 50, 0, 48, 48);
      GST_BUFFER_PTS (buf) = f * GST_SECOND / 30;
      fail_unless_equals_int (gst_harness_push (h, buf), GST_FLOW_OK);
      total += counts[f];
      with_boxes += counts[f] > 0;
    }
    /* the last frames wait for a full batch: EOS runs them */
    fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
    for (guint f = 0; f < n_frames; f++) {
      GstBuffer *out = gst_harness_pull (h);
      GstVggMeta *meta;

      fail_unless (out != NULL, "batch-size %u: frame %u missing",
          batch_sizes[b], f);
      fail_unless_equals_uint64 (GST_BUFFER_PTS (out), f * GST_SECOND / 30);
      meta = gst_buffer_get_vgg_meta (out);
      fail_unless (meta != NULL);
      fail_unless (gst_vgg_meta_get_n_regions (meta) == counts[f],
          "batch-size %u frame %u: %u regions, %u boxes", batch_sizes[b], f,
          gst_vgg_meta_get_n_regions (meta), counts[f]);
      for (guint i = 0; i < counts[f]; i++)
        fail_unless (region_top1 (meta, i, NULL) == classes[f][i],
            "batch-size %u frame %u box %u: class %d, expected %d",
            batch_sizes[b], f, i, region_top1 (meta, i, NULL),
            classes[f][i]);
      gst_buffer_unref (out);
    }
    fail_unless_equals_int (gst_harness_buffers_in_queue (h), 0);
    /* the frames the network ran on: those with boxes */
    fail_unless_equals_int (get_u64 (h, "frames-inferred"), with_boxes);
    fail_unless_equals_int (get_u64 (h, "rois-inferred"), total);
    gst_harness_teardown (h);
    g_free (props);
  }
  g_rand_free (rand);
}

GST_END_TEST;

static void
keep_message (const gchar *domain, GLogLevelFlags level, const gchar *message,
    gpointer data)
{
  g_free (*(gchar **) data);
  *(gchar **) data = g_strdup (message);
}

/* A full queue of frames with few regions runs at once: the chain
 * function is blocked, so no more regions can come to fill the batch.
 * Before, each batch waited out batch-timeout (here 60 s, past the test's
 * timeout); 40 frames with a box on every tenth now come out at once,
 * in order. */
GST_START_TEST (test_full_queue_of_few_regions_runs)
{
  static const gint spots[] = { 24, 24 };
  gchar *props = g_strdup_printf ("model=%s inference-region=roi-list "
                                  "resize=stretch batch-size=8 max-queue=8 "
                                  "batch-timeout=60000",
      spot_model);
  GstHarness *h = new_harness (props, 64, 64);
  gint64 t0 = g_get_monotonic_time ();

  for (guint f = 0; f < 40; f++) {
    GstBuffer *buf = make_frame (64, 64, spots, 1, 6);
    if (f % 10 == 0)
      add_roi (buf, "box", 0, 0, 0, 48, 48);
    GST_BUFFER_PTS (buf) = f * GST_SECOND / 30;
    fail_unless_equals_int (gst_harness_push (h, buf), GST_FLOW_OK);
  }
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
  for (guint f = 0; f < 40; f++) {
    GstBuffer *out = gst_harness_pull (h);
    GstVggMeta *meta = gst_buffer_get_vgg_meta (out);
    fail_unless_equals_uint64 (GST_BUFFER_PTS (out), f * GST_SECOND / 30);
    fail_unless (meta && gst_vgg_meta_get_n_regions (meta) == (f % 10 == 0));
    if (f % 10 == 0)
      fail_unless_equals_string (
          vgg_test_spot_labels[region_top1 (meta, 0, NULL)], "centre");
    gst_buffer_unref (out);
  }
  GST_INFO ("40 frames in %.2f s", (g_get_monotonic_time () - t0) / 1e6);
  fail_unless_equals_int (get_u64 (h, "rois-inferred"), 4);
  fail_unless_equals_int (get_u64 (h, "frames-inferred"), 4);
  gst_harness_teardown (h);
  g_free (props);
}

GST_END_TEST;

/* Fixed zones, in pixels and in fractions: ROI metas of their own type
 * on the frame, classified after the detector's boxes, which
 * object-class does not filter them out with. */
GST_START_TEST (test_zones)
{
  /* a spot at the top-left of the zone (0,0 160x120) and at the centre
   * of the zone (160,120 160x120) */
  static const gint spots[] = { 25, 20, 240, 180 };
  gchar *props = g_strdup_printf (
      "model=%s resize=stretch inference-region=roi-list object-class=face "
      "regions=0,0,160,120;0.5,0.5,0.5,0.5",
      spot_model);
  GstHarness *h = new_harness (props, FRAME_W, FRAME_H);
  GstBuffer *buf = make_frame (FRAME_W, FRAME_H, spots, 2, 12), *out;
  GstVideoRegionOfInterestMeta *roi;
  GstVggMeta *meta;
  gpointer state = NULL;
  gchar *text = NULL, *warning = NULL;
  const gchar *type;
  guint x, y, w, hh, n_zones = 0;
  gint id;

  g_object_get (h->element, "regions", &text, NULL);
  fail_unless_equals_string (text, "0,0,160,120;0.5,0.5,0.5,0.5");
  g_free (text);
  /* a detector's box, and one object-class leaves out */
  add_roi (buf, "face", 5, 0, 0, 160, 120);
  add_roi (buf, "car", 6, 0, 0, 160, 120);
  out = infer (h, buf);
  meta = gst_buffer_get_vgg_meta (out);
  fail_unless (meta && gst_vgg_meta_get_n_regions (meta) == 3);
  fail_unless (gst_vgg_meta_get_region (meta, 0, &id, &type, NULL, NULL, NULL,
      NULL));
  fail_unless (id == 5 && strcmp (type, "face") == 0);
  fail_unless (gst_vgg_meta_get_region (meta, 1, &id, &type, &x, &y, &w, &hh));
  fail_unless_equals_string (type, "vgg-region");
  fail_unless_equals_int (id, 7); /* above the frame's ids */
  fail_unless (x == 0 && y == 0 && w == 160 && hh == 120);
  fail_unless_equals_string (
      vgg_test_spot_labels[region_top1 (meta, 1, NULL)], "top-left");
  fail_unless (gst_vgg_meta_get_region (meta, 2, &id, NULL, &x, &y, &w, &hh));
  fail_unless_equals_int (id, 8);
  fail_unless (x == 160 && y == 120 && w == 160 && hh == 120, "%u,%u %ux%u", x,
      y, w, hh);
  fail_unless_equals_string (
      vgg_test_spot_labels[region_top1 (meta, 2, NULL)], "centre");
  /* the zones are ROI metas on the frame, with their results */
  while ((roi = (GstVideoRegionOfInterestMeta *) gst_buffer_iterate_meta_filtered (
              out, &state, GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE))) {
    if (roi->roi_type != g_quark_from_string ("vgg-region"))
      continue;
    fail_unless (gst_video_region_of_interest_meta_get_param (
                     roi, "classification")
        != NULL);
    n_zones++;
  }
  fail_unless_equals_int (n_zones, 2);
  gst_buffer_unref (out);

  /* a bad value is refused with a warning naming the zone; the old stays */
  {
    static const gchar *bad[][2] = { { "1,2,3", "zone 1 \"1,2,3\"" },
      { "0,0,10,10;0,0,-1,5", "zone 2 \"0,0,-1,5\"" },
      { "0,0,1.5,0.5", "zone 1" }, { "0,0,nan,5", "zone 1" },
      { "0,0,0,5", "zone 1" }, { "0,0,10,10;;x", "zone 2 \"x\"" },
      { "10,10,0.5,0.5", "zone 1 \"10,10,0.5,0.5\" mixes pixels and" },
      { "0,0,5e-1,5e-1", "zone 1 \"0,0,5e-1,5e-1\" is in pixels" } };
    guint handler = g_log_set_handler ("vgginfer", G_LOG_LEVEL_WARNING,
        keep_message, &warning);

    for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
      g_clear_pointer (&warning, g_free);
      g_object_set (h->element, "regions", bad[i][0], NULL);
      fail_unless (warning && strstr (warning, bad[i][1]),
          "regions \"%s\": warning \"%s\"", bad[i][0], GST_STR_NULL (warning));
    }
    g_clear_pointer (&warning, g_free);
    g_log_remove_handler ("vgginfer", handler);
  }
  g_object_get (h->element, "regions", &text, NULL);
  fail_unless_equals_string (text, "0,0,160,120;0.5,0.5,0.5,0.5");
  g_free (text);
  /* changed while playing: used from the next frame on; without
   * roi-list, the zones only; cleared too: the whole frame */
  g_object_set (h->element, "regions", "160,0,160,120", "inference-region", 0,
      NULL);
  buf = make_frame (FRAME_W, FRAME_H, spots, 2, 12);
  add_roi (buf, "face", 5, 0, 0, 160, 120);
  out = infer (h, buf);
  meta = gst_buffer_get_vgg_meta (out);
  fail_unless (meta && gst_vgg_meta_get_n_regions (meta) == 1);
  fail_unless (gst_vgg_meta_get_region (meta, 0, NULL, &type, &x, NULL, NULL,
      NULL));
  fail_unless (x == 160 && strcmp (type, "vgg-region") == 0);
  gst_buffer_unref (out);
  g_object_set (h->element, "regions", "", NULL);
  out = infer (h, make_frame (FRAME_W, FRAME_H, spots, 2, 12));
  meta = gst_buffer_get_vgg_meta (out);
  fail_unless (meta && gst_vgg_meta_get_n_regions (meta) == 0);
  fail_unless (gst_vgg_meta_get_n_results (meta) > 0);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
  g_free (props);
}

GST_END_TEST;

/* The per-region JSON (schema 1's "regions") and a scale moving boxes. */
GST_START_TEST (test_region_json_and_scale)
{
  static const gint spots[] = { 30, 30 };
  gchar *props = g_strdup_printf (
      "model=%s inference-region=roi-list mode=features feature-layer=fc6 "
      "resize=stretch",
      spot_model);
  GstHarness *h = new_harness (props, FRAME_W, FRAME_H);
  GstBuffer *buf = make_frame (FRAME_W, FRAME_H, spots, 1, 8), *out, *scaled;
  GstVggMeta *meta, *smeta;
  JsonParser *parser = json_parser_new ();
  JsonObject *root, *r0;
  JsonArray *regions;
  GstVideoInfo in_info, out_info;
  GstVideoMetaTransform trans = { &in_info, &out_info };
  gchar *json;
  guint n;
  guint x, y, w, hh;

  add_roi (buf, "face\x1f\"", 3, 10, 20, 64, 48);
  out = infer (h, buf);
  meta = gst_buffer_get_vgg_meta (out);
  fail_unless (meta && gst_vgg_meta_get_n_regions (meta) == 1);
  gst_vgg_meta_get_region_features (meta, 0, &n);
  fail_unless (n > 0);
  json = gst_vgg_meta_to_json (meta);
  fail_unless (json_parser_load_from_data (parser, json, -1, NULL), "%s", json);
  root = json_node_get_object (json_parser_get_root (parser));
  fail_unless_equals_int (
      json_array_get_length (json_object_get_array_member (root, "results")),
      0);
  regions = json_object_get_array_member (root, "regions");
  fail_unless_equals_int (json_array_get_length (regions), 1);
  r0 = json_array_get_object_element (regions, 0);
  fail_unless_equals_int (json_object_get_int_member (r0, "id"), 3);
  fail_unless_equals_string (
      json_object_get_string_member (r0, "type"), "face\x1f\"");
  fail_unless_equals_int (json_object_get_int_member (r0, "x"), 10);
  fail_unless_equals_int (json_object_get_int_member (r0, "y"), 20);
  fail_unless_equals_int (json_object_get_int_member (r0, "w"), 64);
  fail_unless_equals_int (json_object_get_int_member (r0, "h"), 48);
  fail_unless_equals_string (
      json_object_get_string_member (r0, "feature_layer"), "fc6");
  fail_unless_equals_int (json_object_get_int_member (r0, "n_features"), n);
  fail_unless_equals_int (
      json_array_get_length (json_object_get_array_member (r0, "features")),
      n);
  g_free (json);

  /* a scale to half size moves the box with the picture */
  gst_video_info_set_format (&in_info, GST_VIDEO_FORMAT_RGB, FRAME_W, FRAME_H);
  gst_video_info_set_format (
      &out_info, GST_VIDEO_FORMAT_RGB, FRAME_W / 2, FRAME_H / 2);
  scaled = gst_buffer_new ();
  fail_unless (meta->meta.info->transform_func (scaled, (GstMeta *) meta, out,
      gst_video_meta_transform_scale_get_quark (), &trans));
  smeta = gst_buffer_get_vgg_meta (scaled);
  fail_unless (smeta && gst_vgg_meta_get_n_regions (smeta) == 1);
  fail_unless (gst_vgg_meta_get_region (smeta, 0, NULL, NULL, &x, &y, &w, &hh));
  fail_unless (x == 5 && y == 10 && w == 32 && hh == 24, "%u,%u %ux%u", x, y,
      w, hh);
  gst_buffer_unref (scaled);
  g_object_unref (parser);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
  g_free (props);
}

GST_END_TEST;

/* A real pipeline whose boxes come from a pad probe in the conventions
 * of onnxobjectdetector and DL Streamer, changing from frame to frame:
 * every frame reaches the sink once, in order, with the regions
 * object-class picks. */
static GstPadProbeReturn
add_boxes_probe (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  GstBuffer *buf = gst_buffer_make_writable (GST_PAD_PROBE_INFO_BUFFER (info));
  guint64 n = GST_BUFFER_OFFSET (buf);
  GstVideoRegionOfInterestMeta *roi;

  /* frame n: n % 4 dogs (onnxobjectdetector) and one person (DL
   * Streamer) */
  for (guint i = 0; i < n % 4; i++) {
    roi = add_roi (buf, "onnx-object_detector", i, i * 40, 0, 40, 40);
    gst_video_region_of_interest_meta_add_param (roi,
        gst_structure_new ("extra-data", "label", G_TYPE_STRING, "dog",
            "score", G_TYPE_FLOAT, 0.5f, NULL));
  }
  roi = add_roi (buf, "person", 10, 100, 100, 50, 90);
  gst_video_region_of_interest_meta_add_param (roi,
      gst_structure_new ("detection", "confidence", G_TYPE_DOUBLE, 0.8,
          "label_id", G_TYPE_INT, 1, "label", G_TYPE_STRING, "person", NULL));
  GST_PAD_PROBE_INFO_DATA (info) = buf;
  return GST_PAD_PROBE_OK;
}

static void
collect_frame (GstElement *sink, GstBuffer *buf, GstPad *pad, gpointer data)
{
  GArray *seen = data;
  GstVggMeta *meta = gst_buffer_get_vgg_meta (buf);
  gint v[2] = { (gint) GST_BUFFER_OFFSET (buf),
    meta ? (gint) gst_vgg_meta_get_n_regions (meta) : -1 };

  g_array_append_vals (seen, v, 2);
}

GST_START_TEST (test_pipeline_with_probe_boxes)
{
  gchar *desc = g_strdup_printf (
      "videotestsrc num-buffers=24 pattern=ball ! "
      "video/x-raw,format=I420,width=%d,height=%d,framerate=30/1 ! "
      "identity name=tag ! vgginfer model=%s inference-region=roi-list "
      "object-class=dog batch-size=3 ! "
      "fakesink name=sink signal-handoffs=true sync=false",
      FRAME_W, FRAME_H, spot_model);
  GstElement *p = gst_parse_launch (desc, NULL);
  GstElement *tag = gst_bin_get_by_name (GST_BIN (p), "tag");
  GstElement *sink = gst_bin_get_by_name (GST_BIN (p), "sink");
  GstPad *src = gst_element_get_static_pad (tag, "src");
  GArray *seen = g_array_new (FALSE, FALSE, sizeof (gint));
  GstMessage *msg;

  fail_unless (p != NULL);
  gst_pad_add_probe (src, GST_PAD_PROBE_TYPE_BUFFER, add_boxes_probe, NULL,
      NULL);
  g_signal_connect (sink, "handoff", G_CALLBACK (collect_frame), seen);
  fail_unless (
      gst_element_set_state (p, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE);
  msg = gst_bus_timed_pop_filtered (GST_ELEMENT_BUS (p), 60 * GST_SECOND,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  fail_unless (msg && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS);
  gst_message_unref (msg);
  gst_element_set_state (p, GST_STATE_NULL);
  fail_unless_equals_int (seen->len, 2 * 24);
  for (guint f = 0; f < 24; f++) {
    fail_unless_equals_int (g_array_index (seen, gint, 2 * f), f);
    fail_unless (g_array_index (seen, gint, 2 * f + 1) == (gint) (f % 4),
        "frame %u: %d regions, expected %u", f,
        g_array_index (seen, gint, 2 * f + 1), f % 4);
  }
  g_array_free (seen, TRUE);
  gst_object_unref (src);
  gst_object_unref (tag);
  gst_object_unref (sink);
  gst_object_unref (p);
  g_free (desc);
}

GST_END_TEST;

/* A batch group's worker runs the regions as an own context does: the
 * same results, the frames in order. */
GST_START_TEST (test_batch_group_runs_regions)
{
  static const gint spots[] = { 20, 20, 300, 220 };
  const gchar *zones = "0,0,0.5,0.5;0.5,0.5,0.5,0.5;0,0,1,1";
  gfloat scores[2][6][2];
  gint ids[2][6][2];

  for (guint grouped = 0; grouped < 2; grouped++) {
    gchar *props = g_strdup_printf ("model=%s batch-size=2 top-k=3 "
                                    "resize=stretch regions=%s%s",
        rand_model, zones, grouped ? " batch-group=regions-test" : "");
    GstHarness *h = new_harness (props, FRAME_W, FRAME_H);

    for (guint f = 0; f < 2; f++) {
      GstBuffer *out =
          infer (h, make_frame (FRAME_W, FRAME_H, spots + 2 * f, 1, 10 + f));
      GstVggMeta *meta = gst_buffer_get_vgg_meta (out);

      fail_unless (meta && gst_vgg_meta_get_n_regions (meta) == 3);
      for (guint r = 0; r < 3; r++)
        for (guint k = 0; k < 2; k++)
          fail_unless (gst_vgg_meta_get_region_result (meta, r, k,
              &ids[grouped][3 * f + r][k], &scores[grouped][3 * f + r][k],
              NULL));
      gst_buffer_unref (out);
    }
    gst_harness_teardown (h);
    g_free (props);
  }
  for (guint i = 0; i < 6; i++)
    for (guint k = 0; k < 2; k++)
      fail_unless (ids[0][i][k] == ids[1][i][k]
              && fabsf (scores[0][i][k] - scores[1][i][k]) <= 1e-6f,
          "region %u entry %u: own context %d %.9g, batch group %d %.9g", i,
          k, ids[0][i][k], scores[0][i][k], ids[1][i][k], scores[1][i][k]);
}

GST_END_TEST;

/* The region properties: defaults, ranges, round trips. */
GST_START_TEST (test_region_properties)
{
  GstElement *e = gst_element_factory_make ("vgginfer", NULL);
  gchar *classes = NULL, *regions = NULL;
  guint min_size, max_rois;
  gdouble padding;
  gint region;

  g_object_get (e, "object-class", &classes, "regions", &regions,
      "min-roi-size", &min_size, "max-rois", &max_rois, "roi-padding",
      &padding, "inference-region", &region, NULL);
  fail_unless (classes == NULL && regions == NULL);
  fail_unless (min_size == 0 && max_rois == 0 && padding == 0.0 && region == 0);
  gst_util_set_object_arg (G_OBJECT (e), "inference-region", "roi-list");
  g_object_set (e, "object-class", " face ,, car ", "roi-padding", 12.5,
      "max-rois", 3, NULL);
  g_object_get (e, "object-class", &classes, "roi-padding", &padding,
      "max-rois", &max_rois, "inference-region", &region, NULL);
  fail_unless_equals_string (classes, "face,car");
  fail_unless (padding == 12.5 && max_rois == 3 && region == 1);
  g_free (classes);
  ASSERT_WARNING (g_object_set (e, "roi-padding", 101.0, NULL));
  gst_object_unref (e);
}

GST_END_TEST;

static Suite *
regions_suite (void)
{
  Suite *s = suite_create ("regions");
  TCase *tc = tcase_create ("general");

  write_models ();
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_each_box_gets_its_class);
  tcase_add_test (tc, test_region_equals_its_crop_alone);
  tcase_add_test (tc, test_zones_over_frames_equal_crops_alone);
  tcase_add_test (tc, test_thin_zones_over_frames_equal_new_element);
  tcase_add_test (tc, test_object_class_reads_every_convention);
  tcase_add_test (tc, test_clip_empty_tiny_and_too_many);
  tcase_add_test (tc, test_hundreds_of_boxes);
  tcase_add_test (tc, test_batches_across_frames_keep_order);
  tcase_add_test (tc, test_full_queue_of_few_regions_runs);
  tcase_add_test (tc, test_zones);
  tcase_add_test (tc, test_region_json_and_scale);
  tcase_add_test (tc, test_pipeline_with_probe_boxes);
  tcase_add_test (tc, test_batch_group_runs_regions);
  tcase_add_test (tc, test_region_properties);
  return s;
}

GST_CHECK_MAIN (regions);

/* Element tests of vggoverlay: GstHarness with a GstVggMeta attached
 * through the meta API, and a real vgginfer upstream.
 *
 * The box is never hard-coded: the element reports it as the rectangle
 * of the GstVideoOverlayComposition it attaches when downstream takes
 * one, and the blended frames are checked against that rectangle byte by
 * byte.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/video/video.h>
#include <stdlib.h>
#include <string.h>

#include "gstvggmeta.h"
#include "vgg-test-models.h"

static gchar *model_dir;
static gchar *spot_model;

static const GstVideoFormat all_formats[] = { GST_VIDEO_FORMAT_RGB,
  GST_VIDEO_FORMAT_BGR, GST_VIDEO_FORMAT_RGBx, GST_VIDEO_FORMAT_BGRx,
  GST_VIDEO_FORMAT_xRGB, GST_VIDEO_FORMAT_xBGR, GST_VIDEO_FORMAT_RGBA,
  GST_VIDEO_FORMAT_BGRA, GST_VIDEO_FORMAT_ARGB, GST_VIDEO_FORMAT_ABGR,
  GST_VIDEO_FORMAT_I420, GST_VIDEO_FORMAT_YV12, GST_VIDEO_FORMAT_NV12,
  GST_VIDEO_FORMAT_NV21, GST_VIDEO_FORMAT_YUY2, GST_VIDEO_FORMAT_UYVY,
  GST_VIDEO_FORMAT_GRAY8 };

typedef struct
{
  gint x, y, w, h;
} Box;

/* --- pictures and metas --- */

/* Seeded RGB noise in [40, 200], converted to `format`: no value is at an
 * extreme that the box's colours could leave unchanged. */
static GstBuffer *
make_noise (GstVideoFormat format, gint w, gint h, guint32 seed)
{
  GstVideoInfo rgb_info, info;
  GstVideoFrame in, out;
  GstBuffer *rgb, *buf;
  GstVideoConverter *conv;
  GRand *rand = g_rand_new_with_seed (seed);

  gst_video_info_set_format (&rgb_info, GST_VIDEO_FORMAT_RGB, w, h);
  rgb = gst_buffer_new_allocate (NULL, rgb_info.size, NULL);
  /* row padding gets a value of its own */
  gst_buffer_memset (rgb, 0, 0xa5, rgb_info.size);
  fail_unless (gst_video_frame_map (&in, &rgb_info, rgb, GST_MAP_WRITE));
  for (gint y = 0; y < h; y++) {
    guint8 *row = (guint8 *) GST_VIDEO_FRAME_PLANE_DATA (&in, 0)
        + y * GST_VIDEO_FRAME_PLANE_STRIDE (&in, 0);
    for (gint x = 0; x < 3 * w; x++)
      row[x] = g_rand_int_range (rand, 40, 201);
  }
  gst_video_frame_unmap (&in);
  g_rand_free (rand);
  if (format == GST_VIDEO_FORMAT_RGB)
    return rgb;

  gst_video_info_set_format (&info, format, w, h);
  buf = gst_buffer_new_allocate (NULL, info.size, NULL);
  /* so do padding bytes ("x" of RGBx, row ends) */
  gst_buffer_memset (buf, 0, 0x5a, info.size);
  conv = gst_video_converter_new (&rgb_info, &info, NULL);
  fail_unless (conv != NULL);
  fail_unless (gst_video_frame_map (&in, &rgb_info, rgb, GST_MAP_READ));
  fail_unless (gst_video_frame_map (&out, &info, buf, GST_MAP_WRITE));
  gst_video_converter_frame (conv, &in, &out);
  gst_video_frame_unmap (&out);
  gst_video_frame_unmap (&in);
  gst_video_converter_free (conv);
  gst_buffer_unref (rgb);
  return buf;
}

typedef struct
{
  gint class_id;
  gfloat score;
  const gchar *label;
} Entry;

/* Four classes, the third without a label ("class 12"). */
static const Entry cats[] = { { 281, 0.612f, "tabby, tabby cat" },
  { 282, 0.231f, "tiger cat" }, { 12, 0.097f, NULL },
  { 287, 0.013f, "lynx, catamount" } };

static void
add_results (GstBuffer *buf, const Entry *e, guint n)
{
  GstVggClassification r[8];
  GstVggMeta *meta = gst_buffer_add_vgg_meta (buf);

  fail_unless (n <= G_N_ELEMENTS (r));
  for (guint i = 0; i < n; i++) {
    r[i].class_id = e[i].class_id;
    r[i].score = e[i].score;
    r[i].label = e[i].label ? g_quark_from_string (e[i].label) : 0;
  }
  gst_vgg_meta_set_model_name (meta, "test");
  gst_vgg_meta_set_results (meta, r, n);
}

static gchar *
caps_string (GstVideoFormat format, gint w, gint h, gboolean composition)
{
  return g_strdup_printf ("video/x-raw%s,format=%s,width=%d,height=%d,"
                          "framerate=30/1",
      composition ? "(meta:GstVideoOverlayComposition)" : "",
      gst_video_format_to_string (format), w, h);
}

/* A harness around a vggoverlay with props ("name=value ...", '_' for a
 * space inside a value), whose
 * downstream takes overlay compositions (caps feature and ALLOCATION
 * meta) when `composition`, and only plain video otherwise. */
static GstHarness *
new_harness (const gchar *props, GstVideoFormat format, gint w, gint h,
    gboolean composition)
{
  GstElement *e = gst_element_factory_make ("vggoverlay", NULL);
  gchar **kv = g_strsplit (props ? props : "", " ", -1);
  gchar *sink_caps = caps_string (format, w, h, composition);
  gchar *src_caps = caps_string (format, w, h, FALSE);
  GstHarness *h_;

  fail_unless (e != NULL);
  for (gint i = 0; kv[i]; i++) {
    gchar **pair = g_strsplit (kv[i], "=", 2);
    if (pair[0] && pair[1])
      gst_util_set_object_arg (
          G_OBJECT (e), pair[0], g_strdelimit (pair[1], "_", ' '));
    g_strfreev (pair);
  }
  g_strfreev (kv);
  h_ = gst_harness_new_with_element (e, "sink", "src");
  gst_object_unref (e);
  gst_harness_set_sink_caps_str (h_, sink_caps);
  if (composition)
    gst_harness_add_propose_allocation_meta (
        h_, GST_VIDEO_OVERLAY_COMPOSITION_META_API_TYPE, NULL);
  gst_harness_set_src_caps_str (h_, src_caps);
  g_free (sink_caps);
  g_free (src_caps);
  return h_;
}

static gboolean
buffers_equal (GstBuffer *a, GstBuffer *b)
{
  GstMapInfo ma, mb;
  gboolean eq;

  fail_unless (gst_buffer_map (a, &ma, GST_MAP_READ));
  fail_unless (gst_buffer_map (b, &mb, GST_MAP_READ));
  eq = ma.size == mb.size && memcmp (ma.data, mb.data, ma.size) == 0;
  gst_buffer_unmap (b, &mb);
  gst_buffer_unmap (a, &ma);
  return eq;
}

static gboolean
src_caps_have_composition (GstHarness *h_)
{
  GstCaps *caps = gst_pad_get_current_caps (h_->element->srcpads->data);
  gboolean has;

  fail_unless (caps != NULL);
  has = gst_caps_features_contains (gst_caps_get_features (caps, 0),
      GST_CAPS_FEATURE_META_GST_VIDEO_OVERLAY_COMPOSITION);
  gst_caps_unref (caps);
  return has;
}

/* Pushes `in` (its copy) through a harness whose downstream takes
 * compositions and returns the box the element reports: the one
 * rectangle of the composition meta.  Checks on the way that the pixels
 * are untouched and that the output caps carry the feature. */
static Box
reported_box (
    const gchar *props, GstVideoFormat format, gint w, gint h, GstBuffer *in)
{
  GstHarness *h_ = new_harness (props, format, w, h, TRUE);
  GstBuffer *out;
  GstVideoOverlayCompositionMeta *cmeta;
  GstVideoOverlayRectangle *rect;
  Box b;
  guint rw, rh;
  const gchar *fmt = gst_video_format_to_string (format);

  fail_unless_equals_int (
      gst_harness_push (h_, gst_buffer_copy (in)), GST_FLOW_OK);
  out = gst_harness_pull (h_);
  fail_unless (src_caps_have_composition (h_),
      "%s %dx%d (%s): output caps lack the composition feature", fmt, w, h,
      props);
  fail_unless (buffers_equal (in, out),
      "%s %dx%d (%s): pixels changed although downstream draws the "
      "composition",
      fmt, w, h, props);
  cmeta = gst_buffer_get_video_overlay_composition_meta (out);
  fail_unless (
      cmeta != NULL, "%s %dx%d (%s): no composition meta", fmt, w, h, props);
  fail_unless_equals_int (
      gst_video_overlay_composition_n_rectangles (cmeta->overlay), 1);
  rect = gst_video_overlay_composition_get_rectangle (cmeta->overlay, 0);
  fail_unless (gst_video_overlay_rectangle_get_render_rectangle (
      rect, &b.x, &b.y, (guint *) &b.w, (guint *) &b.h));
  /* drawn at the frame's own scale */
  {
    GstBuffer *px = gst_video_overlay_rectangle_get_pixels_unscaled_argb (
        rect, GST_VIDEO_OVERLAY_FORMAT_FLAG_NONE);
    GstVideoMeta *vm = gst_buffer_get_video_meta (px);
    fail_unless (vm != NULL);
    rw = vm->width;
    rh = vm->height;
  }
  fail_unless_equals_int (rw, b.w);
  fail_unless_equals_int (rh, b.h);
  fail_unless (b.x >= 0 && b.y >= 0 && b.w > 0 && b.h > 0 && b.x + b.w <= w
          && b.y + b.h <= h,
      "%s %dx%d (%s): box %d,%d %dx%d outside the frame", fmt, w, h, props, b.x,
      b.y, b.w, b.h);
  gst_buffer_unref (out);
  gst_harness_teardown (h_);
  return b;
}

/* --- comparing frames against a box --- */

typedef struct
{
  guint64 outside_changed;  /* bytes outside the box that differ */
  guint64 straddling;       /* byte groups partly inside the box */
  guint64 inside_groups;    /* plane-0 pixel groups inside the box */
  guint64 inside_changed;   /* ... of which some byte differs */
  gboolean edge_changed[4]; /* a plane-0 change on the box's top, bottom,
                               left, right edge */
} Diff;

/* Compares `in` and `out` plane by plane.  A byte of a plane stands for a
 * group of gx x gy pixels: 1x1 for RGB and GRAY8, 2x1 for the YUY2 and
 * UYVY macro-pixels, 2x2 for the chroma of I420, YV12, NV12 and NV21
 * (the largest subsampling among the plane's components, with the pixel
 * stride of that component as the group's bytes). */
static Diff
diff_frames (const GstVideoInfo *info, GstBuffer *in, GstBuffer *out, Box b)
{
  const GstVideoFormatInfo *fi = info->finfo;
  GstVideoFrame fin, fout;
  Diff d = { 0 };

  fail_unless (
      gst_video_frame_map (&fin, (GstVideoInfo *) info, in, GST_MAP_READ));
  fail_unless (
      gst_video_frame_map (&fout, (GstVideoInfo *) info, out, GST_MAP_READ));
  for (guint p = 0; p < GST_VIDEO_INFO_N_PLANES (info); p++) {
    gint cmax = -1, gx, gy, group_bytes, groups, rows;

    for (guint c = 0; c < GST_VIDEO_INFO_N_COMPONENTS (info); c++) {
      if (GST_VIDEO_FORMAT_INFO_PLANE (fi, c) != p)
        continue;
      if (cmax < 0
          || GST_VIDEO_FORMAT_INFO_W_SUB (fi, c)
              > GST_VIDEO_FORMAT_INFO_W_SUB (fi, cmax)
          || GST_VIDEO_FORMAT_INFO_H_SUB (fi, c)
              > GST_VIDEO_FORMAT_INFO_H_SUB (fi, cmax))
        cmax = c;
    }
    fail_unless (cmax >= 0);
    gx = 1 << GST_VIDEO_FORMAT_INFO_W_SUB (fi, cmax);
    gy = 1 << GST_VIDEO_FORMAT_INFO_H_SUB (fi, cmax);
    group_bytes = GST_VIDEO_FORMAT_INFO_PSTRIDE (fi, cmax);
    groups = GST_VIDEO_FRAME_COMP_WIDTH (&fin, cmax);
    rows = GST_VIDEO_FRAME_COMP_HEIGHT (&fin, cmax);
    for (gint r = 0; r < rows; r++) {
      const guint8 *a = (const guint8 *) GST_VIDEO_FRAME_PLANE_DATA (&fin, p)
          + r * GST_VIDEO_FRAME_PLANE_STRIDE (&fin, p);
      const guint8 *o = (const guint8 *) GST_VIDEO_FRAME_PLANE_DATA (&fout, p)
          + r * GST_VIDEO_FRAME_PLANE_STRIDE (&fout, p);
      gint y0 = r * gy, y1 = MIN (y0 + gy, info->height);

      for (gint g = 0; g < groups; g++) {
        gint x0 = g * gx, x1 = MIN (x0 + gx, info->width);
        gboolean any_in =
            x1 > b.x && x0 < b.x + b.w && y1 > b.y && y0 < b.y + b.h;
        gboolean all_in =
            x0 >= b.x && x1 <= b.x + b.w && y0 >= b.y && y1 <= b.y + b.h;
        gboolean changed =
            memcmp (a + g * group_bytes, o + g * group_bytes, group_bytes) != 0;

        if (any_in && !all_in) {
          d.straddling++;
        } else if (!any_in) {
          for (gint k = 0; k < group_bytes; k++)
            d.outside_changed +=
                a[g * group_bytes + k] != o[g * group_bytes + k];
        } else if (p == 0) {
          d.inside_groups++;
          d.inside_changed += changed;
          if (changed) {
            d.edge_changed[0] |= y0 == b.y;
            d.edge_changed[1] |= y1 == b.y + b.h;
            d.edge_changed[2] |= x0 == b.x;
            d.edge_changed[3] |= x1 == b.x + b.w;
          }
        }
      }
    }
  }
  gst_video_frame_unmap (&fout);
  gst_video_frame_unmap (&fin);
  return d;
}

/* The blended frame of `in` differs from it exactly in `b`: no byte
 * outside changed, at least 90 % of the pixels inside changed (text
 * antialiasing may land on the original value here and there), changes
 * on all four edges of the box. */
static void
check_blended (const gchar *props, GstVideoFormat format, gint w, gint h,
    GstBuffer *in, Box b)
{
  GstHarness *h_ = new_harness (props, format, w, h, FALSE);
  GstVideoInfo info;
  GstBuffer *out;
  Diff d;
  const gchar *fmt = gst_video_format_to_string (format);

  gst_video_info_set_format (&info, format, w, h);
  fail_unless_equals_int (
      gst_harness_push (h_, gst_buffer_copy (in)), GST_FLOW_OK);
  out = gst_harness_pull (h_);
  fail_if (src_caps_have_composition (h_));
  fail_unless (gst_buffer_get_video_overlay_composition_meta (out) == NULL);
  d = diff_frames (&info, in, out, b);
  fail_unless (d.straddling == 0,
      "%s %dx%d (%s): box %d,%d %dx%d splits %" G_GUINT64_FORMAT
      " chroma groups",
      fmt, w, h, props, b.x, b.y, b.w, b.h, d.straddling);
  fail_unless (d.outside_changed == 0,
      "%s %dx%d (%s): %" G_GUINT64_FORMAT " bytes changed outside the box "
      "%d,%d %dx%d",
      fmt, w, h, props, d.outside_changed, b.x, b.y, b.w, b.h);
  fail_unless (d.inside_changed * 10 >= d.inside_groups * 9,
      "%s %dx%d (%s): only %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
      " pixels changed in the box %d,%d %dx%d",
      fmt, w, h, props, d.inside_changed, d.inside_groups, b.x, b.y, b.w, b.h);
  fail_unless (d.edge_changed[0] && d.edge_changed[1] && d.edge_changed[2]
          && d.edge_changed[3],
      "%s %dx%d (%s): changes do not reach every edge of the box %d,%d %dx%d "
      "(top %d bottom %d left %d right %d)",
      fmt, w, h, props, b.x, b.y, b.w, b.h, d.edge_changed[0],
      d.edge_changed[1], d.edge_changed[2], d.edge_changed[3]);
  gst_buffer_unref (out);
  gst_harness_teardown (h_);
}

/* --- regions --- */

/* One region of a test meta; class_id < 0: no results (outline only). */
typedef struct
{
  guint x, y, w, h;
  gint class_id;
  gfloat score;
  const gchar *label;
} RegionSpec;

static void
add_regions (GstBuffer *buf, const RegionSpec *r, guint n)
{
  GstVggMeta *meta = gst_buffer_get_vgg_meta (buf);

  if (meta == NULL)
    meta = gst_buffer_add_vgg_meta (buf);
  for (guint i = 0; i < n; i++) {
    guint idx = gst_vgg_meta_add_region (
        meta, i, "face", r[i].x, r[i].y, r[i].w, r[i].h);

    if (r[i].class_id >= 0) {
      GstVggClassification c = { r[i].class_id, r[i].score,
        r[i].label ? g_quark_from_string (r[i].label) : 0 };
      gst_vgg_meta_set_region_results (meta, idx, &c, 1);
    }
  }
}

/* --- tests --- */

GST_START_TEST (test_blend_changes_only_the_box_in_every_format)
{
  static const gint sizes[][2] = { { 321, 243 }, { 640, 360 } };

  for (guint s = 0; s < G_N_ELEMENTS (sizes); s++) {
    for (guint f = 0; f < G_N_ELEMENTS (all_formats); f++) {
      gint w = sizes[s][0], h = sizes[s][1];
      GstBuffer *in = make_noise (all_formats[f], w, h, 17 + f);
      Box b;

      add_results (in, cats, G_N_ELEMENTS (cats));
      b = reported_box ("top-k=4", all_formats[f], w, h, in);
      check_blended ("top-k=4", all_formats[f], w, h, in, b);
      gst_buffer_unref (in);
    }
  }
}

GST_END_TEST;

GST_START_TEST (test_composition_meta_when_downstream_supports_it)
{
  /* reported_box() checks the caps feature, the untouched pixels and the
   * single rectangle; here in every format, and the rectangle is the same
   * whatever the format */
  Box first = { 0 };

  for (guint f = 0; f < G_N_ELEMENTS (all_formats); f++) {
    GstBuffer *in = make_noise (all_formats[f], 255, 199, 5);
    Box b;

    add_results (in, cats, 2);
    b = reported_box (NULL, all_formats[f], 255, 199, in);
    if (f == 0)
      first = b;
    fail_unless (memcmp (&b, &first, sizeof (Box)) == 0,
        "%s: box %d,%d %dx%d, RGB's is %d,%d %dx%d",
        gst_video_format_to_string (all_formats[f]), b.x, b.y, b.w, b.h,
        first.x, first.y, first.w, first.h);
    gst_buffer_unref (in);
  }
}

GST_END_TEST;

GST_START_TEST (test_upstream_composition_is_kept)
{
  GstHarness *h_ = new_harness (NULL, GST_VIDEO_FORMAT_BGRA, 160, 120, TRUE);
  GstBuffer *in = make_noise (GST_VIDEO_FORMAT_BGRA, 160, 120, 3), *out;
  GstBuffer *px = gst_buffer_new_allocate (NULL, 8 * 8 * 4, NULL);
  GstVideoOverlayRectangle *theirs;
  GstVideoOverlayComposition *comp;
  GstVideoOverlayCompositionMeta *cmeta;

  gst_buffer_memset (px, 0, 0xff, 8 * 8 * 4);
  gst_buffer_add_video_meta (px, GST_VIDEO_FRAME_FLAG_NONE,
      GST_VIDEO_OVERLAY_COMPOSITION_FORMAT_RGB, 8, 8);
  theirs = gst_video_overlay_rectangle_new_raw (
      px, 100, 100, 8, 8, GST_VIDEO_OVERLAY_FORMAT_FLAG_NONE);
  comp = gst_video_overlay_composition_new (theirs);
  gst_buffer_add_video_overlay_composition_meta (in, comp);
  add_results (in, cats, 3);
  fail_unless_equals_int (gst_harness_push (h_, in), GST_FLOW_OK);
  out = gst_harness_pull (h_);
  cmeta = gst_buffer_get_video_overlay_composition_meta (out);
  fail_unless (cmeta != NULL);
  fail_unless_equals_int (
      gst_video_overlay_composition_n_rectangles (cmeta->overlay), 2);
  /* theirs first, where it was (the composition is copied, so compare the
   * placement), then ours */
  {
    gint x, y;
    guint w, h;
    fail_unless (gst_video_overlay_rectangle_get_render_rectangle (
        gst_video_overlay_composition_get_rectangle (cmeta->overlay, 0), &x, &y,
        &w, &h));
    fail_unless (x == 100 && y == 100 && w == 8 && h == 8,
        "first rectangle %d,%d %ux%u", x, y, w, h);
    fail_unless (gst_video_overlay_rectangle_get_render_rectangle (
        gst_video_overlay_composition_get_rectangle (cmeta->overlay, 1), &x, &y,
        &w, &h));
    fail_unless (x != 100 || y != 100, "ours is theirs");
  }
  /* one composition meta only */
  {
    gpointer state = NULL;
    GstMeta *m;
    gint n = 0;
    while ((m = gst_buffer_iterate_meta_filtered (
                out, &state, GST_VIDEO_OVERLAY_COMPOSITION_META_API_TYPE)))
      n++;
    fail_unless_equals_int (n, 1);
  }
  gst_buffer_unref (out);
  gst_video_overlay_composition_unref (comp);
  gst_video_overlay_rectangle_unref (theirs);
  gst_buffer_unref (px);
  gst_harness_teardown (h_);
}

GST_END_TEST;

GST_START_TEST (test_frames_without_results_pass_untouched)
{
  for (gint attach = 0; attach < 2; attach++) {
    for (guint f = 0; f < G_N_ELEMENTS (all_formats); f++) {
      GstVideoFormat format = all_formats[f];
      GstHarness *h_ = new_harness (NULL, format, 97, 61, attach);
      GstBuffer *plain = make_noise (format, 97, 61, 40 + f);
      GstBuffer *features = make_noise (format, 97, 61, 80 + f);
      GstBuffer *ref_plain = gst_buffer_copy (plain);
      GstBuffer *ref_features = gst_buffer_copy (features);
      static const gfloat vec[5] = { 0.5f, -1.0f, 2.0f, 0.0f, 3.5f };
      GstBuffer *out;

      gst_vgg_meta_set_features (
          gst_buffer_add_vgg_meta (features), "fc7", vec, 5);
      fail_unless_equals_int (gst_harness_push (h_, plain), GST_FLOW_OK);
      fail_unless_equals_int (gst_harness_push (h_, features), GST_FLOW_OK);

      out = gst_harness_pull (h_);
      /* the very buffer, not a copy */
      fail_unless (out == plain, "%s attach=%d: the buffer was replaced",
          gst_video_format_to_string (format), attach);
      fail_unless (buffers_equal (out, ref_plain));
      fail_unless (gst_buffer_get_video_overlay_composition_meta (out) == NULL);
      gst_buffer_unref (out);

      out = gst_harness_pull (h_);
      fail_unless (out == features);
      fail_unless (buffers_equal (out, ref_features),
          "%s attach=%d: a features-only meta changed the frame",
          gst_video_format_to_string (format), attach);
      fail_unless (gst_buffer_get_video_overlay_composition_meta (out) == NULL);
      fail_unless (gst_buffer_get_vgg_meta (out) != NULL);
      gst_buffer_unref (out);

      gst_buffer_unref (ref_plain);
      gst_buffer_unref (ref_features);
      gst_harness_teardown (h_);
    }
  }
}

GST_END_TEST;

GST_START_TEST (test_position_moves_the_box)
{
  static const gchar *positions[4] = { "position=top-left",
    "position=top-right", "position=bottom-left", "position=bottom-right" };
  static const GstVideoFormat formats[] = { GST_VIDEO_FORMAT_RGBx,
    GST_VIDEO_FORMAT_I420, GST_VIDEO_FORMAT_YUY2 };
  const gint w = 403, h = 301;
  Box b[4];

  for (guint f = 0; f < G_N_ELEMENTS (formats); f++) {
    GstBuffer *in = make_noise (formats[f], w, h, 7);

    add_results (in, cats, 3);
    for (gint p = 0; p < 4; p++) {
      b[p] = reported_box (positions[p], formats[f], w, h, in);
      check_blended (positions[p], formats[f], w, h, in, b[p]);
    }
    gst_buffer_unref (in);

    /* same box, moved; the same margin from the corner's two edges (one
     * more pixel where an odd frame side meets the even alignment) */
    for (gint p = 1; p < 4; p++) {
      fail_unless_equals_int (b[p].w, b[0].w);
      fail_unless_equals_int (b[p].h, b[0].h);
    }
    /* one margin (1/50 of the shorter side) from both edges */
    fail_unless (b[0].x == b[0].y && b[0].x > 0 && b[0].x < h / 20,
        "top-left box at %d,%d", b[0].x, b[0].y);
    fail_unless (b[3].x > b[0].x && b[3].y > b[0].y);
    fail_unless_equals_int (b[1].y, b[0].y);
    fail_unless_equals_int (b[2].x, b[0].x);
    fail_unless_equals_int (b[3].x, b[1].x);
    fail_unless_equals_int (b[3].y, b[2].y);
    for (gint p = 1; p < 4; p += 2) {
      gint right = w - (b[p].x + b[p].w);
      fail_unless (right >= b[0].x && right <= b[0].x + 1,
          "%s: right margin %d, left margin %d", positions[p], right, b[0].x);
    }
    for (gint p = 2; p < 4; p++) {
      gint bottom = h - (b[p].y + b[p].h);
      fail_unless (bottom >= b[0].y && bottom <= b[0].y + 1,
          "%s: bottom margin %d, top margin %d", positions[p], bottom, b[0].y);
    }
  }
}

GST_END_TEST;

GST_START_TEST (test_properties_size_the_box)
{
  const gint w = 640, h = 480;
  GstBuffer *in = make_noise (GST_VIDEO_FORMAT_RGBA, w, h, 9);
  Box k1, k3, k4, k10, nobars, noscores, big;

  add_results (in, cats, 4);
  k1 = reported_box ("top-k=1", GST_VIDEO_FORMAT_RGBA, w, h, in);
  k3 = reported_box ("top-k=3", GST_VIDEO_FORMAT_RGBA, w, h, in);
  k4 = reported_box ("top-k=4", GST_VIDEO_FORMAT_RGBA, w, h, in);
  k10 = reported_box ("top-k=10", GST_VIDEO_FORMAT_RGBA, w, h, in);
  nobars =
      reported_box ("top-k=4 show-bars=false", GST_VIDEO_FORMAT_RGBA, w, h, in);
  noscores = reported_box (
      "top-k=4 show-scores=false", GST_VIDEO_FORMAT_RGBA, w, h, in);
  big = reported_box (
      "top-k=4 font-desc=Sans_24", GST_VIDEO_FORMAT_RGBA, w, h, in);

  /* rows are evenly spaced: 1, 3, 4 rows give heights on one line */
  fail_unless (
      k1.h < k3.h && k3.h < k4.h, "heights %d %d %d", k1.h, k3.h, k4.h);
  fail_unless (abs ((k4.h - k3.h) - (k3.h - k1.h) / 2) <= 2,
      "row pitch %d vs %d", k4.h - k3.h, (k3.h - k1.h) / 2);
  /* top-k larger than the meta draws what the meta holds */
  fail_unless (memcmp (&k10, &k4, sizeof (Box)) == 0);
  fail_unless (nobars.w < k4.w && nobars.h == k4.h, "no bars: %dx%d vs %dx%d",
      nobars.w, nobars.h, k4.w, k4.h);
  fail_unless (noscores.w < k4.w && noscores.h == k4.h,
      "no scores: %dx%d vs %dx%d", noscores.w, noscores.h, k4.w, k4.h);
  /* twice the font: about twice the box */
  fail_unless (big.w > k4.w * 3 / 2 && big.h > k4.h * 3 / 2,
      "Sans 24: %dx%d, Sans 12: %dx%d", big.w, big.h, k4.w, k4.h);
  gst_buffer_unref (in);
}

GST_END_TEST;

/* The pixels of a box blended on RGB: the background fills it exactly
 * where nothing is drawn (its corners), and the text/bar colour appears. */
GST_START_TEST (test_colors_are_drawn)
{
  const gint w = 300, h = 200;
  const gchar *props = "color=0xff00ff00 background-color=0xff0000ff";
  GstBuffer *in = make_noise (GST_VIDEO_FORMAT_RGB, w, h, 11), *out;
  GstHarness *h_;
  GstVideoFrame frame;
  GstVideoInfo info;
  Box b;
  guint green = 0, inside = 0;

  add_results (in, cats, 2);
  b = reported_box (props, GST_VIDEO_FORMAT_RGB, w, h, in);
  h_ = new_harness (props, GST_VIDEO_FORMAT_RGB, w, h, FALSE);
  fail_unless_equals_int (
      gst_harness_push (h_, gst_buffer_copy (in)), GST_FLOW_OK);
  out = gst_harness_pull (h_);
  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_RGB, w, h);
  fail_unless (gst_video_frame_map (&frame, &info, out, GST_MAP_READ));
  for (gint y = b.y; y < b.y + b.h; y++) {
    const guint8 *row = (const guint8 *) GST_VIDEO_FRAME_PLANE_DATA (&frame, 0)
        + y * GST_VIDEO_FRAME_PLANE_STRIDE (&frame, 0);
    for (gint x = b.x; x < b.x + b.w; x++) {
      const guint8 *px = row + 3 * x;
      gboolean corner =
          (x == b.x || x == b.x + b.w - 1) && (y == b.y || y == b.y + b.h - 1);
      if (corner)
        fail_unless (px[0] == 0 && px[1] == 0 && px[2] == 255,
            "corner %d,%d is %d,%d,%d, not the opaque blue background", x, y,
            px[0], px[1], px[2]);
      green += px[0] == 0 && px[1] == 255 && px[2] == 0;
      /* opaque colours leave nothing of the noise: only blends of blue
       * and green */
      inside += px[0] == 0;
    }
  }
  gst_video_frame_unmap (&frame);
  fail_unless_equals_int (inside, b.w * b.h);
  /* two full-width bar parts at 61 % and 23 % alone are many pixels */
  fail_unless (green > 100, "only %u pure green pixels", green);
  gst_buffer_unref (out);
  gst_buffer_unref (in);
  gst_harness_teardown (h_);
}

GST_END_TEST;

static GstVideoOverlayComposition *
push_and_get_composition (GstHarness *h_, const Entry *e, guint n)
{
  GstBuffer *in = make_noise (GST_VIDEO_FORMAT_NV12, 200, 100, 1), *out;
  GstVideoOverlayComposition *comp;

  add_results (in, e, n);
  fail_unless_equals_int (gst_harness_push (h_, in), GST_FLOW_OK);
  out = gst_harness_pull (h_);
  comp = gst_video_overlay_composition_ref (
      gst_buffer_get_video_overlay_composition_meta (out)->overlay);
  gst_buffer_unref (out);
  return comp;
}

GST_START_TEST (test_rendering_is_cached_until_results_change)
{
  GstHarness *h_ = new_harness (NULL, GST_VIDEO_FORMAT_NV12, 200, 100, TRUE);
  Entry e[2] = { cats[0], cats[1] };
  GstVideoOverlayComposition *c[6];

  c[0] = push_and_get_composition (h_, e, 2);
  /* a change below the printed 0.1 % draws the same picture */
  e[0].score += 0.0002f;
  c[1] = push_and_get_composition (h_, e, 2);
  fail_unless (c[1] == c[0]);
  /* a visible score change draws a new one */
  e[0].score = 0.5f;
  c[2] = push_and_get_composition (h_, e, 2);
  fail_unless (c[2] != c[1]);
  /* so does a property change, once */
  g_object_set (h_->element, "color", 0xffff0000, NULL);
  c[3] = push_and_get_composition (h_, e, 2);
  c[4] = push_and_get_composition (h_, e, 2);
  fail_unless (c[3] != c[2]);
  fail_unless (c[4] == c[3]);
  /* and a different label */
  e[1].label = "egyptian cat";
  c[5] = push_and_get_composition (h_, e, 2);
  fail_unless (c[5] != c[4]);
  for (guint i = 0; i < G_N_ELEMENTS (c); i++)
    gst_video_overlay_composition_unref (c[i]);
  gst_harness_teardown (h_);
}

GST_END_TEST;

GST_START_TEST (test_caps_change_redraws_for_the_new_size)
{
  GstHarness *h_ = new_harness (
      "position=bottom-right", GST_VIDEO_FORMAT_I420, 320, 240, FALSE);
  GstBuffer *in, *out;
  GstVideoInfo info;
  Box b;
  Diff d;

  for (gint i = 0; i < 2; i++) {
    gint w = i ? 177 : 320, h = i ? 133 : 240;
    gchar *caps = caps_string (GST_VIDEO_FORMAT_I420, w, h, FALSE);

    if (i) {
      gst_harness_set_sink_caps_str (h_, caps);
      gst_harness_set_src_caps_str (h_, caps);
    }
    in = make_noise (GST_VIDEO_FORMAT_I420, w, h, 100 + i);
    add_results (in, cats, 3);
    b = reported_box ("position=bottom-right", GST_VIDEO_FORMAT_I420, w, h, in);
    fail_unless_equals_int (
        gst_harness_push (h_, gst_buffer_copy (in)), GST_FLOW_OK);
    out = gst_harness_pull (h_);
    gst_video_info_set_format (&info, GST_VIDEO_FORMAT_I420, w, h);
    d = diff_frames (&info, in, out, b);
    fail_unless (d.outside_changed == 0 && d.inside_changed > 0,
        "%dx%d: %" G_GUINT64_FORMAT " changed outside, %" G_GUINT64_FORMAT
        " inside",
        w, h, d.outside_changed, d.inside_changed);
    gst_buffer_unref (out);
    gst_buffer_unref (in);
    g_free (caps);
  }
  gst_harness_teardown (h_);
}

GST_END_TEST;

GST_START_TEST (test_frames_too_small_for_a_box_pass_untouched)
{
  /* the box has even sides of at least 2: none fits in one column */
  static const gint sizes[][2] = { { 1, 1 }, { 1, 40 }, { 40, 1 } };

  for (guint s = 0; s < G_N_ELEMENTS (sizes); s++) {
    for (gint attach = 0; attach < 2; attach++) {
      gint w = sizes[s][0], h = sizes[s][1];
      GstHarness *h_ = new_harness (NULL, GST_VIDEO_FORMAT_I420, w, h, attach);
      GstBuffer *in = make_noise (GST_VIDEO_FORMAT_I420, w, h, 2), *ref, *out;

      add_results (in, cats, 2);
      ref = gst_buffer_copy (in);
      fail_unless_equals_int (gst_harness_push (h_, in), GST_FLOW_OK);
      out = gst_harness_pull (h_);
      fail_unless (out == in);
      fail_unless (
          buffers_equal (out, ref), "%dx%d attach=%d changed", w, h, attach);
      fail_unless (gst_buffer_get_video_overlay_composition_meta (out) == NULL);
      gst_buffer_unref (out);
      gst_buffer_unref (ref);
      gst_harness_teardown (h_);
    }
  }
}

GST_END_TEST;

GST_START_TEST (test_properties_change_while_streaming)
{
  GstHarness *h_ = new_harness (NULL, GST_VIDEO_FORMAT_I420, 160, 120, FALSE);
  GValue v = G_VALUE_INIT;
  GstHarnessThread *t[10];
  gint nt = 0;
  const gint n = 200;

#define STRESS(name, type, setter, val)                                        \
  g_value_init (&v, type);                                                     \
  setter (&v, val);                                                            \
  t[nt++] = gst_harness_stress_property_start_full (h_, name, &v, 300);        \
  g_value_unset (&v)
  STRESS ("top-k", G_TYPE_UINT, g_value_set_uint, 1);
  STRESS ("top-k", G_TYPE_UINT, g_value_set_uint, 4);
  STRESS ("position", g_type_from_name ("GstVggOverlayPosition"),
      g_value_set_enum, 0);
  STRESS ("font-desc", G_TYPE_STRING, g_value_set_string, "Serif Bold 20");
  STRESS ("font-desc", G_TYPE_STRING, g_value_set_string, "Sans 9");
  STRESS ("show-bars", G_TYPE_BOOLEAN, g_value_set_boolean, FALSE);
  STRESS ("color", G_TYPE_UINT, g_value_set_uint, 0xff20c020);
  STRESS ("show-regions", G_TYPE_BOOLEAN, g_value_set_boolean, FALSE);
  STRESS ("show-scores", G_TYPE_BOOLEAN, g_value_set_boolean, FALSE);
#undef STRESS
  for (gint i = 0; i < n; i++) {
    GstBuffer *buf = make_noise (GST_VIDEO_FORMAT_I420, 160, 120, i);
    RegionSpec r[2] = { { i % 150, 20, 30, 40, 1, 0.5f, "trouser" },
      { 60, i % 110, 50, 20, -1, 0.0f, NULL } };
    if (i % 3)
      add_results (buf, cats, 1 + i % 4);
    if (i % 2)
      add_regions (buf, r, 1 + i % 4 / 2);
    GST_BUFFER_OFFSET (buf) = i;
    fail_unless_equals_int (gst_harness_push (h_, buf), GST_FLOW_OK);
    if (i == n / 2)
      g_object_set (h_->element, "position", 3, NULL);
  }
  for (gint i = 0; i < n; i++) {
    GstBuffer *out = gst_harness_pull (h_);
    fail_unless (out != NULL, "frame %d missing", i);
    fail_unless_equals_uint64 (GST_BUFFER_OFFSET (out), i);
    gst_buffer_unref (out);
  }
  fail_unless_equals_int (gst_harness_buffers_in_queue (h_), 0);
  for (gint i = 0; i < nt; i++)
    gst_harness_stress_thread_stop (t[i]);
  gst_harness_teardown (h_);
}

GST_END_TEST;

/* vgginfer's own results, drawn: the box of the output frame of a real
 * "vgginfer ! vggoverlay" is where the element reports it for that meta. */
GST_START_TEST (test_draws_the_results_of_vgginfer)
{
  static const GstVideoFormat formats[] = { GST_VIDEO_FORMAT_BGRx,
    GST_VIDEO_FORMAT_NV21, GST_VIDEO_FORMAT_GRAY8 };

  for (guint f = 0; f < G_N_ELEMENTS (formats); f++) {
    const gint w = 333, h = 251;
    gchar *launch = g_strdup_printf (
        "vgginfer model=%s top-k=5 ! vggoverlay top-k=5", spot_model);
    gchar *caps = caps_string (formats[f], w, h, FALSE);
    GstHarness *h_ = gst_harness_new_parse (launch);
    GstBuffer *in = make_noise (formats[f], w, h, 31), *out, *probe;
    GstVggMeta *meta;
    GstVideoInfo info;
    Box b;
    Diff d;

    gst_harness_set_sink_caps_str (h_, caps);
    gst_harness_set_src_caps_str (h_, caps);
    fail_unless_equals_int (
        gst_harness_push (h_, gst_buffer_copy (in)), GST_FLOW_OK);
    out = gst_harness_pull (h_);
    meta = gst_buffer_get_vgg_meta (out);
    fail_unless (meta != NULL && meta->n_results == 5);

    /* the reported box for the same input and meta */
    probe = gst_buffer_copy (in);
    gst_vgg_meta_set_results (
        gst_buffer_add_vgg_meta (probe), meta->results, meta->n_results);
    b = reported_box ("top-k=5", formats[f], w, h, probe);
    gst_video_info_set_format (&info, formats[f], w, h);
    d = diff_frames (&info, in, out, b);
    fail_unless (d.outside_changed == 0,
        "%s: %" G_GUINT64_FORMAT " bytes changed outside the box",
        gst_video_format_to_string (formats[f]), d.outside_changed);
    fail_unless (d.inside_changed * 10 >= d.inside_groups * 9,
        "%s: %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT " changed",
        gst_video_format_to_string (formats[f]), d.inside_changed,
        d.inside_groups);
    gst_buffer_unref (probe);
    gst_buffer_unref (out);
    gst_buffer_unref (in);
    gst_harness_teardown (h_);
    g_free (caps);
    g_free (launch);
  }
}

GST_END_TEST;

GST_START_TEST (test_properties_are_documented)
{
  GstElement *e = gst_element_factory_make ("vggoverlay", NULL);
  static const gchar *names[] = { "position", "font-desc", "top-k",
    "show-scores", "show-bars", "show-regions", "color", "background-color" };

  fail_unless (e != NULL);
  for (guint i = 0; i < G_N_ELEMENTS (names); i++) {
    GParamSpec *ps =
        g_object_class_find_property (G_OBJECT_GET_CLASS (e), names[i]);
    fail_unless (ps != NULL, "no property %s", names[i]);
    fail_unless (strlen (g_param_spec_get_blurb (ps)) > 20,
        "property %s has no real description", names[i]);
    fail_unless (ps->flags & GST_PARAM_MUTABLE_PLAYING);
  }
  ASSERT_WARNING (g_object_set (e, "top-k", 0, NULL));
  gst_object_unref (e);
}

GST_END_TEST;

/* A pixel of a colour in a format: its components (R, G, B or Y, U, V,
 * or gray), as a videoconverter writes them. */
typedef struct
{
  guint8 c[3];
} Pixel;

static gboolean
is_rgb (GstVideoFormat format)
{
  return GST_VIDEO_FORMAT_INFO_IS_RGB (gst_video_format_get_info (format));
}

static Pixel
pixel_of (GstVideoFormat format, guint32 argb)
{
  GstVideoInfo rgb_info, info;
  GstVideoFrame in, out;
  GstVideoConverter *conv;
  GstBuffer *rgb, *buf;
  Pixel p = { { 0 } };

  gst_video_info_set_format (&rgb_info, GST_VIDEO_FORMAT_RGB, 2, 2);
  gst_video_info_set_format (&info, format, 2, 2);
  /* gst_video_overlay_composition_blend() of GStreamer 1.22 turns the
   * ARGB overlay into YUV with BT.709's matrix, also on SD frames
   * (measured: opaque green blends to Y 172, U 41, V 26 on a 400x482
   * I420 frame, BT.601 would give 144, 54, 34) */
  if (!is_rgb (format))
    fail_unless (
        gst_video_colorimetry_from_string (&info.colorimetry, "bt709"));
  rgb = gst_buffer_new_allocate (NULL, rgb_info.size, NULL);
  buf = gst_buffer_new_allocate (NULL, info.size, NULL);
  fail_unless (gst_video_frame_map (&in, &rgb_info, rgb, GST_MAP_WRITE));
  for (gint y = 0; y < 2; y++) {
    guint8 *row = (guint8 *) GST_VIDEO_FRAME_PLANE_DATA (&in, 0)
        + y * GST_VIDEO_FRAME_PLANE_STRIDE (&in, 0);
    for (gint x = 0; x < 2; x++) {
      row[3 * x] = (argb >> 16) & 0xff;
      row[3 * x + 1] = (argb >> 8) & 0xff;
      row[3 * x + 2] = argb & 0xff;
    }
  }
  gst_video_frame_unmap (&in);
  conv = gst_video_converter_new (&rgb_info, &info, NULL);
  fail_unless (gst_video_frame_map (&in, &rgb_info, rgb, GST_MAP_READ));
  fail_unless (gst_video_frame_map (&out, &info, buf, GST_MAP_WRITE));
  gst_video_converter_frame (conv, &in, &out);
  gst_video_frame_unmap (&in);
  for (guint c = 0; c < MIN (3, GST_VIDEO_FRAME_N_COMPONENTS (&out)); c++)
    p.c[c] = *(const guint8 *) GST_VIDEO_FRAME_COMP_DATA (&out, c);
  gst_video_frame_unmap (&out);
  gst_video_converter_free (conv);
  gst_buffer_unref (buf);
  gst_buffer_unref (rgb);
  return p;
}

/* The components of pixel x,y of a mapped frame (chroma: its sample). */
static Pixel
frame_pixel (GstVideoFrame *f, gint x, gint y)
{
  const GstVideoFormatInfo *fi = f->info.finfo;
  Pixel p = { { 0 } };

  for (guint c = 0; c < MIN (3, GST_VIDEO_FRAME_N_COMPONENTS (f)); c++) {
    const guint8 *d = GST_VIDEO_FRAME_COMP_DATA (f, c);
    p.c[c] = d[(y >> GST_VIDEO_FORMAT_INFO_H_SUB (fi, c))
            * GST_VIDEO_FRAME_COMP_STRIDE (f, c)
        + (x >> GST_VIDEO_FORMAT_INFO_W_SUB (fi, c))
            * GST_VIDEO_FRAME_COMP_PSTRIDE (f, c)];
  }
  return p;
}

static gboolean
pixel_near (Pixel a, Pixel b, gint tol)
{
  for (guint c = 0; c < 3; c++)
    if (abs (a.c[c] - b.c[c]) > tol)
      return FALSE;
  return TRUE;
}

/* How far a blended colour may be from the converter's: nothing on RGB;
 * on YUV the blend's matrix and rounding differ a little. */
static gint
tolerance (GstVideoFormat format)
{
  return is_rgb (format) ? 0 : 8;
}

/* Pushes a copy of `in` through a blending vggoverlay with `props`. */
static GstBuffer *
blend_once (
    const gchar *props, GstVideoFormat format, gint w, gint h, GstBuffer *in)
{
  GstHarness *h_ = new_harness (props, format, w, h, FALSE);
  GstBuffer *out;

  fail_unless_equals_int (
      gst_harness_push (h_, gst_buffer_copy (in)), GST_FLOW_OK);
  out = gst_harness_pull (h_);
  fail_unless (out != NULL);
  gst_harness_teardown (h_);
  return out;
}

#define GREEN 0xff00ff00u
#define BLUE 0xff0000ffu
#define REGION_COLORS "color=0xff00ff00 background-color=0xff0000ff"

/* Length of the run of pixels `want` in row `y` from `x` rightwards. */
static gint
run_length (GstVideoFrame *f, gint x, gint y, Pixel want, gint tol)
{
  gint n = 0;

  while (x + n < GST_VIDEO_FRAME_WIDTH (f)
      && pixel_near (frame_pixel (f, x + n, y), want, tol))
    n++;
  return n;
}

/* On frames of several formats with three regions (one labelled with
 * room above it, one without results, one labelled at the top edge,
 * which gets its label inside): the outlines take `color` all round,
 * max (2, h / 240) pixels thick; the inside of the boxes is untouched;
 * the label boxes sit at the corners, in background-color. */
GST_START_TEST (test_regions_are_outlined_and_labelled)
{
  static const GstVideoFormat formats[] = { GST_VIDEO_FORMAT_RGB,
    GST_VIDEO_FORMAT_BGRx, GST_VIDEO_FORMAT_ABGR, GST_VIDEO_FORMAT_I420,
    GST_VIDEO_FORMAT_NV12, GST_VIDEO_FORMAT_YUY2 };
  /* even corners and sides: the 2x2 chroma of I420 stays in the line */
  static const RegionSpec regions[] = {
    { 60, 100, 120, 90, 281, 0.612f, "tabby, tabby cat" },
    { 220, 140, 80, 60, -1, 0.0f, NULL },
    { 200, 0, 100, 80, 12, 0.5f, NULL },
  };
  const gint w = 400, h = 482;
  const gint line = MAX (2, h / 240);

  for (guint f = 0; f < G_N_ELEMENTS (formats); f++) {
    GstVideoFormat format = formats[f];
    const gchar *fmt = gst_video_format_to_string (format);
    gint tol = tolerance (format);
    Pixel green = pixel_of (format, GREEN), blue = pixel_of (format, BLUE);
    GstBuffer *in = make_noise (format, w, h, 211 + f), *out;
    GstVideoInfo info;
    GstVideoFrame fr;

    gst_video_info_set_format (&info, format, w, h);
    add_regions (in, regions, G_N_ELEMENTS (regions));
    out = blend_once (REGION_COLORS, format, w, h, in);
    fail_unless (gst_video_frame_map (&fr, &info, out, GST_MAP_READ));

    for (guint r = 0; r < G_N_ELEMENTS (regions); r++) {
      const RegionSpec *b = &regions[r];
      gboolean label_inside = b->class_id >= 0 && b->y == 0;
      Box inner = { b->x + line + 2, b->y + b->h / 2, b->w - 2 * line - 4,
        b->h / 2 - line - 2 };
      Diff d;

      /* the outline: every pixel of the bottom rows, of the left and
       * right columns (below a label inside), of the top right corner */
      for (gint t = 0; t < line; t++) {
        for (guint x = b->x; x < b->x + b->w; x++) {
          Pixel px = frame_pixel (&fr, x, b->y + b->h - 1 - t);
          fail_unless (pixel_near (px, green, tol),
              "%s region %u: bottom outline pixel %u,%u is %d,%d,%d, not "
              "%d,%d,%d",
              fmt, r, x, b->y + b->h - 1 - t, px.c[0], px.c[1], px.c[2],
              green.c[0], green.c[1], green.c[2]);
        }
        for (guint y = b->y + (label_inside ? b->h / 2 : 0); y < b->y + b->h;
             y++) {
          Pixel l = frame_pixel (&fr, b->x + t, y);
          Pixel rt = frame_pixel (&fr, b->x + b->w - 1 - t, y);
          fail_unless (
              pixel_near (l, green, tol) && pixel_near (rt, green, tol),
              "%s region %u: side outline at row %u is %d,%d,%d / %d,%d,%d",
              fmt, r, y, l.c[0], l.c[1], l.c[2], rt.c[0], rt.c[1], rt.c[2]);
        }
        if (!label_inside) {
          Pixel px = frame_pixel (&fr, b->x + b->w - 1, b->y + t);
          fail_unless (pixel_near (px, green, tol),
              "%s region %u: top right outline pixel is %d,%d,%d", fmt, r,
              px.c[0], px.c[1], px.c[2]);
        }
      }
      /* no thicker than the line */
      fail_if (pixel_near (frame_pixel (&fr, b->x + line + 2,
                               b->y + b->h - 1 - line - 2),
                   green, 0),
          "%s region %u: the outline is thicker than %d", fmt, r, line);
      /* the picture inside, away from the label */
      d = diff_frames (&info, in, out, inner);
      fail_unless (d.inside_groups > 0 && d.inside_changed == 0,
          "%s region %u: %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
          " pixels inside the box changed",
          fmt, r, d.inside_changed, d.inside_groups);
      /* the label box: at the corner, above the box (its bottom rows are
       * padding) or inside it at the frame's top */
      {
        gint ly = label_inside ? 0 : (gint) b->y - 1;
        Pixel corner = frame_pixel (&fr, b->x, ly);
        gboolean labelled = pixel_near (corner, blue, tol);

        fail_unless (labelled == (b->class_id >= 0),
            "%s region %u: pixel %u,%d at the corner is %d,%d,%d (label "
            "expected: %d)",
            fmt, r, b->x, ly, corner.c[0], corner.c[1], corner.c[2],
            b->class_id >= 0);
      }
    }

    /* a label box is as wide as its text (with its score, here) */
    {
      gint lw = run_length (&fr, regions[0].x, regions[0].y - 1, blue, tol);
      fail_unless (lw > 40 && lw < w / 2, "%s: label box %d wide", fmt, lw);
    }
    gst_video_frame_unmap (&fr);
    gst_buffer_unref (out);
    gst_buffer_unref (in);
  }
}

GST_END_TEST;

/* The width of the label box above region `r` in the frame blended from
 * `in` with `props`. */
static gint
label_width (const gchar *props, GstVideoFormat format, gint w, gint h,
    GstBuffer *in, const RegionSpec *r)
{
  GstBuffer *out = blend_once (props, format, w, h, in);
  GstVideoInfo info;
  GstVideoFrame fr;
  gint lw;

  gst_video_info_set_format (&info, format, w, h);
  fail_unless (gst_video_frame_map (&fr, &info, out, GST_MAP_READ));
  lw = run_length (
      &fr, r->x, r->y - 1, pixel_of (format, BLUE), tolerance (format));
  gst_video_frame_unmap (&fr);
  gst_buffer_unref (out);
  return lw;
}

/* show-scores takes the score out of the labels (a narrower box),
 * show-regions=false draws no region at all: with frame results too,
 * only the results box changes, which then is the only rectangle of the
 * composition. */
GST_START_TEST (test_show_regions_and_show_scores)
{
  static const RegionSpec regions[] = {
    { 100, 150, 120, 100, 282, 0.231f, "tiger cat" },
    { 10, 280, 30, 30, 287, 0.999f, "lynx, catamount" },
  };
  static const GstVideoFormat formats[] = { GST_VIDEO_FORMAT_RGBA,
    GST_VIDEO_FORMAT_I420 };
  const gint w = 320, h = 320;

  for (guint f = 0; f < G_N_ELEMENTS (formats); f++) {
    GstVideoFormat format = formats[f];
    const gchar *fmt = gst_video_format_to_string (format);
    GstBuffer *in = make_noise (format, w, h, 301 + f), *out;
    GstVideoInfo info;
    gint with, without;
    Box b;
    Diff d;

    add_results (in, cats, 3);
    add_regions (in, regions, G_N_ELEMENTS (regions));
    gst_video_info_set_format (&info, format, w, h);

    with = label_width (REGION_COLORS, format, w, h, in, &regions[0]);
    without = label_width (
        REGION_COLORS " show-scores=false", format, w, h, in, &regions[0]);
    fail_unless (without > 10 && with > without + 10,
        "%s: label box %d wide with the score, %d without", fmt, with, without);

    b = reported_box (REGION_COLORS " show-regions=false", format, w, h, in);
    out = blend_once (REGION_COLORS " show-regions=false", format, w, h, in);
    d = diff_frames (&info, in, out, b);
    fail_unless (d.outside_changed == 0 && d.inside_changed > 0,
        "%s show-regions=false: %" G_GUINT64_FORMAT " bytes changed outside "
        "the results box %d,%d %dx%d",
        fmt, d.outside_changed, b.x, b.y, b.w, b.h);
    gst_buffer_unref (out);

    /* and with the regions, the results box is still drawn over them:
     * two rectangles, the regions' first */
    {
      GstHarness *h_ = new_harness (REGION_COLORS, format, w, h, TRUE);
      GstVideoOverlayCompositionMeta *cmeta;
      gint x, y;
      guint rw, rh;

      fail_unless_equals_int (
          gst_harness_push (h_, gst_buffer_copy (in)), GST_FLOW_OK);
      out = gst_harness_pull (h_);
      cmeta = gst_buffer_get_video_overlay_composition_meta (out);
      fail_unless (cmeta != NULL);
      fail_unless_equals_int (
          gst_video_overlay_composition_n_rectangles (cmeta->overlay), 2);
      fail_unless (gst_video_overlay_rectangle_get_render_rectangle (
          gst_video_overlay_composition_get_rectangle (cmeta->overlay, 1), &x,
          &y, &rw, &rh));
      fail_unless (x == b.x && y == b.y && (gint) rw == b.w && (gint) rh == b.h,
          "%s: results box %d,%d %ux%u, without regions %d,%d %dx%d", fmt, x, y,
          rw, rh, b.x, b.y, b.w, b.h);
      gst_buffer_unref (out);
      gst_harness_teardown (h_);
    }
    gst_buffer_unref (in);
  }
}

GST_END_TEST;

/* A meta with regions and no frame results (vgginfer's roi-list mode)
 * is drawn; with show-regions=false it passes untouched, the very
 * buffer. */
GST_START_TEST (test_regions_without_frame_results)
{
  static const RegionSpec region = { 40, 40, 50, 50, 1, 0.5f, "trouser" };
  const gint w = 160, h = 120;
  GstBuffer *in = make_noise (GST_VIDEO_FORMAT_NV12, w, h, 7), *ref, *out;
  GstHarness *h_;

  add_regions (in, &region, 1);
  ref = gst_buffer_copy (in);
  out = blend_once (NULL, GST_VIDEO_FORMAT_NV12, w, h, in);
  fail_if (buffers_equal (out, ref), "the region was not drawn");
  gst_buffer_unref (out);

  h_ = new_harness ("show-regions=false", GST_VIDEO_FORMAT_NV12, w, h, TRUE);
  fail_unless_equals_int (gst_harness_push (h_, in), GST_FLOW_OK);
  out = gst_harness_pull (h_);
  fail_unless (out == in);
  fail_unless (buffers_equal (out, ref));
  fail_unless (gst_buffer_get_video_overlay_composition_meta (out) == NULL);
  gst_buffer_unref (out);
  gst_buffer_unref (ref);
  gst_harness_teardown (h_);
}

GST_END_TEST;

/* Odd boxes, in RGB and YUV formats, blending and attaching: boxes
 * reaching past the right and bottom edges (outlined up to the edge),
 * wholly outside, 1x1, 0x0, and 300 random boxes on one frame (seed 42),
 * which must take well under a frame's time at 30 fps to render. */
GST_START_TEST (test_odd_and_many_regions)
{
  static const GstVideoFormat formats[] = { GST_VIDEO_FORMAT_RGB,
    GST_VIDEO_FORMAT_BGRA, GST_VIDEO_FORMAT_I420, GST_VIDEO_FORMAT_YUY2,
    GST_VIDEO_FORMAT_GRAY8 };
  static const RegionSpec odd[] = {
    { 250, 180, 200, 200, 3, 0.7f, "dress" }, /* past the corner */
    { 0, 0, 1, 1, 4, 0.2f, "coat" },          /* 1x1 at the origin */
    { 319, 239, 1, 1, 5, 0.3f, "sandal" },    /* 1x1 at the far corner */
    { 100, 100, 1, 1, -1, 0.0f, NULL },       /* 1x1, no label */
    { 10, 10, 0, 0, 6, 0.1f, "shirt" },       /* empty */
    { 400, 300, 10, 10, 7, 0.1f, "sneaker" }, /* outside */
    { G_MAXUINT - 5, 5, 100, 100, 8, 0.9f, "bag" },
    { 5, 5, G_MAXUINT, G_MAXUINT, 9, 0.9f, "ankle boot" },
  };
  const gint w = 320, h = 240;
  GRand *rand = g_rand_new_with_seed (42);
  RegionSpec many[300];

  for (guint i = 0; i < G_N_ELEMENTS (many); i++) {
    many[i].x = g_rand_int_range (rand, 0, w + 20);
    many[i].y = g_rand_int_range (rand, 0, h + 20);
    many[i].w = g_rand_int_range (rand, 1, 80);
    many[i].h = g_rand_int_range (rand, 1, 80);
    many[i].class_id = g_rand_int_range (rand, -1, 10);
    many[i].score = g_rand_double (rand);
    many[i].label = i % 2 ? "pullover" : NULL;
  }
  g_rand_free (rand);

  for (guint f = 0; f < G_N_ELEMENTS (formats); f++) {
    for (gint attach = 0; attach < 2; attach++) {
      GstVideoFormat format = formats[f];
      const gchar *fmt = gst_video_format_to_string (format);
      GstHarness *h_ = new_harness (REGION_COLORS, format, w, h, attach);
      GstBuffer *a = make_noise (format, w, h, 5), *b, *out;
      gint64 t0, t1;

      add_regions (a, odd, G_N_ELEMENTS (odd));
      fail_unless_equals_int (gst_harness_push (h_, a), GST_FLOW_OK);
      out = gst_harness_pull (h_);
      if (!attach && is_rgb (format)) {
        GstVideoInfo info;
        GstVideoFrame fr;
        Pixel green = pixel_of (format, GREEN), l, r;

        /* the box past the corner: its left edge below its label; the
         * 1x1 box without a label is one green pixel */
        gst_video_info_set_format (&info, format, w, h);
        fail_unless (gst_video_frame_map (&fr, &info, out, GST_MAP_READ));
        l = frame_pixel (&fr, 250, 200);
        r = frame_pixel (&fr, 100, 100);
        fail_unless (pixel_near (l, green, 0) && pixel_near (r, green, 0),
            "%s: clipped box edge %d,%d,%d, 1x1 box %d,%d,%d", fmt, l.c[0],
            l.c[1], l.c[2], r.c[0], r.c[1], r.c[2]);
        gst_video_frame_unmap (&fr);
      }
      if (attach)
        fail_unless (gst_buffer_get_video_overlay_composition_meta (out),
            "%s: no composition", fmt);
      gst_buffer_unref (out);

      b = make_noise (format, w, h, 6);
      add_regions (b, many, G_N_ELEMENTS (many));
      t0 = g_get_monotonic_time ();
      fail_unless_equals_int (gst_harness_push (h_, b), GST_FLOW_OK);
      t1 = g_get_monotonic_time ();
      out = gst_harness_pull (h_);
      GST_INFO ("%s attach=%d: 300 regions in %" G_GINT64_FORMAT " us", fmt,
          attach, t1 - t0);
      /* generous for a shared machine, a sanitizer or valgrind: this
       * catches work quadratic in the regions, not a slow machine */
      fail_unless (t1 - t0 < 5 * G_USEC_PER_SEC,
          "%s attach=%d: 300 regions took %" G_GINT64_FORMAT " us", fmt, attach,
          t1 - t0);
      gst_buffer_unref (out);
      gst_harness_teardown (h_);
    }
  }
}

GST_END_TEST;

/* videotestsrc ! vgginfer regions=... ! vggoverlay: the fixed zones are
 * classified, and outlined where regions= put them, on the frames of the
 * same source without the overlay. */
GST_START_TEST (test_draws_the_regions_of_vgginfer)
{
  static const GstVideoFormat formats[] = { GST_VIDEO_FORMAT_RGBx,
    GST_VIDEO_FORMAT_I420 };
  static const Box zones[] = { { 40, 60, 100, 80 }, { 200, 20, 64, 64 } };
  const gint w = 320, h = 240, line = MAX (2, h / 240);

  for (guint f = 0; f < G_N_ELEMENTS (formats); f++) {
    const gchar *fmt = gst_video_format_to_string (formats[f]);
    gchar *caps = caps_string (formats[f], w, h, FALSE);
    gchar *src = g_strdup_printf (
        "videotestsrc num-buffers=1 pattern=smpte ! capsfilter caps=\"%s\"",
        caps);
    gchar *with = g_strdup_printf (
        "vgginfer model=%s regions=\"40,60,100,80;200,20,64,64\" ! "
        "vggoverlay color=0xff00ff00",
        spot_model);
    GstHarness *h_ = gst_harness_new_parse (with);
    GstHarness *ref_h = gst_harness_new ("identity");
    GstBuffer *out, *ref;
    GstVggMeta *meta;
    GstVideoInfo info;
    GstVideoFrame fr;
    gint tol = tolerance (formats[f]);
    Pixel green = pixel_of (formats[f], GREEN);

    gst_harness_add_src_parse (h_, src, FALSE);
    gst_harness_set_sink_caps_str (h_, caps);
    gst_harness_add_src_parse (ref_h, src, FALSE);
    fail_unless_equals_int (gst_harness_push_from_src (h_), GST_FLOW_OK);
    fail_unless_equals_int (gst_harness_push_from_src (ref_h), GST_FLOW_OK);
    out = gst_harness_pull (h_);
    ref = gst_harness_pull (ref_h);

    meta = gst_buffer_get_vgg_meta (out);
    fail_unless (meta != NULL);
    fail_unless_equals_int (gst_vgg_meta_get_n_regions (meta), 2);
    gst_video_info_set_format (&info, formats[f], w, h);
    fail_unless (gst_video_frame_map (&fr, &info, out, GST_MAP_READ));
    for (guint z = 0; z < G_N_ELEMENTS (zones); z++) {
      const Box *b = &zones[z];
      Box inner = { b->x + 4, b->y + b->h / 2, b->w - 8, b->h / 2 - 4 };
      guint x, y, rw, rh;
      Diff d;

      fail_unless (
          gst_vgg_meta_get_region (meta, z, NULL, NULL, &x, &y, &rw, &rh));
      fail_unless (x == (guint) b->x && y == (guint) b->y && rw == (guint) b->w
              && rh == (guint) b->h,
          "%s: region %u at %u,%u %ux%u", fmt, z, x, y, rw, rh);
      fail_unless (gst_vgg_meta_get_region_n_results (meta, z) > 0);
      for (gint t = 0; t < line; t++) {
        for (gint i = 0; i < b->w; i++) {
          Pixel px = frame_pixel (&fr, b->x + i, b->y + b->h - 1 - t);
          fail_unless (pixel_near (px, green, tol),
              "%s zone %u: bottom outline pixel %d,%d is %d,%d,%d", fmt, z,
              b->x + i, b->y + b->h - 1 - t, px.c[0], px.c[1], px.c[2]);
        }
        for (gint i = b->h / 2; i < b->h; i++) {
          Pixel l = frame_pixel (&fr, b->x + t, b->y + i);
          Pixel r = frame_pixel (&fr, b->x + b->w - 1 - t, b->y + i);
          fail_unless (pixel_near (l, green, tol) && pixel_near (r, green, tol),
              "%s zone %u: side outline at row %d", fmt, z, b->y + i);
        }
      }
      /* inside the zone, below its label: the source's own pixels */
      d = diff_frames (&info, ref, out, inner);
      fail_unless (d.inside_groups > 0 && d.inside_changed == 0,
          "%s zone %u: %" G_GUINT64_FORMAT " pixels changed inside", fmt, z,
          d.inside_changed);
    }
    gst_video_frame_unmap (&fr);
    gst_buffer_unref (ref);
    gst_buffer_unref (out);
    gst_harness_teardown (ref_h);
    gst_harness_teardown (h_);
    g_free (with);
    g_free (src);
    g_free (caps);
  }
}

GST_END_TEST;

static Suite *
vggoverlay_suite (void)
{
  Suite *s = suite_create ("vggoverlay");
  TCase *tc = tcase_create ("general");
  const gchar *dir = g_getenv ("VGG_TEST_DIR");

  model_dir = dir ? g_strdup (dir) : g_dir_make_tmp ("vggoverlay-XXXXXX", NULL);
  g_assert_nonnull (model_dir);
  g_mkdir_with_parents (model_dir, 0755);
  spot_model = g_build_filename (model_dir, "overlay-spot.safetensors", NULL);
  g_assert_true (vgg_test_write_spot_model (spot_model));

  suite_add_tcase (s, tc);
  tcase_set_timeout (tc, 120);
  tcase_add_test (tc, test_blend_changes_only_the_box_in_every_format);
  tcase_add_test (tc, test_composition_meta_when_downstream_supports_it);
  tcase_add_test (tc, test_upstream_composition_is_kept);
  tcase_add_test (tc, test_frames_without_results_pass_untouched);
  tcase_add_test (tc, test_position_moves_the_box);
  tcase_add_test (tc, test_properties_size_the_box);
  tcase_add_test (tc, test_colors_are_drawn);
  tcase_add_test (tc, test_rendering_is_cached_until_results_change);
  tcase_add_test (tc, test_caps_change_redraws_for_the_new_size);
  tcase_add_test (tc, test_frames_too_small_for_a_box_pass_untouched);
  tcase_add_test (tc, test_properties_change_while_streaming);
  tcase_add_test (tc, test_draws_the_results_of_vgginfer);
  tcase_add_test (tc, test_properties_are_documented);
  tcase_add_test (tc, test_regions_are_outlined_and_labelled);
  tcase_add_test (tc, test_show_regions_and_show_scores);
  tcase_add_test (tc, test_regions_without_frame_results);
  tcase_add_test (tc, test_odd_and_many_regions);
  tcase_add_test (tc, test_draws_the_regions_of_vgginfer);
  return s;
}

GST_CHECK_MAIN (vggoverlay);

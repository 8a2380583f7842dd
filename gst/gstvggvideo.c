/* Caps and frames from a careless or hostile upstream (see the header).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "gstvggvideo.h"

#include <string.h>

GST_DEBUG_CATEGORY_STATIC (gst_vgg_video_debug);
#define GST_CAT_DEFAULT gst_vgg_video_debug

static const GstVideoFormat accepted_formats[] = { GST_VIDEO_FORMAT_RGB,
  GST_VIDEO_FORMAT_BGR, GST_VIDEO_FORMAT_RGBx, GST_VIDEO_FORMAT_BGRx,
  GST_VIDEO_FORMAT_xRGB, GST_VIDEO_FORMAT_xBGR, GST_VIDEO_FORMAT_RGBA,
  GST_VIDEO_FORMAT_BGRA, GST_VIDEO_FORMAT_ARGB, GST_VIDEO_FORMAT_ABGR,
  GST_VIDEO_FORMAT_I420, GST_VIDEO_FORMAT_YV12, GST_VIDEO_FORMAT_NV12,
  GST_VIDEO_FORMAT_NV21, GST_VIDEO_FORMAT_YUY2, GST_VIDEO_FORMAT_UYVY,
  GST_VIDEO_FORMAT_GRAY8 };

static void
ensure_debug_category (void)
{
  static gsize done = 0;

  if (g_once_init_enter (&done)) {
    GST_DEBUG_CATEGORY_INIT (
        gst_vgg_video_debug, "vggvideo", 0, "gst-vgg caps and frame checks");
    g_once_init_leave (&done, 1);
  }
}

static gboolean
check_dimension (const GstStructure *s, const gchar *name, gchar **reason)
{
  gint v;

  if (!gst_structure_get_int (s, name, &v)) {
    *reason = g_strdup_printf ("no %s (an integer) in the caps", name);
    return FALSE;
  }
  if (v < 1 || v > GST_VGG_VIDEO_MAX_SIZE) {
    *reason = g_strdup_printf (
        "%s %d is outside 1..%d", name, v, GST_VGG_VIDEO_MAX_SIZE);
    return FALSE;
  }
  return TRUE;
}

gboolean
gst_vgg_video_info_from_caps (GstVideoInfo *info, GstCaps *caps, gchar **reason)
{
  const GstStructure *s;
  const gchar *format, *interlace;
  GstVideoFormat f;
  gboolean known = FALSE;

  *reason = NULL;
  if (caps == NULL || gst_caps_get_size (caps) != 1
      || !gst_caps_is_fixed (caps)) {
    *reason = g_strdup ("the caps are not fixed (one structure, every field "
                        "a single value)");
    return FALSE;
  }
  s = gst_caps_get_structure (caps, 0);
  if (!gst_structure_has_name (s, "video/x-raw")) {
    *reason = g_strdup_printf (
        "media type %s is not video/x-raw", gst_structure_get_name (s));
    return FALSE;
  }
  format = gst_structure_get_string (s, "format");
  if (format == NULL) {
    *reason = g_strdup ("no format (a string) in the caps");
    return FALSE;
  }
  f = gst_video_format_from_string (format);
  for (guint i = 0; i < G_N_ELEMENTS (accepted_formats); i++)
    known |= f == accepted_formats[i];
  if (!known) {
    *reason = g_strdup_printf (
        "format %s is not one of " GST_VGG_VIDEO_FORMATS, format);
    return FALSE;
  }
  if (!check_dimension (s, "width", reason)
      || !check_dimension (s, "height", reason))
    return FALSE;
  interlace = gst_structure_get_string (s, "interlace-mode");
  if (g_strcmp0 (interlace, "alternate") == 0) {
    *reason = g_strdup ("interlace-mode=alternate (one field per buffer) is "
                        "not supported: deinterlace upstream");
    return FALSE;
  }
  if (interlace != NULL && strcmp (interlace, "progressive") != 0) {
    gint h = 0;
    gst_structure_get_int (s, "height", &h);
    if (h < 2) {
      *reason = g_strdup_printf ("interlace-mode=%s with a height of %d: "
                                 "each field needs a row",
          interlace, h);
      return FALSE;
    }
  }
  if (!gst_video_info_from_caps (info, caps)) {
    *reason = g_strdup ("GStreamer cannot make a video frame layout of them "
                        "(gst_video_info_from_caps failed)");
    return FALSE;
  }
  return TRUE;
}

gboolean
gst_vgg_video_sink_accept_caps (GstElement *element, GstPad *pad,
    GstObject *parent, GstQuery *query, GstCaps **last_error)
{
  GstCaps *caps, *current = NULL;
  GstVideoInfo info;
  gchar *reason = NULL;
  GstPad *peer;
  gboolean report = FALSE;

  ensure_debug_category ();
  gst_query_parse_accept_caps (query, &caps);
  if (gst_vgg_video_info_from_caps (&info, caps, &reason))
    return gst_pad_query_default (pad, parent, query);

  gst_query_set_accept_caps_result (query, FALSE);
  GST_INFO_OBJECT (pad, "refusing %" GST_PTR_FORMAT ": %s", caps, reason);
  peer = gst_pad_get_peer (pad);
  if (peer) {
    current = gst_pad_get_current_caps (peer);
    gst_object_unref (peer);
  }
  if (current && gst_caps_is_equal (current, caps)) {
    GST_OBJECT_LOCK (element);
    report = *last_error == NULL || !gst_caps_is_equal (*last_error, caps);
    if (report)
      gst_caps_replace (last_error, caps);
    GST_OBJECT_UNLOCK (element);
  }
  if (report)
    GST_ELEMENT_ERROR (element, CORE, NEGOTIATION,
        ("Cannot take the input caps: %s", reason),
        ("caps %" GST_PTR_FORMAT, caps));
  gst_clear_caps (&current);
  g_free (reason);
  return TRUE;
}

/* Bytes of one row of plane p that a reader touches: over the
 * components in the plane, the last pixel's offset plus its bytes. */
static guint64
plane_row_bytes (const GstVideoFormatInfo *finfo, guint p, gint width)
{
  gint comps[GST_VIDEO_MAX_COMPONENTS];
  guint64 bytes = 0;

  gst_video_format_info_component (finfo, p, comps);
  for (gint i = 0; i < GST_VIDEO_MAX_COMPONENTS && comps[i] >= 0; i++) {
    gint c = comps[i];
    gint w = GST_VIDEO_FORMAT_INFO_SCALE_WIDTH (finfo, c, width);
    guint64 end = (guint64) GST_VIDEO_FORMAT_INFO_POFFSET (finfo, c)
        + (guint64) GST_VIDEO_FORMAT_INFO_PSTRIDE (finfo, c) * (w - 1)
        + (GST_VIDEO_FORMAT_INFO_DEPTH (finfo, c) + 7) / 8;
    bytes = MAX (bytes, end);
  }
  return bytes;
}

gboolean
gst_vgg_video_frame_map (GstVideoFrame *frame, const GstVideoInfo *info,
    GstBuffer *buffer, GstMapFlags flags, gchar **reason)
{
  GstVideoMeta *meta = gst_buffer_get_video_meta (buffer);
  const GstVideoFormatInfo *finfo = info->finfo;
  gsize size = gst_buffer_get_size (buffer);

  *reason = NULL;
  if (meta) {
    if (meta->format != GST_VIDEO_INFO_FORMAT (info)
        || meta->n_planes != GST_VIDEO_INFO_N_PLANES (info)
        || meta->width < (guint) GST_VIDEO_INFO_WIDTH (info)
        || meta->height < (guint) GST_VIDEO_INFO_HEIGHT (info)) {
      *reason = g_strdup_printf (
          "its GstVideoMeta says %s %ux%u in %u planes, the caps %s %dx%d "
          "in %u",
          gst_video_format_to_string (meta->format), meta->width, meta->height,
          meta->n_planes, GST_VIDEO_INFO_NAME (info),
          GST_VIDEO_INFO_WIDTH (info), GST_VIDEO_INFO_HEIGHT (info),
          GST_VIDEO_INFO_N_PLANES (info));
      return FALSE;
    }
  } else if (size < GST_VIDEO_INFO_SIZE (info)) {
    *reason = g_strdup_printf ("%" G_GSIZE_FORMAT " bytes, where a %s %dx%d "
                               "frame needs %" G_GSIZE_FORMAT,
        size, GST_VIDEO_INFO_NAME (info), GST_VIDEO_INFO_WIDTH (info),
        GST_VIDEO_INFO_HEIGHT (info), GST_VIDEO_INFO_SIZE (info));
    return FALSE;
  }
  if (!gst_video_frame_map (frame, info, buffer, flags)) {
    *reason = g_strdup_printf ("a %" G_GSIZE_FORMAT "-byte buffer%s could "
                               "not be mapped as %s %dx%d",
        size, meta ? " with a GstVideoMeta" : "", GST_VIDEO_INFO_NAME (info),
        GST_VIDEO_INFO_WIDTH (info), GST_VIDEO_INFO_HEIGHT (info));
    return FALSE;
  }
  if (meta == NULL)
    return TRUE; /* the layout of info, and the size checked above */

  /* With a meta each plane is mapped on its own (the memory holding its
   * offset): the plane must end inside that mapping. */
  for (guint p = 0; p < GST_VIDEO_FRAME_N_PLANES (frame); p++) {
    const GstMapInfo *map = &frame->map[p];
    const guint8 *data = GST_VIDEO_FRAME_PLANE_DATA (frame, p);
    gint stride = GST_VIDEO_FRAME_PLANE_STRIDE (frame, p);
    gint comps[GST_VIDEO_MAX_COMPONENTS];
    guint64 row = plane_row_bytes (finfo, p, GST_VIDEO_FRAME_WIDTH (frame));
    guint64 rows, need, start;

    gst_video_format_info_component (finfo, p, comps);
    rows = GST_VIDEO_FORMAT_INFO_SCALE_HEIGHT (
        finfo, comps[0], GST_VIDEO_FRAME_HEIGHT (frame));
    if (map->data == NULL || data < map->data || data > map->data + map->size) {
      *reason = g_strdup_printf ("plane %u starts outside its memory", p);
      goto refused;
    }
    start = (guint64) (data - map->data);
    if (stride < 0 || (guint64) stride < row) {
      *reason = g_strdup_printf ("plane %u has a stride of %d bytes where a "
                                 "row takes %" G_GUINT64_FORMAT,
          p, stride, row);
      goto refused;
    }
    need = (guint64) stride * (rows - 1) + row;
    if (need > map->size - start) {
      *reason = g_strdup_printf (
          "plane %u (offset %" G_GSIZE_FORMAT ", stride %d, %" G_GUINT64_FORMAT
          " rows) needs %" G_GUINT64_FORMAT
          " bytes, its memory holds %" G_GUINT64_FORMAT " from there",
          p, meta->offset[p], stride, rows, need, map->size - start);
      goto refused;
    }
  }
  return TRUE;

refused:
  gst_video_frame_unmap (frame);
  return FALSE;
}

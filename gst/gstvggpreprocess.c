/* Frames to the network's input.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "gstvggpreprocess.h"

#include <math.h>
#include <string.h>

#include "gstvggvideo.h"
#include "vggorc.h"

GST_DEBUG_CATEGORY_STATIC (gst_vgg_preprocess_debug);
#define GST_CAT_DEFAULT gst_vgg_preprocess_debug

/* GstVideoConverter (1.22) keeps the source lines it has read in caches
 * indexed by row number, and empties a cache only when a frame asks for
 * a row before the cached ones.  When the source rectangle is a few rows
 * high (at most 2, or 3 per field when interlaced, seen with every
 * format but RGB), the next frame finds all its rows cached: its
 * conversion is the previous frame's picture, read (ARGB) from that
 * frame's memory, which may be freed by then.  Below this height (per
 * field) a converter converts one frame only. */
#define CONVERTER_REUSE_MIN_ROWS 8

void
gst_vgg_fit (GstVggInferResize resize, gint w, gint h, gint mw, gint mh,
    gint src[4], gint dst[4])
{
  src[0] = src[1] = 0;
  src[2] = w;
  src[3] = h;
  dst[0] = dst[1] = 0;
  dst[2] = mw;
  dst[3] = mh;
  switch (resize) {
    case GST_VGG_INFER_RESIZE_CENTER_CROP: {
      /* torchvision: Resize(256) then CenterCrop(224), i.e. the shorter
       * side scaled to min(mw, mh) * 256 / 224, then the central mw x mh;
       * in source pixels the crop is mw / s x mh / s. */
      gdouble s = MIN (mw, mh) * (256.0 / 224.0) / MIN (w, h);
      src[2] = CLAMP ((gint) lround (mw / s), 1, w);
      src[3] = CLAMP ((gint) lround (mh / s), 1, h);
      src[0] = (w - src[2]) / 2;
      src[1] = (h - src[3]) / 2;
      break;
    }
    case GST_VGG_INFER_RESIZE_LETTERBOX: {
      gdouble s = MIN ((gdouble) mw / w, (gdouble) mh / h);
      dst[2] = CLAMP ((gint) lround (w * s), 1, mw);
      dst[3] = CLAMP ((gint) lround (h * s), 1, mh);
      dst[0] = (mw - dst[2]) / 2;
      dst[1] = (mh - dst[3]) / 2;
      break;
    }
    case GST_VGG_INFER_RESIZE_STRETCH:
      break;
  }
}

void
gst_vgg_preprocess_init (GstVggPreprocess *pp)
{
  GST_DEBUG_CATEGORY_INIT (
      gst_vgg_preprocess_debug, "vggpreprocess", 0, "vgginfer preprocessing");
  memset (pp, 0, sizeof *pp);
  gst_video_info_init (&pp->in_info);
  gst_video_info_init (&pp->rgb_info);
}

void
gst_vgg_preprocess_clear (GstVggPreprocess *pp)
{
  g_clear_pointer (&pp->converter, gst_video_converter_free);
  gst_clear_buffer (&pp->rgb);
  g_clear_pointer (&pp->row_scale, g_free);
  g_clear_pointer (&pp->row_offset, g_free);
  pp->row_len = 0;
  pp->have_info = FALSE;
}

gboolean
gst_vgg_preprocess_set_caps (
    GstVggPreprocess *pp, GstCaps *caps, gchar **reason)
{
  g_clear_pointer (&pp->converter, gst_video_converter_free);
  pp->have_info = gst_vgg_video_info_from_caps (&pp->in_info, caps, reason);
  return pp->have_info;
}

/* The converter of the caps to info's input size under `resize`. */
static gboolean
ensure_converter (GstVggPreprocess *pp, const GstVggModelInfo *info,
    GstVggInferResize resize, guint threads, const gint crop[4],
    GError **error)
{
  GstStructure *config;
  gint src[4], dst[4], area[4];

  if (crop) {
    memcpy (area, crop, sizeof area);
  } else {
    area[0] = area[1] = 0;
    area[2] = GST_VIDEO_INFO_WIDTH (&pp->in_info);
    area[3] = GST_VIDEO_INFO_HEIGHT (&pp->in_info);
  }
  if (pp->converter && pp->resize == resize && pp->threads == threads
      && pp->width == info->width && pp->height == info->height
      && pp->border_argb == info->border_argb
      && memcmp (pp->area, area, sizeof area) == 0)
    return TRUE;
  g_clear_pointer (&pp->converter, gst_video_converter_free);
  if (!pp->have_info) {
    g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_NEGOTIATION,
        "received a buffer before caps");
    return FALSE;
  }
  if (pp->rgb == NULL || pp->rgb_info.width != info->width
      || pp->rgb_info.height != info->height) {
    gst_clear_buffer (&pp->rgb);
    gst_video_info_set_format (
        &pp->rgb_info, GST_VIDEO_FORMAT_RGB, info->width, info->height);
    pp->rgb = gst_buffer_new_allocate (NULL, pp->rgb_info.size, NULL);
  }
  /* the converter wants the same rate and interlacing on both sides */
  GST_VIDEO_INFO_FPS_N (&pp->rgb_info) = GST_VIDEO_INFO_FPS_N (&pp->in_info);
  GST_VIDEO_INFO_FPS_D (&pp->rgb_info) = GST_VIDEO_INFO_FPS_D (&pp->in_info);
  GST_VIDEO_INFO_INTERLACE_MODE (&pp->rgb_info) =
      GST_VIDEO_INFO_INTERLACE_MODE (&pp->in_info);
  gst_vgg_fit (resize, area[2], area[3], info->width, info->height, src, dst);
  src[0] += area[0];
  src[1] += area[1];
  /* An interlaced frame is scaled field by field, and GstVideoConverter
   * wants both fields of the same height on each side (fields of no
   * rows, or of 2 and 1, are CRITICALs in its scaler): even rows and
   * heights of at least 2 (the caps have at least two rows). */
  if (GST_VIDEO_INFO_IS_INTERLACED (&pp->in_info)) {
    src[3] = MAX (src[3] & ~1, 2);
    src[1] = MIN (src[1] & ~1, GST_VIDEO_INFO_HEIGHT (&pp->in_info) - src[3]);
    dst[3] = MAX (dst[3] & ~1, 2);
    dst[1] &= ~1;
  }
  config =
      gst_structure_new ("GstVideoConverter", GST_VIDEO_CONVERTER_OPT_SRC_X,
          G_TYPE_INT, src[0], GST_VIDEO_CONVERTER_OPT_SRC_Y, G_TYPE_INT, src[1],
          GST_VIDEO_CONVERTER_OPT_SRC_WIDTH, G_TYPE_INT, src[2],
          GST_VIDEO_CONVERTER_OPT_SRC_HEIGHT, G_TYPE_INT, src[3],
          GST_VIDEO_CONVERTER_OPT_DEST_X, G_TYPE_INT, dst[0],
          GST_VIDEO_CONVERTER_OPT_DEST_Y, G_TYPE_INT, dst[1],
          GST_VIDEO_CONVERTER_OPT_DEST_WIDTH, G_TYPE_INT, dst[2],
          GST_VIDEO_CONVERTER_OPT_DEST_HEIGHT, G_TYPE_INT, dst[3],
          GST_VIDEO_CONVERTER_OPT_FILL_BORDER, G_TYPE_BOOLEAN, TRUE,
          GST_VIDEO_CONVERTER_OPT_BORDER_ARGB, G_TYPE_UINT, info->border_argb,
          /* bilinear, as torchvision's Resize; cheaper than the default
           * cubic on large frames */
          GST_VIDEO_CONVERTER_OPT_RESAMPLER_METHOD,
          GST_TYPE_VIDEO_RESAMPLER_METHOD, GST_VIDEO_RESAMPLER_METHOD_LINEAR,
          /* the engine's threads are idle while frames are converted */
          GST_VIDEO_CONVERTER_OPT_THREADS, G_TYPE_UINT,
          threads > 0 ? threads : g_get_num_processors (), NULL);
  pp->converter = gst_video_converter_new (&pp->in_info, &pp->rgb_info, config);
  if (pp->converter == NULL) {
    g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_NEGOTIATION,
        "no video converter from %s %dx%d to RGB %dx%d",
        GST_VIDEO_INFO_NAME (&pp->in_info), GST_VIDEO_INFO_WIDTH (&pp->in_info),
        GST_VIDEO_INFO_HEIGHT (&pp->in_info), info->width, info->height);
    return FALSE;
  }
  pp->single_use =
      src[3] < (GST_VIDEO_INFO_IS_INTERLACED (&pp->in_info) ? 2 : 1)
          * CONVERTER_REUSE_MIN_ROWS;
  memcpy (pp->area, area, sizeof area);
  pp->resize = resize;
  pp->width = info->width;
  pp->height = info->height;
  pp->border_argb = info->border_argb;
  pp->threads = threads;
  GST_DEBUG (
      "converter %s %dx%d, source %d,%d %dx%d -> RGB %dx%d at %d,%d %dx%d",
      GST_VIDEO_INFO_NAME (&pp->in_info), GST_VIDEO_INFO_WIDTH (&pp->in_info),
      GST_VIDEO_INFO_HEIGHT (&pp->in_info), src[0], src[1], src[2], src[3],
      info->width, info->height, dst[0], dst[1], dst[2], dst[3]);
  return TRUE;
}

/* The per-element pattern of the normalization over one row of packed
 * RGB: scale_r, scale_g, scale_b (and the offsets) repeated width times. */
static void
ensure_row_pattern (GstVggPreprocess *pp, const GstVggModelInfo *info)
{
  gsize n = (gsize) 3 * info->width;

  if (pp->row_len == n
      && memcmp (pp->row_scale, info->scale, sizeof info->scale) == 0
      && memcmp (pp->row_offset, info->offset, sizeof info->offset) == 0)
    return;
  pp->row_scale = g_renew (gfloat, pp->row_scale, n);
  pp->row_offset = g_renew (gfloat, pp->row_offset, n);
  for (gsize i = 0; i < n; i++) {
    pp->row_scale[i] = info->scale[i % 3];
    pp->row_offset[i] = info->offset[i % 3];
  }
  pp->row_len = n;
}

gboolean
gst_vgg_preprocess_frame (GstVggPreprocess *pp, const GstVggModelInfo *info,
    GstVggInferResize resize, guint threads, GstBuffer *buffer, guint64 number,
    const gint crop[4], gfloat *out, GError **error)
{
  GstVideoFrame in, rgb;
  gsize row_len = (gsize) 3 * info->width;
  gchar *reason = NULL;
  gint stride;

  if (!ensure_converter (pp, info, resize, threads, crop, error))
    return FALSE;
  ensure_row_pattern (pp, info);
  if (!gst_vgg_video_frame_map (
          &in, &pp->in_info, buffer, GST_MAP_READ, &reason)) {
    g_set_error (error, GST_STREAM_ERROR, GST_STREAM_ERROR_FORMAT,
        "Frame %" G_GUINT64_FORMAT " (pts %" GST_TIME_FORMAT
        ") does not hold a %s %dx%d picture: %s",
        number, GST_TIME_ARGS (GST_BUFFER_PTS (buffer)),
        GST_VIDEO_INFO_NAME (&pp->in_info), GST_VIDEO_INFO_WIDTH (&pp->in_info),
        GST_VIDEO_INFO_HEIGHT (&pp->in_info), reason);
    g_free (reason);
    return FALSE;
  }
  if (!gst_video_frame_map (&rgb, &pp->rgb_info, pp->rgb, GST_MAP_WRITE)) {
    gst_video_frame_unmap (&in);
    g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_FAILED,
        "could not map the conversion scratch");
    return FALSE;
  }
  gst_video_converter_frame (pp->converter, &in, &rgb);
  if (pp->single_use)
    g_clear_pointer (&pp->converter, gst_video_converter_free);
  stride = GST_VIDEO_FRAME_PLANE_STRIDE (&rgb, 0);
  /* each packed RGB row is a row of the interleaved (h, w, 3) input */
  for (gint y = 0; y < info->height; y++) {
    const guint8 *row = (const guint8 *) GST_VIDEO_FRAME_PLANE_DATA (&rgb, 0)
        + (gsize) y * stride;
    vgg_orc_bytes_to_floats (
        out + y * row_len, row, pp->row_scale, pp->row_offset, (int) row_len);
  }
  gst_video_frame_unmap (&rgb);
  gst_video_frame_unmap (&in);
  return TRUE;
}

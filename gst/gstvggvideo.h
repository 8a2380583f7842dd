/* Caps and frames from a careless or hostile upstream, checked before
 * use by vgginfer and vggoverlay (private to the plugin).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __GST_VGG_VIDEO_H__
#define __GST_VGG_VIDEO_H__

#include <gst/gst.h>
#include <gst/video/video.h>

G_BEGIN_DECLS

/* Largest frame width and height the elements take (16K video); the pad
 * templates say so, and a converter for wider frames would allocate
 * gigabytes of line buffers. */
#define GST_VGG_VIDEO_MAX_SIZE 16384

#define GST_VGG_VIDEO_FORMATS                                                  \
  "{ RGB, BGR, RGBx, BGRx, xRGB, xBGR, RGBA, BGRA, ARGB, ABGR, I420, YV12, "   \
  "NV12, NV21, YUY2, UYVY, GRAY8 }"

/* The fields of the elements' raw video caps, after the media type (and
 * features): the formats, sizes up to GST_VGG_VIDEO_MAX_SIZE, any rate.
 * interlace-mode is not listed (caps without the field would no longer
 * be a subset); "alternate" is refused by gst_vgg_video_info_from_caps. */
#define GST_VGG_VIDEO_CAPS_FIELDS                                              \
  "format = (string) " GST_VGG_VIDEO_FORMATS ", "                              \
  "width = (int) [ 1, 16384 ], height = (int) [ 1, 16384 ], "                  \
  "framerate = (fraction) [ 0, max ]"

/* Parses fixed raw video caps the elements can take into info; FALSE
 * with *reason (a new string saying what is wrong, for a user) when they
 * cannot be taken. */
gboolean gst_vgg_video_info_from_caps (
    GstVideoInfo *info, GstCaps *caps, gchar **reason);

/* Answers an ACCEPT_CAPS query of an element's sink pad: FALSE for caps
 * that gst_vgg_video_info_from_caps refuses, else the default answer.
 *
 * GStreamer asks this query before handing a CAPS event to the pad's
 * event function, and a refusal there means the element never sees the
 * event: upstream only gets GST_FLOW_NOT_NEGOTIATED.  So when the caps
 * refused are the current caps of the peer (upstream has committed to
 * them and is sending them), the element posts a NEGOTIATION error
 * saying what is wrong, once per caps (*last_error, under the object
 * lock, remembers them); speculative queries are answered silently. */
gboolean gst_vgg_video_sink_accept_caps (GstElement *element, GstPad *pad,
    GstObject *parent, GstQuery *query, GstCaps **last_error);

/* gst_video_frame_map() for a buffer from anywhere: a GstVideoMeta is
 * checked first (format, size, planes: GStreamer's own checks are
 * g_return_val_if_fail CRITICALs), and after mapping every plane's
 * offset, stride and rows must lie inside the memory mapped for it
 * (GStreamer checks only where a plane starts, and a lying stride would
 * make the converter read past the end).  FALSE with *reason when the
 * buffer cannot be mapped as info. */
gboolean gst_vgg_video_frame_map (GstVideoFrame *frame,
    const GstVideoInfo *info, GstBuffer *buffer, GstMapFlags flags,
    gchar **reason);

G_END_DECLS

#endif /* __GST_VGG_VIDEO_H__ */

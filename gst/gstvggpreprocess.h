/* Frames to the network's input: the resize policy (fit), a
 * GstVideoConverter from the frame's format straight to packed RGB at the
 * model's input size, and ORC for the normalization, writing the engine's
 * interleaved (NHWC) layout directly.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __GST_VGG_PREPROCESS_H__
#define __GST_VGG_PREPROCESS_H__

#include <gst/gst.h>
#include <gst/video/video.h>

#include "gstvggenums.h"
#include "gstvggmodelinfo.h"

G_BEGIN_DECLS

/* The source rectangle (crop) and destination rectangle, x, y, width,
 * height, of the conversion of a w x h frame to the model's mw x mh
 * input under `resize`. */
void gst_vgg_fit (GstVggInferResize resize, gint w, gint h, gint mw, gint mh,
    gint src[4], gint dst[4]);

/* A streaming thread's preprocessing state; embedded, _init/_clear. */
typedef struct
{
  GstVideoInfo in_info; /* the caps */
  gboolean have_info;

  /* The converter, remade when what it was made for changes, and after
   * each frame when single_use (see CONVERTER_REUSE_MIN_ROWS). */
  GstVideoConverter *converter;
  gboolean single_use;
  GstVggInferResize resize;
  gint area[4];        /* x, y, w, h of the frame that is fed */
  gint width, height;  /* the model's input size */
  guint32 border_argb; /* letterbox borders */
  guint threads;
  GstVideoInfo rgb_info; /* packed RGB at the model's input size */
  GstBuffer *rgb;        /* one frame of rgb_info */

  /* The normalization over a row of rgb: (row_len) = 3 * width values,
   * the model's scale (and offset) per channel, repeated. */
  gfloat *row_scale;
  gfloat *row_offset;
  gsize row_len;
} GstVggPreprocess;

void gst_vgg_preprocess_init (GstVggPreprocess *pp);
/* Frees the converter and forgets the caps (also at a state change down
 * to READY). */
void gst_vgg_preprocess_clear (GstVggPreprocess *pp);

/* New caps: FALSE with *reason (a new string) when they cannot be taken;
 * frames then fail until caps that can. */
gboolean gst_vgg_preprocess_set_caps (
    GstVggPreprocess *pp, GstCaps *caps, gchar **reason);

/* One frame (or the part `crop` of it: x, y, w, h within the frame, NULL
 * for all of it; `resize` fits that part) to `out`, (info->height, info->width, 3) interleaved floats
 * (the engine's NHWC input, for vgg_context_forward_nhwc) normalized with
 * info's mean and std: out = x * scale + offset per channel, a multiply
 * then an add, as torchvision's (x / 255 - mean) / std within 2 ulp.  `threads` (0 = one per processor) are the
 * converter's.  FALSE with a GST_STREAM_ERROR (FORMAT when the buffer does
 * not hold the picture its caps or GstVideoMeta describe, naming frame
 * number `number` and its timestamp) or a GST_CORE_ERROR_NEGOTIATION. */
gboolean gst_vgg_preprocess_frame (GstVggPreprocess *pp,
    const GstVggModelInfo *info, GstVggInferResize resize, guint threads,
    GstBuffer *buffer, guint64 number, const gint crop[4], gfloat *out,
    GError **error);

G_END_DECLS

#endif /* __GST_VGG_PREPROCESS_H__ */

/* vggoverlay: draws the GstVggMeta results on the video.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __GST_VGG_OVERLAY_H__
#define __GST_VGG_OVERLAY_H__

#include <gst/gst.h>
#include <gst/video/video.h>
#include <pango/pangocairo.h>

#include "gstvggmeta.h"

G_BEGIN_DECLS

#define GST_TYPE_VGG_OVERLAY (gst_vgg_overlay_get_type ())
G_DECLARE_FINAL_TYPE (
    GstVggOverlay, gst_vgg_overlay, GST, VGG_OVERLAY, GstElement)

#define GST_TYPE_VGG_OVERLAY_POSITION (gst_vgg_overlay_position_get_type ())
GType gst_vgg_overlay_position_get_type (void);

typedef enum
{
  GST_VGG_OVERLAY_POSITION_TOP_LEFT,
  GST_VGG_OVERLAY_POSITION_TOP_RIGHT,
  GST_VGG_OVERLAY_POSITION_BOTTOM_LEFT,
  GST_VGG_OVERLAY_POSITION_BOTTOM_RIGHT
} GstVggOverlayPosition;

/* The largest top-k drawn: more rows than this are not legible. */
#define GST_VGG_OVERLAY_MAX_TOP_K 32

/* The settings that shape the picture, as one value so the streaming
 * thread can take a consistent copy. */
typedef struct
{
  GstVggOverlayPosition position;
  guint top_k;
  gboolean show_scores;
  gboolean show_bars;
  gboolean show_regions;
  guint32 color;            /* ARGB */
  guint32 background_color; /* ARGB */
} GstVggOverlaySettings;

/* What a rendered picture shows: the drawn entries, scores rounded to the
 * 0.1 % that is printed (bars are shorter than 1000 pixels, so the same
 * rounding fixes them too). */
typedef struct
{
  guint n;
  gint class_id[GST_VGG_OVERLAY_MAX_TOP_K];
  GQuark label[GST_VGG_OVERLAY_MAX_TOP_K];
  gint permille[GST_VGG_OVERLAY_MAX_TOP_K];
} GstVggOverlayKey;

/* What a rendered picture of the regions shows, per region drawn: its
 * box cut to the frame and its top-1 class, rounded as in
 * #GstVggOverlayKey.  All 32-bit fields, so arrays compare with memcmp. */
typedef struct
{
  gint x, y, w, h;
  gint class_id;
  GQuark label;
  gint permille; /* -1: the region has no results, outline only */
} GstVggOverlayRegionKey;

struct _GstVggOverlay
{
  GstElement parent;

  GstPad *sinkpad;
  GstPad *srcpad;

  /* Settings, under the object lock; serial counts their changes. */
  GstVggOverlaySettings settings;
  gchar *font_desc;
  guint settings_serial;

  /* Streaming thread (and state changes) only. */
  GstVideoInfo info;
  gboolean have_info;
  gboolean attach;              /* attach a composition meta, else blend */
  GstVggOverlaySettings active; /* the copy in use */
  guint active_serial;          /* settings_serial of `active` */
  PangoContext *pango_context;  /* from NULL to READY up */
  PangoLayout *layout;          /* of pango_context */
  PangoFontDescription *font;   /* parsed font_desc */
  GstVggOverlayKey key;         /* what `results_rect` shows */
  GstVideoOverlayRectangle *results_rect; /* NULL: nothing to draw */
  gboolean have_results;  /* `key` is rendered (maybe as nothing) */
  GArray *region_key;     /* of GstVggOverlayRegionKey: `regions_rect` */
  GArray *region_scratch; /* the next frame's, swapped with region_key */
  GArray *label_boxes;    /* of cairo_rectangle_int_t, one per region */
  GstVideoOverlayRectangle *regions_rect; /* NULL: nothing to draw */
  gboolean have_regions;                  /* `region_key` is rendered */
  /* results_rect and regions_rect, NULL when both are */
  GstVideoOverlayComposition *composition;
  guint64 frames;      /* frames received since the last flush */
  GstCaps *caps_error; /* last caps refused with an error (object lock) */
};

GST_ELEMENT_REGISTER_DECLARE (vggoverlay);

G_END_DECLS

#endif /* __GST_VGG_OVERLAY_H__ */

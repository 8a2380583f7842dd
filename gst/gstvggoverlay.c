/* vggoverlay: draws the GstVggMeta results on the video.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
/**
 * SECTION:element-vggoverlay
 * @title: vggoverlay
 * @short_description: draws the top-k classes of vgginfer, and its
 *   regions, on the video
 *
 * vggoverlay draws the results that vgginfer attached to a frame as a
 * #GstVggMeta: one row per class, best first, with its label, a bar
 * chart of its probability (#GstVggOverlay:show-bars) and the probability
 * in percent (#GstVggOverlay:show-scores), on a box of
 * #GstVggOverlay:background-color in one corner of the frame
 * (#GstVggOverlay:position).  Text and bars are drawn with pango and cairo
 * in #GstVggOverlay:color and #GstVggOverlay:font-desc; a class without a
 * label is written "class N".  The box is cut to the frame when it does
 * not fit, and its corners and size are even so that chroma subsampling
 * does not reach outside it.
 *
 * When downstream accepts the `meta:GstVideoOverlayComposition` caps
 * feature and the #GstVideoOverlayCompositionMeta in its ALLOCATION query
 * (e.g. glimagesink), the box is attached to the buffer as that meta and
 * the pixels are left as they are, for the sink to draw; otherwise it is
 * blended into the frame with gst_video_overlay_composition_blend().
 *
 * When the meta holds regions (vgginfer inference-region=roi-list, on
 * the boxes of a detector such as facedetect, or vgginfer regions=...)
 * and #GstVggOverlay:show-regions is on (the default), each region's box
 * is outlined in #GstVggOverlay:color, with a line of max (2, height /
 * 240) pixels drawn inside the box and cut to the frame, and its best
 * class (with its score when #GstVggOverlay:show-scores is on) is written
 * in a small box of #GstVggOverlay:background-color at the region's top
 * left corner: above the box when there is room, else just inside it.  A
 * region without results gets its outline only.  The frame's own results
 * are drawn as above, over the regions; in roi-list mode the frame has
 * none, so only the regions are drawn.
 *
 * Frames without a #GstVggMeta, or whose meta holds no classes (vgginfer
 * in mode=features) and no regions to draw, pass untouched.  The pictures
 * are rendered again only when what they show changes (the classes, their
 * scores rounded to the printed 0.1 %, the regions' boxes, the properties
 * or the frame size).
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 videotestsrc ! vgginfer model=vgg16.safetensors ! \
 *     vggoverlay position=top-right top-k=5 ! videoconvert ! autovideosink
 * ]| Shows the five best ImageNet classes of VGG16 for each test frame in
 * the top right corner of the video.
 * |[
 * gst-launch-1.0 v4l2src ! videoconvert ! \
 *     facedetect display=false updates=every_frame ! \
 *     vgginfer model=fashion-vgg.safetensors inference-region=roi-list ! \
 *     videoconvert ! vggoverlay ! videoconvert ! autovideosink
 * ]| Outlines every face the camera sees, with the class the model gives
 * it (see examples/launch/faces.sh).
 */

#include "gstvggoverlay.h"
#include "gstvggvideo.h"

#include <math.h>
#include <string.h>

GST_DEBUG_CATEGORY_STATIC (gst_vgg_overlay_debug);
#define GST_CAT_DEFAULT gst_vgg_overlay_debug

#define DEFAULT_POSITION GST_VGG_OVERLAY_POSITION_TOP_LEFT
#define DEFAULT_FONT_DESC "Sans 12"
#define DEFAULT_TOP_K 3
#define DEFAULT_SHOW_SCORES TRUE
#define DEFAULT_SHOW_BARS TRUE
#define DEFAULT_SHOW_REGIONS TRUE
#define DEFAULT_COLOR 0xffffffff
#define DEFAULT_BACKGROUND_COLOR 0x80000000

enum
{
  PROP_0,
  PROP_POSITION,
  PROP_FONT_DESC,
  PROP_TOP_K,
  PROP_SHOW_SCORES,
  PROP_SHOW_BARS,
  PROP_SHOW_REGIONS,
  PROP_COLOR,
  PROP_BACKGROUND_COLOR
};

/* The formats and sizes of vgginfer; gst_video_overlay_composition_blend()
 * handles all of them. */
#define OVERLAY_CAPS                                                           \
  "video/x-raw, " GST_VGG_VIDEO_CAPS_FIELDS                                    \
  "; video/x-raw(" GST_CAPS_FEATURE_META_GST_VIDEO_OVERLAY_COMPOSITION         \
  "), " GST_VGG_VIDEO_CAPS_FIELDS                                              \
  "; video/x-raw(" GST_CAPS_FEATURE_MEMORY_SYSTEM_MEMORY                       \
  ", " GST_CAPS_FEATURE_META_GST_VIDEO_OVERLAY_COMPOSITION                     \
  "), " GST_VGG_VIDEO_CAPS_FIELDS

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE (
    "sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS (OVERLAY_CAPS));

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE (
    "src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS (OVERLAY_CAPS));

#define gst_vgg_overlay_parent_class parent_class
G_DEFINE_TYPE (GstVggOverlay, gst_vgg_overlay, GST_TYPE_ELEMENT);
GST_ELEMENT_REGISTER_DEFINE (
    vggoverlay, "vggoverlay", GST_RANK_NONE, GST_TYPE_VGG_OVERLAY);

GType
gst_vgg_overlay_position_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = { { GST_VGG_OVERLAY_POSITION_TOP_LEFT,
                                           "Top left corner", "top-left" },
    { GST_VGG_OVERLAY_POSITION_TOP_RIGHT, "Top right corner", "top-right" },
    { GST_VGG_OVERLAY_POSITION_BOTTOM_LEFT, "Bottom left corner",
        "bottom-left" },
    { GST_VGG_OVERLAY_POSITION_BOTTOM_RIGHT, "Bottom right corner",
        "bottom-right" },
    { 0, NULL, NULL } };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstVggOverlayPosition", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

static void gst_vgg_overlay_set_property (
    GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec);
static void gst_vgg_overlay_get_property (
    GObject *object, guint prop_id, GValue *value, GParamSpec *pspec);
static void gst_vgg_overlay_finalize (GObject *object);
static GstStateChangeReturn gst_vgg_overlay_change_state (
    GstElement *element, GstStateChange transition);
static GstFlowReturn gst_vgg_overlay_chain (
    GstPad *pad, GstObject *parent, GstBuffer *buffer);
static gboolean gst_vgg_overlay_sink_event (
    GstPad *pad, GstObject *parent, GstEvent *event);
static gboolean gst_vgg_overlay_sink_query (
    GstPad *pad, GstObject *parent, GstQuery *query);
static gboolean gst_vgg_overlay_src_query (
    GstPad *pad, GstObject *parent, GstQuery *query);

static void
gst_vgg_overlay_class_init (GstVggOverlayClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  const GParamFlags playing =
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING;

  GST_DEBUG_CATEGORY_INIT (
      gst_vgg_overlay_debug, "vggoverlay", 0, "VGG results overlay");

  gobject_class->set_property = gst_vgg_overlay_set_property;
  gobject_class->get_property = gst_vgg_overlay_get_property;
  gobject_class->finalize = gst_vgg_overlay_finalize;

  g_object_class_install_property (gobject_class, PROP_POSITION,
      g_param_spec_enum ("position", "Position",
          "Corner of the frame where the results are drawn",
          GST_TYPE_VGG_OVERLAY_POSITION, DEFAULT_POSITION, playing));
  g_object_class_install_property (gobject_class, PROP_FONT_DESC,
      g_param_spec_string ("font-desc", "Font description",
          "Pango font description of the text, e.g. \"Sans Bold 16\" (sizes "
          "in points are drawn one pixel per point; the bars and the box "
          "scale with the text)",
          DEFAULT_FONT_DESC, playing));
  g_object_class_install_property (gobject_class, PROP_TOP_K,
      g_param_spec_uint ("top-k", "Top k",
          "Largest number of classes drawn, best first (fewer when the meta "
          "holds fewer)",
          1, GST_VGG_OVERLAY_MAX_TOP_K, DEFAULT_TOP_K, playing));
  g_object_class_install_property (gobject_class, PROP_SHOW_SCORES,
      g_param_spec_boolean ("show-scores", "Show scores",
          "Write the probability of each class in percent", DEFAULT_SHOW_SCORES,
          playing));
  g_object_class_install_property (gobject_class, PROP_SHOW_BARS,
      g_param_spec_boolean ("show-bars", "Show bars",
          "Draw a bar chart of the probabilities", DEFAULT_SHOW_BARS, playing));
  g_object_class_install_property (gobject_class, PROP_SHOW_REGIONS,
      g_param_spec_boolean ("show-regions", "Show regions",
          "Draw the box of each region of the meta (vgginfer "
          "inference-region=roi-list or regions=...) in the text color, "
          "with its best class (and score, with show-scores) at its top "
          "left corner",
          DEFAULT_SHOW_REGIONS, playing));
  g_object_class_install_property (gobject_class, PROP_COLOR,
      g_param_spec_uint ("color", "Color",
          "Color of the text and bars, big-endian ARGB (0xAARRGGBB)", 0,
          G_MAXUINT32, DEFAULT_COLOR, playing));
  g_object_class_install_property (gobject_class, PROP_BACKGROUND_COLOR,
      g_param_spec_uint ("background-color", "Background color",
          "Color of the box behind the results, big-endian ARGB "
          "(0xAARRGGBB); the default is half-transparent black",
          0, G_MAXUINT32, DEFAULT_BACKGROUND_COLOR, playing));

  gst_type_mark_as_plugin_api (GST_TYPE_VGG_OVERLAY_POSITION, 0);

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class, "VGG results overlay",
      "Filter/Editor/Video",
      "Draws the top-k classes of a GstVggMeta, with scores and a bar "
      "chart, and the boxes and best classes of its regions, on the video",
      "gst-vgg developers");
  element_class->change_state = gst_vgg_overlay_change_state;
}

static void
gst_vgg_overlay_init (GstVggOverlay *self)
{
  self->sinkpad = gst_pad_new_from_static_template (&sink_template, "sink");
  gst_pad_set_chain_function (self->sinkpad, gst_vgg_overlay_chain);
  gst_pad_set_event_function (self->sinkpad, gst_vgg_overlay_sink_event);
  gst_pad_set_query_function (self->sinkpad, gst_vgg_overlay_sink_query);
  GST_PAD_SET_PROXY_ALLOCATION (self->sinkpad);
  gst_element_add_pad (GST_ELEMENT (self), self->sinkpad);

  self->srcpad = gst_pad_new_from_static_template (&src_template, "src");
  gst_pad_set_query_function (self->srcpad, gst_vgg_overlay_src_query);
  gst_element_add_pad (GST_ELEMENT (self), self->srcpad);

  self->settings.position = DEFAULT_POSITION;
  self->settings.top_k = DEFAULT_TOP_K;
  self->settings.show_scores = DEFAULT_SHOW_SCORES;
  self->settings.show_bars = DEFAULT_SHOW_BARS;
  self->settings.show_regions = DEFAULT_SHOW_REGIONS;
  self->settings.color = DEFAULT_COLOR;
  self->settings.background_color = DEFAULT_BACKGROUND_COLOR;
  self->font_desc = g_strdup (DEFAULT_FONT_DESC);
  self->region_key =
      g_array_new (FALSE, FALSE, sizeof (GstVggOverlayRegionKey));
  self->region_scratch =
      g_array_new (FALSE, FALSE, sizeof (GstVggOverlayRegionKey));
  self->label_boxes =
      g_array_new (FALSE, FALSE, sizeof (cairo_rectangle_int_t));
  self->settings_serial = 1;
  self->active_serial = 0;
}

static void
gst_vgg_overlay_set_property (
    GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  GstVggOverlay *self = GST_VGG_OVERLAY (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_POSITION:
      self->settings.position = g_value_get_enum (value);
      break;
    case PROP_FONT_DESC:
      g_free (self->font_desc);
      self->font_desc = g_value_dup_string (value);
      break;
    case PROP_TOP_K:
      self->settings.top_k = g_value_get_uint (value);
      break;
    case PROP_SHOW_SCORES:
      self->settings.show_scores = g_value_get_boolean (value);
      break;
    case PROP_SHOW_BARS:
      self->settings.show_bars = g_value_get_boolean (value);
      break;
    case PROP_SHOW_REGIONS:
      self->settings.show_regions = g_value_get_boolean (value);
      break;
    case PROP_COLOR:
      self->settings.color = g_value_get_uint (value);
      break;
    case PROP_BACKGROUND_COLOR:
      self->settings.background_color = g_value_get_uint (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  self->settings_serial++;
  GST_OBJECT_UNLOCK (self);
}

static void
gst_vgg_overlay_get_property (
    GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  GstVggOverlay *self = GST_VGG_OVERLAY (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_POSITION:
      g_value_set_enum (value, self->settings.position);
      break;
    case PROP_FONT_DESC:
      g_value_set_string (value, self->font_desc);
      break;
    case PROP_TOP_K:
      g_value_set_uint (value, self->settings.top_k);
      break;
    case PROP_SHOW_SCORES:
      g_value_set_boolean (value, self->settings.show_scores);
      break;
    case PROP_SHOW_BARS:
      g_value_set_boolean (value, self->settings.show_bars);
      break;
    case PROP_SHOW_REGIONS:
      g_value_set_boolean (value, self->settings.show_regions);
      break;
    case PROP_COLOR:
      g_value_set_uint (value, self->settings.color);
      break;
    case PROP_BACKGROUND_COLOR:
      g_value_set_uint (value, self->settings.background_color);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_vgg_overlay_clear_pango (GstVggOverlay *self)
{
  g_clear_object (&self->layout);
  g_clear_object (&self->pango_context);
  g_clear_pointer (&self->font, pango_font_description_free);
  /* the font is parsed again with the next frame (the serial is written
   * by the property setters, under the object lock) */
  GST_OBJECT_LOCK (self);
  self->active_serial = self->settings_serial - 1;
  GST_OBJECT_UNLOCK (self);
}

/* Forgets what was rendered: the next frame with a meta renders again. */
static void
gst_vgg_overlay_clear_pictures (GstVggOverlay *self)
{
  g_clear_pointer (&self->composition, gst_video_overlay_composition_unref);
  g_clear_pointer (&self->results_rect, gst_video_overlay_rectangle_unref);
  g_clear_pointer (&self->regions_rect, gst_video_overlay_rectangle_unref);
  self->have_results = FALSE;
  self->have_regions = FALSE;
}

static void
gst_vgg_overlay_finalize (GObject *object)
{
  GstVggOverlay *self = GST_VGG_OVERLAY (object);

  gst_vgg_overlay_clear_pango (self);
  gst_vgg_overlay_clear_pictures (self);
  g_array_unref (self->region_key);
  g_array_unref (self->region_scratch);
  g_array_unref (self->label_boxes);
  gst_clear_caps (&self->caps_error);
  g_free (self->font_desc);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

/* --- drawing --- */

static void
set_source_argb (cairo_t *cr, guint32 argb, gdouble alpha_scale)
{
  cairo_set_source_rgba (cr, ((argb >> 16) & 0xff) / 255.0,
      ((argb >> 8) & 0xff) / 255.0, (argb & 0xff) / 255.0,
      ((argb >> 24) & 0xff) / 255.0 * alpha_scale);
}

static gint
round_up_even (gint v)
{
  return (v + 1) & ~1;
}

/* The box of `w` x `h` pixels in one corner of a frame of `fw` x `fh`:
 * a margin of 1/50 of the shorter side, cut to the frame, every corner
 * even so that the 2x2 chroma blocks of I420 or NV12 (and the pixel pairs
 * of YUY2) are either wholly inside or wholly outside.  FALSE when no box
 * fits. */
static gboolean
place_box (GstVggOverlayPosition position, gint fw, gint fh, gint *x, gint *y,
    gint *w, gint *h)
{
  gint margin = MAX (2, (MIN (fw, fh) / 50) & ~1);
  gint mx = fw - 2 * margin >= 2 ? margin : 0;
  gint my = fh - 2 * margin >= 2 ? margin : 0;
  gboolean left = position == GST_VGG_OVERLAY_POSITION_TOP_LEFT
      || position == GST_VGG_OVERLAY_POSITION_BOTTOM_LEFT;
  gboolean top = position == GST_VGG_OVERLAY_POSITION_TOP_LEFT
      || position == GST_VGG_OVERLAY_POSITION_TOP_RIGHT;

  *w = MIN (round_up_even (*w), (fw - 2 * mx) & ~1);
  *h = MIN (round_up_even (*h), (fh - 2 * my) & ~1);
  if (*w < 2 || *h < 2)
    return FALSE;
  *x = (left ? mx : fw - mx - *w) & ~1;
  *y = (top ? my : fh - my - *h) & ~1;
  return TRUE;
}

/* The text of a class: its label, made valid UTF-8 for pango (vgginfer's
 * labels are, an application's may not be; a quark, so the valid copy is
 * made once), or "class N" written into `fallback`. */
static const gchar *
label_text (gint class_id, GQuark label, gchar *fallback, gsize size)
{
  const gchar *text;

  if (label == 0) {
    g_snprintf (fallback, size, "class %d", class_id);
    return fallback;
  }
  text = g_quark_to_string (label);
  if (!g_utf8_validate (text, -1, NULL)) {
    gchar *valid = g_utf8_make_valid (text, -1);
    text = g_quark_to_string (g_quark_from_string (valid));
    g_free (valid);
  }
  return text;
}

/* A score as the permille that is printed (0.1 %); a NaN score (a broken
 * model, or an application's meta) draws as 0. */
static gint
score_permille (gfloat score)
{
  if (isnan (score))
    return 0;
  return (gint) CLAMP (lrintf (CLAMP (score, 0.0f, 1.0f) * 1000.0f), 0, 1000);
}

/* The one layout draws every text of the element, one line at a time, in
 * the font of font-desc and at most half the frame wide. */
static void
prepare_layout (GstVggOverlay *self)
{
  pango_layout_set_font_description (self->layout, self->font);
  pango_layout_set_ellipsize (self->layout, PANGO_ELLIPSIZE_END);
  pango_layout_set_width (self->layout,
      MAX (GST_VIDEO_INFO_WIDTH (&self->info) / 2, 1) * PANGO_SCALE);
}

/* A `w` x `h` picture for a rectangle of a composition, drawn with cairo
 * straight into the buffer that becomes the rectangle.  cairo's ARGB32 is
 * premultiplied, native-endian 32-bit ARGB: the byte order of
 * GST_VIDEO_OVERLAY_COMPOSITION_FORMAT_RGB. */
typedef struct
{
  GstBuffer *pixels;
  GstMapInfo map;
  cairo_surface_t *surface;
  cairo_t *cr;
} GstVggCanvas;

static gboolean
canvas_begin (GstVggCanvas *c, gint w, gint h)
{
  gsize offset[GST_VIDEO_MAX_PLANES] = { 0 };
  gint strides[GST_VIDEO_MAX_PLANES] = { 0 };

  strides[0] = cairo_format_stride_for_width (CAIRO_FORMAT_ARGB32, w);
  c->pixels = gst_buffer_new_allocate (NULL, (gsize) strides[0] * h, NULL);
  gst_buffer_add_video_meta_full (c->pixels, GST_VIDEO_FRAME_FLAG_NONE,
      GST_VIDEO_OVERLAY_COMPOSITION_FORMAT_RGB, w, h, 1, offset, strides);
  if (!gst_buffer_map (c->pixels, &c->map, GST_MAP_WRITE)) {
    gst_buffer_unref (c->pixels);
    return FALSE;
  }
  c->surface = cairo_image_surface_create_for_data (
      c->map.data, CAIRO_FORMAT_ARGB32, w, h, strides[0]);
  c->cr = cairo_create (c->surface);
  return TRUE;
}

/* The drawn picture as a rectangle at x, y of the frame (transfer full). */
static GstVideoOverlayRectangle *
canvas_end (GstVggCanvas *c, gint x, gint y, gint w, gint h)
{
  GstVideoOverlayRectangle *rect;

  cairo_destroy (c->cr);
  cairo_surface_destroy (c->surface);
  gst_buffer_unmap (c->pixels, &c->map);
  rect = gst_video_overlay_rectangle_new_raw (c->pixels, x, y, w, h,
      GST_VIDEO_OVERLAY_FORMAT_FLAG_PREMULTIPLIED_ALPHA);
  gst_buffer_unref (c->pixels);
  return rect;
}

/* The label of region key `k`: its top-1 class, and its score as the
 * results box prints it when `show_scores`. */
static void
region_text (const GstVggOverlayRegionKey *k, gboolean show_scores,
    gchar *fallback, gsize fallback_size, gchar *text, gsize size)
{
  const gchar *label =
      label_text (k->class_id, k->label, fallback, fallback_size);

  const gchar *end;

  if (show_scores)
    g_snprintf (text, size, "%s %.1f%%", label, k->permille / 10.0);
  else
    g_snprintf (text, size, "%s", label);
  /* a long label cut in the middle of a character: cut before it */
  if (!g_utf8_validate (text, -1, &end))
    *(gchar *) end = '\0';
}

/* Renders `key` with the active settings: the rectangle of the results
 * box, NULL when there are no results or the frame is too small for it.
 *
 * Layout, all from the text's row height r: padding p = r/4 around the
 * rows, rows r + p/2 apart; per row the label (at most half the frame
 * wide, ellipsized), a gap of r/2, a bar of 5r with a track at a third of
 * the colour's alpha, a gap, and the score right-aligned in the width of
 * "100.0%". */
static GstVideoOverlayRectangle *
gst_vgg_overlay_render_results (GstVggOverlay *self)
{
  const GstVggOverlaySettings *s = &self->active;
  const GstVggOverlayKey *key = &self->key;
  gint fw = GST_VIDEO_INFO_WIDTH (&self->info);
  gint fh = GST_VIDEO_INFO_HEIGHT (&self->info);
  gchar fallback[GST_VGG_OVERLAY_MAX_TOP_K][32];
  const gchar *labels[GST_VGG_OVERLAY_MAX_TOP_K];
  gchar score[16];
  PangoRectangle ink, logical;
  gint row_h = 1, label_w = 0, score_w = 0, bar_w, pad, gap, pitch;
  gint x, y, w, h;
  GstVggCanvas canvas;
  cairo_t *cr;

  if (key->n == 0)
    return NULL;

  prepare_layout (self);
  for (guint i = 0; i < key->n; i++) {
    labels[i] = label_text (
        key->class_id[i], key->label[i], fallback[i], sizeof (fallback[i]));
    pango_layout_set_text (self->layout, labels[i], -1);
    pango_layout_get_pixel_extents (self->layout, &ink, &logical);
    label_w = MAX (label_w, logical.x + logical.width);
    row_h = MAX (row_h, logical.height);
  }
  pango_layout_set_text (self->layout, "100.0%", -1);
  pango_layout_get_pixel_extents (self->layout, &ink, &logical);
  score_w = logical.x + logical.width;
  row_h = MAX (row_h, logical.height);

  pad = MAX (2, row_h / 4);
  gap = MAX (2, row_h / 2);
  pitch = row_h + pad / 2;
  bar_w = 5 * row_h;
  w = pad + label_w + (s->show_bars ? gap + bar_w : 0)
      + (s->show_scores ? gap + score_w : 0) + pad;
  h = 2 * pad + key->n * pitch - (pitch - row_h);
  if (!place_box (s->position, fw, fh, &x, &y, &w, &h)) {
    GST_DEBUG_OBJECT (self, "no room for the results in %dx%d", fw, fh);
    return NULL;
  }

  if (!canvas_begin (&canvas, w, h)) {
    GST_ERROR_OBJECT (self, "could not map a new buffer");
    return NULL;
  }
  cr = canvas.cr;

  cairo_set_operator (cr, CAIRO_OPERATOR_SOURCE);
  set_source_argb (cr, s->background_color, 1.0);
  cairo_paint (cr);
  cairo_set_operator (cr, CAIRO_OPERATOR_OVER);

  for (guint i = 0; i < key->n; i++) {
    gint ry = pad + i * pitch;
    gdouble bx = pad + label_w + gap;

    set_source_argb (cr, s->color, 1.0);
    pango_layout_set_text (self->layout, labels[i], -1);
    cairo_move_to (cr, pad, ry);
    pango_cairo_show_layout (cr, self->layout);

    if (s->show_bars) {
      gdouble by = ry + row_h * 0.2, bh = MAX (1.0, row_h * 0.6);

      set_source_argb (cr, s->color, 1.0 / 3.0);
      cairo_rectangle (cr, bx, by, bar_w, bh);
      cairo_fill (cr);
      set_source_argb (cr, s->color, 1.0);
      cairo_rectangle (cr, bx, by, bar_w * key->permille[i] / 1000.0, bh);
      cairo_fill (cr);
    }
    if (s->show_scores) {
      g_snprintf (score, sizeof (score), "%.1f%%", key->permille[i] / 10.0);
      pango_layout_set_text (self->layout, score, -1);
      pango_layout_get_pixel_extents (self->layout, &ink, &logical);
      set_source_argb (cr, s->color, 1.0);
      cairo_move_to (cr,
          pad + label_w + (s->show_bars ? gap + bar_w : 0) + gap + score_w
              - (logical.x + logical.width),
          ry);
      pango_cairo_show_layout (cr, self->layout);
    }
  }

  GST_DEBUG_OBJECT (
      self, "rendered %u classes in %dx%d at %d,%d", key->n, w, h, x, y);
  return canvas_end (&canvas, x, y, w, h);
}

/* Renders self->region_key with the active settings: one rectangle, NULL
 * when no region is drawn.
 *
 * Each box is outlined inside its own edges (so a box clipped to the
 * frame keeps its outline on the frame) with a line of max (2, height /
 * 240) pixels, a width that stays visible from QVGA to 4K.  Its label
 * sits in a box like the results' at the box's top left corner: above
 * the box when there is room, else just inside it, moved left when it
 * would leave the frame.  All outlines first, then all labels, so no
 * outline crosses a label.
 *
 * The rectangle is the bounding box of what is drawn, with even corners
 * (see place_box()), transparent between the boxes: blending costs the
 * area the regions span, not the frame.  Text is laid out twice per label
 * (measured to place it, then drawn) with the element's one layout, rather
 * than keeping a layout per region: 300 regions on 320x240 render and
 * blend in 5 to 25 ms here (test_odd_and_many_regions). */
static GstVideoOverlayRectangle *
gst_vgg_overlay_render_regions (GstVggOverlay *self)
{
  const GstVggOverlaySettings *s = &self->active;
  GArray *keys = self->region_key;
  gint fw = GST_VIDEO_INFO_WIDTH (&self->info);
  gint fh = GST_VIDEO_INFO_HEIGHT (&self->info);
  gint line = MAX (2, fh / 240);
  gint x0 = fw, y0 = fh, x1 = 0, y1 = 0, w, h;
  gchar fallback[32], text[256];
  PangoRectangle ink, logical;
  GstVggCanvas canvas;
  cairo_t *cr;

  if (keys->len == 0)
    return NULL;

  /* where each label goes, and the extent of everything */
  prepare_layout (self);
  g_array_set_size (self->label_boxes, keys->len);
  for (guint i = 0; i < keys->len; i++) {
    const GstVggOverlayRegionKey *k =
        &g_array_index (keys, GstVggOverlayRegionKey, i);
    cairo_rectangle_int_t *lb =
        &g_array_index (self->label_boxes, cairo_rectangle_int_t, i);
    gint pad;

    x0 = MIN (x0, k->x);
    y0 = MIN (y0, k->y);
    x1 = MAX (x1, k->x + k->w);
    y1 = MAX (y1, k->y + k->h);
    lb->width = lb->height = 0;
    if (k->permille < 0)
      continue;
    region_text (
        k, s->show_scores, fallback, sizeof (fallback), text, sizeof (text));
    pango_layout_set_text (self->layout, text, -1);
    pango_layout_get_pixel_extents (self->layout, &ink, &logical);
    pad = MAX (2, logical.height / 4);
    lb->width = MIN (logical.x + logical.width + 2 * pad, fw);
    lb->height = MIN (logical.height + pad, fh);
    lb->x = CLAMP (k->x, 0, fw - lb->width);
    lb->y = k->y >= lb->height ? k->y - lb->height : k->y;
    lb->y = MIN (lb->y, fh - lb->height);
    x0 = MIN (x0, lb->x);
    y0 = MIN (y0, lb->y);
    x1 = MAX (x1, lb->x + lb->width);
    y1 = MAX (y1, lb->y + lb->height);
  }
  x0 &= ~1;
  y0 &= ~1;
  x1 = MIN (round_up_even (x1), fw);
  y1 = MIN (round_up_even (y1), fh);
  w = x1 - x0;
  h = y1 - y0;
  if (w < 1 || h < 1)
    return NULL;

  if (!canvas_begin (&canvas, w, h)) {
    GST_ERROR_OBJECT (self, "could not map a new buffer");
    return NULL;
  }
  cr = canvas.cr;
  cairo_set_operator (cr, CAIRO_OPERATOR_CLEAR);
  cairo_paint (cr);
  cairo_set_operator (cr, CAIRO_OPERATOR_OVER);
  cairo_translate (cr, -x0, -y0);

  /* one path for every outline: the outer rectangle clockwise, the inner
   * one counter-clockwise, so that with the winding rule the inside of a
   * box stays empty but overlapping outlines all show */
  for (guint i = 0; i < keys->len; i++) {
    const GstVggOverlayRegionKey *k =
        &g_array_index (keys, GstVggOverlayRegionKey, i);

    cairo_rectangle (cr, k->x, k->y, k->w, k->h);
    if (k->w > 2 * line && k->h > 2 * line) {
      cairo_move_to (cr, k->x + line, k->y + line);
      cairo_line_to (cr, k->x + line, k->y + k->h - line);
      cairo_line_to (cr, k->x + k->w - line, k->y + k->h - line);
      cairo_line_to (cr, k->x + k->w - line, k->y + line);
      cairo_close_path (cr);
    }
  }
  cairo_set_fill_rule (cr, CAIRO_FILL_RULE_WINDING);
  set_source_argb (cr, s->color, 1.0);
  cairo_fill (cr);

  for (guint i = 0; i < keys->len; i++) {
    const GstVggOverlayRegionKey *k =
        &g_array_index (keys, GstVggOverlayRegionKey, i);
    const cairo_rectangle_int_t *lb =
        &g_array_index (self->label_boxes, cairo_rectangle_int_t, i);

    if (lb->width == 0)
      continue;
    set_source_argb (cr, s->background_color, 1.0);
    cairo_rectangle (cr, lb->x, lb->y, lb->width, lb->height);
    cairo_fill (cr);
    region_text (
        k, s->show_scores, fallback, sizeof (fallback), text, sizeof (text));
    pango_layout_set_text (self->layout, text, -1);
    pango_layout_get_pixel_extents (self->layout, &ink, &logical);
    /* the padding of the first pass: a quarter row left and right, an
     * eighth above and below */
    set_source_argb (cr, s->color, 1.0);
    cairo_save (cr);
    cairo_rectangle (cr, lb->x, lb->y, lb->width, lb->height);
    cairo_clip (cr);
    cairo_move_to (cr, lb->x + MAX (2, logical.height / 4),
        lb->y + MAX (2, logical.height / 4) / 2);
    pango_cairo_show_layout (cr, self->layout);
    cairo_restore (cr);
  }

  GST_DEBUG_OBJECT (
      self, "rendered %u regions in %dx%d at %d,%d", keys->len, w, h, x0, y0);
  return canvas_end (&canvas, x0, y0, w, h);
}

static gboolean
key_equal (const GstVggOverlayKey *a, const GstVggOverlayKey *b)
{
  if (a->n != b->n)
    return FALSE;
  for (guint i = 0; i < a->n; i++) {
    if (a->class_id[i] != b->class_id[i] || a->label[i] != b->label[i]
        || a->permille[i] != b->permille[i])
      return FALSE;
  }
  return TRUE;
}

/* What `meta` shows of its regions into self->region_scratch: the boxes
 * that touch the frame, cut to it (an application's meta may hold any
 * box), nothing when show-regions is off. */
static void
collect_regions (GstVggOverlay *self, const GstVggMeta *meta)
{
  gint64 fw = GST_VIDEO_INFO_WIDTH (&self->info);
  gint64 fh = GST_VIDEO_INFO_HEIGHT (&self->info);

  g_array_set_size (self->region_scratch, 0);
  if (!self->active.show_regions)
    return;
  for (guint i = 0; i < meta->n_regions; i++) {
    const GstVggRegion *r = &meta->regions[i];
    gint64 rx1 = MIN ((gint64) r->x + r->w, fw);
    gint64 ry1 = MIN ((gint64) r->y + r->h, fh);
    GstVggOverlayRegionKey k;

    if ((gint64) r->x >= rx1 || (gint64) r->y >= ry1)
      continue;
    k.x = r->x;
    k.y = r->y;
    k.w = rx1 - r->x;
    k.h = ry1 - r->y;
    k.class_id = r->n_results ? r->results[0].class_id : 0;
    k.label = r->n_results ? r->results[0].label : 0;
    k.permille = r->n_results ? score_permille (r->results[0].score) : -1;
    g_array_append_val (self->region_scratch, k);
  }
}

static gboolean
region_keys_equal (GArray *a, GArray *b)
{
  /* (an empty GArray's data may be NULL, which memcmp may not get) */
  return a->len == b->len
      && (a->len == 0
          || memcmp (a->data, b->data, a->len * sizeof (GstVggOverlayRegionKey))
              == 0);
}

/* Brings self->composition up to date with `meta` and the settings;
 * renders the results box and the regions only when what they would show
 * changed. */
static void
gst_vgg_overlay_update (GstVggOverlay *self, const GstVggMeta *meta)
{
  GstVggOverlayKey key;
  gboolean changed = FALSE, dirty = FALSE;

  GST_OBJECT_LOCK (self);
  if (self->active_serial != self->settings_serial) {
    self->active = self->settings;
    self->active_serial = self->settings_serial;
    if (self->font)
      pango_font_description_free (self->font);
    self->font = pango_font_description_from_string (
        self->font_desc ? self->font_desc : DEFAULT_FONT_DESC);
    changed = TRUE;
  }
  GST_OBJECT_UNLOCK (self);

  key.n = MIN (meta->n_results, self->active.top_k);
  for (guint i = 0; i < key.n; i++) {
    const GstVggClassification *c = &meta->results[i];
    key.class_id[i] = c->class_id;
    key.label[i] = c->label;
    key.permille[i] = score_permille (c->score);
  }
  if (changed || !self->have_results || !key_equal (&key, &self->key)) {
    self->key = key;
    g_clear_pointer (&self->results_rect, gst_video_overlay_rectangle_unref);
    self->results_rect = gst_vgg_overlay_render_results (self);
    self->have_results = TRUE;
    dirty = TRUE;
  }

  collect_regions (self, meta);
  if (changed || !self->have_regions
      || !region_keys_equal (self->region_scratch, self->region_key)) {
    GArray *tmp = self->region_key;

    self->region_key = self->region_scratch;
    self->region_scratch = tmp;
    g_clear_pointer (&self->regions_rect, gst_video_overlay_rectangle_unref);
    self->regions_rect = gst_vgg_overlay_render_regions (self);
    self->have_regions = TRUE;
    dirty = TRUE;
  }

  if (!dirty)
    return;
  /* the regions under the results box, which belongs to the whole frame */
  g_clear_pointer (&self->composition, gst_video_overlay_composition_unref);
  if (self->regions_rect) {
    self->composition = gst_video_overlay_composition_new (self->regions_rect);
    if (self->results_rect)
      gst_video_overlay_composition_add_rectangle (
          self->composition, self->results_rect);
  } else if (self->results_rect) {
    self->composition = gst_video_overlay_composition_new (self->results_rect);
  }
}

/* --- caps --- */

static gboolean
features_have_composition (GstCapsFeatures *f)
{
  return f != NULL && !gst_caps_features_is_any (f)
      && gst_caps_features_contains (
          f, GST_CAPS_FEATURE_META_GST_VIDEO_OVERLAY_COMPOSITION);
}

static gboolean
features_are_system_memory (GstCapsFeatures *f)
{
  return f == NULL
      || gst_caps_features_is_equal (f, GST_CAPS_FEATURES_MEMORY_SYSTEM_MEMORY);
}

/* Appends structure `i` of `caps` to `out`, with the overlay-composition
 * feature (alone) when `composition`, in system memory otherwise. */
static void
append_with_features (
    GstCaps *out, GstCaps *caps, guint i, gboolean composition)
{
  GstStructure *s = gst_structure_copy (gst_caps_get_structure (caps, i));
  GstCapsFeatures *f = composition
      ? gst_caps_features_new_single (
          GST_CAPS_FEATURE_META_GST_VIDEO_OVERLAY_COMPOSITION)
      : gst_caps_features_new_single (GST_CAPS_FEATURE_MEMORY_SYSTEM_MEMORY);

  gst_caps_append_structure_full (out, s, f);
}

/* What `pad` can take or give, given what the peer of `other` can: the
 * same caps, and what the element can turn into them.  Towards upstream
 * (`to_sink`), downstream caps with the composition feature also allow
 * the same caps without it (we attach the meta, or blend); towards
 * downstream, every system-memory caps also comes with the feature
 * (we can attach instead of blending), first as textoverlay does. */
static GstCaps *
gst_vgg_overlay_query_caps (
    GstVggOverlay *self, GstPad *pad, GstPad *other, GstCaps *filter)
{
  GstCaps *templ = gst_pad_get_pad_template_caps (pad);
  GstCaps *peer = gst_pad_peer_query_caps (other, NULL);
  GstCaps *caps, *result;

  if (gst_caps_is_any (peer)) {
    caps = gst_caps_ref (templ);
  } else {
    GstCaps *mapped = gst_caps_new_empty ();
    gboolean to_sink = pad == self->sinkpad;

    for (guint i = 0; i < gst_caps_get_size (peer); i++) {
      GstCapsFeatures *f = gst_caps_get_features (peer, i);

      if (to_sink && features_have_composition (f)) {
        gst_caps_append_structure_full (mapped,
            gst_structure_copy (gst_caps_get_structure (peer, i)),
            gst_caps_features_copy (f));
        append_with_features (mapped, peer, i, FALSE);
      } else if (!to_sink && features_are_system_memory (f)) {
        append_with_features (mapped, peer, i, TRUE);
        append_with_features (mapped, peer, i, FALSE);
      } else {
        gst_caps_append_structure_full (mapped,
            gst_structure_copy (gst_caps_get_structure (peer, i)),
            f ? gst_caps_features_copy (f) : NULL);
      }
    }
    caps = gst_caps_intersect_full (mapped, templ, GST_CAPS_INTERSECT_FIRST);
    gst_caps_unref (mapped);
  }

  if (filter) {
    result = gst_caps_intersect_full (filter, caps, GST_CAPS_INTERSECT_FIRST);
    gst_caps_unref (caps);
  } else {
    result = caps;
  }
  gst_caps_unref (peer);
  gst_caps_unref (templ);
  GST_DEBUG_OBJECT (pad, "caps %" GST_PTR_FORMAT, result);
  return result;
}

/* Decides between attaching and blending for the input `caps` (NULL: the
 * current ones) and sets the output caps: attach when upstream already
 * sends the composition feature, or when downstream takes the feature
 * and the meta in its ALLOCATION query; blend otherwise. */
static gboolean
gst_vgg_overlay_negotiate (GstVggOverlay *self, GstCaps *caps)
{
  GstCaps *feature_caps = NULL;
  gboolean upstream_has_feature, attach = FALSE, ret = FALSE;

  gst_pad_check_reconfigure (self->srcpad);
  if (caps)
    gst_caps_ref (caps);
  else
    caps = gst_pad_get_current_caps (self->sinkpad);
  if (caps == NULL || gst_caps_is_empty (caps))
    goto out;

  upstream_has_feature =
      features_have_composition (gst_caps_get_features (caps, 0));
  if (upstream_has_feature) {
    attach = TRUE;
  } else {
    GstCaps *peer;

    feature_caps = gst_caps_copy (caps);
    gst_caps_set_features (feature_caps, 0,
        gst_caps_features_new_single (
            GST_CAPS_FEATURE_META_GST_VIDEO_OVERLAY_COMPOSITION));
    peer = gst_pad_peer_query_caps (self->srcpad, feature_caps);
    if (gst_caps_can_intersect (peer, feature_caps)) {
      GstQuery *query = gst_query_new_allocation (feature_caps, FALSE);

      /* the ALLOCATION query needs the caps on the pad first */
      if (gst_pad_set_caps (self->srcpad, feature_caps)) {
        if (!gst_pad_peer_query (self->srcpad, query))
          GST_DEBUG_OBJECT (self, "ALLOCATION query failed");
        attach = gst_query_find_allocation_meta (
            query, GST_VIDEO_OVERLAY_COMPOSITION_META_API_TYPE, NULL);
      }
      gst_query_unref (query);
    }
    gst_caps_unref (peer);
  }
  GST_DEBUG_OBJECT (self, "%s", attach ? "attaching" : "blending");

  if (attach && upstream_has_feature)
    ret = gst_pad_set_caps (self->srcpad, caps);
  else if (attach)
    ret = TRUE; /* feature_caps are set */
  else
    ret = gst_pad_set_caps (self->srcpad, caps);
  self->attach = attach;

out:
  if (!ret) {
    GST_DEBUG_OBJECT (self, "negotiation failed, retrying with next buffer");
    gst_pad_mark_reconfigure (self->srcpad);
  }
  if (feature_caps)
    gst_caps_unref (feature_caps);
  if (caps)
    gst_caps_unref (caps);
  return ret;
}

static gboolean
gst_vgg_overlay_sink_event (GstPad *pad, GstObject *parent, GstEvent *event)
{
  GstVggOverlay *self = GST_VGG_OVERLAY (parent);
  GstCaps *caps;
  gboolean ret;

  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_CAPS: {
      gchar *reason = NULL;
      gst_event_parse_caps (event, &caps);
      /* the ACCEPT_CAPS query refused what this refuses, before the event
       * got here */
      GST_OBJECT_LOCK (self);
      gst_clear_caps (&self->caps_error);
      GST_OBJECT_UNLOCK (self);
      ret = gst_vgg_video_info_from_caps (&self->info, caps, &reason);
      if (!ret)
        GST_WARNING_OBJECT (
            self, "invalid caps %" GST_PTR_FORMAT ": %s", caps, reason);
      g_free (reason);
      self->have_info = ret;
      /* a new frame size needs new pictures */
      gst_vgg_overlay_clear_pictures (self);
      if (ret)
        ret = gst_vgg_overlay_negotiate (self, caps);
      gst_event_unref (event);
      break;
    }
    case GST_EVENT_FLUSH_STOP:
      self->frames = 0;
      ret = gst_pad_event_default (pad, parent, event);
      break;
    default:
      ret = gst_pad_event_default (pad, parent, event);
      break;
  }
  return ret;
}

static gboolean
gst_vgg_overlay_sink_query (GstPad *pad, GstObject *parent, GstQuery *query)
{
  GstVggOverlay *self = GST_VGG_OVERLAY (parent);
  GstCaps *filter, *caps;

  switch (GST_QUERY_TYPE (query)) {
    case GST_QUERY_CAPS:
      gst_query_parse_caps (query, &filter);
      caps = gst_vgg_overlay_query_caps (self, pad, self->srcpad, filter);
      gst_query_set_caps_result (query, caps);
      gst_caps_unref (caps);
      return TRUE;
    case GST_QUERY_ACCEPT_CAPS:
      return gst_vgg_video_sink_accept_caps (
          GST_ELEMENT (self), pad, parent, query, &self->caps_error);
    default:
      return gst_pad_query_default (pad, parent, query);
  }
}

static gboolean
gst_vgg_overlay_src_query (GstPad *pad, GstObject *parent, GstQuery *query)
{
  GstVggOverlay *self = GST_VGG_OVERLAY (parent);
  GstCaps *filter, *caps;

  switch (GST_QUERY_TYPE (query)) {
    case GST_QUERY_CAPS:
      gst_query_parse_caps (query, &filter);
      caps = gst_vgg_overlay_query_caps (self, pad, self->sinkpad, filter);
      gst_query_set_caps_result (query, caps);
      gst_caps_unref (caps);
      return TRUE;
    default:
      return gst_pad_query_default (pad, parent, query);
  }
}

/* --- data flow --- */

/* Adds self->composition to `buffer` as a meta, after the rectangles of a
 * composition upstream already attached. */
static void
gst_vgg_overlay_attach (GstVggOverlay *self, GstBuffer *buffer)
{
  GstVideoOverlayCompositionMeta *upstream =
      gst_buffer_get_video_overlay_composition_meta (buffer);

  if (upstream) {
    GstVideoOverlayComposition *comp =
        gst_video_overlay_composition_copy (upstream->overlay);
    guint n = gst_video_overlay_composition_n_rectangles (self->composition);

    for (guint i = 0; i < n; i++)
      gst_video_overlay_composition_add_rectangle (comp,
          gst_video_overlay_composition_get_rectangle (self->composition, i));
    gst_buffer_remove_meta (buffer, (GstMeta *) upstream);
    gst_buffer_add_video_overlay_composition_meta (buffer, comp);
    gst_video_overlay_composition_unref (comp);
  } else {
    gst_buffer_add_video_overlay_composition_meta (buffer, self->composition);
  }
}

static GstFlowReturn
gst_vgg_overlay_chain (GstPad *pad, GstObject *parent, GstBuffer *buffer)
{
  GstVggOverlay *self = GST_VGG_OVERLAY (parent);
  GstVggMeta *meta;
  GstVideoFrame frame;
  gchar *reason = NULL;
  guint64 number = self->frames++;

  if (gst_pad_check_reconfigure (self->srcpad)
      && !gst_vgg_overlay_negotiate (self, NULL)) {
    gst_buffer_unref (buffer);
    return GST_PAD_IS_FLUSHING (self->srcpad) ? GST_FLOW_FLUSHING
                                              : GST_FLOW_NOT_NEGOTIATED;
  }
  if (!self->have_info) {
    GST_ELEMENT_ERROR (
        self, CORE, NEGOTIATION, (NULL), ("a buffer arrived before the caps"));
    gst_buffer_unref (buffer);
    return GST_FLOW_NOT_NEGOTIATED;
  }

  meta = gst_buffer_get_vgg_meta (buffer);
  if (meta == NULL)
    return gst_pad_push (self->srcpad, buffer);

  gst_vgg_overlay_update (self, meta);
  if (self->composition == NULL)
    return gst_pad_push (self->srcpad, buffer);

  buffer = gst_buffer_make_writable (buffer);
  if (self->attach) {
    gst_vgg_overlay_attach (self, buffer);
  } else {
    if (!gst_vgg_video_frame_map (
            &frame, &self->info, buffer, GST_MAP_READWRITE, &reason)) {
      GST_ELEMENT_ERROR (self, STREAM, FORMAT,
          ("Frame %" G_GUINT64_FORMAT " (pts %" GST_TIME_FORMAT
           ") does not hold a %s %dx%d picture: %s",
              number, GST_TIME_ARGS (GST_BUFFER_PTS (buffer)),
              GST_VIDEO_INFO_NAME (&self->info),
              GST_VIDEO_INFO_WIDTH (&self->info),
              GST_VIDEO_INFO_HEIGHT (&self->info), reason),
          ("%" GST_PTR_FORMAT, buffer));
      g_free (reason);
      gst_buffer_unref (buffer);
      return GST_FLOW_ERROR;
    }
    gst_video_overlay_composition_blend (self->composition, &frame);
    gst_video_frame_unmap (&frame);
  }
  return gst_pad_push (self->srcpad, buffer);
}

static GstStateChangeReturn
gst_vgg_overlay_change_state (GstElement *element, GstStateChange transition)
{
  GstVggOverlay *self = GST_VGG_OVERLAY (element);
  GstStateChangeReturn ret;

  if (transition == GST_STATE_CHANGE_NULL_TO_READY) {
    PangoFontMap *font_map = pango_cairo_font_map_new ();
    cairo_font_options_t *options = cairo_font_options_create ();

    gst_vgg_overlay_clear_pango (self);

    /* one font map per element: pango objects are not thread-safe, and
     * each element draws from its own streaming thread */
    self->pango_context = pango_font_map_create_context (font_map);
    g_object_unref (font_map);
    /* a point is a pixel; grey antialiasing, which every format shows */
    pango_cairo_context_set_resolution (self->pango_context, 72.0);
    cairo_font_options_set_antialias (options, CAIRO_ANTIALIAS_GRAY);
    pango_cairo_context_set_font_options (self->pango_context, options);
    cairo_font_options_destroy (options);
    self->layout = pango_layout_new (self->pango_context);
  }

  ret = GST_ELEMENT_CLASS (parent_class)->change_state (element, transition);
  if (ret == GST_STATE_CHANGE_FAILURE)
    return ret;

  switch (transition) {
    case GST_STATE_CHANGE_PAUSED_TO_READY:
      self->frames = 0;
      gst_vgg_overlay_clear_pictures (self);
      self->have_info = FALSE;
      self->attach = FALSE;
      break;
    case GST_STATE_CHANGE_READY_TO_NULL:
      gst_vgg_overlay_clear_pango (self);
      GST_OBJECT_LOCK (self);
      gst_clear_caps (&self->caps_error);
      GST_OBJECT_UNLOCK (self);
      break;
    default:
      break;
  }
  return ret;
}

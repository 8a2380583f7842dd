/* The regions of a frame that vgginfer classifies.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "gstvggregions.h"

#include <math.h>
#include <string.h>

GstVggRegionSpec *
gst_vgg_region_spec_new (void)
{
  GstVggRegionSpec *spec = g_new0 (GstVggRegionSpec, 1);

  spec->ref_count = 1;
  return spec;
}

GstVggRegionSpec *
gst_vgg_region_spec_copy (const GstVggRegionSpec *spec)
{
  GstVggRegionSpec *copy = gst_vgg_region_spec_new ();

  /* field by field: the count may change in another thread meanwhile */
  copy->roi_list = spec->roi_list;
  copy->n_zones = spec->n_zones;
  copy->min_size = spec->min_size;
  copy->max_rois = spec->max_rois;
  copy->padding = spec->padding;
  copy->classes = g_strdupv (spec->classes);
  copy->zones_text = g_strdup (spec->zones_text);
  copy->zones = g_memdup2 (spec->zones, sizeof (GstVggZone) * spec->n_zones);
  return copy;
}

/* The count with GLib's inline atomics, not g_atomic_rc_box: in the
 * plugin's own code, ThreadSanitizer sees the order the last unref gives
 * (a spec read by a setter, then freed by the streaming task) */
GstVggRegionSpec *
gst_vgg_region_spec_ref (GstVggRegionSpec *spec)
{
  g_atomic_int_inc (&spec->ref_count);
  return spec;
}

void
gst_vgg_region_spec_unref (GstVggRegionSpec *spec)
{
  if (!g_atomic_int_dec_and_test (&spec->ref_count))
    return;
  g_strfreev (spec->classes);
  g_free (spec->zones_text);
  g_free (spec->zones);
  g_free (spec);
}

gboolean
gst_vgg_region_spec_by_regions (const GstVggRegionSpec *spec)
{
  return spec->roi_list || spec->n_zones > 0;
}

void
gst_vgg_region_spec_set_classes (GstVggRegionSpec *spec, const gchar *text)
{
  GPtrArray *names = g_ptr_array_new ();
  gchar **parts = g_strsplit (text ? text : "", ",", -1);

  for (gchar **p = parts; *p; p++) {
    gchar *name = g_strstrip (*p);
    if (name[0] != '\0')
      g_ptr_array_add (names, g_strdup (name));
  }
  g_strfreev (parts);
  g_strfreev (spec->classes);
  spec->classes = NULL;
  if (names->len > 0) {
    g_ptr_array_add (names, NULL);
    spec->classes = (gchar **) g_ptr_array_free (names, FALSE);
  } else {
    g_ptr_array_free (names, TRUE);
  }
}

/* One zone "x,y,w,h" (n is its number from 1, for the messages): whole
 * pixels, or with a decimal point fractions of the frame from 0 to 1. */
static gboolean
parse_zone (const gchar *text, guint n, GstVggZone *zone, gchar **error)
{
  gchar **nums = g_strsplit (text, ",", -1);
  gboolean ok = g_strv_length (nums) == 4, whole = TRUE, in_unit = TRUE;

  zone->fractions = strchr (text, '.') != NULL;
  for (guint i = 0; ok && i < 4; i++) {
    const gchar *s = g_strstrip (nums[i]);
    gchar *end = NULL;

    zone->v[i] = g_ascii_strtod (s, &end);
    ok = s[0] != '\0' && end && *end == '\0' && isfinite (zone->v[i])
        && zone->v[i] >= 0.0 && zone->v[i] <= (gdouble) G_MAXINT
        && (i < 2 || zone->v[i] > 0.0);
    whole = whole && zone->v[i] == floor (zone->v[i]);
    in_unit = in_unit && zone->v[i] <= 1.0;
  }
  g_strfreev (nums);
  if (!ok)
    *error = g_strdup_printf ("zone %u \"%s\" is not x,y,w,h: four numbers, "
                              "w and h above 0, in pixels or (with a "
                              "decimal point) in fractions of the frame "
                              "from 0 to 1",
        n, text);
  else if (zone->fractions && !in_unit)
    *error = g_strdup_printf ("zone %u \"%s\" mixes pixels and fractions: "
                              "with a decimal point, its four numbers are "
                              "fractions of the frame, from 0 to 1",
        n, text);
  else if (!zone->fractions && !whole)
    *error = g_strdup_printf ("zone %u \"%s\" is in pixels (it has no "
                              "decimal point) but not in whole pixels",
        n, text);
  return ok && (zone->fractions ? in_unit : whole);
}

gboolean
gst_vgg_region_spec_set_zones (
    GstVggRegionSpec *spec, const gchar *text, gchar **error)
{
  gchar **parts = g_strsplit (text ? text : "", ";", -1);
  GArray *zones = g_array_new (FALSE, FALSE, sizeof (GstVggZone));
  guint n = 0;
  gboolean ok = TRUE;

  for (gchar **p = parts; ok && *p; p++) {
    GstVggZone zone;
    gchar *z = g_strstrip (*p);

    if (z[0] == '\0')
      continue;
    ok = parse_zone (z, ++n, &zone, error);
    if (ok)
      g_array_append_val (zones, zone);
  }
  g_strfreev (parts);
  if (!ok) {
    g_array_free (zones, TRUE);
    return FALSE;
  }
  g_free (spec->zones);
  g_free (spec->zones_text);
  spec->n_zones = zones->len;
  spec->zones = (GstVggZone *) g_array_free (zones, spec->n_zones == 0);
  spec->zones_text = spec->n_zones ? g_strdup (text) : NULL;
  return TRUE;
}

/* The detected label of a ROI meta: its `detection` (DL Streamer) or
 * `extra-data` (onnxobjectdetector) param's "label", else NULL. */
static const gchar *
detected_label (GstVideoRegionOfInterestMeta *roi)
{
  static const gchar *params[] = { "detection", "extra-data" };

  for (guint i = 0; i < G_N_ELEMENTS (params); i++) {
    GstStructure *s = gst_video_region_of_interest_meta_get_param (roi, params[i]);
    const gchar *label = s ? gst_structure_get_string (s, "label") : NULL;
    if (label)
      return label;
  }
  return NULL;
}

static gboolean
class_listed (const GstVggRegionSpec *spec, GstVideoRegionOfInterestMeta *roi)
{
  const gchar *type = g_quark_to_string (roi->roi_type);
  const gchar *label;

  if (spec->classes == NULL)
    return TRUE;
  if (type && g_strv_contains ((const gchar *const *) spec->classes, type))
    return TRUE;
  label = detected_label (roi);
  return label && g_strv_contains ((const gchar *const *) spec->classes, label);
}

/* Clips x, y, w, h (64-bit: a ROI meta's guint fields may add past
 * G_MAXUINT) to the frame into box; FALSE when nothing is left or the
 * box is under min_size. */
static gboolean
clip_box (const GstVggRegionSpec *spec, gint64 x, gint64 y, gint64 w,
    gint64 h, gint width, gint height, gint box[4])
{
  gint64 x1 = CLAMP (x + w, 0, width), y1 = CLAMP (y + h, 0, height);

  x = CLAMP (x, 0, width);
  y = CLAMP (y, 0, height);
  if (x1 <= x || y1 <= y || x1 - x < spec->min_size
      || y1 - y < spec->min_size)
    return FALSE;
  box[0] = (gint) x;
  box[1] = (gint) y;
  box[2] = (gint) (x1 - x);
  box[3] = (gint) (y1 - y);
  return TRUE;
}

/* roi->crop: the box with roi-padding percent of its width on the left
 * and the right, of its height above and below, clipped. */
static void
pad_box (const GstVggRegionSpec *spec, gint width, gint height, GstVggRoi *roi)
{
  gint64 px = (gint64) floor (roi->box[2] * spec->padding / 100.0);
  gint64 py = (gint64) floor (roi->box[3] * spec->padding / 100.0);
  gint64 x0 = MAX (0, roi->box[0] - px), y0 = MAX (0, roi->box[1] - py);
  gint64 x1 = MIN (width, (gint64) roi->box[0] + roi->box[2] + px);
  gint64 y1 = MIN (height, (gint64) roi->box[1] + roi->box[3] + py);

  roi->crop[0] = (gint) x0;
  roi->crop[1] = (gint) y0;
  roi->crop[2] = (gint) (x1 - x0);
  roi->crop[3] = (gint) (y1 - y0);
}

guint
gst_vgg_regions_select (const GstVggRegionSpec *spec, GstBuffer *buffer,
    gint width, gint height, GArray *out, guint *skipped)
{
  GstVideoRegionOfInterestMeta *meta;
  gpointer state = NULL;
  guint n = 0, dropped = 0;
  GstVggRoi roi;

  while (spec->roi_list
      && (meta = (GstVideoRegionOfInterestMeta *) gst_buffer_iterate_meta_filtered (
              buffer, &state, GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE))) {
    if (!class_listed (spec, meta))
      continue;
    if ((spec->max_rois > 0 && n >= spec->max_rois)
        || !clip_box (spec, meta->x, meta->y, meta->w, meta->h, width, height,
            roi.box)) {
      dropped++;
      continue;
    }
    roi.meta = meta;
    roi.id = meta->id;
    roi.roi_type = meta->roi_type;
    pad_box (spec, width, height, &roi);
    if (out)
      g_array_append_val (out, roi);
    n++;
  }
  for (guint z = 0; z < spec->n_zones; z++) {
    const GstVggZone *zone = &spec->zones[z];
    gint64 v[4];

    for (guint i = 0; i < 4; i++)
      v[i] = zone->fractions
          ? (gint64) lround (zone->v[i] * (i % 2 ? height : width))
          : (gint64) zone->v[i];
    if ((spec->max_rois > 0 && n >= spec->max_rois)
        || !clip_box (spec, v[0], v[1], v[2], v[3], width, height, roi.box)) {
      dropped++;
      continue;
    }
    roi.meta = NULL;
    roi.id = -1;
    roi.roi_type = g_quark_from_static_string (GST_VGG_ZONE_ROI_TYPE);
    pad_box (spec, width, height, &roi);
    if (out)
      g_array_append_val (out, roi);
    n++;
  }
  if (skipped)
    *skipped = dropped;
  return n;
}

void
gst_vgg_regions_add_zone (GstBuffer *buffer, GstVggRoi *roi)
{
  GstVideoRegionOfInterestMeta *meta;
  gpointer state = NULL;
  gint id = -1;

  while ((meta = (GstVideoRegionOfInterestMeta *) gst_buffer_iterate_meta_filtered (
              buffer, &state, GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE)))
    id = MAX (id, meta->id);
  roi->meta = gst_buffer_add_video_region_of_interest_meta_id (buffer,
      roi->roi_type, roi->box[0], roi->box[1], roi->box[2], roi->box[3]);
  roi->meta->id = roi->id = id < G_MAXINT ? id + 1 : id;
}

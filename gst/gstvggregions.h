/* The regions of a frame that vgginfer classifies (inference-region=
 * roi-list, regions): the region properties, which ROI metas they select
 * and the box each crop is taken from.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __GST_VGG_REGIONS_H__
#define __GST_VGG_REGIONS_H__

#include <gst/gst.h>
#include <gst/video/video.h>

G_BEGIN_DECLS

/* The ROI type of the fixed zones (property regions) on the frames. */
#define GST_VGG_ZONE_ROI_TYPE "vgg-region"

/* A fixed zone: x, y, w, h in pixels, or in fractions of the frame. */
typedef struct
{
  gboolean fractions;
  gdouble v[4];
} GstVggZone;

/* The region properties, immutable once made and shared by reference
 * (the element's settings hold one, each batch takes a reference). */
typedef struct
{
  gint ref_count;    /* atomic */
  gboolean roi_list; /* inference-region=roi-list */
  gchar **classes;   /* object-class, NULL for every ROI */
  gchar *zones_text; /* regions, as set */
  GstVggZone *zones;
  guint n_zones;
  guint min_size; /* min-roi-size, pixels */
  guint max_rois; /* max-rois per frame, 0 for no limit */
  gdouble padding; /* roi-padding, percent of the box per side */
} GstVggRegionSpec;

/* A new spec with the defaults (full-frame, no zones). */
GstVggRegionSpec *gst_vgg_region_spec_new (void);
/* A copy of `spec` to change before it is shared. */
GstVggRegionSpec *gst_vgg_region_spec_copy (const GstVggRegionSpec *spec);
GstVggRegionSpec *gst_vgg_region_spec_ref (GstVggRegionSpec *spec);
void gst_vgg_region_spec_unref (GstVggRegionSpec *spec);

/* Whether frames are classified by regions: roi-list or zones. */
gboolean gst_vgg_region_spec_by_regions (const GstVggRegionSpec *spec);

/* object-class: a comma-separated list of types or labels ("" or NULL
 * for all); spaces around the names are dropped. */
void gst_vgg_region_spec_set_classes (
    GstVggRegionSpec *spec, const gchar *text);

/* regions: "x,y,w,h;x,y,w,h", each zone in pixels, or, when any of its
 * numbers has a decimal point, in fractions of the frame (0 to 1).  NULL
 * or "" for none.  FALSE with *error (a new string) naming the bad zone. */
gboolean gst_vgg_region_spec_set_zones (
    GstVggRegionSpec *spec, const gchar *text, gchar **error);

/* A region chosen for classification. */
typedef struct
{
  /* the ROI meta (valid while its buffer is), NULL for a zone until
   * gst_vgg_regions_add_zone puts it on the frame */
  GstVideoRegionOfInterestMeta *meta;
  gint id;         /* the ROI meta's id */
  GQuark roi_type; /* the ROI meta's type, or the zones' */
  gint box[4];     /* x, y, w, h: the box clipped to the frame */
  gint crop[4];    /* the box grown by the padding, clipped: what is fed */
} GstVggRoi;

/* The regions of `buffer` (a frame of width x height) that `spec`
 * classifies, in order: its ROI metas whose type or detected label is in
 * object-class (all of them without one), then the zones; each clipped
 * to the frame, the empty ones and those under min-roi-size dropped, and
 * at most max-rois kept.  Appends them to `out` (GstVggRoi, may be NULL)
 * and returns how many; *skipped (may be NULL) gets how many were
 * dropped. */
guint gst_vgg_regions_select (const GstVggRegionSpec *spec, GstBuffer *buffer,
    gint width, gint height, GArray *out, guint *skipped);

/* Puts the zone `roi` on `buffer` (writable) as a ROI meta of type
 * GST_VGG_ZONE_ROI_TYPE with its box, and an id above those of the
 * frame's other ROI metas. */
void gst_vgg_regions_add_zone (GstBuffer *buffer, GstVggRoi *roi);

G_END_DECLS

#endif /* __GST_VGG_REGIONS_H__ */

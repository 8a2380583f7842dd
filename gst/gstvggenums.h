/* The enumerations of vgginfer's properties, registered as GTypes, and
 * what they map to in the engine.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __GST_VGG_ENUMS_H__
#define __GST_VGG_ENUMS_H__

#include <glib-object.h>
#include <vggcore/vggcore.h>

G_BEGIN_DECLS

typedef enum
{
  GST_VGG_INFER_MODE_CLASSIFY,
  GST_VGG_INFER_MODE_FEATURES
} GstVggInferMode;

/* feature-pooling: auto, then the engine's VggPooling, value for value
 * one up */
typedef enum
{
  GST_VGG_INFER_POOLING_AUTO,
  GST_VGG_INFER_POOLING_AVG = VGG_POOLING_AVG + 1,
  GST_VGG_INFER_POOLING_MAX = VGG_POOLING_MAX + 1,
  GST_VGG_INFER_POOLING_NONE = VGG_POOLING_NONE + 1
} GstVggInferPooling;

typedef enum
{
  GST_VGG_INFER_REGION_FULL_FRAME,
  GST_VGG_INFER_REGION_ROI_LIST
} GstVggInferRegion;

typedef enum
{
  GST_VGG_INFER_LEAKY_NONE,
  GST_VGG_INFER_LEAKY_SKIP
} GstVggInferLeaky;

typedef enum
{
  GST_VGG_INFER_RESIZE_CENTER_CROP,
  GST_VGG_INFER_RESIZE_STRETCH,
  GST_VGG_INFER_RESIZE_LETTERBOX
} GstVggInferResize;

/* the engine's VggPrecision, value for value */
typedef enum
{
  GST_VGG_INFER_PRECISION_FP32 = VGG_PRECISION_FP32,
  GST_VGG_INFER_PRECISION_BF16 = VGG_PRECISION_BF16
} GstVggInferPrecision;

#define GST_TYPE_VGG_INFER_MODE (gst_vgg_infer_mode_get_type ())
#define GST_TYPE_VGG_INFER_POOLING (gst_vgg_infer_pooling_get_type ())
#define GST_TYPE_VGG_INFER_REGION (gst_vgg_infer_region_get_type ())
#define GST_TYPE_VGG_INFER_LEAKY (gst_vgg_infer_leaky_get_type ())
#define GST_TYPE_VGG_INFER_RESIZE (gst_vgg_infer_resize_get_type ())
#define GST_TYPE_VGG_INFER_PRECISION (gst_vgg_infer_precision_get_type ())

GType gst_vgg_infer_mode_get_type (void);
GType gst_vgg_infer_pooling_get_type (void);
GType gst_vgg_infer_region_get_type (void);
GType gst_vgg_infer_leaky_get_type (void);
GType gst_vgg_infer_resize_get_type (void);
GType gst_vgg_infer_precision_get_type (void);

/* The engine's pooling of `point` under feature-pooling: auto is the
 * global average for the maps of the convolution stage, none for pool5
 * (the classifier's input, flattened as before there were other layers)
 * and the vectors. */
VggPooling gst_vgg_infer_pooling_resolve (
    GstVggInferPooling pooling, const VggPoint *point);

G_END_DECLS

#endif /* __GST_VGG_ENUMS_H__ */

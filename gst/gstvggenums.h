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

typedef enum
{
  GST_VGG_INFER_FEATURE_LAYER_FC7,
  GST_VGG_INFER_FEATURE_LAYER_FC6,
  GST_VGG_INFER_FEATURE_LAYER_POOL5,
  GST_VGG_INFER_FEATURE_LAYER_LOGITS
} GstVggInferFeatureLayer;

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
#define GST_TYPE_VGG_INFER_FEATURE_LAYER                                       \
  (gst_vgg_infer_feature_layer_get_type ())
#define GST_TYPE_VGG_INFER_REGION (gst_vgg_infer_region_get_type ())
#define GST_TYPE_VGG_INFER_LEAKY (gst_vgg_infer_leaky_get_type ())
#define GST_TYPE_VGG_INFER_RESIZE (gst_vgg_infer_resize_get_type ())
#define GST_TYPE_VGG_INFER_PRECISION (gst_vgg_infer_precision_get_type ())

GType gst_vgg_infer_mode_get_type (void);
GType gst_vgg_infer_feature_layer_get_type (void);
GType gst_vgg_infer_region_get_type (void);
GType gst_vgg_infer_leaky_get_type (void);
GType gst_vgg_infer_resize_get_type (void);
GType gst_vgg_infer_precision_get_type (void);

/* The engine output of a feature layer. */
VggOutput gst_vgg_infer_feature_layer_to_output (GstVggInferFeatureLayer layer);

G_END_DECLS

#endif /* __GST_VGG_ENUMS_H__ */

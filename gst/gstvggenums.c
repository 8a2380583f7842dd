/* The enumerations of vgginfer's properties.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "gstvggenums.h"

GType
gst_vgg_infer_mode_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    { GST_VGG_INFER_MODE_CLASSIFY, "Attach the top-k classes", "classify" },
    { GST_VGG_INFER_MODE_FEATURES, "Attach the feature vector of feature-layer",
        "features" },
    { 0, NULL, NULL }
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstVggInferMode", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

GType
gst_vgg_infer_pooling_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    { GST_VGG_INFER_POOLING_AUTO,
        "avg for the layers of the convolution stage, none for pool5 and "
        "the classifier's layers",
        "auto" },
    { GST_VGG_INFER_POOLING_AVG,
        "Global average over the map: one value per channel", "avg" },
    { GST_VGG_INFER_POOLING_MAX, "Global maximum over the map", "max" },
    { GST_VGG_INFER_POOLING_NONE,
        "The whole map, channels x height x width values (large: 802,816 "
        "floats for relu1_2 at 224x224)",
        "none" },
    { 0, NULL, NULL }
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstVggInferPooling", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

GType
gst_vgg_infer_region_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    { GST_VGG_INFER_REGION_FULL_FRAME, "Classify the whole frame",
        "full-frame" },
    { GST_VGG_INFER_REGION_ROI_LIST,
        "Classify each region of interest (GstVideoRegionOfInterestMeta) "
        "of the frame",
        "roi-list" },
    { 0, NULL, NULL }
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstVggInferRegion", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

GType
gst_vgg_infer_leaky_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    { GST_VGG_INFER_LEAKY_NONE, "Block upstream when the queue is full",
        "none" },
    { GST_VGG_INFER_LEAKY_SKIP,
        "Pass frames that find the queue full without inference", "skip" },
    { 0, NULL, NULL }
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstVggInferLeaky", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

GType
gst_vgg_infer_precision_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    { GST_VGG_INFER_PRECISION_FP32, "float32 throughout: torchvision's results",
        "fp32" },
    { GST_VGG_INFER_PRECISION_BF16,
        "bfloat16 weights and layer inputs, float32 sums: the fully "
        "connected layers read half the bytes, and the convolutions run on "
        "AMX tiles where the CPU has them; logits within 3.5e-2 of the "
        "largest float32 logit on the models tested (README, \"Precision\")",
        "bf16" },
    { 0, NULL, NULL }
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstVggInferPrecision", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

GType
gst_vgg_infer_resize_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    { GST_VGG_INFER_RESIZE_CENTER_CROP,
        "Shorter side to 256/224 of the input size, then the central crop "
        "(torchvision's evaluation transform)",
        "center-crop" },
    { GST_VGG_INFER_RESIZE_STRETCH,
        "Scale to the input size, ignoring the aspect ratio", "stretch" },
    { GST_VGG_INFER_RESIZE_LETTERBOX,
        "Scale to fit, keeping the aspect ratio, borders in the mean colour",
        "letterbox" },
    { 0, NULL, NULL }
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstVggInferResize", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

VggPooling
gst_vgg_infer_pooling_resolve (
    GstVggInferPooling pooling, const VggPoint *point)
{
  if (pooling != GST_VGG_INFER_POOLING_AUTO)
    return (VggPooling) (pooling - 1);
  return point->spatial && point->output < 0 ? VGG_POOLING_AVG
                                             : VGG_POOLING_NONE;
}

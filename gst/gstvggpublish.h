/* vggpublish: writes the results of every frame as JSON to a file or an
 * MQTT broker.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __GST_VGG_PUBLISH_H__
#define __GST_VGG_PUBLISH_H__

#include <gst/base/gstbasetransform.h>
#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_TYPE_VGG_PUBLISH (gst_vgg_publish_get_type ())
G_DECLARE_FINAL_TYPE (
    GstVggPublish, gst_vgg_publish, GST, VGG_PUBLISH, GstBaseTransform)

#define GST_TYPE_VGG_PUBLISH_METHOD (gst_vgg_publish_method_get_type ())
GType gst_vgg_publish_method_get_type (void);

typedef enum
{
  GST_VGG_PUBLISH_METHOD_FILE,
  GST_VGG_PUBLISH_METHOD_MQTT
} GstVggPublishMethod;

#define GST_TYPE_VGG_PUBLISH_FILE_MODE (gst_vgg_publish_file_mode_get_type ())
GType gst_vgg_publish_file_mode_get_type (void);

typedef enum
{
  GST_VGG_PUBLISH_FILE_MODE_TRUNCATE,
  GST_VGG_PUBLISH_FILE_MODE_APPEND
} GstVggPublishFileMode;

GST_ELEMENT_REGISTER_DECLARE (vggpublish);

G_END_DECLS

#endif /* __GST_VGG_PUBLISH_H__ */

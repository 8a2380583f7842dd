/* vgginfer: batched VGG inference on raw video.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __GST_VGG_INFER_H__
#define __GST_VGG_INFER_H__

#include <gst/gst.h>

#include "gstvggenums.h"

G_BEGIN_DECLS

#define GST_TYPE_VGG_INFER (gst_vgg_infer_get_type ())
G_DECLARE_FINAL_TYPE (GstVggInfer, gst_vgg_infer, GST, VGG_INFER, GstElement)

GST_ELEMENT_REGISTER_DECLARE (vgginfer);

G_END_DECLS

#endif /* __GST_VGG_INFER_H__ */

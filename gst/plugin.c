/* The vgg plugin: VGG image classification for GStreamer.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <gst/gst.h>

#include "gstvgginfer.h"
#include "gstvggoverlay.h"
#include "gstvggpublish.h"

static gboolean
plugin_init (GstPlugin *plugin)
{
  gboolean ret = FALSE;

  ret |= GST_ELEMENT_REGISTER (vgginfer, plugin);
  ret |= GST_ELEMENT_REGISTER (vggoverlay, plugin);
  ret |= GST_ELEMENT_REGISTER (vggpublish, plugin);
  return ret;
}

GST_PLUGIN_DEFINE (GST_VERSION_MAJOR, GST_VERSION_MINOR, vgg,
    "VGG image classification and feature extraction", plugin_init,
    PACKAGE_VERSION, "LGPL", PACKAGE_NAME, PACKAGE_ORIGIN)

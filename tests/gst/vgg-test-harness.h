/* GstHarness helpers shared by the element tests.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef VGG_TEST_HARNESS_H
#define VGG_TEST_HARNESS_H

#include <gst/check/gstharness.h>

G_BEGIN_DECLS

/* A harness around a new `factory` element called `name` (NULL for the
 * default), its sink and src pads, with props ("name=value ...", values
 * as gst-launch-1.0 takes them) set before it leaves NULL. */
GstHarness *vgg_test_harness_new (
    const gchar *factory, const gchar *name, const gchar *props);

G_END_DECLS

#endif

/* GstHarness helpers shared by the element tests.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vgg-test-harness.h"

#include <gst/check/gstcheck.h>

GstHarness *
vgg_test_harness_new (
    const gchar *factory, const gchar *name, const gchar *props)
{
  GstElement *e = gst_element_factory_make (factory, name);
  gchar **kv = g_strsplit (props, " ", -1);
  GstHarness *h;

  fail_unless (e != NULL);
  for (gint i = 0; kv[i]; i++) {
    gchar **pair = g_strsplit (kv[i], "=", 2);
    if (pair[0] && pair[1])
      gst_util_set_object_arg (G_OBJECT (e), pair[0], pair[1]);
    g_strfreev (pair);
  }
  g_strfreev (kv);
  h = gst_harness_new_with_element (e, "sink", "src");
  gst_object_unref (e);
  return h;
}

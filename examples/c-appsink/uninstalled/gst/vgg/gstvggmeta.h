/* Inside the gst-vgg source tree, where the header is not installed yet:
 * <gst/vgg/gstvggmeta.h> (the installed path that main.c uses) leads to
 * the sources.  Applications built against an installed gst-vgg do not
 * need this folder.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "../../../../../gst/gstvggmeta.h"

/* A process-wide cache of loaded models, shared by every vgginfer.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __GST_VGG_MODEL_CACHE_H__
#define __GST_VGG_MODEL_CACHE_H__

#include <glib.h>
#include <vggcore/vggcore.h>

G_BEGIN_DECLS

/* Returns the model of the file at `path`, loading it unless a model of
 * the same file is already in use in this process.  The file is identified
 * by (device, inode, size, modification time) of what `path` resolves to,
 * so two spellings of one file (a symlink, "./m.safetensors") share one
 * copy, and a file rewritten in place is loaded anew.  The caller becomes
 * a user of the (borrowed) model until gst_vgg_model_cache_release(); the
 * last user's release frees it.  On failure returns NULL, *status holds
 * the engine's status and `error` its message (naming the file). */
VggModel *gst_vgg_model_cache_acquire (
    const gchar *path, VggStatus *status, char error[VGG_ERROR_SIZE]);

/* Ends one use of a model returned by gst_vgg_model_cache_acquire(). */
void gst_vgg_model_cache_release (VggModel *model);

/* The number of models the cache holds now (for tests). */
guint gst_vgg_model_cache_get_n_models (void);

G_END_DECLS

#endif

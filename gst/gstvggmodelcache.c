/* A process-wide cache of loaded models, shared by every vgginfer.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "gstvggmodelcache.h"

#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>

/* What identifies a file's contents without reading them. */
typedef struct
{
  guint64 dev, ino;
  gint64 size;
  gint64 mtime_ns;
} ModelKey;

/* One model; `loading` while its first user loads it outside the lock
 * (other users of the same file wait on cache_cond). */
typedef struct
{
  ModelKey key;
  VggModel *model; /* (owned) one reference for the whole entry */
  guint users;
  gboolean loading;
} ModelEntry;

static GMutex cache_lock;
static GCond cache_cond;
static GPtrArray *cache_entries; /* ModelEntry, (owned) */

static ModelEntry *
find_entry_locked (const ModelKey *key)
{
  if (cache_entries == NULL)
    return NULL;
  for (guint i = 0; i < cache_entries->len; i++) {
    ModelEntry *e = g_ptr_array_index (cache_entries, i);
    if (memcmp (&e->key, key, sizeof *key) == 0)
      return e;
  }
  return NULL;
}

static void
remove_entry_locked (ModelEntry *entry)
{
  g_ptr_array_remove_fast (cache_entries, entry);
  if (entry->model)
    vgg_model_unref (entry->model);
  g_free (entry);
  if (cache_entries->len == 0)
    g_clear_pointer (&cache_entries, g_ptr_array_unref);
}

VggModel *
gst_vgg_model_cache_acquire (
    const gchar *path, VggStatus *status, char error[VGG_ERROR_SIZE])
{
  GStatBuf st;
  ModelKey key;
  ModelEntry *entry;
  VggModel *model = NULL;
  VggStatus s;

  /* g_stat follows symlinks: the key is the file the path resolves to.
   * A path that cannot be stat'ed goes to the loader for its message. */
  if (g_stat (path, &st) != 0 || !S_ISREG (st.st_mode)) {
    s = vgg_model_load (path, &model, error);
    if (s == VGG_OK) {
      /* a special file that loads: used, but never shared */
      vgg_model_unref (model);
      g_snprintf (error, VGG_ERROR_SIZE, "%s: not a regular file", path);
      s = VGG_ERROR_IO;
    }
    *status = s;
    return NULL;
  }
  memset (&key, 0, sizeof key);
  key.dev = st.st_dev;
  key.ino = st.st_ino;
  key.size = st.st_size;
  key.mtime_ns = (gint64) st.st_mtim.tv_sec * G_GINT64_CONSTANT (1000000000)
      + st.st_mtim.tv_nsec;

  g_mutex_lock (&cache_lock);
  while ((entry = find_entry_locked (&key)) && entry->loading)
    g_cond_wait (&cache_cond, &cache_lock);
  if (entry) {
    entry->users++;
    model = entry->model;
    *status = VGG_OK;
    goto out;
  }
  if (cache_entries == NULL)
    cache_entries = g_ptr_array_new ();
  entry = g_new0 (ModelEntry, 1);
  entry->key = key;
  entry->loading = TRUE;
  entry->users = 1;
  g_ptr_array_add (cache_entries, entry);
  g_mutex_unlock (&cache_lock);

  /* the slow part, outside the lock: other files load meanwhile */
  s = vgg_model_load (path, &model, error);

  g_mutex_lock (&cache_lock);
  entry->loading = FALSE;
  *status = s;
  if (s == VGG_OK) {
    entry->model = model;
  } else {
    /* waiters of the same file retry the load and get its message */
    remove_entry_locked (entry);
    model = NULL;
  }
  g_cond_broadcast (&cache_cond);

out:
  g_mutex_unlock (&cache_lock);
  return model;
}

void
gst_vgg_model_cache_release (VggModel *model)
{
  g_return_if_fail (model != NULL);

  g_mutex_lock (&cache_lock);
  for (guint i = 0; cache_entries && i < cache_entries->len; i++) {
    ModelEntry *e = g_ptr_array_index (cache_entries, i);
    if (e->model != model)
      continue;
    if (--e->users == 0)
      remove_entry_locked (e);
    g_mutex_unlock (&cache_lock);
    return;
  }
  g_mutex_unlock (&cache_lock);
  g_critical ("gst_vgg_model_cache_release: model %p is not in the cache",
      (gpointer) model);
}

guint
gst_vgg_model_cache_get_n_models (void)
{
  guint n;

  g_mutex_lock (&cache_lock);
  n = cache_entries ? cache_entries->len : 0;
  g_mutex_unlock (&cache_lock);
  return n;
}

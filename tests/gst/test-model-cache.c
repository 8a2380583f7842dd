/* The process-wide model cache of the plugin (gst/gstvggmodelcache.c):
 * one copy per file, whatever its spelling; the last release frees it.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "gstvggmodelcache.h"
#include "vgg-test-models.h"

static const gint cfg[] = { 8, 0, 8, 0, -1 };
static gchar *dir;

static gchar *
write_model (const gchar *name, guint64 seed, gint n_classes)
{
  gchar *path = g_build_filename (dir, name, NULL);
  g_assert_true (vgg_test_write_random_model (
      path, cfg, 16, n_classes, 33, 35, seed, NULL, name));
  return path;
}

static VggModel *
acquire_ok (const gchar *path)
{
  char error[VGG_ERROR_SIZE];
  VggStatus status = VGG_ERROR_IO;
  VggModel *m = gst_vgg_model_cache_acquire (path, &status, error);

  if (m == NULL)
    g_error ("%s: %s (%s)", path, error, vgg_status_to_string (status));
  g_assert_cmpint (status, ==, VGG_OK);
  return m;
}

static void
test_spellings_of_one_file_share_one_model (void)
{
  gchar *path = write_model ("a.safetensors", 3, 5);
  gchar *link = g_build_filename (dir, "a-link.safetensors", NULL);
  gchar *dotted = g_strdup_printf ("%s/./a.safetensors", dir);
  gchar *copy = g_build_filename (dir, "a-copy.safetensors", NULL);
  gchar *contents;
  gsize len;
  VggModel *m1, *m2, *m3, *m4;

  g_assert_cmpint (symlink (path, link), ==, 0);
  g_assert_true (g_file_get_contents (path, &contents, &len, NULL));
  g_assert_true (g_file_set_contents (copy, contents, len, NULL));
  m1 = acquire_ok (path);
  m2 = acquire_ok (link);
  m3 = acquire_ok (dotted);
  g_assert_true (m1 == m2);
  g_assert_true (m1 == m3);
  g_assert_cmpuint (gst_vgg_model_cache_get_n_models (), ==, 1);
  /* same bytes, another file: its own model */
  m4 = acquire_ok (copy);
  g_assert_true (m4 != m1);
  g_assert_cmpuint (gst_vgg_model_cache_get_n_models (), ==, 2);
  gst_vgg_model_cache_release (m4);
  g_assert_cmpuint (gst_vgg_model_cache_get_n_models (), ==, 1);
  /* the model lives while any user does */
  gst_vgg_model_cache_release (m1);
  gst_vgg_model_cache_release (m2);
  g_assert_cmpuint (gst_vgg_model_cache_get_n_models (), ==, 1);
  g_assert_cmpint (vgg_model_get_n_classes (m3), ==, 5);
  gst_vgg_model_cache_release (m3);
  g_assert_cmpuint (gst_vgg_model_cache_get_n_models (), ==, 0);
  g_unlink (link);
  g_unlink (copy);
  g_free (contents);
  g_free (copy);
  g_free (dotted);
  g_free (link);
  g_free (path);
}

static void
test_rewritten_file_is_loaded_anew (void)
{
  gchar *path = write_model ("b.safetensors", 5, 7);
  VggModel *old, *fresh;

  old = acquire_ok (path);
  g_assert_cmpint (vgg_model_get_n_classes (old), ==, 7);
  /* new contents at the same path (another size, another mtime) */
  g_free (write_model ("b.safetensors", 6, 11));
  fresh = acquire_ok (path);
  g_assert_true (fresh != old);
  g_assert_cmpint (vgg_model_get_n_classes (fresh), ==, 11);
  g_assert_cmpint (vgg_model_get_n_classes (old), ==, 7);
  g_assert_cmpuint (gst_vgg_model_cache_get_n_models (), ==, 2);
  gst_vgg_model_cache_release (old);
  gst_vgg_model_cache_release (fresh);
  g_assert_cmpuint (gst_vgg_model_cache_get_n_models (), ==, 0);
  g_free (path);
}

static void
test_bad_files_are_refused_with_the_engine_message (void)
{
  gchar *missing = g_build_filename (dir, "missing.safetensors", NULL);
  gchar *garbage = g_build_filename (dir, "garbage.safetensors", NULL);
  const gchar *paths[] = { missing, garbage, dir };
  char error[VGG_ERROR_SIZE];
  VggStatus status;

  g_assert_true (g_file_set_contents (garbage, "garbage", -1, NULL));
  for (guint i = 0; i < G_N_ELEMENTS (paths); i++) {
    status = VGG_OK;
    error[0] = '\0';
    g_assert_null (gst_vgg_model_cache_acquire (paths[i], &status, error));
    if (status == VGG_OK || strstr (error, paths[i]) == NULL)
      g_error ("%s: status %s, message \"%s\"", paths[i],
          vgg_status_to_string (status), error);
  }
  g_assert_cmpuint (gst_vgg_model_cache_get_n_models (), ==, 0);
  g_unlink (garbage);
  g_free (garbage);
  g_free (missing);
}

/* Eight threads acquire the same file at once: one load, one model. */
static gpointer
acquire_thread (gpointer path)
{
  return acquire_ok (path);
}

static void
test_concurrent_users_load_once (void)
{
  gchar *path = write_model ("c.safetensors", 9, 3);
  GThread *threads[8];
  VggModel *models[8];

  for (guint i = 0; i < 8; i++)
    threads[i] = g_thread_new ("acquire", acquire_thread, path);
  for (guint i = 0; i < 8; i++)
    models[i] = g_thread_join (threads[i]);
  for (guint i = 1; i < 8; i++)
    g_assert_true (models[i] == models[0]);
  g_assert_cmpuint (gst_vgg_model_cache_get_n_models (), ==, 1);
  for (guint i = 0; i < 8; i++)
    gst_vgg_model_cache_release (models[i]);
  g_assert_cmpuint (gst_vgg_model_cache_get_n_models (), ==, 0);
  g_free (path);
}

int
main (int argc, char **argv)
{
  int ret;

  g_test_init (&argc, &argv, NULL);
  dir = vgg_test_make_tmp_dir ("vgg-cache-XXXXXX");
  g_test_add_func ("/model-cache/spellings-share-one-model",
      test_spellings_of_one_file_share_one_model);
  g_test_add_func ("/model-cache/rewritten-file-loads-anew",
      test_rewritten_file_is_loaded_anew);
  g_test_add_func ("/model-cache/bad-files-refused",
      test_bad_files_are_refused_with_the_engine_message);
  g_test_add_func ("/model-cache/concurrent-users-load-once",
      test_concurrent_users_load_once);
  ret = g_test_run ();
  vgg_test_remove_tmp_dir (dir);
  g_free (dir);
  return ret;
}

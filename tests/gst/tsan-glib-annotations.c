/* Linked into (or preloaded into) the tests of a ThreadSanitizer build only.
 *
 * GLib's GMutex and GCond are futex based on Linux, so ThreadSanitizer
 * does not see the order they impose and reports every access made under
 * GST_OBJECT_LOCK or a GMutex as a race.  These definitions take the place
 * of GLib's for every caller outside libglib (GStreamer, the plugin, the
 * tests), call GLib's own, and tell ThreadSanitizer what a lock, an unlock
 * and a condition wait mean for happens-before.  They change no behaviour.
 * The C test programs export them (export_dynamic) so that the plugin and
 * GStreamer, loaded later, bind to them; the Python tests preload them as
 * libtsan-glib-annotations.so.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <dlfcn.h>
#include <glib.h>
#include <stdlib.h>

#define EXPORT __attribute__ ((visibility ("default")))

void __tsan_acquire (void *addr);
void __tsan_release (void *addr);

/* GLib's own function, looked up once (any thread may be first) in
 * libglib itself: RTLD_NEXT misses the GLib that Python's gi module loads
 * privately after this library was preloaded */
static void *
glib_symbol (const char *name)
{
  void *glib = dlopen ("libglib-2.0.so.0", RTLD_LAZY | RTLD_NOLOAD);
  void *sym = glib ? dlsym (glib, name) : NULL;
  if (sym == NULL)
    abort ();
  dlclose (glib);
  return sym;
}

#define REAL(ret, name, args)                                                  \
  static ret (*cached_##name) args;                                            \
  ret (*real_##name) args =                                                    \
      __atomic_load_n (&cached_##name, __ATOMIC_ACQUIRE);                      \
  if (real_##name == NULL) {                                                   \
    real_##name = (ret (*) args) glib_symbol (#name);                          \
    __atomic_store_n (&cached_##name, real_##name, __ATOMIC_RELEASE);          \
  }

EXPORT void
g_mutex_lock (GMutex *mutex)
{
  REAL (void, g_mutex_lock, (GMutex *) );
  real_g_mutex_lock (mutex);
  __tsan_acquire (mutex);
}

EXPORT gboolean
g_mutex_trylock (GMutex *mutex)
{
  gboolean locked;
  REAL (gboolean, g_mutex_trylock, (GMutex *) );
  locked = real_g_mutex_trylock (mutex);
  if (locked)
    __tsan_acquire (mutex);
  return locked;
}

EXPORT void
g_mutex_unlock (GMutex *mutex)
{
  REAL (void, g_mutex_unlock, (GMutex *) );
  __tsan_release (mutex);
  real_g_mutex_unlock (mutex);
}

EXPORT void
g_rec_mutex_lock (GRecMutex *mutex)
{
  REAL (void, g_rec_mutex_lock, (GRecMutex *) );
  real_g_rec_mutex_lock (mutex);
  __tsan_acquire (mutex);
}

EXPORT gboolean
g_rec_mutex_trylock (GRecMutex *mutex)
{
  gboolean locked;
  REAL (gboolean, g_rec_mutex_trylock, (GRecMutex *) );
  locked = real_g_rec_mutex_trylock (mutex);
  if (locked)
    __tsan_acquire (mutex);
  return locked;
}

EXPORT void
g_rec_mutex_unlock (GRecMutex *mutex)
{
  REAL (void, g_rec_mutex_unlock, (GRecMutex *) );
  __tsan_release (mutex);
  real_g_rec_mutex_unlock (mutex);
}

EXPORT void
g_cond_wait (GCond *cond, GMutex *mutex)
{
  REAL (void, g_cond_wait, (GCond *, GMutex *) );
  __tsan_release (mutex);
  real_g_cond_wait (cond, mutex);
  __tsan_acquire (mutex);
}

EXPORT gboolean
g_cond_wait_until (GCond *cond, GMutex *mutex, gint64 end_time)
{
  gboolean signalled;
  REAL (gboolean, g_cond_wait_until, (GCond *, GMutex *, gint64));
  __tsan_release (mutex);
  signalled = real_g_cond_wait_until (cond, mutex, end_time);
  __tsan_acquire (mutex);
  return signalled;
}

/* GAsyncQueue locks inside GLib: a push happens before the pop that
 * returns the item (GstHarness hands buffers over this way). */
EXPORT void
g_async_queue_push (GAsyncQueue *queue, gpointer data)
{
  REAL (void, g_async_queue_push, (GAsyncQueue *, gpointer));
  __tsan_release (queue);
  real_g_async_queue_push (queue, data);
}

EXPORT gpointer
g_async_queue_pop (GAsyncQueue *queue)
{
  gpointer data;
  REAL (gpointer, g_async_queue_pop, (GAsyncQueue *) );
  data = real_g_async_queue_pop (queue);
  __tsan_acquire (queue);
  return data;
}

EXPORT gpointer
g_async_queue_try_pop (GAsyncQueue *queue)
{
  gpointer data;
  REAL (gpointer, g_async_queue_try_pop, (GAsyncQueue *) );
  data = real_g_async_queue_try_pop (queue);
  __tsan_acquire (queue);
  return data;
}

EXPORT gpointer
g_async_queue_timeout_pop (GAsyncQueue *queue, guint64 timeout)
{
  gpointer data;
  REAL (gpointer, g_async_queue_timeout_pop, (GAsyncQueue *, guint64));
  data = real_g_async_queue_timeout_pop (queue, timeout);
  __tsan_acquire (queue);
  return data;
}

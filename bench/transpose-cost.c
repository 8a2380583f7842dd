/* What a planar input costs: vgg_context_forward transposes its
 * (n, 3, h, w) input into the engine's (n, h, w, 3) with vgg_nchw_to_nhwc
 * on the context's pool (one task per image row); vgg_context_forward_nhwc
 * copies an interleaved input with memcpy (bf16, which rounds its copy) or
 * lets the first layer read it in place (fp32).  Times both on one frame,
 * each call alone, and prints microseconds per frame: the best and the
 * median of RUNS runs (the buffers stay in cache between runs, as the
 * input just written by the normalization does).
 *
 *   build/bench/transpose-cost [HxW [RUNS [THREADS]]]   (224x224 2000 2)
 */
#include "vgg-layers-private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double
now_us (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int
compare_doubles (const void *a, const void *b)
{
  const double *x = a, *y = b;
  return (*x > *y) - (*x < *y);
}

/* Sorts times[0, runs) and prints its best and median. */
static void
report (const char *what, double *times, int runs)
{
  qsort (times, runs, sizeof (double), compare_doubles);
  printf ("%-34s best %8.1f us   median %8.1f us\n", what, times[0],
      times[runs / 2]);
}

int
main (int argc, char **argv)
{
  int h = 224, w = 224, runs = 2000, max_threads = 2, ret = 1;
  size_t count;
  float *in = NULL, *out = NULL;
  double *times = NULL;
  VggPool *pool = NULL;

  if (argc > 1 && sscanf (argv[1], "%dx%d", &h, &w) != 2)
    goto usage;
  if (argc > 2 && (runs = atoi (argv[2])) < 1)
    goto usage;
  if (argc > 3 && (max_threads = atoi (argv[3])) < 1)
    goto usage;
  if (argc > 4 || h < 1 || w < 1)
    goto usage;

  count = (size_t) 3 * h * w;
  in = malloc (count * sizeof (float));
  out = malloc (count * sizeof (float));
  times = malloc (runs * sizeof (double));
  if (in == NULL || out == NULL || times == NULL) {
    fprintf (stderr, "transpose-cost: out of memory\n");
    goto out;
  }
  for (size_t i = 0; i < count; i++)
    in[i] = (float) (i % 255) / 255.0f;
  memset (out, 0, count * sizeof (float));

  printf ("one %dx%d frame, 3 channels, %zu bytes of float32; %d runs\n", h, w,
      count * sizeof (float), runs);
  for (int threads = 1; threads <= max_threads; threads++) {
    char what[64];

    pool = vgg_pool_new (threads);
    if (pool == NULL) {
      fprintf (stderr, "transpose-cost: cannot start %d threads\n", threads);
      goto out;
    }
    for (int r = 0; r < runs; r++) {
      double t0 = now_us ();
      vgg_nchw_to_nhwc (pool, in, out, 1, 3, h, w);
      times[r] = now_us () - t0;
    }
    snprintf (what, sizeof what, "vgg_nchw_to_nhwc, %d thread%s", threads,
        threads > 1 ? "s" : "");
    report (what, times, runs);
    vgg_pool_free (pool);
    pool = NULL;
  }
  for (int r = 0; r < runs; r++) {
    double t0 = now_us ();
    memcpy (out, in, count * sizeof (float));
    /* keep the copy from being optimized away */
    __asm__ volatile("" : : "r"(out) : "memory");
    times[r] = now_us () - t0;
  }
  report ("memcpy, 1 thread", times, runs);
  ret = 0;
  goto out;

usage:
  fprintf (stderr, "usage: transpose-cost [HxW [RUNS [THREADS]]]\n");
out:
  vgg_pool_free (pool);
  free (in);
  free (out);
  free (times);
  return ret;
}

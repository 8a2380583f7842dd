/* What a planar input costs: vgg_context_forward transposes its
 * (n, 3, h, w) input into the engine's (n, h, w, 3) with vgg_nchw_to_nhwc
 * on the context's pool (one task per image row); vgg_context_forward_nhwc
 * copies an interleaved input with memcpy (bf16, which rounds its copy) or
 * lets the first layer read it in place (fp32).  Times both on one frame,
 * each call alone, and prints microseconds per frame: the best and the
 * mean of RUNS runs (the buffers stay in cache between runs, as the input
 * just written by the normalization does).
 *
 *   build/bench/transpose-cost [HxW [RUNS [THREADS]]]   (224x224 2000 2)
 */
#include "vgg-layers-private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Best and sum of the runs of one operation, in microseconds. */
typedef struct
{
  double best, sum;
} Timing;

static void
timing_add (Timing *t, const struct timespec *start)
{
  struct timespec end;
  double us;

  clock_gettime (CLOCK_MONOTONIC, &end);
  us =
      (end.tv_sec - start->tv_sec) * 1e6 + (end.tv_nsec - start->tv_nsec) / 1e3;
  if (t->sum == 0 || us < t->best)
    t->best = us;
  t->sum += us;
}

static void
timing_print (const char *what, const Timing *t, int runs)
{
  printf (
      "%-34s best %8.1f us   mean %8.1f us\n", what, t->best, t->sum / runs);
}

int
main (int argc, char **argv)
{
  int h = 224, w = 224, runs = 2000, max_threads = 2, ret = 1;
  size_t count;
  float *in = NULL, *out = NULL;
  struct timespec start;
  Timing copy = { 0, 0 };
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
  if (in == NULL || out == NULL) {
    fprintf (stderr, "transpose-cost: out of memory\n");
    goto out;
  }
  for (size_t i = 0; i < count; i++)
    in[i] = (float) (i % 255) / 255.0f;
  memset (out, 0, count * sizeof (float));

  printf ("one %dx%d frame, 3 channels, %zu bytes of float32; %d runs\n", h, w,
      count * sizeof (float), runs);
  for (int threads = 1; threads <= max_threads; threads++) {
    Timing transpose = { 0, 0 };
    char what[64];

    pool = vgg_pool_new (threads);
    if (pool == NULL) {
      fprintf (stderr, "transpose-cost: cannot start %d threads\n", threads);
      goto out;
    }
    for (int r = 0; r < runs; r++) {
      clock_gettime (CLOCK_MONOTONIC, &start);
      vgg_nchw_to_nhwc (pool, in, out, 1, 3, h, w);
      timing_add (&transpose, &start);
    }
    snprintf (what, sizeof what, "vgg_nchw_to_nhwc, %d thread%s", threads,
        threads > 1 ? "s" : "");
    timing_print (what, &transpose, runs);
    vgg_pool_free (pool);
    pool = NULL;
  }
  for (int r = 0; r < runs; r++) {
    clock_gettime (CLOCK_MONOTONIC, &start);
    memcpy (out, in, count * sizeof (float));
    /* keep the copy from being optimized away */
    __asm__ volatile("" : : "r"(out) : "memory");
    timing_add (&copy, &start);
  }
  timing_print ("memcpy, 1 thread", &copy, runs);
  ret = 0;
  goto out;

usage:
  fprintf (stderr, "usage: transpose-cost [HxW [RUNS [THREADS]]]\n");
out:
  vgg_pool_free (pool);
  free (in);
  free (out);
  return ret;
}

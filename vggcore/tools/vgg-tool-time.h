/* Timing helpers of the tools and of bench/: header only, since bench/
 * links the engine's internal archive and the tools its shared library. */
#ifndef VGG_TOOL_TIME_H
#define VGG_TOOL_TIME_H

#include <stdlib.h>
#include <time.h>

/* CLOCK_MONOTONIC in milliseconds */
static inline double
vgg_tool_now_ms (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static inline int
vgg_tool_compare_doubles (const void *a, const void *b)
{
  const double *x = a, *y = b;
  return (*x > *y) - (*x < *y);
}

/* v[0..n) in increasing order: v[0] the best time, v[n / 2] the median */
static inline void
vgg_tool_sort_doubles (double *v, size_t n)
{
  qsort (v, n, sizeof (double), vgg_tool_compare_doubles);
}

#endif

/* What the engine's C tests share: CHECK, which counts and prints a
 * failed condition with the test's own message and goes on; seeded random
 * inputs and the first difference of two outputs; and, where
 * TEST_CHECK_COUNT_ALLOCATIONS is defined before this header, the
 * linker's wrappers of malloc, calloc, realloc and posix_memalign counting
 * every allocation (the test links with -Wl,--wrap=malloc,...).  One test
 * program includes it once.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef TEST_CHECK_H
#define TEST_CHECK_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static int failures, checks;

#define CHECK(cond, ...)                                                       \
  do {                                                                         \
    checks++;                                                                  \
    if (!(cond)) {                                                             \
      failures++;                                                              \
      printf ("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                  \
      printf (__VA_ARGS__);                                                    \
      printf ("\n");                                                           \
    }                                                                          \
  } while (0)

/* x[0, count) uniform in [-scale / 2, scale / 2) from a fixed seed (an
 * LCG) */
static inline void
random_input (float *x, size_t count, uint64_t seed, float scale)
{
  for (size_t i = 0; i < count; i++) {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    x[i] = (float) ((seed >> 40) / (double) (1 << 24) - 0.5) * scale;
  }
}

/* The index of the first float of a and b that differ bit for bit, count
 * if none */
static inline size_t
first_difference (const float *a, const float *b, size_t count)
{
  size_t i = 0;
  while (i < count && memcmp (&a[i], &b[i], sizeof (float)) == 0)
    i++;
  return i;
}

#ifdef TEST_CHECK_COUNT_ALLOCATIONS
#include <stdatomic.h>
#include <stddef.h>

static atomic_int allocations;

void *__real_malloc (size_t size);
void *__real_calloc (size_t n, size_t size);
void *__real_realloc (void *p, size_t size);
int __real_posix_memalign (void **p, size_t alignment, size_t size);
void *__wrap_malloc (size_t size);
void *__wrap_calloc (size_t n, size_t size);
void *__wrap_realloc (void *p, size_t size);
int __wrap_posix_memalign (void **p, size_t alignment, size_t size);

void *
__wrap_malloc (size_t size)
{
  atomic_fetch_add (&allocations, 1);
  return __real_malloc (size);
}

void *
__wrap_calloc (size_t n, size_t size)
{
  atomic_fetch_add (&allocations, 1);
  return __real_calloc (n, size);
}

void *
__wrap_realloc (void *p, size_t size)
{
  atomic_fetch_add (&allocations, 1);
  return __real_realloc (p, size);
}

int
__wrap_posix_memalign (void **p, size_t alignment, size_t size)
{
  atomic_fetch_add (&allocations, 1);
  return __real_posix_memalign (p, alignment, size);
}
#endif

#endif /* TEST_CHECK_H */

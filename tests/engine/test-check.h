/* What the engine's C tests share: CHECK, which counts and prints a
 * failed condition with the test's own message and goes on, and, where
 * TEST_CHECK_COUNT_ALLOCATIONS is defined before this header, the
 * linker's wrappers of malloc, calloc, realloc and posix_memalign counting
 * every allocation (the test links with -Wl,--wrap=malloc,...).  One test
 * program includes it once.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef TEST_CHECK_H
#define TEST_CHECK_H

#include <stdio.h>

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

/* The engine's error messages: what every fallible call writes into the
 * caller's char error[VGG_ERROR_SIZE] (see vggcore.h).  Private to
 * vggcore. */
#ifndef VGG_ERROR_PRIVATE_H
#define VGG_ERROR_PRIVATE_H

#include "vggcore/vggcore.h"

/* Writes "PATH: problem" into error, or only "problem" when path is NULL,
 * cut to VGG_ERROR_SIZE - 1 chars; error may be NULL.  Returns status, so
 * that callers can write `return vgg_set_error (...)`. */
VggStatus vgg_set_error (char error[VGG_ERROR_SIZE], VggStatus status,
    const char *path, const char *format, ...)
    __attribute__ ((format (printf, 4, 5)));

#endif

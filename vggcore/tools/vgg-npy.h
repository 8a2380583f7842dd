/* Minimal .npy (format 1.0/2.0) reading and writing of little-endian
 * float32 C-order arrays, for the command-line tools. */
#ifndef VGG_NPY_H
#define VGG_NPY_H

#include <stddef.h>
#include <stdint.h>

#define VGG_NPY_MAX_DIMS 8

typedef struct
{
  int ndim;
  int64_t shape[VGG_NPY_MAX_DIMS];
  float *data; /* owned, numel floats */
} VggNpy;

/* 0 on success; on failure -1 and a message in error. */
int vgg_npy_read (const char *path, VggNpy *npy, char *error, size_t size);
int vgg_npy_write (const char *path, const float *data, int ndim,
    const int64_t *shape, char *error, size_t size);
void vgg_npy_clear (VggNpy *npy);

#endif

/* A set of named tensors read from a model file: what every loader
 * (safetensors, PyTorch checkpoints) produces and what the model
 * builder consumes.  Private to vggcore. */
#ifndef VGG_TENSORS_PRIVATE_H
#define VGG_TENSORS_PRIVATE_H

#include "vggcore/vggcore.h"

#include <sys/stat.h>

#define VGG_TENSOR_MAX_DIMS 8

typedef enum
{
  VGG_DTYPE_F32,
  VGG_DTYPE_F16,
  VGG_DTYPE_BF16,
  VGG_DTYPE_OTHER /* a valid dtype of the format that vggcore cannot use */
} VggDType;

typedef struct
{
  char *name;
  VggDType dtype;
  char dtype_name[16]; /* as written in the file ("F32", "I64", ...) */
  int ndim;
  int64_t shape[VGG_TENSOR_MAX_DIMS];
  const void *data; /* inside the file's mapping; little-endian */
  size_t nbytes;
} VggTensor;

typedef struct
{
  char *path;
  void *map; /* read-only mapping of the whole file, munmap'ed at free */
  size_t map_size;
  VggTensor *tensors;
  int n_tensors;
  char **meta_keys; /* `__metadata__`, NULL-free arrays of n_meta */
  char **meta_values;
  int n_meta;
} VggTensorFile;

/* Opens and validates a safetensors file: header length, JSON syntax,
 * dtypes, shapes, data offsets (inside the data, in order, not
 * overlapping, matching shape x dtype size).  On error returns a status
 * and writes "PATH: problem" into error. */
VggStatus vgg_safetensors_open (
    const char *path, VggTensorFile **file, char error[VGG_ERROR_SIZE]);

/* Opens a PyTorch checkpoint (.pth): torch.save's zip archive or its
 * legacy pickle format, read by a restricted unpickler (vgg-pickle.c). */
VggStatus vgg_pth_open (
    const char *path, VggTensorFile **file, char error[VGG_ERROR_SIZE]);

/* The tensors of the checkpoint in data[0, size) (not copied: they point
 * into data) added to file, whose map the caller owns.  path names the
 * file in messages. */
VggStatus vgg_pth_read (const char *path, const unsigned char *data,
    size_t size, VggTensorFile *file, char error[VGG_ERROR_SIZE]);

/* Opens path read-only so that it cannot block (O_NONBLOCK: a FIFO
 * without a writer does not hang in open(2)), then checks with fstat on
 * the descriptor that it is a regular file.  Returns the descriptor
 * (st filled) or -1 after writing "PATH: problem" into error. */
int vgg_file_open_regular (
    const char *path, struct stat *st, char error[VGG_ERROR_SIZE]);

/* Opens any model file, choosing the reader by content: a zip or pickle
 * header means a PyTorch checkpoint, anything else safetensors. */
VggStatus vgg_tensor_file_open (
    const char *path, VggTensorFile **file, char error[VGG_ERROR_SIZE]);

void vgg_tensor_file_free (VggTensorFile *file);

/* Borrowed; NULL when absent. */
const VggTensor *vgg_tensor_file_find (
    const VggTensorFile *file, const char *name);
const char *vgg_tensor_file_get_metadata (
    const VggTensorFile *file, const char *key);

/* Number of elements (product of the shape). */
int64_t vgg_tensor_numel (const VggTensor *tensor);

/* Index of the first NaN or infinity of a F32/F16/BF16 tensor, -1 when
 * every element is finite (other dtypes: -1). */
int64_t vgg_tensor_find_nonfinite (const VggTensor *tensor);

/* Converts a F32/F16/BF16 tensor to float32 (dst holds numel floats). */
void vgg_tensor_to_f32 (const VggTensor *tensor, float *dst);
/* The same for its elements start .. start + n - 1. */
void vgg_tensor_range_to_f32 (
    const VggTensor *tensor, int64_t start, int64_t n, float *dst);

#endif

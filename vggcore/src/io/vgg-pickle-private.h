/* A restricted unpickler: it understands the opcodes and the few globals
 * that a PyTorch state dict needs and refuses everything else, so reading
 * a pickle can never execute anything.  Private to vggcore.
 *
 * Values live in one arena and refer to each other by index (a pickle can
 * share a value, through its memo, between several containers).  Strings
 * point into the pickle's bytes. */
#ifndef VGG_PICKLE_PRIVATE_H
#define VGG_PICKLE_PRIVATE_H

#include "vgg-tensors-private.h"

typedef enum
{
  VGG_PK_NONE,
  VGG_PK_BOOL,
  VGG_PK_INT,    /* fits int64 */
  VGG_PK_BIGINT, /* LONG1/LONG4 wider than int64: bytes in str */
  VGG_PK_FLOAT,
  VGG_PK_STRING, /* unicode (UTF-8 checked) */
  VGG_PK_BYTES,
  VGG_PK_TUPLE,
  VGG_PK_LIST,
  VGG_PK_DICT,    /* dict or collections.OrderedDict, keys in order */
  VGG_PK_GLOBAL,  /* one of VggPickleGlobal */
  VGG_PK_STORAGE, /* a persistent id ('storage', type, key, ...) */
  VGG_PK_TENSOR   /* torch._utils._rebuild_tensor_v2 (...) */
} VggPickleKind;

/* The only globals a state dict needs. */
typedef enum
{
  VGG_PK_GLOBAL_ORDERED_DICT,
  VGG_PK_GLOBAL_REBUILD_TENSOR_V2,
  VGG_PK_GLOBAL_STORAGE /* torch.FloatStorage etc.: dtype in storage_dtype */
} VggPickleGlobal;

/* torch storage types: element size and safetensors-style name. */
typedef struct
{
  const char *torch_name; /* "FloatStorage" */
  const char *dtype_name; /* "F32" */
  VggDType dtype;
  int element_size;
} VggStorageType;

typedef struct
{
  VggPickleKind kind;
  int depth;        /* nesting of containers below this value (0 for scalars) */
  int64_t i;        /* INT, BOOL; GLOBAL: VggPickleGlobal; STORAGE: storage
                index; TENSOR: tensor index */
  int storage_type; /* GLOBAL_STORAGE: index in vgg_storage_types */
  double f;
  const unsigned char *str; /* STRING, BYTES, BIGINT (little-endian) */
  size_t len;
  uint32_t *items; /* TUPLE, LIST: values; DICT: key, value pairs */
  uint32_t n_items, n_alloc;
} VggPickleValue;

typedef struct
{
  int type;                 /* index in vgg_storage_types */
  const unsigned char *key; /* not NUL-terminated */
  size_t key_len;
  int64_t numel;  /* declared number of elements */
  int64_t legacy; /* legacy format: view metadata was given (refused) */
} VggPickleStorage;

typedef struct
{
  uint32_t storage; /* index in storages */
  int64_t offset;   /* in elements */
  int ndim;
  int64_t shape[VGG_TENSOR_MAX_DIMS];
  int64_t stride[VGG_TENSOR_MAX_DIMS];
} VggPickleTensor;

typedef struct
{
  VggPickleValue *values;
  uint32_t n_values, n_values_alloc;
  VggPickleStorage *storages;
  uint32_t n_storages, n_storages_alloc;
  VggPickleTensor *tensors;
  uint32_t n_tensors, n_tensors_alloc;
  uint32_t root; /* the value STOP returned */
} VggPickle;

extern const VggStorageType vgg_storage_types[];
extern const int vgg_n_storage_types;

/* Runs the pickle that starts at data[*pos] (and may not end before
 * size), adding its values to pk; on success pk->root is its result and
 * *pos the byte after its STOP.  persistent_ids: whether BINPERSID is
 * allowed (the state dict of a checkpoint) or not (its other pickles).
 * path names the file in messages. */
VggStatus vgg_pickle_run (VggPickle *pk, const char *path,
    const unsigned char *data, size_t size, size_t *pos, int persistent_ids,
    char error[VGG_ERROR_SIZE]);

void vgg_pickle_clear (VggPickle *pk);

/* Dict lookup by string key; NULL when absent or d is no dict. */
const VggPickleValue *vgg_pickle_dict_get (
    const VggPickle *pk, const VggPickleValue *d, const char *key);

#endif

/* PyTorch checkpoints (torch.save) as a tensor file.
 *
 * Zip format (PyTorch >= 1.6), stored entries under one folder:
 *   DIR/data.pkl      the pickled object; each tensor is
 *                     _rebuild_tensor_v2 (persistent id, offset, size,
 *                     stride, ...) with the persistent id
 *                     ('storage', torch.FloatStorage, KEY, 'cpu', numel)
 *   DIR/data/KEY      the raw little-endian bytes of storage KEY
 *   DIR/version, DIR/byteorder ("little", optional)
 *
 * Legacy format (_use_new_zipfile_serialization=False, and torchvision's
 * published VGG files), five pickles back to back and then the storages:
 *   magic number 0x1950a86a20f9469cfc6c | protocol version 1001 |
 *   sys info {'little_endian': True, ...} | the object (persistent ids
 *   ('storage', type, KEY, location, numel, None)) | list of KEYs |
 *   per KEY in that order: u64 little-endian element count, raw data
 *
 * The object is a state dict (a dict of name -> tensor), possibly wrapped
 * in a dict ({"state_dict": ...}, {"model": ...}); names may carry the
 * "module." prefix of DataParallel.  Tensors point into the bytes of the
 * file; each must be a contiguous view (any storage offset) lying inside
 * its storage. */
#include "vgg-pickle-private.h"
#include "vgg-zip-private.h"
#include "vgg-error-private.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Keys whose value may hold the state dict of a training checkpoint. */
static const char *const wrapper_keys[] = { "state_dict", "model_state_dict",
  "model", "net", "module", "weights", NULL };

/* Printable copy of a key or name for messages. */
static const char *
printable (char buf[100], const unsigned char *s, size_t n)
{
  size_t k = 0;

  for (size_t i = 0; i < n && k + 5 < 100; i++) {
    if (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '"')
      buf[k++] = (char) s[i];
    else
      k += (size_t) snprintf (buf + k, 100 - k, "\\x%02x", s[i]);
  }
  buf[k < 100 ? k : 99] = '\0';
  return buf;
}

typedef struct
{
  const char *path;
  char *error;
  VggPickle pk;
  const unsigned char **storage_data; /* per storage; NULL: no data yet */
} Reader;

static const VggPickleValue *
val (const Reader *r, uint32_t index)
{
  return &r->pk.values[index];
}

static bool
has_tensors (const Reader *r, const VggPickleValue *d)
{
  if (d == NULL || d->kind != VGG_PK_DICT)
    return false;
  for (uint32_t i = 1; i < d->n_items; i += 2)
    if (val (r, d->items[i])->kind == VGG_PK_TENSOR)
      return true;
  return false;
}

/* The dict of tensors: the root, or one level down under a known key. */
static VggStatus
find_state_dict (Reader *r, const VggPickleValue **out)
{
  const VggPickleValue *root = val (r, r->pk.root);
  char keys[200] = "";
  size_t len = 0;

  if (root->kind != VGG_PK_DICT)
    return vgg_set_error (r->error, VGG_ERROR_UNSUPPORTED, r->path,
        "the checkpoint holds no dict but another object; save the model's "
        "state_dict ()");
  if (has_tensors (r, root)) {
    *out = root;
    return VGG_OK;
  }
  for (int i = 0; wrapper_keys[i] != NULL; i++) {
    const VggPickleValue *v =
        vgg_pickle_dict_get (&r->pk, root, wrapper_keys[i]);
    if (has_tensors (r, v)) {
      *out = v;
      return VGG_OK;
    }
  }
  for (uint32_t i = 0; i < root->n_items && len + 20 < sizeof keys; i += 2) {
    const VggPickleValue *k = val (r, root->items[i]);
    char q[100];
    if (k->kind == VGG_PK_STRING)
      len += (size_t) snprintf (keys + len, sizeof keys - len, "%s\"%s\"",
          len ? ", " : "", printable (q, k->str, k->len));
  }
  return vgg_set_error (r->error, VGG_ERROR_UNSUPPORTED, r->path,
      "no state dict: the checkpoint's dict has no tensors, nor has its "
      "\"state_dict\" or \"model\" entry (its keys: %s)",
      len ? keys : "none");
}

static int
compare_names (const void *a, const void *b)
{
  return strcmp (((const VggTensor *) a)->name, ((const VggTensor *) b)->name);
}

/* Fills t from the pickled tensor, checked against its storage. */
static VggStatus
make_tensor (
    Reader *r, const char *name, const VggPickleTensor *pt, VggTensor *t)
{
  const VggPickleStorage *s = &r->pk.storages[pt->storage];
  const VggStorageType *type = &vgg_storage_types[s->type];
  int64_t numel = 1, expect = 1;
  char q[100];

  t->dtype = type->dtype;
  snprintf (t->dtype_name, sizeof t->dtype_name, "%s", type->dtype_name);
  t->ndim = pt->ndim;
  for (int i = 0; i < pt->ndim; i++) {
    t->shape[i] = pt->shape[i];
    if (pt->shape[i] != 0
        && numel > INT64_MAX / type->element_size / pt->shape[i])
      return vgg_set_error (r->error, VGG_ERROR_FORMAT, r->path,
          "tensor \"%s\" has a size that overflows",
          printable (q, (const unsigned char *) name, strlen (name)));
    numel *= pt->shape[i];
  }
  /* Contiguous (row-major) strides, ignoring dimensions of size 1. */
  for (int i = pt->ndim - 1; i >= 0; i--) {
    if (pt->shape[i] != 1 && pt->stride[i] != expect) {
      char shape[120] = "", stride[120] = "";
      size_t a = 0, b = 0;
      for (int k = 0; k < pt->ndim && a < 100 && b < 100; k++) {
        a += (size_t) snprintf (shape + a, sizeof shape - a, "%s%lld",
            k ? ", " : "", (long long) pt->shape[k]);
        b += (size_t) snprintf (stride + b, sizeof stride - b, "%s%lld",
            k ? ", " : "", (long long) pt->stride[k]);
      }
      return vgg_set_error (r->error, VGG_ERROR_UNSUPPORTED, r->path,
          "tensor \"%s\" is a strided view (size [%s], stride [%s]); only "
          "contiguous tensors can be read: save t.contiguous ()",
          printable (q, (const unsigned char *) name, strlen (name)), shape,
          stride);
    }
    expect *= pt->shape[i];
  }
  if (numel > 0) {
    if (pt->offset > s->numel || numel > s->numel - pt->offset)
      return vgg_set_error (r->error, VGG_ERROR_FORMAT, r->path,
          "tensor \"%s\" (offset %lld, %lld elements) reaches past the end "
          "of its storage \"%s\" (%lld elements)",
          printable (q, (const unsigned char *) name, strlen (name)),
          (long long) pt->offset, (long long) numel,
          printable ((char[100]){ 0 }, s->key, s->key_len),
          (long long) s->numel);
  }
  t->nbytes = (size_t) numel * (size_t) type->element_size;
  t->data = numel > 0
      ? r->storage_data[pt->storage] + (size_t) pt->offset * type->element_size
      : r->storage_data[pt->storage];
  return VGG_OK;
}

static VggStatus
build_tensors (Reader *r, VggTensorFile *file)
{
  const VggPickleValue *sd = NULL;
  VggStatus status;
  int n = 0;
  bool all_module = true;
  char q[100];

  status = find_state_dict (r, &sd);
  if (status != VGG_OK)
    return status;
  for (uint32_t i = 0; i + 1 < sd->n_items; i += 2) {
    const VggPickleValue *k = val (r, sd->items[i]);
    if (val (r, sd->items[i + 1])->kind != VGG_PK_TENSOR)
      continue; /* not a tensor: nothing a model needs */
    if (k->kind != VGG_PK_STRING)
      return vgg_set_error (r->error, VGG_ERROR_FORMAT, r->path,
          "a tensor of the state dict has no string name");
    if (memchr (k->str, '\0', k->len) != NULL)
      return vgg_set_error (r->error, VGG_ERROR_FORMAT, r->path,
          "tensor name \"%s\" holds a NUL character",
          printable (q, k->str, k->len));
    all_module = all_module && k->len > 7 && memcmp (k->str, "module.", 7) == 0;
    n++;
  }
  if (n == 0)
    return vgg_set_error (r->error, VGG_ERROR_UNSUPPORTED, r->path,
        "the state dict holds no tensors");
  file->tensors = calloc ((size_t) n, sizeof *file->tensors);
  if (file->tensors == NULL)
    return vgg_set_error (r->error, VGG_ERROR_NOMEM, r->path, "out of memory");
  for (uint32_t i = 0; i + 1 < sd->n_items; i += 2) {
    const VggPickleValue *k = val (r, sd->items[i]);
    const VggPickleValue *v = val (r, sd->items[i + 1]);
    VggTensor *t = &file->tensors[file->n_tensors];
    size_t skip = all_module ? 7 : 0;

    if (v->kind != VGG_PK_TENSOR)
      continue;
    t->name = malloc (k->len - skip + 1);
    if (t->name == NULL)
      return vgg_set_error (
          r->error, VGG_ERROR_NOMEM, r->path, "out of memory");
    memcpy (t->name, k->str + skip, k->len - skip);
    t->name[k->len - skip] = '\0';
    file->n_tensors++;
    status = make_tensor (r, t->name, &r->pk.tensors[v->i], t);
    if (status != VGG_OK)
      return status;
  }

  /* Python keeps the last of duplicate keys; a file that has any is
   * ambiguous, so it is refused.  Sorting a copy keeps the file's order. */
  {
    VggTensor *sorted = malloc ((size_t) n * sizeof *sorted);
    if (sorted == NULL)
      return vgg_set_error (
          r->error, VGG_ERROR_NOMEM, r->path, "out of memory");
    memcpy (sorted, file->tensors, (size_t) n * sizeof *sorted);
    qsort (sorted, (size_t) n, sizeof *sorted, compare_names);
    for (int i = 1; i < n; i++)
      if (strcmp (sorted[i - 1].name, sorted[i].name) == 0) {
        status = vgg_set_error (r->error, VGG_ERROR_FORMAT, r->path,
            "tensor \"%s\" appears twice in the state dict",
            printable (q, (const unsigned char *) sorted[i].name,
                strlen (sorted[i].name)));
        break;
      }
    free (sorted);
  }
  return status;
}

static VggStatus
read_zip (Reader *r, const unsigned char *data, size_t size)
{
  VggZip *zip = NULL;
  const VggZipEntry *pkl = NULL, *e;
  char *name = NULL, q[100];
  size_t prefix_len = 0, pos = 0;
  VggStatus status;

  status = vgg_zip_open (r->path, data, size, &zip, r->error);
  if (status != VGG_OK)
    goto out;
  for (int i = 0; i < zip->n_entries; i++) {
    const char *n = zip->entries[i].name;
    const char *slash = strchr (n, '/');
    if (slash != NULL && strcmp (slash, "/data.pkl") == 0) {
      if (pkl != NULL) {
        status = vgg_set_error (r->error, VGG_ERROR_FORMAT, r->path,
            "zip archive has two data.pkl entries");
        goto out;
      }
      pkl = &zip->entries[i];
      prefix_len = (size_t) (slash - n) + 1;
    }
  }
  if (pkl == NULL) {
    status = vgg_set_error (r->error, VGG_ERROR_FORMAT, r->path,
        "zip archive has no DIR/data.pkl entry: not a PyTorch checkpoint");
    goto out;
  }
  if (vgg_zip_crc32 (pkl->data, pkl->size) != pkl->crc32) {
    status = vgg_set_error (r->error, VGG_ERROR_FORMAT, r->path,
        "zip entry \"%s\" is damaged (CRC-32 mismatch)",
        printable (q, (const unsigned char *) pkl->name, strlen (pkl->name)));
    goto out;
  }
  name = malloc (prefix_len + 32);
  if (name == NULL) {
    status =
        vgg_set_error (r->error, VGG_ERROR_NOMEM, r->path, "out of memory");
    goto out;
  }
  memcpy (name, pkl->name, prefix_len);
  strcpy (name + prefix_len, "byteorder");
  e = vgg_zip_find (zip, name);
  if (e != NULL && !(e->size == 6 && memcmp (e->data, "little", 6) == 0)) {
    status = vgg_set_error (r->error, VGG_ERROR_UNSUPPORTED, r->path,
        "the checkpoint was written on a big-endian machine");
    goto out;
  }

  status = vgg_pickle_run (
      &r->pk, r->path, pkl->data, (size_t) pkl->size, &pos, 1, r->error);
  if (status != VGG_OK)
    goto out;
  r->storage_data = calloc (r->pk.n_storages + 1, sizeof *r->storage_data);
  if (r->storage_data == NULL) {
    status =
        vgg_set_error (r->error, VGG_ERROR_NOMEM, r->path, "out of memory");
    goto out;
  }
  for (uint32_t i = 0; i < r->pk.n_storages; i++) {
    const VggPickleStorage *s = &r->pk.storages[i];
    char *full = malloc (prefix_len + 5 + s->key_len + 1);
    int elem = vgg_storage_types[s->type].element_size;

    if (full == NULL) {
      status =
          vgg_set_error (r->error, VGG_ERROR_NOMEM, r->path, "out of memory");
      goto out;
    }
    memcpy (full, pkl->name, prefix_len);
    memcpy (full + prefix_len, "data/", 5);
    memcpy (full + prefix_len + 5, s->key, s->key_len);
    full[prefix_len + 5 + s->key_len] = '\0';
    e = memchr (s->key, '\0', s->key_len) ? NULL : vgg_zip_find (zip, full);
    free (full);
    if (e == NULL) {
      status = vgg_set_error (r->error, VGG_ERROR_FORMAT, r->path,
          "storage \"%s\" has no zip entry data/%s",
          printable (q, s->key, s->key_len), q);
      goto out;
    }
    if ((uint64_t) s->numel > UINT64_MAX / (uint64_t) elem
        || e->size != (uint64_t) s->numel * (uint64_t) elem) {
      status = vgg_set_error (r->error, VGG_ERROR_FORMAT, r->path,
          "storage \"%s\" declares %lld elements of %d bytes but its zip "
          "entry has %llu bytes",
          printable (q, s->key, s->key_len), (long long) s->numel, elem,
          (unsigned long long) e->size);
      goto out;
    }
    r->storage_data[i] = e->data;
  }

out:
  free (name);
  vgg_zip_free (zip);
  return status;
}

/* torch's legacy magic number 0x1950a86a20f9469cfc6c as pickled: the
 * little-endian bytes of a LONG1. */
static const unsigned char legacy_magic[] = { 0x6c, 0xfc, 0x9c, 0x46, 0xf9,
  0x20, 0x6a, 0xa8, 0x50, 0x19 };

static VggStatus
read_legacy (Reader *r, const unsigned char *data, size_t size)
{
  const VggPickleValue *v, *keys;
  size_t pos = 0;
  VggStatus status;
  char q[100];

  status = vgg_pickle_run (&r->pk, r->path, data, size, &pos, 0, r->error);
  if (status != VGG_OK)
    return status;
  v = val (r, r->pk.root);
  if (v->kind != VGG_PK_BIGINT || v->len != sizeof legacy_magic
      || memcmp (v->str, legacy_magic, sizeof legacy_magic) != 0)
    return vgg_set_error (r->error, VGG_ERROR_FORMAT, r->path,
        "not a PyTorch checkpoint: the first pickle is not torch's magic "
        "number");
  status = vgg_pickle_run (&r->pk, r->path, data, size, &pos, 0, r->error);
  if (status != VGG_OK)
    return status;
  v = val (r, r->pk.root);
  if (v->kind != VGG_PK_INT || v->i != 1001)
    return vgg_set_error (r->error, VGG_ERROR_UNSUPPORTED, r->path,
        "legacy checkpoint protocol version is not 1001");
  status = vgg_pickle_run (&r->pk, r->path, data, size, &pos, 0, r->error);
  if (status != VGG_OK)
    return status;
  v = vgg_pickle_dict_get (&r->pk, val (r, r->pk.root), "little_endian");
  if (v != NULL && !(v->kind == VGG_PK_BOOL && v->i == 1))
    return vgg_set_error (r->error, VGG_ERROR_UNSUPPORTED, r->path,
        "the checkpoint was written on a big-endian machine");

  status = vgg_pickle_run (&r->pk, r->path, data, size, &pos, 1, r->error);
  if (status != VGG_OK)
    return status;
  {
    uint32_t object = r->pk.root;
    status = vgg_pickle_run (&r->pk, r->path, data, size, &pos, 0, r->error);
    if (status != VGG_OK)
      return status;
    keys = val (r, r->pk.root);
    r->pk.root = object;
  }
  if (keys->kind != VGG_PK_LIST)
    return vgg_set_error (r->error, VGG_ERROR_FORMAT, r->path,
        "the storage keys of the legacy checkpoint are not a list");

  r->storage_data = calloc (r->pk.n_storages + 1, sizeof *r->storage_data);
  if (r->storage_data == NULL)
    return vgg_set_error (r->error, VGG_ERROR_NOMEM, r->path, "out of memory");
  for (uint32_t i = 0; i < keys->n_items; i++) {
    const VggPickleValue *k = val (r, keys->items[i]);
    uint32_t s;
    uint64_t numel = 0;
    int elem;

    if (k->kind != VGG_PK_STRING)
      return vgg_set_error (r->error, VGG_ERROR_FORMAT, r->path,
          "storage key %u is not a string", i);
    for (s = 0; s < r->pk.n_storages; s++)
      if (r->pk.storages[s].key_len == k->len
          && memcmp (r->pk.storages[s].key, k->str, k->len) == 0)
        break;
    if (s == r->pk.n_storages)
      return vgg_set_error (r->error, VGG_ERROR_FORMAT, r->path,
          "storage \"%s\" has data but no tensor names it",
          printable (q, k->str, k->len));
    if (r->storage_data[s] != NULL)
      return vgg_set_error (r->error, VGG_ERROR_FORMAT, r->path,
          "storage \"%s\" is listed twice", printable (q, k->str, k->len));
    if (size - pos < 8)
      return vgg_set_error (r->error, VGG_ERROR_FORMAT, r->path,
          "the file ends before storage \"%s\" (truncated?)",
          printable (q, k->str, k->len));
    for (int b = 7; b >= 0; b--)
      numel = (numel << 8) | data[pos + b];
    pos += 8;
    elem = vgg_storage_types[r->pk.storages[s].type].element_size;
    if (numel != (uint64_t) r->pk.storages[s].numel)
      return vgg_set_error (r->error, VGG_ERROR_FORMAT, r->path,
          "storage \"%s\" has %llu elements but its tensors declare %lld",
          printable (q, k->str, k->len), (unsigned long long) numel,
          (long long) r->pk.storages[s].numel);
    if (numel > (size - pos) / (uint64_t) elem)
      return vgg_set_error (r->error, VGG_ERROR_FORMAT, r->path,
          "storage \"%s\" of %llu elements of %d bytes runs past the end of "
          "the file (%zu bytes left; truncated?)",
          printable (q, k->str, k->len), (unsigned long long) numel, elem,
          size - pos);
    r->storage_data[s] = data + pos;
    pos += (size_t) numel * (size_t) elem;
  }
  for (uint32_t s = 0; s < r->pk.n_storages; s++)
    if (r->storage_data[s] == NULL)
      return vgg_set_error (r->error, VGG_ERROR_FORMAT, r->path,
          "storage \"%s\" is used by a tensor but has no data",
          printable (q, r->pk.storages[s].key, r->pk.storages[s].key_len));
  if (pos != size)
    return vgg_set_error (r->error, VGG_ERROR_FORMAT, r->path,
        "%zu bytes after the last storage belong to nothing", size - pos);
  return VGG_OK;
}

VggStatus
vgg_pth_read (const char *path, const unsigned char *data, size_t size,
    VggTensorFile *file, char error[VGG_ERROR_SIZE])
{
  Reader r = { 0 };
  VggStatus status;

  r.path = path;
  r.error = error;
  if (error != NULL)
    error[0] = '\0';
  if (size >= 4 && memcmp (data, "PK\3\4", 4) == 0)
    status = read_zip (&r, data, size);
  else if (size >= 2 && data[0] == 0x80)
    status = read_legacy (&r, data, size);
  else
    status = vgg_set_error (error, VGG_ERROR_FORMAT, path,
        "not a PyTorch checkpoint (neither a zip archive nor a pickle)");
  if (status == VGG_OK)
    status = build_tensors (&r, file);
  vgg_pickle_clear (&r.pk);
  free (r.storage_data);
  return status;
}

VggStatus
vgg_pth_open (const char *path, VggTensorFile **out, char error[VGG_ERROR_SIZE])
{
  VggStatus status = VGG_OK;
  VggTensorFile *file = NULL;
  struct stat st;
  void *map;
  int fd;

  *out = NULL;
  fd = vgg_file_open_regular (path, &st, error);
  if (fd < 0)
    return VGG_ERROR_IO;
  if (st.st_size == 0) {
    status = vgg_set_error (error, VGG_ERROR_IO, path, "file is empty");
    goto out;
  }
  file = calloc (1, sizeof *file);
  if (file == NULL || (file->path = strdup (path)) == NULL) {
    status = vgg_set_error (error, VGG_ERROR_NOMEM, path, "out of memory");
    goto out;
  }
  map = mmap (NULL, (size_t) st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
  if (map == MAP_FAILED) {
    status = vgg_set_error (
        error, VGG_ERROR_IO, path, "cannot map: %s", strerror (errno));
    goto out;
  }
  file->map = map;
  file->map_size = (size_t) st.st_size;
  status = vgg_pth_read (path, map, file->map_size, file, error);

out:
  close (fd);
  if (status != VGG_OK) {
    vgg_tensor_file_free (file);
    file = NULL;
  }
  *out = file;
  return status;
}

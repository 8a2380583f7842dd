/* Reader of safetensors files:
 *
 *   u64 little-endian N | N bytes of UTF-8 JSON header | data region
 *
 * The header is an object mapping each tensor name to
 * {"dtype": "F32", "shape": [d0, d1, ...], "data_offsets": [begin, end]},
 * offsets relative to the start of the data region, plus an optional
 * "__metadata__" object of strings.  It may be padded with trailing spaces.
 *
 * A model file comes from anywhere, so it is treated as hostile: every
 * number is checked (with overflow-checked arithmetic) before it is used,
 * and nothing is read outside the mapping.  The rules follow the format's
 * reference implementation: header at most 100 MiB, duplicate keys
 * refused, and the tensors must tile the data region exactly (no overlap,
 * no holes, nothing after the last tensor) so that a file cannot hide a
 * second payload. */
#include "vgg-tensors-private.h"
#include "vgg-error-private.h"
#include "vgg-json-private.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* The reference implementation's limit: real headers are a few MB, and a
 * larger one can only be a way to make the parser allocate. */
#define MAX_HEADER_SIZE ((uint64_t) 100 << 20)

/* Room for a quoted name in a message: long names are cut so that the
 * message keeps its point within VGG_ERROR_SIZE. */
#define QUOTE_SIZE 80
#define SHAPE_SIZE 200

/* ---- Messages ---- */

/* Copies s into buf between double quotes for a message: control
 * characters, quotes and backslashes escaped, cut (at a UTF-8 character
 * boundary) with "..." when long.  Names come from the file and may hold
 * anything. */
static const char *
quote (char buf[QUOTE_SIZE], const char *s)
{
  const size_t room = QUOTE_SIZE - 6; /* quotes, "...", NUL */
  size_t n = 0;

  buf[n++] = '"';
  for (; *s != '\0'; s++) {
    unsigned char c = (unsigned char) *s;
    char tmp[5];
    size_t len;

    if (c < 0x20 || c == 0x7f)
      len = (size_t) snprintf (tmp, sizeof tmp, "\\x%02x", c);
    else if (c == '"' || c == '\\')
      len = (size_t) snprintf (tmp, sizeof tmp, "\\%c", c);
    else {
      tmp[0] = (char) c;
      len = 1;
    }
    if (n + len > room) {
      /* Do not leave half of a multi-byte character before the dots. */
      while (n > 1 && ((unsigned char) buf[n - 1] & 0xc0) == 0x80)
        n--;
      if (n > 1 && ((unsigned char) buf[n - 1] & 0xc0) == 0xc0)
        n--;
      memcpy (buf + n, "...", 3);
      n += 3;
      break;
    }
    memcpy (buf + n, tmp, len);
    n += len;
  }
  buf[n++] = '"';
  buf[n] = '\0';
  return buf;
}

/* "[64, 3, 3, 3]" */
static const char *
format_shape (char buf[SHAPE_SIZE], const int64_t *shape, int ndim)
{
  size_t n = 0;

  buf[n++] = '[';
  buf[n] = '\0';
  for (int i = 0; i < ndim && n < SHAPE_SIZE; i++) {
    int w = snprintf (
        buf + n, SHAPE_SIZE - n, "%s%lld", i ? ", " : "", (long long) shape[i]);
    if (w < 0)
      break;
    n += (size_t) w;
  }
  if (n < SHAPE_SIZE - 1) {
    buf[n++] = ']';
    buf[n] = '\0';
  }
  return buf;
}

/* ---- Header semantics ---- */

typedef struct
{
  const char *name;
  VggDType dtype;
  int size; /* bytes per element */
} DTypeInfo;

/* Every dtype of the format, so that files holding tensors vggcore does
 * not use (an I64 `num_batches_tracked` of batch-norm) still validate. */
static const DTypeInfo dtypes[] = {
  { "F32", VGG_DTYPE_F32, 4 },
  { "F16", VGG_DTYPE_F16, 2 },
  { "BF16", VGG_DTYPE_BF16, 2 },
  { "BOOL", VGG_DTYPE_OTHER, 1 },
  { "U8", VGG_DTYPE_OTHER, 1 },
  { "I8", VGG_DTYPE_OTHER, 1 },
  { "F8_E4M3", VGG_DTYPE_OTHER, 1 },
  { "F8_E5M2", VGG_DTYPE_OTHER, 1 },
  { "I16", VGG_DTYPE_OTHER, 2 },
  { "U16", VGG_DTYPE_OTHER, 2 },
  { "I32", VGG_DTYPE_OTHER, 4 },
  { "U32", VGG_DTYPE_OTHER, 4 },
  { "F64", VGG_DTYPE_OTHER, 8 },
  { "I64", VGG_DTYPE_OTHER, 8 },
  { "U64", VGG_DTYPE_OTHER, 8 },
};

typedef struct
{
  const char *path;
  char *error;
  const VggJsonParser *json;
  const unsigned char *data; /* start of the data region */
  uint64_t data_size;
} HeaderReader;

static int
compare_strings (const void *a, const void *b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* Sorted copies of the names: duplicates become neighbours, in
 * O(n log n) even for a header of millions of keys.  Returns the
 * duplicated name or NULL; *nomem is set when the copy fails. */
static const char *
find_duplicate (const char *const *names, int n, bool *nomem)
{
  const char **sorted;
  const char *duplicate = NULL;

  *nomem = false;
  if (n < 2)
    return NULL;
  sorted = malloc ((size_t) n * sizeof *sorted);
  if (sorted == NULL) {
    *nomem = true;
    return NULL;
  }
  memcpy (sorted, names, (size_t) n * sizeof *sorted);
  qsort (sorted, (size_t) n, sizeof *sorted, compare_strings);
  for (int i = 1; i < n && duplicate == NULL; i++)
    if (strcmp (sorted[i - 1], sorted[i]) == 0)
      duplicate = sorted[i];
  free (sorted);
  return duplicate;
}

static VggStatus
read_metadata (HeaderReader *r, VggTensorFile *file, const VggJsonNode *object)
{
  const VggJsonParser *json = r->json;
  VggStatus status = VGG_OK;
  const char *duplicate;
  char q1[QUOTE_SIZE];
  uint32_t child;
  bool nomem;
  int i = 0;

  if (object->kind != VGG_JSON_OBJECT) {
    status = vgg_set_error (r->error, VGG_ERROR_FORMAT, r->path,
        "__metadata__ is %s, not an object",
        vgg_json_kind_describe (object->kind));
    goto out;
  }
  if (object->u.children.count == 0)
    goto out;
  if (object->u.children.count > INT_MAX) {
    status = vgg_set_error (r->error, VGG_ERROR_FORMAT, r->path,
        "__metadata__ has too many entries");
    goto out;
  }
  file->meta_keys = calloc (object->u.children.count, sizeof (char *));
  file->meta_values = calloc (object->u.children.count, sizeof (char *));
  if (file->meta_keys == NULL || file->meta_values == NULL)
    goto nomem;
  file->n_meta = (int) object->u.children.count;

  for (child = object->u.children.first; child != VGG_JSON_NONE;
       child = json->nodes[child].next, i++) {
    const VggJsonNode *value = &json->nodes[child];
    const char *key = vgg_json_key (json, value);

    if (value->kind != VGG_JSON_STRING) {
      status = vgg_set_error (r->error, VGG_ERROR_FORMAT, r->path,
          "__metadata__ value of %s is %s, not a string", quote (q1, key),
          vgg_json_kind_describe (value->kind));
      goto out;
    }
    file->meta_keys[i] = strdup (key);
    file->meta_values[i] = strdup (vgg_json_string (json, value));
    if (file->meta_keys[i] == NULL || file->meta_values[i] == NULL)
      goto nomem;
  }

  duplicate = find_duplicate (
      (const char *const *) file->meta_keys, file->n_meta, &nomem);
  if (nomem)
    goto nomem;
  if (duplicate != NULL)
    status = vgg_set_error (r->error, VGG_ERROR_FORMAT, r->path,
        "__metadata__ has the key %s twice", quote (q1, duplicate));
  goto out;

nomem:
  status = vgg_set_error (
      r->error, VGG_ERROR_NOMEM, r->path, "out of memory reading __metadata__");
out:
  return status;
}

/* Checks that element index of shape or data_offsets is an int64_t. */
static bool
check_int_element (HeaderReader *r, const char *qname, const char *field,
    uint32_t index, const VggJsonNode *node)
{
  if (node->kind == VGG_JSON_INTEGER)
    return true;
  if (node->kind == VGG_JSON_BIG_INTEGER)
    vgg_set_error (r->error, VGG_ERROR_FORMAT, r->path,
        "tensor %s: %s[%u] is outside the 64-bit range", qname, field, index);
  else
    vgg_set_error (r->error, VGG_ERROR_FORMAT, r->path,
        "tensor %s: %s[%u] is %s, not an integer", qname, field, index,
        vgg_json_kind_describe (node->kind));
  return false;
}

static VggStatus
read_tensor (HeaderReader *r, VggTensor *tensor, const VggJsonNode *entry)
{
  const VggJsonParser *json = r->json;
  const char *name = vgg_json_key (json, entry);
  const VggJsonNode *dtype = NULL, *shape = NULL, *offsets = NULL;
  const DTypeInfo *info = NULL;
  VggStatus status = VGG_ERROR_FORMAT;
  char qname[QUOTE_SIZE], q2[QUOTE_SIZE], shape_text[SHAPE_SIZE];
  int64_t numel = 1, nbytes, begin, end;
  bool has_zero = false;
  uint32_t child, i;

  quote (qname, name);
  tensor->name = strdup (name);
  if (tensor->name == NULL) {
    status = vgg_set_error (r->error, VGG_ERROR_NOMEM, r->path,
        "out of memory reading tensor %s", qname);
    goto out;
  }
  if (entry->kind != VGG_JSON_OBJECT) {
    vgg_set_error (r->error, VGG_ERROR_FORMAT, r->path,
        "tensor %s: entry is %s, not an object", qname,
        vgg_json_kind_describe (entry->kind));
    goto out;
  }

  /* Unknown keys are refused too: a misspelt "data_offset" is a broken
   * writer, not an extension of the format. */
  for (child = entry->u.children.first; child != VGG_JSON_NONE;
       child = json->nodes[child].next) {
    const VggJsonNode *member = &json->nodes[child];
    const char *key = vgg_json_key (json, member);
    const VggJsonNode **slot;

    if (strcmp (key, "dtype") == 0)
      slot = &dtype;
    else if (strcmp (key, "shape") == 0)
      slot = &shape;
    else if (strcmp (key, "data_offsets") == 0)
      slot = &offsets;
    else {
      vgg_set_error (r->error, VGG_ERROR_FORMAT, r->path,
          "tensor %s: unknown key %s", qname, quote (q2, key));
      goto out;
    }
    if (*slot != NULL) {
      vgg_set_error (r->error, VGG_ERROR_FORMAT, r->path,
          "tensor %s: duplicate key \"%s\"", qname, key);
      goto out;
    }
    *slot = member;
  }
  if (dtype == NULL || shape == NULL || offsets == NULL) {
    vgg_set_error (r->error, VGG_ERROR_FORMAT, r->path,
        "tensor %s: missing \"%s\"", qname,
        dtype == NULL       ? "dtype"
            : shape == NULL ? "shape"
                            : "data_offsets");
    goto out;
  }

  if (dtype->kind != VGG_JSON_STRING) {
    vgg_set_error (r->error, VGG_ERROR_FORMAT, r->path,
        "tensor %s: dtype is %s, not a string", qname,
        vgg_json_kind_describe (dtype->kind));
    goto out;
  }
  for (size_t k = 0; k < sizeof dtypes / sizeof dtypes[0]; k++)
    if (strcmp (vgg_json_string (json, dtype), dtypes[k].name) == 0)
      info = &dtypes[k];
  if (info == NULL) {
    vgg_set_error (r->error, VGG_ERROR_FORMAT, r->path,
        "tensor %s: unknown dtype %s", qname,
        quote (q2, vgg_json_string (json, dtype)));
    goto out;
  }
  tensor->dtype = info->dtype;
  snprintf (tensor->dtype_name, sizeof tensor->dtype_name, "%s", info->name);

  if (shape->kind != VGG_JSON_ARRAY) {
    vgg_set_error (r->error, VGG_ERROR_FORMAT, r->path,
        "tensor %s: shape is %s, not an array", qname,
        vgg_json_kind_describe (shape->kind));
    goto out;
  }
  if (shape->u.children.count > VGG_TENSOR_MAX_DIMS) {
    vgg_set_error (r->error, VGG_ERROR_FORMAT, r->path,
        "tensor %s: shape has %u dimensions, more than the %d supported", qname,
        shape->u.children.count, VGG_TENSOR_MAX_DIMS);
    goto out;
  }
  for (child = shape->u.children.first, i = 0; child != VGG_JSON_NONE;
       child = json->nodes[child].next, i++) {
    if (!check_int_element (r, qname, "shape", i, &json->nodes[child]))
      goto out;
    tensor->shape[i] = json->nodes[child].u.integer;
  }
  tensor->ndim = (int) shape->u.children.count;
  format_shape (shape_text, tensor->shape, tensor->ndim);

  for (int d = 0; d < tensor->ndim; d++) {
    if (tensor->shape[d] < 0) {
      vgg_set_error (r->error, VGG_ERROR_FORMAT, r->path,
          "tensor %s: shape %s has a negative dimension", qname, shape_text);
      goto out;
    }
    has_zero |= tensor->shape[d] == 0;
  }
  /* An empty tensor has no elements however large its other dimensions
   * are; otherwise the product and the byte size must fit in int64_t. */
  if (has_zero)
    numel = 0;
  else
    for (int d = 0; d < tensor->ndim; d++) {
      if (numel > INT64_MAX / tensor->shape[d]) {
        vgg_set_error (r->error, VGG_ERROR_FORMAT, r->path,
            "tensor %s: shape %s overflows: more than 2^63 elements", qname,
            shape_text);
        goto out;
      }
      numel *= tensor->shape[d];
    }
  if (numel > INT64_MAX / info->size) {
    vgg_set_error (r->error, VGG_ERROR_FORMAT, r->path,
        "tensor %s: shape %s of %s overflows: more than 2^63 bytes", qname,
        shape_text, info->name);
    goto out;
  }
  nbytes = numel * info->size;

  if (offsets->kind != VGG_JSON_ARRAY || offsets->u.children.count != 2) {
    if (offsets->kind == VGG_JSON_ARRAY)
      vgg_set_error (r->error, VGG_ERROR_FORMAT, r->path,
          "tensor %s: data_offsets has %u elements, not 2 [begin, end]", qname,
          offsets->u.children.count);
    else
      vgg_set_error (r->error, VGG_ERROR_FORMAT, r->path,
          "tensor %s: data_offsets is %s, not an array [begin, end]", qname,
          vgg_json_kind_describe (offsets->kind));
    goto out;
  }
  child = offsets->u.children.first;
  if (!check_int_element (r, qname, "data_offsets", 0, &json->nodes[child]))
    goto out;
  begin = json->nodes[child].u.integer;
  child = json->nodes[child].next;
  if (!check_int_element (r, qname, "data_offsets", 1, &json->nodes[child]))
    goto out;
  end = json->nodes[child].u.integer;

  if (begin < 0 || end < 0) {
    vgg_set_error (r->error, VGG_ERROR_FORMAT, r->path,
        "tensor %s: data_offsets [%lld, %lld] are negative", qname,
        (long long) begin, (long long) end);
    goto out;
  }
  if (end < begin) {
    vgg_set_error (r->error, VGG_ERROR_FORMAT, r->path,
        "tensor %s: data_offsets [%lld, %lld] end before they begin", qname,
        (long long) begin, (long long) end);
    goto out;
  }
  if ((uint64_t) end > r->data_size) {
    vgg_set_error (r->error, VGG_ERROR_FORMAT, r->path,
        "tensor %s: data_offsets [%lld, %lld] lie outside the data region "
        "of %llu bytes (truncated file?)",
        qname, (long long) begin, (long long) end,
        (unsigned long long) r->data_size);
    goto out;
  }
  if (end - begin != nbytes) {
    vgg_set_error (r->error, VGG_ERROR_FORMAT, r->path,
        "tensor %s: data_offsets [%lld, %lld] hold %lld bytes but shape %s "
        "of %s needs %lld",
        qname, (long long) begin, (long long) end, (long long) (end - begin),
        shape_text, info->name, (long long) nbytes);
    goto out;
  }
  /* end <= data_size, a size_t, so these conversions are exact. */
  tensor->data = r->data + (size_t) begin;
  tensor->nbytes = (size_t) nbytes;
  status = VGG_OK;

out:
  return status;
}

static int
compare_tensor_offsets (const void *a, const void *b)
{
  const VggTensor *ta = *(const VggTensor *const *) a;
  const VggTensor *tb = *(const VggTensor *const *) b;
  const unsigned char *da = ta->data, *db = tb->data;

  if (da != db)
    return da < db ? -1 : 1;
  if (ta->nbytes != tb->nbytes)
    return ta->nbytes < tb->nbytes ? -1 : 1;
  return 0;
}

/* The tensors sorted by offset must tile the data region: each starts
 * where the previous one ends.  An empty tensor may sit at any boundary,
 * not inside another tensor. */
static VggStatus
check_layout (HeaderReader *r, VggTensorFile *file)
{
  VggStatus status = VGG_OK;
  const VggTensor **sorted = NULL;
  const VggTensor *prev = NULL;
  char q1[QUOTE_SIZE], q2[QUOTE_SIZE];
  uint64_t covered = 0;

  if (file->n_tensors > 0) {
    sorted = malloc ((size_t) file->n_tensors * sizeof *sorted);
    if (sorted == NULL) {
      status = vgg_set_error (r->error, VGG_ERROR_NOMEM, r->path,
          "out of memory checking the tensor layout");
      goto out;
    }
  }
  for (int i = 0; i < file->n_tensors; i++)
    sorted[i] = &file->tensors[i];
  if (file->n_tensors > 1)
    qsort (sorted, (size_t) file->n_tensors, sizeof *sorted,
        compare_tensor_offsets);

  for (int i = 0; i < file->n_tensors; i++) {
    const VggTensor *t = sorted[i];
    uint64_t begin = (uint64_t) ((const unsigned char *) t->data - r->data);

    if (begin < covered) {
      uint64_t prev_begin =
          (uint64_t) ((const unsigned char *) prev->data - r->data);
      status = vgg_set_error (r->error, VGG_ERROR_FORMAT, r->path,
          "tensors %s (data_offsets [%llu, %llu]) and %s (data_offsets "
          "[%llu, %llu]) overlap",
          quote (q1, prev->name), (unsigned long long) prev_begin,
          (unsigned long long) covered, quote (q2, t->name),
          (unsigned long long) begin, (unsigned long long) (begin + t->nbytes));
      goto out;
    }
    if (begin > covered) {
      status = vgg_set_error (r->error, VGG_ERROR_FORMAT, r->path,
          "bytes [%llu, %llu] of the data region, before tensor %s, belong "
          "to no tensor (the format forbids holes)",
          (unsigned long long) covered, (unsigned long long) begin,
          quote (q1, t->name));
      goto out;
    }
    covered = begin + t->nbytes;
    prev = t;
  }
  if (covered != r->data_size)
    status = vgg_set_error (r->error, VGG_ERROR_FORMAT, r->path,
        "bytes [%llu, %llu] at the end of the data region belong to no "
        "tensor (the format forbids holes)",
        (unsigned long long) covered, (unsigned long long) r->data_size);

out:
  free (sorted);
  return status;
}

static VggStatus
read_header (HeaderReader *r, VggTensorFile *file)
{
  const VggJsonParser *json = r->json;
  const VggJsonNode *root = &json->nodes[0];
  VggStatus status = VGG_OK;
  const char **names = NULL;
  const char *duplicate;
  char q1[QUOTE_SIZE];
  uint32_t child, n_tensors = 0;
  bool seen_metadata = false, nomem;
  int i = 0;

  if (root->kind != VGG_JSON_OBJECT) {
    status = vgg_set_error (r->error, VGG_ERROR_FORMAT, r->path,
        "header is %s, not an object", vgg_json_kind_describe (root->kind));
    goto out;
  }
  if (json->text[0] != '{') {
    status = vgg_set_error (r->error, VGG_ERROR_FORMAT, r->path,
        "header must begin with '{' (padding is allowed only at the end)");
    goto out;
  }

  for (child = root->u.children.first; child != VGG_JSON_NONE;
       child = json->nodes[child].next) {
    const VggJsonNode *entry = &json->nodes[child];

    if (strcmp (vgg_json_key (json, entry), "__metadata__") != 0)
      n_tensors++;
    else if (seen_metadata) {
      status = vgg_set_error (r->error, VGG_ERROR_FORMAT, r->path,
          "header has the key \"__metadata__\" twice");
      goto out;
    } else {
      seen_metadata = true;
      status = read_metadata (r, file, entry);
      if (status != VGG_OK)
        goto out;
    }
  }
  if (n_tensors > INT_MAX) {
    status = vgg_set_error (
        r->error, VGG_ERROR_FORMAT, r->path, "header has too many tensors");
    goto out;
  }
  if (n_tensors == 0)
    goto out;

  file->tensors = calloc (n_tensors, sizeof *file->tensors);
  names = calloc (n_tensors, sizeof *names);
  if (file->tensors == NULL || names == NULL) {
    status = vgg_set_error (r->error, VGG_ERROR_NOMEM, r->path,
        "out of memory reading %u tensors", n_tensors);
    goto out;
  }
  file->n_tensors = (int) n_tensors;

  /* Header order is kept: it is the writer's order, and the model
   * builder looks tensors up by name anyway. */
  for (child = root->u.children.first; child != VGG_JSON_NONE;
       child = json->nodes[child].next) {
    const VggJsonNode *entry = &json->nodes[child];

    if (strcmp (vgg_json_key (json, entry), "__metadata__") == 0)
      continue;
    status = read_tensor (r, &file->tensors[i], entry);
    if (status != VGG_OK)
      goto out;
    names[i] = file->tensors[i].name;
    i++;
  }

  duplicate = find_duplicate (names, file->n_tensors, &nomem);
  if (nomem) {
    status = vgg_set_error (r->error, VGG_ERROR_NOMEM, r->path,
        "out of memory checking tensor names");
    goto out;
  }
  if (duplicate != NULL) {
    status = vgg_set_error (r->error, VGG_ERROR_FORMAT, r->path,
        "tensor %s appears twice in the header", quote (q1, duplicate));
    goto out;
  }
  status = check_layout (r, file);

out:
  free (names);
  return status;
}

/* ---- Files ---- */

static uint64_t
read_u64_le (const unsigned char *p)
{
  uint64_t v = 0;

  for (int i = 7; i >= 0; i--)
    v = (v << 8) | p[i];
  return v;
}

VggStatus
vgg_safetensors_open (
    const char *path, VggTensorFile **out, char error[VGG_ERROR_SIZE])
{
  VggStatus status = VGG_OK;
  VggTensorFile *file = NULL;
  VggJsonParser json = { 0 };
  HeaderReader reader;
  struct stat st;
  uint64_t header_size;
  size_t size;
  void *map;
  int fd = -1;

  if (error != NULL)
    error[0] = '\0';
  if (path == NULL || out == NULL) {
    status = vgg_set_error (error, VGG_ERROR_INVALID, path ? path : "(null)",
        "no file or no result pointer given");
    goto out;
  }

  fd = vgg_file_open_regular (path, &st, error);
  if (fd < 0) {
    status = VGG_ERROR_IO;
    goto out;
  }
  if (st.st_size == 0) {
    status = vgg_set_error (
        error, VGG_ERROR_FORMAT, path, "file is empty, not a safetensors file");
    goto out;
  }
  if (st.st_size < 8) {
    status = vgg_set_error (error, VGG_ERROR_FORMAT, path,
        "file is %lld bytes, too short for the 8-byte header length",
        (long long) st.st_size);
    goto out;
  }
  if ((uint64_t) st.st_size > SIZE_MAX) {
    status = vgg_set_error (error, VGG_ERROR_IO, path,
        "file is too large to map (%lld bytes)", (long long) st.st_size);
    goto out;
  }
  size = (size_t) st.st_size;

  file = calloc (1, sizeof *file);
  if (file == NULL || (file->path = strdup (path)) == NULL) {
    status = vgg_set_error (error, VGG_ERROR_NOMEM, path, "out of memory");
    goto out;
  }
  map = mmap (NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
  if (map == MAP_FAILED) {
    status = vgg_set_error (
        error, VGG_ERROR_IO, path, "cannot map: %s", strerror (errno));
    goto out;
  }
  file->map = map;
  file->map_size = size;

  header_size = read_u64_le (map);
  if (header_size > MAX_HEADER_SIZE) {
    status = vgg_set_error (error, VGG_ERROR_FORMAT, path,
        "header length %llu is larger than the 100 MiB limit "
        "(not a safetensors file?)",
        (unsigned long long) header_size);
    goto out;
  }
  if (header_size > size - 8) {
    status = vgg_set_error (error, VGG_ERROR_FORMAT, path,
        "header length %llu runs past the end of the file (%zu bytes)",
        (unsigned long long) header_size, size);
    goto out;
  }

  if (!vgg_json_parse (
          &json, (const unsigned char *) map + 8, (uint32_t) header_size)) {
    if (json.nomem)
      status = vgg_set_error (
          error, VGG_ERROR_NOMEM, path, "out of memory parsing the header");
    else
      status = vgg_set_error (error, VGG_ERROR_FORMAT, path,
          "invalid JSON in the header at byte %u: %s", json.error_pos,
          json.problem);
    goto out;
  }

  reader.path = path;
  reader.error = error;
  reader.json = &json;
  reader.data = (const unsigned char *) map + 8 + header_size;
  reader.data_size = size - 8 - header_size;
  status = read_header (&reader, file);

out:
  vgg_json_parser_clear (&json);
  if (fd >= 0)
    close (fd);
  if (status != VGG_OK) {
    vgg_tensor_file_free (file);
    file = NULL;
  }
  if (out != NULL)
    *out = file;
  return status;
}

void
vgg_tensor_file_free (VggTensorFile *file)
{
  if (file == NULL)
    return;
  for (int i = 0; i < file->n_tensors; i++)
    free (file->tensors[i].name);
  free (file->tensors);
  for (int i = 0; i < file->n_meta; i++) {
    free (file->meta_keys[i]);
    free (file->meta_values[i]);
  }
  free (file->meta_keys);
  free (file->meta_values);
  if (file->map != NULL)
    munmap (file->map, file->map_size);
  free (file->path);
  free (file);
}

const VggTensor *
vgg_tensor_file_find (const VggTensorFile *file, const char *name)
{
  if (file == NULL || name == NULL)
    return NULL;
  for (int i = 0; i < file->n_tensors; i++)
    if (strcmp (file->tensors[i].name, name) == 0)
      return &file->tensors[i];
  return NULL;
}

const char *
vgg_tensor_file_get_metadata (const VggTensorFile *file, const char *key)
{
  if (file == NULL || key == NULL)
    return NULL;
  for (int i = 0; i < file->n_meta; i++)
    if (strcmp (file->meta_keys[i], key) == 0)
      return file->meta_values[i];
  return NULL;
}

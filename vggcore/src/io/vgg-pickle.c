/* A restricted unpickler for PyTorch state dicts.
 *
 * Python's pickle is a small stack machine whose GLOBAL and REDUCE opcodes
 * import and call arbitrary functions: unpickling an untrusted file with
 * it runs whatever the file names.  This one implements only the binary
 * opcodes of protocols 2 to 5 that containers, numbers and strings need,
 * plus exactly these globals:
 *
 *   collections.OrderedDict          called with () or ([(k, v), ...],)
 *   torch._utils._rebuild_tensor_v2  called with (storage, offset, size,
 *                                    stride, requires_grad, hooks[, meta])
 *   torch.FloatStorage and the       only as the type in a persistent id
 *   other storage types              ('storage', type, key, location,
 *                                    numel[, view_metadata])
 *
 * Any other global is refused when its GLOBAL opcode is read, naming it,
 * before anything else happens.  Nothing is ever called: the "calls" build
 * plain values (a dict, a tensor description).
 *
 * Every count read from the pickle is checked against the bytes left; the
 * memory used is bounded by a small multiple of the pickle's size (each
 * opcode adds at most one value or one container item), and nesting is
 * limited so that a hostile file cannot exhaust the stack of a walker. */
#include "vgg-pickle-private.h"
#include "vgg-error-private.h"

#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_NESTING 1000   /* MARKs open at once, container depth */
#define MAX_STORAGES 4096  /* a VGG state dict has < 100 */
#define MAX_LONG_BYTES 256 /* LONG1/LONG4 payload */
#define MAX_PROTOCOL 5

const VggStorageType vgg_storage_types[] = {
  { "FloatStorage", "F32", VGG_DTYPE_F32, 4 },
  { "HalfStorage", "F16", VGG_DTYPE_F16, 2 },
  { "BFloat16Storage", "BF16", VGG_DTYPE_BF16, 2 },
  { "DoubleStorage", "F64", VGG_DTYPE_OTHER, 8 },
  { "LongStorage", "I64", VGG_DTYPE_OTHER, 8 },
  { "IntStorage", "I32", VGG_DTYPE_OTHER, 4 },
  { "ShortStorage", "I16", VGG_DTYPE_OTHER, 2 },
  { "CharStorage", "I8", VGG_DTYPE_OTHER, 1 },
  { "ByteStorage", "U8", VGG_DTYPE_OTHER, 1 },
  { "BoolStorage", "BOOL", VGG_DTYPE_OTHER, 1 },
};
const int vgg_n_storage_types =
    (int) (sizeof vgg_storage_types / sizeof vgg_storage_types[0]);

typedef struct
{
  VggPickle *pk;
  const char *path;
  char *error;
  const unsigned char *data;
  size_t size;
  size_t pos; /* next byte */
  size_t op;  /* offset of the opcode being run, for messages */
  uint32_t *stack;
  size_t n_stack, stack_alloc;
  size_t *marks;
  size_t n_marks;
  uint32_t *memo; /* UINT32_MAX: unset */
  size_t memo_alloc;
  size_t memo_count; /* keys set, the key MEMOIZE uses next */
  bool persistent_ids;
  VggStatus status;
} Machine;

static VggStatus fail (Machine *m, VggStatus status, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

/* "PATH: pickle byte N: problem"; keeps the first error. */
static VggStatus
fail (Machine *m, VggStatus status, const char *format, ...)
{
  char problem[VGG_ERROR_SIZE];
  va_list args;

  if (m->status != VGG_OK)
    return m->status;
  m->status = status;
  va_start (args, format);
  vsnprintf (problem, sizeof problem, format, args);
  va_end (args);
  return vgg_set_error (
      m->error, status, m->path, "pickle byte %zu: %s", m->op, problem);
}

static VggStatus
nomem (Machine *m)
{
  return fail (m, VGG_ERROR_NOMEM, "out of memory");
}

/* Grows *array (element size elem) to hold at least need elements. */
static bool
grow (void **array, uint32_t *alloc, size_t need, size_t elem)
{
  size_t n = *alloc ? *alloc : 16;
  void *p;

  if (need <= *alloc)
    return true;
  while (n < need)
    n *= 2;
  if (n > UINT32_MAX - 1 || n > SIZE_MAX / elem)
    return false;
  p = realloc (*array, n * elem);
  if (p == NULL)
    return false;
  *array = p;
  *alloc = (uint32_t) n;
  return true;
}

static bool
grow_size (void **array, size_t *alloc, size_t need, size_t elem)
{
  size_t n = *alloc ? *alloc : 64;
  void *p;

  if (need <= *alloc)
    return true;
  while (n < need)
    n *= 2;
  if (n > SIZE_MAX / elem)
    return false;
  p = realloc (*array, n * elem);
  if (p == NULL)
    return false;
  *array = p;
  *alloc = n;
  return true;
}

/* A new value of kind; returns its index or UINT32_MAX (error set). */
static uint32_t
new_value (Machine *m, VggPickleKind kind)
{
  VggPickle *pk = m->pk;
  VggPickleValue *v;

  if (!grow ((void **) &pk->values, &pk->n_values_alloc, pk->n_values + 1,
          sizeof *pk->values)) {
    nomem (m);
    return UINT32_MAX;
  }
  v = &pk->values[pk->n_values];
  memset (v, 0, sizeof *v);
  v->kind = kind;
  return pk->n_values++;
}

static VggPickleValue *
value (Machine *m, uint32_t index)
{
  return &m->pk->values[index];
}

static bool
push (Machine *m, uint32_t index)
{
  if (index == UINT32_MAX)
    return false;
  if (!grow_size ((void **) &m->stack, &m->stack_alloc, m->n_stack + 1,
          sizeof *m->stack)) {
    nomem (m);
    return false;
  }
  m->stack[m->n_stack++] = index;
  return true;
}

static size_t
stack_floor (const Machine *m)
{
  return m->n_marks ? m->marks[m->n_marks - 1] : 0;
}

static bool
pop (Machine *m, uint32_t *index)
{
  if (m->n_stack <= stack_floor (m)) {
    fail (m, VGG_ERROR_FORMAT, "stack underflow");
    return false;
  }
  *index = m->stack[--m->n_stack];
  return true;
}

/* Removes the items above the last MARK: *first is their stack position,
 * the caller reads stack[first, n_stack) before truncating. */
static bool
pop_mark (Machine *m, size_t *first)
{
  if (m->n_marks == 0) {
    fail (m, VGG_ERROR_FORMAT, "no MARK for this opcode");
    return false;
  }
  *first = m->marks[--m->n_marks];
  return true;
}

static bool
add_item (Machine *m, uint32_t container, uint32_t item)
{
  VggPickleValue *c = value (m, container);
  int depth = value (m, item)->depth + 1;

  if (!grow ((void **) &c->items, &c->n_alloc, (size_t) c->n_items + 1,
          sizeof *c->items)) {
    nomem (m);
    return false;
  }
  c->items[c->n_items++] = item;
  if (depth > c->depth)
    c->depth = depth;
  if (c->depth > MAX_NESTING) {
    fail (m, VGG_ERROR_FORMAT, "containers nested deeper than %d levels",
        MAX_NESTING);
    return false;
  }
  return true;
}

/* A tuple or list of stack[first, n_stack). */
static uint32_t
make_sequence (Machine *m, VggPickleKind kind, size_t first)
{
  uint32_t v = new_value (m, kind);

  if (v == UINT32_MAX)
    return v;
  for (size_t i = first; i < m->n_stack; i++)
    if (!add_item (m, v, m->stack[i]))
      return UINT32_MAX;
  m->n_stack = first;
  return v;
}

static bool
need (Machine *m, size_t n)
{
  if (m->size - m->pos < n) {
    fail (m, VGG_ERROR_FORMAT,
        "opcode needs %zu bytes but the pickle ends %zu bytes later", n,
        m->size - m->pos);
    return false;
  }
  return true;
}

static uint64_t
read_le (Machine *m, int n)
{
  uint64_t v = 0;

  for (int i = n - 1; i >= 0; i--)
    v = (v << 8) | m->data[m->pos + i];
  m->pos += n;
  return v;
}

static bool
valid_utf8 (const unsigned char *s, size_t n)
{
  size_t i = 0;

  while (i < n) {
    unsigned char c = s[i];
    size_t len;
    uint32_t cp, min;

    if (c < 0x80) {
      i++;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      len = 2, cp = c & 0x1f, min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
      len = 3, cp = c & 0x0f, min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
      len = 4, cp = c & 0x07, min = 0x10000;
    } else
      return false;
    if (n - i < len)
      return false;
    for (size_t k = 1; k < len; k++) {
      if ((s[i + k] & 0xc0) != 0x80)
        return false;
      cp = (cp << 6) | (s[i + k] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
      return false;
    i += len;
  }
  return true;
}

/* A string of n bytes at pos (advanced past it). */
static uint32_t
read_string (Machine *m, uint64_t n, VggPickleKind kind)
{
  uint32_t v;

  if (m->size - m->pos < n) {
    fail (m, VGG_ERROR_FORMAT,
        "string of %llu bytes runs past the end of the pickle (%zu bytes "
        "left)",
        (unsigned long long) n, m->size - m->pos);
    return UINT32_MAX;
  }
  if (kind == VGG_PK_STRING && !valid_utf8 (m->data + m->pos, n)) {
    fail (m, VGG_ERROR_FORMAT, "string is not valid UTF-8");
    return UINT32_MAX;
  }
  v = new_value (m, kind);
  if (v != UINT32_MAX) {
    value (m, v)->str = m->data + m->pos;
    value (m, v)->len = (size_t) n;
  }
  m->pos += (size_t) n;
  return v;
}

static uint32_t
make_int (Machine *m, int64_t i)
{
  uint32_t v = new_value (m, VGG_PK_INT);

  if (v != UINT32_MAX)
    value (m, v)->i = i;
  return v;
}

/* LONG1/LONG4: n bytes of two's complement, little-endian. */
static uint32_t
read_long (Machine *m, uint64_t n)
{
  uint32_t v;

  if (n > MAX_LONG_BYTES) {
    fail (m, VGG_ERROR_FORMAT, "integer of %llu bytes is too long",
        (unsigned long long) n);
    return UINT32_MAX;
  }
  if (!need (m, (size_t) n))
    return UINT32_MAX;
  if (n <= 8) {
    uint64_t u = 0;
    for (uint64_t k = n; k-- > 0;)
      u = (u << 8) | m->data[m->pos + k];
    if (n > 0 && n < 8 && (m->data[m->pos + n - 1] & 0x80))
      u |= ~(uint64_t) 0 << (8 * n); /* sign extension */
    m->pos += (size_t) n;
    return make_int (m, (int64_t) u);
  }
  v = new_value (m, VGG_PK_BIGINT);
  if (v != UINT32_MAX) {
    value (m, v)->str = m->data + m->pos;
    value (m, v)->len = (size_t) n;
  }
  m->pos += (size_t) n;
  return v;
}

/* Copies s for a message: printable ASCII kept, the rest as \xNN, cut
 * with "..." when long. */
static const char *
printable (char buf[128], const unsigned char *s, size_t n)
{
  size_t k = 0, i;

  /* each step adds at most 4 chars; 4 more for "..." and the NUL */
  for (i = 0; i < n && k + 8 <= 128; i++) {
    if (s[i] >= 0x20 && s[i] < 0x7f)
      buf[k++] = (char) s[i];
    else
      k += (size_t) snprintf (buf + k, 128 - k, "\\x%02x", s[i]);
  }
  if (i < n)
    memcpy (buf + k, "...", 4);
  else
    buf[k] = '\0';
  return buf;
}

static bool
equals (const unsigned char *s, size_t n, const char *lit)
{
  return strlen (lit) == n && memcmp (s, lit, n) == 0;
}

/* The value for the global module.name, or a refusal naming it. */
static uint32_t
make_global (Machine *m, const unsigned char *module, size_t module_len,
    const unsigned char *name, size_t name_len)
{
  char q1[128], q2[128];
  uint32_t v;
  int which = -1, storage = -1;

  if (equals (module, module_len, "collections")
      && equals (name, name_len, "OrderedDict"))
    which = VGG_PK_GLOBAL_ORDERED_DICT;
  else if (equals (module, module_len, "torch._utils")
      && equals (name, name_len, "_rebuild_tensor_v2"))
    which = VGG_PK_GLOBAL_REBUILD_TENSOR_V2;
  else if (equals (module, module_len, "torch")) {
    for (int i = 0; i < vgg_n_storage_types; i++)
      if (equals (name, name_len, vgg_storage_types[i].torch_name)) {
        which = VGG_PK_GLOBAL_STORAGE;
        storage = i;
      }
  }
  if (which < 0) {
    fail (m, VGG_ERROR_UNSUPPORTED,
        "global %s.%s is not allowed: a state dict needs only "
        "collections.OrderedDict, torch._utils._rebuild_tensor_v2 and "
        "torch's storage types, so the file is refused unread",
        printable (q1, module, module_len), printable (q2, name, name_len));
    return UINT32_MAX;
  }
  v = new_value (m, VGG_PK_GLOBAL);
  if (v != UINT32_MAX) {
    value (m, v)->i = which;
    value (m, v)->storage_type = storage;
  }
  return v;
}

/* GLOBAL: "module\nname\n" */
static uint32_t
read_global (Machine *m)
{
  const unsigned char *module, *name, *nl;

  module = m->data + m->pos;
  nl = memchr (module, '\n', m->size - m->pos);
  if (nl == NULL)
    goto bad;
  name = nl + 1;
  nl = memchr (name, '\n', (size_t) (m->data + m->size - name));
  if (nl == NULL)
    goto bad;
  m->pos = (size_t) (nl + 1 - m->data);
  return make_global (
      m, module, (size_t) (name - 1 - module), name, (size_t) (nl - name));
bad:
  fail (m, VGG_ERROR_FORMAT, "GLOBAL without its two lines");
  return UINT32_MAX;
}

static const char *
kind_name (VggPickleKind kind)
{
  static const char *const names[] = { "None", "a bool", "an int", "a big int",
    "a float", "a string", "bytes", "a tuple", "a list", "a dict", "a global",
    "a storage", "a tensor" };
  return names[kind];
}

/* BINPERSID: ('storage', type, key, location, numel[, view_metadata]) */
static uint32_t
persistent_load (Machine *m, uint32_t pid)
{
  VggPickle *pk = m->pk;
  const VggPickleValue *t = value (m, pid);
  const VggPickleValue *tag, *type, *key, *loc, *numel;
  VggPickleStorage *s;
  char q[128];
  uint32_t v, index;

  if (!m->persistent_ids) {
    fail (m, VGG_ERROR_FORMAT, "persistent id outside the state dict");
    return UINT32_MAX;
  }
  if (t->kind != VGG_PK_TUPLE || (t->n_items != 5 && t->n_items != 6))
    goto bad;
  tag = value (m, t->items[0]);
  type = value (m, t->items[1]);
  key = value (m, t->items[2]);
  loc = value (m, t->items[3]);
  numel = value (m, t->items[4]);
  if (tag->kind != VGG_PK_STRING || !equals (tag->str, tag->len, "storage")
      || type->kind != VGG_PK_GLOBAL || type->i != VGG_PK_GLOBAL_STORAGE
      || key->kind != VGG_PK_STRING || loc->kind != VGG_PK_STRING
      || numel->kind != VGG_PK_INT)
    goto bad;
  if (numel->i < 0) {
    fail (m, VGG_ERROR_FORMAT, "storage \"%s\" has %lld elements",
        printable (q, key->str, key->len), (long long) numel->i);
    return UINT32_MAX;
  }
  if (t->n_items == 6 && value (m, t->items[5])->kind != VGG_PK_NONE) {
    fail (m, VGG_ERROR_UNSUPPORTED,
        "storage \"%s\" is a view of another storage (a pre-1.0 PyTorch "
        "file); re-save it with a current torch.save",
        printable (q, key->str, key->len));
    return UINT32_MAX;
  }

  for (index = 0; index < pk->n_storages; index++) {
    s = &pk->storages[index];
    if (s->key_len == key->len && memcmp (s->key, key->str, key->len) == 0)
      break;
  }
  if (index < pk->n_storages) {
    s = &pk->storages[index];
    if (s->type != type->storage_type || s->numel != numel->i) {
      fail (m, VGG_ERROR_FORMAT,
          "storage \"%s\" is declared twice with different types or sizes",
          printable (q, key->str, key->len));
      return UINT32_MAX;
    }
  } else {
    if (pk->n_storages >= MAX_STORAGES) {
      fail (m, VGG_ERROR_UNSUPPORTED, "more than %d storages", MAX_STORAGES);
      return UINT32_MAX;
    }
    if (!grow ((void **) &pk->storages, &pk->n_storages_alloc,
            pk->n_storages + 1, sizeof *pk->storages)) {
      nomem (m);
      return UINT32_MAX;
    }
    s = &pk->storages[pk->n_storages++];
    s->type = type->storage_type;
    s->key = key->str;
    s->key_len = key->len;
    s->numel = numel->i;
    s->legacy = t->n_items == 6;
  }
  v = new_value (m, VGG_PK_STORAGE);
  if (v != UINT32_MAX)
    value (m, v)->i = index;
  return v;

bad:
  fail (m, VGG_ERROR_FORMAT,
      "persistent id is not ('storage', torch.<Type>Storage, key, location, "
      "numel)");
  return UINT32_MAX;
}

/* Reads a tuple of up to VGG_TENSOR_MAX_DIMS non-negative ints. */
static bool
read_dims (Machine *m, const VggPickleValue *t, int64_t *dims, int *n,
    const char *what)
{
  if (t->kind != VGG_PK_TUPLE) {
    fail (m, VGG_ERROR_FORMAT, "tensor %s is %s, not a tuple", what,
        kind_name (t->kind));
    return false;
  }
  if (t->n_items > VGG_TENSOR_MAX_DIMS) {
    fail (m, VGG_ERROR_UNSUPPORTED, "tensor has %u dimensions (at most %d)",
        t->n_items, VGG_TENSOR_MAX_DIMS);
    return false;
  }
  for (uint32_t i = 0; i < t->n_items; i++) {
    const VggPickleValue *d = value (m, t->items[i]);
    if (d->kind != VGG_PK_INT || d->i < 0) {
      fail (m, VGG_ERROR_FORMAT,
          "tensor %s has an element that is not a "
          "non-negative int",
          what);
      return false;
    }
    dims[i] = d->i;
  }
  *n = (int) t->n_items;
  return true;
}

/* _rebuild_tensor_v2 (storage, storage_offset, size, stride,
 * requires_grad, backward_hooks[, metadata]): recorded, checked later
 * against the storage's data. */
static uint32_t
rebuild_tensor (Machine *m, const VggPickleValue *args)
{
  VggPickle *pk = m->pk;
  VggPickleTensor t = { 0 };
  const VggPickleValue *storage, *offset;
  int nstride;
  uint32_t v;

  if (args->n_items != 6 && args->n_items != 7) {
    fail (m, VGG_ERROR_FORMAT,
        "_rebuild_tensor_v2 called with %u arguments (6 or 7 expected)",
        args->n_items);
    return UINT32_MAX;
  }
  storage = value (m, args->items[0]);
  offset = value (m, args->items[1]);
  if (storage->kind != VGG_PK_STORAGE) {
    fail (m, VGG_ERROR_FORMAT, "tensor storage is %s, not a storage",
        kind_name (storage->kind));
    return UINT32_MAX;
  }
  if (offset->kind != VGG_PK_INT || offset->i < 0) {
    fail (m, VGG_ERROR_FORMAT,
        "tensor storage offset is not a "
        "non-negative int");
    return UINT32_MAX;
  }
  if (!read_dims (m, value (m, args->items[2]), t.shape, &t.ndim, "size")
      || !read_dims (
          m, value (m, args->items[3]), t.stride, &nstride, "stride"))
    return UINT32_MAX;
  if (nstride != t.ndim) {
    fail (m, VGG_ERROR_FORMAT, "tensor has %d sizes but %d strides", t.ndim,
        nstride);
    return UINT32_MAX;
  }
  t.storage = (uint32_t) storage->i;
  t.offset = offset->i;
  if (!grow ((void **) &pk->tensors, &pk->n_tensors_alloc, pk->n_tensors + 1,
          sizeof *pk->tensors)) {
    nomem (m);
    return UINT32_MAX;
  }
  pk->tensors[pk->n_tensors] = t;
  v = new_value (m, VGG_PK_TENSOR);
  if (v != UINT32_MAX)
    value (m, v)->i = pk->n_tensors++;
  return v;
}

static uint32_t
reduce (Machine *m, uint32_t callable, uint32_t args_index)
{
  const VggPickleValue *f = value (m, callable);
  const VggPickleValue *args = value (m, args_index);
  int storage_type = f->storage_type;
  uint32_t d;

  if (f->kind != VGG_PK_GLOBAL) {
    fail (m, VGG_ERROR_FORMAT, "REDUCE calls %s", kind_name (f->kind));
    return UINT32_MAX;
  }
  if (args->kind != VGG_PK_TUPLE) {
    fail (m, VGG_ERROR_FORMAT, "REDUCE arguments are %s, not a tuple",
        kind_name (args->kind));
    return UINT32_MAX;
  }
  switch ((VggPickleGlobal) f->i) {
    case VGG_PK_GLOBAL_REBUILD_TENSOR_V2:
      return rebuild_tensor (m, args);
    case VGG_PK_GLOBAL_ORDERED_DICT:
      d = new_value (m, VGG_PK_DICT);
      if (d == UINT32_MAX)
        return d;
      args = value (m, args_index); /* new_value may move the values */
      if (args->n_items == 0)
        return d;
      if (args->n_items == 1
          && value (m, args->items[0])->kind == VGG_PK_LIST) {
        /* OrderedDict ([(key, value), ...]) */
        uint32_t list = args->items[0];
        bool pairs = true;
        for (uint32_t i = 0; pairs && i < value (m, list)->n_items; i++) {
          const VggPickleValue *pair = value (m, value (m, list)->items[i]);
          pairs = (pair->kind == VGG_PK_TUPLE || pair->kind == VGG_PK_LIST)
              && pair->n_items == 2;
        }
        for (uint32_t i = 0; pairs && i < value (m, list)->n_items; i++) {
          uint32_t pair = value (m, list)->items[i];
          if (!add_item (m, d, value (m, pair)->items[0])
              || !add_item (m, d, value (m, pair)->items[1]))
            return UINT32_MAX;
        }
        if (pairs)
          return d;
      }
      fail (m, VGG_ERROR_FORMAT,
          "OrderedDict called with arguments it "
          "does not take");
      return UINT32_MAX;
    case VGG_PK_GLOBAL_STORAGE:
      break;
  }
  fail (m, VGG_ERROR_UNSUPPORTED,
      "torch.%s may only appear in a persistent id, not be called",
      vgg_storage_types[storage_type].torch_name);
  return UINT32_MAX;
}

static bool
memo_put (Machine *m, uint64_t key)
{
  /* Picklers number the memo from 0 up, one entry per memoized value, so a
   * key is below the pickle's length; a larger one could only be meant to
   * make this table huge. */
  if (key >= m->size) {
    fail (m, VGG_ERROR_FORMAT, "memo key %llu is larger than the pickle",
        (unsigned long long) key);
    return false;
  }
  if (m->n_stack <= stack_floor (m)) {
    fail (m, VGG_ERROR_FORMAT, "memo put with an empty stack");
    return false;
  }
  if (key >= m->memo_alloc) {
    size_t old = m->memo_alloc;
    if (!grow_size ((void **) &m->memo, &m->memo_alloc, (size_t) key + 1,
            sizeof *m->memo)) {
      nomem (m);
      return false;
    }
    memset (m->memo + old, 0xff, (m->memo_alloc - old) * sizeof *m->memo);
  }
  if (m->memo[key] == UINT32_MAX)
    m->memo_count++;
  m->memo[key] = m->stack[m->n_stack - 1];
  return true;
}

static bool
memo_get (Machine *m, uint64_t key)
{
  if (key >= m->memo_alloc || m->memo[key] == UINT32_MAX) {
    fail (m, VGG_ERROR_FORMAT, "memo key %llu was never set",
        (unsigned long long) key);
    return false;
  }
  return push (m, m->memo[key]);
}

/* SETITEM(S) on the dict below stack[first]; pairs in stack[first, n). */
static bool
set_items (Machine *m, size_t first)
{
  uint32_t d;

  if ((m->n_stack - first) % 2 != 0) {
    fail (m, VGG_ERROR_FORMAT, "SETITEMS with an odd number of items");
    return false;
  }
  if (first == 0 || first <= stack_floor (m)) {
    fail (m, VGG_ERROR_FORMAT, "SETITEMS without a dict");
    return false;
  }
  d = m->stack[first - 1];
  if (value (m, d)->kind != VGG_PK_DICT) {
    fail (m, VGG_ERROR_FORMAT, "SETITEMS on %s, not a dict",
        kind_name (value (m, d)->kind));
    return false;
  }
  for (size_t i = first; i < m->n_stack; i++)
    if (!add_item (m, d, m->stack[i]))
      return false;
  m->n_stack = first;
  return true;
}

static bool
append_items (Machine *m, size_t first)
{
  uint32_t l;

  if (first == 0 || first <= stack_floor (m)) {
    fail (m, VGG_ERROR_FORMAT, "APPENDS without a list");
    return false;
  }
  l = m->stack[first - 1];
  if (value (m, l)->kind != VGG_PK_LIST) {
    fail (m, VGG_ERROR_FORMAT, "APPENDS on %s, not a list",
        kind_name (value (m, l)->kind));
    return false;
  }
  for (size_t i = first; i < m->n_stack; i++)
    if (!add_item (m, l, m->stack[i]))
      return false;
  m->n_stack = first;
  return true;
}

/* Runs one opcode; returns false to stop (error, or STOP when
 * *stopped). */
static bool
step (Machine *m, bool *stopped)
{
  int op;
  uint32_t a, b;
  size_t first;
  uint64_t n;
  double f;

  m->op = m->pos;
  if (!need (m, 1))
    return false;
  op = m->data[m->pos++];
  switch (op) {
    case 0x80: /* PROTO */
      if (!need (m, 1))
        return false;
      if (m->data[m->pos] > MAX_PROTOCOL) {
        fail (m, VGG_ERROR_UNSUPPORTED, "pickle protocol %d (at most %d)",
            m->data[m->pos], MAX_PROTOCOL);
        return false;
      }
      m->pos++;
      return true;
    case 0x95: /* FRAME: a length hint */
      if (!need (m, 8))
        return false;
      m->pos += 8;
      return true;
    case '.': /* STOP */
      *stopped = true;
      return false;
    case '(': /* MARK */
      if (m->n_marks >= MAX_NESTING) {
        fail (m, VGG_ERROR_FORMAT, "MARKs nested deeper than %d levels",
            MAX_NESTING);
        return false;
      }
      m->marks[m->n_marks++] = m->n_stack;
      return true;
    case '0': /* POP */
      return pop (m, &a);
    case '1': /* POP_MARK */
      if (!pop_mark (m, &first))
        return false;
      m->n_stack = first;
      return true;
    case '2': /* DUP */
      if (m->n_stack <= stack_floor (m)) {
        fail (m, VGG_ERROR_FORMAT, "DUP with an empty stack");
        return false;
      }
      return push (m, m->stack[m->n_stack - 1]);
    case 'N':
      return push (m, new_value (m, VGG_PK_NONE));
    case 0x88: /* NEWTRUE */
    case 0x89: /* NEWFALSE */
      a = new_value (m, VGG_PK_BOOL);
      if (a != UINT32_MAX)
        value (m, a)->i = op == 0x88;
      return push (m, a);
    case 'K': /* BININT1 */
      if (!need (m, 1))
        return false;
      return push (m, make_int (m, (int64_t) read_le (m, 1)));
    case 'M': /* BININT2 */
      if (!need (m, 2))
        return false;
      return push (m, make_int (m, (int64_t) read_le (m, 2)));
    case 'J': /* BININT: signed 32-bit */
      if (!need (m, 4))
        return false;
      return push (m, make_int (m, (int32_t) (uint32_t) read_le (m, 4)));
    case 0x8a: /* LONG1 */
      if (!need (m, 1))
        return false;
      return push (m, read_long (m, read_le (m, 1)));
    case 0x8b: /* LONG4 */
      if (!need (m, 4))
        return false;
      return push (m, read_long (m, read_le (m, 4)));
    case 'G': /* BINFLOAT: big-endian double */
      if (!need (m, 8))
        return false;
      n = 0;
      for (int i = 0; i < 8; i++)
        n = (n << 8) | m->data[m->pos++];
      memcpy (&f, &n, sizeof f);
      a = new_value (m, VGG_PK_FLOAT);
      if (a != UINT32_MAX)
        value (m, a)->f = f;
      return push (m, a);
    case 0x8c: /* SHORT_BINUNICODE */
    case 'U':  /* SHORT_BINSTRING */
    case 'C':  /* SHORT_BINBYTES */
      if (!need (m, 1))
        return false;
      n = read_le (m, 1);
      return push (
          m, read_string (m, n, op == 'C' ? VGG_PK_BYTES : VGG_PK_STRING));
    case 'X': /* BINUNICODE */
    case 'T': /* BINSTRING */
    case 'B': /* BINBYTES */
      if (!need (m, 4))
        return false;
      n = read_le (m, 4);
      return push (
          m, read_string (m, n, op == 'B' ? VGG_PK_BYTES : VGG_PK_STRING));
    case 0x8d: /* BINUNICODE8 */
    case 0x8e: /* BINBYTES8 */
      if (!need (m, 8))
        return false;
      n = read_le (m, 8);
      return push (
          m, read_string (m, n, op == 0x8e ? VGG_PK_BYTES : VGG_PK_STRING));
    case ')': /* EMPTY_TUPLE */
      return push (m, new_value (m, VGG_PK_TUPLE));
    case ']': /* EMPTY_LIST */
      return push (m, new_value (m, VGG_PK_LIST));
    case '}': /* EMPTY_DICT */
      return push (m, new_value (m, VGG_PK_DICT));
    case 't': /* TUPLE */
    case 'l': /* LIST */
      if (!pop_mark (m, &first))
        return false;
      return push (
          m, make_sequence (m, op == 't' ? VGG_PK_TUPLE : VGG_PK_LIST, first));
    case 0x85: /* TUPLE1 */
    case 0x86: /* TUPLE2 */
    case 0x87: /* TUPLE3 */
      n = (uint64_t) (op - 0x84);
      if (m->n_stack - stack_floor (m) < n) {
        fail (m, VGG_ERROR_FORMAT, "stack underflow");
        return false;
      }
      return push (m, make_sequence (m, VGG_PK_TUPLE, m->n_stack - n));
    case 'd': /* DICT */
      if (!pop_mark (m, &first))
        return false;
      if ((m->n_stack - first) % 2 != 0) {
        fail (m, VGG_ERROR_FORMAT, "DICT with an odd number of items");
        return false;
      }
      a = make_sequence (m, VGG_PK_DICT, first);
      return push (m, a);
    case 'a': /* APPEND */
      if (m->n_stack - stack_floor (m) < 2) {
        fail (m, VGG_ERROR_FORMAT, "stack underflow");
        return false;
      }
      return append_items (m, m->n_stack - 1);
    case 'e': /* APPENDS */
      return pop_mark (m, &first) && append_items (m, first);
    case 's': /* SETITEM */
      if (m->n_stack - stack_floor (m) < 3) {
        fail (m, VGG_ERROR_FORMAT, "stack underflow");
        return false;
      }
      return set_items (m, m->n_stack - 2);
    case 'u': /* SETITEMS */
      return pop_mark (m, &first) && set_items (m, first);
    case 'c': /* GLOBAL */
      return push (m, read_global (m));
    case 0x93: /* STACK_GLOBAL */
      if (!pop (m, &b) || !pop (m, &a))
        return false;
      if (value (m, a)->kind != VGG_PK_STRING
          || value (m, b)->kind != VGG_PK_STRING) {
        fail (m, VGG_ERROR_FORMAT, "STACK_GLOBAL needs two strings");
        return false;
      }
      return push (m,
          make_global (m, value (m, a)->str, value (m, a)->len,
              value (m, b)->str, value (m, b)->len));
    case 'R': /* REDUCE */
      if (!pop (m, &b) || !pop (m, &a))
        return false;
      return push (m, reduce (m, a, b));
    case 'b': /* BUILD: only the attributes of an OrderedDict (torch's
                 state dicts carry `_metadata`), which are ignored */
      if (!pop (m, &b))
        return false;
      if (m->n_stack <= stack_floor (m)
          || value (m, m->stack[m->n_stack - 1])->kind != VGG_PK_DICT
          || (value (m, b)->kind != VGG_PK_DICT
              && value (m, b)->kind != VGG_PK_TUPLE)) {
        fail (m, VGG_ERROR_UNSUPPORTED,
            "BUILD is allowed only to set the attributes of a dict");
        return false;
      }
      return true;
    case 'Q': /* BINPERSID */
      if (!pop (m, &a))
        return false;
      return push (m, persistent_load (m, a));
    case 'q': /* BINPUT */
      if (!need (m, 1))
        return false;
      return memo_put (m, read_le (m, 1));
    case 'r': /* LONG_BINPUT */
      if (!need (m, 4))
        return false;
      return memo_put (m, read_le (m, 4));
    case 0x94: /* MEMOIZE */
      return memo_put (m, m->memo_count);
    case 'h': /* BINGET */
      if (!need (m, 1))
        return false;
      return memo_get (m, read_le (m, 1));
    case 'j': /* LONG_BINGET */
      if (!need (m, 4))
        return false;
      return memo_get (m, read_le (m, 4));
    default:
      fail (m, VGG_ERROR_UNSUPPORTED,
          "opcode 0x%02x%s%c%s is not allowed in a state dict", op,
          op >= 0x20 && op < 0x7f ? " ('" : "",
          op >= 0x20 && op < 0x7f ? op : ' ',
          op >= 0x20 && op < 0x7f ? "')" : "");
      return false;
  }
}

VggStatus
vgg_pickle_run (VggPickle *pk, const char *path, const unsigned char *data,
    size_t size, size_t *pos, int persistent_ids, char error[VGG_ERROR_SIZE])
{
  Machine m = { 0 };
  bool stopped = false;

  m.pk = pk;
  m.path = path;
  m.error = error;
  m.data = data;
  m.size = size;
  m.pos = *pos;
  m.persistent_ids = persistent_ids != 0;
  m.marks = malloc (MAX_NESTING * sizeof *m.marks);
  if (m.marks == NULL) {
    nomem (&m);
    goto out;
  }

  while (step (&m, &stopped))
    ;
  if (!stopped) {
    if (m.status == VGG_OK) /* every failing step sets it; be sure */
      fail (&m, VGG_ERROR_FORMAT, "damaged pickle");
    goto out;
  }
  if (m.n_marks != 0 || m.n_stack != 1) {
    fail (&m, VGG_ERROR_FORMAT,
        "STOP with %zu values and %zu MARKs on the stack (1 and 0 expected)",
        m.n_stack, m.n_marks);
    goto out;
  }
  pk->root = m.stack[0];
  *pos = m.pos;

out:
  free (m.marks);
  free (m.stack);
  free (m.memo);
  return m.status;
}

void
vgg_pickle_clear (VggPickle *pk)
{
  for (uint32_t i = 0; i < pk->n_values; i++)
    free (pk->values[i].items);
  free (pk->values);
  free (pk->storages);
  free (pk->tensors);
  memset (pk, 0, sizeof *pk);
}

const VggPickleValue *
vgg_pickle_dict_get (
    const VggPickle *pk, const VggPickleValue *d, const char *key)
{
  if (d == NULL || d->kind != VGG_PK_DICT)
    return NULL;
  for (uint32_t i = 0; i + 1 < d->n_items; i += 2) {
    const VggPickleValue *k = &pk->values[d->items[i]];
    if (k->kind == VGG_PK_STRING && equals (k->str, k->len, key))
      return &pk->values[d->items[i + 1]];
  }
  return NULL;
}

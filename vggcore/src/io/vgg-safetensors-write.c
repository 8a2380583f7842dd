/* Writing safetensors: vgg_model_convert turns any model file the engine
 * loads into a safetensors file with metadata.
 *
 * Layout written: u64 header length (a multiple of 8, the JSON padded
 * with spaces, so that the data region and every F32 tensor after only
 * F32 tensors is 8-byte aligned in a mapping) | JSON header | tensors in
 * the source's order, back to back. */
#include "vgg-model-private.h"
#include "vgg-error-private.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct
{
  char *data;
  size_t len, alloc;
  bool nomem;
} Buffer;

static void
buf_append (Buffer *b, const char *s, size_t n)
{
  if (b->nomem)
    return;
  if (b->len + n + 1 > b->alloc) {
    size_t alloc = b->alloc ? b->alloc : 4096;
    char *p;
    while (b->len + n + 1 > alloc)
      alloc *= 2;
    p = realloc (b->data, alloc);
    if (p == NULL) {
      b->nomem = true;
      return;
    }
    b->data = p;
    b->alloc = alloc;
  }
  memcpy (b->data + b->len, s, n);
  b->len += n;
  b->data[b->len] = '\0';
}

static void buf_printf (Buffer *b, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));

static void
buf_printf (Buffer *b, const char *format, ...)
{
  char tmp[256];
  va_list args;
  int n;

  va_start (args, format);
  n = vsnprintf (tmp, sizeof tmp, format, args);
  va_end (args);
  if (n > 0)
    buf_append (b, tmp, (size_t) n < sizeof tmp ? (size_t) n : sizeof tmp - 1);
}

/* A JSON string literal: quotes, backslashes and control characters
 * escaped; other bytes (UTF-8) as they are. */
static void
buf_json_string (Buffer *b, const char *s)
{
  buf_append (b, "\"", 1);
  for (; *s != '\0'; s++) {
    unsigned char c = (unsigned char) *s;
    if (c == '"' || c == '\\') {
      char e[2] = { '\\', (char) c };
      buf_append (b, e, 2);
    } else if (c == '\n')
      buf_append (b, "\\n", 2);
    else if (c < 0x20 || c == 0x7f)
      buf_printf (b, "\\u%04x", c);
    else
      buf_append (b, (const char *) &c, 1);
  }
  buf_append (b, "\"", 1);
}

static uint32_t
float_bits (float f)
{
  uint32_t x;

  memcpy (&x, &f, sizeof x);
  return x;
}

/* binary32 to binary16, rounding to nearest, ties to even (as torch's
 * .half ()).  A carry out of the mantissa correctly bumps the exponent,
 * up to infinity. */
static uint16_t
float_to_half (float f)
{
  uint32_t x = float_bits (f);
  uint32_t sign = (x >> 16) & 0x8000;
  uint32_t exponent = (x >> 23) & 0xff;
  uint32_t mantissa = x & 0x7fffff;
  int e = (int) exponent - 127 + 15;
  uint32_t half, rest, mid;
  int shift;

  if (exponent == 0xff) /* inf, NaN (kept quiet) */
    return (
        uint16_t) (sign | 0x7c00 | (mantissa ? 0x200 | (mantissa >> 13) : 0));
  if (e >= 0x1f)
    return (uint16_t) (sign | 0x7c00);
  if (e <= 0) {
    /* subnormal half: value / 2^-24 = 1.m * 2^(e - 15 + 24) */
    if (e < -10)
      return (uint16_t) sign;
    mantissa |= 0x800000;
    shift = 14 - e;
    half = mantissa >> shift;
    rest = mantissa & ((1u << shift) - 1);
    mid = 1u << (shift - 1);
    if (rest > mid || (rest == mid && (half & 1)))
      half++;
    return (uint16_t) (sign | half);
  }
  half = ((uint32_t) e << 10) | (mantissa >> 13);
  rest = mantissa & 0x1fff;
  if (rest > 0x1000 || (rest == 0x1000 && (half & 1)))
    half++;
  return (uint16_t) (sign | half);
}

/* binary32 to bfloat16 (its upper half), rounding to nearest even. */
static uint16_t
float_to_bf16 (float f)
{
  uint32_t x = float_bits (f);

  if ((x & 0x7fffffff) > 0x7f800000) /* NaN: keep it a quiet NaN */
    return (uint16_t) ((x >> 16) | 0x40);
  return (uint16_t) ((x + 0x7fff + ((x >> 16) & 1)) >> 16);
}

static bool
is_float (const VggTensor *t)
{
  return t->dtype != VGG_DTYPE_OTHER;
}

/* The bytes of t as written: converted when asked, else as they are.
 * *owned is set when a buffer was allocated; NULL return: out of
 * memory. */
static const void *
tensor_bytes (
    const VggTensor *t, VggConvertDType dtype, size_t *nbytes, void **owned)
{
  int64_t n = vgg_tensor_numel (t);
  VggDType want = dtype == VGG_CONVERT_F16 ? VGG_DTYPE_F16
      : dtype == VGG_CONVERT_BF16          ? VGG_DTYPE_BF16
                                           : t->dtype;
  float *f;
  unsigned char *out;

  *owned = NULL;
  *nbytes = t->nbytes;
  if (!is_float (t) || dtype == VGG_CONVERT_KEEP || want == t->dtype)
    return t->data;
  f = malloc ((size_t) (n ? n : 1) * sizeof (float));
  out = malloc ((size_t) (n ? n : 1) * 2);
  if (f == NULL || out == NULL) {
    free (f);
    free (out);
    return NULL;
  }
  vgg_tensor_to_f32 (t, f);
  for (int64_t i = 0; i < n; i++) {
    uint16_t h =
        want == VGG_DTYPE_F16 ? float_to_half (f[i]) : float_to_bf16 (f[i]);
    out[2 * i] = (unsigned char) (h & 0xff);
    out[2 * i + 1] = (unsigned char) (h >> 8);
  }
  free (f);
  *owned = out;
  *nbytes = (size_t) n * 2;
  return out;
}

static const char *
written_dtype (const VggTensor *t, VggConvertDType dtype)
{
  if (!is_float (t) || dtype == VGG_CONVERT_KEEP)
    return t->dtype_name;
  return dtype == VGG_CONVERT_F16 ? "F16" : "BF16";
}

/* "r,g,b", each the shortest decimal that reads back as the same float */
static void
format_floats3 (char text[64], const float v[3])
{
  size_t n = 0;

  for (int i = 0; i < 3; i++) {
    char tmp[20];
    for (int digits = 6; digits <= 9; digits++) {
      snprintf (tmp, sizeof tmp, "%.*g", digits, v[i]);
      if (strtof (tmp, NULL) == v[i])
        break;
    }
    n += (size_t) snprintf (text + n, 64 - n, "%s%s", i ? "," : "", tmp);
  }
}

/* One metadata entry of the output; value may be owned. */
typedef struct
{
  const char *key;
  const char *value;
} Meta;

static void
add_meta (Meta *meta, int *n, const char *key, const char *value)
{
  for (int i = 0; i < *n; i++)
    if (strcmp (meta[i].key, key) == 0) {
      meta[i].value = value;
      return;
    }
  meta[*n].key = key;
  meta[*n].value = value;
  (*n)++;
}

VggStatus
vgg_model_convert (const char *in_path, const char *out_path,
    const VggConvertOptions *options, char error[VGG_ERROR_SIZE])
{
  static const VggConvertOptions defaults = { NULL, NULL, NULL, NULL,
    VGG_CONVERT_KEEP };
  VggModel *model = NULL, *check = NULL;
  VggTensorFile *file = NULL;
  VggStatus status;
  Buffer header = { 0 };
  Meta *meta = NULL;
  int n_meta = 0;
  char mean_text[64], std_text[64];
  char *tmp_path = NULL;
  FILE *out = NULL;
  uint64_t offset = 0, header_len;
  unsigned char len_bytes[8];
  float mean[3], std[3];
  int has_norm;

  if (error)
    error[0] = '\0';
  if (options == NULL)
    options = &defaults;
  if (in_path == NULL || out_path == NULL)
    return vgg_set_error (error, VGG_ERROR_INVALID, "vgg_model_convert",
        "no input or no output file given");

  /* The input must be a model the engine runs, not only a tensor file. */
  status = vgg_model_load (in_path, &model, error);
  if (status != VGG_OK)
    goto out;
  status = vgg_tensor_file_open (in_path, &file, error);
  if (status != VGG_OK)
    goto out;

  meta = calloc ((size_t) file->n_meta + 8, sizeof *meta);
  if (meta == NULL) {
    status = vgg_set_error (error, VGG_ERROR_NOMEM, in_path, "out of memory");
    goto out;
  }
  for (int i = 0; i < file->n_meta; i++)
    add_meta (meta, &n_meta, file->meta_keys[i], file->meta_values[i]);
  if (options->name != NULL)
    add_meta (meta, &n_meta, "vgg.name", options->name);
  else if (vgg_model_get_metadata (model, "vgg.name") == NULL
      && strcmp (vgg_model_get_name (model), vgg_model_get_arch (model)) != 0)
    add_meta (meta, &n_meta, "vgg.name", vgg_model_get_name (model));
  has_norm = vgg_model_get_normalization (model, mean, std);
  if (options->mean != NULL)
    memcpy (mean, options->mean, sizeof mean);
  if (options->std != NULL)
    memcpy (std, options->std, sizeof std);
  if (has_norm || options->mean != NULL || options->std != NULL) {
    format_floats3 (mean_text, mean);
    format_floats3 (std_text, std);
    add_meta (meta, &n_meta, "vgg.mean", mean_text);
    add_meta (meta, &n_meta, "vgg.std", std_text);
  }
  if (options->labels != NULL)
    add_meta (meta, &n_meta, "vgg.labels", options->labels);

  buf_append (&header, "{", 1);
  if (n_meta > 0) {
    buf_append (&header, "\"__metadata__\":{", 16);
    for (int i = 0; i < n_meta; i++) {
      if (i > 0)
        buf_append (&header, ",", 1);
      buf_json_string (&header, meta[i].key);
      buf_append (&header, ":", 1);
      buf_json_string (&header, meta[i].value);
    }
    buf_append (&header, "}", 1);
  }
  for (int i = 0; i < file->n_tensors; i++) {
    const VggTensor *t = &file->tensors[i];
    uint64_t nbytes = is_float (t) && options->dtype != VGG_CONVERT_KEEP
        ? (uint64_t) vgg_tensor_numel (t) * 2
        : t->nbytes;
    buf_append (&header, n_meta > 0 || i > 0 ? "," : "", n_meta > 0 || i > 0);
    buf_json_string (&header, t->name);
    buf_printf (&header, ":{\"dtype\":\"%s\",\"shape\":[",
        written_dtype (t, options->dtype));
    for (int d = 0; d < t->ndim; d++)
      buf_printf (&header, "%s%lld", d ? "," : "", (long long) t->shape[d]);
    buf_printf (&header, "],\"data_offsets\":[%llu,%llu]}",
        (unsigned long long) offset, (unsigned long long) (offset + nbytes));
    offset += nbytes;
  }
  buf_append (&header, "}", 1);
  while (!header.nomem && header.len % 8 != 0)
    buf_append (&header, " ", 1);
  if (header.nomem) {
    status = vgg_set_error (error, VGG_ERROR_NOMEM, out_path, "out of memory");
    goto out;
  }

  tmp_path = malloc (strlen (out_path) + 8);
  if (tmp_path == NULL) {
    status = vgg_set_error (error, VGG_ERROR_NOMEM, out_path, "out of memory");
    goto out;
  }
  sprintf (tmp_path, "%s.tmp", out_path);
  out = fopen (tmp_path, "wb");
  if (out == NULL) {
    status = vgg_set_error (
        error, VGG_ERROR_IO, tmp_path, "cannot create: %s", strerror (errno));
    goto out;
  }
  header_len = header.len;
  for (int i = 0; i < 8; i++)
    len_bytes[i] = (unsigned char) (header_len >> (8 * i));
  if (fwrite (len_bytes, 1, 8, out) != 8
      || fwrite (header.data, 1, header.len, out) != header.len)
    goto write_error;
  for (int i = 0; i < file->n_tensors; i++) {
    size_t nbytes;
    void *owned;
    const void *bytes =
        tensor_bytes (&file->tensors[i], options->dtype, &nbytes, &owned);
    size_t written;
    if (bytes == NULL) {
      status =
          vgg_set_error (error, VGG_ERROR_NOMEM, out_path, "out of memory");
      goto out;
    }
    written = nbytes ? fwrite (bytes, 1, nbytes, out) : 0;
    free (owned);
    if (written != nbytes)
      goto write_error;
  }
  if (fclose (out) != 0) {
    out = NULL;
    goto write_error;
  }
  out = NULL;

  /* Read back what was written before it takes the output's name. */
  status = vgg_model_load (tmp_path, &check, error);
  if (status != VGG_OK)
    goto out;
  if (rename (tmp_path, out_path) != 0) {
    status = vgg_set_error (error, VGG_ERROR_IO, out_path,
        "cannot rename %s: %s", tmp_path, strerror (errno));
    goto out;
  }
  free (tmp_path);
  tmp_path = NULL;
  goto out;

write_error:
  status = vgg_set_error (
      error, VGG_ERROR_IO, tmp_path, "cannot write: %s", strerror (errno));

out:
  if (out != NULL)
    fclose (out);
  if (tmp_path != NULL) {
    unlink (tmp_path);
    free (tmp_path);
  }
  if (check != NULL)
    vgg_model_unref (check);
  if (model != NULL)
    vgg_model_unref (model);
  vgg_tensor_file_free (file);
  free (meta);
  free (header.data);
  return status;
}

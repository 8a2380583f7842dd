/* Tests of the safetensors reader: a valid file round-trips, F16/BF16
 * convert exactly, every kind of malformed file is refused with a message
 * naming the file and the problem, and seeded mutations and truncations of
 * a valid file never crash the reader.
 *
 * Files are written into a fresh mkdtemp directory, removed at the end. */
#include "vgg-tensors-private.h"

#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmp_dir[] = "/tmp/test-safetensors-XXXXXX";
static int n_checks, n_failed;

static bool check (bool ok, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));

/* Prints every check; the format carries the parameters, so a failure
 * says what was expected and what was found. */
static bool
check (bool ok, const char *format, ...)
{
  va_list args;

  n_checks++;
  if (!ok)
    n_failed++;
  printf ("%s ", ok ? "ok  " : "FAIL");
  va_start (args, format);
  vprintf (format, args);
  va_end (args);
  printf ("\n");
  return ok;
}

static const char *
path_in_tmp (const char *name)
{
  static char path[512];

  snprintf (path, sizeof path, "%s/%s", tmp_dir, name);
  return path;
}

static void
write_bytes (const char *path, const void *bytes, size_t size)
{
  FILE *f = fopen (path, "wb");

  if (f == NULL || fwrite (bytes, 1, size, f) != size || fclose (f) != 0) {
    fprintf (stderr, "cannot write %s\n", path);
    exit (2);
  }
}

/* A safetensors image: the header padded with spaces to a multiple of 8
 * (as the reference writer does), then data_size bytes of data (zeros when
 * data is NULL).  length_override, when not NULL, replaces the header
 * length field.  Returns a malloc'ed buffer of *size bytes. */
static unsigned char *
build_file (const char *header, const void *data, size_t data_size,
    const uint64_t *length_override, size_t *size)
{
  size_t header_len = strlen (header);
  size_t padded = (header_len + 7) / 8 * 8;
  uint64_t length = length_override ? *length_override : padded;
  unsigned char *buf;

  *size = 8 + padded + data_size;
  buf = calloc (1, *size);
  if (buf == NULL)
    exit (2);
  for (int i = 0; i < 8; i++)
    buf[i] = (unsigned char) (length >> (8 * i));
  memcpy (buf + 8, header, header_len);
  memset (buf + 8 + header_len, ' ', padded - header_len);
  if (data != NULL)
    memcpy (buf + 8 + padded, data, data_size);
  return buf;
}

static void
put_u16 (unsigned char *p, uint16_t v)
{
  p[0] = (unsigned char) v;
  p[1] = (unsigned char) (v >> 8);
}

static void
put_f32 (unsigned char *p, float f)
{
  uint32_t bits;

  memcpy (&bits, &f, sizeof bits);
  for (int i = 0; i < 4; i++)
    p[i] = (unsigned char) (bits >> (8 * i));
}

static bool
same_float (float a, float b)
{
  if (isnan (a) || isnan (b))
    return isnan (a) && isnan (b);
  return a == b && !signbit (a) == !signbit (b);
}

/* ---- The valid file ---- */

/* Tensors out of offset order in the header, unaligned F32 data (offset 54),
 * a scalar, an empty tensor, an I64 tensor vggcore cannot use, and
 * metadata with every kind of escape. */
static const char valid_header[] =
    "{\n"
    "  \"__metadata__\": {\"vgg.labels\": \"cat\\ndog\\ncaf\\u00e9\",\n"
    "    \"vgg.name\": \"tiny \\\"test\\\" \\\\ net\\t\\/\",\n"
    "    \"emoji\": \"\\ud83d\\ude00 \xc3\xa9\", \"format\": \"pt\"},\n"
    "  \"classifier.0.weight\": {\"dtype\": \"BF16\", \"shape\": [2, 2],"
    " \"data_offsets\": [30, 38]},\n"
    "  \"features.0.weight\": {\"shape\": [2, 3], \"dtype\": \"F32\","
    " \"data_offsets\": [0, 24]},\n"
    "  \"features.0.bias\": {\"dtype\": \"F16\", \"shape\": [3],"
    " \"data_offsets\": [24, 30]},\n"
    "  \"steps\": {\"dtype\": \"I64\", \"shape\": [2],"
    " \"data_offsets\": [38, 54]},\n"
    "  \"scale\": {\"dtype\": \"F32\", \"shape\": [],"
    " \"data_offsets\": [54, 58]},\n"
    "  \"empty\": {\"dtype\": \"F32\", \"shape\": [0, 5],"
    " \"data_offsets\": [58, 58]}\n"
    "}";

static const float weight_values[6] = { 1.5f, -2.25f, 0.0f, 1024.0f, -0.5f,
  3.0e-5f };
static const uint16_t bias_bits[3] = { 0x3c00, 0xc000, 0x3555 };
static const float bias_values[3] = { 1.0f, -2.0f, 0.333251953125f };
static const uint16_t cls_bits[4] = { 0x3f80, 0xc040, 0x4049, 0x8000 };
static const float cls_values[4] = { 1.0f, -3.0f, 3.140625f, -0.0f };

static unsigned char *
build_valid_file (size_t *size)
{
  unsigned char data[58] = { 0 };

  for (int i = 0; i < 6; i++)
    put_f32 (data + 4 * i, weight_values[i]);
  for (int i = 0; i < 3; i++)
    put_u16 (data + 24 + 2 * i, bias_bits[i]);
  for (int i = 0; i < 4; i++)
    put_u16 (data + 30 + 2 * i, cls_bits[i]);
  data[38] = 7;                /* steps[0] = 7 */
  memset (data + 46, 0xff, 8); /* steps[1] = -1 */
  put_f32 (data + 54, 0.125f);
  return build_file (valid_header, data, sizeof data, NULL, size);
}

static void
check_tensor_values (const VggTensorFile *file, const char *name,
    VggDType dtype, const char *dtype_name, int ndim, const int64_t *shape,
    const float *expected, int64_t numel)
{
  const VggTensor *t = vgg_tensor_file_find (file, name);
  float got[8];
  bool shape_ok;

  if (!check (t != NULL, "find \"%s\"", name))
    return;
  check (t->dtype == dtype && strcmp (t->dtype_name, dtype_name) == 0,
      "\"%s\" dtype %s (found %s, enum %d)", name, dtype_name, t->dtype_name,
      (int) t->dtype);
  shape_ok = t->ndim == ndim;
  for (int i = 0; shape_ok && i < ndim; i++)
    shape_ok = t->shape[i] == shape[i];
  check (shape_ok, "\"%s\" ndim %d (found %d) and shape", name, ndim, t->ndim);
  check (vgg_tensor_numel (t) == numel, "\"%s\" numel %lld (found %lld)", name,
      (long long) numel, (long long) vgg_tensor_numel (t));
  check ((const unsigned char *) t->data >= (const unsigned char *) file->map
          && (const unsigned char *) t->data + t->nbytes
              <= (const unsigned char *) file->map + file->map_size,
      "\"%s\" data lies inside the mapping", name);
  if (expected == NULL || numel > 8)
    return;
  vgg_tensor_to_f32 (t, got);
  for (int64_t i = 0; i < numel; i++)
    check (same_float (got[i], expected[i]), "\"%s\"[%lld] = %a (expected %a)",
        name, (long long) i, (double) got[i], (double) expected[i]);
}

/* s with control characters as \xHH, so that each check stays on one
 * line of the log. */
static const char *
printable (char buf[256], const char *s)
{
  size_t n = 0;

  for (; *s != '\0' && n + 5 < 256; s++) {
    unsigned char c = (unsigned char) *s;
    if (c < 0x20)
      n += (size_t) snprintf (buf + n, 256 - n, "\\x%02x", c);
    else
      buf[n++] = (char) c;
  }
  buf[n] = '\0';
  return buf;
}

static void
check_metadata (
    const VggTensorFile *file, const char *key, const char *expected)
{
  const char *got = vgg_tensor_file_get_metadata (file, key);
  char b1[256], b2[256];

  check (got != NULL && strcmp (got, expected) == 0,
      "metadata \"%s\" = \"%s\" (found \"%s\")", key, printable (b1, expected),
      got ? printable (b2, got) : "(none)");
}

static void
test_valid_file_round_trips (void)
{
  const char *path = path_in_tmp ("valid.safetensors");
  const int64_t weight_shape[] = { 2, 3 }, bias_shape[] = { 3 };
  const int64_t cls_shape[] = { 2, 2 }, steps_shape[] = { 2 };
  const int64_t empty_shape[] = { 0, 5 };
  const float scale_value[] = { 0.125f };
  VggTensorFile *file = NULL;
  char error[VGG_ERROR_SIZE] = "unset";
  unsigned char *bytes;
  const VggTensor *steps;
  VggStatus status;
  size_t size;

  printf ("# test_valid_file_round_trips\n");
  bytes = build_valid_file (&size);
  write_bytes (path, bytes, size);
  free (bytes);

  status = vgg_safetensors_open (path, &file, error);
  if (!check (status == VGG_OK && file != NULL,
          "open valid file: status %d, error \"%s\"", (int) status, error))
    return;
  check (error[0] == '\0', "no message on success (found \"%s\")", error);
  check (file->n_tensors == 6, "6 tensors (found %d)", file->n_tensors);
  check (file->n_meta == 4, "4 metadata entries (found %d)", file->n_meta);
  check (strcmp (file->path, path) == 0, "path kept (\"%s\")", file->path);

  check_tensor_values (file, "features.0.weight", VGG_DTYPE_F32, "F32", 2,
      weight_shape, weight_values, 6);
  check_tensor_values (file, "features.0.bias", VGG_DTYPE_F16, "F16", 1,
      bias_shape, bias_values, 3);
  check_tensor_values (file, "classifier.0.weight", VGG_DTYPE_BF16, "BF16", 2,
      cls_shape, cls_values, 4);
  check_tensor_values (
      file, "scale", VGG_DTYPE_F32, "F32", 0, NULL, scale_value, 1);
  check_tensor_values (
      file, "empty", VGG_DTYPE_F32, "F32", 2, empty_shape, NULL, 0);
  check_tensor_values (
      file, "steps", VGG_DTYPE_OTHER, "I64", 1, steps_shape, NULL, 2);
  steps = vgg_tensor_file_find (file, "steps");
  if (steps != NULL) {
    int64_t v[2];
    memcpy (v, steps->data, sizeof v);
    check (steps->nbytes == 16 && v[0] == 7 && v[1] == -1,
        "I64 data kept (nbytes %zu, values %lld %lld)", steps->nbytes,
        (long long) v[0], (long long) v[1]);
  }
  check (vgg_tensor_file_find (file, "features.1.weight") == NULL,
      "find of an absent tensor is NULL");

  check_metadata (file, "vgg.labels", "cat\ndog\ncaf\xc3\xa9");
  check_metadata (file, "vgg.name", "tiny \"test\" \\ net\t/");
  check_metadata (file, "emoji", "\xf0\x9f\x98\x80 \xc3\xa9");
  check_metadata (file, "format", "pt");
  check (vgg_tensor_file_get_metadata (file, "vgg.mean") == NULL,
      "absent metadata key is NULL");
  vgg_tensor_file_free (file);
}

static void
test_zero_tensor_file_is_valid (void)
{
  static const char *const headers[] = { "{}", "{\"__metadata__\": {}}",
    "{\"__metadata__\": {\"a\": \"b\"}}" };

  printf ("# test_zero_tensor_file_is_valid\n");
  for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++) {
    const char *path = path_in_tmp ("zero-tensors.safetensors");
    VggTensorFile *file = NULL;
    char error[VGG_ERROR_SIZE] = "";
    unsigned char *bytes;
    VggStatus status;
    size_t size;

    bytes = build_file (headers[i], NULL, 0, NULL, &size);
    write_bytes (path, bytes, size);
    free (bytes);
    status = vgg_safetensors_open (path, &file, error);
    check (status == VGG_OK && file != NULL && file->n_tensors == 0,
        "header %s opens with no tensors (status %d, error \"%s\")", headers[i],
        (int) status, error);
    vgg_tensor_file_free (file);
  }
}

static void
test_half_edge_values_convert_exactly (void)
{
  static const struct
  {
    uint16_t bits;
    float value;
    const char *what;
  } halves[] = {
    { 0x0001, 0x1p-24f, "smallest subnormal" },
    { 0x8001, -0x1p-24f, "smallest negative subnormal" },
    { 0x0200, 0x1p-15f, "subnormal 2^-15" },
    { 0x03ff, 0x1.ff8p-15f, "largest subnormal" },
    { 0x0400, 0x1p-14f, "smallest normal" },
    { 0x7bff, 65504.0f, "max" },
    { 0xfbff, -65504.0f, "-max" },
    { 0x7c00, INFINITY, "+inf" },
    { 0xfc00, -INFINITY, "-inf" },
    { 0x8000, -0.0f, "-0" },
    { 0x0000, 0.0f, "+0" },
    { 0x7e00, NAN, "quiet NaN" },
    { 0x7c01, NAN, "signalling NaN" },
    { 0x3c00, 1.0f, "1" },
    { 0x3555, 0.333251953125f, "1/3 rounded" },
  };
  static const struct
  {
    uint16_t bits;
    float value;
    const char *what;
  } bhalves[] = {
    { 0x7f80, INFINITY, "+inf" },
    { 0xff80, -INFINITY, "-inf" },
    { 0x0001, 0x1p-133f, "smallest subnormal" },
    { 0x7fc0, NAN, "NaN" },
    { 0x8000, -0.0f, "-0" },
    { 0x7f7f, 0x1.fep127f, "max" },
  };
  enum
  {
    NH = sizeof halves / sizeof halves[0],
    NB = sizeof bhalves / sizeof bhalves[0]
  };
  const char *path = path_in_tmp ("edges.safetensors");
  unsigned char data[2 * (NH + NB)];
  char header[256], error[VGG_ERROR_SIZE] = "";
  VggTensorFile *file = NULL;
  const VggTensor *h, *b;
  float got[NH + NB];
  unsigned char *bytes;
  VggStatus status;
  size_t size;

  printf ("# test_half_edge_values_convert_exactly\n");
  for (int i = 0; i < NH; i++)
    put_u16 (data + 2 * i, halves[i].bits);
  for (int i = 0; i < NB; i++)
    put_u16 (data + 2 * (NH + i), bhalves[i].bits);
  snprintf (header, sizeof header,
      "{\"h\":{\"dtype\":\"F16\",\"shape\":[%d],\"data_offsets\":[0,%d]},"
      "\"b\":{\"dtype\":\"BF16\",\"shape\":[%d],\"data_offsets\":[%d,%d]}}",
      NH, 2 * NH, NB, 2 * NH, 2 * (NH + NB));
  bytes = build_file (header, data, sizeof data, NULL, &size);
  write_bytes (path, bytes, size);
  free (bytes);

  status = vgg_safetensors_open (path, &file, error);
  if (!check (status == VGG_OK, "open edge-value file (status %d, \"%s\")",
          (int) status, error))
    return;
  h = vgg_tensor_file_find (file, "h");
  b = vgg_tensor_file_find (file, "b");
  if (check (h != NULL && b != NULL, "find \"h\" and \"b\"")) {
    vgg_tensor_to_f32 (h, got);
    for (int i = 0; i < NH; i++)
      check (same_float (got[i], halves[i].value),
          "F16 0x%04x (%s) -> %a (expected %a)", halves[i].bits, halves[i].what,
          (double) got[i], (double) halves[i].value);
    vgg_tensor_to_f32 (b, got);
    for (int i = 0; i < NB; i++)
      check (same_float (got[i], bhalves[i].value),
          "BF16 0x%04x (%s) -> %a (expected %a)", bhalves[i].bits,
          bhalves[i].what, (double) got[i], (double) bhalves[i].value);
  }
  vgg_tensor_file_free (file);
}

/* 2^k, exactly (no libm needed). */
static float
pow2 (int k)
{
  float f = 1.0f;

  for (; k > 0; k--)
    f *= 2.0f;
  for (; k < 0; k++)
    f *= 0.5f;
  return f;
}

/* Every F16 bit pattern against an independent decoding by arithmetic:
 * m * 2^-24 for subnormals, (1024 + m) * 2^(e-25) for normals. */
static void
test_every_half_converts (void)
{
  const char *path = path_in_tmp ("all-halves.safetensors");
  static unsigned char data[2 * 65536];
  static float got[65536];
  const char *header = "{\"all\":{\"dtype\":\"F16\",\"shape\":[65536],"
                       "\"data_offsets\":[0,131072]}}";
  char error[VGG_ERROR_SIZE] = "";
  VggTensorFile *file = NULL;
  unsigned char *bytes;
  int mismatches = 0, first_bad = -1;
  VggStatus status;
  size_t size;

  printf ("# test_every_half_converts\n");
  for (int i = 0; i < 65536; i++)
    put_u16 (data + 2 * i, (uint16_t) i);
  bytes = build_file (header, data, sizeof data, NULL, &size);
  write_bytes (path, bytes, size);
  free (bytes);
  status = vgg_safetensors_open (path, &file, error);
  if (!check (status == VGG_OK, "open all-halves file (status %d, \"%s\")",
          (int) status, error))
    return;
  vgg_tensor_to_f32 (vgg_tensor_file_find (file, "all"), got);
  for (int i = 0; i < 65536; i++) {
    int e = (i >> 10) & 0x1f, m = i & 0x3ff;
    float expected;

    if (e == 31)
      expected = m ? NAN : INFINITY;
    else if (e == 0)
      expected = (float) m * pow2 (-24);
    else
      expected = (float) (m | 0x400) * pow2 (e - 25);
    if (i & 0x8000)
      expected = -expected;
    if (!same_float (got[i], expected)) {
      if (first_bad < 0)
        first_bad = i;
      mismatches++;
    }
  }
  check (mismatches == 0,
      "all 65536 F16 values exact (%d mismatches, "
      "first 0x%04x)",
      mismatches, first_bad < 0 ? 0 : first_bad);
  vgg_tensor_file_free (file);
}

/* ---- Malformed files ---- */

typedef struct
{
  const char *file;   /* file name, which the message must contain */
  const char *header; /* JSON text; NULL to write raw */
  size_t data_size;   /* zero bytes after the header */
  bool override_length;
  uint64_t length;  /* header length field when override_length */
  long truncate_to; /* cut the file to this size when >= 0 */
  const char *raw;  /* raw file content when header is NULL */
  size_t raw_size;
  VggStatus status;
  const char *phrase; /* the message must contain it */
} MalformedCase;

#define T1(name, dtype, shape, offsets)                                        \
  "\"" name "\":{\"dtype\":\"" dtype "\",\"shape\":" shape                     \
  ",\"data_offsets\":" offsets "}"

static const MalformedCase malformed_cases[] = {
  { "empty.safetensors", NULL, 0, false, 0, -1, "", 0, VGG_ERROR_FORMAT,
      "file is empty" },
  { "short.safetensors", NULL, 0, false, 0, -1, "\x10\0\0", 3, VGG_ERROR_FORMAT,
      "3 bytes, too short" },
  { "length-past-end.safetensors", "{}", 0, true, 1000, -1, NULL, 0,
      VGG_ERROR_FORMAT, "header length 1000 runs past the end of the file" },
  { "absurd-length.safetensors", "{}", 0, true, (uint64_t) 1 << 62, -1, NULL, 0,
      VGG_ERROR_FORMAT, "larger than the 100 MiB limit" },
  { "zero-length.safetensors", "{}", 0, true, 0, -1, NULL, 0, VGG_ERROR_FORMAT,
      "at byte 0: expected a value, found end of header" },
  { "invalid-json.safetensors", "{\"a\": {\"dtype\": \"F32\",}}", 0, false, 0,
      -1, NULL, 0, VGG_ERROR_FORMAT,
      "invalid JSON in the header at byte 22: expected a member name" },
  { "unterminated-string.safetensors", "{\"abc", 0, false, 0, -1, NULL, 0,
      VGG_ERROR_FORMAT, "at byte 1: unterminated string" },
  { "bad-escape.safetensors", "{\"a\\x\": 1}", 0, false, 0, -1, NULL, 0,
      VGG_ERROR_FORMAT, "invalid escape '\\x'" },
  { "lone-surrogate.safetensors", "{\"\\ud800x\": 1}", 0, false, 0, -1, NULL, 0,
      VGG_ERROR_FORMAT, "unpaired UTF-16 surrogate \\ud800" },
  { "nul-escape.safetensors", "{\"a\\u0000b\": 1}", 0, false, 0, -1, NULL, 0,
      VGG_ERROR_FORMAT, "\\u0000 (NUL) in a string is not supported" },
  { "bad-utf8.safetensors", "{\"caf\xe9\": 1}", 0, false, 0, -1, NULL, 0,
      VGG_ERROR_FORMAT, "invalid UTF-8" },
  { "control-char.safetensors", "{\"a\nb\": 1}", 0, false, 0, -1, NULL, 0,
      VGG_ERROR_FORMAT, "control character 0x0a" },
  { "trailing-garbage.safetensors", "{} x", 0, false, 0, -1, NULL, 0,
      VGG_ERROR_FORMAT, "unexpected 'x' after the end of the header object" },
  { "leading-zero.safetensors", "{" T1 ("a", "F32", "[01]", "[0, 4]") "}", 4,
      false, 0, -1, NULL, 0, VGG_ERROR_FORMAT, "number with a leading zero" },
  { "too-deep.safetensors",
      "{\"__metadata__\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
      "[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
      "]]]]]]]]]]]]]]]]]]]]]]]}",
      0, false, 0, -1, NULL, 0, VGG_ERROR_FORMAT,
      "nesting deeper than 64 levels" },
  { "not-object.safetensors", "[1, 2]", 0, false, 0, -1, NULL, 0,
      VGG_ERROR_FORMAT, "header is an array, not an object" },
  { "leading-space.safetensors", " {}", 0, false, 0, -1, NULL, 0,
      VGG_ERROR_FORMAT, "header must begin with '{'" },
  { "unknown-dtype.safetensors", "{" T1 ("w", "F31", "[1]", "[0, 4]") "}", 4,
      false, 0, -1, NULL, 0, VGG_ERROR_FORMAT,
      "tensor \"w\": unknown dtype \"F31\"" },
  { "dtype-not-string.safetensors",
      "{\"w\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, false, 0,
      -1, NULL, 0, VGG_ERROR_FORMAT,
      "tensor \"w\": dtype is an integer, not a string" },
  { "negative-dim.safetensors", "{" T1 ("w", "F32", "[2, -3]", "[0, 4]") "}", 4,
      false, 0, -1, NULL, 0, VGG_ERROR_FORMAT,
      "tensor \"w\": shape [2, -3] has a negative dimension" },
  { "float-dim.safetensors", "{" T1 ("w", "F32", "[2, 1.0]", "[0, 8]") "}", 8,
      false, 0, -1, NULL, 0, VGG_ERROR_FORMAT,
      "tensor \"w\": shape[1] is a number with a fraction or exponent, "
      "not an integer" },
  { "exponent-offset.safetensors", "{" T1 ("w", "F32", "[1]", "[0, 4e0]") "}",
      4, false, 0, -1, NULL, 0, VGG_ERROR_FORMAT,
      "data_offsets[1] is a number with a fraction or "
      "exponent" },
  { "huge-dim.safetensors",
      "{" T1 ("w", "F32", "[18446744073709551616]", "[0, 4]") "}", 4, false, 0,
      -1, NULL, 0, VGG_ERROR_FORMAT,
      "tensor \"w\": shape[0] is outside the 64-bit range" },
  { "shape-overflow.safetensors",
      "{" T1 ("w", "F32", "[4294967296, 4294967296, 4]", "[0, 4]") "}", 4,
      false, 0, -1, NULL, 0, VGG_ERROR_FORMAT,
      "tensor \"w\": shape [4294967296, 4294967296, 4] overflows" },
  { "bytes-overflow.safetensors",
      "{" T1 ("w", "F32", "[4611686018427387904]", "[0, 4]") "}", 4, false, 0,
      -1, NULL, 0, VGG_ERROR_FORMAT,
      "shape [4611686018427387904] of F32 overflows: more than 2^63 bytes" },
  { "offsets-outside.safetensors", "{" T1 ("w", "F32", "[100]", "[0, 400]") "}",
      24, false, 0, -1, NULL, 0, VGG_ERROR_FORMAT,
      "tensor \"w\": data_offsets [0, 400] lie outside the "
      "data region of 24 bytes" },
  { "offsets-reversed.safetensors", "{" T1 ("w", "F32", "[1]", "[8, 4]") "}", 8,
      false, 0, -1, NULL, 0, VGG_ERROR_FORMAT,
      "tensor \"w\": data_offsets [8, 4] end before they "
      "begin" },
  { "offsets-negative.safetensors", "{" T1 ("w", "F32", "[1]", "[-4, 0]") "}",
      4, false, 0, -1, NULL, 0, VGG_ERROR_FORMAT,
      "data_offsets [-4, 0] are negative" },
  { "offsets-three.safetensors", "{" T1 ("w", "F32", "[1]", "[0, 4, 8]") "}", 4,
      false, 0, -1, NULL, 0, VGG_ERROR_FORMAT,
      "data_offsets has 3 elements, not 2" },
  { "size-mismatch.safetensors",
      "{" T1 ("features.0.weight", "F32", "[64, 3, 3, 3]", "[0, 400]") "}", 400,
      false, 0, -1, NULL, 0, VGG_ERROR_FORMAT,
      "tensor \"features.0.weight\": data_offsets [0, 400] hold 400 bytes but "
      "shape [64, 3, 3, 3] of F32 needs 6912" },
  { "overlap.safetensors",
      "{" T1 ("a", "F32", "[6]", "[0, 24]") "," T1 (
          "b", "F32", "[6]", "[16, 40]") "}",
      40, false, 0, -1, NULL, 0, VGG_ERROR_FORMAT,
      "tensors \"a\" (data_offsets [0, 24]) and \"b\" "
      "(data_offsets [16, 40]) overlap" },
  { "same-offsets.safetensors",
      "{" T1 ("a", "F32", "[6]", "[0, 24]") "," T1 (
          "b", "F32", "[6]", "[0, 24]") "}",
      24, false, 0, -1, NULL, 0, VGG_ERROR_FORMAT, "overlap" },
  { "hole.safetensors",
      "{" T1 ("a", "F32", "[2]", "[0, 8]") "," T1 (
          "b", "F32", "[2]", "[16, 24]") "}",
      24, false, 0, -1, NULL, 0, VGG_ERROR_FORMAT,
      "bytes [8, 16] of the data region, before tensor "
      "\"b\", belong to no tensor" },
  { "trailing-data.safetensors", "{" T1 ("a", "F32", "[2]", "[0, 8]") "}", 12,
      false, 0, -1, NULL, 0, VGG_ERROR_FORMAT,
      "bytes [8, 12] at the end of the data region belong "
      "to no tensor" },
  { "duplicate-tensor.safetensors",
      "{" T1 ("a", "F32", "[1]", "[0, 4]") "," T1 (
          "a", "F32", "[1]", "[4, 8]") "}",
      8, false, 0, -1, NULL, 0, VGG_ERROR_FORMAT,
      "tensor \"a\" appears twice" },
  { "duplicate-field.safetensors",
      "{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1],"
      "\"data_offsets\":[0,4]}}",
      4, false, 0, -1, NULL, 0, VGG_ERROR_FORMAT,
      "tensor \"a\": duplicate key \"dtype\"" },
  { "unknown-field.safetensors",
      "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offset\":[0,4]}}", 4,
      false, 0, -1, NULL, 0, VGG_ERROR_FORMAT,
      "tensor \"a\": unknown key \"data_offset\"" },
  { "entry-not-object.safetensors", "{\"a\": [1]}", 0, false, 0, -1, NULL, 0,
      VGG_ERROR_FORMAT, "tensor \"a\": entry is an array, not an object" },
  { "metadata-not-string.safetensors",
      "{\"__metadata__\": {\"vgg.name\": \"x\", \"vgg.input_size\": 224}}", 0,
      false, 0, -1, NULL, 0, VGG_ERROR_FORMAT,
      "__metadata__ value of \"vgg.input_size\" is an integer, not a string" },
  { "metadata-not-object.safetensors", "{\"__metadata__\": \"x\"}", 0, false, 0,
      -1, NULL, 0, VGG_ERROR_FORMAT,
      "__metadata__ is a string, not an object" },
  { "metadata-duplicate-key.safetensors",
      "{\"__metadata__\": {\"k\": \"1\", \"j\": \"2\", \"k\": \"3\"}}", 0,
      false, 0, -1, NULL, 0, VGG_ERROR_FORMAT,
      "__metadata__ has the key \"k\" twice" },
  { "metadata-twice.safetensors",
      "{\"__metadata__\": {}, \"__metadata__\": {}}", 0, false, 0, -1, NULL, 0,
      VGG_ERROR_FORMAT, "\"__metadata__\" twice" },
  { "too-many-dims.safetensors",
      "{" T1 ("w", "F32", "[1, 1, 1, 1, 1, 1, 1, 1, 1]", "[0, 4]") "}", 4,
      false, 0, -1, NULL, 0, VGG_ERROR_FORMAT,
      "tensor \"w\": shape has 9 dimensions, more than the 8 supported" },
  { "missing-offsets.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}",
      4, false, 0, -1, NULL, 0, VGG_ERROR_FORMAT,
      "tensor \"w\": missing \"data_offsets\"" },
  { "missing-dtype.safetensors",
      "{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, false, 0, -1, NULL,
      0, VGG_ERROR_FORMAT, "tensor \"w\": missing \"dtype\"" },
  { "truncated-data.safetensors", "{" T1 ("w", "F32", "[64]", "[0, 256]") "}",
      256, false, 0, 8 + 64 + 100, NULL, 0, VGG_ERROR_FORMAT,
      "data_offsets [0, 256] lie outside the data region of 100 bytes "
      "(truncated file?)" },
  { "truncated-header.safetensors", "{" T1 ("w", "F32", "[64]", "[0, 256]") "}",
      256, false, 0, 40, NULL, 0, VGG_ERROR_FORMAT,
      "header length 64 runs past the end of the file "
      "(40 bytes)" },
};

static void
expect_error (const char *path, VggStatus expected, const char *phrase)
{
  const char *name = strrchr (path, '/') ? strrchr (path, '/') + 1 : path;
  VggTensorFile *file = (VggTensorFile *) &file; /* must become NULL */
  char error[VGG_ERROR_SIZE];
  VggStatus status;

  memset (error, 'x', sizeof error);
  error[sizeof error - 1] = '\0';
  status = vgg_safetensors_open (path, &file, error);
  check (status == expected && file == NULL && strstr (error, name) != NULL
          && strstr (error, phrase) != NULL,
      "%s: status %d (expected %d), file %s, message \"%s\" "
      "(must name the file and contain \"%s\")",
      name, (int) status, (int) expected, file ? "set" : "NULL", error, phrase);
  if (status == VGG_OK)
    vgg_tensor_file_free (file);
}

/* Names come from the file: in messages they are escaped and cut. */
static void
test_odd_names_are_quoted_in_messages (void)
{
  const char *path = path_in_tmp ("long-name.safetensors");
  char header[512], phrase[128];
  unsigned char *bytes;
  size_t size;

  printf ("# test_odd_names_are_quoted_in_messages\n");
  snprintf (header, sizeof header,
      "{\"%0300d\":{\"dtype\":\"F99\","
      "\"shape\":[1],\"data_offsets\":[0,4]}}",
      7);
  bytes = build_file (header, NULL, 4, NULL, &size);
  write_bytes (path, bytes, size);
  free (bytes);
  snprintf (phrase, sizeof phrase,
      "tensor \"%073d...\": unknown dtype "
      "\"F99\"",
      0);
  expect_error (path, VGG_ERROR_FORMAT, phrase);

  path = path_in_tmp ("control-name.safetensors");
  bytes = build_file ("{\"a\\u0001\\\"b\":{\"dtype\":\"F99\",\"shape\":[1],"
                      "\"data_offsets\":[0,4]}}",
      NULL, 4, NULL, &size);
  write_bytes (path, bytes, size);
  free (bytes);
  expect_error (
      path, VGG_ERROR_FORMAT, "tensor \"a\\x01\\\"b\": unknown dtype");
}

static void
test_malformed_files_are_refused (void)
{
  VggTensorFile *file = NULL;
  VggStatus status;

  printf ("# test_malformed_files_are_refused\n");
  expect_error (path_in_tmp ("missing.safetensors"), VGG_ERROR_IO,
      "cannot open: No such file or directory");
  expect_error (tmp_dir, VGG_ERROR_IO, "not a regular file");
  status =
      vgg_safetensors_open (path_in_tmp ("missing.safetensors"), &file, NULL);
  check (status == VGG_ERROR_IO && file == NULL,
      "a NULL error buffer is allowed (status %d)", (int) status);

  for (size_t i = 0; i < sizeof malformed_cases / sizeof malformed_cases[0];
       i++) {
    const MalformedCase *c = &malformed_cases[i];
    const char *path = path_in_tmp (c->file);

    if (c->header == NULL)
      write_bytes (path, c->raw, c->raw_size);
    else {
      unsigned char *bytes;
      size_t size;

      bytes = build_file (c->header, NULL, c->data_size,
          c->override_length ? &c->length : NULL, &size);
      if (c->truncate_to >= 0 && (size_t) c->truncate_to < size)
        size = (size_t) c->truncate_to;
      write_bytes (path, bytes, size);
      free (bytes);
    }
    expect_error (path, c->status, c->phrase);
  }
}

/* ---- Mutations ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

/* xorshift64 (Marsaglia 2003): the same sequence on every run. */
static uint64_t
rng_next (void)
{
  uint64_t x = rng_state;

  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  rng_state = x;
  return x;
}

/* Opens path; returns false (and prints) if the result breaks the
 * contract: OK with every tensor inside the mapping and convertible, or an
 * error with a message naming the file. */
static bool
open_survives (const char *path, const char *what, VggStatus *status_out)
{
  VggTensorFile *file = NULL;
  char error[VGG_ERROR_SIZE] = "";
  VggStatus status;
  bool ok = true;

  status = vgg_safetensors_open (path, &file, error);
  *status_out = status;
  if (status != VGG_OK) {
    ok = file == NULL && error[0] != '\0'
        && strncmp (error, path, strlen (path)) == 0;
  } else {
    const unsigned char *lo = file->map, *hi = lo + file->map_size;

    for (int i = 0; i < file->n_tensors; i++) {
      const VggTensor *t = &file->tensors[i];
      const unsigned char *d = t->data;
      int64_t numel = vgg_tensor_numel (t);

      if (d < lo + 8 || d > hi || t->nbytes > (size_t) (hi - d))
        ok = false;
      else if (t->dtype != VGG_DTYPE_OTHER && numel <= 64) {
        float buf[64];
        vgg_tensor_to_f32 (t, buf);
      }
    }
  }
  if (!ok)
    check (false, "%s: status %d, message \"%s\"", what, (int) status, error);
  vgg_tensor_file_free (file);
  return ok;
}

static void
test_mutated_files_never_crash (void)
{
  static const char interesting[] = "{}[]\",:-0123456789.eE\\u /";
  const char *path = path_in_tmp ("mutated.safetensors");
  int n_ok = 0, n_error = 0, n_bad = 0, n_truncated_ok = 0;
  unsigned char *valid, *bytes;
  size_t size;

  printf ("# test_mutated_files_never_crash\n");
  valid = build_valid_file (&size);
  bytes = malloc (size);
  if (bytes == NULL)
    exit (2);

  for (int i = 0; i < 2000; i++) {
    size_t pos = (size_t) (rng_next () % size);
    unsigned kind = (unsigned) (rng_next () % 4);
    uint64_t r = rng_next ();
    char what[128];
    VggStatus status;

    memcpy (bytes, valid, size);
    switch (kind) {
      case 0: /* flip one bit */
        bytes[pos] ^= (unsigned char) (1u << (r % 8));
        break;
      case 1: /* any byte */
        bytes[pos] = (unsigned char) r;
        break;
      case 2: /* a byte that means something to the JSON grammar */
        bytes[pos] = (unsigned char) interesting[r % (sizeof interesting - 1)];
        break;
      default: /* off by one, as in a digit or a length */
        bytes[pos] = (unsigned char) (bytes[pos] + (r & 1 ? 1 : -1));
        break;
    }
    write_bytes (path, bytes, size);
    snprintf (
        what, sizeof what, "mutation %d (kind %u at byte %zu)", i, kind, pos);
    if (!open_survives (path, what, &status))
      n_bad++;
    else if (status == VGG_OK)
      n_ok++;
    else
      n_error++;
  }
  check (n_bad == 0,
      "2000 seeded mutations: %d opened, %d refused with a "
      "message, %d broke the contract",
      n_ok, n_error, n_bad);

  /* A valid file has no holes, so every cut loses bytes some part of it
   * needs: every truncation must be refused. */
  n_bad = 0;
  for (int i = 0; i < 200; i++) {
    size_t cut = (size_t) i * size / 200;
    char what[128];
    VggStatus status;

    write_bytes (path, valid, cut);
    snprintf (what, sizeof what, "truncation to %zu of %zu bytes", cut, size);
    if (!open_survives (path, what, &status))
      n_bad++;
    else if (status == VGG_OK) {
      check (false, "%s opened", what);
      n_truncated_ok++;
    }
  }
  check (n_bad == 0 && n_truncated_ok == 0,
      "200 truncations refused "
      "(%d broke the contract, %d opened)",
      n_bad, n_truncated_ok);
  free (bytes);
  free (valid);
}

static void
remove_tmp_dir (void)
{
  DIR *dir = opendir (tmp_dir);
  struct dirent *entry;

  if (dir == NULL)
    return;
  while ((entry = readdir (dir)) != NULL)
    if (strcmp (entry->d_name, ".") != 0 && strcmp (entry->d_name, "..") != 0)
      unlink (path_in_tmp (entry->d_name));
  closedir (dir);
  rmdir (tmp_dir);
}

int
main (void)
{
  if (mkdtemp (tmp_dir) == NULL) {
    perror ("mkdtemp");
    return 2;
  }
  test_valid_file_round_trips ();
  test_zero_tensor_file_is_valid ();
  test_half_edge_values_convert_exactly ();
  test_every_half_converts ();
  test_malformed_files_are_refused ();
  test_odd_names_are_quoted_in_messages ();
  test_mutated_files_never_crash ();
  remove_tmp_dir ();

  printf ("safetensors: %d passed, %d failed\n", n_checks - n_failed, n_failed);
  return n_failed == 0 ? 0 : 1;
}

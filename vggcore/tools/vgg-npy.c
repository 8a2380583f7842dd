#include "vgg-npy.h"
#include "vgg-tool-common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_HEADER (1 << 20)

static int
fail (char *error, size_t size, const char *path, const char *what)
{
  snprintf (error, size, "%s: %s", path, what);
  return -1;
}

/* Value of 'key' in the header dict: points just after "'key':". */
static const char *
find_key (const char *header, const char *key)
{
  const char *p = strstr (header, key);

  if (p == NULL)
    return NULL;
  p += strlen (key);
  while (*p == ' ')
    p++;
  if (*p != ':')
    return NULL;
  p++;
  while (*p == ' ')
    p++;
  return p;
}

int
vgg_npy_read (const char *path, VggNpy *npy, char *error, size_t size)
{
  FILE *f = vgg_tool_fopen_regular (path, 0, error, size);
  unsigned char magic[12];
  char *header = NULL;
  const char *p;
  size_t header_len, numel = 1;
  long data_start, file_size;
  int ret = -1, ndim = 0;

  memset (npy, 0, sizeof *npy);
  if (f == NULL)
    return -1;
  if (fread (magic, 1, 10, f) != 10 || memcmp (magic, "\x93NUMPY", 6) != 0) {
    fail (error, size, path, "not a .npy file (bad magic)");
    goto out;
  }
  if (magic[6] == 1) {
    header_len = magic[8] | (magic[9] << 8);
  } else if (magic[6] == 2 || magic[6] == 3) {
    if (fread (magic + 10, 1, 2, f) != 2) {
      fail (error, size, path, "truncated header");
      goto out;
    }
    header_len = magic[8] | (magic[9] << 8) | ((size_t) magic[10] << 16)
        | ((size_t) magic[11] << 24);
  } else {
    fail (error, size, path, "unsupported .npy version");
    goto out;
  }
  if (header_len > MAX_HEADER) {
    fail (error, size, path, "header too large");
    goto out;
  }
  header = calloc (header_len + 1, 1);
  if (header == NULL || fread (header, 1, header_len, f) != header_len) {
    fail (error, size, path, "truncated header");
    goto out;
  }
  p = find_key (header, "'descr'");
  if (p == NULL || (strncmp (p, "'<f4'", 5) != 0 && strncmp (p, "'|f4'", 5))) {
    fail (error, size, path, "dtype is not little-endian float32 ('<f4')");
    goto out;
  }
  p = find_key (header, "'fortran_order'");
  if (p == NULL || strncmp (p, "False", 5) != 0) {
    fail (error, size, path, "array is not in C order");
    goto out;
  }
  p = find_key (header, "'shape'");
  if (p == NULL || *p != '(') {
    fail (error, size, path, "no shape in header");
    goto out;
  }
  for (p++;;) {
    char *end;
    long long v;
    while (*p == ' ' || *p == ',')
      p++;
    if (*p == ')')
      break;
    errno = 0;
    v = strtoll (p, &end, 10);
    if (end == p || errno || v < 0 || v > (1ll << 31)
        || ndim == VGG_NPY_MAX_DIMS) {
      fail (error, size, path, "malformed shape");
      goto out;
    }
    npy->shape[ndim++] = v;
    if (v > 0 && numel > ((size_t) 1 << 40) / (size_t) v) {
      fail (error, size, path, "array too large");
      goto out;
    }
    numel *= (size_t) v;
    p = end;
  }
  npy->ndim = ndim;
  data_start = ftell (f);
  fseek (f, 0, SEEK_END);
  file_size = ftell (f);
  if (file_size - data_start < (long) (numel * sizeof (float))) {
    fail (error, size, path, "data shorter than the shape in the header");
    goto out;
  }
  fseek (f, data_start, SEEK_SET);
  npy->data = malloc (numel ? numel * sizeof (float) : 1);
  if (npy->data == NULL) {
    fail (error, size, path, "out of memory");
    goto out;
  }
  if (fread (npy->data, sizeof (float), numel, f) != numel) {
    fail (error, size, path, "read error");
    goto out;
  }
  ret = 0;

out:
  if (ret != 0)
    vgg_npy_clear (npy);
  free (header);
  fclose (f);
  return ret;
}

int
vgg_npy_write (const char *path, const float *data, int ndim,
    const int64_t *shape, char *error, size_t size)
{
  char header[256];
  size_t numel = 1, len;
  int n = snprintf (header, sizeof header,
      "{'descr': '<f4', 'fortran_order': False, 'shape': (");
  FILE *f;

  for (int i = 0; i < ndim; i++) {
    n += snprintf (header + n, sizeof header - n, "%lld,%s",
        (long long) shape[i], i + 1 < ndim ? " " : "");
    numel *= (size_t) shape[i];
  }
  n += snprintf (header + n, sizeof header - n, "), }");
  /* pad with spaces so the data starts at a multiple of 64, newline last */
  len = 10 + (size_t) n + 1;
  while (len % 64)
    header[n++] = ' ', len++;
  header[n++] = '\n';

  f = fopen (path, "wb");
  if (f == NULL)
    return -1;
  fwrite ("\x93NUMPY\x01\x00", 1, 8, f);
  fputc (n & 0xff, f);
  fputc (n >> 8, f);
  fwrite (header, 1, n, f);
  fwrite (data, sizeof (float), numel, f);
  if (fclose (f) != 0) {
    snprintf (error, size, "%s: %s", path, strerror (errno));
    return -1;
  }
  return 0;
}

void
vgg_npy_clear (VggNpy *npy)
{
  free (npy->data);
  memset (npy, 0, sizeof *npy);
}

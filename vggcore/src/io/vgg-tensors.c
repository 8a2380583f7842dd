/* Element counts and conversion to float32 of the tensors a loader
 * produced.  Tensor data sits in a file mapping at whatever offset the
 * writer chose, so it is read with memcpy or byte by byte, never through a
 * cast pointer that would assume alignment. */
#include "vgg-tensors-private.h"
#include "vgg-error-private.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *
file_kind (mode_t mode)
{
  if (S_ISDIR (mode))
    return "a directory";
  if (S_ISFIFO (mode))
    return "a FIFO";
  if (S_ISCHR (mode))
    return "a character device";
  if (S_ISBLK (mode))
    return "a block device";
  if (S_ISSOCK (mode))
    return "a socket";
  return "not a regular file";
}

int
vgg_file_open_regular (
    const char *path, struct stat *st, char error[VGG_ERROR_SIZE])
{
  int fd = open (path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);

  if (fd < 0) {
    vgg_set_error (
        error, VGG_ERROR_IO, path, "cannot open: %s", strerror (errno));
    return -1;
  }
  if (fstat (fd, st) != 0) {
    vgg_set_error (
        error, VGG_ERROR_IO, path, "cannot stat: %s", strerror (errno));
    close (fd);
    return -1;
  }
  if (!S_ISREG (st->st_mode)) {
    vgg_set_error (error, VGG_ERROR_IO, path,
        "not a regular file (%s); model files are read from regular files "
        "only",
        file_kind (st->st_mode));
    close (fd);
    return -1;
  }
  return fd;
}

VggStatus
vgg_tensor_file_open (
    const char *path, VggTensorFile **file, char error[VGG_ERROR_SIZE])
{
  unsigned char head[8] = { 0 };
  uint64_t header_size = 0;
  struct stat st;
  ssize_t n;
  int fd;

  *file = NULL;
  fd = vgg_file_open_regular (path, &st, error);
  if (fd < 0)
    return VGG_ERROR_IO;
  n = read (fd, head, sizeof head);
  close (fd);
  /* A safetensors file starts with its header length, at most 100 MiB.
   * torch.save's zip archive starts with a local header ("PK\3\4", then a
   * non-zero version) and its legacy format with a pickle's PROTO opcode
   * (0x80, then the protocol and the magic number or a FRAME length):
   * both read as a length far above that. */
  for (int i = 7; i >= 0; i--)
    header_size = (header_size << 8) | head[i];
  if (n == 8 && header_size > ((uint64_t) 100 << 20)
      && (memcmp (head, "PK\3\4", 4) == 0 || head[0] == 0x80))
    return vgg_pth_open (path, file, error);
  return vgg_safetensors_open (path, file, error);
}

int64_t
vgg_tensor_numel (const VggTensor *tensor)
{
  int64_t numel = 1; /* shape [] is a scalar */

  /* The loaders checked that this product does not overflow. */
  for (int i = 0; i < tensor->ndim; i++)
    numel *= tensor->shape[i];
  return numel;
}

/* The exponent field all ones is an infinity or a NaN, in every format:
 *   F32   bits 30..23 (0x7f800000)
 *   F16   bits 14..10 (0x7c00)
 *   BF16  bits 14..7  (0x7f80, the upper half of a F32)
 * The loops OR a flag over blocks of 4096 elements (which the compiler
 * vectorizes) and look for the exact index only in a flagged block. */
#define NONFINITE_BLOCK 4096

static uint32_t
read_u32_le (const unsigned char *p)
{
  return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16
      | (uint32_t) p[3] << 24;
}

static uint16_t
read_u16_le (const unsigned char *p)
{
  return (uint16_t) (p[0] | (p[1] << 8));
}

static int64_t
find_nonfinite_u32 (const unsigned char *src, int64_t n)
{
  for (int64_t start = 0; start < n; start += NONFINITE_BLOCK) {
    int64_t end = start + NONFINITE_BLOCK < n ? start + NONFINITE_BLOCK : n;
    uint32_t bad = 0;
    for (int64_t i = start; i < end; i++) {
      uint32_t bits = read_u32_le (src + 4 * i);
      bad |= (uint32_t) ((bits & 0x7f800000u) == 0x7f800000u);
    }
    if (bad)
      for (int64_t i = start; i < end; i++) {
        uint32_t bits = read_u32_le (src + 4 * i);
        if ((bits & 0x7f800000u) == 0x7f800000u)
          return i;
      }
  }
  return -1;
}

static int64_t
find_nonfinite_u16 (const unsigned char *src, int64_t n, uint16_t mask)
{
  for (int64_t start = 0; start < n; start += NONFINITE_BLOCK) {
    int64_t end = start + NONFINITE_BLOCK < n ? start + NONFINITE_BLOCK : n;
    unsigned bad = 0;
    for (int64_t i = start; i < end; i++) {
      uint16_t bits = read_u16_le (src + 2 * i);
      bad |= (unsigned) ((bits & mask) == mask);
    }
    if (bad)
      for (int64_t i = start; i < end; i++) {
        uint16_t bits = read_u16_le (src + 2 * i);
        if ((bits & mask) == mask)
          return i;
      }
  }
  return -1;
}

int64_t
vgg_tensor_find_nonfinite (const VggTensor *tensor)
{
  int64_t n = vgg_tensor_numel (tensor);

  switch (tensor->dtype) {
    case VGG_DTYPE_F32:
      return find_nonfinite_u32 (tensor->data, n);
    case VGG_DTYPE_F16:
      return find_nonfinite_u16 (tensor->data, n, 0x7c00);
    case VGG_DTYPE_BF16:
      return find_nonfinite_u16 (tensor->data, n, 0x7f80);
    case VGG_DTYPE_OTHER:
      break;
  }
  return -1;
}

static float
float_from_bits (uint32_t bits)
{
  float f;

  memcpy (&f, &bits, sizeof f);
  return f;
}

/* IEEE 754 binary16 (1 sign, 5 exponent bits biased by 15, 10 mantissa
 * bits) to binary32 (8 exponent bits biased by 127, 23 mantissa bits).
 * Every half is exactly representable as a float:
 *   normal     (-1)^s * 2^(e-15) * 1.m   -> exponent e - 15 + 127
 *   subnormal  (-1)^s * 2^-14 * 0.m      -> normalized: shift m left until
 *                                          its bit 10 is set, one less
 *                                          exponent per shift
 *   e == 31    inf (m == 0) or NaN (payload kept, so quiet stays quiet) */
static float
half_to_float (uint16_t h)
{
  uint32_t sign = (uint32_t) (h & 0x8000) << 16;
  uint32_t exponent = (h >> 10) & 0x1f;
  uint32_t mantissa = h & 0x3ff;

  if (exponent == 0x1f)
    return float_from_bits (sign | 0x7f800000u | (mantissa << 13));
  if (exponent != 0)
    return float_from_bits (
        sign | ((exponent + 127 - 15) << 23) | (mantissa << 13));
  if (mantissa == 0)
    return float_from_bits (sign); /* +0 or -0 */

  /* 0.m * 2^-14 == 1.m' * 2^(-14 - shifts) */
  exponent = 127 - 14;
  while ((mantissa & 0x400) == 0) {
    mantissa <<= 1;
    exponent--;
  }
  return float_from_bits (sign | (exponent << 23) | ((mantissa & 0x3ff) << 13));
}

void
vgg_tensor_range_to_f32 (
    const VggTensor *tensor, int64_t start, int64_t n, float *dst)
{
  const unsigned char *src = tensor->data;

  switch (tensor->dtype) {
    case VGG_DTYPE_F32:
      src += 4 * start;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
      memcpy (dst, src, (size_t) n * sizeof (float));
#else
      for (int64_t i = 0; i < n; i++) {
        const unsigned char *p = src + 4 * i;
        dst[i] = float_from_bits ((uint32_t) p[0] | (uint32_t) p[1] << 8
            | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24);
      }
#endif
      break;
    case VGG_DTYPE_F16:
      src += 2 * start;
      for (int64_t i = 0; i < n; i++)
        dst[i] = half_to_float (read_u16_le (src + 2 * i));
      break;
    case VGG_DTYPE_BF16:
      /* bfloat16 is the upper half of a float32. */
      src += 2 * start;
      for (int64_t i = 0; i < n; i++)
        dst[i] = float_from_bits ((uint32_t) read_u16_le (src + 2 * i) << 16);
      break;
    case VGG_DTYPE_OTHER:
      /* A caller's mistake (it must check the dtype first): NaN makes it
       * visible in the results instead of plausible zeros. */
      for (int64_t i = 0; i < n; i++)
        dst[i] = float_from_bits (0x7fc00000u);
      break;
  }
}

void
vgg_tensor_to_f32 (const VggTensor *tensor, float *dst)
{
  vgg_tensor_range_to_f32 (tensor, 0, vgg_tensor_numel (tensor), dst);
}

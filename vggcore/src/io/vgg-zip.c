/* Reader of the zip archives written by torch.save (PyTorch's
 * PyTorchStreamWriter, built on miniz):
 *
 *   [local header | name | extra (padding to 64 bytes) | data] per entry
 *   central directory: one 46-byte record + name + extra + comment each
 *   [ZIP64 end of central directory record + its 20-byte locator]
 *   end of central directory record (22 bytes + comment)
 *
 * Only stored entries are accepted: torch never compresses, and refusing
 * compressed ones keeps the reader free of a decompressor and of its
 * attack surface.  Every offset and size read from the archive is checked
 * against the bytes before it is used. */
#include "vgg-zip-private.h"
#include "vgg-error-private.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define SIG_LOCAL 0x04034b50u
#define SIG_CENTRAL 0x02014b50u
#define SIG_EOCD 0x06054b50u
#define SIG_EOCD64 0x06064b50u
#define SIG_EOCD64_LOCATOR 0x07064b50u

#define LOCAL_SIZE 30
#define CENTRAL_SIZE 46
#define EOCD_SIZE 22
#define EOCD64_SIZE 56
#define LOCATOR_SIZE 20

static uint16_t
rd16 (const unsigned char *p)
{
  return (uint16_t) (p[0] | p[1] << 8);
}

static uint32_t
rd32 (const unsigned char *p)
{
  return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16
      | (uint32_t) p[3] << 24;
}

static uint64_t
rd64 (const unsigned char *p)
{
  return (uint64_t) rd32 (p) | (uint64_t) rd32 (p + 4) << 32;
}

uint32_t
vgg_zip_crc32 (const unsigned char *data, size_t size)
{
  static uint32_t table[256];
  static bool ready;
  uint32_t crc = 0xffffffffu;

  /* Reflected polynomial 0xedb88320; the table is the same whichever
   * thread fills it first, so the race is benign but is avoided anyway by
   * filling a local copy. */
  if (!ready) {
    uint32_t t[256];
    for (uint32_t i = 0; i < 256; i++) {
      uint32_t c = i;
      for (int k = 0; k < 8; k++)
        c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    memcpy (table, t, sizeof t);
    __atomic_store_n (&ready, true, __ATOMIC_RELEASE);
  }
  for (size_t i = 0; i < size; i++)
    crc = table[(crc ^ data[i]) & 0xff] ^ (crc >> 8);
  return crc ^ 0xffffffffu;
}

/* The end of central directory record: the last signature whose comment
 * length reaches exactly the end of the archive. */
static bool
find_eocd (const unsigned char *data, size_t size, size_t *pos)
{
  size_t lowest;

  if (size < EOCD_SIZE)
    return false;
  lowest = size - EOCD_SIZE > 0xffff ? size - EOCD_SIZE - 0xffff : 0;
  for (size_t p = size - EOCD_SIZE + 1; p-- > lowest;) {
    if (rd32 (data + p) == SIG_EOCD
        && p + EOCD_SIZE + rd16 (data + p + 20) == size) {
      *pos = p;
      return true;
    }
  }
  return false;
}

static int
compare_names (const void *a, const void *b)
{
  const VggZipEntry *x = *(const VggZipEntry *const *) a;
  const VggZipEntry *y = *(const VggZipEntry *const *) b;
  return strcmp (x->name, y->name);
}

/* Reads the central record at data[*pos] into entry and advances *pos. */
static VggStatus
read_entry (const char *path, const unsigned char *data, size_t cd_end,
    uint64_t cd_offset, size_t *pos, int index, VggZipEntry *entry, char *error)
{
  const unsigned char *c = data + *pos;
  uint32_t name_len, extra_len, comment_len, flags, method;
  uint64_t csize, usize, local;
  const unsigned char *extra;
  uint64_t data_begin;
  const unsigned char *l;

  if (cd_end - *pos < CENTRAL_SIZE || rd32 (c) != SIG_CENTRAL)
    return vgg_set_error (error, VGG_ERROR_FORMAT, path,
        "zip central directory record %d at byte %zu is damaged", index, *pos);
  flags = rd16 (c + 8);
  method = rd16 (c + 10);
  csize = rd32 (c + 20);
  usize = rd32 (c + 24);
  name_len = rd16 (c + 28);
  extra_len = rd16 (c + 30);
  comment_len = rd16 (c + 32);
  local = rd32 (c + 42);
  if (cd_end - *pos - CENTRAL_SIZE
      < (size_t) name_len + extra_len + comment_len)
    return vgg_set_error (error, VGG_ERROR_FORMAT, path,
        "zip central directory record %d runs past the directory", index);
  if (memchr (c + CENTRAL_SIZE, '\0', name_len) != NULL)
    return vgg_set_error (error, VGG_ERROR_FORMAT, path,
        "zip entry %d has a NUL byte in its name", index);
  entry->name = malloc (name_len + 1);
  if (entry->name == NULL)
    return vgg_set_error (error, VGG_ERROR_NOMEM, path, "out of memory");
  memcpy (entry->name, c + CENTRAL_SIZE, name_len);
  entry->name[name_len] = '\0';
  entry->crc32 = rd32 (c + 16);

  /* ZIP64 extended information: the 64-bit values of the fields that are
   * 0xffffffff, in the order usize, csize, local offset. */
  extra = c + CENTRAL_SIZE + name_len;
  for (uint32_t e = 0; e + 4 <= extra_len;) {
    uint32_t id = rd16 (extra + e), len = rd16 (extra + e + 2);
    const unsigned char *f = extra + e + 4;
    uint32_t used = 0;

    if (e + 4 + len > extra_len)
      return vgg_set_error (error, VGG_ERROR_FORMAT, path,
          "zip entry \"%.100s\" has a damaged extra field", entry->name);
    if (id == 0x0001) {
      if (usize == 0xffffffffu && used + 8 <= len) {
        usize = rd64 (f + used);
        used += 8;
      }
      if (csize == 0xffffffffu && used + 8 <= len) {
        csize = rd64 (f + used);
        used += 8;
      }
      if (local == 0xffffffffu && used + 8 <= len) {
        local = rd64 (f + used);
        used += 8;
      }
    }
    e += 4 + len;
  }

  if (flags & 0x41)
    return vgg_set_error (error, VGG_ERROR_UNSUPPORTED, path,
        "zip entry \"%.100s\" is encrypted", entry->name);
  if (method != 0)
    return vgg_set_error (error, VGG_ERROR_UNSUPPORTED, path,
        "zip entry \"%.100s\" is compressed (method %u); torch.save writes "
        "stored entries only (re-save it with torch.save)",
        entry->name, method);
  if (csize != usize)
    return vgg_set_error (error, VGG_ERROR_FORMAT, path,
        "zip entry \"%.100s\" is stored but its sizes differ (%llu and "
        "%llu)",
        entry->name, (unsigned long long) csize, (unsigned long long) usize);
  if (local > cd_offset || cd_offset - local < LOCAL_SIZE)
    return vgg_set_error (error, VGG_ERROR_FORMAT, path,
        "zip entry \"%.100s\" has its local header at byte %llu, outside "
        "the entries (which end at byte %llu)",
        entry->name, (unsigned long long) local,
        (unsigned long long) cd_offset);
  l = data + local;
  if (rd32 (l) != SIG_LOCAL)
    return vgg_set_error (error, VGG_ERROR_FORMAT, path,
        "zip entry \"%.100s\": no local header at byte %llu", entry->name,
        (unsigned long long) local);
  data_begin = local + LOCAL_SIZE + rd16 (l + 26) + rd16 (l + 28);
  if (data_begin > cd_offset || cd_offset - data_begin < csize)
    return vgg_set_error (error, VGG_ERROR_FORMAT, path,
        "zip entry \"%.100s\" has %llu bytes at byte %llu, past the end of "
        "the entries (byte %llu)",
        entry->name, (unsigned long long) csize,
        (unsigned long long) data_begin, (unsigned long long) cd_offset);
  /* data_begin <= cd_offset, so the local name is inside the archive */
  if (rd16 (l + 26) != name_len
      || memcmp (l + LOCAL_SIZE, entry->name, name_len) != 0)
    return vgg_set_error (error, VGG_ERROR_FORMAT, path,
        "zip entry \"%.100s\": its local header names another file",
        entry->name);
  entry->data = data + data_begin;
  entry->size = csize;
  *pos += CENTRAL_SIZE + name_len + extra_len + comment_len;
  return VGG_OK;
}

VggStatus
vgg_zip_open (const char *path, const unsigned char *data, size_t size,
    VggZip **out, char error[VGG_ERROR_SIZE])
{
  VggStatus status = VGG_OK;
  VggZip *zip = NULL;
  VggZipEntry **sorted = NULL;
  uint64_t n_entries, cd_size, cd_offset, records_end;
  size_t eocd, pos;

  *out = NULL;
  if (!find_eocd (data, size, &eocd)) {
    status = vgg_set_error (error, VGG_ERROR_FORMAT, path,
        "not a zip archive: no end of central directory record");
    goto out;
  }
  n_entries = rd16 (data + eocd + 10);
  cd_size = rd32 (data + eocd + 12);
  cd_offset = rd32 (data + eocd + 16);
  records_end = eocd;
  if (eocd >= LOCATOR_SIZE
      && rd32 (data + eocd - LOCATOR_SIZE) == SIG_EOCD64_LOCATOR) {
    uint64_t e64 = rd64 (data + eocd - LOCATOR_SIZE + 8);
    if (e64 > eocd - LOCATOR_SIZE || eocd - LOCATOR_SIZE - e64 < EOCD64_SIZE
        || rd32 (data + e64) != SIG_EOCD64) {
      status = vgg_set_error (error, VGG_ERROR_FORMAT, path,
          "zip ZIP64 end of central directory at byte %llu is damaged",
          (unsigned long long) e64);
      goto out;
    }
    n_entries = rd64 (data + e64 + 32);
    cd_size = rd64 (data + e64 + 40);
    cd_offset = rd64 (data + e64 + 48);
    records_end = e64;
  }
  if (cd_offset > records_end || records_end - cd_offset < cd_size) {
    status = vgg_set_error (error, VGG_ERROR_FORMAT, path,
        "zip central directory (%llu bytes at byte %llu) lies outside the "
        "archive (%zu bytes)",
        (unsigned long long) cd_size, (unsigned long long) cd_offset, size);
    goto out;
  }
  if (n_entries > cd_size / CENTRAL_SIZE) {
    status = vgg_set_error (error, VGG_ERROR_FORMAT, path,
        "zip central directory claims %llu entries in %llu bytes",
        (unsigned long long) n_entries, (unsigned long long) cd_size);
    goto out;
  }

  zip = calloc (1, sizeof *zip);
  if (zip == NULL
      || (n_entries > 0
          && (zip->entries = calloc (n_entries, sizeof *zip->entries))
              == NULL)) {
    status = vgg_set_error (error, VGG_ERROR_NOMEM, path, "out of memory");
    goto out;
  }
  pos = (size_t) cd_offset;
  for (uint64_t i = 0; i < n_entries; i++) {
    status = read_entry (path, data, (size_t) (cd_offset + cd_size), cd_offset,
        &pos, (int) i, &zip->entries[i], error);
    zip->n_entries = (int) i + 1;
    if (status != VGG_OK)
      goto out;
  }

  if (zip->n_entries > 1) {
    sorted = malloc ((size_t) zip->n_entries * sizeof *sorted);
    if (sorted == NULL) {
      status = vgg_set_error (error, VGG_ERROR_NOMEM, path, "out of memory");
      goto out;
    }
    for (int i = 0; i < zip->n_entries; i++)
      sorted[i] = &zip->entries[i];
    qsort (sorted, (size_t) zip->n_entries, sizeof *sorted, compare_names);
    for (int i = 1; i < zip->n_entries; i++)
      if (strcmp (sorted[i - 1]->name, sorted[i]->name) == 0) {
        status = vgg_set_error (error, VGG_ERROR_FORMAT, path,
            "zip entry \"%.100s\" appears twice", sorted[i]->name);
        goto out;
      }
  }

out:
  free (sorted);
  if (status != VGG_OK) {
    vgg_zip_free (zip);
    zip = NULL;
  }
  *out = zip;
  return status;
}

void
vgg_zip_free (VggZip *zip)
{
  if (zip == NULL)
    return;
  for (int i = 0; i < zip->n_entries; i++)
    free (zip->entries[i].name);
  free (zip->entries);
  free (zip);
}

const VggZipEntry *
vgg_zip_find (const VggZip *zip, const char *name)
{
  for (int i = 0; zip != NULL && i < zip->n_entries; i++)
    if (strcmp (zip->entries[i].name, name) == 0)
      return &zip->entries[i];
  return NULL;
}

/* A reader of the zip archives that torch.save writes (since PyTorch 1.6):
 * stored (uncompressed) entries, optionally with ZIP64 records.  Works on
 * bytes in memory (a file mapping); entries point into them.  Private to
 * vggcore. */
#ifndef VGG_ZIP_PRIVATE_H
#define VGG_ZIP_PRIVATE_H

#include "vggcore/vggcore.h"

typedef struct
{
  char *name;                /* NUL-terminated copy of the entry name */
  const unsigned char *data; /* inside the archive's bytes */
  uint64_t size;
  uint32_t crc32;
} VggZipEntry;

typedef struct
{
  VggZipEntry *entries;
  int n_entries;
} VggZip;

/* Reads the central directory of the archive in data[0, size) and checks
 * every entry: stored (method 0), not encrypted, its local header and data
 * inside the archive and before the central directory, names unique and
 * the same in both headers.  path only names the file in messages. */
VggStatus vgg_zip_open (const char *path, const unsigned char *data,
    size_t size, VggZip **zip, char error[VGG_ERROR_SIZE]);

void vgg_zip_free (VggZip *zip);

/* Borrowed; NULL when absent. */
const VggZipEntry *vgg_zip_find (const VggZip *zip, const char *name);

/* CRC-32 (ISO-HDLC, as zip uses) of data. */
uint32_t vgg_zip_crc32 (const unsigned char *data, size_t size);

#endif

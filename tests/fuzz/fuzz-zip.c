/* libFuzzer target: the zip reader, and torch's zip checkpoint format
 * (data.pkl through the unpickler, storages as entries). */
#include "vgg-tensors-private.h"
#include "vgg-zip-private.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  char error[VGG_ERROR_SIZE];
  VggTensorFile *file;
  VggZip *zip = NULL;

  if (vgg_zip_open ("fuzz", data, size, &zip, error) == VGG_OK) {
    /* every entry the reader accepted lies inside the input */
    for (int i = 0; i < zip->n_entries; i++) {
      const VggZipEntry *e = &zip->entries[i];
      if (e->data < data || e->size > (uint64_t) (data + size - e->data))
        abort ();
      (void) vgg_zip_crc32 (e->data, (size_t) e->size);
    }
    vgg_zip_free (zip);
  }

  file = calloc (1, sizeof *file);
  if (file == NULL)
    return 0;
  if (vgg_pth_read ("fuzz", data, size, file, error) == VGG_OK) {
    for (int i = 0; i < file->n_tensors; i++) {
      const VggTensor *t = &file->tensors[i];
      if (t->nbytes > 0
          && ((const uint8_t *) t->data < data
              || (const uint8_t *) t->data + t->nbytes > data + size))
        abort ();
    }
  }
  vgg_tensor_file_free (file);
  return 0;
}

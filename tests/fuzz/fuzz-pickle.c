/* libFuzzer target: the restricted unpickler, alone and as the reader of
 * torch's legacy checkpoint format (five pickles, then the storages). */
#include "vgg-pickle-private.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  char error[VGG_ERROR_SIZE];
  VggPickle pk = { 0 };
  VggTensorFile *file;
  size_t pos = 0;

  /* one pickle, with persistent ids allowed */
  if (vgg_pickle_run (&pk, "fuzz", data, size, &pos, 1, error) == VGG_OK
      && (pos == 0 || pos > size))
    abort ();
  vgg_pickle_clear (&pk);

  /* a whole legacy checkpoint; tensors must lie inside the input */
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

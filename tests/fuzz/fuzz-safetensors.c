/* libFuzzer target: the safetensors reader and the model builder on
 * arbitrary bytes.  The reader maps files, so each input is written to
 * a memfd and opened through /proc/self/fd. */
#include "vgg-tensors-private.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static int fd = -1;
  static char path[64];
  char error[VGG_ERROR_SIZE];
  VggTensorFile *file = NULL;
  VggModel *model = NULL;

  if (fd < 0) {
    fd = memfd_create ("fuzz-safetensors", MFD_CLOEXEC);
    if (fd < 0)
      abort ();
    snprintf (path, sizeof path, "/proc/self/fd/%d", fd);
  }
  if (ftruncate (fd, 0) != 0
      || (size > 0 && pwrite (fd, data, size, 0) != (ssize_t) size))
    abort ();
  if (vgg_safetensors_open (path, &file, error) == VGG_OK) {
    /* every tensor the reader accepted must be readable in full */
    volatile unsigned char sink = 0;
    for (int i = 0; i < file->n_tensors; i++)
      if (file->tensors[i].nbytes > 0)
        sink ^= ((const unsigned char *) file->tensors[i]
                     .data)[file->tensors[i].nbytes - 1];
    (void) sink;
    vgg_tensor_file_free (file);
    if (vgg_model_load (path, &model, error) == VGG_OK)
      vgg_model_unref (model);
  }
  return 0;
}

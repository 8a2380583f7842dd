/* Status codes, error messages and the names of outputs. */
#include "vgg-error-private.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *
vgg_status_to_string (VggStatus status)
{
  switch (status) {
    case VGG_OK:
      return "ok";
    case VGG_ERROR_IO:
      return "I/O error";
    case VGG_ERROR_FORMAT:
      return "format error";
    case VGG_ERROR_UNSUPPORTED:
      return "unsupported model";
    case VGG_ERROR_INVALID:
      return "invalid argument";
    case VGG_ERROR_NOMEM:
      return "out of memory";
  }
  return "unknown error";
}

VggStatus
vgg_set_error (char error[VGG_ERROR_SIZE], VggStatus status, const char *path,
    const char *format, ...)
{
  va_list args;
  int n = 0;

  if (error == NULL)
    return status;
  if (path != NULL) {
    n = snprintf (error, VGG_ERROR_SIZE, "%s: ", path);
    if (n < 0 || n >= VGG_ERROR_SIZE)
      return status;
  }
  va_start (args, format);
  vsnprintf (error + n, VGG_ERROR_SIZE - n, format, args);
  va_end (args);
  return status;
}

static const char *const output_names[] = {
  [VGG_OUTPUT_POOL5] = "pool5",
  [VGG_OUTPUT_FC6] = "fc6",
  [VGG_OUTPUT_FC7] = "fc7",
  [VGG_OUTPUT_LOGITS] = "logits",
  [VGG_OUTPUT_PROBS] = "probs",
};

int
vgg_output_from_string (const char *name)
{
  if (name == NULL)
    return -1;
  for (int i = 0; i < (int) (sizeof output_names / sizeof output_names[0]); i++)
    if (strcmp (name, output_names[i]) == 0)
      return i;
  return -1;
}

const char *
vgg_output_to_string (VggOutput output)
{
  if ((int) output < 0
      || (int) output >= (int) (sizeof output_names / sizeof output_names[0]))
    return NULL;
  return output_names[output];
}

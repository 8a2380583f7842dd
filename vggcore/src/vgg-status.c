#include "vggcore/vggcore.h"

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

/* vgg-convert: any model file the engine loads (a PyTorch checkpoint or
 * safetensors, or a model name) to safetensors with metadata. */
#include "vgg-tool-common.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
usage (FILE *out)
{
  fprintf (out,
      "usage: vgg-convert IN OUT.safetensors [--labels FILE] [--name N]\n"
      "                   [--mean R,G,B] [--std R,G,B] [--half | --bf16]\n"
      "Writes the model IN (a .pth or .safetensors file, or a model name "
      "such as vgg16)\nas safetensors with the same tensor names, keeping "
      "its metadata and adding\nvgg.labels (one label per line of FILE), "
      "vgg.name and vgg.mean/vgg.std (for\ninputs in [0,1]).  --half and "
      "--bf16 store the float tensors in 16 bits.\n");
}

static int
parse_floats3 (const char *text, float v[3])
{
  char tail;

  return sscanf (text, "%f,%f,%f%c", &v[0], &v[1], &v[2], &tail) == 3 ? 0 : -1;
}

/* The whole of a text file, NUL-terminated; NULL after printing why. */
static char *
read_text (const char *path)
{
  char error[VGG_ERROR_SIZE];
  /* the element's limit for labels files */
  FILE *f = vgg_tool_fopen_regular (path, 16ll << 20, error, sizeof error);
  char *text = NULL;
  long size;

  if (f == NULL) {
    fprintf (stderr, "vgg-convert: %s\n", error);
    return NULL;
  }
  if (fseek (f, 0, SEEK_END) != 0 || (size = ftell (f)) < 0
      || fseek (f, 0, SEEK_SET) != 0
      || (text = malloc ((size_t) size + 1)) == NULL
      || fread (text, 1, (size_t) size, f) != (size_t) size) {
    fprintf (stderr, "vgg-convert: %s: cannot read the labels\n", path);
    free (text);
    text = NULL;
  } else {
    text[size] = '\0';
    if (strlen (text) != (size_t) size) {
      fprintf (stderr, "vgg-convert: %s: the labels hold a NUL byte\n", path);
      free (text);
      text = NULL;
    }
  }
  if (f)
    fclose (f);
  return text;
}

int
main (int argc, char **argv)
{
  static const struct option options[] = {
    { "labels", required_argument, NULL, 'l' },
    { "name", required_argument, NULL, 'n' },
    { "mean", required_argument, NULL, 'm' },
    { "std", required_argument, NULL, 's' },
    { "half", no_argument, NULL, 'f' },
    { "bf16", no_argument, NULL, 'b' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  VggConvertOptions opts = { NULL, NULL, NULL, NULL, VGG_CONVERT_KEEP };
  const char *labels_path = NULL;
  const VggKnownModel *known;
  char error[VGG_ERROR_SIZE];
  float mean[3], std[3];
  char *labels = NULL, *in = NULL;
  VggStatus status;
  int opt, ret = 1;

  while ((opt = getopt_long (argc, argv, "l:n:m:s:h", options, NULL)) != -1) {
    switch (opt) {
      case 'l':
        labels_path = optarg;
        break;
      case 'n':
        opts.name = optarg;
        break;
      case 'm':
      case 's':
        if (parse_floats3 (optarg, opt == 'm' ? mean : std) != 0
            || (opt == 's' && !(std[0] > 0 && std[1] > 0 && std[2] > 0))) {
          fprintf (stderr,
              "vgg-convert: --%s \"%s\" is not three comma-separated%s "
              "numbers\n",
              opt == 'm' ? "mean" : "std", optarg,
              opt == 's' ? " positive" : "");
          return 2;
        }
        if (opt == 'm')
          opts.mean = mean;
        else
          opts.std = std;
        break;
      case 'f':
      case 'b':
        if (opts.dtype != VGG_CONVERT_KEEP) {
          fprintf (stderr, "vgg-convert: give one of --half and --bf16\n");
          return 2;
        }
        opts.dtype = opt == 'f' ? VGG_CONVERT_F16 : VGG_CONVERT_BF16;
        break;
      case 'h':
        usage (stdout);
        return 0;
      default:
        usage (stderr);
        return 2;
    }
  }
  if (argc - optind != 2) {
    usage (stderr);
    return 2;
  }
  in = vgg_tool_resolve_model ("vgg-convert", argv[optind]);
  if (in == NULL)
    goto out;
  /* A known name found under another file name (NAME.pth in
   * $VGG_MODEL_PATH) still has its own normalization and name. */
  known = vgg_known_model_lookup (argv[optind]);
  if (known != NULL && strcmp (in, argv[optind]) != 0) {
    VggModel *model;
    float m[3], s[3];
    if (vgg_model_load (in, &model, error) == VGG_OK) {
      if (!vgg_model_get_normalization (model, m, s)) {
        if (opts.mean == NULL)
          opts.mean = known->mean;
        if (opts.std == NULL)
          opts.std = known->std;
      }
      if (opts.name == NULL
          && vgg_model_get_metadata (model, "vgg.name") == NULL)
        opts.name = known->name;
      vgg_model_unref (model);
    }
  }
  if (labels_path != NULL && (labels = read_text (labels_path)) == NULL)
    goto out;
  opts.labels = labels;
  status = vgg_model_convert (in, argv[optind + 1], &opts, error);
  if (status != VGG_OK) {
    fprintf (
        stderr, "vgg-convert: %s (%s)\n", error, vgg_status_to_string (status));
    goto out;
  }
  printf ("vgg-convert: wrote %s\n", argv[optind + 1]);
  ret = 0;

out:
  free (labels);
  free (in);
  return ret;
}

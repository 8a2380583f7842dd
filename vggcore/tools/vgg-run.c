/* vgg-run: one forward pass over a .npy batch, output to a .npy. */
#include "vgg-npy.h"
#include "vgg-tool-common.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK 8

static void
usage (FILE *out)
{
  fprintf (out,
      "usage: vgg-run --model FILE --input IN.npy --output OUT.npy "
      "[--layer logits|probs|fc7|fc6|pool5] [--threads N] "
      "[--precision fp32|bf16]\n"
      "Runs the model on IN.npy, float32 (N, 3, H, W) already normalized, "
      "and writes\nthe chosen layer as float32 (N, D) to OUT.npy.\n");
}

int
main (int argc, char **argv)
{
  static const struct option options[] = { { "model", required_argument, NULL,
                                               'm' },
    { "input", required_argument, NULL, 'i' },
    { "output", required_argument, NULL, 'o' },
    { "layer", required_argument, NULL, 'l' },
    { "threads", required_argument, NULL, 't' },
    { "precision", required_argument, NULL, 'p' },
    { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 } };
  const char *model_path = NULL, *in_path = NULL, *out_path = NULL;
  VggPrecision precision = VGG_PRECISION_FP32;
  const char *layer_name = "logits";
  char error[VGG_ERROR_SIZE];
  int threads = 0, layer, opt, dims, ret = 1;
  VggModel *model = NULL;
  VggContext *ctx = NULL;
  VggNpy in = { 0 };
  float *result = NULL;
  size_t image_floats;
  int64_t n, out_shape[2];

  while (
      (opt = getopt_long (argc, argv, "m:i:o:l:t:p:h", options, NULL)) != -1) {
    switch (opt) {
      case 'p':
        if (vgg_tool_parse_precision ("vgg-run", optarg, &precision))
          return 1;
        break;
      case 'm':
        model_path = optarg;
        break;
      case 'i':
        in_path = optarg;
        break;
      case 'o':
        out_path = optarg;
        break;
      case 'l':
        layer_name = optarg;
        break;
      case 't':
        threads = atoi (optarg);
        if (threads < 1) {
          fprintf (
              stderr, "vgg-run: --threads %s: not a positive number\n", optarg);
          return 1;
        }
        break;
      case 'h':
        usage (stdout);
        return 0;
      default:
        usage (stderr);
        return 1;
    }
  }
  if (!model_path || !in_path || !out_path || optind != argc) {
    usage (stderr);
    return 1;
  }
  layer = vgg_output_from_string (layer_name);
  if (layer < 0) {
    fprintf (stderr,
        "vgg-run: --layer %s: not one of logits, probs, fc7, "
        "fc6, pool5\n",
        layer_name);
    return 1;
  }
  if (vgg_npy_read (in_path, &in, error, sizeof error) != 0) {
    fprintf (stderr, "vgg-run: %s\n", error);
    return 1;
  }
  if (in.ndim != 4 || in.shape[0] < 1 || in.shape[1] != 3 || in.shape[2] < 32
      || in.shape[3] < 32) {
    fprintf (stderr,
        "vgg-run: %s: shape must be (N, 3, H, W) with N >= 1 "
        "and H, W >= 32\n",
        in_path);
    goto out;
  }
  model = vgg_tool_load_model ("vgg-run", model_path, NULL);
  if (model == NULL)
    goto out;
  dims = vgg_model_get_output_dims (model, layer);
  if (dims == 0) {
    fprintf (stderr, "vgg-run: %s has no layer %s\n", model_path, layer_name);
    goto out;
  }
  n = in.shape[0];
  if (vgg_context_new_with_precision (
          model, n < CHUNK ? (int) n : CHUNK, threads, precision, &ctx, error)
      != VGG_OK) {
    fprintf (stderr, "vgg-run: %s\n", error);
    goto out;
  }
  result = malloc ((size_t) n * dims * sizeof (float));
  if (result == NULL) {
    fprintf (stderr, "vgg-run: out of memory\n");
    goto out;
  }
  image_floats = (size_t) 3 * in.shape[2] * in.shape[3];
  for (int64_t b = 0; b < n; b += CHUNK) {
    int count = n - b < CHUNK ? (int) (n - b) : CHUNK;
    if (vgg_context_forward (ctx, in.data + b * image_floats, count,
            (int) in.shape[2], (int) in.shape[3])
        != VGG_OK) {
      fprintf (stderr, "vgg-run: %s\n", vgg_context_get_error (ctx));
      goto out;
    }
    memcpy (result + b * dims, vgg_context_get_output (ctx, layer, NULL),
        (size_t) count * dims * sizeof (float));
  }
  out_shape[0] = n;
  out_shape[1] = dims;
  if (vgg_npy_write (out_path, result, 2, out_shape, error, sizeof error)) {
    fprintf (stderr, "vgg-run: %s\n", error);
    goto out;
  }
  ret = 0;

out:
  free (result);
  vgg_context_free (ctx);
  vgg_model_unref (model);
  vgg_npy_clear (&in);
  return ret;
}

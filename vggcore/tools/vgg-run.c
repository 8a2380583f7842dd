/* vgg-run: one forward pass over a .npy batch, output to a .npy. */
#include "vgg-npy.h"
#include "vgg-tool-common.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK 8

static void
usage (FILE *out)
{
  fprintf (out,
      "usage: vgg-run --model FILE --input IN.npy --output OUT.npy "
      "[--layer NAME]\n"
      "               [--pooling avg|max|none] [--threads N] "
      "[--precision fp32|bf16]\n"
      "Runs the model on IN.npy, float32 (N, 3, H, W) already normalized, "
      "up to the\nchosen layer and no further, and writes its activation as "
      "float32 (N, D)\nto OUT.npy.\n"
      "  --layer    logits (default), probs, fc7, fc6, pool5 (the classifier's "
      "input,\n             (C, 7, 7)), reluB_C, convB_C, poolB (block B's "
      "C-th convolution\n             or max pool, from 1), features.N "
      "(module N of torchvision's\n             features); `vgg-inspect "
      "FILE` lists a model's names\n"
      "  --pooling  of a (C, H, W) map: avg or max over H x W (D = C), none "
      "(D = C*H*W\n             in torch's order); default avg for the "
      "conv stage, none for pool5;\n             ignored by vectors (fc6, "
      "fc7, logits, probs)\n");
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
    { "pooling", required_argument, NULL, 'P' },
    { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 } };
  const char *model_path = NULL, *in_path = NULL, *out_path = NULL;
  VggPrecision precision = VGG_PRECISION_FP32;
  const char *layer_name = "logits";
  char error[VGG_ERROR_SIZE];
  int threads = 0, opt, dims, ret = 1, pooling = -1;
  VggPoint point;
  VggModel *model = NULL;
  VggContext *ctx = NULL;
  VggNpy in = { 0 };
  float *result = NULL;
  size_t image_floats;
  int64_t n, out_shape[2];

  while ((opt = getopt_long (argc, argv, "m:i:o:l:t:p:P:h", options, NULL))
      != -1) {
    switch (opt) {
      case 'P':
        pooling = vgg_pooling_from_string (optarg);
        if (pooling < 0) {
          fprintf (stderr, "vgg-run: --pooling %s: not one of avg, max, none\n",
              optarg);
          return 1;
        }
        break;
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
  /* the model first: the layer's name means something only in it */
  model = vgg_tool_load_model ("vgg-run", model_path, NULL);
  if (model == NULL)
    goto out;
  if (vgg_model_find_point (model, layer_name, &point, error) != VGG_OK) {
    fprintf (stderr, "vgg-run: --layer %s: %s\n", layer_name, error);
    goto out;
  }
  if (vgg_npy_read (in_path, &in, error, sizeof error) != 0) {
    fprintf (stderr, "vgg-run: %s\n", error);
    goto out;
  }
  if (in.ndim != 4 || in.shape[0] < 1 || in.shape[1] != 3 || in.shape[2] < 32
      || in.shape[3] < 32) {
    fprintf (stderr,
        "vgg-run: %s: shape must be (N, 3, H, W) with N >= 1 "
        "and H, W >= 32\n",
        in_path);
    goto out;
  }
  /* a map of the conv stage is most often wanted as one descriptor per
   * channel; pool5 keeps its (C, 7, 7) as vgg-run always gave it */
  if (pooling < 0)
    pooling =
        point.spatial && point.output < 0 ? VGG_POOLING_AVG : VGG_POOLING_NONE;
  dims = vgg_model_get_point_dims (
      model, &point, pooling, (int) in.shape[3], (int) in.shape[2]);
  if (dims == 0) {
    fprintf (stderr,
        "vgg-run: %s: input %" PRId64 "x%" PRId64
        " (HxW) does not fit %s: too small for the pools before it, or "
        "larger than 16384\n",
        in_path, in.shape[2], in.shape[3], layer_name);
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
    const float *rows;
    if (vgg_context_forward_point (ctx, in.data + b * image_floats, count,
            (int) in.shape[2], (int) in.shape[3], &point, pooling, &rows, NULL)
        != VGG_OK) {
      fprintf (stderr, "vgg-run: %s\n", vgg_context_get_error (ctx));
      goto out;
    }
    memcpy (result + b * dims, rows, (size_t) count * dims * sizeof (float));
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

/* vgg-bench: times forward passes and prints one JSON line. */
#include "vgg-tool-common.h"
#include "vgg-tool-time.h"

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void
usage (FILE *out)
{
  fprintf (out,
      "usage: vgg-bench (--model FILE | --arch NAME) [--batch N] "
      "[--threads N] [--iters K] [--warmup K] [--size HxW] [--profile]\n"
      "       [--precision fp32|bf16] [--layout nchw|nhwc]\n"
      "Times K forward passes of N random images (after the warm-up ones) "
      "and prints\none JSON line.  --arch builds torchvision's NAME (vgg11 "
      "... vgg19_bn) with\nrandom weights.\n--profile also prints the mean "
      "time of every layer to stderr.\n--layout nhwc passes the images "
      "interleaved (vgg_context_forward_nhwc),\nwithout the transposition "
      "of the default planar input.\n");
}

static int
positive_arg (const char *name, const char *text, int *out)
{
  char *end;
  long v = strtol (text, &end, 10);

  if (*end != '\0' || v < 1 || v > 100000) {
    fprintf (stderr, "vgg-bench: --%s %s: not a positive number\n", name, text);
    return -1;
  }
  *out = (int) v;
  return 0;
}

int
main (int argc, char **argv)
{
  static const struct option options[] = { { "model", required_argument, NULL,
                                               'm' },
    { "arch", required_argument, NULL, 'a' },
    { "batch", required_argument, NULL, 'b' },
    { "threads", required_argument, NULL, 't' },
    { "iters", required_argument, NULL, 'k' },
    { "warmup", required_argument, NULL, 'w' },
    { "size", required_argument, NULL, 's' },
    { "profile", no_argument, NULL, 'p' },
    { "precision", required_argument, NULL, 'r' },
    { "layout", required_argument, NULL, 'l' },
    { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 } };
  const char *path = NULL, *arch = NULL;
  VggPrecision precision = VGG_PRECISION_FP32;
  int batch = 8, threads = 2, iters = 5, warmup = 1, width = 0, height = 0;
  int opt, ret = 1, profile = 0, nhwc = 0;
  double *layer_ms = NULL;
  char error[VGG_ERROR_SIZE];
  VggModel *model = NULL;
  VggContext *ctx = NULL;
  float *input = NULL;
  double *times = NULL, load_ms, median, gmacs;
  size_t count;
  uint64_t seed = 42;

  while ((opt = getopt_long (argc, argv, "m:a:b:t:k:w:s:pr:l:h", options, NULL))
      != -1) {
    switch (opt) {
      case 'r':
        if (vgg_tool_parse_precision ("vgg-bench", optarg, &precision))
          return 1;
        break;
      case 'l':
        if (strcmp (optarg, "nchw") != 0 && strcmp (optarg, "nhwc") != 0) {
          fprintf (stderr, "vgg-bench: --layout %s: expected nchw or nhwc\n",
              optarg);
          return 1;
        }
        nhwc = optarg[2] == 'w';
        break;
      case 'm':
        path = optarg;
        break;
      case 'a':
        arch = optarg;
        break;
      case 'b':
        if (positive_arg ("batch", optarg, &batch))
          return 1;
        break;
      case 't':
        if (positive_arg ("threads", optarg, &threads))
          return 1;
        break;
      case 'k':
        if (positive_arg ("iters", optarg, &iters))
          return 1;
        break;
      case 'w':
        warmup = atoi (optarg);
        if (warmup < 0) {
          fprintf (stderr, "vgg-bench: --warmup %s: negative\n", optarg);
          return 1;
        }
        break;
      case 's':
        if (vgg_tool_parse_size (optarg, &height, &width)) {
          fprintf (stderr,
              "vgg-bench: --size %s: expected HxW, each 32 to "
              "16384\n",
              optarg);
          return 1;
        }
        break;
      case 'p':
        profile = 1;
        break;
      case 'h':
        usage (stdout);
        return 0;
      default:
        usage (stderr);
        return 1;
    }
  }
  if (optind != argc) {
    usage (stderr);
    return 1;
  }
  load_ms = vgg_tool_now_ms ();
  model = vgg_tool_load_model ("vgg-bench", path, arch);
  if (model == NULL)
    return 1;
  load_ms = vgg_tool_now_ms () - load_ms;
  if (width == 0)
    vgg_model_get_input_size (model, &width, &height);
  if (vgg_context_new_with_precision (
          model, batch, threads, precision, &ctx, error)
      != VGG_OK) {
    fprintf (stderr, "vgg-bench: %s\n", error);
    goto out;
  }
  count = (size_t) batch * 3 * width * height;
  input = malloc (count * sizeof (float));
  times = calloc (iters, sizeof (double));
  layer_ms = calloc (vgg_model_get_n_layers (model), sizeof (double));
  vgg_context_set_profiling (ctx, profile);
  if (input == NULL || times == NULL || layer_ms == NULL) {
    fprintf (stderr, "vgg-bench: out of memory\n");
    goto out;
  }
  for (size_t i = 0; i < count; i++) {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    input[i] = (float) ((seed >> 40) / (double) (1 << 24) * 4.0 - 2.0);
  }
  for (int i = 0; i < warmup + iters; i++) {
    double t0 = vgg_tool_now_ms ();
    VggStatus status = nhwc
        ? vgg_context_forward_nhwc (ctx, input, batch, height, width)
        : vgg_context_forward (ctx, input, batch, height, width);
    if (status != VGG_OK) {
      fprintf (stderr, "vgg-bench: %s\n", vgg_context_get_error (ctx));
      goto out;
    }
    if (i >= warmup) {
      times[i - warmup] = vgg_tool_now_ms () - t0;
      for (int l = 0; l < vgg_model_get_n_layers (model); l++)
        layer_ms[l] += vgg_context_get_layer_ms (ctx, l) / iters;
    }
  }
  if (profile) {
    int h = height, w = width;
    fprintf (stderr, "%-16s %-8s %10s %12s %9s\n", "layer", "kind", "size",
        "ms/batch", "GFLOP/s");
    for (int l = 0; l < vgg_model_get_n_layers (model); l++) {
      const VggLayerInfo *info = vgg_model_get_layer (model, l);
      double macs = 0;
      char size[32];
      snprintf (size, sizeof size, "%dx%d", h, w);
      if (info->kind == VGG_LAYER_CONV3X3)
        macs = 9.0 * h * w * info->in_channels * info->out_channels;
      else if (info->kind == VGG_LAYER_LINEAR)
        macs = (double) info->in_channels * info->out_channels;
      else if (info->kind == VGG_LAYER_MAXPOOL) {
        h /= 2;
        w /= 2;
      }
      fprintf (stderr, "%-16s %-8s %10s %12.2f %9.1f\n",
          info->name[0] ? info->name : "-",
          info->kind == VGG_LAYER_CONV3X3       ? "conv"
              : info->kind == VGG_LAYER_MAXPOOL ? "maxpool"
              : info->kind == VGG_LAYER_AVGPOOL ? "avgpool"
                                                : "linear",
          size, layer_ms[l],
          layer_ms[l] > 0 ? 2 * macs * batch / layer_ms[l] / 1e6 : 0.0);
    }
  }
  vgg_tool_sort_doubles (times, iters);
  median = iters % 2 ? times[iters / 2]
                     : (times[iters / 2 - 1] + times[iters / 2]) / 2;
  gmacs = vgg_model_get_macs (model, width, height) / 1e9;
  printf ("{\"engine\": \"vggcore\", \"arch\": \"%s\", \"model\": \"%s\", "
          "\"batch\": %d, \"threads\": %d, \"height\": %d, \"width\": %d, "
          "\"iters\": %d, \"ms_per_batch_median\": %.2f, "
          "\"ms_per_batch_min\": %.2f, \"img_per_s\": %.3f, "
          "\"gflops\": %.1f, \"gmacs_per_image\": %.3f, \"load_ms\": %.1f, "
          "\"peak_rss_mb\": %.1f, \"precision\": \"%s\", \"layout\": \"%s\", "
          "\"kernels\": \"%s\", "
          "\"cpu\": \"%s\"}\n",
      vgg_model_get_arch (model), vgg_model_get_name (model), batch, threads,
      height, width, iters, median, times[0], batch * 1000.0 / median,
      2 * gmacs * batch / (median / 1000.0), gmacs, load_ms,
      vgg_tool_peak_rss_mb (),
      vgg_precision_to_string (vgg_context_get_precision (ctx)),
      nhwc ? "nhwc" : "nchw", vgg_isa_to_string (vgg_isa_get ()),
      vgg_cpu_get_name ());
  ret = 0;

out:
  free (layer_ms);
  free (times);
  free (input);
  vgg_context_free (ctx);
  vgg_model_unref (model);
  return ret;
}

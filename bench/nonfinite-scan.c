/* What the NaN/infinity scan of vgg_model_load costs: opens a model file,
 * times vgg_tensor_find_nonfinite over every tensor (the scan alone, each
 * page read once from the page cache), then a whole vgg_model_load (scan
 * included), best of N runs each:
 *
 *   build/bench/nonfinite-scan vgg16.safetensors 5
 */
#include "vgg-tensors-private.h"
#include "vgg-tool-time.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int
main (int argc, char **argv)
{
  char error[VGG_ERROR_SIZE];
  int runs = argc > 2 ? atoi (argv[2]) : 5;
  double best_scan = 1e30, best_load = 1e30;
  uint64_t bytes = 0;

  if (argc < 2) {
    fprintf (stderr, "usage: %s MODEL [RUNS]\n", argv[0]);
    return 2;
  }
  for (int r = 0; r < runs; r++) {
    VggTensorFile *file;
    VggModel *model;
    double t0;
    int64_t bad = -1;

    if (vgg_tensor_file_open (argv[1], &file, error) != VGG_OK) {
      fprintf (stderr, "%s\n", error);
      return 1;
    }
    bytes = 0;
    t0 = vgg_tool_now_ms ();
    for (int i = 0; i < file->n_tensors && bad < 0; i++) {
      bad = vgg_tensor_find_nonfinite (&file->tensors[i]);
      bytes += file->tensors[i].nbytes;
    }
    if (vgg_tool_now_ms () - t0 < best_scan)
      best_scan = vgg_tool_now_ms () - t0;
    vgg_tensor_file_free (file);

    t0 = vgg_tool_now_ms ();
    if (vgg_model_load (argv[1], &model, error) != VGG_OK) {
      fprintf (stderr, "%s\n", error);
      return 1;
    }
    if (vgg_tool_now_ms () - t0 < best_load)
      best_load = vgg_tool_now_ms () - t0;
    vgg_model_unref (model);
  }
  printf ("{\"file\": \"%s\", \"tensor_mb\": %.1f, \"scan_ms\": %.1f, "
          "\"scan_gb_per_s\": %.2f, \"load_ms\": %.1f, \"scan_share\": %.3f}\n",
      argv[1], bytes / 1e6, best_scan, bytes / best_scan / 1e6, best_load,
      best_scan / best_load);
  return 0;
}

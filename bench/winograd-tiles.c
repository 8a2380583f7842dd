/* Which Winograd tile is faster for each 3x3 convolution of a 224x224
 * VGG: times vgg_conv3x3_winograd with F(4x4) and F(6x6) on every
 * Winograd layer shape of VGG16 (the others repeat them), the two tiles
 * alternating within each round, at the batch each layer runs on in a
 * forward pass (one image for the head of a batch, vgg-context.c), and
 * prints per shape the best and the median milliseconds of each tile and
 * the ratio of the bests.  The kernels are the process's level (VGG_ISA
 * caps it).  vgg_winograd_tile (vgg-winograd.c) is chosen from this.
 *
 *   build/bench/winograd-tiles [ROUNDS [THREADS [BATCH]]]   (15 2 8)
 */
#include "vgg-layers-private.h"
#include "vgg-tool-time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const struct
{
  int c, o, hw;
} shapes[] = {
  { 64, 64, 224 },
  { 64, 128, 112 },
  { 128, 128, 112 },
  { 128, 256, 56 },
  { 256, 256, 56 },
  { 256, 512, 28 },
  { 512, 512, 28 },
  { 512, 512, 14 },
};

#define N_SHAPES (int) (sizeof shapes / sizeof shapes[0])
#define MAX_ROUNDS 100

int
main (int argc, char **argv)
{
  int rounds = 15, threads = 2, batch = 8;
  const VggKernels *k = vgg_kernels_get ();
  VggPool *pool;
  float *scratch;

  if (argc > 1)
    rounds = atoi (argv[1]);
  if (argc > 2)
    threads = atoi (argv[2]);
  if (argc > 3)
    batch = atoi (argv[3]);
  if (argc > 4 || rounds < 1 || rounds > MAX_ROUNDS || threads < 1
      || threads > 256 || batch < 1 || batch > 64) {
    fprintf (stderr, "usage: winograd-tiles [ROUNDS [THREADS [BATCH]]]\n");
    return 2;
  }
  pool = vgg_pool_new (threads);
  scratch = malloc (vgg_winograd_scratch_floats (threads) * sizeof (float));
  printf ("kernels %s, %s; %d threads, batch %d, %d rounds, milliseconds\n",
      vgg_isa_to_string (k->isa), vgg_cpu_get_name (), threads, batch, rounds);
  printf ("%-16s %5s  %17s  %17s  %s\n", "c -> o", "map", "F(4x4) best/med",
      "F(6x6) best/med", "F6/F4");
  for (int s = 0; s < N_SHAPES; s++) {
    int c = shapes[s].c, o = shapes[s].o, hw = shapes[s].hw;
    /* the head of a batch runs one image at a time (HEAD_TILES_PER_THREAD
     * in vgg-context.c: 64 F(4x4) tiles per thread) */
    int n = (hw + 3) / 4 * ((hw + 3) / 4) >= 64 * threads ? 1 : batch;
    size_t in_count = (size_t) n * hw * hw * c;
    float *in = malloc (in_count * sizeof (float));
    float *out = malloc ((size_t) n * hw * hw * o * sizeof (float));
    float *packed = malloc ((size_t) 9 * c * o * sizeof (float));
    float *bias = calloc (o, sizeof (float));
    float *zeros = calloc (c, sizeof (float));
    float *u[2];
    double ms[2][MAX_ROUNDS];
    char what[32];

    for (size_t i = 0; i < in_count; i++)
      in[i] = (float) ((i * 2654435761u) % 1000) / 1000.0f - 0.5f;
    for (size_t i = 0; i < (size_t) 9 * c * o; i++)
      packed[i] = (float) ((i * 40503u) % 1000) / 1000.0f - 0.5f;
    for (int t = 0; t < 2; t++) {
      int r = 4 + 2 * t;
      u[t] = malloc (vgg_winograd_packed_floats (k, c, o, r) * sizeof (float));
      vgg_winograd_pack (k, packed, c, o, r, u[t]);
      /* a first run outside the timing: pages and caches */
      vgg_conv3x3_winograd (k, pool, scratch, zeros, in, u[t], r, bias, out, n,
          hw, hw, c, o, VGG_OUT_RELU);
    }
    for (int round = 0; round < rounds; round++)
      for (int t = 0; t < 2; t++) {
        double t0 = vgg_tool_now_ms ();
        vgg_conv3x3_winograd (k, pool, scratch, zeros, in, u[t], 4 + 2 * t,
            bias, out, n, hw, hw, c, o, VGG_OUT_RELU);
        ms[t][round] = vgg_tool_now_ms () - t0;
      }
    for (int t = 0; t < 2; t++)
      vgg_tool_sort_doubles (ms[t], rounds);
    snprintf (what, sizeof what, "%d -> %d x%d", c, o, n);
    printf ("%-16s %5d  %8.2f %8.2f  %8.2f %8.2f  %.3f\n", what, hw, ms[0][0],
        ms[0][rounds / 2], ms[1][0], ms[1][rounds / 2], ms[1][0] / ms[0][0]);
    fflush (stdout);
    free (in), free (out), free (packed), free (bias), free (zeros);
    free (u[0]), free (u[1]);
  }
  free (scratch);
  vgg_pool_free (pool);
  return 0;
}

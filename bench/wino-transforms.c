/* wino-transforms: the Winograd input and output transforms alone, at the
 * distance between the matrices of two tile positions that the engine
 * uses (vgg_winograd_xi_stride) and at the plain one (tiles x channels
 * floats, a multiple of 2 or 4 KiB for the blocks of VGG16's layers).
 * For each Winograd layer shape of a 224x224 VGG16, with the tile and the
 * block of tiles the engine gives it at batch BATCH on 2 threads, one
 * thread runs the transforms of BATCH images block by block, the two
 * distances alternating over ROUNDS rounds; prints the best and the median
 * milliseconds of each and the ratio of the bests.  The kernels are the
 * process's level (VGG_ISA caps it).
 *
 *   build/bench/wino-transforms [ROUNDS [BATCH]]   (15 1)
 */
#include "vgg-layers-private.h"
#include "vgg-tool-time.h"

#include <stdio.h>
#include <stdlib.h>

static const struct
{
  int c, hw;
} shapes[] = {
  { 64, 224 },
  { 128, 112 },
  { 256, 56 },
  { 512, 28 },
  { 512, 14 },
};

#define N_SHAPES (int) (sizeof shapes / sizeof shapes[0])
#define MAX_ROUNDS 100

int
main (int argc, char **argv)
{
  int rounds = 15, batch = 1;
  const VggKernels *k = vgg_kernels_get ();

  if (argc > 1)
    rounds = atoi (argv[1]);
  if (argc > 2)
    batch = atoi (argv[2]);
  if (argc > 3 || rounds < 1 || rounds > MAX_ROUNDS || batch < 1
      || batch > 64) {
    fprintf (stderr, "usage: wino-transforms [ROUNDS [BATCH]]\n");
    return 2;
  }
  printf ("kernels %s, %s; 1 thread, batch %d, %d rounds, milliseconds of "
          "input + output transforms\n",
      vgg_isa_to_string (k->isa), vgg_cpu_get_name (), batch, rounds);
  printf ("%-14s %5s %5s  %17s  %17s  %s\n", "shape", "tile", "block",
      "plain best/med", "skewed best/med", "skewed/plain");
  for (int s = 0; s < N_SHAPES; s++) {
    int c = shapes[s].c, hw = shapes[s].hw, r = vgg_winograd_tile (hw, hw);
    int xi = VGG_WINO_XI (r), side = (hw + r - 1) / r;
    int tiles = batch * side * side;
    /* the engine's block on 2 threads */
    int block = vgg_winograd_block_tiles (k, tiles, c, c, r, 2);
    size_t strides[2] = { (size_t) block * c,
      vgg_winograd_xi_stride ((size_t) block * c) };
    size_t in_count = (size_t) batch * hw * hw * c;
    float *in = malloc (in_count * sizeof (float));
    float *out = malloc (in_count * sizeof (float));
    float *zeros = calloc (c, sizeof (float)),
          *bias = calloc (c, sizeof (float));
    float *v = malloc (xi * strides[1] * sizeof (float));
    VggWinoGeom g = { .in = in,
      .zeros = zeros,
      .out = out,
      .bias = bias,
      .h = hw,
      .w = hw,
      .c = c,
      .o = c,
      .flags = VGG_OUT_RELU,
      .r = r,
      .tiles_y = side,
      .tiles_x = side };
    double ms[2][MAX_ROUNDS];
    char what[32];

    for (size_t i = 0; i < in_count; i++)
      in[i] = (float) ((i * 2654435761u) % 1000) / 1000.0f - 0.5f;
    for (int round = -1; round < rounds; round++)
      for (int d = 0; d < 2; d++) {
        double t0 = vgg_tool_now_ms ();
        for (int t = 0; t < tiles; t += block) {
          int count = tiles - t < block ? tiles - t : block;
          k->wino_input (&g, v, strides[d], t, count);
          /* V read as M, as wide (o = c) */
          k->wino_output (&g, v, strides[d], c, t, count);
        }
        if (round >= 0)
          ms[d][round] = vgg_tool_now_ms () - t0;
      }
    for (int d = 0; d < 2; d++)
      vgg_tool_sort_doubles (ms[d], rounds);
    snprintf (what, sizeof what, "%dx%dx%d", hw, hw, c);
    printf ("%-14s  F(%d) %5d  %8.3f %8.3f  %8.3f %8.3f  %.3f\n", what, r,
        block, ms[0][0], ms[0][rounds / 2], ms[1][0], ms[1][rounds / 2],
        ms[1][0] / ms[0][0]);
    fflush (stdout);
    free (in), free (out), free (zeros), free (bias), free (v);
  }
  return 0;
}

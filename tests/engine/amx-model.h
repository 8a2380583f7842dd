/* A model in C of the AMX tile instructions the AMX kernel uses, with
 * their state per thread as on the CPU: the kernel's own code
 * (vgg-kernels-amx-body.h: tile loads, padding, epilogue) compiled on it as
 * conv_amx_emulated runs on any CPU, denormals treated as the tiles treat
 * them.  Misuse the CPU would fault on (a bad configuration, a tile used
 * unconfigured, operands or shapes tdpbf16ps refuses) is counted in
 * emu_faults; emu_calls counts the kernel's calls.  For the engine's tests
 * only. */
#ifndef VGG_TEST_AMX_MODEL_H
#define VGG_TEST_AMX_MODEL_H

#include "vgg-kernels-private.h"

#include <float.h>
#include <math.h>
#include <stdatomic.h>
#include <string.h>

static _Atomic int emu_faults, emu_calls;
static __thread struct
{
  int configured;
  unsigned rows[8], colsb[8];
  unsigned char data[8][1024];
} emu;

/* ldtilecfg: #GP for a palette other than 0 or 1, reserved bytes set,
 * tiles 8..15 configured or a tile past 16 rows of 64 bytes; palette 0
 * leaves the tiles unconfigured */
static void
emu_config (const AmxTileConfig *cfg)
{
  int bad = cfg->palette > 1 || cfg->start_row != 0;

  emu_calls++;
  for (int i = 0; i < 14; i++)
    bad |= cfg->reserved[i] != 0;
  for (int t = 8; t < 16; t++)
    bad |= cfg->rows[t] != 0 || cfg->colsb[t] != 0;
  for (int t = 0; t < 8; t++) {
    emu.rows[t] = cfg->rows[t];
    emu.colsb[t] = cfg->colsb[t];
    bad |= emu.rows[t] > 16 || emu.colsb[t] > 64;
  }
  if (bad)
    emu_faults++;
  emu.configured = !bad && cfg->palette == 1;
}

static int
emu_ok (int t)
{
  if (!emu.configured || emu.rows[t] == 0) {
    emu_faults++;
    return 0;
  }
  return 1;
}

static void
emu_load (int t, const void *p, long stride)
{
  if (!emu_ok (t))
    return;
  memset (emu.data[t], 0, sizeof emu.data[t]);
  for (unsigned r = 0; r < emu.rows[t]; r++)
    memcpy (emu.data[t] + r * 64, (const char *) p + r * stride, emu.colsb[t]);
}

static void
emu_store (int t, void *p, long stride)
{
  if (!emu_ok (t))
    return;
  for (unsigned r = 0; r < emu.rows[t]; r++)
    memcpy ((char *) p + r * stride, emu.data[t] + r * 64, emu.colsb[t]);
}

static void
emu_zero (int t)
{
  if (emu_ok (t))
    memset (emu.data[t], 0, sizeof emu.data[t]);
}

/* a bf16 input as tdpbf16ps reads it: denormals as zero */
static float
emu_in (vgg_bf16 x)
{
  return (x & 0x7f80) == 0 ? 0.0f : vgg_bf16_to_float (x);
}

/* an fp32 sum as tdpbf16ps leaves it: denormals flushed to zero */
static float
emu_out (float x)
{
  return fabsf (x) < FLT_MIN ? 0.0f * x : x;
}

/* tdpbf16ps as Intel's pseudocode has it: for each pair k, the two
 * products added to the fp32 sum one after the other.  #UD when two
 * operands are one tile, or for shapes it refuses. */
static void
emu_dpbf16 (int tc, int ta, int tb)
{
  float *c = (float *) emu.data[tc];
  const vgg_bf16 *a = (const vgg_bf16 *) emu.data[ta];
  const vgg_bf16 *b = (const vgg_bf16 *) emu.data[tb];

  if (!emu_ok (tc) || !emu_ok (ta) || !emu_ok (tb))
    return;
  if (tc == ta || tc == tb || ta == tb || emu.colsb[ta] % 4 != 0
      || emu.colsb[tc] % 4 != 0 || emu.rows[tb] != emu.colsb[ta] / 4
      || emu.rows[tc] != emu.rows[ta] || emu.colsb[tc] != emu.colsb[tb]) {
    emu_faults++;
    return;
  }
  for (unsigned m = 0; m < emu.rows[tc]; m++)
    for (unsigned k = 0; k < emu.colsb[ta] / 4; k++)
      for (unsigned n = 0; n < emu.colsb[tc] / 4; n++) {
        float *acc = &c[m * 16 + n];
        *acc = emu_out (
            *acc + emu_in (a[m * 32 + 2 * k]) * emu_in (b[k * 32 + 2 * n]));
        *acc = emu_out (*acc
            + emu_in (a[m * 32 + 2 * k + 1]) * emu_in (b[k * 32 + 2 * n + 1]));
      }
}

#define TILE_CONFIG(cfg) emu_config (cfg)
#define TILE_ZERO(t) emu_zero (t)
#define TILE_LOAD(t, p, s) emu_load (t, p, s)
#define TILE_STORE(t, p, s) emu_store (t, p, s)
#define TILE_DPBF16(c, a, b) emu_dpbf16 (c, a, b)
#define TILE_RELEASE() (emu.configured = 0)
#define AMX_CONV conv_amx_emulated
#include "vgg-kernels-amx-body.h"

#endif

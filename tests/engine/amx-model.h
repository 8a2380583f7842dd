/* A model in C of the AMX tile instructions the AMX kernel uses, with
 * their state per thread as on the CPU: the kernel's own code
 * (vgg-kernels-amx-body.h: tile loads, padding, epilogue) compiled on it as
 * conv_amx_emulated runs on any CPU.  Misuse the CPU would fault on (a
 * tile used unconfigured, a row or column past the configuration, shapes
 * tdpbf16ps refuses) is counted in emu_faults; emu_calls counts the
 * kernel's calls.  For the engine's tests only. */
#ifndef VGG_TEST_AMX_MODEL_H
#define VGG_TEST_AMX_MODEL_H

#include "vgg-kernels-private.h"

#include <stdatomic.h>
#include <string.h>

static _Atomic int emu_faults, emu_calls;
static __thread struct
{
  int configured;
  unsigned rows[8], colsb[8];
  unsigned char data[8][1024];
} emu;

static void
emu_config (const AmxTileConfig *cfg)
{
  emu_calls++;
  emu.configured = cfg->palette == 1;
  for (int t = 0; t < 8; t++) {
    emu.rows[t] = cfg->rows[t];
    emu.colsb[t] = cfg->colsb[t];
    if (emu.rows[t] > 16 || emu.colsb[t] > 64)
      emu_faults++;
  }
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

/* tdpbf16ps as Intel's pseudocode has it: for each pair k, the two
 * products added to the fp32 sum one after the other */
static void
emu_dpbf16 (int tc, int ta, int tb)
{
  float *c = (float *) emu.data[tc];
  const vgg_bf16 *a = (const vgg_bf16 *) emu.data[ta];
  const vgg_bf16 *b = (const vgg_bf16 *) emu.data[tb];

  if (!emu_ok (tc) || !emu_ok (ta) || !emu_ok (tb))
    return;
  if (emu.rows[tb] != emu.colsb[ta] / 4 || emu.rows[tc] != emu.rows[ta]
      || emu.colsb[tc] != emu.colsb[tb]) {
    emu_faults++;
    return;
  }
  for (unsigned m = 0; m < emu.rows[tc]; m++)
    for (unsigned k = 0; k < emu.colsb[ta] / 4; k++)
      for (unsigned n = 0; n < emu.colsb[tc] / 4; n++) {
        float *acc = &c[m * 16 + n];
        *acc += vgg_bf16_to_float (a[m * 32 + 2 * k])
            * vgg_bf16_to_float (b[k * 32 + 2 * n]);
        *acc += vgg_bf16_to_float (a[m * 32 + 2 * k + 1])
            * vgg_bf16_to_float (b[k * 32 + 2 * n + 1]);
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

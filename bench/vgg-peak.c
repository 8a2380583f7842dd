/* vgg-peak: the arithmetic peaks of one core of this CPU, for the
 * benchmarks' "effective GFLOP/s beside the peaks": fp32 FMA (AVX2 and
 * AVX-512), bf16 vdpbf16ps (AVX512-BF16) and AMX-BF16 tiles, each where the
 * kernel level of this process (vggcore's detection, VGG_ISA) has it.
 * Prints one JSON line; a level the CPU lacks is null. */
#include "vgg-kernels-private.h"
#include "vgg-tool-time.h"

#include <immintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define ITERS 20000000L

static double
now_s (void)
{
  return vgg_tool_now_ms () / 1e3;
}

/* 12 independent chains hide the FMA latency (4 cycles, 2 units) */
#define CHAINS 12

/* fp32 FMA peak on VEC (LANES floats): acc = acc * a + b on 12 chains */
#define FMA_PEAK(NAME, TARGET, VEC, LANES, SET1, FMADD, ADD, CONSTRAINT)       \
  __attribute__ ((target (TARGET))) static double NAME (void)                  \
  {                                                                            \
    VEC acc[CHAINS], a = SET1 (0.999f), b = SET1 (1e-6f);                      \
    double t;                                                                  \
    for (int i = 0; i < CHAINS; i++)                                           \
      acc[i] = SET1 ((float) i);                                               \
    t = now_s ();                                                              \
    for (long n = 0; n < ITERS; n++)                                           \
      for (int i = 0; i < CHAINS; i++)                                         \
        acc[i] = FMADD (acc[i], a, b);                                         \
    t = now_s () - t;                                                          \
    for (int i = 1; i < CHAINS; i++)                                           \
      acc[0] = ADD (acc[0], acc[i]);                                           \
    __asm__ volatile("" ::CONSTRAINT (acc[0]));                                \
    return ITERS * CHAINS * (double) (LANES) *2 / t / 1e9;                     \
  }

FMA_PEAK (fma256_gflops, "avx2,fma", __m256, 8, _mm256_set1_ps, _mm256_fmadd_ps,
    _mm256_add_ps, "x")
FMA_PEAK (fma512_gflops, "avx512f", __m512, 16, _mm512_set1_ps, _mm512_fmadd_ps,
    _mm512_add_ps, "v")

/* vdpbf16ps: 16 lanes x 2 products x 2 flops per instruction */
__attribute__ ((target ("avx512f,avx512bf16"))) static double
dpbf16_gflops (void)
{
  __m512 acc[CHAINS];
  __m512bh a = (__m512bh) _mm512_set1_epi16 (0x3f80);
  __m512bh b = (__m512bh) _mm512_set1_epi16 (0x3400);
  double t;
  for (int i = 0; i < CHAINS; i++)
    acc[i] = _mm512_set1_ps ((float) i);
  t = now_s ();
  for (long n = 0; n < ITERS; n++)
    for (int i = 0; i < CHAINS; i++)
      acc[i] = _mm512_dpbf16_ps (acc[i], a, b);
  t = now_s () - t;
  for (int i = 1; i < CHAINS; i++)
    acc[0] = _mm512_add_ps (acc[0], acc[i]);
  __asm__ volatile("" ::"v"(acc[0]));
  return ITERS * CHAINS * 16.0 * 2 * 2 / t / 1e9;
}

/* AMX: tdpbf16ps on 16x32 bf16 tiles into a 16x16 fp32 tile,
 * 16 * 16 * 32 * 2 flops each; four accumulators from two A and two B
 * tiles.  Runs once vgg_amx_permitted () has Linux's permission. */
__attribute__ ((target ("amx-tile,amx-bf16"))) static double
amx_gflops (void)
{
  static uint16_t buf[16 * 32] __attribute__ ((aligned (64)));
  AmxTileConfig cfg;
  long iters = ITERS / 8;
  double t;

  memset (&cfg, 0, sizeof cfg);
  cfg.palette = 1;
  for (int i = 0; i < 8; i++) {
    cfg.colsb[i] = 64;
    cfg.rows[i] = 16;
  }
  for (int i = 0; i < 16 * 32; i++)
    buf[i] = 0x3c00;
  vgg_amx_load_config (&cfg);
  _tile_zero (0);
  _tile_zero (1);
  _tile_zero (2);
  _tile_zero (3);
  _tile_loadd (4, buf, 64);
  _tile_loadd (5, buf, 64);
  _tile_loadd (6, buf, 64);
  _tile_loadd (7, buf, 64);
  t = now_s ();
  for (long n = 0; n < iters; n++) {
    _tile_dpbf16ps (0, 4, 6);
    _tile_dpbf16ps (1, 4, 7);
    _tile_dpbf16ps (2, 5, 6);
    _tile_dpbf16ps (3, 5, 7);
  }
  t = now_s () - t;
  _tile_release ();
  return iters * 4.0 * 16 * 16 * 32 * 2 / t / 1e9;
}

int
main (void)
{
  VggIsa isa = vgg_isa_get ();
  char fma256[32] = "null", fma512[32] = "null", dp[32] = "null",
       amx[32] = "null";

  if (isa >= VGG_ISA_AVX2)
    snprintf (fma256, sizeof fma256, "%.1f", fma256_gflops ());
  if (isa >= VGG_ISA_AVX512)
    snprintf (fma512, sizeof fma512, "%.1f", fma512_gflops ());
  if (isa >= VGG_ISA_AVX512BF16)
    snprintf (dp, sizeof dp, "%.1f", dpbf16_gflops ());
  if (isa >= VGG_ISA_AMX && vgg_amx_permitted ())
    snprintf (amx, sizeof amx, "%.1f", amx_gflops ());
  printf ("{\"cpu\": \"%s\", \"kernels\": \"%s\", \"per_core_gflops\": "
          "{\"fp32_fma_avx2\": %s, \"fp32_fma_avx512\": %s, "
          "\"bf16_vdpbf16ps\": %s, \"amx_bf16\": %s}}\n",
      vgg_cpu_get_name (), vgg_isa_to_string (isa), fma256, fma512, dp, amx);
  return 0;
}

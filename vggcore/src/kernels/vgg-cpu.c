/* The instruction-set level of this process: what cpuid and the operating
 * system allow, capped by the environment variable VGG_ISA, decided once.
 *
 * Each level needs the one below it plus:
 *   avx2        AVX2 and FMA (CPUID.1:ECX.FMA[12], CPUID.7.0:EBX.AVX2[5]),
 *               YMM state enabled by the OS (XCR0 bits 1 and 2)
 *   avx512      AVX-512 F, DQ, BW, VL (CPUID.7.0:EBX bits 16, 17, 30, 31),
 *               opmask and ZMM state enabled (XCR0 bits 5, 6, 7)
 *   avx512bf16  AVX512_BF16 (CPUID.7.1:EAX[5]): vdpbf16ps, vcvtne2ps2bf16
 *   amx         AMX-TILE and AMX-BF16 (CPUID.7.0:EDX bits 24 and 22), tile
 *               state enabled (XCR0 bits 17 and 18).
 *
 * Linux lets a process use the tiles only once it has asked
 * (arch_prctl ARCH_REQ_XCOMP_PERM for XFEATURE_XTILEDATA), and from then on
 * refuses it signal stacks too small for the tiles' state.  So the engine
 * asks only when a model first packs convolutions for the tiles
 * (vgg_amx_permitted), not for a process that never runs them: one capped
 * by VGG_ISA, or in fp32 only.  Refused, those convolutions run as at
 * avx512bf16. */
#include "vgg-kernels-private.h"

#include <cpuid.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define ARCH_REQ_XCOMP_PERM 0x1023
#define XFEATURE_XTILEDATA 18

static const char *const isa_names[] = {
  [VGG_ISA_GENERIC] = "generic",
  [VGG_ISA_AVX2] = "avx2",
  [VGG_ISA_AVX512] = "avx512",
  [VGG_ISA_AVX512BF16] = "avx512bf16",
  [VGG_ISA_AMX] = "amx",
};

static pthread_once_t once = PTHREAD_ONCE_INIT;
static VggIsa cpu_level, process_level;
static char cpu_name[64] = "unknown";

static unsigned long long
xgetbv0 (void)
{
  unsigned int lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return ((unsigned long long) hi << 32) | lo;
}

static VggIsa
detect (void)
{
  unsigned int a, b, c, d, max_leaf, b7 = 0, d7 = 0, a71 = 0;
  unsigned long long xcr0;

  if (!__get_cpuid (0, &max_leaf, &b, &c, &d))
    return VGG_ISA_GENERIC;
  __get_cpuid (1, &a, &b, &c, &d);
  if (!(c & (1u << 27))) /* OSXSAVE: xgetbv is usable */
    return VGG_ISA_GENERIC;
  xcr0 = xgetbv0 ();
  if (max_leaf >= 7) {
    __cpuid_count (7, 0, a, b7, c, d7);
    __cpuid_count (7, 1, a71, b, c, d);
  }
  __get_cpuid (1, &a, &b, &c, &d);
  if (!((c & (1u << 12)) && (b7 & (1u << 5)) && (xcr0 & 0x6) == 0x6))
    return VGG_ISA_GENERIC;
  if (!((b7 & (1u << 16)) && (b7 & (1u << 17)) && (b7 & (1u << 30))
          && (b7 & (1u << 31)) && (xcr0 & 0xe0) == 0xe0))
    return VGG_ISA_AVX2;
  if (!(a71 & (1u << 5)))
    return VGG_ISA_AVX512;
  if (!((d7 & (1u << 24)) && (d7 & (1u << 22))
          && (xcr0 & (3ull << 17)) == (3ull << 17)))
    return VGG_ISA_AVX512BF16;
  return VGG_ISA_AMX;
}

static void
read_cpu_name (void)
{
  unsigned int regs[12];

  if (__get_cpuid_max (0x80000000, NULL) < 0x80000004)
    return;
  for (unsigned int i = 0; i < 3; i++)
    __get_cpuid (0x80000002 + i, &regs[4 * i], &regs[4 * i + 1],
        &regs[4 * i + 2], &regs[4 * i + 3]);
  memcpy (cpu_name, regs, 48);
  cpu_name[48] = '\0';
  /* trim the padding some vendors put around the name */
  {
    char *s = cpu_name;
    size_t len;
    while (*s == ' ')
      s++;
    memmove (cpu_name, s, strlen (s) + 1);
    len = strlen (cpu_name);
    while (len > 0 && cpu_name[len - 1] == ' ')
      cpu_name[--len] = '\0';
  }
}

static void
init (void)
{
  const char *cap = getenv ("VGG_ISA");

  read_cpu_name ();
  cpu_level = detect ();
  process_level = cpu_level;
  if (cap != NULL && cap[0] != '\0') {
    int known = 0;
    for (int i = 0; i <= VGG_ISA_AMX; i++)
      if (strcmp (cap, isa_names[i]) == 0) {
        known = 1;
        if ((VggIsa) i < process_level)
          process_level = (VggIsa) i;
      }
    if (!known)
      fprintf (stderr,
          "vggcore: VGG_ISA=%s is not one of generic, avx2, avx512, "
          "avx512bf16, amx; ignored\n",
          cap);
  }
}

static pthread_once_t amx_once = PTHREAD_ONCE_INIT;
static int amx_permitted;

static void
request_amx (void)
{
  if (vgg_isa_get () != VGG_ISA_AMX)
    return;
  amx_permitted =
      syscall (SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0;
  /* said once, or a benchmark at the amx level would time the fallback
   * without knowing */
  if (!amx_permitted)
    fprintf (stderr,
        "vggcore: Linux refused the AMX tiles (arch_prctl "
        "ARCH_REQ_XCOMP_PERM: %s); bf16 convolutions run as at "
        "avx512bf16\n",
        strerror (errno));
}

int
vgg_amx_permitted (void)
{
  pthread_once (&amx_once, request_amx);
  return amx_permitted;
}

VggIsa
vgg_isa_get (void)
{
  pthread_once (&once, init);
  return process_level;
}

VggIsa
vgg_isa_get_cpu (void)
{
  pthread_once (&once, init);
  return cpu_level;
}

const char *
vgg_isa_to_string (VggIsa isa)
{
  return (unsigned) isa <= VGG_ISA_AMX ? isa_names[isa] : NULL;
}

int
vgg_isa_from_string (const char *name)
{
  for (int i = 0; name && i <= VGG_ISA_AMX; i++)
    if (strcmp (name, isa_names[i]) == 0)
      return i;
  return -1;
}

const char *
vgg_cpu_get_name (void)
{
  pthread_once (&once, init);
  return cpu_name;
}

const VggKernels *
vgg_kernels_for (VggIsa isa)
{
  switch (isa) {
    case VGG_ISA_AMX:
      return &vgg_kernels_amx;
    case VGG_ISA_AVX512BF16:
      return &vgg_kernels_avx512bf16;
    case VGG_ISA_AVX512:
      return &vgg_kernels_avx512;
    case VGG_ISA_AVX2:
      return &vgg_kernels_avx2;
    case VGG_ISA_GENERIC:
    default:
      return &vgg_kernels_generic;
  }
}

const VggKernels *
vgg_kernels_get (void)
{
  return vgg_kernels_for (vgg_isa_get ());
}

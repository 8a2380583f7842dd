/* AVX-512 level: the fp32 kernels on the AVX-512 vocabulary. */
#include "vgg-kernels-avx512.h"

#define KERNELS_NAME vgg_kernels_avx512
#define KERNELS_ISA VGG_ISA_AVX512

#include "vgg-kernels-body.h"

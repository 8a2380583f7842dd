/* vggcore: a torchvision-exact VGG engine in plain C.
 *
 * This header is the whole public API and its documentation.
 *
 * Ownership: a VggModel is immutable once loaded and reference counted;
 * any number of VggContexts (one per user or thread) can share it.  A
 * VggContext owns all the scratch memory of forward passes, sized when it
 * is created, so a forward pass allocates nothing (it grows its buffers
 * once if asked for a larger input than any before).  A context must not be
 * used by two threads at once.
 *
 * Errors: every fallible call returns a VggStatus.  Calls that create a
 * handle take a caller-owned buffer of VGG_ERROR_SIZE chars that receives a
 * message naming the file and the problem; a context keeps the message of
 * its last error (vgg_context_get_error()).  Nothing here aborts on bad
 * input.
 *
 * Threads: a context runs its own pool of `threads` workers (the calling
 * thread is one of them) and sets OpenBLAS to one thread per call, so the
 * number of busy threads never exceeds `threads`.  openblas_set_num_threads()
 * is process-wide: an application that calls OpenBLAS itself from other
 * threads should expect single-threaded BLAS once a context exists.
 */
#ifndef VGGCORE_H
#define VGGCORE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(VGGCORE_COMPILATION)
#define VGG_API __attribute__ ((visibility ("default")))
#else
#define VGG_API
#endif

/* Size of the caller's error buffer for the creating calls. */
#define VGG_ERROR_SIZE 512

typedef enum
{
  VGG_OK = 0,
  VGG_ERROR_IO,          /* file missing, unreadable, not mappable */
  VGG_ERROR_FORMAT,      /* malformed file: header, offsets, dtype, shape */
  VGG_ERROR_UNSUPPORTED, /* well-formed, but not a VGG network we can run */
  VGG_ERROR_INVALID,     /* bad argument: batch size, input size, name */
  VGG_ERROR_NOMEM
} VggStatus;

/* Static string such as "format error". */
VGG_API const char *vgg_status_to_string (VggStatus status);

typedef struct VggModel VggModel;
typedef struct VggContext VggContext;

typedef enum
{
  VGG_LAYER_CONV3X3, /* 3x3 convolution, padding 1, batch-norm folded in */
  VGG_LAYER_MAXPOOL, /* 2x2, stride 2 */
  VGG_LAYER_AVGPOOL, /* adaptive average pool to 7x7 */
  VGG_LAYER_LINEAR   /* fully connected (dropout before it is identity) */
} VggLayerKind;

typedef struct
{
  VggLayerKind kind;
  int in_channels;  /* conv: input channels; linear: input features */
  int out_channels; /* conv: output channels; linear: output features */
  int batch_norm;   /* conv: the file had batch-norm, folded at load */
  int relu;         /* followed by ReLU */
  const char *name; /* tensor prefix in the file ("features.0",
                       "classifier.6", "pre_logits.fc1"); "" for pools */
} VggLayerInfo;

/* Readable outputs of a forward pass, each (n, dims) row-major float32. */
typedef enum
{
  VGG_OUTPUT_POOL5,  /* adaptive pool output flattened as torch.flatten:
                        (C, 7, 7) */
  VGG_OUTPUT_FC6,    /* first classifier layer, after ReLU */
  VGG_OUTPUT_FC7,    /* second classifier layer, after ReLU */
  VGG_OUTPUT_LOGITS, /* last classifier layer */
  VGG_OUTPUT_PROBS   /* softmax of the logits */
} VggOutput;

/* "pool5", "fc6", "fc7", "logits", "probs"; -1 / NULL when unknown. */
VGG_API int vgg_output_from_string (const char *name);
VGG_API const char *vgg_output_to_string (VggOutput output);

/* --- Instruction sets --- */

/* The kernel levels, each needing the one before it. */
typedef enum
{
  VGG_ISA_GENERIC,    /* plain C; GEMMs on OpenBLAS */
  VGG_ISA_AVX2,       /* AVX2 + FMA */
  VGG_ISA_AVX512,     /* AVX-512 F, BW, DQ, VL */
  VGG_ISA_AVX512BF16, /* + AVX512_BF16 (vdpbf16ps) */
  VGG_ISA_AMX         /* + AMX-TILE, AMX-BF16, and Linux's permission */
} VggIsa;

/* The level this process runs: the best the CPU and the OS allow, capped
 * by the environment variable VGG_ISA (generic, avx2, avx512, avx512bf16,
 * amx), decided at the first call and then fixed. */
VGG_API VggIsa vgg_isa_get (void);
/* "generic", "avx2", ...; NULL when unknown.  Static strings. */
VGG_API const char *vgg_isa_to_string (VggIsa isa);
/* The CPU's model name from cpuid ("AMD EPYC 9R45", ...), "unknown" when
 * it has none.  Static string. */
VGG_API const char *vgg_cpu_get_name (void);

/* --- Models --- */

/* Loads a model file and infers its architecture from the tensor names
 * and shapes.  The format is chosen by content: safetensors, or a PyTorch
 * checkpoint (torch.save's zip or legacy format, read without executing
 * anything: only a state dict's globals are accepted), whose state dict
 * may be wrapped ({"state_dict": ...}, {"model": ...}) and carry
 * DataParallel's "module." prefix.  A checkpoint named as torchvision
 * publishes it ("vgg16-397923af.pth") gets that model's name and
 * normalization.  *model receives a new reference.  Convolution
 * weights are repacked; F32 classifier weights stay in the read-only
 * mapping of the file. */
VGG_API VggStatus vgg_model_load (
    const char *path, VggModel **model, char error[VGG_ERROR_SIZE]);

/* Builds a torchvision architecture by name ("vgg11" ... "vgg19_bn") with
 * deterministic random weights (torchvision's init distributions, seeded),
 * for benchmarks and tests.  width_divisor divides every conv and hidden
 * classifier width (1 for the real sizes). */
VGG_API VggStatus vgg_model_new_random (const char *arch, int width_divisor,
    int num_classes, uint64_t seed, VggModel **model,
    char error[VGG_ERROR_SIZE]);

VGG_API VggModel *vgg_model_ref (VggModel *model);
VGG_API void vgg_model_unref (VggModel *model);

/* Borrowed strings, valid while the model lives. */
VGG_API const char *vgg_model_get_path (const VggModel *model); /* "" if none */
/* `vgg.name` from the metadata, else the architecture name. */
VGG_API const char *vgg_model_get_name (const VggModel *model);
/* "vgg16_bn" etc. when the layers match a torchvision configuration
 * (any classifier widths), otherwise "vgg-custom". */
VGG_API const char *vgg_model_get_arch (const VggModel *model);

VGG_API int vgg_model_get_n_layers (const VggModel *model);
VGG_API const VggLayerInfo *vgg_model_get_layer (
    const VggModel *model, int index);

/* The size the model expects (`vgg.input_size` as "HEIGHTxWIDTH", torch's
 * order; default 224x224). */
VGG_API void vgg_model_get_input_size (
    const VggModel *model, int *width, int *height);
VGG_API int vgg_model_get_n_classes (const VggModel *model);
/* Width of one row of an output; 0 when the model has no such layer (fc7
 * of a two-layer classifier). */
VGG_API int vgg_model_get_output_dims (const VggModel *model, VggOutput output);
/* Labels from `vgg.labels`; 0 / NULL when the file has none. */
VGG_API int vgg_model_get_n_labels (const VggModel *model);
VGG_API const char *vgg_model_get_label (const VggModel *model, int index);
/* RGB mean and std for inputs in [0,1]: the file's `vgg.mean`/`vgg.std`,
 * else a known torchvision file's (see vgg_model_load), else ImageNet's.
 * Returns 1 when they came from the file or its name. */
VGG_API int vgg_model_get_normalization (
    const VggModel *model, float mean[3], float std[3]);
/* A `__metadata__` value, or NULL. */
VGG_API const char *vgg_model_get_metadata (
    const VggModel *model, const char *key);
/* The keys of `__metadata__`, in file order. */
VGG_API int vgg_model_get_n_metadata (const VggModel *model);
VGG_API const char *vgg_model_get_metadata_key (
    const VggModel *model, int index);
/* Learnable parameters as torchvision counts them (batch-norm weight and
 * bias included, running statistics not). */
VGG_API uint64_t vgg_model_get_n_params (const VggModel *model);
/* Multiply-accumulates of one forward pass at width x height
 * (convolutions and linear layers). */
VGG_API uint64_t vgg_model_get_macs (
    const VggModel *model, int width, int height);

/* --- Model names --- */

/* torchvision's published weights. */
typedef struct
{
  const char *name;      /* "vgg11" ... "vgg19_bn", "vgg16-features" */
  const char *file_name; /* torchvision's file, "vgg16-397923af.pth" */
  const char *url;       /* where torchvision downloads it from */
  float mean[3], std[3]; /* normalization of RGB inputs in [0,1] */
  int features; /* 1: the classifier is untrained (IMAGENET1K_FEATURES),
                   use the model for features */
} VggKnownModel;

/* The known model called name, or NULL.  Static data. */
VGG_API const VggKnownModel *vgg_known_model_lookup (const char *name);
/* The n-th known model (0 <= n < vgg_known_model_count ()). */
VGG_API int vgg_known_model_count (void);
VGG_API const VggKnownModel *vgg_known_model_get (int n);

/* Finds the file of a model by name (no '/'), in this order:
 *   each folder of search_path, a colon-separated list of folders given
 *       by the caller (the GStreamer plugin passes its
 *       $GST_VGG_MODEL_PATH); when search_path is NULL, each folder of
 *       the environment variable $VGG_MODEL_PATH; "" searches none:
 *       NAME.safetensors, NAME.pth, torchvision's file name;
 *   torch's hub cache ($TORCH_HOME/hub/checkpoints, by default
 *       ${XDG_CACHE_HOME:-~/.cache}/torch/hub/checkpoints):
 *       torchvision's file name;
 *   the installed data folder (DATADIR/gst-vgg): NAME.safetensors,
 *       torchvision's file name.
 * Only regular files are taken.  *path receives a new string (free ()).
 * When nothing is found, returns VGG_ERROR_IO and an error that lists the
 * places searched (the first as "the search path (...)" or
 * "$VGG_MODEL_PATH (...)") and, for a known model, the URL to download it
 * from. */
VGG_API VggStatus vgg_model_find (const char *name, const char *search_path,
    char **path, char error[VGG_ERROR_SIZE]);

/* --- Conversion --- */

typedef enum
{
  VGG_CONVERT_KEEP, /* write each tensor in its own dtype */
  VGG_CONVERT_F16,  /* float tensors as IEEE half, rounded to nearest */
  VGG_CONVERT_BF16  /* float tensors as bfloat16, rounded to nearest */
} VggConvertDType;

typedef struct
{
  const char *labels; /* one label per line (as `vgg.labels`), or NULL */
  const char *name;   /* `vgg.name`, or NULL */
  const float *mean;  /* 3 floats, or NULL: the model's if it has its own */
  const float *std;
  VggConvertDType dtype;
} VggConvertOptions;

/* Writes any model file that vgg_model_load accepts (safetensors or a
 * PyTorch checkpoint) as safetensors with the same tensor names, plus the
 * `__metadata__` of the source, the options and a known torchvision
 * file's name and normalization.  The output is written to a temporary
 * file beside out_path and renamed, then loaded back as a check.
 * options may be NULL. */
VGG_API VggStatus vgg_model_convert (const char *in_path, const char *out_path,
    const VggConvertOptions *options, char error[VGG_ERROR_SIZE]);

/* --- Precision --- */

typedef enum
{
  /* float32 throughout: torchvision's results (the default) */
  VGG_PRECISION_FP32,
  /* bfloat16 weights (rounded to nearest even once, on first use, one
   * copy per model shared by its contexts) and bfloat16 activations
   * (every convolution and linear layer's input rounded), products summed
   * in float32.  Faster where the weights' bytes bound the time (the
   * fully connected layers, half the bytes).  Convolutions run on AMX
   * tiles where the CPU has them (VGG_ISA_AMX), else as the float32
   * kernels on the rounded values: on the CPUs measured, vdpbf16ps does
   * not run direct convolutions faster than float32 Winograd with a
   * quarter of the multiplies (see vgg-kernels-private.h).  Error against
   * float32: see the README ("Precision"). */
  VGG_PRECISION_BF16
} VggPrecision;

/* "fp32", "bf16"; NULL / -1 when unknown. */
VGG_API const char *vgg_precision_to_string (VggPrecision precision);
VGG_API int vgg_precision_from_string (const char *name);

/* --- Contexts --- */

/* threads <= 0 means the number of online processors.  Buffers are sized
 * for max_batch images at the model's input size.  The precision is
 * VGG_PRECISION_FP32. */
VGG_API VggStatus vgg_context_new (VggModel *model, int max_batch, int threads,
    VggContext **context, char error[VGG_ERROR_SIZE]);
VGG_API void vgg_context_free (VggContext *context);

/* The same in a precision: the first context that asks a model for a
 * precision packs the model's weights for it, which takes time and memory
 * once per model (see VggPrecision). */
VGG_API VggStatus vgg_context_new_with_precision (VggModel *model,
    int max_batch, int threads, VggPrecision precision, VggContext **context,
    char error[VGG_ERROR_SIZE]);

VGG_API VggModel *vgg_context_get_model (const VggContext *context);

/* Sets the precision of the following forward passes, packing the model
 * for it if no context did before; VGG_ERROR_NOMEM leaves the precision
 * as it was. */
VGG_API VggStatus vgg_context_set_precision (
    VggContext *context, VggPrecision precision);
VGG_API VggPrecision vgg_context_get_precision (const VggContext *context);
VGG_API int vgg_context_get_threads (const VggContext *context);
VGG_API int vgg_context_get_max_batch (const VggContext *context);

/* Runs the network on n images, input (n, 3, height, width) float32,
 * planar (torch's NCHW: all of R, then G, then B per image), already
 * normalized.  n <= max_batch; height, width between 32 and 16384, and
 * large enough for the model's pools; else VGG_ERROR_INVALID (or
 * VGG_ERROR_NOMEM when growing the buffers for a larger input fails).
 * The engine runs NHWC and transposes the input first. */
VGG_API VggStatus vgg_context_forward (
    VggContext *context, const float *input, int n, int height, int width);

/* The same on input (n, height, width, 3) float32, interleaved (NHWC:
 * R, G, B of each pixel together, rows top to bottom), already
 * normalized; same limits and errors.  This is the engine's own layout,
 * so nothing is transposed: in fp32 the first layer reads input in place,
 * in bf16 it reads a rounded copy.  The outputs are bit-identical to
 * vgg_context_forward's on the same pixels. */
VGG_API VggStatus vgg_context_forward_nhwc (
    VggContext *context, const float *input, int n, int height, int width);

/* The output of the last forward pass, (n, *dims) row-major, borrowed until
 * the next forward pass; NULL if the model has no such layer. */
VGG_API const float *vgg_context_get_output (
    VggContext *context, VggOutput output, int *dims);

/* --- Any layer's activation --- */

/* How an activation map (C, H, W) becomes one row per image. */
typedef enum
{
  VGG_POOLING_AVG, /* global average over H x W: C values per image */
  VGG_POOLING_MAX, /* global maximum over H x W: C values */
  VGG_POOLING_NONE /* the whole map: C*H*W values in torch's (C, H, W)
                      order (torch.flatten of the NCHW tensor) */
} VggPooling;

/* "avg", "max", "none"; NULL / -1 when unknown. */
VGG_API const char *vgg_pooling_to_string (VggPooling pooling);
VGG_API int vgg_pooling_from_string (const char *name);

/* A point of the network whose activation can be read; filled in by
 * vgg_model_find_point or vgg_model_get_point (plain data, copy freely).
 *
 * Names of a model's points (vgg-inspect prints them with their shapes):
 *   features.N  the output of module N of torchvision's `features`
 *       nn.Sequential: a plain model has two modules per convolution
 *       (Conv2d, ReLU), a _bn one three (Conv2d, BatchNorm2d, ReLU), each
 *       "M" one (MaxPool2d).  A Conv2d module is the convolution's output
 *       before ReLU; a BatchNorm2d module the output of the convolution
 *       with batch-norm folded in, before ReLU; ReLU after it; MaxPool2d
 *       after the pool.  The Conv2d module of a _bn model is refused:
 *       batch-norm is folded into it at load, so its output alone is
 *       never computed (the message names features.N+1 and N+2).  The
 *       indices come from the model's tensor names, so custom
 *       configurations number their modules as their file does.
 *   reluB_C, convB_C  ReLU output and (plain models only, refused like
 *       features.N above for _bn) convolution output of block B's C-th
 *       convolution, both from 1, blocks separated by max pools, as the
 *       configuration has them: relu3_4 exists in VGG19 and VGG19_bn only.
 *   poolB  block B's max pool (features.N), for every block but the
 *       fifth: "pool5" is the classifier's input (next line).  The last
 *       max pool of a torchvision VGG is features.20 (vgg11), .24
 *       (vgg13), .30 (vgg16), .36 (vgg19), .28, .34, .43, .52 (_bn).
 *   pool5  the classifier's input: the last max pool adaptive-averaged to
 *       (C, 7, 7), VGG_OUTPUT_POOL5; at 224x224 the same values as the
 *       last max pool (features.30 of vgg16), at other sizes not.
 *   fc6, fc7, logits, probs  as VggOutput (fc6 and fc7 after ReLU). */
typedef struct
{
  int layer;      /* the last layer run (index as vgg_model_get_layer) */
  int relu;       /* 1: after that layer's ReLU, 0: before it */
  int output;     /* a VggOutput when the point is one (pool5, fc6, fc7,
                     logits, probs), else -1 */
  int spatial;    /* 1: a (C, H, W) map that pooling applies to (the conv
                     stage and pool5); 0: a vector (fc6, fc7, logits,
                     probs), pooling ignored */
  char name[24];  /* canonical name: "features.22", "pool5", "fc7" */
  char alias[24]; /* the block name of a conv-stage point ("relu4_3",
                     "conv1_1", "pool2"), "" when it has none */
} VggPoint;

/* The point called name (canonical or alias, as listed above).  An
 * unknown name gives VGG_ERROR_INVALID and a message listing this model's
 * names; a refused one (fc7 of a model without it, a folded convolution)
 * VGG_ERROR_INVALID and the reason.  error may be NULL. */
VGG_API VggStatus vgg_model_find_point (const VggModel *model, const char *name,
    VggPoint *point, char error[VGG_ERROR_SIZE]);

/* The readable points of a model in network order, conv stage first then
 * pool5, fc6, fc7, logits, probs: 0 <= index < vgg_model_get_n_points.
 * Returns 0 and leaves point alone when index is out of range. */
VGG_API int vgg_model_get_n_points (const VggModel *model);
VGG_API int vgg_model_get_point (
    const VggModel *model, int index, VggPoint *point);

/* Floats per image of the point's row at an input of width x height, with
 * pooling (ignored by vectors); 0 when the input is outside 32..16384 or
 * too small for the pools before the point, or pooling is unknown, or
 * the row would exceed INT_MAX floats (an unpooled map can). */
VGG_API int vgg_model_get_point_dims (const VggModel *model,
    const VggPoint *point, VggPooling pooling, int width, int height);
/* The point's map (C, H, W) before pooling at an input of width x height
 * (a vector: (dims, 1, 1)); returns 1, or 0 as get_point_dims. */
VGG_API int vgg_model_get_point_shape (const VggModel *model,
    const VggPoint *point, int width, int height, int *channels,
    int *map_height, int *map_width);

/* Runs the network on n images (input and limits as
 * vgg_context_forward) up to the point's layer and no further, applies
 * that layer's ReLU only if point->relu, then pools the map per image.
 * *out receives (n, *dims) row-major float32, borrowed until the next
 * forward pass of the context (held in the context's own buffers: nothing
 * is allocated beyond what vgg_context_forward would).  The input needs
 * to be large enough for the pools before the point only (32x32 is still
 * the least).  In bf16
 * precision the values are rounded as in a full pass up to that layer.
 * Afterwards vgg_context_get_output gives the outputs of the layers that
 * ran in full (none past the point; probs only when the pass was
 * complete); vgg_context_get_layer_ms is 0 for the layers that did not
 * run, and the pooling counts in the point's layer. */
VGG_API VggStatus vgg_context_forward_point (VggContext *context,
    const float *input, int n, int height, int width, const VggPoint *point,
    VggPooling pooling, const float **out, int *dims);
/* The same on NHWC input, as vgg_context_forward_nhwc; bit-identical
 * results. */
VGG_API VggStatus vgg_context_forward_point_nhwc (VggContext *context,
    const float *input, int n, int height, int width, const VggPoint *point,
    VggPooling pooling, const float **out, int *dims);

/* Per-layer timing: when enabled, each forward pass records the wall time
 * of every layer (index as vgg_model_get_layer) in milliseconds; the
 * input's transposition or copy before layer 0 and the softmax after the
 * last are included in the first and last layer. */
VGG_API void vgg_context_set_profiling (VggContext *context, int enable);
VGG_API double vgg_context_get_layer_ms (const VggContext *context, int index);

/* The message of the last failed call on this context, "" if none. */
VGG_API const char *vgg_context_get_error (const VggContext *context);

#ifdef __cplusplus
}
#endif
#endif /* VGGCORE_H */

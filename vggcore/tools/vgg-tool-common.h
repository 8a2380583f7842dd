/* Shared by the command-line tools: load a model from --model or --arch. */
#ifndef VGG_TOOL_COMMON_H
#define VGG_TOOL_COMMON_H

#include <stdio.h>
#include <vggcore/vggcore.h>

/* path_or_name itself when it is an existing file or has a '/', else the
 * file vgg_model_find finds for the name; a new string (free ()), or NULL
 * after printing the error. */
char *vgg_tool_resolve_model (const char *prog, const char *path_or_name);

/* Exactly one of path (a file or a model name) and arch is set.  Prints the error and returns NULL
 * on failure. */
VggModel *vgg_tool_load_model (
    const char *prog, const char *path, const char *arch);

/* Parses "HxW" (torch's order: height first); 0 on success. */
int vgg_tool_parse_size (const char *text, int *height, int *width);

/* The precision named by text ("fp32", "bf16"); prints the error and
 * returns -1 when it is unknown. */
int vgg_tool_parse_precision (
    const char *prog, const char *text, VggPrecision *precision);
/* fopen (path, "rb") for a file the tools read (labels, .npy input):
 * opened with O_NONBLOCK, so that a FIFO without a writer does not block,
 * and checked with fstat on the descriptor to be a regular file of at most
 * max_size bytes (0: any size).  NULL with "PATH: problem" in error
 * otherwise. */
FILE *vgg_tool_fopen_regular (
    const char *path, long long max_size, char *error, size_t size);

/* Peak resident set size of this process, in MiB. */
double vgg_tool_peak_rss_mb (void);

#endif

#include "vgg-tool-common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

FILE *
vgg_tool_fopen_regular (
    const char *path, long long max_size, char *error, size_t size)
{
  int fd = open (path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  struct stat st;
  FILE *f;

  if (fd < 0) {
    snprintf (error, size, "%s: %s", path, strerror (errno));
    return NULL;
  }
  if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode)) {
    snprintf (error, size, "%s: not a regular file%s", path,
        S_ISFIFO (st.st_mode)      ? " (a FIFO)"
            : S_ISCHR (st.st_mode) ? " (a character device)"
            : S_ISDIR (st.st_mode) ? " (a directory)"
                                   : "");
    close (fd);
    return NULL;
  }
  if (max_size > 0 && (long long) st.st_size > max_size) {
    snprintf (error, size, "%s: %lld bytes, more than the %lld allowed", path,
        (long long) st.st_size, max_size);
    close (fd);
    return NULL;
  }
  f = fdopen (fd, "rb");
  if (f == NULL) {
    snprintf (error, size, "%s: %s", path, strerror (errno));
    close (fd);
  }
  return f;
}

char *
vgg_tool_resolve_model (const char *prog, const char *path_or_name)
{
  char error[VGG_ERROR_SIZE];
  char *path = NULL;
  VggStatus status;

  /* An existing file, or anything with a '/', is a path; else a name. */
  if (access (path_or_name, F_OK) == 0 || strchr (path_or_name, '/') != NULL)
    return strdup (path_or_name);
  /* tools are the engine's: names are searched in $VGG_MODEL_PATH */
  status = vgg_model_find (path_or_name, NULL, &path, error);
  if (status != VGG_OK) {
    fprintf (
        stderr, "%s: %s (%s)\n", prog, error, vgg_status_to_string (status));
    return NULL;
  }
  return path;
}

VggModel *
vgg_tool_load_model (const char *prog, const char *path, const char *arch)
{
  char error[VGG_ERROR_SIZE];
  VggModel *model = NULL;
  VggStatus status;

  if ((path == NULL) == (arch == NULL)) {
    fprintf (
        stderr, "%s: give exactly one of --model FILE and --arch NAME\n", prog);
    return NULL;
  }
  if (path) {
    char *file = vgg_tool_resolve_model (prog, path);
    if (file == NULL)
      return NULL;
    status = vgg_model_load (file, &model, error);
    free (file);
  } else
    status = vgg_model_new_random (arch, 1, 1000, 0, &model, error);
  if (status != VGG_OK) {
    fprintf (
        stderr, "%s: %s (%s)\n", prog, error, vgg_status_to_string (status));
    return NULL;
  }
  return model;
}

int
vgg_tool_parse_size (const char *text, int *height, int *width)
{
  char tail;

  if (sscanf (text, "%dx%d%c", height, width, &tail) != 2 || *width < 32
      || *height < 32 || *width > 16384 || *height > 16384)
    return -1;
  return 0;
}

double
vgg_tool_peak_rss_mb (void)
{
  struct rusage usage;

  getrusage (RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024.0;
}

int
vgg_tool_parse_precision (
    const char *prog, const char *text, VggPrecision *precision)
{
  int p = vgg_precision_from_string (text);

  if (p < 0) {
    fprintf (stderr, "%s: --precision %s: expected fp32 or bf16\n", prog, text);
    return -1;
  }
  *precision = (VggPrecision) p;
  return 0;
}

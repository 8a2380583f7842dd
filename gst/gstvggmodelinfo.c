/* GstVggModelInfo: an immutable, reference-counted model bundle.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "gstvggmodelinfo.h"

#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gstvggmodelcache.h"

GST_DEBUG_CATEGORY_STATIC (gst_vgg_model_info_debug);
#define GST_CAT_DEFAULT gst_vgg_model_info_debug

/* Labels files: ImageNet's 1000 labels take 21 KB; 16 MiB holds a
 * million classes.  Anything larger (or endless) is refused. */
#define MAX_LABELS_FILE_SIZE (16 << 20)

/* The directory of the installed ImageNet labels: $GST_VGG_DATA_DIR, the
 * installed data directory, then the source tree's models/ (uninstalled
 * runs). */
static gchar *
find_imagenet_labels (void)
{
  const gchar *dirs[3];
  gint n = 0;

  dirs[n++] = g_getenv ("GST_VGG_DATA_DIR");
  dirs[n++] = VGG_DATADIR;
  dirs[n++] = VGG_SOURCE_DATADIR;
  for (gint i = 0; i < n; i++) {
    gchar *path;
    if (dirs[i] == NULL || dirs[i][0] == '\0')
      continue;
    path = g_build_filename (dirs[i], "imagenet-labels.txt", NULL);
    if (g_file_test (path, G_FILE_TEST_IS_REGULAR))
      return path;
    g_free (path);
  }
  return NULL;
}

/* The whole of a labels file, NUL-terminated.  Opened so that it cannot
 * block (a FIFO without a writer), checked with fstat on the descriptor to
 * be a regular file of at most MAX_LABELS_FILE_SIZE bytes (/dev/zero
 * would be read until memory runs out), read to its end (at most one byte
 * more than the cap, should it grow meanwhile), and refused unless it is
 * UTF-8 (labels go into messages, JSON and pango, which all need it). */
static gchar *
read_text_file (const gchar *path, GError **err)
{
  GString *text = NULL;
  struct stat st = { 0 };
  const gchar *end;
  gchar *ret = NULL;
  int fd;

  fd = g_open (path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY, 0);
  if (fd < 0) {
    g_set_error (err, G_FILE_ERROR, g_file_error_from_errno (errno),
        "%s: cannot open: %s", path, g_strerror (errno));
    goto out;
  }
  if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode)) {
    g_set_error (err, G_FILE_ERROR, G_FILE_ERROR_INVAL,
        "%s: not a regular file%s", path,
        S_ISFIFO (st.st_mode)      ? " (a FIFO)"
            : S_ISCHR (st.st_mode) ? " (a character device)"
            : S_ISDIR (st.st_mode) ? " (a directory)"
                                   : "");
    goto out;
  }
  if (st.st_size > MAX_LABELS_FILE_SIZE) {
    g_set_error (err, G_FILE_ERROR, G_FILE_ERROR_INVAL,
        "%s: %" G_GINT64_FORMAT " bytes, more than the %d MiB a labels file "
        "may have",
        path, (gint64) st.st_size, MAX_LABELS_FILE_SIZE >> 20);
    goto out;
  }
  text = g_string_sized_new ((gsize) st.st_size + 1);
  for (;;) {
    gchar buf[16384];
    gssize n = read (fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      g_set_error (err, G_FILE_ERROR, g_file_error_from_errno (errno),
          "%s: cannot read: %s", path, g_strerror (errno));
      goto out;
    }
    if (n == 0)
      break;
    g_string_append_len (text, buf, n);
    if (text->len > MAX_LABELS_FILE_SIZE) {
      g_set_error (err, G_FILE_ERROR, G_FILE_ERROR_INVAL,
          "%s: grew past the %d MiB a labels file may have", path,
          MAX_LABELS_FILE_SIZE >> 20);
      goto out;
    }
  }
  if (!g_utf8_validate_len (text->str, text->len, &end)) {
    gsize line = 1, column = 1;
    for (const gchar *c = text->str; c < end; c++, column++)
      if (*c == '\n') {
        line++;
        column = 0;
      }
    if (*end == '\0')
      g_set_error (err, G_FILE_ERROR, G_FILE_ERROR_INVAL,
          "%s: line %" G_GSIZE_FORMAT
          " holds a NUL byte (column %" G_GSIZE_FORMAT
          "); labels are UTF-8 text",
          path, line, column);
    else
      g_set_error (err, G_FILE_ERROR, G_FILE_ERROR_INVAL,
          "%s: line %" G_GSIZE_FORMAT " is not valid UTF-8 (byte 0x%02x at "
          "column %" G_GSIZE_FORMAT "); labels must be UTF-8 (convert with "
          "e.g. iconv -f latin1 -t utf-8)",
          path, line, (guint) (guchar) *end, column);
    goto out;
  }
  ret = g_string_free (g_steal_pointer (&text), FALSE);

out:
  if (text)
    g_string_free (text, TRUE);
  if (fd >= 0)
    close (fd);
  return ret;
}

static void add_warning (GstVggModelInfo *info, gint code, const gchar *format,
    ...) G_GNUC_PRINTF (3, 4);

static void
add_warning (GstVggModelInfo *info, gint code, const gchar *format, ...)
{
  va_list args;

  va_start (args, format);
  g_ptr_array_add (info->warnings,
      g_error_new_valist (GST_RESOURCE_ERROR, code, format, args));
  va_end (args);
}

/* Fills info->labels from a text file, one label per line.  Missing
 * lines leave the classes without a label. */
static gboolean
read_labels (GstVggModelInfo *info, const gchar *path, GError **err)
{
  gchar *contents, **lines;
  gint n_lines;

  contents = read_text_file (path, err);
  if (contents == NULL)
    return FALSE;
  lines = g_strsplit (contents, "\n", -1);
  n_lines = g_strv_length (lines);
  /* a final newline does not start another label */
  if (n_lines > 0 && lines[n_lines - 1][0] == '\0')
    n_lines--;
  if (n_lines != info->n_classes)
    add_warning (info, GST_RESOURCE_ERROR_READ,
        "Labels file \"%s\" has %d labels, the model %d classes", path, n_lines,
        info->n_classes);
  for (gint i = 0; i < n_lines && i < info->n_classes; i++) {
    g_strchomp (lines[i]);
    info->labels[i] = lines[i][0] ? g_quark_from_string (lines[i]) : 0;
  }
  g_strfreev (lines);
  g_free (contents);
  return TRUE;
}

/* The labels: the labels file, else the model's, else ImageNet's for a
 * model of 1000 classes (a warning when they cannot be read). */
static gboolean
load_labels (GstVggModelInfo *info, GError **error)
{
  GError *err = NULL;
  gchar *imagenet;

  info->labels = g_new0 (GQuark, MAX (info->n_classes, 1));
  if (info->labels_spec) {
    if (!read_labels (info, info->labels_spec, &err)) {
      g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_OPEN_READ,
          "Could not read the labels: %s", err->message);
      g_error_free (err);
      return FALSE;
    }
    return TRUE;
  }
  if (vgg_model_get_n_labels (info->model) > 0) {
    gint n = MIN (vgg_model_get_n_labels (info->model), info->n_classes);
    for (gint i = 0; i < n; i++) {
      const char *label = vgg_model_get_label (info->model, i);
      info->labels[i] = label && label[0] ? g_quark_from_string (label) : 0;
    }
    return TRUE;
  }
  if (info->n_classes != 1000)
    return TRUE;
  imagenet = find_imagenet_labels ();
  if (imagenet == NULL) {
    add_warning (info, GST_RESOURCE_ERROR_NOT_FOUND,
        "ImageNet labels not found (looked in $GST_VGG_DATA_DIR, %s and "
        "%s); results carry class ids only",
        VGG_DATADIR, VGG_SOURCE_DATADIR);
  } else if (!read_labels (info, imagenet, &err)) {
    add_warning (info, GST_RESOURCE_ERROR_READ,
        "Could not read the ImageNet labels: %s", err->message);
    g_error_free (err);
  } else {
    GST_INFO ("using the ImageNet labels of %s", imagenet);
  }
  g_free (imagenet);
  return TRUE;
}

gboolean
gst_vgg_parse_rgb (const gchar *text, gfloat v[3], gboolean positive)
{
  gchar **parts;
  gboolean ok;

  if (text == NULL || text[0] == '\0')
    return TRUE;
  parts = g_strsplit (text, ",", -1);
  ok = g_strv_length (parts) == 3;
  for (gint c = 0; ok && c < 3; c++) {
    gchar *end;
    gdouble d = g_ascii_strtod (g_strstrip (parts[c]), &end);
    ok = end != parts[c] && *end == '\0' && isfinite (d) && fabs (d) <= FLT_MAX;
    if (ok) {
      v[c] = (gfloat) d;
      ok = !positive || (v[c] > 0 && isnormal (v[c]));
    }
  }
  g_strfreev (parts);
  return ok;
}

/* The input normalization: the mean/std of the spec, else the model
 * file's, else the known model's (vgg16-features), else ImageNet's. */
static gboolean
set_normalization (GstVggModelInfo *info, GError **error)
{
  gfloat mean[3], std[3];

  if (!vgg_model_get_normalization (info->model, mean, std) && info->known) {
    memcpy (mean, info->known->mean, sizeof mean);
    memcpy (std, info->known->std, sizeof std);
  }
  if (!gst_vgg_parse_rgb (info->mean_spec, mean, FALSE)
      || !gst_vgg_parse_rgb (info->std_spec, std, TRUE)) {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
        "Invalid mean \"%s\" or std \"%s\": three comma-separated "
        "numbers (std positive) expected",
        GST_STR_NULL (info->mean_spec), GST_STR_NULL (info->std_spec));
    return FALSE;
  }
  for (gint c = 0; c < 3; c++) {
    info->scale[c] = 1.0f / (255.0f * std[c]);
    info->offset[c] = -mean[c] / std[c];
    if (!isfinite (info->scale[c]) || !isfinite (info->offset[c])) {
      g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
          "Mean %g and std %g (channel %d) give a normalization "
          "(x - mean) / std that overflows a float",
          mean[c], std[c], c);
      return FALSE;
    }
  }
  info->border_argb = 0xff000000u
      | (guint32) CLAMP (lrintf (mean[0] * 255), 0, 255) << 16
      | (guint32) CLAMP (lrintf (mean[1] * 255), 0, 255) << 8
      | (guint32) CLAMP (lrintf (mean[2] * 255), 0, 255);
  return TRUE;
}

/* The model itself: a known name (vgg16, ...) unless a file of that name
 * is here, found in search_path; then the model cache. */
static gboolean
load_model (GstVggModelInfo *info, const gchar *search_path, GError **error)
{
  const gchar *spec = info->model_spec;
  char msg[VGG_ERROR_SIZE];
  char *found = NULL;
  VggStatus status;
  gboolean ret = FALSE;

  if (spec == NULL) {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_FOUND,
        "No model file given: set the \"model\" property to a safetensors "
        "file or a model name");
    return FALSE;
  }
  if (strchr (spec, '/') == NULL && !g_file_test (spec, G_FILE_TEST_EXISTS)) {
    info->known = vgg_known_model_lookup (spec);
    status = vgg_model_find (spec, search_path, &found, msg);
    if (status != VGG_OK) {
      g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_FOUND,
          "Could not find the model: %s", msg);
      goto out;
    }
  }
  info->model =
      gst_vgg_model_cache_acquire (found ? found : spec, &status, msg);
  if (info->model == NULL) {
    g_set_error (error, GST_RESOURCE_ERROR,
        status == VGG_ERROR_IO ? GST_RESOURCE_ERROR_OPEN_READ
                               : GST_RESOURCE_ERROR_FAILED,
        "Could not load the model: %s", msg);
    goto out;
  }
  vgg_model_get_input_size (info->model, &info->width, &info->height);
  if (info->width < 32 || info->height < 32) {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_FAILED,
        "Could not load the model: %s: input size %dx%d (HxW) is smaller "
        "than 32x32",
        spec, info->height, info->width);
    goto out;
  }
  info->n_classes = vgg_model_get_n_classes (info->model);
  ret = TRUE;

out:
  free (found);
  return ret;
}

static gchar *
dup_spec (const gchar *s)
{
  return s && s[0] ? g_strdup (s) : NULL;
}

GstVggModelInfo *
gst_vgg_model_info_new (
    const GstVggModelSpec *spec, const gchar *search_path, GError **error)
{
  GstVggModelInfo *info = g_new0 (GstVggModelInfo, 1);

  GST_DEBUG_CATEGORY_INIT (
      gst_vgg_model_info_debug, "vggmodelinfo", 0, "vgginfer model bundles");
  info->ref_count = 1;
  info->model_spec = dup_spec (spec->model);
  info->labels_spec = dup_spec (spec->labels);
  info->mean_spec = dup_spec (spec->mean);
  info->std_spec = dup_spec (spec->std);
  info->warnings =
      g_ptr_array_new_with_free_func ((GDestroyNotify) g_error_free);

  if (!load_model (info, search_path, error) || !load_labels (info, error)
      || !set_normalization (info, error)) {
    gst_vgg_model_info_unref (info);
    return NULL;
  }
  GST_INFO ("loaded %s: %s (%s), %d classes, input %dx%d (WxH)",
      info->model_spec, vgg_model_get_name (info->model),
      vgg_model_get_arch (info->model), info->n_classes, info->width,
      info->height);
  return info;
}

GstVggModelInfo *
gst_vgg_model_info_ref (GstVggModelInfo *info)
{
  g_atomic_int_inc (&info->ref_count);
  return info;
}

void
gst_vgg_model_info_unref (GstVggModelInfo *info)
{
  if (!g_atomic_int_dec_and_test (&info->ref_count))
    return;
  g_clear_pointer (&info->model, gst_vgg_model_cache_release);
  g_ptr_array_unref (info->warnings);
  g_free (info->labels);
  g_free (info->model_spec);
  g_free (info->labels_spec);
  g_free (info->mean_spec);
  g_free (info->std_spec);
  g_free (info);
}

gboolean
gst_vgg_model_info_matches (
    const GstVggModelInfo *info, const GstVggModelSpec *spec)
{
  const gchar *mine[] = { info->model_spec, info->labels_spec, info->mean_spec,
    info->std_spec };
  const gchar *theirs[] = { spec->model, spec->labels, spec->mean, spec->std };

  for (guint i = 0; i < G_N_ELEMENTS (mine); i++)
    if (g_strcmp0 (mine[i], theirs[i] && theirs[i][0] ? theirs[i] : NULL))
      return FALSE;
  return TRUE;
}

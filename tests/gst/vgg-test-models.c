/* Small VGG-style models written by the element tests themselves.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vgg-test-models.h"

#include <glib/gstdio.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

gchar *
vgg_test_make_tmp_dir (const gchar *tmpl)
{
  GError *error = NULL;
  gchar *dir = g_dir_make_tmp (tmpl, &error);

  if (dir == NULL)
    g_error ("%s: %s", tmpl, error->message);
  return dir;
}

void
vgg_test_remove_tmp_dir (const gchar *dir)
{
  GDir *d = g_dir_open (dir, 0, NULL);
  const gchar *name;

  while (d && (name = g_dir_read_name (d))) {
    gchar *p = g_build_filename (dir, name, NULL);
    g_unlink (p);
    g_free (p);
  }
  if (d)
    g_dir_close (d);
  g_rmdir (dir);
}

gchar *
vgg_test_models_dir (const gchar *tmpl)
{
  const gchar *env = g_getenv ("VGG_TEST_DIR");
  gchar *dir = env ? g_strdup (env) : g_dir_make_tmp (tmpl, NULL);

  g_assert_nonnull (dir);
  g_mkdir_with_parents (dir, 0755);
  return dir;
}

static void
append_json_string (GString *out, const gchar *s)
{
  g_string_append_c (out, '"');
  for (; *s; s++) {
    if (*s == '"' || *s == '\\')
      g_string_append_printf (out, "\\%c", *s);
    else if (*s == '\n')
      g_string_append (out, "\\n");
    else if ((guchar) *s < 0x20)
      g_string_append_printf (out, "\\u%04x", (guchar) *s);
    else
      g_string_append_c (out, *s);
  }
  g_string_append_c (out, '"');
}

gboolean
vgg_test_write_safetensors (const gchar *path, const VggTestTensor *tensors,
    gint n_tensors, const gchar *const *metadata)
{
  GString *header = g_string_new ("{");
  guint64 offset = 0, hlen;
  gboolean ok = FALSE;
  FILE *f = NULL;

  if (metadata && metadata[0]) {
    g_string_append (header, "\"__metadata__\":{");
    for (gint i = 0; metadata[i]; i += 2) {
      if (i)
        g_string_append_c (header, ',');
      append_json_string (header, metadata[i]);
      g_string_append_c (header, ':');
      append_json_string (header, metadata[i + 1]);
    }
    g_string_append (header, "}");
  }
  for (gint t = 0; t < n_tensors; t++) {
    guint64 count = 1;
    if (t || (metadata && metadata[0]))
      g_string_append_c (header, ',');
    append_json_string (header, tensors[t].name);
    g_string_append (header, ":{\"dtype\":\"F32\",\"shape\":[");
    for (gint d = 0; d < tensors[t].ndim; d++) {
      g_string_append_printf (
          header, "%s%" G_GINT64_FORMAT, d ? "," : "", tensors[t].shape[d]);
      count *= tensors[t].shape[d];
    }
    g_string_append_printf (header,
        "],\"data_offsets\":[%" G_GUINT64_FORMAT ",%" G_GUINT64_FORMAT "]}",
        offset, offset + count * 4);
    offset += count * 4;
  }
  g_string_append_c (header, '}');
  while (header->len % 8)
    g_string_append_c (header, ' ');

  f = fopen (path, "wb");
  if (f == NULL)
    goto out;
  hlen = GUINT64_TO_LE ((guint64) header->len);
  if (fwrite (&hlen, 8, 1, f) != 1
      || fwrite (header->str, 1, header->len, f) != header->len)
    goto out;
  for (gint t = 0; t < n_tensors; t++) {
    guint64 count = 1;
    for (gint d = 0; d < tensors[t].ndim; d++)
      count *= tensors[t].shape[d];
    if (fwrite (tensors[t].data, 4, count, f) != count)
      goto out;
  }
  ok = TRUE;

out:
  if (f && fclose (f) != 0)
    ok = FALSE;
  g_string_free (header, TRUE);
  return ok;
}

/* splitmix64, then Box-Muller: N(0, 1) */
static gdouble
next_normal (guint64 *state)
{
  gdouble u[2];
  for (gint i = 0; i < 2; i++) {
    guint64 z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    u[i] = ((z >> 11) + 0.5) / 9007199254740992.0;
  }
  return sqrt (-2.0 * log (u[0])) * cos (2 * G_PI * u[1]);
}

static gfloat *
random_tensor (guint64 *state, gsize n, gdouble std)
{
  gfloat *t = g_new (gfloat, n);
  for (gsize i = 0; i < n; i++)
    t[i] = (gfloat) (next_normal (state) * std);
  return t;
}

gboolean
vgg_test_write_random_model (const gchar *path, const gint *cfg, gint hidden,
    gint n_classes, gint width, gint height, guint64 seed, const gchar *labels,
    const gchar *name)
{
  VggTestTensor tensors[64];
  gchar *names[64];
  gfloat *data[64];
  gint n = 0, index = 0, in_ch = 3;
  gint lin_in[3], lin_out[3];
  const gchar *metadata[9];
  gchar *size = g_strdup_printf ("%dx%d", height, width);
  gint m = 0;
  gboolean ok;

  for (gint i = 0; cfg[i] >= 0; i++) {
    gint out_ch = cfg[i];
    if (out_ch == 0) {
      index++; /* the pool module */
      continue;
    }
    names[n] = g_strdup_printf ("features.%d.weight", index);
    data[n] = random_tensor (
        &seed, (gsize) out_ch * in_ch * 9, sqrt (2.0 / (in_ch * 9)));
    tensors[n] =
        (VggTestTensor){ names[n], 4, { out_ch, in_ch, 3, 3 }, data[n] };
    n++;
    names[n] = g_strdup_printf ("features.%d.bias", index);
    data[n] = random_tensor (&seed, out_ch, 0.05);
    tensors[n] = (VggTestTensor){ names[n], 1, { out_ch }, data[n] };
    n++;
    index += 2; /* conv, relu */
    in_ch = out_ch;
  }
  lin_in[0] = in_ch * 49;
  lin_out[0] = hidden;
  lin_in[1] = hidden;
  lin_out[1] = hidden;
  lin_in[2] = hidden;
  lin_out[2] = n_classes;
  for (gint l = 0; l < 3; l++) {
    names[n] = g_strdup_printf ("classifier.%d.weight", 3 * l);
    data[n] = random_tensor (&seed, (gsize) lin_out[l] * lin_in[l],
        sqrt ((l < 2 ? 2.0 : 1.0) / lin_in[l]));
    tensors[n] =
        (VggTestTensor){ names[n], 2, { lin_out[l], lin_in[l] }, data[n] };
    n++;
    names[n] = g_strdup_printf ("classifier.%d.bias", 3 * l);
    data[n] = random_tensor (&seed, lin_out[l], 0.05);
    tensors[n] = (VggTestTensor){ names[n], 1, { lin_out[l] }, data[n] };
    n++;
  }
  metadata[m++] = "vgg.input_size";
  metadata[m++] = size;
  if (name) {
    metadata[m++] = "vgg.name";
    metadata[m++] = name;
  }
  if (labels) {
    metadata[m++] = "vgg.labels";
    metadata[m++] = labels;
  }
  metadata[m] = NULL;
  ok = vgg_test_write_safetensors (path, tensors, n, metadata);
  for (gint i = 0; i < n; i++) {
    g_free (names[i]);
    g_free (data[i]);
  }
  g_free (size);
  return ok;
}

/* rows / columns of the 7x7 pool grid in each of the 3 bands */
static const gint band_start[3] = { 0, 2, 5 };
static const gint band_len[3] = { 2, 3, 2 };

const gchar *const vgg_test_spot_labels[9] = { "top-left", "top", "top-right",
  "left", "centre", "right", "bottom-left", "bottom", "bottom-right" };

gboolean
vgg_test_write_spot_model (const gchar *path)
{
#define SPOT_LABELS                                                            \
  "top-left\ntop\ntop-right\nleft\ncentre\nright\n"                            \
  "bottom-left\nbottom\nbottom-right"
  static const gchar *const metadata[] = { "vgg.input_size", "64x64",
    "vgg.mean", "0,0,0", "vgg.std", "1,1,1", "vgg.labels", SPOT_LABELS,
    "vgg.name", "spot", NULL };
  gfloat conv_w[27] = { 0 }, conv_b[1] = { 0 };
  gfloat fc0_w[9 * 49] = { 0 }, fc0_b[9] = { 0 };
  gfloat fc1_w[81] = { 0 }, fc1_b[9] = { 0 };
  gfloat fc2_w[81] = { 0 }, fc2_b[9] = { 0 };
  const VggTestTensor tensors[] = {
    { "features.0.weight", 4, { 1, 3, 3, 3 }, conv_w },
    { "features.0.bias", 1, { 1 }, conv_b },
    { "classifier.0.weight", 2, { 9, 49 }, fc0_w },
    { "classifier.0.bias", 1, { 9 }, fc0_b },
    { "classifier.3.weight", 2, { 9, 9 }, fc1_w },
    { "classifier.3.bias", 1, { 9 }, fc1_b },
    { "classifier.6.weight", 2, { 9, 9 }, fc2_w },
    { "classifier.6.bias", 1, { 9 }, fc2_b },
  };

  /* centre tap of every input channel: (R + G + B) / 3 */
  for (gint c = 0; c < 3; c++)
    conv_w[c * 9 + 4] = 1.0f / 3;
  /* region means of the 7x7 grid */
  for (gint r = 0; r < 3; r++) {
    for (gint q = 0; q < 3; q++) {
      gint cls = r * 3 + q;
      gfloat wgt = 1.0f / (band_len[r] * band_len[q]);
      for (gint y = band_start[r]; y < band_start[r] + band_len[r]; y++)
        for (gint x = band_start[q]; x < band_start[q] + band_len[q]; x++)
          fc0_w[cls * 49 + y * 7 + x] = wgt;
    }
  }
  for (gint i = 0; i < 9; i++) {
    fc1_w[i * 9 + i] = 1.0f;
    fc2_w[i * 9 + i] = 40.0f;
  }
  return vgg_test_write_safetensors (
      path, tensors, G_N_ELEMENTS (tensors), metadata);
}

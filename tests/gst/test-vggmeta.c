/* GstVggMeta on bare buffers (the installed library, gst/gstvggmeta.c):
 * accessors, deep copies with the buffer, transforms, several metas on one
 * buffer, and the JSON parsed back with json-glib, field by field.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <float.h>
#include <gst/check/gstharness.h>
#include <gst/gst.h>
#include <gst/video/video.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

#include "gstvggmeta.h"

#define U_FFFD "\xef\xbf\xbd"

/* One top-k entry: what is set and what the JSON must give back. */
typedef struct
{
  gint class_id;
  gfloat score;
  const gchar *label;      /* NULL: no label (quark 0) */
  const gchar *json_label; /* the valid UTF-8 the JSON holds */
} Entry;

/* Quotes, backslashes, every kind of control character (short escapes,
 * \u00XX, U+001F, DEL), bytes that are not UTF-8, an empty label, no
 * label, multi-byte UTF-8; scores NaN, infinities, -0, the smallest
 * denormal, FLT_MAX. */
static const Entry hostile[] = {
  { 409, 0.91f, "quote \"x\" and back\\slash \\\"", NULL },
  { 7, 0.1f, "ctl \x01\x08\t\n\r\x0b\x1b\x1e\x1f\x7f end", NULL },
  { 0, 1.0f, "caf\xe9 \xff\xfe and \xc3(",
      "caf" U_FFFD " " U_FFFD U_FFFD " and " U_FFFD "(" },
  { -1, -0.0f, "", NULL },
  { G_MAXINT, 1.4e-45f, NULL, NULL },
  { G_MININT, FLT_MAX, "\xe6\x97\xa5\xe6\x9c\xac \xe2\x98\x95 \xf0\x9f\x90\x8d",
      NULL },
  { 3, NAN, "nan", NULL },
  { 4, INFINITY, "inf", NULL },
  { 5, -INFINITY, "-inf", NULL },
};

static void
set_entries (GstVggMeta *meta, const Entry *entries, guint n)
{
  GstVggClassification *r = g_new0 (GstVggClassification, n);

  for (guint i = 0; i < n; i++) {
    r[i].class_id = entries[i].class_id;
    r[i].score = entries[i].score;
    r[i].label = entries[i].label ? g_quark_from_string (entries[i].label) : 0;
  }
  gst_vgg_meta_set_results (meta, r, n);
  /* the meta holds its own copy */
  memset (r, 0xab, sizeof (*r) * n);
  g_free (r);
}

/* n floats of every kind: random bit patterns (all exponents, denormals,
 * both zeros), NaN and infinities at fixed places */
static gfloat *
random_features (guint32 seed, guint n)
{
  GRand *rand = g_rand_new_with_seed (seed);
  gfloat *f = g_new (gfloat, n);

  for (guint i = 0; i < n; i++) {
    guint32 bits = g_rand_int (rand);
    memcpy (&f[i], &bits, sizeof bits);
    if (!isfinite (f[i]))
      f[i] = (gfloat) g_rand_double_range (rand, -1e6, 1e6);
  }
  if (n > 40) {
    f[0] = -0.0f;
    f[1] = 0.0f;
    f[2] = 1.4e-45f;
    f[3] = FLT_MAX;
    f[4] = 3.0f;
    f[5] = 16777216.0f;
    f[10] = NAN;
    f[11] = INFINITY;
    f[n - 1] = -INFINITY;
  }
  g_rand_free (rand);
  return f;
}

static gboolean
same_bits (gfloat a, gfloat b)
{
  return memcmp (&a, &b, sizeof a) == 0;
}

static gboolean
same_double_bits (gdouble a, gdouble b)
{
  return memcmp (&a, &b, sizeof a) == 0;
}

/* Every field of b equal to a's, results and features in their own
 * memory. */
static void
assert_metas_equal (const gchar *what, const GstVggMeta *a, const GstVggMeta *b)
{
  guint na, nb;
  const gfloat *fa = gst_vgg_meta_get_features (a, &na);
  const gfloat *fb = gst_vgg_meta_get_features (b, &nb);

  if (g_strcmp0 (
          gst_vgg_meta_get_model_name (a), gst_vgg_meta_get_model_name (b))
      || !same_double_bits (
          gst_vgg_meta_get_inference_ms (a), gst_vgg_meta_get_inference_ms (b))
      || gst_vgg_meta_get_n_results (a) != gst_vgg_meta_get_n_results (b)
      || g_strcmp0 (gst_vgg_meta_get_feature_layer (a),
          gst_vgg_meta_get_feature_layer (b))
      || na != nb)
    g_error ("%s: model %s / %s, %g / %g ms, %u / %u results, layer %s / %s, "
             "%u / %u features",
        what, gst_vgg_meta_get_model_name (a), gst_vgg_meta_get_model_name (b),
        gst_vgg_meta_get_inference_ms (a), gst_vgg_meta_get_inference_ms (b),
        gst_vgg_meta_get_n_results (a), gst_vgg_meta_get_n_results (b),
        gst_vgg_meta_get_feature_layer (a), gst_vgg_meta_get_feature_layer (b),
        na, nb);
  if (a->model_name)
    g_assert_true (a->model_name != b->model_name);
  for (guint i = 0; i < a->n_results; i++) {
    gint ca, cb;
    gfloat sa, sb;
    const gchar *la, *lb;

    g_assert_true (gst_vgg_meta_get_result (a, i, &ca, &sa, &la));
    g_assert_true (gst_vgg_meta_get_result (b, i, &cb, &sb, &lb));
    if (ca != cb || !same_bits (sa, sb) || la != lb)
      g_error ("%s: result %u: class %d / %d, score %g / %g, label %s / %s",
          what, i, ca, cb, sa, sb, la, lb);
  }
  if (a->n_results)
    g_assert_true (a->results != b->results);
  if (na) {
    g_assert_true (fa != fb);
    for (guint i = 0; i < na; i++)
      if (!same_bits (fa[i], fb[i]))
        g_error ("%s: feature %u: %g / %g", what, i, fa[i], fb[i]);
  }
}

static GstVggMeta *
add_full_meta (GstBuffer *buf, guint32 seed, guint n_features)
{
  GstVggMeta *meta = gst_buffer_add_vgg_meta (buf);
  gfloat *f = random_features (seed, n_features);

  gst_vgg_meta_set_model_name (meta, "vgg16_bn");
  meta->inference_ms = 12.345678901234567;
  set_entries (meta, hostile, G_N_ELEMENTS (hostile));
  gst_vgg_meta_set_features (meta, "fc7", f, n_features);
  g_free (f);
  return meta;
}

/* --- accessors --- */

static void
test_accessors_return_what_was_set (void)
{
  GstBuffer *buf = gst_buffer_new ();
  const GstMetaInfo *info = gst_vgg_meta_get_info ();
  const gchar *const *tags;
  GstVggMeta *meta;
  gint class_id = -7;
  gfloat score = -7.0f;
  const gchar *label = "untouched";
  const gfloat *f;
  gfloat mine[5] = { 1.5f, -2.0f, 0.0f, 3.25f, 1e-3f };
  gchar *layer = g_strdup ("fc6");
  guint n = 99;

  g_assert_true (info->api == GST_VGG_META_API_TYPE);
  g_assert_cmpuint (info->size, ==, sizeof (GstVggMeta));
  g_assert_true (gst_vgg_meta_get_info () == info);
  g_assert_cmpstr (g_type_name (GST_VGG_META_API_TYPE), ==, "GstVggMetaAPI");
  /* no tags: converters and scalers keep it */
  tags = gst_meta_api_type_get_tags (GST_VGG_META_API_TYPE);
  g_assert_true (tags == NULL || tags[0] == NULL);

  g_assert_null (gst_buffer_get_vgg_meta (buf));
  meta = gst_buffer_add_vgg_meta (buf);
  g_assert_nonnull (meta);
  g_assert_true (gst_buffer_get_vgg_meta (buf) == meta);
  /* empty */
  g_assert_null (gst_vgg_meta_get_model_name (meta));
  g_assert_cmpfloat (gst_vgg_meta_get_inference_ms (meta), ==, 0.0);
  g_assert_cmpuint (gst_vgg_meta_get_n_results (meta), ==, 0);
  g_assert_false (gst_vgg_meta_get_result (meta, 0, &class_id, &score, &label));
  g_assert_null (gst_vgg_meta_get_feature_layer (meta));
  g_assert_null (gst_vgg_meta_get_features (meta, &n));
  g_assert_cmpuint (n, ==, 0);

  gst_vgg_meta_set_model_name (meta, "vgg11");
  gst_vgg_meta_set_model_name (meta, "vgg16");
  g_assert_cmpstr (gst_vgg_meta_get_model_name (meta), ==, "vgg16");
  meta->inference_ms = 3.5;
  g_assert_cmpfloat (gst_vgg_meta_get_inference_ms (meta), ==, 3.5);

  set_entries (meta, hostile, G_N_ELEMENTS (hostile));
  g_assert_cmpuint (
      gst_vgg_meta_get_n_results (meta), ==, G_N_ELEMENTS (hostile));
  for (guint i = 0; i < G_N_ELEMENTS (hostile); i++) {
    g_assert_true (
        gst_vgg_meta_get_result (meta, i, &class_id, &score, &label));
    g_assert_cmpint (class_id, ==, hostile[i].class_id);
    g_assert_true (same_bits (score, hostile[i].score));
    g_assert_cmpstr (label, ==, hostile[i].label);
    /* every out argument is optional */
    g_assert_true (gst_vgg_meta_get_result (meta, i, NULL, NULL, NULL));
  }
  /* past the end: FALSE, the outputs untouched */
  class_id = -7;
  g_assert_false (gst_vgg_meta_get_result (
      meta, G_N_ELEMENTS (hostile), &class_id, &score, &label));
  g_assert_cmpint (class_id, ==, -7);
  /* replaced, then cleared */
  set_entries (meta, hostile + 2, 1);
  g_assert_cmpuint (gst_vgg_meta_get_n_results (meta), ==, 1);
  g_assert_true (gst_vgg_meta_get_result (meta, 0, &class_id, NULL, NULL));
  g_assert_cmpint (class_id, ==, 0);
  gst_vgg_meta_set_results (meta, NULL, 0);
  g_assert_cmpuint (gst_vgg_meta_get_n_results (meta), ==, 0);

  /* features: copied, the layer interned (the caller's string may go) */
  gst_vgg_meta_set_features (meta, layer, mine, G_N_ELEMENTS (mine));
  g_free (layer);
  mine[0] = 99.0f;
  g_assert_cmpstr (gst_vgg_meta_get_feature_layer (meta), ==, "fc6");
  f = gst_vgg_meta_get_features (meta, &n);
  g_assert_cmpuint (n, ==, 5);
  g_assert_true (f != mine);
  g_assert_cmpfloat (f[0], ==, 1.5f);
  g_assert_cmpfloat (f[4], ==, 1e-3f);
  g_assert_nonnull (gst_vgg_meta_get_features (meta, NULL));
  /* no vector: no layer either */
  gst_vgg_meta_set_features (meta, "pool5", NULL, 0);
  g_assert_null (gst_vgg_meta_get_feature_layer (meta));
  g_assert_null (gst_vgg_meta_get_features (meta, &n));
  g_assert_cmpuint (n, ==, 0);
  gst_vgg_meta_set_model_name (meta, NULL);
  g_assert_null (gst_vgg_meta_get_model_name (meta));
  gst_buffer_unref (buf);
}

static void
test_features_format_enum_has_its_three_nicks (void)
{
  static const gchar *const nicks[] = { "none", "array", "base64" };
  GEnumClass *klass = g_type_class_ref (GST_TYPE_VGG_FEATURES_FORMAT);

  g_assert_cmpstr (
      g_type_name (GST_TYPE_VGG_FEATURES_FORMAT), ==, "GstVggFeaturesFormat");
  g_assert_cmpuint (klass->n_values, ==, 3);
  for (guint i = 0; i < 3; i++) {
    GEnumValue *v = g_enum_get_value_by_nick (klass, nicks[i]);
    g_assert_nonnull (v);
    g_assert_cmpint (v->value, ==, i);
  }
  g_assert_cmpint (GST_VGG_FEATURES_FORMAT_NONE, ==, 0);
  g_assert_cmpint (GST_VGG_FEATURES_FORMAT_BASE64, ==, 2);
  g_type_class_unref (klass);
}

/* --- copies --- */

static void
test_buffer_copies_carry_a_deep_copy (void)
{
  static const gchar *const names[] = { "gst_buffer_copy",
    "gst_buffer_copy_region", "gst_buffer_copy_deep",
    "gst_buffer_make_writable" };
  GstBuffer *buf = gst_buffer_new_allocate (NULL, 64, NULL);
  GstVggMeta *meta = add_full_meta (buf, 21, 333);
  GstVggMeta *before = g_new0 (GstVggMeta, 1);
  GstBuffer *copies[4];

  /* a snapshot of the original's values, to check it stays so */
  before->model_name = g_strdup (meta->model_name);
  before->inference_ms = meta->inference_ms;
  before->n_results = meta->n_results;
  before->results =
      g_memdup2 (meta->results, sizeof (*meta->results) * meta->n_results);
  before->feature_layer = meta->feature_layer;
  before->n_features = meta->n_features;
  before->features =
      g_memdup2 (meta->features, sizeof (gfloat) * meta->n_features);

  copies[0] = gst_buffer_copy (buf);
  copies[1] = gst_buffer_copy_region (buf, GST_BUFFER_COPY_ALL, 5, 33);
  copies[2] = gst_buffer_copy_deep (buf);
  copies[3] = gst_buffer_make_writable (gst_buffer_ref (buf));
  for (guint c = 0; c < G_N_ELEMENTS (copies); c++) {
    GstVggMeta *cm;

    g_assert_true (copies[c] != buf);
    cm = gst_buffer_get_vgg_meta (copies[c]);
    if (cm == NULL)
      g_error ("%s: no GstVggMeta on the copy", names[c]);
    g_assert_cmpuint (
        gst_buffer_get_n_meta (copies[c], GST_VGG_META_API_TYPE), ==, 1);
    assert_metas_equal (names[c], meta, cm);
    /* changing the copy leaves the original as it was */
    cm->results[0].score = 42.0f;
    cm->results[1].label = g_quark_from_string ("changed");
    cm->features[0] = 42.0f;
    gst_vgg_meta_set_model_name (cm, "changed");
    assert_metas_equal (names[c], before, meta);
  }
  /* the copies outlive the original */
  gst_buffer_unref (buf);
  for (guint c = 0; c < G_N_ELEMENTS (copies); c++) {
    GstVggMeta *cm = gst_buffer_get_vgg_meta (copies[c]);
    guint n;

    g_assert_cmpstr (gst_vgg_meta_get_model_name (cm), ==, "changed");
    g_assert_cmpfloat (cm->results[0].score, ==, 42.0f);
    g_assert_true (same_bits (cm->results[2].score, before->results[2].score));
    g_assert_true (same_bits (
        gst_vgg_meta_get_features (cm, &n)[332], before->features[332]));
    gst_buffer_unref (copies[c]);
  }
  g_free (before->features);
  g_free (before->results);
  g_free (before->model_name);
  g_free (before);
}

/* --- transforms --- */

/* The results describe the whole picture: every transform keeps them
 * (gstvggmeta.c), a scale (what videoscale asks), a copy of a region and
 * one this library has never heard of. */
static void
test_transforms_keep_the_results (void)
{
  const GstMetaInfo *info = gst_vgg_meta_get_info ();
  GstBuffer *src = gst_buffer_new_allocate (NULL, 640 * 480 * 3, NULL);
  GstVggMeta *meta = add_full_meta (src, 22, 49);
  GstVideoInfo in_info, out_info;
  GstVideoMetaTransform scale = { &in_info, &out_info };
  GstMetaTransformCopy region = { TRUE, 100, 200 };
  struct
  {
    const gchar *name;
    GQuark type;
    gpointer data;
  } transforms[] = {
    { "scale", gst_video_meta_transform_scale_get_quark (), &scale },
    { "copy of a region", _gst_meta_transform_copy, &region },
    { "unknown", g_quark_from_static_string ("gst-vgg-test-transform"), NULL },
  };

  gst_video_info_set_format (&in_info, GST_VIDEO_FORMAT_RGB, 640, 480);
  gst_video_info_set_format (&out_info, GST_VIDEO_FORMAT_RGBx, 224, 224);
  for (guint t = 0; t < G_N_ELEMENTS (transforms); t++) {
    GstBuffer *dest = gst_buffer_new ();
    GstVggMeta *dm;

    g_assert_true (info->transform_func (
        dest, (GstMeta *) meta, src, transforms[t].type, transforms[t].data));
    dm = gst_buffer_get_vgg_meta (dest);
    if (dm == NULL)
      g_error ("%s transform: no meta on the destination", transforms[t].name);
    assert_metas_equal (transforms[t].name, meta, dm);
    gst_buffer_unref (dest);
  }
  gst_buffer_unref (src);
}

/* videoscale and videoconvert (GstBaseTransform's transform_meta) keep a
 * meta without tags: the results come out of a scale and a format
 * conversion. */
static void
test_videoscale_and_videoconvert_carry_the_meta (void)
{
  GstHarness *h =
      gst_harness_new_parse ("videoscale ! videoconvert ! capsfilter "
                             "caps=video/x-raw,format=I420,width=64,height=48");
  GstBuffer *in, *out;
  GstVggMeta *meta, *om;
  GstVideoInfo info;

  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_RGB, 33, 17);
  gst_harness_set_src_caps_str (
      h, "video/x-raw,format=RGB,width=33,height=17,framerate=30/1");
  in = gst_harness_create_buffer (h, GST_VIDEO_INFO_SIZE (&info));
  gst_buffer_memset (in, 0, 0x5a, gst_buffer_get_size (in));
  meta = add_full_meta (in, 23, 41);
  in = gst_buffer_ref (in);
  g_assert_cmpint (gst_harness_push (h, in), ==, GST_FLOW_OK);
  out = gst_harness_pull (h);
  g_assert_nonnull (out);
  g_assert_cmpuint (gst_buffer_get_size (out), ==, 64 * 48 * 3 / 2);
  om = gst_buffer_get_vgg_meta (out);
  if (om == NULL)
    g_error ("videoscale ! videoconvert dropped the GstVggMeta");
  assert_metas_equal ("videoscale ! videoconvert", meta, om);
  gst_buffer_unref (out);
  gst_buffer_unref (in);
  gst_harness_teardown (h);
}

/* --- several metas --- */

static void
test_several_metas_on_one_buffer_stay_apart (void)
{
  GstBuffer *buf = gst_buffer_new ();
  GstVggMeta *a = add_full_meta (buf, 31, 7);
  GstVggMeta *b = gst_buffer_add_vgg_meta (buf);
  GstVggMeta *seen[2] = { NULL, NULL };
  gpointer state = NULL;
  GstMeta *m;
  GstBuffer *copy;
  guint n = 0;
  const Entry one = { 5, 0.5f, "five", NULL };

  gst_vgg_meta_set_model_name (b, "second");
  set_entries (b, &one, 1);
  g_assert_cmpuint (gst_buffer_get_n_meta (buf, GST_VGG_META_API_TYPE), ==, 2);
  while ((m = gst_buffer_iterate_meta_filtered (
              buf, &state, GST_VGG_META_API_TYPE))) {
    g_assert_cmpuint (n, <, 2);
    seen[n++] = (GstVggMeta *) m;
  }
  g_assert_cmpuint (n, ==, 2);
  g_assert_true (
      (seen[0] == a && seen[1] == b) || (seen[0] == b && seen[1] == a));
  /* the getter gives the first of the iteration */
  g_assert_true (gst_buffer_get_vgg_meta (buf) == seen[0]);

  /* a copy has both, in the same order, each with its own values */
  copy = gst_buffer_copy (buf);
  state = NULL;
  n = 0;
  while ((m = gst_buffer_iterate_meta_filtered (
              copy, &state, GST_VGG_META_API_TYPE))) {
    g_assert_cmpuint (n, <, 2);
    assert_metas_equal ("copy with two metas", seen[n++], (GstVggMeta *) m);
  }
  g_assert_cmpuint (n, ==, 2);
  gst_buffer_unref (copy);

  /* removing one frees only it */
  g_assert_true (gst_buffer_remove_meta (buf, (GstMeta *) a));
  g_assert_cmpuint (gst_buffer_get_n_meta (buf, GST_VGG_META_API_TYPE), ==, 1);
  g_assert_true (gst_buffer_get_vgg_meta (buf) == b);
  g_assert_cmpstr (gst_vgg_meta_get_model_name (b), ==, "second");
  g_assert_cmpuint (gst_vgg_meta_get_n_results (b), ==, 1);
  gst_buffer_unref (buf);
}

/* --- JSON --- */

/* Parses text, which must be one line of valid UTF-8 with no raw control
 * character (RFC 8259 wants them escaped; json-glib's parser would accept
 * them), into an object whose members come in `order`. */
static JsonObject *
parse_record (const gchar *text, const gchar *const *order)
{
  GError *error = NULL;
  JsonNode *root;
  JsonObject *obj;
  GList *members, *l;
  guint i = 0;

  if (!g_utf8_validate (text, -1, NULL))
    g_error ("not UTF-8: %.300s", text);
  for (const guchar *p = (const guchar *) text; *p; p++)
    if (*p < 0x20)
      g_error ("raw control character 0x%02x at byte %d of %.300s", *p,
          (gint) (p - (const guchar *) text), text);
  root = json_from_string (text, &error);
  if (root == NULL)
    g_error ("%s: %.300s", error->message, text);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (root));
  obj = json_object_ref (json_node_get_object (root));
  json_node_unref (root);
  members = json_object_get_members (obj);
  for (l = members; l; l = l->next, i++) {
    if (order[i] == NULL || strcmp (l->data, order[i]) != 0)
      g_error ("member %u is \"%s\", expected \"%s\": %.300s", i,
          (const gchar *) l->data, order[i] ? order[i] : "(none)", text);
  }
  if (order[i])
    g_error ("member \"%s\" is missing: %.300s", order[i], text);
  g_list_free (members);
  return obj;
}

/* a JSON number that must be the float f (null for NaN and infinities) */
static void
assert_json_float (const gchar *what, guint index, JsonNode *node, gfloat f)
{
  gfloat back;

  if (!isfinite (f)) {
    if (!JSON_NODE_HOLDS_NULL (node))
      g_error ("%s %u: %g should be null", what, index, f);
    return;
  }
  if (json_node_get_value_type (node) != G_TYPE_DOUBLE)
    g_error ("%s %u: %g is not written as a double", what, index, f);
  back = (gfloat) json_node_get_double (node);
  if (!same_bits (back, f)) {
    guint32 bits;
    memcpy (&bits, &f, sizeof bits);
    g_error (
        "%s %u: %.9g (0x%08x) came back as %.9g", what, index, f, bits, back);
  }
}

static void
assert_json_results (JsonObject *obj, const Entry *entries, guint n)
{
  JsonArray *results = json_object_get_array_member (obj, "results");

  g_assert_cmpuint (json_array_get_length (results), ==, n);
  for (guint i = 0; i < n; i++) {
    static const gchar *const order[] = { "class_id", "label", "score", NULL };
    JsonObject *r = json_array_get_object_element (results, i);
    const gchar *want =
        entries[i].json_label ? entries[i].json_label : entries[i].label;
    GList *members = json_object_get_members (r);
    guint k = 0;

    for (GList *l = members; l; l = l->next, k++)
      g_assert_cmpstr (l->data, ==, order[k]);
    g_assert_null (order[k]);
    g_list_free (members);
    g_assert_cmpint (
        json_object_get_int_member (r, "class_id"), ==, entries[i].class_id);
    if (want == NULL)
      g_assert_true (json_object_get_null_member (r, "label"));
    else if (g_strcmp0 (json_object_get_string_member (r, "label"), want))
      g_error ("result %u: label \"%s\", expected \"%s\"", i,
          json_object_get_string_member (r, "label"), want);
    assert_json_float (
        "score", i, json_object_get_member (r, "score"), entries[i].score);
  }
}

static void
test_meta_json_parses_back_to_every_value (void)
{
  static const gchar *const order[] = { "schema", "model", "inference_ms",
    "results", "feature_layer", "n_features", "features", "regions", NULL };
  const guint n_features = 25088; /* VGG16's pool5 */
  GstBuffer *buf = gst_buffer_new ();
  GstVggMeta *meta = add_full_meta (buf, 41, n_features);
  JsonObject *obj;
  JsonArray *features;
  gchar *text;

  gst_vgg_meta_set_model_name (meta, "vgg \"16\"\\\x1f\xff");
  text = gst_vgg_meta_to_json (meta);
  obj = parse_record (text, order);
  g_assert_cmpint (json_object_get_int_member (obj, "schema"), ==, 1);
  g_assert_cmpstr (json_object_get_string_member (obj, "model"), ==,
      "vgg \"16\"\\\x1f" U_FFFD);
  g_assert_true (json_object_get_double_member (obj, "inference_ms")
      == 12.345678901234567);
  assert_json_results (obj, hostile, G_N_ELEMENTS (hostile));
  g_assert_cmpstr (
      json_object_get_string_member (obj, "feature_layer"), ==, "fc7");
  g_assert_cmpint (
      json_object_get_int_member (obj, "n_features"), ==, n_features);
  features = json_object_get_array_member (obj, "features");
  g_assert_cmpuint (json_array_get_length (features), ==, n_features);
  for (guint i = 0; i < n_features; i++)
    assert_json_float (
        "feature", i, json_array_get_element (features, i), meta->features[i]);
  g_assert_cmpuint (
      json_array_get_length (json_object_get_array_member (obj, "regions")), ==,
      0);
  json_object_unref (obj);
  g_free (text);

  /* NaN time: null */
  meta->inference_ms = NAN;
  text = gst_vgg_meta_to_json (meta);
  obj = parse_record (text, order);
  g_assert_true (json_object_get_null_member (obj, "inference_ms"));
  json_object_unref (obj);
  g_free (text);
  gst_buffer_unref (buf);
}

/* An empty meta, byte for byte: the compact form the README shows. */
static void
test_empty_meta_json_is_the_minimal_record (void)
{
  GstBuffer *buf = gst_buffer_new ();
  GstVggMeta *meta = gst_buffer_add_vgg_meta (buf);
  gchar *text = gst_vgg_meta_to_json (meta);

  g_assert_cmpstr (text, ==,
      "{\"schema\":1,\"model\":null,\"inference_ms\":0.0,\"results\":[],"
      "\"regions\":[]}");
  g_free (text);
  gst_buffer_unref (buf);
}

static void
test_frame_json_in_each_features_format (void)
{
  static const gchar *const with_array[] = { "schema", "stream", "frame",
    "timestamp", "model", "inference_ms", "results", "feature_layer",
    "n_features", "features", "regions", NULL };
  static const gchar *const with_base64[] = { "schema", "stream", "frame",
    "timestamp", "model", "inference_ms", "results", "feature_layer",
    "n_features", "features_base64", "regions", NULL };
  static const gchar *const without[] = { "schema", "stream", "frame",
    "timestamp", "model", "inference_ms", "results", "regions", NULL };
  const guint n_features = 1001;
  const guint64 frame = G_GUINT64_CONSTANT (9007199254740993); /* 2^53 + 1 */
  GstBuffer *buf = gst_buffer_new ();
  GstBuffer *bare = gst_buffer_new ();
  GstVggMeta *meta = add_full_meta (buf, 51, n_features);
  JsonObject *obj;
  gchar *text;
  guchar *bytes;
  gsize len;

  GST_BUFFER_PTS (buf) = 3 * GST_SECOND + 7;

  text = gst_vgg_frame_to_json (
      buf, "cam \"1\"\xfe", frame, GST_VGG_FEATURES_FORMAT_ARRAY);
  obj = parse_record (text, with_array);
  g_assert_cmpstr (
      json_object_get_string_member (obj, "stream"), ==, "cam \"1\"" U_FFFD);
  g_assert_cmpint (json_object_get_int_member (obj, "frame"), ==, frame);
  g_assert_cmpint (
      json_object_get_int_member (obj, "timestamp"), ==, 3 * GST_SECOND + 7);
  g_assert_cmpstr (
      json_object_get_string_member (obj, "model"), ==, "vgg16_bn");
  assert_json_results (obj, hostile, G_N_ELEMENTS (hostile));
  g_assert_cmpuint (
      json_array_get_length (json_object_get_array_member (obj, "features")),
      ==, n_features);
  json_object_unref (obj);
  g_free (text);

  /* base64 of the little-endian float32 values, NaN and infinities kept */
  GST_BUFFER_PTS (buf) = GST_CLOCK_TIME_NONE;
  text = gst_vgg_frame_to_json (buf, NULL, 0, GST_VGG_FEATURES_FORMAT_BASE64);
  obj = parse_record (text, with_base64);
  g_assert_true (json_object_get_null_member (obj, "stream"));
  g_assert_cmpint (json_object_get_int_member (obj, "frame"), ==, 0);
  g_assert_true (json_object_get_null_member (obj, "timestamp"));
  g_assert_cmpint (
      json_object_get_int_member (obj, "n_features"), ==, n_features);
  bytes = g_base64_decode (
      json_object_get_string_member (obj, "features_base64"), &len);
  g_assert_cmpuint (len, ==, 4 * n_features);
  for (guint i = 0; i < n_features; i++) {
    guint32 le, bits;
    memcpy (&le, bytes + 4 * i, 4);
    memcpy (&bits, &meta->features[i], 4);
    if (GUINT32_FROM_LE (le) != bits)
      g_error ("features_base64 value %u: 0x%08x, expected 0x%08x", i,
          GUINT32_FROM_LE (le), bits);
  }
  g_free (bytes);
  json_object_unref (obj);
  g_free (text);

  /* none: the results stay, the vector goes */
  text = gst_vgg_frame_to_json (buf, "s", 1, GST_VGG_FEATURES_FORMAT_NONE);
  obj = parse_record (text, without);
  assert_json_results (obj, hostile, G_N_ELEMENTS (hostile));
  json_object_unref (obj);
  g_free (text);

  /* a buffer without results */
  text = gst_vgg_frame_to_json (bare, "s", 2, GST_VGG_FEATURES_FORMAT_ARRAY);
  obj = parse_record (text, without);
  g_assert_true (json_object_get_null_member (obj, "model"));
  g_assert_true (json_object_get_double_member (obj, "inference_ms") == 0.0);
  g_assert_cmpuint (
      json_array_get_length (json_object_get_array_member (obj, "results")), ==,
      0);
  json_object_unref (obj);
  g_free (text);
  gst_buffer_unref (bare);
  gst_buffer_unref (buf);
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/vggmeta/accessors-return-what-was-set",
      test_accessors_return_what_was_set);
  g_test_add_func ("/vggmeta/features-format-enum",
      test_features_format_enum_has_its_three_nicks);
  g_test_add_func ("/vggmeta/buffer-copies-carry-a-deep-copy",
      test_buffer_copies_carry_a_deep_copy);
  g_test_add_func (
      "/vggmeta/transforms-keep-the-results", test_transforms_keep_the_results);
  g_test_add_func ("/vggmeta/videoscale-videoconvert-carry-the-meta",
      test_videoscale_and_videoconvert_carry_the_meta);
  g_test_add_func ("/vggmeta/several-metas-stay-apart",
      test_several_metas_on_one_buffer_stay_apart);
  g_test_add_func ("/vggmeta/json-parses-back-to-every-value",
      test_meta_json_parses_back_to_every_value);
  g_test_add_func (
      "/vggmeta/empty-meta-json", test_empty_meta_json_is_the_minimal_record);
  g_test_add_func ("/vggmeta/frame-json-each-features-format",
      test_frame_json_in_each_features_format);
  return g_test_run ();
}

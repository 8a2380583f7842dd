/* Hostile and careless model files through the public API: paths that
 * are not regular files (a FIFO, /dev/zero, a directory) are refused at
 * once, naming the file and its kind, instead of blocking in open(2) or
 * reading forever; tensors holding NaN or infinity are refused naming the
 * tensor and the element; metadata normalization must be finite, std
 * positive and normal as a float.
 *
 * A SIGALRM guard ends the program if any load blocks. */
#include "vggcore/vggcore.h"

#include "test-check.h"

#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmp_dir[] = "/tmp/test-hostile-files-XXXXXX";


static const char *current_step = "start";

static void
on_alarm (int sig)
{
  static const char msg[] = "FAIL: blocked for 20 s (SIGALRM) in: ";

  (void) sig;
  (void) !write (1, msg, sizeof msg - 1);
  (void) !write (1, current_step, strlen (current_step));
  (void) !write (1, "\n", 1);
  _exit (1);
}

static const char *
tmp_path (const char *name)
{
  static char path[512];

  snprintf (path, sizeof path, "%s/%s", tmp_dir, name);
  return path;
}

/* Loads path, expecting failure with `expected` in the message. */
static void
expect_refused (const char *path, VggStatus want, const char *expected)
{
  char error[VGG_ERROR_SIZE];
  VggModel *model = NULL;
  VggStatus status;

  current_step = path;
  status = vgg_model_load (path, &model, error);
  CHECK (status == want, "%s: status %s, expected %s (%s)", path,
      vgg_status_to_string (status), vgg_status_to_string (want), error);
  CHECK (strstr (error, expected) != NULL, "%s: message \"%s\" lacks \"%s\"",
      path, error, expected);
  CHECK (strstr (error, path) != NULL, "%s: message \"%s\" lacks the path",
      path, error);
  if (model)
    vgg_model_unref (model);
}

/* --- files that are not regular --- */

static void
test_fifo_and_devices_are_refused_without_blocking (void)
{
  const char *fifo = tmp_path ("model.fifo");
  char fifo_copy[512];

  if (mkfifo (fifo, 0600) != 0) {
    CHECK (0, "mkfifo %s failed", fifo);
    return;
  }
  snprintf (fifo_copy, sizeof fifo_copy, "%s", fifo);
  /* no writer ever opens the FIFO: a blocking open(2) would wait forever */
  expect_refused (fifo_copy, VGG_ERROR_IO, "not a regular file (a FIFO)");
  expect_refused (
      "/dev/zero", VGG_ERROR_IO, "not a regular file (a character device)");
  expect_refused (tmp_dir, VGG_ERROR_IO, "not a regular file (a directory)");
  unlink (fifo_copy);
}

/* A model name resolves only to regular files: a FIFO named like the
 * model in the search path is passed over, never opened. */
static void
test_model_name_skips_a_fifo (void)
{
  char fifo[512], error[VGG_ERROR_SIZE];
  char *found = NULL;
  VggStatus status;

  snprintf (fifo, sizeof fifo, "%s", tmp_path ("vgg11.safetensors"));
  if (mkfifo (fifo, 0600) != 0) {
    CHECK (0, "mkfifo %s failed", fifo);
    return;
  }
  setenv ("TORCH_HOME", tmp_dir, 1);
  current_step = "vgg_model_find (vgg11) with a FIFO in the path";
  status = vgg_model_find ("vgg11", tmp_dir, &found, error);
  CHECK (status == VGG_ERROR_IO && found == NULL,
      "vgg_model_find took the FIFO: status %s, found %s",
      vgg_status_to_string (status), found ? found : "(null)");
  free (found);
  unlink (fifo);
}

/* --- non-finite values --- */

/* A VGG-style safetensors model: features.0 3->2 conv, classifier.0
 * 98->3 (2 channels x 7 x 7).  Element `bad_index` of tensor `bad_tensor`
 * (0..3, -1 for none) is set to `bad_value`; tensors are stored as F32, or
 * as F16 when half is set.  `metadata` is the inside of "__metadata__".
 * empty_layer 0 gives the convolution no output channels, 1 the linear
 * layer no outputs (-1: neither). */
static void
write_model_with (const char *path, int bad_tensor, int bad_index,
    float bad_value, int half, const char *metadata, int empty_layer)
{
  static const char *names[4] = { "features.0.weight", "features.0.bias",
    "classifier.0.weight", "classifier.0.bias" };
  const char *shapes[4] = { "[2,3,3,3]", "[2]", "[3,98]", "[3]" };
  int counts[4] = { 54, 2, 294, 3 };
  size_t esize = half ? 2 : 4, offset = 0, header_len, padded;
  char header[2048];
  int len;
  unsigned char *data;
  size_t total = 0;
  FILE *f;

  if (empty_layer >= 0) {
    shapes[2 * empty_layer] = empty_layer ? "[0,98]" : "[0,3,3,3]";
    shapes[2 * empty_layer + 1] = "[0]";
    counts[2 * empty_layer] = counts[2 * empty_layer + 1] = 0;
  }
  for (int t = 0; t < 4; t++)
    total += (size_t) counts[t] * esize;
  data = calloc (1, total);
  len = snprintf (header, sizeof header, "{\"__metadata__\":{%s}", metadata);
  for (int t = 0; t < 4; t++) {
    len += snprintf (header + len, sizeof header - (size_t) len,
        ",\"%s\":{\"dtype\":\"%s\",\"shape\":%s,\"data_offsets\":[%zu,%zu]}",
        names[t], half ? "F16" : "F32", shapes[t], offset,
        offset + (size_t) counts[t] * esize);
    for (int i = 0; i < counts[t]; i++) {
      float v =
          t == bad_tensor && i == bad_index ? bad_value : 0.01f * (i % 7 + 1);
      unsigned char *p = data + offset + (size_t) i * esize;
      if (half) {
        /* the few values used here, as binary16 */
        uint16_t h = isnan (v) ? 0x7e00
            : isinf (v)        ? (v > 0 ? 0x7c00 : 0xfc00)
                               : 0x2000; /* 2^-7, finite */
        p[0] = (unsigned char) h;
        p[1] = (unsigned char) (h >> 8);
      } else {
        memcpy (p, &v, 4);
      }
    }
    offset += (size_t) counts[t] * esize;
  }
  len += snprintf (header + len, sizeof header - (size_t) len, "}");
  header_len = (size_t) len;
  padded = (header_len + 7) / 8 * 8;
  while ((size_t) len < padded)
    header[len++] = ' ';
  f = fopen (path, "wb");
  if (f == NULL) {
    printf ("cannot write %s\n", path);
    exit (2);
  }
  for (int i = 0; i < 8; i++)
    fputc ((int) ((uint64_t) padded >> (8 * i)) & 0xff, f);
  fwrite (header, 1, padded, f);
  fwrite (data, 1, total, f);
  fclose (f);
  free (data);
}

static void
write_model (const char *path, int bad_tensor, int bad_index, float bad_value,
    int half, const char *metadata)
{
  write_model_with (
      path, bad_tensor, bad_index, bad_value, half, metadata, -1);
}

/* A layer without outputs is refused at load, naming its tensor; in F16
 * the linear one used to load and end a bf16 pass with a division by
 * zero. */
static void
test_layers_without_outputs_are_refused (void)
{
  static const char *names[2] = { "features.0.weight",
    "classifier.0.weight" };
  char path[512], expected[160];

  snprintf (path, sizeof path, "%s", tmp_path ("empty.safetensors"));
  for (int half = 0; half < 2; half++)
    for (int layer = 0; layer < 2; layer++) {
      write_model_with (path, -1, 0, 0.0f, half, "", layer);
      snprintf (expected, sizeof expected, "tensor \"%s\" has no outputs",
          names[layer]);
      expect_refused (path, VGG_ERROR_FORMAT, expected);
    }
}

static void
test_nonfinite_tensors_are_refused_naming_them (void)
{
  static const char *names[4] = { "features.0.weight", "features.0.bias",
    "classifier.0.weight", "classifier.0.bias" };
  const float values[3] = { NAN, INFINITY, -INFINITY };
  char path[512], expected[160], error[VGG_ERROR_SIZE];
  VggModel *model = NULL;

  /* the same file with finite values loads */
  snprintf (path, sizeof path, "%s", tmp_path ("finite.safetensors"));
  write_model (path, -1, 0, 0.0f, 0, "");
  CHECK (vgg_model_load (path, &model, error) == VGG_OK,
      "finite model refused: %s", error);
  if (model)
    vgg_model_unref (model);

  for (int half = 0; half < 2; half++)
    for (int t = 0; t < 4; t++)
      for (int v = 0; v < 3; v++) {
        /* a position past the first vectorized block of small tensors */
        int index = t == 2 ? 293 : t == 0 ? 37 : 1;
        snprintf (path, sizeof path, "%s",
            tmp_path (half ? "bad-f16.safetensors" : "bad-f32.safetensors"));
        write_model (path, t, index, values[v], half, "");
        snprintf (expected, sizeof expected,
            "tensor \"%s\" holds a non-finite value (NaN or infinity) at "
            "element %d",
            names[t], index);
        expect_refused (path, VGG_ERROR_FORMAT, expected);
      }
}

static void
test_metadata_normalization_must_be_finite (void)
{
  static const struct
  {
    const char *meta;
    const char *expected;
  } cases[] = {
    { "\"vgg.mean\":\"nan,0,0\"", "metadata vgg.mean \"nan,0,0\"" },
    { "\"vgg.mean\":\"0,inf,0\"", "metadata vgg.mean \"0,inf,0\"" },
    { "\"vgg.mean\":\"0,0,1e39\"", "metadata vgg.mean \"0,0,1e39\"" },
    { "\"vgg.std\":\"inf,1,1\"", "metadata vgg.std \"inf,1,1\"" },
    { "\"vgg.std\":\"1,nan,1\"", "metadata vgg.std \"1,nan,1\"" },
    { "\"vgg.std\":\"1,1,1e-45\"", "metadata vgg.std \"1,1,1e-45\"" },
    { "\"vgg.std\":\"1,1,1e-39\"", "metadata vgg.std \"1,1,1e-39\"" },
    { "\"vgg.std\":\"1,1,0\"", "metadata vgg.std \"1,1,0\"" },
    { "\"vgg.std\":\"1,-1,1\"", "metadata vgg.std \"1,-1,1\"" },
  };
  char path[512], error[VGG_ERROR_SIZE];
  VggModel *model = NULL;
  float mean[3], std[3];

  snprintf (path, sizeof path, "%s", tmp_path ("meta.safetensors"));
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    write_model (path, -1, 0, 0.0f, 0, cases[i].meta);
    expect_refused (path, VGG_ERROR_FORMAT, cases[i].expected);
  }
  /* the smallest normal std and a large finite mean still load */
  write_model (path, -1, 0, 0.0f, 0,
      "\"vgg.mean\":\"1e30,0,-1e30\",\"vgg.std\":\"1.2e-38,1,1\"");
  CHECK (vgg_model_load (path, &model, error) == VGG_OK,
      "finite normalization refused: %s", error);
  if (model) {
    vgg_model_get_normalization (model, mean, std);
    CHECK (mean[0] == 1e30f && std[0] == 1.2e-38f && isnormal (std[0]),
        "normalization read as %g,%g", mean[0], std[0]);
    vgg_model_unref (model);
  }
}

int
main (void)
{
  if (mkdtemp (tmp_dir) == NULL) {
    perror ("mkdtemp");
    return 2;
  }
  signal (SIGALRM, on_alarm);
  alarm (20);
  test_fifo_and_devices_are_refused_without_blocking ();
  test_model_name_skips_a_fifo ();
  test_nonfinite_tensors_are_refused_naming_them ();
  test_metadata_normalization_must_be_finite ();
  test_layers_without_outputs_are_refused ();
  alarm (0);
  unlink (tmp_path ("finite.safetensors"));
  unlink (tmp_path ("bad-f32.safetensors"));
  unlink (tmp_path ("bad-f16.safetensors"));
  unlink (tmp_path ("meta.safetensors"));
  unlink (tmp_path ("empty.safetensors"));
  rmdir (tmp_dir);
  printf ("hostile-files: %d checks, %d failed\n", checks, failures);
  return failures == 0 ? 0 : 1;
}

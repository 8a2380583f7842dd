/* vgg-inspect: what a model file holds and what it costs to run. */
#include "vgg-tool-common.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static const char *const kind_names[] = {
  [VGG_LAYER_CONV3X3] = "conv3x3",
  [VGG_LAYER_MAXPOOL] = "maxpool2x2",
  [VGG_LAYER_AVGPOOL] = "avgpool7x7",
  [VGG_LAYER_LINEAR] = "linear",
};

static void
usage (FILE *out)
{
  fprintf (out,
      "usage: vgg-inspect [--size HxW] (FILE | --arch NAME)\n"
      "       vgg-inspect --cpu\n"
      "Prints the inferred architecture, parameter count, multiply-"
      "accumulates at the\ninput size, outputs, the points whose "
      "activations vgg-run --layer reads\n(with their shapes at the input "
      "size) and metadata.  --cpu prints the CPU\nand the kernel "
      "level this process runs (VGG_ISA caps it).\n");
}

/* Prints a metadata value on one line, shortened. */
static void
print_value (const char *value)
{
  size_t len = strlen (value);
  int lines = len > 0 && value[len - 1] != '\n';

  for (const char *p = value; *p; p++)
    lines += *p == '\n';
  if (lines > 1)
    printf ("(%d lines) ", lines);
  for (int i = 0; value[i] && i < 60; i++)
    putchar (value[i] == '\n' ? '|' : value[i]);
  printf ("%s\n", strlen (value) > 60 ? "..." : "");
}

int
main (int argc, char **argv)
{
  static const struct option options[] = { { "arch", required_argument, NULL,
                                               'a' },
    { "size", required_argument, NULL, 's' }, { "cpu", no_argument, NULL, 'c' },
    { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 } };
  const char *arch = NULL, *path = NULL;
  int opt, width = 0, height = 0, in_w, in_h;
  float mean[3], std[3];
  int from_file;
  VggModel *model;
  uint64_t params, macs;

  while ((opt = getopt_long (argc, argv, "a:s:ch", options, NULL)) != -1) {
    switch (opt) {
      case 'c':
        /* the kernel level alone, for scripts: "cpu: NAME" and
         * "kernels: LEVEL" */
        printf ("cpu: %s\nkernels: %s\n", vgg_cpu_get_name (),
            vgg_isa_to_string (vgg_isa_get ()));
        return 0;
      case 'a':
        arch = optarg;
        break;
      case 's':
        if (vgg_tool_parse_size (optarg, &height, &width)) {
          fprintf (stderr, "vgg-inspect: --size %s: expected HxW\n", optarg);
          return 1;
        }
        break;
      case 'h':
        usage (stdout);
        return 0;
      default:
        usage (stderr);
        return 1;
    }
  }
  if (optind + 1 == argc)
    path = argv[optind];
  else if (optind != argc) {
    usage (stderr);
    return 1;
  }
  model = vgg_tool_load_model ("vgg-inspect", path, arch);
  if (model == NULL)
    return 1;
  vgg_model_get_input_size (model, &in_w, &in_h);
  if (width == 0) {
    width = in_w;
    height = in_h;
  }
  params = vgg_model_get_n_params (model);
  macs = vgg_model_get_macs (model, width, height);

  printf ("file: %s\n", path ? path : "(random weights)");
  printf ("cpu: %s\n", vgg_cpu_get_name ());
  printf ("kernels: %s\n", vgg_isa_to_string (vgg_isa_get ()));
  printf ("name: %s\n", vgg_model_get_name (model));
  printf ("architecture: %s\n", vgg_model_get_arch (model));
  printf ("input size: %dx%d (HxW)\n", in_h, in_w);
  printf ("layers:\n");
  for (int i = 0; i < vgg_model_get_n_layers (model); i++) {
    const VggLayerInfo *l = vgg_model_get_layer (model, i);
    printf ("  %-16s %-10s", l->name[0] ? l->name : "-", kind_names[l->kind]);
    if (l->kind == VGG_LAYER_CONV3X3 || l->kind == VGG_LAYER_LINEAR)
      printf (" %6d -> %-6d%s%s", l->in_channels, l->out_channels,
          l->batch_norm ? " +batch-norm(folded)" : "", l->relu ? " +relu" : "");
    printf ("\n");
  }
  printf (
      "parameters: %llu (%.1fM)\n", (unsigned long long) params, params / 1e6);
  printf ("macs at %dx%d: %llu (%.2fG)\n", height, width,
      (unsigned long long) macs, macs / 1e9);
  printf ("classes: %d\n", vgg_model_get_n_classes (model));
  printf ("outputs:");
  for (int o = VGG_OUTPUT_POOL5; o <= VGG_OUTPUT_LOGITS; o++)
    if (vgg_model_get_output_dims (model, o) > 0)
      printf (" %s=%d", vgg_output_to_string (o),
          vgg_model_get_output_dims (model, o));
  printf ("\n");
  /* what `vgg-run --layer` and vgginfer's feature layers accept */
  printf ("points at %dx%d (name, alias, module, shape C x H x W):\n", height,
      width);
  for (int i = 0; i < vgg_model_get_n_points (model); i++) {
    VggPoint p;
    const VggLayerInfo *l;
    const char *what;
    int c, h, w;
    vgg_model_get_point (model, i, &p);
    l = vgg_model_get_layer (model, p.layer);
    if (p.output == VGG_OUTPUT_POOL5)
      what = "adaptive avg pool 7x7";
    else if (p.output == VGG_OUTPUT_PROBS)
      what = "softmax";
    else if (l->kind == VGG_LAYER_MAXPOOL)
      what = "max pool";
    else if (l->kind == VGG_LAYER_LINEAR)
      what = p.relu ? "linear + relu" : "linear";
    else if (p.relu)
      what = "relu";
    else
      what = l->batch_norm ? "batch-norm (folded)" : "conv";
    printf ("  %-14s %-9s %-22s", p.name, p.alias[0] ? p.alias : "-", what);
    if (!vgg_model_get_point_shape (model, &p, width, height, &c, &h, &w))
      printf (" (input too small)\n");
    else if (p.spatial)
      printf (" %d x %d x %d\n", c, h, w);
    else
      printf (" %d\n", c);
  }
  from_file = vgg_model_get_normalization (model, mean, std);
  printf ("normalization: mean %g,%g,%g std %g,%g,%g (%s)\n", mean[0], mean[1],
      mean[2], std[0], std[1], std[2],
      from_file ? "from the file" : "ImageNet default");
  printf ("labels: %d", vgg_model_get_n_labels (model));
  for (int i = 0; i < vgg_model_get_n_labels (model) && i < 5; i++)
    printf ("%s%s", i ? ", " : " (", vgg_model_get_label (model, i));
  printf ("%s\n",
      vgg_model_get_n_labels (model) > 5   ? ", ...)"
          : vgg_model_get_n_labels (model) ? ")"
                                           : "");
  printf ("metadata: %d keys\n", vgg_model_get_n_metadata (model));
  for (int i = 0; i < vgg_model_get_n_metadata (model); i++) {
    const char *key = vgg_model_get_metadata_key (model, i);
    printf ("  %s = ", key);
    print_value (vgg_model_get_metadata (model, key));
  }
  vgg_model_unref (model);
  return 0;
}

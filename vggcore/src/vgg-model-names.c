/* Model names: torchvision's published VGG weights and where a user
 * already keeps them (see vgg_model_find in vggcore.h). */
#include "vgg-model-private.h"
#include "vgg-error-private.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifndef VGG_DATADIR
#define VGG_DATADIR "/usr/local/share/gst-vgg"
#endif

#define URL_BASE "https://download.pytorch.org/models/"
#define IMAGENET_MEAN                                                          \
  {                                                                            \
    0.485f, 0.456f, 0.406f                                                     \
  }
#define IMAGENET_STD                                                           \
  {                                                                            \
    0.229f, 0.224f, 0.225f                                                     \
  }

/* torchvision.models.VGG*_Weights: IMAGENET1K_V1, and IMAGENET1K_FEATURES
 * of VGG16, ported from amdegroot/ssd.pytorch: trained on BGR-ish 0..255
 * inputs, hence torchvision's mean (0.48235, 0.45882, 0.40784) and std
 * 1/255 for inputs in [0,1]. */
static const VggKnownModel known_models[] = {
  { "vgg11", "vgg11-8a719046.pth", URL_BASE "vgg11-8a719046.pth", IMAGENET_MEAN,
      IMAGENET_STD, 0 },
  { "vgg11_bn", "vgg11_bn-6002323d.pth", URL_BASE "vgg11_bn-6002323d.pth",
      IMAGENET_MEAN, IMAGENET_STD, 0 },
  { "vgg13", "vgg13-19584684.pth", URL_BASE "vgg13-19584684.pth", IMAGENET_MEAN,
      IMAGENET_STD, 0 },
  { "vgg13_bn", "vgg13_bn-abd245e5.pth", URL_BASE "vgg13_bn-abd245e5.pth",
      IMAGENET_MEAN, IMAGENET_STD, 0 },
  { "vgg16", "vgg16-397923af.pth", URL_BASE "vgg16-397923af.pth", IMAGENET_MEAN,
      IMAGENET_STD, 0 },
  { "vgg16_bn", "vgg16_bn-6c64b313.pth", URL_BASE "vgg16_bn-6c64b313.pth",
      IMAGENET_MEAN, IMAGENET_STD, 0 },
  { "vgg19", "vgg19-dcbb9e9d.pth", URL_BASE "vgg19-dcbb9e9d.pth", IMAGENET_MEAN,
      IMAGENET_STD, 0 },
  { "vgg19_bn", "vgg19_bn-c79401a0.pth", URL_BASE "vgg19_bn-c79401a0.pth",
      IMAGENET_MEAN, IMAGENET_STD, 0 },
  { "vgg16-features", "vgg16_features-amdegroot-88682ab5.pth",
      URL_BASE "vgg16_features-amdegroot-88682ab5.pth",
      { 0.48235f, 0.45882f, 0.40784f },
      { 1.0f / 255.0f, 1.0f / 255.0f, 1.0f / 255.0f }, 1 },
};

#define N_KNOWN ((int) (sizeof known_models / sizeof known_models[0]))

int
vgg_known_model_count (void)
{
  return N_KNOWN;
}

const VggKnownModel *
vgg_known_model_get (int n)
{
  return n >= 0 && n < N_KNOWN ? &known_models[n] : NULL;
}

const VggKnownModel *
vgg_known_model_lookup (const char *name)
{
  for (int i = 0; name != NULL && i < N_KNOWN; i++)
    if (strcmp (name, known_models[i].name) == 0)
      return &known_models[i];
  return NULL;
}

const VggKnownModel *
vgg_known_model_for_file (const char *path)
{
  const char *base = path ? strrchr (path, '/') : NULL;

  base = base ? base + 1 : path;
  for (int i = 0; base != NULL && i < N_KNOWN; i++)
    if (strcmp (base, known_models[i].file_name) == 0)
      return &known_models[i];
  return NULL;
}

/* A growing string for the list of places searched. */
typedef struct
{
  char text[VGG_ERROR_SIZE];
  size_t len;
} Places;

static void places_add (Places *p, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));

static void
places_add (Places *p, const char *format, ...)
{
  va_list args;
  int n;

  if (p->len >= sizeof p->text - 1)
    return;
  va_start (args, format);
  n = vsnprintf (p->text + p->len, sizeof p->text - p->len, format, args);
  va_end (args);
  if (n > 0)
    p->len += (size_t) n;
}

/* dir/file when it is a regular file: a new string; else NULL (and
 * *nomem on allocation failure). */
static char *
try_file (const char *dir, size_t dir_len, const char *file, int *nomem)
{
  struct stat st;
  char *path;

  if (file == NULL)
    return NULL;
  path = malloc (dir_len + strlen (file) + 2);
  if (path == NULL) {
    *nomem = 1;
    return NULL;
  }
  memcpy (path, dir, dir_len);
  path[dir_len] = '/';
  strcpy (path + dir_len + 1, file);
  if (stat (path, &st) == 0 && S_ISREG (st.st_mode))
    return path;
  free (path);
  return NULL;
}

VggStatus
vgg_model_find (const char *name, const char *search_path, char **path,
    char error[VGG_ERROR_SIZE])
{
  const VggKnownModel *known = vgg_known_model_lookup (name);
  const char *tv_file = known ? known->file_name : NULL;
  /* the caller's folders, else the engine's own variable */
  const char *dirs = search_path ? search_path : getenv ("VGG_MODEL_PATH");
  const char *source = search_path ? "the search path" : "$VGG_MODEL_PATH";
  const char *env, *home;
  char *safetensors = NULL, *pth = NULL, *found = NULL;
  char hub[4096];
  Places places = { "", 0 };
  int nomem = 0;
  VggStatus status = VGG_OK;

  if (error)
    error[0] = '\0';
  *path = NULL;
  if (name == NULL || name[0] == '\0' || strchr (name, '/') != NULL)
    return vgg_set_error (error, VGG_ERROR_INVALID, NULL,
        "\"%s\" is not a model name (a name has no '/')",
        name ? name : "(null)");
  safetensors = malloc (strlen (name) + 13);
  pth = malloc (strlen (name) + 5);
  if (safetensors == NULL || pth == NULL) {
    status = VGG_ERROR_NOMEM;
    goto out;
  }
  sprintf (safetensors, "%s.safetensors", name);
  sprintf (pth, "%s.pth", name);

  if (dirs != NULL && dirs[0] != '\0') {
    places_add (&places, "%s (", source);
    for (const char *dir = dirs; found == NULL && !nomem;) {
      const char *end = strchr (dir, ':');
      size_t len = end ? (size_t) (end - dir) : strlen (dir);
      if (len > 0) {
        places_add (&places, "%s%.*s", dir == dirs ? "" : ":", (int) len, dir);
        if ((found = try_file (dir, len, safetensors, &nomem)) == NULL
            && (found = try_file (dir, len, pth, &nomem)) == NULL)
          found = try_file (dir, len, tv_file, &nomem);
      }
      if (end == NULL)
        break;
      dir = end + 1;
    }
    places_add (&places, "), ");
  } else {
    places_add (&places, "%s (%s), ", source, dirs ? "empty" : "unset");
  }

  /* torch.hub.get_dir (): $TORCH_HOME/hub, else
   * ${XDG_CACHE_HOME:-~/.cache}/torch/hub */
  if ((env = getenv ("TORCH_HOME")) != NULL && env[0] != '\0')
    snprintf (hub, sizeof hub, "%s/hub/checkpoints", env);
  else if ((env = getenv ("XDG_CACHE_HOME")) != NULL && env[0] != '\0')
    snprintf (hub, sizeof hub, "%s/torch/hub/checkpoints", env);
  else if ((home = getenv ("HOME")) != NULL && home[0] != '\0')
    snprintf (hub, sizeof hub, "%s/.cache/torch/hub/checkpoints", home);
  else
    hub[0] = '\0';
  if (hub[0] != '\0' && tv_file != NULL) {
    places_add (&places, "%s, ", hub);
    if (found == NULL && !nomem)
      found = try_file (hub, strlen (hub), tv_file, &nomem);
  }

  places_add (&places, "%s", VGG_DATADIR);
  if (found == NULL && !nomem
      && (found = try_file (
              VGG_DATADIR, strlen (VGG_DATADIR), safetensors, &nomem))
          == NULL)
    found = try_file (VGG_DATADIR, strlen (VGG_DATADIR), tv_file, &nomem);

  if (nomem) {
    status = VGG_ERROR_NOMEM;
    goto out;
  }
  if (found == NULL) {
    if (known)
      status = vgg_set_error (error, VGG_ERROR_IO, NULL,
          "model \"%s\" not found: download %s into %s (looked for %s, %s "
          "and %s in %s)",
          name, known->url,
          hub[0]            ? hub
              : search_path ? "a folder of the search path"
                            : "a folder of $VGG_MODEL_PATH",
          safetensors, pth, tv_file, places.text);
    else
      status = vgg_set_error (error, VGG_ERROR_IO, NULL,
          "model \"%s\" not found (looked for %s and %s in %s); known "
          "names: vgg11, vgg11_bn, vgg13, vgg13_bn, vgg16, vgg16_bn, vgg19, "
          "vgg19_bn, vgg16-features",
          name, safetensors, pth, places.text);
  }

out:
  if (status == VGG_ERROR_NOMEM)
    vgg_set_error (error, status, name, "out of memory");
  free (safetensors);
  free (pth);
  *path = found;
  return status;
}

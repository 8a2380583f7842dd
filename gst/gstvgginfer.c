/* vgginfer: batched VGG inference on raw video.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
/**
 * SECTION:element-vgginfer
 * @title: vgginfer
 * @short_description: classifies video frames with a VGG network
 *
 * vgginfer runs a VGG network (torchvision's VGG11 to VGG19, with or
 * without batch-norm, or any smaller VGG-style network) on raw video
 * frames and attaches the results to them as #GstVggMeta; the video itself
 * passes through untouched.  The model is a safetensors file with
 * torchvision's (`features.N.weight`, `classifier.N.weight`) or timm's
 * tensor names; its metadata may carry the labels (`vgg.labels`, one per
 * line), the normalization (`vgg.mean`, `vgg.std`) and the input size
 * (`vgg.input_size`, "HxW").  A 1000-class model without labels gets
 * ImageNet's.  PyTorch checkpoints (.pth, as torch.save writes them) load
 * too, and #GstVggInfer:model may name torchvision's weights instead of a
 * file (`vgg16`, ..., `vgg16-features`, which selects mode=features and its
 * own normalization unless #GstVggInfer:mode, #GstVggInfer:mean or
 * #GstVggInfer:std say otherwise).
 *
 * Each frame is converted by a #GstVideoConverter from any raw format
 * straight to RGB at the model's input size (property #GstVggInfer:resize:
 * torchvision's centre crop by default), normalized with the model's mean
 * and std, and queued.  A streaming thread runs the network on up to
 * #GstVggInfer:batch-size frames at once (or on what arrived within
 * #GstVggInfer:batch-timeout milliseconds) and pushes the frames downstream
 * in their original order.  Serialized events and queries stay in order
 * with the frames.
 *
 * With #GstVggInfer:mode=classify the meta holds the #GstVggInfer:top-k
 * classes with their labels and probabilities; with mode=features it holds
 * the output of #GstVggInfer:feature-layer (fc7 by default).  When
 * #GstVggInfer:post-messages is true, each inferred frame also posts an
 * element message named "vgginfer" with the fields `timestamp`,
 * `stream-time`, `running-time`, `duration` (#GstClockTime), `model`
 * (string), `inference-ms` (double), `class-ids` (array of int), `labels`
 * (array of strings), `scores` (array of float) and, in features mode,
 * `feature-layer` (string) and `features` (array of float).  The bus
 * keeps every message until the application pops it: one that never
 * reads its bus (and reads the results from the #GstVggMeta instead)
 * should set post-messages=false, or its memory grows by about 1.6 KB per
 * frame.  `stream-time` and `running-time` are GST_CLOCK_TIME_NONE unless
 * the segment is in time (and, in reverse, has a stop).
 *
 * Interlaced input (interlace-mode=interleaved or mixed) is not
 * deinterlaced: the converter scales each field on its own, so results
 * differ from those of the same pixels as progressive frames; put
 * `deinterlace` in front for one picture per frame.  Caps the element
 * cannot take (interlace-mode=alternate, a width or height above 16384)
 * are refused with a negotiation error that says why, and a frame whose
 * buffer or #GstVideoMeta does not hold the picture its caps describe is
 * an error naming the frame.
 *
 * For live sources, #GstVggInfer:leaky=skip lets frames that find the
 * queue full (#GstVggInfer:max-queue frames waiting for inference) pass
 * without inference, so the source never blocks.
 *
 * All vgginfer elements of a process that load the same file (the same
 * file on disk, however its path is spelled) share one copy of the
 * weights; the last one to close frees it.  Elements with the same
 * #GstVggInfer:batch-group share one inference worker: each element
 * converts its own frames and pushes them, in its own order, from its own
 * streaming thread, while the worker runs them in batches of up to the
 * group's batch-size with the frames of the other streams, taking one
 * frame of each stream in turn.  The group is made by the first element
 * to reach PAUSED, with its #GstVggInfer:batch-size,
 * #GstVggInfer:batch-timeout and #GstVggInfer:threads; every element of a
 * group must load the same model file.
 *
 * #GstVggInfer:model may be set while PAUSED or PLAYING: the new file is
 * loaded in the calling thread, and the element uses it from its next
 * batch on; no frame is lost or reordered.  A file that does not load
 * posts a WARNING message (not an ERROR, which would stop the pipeline)
 * naming the file and the problem, and the old model keeps running.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 -m videotestsrc num-buffers=20 ! \
 *     vgginfer model=vgg16.safetensors batch-size=4 threads=2 ! fakesink
 * ]| Classifies 20 test frames with VGG16 in batches of four and prints
 * the results from the bus.
 * |[
 * gst-launch-1.0 \
 *     videotestsrc num-buffers=40 ! vgginfer model=vgg16.safetensors \
 *         batch-group=cams batch-size=4 ! fakesink \
 *     videotestsrc num-buffers=40 pattern=ball ! \
 *         vgginfer model=vgg16.safetensors batch-group=cams ! fakesink
 * ]| Two streams, one copy of VGG16 and one worker that batches the frames
 * of both.
 */

#include "gstvgginfer.h"

#include <float.h>
#include <math.h>
#include <string.h>

#include "gstvggbatchgroup.h"
#include "gstvggmodelcache.h"
#include "gstvggvideo.h"
#include "vggorc.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <sys/stat.h>
#include <unistd.h>

GST_DEBUG_CATEGORY_STATIC (gst_vgg_infer_debug);
#define GST_CAT_DEFAULT gst_vgg_infer_debug

#define DEFAULT_MODEL NULL
#define DEFAULT_LABELS NULL
#define DEFAULT_MODE GST_VGG_INFER_MODE_CLASSIFY
#define DEFAULT_FEATURE_LAYER GST_VGG_INFER_FEATURE_LAYER_FC7
#define DEFAULT_NORMALIZE_FEATURES FALSE
#define DEFAULT_TOP_K 5
#define DEFAULT_THRESHOLD 0.0
#define DEFAULT_BATCH_SIZE 1
#define DEFAULT_BATCH_TIMEOUT 100
#define DEFAULT_THREADS 0
#define DEFAULT_PRECISION GST_VGG_INFER_PRECISION_FP32
#define DEFAULT_INFERENCE_INTERVAL 1
#define DEFAULT_LEAKY GST_VGG_INFER_LEAKY_NONE
#define DEFAULT_MAX_QUEUE 16
#define DEFAULT_POST_MESSAGES TRUE
#define DEFAULT_RESIZE GST_VGG_INFER_RESIZE_CENTER_CROP
#define DEFAULT_MEAN NULL
#define DEFAULT_STD NULL
#define DEFAULT_BATCH_GROUP NULL

#define MAX_BATCH_SIZE 256
#define MAX_THREADS 256
#define MAX_TOP_K 100000
/* Labels files: ImageNet's 1000 labels take 21 KB; 16 MiB holds a
 * million classes.  Anything larger (or endless) is refused. */
#define MAX_LABELS_FILE_SIZE (16 << 20)

enum
{
  PROP_0,
  PROP_MODEL,
  PROP_LABELS,
  PROP_MODE,
  PROP_FEATURE_LAYER,
  PROP_NORMALIZE_FEATURES,
  PROP_TOP_K,
  PROP_THRESHOLD,
  PROP_BATCH_SIZE,
  PROP_BATCH_TIMEOUT,
  PROP_THREADS,
  PROP_PRECISION,
  PROP_INFERENCE_INTERVAL,
  PROP_LEAKY,
  PROP_MAX_QUEUE,
  PROP_POST_MESSAGES,
  PROP_RESIZE,
  PROP_BATCH_GROUP,
  PROP_FRAMES_INFERRED,
  PROP_FRAMES_SKIPPED,
  PROP_MEAN_INFERENCE_MS,
  PROP_MEAN,
  PROP_STD
};

static GstStaticPadTemplate sink_template =
    GST_STATIC_PAD_TEMPLATE ("sink", GST_PAD_SINK, GST_PAD_ALWAYS,
        GST_STATIC_CAPS ("video/x-raw, " GST_VGG_VIDEO_CAPS_FIELDS));

static GstStaticPadTemplate src_template =
    GST_STATIC_PAD_TEMPLATE ("src", GST_PAD_SRC, GST_PAD_ALWAYS,
        GST_STATIC_CAPS ("video/x-raw, " GST_VGG_VIDEO_CAPS_FIELDS));

#define gst_vgg_infer_parent_class parent_class
G_DEFINE_TYPE (GstVggInfer, gst_vgg_infer, GST_TYPE_ELEMENT);
GST_ELEMENT_REGISTER_DEFINE (
    vgginfer, "vgginfer", GST_RANK_NONE, GST_TYPE_VGG_INFER);

GType
gst_vgg_infer_mode_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    { GST_VGG_INFER_MODE_CLASSIFY, "Attach the top-k classes", "classify" },
    { GST_VGG_INFER_MODE_FEATURES, "Attach the feature vector of feature-layer",
        "features" },
    { 0, NULL, NULL }
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstVggInferMode", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

GType
gst_vgg_infer_feature_layer_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    { GST_VGG_INFER_FEATURE_LAYER_FC7,
        "Second classifier layer, after ReLU (4096 for VGG16)", "fc7" },
    { GST_VGG_INFER_FEATURE_LAYER_FC6,
        "First classifier layer, after ReLU (4096 for VGG16)", "fc6" },
    { GST_VGG_INFER_FEATURE_LAYER_POOL5,
        "Adaptive average pool output, flattened (25088 for VGG16)", "pool5" },
    { GST_VGG_INFER_FEATURE_LAYER_LOGITS, "Last classifier layer", "logits" },
    { 0, NULL, NULL }
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstVggInferFeatureLayer", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

GType
gst_vgg_infer_leaky_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    { GST_VGG_INFER_LEAKY_NONE, "Block upstream when the queue is full",
        "none" },
    { GST_VGG_INFER_LEAKY_SKIP,
        "Pass frames that find the queue full without inference", "skip" },
    { 0, NULL, NULL }
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstVggInferLeaky", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

GType
gst_vgg_infer_precision_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    { GST_VGG_INFER_PRECISION_FP32, "float32 throughout: torchvision's results",
        "fp32" },
    { GST_VGG_INFER_PRECISION_BF16,
        "bfloat16 weights and layer inputs, float32 sums: faster where the "
        "weights' bytes bound the time (the fully connected layers); logits "
        "within 3e-2 of the largest float32 logit on the models tested "
        "(README, \"Precision\")",
        "bf16" },
    { 0, NULL, NULL }
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstVggInferPrecision", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

GType
gst_vgg_infer_resize_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    { GST_VGG_INFER_RESIZE_CENTER_CROP,
        "Shorter side to 256/224 of the input size, then the central crop "
        "(torchvision's evaluation transform)",
        "center-crop" },
    { GST_VGG_INFER_RESIZE_STRETCH,
        "Scale to the input size, ignoring the aspect ratio", "stretch" },
    { GST_VGG_INFER_RESIZE_LETTERBOX,
        "Scale to fit, keeping the aspect ratio, borders in the mean colour",
        "letterbox" },
    { 0, NULL, NULL }
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstVggInferResize", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

static const VggOutput feature_outputs[] = {
  [GST_VGG_INFER_FEATURE_LAYER_FC7] = VGG_OUTPUT_FC7,
  [GST_VGG_INFER_FEATURE_LAYER_FC6] = VGG_OUTPUT_FC6,
  [GST_VGG_INFER_FEATURE_LAYER_POOL5] = VGG_OUTPUT_POOL5,
  [GST_VGG_INFER_FEATURE_LAYER_LOGITS] = VGG_OUTPUT_LOGITS,
};

static void gst_vgg_infer_set_property (
    GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec);
static void gst_vgg_infer_get_property (
    GObject *object, guint prop_id, GValue *value, GParamSpec *pspec);
static void gst_vgg_infer_finalize (GObject *object);
static GstStateChangeReturn gst_vgg_infer_change_state (
    GstElement *element, GstStateChange transition);
static GstFlowReturn gst_vgg_infer_chain (
    GstPad *pad, GstObject *parent, GstBuffer *buffer);
static gboolean gst_vgg_infer_sink_event (
    GstPad *pad, GstObject *parent, GstEvent *event);
static gboolean gst_vgg_infer_sink_query (
    GstPad *pad, GstObject *parent, GstQuery *query);
static gboolean gst_vgg_infer_src_query (
    GstPad *pad, GstObject *parent, GstQuery *query);
static gboolean gst_vgg_infer_sink_activate_mode (
    GstPad *pad, GstObject *parent, GstPadMode mode, gboolean active);
static gboolean gst_vgg_infer_src_activate_mode (
    GstPad *pad, GstObject *parent, GstPadMode mode, gboolean active);
static void gst_vgg_infer_loop (GstVggInfer *self);
static gboolean gst_vgg_infer_parse_rgb (
    const gchar *text, gfloat v[3], gboolean positive);

static void
gst_vgg_infer_class_init (GstVggInferClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS;
  const GParamFlags playing = rw | GST_PARAM_MUTABLE_PLAYING;
  const GParamFlags ready = rw | GST_PARAM_MUTABLE_READY;
  const GParamFlags ro = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;

  GST_DEBUG_CATEGORY_INIT (
      gst_vgg_infer_debug, "vgginfer", 0, "VGG inference element");

  gobject_class->set_property = gst_vgg_infer_set_property;
  gobject_class->get_property = gst_vgg_infer_get_property;
  gobject_class->finalize = gst_vgg_infer_finalize;

  g_object_class_install_property (gobject_class, PROP_MODEL,
      g_param_spec_string ("model", "Model",
          "Model file (safetensors or PyTorch .pth with torchvision or timm "
          "tensor names) or model name (vgg11 ... vgg19_bn, vgg16-features: "
          "found in $GST_VGG_MODEL_PATH, torch's hub cache or the data "
          "folder); required.  Set while PAUSED or PLAYING, the new model is "
          "loaded at once and used from the next batch on; one that does not "
          "load posts a warning and the old one keeps running",
          DEFAULT_MODEL, playing));
  g_object_class_install_property (gobject_class, PROP_LABELS,
      g_param_spec_string ("labels", "Labels",
          "UTF-8 text file (a regular file of at most 16 MiB) with one class "
          "label per line, overriding the model's (a 1000-class model "
          "without labels gets ImageNet's)",
          DEFAULT_LABELS, ready));
  g_object_class_install_property (gobject_class, PROP_MODE,
      g_param_spec_enum ("mode", "Mode",
          "What to attach to the frames: the top-k classes or a feature "
          "vector",
          GST_TYPE_VGG_INFER_MODE, DEFAULT_MODE, playing));
  g_object_class_install_property (gobject_class, PROP_FEATURE_LAYER,
      g_param_spec_enum ("feature-layer", "Feature layer",
          "Layer whose output is the feature vector in mode=features",
          GST_TYPE_VGG_INFER_FEATURE_LAYER, DEFAULT_FEATURE_LAYER, playing));
  g_object_class_install_property (gobject_class, PROP_NORMALIZE_FEATURES,
      g_param_spec_boolean ("normalize-features", "Normalize features",
          "Scale feature vectors to unit L2 norm", DEFAULT_NORMALIZE_FEATURES,
          playing));
  g_object_class_install_property (gobject_class, PROP_TOP_K,
      g_param_spec_uint ("top-k", "Top k",
          "Number of best classes attached per frame (at most the model's "
          "classes)",
          1, MAX_TOP_K, DEFAULT_TOP_K, playing));
  g_object_class_install_property (gobject_class, PROP_THRESHOLD,
      g_param_spec_double ("threshold", "Threshold",
          "Minimum probability of an attached class", 0.0, 1.0,
          DEFAULT_THRESHOLD, playing));
  g_object_class_install_property (gobject_class, PROP_BATCH_SIZE,
      g_param_spec_uint ("batch-size", "Batch size",
          "Maximum number of frames per forward pass", 1, MAX_BATCH_SIZE,
          DEFAULT_BATCH_SIZE, playing));
  g_object_class_install_property (gobject_class, PROP_BATCH_TIMEOUT,
      g_param_spec_uint ("batch-timeout", "Batch timeout",
          "Longest wait in milliseconds for a batch to fill before running "
          "a partial one (also the element's latency when batch-size > 1)",
          0, 60000, DEFAULT_BATCH_TIMEOUT, playing));
  g_object_class_install_property (gobject_class, PROP_THREADS,
      g_param_spec_int ("threads", "Threads",
          "Number of inference threads (0 = one per processor)", 0, MAX_THREADS,
          DEFAULT_THREADS, playing));
  g_object_class_install_property (gobject_class, PROP_PRECISION,
      g_param_spec_enum ("precision", "Precision",
          "Arithmetic of the network; the model's weights are packed for a "
          "precision once, by the first element that asks",
          GST_TYPE_VGG_INFER_PRECISION, DEFAULT_PRECISION, playing));
  g_object_class_install_property (gobject_class, PROP_INFERENCE_INTERVAL,
      g_param_spec_uint ("inference-interval", "Inference interval",
          "Run the network on every Nth frame; the others pass without "
          "results",
          1, G_MAXINT, DEFAULT_INFERENCE_INTERVAL, playing));
  g_object_class_install_property (gobject_class, PROP_LEAKY,
      g_param_spec_enum ("leaky", "Leaky",
          "What happens to a frame that finds max-queue frames waiting for "
          "inference",
          GST_TYPE_VGG_INFER_LEAKY, DEFAULT_LEAKY, playing));
  g_object_class_install_property (gobject_class, PROP_MAX_QUEUE,
      g_param_spec_uint ("max-queue", "Maximum queue",
          "Maximum number of frames waiting for inference (at least "
          "batch-size is used)",
          1, 4096, DEFAULT_MAX_QUEUE, playing));
  g_object_class_install_property (gobject_class, PROP_POST_MESSAGES,
      g_param_spec_boolean ("post-messages", "Post messages",
          "Post an element message with the results of every inferred "
          "frame; the bus keeps each until the application pops it (about "
          "1.6 KB per frame), so set false when nothing reads the bus",
          DEFAULT_POST_MESSAGES, playing));
  g_object_class_install_property (gobject_class, PROP_RESIZE,
      g_param_spec_enum ("resize", "Resize",
          "How frames are fitted to the model's input size",
          GST_TYPE_VGG_INFER_RESIZE, DEFAULT_RESIZE, playing));
  g_object_class_install_property (gobject_class, PROP_BATCH_GROUP,
      g_param_spec_string ("batch-group", "Batch group",
          "Name of a batch group: the vgginfer elements of a process with "
          "the same name (and the same model file) share one inference "
          "worker that batches their frames together, with the batch-size, "
          "batch-timeout, threads and precision of the first to start; NULL "
          "for an "
          "own worker",
          DEFAULT_BATCH_GROUP, ready));
  g_object_class_install_property (gobject_class, PROP_FRAMES_INFERRED,
      g_param_spec_uint64 ("frames-inferred", "Frames inferred",
          "Number of frames the network ran on", 0, G_MAXUINT64, 0, ro));
  g_object_class_install_property (gobject_class, PROP_FRAMES_SKIPPED,
      g_param_spec_uint64 ("frames-skipped", "Frames skipped",
          "Number of frames passed without inference by leaky=skip", 0,
          G_MAXUINT64, 0, ro));
  g_object_class_install_property (gobject_class, PROP_MEAN_INFERENCE_MS,
      g_param_spec_double ("mean-inference-ms", "Mean inference time",
          "Mean time of preprocessing and forward pass per frame, in "
          "milliseconds",
          0.0, G_MAXDOUBLE, 0.0, ro));
  g_object_class_install_property (gobject_class, PROP_MEAN,
      g_param_spec_string ("mean", "Mean",
          "RGB mean of inputs in [0,1] as \"R,G,B\", overriding the "
          "model's normalization",
          DEFAULT_MEAN, ready));
  g_object_class_install_property (gobject_class, PROP_STD,
      g_param_spec_string ("std", "Standard deviation",
          "RGB standard deviation of inputs in [0,1] as \"R,G,B\", "
          "overriding the model's normalization",
          DEFAULT_STD, ready));

  gst_type_mark_as_plugin_api (GST_TYPE_VGG_INFER_MODE, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_VGG_INFER_FEATURE_LAYER, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_VGG_INFER_LEAKY, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_VGG_INFER_RESIZE, 0);

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class, "VGG inference",
      "Filter/Analyzer/Video",
      "Classifies video frames or extracts feature vectors with a VGG "
      "network, attaching GstVggMeta",
      "gst-vgg developers");
  element_class->change_state = gst_vgg_infer_change_state;
}

static void
gst_vgg_infer_init (GstVggInfer *self)
{
  self->sinkpad = gst_pad_new_from_static_template (&sink_template, "sink");
  gst_pad_set_chain_function (self->sinkpad, gst_vgg_infer_chain);
  gst_pad_set_event_function (self->sinkpad, gst_vgg_infer_sink_event);
  gst_pad_set_query_function (self->sinkpad, gst_vgg_infer_sink_query);
  gst_pad_set_activatemode_function (
      self->sinkpad, gst_vgg_infer_sink_activate_mode);
  GST_PAD_SET_PROXY_CAPS (self->sinkpad);
  gst_element_add_pad (GST_ELEMENT (self), self->sinkpad);

  self->srcpad = gst_pad_new_from_static_template (&src_template, "src");
  gst_pad_set_query_function (self->srcpad, gst_vgg_infer_src_query);
  gst_pad_set_activatemode_function (
      self->srcpad, gst_vgg_infer_src_activate_mode);
  GST_PAD_SET_PROXY_CAPS (self->srcpad);
  gst_element_add_pad (GST_ELEMENT (self), self->srcpad);

  self->model_path = g_strdup (DEFAULT_MODEL);
  self->labels_path = g_strdup (DEFAULT_LABELS);
  self->mode = DEFAULT_MODE;
  self->feature_layer = DEFAULT_FEATURE_LAYER;
  self->normalize_features = DEFAULT_NORMALIZE_FEATURES;
  self->top_k = DEFAULT_TOP_K;
  self->threshold = DEFAULT_THRESHOLD;
  self->batch_size = DEFAULT_BATCH_SIZE;
  self->batch_timeout = DEFAULT_BATCH_TIMEOUT;
  self->threads = DEFAULT_THREADS;
  self->precision = DEFAULT_PRECISION;
  self->inference_interval = DEFAULT_INFERENCE_INTERVAL;
  self->leaky = DEFAULT_LEAKY;
  self->max_queue = DEFAULT_MAX_QUEUE;
  self->post_messages = DEFAULT_POST_MESSAGES;
  self->resize = DEFAULT_RESIZE;
  self->batch_group = g_strdup (DEFAULT_BATCH_GROUP);

  g_mutex_init (&self->lock);
  g_cond_init (&self->cond);
  self->queue = gst_queue_array_new_for_struct (sizeof (GstVggInferItem), 32);
  self->srcresult = GST_FLOW_FLUSHING;
  gst_segment_init (&self->segment, GST_FORMAT_UNDEFINED);
}

/* --- settings --- */

static gboolean
gst_vgg_infer_check_mutable_ready (GstVggInfer *self, GParamSpec *pspec)
{
  gboolean ok;

  GST_OBJECT_LOCK (self);
  ok = GST_STATE (self) <= GST_STATE_READY
      && GST_STATE_PENDING (self) <= GST_STATE_READY;
  GST_OBJECT_UNLOCK (self);
  if (!ok)
    g_warning ("vgginfer: property \"%s\" can only be changed in the NULL "
               "or READY state",
        pspec->name);
  return ok;
}

/* PAUSED or PLAYING, or on the way there: the model is in use. */
static gboolean
gst_vgg_infer_is_running (GstVggInfer *self)
{
  gboolean running;

  GST_OBJECT_LOCK (self);
  running = GST_STATE (self) >= GST_STATE_PAUSED
      || GST_STATE_PENDING (self) >= GST_STATE_PAUSED;
  GST_OBJECT_UNLOCK (self);
  return running;
}

/* `model` set while running: loads the new model here, in the setter's
 * thread, outside the streaming lock, and hands it to the task, which
 * switches at the next batch (gst_vgg_infer_switch_model).  A model that
 * does not load posts a WARNING, not an ERROR: an error message stops the
 * pipeline in gst-launch-1.0 and in most applications, and the point is
 * that the old model keeps running; the "model" property then still names
 * the old file. */
static void
gst_vgg_infer_change_model (GstVggInfer *self, const gchar *path)
{
  char error[VGG_ERROR_SIZE];
  VggStatus status = VGG_OK;
  VggModel *model = NULL, *old;
  gchar *current, *group;
  char *found = NULL;
  gint w = 0, h = 0;

  GST_OBJECT_LOCK (self);
  current = g_strdup (self->model_path);
  group = g_strdup (self->batch_group);
  GST_OBJECT_UNLOCK (self);

  if (group && group[0]) {
    GST_ELEMENT_WARNING (self, RESOURCE, SETTINGS,
        ("Cannot change the model of a batch-group member while running; "
         "keeping %s",
            current),
        ("batch-group \"%s\" shares one model: set \"model\" in the NULL or "
         "READY state",
            group));
    goto out;
  }
  if (path == NULL || path[0] == '\0') {
    g_snprintf (error, sizeof error, "no model file given");
    goto refused;
  }
  if (strchr (path, '/') == NULL && !g_file_test (path, G_FILE_TEST_EXISTS)) {
    status =
        vgg_model_find (path, g_getenv ("GST_VGG_MODEL_PATH"), &found, error);
    if (status != VGG_OK)
      goto refused;
  }
  model = gst_vgg_model_cache_acquire (found ? found : path, &status, error);
  if (model == NULL)
    goto refused;
  vgg_model_get_input_size (model, &w, &h);
  if (w < 32 || h < 32) {
    g_snprintf (error, sizeof error,
        "%s: input size %dx%d (HxW) is smaller than 32x32", path, h, w);
    gst_vgg_model_cache_release (model);
    goto refused;
  }

  GST_OBJECT_LOCK (self);
  g_free (self->model_path);
  self->model_path = g_strdup (path);
  GST_OBJECT_UNLOCK (self);
  g_mutex_lock (&self->lock);
  old = self->next_model;
  self->next_model = model;
  g_mutex_unlock (&self->lock);
  if (old)
    gst_vgg_model_cache_release (old);
  GST_INFO_OBJECT (self, "model %s loaded, used from the next batch", path);
  goto out;

refused:
  GST_ELEMENT_WARNING (self, RESOURCE, OPEN_READ,
      ("Could not load the model: %s; keeping %s", error,
          current ? current : "(none)"),
      ("vgg_model_load: %s", vgg_status_to_string (status)));
out:
  free (found);
  g_free (current);
  g_free (group);
}

static void
gst_vgg_infer_set_property (
    GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  GstVggInfer *self = GST_VGG_INFER (object);

  switch (prop_id) {
    case PROP_MODEL:
      if (gst_vgg_infer_is_running (self)) {
        gst_vgg_infer_change_model (self, g_value_get_string (value));
        return;
      }
      break;
    case PROP_MEAN:
    case PROP_STD: {
      gfloat v[3];
      if (!gst_vgg_infer_check_mutable_ready (self, pspec))
        return;
      if (!gst_vgg_infer_parse_rgb (
              g_value_get_string (value), v, prop_id == PROP_STD)) {
        g_warning ("vgginfer: property \"%s\": \"%s\" is not three "
                   "comma-separated numbers, finite as float%s; keeping the "
                   "old value",
            pspec->name, g_value_get_string (value),
            prop_id == PROP_STD ? ", positive and normal" : "");
        return;
      }
      break;
    }
    case PROP_LABELS:
    case PROP_BATCH_GROUP:
      if (!gst_vgg_infer_check_mutable_ready (self, pspec))
        return;
      break;
    default:
      break;
  }

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_MODEL:
      g_free (self->model_path);
      self->model_path = g_value_dup_string (value);
      break;
    case PROP_LABELS:
      g_free (self->labels_path);
      self->labels_path = g_value_dup_string (value);
      break;
    case PROP_MODE:
      self->mode = g_value_get_enum (value);
      self->mode_set = TRUE;
      break;
    case PROP_MEAN:
      g_free (self->mean_text);
      self->mean_text = g_value_dup_string (value);
      break;
    case PROP_STD:
      g_free (self->std_text);
      self->std_text = g_value_dup_string (value);
      break;
    case PROP_FEATURE_LAYER:
      self->feature_layer = g_value_get_enum (value);
      break;
    case PROP_NORMALIZE_FEATURES:
      self->normalize_features = g_value_get_boolean (value);
      break;
    case PROP_TOP_K:
      self->top_k = g_value_get_uint (value);
      break;
    case PROP_THRESHOLD:
      self->threshold = g_value_get_double (value);
      break;
    case PROP_BATCH_SIZE:
      self->batch_size = g_value_get_uint (value);
      break;
    case PROP_BATCH_TIMEOUT:
      self->batch_timeout = g_value_get_uint (value);
      break;
    case PROP_THREADS:
      self->threads = g_value_get_int (value);
      break;
    case PROP_PRECISION:
      self->precision = g_value_get_enum (value);
      break;
    case PROP_INFERENCE_INTERVAL:
      self->inference_interval = g_value_get_uint (value);
      break;
    case PROP_LEAKY:
      self->leaky = g_value_get_enum (value);
      break;
    case PROP_MAX_QUEUE:
      self->max_queue = g_value_get_uint (value);
      break;
    case PROP_POST_MESSAGES:
      self->post_messages = g_value_get_boolean (value);
      break;
    case PROP_RESIZE:
      self->resize = g_value_get_enum (value);
      break;
    case PROP_BATCH_GROUP:
      g_free (self->batch_group);
      self->batch_group = g_value_dup_string (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);

  /* a chain function waiting for room may now have it */
  if (prop_id == PROP_MAX_QUEUE || prop_id == PROP_BATCH_SIZE
      || prop_id == PROP_LEAKY) {
    g_mutex_lock (&self->lock);
    g_cond_broadcast (&self->cond);
    g_mutex_unlock (&self->lock);
  }
}

static void
gst_vgg_infer_get_property (
    GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  GstVggInfer *self = GST_VGG_INFER (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_MODEL:
      g_value_set_string (value, self->model_path);
      break;
    case PROP_LABELS:
      g_value_set_string (value, self->labels_path);
      break;
    case PROP_MODE:
      g_value_set_enum (value, self->mode);
      break;
    case PROP_MEAN:
      g_value_set_string (value, self->mean_text);
      break;
    case PROP_STD:
      g_value_set_string (value, self->std_text);
      break;
    case PROP_FEATURE_LAYER:
      g_value_set_enum (value, self->feature_layer);
      break;
    case PROP_NORMALIZE_FEATURES:
      g_value_set_boolean (value, self->normalize_features);
      break;
    case PROP_TOP_K:
      g_value_set_uint (value, self->top_k);
      break;
    case PROP_THRESHOLD:
      g_value_set_double (value, self->threshold);
      break;
    case PROP_BATCH_SIZE:
      g_value_set_uint (value, self->batch_size);
      break;
    case PROP_BATCH_TIMEOUT:
      g_value_set_uint (value, self->batch_timeout);
      break;
    case PROP_THREADS:
      g_value_set_int (value, self->threads);
      break;
    case PROP_PRECISION:
      g_value_set_enum (value, self->precision);
      break;
    case PROP_INFERENCE_INTERVAL:
      g_value_set_uint (value, self->inference_interval);
      break;
    case PROP_LEAKY:
      g_value_set_enum (value, self->leaky);
      break;
    case PROP_MAX_QUEUE:
      g_value_set_uint (value, self->max_queue);
      break;
    case PROP_POST_MESSAGES:
      g_value_set_boolean (value, self->post_messages);
      break;
    case PROP_RESIZE:
      g_value_set_enum (value, self->resize);
      break;
    case PROP_BATCH_GROUP:
      g_value_set_string (value, self->batch_group);
      break;
    case PROP_FRAMES_INFERRED:
      g_value_set_uint64 (value, self->frames_inferred);
      break;
    case PROP_FRAMES_SKIPPED:
      g_value_set_uint64 (value, self->frames_skipped);
      break;
    case PROP_MEAN_INFERENCE_MS:
      g_value_set_double (value,
          self->frames_inferred
              ? self->inference_ms_total / self->frames_inferred
              : 0.0);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

/* --- model --- */

/* The directory of the installed ImageNet labels: $GST_VGG_DATA_DIR, the
 * installed data directory, then the source tree's models/ (uninstalled
 * runs). */
static gchar *
gst_vgg_infer_find_imagenet_labels (void)
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
gst_vgg_infer_read_text_file (const gchar *path, GError **err)
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

/* Fills self->labels (n_classes quarks) from a text file, one label per
 * line.  Missing lines leave the classes without a label. */
static gboolean
gst_vgg_infer_read_labels (GstVggInfer *self, const gchar *path, GError **err)
{
  gchar *contents = NULL, **lines = NULL;
  gint n_lines;

  contents = gst_vgg_infer_read_text_file (path, err);
  if (contents == NULL)
    return FALSE;
  lines = g_strsplit (contents, "\n", -1);
  n_lines = g_strv_length (lines);
  /* a final newline does not start another label */
  if (n_lines > 0 && lines[n_lines - 1][0] == '\0')
    n_lines--;
  if (n_lines != self->n_classes)
    GST_ELEMENT_WARNING (self, RESOURCE, READ,
        ("Labels file \"%s\" has %d labels, the model %d classes", path,
            n_lines, self->n_classes),
        (NULL));
  for (gint i = 0; i < n_lines && i < self->n_classes; i++) {
    g_strchomp (lines[i]);
    self->labels[i] = lines[i][0] ? g_quark_from_string (lines[i]) : 0;
  }
  g_strfreev (lines);
  g_free (contents);
  return TRUE;
}

static void
gst_vgg_infer_close (GstVggInfer *self)
{
  VggModel *next;

  g_mutex_lock (&self->lock);
  next = g_steal_pointer (&self->next_model);
  g_mutex_unlock (&self->lock);
  g_clear_pointer (&next, gst_vgg_model_cache_release);
  g_clear_pointer (&self->context, vgg_context_free);
  g_clear_pointer (&self->input, g_free);
  self->input_alloc = 0;
  self->context_batch = 0;
  g_clear_pointer (&self->model, gst_vgg_model_cache_release);
  g_clear_pointer (&self->labels, g_free);
  g_clear_pointer (&self->loaded_model_path, g_free);
  g_clear_pointer (&self->loaded_labels_path, g_free);
  self->n_classes = 0;
}

/* (Re)creates the context for `batch` frames on `threads` threads in
 * `precision`. */
static gboolean
gst_vgg_infer_ensure_context (GstVggInfer *self, guint batch, gint threads,
    GstVggInferPrecision precision)
{
  char error[VGG_ERROR_SIZE];
  VggStatus status;

  if (self->context && self->context_batch == batch
      && self->context_threads == threads
      && self->context_precision == precision)
    return TRUE;
  g_clear_pointer (&self->context, vgg_context_free);
  g_clear_pointer (&self->input, g_free);
  self->context_batch = 0;
  status = vgg_context_new_with_precision (self->model, (int) batch, threads,
      (VggPrecision) precision, &self->context, error);
  if (status != VGG_OK) {
    GST_ELEMENT_ERROR (self, LIBRARY, INIT,
        ("Could not create an inference context: %s", error),
        ("vgg_context_new: %s, batch %u, threads %d, precision %s",
            vgg_status_to_string (status), batch, threads,
            vgg_precision_to_string ((VggPrecision) precision)));
    return FALSE;
  }
  self->input_alloc =
      (gsize) batch * 3 * self->model_width * self->model_height;
  self->input = g_new (gfloat, self->input_alloc);
  self->context_batch = batch;
  self->context_threads = threads;
  self->context_precision = precision;
  return TRUE;
}

/* Parses "R,G,B" (NULL or "" leaves v as it is): three numbers that are
 * finite as floats (1e39 is not), and with `positive` (a std) above zero
 * and normal as floats (1e-45 would divide to infinity). */
static gboolean
gst_vgg_infer_parse_rgb (const gchar *text, gfloat v[3], gboolean positive)
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

/* The input normalization: the mean/std properties, else the model
 * file's, else the known model's (vgg16-features), else ImageNet's. */
static gboolean
gst_vgg_infer_update_normalization (GstVggInfer *self)
{
  gfloat mean[3], std[3];
  gboolean ok;

  if (!vgg_model_get_normalization (self->model, mean, std) && self->known) {
    memcpy (mean, self->known->mean, sizeof mean);
    memcpy (std, self->known->std, sizeof std);
  }
  GST_OBJECT_LOCK (self);
  ok = gst_vgg_infer_parse_rgb (self->mean_text, mean, FALSE)
      && gst_vgg_infer_parse_rgb (self->std_text, std, TRUE);
  GST_OBJECT_UNLOCK (self);
  if (!ok) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("Invalid mean \"%s\" or std \"%s\": three comma-separated "
         "numbers (std positive) expected",
            GST_STR_NULL (self->mean_text), GST_STR_NULL (self->std_text)),
        (NULL));
    return FALSE;
  }
  for (gint c = 0; c < 3; c++) {
    self->scale[c] = 1.0f / (255.0f * std[c]);
    self->offset[c] = -mean[c] / std[c];
    if (!isfinite (self->scale[c]) || !isfinite (self->offset[c])) {
      GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
          ("Mean %g and std %g (channel %d) give a normalization "
           "(x - mean) / std that overflows a float",
              mean[c], std[c], c),
          (NULL));
      return FALSE;
    }
  }
  self->border_argb = 0xff000000u
      | (guint32) CLAMP (lrintf (mean[0] * 255), 0, 255) << 16
      | (guint32) CLAMP (lrintf (mean[1] * 255), 0, 255) << 8
      | (guint32) CLAMP (lrintf (mean[2] * 255), 0, 255);
  return TRUE;
}

/* Loads the model and its labels, and creates the context: what a state
 * change to READY needs.  Errors are posted on the bus. */
static gboolean
gst_vgg_infer_open (GstVggInfer *self)
{
  gchar *model_path, *labels_path, *imagenet = NULL;
  char error[VGG_ERROR_SIZE];
  VggStatus status;
  GError *err = NULL;
  gchar *found = NULL;
  guint batch;
  gint threads;
  GstVggInferPrecision precision;
  gboolean ret = FALSE, grouped;

  GST_OBJECT_LOCK (self);
  model_path = g_strdup (self->model_path);
  labels_path = g_strdup (self->labels_path);
  batch = self->batch_size;
  threads = self->threads;
  precision = self->precision;
  grouped = self->batch_group != NULL && self->batch_group[0] != '\0';
  GST_OBJECT_UNLOCK (self);

  gst_vgg_infer_close (self);
  gst_clear_buffer (&self->rgbx);
  if (model_path == NULL || model_path[0] == '\0') {
    GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND, ("No model file given"),
        ("set the \"model\" property to a safetensors file"));
    goto out;
  }
  /* A model name (vgg16, ...) unless it is a file here */
  self->known = vgg_known_model_lookup (model_path);
  if (strchr (model_path, '/') == NULL
      && !g_file_test (model_path, G_FILE_TEST_EXISTS)) {
    status = vgg_model_find (
        model_path, g_getenv ("GST_VGG_MODEL_PATH"), &found, error);
    if (status != VGG_OK) {
      GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND,
          ("Could not find the model: %s", error), (NULL));
      goto out;
    }
  } else {
    self->known = NULL;
  }
  GST_OBJECT_LOCK (self);
  if (!self->mode_set)
    self->mode = self->known && self->known->features
        ? GST_VGG_INFER_MODE_FEATURES
        : DEFAULT_MODE;
  GST_OBJECT_UNLOCK (self);
  self->model =
      gst_vgg_model_cache_acquire (found ? found : model_path, &status, error);
  if (self->model == NULL) {
    if (status == VGG_ERROR_IO)
      GST_ELEMENT_ERROR (self, RESOURCE, OPEN_READ,
          ("Could not load the model: %s", error),
          ("vgg_model_load: %s", vgg_status_to_string (status)));
    else
      GST_ELEMENT_ERROR (self, RESOURCE, FAILED,
          ("Could not load the model: %s", error),
          ("vgg_model_load: %s", vgg_status_to_string (status)));
    goto out;
  }
  vgg_model_get_input_size (
      self->model, &self->model_width, &self->model_height);
  if (self->model_width < 32 || self->model_height < 32) {
    GST_ELEMENT_ERROR (self, RESOURCE, FAILED,
        ("Could not load the model: %s: input size %dx%d (HxW) is smaller "
         "than 32x32",
            model_path, self->model_height, self->model_width),
        (NULL));
    goto out;
  }
  self->n_classes = vgg_model_get_n_classes (self->model);
  self->labels = g_new0 (GQuark, MAX (self->n_classes, 1));

  if (labels_path && labels_path[0]) {
    if (!gst_vgg_infer_read_labels (self, labels_path, &err)) {
      GST_ELEMENT_ERROR (self, RESOURCE, OPEN_READ,
          ("Could not read the labels: %s", err->message), (NULL));
      goto out;
    }
  } else if (vgg_model_get_n_labels (self->model) > 0) {
    gint n = MIN (vgg_model_get_n_labels (self->model), self->n_classes);
    for (gint i = 0; i < n; i++) {
      const char *label = vgg_model_get_label (self->model, i);
      self->labels[i] = label && label[0] ? g_quark_from_string (label) : 0;
    }
  } else if (self->n_classes == 1000) {
    imagenet = gst_vgg_infer_find_imagenet_labels ();
    if (imagenet == NULL) {
      GST_ELEMENT_WARNING (self, RESOURCE, NOT_FOUND,
          ("ImageNet labels not found; results carry class ids only"),
          ("looked in $GST_VGG_DATA_DIR, %s and %s", VGG_DATADIR,
              VGG_SOURCE_DATADIR));
    } else if (!gst_vgg_infer_read_labels (self, imagenet, &err)) {
      GST_ELEMENT_WARNING (self, RESOURCE, READ,
          ("Could not read the ImageNet labels: %s", err->message), (NULL));
    } else {
      GST_INFO_OBJECT (self, "using the ImageNet labels of %s", imagenet);
    }
  }

  if (!gst_vgg_infer_update_normalization (self))
    goto out;
  gst_video_info_set_format (&self->rgbx_info, GST_VIDEO_FORMAT_RGBx,
      self->model_width, self->model_height);
  self->rgbx = gst_buffer_new_allocate (NULL, self->rgbx_info.size, NULL);

  /* a batch group's worker has the context */
  if (!grouped
      && !gst_vgg_infer_ensure_context (self, batch, threads, precision))
    goto out;
  GST_INFO_OBJECT (self,
      "loaded %s: %s (%s), %d classes, input %dx%d (WxH), batch %u, "
      "threads %d",
      model_path, vgg_model_get_name (self->model),
      vgg_model_get_arch (self->model), self->n_classes, self->model_width,
      self->model_height, batch,
      self->context ? vgg_context_get_threads (self->context) : -1);
  self->loaded_model_path = g_steal_pointer (&model_path);
  self->loaded_labels_path = g_steal_pointer (&labels_path);
  ret = TRUE;

out:
  if (!ret) {
    gst_vgg_infer_close (self);
    gst_clear_buffer (&self->rgbx);
  }
  g_clear_error (&err);
  free (found);
  g_free (imagenet);
  g_free (model_path);
  g_free (labels_path);
  return ret;
}

/* --- the queue --- */

/* Drops the queued frames and serialized events and abandons a queued
 * query.  Unless `full`, sticky events other than SEGMENT and EOS stay
 * queued (in order): the frames after a flush still need the caps.  Lock
 * held. */
static void
gst_vgg_infer_flush_queue_locked (GstVggInfer *self, gboolean full)
{
  guint len = gst_queue_array_get_length (self->queue);

  for (guint i = 0; i < len; i++) {
    GstVggInferItem item =
        *(GstVggInferItem *) gst_queue_array_pop_head_struct (self->queue);
    if (item.type == GST_VGG_INFER_ITEM_QUERY)
      continue;
    if (!full && item.type == GST_VGG_INFER_ITEM_EVENT
        && GST_EVENT_IS_STICKY (item.object)
        && GST_EVENT_TYPE (item.object) != GST_EVENT_SEGMENT
        && GST_EVENT_TYPE (item.object) != GST_EVENT_EOS) {
      gst_queue_array_push_tail_struct (self->queue, &item);
      continue;
    }
    gst_mini_object_unref (item.object);
  }
  self->n_pending = 0;
  if (self->query && !self->query_running) {
    self->query = NULL;
    self->query_result = FALSE;
  }
  g_cond_broadcast (&self->cond);
}

static void
gst_vgg_infer_push_item_locked (
    GstVggInfer *self, GstVggInferItemType type, gpointer object)
{
  GstVggInferItem item = { type, GST_MINI_OBJECT_CAST (object),
    g_get_monotonic_time (), self->frame_count };

  gst_queue_array_push_tail_struct (self->queue, &item);
  if (type == GST_VGG_INFER_ITEM_BUFFER)
    self->n_pending++;
  g_cond_broadcast (&self->cond);
}

static GstFlowReturn
gst_vgg_infer_chain (GstPad *pad, GstObject *parent, GstBuffer *buffer)
{
  GstVggInfer *self = GST_VGG_INFER (parent);
  GstVggInferItemType type = GST_VGG_INFER_ITEM_BUFFER;
  GstFlowReturn ret;
  guint max_queue, interval;
  GstVggInferLeaky leaky;
  gboolean skipped = FALSE;

  GST_OBJECT_LOCK (self);
  max_queue = MAX (self->max_queue, self->batch_size);
  interval = self->inference_interval;
  leaky = self->leaky;
  GST_OBJECT_UNLOCK (self);

  g_mutex_lock (&self->lock);
  if (interval > 1 && self->frame_count % interval != 0)
    type = GST_VGG_INFER_ITEM_PASS;
  while (type == GST_VGG_INFER_ITEM_BUFFER && self->srcresult == GST_FLOW_OK
      && self->n_pending >= max_queue) {
    if (leaky == GST_VGG_INFER_LEAKY_SKIP) {
      type = GST_VGG_INFER_ITEM_PASS;
      skipped = TRUE;
      break;
    }
    g_cond_wait (&self->cond, &self->lock);
    /* the properties may have changed while waiting */
    GST_OBJECT_LOCK (self);
    max_queue = MAX (self->max_queue, self->batch_size);
    leaky = self->leaky;
    GST_OBJECT_UNLOCK (self);
  }
  ret = self->srcresult;
  if (ret == GST_FLOW_OK)
    gst_vgg_infer_push_item_locked (self, type, buffer);
  self->frame_count++;
  g_mutex_unlock (&self->lock);

  if (ret != GST_FLOW_OK) {
    GST_DEBUG_OBJECT (self, "refusing buffer: %s", gst_flow_get_name (ret));
    gst_buffer_unref (buffer);
  } else if (skipped) {
    GST_OBJECT_LOCK (self);
    self->frames_skipped++;
    GST_OBJECT_UNLOCK (self);
    GST_LOG_OBJECT (self, "queue full, frame passes without inference");
  }
  return ret;
}

static gboolean
gst_vgg_infer_sink_event (GstPad *pad, GstObject *parent, GstEvent *event)
{
  GstVggInfer *self = GST_VGG_INFER (parent);
  GstFlowReturn result;
  gboolean ret = TRUE;

  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_FLUSH_START:
      /* downstream first, so that a push in the task returns */
      ret = gst_pad_push_event (self->srcpad, event);
      g_mutex_lock (&self->lock);
      self->srcresult = GST_FLOW_FLUSHING;
      gst_vgg_infer_flush_queue_locked (self, FALSE);
      g_mutex_unlock (&self->lock);
      if (self->group_member)
        gst_vgg_batch_group_cancel (self->group_member);
      gst_pad_pause_task (self->srcpad);
      GST_DEBUG_OBJECT (self, "flush started, task paused");
      return ret;
    case GST_EVENT_FLUSH_STOP:
      g_mutex_lock (&self->lock);
      gst_vgg_infer_flush_queue_locked (self, FALSE);
      self->srcresult = GST_FLOW_OK;
      self->frame_count = 0;
      g_mutex_unlock (&self->lock);
      if (self->group_member)
        gst_vgg_batch_group_resume (self->group_member);
      ret = gst_pad_push_event (self->srcpad, event);
      if (GST_PAD_MODE (self->srcpad) == GST_PAD_MODE_PUSH)
        gst_pad_start_task (
            self->srcpad, (GstTaskFunction) gst_vgg_infer_loop, self, NULL);
      return ret;
    default:
      break;
  }

  if (GST_EVENT_TYPE (event) == GST_EVENT_CAPS) {
    /* accepted (by the ACCEPT_CAPS query): caps refused before may be
     * refused again, with a new error */
    GST_OBJECT_LOCK (self);
    gst_clear_caps (&self->caps_error);
    GST_OBJECT_UNLOCK (self);
  }
  if (!GST_EVENT_IS_SERIALIZED (event))
    return gst_pad_push_event (self->srcpad, event);

  g_mutex_lock (&self->lock);
  result = self->srcresult;
  if (result == GST_FLOW_OK)
    gst_vgg_infer_push_item_locked (self, GST_VGG_INFER_ITEM_EVENT, event);
  g_mutex_unlock (&self->lock);
  if (result == GST_FLOW_OK)
    return TRUE;

  /* The task has stopped on an error or EOS downstream: sticky events
   * (EOS among them) still go on, so the pipeline can end. */
  if (result != GST_FLOW_FLUSHING && GST_EVENT_IS_STICKY (event)) {
    GST_DEBUG_OBJECT (self,
        "task stopped (%s), pushing %" GST_PTR_FORMAT " directly",
        gst_flow_get_name (result), event);
    return gst_pad_push_event (self->srcpad, event);
  }
  GST_DEBUG_OBJECT (self, "dropping %" GST_PTR_FORMAT ": %s", event,
      gst_flow_get_name (result));
  gst_event_unref (event);
  return FALSE;
}

static gboolean
gst_vgg_infer_sink_query (GstPad *pad, GstObject *parent, GstQuery *query)
{
  GstVggInfer *self = GST_VGG_INFER (parent);
  gboolean ret;

  if (GST_QUERY_TYPE (query) == GST_QUERY_ACCEPT_CAPS)
    return gst_vgg_video_sink_accept_caps (
        GST_ELEMENT (self), pad, parent, query, &self->caps_error);
  if (!GST_QUERY_IS_SERIALIZED (query))
    return gst_pad_query_default (pad, parent, query);

  /* Serialized queries (allocation, drain) are answered by downstream
   * after the frames queued before them. */
  g_mutex_lock (&self->lock);
  while (self->query && self->srcresult == GST_FLOW_OK)
    g_cond_wait (&self->cond, &self->lock);
  if (self->srcresult != GST_FLOW_OK) {
    g_mutex_unlock (&self->lock);
    return FALSE;
  }
  self->query = query;
  self->query_running = FALSE;
  self->query_result = FALSE;
  gst_vgg_infer_push_item_locked (self, GST_VGG_INFER_ITEM_QUERY, query);
  while (self->query == query)
    g_cond_wait (&self->cond, &self->lock);
  ret = self->query_result;
  g_mutex_unlock (&self->lock);
  return ret;
}

static gboolean
gst_vgg_infer_src_query (GstPad *pad, GstObject *parent, GstQuery *query)
{
  GstVggInfer *self = GST_VGG_INFER (parent);

  switch (GST_QUERY_TYPE (query)) {
    case GST_QUERY_LATENCY: {
      GstClockTime min, max, own = 0;
      gboolean live;

      if (!gst_pad_peer_query (self->sinkpad, query))
        return FALSE;
      gst_query_parse_latency (query, &live, &min, &max);
      GST_OBJECT_LOCK (self);
      /* a frame may wait batch-timeout for its batch to fill */
      if (self->batch_size > 1)
        own = self->batch_timeout * GST_MSECOND;
      GST_OBJECT_UNLOCK (self);
      min += own;
      if (GST_CLOCK_TIME_IS_VALID (max))
        max += own;
      GST_DEBUG_OBJECT (self,
          "latency: live %d, min %" GST_TIME_FORMAT ", max %" GST_TIME_FORMAT
          " (own %" GST_TIME_FORMAT ")",
          live, GST_TIME_ARGS (min), GST_TIME_ARGS (max), GST_TIME_ARGS (own));
      gst_query_set_latency (query, live, min, max);
      return TRUE;
    }
    default:
      return gst_pad_query_default (pad, parent, query);
  }
}

static gboolean
gst_vgg_infer_sink_activate_mode (
    GstPad *pad, GstObject *parent, GstPadMode mode, gboolean active)
{
  GstVggInfer *self = GST_VGG_INFER (parent);

  if (mode != GST_PAD_MODE_PUSH)
    return FALSE;
  g_mutex_lock (&self->lock);
  if (active) {
    self->frame_count = 0;
  } else {
    /* wakes a chain function waiting for room */
    self->srcresult = GST_FLOW_FLUSHING;
    gst_vgg_infer_flush_queue_locked (self, TRUE);
  }
  g_mutex_unlock (&self->lock);
  return TRUE;
}

static gboolean
gst_vgg_infer_src_activate_mode (
    GstPad *pad, GstObject *parent, GstPadMode mode, gboolean active)
{
  GstVggInfer *self = GST_VGG_INFER (parent);

  if (mode != GST_PAD_MODE_PUSH)
    return FALSE;
  if (active) {
    g_mutex_lock (&self->lock);
    self->srcresult = GST_FLOW_OK;
    g_mutex_unlock (&self->lock);
    if (self->group_member)
      gst_vgg_batch_group_resume (self->group_member);
    return gst_pad_start_task (
        pad, (GstTaskFunction) gst_vgg_infer_loop, self, NULL);
  }
  g_mutex_lock (&self->lock);
  self->srcresult = GST_FLOW_FLUSHING;
  gst_vgg_infer_flush_queue_locked (self, TRUE);
  g_mutex_unlock (&self->lock);
  if (self->group_member)
    gst_vgg_batch_group_cancel (self->group_member);
  return gst_pad_stop_task (pad);
}

/* --- the streaming task --- */

/* Source rectangle (crop) and destination rectangle of the conversion of
 * a w x h frame to the model's mw x mh input. */
static void
gst_vgg_infer_fit (GstVggInferResize resize, gint w, gint h, gint mw, gint mh,
    gint src[4], gint dst[4])
{
  src[0] = src[1] = 0;
  src[2] = w;
  src[3] = h;
  dst[0] = dst[1] = 0;
  dst[2] = mw;
  dst[3] = mh;
  switch (resize) {
    case GST_VGG_INFER_RESIZE_CENTER_CROP: {
      /* torchvision: Resize(256) then CenterCrop(224), i.e. the shorter
       * side scaled to min(mw, mh) * 256 / 224, then the central mw x mh;
       * in source pixels the crop is mw / s x mh / s. */
      gdouble s = MIN (mw, mh) * (256.0 / 224.0) / MIN (w, h);
      src[2] = CLAMP ((gint) lround (mw / s), 1, w);
      src[3] = CLAMP ((gint) lround (mh / s), 1, h);
      src[0] = (w - src[2]) / 2;
      src[1] = (h - src[3]) / 2;
      break;
    }
    case GST_VGG_INFER_RESIZE_LETTERBOX: {
      gdouble s = MIN ((gdouble) mw / w, (gdouble) mh / h);
      dst[2] = CLAMP ((gint) lround (w * s), 1, mw);
      dst[3] = CLAMP ((gint) lround (h * s), 1, mh);
      dst[0] = (mw - dst[2]) / 2;
      dst[1] = (mh - dst[3]) / 2;
      break;
    }
    case GST_VGG_INFER_RESIZE_STRETCH:
      break;
  }
}

static gboolean
gst_vgg_infer_ensure_converter (GstVggInfer *self, GstVggInferResize resize)
{
  GstStructure *config;
  gint src[4], dst[4];

  if (self->converter && self->converter_resize == resize)
    return TRUE;
  g_clear_pointer (&self->converter, gst_video_converter_free);
  if (!self->have_info) {
    GST_ELEMENT_ERROR (
        self, CORE, NEGOTIATION, (NULL), ("received a buffer before caps"));
    return FALSE;
  }
  /* the converter wants the same rate and interlacing on both sides */
  GST_VIDEO_INFO_FPS_N (&self->rgbx_info) =
      GST_VIDEO_INFO_FPS_N (&self->in_info);
  GST_VIDEO_INFO_FPS_D (&self->rgbx_info) =
      GST_VIDEO_INFO_FPS_D (&self->in_info);
  GST_VIDEO_INFO_INTERLACE_MODE (&self->rgbx_info) =
      GST_VIDEO_INFO_INTERLACE_MODE (&self->in_info);
  gst_vgg_infer_fit (resize, GST_VIDEO_INFO_WIDTH (&self->in_info),
      GST_VIDEO_INFO_HEIGHT (&self->in_info), self->model_width,
      self->model_height, src, dst);
  /* An interlaced frame is scaled field by field, and GstVideoConverter
   * wants both fields of the same height on each side (fields of no
   * rows, or of 2 and 1, are CRITICALs in its scaler): even rows and
   * heights of at least 2 (the caps have at least two rows). */
  if (GST_VIDEO_INFO_IS_INTERLACED (&self->in_info)) {
    src[3] = MAX (src[3] & ~1, 2);
    src[1] = MIN (src[1] & ~1, GST_VIDEO_INFO_HEIGHT (&self->in_info) - src[3]);
    dst[3] = MAX (dst[3] & ~1, 2);
    dst[1] &= ~1;
  }
  config =
      gst_structure_new ("GstVideoConverter", GST_VIDEO_CONVERTER_OPT_SRC_X,
          G_TYPE_INT, src[0], GST_VIDEO_CONVERTER_OPT_SRC_Y, G_TYPE_INT, src[1],
          GST_VIDEO_CONVERTER_OPT_SRC_WIDTH, G_TYPE_INT, src[2],
          GST_VIDEO_CONVERTER_OPT_SRC_HEIGHT, G_TYPE_INT, src[3],
          GST_VIDEO_CONVERTER_OPT_DEST_X, G_TYPE_INT, dst[0],
          GST_VIDEO_CONVERTER_OPT_DEST_Y, G_TYPE_INT, dst[1],
          GST_VIDEO_CONVERTER_OPT_DEST_WIDTH, G_TYPE_INT, dst[2],
          GST_VIDEO_CONVERTER_OPT_DEST_HEIGHT, G_TYPE_INT, dst[3],
          GST_VIDEO_CONVERTER_OPT_FILL_BORDER, G_TYPE_BOOLEAN, TRUE,
          GST_VIDEO_CONVERTER_OPT_BORDER_ARGB, G_TYPE_UINT, self->border_argb,
          /* bilinear, as torchvision's Resize; cheaper than the default
           * cubic on large frames */
          GST_VIDEO_CONVERTER_OPT_RESAMPLER_METHOD,
          GST_TYPE_VIDEO_RESAMPLER_METHOD, GST_VIDEO_RESAMPLER_METHOD_LINEAR,
          /* the engine's threads are idle while frames are converted */
          GST_VIDEO_CONVERTER_OPT_THREADS, G_TYPE_UINT,
          (guint) (self->context_threads > 0 ? (guint) self->context_threads
                                             : g_get_num_processors ()),
          NULL);
  self->converter =
      gst_video_converter_new (&self->in_info, &self->rgbx_info, config);
  if (self->converter == NULL) {
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION, (NULL),
        ("no video converter from %s %dx%d to RGBx %dx%d",
            GST_VIDEO_INFO_NAME (&self->in_info),
            GST_VIDEO_INFO_WIDTH (&self->in_info),
            GST_VIDEO_INFO_HEIGHT (&self->in_info), self->model_width,
            self->model_height));
    return FALSE;
  }
  self->converter_resize = resize;
  GST_DEBUG_OBJECT (self,
      "converter %s %dx%d, source %d,%d %dx%d -> RGBx %dx%d at %d,%d %dx%d",
      GST_VIDEO_INFO_NAME (&self->in_info),
      GST_VIDEO_INFO_WIDTH (&self->in_info),
      GST_VIDEO_INFO_HEIGHT (&self->in_info), src[0], src[1], src[2], src[3],
      self->model_width, self->model_height, dst[0], dst[1], dst[2], dst[3]);
  return TRUE;
}

/* One frame to normalized planes: `out` is (3, model_height, model_width).
 * A buffer that does not hold the frame its caps or its GstVideoMeta
 * describe is an error naming the frame (its number since the last flush
 * and its timestamp), never a read past its end. */
static gboolean
gst_vgg_infer_preprocess (
    GstVggInfer *self, const GstVggInferItem *item, gfloat *out)
{
  GstBuffer *buffer = GST_BUFFER_CAST (item->object);
  GstVideoFrame in, rgbx;
  gsize plane = (gsize) self->model_width * self->model_height;
  gchar *reason = NULL;
  gint stride;

  if (!gst_vgg_video_frame_map (
          &in, &self->in_info, buffer, GST_MAP_READ, &reason)) {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT,
        ("Frame %" G_GUINT64_FORMAT " (pts %" GST_TIME_FORMAT
         ") does not hold a %s %dx%d picture: %s",
            item->number, GST_TIME_ARGS (GST_BUFFER_PTS (buffer)),
            GST_VIDEO_INFO_NAME (&self->in_info),
            GST_VIDEO_INFO_WIDTH (&self->in_info),
            GST_VIDEO_INFO_HEIGHT (&self->in_info), reason),
        ("%" GST_PTR_FORMAT, buffer));
    g_free (reason);
    return FALSE;
  }
  if (!gst_video_frame_map (
          &rgbx, &self->rgbx_info, self->rgbx, GST_MAP_WRITE)) {
    gst_video_frame_unmap (&in);
    GST_ELEMENT_ERROR (self, CORE, FAILED, (NULL), ("could not map scratch"));
    return FALSE;
  }
  gst_video_converter_frame (self->converter, &in, &rgbx);
  stride = GST_VIDEO_FRAME_PLANE_STRIDE (&rgbx, 0);
  /* RGBx rows to the R, G and B planes */
  for (gint y = 0; y < self->model_height; y++) {
    const guint8 *row = (const guint8 *) GST_VIDEO_FRAME_PLANE_DATA (&rgbx, 0)
        + (gsize) y * stride;
    gsize o = (gsize) y * self->model_width;
    vgg_orc_rgbx_to_planes (out + o, out + plane + o, out + 2 * plane + o,
        (const guint32 *) row, self->scale[0], self->scale[1], self->scale[2],
        self->offset[0], self->offset[1], self->offset[2], self->model_width);
  }
  gst_video_frame_unmap (&rgbx);
  gst_video_frame_unmap (&in);
  return TRUE;
}

/* The k best of probs (n) with p >= threshold into self->top, best first;
 * returns how many. */
static guint
gst_vgg_infer_top_k (
    GstVggInfer *self, const gfloat *probs, gint n, guint k, gdouble threshold)
{
  guint count = 0;

  k = MIN (k, (guint) n);
  if (self->top_alloc < k) {
    self->top = g_renew (GstVggClassification, self->top, k);
    self->top_alloc = k;
  }
  for (gint c = 0; c < n; c++) {
    gfloat p = probs[c];
    guint pos;
    /* written so that NaN (every comparison false) never passes */
    if (!(p >= threshold) || (count == k && !(p > self->top[k - 1].score)))
      continue;
    /* insertion into the sorted top list; ties keep the lower class id */
    pos = count < k ? count++ : k - 1;
    while (pos > 0 && self->top[pos - 1].score < p) {
      self->top[pos] = self->top[pos - 1];
      pos--;
    }
    self->top[pos].class_id = c;
    self->top[pos].score = p;
    self->top[pos].label = self->labels[c];
  }
  return count;
}

static void
gst_vgg_infer_post_message (
    GstVggInfer *self, GstBuffer *buffer, const GstVggMeta *meta)
{
  GstStructure *s;
  GValue ids = G_VALUE_INIT, labels = G_VALUE_INIT, scores = G_VALUE_INIT;
  GValue v = G_VALUE_INIT;
  GstClockTime ts = GST_BUFFER_PTS (buffer);
  GstClockTime stream_time = GST_CLOCK_TIME_NONE;
  GstClockTime running_time = GST_CLOCK_TIME_NONE;

  /* a segment in bytes, buffers or anything but time (filesrc !
   * capsfilter, appsrc's default) has no stream or running time for a
   * timestamp: GST_CLOCK_TIME_NONE then */
  if (self->segment.format == GST_FORMAT_TIME) {
    stream_time =
        gst_segment_to_stream_time (&self->segment, GST_FORMAT_TIME, ts);
    /* in reverse, running time counts from the stop, which the segment
     * must then have (else a CRITICAL) */
    if (self->segment.rate > 0.0
        || GST_CLOCK_TIME_IS_VALID (self->segment.stop))
      running_time =
          gst_segment_to_running_time (&self->segment, GST_FORMAT_TIME, ts);
  }
  s = gst_structure_new ("vgginfer", "timestamp", G_TYPE_UINT64, ts,
      "stream-time", G_TYPE_UINT64, stream_time, "running-time", G_TYPE_UINT64,
      running_time, "duration", G_TYPE_UINT64, GST_BUFFER_DURATION (buffer),
      "model", G_TYPE_STRING, meta->model_name, "inference-ms", G_TYPE_DOUBLE,
      meta->inference_ms, NULL);
  gst_value_array_init (&ids, meta->n_results);
  gst_value_array_init (&labels, meta->n_results);
  gst_value_array_init (&scores, meta->n_results);
  for (guint i = 0; i < meta->n_results; i++) {
    const GstVggClassification *r = &meta->results[i];
    g_value_init (&v, G_TYPE_INT);
    g_value_set_int (&v, r->class_id);
    gst_value_array_append_and_take_value (&ids, &v);
    memset (&v, 0, sizeof v);
    g_value_init (&v, G_TYPE_STRING);
    g_value_set_static_string (
        &v, r->label ? g_quark_to_string (r->label) : "");
    gst_value_array_append_and_take_value (&labels, &v);
    memset (&v, 0, sizeof v);
    g_value_init (&v, G_TYPE_FLOAT);
    g_value_set_float (&v, r->score);
    gst_value_array_append_and_take_value (&scores, &v);
    memset (&v, 0, sizeof v);
  }
  gst_structure_take_value (s, "class-ids", &ids);
  gst_structure_take_value (s, "labels", &labels);
  gst_structure_take_value (s, "scores", &scores);
  if (meta->n_features > 0) {
    GValue features = G_VALUE_INIT;
    gst_value_array_init (&features, meta->n_features);
    for (guint i = 0; i < meta->n_features; i++) {
      g_value_init (&v, G_TYPE_FLOAT);
      g_value_set_float (&v, meta->features[i]);
      gst_value_array_append_and_take_value (&features, &v);
      memset (&v, 0, sizeof v);
    }
    gst_structure_set (
        s, "feature-layer", G_TYPE_STRING, meta->feature_layer, NULL);
    gst_structure_take_value (s, "features", &features);
  }
  gst_element_post_message (
      GST_ELEMENT (self), gst_message_new_element (GST_OBJECT (self), s));
}

/* At a batch boundary: the model set while running replaces the old one.
 * It is already loaded (self->next_model holds one use of the cache), so
 * gst_vgg_infer_open only takes it from the cache and sizes the context. */
static gboolean
gst_vgg_infer_switch_model (GstVggInfer *self)
{
  VggModel *next;
  gboolean ok;

  g_mutex_lock (&self->lock);
  next = g_steal_pointer (&self->next_model);
  g_mutex_unlock (&self->lock);
  if (next == NULL)
    return TRUE;
  ok = gst_vgg_infer_open (self);
  /* the converter scales to the old model's input size */
  g_clear_pointer (&self->converter, gst_video_converter_free);
  gst_vgg_model_cache_release (next);
  if (ok)
    GST_INFO_OBJECT (self, "switched to model %s", self->loaded_model_path);
  return ok;
}

/* Runs n frames of self->input through the batch group's worker; their
 * `output` rows land in self->group_out.  Returns FLUSHING when a flush or
 * a state change cancelled it. */
static GstFlowReturn
gst_vgg_infer_group_forward (
    GstVggInfer *self, guint n, VggOutput output, gint dims)
{
  char error[VGG_ERROR_SIZE];
  GstVggBatchGroupResult res;

  if (self->group_out_alloc < (gsize) n * dims) {
    self->group_out_alloc = (gsize) n * dims;
    self->group_out = g_renew (gfloat, self->group_out, self->group_out_alloc);
  }
  res = gst_vgg_batch_group_forward (
      self->group_member, self->input, n, output, dims, self->group_out, error);
  switch (res) {
    case GST_VGG_BATCH_GROUP_OK:
      return GST_FLOW_OK;
    case GST_VGG_BATCH_GROUP_CANCELLED:
      return GST_FLOW_FLUSHING;
    case GST_VGG_BATCH_GROUP_ERROR:
      break;
  }
  GST_ELEMENT_ERROR (self, STREAM, FAILED, ("Inference failed: %s", error),
      ("batch group forward"));
  return GST_FLOW_ERROR;
}

/* Runs the network on the ITEM_BUFFERs among the n_items of self->batch
 * and pushes every buffer in order.  Consumes the items. */
static GstFlowReturn
gst_vgg_infer_process_batch (
    GstVggInfer *self, guint n_items, guint n_infer, guint batch_size)
{
  GstVggInferMode mode;
  GstVggInferFeatureLayer layer;
  GstVggInferResize resize;
  gboolean normalize, post;
  guint top_k, done = 0, k = 0;
  gdouble threshold, ms = 0.0;
  gint threads, probs_dims = 0, feat_dims = 0;
  GstVggInferPrecision precision;
  const gfloat *probs = NULL, *feats = NULL;
  const gchar *layer_name = NULL;
  gsize plane3;
  GstFlowReturn ret = GST_FLOW_OK;

  GST_OBJECT_LOCK (self);
  mode = self->mode;
  layer = self->feature_layer;
  resize = self->resize;
  normalize = self->normalize_features;
  post = self->post_messages;
  top_k = self->top_k;
  threshold = self->threshold;
  threads = self->threads;
  precision = self->precision;
  GST_OBJECT_UNLOCK (self);

  if (!gst_vgg_infer_switch_model (self)) {
    ret = GST_FLOW_ERROR;
    goto out;
  }
  plane3 = (gsize) 3 * self->model_width * self->model_height;

  if (n_infer > 0 && self->group_member) {
    gint64 t0 = g_get_monotonic_time ();
    VggOutput out = mode == GST_VGG_INFER_MODE_CLASSIFY
        ? VGG_OUTPUT_PROBS
        : feature_outputs[layer];
    gint dims = vgg_model_get_output_dims (self->model, out);

    if (!gst_vgg_infer_ensure_converter (self, resize)) {
      ret = GST_FLOW_ERROR;
      goto out;
    }
    if (mode == GST_VGG_INFER_MODE_FEATURES && dims <= 0) {
      if (!self->warned_layer)
        GST_ELEMENT_WARNING (self, STREAM, FAILED,
            ("The model has no layer %s; using its logits",
                vgg_output_to_string (out)),
            (NULL));
      self->warned_layer = TRUE;
      out = VGG_OUTPUT_LOGITS;
      dims = vgg_model_get_output_dims (self->model, out);
    }
    if (self->input_alloc < (gsize) n_infer * plane3) {
      self->input_alloc = (gsize) n_infer * plane3;
      self->input = g_renew (gfloat, self->input, self->input_alloc);
    }
    for (guint i = 0; i < n_items; i++) {
      if (self->batch[i].type != GST_VGG_INFER_ITEM_BUFFER)
        continue;
      if (!gst_vgg_infer_preprocess (
              self, &self->batch[i], self->input + k * plane3)) {
        ret = GST_FLOW_ERROR;
        goto out;
      }
      k++;
    }
    ret = gst_vgg_infer_group_forward (self, n_infer, out, dims);
    if (ret != GST_FLOW_OK)
      goto out;
    ms = (g_get_monotonic_time () - t0) / 1000.0;
    if (mode == GST_VGG_INFER_MODE_CLASSIFY) {
      probs = self->group_out;
      probs_dims = dims;
    } else {
      feats = self->group_out;
      feat_dims = dims;
      layer_name = vgg_output_to_string (out);
      if (self->features_alloc < (guint) feat_dims) {
        self->features = g_renew (gfloat, self->features, feat_dims);
        self->features_alloc = feat_dims;
      }
    }
    GST_OBJECT_LOCK (self);
    self->frames_inferred += n_infer;
    self->inference_ms_total += ms;
    GST_OBJECT_UNLOCK (self);
  } else if (n_infer > 0) {
    gint64 t0 = g_get_monotonic_time ();
    VggStatus status;

    if (!gst_vgg_infer_ensure_context (self, batch_size, threads, precision)
        || !gst_vgg_infer_ensure_converter (self, resize)) {
      ret = GST_FLOW_ERROR;
      goto out;
    }
    for (guint i = 0; i < n_items; i++) {
      if (self->batch[i].type != GST_VGG_INFER_ITEM_BUFFER)
        continue;
      if (!gst_vgg_infer_preprocess (
              self, &self->batch[i], self->input + k * plane3)) {
        ret = GST_FLOW_ERROR;
        goto out;
      }
      k++;
    }
    status = vgg_context_forward (self->context, self->input, (int) n_infer,
        self->model_height, self->model_width);
    if (status != VGG_OK) {
      GST_ELEMENT_ERROR (self, STREAM, FAILED,
          ("Inference failed: %s", vgg_context_get_error (self->context)),
          ("vgg_context_forward: %s", vgg_status_to_string (status)));
      ret = GST_FLOW_ERROR;
      goto out;
    }
    ms = (g_get_monotonic_time () - t0) / 1000.0;
    if (mode == GST_VGG_INFER_MODE_CLASSIFY) {
      probs =
          vgg_context_get_output (self->context, VGG_OUTPUT_PROBS, &probs_dims);
    } else {
      VggOutput out = feature_outputs[layer];
      feats = vgg_context_get_output (self->context, out, &feat_dims);
      if (feats == NULL || feat_dims <= 0) {
        if (!self->warned_layer)
          GST_ELEMENT_WARNING (self, STREAM, FAILED,
              ("The model has no layer %s; using its logits",
                  vgg_output_to_string (out)),
              (NULL));
        self->warned_layer = TRUE;
        out = VGG_OUTPUT_LOGITS;
        feats = vgg_context_get_output (self->context, out, &feat_dims);
      }
      layer_name = vgg_output_to_string (out);
      if (self->features_alloc < (guint) feat_dims) {
        self->features = g_renew (gfloat, self->features, feat_dims);
        self->features_alloc = feat_dims;
      }
    }
    GST_OBJECT_LOCK (self);
    self->frames_inferred += n_infer;
    self->inference_ms_total += ms;
    GST_OBJECT_UNLOCK (self);
    GST_LOG_OBJECT (
        self, "batch of %u frames (%u items) in %.2f ms", n_infer, n_items, ms);
  }

  k = 0;
  for (done = 0; done < n_items; done++) {
    GstVggInferItem *item = &self->batch[done];
    GstBuffer *buffer = GST_BUFFER_CAST (item->object);

    item->object = NULL;
    if (item->type == GST_VGG_INFER_ITEM_BUFFER) {
      GstVggMeta *meta;

      buffer = gst_buffer_make_writable (buffer);
      meta = gst_buffer_add_vgg_meta (buffer);
      gst_vgg_meta_set_model_name (meta, vgg_model_get_name (self->model));
      meta->inference_ms = ms / n_infer;
      if (probs) {
        guint n = gst_vgg_infer_top_k (
            self, probs + (gsize) k * probs_dims, probs_dims, top_k, threshold);
        gst_vgg_meta_set_results (meta, self->top, n);
      }
      if (feats) {
        const gfloat *f = feats + (gsize) k * feat_dims;
        gfloat scale = 1.0f;
        if (normalize) {
          gdouble sum = 0.0;
          for (gint i = 0; i < feat_dims; i++)
            sum += (gdouble) f[i] * f[i];
          scale = sum > 0.0 ? (gfloat) (1.0 / sqrt (sum)) : 1.0f;
        }
        for (gint i = 0; i < feat_dims; i++)
          self->features[i] = f[i] * scale;
        gst_vgg_meta_set_features (meta, layer_name, self->features, feat_dims);
      }
      if (post)
        gst_vgg_infer_post_message (self, buffer, meta);
      k++;
    }
    ret = gst_pad_push (self->srcpad, buffer);
    if (ret != GST_FLOW_OK) {
      done++;
      break;
    }
  }

out:
  for (; done < n_items; done++)
    gst_mini_object_replace (&self->batch[done].object, NULL);
  return ret;
}

static void
gst_vgg_infer_handle_event (GstVggInfer *self, GstEvent *event)
{
  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_CAPS: {
      GstCaps *caps;
      gchar *reason = NULL;
      gst_event_parse_caps (event, &caps);
      g_clear_pointer (&self->converter, gst_video_converter_free);
      /* the ACCEPT_CAPS query refused what this refuses, before the event
       * got here */
      self->have_info =
          gst_vgg_video_info_from_caps (&self->in_info, caps, &reason);
      if (!self->have_info)
        GST_WARNING_OBJECT (
            self, "invalid caps %" GST_PTR_FORMAT ": %s", caps, reason);
      g_free (reason);
      GST_DEBUG_OBJECT (self, "caps %" GST_PTR_FORMAT, caps);
      break;
    }
    case GST_EVENT_SEGMENT:
      gst_event_copy_segment (event, &self->segment);
      break;
    default:
      break;
  }
  GST_LOG_OBJECT (self, "pushing %" GST_PTR_FORMAT, event);
  gst_pad_push_event (self->srcpad, event);
}

/* The task: takes an event or query, or a batch of frames, from the head
 * of the queue and sends it downstream. */
/* Drops the queue, keeping its EOS event if it has one (transfer full). */
static GstEvent *
gst_vgg_infer_take_eos_locked (GstVggInfer *self)
{
  GstEvent *eos = NULL;
  guint len = gst_queue_array_get_length (self->queue);

  for (guint i = 0; i < len && eos == NULL; i++) {
    GstVggInferItem *item = gst_queue_array_peek_nth_struct (self->queue, i);
    if (item->type == GST_VGG_INFER_ITEM_EVENT
        && GST_EVENT_TYPE (item->object) == GST_EVENT_EOS)
      eos = gst_event_ref (GST_EVENT_CAST (item->object));
  }
  gst_vgg_infer_flush_queue_locked (self, TRUE);
  return eos;
}

static void
gst_vgg_infer_loop (GstVggInfer *self)
{
  GstEvent *eos = NULL;
  GstVggInferItem *head;
  guint batch_size, batch_timeout, n_items = 0, n_infer = 0;
  GstFlowReturn ret;
  gint64 deadline;
  gboolean timed_out = FALSE;

  GST_OBJECT_LOCK (self);
  batch_size = self->batch_size;
  batch_timeout = self->batch_timeout;
  GST_OBJECT_UNLOCK (self);
  /* in a batch group the group's worker waits for frames of all streams;
   * this task hands over what it has at once */
  timed_out = self->group_member != NULL;

  g_mutex_lock (&self->lock);
  while (
      gst_queue_array_is_empty (self->queue) && self->srcresult == GST_FLOW_OK)
    g_cond_wait (&self->cond, &self->lock);
  if (self->srcresult != GST_FLOW_OK)
    goto paused_locked;

  head = gst_queue_array_peek_head_struct (self->queue);
  if (head->type == GST_VGG_INFER_ITEM_EVENT) {
    GstEvent *event = GST_EVENT_CAST (head->object);
    gst_queue_array_pop_head_struct (self->queue);
    g_mutex_unlock (&self->lock);
    gst_vgg_infer_handle_event (self, event);
    return;
  }
  if (head->type == GST_VGG_INFER_ITEM_QUERY) {
    GstQuery *query = GST_QUERY_CAST (head->object);
    gboolean res;
    gst_queue_array_pop_head_struct (self->queue);
    self->query_running = TRUE;
    g_mutex_unlock (&self->lock);
    res = gst_pad_peer_query (self->srcpad, query);
    g_mutex_lock (&self->lock);
    self->query_result = res;
    self->query_running = FALSE;
    self->query = NULL;
    g_cond_broadcast (&self->cond);
    g_mutex_unlock (&self->lock);
    return;
  }

  /* Frames: wait until batch-size of them need inference, an event or
   * query follows them, or batch-timeout has passed since the first. */
  deadline = head->arrival + (gint64) batch_timeout * G_TIME_SPAN_MILLISECOND;
  for (;;) {
    gboolean ended = FALSE;
    guint len = gst_queue_array_get_length (self->queue);

    n_items = n_infer = 0;
    while (n_items < len && n_infer < batch_size) {
      GstVggInferItem *item =
          gst_queue_array_peek_nth_struct (self->queue, n_items);
      if (item->type == GST_VGG_INFER_ITEM_EVENT
          || item->type == GST_VGG_INFER_ITEM_QUERY) {
        ended = TRUE;
        break;
      }
      n_items++;
      if (item->type == GST_VGG_INFER_ITEM_BUFFER)
        n_infer++;
    }
    if (n_infer >= batch_size || ended || n_infer == 0 || timed_out)
      break;
    timed_out = !g_cond_wait_until (&self->cond, &self->lock, deadline);
    if (self->srcresult != GST_FLOW_OK)
      goto paused_locked;
    /* batch-size may have changed meanwhile */
    GST_OBJECT_LOCK (self);
    batch_size = self->batch_size;
    GST_OBJECT_UNLOCK (self);
  }

  if (self->batch_alloc < n_items) {
    self->batch = g_renew (GstVggInferItem, self->batch, n_items);
    self->batch_alloc = n_items;
  }
  for (guint i = 0; i < n_items; i++)
    self->batch[i] =
        *(GstVggInferItem *) gst_queue_array_pop_head_struct (self->queue);
  self->n_pending -= n_infer;
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);

  ret = gst_vgg_infer_process_batch (self, n_items, n_infer, batch_size);
  if (ret == GST_FLOW_OK)
    return;

  g_mutex_lock (&self->lock);
  /* a flush may have reset srcresult meanwhile: keep FLUSHING then */
  if (self->srcresult == GST_FLOW_OK)
    self->srcresult = ret;
  /* nothing queued goes out any more, but an EOS already queued must, or
   * the pipeline never ends; one that comes later goes straight through
   * the sink event function */
  if (ret == GST_FLOW_EOS && self->srcresult == GST_FLOW_EOS)
    eos = gst_vgg_infer_take_eos_locked (self);
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
  GST_DEBUG_OBJECT (self, "pausing task: %s", gst_flow_get_name (ret));
  if (ret == GST_FLOW_EOS) {
    if (eos)
      gst_pad_push_event (self->srcpad, eos);
  } else if (ret == GST_FLOW_NOT_LINKED || ret < GST_FLOW_EOS) {
    if (ret != GST_FLOW_ERROR)
      GST_ELEMENT_FLOW_ERROR (self, ret);
    gst_pad_push_event (self->srcpad, gst_event_new_eos ());
  }
  gst_pad_pause_task (self->srcpad);
  return;

paused_locked:
  ret = self->srcresult;
  g_mutex_unlock (&self->lock);
  GST_DEBUG_OBJECT (self, "pausing task: %s", gst_flow_get_name (ret));
  gst_pad_pause_task (self->srcpad);
}

/* --- state --- */

/* With batch-group set, joins the group for the model just opened. */
static gboolean
gst_vgg_infer_join_group (GstVggInfer *self)
{
  gchar *group, *error = NULL;
  guint batch, timeout;
  gint threads;
  VggPrecision precision;

  GST_OBJECT_LOCK (self);
  group = g_strdup (self->batch_group);
  batch = self->batch_size;
  timeout = self->batch_timeout;
  threads = self->threads;
  precision = (VggPrecision) self->precision;
  GST_OBJECT_UNLOCK (self);

  if (group == NULL || group[0] == '\0' || self->group_member) {
    g_free (group);
    return TRUE;
  }
  self->group_member = gst_vgg_batch_group_join (
      group, self->model, batch, timeout, threads, precision, &error);
  if (self->group_member == NULL) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("Could not join the batch group: %s", error), (NULL));
  } else {
    GST_INFO_OBJECT (self, "joined batch-group \"%s\" (batch %u)", group,
        gst_vgg_batch_group_get_batch_size (self->group_member));
  }
  g_free (error);
  g_free (group);
  return self->group_member != NULL;
}

static GstStateChangeReturn
gst_vgg_infer_change_state (GstElement *element, GstStateChange transition)
{
  GstVggInfer *self = GST_VGG_INFER (element);
  GstStateChangeReturn ret;

  switch (transition) {
    case GST_STATE_CHANGE_NULL_TO_READY:
      if (!gst_vgg_infer_open (self))
        return GST_STATE_CHANGE_FAILURE;
      break;
    case GST_STATE_CHANGE_READY_TO_PAUSED: {
      gboolean changed;
      GST_OBJECT_LOCK (self);
      changed = g_strcmp0 (self->model_path, self->loaded_model_path) != 0
          || g_strcmp0 (self->labels_path, self->loaded_labels_path) != 0;
      self->frames_inferred = self->frames_skipped = 0;
      self->inference_ms_total = 0.0;
      GST_OBJECT_UNLOCK (self);
      if ((changed || self->model == NULL) && !gst_vgg_infer_open (self))
        return GST_STATE_CHANGE_FAILURE;
      if (!gst_vgg_infer_update_normalization (self)
          || !gst_vgg_infer_join_group (self))
        return GST_STATE_CHANGE_FAILURE;
      gst_segment_init (&self->segment, GST_FORMAT_UNDEFINED);
      self->have_info = FALSE;
      self->warned_layer = FALSE;
      break;
    }
    default:
      break;
  }

  ret = GST_ELEMENT_CLASS (parent_class)->change_state (element, transition);
  if (ret == GST_STATE_CHANGE_FAILURE)
    return ret;

  switch (transition) {
    case GST_STATE_CHANGE_PAUSED_TO_READY: {
      VggModel *next;
      /* the task has stopped with the pads */
      g_clear_pointer (&self->converter, gst_video_converter_free);
      self->have_info = FALSE;
      g_clear_pointer (&self->group_member, gst_vgg_batch_group_leave);
      /* a model set while running and not used yet: READY_TO_PAUSED
       * opens it, as model_path now names it */
      g_mutex_lock (&self->lock);
      next = g_steal_pointer (&self->next_model);
      g_mutex_unlock (&self->lock);
      g_clear_pointer (&next, gst_vgg_model_cache_release);
      break;
    }
    case GST_STATE_CHANGE_READY_TO_NULL:
      GST_OBJECT_LOCK (self);
      gst_clear_caps (&self->caps_error);
      GST_OBJECT_UNLOCK (self);
      gst_vgg_infer_close (self);
      gst_clear_buffer (&self->rgbx);
      break;
    default:
      break;
  }
  return ret;
}

static void
gst_vgg_infer_finalize (GObject *object)
{
  GstVggInfer *self = GST_VGG_INFER (object);

  g_clear_pointer (&self->group_member, gst_vgg_batch_group_leave);
  gst_vgg_infer_close (self);
  gst_clear_buffer (&self->rgbx);
  g_clear_pointer (&self->converter, gst_video_converter_free);
  while (!gst_queue_array_is_empty (self->queue)) {
    GstVggInferItem *item = gst_queue_array_pop_head_struct (self->queue);
    if (item->type != GST_VGG_INFER_ITEM_QUERY)
      gst_mini_object_unref (item->object);
  }
  gst_queue_array_free (self->queue);
  gst_clear_caps (&self->caps_error);
  g_free (self->batch);
  g_free (self->top);
  g_free (self->features);
  g_free (self->group_out);
  g_free (self->batch_group);
  g_free (self->model_path);
  g_free (self->labels_path);
  g_free (self->mean_text);
  g_free (self->std_text);
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->cond);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

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
 * ## Regions
 *
 * With #GstVggInfer:inference-region=roi-list the network runs on regions
 * of the frames instead of whole frames: on every
 * #GstVideoRegionOfInterestMeta a detector put on the frame (OpenCV's
 * `facedetect`, `onnxobjectdetector`, DL Streamer's `gvadetect`, or an
 * application) whose type or detected label #GstVggInfer:object-class
 * lists.  Each box is clipped to the frame, grown by
 * #GstVggInfer:roi-padding percent, cut out and fitted to the model's
 * input by #GstVggInfer:resize, exactly as the same pixels would be as a
 * frame of their own.  Empty boxes, those under #GstVggInfer:min-roi-size
 * and those past #GstVggInfer:max-rois are skipped and counted
 * (#GstVggInfer:rois-skipped).  #GstVggInfer:regions adds fixed zones to
 * every frame (ROI metas of type "vgg-region"), for a fixed camera
 * watching set places.  The regions of several frames are batched
 * together, #GstVggInfer:batch-size of them per forward pass; frames keep
 * their order and each leaves once, with or without regions.  The frame's
 * #GstVggMeta then lists each region's results (its ROI's id and type, the
 * clipped box, the top-k or the feature vector: an embedding per detected
 * object with mode=features), and each classified ROI meta gets a param
 * structure named "classification" with DL Streamer's fields (`label`,
 * `label_id`, `confidence`, `model_name`, `layer_name`, `type` =
 * "classification_result") and the top-k as arrays (`label_ids`,
 * `labels`, `confidences`).  The element message then has the fields
 * `regions` (an array of "region" structures with `id`, `type`, `x`, `y`,
 * `w`, `h`, `class-ids`, `labels`, `scores` and, in features mode,
 * `feature-layer` and `features`) and `rois-skipped` (uint).
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
 * #GstVggInfer:model, #GstVggInfer:labels, #GstVggInfer:mean and
 * #GstVggInfer:std may be set while PAUSED or PLAYING: the model with its
 * labels and normalization is loaded anew in the calling thread, and the
 * element uses it from its next batch on; no frame is lost or reordered.
 * A file that does not load (model or labels) or a normalization that
 * does not hold posts a WARNING message (not an ERROR, which would stop
 * the pipeline) naming the file and the problem; the property keeps its
 * old value and the old model keeps running.
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
 * |[
 * gst-launch-1.0 v4l2src ! videoconvert ! facedetect display=false \
 *     updates=every_frame ! vgginfer model=vgg16.safetensors \
 *     inference-region=roi-list object-class=face roi-padding=10 ! \
 *     videoconvert ! vggoverlay ! videoconvert ! autovideosink
 * ]| Classifies every face the camera sees and draws the labels at the
 * boxes.
 * |[
 * gst-launch-1.0 -m videotestsrc num-buffers=10 ! \
 *     vgginfer model=vgg16.safetensors regions="0,0,0.5,1;0.5,0,0.5,1" ! \
 *     fakesink
 * ]| Classifies the left and the right half of every frame.
 */

/* Where each concern lives: gstvgginfer.c (this file) has the
 * properties, the pads, the queue, the streaming task and the state
 * changes; gstvggmodelinfo.c builds the model bundles (model, labels,
 * normalization), gstvggpreprocess.c turns frames into the network's
 * input, gstvggrunner.c runs it (own context or batch group) and
 * gstvggresults.c turns its output into metas and messages. */

#include "gstvgginfer-private.h"

#include "gstvggvideo.h"

GST_DEBUG_CATEGORY_STATIC (gst_vgg_infer_debug);
#define GST_CAT_DEFAULT gst_vgg_infer_debug

#define DEFAULT_MODEL NULL
#define DEFAULT_LABELS NULL
#define DEFAULT_MODE GST_VGG_INFER_MODE_CLASSIFY
#define DEFAULT_FEATURE_LAYER "fc7"
#define DEFAULT_FEATURE_POOLING GST_VGG_INFER_POOLING_AUTO
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
/* Frames of any kind the queue holds, per frame it may hold for
 * inference, before the chain function blocks: frames passed without
 * inference (leaky=skip, inference-interval) wait behind the inferred
 * ones, and a source faster than downstream would fill memory with them.
 * A live camera's frames in the queue are its rate times the wait of
 * max-queue inferences: 8 leaves room for inferences of 8 frame
 * intervals (270 ms at 30 fps). */
#define FRAMES_PER_QUEUE_SLOT 8
#define DEFAULT_POST_MESSAGES TRUE
#define DEFAULT_RESIZE GST_VGG_INFER_RESIZE_CENTER_CROP
#define DEFAULT_MEAN NULL
#define DEFAULT_STD NULL
#define DEFAULT_BATCH_GROUP NULL
#define DEFAULT_INFERENCE_REGION GST_VGG_INFER_REGION_FULL_FRAME
#define DEFAULT_OBJECT_CLASS NULL
#define DEFAULT_REGIONS NULL
#define DEFAULT_MIN_ROI_SIZE 0
#define DEFAULT_MAX_ROIS 0
#define DEFAULT_ROI_PADDING 0.0

#define MAX_BATCH_SIZE 256
#define MAX_THREADS 256
#define MAX_TOP_K 100000

enum
{
  PROP_0,
  PROP_MODEL,
  PROP_LABELS,
  PROP_MODE,
  PROP_FEATURE_LAYER,
  PROP_FEATURE_POOLING,
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
  PROP_STD,
  PROP_INFERENCE_REGION,
  PROP_OBJECT_CLASS,
  PROP_REGIONS,
  PROP_MIN_ROI_SIZE,
  PROP_MAX_ROIS,
  PROP_ROI_PADDING,
  PROP_ROIS_INFERRED,
  PROP_ROIS_SKIPPED
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
          "folder); required.  Set while PAUSED or PLAYING, the new model "
          "(with the labels, mean and std) is loaded at once and used from "
          "the next batch on; one that does not load posts a warning and "
          "the old one keeps running",
          DEFAULT_MODEL, playing));
  g_object_class_install_property (gobject_class, PROP_LABELS,
      g_param_spec_string ("labels", "Labels",
          "UTF-8 text file (a regular file of at most 16 MiB) with one class "
          "label per line, overriding the model's (a 1000-class model "
          "without labels gets ImageNet's).  Set while PAUSED or PLAYING, "
          "as model",
          DEFAULT_LABELS, playing));
  g_object_class_install_property (gobject_class, PROP_MODE,
      g_param_spec_enum ("mode", "Mode",
          "What to attach to the frames: the top-k classes or a feature "
          "vector",
          GST_TYPE_VGG_INFER_MODE, DEFAULT_MODE, playing));
  g_object_class_install_property (gobject_class, PROP_FEATURE_LAYER,
      g_param_spec_string ("feature-layer", "Feature layer",
          "Layer whose output is the feature vector in mode=features: fc7, "
          "fc6 (after ReLU), logits, pool5 (the classifier's input, "
          "C x 7 x 7), a module of torchvision's features (features.22) or "
          "its usual name (relu1_1 ... relu5_3, conv1_1 ..., pool1 ... "
          "pool4; relu3_4 in VGG19 only), as vgg-inspect lists them.  A name "
          "the model does not have fails the start with an error listing "
          "those it has; set while running, it gives a warning and the "
          "logits.  The network runs only up to that layer",
          DEFAULT_FEATURE_LAYER, playing));
  g_object_class_install_property (gobject_class, PROP_FEATURE_POOLING,
      g_param_spec_enum ("feature-pooling", "Feature pooling",
          "How the map of a convolution-stage feature-layer becomes a "
          "vector (the classifier's layers are vectors already)",
          GST_TYPE_VGG_INFER_POOLING, DEFAULT_FEATURE_POOLING, playing));
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
          "Maximum number of frames (or, by regions, of regions of frames) "
          "per forward pass", 1, MAX_BATCH_SIZE,
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
          "batch-size is used).  Frames passed without inference "
          "(leaky=skip, inference-interval) wait behind them in the same "
          "queue: at 8 times this many frames in all, upstream blocks "
          "whatever leaky says (downstream is then slower than the source)",
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
          "Number of frames the network ran on (by regions: those with a region)", 0, G_MAXUINT64, 0, ro));
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
          "model's normalization.  Set while PAUSED or PLAYING, as model",
          DEFAULT_MEAN, playing));
  g_object_class_install_property (gobject_class, PROP_STD,
      g_param_spec_string ("std", "Standard deviation",
          "RGB standard deviation of inputs in [0,1] as \"R,G,B\", "
          "overriding the model's normalization.  Set while PAUSED or "
          "PLAYING, as model",
          DEFAULT_STD, playing));

  g_object_class_install_property (gobject_class, PROP_INFERENCE_REGION,
      g_param_spec_enum ("inference-region", "Inference region",
          "What the network runs on: the whole frame, or each region of "
          "interest (GstVideoRegionOfInterestMeta) a detector put on it, "
          "as selected by object-class, min-roi-size and max-rois",
          GST_TYPE_VGG_INFER_REGION, DEFAULT_INFERENCE_REGION, playing));
  g_object_class_install_property (gobject_class, PROP_OBJECT_CLASS,
      g_param_spec_string ("object-class", "Object class",
          "Comma-separated list of the regions to classify with "
          "inference-region=roi-list: a ROI whose type (\"face\") or "
          "detected label (the \"label\" of its \"detection\" or "
          "\"extra-data\" param) is listed; NULL or empty for all",
          DEFAULT_OBJECT_CLASS, playing));
  g_object_class_install_property (gobject_class, PROP_REGIONS,
      g_param_spec_string ("regions", "Regions",
          "Fixed zones to classify on every frame, without a detector: "
          "\"x,y,w,h;x,y,w,h\" in pixels, or with decimal points in "
          "fractions of the frame (\"0.1,0.1,0.5,0.5\").  Each becomes a "
          "GstVideoRegionOfInterestMeta of type \"" GST_VGG_ZONE_ROI_TYPE
          "\" on the frame and is classified after the frame's other "
          "regions (with inference-region=roi-list) whatever object-class "
          "says; frames are then classified by regions, not whole",
          DEFAULT_REGIONS, playing));
  g_object_class_install_property (gobject_class, PROP_MIN_ROI_SIZE,
      g_param_spec_uint ("min-roi-size", "Minimum ROI size",
          "Regions narrower or lower than this many pixels (after clipping "
          "to the frame) are not classified, and counted in rois-skipped; "
          "0 keeps every region that is not empty",
          0, 16384, DEFAULT_MIN_ROI_SIZE, playing));
  g_object_class_install_property (gobject_class, PROP_MAX_ROIS,
      g_param_spec_uint ("max-rois", "Maximum ROIs",
          "Most regions classified per frame, the first ones in the "
          "frame's order; the others are counted in rois-skipped (0 = no "
          "limit)",
          0, G_MAXINT, DEFAULT_MAX_ROIS, playing));
  g_object_class_install_property (gobject_class, PROP_ROI_PADDING,
      g_param_spec_double ("roi-padding", "ROI padding",
          "Percent of a region's width added on its left and right, and of "
          "its height above and below, before it is cropped (within the "
          "frame); the resize policy then fits the crop",
          0.0, 100.0, DEFAULT_ROI_PADDING, playing));
  g_object_class_install_property (gobject_class, PROP_ROIS_INFERRED,
      g_param_spec_uint64 ("rois-inferred", "ROIs inferred",
          "Number of regions the network ran on", 0, G_MAXUINT64, 0, ro));
  g_object_class_install_property (gobject_class, PROP_ROIS_SKIPPED,
      g_param_spec_uint64 ("rois-skipped", "ROIs skipped",
          "Number of regions not classified: empty once clipped to the "
          "frame, under min-roi-size or past max-rois (those object-class "
          "does not list are not counted)",
          0, G_MAXUINT64, 0, ro));

  gst_type_mark_as_plugin_api (GST_TYPE_VGG_INFER_MODE, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_VGG_INFER_REGION, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_VGG_INFER_POOLING, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_VGG_INFER_LEAKY, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_VGG_INFER_RESIZE, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_VGG_INFER_PRECISION, 0);

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class, "VGG inference",
      "Filter/Analyzer/Video",
      "Classifies video frames or extracts feature vectors with a VGG "
      "network, attaching GstVggMeta",
      "gst-vgg developers");
  element_class->change_state = GST_DEBUG_FUNCPTR (gst_vgg_infer_change_state);
}

static void
gst_vgg_infer_init (GstVggInfer *self)
{
  self->sinkpad = gst_pad_new_from_static_template (&sink_template, "sink");
  gst_pad_set_chain_function (
      self->sinkpad, GST_DEBUG_FUNCPTR (gst_vgg_infer_chain));
  gst_pad_set_event_function (
      self->sinkpad, GST_DEBUG_FUNCPTR (gst_vgg_infer_sink_event));
  gst_pad_set_query_function (
      self->sinkpad, GST_DEBUG_FUNCPTR (gst_vgg_infer_sink_query));
  gst_pad_set_activatemode_function (
      self->sinkpad, GST_DEBUG_FUNCPTR (gst_vgg_infer_sink_activate_mode));
  GST_PAD_SET_PROXY_CAPS (self->sinkpad);
  gst_element_add_pad (GST_ELEMENT (self), self->sinkpad);

  self->srcpad = gst_pad_new_from_static_template (&src_template, "src");
  gst_pad_set_query_function (
      self->srcpad, GST_DEBUG_FUNCPTR (gst_vgg_infer_src_query));
  gst_pad_set_activatemode_function (
      self->srcpad, GST_DEBUG_FUNCPTR (gst_vgg_infer_src_activate_mode));
  GST_PAD_SET_PROXY_CAPS (self->srcpad);
  gst_element_add_pad (GST_ELEMENT (self), self->srcpad);

  self->model_path = g_strdup (DEFAULT_MODEL);
  self->labels_path = g_strdup (DEFAULT_LABELS);
  self->settings = (GstVggInferSettings){
    .mode = DEFAULT_MODE,
    .feature_layer = g_intern_static_string (DEFAULT_FEATURE_LAYER),
    .feature_pooling = DEFAULT_FEATURE_POOLING,
    .normalize_features = DEFAULT_NORMALIZE_FEATURES,
    .top_k = DEFAULT_TOP_K,
    .threshold = DEFAULT_THRESHOLD,
    .batch_size = DEFAULT_BATCH_SIZE,
    .batch_timeout = DEFAULT_BATCH_TIMEOUT,
    .threads = DEFAULT_THREADS,
    .precision = DEFAULT_PRECISION,
    .inference_interval = DEFAULT_INFERENCE_INTERVAL,
    .leaky = DEFAULT_LEAKY,
    .max_queue = DEFAULT_MAX_QUEUE,
    .post_messages = DEFAULT_POST_MESSAGES,
    .resize = DEFAULT_RESIZE,
    .regions = gst_vgg_region_spec_new (),
    .regions_serial = 1,
  };
  self->rois = g_array_new (FALSE, FALSE, sizeof (GstVggRoi));
  self->inputs = g_array_new (FALSE, FALSE, sizeof (GstVggInferInput));
  self->batch_group = g_strdup (DEFAULT_BATCH_GROUP);

  g_mutex_init (&self->lock);
  g_cond_init (&self->item_added);
  g_cond_init (&self->item_removed);
  g_cond_init (&self->query_handled);
  self->queue = gst_queue_array_new_for_struct (sizeof (GstVggInferItem), 32);
  self->srcresult = GST_FLOW_FLUSHING;
  gst_segment_init (&self->segment, GST_FORMAT_UNDEFINED);
  gst_vgg_runner_init (&self->runner);
  gst_vgg_preprocess_init (&self->preprocess);
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

/* Posts err (a GstCoreError, GstLibraryError, GstResourceError or
 * GstStreamError) as an ERROR or WARNING message of the element. */
static void
gst_vgg_infer_post_gerror (GstVggInfer *self, GstMessageType type,
    const GError *err, const gchar *function, gint line)
{
  gst_element_message_full (GST_ELEMENT (self), type, err->domain, err->code,
      g_strdup (err->message), NULL, __FILE__, function, line);
}

#define POST_ERROR(self, err)                                                  \
  gst_vgg_infer_post_gerror (                                                  \
      self, GST_MESSAGE_ERROR, err, GST_FUNCTION, __LINE__)
#define POST_WARNING(self, err)                                                \
  gst_vgg_infer_post_gerror (                                                  \
      self, GST_MESSAGE_WARNING, err, GST_FUNCTION, __LINE__)

/* A new bundle for the current model, labels, mean and std, with the one
 * of them that prop_id names replaced by `value`; its warnings posted.
 * The properties are not changed. */
static GstVggModelInfo *
gst_vgg_infer_build_info (
    GstVggInfer *self, guint prop_id, const gchar *value, GError **error)
{
  gchar *model, *labels, *mean, *std;
  GstVggModelSpec spec;
  GstVggModelInfo *info;

  GST_OBJECT_LOCK (self);
  model = g_strdup (prop_id == PROP_MODEL ? value : self->model_path);
  labels = g_strdup (prop_id == PROP_LABELS ? value : self->labels_path);
  mean = g_strdup (prop_id == PROP_MEAN ? value : self->mean_text);
  std = g_strdup (prop_id == PROP_STD ? value : self->std_text);
  GST_OBJECT_UNLOCK (self);

  spec = (GstVggModelSpec){ model, labels, mean, std };
  info = gst_vgg_model_info_new (&spec, g_getenv ("GST_VGG_MODEL_PATH"), error);
  for (guint i = 0; info && i < info->warnings->len; i++)
    POST_WARNING (self, g_ptr_array_index (info->warnings, i));
  g_free (model);
  g_free (labels);
  g_free (mean);
  g_free (std);
  return info;
}

/* model, labels, mean or std set while running: builds the new bundle
 * here, in the setter's thread, outside the streaming lock, and hands it
 * to the task, which switches at its next batch.  A bundle that cannot be
 * built posts a WARNING, not an ERROR: an error message stops the
 * pipeline in gst-launch-1.0 and in most applications, and the point is
 * that the old model keeps running; the property then keeps its old
 * value.  Returns whether the property is to take the value. */
static gboolean
gst_vgg_infer_change_while_running (
    GstVggInfer *self, GParamSpec *pspec, guint prop_id, const gchar *value)
{
  GstVggModelInfo *info, *old;
  GError *err = NULL;
  gchar *current, *group;
  gboolean ok = FALSE;

  GST_OBJECT_LOCK (self);
  current = g_strdup (self->model_path);
  group = g_strdup (self->batch_group);
  GST_OBJECT_UNLOCK (self);

  info = gst_vgg_infer_build_info (self, prop_id, value, &err);
  if (info == NULL) {
    GST_ELEMENT_WARNING (self, RESOURCE, SETTINGS,
        ("%s; keeping %s", err->message, current ? current : "(none)"),
        ("%s \"%s\" not taken", pspec->name, GST_STR_NULL (value)));
    goto out;
  }
  g_mutex_lock (&self->lock);
  /* a batch group shares one model: labels, mean and std may change,
   * the model may not */
  if (group && group[0] && self->info && info->model != self->info->model) {
    g_mutex_unlock (&self->lock);
    GST_ELEMENT_WARNING (self, RESOURCE, SETTINGS,
        ("Cannot change the model of a batch-group member while running; "
         "keeping %s",
            current),
        ("batch-group \"%s\" shares one model: set \"model\" in the NULL or "
         "READY state",
            group));
    gst_vgg_model_info_unref (info);
    goto out;
  }
  old = self->next_info;
  self->next_info = info;
  g_mutex_unlock (&self->lock);
  g_clear_pointer (&old, gst_vgg_model_info_unref);
  GST_INFO_OBJECT (self,
      "%s \"%s\": new model bundle, used from the next "
      "batch on",
      pspec->name, GST_STR_NULL (value));
  ok = TRUE;

out:
  g_clear_error (&err);
  g_free (current);
  g_free (group);
  return ok;
}

static void
gst_vgg_infer_set_property (
    GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  GstVggInfer *self = GST_VGG_INFER (object);
  GstVggInferSettings *s = &self->settings;
  gchar *bad_zone = NULL;

  switch (prop_id) {
    case PROP_MEAN:
    case PROP_STD: {
      gfloat v[3];
      if (!gst_vgg_parse_rgb (
              g_value_get_string (value), v, prop_id == PROP_STD)) {
        g_warning ("vgginfer: property \"%s\": \"%s\" is not three "
                   "comma-separated numbers, finite as float%s; keeping the "
                   "old value",
            pspec->name, g_value_get_string (value),
            prop_id == PROP_STD ? ", positive and normal" : "");
        return;
      }
    }
      /* fall through */
    case PROP_MODEL:
    case PROP_LABELS:
      if (gst_vgg_infer_is_running (self)
          && !gst_vgg_infer_change_while_running (
              self, pspec, prop_id, g_value_get_string (value)))
        return;
      break;
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
      s->mode = g_value_get_enum (value);
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
    case PROP_FEATURE_LAYER: {
      const gchar *name = g_value_get_string (value);
      /* interned: a batch may hold the old name */
      s->feature_layer = g_intern_string (
          name && name[0] ? name : DEFAULT_FEATURE_LAYER);
      break;
    }
    case PROP_FEATURE_POOLING:
      s->feature_pooling = g_value_get_enum (value);
      break;
    case PROP_NORMALIZE_FEATURES:
      s->normalize_features = g_value_get_boolean (value);
      break;
    case PROP_TOP_K:
      s->top_k = g_value_get_uint (value);
      break;
    case PROP_THRESHOLD:
      s->threshold = g_value_get_double (value);
      break;
    case PROP_BATCH_SIZE:
      s->batch_size = g_value_get_uint (value);
      break;
    case PROP_BATCH_TIMEOUT:
      s->batch_timeout = g_value_get_uint (value);
      break;
    case PROP_THREADS:
      s->threads = g_value_get_int (value);
      break;
    case PROP_PRECISION:
      s->precision = g_value_get_enum (value);
      break;
    case PROP_INFERENCE_INTERVAL:
      s->inference_interval = g_value_get_uint (value);
      break;
    case PROP_LEAKY:
      s->leaky = g_value_get_enum (value);
      break;
    case PROP_MAX_QUEUE:
      s->max_queue = g_value_get_uint (value);
      break;
    case PROP_POST_MESSAGES:
      s->post_messages = g_value_get_boolean (value);
      break;
    case PROP_RESIZE:
      s->resize = g_value_get_enum (value);
      break;
    case PROP_BATCH_GROUP:
      g_free (self->batch_group);
      self->batch_group = g_value_dup_string (value);
      break;
    case PROP_INFERENCE_REGION:
    case PROP_OBJECT_CLASS:
    case PROP_REGIONS:
    case PROP_MIN_ROI_SIZE:
    case PROP_MAX_ROIS:
    case PROP_ROI_PADDING: {
      /* a new spec: a batch may be running with the old one; a bad zone
       * keeps the old one */
      GstVggRegionSpec *spec = gst_vgg_region_spec_copy (s->regions);
      if (prop_id == PROP_INFERENCE_REGION)
        spec->roi_list =
            g_value_get_enum (value) == GST_VGG_INFER_REGION_ROI_LIST;
      else if (prop_id == PROP_OBJECT_CLASS)
        gst_vgg_region_spec_set_classes (spec, g_value_get_string (value));
      else if (prop_id == PROP_REGIONS)
        gst_vgg_region_spec_set_zones (
            spec, g_value_get_string (value), &bad_zone);
      else if (prop_id == PROP_MIN_ROI_SIZE)
        spec->min_size = g_value_get_uint (value);
      else if (prop_id == PROP_MAX_ROIS)
        spec->max_rois = g_value_get_uint (value);
      else
        spec->padding = g_value_get_double (value);
      if (bad_zone) {
        gst_vgg_region_spec_unref (spec);
        break;
      }
      gst_vgg_region_spec_unref (s->regions);
      s->regions = spec;
      s->regions_serial++;
      break;
    }
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);

  if (bad_zone) {
    g_warning (
        "vgginfer: property \"regions\": %s; keeping the old value", bad_zone);
    g_free (bad_zone);
  }

  /* a chain function waiting for room may now have it, and a task
   * waiting for its batch to fill may run it now */
  if (prop_id == PROP_MAX_QUEUE || prop_id == PROP_BATCH_SIZE
      || prop_id == PROP_BATCH_TIMEOUT || prop_id == PROP_LEAKY) {
    g_mutex_lock (&self->lock);
    g_cond_broadcast (&self->item_removed);
    g_cond_broadcast (&self->item_added);
    g_mutex_unlock (&self->lock);
  }
}

static void
gst_vgg_infer_get_property (
    GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  GstVggInfer *self = GST_VGG_INFER (object);
  const GstVggInferSettings *s = &self->settings;

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_MODEL:
      g_value_set_string (value, self->model_path);
      break;
    case PROP_LABELS:
      g_value_set_string (value, self->labels_path);
      break;
    case PROP_MODE:
      g_value_set_enum (value, s->mode);
      break;
    case PROP_MEAN:
      g_value_set_string (value, self->mean_text);
      break;
    case PROP_STD:
      g_value_set_string (value, self->std_text);
      break;
    case PROP_FEATURE_LAYER:
      g_value_set_string (value, s->feature_layer);
      break;
    case PROP_FEATURE_POOLING:
      g_value_set_enum (value, s->feature_pooling);
      break;
    case PROP_NORMALIZE_FEATURES:
      g_value_set_boolean (value, s->normalize_features);
      break;
    case PROP_TOP_K:
      g_value_set_uint (value, s->top_k);
      break;
    case PROP_THRESHOLD:
      g_value_set_double (value, s->threshold);
      break;
    case PROP_BATCH_SIZE:
      g_value_set_uint (value, s->batch_size);
      break;
    case PROP_BATCH_TIMEOUT:
      g_value_set_uint (value, s->batch_timeout);
      break;
    case PROP_THREADS:
      g_value_set_int (value, s->threads);
      break;
    case PROP_PRECISION:
      g_value_set_enum (value, s->precision);
      break;
    case PROP_INFERENCE_INTERVAL:
      g_value_set_uint (value, s->inference_interval);
      break;
    case PROP_LEAKY:
      g_value_set_enum (value, s->leaky);
      break;
    case PROP_MAX_QUEUE:
      g_value_set_uint (value, s->max_queue);
      break;
    case PROP_POST_MESSAGES:
      g_value_set_boolean (value, s->post_messages);
      break;
    case PROP_RESIZE:
      g_value_set_enum (value, s->resize);
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
    case PROP_INFERENCE_REGION:
      g_value_set_enum (value, s->regions->roi_list
              ? GST_VGG_INFER_REGION_ROI_LIST
              : GST_VGG_INFER_REGION_FULL_FRAME);
      break;
    case PROP_OBJECT_CLASS:
      g_value_take_string (value, s->regions->classes
              ? g_strjoinv (",", s->regions->classes)
              : NULL);
      break;
    case PROP_REGIONS:
      g_value_set_string (value, s->regions->zones_text);
      break;
    case PROP_MIN_ROI_SIZE:
      g_value_set_uint (value, s->regions->min_size);
      break;
    case PROP_MAX_ROIS:
      g_value_set_uint (value, s->regions->max_rois);
      break;
    case PROP_ROI_PADDING:
      g_value_set_double (value, s->regions->padding);
      break;
    case PROP_ROIS_INFERRED:
      g_value_set_uint64 (value, self->rois_inferred);
      break;
    case PROP_ROIS_SKIPPED:
      g_value_set_uint64 (value, self->rois_skipped);
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

/* --- the model --- */

/* Makes `info` the active bundle (a new reference) and, unless the
 * element is in a batch group, sizes its own context for it.  Errors are
 * posted. */
static gboolean
gst_vgg_infer_activate (GstVggInfer *self, GstVggModelInfo *info)
{
  GstVggInferSettings s;
  GstVggModelInfo *old;
  GError *err = NULL;
  gboolean grouped;

  GST_OBJECT_LOCK (self);
  s = self->settings;
  grouped = self->batch_group != NULL && self->batch_group[0] != '\0';
  GST_OBJECT_UNLOCK (self);

  if (!grouped
      && !gst_vgg_runner_configure (&self->runner, info->model, s.batch_size,
          s.threads, s.precision, &err)) {
    POST_ERROR (self, err);
    g_error_free (err);
    return FALSE;
  }
  /* a setter of a running element compares its model with this one */
  g_mutex_lock (&self->lock);
  old = self->info;
  self->info = gst_vgg_model_info_ref (info);
  g_mutex_unlock (&self->lock);
  g_clear_pointer (&old, gst_vgg_model_info_unref);
  return TRUE;
}

/* Builds the bundle of the current properties and activates it; what a
 * state change to READY (or a reopen at READY to PAUSED) needs.  Without
 * a `mode` of its own, the element takes the model's (vgg16-features
 * selects features). */
static gboolean
gst_vgg_infer_open (GstVggInfer *self)
{
  GstVggModelInfo *info;
  GError *err = NULL;
  char msg[VGG_ERROR_SIZE];
  const gchar *layer;
  VggPoint point;
  gboolean ok, features;

  info = gst_vgg_infer_build_info (self, PROP_0, NULL, &err);
  if (info == NULL) {
    POST_ERROR (self, err);
    g_error_free (err);
    return FALSE;
  }
  GST_OBJECT_LOCK (self);
  if (!self->mode_set)
    self->settings.mode = info->known && info->known->features
        ? GST_VGG_INFER_MODE_FEATURES
        : DEFAULT_MODE;
  features = self->settings.mode == GST_VGG_INFER_MODE_FEATURES;
  layer = self->settings.feature_layer;
  GST_OBJECT_UNLOCK (self);
  /* a feature-layer the model does not have: an error now, naming those
   * it has, rather than logits later */
  if (features && vgg_model_find_point (info->model, layer, &point, msg)) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("feature-layer \"%s\" is not a layer of %s: %s", layer,
            info->model_spec, msg),
        (NULL));
    gst_vgg_model_info_unref (info);
    return FALSE;
  }
  ok = gst_vgg_infer_activate (self, info);
  gst_vgg_model_info_unref (info);
  return ok;
}

/* The bundle matches the properties (else READY to PAUSED rebuilds it). */
static gboolean
gst_vgg_infer_info_is_current (GstVggInfer *self)
{
  GstVggModelSpec spec;
  gboolean current;

  if (self->info == NULL)
    return FALSE;
  GST_OBJECT_LOCK (self);
  spec = (GstVggModelSpec){ self->model_path, self->labels_path,
    self->mean_text, self->std_text };
  current = gst_vgg_model_info_matches (self->info, &spec);
  GST_OBJECT_UNLOCK (self);
  return current;
}

static void
gst_vgg_infer_drop_next_info (GstVggInfer *self)
{
  GstVggModelInfo *next;

  g_mutex_lock (&self->lock);
  next = g_steal_pointer (&self->next_info);
  g_mutex_unlock (&self->lock);
  g_clear_pointer (&next, gst_vgg_model_info_unref);
}

static void
gst_vgg_infer_close (GstVggInfer *self)
{
  GstVggModelInfo *info;

  gst_vgg_infer_drop_next_info (self);
  gst_vgg_runner_reset (&self->runner);
  gst_vgg_preprocess_clear (&self->preprocess);
  g_mutex_lock (&self->lock);
  info = g_steal_pointer (&self->info);
  g_mutex_unlock (&self->lock);
  g_clear_pointer (&info, gst_vgg_model_info_unref);
}

/* --- the queue --- */

/* Wakes every waiter: srcresult changed.  Lock held. */
static void
gst_vgg_infer_wake_all_locked (GstVggInfer *self)
{
  g_cond_broadcast (&self->item_added);
  g_cond_broadcast (&self->item_removed);
  g_cond_broadcast (&self->query_handled);
}

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
  self->n_pending = self->n_frames = 0;
  if (self->query && !self->query_running) {
    self->query = NULL;
    self->query_result = FALSE;
  }
  gst_vgg_infer_wake_all_locked (self);
}

/* Takes the queued `query` out of the queue.  Lock held. */
static void
gst_vgg_infer_drop_query_locked (GstVggInfer *self, GstQuery *query)
{
  guint len = gst_queue_array_get_length (self->queue);

  for (guint i = 0; i < len; i++) {
    GstVggInferItem *item = gst_queue_array_peek_nth_struct (self->queue, i);
    if (item->type == GST_VGG_INFER_ITEM_QUERY
        && item->object == GST_MINI_OBJECT_CAST (query)) {
      gst_queue_array_drop_struct (self->queue, i, NULL);
      return;
    }
  }
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
  if (type == GST_VGG_INFER_ITEM_BUFFER || type == GST_VGG_INFER_ITEM_PASS)
    self->n_frames++;
  g_cond_broadcast (&self->item_added);
}

static GstFlowReturn
gst_vgg_infer_chain (GstPad *pad, GstObject *parent, GstBuffer *buffer)
{
  GstVggInfer *self = GST_VGG_INFER (parent);
  GstVggInferItemType want = GST_VGG_INFER_ITEM_BUFFER, type;
  GstFlowReturn ret;
  guint max_queue, interval;
  GstVggInferLeaky leaky;
  gboolean skipped;

  GST_OBJECT_LOCK (self);
  max_queue = MAX (self->settings.max_queue, self->settings.batch_size);
  interval = self->settings.inference_interval;
  leaky = self->settings.leaky;
  GST_OBJECT_UNLOCK (self);

  g_mutex_lock (&self->lock);
  if (interval > 1 && self->frame_count % interval != 0)
    want = GST_VGG_INFER_ITEM_PASS;
  for (;;) {
    type = want;
    skipped = FALSE;
    if (self->srcresult != GST_FLOW_OK)
      break;
    if (type == GST_VGG_INFER_ITEM_BUFFER && self->n_pending >= max_queue
        && leaky == GST_VGG_INFER_LEAKY_SKIP) {
      type = GST_VGG_INFER_ITEM_PASS;
      skipped = TRUE;
    }
    if (self->n_frames < max_queue * FRAMES_PER_QUEUE_SLOT
        && (type != GST_VGG_INFER_ITEM_BUFFER || self->n_pending < max_queue))
      break;
    g_cond_wait (&self->item_removed, &self->lock);
    /* the properties may have changed while waiting */
    GST_OBJECT_LOCK (self);
    max_queue = MAX (self->settings.max_queue, self->settings.batch_size);
    leaky = self->settings.leaky;
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
      gst_vgg_runner_cancel (&self->runner);
      gst_pad_pause_task (self->srcpad);
      GST_DEBUG_OBJECT (self, "flush started, task paused");
      return ret;
    case GST_EVENT_FLUSH_STOP:
      g_mutex_lock (&self->lock);
      gst_vgg_infer_flush_queue_locked (self, FALSE);
      self->srcresult = GST_FLOW_OK;
      self->frame_count = 0;
      g_mutex_unlock (&self->lock);
      gst_vgg_runner_resume (&self->runner);
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
    g_cond_wait (&self->query_handled, &self->lock);
  if (self->srcresult != GST_FLOW_OK) {
    g_mutex_unlock (&self->lock);
    return FALSE;
  }
  self->query = query;
  self->query_running = FALSE;
  self->query_result = FALSE;
  gst_vgg_infer_push_item_locked (self, GST_VGG_INFER_ITEM_QUERY, query);
  while (self->query == query
      && (self->srcresult == GST_FLOW_OK || self->query_running))
    g_cond_wait (&self->query_handled, &self->lock);
  ret = self->query_result;
  if (self->query == query) {
    /* the task stopped (on an error downstream) before the query's turn:
     * it is not answered, and leaves the queue with this call */
    gst_vgg_infer_drop_query_locked (self, query);
    self->query = NULL;
    ret = FALSE;
  }
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
      guint group_wait;

      if (!gst_pad_peer_query (self->sinkpad, query))
        return FALSE;
      gst_query_parse_latency (query, &live, &min, &max);
      /* a frame may wait batch-timeout for its batch to fill: the
       * group's, in a group (whatever this element's batch-size) */
      if (gst_vgg_runner_group_wait (&self->runner, &group_wait)) {
        own = group_wait * GST_MSECOND;
      } else {
        GST_OBJECT_LOCK (self);
        if (self->settings.batch_size > 1)
          own = self->settings.batch_timeout * GST_MSECOND;
        GST_OBJECT_UNLOCK (self);
      }
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
    gst_vgg_runner_resume (&self->runner);
    return gst_pad_start_task (
        pad, (GstTaskFunction) gst_vgg_infer_loop, self, NULL);
  }
  g_mutex_lock (&self->lock);
  self->srcresult = GST_FLOW_FLUSHING;
  gst_vgg_infer_flush_queue_locked (self, TRUE);
  g_mutex_unlock (&self->lock);
  gst_vgg_runner_cancel (&self->runner);
  return gst_pad_stop_task (pad);
}

/* --- the streaming task --- */

/* At a batch boundary: a bundle built while running replaces the active
 * one. */
static gboolean
gst_vgg_infer_switch_info (GstVggInfer *self)
{
  GstVggModelInfo *next;
  gboolean ok;

  g_mutex_lock (&self->lock);
  next = g_steal_pointer (&self->next_info);
  g_mutex_unlock (&self->lock);
  if (next == NULL)
    return TRUE;
  ok = gst_vgg_infer_activate (self, next);
  if (ok)
    GST_INFO_OBJECT (self, "switched to model %s (labels %s)", next->model_spec,
        GST_STR_NULL (next->labels_spec));
  gst_vgg_model_info_unref (next);
  return ok;
}

/* What the network is read at for `s`: the probabilities, or
 * feature-layer with feature-pooling; *dims values per input, *layer the
 * name to report (interned).  A feature layer the model does not have
 * falls back to the logits, with a warning once. */
static void
gst_vgg_infer_point (GstVggInfer *self, const GstVggInferSettings *s,
    VggPoint *point, VggPooling *pooling, gint *dims, const gchar **layer)
{
  const GstVggModelInfo *info = self->info;
  char msg[VGG_ERROR_SIZE];
  const gchar *name = s->mode == GST_VGG_INFER_MODE_CLASSIFY
      ? "probs"
      : s->feature_layer;

  *layer = g_intern_string (name);
  if (vgg_model_find_point (info->model, name, point, msg) != VGG_OK) {
    if (!self->warned_layer)
      GST_ELEMENT_WARNING (self, STREAM, FAILED,
          ("feature-layer %s: %s; using the logits", name, msg), (NULL));
    self->warned_layer = TRUE;
    vgg_model_find_point (info->model, "logits", point, NULL);
    *layer = g_intern_static_string ("logits");
  }
  *pooling = gst_vgg_infer_pooling_resolve (s->feature_pooling, point);
  *dims = vgg_model_get_point_dims (
      info->model, point, *pooling, info->width, info->height);
}

/* The frame size of the caps, 0 x 0 before caps. */
static void
gst_vgg_infer_frame_size (GstVggInfer *self, gint *width, gint *height)
{
  *width = self->preprocess.have_info
      ? GST_VIDEO_INFO_WIDTH (&self->preprocess.in_info)
      : 0;
  *height = self->preprocess.have_info
      ? GST_VIDEO_INFO_HEIGHT (&self->preprocess.in_info)
      : 0;
}

/* What the network runs on, into self->inputs: each ITEM_BUFFER among the
 * n_items of self->batch, or, by regions, each region of them (into
 * self->rois; the frames made writable, the zones put on them).  Returns
 * how many. */
static guint
gst_vgg_infer_collect_inputs (
    GstVggInfer *self, const GstVggInferSettings *s, guint n_items)
{
  gboolean by_regions = gst_vgg_region_spec_by_regions (s->regions);
  guint64 skipped = 0;
  gint width, height;

  gst_vgg_infer_frame_size (self, &width, &height);
  g_array_set_size (self->inputs, 0);
  g_array_set_size (self->rois, 0);
  for (guint i = 0; i < n_items; i++) {
    GstVggInferItem *item = &self->batch[i];
    GstBuffer *buffer;

    item->first_roi = self->rois->len;
    item->n_rois = item->rois_skipped = 0;
    if (item->type != GST_VGG_INFER_ITEM_BUFFER)
      continue;
    if (!by_regions) {
      GstVggInferInput in = { i, NULL };
      g_array_append_val (self->inputs, in);
      continue;
    }
    /* the ROI metas get results: select on the writable buffer, whose
     * metas stay where they are until it is pushed */
    buffer = gst_buffer_make_writable (GST_BUFFER_CAST (item->object));
    item->object = GST_MINI_OBJECT_CAST (buffer);
    item->n_rois = gst_vgg_regions_select (
        s->regions, buffer, width, height, self->rois, &item->rois_skipped);
    skipped += item->rois_skipped;
  }
  /* (self->rois does not grow any more: pointers into it hold) */
  for (guint i = 0; by_regions && i < n_items; i++) {
    GstVggInferItem *item = &self->batch[i];

    for (guint r = item->first_roi; r < item->first_roi + item->n_rois; r++) {
      GstVggRoi *roi = &g_array_index (self->rois, GstVggRoi, r);
      GstVggInferInput in = { i, roi->crop };

      if (roi->meta == NULL)
        gst_vgg_regions_add_zone (GST_BUFFER_CAST (item->object), roi);
      g_array_append_val (self->inputs, in);
    }
  }
  if (by_regions) {
    GST_OBJECT_LOCK (self);
    self->rois_skipped += skipped;
    GST_OBJECT_UNLOCK (self);
  }
  return self->inputs->len;
}

/* Preprocesses self->inputs and runs the network on them, in forward
 * passes of up to batch-size; *rows gets their output rows, (n, dims). */
static GstFlowReturn
gst_vgg_infer_run (GstVggInfer *self, const GstVggInferSettings *s,
    const VggPoint *point, VggPooling pooling, gint dims, const gfloat **rows)
{
  const GstVggModelInfo *info = self->info;
  gsize frame = (gsize) 3 * info->width * info->height;
  guint n = self->inputs->len;
  GError *err = NULL;
  GstFlowReturn ret = GST_FLOW_OK;

  if (!gst_vgg_runner_is_grouped (&self->runner)
      && !gst_vgg_runner_configure (&self->runner, info->model, s->batch_size,
          s->threads, s->precision, &err)) {
    ret = GST_FLOW_ERROR;
    goto out;
  }
  /* more inputs than a forward pass takes (regions): the rows of each
   * pass are kept here */
  if (n > s->batch_size && self->rows_alloc < (gsize) n * dims) {
    self->rows = g_renew (gfloat, self->rows, (gsize) n * dims);
    self->rows_alloc = (gsize) n * dims;
  }
  for (guint first = 0; first < n; first += s->batch_size) {
    guint chunk = MIN (s->batch_size, n - first);
    gfloat *input = gst_vgg_runner_get_input (&self->runner, chunk, frame);
    const gfloat *out;

    for (guint k = 0; k < chunk; k++) {
      const GstVggInferInput *in =
          &g_array_index (self->inputs, GstVggInferInput, first + k);
      const GstVggInferItem *item = &self->batch[in->item];

      if (!gst_vgg_preprocess_frame (&self->preprocess, info, s->resize,
              s->threads > 0 ? (guint) s->threads : 0,
              GST_BUFFER_CAST (item->object), item->number, in->crop,
              input + k * frame, &err)) {
        ret = GST_FLOW_ERROR;
        goto out;
      }
    }
    ret = gst_vgg_runner_forward (&self->runner, chunk, info->height,
        info->width, point, pooling, dims, &out, &err);
    if (ret != GST_FLOW_OK)
      goto out;
    if (n <= s->batch_size)
      *rows = out;
    else
      memcpy (self->rows + (gsize) first * dims, out,
          sizeof (gfloat) * chunk * dims);
  }
  if (n > s->batch_size)
    *rows = self->rows;

out:
  if (err) {
    POST_ERROR (self, err);
    g_error_free (err);
  }
  return ret;
}

/* The batch: preprocess, run, results, push.  Runs the network on the
 * n_frames ITEM_BUFFERs among the n_items of self->batch (at most
 * s->batch_size of them), or on their regions, and pushes every buffer
 * in order.  Consumes the items. */
static GstFlowReturn
gst_vgg_infer_process_batch (GstVggInfer *self, const GstVggInferSettings *s,
    guint n_items, guint n_frames)
{
  GstVggResultsSettings rs;
  const gfloat *rows = NULL;
  GstFlowReturn ret = GST_FLOW_OK;
  VggPoint point = { 0 };
  VggPooling pooling = VGG_POOLING_NONE;
  const gchar *layer = NULL;
  gboolean by_regions = gst_vgg_region_spec_by_regions (s->regions);
  gint dims = 0;
  guint done = 0, k = 0, n_infer = 0;
  gdouble ms = 0.0;

  if (!gst_vgg_infer_switch_info (self)) {
    ret = GST_FLOW_ERROR;
    goto out;
  }
  if (n_frames > 0)
    n_infer = gst_vgg_infer_collect_inputs (self, s, n_items);
  if (n_infer > 0) {
    gint64 t0 = g_get_monotonic_time ();

    gst_vgg_infer_point (self, s, &point, &pooling, &dims, &layer);
    ret = gst_vgg_infer_run (self, s, &point, pooling, dims, &rows);
    if (ret != GST_FLOW_OK)
      goto out;
    ms = (g_get_monotonic_time () - t0) / 1000.0;
    GST_LOG_OBJECT (self, "batch of %u inputs (%u frames, %u items) in %.2f ms",
        n_infer, n_frames, n_items, ms);
  }
  if (n_infer > 0) {
    /* the frames the network ran on: by regions, those with any */
    guint n_run = n_frames;
    for (guint i = 0; by_regions && i < n_items; i++)
      if (self->batch[i].type == GST_VGG_INFER_ITEM_BUFFER
          && self->batch[i].n_rois == 0)
        n_run--;
    GST_OBJECT_LOCK (self);
    self->frames_inferred += n_run;
    if (by_regions)
      self->rois_inferred += n_infer;
    self->inference_ms_total += ms;
    GST_OBJECT_UNLOCK (self);
  }

  rs = (GstVggResultsSettings){ s->top_k, s->threshold, s->normalize_features,
    layer };
  for (done = 0; done < n_items; done++) {
    GstVggInferItem *item = &self->batch[done];
    GstBuffer *buffer = GST_BUFFER_CAST (item->object);

    item->object = NULL;
    if (item->type == GST_VGG_INFER_ITEM_BUFFER) {
      gboolean classify = s->mode == GST_VGG_INFER_MODE_CLASSIFY;
      GstVggMeta *meta;

      buffer = gst_buffer_make_writable (buffer);
      if (by_regions) {
        /* the frame's meta holds its regions' results */
        meta = gst_vgg_results_attach (&self->results, buffer, self->info, &rs,
            ms / n_frames, NULL, 0, NULL, 0);
        for (guint r = 0; r < item->n_rois; r++, k++) {
          const gfloat *row = rows + (gsize) k * dims;
          gst_vgg_results_attach_region (&self->results, meta,
              &g_array_index (self->rois, GstVggRoi, item->first_roi + r),
              self->info, &rs, classify ? row : NULL, dims,
              classify ? NULL : row, dims);
        }
      } else {
        const gfloat *row = rows + (gsize) k * dims;
        meta = gst_vgg_results_attach (&self->results, buffer, self->info, &rs,
            ms / n_frames, classify ? row : NULL, dims, classify ? NULL : row,
            dims);
        k++;
      }
      if (s->post_messages)
        gst_element_post_message (GST_ELEMENT (self),
            gst_message_new_element (GST_OBJECT (self),
                gst_vgg_results_to_structure (buffer, meta, &self->segment,
                    by_regions, item->rois_skipped)));
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
      /* the ACCEPT_CAPS query refused what this refuses, before the event
       * got here */
      if (!gst_vgg_preprocess_set_caps (&self->preprocess, caps, &reason))
        GST_WARNING_OBJECT (
            self, "invalid caps %" GST_PTR_FORMAT ": %s", caps, reason);
      g_free (reason);
      GST_DEBUG_OBJECT (self, "caps %" GST_PTR_FORMAT, caps);
      break;
    }
    case GST_EVENT_SEGMENT:
      gst_event_copy_segment (event, &self->segment);
      break;
    case GST_EVENT_EOS:
      /* no frame comes before a flush or a new stream: a batch group's
       * other streams stop waiting for ours */
      gst_vgg_runner_end (&self->runner);
      break;
    default:
      break;
  }
  GST_LOG_OBJECT (self, "pushing %" GST_PTR_FORMAT, event);
  gst_pad_push_event (self->srcpad, event);
}

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

/* The task: takes an event or query, or a batch of frames, from the head
 * of the queue and sends it downstream. */
static void
gst_vgg_infer_loop (GstVggInfer *self)
{
  GstEvent *eos = NULL;
  GstVggInferItem *head;
  GstVggInferSettings s = { 0 };
  guint n_items = 0, n_infer = 0, n_frames = 0;
  GstFlowReturn ret;
  gboolean grouped = gst_vgg_runner_is_grouped (&self->runner);
  gint width, height;
  gint64 first;

  g_mutex_lock (&self->lock);
  while (
      gst_queue_array_is_empty (self->queue) && self->srcresult == GST_FLOW_OK)
    g_cond_wait (&self->item_added, &self->lock);
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
    g_cond_broadcast (&self->query_handled);
    g_mutex_unlock (&self->lock);
    return;
  }

  /* (head is only valid until the lock is released) */
  first = head->arrival;
  /* Frames, as many as the batching policy says: more may come unless an
   * event or query follows them, none needs inference, or a batch group
   * (whose worker waits for the frames of all streams) runs them. */
  for (;;) {
    gboolean ended = FALSE, full;
    guint len = gst_queue_array_get_length (self->queue);
    gint64 deadline;

    /* the batch's settings (batch-size may change while waiting) */
    if (s.regions)
      gst_vgg_region_spec_unref (s.regions);
    GST_OBJECT_LOCK (self);
    s = self->settings;
    gst_vgg_region_spec_ref (s.regions);
    GST_OBJECT_UNLOCK (self);
    gst_vgg_infer_frame_size (self, &width, &height);
    /* a batch is batch-size inputs: frames, or regions of frames (a
     * frame whose regions pass batch-size is run in several forward
     * passes, a frame without any in none) */
    n_items = n_infer = n_frames = 0;
    while (n_items < len && n_infer < s.batch_size) {
      GstVggInferItem *item =
          gst_queue_array_peek_nth_struct (self->queue, n_items);
      if (item->type == GST_VGG_INFER_ITEM_EVENT
          || item->type == GST_VGG_INFER_ITEM_QUERY) {
        ended = TRUE;
        break;
      }
      n_items++;
      if (item->type != GST_VGG_INFER_ITEM_BUFFER)
        continue;
      n_frames++;
      if (!gst_vgg_region_spec_by_regions (s.regions)) {
        n_infer++;
        continue;
      }
      /* counted once per frame and spec, not at every wake-up (the frame
       * size cannot change before the frame leaves: a caps event behind
       * it waits); collect_inputs selects them on the writable frame */
      if (item->counted_serial != s.regions_serial) {
        item->n_counted = gst_vgg_regions_select (s.regions,
            GST_BUFFER_CAST (item->object), width, height, NULL, NULL);
        item->counted_serial = s.regions_serial;
      }
      n_infer += item->n_counted;
    }
    /* a full queue takes no more frames until this batch runs (by
     * regions it may hold fewer than batch-size inputs) */
    full = self->n_pending >= MAX (s.max_queue, s.batch_size)
        || self->n_frames
            >= MAX (s.max_queue, s.batch_size) * FRAMES_PER_QUEUE_SLOT;
    deadline = gst_vgg_batch_wait_until (n_infer, s.batch_size,
        !ended && !full && n_infer > 0 && !grouped, first, s.batch_timeout,
        g_get_monotonic_time ());
    if (deadline == 0)
      break;
    g_cond_wait_until (&self->item_added, &self->lock, deadline);
    if (self->srcresult != GST_FLOW_OK)
      goto paused_locked;
  }

  if (self->batch_alloc < n_items) {
    self->batch = g_renew (GstVggInferItem, self->batch, n_items);
    self->batch_alloc = n_items;
  }
  for (guint i = 0; i < n_items; i++)
    self->batch[i] =
        *(GstVggInferItem *) gst_queue_array_pop_head_struct (self->queue);
  self->n_pending -= n_frames;
  /* (a batch's items are all frames: it ends at an event or query) */
  self->n_frames -= n_items;
  g_cond_broadcast (&self->item_removed);
  g_mutex_unlock (&self->lock);

  ret = gst_vgg_infer_process_batch (self, &s, n_items, n_frames);
  gst_vgg_region_spec_unref (s.regions);
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
  else
    gst_vgg_infer_wake_all_locked (self);
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
  gst_vgg_runner_end (&self->runner);
  gst_pad_pause_task (self->srcpad);
  return;

paused_locked:
  ret = self->srcresult;
  g_mutex_unlock (&self->lock);
  if (s.regions)
    gst_vgg_region_spec_unref (s.regions);
  GST_DEBUG_OBJECT (self, "pausing task: %s", gst_flow_get_name (ret));
  gst_vgg_runner_end (&self->runner);
  gst_pad_pause_task (self->srcpad);
}

/* --- state --- */

/* With batch-group set, joins the group for the active model. */
static gboolean
gst_vgg_infer_join_group (GstVggInfer *self)
{
  GstVggInferSettings s;
  GError *err = NULL;
  gchar *group;
  gboolean ok = TRUE;

  GST_OBJECT_LOCK (self);
  group = g_strdup (self->batch_group);
  s = self->settings;
  GST_OBJECT_UNLOCK (self);

  if (group && group[0] && s.mode == GST_VGG_INFER_MODE_FEATURES) {
    VggPoint point;

    if (vgg_model_find_point (self->info->model, s.feature_layer, &point, NULL)
            == VGG_OK
        && !gst_vgg_batch_group_reads (&point,
            gst_vgg_infer_pooling_resolve (s.feature_pooling, &point))) {
      GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
          ("batch-group \"%s\" reads fc7, fc6, logits and pool5 (without "
           "pooling) only, not feature-layer %s",
              group, s.feature_layer),
          ("leave batch-group unset to read other layers"));
      g_free (group);
      return FALSE;
    }
  }
  if (group && group[0] && !gst_vgg_runner_is_grouped (&self->runner)) {
    ok = gst_vgg_runner_join_group (&self->runner, group, self->info->model,
        s.batch_size, s.batch_timeout, s.threads, s.precision, &err);
    if (!ok) {
      POST_ERROR (self, err);
      g_error_free (err);
    } else {
      GST_INFO_OBJECT (self, "joined batch-group \"%s\" (batch %u)", group,
          gst_vgg_batch_group_get_batch_size (self->runner.member));
    }
  }
  g_free (group);
  return ok;
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
    case GST_STATE_CHANGE_READY_TO_PAUSED:
      GST_OBJECT_LOCK (self);
      self->frames_inferred = self->frames_skipped = 0;
      self->rois_inferred = self->rois_skipped = 0;
      self->inference_ms_total = 0.0;
      GST_OBJECT_UNLOCK (self);
      /* a bundle a setter made for the last run (PAUSED_TO_READY may
       * have dropped the others before it was stored) */
      gst_vgg_infer_drop_next_info (self);
      if (!gst_vgg_infer_info_is_current (self) && !gst_vgg_infer_open (self))
        return GST_STATE_CHANGE_FAILURE;
      if (!gst_vgg_infer_join_group (self))
        return GST_STATE_CHANGE_FAILURE;
      gst_segment_init (&self->segment, GST_FORMAT_UNDEFINED);
      gst_vgg_preprocess_clear (&self->preprocess);
      self->warned_layer = FALSE;
      break;
    default:
      break;
  }

  ret = GST_ELEMENT_CLASS (parent_class)->change_state (element, transition);
  if (ret == GST_STATE_CHANGE_FAILURE)
    return ret;

  switch (transition) {
    case GST_STATE_CHANGE_PAUSED_TO_READY:
      /* the task has stopped with the pads */
      gst_vgg_preprocess_clear (&self->preprocess);
      gst_vgg_runner_leave_group (&self->runner);
      /* a bundle built while running and not used yet: the properties
       * now name it, and READY_TO_PAUSED builds it again */
      gst_vgg_infer_drop_next_info (self);
      break;
    case GST_STATE_CHANGE_READY_TO_NULL:
      GST_OBJECT_LOCK (self);
      gst_clear_caps (&self->caps_error);
      GST_OBJECT_UNLOCK (self);
      gst_vgg_infer_close (self);
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

  gst_vgg_infer_close (self);
  gst_vgg_runner_clear (&self->runner);
  gst_vgg_results_clear (&self->results);
  while (!gst_queue_array_is_empty (self->queue)) {
    GstVggInferItem *item = gst_queue_array_pop_head_struct (self->queue);
    if (item->type != GST_VGG_INFER_ITEM_QUERY)
      gst_mini_object_unref (item->object);
  }
  gst_queue_array_free (self->queue);
  gst_clear_caps (&self->caps_error);
  g_free (self->batch);
  g_array_free (self->rois, TRUE);
  g_array_free (self->inputs, TRUE);
  g_free (self->rows);
  gst_vgg_region_spec_unref (self->settings.regions);
  g_free (self->batch_group);
  g_free (self->model_path);
  g_free (self->labels_path);
  g_free (self->mean_text);
  g_free (self->std_text);
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->item_added);
  g_cond_clear (&self->item_removed);
  g_cond_clear (&self->query_handled);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

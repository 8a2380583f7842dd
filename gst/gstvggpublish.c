/* vggpublish: writes the results of every frame as JSON to a file or an
 * MQTT broker.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
/**
 * SECTION:element-vggpublish
 * @title: vggpublish
 * @short_description: results of every frame as JSON lines, to a file or
 *   an MQTT broker
 *
 * vggpublish passes every buffer through untouched (the same buffer, in
 * place) and, for each frame that carries a #GstVggMeta, writes one JSON
 * object of schema 1 (gst_vgg_frame_to_json(); the README lists its
 * members): the stream's name (#GstVggPublish:source-id), the frame's
 * number, its PTS, the model, the top-k classes, the feature vector
 * (#GstVggPublish:features-format) and the regions.  Frames without
 * results are skipped unless #GstVggPublish:publish-empty is set.
 *
 * With method=file each object is one line of #GstVggPublish:file-path
 * ("-" for stdout), flushed with the first line written
 * #GstVggPublish:flush-interval ms after the last flush, and at EOS.  A
 * write that fails is an error naming the file; one to a pipe or FIFO
 * whose reader has gone is too ("Broken pipe"), not a SIGPIPE that would
 * end the process.  This covers the element's own writes only: with
 * file-path=- give gst-launch-1.0 -q, whose own messages on stdout would
 * otherwise raise the signal after the error.
 *
 * With method=mqtt each object is one message, published with libmosquitto
 * to the broker at #GstVggPublish:address under #GstVggPublish:topic
 * ("{stream}" in it becomes the source-id).  The video never waits for the
 * network: messages wait in a queue of at most #GstVggPublish:max-pending
 * (those not yet handed to libmosquitto plus those it has not yet
 * written, qos 0, or had acknowledged, qos 1), which libmosquitto's own
 * thread empties.  When the connection breaks, that thread reconnects
 * with exponential backoff (1 s, 4 s, 9 s ... up to 30 s) and the element
 * posts one WARNING; messages that find the queue full are dropped and
 * counted (#GstVggPublish:dropped), and so are, with qos 0, those
 * libmosquitto had not yet written when the connection broke (with qos 1
 * it sends them again).  Once the reconnection has handed the outage's
 * backlog over and the queue has room again, an INFO message gives the
 * outage's length and count.  A broker that cannot be reached, refuses
 * the credentials, fails the TLS handshake or does not answer within
 * 10 s at start fails the change to PAUSED with an error naming the
 * address and the reason.
 *
 * ## Example launch lines
 * |[
 * gst-launch-1.0 videotestsrc num-buffers=10 ! \
 *     vgginfer model=models/fashion-vgg.safetensors ! \
 *     vggpublish method=file file-path=results.jsonl ! fakesink
 * ]| Writes ten lines of JSON, one per frame, with the Fashion-MNIST
 * classes of the test pattern, to results.jsonl.
 * |[
 * gst-launch-1.0 v4l2src ! videoconvert ! vgginfer model=vgg16 leaky=skip ! \
 *     vggpublish method=mqtt address=broker.local:1883 source-id=door \
 *     topic="cameras/{stream}" ! fakesink
 * ]| Publishes the classes of every camera frame to topic cameras/door.
 */

#include "gstvggpublish.h"

#include <errno.h>
#include <mosquitto.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "gstvggmeta.h"

GST_DEBUG_CATEGORY_STATIC (gst_vgg_publish_debug);
#define GST_CAT_DEFAULT gst_vgg_publish_debug

#define DEFAULT_METHOD GST_VGG_PUBLISH_METHOD_FILE
#define DEFAULT_SOURCE_ID NULL
#define DEFAULT_PUBLISH_EMPTY FALSE
#define DEFAULT_FEATURES_FORMAT GST_VGG_FEATURES_FORMAT_ARRAY
#define DEFAULT_FILE_PATH "-"
#define DEFAULT_FILE_MODE GST_VGG_PUBLISH_FILE_MODE_TRUNCATE
#define DEFAULT_FLUSH_INTERVAL 1000
#define DEFAULT_ADDRESS "localhost:1883"
#define DEFAULT_TOPIC "vgg/{stream}"
#define DEFAULT_QOS 0
#define DEFAULT_CLIENT_ID NULL
#define DEFAULT_USERNAME NULL
#define DEFAULT_PASSWORD NULL
#define DEFAULT_TLS_CA_FILE NULL
#define DEFAULT_KEEPALIVE 60
#define DEFAULT_MAX_PENDING 1000
#define DEFAULT_EOS_TIMEOUT 5000

/* How long start() waits for the broker's answer (CONNACK). */
#define CONNECT_TIMEOUT_S 10
/* at stop, the longest wait for the DISCONNECT to go out */
#define DISCONNECT_WAIT_MS 1000
/* libmosquitto's reconnection backoff: delay·n² seconds before the n-th
 * attempt, at most the maximum. */
#define RECONNECT_DELAY_S 1
#define RECONNECT_DELAY_MAX_S 30

enum
{
  PROP_0,
  PROP_METHOD,
  PROP_SOURCE_ID,
  PROP_PUBLISH_EMPTY,
  PROP_FEATURES_FORMAT,
  PROP_FILE_PATH,
  PROP_FILE_MODE,
  PROP_FLUSH_INTERVAL,
  PROP_ADDRESS,
  PROP_TOPIC,
  PROP_QOS,
  PROP_CLIENT_ID,
  PROP_USERNAME,
  PROP_PASSWORD,
  PROP_TLS_CA_FILE,
  PROP_KEEPALIVE,
  PROP_MAX_PENDING,
  PROP_EOS_TIMEOUT,
  PROP_PUBLISHED,
  PROP_DROPPED
};

/* One MQTT message waiting for the connection. */
typedef struct
{
  gchar *topic;
  gchar *payload;
  gsize size;
} GstVggPublishMessage;

/* The settings read once per frame by the streaming thread. */
typedef struct
{
  gchar *source_id; /* NULL: the element's name */
  gboolean publish_empty;
  GstVggFeaturesFormat features_format;
  guint flush_interval; /* ms */
  gchar *topic;
} GstVggPublishFrameSettings;

struct _GstVggPublish
{
  GstBaseTransform parent;

  /* Settings, under the object lock; serial counts the changes of those
   * in `settings`.  The others are read by start(). */
  GstVggPublishFrameSettings settings;
  guint settings_serial;
  GstVggPublishMethod method;
  gchar *file_path;
  GstVggPublishFileMode file_mode;
  gchar *address;
  guint qos;
  gchar *client_id;
  gchar *username;
  gchar *password;
  gchar *tls_ca_file;
  guint keepalive;
  guint max_pending;
  guint eos_timeout; /* ms */

  /* Streaming thread (and start/stop) only. */
  GstVggPublishMethod active_method;
  GstVggPublishFrameSettings active; /* copy of `settings` */
  guint active_serial;
  gchar *stream; /* source-id or the element's name */
  gchar *topic;  /* active.topic with {stream} replaced */
  guint64 frame; /* buffers seen since start */
  FILE *file;    /* method=file; stdout for "-" */
  gchar *active_path;
  gboolean own_file;
  gint64 last_flush; /* monotonic µs */

  /* method=mqtt: the connection, shared with the loop thread.
   * mosq is set in start() and cleared in stop(), when that thread is not
   * running.  Everything else under `lock`; no libmosquitto function is
   * called with `lock` held (its callbacks take it). */
  struct mosquitto *mosq;
  pthread_t loop_thread; /* runs libmosquitto's loop while loop_running */
  gboolean loop_running;
  gchar *active_address; /* for messages, from any thread */
  gchar *host;
  gint port;
  gint active_qos;
  gint active_keepalive;
  guint active_max_pending;
  GMutex lock;
  GCond cond;       /* connack, drained: for start() and EOS */
  gboolean waiting; /* someone waits on `cond` */
  gboolean started; /* start() has had its CONNACK */
  gint connack;     /* -1 until the first CONNACK */
  gboolean broken;  /* the first connection broke before a CONNACK */
  gint broken_rc;   /* how (on_disconnect's code and errno), or 0 */
  gint broken_errno;
  gboolean connected;
  gboolean stopping;
  gboolean unblock;       /* a flush or a stop cuts the EOS wait short */
  guint generation;       /* connections lost so far */
  guint connections;      /* CONNACKs with success so far */
  GQueue queue;           /* GstVggPublishMessage, not yet handed over */
  GHashTable *handed;     /* mids handed to libmosquitto, unconfirmed */
  GHashTable *early;      /* mids confirmed before they were recorded */
  guint n_handing;        /* in mosquitto_publish() right now */
  gboolean draining;      /* a thread is handing the queue over */
  gboolean outage;        /* since the connection broke */
  gboolean catching_up;   /* reconnected, the outage's backlog not sent */
  gdouble outage_seconds; /* of the last outage, until reconnection */
  gboolean warned;        /* WARNING posted for this outage or overflow */
  gint64 outage_start;    /* monotonic µs */
  guint64 outage_dropped; /* dropped since the outage began */
  guint64 published;      /* written (file, qos 0) or acknowledged (qos 1) */
  guint64 dropped;
  gchar last_error[256]; /* libmosquitto's last error log line */
};

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE (
    "sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE (
    "src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);

#define gst_vgg_publish_parent_class parent_class
G_DEFINE_TYPE (GstVggPublish, gst_vgg_publish, GST_TYPE_BASE_TRANSFORM);
GST_ELEMENT_REGISTER_DEFINE (
    vggpublish, "vggpublish", GST_RANK_NONE, GST_TYPE_VGG_PUBLISH);

GType
gst_vgg_publish_method_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    { GST_VGG_PUBLISH_METHOD_FILE, "JSON lines to a file or stdout", "file" },
    { GST_VGG_PUBLISH_METHOD_MQTT, "One MQTT message per frame", "mqtt" },
    { 0, NULL, NULL },
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstVggPublishMethod", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

GType
gst_vgg_publish_file_mode_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    { GST_VGG_PUBLISH_FILE_MODE_TRUNCATE, "Empty the file first", "truncate" },
    { GST_VGG_PUBLISH_FILE_MODE_APPEND, "Add to the end of the file",
        "append" },
    { 0, NULL, NULL },
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstVggPublishFileMode", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

static void gst_vgg_publish_set_property (
    GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec);
static void gst_vgg_publish_get_property (
    GObject *object, guint prop_id, GValue *value, GParamSpec *pspec);
static void gst_vgg_publish_finalize (GObject *object);
static GstStateChangeReturn gst_vgg_publish_change_state (
    GstElement *element, GstStateChange transition);
static gboolean gst_vgg_publish_start (GstBaseTransform *trans);
static gboolean gst_vgg_publish_stop (GstBaseTransform *trans);
static gboolean gst_vgg_publish_sink_event (
    GstBaseTransform *trans, GstEvent *event);
static GstFlowReturn gst_vgg_publish_transform_ip (
    GstBaseTransform *trans, GstBuffer *buf);

static gpointer
init_mosquitto (gpointer data)
{
  mosquitto_lib_init ();
  return NULL;
}

static void
gst_vgg_publish_class_init (GstVggPublishClass *klass)
{
  static GOnce mosquitto_once = G_ONCE_INIT;
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);
  const GParamFlags ready = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS;
  const GParamFlags playing = ready | GST_PARAM_MUTABLE_PLAYING;

  GST_DEBUG_CATEGORY_INIT (
      gst_vgg_publish_debug, "vggpublish", 0, "VGG results publisher");
  g_once (&mosquitto_once, init_mosquitto, NULL);

  gobject_class->set_property = gst_vgg_publish_set_property;
  gobject_class->get_property = gst_vgg_publish_get_property;
  gobject_class->finalize = gst_vgg_publish_finalize;
  element_class->change_state = gst_vgg_publish_change_state;

  g_object_class_install_property (gobject_class, PROP_METHOD,
      g_param_spec_enum ("method", "Method",
          "Where the results go: JSON lines to file-path, or MQTT messages to "
          "the broker at address",
          GST_TYPE_VGG_PUBLISH_METHOD, DEFAULT_METHOD, ready));
  g_object_class_install_property (gobject_class, PROP_SOURCE_ID,
      g_param_spec_string ("source-id", "Source id",
          "Name of the stream, the \"stream\" member of every record and "
          "{stream} in the topic (NULL: the element's name)",
          DEFAULT_SOURCE_ID, playing));
  g_object_class_install_property (gobject_class, PROP_PUBLISH_EMPTY,
      g_param_spec_boolean ("publish-empty", "Publish empty",
          "Also write a record for frames without a GstVggMeta (empty "
          "results, null model)",
          DEFAULT_PUBLISH_EMPTY, playing));
  g_object_class_install_property (gobject_class, PROP_FEATURES_FORMAT,
      g_param_spec_enum ("features-format", "Features format",
          "How the feature vector of mode=features is written: left out, an "
          "array of numbers, or base64 of the little-endian float32 values",
          GST_TYPE_VGG_FEATURES_FORMAT, DEFAULT_FEATURES_FORMAT, playing));
  g_object_class_install_property (gobject_class, PROP_FILE_PATH,
      g_param_spec_string ("file-path", "File path",
          "method=file: the file of JSON lines, \"-\" for stdout",
          DEFAULT_FILE_PATH, ready));
  g_object_class_install_property (gobject_class, PROP_FILE_MODE,
      g_param_spec_enum ("file-mode", "File mode",
          "method=file: empty the file at start, or add to its end",
          GST_TYPE_VGG_PUBLISH_FILE_MODE, DEFAULT_FILE_MODE, ready));
  g_object_class_install_property (gobject_class, PROP_FLUSH_INTERVAL,
      g_param_spec_uint ("flush-interval", "Flush interval",
          "method=file: the file is flushed with the first line written "
          "this many ms after the last flush (0: with every line), and at "
          "EOS",
          0, G_MAXUINT, DEFAULT_FLUSH_INTERVAL, playing));
  g_object_class_install_property (gobject_class, PROP_ADDRESS,
      g_param_spec_string ("address", "Address",
          "method=mqtt: the broker, host:port (port 1883 when left out)",
          DEFAULT_ADDRESS, ready));
  g_object_class_install_property (gobject_class, PROP_TOPIC,
      g_param_spec_string ("topic", "Topic",
          "method=mqtt: topic of the messages; {stream} is replaced by the "
          "source-id",
          DEFAULT_TOPIC, playing));
  g_object_class_install_property (gobject_class, PROP_QOS,
      g_param_spec_uint ("qos", "QoS",
          "method=mqtt: MQTT quality of service, 0 (at most once) or 1 (at "
          "least once: unacknowledged messages are sent again after a "
          "reconnection)",
          0, 1, DEFAULT_QOS, ready));
  g_object_class_install_property (gobject_class, PROP_CLIENT_ID,
      g_param_spec_string ("client-id", "Client id",
          "method=mqtt: MQTT client identifier (NULL: a random one)",
          DEFAULT_CLIENT_ID, ready));
  g_object_class_install_property (gobject_class, PROP_USERNAME,
      g_param_spec_string ("username", "User name",
          "method=mqtt: user name given to the broker (NULL: none)",
          DEFAULT_USERNAME, ready));
  g_object_class_install_property (gobject_class, PROP_PASSWORD,
      g_param_spec_string ("password", "Password",
          "method=mqtt: password given to the broker with the user name",
          DEFAULT_PASSWORD, G_PARAM_WRITABLE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (gobject_class, PROP_TLS_CA_FILE,
      g_param_spec_string ("tls-ca-file", "TLS CA file",
          "method=mqtt: PEM file of the certificate authorities that sign the "
          "broker's certificate; set, the connection uses TLS (NULL: plain "
          "TCP)",
          DEFAULT_TLS_CA_FILE, ready));
  g_object_class_install_property (gobject_class, PROP_KEEPALIVE,
      g_param_spec_uint ("keepalive", "Keepalive",
          "method=mqtt: seconds between MQTT keepalive pings; a broker silent "
          "for 1.5 times this is taken as gone",
          5, 65535, DEFAULT_KEEPALIVE, ready));
  g_object_class_install_property (gobject_class, PROP_MAX_PENDING,
      g_param_spec_uint ("max-pending", "Maximum pending",
          "method=mqtt: most messages waiting to be sent or acknowledged; "
          "results of further frames are dropped (and counted) until there "
          "is room (at most 65535: MQTT numbers the messages in flight with "
          "16 bits)",
          1, 65535, DEFAULT_MAX_PENDING, ready));
  g_object_class_install_property (gobject_class, PROP_EOS_TIMEOUT,
      g_param_spec_uint ("eos-timeout", "EOS timeout",
          "method=mqtt: at EOS, longest time in ms to wait for the pending "
          "messages to be sent (qos 0) or acknowledged (qos 1)",
          0, G_MAXUINT, DEFAULT_EOS_TIMEOUT, ready));
  g_object_class_install_property (gobject_class, PROP_PUBLISHED,
      g_param_spec_uint64 ("published", "Published",
          "Records written to the file, or messages written to the broker's "
          "connection (qos 0) or acknowledged by it (qos 1), since start",
          0, G_MAXUINT64, 0, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (gobject_class, PROP_DROPPED,
      g_param_spec_uint64 ("dropped", "Dropped",
          "method=mqtt: records dropped since start because max-pending were "
          "waiting, or lost with a broken connection before they were "
          "written (qos 0)",
          0, G_MAXUINT64, 0, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  gst_type_mark_as_plugin_api (GST_TYPE_VGG_PUBLISH_METHOD, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_VGG_PUBLISH_FILE_MODE, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_VGG_FEATURES_FORMAT, 0);

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class, "VGG results publisher",
      "Filter/Analyzer/Video",
      "Writes the GstVggMeta results of every frame as JSON lines to a file "
      "or as messages to an MQTT broker",
      "gst-vgg developers");

  trans_class->start = GST_DEBUG_FUNCPTR (gst_vgg_publish_start);
  trans_class->stop = GST_DEBUG_FUNCPTR (gst_vgg_publish_stop);
  trans_class->sink_event = GST_DEBUG_FUNCPTR (gst_vgg_publish_sink_event);
  trans_class->transform_ip = GST_DEBUG_FUNCPTR (gst_vgg_publish_transform_ip);
  trans_class->transform_ip_on_passthrough = TRUE;
  trans_class->passthrough_on_same_caps = TRUE;
}

static void
gst_vgg_publish_init (GstVggPublish *self)
{
  self->settings.source_id = g_strdup (DEFAULT_SOURCE_ID);
  self->settings.publish_empty = DEFAULT_PUBLISH_EMPTY;
  self->settings.features_format = DEFAULT_FEATURES_FORMAT;
  self->settings.flush_interval = DEFAULT_FLUSH_INTERVAL;
  self->settings.topic = g_strdup (DEFAULT_TOPIC);
  self->settings_serial = 1;
  self->method = DEFAULT_METHOD;
  self->file_path = g_strdup (DEFAULT_FILE_PATH);
  self->file_mode = DEFAULT_FILE_MODE;
  self->address = g_strdup (DEFAULT_ADDRESS);
  self->qos = DEFAULT_QOS;
  self->client_id = g_strdup (DEFAULT_CLIENT_ID);
  self->username = g_strdup (DEFAULT_USERNAME);
  self->password = g_strdup (DEFAULT_PASSWORD);
  self->tls_ca_file = g_strdup (DEFAULT_TLS_CA_FILE);
  self->keepalive = DEFAULT_KEEPALIVE;
  self->max_pending = DEFAULT_MAX_PENDING;
  self->eos_timeout = DEFAULT_EOS_TIMEOUT;

  g_mutex_init (&self->lock);
  g_cond_init (&self->cond);
  g_queue_init (&self->queue);
  self->handed = g_hash_table_new (NULL, NULL);
  self->early = g_hash_table_new (NULL, NULL);

  gst_base_transform_set_passthrough (GST_BASE_TRANSFORM (self), TRUE);
  gst_base_transform_set_in_place (GST_BASE_TRANSFORM (self), TRUE);
}

static void
frame_settings_clear (GstVggPublishFrameSettings *s)
{
  g_clear_pointer (&s->source_id, g_free);
  g_clear_pointer (&s->topic, g_free);
}

static void
message_free (GstVggPublishMessage *m)
{
  g_free (m->topic);
  g_free (m->payload);
  g_free (m);
}

static void
gst_vgg_publish_finalize (GObject *object)
{
  GstVggPublish *self = GST_VGG_PUBLISH (object);

  frame_settings_clear (&self->settings);
  frame_settings_clear (&self->active);
  g_free (self->stream);
  g_free (self->topic);
  g_free (self->file_path);
  g_free (self->address);
  g_free (self->client_id);
  g_free (self->username);
  g_free (self->password);
  g_free (self->tls_ca_file);
  g_free (self->host);
  g_free (self->active_address);
  g_free (self->active_path);
  g_queue_clear_full (&self->queue, (GDestroyNotify) message_free);
  g_hash_table_unref (self->handed);
  g_hash_table_unref (self->early);
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->cond);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
replace_string (gchar **field, const GValue *value)
{
  g_free (*field);
  *field = g_value_dup_string (value);
}

static void
gst_vgg_publish_set_property (
    GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  GstVggPublish *self = GST_VGG_PUBLISH (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_METHOD:
      self->method = g_value_get_enum (value);
      break;
    case PROP_SOURCE_ID:
      replace_string (&self->settings.source_id, value);
      self->settings_serial++;
      break;
    case PROP_PUBLISH_EMPTY:
      self->settings.publish_empty = g_value_get_boolean (value);
      self->settings_serial++;
      break;
    case PROP_FEATURES_FORMAT:
      self->settings.features_format = g_value_get_enum (value);
      self->settings_serial++;
      break;
    case PROP_FILE_PATH:
      replace_string (&self->file_path, value);
      break;
    case PROP_FILE_MODE:
      self->file_mode = g_value_get_enum (value);
      break;
    case PROP_FLUSH_INTERVAL:
      self->settings.flush_interval = g_value_get_uint (value);
      self->settings_serial++;
      break;
    case PROP_ADDRESS:
      replace_string (&self->address, value);
      break;
    case PROP_TOPIC:
      replace_string (&self->settings.topic, value);
      self->settings_serial++;
      break;
    case PROP_QOS:
      self->qos = g_value_get_uint (value);
      break;
    case PROP_CLIENT_ID:
      replace_string (&self->client_id, value);
      break;
    case PROP_USERNAME:
      replace_string (&self->username, value);
      break;
    case PROP_PASSWORD:
      replace_string (&self->password, value);
      break;
    case PROP_TLS_CA_FILE:
      replace_string (&self->tls_ca_file, value);
      break;
    case PROP_KEEPALIVE:
      self->keepalive = g_value_get_uint (value);
      break;
    case PROP_MAX_PENDING:
      self->max_pending = g_value_get_uint (value);
      break;
    case PROP_EOS_TIMEOUT:
      self->eos_timeout = g_value_get_uint (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_vgg_publish_get_property (
    GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  GstVggPublish *self = GST_VGG_PUBLISH (object);

  switch (prop_id) {
    case PROP_PUBLISHED:
      g_mutex_lock (&self->lock);
      g_value_set_uint64 (value, self->published);
      g_mutex_unlock (&self->lock);
      return;
    case PROP_DROPPED:
      g_mutex_lock (&self->lock);
      g_value_set_uint64 (value, self->dropped);
      g_mutex_unlock (&self->lock);
      return;
    default:
      break;
  }

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_METHOD:
      g_value_set_enum (value, self->method);
      break;
    case PROP_SOURCE_ID:
      g_value_set_string (value, self->settings.source_id);
      break;
    case PROP_PUBLISH_EMPTY:
      g_value_set_boolean (value, self->settings.publish_empty);
      break;
    case PROP_FEATURES_FORMAT:
      g_value_set_enum (value, self->settings.features_format);
      break;
    case PROP_FILE_PATH:
      g_value_set_string (value, self->file_path);
      break;
    case PROP_FILE_MODE:
      g_value_set_enum (value, self->file_mode);
      break;
    case PROP_FLUSH_INTERVAL:
      g_value_set_uint (value, self->settings.flush_interval);
      break;
    case PROP_ADDRESS:
      g_value_set_string (value, self->address);
      break;
    case PROP_TOPIC:
      g_value_set_string (value, self->settings.topic);
      break;
    case PROP_QOS:
      g_value_set_uint (value, self->qos);
      break;
    case PROP_CLIENT_ID:
      g_value_set_string (value, self->client_id);
      break;
    case PROP_USERNAME:
      g_value_set_string (value, self->username);
      break;
    case PROP_TLS_CA_FILE:
      g_value_set_string (value, self->tls_ca_file);
      break;
    case PROP_KEEPALIVE:
      g_value_set_uint (value, self->keepalive);
      break;
    case PROP_MAX_PENDING:
      g_value_set_uint (value, self->max_pending);
      break;
    case PROP_EOS_TIMEOUT:
      g_value_set_uint (value, self->eos_timeout);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

/* --- settings --- */

/* Takes a copy of the frame settings when they changed; derives the
 * stream's name and the topic.  FALSE when the topic is not one MQTT
 * accepts. */
static gboolean
gst_vgg_publish_update_settings (GstVggPublish *self)
{
  gchar **parts;

  GST_OBJECT_LOCK (self);
  if (self->active_serial == self->settings_serial) {
    GST_OBJECT_UNLOCK (self);
    return TRUE;
  }
  frame_settings_clear (&self->active);
  self->active = self->settings;
  self->active.source_id = g_strdup (self->settings.source_id);
  self->active.topic = g_strdup (self->settings.topic);
  self->active_serial = self->settings_serial;
  GST_OBJECT_UNLOCK (self);

  g_free (self->stream);
  self->stream = self->active.source_id
      ? g_strdup (self->active.source_id)
      : gst_object_get_name (GST_OBJECT (self));
  g_free (self->topic);
  parts =
      g_strsplit (self->active.topic ? self->active.topic : "", "{stream}", -1);
  self->topic = g_strjoinv (self->stream, parts);
  g_strfreev (parts);

  if (self->active_method == GST_VGG_PUBLISH_METHOD_MQTT
      && (self->topic[0] == '\0'
          || mosquitto_pub_topic_check (self->topic) != MOSQ_ERR_SUCCESS)) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("Cannot publish to MQTT topic \"%s\" (empty, or with + or #).",
            self->topic),
        ("topic \"%s\", source-id \"%s\"", self->active.topic, self->stream));
    return FALSE;
  }
  return TRUE;
}

/* --- method=file --- */

static gboolean
gst_vgg_publish_open_file (GstVggPublish *self)
{
  gchar *path;
  GstVggPublishFileMode mode;
  gboolean ok = FALSE;

  GST_OBJECT_LOCK (self);
  path = g_strdup (self->file_path);
  mode = self->file_mode;
  GST_OBJECT_UNLOCK (self);

  if (path == NULL || path[0] == '\0') {
    GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND,
        ("No file-path given for method=file."), (NULL));
    goto out;
  }
  if (strcmp (path, "-") == 0) {
    self->file = stdout;
    self->own_file = FALSE;
  } else {
    self->file =
        fopen (path, mode == GST_VGG_PUBLISH_FILE_MODE_APPEND ? "a" : "w");
    if (self->file == NULL) {
      GST_ELEMENT_ERROR (self, RESOURCE, OPEN_WRITE,
          ("Could not open file \"%s\" for writing.", path), GST_ERROR_SYSTEM);
      goto out;
    }
    self->own_file = TRUE;
  }
  self->last_flush = g_get_monotonic_time ();
  g_free (self->active_path);
  self->active_path = g_steal_pointer (&path);
  ok = TRUE;

out:
  g_free (path);
  return ok;
}

/* A write to a pipe whose reader has gone raises SIGPIPE, whose default
 * action ends the process: a consumer of file-path=- or of a FIFO that
 * exits would take the application down.  The file's writes therefore run
 * with SIGPIPE blocked in the calling thread, so that they fail with EPIPE
 * (an element error); when one did, the SIGPIPE it raised (sent to this
 * thread) is taken from the pending signals before the mask is restored.
 * The process's signal handlers are left alone. */
typedef struct
{
  sigset_t old_mask;
  gboolean was_pending;
} GstVggSigpipeBlock;

static void
gst_vgg_sigpipe_block (GstVggSigpipeBlock *block)
{
  sigset_t sigpipe, pending;

  sigemptyset (&sigpipe);
  sigaddset (&sigpipe, SIGPIPE);
  block->was_pending =
      sigpending (&pending) == 0 && sigismember (&pending, SIGPIPE) == 1;
  pthread_sigmask (SIG_BLOCK, &sigpipe, &block->old_mask);
}

/* broke_pipe: the write failed with EPIPE (a SIGPIPE was raised) */
static void
gst_vgg_sigpipe_unblock (GstVggSigpipeBlock *block, gboolean broke_pipe)
{
  sigset_t sigpipe, pending;
  gint saved_errno = errno;

  sigemptyset (&sigpipe);
  sigaddset (&sigpipe, SIGPIPE);
  if (broke_pipe && !block->was_pending && sigpending (&pending) == 0
      && sigismember (&pending, SIGPIPE) == 1) {
    const struct timespec now = { 0, 0 };
    while (sigtimedwait (&sigpipe, NULL, &now) == -1 && errno == EINTR)
      ;
  }
  pthread_sigmask (SIG_SETMASK, &block->old_mask, NULL);
  errno = saved_errno;
}

static gboolean
gst_vgg_publish_flush_file (GstVggPublish *self)
{
  GstVggSigpipeBlock block;
  gboolean ok;

  self->last_flush = g_get_monotonic_time ();
  gst_vgg_sigpipe_block (&block);
  ok = fflush (self->file) == 0;
  gst_vgg_sigpipe_unblock (&block, !ok && errno == EPIPE);
  if (!ok) {
    GST_ELEMENT_ERROR (self, RESOURCE, WRITE,
        ("Could not write to file \"%s\".", self->active_path),
        GST_ERROR_SYSTEM);
    return FALSE;
  }
  return TRUE;
}

static GstFlowReturn
gst_vgg_publish_write_line (GstVggPublish *self, const gchar *json)
{
  gint64 interval = (gint64) self->active.flush_interval * 1000;
  GstVggSigpipeBlock block;
  gboolean ok;

  gst_vgg_sigpipe_block (&block);
  ok = fputs (json, self->file) != EOF && fputc ('\n', self->file) != EOF;
  gst_vgg_sigpipe_unblock (&block, !ok && errno == EPIPE);
  if (!ok) {
    GST_ELEMENT_ERROR (self, RESOURCE, WRITE,
        ("Could not write to file \"%s\".", self->active_path),
        GST_ERROR_SYSTEM);
    return GST_FLOW_ERROR;
  }
  g_mutex_lock (&self->lock);
  self->published++;
  g_mutex_unlock (&self->lock);
  if (g_get_monotonic_time () - self->last_flush >= interval
      && !gst_vgg_publish_flush_file (self))
    return GST_FLOW_ERROR;
  return GST_FLOW_OK;
}

/* --- method=mqtt --- */

/* Posts the WARNING of an outage or an overflow once, until the next
 * connection or the next time the queue is empty. */
static gboolean
gst_vgg_publish_should_warn_locked (GstVggPublish *self)
{
  if (self->warned)
    return FALSE;
  self->warned = TRUE;
  return TRUE;
}

static void
gst_vgg_publish_signal_locked (GstVggPublish *self)
{
  if (self->waiting)
    g_cond_broadcast (&self->cond);
}

static guint
gst_vgg_publish_pending_locked (GstVggPublish *self)
{
  return self->queue.length + g_hash_table_size (self->handed)
      + self->n_handing;
}

/* TRUE once after a reconnection, when the outage's backlog has been
 * handed over and the queue has room again (the first acknowledgement
 * or write): the caller posts the INFO (outside the lock) with
 * `outage_seconds` and `outage_dropped`.  Frames that still find the queue
 * full before that count in the outage, without a WARNING of their own.
 * (Not "the queue is empty": with a steady stream and qos 1 there may
 * always be a message waiting for its acknowledgement.) */
static gboolean
gst_vgg_publish_caught_up_locked (GstVggPublish *self)
{
  guint pending = gst_vgg_publish_pending_locked (self);

  if (!self->catching_up) {
    if (pending == 0 && !self->outage)
      self->warned = FALSE;
    return FALSE;
  }
  if (self->queue.length > 0 || pending >= self->active_max_pending)
    return FALSE;
  self->catching_up = FALSE;
  self->warned = FALSE;
  return TRUE;
}

static void
gst_vgg_publish_post_reconnected (
    GstVggPublish *self, gdouble seconds, guint64 dropped)
{
  GST_ELEMENT_INFO (self, RESOURCE, WRITE,
      ("Reconnected to MQTT broker %s after %.1f s; %" G_GUINT64_FORMAT
       " results dropped during the outage.",
          self->active_address, seconds, dropped),
      (NULL));
}

/* Hands the queued messages to libmosquitto, oldest first, while
 * connected.  One thread at a time (`draining`) keeps them in order; the
 * lock is released around mosquitto_publish(), whose callbacks take it. */
static void
gst_vgg_publish_drain_locked (GstVggPublish *self)
{
  GstVggPublishMessage *m;

  if (self->draining)
    return;
  self->draining = TRUE;
  while (self->connected && !self->stopping
      && (m = g_queue_pop_head (&self->queue)) != NULL) {
    guint generation = self->generation;
    gint mid = 0, rc;
    gpointer key;

    self->n_handing++;
    g_mutex_unlock (&self->lock);
    rc = mosquitto_publish (self->mosq, &mid, m->topic, (gint) m->size,
        m->payload, self->active_qos, false);
    g_mutex_lock (&self->lock);
    self->n_handing--;
    key = GINT_TO_POINTER (mid + 1); /* mids start at 1; 0 is NULL */

    if (rc == MOSQ_ERR_NO_CONN && self->active_qos == 0) {
      /* not taken: it waits for the next connection */
      g_queue_push_head (&self->queue, m);
      break;
    }
    if (rc != MOSQ_ERR_SUCCESS && rc != MOSQ_ERR_NO_CONN) {
      GST_WARNING_OBJECT (
          self, "mosquitto_publish: %s", mosquitto_strerror (rc));
      self->dropped++;
      self->outage_dropped++;
    } else if (g_hash_table_remove (self->early, key)) {
      self->published++; /* written or acknowledged already */
    } else if (self->active_qos == 0 && generation != self->generation) {
      /* queued on a connection that broke before writing it */
      self->dropped++;
      self->outage_dropped++;
    } else {
      /* qos 1 keeps the message across reconnections, even when the
       * connection broke during the call (MOSQ_ERR_NO_CONN) */
      g_hash_table_add (self->handed, key);
    }
    message_free (m);
  }
  self->draining = FALSE;
  gst_vgg_publish_signal_locked (self);
}

/* The loop thread is cancelled at stop (close_mqtt), as libmosquitto's
 * own mosquitto_loop_stop does with force; never inside these callbacks,
 * which take our lock and post messages. */
static int
callback_enter (void)
{
  int state;

  pthread_setcancelstate (PTHREAD_CANCEL_DISABLE, &state);
  return state;
}

static void
callback_leave (int state)
{
  pthread_setcancelstate (state, NULL);
}

static void
on_connect (struct mosquitto *mosq, void *data, int rc)
{
  GstVggPublish *self = data;
  gboolean caught_up = FALSE, started;
  guint64 dropped = 0;
  gdouble seconds = 0;
  int cancel_state = callback_enter ();

  g_mutex_lock (&self->lock);
  started = self->started;
  if (!started) {
    self->connack = rc;
    gst_vgg_publish_signal_locked (self);
  }
  if (rc == 0) {
    self->connected = TRUE;
    self->connections++;
    if (self->outage) {
      self->outage = FALSE;
      self->catching_up = TRUE;
      self->outage_seconds =
          (g_get_monotonic_time () - self->outage_start) / 1e6;
    }
    gst_vgg_publish_drain_locked (self);
    caught_up = gst_vgg_publish_caught_up_locked (self);
    seconds = self->outage_seconds;
    dropped = self->outage_dropped;
  }
  g_mutex_unlock (&self->lock);

  if (caught_up)
    gst_vgg_publish_post_reconnected (self, seconds, dropped);
  else if (rc != 0 && started)
    GST_WARNING_OBJECT (self, "broker %s refused a reconnection: %s",
        self->active_address, mosquitto_connack_string (rc));
  callback_leave (cancel_state);
}

static void
on_disconnect (struct mosquitto *mosq, void *data, int rc)
{
  GstVggPublish *self = data;
  gboolean warn = FALSE;
  guint64 lost = 0;
  int saved_errno = errno; /* the failed call's, on this thread */
  int cancel_state = callback_enter ();

  g_mutex_lock (&self->lock);
  self->connected = FALSE;
  self->generation++;
  if (self->active_qos == 0) {
    /* libmosquitto discards the qos 0 messages it has not written */
    lost = g_hash_table_size (self->handed);
    self->dropped += lost;
    g_hash_table_remove_all (self->handed);
  }
  if (!self->started) {
    self->broken = TRUE;
    self->broken_rc = rc;
    self->broken_errno = saved_errno;
    gst_vgg_publish_signal_locked (self);
  } else if (!self->stopping && self->catching_up) {
    /* broke again before the backlog went out: the same outage */
    self->outage = TRUE;
    self->catching_up = FALSE;
    self->outage_dropped += lost;
  } else if (!self->stopping && !self->outage) {
    self->outage = TRUE;
    self->outage_start = g_get_monotonic_time ();
    self->outage_dropped = lost;
    /* a WARNING for a queue overflow before does not count for this */
    self->warned = FALSE;
    warn = gst_vgg_publish_should_warn_locked (self);
  } else {
    self->outage_dropped += lost;
  }
  gst_vgg_publish_signal_locked (self);
  g_mutex_unlock (&self->lock);

  if (warn) {
    GST_ELEMENT_WARNING (self, RESOURCE, WRITE,
        ("Lost the connection to MQTT broker %s; reconnecting.",
            self->active_address),
        ("%s; up to %u results wait, later ones are dropped",
            mosquitto_strerror (rc), self->active_max_pending));
  }
  callback_leave (cancel_state);
}

static void
on_publish (struct mosquitto *mosq, void *data, int mid)
{
  GstVggPublish *self = data;
  gpointer key = GINT_TO_POINTER (mid + 1);
  gboolean caught_up;
  guint64 dropped;
  gdouble seconds;
  int cancel_state = callback_enter ();

  g_mutex_lock (&self->lock);
  if (g_hash_table_remove (self->handed, key))
    self->published++;
  else
    g_hash_table_add (self->early, key);
  caught_up = gst_vgg_publish_caught_up_locked (self);
  seconds = self->outage_seconds;
  dropped = self->outage_dropped;
  gst_vgg_publish_signal_locked (self);
  g_mutex_unlock (&self->lock);

  if (caught_up)
    gst_vgg_publish_post_reconnected (self, seconds, dropped);
  callback_leave (cancel_state);
}

static void
on_log (struct mosquitto *mosq, void *data, int level, const char *text)
{
  GstVggPublish *self = data;
  int cancel_state = callback_enter ();

  GST_LOG_OBJECT (self, "libmosquitto: %s", text);
  if (level & (MOSQ_LOG_ERR | MOSQ_LOG_WARNING)) {
    g_mutex_lock (&self->lock);
    g_strlcpy (self->last_error, text, sizeof self->last_error);
    /* before the CONNACK, an error ends the attempt: a TLS handshake that
     * fails in libmosquitto's loop ends it without on_disconnect */
    if (!self->started && (level & MOSQ_LOG_ERR)) {
      self->broken = TRUE;
      gst_vgg_publish_signal_locked (self);
    }
    g_mutex_unlock (&self->lock);
  }
  callback_leave (cancel_state);
}

/* host:port, port 1883 when left out; [v6]:port for IPv6 literals */
static gboolean
parse_address (const gchar *address, gchar **host, gint *port)
{
  const gchar *colon;
  gchar *end = NULL;
  guint64 p = 1883;

  if (address == NULL || address[0] == '\0')
    return FALSE;
  if (address[0] == '[') {
    const gchar *close = strchr (address, ']');
    if (close == NULL || (close[1] != '\0' && close[1] != ':'))
      return FALSE;
    *host = g_strndup (address + 1, close - address - 1);
    colon = close[1] == ':' ? close + 1 : NULL;
  } else {
    colon = strrchr (address, ':');
    *host = colon ? g_strndup (address, colon - address) : g_strdup (address);
  }
  if (colon) {
    p = g_ascii_strtoull (colon + 1, &end, 10);
    if (end == colon + 1 || *end != '\0' || p == 0 || p > 65535) {
      g_clear_pointer (host, g_free);
      return FALSE;
    }
  }
  if ((*host)[0] == '\0') {
    g_clear_pointer (host, g_free);
    return FALSE;
  }
  *port = (gint) p;
  return TRUE;
}

/* The reason of a failed mosquitto call, with libmosquitto's last error
 * line (OpenSSL's reason for TLS failures). */
static gchar *
describe_failure (GstVggPublish *self, gint rc, gint saved_errno)
{
  gchar *why;

  g_mutex_lock (&self->lock);
  if (rc == MOSQ_ERR_ERRNO)
    why = g_strdup (g_strerror (saved_errno));
  else if (self->last_error[0])
    why =
        g_strdup_printf ("%s (%s)", mosquitto_strerror (rc), self->last_error);
  else
    why = g_strdup (mosquitto_strerror (rc));
  g_mutex_unlock (&self->lock);
  return why;
}

/* The connection and libmosquitto's loop, on a thread of the element's
 * own rather than mosquitto_loop_start's, so that the start can give up
 * on a connect() that hangs.  mosquitto_loop_forever reconnects after most
 * failures, but returns on those it counts as fatal, which ended
 * mosquitto_loop_start's thread for good: with TLS, a broker that goes
 * away is one (OpenSSL's "unexpected eof while reading"), and so is a
 * failed handshake or a protocol error.  Here the loop starts again, after
 * libmosquitto's own backoff (1, 4, 9 ... at most 30 s; from 1 s again
 * once a connection succeeded), until the element stops.  The thread is
 * cancelled at stop (gst_vgg_publish_close_mqtt), and only inside
 * libmosquitto's calls: everywhere else cancellation is disabled. */
static void *
gst_vgg_publish_mqtt_loop (void *data)
{
  GstVggPublish *self = data;
  guint restarts = 0, connections = 0;
  gint rc, saved_errno;

  /* libmosquitto's blocking connect: it tries every address of the name
   * (a refusal from the first, ::1 for localhost, moves on to the next) */
  errno = 0;
  rc = mosquitto_connect (
      self->mosq, self->host, self->port, self->active_keepalive);
  saved_errno = errno;
  pthread_setcancelstate (PTHREAD_CANCEL_DISABLE, NULL);
  if (rc != MOSQ_ERR_SUCCESS) {
    /* the start reports it, and stops the element */
    g_mutex_lock (&self->lock);
    self->broken = TRUE;
    self->broken_rc = rc;
    self->broken_errno = saved_errno;
    g_cond_broadcast (&self->cond);
    g_mutex_unlock (&self->lock);
    return NULL;
  }
  for (;;) {
    guint delay;
    gint64 deadline;
    gboolean stop;

    pthread_setcancelstate (PTHREAD_CANCEL_ENABLE, NULL);
    rc = mosquitto_loop_forever (self->mosq, -1, 1);
    pthread_setcancelstate (PTHREAD_CANCEL_DISABLE, NULL);

    g_mutex_lock (&self->lock);
    if (self->connections != connections)
      restarts = 0;
    connections = self->connections;
    delay = MIN (RECONNECT_DELAY_S * (restarts + 1) * (restarts + 1),
        RECONNECT_DELAY_MAX_S);
    deadline = g_get_monotonic_time () + delay * G_TIME_SPAN_SECOND;
    while (!self->stopping
        && g_cond_wait_until (&self->cond, &self->lock, deadline))
      ;
    stop = self->stopping;
    g_mutex_unlock (&self->lock);
    if (stop)
      break;
    GST_INFO_OBJECT (self, "libmosquitto's loop ended: %s; reconnecting",
        mosquitto_strerror (rc));
    restarts++;
    pthread_setcancelstate (PTHREAD_CANCEL_ENABLE, NULL);
    mosquitto_reconnect (self->mosq);
    pthread_setcancelstate (PTHREAD_CANCEL_DISABLE, NULL);
  }
  return NULL;
}

static void
gst_vgg_publish_close_mqtt (GstVggPublish *self)
{
  guint64 left;
  gint64 deadline;

  if (self->mosq == NULL)
    return;
  g_mutex_lock (&self->lock);
  self->stopping = TRUE;
  /* the loop thread may wait to start libmosquitto's loop again */
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
  mosquitto_disconnect (self->mosq);
  /* Connected, libmosquitto's loop sends the DISCONNECT and returns; let
   * it, for a while.  Not connected, it returns only between two attempts:
   * a reconnection's connect() to an unreachable broker blocks for
   * minutes, and one that succeeds after the DISCONNECT keeps the loop
   * going (libmosquitto 2.0).  So then the thread is cancelled. */
  deadline = g_get_monotonic_time () + DISCONNECT_WAIT_MS * 1000;
  g_mutex_lock (&self->lock);
  while (
      self->connected && g_cond_wait_until (&self->cond, &self->lock, deadline))
    ;
  g_mutex_unlock (&self->lock);
  if (self->loop_running) {
    pthread_cancel (self->loop_thread);
    pthread_join (self->loop_thread, NULL);
    self->loop_running = FALSE;
  }
  mosquitto_destroy (self->mosq);
  self->mosq = NULL;

  g_mutex_lock (&self->lock);
  left = gst_vgg_publish_pending_locked (self);
  if (left > 0)
    GST_INFO_OBJECT (
        self, "%" G_GUINT64_FORMAT " messages not sent at stop", left);
  self->dropped += left;
  g_queue_clear_full (&self->queue, (GDestroyNotify) message_free);
  g_hash_table_remove_all (self->handed);
  g_hash_table_remove_all (self->early);
  self->connected = FALSE;
  g_mutex_unlock (&self->lock);
}

static gboolean
gst_vgg_publish_open_mqtt (GstVggPublish *self)
{
  gchar *address, *client_id, *username, *password, *ca_file, *why = NULL;
  guint keepalive;
  gint rc, saved_errno;
  gboolean ok = FALSE, answered, failed;
  gint64 deadline;

  GST_OBJECT_LOCK (self);
  address = g_strdup (self->address);
  client_id = g_strdup (self->client_id);
  username = g_strdup (self->username);
  password = g_strdup (self->password);
  ca_file = g_strdup (self->tls_ca_file);
  keepalive = self->keepalive;
  self->active_qos = (gint) self->qos;
  self->active_max_pending = self->max_pending;
  GST_OBJECT_UNLOCK (self);

  g_free (self->active_address);
  self->active_address = g_strdup (address);
  g_clear_pointer (&self->host, g_free);
  if (!parse_address (address, &self->host, &self->port)) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("\"%s\" is not a broker address (host:port).",
            address ? address : "(null)"),
        (NULL));
    goto out;
  }

  g_mutex_lock (&self->lock);
  self->started = FALSE;
  self->connack = -1;
  self->broken = FALSE;
  self->broken_rc = 0;
  self->connected = FALSE;
  self->stopping = FALSE;
  self->outage = FALSE;
  self->catching_up = FALSE;
  self->warned = FALSE;
  self->last_error[0] = '\0';
  g_mutex_unlock (&self->lock);

  self->mosq = mosquitto_new (client_id, true, self);
  if (self->mosq == NULL) {
    GST_ELEMENT_ERROR (self, RESOURCE, FAILED,
        ("Could not create an MQTT client for %s.", address),
        ("mosquitto_new: %s", g_strerror (errno)));
    goto out;
  }
  mosquitto_int_option (
      self->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
  /* its loop runs on gst_vgg_publish_mqtt_loop's thread */
  mosquitto_threaded_set (self->mosq, true);
  mosquitto_connect_callback_set (self->mosq, on_connect);
  mosquitto_disconnect_callback_set (self->mosq, on_disconnect);
  mosquitto_publish_callback_set (self->mosq, on_publish);
  mosquitto_log_callback_set (self->mosq, on_log);
  mosquitto_reconnect_delay_set (
      self->mosq, RECONNECT_DELAY_S, RECONNECT_DELAY_MAX_S, true);
  if (username
      && (rc = mosquitto_username_pw_set (self->mosq, username, password))
          != MOSQ_ERR_SUCCESS) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("Cannot use the user name for MQTT broker %s: %s", address,
            mosquitto_strerror (rc)),
        (NULL));
    goto out;
  }
  if (ca_file
      && (rc = mosquitto_tls_set (self->mosq, ca_file, NULL, NULL, NULL, NULL))
          != MOSQ_ERR_SUCCESS) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("Cannot use \"%s\" as the CA file of MQTT broker %s: %s", ca_file,
            address, mosquitto_strerror (rc)),
        (NULL));
    goto out;
  }

  /* the connection (each address of the name in turn, TCP, TLS) is made
   * by the loop thread: an address that drops the packets fails the start
   * after CONNECT_TIMEOUT_S, not after the system's TCP timeout (about 2
   * minutes) */
  self->active_keepalive = (gint) keepalive;
  rc = pthread_create (
      &self->loop_thread, NULL, gst_vgg_publish_mqtt_loop, self);
  if (rc != 0) {
    GST_ELEMENT_ERROR (self, RESOURCE, FAILED,
        ("Could not start the MQTT thread for %s: %s", address,
            g_strerror (rc)),
        (NULL));
    goto out;
  }
  self->loop_running = TRUE;

  deadline = g_get_monotonic_time () + CONNECT_TIMEOUT_S * G_TIME_SPAN_SECOND;
  g_mutex_lock (&self->lock);
  self->waiting = TRUE;
  while (self->connack < 0 && !self->broken
      && g_cond_wait_until (&self->cond, &self->lock, deadline))
    ;
  self->waiting = FALSE;
  answered = self->connack >= 0;
  /* refused, unreachable: the code and errno the connection failed with */
  failed = !answered && self->broken_rc != 0;
  rc = failed ? self->broken_rc : self->connack;
  saved_errno = self->broken_errno;
  self->started = TRUE;
  g_mutex_unlock (&self->lock);

  if (failed) {
    why = describe_failure (self, rc, saved_errno);
    GST_ELEMENT_ERROR (self, RESOURCE, OPEN_WRITE,
        ("Could not connect to MQTT broker %s: %s", address, why), (NULL));
    goto out;
  }
  if (!answered) {
    g_mutex_lock (&self->lock);
    if (self->last_error[0])
      why = g_strdup (self->last_error);
    else
      why = g_strdup (
          self->broken ? "the connection was lost" : "no answer within 10 s");
    g_mutex_unlock (&self->lock);
    GST_ELEMENT_ERROR (self, RESOURCE, OPEN_WRITE,
        ("MQTT broker %s did not accept the connection: %s", address, why),
        (NULL));
    goto out;
  }
  if (rc != 0) {
    /* "Connection Refused: not authorised." */
    const gchar *reason = mosquitto_connack_string (rc);
    if (g_str_has_prefix (reason, "Connection Refused: "))
      reason += strlen ("Connection Refused: ");
    GST_ELEMENT_ERROR (self, RESOURCE, OPEN_WRITE,
        ("MQTT broker %s refused the connection: %s", address, reason), (NULL));
    goto out;
  }
  GST_INFO_OBJECT (self, "connected to %s", address);
  ok = TRUE;

out:
  if (!ok)
    gst_vgg_publish_close_mqtt (self);
  g_free (why);
  g_free (address);
  g_free (client_id);
  g_free (username);
  g_free (password);
  g_free (ca_file);
  return ok;
}

/* Queues one message; drops it when max-pending are waiting. */
static void
gst_vgg_publish_send_mqtt (GstVggPublish *self, gchar *json)
{
  GstVggPublishMessage *m;
  gboolean warn = FALSE, caught_up;
  guint64 dropped;
  gdouble seconds;

  g_mutex_lock (&self->lock);
  if (gst_vgg_publish_pending_locked (self) >= self->active_max_pending) {
    self->dropped++;
    self->outage_dropped++;
    /* once per outage (on_disconnect warns), or per overflow while
     * connected; not for the backlog of an outage being sent */
    warn = !self->outage && !self->catching_up
        && gst_vgg_publish_should_warn_locked (self);
    g_mutex_unlock (&self->lock);
    g_free (json);
    if (warn) {
      GST_ELEMENT_WARNING (self, RESOURCE, WRITE,
          ("MQTT broker %s does not keep up; results are dropped.",
              self->active_address),
          ("%u messages wait to be sent or acknowledged",
              self->active_max_pending));
    }
    return;
  }
  m = g_new (GstVggPublishMessage, 1);
  m->topic = g_strdup (self->topic);
  m->payload = json;
  m->size = strlen (json);
  g_queue_push_tail (&self->queue, m);
  gst_vgg_publish_drain_locked (self);
  caught_up = gst_vgg_publish_caught_up_locked (self);
  seconds = self->outage_seconds;
  dropped = self->outage_dropped;
  g_mutex_unlock (&self->lock);

  if (caught_up)
    gst_vgg_publish_post_reconnected (self, seconds, dropped);
}

/* A flush, or a state change below PAUSED, ends the EOS wait, which
 * holds the streaming thread (and so the pads' deactivation). */
static void
gst_vgg_publish_set_unblock (GstVggPublish *self, gboolean unblock)
{
  g_mutex_lock (&self->lock);
  self->unblock = unblock;
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
}

static GstStateChangeReturn
gst_vgg_publish_change_state (GstElement *element, GstStateChange transition)
{
  GstVggPublish *self = GST_VGG_PUBLISH (element);

  if (transition == GST_STATE_CHANGE_READY_TO_PAUSED)
    gst_vgg_publish_set_unblock (self, FALSE);
  else if (transition == GST_STATE_CHANGE_PAUSED_TO_READY)
    gst_vgg_publish_set_unblock (self, TRUE);
  return GST_ELEMENT_CLASS (parent_class)->change_state (element, transition);
}

/* At EOS: waits until every message is sent (qos 0) or acknowledged
 * (qos 1), or eos-timeout, or a flush or stop. */
static void
gst_vgg_publish_wait_sent (GstVggPublish *self)
{
  gint64 deadline;
  guint left;

  GST_OBJECT_LOCK (self);
  deadline = g_get_monotonic_time () + (gint64) self->eos_timeout * 1000;
  GST_OBJECT_UNLOCK (self);

  g_mutex_lock (&self->lock);
  self->waiting = TRUE;
  while ((left = gst_vgg_publish_pending_locked (self)) > 0 && !self->unblock
      && g_cond_wait_until (&self->cond, &self->lock, deadline))
    ;
  self->waiting = FALSE;
  g_mutex_unlock (&self->lock);
  if (left > 0)
    GST_ELEMENT_WARNING (self, RESOURCE, WRITE,
        ("%u results were not delivered to MQTT broker %s at EOS.", left,
            self->active_address),
        (NULL));
}

/* --- GstBaseTransform --- */

static gboolean
gst_vgg_publish_start (GstBaseTransform *trans)
{
  GstVggPublish *self = GST_VGG_PUBLISH (trans);

  GST_OBJECT_LOCK (self);
  self->active_method = self->method;
  self->active_serial = 0;
  GST_OBJECT_UNLOCK (self);
  self->frame = 0;
  g_mutex_lock (&self->lock);
  self->published = 0;
  self->dropped = 0;
  self->outage_dropped = 0;
  self->generation = 0;
  g_mutex_unlock (&self->lock);

  if (!gst_vgg_publish_update_settings (self))
    return FALSE;
  if (self->active_method == GST_VGG_PUBLISH_METHOD_FILE)
    return gst_vgg_publish_open_file (self);
  return gst_vgg_publish_open_mqtt (self);
}

static gboolean
gst_vgg_publish_stop (GstBaseTransform *trans)
{
  GstVggPublish *self = GST_VGG_PUBLISH (trans);

  if (self->file) {
    /* lines still buffered (flush-interval) go now: a failure loses them */
    GstVggSigpipeBlock block;
    gboolean written;
    gint saved_errno;

    gst_vgg_sigpipe_block (&block);
    written = fflush (self->file) == 0;
    saved_errno = errno;
    if (self->own_file && fclose (self->file) != 0 && written) {
      written = FALSE;
      saved_errno = errno;
    }
    gst_vgg_sigpipe_unblock (&block, !written && saved_errno == EPIPE);
    self->file = NULL;
    if (!written) {
      errno = saved_errno;
      GST_ELEMENT_WARNING (self, RESOURCE, WRITE,
          ("Could not write the last results to file \"%s\".",
              self->active_path),
          GST_ERROR_SYSTEM);
    }
  }
  gst_vgg_publish_close_mqtt (self);
  return TRUE;
}

static gboolean
gst_vgg_publish_sink_event (GstBaseTransform *trans, GstEvent *event)
{
  GstVggPublish *self = GST_VGG_PUBLISH (trans);

  if (GST_EVENT_TYPE (event) == GST_EVENT_EOS) {
    if (self->file)
      gst_vgg_publish_flush_file (self);
    if (self->mosq)
      gst_vgg_publish_wait_sent (self);
  } else if (GST_EVENT_TYPE (event) == GST_EVENT_FLUSH_START
      || GST_EVENT_TYPE (event) == GST_EVENT_FLUSH_STOP) {
    gst_vgg_publish_set_unblock (
        self, GST_EVENT_TYPE (event) == GST_EVENT_FLUSH_START);
  }
  return GST_BASE_TRANSFORM_CLASS (parent_class)->sink_event (trans, event);
}

static GstFlowReturn
gst_vgg_publish_transform_ip (GstBaseTransform *trans, GstBuffer *buf)
{
  GstVggPublish *self = GST_VGG_PUBLISH (trans);
  guint64 frame = self->frame++;
  gchar *json;

  if (!gst_vgg_publish_update_settings (self))
    return GST_FLOW_ERROR;
  if (!self->active.publish_empty && gst_buffer_get_vgg_meta (buf) == NULL)
    return GST_FLOW_OK;

  json = gst_vgg_frame_to_json (
      buf, self->stream, frame, self->active.features_format);
  if (self->active_method == GST_VGG_PUBLISH_METHOD_FILE) {
    GstFlowReturn ret = gst_vgg_publish_write_line (self, json);
    g_free (json);
    return ret;
  }
  gst_vgg_publish_send_mqtt (self, json);
  return GST_FLOW_OK;
}

/* vgg-appsink-example: reads the GstVggMeta of every frame from an appsink
 * and prints the classes.
 *
 *   vgg-appsink-example MODEL [SOURCE]
 *
 * SOURCE is the start of a gst-launch-1.0 pipeline producing raw video
 * ("v4l2src" by default); the application appends
 * "! videoconvert ! vgginfer model=MODEL top-k=3 ! appsink".  One line per
 * frame: its timestamp, the model, the inference time and the classes,
 * best first, as "LABEL #CLASS-ID SCORE".
 *
 * Build against an installed gst-vgg:
 *   cc main.c -o vgg-appsink-example \
 *       $(pkg-config --cflags --libs gstvggmeta-1.0 gstreamer-app-1.0)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gst/app/gstappsink.h>
#include <gst/gst.h>
#include <gst/vgg/gstvggmeta.h>

/* appsink callback, on the streaming thread: one line per frame */
static GstFlowReturn
on_new_sample (GstAppSink *sink, gpointer user_data)
{
  GstSample *sample = gst_app_sink_pull_sample (sink);
  GstBuffer *buffer;
  GstVggMeta *meta;
  GString *line;

  if (sample == NULL)
    return GST_FLOW_EOS;
  buffer = gst_sample_get_buffer (sample);
  meta = gst_buffer_get_vgg_meta (buffer);
  line = g_string_new (NULL);
  g_string_append_printf (
      line, "%" GST_TIME_FORMAT, GST_TIME_ARGS (GST_BUFFER_PTS (buffer)));
  if (meta == NULL) {
    /* passed without inference (inference-interval, leaky=skip) */
    g_string_append (line, " no results");
  } else {
    g_string_append_printf (line,
        " %s %.2f ms:", gst_vgg_meta_get_model_name (meta),
        gst_vgg_meta_get_inference_ms (meta));
    for (guint i = 0; i < gst_vgg_meta_get_n_results (meta); i++) {
      gint class_id;
      gfloat score;
      const gchar *label;

      gst_vgg_meta_get_result (meta, i, &class_id, &score, &label);
      g_string_append_printf (line, "%s %s #%d %.4f", i ? "," : "",
          label ? label : "?", class_id, score);
    }
  }
  g_print ("%s\n", line->str);
  g_string_free (line, TRUE);
  gst_sample_unref (sample);
  return GST_FLOW_OK;
}

int
main (int argc, char **argv)
{
  GstAppSinkCallbacks callbacks = { .new_sample = on_new_sample };
  GstElement *pipeline = NULL;
  GstElement *sink = NULL;
  GstBus *bus = NULL;
  GstMessage *msg = NULL;
  GError *error = NULL;
  gchar *description = NULL;
  gint status = 1;

  gst_init (&argc, &argv);
  if (argc < 2 || argc > 3) {
    g_printerr ("usage: %s MODEL [SOURCE]\n", argv[0]);
    return 2;
  }
  description = g_strdup_printf ("%s ! videoconvert ! "
                                 "vgginfer model=\"%s\" top-k=3 ! "
                                 "appsink name=sink sync=false",
      argc == 3 ? argv[2] : "v4l2src", argv[1]);
  pipeline = gst_parse_launch (description, &error);
  if (error != NULL) {
    /* also a pipeline with, e.g., an unknown property: refuse it */
    g_printerr ("%s: %s\n", description, error->message);
    goto out;
  }
  sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  gst_app_sink_set_callbacks (GST_APP_SINK (sink), &callbacks, NULL, NULL);

  /* a failed state change also posts the error on the bus */
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  bus = gst_element_get_bus (pipeline);
  msg = gst_bus_timed_pop_filtered (
      bus, GST_CLOCK_TIME_NONE, GST_MESSAGE_ERROR | GST_MESSAGE_EOS);
  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
    gchar *debug = NULL;

    gst_message_parse_error (msg, &error, &debug);
    g_printerr ("error from %s: %s\n%s\n", GST_OBJECT_NAME (msg->src),
        error->message, debug ? debug : "");
    g_free (debug);
    goto out;
  }
  status = 0;

out:
  if (pipeline != NULL)
    gst_element_set_state (pipeline, GST_STATE_NULL);
  if (msg != NULL)
    gst_message_unref (msg);
  if (bus != NULL)
    gst_object_unref (bus);
  if (sink != NULL)
    gst_object_unref (sink);
  if (pipeline != NULL)
    gst_object_unref (pipeline);
  g_clear_error (&error);
  g_free (description);
  return status;
}

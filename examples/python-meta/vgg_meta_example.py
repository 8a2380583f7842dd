#!/usr/bin/python3
"""Reads the GstVggMeta of every frame from Python (PyGObject) through the
GstVgg-1.0 introspection data and prints the classes.

usage: vgg_meta_example.py MODEL [SOURCE]

SOURCE is the start of a gst-launch-1.0 pipeline producing raw video
("v4l2src" by default); the application appends
"! videoconvert ! vgginfer model=MODEL top-k=3 ! fakesink" and reads the
meta in a buffer probe on the sink's pad.  One line per frame, as the C
example prints it: the timestamp, the model, the inference time and the
classes, best first, as "LABEL #CLASS-ID SCORE".

Needs Debian's python3-gi and gir1.2-gstreamer-1.0, and gst-vgg's
GstVgg-1.0.typelib (installed with the plugin; for the build tree set
GI_TYPELIB_PATH and LD_LIBRARY_PATH to build/gst).
"""

import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstVgg", "1.0")
from gi.repository import Gst, GstVgg  # noqa: E402


def format_time(t):
    if t == Gst.CLOCK_TIME_NONE:
        return "99:99:99.999999999"
    s, ns = divmod(t, Gst.SECOND)
    return "%d:%02d:%02d.%09d" % (s // 3600, s // 60 % 60, s % 60, ns)


def on_buffer(pad, info):
    buf = info.get_buffer()
    line = format_time(buf.pts)
    meta = GstVgg.buffer_get_vgg_meta(buf)
    if meta is None:
        # passed without inference (inference-interval, leaky=skip)
        print(line + " no results", flush=True)
        return Gst.PadProbeReturn.OK
    line += " %s %.2f ms:" % (meta.get_model_name(), meta.get_inference_ms())
    entries = []
    for i in range(meta.get_n_results()):
        ok, class_id, score, label = meta.get_result(i)
        entries.append(" %s #%d %.4f" % (label or "?", class_id, score))
    print(line + ",".join(entries), flush=True)
    return Gst.PadProbeReturn.OK


def main():
    if len(sys.argv) not in (2, 3):
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    Gst.init(None)
    model = sys.argv[1]
    source = sys.argv[2] if len(sys.argv) == 3 else "v4l2src"
    description = ("%s ! videoconvert ! vgginfer model=\"%s\" top-k=3 ! "
                   "fakesink name=sink" % (source, model))
    try:
        pipeline = Gst.parse_launch(description)
    except gi.repository.GLib.Error as e:
        print("%s: %s" % (description, e.message), file=sys.stderr)
        return 1
    sinkpad = pipeline.get_by_name("sink").get_static_pad("sink")
    sinkpad.add_probe(Gst.PadProbeType.BUFFER, on_buffer)

    pipeline.set_state(Gst.State.PLAYING)
    msg = pipeline.get_bus().timed_pop_filtered(
        Gst.CLOCK_TIME_NONE, Gst.MessageType.EOS | Gst.MessageType.ERROR)
    pipeline.set_state(Gst.State.NULL)
    if msg.type == Gst.MessageType.ERROR:
        err, debug = msg.parse_error()
        print("error from %s: %s\n%s" % (msg.src.get_name(), err.message,
                                        debug or ""), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

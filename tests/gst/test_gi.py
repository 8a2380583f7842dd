#!/usr/bin/python3
"""GstVggMeta through GObject introspection (PyGObject), as a Python
application reads it: a pipeline with vgginfer, the meta of every frame,
its accessors and its JSON.

Usage: test_gi.py WRITE_TEST_MODELS WORKDIR
(GST_PLUGIN_PATH, GI_TYPELIB_PATH and LD_LIBRARY_PATH point at the build.)
"""

import json
import os
import subprocess
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstVgg", "1.0")
from gi.repository import Gst, GstVgg  # noqa: E402


def main():
    writer, workdir = sys.argv[1], sys.argv[2]
    os.makedirs(workdir, exist_ok=True)
    model = os.path.join(workdir, "spot-gi.safetensors")
    subprocess.run([writer, model], check=True)
    Gst.init(None)



    pipeline = Gst.parse_launch(
        "videotestsrc num-buffers=3 pattern=ball ! "
        "video/x-raw,format=NV12,width=161,height=99 ! "
        "vgginfer model=\"%s\" top-k=3 batch-size=2 ! "
        "fakesink name=sink signal-handoffs=true" % model)
    seen = []

    def on_handoff(sink, buf, pad):
        meta = GstVgg.buffer_get_vgg_meta(buf)
        if meta is None:
            seen.append(None)
            return
        results = []
        for i in range(meta.get_n_results()):
            ok, class_id, score, label = meta.get_result(i)
            assert ok
            results.append((class_id, score, label))
        seen.append((meta.get_model_name(), results, meta.to_json()))
        # the record vggpublish writes, built from Python
        record = json.loads(GstVgg.vgg_frame_to_json(
            buf, "gi", len(seen) - 1, GstVgg.VggFeaturesFormat.ARRAY))
        assert (record["schema"], record["stream"], record["frame"],
                record["timestamp"]) == (1, "gi", len(seen) - 1, buf.pts), \
            record
        assert [(r["class_id"], r["score"], r["label"])
                for r in record["results"]] == results, (record, results)

    pipeline.get_by_name("sink").connect("handoff", on_handoff)
    pipeline.set_state(Gst.State.PLAYING)
    msg = pipeline.get_bus().timed_pop_filtered(
        10 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
    pipeline.set_state(Gst.State.NULL)
    assert msg is not None and msg.type == Gst.MessageType.EOS, msg
    assert len(seen) == 3, seen
    labels = {"top-left", "top", "top-right", "left", "centre", "right",
              "bottom-left", "bottom", "bottom-right"}
    for name, results, text in seen:
        assert name == "spot", name
        assert len(results) == 3, results
        scores = [s for _, s, _ in results]
        assert scores == sorted(scores, reverse=True), scores
        assert all(label in labels for _, _, label in results), results
        parsed = json.loads(text)
        assert parsed["model"] == "spot", parsed
        assert [r["class_id"] for r in parsed["results"]] == \
            [c for c, _, _ in results], (parsed, results)
        assert abs(parsed["results"][0]["score"] - scores[0]) < 1e-6
    print("GstVggMeta via GI: 3 frames, top-1 %s %.3f; 1 passed, 0 failed"
          % (seen[0][1][0][2], seen[0][1][0][1]))


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""vgginfer inference-region=roi-list behind the real OpenCV facedetect,
on a real photo (scikit-image's astronaut.png, Debian's python3-skimage),
read from Python through GObject introspection:

- facedetect (gstreamer1.0-opencv, Haar cascades from opencv-data) finds
  the astronaut's face; vgginfer classifies that box, and its scores are
  those of the same pixels cut out by videocrop and classified as a whole
  frame, exactly, in classify mode and in features mode;
- GstVggMeta's region accessors and its JSON ("regions") as a Python
  application reads them.

Usage: test_faces.py --model MODEL (the shipped Fashion-MNIST model)
(GST_PLUGIN_PATH, GI_TYPELIB_PATH and LD_LIBRARY_PATH point at the build.)
"""

import argparse
import json
import os
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstVgg", "1.0")
from gi.repository import Gst, GstVgg  # noqa: E402

SKIMAGE_DATA = "/usr/lib/python3/dist-packages/skimage/data"
ASTRONAUT = os.path.join(SKIMAGE_DATA, "astronaut.png")
SIZE = 512  # astronaut.png is 512x512


def run(desc):
    """Runs a pipeline ending in `fakesink name=sink`; returns, per frame,
    (the frame's results, [regions], JSON record)."""
    pipeline = Gst.parse_launch(desc)
    frames = []

    def on_handoff(sink, buf, pad):
        meta = GstVgg.buffer_get_vgg_meta(buf)
        assert meta is not None, "a frame without GstVggMeta"
        own = []
        for k in range(meta.get_n_results()):
            ok, class_id, score, label = meta.get_result(k)
            assert ok
            own.append((class_id, score, label))
        regions = []
        for i in range(meta.get_n_regions()):
            ok, rid, rtype, x, y, w, h = meta.get_region(i)
            assert ok
            results = []
            for k in range(meta.get_region_n_results(i)):
                ok, class_id, score, label = meta.get_region_result(i, k)
                assert ok
                results.append((class_id, score, label))
            features = list(meta.get_region_features(i) or [])
            regions.append({"id": rid, "type": rtype, "box": (x, y, w, h),
                            "results": results, "features": features,
                            "layer": meta.get_region_feature_layer(i)})
        assert not meta.get_region(meta.get_n_regions())[0]
        record = json.loads(GstVgg.vgg_frame_to_json(
            buf, "faces", len(frames), GstVgg.VggFeaturesFormat.ARRAY))
        if not regions:
            own_features = list(meta.get_features() or [])
        else:
            own_features = []
        frames.append((own, regions, record, own_features))

    pipeline.get_by_name("sink").connect("handoff", on_handoff)
    pipeline.set_state(Gst.State.PLAYING)
    msg = pipeline.get_bus().timed_pop_filtered(
        120 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
    pipeline.set_state(Gst.State.NULL)
    assert msg is not None, "no EOS in 120 s: %s" % desc
    if msg.type == Gst.MessageType.ERROR:
        err, dbg = msg.parse_error()
        raise AssertionError("%s: %s (%s)" % (desc, err.message, dbg))
    return frames


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    args = ap.parse_args()
    Gst.init(None)
    for name in ("facedetect", "pngdec", "imagefreeze", "videocrop"):
        assert Gst.ElementFactory.find(name), "no element %s" % name

    source = ("filesrc location=%s ! pngdec ! videoconvert ! "
              "video/x-raw,format=RGB ! imagefreeze num-buffers=3 ! "
              % ASTRONAUT)
    modes = {"classify": "top-k=10",
             "features": "mode=features feature-layer=fc7"}
    failures = 0
    for mode, props in modes.items():
        frames = run(source + "facedetect display=false "
                     "updates=every_frame ! vgginfer model=%s "
                     "inference-region=roi-list %s ! fakesink name=sink "
                     "signal-handoffs=true" % (args.model, props))
        assert len(frames) == 3, "%d frames out of 3" % len(frames)
        own, regions, record, _ = frames[0]
        assert own == [], own
        assert len(regions) == 1, "%s: %d faces on astronaut.png: %r" % (
            mode, len(regions), [r["box"] for r in regions])
        face = regions[0]
        x, y, w, h = face["box"]
        # the face is in the upper middle of the picture
        assert face["type"] == "face", face["type"]
        assert 120 <= x + w / 2 <= 300 and 40 <= y + h / 2 <= 200 \
            and 50 <= w <= 200, face["box"]
        # the same pixels as a frame of their own
        alone = run(
            "filesrc location=%s ! pngdec ! videoconvert ! "
            "video/x-raw,format=RGB ! imagefreeze num-buffers=1 ! "
            "videocrop left=%d top=%d right=%d bottom=%d ! "
            "vgginfer model=%s %s ! fakesink name=sink signal-handoffs=true"
            % (ASTRONAUT, x, y, SIZE - x - w, SIZE - y - h, args.model,
               props))
        assert len(alone) == 1
        a_own, a_regions, _, a_features = alone[0]
        assert a_regions == []
        if mode == "classify":
            same = face["results"] == a_own and len(a_own) == 10
            print("face %r: top-1 %s %.6f; alone %s %.6f" % (
                face["box"], face["results"][0][2], face["results"][0][1],
                a_own[0][2], a_own[0][1]))
        else:
            same = face["features"] == a_features \
                and len(a_features) > 0 and face["layer"] == "fc7"
            print("face %r: %d features; alone %d, max |diff| %g" % (
                face["box"], len(face["features"]), len(a_features),
                max((abs(p - q) for p, q in
                     zip(face["features"], a_features)), default=-1)))
        if not same:
            print("FAIL %s: the face's results differ from its crop's: "
                  "%r vs %r" % (mode, face["results"] or face["features"][:8],
                                a_own or a_features[:8]))
            failures += 1
        # the JSON record: the frame's results empty, the face in regions
        assert record["results"] == [] and len(record["regions"]) == 1, record
        r = record["regions"][0]
        assert (r["id"], r["type"], r["x"], r["y"], r["w"], r["h"]) == \
            (face["id"], "face", x, y, w, h), r
        if mode == "classify":
            assert [(e["class_id"], e["score"], e["label"])
                    for e in r["results"]] == face["results"], r
        else:
            assert r["feature_layer"] == "fc7" and \
                r["features"] == face["features"]
        # the three frames of the frozen picture agree
        for later in frames[1:]:
            assert later[1][0]["box"] == face["box"]
            assert later[1][0]["results"] == face["results"]
    print("faces: %d failed" % failures)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

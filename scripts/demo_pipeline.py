#!/usr/bin/python3
"""The pipeline demo: a clip of Fashion-MNIST test images (Debian's
dataset-fashion-mnist) goes through vgginfer ! vggoverlay into an annotated
WebM video and a PNG snapshot of its last frame; the label of every frame is
printed beside the truth, then the accuracy over the clip.

The clip is written as raw GRAY8 frames: the dataset's own 28x28 pixels
centred on a 32x32 black frame, as the shipped model was trained
(models/train_fashion_mnist.py pads with zeros); the pipeline scales them
up (nearest neighbour) to the video size and vgginfer (resize=stretch)
back down to the model's 32x32.  The pipeline is printed as a
gst-launch-1.0 line that reproduces the files.

usage: scripts/demo_pipeline.py [--build DIR] [--model FILE] [--out DIR]
                                [--frames N] [--first I] [--fps F]
                                [--size S] [--pad P] [--no-overlay]
"""

import argparse
import gzip
import os
import shlex
import struct
import subprocess
import sys
import warnings

ROOT = os.path.normpath(os.path.join(os.path.dirname(
    os.path.abspath(__file__)), ".."))
DATASET = "dataset-fashion-mnist"
DEFAULT_MODEL = "fashion-vgg.safetensors"
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
           "Shirt", "Sneaker", "Bag", "Ankle boot"]


def dataset_dir():
    """The folder of the installed Fashion-MNIST files, from dpkg."""
    try:
        files = subprocess.run(["dpkg", "-L", DATASET], check=True,
                               capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        sys.exit("demo: the Debian package %s is not installed "
                 "(scripts/install-deps.sh installs it)" % DATASET)
    for line in files.splitlines():
        if line.endswith("/t10k-images-idx3-ubyte.gz"):
            return os.path.dirname(line)
    sys.exit("demo: %s has no t10k-images-idx3-ubyte.gz" % DATASET)


def read_idx(path, first, count):
    """Items first..first+count-1 of an IDX file (gzip) as bytes, and the
    item shape."""
    with gzip.open(path, "rb") as f:
        magic = struct.unpack(">I", f.read(4))[0]
        ndim = magic & 0xff
        dims = struct.unpack(">%dI" % ndim, f.read(4 * ndim))
        if magic >> 8 != 0x08 or first + count > dims[0]:
            sys.exit("demo: %s: not a uint8 IDX file with %d items"
                     % (path, first + count))
        item = 1
        for d in dims[1:]:
            item *= d
        f.seek(4 + 4 * ndim + first * item)
        data = f.read(count * item)
    return data, dims[1:]


def default_model():
    path = os.path.join(ROOT, "models", DEFAULT_MODEL)
    if not os.path.exists(path):
        sys.exit("demo: %s is missing (give a model with --model)" % path)
    return path


def has_element(name):
    from gi.repository import Gst
    return Gst.ElementFactory.find(name) is not None


def pad_frames(pixels, count, pad):
    """count 28x28 images -> (28+2*pad)^2 images on black."""
    side = 28 + 2 * pad
    out = bytearray(count * side * side)
    for i in range(count):
        for y in range(28):
            start = (i * side + y + pad) * side + pad
            out[start:start + 28] = pixels[(i * 28 + y) * 28:
                                           (i * 28 + y + 1) * 28]
    return bytes(out)


def pipeline_description(a, clip, video, snapshot, overlay):
    q = shlex.quote
    side = 28 + 2 * a.pad
    parts = [
        "filesrc location=%s" % q(clip),
        "rawvideoparse format=gray8 width=%d height=%d framerate=%d/1"
        % (side, side, a.fps),
        "videoscale method=nearest-neighbour",
        "video/x-raw,width=%d,height=%d" % (a.size, a.size),
        "vgginfer model=%s resize=stretch top-k=3" % q(a.model),
    ]
    if overlay:
        parts += ["videoconvert", "vggoverlay"]
    parts += [
        "tee name=t",
        "queue",
        "videoconvert",
        "vp8enc deadline=1 target-bitrate=1000000",
        "webmmux",
        "filesink location=%s" % q(video),
    ]
    desc = " ! ".join(parts)
    desc += " t. ! queue ! videoconvert ! pngenc ! multifilesink location=%s" % q(snapshot)
    return desc


def value_array(structure, field):
    """A GstValueArray field as a list (PyGObject reads it as the
    deprecated GValueArray)."""
    ok, array = structure.get_array(field)
    if not ok:
        return []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return [array.get_nth(i) for i in range(array.n_values)]


def run(desc):
    """Runs the pipeline to EOS; returns the vgginfer messages' structures
    as (timestamp, class ids, labels, scores)."""
    from gi.repository import Gst
    pipeline = Gst.parse_launch(desc)
    bus = pipeline.get_bus()
    results = []
    error = None
    pipeline.set_state(Gst.State.PLAYING)
    while True:
        msg = bus.timed_pop_filtered(
            60 * Gst.SECOND,
            Gst.MessageType.EOS | Gst.MessageType.ERROR
            | Gst.MessageType.ELEMENT)
        if msg is None:
            error = "no message for 60 s"
            break
        if msg.type == Gst.MessageType.ERROR:
            err, dbg = msg.parse_error()
            error = "%s (%s)" % (err.message, dbg)
            break
        if msg.type == Gst.MessageType.EOS:
            break
        s = msg.get_structure()
        if s is not None and s.get_name() == "vgginfer":
            results.append((s.get_value("timestamp"),
                            value_array(s, "class-ids"),
                            value_array(s, "labels"),
                            value_array(s, "scores")))
    pipeline.set_state(Gst.State.NULL)
    if error:
        sys.exit("demo: pipeline failed: %s" % error)
    return results


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--build", default=os.path.join(ROOT, "build"))
    p.add_argument("--model", help="default: the model under models/")
    p.add_argument("--out", help="default: BUILD/demo")
    p.add_argument("--frames", type=int, default=60)
    p.add_argument("--first", type=int, default=0,
                   help="index of the first test image")
    p.add_argument("--fps", type=int, default=2)
    p.add_argument("--size", type=int, default=320,
                   help="frame width and height")
    p.add_argument("--pad", type=int, default=2,
                   help="black border around the 28x28 images (2: the "
                   "shipped model's 32x32 framing)")
    p.add_argument("--no-overlay", action="store_true",
                   help="leave vggoverlay out")
    a = p.parse_args()
    if a.frames < 1 or a.fps < 1 or a.pad < 0 or a.size < 28 + 2 * a.pad:
        p.error("need --frames >= 1, --fps >= 1, --pad >= 0 and --size at "
                "least 28 + 2 * pad")
    a.model = os.path.abspath(a.model or default_model())
    out = os.path.abspath(a.out or os.path.join(a.build, "demo"))
    os.makedirs(out, exist_ok=True)

    # the element comes from the build tree, not from an installed copy
    os.environ["GST_PLUGIN_PATH"] = os.path.join(os.path.abspath(a.build),
                                                 "gst")
    import gi
    gi.require_version("Gst", "1.0")
    from gi.repository import Gst
    Gst.init(None)
    if not has_element("vgginfer"):
        sys.exit("demo: vgginfer not found in %s (build first)"
                 % os.environ["GST_PLUGIN_PATH"])
    overlay = not a.no_overlay and has_element("vggoverlay")

    data = dataset_dir()
    pixels, shape = read_idx(os.path.join(data, "t10k-images-idx3-ubyte.gz"),
                             a.first, a.frames)
    truth, _ = read_idx(os.path.join(data, "t10k-labels-idx1-ubyte.gz"),
                        a.first, a.frames)
    if tuple(shape) != (28, 28):
        sys.exit("demo: unexpected image shape %s" % (shape,))
    side = 28 + 2 * a.pad
    clip = os.path.join(out, "clip-gray8-%dx%d.raw" % (side, side))
    with open(clip, "wb") as f:
        f.write(pad_frames(pixels, a.frames, a.pad))
    video = os.path.join(out, "fashion-mnist.webm")
    snapshot = os.path.join(out, "snapshot.png")

    desc = pipeline_description(a, clip, video, snapshot, overlay)
    print("Fashion-MNIST test images %d..%d, %dx%d at %d fps; the pipeline:"
          % (a.first, a.first + a.frames - 1, a.size, a.size, a.fps))
    print("  GST_PLUGIN_PATH=%s gst-launch-1.0 %s"
          % (os.environ["GST_PLUGIN_PATH"], desc))
    if not overlay:
        print("  (without vggoverlay%s: the video has no annotations)"
              % ("" if a.no_overlay else ", which is not built"))
    print()

    results = run(desc)
    by_frame = {}
    for ts, ids, labels, scores in results:
        by_frame[round(ts * a.fps / Gst.SECOND)] = (ids, labels, scores)
    correct = 0
    print("frame  image  truth         predicted     score  "
          "top-3 (class score)")
    for i in range(a.frames):
        true_label = CLASSES[truth[i]]
        if i not in by_frame:
            print("%5d  %5d  %-12s  (no result)" % (i, a.first + i,
                                                    true_label))
            continue
        ids, labels, scores = by_frame[i]
        ok = ids[0] == truth[i]
        correct += ok
        print("%5d  %5d  %-12s  %-12s  %.3f  %s %s" % (
            i, a.first + i, true_label, labels[0] or ids[0], scores[0],
            ", ".join("%d %.3f" % cs for cs in zip(ids, scores)),
            "ok" if ok else "WRONG"))
    print()
    shown = a.model
    if shown.startswith(ROOT + os.sep):
        shown = os.path.relpath(shown, ROOT)
    print("accuracy: %d/%d = %.1f%% (model %s)" % (
        correct, a.frames, 100.0 * correct / a.frames, shown))
    print("video:    %s" % video)
    print("snapshot: %s (the last frame)" % snapshot)
    return 0 if len(by_frame) == a.frames else 1


if __name__ == "__main__":
    sys.exit(main())

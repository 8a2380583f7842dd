#!/usr/bin/python3
"""The pipeline demo (scripts/demo_pipeline.py, run by scripts/demo.sh) on
a short clip: its printed truth against the dataset read here, its
accuracy line against its per-frame lines, the video's frame count and
size, and the snapshot's pixels against the last test image scaled up
here (equal without vggoverlay; with it, the overlay must have drawn).

usage: test_demo.py BUILD_DIR WRITE_TEST_MODELS WORKDIR
With the shipped model (models/fashion-vgg.safetensors) the demo runs with
it and its accuracy over the clip must be at least 80%; without it, with
the test suite's "spot" model and no accuracy floor.
"""

import gzip
import os
import re
import subprocess
import sys

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

ROOT = os.path.normpath(os.path.join(os.path.dirname(
    os.path.abspath(__file__)), "..", ".."))
DATA = "/usr/share/datasets/fashion-mnist"
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
           "Shirt", "Sneaker", "Bag", "Ankle boot"]
FIRST, FRAMES, SIZE, FPS = 137, 40, 160, 4
PAD = 2  # the demo centres the 28x28 images on 32x32 black frames
FAILURES = []


def check(cond, what):
    if not cond:
        FAILURES.append(what)
        print("FAIL: %s" % what)


def dataset():
    with gzip.open(os.path.join(DATA, "t10k-images-idx3-ubyte.gz")) as f:
        images = f.read()[16:]
    with gzip.open(os.path.join(DATA, "t10k-labels-idx1-ubyte.gz")) as f:
        labels = f.read()[8:]
    return images, labels


def decoded_frames(path):
    """Number of frames and their sizes decoded from a video file."""
    pipeline = Gst.parse_launch(
        "filesrc location=%s ! decodebin ! videoconvert ! "
        "video/x-raw,format=GRAY8 ! fakesink name=sink signal-handoffs=true"
        % path)
    sizes = []

    def on_handoff(sink, buf, pad):
        s = pad.get_current_caps().get_structure(0)
        sizes.append((s.get_value("width"), s.get_value("height")))

    pipeline.get_by_name("sink").connect("handoff", on_handoff)
    pipeline.set_state(Gst.State.PLAYING)
    msg = pipeline.get_bus().timed_pop_filtered(
        30 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
    pipeline.set_state(Gst.State.NULL)
    check(msg is not None and msg.type == Gst.MessageType.EOS,
          "decoding %s: %s" % (path, msg and msg.type))
    return sizes


def main():
    build, writer, workdir = sys.argv[1:4]
    os.makedirs(workdir, exist_ok=True)
    shipped = os.path.join(ROOT, "models", "fashion-vgg.safetensors")
    shipped = [shipped] if os.path.exists(shipped) else []
    cmd = ["/usr/bin/python3", os.path.join(ROOT, "scripts",
                                             "demo_pipeline.py"),
           "--build", build, "--out", workdir, "--first", str(FIRST),
           "--frames", str(FRAMES), "--size", str(SIZE), "--fps", str(FPS)]
    if not shipped:
        model = os.path.join(workdir, "spot.safetensors")
        subprocess.run([writer, model], check=True)
        cmd += ["--model", model]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    print(run.stdout)
    check(run.returncode == 0, "demo exited %d: %s"
          % (run.returncode, run.stderr))

    images, labels = dataset()
    rows = re.findall(r"^ *(\d+) +(\d+)  (.{12})  .* (ok|WRONG)$",
                      run.stdout, re.M)
    check(len(rows) == FRAMES, "%d result lines for %d frames"
          % (len(rows), FRAMES))
    correct = 0
    for frame, image, truth, verdict in rows:
        i = int(frame)
        check(int(image) == FIRST + i, "frame %d shows image %s" % (i, image))
        check(truth.strip() == CLASSES[labels[FIRST + i]],
              "frame %d: truth printed %r, the dataset says %r"
              % (i, truth.strip(), CLASSES[labels[FIRST + i]]))
        correct += verdict == "ok"
    m = re.search(r"^accuracy: (\d+)/(\d+) = ", run.stdout, re.M)
    check(m is not None and (int(m.group(1)), int(m.group(2)))
          == (correct, FRAMES), "accuracy line %r, %d ok lines"
          % (m and m.group(0), correct))
    if shipped:
        check(correct >= 0.8 * FRAMES, "accuracy %d/%d with %s"
              % (correct, FRAMES, shipped[0]))

    Gst.init(None)
    sizes = decoded_frames(os.path.join(workdir, "fashion-mnist.webm"))
    check(sizes == [(SIZE, SIZE)] * FRAMES, "the video has %d frames of %s"
          % (len(sizes), sorted(set(sizes))))

    from PIL import Image
    snap = Image.open(os.path.join(workdir, "snapshot.png")).convert("RGB")
    check(snap.size == (SIZE, SIZE), "snapshot is %s" % (snap.size,))
    # the last image on its black 32x32 frame, scaled up by nearest
    # neighbour (SIZE = 5 x 32)
    last = images[(FIRST + FRAMES - 1) * 784:(FIRST + FRAMES) * 784]
    scale = SIZE // (28 + 2 * PAD)
    differ = 0
    for y in range(SIZE):
        for x in range(SIZE):
            r, c = y // scale - PAD, x // scale - PAD
            v = last[r * 28 + c] if 0 <= r < 28 and 0 <= c < 28 else 0
            differ += snap.getpixel((x, y)) != (v, v, v)
    overlay = "no annotations" not in run.stdout
    if overlay:
        check(differ > 50, "vggoverlay drew only %d pixels" % differ)
    else:
        check(differ == 0, "%d snapshot pixels differ from the image"
              % differ)
    print("demo: %d frames, truth as in the dataset, %d/%d correct, video "
          "%d frames, snapshot %d pixels drawn%s"
          % (FRAMES, correct, FRAMES, len(sizes), differ,
             "" if overlay else " (no vggoverlay)"))
    if FAILURES:
        print("%d checks failed" % len(FAILURES))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

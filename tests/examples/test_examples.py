#!/usr/bin/python3
"""Runs the examples of examples/ for real and checks what they print.

usage: test_examples.py c-appsink WRITE_TEST_MODELS WORKDIR APP
       test_examples.py python-meta WRITE_TEST_MODELS WORKDIR APP.py
       test_examples.py launch WRITE_TEST_MODELS WORKDIR EXAMPLES_LAUNCH_DIR
       test_examples.py mqtt WRITE_TEST_MODELS WORKDIR EXAMPLES_MQTT_DIR

The input is a clip of known answer: frames of 96x96 black with one white
32x32 square in a different cell of the 3x3 grid each, classified by the
test suite's "spot" model (nine classes, "top-left" ... "bottom-right",
one per cell).  The expected class of each frame follows from where the
square was drawn; the apps' results are also compared frame by frame with
the element's own bus messages for the same input.
(GST_PLUGIN_PATH, GI_TYPELIB_PATH and LD_LIBRARY_PATH point at the build.)
"""

import collections
import getpass
import json
import os
import re
import shlex
import signal
import socket
import struct
import subprocess
import sys
import time
import warnings

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

SPOT_LABELS = ["top-left", "top", "top-right", "left", "centre", "right",
               "bottom-left", "bottom", "bottom-right"]
SIZE, CELL, FPS = 96, 32, 5
# a different cell per frame, not in class order, one cell twice
CELLS = [4, 0, 8, 2, 6, 1, 7, 3, 5, 0, 4]
FAILURES = []
# the valgrind test setup runs our C programs under memcheck through this
TEST_WRAPPER = shlex.split(os.environ.get("VGG_TEST_WRAPPER", ""))


def check(cond, what):
    if not cond:
        FAILURES.append(what)
        print("FAIL: %s" % what)


def write_clip(workdir):
    """The raw RGB clip; returns its gst-launch source description."""
    path = os.path.join(workdir, "spots-rgb-96x96.raw")
    with open(path, "wb") as f:
        for cell in CELLS:
            frame = bytearray(SIZE * SIZE * 3)
            r, c = divmod(cell, 3)
            for y in range(r * CELL, (r + 1) * CELL):
                start = (y * SIZE + c * CELL) * 3
                frame[start:start + CELL * 3] = b"\xff" * (CELL * 3)
            f.write(frame)
    return ("filesrc location=%s ! rawvideoparse format=rgb width=%d "
            "height=%d framerate=%d/1" % (path, SIZE, SIZE, FPS))


def frame_index(ns):
    return round(ns * FPS / Gst.SECOND)


def value_array(structure, field):
    ok, array = structure.get_array(field)
    assert ok, field
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return [array.get_nth(i) for i in range(array.n_values)]


def bus_results(source, model):
    """The vgginfer element messages of SOURCE ! vgginfer top-k=3, by
    frame: (class ids, labels, scores)."""
    pipeline = Gst.parse_launch(
        "%s ! videoconvert ! vgginfer model=\"%s\" top-k=3 ! fakesink"
        % (source, model))
    bus = pipeline.get_bus()
    out = {}
    pipeline.set_state(Gst.State.PLAYING)
    while True:
        msg = bus.timed_pop_filtered(
            30 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR
            | Gst.MessageType.ELEMENT)
        assert msg is not None, "no bus message for 30 s"
        assert msg.type != Gst.MessageType.ERROR, msg.parse_error()
        if msg.type == Gst.MessageType.EOS:
            break
        s = msg.get_structure()
        if s.get_name() == "vgginfer":
            out[frame_index(s.get_value("timestamp"))] = (
                value_array(s, "class-ids"), value_array(s, "labels"),
                value_array(s, "scores"))
    pipeline.set_state(Gst.State.NULL)
    return out


# 0:00:00.200000000 spot 0.12 ms: top-left #0 0.9981, left #3 0.0012, ...
APP_LINE = re.compile(r"^(\d+):(\d\d):(\d\d)\.(\d{9}) (\S+) [0-9.]+ ms:(.*)$")
APP_ENTRY = re.compile(r"^ (.+) #(\d+) ([0-9.]+)$")


def parse_app_output(text):
    frames = {}
    for line in text.splitlines():
        m = APP_LINE.match(line)
        check(m is not None, "unexpected line %r" % line)
        if m is None:
            continue
        h, mi, s, ns = (int(g) for g in m.groups()[:4])
        ts = ((h * 60 + mi) * 60 + s) * Gst.SECOND + ns
        entries = [APP_ENTRY.match(e) for e in m.group(6).split(",")]
        check(all(entries), "unparsable results in %r" % line)
        frames[frame_index(ts)] = (
            m.group(5), [int(e.group(2)) for e in entries if e],
            [e.group(1) for e in entries if e],
            [float(e.group(3)) for e in entries if e])
    return frames


def check_app(command, source, model, name):
    run = subprocess.run(command + [model, source], capture_output=True,
                         text=True, timeout=1200 if TEST_WRAPPER else 120)
    check(run.returncode == 0, "%s exited %d: %s" % (name, run.returncode,
                                                      run.stderr))
    printed = parse_app_output(run.stdout)
    expected = bus_results(source, model)
    check(sorted(printed) == list(range(len(CELLS))),
          "%s printed frames %s, expected 0..%d"
          % (name, sorted(printed), len(CELLS) - 1))
    check(sorted(expected) == list(range(len(CELLS))),
          "the bus had frames %s" % sorted(expected))
    for i, cell in enumerate(CELLS):
        if i not in printed or i not in expected:
            continue
        model_name, ids, labels, scores = printed[i]
        bus_ids, bus_labels, bus_scores = expected[i]
        check(model_name == "spot", "frame %d: model %r" % (i, model_name))
        check(ids[0] == cell and labels[0] == SPOT_LABELS[cell],
              "frame %d (square in cell %d): %s printed %s %s"
              % (i, cell, name, ids, labels))
        check(ids == bus_ids and labels == bus_labels,
              "frame %d: %s printed %s %s, the bus said %s %s"
              % (i, name, ids, labels, bus_ids, bus_labels))
        check(all(abs(a - b) <= 5.1e-5 for a, b in zip(scores, bus_scores)),
              "frame %d: %s printed scores %s, the bus said %s"
              % (i, name, scores, bus_scores))
    print("%s: %d frames, top-1 as drawn and equal to the bus messages"
          % (name, len(printed)))


def safetensors_shapes(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
    return {k: v["shape"] for k, v in header.items() if k != "__metadata__"}


def make_webm(source, workdir):
    path = os.path.join(workdir, "spots.webm")
    pipeline = Gst.parse_launch(
        "%s ! videoconvert ! vp8enc deadline=1 target-bitrate=2000000 ! "
        "webmmux ! filesink location=%s" % (source, path))
    pipeline.set_state(Gst.State.PLAYING)
    msg = pipeline.get_bus().timed_pop_filtered(
        30 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
    pipeline.set_state(Gst.State.NULL)
    assert msg is not None and msg.type == Gst.MessageType.EOS, msg
    return path


# Got message #12 from element "vgginfer0" (element): vgginfer, a=(int)1, ...;
MESSAGE = re.compile(r'^Got message #\d+ from element ".*" \(element\): '
                     r'(vgginfer, .*)$')


def launch_messages(script, args, env=None):
    """Runs a recipe that prints bus messages (-m); returns the vgginfer
    messages, parsed by GStreamer itself, by frame."""
    run = subprocess.run([script] + args, capture_output=True, text=True,
                         timeout=120, env=env)
    check(run.returncode == 0, "%s exited %d: %s"
          % (script, run.returncode, run.stderr[-2000:]))
    records = {}
    for line in run.stdout.splitlines():
        m = MESSAGE.match(line)
        if not m:
            continue
        s, _ = Gst.Structure.from_string(m.group(1))
        check(s is not None, "cannot parse %.200s" % line)
        if s is None:
            continue
        records[frame_index(s.get_value("timestamp"))] = {
            "class-ids": value_array(s, "class-ids"),
            "labels": value_array(s, "labels")}
    return records


def bus_features(webm, model, layer):
    """The feature vectors of vgginfer's bus messages for WEBM, by frame."""
    pipeline = Gst.parse_launch(
        "filesrc location=%s ! decodebin ! videoconvert ! vgginfer "
        "model=\"%s\" mode=features feature-layer=%s batch-size=4 ! fakesink"
        % (webm, model, layer))
    bus = pipeline.get_bus()
    out = {}
    pipeline.set_state(Gst.State.PLAYING)
    while True:
        msg = bus.timed_pop_filtered(
            30 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR
            | Gst.MessageType.ELEMENT)
        assert msg is not None, "no bus message for 30 s"
        assert msg.type != Gst.MessageType.ERROR, msg.parse_error()
        if msg.type == Gst.MessageType.EOS:
            break
        s = msg.get_structure()
        if s.get_name() == "vgginfer":
            out[frame_index(s.get_value("timestamp"))] = value_array(
                s, "features")
    pipeline.set_state(Gst.State.NULL)
    return out


def check_classified(records, name):
    check(sorted(records) == list(range(len(CELLS))),
          "%s: frames %s, expected 0..%d" % (name, sorted(records),
                                            len(CELLS) - 1))
    for i, cell in enumerate(CELLS):
        r = records.get(i)
        if r is None:
            continue
        check(r["class-ids"][0] == cell
              and r["labels"][0] == SPOT_LABELS[cell]
              and len(r["class-ids"]) == 3,
              "%s frame %d (square in cell %d): %s %s"
              % (name, i, cell, r["class-ids"], r["labels"]))
    print("%s: %d frames, top-1 as drawn" % (name, len(records)))


def check_launch(recipes, source, model, workdir):
    # the camera is replaced by the clip (SOURCE), as the README says
    env = dict(os.environ, SOURCE=source)
    check_classified(launch_messages(os.path.join(recipes, "camera.sh"),
                                     [model], env), "camera.sh")

    webm = make_webm(source, workdir)
    check_classified(launch_messages(os.path.join(recipes, "decode.sh"),
                                     [model, webm]), "decode.sh")

    shapes = safetensors_shapes(model)
    convs = sorted((k for k in shapes if k.startswith("features.")
                    and k.endswith(".weight") and len(shapes[k]) == 4),
                   key=lambda k: int(k.split(".")[1]))
    sizes = {"fc7": shapes["classifier.3.weight"][0],
             "fc6": shapes["classifier.0.weight"][0],
             "pool5": shapes[convs[-1]][0] * 49}
    for layer in ("fc7", "pool5"):
        out = os.path.join(workdir, "features-%s.jsonl" % layer)
        args = [model, webm, out] + ([] if layer == "fc7" else [layer])
        run = subprocess.run(
            [os.path.join(recipes, "features-jsonl.sh")] + args,
            capture_output=True, text=True, timeout=120)
        check(run.returncode == 0, "features-jsonl.sh %s exited %d: %s"
              % (layer, run.returncode, run.stderr[-2000:]))
        with open(out) as f:
            lines = f.read().splitlines()
        check(len(lines) == len(CELLS), "features-jsonl.sh %s: %d lines for "
              "%d frames" % (layer, len(lines), len(CELLS)))
        expected = bus_features(webm, model, layer)
        stamps = []
        for n, line in enumerate(lines):
            r = json.loads(line)
            missing = {"schema", "stream", "frame", "timestamp", "model",
                       "feature_layer", "n_features", "features"} - set(r)
            check(not missing, "line %d lacks %s" % (n, missing))
            if missing:
                continue
            frame = frame_index(r["timestamp"])
            stamps.append(frame)
            check(r["schema"] == 1 and r["stream"] == "features"
                  and r["frame"] == n,
                  "line %d: schema %r stream %r frame %r"
                  % (n, r["schema"], r["stream"], r["frame"]))
            check(r["feature_layer"] == layer and r["model"] == "spot",
                  "line %d: layer %r model %r" % (n, r["feature_layer"],
                                                  r["model"]))
            check(len(r["features"]) == sizes[layer] == r["n_features"],
                  "line %d: %d %s features, the model's layer has %d"
                  % (n, len(r["features"]), layer, sizes[layer]))
            # the same batches give the same floats; should the batches
            # form differently (batch-timeout under load) the engine's sums
            # may round differently: its parity bound
            want = expected.get(frame) or []
            scale = max((abs(v) for v in want), default=0.0)
            worst = max((abs(a - b) for a, b in zip(r["features"], want)),
                        default=0.0)
            check(len(want) == len(r["features"]) and worst <= 1e-5 * scale,
                  "line %d: features differ from the bus message by %g"
                  % (n, worst))
        check(stamps == list(range(len(CELLS))),
              "features-jsonl.sh %s: frames %s" % (layer, stamps))
        print("features-jsonl.sh %s: %d lines of %d features, equal to the "
              "bus messages" % (layer, len(lines), sizes[layer]))

    if Gst.ElementFactory.find("vggoverlay") is None:
        print("live-overlay.sh: not run, vggoverlay is not built")
        return
    # the camera is replaced by the clip, the window by PNGs that
    # multifilesink writes over one another, leaving the last frame: the
    # overlay must have drawn on it.  (Not pngenc snapshot=true: its EOS
    # return can overtake the clip's own EOS, which vgginfer then keeps.)
    png = os.path.join(workdir, "live-overlay.png")
    env = dict(os.environ, SOURCE=source,
               SINK="pngenc ! multifilesink location=%s" % png)
    run = subprocess.run([os.path.join(recipes, "live-overlay.sh"), model],
                         capture_output=True, text=True, timeout=120,
                         env=env)
    check(run.returncode == 0, "live-overlay.sh exited %d: %s"
          % (run.returncode, run.stderr[-2000:]))
    from PIL import Image
    img = Image.open(png).convert("RGB")
    check(img.size == (SIZE, SIZE), "live-overlay.png is %s" % (img.size,))
    # the last frame is black with a white square in cell CELLS[-1]:
    # pixels of any other value were drawn by the overlay
    drawn = sum(1 for p in img.getdata()
                if p not in ((0, 0, 0), (255, 255, 255)))
    check(drawn > 50, "live-overlay.png: only %d drawn pixels" % drawn)
    print("live-overlay.sh: %d pixels drawn by vggoverlay" % drawn)
    check_faces(recipes, workdir)


ASTRONAUT = "/usr/lib/python3/dist-packages/skimage/data/astronaut.png"
FACE_CASCADE = ("/usr/share/opencv4/haarcascades/"
                "haarcascade_frontalface_default.xml")
FACES_FRAMES = 3


def detected_faces(image):
    """facedetect's boxes on IMAGE, as (x, y, w, h), from its bus
    message."""
    # faces.sh's own setting: no OpenCV errors about the cascades of eyes,
    # nose and mouth that Debian does not ship (read when the plugin's
    # OpenCV first logs, so set before the pipeline exists)
    os.environ.setdefault("OPENCV_LOG_LEVEL", "FATAL")
    pipeline = Gst.parse_launch(
        "filesrc location=%s ! decodebin ! videoconvert ! facedetect "
        "display=false ! fakesink" % image)
    bus = pipeline.get_bus()
    faces = None
    pipeline.set_state(Gst.State.PLAYING)
    while True:
        msg = bus.timed_pop_filtered(
            30 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR
            | Gst.MessageType.ELEMENT)
        assert msg is not None, "no bus message for 30 s"
        assert msg.type != Gst.MessageType.ERROR, msg.parse_error()
        if msg.type == Gst.MessageType.EOS:
            break
        s = msg.get_structure()
        if s.get_name() == "facedetect" and faces is None:
            faces = []
            ok, faces_list = s.get_list("faces")
            assert ok, s.to_string()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                found = [faces_list.get_nth(i)
                         for i in range(faces_list.n_values)]
            for face in found:
                faces.append(tuple(face.get_value(k) for k in
                                   ("x", "y", "width", "height")))
    pipeline.set_state(Gst.State.NULL)
    return faces or []


def check_faces(recipes, workdir):
    """faces.sh on scikit-image's astronaut photo, a still: for each of
    FRAMES frames, the face facedetect finds is a region of the meta
    (as vggpublish writes it) with a class of the shipped Fashion-MNIST
    model, and its box is drawn in vggoverlay's colour (white) with a
    label box (half-transparent black) above it."""
    model = os.path.normpath(os.path.join(
        recipes, "..", "..", "models", "fashion-vgg.safetensors"))
    missing = [what for what, ok in (
        ("facedetect (gstreamer1.0-opencv)",
         Gst.ElementFactory.find("facedetect") is not None),
        (ASTRONAUT + " (python3-skimage)", os.path.exists(ASTRONAUT)),
        (FACE_CASCADE + " (opencv-data)", os.path.exists(FACE_CASCADE)),
        (model, os.path.exists(model))) if not ok]
    # scripts/install-deps.sh installs them all: missing is a failure
    check(not missing, "faces.sh: missing %s (scripts/install-deps.sh)"
          % ", ".join(missing))
    if missing:
        return
    faces = detected_faces(ASTRONAUT)
    check(len(faces) == 1, "facedetect found %s on the astronaut" % faces)
    if len(faces) != 1:
        return
    fx, fy, fw, fh = faces[0]

    jsonl = os.path.join(workdir, "faces.jsonl")
    png = os.path.join(workdir, "faces.png")
    env = dict(os.environ, FRAMES=str(FACES_FRAMES),
               SINK="vggpublish method=file file-path=%s ! pngenc ! "
               "multifilesink location=%s" % (jsonl, png))
    env.pop("OPENCV_LOG_LEVEL", None)
    run = subprocess.run([os.path.join(recipes, "faces.sh"), model,
                          ASTRONAUT], capture_output=True, text=True,
                         timeout=120, env=env)
    check(run.returncode == 0, "faces.sh exited %d: %s"
          % (run.returncode, run.stderr[-2000:]))
    check("Can't open file" not in run.stderr,
          "faces.sh let OpenCV's cascade errors through: %s"
          % run.stderr[-2000:])
    # the model's classes, one per line in its metadata
    with open(model, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        labels = json.loads(f.read(n))["__metadata__"]["vgg.labels"].split(
            "\n")
    with open(jsonl) as f:
        lines = [json.loads(line) for line in f.read().splitlines()]
    check(len(lines) == FACES_FRAMES, "faces.sh: %d JSON lines for %d frames"
          % (len(lines), FACES_FRAMES))
    for n, r in enumerate(lines):
        regions = r.get("regions", [])
        check(r.get("results") == [] and len(regions) == 1,
              "frame %d: results %s, regions %s"
              % (n, r.get("results"), regions))
        if len(regions) != 1:
            continue
        g = regions[0]
        top = (g.get("results") or [{}])[0]
        check(g["type"] == "face"
              and (g["x"], g["y"], g["w"], g["h"]) == (fx, fy, fw, fh),
              "frame %d: region %s, facedetect found %s"
              % (n, g, faces[0]))
        check(top.get("label") in labels
              and top.get("label") == labels[top.get("class_id")]
              and 0.0 < top.get("score", 0) <= 1.0,
              "frame %d: the face was classified %s" % (n, top))

    from PIL import Image
    out = Image.open(png).convert("RGB")
    src = Image.open(ASTRONAUT).convert("RGB")
    check(out.size == src.size, "faces.png is %s" % (out.size,))
    # the outline (inside the box, 2 pixels at 512 rows) is white, the
    # centre of the face is the photo's, the label box over the photo
    # above the box's corner is darker
    outline = [(x, fy + fh - 1) for x in range(fx, fx + fw)] + \
        [(fx, y) for y in range(fy, fy + fh)] + \
        [(fx + fw - 2, y) for y in range(fy, fy + fh)]
    white = sum(1 for p in outline if out.getpixel(p) == (255, 255, 255))
    check(white == len(outline), "faces.png: %d of %d outline pixels white"
          % (white, len(outline)))
    centre = (fx + fw // 2, fy + fh // 2)
    check(out.getpixel(centre) == src.getpixel(centre),
          "faces.png: the face's centre changed")
    above = (fx + 1, fy - 2)
    check(sum(out.getpixel(above)) < sum(src.getpixel(above)) * 0.7,
          "faces.png: no label box above the face (%s, photo %s)"
          % (out.getpixel(above), src.getpixel(above)))
    print("faces.sh: %d frames, the face at %d,%d %dx%d classified %s and "
          "outlined" % (len(lines), fx, fy, fw, fh,
                        [r["regions"][0]["results"][0]["label"]
                         for r in lines if r.get("regions")]))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_broker(workdir):
    """Debian's mosquitto on 127.0.0.1 on a free port, with a
    configuration of its own; returns (process, port)."""
    port = free_port()
    conf = os.path.join(workdir, "mosquitto.conf")
    with open(conf, "w") as f:
        f.write("user %s\nlog_dest file %s\nlistener %d 127.0.0.1\n"
                "allow_anonymous true\n"
                % (getpass.getuser(), os.path.join(workdir, "mosquitto.log"),
                   port))
    broker = subprocess.Popen(["/usr/sbin/mosquitto", "-c", conf],
                              stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), 1).close()
            return broker, port
        except OSError:
            assert time.monotonic() < deadline, "mosquitto did not start"
            assert broker.poll() is None, "mosquitto exited"
            time.sleep(0.02)


# cam1: 11 results, frames 0-10, 0 missing, 0.12 ms, last: top-right
# 0.998; top-1: centre 2, top-left 2, bottom-left 1, ...
SUMMARY = re.compile(r"^final (\S+): (\d+) results, frames (\d+)-(\d+), "
                     r"(\d+) missing, [0-9.]+ ms, last: (.+) ([0-9.]+); "
                     r"top-1: (.*)$")


def check_mqtt(examples, source, model, workdir):
    """cameras.sh's two pipelines publish the clip to a broker of the
    test's own; subscriber.py's final summary must count every frame of
    each stream, and its classes must be the ones drawn."""
    broker, port = start_broker(workdir)
    address = "127.0.0.1:%d" % port
    try:
        sub = subprocess.Popen(
            ["/usr/bin/python3", os.path.join(examples, "subscriber.py"),
             "--broker", address, "--count", str(2 * len(CELLS)),
             "--seconds", "60", "--interval", "0.5"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        first = sub.stdout.readline()
        check(first.startswith("subscribed to cameras/+ on " + address),
              "subscriber.py printed %r" % first)
        # both cameras see the clip, each under its own topic, at its
        # rate (5 fps: 2.2 s) as a camera would send it
        live = source + " ! identity sync=true"
        env = dict(os.environ, SOURCE_1=live, SOURCE_2=live)
        run = subprocess.run(
            [os.path.join(examples, "cameras.sh"), model, address],
            capture_output=True, text=True, timeout=120, env=env)
        check(run.returncode == 0, "cameras.sh exited %d: %s"
              % (run.returncode, run.stderr[-2000:]))
        out, err = sub.communicate(timeout=90)
        check(sub.returncode == 0, "subscriber.py exited %d: %s"
              % (sub.returncode, err[-2000:]))
    finally:
        broker.send_signal(signal.SIGTERM)
        broker.wait(timeout=10)
    finals = {}
    for line in out.splitlines():
        m = SUMMARY.match(line)
        if m:
            finals[m.group(1)] = m
        else:
            check(not line.startswith("final"), "unparsable %r" % line)
    check(sorted(finals) == ["cam1", "cam2"], "final summaries for %s"
          % sorted(finals))
    drawn = collections.Counter(SPOT_LABELS[c] for c in CELLS)
    for name, m in sorted(finals.items()):
        results, first, last, missing = (int(m.group(i)) for i in (2, 3, 4, 5))
        check((results, first, last, missing) == (len(CELLS), 0,
                                                   len(CELLS) - 1, 0),
              "%s: %d results, frames %d-%d, %d missing"
              % (name, results, first, last, missing))
        check(m.group(6) == SPOT_LABELS[CELLS[-1]],
              "%s: last frame's class %r, drawn %r"
              % (name, m.group(6), SPOT_LABELS[CELLS[-1]]))
        counted = collections.Counter(
            {k: int(v) for k, v in (e.rsplit(" ", 1)
                                    for e in m.group(8).split(", "))})
        check(counted == drawn, "%s: top-1 counts %s, drawn %s"
              % (name, dict(counted), dict(drawn)))
        print(m.group(0))
    live = [line for line in out.splitlines()
            if line.startswith("cam") and "results" in line]
    # summaries every 0.5 s while the 2.2 s clip plays
    check(len(live) >= 4, "only %d live summary lines" % len(live))
    print("subscriber.py: %d live summary lines, final summary of 2 streams "
          "x %d frames as drawn" % (len(live), len(CELLS)))


def main():
    what, writer, workdir, target = sys.argv[1:5]
    os.makedirs(workdir, exist_ok=True)
    model = os.path.join(workdir, "spot-%s.safetensors" % what)
    subprocess.run(TEST_WRAPPER + [writer, model], check=True)
    Gst.init(None)
    source = write_clip(workdir)
    if what == "c-appsink":
        check_app(TEST_WRAPPER + [target], source, model,
                  "vgg-appsink-example")
    elif what == "python-meta":
        check_app(["/usr/bin/python3", target], source, model,
                  "vgg_meta_example.py")
    elif what == "launch":
        check_launch(target, source, model, workdir)
    elif what == "mqtt":
        check_mqtt(target, source, model, workdir)
    else:
        sys.exit("unknown example %r" % what)
    if FAILURES:
        print("%d checks failed" % len(FAILURES))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

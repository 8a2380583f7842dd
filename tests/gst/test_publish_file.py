#!/usr/bin/python3
"""vggpublish method=file read back with Python's json: every line of the
file (and of stdout with file-path=-) must parse and carry the results
that vgginfer posted on the bus for the same frame, exactly.

Usage: test_publish_file.py WRITE_TEST_MODELS WORKDIR
(GST_PLUGIN_PATH, GI_TYPELIB_PATH and LD_LIBRARY_PATH point at the build.)
"""

import base64
import json
import os
import select
import struct
import subprocess
import sys
import warnings

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

FRAMES = 60
FAILURES = []
KEYS = {"schema", "stream", "frame", "timestamp", "model", "inference_ms",
        "results", "regions"}


def check(cond, what):
    if not cond:
        FAILURES.append(what)
        print("FAIL: %s" % what)


def value_array(structure, field):
    ok, array = structure.get_array(field)
    assert ok, field
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return [array.get_nth(i) for i in range(array.n_values)]


def run(description):
    """Plays DESCRIPTION to EOS; returns vgginfer's messages by PTS."""
    pipeline = Gst.parse_launch(description)
    bus = pipeline.get_bus()
    posted = {}
    pipeline.set_state(Gst.State.PLAYING)
    while True:
        msg = bus.timed_pop_filtered(
            30 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR
            | Gst.MessageType.ELEMENT)
        assert msg is not None, "no EOS for 30 s"
        assert msg.type != Gst.MessageType.ERROR, msg.parse_error()
        if msg.type == Gst.MessageType.EOS:
            break
        s = msg.get_structure()
        if s.get_name() == "vgginfer":
            entry = {"model": s.get_value("model"),
                     "class-ids": value_array(s, "class-ids"),
                     "labels": value_array(s, "labels"),
                     "scores": value_array(s, "scores")}
            if s.has_field("features"):
                entry["feature-layer"] = s.get_value("feature-layer")
                entry["features"] = value_array(s, "features")
            posted[s.get_value("timestamp")] = entry
    pipeline.set_state(Gst.State.NULL)
    return posted


def check_lines(lines, posted, stream, name):
    """Every line parses and equals the bus message of its frame."""
    check(len(lines) == FRAMES, "%s: %d lines for %d frames"
          % (name, len(lines), FRAMES))
    for n, line in enumerate(lines):
        try:
            r = json.loads(line)
        except ValueError as e:
            check(False, "%s line %d is not JSON (%s): %.200s"
                  % (name, n, e, line))
            continue
        missing = KEYS - set(r)
        check(not missing, "%s line %d lacks %s" % (name, n, missing))
        if missing:
            continue
        check(r["schema"] == 1 and r["stream"] == stream and r["frame"] == n
              and r["regions"] == [],
              "%s line %d: schema %r stream %r frame %r regions %r"
              % (name, n, r["schema"], r["stream"], r["frame"],
                 r["regions"]))
        bus = posted.get(r["timestamp"])
        check(bus is not None, "%s line %d: no bus message at %r"
              % (name, n, r["timestamp"]))
        if bus is None:
            continue
        check(r["model"] == bus["model"], "%s line %d: model %r, bus %r"
              % (name, n, r["model"], bus["model"]))
        got = ([e["class_id"] for e in r["results"]],
               [e["label"] for e in r["results"]],
               [e["score"] for e in r["results"]])
        want = (bus["class-ids"], bus["labels"], bus["scores"])
        # the scores are the same float32: JSON's 17 digits read back as
        # the double the bus message's float converts to
        check(got == want, "%s line %d: %s, the bus said %s"
              % (name, n, got, want))
        if "features" in bus:
            if "features_base64" in r:
                raw = base64.b64decode(r["features_base64"])
                values = list(struct.unpack("<%df" % (len(raw) // 4), raw))
            else:
                values = r.get("features")
            check(values == bus["features"] and r["n_features"]
                  == len(bus["features"]) and r["feature_layer"]
                  == bus["feature-layer"],
                  "%s line %d: features differ from the bus" % (name, n))


def main():
    writer, workdir = sys.argv[1], sys.argv[2]
    os.makedirs(workdir, exist_ok=True)
    model = os.path.join(workdir, "spot-publish.safetensors")
    subprocess.run([writer, model], check=True)
    Gst.init(None)
    source = ("videotestsrc num-buffers=%d pattern=ball ! "
              "video/x-raw,format=I420,width=96,height=72,framerate=25/1"
              % FRAMES)

    # classification, to a file
    path = os.path.join(workdir, "classes.jsonl")
    posted = run("%s ! vgginfer model=\"%s\" top-k=4 ! vggpublish "
                 "source-id=cam-a file-path=\"%s\" ! fakesink"
                 % (source, model, path))
    check(len(posted) == FRAMES, "%d bus messages" % len(posted))
    with open(path) as f:
        check_lines(f.read().splitlines(), posted, "cam-a", "classes.jsonl")

    # features, as an array and as base64
    for fmt in ("array", "base64"):
        path = os.path.join(workdir, "features-%s.jsonl" % fmt)
        posted = run("%s ! vgginfer model=\"%s\" mode=features "
                     "feature-layer=pool5 ! vggpublish name=feat "
                     "features-format=%s file-path=\"%s\" ! fakesink"
                     % (source, model, fmt, path))
        with open(path) as f:
            check_lines(f.read().splitlines(), posted, "feat",
                        "features-%s.jsonl" % fmt)

    # stdout, through gst-launch-1.0 itself (-q: nothing else on stdout)
    launch = ("%s ! vgginfer model=\"%s\" top-k=2 ! vggpublish "
              "source-id=stdout file-path=- ! fakesink" % (source, model))
    out = subprocess.run(["gst-launch-1.0", "-q"] + launch.split(),
                         capture_output=True, text=True, timeout=60)
    check(out.returncode == 0, "gst-launch-1.0 exited %d: %s"
          % (out.returncode, out.stderr[-2000:]))
    posted = run(launch.replace("file-path=-", "file-path=/dev/null"))
    check_lines(out.stdout.splitlines(), posted, "stdout", "stdout")

    # stdout into a pipe whose reader goes away after one line: the writes
    # fail with EPIPE, an error naming the file, where a SIGPIPE (exit
    # -13) would have ended gst-launch-1.0 without a word
    launch = ("videotestsrc num-buffers=1000000 ! video/x-raw,format=I420,"
              "width=32,height=24 ! vgginfer model=\"%s\" ! vggpublish "
              "file-path=- flush-interval=0 ! fakesink" % model)
    err_path = os.path.join(workdir, "broken-pipe.stderr")
    with open(err_path, "w+") as err:
        # LC_ALL=C: strerror's text untranslated
        proc = subprocess.Popen(["gst-launch-1.0", "-q"] + launch.split(),
                                stdout=subprocess.PIPE, stderr=err,
                                env=dict(os.environ, LC_ALL="C"))
        ready, _, _ = select.select([proc.stdout], [], [], 60)
        first = proc.stdout.readline() if ready else b""
        proc.stdout.close()
        try:
            code = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            code = "none within 60 s (killed)"
        err.seek(0)
        stderr = err.read()
    try:
        frame = json.loads(first)["frame"]
    except (ValueError, KeyError) as e:
        frame = "not a record (%s)" % e
    check(frame == 0, "first line %r, frame %s, stderr: %s"
          % (first, frame, stderr[-2000:]))
    check(code == 1, "gst-launch-1.0 into a closed pipe exited %s "
          "(1: the pipeline's error; -13: SIGPIPE), stderr: %s"
          % (code, stderr[-2000:]))
    check('Could not write to file "-"' in stderr and "Broken pipe" in stderr,
          "no write error naming the file and EPIPE on stderr: %s"
          % stderr[-2000:])

    if FAILURES:
        print("%d checks failed" % len(FAILURES))
        return 1
    print("vggpublish method=file: %d lines in each of 4 outputs parsed by "
          "Python's json, equal to the bus messages" % FRAMES)
    return 0


if __name__ == "__main__":
    sys.exit(main())

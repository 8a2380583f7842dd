#!/usr/bin/python3
"""A live camera stand-in: does vgginfer keep up with 30 fps?

usage: bench/live.py [--precision fp32,bf16] [--seconds 10] [--arch vgg16]
           [--model FILE] [--batch-size 1] [--threads 2] [--build build]

Runs, for each precision, in a fresh process,

    videotestsrc is-live=true ! video/x-raw,width=640,height=480,framerate=30/1
      ! vgginfer model=M precision=P leaky=skip batch-size=B threads=T
      ! fakesink sync=true

for --seconds (after a 2 s warm-up that is not counted) and prints the
frames that went through, how many the element passed without inference
because it fell behind (its frames-skipped: leaky=skip keeps the camera
from stalling), and its mean-inference-ms.  The frames counted in and out
of that window differ by those queued in the element at its ends, so the
pipeline then ends with an EOS, and every frame that entered vgginfer
must have left it (the script fails if not).  The model is torchvision's
architecture with random weights (tests/python/vggtorch.py, cached in
build/bench) unless --model is given.  The last line is JSON.
"""

import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))


def child(args):
    os.environ["GST_PLUGIN_PATH"] = os.path.join(args.build, "gst")
    import gi
    gi.require_version("Gst", "1.0")
    from gi.repository import Gst
    Gst.init(None)
    pipeline = Gst.parse_launch(
        "videotestsrc is-live=true ! "
        "video/x-raw,width=640,height=480,framerate=30/1 ! "
        "vgginfer name=infer model=\"%s\" precision=%s leaky=skip "
        "batch-size=%d threads=%d post-messages=false ! "
        "fakesink name=sink sync=true signal-handoffs=true"
        % (args.model, args.child, args.batch_size, args.threads))
    infer = pipeline.get_by_name("infer")
    out, into = [0], [0]
    pipeline.get_by_name("sink").connect(
        "handoff", lambda sink, buf, pad: out.__setitem__(0, out[0] + 1))

    def count_in(pad, info):
        into[0] += 1
        return Gst.PadProbeReturn.OK
    infer.get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER, count_in)
    pipeline.set_state(Gst.State.PLAYING)
    bus = pipeline.get_bus()

    def wait(seconds, until=Gst.MessageType.ERROR):
        msg = bus.timed_pop_filtered(int(seconds * Gst.SECOND),
                                     Gst.MessageType.ERROR | until)
        if msg is not None and msg.type == Gst.MessageType.ERROR:
            err, debug = msg.parse_error()
            sys.exit("%s: %s (%s)" % (args.child, err.message, debug))
        return msg

    wait(2)
    out0, skipped0 = out[0], infer.get_property("frames-skipped")
    inferred0 = infer.get_property("frames-inferred")
    t0 = time.monotonic()
    wait(args.seconds)
    elapsed = time.monotonic() - t0
    frames = out[0] - out0
    skipped = infer.get_property("frames-skipped") - skipped0
    inferred = infer.get_property("frames-inferred") - inferred0
    ms = infer.get_property("mean-inference-ms")
    # frames counted in the window may still be queued in the element:
    # after an EOS every frame that entered it must have come out
    pipeline.send_event(Gst.Event.new_eos())
    if wait(30, Gst.MessageType.EOS) is None:
        sys.exit("%s: no EOS within 30 s" % args.child)
    pipeline.set_state(Gst.State.NULL)
    print(json.dumps({"precision": args.child, "seconds": round(elapsed, 2),
                      "frames_out": frames, "fps": round(frames / elapsed, 2),
                      "frames_inferred": inferred, "frames_skipped": skipped,
                      "mean_inference_ms": round(ms, 1),
                      "frames_in_total": into[0],
                      "frames_out_total": out[0]}))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--precision", default="fp32,bf16")
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--arch", default="vgg16")
    ap.add_argument("--model")
    ap.add_argument("--batch-size", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.model is None:
        import importlib
        ms = importlib.import_module("multi-stream")
        args.model = os.path.join(args.build, "bench",
                                  "%s-random.safetensors" % args.arch)
        ms.make_model(args.arch, args.model)
    if args.child:
        return child(args)
    results = []
    for p in args.precision.split(","):
        out = subprocess.run(
            [sys.executable, os.path.abspath(__file__), "--child", p,
             "--model", args.model, "--seconds", str(args.seconds),
             "--batch-size", str(args.batch_size), "--threads",
             str(args.threads), "--build", args.build],
            check=True, capture_output=True, text=True).stdout
        r = json.loads(out.strip().splitlines()[-1])
        results.append(r)
        print("%s: %d frames in %.1f s (%.1f fps), %d inferred, %d passed "
              "without inference (fell behind), mean inference %.1f ms; "
              "after EOS %d frames in, %d out" % (
                  p, r["frames_out"], r["seconds"], r["fps"],
                  r["frames_inferred"], r["frames_skipped"],
                  r["mean_inference_ms"], r["frames_in_total"],
                  r["frames_out_total"]), flush=True)
        if r["frames_in_total"] != r["frames_out_total"]:
            sys.exit("%s: %d frames entered vgginfer, %d left it" % (
                p, r["frames_in_total"], r["frames_out_total"]))
    print(json.dumps({"model": os.path.basename(args.model),
                      "batch_size": args.batch_size,
                      "threads": args.threads, "results": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

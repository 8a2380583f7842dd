#!/usr/bin/python3
"""The vgginfer element against the bare engine, in one run.

Runs, on the same model (torchvision's VGG16 with random weights, made by
tests/python/vggtorch.py and cached), the same batch size and threads:
  1. build/vggcore/tools/vgg-bench --model M --batch B --threads T
  2. videotestsrc num-buffers=N ! video/x-raw,format=I420,width=1920,
     height=1080 ! vgginfer model=M batch-size=B threads=T ! fakesink
and prints both frames per second and their ratio (the element's target is
at least 0.97 of the engine's).  The two alternate --repeat times (the
machine's speed drifts between runs); the figures are the medians.  The element's rate is measured at the sink
between the end of the first batch (model warm-up, like vgg-bench's
--warmup 1) and the last frame.

Usage: bench/element-vs-engine.py [--frames 40] [--batch 8] [--threads 2]
           [--repeat 3] [--arch vgg16] [--model FILE] [--build build]
Needs /usr/bin/python3 with python3-gi, gir1.2-gstreamer-1.0 and (to make
the model) python3-torch and python3-torchvision.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def make_model(arch, path):
    if os.path.exists(path):
        return
    sys.path.insert(0, os.path.join(ROOT, "tests", "python"))
    import vggtorch
    print("writing %s (torchvision %s, random weights)" % (path, arch),
          flush=True)
    model = vggtorch.make_vgg(arch, seed=0)
    vggtorch.save_safetensors(path + ".tmp", model.state_dict(),
                              metadata={"vgg.name": arch + "-random"})
    os.replace(path + ".tmp", path)


def engine_fps(build, model, batch, threads, iters):
    out = subprocess.run(
        [os.path.join(build, "vggcore", "tools", "vgg-bench"),
         "--model", model, "--batch", str(batch), "--threads", str(threads),
         "--iters", str(iters), "--warmup", "1"],
        check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])["img_per_s"]


def element_fps(build, model, batch, threads, frames):
    os.environ["GST_PLUGIN_PATH"] = os.path.join(build, "gst")
    import gi
    gi.require_version("Gst", "1.0")
    from gi.repository import Gst
    Gst.init(None)
    desc = ("videotestsrc num-buffers=%d ! "
            "video/x-raw,format=I420,width=1920,height=1080,framerate=30/1 ! "
            "vgginfer model=\"%s\" batch-size=%d threads=%d "
            "post-messages=false ! "
            "fakesink name=sink sync=false signal-handoffs=true"
            % (frames, model, batch, threads))
    pipeline = Gst.parse_launch(desc)
    times = []
    pipeline.get_by_name("sink").connect(
        "handoff", lambda sink, buf, pad: times.append(time.monotonic()))
    pipeline.set_state(Gst.State.PLAYING)
    msg = pipeline.get_bus().timed_pop_filtered(
        Gst.CLOCK_TIME_NONE, Gst.MessageType.EOS | Gst.MessageType.ERROR)
    if msg.type == Gst.MessageType.ERROR:
        err, debug = msg.parse_error()
        sys.exit("element: %s (%s)" % (err.message, debug))
    pipeline.set_state(Gst.State.NULL)
    if len(times) != frames:
        sys.exit("element: %d frames out of %d" % (len(times), frames))
    # frames after the first batch, over the time since it came out
    return (frames - batch) / (times[-1] - times[batch - 1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=40)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--arch", default="vgg16")
    ap.add_argument("--model")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    args = ap.parse_args()
    if args.frames < 2 * args.batch or args.frames % args.batch:
        sys.exit("--frames must be a multiple of --batch, at least two "
                 "batches")
    model = args.model or os.path.join(
        args.build, "bench", "%s-random.safetensors" % args.arch)
    os.makedirs(os.path.dirname(model), exist_ok=True)
    make_model(args.arch, model)
    iters = args.frames // args.batch - 1
    engines, elements = [], []
    for _ in range(max(1, args.repeat)):
        engines.append(engine_fps(args.build, model, args.batch,
                                  args.threads, iters))
        elements.append(element_fps(args.build, model, args.batch,
                                    args.threads, args.frames))
        print("run %d: engine %.3f fps, element %.3f fps"
              % (len(engines), engines[-1], elements[-1]), flush=True)
    engine = statistics.median(engines)
    element = statistics.median(elements)
    ratio = element / engine
    print(json.dumps({"model": os.path.basename(model),
                      "batch": args.batch, "threads": args.threads,
                      "frames": args.frames, "repeat": len(engines),
                      "engine_fps": round(engine, 3),
                      "element_fps": round(element, 3),
                      "ratio": round(ratio, 3)}))
    print("engine %.3f fps, element %.3f fps (1920x1080 I420): ratio %.3f "
          "(target >= 0.97)" % (engine, element, ratio))


if __name__ == "__main__":
    main()

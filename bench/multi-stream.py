#!/usr/bin/python3
"""Many streams, one model: vgginfer batch groups and the shared model cache.

Throughput: S streams (default 4) of VGG16 (torchvision's, random weights,
made by tests/python/vggtorch.py and cached) in one process,
  grouped:  S x (videotestsrc ! vgginfer batch-group=g batch-size=S
            threads=T) -- one worker batches the frames of all streams;
  separate: S x (videotestsrc ! vgginfer batch-size=1 threads=T1) -- each
            element runs its own context at batch 1 (T1 = max(1, cores/S),
            so the separate elements do not oversubscribe the cores more
            than the group does);
and prints the total frames per second of each.  Rates are measured at the
sinks from the S-th frame out to the last (the first batch warms up).

Memory: peak RSS (VmHWM) of a process running 8 separate elements against
one running 1 element (both batch 1), and of one running 8 grouped
elements (batch 8) against 1 element at batch 8, all on the same model
file (8 frames each); every configuration runs in a fresh process.

Usage: bench/multi-stream.py [--streams 4] [--frames 24] [--threads 2]
           [--arch vgg16] [--model FILE] [--build build] [--skip-memory]
Run it under `flock -s /tmp/gst-vgg-cpu.lock`.  Needs /usr/bin/python3 with
python3-gi, gir1.2-gstreamer-1.0, python3-torch and python3-torchvision.
"""

import argparse
import json
import os
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


def peak_rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def child(args):
    """One configuration in this process; prints one JSON line."""
    os.environ["GST_PLUGIN_PATH"] = os.path.join(args.build, "gst")
    import gi
    gi.require_version("Gst", "1.0")
    from gi.repository import Gst
    Gst.init(None)
    n, frames = args.child_streams, args.frames
    if args.child == "grouped":
        props = ("batch-group=bench batch-size=%d batch-timeout=200 "
                 "threads=%d" % (args.child_batch or n, args.threads))
    else:
        props = "batch-size=1 threads=%d" % args.child_threads
    branches = []
    for i in range(n):
        branches.append(
            "videotestsrc num-buffers=%d pattern=%d ! "
            "video/x-raw,format=I420,width=320,height=240,framerate=30/1 ! "
            "vgginfer model=\"%s\" post-messages=false %s ! "
            "fakesink name=sink%d sync=false signal-handoffs=true"
            % (frames, i % 20, args.model, props, i))
    pipeline = Gst.parse_launch("  ".join(branches))
    times = []
    for i in range(n):
        pipeline.get_by_name("sink%d" % i).connect(
            "handoff", lambda sink, buf, pad: times.append(time.monotonic()))
    pipeline.set_state(Gst.State.PLAYING)
    msg = pipeline.get_bus().timed_pop_filtered(
        Gst.CLOCK_TIME_NONE, Gst.MessageType.EOS | Gst.MessageType.ERROR)
    if msg.type == Gst.MessageType.ERROR:
        err, debug = msg.parse_error()
        sys.exit("%s: %s (%s)" % (args.child, err.message, debug))
    pipeline.set_state(Gst.State.NULL)
    if len(times) != n * frames:
        sys.exit("%s: %d frames out of %d" % (args.child, len(times),
                                              n * frames))
    times.sort()
    fps = (len(times) - n) / (times[-1] - times[n - 1])
    print(json.dumps({"config": args.child, "streams": n, "frames": frames,
                      "total_fps": round(fps, 3),
                      "peak_rss_mb": round(peak_rss_mb(), 1)}))


def run(args, config, streams, frames, threads, batch=0):
    cmd = [sys.executable, os.path.abspath(__file__), "--child", config,
           "--child-streams", str(streams), "--child-threads", str(threads),
           "--child-batch", str(batch),
           "--frames", str(frames), "--threads", str(args.threads),
           "--model", args.model, "--build", args.build]
    out = subprocess.run(cmd, check=True, capture_output=True,
                         text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--streams", type=int, default=4)
    ap.add_argument("--frames", type=int, default=24,
                    help="frames per stream")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--arch", default="vgg16")
    ap.add_argument("--model")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--child-streams", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--child-threads", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--child-batch", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    args.build = os.path.abspath(args.build)
    if args.child:
        child(args)
        return
    args.model = os.path.abspath(args.model or os.path.join(
        args.build, "bench", "%s-random.safetensors" % args.arch))
    os.makedirs(os.path.dirname(args.model), exist_ok=True)
    make_model(args.arch, args.model)

    s = args.streams
    sep_threads = max(1, args.threads // s)
    grouped = run(args, "grouped", s, args.frames, args.threads)
    separate = run(args, "separate", s, args.frames, sep_threads)
    result = {"model": os.path.basename(args.model), "streams": s,
              "frames_per_stream": args.frames,
              "grouped": {"batch": s, "threads": args.threads,
                          "total_fps": grouped["total_fps"]},
              "separate": {"batch": 1, "threads_each": sep_threads,
                           "total_fps": separate["total_fps"]},
              "speedup": round(grouped["total_fps"] / separate["total_fps"],
                               3)}
    if not args.skip_memory:
        one = run(args, "separate", 1, 8, args.threads)
        one_b8 = run(args, "grouped", 1, 8, args.threads, batch=8)
        eight_g = run(args, "grouped", 8, 8, args.threads)
        eight_s = run(args, "separate", 8, 8, sep_threads)
        result["peak_rss_mb"] = {
            "1_element": one["peak_rss_mb"],
            "1_element_batch8": one_b8["peak_rss_mb"],
            "8_grouped": eight_g["peak_rss_mb"],
            "8_separate": eight_s["peak_rss_mb"]}
        result["rss_ratio_8_grouped"] = round(
            eight_g["peak_rss_mb"] / one_b8["peak_rss_mb"], 3)
        result["rss_ratio_8_separate"] = round(
            eight_s["peak_rss_mb"] / one["peak_rss_mb"], 3)
    print(json.dumps(result))
    print("%d streams of %s: grouped (batch %d, %d threads) %.2f fps total, "
          "separate (batch 1, %d thread(s) each) %.2f fps total: x%.2f"
          % (s, args.arch, s, args.threads, grouped["total_fps"],
             sep_threads, separate["total_fps"], result["speedup"]))
    if "peak_rss_mb" in result:
        r = result["peak_rss_mb"]
        print("peak RSS: 1 element %.0f MB, 8 separate %.0f MB (x%.2f); "
              "1 element at batch 8 %.0f MB, 8 grouped (batch 8) %.0f MB "
              "(x%.2f)"
              % (r["1_element"], r["8_separate"],
                 result["rss_ratio_8_separate"], r["1_element_batch8"],
                 r["8_grouped"], result["rss_ratio_8_grouped"]))


if __name__ == "__main__":
    main()

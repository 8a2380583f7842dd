#!/usr/bin/python3
"""vggcore against PyTorch on the same machine, model and thread count.

usage: bench/compare-pytorch.py --vgg-bench PATH [--arch vgg16] [--batch 8]
           [--threads 2] [--iters 5] [--size 224x224] [--json OUT]
       bench/compare-pytorch.py --torch-only [...]

vggcore: runs `vgg-bench` as a subprocess and parses its JSON line.
PyTorch: runs in a separate subprocess (this script with --torch-worker),
so that each side's peak RSS (getrusage ru_maxrss) is its own: torchvision
model with random weights, eval(), channels_last model and input,
torch.jit.optimize_for_inference(torch.jit.trace(model, x)) under
torch.no_grad(), 2 warm-up runs, then K timed runs.

Prints a table (median ms per batch, images/s, peak RSS MB, and the ratios
vggcore/PyTorch) and one JSON line (also written to --json OUT).
Must run under /usr/bin/python3 (Debian's torch and torchvision).
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time


def parse_size(s):
    try:
        h, w = s.lower().split("x")
        h, w = int(h), int(w)
    except ValueError:
        raise argparse.ArgumentTypeError("size must be HxW, e.g. 224x224")
    if h < 32 or w < 32:
        raise argparse.ArgumentTypeError("size must be at least 32x32")
    return h, w


def rss_mb():
    # ru_maxrss is in KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def torch_worker(args):
    """Runs inside the child process; prints one JSON line."""
    import torch
    import torchvision

    torch.set_num_threads(args.threads)
    rss_import = rss_mb()
    h, w = args.size
    torch.manual_seed(0)
    model = getattr(torchvision.models, args.arch)(weights=None).eval()
    model = model.to(memory_format=torch.channels_last)
    x = torch.randn(args.batch, 3, h, w).contiguous(
        memory_format=torch.channels_last)
    t0 = time.perf_counter()
    with torch.no_grad():
        traced = torch.jit.trace(model, x)
        opt = torch.jit.optimize_for_inference(traced)
        prep_s = time.perf_counter() - t0
        for _ in range(2):
            opt(x)
        times = []
        for _ in range(args.iters):
            t = time.perf_counter()
            y = opt(x)
            times.append((time.perf_counter() - t) * 1000.0)
    assert tuple(y.shape) == (args.batch, 1000)
    ms = statistics.median(times)
    print(json.dumps({
        "impl": "pytorch",
        "torch_version": torch.__version__,
        "torchvision_version": torchvision.__version__,
        "arch": args.arch,
        "batch": args.batch,
        "threads": torch.get_num_threads(),
        "height": h,
        "width": w,
        "iters": args.iters,
        "ms_per_batch": [round(t, 3) for t in times],
        "ms_per_batch_median": ms,
        "ms_per_batch_min": min(times),
        "img_per_s": args.batch * 1000.0 / ms,
        "prepare_s": prep_s,
        "rss_after_import_mb": rss_import,
        "peak_rss_mb": rss_mb(),
    }))
    return 0


def last_json_line(text, what):
    for line in reversed(text.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                continue
    raise RuntimeError("%s printed no JSON line:\n%s" % (what, text))


def run(cmd, what):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True)
    if p.returncode != 0:
        raise RuntimeError("%s failed (exit %d): %s\n%s" %
                           (what, p.returncode, " ".join(cmd),
                            p.stderr.strip()))
    return last_json_line(p.stdout, what)


def run_torch(args):
    cmd = [sys.executable, os.path.abspath(__file__), "--torch-worker",
           "--arch", args.arch, "--batch", str(args.batch),
           "--threads", str(args.threads), "--iters", str(args.iters),
           "--size", "%dx%d" % args.size]
    env = dict(os.environ)
    # keep OpenMP/MKL from spawning more threads than asked
    env["OMP_NUM_THREADS"] = str(args.threads)
    env["MKL_NUM_THREADS"] = str(args.threads)
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, env=env)
    if p.returncode != 0:
        raise RuntimeError("PyTorch worker failed (exit %d):\n%s" %
                           (p.returncode, p.stderr.strip()))
    return last_json_line(p.stdout, "PyTorch worker")


def run_vggcore(args):
    cmd = [args.vgg_bench, "--arch", args.arch, "--batch", str(args.batch),
           "--threads", str(args.threads), "--iters", str(args.iters),
           "--size", "%dx%d" % args.size]
    r = run(cmd, "vgg-bench")
    for k in ("ms_per_batch_median", "img_per_s", "peak_rss_mb"):
        if k not in r:
            raise RuntimeError("vgg-bench JSON has no %r: %s" % (k, r))
    return r


def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--vgg-bench", help="path of vgg-bench")
    ap.add_argument("--torch-only", action="store_true",
                    help="measure PyTorch only")
    ap.add_argument("--arch", default="vgg16",
                    choices=["vgg11", "vgg11_bn", "vgg13", "vgg13_bn",
                             "vgg16", "vgg16_bn", "vgg19", "vgg19_bn"])
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--size", type=parse_size, default=(224, 224),
                    help="HxW (default 224x224)")
    ap.add_argument("--json", help="also write the JSON result here")
    ap.add_argument("--torch-worker", action="store_true",
                    help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.batch < 1 or args.threads < 1 or args.iters < 1:
        ap.error("--batch, --threads and --iters must be >= 1")

    if args.torch_worker:
        return torch_worker(args)
    if not args.torch_only and not args.vgg_bench:
        ap.error("--vgg-bench PATH is required (or --torch-only)")

    vc = None
    if not args.torch_only:
        vc = run_vggcore(args)
    pt = run_torch(args)

    h, w = args.size
    print("%s, batch %d, %dx%d (HxW), %d threads, %d timed iterations" %
          (args.arch, args.batch, h, w, args.threads, args.iters))
    print("torch %s, torchvision %s, torch threads %d" %
          (pt["torch_version"], pt["torchvision_version"], pt["threads"]))
    if vc is not None and int(vc.get("threads", args.threads)) != \
            args.threads:
        print("warning: vgg-bench reports %s threads" % vc.get("threads"))
    rows = [("PyTorch (jit, channels_last)", pt)]
    if vc is not None:
        rows.insert(0, ("vggcore", vc))
    print("%-30s %14s %10s %10s %14s" % ("", "ms/batch (med)", "(min)",
                                          "img/s", "peak RSS MB"))
    for name, r in rows:
        print("%-30s %14.1f %10s %10.2f %14.1f" % (
            name, r["ms_per_batch_median"],
            fmt(r.get("ms_per_batch_min"), ".1f"), r["img_per_s"],
            r["peak_rss_mb"]))
    speed_ratio = rss_ratio = None
    if vc is not None:
        speed_ratio = vc["img_per_s"] / pt["img_per_s"]
        rss_ratio = vc["peak_rss_mb"] / pt["peak_rss_mb"]
        print("%-30s %14s %10s %10s %14s" % ("vggcore / PyTorch", "", "",
                                              fmt(speed_ratio, ".3f") + "x",
                                              fmt(rss_ratio, ".3f") + "x"))
    print("(PyTorch RSS includes %.0f MB for importing torch)" %
          pt["rss_after_import_mb"])
    result = {
        "arch": args.arch,
        "batch": args.batch,
        "threads": args.threads,
        "height": h,
        "width": w,
        "iters": args.iters,
        "torch_version": pt["torch_version"],
        "pytorch": pt,
        "vggcore": vc,
        "speed_ratio": speed_ratio,
        "rss_ratio": rss_ratio,
    }
    line = json.dumps(result, sort_keys=True)
    print(line)
    if args.json:
        with open(args.json, "w") as f:
            f.write(line + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

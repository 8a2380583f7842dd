#!/usr/bin/python3
"""The speed report: vggcore against PyTorch for several architectures and
batch sizes, and vggcore's scaling from 1 to 2 threads.

usage: bench/speed-report.py [--out bench/results] [--archs vgg16,vgg11,vgg19_bn]
           [--batches 1,8] [--threads 2] [--iters 5] [--build build]

Each (arch, batch) pair is one run of bench/compare-pytorch.py (vgg-bench
and the PyTorch worker, one after the other, same threads). Then
vgg-bench alone at 1 thread for the same pairs. Writes OUT/report.md (a
markdown table), OUT/report.png (images/s per engine, batch 1 and 8, per
architecture) and OUT/results.json. Needs python3-matplotlib.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GFLOP = {}  # arch -> GFLOP per 224x224 image, from vgg-bench


def run_json(cmd):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True)
    if p.returncode != 0:
        sys.exit("failed (exit %d): %s\n%s" % (p.returncode, " ".join(cmd),
                                               p.stderr.strip()))
    for line in reversed(p.stdout.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    sys.exit("no JSON line from: " + " ".join(cmd))


def cpu_name():
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results"))
    ap.add_argument("--archs", default="vgg16,vgg11,vgg19_bn")
    ap.add_argument("--batches", default="1,8")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    args = ap.parse_args()
    archs = args.archs.split(",")
    batches = [int(b) for b in args.batches.split(",")]
    bench = os.path.join(args.build, "vggcore", "tools", "vgg-bench")
    compare = os.path.join(ROOT, "bench", "compare-pytorch.py")
    os.makedirs(args.out, exist_ok=True)

    rows = []
    for arch in archs:
        for batch in batches:
            print("%s batch %d ..." % (arch, batch), flush=True)
            r = run_json([sys.executable, compare, "--vgg-bench", bench,
                          "--arch", arch, "--batch", str(batch),
                          "--threads", str(args.threads),
                          "--iters", str(args.iters)])
            one = run_json([bench, "--arch", arch, "--batch", str(batch),
                            "--threads", "1", "--iters", str(args.iters)])
            vc, pt = r["vggcore"], r["pytorch"]
            rows.append({
                "arch": arch, "batch": batch,
                "vggcore_img_s": vc["img_per_s"],
                "vggcore_gflops": vc["gflops"],
                "vggcore_rss_mb": vc["peak_rss_mb"],
                "vggcore_1thread_img_s": one["img_per_s"],
                "pytorch_img_s": pt["img_per_s"],
                "pytorch_rss_mb": pt["peak_rss_mb"],
                "speedup": r["speed_ratio"],
                "scaling": vc["img_per_s"] / one["img_per_s"],
            })
            print("  vggcore %.2f img/s, PyTorch %.2f img/s, %.2fx"
                  % (vc["img_per_s"], pt["img_per_s"], r["speed_ratio"]),
                  flush=True)

    env = {k: os.environ.get(k, "(unset)")
           for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    head = ("Measured %s on %s, %d cores online, %d threads, 224x224, %d "
            "timed iterations (median), torch %s; %s." % (
                time.strftime("%Y-%m-%d"), cpu_name(), os.cpu_count(),
                args.threads, args.iters, r["torch_version"],
                ", ".join("%s=%s" % kv for kv in env.items())))
    lines = [head, "",
             "| arch | batch | vggcore img/s | PyTorch img/s | vggcore / "
             "PyTorch | vggcore GFLOP/s | vggcore 1 thread img/s | 2 / 1 "
             "threads | vggcore peak RSS MB | PyTorch peak RSS MB |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for x in rows:
        lines.append("| %s | %d | %.2f | %.2f | **%.2fx** | %.0f | %.2f | "
                     "%.2fx | %.0f | %.0f |" % (
                         x["arch"], x["batch"], x["vggcore_img_s"],
                         x["pytorch_img_s"], x["speedup"],
                         x["vggcore_gflops"], x["vggcore_1thread_img_s"],
                         x["scaling"], x["vggcore_rss_mb"],
                         x["pytorch_rss_mb"]))
    lines += ["", "Command: `/usr/bin/python3 bench/speed-report.py "
              "--archs %s --batches %s --threads %d --iters %d`" % (
                  args.archs, args.batches, args.threads, args.iters)]
    md = "\n".join(lines) + "\n"
    with open(os.path.join(args.out, "report.md"), "w") as f:
        f.write(md)
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump({"note": head, "rows": rows}, f, indent=1)
    print(md)

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(batches), figsize=(5 * len(batches), 4),
                             squeeze=False)
    for ax, batch in zip(axes[0], batches):
        sel = [x for x in rows if x["batch"] == batch]
        pos = range(len(sel))
        ax.bar([p - 0.2 for p in pos], [x["vggcore_img_s"] for x in sel],
               0.4, label="vggcore")
        ax.bar([p + 0.2 for p in pos], [x["pytorch_img_s"] for x in sel],
               0.4, label="PyTorch (jit, channels_last)")
        for p, x in zip(pos, sel):
            ax.annotate("%.2fx" % x["speedup"], (p - 0.2, x["vggcore_img_s"]),
                        ha="center", va="bottom", fontsize=8)
        ax.set_xticks(list(pos))
        ax.set_xticklabels([x["arch"] for x in sel])
        ax.set_title("batch %d, %d threads, 224x224" % (batch, args.threads))
        ax.set_ylabel("images/s")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(args.out, "report.png"), dpi=80)
    print("wrote %s/report.md, report.png, results.json" % args.out)


if __name__ == "__main__":
    main()

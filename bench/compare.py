#!/usr/bin/python3
"""vggcore beside PyTorch and ONNX Runtime: same machine, model, threads, run.

usage: bench/compare.py [--build build] [--arch vgg16[,vgg11,...]]
           [--batch 1,8] [--threads 2] [--iters 5] [--rounds 3]
           [--engines vggcore-fp32,vggcore-bf16,pytorch-fp32,pytorch-bf16,onnxruntime]
           [--size 224x224] [--json OUT] [--out DIR]

Each measurement is a fresh process (so each peak RSS is its own) that
warms up once and times --iters forward passes of a random batch:
  vggcore-fp32  BUILD/vggcore/tools/vgg-bench on a .pth file of the same
                torchvision model (torch.save of its state_dict, as a user
                would load it), the kernel level of this CPU
  vggcore-bf16  the same with --precision bf16 (when vgg-bench has it)
  pytorch-fp32  torchvision model, eval, channels_last, torch.jit.trace +
                torch.jit.optimize_for_inference, under no_grad
  pytorch-bf16  the same model under torch.autocast("cpu", bfloat16),
                channels_last, torch.jit.trace + torch.jit.freeze
  onnxruntime   npm onnxruntime-node (bench/ort, `npm install
                --ignore-scripts` there, done by this script when
                node_modules is missing) on a torch.onnx.export of the same
                torchvision model (opset 17, dynamic batch), intraOpNumThreads
                = threads, graph optimization "all"
The engines alternate within each round, rounds repeat --rounds times: these
machines are shared and noisy, so only figures of one run are compared.
Per engine and batch: best img/s (fastest pass of any round), median img/s
(median over rounds of each round's median pass), peak RSS, and effective
GFLOP/s (2 x the model's multiply-adds x img/s) beside the per-core peaks
of BUILD/bench/vgg-peak, and each engine's best img/s over the faster of
PyTorch fp32 and ONNX Runtime.  The last line is JSON (also
written to --json); --out DIR also writes DIR/report.md (the tables, the
CPU, the command) and DIR/report.png (best img/s per engine).  Run with
/usr/bin/python3 (Debian's torch).
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ENGINES = ["vggcore-fp32", "vggcore-bf16", "pytorch-fp32", "pytorch-bf16",
           "onnxruntime"]


def rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def torch_model(arch):
    import torch
    import torchvision
    torch.manual_seed(0)
    return getattr(torchvision.models, arch)(weights=None).eval()


def worker(args):
    """One PyTorch measurement (or the ONNX export) in this process."""
    import torch
    torch.set_num_threads(args.threads)
    h, w = args.size
    model = torch_model(args.arch)
    if args.worker == "save":
        torch.save(model.state_dict(), args.file_out)
        return 0
    if args.worker == "export":
        x = torch.randn(1, 3, h, w)
        torch.onnx.export(model, x, args.file_out, opset_version=17,
                          input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": {0: "n"}, "logits": {0: "n"}})
        return 0
    model = model.to(memory_format=torch.channels_last)
    x = torch.randn(args.batch, 3, h, w).contiguous(
        memory_format=torch.channels_last)
    with torch.no_grad():
        if args.worker == "pytorch-fp32":
            run = torch.jit.optimize_for_inference(torch.jit.trace(model, x))
        else:
            with torch.autocast("cpu", dtype=torch.bfloat16):
                run = torch.jit.freeze(
                    torch.jit.trace(model, x, check_trace=False))
        times = []
        for i in range(args.iters + 1):
            t = time.perf_counter()
            if args.worker == "pytorch-bf16":
                with torch.autocast("cpu", dtype=torch.bfloat16):
                    y = run(x)
            else:
                y = run(x)
            if i > 0:
                times.append((time.perf_counter() - t) * 1000.0)
    assert tuple(y.shape) == (args.batch, 1000)
    print(json.dumps({"ms_per_batch": times, "peak_rss_mb": rss_mb(),
                      "version": torch.__version__}))
    return 0


def last_json(text, what):
    for line in reversed(text.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError("%s printed no JSON line:\n%s" % (what, text))


def run(cmd, what, env=None, cwd=None):
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd)
    if p.returncode != 0:
        raise RuntimeError("%s failed (exit %d): %s\n%s" % (
            what, p.returncode, " ".join(cmd), p.stderr.strip()[-2000:]))
    return last_json(p.stdout, what)


def measure(engine, arch, batch, args, onnx_path, pth_path):
    h, w = args.size
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    if engine.startswith("vggcore"):
        cmd = [os.path.join(args.build, "vggcore", "tools", "vgg-bench"),
               "--model", pth_path, "--batch", str(batch),
               "--threads", str(args.threads), "--iters", str(args.iters),
               "--size", "%dx%d" % (h, w)]
        if engine == "vggcore-bf16":
            cmd += ["--precision", "bf16"]
        r = run(cmd, engine)
        return {"min": r["ms_per_batch_min"],
                "median": r["ms_per_batch_median"],
                "rss": r["peak_rss_mb"], "kernels": r.get("kernels")}
    if engine == "onnxruntime":
        r = run(["node", os.path.join(HERE, "ort", "ort-bench.js"), onnx_path,
                 str(batch), str(args.threads), str(args.iters), str(h),
                 str(w)], engine, env=env)
    else:
        r = run([sys.executable, os.path.abspath(__file__), "--worker", engine,
                 "--arch", arch, "--batch", str(batch),
                 "--threads", str(args.threads), "--iters", str(args.iters),
                 "--size", "%dx%d" % (h, w)], engine, env=env)
    t = r["ms_per_batch"]
    return {"min": min(t), "median": statistics.median(t),
            "rss": r["peak_rss_mb"], "version": r.get("version")}


def parse_size(s):
    h, w = s.lower().split("x")
    return int(h), int(w)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=os.path.join(HERE, "..", "build"))
    ap.add_argument("--arch", default="vgg16")
    ap.add_argument("--batch", default="1,8")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--engines", default=",".join(ENGINES))
    ap.add_argument("--size", type=parse_size, default=(224, 224))
    ap.add_argument("--json")
    ap.add_argument("--out")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--file-out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        args.batch = int(args.batch.split(",")[0])
        return worker(args)

    archs = args.arch.split(",")
    batches = [int(b) for b in args.batch.split(",")]
    engines = args.engines.split(",")
    bench = os.path.join(args.build, "vggcore", "tools", "vgg-bench")
    if "vggcore-bf16" in engines and "--precision" not in subprocess.run(
            [bench, "--help"], capture_output=True, text=True).stdout:
        print("vggcore-bf16: this vgg-bench has no --precision, not run")
        engines.remove("vggcore-bf16")
    peak = run([os.path.join(args.build, "bench", "vgg-peak")], "vgg-peak")
    macs = {}
    for arch in archs:
        out = subprocess.run([os.path.join(args.build, "vggcore", "tools",
                                           "vgg-inspect"), "--arch", arch,
                              "--size", "%dx%d" % args.size],
                             capture_output=True, text=True, check=True).stdout
        macs[arch] = int(out.split("macs at ")[1].split(": ")[1].split()[0])
    if "onnxruntime" in engines and not os.path.isdir(
            os.path.join(HERE, "ort", "node_modules", "onnxruntime-node")):
        try:
            subprocess.run(["npm", "install", "--ignore-scripts",
                            "--no-audit", "--no-fund"],
                           cwd=os.path.join(HERE, "ort"), check=True)
        except (OSError, subprocess.CalledProcessError) as e:
            print("onnxruntime: npm install failed (%s), not run" % e)
            engines.remove("onnxruntime")
    pth = {}
    for arch in archs:
        # the weights every engine runs (torch_model's seed), as a file
        pth[arch] = os.path.join(HERE, "out", "%s.pth" % arch)
        if any(e.startswith("vggcore") for e in engines) and not \
                os.path.exists(pth[arch]):
            os.makedirs(os.path.join(HERE, "out"), exist_ok=True)
            subprocess.run([sys.executable, os.path.abspath(__file__),
                            "--worker", "save", "--arch", arch,
                            "--file-out", pth[arch]], check=True)
    onnx = {}
    if "onnxruntime" in engines:
        os.makedirs(os.path.join(HERE, "out"), exist_ok=True)
        for arch in archs:
            onnx[arch] = os.path.join(HERE, "out", "%s-%dx%d.onnx" % (
                (arch,) + args.size))
            if not os.path.exists(onnx[arch]):
                subprocess.run([sys.executable, os.path.abspath(__file__),
                                "--worker", "export", "--arch", arch,
                                "--size", "%dx%d" % args.size,
                                "--file-out", onnx[arch]], check=True)

    results = {}
    for rnd in range(args.rounds):
        for arch in archs:
            for batch in batches:
                # alternate the order each round
                order = engines if rnd % 2 == 0 else engines[::-1]
                for engine in order:
                    r = measure(engine, arch, batch, args, onnx.get(arch),
                                pth[arch])
                    results.setdefault((arch, batch, engine), []).append(r)
                    print("round %d %s batch %d %-13s %8.1f ms/batch (min) "
                          "%8.1f (median)" % (rnd + 1, arch, batch, engine,
                                              r["min"], r["median"]),
                          flush=True)

    pk = peak["per_core_gflops"]
    print()
    print("cpu: %s; vggcore kernels: %s; %d threads, %d rounds of %d passes"
          % (peak["cpu"], peak["kernels"], args.threads, args.rounds,
             args.iters))
    print("per-core peaks GFLOP/s: " + ", ".join(
        "%s %s" % (k, v) for k, v in pk.items()))
    summary = []
    for arch in archs:
        for batch in batches:
            print("\n%s, batch %d, %dx%d:" % ((arch, batch) + args.size))
            print("  %-13s %10s %10s %9s %11s %8s" % (
                "engine", "best img/s", "med img/s", "GFLOP/s", "peak RSS MB",
                "vs fp32 peers"))
            rows = []
            for engine in engines:
                rs = results[(arch, batch, engine)]
                best = batch * 1000.0 / min(r["min"] for r in rs)
                med = batch * 1000.0 / statistics.median(r["median"]
                                                         for r in rs)
                rows.append({"arch": arch, "batch": batch, "engine": engine,
                             "best_img_per_s": round(best, 3),
                             "median_img_per_s": round(med, 3),
                             "gflops": round(2 * macs[arch] * best / 1e9, 1),
                             "peak_rss_mb": round(max(r["rss"] for r in rs),
                                                  1)})
            peers = [r["best_img_per_s"] for r in rows
                     if r["engine"] in ("pytorch-fp32", "onnxruntime")]
            for r in rows:
                r["vs_best_fp32_peer"] = round(r["best_img_per_s"] / max(peers), 3) \
                    if peers else None
                print("  %-13s %10.2f %10.2f %9.1f %11.1f %8s" % (
                    r["engine"], r["best_img_per_s"], r["median_img_per_s"],
                    r["gflops"], r["peak_rss_mb"],
                    "%.2fx" % r["vs_best_fp32_peer"] if peers else "-"))
            summary += rows
    result = {"cpu": peak["cpu"], "kernels": peak["kernels"],
              "peaks_per_core_gflops": pk, "threads": args.threads,
              "rounds": args.rounds, "iters": args.iters,
              "date": time.strftime("%Y-%m-%d"),
              "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE"),
              "command": " ".join(["/usr/bin/python3", "bench/compare.py"] +
                                  sys.argv[1:]),
              "results": summary}
    line = json.dumps(result)
    print(line)
    if args.json:
        with open(args.json, "w") as f:
            f.write(line + "\n")
    if args.out:
        write_report(args.out, result, engines)
    return 0


def write_report(out, result, engines):
    """report.md (a table per run) and report.png (best img/s)."""
    os.makedirs(out, exist_ok=True)
    pk = result["peaks_per_core_gflops"]
    lines = [
        "Measured %s on %s, kernel level %s, %d threads, %d rounds of %d "
        "passes (engines alternating); OPENBLAS_CORETYPE=%s." % (
            result["date"], result["cpu"], result["kernels"],
            result["threads"], result["rounds"], result["iters"],
            result["openblas_coretype"] or "(unset)"),
        "Per-core peaks (bench/vgg-peak), GFLOP/s: " + ", ".join(
            "%s %s" % (k, "n/a" if v is None else v) for k, v in pk.items())
        + ".", "",
        "| arch | batch | engine | best img/s | median img/s | effective "
        "GFLOP/s | peak RSS MB | vs faster fp32 peer |",
        "|---|---:|---|---:|---:|---:|---:|---:|"]
    for r in result["results"]:
        ratio = r["vs_best_fp32_peer"]
        bold = r["engine"].startswith("vggcore")
        lines.append("| %s | %d | %s | %.2f | %.2f | %.0f | %.0f | %s |" % (
            r["arch"], r["batch"], r["engine"], r["best_img_per_s"],
            r["median_img_per_s"], r["gflops"], r["peak_rss_mb"],
            "-" if ratio is None else
            ("**%.2fx**" if bold else "%.2fx") % ratio))
    lines += ["", "Command: `%s`" % result["command"]]
    with open(os.path.join(out, "report.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    runs = sorted({(r["arch"], r["batch"]) for r in result["results"]},
                  key=lambda ab: (ab[0], ab[1]))
    fig, ax = plt.subplots(figsize=(2 + 1.6 * len(runs), 4))
    width = 0.8 / len(engines)
    for k, engine in enumerate(engines):
        vals = [next(r["best_img_per_s"] for r in result["results"]
                     if (r["arch"], r["batch"], r["engine"]) ==
                     (a, b, engine)) for a, b in runs]
        ax.bar([i + k * width for i in range(len(runs))], vals, width,
               label=engine)
    ax.set_xticks([i + width * (len(engines) - 1) / 2
                   for i in range(len(runs))])
    ax.set_xticklabels(["%s\nbatch %d" % ab for ab in runs])
    ax.set_ylabel("images/s (best)")
    ax.set_title("%s, %d threads" % (result["cpu"], result["threads"]))
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "report.png"), dpi=80)


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""Model files through the command-line tools: architecture inference from
torchvision's and timm's tensor names, metadata, and the errors for files
that are well-formed safetensors but not a VGG the engine can run.

usage: test_model_files.py --tools BUILD/vggcore/tools --workdir DIR
"""

import argparse
import os
import shlex
import subprocess
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vggtorch  # noqa: E402

# A command that runs the engine's tools (e.g. valgrind in the valgrind
# test setup), and how much longer they may then take.
TEST_WRAPPER = shlex.split(os.environ.get("VGG_TEST_WRAPPER", ""))
TIMEOUT_FACTOR = 50 if TEST_WRAPPER else 1

passed = failed = 0


def check(cond, what, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print("ok   %s" % what)
    else:
        failed += 1
        print("FAIL %s %s" % (what, detail))


def run(tool, *args):
    p = subprocess.run(TEST_WRAPPER + [tool] + [str(a) for a in args],
                       capture_output=True, text=True,
                       timeout=300 * TIMEOUT_FACTOR)
    return p.returncode, p.stdout, p.stderr


def small_vgg11(seed=7, bn=False):
    m = vggtorch.make_vgg("vgg11_bn" if bn else "vgg11", 8, num_classes=5,
                          seed=seed)
    return m, {k: v.clone() for k, v in m.state_dict().items()}


def engine_logits(tools, work, name, sd, x, metadata=None, layer="logits"):
    path = os.path.join(work, name + ".safetensors")
    vggtorch.save_safetensors(path, sd, metadata)
    np.save(os.path.join(work, "in.npy"), x.numpy())
    rc, out, err = run(os.path.join(tools, "vgg-run"), "--model", path,
                       "--input", os.path.join(work, "in.npy"), "--output",
                       os.path.join(work, "out.npy"), "--layer", layer)
    if rc != 0:
        return None, err
    return np.load(os.path.join(work, "out.npy")), err


def test_timm_names(tools, work):
    """timm's VGG keeps features.N but names the classifier pre_logits.fc1
    (a 7x7 convolution), pre_logits.fc2 (1x1) and head.fc: at 224x224 the
    same weights must give torchvision's logits."""
    model, sd = small_vgg11(seed=11)
    timm = {}
    for k, v in sd.items():
        if k.startswith("classifier.0."):
            k = k.replace("classifier.0.", "pre_logits.fc1.")
            v = v.reshape(v.shape[0], -1, 7, 7) if v.dim() == 2 else v
        elif k.startswith("classifier.3."):
            k = k.replace("classifier.3.", "pre_logits.fc2.")
            v = v.reshape(v.shape[0], v.shape[1], 1, 1) if v.dim() == 2 else v
        elif k.startswith("classifier.6."):
            k = k.replace("classifier.6.", "head.fc.")
        timm[k] = v
    x = torch.from_numpy(np.random.default_rng(3).standard_normal(
        (2, 3, 224, 224), dtype=np.float32))
    with torch.no_grad():
        want = model(x).numpy()
    got, err = engine_logits(tools, work, "timm", timm, x)
    ok = got is not None and np.max(np.abs(got - want)) <= 1e-4 * np.max(
        np.abs(want))
    check(ok, "timm names give torchvision's logits",
          err if got is None else "max diff %g" % np.max(np.abs(got - want)))


def test_inspect_metadata(tools, work):
    _, sd = small_vgg11(seed=12, bn=True)
    meta = {"vgg.labels": "a\nb\nc\nd\ne\n", "vgg.mean": "0.5,0.25, 0.125",
            "vgg.std": "0.2,0.3,0.4", "vgg.input_size": "64x96",
            "vgg.name": "tiny-test"}
    path = os.path.join(work, "meta.safetensors")
    vggtorch.save_safetensors(path, sd, meta)
    rc, out, err = run(os.path.join(tools, "vgg-inspect"), path)
    check(rc == 0, "vgg-inspect reads a model with metadata", err)
    lines = out.splitlines()
    check("name: tiny-test" in lines, "name from vgg.name", out)
    check("input size: 64x96 (HxW)" in lines, "input size HxW", out)
    check("labels: 5 (a, b, c, d, e)" in lines, "labels", out)
    check("normalization: mean 0.5,0.25,0.125 std 0.2,0.3,0.4 (from the file)"
          in lines, "mean/std", out)
    convs = [ln for ln in lines if "conv3x3" in ln]
    check(len(convs) == 8 and all("+batch-norm(folded)" in c for c in convs),
          "8 convolutions with folded batch-norm", "\n".join(convs))
    check("outputs: pool5=3136 fc6=512 fc7=512 logits=5" in lines,
          "output sizes", out)


def test_vgg_inspect_published_counts(tools):
    """torchvision publishes 132.9M parameters / 7.61 GMACs for vgg11 and
    143.7M / 19.63 GMACs for vgg19_bn; vgg-inspect must print the same."""
    for arch, params, macs in (("vgg11", "132.9M", "7.61G"),
                               ("vgg16", "138.4M", "15.47G"),
                               ("vgg19_bn", "143.7M", "19.63G")):
        rc, out, err = run(os.path.join(tools, "vgg-inspect"), "--arch", arch)
        check(rc == 0 and "(%s)" % params in out and "(%s)" % macs in out
              and "architecture: %s" % arch in out,
              "vgg-inspect --arch %s: %s parameters, %s MACs" % (arch, params,
                                                                 macs), out)


def expect_error(tools, work, name, sd, phrase, metadata=None):
    path = os.path.join(work, name + ".safetensors")
    vggtorch.save_safetensors(path, sd, metadata)
    rc, out, err = run(os.path.join(tools, "vgg-inspect"), path)
    check(rc != 0 and path in err and phrase in err,
          "%s: refused with \"%s\"" % (name, phrase),
          "rc %d, stderr: %s" % (rc, err.strip()))


def test_errors(tools, work):
    _, sd = small_vgg11(seed=13, bn=True)

    bad = dict(sd)
    del bad["features.4.bias"]
    expect_error(tools, work, "missing-bias", bad,
                 'missing tensor "features.4.bias"')

    bad = dict(sd)
    del bad["features.1.running_var"]
    expect_error(tools, work, "missing-running-var", bad,
                 'missing tensor "features.1.running_var"')

    bad = dict(sd)
    bad["classifier.3.bias"] = torch.zeros(7)
    expect_error(tools, work, "wrong-bias-shape", bad,
                 'tensor "classifier.3.bias" has shape [7]; expected [512]')

    bad = dict(sd)
    bad["features.0.weight"] = torch.zeros(8, 3, 5, 5)
    expect_error(tools, work, "conv5x5", bad,
                 'tensor "features.0.weight" has shape [8, 3, 5, 5]; '
                 'expected [*, *, 3, 3]')

    bad = dict(sd)
    bad["features.0.weight"] = torch.zeros(8, 3, 3, 3, dtype=torch.int64)
    expect_error(tools, work, "int-weights", bad,
                 'tensor "features.0.weight" has dtype I64')

    bad = dict(sd)
    bad["features.4.weight"] = torch.zeros(16, 9, 3, 3)
    expect_error(tools, work, "channel-chain", bad,
                 "convolution features.4 takes 9 input channels but "
                 "receives 8")

    bad = dict(sd)
    bad["classifier.0.weight"] = torch.zeros(512, 100)
    expect_error(tools, work, "classifier-input", bad,
                 "linear layer classifier.0 takes 100 inputs but receives "
                 "3136 (64 channels x 7 x 7)")

    bad = {k: v for k, v in sd.items() if not k.startswith("classifier.")}
    expect_error(tools, work, "no-classifier", bad, "no classifier tensors")

    bad = {k: v for k, v in sd.items() if not k.startswith("features.")}
    expect_error(tools, work, "no-features", bad,
                 'no convolution weights "features.N.weight"')

    expect_error(tools, work, "labels-count", sd, "has 2 labels but the "
                 "model has 5 classes", {"vgg.labels": "x\ny\n"})
    expect_error(tools, work, "bad-mean", sd, 'vgg.mean "0.5,oops,1" is not',
                 {"vgg.mean": "0.5,oops,1"})
    expect_error(tools, work, "zero-std", sd, "vgg.std", {"vgg.std": "1,0,1"})
    expect_error(tools, work, "bad-size", sd, 'vgg.input_size "16x16"',
                 {"vgg.input_size": "16x16"})


def test_vgg_run_errors(tools, work):
    _, sd = small_vgg11(seed=14)
    model = os.path.join(work, "ok.safetensors")
    vggtorch.save_safetensors(model, sd)
    vgg_run = os.path.join(tools, "vgg-run")
    bad_shape = os.path.join(work, "bad-shape.npy")
    np.save(bad_shape, np.zeros((2, 4, 40, 40), np.float32))
    f64 = os.path.join(work, "f64.npy")
    np.save(f64, np.zeros((1, 3, 40, 40), np.float64))
    out = os.path.join(work, "out.npy")
    for args, phrase in (
            (["--input", bad_shape], "shape must be (N, 3, H, W)"),
            (["--input", f64], "not little-endian float32"),
            (["--input", os.path.join(work, "nope.npy")],
             "No such file or directory"),
            (["--input", bad_shape, "--layer", "fc9"], "--layer fc9")):
        rc, _, err = run(vgg_run, "--model", model, "--output", out, *args)
        check(rc != 0 and phrase in err, "vgg-run refuses with \"%s\"" %
              phrase, err.strip())


def test_tools_refuse_fifos(tools, work):
    """A FIFO nobody writes to, as model, labels or input: refused at once
    (a blocking open(2) would wait forever; the timeout fails the check)."""
    _, sd = small_vgg11(seed=15)
    model = os.path.join(work, "fifo-ok.safetensors")
    vggtorch.save_safetensors(model, sd)
    fifo = os.path.join(work, "nobody-writes.fifo")
    if os.path.exists(fifo):
        os.unlink(fifo)
    os.mkfifo(fifo)
    out = os.path.join(work, "fifo-out.npy")
    for tool, args in (
            ("vgg-inspect", [fifo]),
            ("vgg-run", ["--model", fifo, "--input", fifo, "--output", out]),
            ("vgg-run", ["--model", model, "--input", fifo, "--output", out]),
            ("vgg-convert", [fifo, out + ".safetensors"]),
            ("vgg-convert", [model, out + ".safetensors", "--labels", fifo])):
        what = "%s %s refuses the FIFO" % (tool, " ".join(
            os.path.basename(a) for a in args))
        try:
            p = subprocess.run(
                TEST_WRAPPER + [os.path.join(tools, tool)] + args,
                capture_output=True, text=True, timeout=20 * TIMEOUT_FACTOR)
        except subprocess.TimeoutExpired:
            check(False, what, "blocked for %d s" % (20 * TIMEOUT_FACTOR))
            continue
        check(p.returncode != 0 and "not a regular file (a FIFO)" in p.stderr,
              what, p.stderr.strip())
    os.unlink(fifo)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tools", required=True)
    ap.add_argument("--workdir", required=True)
    args = ap.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    torch.manual_seed(0)
    test_timm_names(args.tools, args.workdir)
    test_inspect_metadata(args.tools, args.workdir)
    test_vgg_inspect_published_counts(args.tools)
    test_errors(args.tools, args.workdir)
    test_vgg_run_errors(args.tools, args.workdir)
    test_tools_refuse_fifos(args.tools, args.workdir)
    print("model-files: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

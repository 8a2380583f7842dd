#!/usr/bin/python3
"""Parity of vggcore (through vgg-run) with torchvision.

usage: test_parity.py --vgg-run PATH --workdir DIR [--full] [--only REGEX]
                      [--keep] [--isa LEVEL[,LEVEL...]]

--isa runs every comparison at each of the kernel levels listed (VGG_ISA=
generic, avx2, avx512, ...; `best`, the default, is the CPU's own level):
each model and its torchvision reference are made once for all levels.
The test first checks with `vgg-inspect --cpu` (beside vgg-run) that the
engine really runs each level; a level the CPU lacks is named ("LEVEL: not
on this CPU") and left out, never counted as passed, and one that is the
CPU's best level runs once.  When no listed level runs, the test exits 77
(meson's skip), passing nothing.

Files (model, input .npy, output .npy) are written in DIR; those of
passing cases are deleted afterwards, those of failing ones kept (full-size
models always deleted) unless --keep.

For VGG models with random weights built by torchvision itself (see
vggtorch.py), saved as safetensors, the outputs of `vgg-run` must match
torchvision's forward pass in float32:

    max |engine - torch| <= 1e-4 * max |torch|     (over the whole output)

and, for logits and probs, the top-5 class indices of every image must be
the same and in the same order.  (A swap between two classes whose torch
scores differ by less than the tolerance is reported as a tie and accepted:
the tolerance itself allows it.)

F16/BF16 files are compared with torch run on the weights rounded to that
dtype and cast back to float32, with the same tolerance.

Cases: the eight torchvision architectures at width/8 at 224x224 and
200x256 (H x W), batch 2; every output layer (logits, probs, fc7, fc6,
pool5) for one batch-norm and one plain architecture; a replaced last layer
(37 classes); a custom configuration at 64x80 and 40x48; F16 and BF16
files; a few odd sizes and batch sizes; with --full, full-size vgg16 and
vgg19_bn at 224x224 (files of ~550 MB written in the workdir and deleted);
under the sanitizers (VGG_TEST_INSTRUMENTED) those run at the first level
only.

Prints one line per comparison and ends with `parity: N passed, M failed`;
exits 1 if anything failed.  Run with /usr/bin/python3.
"""

import argparse
import copy
import os
import re
import shlex
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vggtorch  # noqa: E402

RTOL = 1e-4
THREADS = 2
# A command that runs the engine's tools (e.g. valgrind in the valgrind
# test setup), and how much longer they may then take.
TEST_WRAPPER = shlex.split(os.environ.get("VGG_TEST_WRAPPER", ""))
TIMEOUT_FACTOR = 50 if TEST_WRAPPER else 1
ALL_LAYERS = ["logits", "probs", "fc7", "fc6", "pool5"]
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


class Case:
    """One model file (arch, width, dtype) run on one or more inputs."""

    def __init__(self, name, build, seed, dtype="F32", sizes=((224, 224),),
                 batch=2, layers=("logits",), big=False):
        self.name = name          # printed label, also the file name
        self.build = build        # () -> eval() torch model
        self.seed = seed
        self.dtype = dtype
        self.sizes = sizes        # (H, W) pairs
        self.batch = batch
        self.layers = layers
        self.big = big            # delete the file afterwards


def _arch_builder(arch, div, seed, num_classes=1000):
    return lambda: vggtorch.make_vgg(arch, div, num_classes=num_classes,
                                     seed=seed)


def _replaced_head(seed):
    def build():
        m = vggtorch.make_vgg("vgg16", 8, seed=seed)
        # the common fine-tuning pattern: a new last layer
        m.classifier[6] = nn.Linear(4096 // 8, 37)
        vggtorch.randomize_(m, seed)
        return m.eval()
    return build


CUSTOM_CFG = [16, "M", 24, 24, "M", 40, "M"]


def _custom(seed):
    return lambda: vggtorch.make_vgg_custom(CUSTOM_CFG, batch_norm=True,
                                            hidden=(64, 48), num_classes=10,
                                            seed=seed)


def make_cases(full):
    cases = []
    both = ((224, 224), (200, 256))
    for i, arch in enumerate(vggtorch.ARCHS):
        layers = ALL_LAYERS if arch in ("vgg11_bn", "vgg16") else ("logits",)
        cases.append(Case("%s-w8" % arch, _arch_builder(arch, 8, 100 + i),
                          100 + i, sizes=both, layers=layers))
    cases.append(Case("vgg16-w8-head37", _replaced_head(200), 200,
                      layers=("logits", "probs", "fc7")))
    cases.append(Case("custom-bn", _custom(201), 201,
                      sizes=((64, 80), (40, 48)), layers=ALL_LAYERS))
    for j, dt in enumerate(("F16", "BF16")):
        for k, arch in enumerate(("vgg11_bn", "vgg16")):
            seed = 300 + 10 * j + k
            cases.append(Case("%s-w8-%s" % (arch, dt.lower()),
                              _arch_builder(arch, 8, seed), seed, dtype=dt,
                              layers=("logits", "pool5")))
    # odd sizes and batch sizes: 1x1 maps before the adaptive pool, odd
    # maps floored by max-pooling, batch 1 and 3
    cases.append(Case("vgg11-w8-tiny", _arch_builder("vgg11", 8, 400), 400,
                      sizes=((32, 48),), layers=("logits", "pool5")))
    cases.append(Case("vgg13_bn-w8-odd", _arch_builder("vgg13_bn", 8, 401),
                      401, sizes=((225, 199),), batch=3,
                      layers=("logits", "pool5")))
    cases.append(Case("vgg19-w8-b1", _arch_builder("vgg19", 8, 402), 402,
                      batch=1))
    if full:
        cases.append(Case("vgg16-full", _arch_builder("vgg16", 1, 500), 500,
                          big=True, layers=("logits", "fc7")))
        cases.append(Case("vgg19_bn-full", _arch_builder("vgg19_bn", 1, 501),
                          501, big=True, layers=("logits", "fc7")))
    return cases


def make_input(seed, n, h, w):
    """An 'image' in [0,1] normalized with ImageNet mean/std, NCHW f32."""
    rng = np.random.default_rng(seed)
    img = rng.random((n, h, w, 3), dtype=np.float32)
    img = (img - IMAGENET_MEAN) / IMAGENET_STD
    return np.ascontiguousarray(img.transpose(0, 3, 1, 2), dtype=np.float32)


def top5(row):
    return list(np.argsort(-row, kind="stable")[:5])


def compare(a, b, check_top5):
    """Returns (ok, maxdiff, maxb, note)."""
    if a.shape != b.shape:
        return False, float("nan"), float("nan"), \
            "shape %s, expected %s" % (a.shape, b.shape)
    if not np.all(np.isfinite(a)):
        return False, float("nan"), float("nan"), "non-finite values"
    a64 = a.astype(np.float64)
    b64 = b.astype(np.float64)
    maxdiff = float(np.abs(a64 - b64).max())
    maxb = float(np.abs(b64).max())
    tol = RTOL * maxb
    ok = maxdiff <= tol
    notes = []
    if not ok:
        notes.append("over tolerance %.3g" % tol)
    if check_top5:
        for i in range(b.shape[0]):
            ta, tb = top5(a64[i]), top5(b64[i])
            if ta == tb:
                continue
            # accept a reordering only among torch scores within tol
            tie = np.all(np.abs(np.sort(b64[i][ta])[::-1] -
                                b64[i][tb]) <= tol)
            if tie:
                notes.append("image %d top-5 tie within tolerance: "
                             "engine %s torch %s" % (i, ta, tb))
            else:
                ok = False
                notes.append("image %d top-5 engine %s torch %s" %
                             (i, ta, tb))
    return ok, maxdiff, maxb, "; ".join(notes)


def run_engine(vgg_run, model_path, in_path, out_path, layer, isa=None):
    """Runs vgg-run at kernel level isa (VGG_ISA; None: as the environment
    says) and returns (output, error, seconds)."""
    if os.path.exists(out_path):
        os.unlink(out_path)
    cmd = TEST_WRAPPER + [
        vgg_run, "--model", model_path, "--input", in_path,
        "--output", out_path, "--layer", layer, "--threads", str(THREADS)]
    env = dict(os.environ, VGG_ISA=isa) if isa else None
    t0 = time.monotonic()
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env=env,
                           timeout=600 * TIMEOUT_FACTOR)
    except subprocess.TimeoutExpired:
        return None, "timed out: %s" % " ".join(cmd), 0.0
    dt = time.monotonic() - t0
    if p.returncode != 0:
        err = (p.stderr.decode(errors="replace").strip() or
               p.stdout.decode(errors="replace").strip())
        return None, "exit %d: %s (%s)" % (p.returncode, err,
                                            " ".join(cmd)), dt
    try:
        out = np.load(out_path)
    except Exception as e:  # noqa: BLE001
        return None, "cannot read %s: %s" % (out_path, e), dt
    if out.dtype != np.float32:
        return None, "output dtype %s, expected float32" % out.dtype, dt
    return out, "", dt


def engine_level(vgg_run, isa=None):
    """The kernel level the engine runs with VGG_ISA=isa (None: unset), as
    `vgg-inspect --cpu` prints it, after printing what it says."""
    inspect = os.path.join(os.path.dirname(vgg_run), "vgg-inspect")
    env = dict(os.environ)
    env.pop("VGG_ISA", None)
    if isa:
        env["VGG_ISA"] = isa
    # through the wrapper: valgrind's CPU has fewer instruction sets
    info = subprocess.run(TEST_WRAPPER + [inspect, "--cpu"],
                          capture_output=True, text=True, check=True,
                          env=env).stdout
    print(info.strip())
    return re.search(r"^kernels: (\S+)", info, re.M).group(1)


def select_isa(vgg_run, isa):
    """Sets VGG_ISA=isa for the engine's tools; False (having said so) when
    the engine then runs another level: the CPU lacks this one."""
    level = engine_level(vgg_run, isa)
    os.environ["VGG_ISA"] = isa
    if level != isa:
        print("%s: not on this CPU (the engine runs %s), not run" %
              (isa, level))
        return False
    return True


def select_levels(vgg_run, isas):
    """([(level, VGG_ISA value)], [level not run]): each distinct level of
    the list that the engine runs here, and those it does not, named as it
    goes; "best", the CPU's own level, runs with VGG_ISA unset."""
    levels, not_run = [], []
    for isa in isas:
        isa = None if isa == "best" else isa
        level = engine_level(vgg_run, isa)
        if isa and level != isa:
            print("%s: not on this CPU (the engine runs %s), not run" %
                  (isa, level))
            not_run.append(isa)
        elif level in [name for name, _ in levels]:
            print("%s: listed twice (or as the CPU's best level), run once" %
                  level)
        else:
            levels.append((level, isa))
    return levels, not_run


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--vgg-run", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--full", action="store_true",
                    help="also full-size vgg16 and vgg19_bn")
    ap.add_argument("--only", default=None,
                    help="run only the cases whose name matches this regex")
    ap.add_argument("--isa", default="best",
                    help="run the engine at each of these kernel levels "
                    "(comma-separated VGG_ISA values; best: the CPU's own)")
    ap.add_argument("--keep", action="store_true",
                    help="keep all model, input and output files (by "
                    "default only those of failed cases are kept, "
                    "full-size models never)")
    args = ap.parse_args()

    torch.set_num_threads(THREADS)
    vgg_run = os.path.abspath(args.vgg_run)
    if not os.access(vgg_run, os.X_OK):
        print("parity: %s is not an executable" % vgg_run)
        print("parity: 0 passed, 1 failed")
        return 1
    os.makedirs(args.workdir, exist_ok=True)
    if os.environ.pop("VGG_ISA", None) is not None:
        print("VGG_ISA of the environment ignored: the levels come from "
              "--isa (%s)" % args.isa)
    levels, not_run = select_levels(vgg_run, args.isa.split(","))
    if not levels:
        return 77
    print("kernel levels: %s" % ", ".join(name for name, _ in levels))

    # the valgrind test setup leaves the full-size models out (hours)
    full = args.full and os.environ.get("VGG_TEST_FULL_PARITY", "1") != "0"
    if args.full and not full:
        print("full-size models skipped: VGG_TEST_FULL_PARITY=0")
    # the full-size runs at more levels under a sanitizer would add many
    # minutes to CI for code the native runs already cover
    big_levels = levels[:1] if os.environ.get("VGG_TEST_INSTRUMENTED") \
        else levels
    cases = make_cases(full)
    if args.only:
        cases = [c for c in cases if re.search(args.only, c.name)]
    print("torch %s, %d threads, tolerance max|a-b| <= %g * max|b|" %
          (torch.__version__, THREADS, RTOL))
    passed, failed = 0, []
    for case in cases:
        t0 = time.monotonic()
        model = case.build().eval()
        path = os.path.join(args.workdir, case.name + ".safetensors")
        sd = model.state_dict()
        vggtorch.save_safetensors(path, sd, {"format": "pt",
                                             "vgg.name": case.name},
                                  dtype=case.dtype)
        if case.dtype != "F32":
            ref_model = copy.deepcopy(model)
            ref_model.load_state_dict(vggtorch.round_state_dict(sd,
                                                                case.dtype))
            ref_model.eval()
        else:
            ref_model = model
        print("# %s: %s, %.1f MB, built in %.1f s" %
              (case.name, case.dtype, os.path.getsize(path) / 1e6,
               time.monotonic() - t0))
        sys.stdout.flush()
        case_files = [path]
        case_failed = False
        for si, (h, w) in enumerate(case.sizes):
            x = make_input(case.seed * 10 + si, case.batch, h, w)
            in_path = os.path.join(args.workdir, "%s-%dx%d-in.npy" %
                                   (case.name, h, w))
            np.save(in_path, x)
            case_files.append(in_path)
            with torch.no_grad():
                ref = vggtorch.classifier_outputs(ref_model,
                                                  torch.from_numpy(x))
            for layer, (level, isa) in [(layer, lv)
                                        for layer in case.layers
                                        for lv in (big_levels if case.big
                                                   else levels)]:
                b = ref[layer].numpy().astype(np.float32)
                out_path = os.path.join(args.workdir, "%s-%dx%d-%s-%s.npy" %
                                        (case.name, h, w, layer, level))
                case_files.append(out_path)
                a, err, dt = run_engine(vgg_run, path, in_path, out_path,
                                        layer, isa)
                label = "%-22s %-4s %3dx%-3d n=%d %-6s %-10s" % (
                    case.name, case.dtype, h, w, case.batch, layer, level)
                if a is None:
                    ok, maxdiff, maxb, note = False, float("nan"), \
                        float("nan"), err
                else:
                    ok, maxdiff, maxb, note = compare(
                        a, b, layer in ("logits", "probs"))
                ratio = maxdiff / maxb if maxb > 0 else float("nan")
                print("%s %s maxdiff %.3e max|b| %.3e ratio %.2e %.2fs%s" %
                      ("PASS" if ok else "FAIL", label, maxdiff, maxb, ratio,
                       dt, ("  [" + note + "]") if note else ""))
                sys.stdout.flush()
                if ok:
                    passed += 1
                else:
                    case_failed = True
                    failed.append("%s (file %s, input %s, layer %s, "
                                  "VGG_ISA=%s, seed %d): %s" % (
                                      label.strip(), path, in_path, layer,
                                      isa or "unset", case.seed, note))
        # keep the files of failed cases to reproduce them (except the
        # full-size models), unless --keep keeps everything
        if not args.keep and (case.big or not case_failed):
            for p in case_files:
                if os.path.exists(p):
                    os.unlink(p)
        del model, ref_model, sd

    if failed:
        print("failed:")
        for f in failed:
            print("  " + f)
    print("parity: %d passed, %d failed%s" % (
        passed, len(failed),
        "; not run (not on this CPU): " + ", ".join(not_run)
        if not_run else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

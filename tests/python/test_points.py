#!/usr/bin/python3
"""Any layer's activation: vgg-run --layer NAME --pooling P against
torchvision's `model.features[:N+1](x)`.

usage: test_points.py --vgg-run PATH --workdir DIR [--isa LEVEL]
                      [--only REGEX] [--keep]

For the eight torchvision architectures at width/8 (vggtorch.make_vgg,
random weights made by torchvision, saved as safetensors), batch 2 at
224x224 and 97x131 (H x W: odd, floored by every max pool, still large
enough for five), a set of points covering every module kind of
torchvision's `features`:

    the first convolution before ReLU (conv1_1 of a plain model, the
    batch-norm module features.1 of a _bn one: the convolution with
    batch-norm folded in), a ReLU (relu2_1), every max pool (pool1..pool4
    by name, the fifth by features.N), the last ReLU (relu5_3 / relu5_4),
    and pool5 (the classifier's input)

each read with --pooling none, avg and max, must match torch's module
output flattened (none), its mean or its amax over H x W:

    max |engine - torch| <= 1e-4 * max |torch|     (as test_parity.py)

and the default pooling (no --pooling, checked at 97x131 on relu2_1 and
pool5) is avg for a conv-stage point and none for pool5.

The names: every name and alias that `vgg-inspect FILE` lists for the
torchvision file must be where torchvision's cfgs put it (reluB_C, poolB,
convB_C for plain models, features.N of each module); relu3_4 is refused
by vgg16 and accepted by vgg19; a _bn model refuses its convolution's own
module (features.K, convB_C) naming features.K+1 and K+2 instead; an
unknown name's message lists the model's valid names; a classifier of two
linear layers refuses fc7.  A custom configuration (16, M, 24, 24, M, 40,
M), plain and _bn, at 40x48: every readable module by its block name or
features.N, with none or max pooling.

Prints one line per comparison and ends with `points: N passed, M
failed`; exits 1 if anything failed.  Run with /usr/bin/python3.
"""

import argparse
import os
import re
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn as nn
from torchvision.models.vgg import cfgs

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vggtorch  # noqa: E402
from test_parity import (RTOL, TEST_WRAPPER, TIMEOUT_FACTOR,  # noqa: E402
                         compare, make_input, select_isa)

THREADS = 2
SIZES = ((224, 224), (97, 131))
POOLINGS = ("none", "avg", "max")


def torch_modules(arch):
    """[(features index, kind, alias)] of torchvision's make_layers for
    arch: kind conv, bn, relu or pool; alias reluB_C, convB_C (plain only),
    poolB (not pool5), or None."""
    key, bn = vggtorch.ARCH_CFG[arch]
    out, idx, block, conv = [], 0, 1, 0
    for v in cfgs[key]:
        if v == "M":
            out.append((idx, "pool", "pool%d" % block if block != 5
                        else None))
            idx += 1
            block += 1
            conv = 0
            continue
        conv += 1
        out.append((idx, "conv", None if bn else "conv%d_%d" % (block, conv)))
        idx += 1
        if bn:
            out.append((idx, "bn", None))
            idx += 1
        out.append((idx, "relu", "relu%d_%d" % (block, conv)))
        idx += 1
    return out


def chosen_points(arch):
    """(name for vgg-run, features index or None for pool5), see the
    docstring."""
    mods = torch_modules(arch)
    _, bn = vggtorch.ARCH_CFG[arch]
    convs = [m for m in mods if m[1] == "conv"]
    relus = [m for m in mods if m[1] == "relu"]
    pools = [m for m in mods if m[1] == "pool"]
    pts = []
    first = convs[0][0]
    pts.append(("features.%d" % (first + 1), first + 1) if bn
               else ("conv1_1", first))
    r21 = [m for m in relus if m[2] == "relu2_1"][0]
    pts.append(("relu2_1", r21[0]))
    for idx, _, alias in pools:
        pts.append((alias or "features.%d" % idx, idx))
    pts.append((relus[-1][2], relus[-1][0]))
    pts.append(("pool5", None))
    return pts


def run_tool(args, timeout=120):
    p = subprocess.run(TEST_WRAPPER + args, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE,
                       timeout=timeout * TIMEOUT_FACTOR)
    return p.returncode, p.stdout.decode(errors="replace"), \
        p.stderr.decode(errors="replace")


def run_point(vgg_run, model_path, in_path, out_path, name, pooling):
    """(array or None, error text)."""
    if os.path.exists(out_path):
        os.unlink(out_path)
    cmd = [vgg_run, "--model", model_path, "--input", in_path,
           "--output", out_path, "--layer", name, "--threads", str(THREADS)]
    if pooling:
        cmd += ["--pooling", pooling]
    rc, out, err = run_tool(cmd)
    if rc != 0:
        return None, "exit %d: %s (%s)" % (rc, (err or out).strip(),
                                            " ".join(cmd))
    a = np.load(out_path)
    if a.dtype != np.float32:
        return None, "dtype %s" % a.dtype
    return a, ""


@torch.no_grad()
def torch_maps(model, x):
    """Every features module's output (cloned: torchvision's ReLUs work in
    place) and the adaptive pool's, as NCHW tensors."""
    outs = []
    h = x
    for m in model.features:
        h = m(h)
        outs.append(h.clone())
    return outs, model.avgpool(h)


def pooled(t, pooling):
    if pooling == "none":
        return torch.flatten(t, 1).numpy()
    if pooling == "avg":
        return t.double().mean(dim=(2, 3)).float().numpy()
    return t.amax(dim=(2, 3)).numpy()


class Results:
    def __init__(self):
        self.passed = 0
        self.failed = []

    def check(self, ok, label, note=""):
        print("%s %s%s" % ("PASS" if ok else "FAIL", label,
                           ("  [" + note + "]") if note else ""))
        sys.stdout.flush()
        if ok:
            self.passed += 1
        else:
            self.failed.append("%s: %s" % (label, note))
        return ok


def check_names(res, vgg_run, arch, path):
    """vgg-inspect's table and vgg-run's refusals for one model file."""
    inspect = os.path.join(os.path.dirname(vgg_run), "vgg-inspect")
    rc, out, err = run_tool([inspect, path])
    if not res.check(rc == 0, "%s vgg-inspect" % arch, err.strip()):
        return
    table = {}
    points = out[out.index("\npoints at"):]
    for line in points.splitlines():
        m = re.match(r"^  (features\.\d+)\s+(\S+)\s", line)
        if m:
            table[m.group(1)] = m.group(2)
    _, bn = vggtorch.ARCH_CFG[arch]
    want = {}
    for idx, kind, alias in torch_modules(arch):
        if kind == "conv" and bn:
            continue  # folded: not a readable point
        want["features.%d" % idx] = alias or "-"
    res.check(table == want, "%s names: features.N and aliases as "
              "torchvision's cfgs" % arch,
              "" if table == want else "vgg-inspect %s, expected %s" %
              (sorted(table.items()), sorted(want.items())))

    npy = os.path.join(os.path.dirname(path), "names-in.npy")
    if not os.path.exists(npy):
        np.save(npy, make_input(7, 1, 32, 32))
    outp = os.path.join(os.path.dirname(path), "names-out.npy")

    def refused(name):
        rc, out, err = run_tool([vgg_run, "--model", path, "--input", npy,
                                 "--output", outp, "--layer", name])
        return rc != 0, err.strip()

    if arch in ("vgg16", "vgg19"):
        no, err = refused("relu3_4")
        res.check(no == (arch == "vgg16"), "%s relu3_4 %s" %
                  (arch, "refused" if arch == "vgg16" else "accepted"), err)
    if arch == "vgg16":
        no, err = refused("relu9_9")
        expect = ["relu1_1..relu1_2", "relu3_1..relu3_3", "relu5_1..relu5_3",
                  "convB_C", "pool1..pool4", "pool5", "fc6", "fc7", "logits",
                  "probs", "features.0..features.30", '"relu9_9"']
        missing = [e for e in expect if e not in err]
        res.check(no and not missing, "vgg16 unknown name lists the valid "
                  "ones", "missing %s in: %s" % (missing, err)
                  if missing else err)
    if bn:
        # the last convolution: conv5_2 of vgg11_bn ... conv5_4 of vgg19_bn
        mods = torch_modules(arch)
        k = [m[0] for m in mods if m[1] == "conv"][-1]
        relu = mods[[m[0] for m in mods].index(k + 2)][2]
        for name in ("features.%d" % k, relu.replace("relu", "conv")):
            no, err = refused(name)
            ok = no and "folded" in err and \
                "features.%d" % (k + 1) in err and \
                "features.%d" % (k + 2) in err and relu in err
            res.check(ok, "%s %s refused as folded" % (arch, name), err)


def check_no_fc7(res, vgg_run, workdir):
    """A classifier of two linear layers (a common fine-tuning head) has no
    fc7: refused with the reason, while fc6 (its first) is read."""
    model = vggtorch.make_vgg("vgg11", 8, seed=700)
    model.classifier = nn.Sequential(nn.Linear(64 * 7 * 7, 32), nn.ReLU(True),
                                     nn.Dropout(), nn.Linear(32, 5))
    vggtorch.randomize_(model, 700)
    model.eval()
    path = os.path.join(workdir, "two-linear.safetensors")
    vggtorch.save_safetensors(path, model.state_dict(),
                              {"vgg.name": "two-linear"})
    x = make_input(701, 1, 48, 40)
    npy = os.path.join(workdir, "two-linear-in.npy")
    np.save(npy, x)
    outp = os.path.join(workdir, "two-linear-out.npy")
    rc, _, err = run_tool([vgg_run, "--model", path, "--input", npy,
                           "--output", outp, "--layer", "fc7"])
    ok = res.check(rc != 0 and "no fc7" in err and "2 linear layers" in err,
                   "two-linear classifier: fc7 refused", err.strip())
    a, err = run_point(vgg_run, path, npy, outp, "fc6", None)
    with torch.no_grad():
        f = torch.flatten(model.avgpool(model.features(torch.from_numpy(x))),
                          1)
        b = model.classifier[1](model.classifier[0](f))
    if a is None:
        ok = res.check(False, "two-linear classifier: fc6", err) and ok
    else:
        good, maxdiff, maxb, note = compare(a, b.numpy(), False)
        ok = res.check(good, "two-linear classifier: fc6 maxdiff %.2e "
                       "max|b| %.2e" % (maxdiff, maxb), note) and ok
    for p in (path, npy, outp):
        if ok and os.path.exists(p):
            os.unlink(p)


CUSTOM_CFG = [16, "M", 24, 24, "M", 40, "M"]


def check_custom(res, vgg_run, workdir, bn):
    """A configuration torchvision does not have (test_parity.py's): every
    module by its features.N, with its block name where it has one, at
    40x48 against torchvision; pool3 is its last max pool."""
    label = "custom%s" % ("-bn" if bn else "")
    model = vggtorch.make_vgg_custom(CUSTOM_CFG, batch_norm=bn, seed=710 + bn)
    path = os.path.join(workdir, label + ".safetensors")
    vggtorch.save_safetensors(path, model.state_dict(), {"vgg.name": label})
    x = make_input(720 + bn, 2, 40, 48)
    npy = os.path.join(workdir, label + "-in.npy")
    np.save(npy, x)
    outp = os.path.join(workdir, label + "-out.npy")
    maps, _ = torch_maps(model, torch.from_numpy(x))
    aliases = {}
    idx, block, conv = 0, 1, 0
    for v in CUSTOM_CFG:
        if v == "M":
            aliases[idx] = "pool%d" % block
            idx, block, conv = idx + 1, block + 1, 0
            continue
        conv += 1
        aliases[idx + 1 + bn] = "relu%d_%d" % (block, conv)
        idx += 2 + bn
    ok = True
    for i, m in enumerate(model.features):
        if bn and isinstance(m, nn.Conv2d):
            continue
        name = aliases.get(i, "features.%d" % i)
        pooling = "max" if i % 2 else "none"
        a, err = run_point(vgg_run, path, npy, outp, name, pooling)
        what = "%s %s features[:%d] %s %s" % (label, name, i + 1,
                                              type(m).__name__, pooling)
        if a is None:
            ok = res.check(False, what, err) and ok
            continue
        good, maxdiff, maxb, note = compare(a, pooled(maps[i], pooling),
                                            False)
        ok = res.check(good, "%s maxdiff %.2e max|b| %.2e" %
                       (what, maxdiff, maxb), note) and ok
    for p in (path, npy, outp):
        if ok and os.path.exists(p):
            os.unlink(p)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--vgg-run", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--isa", default=None)
    ap.add_argument("--only", default=None,
                    help="only the architectures matching this regex")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()

    t_start = time.monotonic()
    torch.set_num_threads(THREADS)
    vgg_run = os.path.abspath(args.vgg_run)
    os.makedirs(args.workdir, exist_ok=True)
    if args.isa and not select_isa(vgg_run, args.isa):
        return 77
    print("torch %s, tolerance max|a-b| <= %g * max|b|" %
          (torch.__version__, RTOL))
    res = Results()
    if not args.only or re.search(args.only, "two-linear"):
        check_no_fc7(res, vgg_run, args.workdir)
    for bn in (0, 1):
        if not args.only or re.search(args.only, "custom"):
            check_custom(res, vgg_run, args.workdir, bn)
    for ai, arch in enumerate(vggtorch.ARCHS):
        if args.only and not re.search(args.only, arch):
            continue
        seed = 600 + ai
        model = vggtorch.make_vgg(arch, 8, seed=seed).eval()
        path = os.path.join(args.workdir, "%s-w8.safetensors" % arch)
        vggtorch.save_safetensors(path, model.state_dict(),
                                  {"vgg.name": arch})
        files = [path]
        failed_before = len(res.failed)
        check_names(res, vgg_run, arch, path)
        for si, (h, w) in enumerate(SIZES):
            x = make_input(seed * 10 + si, 2, h, w)
            in_path = os.path.join(args.workdir, "%s-%dx%d-in.npy" %
                                   (arch, h, w))
            np.save(in_path, x)
            files.append(in_path)
            maps, pool5 = torch_maps(model, torch.from_numpy(x))
            for name, idx in chosen_points(arch):
                ref = pool5 if idx is None else maps[idx]
                what = "pool5" if idx is None else \
                    "features[:%d] %s" % (idx + 1,
                                          type(model.features[idx]).__name__)
                # the default pooling (no --pooling) once per kind of
                # point, at the odd size: the run count is the test's cost
                defaults = (None,) if si == 1 and name in ("relu2_1",
                                                           "pool5") else ()
                for pooling in POOLINGS + defaults:
                    default = "none" if idx is None else "avg"
                    b = pooled(ref, pooling or default)
                    out_path = os.path.join(
                        args.workdir, "%s-%dx%d-%s-%s.npy" %
                        (arch, h, w, name, pooling or "default"))
                    files.append(out_path)
                    a, err = run_point(vgg_run, path, in_path, out_path,
                                       name, pooling)
                    label = "%-8s %3dx%-3d %-12s %-7s (%s, seed %d)" % (
                        arch, h, w, name, pooling or "default=" + default,
                        what, seed)
                    if a is None:
                        res.check(False, label, err)
                        continue
                    ok, maxdiff, maxb, note = compare(a, b, False)
                    res.check(ok, "%s maxdiff %.2e max|b| %.2e" %
                              (label, maxdiff, maxb), note)
        if not args.keep and len(res.failed) == failed_before:
            for p in files:
                if os.path.exists(p):
                    os.unlink(p)
    if not res.failed and not args.keep:
        for p in ("names-in.npy", "names-out.npy"):
            if os.path.exists(os.path.join(args.workdir, p)):
                os.unlink(os.path.join(args.workdir, p))
    if res.failed:
        print("failed:")
        for f in res.failed:
            print("  " + f)
    print("points: %d passed, %d failed (%.1f s)" %
          (res.passed, len(res.failed), time.monotonic() - t_start))
    return 1 if res.failed else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""PyTorch checkpoints (.pth), model names and vgg-convert, through the
command-line tools:

- parity with torchvision for state dicts that torch.save writes in both
  formats (_use_new_zipfile_serialization True and False): the eight
  architectures (widths / 8), a fine-tuned-style model (replaced last
  layer, wrapped in {"state_dict": ...} with DataParallel's "module."
  prefix), F16 and BF16 storages, tensors sharing one storage at offsets,
  and (--full) full-size vgg16 in the legacy format;
  max |engine - torch| <= 1e-4 * max |torch| and the same top-5 (the
  tolerance of test_parity.py);
- vgg-convert: .pth -> safetensors gives bit-identical outputs, the
  metadata asked for, and F16/BF16 tensors equal to torch's own rounding;
- model names: $VGG_MODEL_PATH, $TORCH_HOME/hub/checkpoints with
  torchvision's file names, vgg16-features' normalization, and the error
  that lists the places searched and the download URL;
- hostile files, each refused with its message and without running
  anything: pickles that name os.system, builtins.eval, subprocess.Popen;
  deep nesting; huge declared sizes; storages past the end; zip entries
  with bad offsets; a strided view.

usage: test_pth.py --tools BUILD/vggcore/tools --workdir DIR [--full]
"""

import argparse
import io
import os
import pickle
import struct
import subprocess
import sys
import zipfile
from collections import OrderedDict

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vggtorch  # noqa: E402

RTOL = 1e-4
passed = failed = 0


def check(cond, what, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print("ok   %s" % what)
    else:
        failed += 1
        print("FAIL %s %s" % (what, detail))


def run(tool, *args, env=None):
    e = dict(os.environ)
    if env:
        e.update(env)
    p = subprocess.run([tool] + [str(a) for a in args], capture_output=True,
                       text=True, timeout=600, env=e)
    return p.returncode, p.stdout, p.stderr


class Ctx:
    def __init__(self, tools, work):
        self.tools = tools
        self.work = work
        self.vgg_run = os.path.join(tools, "vgg-run")
        self.inspect = os.path.join(tools, "vgg-inspect")
        self.convert = os.path.join(tools, "vgg-convert")

    def path(self, name):
        return os.path.join(self.work, name)

    def engine(self, model_path, x, layer="logits", env=None):
        inp, out = self.path("in.npy"), self.path("out.npy")
        np.save(inp, x.numpy())
        if os.path.exists(out):
            os.unlink(out)
        rc, _, err = run(self.vgg_run, "--model", model_path, "--input", inp,
                         "--output", out, "--layer", layer, env=env)
        if rc != 0:
            return None, err.strip()
        return np.load(out), ""


def make_input(seed, n, h=224, w=224):
    g = np.random.default_rng(seed)
    return torch.from_numpy(g.standard_normal((n, 3, h, w),
                                              dtype=np.float32))


def top5(row):
    return list(np.argsort(-row, kind="stable")[:5])


def compare(got, want):
    """ok, detail: the tolerance of test_parity.py and the same top-5."""
    if got is None:
        return False, "no output"
    if got.shape != want.shape:
        return False, "shape %s, expected %s" % (got.shape, want.shape)
    diff = float(np.abs(got.astype(np.float64) - want).max())
    tol = RTOL * float(np.abs(want).max())
    ok = diff <= tol
    detail = "max diff %.3g, tolerance %.3g" % (diff, tol)
    if want.shape[1] >= 5:
        for i in range(want.shape[0]):
            if top5(got[i]) != top5(want[i]):
                ok = False
                detail += "; image %d top-5 %s vs %s" % (
                    i, top5(got[i]), top5(want[i]))
    return ok, detail


def save_pth(path, obj, legacy):
    torch.save(obj, path, _use_new_zipfile_serialization=not legacy)


def fmt(legacy):
    return "legacy" if legacy else "zip"


# --------------------------------------------------------------------------
# Parity
# --------------------------------------------------------------------------

def test_architectures(c):
    for i, arch in enumerate(vggtorch.ARCHS):
        model = vggtorch.make_vgg(arch, 8, num_classes=1000, seed=40 + i)
        x = make_input(100 + i, 2)
        with torch.no_grad():
            want = model(x).numpy().astype(np.float64)
        for legacy in (False, True):
            path = c.path("%s-%s.pth" % (arch, fmt(legacy)))
            save_pth(path, model.state_dict(), legacy)
            got, err = c.engine(path, x)
            ok, detail = compare(got, want)
            check(ok, "%s (widths/8, seed %d) saved by torch.save in the %s "
                  "format matches torchvision" % (arch, 40 + i, fmt(legacy)),
                  err or detail)


def test_fine_tuned(c):
    """classifier[6] = Linear(512, 10) on vgg16 (widths/8), the state dict
    of a DataParallel model wrapped in a training checkpoint."""
    model = vggtorch.make_vgg("vgg16_bn", 8, num_classes=1000, seed=61)
    torch.manual_seed(62)
    model.classifier[6] = torch.nn.Linear(512, 10)
    model.eval()
    sd = OrderedDict(("module." + k, v) for k, v in
                     model.state_dict().items())
    x = make_input(63, 3, 200, 256)
    with torch.no_grad():
        want = model(x).numpy().astype(np.float64)
    for legacy in (False, True):
        path = c.path("finetuned-%s.pth" % fmt(legacy))
        save_pth(path, {"epoch": 7, "state_dict": sd,
                        "optimizer": {"lr": 0.01}}, legacy)
        got, err = c.engine(path, x)
        ok, detail = compare(got, want)
        check(ok, "fine-tuned vgg16_bn (10 classes, module. prefix, wrapped "
              "in state_dict) in the %s format matches torchvision at 200x256"
              % fmt(legacy), err or detail)
    path = c.path("model-key.pth")
    save_pth(path, {"model": model.state_dict()}, False)
    got, err = c.engine(path, x)
    ok, detail = compare(got, want)
    check(ok, "a state dict under \"model\" loads", err or detail)


def test_half_storages(c):
    for dtype, tdtype in (("F16", torch.float16), ("BF16", torch.bfloat16)):
        model = vggtorch.make_vgg("vgg11_bn", 8, num_classes=7, seed=70)
        sd = model.state_dict()
        low = OrderedDict((k, v.to(tdtype) if v.is_floating_point() else v)
                          for k, v in sd.items())
        model.load_state_dict(vggtorch.round_state_dict(sd, dtype))
        x = make_input(71, 2)
        with torch.no_grad():
            want = model(x).numpy().astype(np.float64)
        for legacy in (False, True):
            path = c.path("%s-%s.pth" % (dtype, fmt(legacy)))
            save_pth(path, low, legacy)
            got, err = c.engine(path, x)
            ok, detail = compare(got, want)
            check(ok, "%s storages (%s format) match torchvision with the "
                  "same rounded weights" % (dtype, fmt(legacy)),
                  err or detail)


def test_shared_storage(c):
    """All tensors as views of one flat storage: each has its own storage
    offset, as when a model is saved from one flat parameter buffer."""
    model = vggtorch.make_vgg("vgg13", 8, num_classes=9, seed=80)
    sd = model.state_dict()
    flat = torch.cat([v.reshape(-1) for v in sd.values()])
    views, pos = OrderedDict(), 0
    for k, v in sd.items():
        views[k] = flat[pos:pos + v.numel()].view(v.shape)
        pos += v.numel()
    x = make_input(81, 2)
    with torch.no_grad():
        want = model(x).numpy().astype(np.float64)
    for legacy in (False, True):
        path = c.path("shared-%s.pth" % fmt(legacy))
        save_pth(path, views, legacy)
        got, err = c.engine(path, x)
        ok, detail = compare(got, want)
        check(ok, "tensors at offsets in one shared storage (%s format) "
              "match torchvision" % fmt(legacy), err or detail)


def test_full_vgg16_legacy(c):
    model = vggtorch.make_vgg("vgg16", 1, num_classes=1000, seed=90)
    path = c.path("vgg16-full-legacy.pth")
    save_pth(path, model.state_dict(), True)
    x = make_input(91, 2)
    with torch.no_grad():
        want = model(x).numpy().astype(np.float64)
    got, err = c.engine(path, x)
    ok, detail = compare(got, want)
    check(ok, "full-size vgg16 in the legacy format (%d MB) matches "
          "torchvision" % (os.path.getsize(path) >> 20), err or detail)
    os.unlink(path)


# --------------------------------------------------------------------------
# vgg-convert
# --------------------------------------------------------------------------

def test_convert(c):
    model = vggtorch.make_vgg("vgg11_bn", 8, num_classes=5, seed=100)
    sd = model.state_dict()
    src = c.path("convert-src.pth")
    save_pth(src, sd, True)
    labels = c.path("labels.txt")
    with open(labels, "w") as f:
        f.write("cat\ndog\nbird\nfish\nnewt\n")
    out = c.path("converted.safetensors")
    rc, _, err = run(c.convert, src, out, "--labels", labels, "--name",
                     "pets", "--mean", "0.5,0.4,0.3", "--std", "0.25,0.2,0.1")
    check(rc == 0, "vgg-convert legacy .pth -> safetensors", err)
    x = make_input(101, 2)
    a, err_a = c.engine(src, x, "probs")
    b, err_b = c.engine(out, x, "probs")
    check(a is not None and b is not None and np.array_equal(a, b),
          "the converted file gives bit-identical outputs", err_a + err_b)
    tensors, meta, dtypes = vggtorch.load_safetensors(out)
    check(set(tensors) == set(sd) and all(
        torch.equal(tensors[k], sd[k]) for k in sd),
        "every tensor written with its name and exact values",
        sorted(set(tensors) ^ set(sd)))
    check(dtypes["features.1.num_batches_tracked"] == "I64",
          "integer tensors keep their dtype (I64)", dtypes)
    check(meta.get("vgg.labels") == "cat\ndog\nbird\nfish\nnewt\n"
          and meta.get("vgg.name") == "pets"
          and [np.float32(v) for v in meta.get("vgg.mean", "").split(",")]
          == [np.float32(0.5), np.float32(0.4), np.float32(0.3)]
          and [np.float32(v) for v in meta.get("vgg.std", "").split(",")]
          == [np.float32(0.25), np.float32(0.2), np.float32(0.1)],
          "metadata: labels, name, mean, std", meta)
    rc, text, err = run(c.inspect, out)
    check(rc == 0 and "labels: 5 (cat, dog, bird, fish, newt)" in text
          and "name: pets" in text, "vgg-inspect reads the metadata back",
          text + err)

    for flag, dtype, tdtype in (("--half", "F16", torch.float16),
                                ("--bf16", "BF16", torch.bfloat16)):
        out16 = c.path("converted-%s.safetensors" % dtype)
        rc, _, err = run(c.convert, src, out16, flag)
        check(rc == 0, "vgg-convert %s" % flag, err)
        if rc != 0:
            continue
        tensors, _, dtypes = vggtorch.load_safetensors(out16)
        bad = [k for k, v in sd.items() if v.is_floating_point() and (
            dtypes[k] != dtype
            or not torch.equal(tensors[k], v.to(tdtype).float()))]
        check(not bad, "%s: every float tensor equals torch's .to(%s)"
              % (flag, tdtype), bad[:3])
        model16 = vggtorch.make_vgg("vgg11_bn", 8, num_classes=5, seed=100)
        model16.load_state_dict(vggtorch.round_state_dict(sd, dtype))
        with torch.no_grad():
            want = model16(x).numpy().astype(np.float64)
        got, err = c.engine(out16, x)
        ok, detail = compare(got, want)
        check(ok, "%s file matches torchvision with rounded weights" % flag,
              err or detail)

    rc, _, err = run(c.convert, src, c.path("bad.safetensors"), "--labels",
                     c.path("in.npy"))
    check(rc != 0 and "labels" in err and not os.path.exists(
        c.path("bad.safetensors")),
        "labels that do not match the classes are refused, nothing written",
        err)


# --------------------------------------------------------------------------
# Model names
# --------------------------------------------------------------------------

def test_model_names(c):
    model = vggtorch.make_vgg("vgg11", 8, num_classes=1000, seed=110)
    hub = c.path("torch-home/hub/checkpoints")
    os.makedirs(hub, exist_ok=True)
    save_pth(os.path.join(hub, "vgg11-8a719046.pth"), model.state_dict(),
             True)
    env = {"TORCH_HOME": c.path("torch-home"), "VGG_MODEL_PATH": ""}
    x = make_input(111, 1)
    with torch.no_grad():
        want = model(x).numpy().astype(np.float64)
    got, err = c.engine("vgg11", x, env=env)
    ok, detail = compare(got, want)
    check(ok, "vgg11 resolves to $TORCH_HOME/hub/checkpoints/"
          "vgg11-8a719046.pth", err or detail)
    rc, text, err = run(c.inspect, "vgg11", env=env)
    check(rc == 0 and "name: vgg11" in text, "a torchvision file is named "
          "after its model", text + err)

    # $VGG_MODEL_PATH comes first: NAME.safetensors there wins
    other = vggtorch.make_vgg("vgg11", 8, num_classes=3, seed=112)
    d1, d2 = c.path("models-a"), c.path("models-b")
    os.makedirs(d1, exist_ok=True)
    os.makedirs(d2, exist_ok=True)
    vggtorch.save_safetensors(os.path.join(d2, "vgg11.safetensors"),
                              other.state_dict())
    env2 = dict(env, VGG_MODEL_PATH="%s:%s" % (d1, d2))
    rc, text, err = run(c.inspect, "vgg11", env=env2)
    check(rc == 0 and "classes: 3" in text,
          "vgg11.safetensors in the second folder of $VGG_MODEL_PATH "
          "is found before the hub cache", text + err)

    feat = vggtorch.make_vgg("vgg16", 8, num_classes=1000, seed=113)
    save_pth(os.path.join(hub, "vgg16_features-amdegroot-88682ab5.pth"),
             feat.state_dict(), False)
    rc, text, err = run(c.inspect, "vgg16-features", env=env)
    check(rc == 0 and "name: vgg16-features" in text
          and "normalization: mean 0.48235,0.45882,0.40784 std "
          "0.00392157,0.00392157,0.00392157" in text,
          "vgg16-features has its own normalization (std 1/255)",
          text + err)
    out = c.path("features.safetensors")
    rc, _, err = run(c.convert, "vgg16-features", out, env=env)
    _, meta, _ = vggtorch.load_safetensors(out) if rc == 0 else (0, {}, 0)
    check(rc == 0 and meta.get("vgg.name") == "vgg16-features"
          and meta.get("vgg.std", "").startswith("0.00392156"),
          "vgg-convert vgg16-features keeps its name and normalization",
          err + str(meta))

    rc, _, err = run(c.inspect, "vgg19_bn", env=env2)
    check(rc != 0 and "https://download.pytorch.org/models/"
          "vgg19_bn-c79401a0.pth" in err and d1 in err and d2 in err
          and hub in err and "vgg19_bn.safetensors" in err,
          "a missing model lists where it looked and the URL", err)


# --------------------------------------------------------------------------
# Hostile files
# --------------------------------------------------------------------------

def legacy_wrap(main_pickle, keys_pickle=None, tail=b""):
    """torch's legacy layout around a hand-made main pickle."""
    f = io.BytesIO()
    pickle.dump(0x1950a86a20f9469cfc6c, f, protocol=2)
    pickle.dump(1001, f, protocol=2)
    pickle.dump({"protocol_version": 1001, "little_endian": True,
                 "type_sizes": {"short": 2, "int": 4, "long": 4}}, f,
                protocol=2)
    f.write(main_pickle)
    f.write(keys_pickle if keys_pickle is not None else
            pickle.dumps([], protocol=2))
    f.write(tail)
    return f.getvalue()


def zip_wrap(data_pkl, entries=()):
    f = io.BytesIO()
    with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", data_pkl)
        for name, data in entries:
            z.writestr("archive/" + name, data)
    return f.getvalue()


class Evil:
    def __init__(self, func, args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def expect_refused(c, name, data, phrases, marker=None):
    path = c.path(name)
    with open(path, "wb") as f:
        f.write(data)
    rc, _, err = run(c.inspect, path)
    ok = rc != 0 and all(p in err for p in phrases) and path in err
    if marker is not None:
        ok = ok and not os.path.exists(marker)
    check(ok, "%s refused: %s" % (name, " / ".join(phrases)), err.strip())


def test_hostile(c):
    import builtins
    import subprocess as sp
    marker = c.path("pwned")
    cmd = "touch " + marker
    crafted = [
        ("os-system", b"cos\nsystem\n", "os.system"),
        ("builtins-eval", b"cbuiltins\neval\n", "builtins.eval"),
        ("subprocess-popen", b"csubprocess\nPopen\n", "subprocess.Popen"),
    ]
    for name, glob, shown in crafted:
        main = (b"\x80\x02" + glob + b"X" + struct.pack("<I", len(cmd))
                + cmd.encode() + b"\x85R.")
        expect_refused(c, name + "-legacy.pth", legacy_wrap(main),
                       ["global " + shown + " is not allowed"], marker)
        expect_refused(c, name + "-zip.pth", zip_wrap(main),
                       ["global " + shown + " is not allowed"], marker)
    # the same through Python's own pickler (protocol 2 writes Python 2
    # module names: posix.system, __builtin__.eval, commands.Popen)
    for name, obj, shown in (
            ("reduce-system", Evil(os.system, (cmd,)), "system"),
            ("reduce-eval", Evil(builtins.eval, ("1",)), "eval"),
            ("reduce-popen", Evil(sp.Popen, ([cmd],)), "Popen")):
        for proto in (2, 4):
            main = pickle.dumps({"features.0.weight": obj}, protocol=proto)
            expect_refused(c, "%s-p%d.pth" % (name, proto), legacy_wrap(main),
                           ["is not allowed", shown], marker)
    # an allowed global used the wrong way
    main = b"\x80\x02ctorch\nFloatStorage\n)R."
    expect_refused(c, "call-storage.pth", zip_wrap(main),
                   ["torch.FloatStorage may only appear in a persistent id"])

    # deep nesting: 100000 MARKs, and lists nested 5000 deep
    expect_refused(c, "deep-marks.pth",
                   legacy_wrap(b"\x80\x02" + b"(" * 100000 + b"."),
                   ["MARKs nested deeper than 1000"])
    expect_refused(c, "deep-lists.pth",
                   zip_wrap(b"\x80\x02" + b"]" * 5000 + b"a" * 4999 + b"."),
                   ["containers nested deeper than 1000"])

    # huge declared sizes
    expect_refused(c, "huge-string.pth",
                   zip_wrap(b"\x80\x02\x8d" + struct.pack("<Q", 1 << 60)
                            + b"abc."),
                   ["string of 1152921504606846976 bytes runs past the end"])
    expect_refused(c, "huge-memo.pth",
                   zip_wrap(b"\x80\x02}r" + struct.pack("<I", 0xfffffff0)
                            + b"."),
                   ["memo key 4294967280 is larger than the pickle"])
    model = vggtorch.make_vgg("vgg11", 8, num_classes=4, seed=120)
    sd = model.state_dict()
    good = io.BytesIO()
    torch.save(sd, good, _use_new_zipfile_serialization=False)
    good = good.getvalue()
    # the first storage's element count follows the five pickles
    f = io.BytesIO(good)
    for _ in range(3):
        pickle.load(f)

    class P(pickle.Unpickler):
        def persistent_load(self, pid):
            return None

        def find_class(self, module, name):
            if name == "OrderedDict":
                return OrderedDict
            return lambda *a, **k: None
    P(f).load()
    keys = pickle.load(f)
    pos = f.tell()
    (numel,) = struct.unpack("<Q", good[pos:pos + 8])
    huge = good[:pos] + struct.pack("<Q", 1 << 61) + good[pos + 8:]
    expect_refused(c, "huge-storage.pth", huge,
                   ["storage \"%s\" has 2305843009213693952 elements but its "
                    "tensors declare %d" % (keys[0], numel)])
    # storages past the end: the file cut in the last storage
    expect_refused(c, "truncated-storage.pth", good[:-100],
                   ["runs past the end of the file", "truncated?"])
    expect_refused(c, "trailing-bytes.pth", good + b"\0" * 16,
                   ["16 bytes after the last storage belong to nothing"])

    # zip entries with bad offsets
    zgood = io.BytesIO()
    torch.save(sd, zgood)
    zgood = bytearray(zgood.getvalue())
    z64 = zgood.rfind(b"PK\x06\x06")
    (cd_offset,) = struct.unpack("<Q", zgood[z64 + 48:z64 + 56])
    bad = bytearray(zgood)
    # the first central record's local header offset past the directory
    cd = zgood.find(b"PK\x01\x02", cd_offset)
    bad[cd + 42:cd + 46] = struct.pack("<I", cd_offset + 10)
    expect_refused(c, "zip-bad-local-offset.pth", bytes(bad),
                   ["has its local header at byte %d, outside the entries"
                    % (cd_offset + 10)])
    bad = bytearray(zgood)
    bad[cd + 20:cd + 28] = struct.pack("<II", 1 << 30, 1 << 30)
    expect_refused(c, "zip-bad-size.pth", bytes(bad),
                   ["has 1073741824 bytes at byte", "past the end of the "
                    "entries"])
    bad = bytearray(zgood)
    bad[z64 + 48:z64 + 56] = struct.pack("<Q", len(zgood) * 3)
    expect_refused(c, "zip-bad-directory.pth", bytes(bad),
                   ["zip central directory", "lies outside the archive"])
    bad = bytearray(zgood)
    bad[cd + 10:cd + 12] = struct.pack("<H", 8)
    expect_refused(c, "zip-deflated.pth", bytes(bad),
                   ["is compressed (method 8)"])
    expect_refused(c, "zip-truncated.pth", bytes(zgood[:len(zgood) // 2]),
                   ["no end of central directory"])

    # a strided (transposed) view cannot be read in place
    sd2 = OrderedDict(sd)
    w = sd2["classifier.6.weight"]
    sd2["classifier.6.weight"] = w.t().contiguous().t()
    buf = io.BytesIO()
    torch.save(sd2, buf)
    expect_refused(c, "strided.pth", buf.getvalue(),
                   ["tensor \"classifier.6.weight\" is a strided view",
                    "stride [1, 4]"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tools", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--full", action="store_true")
    args = ap.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    torch.set_num_threads(2)
    c = Ctx(args.tools, args.workdir)
    print("torch %s, tolerance max|engine-torch| <= %g * max|torch|" %
          (torch.__version__, RTOL))
    test_architectures(c)
    test_fine_tuned(c)
    test_half_storages(c)
    test_shared_storage(c)
    test_convert(c)
    test_model_names(c)
    test_hostile(c)
    if args.full:
        test_full_vgg16_legacy(c)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""Writes the seed corpora of the fuzz targets from real files: tiny
VGG-style state dicts that torch.save writes in its zip and legacy
formats (F32, F16, BF16, with batch-norm, wrapped, with shared storages)
and that vggtorch writes as safetensors.  The seeds are committed;
rerun after changing this script:

    /usr/bin/python3 tests/fuzz/make-seeds.py tests/fuzz/seeds
"""

import io
import os
import sys
import zipfile
from collections import OrderedDict

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "python"))
import vggtorch  # noqa: E402


def tiny_state_dict(bn, seed):
    """features.0 conv 3->2, [bn], pool, conv 2->2, classifier 98->4->4->3:
    a VGG the engine builds, in a few hundred floats."""
    g = torch.Generator().manual_seed(seed)
    sd = OrderedDict()

    def r(*shape):
        return torch.randn(*shape, generator=g)

    i = 0
    for cin, cout in ((3, 2), (2, 2)):
        sd["features.%d.weight" % i] = r(cout, cin, 3, 3)
        sd["features.%d.bias" % i] = r(cout)
        if bn:
            sd["features.%d.weight" % (i + 1)] = r(cout)
            sd["features.%d.bias" % (i + 1)] = r(cout)
            sd["features.%d.running_mean" % (i + 1)] = r(cout)
            sd["features.%d.running_var" % (i + 1)] = r(cout).abs() + 0.5
            sd["features.%d.num_batches_tracked" % (i + 1)] = torch.tensor(3)
            i += 1
        i += 3
    for k, (fin, fout) in zip((0, 3, 6), ((98, 4), (4, 4), (4, 3))):
        sd["classifier.%d.weight" % k] = r(fout, fin)
        sd["classifier.%d.bias" % k] = r(fout)
    return sd


def shared_storage(sd):
    """All tensors as views of one flat storage (offsets into it)."""
    flat = torch.cat([v.reshape(-1).float() for v in sd.values()])
    out, pos = OrderedDict(), 0
    for k, v in sd.items():
        n = v.numel()
        out[k] = flat[pos:pos + n].view(v.shape)
        pos += n
    return out


def save(obj, legacy):
    f = io.BytesIO()
    torch.save(obj, f, _use_new_zipfile_serialization=not legacy)
    return f.getvalue()


def main():
    out = sys.argv[1]
    for d in ("safetensors", "pickle", "zip"):
        os.makedirs(os.path.join(out, d), exist_ok=True)
    cases = {
        "plain": tiny_state_dict(False, 1),
        "bn": tiny_state_dict(True, 2),
        "half": OrderedDict((k, v.half() if v.is_floating_point() else v)
                            for k, v in tiny_state_dict(False, 3).items()),
        "bf16": OrderedDict((k, v.bfloat16() if v.is_floating_point() else v)
                            for k, v in tiny_state_dict(True, 4).items()),
        "wrapped": {"epoch": 3, "state_dict": OrderedDict(
            ("module." + k, v) for k, v in tiny_state_dict(False, 5).items())},
        "shared": shared_storage(tiny_state_dict(False, 6)),
    }
    for name, obj in cases.items():
        legacy = save(obj, True)
        zipped = save(obj, False)
        with open(os.path.join(out, "pickle", name + ".pth"), "wb") as f:
            f.write(legacy)
        with open(os.path.join(out, "zip", name + ".pth"), "wb") as f:
            f.write(zipped)
        with zipfile.ZipFile(io.BytesIO(zipped)) as z:
            pkl = [n for n in z.namelist() if n.endswith("/data.pkl")][0]
            with open(os.path.join(out, "pickle", name + "-data.pkl"),
                      "wb") as f:
                f.write(z.read(pkl))
        if name in ("plain", "bn"):
            for dtype in ("F32", "F16", "BF16"):
                vggtorch.save_safetensors(
                    os.path.join(out, "safetensors",
                                 "%s-%s.safetensors" % (name, dtype)),
                    obj, {"vgg.name": name, "vgg.labels": "a\nb\nc"},
                    dtype=dtype)


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Helpers shared by the Python tests and benchmarks of gst-vgg.

- save_safetensors() / load_safetensors(): a self-contained safetensors
  writer and reader (Debian has no `safetensors` Python package).
- make_vgg() / make_vgg_custom(): torchvision VGG networks, optionally
  narrowed by a width divisor, with seeded random weights whose activations
  stay O(1) through the whole network and whose batch-norm layers have
  non-trivial statistics (so batch-norm folding is really exercised).
- round_state_dict(): the float32 weights a F16/BF16 file decodes to.

Run it directly (`/usr/bin/python3 vggtorch.py`) for a self-test.
Must run under /usr/bin/python3 (Debian's torch, torchvision and numpy).
"""

import json
import struct

import numpy as np
import torch
import torch.nn as nn
import torchvision
from torchvision.models.vgg import VGG, cfgs, make_layers

__all__ = [
    "ARCHS", "ARCH_CFG", "save_safetensors", "load_safetensors",
    "make_vgg", "make_vgg_custom", "randomize_", "round_state_dict",
    "classifier_outputs",
]

# torchvision architecture name -> (cfgs key, batch_norm)
ARCH_CFG = {
    "vgg11": ("A", False), "vgg11_bn": ("A", True),
    "vgg13": ("B", False), "vgg13_bn": ("B", True),
    "vgg16": ("D", False), "vgg16_bn": ("D", True),
    "vgg19": ("E", False), "vgg19_bn": ("E", True),
}
ARCHS = list(ARCH_CFG)

_FLOAT_DTYPES = {
    "F32": (torch.float32, 4),
    "F16": (torch.float16, 2),
    "BF16": (torch.bfloat16, 2),
}
_INT_DTYPES = {
    torch.int64: "I64", torch.int32: "I32", torch.int16: "I16",
    torch.int8: "I8", torch.uint8: "U8", torch.bool: "BOOL",
}
_READ_DTYPES = {
    "F32": "<f4", "F16": "<f2", "BF16": "<u2", "F64": "<f8",
    "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1", "U8": "u1",
    "BOOL": "?",
}


# --------------------------------------------------------------------------
# safetensors
# --------------------------------------------------------------------------

def _tensor_bytes(t, dtype):
    """Little-endian bytes of tensor t: floating tensors converted to dtype
    ("F32", "F16", "BF16"); integer tensors kept as they are."""
    t = t.detach().cpu().contiguous()
    if t.is_floating_point():
        if dtype == "F32":
            arr = t.to(torch.float32).numpy().astype("<f4", copy=False)
        elif dtype == "F16":
            arr = t.to(torch.float16).numpy().astype("<f2", copy=False)
        elif dtype == "BF16":
            arr = t.to(torch.bfloat16).view(torch.int16).numpy()
            arr = arr.astype("<i2", copy=False)
        else:
            raise ValueError("unsupported dtype %r" % dtype)
        return dtype, np.ascontiguousarray(arr).tobytes()
    if t.dtype not in _INT_DTYPES:
        raise ValueError("unsupported tensor dtype %s" % t.dtype)
    name = _INT_DTYPES[t.dtype]
    arr = t.numpy()
    if arr.dtype.itemsize > 1:
        arr = arr.astype(arr.dtype.newbyteorder("<"), copy=False)
    return name, np.ascontiguousarray(arr).tobytes()


def save_safetensors(path, state_dict, metadata=None, dtype="F32",
                     skip_int=False):
    """Writes state_dict (name -> tensor) as a safetensors file.

    Floating tensors are stored as dtype ("F32", "F16" or "BF16"); integer
    tensors (batch-norm `num_batches_tracked`, I64) are kept as they are,
    like safetensors.torch.save_file() does, unless skip_int is true.
    metadata: optional dict of str -> str stored as `__metadata__`.
    Returns the number of bytes written."""
    if dtype not in _FLOAT_DTYPES:
        raise ValueError("dtype must be one of %s" % ", ".join(_FLOAT_DTYPES))
    header = {}
    if metadata:
        for k, v in metadata.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise TypeError("metadata keys and values must be str")
        header["__metadata__"] = dict(metadata)
    blobs = []
    offset = 0
    for name, t in state_dict.items():
        if not t.is_floating_point() and skip_int:
            continue
        dname, data = _tensor_bytes(t, dtype)
        header[name] = {
            "dtype": dname,
            "shape": [int(s) for s in t.shape],
            "data_offsets": [offset, offset + len(data)],
        }
        blobs.append(data)
        offset += len(data)
    hbytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hbytes += b" " * ((-len(hbytes)) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hbytes)))
        f.write(hbytes)
        for b in blobs:
            f.write(b)
    return 8 + len(hbytes) + offset


def load_safetensors(path):
    """Reads a safetensors file: returns (tensors, metadata, dtypes) where
    tensors maps name -> torch tensor (F16/BF16 converted to float32),
    dtypes maps name -> the dtype string of the file.  Validates the
    offsets (contiguous, in order, sized by shape x dtype)."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise ValueError("%s: too short" % path)
    (hlen,) = struct.unpack("<Q", raw[:8])
    if 8 + hlen > len(raw):
        raise ValueError("%s: header length %d past the end" % (path, hlen))
    header = json.loads(raw[8:8 + hlen].decode("utf-8"))
    data = raw[8 + hlen:]
    metadata = header.pop("__metadata__", {}) or {}
    tensors, dtypes = {}, {}
    entries = sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0])
    pos = 0
    for name, info in entries:
        b, e = info["data_offsets"]
        if b != pos or e < b or e > len(data):
            raise ValueError("%s: bad offsets for %s" % (path, name))
        pos = e
        np_dtype = np.dtype(_READ_DTYPES[info["dtype"]])
        shape = tuple(info["shape"])
        n = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if n * np_dtype.itemsize != e - b:
            raise ValueError("%s: size mismatch for %s" % (path, name))
        arr = np.frombuffer(data, dtype=np_dtype, count=n, offset=b)
        arr = arr.reshape(shape)
        if info["dtype"] == "BF16":
            t = torch.from_numpy(arr.astype(np.int32) << 16).view(torch.float32)
        elif info["dtype"] in ("F16", "F32", "F64"):
            t = torch.from_numpy(arr.astype(np.float32))
        else:
            t = torch.from_numpy(arr.astype(arr.dtype.newbyteorder("=")))
        tensors[name] = t.clone()
        dtypes[name] = info["dtype"]
    if pos != len(data):
        raise ValueError("%s: %d trailing bytes" % (path, len(data) - pos))
    return tensors, metadata, dtypes


def round_state_dict(state_dict, dtype):
    """Floating tensors rounded to dtype ("F32", "F16", "BF16") and cast
    back to float32: what the engine sees after decoding such a file."""
    tdtype = _FLOAT_DTYPES[dtype][0]
    out = {}
    for k, v in state_dict.items():
        if v.is_floating_point():
            out[k] = v.detach().to(tdtype).to(torch.float32)
        else:
            out[k] = v.detach().clone()
    return out


# --------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------

def _scaled_cfg(cfg, width_divisor):
    out = []
    for v in cfg:
        if v == "M":
            out.append(v)
        else:
            if v % width_divisor:
                raise ValueError("width %d not divisible by %d" %
                                 (v, width_divisor))
            out.append(v // width_divisor)
    return out


def _set_classifier(model, in_features, hidden, num_classes):
    h1, h2 = hidden
    cls = model.classifier
    cls[0] = nn.Linear(in_features, h1)
    cls[3] = nn.Linear(h1, h2)
    cls[6] = nn.Linear(h2, num_classes)


def make_vgg(arch, width_divisor=1, num_classes=1000, seed=0):
    """torchvision.models.<arch> (same layer list and module names), with
    every conv width and both hidden classifier widths (4096) divided by
    width_divisor, in eval() mode, with seeded random weights (see
    randomize_())."""
    if arch not in ARCH_CFG:
        raise ValueError("unknown arch %r" % arch)
    key, bn = ARCH_CFG[arch]
    torch.manual_seed(seed)
    cfg = _scaled_cfg(cfgs[key], width_divisor)
    model = VGG(make_layers(cfg, batch_norm=bn), num_classes=num_classes)
    if width_divisor != 1:
        hidden = 4096 // width_divisor
        _set_classifier(model, cfg[-2] * 7 * 7, (hidden, hidden), num_classes)
    model.eval()
    randomize_(model, seed)
    return model


def make_vgg_custom(cfg, batch_norm=False, hidden=(64, 48), num_classes=10,
                    seed=0):
    """A VGG-style network from a torchvision-style cfg list (ints and
    'M'), with classifier Linear(C*7*7, hidden[0]) -> Linear(hidden[0],
    hidden[1]) -> Linear(hidden[1], num_classes), torchvision's module
    layout, eval() mode, seeded random weights."""
    torch.manual_seed(seed)
    convs = [v for v in cfg if v != "M"]
    model = VGG(make_layers(list(cfg), batch_norm=batch_norm),
                num_classes=num_classes)
    _set_classifier(model, convs[-1] * 7 * 7, hidden, num_classes)
    model.eval()
    randomize_(model, seed)
    return model


@torch.no_grad()
def randomize_(model, seed=0, calib_size=(96, 96)):
    """Gives model seeded random weights with activations of order 1.

    Data-dependent (in the spirit of LSUV): a seeded random batch is run
    through the network layer by layer.  Convolutions keep torchvision's
    init (Kaiming normal); without batch-norm each convolution is rescaled
    so its output has unit standard deviation.  Every conv and linear
    layer gets a small random bias (torchvision initializes them to zero,
    which would not test bias handling).  Batch-norm layers get running
    statistics near the real ones of the batch but perturbed (mean shifted,
    variance scaled by up to 2x either way), random weights (some negative)
    and random biases, so folding into the convolution is really tested.
    Linear layers are rescaled for unit output deviation.  Works in place
    on a VGG-layout model (features / avgpool / classifier) and also
    handles a replaced last layer."""
    g = torch.Generator().manual_seed(1000003 * (seed + 1))

    def randn(*shape):
        return torch.randn(*shape, generator=g)

    def rand(*shape):
        return torch.rand(*shape, generator=g)

    was_training = model.training
    model.eval()
    x = randn(4, 3, *calib_size)
    mods = list(model.features)
    i = 0
    while i < len(mods):
        m = mods[i]
        if isinstance(m, nn.Conv2d):
            has_bn = i + 1 < len(mods) and isinstance(mods[i + 1],
                                                       nn.BatchNorm2d)
            if m.bias is not None:
                m.bias.zero_()
            y = m(x)
            if not has_bn:
                m.weight.mul_(1.0 / max(float(y.std()), 1e-6))
            if m.bias is not None:
                m.bias.copy_(0.1 * randn(m.out_channels))
            x = m(x)
        elif isinstance(m, nn.BatchNorm2d):
            c = m.num_features
            mean = x.mean(dim=(0, 2, 3))
            var = x.var(dim=(0, 2, 3), unbiased=False)
            std = var.sqrt()
            m.running_mean.copy_(mean + 0.3 * std * randn(c))
            m.running_var.copy_(var * torch.exp(1.4 * (rand(c) - 0.5)))
            sign = torch.where(rand(c) < 0.15, -1.0, 1.0)
            m.weight.copy_(sign * (0.6 + 0.8 * rand(c)))
            m.bias.copy_(0.3 * randn(c))
            m.num_batches_tracked.fill_(int(100 + 1000 * float(rand(1))))
            x = m(x)
        else:
            x = m(x)
        i += 1
    x = torch.flatten(model.avgpool(x), 1)
    for m in model.classifier:
        if isinstance(m, nn.Linear):
            m.weight.copy_(randn(*m.weight.shape) / m.in_features ** 0.5)
            m.bias.zero_()
            y = m(x)
            m.weight.mul_(1.0 / max(float(y.std()), 1e-6))
            m.bias.copy_(0.1 * randn(m.out_features))
        x = m(x)
    model.train(was_training)
    return model


def classifier_outputs(model, x):
    """Dict of every output the engine can produce, computed by torch:
    pool5 (flattened adaptive pool), fc6 and fc7 (after ReLU), logits,
    probs.  Call under torch.no_grad() on an eval() model."""
    f = torch.flatten(model.avgpool(model.features(x)), 1)
    c = model.classifier
    fc6 = c[1](c[0](f))
    fc7 = c[4](c[3](c[2](fc6)))
    logits = c[6](c[5](fc7))
    return {
        "pool5": f,
        "fc6": fc6,
        "fc7": fc7,
        "logits": logits,
        "probs": torch.softmax(logits, dim=1),
    }


# --------------------------------------------------------------------------
# Self-test
# --------------------------------------------------------------------------

def _self_test():
    import os
    import tempfile

    torch.set_num_threads(2)
    ok = True
    # Layer lists match torchvision's models exactly (module types, order).
    for arch in ARCHS:
        ref = getattr(torchvision.models, arch)(weights=None)
        mine = make_vgg(arch, 1, seed=1) if arch == "vgg11" else \
            make_vgg(arch, 8, seed=1)
        rs = [type(m).__name__ for m in ref.features]
        ms = [type(m).__name__ for m in mine.features]
        names_ref = list(ref.state_dict())
        names_mine = list(mine.state_dict())
        same = rs == ms and names_ref == names_mine
        if arch == "vgg11":
            shapes_ok = all(ref.state_dict()[k].shape ==
                            mine.state_dict()[k].shape for k in names_ref)
            same = same and shapes_ok
        print("layout %-9s %s" % (arch, "ok" if same else "MISMATCH"))
        ok &= same

    # Activation scale.
    for arch in ARCHS:
        m = make_vgg(arch, 8, seed=3)
        x = torch.randn(2, 3, 224, 224, generator=torch.Generator()
                        .manual_seed(5))
        with torch.no_grad():
            o = classifier_outputs(m, x)
        desc = " ".join("%s std %.3g" % (k, float(o[k].std()))
                        for k in ("pool5", "fc6", "fc7", "logits"))
        top = o["logits"].topk(6, dim=1).values
        gap = float((top[:, :-1] - top[:, 1:]).min())
        good = 0.1 < float(o["logits"].std()) < 10 and \
            float(o["pool5"].std()) > 0.01
        print("scale  %-9s %s min top-6 gap %.3g %s" %
              (arch, desc, gap, "ok" if good else "BAD"))
        ok &= good

    # safetensors round trip in every dtype.
    m = make_vgg("vgg11_bn", 8, num_classes=37, seed=2)
    sd = m.state_dict()
    with tempfile.TemporaryDirectory() as d:
        for dt in ("F32", "F16", "BF16"):
            p = os.path.join(d, "m.safetensors")
            meta = {"vgg.name": "test", "format": "pt"}
            n = save_safetensors(p, sd, meta, dtype=dt)
            good = n == os.path.getsize(p)
            with open(p, "rb") as f:
                hlen = struct.unpack("<Q", f.read(8))[0]
            good &= hlen % 8 == 0
            t, md, dts = load_safetensors(p)
            good &= md == meta and list(t) == list(sd)
            rounded = round_state_dict(sd, dt)
            for k, v in sd.items():
                if v.is_floating_point():
                    good &= dts[k] == dt
                    good &= torch.equal(t[k], rounded[k])
                    if dt == "F32":
                        good &= torch.equal(t[k], v)
                else:
                    good &= dts[k] == "I64" and torch.equal(t[k], v)
            if dt != "F32":
                err = max(float((rounded[k] - v).abs().max() /
                                v.abs().max().clamp_min(1e-30))
                          for k, v in sd.items() if v.is_floating_point())
                good &= 0 < err < (1e-3 if dt == "F16" else 1e-2)
            print("safetensors %-4s %d bytes %s" % (dt, n,
                                                     "ok" if good else "BAD"))
            ok &= bool(good)
        # skip_int drops num_batches_tracked
        p = os.path.join(d, "m.safetensors")
        save_safetensors(p, sd, None, skip_int=True)
        t, md, _ = load_safetensors(p)
        good = md == {} and all(k.endswith("num_batches_tracked") ==
                                (k not in t) for k in sd)
        print("safetensors skip_int %s" % ("ok" if good else "BAD"))
        ok &= good
    # BN statistics are non-trivial.
    bn = [mod for mod in m.features if isinstance(mod, nn.BatchNorm2d)]
    good = all(float(b.running_var.sub(1).abs().max()) > 0.01 and
               float(b.running_mean.abs().max()) > 0.01 and
               float(b.weight.sub(1).abs().max()) > 0.01 for b in bn)
    print("bn stats non-trivial %s" % ("ok" if good else "BAD"))
    ok &= good
    print("self-test: %s" % ("PASS" if ok else "FAIL"))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(_self_test())

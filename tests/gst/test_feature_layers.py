#!/usr/bin/python3
"""vgginfer mode=features at any layer, through a real pipeline, against
PyTorch on the same images.

usage: test_feature_layers.py --model FILE (the shipped Fashion-MNIST
model, a torchvision VGG with batch-norm)

The first 16 images of Debian's Fashion-MNIST test set, made RGB 32x32 as
the training script does, are pushed as PNGs through

    appsrc ! pngdec ! vgginfer mode=features feature-layer=L
        feature-pooling=P resize=stretch ! appsink

for layers of every kind (a folded batch-norm module before its ReLU, a
ReLU by module index and by name, each max pool, pool5, fc6) and every
pooling, and the feature vector of each frame (GstVggMeta through GI) is
compared with PyTorch's model.features[:N+1] on the same input, pooled
in torch (mean or amax over H, W; flattened for none).  Bound: the
largest difference within 1e-4 of the largest |value| (float32 sums in
another order), as the parity tests.  Also: with fixed zones covering
the frame, the region's vector equals the frame's; a name the model does
not have fails the pipeline with an error listing those it has; a batch
group refuses a convolution-stage layer and reads fc6.
Prints every case and ends with "N passed, M failed".
"""

import argparse
import os
import struct
import sys
import zlib

import numpy as np
import torch

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstVgg", "1.0")
from gi.repository import Gst, GstVgg  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "models"))
import train_fashion_mnist as fm  # noqa: E402

N_IMAGES = 16
TOLERANCE = 1e-4

# (feature-layer, feature-pooling, torch: index into features or a name)
CASES = [
    ("features.4", "none", 4),   # batch-norm module: folded conv, no ReLU
    ("features.5", "avg", 5),    # relu1_2 by index
    ("relu1_2", "max", 5),
    ("pool1", "none", 6),
    ("relu2_2", "auto", 12),     # auto: avg for the convolution stage
    ("features.13", "max", 13),  # pool2
    ("relu3_1", "none", 16),
    ("pool3", "avg", 20),
    ("pool5", "auto", "pool5"),  # auto: none, the classifier's input
    ("pool5", "avg", "pool5"),
    ("fc6", "max", "fc6"),       # a vector: pooling does not apply
]


def png_rgb(img):
    h, w, _ = img.shape

    def chunk(kind, data):
        body = kind + data
        return (struct.pack(">I", len(data)) + body
                + struct.pack(">I", zlib.crc32(body) & 0xffffffff))

    raw = b"".join(b"\x00" + img[y].tobytes() for y in range(h))
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def run_pipeline(model_path, frames, props):
    """The feature vectors (and the first region's) of the frames; raises
    on an error message."""
    n, h, w, _ = frames.shape
    desc = ("appsrc name=src format=time "
            "caps=image/png,width=%d,height=%d,framerate=30/1 ! pngdec ! "
            "vgginfer model=\"%s\" resize=stretch mode=features %s "
            "post-messages=false batch-size=4 ! appsink name=sink sync=false"
            % (w, h, model_path, props))
    pipeline = Gst.parse_launch(desc)
    src = pipeline.get_by_name("src")
    sink = pipeline.get_by_name("sink")
    src.set_property("max-bytes", 0)
    for i in range(n):
        buf = Gst.Buffer.new_wrapped(png_rgb(frames[i]))
        buf.pts = i * Gst.SECOND // 30
        src.emit("push-buffer", buf)
    src.emit("end-of-stream")
    if pipeline.set_state(Gst.State.PLAYING) == \
            Gst.StateChangeReturn.FAILURE:
        msg = pipeline.get_bus().timed_pop_filtered(
            Gst.SECOND, Gst.MessageType.ERROR)
        pipeline.set_state(Gst.State.NULL)
        raise RuntimeError(msg.parse_error()[0].message if msg else
                           "state change failed without an error message")
    out, regions, layer = [], [], None
    while True:
        sample = sink.emit("try-pull-sample", 30 * Gst.SECOND)
        if sample is None:
            break
        meta = GstVgg.buffer_get_vgg_meta(sample.get_buffer())
        assert meta is not None
        out.append(np.array(meta.get_features() or [], dtype=np.float32))
        layer = meta.get_feature_layer() or layer
        if meta.get_n_regions() > 0:
            regions.append(np.array(meta.get_region_features(0),
                                    dtype=np.float32))
    msg = pipeline.get_bus().timed_pop_filtered(
        10 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
    pipeline.set_state(Gst.State.NULL)
    if msg is None:
        raise AssertionError("no EOS: " + desc)
    if msg.type == Gst.MessageType.ERROR:
        raise RuntimeError(msg.parse_error()[0].message)
    return out, regions, layer


def torch_features(model, x, where, pooling):
    with torch.no_grad():
        if where == "pool5":
            t = model.avgpool(model.features(x))
        elif where == "fc6":
            t = model.classifier[:2](torch.flatten(
                model.avgpool(model.features(x)), 1))
        else:
            t = model.features[:where + 1](x)
        if t.dim() == 4 and pooling == "avg":
            t = t.mean(dim=(2, 3))
        elif t.dim() == 4 and pooling == "max":
            t = t.amax(dim=(2, 3))
        return torch.flatten(t, 1).numpy()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    args = ap.parse_args()
    Gst.init(None)
    torch.manual_seed(0)

    x, _ = fm.load_split("t10k")
    x32 = fm.pad_images(x[:N_IMAGES])
    frames = np.repeat(x32[..., None], 3, axis=3).astype(np.uint8)
    model, _ = fm.load_model(args.model)
    inputs = fm.to_input(x32)
    passed = failed = 0

    def check(ok, what):
        nonlocal passed, failed
        print(("ok   " if ok else "FAIL ") + what)
        if ok:
            passed += 1
        else:
            failed += 1

    for layer, pooling, where in CASES:
        torch_pool = ("none" if where in ("pool5", "fc6") else "avg") \
            if pooling == "auto" else pooling
        ref = torch_features(model, inputs, where, torch_pool)
        got, _, name = run_pipeline(
            args.model, frames,
            "feature-layer=%s feature-pooling=%s" % (layer, pooling))
        ok = len(got) == N_IMAGES and all(
            g.shape == ref[i].shape for i, g in enumerate(got))
        err = max(float(np.abs(g - ref[i]).max()) for i, g in
                  enumerate(got)) if ok else float("inf")
        scale = float(np.abs(ref).max())
        check(ok and err <= TOLERANCE * scale and name == layer,
              "%s pooling %s: %d frames of %s values, layer %s, max |diff| "
              "%.3g (bound %.3g)" % (
                  layer, pooling, len(got), ref.shape[1:], name, err,
                  TOLERANCE * scale))

    # a zone covering the frame: the region's vector is the frame's
    full, _, _ = run_pipeline(args.model, frames,
                              "feature-layer=relu2_1 feature-pooling=max")
    _, zone, _ = run_pipeline(args.model, frames,
                              "feature-layer=relu2_1 feature-pooling=max "
                              "regions=0,0,32,32")
    check(len(zone) == N_IMAGES and all(np.array_equal(a, b)
                                        for a, b in zip(full, zone)),
          "relu2_1 of a zone covering the frame equals the frame's")

    # a name this model does not have: refused, listing those it has
    try:
        run_pipeline(args.model, frames, "feature-layer=relu5_3")
        check(False, "feature-layer=relu5_3 ran")
    except RuntimeError as e:
        check("relu5_3" in str(e) and "relu3_2" in str(e)
              and "pool3" in str(e), "feature-layer=relu5_3 refused: %s" % e)

    # a batch group's worker reads the classifier's outputs only
    try:
        run_pipeline(args.model, frames,
                     "feature-layer=relu2_1 batch-group=feature-layers")
        check(False, "relu2_1 in a batch group ran")
    except RuntimeError as e:
        check("batch-group" in str(e) and "relu2_1" in str(e),
              "relu2_1 in a batch group refused: %s" % e)
    got, _, _ = run_pipeline(args.model, frames,
                             "feature-layer=fc6 batch-group=feature-layers")
    ref = torch_features(model, inputs, "fc6", "none")
    check(len(got) == N_IMAGES and max(
        float(np.abs(g - ref[i]).max()) for i, g in enumerate(got))
        <= TOLERANCE * float(np.abs(ref).max()),
        "fc6 in a batch group")

    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

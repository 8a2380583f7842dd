#!/usr/bin/python3
"""End-to-end accuracy: Fashion-MNIST test images through a real pipeline.

usage: test_e2e_fashion.py --model FILE [--count N] [--batch-size B]
                           [--precision bf16 --vgg-run PATH]

The first N images of Debian's Fashion-MNIST test set (all 10000 by
default), padded to 32x32 and made RGB exactly as the training script does,
are encoded as PNG files in memory and pushed through

    appsrc ! pngdec ! vgginfer model=FILE resize=stretch top-k=1 ! appsink

(frames at the model's input size: the element's conversion is an
identity).  The top-1 class of each frame is read from its GstVggMeta
(PyGObject, GstVgg typelib).  PyTorch (Debian's python3-torch) runs the
same model file on the same images independently.  Asserts:

- every frame comes out, once, in order, with a meta naming the model;
- the pipeline's top-1 agrees with PyTorch's on >= 99.9% of the images;
- |accuracy(pipeline) - accuracy(PyTorch)| <= 0.1 percentage point;
- the shipped model's PyTorch accuracy on these images is >= 92%.

With --precision bf16 the element runs with precision=bf16 and, besides
the first two checks, the pipeline's accuracy and that of the engine alone
(vgg-run --precision bf16 on the same images, normalized as the training
script does) must each be within 0.2 percentage point of PyTorch's float32
accuracy; both are printed.

Prints both accuracies and every disagreeing image index (with PyTorch's
two best logits), and ends with "N passed, M failed".
GST_PLUGIN_PATH, GI_TYPELIB_PATH and LD_LIBRARY_PATH point at the build.
"""

import argparse
import os
import struct
import sys
import time
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

MIN_AGREEMENT = 0.999
MAX_ACC_DIFF = 0.001
MIN_ACCURACY = 0.92
MAX_BF16_ACC_DIFF = 0.002


def png_rgb(img):
    """A PNG file (bytes) of the uint8 (H, W, 3) image, no filtering."""
    h, w, _ = img.shape

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data +
                struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff))

    rows = np.concatenate([np.zeros((h, 1), np.uint8),
                           img.reshape(h, w * 3)], axis=1)
    return (b"\x89PNG\r\n\x1a\n" +
            chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(rows.tobytes(), 6)) +
            chunk(b"IEND", b""))


def run_pipeline(model_path, frames, batch_size, threads, precision):
    """Pushes the uint8 (N, H, W, 3) frames as PNGs; returns the list of
    (pts, model name, top-1 class id or None) of the frames that came out."""
    n, h, w, _ = frames.shape
    dur = Gst.SECOND // 30
    desc = ("appsrc name=src format=time "
            "caps=image/png,width=%d,height=%d,framerate=30/1 ! "
            "pngdec ! vgginfer name=infer model=\"%s\" resize=stretch "
            "top-k=1 batch-size=%d threads=%d precision=%s "
            "post-messages=false ! appsink name=sink sync=false"
            % (w, h, model_path, batch_size, threads, precision))
    print("pipeline: " + desc)
    pipeline = Gst.parse_launch(desc)
    src = pipeline.get_by_name("src")
    sink = pipeline.get_by_name("sink")
    src.set_property("max-bytes", 0)  # queue everything; never drops
    for i in range(n):
        buf = Gst.Buffer.new_wrapped(png_rgb(frames[i]))
        buf.pts = i * dur
        buf.duration = dur
        ret = src.emit("push-buffer", buf)
        assert ret == Gst.FlowReturn.OK, (i, ret)
    src.emit("end-of-stream")

    out = []
    pipeline.set_state(Gst.State.PLAYING)
    bus = pipeline.get_bus()
    while True:
        sample = sink.emit("try-pull-sample", 30 * Gst.SECOND)
        if sample is None:
            break
        buf = sample.get_buffer()
        meta = GstVgg.buffer_get_vgg_meta(buf)
        if meta is None or meta.get_n_results() < 1:
            out.append((buf.pts, None, None))
            continue
        ok, class_id, _score, _label = meta.get_result(0)
        out.append((buf.pts, meta.get_model_name(), class_id if ok else None))
    msg = bus.timed_pop_filtered(10 * Gst.SECOND,
                                 Gst.MessageType.EOS | Gst.MessageType.ERROR)
    pipeline.set_state(Gst.State.NULL)
    if msg is None or msg.type != Gst.MessageType.EOS:
        detail = msg.parse_error() if msg is not None else "timeout"
        raise AssertionError("pipeline did not reach EOS: %s" % (detail,))
    return out, dur


def engine_accuracy(vgg_run, model_path, x32, labels, threads):
    """Top-1 accuracy of vgg-run --precision bf16 on the images."""
    import subprocess
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        np.save(os.path.join(d, "in.npy"),
                fm.to_input(x32).numpy().astype(np.float32))
        subprocess.run([vgg_run, "--model", model_path, "--input",
                        os.path.join(d, "in.npy"), "--output",
                        os.path.join(d, "out.npy"), "--threads",
                        str(threads), "--precision", "bf16"], check=True)
        pred = np.load(os.path.join(d, "out.npy")).argmax(1)
    return float((pred == labels).mean())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--count", type=int, default=10000)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    ap.add_argument("--vgg-run", help="vgg-run, for the engine's accuracy")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    Gst.init(None)
    xte, yte = fm.load_split("t10k")
    n = min(args.count, len(xte))
    # the bf16 run under the sanitizers: 2000 images (the fp32 run there
    # takes all 10000 through the same code)
    if args.precision == "bf16" and os.environ.get("VGG_TEST_INSTRUMENTED"):
        n = min(n, 2000)
    x32, labels = fm.pad_images(xte[:n]), yte[:n]
    frames = np.repeat(x32[:, :, :, None], 3, axis=3)

    model, md = fm.load_model(args.model)
    with torch.no_grad():
        logits = fm.predict(model, x32)
    torch_pred = logits.argmax(1).numpy()

    t0 = time.time()
    out, dur = run_pipeline(args.model, frames, args.batch_size, args.threads,
                            args.precision)
    elapsed = time.time() - t0

    passed = failed = 0

    def check(ok, what):
        nonlocal passed, failed
        print("%s: %s" % ("ok" if ok else "FAIL", what))
        if ok:
            passed += 1
        else:
            failed += 1

    pts = [p for p, _, _ in out]
    check(len(out) == n and pts == [i * dur for i in range(n)],
          "%d frames in, %d out, in order" % (n, len(out)))
    missing = [i for i, (_, name, c) in enumerate(out) if c is None]
    names = {name for _, name, _ in out}
    check(not missing and names == {md["vgg.name"]},
          "every frame has a meta of model %r (missing: %s, names %s)"
          % (md["vgg.name"], missing[:20], sorted(map(str, names))))

    if len(out) == n and not missing:
        pipe_pred = np.array([c for _, _, c in out])
        agree = float((pipe_pred == torch_pred).mean())
        acc_pipe = float((pipe_pred == labels).mean())
        acc_torch = float((torch_pred == labels).mean())
        print("accuracy over %d images: pipeline %.2f%%, PyTorch %.2f%%; "
              "top-1 agreement %.3f%% (%.1f s through the pipeline)"
              % (n, 100 * acc_pipe, 100 * acc_torch, 100 * agree, elapsed))
        for i in np.nonzero(pipe_pred != torch_pred)[0]:
            top2 = logits[i].topk(2)
            print("  image %d: pipeline %d, PyTorch %d (logits %.5f, %.5f "
                  "for %d, %d), label %d"
                  % (i, pipe_pred[i], torch_pred[i], top2.values[0],
                     top2.values[1], top2.indices[0], top2.indices[1],
                     labels[i]))
        if args.precision == "bf16":
            check(abs(acc_pipe - acc_torch) <= MAX_BF16_ACC_DIFF + 1e-12,
                  "bf16 pipeline |%.2f%% - %.2f%% (PyTorch fp32)| <= %.1f pt"
                  % (100 * acc_pipe, 100 * acc_torch,
                     100 * MAX_BF16_ACC_DIFF))
        else:
            check(agree >= MIN_AGREEMENT,
                  "top-1 agreement %.3f%% >= %.1f%%" %
                  (100 * agree, 100 * MIN_AGREEMENT))
            check(abs(acc_pipe - acc_torch) <= MAX_ACC_DIFF + 1e-12,
                  "|%.2f%% - %.2f%%| <= %.1f pt" %
                  (100 * acc_pipe, 100 * acc_torch, 100 * MAX_ACC_DIFF))
            check(acc_torch >= MIN_ACCURACY,
                  "model accuracy (PyTorch) %.2f%% >= %.0f%%" %
                  (100 * acc_torch, 100 * MIN_ACCURACY))
    if args.precision == "bf16" and args.vgg_run:
        acc_engine = engine_accuracy(args.vgg_run, args.model, x32, labels,
                                     args.threads)
        acc_torch = float((torch_pred == labels).mean())
        check(abs(acc_engine - acc_torch) <= MAX_BF16_ACC_DIFF + 1e-12,
              "bf16 engine (vgg-run) |%.2f%% - %.2f%% (PyTorch fp32)| <= "
              "%.1f pt" % (100 * acc_engine, 100 * acc_torch,
                           100 * MAX_BF16_ACC_DIFF))
    print("fashion-e2e: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())

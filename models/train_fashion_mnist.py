#!/usr/bin/python3
"""Trains the small VGG that gst-vgg ships, on Fashion-MNIST.

usage:
  /usr/bin/python3 models/train_fashion_mnist.py [--out FILE] [--epochs N]
  /usr/bin/python3 models/train_fashion_mnist.py --eval FILE

The network is torchvision's `VGG` class (modules `features`, `avgpool`,
`classifier`) built by torchvision's own `make_layers` from the
configuration CFG below, with batch-norm, and a narrowed classifier
(C*7*7 -> 256 -> 256 -> 10).  Input: the 28x28 gray image padded with
zeros to 32x32, replicated to 3 channels, scaled to [0, 1] and normalized
with MEAN/STD; these, the labels, the input size and a name are written in
the safetensors `__metadata__` (`vgg.*` keys, read by vggcore).

Data: Debian's `dataset-fashion-mnist` (idx files read with numpy; no
download).  Fixed seeds, deterministic data order and augmentation (random
shifts of up to 2 pixels and horizontal flips, drawn from a seeded numpy
generator), 2 CPU threads, SGD with Nesterov momentum and a one-cycle
learning rate.

After training, the model is written, read back from the file and its
test-set accuracy measured with PyTorch on the 10000 test images; that
figure is printed (and `--eval FILE` measures it again for any file).
Run it with /usr/bin/python3 (Debian's python3-torch, python3-torchvision
and python3-numpy).
"""

import argparse
import gzip
import os
import struct
import sys
import time

# Two busy OpenMP threads on a shared 2-core machine: let idle threads
# sleep instead of spinning (much faster when other jobs run).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
from torchvision.models.vgg import VGG, make_layers  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "python"))
import vggtorch  # noqa: E402  (the project's one safetensors writer)

DATA_DIR = "/usr/share/datasets/fashion-mnist"
CFG = [16, 16, "M", 32, 32, "M", 64, 64, "M"]
HIDDEN = 256
LABELS = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
          "Shirt", "Sneaker", "Bag", "Ankle boot"]
# mean and std of the training images' pixels (28x28, in [0, 1]), rounded
MEAN = 0.286
STD = 0.353
SIZE = 32
PAD = (SIZE - 28) // 2
NAME = "fashion-vgg"
THREADS = 2
SEED = 20240604
DEFAULT_OUT = os.path.join(HERE, "fashion-vgg.safetensors")


def read_idx(path):
    """An idx file (gzip'd) as a numpy uint8 array: (N, 28, 28) images or
    (N,) labels."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    magic, n = struct.unpack(">II", raw[:8])
    if magic == 2051:
        rows, cols = struct.unpack(">II", raw[8:16])
        arr = np.frombuffer(raw, dtype=np.uint8, offset=16)
        shape = (n, rows, cols)
    elif magic == 2049:
        arr = np.frombuffer(raw, dtype=np.uint8, offset=8)
        shape = (n,)
    else:
        raise ValueError("%s: not an idx ubyte file (magic %#x)" %
                         (path, magic))
    if arr.size != int(np.prod(shape)):
        raise ValueError("%s: %d values, expected %s" %
                         (path, arr.size, shape))
    return arr.reshape(shape)


def load_split(split, data_dir=DATA_DIR):
    """(images uint8 (N, 28, 28), labels int64 (N,)) of "train" or "t10k"."""
    x = read_idx(os.path.join(data_dir, "%s-images-idx3-ubyte.gz" % split))
    y = read_idx(os.path.join(data_dir, "%s-labels-idx1-ubyte.gz" % split))
    return x, y.astype(np.int64)


def pad_images(x):
    """uint8 (N, 28, 28) -> uint8 (N, 32, 32): zero border of PAD pixels."""
    return np.pad(x, ((0, 0), (PAD, PAD), (PAD, PAD)))


def to_input(x32):
    """uint8 (N, H, W) gray -> normalized float32 tensor (N, 3, H, W), the
    way vggcore preprocesses an RGB frame whose three channels are equal."""
    t = torch.from_numpy(np.ascontiguousarray(x32)).to(torch.float32) / 255.0
    t = (t - MEAN) / STD
    return t.unsqueeze(1).expand(-1, 3, -1, -1).contiguous()


def make_model():
    """The network, in torchvision's VGG layout, with torch's default
    initialization (seed it first)."""
    model = VGG(make_layers(list(CFG), batch_norm=True), num_classes=10,
                init_weights=True)
    c = [v for v in CFG if v != "M"][-1]
    model.classifier[0] = nn.Linear(c * 7 * 7, HIDDEN)
    model.classifier[3] = nn.Linear(HIDDEN, HIDDEN)
    model.classifier[6] = nn.Linear(HIDDEN, len(LABELS))
    for i in (0, 3, 6):
        nn.init.normal_(model.classifier[i].weight, 0, 0.01)
        nn.init.zeros_(model.classifier[i].bias)
    return model


def metadata(extra=None):
    md = {
        "format": "pt",
        "vgg.name": NAME,
        "vgg.labels": "\n".join(LABELS),
        "vgg.mean": "%g,%g,%g" % (MEAN, MEAN, MEAN),
        "vgg.std": "%g,%g,%g" % (STD, STD, STD),
        "vgg.input_size": "%dx%d" % (SIZE, SIZE),
    }
    md.update(extra or {})
    return md


def load_model(path):
    """A model file written by this script, as an eval() torch model, and
    its metadata."""
    tensors, md, _ = vggtorch.load_safetensors(path)
    model = make_model()
    model.load_state_dict(tensors, strict=True)
    model.eval()
    return model, md


@torch.no_grad()
def predict(model, x32, batch=500):
    """Logits (N, 10) of the padded uint8 images x32 (N, 32, 32)."""
    model.eval()
    out = []
    for i in range(0, len(x32), batch):
        out.append(model(to_input(x32[i:i + batch])))
    return torch.cat(out)


def augment(rng, xb):
    """Random shifts of up to PAD pixels and horizontal flips of a batch of
    padded uint8 images (N, 32, 32), from the seeded generator rng."""
    n = len(xb)
    big = np.pad(xb, ((0, 0), (PAD, PAD), (PAD, PAD)))
    dy = rng.integers(0, 2 * PAD + 1, n)
    dx = rng.integers(0, 2 * PAD + 1, n)
    flip = rng.random(n) < 0.5
    out = np.empty_like(xb)
    for i in range(n):
        img = big[i, dy[i]:dy[i] + SIZE, dx[i]:dx[i] + SIZE]
        out[i] = img[:, ::-1] if flip[i] else img
    return out


def train(args):
    torch.set_num_threads(args.threads)
    torch.manual_seed(SEED)
    torch.use_deterministic_algorithms(True)
    rng = np.random.default_rng(SEED)

    xtr, ytr = load_split("train")
    xte, yte = load_split("t10k")
    m = xtr.astype(np.float64) / 255.0
    print("train %d images, test %d; pixel mean %.4f std %.4f "
          "(metadata %.3f %.3f)" % (len(xtr), len(xte), m.mean(), m.std(),
                                   MEAN, STD), flush=True)
    del m
    xtr32, xte32 = pad_images(xtr), pad_images(xte)
    ytr_t = torch.from_numpy(ytr)

    model = make_model()
    n_params = sum(p.numel() for p in model.parameters())
    print("model: features %s, classifier %d-%d-%d-10, %d parameters" %
          (CFG, model.classifier[0].in_features, HIDDEN, HIDDEN, n_params),
          flush=True)
    decay = [p for n, p in model.named_parameters()
             if p.ndim > 1]
    no_decay = [p for n, p in model.named_parameters() if p.ndim <= 1]
    opt = torch.optim.SGD([{"params": decay, "weight_decay": 5e-4},
                           {"params": no_decay, "weight_decay": 0.0}],
                          lr=args.lr, momentum=0.9, nesterov=True)
    steps_per_epoch = (len(xtr32) + args.batch - 1) // args.batch
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=args.lr, epochs=args.epochs,
        steps_per_epoch=steps_per_epoch, pct_start=0.15,
        div_factor=20.0, final_div_factor=200.0)
    loss_fn = nn.CrossEntropyLoss()

    t0 = time.time()
    for epoch in range(args.epochs):
        model.train()
        order = rng.permutation(len(xtr32))
        tot_loss, tot_ok = 0.0, 0
        for s in range(steps_per_epoch):
            idx = order[s * args.batch:(s + 1) * args.batch]
            xb = to_input(augment(rng, xtr32[idx]))
            yb = ytr_t[idx]
            opt.zero_grad(set_to_none=True)
            logits = model(xb)
            loss = loss_fn(logits, yb)
            loss.backward()
            opt.step()
            sched.step()
            tot_loss += float(loss) * len(idx)
            tot_ok += int((logits.argmax(1) == yb).sum())
            if args.verbose and (s + 1) % 50 == 0:
                print("  step %d/%d loss %.4f %.0f s" %
                      (s + 1, steps_per_epoch, float(loss),
                       time.time() - t0), flush=True)
        test_acc = float((predict(model, xte32).argmax(1).numpy() == yte)
                         .mean())
        print("epoch %2d/%d  loss %.4f  train acc %.2f%%  test acc %.2f%%  "
              "%.0f s" % (epoch + 1, args.epochs, tot_loss / len(xtr32),
                          100.0 * tot_ok / len(xtr32), 100.0 * test_acc,
                          time.time() - t0), flush=True)
    train_s = time.time() - t0

    model.eval()
    sd = {k: v for k, v in model.state_dict().items()}
    extra = {"vgg.training": "models/train_fashion_mnist.py --epochs %d "
             "--batch %d --lr %g (seed %d)" % (args.epochs, args.batch,
                                               args.lr, SEED)}
    n = vggtorch.save_safetensors(args.out, sd, metadata(extra), dtype="F32")
    print("wrote %s (%d bytes) after %.0f s of training" %
          (args.out, n, train_s), flush=True)
    return evaluate(args.out)


def evaluate(path):
    torch.set_num_threads(THREADS)
    model, md = load_model(path)
    xte, yte = load_split("t10k")
    pred = predict(model, pad_images(xte)).argmax(1).numpy()
    acc = float((pred == yte).mean())
    per_class = ["%s %.1f%%" % (LABELS[c], 100.0 * float(
        (pred[yte == c] == c).mean())) for c in range(len(LABELS))]
    print("per class: " + ", ".join(per_class))
    print("test accuracy (PyTorch, %s, %d images): %.2f%%" %
          (os.path.basename(path), len(yte), 100.0 * acc), flush=True)
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--threads", type=int, default=THREADS)
    ap.add_argument("--verbose", action="store_true",
                    help="print the loss every 50 steps")
    ap.add_argument("--eval", metavar="FILE",
                    help="only measure the test accuracy of FILE")
    args = ap.parse_args()
    if args.eval:
        return evaluate(args.eval)
    return train(args)


if __name__ == "__main__":
    raise SystemExit(main())

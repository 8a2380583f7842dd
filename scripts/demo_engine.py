#!/usr/bin/python3
"""The engine demo: torchvision writes a full-size VGG16 (random weights:
pretrained ones cannot be downloaded here) with ImageNet labels in its
metadata; vgg-inspect describes it, vgg-run classifies a batch of pictures,
and the logits and top-5 labels are compared with torchvision's own.

usage: scripts/demo_engine.py BUILD_DIR
"""

import os
import subprocess
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "python"))
import vggtorch  # noqa: E402

MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)


def pictures(n, h, w):
    """Smooth colour gradients and rings, normalized NCHW float32."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    out = []
    for i in range(n):
        r = np.hypot(y - h / 2, x - w / 2) / (8 + 6 * i)
        img = np.stack([0.5 + 0.5 * np.sin(r + i),
                        x / w,
                        0.5 + 0.5 * np.cos(y / (10 + 5 * i))], axis=-1)
        out.append((img - MEAN) / STD)
    return np.ascontiguousarray(np.stack(out).transpose(0, 3, 1, 2))


def main():
    build = sys.argv[1]
    tools = os.path.join(build, "vggcore", "tools")
    work = os.path.join(build, "demo")
    os.makedirs(work, exist_ok=True)
    labels = open(os.path.join(HERE, "..", "models",
                               "imagenet-labels.txt")).read().splitlines()

    model = vggtorch.make_vgg("vgg16", 1, seed=2024)
    path = os.path.join(work, "vgg16-random.safetensors")
    if not os.path.exists(path):
        vggtorch.save_safetensors(path, model.state_dict(), {
            "vgg.name": "vgg16 (torchvision, random weights)",
            "vgg.labels": "\n".join(labels) + "\n"})
    print("$ vgg-inspect %s" % path, flush=True)
    subprocess.run([os.path.join(tools, "vgg-inspect"), path], check=True)

    x = pictures(4, 224, 224)
    np.save(os.path.join(work, "pictures.npy"), x)
    cmd = [os.path.join(tools, "vgg-run"), "--model", path, "--input",
           os.path.join(work, "pictures.npy"), "--output",
           os.path.join(work, "probs.npy"), "--layer", "probs",
           "--threads", "2"]
    print("\n$ " + " ".join(os.path.basename(c) if i == 0 else c
                            for i, c in enumerate(cmd)), flush=True)
    subprocess.run(cmd, check=True)
    got = np.load(os.path.join(work, "probs.npy"))
    torch.set_num_threads(2)
    with torch.no_grad():
        want = torch.softmax(model(torch.from_numpy(x)), 1).numpy()
    worst = 0.0
    for i in range(len(x)):
        g5 = np.argsort(-got[i])[:5]
        w5 = np.argsort(-want[i])[:5]
        diff = np.max(np.abs(got[i] - want[i])) / np.max(np.abs(want[i]))
        worst = max(worst, diff)
        print("picture %d: vggcore top-5 %s" % (i, ", ".join(
            "%s %.4f" % (labels[k], got[i][k]) for k in g5)))
        print("           torchvision %s %s" % (
            "same top-5," if list(g5) == list(w5) else "DIFFERENT top-5:",
            "max|diff|/max = %.2e" % diff))
    ok = worst <= 1e-4 and all(
        list(np.argsort(-got[i])[:5]) == list(np.argsort(-want[i])[:5])
        for i in range(len(x)))
    print("\nparity with torchvision: %s (worst relative difference %.2e)" %
          ("yes" if ok else "NO", worst))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

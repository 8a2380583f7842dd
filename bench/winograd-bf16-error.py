#!/usr/bin/python3
"""Why bf16 convolutions do not run Winograd on vdpbf16ps: the error of
rounding Winograd's transformed tiles to bf16, against a direct bf16
convolution, layer by layer on torchvision's VGG16.

vdpbf16ps multiplies bf16 pairs; Winograd's multiply stage could run on it
only with the transformed input tiles V = B^T d B and filters U = G g G^T
rounded to bf16.  For five of VGG16's convolutions (random weights made
by torchvision, seed 0; the input of each layer from the float64 forward
pass of a random image), this prints the error against the exact (float64)
convolution of the fp32 values, as max|err| / max|ref| and rms(err) /
rms(ref), of:
  direct-bf16   input and weights rounded to bf16, products summed exactly
                (what the engine's bf16 mode computes);
  F2/F4/F6      the same rounded input and weights, then V and U rounded to
                bf16 as well (F(2x2), F(4x4) with the engine's points
                0, +-1, +-2, F(6x6) with 0, +-1, +-1/2, +-2).
Usage: /usr/bin/python3 bench/winograd-bf16-error.py [--seed 0]
"""

import argparse

import torch
import torchvision

F2 = dict(BT=[[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]],
          G=[[1, 0, 0], [.5, .5, .5], [.5, -.5, .5], [0, 0, 1]],
          AT=[[1, 1, 1, 0], [0, 1, -1, -1]])
F4 = dict(BT=[[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0],
              [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]],
          G=[[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6],
             [1 / 24, 1 / 12, 1 / 6], [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]],
          AT=[[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0],
              [0, 1, -1, 8, -8, 1]])
F6 = dict(BT=[[1, 0, -21 / 4, 0, 21 / 4, 0, -1, 0],
              [0, 1, 1, -17 / 4, -17 / 4, 1, 1, 0],
              [0, -1, 1, 17 / 4, -17 / 4, -1, 1, 0],
              [0, 1 / 2, 1 / 4, -5 / 2, -5 / 4, 2, 1, 0],
              [0, -1 / 2, 1 / 4, 5 / 2, -5 / 4, -2, 1, 0],
              [0, 2, 4, -5 / 2, -5, 1 / 2, 1, 0],
              [0, -2, 4, 5 / 2, -5, -1 / 2, 1, 0],
              [0, -1, 0, 21 / 4, 0, -21 / 4, 0, 1]],
          G=[[1, 0, 0], [-2 / 9, -2 / 9, -2 / 9], [-2 / 9, 2 / 9, -2 / 9],
             [1 / 90, 1 / 45, 2 / 45], [1 / 90, -1 / 45, 2 / 45],
             [32 / 45, 16 / 45, 8 / 45], [32 / 45, -16 / 45, 8 / 45],
             [0, 0, 1]],
          AT=[[1, 1, 1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 1 / 2, -1 / 2, 0],
              [0, 1, 1, 4, 4, 1 / 4, 1 / 4, 0],
              [0, 1, -1, 8, -8, 1 / 8, -1 / 8, 0],
              [0, 1, 1, 16, 16, 1 / 16, 1 / 16, 0],
              [0, 1, -1, 32, -32, 1 / 32, -1 / 32, 1]])


def bf16(x):
    """x rounded to bf16 (nearest even), as float64."""
    return x.float().bfloat16().double()


def winograd_bf16(x, w, f, r):
    """3x3 convolution (padding 1) of x (n, c, h, w) by w (o, c, 3, 3) by
    F(r x r, 3x3) with V and U rounded to bf16, the rest exact."""
    bt, g, at = (torch.tensor(f[k], dtype=torch.float64)
                 for k in ("BT", "G", "AT"))
    t = r + 2
    n, c, h, wd = x.shape
    th, tw = (h + r - 1) // r, (wd + r - 1) // r
    xp = torch.zeros(n, c, th * r + 2, tw * r + 2, dtype=torch.float64)
    xp[:, :, 1:h + 1, 1:wd + 1] = x
    d = xp.unfold(2, t, r).unfold(3, t, r)
    v = bf16(torch.einsum("ij,nctwjk,lk->nctwil", bt, d, bt))
    u = bf16(torch.einsum("ij,ocjk,lk->ocil", g, w, g))
    m = torch.einsum("nctwil,ocil->notwil", v, u)
    y = torch.einsum("ij,notwjk,lk->notwil", at, m, at)
    return y.permute(0, 1, 2, 4, 3, 5).reshape(
        n, -1, th * r, tw * r)[:, :, :h, :wd]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    model = torchvision.models.vgg16().double().eval()
    mean = torch.tensor([0.485, 0.456, 0.406], dtype=torch.float64)
    std = torch.tensor([0.229, 0.224, 0.225], dtype=torch.float64)
    x = (torch.rand(1, 3, 224, 224, dtype=torch.float64)
         - mean.view(1, 3, 1, 1)) / std.view(1, 3, 1, 1)
    inputs = {}
    with torch.no_grad():
        for i, layer in enumerate(model.features):
            if isinstance(layer, torch.nn.Conv2d):
                inputs[i] = x
            x = layer(x)
        for i in (2, 7, 12, 19, 26):
            conv = model.features[i]
            ref = torch.nn.functional.conv2d(inputs[i], conv.weight,
                                             padding=1)
            xb, wb = bf16(inputs[i]), bf16(conv.weight)
            ys = [("direct-bf16",
                   torch.nn.functional.conv2d(xb, wb, padding=1))]
            ys += [(name, winograd_bf16(xb, wb, f, r))
                   for name, f, r in (("F2", F2, 2), ("F4", F4, 4),
                                      ("F6", F6, 6))]
            cells = []
            for name, y in ys:
                e = y - ref
                cells.append("%s %.2e / %.2e" % (
                    name, (e.abs().max() / ref.abs().max()).item(),
                    (e.norm() / ref.norm()).item()))
            n, c, h, w = inputs[i].shape
            print("features.%-2d %3dx%-3d c %3d:  %s" % (
                i, h, w, c, "   ".join(cells)), flush=True)


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""vggcore's bf16 precision (vgg-run --precision bf16) against torchvision.

usage: test_bf16.py --vgg-run PATH --workdir DIR [--full] [--isa LEVEL]

For each model (random weights made by torchvision, see vggtorch.py;
batch 2 at 224x224), against torchvision's float32 model:
  - the relative logit error max|engine - fp32| / max|fp32| is at most
    BF16_RTOL (stated below, from measurement) and at least 1e-4 (the
    float32 engine is at 1e-5 or better: the mode really rounds);
  - the cosine similarity of every image's fc7 is at least 0.999.
Two bf16 implementations do not agree more closely than this with each
other: rounding every layer's input makes a difference of one float32 ulp
in a sum flip a bf16 rounding now and then, and the flips spread through
the layers.  The exactness of the rules is tested layer by layer instead
(tests/engine/test-layers.c: linear-bf16, the bf16 epilogue).

Small models (every architecture, widths / 8) always; with --full also
full-size vgg16 and vgg19_bn.  --isa LEVEL runs the engine at that kernel
level (VGG_ISA) and skips (exit 77) on a CPU without it, as test_parity.py.
Ends with `bf16: N passed, M failed`.  Run with /usr/bin/python3.
"""

import argparse
import os
import subprocess
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vggtorch  # noqa: E402
from test_parity import (make_input, select_isa, THREADS,  # noqa: E402
                         TEST_WRAPPER)

# measured with this test on AMD Zen 5 (README, "Precision"): full-size
# vgg16 8.97e-3 and vgg19_bn 2.61e-2 (fc7 cosine 0.99997 and 0.99947);
# small models up to 3.34e-2 (vgg19_bn
# at width / 8, whose batch-norm layers scale up the rounding noise)
BF16_RTOL = 5e-2
MIN_RTOL = 1e-4
MIN_COSINE = 0.999


def run_engine(vgg_run, model_path, in_path, out_path, layer):
    cmd = TEST_WRAPPER + [vgg_run, "--model", model_path, "--input", in_path,
                          "--output", out_path, "--layer", layer,
                          "--threads", str(THREADS), "--precision", "bf16"]
    subprocess.run(cmd, check=True, capture_output=True)
    return np.load(out_path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--vgg-run", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--full", action="store_true")
    ap.add_argument("--isa")
    args = ap.parse_args()
    torch.set_num_threads(THREADS)
    os.makedirs(args.workdir, exist_ok=True)
    if args.isa and not select_isa(args.vgg_run, args.isa):
        return 77
    cases = [(arch, 8, 700 + i) for i, arch in enumerate(vggtorch.ARCHS)]
    if args.full and not os.environ.get("VGG_TEST_INSTRUMENTED"):
        cases += [("vgg16", 1, 500), ("vgg19_bn", 1, 501)]
    passed = failed = 0
    for arch, div, seed in cases:
        name = "%s%s" % (arch, "" if div == 1 else "-w%d" % div)
        model = vggtorch.make_vgg(arch, div, seed=seed)
        path = os.path.join(args.workdir, name + ".safetensors")
        vggtorch.save_safetensors(path, model.state_dict())
        x = make_input(seed, 2, 224, 224)
        in_path = os.path.join(args.workdir, name + "-in.npy")
        np.save(in_path, x)
        with torch.no_grad():
            ref = vggtorch.classifier_outputs(model, torch.from_numpy(x))
        got = {layer: run_engine(args.vgg_run, path, in_path,
                                 os.path.join(args.workdir, name + "-out.npy"),
                                 layer) for layer in ("logits", "fc7")}
        os.unlink(path)
        fp32 = ref["logits"].numpy().astype(np.float64)
        rel = float(np.abs(got["logits"] - fp32).max() / np.abs(fp32).max())
        a, b = got["fc7"].astype(np.float64), ref["fc7"].numpy()
        cos = float(min((a[i] @ b[i]) / (np.linalg.norm(a[i]) *
                                         np.linalg.norm(b[i]) + 1e-30)
                        for i in range(a.shape[0])))
        ok = MIN_RTOL <= rel <= BF16_RTOL and cos >= MIN_COSINE
        passed += ok
        failed += not ok
        print("%s %s: logits vs fp32 %.2e (%g to %g), fc7 cosine %.6f "
              "(>= %g)" % ("ok  " if ok else "FAIL", name, rel, MIN_RTOL,
                           BF16_RTOL, cos, MIN_COSINE), flush=True)
    print("bf16: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

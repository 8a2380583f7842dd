#!/bin/sh
# The engine demo: installs what is missing, builds, then shows the engine
# on a full-size VGG16 written by torchvision (inspect, classify, parity
# with torchvision) and its speed against PyTorch on this machine.
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
/usr/bin/python3 scripts/demo_engine.py build
echo
echo "$ bench/compare.py --arch vgg16 --batch 8 --engines vggcore-fp32,vggcore-bf16,pytorch-fp32 --rounds 1"
/usr/bin/python3 bench/compare.py --arch vgg16 --batch 8 --threads 2 --iters 3 \
    --rounds 1 --engines vggcore-fp32,vggcore-bf16,pytorch-fp32

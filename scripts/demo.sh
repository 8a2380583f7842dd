#!/bin/sh
# The main job: installs what is missing, builds, then runs the pipeline
# demo: Fashion-MNIST test images through vgginfer ! vggoverlay into an
# annotated video and a PNG snapshot (build/demo/), with the label of every
# frame and the accuracy over the clip.  Options go to
# scripts/demo_pipeline.py (--frames, --first, --size, --model, ...).
# The engine demo (VGG16 against torchvision and PyTorch) is
# scripts/demo-engine.sh.
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
exec /usr/bin/python3 scripts/demo_pipeline.py --build build "$@"

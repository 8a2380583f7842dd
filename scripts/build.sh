#!/bin/sh
# Configures (once) and builds gst-vgg in ./build.
set -eu
cd "$(dirname "$0")/.."
if [ ! -f build/build.ninja ]; then
    meson setup build --buildtype=release -Dwerror=true
fi
ninja -C build

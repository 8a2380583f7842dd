#!/bin/sh
# Classifies a camera's frames and prints the results from the bus.
#   examples/launch/camera.sh MODEL
# Frames that arrive while the network is busy pass without inference
# (leaky=skip), so the camera never stalls.  SOURCE replaces the camera
# (default "v4l2src").
set -eu
MODEL=${1:?usage: camera.sh MODEL}
SOURCE=${SOURCE:-v4l2src}
# shellcheck disable=SC2086
exec gst-launch-1.0 -m $SOURCE ! videoconvert ! \
    vgginfer model="$MODEL" top-k=3 leaky=skip ! \
    fakesink

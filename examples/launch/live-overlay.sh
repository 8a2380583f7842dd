#!/bin/sh
# Draws the labels and a top-k bar chart on live camera video in a window.
#   examples/launch/live-overlay.sh MODEL
# SOURCE replaces the camera (default "v4l2src"), SINK the window (default
# "autovideosink").
set -eu
MODEL=${1:?usage: live-overlay.sh MODEL}
SOURCE=${SOURCE:-v4l2src}
SINK=${SINK:-autovideosink}
# shellcheck disable=SC2086
exec gst-launch-1.0 $SOURCE ! videoconvert ! \
    vgginfer model="$MODEL" top-k=3 leaky=skip ! \
    videoconvert ! vggoverlay ! videoconvert ! $SINK

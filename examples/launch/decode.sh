#!/bin/sh
# Decodes any video file (decodebin picks the demuxer and decoder),
# classifies every frame and prints the results from the bus.
#   examples/launch/decode.sh MODEL FILE
set -eu
MODEL=${1:?usage: decode.sh MODEL FILE}
FILE=${2:?usage: decode.sh MODEL FILE}
exec gst-launch-1.0 -m filesrc location="$FILE" ! decodebin ! videoconvert ! \
    vgginfer model="$MODEL" top-k=3 batch-size=4 ! \
    fakesink

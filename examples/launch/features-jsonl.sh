#!/bin/sh
# Extracts a feature vector (fc7 by default) from every frame of a video
# file and writes one JSON object per frame to OUT.jsonl:
#   {"timestamp": 0, "model": "...", "feature-layer": "fc7",
#    "features": [...], ...}
# gst-launch-1.0 -m prints vgginfer's bus messages; messages-to-jsonl.py
# turns each of them into a line of JSON.
#   examples/launch/features-jsonl.sh MODEL FILE OUT.jsonl [LAYER]
set -eu
usage="usage: features-jsonl.sh MODEL FILE OUT.jsonl [fc7|fc6|pool5|logits]"
MODEL=${1:?$usage}
FILE=${2:?$usage}
OUT=${3:?$usage}
LAYER=${4:-fc7}
HERE=$(dirname "$0")
messages=$(mktemp)
trap 'rm -f "$messages"' EXIT
gst-launch-1.0 -m filesrc location="$FILE" ! decodebin ! videoconvert ! \
    vgginfer model="$MODEL" mode=features feature-layer="$LAYER" \
    batch-size=4 ! fakesink >"$messages"
/usr/bin/python3 "$HERE/messages-to-jsonl.py" <"$messages" >"$OUT"

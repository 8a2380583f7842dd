#!/bin/sh
# Extracts a feature vector (fc7 by default) from every frame of a video
# file and writes one JSON object per frame to OUT.jsonl (vggpublish's
# schema 1, see the README):
#   {"schema":1,"stream":"features","frame":0,"timestamp":0,"model":"...",
#    "inference_ms":...,"results":[],"feature_layer":"fc7",
#    "n_features":4096,"features":[...],"regions":[]}
#   examples/launch/features-jsonl.sh MODEL FILE OUT.jsonl [LAYER]
set -eu
usage="usage: features-jsonl.sh MODEL FILE OUT.jsonl [fc7|fc6|pool5|logits]"
MODEL=${1:?$usage}
FILE=${2:?$usage}
OUT=${3:?$usage}
LAYER=${4:-fc7}
gst-launch-1.0 -q filesrc location="$FILE" ! decodebin ! videoconvert ! \
    vgginfer model="$MODEL" mode=features feature-layer="$LAYER" \
    batch-size=4 ! \
    vggpublish method=file file-path="$OUT" source-id=features ! fakesink

#!/bin/sh
# Two "cameras", two pipelines, each publishing the classes of every
# frame to one MQTT broker under its own topic, cameras/cam1 and
# cameras/cam2 (vggpublish's topic cameras/{stream}, stream = source-id).
#   examples/mqtt/cameras.sh MODEL [HOST:PORT]
# The broker defaults to localhost:1883.  SOURCE_1 and SOURCE_2 replace the
# two live test patterns (e.g. "v4l2src device=/dev/video0"); Ctrl-C stops
# both pipelines.
set -eu
usage="usage: cameras.sh MODEL [HOST:PORT]"
MODEL=${1:?$usage}
BROKER=${2:-localhost:1883}
SOURCE_1=${SOURCE_1:-videotestsrc is-live=true pattern=ball}
SOURCE_2=${SOURCE_2:-videotestsrc is-live=true pattern=smpte}

# leaky=skip: a camera never waits for the network; frames that find
# the inference queue full pass without results (and are not published)
camera() { # NAME SOURCE
    # shellcheck disable=SC2086
    exec gst-launch-1.0 -q $2 ! videoconvert ! \
        vgginfer model="$MODEL" top-k=3 leaky=skip ! \
        vggpublish method=mqtt address="$BROKER" source-id="$1" \
            topic="cameras/{stream}" qos=1 ! fakesink
}

camera cam1 "$SOURCE_1" &
p1=$!
camera cam2 "$SOURCE_2" &
p2=$!
trap 'kill $p1 $p2 2>/dev/null' INT TERM
s1=0
s2=0
wait $p1 || s1=$?
wait $p2 || s2=$?
exit $((s1 | s2))

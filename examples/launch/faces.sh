#!/bin/sh
# Outlines the faces that OpenCV's facedetect finds, each labelled with
# the class the model gives it, on camera or file video in a window.
#   examples/launch/faces.sh MODEL [FILE]
# FILE is a video or an image in any format decodebin reads (an image is
# shown as a still: imagefreeze repeats it); without FILE, the camera
# (SOURCE replaces "v4l2src"), whose frames pass without inference while
# the network is busy (leaky=skip).  SINK replaces the window (default
# "autovideosink"); FRAMES=N stops after N frames.
#
# facedetect's face cascade comes with opencv-data
# (/usr/share/opencv4/haarcascades; FACE_CASCADE picks another).  Its eye,
# nose and mouth cascades (haarcascade_mcs_*.xml) are not in Debian:
# facedetect loads them when it is created, before gst-launch sets any
# property, so no eyes-profile= setting avoids OpenCV's "Can't open file"
# errors about them.  They are harmless here (those cascades only refine
# faces for display=true), and OPENCV_LOG_LEVEL=FATAL hides them; run
# with OPENCV_LOG_LEVEL=ERROR to see them.
set -eu
MODEL=${1:?usage: faces.sh MODEL [FILE]}
FILE=${2:-}
SINK=${SINK:-autovideosink}
CASCADE=${FACE_CASCADE:-/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml}
if [ ! -r "$CASCADE" ]; then
    echo "faces.sh: cannot read $CASCADE (apt install opencv-data)" >&2
    exit 1
fi
export OPENCV_LOG_LEVEL="${OPENCV_LOG_LEVEL:-FATAL}"

LEAKY=none
if [ -z "$FILE" ]; then
    # shellcheck disable=SC2086
    set -- ${SOURCE:-v4l2src}
    LEAKY=skip
else
    set -- filesrc location="$FILE" ! decodebin
    case $(gst-typefind-1.0 "$FILE") in
        *" - image/"*) set -- "$@" ! imagefreeze ;;
    esac
fi
if [ -n "${FRAMES:-}" ]; then
    # identity passes eos-after - 1 buffers
    set -- "$@" ! identity eos-after=$((FRAMES + 1))
fi
# facedetect: display=false, else it draws circles of its own;
# updates=every_frame puts the faces (ROI metas) on every frame
# shellcheck disable=SC2086
exec gst-launch-1.0 "$@" ! videoconvert ! \
    facedetect display=false updates=every_frame profile="$CASCADE" ! \
    vgginfer model="$MODEL" inference-region=roi-list top-k=1 leaky=$LEAKY ! \
    videoconvert ! vggoverlay ! videoconvert ! $SINK

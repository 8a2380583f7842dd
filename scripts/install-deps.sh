#!/bin/sh
# Installs the Debian 12 packages gst-vgg needs to build, test and run its
# demo.  Idempotent: does nothing when they are all present.
set -eu

PACKAGES="build-essential meson ninja-build pkg-config
libopenblas-dev liborc-0.4-dev liborc-0.4-dev-bin
libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev
gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
libpango1.0-dev libcairo2-dev fonts-dejavu-core
python3 python3-numpy python3-torch python3-torchvision python3-pil python3-matplotlib
libgirepository1.0-dev gobject-introspection gir1.2-gstreamer-1.0 python3-gi
dataset-fashion-mnist
gstreamer1.0-opencv opencv-data python3-skimage gir1.2-gst-plugins-base-1.0
libjson-glib-dev libmosquitto-dev mosquitto mosquitto-clients python3-paho-mqtt openssl"

missing=""
for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
        missing="$missing $p"
done
if [ -z "$missing" ]; then
    exit 0
fi
echo "install-deps: installing$missing"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing

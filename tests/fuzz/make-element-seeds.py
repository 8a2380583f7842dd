#!/usr/bin/python3
"""Writes the seed corpus of fuzz-element: programs in the operation
encoding of tests/fuzz/fuzz-element.c (one byte per operation, then its
arguments), each a plausible stream the fuzzer mutates from.  The seeds
are committed; rerun after changing the encoding:

    /usr/bin/python3 tests/fuzz/make-element-seeds.py tests/fuzz/seeds/element
"""

import os
import struct
import sys

FORMATS = ["RGB", "BGR", "RGBx", "BGRx", "xRGB", "xBGR", "RGBA", "BGRA",
           "ARGB", "ABGR", "I420", "YV12", "NV12", "NV21", "YUY2", "UYVY",
           "GRAY8", "GRAY16_LE", "v210"]
INTERLACE = [None, "progressive", "interleaved", "mixed", "alternate"]


def dim(v):
    """A width or height of 1..97 as take_dimension reads it."""
    assert 1 <= v <= 97
    return bytes([v - 1])


def caps(fmt, w, h, fps_code=2, interlace=None):
    flags = fps_code | (INTERLACE.index(interlace) << 4)
    return bytes([0, FORMATS.index(fmt)]) + dim(w) + dim(h) + bytes([flags])


def caps_edge(fmt, edge_index, h):
    """width = one of take_dimension's edges (0, 1, 2, 3, 16383, 16384,
    16385, 65535, G_MAXINT, -1)"""
    return bytes([0, FORMATS.index(fmt), 250, edge_index]) + dim(h) + bytes([2])


def buffer(mode=0, extra=b"", pts_ms=0, interlaced=False):
    """mode: bits 0-1 size (exact, u16, smaller, larger), 4 video meta,
    8 meta of another format, 16 meta without the caps' layout, 32 fuzzed
    offsets and strides, 64 fuzzed meta size, 128 a GstVggMeta"""
    return (bytes([1, mode]) + extra + bytes([0]) + struct.pack("<H", pts_ms)
            + bytes([1 if interlaced else 0]))


def segment(fmt_index=0, rate_index=0, start_ms=0):
    return bytes([4, fmt_index | (rate_index << 3)]) + struct.pack("<H", start_ms)


def gap(ts_ms=0):
    return bytes([5]) + struct.pack("<H", ts_ms) + bytes([1])


def flush(reset=True):
    return bytes([6, 1 if reset else 0])


EOS = bytes([7])
DRAIN = bytes([9])


def prop(which, value, extra=b""):
    return bytes([8, which, value]) + extra


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    seeds = {}
    seeds["plain"] = (bytes([0]) + caps("RGB", 64, 48) + segment()
                      + b"".join(buffer(pts_ms=33 * i) for i in range(5))
                      + DRAIN + EOS)
    seeds["formats"] = bytes([1]) + b"".join(
        caps(f, 33, 17) + segment() + buffer() + buffer(pts_ms=40) + DRAIN
        for f in FORMATS)
    seeds["lying-meta"] = (bytes([0]) + caps("I420", 40, 30) + segment()
                           + buffer(4) + buffer(4 | 32, struct.pack(
                               "<HhHhHh", 0, 4000, 16, -8, 7, 1))
                           + buffer(4 | 64, bytes([9, 200]))
                           + buffer(4 | 8, bytes([16]))
                           + buffer(4 | 16) + DRAIN)
    seeds["short-and-long"] = (bytes([0]) + caps("NV12", 20, 10) + segment()
                               + buffer(1, struct.pack("<H", 7))
                               + buffer(2, bytes([3])) + buffer(3, bytes([9]))
                               + DRAIN)
    seeds["segments"] = (bytes([2]) + caps("YUY2", 31, 9) + segment(1)
                         + buffer() + segment(2, 1, 5) + buffer()
                         + segment(3, 2) + buffer() + segment(4, 3)
                         + buffer() + DRAIN)
    seeds["interlace"] = (bytes([0]) + caps("RGB", 16, 16, 2, "interleaved")
                          + segment() + buffer(interlaced=True)
                          + caps("RGB", 16, 16, 2, "mixed") + buffer()
                          + caps("RGB", 16, 16, 2, "alternate") + buffer()
                          + caps_edge("RGB", 8, 16) + buffer()
                          + caps_edge("GRAY8", 5, 2) + buffer() + DRAIN)
    seeds["events"] = (bytes([1]) + caps("BGRA", 48, 32) + segment()
                       + buffer() + gap(40) + buffer(pts_ms=80) + flush()
                       + segment() + buffer() + EOS + buffer() + flush(False)
                       + buffer() + DRAIN)
    seeds["properties"] = (bytes([0]) + caps("I420", 64, 48) + segment()
                           + b"".join(prop(w, (37 * w + 1) % 256,
                                           b"\x01\x02\x03\x04\x05\x06\x07\x08")
                                      + buffer(128, bytes([3, 0, 50]))
                                      for w in range(16)) + DRAIN)
    seeds["overlay"] = (bytes([0]) + caps("UYVY", 96, 80) + segment()
                        + b"".join(buffer(128, bytes([i, 0, 99 - i]))
                                   for i in range(4))
                        + prop(13, 1) + buffer(128, bytes([5, 0, 7]))
                        + prop(11, 31) + buffer(128, bytes([5, 0, 7]))
                        + DRAIN)
    for name, data in seeds.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Reads the output of `gst-launch-1.0 -m` on stdin and writes every
vgginfer element message as one line of JSON on stdout, with the message's
own field names ("timestamp", "model", "class-ids", "labels", "scores",
"feature-layer", "features", ...).

Each message is parsed by GStreamer itself (Gst.Structure.from_string), so
strings with escapes and float arrays come back exactly as posted.
"""

import json
import re
import sys
import warnings

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

# Got message #12 from element "vgginfer0" (element): vgginfer, a=(int)1, ...;
MESSAGE = re.compile(r'^Got message #\d+ from element ".*" \(element\): '
                     r'(vgginfer, .*)$')


def to_json(value):
    """A field value as JSON: GstValueArray fields arrive as GValueArray."""
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    if hasattr(value, "n_values"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return [to_json(value.get_nth(i)) for i in range(value.n_values)]
    return str(value)


def main():
    Gst.init(None)
    count = 0
    for line in sys.stdin:
        m = MESSAGE.match(line.rstrip("\n"))
        if not m:
            continue
        structure, _ = Gst.Structure.from_string(m.group(1))
        if structure is None:
            sys.exit("messages-to-jsonl: cannot parse: %.200s" % line)
        record = {}
        for i in range(structure.n_fields()):
            name = structure.nth_field_name(i)
            if structure.get_field_type(name).name == "GstValueArray":
                ok, value = structure.get_array(name)
            else:
                value = structure.get_value(name)
            record[name] = to_json(value)
        print(json.dumps(record))
        count += 1
    print("messages-to-jsonl: %d frames" % count, file=sys.stderr)


if __name__ == "__main__":
    main()

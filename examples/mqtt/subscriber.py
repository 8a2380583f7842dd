#!/usr/bin/python3
"""Subscribes to the results that vggpublish publishes (JSON, schema 1)
and prints a live summary per stream: results received, frames missing
(gaps in the frame numbers), the last frame's top class, and how often
each class was the top one.

usage: subscriber.py [--broker HOST:PORT] [--topic TOPIC]
                     [--interval SECONDS] [--count N] [--seconds S]

Defaults: localhost:1883, topic cameras/+ (what cameras.sh publishes),
a summary every 2 s; it runs until Ctrl-C, N results, or S seconds, then
prints the final summary.  Needs Debian's python3-paho-mqtt.
"""

import argparse
import collections
import json
import sys
import time

import paho.mqtt.client as mqtt


class Stream:
    def __init__(self):
        self.results = 0
        self.frames = set()
        self.top = collections.Counter()
        self.last = None
        self.inference_ms = 0.0

    def add(self, record):
        self.results += 1
        self.frames.add(record["frame"])
        self.inference_ms += record.get("inference_ms") or 0.0
        self.last = record
        if record["results"]:
            best = record["results"][0]
            self.top[best["label"] or "class %d" % best["class_id"]] += 1

    def line(self, name):
        first, last = min(self.frames), max(self.frames)
        missing = last - first + 1 - len(self.frames)
        if self.last["results"]:
            best = self.last["results"][0]
            shown = "%s %.3f" % (best["label"] or "class %d"
                                 % best["class_id"], best["score"])
        else:
            shown = "no classes"
        top = ", ".join("%s %d" % kv for kv in sorted(
            self.top.items(), key=lambda kv: (-kv[1], kv[0])))
        return ("%s: %d results, frames %d-%d, %d missing, %.2f ms, "
                "last: %s; top-1: %s"
                % (name, self.results, first, last, missing,
                   self.inference_ms / self.results, shown, top))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--broker", default="localhost:1883")
    parser.add_argument("--topic", default="cameras/+")
    parser.add_argument("--interval", type=float, default=2.0)
    parser.add_argument("--count", type=int, default=0)
    parser.add_argument("--seconds", type=float, default=0)
    args = parser.parse_args()
    host, _, port = args.broker.rpartition(":")

    streams = {}
    received = [0]

    def on_connect(client, userdata, flags, rc):
        if rc != 0:
            sys.exit("subscriber: %s refused: %s"
                     % (args.broker, mqtt.connack_string(rc)))
        client.subscribe(args.topic, qos=1)

    def on_subscribe(client, userdata, mid, granted):
        print("subscribed to %s on %s" % (args.topic, args.broker),
              flush=True)

    def on_message(client, userdata, msg):
        record = json.loads(msg.payload)
        if record.get("schema") != 1:
            print("skipped a record of schema %r" % record.get("schema"))
            return
        streams.setdefault(record["stream"], Stream()).add(record)
        received[0] += 1

    def summary(prefix):
        for name in sorted(streams):
            print(prefix + streams[name].line(name))
        sys.stdout.flush()

    client = mqtt.Client()
    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    client.connect(host or "localhost", int(port or 1883), 60)
    start = next_summary = time.monotonic()
    try:
        while not (args.count and received[0] >= args.count):
            if args.seconds and time.monotonic() - start >= args.seconds:
                break
            client.loop(timeout=0.1)
            if time.monotonic() >= next_summary + args.interval:
                next_summary = time.monotonic()
                summary("")
    except KeyboardInterrupt:
        pass
    client.disconnect()
    summary("final ")
    return 0


if __name__ == "__main__":
    sys.exit(main())

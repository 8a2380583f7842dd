#!/bin/sh
# The test command: installs what is missing, builds, runs every test suite
# in ./build, then again in ./build-asan (AddressSanitizer and
# UndefinedBehaviorSanitizer, the `asan` test setup), and ends with one
# "N passed, N failed" line counting both runs.
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
status=0
meson test -C build --print-errorlogs --num-processes 1 "$@" || status=$?

if [ ! -f build-asan/build.ninja ]; then
    meson setup build-asan --buildtype=debugoptimized -Dwerror=true \
        -Db_sanitize=address,undefined
fi
# g-ir-scanner runs an instrumented dumper whose GLib allocations alive at
# exit are not ours
ASAN_OPTIONS=detect_leaks=0 ninja -C build-asan
meson test -C build-asan --setup asan --print-errorlogs --num-processes 1 \
    "$@" || status=$?

/usr/bin/python3 - build/meson-logs/testlog.json \
    build-asan/meson-logs/testlog-asan.json <<'PY'
import json, sys
passed = failed = skipped = 0
for path in sys.argv[1:]:
    for line in open(path):
        r = json.loads(line)["result"]
        if r in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif r == "SKIP":
            skipped += 1
        else:
            failed += 1
print(f"tests: {passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
PY
exit $status

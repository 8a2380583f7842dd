#!/bin/sh
# The test command: installs what is missing, builds, runs every test suite
# and ends with one "N passed, N failed" line.
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
status=0
meson test -C build --print-errorlogs --num-processes 1 "$@" || status=$?
/usr/bin/python3 - build/meson-logs/testlog.json <<'PY'
import json, sys
passed = failed = skipped = 0
for line in open(sys.argv[1]):
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

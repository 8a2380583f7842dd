#!/bin/sh
# The exe_wrapper of the `asan` test setup (meson test --setup asan).
# At a program's exit LeakSanitizer stops its threads with a tracer of its
# own, and in this sandbox that tracer has crashed now and then (three
# times in about a dozen full runs, in vggoverlay, vgginfer and the soak:
# "Tracer caught signal 11", "LeakSanitizer has encountered a fatal error",
# no leak report, every check of the test passed).  Such a run is run once
# more, saying so on stderr; any other failure stands, a leak report
# ("detected memory leaks") included.
err=$(mktemp) || exit 99
"$@" 2>"$err"
status=$?
cat "$err" >&2
if [ "$status" -ne 0 ] \
    && grep -q 'LeakSanitizer has encountered a fatal error' "$err" \
    && grep -q 'Tracer caught signal' "$err" \
    && ! grep -q 'detected memory leaks' "$err"; then
    rm -f "$err"
    echo "asan-wrap.sh: LeakSanitizer's tracer crashed at exit, with no" \
        "leak report: running $1 once more" >&2
    exec "$@"
fi
rm -f "$err"
exit "$status"

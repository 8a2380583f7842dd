#!/bin/sh
# The exe_wrapper of the `valgrind` test setup (meson test --setup valgrind):
# runs a test program under memcheck.  Python test drivers run as they are
# (the interpreter, torch and numpy are not ours); they run the engine's
# tools through $VGG_TEST_WRAPPER, which the setup points at this script.
case "$(basename "$1")" in
    python*) exec "$@" ;;
esac
exec valgrind --tool=memcheck -q --error-exitcode=99 \
    --leak-check=full --show-leak-kinds=definite \
    --errors-for-leak-kinds=definite --num-callers=40 \
    --suppressions="$(dirname "$0")/valgrind.supp" "$@"

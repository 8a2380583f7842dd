#!/bin/sh
# Runs one libFuzzer target for $FUZZ_SECONDS (default 60) on a working
# corpus in the build folder, seeded from the committed seeds; fails on
# any crash, leak, timeout or out-of-memory (libFuzzer exits 1, not its
# default 77, which meson reads as a skip, and
# writes the input to ARTIFACTS/).  Prints libFuzzer's final stats
# (number_of_executed_units etc.).
#   usage: run-fuzzer.sh FUZZER SEEDS_DIR WORK_DIR
set -eu
fuzzer=$1
seeds=$2
work=$3
name=$(basename "$fuzzer")
mkdir -p "$work/$name-corpus" "$work/$name-artifacts"
exec "$fuzzer" -max_total_time="${FUZZ_SECONDS:-60}" -timeout=10 \
    -error_exitcode=1 -timeout_exitcode=1 \
    -rss_limit_mb=2048 -malloc_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$work/$name-artifacts/" \
    "$work/$name-corpus" "$seeds"

#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Runs a libFuzzer target for a bounded time on a scratch corpus seeded from the repo's.
# Usage: run-fuzzer.sh FUZZER SEEDS [SECONDS [LIBFUZZER-FLAG...]]
# The scratch folder is removed after a clean run and kept (with the crashing input)
# after a failure.
set -eu
fuzzer=$1
seeds=$2
seconds=${3:-30}
shift $(($# < 3 ? $# : 3))
work=$(mktemp -d)
mkdir -p "$work/corpus"
status=0
"$fuzzer" -max_total_time="$seconds" -max_len=8192 -timeout=10 \
  -artifact_prefix="$work/" "$@" "$work/corpus" "$seeds" || status=$?
if [ "$status" -ne 0 ]; then
  echo "run-fuzzer: $fuzzer failed (exit $status); the input is kept in $work" >&2
  exit "$status"
fi
rm -rf "$work"

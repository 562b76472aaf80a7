#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Runs a libFuzzer target for a bounded time on a scratch corpus seeded from the repo's.
set -eu
fuzzer=$1
seeds=$2
seconds=${3:-30}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus"
"$fuzzer" -max_total_time="$seconds" -max_len=8192 -timeout=10 \
  -artifact_prefix="$work/" "$work/corpus" "$seeds"

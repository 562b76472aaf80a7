#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Proves the replication core pure: only GLib and its own headers, no I/O, clock or threads.
# Usage: check-purity.sh CORE_SOURCE_DIR LIBCHAT_CORE.a NM
set -eu
src="$1"
lib="$2"
nm="$3"
status=0

# chat-defaults.h (common/): the built-in defaults, #defines that include nothing.
allowed='^#include (<glib\.h>|<string\.h>|"chat-repl[a-z-]*\.h"|"chat-defaults\.h")$'
defaults="$src/../common/chat-defaults.h"
if [ ! -f "$defaults" ]; then
  echo "FAIL: $defaults is missing"
  status=1
elif grep -Eq '^[[:space:]]*#[[:space:]]*include' "$defaults"; then
  echo "FAIL: chat-defaults.h includes: $(grep -E '^[[:space:]]*#[[:space:]]*include' "$defaults")"
  status=1
fi
for f in "$src"/chat-repl*.c "$src"/chat-repl*.h; do
  bad=$(grep -E '^[[:space:]]*#[[:space:]]*include' "$f" | grep -Ev "$allowed" || true)
  if [ -n "$bad" ]; then
    echo "FAIL: $(basename "$f") includes: $bad"
    status=1
  fi
done

forbidden='^(socket|connect|accept|bind|listen|send|recv|sendto|recvfrom|read|write|open|openat|close|fopen|fread|fwrite|fsync|fdatasync|clock_gettime|time|gettimeofday|nanosleep|sleep|usleep|rand|random|srand|getrandom|pthread_.*|g_get_monotonic_time|g_get_real_time|g_main_.*|g_thread_.*|g_random_.*|g_rand_.*|g_usleep|g_timeout_.*|g_idle_.*|g_source_.*|g_file_.*|g_io_.*|g_socket_.*|g_spawn_.*|g_mkdir.*|g_unlink|g_open|g_fopen|g_print|g_printerr|printf|fprintf|puts)$'
undefined=$("$nm" -u "$lib" | awk 'NF >= 2 { print $2 }' | sed 's/@.*//' | sort -u)
bad=$(printf '%s\n' "$undefined" | grep -E "$forbidden" || true)
if [ -n "$bad" ]; then
  echo "FAIL: the core library calls:" $bad
  status=1
fi
if [ "$status" -eq 0 ]; then
  echo "core is pure: $(printf '%s\n' "$undefined" | wc -l) undefined symbols, all allowed"
fi
exit "$status"

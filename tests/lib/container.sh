# SPDX-License-Identifier: LGPL-2.1-or-later
# Shared by the system and package suites (sourced): TAP output, a booted bookworm container, chatd@ inside it.
# shellcheck shell=bash
#
# Environment: CHATD_TEST_CACHE (rootfs cache, default /var/cache/chatd-test, shared by both
# suites under one lock), CHATD_TEST_MIRROR (Debian mirror for debootstrap), CHATD_TEST_KEEP=1
# (keep the run dir). The caller sets CT_INCLUDE (debootstrap --include list), CT_RUN_PREFIX
# (name of the run dir under /var/tmp) and, for the chatd@ helpers, PORTS, CONFIG and
# CLI_PASSWORD.

CT_CACHE=${CHATD_TEST_CACHE:-/var/cache/chatd-test}
CT_MIRROR=${CHATD_TEST_MIRROR:-http://deb.debian.org/debian}
CT_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
CT_RUN_DIR=
CT_NSPAWN_PID=
CT_PID=
TAP_N=0
TAP_FAILED=0

# --- TAP ---------------------------------------------------------------------

skip_all() {
  echo "1..0 # SKIP $1"
  exit 77
}

bail_out() {
  echo "Bail out! $1"
  exit 1
}

ok() {
  TAP_N=$((TAP_N + 1))
  echo "ok $TAP_N - $1"
}

not_ok() {
  TAP_N=$((TAP_N + 1))
  TAP_FAILED=$((TAP_FAILED + 1))
  echo "not ok $TAP_N - $1"
}

# check DESCRIPTION COMMAND...: one TAP line from a command's exit status.
check() {
  local description=$1
  shift
  if "$@"; then ok "$description"; else not_ok "$description"; fi
}

# diag: stdin as TAP comments.
diag() {
  sed 's/^/# /'
}

# tap_end: the plan, last, since the number of checks is known only once they ran.
tap_end() {
  echo "1..$TAP_N"
  [ "$TAP_FAILED" -eq 0 ]
}

# wait_for SECONDS COMMAND...: polls until the command succeeds.
wait_for() {
  local deadline=$((SECONDS + $1))
  shift
  while [ "$SECONDS" -lt "$deadline" ]; do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  return 1
}

# --- the container -----------------------------------------------------------

# ct_debootstrap BASE KEY: builds the rootfs in BASE.tmp and moves it to BASE. Without a
# network the suite is skipped; a debootstrap that fails with one is a failure, since the
# suite may already have printed checks that a skip would hide.
ct_debootstrap() {
  local base=$1 log=$CT_CACHE/debootstrap-$2.log host
  rm -rf --one-file-system "$base.tmp"
  if ! debootstrap --variant=minbase --include="$CT_INCLUDE" bookworm "$base.tmp" "$CT_MIRROR" \
      >"$log" 2>&1; then
    flock -u 9
    tail -5 "$log" | diag
    host=$(echo "$CT_MIRROR" | sed -E 's|^[a-z]+://([^/]+).*|\1|')
    getent hosts "$host" >/dev/null || skip_all "no network to reach $CT_MIRROR for debootstrap"
    bail_out "debootstrap failed (see $log)"
  fi
  touch "$base.tmp/.complete"
  mv "$base.tmp" "$base"
}

# ct_prepare_rootfs: copies the cached bookworm rootfs (built once per package list) to
# $CT_RUN_DIR/root. The lock keeps parallel runs and the two suites apart.
ct_prepare_rootfs() {
  local key base
  key=$(echo "$CT_INCLUDE" | md5sum | cut -c1-8)
  base="$CT_CACHE/rootfs-bookworm-$key"
  mkdir -p "$CT_CACHE"
  exec 9>"$CT_CACHE/lock"
  flock 9
  [ -e "$base/.complete" ] || ct_debootstrap "$base" "$key"
  CT_RUN_DIR=$(mktemp -d "/var/tmp/$CT_RUN_PREFIX.XXXXXX")
  cp -a --reflink=auto "$base" "$CT_RUN_DIR/root"
  flock -u 9
  exec 9>&-
}

# ct_find_init: sets CT_PID to the container's init. nspawn's first child is a short-lived
# helper that sets the container up; init is the child that runs systemd, so wait for that one.
ct_find_init() {
  local child
  CT_PID=
  for _ in $(seq 1 300); do
    for child in $(cat "/proc/$CT_NSPAWN_PID/task/$CT_NSPAWN_PID/children" 2>/dev/null); do
      [ "$(cat "/proc/$child/comm" 2>/dev/null)" = systemd ] && CT_PID=$child
    done
    [ -n "$CT_PID" ] && return 0
    sleep 0.1
  done
  return 1
}

# ct_boot: boots systemd in the rootfs with a private network (loopback only) and waits
# until it is up. CT_NSPAWN_PID is systemd-nspawn, CT_PID the container's init.
# systemd-nspawn gets SIGTERM when this script dies, whatever kills it (setpriv
# --pdeathsig; no trap runs on SIGKILL), and shuts the container down as ct_cleanup does:
# no container, and no chatd in it, outlives the suite. (SIGKILL would not do: the
# container's init outlives a killed systemd-nspawn.)
ct_boot() {
  local state
  setpriv --pdeathsig TERM \
    systemd-nspawn --register=no --keep-unit --quiet --private-network --console=pipe \
    -D "$CT_RUN_DIR/root" -b </dev/null >"$CT_RUN_DIR/console.log" 2>&1 &
  CT_NSPAWN_PID=$!
  ct_find_init || return 1
  # systemctl needs the manager's socket before it can wait for the boot to finish.
  wait_for 30 test -S "/proc/$CT_PID/root/run/systemd/private" || return 1
  wait_for 10 test -S "/proc/$CT_PID/root/run/dbus/system_bus_socket" || true
  state=$(ct timeout 90 systemctl is-system-running --wait 2>/dev/null)
  echo "system state: $state" | diag
  [ "$state" = running ] || [ "$state" = degraded ]
}

# ct_cleanup: stops the container (by the PID this script started) and removes the run dir.
ct_cleanup() {
  if [ -n "$CT_NSPAWN_PID" ] && kill -0 "$CT_NSPAWN_PID" 2>/dev/null; then
    kill -TERM "$CT_NSPAWN_PID" 2>/dev/null
    for _ in $(seq 1 40); do kill -0 "$CT_NSPAWN_PID" 2>/dev/null || break; sleep 0.25; done
    kill -KILL "$CT_NSPAWN_PID" 2>/dev/null
    wait "$CT_NSPAWN_PID" 2>/dev/null
  fi
  CT_NSPAWN_PID=
  if [ -n "$CT_RUN_DIR" ] && [ "${CHATD_TEST_KEEP:-0}" != 1 ]; then
    rm -rf --one-file-system "$CT_RUN_DIR"
  fi
}

# ct COMMAND...: runs a command inside the container (all its namespaces), clean environment.
# /usr/local is on PATH because meson installs there by default.
ct() {
  nsenter -t "$CT_PID" -a -- env -i PATH="$CT_PATH" LANG=C.UTF-8 HOME=/root "$@"
}

# ct_net COMMAND...: as ct, but on the host's network, so apt reaches the Debian archive
# while the servers inside keep their private loopback.
ct_net() {
  nsenter -t "$CT_PID" -m -u -i -p -C -- env -i PATH="$CT_PATH" LANG=C.UTF-8 HOME=/root \
    DEBIAN_FRONTEND=noninteractive "$@"
}

# --- chatd@ instances in the container ---------------------------------------

status_text() {
  ct systemctl show -p StatusText --value "chatd@$1.service"
}

all_active() {
  local port
  for port in "${PORTS[@]}"; do
    ct systemctl is-active --quiet "chatd@$port.service" || return 1
  done
}

# The port whose STATUS= says it leads, or nothing.
leader_port() {
  local port
  for port in "${PORTS[@]}"; do
    case $(status_text "$port") in leader*) echo "$port"; return 0 ;; esac
  done
  return 1
}

has_leader() {
  leader_port >/dev/null
}

# cli USER ARGS...: chat-cli as USER, with a session file of its own.
cli() {
  ct env CHAT_PASSWORD="$CLI_PASSWORD" chat-cli --config "$CONFIG" --timeout 20 \
    --session-file "/root/session-$1" --user "$1" "${@:2}"
}

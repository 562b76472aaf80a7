#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The system suite: boots Debian bookworm with systemd in a container and checks chatd@.service there (TAP).
#
# Usage: run-system-tests.sh [BUILD_DIR]   (meson test --suite system passes CHATD_BUILD_ROOT)
# Environment: CHATD_TEST_CACHE (rootfs cache, default /var/cache/chatd-test),
#              CHATD_TEST_MIRROR (Debian mirror for debootstrap), CHATD_TEST_KEEP=1 (keep the run dir).
set -u

BUILD_DIR=${1:-${CHATD_BUILD_ROOT:-}}
CACHE=${CHATD_TEST_CACHE:-/var/cache/chatd-test}
MIRROR=${CHATD_TEST_MIRROR:-http://deb.debian.org/debian}
INCLUDE=systemd,dbus,systemd-sysv,libglib2.0-0,libjson-glib-1.0-0,libsqlite3-0,libsodium23,libsystemd0
PORTS=(5555 5556 5557)
WATCHDOG_SEC=3

RUN_DIR=
NSPAWN_PID=
CONTAINER_PID=
N=0
FAILED=0

skip_all() {
  echo "1..0 # SKIP $1"
  exit 77
}

ok() {
  N=$((N + 1))
  echo "ok $N - $1"
}

not_ok() {
  N=$((N + 1))
  FAILED=$((FAILED + 1))
  echo "not ok $N - $1"
}

# check DESCRIPTION COMMAND...: one TAP line from a command's exit status.
check() {
  local description=$1
  shift
  if "$@"; then ok "$description"; else not_ok "$description"; fi
}

quiet() {
  "$@" >/dev/null
}

diag() {
  sed 's/^/# /'
}

cleanup() {
  if [ -n "$NSPAWN_PID" ] && kill -0 "$NSPAWN_PID" 2>/dev/null; then
    kill -TERM "$NSPAWN_PID" 2>/dev/null
    for _ in $(seq 1 40); do kill -0 "$NSPAWN_PID" 2>/dev/null || break; sleep 0.25; done
    kill -KILL "$NSPAWN_PID" 2>/dev/null
    wait "$NSPAWN_PID" 2>/dev/null
  fi
  if [ -n "$RUN_DIR" ] && [ "${CHATD_TEST_KEEP:-0}" != 1 ]; then
    rm -rf --one-file-system "$RUN_DIR"
  fi
}

# ct COMMAND...: runs a command inside the container, with a clean environment.
ct() {
  nsenter -t "$CONTAINER_PID" -a -- env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
    HOME=/root "$@"
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

preflight() {
  [ "$(id -u)" -eq 0 ] || skip_all "needs root (debootstrap and systemd-nspawn)"
  local tool
  for tool in debootstrap systemd-nspawn nsenter flock meson; do
    command -v "$tool" >/dev/null || skip_all "$tool is not installed (scripts/install-deps)"
  done
  [ -n "$BUILD_DIR" ] && [ -f "$BUILD_DIR/build.ninja" ] || skip_all "no meson build directory given"
  [ -x "$BUILD_DIR/daemon/chatd" ] || skip_all "chatd is not built in $BUILD_DIR"
}

# The cached rootfs, built once per package list; the lock keeps parallel runs apart.
prepare_rootfs() {
  local key base
  key=$(echo "$INCLUDE" | md5sum | cut -c1-8)
  base="$CACHE/rootfs-bookworm-$key"
  mkdir -p "$CACHE"
  exec 9>"$CACHE/lock"
  flock 9
  if [ ! -e "$base/.complete" ]; then
    rm -rf --one-file-system "$base.tmp"
    if ! debootstrap --variant=minbase --include="$INCLUDE" bookworm "$base.tmp" "$MIRROR" \
        >"$CACHE/debootstrap.log" 2>&1; then
      flock -u 9
      tail -5 "$CACHE/debootstrap.log" | diag
      if ! getent hosts "$(echo "$MIRROR" | sed -E 's|^[a-z]+://([^/]+).*|\1|')" >/dev/null; then
        skip_all "no network to reach $MIRROR for debootstrap"
      fi
      echo "Bail out! debootstrap failed (see $CACHE/debootstrap.log)"
      exit 1
    fi
    touch "$base.tmp/.complete"
    mv "$base.tmp" "$base"
  fi
  RUN_DIR=$(mktemp -d /var/tmp/chatd-system.XXXXXX)
  cp -a --reflink=auto "$base" "$RUN_DIR/root"
  flock -u 9
}

# Installs the build (chatd, chatctl, chat-cli, units, policy, config) and test drop-ins.
install_build() {
  local root=$RUN_DIR/root policy
  meson install -C "$BUILD_DIR" --no-rebuild --quiet --destdir "$root" >"$RUN_DIR/install.log" 2>&1 ||
    return 1
  # A prefix other than /usr puts the policy where dbus-daemon does not look.
  policy=$(find "$root/usr" -path '*/dbus-1/system.d/io.github.chatd.conf' | head -1)
  [ -n "$policy" ] || return 1
  mkdir -p "$root/etc/dbus-1/system.d"
  cp "$policy" "$root/etc/dbus-1/system.d/"
  mkdir -p "$root/etc/systemd/system/chatd@.service.d"
  printf '[Service]\nWatchdogSec=%ss\n' "$WATCHDOG_SEC" \
    >"$root/etc/systemd/system/chatd@.service.d/50-system-test.conf"
  # Bootstrap recipe (docs/operations.md): the first server leads the very first term.
  mkdir -p "$root/etc/systemd/system/chatd@5555.service.d"
  printf '[Service]\nExecStart=\n%s --primary\n' \
    "$(grep '^ExecStart=' "$(find "$root/usr" -name 'chatd@.service' | head -1)")" \
    >"$root/etc/systemd/system/chatd@5555.service.d/60-primary.conf"
  echo chatd-test >"$root/etc/hostname"
}

boot_container() {
  local children
  systemd-nspawn --register=no --keep-unit --quiet --private-network --console=pipe \
    -D "$RUN_DIR/root" -b </dev/null >"$RUN_DIR/console.log" 2>&1 &
  NSPAWN_PID=$!
  # nspawn's first child is a short-lived helper that sets the container up; the
  # container's PID 1 is the child that runs systemd, so wait for that one.
  CONTAINER_PID=
  for _ in $(seq 1 300); do
    children=$(cat "/proc/$NSPAWN_PID/task/$NSPAWN_PID/children" 2>/dev/null)
    for child in $children; do
      if [ "$(cat "/proc/$child/comm" 2>/dev/null)" = systemd ]; then
        CONTAINER_PID=$child
      fi
    done
    [ -n "$CONTAINER_PID" ] && break
    sleep 0.1
  done
  [ -n "$CONTAINER_PID" ] || return 1
  # systemctl needs the manager's socket before it can wait for the boot to finish.
  wait_for 30 test -S "/proc/$CONTAINER_PID/root/run/systemd/private" || return 1
  wait_for 10 test -S "/proc/$CONTAINER_PID/root/run/dbus/system_bus_socket" || true
  local state
  state=$(ct timeout 90 systemctl is-system-running --wait 2>/dev/null)
  echo "system state: $state" | diag
  [ "$state" = running ] || [ "$state" = degraded ]
}

# --- helpers on chatd inside the container -----------------------------------

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

n_restarts() {
  ct systemctl show -p NRestarts --value "chatd@$1.service"
}

cli() {
  ct env CHAT_PASSWORD=system-test-password chat-cli --config "$CONFIG" --timeout 20 \
    --session-file "/root/session-$1" --user "$1" "${@:2}"
}

# --- checks ------------------------------------------------------------------

check_verify_and_security() {
  check "systemd-analyze verify chatd@5555.service is clean" \
    ct systemd-analyze verify --man=no chatd@5555.service chatd.target
  local out
  out=$(ct systemd-analyze security --threshold=15 chatd@5555.service 2>&1)
  local rc=$?
  echo "$out" | tail -1 | diag
  [ $rc -eq 0 ] && ok "systemd-analyze security: exposure at most 1.5" ||
    not_ok "systemd-analyze security: exposure at most 1.5"
}

check_start() {
  check "systemctl start chatd@5555 chatd@5556 chatd@5557 (READY=1)" \
    ct timeout 120 systemctl start chatd@5555.service chatd@5556.service chatd@5557.service
  check "all three servers are active" all_active
  local port text good=1
  for port in "${PORTS[@]}"; do
    text=$(status_text "$port")
    echo "chatd@$port: $text" | diag
    [ -n "$text" ] || good=0
  done
  [ $good = 1 ] && ok "every server reports a STATUS= text" || not_ok "every server reports a STATUS= text"
}

check_chatctl() {
  local out
  out=$(ct chatctl --system status 2>&1)
  echo "$out" | diag
  check "chatctl status over the system bus lists three servers" \
    test "$(echo "$out" | grep -c '127.0.0.1:555[567]  ')" -ge 3
  ct setpriv --reuid=65534 --regid=65534 --clear-groups chatctl --system status >/dev/null 2>&1
  check "chatctl status works for an unprivileged user" test $? -eq 0
  ct setpriv --reuid=65534 --regid=65534 --clear-groups chatctl --system --port 5555 snapshot \
    >/dev/null 2>&1
  check "admin methods are denied to an unprivileged user (exit 4)" test $? -eq 4
}

check_chat() {
  check "a leader is elected" wait_for 30 has_leader
  cli alice signup >/dev/null 2>&1 && cli bob signup >/dev/null 2>&1
  check "chat-cli signup works" test $? -eq 0
  check "chat-cli send works" quiet cli alice send bob "hello from the system test"
  bob_has_hello() { cli bob unread | grep -q 'hello from the system test'; }
  check "chat-cli unread shows the message" bob_has_hello
  check "journal: CHATD_EVENT=leader-elected is logged" \
    test -n "$(ct journalctl -q -o cat -u 'chatd@*' CHATD_EVENT=leader-elected)"
}

check_failover() {
  local old new before
  old=$(leader_port)
  if [ -z "$old" ]; then
    not_ok "failover: no leader to kill"
    return
  fi
  before=$(n_restarts "$old")
  ct systemctl kill -s KILL "chatd@$old.service"
  new_leader_elected() { local p; p=$(leader_port) && [ "$p" != "$old" ]; }
  check "a new leader is elected after SIGKILL of the leader (:$old)" wait_for 30 new_leader_elected
  new=$(leader_port)
  echo "leader moved from :$old to :${new:-none}" | diag
  check "the new leader serves chat-cli" quiet cli alice send bob "after the failover"
  ct journalctl -q -o short-monotonic CHATD_EVENT=leader-elected | tail -3 | diag
  check "journal shows the failover (two or more leader-elected events)" \
    test "$(ct journalctl -q -o cat CHATD_EVENT=leader-elected | wc -l)" -ge 2
  restarted() { [ "$(n_restarts "$old")" -gt "$before" ] && ct systemctl is-active --quiet "chatd@$old.service"; }
  check "systemd restarted the killed server" wait_for 30 restarted
  rejoined() { case $(status_text "$old") in follower\ of*) return 0 ;; esac; return 1; }
  check "the restarted server rejoins as a follower" wait_for 60 rejoined
}

check_watchdog() {
  local victim before
  victim=$(for p in "${PORTS[@]}"; do [ "$p" != "$(leader_port)" ] && echo "$p"; done | head -1)
  victim=${victim:-5557}
  before=$(n_restarts "$victim")
  ct systemctl kill -s STOP "chatd@$victim.service"
  restarted() { [ "$(n_restarts "$victim")" -gt "$before" ] && ct systemctl is-active --quiet "chatd@$victim.service"; }
  check "watchdog: a SIGSTOPped server (:$victim) is killed and restarted" \
    wait_for $((WATCHDOG_SEC * 4 + 20)) restarted
  watchdog_logged() { ct journalctl -q -u "chatd@$victim.service" | grep -qi watchdog; }
  check "journal records the watchdog timeout" watchdog_logged
}

check_stop() {
  check "systemctl stop chatd.target stops every server cleanly" \
    ct timeout 60 systemctl stop chatd.target
  local port result good=1
  for port in "${PORTS[@]}"; do
    result=$(ct systemctl show -p Result --value "chatd@$port.service")
    [ "$result" = success ] || { good=0; echo "chatd@$port: Result=$result" | diag; }
  done
  [ $good = 1 ] && ok "every server exited cleanly on SIGTERM" || not_ok "every server exited cleanly on SIGTERM"
}

main() {
  preflight
  trap cleanup EXIT
  trap 'exit 130' INT TERM
  echo "TAP version 13"
  prepare_rootfs
  ok "bookworm rootfs is ready (cached in $CACHE)"
  if ! install_build; then
    tail -20 "$RUN_DIR/install.log" | diag
    echo "Bail out! meson install into the rootfs failed"
    exit 1
  fi
  ok "chatd, chatctl, chat-cli, units and D-Bus policy installed"
  CONFIG=$(cd "$RUN_DIR/root" && find etc usr/local/etc -path '*/chatd/config.ini' 2>/dev/null | head -1)
  CONFIG=/${CONFIG:-etc/chatd/config.ini}
  if ! boot_container; then
    tail -20 "$RUN_DIR/console.log" | diag
    echo "Bail out! the container did not boot"
    exit 1
  fi
  ok "systemd boots in the container"
  check_verify_and_security
  check_start
  check_chatctl
  check_chat
  check_failover
  check_watchdog
  check_stop
  if [ "$FAILED" -gt 0 ]; then
    ct journalctl -q -u 'chatd@*' --no-pager | tail -40 | diag
  fi
  echo "1..$N"
  [ "$FAILED" -eq 0 ]
}

main "$@"

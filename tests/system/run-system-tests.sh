#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The system suite: boots Debian bookworm with systemd in a container and checks chatd@.service there (TAP).
#
# Usage: run-system-tests.sh [BUILD_DIR]   (meson test --suite system passes CHATD_BUILD_ROOT)
# Environment: CHATD_TEST_CACHE, CHATD_TEST_MIRROR, CHATD_TEST_KEEP=1, as in tests/lib/container.sh
#              (the TAP and container helpers shared with the package suite).
set -u

BUILD_DIR=${1:-${CHATD_BUILD_ROOT:-}}
HERE=$(cd "$(dirname "$0")" && pwd)
SOURCE_DIR=$(cd "$HERE/../.." && pwd)
# debootstrap takes no alternative dependencies: dbus-user-session is the session bus that
# libsoup-3.0-0 (glib-networking, dconf) needs. glib-networking is GIO's TLS backend, which
# the units run over; it is named, not left to libsoup's dependencies. The rootfs cache is
# keyed on this list, so a change to it builds a new one.
CT_INCLUDE=systemd,dbus,systemd-sysv,libglib2.0-0,glib-networking,libjson-glib-1.0-0,libsqlite3-0,libsodium23,libsystemd0,libsoup-3.0-0,dbus-user-session
CT_RUN_PREFIX="chatd-system"
PORTS=(5555 5556 5557)
CLI_PASSWORD=system-test-password
CONFIG=
WATCHDOG_SEC=3

# shellcheck source-path=SCRIPTDIR source=../lib/container.sh
. "$HERE/../lib/container.sh"

quiet() {
  "$@" >/dev/null
}

preflight() {
  [ "$(id -u)" -eq 0 ] || skip_all "needs root (debootstrap and systemd-nspawn)"
  local tool
  for tool in debootstrap systemd-nspawn nsenter flock meson openssl; do
    command -v "$tool" >/dev/null || skip_all "$tool is not installed (scripts/install-deps)"
  done
  [ -n "$BUILD_DIR" ] && [ -f "$BUILD_DIR/build.ninja" ] || skip_all "no meson build directory given"
  [ -x "$BUILD_DIR/daemon/chatd" ] || skip_all "chatd is not built in $BUILD_DIR"
}

# Installs the build (chatd, chatctl, chat-cli, units, policy, config) and test drop-ins.
install_build() {
  local root=$CT_RUN_DIR/root policy config
  meson install -C "$BUILD_DIR" --no-rebuild --quiet --destdir "$root" >"$CT_RUN_DIR/install.log" 2>&1 ||
    return 1
  # A prefix other than /usr puts the policy where dbus-daemon does not look.
  policy=$(find "$root/usr" -path '*/dbus-1/system.d/io.github.chatd.conf' | head -1)
  [ -n "$policy" ] || return 1
  mkdir -p "$root/etc/dbus-1/system.d"
  cp "$policy" "$root/etc/dbus-1/system.d/"
  # The cluster key beside config.ini, as the packages make it (LoadCredential= reads it as root).
  config=$(find "$root/etc" "$root/usr" -path '*/chatd/config.ini' | head -1)
  [ -n "$config" ] || return 1
  (umask 077 && head -c 32 /dev/urandom | base64 >"$(dirname "$config")/cluster.key")
  mkdir -p "$root/etc/systemd/system/chatd@.service.d"
  printf '[Service]\nWatchdogSec=%ss\n' "$WATCHDOG_SEC" \
    >"$root/etc/systemd/system/chatd@.service.d/50-system-test.conf"
  # Bootstrap recipe (docs/operations.md): the first server leads the very first term.
  mkdir -p "$root/etc/systemd/system/chatd@5555.service.d"
  printf '[Service]\nExecStart=\n%s --primary\n' \
    "$(grep '^ExecStart=' "$(find "$root/usr" -name 'chatd@.service' | head -1)")" \
    >"$root/etc/systemd/system/chatd@5555.service.d/60-primary.conf"
  echo chatd-test >"$root/etc/hostname"
  install_tls "$root" "$(dirname "$config")"
}

# --- TLS ---------------------------------------------------------------------

# install_tls ROOT CONFIG_DIR: the units run over TLS (docs/operations.md, "TLS"). A CA made
# now by scripts/make-certificates, outside the rootfs, so its key never enters it; the
# server's certificate and its root-only key reach chatd as systemd credentials
# (LoadCredential= in a drop-in, relative names in config.ini); the CA is a file that
# chatd and chat-cli both read. A second CA serves the check that chat-cli refuses it.
install_tls() {
  local root=$1 config_dir=$2
  local tls=$root/etc/chatd/tls
  quiet "$SOURCE_DIR/scripts/make-certificates" "$CT_RUN_DIR/tls" 127.0.0.1 || return 1
  quiet "$SOURCE_DIR/scripts/make-certificates" "$CT_RUN_DIR/other-ca" 127.0.0.1 || return 1
  install -d -m 0755 "$tls"
  install -m 0644 "$CT_RUN_DIR/tls/ca.pem" "$tls/ca.pem"
  install -m 0644 "$CT_RUN_DIR/other-ca/ca.pem" "$tls/other-ca.pem"
  install -m 0644 "$CT_RUN_DIR/tls/127.0.0.1.pem" "$tls/server.pem"
  install -m 0600 "$CT_RUN_DIR/tls/127.0.0.1.key" "$tls/server.key"
  printf '[Service]\nLoadCredential=server.pem:/etc/chatd/tls/server.pem\nLoadCredential=server.key:/etc/chatd/tls/server.key\n' \
    >"$root/etc/systemd/system/chatd@.service.d/55-tls.conf"
  printf '\n[tls]\ncertificate = server.pem\nkey = server.key\nca = /etc/chatd/tls/ca.pem\n' \
    >>"$config_dir/config.ini"
  sed 's|^ca = /etc/chatd/tls/ca.pem$|ca = /etc/chatd/tls/other-ca.pem|' "$config_dir/config.ini" \
    >"$config_dir/other-ca.ini"
}

# ct_openssl ARGS...: the host's openssl on the container's loopback (the rootfs has none).
ct_openssl() {
  nsenter -t "$CT_PID" -n -- openssl "$@"
}

# A plaintext hello to PORT, answered by at most what arrives in 5 s; no JSON may come back.
plaintext_answer() {
  nsenter -t "$CT_PID" -n -- timeout 5 bash -c \
    'exec 3<>"/dev/tcp/127.0.0.1/$1" && printf "%s\n" "$2" >&3 && cat <&3' _ "$1" \
    '{"id": 1, "op": "hello", "client": "system-test", "proto": 1}' 2>/dev/null | tr -d '\0'
}

check_tls() {
  local port good=1 answer out
  key_is_credential() {
    [ "$(ct stat -c %a:%U /etc/chatd/tls/server.key)" = 600:root ] &&
      ct test -s /run/credentials/chatd@5555.service/server.key
  }
  check "tls: the key is root-only (0600) and reaches chatd as a credential" key_is_credential
  for port in "${PORTS[@]}"; do
    ct_openssl s_client -connect "127.0.0.1:$port" -CAfile "$CT_RUN_DIR/tls/ca.pem" \
      -verify_ip 127.0.0.1 -verify_return_error -brief </dev/null >/dev/null 2>&1 || good=0
  done
  [ $good = 1 ] && ok "tls: every port presents a certificate that verifies against the CA" ||
    not_ok "tls: every port presents a certificate that verifies against the CA"
  answer=$(plaintext_answer 5555)
  echo "plaintext hello answered with ${#answer} bytes" | diag
  no_json() { ! grep -q '"id"' <<<"$answer"; }
  check "tls: a plaintext hello gets no JSON answer" no_json
  out=$(ct env CHAT_PASSWORD="$CLI_PASSWORD" chat-cli --config "${CONFIG%/*}/other-ca.ini" \
    --timeout 10 --session-file /root/session-other-ca --user carol signup 2>&1)
  local rc=$?
  echo "$out" | tail -2 | diag
  check "tls: chat-cli refuses a server certificate from another CA" \
    test $rc -ne 0 -a -n "$(grep -i certificate <<<"$out")"
  check_tls_reload
}

# Both ways to re-read the certificates, and the server keeps serving after them.
check_tls_reload() {
  local since
  since=$(ct date +%s.%N)
  check "tls: systemctl reload chatd@5556 (SIGHUP)" ct systemctl reload chatd@5556.service
  check "tls: chatctl reload-certificates" quiet ct chatctl --system reload-certificates
  reloaded() {
    test "$(ct journalctl -q -o cat --since "@$since" -u 'chatd@*' | grep -c 'Certificates reloaded')" -ge 4
  }
  check "tls: the journal shows every reload (SIGHUP on one server, chatctl on three)" \
    wait_for 10 reloaded
  check "tls: chat-cli still works after the reloads" quiet cli alice send bob "after the reload"
}

# --- helpers on chatd inside the container -----------------------------------

n_restarts() {
  ct systemctl show -p NRestarts --value "chatd@$1.service"
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
  local old new before since
  old=$(leader_port)
  if [ -z "$old" ]; then
    not_ok "failover: no leader to kill"
    return
  fi
  before=$(n_restarts "$old")
  since=$(ct date +%s.%N)
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
  check_failover_journal "$old" "$new" "$since"
}

# The journal of a failover reads as sentences naming servers (docs/operations.md shows it).
check_failover_journal() {
  local old=$1 new=$2 since=$3 event
  failover_logged() {
    test -n "$(ct journalctl -q -o cat CHATD_EVENT=failover CHATD_SERVER="127.0.0.1:$old")"
  }
  check "journal: a failover event names the killed server (CHATD_SERVER=127.0.0.1:$old)" \
    wait_for 10 failover_logged
  event=$(ct journalctl -q -o export CHATD_EVENT=failover CHATD_SERVER="127.0.0.1:$old")
  echo "$event" | grep -E '^(MESSAGE|CHATD_[A-Z_]+|SYSLOG_IDENTIFIER)=' | diag
  has_fields() {
    grep -Eq '^CHATD_DOWNTIME_MS=[0-9]+$' <<<"$event" &&
      grep -q "^CHATD_LEADER=127.0.0.1:${new:-x}\$" <<<"$event" && grep -Eq '^CHATD_TERM=[0-9]+$' <<<"$event"
  }
  check "journal: the failover event carries CHATD_DOWNTIME_MS, CHATD_LEADER and CHATD_TERM" has_fields
  no_dconf() { ! ct journalctl -q -o cat -u 'chatd@*' | grep -q dconf; }
  check "journal: no dconf complaints (chatd uses no GSettings)" no_dconf
  check "journal: one failover event for this leader change" \
    test "$(ct journalctl -q -o cat --since "@$since" CHATD_EVENT=failover | wc -l)" -eq 1
  check "journal: records are told apart by server (SYSLOG_IDENTIFIER=chatd@PORT)" \
    test -n "$(ct journalctl -q -o cat -t "chatd@${new:-x}")"
  placeholders() { ct journalctl -q -o cat -u 'chatd@*' | grep -E '\(none\)|\(null\)|cluster event'; }
  check "journal: no placeholder texts ((none), (null), cluster event)" test -z "$(placeholders)"
  echo "the failover as journalctl -u 'chatd@*' prints it:" | diag
  ct journalctl -q -u 'chatd@*' --since "@$since" --no-pager | head -40 | diag
}

# A follower that systemd restarts (SIGKILL, Restart=on-failure) rejoins without any
# election: pre-vote and leader stickiness (docs/replication.md, C3 and C11). Only a
# winner logs leader-elected, so none may appear after the kill.
check_follower_rejoin_keeps_leader() {
  local leader victim before since term
  leader=$(leader_port)
  if [ -z "$leader" ]; then
    not_ok "follower rejoin: no leader"
    return
  fi
  victim=$(for p in "${PORTS[@]}"; do [ "$p" != "$leader" ] && echo "$p"; done | head -1)
  term=$(status_text "$leader" | cut -d, -f1-2)
  before=$(n_restarts "$victim")
  since=$(ct date +%s.%N)
  ct systemctl kill -s KILL "chatd@$victim.service"
  follower_restarted() {
    [ "$(n_restarts "$victim")" -gt "$before" ] && ct systemctl is-active --quiet "chatd@$victim.service"
  }
  check "follower rejoin: systemd restarted the killed follower (:$victim)" wait_for 30 follower_restarted
  follows_leader() { case $(status_text "$victim") in "follower of 127.0.0.1:$leader, "*) return 0 ;; esac; return 1; }
  check "follower rejoin: :$victim follows :$leader again" wait_for 60 follows_leader
  sleep 3
  ct journalctl -q -o short-monotonic --since "@$since" CHATD_EVENT=leader-elected | diag
  check "follower rejoin: no leader-elected event since the kill" \
    test "$(ct journalctl -q -o cat --since "@$since" CHATD_EVENT=leader-elected | wc -l)" -eq 0
  check "follower rejoin: :$leader still leads in the same term ($term)" \
    test "$(status_text "$leader" | cut -d, -f1-2)" = "$term"
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
  trap ct_cleanup EXIT
  trap 'exit 130' INT TERM
  echo "TAP version 13"
  ct_prepare_rootfs
  ok "bookworm rootfs is ready (cached in $CT_CACHE)"
  if ! install_build; then
    tail -20 "$CT_RUN_DIR/install.log" | diag
    bail_out "meson install into the rootfs failed"
  fi
  ok "chatd, chatctl, chat-cli, units and D-Bus policy installed"
  CONFIG=$(cd "$CT_RUN_DIR/root" && find etc usr/local/etc -path '*/chatd/config.ini' 2>/dev/null | head -1)
  CONFIG=/${CONFIG:-etc/chatd/config.ini}
  if ! ct_boot; then
    tail -20 "$CT_RUN_DIR/console.log" | diag
    bail_out "the container did not boot"
  fi
  ok "systemd boots in the container"
  check_verify_and_security
  check_start
  check_chatctl
  check_chat
  check_tls
  check_failover
  check_follower_rejoin_keeps_leader
  check_watchdog
  check_stop
  if [ "$TAP_FAILED" -gt 0 ]; then
    ct journalctl -q -u 'chatd@*' --no-pager | tail -40 | diag
  fi
  tap_end
}

main "$@"

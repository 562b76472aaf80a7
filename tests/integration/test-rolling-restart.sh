#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# units/chatd-rolling-restart against three real servers on a private session bus: a stand-in
# systemctl lists and restarts them; the leader (on the first port) goes last, after one handover,
# and the cluster ends exactly one term further (TAP).
set -u
build=${CHATD_BUILD_ROOT:?}
src=${CHATD_SOURCE_ROOT:?}
if [ -z "${CHATD_ROLLING_IN_BUS:-}" ]; then
  CHATD_ROLLING_IN_BUS=1 exec dbus-run-session -- bash "$0" "$@"
fi
# Made only on the bus side of the exec, whose exit trap (cleanup) removes it.
dir=$(mktemp -d /tmp/chatd-rolling-XXXXXX)
trap cleanup EXIT
n=0
failed=0

check() {
  local what=$1
  shift
  n=$((n + 1))
  if "$@"; then echo "ok $n - $what"; else echo "not ok $n - $what"; failed=$((failed + 1)); fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

ports=("$(free_port)" "$(free_port)" "$(free_port)")
{
  echo "[server]"
  for i in 0 1 2; do printf 'host%d = 127.0.0.1\nport%d = %s\n' $((i + 1)) $((i + 1)) "${ports[$i]}"; done
} >"$dir/config.ini"
head -c 32 /dev/urandom | base64 >"$dir/cluster.key"

# start PORT [--primary]: one server in the background, its pid in DIR/PORT.pid.
start() {
  "$build/daemon/chatd" --port "$1" --config "$dir/config.ini" --state-dir "$dir/state-$1" \
    "${@:2}" >>"$dir/chatd-$1.log" 2>&1 &
  echo $! >"$dir/$1.pid"
}

# The stand-in systemctl: "list-units" prints the running servers as chatd@PORT.service,
# "restart chatd@PORT.service" stops one with SIGTERM and starts it again.
mkdir -p "$dir/bin"
cat >"$dir/bin/systemctl" <<STUB
#!/bin/bash
case \$1 in
  list-units) for p in ${ports[*]}; do echo "chatd@\$p.service loaded active running chatd"; done ;;
  restart)
    p=\${2#chatd@}; p=\${p%.service}
    echo "restart \$p" >>"$dir/restarts"
    kill "\$(cat "$dir/\$p.pid")"
    while kill -0 "\$(cat "$dir/\$p.pid")" 2>/dev/null; do sleep 0.05; done
    $(declare -f start)
    dir=$dir; build=$build
    start "\$p" ;;
esac
STUB
chmod +x "$dir/bin/systemctl"

term_of() {
  "$build/cli/chatctl/chatctl" --session --port "$1" --json status 2>/dev/null |
    sed -n 's/^    "term" : \([0-9]*\),$/\1/p'
}
role_of() {
  "$build/cli/chatctl/chatctl" --session --port "$1" --json status 2>/dev/null |
    sed -n 's/^    "role" : "\(.*\)",$/\1/p'
}

run() {
  export CHATD_DBUS=session CHATD_CLUSTER_KEY=$dir/cluster.key
  start "${ports[0]}" --primary
  start "${ports[1]}"
  start "${ports[2]}"
  local i
  for i in $(seq 1 100); do
    [ "$(role_of "${ports[0]}")" = leader ] && [ -n "$(role_of "${ports[2]}")" ] &&
      [ -n "$(role_of "${ports[1]}")" ] && break
    sleep 0.1
  done
  echo "1..5"
  check "the first port leads before the restart" test "$(role_of "${ports[0]}")" = leader
  local before after
  before=$(term_of "${ports[1]}")
  PATH="$dir/bin:$(dirname "$build/cli/chatctl/chatctl"):$PATH" CHATD_ROLLING_BUS=--session \
    CHATD_RESTART_COMMAND="systemctl restart" CHATD_SYNC_TIMEOUT=30 \
    sh "$src/units/chatd-rolling-restart" >"$dir/rolling.log" 2>&1
  check "chatd-rolling-restart exits 0" test $? -eq 0
  sed 's/^/# /' "$dir/rolling.log"
  check "every server was restarted once, the old leader last" \
    test "$(cat "$dir/restarts" | tr '\n' ' ')" = \
    "restart ${ports[1]} restart ${ports[2]} restart ${ports[0]} "
  all_back() { ! grep -q 'not back in sync' "$dir/rolling.log"; }
  check "every server came back in sync" all_back
  after=$(term_of "${ports[1]}")
  # A term is its election counter times 256 plus the candidate's node id (chat-repl-types.h).
  echo "# term $before (election $((before >> 8))) before, $after (election $((after >> 8))) after"
  check "exactly one election: the counter moved by one" test $((after >> 8)) = $(((before >> 8) + 1))
}

cleanup() {
  local p
  for p in "${ports[@]}"; do [ -f "$dir/$p.pid" ] && kill "$(cat "$dir/$p.pid")" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$dir"
}

run
exit $((failed > 0))

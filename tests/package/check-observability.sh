# shellcheck shell=bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Package suite, sourced by run-package-tests.sh once the packaged cluster runs: chatctl health's
# exit codes, the packaged bash completion, and Debian's prometheus scraping the three servers.
# Uses the TAP and container helpers of tests/lib/container.sh; leaves the cluster running.

# Prometheus runs on the host's binary inside the container's network namespace (the
# servers listen on the container's loopback), for at most this many seconds.
OBS_PROMETHEUS_LIFETIME=180
OBS_PROMETHEUS_PORT=9090

# health_exits CODE ARGS...: chatctl health ARGS exits CODE; its line goes to the TAP log.
health_exits() {
  local want=$1 out rc
  shift
  out=$(ct chatctl --system health "$@" 2>&1)
  rc=$?
  echo "chatctl health $*: $out (exit $rc)" | diag
  [ "$rc" -eq "$want" ]
}

a_follower_port() {
  local port leader
  leader=$(leader_port)
  for port in "${PORTS[@]}"; do
    [ "$port" != "$leader" ] && { echo "$port"; return 0; }
  done
  return 1
}

check_health_exit_codes() {
  check "chatctl health: healthy (exit 0) with every server in sync" health_exits 0 --wait 60
  unprivileged_health() {
    ct setpriv --reuid=65534 --regid=65534 --clear-groups chatctl --system health >/dev/null
  }
  check "chatctl health works for an unprivileged user" unprivileged_health
  local victim
  victim=$(a_follower_port) || { not_ok "chatctl health: no follower to stop"; return; }
  ct systemctl stop "chatd@$victim.service"
  degraded() { health_exits 1; }
  check "chatctl health: degraded (exit 1) with chatd@$victim stopped" wait_for 30 degraded
  check "chatctl health --port $victim: unavailable (exit 2) while nothing serves that port" \
    health_exits 2 --port "$victim"
  ct systemctl start "chatd@$victim.service"
  check "chatctl health --wait 90: healthy (exit 0) once chatd@$victim is back in sync" \
    health_exits 0 --wait 90
}

check_completion_installed() {
  local file good=1
  for file in /usr/share/bash-completion/completions/chatctl \
    /usr/share/bash-completion/completions/chat-cli; do
    if ! ct test -f "$file" || ! ct bash -n "$file"; then
      good=0
      echo "$file: missing or invalid" | diag
    fi
  done
  check "bash completion for chatctl and chat-cli is installed and parses" test $good = 1
}

restart_until_in_sync() {
  ct systemctl restart "chatd@$1.service" && ct chatctl --system health --wait 90 >/dev/null
}

# Metrics on: [metrics] in config.ini, then every server restarted, followers first, each
# back in sync before the next.
enable_metrics() {
  local port leader
  printf '\n[metrics]\nlisten = 127.0.0.1:9555\n' | ct tee -a "$CONFIG" >/dev/null || return 1
  leader=$(leader_port) || return 1
  for port in "${PORTS[@]}"; do
    [ "$port" = "$leader" ] || restart_until_in_sync "$port" || return 1
  done
  restart_until_in_sync "$leader"
}

prometheus_query() {
  nsenter -t "$CT_PID" -n -- curl -sf --max-time 5 -G --data-urlencode "query=$1" \
    "http://127.0.0.1:$OBS_PROMETHEUS_PORT/api/v1/query"
}

# prometheus_says QUERY VALUE: the first sample of the instant query QUERY is VALUE.
prometheus_says() {
  prometheus_query "$1" | grep -q "\"value\":\[[0-9.e+]*,\"$2\"\]"
}

check_prometheus_scrape() {
  local dir pid
  if ! command -v prometheus >/dev/null; then
    ok "prometheus scrapes the three servers # SKIP prometheus is not installed on the host"
    return
  fi
  check "[metrics] listen = 127.0.0.1:9555, servers restarted one by one" enable_metrics
  dir=$(mktemp -d /tmp/chatd-prometheus.XXXXXX)
  printf '%s\n' 'global:' '  scrape_interval: 1s' '  scrape_timeout: 1s' 'scrape_configs:' \
    '  - job_name: chatd' '    static_configs:' \
    "      - targets: ['127.0.0.1:9555', '127.0.0.1:9556', '127.0.0.1:9557']" \
    >"$dir/prometheus.yml"
  nsenter -t "$CT_PID" -n -- timeout "$OBS_PROMETHEUS_LIFETIME" prometheus \
    --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/data" \
    --web.listen-address="127.0.0.1:$OBS_PROMETHEUS_PORT" --log.level=warn \
    >"$dir/prometheus.log" 2>&1 &
  pid=$!
  send_scraped() { cli alice send bob "counted by prometheus" >/dev/null; }
  check "chat-cli send with metrics on" send_scraped
  check "prometheus scrapes the three servers (up == 1)" \
    wait_for 60 prometheus_says 'count(up{job="chatd"} == 1)' 3
  check "prometheus: exactly one leader (sum of chatd_role{role=\"leader\"})" \
    wait_for 30 prometheus_says 'sum(chatd_role{role="leader"})' 1
  check "prometheus: the chat-cli requests are counted (chatd_requests_total{op=\"send\"})" \
    wait_for 30 prometheus_says 'sum(chatd_requests_total{op="send",result="ok"}) > bool 0' 1
  prometheus_query 'chatd_in_sync_servers' | diag
  echo | diag
  kill "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  rm -rf "$dir"
}

check_health_exit_codes
check_completion_installed
check_prometheus_scrape

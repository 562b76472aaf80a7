#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Side by side: etcd 3.4 (three members on loopback, `etcdctl check perf`) and a three-server
# chatd cluster (chatd-bench load) at the check perf load levels s, m and l.
#
#   bench/etcd-compare.sh BUILD_DIR [RUNS] [LOADS]
#
# RUNS (default 3) repeats every point; LOADS (default "s m l") picks the levels. Each etcd
# run takes 60 s (check perf's fixed duration) on a fresh cluster; chatd runs use the same
# client count, the same rate limit and the same value size (1024 bytes), for 60 s each,
# on one fresh three-server cluster per level.
set -eu

build=${1:?usage: etcd-compare.sh BUILD_DIR [RUNS] [LOADS]}
runs=${2:-3}
loads=${3:-s m l}
bench="$build/bench/chatd-bench"
work=$(mktemp -d /tmp/chatd-etcd-XXXXXX)
pids=""

cleanup() {
  for pid in $pids; do kill -9 "$pid" 2>/dev/null || true; done
  for pid in $pids; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Free loopback ports, picked once: 2 per member (a base whose six ports nobody listens on).
client_port() { echo $(( base + $1 )); }
peer_port() { echo $(( base + 10 + $1 )); }
ports_free() {
  for i in 1 2 3; do
    for port in $(client_port "$i") $(peer_port "$i"); do
      ss -Htln "sport = :$port" | grep -q . && return 1
    done
  done
  return 0
}
base=$(( 24000 + $$ % 4000 * 4 ))
for _ in $(seq 1 50); do
  ports_free && break
  base=$(( 24000 + $(od -An -N2 -tu2 /dev/urandom) % 4000 * 4 ))
done
cluster=""
for i in 1 2 3; do
  cluster="${cluster:+$cluster,}m$i=http://127.0.0.1:$(peer_port $i)"
done
endpoints="127.0.0.1:$(client_port 1),127.0.0.1:$(client_port 2),127.0.0.1:$(client_port 3)"

start_etcd() {
  rm -rf "$work"/m*
  pids=""
  for i in 1 2 3; do
    etcd --name "m$i" --data-dir "$work/m$i" \
      --listen-client-urls "http://127.0.0.1:$(client_port $i)" \
      --advertise-client-urls "http://127.0.0.1:$(client_port $i)" \
      --listen-peer-urls "http://127.0.0.1:$(peer_port $i)" \
      --initial-advertise-peer-urls "http://127.0.0.1:$(peer_port $i)" \
      --initial-cluster "$cluster" --initial-cluster-state new \
      --initial-cluster-token "chatd-compare-$$" >"$work/m$i.log" 2>&1 &
    pids="$pids $!"
  done
  for _ in $(seq 1 100); do
    for pid in $pids; do
      kill -0 "$pid" 2>/dev/null || { echo "an etcd member exited:" >&2; tail -2 "$work"/m*.log >&2; exit 1; }
    done
    if ETCDCTL_API=3 etcdctl --endpoints "$endpoints" --dial-timeout 2s endpoint health >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.2
  done
  echo "etcd did not become healthy" >&2
  exit 1
}

stop_etcd() {
  for pid in $pids; do kill "$pid" 2>/dev/null || true; done
  for pid in $pids; do wait "$pid" 2>/dev/null || true; done
  pids=""
}

clients_of() { case $1 in s) echo 50 ;; m) echo 200 ;; l) echo 500 ;; xl) echo 1000 ;; esac; }
limit_of() { case $1 in s) echo 150 ;; m) echo 1000 ;; l) echo 8000 ;; xl) echo 15000 ;; esac; }

echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ)  nproc $(nproc)  cpu $(lscpu | sed -n 's/^Model name: *//p')  load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# $(etcd --version | head -1)"
for load in $loads; do
  echo "# level $load from $(date -u +%H:%M:%S), load $(cut -d' ' -f1-3 /proc/loadavg)"
  for run in $(seq 1 "$runs"); do
    start_etcd
    echo "etcd  load $load run $run ($(clients_of "$load") clients, limit $(limit_of "$load")/s):"
    ETCDCTL_API=3 etcdctl --endpoints "$endpoints" check perf --load="$load" 2>&1 \
      | grep -E 'Throughput|Slowest|Stddev|ERROR' | sed 's/^/  /' || true
    stop_etcd
  done
  # One cluster for the runs of a level: its clients sign up once, then resume.
  echo "chatd load $load ($(clients_of "$load") clients, limit $(limit_of "$load")/s):"
  "$bench" load --nodes 3 --clients "$(clients_of "$load")" --rate "$(limit_of "$load")" \
    --size 1024 --duration 60 --warmup 0 --runs "$runs" | grep -v '^#' | sed 's/^/  /'
done

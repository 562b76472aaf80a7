# SPDX-License-Identifier: LGPL-2.1-or-later
# Container helpers for the package suite (sourced): a cached debootstrap rootfs and a booted systemd-nspawn.
# shellcheck shell=bash
#
# Environment: CHATD_TEST_CACHE (rootfs cache, default /var/cache/chatd-test, shared with the
# system suite under the same lock), CHATD_TEST_MIRROR (Debian mirror), CHATD_TEST_KEEP=1.
# The caller sets CT_INCLUDE (debootstrap --include list) and CT_RUN_PREFIX, and defines
# skip_all REASON and diag (stdin to TAP comments).

CT_CACHE=${CHATD_TEST_CACHE:-/var/cache/chatd-test}
CT_MIRROR=${CHATD_TEST_MIRROR:-http://deb.debian.org/debian}
CT_RUN_DIR=
CT_NSPAWN_PID=
CT_PID=

# ct_prepare_rootfs: copies the cached bookworm rootfs (built once per package list) to
# $CT_RUN_DIR/root. The lock keeps parallel runs and the system suite apart.
ct_prepare_rootfs() {
  local key base host
  key=$(echo "$CT_INCLUDE" | md5sum | cut -c1-8)
  base="$CT_CACHE/rootfs-bookworm-$key"
  mkdir -p "$CT_CACHE"
  exec 9>"$CT_CACHE/lock"
  flock 9
  if [ ! -e "$base/.complete" ]; then
    rm -rf --one-file-system "$base.tmp"
    if ! debootstrap --variant=minbase --include="$CT_INCLUDE" bookworm "$base.tmp" "$CT_MIRROR" \
        >"$CT_CACHE/debootstrap-$key.log" 2>&1; then
      flock -u 9
      tail -5 "$CT_CACHE/debootstrap-$key.log" | diag
      host=$(echo "$CT_MIRROR" | sed -E 's|^[a-z]+://([^/]+).*|\1|')
      getent hosts "$host" >/dev/null || skip_all "no network to reach $CT_MIRROR for debootstrap"
      skip_all "debootstrap failed (see $CT_CACHE/debootstrap-$key.log)"
    fi
    touch "$base.tmp/.complete"
    mv "$base.tmp" "$base"
  fi
  CT_RUN_DIR=$(mktemp -d "/var/tmp/$CT_RUN_PREFIX.XXXXXX")
  cp -a --reflink=auto "$base" "$CT_RUN_DIR/root"
  flock -u 9
  exec 9>&-
}

# ct_boot: boots systemd in the rootfs with a private network (loopback only) and
# waits until it is up. CT_NSPAWN_PID is systemd-nspawn, CT_PID the container's init.
ct_boot() {
  local child state
  systemd-nspawn --register=no --keep-unit --quiet --private-network --console=pipe \
    -D "$CT_RUN_DIR/root" -b </dev/null >"$CT_RUN_DIR/console.log" 2>&1 &
  CT_NSPAWN_PID=$!
  # nspawn's first child is short-lived; the container's init is the child running systemd.
  for _ in $(seq 1 200); do
    for child in $(cat "/proc/$CT_NSPAWN_PID/task/$CT_NSPAWN_PID/children" 2>/dev/null); do
      [ "$(cat "/proc/$child/comm" 2>/dev/null)" = systemd ] && CT_PID=$child
    done
    [ -n "$CT_PID" ] && break
    sleep 0.1
  done
  [ -n "$CT_PID" ] || return 1
  # systemctl needs the manager's socket before it can wait for the boot to finish.
  wait_for 30 test -S "/proc/$CT_PID/root/run/systemd/private" || return 1
  state=$(ct timeout 90 systemctl is-system-running --wait 2>&1)
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
ct() {
  nsenter -t "$CT_PID" -a -- env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
    HOME=/root "$@"
}

# ct_net COMMAND...: as ct, but on the host's network, so apt reaches the Debian archive
# while the servers inside keep their private loopback.
ct_net() {
  nsenter -t "$CT_PID" -m -u -i -p -C -- env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
    HOME=/root DEBIAN_FRONTEND=noninteractive "$@"
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

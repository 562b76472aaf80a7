#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The package suite: builds the .deb and .rpm packages twice (0.1.0, then 0.1.1), checks
# them, and installs, upgrades, removes and purges the .debs in a booted bookworm container (TAP).
#
# Usage: run-package-tests.sh [SOURCE_DIR]   (meson passes the source root)
# Environment: CHATD_PACKAGES=DIR reuses packages built before in DIR/0.1.0 and DIR/0.1.1
#              (by packaging/build-packages.sh) instead of building them;
#              CHATD_TEST_CACHE, CHATD_TEST_MIRROR, CHATD_TEST_KEEP=1 as in tests/lib/container.sh
#              (the TAP and container helpers shared with the system suite).
set -u

SRC=$(realpath "${1:-${CHATD_SOURCE_ROOT:-$(dirname "$0")/../..}}")
HERE=$(cd "$(dirname "$0")" && pwd)
OLD=0.1.0
NEW=0.1.1
PORTS=(5555 5556 5557)
PACKAGES=(chatd chat-cli chat-gtk)
CONFIG=/etc/chatd/config.ini
CLI_PASSWORD=package-test-password
# Only what boots; apt brings chatd's dependencies from the archive.
CT_INCLUDE=systemd,systemd-sysv,dbus
CT_RUN_PREFIX="chatd-package"

PKG_DIR=

# shellcheck source-path=SCRIPTDIR source=../lib/container.sh
. "$HERE/../lib/container.sh"

cleanup() {
  ct_cleanup
  if [ -n "$PKG_DIR" ] && [ -z "${CHATD_PACKAGES:-}" ] && [ "${CHATD_TEST_KEEP:-0}" != 1 ]; then
    rm -rf "$PKG_DIR"
  fi
}

preflight() {
  [ "$(id -u)" -eq 0 ] || skip_all "needs root (dpkg-buildpackage, debootstrap and systemd-nspawn)"
  local tool
  for tool in debootstrap systemd-nspawn; do
    command -v "$tool" >/dev/null || skip_all "$tool is not installed: no rootfs (scripts/install-deps)"
  done
  for tool in dpkg-buildpackage lintian rpmbuild rpmlint eu-strip nsenter flock; do
    command -v "$tool" >/dev/null || bail_out "$tool is not installed (scripts/install-deps)"
  done
  [ -x "$SRC/packaging/build-packages.sh" ] || bail_out "no packaging/build-packages.sh in $SRC"
}

# --- building and inspecting the packages --------------------------------------

deb() { echo "$PKG_DIR/$2/${1}_${2}-1_amd64.deb"; }
rpm_file() { echo "$PKG_DIR/$2/$1-$2-1.x86_64.rpm"; }

# build VERSION [OPTIONS]: both package sets of the tree, labelled VERSION.
build() {
  local version=$1
  if [ -n "${CHATD_PACKAGES:-}" ]; then
    echo "reusing the packages in $PKG_DIR/$version" | diag
    return 0
  fi
  DEB_BUILD_OPTIONS="${2:-}" "$SRC/packaging/build-packages.sh" "$PKG_DIR/$version" "$version" both \
    >"$PKG_DIR/build-$version.log" 2>&1
  local rc=$?
  [ $rc -eq 0 ] || tail -40 "$PKG_DIR/build-$version.log" | diag
  return $rc
}

all_built() {
  local version=$1 p missing=0
  for p in "${PACKAGES[@]}"; do
    [ -f "$(deb "$p" "$version")" ] || { echo "missing $(deb "$p" "$version")" | diag; missing=1; }
    [ -f "$(rpm_file "$p" "$version")" ] || { echo "missing $(rpm_file "$p" "$version")" | diag; missing=1; }
  done
  [ $missing = 0 ]
}

lintian_clean() {
  local report=$PKG_DIR/$1/lintian.txt
  [ -f "$report" ] || return 1
  diag <"$report"
  ! grep -q '^[EW]: ' "$report"
}

rpmlint_no_errors() {
  local report=$PKG_DIR/$1/rpmlint.txt
  [ -f "$report" ] || return 1
  diag <"$report"
  grep -q '; 0 errors' "$report"
}

file_lists_match() {
  local out rc
  out=$("$SRC/packaging/compare-file-lists.sh" "$PKG_DIR/$1" 2>&1)
  rc=$?
  echo "$out" | diag
  return $rc
}

# The files of a .deb, one path a line, without directories.
deb_files() {
  dpkg-deb --fsys-tarfile "$1" | tar -t | grep -v '/$' | sed 's|^\./|/|'
}

has_files() {
  local list=$1 path
  shift
  for path in "$@"; do
    grep -qxF "$path" <<<"$list" || { echo "missing $path" | diag; return 1; }
  done
}

# Every program in /usr/bin (section 1) and /usr/sbin (section 8) comes with its man page.
man_pages_for_binaries() {
  local p list bin good=0
  for p in "${PACKAGES[@]}"; do
    list=$(deb_files "$(deb "$p" "$OLD")")
    for bin in $(grep '^/usr/bin/' <<<"$list"); do
      bin=${bin##*/}
      grep -Eq "^/usr/share/man/man1/$bin\.1\.gz$" <<<"$list" ||
        { echo "$p: no man page for $bin in section 1" | diag; good=1; }
    done
    for bin in $(grep '^/usr/sbin/' <<<"$list"); do
      bin=${bin##*/}
      grep -Eq "^/usr/share/man/man8/$bin\.8\.gz$" <<<"$list" ||
        { echo "$p: no man page for $bin in section 8" | diag; good=1; }
    done
  done
  return $good
}

check_deb_contents() {
  local chatd cli gtk
  chatd=$(deb_files "$(deb chatd "$OLD")")
  cli=$(deb_files "$(deb chat-cli "$OLD")")
  gtk=$(deb_files "$(deb chat-gtk "$OLD")")
  check "chatd.deb holds the server, chatctl, units, sysusers, D-Bus policy and config" \
    has_files "$chatd" /usr/sbin/chatd /usr/bin/chatctl /lib/systemd/system/chatd@.service \
    /lib/systemd/system/chatd.target /usr/lib/sysusers.d/chatd.conf \
    /usr/share/dbus-1/system.d/io.github.chatd.conf /etc/chatd/config.ini
  check "chat-cli.deb holds chat-cli" has_files "$cli" /usr/bin/chat-cli
  check "chat-gtk.deb holds chat-gtk, desktop file, metainfo, icons, schema" \
    has_files "$gtk" /usr/bin/chat-gtk /usr/share/applications/io.github.chatd.Chat.desktop \
    /usr/share/metainfo/io.github.chatd.Chat.metainfo.xml \
    /usr/share/glib-2.0/schemas/io.github.chatd.Chat.gschema.xml \
    /usr/share/icons/hicolor/scalable/apps/io.github.chatd.Chat.svg
  check "every binary has a man page" man_pages_for_binaries
  no_key() { ! grep -q 'cluster\.key' <<<"$chatd"; }
  check "no package ships a cluster key" no_key
  conffile() { dpkg-deb --ctrl-tarfile "$(deb chatd "$OLD")" | tar -xO ./conffiles | grep -qx /etc/chatd/config.ini; }
  check "/etc/chatd/config.ini is a conffile of chatd" conffile
  no_start() {
    local scripts
    scripts=$(dpkg-deb --ctrl-tarfile "$(deb chatd "$OLD")" | tar -xO ./postinst)
    ! grep -Eq '(deb-systemd-invoke|systemctl).*(start|enable).*chatd(@|\.target)' <<<"$scripts"
  }
  check "chatd's postinst neither enables nor starts a unit on install" no_start
}

# depends_has LIST NAME...: every NAME appears as a package in a Depends line.
depends_has() {
  local list=$1 name
  shift
  for name in "$@"; do
    grep -Eq "(^|[ ,|])$name( |,|$)" <<<"$list" || { echo "no $name in: $list" | diag; return 1; }
  done
}

depends_lacks() {
  local list=$1 name
  shift
  for name in "$@"; do
    if grep -Eq "(^|[ ,|])$name( |,|$)" <<<"$list"; then echo "$name in: $list" | diag; return 1; fi
  done
}

rpm_requires() {
  rpm -qpR "$1" 2>/dev/null | sed 's/ *$//' | sort -u | tr '\n' ' '
}

check_dependencies() {
  local chatd cli gtk
  chatd=$(dpkg-deb -f "$(deb chatd "$OLD")" Depends)
  cli=$(dpkg-deb -f "$(deb chat-cli "$OLD")" Depends)
  gtk=$(dpkg-deb -f "$(deb chat-gtk "$OLD")" Depends)
  echo "chatd Depends: $chatd" | diag
  echo "chat-cli Depends: $cli" | diag
  echo "chat-gtk Depends: $gtk" | diag
  check "deb: chatd depends on dbus, systemd (sysusers), GLib, json-glib, SQLite, libsodium, libsystemd" \
    depends_has "$chatd" dbus systemd libglib2.0-0 libjson-glib-1.0-0 libsqlite3-0 libsodium23 libsystemd0
  cli_deps() { depends_has "$cli" libglib2.0-0 libjson-glib-1.0-0 && depends_lacks "$cli" libgtk-4-1 libadwaita-1-0 chatd; }
  check "deb: chat-cli depends on GLib and json-glib, not on GTK or the server" cli_deps
  check "deb: chat-gtk depends on GTK 4 and libadwaita" \
    depends_has "$gtk" libgtk-4-1 libadwaita-1-0 libglib2.0-0

  chatd=$(rpm_requires "$(rpm_file chatd "$OLD")")
  cli=$(rpm_requires "$(rpm_file chat-cli "$OLD")")
  gtk=$(rpm_requires "$(rpm_file chat-gtk "$OLD")")
  echo "chatd Requires: $chatd" | diag
  echo "chat-cli Requires: $cli" | diag
  echo "chat-gtk Requires: $gtk" | diag
  rpm_has() {
    local list=$1 name
    shift
    for name in "$@"; do
      grep -qF " $name" <<<" $list" || { echo "no $name" | diag; return 1; }
    done
  }
  check "rpm: chatd requires dbus, systemd and the shared libraries" \
    rpm_has "$chatd" dbus systemd libglib-2.0.so.0 libjson-glib-1.0.so.0 libsqlite3.so.0 \
    libsodium.so.23 libsystemd.so.0
  cli_ok() { rpm_has "$cli" libglib-2.0.so.0 libjson-glib-1.0.so.0 && ! grep -Eq 'libgtk|libadwaita' <<<"$cli"; }
  check "rpm: chat-cli requires GLib and json-glib, not GTK" cli_ok
  check "rpm: chat-gtk requires GTK 4 and libadwaita" rpm_has "$gtk" libgtk-4.so.1 libadwaita-1.so.0
}

check_versions() {
  local old new
  old=$(dpkg-deb -f "$(deb chatd "$OLD")" Version)
  new=$(dpkg-deb -f "$(deb chatd "$NEW")" Version)
  check "deb versions: $new is newer than $old" dpkg --compare-versions "$new" gt "$old"
  old=$(rpm -qp --qf '%{VERSION}-%{RELEASE}' "$(rpm_file chatd "$OLD")" 2>/dev/null)
  new=$(rpm -qp --qf '%{VERSION}-%{RELEASE}' "$(rpm_file chatd "$NEW")" 2>/dev/null)
  check "rpm versions: $new is newer than $old" rpm_newer "$new" "$old"
}

# rpm_newer A B: rpm orders version A after B.
rpm_newer() {
  [ "$(rpm --eval "%{lua: print(rpm.vercmp('$1', '$2'))}")" = 1 ]
}

# --- inside the container ------------------------------------------------------

copy_debs_in() {
  local dir=$CT_RUN_DIR/root/var/tmp/chatd-debs
  mkdir -p "$dir/$OLD" "$dir/$NEW"
  cp "$(deb chatd "$OLD")" "$(deb chat-cli "$OLD")" "$dir/$OLD/"
  cp "$(deb chatd "$NEW")" "$(deb chat-cli "$NEW")" "$dir/$NEW/"
  chmod -R a+rX "$dir"
  cp /etc/resolv.conf "$CT_RUN_DIR/root/etc/resolv.conf"
  echo chatd-package-test >"$CT_RUN_DIR/root/etc/hostname"
}

# apt_install VERSION: apt-get install ./chatd_*.deb ./chat-cli_*.deb of VERSION in the container.
apt_install() {
  local dir=/var/tmp/chatd-debs/$1
  ct_net apt-get install -y --no-install-recommends \
    "$dir/chatd_${1}-1_amd64.deb" "$dir/chat-cli_${1}-1_amd64.deb" >"$CT_RUN_DIR/apt-$1.log" 2>&1
  local rc=$?
  [ $rc -eq 0 ] || tail -20 "$CT_RUN_DIR/apt-$1.log" | diag
  return $rc
}

installed_version() {
  ct dpkg-query -W -f '${Version}' "$1" 2>/dev/null
}

package_status() {
  ct dpkg-query -W -f '${db:Status-Abbrev}' "$1" 2>/dev/null | tr -d ' '
}

none_active() {
  local port
  for port in "${PORTS[@]}"; do
    ct systemctl is-active --quiet "chatd@$port.service" && return 1
  done
  return 0
}

# The identity of a running instance: main PID and the time it became active.
instance_identity() {
  ct systemctl show -p MainPID -p ActiveEnterTimestampMonotonic --value "chatd@$1.service" | tr '\n' ' '
}

check_install() {
  check "apt-get install ./chatd_${OLD}-1_amd64.deb ./chat-cli_${OLD}-1_amd64.deb (dependencies from the archive)" \
    apt_install "$OLD"
  check "chatd $OLD-1 is installed" test "$(installed_version chatd)" = "$OLD-1"
  user_exists() { ct getent passwd chatd >/dev/null; }
  check "the chatd system user exists (sysusers)" user_exists
  check "installing started no chatd instance" none_active
  not_enabled() {
    local state
    state=$(ct systemctl is-enabled chatd.target 2>/dev/null)
    echo "chatd.target: $state" | diag
    [ "$state" = disabled ] && [ "$(ct systemctl is-enabled chatd@5555.service 2>/dev/null)" = disabled ]
  }
  check "installing enabled nothing (chatd.target and chatd@5555 disabled)" not_enabled
  conffile_registered() { ct dpkg-query -W -f '${Conffiles}' chatd | grep -q ' /etc/chatd/config.ini '; }
  check "dpkg lists /etc/chatd/config.ini as a conffile" conffile_registered
  check "systemd-analyze verify accepts the installed units" \
    ct systemd-analyze verify --man=no chatd@5555.service chatd.target
  check_cluster_key
  purge_question() { ct debconf-show chatd | grep -q 'chatd/purge_data: false'; }
  check "debconf knows the purge question chatd/purge_data (default: keep the data)" purge_question
}

# Issue 19, cases 1 and 2: the key in a file of its own, config.ini without a secret.
check_cluster_key() {
  key_made() {
    local info
    info=$(ct stat -c '%a %U %G %s' /etc/chatd/cluster.key) || return 1
    echo "/etc/chatd/cluster.key: mode owner group bytes = $info" | diag
    [ "$info" = "640 root chatd 45" ]
  }
  check "postinst made /etc/chatd/cluster.key: 0640 root:chatd, 32 random bytes in base64" key_made
  KEY_SUM=$(ct sha256sum /etc/chatd/cluster.key | cut -d' ' -f1)
  key_decodes() { [ "$(ct base64 -d /etc/chatd/cluster.key | wc -c)" = 32 ]; }
  check "the key decodes to 32 bytes" key_decodes
  config_public() {
    [ "$(ct stat -c '%a %U' "$CONFIG")" = "644 root" ] && ! ct grep -Eq '^[[:space:]]*secret' "$CONFIG"
  }
  check "config.ini is 0644 root and holds no secret" config_public
  not_conffile() { ! ct dpkg-query -W -f '${Conffiles}' chatd | grep -q cluster.key; }
  check "cluster.key is no conffile (never shipped)" not_conffile
  unit_credential() {
    ct systemctl cat chatd@5555.service | grep -qx 'LoadCredential=cluster.key:/etc/chatd/cluster.key'
  }
  check "chatd@.service loads the key with LoadCredential=" unit_credential
}

# A user who is neither root nor in the chatd group: reads config.ini, never the key.
as_nobody() {
  ct runuser -u nobody -- env HOME=/tmp "$@"
}

check_hardened_client() {
  key_hidden() { ! as_nobody cat /etc/chatd/cluster.key >/dev/null 2>&1; }
  check "a normal user cannot read /etc/chatd/cluster.key" key_hidden
  nobody_chats() {
    local out
    out=$(as_nobody env CHAT_PASSWORD="$CLI_PASSWORD" chat-cli --config "$CONFIG" --timeout 20 \
      --session-file /tmp/session-carol --user carol signup 2>&1) || { echo "$out" | diag; return 1; }
    out=$(as_nobody env CHAT_PASSWORD="$CLI_PASSWORD" chat-cli --config "$CONFIG" --timeout 20 \
      --session-file /tmp/session-carol --user carol send alice "from a normal user" 2>&1) ||
      { echo "$out" | diag; return 1; }
  }
  check "chat-cli as user nobody signs up and sends with the packaged files" nobody_chats
  quiet_about_key() { ! ct journalctl -q -u 'chatd@*' --no-pager | grep -q 'cluster key'; }
  check "no instance complained about its cluster key" quiet_about_key
}

# A brand-new cluster: 5555 leads the first term (docs/operations.md, "Start").
add_primary_dropin() {
  local dir=/etc/systemd/system/chatd@5555.service.d
  ct mkdir -p "$dir" &&
    printf '[Service]\nEnvironment=CHATD_OPTIONS=--primary\n' | ct tee "$dir/60-primary.conf" >/dev/null &&
    ct systemctl daemon-reload
}

check_start_and_chat() {
  check "a drop-in lets chatd@5555 lead the first term (--primary)" add_primary_dropin
  check "systemctl start chatd@5555 chatd@5556 chatd@5557" \
    ct timeout 120 systemctl start chatd@5555.service chatd@5556.service chatd@5557.service
  check "all three instances are active" all_active
  check "a leader is elected" wait_for 30 has_leader
  local port
  for port in "${PORTS[@]}"; do echo "chatd@$port: $(status_text "$port")" | diag; done
  signup() { cli alice signup >/dev/null && cli bob signup >/dev/null; }
  check "chat-cli signup alice and bob" signup
  send_three() {
    local i
    for i in 1 2 3; do cli alice send bob "before the upgrade $i" >/dev/null || return 1; done
  }
  check "chat-cli send: three messages from alice to bob" send_three
  check "the data lives in /var/lib/chatd/PORT, owned by chatd" data_present
  chatctl_status() {
    local out
    out=$(ct chatctl --system status 2>&1)
    echo "$out" | diag
    [ "$(grep -c '127.0.0.1:555[567]' <<<"$out")" -ge 3 ]
  }
  check "chatctl status over the system bus (packaged D-Bus policy)" chatctl_status
  check_hardened_client
}

data_present() {
  local port
  for port in "${PORTS[@]}"; do
    [ -n "$(ct ls -A "/var/lib/chatd/$port" 2>/dev/null)" ] || return 1
    [ "$(ct stat -c %U "/var/lib/chatd/$port")" = chatd ] || return 1
  done
}

# The term as the server on PORT reports it (chatctl --json).
term_of() {
  ct chatctl --system --port "$1" --json status 2>/dev/null | sed -n 's/^    "term" : \([0-9]*\),$/\1/p'
}

leads_5555() { [ "$(leader_port)" = 5555 ]; }

# Issue 19, case 3: the leader on the first port, as after a bootstrap with --primary.
put_leader_on_5555() {
  local leader
  leader=$(leader_port) || return 1
  if [ "$leader" != 5555 ]; then
    ct chatctl --system --port "$leader" transfer-leadership --to 127.0.0.1:5555 | diag
  fi
  wait_for 15 leads_5555
}

# The port whose instance became active last.
last_started() {
  local port
  for port in "${PORTS[@]}"; do
    echo "$(ct systemctl show -p ActiveEnterTimestampMonotonic --value "chatd@$port.service") $port"
  done | sort -n | tail -1 | cut -d' ' -f2
}

check_upgrade() {
  local port before=() after term_before
  check "chatd@5555 leads before the upgrade" put_leader_on_5555
  term_before=$(term_of 5556)
  for port in "${PORTS[@]}"; do before+=("$(instance_identity "$port")"); done
  echo "; kept by the administrator" | ct tee -a "$CONFIG" >/dev/null
  check "apt-get install of the $NEW packages while the cluster runs" apt_install "$NEW"
  check "chatd $NEW-1 is installed" test "$(installed_version chatd)" = "$NEW-1"
  check "every instance is active after the upgrade" wait_for 30 all_active
  local i=0 restarted=1
  for port in "${PORTS[@]}"; do
    after=$(instance_identity "$port")
    echo "chatd@$port: MainPID ActiveEnterTimestamp ${before[$i]}-> $after" | diag
    # Both the main PID and the activation time must change.
    set -- ${before[$i]}
    local pid0=$1 t0=$2
    set -- $after
    { [ "$1" != "$pid0" ] && [ "$2" != "$t0" ] && [ "$1" != 0 ]; } || restarted=0
    i=$((i + 1))
  done
  check "the upgrade restarted every running instance (new MainPID and ActiveEnterTimestamp)" \
    test $restarted = 1
  new_binary() { ct chatd --version 2>&1 | grep -qx "chatd $NEW"; }
  check "the installed chatd reports $NEW" new_binary
  check "a leader is elected after the upgrade" wait_for 60 has_leader
  one_change() {
    local port term
    for port in "${PORTS[@]}"; do
      term=$(term_of "$port")
      echo "chatd@$port: term $term_before before the upgrade, $term after; $(status_text "$port")" | diag
      # A term is its election counter times 256 plus the candidate's id (core/chat-repl-types.h).
      [ -n "$term" ] && [ $((term >> 8)) = $(((term_before >> 8) + 1)) ] || return 1
    done
  }
  check "the upgrade changed the leader exactly once (every server one election further)" one_change
  check "the old leader, chatd@5555, was restarted last" test "$(last_started)" = 5555
  grep 'chatd-rolling-restart\|handed leadership' "$CT_RUN_DIR/apt-$NEW.log" | diag
  survived() {
    local out
    out=$(cli bob history alice 2>&1)
    echo "$out" | diag
    grep -q 'before the upgrade 1' <<<"$out" && grep -q 'before the upgrade 2' <<<"$out" &&
      grep -q 'before the upgrade 3' <<<"$out"
  }
  check "the three messages survived the upgrade" survived
  send_after() { cli alice send bob "after the upgrade" >/dev/null; }
  check "chat-cli send works after the upgrade" send_after
  kept() { ct grep -qx '; kept by the administrator' "$CONFIG"; }
  check "the administrator's change to config.ini is kept (conffile)" kept
  same_key() { [ "$(ct sha256sum /etc/chatd/cluster.key | cut -d' ' -f1)" = "$KEY_SUM" ]; }
  check "the upgrade kept the cluster key" same_key
}

# Issue 19, case 6: chatd.target names no port; it is made of the enabled instances.
check_target() {
  target_of_enabled() {
    local wants
    ct systemctl enable chatd@5556.service >/dev/null 2>&1 || return 1
    wants=$(ct systemctl show -p Wants --value chatd.target)
    echo "chatd.target wants: $wants" | diag
    grep -q 'chatd@5556\.service' <<<"$wants" && ! grep -q 'chatd@555[57]\.service' <<<"$wants"
  }
  check "chatd.target wants the enabled chatd@5556 and no other instance" target_of_enabled
  check "systemctl start chatd.target" ct timeout 60 systemctl start chatd.target
  check "chatd.target is active" ct systemctl is-active --quiet chatd.target
}

check_remove_and_purge() {
  apt_remove() { ct_net apt-get "$1" -y chatd >"$CT_RUN_DIR/apt-$1.log" 2>&1; }
  check_target
  check "apt-get remove chatd" apt_remove remove
  check "removal stopped every instance" none_active
  target_gone() {
    local state
    state=$(ct systemctl show -p LoadState -p ActiveState --value chatd.target | tr '\n' ' ')
    echo "chatd.target: $state" | diag
    [ "$state" = "not-found inactive " ]
  }
  check "after remove, chatd.target is neither loaded nor active" target_gone
  check "after remove, chatd is in state rc (config files kept)" test "$(package_status chatd)" = rc
  check "after remove, the data in /var/lib/chatd is kept" data_present
  check "after remove, /etc/chatd/config.ini is kept" ct test -f "$CONFIG"
  check "apt-get purge chatd (debconf's default answer)" apt_remove purge
  check "after purge with the default answer, the data in /var/lib/chatd is kept" data_present
  check "after purge, /etc/chatd is gone (config.ini and cluster.key)" ct test ! -e /etc/chatd
  check "after purge, the --primary drop-in is gone" \
    ct test ! -e /etc/systemd/system/chatd@5555.service.d/60-primary.conf
  check "after purge, dpkg no longer knows chatd" test -z "$(package_status chatd)"
  check "after purge, debconf forgot chatd's answers" test -z "$(ct debconf-show chatd 2>/dev/null)"

  check "reinstall chatd $NEW over the kept data" apt_install "$NEW"
  preseed() { echo 'chatd chatd/purge_data boolean true' | ct debconf-set-selections; }
  check "answer yes to chatd/purge_data (debconf-set-selections)" preseed
  check "apt-get purge chatd (answer: delete)" apt_remove purge
  check "after purge with the answer yes, /var/lib/chatd is gone" ct test ! -e /var/lib/chatd
}

main() {
  preflight
  trap cleanup EXIT
  trap 'exit 130' INT TERM
  echo "TAP version 13"
  if [ -n "${CHATD_PACKAGES:-}" ]; then
    PKG_DIR=$(realpath "$CHATD_PACKAGES")
  else
    PKG_DIR=$(mktemp -d /tmp/build-pkg-test.XXXXXX)
  fi

  check "build the $OLD .deb and .rpm packages (unit suite included)" build "$OLD"
  check "build the $NEW .deb and .rpm packages" build "$NEW" nocheck
  all_built "$OLD" && all_built "$NEW" || bail_out "the packages were not built"
  ok "chatd, chat-cli and chat-gtk exist as .deb and .rpm in both versions"
  check "lintian: no errors and no warnings ($OLD)" lintian_clean "$OLD"
  check "rpmlint: no errors ($OLD)" rpmlint_no_errors "$OLD"
  check "dpkg -c and rpm -qlp list the same files ($OLD)" file_lists_match "$OLD"
  check "dpkg -c and rpm -qlp list the same files ($NEW)" file_lists_match "$NEW"
  check_deb_contents
  check_dependencies
  check_versions

  ct_prepare_rootfs
  ok "bookworm rootfs is ready (cached in $CT_CACHE)"
  copy_debs_in
  ct_boot || { tail -20 "$CT_RUN_DIR/console.log" | diag; bail_out "the container did not boot"; }
  ok "systemd boots in the container"
  ct_net apt-get update >"$CT_RUN_DIR/apt-update.log" 2>&1 ||
    { tail -5 "$CT_RUN_DIR/apt-update.log" | diag; bail_out "apt-get update failed in the container"; }
  ok "apt-get update reaches the Debian archive"
  check_install
  check_start_and_chat
  . "$HERE/check-observability.sh" # health exit codes, completion, prometheus scrape
  check_upgrade
  check_remove_and_purge
  if [ "$TAP_FAILED" -gt 0 ]; then
    ct journalctl -q -u 'chatd@*' --no-pager 2>/dev/null | tail -40 | diag
  fi
  tap_end
}

main "$@"

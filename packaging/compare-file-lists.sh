#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Checks that each .deb (dpkg -c) and its .rpm (rpm -qlp) install the same files.
# usage: packaging/compare-file-lists.sh DIR   (DIR holds the output of build-packages.sh)
#
# Compared: files and symlinks, not directories. Differences the two distributions
# make by design are normalised first and printed:
#   - Debian bookworm ships units in /lib/systemd/system (merged /usr: the same files);
#   - documentation and licences: /usr/share/doc/PKG (Debian: copyright, changelog)
#     and /usr/share/licenses/PKG (RPM) are listed, not compared;
#   - man pages compare without their compression suffix;
#   - RPM's /usr/lib/.build-id links and Debian's lintian overrides have no
#     counterpart in the other format.
# Exit status: 0 when every package matches, 1 otherwise, 2 on a usage error.
set -eu
dir=${1:?usage: $0 DIR}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The one package file in DIR for NAME and a suffix pattern, or nothing.
package_file() {
  find "$dir" -maxdepth 1 -name "$1" | sort | tail -1
}

normalise() {
  sed -e 's|^/lib/|/usr/lib/|' \
      -e 's#^\(/usr/share/man/.*\)\.\(gz\|bz2\|xz\|zst\)$#\1#' |
    grep -Ev '^/usr/share/(doc|licenses|lintian)/|^/usr/lib/\.build-id(/|$)' | sort
}

docs() {
  grep -E '^/usr/share/(doc|licenses|lintian)/' | sort | tr '\n' ' '
}

deb_list() {
  dpkg-deb --fsys-tarfile "$1" | tar -tv | awk '$1 !~ /^d/ { print $6 }' | sed 's|^\./|/|'
}

rpm_list() {
  rpm -qp --qf '[%{FILEMODES:perms} %{FILENAMES}\n]' "$1" 2>/dev/null | awk '$1 !~ /^d/ { print $2 }'
}

status=0
for name in chatd chat-cli chat-gtk; do
  deb=$(package_file "${name}_*.deb")
  rpm=$(package_file "$name-[0-9]*.rpm")
  if [ -z "$deb" ] || [ -z "$rpm" ]; then
    echo "$name: missing package (deb: ${deb:-none}, rpm: ${rpm:-none})"
    status=1
    continue
  fi
  deb_list "$deb" > "$tmp/$name.deb.raw"
  rpm_list "$rpm" > "$tmp/$name.rpm.raw"
  normalise < "$tmp/$name.deb.raw" > "$tmp/$name.deb"
  normalise < "$tmp/$name.rpm.raw" > "$tmp/$name.rpm"
  if diff -u --label "$(basename "$deb")" --label "$(basename "$rpm")" \
      "$tmp/$name.deb" "$tmp/$name.rpm" > "$tmp/$name.diff"; then
    echo "$name: $(wc -l < "$tmp/$name.deb") files, identical in $(basename "$deb") and $(basename "$rpm")"
  else
    echo "$name: the file lists differ"
    cat "$tmp/$name.diff"
    status=1
  fi
  echo "  deb only (docs, licences, overrides): $(docs < "$tmp/$name.deb.raw")"
  echo "  rpm only (docs, licences): $(docs < "$tmp/$name.rpm.raw")"
done
exit $status

#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Builds the upstream tarball, the Debian source and binary packages (dpkg-buildpackage,
# version VERSION-1) and the .rpm packages (rpmbuild) from a clean copy of the tree, and
# runs lintian and rpmlint on them.
# usage: packaging/build-packages.sh [OUTDIR] [VERSION] [deb|rpm|both]
# DEB_BUILD_OPTIONS=nocheck skips the unit suite in both builds.
# OUTDIR receives the packages, lintian.txt and rpmlint.txt.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
out=$(realpath -m "${1:-$top/build-packages}")
version=${2:-$(sed -n "s/^  version: '\(.*\)',/\1/p" "$top/meson.build")}
which=${3:-both}
case "$which" in
  deb|rpm|both) ;;
  *) echo "usage: $0 [OUTDIR] [VERSION] [deb|rpm|both]" >&2; exit 2 ;;
esac
case "$version" in
  [0-9]*) ;;
  *) echo "build-packages: bad version '$version'" >&2; exit 2 ;;
esac
work=$(mktemp -d /tmp/build-pkg.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"
nocheck=0
case " ${DEB_BUILD_OPTIONS:-} " in *" nocheck "*) nocheck=1 ;; esac

# A clean tree: the files git knows (tracked or new, not ignored), as they are now.
src="$work/chatd-$version"
mkdir -p "$src"
(cd "$top" && git ls-files -z --cached --others --exclude-standard \
  | xargs -0 -r sh -c 'for f; do [ -f "$f" ] && printf "%s\0" "$f"; done' sh \
  | tar --null -T - -cf -) | tar -C "$src" -xf -
# The version of the packages is the version meson reports.
sed -i "s/^  version: '.*',/  version: '$version',/" "$src/meson.build"

# The upstream tarballs, made before the Debian build adds its files to the tree: the
# rpm's Source0 and the Debian source package's .orig.tar.xz ("3.0 (quilt)").
mkdir -p "$work/rpm/SOURCES" "$work/rpm/SPECS"
tar -C "$work" -czf "$work/rpm/SOURCES/chatd-$version.tar.gz" "chatd-$version"
tar -C "$work" -cJf "$work/chatd_$version.orig.tar.xz" "chatd-$version"
# Debian's version: the upstream version and the first Debian revision.
debversion=$version-1

build_deb() {
  cp -r "$src/packaging/debian" "$src/debian"
  if ! head -1 "$src/debian/changelog" | grep -q "^chatd ($debversion)"; then
    { printf 'chatd (%s) unstable; urgency=medium\n\n  * Rebuild as %s.\n\n' "$debversion" "$version"
      printf ' -- chatd developers <chatd@chatd.invalid>  %s\n\n' "$(date -R)"
      cat "$src/debian/changelog"; } > "$work/changelog"
    mv "$work/changelog" "$src/debian/changelog"
  fi
  (cd "$src" && DEB_BUILD_OPTIONS="${DEB_BUILD_OPTIONS:+$DEB_BUILD_OPTIONS }parallel=$(nproc)" \
    dpkg-buildpackage -us -uc)
  rm -f "$out"/*.deb "$out"/*.dsc "$out"/*.tar.xz
  # The three packages and the source package; the -dbgsym ones stay behind.
  for p in chatd chat-cli chat-gtk; do cp "$work/${p}_${debversion}_"*.deb "$out"/; done
  cp "$work/chatd_$debversion.dsc" "$work/chatd_$debversion.debian.tar.xz" \
    "$work/chatd_$version.orig.tar.xz" "$out"/
  lintian --fail-on error,warning --display-info "$work"/chatd_"$debversion"_*.changes \
    > "$out/lintian.txt" 2>&1 || {
    cat "$out/lintian.txt"
    echo "build-packages: lintian found problems" >&2
    return 1
  }
  cat "$out/lintian.txt"
  echo "lintian: $(grep -c '^[EW]:' "$out/lintian.txt" || :) errors and warnings"
}

build_rpm() {
  cp "$src/units/chatd.sysusers" "$work/rpm/SOURCES/"
  spec="$work/rpm/SPECS/chatd.spec"
  sed "s/^Version:.*/Version:        $version/" "$src/packaging/rpm/chatd.spec" > "$spec"
  if ! grep -q -- "- $version-1\$" "$spec"; then
    printf '* %s chatd developers <chatd@chatd.invalid> - %s-1\n- Rebuild as %s.\n\n' \
      "$(LC_ALL=C date '+%a %b %d %Y')" "$version" "$version" > "$work/entry"
    sed -i "/^%changelog/r $work/entry" "$spec"
  fi
  set -- --define "_topdir $work/rpm" --load "$src/packaging/rpm/macros.build-on-debian"
  [ "$nocheck" = 1 ] && set -- "$@" --nocheck
  # Debian's rpm has no database of the build dependencies: --nodeps.
  rpmbuild --nodeps "$@" -bb "$spec"
  rm -f "$out"/*.rpm
  find "$work/rpm/RPMS" -name '*.rpm' -exec cp {} "$out"/ \;
  # The spec as rpmbuild saw it, and the built packages.
  # Findings that are no defects are filtered, each with its reason, in chatd.rpmlintrc.
  rpmlint -r "$src/packaging/rpm/chatd.rpmlintrc" "$spec" "$work"/rpm/RPMS/*/*.rpm \
    > "$out/rpmlint.txt" 2>&1 || :
  cat "$out/rpmlint.txt"
  if ! grep -Eq '; 0 errors' "$out/rpmlint.txt"; then
    echo "build-packages: rpmlint reports errors" >&2
    return 1
  fi
}

case "$which" in
  deb) build_deb ;;
  rpm) build_rpm ;;
  both) build_deb; build_rpm ;;
esac
ls -l "$out"

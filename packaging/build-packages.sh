#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Builds the .deb packages (dpkg-buildpackage) and the .rpm packages (rpmbuild)
# from a clean copy of the tree, and runs lintian and rpmlint on them.
# usage: packaging/build-packages.sh [OUTDIR] [VERSION] [deb|rpm|both]
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
out=$(realpath -m "${1:-$top/build-packages}")
version=${2:-$(sed -n "s/^  version: '\(.*\)',/\1/p" "$top/meson.build")}
which=${3:-both}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"

# A clean tree: the files git knows (tracked or new, not ignored), as they are now.
src="$work/chatd-$version"
mkdir -p "$src"
(cd "$top" && git ls-files -z --cached --others --exclude-standard \
  | xargs -0 -r sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh \
  | tar --null -T - -cf -) | tar -C "$src" -xf -

build_deb() {
  cp -r "$src/packaging/debian" "$src/debian"
  if ! head -1 "$src/debian/changelog" | grep -q "($version-1)"; then
    { printf 'chatd (%s-1) unstable; urgency=medium\n\n  * Rebuild as %s.\n\n' "$version" "$version"
      printf ' -- chatd developers <chatd@chatd.invalid>  %s\n\n' "$(date -R)"
      cat "$src/debian/changelog"; } > "$work/changelog"
    mv "$work/changelog" "$src/debian/changelog"
  fi
  (cd "$src" && DEB_BUILD_OPTIONS="${DEB_BUILD_OPTIONS:-} parallel=2" dpkg-buildpackage -us -uc -b)
  cp "$work"/*.deb "$out"/
  lintian --fail-on error,warning --info "$work"/*.changes > "$out/lintian.txt" 2>&1 \
    || { cat "$out/lintian.txt"; echo "build-packages: lintian found problems" >&2; return 1; }
  echo "lintian: $(grep -c '^[EW]:' "$out/lintian.txt" || :) errors and warnings"
}

build_rpm() {
  mkdir -p "$work/rpm/SOURCES" "$work/rpm/SPECS"
  tar -C "$work" --exclude="chatd-$version/debian" -czf "$work/rpm/SOURCES/chatd-$version.tar.gz" \
    "chatd-$version"
  sed "s/^Version:.*/Version:        $version/" "$src/packaging/rpm/chatd.spec" \
    > "$work/rpm/SPECS/chatd.spec"
  # Debian's rpm has no database of the build dependencies: --nodeps.
  rpmbuild --nodeps --define "_topdir $work/rpm" \
    --load "$src/packaging/rpm/macros.build-on-debian" -bb "$work/rpm/SPECS/chatd.spec"
  find "$work/rpm/RPMS" -name '*.rpm' -exec cp {} "$out"/ \;
  rpmlint "$out"/*.rpm > "$out/rpmlint.txt" 2>&1 || :
  cat "$out/rpmlint.txt"
  if grep -q ' 0 errors' "$out/rpmlint.txt"; then :; else
    echo "build-packages: rpmlint reports errors" >&2; return 1
  fi
}

case "$which" in
  deb) build_deb ;;
  rpm) build_rpm ;;
  both) build_deb; build_rpm ;;
esac
ls -l "$out"

#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Checks that every C source and header of the tree matches .clang-format: the files git
# knows (tracked, or new and not ignored), or, outside a git checkout, every .c and .h
# outside build directories. Skipped (77) when clang-format is not installed.
set -u

src=${CHATD_SOURCE_ROOT:?}
if ! command -v clang-format >/dev/null 2>&1; then
  echo "clang-format is not installed"
  exit 77
fi
cd "$src" || exit 1

# list_sources: the C files to check, NUL-separated, relative to the source root.
list_sources() {
  if [[ $(git rev-parse --show-toplevel 2>/dev/null) == "$(pwd -P)" ]]; then
    git ls-files -z --cached --others --exclude-standard -- '*.c' '*.h'
  else
    find . -name .git -prune -o -type d -exec test -e '{}/meson-private' ';' -prune \
      -o -type f \( -name '*.c' -o -name '*.h' \) -print0
  fi
}

files=()
while IFS= read -r -d '' file; do
  # A file deleted in the work tree but not yet in the index is no longer part of it.
  [[ -f $file ]] && files+=("$file")
done < <(list_sources)

if ((${#files[@]} == 0)); then
  echo "no C files found under $src"
  exit 1
fi
if ! clang-format --dry-run --Werror "${files[@]}"; then
  echo "some of ${#files[@]} files do not match .clang-format; run clang-format -i on them"
  exit 1
fi
echo "${#files[@]} files match .clang-format ($(clang-format --version))"

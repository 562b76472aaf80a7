#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Checks every catalog of LINGUAS: valid (msgfmt -c), complete against the template
# (msgcmp) and free of fuzzy or untranslated entries, which gettext would show in English.
set -eu
po_dir=$1
status=0
for lang in $(grep -v '^#' "$po_dir/LINGUAS"); do
  catalog="$po_dir/$lang.po"
  if ! stats=$(LC_ALL=C msgfmt -c --statistics -o /dev/null "$catalog" 2>&1); then
    echo "$lang: not a valid catalog: $stats"; status=1; continue
  fi
  if ! missing=$(msgcmp "$catalog" "$po_dir/chatd.pot" 2>&1); then
    echo "$lang: lacks strings of chatd.pot: $missing"; status=1; continue
  fi
  case $stats in
    *fuzzy* | *untranslated*) echo "$lang: incomplete: $stats"; status=1 ;;
    *) echo "$lang: $stats" ;;
  esac
done
exit $status

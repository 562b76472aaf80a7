#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Tests the bash completion of chatctl and chat-cli: commands, options and values offered.
# TAP output; skipped (77) when bash-completion is not installed.
set -u

src=${CHATD_SOURCE_ROOT:?}
build=${CHATD_BUILD_ROOT:?}
main=/usr/share/bash-completion/bash_completion
if [[ ! -r $main ]]; then
  echo "1..0 # SKIP bash-completion is not installed"
  exit 77
fi
shopt -s extglob progcomp
# shellcheck source=/dev/null
. "$main"
# shellcheck source=/dev/null
. "$src/completions/chatctl"
# shellcheck source=/dev/null
. "$src/completions/chat-cli"
PATH="$build/cli/chatctl:$build/cli:$PATH"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '[server]\nhost1 = 10.0.0.1\nport1 = 6000\nhost2 = 10.0.0.2\nport2 = 6001\n' >"$tmp/config.ini"

n=0
failed=0
# offered FUNCTION WORD...: what FUNCTION completes for the command line WORD..., the last word
# being completed, one per line, sorted.
offered() {
  local func=$1
  shift
  COMP_WORDS=("$@")
  COMP_CWORD=$(($# - 1))
  COMP_LINE="$*"
  COMP_POINT=${#COMP_LINE}
  COMPREPLY=()
  "$func" "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}" 2>/dev/null
  printf '%s\n' "${COMPREPLY[@]}" | sort
}

# expect "DESCRIPTION" "EXPECTED (lines)" FUNCTION WORD...
expect() {
  local what=$1 want=$2 got
  shift 2
  got=$(offered "$@")
  n=$((n + 1))
  if [[ $got == "$want" ]]; then
    echo "ok $n - $what"
  else
    echo "not ok $n - $what"
    printf '# want: %s\n# got:  %s\n' "${want//$'\n'/ }" "${got//$'\n'/ }"
    failed=$((failed + 1))
  fi
}

expect "chatctl: every command of chatctl --help" \
  "$(printf '%s\n' force-leader health make-certificates peers reload-certificates snapshot status \
    step-down transfer-leadership | sort)" \
  _chatctl chatctl ""
expect "chatctl: a command from its start" "health" _chatctl chatctl he
expect "chatctl: options" "--port=" _chatctl chatctl --po
expect "chatctl: options after the command" "--wait=" _chatctl chatctl health --wa
expect "chatctl: one command only" "" _chatctl chatctl status ""
expect "chatctl: a command after an option's value" "health" _chatctl chatctl --port 5555 hea
expect "chatctl: a command after --to's value" "transfer-leadership" \
  _chatctl chatctl --to 127.0.0.1:5556 tra
expect "chat-cli: commands" "$(printf '%s\n' sync send signup status | sort)" _chat_cli chat-cli s
expect "chat-cli: a command's own options" "--password-file=" _chat_cli chat-cli signup --passw
expect "chat-cli: servers of --config" "$(printf '%s\n' 10.0.0.1:6000 10.0.0.2:6001)" \
  _chat_cli chat-cli --config "$tmp/config.ini" --server ""
expect "chat-cli: files for --config" "$tmp/config.ini" _chat_cli chat-cli --config "$tmp/con"
expect "chat-cli: no second command" "" _chat_cli chat-cli history bo

echo "1..$n"
[[ $failed == 0 ]]

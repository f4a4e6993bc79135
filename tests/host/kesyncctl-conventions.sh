#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# kesyncctl's command-line conventions, on the host, with no kesync device
# and no root needed: --help and --version on stdout with status 0, usage
# errors with status 2 and a message naming what is wrong, caught before
# the device is opened, runtime errors with status 1 naming the device and
# the error, device names resolved under /dev, nothing on stdout after an
# error, and a man page that documents every option, command and exit
# status --help lists.  Prints TAP 13.
#
#   tests/host/kesyncctl-conventions.sh [KESYNCCTL [MANPAGE]]
#
# KESYNCCTL: a kesyncctl that runs on this host (the static one built for
# the guest does too); without it, $KESYNCCTL, else
# $KESYNC_BUILD/host/kesyncctl (the runner sets both).  MANPAGE defaults to
# tools/kesyncctl.1 of this tree.  Every command runs with a time bound;
# nothing waits.
set -u

if [ $# -gt 2 ]; then
	echo "usage: $0 [KESYNCCTL [MANPAGE]]" >&2
	exit 2
fi
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${1:-${KESYNCCTL:-${KESYNC_BUILD:-$root/build}/host/kesyncctl}}
manpage=${2:-$root/tools/kesyncctl.1}
version=$(cat "$root/VERSION" 2>/dev/null)
commands="info stats hwstats timeout reset fault clear verify"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp"
# A device path that does not exist: a usage error must be reported
# before the program gets to open it.
nodev=$tmp/absent/kesync9

n=0
fails=0
rc=0
out=
err=

pass() {
	n=$((n + 1))
	echo "ok $n - $1"
}

# fail NAME WHY...: a failed check, with the last run's output.
fail() {
	local name=$1 l
	shift
	n=$((n + 1))
	fails=$((fails + 1))
	echo "not ok $n - $name"
	for l in "$@" "rc=$rc" "stdout: $out" "stderr: $err"; do
		printf '%s\n' "$l" | sed 's/^/# /'
	done
}

skip() {
	n=$((n + 1))
	echo "ok $n - $1 # SKIP $2"
}

# run ARGS...: the binary, bounded; sets rc, out, err.
run_as() {
	local -a pre=()

	if [ "$1" = "--nobody" ]; then
		pre=(setpriv --reuid=65534 --regid=65534 --clear-groups)
		shift
	fi
	"${pre[@]}" timeout -k 2 10 "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
	rc=$?
	out=$(cat "$tmp/out")
	err=$(cat "$tmp/err")
}

run() {
	run_as "$bin" "$@"
}

# has TEXT: the last run's stderr contains TEXT (a fixed string).
has() {
	grep -qF -- "$1" <<<"$err"
}

# usage_error NAME BAD ARGS...: kesyncctl -d NODEV ARGS... is a usage
# error: status 2, nothing on stdout, stderr names BAD (quoted, as
# 'BAD') and points to --help, and the device was not opened (the message
# is not about NODEV).
usage_error() {
	local name=$1 bad=$2 why=()
	shift 2
	run -d "$nodev" "$@"
	[ "$rc" -eq 2 ] || why+=("exit status $rc, not 2")
	[ -z "$out" ] || why+=("stdout is not empty")
	[ -z "$bad" ] || has "'$bad'" || why+=("stderr does not name '$bad'")
	has "kesyncctl: " || why+=("stderr has no 'kesyncctl: ' message")
	has "Try 'kesyncctl --help'" || why+=("no hint to --help")
	if has "$nodev" || has "No such file"; then
		why+=("the device was opened before the arguments were checked")
	fi
	if [ ${#why[@]} -eq 0 ]; then
		pass "$name"
	else
		fail "$name" "${why[@]}"
	fi
}

# runtime_error NAME PATH TEXT ARGS...: status 1, nothing on stdout,
# stderr names PATH and TEXT.
runtime_error() {
	local name=$1 path=$2 text=$3 why=()
	shift 3
	run "$@"
	[ "$rc" -eq 1 ] || why+=("exit status $rc, not 1")
	[ -z "$out" ] || why+=("stdout is not empty")
	has "kesyncctl: $path: " || why+=("stderr does not name $path")
	has "$text" || why+=("stderr does not say '$text'")
	if [ ${#why[@]} -eq 0 ]; then
		pass "$name"
	else
		fail "$name" "${why[@]}"
	fi
}

# The lines of section $1 of --help ("Options:", "Commands:"), up to the
# next blank line.
help_section() {
	awk -v s="$1" '$0 == s { f = 1; next } f && /^$/ { exit } f' \
		<<<"$help"
}

# The tags (.TP headings) of man page section $1, roff escapes removed.
man_tags() {
	awk -v s="$1" '
		/^\.SH/ { sec = $0; sub(/^\.SH +/, "", sec); gsub(/"/, "", sec)
			  next }
		sec != s { next }
		/^\.TP/ { tag = 1; next }
		tag { tag = 0; print }' "$manpage" |
		sed -e 's/^\.[A-Z]* *//' -e 's/\\f[BIRP]//g' -e 's/\\-/-/g' \
			-e 's/"//g'
}

echo "TAP version 13"
if [ ! -x "$bin" ]; then
	echo "not ok 1 - a kesyncctl to test: no executable '$bin'"
	echo "1..1"
	exit 1
fi

# ---- --help and --version -------------------------------------------------

run --help
help=$out
if [ "$rc" -eq 0 ] && [ -n "$out" ] && [ -z "$err" ] &&
	grep -q '^Usage: kesyncctl' <<<"$out"; then
	pass "--help prints the usage on stdout, nothing on stderr, exit 0"
else
	fail "--help prints the usage on stdout, nothing on stderr, exit 0"
fi

run -h
if [ "$rc" -eq 0 ] && [ -z "$err" ] && [ "$out" = "$help" ]; then
	pass "-h prints the same usage on stdout, exit 0"
else
	fail "-h prints the same usage on stdout, exit 0"
fi

help_cmds=$(help_section "Commands:" | awk '/^  [a-z]/ { print $1 }')
missing=()
for c in $commands; do
	grep -qx -- "$c" <<<"$help_cmds" || missing+=("$c")
done
if [ ${#missing[@]} -eq 0 ]; then
	pass "--help lists every command: $commands"
else
	fail "--help lists every command: $commands" "missing: ${missing[*]}"
fi

help_opts=$(help_section "Options:" | grep -oE -- '--[a-z][a-z-]*' | sort -u)
missing=()
for o in -d --device -j --json -h --help -V --version; do
	help_section "Options:" | grep -qE -- "(^|[ ,])$o([ ,=]|$)" ||
		missing+=("$o")
done
if [ ${#missing[@]} -eq 0 ]; then
	pass "--help lists -d/--device, -j/--json, -h/--help, -V/--version"
else
	fail "--help lists -d/--device, -j/--json, -h/--help, -V/--version" \
		"missing: ${missing[*]}"
fi

run -h info -d "$nodev"
if [ "$rc" -eq 0 ] && [ "$out" = "$help" ] && [ -z "$err" ]; then
	pass "-h with a command prints the usage, exit 0, no device opened"
else
	fail "-h with a command prints the usage, exit 0, no device opened"
fi

for v in --version -V; do
	run "$v"
	if [ -z "$version" ]; then
		skip "$v prints the release" "no VERSION file in $root"
	elif [ "$rc" -eq 0 ] && [ "$out" = "kesyncctl $version" ] &&
		[ -z "$err" ]; then
		pass "$v prints 'kesyncctl $version' (VERSION) on stdout, exit 0"
	else
		fail "$v prints 'kesyncctl $version' (VERSION) on stdout, exit 0"
	fi
done

# ---- usage errors: status 2, before any open ----------------------------

usage_error "no arguments: exit 2, a message, no device opened" ""
usage_error "unknown command: exit 2, names it" bogus bogus
usage_error "unknown long option: exit 2, names it" --bogus --bogus info
usage_error "unknown short option: exit 2, names it" -x -x info
usage_error "long option with a stray argument: exit 2, names it" \
	--json --json=yes info
usage_error "option without its argument: exit 2, names it" -d info -d
usage_error "timeout abc: exit 2, names 'abc', device not opened" \
	abc timeout abc
usage_error "timeout -1: exit 2, names '-1', device not opened" \
	-1 timeout -1
usage_error "timeout 99999999999999999999 (overflow): exit 2, names it" \
	99999999999999999999 timeout 99999999999999999999
usage_error "timeout 4294967296 (beyond __u32): exit 2, names it" \
	4294967296 timeout 4294967296
usage_error "timeout 0 (below KESYNC_TIMEOUT_MIN): exit 2, names it" \
	0 timeout 0
usage_error "timeout 3601 (above KESYNC_TIMEOUT_MAX): exit 2, names it" \
	3601 timeout 3601
usage_error "timeout 12abc (trailing garbage): exit 2, names it" \
	12abc timeout 12abc
usage_error "fault bogus 1 (unknown kind): exit 2, names 'bogus'" \
	bogus fault bogus 1
usage_error "fault 9 1 (kind beyond KESYNC_FAULT_KIND_MAX): exit 2" \
	9 fault 9 1
usage_error "fault hang (no COUNT): exit 2" "" fault hang
usage_error "fault hang 1001 (COUNT above 1000): exit 2, names it" \
	1001 fault hang 1001
usage_error "fault late 1 soon (ARG not a number): exit 2, names it" \
	soon fault late 1 soon
usage_error "fault hang 1 reset-delay=0: exit 2, names it" \
	0 fault hang 1 reset-delay=0
usage_error "verify 0: exit 2, names '0', device not opened" 0 verify 0
usage_error "verify 2G (above 1 GiB): exit 2, names it" 2G verify 2G
usage_error "info extra: exit 2, names the extra argument" \
	extra info extra
usage_error "timeout 5 6: exit 2, names the extra argument" \
	6 timeout 5 6
usage_error "verify 1 2 3: exit 2, names the extra argument" \
	3 verify 1 2 3
usage_error "reset now: exit 2, names the extra argument" now reset now
usage_error "--json with timeout (no JSON output): exit 2" "" --json timeout

# A device named twice or a bare number is a usage error too (no -d NODEV
# here: it would be the second device).
run -d kesync97 -d kesync98 info
if [ "$rc" -eq 2 ] && [ -z "$out" ] && ! has "No such file"; then
	pass "two -d options: exit 2, no device opened"
else
	fail "two -d options: exit 2, no device opened"
fi
run -d 3 info
if [ "$rc" -eq 2 ] && [ -z "$out" ] && has "'3'" && ! has "No such file"; then
	pass "-d 3 (a bare number): exit 2, names '3'"
else
	fail "-d 3 (a bare number): exit 2, names '3'"
fi

# ---- runtime errors: status 1, the device and the error named -------------

runtime_error "-d /nonexistent path: exit 1, names the path and ENOENT" \
	"$nodev" "No such file or directory" -d "$nodev" info
runtime_error "--device=PATH: the same" \
	"$nodev" "No such file or directory" --device="$nodev" stats
runtime_error "options after the command: info -d PATH" \
	"$nodev" "No such file or directory" info -d "$nodev"
runtime_error "DEV after the command (compatibility): info PATH" \
	"$nodev" "No such file or directory" info "$nodev"

if [ -e /dev/kesync97 ]; then
	skip "-d kesync97 means /dev/kesync97" "this host has a /dev/kesync97"
else
	runtime_error "-d kesync97 means /dev/kesync97 (named in the error)" \
		/dev/kesync97 "No such file or directory" -d kesync97 info
	runtime_error "-j -d kesync97 stats: exit 1, stdout empty" \
		/dev/kesync97 "No such file or directory" -j -d kesync97 stats
fi

# EACCES on open: a file the user may not open.  As root, the check runs as
# nobody (setpriv), on a copy of the binary nobody may execute.
touch "$tmp/locked"
chmod 000 "$tmp/locked"
name="a unit the user may not open: exit 1, names it, 'Permission denied'"
if [ "$(id -u)" -ne 0 ]; then
	runtime_error "$name" "$tmp/locked" "Permission denied" \
		-d "$tmp/locked" info
elif command -v setpriv >/dev/null 2>&1; then
	cp "$bin" "$tmp/kesyncctl"
	chmod 755 "$tmp/kesyncctl"
	run_as --nobody "$tmp/kesyncctl" -d "$tmp/locked" info
	if [ "$rc" -eq 1 ] && [ -z "$out" ] &&
		has "kesyncctl: $tmp/locked: Permission denied"; then
		pass "$name"
	else
		fail "$name"
	fi
else
	skip "$name" "running as root and no setpriv to drop it"
fi

# A FIFO is no unit: refused at once, not an open that waits for a writer.
mkfifo "$tmp/fifo"
runtime_error "a FIFO for the device: exit 1 at once, 'not a character device'" \
	"$tmp/fifo" "not a character device" -d "$tmp/fifo" info
touch "$tmp/plain"
runtime_error "a regular file for the device: exit 1, 'not a character device'" \
	"$tmp/plain" "not a character device" -d "$tmp/plain" stats

# ---- the man page --------------------------------------------------------

rc=0 out='' err=''

if [ ! -f "$manpage" ]; then
	fail "the man page exists" "no $manpage"
else
	man_opts=$(man_tags OPTIONS)
	missing=()
	for o in $help_opts; do
		grep -qE -- "(^|[ ,])$o([ ,=]|$)" <<<"$man_opts" ||
			missing+=("$o")
	done
	if [ -n "$help_opts" ] && [ ${#missing[@]} -eq 0 ]; then
		pass "the man page's OPTIONS document every long option of --help: $(
			paste -sd ' ' <<<"$help_opts")"
	else
		fail "the man page's OPTIONS document every long option of --help" \
			"undocumented: ${missing[*]}" "--help lists: $help_opts" \
			"OPTIONS tags: $man_opts"
	fi

	man_cmds=$(man_tags COMMANDS | awk '{ print $1 }')
	missing=()
	for c in $help_cmds; do
		grep -qx -- "$c" <<<"$man_cmds" || missing+=("$c")
	done
	if [ -n "$help_cmds" ] && [ ${#missing[@]} -eq 0 ]; then
		pass "the man page's COMMANDS document every command of --help"
	else
		fail "the man page's COMMANDS document every command of --help" \
			"undocumented: ${missing[*]}" "COMMANDS tags: $man_cmds"
	fi

	# "Exit status: 0 success; 1 ...; 2 ...; 3 ...": every status --help
	# names is a tag of EXIT STATUS.
	help_codes=$(awk '/^Exit status:/ { f = 1 } f && /^$/ { exit } f' \
		<<<"$help" | grep -oE '(^|[:;] )[0-9]+ ' | grep -oE '[0-9]+')
	man_codes=$(man_tags "EXIT STATUS")
	missing=()
	for c in 0 1 2 $help_codes; do
		grep -qx -- "$c" <<<"$man_codes" || missing+=("$c")
	done
	if [ ${#missing[@]} -eq 0 ]; then
		pass "the man page's EXIT STATUS documents 0, 1, 2 and every status of --help"
	else
		fail "the man page's EXIT STATUS documents 0, 1, 2 and every status of --help" \
			"undocumented: ${missing[*]}"
	fi

	if command -v groff >/dev/null 2>&1; then
		warn=$(groff -man -Tutf8 -ww -z "$manpage" 2>&1)
		if [ -z "$warn" ]; then
			pass "the man page renders with groff -man -ww, no warning"
		else
			rc=0 out='' err=$warn
			fail "the man page renders with groff -man -ww, no warning"
		fi
	else
		skip "the man page renders with groff -man -ww, no warning" \
			"groff is not installed"
	fi
fi

echo "1..$n"
[ "$fails" -eq 0 ]

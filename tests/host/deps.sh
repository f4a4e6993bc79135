#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# scripts/deps.sh without installing anything and without the network: it
# runs with a fake os-release (KESYNC_OS_RELEASE) and a PATH of its own (a
# directory of links to the host's commands, some left out, with apt-get,
# sudo and dpkg-query replaced by stubs that record their calls), and the
# checks are on what it prints and its exit status.  Prints TAP 13.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
deps=$here/../../scripts/deps.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - deps: $1"; }
notok() {
	n=$((n + 1)) failed=$((failed + 1))
	echo "not ok $n - deps: $1"
	sed 's/^/# /' "$tmp/out"
}
# result STATUS DESC: ok when STATUS is 0.
result() {
	if [ "$1" -eq 0 ]; then ok "$2"; else notok "$2"; fi
}
has() { grep -qF -- "$1" "$tmp/out"; }
hasnt() { ! grep -qF -- "$1" "$tmp/out"; }
called() { grep -q "^$1" "$tmp/calls" 2>/dev/null; }

real_dpkg_query=$(command -v dpkg-query || echo /nonexistent)

# The host's commands as links (the first of PATH wins), and stubs of
# apt-get, sudo and dpkg-query.
farm=$tmp/farm
mkdir -p "$farm"
IFS=: read -r -a dirs <<<"$PATH"
for d in "${dirs[@]}"; do
	[ -d "$d" ] && cp -sn "$d"/* "$farm/" 2>/dev/null
done
rm -f "$farm/apt-get" "$farm/sudo" "$farm/dpkg-query"

# mkpath NAME EXCLUDED...: a PATH directory: the farm without the excluded.
mkpath() {
	local dir=$tmp/path-$1 f
	shift
	cp -a "$farm" "$dir"
	for f in "$@"; do
		rm -f "$dir/$f"
	done
	echo "$dir"
}

mkstubs() {
	local dir=$1
	# apt-get: records the call; FAKE_APT_UPDATE / FAKE_APT_INSTALL = fail
	# makes that step fail the way apt does.
	cat >"$dir/apt-get" <<'EOF'
#!/bin/bash
echo "apt-get $*" >>"$FAKE_CALLS"
case " $* " in
*" update "*)
	if [ "${FAKE_APT_UPDATE:-}" = fail ]; then
		echo "Err:1 http://deb.debian.org/debian bookworm InRelease"
		echo "  Temporary failure resolving 'deb.debian.org'"
		echo "E: The repository 'http://deb.debian.org/debian bookworm InRelease' is not signed." >&2
		exit 100
	fi ;;
*" install "*)
	if [ "${FAKE_APT_INSTALL:-}" = fail ]; then
		echo "E: Unable to locate package socat" >&2
		exit 100
	fi ;;
esac
exit 0
EOF
	cat >"$dir/sudo" <<'EOF'
#!/bin/bash
echo "sudo $*" >>"$FAKE_CALLS"
exec "$@"
EOF
	# dpkg-query: the host's answer without the packages of FAKE_HIDE.
	cat >"$dir/dpkg-query" <<EOF
#!/bin/bash
"$real_dpkg_query" "\$@" | grep -v -E "^(\${FAKE_HIDE:-^}) "
exit 0
EOF
	chmod +x "$dir/apt-get" "$dir/sudo" "$dir/dpkg-query"
}
mkstubs "$farm"

# run OS PATHDIR [VAR=VALUE...]: deps.sh with that os-release and PATH;
# output in $tmp/out, calls of the stubs in $tmp/calls, status in $rc.
run() {
	local os=$1 p=$2
	shift 2
	: >"$tmp/calls"
	env -i HOME="$tmp" PATH="$p" KESYNC_CACHE="$tmp/cache" \
		KESYNC_OS_RELEASE="$os" FAKE_CALLS="$tmp/calls" "$@" \
		bash "$deps" >"$tmp/out" 2>&1
	rc=$?
}

printf 'PRETTY_NAME="Ubuntu 24.04.1 LTS"\nNAME="Ubuntu"\nVERSION_ID="24.04"\nID=ubuntu\nID_LIKE=debian\n' \
	>"$tmp/ubuntu"
printf 'PRETTY_NAME="Debian GNU/Linux 13 (trixie)"\nNAME="Debian GNU/Linux"\nVERSION_ID="13"\nVERSION_CODENAME=trixie\nID=debian\n' \
	>"$tmp/trixie"
printf 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\nID=debian\n' \
	>"$tmp/bookworm"

full=$(mkpath full)
noninja=$(mkpath noninja ninja flex)
noapt=$(mkpath noapt apt-get)

echo "TAP version 13"
echo "1..11"

# Each check is on the run above it.
run "$tmp/ubuntu" "$full"
{ [ "$rc" -ne 0 ]; }
result $? "Ubuntu: refused, exit status nonzero"
{ has "Debian 12 (bookworm)" && has "Ubuntu 24.04.1 LTS" && has "KESYNC_SKIP_DEPS=1"; }
result $? "Ubuntu: says what is supported and names the system"
{ has "linux-source-6.1" && has "busybox-static" && has "ninja-build" &&
	! called "apt-get\|sudo"; }
result $? "Ubuntu: lists the packages, apt-get and sudo never run"

run "$tmp/trixie" "$full"
{ [ "$rc" -ne 0 ] && has "VERSION_ID=13" && ! called "apt-get\|sudo"; }
result $? "Debian 13: refused (only 12 is supported), nothing run"

run "$tmp/nonexistent" "$full"
{ [ "$rc" -ne 0 ] && has "no $tmp/nonexistent" && ! called "apt-get\|sudo"; }
result $? "no os-release: refused, says so"

run "$tmp/ubuntu" "$full" KESYNC_SKIP_DEPS=1
{ [ "$rc" -eq 0 ] && hasnt "missing" && ! called "apt-get\|sudo"; }
result $? "KESYNC_SKIP_DEPS=1 on Ubuntu, everything present: exit 0, nothing missing, nothing run"

run "$tmp/ubuntu" "$noninja" KESYNC_SKIP_DEPS=1
{ [ "$rc" -ne 0 ] && has "2 required commands or files are missing" &&
	grep -q "command ninja .*ninja-build" "$tmp/out" &&
	grep -q "command flex .*flex:" "$tmp/out" && ! called "apt-get\|sudo"; }
result $? "KESYNC_SKIP_DEPS=1 without ninja and flex: exit nonzero, names exactly those two and their packages"

run "$tmp/bookworm" "$noapt" KESYNC_SKIP_DEPS=1
{ [ "$rc" -ne 0 ] && grep -q "command apt-get .*apt: fetches the guest kernels" "$tmp/out"; }
result $? "KESYNC_SKIP_DEPS=1 without apt-get: names it and why (the kernels come from the archive)"

run "$tmp/bookworm" "$full"
{ [ "$rc" -eq 0 ] && [ ! -s "$tmp/out" ] && ! called "apt-get\|sudo"; }
result $? "Debian 12, every package installed: exit 0, silent, apt-get not run"

run "$tmp/bookworm" "$full" FAKE_HIDE='socat|fio' FAKE_APT_UPDATE=fail
{ [ "$rc" -ne 0 ] && grep -q "^\[kesync\] *socat .*QMP" "$tmp/out" &&
	grep -q "^\[kesync\] *fio " "$tmp/out" &&
	has "step 'apt-get update' failed (exit 100)" &&
	has "E: The repository" && ! called "apt-get install"; }
result $? "Debian 12, apt-get update fails: names the packages and the step, shows apt's error, no install"

run "$tmp/bookworm" "$full" FAKE_HIDE='socat' FAKE_APT_INSTALL=fail
{ [ "$rc" -ne 0 ] && has "apt-get install -y --no-install-recommends socat" &&
	has "E: Unable to locate package socat"; }
result $? "Debian 12, apt-get install fails: names the step and shows apt's error"

[ "$failed" -eq 0 ]

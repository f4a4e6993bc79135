#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Shared settings for the kesync scripts.  Source it, do not run it.
#
# Everything expensive (QEMU source and build, guest images, the debug
# kernel) lives in a cache outside the clone, keyed by a hash of its inputs.

KESYNC_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KESYNC_CACHE=${KESYNC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kesync}
KESYNC_BUILD=${KESYNC_BUILD:-$KESYNC_ROOT/build}
export KESYNC_ROOT KESYNC_CACHE KESYNC_BUILD

log() { printf '[kesync] %s\n' "$*" >&2; }
die() { printf '[kesync] error: %s\n' "$*" >&2; exit 1; }

# as_root CMD...: run a command as root, through sudo when needed.
as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo "$@"
	else
		die "need root to run '$*' and sudo is not installed"
	fi
}

# hash_files FILE...: one stable hash of the contents and names of files.
hash_files() {
	local f
	for f in "$@"; do
		printf '%s\n' "${f#"$KESYNC_ROOT"/}"
		cat "$f"
	done | sha256sum | cut -c1-16
}

# guest_kver: the kernel release of the installed Debian guest kernel
# (linux-image-amd64), newest first.
guest_kver() {
	local v
	v=$(find /lib/modules -mindepth 1 -maxdepth 1 -name '*-amd64' \
		-printf '%f\n' 2>/dev/null | sort -V | tail -n 1)
	[ -n "$v" ] || die "no Debian amd64 kernel installed (run scripts/deps.sh)"
	printf '%s\n' "$v"
}

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

# kernel_env NAME: the variables of one guest kernel of kernel/targets
# (KVER, KDIR, VMLINUZ, ...; fetched into the cache when needed).
kernel_env() {
	local env
	env=$("$KESYNC_ROOT/scripts/kernel.sh" env "$1") || exit 1
	eval "$env"
}

# default_kernel: the kernel 'make run' boots (the first of kernel/targets).
default_kernel() {
	"$KESYNC_ROOT/scripts/kernel.sh" names | head -n 1
}

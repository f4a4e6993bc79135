#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# A private root made of one Debian suite's packages, to build modules for
# a kernel whose headers need a newer compiler and glibc than this host's
# (trixie's gcc-14, sid's gcc-16: their kbuild programs need glibc >= 2.38).
#
#   toolroot.sh SUITE COMPILER     build (once) and print the root's path
#   toolroot.sh --run ROOT DIR... -- CMD...
#                                  run CMD in ROOT: a mount namespace with
#                                  /proc, /dev, a private /tmp and each DIR
#                                  bound at its own path, then chroot
#
# The packages (COMPILER, make, binutils, libc and their dependency
# closure) are fetched with the private apt configuration that
# scripts/kernel.sh set up for the suite (APT_CONFIG), unpacked with
# dpkg-deb -x and merged-usr'ed.  Nothing is installed on the host and no
# maintainer script runs.  The root is cached under
# $KESYNC_CACHE/toolroots/SUITE-HASH, HASH being that of the exact package
# files: a new compiler or libc in the archive is a new root.
set -euo pipefail
. "$(dirname "$0")/common.sh"

run_in_root() {
	local root=$1 dirs=()
	shift
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		dirs+=("$1")
		shift
	done
	[ "${1:-}" = -- ] && shift
	[ -x "$root/usr/bin/env" ] || die "$root is not a tool root"
	local userns=()
	[ "$(id -u)" -eq 0 ] || userns=(-r)
	mkdir -p "$root/proc" "$root/dev" "$root/tmp"
	# shellcheck disable=SC2016 # expanded by the inner shell
	unshare "${userns[@]}" -m --propagation private -p -f \
		--mount-proc="$root/proc" /bin/bash -c '
		set -e
		root=$1 n=$2
		shift 2
		mount --rbind /dev "$root/dev"
		mount -t tmpfs tmpfs "$root/tmp"
		for ((i = 0; i < n; i++)); do
			mkdir -p "$root$1"
			mount --bind "$1" "$root$1"
			shift
		done
		exec chroot "$root" /usr/bin/env -i PATH=/usr/bin:/usr/sbin \
			HOME=/tmp LC_ALL=C TERM=dumb "$@"
	' toolroot "$root" "${#dirs[@]}" "${dirs[@]}" "$@"
}

build_root() {
	local suite=$1 compiler=$2 pkgs uris key root tmp f
	[ -n "${APT_CONFIG:-}" ] || die "toolroot.sh: no APT_CONFIG (run through scripts/kernel.sh)"
	# What kbuild runs for an external module: the compiler, binutils, make,
	# a shell and the core utilities, libelf/libssl for its tools, perl for
	# W=1's kernel-doc, pahole for BTF, and sparse for C=2.
	pkgs=("$compiler" make binutils libc6-dev libelf1 libssl3t64 bash dash
		coreutils sed grep mawk findutils diffutils tar gzip xz-utils kmod
		perl dwarves sparse)
	uris=$(apt-get -q --print-uris install "${pkgs[@]}" 2>&1) || {
		# libssl3 was renamed libssl3t64 in trixie (the 64-bit time_t move)
		pkgs=("${pkgs[@]/libssl3t64/libssl3}")
		uris=$(apt-get -q --print-uris install "${pkgs[@]}" 2>&1) || {
			echo "$uris" | grep -E '^E:' >&2
			die "toolroot $suite: cannot resolve ${pkgs[*]}"
		}
	}
	key=$(echo "$uris" | awk "/^'/ { print \$2 }" | LC_ALL=C sort | sha256sum | cut -c1-12)
	root=$KESYNC_CACHE/toolroots/$suite-$key
	if [ -f "$root/.kesync-root" ]; then
		echo "$root"
		return 0
	fi
	log "toolroot $suite: fetching $compiler and its build closure"
	tmp=$KESYNC_CACHE/toolroots/.tmp-$suite-$$
	rm -rf "$tmp" "$root"
	mkdir -p "$tmp/debs/partial" "$tmp/root"
	apt-get -q -o Dir::Cache::archives="$tmp/debs" --download-only install \
		"${pkgs[@]}" >"$tmp/download.log" 2>&1 || {
		tail -n 5 "$tmp/download.log" >&2
		die "toolroot $suite: download failed"
	}
	for f in "$tmp"/debs/*.deb; do
		dpkg-deb -x "$f" "$tmp/root"
	done
	# merged-usr, as a Debian system of that suite has it
	local d
	for d in bin sbin lib lib64; do
		mkdir -p "$tmp/root/usr/$d"
		if [ -d "$tmp/root/$d" ] && [ ! -L "$tmp/root/$d" ]; then
			cp -a "$tmp/root/$d/." "$tmp/root/usr/$d/"
			rm -rf "${tmp:?}/root/$d"
		fi
		ln -sfn "usr/$d" "$tmp/root/$d"
	done
	# Links a maintainer script or update-alternatives would have made.
	[ -e "$tmp/root/usr/bin/sh" ] || ln -s dash "$tmp/root/usr/bin/sh"
	[ -e "$tmp/root/usr/bin/awk" ] || ln -s mawk "$tmp/root/usr/bin/awk"
	# The headers call x86_64-linux-gnu-gcc-N (.kernelvariables); plain
	# gcc and cc serve kbuild's host-side checks.
	local v=${compiler#gcc-} gcc
	v=${v%%-*}
	gcc=x86_64-linux-gnu-gcc-$v
	for f in gcc cc; do
		[ -e "$tmp/root/usr/bin/$f" ] || ln -s "$gcc" "$tmp/root/usr/bin/$f"
	done
	echo "$uris" >"$tmp/root/.kesync-packages"
	rm -rf "$tmp/debs"
	mv "$tmp/root" "$root"
	rm -rf "$tmp"
	run_in_root "$root" -- "$gcc" --version >/dev/null ||
		die "toolroot $suite: $gcc does not run in $root"
	touch "$root/.kesync-root"
	echo "$root"
}

if [ "${1:-}" = --run ]; then
	shift
	run_in_root "$@"
	exit
fi
[ $# -eq 2 ] || die "usage: toolroot.sh SUITE COMPILER | --run ROOT DIR... -- CMD..."
mkdir -p "$KESYNC_CACHE/toolroots"
exec 9>"$KESYNC_CACHE/toolroots/.lock"
flock 9
build_root "$1" "$2"

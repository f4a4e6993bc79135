#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Debian 12's real udev for the guest, so that kesync_udev runs the real
# udev/60-kesync.rules under the real systemd-udevd: the udev package,
# fetched with 'apt-get download' (never installed on the host) and
# unpacked into the cache, with the host's shared libraries its udevadm
# needs (ldd).
#
#   guest-udev.sh inputs     fetch if needed; print every file the guest
#                            gets, one host path a line (mkguest.sh hashes
#                            them into the initramfs key)
#   guest-udev.sh stage DIR  fetch if needed; copy them into the root file
#                            system DIR: /bin/udevadm, its libraries at
#                            their host paths, /lib/systemd/systemd-udevd
#
# Cache: $KESYNC_CACHE/udev/VERSION/  the .deb and its unpacked root.  The
# version is the archive's (apt-cache policy), so a new udev in the archive
# is a new directory; offline, the newest one already cached is used.
#
# Debian builds udevadm (systemd-udevd is a link to it) with systemd's
# shared code linked in: it needs no libsystemd-shared-252.so.  Should a
# build need it, it must be the very same systemd version: the host's when
# the host has that version installed, else the libsystemd-shared package
# of the udev's version is fetched next to it.
#
# Without an amd64 host, or offline with an empty cache, or with
# KESYNC_GUEST_UDEV=0, nothing is printed or staged: the guest has no
# udev and kesync_udev skips.
set -euo pipefail
. "$(dirname "$0")/common.sh"

CACHE=$KESYNC_CACHE/udev

# fetch: set ROOT to the unpacked udev package of the archive's version,
# or to '' when there is none to be had.
fetch() {
	local ver dir
	ROOT=
	[ "${KESYNC_GUEST_UDEV:-1}" = 1 ] || return 0
	if [ "$(dpkg --print-architecture 2>/dev/null)" != amd64 ]; then
		log "udev: the host is not amd64; the guest gets no udev"
		return 0
	fi
	mkdir -p "$CACHE"
	exec 9>"$CACHE/.lock"
	flock 9
	ver=$(LC_ALL=C apt-cache policy udev 2>/dev/null | sed -n 's/^ *Candidate: *//p')
	[ "$ver" = "(none)" ] && ver=
	if [ -n "$ver" ] && [ ! -f "$CACHE/$ver/.kesync-unpacked" ]; then
		dir=$CACHE/$ver
		log "udev: fetching udev $ver for the guest (apt-get download)"
		rm -rf "$dir"
		mkdir -p "$dir"
		if (cd "$dir" && apt-get -q download "udev=$ver" >download.log 2>&1) &&
			dpkg-deb -x "$dir"/udev_*.deb "$dir/root"; then
			touch "$dir/.kesync-unpacked"
		else
			log "udev: could not fetch udev $ver ($dir/download.log)"
			ver=
		fi
	fi
	if [ -z "$ver" ] || [ ! -f "$CACHE/$ver/.kesync-unpacked" ]; then
		# Offline: the newest version already unpacked, if any.
		ver=$(find "$CACHE" -mindepth 2 -maxdepth 2 -name .kesync-unpacked \
			-printf '%h\n' 2>/dev/null | xargs -r -n 1 basename |
			sort -V | tail -n 1)
		if [ -z "$ver" ]; then
			log "udev: no udev package to be had; the guest gets no udev (kesync_udev skips)"
			return 0
		fi
	fi
	ROOT=$CACHE/$ver/root
	shared_lib "$ver"
}

# shared_lib VERSION: when udevadm needs systemd's private shared library,
# make sure ldd finds that of VERSION: the host's own, else the package of
# VERSION unpacked under LIBROOT (LIBDIR: its library directory).
LIBROOT='' LIBDIR=''
shared_lib() {
	local ver=$1 lib host dir=$CACHE/$1
	lib=$(readelf -d "$(udevadm_path)" | sed -n 's/.*NEEDED.*\[\(libsystemd-shared[^]]*\)\].*/\1/p')
	[ -n "$lib" ] || return 0
	host=$(dpkg-query -W -f='${Version}' libsystemd-shared 2>/dev/null || true)
	[ "$host" = "$ver" ] && return 0
	LIBROOT=$dir/lib
	LIBDIR=$LIBROOT/usr/lib/x86_64-linux-gnu/systemd
	[ -f "$LIBDIR/$lib" ] && return 0
	log "udev: the host's libsystemd-shared is '${host:-none}', not $ver: fetching $ver"
	(cd "$dir" && apt-get -q download "libsystemd-shared=$ver" >>download.log 2>&1 &&
		dpkg-deb -x "$dir"/libsystemd-shared_*.deb "$dir/lib") ||
		die "udev: cannot fetch libsystemd-shared $ver ($dir/download.log)"
	[ -f "$LIBDIR/$lib" ] || die "udev: libsystemd-shared $ver has no $lib"
}

udevadm_path() {
	local p
	for p in "$ROOT/bin/udevadm" "$ROOT/usr/bin/udevadm"; do
		[ -x "$p" ] && { echo "$p"; return 0; }
	done
	die "udev: no udevadm in $ROOT"
}

# libs: the shared libraries udevadm loads, host paths (the loader too).
libs() {
	local out
	out=$(LD_LIBRARY_PATH=$LIBDIR ldd "$(udevadm_path)") ||
		die "udev: ldd $(udevadm_path) failed"
	if grep -q 'not found' <<<"$out"; then
		die "udev: udevadm needs libraries the host lacks: $(grep 'not found' <<<"$out" | tr -s '\t\n' '  ')"
	fi
	awk '/=> \//{ print $3 } /^\t\//{ print $1 }' <<<"$out"
}

cmd=${1:-}
case $cmd in
inputs)
	fetch
	[ -n "$ROOT" ] || exit 0
	udevadm_path
	libs
	;;
stage)
	dest=${2:?usage: guest-udev.sh stage DIR}
	fetch
	[ -n "$ROOT" ] || exit 0
	install -D -m 0755 "$(udevadm_path)" "$dest/bin/udevadm"
	mkdir -p "$dest/lib/systemd"
	ln -sf /bin/udevadm "$dest/lib/systemd/systemd-udevd"
	libs | while read -r lib; do
		# The libraries go where the host has them (the loader's path is
		# in udevadm; the rest are found through the default paths), a
		# fetched libsystemd-shared where the package puts it.
		to=$lib
		[ -n "$LIBROOT" ] && to=${lib#"$LIBROOT"}
		mkdir -p "$dest$(dirname "$to")"
		cp -L "$lib" "$dest$to"
	done
	;;
*)
	die "usage: guest-udev.sh inputs | stage DIR"
	;;
esac

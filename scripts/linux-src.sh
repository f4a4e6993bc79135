#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Unpack Debian's linux-source-6.1 once into the cache and print its path.
# It provides the kselftest harness the guest tests build with,
# checkpatch.pl, the coccinelle scripts, and the debug kernel's source.
set -euo pipefail
. "$(dirname "$0")/common.sh"

tarball=$(find /usr/src -maxdepth 1 -name 'linux-source-6.1.tar.xz' | head -n 1)
[ -n "$tarball" ] || die "linux-source-6.1 is not installed (run scripts/deps.sh)"
ver=$(dpkg-query -W -f='${Version}' linux-source-6.1)
dst=$KESYNC_CACHE/linux-src/$ver
if [ ! -f "$dst/.kesync-unpacked" ]; then
	log "unpacking linux-source-6.1 $ver"
	rm -rf "$dst"
	mkdir -p "$dst"
	tar -xJf "$tarball" -C "$dst" --strip-components=1
	touch "$dst/.kesync-unpacked"
fi
printf '%s\n' "$dst"

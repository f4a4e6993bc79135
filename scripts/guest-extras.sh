#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Stage Debian's dynamically linked guest programs (fio, stress-ng) with the
# shared libraries they need, laid out as a root file system, and pack them
# as OUT.cpio.gz: about 100 MiB unpacked, so run-guest.sh appends it only to
# the boots that ask for it (--extras).
#   guest-extras.sh OUT.cpio.gz
set -euo pipefail
. "$(dirname "$0")/common.sh"

out=$1
dest=$out.d
progs=(/usr/bin/fio /usr/bin/stress-ng)
stamp=$out.key
key=$(for p in "${progs[@]}"; do
	dpkg-query -S "$p" 2>/dev/null | cut -d: -f1 | xargs -r dpkg-query -W
done | sha256sum | cut -c1-16)
[ -f "$out" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$key" ] && exit 0
log "packing fio and stress-ng for the guest"

rm -rf "$dest"
mkdir -p "$dest"
copy() {
	local f=$1
	mkdir -p "$dest$(dirname "$f")"
	cp -L "$f" "$dest$f"
}
for p in "${progs[@]}"; do
	[ -x "$p" ] || die "$p is missing (run scripts/deps.sh)"
	copy "$p"
	# ldd lists 'name => /path (addr)' and the loader as '/path (addr)'.
	ldd "$p" | awk '/=> \//{print $3} /^\t\//{print $1}' | while read -r lib; do
		copy "$lib"
	done
done
(cd "$dest" && find . | LC_ALL=C sort |
	cpio -o -H newc --quiet --owner=0:0 --reproducible) | gzip -1 >"$out.tmp"
mv "$out.tmp" "$out"
rm -rf "$dest"
echo "$key" >"$stamp"

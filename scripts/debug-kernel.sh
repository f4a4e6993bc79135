#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build the debug guest kernel (lockdep, KASAN, kmemleak, DMA-API debug, ...)
# from Debian's linux-source-6.1 with kernel/debug.config on an allnoconfig
# base, kesync built in-tree through the project's Kconfig (=m), and print
# the build directory.
#
# The source is the kesync tree of 'linux-src.sh --kesync' (the unpacked
# source as hard links, kernel/patches applied, kesync in drivers/misc),
# shared with scripts/kunit.sh; the build is out of tree (O=) in the cache,
# keyed by the fragment, that tree (source version, patches) and this
# script.  The in-tree module is rebuilt when module/ changes (an
# incremental make).
set -euo pipefail
. "$(dirname "$0")/common.sh"

# Bump RECIPE when a change of this script changes what the kernel build
# produces (a comment does not), so an edit does not cost a rebuild.
RECIPE=2
# One user of the kesync tree at a time (it is refreshed from module/).
mkdir -p "$KESYNC_CACHE/linux-src"
exec 9>"$KESYNC_CACHE/linux-src/kesync-tree.lock"
flock 9
src=$(KESYNC_KTREE_LOCKED=1 "$KESYNC_ROOT/scripts/linux-src.sh" --kesync)
ver=$(dpkg-query -W -f='${Version}' linux-source-6.1)
key=$( { cat "$KESYNC_ROOT/kernel/debug.config"; echo "recipe $RECIPE"
	echo "tree ${src##*/}"; } | sha256sum | cut -c1-12)
top=$KESYNC_CACHE/debug-kernel/$ver-$key
obj=$top/obj
jobs=$(nproc)

if [ ! -f "$obj/.config" ]; then
	mkdir -p "$obj"
	{ cat "$KESYNC_ROOT/kernel/debug.config"; echo 'CONFIG_KESYNC=m'; } \
		>"$obj/fragment.config"
	make -C "$src" O="$obj" KCONFIG_ALLCONFIG="$obj/fragment.config" \
		allnoconfig >/dev/null
	# Every option of the fragment must have survived olddefconfig.
	missing=$(grep -E '^CONFIG_[A-Z0-9_]+=' "$KESYNC_ROOT/kernel/debug.config" |
		while IFS= read -r l; do
			grep -qxF "$l" "$obj/.config" || echo "$l"
		done; grep -E '^# CONFIG_.* is not set' "$KESYNC_ROOT/kernel/debug.config" |
		while IFS= read -r l; do
			grep -qxF "$l" "$obj/.config" || echo "$l"
		done)
	[ -z "$missing" ] || { rm -f "$obj/.config"; die "debug config lost options: $missing"; }
fi

if [ ! -f "$obj/.kesync-bzimage" ] ||
	[ -n "$(find "$obj/.config" -newer "$obj/.kesync-bzimage")" ]; then
	log "building the debug kernel (first time about 10 minutes)"
	if ! make -C "$src" O="$obj" -j"$jobs" bzImage >"$top/build.log" 2>&1; then
		grep -m5 -B2 -A10 'error' "$top/build.log" >&2 ||
			tail -n 40 "$top/build.log" >&2
		die "debug kernel build failed (log: $top/build.log)"
	fi
	touch "$obj/.kesync-bzimage"
fi
# kesync is the only module (=m): built in-tree, incrementally.
if ! make -C "$src" O="$obj" -j"$jobs" W=1 modules >"$top/modules.log" 2>&1; then
	grep -m5 -B2 -A10 'error' "$top/modules.log" >&2 ||
		tail -n 40 "$top/modules.log" >&2
	die "in-tree kesync build failed (log: $top/modules.log)"
fi

# The layout before the kesync tree: a full copy of the source in each
# build's src/ (1.5 GB each).  Nothing uses those any more.
for d in "$KESYNC_CACHE"/debug-kernel/*/; do
	d=${d%/}
	if [ "$d" = "$top" ] || [ ! -f "$d/src/.kesync-ready" ]; then
		continue
	fi
	log "removing $d: a copy of the kernel source from an older debug-kernel.sh"
	rm -rf "$d"
done
printf '%s\n' "$obj"

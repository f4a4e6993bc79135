#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build the debug guest kernel (lockdep, KASAN, kmemleak, DMA-API debug, ...)
# from Debian's linux-source-6.1 with kernel/debug.config on an allnoconfig
# base, kesync built in-tree through the project's Kconfig (=m), and print
# the build directory.  Cached outside the clone, keyed by the fragment, the
# patches of kernel/patches, the source version and this script; the in-tree
# module is rebuilt when module/ changes (an incremental make).
set -euo pipefail
. "$(dirname "$0")/common.sh"

ksrc=$("$KESYNC_ROOT/scripts/linux-src.sh")
ver=$(dpkg-query -W -f='${Version}' linux-source-6.1)
# Bump RECIPE when a change of this script changes what the kernel build
# produces (a comment does not), so an edit does not cost a rebuild.
RECIPE=1
# Fixes for kernel bugs the debug tier runs into (kernel/patches/, applied
# in order; each says why): part of the key.
shopt -s nullglob
patches=("$KESYNC_ROOT"/kernel/patches/*.patch)
shopt -u nullglob
key=$( { cat "$KESYNC_ROOT/kernel/debug.config"; echo "recipe $RECIPE"
	[ ${#patches[@]} -eq 0 ] || cat "${patches[@]}"; } |
	sha256sum | cut -c1-12)
top=$KESYNC_CACHE/debug-kernel/$ver-$key
src=$top/src
obj=$top/obj
jobs=$(nproc)

if [ ! -f "$src/.kesync-ready" ]; then
	log "preparing debug kernel source $ver"
	rm -rf "$top"
	mkdir -p "$top"
	cp -a "$ksrc" "$src"
	rm -f "$src/.kesync-unpacked"
	for p in "${patches[@]}"; do
		patch -d "$src" -p1 --forward --quiet <"$p" ||
			die "kernel patch $(basename "$p") does not apply"
	done
	# kesync in-tree: drivers/misc/kesync with the project's Kconfig.
	printf 'source "drivers/misc/kesync/Kconfig"\n' >>"$src/drivers/misc/Kconfig"
	# shellcheck disable=SC2016 # a make variable, not a shell one
	printf 'obj-$(CONFIG_KESYNC) += kesync/\n' >>"$src/drivers/misc/Makefile"
	touch "$src/.kesync-ready"
fi

# Refresh the in-tree copy of the driver (rsync -c: only changed files).
mkdir -p "$src/drivers/misc/kesync" "$src/include/uapi/linux"
rsync -rc --delete --exclude='*.o' --exclude='*.ko' --exclude='.*' \
	--exclude='*.mod*' --exclude='modules.order' --exclude='Module.symvers' \
	--exclude=Makefile \
	"$KESYNC_ROOT/module/" "$src/drivers/misc/kesync/"
cp "$KESYNC_ROOT/Kconfig" "$src/drivers/misc/kesync/Kconfig"
for h in "$KESYNC_ROOT"/include/uapi/linux/*.h; do
	cmp -s "$h" "$src/include/uapi/linux/$(basename "$h")" ||
		cp "$h" "$src/include/uapi/linux/"
done

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
printf '%s\n' "$obj"

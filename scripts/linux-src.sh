#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Debian's linux-source-6.1 in the cache.
#
#   linux-src.sh           unpack it once and print its path: the pristine
#                          tree (the kselftest harness the guest tests build
#                          with, checkpatch.pl, the coccinelle scripts).
#   linux-src.sh --kesync  print the path of the kesync tree: the pristine
#                          tree as hard links (cp -al: no data copied), with
#                          kernel/patches applied and kesync in-tree
#                          (drivers/misc/kesync, the project's Kconfig),
#                          refreshed from module/ and include/ on each call.
#                          The source of the debug kernel and of the KUnit
#                          kernel; both build out of tree (O=), so nothing
#                          is written into it but by this script.
#
# The kesync tree is keyed by the source version, the patches and TREE
# (below).  A file of it that this script changes is first replaced by a
# copy of its own, so the pristine tree is never written through a link;
# it checks that after preparing.  Callers that build from the kesync
# tree hold $KESYNC_CACHE/linux-src/kesync-tree.lock (flock) for as long as
# they use it, and set KESYNC_KTREE_LOCKED=1 for this script.
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
if [ "${1:-}" != --kesync ]; then
	printf '%s\n' "$dst"
	exit 0
fi

# ---- the kesync tree --------------------------------------------------------
# Bump TREE when a change of this script changes the prepared tree.
TREE=1
if [ "${KESYNC_KTREE_LOCKED:-0}" != 1 ]; then
	mkdir -p "$KESYNC_CACHE/linux-src"
	exec 9>"$KESYNC_CACHE/linux-src/kesync-tree.lock"
	flock 9
fi
# Fixes for kernel bugs the debug tier runs into (kernel/patches/, applied
# in order; each says why).
shopt -s nullglob
patches=("$KESYNC_ROOT"/kernel/patches/*.patch)
shopt -u nullglob
key=$( { echo "tree $TREE"
	for p in "${patches[@]}"; do echo "${p##*/}"; cat "$p"; done; } |
	sha256sum | cut -c1-12)
tree=$KESYNC_CACHE/linux-src/$ver-kesync-$key

# own FILE...: give each file of the tree an inode of its own (a copy
# replaces the hard link), so that writing it leaves the pristine tree alone.
own() {
	local f
	for f in "$@"; do
		[ -f "$f" ] || continue
		cp -p "$f" "$f.kesync-own"
		mv -f "$f.kesync-own" "$f"
	done
}

if [ ! -f "$tree/.kesync-ready" ]; then
	log "preparing the kesync kernel tree $ver-kesync-$key (hard links of $dst)"
	rm -rf "$tree" "$tree.tmp"
	cp -al "$dst" "$tree.tmp"
	rm -f "$tree.tmp/.kesync-unpacked"
	# Whatever a build in the pristine tree left (lint's coccicheck runs
	# make there) must not make this one look configured to O= builds.
	rm -rf "$tree.tmp/.config" "$tree.tmp/include/config" \
		"$tree.tmp/arch/x86/include/generated" "$tree.tmp/include/generated"
	changed=(drivers/misc/Kconfig drivers/misc/Makefile)
	for p in "${patches[@]}"; do
		mapfile -t files < <(sed -n 's@^+++ [^/[:space:]]*/\([^[:space:]]*\).*@\1@p' "$p")
		changed+=("${files[@]}")
		(cd "$tree.tmp" && own "${files[@]}")
		patch -d "$tree.tmp" -p1 --forward --quiet --no-backup-if-mismatch <"$p" ||
			die "kernel patch $(basename "$p") does not apply"
	done
	(cd "$tree.tmp" && own drivers/misc/Kconfig drivers/misc/Makefile)
	printf 'source "drivers/misc/kesync/Kconfig"\n' >>"$tree.tmp/drivers/misc/Kconfig"
	# shellcheck disable=SC2016 # a make variable, not a shell one
	printf 'obj-$(CONFIG_KESYNC) += kesync/\n' >>"$tree.tmp/drivers/misc/Makefile"
	# Each changed file has an inode of its own, and the pristine one is
	# as unpacked (tar gave it the archive's time, older than the mark).
	for f in "${changed[@]}"; do
		[ "$(stat -c %h "$tree.tmp/$f")" = 1 ] ||
			die "$f of the kesync tree is still a link into $dst"
		[ ! "$dst/$f" -nt "$dst/.kesync-unpacked" ] ||
			die "$dst/$f was written: remove $dst and rerun"
	done
	mv "$tree.tmp" "$tree"
	touch "$tree/.kesync-ready"
fi

# Refresh the in-tree copy of the driver (rsync -c: only changed files,
# written as new files).  A copy rather than links into the clone: make
# sees a changed file by its time, and another clone sharing the cache
# may have left older files here.
mkdir -p "$tree/drivers/misc/kesync" "$tree/include/uapi/linux"
rsync -rc --delete --include=.kunitconfig --exclude='*.o' --exclude='*.ko' --exclude='.*' \
	--exclude='*.mod*' --exclude='modules.order' --exclude='Module.symvers' \
	--exclude=Makefile --exclude=Kconfig \
	"$KESYNC_ROOT/module/" "$tree/drivers/misc/kesync/"
rsync -c "$KESYNC_ROOT/Kconfig" "$tree/drivers/misc/kesync/Kconfig"
rsync -c "$KESYNC_ROOT"/include/uapi/linux/*.h "$tree/include/uapi/linux/"
printf '%s\n' "$tree"

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build the guest's base initramfs: busybox, the init, kesync.ko (and any
# extra modules), and the static test programs and tools.
#
#   initramfs.sh OUT.cpio.gz KO_DIR BIN_DIR
#
# KO_DIR holds the *.ko files to ship (kesync.ko and test modules); BIN_DIR
# holds static executables and test scripts, installed under /kesync/bin.
# The per-boot job is a second, tiny cpio that run-guest.sh appends: the
# kernel unpacks concatenated archives in order.
set -euo pipefail
. "$(dirname "$0")/common.sh"

out=$1 kodir=$2 bindir=$3
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

mkdir -p "$stage"/{bin,sbin,dev,proc,sys,tmp,etc/kesync,kesync/bin,kesync/modules,root}
cp /bin/busybox "$stage/bin/busybox"
for app in $("$stage/bin/busybox" --list); do
	[ "$app" = busybox ] || ln -s busybox "$stage/bin/$app"
done
install -m 0755 "$KESYNC_ROOT/scripts/guest-init" "$stage/init"
install -m 0644 "$KESYNC_ROOT/scripts/guest-lib.sh" "$stage/etc/kesync/lib.sh"
find "$kodir" -maxdepth 1 -name '*.ko' -exec cp {} "$stage/kesync/modules/" \;
if [ -d "$bindir" ]; then
	cp -a "$bindir"/. "$stage/kesync/bin/"
fi
echo 'root:x:0:0:root:/root:/bin/sh' >"$stage/etc/passwd"
echo 'nobody:x:65534:65534:nobody:/:/bin/false' >>"$stage/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$stage/etc/group"

(cd "$stage" && find . -print0 | LC_ALL=C sort -z |
	cpio --null -o -H newc --quiet --owner=0:0 --reproducible) |
	gzip -1 >"$out.tmp"
mv "$out.tmp" "$out"

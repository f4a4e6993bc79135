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
#
# For kesync_udev: Debian's systemd-udevd and udevadm with their libraries
# (scripts/guest-udev.sh), udev/60-kesync.rules where 'make install' puts
# it, and the users and groups the rule and the test need: group kesync,
# a member (kesyncuser) and a non-member (kesyncother).  For kesync_abi:
# the sysfs ABI document, as /kesync/share/sysfs-class-kesync.
set -euo pipefail
. "$(dirname "$0")/common.sh"

out=$1 kodir=$2 bindir=$3
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

mkdir -p "$stage"/{bin,sbin,dev,proc,sys,tmp,run,etc/kesync,kesync/bin,kesync/modules,kesync/share,root}
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
"$KESYNC_ROOT/scripts/guest-udev.sh" stage "$stage"
install -D -m 0644 "$KESYNC_ROOT/udev/60-kesync.rules" \
	"$stage/usr/lib/udev/rules.d/60-kesync.rules"
install -m 0644 "$KESYNC_ROOT/Documentation/ABI/testing/sysfs-class-kesync" \
	"$stage/kesync/share/sysfs-class-kesync"
cat >"$stage/etc/passwd" <<'EOP'
root:x:0:0:root:/root:/bin/sh
kesyncuser:x:1000:1000:kesync group member:/:/bin/false
kesyncother:x:1001:100:not in group kesync:/:/bin/false
nobody:x:65534:65534:nobody:/:/bin/false
EOP
cat >"$stage/etc/group" <<'EOG'
root:x:0:
users:x:100:
kesync:x:990:kesyncuser
kesyncuser:x:1000:
nogroup:x:65534:
EOG
printf 'passwd: files\ngroup: files\nshadow: files\n' >"$stage/etc/nsswitch.conf"

(cd "$stage" && find . -print0 | LC_ALL=C sort -z |
	cpio --null -o -H newc --quiet --owner=0:0 --reproducible) |
	gzip -1 >"$out.tmp"
mv "$out.tmp" "$out"

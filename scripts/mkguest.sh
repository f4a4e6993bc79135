#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Rebuild the base initramfs only when one of its inputs changed.
#   mkguest.sh OUT KO_DIR BIN_DIR
set -euo pipefail
. "$(dirname "$0")/common.sh"
out=$1 kodir=$2 bindir=$3
inputs=("$KESYNC_ROOT/scripts/guest-init" "$KESYNC_ROOT/scripts/guest-lib.sh"
	"$KESYNC_ROOT/scripts/initramfs.sh" "$KESYNC_ROOT/scripts/guest-udev.sh"
	"$KESYNC_ROOT/udev/60-kesync.rules"
	"$KESYNC_ROOT/Documentation/ABI/testing/sysfs-class-kesync")
mapfile -t kos < <(find "$kodir" -maxdepth 1 -name '*.ko' | sort)
mapfile -t bins < <(find "$bindir" -type f 2>/dev/null | sort)
# Debian's udev for the guest (fetched into the cache when needed): its
# udevadm and the host libraries it loads.
udev=$("$KESYNC_ROOT/scripts/guest-udev.sh" inputs) || exit 1
mapfile -t udevs < <(printf '%s\n' "$udev" | sed '/^$/d')
key=$(hash_files "${inputs[@]}" "${kos[@]}" "${bins[@]}" /bin/busybox "${udevs[@]}")
if [ -f "$out" ] && [ "$(cat "$out.key" 2>/dev/null)" = "$key" ]; then
	exit 0
fi
log "building guest initramfs"
"$KESYNC_ROOT/scripts/initramfs.sh" "$out" "$kodir" "$bindir"
echo "$key" >"$out.key"

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Print the accelerator to use (QEMU is configured with --enable-kvm): kvm only when a short probe proves KVM boots
# a guest here (on some hosts /dev/kvm exists and hangs), else tcg.  The
# answer is cached per host kernel and QEMU for a day.  KESYNC_ACCEL=tcg|kvm
# overrides it.
set -euo pipefail
. "$(dirname "$0")/common.sh"

if [ -n "${KESYNC_ACCEL:-}" ]; then
	echo "$KESYNC_ACCEL"
	exit 0
fi
if [ ! -w /dev/kvm ]; then
	echo tcg
	exit 0
fi
qemu=$KESYNC_BUILD/qemu-system-x86_64
kernel_env "${KESYNC_KERNEL:-$(default_kernel)}"
key=$(printf '%s %s %s' "$(uname -r)" "$(readlink -f "$qemu")" "$KVER" |
	sha256sum | cut -c1-16)
cache=$KESYNC_CACHE/accel-$key
if [ -n "$(find "$cache" -mmin -1440 2>/dev/null)" ]; then
	cat "$cache"
	exit 0
fi

# Probe: boot the guest kernel with a one-line init under KVM; it must print
# its marker and power off within 20 s.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/root/bin"
cp /bin/busybox "$work/root/bin/"
printf '#!/bin/busybox sh\n/bin/busybox echo KESYNC-KVM-OK\n/bin/busybox poweroff -f\n' \
	>"$work/root/init"
chmod +x "$work/root/init"
(cd "$work/root" && find . | cpio -o -H newc --quiet) >"$work/probe.cpio"
res=tcg
if timeout -k 2 20 "$qemu" -nodefaults -nographic -no-reboot -accel kvm \
	-m 256M -L /usr/share/seabios -L /usr/share/qemu \
	-kernel "$VMLINUZ" -initrd "$work/probe.cpio" \
	-append "console=ttyS0 panic=-1 quiet" -serial stdio \
	</dev/null 2>/dev/null | grep -q KESYNC-KVM-OK; then
	res=kvm
fi
mkdir -p "$KESYNC_CACHE"
echo "$res" >"$cache"
log "accelerator probe: $res"
echo "$res"

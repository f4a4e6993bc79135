#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Boot a QEMU guest with the kesync-pci device and run one job in it.
#
# Usage: run-guest.sh [options] [-- COMMAND...]
#   --job FILE        shell script to run in the guest (else COMMAND, else a shell)
#   --units N         units on the device (default 2)
#   --irq MODE        auto|msix|msi|intx: hides the device's MSI-X/MSI
#                     capabilities as needed and forces the driver's mode
#   --pump P          startio|thread (driver parameter)
#   --modparams S     more kesync.ko parameters
#   --devopts S       more -device kesync-pci properties (k=v,...)
#   --iommu           intel-iommu in strict mode (q35, intel_iommu=on iommu.strict=1)
#   --debug           the debug kernel and its initramfs ('make debug'),
#                     booted with panic_on_warn=1
#   --extras          add fio and stress-ng (build/extras.cpio.gz, ~100 MiB)
#   --kernel K        guest kernel: a name of kernel/targets (6.12, 6.1,
#                     6.12-bpo, 7; default $KESYNC_KERNEL, else the first),
#                     booted with build/initramfs-K.cpio.gz; or a bzImage file
#   --initrd F        base initramfs (default: the kernel's, see --kernel)
#   --qmp SOCK        QMP unix socket (server, nowait) for host-side control
#   --host-reply SOCK the guest's second serial port (ttyS1) is a unix socket
#                     (server, nowait) at SOCK: the host writes its replies
#                     to the guest's requests there
#   --migratable DIR  the guest may be live-migrated to another QEMU by the
#                     caller: the QEMU command line, without its -qmp and
#                     --host-reply options, goes to DIR/qemu.argv (NUL-
#                     separated) for a destination to be started with, the
#                     console log is only ever appended to (as --quiet), and
#                     when this QEMU exits, the QEMU whose pid the caller
#                     wrote to DIR/successor is followed until the caller
#                     writes its exit code to DIR/exit.<pid> (again for its
#                     own successor, and so on), all within --timeout
#   --qemu-args S     more QEMU arguments, split at white space (e.g. extra
#                     -device/-drive/-trace options)
#   --timeout S       hard limit for the whole boot (default 300)
#   --log FILE        console log (default: build/logs/guest-console.log);
#                     without --quiet the terminal shows the job's output,
#                     and the guest's kernel log only when the job failed
#   --append S        more kernel command line
#   --mem M           guest memory (default 1024M)
#   --smp N           vCPUs (default 2)
#   --interactive     attach the serial console to this terminal
#   --quiet           do not echo the console while it runs
# Environment: KESYNC_QEMU, the QEMU binary (default build/qemu-system-x86_64;
# 'make coverage' boots its --enable-gcov build).
# Exit: the job's exit code; 124 on timeout; 125 if the guest died before
# the job ended (panic, QEMU error).
set -euo pipefail
. "$(dirname "$0")/common.sh"

job='' units=2 irq=auto pump='' modparams='' devopts='' iommu=0 kernel=''
initrd='' qmp='' qemu_args='' tmo=300 logf='' append='' mem=1024M smp=2
interactive=0 quiet=0 debug=0 extras=0 reply='' mdir=''
while [ $# -gt 0 ]; do
	case $1 in
	--job) job=$2; shift 2 ;;
	--units) units=$2; shift 2 ;;
	--irq) irq=$2; shift 2 ;;
	--pump) pump=$2; shift 2 ;;
	--modparams) modparams=$2; shift 2 ;;
	--devopts) devopts=$2; shift 2 ;;
	--iommu) iommu=1; shift ;;
	--debug) debug=1; shift ;;
	--extras) extras=1; shift ;;
	--kernel) kernel=$2; shift 2 ;;
	--initrd) initrd=$2; shift 2 ;;
	--qmp) qmp=$2; shift 2 ;;
	--host-reply) reply=$2; shift 2 ;;
	--migratable) mdir=$2; quiet=1; shift 2 ;;
	--qemu-args) qemu_args="$qemu_args $2"; shift 2 ;;
	--timeout) tmo=$2; shift 2 ;;
	--log) logf=$2; shift 2 ;;
	--append) append=$2; shift 2 ;;
	--mem) mem=$2; shift 2 ;;
	--smp) smp=$2; shift 2 ;;
	--interactive) interactive=1; shift ;;
	--quiet) quiet=1; shift ;;
	-h|--help) sed -n '3,/^set -e/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
	--) shift; break ;;
	*) die "unknown option $1 (see --help)" ;;
	esac
done

qemu=${KESYNC_QEMU:-$KESYNC_BUILD/qemu-system-x86_64}
[ -x "$qemu" ] || die "no QEMU at $qemu: run 'make qemu'"
if [ "$debug" = 1 ]; then
	kernel=${kernel:-$KESYNC_BUILD/debug/bzImage}
	initrd=${initrd:-$KESYNC_BUILD/initramfs-debug.cpio.gz}
	append="panic_on_warn=1 $append"
	[ "$mem" = 1024M ] && mem=2048M
fi
kernel=${kernel:-${KESYNC_KERNEL:-$(default_kernel)}}
if [ ! -f "$kernel" ]; then
	# A name of kernel/targets: Debian's image from the cache.
	initrd=${initrd:-$KESYNC_BUILD/initramfs-$kernel.cpio.gz}
	# The image the module in that initramfs was built for (pinned by
	# 'kernel.sh build', whatever the archive has now), else the newest.
	if [ -f "$KESYNC_BUILD/kernels/$kernel/env" ]; then
		# shellcheck source=/dev/null
		. "$KESYNC_BUILD/kernels/$kernel/env"
	else
		kernel_env "$kernel"
	fi
	kernel=$VMLINUZ
fi
[ -r "$kernel" ] || die "cannot read guest kernel $kernel"
[ -r "$initrd" ] || die "no initramfs at $initrd: run 'make initramfs KERNEL=...'"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The job and its environment, as a second cpio appended to the base one.
mkdir -p "$work/root/etc/kesync"
if [ -n "$job" ]; then
	cp "$job" "$work/root/etc/kesync/job.sh"
elif [ $# -gt 0 ]; then
	printf '%s\n' "$*" >"$work/root/etc/kesync/job.sh"
else
	printf 'kesync_load\necho "kesync guest shell: poweroff -f to leave"\nsetsid cttyhack sh\n' \
		>"$work/root/etc/kesync/job.sh"
	interactive=1
fi

mp=
case $irq in
auto) ;;
msix) mp="irq_mode=msix" ;;
msi) mp="irq_mode=msi"; devopts="msix=off${devopts:+,$devopts}" ;;
intx) mp="irq_mode=intx"; devopts="msix=off,msi=off${devopts:+,$devopts}" ;;
*) die "--irq takes auto, msix, msi or intx" ;;
esac
[ -n "$pump" ] && mp="$mp pump=$pump"
mp="$mp $modparams"
# Squeeze the blanks out of the parameter list.
read -r -a mpw <<<"$mp"
{
	printf 'KESYNC_MODPARAMS=%q\n' "${mpw[*]}"
	printf 'KESYNC_UNITS=%s\nKESYNC_IRQ=%s\nKESYNC_PUMP=%s\nKESYNC_IOMMU=%s\n' \
		"$units" "$irq" "${pump:-startio}" "$iommu"
	printf 'KESYNC_DEBUG=%s\n' "$debug"
	printf 'export KESYNC_MODPARAMS KESYNC_UNITS KESYNC_IRQ KESYNC_PUMP KESYNC_IOMMU KESYNC_DEBUG\n'
} >"$work/root/etc/kesync/env.sh"
(cd "$work/root" && find . | cpio -o -H newc --quiet --owner=0:0) |
	gzip -1 >"$work/job.cpio.gz"
parts=("$initrd")
if [ "$extras" = 1 ]; then
	[ -r "$KESYNC_BUILD/extras.cpio.gz" ] || die "no build/extras.cpio.gz: run 'make guest'"
	parts+=("$KESYNC_BUILD/extras.cpio.gz")
fi
cat "${parts[@]}" "$work/job.cpio.gz" >"$work/initrd.gz"

accel=$("$KESYNC_ROOT/scripts/accel.sh")

# qboot (qemu-system-data), not SeaBIOS: SeaBIOS writes "ESC c" and
# "ESC [?7l" to the serial console, which clear the user's terminal and
# leave its autowrap off; qboot boots the kernel straight away and prints
# nothing (the kernel's own kunit.py boots x86 guests the same way).
args=(-nodefaults -nographic -no-reboot -m "$mem" -smp "$smp"
	-accel "$accel" -cpu max
	-L /usr/share/qemu -L /usr/share/seabios -bios qboot.rom
	-kernel "$kernel" -initrd "$work/initrd.gz")
# log_buf_len: the runner scans the whole kernel log after the job; the
# fault-injection loops write a lot of it.
# no_timer_check: the kernel's early check that the timer interrupt comes
# through the IO-APIC measures it against a busy-wait, which an emulated
# CPU (TCG) on a loaded host can miss: with interrupt remapping on, that
# miss is a panic ("timer doesn't work through Interrupt-remapped
# IO-APIC", 2 of 5 iommu boots here).  KVM guests skip the check too.
cmdline="console=ttyS0,115200 panic=-1 oops=panic loglevel=4 quiet log_buf_len=16M no_timer_check rdinit=/init"
if [ "$iommu" = 1 ]; then
	args+=(-machine q35 -device intel-iommu)
	cmdline="$cmdline intel_iommu=on iommu.strict=1"
else
	args+=(-machine q35)
fi
# The device sits behind a PCIe root port so it can be hot-unplugged.
args+=(-device "pcie-root-port,id=rp0,chassis=1,slot=1"
	-device "kesync-pci,id=kesync0,bus=rp0,units=$units${devopts:+,$devopts}")
# shellcheck disable=SC2206 # split on purpose
[ -n "$qemu_args" ] && args+=($qemu_args)
cmdline="$cmdline $append"
# What is this QEMU's own: a migration destination gets its own sockets.
inst=()
[ -n "$qmp" ] && inst+=(-qmp "unix:$qmp,server=on,wait=off")

# console_filter: the console as the user should see it: no carriage
# returns, no terminal control sequences a guest may send, no markers, and
# the final kernel log (KESYNC-DMESG-*) only after a failed job.
console_filter() {
	sed -u -e 's/\r//g' -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' -e 's/\x1b[c78]//g' |
		awk '
		/^KESYNC-JOB-BEGIN/ { next }
		/^KESYNC-JOB-END rc=/ {
			rc = $2; sub(/^rc=/, "", rc); failed = (rc != "0"); next
		}
		/^KESYNC-DMESG-BEGIN/ {
			dmesg = 1
			if (failed)
				print "--- the guest kernel log ---"
			next
		}
		/^KESYNC-DMESG-END/ { dmesg = 0; next }
		/^\[ *[0-9.]*\] reboot: Power down$/ { next }
		dmesg && !failed { next }
		{ print; fflush() }'
}

# Without --log, the console of the last boot stays in build/logs.
if [ -z "$logf" ]; then
	mkdir -p "$KESYNC_BUILD/logs"
	logf=$KESYNC_BUILD/logs/guest-console.log
fi
# The reply port is ttyS1: its -serial comes after the console's.
[ -n "$reply" ] && inst+=(-chardev "socket,id=hostreply,path=$reply,server=on,wait=off"
	-serial chardev:hostreply)
if [ "$interactive" = 1 ]; then
	args+=(-serial mon:stdio)
	exec "$qemu" "${args[@]}" -append "$cmdline" "${inst[@]}"
fi
args+=(-serial stdio)
if [ -n "$mdir" ]; then
	printf '%s\0' "$qemu" "${args[@]}" -append "$cmdline" >"$mdir/qemu.argv"
fi

set +e
if [ -n "$mdir" ]; then
	# Every QEMU of this guest appends its console to the log (O_APPEND:
	# a source that writes after its destination started cannot
	# overwrite what the destination wrote).
	: >"$logf"
	timeout -k 5 "$tmo" "$qemu" "${args[@]}" -append "$cmdline" "${inst[@]}" \
		</dev/null >>"$logf" 2>&1
elif [ "$quiet" = 1 ]; then
	timeout -k 5 "$tmo" "$qemu" "${args[@]}" -append "$cmdline" "${inst[@]}" \
		</dev/null >"$logf" 2>&1
else
	# The whole console goes to the log; the terminal gets the job's
	# output, and the kernel log the guest prints at the end only when
	# the job failed.
	timeout -k 5 "$tmo" "$qemu" "${args[@]}" -append "$cmdline" "${inst[@]}" \
		</dev/null 2>&1 | tee "$logf" | console_filter
	test "${PIPESTATUS[0]}" -eq 0
fi
qrc=$?
# Live-migrated: the guest went on in the QEMU the caller named (not a
# child of this script); follow it, and its own successor, to the end.
# The caller writes DIR/successor before it quits the source, and
# DIR/exit.<pid> once that QEMU has exited.
followed=''
while [ -n "$mdir" ] && [ "$qrc" != 124 ] && [ "$qrc" != 137 ] &&
	[ -s "$mdir/successor" ]; do
	next=$(cat "$mdir/successor")
	[ "$next" = "$followed" ] && break
	followed=$next
	while [ ! -e "$mdir/exit.$next" ]; do
		if [ "$SECONDS" -ge "$tmo" ]; then
			kill "$next" 2>/dev/null
			qrc=124
			break 2
		fi
		sleep 0.2
	done
	qrc=$(cat "$mdir/exit.$next")
done
set -e
tr -d '\r' <"$logf" >"$logf.tmp" && mv "$logf.tmp" "$logf"

if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
	log "guest timed out after ${tmo}s (console log: $logf)"
	exit 124
fi
rc=$(sed -n 's/^KESYNC-JOB-END rc=\([0-9]*\).*/\1/p' "$logf" | tail -n 1)
if [ -z "$rc" ]; then
	log "guest died before its job ended (QEMU exit $qrc; console log: $logf)"
	exit 125
fi
[ "$rc" = 0 ] || log "the job failed (rc=$rc); console log: $logf"
exit "$rc"

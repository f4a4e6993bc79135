#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make bench: kesync against QEMU's emulated NVMe controller (with the
# thread-pool backend and with aio=io_uring), side by side in one guest
# boot.  Results in build/bench/: results.json, bench.png, table.txt,
# results.log (what the guest sent on its second serial port), psi.log,
# console.log.  docs/benchmarks.md says what is measured.
#
# Usage: bench.sh [options]
#   --quick          two runs of each workload, one pump, MSI-X only, 5 hung
#                    transfers: checks the pipeline, not for figures
#   --runtime S      seconds per fio run (default 1)
#   --reps N         runs of each workload on each side (default 5)
#   --pumps "P..."   kesync pumps (default "startio thread")
#   --irqs "M..."    kesync interrupt modes (default "msix msi intx"; the
#                    modes but MSI-X run 4 KiB random and 1 MiB sequential
#                    reads only)
#   --nvme-only      skip kesync (no kesync.ko needed)
#   --kesync-only    skip nvme
#   --no-uring       no io_uring nvme (a QEMU built without io_uring)
#   --timeout S      limit for the guest run (default 1500)
#   --append S       more guest kernel command line
#   --initrd F       base initramfs (default build/initramfs-K.cpio.gz, K the
#                    guest kernel: $KESYNC_KERNEL, else kernel/targets' first)
#   --out DIR        results directory (default build/bench)
# Exit: 0 when the guest ran to its end and a report was written.
set -euo pipefail
# shellcheck source=scripts/common.sh
. "$(dirname "$0")/common.sh"

out=$KESYNC_BUILD/bench base='' tmo=1500 quick=0 append='' uring=1
settings=()
while [ $# -gt 0 ]; do
	case $1 in
	--quick) quick=1; shift ;;
	--runtime) settings+=("BENCH_RUNTIME=$2"); shift 2 ;;
	--reps) settings+=("BENCH_REPS=$2"); shift 2 ;;
	--pumps) settings+=("BENCH_PUMPS='$2'"); shift 2 ;;
	--irqs) settings+=("BENCH_IRQS='$2'"); shift 2 ;;
	--nvme-only) settings+=(BENCH_KESYNC=0); shift ;;
	--kesync-only) settings+=(BENCH_NVME=0 BENCH_URING=0); uring=0; shift ;;
	--no-uring) uring=0; shift ;;
	--timeout) tmo=$2; shift 2 ;;
	--append) append=$2; shift 2 ;;
	--initrd) base=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	-h|--help) sed -n '3,/^set -e/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown option $1 (see --help)" ;;
	esac
done
if [ "$quick" = 1 ]; then
	settings=(BENCH_REPS=2 BENCH_RUNTIME=1 "BENCH_PUMPS=startio" "BENCH_IRQS=msix"
		BENCH_TMO_N=5 BENCH_MMIO_N=200 BENCH_FLOOR_N=100 BENCH_STAGES_N=100 "${settings[@]}")
fi

units=4 size=64M
qemu=$KESYNC_BUILD/qemu-system-x86_64
kname=${KESYNC_KERNEL:-$(default_kernel)}
base=${base:-$KESYNC_BUILD/initramfs-$kname.cpio.gz}
kernel_env "$kname"
# shellcheck disable=SC2153 # set by kernel_env
kver=$KVER
# nvme.ko and its dependencies from the same Debian image
kmods=$("$KESYNC_ROOT/scripts/kernel.sh" modules "$kname")
[ -x "$qemu" ] || die "no QEMU at $qemu: run 'make qemu'"
[ -r "$base" ] || die "no initramfs at $base: run 'make initramfs'"
[ -r "$KESYNC_BUILD/extras.cpio.gz" ] || die "no build/extras.cpio.gz: run 'make guest'"
command -v gnuplot >/dev/null || die "gnuplot is missing (scripts/deps.sh installs gnuplot-nox)"
# The io_uring row needs a QEMU configured with it (scripts/qemu.sh does).
if [ "$uring" = 1 ] && ! grep -qs '^#define CONFIG_LINUX_IO_URING' \
	"$(cat "$KESYNC_BUILD/qemu-build" 2>/dev/null)/config-host.h"; then
	log "bench: this QEMU has no io_uring backend ('make qemu' builds one): no io_uring nvme row"
	uring=0
fi
[ "$uring" = 1 ] || settings+=(BENCH_URING=0)
t_start=$(date +%s)

work=$(mktemp -d /tmp/kesync-bench.XXXXXX)
shm=$(mktemp -d /dev/shm/kesync-bench.XXXXXX)
watcher=''
# shellcheck disable=SC2317 # called by the trap
cleanup() {
	[ -n "$watcher" ] && kill "$watcher" 2>/dev/null
	rm -rf "$work" "$shm"
}
trap cleanup EXIT
mkdir -p "$out"

# ---- the nvme side: the guest kernel's own nvme.ko and its dependencies ----
# modprobe resolves the dependencies and soft dependencies (crc-t10dif wants
# a crct10dif, crc64-rocksoft a crc64-rocksoft algorithm) in load order.
nv=$work/nvroot/kesync/bench/nvme
mkdir -p "$nv"
# (A kernel may have no module for one of the soft dependencies: 6.12 has
# none for crct10dif.)  The unpacked modules have no modules.dep (Debian's
# postinst makes it): depmod makes it once, in the cache (it writes its
# files under temporary names and renames them).
[ -s "$kmods/lib/modules/$kver/modules.dep" ] ||
	depmod -b "$kmods" "$kver" || die "depmod failed for $kver"
for m in crct10dif crypto-crc64-rocksoft nvme; do
	{ modprobe -d "$kmods" -S "$kver" --show-depends "$m" 2>/dev/null || true; } |
		awk '$1 == "insmod" { print $2 }'
done | awk '!seen[$0]++' >"$work/nvme-mods"
grep -q '/nvme\.ko' "$work/nvme-mods" ||
	die "modprobe cannot resolve nvme for $kver (is kmod installed?)"
while read -r ko; do
	name=$(basename "$ko")
	case $name in
	*.ko) cp "$ko" "$nv/$name" ;;
	*.ko.xz) xz -dc "$ko" >"$nv/${name%.xz}"; name=${name%.xz} ;;
	*.ko.zst) zstd -qdc "$ko" >"$nv/${name%.zst}"; name=${name%.zst} ;;
	*) continue ;;
	esac
	echo "${name%.ko}" >>"$nv/order"
done <"$work/nvme-mods"
(cd "$work/nvroot" && find . | LC_ALL=C sort |
	cpio -o -H newc --quiet --owner=0:0 --reproducible) | gzip -1 >"$work/nvme.cpio.gz"
cat "$base" "$work/nvme.cpio.gz" >"$work/initrd.cpio.gz"

# RAM-backed namespaces, one per kesync unit, on two controllers: one with
# QEMU's default thread-pool backend (aio=threads), one with aio=io_uring.
# tmpfs has no O_DIRECT, so the drives use the host page cache
# (cache=writeback): RAM either way (and aio=native, which needs O_DIRECT,
# is not possible).
# shellcheck disable=SC2054 # commas inside QEMU option values
nvme_args=(-device pcie-root-port,id=rp1,chassis=2,slot=2
	-device nvme,id=nvme0,bus=rp1,serial=kbench-tp)
if [ "$uring" = 1 ]; then
	# shellcheck disable=SC2054
	nvme_args+=(-device pcie-root-port,id=rp2,chassis=3,slot=3
		-device nvme,id=nvme1,bus=rp2,serial=kbench-ur)
fi
for i in $(seq 1 "$units"); do
	truncate -s "$size" "$shm/ns$i.img"
	nvme_args+=(-drive "if=none,id=nvm$i,file=$shm/ns$i.img,format=raw,cache=writeback,aio=threads"
		-device "nvme-ns,drive=nvm$i,bus=nvme0,nsid=$i")
	[ "$uring" = 1 ] || continue
	truncate -s "$size" "$shm/ur$i.img"
	nvme_args+=(-drive "if=none,id=unv$i,file=$shm/ur$i.img,format=raw,cache=writeback,aio=io_uring"
		-device "nvme-ns,drive=unv$i,bus=nvme1,nsid=$i")
done
# The results port: the guest's ttyS1, a file here.
# shellcheck disable=SC2054
nvme_args+=(-chardev "file,id=kbres,path=$work/results.log"
	-device isa-serial,chardev=kbres,index=1)

# The job: settings, then scripts/jobs/bench.sh.
{
	echo "BENCH_UNITS=$units BENCH_SIZE=$size"
	for s in "${settings[@]}"; do echo "$s"; done
	cat "$KESYNC_ROOT/scripts/jobs/bench.sh"
} >"$work/job.sh"

accel=$("$KESYNC_ROOT/scripts/accel.sh")
export KESYNC_ACCEL=$accel

rg=("$KESYNC_ROOT/scripts/run-guest.sh" --kernel "$kname" --quiet --extras --units "$units"
	--devopts "latency-ns=0,ns-per-byte=0,unit-size=$size"
	--job "$work/job.sh" --initrd "$work/initrd.cpio.gz"
	--qmp "$work/qmp.sock" --log "$work/console.log" --timeout "$tmo"
	--append "iomem=relaxed${append:+ $append}")
rg+=(--qemu-args "${nvme_args[*]}")

log "bench: guest with kesync-pci ($units units) and nvme ($units namespaces$([ "$uring" = 1 ] &&
	echo ", twice: thread pool and io_uring")), accel $accel"
touch "$work/console.log" "$work/results.log"
"${rg[@]}" &
rgpid=$!
python3 "$KESYNC_ROOT/scripts/bench-report.py" watch --log "$work/results.log" \
	--qmp "$work/qmp.sock" --trace-dir "$work" --psi "$work/psi.log" --pid "$rgpid" &
watcher=$!
set +e
wait "$rgpid"
rc=$?
wait "$watcher"
watcher=''
set -e
t_end=$(date +%s)

cp "$work/console.log" "$out/console.log"
cp "$work/results.log" "$out/results.log"
cp "$work/psi.log" "$out/psi.log" 2>/dev/null || : >"$out/psi.log"
rm -f "$out"/trace-*.count "$out"/trace-*.log.gz
for f in "$work"/trace-*.log; do
	[ -f "$f" ] || continue
	# Keep only the accesses to the two devices' BARs (the file also has
	# every other device's); the raw trace is large.
	grep -E "name '(nvme|msix-table|msix-pba|nvme-cmb|kesync-regs)'" "$f" |
		sed -E 's/^[0-9]+@[0-9.]+://' | gzip -1 >"$out/$(basename "$f").gz" || true
done
if [ "$rc" != 0 ]; then
	log "guest run failed (exit $rc); console log: $out/console.log"
	tail -n 40 "$out/console.log" >&2
fi
python3 "$KESYNC_ROOT/scripts/bench-report.py" report --dir "$out" \
	--accel "$accel" --qemu-version "$(cat "$KESYNC_BUILD/qemu-version" 2>/dev/null || echo unknown)" \
	--wall "$((t_end - t_start))" --guest-rc "$rc" --settings "${settings[*]:-}"
exit "$rc"

# SPDX-License-Identifier: GPL-2.0
# The 'make bench' guest job, run by /init.  scripts/bench.sh prepends the
# BENCH_* settings below and boots it with kesync-pci (latency-ns=0,
# ns-per-byte=0) and QEMU's NVMe controller with one namespace per kesync
# unit.  Everything it measures goes to the console between markers
# (KESYNC-BENCH ...) for scripts/bench-report.py; fio's JSON travels
# gzip'ed and base64-encoded with its md5sum.
# shellcheck shell=sh

: "${BENCH_RUNTIME:=1}"		# seconds per fio run (after the ramp)
: "${BENCH_RAMP:=500ms}"	# fio ramp_time
: "${BENCH_REPS:=3}"		# runs of each workload on each side
: "${BENCH_UNITS:=4}"		# kesync units = nvme namespaces
: "${BENCH_SIZE:=64M}"		# bytes per unit / namespace used by fio
: "${BENCH_SCALE:=2 4}"		# jobs (one per unit) beyond 1 for scaling
: "${BENCH_PUMPS:=startio thread}"
: "${BENCH_IRQS:=msix msi intx}"
: "${BENCH_MMIO_N:=1000}"	# I/Os per MMIO count (4 KiB; 1 MiB: / 8)
: "${BENCH_TMO_N:=20}"		# hung transfers for the timeout figures
: "${BENCH_TMO_PUMPS:=startio thread}"	# pumps the timeout figures are taken with
: "${BENCH_NVME:=1}"		# 0: skip the nvme side (kesync only)
: "${BENCH_KESYNC:=1}"		# 0: skip the kesync side (nvme only)

# /init sourced these, but the job runs in a shell of its own.
# shellcheck source=scripts/guest-lib.sh
. /etc/kesync/lib.sh
H=/kesync/bin/kesync_bench_timeout
say() { echo "KESYNC-BENCH $*"; }
bdf_of_class() {	# the first PCI function of a class
	for d in /sys/bus/pci/devices/*; do
		[ "$(cat "$d/class")" = "$1" ] && { basename "$d"; return 0; }
	done
	return 1
}

# Kernel messages would land in the middle of the base64 blocks.
dmesg -n 1

say INFO guest_kernel="$(uname -r)" vcpus="$(nproc)" \
	mem_kib="$(sed -n 's/^MemTotal: *\([0-9]*\).*/\1/p' /proc/meminfo)" \
	fio="$(fio --version 2>/dev/null)" \
	cpu="$(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1 | tr ' ' '_')"

# fio_group SIDE TEST REP NJOBS RW BS: the sections of one fio reporting
# group, named SIDE.TEST.REP.uN, one job per unit (namespace).
fio_group() {
	_i=0
	while [ "$_i" -lt "$4" ]; do
		if [ "$1" = nvme ]; then
			printf '[nvme.%s.%s.u%d]\nfilename=/dev/nvme0n%d\ndirect=1\n' \
				"$2" "$3" "$_i" $((_i + 1))
		else
			printf '[kesync.%s.%s.u%d]\nfilename=/dev/kesync%d\ndirect=0\n' \
				"$2" "$3" "$_i" "$_i"
		fi
		[ "$_i" = 0 ] && printf 'stonewall\nnew_group\n'
		printf 'rw=%s\nbs=%s\n' "$5" "$6"
		_i=$((_i + 1))
	done
}

# fio_suite TARGET SIDES: every workload of one configuration, in one fio
# run: BENCH_REPS short repetitions of each workload on each side (nvme,
# kesync), alternating which side goes first, so each ratio compares runs
# taken seconds apart (the host is shared and its load drifts) and a
# passing disturbance hits one repetition, not the figure (the report takes
# the median).
fio_suite() {
	_target=$1 _sides=$2
	_rsides=$(echo "$_sides" | awk '{ for (i = NF; i > 0; i--) printf "%s ", $i }')
	{
		cat <<EOF
[global]
ioengine=psync
size=$BENCH_SIZE
fadvise_hint=0
time_based=1
ramp_time=$BENCH_RAMP
runtime=$BENCH_RUNTIME
group_reporting=1
clat_percentiles=1
percentile_list=50:99
randrepeat=0
EOF
		for _w in "rr4k 1 randread 4k" "rw4k 1 randwrite 4k" "sr1m 1 read 1M" \
			"sw1m 1 write 1M" $(for _j in $BENCH_SCALE; do
				[ "$_j" -le "$BENCH_UNITS" ] && echo "rr4k-j$_j:$_j:randread:4k"
			done); do
			# shellcheck disable=SC2046 # split on purpose
			set -- $(echo "$_w" | tr : ' ')
			_r=1
			while [ "$_r" -le "$BENCH_REPS" ]; do
				_o=$_sides
				[ $((_r % 2)) = 0 ] && _o=$_rsides
				for _s in $_o; do
					fio_group "$_s" "$1" "$_r" "$2" "$3" "$4"
				done
				_r=$((_r + 1))
			done
		done
	} >/tmp/job.fio
	if timeout 600 fio --output-format=json --output=/tmp/fio.json /tmp/job.fio \
		>/tmp/fio.err 2>&1; then
		gzip -9c /tmp/fio.json >/tmp/fio.json.gz
		say FIO-BEGIN target="$_target" \
			md5="$(md5sum </tmp/fio.json.gz | cut -c1-32)"
		base64 /tmp/fio.json.gz
		say FIO-END
	else
		say FIO-FAILED target="$_target"
		sed 's/^/  fio: /' /tmp/fio.err | head -n 20
	fi
}

# mmio_suite TARGET DEV HELPER-OPTIONS...: MMIO accesses per I/O.
mmio_suite() {
	_t=$1 _dev=$2
	shift 2
	_n8=$((BENCH_MMIO_N / 8))
	[ "$_n8" -lt 1 ] && _n8=1
	for _w in "rr4k 4096 read $BENCH_MMIO_N" "rw4k 4096 write $BENCH_MMIO_N" \
		"sr1m 1048576 read $_n8" "sw1m 1048576 write $_n8"; do
		# shellcheck disable=SC2086 # split on purpose
		set -- $_w "$@"
		_test=$1 _bs=$2 _op=$3 _n=$4
		shift 4
		echo "KESYNC-BENCH MMIO-RUN target=$_t test=$_test $($H mmio "$_dev" \
			-n "$_n" -b "$_bs" -o "$_op" -S "$BENCH_SIZE_BYTES" "$@" |
			sed -n 's/^KESYNC-BENCH-MMIO //p')"
	done
}

# trace_sync ON|OFF NAME: ask the host to switch QEMU's MMIO trace and
# wait until it says it did (it injects an NMI).
nmis() { awk '/^ *NMI:/ { s = 0; for (i = 2; i <= NF; i++) if ($i ~ /^[0-9]+$/) s += $i; print s }' /proc/interrupts; }
trace_sync() {
	_n0=$(nmis)
	say "TRACE-$1" "$2"
	_w=0
	while [ "$(nmis)" = "$_n0" ]; do
		_w=$((_w + 1))
		if [ "$_w" -gt 600 ]; then
			say TRACE-SYNC-FAILED "$1" "$2"
			return 1
		fi
		sleep 0.1
	done
	return 0
}

BENCH_SIZE_BYTES=$(echo "$BENCH_SIZE" | awk '/[Kk]$/{print $0*1024;next} /[Mm]$/{print $0*1048576;next} /[Gg]$/{print $0*1073741824;next} {print $0+0}')

# ---- nvme: the production reference --------------------------------------
nvme_bdf=
nvme_up=0
if [ "$BENCH_NVME" = 1 ]; then
	while read -r m; do
		insmod "/kesync/bench/nvme/$m.ko" 2>/dev/null ||
			case $m in nvme|nvme-core) say NVME-INSMOD-FAILED "$m" ;; esac
	done </kesync/bench/nvme/order
	if kesync_wait_dev "/dev/nvme0n$BENCH_UNITS" 20; then
		nvme_up=1
		nvme_bdf=$(bdf_of_class 0x010802)
		say NVME bdf="$nvme_bdf" \
			bar0="$(head -n 1 "/sys/bus/pci/devices/$nvme_bdf/resource" | cut -d' ' -f1)" \
			queues="$(find /sys/block/nvme0n1/mq -mindepth 1 -maxdepth 1 | wc -l)" \
			irqs="$(grep -c nvme /proc/interrupts)" \
			max_hw_kb="$(cat /sys/block/nvme0n1/queue/max_hw_sectors_kb)"
		for i in $(seq 1 "$BENCH_UNITS"); do
			echo none >"/sys/block/nvme0n$i/queue/scheduler" 2>/dev/null
		done
	else
		say NVME-FAILED
		find /dev -name 'nvme*' | head
	fi
fi


nvme_mmio() {
	[ "$nvme_up" = 1 ] || return 0
	trace_sync ON nvme || return 0
	mmio_suite nvme/mmio /dev/nvme0n1 -d \
		--marker "/sys/bus/pci/devices/$nvme_bdf/resource0:8"
	trace_sync OFF nvme
}

nvme_mmio
# Without kesync, one nvme pass of its own.
if [ "$BENCH_KESYNC" != 1 ] && [ "$nvme_up" = 1 ]; then
	say CONFIG target=nvme
	fio_suite nvme nvme
fi

# ---- kesync: each pump, each interrupt mode ----------------------------
dump_debugfs() {
	for f in /sys/kernel/debug/kesync*/* /sys/kernel/debug/kesync*/*/*; do
		[ -f "$f" ] || continue
		say DEBUGFS-BEGIN target="$1" file="$f"
		head -n 200 "$f" 2>&1
		say DEBUGFS-END
	done
}

if [ "$BENCH_KESYNC" = 1 ]; then
	for pump in $BENCH_PUMPS; do
		for irq in $BENCH_IRQS; do
			t=kesync/$pump/$irq
			rmmod kesync 2>/dev/null
			# irqoff_stats: the debugfs irqoff figures it reports
			if ! kesync_load pump="$pump" irq_mode="$irq" \
				irqoff_stats=1; then
				say LOAD-FAILED target="$t"
				dmesg | tail -n 20
				continue
			fi
			kesync_wait_dev "/dev/kesync$((BENCH_UNITS - 1))" 10
			say CONFIG target="$t" irqs="$(grep -c kesync /proc/interrupts)"
			sides=kesync
			[ "$nvme_up" = 1 ] && sides="nvme kesync"
			fio_suite "$t" "$sides"
			mmio_suite "$t" /dev/kesync0 --hw
			dump_debugfs "$t"
			case " $BENCH_TMO_PUMPS " in
			*" $pump "*)
				if [ "$irq" = "$(echo "$BENCH_IRQS" | cut -d' ' -f1)" ]; then
					say TIMEOUT-BEGIN target="$t"
					$H timeout /dev/kesync1 -n "$BENCH_TMO_N" -T 1
					say TIMEOUT-END
				fi ;;
			esac
		done
	done
	rmmod kesync 2>/dev/null
fi

say DONE
exit 0

# SPDX-License-Identifier: GPL-2.0
# The 'make bench' guest job, run by /init.  scripts/bench.sh prepends the
# BENCH_* settings below and boots it with kesync-pci (latency-ns=0,
# ns-per-byte=0), QEMU's NVMe controller with the thread-pool backend
# (serial kbench-tp) and a second one with aio=io_uring (serial kbench-ur),
# one namespace per kesync unit each.  Everything it measures goes to the
# second serial port (/dev/ttyS1, a file on the host) as plain text between
# KESYNC-BENCH markers, for scripts/bench-report.py; docs/benchmarks.md says
# what is measured and why.
#
# One fio run = one process = one row of results: its latency, IOPS,
# context switches (/proc/stat ctxt) and interrupts (/proc/interrupts) are
# all taken around that one run.  The host records its own CPU pressure
# around each run (RUN-BEGIN / RUN-END).
# shellcheck shell=sh

: "${BENCH_RUNTIME:=1}"		# seconds per fio run (no ramp: see below)
: "${BENCH_REPS:=5}"		# runs of each workload on each side
: "${BENCH_UNITS:=4}"		# kesync units = namespaces per nvme controller
: "${BENCH_SIZE:=64M}"		# bytes per unit / namespace used by fio
: "${BENCH_SCALE:=4}"		# jobs (one per unit) beyond 1 for scaling
: "${BENCH_PUMPS:=startio thread}"
: "${BENCH_IRQS:=msix msi intx}"
: "${BENCH_FULL_IRQS:=msix}"	# interrupt modes that get every workload
: "${BENCH_LIGHT_TESTS:=rr4k sr1m}"	# workloads of the other modes
: "${BENCH_MMIO_N:=1000}"	# I/Os per MMIO count (4 KiB; 1 MiB: / 8)
: "${BENCH_FLOOR_N:=200}"	# 4 KiB reads of a floor run (1 MiB: / 20)
: "${BENCH_STAGES_N:=200}"	# 4 KiB reads of a stages run (1 MiB: / 20)
: "${BENCH_TMO_N:=20}"		# hung transfers for the timeout figures
: "${BENCH_TMO_PUMPS:=startio thread}"	# pumps the timeout figures are taken with
: "${BENCH_NVME:=1}"		# 0: skip the nvme side (kesync only)
: "${BENCH_URING:=1}"		# 0: no io_uring nvme (QEMU built without it)
: "${BENCH_KESYNC:=1}"		# 0: skip the kesync side (nvme only)

# /init sourced these, but the job runs in a shell of its own.
# shellcheck source=scripts/guest-lib.sh
. /etc/kesync/lib.sh
H=/kesync/bin/kesync_bench_timeout
TR=/sys/kernel/tracing
NCPU=$(nproc)

# The results port: opened and closed for every write, so that each write
# has left the guest (a tty's last close waits for its output to drain)
# before the next run starts.  Without a second port, the console.
R=/dev/ttyS1
if [ -c "$R" ] && stty -F "$R" 115200 raw -echo 2>/dev/null; then
	:
else
	R=/dev/console
fi
say() { echo "KESYNC-BENCH $*" >"$R"; }
bdf_of_class() {	# the first PCI function of a class
	for d in /sys/bus/pci/devices/*; do
		[ "$(cat "$d/class")" = "$1" ] && { basename "$d"; return 0; }
	done
	return 1
}

dmesg -n 1

say INFO guest_kernel="$(uname -r)" vcpus="$NCPU" \
	mem_kib="$(sed -n 's/^MemTotal: *\([0-9]*\).*/\1/p' /proc/meminfo)" \
	fio="$(fio --version 2>/dev/null)" port="$R" \
	cpu="$(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1 | tr ' ' '_')"

BENCH_SIZE_BYTES=$(echo "$BENCH_SIZE" | awk '/[Kk]$/{print $0*1024;next} /[Mm]$/{print $0*1048576;next} /[Gg]$/{print $0*1073741824;next} {print $0+0}')

# ---- interrupts and CPUs ----------------------------------------------

# irqs_of REGEX: the IRQ numbers whose /proc/interrupts name matches.
irqs_of() {
	awk -v re="$1" '$1 ~ /^[0-9]+:$/ && $NF ~ re { sub(":", "", $1); print $1 }' \
		/proc/interrupts
}
# irq_cpu IRQ: the first CPU of the IRQ's effective affinity.
irq_cpu() {
	sed 's/[-,].*//' "/proc/irq/$1/effective_affinity_list" 2>/dev/null || echo 0
}
# irq_sums: interrupts so far of the tp nvme, the io_uring nvme, kesync.
irq_sums() {
	awk -v tp="^${TP:-none}q[0-9]+\$" -v ur="^${UR:-none}q[0-9]+\$" '
		$1 ~ /^[0-9]+:$/ {
			s = 0
			for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) s += $i
			if ($NF ~ tp) a += s
			else if ($NF ~ ur) b += s
			else if ($NF ~ /^kesync-ctl/) c += s
		}
		END { printf "%d %d %d\n", a, b, c }' /proc/interrupts
}
ctxt() { awk '/^ctxt/ { print $2 }' /proc/stat; }
# other_cpu C: a CPU that is not C (C itself on one vCPU).
other_cpu() {
	[ "$NCPU" -gt 1 ] || { echo "$1"; return; }
	echo $(( ($1 + 1) % NCPU ))
}

# ---- one fio run --------------------------------------------------------

# side_file SIDE UNIT: the device a side's job number UNIT uses, and fio
# options.  Every side gets page-aligned buffers (iomem_align=4k) but
# kesync-ua, which keeps fio's default (malloc'ed, 16-byte aligned).
side_job() {
	_cpu=$3
	case $1 in
	nvme|nvme-other) printf 'filename=/dev/%sn%d\ndirect=1\niomem_align=4k\n' "$TPD" $(($2 + 1)) ;;
	nvme-b) printf 'filename=/dev/%sn%d\ndirect=1\niomem_align=4k\n' "$TPD" $(($2 + 2)) ;;
	uring) printf 'filename=/dev/%sn%d\ndirect=1\niomem_align=4k\n' "$URD" $(($2 + 1)) ;;
	kesync|kesync-other) printf 'filename=/dev/kesync%d\ndirect=0\niomem_align=4k\n' "$2" ;;
	kesync-ua) printf 'filename=/dev/kesync%d\ndirect=0\n' "$2" ;;
	esac
	printf 'cpus_allowed=%s\n' "$_cpu"
}

# job_cpu SIDE UNIT: where job UNIT of SIDE runs: on the CPU that takes
# kesync unit UNIT's interrupt (KCPU_<unit>), the same for every driver
# (nvme's per-CPU queues then complete there too); the -other sides on
# the other CPU.  Before kesync is loaded: CPU 0.
job_cpu() {
	_c=0
	eval "_c=\${KCPU_$2:-0}"
	case $1 in
	*-other) other_cpu "$_c" ;;
	*) echo "$_c" ;;
	esac
}

RUNS=0
# run_one BLOCK TEST REP SIDE NJOBS RW BS
run_one() {
	_id="$1|$2|$3|$4"
	{
		cat <<EOF
[global]
ioengine=psync
size=$BENCH_SIZE
fadvise_hint=0
time_based=1
runtime=$BENCH_RUNTIME
group_reporting=1
clat_percentiles=1
percentile_list=50:99
randrepeat=0
thread=1
disk_util=0
EOF
		_j=0
		while [ "$_j" -lt "$5" ]; do
			printf '[%s.u%d]\nrw=%s\nbs=%s\n' "$4" "$_j" "$6" "$7"
			side_job "$4" "$_j" "$(job_cpu "$4" "$_j")"
			_j=$((_j + 1))
		done
	} >/tmp/job.fio
	RUNS=$((RUNS + 1))
	say RUN-BEGIN "id=$_id"
	_i0=$(irq_sums)
	_c0=$(ctxt)
	timeout 120 fio --output-format=json --output="/tmp/runs/$RUNS.json" \
		/tmp/job.fio >/tmp/fio.err 2>&1
	_rc=$?
	_c1=$(ctxt)
	_i1=$(irq_sums)
	say RUN-END "id=$_id" n="$RUNS" rc="$_rc" ctx=$((_c1 - _c0)) \
		irqs="$(echo "$_i0 $_i1" | awk '{ printf "%d,%d,%d", $4 - $1, $5 - $2, $6 - $3 }')" \
		cpus="$(job_cpu "$4" 0)"
	if [ "$_rc" != 0 ]; then
		say FIO-FAILED "id=$_id" rc="$_rc"
		sed 's/^/  fio: /' /tmp/fio.err | head -n 20 >"$R"
	fi
	echo "$_id" >"/tmp/runs/$RUNS.id"
}

# flush_runs: send the fio JSON of the runs so far to the host, between
# runs of no interest (after a block).
flush_runs() {
	for _f in /tmp/runs/*.json; do
		[ -f "$_f" ] || continue
		_n=$(basename "$_f" .json)
		{
			echo "KESYNC-BENCH FIO-BEGIN n=$_n id=$(cat "/tmp/runs/$_n.id")"
			cat "$_f"
			echo "KESYNC-BENCH FIO-END n=$_n"
		} >"$R"
		rm -f "$_f" "/tmp/runs/$_n.id"
	done
}
mkdir -p /tmp/runs

# test_args TEST: jobs, fio rw, bs.
test_args() {
	case $1 in
	rr4k) echo "1 randread 4k" ;;
	rw4k) echo "1 randwrite 4k" ;;
	sr1m) echo "1 read 1M" ;;
	sw1m) echo "1 write 1M" ;;
	rr4k-j*) echo "${1#rr4k-j} randread 4k" ;;
	esac
}

# block NAME "TEST:SIDE,SIDE..." ...: BENCH_REPS runs of each test on each
# of its sides; the sides' order turns by one from one repetition to the
# next, so that each side runs in each position and neighbouring runs of
# two sides are seconds apart.
block() {
	_b=$1
	shift
	for _spec in "$@"; do
		_t=${_spec%%:*}
		_sides=$(echo "${_spec#*:}" | tr , ' ')
		# shellcheck disable=SC2046 # split on purpose
		set -- $(test_args "$_t")
		_nj=$1 _rw=$2 _bs=$3
		_r=1
		while [ "$_r" -le "$BENCH_REPS" ]; do
			# shellcheck disable=SC2086 # split on purpose
			_o=$(echo $_sides | awk -v k="$_r" '{
				for (i = 0; i < NF; i++) printf "%s ", $((i + k - 1) % NF + 1) }')
			for _s in $_o; do
				run_one "$_b" "$_t" "$_r" "$_s" "$_nj" "$_rw" "$_bs"
			done
			_r=$((_r + 1))
		done
	done
	flush_runs
}

# ---- the floor: device round trip + one interrupt (ftrace) -------------

# floor_run TARGET DEV DIRECT START-EVENT IRQ-REGEX BIG-BS BIG-N: with the
# I/O's start event (kesync_programmed, after the doorbell write; nvme's
# nvme_setup_cmd, just before it) and irq_handler_exit of the device's
# vectors traced, BENCH_FLOOR_N 4 KiB random reads, then BIG-N reads of
# BIG-BS, pinned like the timed runs.  The host pairs each start with the
# next handler exit: the device's round trip plus one interrupt.
floor_run() {
	_t=$1 _dev=$2 _dir=$3 _ev=$4 _re=$5 _bbs=$6 _bn=$7
	[ -d "$TR/events/irq" ] || { say FLOOR-FAILED target="$_t" why=no-tracefs; return; }
	_flt=$(irqs_of "$_re" | awk '{ printf "%sirq == %s", (NR > 1 ? " || " : ""), $1 }')
	[ -n "$_flt" ] || { say FLOOR-FAILED target="$_t" why=no-irq; return; }
	case $_ev in
	nvme_setup_cmd) _evd=$TR/events/nvme/$_ev ;;
	*) _evd=$TR/events/kesync/$_ev ;;
	esac
	[ -d "$_evd" ] || { say FLOOR-FAILED target="$_t" why="no-event-$_ev"; return; }
	echo 0 >"$TR/tracing_on"
	echo 4096 >"$TR/buffer_size_kb"
	echo >"$TR/trace"
	echo "$_flt" >"$TR/events/irq/irq_handler_exit/filter"
	echo 1 >"$TR/events/irq/irq_handler_exit/enable"
	[ "$_ev" = nvme_setup_cmd ] && echo 'qid != 0' >"$_evd/filter"
	echo 1 >"$_evd/enable"
	_cpu=$(job_cpu kesync 0)
	echo 1 >"$TR/tracing_on"
	for _w in "4k randread 4k $BENCH_FLOOR_N" "big read $_bbs $_bn"; do
		# shellcheck disable=SC2086 # split on purpose
		set -- $_w
		echo "KFLOOR $1" >"$TR/trace_marker"
		printf '[f]\nfilename=%s\ndirect=%s\niomem_align=4k\nioengine=psync\nrw=%s\nbs=%s\nsize=%s\nnumber_ios=%s\ncpus_allowed=%s\nrandrepeat=0\n' \
			"$_dev" "$_dir" "$2" "$3" "$BENCH_SIZE" "$4" "$_cpu" >/tmp/floor.fio
		fio --output=/dev/null /tmp/floor.fio >/dev/null 2>&1 ||
			say FLOOR-FIO-FAILED target="$_t" what="$1"
	done
	echo "KFLOOR end" >"$TR/trace_marker"
	echo 0 >"$TR/tracing_on"
	echo 0 >"$TR/events/irq/irq_handler_exit/enable"
	echo 0 >"$TR/events/irq/irq_handler_exit/filter"
	for _e in nvme/nvme_setup_cmd kesync/kesync_programmed; do
		[ -d "$TR/events/$_e" ] && echo 0 >"$TR/events/$_e/enable"
	done
	{
		echo "KESYNC-BENCH FLOOR-BEGIN target=$_t cpu=$_cpu big_bs=$_bbs"
		# "TIMESTAMP CPU EVENT: details", the details cut short
		sed -n 's/^.*\[\([0-9]*\)\] [^ ]* *\([0-9]*\.[0-9]*\): \([a-z_]*\): \(.\{0,60\}\).*$/\2 \1 \3 \4/p' \
			"$TR/trace"
		echo "KESYNC-BENCH FLOOR-END"
	} >"$R"
	echo >"$TR/trace"
}

# ---- where one I/O's time goes (ftrace, every hop traced) ---------------

# stages_run TARGET DEV DIRECT IRQ-REGEX EVENTS CPU: BENCH_STAGES_N 4 KiB
# random reads on CPU, then (kesync) BENCH_STAGES_N / 20 reads of 1 MiB,
# with every event of one I/O's path traced against the global clock:
# the read's entry and exit (raw_syscalls, pread64), the driver's events
# (EVENTS: kesync's, or nvme's setup and completion), the device's hard
# interrupts, the softirqs a DpcForIsr runs in (HI and TASKLET: the
# tasklet on 6.1, the BH workqueue after), and the scheduler's wake-ups
# and switches.  The host orders each read's events and times every hop
# (scripts/bench-report.py, stage_stats).  Tracing costs each event
# about a microsecond: the figures are a breakdown, not a latency.
stages_run() {
	_t=$1 _dev=$2 _dir=$3 _re=$4 _evs=$5 _cpu=$6
	[ -d "$TR/events/raw_syscalls" ] || { say STAGES-FAILED target="$_t" why=no-syscall-events; return; }
	_flt=$(irqs_of "$_re" | awk '{ printf "%sirq == %s", (NR > 1 ? " || " : ""), $1 }')
	[ -n "$_flt" ] || { say STAGES-FAILED target="$_t" why=no-irq; return; }
	echo 0 >"$TR/tracing_on"
	_clk=$(sed -n 's/.*\[\(.*\)\].*/\1/p' "$TR/trace_clock")
	echo global >"$TR/trace_clock"
	echo 8192 >"$TR/buffer_size_kb"
	echo >"$TR/trace"
	_on="irq/irq_handler_entry irq/irq_handler_exit irq/softirq_entry irq/softirq_exit"
	_on="$_on raw_syscalls/sys_enter raw_syscalls/sys_exit sched/sched_switch sched/sched_wakeup $_evs"
	for _e in irq/irq_handler_entry irq/irq_handler_exit; do
		echo "$_flt" >"$TR/events/$_e/filter"
	done
	for _e in irq/softirq_entry irq/softirq_exit; do
		echo 'vec == 0 || vec == 6' >"$TR/events/$_e/filter"
	done
	for _e in raw_syscalls/sys_enter raw_syscalls/sys_exit; do
		echo 'id == 17' >"$TR/events/$_e/filter"
	done
	for _e in $_on; do
		echo 1 >"$TR/events/$_e/enable" 2>/dev/null ||
			say STAGES-NO-EVENT target="$_t" event="$_e"
	done
	_ws="4k randread 4k $BENCH_STAGES_N"
	[ "$_dir" = 0 ] && _ws="$_ws|big read 1M $((BENCH_STAGES_N / 20))"
	echo 1 >"$TR/tracing_on"
	_ifs=$IFS
	IFS='|'
	for _w in $_ws; do
		IFS=$_ifs
		# shellcheck disable=SC2086 # split on purpose
		set -- $_w
		echo "KSTAGES $1" >"$TR/trace_marker"
		printf '[s]\nfilename=%s\ndirect=%s\niomem_align=4k\nioengine=psync\nrw=%s\nbs=%s\nsize=%s\nnumber_ios=%s\ncpus_allowed=%s\nrandrepeat=0\n' \
			"$_dev" "$_dir" "$2" "$3" "$BENCH_SIZE" "$4" "$_cpu" >/tmp/stages.fio
		fio --output=/dev/null /tmp/stages.fio >/dev/null 2>&1 ||
			say STAGES-FIO-FAILED target="$_t" what="$1"
	done
	IFS=$_ifs
	echo "KSTAGES end" >"$TR/trace_marker"
	echo 0 >"$TR/tracing_on"
	for _e in $_on; do
		echo 0 >"$TR/events/$_e/enable" 2>/dev/null
		echo 0 >"$TR/events/$_e/filter" 2>/dev/null
	done
	{
		echo "KESYNC-BENCH STAGES-BEGIN target=$_t cpu=$_cpu"
		# "TIMESTAMP CPU TASK EVENT: details"
		sed -n 's/^ *\(.*\)-[0-9]* *\[\([0-9]*\)\] [^ ]* *\([0-9]*\.[0-9]*\): \([a-z_]*\): \(.\{0,160\}\).*$/\3 \2 \1 \4 \5/p' \
			"$TR/trace"
		echo "KESYNC-BENCH STAGES-END"
	} >"$R"
	echo >"$TR/trace"
	echo "${_clk:-local}" >"$TR/trace_clock"
}

# ---- MMIO accesses per I/O (QEMU's trace events, host side) -------------

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

# mmio_suite TARGET DEV BDF MARKER-OFFSET HELPER-OPTIONS...: N I/Os of each
# workload by the helper, between two reads of a marker register of the
# device's BAR 0, with QEMU's memory_region_ops_read/write traced; the host
# counts the device's accesses between the markers.  Interrupts come from
# /proc/interrupts around the same run.
mmio_suite() {
	_t=$1 _dev=$2 _bdf=$3 _moff=$4
	shift 4
	_n8=$((BENCH_MMIO_N / 8))
	[ "$_n8" -lt 1 ] && _n8=1
	_tn=$(echo "$_t" | tr / -)
	trace_sync ON "$_tn" || return 0
	for _w in "rr4k 4096 read $BENCH_MMIO_N" "rw4k 4096 write $BENCH_MMIO_N" \
		"sr1m 1048576 read $_n8" "sw1m 1048576 write $_n8"; do
		# shellcheck disable=SC2086 # split on purpose
		set -- $_w "$@"
		_test=$1 _bs=$2 _op=$3 _n=$4
		shift 4
		_i0=$(irq_sums)
		_o=$(taskset -c "$(job_cpu kesync 0)" $H mmio "$_dev" -n "$_n" -b "$_bs" \
			-o "$_op" -S "$BENCH_SIZE_BYTES" \
			--marker "/sys/bus/pci/devices/$_bdf/resource0:$_moff" "$@" |
			sed -n 's/^KESYNC-BENCH-MMIO //p')
		_i1=$(irq_sums)
		# shellcheck disable=SC2086 # key=value words
		say MMIO-RUN target="$_t" trace="$_tn" test="$_test" $_o \
			irqs="$(echo "$_i0 $_i1" | awk '{ printf "%d,%d,%d", $4 - $1, $5 - $2, $6 - $3 }')"
	done
	trace_sync OFF "$_tn"
}

# ---- nvme: the production reference, two backends ----------------------
# nvme_disks: TPD and URD, the disk name prefixes of the two controllers'
# namespaces (nvmeXnY: X is the subsystem's instance, which need not be
# the controller's), found by the subsystem's serial.
nvme_disks() {
	for d in /sys/block/nvme*n1; do
		[ -e "$d" ] || continue
		s=$(cat "$d/device/serial" 2>/dev/null || cat "$d/device/device/serial" 2>/dev/null)
		b=$(basename "$d")
		case $s in
		kbench-tp*) TPD=${b%n1} ;;
		kbench-ur*) URD=${b%n1} ;;
		esac
	done
}
TP='' UR='' TPD='' URD=''
if [ "$BENCH_NVME" = 1 ]; then
	while read -r m; do
		insmod "/kesync/bench/nvme/$m.ko" 2>/dev/null ||
			case $m in nvme|nvme-core) say NVME-INSMOD-FAILED "$m" ;; esac
	done </kesync/bench/nvme/order
	_w=0
	while [ "$_w" -lt 200 ]; do
		TP='' UR='' TPD='' URD=''
		for c in /sys/class/nvme/nvme*; do
			[ -e "$c/serial" ] || continue
			case $(cat "$c/serial") in
			kbench-tp*) TP=$(basename "$c") ;;
			kbench-ur*) UR=$(basename "$c") ;;
			esac
		done
		nvme_disks
		if [ -n "$TPD" ] && [ -b "/dev/${TPD}n$BENCH_UNITS" ] &&
			{ [ "$BENCH_URING" != 1 ] || { [ -n "$URD" ] && [ -b "/dev/${URD}n$BENCH_UNITS" ]; }; }; then
			break
		fi
		_w=$((_w + 1))
		sleep 0.1
	done
	if [ -n "$TP" ] && [ -n "$TPD" ] && [ -b "/dev/${TPD}n$BENCH_UNITS" ]; then
		for c in $TP $UR; do
			bdf=$(basename "$(readlink -f "/sys/class/nvme/$c/device")")
			dk=$TPD
			[ "$c" = "$UR" ] && dk=$URD
			say NVME ctrl="$c" disks="$dk" bdf="$bdf" \
				serial="$(tr -d ' ' <"/sys/class/nvme/$c/serial")" \
				bar0="$(head -n 1 "/sys/bus/pci/devices/$bdf/resource" | cut -d' ' -f1)" \
				queues="$(find "/sys/block/${dk}n1/mq" -mindepth 1 -maxdepth 1 | wc -l)" \
				irqs="$(irqs_of "^${c}q[0-9]+\$" | wc -l)" \
				max_hw_kb="$(cat "/sys/block/${dk}n1/queue/max_hw_sectors_kb")"
			for i in $(seq 1 "$BENCH_UNITS"); do
				echo none >"/sys/block/${dk}n$i/queue/scheduler" 2>/dev/null
			done
			for q in $(irqs_of "^${c}q[0-9]+\$"); do
				say IRQ ctrl="$c" irq="$q" cpu="$(irq_cpu "$q")"
			done
		done
		[ -n "$UR" ] && [ -n "$URD" ] || BENCH_URING=0
	else
		say NVME-FAILED
		TP='' UR='' TPD='' URD=''
		BENCH_NVME=0 BENCH_URING=0
		find /dev -name 'nvme*' | head >"$R"
	fi
fi

nvme_sides() {	# the nvme sides a block compares against
	[ "$BENCH_NVME" = 1 ] && printf 'nvme,'
	[ "$BENCH_URING" = 1 ] && printf 'uring,'
}

if [ "$BENCH_NVME" = 1 ]; then
	floor_run nvme "/dev/${TPD}n1" 1 nvme_setup_cmd "^${TP}q[1-9][0-9]*\$" 64k $((BENCH_FLOOR_N / 2))
	stages_run nvme "/dev/${TPD}n1" 1 "^${TP}q[1-9][0-9]*\$" \
		"nvme/nvme_setup_cmd nvme/nvme_complete_rq" "$(job_cpu nvme 0)"
	[ "$BENCH_URING" = 1 ] &&
		floor_run uring "/dev/${URD}n1" 1 nvme_setup_cmd "^${UR}q[1-9][0-9]*\$" 64k $((BENCH_FLOOR_N / 2))
	for c in $TP $UR; do
		t=nvme dk=$TPD
		[ "$c" = "$UR" ] && t=uring dk=$URD
		[ "$t" = uring ] && [ "$BENCH_URING" != 1 ] && continue
		bdf=$(basename "$(readlink -f "/sys/class/nvme/$c/device")")
		# VS (BAR0 + 8): read by nobody else once the controller is up
		mmio_suite "$t" "/dev/${dk}n1" "$bdf" 8 -d
	done
fi
# Without kesync, the nvme sides against each other.
if [ "$BENCH_KESYNC" != 1 ] && [ "$BENCH_NVME" = 1 ]; then
	ns=$(nvme_sides)nvme-b
	block nvme "rr4k:$ns" "rw4k:$ns" "sr1m:$ns" "sw1m:$ns"
fi

# ---- kesync: each pump, each interrupt mode ----------------------------
dump_debugfs() {
	for f in /sys/kernel/debug/kesync*/* /sys/kernel/debug/kesync*/*/*; do
		[ -f "$f" ] || continue
		{
			echo "KESYNC-BENCH DEBUGFS-BEGIN target=$1 file=$f"
			head -n 200 "$f" 2>&1
			echo "KESYNC-BENCH DEBUGFS-END"
		} >"$R"
	done
}

first=1
if [ "$BENCH_KESYNC" = 1 ]; then
	for pump in $BENCH_PUMPS; do
		for irq in $BENCH_IRQS; do
			t=kesync/$pump/$irq
			rmmod kesync 2>/dev/null
			# irqoff_stats: the debugfs irqoff figures it reports
			if ! kesync_load pump="$pump" irq_mode="$irq" \
				irqoff_stats=1; then
				say LOAD-FAILED target="$t"
				dmesg | tail -n 20 >"$R"
				continue
			fi
			kesync_wait_dev "/dev/kesync$((BENCH_UNITS - 1))" 10
			kbdf=$(bdf_of_class 0x088000)
			# The CPU that takes each unit's interrupt (one vector
			# for all units but with MSI-X).
			u=0
			while [ "$u" -lt "$BENCH_UNITS" ]; do
				q=$(irqs_of "^kesync-ctl[0-9]+-u$u\$" | head -n 1)
				[ -n "$q" ] || q=$(irqs_of '^kesync-ctl[0-9]+$' | head -n 1)
				c=$(irq_cpu "$q")
				eval "KCPU_$u=$c"
				say IRQ ctrl=kesync target="$t" unit="$u" irq="$q" cpu="$c"
				u=$((u + 1))
			done
			say CONFIG target="$t" bdf="$kbdf" \
				bar0="$(head -n 1 "/sys/bus/pci/devices/$kbdf/resource" | cut -d' ' -f1)" \
				cpu="$KCPU_0" other="$(other_cpu "$KCPU_0")" \
				irqs="$(grep -c kesync /proc/interrupts)"
			# ns: the nvme sides of the full set; n1: of the
			# scaling runs and the other interrupt modes
			ns=$(nvme_sides) n1=''
			[ "$BENCH_NVME" = 1 ] && n1=nvme,
			case " $BENCH_FULL_IRQS " in
			*" $irq "*)
				ks=kesync
				[ "$BENCH_NVME" = 1 ] && ks="kesync,nvme-other,kesync-other"
				ex='' ua=''
				if [ "$first" = 1 ]; then
					[ "$BENCH_NVME" = 1 ] && ex=nvme-b,
					ua=,kesync-ua
				fi
				specs="rr4k:$ns$ex$ks$ua rw4k:$ns${ex}kesync sr1m:$ns${ex}kesync$ua sw1m:$ns${ex}kesync"
				for j in $BENCH_SCALE; do
					[ "$j" -le "$BENCH_UNITS" ] &&
						specs="$specs rr4k-j$j:${n1}kesync"
				done
				first=0 ;;
			*)
				specs=
				for w in $BENCH_LIGHT_TESTS; do
					specs="$specs $w:${n1}kesync"
				done ;;
			esac
			# shellcheck disable=SC2086 # split on purpose
			block "$t" $specs
			floor_run "$t" /dev/kesync0 0 kesync_programmed \
				'^kesync-ctl[0-9]+(-u[0-9]+)?$' 1M $((BENCH_FLOOR_N / 20))
			stages_run "$t" /dev/kesync0 0 '^kesync-ctl[0-9]+(-u[0-9]+)?$' \
				kesync "$(job_cpu kesync 0)"
			case " $BENCH_FULL_IRQS " in
			*" $irq "*)
				stages_run "$t/other" /dev/kesync0 0 \
					'^kesync-ctl[0-9]+(-u[0-9]+)?$' kesync \
					"$(job_cpu kesync-other 0)" ;;
			esac
			mmio_suite "$t" /dev/kesync0 "$kbdf" 0
			dump_debugfs "$t"
			case " $BENCH_TMO_PUMPS " in
			*" $pump "*)
				if [ "$irq" = "$(echo "$BENCH_IRQS" | cut -d' ' -f1)" ]; then
					{
						echo "KESYNC-BENCH TIMEOUT-BEGIN target=$t"
						$H timeout /dev/kesync1 -n "$BENCH_TMO_N" -T 1
						echo "KESYNC-BENCH TIMEOUT-END"
					} >"$R" 2>&1
				fi ;;
			esac
		done
	done
	rmmod kesync 2>/dev/null
fi

say DONE runs="$RUNS"
exit 0

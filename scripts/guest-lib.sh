# SPDX-License-Identifier: GPL-2.0
# Helpers for guest jobs, sourced by /init before the job runs.
# shellcheck shell=sh

# kesync_load [PARAMS...]: insmod kesync.ko with the boot's parameters and
# wait (bounded) for /dev/kesync0.
# shellcheck disable=SC2120 # PARAMS are optional
kesync_load() {
	# shellcheck disable=SC2086 # KESYNC_MODPARAMS is a list of words
	insmod /kesync/modules/kesync.ko ${KESYNC_MODPARAMS:-} "$@" || return 1
	kesync_wait_dev /dev/kesync0 10
}

# kesync_wait_dev PATH SECONDS: wait for a device node to appear.
kesync_wait_dev() {
	_n=0
	while [ ! -e "$1" ]; do
		_n=$((_n + 1))
		[ "$_n" -gt $(($2 * 10)) ] && return 1
		sleep 0.1
	done
	return 0
}

# kesync_job_setup: make the kernel report what the runner looks for
# early: a task blocked for 20 s is reported (INFO: task ... blocked), as
# are warnings of the lock and memory debugging a debug kernel has.
kesync_job_setup() {
	echo 20 >/proc/sys/kernel/hung_task_timeout_secs 2>/dev/null
	echo 1 >/proc/sys/kernel/hung_task_all_cpu_backtrace 2>/dev/null
	# Print the boot's parameters once, for the log.
	echo "# kesync job: units=${KESYNC_UNITS:-?} irq=${KESYNC_IRQ:-?}" \
		"pump=${KESYNC_PUMP:-?} iommu=${KESYNC_IOMMU:-0}" \
		"seed=${KESYNC_SEED:-?} params='${KESYNC_MODPARAMS:-}'"
	return 0
}

# kesync_test NAME CMD...: run one test program with a bounded time,
# between markers the host runner parses ("KESYNC-TEST-BEGIN NAME T0",
# "KESYNC-TEST-END NAME rc=RC T1", T the guest's uptime: the runner shows
# a failure with the kernel log lines of that window).  Its TAP goes to
# the console.
# The time limit is timeout= of /kesync/bin/NAME.settings (kselftest's
# convention), else KESYNC_TEST_TIMEOUT, else 120 s, times
# KESYNC_TIMEOUT_SCALE ('make coverage': its gcov kernel is slower than
# the budgets are made for).  A program that left the module unloaded, or
# loaded with its device unbound (a failed lifetime test), does not take
# the rest down: the module is loaded again first (after a device removal,
# the last program of its boot, that finds no device and says so).
kesync_test() {
	_name=$1
	shift
	_to=${KESYNC_TEST_TIMEOUT:-120}
	if [ -f "/kesync/bin/$_name.settings" ]; then
		_t=$(sed -n 's/^timeout=//p' "/kesync/bin/$_name.settings")
		[ -n "$_t" ] && _to=$_t
	fi
	_to=$((_to * ${KESYNC_TIMEOUT_SCALE:-1}))
	if [ ! -d /sys/module/kesync ]; then
		echo "# kesync.ko was not loaded: loading it again"
		# shellcheck disable=SC2119 # the boot's parameters only
		kesync_load
	elif [ ! -e /dev/kesync0 ]; then
		# Loaded, but the device is not bound (a lifetime test killed
		# between an unbind and its bind): start from a fresh load.
		echo "# /dev/kesync0 is missing: loading kesync.ko again"
		rmmod kesync || echo "# rmmod kesync failed"
		# shellcheck disable=SC2119 # the boot's parameters only
		kesync_load
	fi
	_t0=$(cut -d' ' -f1 /proc/uptime)
	echo "KESYNC-TEST-BEGIN $_name $_t0"
	timeout -s KILL "$_to" "$@"
	_rc=$?
	_t1=$(cut -d' ' -f1 /proc/uptime)
	echo "# $_name: rc=$_rc, $(echo "$_t0 $_t1" | awk '{printf "%.1f", $2 - $1}') s"
	echo "KESYNC-TEST-END $_name rc=$_rc $_t1"
	kesync_irqoff_dump
	return 0
}

# kesync_irqoff_dump: the driver's interrupts-off figures so far (debugfs
# irqoff, cumulative since the device was probed): the probe's time, then
# one line per routine, each as "KESYNC-IRQOFF <pci address> " and
# "# since <ns> (probe)" or "<routine> <count> <mean> <max> <histogram>".
# The runner prints them as figures; nothing passes or fails on them.
kesync_irqoff_dump() {
	for _f in /sys/kernel/debug/kesync/*/irqoff; do
		[ -r "$_f" ] || continue
		_d=${_f%/irqoff}
		awk '/^# since /{print; next} /^#/||/^routine /{next} {print}' \
			"$_f" 2>/dev/null | sed "s|^|KESYNC-IRQOFF ${_d##*/} |"
	done
	return 0
}

# kesync_job_end: the state the tests left, for the log.
kesync_job_end() {
	for _d in /sys/class/kesync/kesync*; do
		[ -d "$_d/stats" ] || continue
		echo "# $(basename "$_d") stats: $(cd "$_d/stats" &&
			for _f in *; do printf '%s=%s ' "$_f" "$(cat "$_f")"; done)"
	done
	return 0
}

# kesync_gcov_dump: on a kernel built with CONFIG_GCOV_KERNEL (the debug
# kernel), kesync's coverage counters (module/Kbuild: GCOV_PROFILE), kept
# across rmmod by gcov_persist, for 'make coverage': a gzipped tar of the
# .gcda files, base64, one "KESYNC-GCOV <line>" per line, then its length
# and checksum so that the host can tell a complete copy.  debugfs reports
# no file size, so each file is copied with cat first.  The console's log
# level is lowered meanwhile: a kernel message must not split a line.
kesync_gcov_dump() {
	_gd=$(find /sys/kernel/debug/gcov -type d -path '*/drivers/misc/kesync' \
		2>/dev/null | head -n 1)
	[ -n "$_gd" ] || return 0
	rm -rf /tmp/kesync-gcov
	mkdir -p /tmp/kesync-gcov
	for _f in "$_gd"/*.gcda; do
		[ -e "$_f" ] || continue
		cat "$_f" >"/tmp/kesync-gcov/${_f##*/}"
	done
	tar -C /tmp/kesync-gcov -czf /tmp/kesync-gcov.tgz .
	_lvl=$(cut -f1 /proc/sys/kernel/printk)
	echo 1 >/proc/sys/kernel/printk
	base64 /tmp/kesync-gcov.tgz | sed 's/^/KESYNC-GCOV /'
	echo "KESYNC-GCOV-END $(wc -c </tmp/kesync-gcov.tgz)" \
		"$(md5sum </tmp/kesync-gcov.tgz | cut -d' ' -f1)"
	echo "$_lvl" >/proc/sys/kernel/printk
	rm -rf /tmp/kesync-gcov /tmp/kesync-gcov.tgz
	return 0
}

# SPDX-License-Identifier: GPL-2.0
# Helpers for guest jobs, sourced by /init before the job runs.
# shellcheck shell=sh

# kesync_load [PARAMS...]: insmod kesync.ko with the boot's parameters and
# wait (bounded) for /dev/kesync0.
kesync_load() {
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

# kesync_test NAME CMD...: run one test program with a bounded time,
# between markers the host runner parses.  Its TAP goes to the console.
kesync_test() {
	_name=$1
	shift
	_to=${KESYNC_TEST_TIMEOUT:-120}
	[ -f "/kesync/bin/$_name.settings" ] &&
		_to=$(sed -n 's/^timeout=//p' "/kesync/bin/$_name.settings")
	echo "KESYNC-TEST-BEGIN $_name"
	timeout -s KILL "$_to" "$@"
	_rc=$?
	echo "KESYNC-TEST-END $_name rc=$_rc"
	return 0
}

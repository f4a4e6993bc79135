#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# kesync_stress: stress-ng's device stressor on the kesync units for a
# bounded time (open, read, seek, ioctl, poll, mmap attempts from several
# workers), with --klog-check: stress-ng fails if the kernel logs an error
# meanwhile.  Needs stress-ng in the guest (tests/matrix: --extras).
# Prints TAP 13.
# shellcheck shell=sh

echo "TAP version 13"
if ! command -v stress-ng >/dev/null 2>&1; then
	echo "1..0 # SKIP stress-ng is not in this guest (boot with --extras)"
	exit 4
fi
seed=${KESYNC_SEED:-1}
echo "1..2"
fails=0
n=0
units=0
while [ -e "/dev/kesync$units" ]; do units=$((units + 1)); done
for dev in /dev/kesync0 "/dev/kesync$((units - 1))"; do
	n=$((n + 1))
	stress-ng --dev 2 --dev-file "$dev" --klog-check --timeout 8s \
		--metrics-brief --seed "$seed" --temp-path /tmp \
		>/tmp/stress.out 2>&1
	rc=$?
	sed 's/^/# /' /tmp/stress.out | tail -n 30
	if [ "$rc" -eq 0 ]; then
		echo "ok $n stress-ng --dev 2 --dev-file $dev --klog-check, 8 s"
	else
		echo "not ok $n stress-ng --dev 2 --dev-file $dev --klog-check, 8 s (exit $rc)"
		fails=$((fails + 1))
	fi
done
[ "$fails" -eq 0 ]

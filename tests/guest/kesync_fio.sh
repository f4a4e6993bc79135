#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# kesync_fio: fio, a real client, against every unit at once: the psync
# engine (pread/pwrite), sizes given explicitly (a char device has none),
# random block sizes, crc32c verification with verify_fatal=1; then the same
# while kesync_inject arms the faults the driver must absorb (short
# transfers, spurious and lost interrupts, late completions).  Zero verify
# errors.  Needs fio in the guest (tests/matrix: --extras).  Prints TAP 13.
# shellcheck shell=sh

echo "TAP version 13"
if ! command -v fio >/dev/null 2>&1; then
	echo "1..0 # SKIP fio is not in this guest (boot with --extras)"
	exit 4
fi
seed=${KESYNC_SEED:-1}
units=0
while [ -e "/dev/kesync$units" ]; do units=$((units + 1)); done
echo "# seed $seed, $units units"
echo "1..3"
n=0
fails=0

# jobfile RW SIZE: one job per unit, all running at once.  No offset=: fio
# takes a char device's size to be size=, and would count what lies past
# offset + size as beyond the end (its I/O and verify go astray).
jobfile() {
	printf '[global]\nioengine=psync\nsize=%s\nbsrange=512-128k\n' "$2"
	printf 'verify=crc32c\nverify_fatal=1\ndo_verify=1\nrandseed=%s\n' "$seed"
	printf 'rw=%s\n' "$1"
	u=0
	while [ "$u" -lt "$units" ]; do
		printf '[unit%s]\nfilename=/dev/kesync%s\n' "$u" "$u"
		u=$((u + 1))
	done
}

# run_fio NAME RW SIZE
run_fio() {
	jobfile "$2" "$3" >"/tmp/$1.fio"
	fio --output="/tmp/$1.out" "/tmp/$1.fio" >/dev/null 2>"/tmp/$1.err"
	rc=$?
	# Every job ends with "err= 0"; any verify complaint fails.
	if [ "$rc" -eq 0 ] && ! grep -q 'err= *[1-9]' "/tmp/$1.out" &&
		! grep -qi 'verify.*\(fail\|bad\)' "/tmp/$1.out" "/tmp/$1.err" &&
		[ "$(grep -c 'err= 0' "/tmp/$1.out")" -eq "$units" ]; then
		return 0
	fi
	sed 's/^/# /' "/tmp/$1.out" "/tmp/$1.err" | tail -n 60
	echo "# fio exit code $rc"
	return 1
}

ok() {
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $n $2"
	else
		echo "not ok $n $2"
		fails=$((fails + 1))
	fi
}

run_fio randwrite randwrite 8m
ok $? "fio randwrite + crc32c verify on all units"

run_fio randrw randrw 8m
ok $? "fio randrw + crc32c verify on all units"

kesync_inject 600 >/tmp/inject.out 2>&1 &
inj=$!
run_fio faults randrw 4m
r=$?
kill -TERM "$inj" 2>/dev/null	# it reports and restores the timeouts
wait "$inj"
ri=$?
sed 's/^\([^#]\)/# \1/' /tmp/inject.out
[ "$ri" -eq 0 ] || echo "# the driver did not absorb every kind of fault (kesync_inject exit $ri)"
[ "$r" -eq 0 ] && [ "$ri" -eq 0 ]
ok $? "fio randrw + crc32c verify while faults are injected"

[ "$fails" -eq 0 ]

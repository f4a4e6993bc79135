#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# kesync_trace: the driver's trace events (module/kesync_trace.h) fire
# where docs/driver-design.md says, with the fields it names:
# - every event is in tracefs;
# - a 1 MiB write and read back of unit 0 (kesyncctl verify): queued,
#   started, programmed, partial (more than one transfer window), irq,
#   dpc and completed, each naming kesync0, the completions with
#   result=1048576;
# - a hung transfer with a 1 s timeout: kesync_timeout "timed out", then
#   the controller reset (kesync_reset, err=0);
# - a lost interrupt: kesync_timeout "lost interrupt recovered";
# - a spurious interrupt (the device's SPURIOUS fault): kesync_irq
#   "spurious";
# - a read ended by a fatal signal: kesync_cancelled;
# - with the ring buffer off, nothing is recorded and the I/O, a timeout
#   and its reset go on as without;
# - a disable_event trigger on kesync_started soft-disables
#   kesync_completed.
# Every wait is bounded.  Prints TAP 13.
# shellcheck shell=sh

tr=/sys/kernel/tracing
ev=$tr/events/kesync
dev=/dev/kesync0
tmp=$(mktemp -d /tmp/kesync_trace.XXXXXX) || exit 1
tmo0=
cleanup() {
	echo '!disable_event:kesync:kesync_completed' \
		>"$ev/kesync_started/trigger" 2>/dev/null
	echo 0 >"$ev/enable" 2>/dev/null
	[ -n "$tmo0" ] && kesyncctl -d "$dev" timeout "$tmo0" >/dev/null 2>&1
	kesyncctl -d "$dev" clear >/dev/null 2>&1
	rm -rf "$tmp"
}
trap cleanup EXIT

echo "TAP version 13"
if [ ! -d "$ev" ]; then
	echo "1..0 # SKIP no kesync trace events (tracefs or CONFIG_EVENT_TRACING missing)"
	exit 4
fi
events="queued started cancelled completed programmed partial irq dpc timeout reset"
n=0
fails=0
echo "1..$(($(echo "$events" | wc -w) + 8))"

# ok STATUS DESCRIPTION [DIAGNOSTIC]
ok() {
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		[ -n "${3:-}" ] && echo "# $3"
		fails=$((fails + 1))
	fi
}

# start: an empty trace buffer with every kesync event on.
start() {
	echo 0 >"$tr/tracing_on"
	: >"$tr/trace"
	echo 1 >"$ev/enable"
	echo 1 >"$tr/tracing_on"
}

# seen PATTERN SECONDS: wait, bounded, for a trace line matching PATTERN.
seen() {
	_i=0
	while [ "$_i" -lt $(($2 * 10)) ]; do
		grep -q "$1" "$tr/trace" && return 0
		sleep 0.1
		_i=$((_i + 1))
	done
	return 1
}

# has NAME PATTERN: the captured trace has a NAME event matching PATTERN.
has() {
	grep "kesync_$1: " "$tmp/trace" | grep -q "$2"
}

for e in $events; do
	[ -d "$ev/kesync_$e" ]
	ok $? "event kesync_$e is in tracefs"
done

tmo0=$(kesyncctl -d "$dev" timeout | sed -n '1s/[^0-9]*\([0-9][0-9]*\).*/\1/p')
if [ -z "$tmo0" ]; then
	echo "Bail out! cannot read the unit's timeout (kesyncctl timeout)"
	exit 1
fi
kesyncctl -d "$dev" clear >/dev/null

# A 1 MiB round trip: more than one transfer window, so partials too.
start
kesyncctl -d "$dev" verify 1M >"$tmp/out" 2>&1
rc=$?
cp "$tr/trace" "$tmp/trace"
miss=
for e in queued started programmed partial irq dpc completed; do
	has "$e" "kesync0 " || miss="$miss $e"
done
[ "$rc" -eq 0 ] && [ -z "$miss" ] &&
	[ "$(grep -c 'kesync_completed: kesync0 .*result=1048576' "$tmp/trace")" -ge 2 ]
ok $? "a 1 MiB write and read: every I/O event of kesync0" \
	"verify rc=$rc, missing:${miss:- none}; completions: $(grep 'kesync_completed' "$tmp/trace" | head -n 4)"

# A hung transfer times out, and the controller is reset.
kesyncctl -d "$dev" timeout 1 >/dev/null
start
kesyncctl -d "$dev" fault hang 1 >/dev/null
dd if="$dev" of=/dev/null bs=4096 count=1 2>/dev/null
seen 'kesync_reset: controller [0-9]* attempt=[0-9]* err=0' 10
r=$?
cp "$tr/trace" "$tmp/trace"
[ "$r" -eq 0 ] && has timeout "kesync0 timed out"
ok $? "a hung transfer: kesync_timeout (timed out), then kesync_reset err=0" \
	"$(grep -E 'kesync_(timeout|reset)' "$tmp/trace" | head -n 4)"

# An interrupt the device never raises: the IoTimer recovers it.
start
kesyncctl -d "$dev" fault lost-irq 1 >/dev/null
dd if="$dev" of=/dev/null bs=4096 count=1 2>/dev/null
rc=$?
seen 'kesync_timeout: kesync0 lost interrupt recovered' 10 && [ "$rc" -eq 0 ]
ok $? "a lost interrupt: kesync_timeout (lost interrupt recovered), the read succeeds" \
	"dd rc=$rc"

# An interrupt for a transfer not yet over.
start
kesyncctl -d "$dev" fault spurious 1 >/dev/null
dd if="$dev" of=/dev/null bs=4096 count=1 2>/dev/null
rc=$?
seen 'kesync_irq: kesync0 .* spurious' 10 && [ "$rc" -eq 0 ]
ok $? "a spurious interrupt: kesync_irq (spurious), the read succeeds" "dd rc=$rc"

# A read ended by a fatal signal while its transfer hangs.
kesyncctl -d "$dev" timeout 30 >/dev/null
start
kesyncctl -d "$dev" fault hang 1 >/dev/null
dd if="$dev" of=/dev/null bs=4096 count=1 2>/dev/null &
pid=$!
if seen 'kesync_programmed: kesync0 ' 10; then
	kill -KILL "$pid"
	seen 'kesync_cancelled: kesync0 ' 10
	r=$?
else
	kill -KILL "$pid"
	r=1
fi
wait "$pid" 2>/dev/null
ok "$r" "a read killed during its transfer: kesync_cancelled" \
	"$(grep -E 'kesync_(programmed|cancelled|completed)' "$tr/trace" | head -n 4)"

# With the ring buffer off, the enabled events record nothing (each finds
# no room and gives up), and neither I/O nor a timeout and its reset is
# disturbed.
echo 0 >"$tr/tracing_on"
: >"$tr/trace"
echo 1 >"$ev/enable"
kesyncctl -d "$dev" timeout 1 >/dev/null
kesyncctl -d "$dev" verify 64k >"$tmp/out" 2>&1
rc=$?
kesyncctl -d "$dev" fault hang 1 >/dev/null
dd if="$dev" of=/dev/null bs=4096 count=1 2>/dev/null
r=$?
echo 1 >"$tr/tracing_on"
nrec=$(grep -c ' kesync_' "$tr/trace")
[ "$rc" -eq 0 ] && [ "$r" -ne 0 ] && [ "$nrec" -eq 0 ]
ok $? "with tracing off: no record, the I/O and the timeout as without" \
	"verify rc=$rc, hung read rc=$r, records $nrec"

# A trigger: the first kesync_started soft-disables kesync_completed,
# which then records nothing although it stays enabled.
kesyncctl -d "$dev" timeout "$tmo0" >/dev/null
start
trig="disable_event:kesync:kesync_completed"
if echo "$trig" >"$ev/kesync_started/trigger" 2>/dev/null; then
	kesyncctl -d "$dev" verify 64k >"$tmp/out" 2>&1
	rc=$?
	# Soft mode, soft-disabled: still registered, recording nothing.
	st=$(cat "$ev/kesync_completed/enable")
	echo "!$trig" >"$ev/kesync_started/trigger"
	cp "$tr/trace" "$tmp/trace"
	has started "kesync0 " && ! has completed "" && [ "$rc" -eq 0 ] &&
		[ "$st" = "0*" ]
	ok $? "a disable_event trigger: kesync_started recorded, kesync_completed not" \
		"verify rc=$rc; kesync_completed/enable $st; $(grep -cE 'kesync_(started|completed)' "$tmp/trace") records"
else
	ok 1 "a disable_event trigger" "cannot write $ev/kesync_started/trigger"
fi

# The unit still works.
kesyncctl -d "$dev" clear >/dev/null
kesyncctl -d "$dev" timeout "$tmo0" >/dev/null
kesyncctl -d "$dev" verify 64k >/dev/null 2>&1
ok $? "the unit works after the faults"

[ "$fails" -eq 0 ]

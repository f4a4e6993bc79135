#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# kesync_kunit: the KUnit suite of the driver's state machines
# (module/kesync-kunit.c, CONFIG_KESYNC_KUNIT_TEST): loads kesync-kunit.ko,
# which runs the suite on load, or, when it is built in, takes the results
# of the boot's run; reads them from /sys/kernel/debug/kunit/<suite>/results
# (else from dmesg) and prints each case as a TAP 13 line of its own.
# Skips on a kernel without KUnit (Debian's production kernel).
# shellcheck shell=sh

suite=kesync
ko=/kesync/modules/kesync-kunit.ko
res=/sys/kernel/debug/kunit/$suite/results

echo "TAP version 13"
[ -d /sys/kernel/debug/kunit ] ||
	mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
if [ ! -d /sys/kernel/debug/kunit ] && [ ! -d /sys/module/kunit ]; then
	echo "1..0 # SKIP no KUnit in this kernel"
	exit 4
fi
if [ ! -f "$res" ]; then
	if [ ! -f "$ko" ]; then
		echo "1..0 # SKIP no KUnit suite: kesync-kunit.ko not in the initramfs (CONFIG_KESYNC_KUNIT_TEST unset)"
		exit 4
	fi
	# Never clear the kernel log: the runner scans all of it afterwards.
	before=$(dmesg | wc -l)
	if ! insmod "$ko" >/tmp/kunit-insmod.out 2>&1; then
		sed 's/^/# /' /tmp/kunit-insmod.out
		echo "1..1"
		echo "not ok 1 - kunit: insmod kesync-kunit.ko"
		exit 1
	fi
	# The suite ran inside insmod; its debugfs entry goes with the module.
	if [ -f "$res" ]; then
		cat "$res" >/tmp/kunit-results
	else
		dmesg | tail -n "+$((before + 1))" >/tmp/kunit-results
	fi
	rmmod kesync_kunit 2>/dev/null
	if grep -q 'kunit: disabled' /tmp/kunit-results; then
		echo "1..0 # SKIP KUnit is disabled (boot with kunit.enable=1, or CONFIG_KUNIT_DEFAULT_ENABLED=y)"
		exit 4
	fi
else
	cat "$res" >/tmp/kunit-results
fi
sed 's/^/# /' /tmp/kunit-results

# The case lines of the KTAP are indented ("    ok 3 - name"); the suite's
# own line is not.  A dmesg copy carries "[  t] " prefixes: drop them.
sed -e 's/^\[[ 0-9.]*\] //' /tmp/kunit-results |
	awk -v suite="$suite" '
	/^[ \t]+(not )?ok [0-9]+ / {
		line = $0
		sub(/^[ \t]+/, "", line)
		nok = (line ~ /^not ok/)
		sub(/^(not )?ok [0-9]+ (- )?/, "", line)
		dir = ""
		if (index(line, " # ")) {
			dir = substr(line, index(line, " # "))
			line = substr(line, 1, index(line, " # ") - 1)
		}
		n++
		out[n] = (nok ? "not ok " : "ok ") n " - kunit: " suite "." line dir
	}
	END {
		if (n == 0) {
			print "1..1"
			print "not ok 1 - kunit: no case results from the " suite " suite"
			exit 1
		}
		print "1.." n
		for (i = 1; i <= n; i++)
			print out[i]
		for (i = 1; i <= n; i++)
			if (out[i] ~ /^not ok/)
				exit 1
		exit 0
	}'

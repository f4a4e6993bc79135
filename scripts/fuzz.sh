#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# QEMU's own device fuzzer (generic-fuzz, libFuzzer) on kesync-pci.
#
#   fuzz.sh [--time SEC | --runs N] [--seed N] [--check] [-- LIBFUZZER-ARGS]
#   fuzz.sh --trace CRASH-FILE
#
# The fuzzer is build/fuzz/qemu/qemu-fuzz-x86_64 (scripts/qemu.sh --fuzz:
# clang, --enable-fuzzing, ASan and UBSan).  generic-fuzz reads its input as
# a list of MMIO, PIO, PCI-config, DMA-pattern and clock-step commands
# (tests/qtest/fuzz/generic_fuzz.c in QEMU's source) and sends them to the
# memory regions of the objects QEMU_FUZZ_OBJECTS names: here kesync-pci's
# BAR0 registers and its MSI-X table and PBA; every DMA read the device makes
# from guest RAM is filled from the input's DMA patterns (descriptors,
# segments, data).
#
# The inputs it starts from: qemu-device/tests/fuzz-corpus/ (valid transfers
# of the qtest, made by qemu-device/tests/fuzz-corpus.py).
#
# Default ('make fuzz FUZZ_TIME=N'): fuzz for N seconds (--time), growing the
# corpus in build/fuzz/corpus/ from one run to the next.
# --check ('make check'): the seed corpus alone, in a fresh directory, a
# fixed libFuzzer seed and --runs inputs (default 3500, about a minute):
# the same inputs every time.
# Either way a crash is kept as build/fuzz/artifacts/crash-<sha1> and the
# script fails; the last line gives the executions and executions/s.
#
# --trace CRASH-FILE: run one input again with the QTest log on and print
# the qtest commands it sent, reordered (QEMU's
# scripts/oss-fuzz/reorder_fuzzer_qtest_trace.py), then the C of a qtest
# case that replays them (scripts/oss-fuzz/output_reproducer.py): the
# regression test to add at the end of qemu-device/tests/kesync-pci-test.c
# (docs/testing.md, "A crash of the fuzzer").
set -euo pipefail
. "$(dirname "$0")/common.sh"

qdir=$KESYNC_BUILD/fuzz/qemu
fuzzer=$qdir/qemu-fuzz-x86_64
seeds=$KESYNC_ROOT/qemu-device/tests/fuzz-corpus
out=$KESYNC_BUILD/fuzz

time=60 runs='' seed=1 check=0 trace=''
while [ $# -gt 0 ]; do
	case $1 in
	--time) time=$2; shift 2 ;;
	--runs) runs=$2; shift 2 ;;
	--seed) seed=$2; shift 2 ;;
	--check) check=1; shift ;;
	--trace) trace=$2; shift 2 ;;
	--) shift; break ;;
	*) die "unknown option $1 (see the head of $0)" ;;
	esac
done
[ -x "$fuzzer" ] || die "no fuzzer: run scripts/qemu.sh --fuzz"

# The machine: the qtest's, BIOS from the distribution (a QEMU built with
# --disable-install-blobs has none), four small units so that fuzzed
# offsets land inside a medium more often.
fw=
for d in /usr/share/seabios /usr/share/qemu; do
	[ -d "$d" ] && fw+=" -L $d"
done
export QEMU_FUZZ_ARGS="-machine pc -nodefaults$fw -device kesync-pci,id=ks,addr=04.0,units=4,unit-size=1M"
export QEMU_FUZZ_OBJECTS='kesync-pci'
# Each DMA range is filled once per command, as OSS-Fuzz's generic-fuzz
# configurations do: a crash then replays from its qtest trace.
export QEMU_AVOID_DOUBLE_FETCH=1
# Any sanitizer report ends the input as a crash (libFuzzer keeps it).
export ASAN_OPTIONS=halt_on_error=1:detect_leaks=0:symbolize=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

if [ -n "$trace" ]; then
	src=$(cat "$qdir/qemu-src")
	t=$(mktemp)
	QEMU_FUZZ_TIMEOUT=0 QTEST_LOG=1 FUZZ_SERIALIZE_QTEST=1 \
		"$fuzzer" --fuzz-target=generic-fuzz "$trace" >"$t" 2>&1 || true
	r=$(mktemp)
	python3 "$src/scripts/oss-fuzz/reorder_fuzzer_qtest_trace.py" "$t" >"$r"
	# generic-fuzz's own machine options come first (generic_fuzz.c).
	qargs="-display none -machine accel=qtest -m 512M $QEMU_FUZZ_ARGS"
	printf '# QEMU arguments: %s\n# The trace (%s):\n' "$qargs" "$r"
	cat "$r"
	printf '\n# As a qtest case:\n'
	QEMU_PATH=$qdir/qemu-system-x86_64 QEMU_ARGS=$qargs \
		python3 "$src/scripts/oss-fuzz/output_reproducer.py" \
		-name "test_fuzz_crash_$(basename "$trace" | cut -c7-14)" "$r"
	rm -f "$t"
	exit 0
fi

mkdir -p "$out"
if [ "$check" = 1 ]; then
	corpus=$out/check/corpus
	arts=$out/check/artifacts
	rm -rf "$out/check"
	mkdir -p "$corpus" "$arts"
	stop=(-runs="${runs:-3500}")
else
	corpus=$out/corpus
	arts=$out/artifacts
	mkdir -p "$corpus" "$arts"
	if [ -n "$runs" ]; then
		stop=(-runs="$runs")
	else
		stop=(-max_total_time="$time")
	fi
fi
stamp=$out/.fuzz-start
touch "$stamp"
before=$(find "$arts" -type f | wc -l)
logf=$out/fuzz.log
[ "$check" = 1 ] && logf=$out/check/fuzz.log

log "generic-fuzz on kesync-pci: ${stop[*]} -seed=$seed (log: $logf)"
t0=$(date +%s)
rc=0
# The first corpus directory gets the new inputs; the seeds are only read.
"$fuzzer" --fuzz-target=generic-fuzz "${stop[@]}" -seed="$seed" \
	-max_len=4096 -print_final_stats=1 -detect_leaks=0 \
	-artifact_prefix="$arts/" "$@" "$corpus" "$seeds" >"$logf" 2>&1 || rc=$?
t1=$(date +%s)

execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$logf" | tail -n 1)
eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$logf" | tail -n 1)
cov=$(grep -o 'cov: [0-9]*' "$logf" | tail -n 1 || true)
after=$(find "$arts" -type f | wc -l)
# generic-fuzz runs each input in a forked child: a sanitizer report there
# writes the crash file and ends the child, not the fuzzer; look for both.
reports=$(grep -cE '^==[0-9]+==ERROR|runtime error:|^SUMMARY: (Address|Undefined)' \
	"$logf" || true)
printf 'fuzz: %s inputs run in %ss, %s exec/s, %s, %d new crash file(s), %s sanitizer report line(s), rc=%d\n' \
	"${execs:-?}" "$((t1 - t0))" "${eps:-?}" "${cov:-cov: ?}" \
	"$((after - before))" "$reports" "$rc"
if [ "$rc" != 0 ] || [ "$after" != "$before" ] || [ "$reports" != 0 ] ||
	[ -z "$execs" ]; then
	grep -E -A40 '^==[0-9]+==ERROR|runtime error:' "$logf" | head -n 80 >&2 ||
		tail -n 40 "$logf" >&2
	find "$arts" -type f -newer "$stamp" -printf 'kept: %p\n' >&2
	die "the fuzzer found a crash: 'scripts/fuzz.sh --trace FILE' turns it into a qtest (docs/testing.md)"
fi

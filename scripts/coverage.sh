#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make coverage: which lines and branches of module/ and qemu-device/ the
# tests run.
#
#   coverage.sh [--all] [--add] [--report] [runner.py options...]
#
# The driver: the debug kernel (CONFIG_GCOV_KERNEL, kernel/debug.config)
# profiles kesync alone (module/Kbuild: GCOV_PROFILE).  The boots of
# tests/matrix named in BOOTS below run once each on it (runner.py
# --coverage: every boot on the debug kernel); each boot prints kesync's
# .gcda files at its end (kesync_gcov_dump, scripts/guest-lib.sh) and the
# runner keeps them under build/coverage/gcda/<boot>/.
# The device: QEMU built with --enable-gcov (scripts/qemu.sh --gcov, a
# build of its own in the cache); the qtest and every one of those boots
# run on it.
# The report: gcovr merges the boots into build/coverage/html/index.html
# and scripts/coverage-report.py prints one table (file, lines, branches,
# functions never run), what each boot alone runs of module/, and writes
# its summary line to build/coverage/summary.txt, which 'make check'
# prints.
#
#   --all     every boot of tests/matrix on the default kernel (the kernels
#             section tests the same code on other kernels and the DKMS
#             module is not profiled) instead of BOOTS: about twice as long
#   --add     keep the counts of the last run and add this one's (the
#             boots run again replace their own counts): e.g. a new boot
#             measured on top of the last full run, with --only
#   --report  no boot and no qtest: merge the counts there are and print
# Other options go to runner.py (--only REGEX replaces BOOTS, --no-host
# leaves the qtest out, -j N).
set -euo pipefail
. "$(dirname "$0")/common.sh"

# The boots counted (docs/testing.md, "Coverage"): each takes paths of
# module/ the others do not, by its interrupt mode and pump, its programs
# or its device; a boot of tests/matrix left out runs the same programs
# in a mode another boot of this list covers (msi-thread, intx-thread,
# u1-intx-startio, iommu, clients, reset: the last two are debug-reset
# without the debug kernel).  u1-msix-thread is counted for the trace
# events (kesync_trace, kesync_perf: no other boot reads them).
# Measured: docs/testing.md.
BOOTS='debug|debug-fi|debug-reset|msix-startio|msix-thread|msi-startio'
BOOTS+='|intx-startio|iommu-neg|unplug|surprise|swiotlb|polled|polled-intx'
BOOTS+='|params-msi|u1-msix-thread'

out=$KESYNC_BUILD/coverage
qdir=$out/qemu
add=0 report=0 all=0 only=0
args=()
for a in "$@"; do
	case $a in
	--add) add=1 ;;
	--report) report=1 ;;
	--all) all=1 ;;
	--only|--only=*) only=1; args+=("$a") ;;
	*) args+=("$a") ;;
	esac
done
if [ "$only" = 0 ] && [ "$all" = 0 ]; then
	args=(--only "^($BOOTS)\$" "${args[@]}")
fi

[ -x "$qdir/qemu-system-x86_64" ] || die "no gcov QEMU: run scripts/qemu.sh --gcov"
[ -e "$KESYNC_BUILD/debug/bzImage" ] || die "no debug kernel: run 'make debug'"
qbld=$(cat "$qdir/qemu-build")
qsrc=$(cat "$qdir/qemu-src")
kobj=$(readlink -f "$KESYNC_BUILD/debug/bzImage")
kobj=${kobj%/arch/x86/boot/bzImage}
kdir=$kobj/drivers/misc/kesync
[ -n "$(find "$kdir" -maxdepth 1 -name '*.gcno' -print -quit)" ] ||
	die "$kdir has no .gcno: the debug kernel is not built with CONFIG_GCOV_KERNEL"

# kesync's sources in the kernel tree the debug kernel was built from.
ksrc=$(readlink -f "$kobj/source")/drivers/misc/kesync

# The .gcno of the module the boots load (build/debug/kesync.ko) and its
# sources, kept with the counts: the debug kernel's tree is shared by
# every clone using the cache, and another one's 'make debug' rebuilds
# kesync there from its own module/ (a .gcda only merges with the .gcno
# of its own build, and gcov reads the lines from the sources).
snap_gcno() {
	cmp -s "$kdir/kesync.ko" "$KESYNC_BUILD/debug/kesync.ko" ||
		die "the debug kernel tree's kesync.ko is not build/debug/kesync.ko (another clone's 'make debug'?): run 'make debug' again"
	rm -rf "$out/gcno"
	mkdir -p "$out/gcno/src"
	cp "$kdir"/*.gcno "$out/gcno/"
	cp "$ksrc"/*.[ch] "$out/gcno/src/"
}

rc=0
t0=$(date +%s)
if [ "$report" = 0 ]; then
	if [ "$add" = 0 ]; then
		# A fresh count: nothing of an earlier run is merged in.
		rm -rf "$out/gcda" "$out/logs"
		find "$qbld" -name '*.gcda' -delete
	fi
	rm -rf "$out/json" "$out/html" "$out/summary.txt"
	mkdir -p "$out/gcda" "$out/logs"
	if [ "$add" = 1 ] && [ -d "$out/gcno" ]; then
		for f in "$out"/gcno/*.gcno; do
			cmp -s "$f" "$kdir/${f##*/}" ||
				die "--add: the module changed since the last run (${f##*/}); measure afresh"
		done
	fi
	snap_gcno
	python3 "$KESYNC_ROOT/scripts/runner.py" --coverage --debug-tier \
		--qemu-dir "$qdir" --gcov-dir "$out/gcda" --logdir "$out/logs" \
		--guest-timeout 3600 "${args[@]}" || rc=$?
fi
rm -rf "$out/json" "$out/html"
mkdir -p "$out/json" "$out/html"
[ -d "$out/gcno" ] || snap_gcno

log "merging the counts (gcovr)"
gopts=(--exclude-unreachable-branches --exclude-throw-branches
	--gcov-executable gcov-12)

# The driver, one boot at a time: gcov wants each .gcda beside its .gcno.
# It reads the sources where the tree has them: in a mount namespace of
# its own, the copy of the run's sources is bound over them there.
# shellcheck disable=SC2317 # run by the unshare below
merge_driver() {
	local b st
	mount --bind "$out/gcno/src" "$ksrc"
	for b in "$out"/gcda/*/; do
		[ -d "$b" ] || continue
		b=${b%/}
		st=$(mktemp -d)
		cp "$out"/gcno/*.gcno "$st/"
		cp "$b"/*.gcda "$st/"
		(cd "$kobj" && gcovr --exclude-unreachable-branches \
			--exclude-throw-branches --gcov-executable gcov-12 \
			--root "$kobj" --object-directory "$st" \
			--filter '.*/drivers/misc/kesync/' \
			--exclude '.*kesync-kunit\.c' \
			--json "$out/json/module-${b##*/}.json" "$st") >/dev/null
		rm -rf "$st"
	done
}
export -f merge_driver
export out kobj ksrc
userns=()
[ "$(id -u)" -eq 0 ] || userns=(-r)
unshare "${userns[@]}" -m --propagation private bash -c merge_driver

# The device: the .gcda of QEMU's objects built from hw/misc/kesync/
# (qemu-device/'s .c files and the inline functions of kesync.h).
(cd "$qbld" && gcovr "${gopts[@]}" --root "$qsrc" \
	--filter '.*/hw/misc/kesync/[^/]*\.[ch]$' \
	--json "$out/json/device.json" "$qbld") >/dev/null

jsons=("$out"/json/*.json)
gcovr "${gopts[@]}" --root / --add-tracefile "$out/json/*.json" \
	--html-details "$out/html/index.html" >/dev/null
python3 "$KESYNC_ROOT/scripts/coverage-report.py" --summary "$out/summary.txt" \
	--markdown "$out/table.md" --src "$out/gcno/src" "${jsons[@]}"
[ "$report" = 1 ] || log "coverage run: $(( ($(date +%s) - t0) / 60 )) min $(( ($(date +%s) - t0) % 60 )) s"
log "report: ${out#"$KESYNC_ROOT"/}/html/index.html"
exit "$rc"

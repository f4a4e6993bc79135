#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make coverage: which lines and branches of module/ and qemu-device/ the
# tests run.
#
# The driver: the debug kernel (CONFIG_GCOV_KERNEL, kernel/debug.config)
# profiles kesync alone (module/Kbuild: GCOV_PROFILE).  Every boot of
# tests/matrix runs once on it (runner.py --coverage: the boots of the
# kernels section test the same code on other kernels and are left out,
# as is the DKMS boot); each boot prints kesync's .gcda files at its end
# (kesync_gcov_dump, scripts/guest-lib.sh) and the runner keeps them under
# build/coverage/gcda/<boot>/.
# The device: QEMU built with --enable-gcov (scripts/qemu.sh --gcov, a
# build of its own in the cache); the qtest and every one of those boots
# run on it.
# The report: gcovr merges the boots into build/coverage/html/index.html
# and scripts/coverage-report.py prints one table (file, lines, branches,
# functions never run) and writes its summary line to
# build/coverage/summary.txt, which 'make check' prints.
#
# Options are passed on to runner.py (e.g. --only '^debug$' for a quick
# partial figure; the report says which boots it counts).
set -euo pipefail
. "$(dirname "$0")/common.sh"

out=$KESYNC_BUILD/coverage
qdir=$out/qemu
[ -x "$qdir/qemu-system-x86_64" ] || die "no gcov QEMU: run scripts/qemu.sh --gcov"
[ -e "$KESYNC_BUILD/debug/bzImage" ] || die "no debug kernel: run 'make debug'"
qbld=$(cat "$qdir/qemu-build")
qsrc=$(cat "$qdir/qemu-src")
kobj=$(readlink -f "$KESYNC_BUILD/debug/bzImage")
kobj=${kobj%/arch/x86/boot/bzImage}
kdir=$kobj/drivers/misc/kesync
[ -n "$(find "$kdir" -maxdepth 1 -name '*.gcno' -print -quit)" ] ||
	die "$kdir has no .gcno: the debug kernel is not built with CONFIG_GCOV_KERNEL"

# A fresh count: nothing of an earlier run is merged in.
rm -rf "$out/gcda" "$out/json" "$out/html" "$out/logs" "$out/summary.txt"
mkdir -p "$out/gcda" "$out/json" "$out/html" "$out/logs"
find "$qbld" -name '*.gcda' -delete

rc=0
python3 "$KESYNC_ROOT/scripts/runner.py" --coverage --debug-tier \
	--qemu-dir "$qdir" --gcov-dir "$out/gcda" --logdir "$out/logs" \
	--guest-timeout 1800 "$@" || rc=$?

log "merging the counts (gcovr)"
gopts=(--exclude-unreachable-branches --exclude-throw-branches
	--gcov-executable gcov-12)

# The driver, one boot at a time: gcov wants each .gcda beside its .gcno.
for b in "$out"/gcda/*/; do
	b=${b%/}
	st=$(mktemp -d)
	cp "$kdir"/*.gcno "$st/"
	cp "$b"/*.gcda "$st/"
	(cd "$kobj" && gcovr "${gopts[@]}" --root "$kobj" \
		--object-directory "$st" --filter '.*/drivers/misc/kesync/' \
		--exclude '.*kesync-kunit\.c' \
		--json "$out/json/module-${b##*/}.json" "$st") >/dev/null
	rm -rf "$st"
done

# The device: the .gcda of QEMU's objects built from hw/misc/kesync/
# (qemu-device/'s .c files and the inline functions of kesync.h).
(cd "$qbld" && gcovr "${gopts[@]}" --root "$qsrc" \
	--filter '.*/hw/misc/kesync/[^/]*\.[ch]$' \
	--json "$out/json/device.json" "$qbld") >/dev/null

jsons=("$out"/json/*.json)
gcovr "${gopts[@]}" --root / --add-tracefile "$out/json/*.json" \
	--html-details "$out/html/index.html" >/dev/null
python3 "$KESYNC_ROOT/scripts/coverage-report.py" --summary "$out/summary.txt" \
	"${jsons[@]}"
log "report: ${out#"$KESYNC_ROOT"/}/html/index.html"
exit "$rc"

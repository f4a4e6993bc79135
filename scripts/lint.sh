#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make lint: static analysis.  Each check prints TAP ('ok N - name'), so
# the runner can count them; exit status is non-zero when any fails.
#   checkpatch.pl --strict  module/ include/ tests/ tools/ (kernel's script)
#   sparse (C=2)            module/ against every guest kernel's headers, with
#                           its own toolchain (W=1 on each: the runner's
#                           kbuild step, scripts/kernel.sh build)
#   coccicheck (report)     module/, with the kernel's semantic patches
#   QEMU checkpatch.pl      qemu-device/
#   shell scripts           shellcheck over scripts/ and tests/*.sh
#   python                  pyflakes over scripts/ and tests/ (python3-pyflakes)
#   sysfs ABI               the kernel's get_abi.pl validate over Documentation/ABI
set -uo pipefail
. "$(dirname "$0")/common.sh"

cd "$KESYNC_ROOT" || exit 1
ksrc=$("$KESYNC_ROOT/scripts/linux-src.sh") || die "no kernel source"
out=$KESYNC_BUILD/lint
mkdir -p "$out"
n=0 fails=0

check() {
	local name=$1
	shift
	n=$((n + 1))
	if "$@" >"$out/$name.log" 2>&1; then
		echo "ok $n - $name"
	else
		echo "not ok $n - $name"
		sed 's/^/# /' "$out/$name.log" | head -n 60
		fails=$((fails + 1))
	fi
}

kfiles() {
	git ls-files -- 'module/*.[ch]' 'include/*.h' 'tests/*.[ch]' 'tools/*.[ch]'
}

# checkpatch --strict over kernel-style sources.  User-space programs
# (tests/, tools/) have no u8/u32: PREFER_KERNEL_TYPES does not apply to
# them.  A finding is excused only by a comment on its line or the line
# above saying "checkpatch-ok: TYPE: why".
run_checkpatch() {
	local f rc=0 out line type lno ign
	for f in $(kfiles); do
		ign=FILE_PATH_CHANGES,SPDX_LICENSE_TAG
		case $f in
		tests/*|tools/*) ign=$ign,PREFER_KERNEL_TYPES ;;
		esac
		out=$("$ksrc/scripts/checkpatch.pl" --strict --no-tree --terse \
			--show-types --ignore "$ign" -f "$f" | grep -v '^total:')
		while IFS= read -r line; do
			[ -n "$line" ] || continue
			lno=$(echo "$line" | cut -d: -f2)
			type=$(echo "$line" | sed -n 's/^[^:]*:[0-9]*: [A-Z]*:\([A-Z_]*\):.*/\1/p')
			if [ -n "$type" ] && [ "$lno" -gt 0 ] 2>/dev/null &&
				sed -n "$((lno > 1 ? lno - 1 : 1)),${lno}p" "$f" |
				grep -q "checkpatch-ok: $type:"; then
				continue
			fi
			echo "$line"
			rc=1
		done <<<"$out"
	done
	return $rc
}

# sparse over every file for kernel $1, in the copy of module/ that
# 'kernel.sh build' made; its output must contain no warning.
sparse_kernel() {
	local log dir=$KESYNC_BUILD/kernels/$1
	"$KESYNC_ROOT/scripts/kernel.sh" build "$1" "$dir" || return 1
	kernel_env "$1"
	log=$("$KESYNC_ROOT/scripts/kernel.sh" make "$1" -C "$KDIR" \
		M="$dir/src/module" CONFIG_KESYNC=m C=2 modules 2>&1) ||
		{ echo "$log"; return 1; }
	echo "$log"
	! echo "$log" | grep -E 'warning:|error:' | grep -v 'kesync-trace.h.*TRACE_'
}

run_cocci() {
	local log
	# Debian's headers package has no scripts/coccicheck: run the
	# semantic patches of the unpacked source tree over module/.
	log=$(make -C "$ksrc" M="$KESYNC_ROOT/module" coccicheck MODE=report \
		SPFLAGS="--very-quiet" 2>&1)
	echo "$log"
	! echo "$log" | grep -E '^/.*(WARNING|ERROR)'
}

run_qemu_checkpatch() {
	local qsrc
	qsrc=$(cat "$KESYNC_BUILD/qemu-src" 2>/dev/null)
	[ -d "$qsrc" ] || { echo "QEMU source not fetched: make qemu"; return 1; }
	local f files=()
	# Checked where they are grafted: QEMU's checkpatch has rules of its
	# own for tests/ (g_assert_cmp* is for tests only).  Every file of
	# qemu-device/ is in hw/misc/kesync/; kesync_hw.h there is generated
	# from the kernel header, as standard-headers are, and not checked.
	for f in qemu-device/*.c qemu-device/*.h; do
		files+=("hw/misc/kesync/${f##*/}")
	done
	(cd "$qsrc" && scripts/checkpatch.pl --no-tree -f "${files[@]}" \
		tests/qtest/kesync-pci-test.c)
}

run_shellcheck() {
	local tests
	mapfile -t tests < <(git ls-files -- 'tests/*.sh')
	shellcheck -x -P SCRIPTDIR scripts/*.sh scripts/guest-init \
		scripts/jobs/*.sh .ci/run "${tests[@]}"
}

# pyflakes: undefined names, unused imports and variables in the Python
# scripts (the runner and its host-side tests).
run_pyflakes() {
	local py
	mapfile -t py < <(git ls-files -- 'scripts/*.py' 'tests/*.py')
	pyflakes3 "${py[@]}"
}

# get_abi.pl validate reports a malformed entry as a warning and still
# exits 0.
run_abi() {
	local log
	log=$(perl "$ksrc/scripts/get_abi.pl" validate --dir Documentation/ABI 2>&1)
	printf '%s\n' "$log"
	! grep -qi 'warning' <<<"$log"
}

echo "TAP version 13"
check checkpatch run_checkpatch
for k in $("$KESYNC_ROOT/scripts/kernel.sh" names); do
	check "sparse-$k" sparse_kernel "$k"
done
check coccicheck run_cocci
check qemu-checkpatch run_qemu_checkpatch
check shellcheck run_shellcheck
check pyflakes run_pyflakes
check sysfs-abi run_abi
echo "1..$n"
[ "$fails" -eq 0 ]

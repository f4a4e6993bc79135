#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build QEMU 7.2 from Debian's own source package with the kesync-pci device
# grafted in, and install a link to it as build/qemu-system-x86_64.
#
# Cache layout (outside the clone):
#   $KESYNC_CACHE/apt/                 private apt config with deb-src entries
#   $KESYNC_CACHE/qemu/<version>/src   'apt-get source qemu', Debian patches on
#   $KESYNC_CACHE/qemu/<version>/build-<cfg>  ninja build dir
# A new Debian QEMU version gets a new tree and a build from scratch; an edit
# of qemu-device/ or include/ only re-runs the graft and an incremental ninja.
# qemu-device/patches/*.patch are fixes of QEMU itself, applied to the tree
# once (a changed patch needs a fresh tree: remove <version>/src).
#
# qemu.sh --gcov: the same QEMU configured with --enable-gcov, in a build
# directory of its own (another configure key), linked as
# build/coverage/qemu/{qemu-system-x86_64,kesync-pci-test} for 'make
# coverage'; the .gcda files it writes stay in that build directory.
#
# qemu.sh --fuzz: one clang build serving both the sanitizer tier and the
# fuzzer: --enable-sanitizers (ASan and UBSan; -fsanitize=undefined is also
# given explicitly, so that it holds even where configure's probe drops it)
# and --enable-fuzzing (libFuzzer; qemu-system-x86_64 is still built, with
# the fuzzer's coverage hooks unlinked).  Linked as build/fuzz/qemu/
# {qemu-system-x86_64,kesync-pci-test,qemu-fuzz-x86_64} for the 'asan' and
# 'fuzz' steps of 'make check' and for 'make fuzz'.
set -euo pipefail
. "$(dirname "$0")/common.sh"

CONFIGURE_FLAGS=(--target-list=x86_64-softmmu --without-default-features --enable-kvm
	--disable-docs --disable-install-blobs --disable-werror)
APTDIR=$KESYNC_CACHE/apt
OUT=$KESYNC_BUILD
TARGETS=(qemu-system-x86_64 tests/qtest/kesync-pci-test)
if [ "${1:-}" = --gcov ]; then
	CONFIGURE_FLAGS+=(--enable-gcov)
	OUT=$KESYNC_BUILD/coverage/qemu
elif [ "${1:-}" = --fuzz ]; then
	command -v clang-14 >/dev/null || die "clang-14 missing: run scripts/deps.sh"
	CONFIGURE_FLAGS+=(--cc=clang-14 --cxx=clang++-14 --host-cc=clang-14
		--enable-sanitizers --enable-fuzzing
		--extra-cflags=-fsanitize=undefined
		--extra-ldflags=-fsanitize=undefined)
	OUT=$KESYNC_BUILD/fuzz/qemu
	TARGETS+=(qemu-fuzz-x86_64)
else
	# The normal build has the block layer's io_uring backend, so that
	# 'make bench' can run its nvme peer with aio=io_uring as well as with
	# the thread pool (docs/benchmarks.md); the gcov and fuzz builds do
	# not need it.
	CONFIGURE_FLAGS+=(--enable-linux-io-uring)
fi

# A private apt configuration that adds deb-src entries for the archives the
# system already uses; the system's own apt sources are left alone.
apt_private() {
	mkdir -p "$APTDIR/sources.list.d" "$APTDIR/lists/partial" \
		"$APTDIR/cache/archives/partial"
	local f out
	rm -f "$APTDIR"/sources.list.d/*
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -e "$f" ] || continue
		out=$APTDIR/sources.list.d/$(basename "$f")
		sed 's/^Types:.*/Types: deb-src/' "$f" >"$out"
	done
	: >"$APTDIR/sources.list"
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -e "$f" ] || continue
		sed -n 's/^[[:space:]]*deb[[:space:]]/deb-src /p' "$f" \
			>>"$APTDIR/sources.list"
	done
	cat >"$APTDIR/apt.conf" <<EOC
Dir::Etc::SourceList "$APTDIR/sources.list";
Dir::Etc::SourceParts "$APTDIR/sources.list.d";
Dir::State::Lists "$APTDIR/lists";
Dir::Cache "$APTDIR/cache";
APT::Sandbox::User "root";
EOC
	# Refresh the source index at most once a day.
	if [ -z "$(find "$APTDIR/lists" -maxdepth 1 -name '*Sources*' \
		-mmin -1440 2>/dev/null | head -n 1)" ]; then
		log "updating the private deb-src index"
		APT_CONFIG=$APTDIR/apt.conf apt-get update -qq ||
			die "apt-get update (deb-src) failed"
	fi
}

qemu_version() {
	APT_CONFIG=$APTDIR/apt.conf apt-get source --print-uris qemu 2>/dev/null |
		sed -n "s/^'[^']*' qemu_\([^ ]*\)\.dsc .*/\1/p" | head -n 1
}

# graft_block FILE TAG CONTENT-FILE: put CONTENT between marker lines at the
# end of FILE, replacing any earlier graft.  Touches FILE only on a change.
graft_block() {
	local file=$1 tag=$2 content=$3 tmp
	tmp=$(mktemp)
	sed "/^# kesync-begin $tag\$/,/^# kesync-end $tag\$/d" "$file" >"$tmp"
	{
		printf '# kesync-begin %s\n' "$tag"
		cat "$content"
		printf '# kesync-end %s\n' "$tag"
	} >>"$tmp"
	if cmp -s "$tmp" "$file"; then
		rm -f "$tmp"
	else
		cat "$tmp" >"$file"
		rm -f "$tmp"
	fi
}

install_if_changed() {
	mkdir -p "$(dirname "$2")"
	cmp -s "$1" "$2" || cp "$1" "$2"
}

graft() {
	local src=$1 dev=$KESYNC_ROOT/qemu-device tmp f
	local dir=$src/hw/misc/kesync

	# The device's files in a directory of their own, as hw/nvme/ is:
	# qemu-device/*.[ch] and meson.build are hw/misc/kesync/.  Its
	# Kconfig symbol and trace events are hw/misc's.
	mkdir -p "$dir"
	for f in "$dev"/*.c "$dev"/*.h "$dev/meson.build"; do
		install_if_changed "$f" "$dir/${f##*/}"
	done
	# A file renamed or removed in qemu-device/ goes from the graft too.
	for f in "$dir"/*; do
		case ${f##*/} in
		kesync_hw.h) ;;
		*) [ -e "$dev/${f##*/}" ] || rm -f "$f" ;;
		esac
	done
	tmp=$(mktemp)
	echo "subdir('kesync')" >"$tmp"
	graft_block "$src/hw/misc/meson.build" device "$tmp"
	rm -f "$tmp"
	graft_block "$src/hw/misc/Kconfig" device "$dev/Kconfig"
	graft_block "$src/hw/misc/trace-events" device "$dev/trace-events"
	# What the single-file graft left: hw/misc/kesync-pci.c and the
	# register map in include/standard-headers/, which is for headers
	# imported from Linux.
	rm -f "$src/hw/misc/kesync-pci.c" \
		"$src/include/standard-headers/misc/kesync_hw.h"
	rmdir "$src/include/standard-headers/misc" 2>/dev/null || true

	# The register map: the device includes a copy of the one header the
	# driver uses, generated into its own directory with the kernel's
	# fixed-width types rewritten as update-linux-headers.sh does.
	tmp=$(mktemp)
	sed -e 's/__le\(8\|16\|32\|64\)/uint\1_t/g' \
	    -e 's/__u\(8\|16\|32\|64\)/uint\1_t/g' \
	    -e 's/__s\(8\|16\|32\|64\)/int\1_t/g' \
	    -e 's@#include <linux/types.h>@#include "standard-headers/linux/types.h"@' \
	    -e 's/_UAPI_LINUX_KESYNC_HW_H/HW_MISC_KESYNC_KESYNC_HW_H/g' \
	    "$KESYNC_ROOT/include/uapi/linux/kesync_hw.h" >"$tmp"
	install_if_changed "$tmp" "$dir/kesync_hw.h"
	rm -f "$tmp"

	# Fixes of QEMU itself that the tests need and Debian's 7.2 lacks
	# (qemu-device/patches/, in order; each says why).  A patch that
	# applies in reverse is in already.
	for f in "$dev"/patches/*.patch; do
		[ -e "$f" ] || continue
		patch -d "$src" -p1 -R -s -f --dry-run <"$f" >/dev/null 2>&1 &&
			continue
		log "patching QEMU: ${f##*/}"
		patch -d "$src" -p1 -s -f --no-backup-if-mismatch <"$f" ||
			die "${f##*/} does not apply to this QEMU source"
	done

	# The host-side device test, built with QEMU's libqtest/libqos.
	install_if_changed "$dev/tests/kesync-pci-test.c" \
		"$src/tests/qtest/kesync-pci-test.c"
	if ! grep -q "'kesync-pci-test'" "$src/tests/qtest/meson.build"; then
		sed -i "/^qtests_x86_64 = qtests_i386\$/a qtests_x86_64 += ['kesync-pci-test']" \
			"$src/tests/qtest/meson.build"
	fi
}

main() {
	command -v meson >/dev/null || die "meson missing: run scripts/deps.sh"
	apt_private
	local ver
	ver=$(qemu_version)
	[ -n "$ver" ] || die "no qemu source package found in Debian's archive"
	local top=$KESYNC_CACHE/qemu/$ver
	local cfg
	cfg=$(printf '%s\n' "${CONFIGURE_FLAGS[@]}" | sha256sum | cut -c1-12)
	local src=$top/src bld=$top/build-$cfg

	if [ ! -f "$src/.kesync-unpacked" ]; then
		log "fetching QEMU $ver source from Debian (apt-get source)"
		rm -rf "$top"
		mkdir -p "$top/dl"
		(cd "$top/dl" && APT_CONFIG=$APTDIR/apt.conf \
			apt-get source -qq qemu >/dev/null) ||
			die "apt-get source qemu failed"
		mv "$top"/dl/qemu-*/ "$src"
		rm -rf "$top/dl"
		touch "$src/.kesync-unpacked"
	fi

	graft "$src"

	if [ ! -f "$bld/build.ninja" ]; then
		log "configuring QEMU $ver (x86_64-softmmu only)"
		rm -rf "$bld"
		mkdir -p "$bld"
		(cd "$bld" && "$src/configure" "${CONFIGURE_FLAGS[@]}" \
			>configure.log 2>&1) ||
			{ tail -n 30 "$bld/configure.log" >&2; die "QEMU configure failed"; }
	fi

	if [ "$OUT" != "$KESYNC_BUILD" ]; then
		# The gcov and fuzz builds are long: once grafted and
		# configured they hold the cache's lock shared, so that several
		# of them build at once, each alone in its own directory, while
		# no graft (which takes the lock exclusive) changes the source
		# under them.
		flock -s 9
		exec 8>"$bld/.lock"
		flock 8
	fi
	log "building QEMU (ninja, incremental)"
	ninja -C "$bld" "${TARGETS[@]}" >"$bld/ninja.log" 2>&1 ||
		{ grep -B2 -A12 -m3 'error' "$bld/ninja.log" >&2 ||
			tail -n 40 "$bld/ninja.log" >&2
		  die "QEMU build failed (log: $bld/ninja.log)"; }

	mkdir -p "$OUT"
	ln -sfn "$bld/qemu-system-x86_64" "$OUT/qemu-system-x86_64"
	ln -sfn "$bld/tests/qtest/kesync-pci-test" "$OUT/kesync-pci-test"
	if [ -e "$bld/qemu-fuzz-x86_64" ]; then
		ln -sfn "$bld/qemu-fuzz-x86_64" "$OUT/qemu-fuzz-x86_64"
	fi
	printf '%s\n' "$ver" >"$OUT/qemu-version"
	printf '%s\n' "$src" >"$OUT/qemu-src"
	printf '%s\n' "$bld" >"$OUT/qemu-build"
}

# One build at a time per cache (two clones or two shells may share it).
mkdir -p "$KESYNC_CACHE/qemu"
exec 9>"$KESYNC_CACHE/qemu/.lock"
flock 9
main "$@"

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Debian's guest kernels (kernel/targets), fetched from the archive into the
# cache, and kesync.ko built for each with the compiler its headers need.
# Nothing is installed on the host.
#
#   kernel.sh names              the targets, one per line (the default first)
#   kernel.sh env NAME           fetch if needed; print KVER= KDIR= VMLINUZ=
#                                KPKGVER= KTOOLCHAIN= KROOT= (shell-quoted)
#   kernel.sh modules NAME       unpack the image's modules too; print the
#                                directory that holds lib/modules/KVER
#   kernel.sh make NAME ARGS...  run make ARGS with the target's toolchain
#   kernel.sh build NAME OUT     build kesync.ko (W=1) for NAME from a copy of
#                                module/ and include/ in OUT/src; the module
#                                is OUT/kesync.ko, the log OUT/build.log;
#                                fails on any warning
#
# NAME is a first-column name of kernel/targets or one of its suites.
#
# Cache: $KESYNC_CACHE/apt-kernels/NAME/   a private apt configuration that
#                                          sees only the target's suites
#        $KESYNC_CACHE/kernels/KVER_VER/   the image and headers, unpacked
#        $KESYNC_CACHE/toolroots/SUITE-H/  a compiler root (scripts/toolroot.sh)
# A new package version in the archive is a new directory: the next run
# fetches and builds it.  The apt index is refreshed twice a day
# (KESYNC_APT_REFRESH=1: now).
set -euo pipefail
. "$(dirname "$0")/common.sh"

TARGETS=$KESYNC_ROOT/kernel/targets

# target NAME: set T_NAME, T_SUITES (array), T_TOOLCHAIN from kernel/targets.
target() {
	local name suites tc
	while read -r name suites tc; do
		case $name in '' | '#'*) continue ;; esac
		if [ "$name" = "$1" ] || [[ ",$suites," == *",$1,"* ]]; then
			T_NAME=$name T_TOOLCHAIN=$tc
			IFS=, read -r -a T_SUITES <<<"$suites"
			return 0
		fi
	done <"$TARGETS"
	die "unknown kernel '$1': kernel/targets has $(names | tr '\n' ' ')"
}

names() {
	sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$TARGETS" | awk '{ print $1 }'
}

# mirrors: the archive URIs the system's apt uses (KESYNC_MIRROR and
# KESYNC_SECURITY_MIRROR override them).
mirror() {
	local want=$1 uri
	uri=$( { sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/*.sources 2>/dev/null
		sed -n 's/^[[:space:]]*deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\{0,1\}\([^[:space:]]*\).*/\2/p' \
			/etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null
	} | tr ' ' '\n' | grep -E '^https?://[^ ]*/debian(-security)?/?$' |
		if [ "$want" = security ]; then grep -- '-security/\?$'; else grep -v -- '-security/\?$'; fi |
		head -n 1)
	if [ "$want" = security ]; then
		echo "${KESYNC_SECURITY_MIRROR:-${uri:-http://deb.debian.org/debian-security}}"
	else
		echo "${KESYNC_MIRROR:-${uri:-http://deb.debian.org/debian}}"
	fi
}

# apt_target: a private apt configuration that sees exactly the target's
# suites, with its own lists, cache and an empty dpkg status (so
# 'install --download-only' resolves a whole dependency closure), and no
# locks: the system's apt state is never touched.  Sets APT_CONFIG.
apt_target() {
	local dir=$KESYNC_CACHE/apt-kernels/$T_NAME s uri key
	mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial"
	[ -f "$dir/status" ] || : >"$dir/status"
	{
		for s in "${T_SUITES[@]}"; do
			uri=$(mirror main)
			[[ $s == *-security ]] && uri=$(mirror security)
			printf 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] %s %s main\n' \
				"$uri" "$s"
		done
	} >"$dir/sources.list.new"
	cat >"$dir/apt.conf.new" <<EOC
Dir::Etc::SourceList "$dir/sources.list";
Dir::Etc::SourceParts "/nonexistent";
Dir::Etc::Preferences "/nonexistent";
Dir::Etc::PreferencesParts "/nonexistent";
Dir::State::Lists "$dir/lists";
Dir::State::status "$dir/status";
Dir::Cache "$dir/cache";
Debug::NoLocking "true";
APT::Install-Recommends "false";
APT::Get::Assume-Yes "true";
Acquire::Languages "none";
EOC
	if [ "$(id -u)" -eq 0 ]; then
		echo 'APT::Sandbox::User "root";' >>"$dir/apt.conf.new"
	fi
	cmp -s "$dir/apt.conf.new" "$dir/apt.conf" || mv "$dir/apt.conf.new" "$dir/apt.conf"
	rm -f "$dir/apt.conf.new"
	export APT_CONFIG=$dir/apt.conf
	key=$dir/sources.list
	# .updated: the time of the last successful update (the lists' own
	# mtimes are the server's).
	if ! cmp -s "$dir/sources.list.new" "$key" || [ "${KESYNC_APT_REFRESH:-0}" = 1 ] ||
		[ -z "$(find "$dir/.updated" -mmin -720 2>/dev/null)" ]; then
		mv "$dir/sources.list.new" "$key"
		log "kernel $T_NAME: updating the package index of ${T_SUITES[*]}"
		apt-get -q update >"$dir/update.log" 2>&1 || {
			grep -E '^(E|W):' "$dir/update.log" >&2 || tail -n 5 "$dir/update.log" >&2
			die "kernel $T_NAME: apt-get update of suites '${T_SUITES[*]}' failed" \
				"(is each suite in Debian's archive and reachable? log: $dir/update.log)"
		}
		touch "$dir/.updated"
	else
		rm -f "$dir/sources.list.new"
	fi
}

# lock_target: one kernel.sh at a time per target (the runner boots
# several guests of one kernel at once).
lock_target() {
	mkdir -p "$KESYNC_CACHE/apt-kernels"
	exec 8>"$KESYNC_CACHE/apt-kernels/.lock-$T_NAME"
	flock 8
}

# newest_version PKG: the highest version of PKG among the target's suites.
newest_version() {
	local best='' v
	for v in $(apt-cache madison "$1" 2>/dev/null | awk -F'|' '{ gsub(/ /, "", $2); print $2 }'); do
		if [ -z "$best" ] || dpkg --compare-versions "$v" gt "$best"; then
			best=$v
		fi
	done
	echo "$best"
}

# depends PKG VER REGEX: the package names in PKG=VER's Depends that
# match REGEX (alternatives split).
depends() {
	apt-cache show "$1=$2" 2>/dev/null | sed -n 's/^Depends: //p' | head -n 1 |
		sed 's/[,|]/\n/g' | sed 's/^ *//; s/ .*//' | grep -E "$3" || true
}

# download DIR PKG=VER...: apt-get download into DIR, or die naming them.
download() {
	local dir=$1
	shift
	(cd "$dir" && apt-get -q download "$@" >download.log 2>&1) || {
		tail -n 5 "$dir/download.log" >&2
		die "kernel $T_NAME: cannot download $*"
	}
}

# fix_abs_links ROOT: point absolute symlinks of an unpacked package tree
# at their unpacked targets, so the tree works where it is.
fix_abs_links() {
	local root=$1 l t
	while IFS= read -r -d '' l; do
		t=$(readlink "$l")
		if [ "${t#/}" != "$t" ] && [ "${t#"$root"}" = "$t" ]; then
			ln -sfn "$root$t" "$l"
		fi
	done < <(find "$root" -type l -print0)
}

# fetch: the target's image and headers, unpacked in the cache.  Sets
# K_DIR (the cache entry) and writes K_DIR/env.
fetch() {
	apt_target
	local ver img abi kver dir hdr pkgs p vmlinuz
	ver=$(newest_version linux-image-amd64)
	[ -n "$ver" ] || die "kernel $T_NAME: no linux-image-amd64 in suites '${T_SUITES[*]}'"
	img=$(depends linux-image-amd64 "$ver" '^linux-image-.*-amd64$' | head -n 1)
	[ -n "$img" ] || die "kernel $T_NAME: linux-image-amd64 $ver names no kernel image"
	abi=${img#linux-image-}
	kver=$abi
	dir=$KESYNC_CACHE/kernels/${kver}_$ver
	K_DIR=$dir
	[ -f "$dir/env" ] && return 0

	log "kernel $T_NAME: fetching Debian's $kver ($ver)"
	rm -rf "$dir"
	mkdir -p "$dir/dl" "$dir/root"
	# The image: sid's linux-image-* is empty and depends on linux-binary-*,
	# which holds /usr/lib/modules/KVER/vmlinuz.
	pkgs=("$img")
	while IFS= read -r p; do pkgs+=("$p"); done < <(depends "$img" "$ver" '^linux-binary-')
	for p in "${pkgs[@]}"; do
		download "$dir/dl" "$p=$ver"
		dpkg-deb --fsys-tarfile "$dir/dl/${p}_"*.deb |
			tar -x -C "$dir/root" --wildcards --no-anchored 'vmlinuz-*' 'vmlinuz' \
				2>/dev/null || true
		rm -f "$dir/dl/${p}_"*.deb
	done
	vmlinuz=$(find "$dir/root" -name "vmlinuz-$kver" -o -path "*/modules/$kver/vmlinuz" |
		head -n 1)
	[ -n "$vmlinuz" ] || die "kernel $T_NAME: no vmlinuz in ${pkgs[*]} $ver"

	# The headers: linux-headers-KVER, its -common part and the kbuild tools.
	hdr=linux-headers-$kver
	pkgs=("$hdr")
	while IFS= read -r p; do pkgs+=("$p"); done < <(depends "$hdr" "$ver" \
		'^linux-headers-.*-common(-rt)?$|^linux-kbuild-')
	[ ${#pkgs[@]} -ge 3 ] || die "kernel $T_NAME: $hdr $ver: no -common or linux-kbuild dependency"
	download "$dir/dl" "${pkgs[@]/%/=$ver}"
	for p in "$dir"/dl/*.deb; do
		dpkg-deb -x "$p" "$dir/root"
	done
	rm -rf "$dir/dl"
	fix_abs_links "$dir/root"
	local kdir=$dir/root/usr/src/linux-headers-$kver
	[ -f "$kdir/Makefile" ] || die "kernel $T_NAME: no $kdir/Makefile"
	# Its Makefile names the -common one (and on 7.x its own directory, as
	# KBUILD_OUTPUT) by absolute path.
	sed -i "s@\([ =]\)/usr/src/@\1$dir/root/usr/src/@g" "$kdir/Makefile"
	{
		printf 'KNAME=%q\nKVER=%q\nKPKGVER=%q\n' "$T_NAME" "$kver" "$ver"
		printf 'KDIR=%q\nVMLINUZ=%q\n' "$kdir" "$vmlinuz"
		printf 'KTOOLCHAIN=%q\n' "$T_TOOLCHAIN"
		printf 'KCOMPILER=%q\n' "$(depends "$hdr" "$ver" '^gcc-[0-9]+' | head -n 1)"
	} >"$dir/env.tmp"
	mv "$dir/env.tmp" "$dir/env"
}

# load_env NAME: fetch NAME and source its env; KROOT is the compiler root
# ('' for the host).
# shellcheck disable=SC2153 # KVER, KDIR, ... come from the sourced env
load_env() {
	target "$1"
	lock_target
	fetch
	# shellcheck source=/dev/null
	. "$K_DIR/env"
	KROOT=
	if [ "$KTOOLCHAIN" != host ]; then
		KROOT=$("$KESYNC_ROOT/scripts/toolroot.sh" "$KTOOLCHAIN" "$KCOMPILER")
	fi
}

# kmake ARGS...: make with the target's compiler: on the host, or in its
# private root (a mount namespace and chroot that sees the cache, the
# build directory and $KBIND at the same paths as the host).
kmake() {
	if [ -z "$KROOT" ]; then
		make "$@"
	else
		"$KESYNC_ROOT/scripts/toolroot.sh" --run "$KROOT" \
			"$KESYNC_CACHE" "$KESYNC_BUILD" ${KBIND:+"$KBIND"} -- make "$@"
	fi
}

cmd=${1:-}
case $cmd in
names)
	names
	;;
env)
	[ $# -eq 2 ] || die "usage: kernel.sh env NAME"
	load_env "$2"
	# shellcheck disable=SC2153 # from load_env
	printf 'KNAME=%q\nKVER=%q\nKPKGVER=%q\nKDIR=%q\nVMLINUZ=%q\nKTOOLCHAIN=%q\nKROOT=%q\n' \
		"$KNAME" "$KVER" "$KPKGVER" "$KDIR" "$VMLINUZ" "$KTOOLCHAIN" "$KROOT"
	;;
modules)
	[ $# -eq 2 ] || die "usage: kernel.sh modules NAME"
	target "$2"
	lock_target
	fetch
	# shellcheck source=/dev/null
	. "$K_DIR/env"
	if [ ! -f "$K_DIR/modules/.done" ]; then
		log "kernel $T_NAME: unpacking the modules of $KVER"
		apt_target
		rm -rf "$K_DIR/modules"
		mkdir -p "$K_DIR/modules/dl"
		pkgs=("linux-image-$KVER")
		while IFS= read -r p; do pkgs+=("$p"); done < <(depends "linux-image-$KVER" \
			"$KPKGVER" '^linux-modules-')
		download "$K_DIR/modules/dl" "${pkgs[@]/%/=$KPKGVER}"
		for p in "$K_DIR"/modules/dl/*.deb; do
			dpkg-deb --fsys-tarfile "$p" | tar -x -C "$K_DIR/modules" \
				--wildcards --no-anchored "modules/$KVER/*" 2>/dev/null || true
		done
		rm -rf "$K_DIR/modules/dl"
		touch "$K_DIR/modules/.done"
	fi
	# modprobe -d wants the directory above lib/modules.
	d=$(find "$K_DIR/modules" -type d -path "*/lib/modules/$KVER" | head -n 1)
	[ -n "$d" ] || die "kernel $T_NAME: no modules in linux-image-$KVER"
	echo "${d%/lib/modules/"$KVER"}"
	;;
make)
	[ $# -ge 2 ] || die "usage: kernel.sh make NAME ARGS..."
	load_env "$2"
	shift 2
	kmake "$@"
	;;
build)
	[ $# -eq 3 ] || die "usage: kernel.sh build NAME OUTDIR"
	load_env "$2" >/dev/null
	out=$3
	mkdir -p "$out/src"
	out=$(cd "$out" && pwd)
	KBIND=$out	# seen at the same path in a compiler root
	# Rebuilt when the sources or the kernel package changed.
	mapfile -t srcs < <(find "$KESYNC_ROOT/module" "$KESYNC_ROOT/include" \
		"$KESYNC_ROOT/VERSION" -type f \( -name '*.[ch]' -o -name Kbuild \
		-o -name VERSION \) | LC_ALL=C sort)
	key=$( { hash_files "${srcs[@]}"; echo "$KVER $KPKGVER $KROOT"; } | sha256sum | cut -c1-16)
	if [ -f "$out/kesync.ko" ] && [ "$(cat "$out/key" 2>/dev/null)" = "$key" ]; then
		exit 0
	fi
	log "kernel $KNAME: building kesync.ko for $KVER (W=1)"
	# A copy per kernel: Kbuild writes its objects next to the sources.
	rsync -rc --delete --exclude='*.o' --exclude='*.ko' --exclude='.*' \
		--exclude='*.mod' --exclude='*.mod.c' --exclude=modules.order \
		--exclude=Module.symvers "$KESYNC_ROOT/module/" "$out/src/module/"
	rsync -rc --delete "$KESYNC_ROOT/include/" "$out/src/include/"
	[ -f "$KESYNC_ROOT/VERSION" ] && cp "$KESYNC_ROOT/VERSION" "$out/src/VERSION"
	rm -f "$out/kesync.ko"
	if ! kmake -C "$KDIR" M="$out/src/module" CONFIG_KESYNC=m W=1 modules >"$out/build.log" 2>&1; then
		grep -E -A5 'error|Error' "$out/build.log" | head -n 40 >&2 || tail -n 30 "$out/build.log" >&2
		die "kernel $KNAME ($KVER): kesync.ko does not build (log: $out/build.log)"
	fi
	if grep -Ei 'warning:' "$out/build.log" >&2; then
		die "kernel $KNAME ($KVER): the W=1 build has warnings (log: $out/build.log)"
	fi
	cp "$out/src/module/kesync.ko" "$out/kesync.ko"
	echo "$key" >"$out/key"
	printf '%s\n' "$KVER" >"$out/kver"
	printf 'KNAME=%q\nKVER=%q\nKPKGVER=%q\nVMLINUZ=%q\n' "$KNAME" "$KVER" "$KPKGVER" \
		"$VMLINUZ" >"$out/env"
	;;
*)
	sed -n '3,/^set -e/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'
	[ "$cmd" = -h ] || [ "$cmd" = --help ]
	;;
esac

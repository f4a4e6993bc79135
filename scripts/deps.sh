#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The host's prerequisites.
#
# On Debian 12 (bookworm): install exactly the Debian packages kesync needs
# that are missing, with apt (sudo when not root).  Idempotent: quiet and
# fast when everything is present.
#
# Anywhere else: say what is supported and list the packages, and stop.
#
# KESYNC_SKIP_DEPS=1 (any system): install nothing; check that the commands
# and files the build runs are there, name each one that is missing with
# the package that provides it on Debian 12, and fail if any is missing.
# KESYNC_OS_RELEASE=FILE reads FILE instead of /etc/os-release (tests).
set -euo pipefail
. "$(dirname "$0")/common.sh"

# What kesync needs, one line each:
#   package | why | what the build uses of it
# Checks: cmd:NAME (in PATH, or /usr/sbin, /sbin), file:PATH,
# static:PATH (a statically linked executable), pc:NAME (pkg-config).
# A package marked "optional" is reported but does not fail the check.
# No kernel: the guest kernels and their headers come from Debian's
# archive into the cache (scripts/kernel.sh), through apt-get.
PKG_TABLE='
apt             | fetches the guest kernels and QEMU'"'"'s source from Debian'"'"'s archive (needed even when every package is installed another way) | cmd:apt-get
dpkg            | unpacks the fetched kernels, versions the sources | cmd:dpkg-deb cmd:dpkg-query
debian-archive-keyring | verifies Debian'"'"'s archive for those fetches | file:/usr/share/keyrings/debian-archive-keyring.gpg
build-essential | compiles QEMU, the module, the kernels and the guest programs | cmd:gcc cmd:make cmd:ld file:/usr/include/stdio.h
dpkg-dev        | apt-get source (QEMU), the .deb packaging test | cmd:dpkg-source cmd:dpkg-buildpackage
patch           | QEMU'"'"'s Debian patches, kernel/patches | cmd:patch
git             | lint and packaging list the tracked files | cmd:git
python3         | the test runner, QEMU'"'"'s build, kunit.py | cmd:python3
ninja-build     | builds QEMU | cmd:ninja
meson           | configures QEMU | cmd:meson
pkg-config      | configures QEMU | cmd:pkg-config
libglib2.0-dev  | QEMU | pc:glib-2.0
libpixman-1-dev | QEMU | pc:pixman-1
zlib1g-dev      | QEMU | pc:zlib
libfdt-dev      | QEMU | file:/usr/include/libfdt.h
liburing-dev    | QEMU'"'"'s io_uring block backend (make bench runs nvme with aio=io_uring) | pc:liburing
flex            | the kernels'"'"' Kconfig (debug kernel, KUnit) | cmd:flex
bison           | the kernels'"'"' Kconfig (debug kernel, KUnit) | cmd:bison
bc              | the kernel build | cmd:bc
libelf-dev      | the kernel build (objtool) | file:/usr/include/gelf.h
libssl-dev      | the kernel build (certificates, sign-file) | file:/usr/include/openssl/ssl.h
dwarves         | pahole for the kernel build | cmd:pahole
kmod            | modinfo and depmod (packaging test) | cmd:modinfo cmd:depmod
busybox-static  | the guest'"'"'s userland | static:/bin/busybox
cpio            | packs the initramfs | cmd:cpio
seabios         | the guest'"'"'s firmware | file:/usr/share/seabios/bios-256k.bin
qemu-system-data | the guest'"'"'s option ROMs (linuxboot, qboot for KUnit) | file:/usr/share/qemu/linuxboot_dma.bin file:/usr/share/qemu/qboot.rom
rsync           | copies sources into build trees | cmd:rsync
xz-utils        | unpacks linux-source-6.1 | cmd:xz
zstd            | decompresses compressed kernel modules | cmd:zstd
linux-source-6.1 | the debug kernel, KUnit, the kselftest harness, checkpatch | file:/usr/src/linux-source-6.1.tar.xz
sparse          | make lint, make check | cmd:sparse
coccinelle      | make lint (coccicheck) | cmd:spatch
ocaml-nox       | coccinelle'"'"'s scripting | cmd:ocaml
shellcheck      | make lint | cmd:shellcheck
python3-pyflakes | make lint (the Python scripts) | cmd:pyflakes3
clang-14        | the sanitizer and fuzzer build of QEMU (make check, make fuzz) | cmd:clang-14
libclang-rt-14-dev | ASan, UBSan and libFuzzer for that build | file:/usr/lib/llvm-14/lib/clang/14.0.6/lib/linux/libclang_rt.fuzzer-x86_64.a file:/usr/lib/llvm-14/lib/clang/14.0.6/lib/linux/libclang_rt.asan-x86_64.a
gcovr           | make coverage (merges the driver'"'"'s and the device'"'"'s gcov counts) | cmd:gcovr
groff-base      | renders the man page in the CLI'"'"'s test | cmd:groff
libcap2         | udevadm in the guest (the udev test) | file:/usr/lib/x86_64-linux-gnu/libcap.so.2
fio             | the real-client guest test (copied into the guest) | file:/usr/bin/fio
stress-ng       | the real-client guest test (copied into the guest) | file:/usr/bin/stress-ng
debhelper       | the packaging test | cmd:dh
dh-dkms         | the packaging test | cmd:dh_dkms
dkms            | the packaging test | cmd:dkms
gnuplot-nox     | optional: make bench'"'"'s plot | cmd:gnuplot
socat           | optional: talking to a guest'"'"'s QMP socket by hand (run-guest.sh --qmp) | cmd:socat
'

PKGS=() WHY=() CHECKS=()
while IFS='|' read -r p why checks; do
	p=${p//[[:space:]]/}
	[ -n "$p" ] || continue
	why=${why#"${why%%[![:space:]]*}"}
	PKGS+=("$p")
	WHY+=("${why%"${why##*[![:space:]]}"}")
	CHECKS+=("$checks")
done <<<"$PKG_TABLE"

# print_table PREFIX [INDEX...]: the packages (all of them without
# indexes), one a line, with why they are needed.
print_table() {
	local pre=$1 i
	shift
	[ $# -gt 0 ] || set -- "${!PKGS[@]}"
	for i in "$@"; do
		printf '%s%-22s %s\n' "$pre" "${PKGS[$i]}" "${WHY[$i]}" >&2
	done
}

# os_release KEY: a value of os-release, unquoted.
os_release() {
	[ -r "$OS_RELEASE" ] || return 0
	sed -n "s/^$1=//p" "$OS_RELEASE" 2>/dev/null | head -n 1 |
		sed -e 's/^"\(.*\)"$/\1/' -e "s/^'\(.*\)'\$/\1/"
}

# check: every command and file of the table; prints what is missing and
# returns 1 when a required one is.
check() {
	local i c what where bad=0 nmiss=0 lines=() opt=()
	local spath=$PATH:/usr/sbin:/sbin
	for i in "${!PKGS[@]}"; do
		for c in ${CHECKS[$i]}; do
			what=${c#*:}
			where=
			case $c in
			cmd:*) PATH=$spath command -v "$what" >/dev/null 2>&1 ||
				where="command $what" ;;
			file:*) [ -e "$what" ] || where="file $what" ;;
			static:*)
				if [ ! -x "$what" ]; then
					where="static executable $what"
				elif PATH=$spath command -v readelf >/dev/null 2>&1 &&
					LC_ALL=C PATH=$spath readelf -l "$what" 2>/dev/null |
					grep -q 'program interpreter'; then
					where="static executable $what (it is dynamically linked)"
				fi ;;
			pc:*) if ! command -v pkg-config >/dev/null 2>&1; then
					where="pkg-config module $what (no pkg-config to ask)"
				elif ! pkg-config --exists "$what"; then
					where="pkg-config module $what"
				fi ;;
			esac
			[ -n "$where" ] || continue
			if [[ ${WHY[$i]} == optional:* ]]; then
				opt+=("$(printf '  %-44s %s: %s' "$where" "${PKGS[$i]}" "${WHY[$i]}")")
			else
				lines+=("$(printf '  %-44s %s: %s' "$where" "${PKGS[$i]}" "${WHY[$i]}")")
				nmiss=$((nmiss + 1))
				bad=1
			fi
		done
	done
	if [ "$bad" = 1 ]; then
		printf '[kesync] error: %d required commands or files are missing (what, then the Debian 12 package that provides it):\n' \
			"$nmiss" >&2
		printf '%s\n' "${lines[@]}" >&2
	fi
	if [ ${#opt[@]} -gt 0 ]; then
		printf '[kesync] optional, missing:\n' >&2
		printf '%s\n' "${opt[@]}" >&2
	fi
	return "$bad"
}

# run_step NAME CMD...: run one apt step as root with its output in a log;
# on failure, show apt's own errors and say which step failed.
run_step() {
	local name=$1 logf rc=0
	shift
	logf=$KESYNC_CACHE/deps/$name.log
	mkdir -p "$KESYNC_CACHE/deps"
	as_root "$@" >"$logf" 2>&1 || rc=$?
	[ "$rc" -eq 0 ] && return 0
	printf "[kesync] error: step '%s' failed (exit %d); apt said:\n" "$*" "$rc" >&2
	grep -E '^(E|W|Err):' "$logf" >&2 || tail -n 20 "$logf" >&2
	printf '[kesync] full output: %s\n' "$logf" >&2
	return "$rc"
}

OS_RELEASE=${KESYNC_OS_RELEASE:-/etc/os-release}

if [ "${KESYNC_SKIP_DEPS:-0}" = 1 ]; then
	if check; then
		exit 0
	fi
	printf '[kesync] KESYNC_SKIP_DEPS=1: nothing was installed; install the above (or equivalents) and rerun.\n' >&2
	exit 1
fi

id=$(os_release ID)
vid=$(os_release VERSION_ID)
if [ "$id" != debian ] || [ "$vid" != 12 ]; then
	name=$(os_release PRETTY_NAME)
	[ -r "$OS_RELEASE" ] || name="unknown (no $OS_RELEASE)"
	printf '[kesync] error: this system is %s (ID=%s VERSION_ID=%s).\n' \
		"${name:-unknown}" "${id:-?}" "${vid:-?}" >&2
	cat >&2 <<EOF
[kesync] scripts/deps.sh installs packages only on Debian 12 (bookworm), the
[kesync] supported build host.  Elsewhere, install these Debian 12 packages,
[kesync] or what provides the same commands and files on your system:
EOF
	print_table '    '
	printf '[kesync] as one list: %s\n' "${PKGS[*]}" >&2
	cat >&2 <<EOF
[kesync] then rerun with KESYNC_SKIP_DEPS=1: nothing is installed, and every
[kesync] command or file still missing is named.  apt-get, dpkg-deb and
[kesync] debian-archive-keyring are needed in any case: the guest kernels and
[kesync] QEMU's source are fetched from Debian's archive with them.
EOF
	exit 1
fi

# Debian 12: one dpkg-query for every package.
declare -A have=()
while read -r p st; do
	[ "$st" = installed ] && have[$p]=1
done < <(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "${PKGS[@]}" 2>/dev/null || true)
missing=() idx=()
for i in "${!PKGS[@]}"; do
	[ -n "${have[${PKGS[$i]}]:-}" ] || { missing+=("${PKGS[$i]}"); idx+=("$i"); }
done

[ ${#missing[@]} -eq 0 ] && exit 0

log "installing ${#missing[@]} Debian packages:"
print_table '[kesync]   ' "${idx[@]}"
if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null 2>&1; then
	die "installing needs root, and sudo is not installed: run 'apt-get install ${missing[*]}' as root (or install them another way and set KESYNC_SKIP_DEPS=1)"
fi
export DEBIAN_FRONTEND=noninteractive
run_step apt-get-update apt-get update ||
	die "apt-get update failed (above): is Debian's archive reachable, are /etc/apt/sources.list* right?"
run_step apt-get-install apt-get install -y --no-install-recommends "${missing[@]}" ||
	die "apt-get install failed (above) for: ${missing[*]}"
check || die "packages installed, but the above is still missing"
log "dependencies installed"

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Host-side packaging test, TAP 13 on stdout; exit 0 when all pass.
#
#   scripts/test-packaging.sh
#
# Copies the tracked files (git ls-files, as they are in the work tree) to
# a temporary directory, builds the Debian packages there with
# dpkg-buildpackage -us -uc -b, checks what they hold and that VERSION,
# dkms.conf, debian/changelog and kesyncctl --version agree, then unpacks
# kesync-dkms into a throwaway root and runs dkms build from it against a
# second kernel's headers: Debian's 6.12 backport from scripts/kernel.sh
# (KESYNC_DKMS_KERNEL=NAME picks another of kernel/targets whose headers
# build on the host; KESYNC_DKMS_KVER and KESYNC_DKMS_KDIR give a release
# and a headers directory directly).  The module DKMS built is copied to
# $KESYNC_BUILD/dkms/<KVER>/kesync.ko for a guest to load; the packages and
# the logs are kept in $KESYNC_BUILD/packaging/.
#
# Installs nothing: it needs dpkg-dev, debhelper, dh-dkms, dkms and kmod.
set -uo pipefail
. "$(dirname "$0")/common.sh"

out=$KESYNC_BUILD/packaging
planned=8 n=0 fails=0

for c in dpkg-buildpackage dh dh_dkms dkms modinfo; do
	command -v "$c" >/dev/null 2>&1 ||
		die "$c not found: apt-get install dpkg-dev debhelper dh-dkms dkms kmod"
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kesync-pkg.XXXXXX") || die "mktemp failed"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$out" || die "cannot create $out"
rm -f "$out"/*.deb "$out"/*.log

# result OK DESC [DIAGNOSTIC...]: one TAP line, then the diagnostics.
result() {
	local ok=$1 desc=$2
	shift 2
	n=$((n + 1))
	if [ "$ok" = ok ]; then
		echo "ok $n - $desc"
	else
		echo "not ok $n - $desc"
		fails=$((fails + 1))
	fi
	[ $# -eq 0 ] || printf '%s\n' "$@" | sed 's/^/# /'
}

# check OK-IF-NONEMPTY DESC DIAGNOSTIC...: result ok, or result fail with
# the diagnostics.
check() {
	local ok=$1 desc=$2
	shift 2
	if [ -n "$ok" ]; then
		result ok "$desc"
	else
		result fail "$desc" "$@"
	fi
}

# missing_files DEB PATH...: a line for each PATH that DEB lacks.
missing_files() {
	local deb=$1 p list
	shift
	list=$(dpkg-deb -c "$deb" | awk '{ print $6 }' | sed 's@^\./@/@')
	for p in "$@"; do
		grep -qxF "$p" <<<"$list" || echo "$deb lacks $p"
	done
}

echo "TAP version 13"
echo "1..$planned"

# --- the tree and the versions it declares -------------------------------
version=$(cat "$KESYNC_ROOT/VERSION" 2>/dev/null) || die "no VERSION"
src=$tmp/kesync-$version
mkdir -p "$src"
git -C "$KESYNC_ROOT" ls-files -z |
	tar -C "$KESYNC_ROOT" --null --ignore-failed-read -T - -cf - 2>/dev/null |
	tar -C "$src" -xf - || die "cannot copy the tree"

dkms_ver=$(sed -n 's/^PACKAGE_VERSION="\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$src/dkms.conf")
deb_ver=$(cd "$src" && dpkg-parsechangelog -S Version)
if [ "$dkms_ver" = "$version" ] && [ "$deb_ver" = "$version" ]; then
	result ok "VERSION $version = dkms.conf PACKAGE_VERSION = debian/changelog"
else
	result fail "VERSION $version = dkms.conf PACKAGE_VERSION = debian/changelog" \
		"dkms.conf: '$dkms_ver', debian/changelog: '$deb_ver'"
fi

# --- dpkg-buildpackage ----------------------------------------------------
log "building the Debian packages in $src"
if (cd "$src" && dpkg-buildpackage -us -uc -b) >"$out/dpkg-buildpackage.log" 2>&1; then
	result ok "dpkg-buildpackage -us -uc -b"
else
	result fail "dpkg-buildpackage -us -uc -b" "log: $out/dpkg-buildpackage.log" \
		"$(tail -n 30 "$out/dpkg-buildpackage.log")"
fi
dkms_deb=$tmp/kesync-dkms_${deb_ver}_all.deb
tools_deb=$(find "$tmp" -maxdepth 1 -name "kesync-tools_${deb_ver}_*.deb" | head -n 1)
cp "$tmp"/*.deb "$out/" 2>/dev/null

# --- what the packages hold ------------------------------------------------
s=/usr/src/kesync-$version
if [ -f "$dkms_deb" ]; then
	miss=$(missing_files "$dkms_deb" "$s"/dkms.conf "$s"/VERSION "$s"/module/Kbuild \
		"$s"/module/Makefile "$s"/module/kesync-pci.c \
		"$s"/include/uapi/linux/kesync.h "$s"/include/uapi/linux/kesync_hw.h)
	check "$([ -z "$miss" ] && echo ok)" "kesync-dkms holds $s with module/ and include/uapi/" "$miss"
else
	result fail "kesync-dkms holds $s with module/ and include/uapi/" "no $dkms_deb"
fi

if [ -n "$tools_deb" ]; then
	miss=$(missing_files "$tools_deb" /usr/bin/kesyncctl \
		/usr/share/man/man1/kesyncctl.1.gz /usr/lib/udev/rules.d/60-kesync.rules)
	check "$([ -z "$miss" ] && echo ok)" "kesync-tools holds kesyncctl, kesyncctl.1, 60-kesync.rules" "$miss"
else
	result fail "kesync-tools holds kesyncctl, kesyncctl.1, 60-kesync.rules" \
		"no kesync-tools_${deb_ver}_*.deb"
fi

# --- the packaged kesyncctl ------------------------------------------------
mkdir -p "$tmp/tools-root"
got=
[ -n "$tools_deb" ] && dpkg-deb -x "$tools_deb" "$tmp/tools-root" &&
	got=$("$tmp/tools-root/usr/bin/kesyncctl" --version 2>&1)
check "$([ "$got" = "kesyncctl $version" ] && echo ok)" \
	"kesyncctl --version prints $version" "got: '$got'"

# --- dkms build from the package, for a second kernel --------------------
kname=${KESYNC_DKMS_KERNEL:-6.12-bpo}
KVER=${KESYNC_DKMS_KVER:-} KDIR=${KESYNC_DKMS_KDIR:-} KTOOLCHAIN=host
if [ -z "$KVER" ] || [ -z "$KDIR" ]; then
	log "kernel $kname: scripts/kernel.sh env $kname"
	env=$("$KESYNC_ROOT/scripts/kernel.sh" env "$kname") ||
		die "scripts/kernel.sh env $kname failed"
	eval "$env"
fi
desc="dkms build of kesync-dkms for $KVER"
ko=$KESYNC_BUILD/dkms/$KVER/kesync.ko
# Only what DKMS builds in this run may be booted.
rm -rf "$KESYNC_BUILD/dkms"
if [ "$KTOOLCHAIN" != host ]; then
	result ok "$desc # SKIP its headers need the $KTOOLCHAIN compiler, not the host's"
elif [ ! -f "$dkms_deb" ]; then
	result fail "$desc" "no $dkms_deb"
else
	root=$tmp/dkms-root
	mkdir -p "$root" "$tmp/dkms"
	dpkg-deb -x "$dkms_deb" "$root"
	# No signing: dkms would make a key in /var/lib/dkms; nor temporary
	# files outside $tmp.
	log "dkms build -k $KVER --kernelsourcedir $KDIR"
	if env sign_file=/nonexistent tmp_location="$tmp" \
		mok_signing_key="$tmp/mok.key" mok_certificate="$tmp/mok.pub" \
		dkms build -m kesync -v "$version" -k "$KVER" \
		--kernelsourcedir "$KDIR" --dkmstree "$tmp/dkms" \
		--sourcetree "$root/usr/src" >"$out/dkms.log" 2>&1; then
		built=$(find "$tmp/dkms/kesync/$version/$KVER" -path '*/module/kesync.ko*' | head -n 1)
		mkdir -p "${ko%/*}"
		case $built in
		*.xz) xz -dc "$built" >"$ko" ;;
		*.zst) zstd -q -dc "$built" >"$ko" ;;
		*.gz) gzip -dc "$built" >"$ko" ;;
		?*) cp "$built" "$ko" ;;
		esac
		if [ -s "$ko" ]; then
			result ok "$desc" "module: $ko"
		else
			result fail "$desc" "no kesync.ko under $tmp/dkms/kesync/$version/$KVER"
		fi
	else
		result fail "$desc" "log: $out/dkms.log" "$(tail -n 15 "$out/dkms.log")" \
			"$(find "$tmp/dkms" -name make.log -exec tail -n 30 {} \; 2>/dev/null)"
	fi
fi

# --- what modinfo says of it ----------------------------------------------
if [ -f "$ko" ]; then
	vermagic=$(modinfo -F vermagic "$ko" | awk '{ print $1 }')
	check "$([ "$vermagic" = "$KVER" ] && echo ok)" "modinfo vermagic is $KVER" \
		"vermagic: '$vermagic'"
	modver=$(modinfo -F version "$ko")
	check "$([ "$modver" = "$version" ] && echo ok)" "modinfo version is $version" \
		"version: '$modver'" "module/ needs MODULE_VERSION(KESYNC_RELEASE), from ../VERSION"
elif [ "$KTOOLCHAIN" != host ]; then
	result ok "modinfo vermagic is $KVER # SKIP not built"
	result ok "modinfo version is $version # SKIP not built"
else
	result fail "modinfo vermagic is $KVER" "no module"
	result fail "modinfo version is $version" "no module"
fi

[ "$n" -eq "$planned" ] || die "ran $n tests, planned $planned"
[ "$fails" -eq 0 ]

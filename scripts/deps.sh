#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Install exactly the Debian packages kesync needs.  Idempotent: quiet and
# fast when everything is present.  Uses sudo when not root.
set -euo pipefail
. "$(dirname "$0")/common.sh"

# Build tools, QEMU's build dependencies, the guest kernel and its headers,
# the guest userland, and the checkers used by 'make lint'.
PKGS=(
	build-essential dpkg-dev patch git python3 ninja-build meson pkg-config
	libglib2.0-dev libpixman-1-dev zlib1g-dev libfdt-dev flex bison
	linux-image-amd64 linux-headers-amd64 kmod
	busybox-static cpio seabios qemu-system-data
	bc libelf-dev libssl-dev dwarves rsync xz-utils linux-source-6.1
	sparse coccinelle shellcheck
	fio stress-ng gnuplot-nox socat
)

missing=()
for p in "${PKGS[@]}"; do
	st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$st" = installed ] || missing+=("$p")
done

# linux-headers must match the installed image exactly.
if [ ${#missing[@]} -eq 0 ]; then
	kver=$(guest_kver)
	[ -d "/lib/modules/$kver/build" ] ||
		missing+=("linux-headers-$kver")
fi

[ ${#missing[@]} -eq 0 ] && exit 0

log "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
as_root apt-get update -qq ||
	die "apt-get update failed; is Debian's archive reachable?"
as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" \
	>/dev/null || die "apt-get install failed for: ${missing[*]}"

kver=$(guest_kver)
if [ ! -d "/lib/modules/$kver/build" ]; then
	as_root apt-get install -y -qq "linux-headers-$kver" >/dev/null ||
		die "no linux-headers-$kver to match the guest kernel"
fi
log "dependencies installed"

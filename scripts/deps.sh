#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Install exactly the Debian packages kesync needs.  Idempotent: quiet and
# fast when everything is present.  Uses sudo when not root.
set -euo pipefail
. "$(dirname "$0")/common.sh"

# Build tools, QEMU's build dependencies, the guest userland, the checkers
# used by 'make lint', and what the packaging test builds the .debs and
# runs DKMS with.  No kernel: the guest kernels and their headers come
# from Debian's archive into the cache (scripts/kernel.sh).
PKGS=(
	build-essential dpkg-dev patch git python3 ninja-build meson pkg-config
	libglib2.0-dev libpixman-1-dev zlib1g-dev libfdt-dev flex bison
	kmod debian-archive-keyring
	busybox-static cpio seabios qemu-system-data
	bc libelf-dev libssl-dev dwarves rsync xz-utils linux-source-6.1
	sparse coccinelle ocaml-nox shellcheck
	fio stress-ng gnuplot-nox socat
	debhelper dh-dkms dkms
)

missing=()
for p in "${PKGS[@]}"; do
	st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$st" = installed ] || missing+=("$p")
done

[ ${#missing[@]} -eq 0 ] && exit 0

log "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
as_root apt-get update -qq ||
	die "apt-get update failed; is Debian's archive reachable?"
as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" \
	>/dev/null || die "apt-get install failed for: ${missing[*]}"
log "dependencies installed"

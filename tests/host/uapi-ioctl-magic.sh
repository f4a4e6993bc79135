#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The ioctl numbers of include/uapi/linux/kesync.h use a magic (type) code
# no other kernel interface uses: not one of the codes the kernel's
# Documentation/userspace-api/ioctl/ioctl-number.rst lists (Debian's
# linux-source-6.1, from the cache), nor one of those registered since
# (listed below from mainline's copy of that file).  A shared code lets an
# ioctl meant for one driver reach another (0xb7 is nsfs's and
# remoteproc's).  Prints TAP 13; no device, no root.
set -u

root=$(cd "$(dirname "$0")/../.." && pwd)
# Codes taken after 6.1 (mainline ioctl-number.rst): papr-vpd and friends,
# mrvl_cn10k_dpi and mshv, liveupdate.
newer="0xB2 0xB8 0xBA"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "TAP version 13"
echo "1..3"

cat >"$tmp/m.c" <<'EOC'
#include <stdio.h>
#include <linux/kesync.h>
int main(void)
{
	unsigned int cmds[] = {
		KESYNC_IOC_INFO, KESYNC_IOC_GET_TIMEOUT, KESYNC_IOC_SET_TIMEOUT,
		KESYNC_IOC_STATS, KESYNC_IOC_HW_STATS, KESYNC_IOC_RESET,
		KESYNC_IOC_FAULT, KESYNC_IOC_CANCEL,
	};
	unsigned int i, bad = 0;

	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		bad |= _IOC_TYPE(cmds[i]) != KESYNC_IOC_MAGIC;
	printf("0x%02X %u\n", KESYNC_IOC_MAGIC, bad);
	return 0;
}
EOC
if ! ${CC:-cc} -I"$root/include/uapi" -o "$tmp/m" "$tmp/m.c" 2>"$tmp/err"; then
	echo "not ok 1 - kesync.h compiles"
	sed 's/^/# /' "$tmp/err"
	echo "not ok 2 - # SKIP no magic"
	echo "not ok 3 - # SKIP no magic"
	exit 1
fi
read -r magic bad < <("$tmp/m")
echo "ok 1 - kesync.h compiles, magic $magic"
status=0
if [ "$bad" = 0 ]; then
	echo "ok 2 - every KESYNC_IOC_* has type KESYNC_IOC_MAGIC"
else
	echo "not ok 2 - every KESYNC_IOC_* has type KESYNC_IOC_MAGIC"
	status=1
fi

rst=
for d in "${KESYNC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kesync}"/linux-src/*; do
	f=$d/Documentation/userspace-api/ioctl/ioctl-number.rst
	[ -f "$f" ] && rst=$f
done
users=
if [ -n "$rst" ]; then
	users=$(grep -i "^${magic}[[:space:]]" "$rst")
fi
for c in $newer; do
	[ "${c^^}" = "${magic^^}" ] && users="$users
$c (registered after 6.1, see this test)"
done
if [ -n "$users" ]; then
	echo "not ok 3 - magic $magic is free"
	printf '%s\n' "$users" | sed '/^$/d; s/^/# used by: /'
	status=1
elif [ -z "$rst" ]; then
	echo "ok 3 - magic $magic is free # SKIP no ioctl-number.rst in the cache (run make lint once)"
else
	echo "ok 3 - magic $magic is free (${rst#"${rst%/linux-src/*}"/})"
fi
exit $status

# SPDX-License-Identifier: GPL-2.0
# The 'make run' demo, run inside the guest by /init.
# shellcheck shell=sh
set -e
echo
echo "== kesync demo: Linux $(uname -r), $(nproc) vCPUs"
echo "== loading kesync.ko $KESYNC_MODPARAMS"
kesync_load
dmesg | grep -i kesync | sed 's/^/   /'
for d in /sys/bus/pci/drivers/kesync/0000:*; do
	echo "== bound: $(basename "$d") vendor $(cat "$d/vendor") device $(cat "$d/device")"
done
ls -l /dev/kesync*
echo "== kesyncctl info /dev/kesync0"
kesyncctl info /dev/kesync0
echo "== write 1 MiB of random data to /dev/kesync0, read it back"
dd if=/dev/urandom of=/tmp/in bs=64k count=16 2>/dev/null
dd if=/tmp/in of=/dev/kesync0 bs=1M 2>&1 | tail -n 1
dd if=/dev/kesync0 of=/tmp/out bs=1M count=1 2>&1 | tail -n 1
if cmp /tmp/in /tmp/out; then
	echo "== read-back OK: $(md5sum </tmp/out | cut -c1-32)"
else
	echo "== read-back MISMATCH"
	exit 1
fi
echo "== kesyncctl stats /dev/kesync0"
kesyncctl stats /dev/kesync0

// SPDX-License-Identifier: GPL-2.0
/*
 * kesync_unplug: QEMU's device_del of kesync0 (PCIe hot unplug) while every
 * unit runs I/O.  The I/O ends with -ENODEV, the files close cleanly, the
 * driver lets go of the device and of the module.  Needs a boot with the
 * runner's host hook (tests/matrix: --host-hook); the device does not come
 * back, so it runs last in its boot.
 */
#define _GNU_SOURCE
#include "kesync_hotplug.h"	/* kesync_test.h, kselftest_harness.h */

FIXTURE(unplug) {
	int unused;
};

FIXTURE_SETUP(unplug)
{
}

FIXTURE_TEARDOWN(unplug)
{
}

TEST_F_TIMEOUT(unplug, device_del_during_io, 120)
{
	hotplug_during_io(_metadata, 0);
}

TEST_F_TIMEOUT(unplug, module_unloads_after_removal, 60)
{
	module_cycles_without_device(_metadata);
}

TEST_HARNESS_MAIN

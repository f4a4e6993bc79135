// SPDX-License-Identifier: GPL-2.0
/*
 * kesync_surprise: the device vanishes under the driver (QEMU's
 * surprise-removal property: MMIO reads all ones, no DMA, no interrupts)
 * while every unit runs I/O; then QEMU's device_del takes it away for good.
 * No oops, the I/O ends with -ENODEV, the files close cleanly, the removal
 * does not hang on the dead hardware, the module unloads.  Needs a boot
 * with the runner's host hook (tests/matrix: --host-hook).
 */
#define _GNU_SOURCE
#include "kesync_hotplug.h"	/* kesync_test.h, kselftest_harness.h */

FIXTURE(surprise) {
	int unused;
};

FIXTURE_SETUP(surprise)
{
}

FIXTURE_TEARDOWN(surprise)
{
}

TEST_F_TIMEOUT(surprise, surprise_removal_during_io, 150)
{
	hotplug_during_io(_metadata, 1);
}

TEST_F_TIMEOUT(surprise, module_unloads_after_removal, 60)
{
	module_cycles_without_device(_metadata);
}

TEST_HARNESS_MAIN

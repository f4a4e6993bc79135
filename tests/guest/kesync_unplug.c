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

static void device_del_during_io(struct __test_metadata *_metadata)
{
	struct kt_ioworker *w;
	pid_t pids[KESYNC_MAX_UNITS] = { 0 };
	unsigned int u, units = kt_units();
	char bdf[64], path[128];
	double t0;

	if (!kt_env_uint("KESYNC_HOST_HOOK", 0))
		SKIP(return, "no host hook in this boot (matrix option --host-hook)");
	ASSERT_LT(0, units);
	ASSERT_EQ(0, kt_bdf(bdf, sizeof(bdf)));
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s", bdf);
	w = mmap(NULL, KESYNC_MAX_UNITS * sizeof(*w), PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, w);
	memset(w, 0, KESYNC_MAX_UNITS * sizeof(*w));
	for (u = 0; u < units; u++) {
		int fd = kt_open_unit(u);

		ASSERT_LE(0, fd);
		ASSERT_EQ(0, kt_set_timeout(fd, 1));
		close(fd);
	}
	start_workers(_metadata, w, pids, 0, units);

	t0 = kt_now();
	kt_host_request(QMP_DEVICE_DEL);
	ASSERT_EQ(0, kt_wait_path(path, 0, 60))
		TH_LOG("%s still there 60 s after device_del", path);
	TH_LOG("device removed %.2f s after device_del", kt_now() - t0);
	check_workers(_metadata, w, pids, units, 15);
	EXPECT_EQ(0, kt_wait_nodes(units, 0, 10));
	for (u = 0; u < units; u++)
		kt_kill_reap(pids[u]);
	munmap(w, KESYNC_MAX_UNITS * sizeof(*w));
}

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
	device_del_during_io(_metadata);
}

TEST_F_TIMEOUT(unplug, module_unloads_after_removal, 60)
{
	module_cycles_without_device(_metadata);
}

TEST_HARNESS_MAIN

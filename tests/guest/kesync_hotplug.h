/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kesync_hotplug.h: the device leaves while every unit runs I/O, by QEMU's
 * device_del of kesync0 (on the PCIe root port rp0), after a surprise
 * removal or not.  The guest asks the host with kt_host_request() (the
 * runner's host hook forwards the QMP command) and waits, bounded, for the
 * effect.  Used by kesync_unplug.c and kesync_surprise.c, one boot each:
 * the device does not come back.
 */
#ifndef KESYNC_HOTPLUG_H
#define KESYNC_HOTPLUG_H

#include "kesync_test.h"

#define QMP_DEVICE_DEL \
	"{\"execute\": \"device_del\", \"arguments\": {\"id\": \"kesync0\"}}"
#define QMP_SURPRISE \
	"{\"execute\": \"qom-set\", \"arguments\": {\"path\": " \
	"\"/machine/peripheral/kesync0\", \"property\": \"surprise-removal\", " \
	"\"value\": true}}"

static void check_workers(struct __test_metadata *_metadata,
			  struct kt_ioworker *w, pid_t *pids, unsigned int units,
			  double timeout_s)
{
	unsigned int u;

	for (u = 0; u < units; u++) {
		int st;

		ASSERT_EQ(0, kt_waitpid(pids[u], timeout_s, &st))
			TH_LOG("unit %u: I/O still running %.0f s later", u, timeout_s);
		pids[u] = 0;
		EXPECT_EQ(ENODEV, w[u].first_err)
			TH_LOG("unit %u: I/O ended with %d (%s)", u, w[u].first_err,
			       strerror(w[u].first_err));
		EXPECT_EQ(ENODEV, w[u].later_err);
		EXPECT_EQ(0, w[u].close_ret) TH_LOG("unit %u: close failed", u);
		EXPECT_EQ(0, w[u].data_bad);
		TH_LOG("unit %u: %lld round trips before the device left", u, w[u].ops);
	}
}

static void hotplug_during_io(struct __test_metadata *_metadata, int surprise)
{
	struct kt_ioworker *w;
	pid_t pids[KESYNC_MAX_UNITS] = { 0 };
	unsigned int u, units = kt_units();
	char bdf[64], path[128];
	double t0, end;

	if (!kt_env_uint("KESYNC_HOST_HOOK", 0))
		SKIP(return, "no host hook in this boot (matrix option --host-hook)");
	ASSERT_LT(0, units);
	ASSERT_EQ(0, kt_bdf(bdf, sizeof(bdf)));
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s", bdf);
	w = mmap(NULL, KESYNC_MAX_UNITS * sizeof(*w), PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, w);
	memset(w, 0, KESYNC_MAX_UNITS * sizeof(*w));
	/* Short timeouts: after a surprise removal nothing ever completes. */
	for (u = 0; u < units; u++) {
		int fd = kt_open_unit(u);

		ASSERT_LE(0, fd);
		ASSERT_EQ(0, kt_set_timeout(fd, 1));
		close(fd);
	}
	for (u = 0; u < units; u++) {
		fflush(NULL);
		pids[u] = fork();
		ASSERT_LE(0, pids[u]);
		if (pids[u] == 0)
			kt_io_worker(&w[u], u, 0, kt_seed ^ (0x401 * u));
	}
	end = kt_now() + 20;
	for (u = 0; u < units; u++)
		while (__atomic_load_n(&w[u].ops, __ATOMIC_SEQ_CST) < 3 &&
		       !w[u].done && kt_now() < end)
			kt_msleep(5);
	for (u = 0; u < units; u++)
		ASSERT_LE(3, w[u].ops) TH_LOG("unit %u never got going", u);

	t0 = kt_now();
	if (surprise) {
		int fd;
		char dev[64];

		kt_host_request(QMP_SURPRISE);
		/* The hardware is gone under the driver: -ENODEV everywhere. */
		check_workers(_metadata, w, pids, units, 10);
		TH_LOG("I/O failed %.2f s after the surprise removal", kt_now() - t0);
		EXPECT_EQ(0, access(path, F_OK)) TH_LOG("the PCI device is already gone");
		snprintf(dev, sizeof(dev), KT_DEV_FMT, 0);
		fd = open(dev, O_RDWR);
		if (fd >= 0) {
			uint8_t b[512];

			errno = 0;
			EXPECT_EQ(-1, pread(fd, b, sizeof(b), 0));
			EXPECT_EQ(ENODEV, errno);
			EXPECT_EQ(0, close(fd));
		} else {
			EXPECT_TRUE(errno == ENODEV || errno == ENOENT || errno == ENXIO)
				TH_LOG("open after removal: %s", strerror(errno));
		}
		t0 = kt_now();
	}
	kt_host_request(QMP_DEVICE_DEL);
	ASSERT_EQ(0, kt_wait_path(path, 0, 60))
		TH_LOG("%s still there 60 s after device_del", path);
	TH_LOG("device removed %.2f s after device_del", kt_now() - t0);
	if (!surprise)
		check_workers(_metadata, w, pids, units, 15);
	EXPECT_EQ(0, kt_wait_nodes(units, 0, 10));
	for (u = 0; u < units; u++)
		kt_kill_reap(pids[u]);
	munmap(w, KESYNC_MAX_UNITS * sizeof(*w));
}

/* With its device gone, the driver holds nothing: it unloads and reloads. */
static void module_cycles_without_device(struct __test_metadata *_metadata)
{
	FILE *f;
	char line[512];

	if (!kt_env_uint("KESYNC_HOST_HOOK", 0))
		SKIP(return, "no host hook in this boot");
	f = fopen("/proc/interrupts", "r");
	ASSERT_NE(NULL, f);
	while (fgets(line, sizeof(line), f))
		EXPECT_EQ(NULL, strstr(line, "kesync")) TH_LOG("%s", line);
	fclose(f);
	ASSERT_EQ(0, kt_rmmod()) TH_LOG("rmmod: %s", strerror(errno));
	ASSERT_EQ(0, kt_insmod_only()) TH_LOG("insmod: %s", strerror(errno));
	EXPECT_TRUE(kt_module_loaded());
	EXPECT_NE(0, access("/dev/kesync0", F_OK));
	ASSERT_EQ(0, kt_rmmod()) TH_LOG("rmmod: %s", strerror(errno));
}

#endif /* KESYNC_HOTPLUG_H */

// SPDX-License-Identifier: GPL-2.0
/*
 * kesync_surprise: the device vanishes under the driver (QEMU's
 * surprise-removal property: MMIO and configuration space read all ones,
 * no DMA, no interrupts) while every unit runs I/O; then QEMU's device_del
 * takes it away for good.  No oops, the I/O ends with -ENODEV within the
 * documented T + 1 s of the removal, the files close cleanly, the removal
 * does not hang on the dead hardware, the module unloads.  Needs a boot
 * with the runner's host hook (tests/matrix: --host-hook).
 *
 * The interrupt lost at the removal, which used to cost a second timeout,
 * is made certain with the device's LOST_IRQ fault: unit 0 reads with
 * every interrupt lost, so each of its transfers is completed by the
 * IoTimer's lost-interrupt path, and the device is removed just after one
 * such recovery programmed the next transfer.  That transfer completes
 * (record written, interrupt lost) before the removal, so the driver finds
 * its completion after the removal: it must see that the device is gone
 * instead of programming another transfer into it.  The other units ran
 * round trips before; their requests now wait for the controller, which
 * unit 0's long read holds, and must fail with -ENODEV as well.
 */
#define _GNU_SOURCE
#include <stddef.h>

#include "kesync_hotplug.h"	/* kesync_test.h, kselftest_harness.h */

/* Unit 0's timeout T, seconds: the T of the bound. */
#define SURPRISE_T	2
/*
 * From the removal to -ENODEV on every unit: T + 1 s (docs/driver-design.md),
 * the IoTimer's counter armed at T + 1 ticks when the transfer was
 * programmed, plus 1.5 s: the removal as seen here is polled (2 ms), the
 * IoTimer's once-a-second ticks drift by the timer wheel's granularity
 * (tens of ms), the reset worker and every unit's DpcForIsr run and each
 * worker is woken and reaped, all on an emulated CPU of a loaded host.  A
 * transfer programmed into the absent device costs another T + 1 s: the
 * defect ends the I/O 2(T + 1) s after the removal, 6 s here.
 */
#define ENODEV_BOUND_S	(SURPRISE_T + 1 + 1.5)
/* A LOST_IRQ transfer takes T + 1 s: 8 MiB (128 transfers) outlasts the test. */
#define READER_LEN	(8u << 20)

FIXTURE(surprise) {
	int unused;
};

FIXTURE_SETUP(surprise)
{
}

FIXTURE_TEARDOWN(surprise)
{
}

/* Unit 0: long reads, each transfer's interrupt lost, until an error. */
static void lost_irq_reader(struct kt_ioworker *w)
{
	struct kt_buf b;
	int fd = kt_open_unit(0);
	ssize_t n;

	if (fd < 0 || kt_buf_alloc(&b, READER_LEN, 0)) {
		w->first_err = errno ? errno : -1;
		w->done = 1;
		_exit(0);
	}
	for (;;) {
		n = pread(fd, b.p, READER_LEN, 0);
		if (n != READER_LEN) {
			w->first_err = n < 0 ? errno : -2;
			break;
		}
		__atomic_add_fetch(&w->ops, 1, __ATOMIC_SEQ_CST);
	}
	errno = 0;
	w->later_err = pread(fd, b.p, 512, 0) >= 0 ? -1 : errno;
	w->close_ret = close(fd);
	__atomic_store_n(&w->done, 1, __ATOMIC_SEQ_CST);
	_exit(0);
}

/* Wait until @field of unit 0's counters exceeds @than; 0 or -1. */
static int wait_stat(int fd, size_t field, uint64_t than, double timeout_s)
{
	double end = kt_now() + timeout_s;
	struct kesync_stats st;

	while (kt_now() < end) {
		uint64_t v;

		if (kt_stats(fd, &st))
			return -1;
		memcpy(&v, (char *)&st + field, sizeof(v));
		if (v > than)
			return 0;
		kt_msleep(2);
	}
	return -1;
}

/* Wait until the function's vendor ID reads 0xffff; its time, or -1. */
static double wait_config_gone(const char *path, double timeout_s)
{
	double end = kt_now() + timeout_s;
	char cfg[160];
	uint16_t vendor;
	int fd;

	snprintf(cfg, sizeof(cfg), "%s/config", path);
	fd = open(cfg, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	while (kt_now() < end) {
		if (pread(fd, &vendor, sizeof(vendor), 0) == sizeof(vendor) &&
		    vendor == 0xffff) {
			close(fd);
			return kt_now();
		}
		kt_msleep(2);
	}
	close(fd);
	return -1;
}

TEST_F_TIMEOUT(surprise, surprise_removal_during_io, 150)
{
	struct kt_ioworker *w;
	pid_t pids[KESYNC_MAX_UNITS] = { 0 };
	unsigned int u, units = kt_units();
	char bdf[64], path[128], dev[64];
	struct kesync_stats st;
	double t_req, t_gone, t_end;
	int fd0, fd;

	if (!kt_env_uint("KESYNC_HOST_HOOK", 0))
		SKIP(return, "no host hook in this boot (matrix option --host-hook)");
	ASSERT_LT(0, units);
	ASSERT_EQ(0, kt_bdf(bdf, sizeof(bdf)));
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s", bdf);
	w = mmap(NULL, KESYNC_MAX_UNITS * sizeof(*w), PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, w);
	memset(w, 0, KESYNC_MAX_UNITS * sizeof(*w));
	fd0 = kt_open_unit(0);
	ASSERT_LE(0, fd0);
	ASSERT_EQ(0, kt_set_timeout(fd0, SURPRISE_T));

	/* The other units run round trips, with their interrupts. */
	start_workers(_metadata, w, pids, 1, units);

	/* Unit 0: every interrupt lost; the IoTimer completes each transfer. */
	ASSERT_EQ(0, kt_stats(fd0, &st));	/* earlier programs count too */
	ASSERT_EQ(0, kt_fault(fd0, KESYNC_FAULT_LOST_IRQ, 1000, 0));
	fflush(NULL);
	pids[0] = fork();
	ASSERT_LE(0, pids[0]);
	if (pids[0] == 0)
		lost_irq_reader(&w[0]);
	/*
	 * The first recovery programs the read's second transfer ("partials"
	 * counts it just before): remove the device now, while that transfer's
	 * completion waits for the IoTimer.
	 */
	ASSERT_EQ(0, wait_stat(fd0, offsetof(struct kesync_stats, partials),
			       st.partials, 2 * (SURPRISE_T + 1) + 10))
		TH_LOG("unit 0: no lost interrupt recovered");
	close(fd0);

	t_req = kt_now();
	kt_host_request(QMP_SURPRISE);
	t_gone = wait_config_gone(path, 10);
	ASSERT_LT(0, t_gone) TH_LOG("configuration space never read all ones");
	TH_LOG("the device left %.2f s after the request", t_gone - t_req);

	/* The hardware is gone under the driver: -ENODEV everywhere. */
	check_workers(_metadata, w, pids, units, 3 * (SURPRISE_T + 1) + 10);
	t_end = kt_now();
	TH_LOG("I/O failed %.2f s after the surprise removal (bound %.1f s)",
	       t_end - t_gone, ENODEV_BOUND_S);
	EXPECT_GE(ENODEV_BOUND_S, t_end - t_gone)
		TH_LOG("-ENODEV %.2f s after the removal, T + 1 = %d s: %s",
		       t_end - t_gone, SURPRISE_T + 1,
		       "another timeout was waited for?");
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

	t_req = kt_now();
	kt_host_request(QMP_DEVICE_DEL);
	ASSERT_EQ(0, kt_wait_path(path, 0, 60))
		TH_LOG("%s still there 60 s after device_del", path);
	TH_LOG("device removed %.2f s after device_del", kt_now() - t_req);
	EXPECT_EQ(0, kt_wait_nodes(units, 0, 10));
	for (u = 0; u < units; u++)
		kt_kill_reap(pids[u]);
	munmap(w, KESYNC_MAX_UNITS * sizeof(*w));
}

TEST_F_TIMEOUT(surprise, module_unloads_after_removal, 60)
{
	module_cycles_without_device(_metadata);
}

TEST_HARNESS_MAIN

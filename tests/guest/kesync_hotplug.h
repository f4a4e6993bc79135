/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kesync_hotplug.h: the device leaves while units run I/O, by QEMU's
 * device_del of kesync0 (on the PCIe root port rp0), after a surprise
 * removal or not.  The guest asks the host with kt_host_request() (the
 * runner's host hook forwards the QMP command) and waits, bounded, for the
 * effect.  What kesync_unplug.c and kesync_surprise.c share; they run in a
 * boot each: the device does not come back.
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

/*
 * Start a round-trip worker (kt_io_worker()) on each unit from @first to
 * @units - 1 and wait, bounded, until each has done three round trips.
 */
static void start_workers(struct __test_metadata *_metadata,
			  struct kt_ioworker *w, pid_t *pids,
			  unsigned int first, unsigned int units)
{
	unsigned int u;
	double end;

	for (u = first; u < units; u++) {
		fflush(NULL);
		pids[u] = fork();
		ASSERT_LE(0, pids[u]);
		if (pids[u] == 0)
			kt_io_worker(&w[u], u, 0, kt_seed ^ (0x401 * u));
	}
	end = kt_now() + 20;
	for (u = first; u < units; u++)
		while (__atomic_load_n(&w[u].ops, __ATOMIC_SEQ_CST) < 3 &&
		       !w[u].done && kt_now() < end)
			kt_msleep(5);
	for (u = first; u < units; u++)
		ASSERT_LE(3, w[u].ops) TH_LOG("unit %u never got going", u);
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

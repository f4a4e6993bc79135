// SPDX-License-Identifier: GPL-2.0
/*
 * kesync_params: the load-time parameters.  Every other boot names its
 * interrupt mode (irq_mode=msix|msi|intx, run-guest.sh --irq); here:
 *
 *   bad_params_refused	insmod refuses an unknown irq_mode= or pump=, a
 *			timeout= or reset_timeout_ms= out of range, and
 *			leaves nothing loaded
 *   irq_mode_auto	irq_mode=auto takes the best the device offers
 *			(MSI-X, then MSI, then INTx, as its configuration
 *			space lists them) and the units move data with it
 *   irq_mode_each	irq_mode=msix, msi and intx each: a mode the device
 *			offers is taken and moves data; one it does not
 *			offer fails the probe (the module stays loaded, no
 *			unit appears) and the next load binds again
 *   irqoff_stats_switch	irqoff_stats=0 loads with the accounting off, a
 *			bare irqoff_stats (after =0) turns it on, as for
 *			a bool parameter; writable at run time
 *
 * The boots of tests/matrix that run it hide MSI-X (--irq msi) or both
 * (--irq intx) from the device, or neither, so that between them every
 * fall-back and every refusal is taken.  Each test leaves the module
 * loaded with the boot's own parameters.  On the debug kernel (KASAN,
 * gcov) one insmod takes seconds: hence the tests' time limits.
 */
#define _GNU_SOURCE
#include "kesync_test.h"

#define PM_LEN		(3 * KT_PAGE + 17)

enum { PM_MSIX, PM_MSI, PM_INTX };
static const char *const pm_modes[] = { "msix", "msi", "intx" };

/* What the device's configuration space offers: bit 1 << PM_*. */
static int pm_offered(void)
{
	unsigned char cfg[256];
	char bdf[64], path[160];
	unsigned int ptr, guard;
	int fd, offer = 1 << PM_INTX;
	ssize_t n;

	if (kt_find_pci(bdf, sizeof(bdf)))
		return -1;
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/config", bdf);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = pread(fd, cfg, sizeof(cfg), 0);
	close(fd);
	if (n != sizeof(cfg))
		return -1;
	if (!(cfg[0x06] & 0x10))	/* PCI_STATUS_CAP_LIST */
		return offer;
	ptr = cfg[0x34] & ~3u;
	for (guard = 0; ptr && guard < 48; guard++) {
		if (cfg[ptr] == 0x11)	/* PCI_CAP_ID_MSIX */
			offer |= 1 << PM_MSIX;
		else if (cfg[ptr] == 0x05)	/* PCI_CAP_ID_MSI */
			offer |= 1 << PM_MSI;
		ptr = cfg[ptr + 1] & ~3u;
	}
	return offer;
}

/* The mode the bound controller runs in, from sysfs (W: 32 bytes). */
static int pm_bound_mode(char w[32])
{
	char bdf[64], path[160];
	FILE *f;
	int ok;

	if (kt_bdf(bdf, sizeof(bdf)))
		return -1;
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/irq_mode", bdf);
	f = fopen(path, "r");
	if (!f)
		return -1;
	ok = fscanf(f, "%31s", w) == 1;
	fclose(f);
	return ok ? 0 : -1;
}

/* Unit 0's transfer timeout, or -1. */
static int pm_timeout(void)
{
	int fd = kt_open_unit(0), t;

	if (fd < 0)
		return -1;
	t = kt_get_timeout(fd);
	close(fd);
	return t;
}

/* A write and a checked read on every unit: the mode's interrupts work. */
static void pm_io(struct __test_metadata *_metadata, unsigned int units,
		  uint64_t seed)
{
	unsigned int u;

	for (u = 0; u < units; u++) {
		uint64_t off = (u + 1) * KT_MIB + 5;
		int fd = kt_open_unit(u);

		ASSERT_LE(0, fd) TH_LOG("open unit %u: %s", u, strerror(errno));
		EXPECT_EQ(PM_LEN, kt_pwrite_pat(fd, PM_LEN, off, seed + u))
			TH_LOG("unit %u: write: %s", u, strerror(errno));
		EXPECT_EQ(0, kt_pread_check(fd, PM_LEN, off, seed + u))
			TH_LOG("unit %u: read back: %s", u, strerror(errno));
		close(fd);
	}
}

FIXTURE(params) {
	unsigned int units;
	int offer;
};

FIXTURE_SETUP(params)
{
	self->units = kt_units();
	ASSERT_LT(0, self->units) TH_LOG("no unit answers before the test");
	self->offer = pm_offered();
	ASSERT_LE(0, self->offer) TH_LOG("no kesync configuration space");
	ASSERT_EQ(0, kt_rmmod()) TH_LOG("rmmod: %s", strerror(errno));
}

/* Whatever the test did: the module as the boot loaded it. */
FIXTURE_TEARDOWN(params)
{
	if (kt_module_loaded())
		kt_rmmod();
	kt_insmod(self->units);
}

TEST_F_TIMEOUT(params, bad_params_refused, 180)
{
	static const char *const bad[] = {
		"irq_mode=msi-x", "irq_mode=", "irq_mode=MSIX", "pump=dpc",
		"pump=", "timeout=0", "timeout=3601", "reset_timeout_ms=9",
		"reset_timeout_ms=60001", "irqoff_stats=2",
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		errno = 0;
		EXPECT_EQ(-1, kt_insmod_with(bad[i])) TH_LOG("%s loaded", bad[i]);
		EXPECT_EQ(EINVAL, errno) TH_LOG("%s: %s", bad[i], strerror(errno));
		EXPECT_FALSE(kt_module_loaded()) TH_LOG("%s", bad[i]);
		if (kt_module_loaded())
			kt_rmmod();
	}
	/* The edges of the ranges load. */
	ASSERT_EQ(0, kt_insmod_with("timeout=3600 reset_timeout_ms=60000"));
	ASSERT_EQ(0, kt_wait_nodes(self->units, 1, 15));
	EXPECT_EQ(3600, pm_timeout());
	ASSERT_EQ(0, kt_rmmod());
	ASSERT_EQ(0, kt_insmod_with("timeout=1 reset_timeout_ms=10"));
	ASSERT_EQ(0, kt_wait_nodes(self->units, 1, 15));
	EXPECT_EQ(1, pm_timeout());
	pm_io(_metadata, self->units, kt_seed ^ 0xba5e);
}

TEST_F_TIMEOUT(params, irq_mode_auto, 120)
{
	int want = self->offer & (1 << PM_MSIX) ? PM_MSIX :
		   self->offer & (1 << PM_MSI) ? PM_MSI : PM_INTX;
	char w[32];

	TH_LOG("the device offers%s%s INTx: auto must take %s",
	       self->offer & (1 << PM_MSIX) ? " MSI-X," : "",
	       self->offer & (1 << PM_MSI) ? " MSI," : "", pm_modes[want]);
	ASSERT_EQ(0, kt_insmod_with("irq_mode=auto"))
		TH_LOG("insmod: %s", strerror(errno));
	ASSERT_EQ(0, kt_wait_nodes(self->units, 1, 15));
	ASSERT_EQ(0, pm_bound_mode(w));
	EXPECT_STREQ(pm_modes[want], w);
	pm_io(_metadata, self->units, kt_seed ^ 0xa070);
}

TEST_F_TIMEOUT(params, irq_mode_each, 180)
{
	char arg[32], bdf[64], w[32];
	unsigned int m;

	for (m = 0; m < ARRAY_SIZE(pm_modes); m++) {
		snprintf(arg, sizeof(arg), "irq_mode=%s", pm_modes[m]);
		ASSERT_EQ(0, kt_insmod_with(arg))
			TH_LOG("%s: %s", arg, strerror(errno));
		/* The probe ran in finit_module(): bound now or never. */
		if (self->offer & (1 << m)) {
			ASSERT_EQ(0, kt_wait_nodes(self->units, 1, 15))
				TH_LOG("%s: no unit", arg);
			ASSERT_EQ(0, pm_bound_mode(w));
			EXPECT_STREQ(pm_modes[m], w);
			pm_io(_metadata, self->units, kt_seed ^ (0x30de + m));
		} else {
			EXPECT_NE(0, kt_bdf(bdf, sizeof(bdf)))
				TH_LOG("%s: the device has no %s, yet %s is bound",
				       arg, pm_modes[m], bdf);
			EXPECT_NE(0, access("/dev/kesync0", F_OK));
		}
		ASSERT_EQ(0, kt_rmmod()) TH_LOG("%s: rmmod: %s", arg,
						strerror(errno));
	}
}

#define IRQOFF_PARAM	"/sys/module/" KT_MODULE "/parameters/irqoff_stats"

/* The irqoff_stats parameter as sysfs shows it: 'Y', 'N', or 0. */
static char irqoff_param(void)
{
	char buf[8] = "";
	FILE *f = fopen(IRQOFF_PARAM, "r");

	if (!f)
		return 0;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = 0;
	fclose(f);
	return buf[0];
}

TEST_F_TIMEOUT(params, irqoff_stats_switch, 120)
{
	ASSERT_EQ(0, kt_insmod_with("irqoff_stats=0"))
		TH_LOG("insmod: %s", strerror(errno));
	ASSERT_EQ(0, kt_wait_nodes(self->units, 1, 15));
	EXPECT_EQ('N', irqoff_param());
	ASSERT_EQ(0, kt_write_file(IRQOFF_PARAM, "on"));
	EXPECT_EQ('Y', irqoff_param());
	ASSERT_EQ(0, kt_rmmod());
	ASSERT_EQ(0, kt_insmod_with("irqoff_stats=0 irqoff_stats"))
		TH_LOG("insmod: %s", strerror(errno));
	ASSERT_EQ(0, kt_wait_nodes(self->units, 1, 15));
	EXPECT_EQ('Y', irqoff_param());
	errno = 0;
	EXPECT_NE(0, kt_write_file(IRQOFF_PARAM, "sometimes"));
	EXPECT_EQ(EINVAL, errno) TH_LOG("%s", strerror(errno));
	EXPECT_EQ('Y', irqoff_param());
	pm_io(_metadata, self->units, kt_seed ^ 0x1f0f);
}

KT_FINAL_HEALTH_TEST(0)

TEST_HARNESS_MAIN

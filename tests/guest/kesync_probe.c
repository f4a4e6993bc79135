// SPDX-License-Identifier: GPL-2.0
/*
 * kesync_probe: the driver bound the device, its char devices exist and
 * answer, and the device's interrupt reaches the driver.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/kesync.h>
#include <linux/kesync_hw.h>

#include "kesync_test.h"	/* and kselftest_harness.h */

static unsigned int env_uint(const char *name, unsigned int def)
{
	const char *s = getenv(name);

	return s ? strtoul(s, NULL, 0) : def;
}

FIXTURE(unit0) {
	int fd;
};

FIXTURE_SETUP(unit0)
{
	self->fd = open("/dev/kesync0", O_RDWR);
	ASSERT_LE(0, self->fd) TH_LOG("open /dev/kesync0: %s", strerror(errno));
}

FIXTURE_TEARDOWN(unit0)
{
	close(self->fd);
}

TEST_F(unit0, info_matches_device)
{
	struct kesync_info info;

	memset(&info, 0xa5, sizeof(info));
	ASSERT_EQ(0, ioctl(self->fd, KESYNC_IOC_INFO, &info));
	EXPECT_EQ(KESYNC_VERSION_MAJOR, info.version >> 16);
	EXPECT_EQ(env_uint("KESYNC_UNITS", 2), info.units);
	EXPECT_EQ(0, info.unit);
	EXPECT_LT(0, info.max_segs);
	EXPECT_LT(0, info.max_xfer);
	EXPECT_LT(0, info.unit_size);
	EXPECT_EQ(0, info.reserved0);
	EXPECT_EQ(0, info.reserved[0]);
}

TEST_F(unit0, every_unit_has_a_node)
{
	struct kesync_info info;
	unsigned int u;
	char path[64];

	ASSERT_EQ(0, ioctl(self->fd, KESYNC_IOC_INFO, &info));
	for (u = 0; u < info.units; u++) {
		int fd;

		snprintf(path, sizeof(path), "/dev/kesync%u", u);
		fd = open(path, O_RDWR);
		EXPECT_LE(0, fd) TH_LOG("open %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
	}
}

TEST_F(unit0, write_read_back)
{
	unsigned char out[4096], in[4096];
	unsigned int i;

	for (i = 0; i < sizeof(out); i++)
		out[i] = (unsigned char)(i * 7 + 3);
	ASSERT_EQ(sizeof(out), pwrite(self->fd, out, sizeof(out), 8192));
	memset(in, 0, sizeof(in));
	ASSERT_EQ(sizeof(in), pread(self->fd, in, sizeof(in), 8192));
	EXPECT_EQ(0, memcmp(in, out, sizeof(in)));
}

TEST_F(unit0, device_interrupts_reach_driver)
{
	struct kesync_hw_stats hw;
	struct kesync_stats st;
	unsigned char buf[512];
	unsigned int irqs;

	ASSERT_EQ(0, ioctl(self->fd, KESYNC_IOC_HW_STATS, &hw));
	irqs = hw.irqs;
	/* A transfer completes only through the device's interrupt. */
	ASSERT_EQ(sizeof(buf), pread(self->fd, buf, sizeof(buf), 0));
	ASSERT_EQ(0, ioctl(self->fd, KESYNC_IOC_HW_STATS, &hw));
	ASSERT_EQ(0, ioctl(self->fd, KESYNC_IOC_STATS, &st));
	EXPECT_LT(irqs, hw.irqs);
	EXPECT_LT(0, hw.xfers);
	EXPECT_EQ(0, st.lost_irqs);
	EXPECT_EQ(0, hw.late_dma);
}

/* A sysfs file's first word into @out; -1 when it cannot be read. */
static int read_word(const char *path, char *out, size_t len)
{
	FILE *f = fopen(path, "r");
	int ok;

	if (!f)
		return -1;
	ok = fscanf(f, "%63s", out) == 1 && strlen(out) < len;
	fclose(f);
	return ok ? 0 : -1;
}

/*
 * Unit @unit's MSI-X line (name "kesync-ctlC-u<unit>") in /proc/interrupts:
 * its IRQ number, and its count on each CPU into @cnt (@max CPUs).  The
 * number of CPUs, or -1 when there is no such line.
 */
static int unit_irq_counts(unsigned int unit, int *irq,
			   unsigned long long *cnt, int max)
{
	char line[1024], suffix[32];
	int ncpu = -1, found = -1;
	FILE *f = fopen("/proc/interrupts", "re");

	if (!f)
		return -1;
	snprintf(suffix, sizeof(suffix), "-u%u", unit);
	while (fgets(line, sizeof(line), f)) {
		char *p = line, *end, *name;
		int n = 0;

		if (ncpu < 0) {		/* the header: CPU0 CPU1 ... */
			for (ncpu = 0; (p = strstr(p, "CPU")); p += 3)
				ncpu++;
			continue;
		}
		name = strrchr(line, ' ');
		if (!name)
			continue;
		name[strcspn(name, "\n")] = '\0';
		if (strncmp(name + 1, "kesync-ctl", 10) ||
		    strlen(name) < strlen(suffix) ||
		    strcmp(name + strlen(name) - strlen(suffix), suffix))
			continue;
		*irq = strtol(line, &end, 10);
		p = end + 1;		/* past the ':' */
		for (n = 0; n < ncpu && n < max; n++)
			cnt[n] = strtoull(p, &p, 10);
		found = n;
		break;
	}
	fclose(f);
	return found;
}

/*
 * With MSI-X each unit's vector is placed on its CPU (the hint) before it
 * is requested (kesync_spread_irq()): /proc/irq/N/effective_affinity_list
 * names that CPU from the load on, as docs/driver-design.md tells users
 * to read it, and every interrupt the unit took, its first included,
 * landed there.  Units 0 and 1 are on two CPUs when there are two.  (A
 * hint set after request_irq() moved the vector only at its first
 * interrupt on x86 without interrupt remapping: until then the file named
 * another CPU, and that first interrupt went there.)
 */
TEST_F(unit0, msix_vectors_where_hinted)
{
	unsigned long long before[64], after[64];
	struct kesync_info info;
	int eff[2] = { -1, -1 };
	unsigned int u;

	ASSERT_EQ(0, ioctl(self->fd, KESYNC_IOC_INFO, &info));
	if (info.irq_mode != KESYNC_IRQ_MSIX)
		SKIP(return, "not MSI-X: one vector for every unit");
	for (u = 0; u < info.units; u++) {
		char path[64], word[64];
		unsigned char buf[512];
		unsigned long hint;
		int irq, n, c, fd, cpu;

		n = unit_irq_counts(u, &irq, before, 64);
		ASSERT_LT(0, n) TH_LOG("unit %u: no kesync-ctl*-u%u line", u, u);
		snprintf(path, sizeof(path), "/proc/irq/%d/effective_affinity_list", irq);
		ASSERT_EQ(0, read_word(path, word, sizeof(word)));
		cpu = strtol(word, NULL, 10);
		snprintf(path, sizeof(path), "/proc/irq/%d/affinity_hint", irq);
		ASSERT_EQ(0, read_word(path, word, sizeof(word)));
		/* a hex mask, in 32-bit words separated by commas */
		hint = strtoul(strrchr(word, ',') ? strrchr(word, ',') + 1 : word,
			       NULL, 16);
		EXPECT_TRUE(cpu < 32 && (hint >> cpu & 1))
			TH_LOG("unit %u: IRQ %d's effective CPU %d is not in its hint %s",
			       u, irq, cpu, word);
		snprintf(path, sizeof(path), KT_DEV_FMT, info.minor - info.unit + u);
		fd = open(path, O_RDONLY);
		ASSERT_LE(0, fd) TH_LOG("open %s: %s", path, strerror(errno));
		EXPECT_EQ(sizeof(buf), pread(fd, buf, sizeof(buf), 0));
		close(fd);
		ASSERT_EQ(n, unit_irq_counts(u, &irq, after, 64));
		EXPECT_LT(before[cpu], after[cpu])
			TH_LOG("unit %u: its read did not interrupt CPU %d", u, cpu);
		for (c = 0; c < n; c++) {
			if (c == cpu)
				continue;
			EXPECT_EQ(0, after[c])
				TH_LOG("unit %u: %llu interrupt(s) on CPU %d, effective CPU %d",
				       u, after[c], c, cpu);
		}
		if (u < 2)
			eff[u] = cpu;
	}
	if (info.units > 1 && sysconf(_SC_NPROCESSORS_ONLN) > 1)
		EXPECT_NE(eff[0], eff[1]);
}

/*
 * The sysfs files say what the ioctls say: the unit's timeout (and its
 * store validates like KESYNC_IOC_SET_TIMEOUT), every counter of
 * KESYNC_IOC_STATS, the controller's interrupt mode, pump and units.
 */
TEST_F(unit0, sysfs_matches_ioctls)
{
	static const char *const irq_names[] = { "msix", "msi", "intx" };
	static const char *const pump_names[] = { "startio", "thread" };
	const char *cls = "/sys/class/kesync/kesync0";
	struct kesync_info info;
	struct kesync_stats st;
	char path[160], w[64], bdf[64];
	unsigned int was;
	static const struct {
		const char *name;
		size_t off;
	} stats[] = {
#define S(f) { #f, offsetof(struct kesync_stats, f) }
		S(requests), S(bytes), S(partials), S(timeouts), S(lost_irqs),
		S(resets), S(cancels), S(ctrl_waits), S(spurious), S(errors),
		S(short_xfers), S(hw_busy),
#undef S
	};
	unsigned int i;

	ASSERT_EQ(0, ioctl(self->fd, KESYNC_IOC_INFO, &info));
	snprintf(path, sizeof(path), "%s/timeout", cls);
	ASSERT_EQ(0, read_word(path, w, sizeof(w))) TH_LOG("%s", path);
	EXPECT_EQ(info.timeout, strtoul(w, NULL, 0));
	was = info.timeout;
	ASSERT_EQ(0, kt_write_file(path, "7"));
	EXPECT_EQ(7, kt_get_timeout(self->fd));
	errno = 0;
	EXPECT_EQ(-1, kt_write_file(path, "0"));
	EXPECT_EQ(EINVAL, errno);
	snprintf(w, sizeof(w), "%u", KESYNC_TIMEOUT_MAX + 1);
	errno = 0;
	EXPECT_EQ(-1, kt_write_file(path, w));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(-1, kt_write_file(path, "soon"));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(7, kt_get_timeout(self->fd));
	EXPECT_EQ(0, kt_set_timeout(self->fd, was));

	/* Nothing runs on the unit between the ioctl and the files. */
	ASSERT_EQ(0, ioctl(self->fd, KESYNC_IOC_STATS, &st));
	for (i = 0; i < ARRAY_SIZE(stats); i++) {
		snprintf(path, sizeof(path), "%s/stats/%s", cls, stats[i].name);
		ASSERT_EQ(0, read_word(path, w, sizeof(w))) TH_LOG("%s", path);
		EXPECT_EQ(*(const __u64 *)((const char *)&st + stats[i].off),
			  strtoull(w, NULL, 0)) TH_LOG("%s", stats[i].name);
	}

	ASSERT_EQ(0, kt_bdf(bdf, sizeof(bdf)));
	ASSERT_GT(ARRAY_SIZE(irq_names), info.irq_mode);
	ASSERT_GT(ARRAY_SIZE(pump_names), info.pump);
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/irq_mode", bdf);
	ASSERT_EQ(0, read_word(path, w, sizeof(w)));
	EXPECT_STREQ(irq_names[info.irq_mode], w);
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/pump", bdf);
	ASSERT_EQ(0, read_word(path, w, sizeof(w)));
	EXPECT_STREQ(pump_names[info.pump], w);
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/units", bdf);
	ASSERT_EQ(0, read_word(path, w, sizeof(w)));
	EXPECT_EQ(info.units, strtoul(w, NULL, 0));
}

/* The run-time writable reset_timeout_ms refuses what would break resets. */
TEST(reset_timeout_ms_bounds)
{
	static const char param[] = "/sys/module/kesync/parameters/reset_timeout_ms";
	static const char *const bad[] = { "0", "9", "60001", "4294967296", "soon" };
	char was[64];
	unsigned int i;

	ASSERT_EQ(0, read_word(param, was, sizeof(was))) TH_LOG("%s", param);
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		errno = 0;
		EXPECT_EQ(-1, kt_write_file(param, bad[i])) TH_LOG("%s", bad[i]);
		EXPECT_TRUE(errno == EINVAL || errno == ERANGE)
			TH_LOG("%s: %s", bad[i], strerror(errno));
	}
	ASSERT_EQ(0, kt_write_file(param, "60000"));
	ASSERT_EQ(0, kt_write_file(param, "10"));
	ASSERT_EQ(0, kt_write_file(param, was));
}

/* The counts of the "isr" and "program_read" lines of debugfs irqoff. */
static int irqoff_counts(const char *path, unsigned long long *isr,
			 unsigned long long *rd)
{
	FILE *f = fopen(path, "r");
	unsigned long long c;
	char line[512];
	int n = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "isr %llu", &c) == 1) {
			*isr = c;
			n |= 1;
		} else if (sscanf(line, "program_read %llu", &c) == 1) {
			*rd = c;
			n |= 2;
		}
	}
	fclose(f);
	return n == 3 ? 0 : -1;
}

/*
 * A PCI device that is not a kesync controller, bound to kesync by hand
 * (driver_override, then the driver's bind file): the probe refuses it
 * with -ENODEV before it writes a register, and it stays without a driver.
 * The params-msi boot adds two (tests/matrix): QEMU's edu device, whose
 * BAR0 (1 MiB) starts with its own identification register, not MAGIC;
 * and an ivshmem-plain, whose BAR0 (256 bytes) is smaller than
 * KESYNC_BAR0_SIZE.  The controller goes on working.
 */
TEST(foreign_devices_refused)
{
	static const struct {
		unsigned long vendor, device;
		const char *what;
	} devs[] = {
		{ 0x1234, 0x11e8, "edu (MAGIC differs)" },
		{ 0x1af4, 0x1110, "ivshmem-plain (BAR0 too small)" },
	};
	char bdf[64], path[192];
	unsigned char buf[512];
	unsigned int i, found = 0;
	int fd;

	for (i = 0; i < ARRAY_SIZE(devs); i++) {
		if (kt_find_pci_id(devs[i].vendor, devs[i].device, bdf, sizeof(bdf)))
			continue;
		found++;
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver", bdf);
		ASSERT_NE(0, access(path, F_OK)) TH_LOG("%s has a driver", bdf);
		snprintf(path, sizeof(path),
			 "/sys/bus/pci/devices/%s/driver_override", bdf);
		ASSERT_EQ(0, kt_write_file(path, "kesync"))
			TH_LOG("%s: %s", path, strerror(errno));
		errno = 0;
		EXPECT_EQ(-1, kt_write_file(KT_DRIVER_DIR "/bind", bdf))
			TH_LOG("%s %s: bound", devs[i].what, bdf);
		EXPECT_EQ(ENODEV, errno)
			TH_LOG("%s: %s", devs[i].what, strerror(errno));
		EXPECT_EQ(0, kt_write_file(path, "\n"));
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver", bdf);
		EXPECT_NE(0, access(path, F_OK)) TH_LOG("%s has a driver", bdf);
	}
	if (!found)
		SKIP(return, "no foreign PCI device (the params-msi boot has them)");
	EXPECT_EQ(2, found);
	fd = open("/dev/kesync0", O_RDWR);
	ASSERT_LE(0, fd) TH_LOG("open /dev/kesync0: %s", strerror(errno));
	EXPECT_EQ(sizeof(buf), pread(fd, buf, sizeof(buf), 0));
	close(fd);
}

/*
 * A controller whose identification registers lie.  A bochs-display (the
 * params-msi boot adds one, tests/matrix) has plain memory, its framebuffer,
 * at BAR0: the test writes there MAGIC and then, one case at a time, a
 * VERSION, CAPS, MAX_SEGS, MAX_XFER or UNIT_SIZE out of what the driver
 * supports, and binds kesync to it by hand (driver_override).  Each probe
 * refuses it with -ENODEV and logs why.  The last case has a good geometry
 * and a STATUS that stays RESETTING: the probe's controller reset gives up
 * after KESYNC_PROBE_RESET_US (11 s) with -ETIMEDOUT and the probe unwinds
 * what it set up.  The function stays without a driver, and the real
 * controller goes on working.
 */
#define FAKE_VENDOR	0x1234
#define FAKE_DEVICE	0x1111

struct fake_regs {
	const char *what;
	unsigned int version, caps, max_segs, max_xfer, size_lo, size_hi;
	unsigned int status;
	int err;		/* errno of the bind */
	const char *log;	/* what the kernel log says */
};

/* One register of the mapped BAR0: an access the compiler keeps. */
static void fake_wr(void *bar, unsigned int reg, unsigned int v)
{
	__atomic_store_n((unsigned int *)((char *)bar + reg), v, __ATOMIC_RELAXED);
}

static unsigned int fake_rd(void *bar, unsigned int reg)
{
	return __atomic_load_n((unsigned int *)((char *)bar + reg), __ATOMIC_RELAXED);
}

static void fake_fill(void *bar, const struct fake_regs *f)
{
	fake_wr(bar, KESYNC_REG_MAGIC, KESYNC_MAGIC);
	fake_wr(bar, KESYNC_REG_VERSION, f->version);
	fake_wr(bar, KESYNC_REG_CAPS, f->caps);
	fake_wr(bar, KESYNC_REG_MAX_SEGS, f->max_segs);
	fake_wr(bar, KESYNC_REG_MAX_XFER, f->max_xfer);
	fake_wr(bar, KESYNC_REG_UNIT_SIZE_LO, f->size_lo);
	fake_wr(bar, KESYNC_REG_UNIT_SIZE_HI, f->size_hi);
	fake_wr(bar, KESYNC_REG_CTRL, 0);
	fake_wr(bar, KESYNC_REG_STATUS, f->status);
}

/* A mapping of BAR0 through its resource file, or MAP_FAILED. */
static void *fake_map(const char *res, int prot)
{
	int fd = open(res, (prot & PROT_WRITE ? O_RDWR : O_RDONLY) | O_SYNC |
		      O_CLOEXEC);
	void *map;

	if (fd < 0)
		return MAP_FAILED;
	map = mmap(NULL, KESYNC_BAR0_SIZE, prot, MAP_SHARED, fd, 0);
	close(fd);
	return map;
}

/* The bochs-display, enabled and offered to kesync; undone at teardown. */
FIXTURE(fake) {
	char bdf[64];
	char res[192], ovr[192], drv[192], enable[192];
	bool enabled, overridden;
};

FIXTURE_SETUP(fake)
{
	memset(self, 0, sizeof(*self));
	if (kt_find_pci_id(FAKE_VENDOR, FAKE_DEVICE, self->bdf, sizeof(self->bdf))) {
		self->bdf[0] = 0;
		return;
	}
	snprintf(self->res, sizeof(self->res),
		 "/sys/bus/pci/devices/%s/resource0", self->bdf);
	snprintf(self->ovr, sizeof(self->ovr),
		 "/sys/bus/pci/devices/%s/driver_override", self->bdf);
	snprintf(self->drv, sizeof(self->drv),
		 "/sys/bus/pci/devices/%s/driver", self->bdf);
	snprintf(self->enable, sizeof(self->enable),
		 "/sys/bus/pci/devices/%s/enable", self->bdf);
	ASSERT_NE(0, access(self->drv, F_OK)) TH_LOG("%s has a driver", self->bdf);
	ASSERT_EQ(0, kt_write_file(self->enable, "1"))
		TH_LOG("%s: %s", self->enable, strerror(errno));
	self->enabled = true;
	/* A failed set-up gets no teardown: undo the enable here. */
	if (kt_write_file(self->ovr, "kesync")) {
		TH_LOG("%s: %s", self->ovr, strerror(errno));
		kt_write_file(self->enable, "0");
		self->enabled = false;
	}
	ASSERT_TRUE(self->enabled);
	self->overridden = true;
}

FIXTURE_TEARDOWN(fake)
{
	/* Also after a failure: no later insmod may find it offered. */
	if (self->overridden)
		EXPECT_EQ(0, kt_write_file(self->ovr, "\n"));
	if (self->bdf[0] && !access(self->drv, F_OK))
		kt_write_file(KT_DRIVER_DIR "/unbind", self->bdf);
	if (self->enabled)
		EXPECT_EQ(0, kt_write_file(self->enable, "0"));
}

TEST_F_TIMEOUT(fake, lying_controller_refused, 60)
{
	static const struct fake_regs cases[] = {
		{ "VERSION 2.0", (KESYNC_VERSION_MAJOR + 1) << 16, 1, 16,
		  65536, 1 << 20, 0, 0, ENODEV, "unsupported kesync interface version" },
		{ "VERSION 0.9", 9, 1, 16, 65536, 1 << 20, 0, 0, ENODEV,
		  "unsupported kesync interface version" },
		{ "no unit", KESYNC_VERSION, 0, 16, 65536, 1 << 20, 0, 0,
		  ENODEV, "bad geometry: units 0," },
		{ "9 units", KESYNC_VERSION, KESYNC_MAX_UNITS + 1, 16, 65536,
		  1 << 20, 0, 0, ENODEV, "bad geometry: units 9," },
		{ "no segment", KESYNC_VERSION, 1, 0, 65536, 1 << 20, 0, 0,
		  ENODEV, "max segments 0," },
		{ "too many segments", KESYNC_VERSION, 1,
		  KESYNC_MAX_SEGS_LIMIT + 1, 65536, 1 << 20, 0, 0, ENODEV,
		  "max segments 257," },
		{ "transfers of 0 bytes", KESYNC_VERSION, 1, 16, 0, 1 << 20, 0,
		  0, ENODEV, "max transfer 0," },
		{ "transfers too long", KESYNC_VERSION, 1, 16,
		  KESYNC_MAX_XFER_LIMIT + 1, 1 << 20, 0, 0, ENODEV,
		  "bad geometry" },
		{ "units of 0 bytes", KESYNC_VERSION, 1, 16, 65536, 0, 0, 0,
		  ENODEV, "unit size 0" },
		{ "units past loff_t", KESYNC_VERSION, 1, 16, 65536, 0,
		  0x80000000u, 0, ENODEV, "unit size 9223372036854775808" },
		{ "a reset that never ends", KESYNC_VERSION, 1, 16, 65536,
		  1 << 20, 0, KESYNC_STATUS_RESETTING, ETIMEDOUT,
		  "controller reset failed: -110" },
	};
	unsigned char buf[512];
	unsigned int i;
	int fd, kmsg;
	void *map;

	if (!self->bdf[0])
		SKIP(return, "no bochs-display (the params-msi boot has one)");
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct fake_regs *f = &cases[i];
		double t = kt_now();

		/*
		 * A new mapping each time: a driver claiming BAR0 revokes the
		 * mappings of its resource file (CONFIG_IO_STRICT_DEVMEM).
		 */
		map = fake_map(self->res, PROT_READ | PROT_WRITE);
		ASSERT_NE(MAP_FAILED, map) TH_LOG("mmap %s: %s", self->res, strerror(errno));
		fake_fill(map, f);
		ASSERT_EQ(KESYNC_MAGIC, fake_rd(map, KESYNC_REG_MAGIC))
			TH_LOG("BAR0 of %s is not memory", self->bdf);
		munmap(map, KESYNC_BAR0_SIZE);
		kmsg = kt_kmsg_open_end();
		ASSERT_LE(0, kmsg);
		errno = 0;
		EXPECT_EQ(-1, kt_write_file(KT_DRIVER_DIR "/bind", self->bdf))
			TH_LOG("%s: bound", f->what);
		EXPECT_EQ(f->err, errno)
			TH_LOG("%s: %s", f->what, strerror(errno));
		EXPECT_TRUE(kt_kmsg_says(kmsg, f->log))
			TH_LOG("%s: the log does not say \"%s\"", f->what, f->log);
		close(kmsg);
		ASSERT_NE(0, access(self->drv, F_OK))
			TH_LOG("%s: %s has a driver", f->what, self->bdf);
		TH_LOG("%s: refused in %.1f s", f->what, kt_now() - t);
		/* Identification writes nothing: CTRL is as the test set it. */
		if (f->err != ENODEV)
			continue;
		map = fake_map(self->res, PROT_READ);
		ASSERT_NE(MAP_FAILED, map) TH_LOG("mmap %s: %s", self->res, strerror(errno));
		EXPECT_EQ(0, fake_rd(map, KESYNC_REG_CTRL)) TH_LOG("%s", f->what);
		munmap(map, KESYNC_BAR0_SIZE);
	}

	fd = open("/dev/kesync0", O_RDWR);
	ASSERT_LE(0, fd) TH_LOG("open /dev/kesync0: %s", strerror(errno));
	EXPECT_EQ(sizeof(buf), pread(fd, buf, sizeof(buf), 0));
	close(fd);
}

#define IRQOFF_PARAM	"/sys/module/kesync/parameters/irqoff_stats"

/* The parameter as the boot set it, put back whatever the test did. */
FIXTURE(irqoff) {
	int fd;
	char was[8];
};

FIXTURE_SETUP(irqoff)
{
	int pfd;

	self->fd = open("/dev/kesync0", O_RDWR);
	ASSERT_LE(0, self->fd) TH_LOG("open /dev/kesync0: %s", strerror(errno));
	memset(self->was, 0, sizeof(self->was));
	pfd = open(IRQOFF_PARAM, O_RDONLY);
	ASSERT_LE(0, pfd) TH_LOG("%s: %s", IRQOFF_PARAM, strerror(errno));
	ASSERT_LT(0, read(pfd, self->was, sizeof(self->was) - 1));
	close(pfd);
}

FIXTURE_TEARDOWN(irqoff)
{
	kt_write_file(IRQOFF_PARAM, self->was[0] == 'Y' ? "1" : "0");
	close(self->fd);
}

/*
 * The interrupts-off accounting counts nothing while irqoff_stats is off,
 * counts each hold once it is on, and the parameter refuses nonsense.
 */
TEST_F(irqoff, irqoff_stats_switch)
{
	unsigned long long isr0, rd0, isr1, rd1;
	char bdf[64], path[160];
	unsigned char buf[512];

	ASSERT_EQ(0, kt_bdf(bdf, sizeof(bdf)));
	snprintf(path, sizeof(path), "/sys/kernel/debug/kesync/%s/irqoff", bdf);

	ASSERT_EQ(0, kt_write_file(IRQOFF_PARAM, "0"));
	ASSERT_EQ(0, irqoff_counts(path, &isr0, &rd0)) TH_LOG("%s", path);
	ASSERT_EQ(sizeof(buf), pread(self->fd, buf, sizeof(buf), 0));
	ASSERT_EQ(0, irqoff_counts(path, &isr1, &rd1));
	EXPECT_EQ(isr0, isr1);
	EXPECT_EQ(rd0, rd1);

	ASSERT_EQ(0, kt_write_file(IRQOFF_PARAM, "1"));
	ASSERT_EQ(sizeof(buf), pread(self->fd, buf, sizeof(buf), 0));
	ASSERT_EQ(0, irqoff_counts(path, &isr1, &rd1));
	EXPECT_LT(isr0, isr1);		/* the completion's interrupt */
	EXPECT_EQ(rd0 + 1, rd1);	/* one program_read SynchCritSection */

	errno = 0;
	EXPECT_EQ(-1, kt_write_file(IRQOFF_PARAM, "maybe"));
	EXPECT_EQ(EINVAL, errno);
}

TEST_HARNESS_MAIN

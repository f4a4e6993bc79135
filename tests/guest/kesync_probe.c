// SPDX-License-Identifier: GPL-2.0
/*
 * kesync_probe: the driver bound the device, its char devices exist and
 * answer, and the device's interrupt reaches the driver.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
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

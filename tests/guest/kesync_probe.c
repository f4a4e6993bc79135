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

TEST_HARNESS_MAIN

// SPDX-License-Identifier: GPL-2.0
/*
 * kesync_iommu_neg: the negative control of the IOMMU configuration.  With
 * KESYNC_FAULT_F_MISDIRECT the device DMAs the next transfer's data to the
 * bus address + 1 GiB, which the strict IOMMU never mapped: the transfer
 * fails (-EIO), the buffer and the medium are untouched, and the fault is
 * reported (DMAR lines in the guest, a translation failure in QEMU).  The
 * runner expects exactly that in this boot (tests/matrix:
 * --expect-iommu-fault), so a configuration that could not see such a
 * fault cannot pass the positive one.  Never run without an IOMMU: the
 * misdirected DMA would land in guest memory.
 */
#define _GNU_SOURCE
#include "kesync_test.h"	/* and kselftest_harness.h */

#define LEN 16384

/*
 * The 6.1 harness runs the test body after a SKIP() in FIXTURE_SETUP:
 * the bodies return at once when the setup skipped.
 */
FIXTURE(neg) {
	int fd;
	int skip;
};

FIXTURE_SETUP(neg)
{
	self->fd = -1;
	self->skip = 1;
	if (!kt_iommu())
		SKIP(return, "no IOMMU in this boot: a misdirected DMA would hit RAM");
	self->skip = 0;
	self->fd = kt_open_unit(0);
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(LEN, kt_pwrite_pat(self->fd, LEN, 0, kt_seed ^ 0x4e9));
}

FIXTURE_TEARDOWN(neg)
{
	if (self->fd >= 0)
		close(self->fd);
}

static void misdirect(struct __test_metadata *_metadata, int fd, int wr)
{
	struct kesync_hw_stats ha, hb;
	struct kesync_stats a, b;
	struct kt_buf buf;
	ssize_t n;

	ASSERT_EQ(0, kt_buf_alloc(&buf, LEN, 0));
	if (wr)
		kt_fill(buf.p, LEN, kt_seed ^ 0x4ea, 0);
	ASSERT_EQ(0, kt_stats(fd, &a));
	ASSERT_EQ(0, kt_hw(fd, &ha));
	ASSERT_EQ(0, kt_fault_ex(fd, KESYNC_FAULT_NONE, 0, 0, KESYNC_FAULT_F_MISDIRECT, 0));
	errno = 0;
	n = wr ? pwrite(fd, buf.p, LEN, 0) : pread(fd, buf.p, LEN, 0);
	EXPECT_EQ(-1, n) TH_LOG("the misdirected %s succeeded", wr ? "write" : "read");
	EXPECT_EQ(EIO, errno) TH_LOG("got %s", strerror(errno));
	ASSERT_EQ(0, kt_stats(fd, &b));
	ASSERT_EQ(0, kt_hw(fd, &hb));
	EXPECT_LE(1, hb.dma_errors - ha.dma_errors);
	EXPECT_EQ(1, KT_D(b, a, errors));
	EXPECT_EQ(0, hb.late_dma);
	if (!wr) {
		/* Nothing reached the reader's buffer... */
		EXPECT_EQ(-1, kt_check_byte(buf.p, LEN, 0xee));
	} else {
		/*
		 * ...while what a failed write left on the medium is
		 * undefined (as after any failed write): write it again.
		 */
		ASSERT_EQ(LEN, kt_pwrite_pat(fd, LEN, 0, kt_seed ^ 0x4e9));
	}
	/* MISDIRECT is one-shot: the next transfer is a good one. */
	EXPECT_EQ(0, kt_pread_check(fd, LEN, 0, kt_seed ^ 0x4e9))
		TH_LOG("after the misdirected transfer: %s", strerror(errno));
	kt_buf_free(&buf);
}

TEST_F(neg, misdirected_read_faults)
{
	if (!self->skip)
		misdirect(_metadata, self->fd, 0);
}

TEST_F(neg, misdirected_write_faults)
{
	if (!self->skip)
		misdirect(_metadata, self->fd, 1);
}

KT_FINAL_HEALTH_TEST(1)

TEST_HARNESS_MAIN

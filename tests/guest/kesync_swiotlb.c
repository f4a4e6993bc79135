// SPDX-License-Identifier: GPL-2.0
/*
 * kesync_swiotlb: a request larger than the bounce space.
 *
 * Under swiotlb (swiotlb=force, a 32-bit DMA mask, a confidential guest)
 * every mapping is copied through a bounce pool.  The driver maps a
 * request when it gets the controller (ControllerControl); a mapping the
 * DMA layer refuses fails that request with -ENOMEM, and the controller
 * goes on to the next request (docs/driver-design.md, "DMA mapping").
 * The params-msi boot of tests/matrix has a pool of 1 MiB (swiotlb=512,
 * the smallest Linux takes): a 2 MiB read or write must fail -ENOMEM with
 * nothing moved, the kernel log must say why, and requests that fit must
 * work before and after, on this unit and on the others.  Elsewhere the
 * pool is 64 MiB or there is none, and the test is skipped.
 */
#define _GNU_SOURCE
#include "kesync_test.h"	/* and kselftest_harness.h */

#define SW_NSLABS	"/sys/kernel/debug/swiotlb/io_tlb_nslabs"
#define SW_SLAB		2048UL	/* IO_TLB_SIZE */
#define SW_LEN		(2 * KT_MIB)

/* The bounce pool's size in bytes, or 0 when there is none. */
static unsigned long pool_bytes(void)
{
	unsigned long n = 0;
	FILE *f = fopen(SW_NSLABS, "re");

	if (!f)
		return 0;
	if (fscanf(f, "%lu", &n) != 1)
		n = 0;
	fclose(f);
	return n * SW_SLAB;
}

FIXTURE(sw) {
	int fd[2];
	unsigned int units;
	unsigned long pool;
};

FIXTURE_SETUP(sw)
{
	struct kesync_info info;

	self->fd[0] = -1;
	self->fd[1] = -1;
	self->pool = pool_bytes();
	if (!self->pool || self->pool >= SW_LEN)
		SKIP(return, "bounce pool of %lu bytes: not smaller than %lu",
		     self->pool, (unsigned long)SW_LEN);
	self->fd[0] = kt_open_unit(0);
	ASSERT_LE(0, self->fd[0]) TH_LOG("open unit 0: %s", strerror(errno));
	ASSERT_EQ(0, kt_info(self->fd[0], &info));
	ASSERT_LE(SW_LEN, info.unit_size);
	self->units = info.units;
	if (self->units > 1) {
		self->fd[1] = kt_open_unit(1);
		ASSERT_LE(0, self->fd[1]);
	}
}

FIXTURE_TEARDOWN(sw)
{
	if (self->fd[0] >= 0)
		close(self->fd[0]);
	if (self->fd[1] >= 0)
		close(self->fd[1]);
}

/* checkpatch-ok: SPACING: FIXTURE_DATA() names a type: '*' declares a pointer */
static void too_big(struct __test_metadata *_metadata, FIXTURE_DATA(sw) *self,
		    int wr)
{
	const size_t fits = self->pool / 4;
	uint64_t seed = kt_seed ^ 0x5b1;
	struct kesync_stats a, b;
	struct kt_buf buf;
	char want[96];
	ssize_t n;
	int kmsg;

	/* Known data, in requests that fit. */
	ASSERT_EQ((ssize_t)fits, kt_pwrite_pat(self->fd[0], fits, 0, seed));
	ASSERT_EQ(0, kt_buf_alloc(&buf, SW_LEN, 0));
	ASSERT_EQ(0, kt_stats(self->fd[0], &a));
	kmsg = kt_kmsg_open_end();
	ASSERT_LE(0, kmsg) TH_LOG("/dev/kmsg: %s", strerror(errno));

	if (wr) {
		kt_fill(buf.p, SW_LEN, seed ^ 1, 0);
		n = pwrite(self->fd[0], buf.p, SW_LEN, 0);
	} else {
		memset(buf.p, 0xee, SW_LEN);
		n = pread(self->fd[0], buf.p, SW_LEN, 0);
	}
	EXPECT_EQ(-1, n);
	EXPECT_EQ(ENOMEM, errno) TH_LOG("got %s", strerror(errno));
	if (!wr)
		EXPECT_EQ(-1, kt_check_byte(buf.p, SW_LEN, 0xee));
	EXPECT_TRUE(kt_buf_slack_ok(&buf));
	snprintf(want, sizeof(want), "cannot map %lu bytes for DMA",
		 (unsigned long)SW_LEN);
	EXPECT_TRUE(kt_kmsg_says(kmsg, want)) TH_LOG("no \"%s\" logged", want);
	close(kmsg);
	ASSERT_EQ(0, kt_stats(self->fd[0], &b));
	EXPECT_EQ(1, KT_D(b, a, errors));
	EXPECT_EQ(0, KT_D(b, a, timeouts));

	/* Nothing was written, and what fits still moves, on every unit. */
	EXPECT_EQ(0, kt_pread_check(self->fd[0], fits, 0, seed));
	if (self->fd[1] >= 0) {
		EXPECT_EQ((ssize_t)fits, kt_pwrite_pat(self->fd[1], fits, 0,
						       seed ^ 2));
		EXPECT_EQ(0, kt_pread_check(self->fd[1], fits, 0, seed ^ 2));
	}
	kt_buf_free(&buf);
}

TEST_F(sw, read_larger_than_pool_enomem)
{
	too_big(_metadata, self, 0);
}

TEST_F(sw, write_larger_than_pool_enomem)
{
	too_big(_metadata, self, 1);
}

KT_FINAL_HEALTH_TEST(0)

TEST_HARNESS_MAIN

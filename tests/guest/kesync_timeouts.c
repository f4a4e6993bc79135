// SPDX-License-Identifier: GPL-2.0
/*
 * kesync_timeouts: the NT timer-counter scenario and the device's faults.
 *
 * StartIo sets the counter to the timeout plus one, the ISR sets it to -1,
 * the 1 Hz IoTimer counts it down and programs a controller reset at zero.
 * So a transfer that never finishes fails with -ETIMEDOUT between T and
 * T + 1 s after it started (T = KESYNC_IOC_SET_TIMEOUT; a 0.5 s margin for
 * the emulator).  Each fault kind the device can inject (KESYNC_IOC_FAULT)
 * gets its errno or its recovery, the unit and its neighbours work right
 * after, the device never did DMA for a dead transfer (hw late_dma), and
 * the counters say what happened.
 */
#define _GNU_SOURCE
#include "kesync_test.h"	/* and kselftest_harness.h */

#define MARGIN	0.5	/* emulator slack on top of the design's [T, T+1] */
#define LEN	65536

#define RESET_MS_PARAM	"/sys/module/" KT_MODULE "/parameters/reset_timeout_ms"

FIXTURE(tmo) {
	int fd;			/* unit 0 */
	int nfd;		/* a neighbour (unit 1), or -1 */
	struct kesync_info info;
	unsigned int saved[KESYNC_MAX_UNITS];
	char reset_ms[16];	/* reset_timeout_ms to restore, or "" */
};

FIXTURE_SETUP(tmo)
{
	unsigned int u;

	self->nfd = -1;
	self->reset_ms[0] = 0;
	self->fd = kt_open_unit(0);
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, kt_info(self->fd, &self->info));
	for (u = 0; u < self->info.units; u++) {
		int fd = kt_open_unit(u);

		ASSERT_LE(0, fd);
		self->saved[u] = kt_get_timeout(fd);
		ASSERT_EQ(0, kt_set_timeout(fd, 1));
		close(fd);
	}
	if (self->info.units > 1) {
		self->nfd = kt_open_unit(1);
		ASSERT_LE(0, self->nfd);
	}
	/* Known data where the tests read and write. */
	ASSERT_EQ(LEN, kt_pwrite_pat(self->fd, LEN, 4096, kt_seed ^ 0x01d));
	if (self->nfd >= 0)
		ASSERT_EQ(LEN, kt_pwrite_pat(self->nfd, LEN, 4096, kt_seed ^ 0x01e));
}

FIXTURE_TEARDOWN(tmo)
{
	unsigned int u;

	for (u = 0; u < self->info.units; u++) {
		int fd = kt_open_unit(u);

		if (fd < 0)
			continue;
		kt_fault(fd, KESYNC_FAULT_NONE, 0, 0);
		if (self->saved[u])
			kt_set_timeout(fd, self->saved[u]);
		close(fd);
	}
	if (self->nfd >= 0)
		close(self->nfd);
	close(self->fd);
	if (self->reset_ms[0])
		kt_write_file(RESET_MS_PARAM, self->reset_ms);
}

/* One timed request from a sentinel-filled buffer; *dt is its duration. */
static ssize_t timed_io(int fd, int wr, struct kt_buf *b, uint64_t off,
			uint64_t seed, double *dt)
{
	double t0;
	ssize_t n;

	if (wr)
		kt_fill(b->p, b->len, seed, off);
	else
		memset(b->p, 0xee, b->len);
	t0 = kt_now();
	n = wr ? pwrite(fd, b->p, b->len, off) : pread(fd, b->p, b->len, off);
	*dt = kt_now() - t0;
	return n;
}

/* The unit (and its neighbour) read back their known data. */
/* checkpatch-ok: SPACING: FIXTURE_DATA() names a type: '*' declares a pointer */
static void units_work(struct __test_metadata *_metadata, FIXTURE_DATA(tmo) *self)
{
	EXPECT_EQ(0, kt_pread_check(self->fd, LEN, 4096, kt_seed ^ 0x01d))
		TH_LOG("unit 0 after the fault: %s", strerror(errno));
	if (self->nfd >= 0)
		EXPECT_EQ(0, kt_pread_check(self->nfd, LEN, 4096, kt_seed ^ 0x01e))
			TH_LOG("unit 1 after the fault: %s", strerror(errno));
}

/* checkpatch-ok: SPACING: FIXTURE_DATA() names a type: '*' declares a pointer */
static void hang(struct __test_metadata *_metadata, FIXTURE_DATA(tmo) *self,
		 int wr, unsigned int T)
{
	struct kesync_stats a, b;
	struct kesync_hw_stats ha, hb;
	struct kt_buf buf;
	double dt;
	ssize_t n;

	ASSERT_EQ(0, kt_set_timeout(self->fd, T));
	ASSERT_EQ(0, kt_buf_alloc(&buf, LEN, 0));
	ASSERT_EQ(0, kt_stats(self->fd, &a));
	ASSERT_EQ(0, kt_hw(self->fd, &ha));
	ASSERT_EQ(0, kt_fault(self->fd, KESYNC_FAULT_HANG, 1, 0));
	n = timed_io(self->fd, wr, &buf, 4096, kt_seed ^ 0xdead, &dt);
	EXPECT_EQ(-1, n);
	EXPECT_EQ(ETIMEDOUT, errno) TH_LOG("got %s", strerror(errno));
	EXPECT_LE(T - 0.02, dt) TH_LOG("timed out after %.3f s, T = %u", dt, T);
	EXPECT_GE(T + 1 + MARGIN, dt) TH_LOG("timed out after %.3f s, T = %u", dt, T);
	TH_LOG("timed out after %.3f s (T = %u)", dt, T);
	if (!wr)	/* a hung transfer moves nothing */
		EXPECT_EQ(-1, kt_check_byte(buf.p, LEN, 0xee));
	EXPECT_EQ(0, kt_wait_resets(self->fd, ha.resets, 1, 5));
	ASSERT_EQ(0, kt_stats(self->fd, &b));
	ASSERT_EQ(0, kt_hw(self->fd, &hb));
	EXPECT_EQ(1, KT_D(b, a, requests));
	EXPECT_EQ(1, KT_D(b, a, timeouts));
	EXPECT_LE(1, KT_D(b, a, resets));
	EXPECT_EQ(0, KT_D(b, a, errors));
	EXPECT_EQ(0, KT_D(b, a, lost_irqs));
	EXPECT_EQ(0, KT_D(b, a, bytes));
	EXPECT_EQ(0, hb.late_dma);
	EXPECT_EQ(0, hb.ctrl_busy);
	/* The write never reached the medium; both units work. */
	units_work(_metadata, self);
	kt_buf_free(&buf);
}

TEST_F_TIMEOUT(tmo, hang_read_times_out, 30)
{
	hang(_metadata, self, 0, 1);
}

TEST_F_TIMEOUT(tmo, hang_write_times_out, 30)
{
	hang(_metadata, self, 1, 1);
}

TEST_F_TIMEOUT(tmo, hang_times_out_after_2s, 30)
{
	hang(_metadata, self, 0, 2);
}

/*
 * The hung transfer holds the controller: requests of the other units wait
 * for it (stats.ctrl_waits) and run once the reset freed it, intact.
 */
TEST_F_TIMEOUT(tmo, neighbours_wait_out_a_hang, 40)
{
	struct kt_op a, nb[KESYNC_MAX_UNITS];
	struct kt_snap s0, s1;
	unsigned int u, units = self->info.units;

	if (units < 2)
		SKIP(return, "one unit: no neighbours");
	for (u = 1; u < units; u++) {
		int fd = kt_open_unit(u);

		ASSERT_LE(0, fd);
		ASSERT_EQ(LEN, kt_pwrite_pat(fd, LEN, 3 * LEN, kt_seed ^ (0xab0 + u)));
		close(fd);
	}
	ASSERT_EQ(0, kt_snap(&s0));
	ASSERT_EQ(0, kt_fault(self->fd, KESYNC_FAULT_HANG, 1, 0));
	kt_op_init(&a, 0, LEN, 4096, kt_seed ^ 0x01d);
	ASSERT_EQ(0, kt_op_start(&a));
	ASSERT_EQ(0, kt_op_blocked(&a, 5));
	for (u = 1; u < units; u++) {
		kt_op_init(&nb[u], u, LEN, 3 * LEN, kt_seed ^ (0xab0 + u));
		ASSERT_EQ(0, kt_op_start(&nb[u]));
	}
	ASSERT_EQ(1, kt_op_wait(&a, 1 + 1 + MARGIN + 1));
	EXPECT_EQ(-1, a.res.ret);
	EXPECT_EQ(ETIMEDOUT, a.res.err);
	EXPECT_GE(1 + 1 + MARGIN, a.res.t1 - a.res.t0);
	for (u = 1; u < units; u++) {
		ASSERT_EQ(1, kt_op_wait(&nb[u], 5)) TH_LOG("unit %u never finished", u);
		EXPECT_EQ(LEN, nb[u].res.ret) TH_LOG("unit %u: %s", u, strerror(nb[u].res.err));
		EXPECT_EQ(-1, nb[u].res.bad);
		/* It could only run once the hung transfer was gone. */
		EXPECT_LE(a.res.t1 - 0.6, nb[u].res.t1);
		kt_op_reap(&nb[u], 5);
	}
	kt_op_reap(&a, 5);
	ASSERT_EQ(0, kt_snap(&s1));
	for (u = 1; u < units; u++) {
		EXPECT_LE(1, KT_D(s1.st[u], s0.st[u], ctrl_waits)) TH_LOG("unit %u", u);
		EXPECT_EQ(1, KT_D(s1.st[u], s0.st[u], requests));
		EXPECT_EQ(0, KT_D(s1.st[u], s0.st[u], timeouts));
		EXPECT_EQ(0, KT_D(s1.st[u], s0.st[u], errors));
	}
	EXPECT_EQ(1, KT_D(s1.st[0], s0.st[0], timeouts));
	EXPECT_EQ(0, s1.hw.ctrl_busy);
	EXPECT_EQ(0, s1.hw.late_dma);
	units_work(_metadata, self);
}

/*
 * The interrupt never comes: the IoTimer finds the finished transfer and
 * completes it, without a reset.
 */
/* checkpatch-ok: SPACING: FIXTURE_DATA() names a type: '*' declares a pointer */
static void lost_irqs(struct __test_metadata *_metadata, FIXTURE_DATA(tmo) *self,
		      int wr, size_t len, unsigned int count)
{
	struct kesync_stats a, b;
	struct kesync_hw_stats ha, hb;
	uint64_t seed = wr ? kt_seed ^ 0x1057 : kt_seed ^ 0x01d;
	struct kt_buf buf;
	double dt;
	ssize_t n;

	if (!wr)
		ASSERT_EQ((ssize_t)len, kt_pwrite_pat(self->fd, len, 4096, seed));
	ASSERT_EQ(0, kt_buf_alloc(&buf, len, 7));
	ASSERT_EQ(0, kt_stats(self->fd, &a));
	ASSERT_EQ(0, kt_hw(self->fd, &ha));
	ASSERT_EQ(0, kt_fault(self->fd, KESYNC_FAULT_LOST_IRQ, count, 0));
	n = timed_io(self->fd, wr, &buf, 4096, seed, &dt);
	ASSERT_EQ((ssize_t)len, n) TH_LOG("%s", strerror(errno));
	TH_LOG("%u lost interrupt(s) recovered in %.3f s", count, dt);
	EXPECT_GE(count * (1 + 1 + MARGIN), dt);
	/* checkpatch-ok: BRACES: EXPECT_*() is two statements (kselftest_harness.h) */
	if (wr) {
		EXPECT_EQ(0, kt_pread_check(self->fd, len, 4096, seed));
	} else {
		EXPECT_EQ(-1, kt_check(buf.p, len, seed, 4096));
	}
	ASSERT_EQ(0, kt_stats(self->fd, &b));
	ASSERT_EQ(0, kt_hw(self->fd, &hb));
	EXPECT_EQ(count, KT_D(b, a, lost_irqs));
	EXPECT_EQ(0, KT_D(b, a, timeouts));
	EXPECT_EQ(0, KT_D(b, a, resets));
	EXPECT_EQ(0, hb.resets - ha.resets);
	EXPECT_EQ(0, KT_D(b, a, errors));
	EXPECT_EQ(0, hb.late_dma);
	if (wr)
		ASSERT_EQ((ssize_t)len, kt_pwrite_pat(self->fd, len, 4096, kt_seed ^ 0x01d));
	units_work(_metadata, self);
	kt_buf_free(&buf);
}

TEST_F_TIMEOUT(tmo, lost_irq_read_recovered, 30)
{
	lost_irqs(_metadata, self, 0, LEN, 1);
}

TEST_F_TIMEOUT(tmo, lost_irq_write_recovered, 30)
{
	lost_irqs(_metadata, self, 1, LEN, 1);
}

TEST_F_TIMEOUT(tmo, lost_irqs_in_partial_transfers, 40)
{
	size_t len = 4 * (size_t)self->info.max_xfer + 123;

	if (len > 4 * KT_MIB)
		len = 4 * KT_MIB;
	lost_irqs(_metadata, self, 0, len, 2);
}

/* LATE within the timeout is just slow. */
TEST_F_TIMEOUT(tmo, late_within_timeout, 30)
{
	struct kesync_stats a, b;
	struct kt_buf buf;
	double dt;

	ASSERT_EQ(0, kt_set_timeout(self->fd, 2));
	ASSERT_EQ(0, kt_buf_alloc(&buf, LEN, 0));
	ASSERT_EQ(0, kt_stats(self->fd, &a));
	ASSERT_EQ(0, kt_fault(self->fd, KESYNC_FAULT_LATE, 1, 300000));
	ASSERT_EQ(LEN, timed_io(self->fd, 0, &buf, 4096, 0, &dt));
	EXPECT_EQ(-1, kt_check(buf.p, LEN, kt_seed ^ 0x01d, 4096));
	EXPECT_LE(0.3, dt);
	EXPECT_GE(0.3 + 1, dt);
	ASSERT_EQ(0, kt_stats(self->fd, &b));
	EXPECT_EQ(0, KT_D(b, a, timeouts));
	EXPECT_EQ(0, KT_D(b, a, lost_irqs));
	EXPECT_EQ(0, KT_D(b, a, resets));
	kt_buf_free(&buf);
}

/*
 * LATE beyond the timeout: -ETIMEDOUT in [T, T+1], and the transfer the
 * device would have finished later never lands: not in the reader's buffer,
 * not over data written to the medium after the timeout.
 */
/* checkpatch-ok: SPACING: FIXTURE_DATA() names a type: '*' declares a pointer */
static void late_beyond(struct __test_metadata *_metadata, FIXTURE_DATA(tmo) *self,
			int wr)
{
	const unsigned int late_us = 2600000;	/* past the latest timeout (2 s) */
	struct kesync_stats a, b;
	struct kesync_hw_stats hw;
	struct kt_buf buf;
	double t0, dt, until;

	ASSERT_EQ(0, kt_buf_alloc(&buf, LEN, 0));
	ASSERT_EQ(0, kt_stats(self->fd, &a));
	ASSERT_EQ(0, kt_fault(self->fd, KESYNC_FAULT_LATE, 1, late_us));
	t0 = kt_now();
	EXPECT_EQ(-1, timed_io(self->fd, wr, &buf, 4096, kt_seed ^ 0x1a7e, &dt));
	EXPECT_EQ(ETIMEDOUT, errno) TH_LOG("got %s", strerror(errno));
	EXPECT_LE(1 - 0.02, dt);
	EXPECT_GE(1 + 1 + MARGIN, dt);
	if (wr) {
		/* New data over the range the late write was for. */
		ASSERT_EQ(LEN, kt_pwrite_pat(self->fd, LEN, 4096, kt_seed ^ 0x01d));
	} else {
		memset(buf.p, 0xee, LEN);
	}
	/* Watch past the moment the device would have finished. */
	until = t0 + late_us / 1e6 + 0.7;
	while (kt_now() < until)
		kt_msleep(50);
	if (!wr)
		EXPECT_EQ(-1, kt_check_byte(buf.p, LEN, 0xee))
			TH_LOG("the late transfer wrote into a buffer it no longer owned");
	EXPECT_EQ(0, kt_pread_check(self->fd, LEN, 4096, kt_seed ^ 0x01d))
		TH_LOG("the medium is not what was written after the timeout");
	ASSERT_EQ(0, kt_stats(self->fd, &b));
	ASSERT_EQ(0, kt_hw(self->fd, &hw));
	EXPECT_EQ(1, KT_D(b, a, timeouts));
	EXPECT_EQ(0, hw.late_dma);
	units_work(_metadata, self);
	kt_buf_free(&buf);
}

TEST_F_TIMEOUT(tmo, late_read_beyond_timeout, 30)
{
	late_beyond(_metadata, self, 0);
}

TEST_F_TIMEOUT(tmo, late_write_beyond_timeout, 30)
{
	late_beyond(_metadata, self, 1);
}

/* ERROR: -EIO, no DMA: the buffer and the medium are untouched. */
/* checkpatch-ok: SPACING: FIXTURE_DATA() names a type: '*' declares a pointer */
static void error(struct __test_metadata *_metadata, FIXTURE_DATA(tmo) *self,
		  int wr, unsigned int count)
{
	struct kesync_stats a, b;
	struct kt_buf buf;
	unsigned int i;
	double dt;

	ASSERT_EQ(0, kt_buf_alloc(&buf, LEN, 0));
	ASSERT_EQ(0, kt_stats(self->fd, &a));
	ASSERT_EQ(0, kt_fault(self->fd, KESYNC_FAULT_ERROR, count, 0));
	for (i = 0; i < count; i++) {
		EXPECT_EQ(-1, timed_io(self->fd, wr, &buf, 4096, kt_seed ^ 0xe770, &dt));
		EXPECT_EQ(EIO, errno) TH_LOG("got %s", strerror(errno));
		EXPECT_GT(1, dt);
		if (!wr)
			EXPECT_EQ(-1, kt_check_byte(buf.p, LEN, 0xee));
	}
	ASSERT_EQ(0, kt_stats(self->fd, &b));
	EXPECT_EQ(count, KT_D(b, a, errors));
	EXPECT_EQ(count, KT_D(b, a, requests));
	EXPECT_EQ(0, KT_D(b, a, timeouts));
	units_work(_metadata, self);	/* and the write changed nothing */
	kt_buf_free(&buf);
}

TEST_F(tmo, error_read_eio)
{
	error(_metadata, self, 0, 1);
}

TEST_F(tmo, error_write_eio)
{
	error(_metadata, self, 1, 1);
}

TEST_F(tmo, error_three_in_a_row)
{
	error(_metadata, self, 0, 3);
}

/*
 * REFUSE: the device refuses the START with CTRL_BUSY, as if another bus
 * master held the controller.  The driver counts each refusal and starts
 * the window again, KESYNC_RETRY_MAX (module/kesync-dev.h) times in a row;
 * one refusal more ends the request -EIO.  Either way nothing is lost: the
 * data of a completed request is there, a failed one moved nothing.
 */
#define RETRY_MAX	3

/* checkpatch-ok: SPACING: FIXTURE_DATA() names a type: '*' declares a pointer */
static void refused(struct __test_metadata *_metadata, FIXTURE_DATA(tmo) *self,
		    int wr, unsigned int count)
{
	uint64_t seed = kt_seed ^ (wr ? 0x4ef1 : 0x01d);
	bool ok = count <= RETRY_MAX;
	struct kesync_hw_stats ha, hb;
	struct kesync_stats a, b;
	struct kt_buf buf;
	double dt;
	ssize_t n;

	ASSERT_EQ(0, kt_buf_alloc(&buf, LEN, 0));
	ASSERT_EQ(0, kt_stats(self->fd, &a));
	ASSERT_EQ(0, kt_hw(self->fd, &ha));
	ASSERT_EQ(0, kt_fault(self->fd, KESYNC_FAULT_REFUSE, count, 0));
	n = timed_io(self->fd, wr, &buf, 4096, seed, &dt);
	if (ok) {
		EXPECT_EQ(LEN, n) TH_LOG("%s", strerror(errno));
	} else {
		EXPECT_EQ(-1, n);
		EXPECT_EQ(EIO, errno) TH_LOG("got %s", strerror(errno));
	}
	/* checkpatch-ok: BRACES: EXPECT_*() is two statements (kselftest_harness.h) */
	if (!wr && ok) {
		EXPECT_EQ(-1, kt_check(buf.p, LEN, seed, 4096));
	} else if (!wr) {
		EXPECT_EQ(-1, kt_check_byte(buf.p, LEN, 0xee));
	}
	EXPECT_TRUE(kt_buf_slack_ok(&buf));
	ASSERT_EQ(0, kt_stats(self->fd, &b));
	ASSERT_EQ(0, kt_hw(self->fd, &hb));
	EXPECT_EQ(count, KT_D(b, a, hw_busy));
	EXPECT_EQ(0, hb.ctrl_busy - ha.ctrl_busy);	/* injected: not counted */
	EXPECT_EQ(ok ? 0 : 1, KT_D(b, a, errors));
	EXPECT_EQ(0, KT_D(b, a, timeouts));
	EXPECT_EQ(0, hb.late_dma - ha.late_dma);
	if (wr && ok) {
		EXPECT_EQ(0, kt_pread_check(self->fd, LEN, 4096, seed));
		ASSERT_EQ(LEN, kt_pwrite_pat(self->fd, LEN, 4096, kt_seed ^ 0x01d));
	}
	units_work(_metadata, self);	/* a failed write changed nothing */
	kt_buf_free(&buf);
}

TEST_F(tmo, refused_read_retried)
{
	refused(_metadata, self, 0, RETRY_MAX);
}

TEST_F(tmo, refused_write_retried)
{
	refused(_metadata, self, 1, 1);
}

TEST_F(tmo, refused_read_too_often_eio)
{
	refused(_metadata, self, 0, RETRY_MAX + 1);
}

TEST_F(tmo, refused_write_too_often_eio)
{
	refused(_metadata, self, 1, RETRY_MAX + 1);
}

/*
 * WRONG_TAG: the device completes with a tag the driver never programmed.
 * It cannot know what the device did, so it stops the unit (ABORT) and
 * ends the request -EIO; the next request of the unit works.
 */
/* checkpatch-ok: SPACING: FIXTURE_DATA() names a type: '*' declares a pointer */
static void wrong_tag(struct __test_metadata *_metadata, FIXTURE_DATA(tmo) *self,
		      int wr)
{
	struct kesync_hw_stats ha, hb;
	struct kesync_stats a, b;
	struct kt_buf buf;
	double dt;

	ASSERT_EQ(0, kt_buf_alloc(&buf, LEN, 0));
	ASSERT_EQ(0, kt_stats(self->fd, &a));
	ASSERT_EQ(0, kt_hw(self->fd, &ha));
	ASSERT_EQ(0, kt_fault(self->fd, KESYNC_FAULT_WRONG_TAG, 1, 0));
	EXPECT_EQ(-1, timed_io(self->fd, wr, &buf, 4096, kt_seed ^ 0x7a6, &dt));
	EXPECT_EQ(EIO, errno) TH_LOG("got %s", strerror(errno));
	EXPECT_GT(1, dt);
	EXPECT_TRUE(kt_buf_slack_ok(&buf));
	ASSERT_EQ(0, kt_stats(self->fd, &b));
	ASSERT_EQ(0, kt_hw(self->fd, &hb));
	EXPECT_EQ(1, KT_D(b, a, errors));
	EXPECT_EQ(0, KT_D(b, a, timeouts));
	EXPECT_EQ(0, KT_D(b, a, resets));
	EXPECT_EQ(0, KT_D(b, a, hw_busy));
	EXPECT_EQ(0, hb.late_dma - ha.late_dma);
	/* The device did move the window: the known data goes back. */
	if (wr)
		ASSERT_EQ(LEN, kt_pwrite_pat(self->fd, LEN, 4096, kt_seed ^ 0x01d));
	units_work(_metadata, self);
	kt_buf_free(&buf);
}

TEST_F(tmo, wrong_tag_read_eio)
{
	wrong_tag(_metadata, self, 0);
}

TEST_F(tmo, wrong_tag_write_eio)
{
	wrong_tag(_metadata, self, 1);
}

/* SHORT: the device moves fewer bytes; the driver programs the rest. */
/* checkpatch-ok: SPACING: FIXTURE_DATA() names a type: '*' declares a pointer */
static void shorts(struct __test_metadata *_metadata, FIXTURE_DATA(tmo) *self,
		   int wr, size_t len, unsigned int count, unsigned int arg)
{
	uint64_t seed = kt_seed ^ (wr ? 0x5407 : 0x5408);
	struct kesync_stats a, b;
	struct kt_buf buf;
	double dt;

	if (!wr)
		ASSERT_EQ((ssize_t)len, kt_pwrite_pat(self->fd, len, 8192 + 3, seed));
	ASSERT_EQ(0, kt_buf_alloc(&buf, len, 11));
	ASSERT_EQ(0, kt_stats(self->fd, &a));
	ASSERT_EQ(0, kt_fault(self->fd, KESYNC_FAULT_SHORT, count, arg));
	ASSERT_EQ((ssize_t)len, timed_io(self->fd, wr, &buf, 8192 + 3, seed, &dt))
		TH_LOG("%s", strerror(errno));
	/* checkpatch-ok: BRACES: EXPECT_*() is two statements (kselftest_harness.h) */
	if (wr) {
		EXPECT_EQ(0, kt_pread_check(self->fd, len, 8192 + 3, seed));
	} else {
		EXPECT_EQ(-1, kt_check(buf.p, len, seed, 8192 + 3));
	}
	EXPECT_TRUE(kt_buf_slack_ok(&buf));
	ASSERT_EQ(0, kt_stats(self->fd, &b));
	EXPECT_EQ(count, KT_D(b, a, short_xfers));
	EXPECT_LE(count, KT_D(b, a, partials));
	EXPECT_EQ(0, KT_D(b, a, errors));
	EXPECT_EQ(0, KT_D(b, a, timeouts));
	EXPECT_EQ((long long)len * (wr ? 2 : 1), KT_D(b, a, bytes));
	kt_buf_free(&buf);
}

TEST_F(tmo, short_read_completed)
{
	shorts(_metadata, self, 0, LEN, 1, 1000);
}

TEST_F(tmo, short_write_completed)
{
	shorts(_metadata, self, 1, LEN, 1, 1000);
}

TEST_F(tmo, short_five_times)
{
	shorts(_metadata, self, 0, 300000, 5, 777);
}

/*
 * SHORT of 0 bytes: transfers that move nothing.  The driver programs the
 * window again, KESYNC_ZERO_PROGRESS_MAX (3) times in a row at most: after
 * two empty transfers the request completes; after three it fails -EIO,
 * having moved nothing, instead of programming empty transfers for ever.
 * The unit's data is as before (the failed write moved no byte).
 */
#define ZERO_PROGRESS_MAX	3

TEST_F(tmo, short_of_nothing_twice_completes)
{
	shorts(_metadata, self, 0, LEN, ZERO_PROGRESS_MAX - 1, 0);
}

/* checkpatch-ok: SPACING: FIXTURE_DATA() names a type: '*' declares a pointer */
static void no_progress(struct __test_metadata *_metadata, FIXTURE_DATA(tmo) *self,
			int wr)
{
	struct kesync_stats a, b;
	struct kt_buf buf;
	double dt;

	ASSERT_EQ(0, kt_buf_alloc(&buf, LEN, 0));
	ASSERT_EQ(0, kt_stats(self->fd, &a));
	ASSERT_EQ(0, kt_fault(self->fd, KESYNC_FAULT_SHORT, ZERO_PROGRESS_MAX, 0));
	EXPECT_EQ(-1, timed_io(self->fd, wr, &buf, 4096, kt_seed ^ 0x2e0, &dt));
	EXPECT_EQ(EIO, errno) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, kt_stats(self->fd, &b));
	EXPECT_EQ(ZERO_PROGRESS_MAX, KT_D(b, a, short_xfers));
	EXPECT_EQ(1, KT_D(b, a, errors));
	EXPECT_EQ(0, KT_D(b, a, bytes));
	EXPECT_EQ(0, KT_D(b, a, timeouts));
	kt_buf_free(&buf);
	units_work(_metadata, self);
}

TEST_F(tmo, short_of_nothing_three_times_read_eio)
{
	no_progress(_metadata, self, 0);
}

TEST_F(tmo, short_of_nothing_three_times_write_eio)
{
	no_progress(_metadata, self, 1);
}

/*
 * SPURIOUS: an interrupt with nothing finished is counted and ignored.  The
 * device raises it halfway through the transfer; an emulated CPU may only
 * get to it once the transfer has finished (nothing spurious then), so
 * eight transfers in a row get one each and at least one must be seen.
 * The matrix gives the device a transfer latency the emulator can follow.
 */
/* checkpatch-ok: SPACING: FIXTURE_DATA() names a type: '*' declares a pointer */
static void spurious_irqs(struct __test_metadata *_metadata, FIXTURE_DATA(tmo) *self,
			  int wr)
{
	uint64_t seed = kt_seed ^ 0x5b00;
	size_t len = 8 * (size_t)self->info.max_xfer;
	struct kesync_stats a, b;
	struct kt_buf buf;
	double dt;

	if (len > 2 * KT_MIB)
		len = 2 * KT_MIB;
	ASSERT_EQ((ssize_t)len, kt_pwrite_pat(self->fd, len, 4096, seed));
	ASSERT_EQ(0, kt_buf_alloc(&buf, len, 0));
	ASSERT_EQ(0, kt_stats(self->fd, &a));
	ASSERT_EQ(0, kt_fault(self->fd, KESYNC_FAULT_SPURIOUS, 8, 0));
	ASSERT_EQ((ssize_t)len, timed_io(self->fd, wr, &buf, 4096, seed ^ wr, &dt))
		TH_LOG("%s", strerror(errno));
	/* checkpatch-ok: BRACES: EXPECT_*() is two statements (kselftest_harness.h) */
	if (wr) {
		EXPECT_EQ(0, kt_pread_check(self->fd, len, 4096, seed ^ wr));
	} else {
		EXPECT_EQ(-1, kt_check(buf.p, len, seed, 4096));
	}
	EXPECT_GT(1, dt);
	ASSERT_EQ(0, kt_stats(self->fd, &b));
	TH_LOG("%lld spurious interrupts seen of 8 raised", KT_D(b, a, spurious));
	EXPECT_LE(1, KT_D(b, a, spurious));
	EXPECT_GE(8, KT_D(b, a, spurious));
	EXPECT_EQ(0, KT_D(b, a, lost_irqs));
	EXPECT_EQ(0, KT_D(b, a, errors));
	EXPECT_EQ(0, KT_D(b, a, timeouts));
	EXPECT_EQ(wr ? 2 : 1, KT_D(b, a, requests));
	ASSERT_EQ(LEN, kt_pwrite_pat(self->fd, LEN, 4096, kt_seed ^ 0x01d));
	kt_buf_free(&buf);
}

TEST_F(tmo, spurious_read_ignored)
{
	spurious_irqs(_metadata, self, 0);
}

TEST_F(tmo, spurious_write_ignored)
{
	spurious_irqs(_metadata, self, 1);
}

/*
 * A stuck reset: the reset that recovers a hang takes 1.5 s.  The hung
 * request still fails with -ETIMEDOUT, nothing is started on the resetting
 * controller (hw ctrl_busy stays 0), and both units work once it is over.
 */
TEST_F_TIMEOUT(tmo, stuck_reset_after_hang, 40)
{
	const unsigned int delay_us = 1500000;
	struct kt_op a, nb;
	struct kt_snap s0, s1;
	struct kt_buf buf;
	double dt;

	ASSERT_EQ(0, kt_snap(&s0));
	ASSERT_EQ(0, kt_fault_ex(self->fd, KESYNC_FAULT_HANG, 1, 0,
				 KESYNC_FAULT_F_RESET_DELAY, delay_us));
	kt_op_init(&a, 0, LEN, 4096, kt_seed ^ 0x01d);
	ASSERT_EQ(0, kt_op_start(&a));
	ASSERT_EQ(0, kt_op_blocked(&a, 5));
	if (self->nfd >= 0) {
		kt_op_init(&nb, 1, LEN, 4096, kt_seed ^ 0x01e);
		ASSERT_EQ(0, kt_op_start(&nb));
	}
	ASSERT_EQ(1, kt_op_wait(&a, 1 + 1 + MARGIN + delay_us / 1e6 + 2));
	EXPECT_EQ(-1, a.res.ret);
	EXPECT_EQ(ETIMEDOUT, a.res.err) TH_LOG("got %s", strerror(a.res.err));
	dt = a.res.t1 - a.res.t0;
	EXPECT_LE(1 - 0.02, dt);
	EXPECT_GE(1 + 1 + MARGIN + delay_us / 1e6, dt) TH_LOG("%.3f s", dt);
	/* Straight away: the unit works (after the reset, however long). */
	ASSERT_EQ(0, kt_buf_alloc(&buf, LEN, 0));
	ASSERT_EQ(LEN, timed_io(self->fd, 0, &buf, 4096, 0, &dt))
		TH_LOG("right after the stuck reset: %s", strerror(errno));
	EXPECT_EQ(-1, kt_check(buf.p, LEN, kt_seed ^ 0x01d, 4096));
	EXPECT_GE(delay_us / 1e6 + 1, dt);
	if (self->nfd >= 0) {
		ASSERT_EQ(1, kt_op_wait(&nb, 5));
		EXPECT_EQ(LEN, nb.res.ret) TH_LOG("neighbour: %s", strerror(nb.res.err));
		EXPECT_EQ(-1, nb.res.bad);
		kt_op_reap(&nb, 5);
	}
	kt_op_reap(&a, 5);
	ASSERT_EQ(0, kt_snap(&s1));
	EXPECT_EQ(1, KT_D(s1.st[0], s0.st[0], timeouts));
	EXPECT_EQ(1, s1.hw.resets - s0.hw.resets);
	EXPECT_EQ(0, s1.hw.ctrl_busy);
	EXPECT_EQ(0, s1.hw.late_dma);
	EXPECT_EQ(0, KT_SUM(&s1, hw_busy) - KT_SUM(&s0, hw_busy));
	units_work(_metadata, self);
	kt_buf_free(&buf);
}

/* A user-requested reset keeps the medium and the units working. */
TEST_F_TIMEOUT(tmo, user_reset, 30)
{
	struct kesync_hw_stats ha;
	struct kesync_stats a, b;

	ASSERT_EQ(0, kt_hw(self->fd, &ha));
	ASSERT_EQ(0, kt_stats(self->fd, &a));
	ASSERT_EQ(0, ioctl(self->fd, KESYNC_IOC_RESET)) TH_LOG("%s", strerror(errno));
	EXPECT_EQ(0, kt_wait_resets(self->fd, ha.resets, 1, 5));
	ASSERT_EQ(0, kt_stats(self->fd, &b));
	EXPECT_EQ(1, KT_D(b, a, resets));
	EXPECT_EQ(0, KT_D(b, a, timeouts));
	units_work(_metadata, self);
}

/*
 * A reset while a (slow) transfer is in flight: the request is either
 * redone after the reset or fails with -EIO; its data is right either
 * way and the device did no DMA for the transfer the reset ended.
 */
TEST_F_TIMEOUT(tmo, user_reset_during_transfer, 30)
{
	struct kesync_hw_stats hw;
	struct kt_op a;

	ASSERT_EQ(0, kt_set_timeout(self->fd, 5));
	ASSERT_EQ(0, kt_fault(self->fd, KESYNC_FAULT_LATE, 1, 1500000));
	kt_op_init(&a, 0, LEN, 4096, kt_seed ^ 0x01d);
	ASSERT_EQ(0, kt_op_start(&a));
	ASSERT_EQ(0, kt_op_blocked(&a, 5));
	ASSERT_EQ(0, ioctl(self->fd, KESYNC_IOC_RESET)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(1, kt_op_wait(&a, 10));
	if (a.res.ret < 0) {
		EXPECT_EQ(EIO, a.res.err) TH_LOG("got %s", strerror(a.res.err));
	} else {
		EXPECT_EQ(LEN, a.res.ret);
		EXPECT_EQ(-1, a.res.bad);
	}
	kt_op_reap(&a, 5);
	/* Past the moment the first transfer would have finished (1.5 s). */
	while (kt_now() < a.res.t0 + 1.5 + 0.7)
		kt_msleep(50);
	ASSERT_EQ(0, kt_hw(self->fd, &hw));
	EXPECT_EQ(0, hw.late_dma);
	EXPECT_EQ(0, hw.ctrl_busy);
	units_work(_metadata, self);
}

/*
 * Wait, at most @s seconds, until unit 0 has a transfer on the device
 * whose tag is not @old (the driver gives each START a new tag): its
 * tag, or 0.
 */
static unsigned int wait_new_transfer(unsigned int old, double s)
{
	double end = kt_now() + s;
	unsigned int tag;
	int busy;

	do {
		if (kt_unit_isr(0, &busy, &tag))
			return 0;
		if (busy == 1 && tag != old && tag)
			return tag;
		usleep(1000);
	} while (kt_now() < end);
	return 0;
}

/*
 * Controller resets that end the same transfer again and again (another
 * unit's timeouts or user resets): the driver starts it again after each,
 * KESYNC_RETRY_MAX times in a row; the reset after that ends the request
 * -EIO.  Each transfer hangs (HANG) so that the next reset finds it on
 * the device: a reset clears armed faults, so the next HANG is armed
 * while that reset runs (RESET_DELAY_US), before the driver can start the
 * transfer again.  KESYNC_IOC_RESET returns once the reset is over, so a
 * child asks for it.  The driver waits reset_timeout_ms for a reset and
 * then writes CTRL.RESET again, which would start a new reset (and clear
 * the fault) once this one is over: the test gives it 10 s, far beyond
 * RESET_US, and the fixture restores it.  Nothing times out and no DMA
 * follows a reset.
 */
#define RESET_US	1000000

/* The driver's debugfs state file, into the test's log. */
static void dump_state(struct __test_metadata *_metadata)
{
	FILE *f = kt_state_open();
	char line[512];

	while (f && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		TH_LOG("state: %s", line);
	}
	if (f)
		fclose(f);
}

/* KESYNC_IOC_RESET on @fd in a child; once the reset runs, its pid. */
static pid_t reset_started(int fd)
{
	pid_t pid = fork();
	double end;

	if (!pid)
		_exit(ioctl(fd, KESYNC_IOC_RESET) ? errno : 0);
	if (pid < 0)
		return -1;
	end = kt_now() + 5;
	while (kt_ctrl_resetting() == 0 && kt_now() < end)
		usleep(1000);
	return pid;
}

/* The child's ioctl result (0 or an errno value), -1 if not within @s. */
static int reset_result(pid_t pid, double s)
{
	double end = kt_now() + s;
	int status;

	for (;;) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		if (kt_now() > end)
			break;
		usleep(1000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

/*
 * For the tests whose resets take seconds: the driver waits 10 s for each
 * (the fixture puts reset_timeout_ms back), and unit 0's hung transfers do
 * not time out: only the resets end them.
 */
/* checkpatch-ok: SPACING: FIXTURE_DATA() names a type: '*' declares a pointer */
static void slow_resets(struct __test_metadata *_metadata, FIXTURE_DATA(tmo) *self)
{
	FILE *f = fopen(RESET_MS_PARAM, "r");

	ASSERT_NE(NULL, f) TH_LOG("%s: %s", RESET_MS_PARAM, strerror(errno));
	ASSERT_NE(NULL, fgets(self->reset_ms, sizeof(self->reset_ms), f));
	fclose(f);
	ASSERT_EQ(0, kt_write_file(RESET_MS_PARAM, "10000"));
	ASSERT_EQ(0, kt_set_timeout(self->fd, 30));
}

TEST_F_TIMEOUT(tmo, user_resets_in_a_row_end_transfer, 60)
{
	struct kesync_hw_stats h0, h;
	struct kesync_stats a, b;
	unsigned int i, tag = 0;
	struct kt_op op;
	int busy;
	pid_t pid;

	if (kt_unit_isr(0, &busy, &tag))
		SKIP(return, "no debugfs state file");
	tag = 0;
	slow_resets(_metadata, self);
	ASSERT_EQ(0, kt_stats(self->fd, &a));
	ASSERT_EQ(0, kt_hw(self->fd, &h0));
	ASSERT_EQ(0, kt_fault_ex(self->fd, KESYNC_FAULT_HANG, 1, 0,
				 KESYNC_FAULT_F_RESET_DELAY, RESET_US));
	kt_op_init(&op, 0, LEN, 4096, kt_seed ^ 0x01d);
	ASSERT_EQ(0, kt_op_start(&op));
	for (i = 0; i <= RETRY_MAX; i++) {
		tag = wait_new_transfer(tag, 10);
		if (!tag) {
			dump_state(_metadata);
			EXPECT_NE(1, kt_op_wait(&op, 0)) TH_LOG("the request ended: %zd (%s)",
								op.res.ret, strerror(op.res.err));
		}
		ASSERT_NE(0, tag) TH_LOG("transfer %u never reached the device", i + 1);
		pid = reset_started(self->fd);
		ASSERT_LT(0, pid);
		ASSERT_EQ(1, kt_ctrl_resetting()) TH_LOG("reset %u never began", i + 1);
		/* While that reset runs: the retry hangs, the next reset is slow. */
		if (i < RETRY_MAX) {
			ASSERT_EQ(0, kt_fault_ex(self->fd, KESYNC_FAULT_HANG, 1, 0,
						 KESYNC_FAULT_F_RESET_DELAY, RESET_US));
			ASSERT_EQ(0, kt_hw(self->fd, &h));
			ASSERT_EQ(h0.resets + i, h.resets)
				TH_LOG("reset %u was over before its fault was armed", i + 1);
		}
		ASSERT_EQ(0, reset_result(pid, RESET_US / 1e6 + 5));
	}
	ASSERT_EQ(1, kt_op_wait(&op, RESET_US / 1e6 + 5));
	EXPECT_EQ(-1, op.res.ret);
	EXPECT_EQ(EIO, op.res.err) TH_LOG("got %s", strerror(op.res.err));
	kt_op_reap(&op, 5);
	ASSERT_EQ(0, kt_wait_resets(self->fd, h0.resets, RETRY_MAX + 1, 5));
	ASSERT_EQ(0, kt_stats(self->fd, &b));
	ASSERT_EQ(0, kt_hw(self->fd, &h));
	EXPECT_EQ(RETRY_MAX + 1, KT_D(b, a, resets));
	EXPECT_EQ(1, KT_D(b, a, errors));
	EXPECT_EQ(0, KT_D(b, a, timeouts));
	EXPECT_EQ(0, h.late_dma - h0.late_dma);
	EXPECT_EQ(0, h.ctrl_busy - h0.ctrl_busy);
	units_work(_metadata, self);
}

/* The first "  cur:" line of the debugfs state file into @buf; 0 or -1. */
static int cur_line(char *buf, size_t len)
{
	FILE *f = kt_state_open();
	int ret = -1;

	while (f && fgets(buf, len, f)) {
		if (!strncmp(buf, "  cur:", 6)) {
			buf[strcspn(buf, "\n")] = 0;
			ret = 0;
			break;
		}
	}
	if (f)
		fclose(f);
	return ret;
}

/*
 * A process killed while the controller resets.  Its write was on the
 * device when the reset began: the kill only flags the request cancelled
 * (the debugfs state shows "write ... cancel") and the process stays in
 * the driver, its buffer mapped, until the reset is over; then the
 * DpcForIsr ends the request without starting its transfer again.  The
 * write rewrites the data already there, so whatever the hung transfer
 * moved, nothing is lost.  No DMA follows the reset.
 */
#define KILL_RESET_US	3000000

TEST_F_TIMEOUT(tmo, killed_during_reset_waits_for_it, 60)
{
	struct kesync_hw_stats h0, h;
	struct kesync_stats a, b;
	char cur[512] = "";
	unsigned int tag;
	struct kt_op op;
	siginfo_t si;
	double end;
	int busy;
	pid_t pid;

	if (kt_unit_isr(0, &busy, &tag))
		SKIP(return, "no debugfs state file");
	slow_resets(_metadata, self);
	ASSERT_EQ(0, kt_stats(self->fd, &a));
	ASSERT_EQ(0, kt_hw(self->fd, &h0));
	ASSERT_EQ(0, kt_fault_ex(self->fd, KESYNC_FAULT_HANG, 1, 0,
				 KESYNC_FAULT_F_RESET_DELAY, KILL_RESET_US));
	kt_op_init(&op, 0, LEN, 4096, kt_seed ^ 0x01d);
	op.write = 1;
	ASSERT_EQ(0, kt_op_start(&op));
	tag = wait_new_transfer(0, 10);
	if (!tag)
		dump_state(_metadata);
	ASSERT_NE(0, tag) TH_LOG("the write never reached the device");
	pid = reset_started(self->fd);
	ASSERT_LT(0, pid);
	ASSERT_EQ(1, kt_ctrl_resetting()) TH_LOG("the reset never began");

	ASSERT_EQ(0, kill(op.pid, SIGKILL));
	end = kt_now() + 5;
	while ((cur_line(cur, sizeof(cur)) || !strstr(cur, " cancel")) &&
	       kt_now() < end)
		usleep(1000);
	ASSERT_NE(NULL, strstr(cur, " cancel")) TH_LOG("state: %s", cur);
	EXPECT_NE(NULL, strstr(cur, " write ")) TH_LOG("state: %s", cur);
	/* The reset still runs, and the killed process waits for it. */
	EXPECT_EQ(1, kt_ctrl_resetting());
	memset(&si, 0, sizeof(si));
	ASSERT_EQ(0, waitid(P_PID, op.pid, &si, WEXITED | WNOHANG | WNOWAIT));
	EXPECT_EQ(0, si.si_pid) TH_LOG("the killed writer left during the reset");

	ASSERT_EQ(0, reset_result(pid, KILL_RESET_US / 1e6 + 5));
	ASSERT_EQ(0, kt_op_reap(&op, 5)) TH_LOG("the killed writer never left");
	EXPECT_TRUE(WIFSIGNALED(op.status) && WTERMSIG(op.status) == SIGKILL);
	ASSERT_EQ(0, kt_stats(self->fd, &b));
	ASSERT_EQ(0, kt_hw(self->fd, &h));
	EXPECT_EQ(1, KT_D(b, a, requests));
	EXPECT_EQ(1, KT_D(b, a, cancels));
	EXPECT_EQ(1, KT_D(b, a, resets));
	EXPECT_EQ(0, KT_D(b, a, timeouts));
	EXPECT_EQ(1, h.resets - h0.resets);
	EXPECT_EQ(0, h.late_dma - h0.late_dma);
	units_work(_metadata, self);
}

TEST_F(tmo, timeout_per_unit_and_bounds)
{
	struct kesync_info info;

	ASSERT_EQ(0, kt_set_timeout(self->fd, 7));
	EXPECT_EQ(7, kt_get_timeout(self->fd));
	ASSERT_EQ(0, kt_info(self->fd, &info));
	EXPECT_EQ(7, info.timeout);
	if (self->nfd >= 0)
		EXPECT_EQ(1, kt_get_timeout(self->nfd));
	ASSERT_EQ(0, kt_set_timeout(self->fd, KESYNC_TIMEOUT_MAX));
	EXPECT_EQ(KESYNC_TIMEOUT_MAX, kt_get_timeout(self->fd));
	ASSERT_EQ(0, kt_set_timeout(self->fd, KESYNC_TIMEOUT_MIN));
	errno = 0;
	EXPECT_EQ(-1, kt_set_timeout(self->fd, 0));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(-1, kt_set_timeout(self->fd, KESYNC_TIMEOUT_MAX + 1));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(KESYNC_TIMEOUT_MIN, kt_get_timeout(self->fd));
}

/* kind 0 disarms: the armed hang never happens. */
TEST_F(tmo, disarm)
{
	struct kt_buf buf;
	double dt;

	ASSERT_EQ(0, kt_fault(self->fd, KESYNC_FAULT_HANG, 5, 0));
	ASSERT_EQ(0, kt_fault(self->fd, KESYNC_FAULT_NONE, 0, 0));
	ASSERT_EQ(0, kt_buf_alloc(&buf, LEN, 0));
	ASSERT_EQ(LEN, timed_io(self->fd, 0, &buf, 4096, 0, &dt));
	EXPECT_GT(0.9, dt);
	EXPECT_EQ(-1, kt_check(buf.p, LEN, kt_seed ^ 0x01d, 4096));
	kt_buf_free(&buf);
}

KT_FINAL_HEALTH_TEST(0)

TEST_HARNESS_MAIN

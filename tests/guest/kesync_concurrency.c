// SPDX-License-Identifier: GPL-2.0
/*
 * kesync_concurrency: several processes (and threads) on all units at once.
 * The controller runs one transfer at a time (NT: the controller object),
 * so units contend for it: data stays intact, the hardware never refuses a
 * START because the controller is busy (hw ctrl_busy and stats.hw_busy stay
 * 0), and the counters add up to what the processes did.
 */
#define _GNU_SOURCE
#include <pthread.h>

#include "kesync_test.h"	/* and kselftest_harness.h */

/* What one worker did, in memory shared with the test process. */
struct wres {
	unsigned int unit;
	long long requests;
	long long bytes;
	long long failures;
	char why[160];
};

/* Account one transfer of a worker: 0, or -1 (the reason noted) if short. */
static int worker_io(struct wres *r, unsigned int unit, const char *call,
		     ssize_t n, size_t want)
{
	r->requests++;
	if (n != (ssize_t)want) {
		snprintf(r->why, sizeof(r->why), "%s = %zd (%s) unit %u", call,
			 n, n < 0 ? strerror(errno) : "short", unit);
		return -1;
	}
	r->bytes += n;
	return 0;
}

/*
 * Worker: owns [base, base + span) of its unit.  It fills the region with
 * its base pattern, then per iteration writes a chunk with a new pattern,
 * reads it back, and restores the base pattern; at the end it reads the
 * whole region back.  Anything another worker or unit scribbled shows.
 */
static void worker(struct wres *r, unsigned int unit, uint64_t base,
		   uint64_t span, unsigned int iters, uint64_t seed)
{
	struct kt_rng rng = { seed };
	struct kt_buf b;
	size_t maxlen = 256 * 1024;
	unsigned int i;
	ssize_t bad;
	int fd = kt_open_unit(unit);

#define IO(call, want)	worker_io(r, unit, #call, (call), (want))

	r->unit = unit;
	if (fd < 0) {
		snprintf(r->why, sizeof(r->why), "open unit %u: %s", unit,
			 strerror(errno));
		goto fail;
	}
	if (kt_buf_alloc(&b, span > maxlen ? span : maxlen, 0)) {
		snprintf(r->why, sizeof(r->why), "alloc");
		goto fail;
	}
	kt_fill(b.p, span, seed, base);
	if (IO(pwrite(fd, b.p, span, base), span))
		goto fail;
	for (i = 0; i < iters; i++) {
		size_t len = kt_range(&rng, 1, maxlen - 4096);
		size_t mis = kt_range(&rng, 0, 4095);
		uint64_t off;
		uint8_t *p = (uint8_t *)b.map + KT_PAGE + mis;

		if (len > span)
			len = span;
		off = base + kt_range(&rng, 0, span - len);
		kt_fill(p, len, seed ^ (i + 1), off);
		if (IO(pwrite(fd, p, len, off), len))
			goto fail;
		memset(p, 0, len);
		if (IO(pread(fd, p, len, off), len))
			goto fail;
		if (kt_check(p, len, seed ^ (i + 1), off) >= 0) {
			snprintf(r->why, sizeof(r->why),
				 "unit %u off %llu len %zu: read back differs",
				 unit, (unsigned long long)off, len);
			goto fail;
		}
		kt_fill(p, len, seed, off);
		if (IO(pwrite(fd, p, len, off), len))
			goto fail;
	}
	memset(b.p, 0, span);
	if (IO(pread(fd, b.p, span, base), span))
		goto fail;
	bad = kt_check(b.p, span, seed, base);
	if (bad >= 0) {
		snprintf(r->why, sizeof(r->why),
			 "unit %u: region byte %llu changed behind my back",
			 unit, (unsigned long long)(base + bad));
		goto fail;
	}
	goto out;
fail:
	r->failures++;
out:
	if (fd >= 0)
		close(fd);
#undef IO
}

FIXTURE(conc) {
	unsigned int units;
	uint64_t unit_size;
	struct wres *res;
	pid_t pids[64];
	unsigned int n;
};

FIXTURE_SETUP(conc)
{
	struct kesync_info info;
	int fd = kt_open_unit(0);

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, kt_info(fd, &info));
	close(fd);
	self->units = info.units;
	self->unit_size = info.unit_size;
	self->res = mmap(NULL, 64 * sizeof(struct wres), PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->res);
	memset(self->res, 0, 64 * sizeof(struct wres));
}

FIXTURE_TEARDOWN(conc)
{
	unsigned int i;

	for (i = 0; i < self->n; i++)
		kt_kill_reap(self->pids[i]);
	munmap(self->res, 64 * sizeof(struct wres));
}

/* Run per-unit workers; check data, then the counters against what they did. */
/* checkpatch-ok: SPACING: FIXTURE_DATA() names a type: '*' declares a pointer */
static void run_workers(struct __test_metadata *_metadata, FIXTURE_DATA(conc) *self,
			unsigned int per_unit, unsigned int iters, double limit_s)
{
	struct kt_snap a, b;
	long long req[KESYNC_MAX_UNITS] = { 0 }, bytes[KESYNC_MAX_UNITS] = { 0 };
	long long xfers = 0;
	uint64_t span = (self->unit_size / per_unit) & ~4095ull;
	unsigned int i, u;

	if (span > 6 * KT_MIB)
		span = 6 * KT_MIB;
	ASSERT_EQ(0, kt_snap(&a));
	self->n = 0;
	for (u = 0; u < self->units; u++) {
		for (i = 0; i < per_unit; i++) {
			unsigned int k = self->n;
			pid_t pid;

			fflush(NULL);
			pid = fork();
			ASSERT_LE(0, pid);
			if (pid == 0) {
				worker(&self->res[k], u, i * span, span, iters,
				       kt_seed ^ (0xc0c0 + k * 7919));
				_exit(0);
			}
			self->pids[self->n++] = pid;
		}
	}
	for (i = 0; i < self->n; i++) {
		int st;

		ASSERT_EQ(0, kt_waitpid(self->pids[i], limit_s, &st))
			TH_LOG("worker %u still running after %.0f s", i, limit_s);
		self->pids[i] = 0;
		EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
		EXPECT_EQ(0, self->res[i].failures) TH_LOG("worker %u: %s", i, self->res[i].why);
		req[self->res[i].unit] += self->res[i].requests;
		bytes[self->res[i].unit] += self->res[i].bytes;
	}
	ASSERT_EQ(0, kt_snap(&b));
	for (u = 0; u < self->units; u++) {
		EXPECT_EQ(req[u], KT_D(b.st[u], a.st[u], requests)) TH_LOG("unit %u", u);
		EXPECT_EQ(bytes[u], KT_D(b.st[u], a.st[u], bytes)) TH_LOG("unit %u", u);
		EXPECT_EQ(0, KT_D(b.st[u], a.st[u], errors));
		EXPECT_EQ(0, KT_D(b.st[u], a.st[u], timeouts));
		EXPECT_EQ(0, KT_D(b.st[u], a.st[u], lost_irqs));
		EXPECT_EQ(0, KT_D(b.st[u], a.st[u], cancels));
		/*
		 * Each interrupt reported a completion: none stale, none
		 * left pending (unacknowledged) to be taken again.
		 */
		EXPECT_EQ(0, KT_D(b.st[u], a.st[u], spurious)) TH_LOG("unit %u", u);
		EXPECT_EQ(0, KT_D(b.st[u], a.st[u], hw_busy));
		xfers += KT_D(b.st[u], a.st[u], requests) + KT_D(b.st[u], a.st[u], partials);
		TH_LOG("unit %u: %lld requests, %lld partials, %lld controller waits",
		       u, KT_D(b.st[u], a.st[u], requests),
		       KT_D(b.st[u], a.st[u], partials),
		       KT_D(b.st[u], a.st[u], ctrl_waits));
	}
	/* Every programmed transfer completed once on the hardware. */
	EXPECT_EQ(xfers, (long long)(b.hw.xfers - a.hw.xfers));
	EXPECT_EQ(0, b.hw.ctrl_busy);
	EXPECT_EQ(0, b.hw.late_dma);
}

TEST_F_TIMEOUT(conc, processes_on_all_units, 240)
{
	long long c0 = kt_cpu_irqs(), c1;
	struct kesync_hw_stats h0, h1;
	int fd = kt_open_unit(0);

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, kt_hw(fd, &h0));
	run_workers(_metadata, self, self->units == 1 ? 4 : 2, 12, 200);
	ASSERT_EQ(0, kt_hw(fd, &h1));
	c1 = kt_cpu_irqs();
	close(fd);
	/*
	 * The CPUs took no more interrupts than the device raised (messages,
	 * or INTx assertions): an interrupt not acknowledged on the device
	 * is taken again and again.
	 */
	ASSERT_LE(0, c0) TH_LOG("no kesync line in /proc/interrupts");
	TH_LOG("device raised %u interrupts, CPUs took %lld", h1.irqs - h0.irqs, c1 - c0);
	EXPECT_LE(1, c1 - c0);
	EXPECT_GE((long long)(h1.irqs - h0.irqs) * 21 / 20 + 10, c1 - c0);
}

/* Many processes on one unit: its queue (StartIo / the pump thread). */
TEST_F_TIMEOUT(conc, processes_on_one_unit, 240)
{
	unsigned int units = self->units;

	self->units = 1;
	run_workers(_metadata, self, 6, 8, 200);
	self->units = units;
}

/*
 * Deterministic contention: transfers on two units each take 0.5 s more
 * (KESYNC_FAULT_LATE).  Started together, they must run one after the
 * other, and the unit that waited counts it (stats.ctrl_waits).
 */
TEST_F_TIMEOUT(conc, controller_serialises_units, 60)
{
	struct kt_op op[2];
	struct kt_snap a, b;
	double first, second;
	unsigned int u;
	int fds[2];

	if (self->units < 2)
		SKIP(return, "one unit: no controller contention");
	for (u = 0; u < 2; u++) {
		fds[u] = kt_open_unit(u);
		ASSERT_LE(0, fds[u]);
		ASSERT_EQ(65536, kt_pwrite_pat(fds[u], 65536, 8192, kt_seed ^ (0x5e1 + u)));
	}
	ASSERT_EQ(0, kt_snap(&a));
	for (u = 0; u < 2; u++)
		ASSERT_EQ(0, kt_fault(fds[u], KESYNC_FAULT_LATE, 1, 500000));
	for (u = 0; u < 2; u++) {
		kt_op_init(&op[u], u, 65536, 8192, kt_seed ^ (0x5e1 + u));
		ASSERT_EQ(0, kt_op_start(&op[u]));
	}
	for (u = 0; u < 2; u++) {
		ASSERT_EQ(1, kt_op_wait(&op[u], 20));
		EXPECT_EQ(65536, op[u].res.ret) TH_LOG("unit %u: %s", u, strerror(op[u].res.err));
		EXPECT_EQ(-1, op[u].res.bad);
		ASSERT_EQ(0, kt_op_reap(&op[u], 5));
	}
	ASSERT_EQ(0, kt_snap(&b));
	first = op[0].res.t1 < op[1].res.t1 ? op[0].res.t1 : op[1].res.t1;
	second = op[0].res.t1 < op[1].res.t1 ? op[1].res.t1 : op[0].res.t1;
	/* Both were issued before either could have finished... */
	ASSERT_GT(first, op[0].res.t0 > op[1].res.t0 ? op[0].res.t0 : op[1].res.t0)
		TH_LOG("the emulator was too slow to overlap the requests");
	/* ...yet the second finished a whole LATE transfer after the first. */
	EXPECT_LE(0.45, second - first) TH_LOG("finished %.3f s apart", second - first);
	EXPECT_LE(1, KT_D(b.st[0], a.st[0], ctrl_waits) + KT_D(b.st[1], a.st[1], ctrl_waits));
	EXPECT_EQ(0, b.hw.ctrl_busy);
	EXPECT_EQ(0, KT_D(b.st[0], a.st[0], hw_busy) +
		     KT_D(b.st[1], a.st[1], hw_busy));
	for (u = 0; u < 2; u++) {
		EXPECT_EQ(1, KT_D(b.st[u], a.st[u], requests));
		EXPECT_EQ(0, KT_D(b.st[u], a.st[u], timeouts));
		close(fds[u]);
	}
}

/* Threads sharing one open file of unit 0, disjoint regions. */
struct tharg {
	int fd;
	unsigned int k;
	uint64_t base, span;
	long long requests;
	int failed;
	char why[128];
};

static void *thread_io(void *p)
{
	struct tharg *t = p;
	struct kt_rng rng = { kt_seed ^ (0x7417 + t->k) };
	struct kt_buf b;
	unsigned int i;

	if (kt_buf_alloc(&b, 200000, 3)) {
		t->failed = 1;
		return NULL;
	}
	for (i = 0; i < 20 && !t->failed; i++) {
		size_t len = kt_range(&rng, 1, 200000);
		uint64_t off = t->base + kt_range(&rng, 0, t->span - len);
		uint64_t seed = kt_seed ^ (t->k * 1000 + i);
		ssize_t n;

		kt_fill(b.p, len, seed, off);
		n = pwrite(t->fd, b.p, len, off);
		t->requests++;
		if (n != (ssize_t)len) {
			snprintf(t->why, sizeof(t->why), "pwrite %zd: %s", n, strerror(errno));
			t->failed = 1;
			break;
		}
		memset(b.p, 0, len);
		n = pread(t->fd, b.p, len, off);
		t->requests++;
		if (n != (ssize_t)len || kt_check(b.p, len, seed, off) >= 0) {
			snprintf(t->why, sizeof(t->why), "pread %zd: %s", n,
				 n < 0 ? strerror(errno) : "data differs");
			t->failed = 1;
		}
	}
	kt_buf_free(&b);
	return NULL;
}

TEST_F_TIMEOUT(conc, threads_share_one_file, 120)
{
	struct tharg t[6];
	pthread_t th[6];
	struct kesync_stats a, b;
	long long sum = 0;
	unsigned int k;
	int fd = kt_open_unit(0);

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, kt_stats(fd, &a));
	for (k = 0; k < 6; k++) {
		memset(&t[k], 0, sizeof(t[k]));
		t[k].fd = fd;
		t[k].k = k;
		t[k].span = self->unit_size / 6;
		t[k].base = k * t[k].span;
		ASSERT_EQ(0, pthread_create(&th[k], NULL, thread_io, &t[k]));
	}
	for (k = 0; k < 6; k++) {
		pthread_join(th[k], NULL);
		EXPECT_EQ(0, t[k].failed) TH_LOG("thread %u: %s", k, t[k].why);
		sum += t[k].requests;
	}
	ASSERT_EQ(0, kt_stats(fd, &b));
	EXPECT_EQ(sum, KT_D(b, a, requests));
	EXPECT_EQ(0, KT_D(b, a, errors));
	close(fd);
}

KT_FINAL_HEALTH_TEST(0)

TEST_HARNESS_MAIN

// SPDX-License-Identifier: GPL-2.0
/*
 * kesync_cancel: the cancel-safe queue.  A request is cancelled by a signal
 * (SIGINT, SIGKILL, a handler with and without SA_RESTART), by the last
 * close() of its file from another thread (a close of a duplicate cancels
 * nothing) or by KESYNC_IOC_CANCEL, while it is queued behind another
 * request (the first made to hang by fault injection), while it waits for
 * the controller, and while it is in flight (HANG: the driver aborts the
 * transfer on the device).  The caller sees -EINTR or the partial count,
 * never ERESTARTSYS (512); the unit works straight after; nothing completes
 * twice: every request is counted once, and after the timeout of every
 * cancelled transfer has passed no late timeout or completion shows up.
 * Also the cap on a unit's requests in flight (EAGAIN on an O_NONBLOCK file,
 * poll() not ready) while they are queued behind a hung one.
 */
#define _GNU_SOURCE
#include <glob.h>
#include <pthread.h>

#include "kesync_test.h"	/* and kselftest_harness.h */

#define T	2		/* unit timeout during these tests */
#define MARGIN	0.5
#define LEN	65536
#define PROMPT	1.0		/* a cancelled request returns within this */

/*
 * What the tests expect the driver to have counted, shared by all test
 * processes (created before the harness forks them).  zz_ledger compares
 * it with the driver's counters once every cancelled transfer's timeout
 * has long passed: a request completed twice, or an IoTimer still running
 * for a cancelled transfer, shows as a surplus.
 */
struct ledger {
	int started;
	struct kt_snap s0;
	long long req[KESYNC_MAX_UNITS];
	long long cancels[KESYNC_MAX_UNITS];
	long long timeouts[KESYNC_MAX_UNITS];
	long long interrupted[KESYNC_MAX_UNITS];	/* signalled or closed */
	double last;		/* start of the last hung transfer */
};

static struct ledger *L;

static void __attribute__((constructor)) ledger_init(void)
{
	L = mmap(NULL, sizeof(*L), PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (L == MAP_FAILED)
		abort();
	memset(L, 0, sizeof(*L));
}

/* Counted helpers for the requests a test makes itself. */
static ssize_t lwrite(int fd, unsigned int u, size_t len, uint64_t off, uint64_t seed)
{
	L->req[u]++;
	return kt_pwrite_pat(fd, len, off, seed);
}

static int lcheck(int fd, unsigned int u, size_t len, uint64_t off, uint64_t seed)
{
	L->req[u]++;
	return kt_pread_check(fd, len, off, seed);
}

FIXTURE(cx) {
	int fd[KESYNC_MAX_UNITS];
	unsigned int units;
	unsigned int saved[KESYNC_MAX_UNITS];
	struct kt_op a, b;	/* the first (hung) request, the victim */
};

#define SEED(u)	(kt_seed ^ (0xca0 + (u)))

FIXTURE_SETUP(cx)
{
	unsigned int u;

	self->units = kt_units();
	ASSERT_LT(0, self->units);
	if (!L->started) {
		ASSERT_EQ(0, kt_snap(&L->s0));
		L->started = 1;
	}
	for (u = 0; u < self->units; u++) {
		self->fd[u] = kt_open_unit(u);
		ASSERT_LE(0, self->fd[u]);
		self->saved[u] = kt_get_timeout(self->fd[u]);
		ASSERT_EQ(0, kt_set_timeout(self->fd[u], T));
		ASSERT_EQ(LEN, lwrite(self->fd[u], u, LEN, 4096, SEED(u)));
	}
}

FIXTURE_TEARDOWN(cx)
{
	unsigned int u;

	kt_op_cleanup(&self->a);
	kt_op_cleanup(&self->b);
	for (u = 0; u < self->units; u++) {
		kt_fault(self->fd[u], KESYNC_FAULT_NONE, 0, 0);
		if (self->saved[u])
			kt_set_timeout(self->fd[u], self->saved[u]);
		close(self->fd[u]);
	}
}

static void op_init(struct kt_op *op, unsigned int unit, enum kt_sigmode m)
{
	kt_op_init(op, unit, LEN, 4096, SEED(unit));
	op->sigmode = m;
}

/* Start a request on unit that hangs (the fault is armed first). */
/* checkpatch-ok: SPACING: FIXTURE_DATA() names a type: '*' declares a pointer */
static void start_hung(struct __test_metadata *_metadata, FIXTURE_DATA(cx) *self,
		       struct kt_op *op, unsigned int unit, enum kt_sigmode m)
{
	ASSERT_EQ(0, kt_fault(self->fd[unit], KESYNC_FAULT_HANG, 1, 0));
	op_init(op, unit, m);
	L->last = kt_now();
	ASSERT_EQ(0, kt_op_start(op));
	ASSERT_EQ(0, kt_op_blocked(op, 5)) TH_LOG("the request never blocked");
}

/*
 * Deliver sig to op and check what its caller sees: killed by the signal
 * (default action), -EINTR (handler), -EINTR or a restarted request that
 * completed (SA_RESTART handler).  Returns the requests the driver saw
 * for it (2 when it was restarted).
 */
static int signal_op(struct __test_metadata *_metadata, struct kt_op *op, int sig)
{
	double t = kt_now();
	int r;

	ASSERT_EQ(0, kill(op->pid, sig));
	if (op->sigmode == KT_SIG_DFL || sig == SIGKILL) {
		ASSERT_EQ(0, kt_op_reap(op, PROMPT))
			TH_LOG("the signalled caller did not return within %.1f s", PROMPT);
		EXPECT_TRUE(WIFSIGNALED(op->status));
		EXPECT_EQ(sig, WTERMSIG(op->status));
		return 1;
	}
	r = kt_op_wait(op, PROMPT);
	ASSERT_EQ(1, r) TH_LOG("no result within %.1f s of the signal", PROMPT);
	TH_LOG("signal to return: %.3f s", op->res.t1 - t);
	EXPECT_EQ(1, op->res.nsig);
	EXPECT_NE(512, op->res.err);	/* ERESTARTSYS must never leak */
	if (op->sigmode == KT_SIG_RESTART && op->res.ret == LEN) {
		/* Restarted by the kernel, and the restart completed. */
		EXPECT_EQ(-1, op->res.bad);
		kt_op_reap(op, 5);
		return 2;
	}
	EXPECT_EQ(-1, op->res.ret);
	EXPECT_EQ(EINTR, op->res.err) TH_LOG("got %d (%s)", op->res.err,
					     strerror(op->res.err));
	kt_op_reap(op, 5);
	return 1;
}

/* The unit serves a request at once (nothing left behind on it). */
/* checkpatch-ok: SPACING: FIXTURE_DATA() names a type: '*' declares a pointer */
static void unit_works_now(struct __test_metadata *_metadata, FIXTURE_DATA(cx) *self,
			   unsigned int u)
{
	double t0 = kt_now();

	EXPECT_EQ(0, lcheck(self->fd[u], u, LEN, 4096, SEED(u)))
		TH_LOG("unit %u after the cancel: %s", u, strerror(errno));
	EXPECT_GT(PROMPT, kt_now() - t0) TH_LOG("unit %u was still busy", u);
}

/* checkpatch-ok: SPACING: FIXTURE_DATA() names a type: '*' declares a pointer */
static void inflight(struct __test_metadata *_metadata, FIXTURE_DATA(cx) *self,
		     enum kt_sigmode m, int sig)
{
	struct kesync_stats s0, s1;
	int n;

	ASSERT_EQ(0, kt_stats(self->fd[0], &s0));
	start_hung(_metadata, self, &self->b, 0, m);
	n = signal_op(_metadata, &self->b, sig);
	L->req[0] += n;
	L->cancels[0]++;
	L->interrupted[0]++;
	unit_works_now(_metadata, self, 0);
	ASSERT_EQ(0, kt_stats(self->fd[0], &s1));
	EXPECT_EQ(n + 1, KT_D(s1, s0, requests));
	EXPECT_EQ(1, KT_D(s1, s0, cancels));
	EXPECT_EQ(0, KT_D(s1, s0, timeouts));
	EXPECT_EQ(0, KT_D(s1, s0, errors));
}

TEST_F(cx, inflight_sigint_default)
{
	inflight(_metadata, self, KT_SIG_DFL, SIGINT);
}

TEST_F(cx, inflight_sigkill)
{
	inflight(_metadata, self, KT_SIG_DFL, SIGKILL);
}

TEST_F(cx, inflight_handler_eintr)
{
	inflight(_metadata, self, KT_SIG_HANDLER, SIGUSR1);
}

TEST_F(cx, inflight_handler_sa_restart)
{
	inflight(_metadata, self, KT_SIG_RESTART, SIGUSR1);
}

/*
 * The victim is queued on the same unit behind a hung request: it leaves
 * the queue at once, the hung one stays (it is killed afterwards).
 */
/* checkpatch-ok: SPACING: FIXTURE_DATA() names a type: '*' declares a pointer */
static void queued(struct __test_metadata *_metadata, FIXTURE_DATA(cx) *self,
		   enum kt_sigmode m, int sig)
{
	struct kesync_stats s0, s1;
	int n;

	ASSERT_EQ(0, kt_stats(self->fd[0], &s0));
	start_hung(_metadata, self, &self->a, 0, KT_SIG_DFL);
	op_init(&self->b, 0, m);
	ASSERT_EQ(0, kt_op_start(&self->b));
	ASSERT_EQ(0, kt_op_blocked(&self->b, 5));
	n = signal_op(_metadata, &self->b, sig);
	/* The first request is still hung: cancelling the second left it be. */
	EXPECT_EQ(-1, kt_op_wait(&self->a, 0.1)) TH_LOG("the hung request ended too");
	if (n == 2) {
		/* Restarted and completed?  Only possible once a is gone. */
		TH_LOG("restarted request completed while the first still hangs");
		_metadata->passed = 0;
	}
	kill(self->a.pid, SIGKILL);
	ASSERT_EQ(0, kt_op_reap(&self->a, PROMPT));
	L->req[0] += 1 + n;
	L->cancels[0] += 2;
	L->interrupted[0] += 2;
	unit_works_now(_metadata, self, 0);
	ASSERT_EQ(0, kt_stats(self->fd[0], &s1));
	EXPECT_EQ(3, KT_D(s1, s0, requests));
	EXPECT_EQ(2, KT_D(s1, s0, cancels));
	EXPECT_EQ(0, KT_D(s1, s0, timeouts));
}

TEST_F(cx, queued_sigint_default)
{
	queued(_metadata, self, KT_SIG_DFL, SIGINT);
}

TEST_F(cx, queued_sigkill)
{
	queued(_metadata, self, KT_SIG_DFL, SIGKILL);
}

TEST_F(cx, queued_handler_eintr)
{
	queued(_metadata, self, KT_SIG_HANDLER, SIGUSR1);
}

/* SA_RESTART: -EINTR, or restarted and served once the hung one is gone. */
TEST_F(cx, queued_handler_sa_restart)
{
	struct kesync_stats s0, s1;
	double t;

	ASSERT_EQ(0, kt_stats(self->fd[0], &s0));
	start_hung(_metadata, self, &self->a, 0, KT_SIG_DFL);
	op_init(&self->b, 0, KT_SIG_RESTART);
	ASSERT_EQ(0, kt_op_start(&self->b));
	ASSERT_EQ(0, kt_op_blocked(&self->b, 5));
	ASSERT_EQ(0, kill(self->b.pid, SIGUSR1));
	t = kt_now();
	if (kt_op_wait(&self->b, 0.5) == 1) {
		/* Returned: must be -EINTR (nothing was transferred). */
		EXPECT_EQ(-1, self->b.res.ret);
		EXPECT_EQ(EINTR, self->b.res.err);
		L->req[0] += 1;
	} else {
		/* Restarted: it sleeps in the driver again, behind a. */
		ASSERT_EQ(0, kt_op_blocked(&self->b, 2));
		L->req[0] += 2;
	}
	kill(self->a.pid, SIGKILL);
	ASSERT_EQ(0, kt_op_reap(&self->a, PROMPT));
	if (!self->b.have) {
		ASSERT_EQ(1, kt_op_wait(&self->b, PROMPT));
		EXPECT_EQ(LEN, self->b.res.ret) TH_LOG("%s", strerror(self->b.res.err));
		EXPECT_EQ(-1, self->b.res.bad);
	}
	EXPECT_EQ(1, self->b.res.nsig);
	kt_op_reap(&self->b, 5);
	TH_LOG("%s after %.3f s", self->b.res.ret < 0 ? "EINTR" : "restarted",
	       self->b.res.t1 - t);
	L->req[0] += 1;
	L->cancels[0] += 2;
	L->interrupted[0] += 2;
	unit_works_now(_metadata, self, 0);
	ASSERT_EQ(0, kt_stats(self->fd[0], &s1));
	EXPECT_EQ(2, KT_D(s1, s0, cancels));
	EXPECT_EQ(0, KT_D(s1, s0, timeouts));
}

/* Cancelling the queued request does not disturb the hung one's timeout. */
TEST_F_TIMEOUT(cx, queued_cancel_then_first_times_out, 30)
{
	struct kesync_stats s0, s1;
	double dt;

	ASSERT_EQ(0, kt_stats(self->fd[0], &s0));
	start_hung(_metadata, self, &self->a, 0, KT_SIG_DFL);
	op_init(&self->b, 0, KT_SIG_HANDLER);
	ASSERT_EQ(0, kt_op_start(&self->b));
	ASSERT_EQ(0, kt_op_blocked(&self->b, 5));
	signal_op(_metadata, &self->b, SIGUSR1);
	ASSERT_EQ(1, kt_op_wait(&self->a, T + 1 + MARGIN + 1));
	EXPECT_EQ(-1, self->a.res.ret);
	EXPECT_EQ(ETIMEDOUT, self->a.res.err) TH_LOG("got %s", strerror(self->a.res.err));
	dt = self->a.res.t1 - self->a.res.t0;
	EXPECT_LE(T - 0.02, dt);
	EXPECT_GE(T + 1 + MARGIN, dt) TH_LOG("%.3f s", dt);
	kt_op_reap(&self->a, 5);
	L->req[0] += 2;
	L->cancels[0] += 1;
	L->interrupted[0] += 1;
	L->timeouts[0] += 1;
	unit_works_now(_metadata, self, 0);
	ASSERT_EQ(0, kt_stats(self->fd[0], &s1));
	EXPECT_EQ(1, KT_D(s1, s0, cancels));
	EXPECT_EQ(1, KT_D(s1, s0, timeouts));
	EXPECT_EQ(3, KT_D(s1, s0, requests));
}

/* Wait (bounded) until unit u has started waiting for the controller. */
static int wait_ctrl_wait(int fd, unsigned long long from, double s)
{
	double end = kt_now() + s;
	struct kesync_stats st;

	do {
		if (kt_stats(fd, &st))
			return -1;
		if (st.ctrl_waits > from)
			return 0;
		kt_msleep(5);
	} while (kt_now() < end);
	return -1;
}

/* The victim (unit 1) waits for the controller a hung unit 0 holds. */
/* checkpatch-ok: SPACING: FIXTURE_DATA() names a type: '*' declares a pointer */
static void ctrl_waiter(struct __test_metadata *_metadata, FIXTURE_DATA(cx) *self,
			enum kt_sigmode m, int sig)
{
	struct kesync_stats s0, s1;
	int n;

	if (self->units < 2)
		SKIP(return, "one unit: no controller contention");
	ASSERT_EQ(0, kt_stats(self->fd[1], &s0));
	start_hung(_metadata, self, &self->a, 0, KT_SIG_DFL);
	op_init(&self->b, 1, m);
	ASSERT_EQ(0, kt_op_start(&self->b));
	ASSERT_EQ(0, wait_ctrl_wait(self->fd[1], s0.ctrl_waits, 5))
		TH_LOG("unit 1 never waited for the controller");
	ASSERT_EQ(0, kt_op_blocked(&self->b, 5));
	n = signal_op(_metadata, &self->b, sig);
	EXPECT_EQ(1, n);
	EXPECT_EQ(-1, kt_op_wait(&self->a, 0.1));
	kill(self->a.pid, SIGKILL);
	ASSERT_EQ(0, kt_op_reap(&self->a, PROMPT));
	L->req[0] += 1;
	L->cancels[0] += 1;
	L->interrupted[0] += 1;
	L->req[1] += n;
	L->cancels[1] += 1;
	L->interrupted[1] += 1;
	unit_works_now(_metadata, self, 1);
	unit_works_now(_metadata, self, 0);
	ASSERT_EQ(0, kt_stats(self->fd[1], &s1));
	EXPECT_EQ(n + 1, KT_D(s1, s0, requests));
	EXPECT_EQ(1, KT_D(s1, s0, cancels));
	EXPECT_EQ(0, KT_D(s1, s0, errors));
}

TEST_F(cx, waiting_for_controller_handler_eintr)
{
	ctrl_waiter(_metadata, self, KT_SIG_HANDLER, SIGUSR1);
}

TEST_F(cx, waiting_for_controller_sigkill)
{
	ctrl_waiter(_metadata, self, KT_SIG_DFL, SIGKILL);
}

/* ---- close(2) from another thread ---------------------------------------- */

struct reader {
	int fd;
	pid_t tid;
	size_t len;
	uint64_t off;
	ssize_t ret;
	int err;
	double t0, t1;
	int done;
	struct kt_buf buf;
};

static void *reader_thread(void *p)
{
	struct reader *r = p;

	__atomic_store_n(&r->tid, (pid_t)syscall(SYS_gettid), __ATOMIC_SEQ_CST);
	r->t0 = kt_now();
	r->ret = pread(r->fd, r->buf.p, r->len, r->off);
	r->err = r->ret < 0 ? errno : 0;
	r->t1 = kt_now();
	__atomic_store_n(&r->done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

static int start_reader(pthread_t *th, struct reader *r, int fd)
{
	memset(r, 0, sizeof(*r));
	r->fd = fd;
	r->len = LEN;
	r->off = 4096;
	if (kt_buf_alloc(&r->buf, LEN, 0))
		return -1;
	if (pthread_create(th, NULL, reader_thread, r))
		return -1;
	while (!__atomic_load_n(&r->tid, __ATOMIC_SEQ_CST))
		sched_yield();
	return kt_wait_blocked(getpid(), r->tid, SYS_pread64, 5);
}

/* Does the driver's debugfs state show a transfer of @unit on the device? */
static int unit_on_device(unsigned int unit)
{
	unsigned int tag;
	int busy;

	return kt_unit_isr(unit, &busy, &tag) ? -1 : busy;
}

/*
 * Wait, at most @s seconds, until unit @unit's transfer is on the device.
 * A reader blocked in pread() may still sit in the driver thread's queue
 * (the thread pump): cancelled there, it leaves the armed fault to the
 * next transfer, and the test would measure that one instead.
 */
static int wait_on_device(unsigned int unit, double s)
{
	double end = kt_now() + s;
	int r;

	while ((r = unit_on_device(unit)) == 0 && kt_now() < end)
		usleep(1000);
	return r == 1 ? 0 : -1;
}

static int join_within(pthread_t th, double s)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)s;
	ts.tv_nsec += (long)((s - (time_t)s) * 1e9);
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return pthread_timedjoin_np(th, NULL, &ts);
}

/* Check a reader cancelled by close: -EINTR (or a partial count), promptly. */
static void closed_reader(struct __test_metadata *_metadata, pthread_t th,
			  struct reader *r, double tclose)
{
	ASSERT_EQ(0, join_within(th, PROMPT))
		TH_LOG("the reader did not return within %.1f s of close()", PROMPT);
	TH_LOG("close to return: %.3f s", r->t1 - tclose);
	EXPECT_NE(512, r->err);
	if (r->ret >= 0) {
		EXPECT_GT(LEN, r->ret) TH_LOG("the whole request completed");
		EXPECT_EQ(-1, kt_check(r->buf.p, r->ret, SEED(0), 4096));
	} else {
		EXPECT_EQ(EINTR, r->err) TH_LOG("got %d (%s)", r->err, strerror(r->err));
	}
	kt_buf_free(&r->buf);
}

TEST_F(cx, close_from_thread_inflight)
{
	struct kesync_stats s0, s1;
	struct reader r;
	pthread_t th;
	double tclose;
	int fd = kt_open_unit(0);

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, kt_stats(self->fd[0], &s0));
	ASSERT_EQ(0, kt_fault(self->fd[0], KESYNC_FAULT_HANG, 1, 0));
	L->last = kt_now();
	ASSERT_EQ(0, start_reader(&th, &r, fd));
	ASSERT_EQ(0, wait_on_device(0, 5));
	tclose = kt_now();
	EXPECT_EQ(0, close(fd));
	closed_reader(_metadata, th, &r, tclose);
	L->req[0] += 1;
	L->cancels[0] += 1;
	L->interrupted[0] += 1;
	unit_works_now(_metadata, self, 0);
	ASSERT_EQ(0, kt_stats(self->fd[0], &s1));
	EXPECT_EQ(1, KT_D(s1, s0, cancels));
	EXPECT_EQ(2, KT_D(s1, s0, requests));
	EXPECT_EQ(0, KT_D(s1, s0, timeouts));
}

TEST_F(cx, close_from_thread_queued)
{
	struct kesync_stats s0, s1;
	struct reader r;
	pthread_t th;
	double tclose;
	int fd = kt_open_unit(0);

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, kt_stats(self->fd[0], &s0));
	start_hung(_metadata, self, &self->a, 0, KT_SIG_DFL);
	ASSERT_EQ(0, start_reader(&th, &r, fd));
	tclose = kt_now();
	EXPECT_EQ(0, close(fd));
	closed_reader(_metadata, th, &r, tclose);
	EXPECT_EQ(-1, kt_op_wait(&self->a, 0.1)) TH_LOG("the hung request ended too");
	kill(self->a.pid, SIGKILL);
	ASSERT_EQ(0, kt_op_reap(&self->a, PROMPT));
	L->req[0] += 2;
	L->cancels[0] += 2;
	L->interrupted[0] += 2;
	unit_works_now(_metadata, self, 0);
	ASSERT_EQ(0, kt_stats(self->fd[0], &s1));
	EXPECT_EQ(2, KT_D(s1, s0, cancels));
	EXPECT_EQ(3, KT_D(s1, s0, requests));
}

/*
 * close() of a duplicate while another descriptor of the same open file
 * stays open cancels nothing: the reader on that descriptor still owns its
 * request (NT's cleanup runs when the last handle goes).
 */
TEST_F(cx, close_dup_cancels_nothing)
{
	struct kesync_stats s0, s1;
	struct reader r;
	pthread_t th;
	int fd = kt_open_unit(0);

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, kt_stats(self->fd[0], &s0));
	ASSERT_EQ(0, kt_fault(self->fd[0], KESYNC_FAULT_LATE, 1, 800000));
	ASSERT_EQ(0, start_reader(&th, &r, fd));
	EXPECT_EQ(0, close(dup(fd)));
	EXPECT_EQ(0, close(dup2(fd, 100)));
	ASSERT_EQ(0, join_within(th, 5));
	EXPECT_EQ(LEN, r.ret) TH_LOG("close(dup(fd)) ended the read: %s",
				     strerror(r.err));
	EXPECT_EQ(-1, kt_check(r.buf.p, LEN, SEED(0), 4096));
	kt_buf_free(&r.buf);
	close(fd);
	L->req[0] += 1;
	ASSERT_EQ(0, kt_stats(self->fd[0], &s1));
	EXPECT_EQ(0, KT_D(s1, s0, cancels));
	EXPECT_EQ(1, KT_D(s1, s0, requests));
}

/*
 * KESYNC_IOC_CANCEL (NT's CancelIoEx) from another thread cancels the
 * requests the process has in flight on the file, as a close would:
 * -EINTR or the partial count, promptly; the file stays usable.
 */
TEST_F(cx, cancel_ioctl_from_thread)
{
	struct kesync_stats s0, s1;
	struct reader r;
	pthread_t th;
	double tcancel;
	int fd = kt_open_unit(0);

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, kt_stats(self->fd[0], &s0));
	ASSERT_EQ(0, kt_fault(self->fd[0], KESYNC_FAULT_HANG, 1, 0));
	L->last = kt_now();
	ASSERT_EQ(0, start_reader(&th, &r, fd));
	ASSERT_EQ(0, wait_on_device(0, 5));
	tcancel = kt_now();
	EXPECT_EQ(0, ioctl(fd, KESYNC_IOC_CANCEL)) TH_LOG("%s", strerror(errno));
	closed_reader(_metadata, th, &r, tcancel);
	L->req[0] += 1;
	L->cancels[0] += 1;
	L->interrupted[0] += 1;
	EXPECT_EQ(0, lcheck(fd, 0, LEN, 4096, SEED(0)))
		TH_LOG("the file after the cancel: %s", strerror(errno));
	EXPECT_EQ(0, ioctl(fd, KESYNC_IOC_CANCEL)) TH_LOG("nothing to cancel");
	close(fd);
	unit_works_now(_metadata, self, 0);
	ASSERT_EQ(0, kt_stats(self->fd[0], &s1));
	EXPECT_EQ(1, KT_D(s1, s0, cancels));
	EXPECT_EQ(3, KT_D(s1, s0, requests));
	EXPECT_EQ(0, KT_D(s1, s0, timeouts));
}

/*
 * close() of the same open file in another process (here: a child that
 * inherited it exits) cancels nothing of ours: only the closing process's
 * requests belong to that close.
 */
TEST_F(cx, close_in_other_process_cancels_nothing)
{
	struct kesync_stats s0, s1;
	struct reader r;
	pthread_t th;
	pid_t pid;
	int st, fd = kt_open_unit(0);

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, kt_stats(self->fd[0], &s0));
	ASSERT_EQ(0, kt_fault(self->fd[0], KESYNC_FAULT_LATE, 1, 800000));
	ASSERT_EQ(0, start_reader(&th, &r, fd));
	fflush(NULL);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		close(fd);
		_exit(0);
	}
	ASSERT_EQ(0, kt_waitpid(pid, 5, &st));
	ASSERT_EQ(0, join_within(th, 5));
	EXPECT_EQ(LEN, r.ret) TH_LOG("%s", strerror(r.err));
	EXPECT_EQ(-1, kt_check(r.buf.p, LEN, SEED(0), 4096));
	kt_buf_free(&r.buf);
	close(fd);
	L->req[0] += 1;
	ASSERT_EQ(0, kt_stats(self->fd[0], &s1));
	EXPECT_EQ(0, KT_D(s1, s0, cancels));
	EXPECT_EQ(1, KT_D(s1, s0, requests));
}

/* The driver's debugfs state file, whole, into @buf: its length or -1. */
static ssize_t read_state(char *buf, size_t len)
{
	ssize_t n;
	glob_t g;
	int fd;

	if (glob("/sys/kernel/debug/kesync/*/state", 0, NULL, &g) ||
	    g.gl_pathc != 1) {
		globfree(&g);
		return -1;
	}
	fd = open(g.gl_pathv[0], O_RDONLY | O_CLOEXEC);
	globfree(&g);
	if (fd < 0)
		return -1;
	n = 0;
	for (;;) {	/* seq_file: one page or so per read */
		ssize_t r = read(fd, buf + n, len - 1 - n);

		if (r < 0) {
			n = -1;
			break;
		}
		if (!r)
			break;
		n += r;
	}
	close(fd);
	if (n >= 0)
		buf[n] = '\0';
	return n;
}

/* Unit @u's part of the state file @text, or NULL. */
static const char *unit_part(const char *text, unsigned int u, char *out,
			     size_t len)
{
	char head[32];
	const char *p, *e;

	snprintf(head, sizeof(head), "\nunit %u (", u);
	p = strstr(text, head);
	if (!p)
		return NULL;
	snprintf(head, sizeof(head), "\nunit %u (", u + 1);
	e = strstr(p + 1, head);
	if (!e)
		e = p + strlen(p);
	snprintf(out, len, "%.*s", (int)(e - p), p);
	return out;
}

/*
 * The debugfs state file shows what the driver is doing: the unit that
 * owns the controller, its request on the device (state, direction,
 * position, length), a request queued behind it (on the unit's queue,
 * or the thread pump's), and another unit's request waiting for the
 * controller.  Then everything is killed and both units work.
 */
TEST_F_TIMEOUT(cx, debugfs_shows_requests, 60)
{
	char text[16384], u0[4096], u1[4096], want[128];
	const char *queued;
	struct kesync_stats s0;
	struct kesync_info info;
	struct kt_op c;

	if (self->units < 2)
		SKIP(return, "one unit: no controller contention");
	if (read_state(text, sizeof(text)) < 0)
		SKIP(return, "no debugfs state file");
	ASSERT_EQ(0, kt_info(self->fd[0], &info));
	/* The hung request must outlive the reading: no timeout here. */
	ASSERT_EQ(0, kt_set_timeout(self->fd[0], 30));
	ASSERT_EQ(0, kt_stats(self->fd[1], &s0));
	start_hung(_metadata, self, &self->a, 0, KT_SIG_DFL);
	ASSERT_EQ(0, wait_on_device(0, 5));
	op_init(&c, 0, KT_SIG_DFL);
	ASSERT_EQ(0, kt_op_start(&c));
	ASSERT_EQ(0, kt_op_blocked(&c, 5));
	op_init(&self->b, 1, KT_SIG_DFL);
	ASSERT_EQ(0, kt_op_start(&self->b));
	ASSERT_EQ(0, wait_ctrl_wait(self->fd[1], s0.ctrl_waits, 5))
		TH_LOG("unit 1 never waited for the controller");
	ASSERT_EQ(0, kt_op_blocked(&self->b, 5));

	ASSERT_LT(0, read_state(text, sizeof(text)));
	ASSERT_NE(NULL, unit_part(text, 0, u0, sizeof(u0))) TH_LOG("%s", text);
	ASSERT_NE(NULL, unit_part(text, 1, u1, sizeof(u1))) TH_LOG("%s", text);
	EXPECT_NE(NULL, strstr(text, "controller owner 0 ")) TH_LOG("%s", text);
	snprintf(want, sizeof(want), " active read pos 4096 len %d ", LEN);
	EXPECT_NE(NULL, strstr(u0, want)) TH_LOG("%s", u0);
	/* The thread pump holds the queued request, not the unit. */
	queued = info.pump == KESYNC_PUMP_THREAD ? text : u0;
	EXPECT_NE(NULL, strstr(queued, info.pump == KESYNC_PUMP_THREAD ?
			       "thread queue 1\n" : " 1 queued"))
		TH_LOG("%s", queued);
	EXPECT_NE(NULL, strstr(u1, ", waiting for the controller")) TH_LOG("%s", u1);
	snprintf(want, sizeof(want), " wait_ctrl read pos 4096 len %d ", LEN);
	EXPECT_NE(NULL, strstr(u1, want)) TH_LOG("%s", u1);

	/*
	 * The waiters first, and gone before the hung request is: killed
	 * after it, one of them could be granted the controller and
	 * complete before it saw its signal.
	 */
	kill(c.pid, SIGKILL);
	kill(self->b.pid, SIGKILL);
	EXPECT_EQ(0, kt_op_reap(&c, PROMPT));
	EXPECT_EQ(0, kt_op_reap(&self->b, PROMPT));
	kill(self->a.pid, SIGKILL);
	EXPECT_EQ(0, kt_op_reap(&self->a, PROMPT));
	kt_op_cleanup(&c);
	L->req[0] += 2;
	L->cancels[0] += 2;
	L->interrupted[0] += 2;
	L->req[1] += 1;
	L->cancels[1] += 1;
	L->interrupted[1] += 1;
	ASSERT_EQ(0, kt_set_timeout(self->fd[0], T));
	unit_works_now(_metadata, self, 0);
	unit_works_now(_metadata, self, 1);
	ASSERT_LT(0, read_state(text, sizeof(text)));
	EXPECT_NE(NULL, strstr(text, "controller owner -1 ")) TH_LOG("%s", text);
}

/*
 * A request of many partial transfers, each made slow (LATE 150 ms),
 * interrupted after some of them completed: -EINTR or the partial count,
 * and the bytes it reports are the right ones.
 */
TEST_F_TIMEOUT(cx, signal_mid_request_partial_count, 40)
{
	struct kesync_info info;
	struct kesync_stats s0, s1, st;
	size_t len;
	double end;

	ASSERT_EQ(0, kt_info(self->fd[0], &info));
	len = 12 * (size_t)info.max_xfer;
	if (len > 4 * KT_MIB)
		len = 4 * KT_MIB;
	ASSERT_EQ((ssize_t)len, lwrite(self->fd[0], 0, len, KT_MIB, kt_seed ^ 0x9a7));
	ASSERT_EQ(0, kt_stats(self->fd[0], &s0));
	ASSERT_EQ(0, kt_fault(self->fd[0], KESYNC_FAULT_LATE, 1000, 150000));
	op_init(&self->b, 0, KT_SIG_HANDLER);
	self->b.len = len;
	self->b.off = KT_MIB;
	self->b.seed = kt_seed ^ 0x9a7;
	ASSERT_EQ(0, kt_op_start(&self->b));
	ASSERT_EQ(0, kt_op_blocked(&self->b, 5));
	/* Until two of its transfers have completed. */
	end = kt_now() + 10;
	do {
		ASSERT_EQ(0, kt_stats(self->fd[0], &st));
		if (st.partials - s0.partials >= 2)
			break;
		kt_msleep(10);
	} while (kt_now() < end);
	ASSERT_LE(2, st.partials - s0.partials);
	ASSERT_EQ(0, kill(self->b.pid, SIGUSR1));
	ASSERT_EQ(1, kt_op_wait(&self->b, PROMPT));
	EXPECT_EQ(1, self->b.res.nsig);
	if (self->b.res.ret < 0) {
		EXPECT_EQ(EINTR, self->b.res.err) TH_LOG("%s", strerror(self->b.res.err));
	} else {
		EXPECT_LT(0, self->b.res.ret);
		EXPECT_GT((ssize_t)len, self->b.res.ret);
		EXPECT_EQ(-1, self->b.res.bad);
	}
	TH_LOG("returned %zd of %zu", self->b.res.ret, len);
	kt_op_reap(&self->b, 5);
	ASSERT_EQ(0, kt_fault(self->fd[0], KESYNC_FAULT_NONE, 0, 0));
	L->req[0] += 1;
	L->cancels[0] += 1;
	L->interrupted[0] += 1;
	L->last = kt_now();
	unit_works_now(_metadata, self, 0);
	ASSERT_EQ(0, kt_stats(self->fd[0], &s1));
	EXPECT_EQ(1, KT_D(s1, s0, cancels));
	EXPECT_EQ(0, KT_D(s1, s0, timeouts));
	EXPECT_EQ(0, KT_D(s1, s0, errors));
}

/*
 * At most KESYNC_MAX_INFLIGHT requests of a unit are in flight (pinned and
 * mapped): with one hung and the rest queued behind it, a read on an
 * O_NONBLOCK file fails with EAGAIN at once and poll() says the unit is
 * not ready; once the hung one is gone, every queued one completes and the
 * unit is ready again.
 */
TEST_F_TIMEOUT(cx, inflight_cap_eagain, 120)
{
	struct kt_op q[KESYNC_MAX_INFLIGHT - 1];
	struct pollfd pfd;
	struct reader r;
	pthread_t th;
	int i, nb, joined = 0, blocked = 1;

	/* The queued ones start slowly on the debug kernel: no timeout meanwhile. */
	ASSERT_EQ(0, kt_set_timeout(self->fd[0], 60));
	start_hung(_metadata, self, &self->a, 0, KT_SIG_DFL);
	for (i = 0; i < KESYNC_MAX_INFLIGHT - 1; i++) {
		op_init(&q[i], 0, KT_SIG_DFL);
		ASSERT_EQ(0, kt_op_start(&q[i]));
	}
	for (i = 0; i < KESYNC_MAX_INFLIGHT - 1 && blocked; i++)
		blocked = kt_op_blocked(&q[i], 30) == 0;
	EXPECT_TRUE(blocked) TH_LOG("queued request %d never blocked", i - 1);
	nb = open("/dev/kesync0", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	EXPECT_LE(0, nb);
	memset(&r, 0, sizeof(r));
	r.fd = nb;
	r.len = LEN;
	r.off = 4096;
	EXPECT_EQ(0, kt_buf_alloc(&r.buf, LEN, 0));
	pfd.fd = nb;
	pfd.events = POLLIN | POLLOUT;
	if (blocked && nb >= 0 && r.buf.p) {
		EXPECT_EQ(0, pthread_create(&th, NULL, reader_thread, &r));
		joined = join_within(th, 2) == 0;
		EXPECT_TRUE(joined)
			TH_LOG("an O_NONBLOCK read waited behind %d requests",
			       KESYNC_MAX_INFLIGHT);
		/* checkpatch-ok: BRACES: EXPECT_*() is two statements */
		if (joined) {
			EXPECT_EQ(-1, r.ret);
			EXPECT_EQ(EAGAIN, r.err) TH_LOG("%s", strerror(r.err));
		}
		EXPECT_EQ(0, poll(&pfd, 1, 0)) TH_LOG("poll: ready with every slot taken");
	}

	/* Whatever happened: the hung one goes, every queued one completes. */
	kill(self->a.pid, SIGKILL);
	ASSERT_EQ(0, kt_op_reap(&self->a, PROMPT));
	for (i = 0; i < KESYNC_MAX_INFLIGHT - 1; i++) {
		EXPECT_EQ(1, kt_op_wait(&q[i], 30));
		EXPECT_EQ(LEN, q[i].res.ret) TH_LOG("%s", strerror(q[i].res.err));
		if (kt_op_reap(&q[i], 10))
			kt_op_cleanup(&q[i]);
	}
	if (blocked && nb >= 0 && r.buf.p && !joined)
		ASSERT_EQ(0, join_within(th, 10));
	L->req[0] += KESYNC_MAX_INFLIGHT + (r.ret == LEN);
	L->cancels[0] += 1;
	L->interrupted[0] += 1;
	ASSERT_EQ(0, kt_set_timeout(self->fd[0], T));
	ASSERT_LE(0, nb);
	EXPECT_EQ(1, poll(&pfd, 1, 1000));
	EXPECT_EQ(0, lcheck(nb, 0, LEN, 4096, SEED(0)))
		TH_LOG("O_NONBLOCK read with slots free: %s", strerror(errno));
	kt_buf_free(&r.buf);
	close(nb);
}

/* A process killed with several requests queued and one in flight. */
struct mt {
	unsigned int unit;
};

static void *mt_reader(void *p)
{
	struct mt *m = p;
	struct kt_buf b;
	int fd = kt_open_unit(m->unit);

	if (fd < 0 || kt_buf_alloc(&b, LEN, 0))
		return NULL;
	pread(fd, b.p, LEN, 4096);
	return NULL;
}

TEST_F(cx, sigkill_with_many_requests)
{
	struct kesync_stats s0, s1;
	pthread_t th[3];
	struct mt m = { 0 };
	pid_t pid;
	int st, k;
	char path[64];
	DIR *d;

	ASSERT_EQ(0, kt_stats(self->fd[0], &s0));
	ASSERT_EQ(0, kt_fault(self->fd[0], KESYNC_FAULT_HANG, 1, 0));
	L->last = kt_now();
	fflush(NULL);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		for (k = 0; k < 3; k++)
			pthread_create(&th[k], NULL, mt_reader, &m);
		for (k = 0; k < 3; k++)
			pthread_join(th[k], NULL);
		_exit(0);
	}
	/* Every thread of the child sleeping in pread. */
	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	for (k = 0; k < 500; k++) {
		struct dirent *e;
		int blocked = 0, threads = 0;

		d = opendir(path);
		ASSERT_NE(NULL, d);
		while ((e = readdir(d))) {
			pid_t tid = atoi(e->d_name);

			if (tid <= 0 || tid == pid)
				continue;
			threads++;
			if (!kt_wait_blocked(pid, tid, SYS_pread64, 0.05))
				blocked++;
		}
		closedir(d);
		if (threads == 3 && blocked == 3)
			break;
		kt_msleep(10);
	}
	ASSERT_GT(500, k) TH_LOG("the child's threads never all blocked");
	ASSERT_EQ(0, kill(pid, SIGKILL));
	ASSERT_EQ(0, kt_waitpid(pid, PROMPT, &st)) TH_LOG("killed process lingers");
	EXPECT_TRUE(WIFSIGNALED(st));
	unit_works_now(_metadata, self, 0);
	ASSERT_EQ(0, kt_stats(self->fd[0], &s1));
	/*
	 * The hung one is cancelled.  A queued one may still start and
	 * finish (once the hung one is aborted) before its thread acts on
	 * the signal: then it completes whole, not cancelled.  Either way
	 * each is counted once, and the bytes add up.
	 */
	EXPECT_LE(1, KT_D(s1, s0, cancels));
	EXPECT_GE(3, KT_D(s1, s0, cancels));
	EXPECT_EQ(4, KT_D(s1, s0, requests));
	EXPECT_EQ((4 - KT_D(s1, s0, cancels)) * LEN, KT_D(s1, s0, bytes));
	EXPECT_EQ(0, KT_D(s1, s0, timeouts));
	EXPECT_EQ(0, KT_D(s1, s0, errors));
	TH_LOG("%lld of 3 cancelled", KT_D(s1, s0, cancels));
	L->req[0] += 3;
	L->cancels[0] += KT_D(s1, s0, cancels);
	L->interrupted[0] += 3;
}

/*
 * Long after every cancelled transfer's timeout: no request was counted
 * twice, no timeout fired for a cancelled transfer, no interrupt was lost
 * or stray but for cancellation races, the device did no DMA for a
 * cancelled transfer (late_dma), and never refused a START.
 */
TEST_F_TIMEOUT(cx, zz_ledger_nothing_completed_twice, 30)
{
	struct kt_snap s1;
	unsigned int u;
	double until = L->last + T + 1 + MARGIN + 0.2;

	while (kt_now() < until)
		kt_msleep(50);
	ASSERT_EQ(0, kt_snap(&s1));
	for (u = 0; u < self->units; u++) {
		/* This test's own setup wrote once per unit. */
		EXPECT_EQ(L->req[u], KT_D(s1.st[u], L->s0.st[u], requests)) TH_LOG("unit %u", u);
		EXPECT_EQ(L->cancels[u], KT_D(s1.st[u], L->s0.st[u], cancels)) TH_LOG("unit %u", u);
		EXPECT_EQ(L->timeouts[u], KT_D(s1.st[u], L->s0.st[u], timeouts))
			TH_LOG("unit %u", u);
		EXPECT_EQ(0, KT_D(s1.st[u], L->s0.st[u], lost_irqs));
		/*
		 * An abort that raced the transfer's end takes the completion
		 * from the unit registers (kesync_scs_abort_fn()) and the
		 * request completes whole, not cancelled; its interrupt may
		 * still come and find nothing new.  So: at most one spurious
		 * interrupt per request the test signalled or closed.
		 */
		EXPECT_GE(L->interrupted[u], KT_D(s1.st[u], L->s0.st[u], spurious))
			TH_LOG("unit %u", u);
		EXPECT_EQ(0, KT_D(s1.st[u], L->s0.st[u], hw_busy));
	}
	EXPECT_EQ(0, s1.hw.late_dma);
	EXPECT_EQ(0, s1.hw.ctrl_busy);
}

KT_FINAL_HEALTH_TEST(0)

TEST_HARNESS_MAIN

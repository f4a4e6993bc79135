// SPDX-License-Identifier: GPL-2.0
/*
 * kesync_signals: a signal disturbs a transfer only as the kernel's
 * conventions say.  A stop and continue (SIGSTOP, SIGCONT) does not touch
 * the I/O: the read returns its full count.  A handled signal stops it:
 * with nothing moved the syscall fails with EINTR, or is restarted under
 * SA_RESTART; with data moved it returns the partial count.  A timer
 * firing every millisecond, faster than one 1 MiB read, neither livelocks
 * the caller (SA_RESTART: the read loop completes) nor ever shows
 * ERESTARTSYS (512) to user space.
 *
 * A read hung on the device (until its timeout) ends promptly for every
 * signal the kernel delivers: a core-dumping SIGQUIT (fatal, though not
 * turned into SIGKILL when sent), a SIGTERM to a ptraced reader (its
 * tracer sees the signal); a KESYNC_IOC_CANCEL landing while a handled
 * signal's stop is pending returns EINTR, not a restart; and a reader
 * killed while a reset of the function holds the controller quiesced
 * returns within a bound, while KESYNC_IOC_HW_STATS then fails with EBUSY.
 */
#define _GNU_SOURCE
#include <glob.h>
#include <pthread.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/time.h>

#include "kesync_test.h"	/* and kselftest_harness.h */

#define BIG	(1024 * 1024)	/* 16 transfers of the default 64 KiB */
#define LATE_US	400000		/* the late transfer: 0.4 s more */
#define XLEN	65536		/* one transfer */
#define PROMPT	1.5		/* a hung read ends within this of a signal */

#define SEED	(kt_seed ^ 0x5167)

FIXTURE(sig) {
	int fd;
	unsigned int saved;
	pid_t pid;
	int rfd;
	struct kt_op op;	/* a hung read in a child */
	char rto[32];		/* reset_timeout_ms to restore, or "" */
};

#define RTO_PARAM	"/sys/module/kesync/parameters/reset_timeout_ms"

FIXTURE_SETUP(sig)
{
	self->pid = 0;
	memset(&self->op, 0, sizeof(self->op));
	self->rto[0] = 0;
	self->fd = kt_open_unit(0);
	ASSERT_LE(0, self->fd);
	self->saved = kt_get_timeout(self->fd);
	ASSERT_EQ(0, kt_set_timeout(self->fd, 5));
	ASSERT_EQ(BIG, kt_pwrite_pat(self->fd, BIG, 0, SEED));
}

FIXTURE_TEARDOWN(sig)
{
	if (self->pid > 0)
		kt_kill_reap(self->pid);
	kt_op_cleanup(&self->op);
	if (self->rto[0])
		kt_write_file(RTO_PARAM, self->rto);
	kt_fault(self->fd, KESYNC_FAULT_NONE, 0, 0);
	if (self->saved)
		kt_set_timeout(self->fd, self->saved);
	close(self->fd);
}

struct sres {
	ssize_t first;		/* the first read's result */
	int first_err;
	ssize_t total;		/* bytes of the whole loop */
	int err;		/* errno that ended the loop, or 0 */
	int reads;		/* read calls */
	int nsig;		/* handler invocations */
	ssize_t bad;		/* first wrong byte, or -1 */
};

/* checkpatch-ok: VOLATILE: written by a signal handler (C11 7.14.1.1) */
static volatile sig_atomic_t nsig;

static void on_alarm(int sig)
{
	(void)sig;
	nsig++;
}

enum mode {
	ONE_READ,		/* one pread, default signal dispositions */
	LOOP_RESTART,		/* SA_RESTART SIGALRM every 1 ms, read until done */
	ONE_HANDLED,		/* SIGALRM every 1 ms without SA_RESTART, one pread */
};

/* The child: read BIG bytes at 0 as @m says, report through @wfd. */
static void reader(int wfd, enum mode m)
{
	struct itimerval it = { { 0, 1000 }, { 0, 1000 } };
	struct sigaction sa;
	struct sres r;
	struct kt_buf b;
	double end = kt_now() + 60;
	int fd;

	memset(&r, 0, sizeof(r));
	r.bad = -1;
	fd = kt_open_unit(0);
	if (fd < 0 || kt_buf_alloc(&b, BIG, 0))
		_exit(2);
	if (m != ONE_READ) {
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_alarm;
		sa.sa_flags = m == LOOP_RESTART ? SA_RESTART : 0;
		sigaction(SIGALRM, &sa, NULL);
		setitimer(ITIMER_REAL, &it, NULL);
	}
	do {
		ssize_t n = pread(fd, b.p + r.total, BIG - r.total, r.total);

		if (!r.reads++) {
			r.first = n;
			r.first_err = n < 0 ? errno : 0;
		}
		if (n <= 0) {
			r.err = n < 0 ? errno : EIO;
			break;
		}
		r.total += n;
	} while (m == LOOP_RESTART && r.total < BIG && kt_now() < end);
	memset(&it, 0, sizeof(it));
	setitimer(ITIMER_REAL, &it, NULL);
	if (r.total > 0)
		r.bad = kt_check(b.p, r.total, SEED, 0);
	r.nsig = nsig;
	if (write(wfd, &r, sizeof(r)) != sizeof(r))
		_exit(3);
	_exit(0);
}

/* checkpatch-ok: SPACING: FIXTURE_DATA() names a type: '*' declares a pointer */
static int start(FIXTURE_DATA(sig) *self, enum mode m)
{
	int p[2];

	if (pipe2(p, O_CLOEXEC))
		return -1;
	fflush(NULL);
	self->pid = fork();
	if (self->pid < 0)
		return -1;
	if (self->pid == 0) {
		close(p[0]);
		reader(p[1], m);
	}
	close(p[1]);
	self->rfd = p[0];
	return 0;
}

/* checkpatch-ok: SPACING: FIXTURE_DATA() names a type: '*' declares a pointer */
static int result(FIXTURE_DATA(sig) *self, struct sres *r, double timeout_s)
{
	struct pollfd p = { .fd = self->rfd, .events = POLLIN };
	int ok;

	ok = poll(&p, 1, (int)(timeout_s * 1000)) == 1 &&
	     read(self->rfd, r, sizeof(*r)) == sizeof(*r);
	close(self->rfd);
	if (kt_waitpid(self->pid, 10, NULL) == 0)
		self->pid = 0;
	return ok ? 0 : -1;
}

/* 'T' (stopped) in /proc/PID/stat. */
static int stopped(pid_t pid)
{
	char path[64], st[512], *rp;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	n = read(fd, st, sizeof(st) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	st[n] = 0;
	rp = strrchr(st, ')');
	return rp && (rp[2] == 'T' || rp[2] == 't');
}

/*
 * SIGSTOP while the first transfer runs late, SIGCONT once the reader has
 * stopped: the read goes on untouched and returns the full count.
 */
TEST_F_TIMEOUT(sig, stop_cont_late_transfer_full_count, 60)
{
	struct kesync_stats s0, s1;
	struct sres r;
	double end;

	ASSERT_EQ(0, kt_stats(self->fd, &s0));
	ASSERT_EQ(0, kt_fault(self->fd, KESYNC_FAULT_LATE, 1, LATE_US));
	ASSERT_EQ(0, start(self, ONE_READ));
	ASSERT_EQ(0, kt_wait_blocked(self->pid, self->pid, SYS_pread64, 5));
	ASSERT_EQ(0, kill(self->pid, SIGSTOP));
	/* It stops when the read is over (or at once, if the read gave up). */
	end = kt_now() + 20;
	while (!stopped(self->pid) && kt_now() < end)
		kt_msleep(5);
	EXPECT_TRUE(stopped(self->pid)) TH_LOG("the reader never stopped");
	ASSERT_EQ(0, kill(self->pid, SIGCONT));
	ASSERT_EQ(0, result(self, &r, 20)) TH_LOG("no result from the reader");
	EXPECT_NE(512, r.first_err);
	EXPECT_EQ(BIG, r.first) TH_LOG("the stopped read returned %zd (%s)",
				       r.first, strerror(r.first_err));
	EXPECT_EQ(-1, r.bad);
	ASSERT_EQ(0, kt_stats(self->fd, &s1));
	EXPECT_EQ(0, KT_D(s1, s0, cancels));
	EXPECT_EQ(0, KT_D(s1, s0, errors));
}

/*
 * A SIGALRM handler with SA_RESTART every millisecond, during 1 MiB reads
 * that take longer than that: the read loop completes, with the right data
 * and no error.  (A cancel that discards the bytes moved and fails or
 * restarts from scratch never gets through.)
 */
TEST_F_TIMEOUT(sig, sa_restart_1ms_timer_read_completes, 90)
{
	struct sres r;
	int i;

	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, start(self, LOOP_RESTART));
		ASSERT_EQ(0, result(self, &r, 75)) TH_LOG("no result: livelock?");
		TH_LOG("round %d: %d reads, %d signals, first %zd", i, r.reads,
		       r.nsig, r.first);
		EXPECT_NE(512, r.err);
		EXPECT_EQ(0, r.err) TH_LOG("read failed after %zd bytes: %s",
					   r.total, strerror(r.err));
		EXPECT_EQ(BIG, r.total);
		EXPECT_EQ(-1, r.bad);
		EXPECT_LT(0, r.nsig);
	}
}

/*
 * The same timer without SA_RESTART: a read returns EINTR (nothing moved)
 * or a partial count of correct data, never 512.
 */
TEST_F_TIMEOUT(sig, handled_1ms_timer_eintr_or_partial, 60)
{
	struct sres r;
	int i, partial = 0, eintr = 0;

	for (i = 0; i < 5; i++) {
		ASSERT_EQ(0, start(self, ONE_HANDLED));
		ASSERT_EQ(0, result(self, &r, 30));
		EXPECT_NE(512, r.first_err);
		if (r.first < 0) {
			EXPECT_EQ(EINTR, r.first_err)
				TH_LOG("%s", strerror(r.first_err));
			eintr++;
		} else {
			EXPECT_LT(0, r.first);
			EXPECT_GE(BIG, r.first);
			EXPECT_EQ(-1, r.bad);
			partial += r.first < BIG;
		}
	}
	TH_LOG("%d EINTR, %d partial counts of 5", eintr, partial);
}

/* ---- A read hung on the device ------------------------------------------- */

/*
 * The first line of unit @unit's section in the driver's debugfs state
 * that starts with @prefix, into @out.  Returns 0, or -1 if there is none.
 */
static int dbg_line(unsigned int unit, const char *prefix, char *out,
		    size_t len)
{
	char line[512];
	int cur = -1, ret = -1;
	unsigned int u;
	glob_t g;
	FILE *f;

	if (glob("/sys/kernel/debug/kesync/*/state", 0, NULL, &g) ||
	    g.gl_pathc != 1) {
		globfree(&g);
		return -1;
	}
	f = fopen(g.gl_pathv[0], "r");
	globfree(&g);
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "unit %u ", &u) == 1) {
			cur = u;
		} else if (cur == (int)unit &&
			   !strncmp(line, prefix, strlen(prefix))) {
			snprintf(out, len, "%s", line);
			ret = 0;
			break;
		}
	}
	fclose(f);
	return ret;
}

/*
 * Wait, at most @s seconds, until unit 0's transfer is on the device: a
 * reader blocked in pread() may still sit in the pump thread's queue, and
 * cancelled there it would leave the armed fault to the next transfer.
 */
static int wait_on_device(double s)
{
	double end = kt_now() + s;
	char line[512];
	int busy = 0;

	do {
		if (!dbg_line(0, "  isr:", line, sizeof(line)) &&
		    sscanf(line, "  isr: timer_count %*d busy %d", &busy) == 1 &&
		    busy)
			return 0;
		usleep(1000);
	} while (kt_now() < end);
	return -1;
}

/* Start a read of unit 0 in a child, hung on the device (HANG fault). */
/* checkpatch-ok: SPACING: FIXTURE_DATA() names a type: '*' declares a pointer */
static void start_hung(struct __test_metadata *_metadata, FIXTURE_DATA(sig) *self,
		       unsigned int flags, unsigned int reset_delay_us)
{
	ASSERT_EQ(0, kt_fault_ex(self->fd, KESYNC_FAULT_HANG, 1, 0, flags,
				 reset_delay_us)) TH_LOG("%s", strerror(errno));
	kt_op_init(&self->op, 0, XLEN, 0, SEED);
	ASSERT_EQ(0, kt_op_start(&self->op));
	ASSERT_EQ(0, kt_op_blocked(&self->op, 5)) TH_LOG("never blocked");
	ASSERT_EQ(0, wait_on_device(5)) TH_LOG("never on the device");
}

/* Unit 0 serves a read at once: nothing of the hung one is left. */
static void unit_works(struct __test_metadata *_metadata, int fd)
{
	double t0 = kt_now();

	EXPECT_EQ(0, kt_pread_check(fd, XLEN, 0, SEED))
		TH_LOG("after: %s", strerror(errno));
	EXPECT_GT(PROMPT, kt_now() - t0) TH_LOG("the unit was still busy");
}

/*
 * SIGQUIT with its default action (a core dump; none here: RLIMIT_CORE is
 * 0) is fatal but, unlike SIGINT or SIGTERM, not turned into SIGKILL when
 * it is sent: fatal_signal_pending() stays false in the driver.  It ends a
 * read hung on the device all the same, long before its timeout (5 s).
 */
TEST_F_TIMEOUT(sig, sigquit_default_ends_hung_read, 60)
{
	struct rlimit rl = { 0, 0 };
	struct kesync_stats s0, s1;
	double t;

	ASSERT_EQ(0, setrlimit(RLIMIT_CORE, &rl));
	ASSERT_EQ(0, kt_stats(self->fd, &s0));
	start_hung(_metadata, self, 0, 0);
	t = kt_now();
	ASSERT_EQ(0, kill(self->op.pid, SIGQUIT));
	ASSERT_EQ(0, kt_op_reap(&self->op, PROMPT))
		TH_LOG("the reader still lives %.1f s after SIGQUIT", PROMPT);
	TH_LOG("SIGQUIT to death: %.3f s", kt_now() - t);
	EXPECT_TRUE(WIFSIGNALED(self->op.status));
	EXPECT_EQ(SIGQUIT, WTERMSIG(self->op.status));
	unit_works(_metadata, self->fd);
	ASSERT_EQ(0, kt_stats(self->fd, &s1));
	EXPECT_EQ(2, KT_D(s1, s0, requests));
	EXPECT_EQ(1, KT_D(s1, s0, cancels));
	EXPECT_EQ(0, KT_D(s1, s0, timeouts));
}

/*
 * A signal to a ptraced reader (SIGTERM, default action) is not turned
 * into SIGKILL either: the tracer must see it first.  The hung read ends
 * promptly, the tracer sees the signal-delivery stop, and the reader dies
 * of the signal once the tracer passes it on.
 */
TEST_F_TIMEOUT(sig, ptraced_sigterm_reaches_tracer, 60)
{
	struct kesync_stats s0, s1;
	double t, end;
	int st = 0;
	pid_t r;

	ASSERT_EQ(0, kt_stats(self->fd, &s0));
	start_hung(_metadata, self, 0, 0);
	ASSERT_EQ(0, ptrace(PTRACE_SEIZE, self->op.pid, 0, 0))
		TH_LOG("PTRACE_SEIZE: %s", strerror(errno));
	t = kt_now();
	ASSERT_EQ(0, kill(self->op.pid, SIGTERM));
	end = t + PROMPT;
	while ((r = waitpid(self->op.pid, &st, WNOHANG)) == 0 && kt_now() < end)
		kt_msleep(2);
	ASSERT_EQ(self->op.pid, r)
		TH_LOG("the tracer saw nothing %.1f s after SIGTERM", PROMPT);
	TH_LOG("SIGTERM to the tracer: %.3f s", kt_now() - t);
	ASSERT_TRUE(WIFSTOPPED(st));
	EXPECT_EQ(SIGTERM, WSTOPSIG(st));
	ASSERT_EQ(0, ptrace(PTRACE_DETACH, self->op.pid, 0, SIGTERM));
	ASSERT_EQ(0, kt_op_reap(&self->op, PROMPT));
	EXPECT_TRUE(WIFSIGNALED(self->op.status));
	EXPECT_EQ(SIGTERM, WTERMSIG(self->op.status));
	unit_works(_metadata, self->fd);
	ASSERT_EQ(0, kt_stats(self->fd, &s1));
	EXPECT_EQ(2, KT_D(s1, s0, requests));
	EXPECT_EQ(1, KT_D(s1, s0, cancels));
	EXPECT_EQ(0, KT_D(s1, s0, timeouts));
}

/* A thread of the test blocked in a read of its own file. */
struct treader {
	int fd;
	pid_t tid;
	ssize_t ret;
	int err;
	struct kt_buf b;
};

static void *treader_run(void *p)
{
	struct treader *r = p;

	__atomic_store_n(&r->tid, (pid_t)syscall(SYS_gettid), __ATOMIC_SEQ_CST);
	r->ret = pread(r->fd, r->b.p, XLEN, 0);
	r->err = r->ret < 0 ? errno : 0;
	return NULL;
}

/* checkpatch-ok: VOLATILE: written by a signal handler (C11 7.14.1.1) */
static volatile sig_atomic_t nusr1;

static void on_usr1(int sig)
{
	(void)sig;
	nusr1++;
}

/*
 * A handled signal (SA_RESTART) asks the hung read to stop; within the
 * grace it then has (KESYNC_STOP_GRACE, 200 ms: it is shown as "stop" in
 * debugfs), another thread cancels it with KESYNC_IOC_CANCEL.  That cancel
 * wins: the read fails with EINTR, and is not restarted as an
 * interrupted one would be.
 */
TEST_F_TIMEOUT(sig, cancel_ioctl_in_stop_grace_not_restarted, 60)
{
	struct kesync_stats s0, s1;
	struct sigaction sa;
	struct treader r;
	char line[512];
	pthread_t th;
	double t, end;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sa.sa_flags = SA_RESTART;
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	memset(&r, 0, sizeof(r));
	r.fd = kt_open_unit(0);
	ASSERT_LE(0, r.fd);
	ASSERT_EQ(0, kt_buf_alloc(&r.b, XLEN, 0));
	ASSERT_EQ(0, kt_stats(self->fd, &s0));
	ASSERT_EQ(0, kt_fault(self->fd, KESYNC_FAULT_HANG, 1, 0));
	ASSERT_EQ(0, pthread_create(&th, NULL, treader_run, &r));
	while (!__atomic_load_n(&r.tid, __ATOMIC_SEQ_CST))
		sched_yield();
	ASSERT_EQ(0, kt_wait_blocked(getpid(), r.tid, SYS_pread64, 5));
	ASSERT_EQ(0, wait_on_device(5));

	t = kt_now();
	ASSERT_EQ(0, syscall(SYS_tgkill, getpid(), r.tid, SIGUSR1));
	end = t + 1;
	while ((dbg_line(0, "  cur:", line, sizeof(line)) ||
		!strstr(line, " stop")) && kt_now() < end)
		usleep(200);
	ASSERT_NE(NULL, strstr(line, " stop")) TH_LOG("never asked to stop");
	ASSERT_EQ(0, ioctl(r.fd, KESYNC_IOC_CANCEL)) TH_LOG("%s", strerror(errno));
	/* Else the grace may have run out first: the test would prove nothing. */
	ASSERT_GT(0.15, kt_now() - t) TH_LOG("the cancel came too late");
	ASSERT_EQ(0, pthread_join(th, NULL));
	TH_LOG("signal to return: %.3f s, read %zd (%s)", kt_now() - t, r.ret,
	       strerror(r.err));
	EXPECT_EQ(1, nusr1);
	EXPECT_NE(512, r.err);
	EXPECT_EQ(-1, r.ret) TH_LOG("the read was restarted");
	EXPECT_EQ(EINTR, r.err);
	ASSERT_EQ(0, kt_stats(self->fd, &s1));
	EXPECT_EQ(1, KT_D(s1, s0, requests));
	EXPECT_EQ(1, KT_D(s1, s0, cancels));
	kt_buf_free(&r.b);
	close(r.fd);
	unit_works(_metadata, self->fd);
}

/* ---- A reset of the function holds the controller quiesced --------------- */

#define QUIESCE_US	10000000	/* the stuck controller reset */
#define LEAVE_S		8.0		/* the cancelled wait's bound, and more */

struct resetter {
	char path[128];
	int ret;
	int done;
};

static void *resetter_run(void *p)
{
	struct resetter *rs = p;

	rs->ret = kt_write_file(rs->path, "1");
	__atomic_store_n(&rs->done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

/* The controller's STATUS register shows a reset in progress. */
static int ctrl_resetting(void)
{
	char line[512];
	unsigned int st;
	glob_t g;
	FILE *f;
	int ret = 0;

	if (glob("/sys/kernel/debug/kesync/*/state", 0, NULL, &g) ||
	    g.gl_pathc != 1) {
		globfree(&g);
		return 0;
	}
	f = fopen(g.gl_pathv[0], "r");
	globfree(&g);
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "  regs: STATUS 0x%x CTRL", &st) == 1) {
			ret = !!(st & KESYNC_STATUS_RESETTING);
			break;
		}
	fclose(f);
	return ret;
}

/*
 * A sysfs reset of the function (FLR) quiesces the controller first; a
 * controller reset that takes 10 s (KESYNC_FAULT_F_RESET_DELAY, with
 * reset_timeout_ms above it) holds it quiesced that long.  A reader
 * killed meanwhile has its request cancelled, which the device cannot end
 * before the controller is back: the reader's uninterruptible wait gives
 * up after its bound (5 s), well before that and far below the hung-task
 * limit.  KESYNC_IOC_HW_STATS, which would read the registers of a
 * function being reset, fails with EBUSY.  Afterwards the unit works and
 * the request left behind was counted once.
 */
TEST_F_TIMEOUT(sig, killed_during_quiesce_returns_bounded, 90)
{
	struct kesync_hw_stats hw;
	struct kesync_stats s0, s1;
	struct resetter rs;
	char bdf[64];
	pthread_t th;
	double t, end;
	int fd, ret, rdone;

	ASSERT_EQ(0, kt_bdf(bdf, sizeof(bdf)));
	memset(&rs, 0, sizeof(rs));
	snprintf(rs.path, sizeof(rs.path), "/sys/bus/pci/devices/%s/reset", bdf);
	if (access(rs.path, W_OK))
		SKIP(return, "no reset for %s", bdf);
	fd = open(RTO_PARAM, O_RDONLY);
	ASSERT_LE(0, fd);
	ret = read(fd, self->rto, sizeof(self->rto) - 1);
	close(fd);
	ASSERT_LT(0, ret);
	self->rto[ret] = 0;
	ASSERT_EQ(0, kt_write_file(RTO_PARAM, "20000"));
	ASSERT_EQ(0, kt_stats(self->fd, &s0));
	start_hung(_metadata, self, KESYNC_FAULT_F_RESET_DELAY, QUIESCE_US);

	ASSERT_EQ(0, pthread_create(&th, NULL, resetter_run, &rs));
	end = kt_now() + 5;
	while (!ctrl_resetting() && kt_now() < end)
		kt_msleep(2);
	ASSERT_TRUE(ctrl_resetting()) TH_LOG("the quiesce never reset the controller");
	t = kt_now();
	ASSERT_EQ(0, kill(self->op.pid, SIGKILL));
	EXPECT_EQ(0, kt_op_reap(&self->op, LEAVE_S))
		TH_LOG("the killed reader still waits %.1f s later", LEAVE_S);
	rdone = __atomic_load_n(&rs.done, __ATOMIC_SEQ_CST);
	TH_LOG("SIGKILL to death: %.3f s, reset %s", kt_now() - t,
	       rdone ? "over" : "still running");
	EXPECT_FALSE(rdone) TH_LOG("the reset ended first: nothing shown");
	if (!rdone) {
		ret = ioctl(self->fd, KESYNC_IOC_HW_STATS, &hw);
		EXPECT_EQ(-1, ret) TH_LOG("HW_STATS during the reset");
		EXPECT_EQ(EBUSY, errno) TH_LOG("%s", strerror(errno));
	}
	ASSERT_EQ(0, pthread_join(th, NULL));
	EXPECT_EQ(0, rs.ret) TH_LOG("reset: %s", strerror(errno));
	TH_LOG("reset of the function: %.3f s", kt_now() - t);
	ASSERT_EQ(0, kt_op_reap(&self->op, 10));
	unit_works(_metadata, self->fd);
	EXPECT_EQ(0, kt_hw(self->fd, &hw)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, kt_stats(self->fd, &s1));
	EXPECT_EQ(2, KT_D(s1, s0, requests));
	EXPECT_EQ(1, KT_D(s1, s0, cancels));
	EXPECT_EQ(0, KT_D(s1, s0, timeouts));
}

KT_FINAL_HEALTH_TEST(0)

TEST_HARNESS_MAIN

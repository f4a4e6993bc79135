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
 */
#define _GNU_SOURCE
#include <sys/time.h>

#include "kesync_test.h"	/* and kselftest_harness.h */

#define BIG	(1024 * 1024)	/* 16 transfers of the default 64 KiB */
#define LATE_US	400000		/* the late transfer: 0.4 s more */

#define SEED	(kt_seed ^ 0x5167)

FIXTURE(sig) {
	int fd;
	unsigned int saved;
	pid_t pid;
	int rfd;
};

FIXTURE_SETUP(sig)
{
	self->pid = 0;
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

KT_FINAL_HEALTH_TEST(0)

TEST_HARNESS_MAIN

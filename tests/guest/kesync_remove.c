// SPDX-License-Identifier: GPL-2.0
/*
 * kesync_remove: remove() against what user space does at the same time.
 * - A read whose buffer faults slowly (userfaultfd, the fault held) does
 *   not hold up an unbind: the buffer is pinned outside the remove lock,
 *   so the unbind finishes and every other file of the controller keeps
 *   answering (ioctl, close) while the fault is still held.
 * - 64 readers queued behind a hung transfer, reading again after each
 *   EINTR, a SIGUSR1 storm on them that keeps cancelling their requests
 *   while the device is unbound, several times: every reader ends with
 *   ENODEV (never 512), and no DMA mapping outlives the binding (on the
 *   debug kernel, DMA-API debugging reports one, and panic_on_warn turns
 *   it into a dead guest).
 */
#define _GNU_SOURCE
#include <linux/userfaultfd.h>
#include <pthread.h>

#include "kesync_test.h"	/* and kselftest_harness.h */

#define LEN	65536
#define NREAD	64

FIXTURE(rm) {
	unsigned int units;
	char bdf[64];
	int unbound;
};

static int bind_driver(const char *bdf, int bind)
{
	return kt_write_file(bind ? KT_DRIVER_DIR "/bind" : KT_DRIVER_DIR "/unbind", bdf);
}

FIXTURE_SETUP(rm)
{
	self->units = kt_units();
	ASSERT_LT(0, self->units);
	ASSERT_EQ(0, kt_bdf(self->bdf, sizeof(self->bdf)));
	self->unbound = 0;
}

FIXTURE_TEARDOWN(rm)
{
	if (self->unbound) {
		bind_driver(self->bdf, 1);
		kt_wait_nodes(self->units, 1, 10);
	}
}

/* Run the unbind in a child, so that a hung one cannot hang the test. */
static pid_t unbind_async(const char *bdf)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid == 0)
		_exit(bind_driver(bdf, 0) ? 1 : 0);
	return pid;
}

struct fault_reader {
	int fd;
	void *buf;
	ssize_t ret;
	int err;
	int done;
};

static void *fault_reader_thread(void *p)
{
	struct fault_reader *r = p;

	r->ret = pread(r->fd, r->buf, LEN, 0);
	r->err = r->ret < 0 ? errno : 0;
	__atomic_store_n(&r->done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

static int join_within(pthread_t th, double s)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)s;
	return pthread_timedjoin_np(th, NULL, &ts);
}

/* In a child: INFO and close on another file of the controller. */
static pid_t poke_async(int fd)
{
	struct kesync_info info;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		int r = kt_info(fd, &info);

		/* ENODEV once removed is an answer too. */
		if (r && errno != ENODEV)
			_exit(1);
		_exit(close(fd) ? 2 : 0);
	}
	return pid;
}

TEST_F_TIMEOUT(rm, unbind_while_buffer_fault_held, 90)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg;
	struct uffdio_zeropage zp;
	struct uffd_msg msg;
	struct pollfd pfd;
	struct fault_reader r;
	pthread_t th;
	pid_t unb, poke;
	int uffd, fd1, st = -1, pst = -1;
	double t0;

	uffd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (uffd < 0)
		SKIP(return, "no userfaultfd: %s", strerror(errno));
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_API, &api));
	memset(&r, 0, sizeof(r));
	r.buf = mmap(NULL, LEN, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, r.buf);
	memset(&reg, 0, sizeof(reg));
	reg.range.start = (unsigned long)r.buf;
	reg.range.len = LEN;
	reg.mode = UFFDIO_REGISTER_MODE_MISSING;
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_REGISTER, &reg));
	r.fd = kt_open_unit(0);
	ASSERT_LE(0, r.fd);
	fd1 = kt_open_unit(self->units > 1 ? 1 : 0);
	ASSERT_LE(0, fd1);

	/* The read faults on its buffer in the driver, and the fault waits. */
	ASSERT_EQ(0, pthread_create(&th, NULL, fault_reader_thread, &r));
	pfd.fd = uffd;
	pfd.events = POLLIN;
	ASSERT_EQ(1, poll(&pfd, 1, 5000)) TH_LOG("the read never faulted");
	ASSERT_EQ(sizeof(msg), read(uffd, &msg, sizeof(msg)));
	ASSERT_EQ(UFFD_EVENT_PAGEFAULT, msg.event);

	t0 = kt_now();
	unb = unbind_async(self->bdf);
	ASSERT_LT(0, unb);
	self->unbound = 1;
	EXPECT_EQ(0, kt_waitpid(unb, 10, &st))
		TH_LOG("the unbind waits for the held fault");
	/* checkpatch-ok: BRACES: EXPECT_*() is two statements */
	if (unb > 0 && st != -1) {
		EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	poke = poke_async(fd1);
	ASSERT_LT(0, poke);
	EXPECT_EQ(0, kt_waitpid(poke, 5, &pst))
		TH_LOG("ioctl/close of another file wait behind the unbind");
	/* checkpatch-ok: BRACES: EXPECT_*() is two statements */
	if (pst != -1) {
		EXPECT_TRUE(WIFEXITED(pst) && WEXITSTATUS(pst) == 0);
	}
	TH_LOG("unbind with the fault held: %.3f s", kt_now() - t0);
	EXPECT_FALSE(__atomic_load_n(&r.done, __ATOMIC_SEQ_CST));

	/* Let the fault go (zero pages): the read ends, without the device. */
	zp.range.start = (unsigned long)r.buf;
	zp.range.len = LEN;
	zp.mode = 0;
	EXPECT_EQ(0, ioctl(uffd, UFFDIO_ZEROPAGE, &zp)) TH_LOG("%s", strerror(errno));
	close(uffd);
	ASSERT_EQ(0, join_within(th, 20)) TH_LOG("the read never ended");
	EXPECT_EQ(-1, r.ret);
	EXPECT_EQ(ENODEV, r.err) TH_LOG("got %s", strerror(r.err));
	if (st == -1)
		kt_waitpid(unb, 30, &st);
	if (pst == -1)
		kt_waitpid(poke, 30, &pst);
	close(r.fd);
	close(fd1);
	ASSERT_EQ(0, bind_driver(self->bdf, 1)) TH_LOG("bind: %s", strerror(errno));
	self->unbound = 0;
	ASSERT_EQ(0, kt_wait_nodes(self->units, 1, 10));
}

/* checkpatch-ok: VOLATILE: written by a signal handler (C11 7.14.1.1) */
static volatile sig_atomic_t nsig;

static void on_usr1(int sig)
{
	(void)sig;
	nsig++;
}

/*
 * A reader child: read again after each EINTR (the storm cancels its
 * request over and over) until the unbind ends it; report the last result
 * and the number of EINTRs on @wfd, as (ret, errno, eintr).
 */
static void storm_reader(int wfd, int ready)
{
	double end = kt_now() + 60;
	struct sigaction sa;
	struct kt_buf b;
	long res[3] = { 0, 0, 0 };
	int fd;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	fd = kt_open_unit(0);
	if (fd < 0 || kt_buf_alloc(&b, LEN, 0))
		_exit(2);
	if (write(ready, "r", 1) != 1)
		_exit(3);
	do {
		res[0] = pread(fd, b.p, LEN, 0);
		res[1] = res[0] < 0 ? errno : 0;
		res[2] += res[1] == EINTR;
	} while ((res[0] >= 0 || res[1] == EINTR) && kt_now() < end);
	if (write(wfd, res, sizeof(res)) != sizeof(res))
		_exit(3);
	_exit(0);
}

TEST_F_TIMEOUT(rm, signal_storm_during_unbind, 300)
{
	pid_t pids[NREAD + 1], storm, unb;
	int p[2], rd[2], round, i, st, fd;
	long res[3], eintrs;
	char c;

	for (round = 0; round < 3; round++) {
		int enodev = 0;

		eintrs = 0;
		fd = kt_open_unit(0);
		ASSERT_LE(0, fd);
		ASSERT_EQ(0, kt_set_timeout(fd, 30));
		ASSERT_EQ(0, kt_fault(fd, KESYNC_FAULT_HANG, 1, 0));
		ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
		ASSERT_EQ(0, pipe2(rd, O_CLOEXEC));
		fflush(NULL);
		/* pids[0] hangs on the device; the others queue behind it. */
		for (i = 0; i <= NREAD; i++) {
			pids[i] = fork();
			ASSERT_LE(0, pids[i]);
			if (pids[i] == 0)
				storm_reader(p[1], rd[1]);
			ASSERT_EQ(1, read(rd[0], &c, 1));
			if (i == 0)
				ASSERT_EQ(0, kt_wait_blocked(pids[0], pids[0],
							     SYS_pread64, 5));
		}
		ASSERT_EQ(0, kt_wait_blocked(pids[NREAD], pids[NREAD],
					     SYS_pread64, 10));
		storm = fork();
		ASSERT_LE(0, storm);
		if (storm == 0) {
			for (;;)
				for (i = 1; i <= NREAD; i++)
					kill(pids[i], SIGUSR1);
		}
		/* Let the cancels flow (a stop's grace is 200 ms), then unbind. */
		kt_msleep(500);
		unb = unbind_async(self->bdf);
		ASSERT_LT(0, unb);
		self->unbound = 1;
		EXPECT_EQ(0, kt_waitpid(unb, 30, &st)) TH_LOG("unbind hangs");
		kill(storm, SIGKILL);
		kt_waitpid(storm, 10, NULL);
		for (i = 0; i <= NREAD; i++) {
			struct pollfd pfd = { .fd = p[0], .events = POLLIN };

			ASSERT_EQ(1, poll(&pfd, 1, 10000)) TH_LOG("a reader never returned");
			ASSERT_EQ(sizeof(res), read(p[0], res, sizeof(res)));
			EXPECT_NE(512, res[1]);
			EXPECT_EQ(-1, res[0]);
			EXPECT_EQ(ENODEV, res[1]) TH_LOG("reader %d: %s", i,
							 strerror(res[1]));
			enodev += res[1] == ENODEV;
			eintrs += res[2];
		}
		for (i = 0; i <= NREAD; i++)
			kt_waitpid(pids[i], 10, NULL);
		TH_LOG("round %d: %ld EINTRs before the unbind, %d ENODEV",
		       round, eintrs, enodev);
		close(p[0]);
		close(p[1]);
		close(rd[0]);
		close(rd[1]);
		close(fd);
		ASSERT_EQ(0, bind_driver(self->bdf, 1)) TH_LOG("bind: %s", strerror(errno));
		self->unbound = 0;
		ASSERT_EQ(0, kt_wait_nodes(self->units, 1, 10));
	}
}

KT_FINAL_HEALTH_TEST(0)

TEST_HARNESS_MAIN

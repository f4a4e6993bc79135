/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kesync_test.h: helpers shared by the kesync guest tests.  It includes the
 * kernel's kselftest_harness.h: the helpers that take a _metadata use ASSERT_*.
 *
 * Conventions
 * - Every wait is bounded: children are watched through a pidfd or a result
 *   pipe with poll(2), and a request is known to be blocked in the driver by
 *   reading /proc/PID/syscall, never by sleeping and hoping.
 * - Data written to a medium is a pure function of (seed, medium offset), so
 *   any byte read back can be checked wherever it came from.  The seed is
 *   KESYNC_SEED (the runner passes one per run) or the time; it is printed.
 * - The environment of the boot (KESYNC_UNITS, KESYNC_IRQ, KESYNC_PUMP,
 *   KESYNC_IOMMU, KESYNC_MODPARAMS) comes from run-guest.sh.
 */
#ifndef KESYNC_TEST_H
#define KESYNC_TEST_H

/*
 * The harness's EXPECT_* compare mixed signedness and its wrappers leave
 * parameters unused; -Wextra would bury real warnings under these.
 */
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wmisleading-indentation"
#pragma GCC diagnostic ignored "-Wformat-truncation"

#ifndef KT_NO_HARNESS
#include "kselftest_harness.h"
#else
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#endif

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/kesync.h>
#include <linux/kesync_hw.h>

#define KT_PAGE		4096UL
#define KT_MIB		(1024UL * 1024UL)
#define KT_DEV_FMT	"/dev/kesync%u"
#define KT_MODULE	"kesync"
#define KT_MODULE_PATH	"/kesync/modules/kesync.ko"
#define KT_DRIVER_DIR	"/sys/bus/pci/drivers/kesync"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

/* ---- environment ------------------------------------------------------- */

static inline unsigned int kt_env_uint(const char *name, unsigned int def)
{
	const char *s = getenv(name);

	return s && *s ? strtoul(s, NULL, 0) : def;
}

static inline const char *kt_env_str(const char *name, const char *def)
{
	const char *s = getenv(name);

	return s && *s ? s : def;
}

static inline int kt_iommu(void)
{
	return kt_env_uint("KESYNC_IOMMU", 0) != 0;
}

static uint64_t kt_seed;

/* Runs before main(): the seed every test of the program derives data from. */
static void __attribute__((constructor)) kt_seed_init(void)
{
	const char *s = getenv("KESYNC_SEED");
	struct timespec ts;

	if (s && *s) {
		kt_seed = strtoull(s, NULL, 0);
	} else {
		clock_gettime(CLOCK_REALTIME, &ts);
		kt_seed = (uint64_t)ts.tv_sec * 1000003u ^ ts.tv_nsec ^ getpid();
	}
	printf("# seed %llu (rerun with KESYNC_SEED=%llu)\n",
	       (unsigned long long)kt_seed, (unsigned long long)kt_seed);
	fflush(stdout);
}

/* ---- time --------------------------------------------------------------- */

static inline double kt_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline void kt_msleep(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* ---- deterministic data ------------------------------------------------- */

static inline uint64_t kt_mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* A small PRNG for choices (sizes, offsets, fuzzing). */
struct kt_rng {
	uint64_t s;
};

static inline uint64_t kt_rand(struct kt_rng *r)
{
	r->s += 0x9e3779b97f4a7c15ull;
	return kt_mix(r->s);
}

/* Uniform in [lo, hi]. */
static inline uint64_t kt_range(struct kt_rng *r, uint64_t lo, uint64_t hi)
{
	return lo + kt_rand(r) % (hi - lo + 1);
}

static inline uint8_t kt_byte(uint64_t seed, uint64_t off)
{
	return kt_mix(seed ^ ((off >> 3) * 0xd6e8feb86659fd93ull)) >>
	       ((off & 7) * 8);
}

/* Fill buf with the bytes that belong at medium offset off. */
static inline void kt_fill(void *buf, size_t len, uint64_t seed, uint64_t off)
{
	uint8_t *p = buf;
	size_t i = 0;

	while (i < len && ((off + i) & 7))
		p[i] = kt_byte(seed, off + i), i++;
	for (; i + 8 <= len; i += 8) {
		uint64_t w = kt_mix(seed ^ (((off + i) >> 3) *
					    0xd6e8feb86659fd93ull));

		memcpy(p + i, &w, 8);	/* little-endian: byte k = w >> 8k */
	}
	for (; i < len; i++)
		p[i] = kt_byte(seed, off + i);
}

/* Index of the first byte of buf that is not the pattern, or -1. */
static inline ssize_t kt_check(const void *buf, size_t len, uint64_t seed,
			       uint64_t off)
{
	const uint8_t *p = buf;
	size_t i = 0;

	while (i < len && ((off + i) & 7)) {
		if (p[i] != kt_byte(seed, off + i))
			return i;
		i++;
	}
	for (; i + 8 <= len; i += 8) {
		uint64_t w = kt_mix(seed ^ (((off + i) >> 3) *
					    0xd6e8feb86659fd93ull));

		if (memcmp(p + i, &w, 8)) {
			size_t k;

			for (k = 0; k < 8; k++)
				if (p[i + k] != (uint8_t)(w >> (8 * k)))
					return i + k;
		}
	}
	for (; i < len; i++)
		if (p[i] != kt_byte(seed, off + i))
			return i;
	return -1;
}

static inline ssize_t kt_check_byte(const void *buf, size_t len, uint8_t b)
{
	const uint8_t *p = buf;
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] != b)
			return i;
	return -1;
}

/*
 * A buffer of len bytes at misalignment mis inside mapped pages, with
 * guard pages (PROT_NONE) on both sides so that a device or driver overrun
 * faults or shows.  Free with kt_buf_free().
 */
struct kt_buf {
	void *map;
	size_t maplen;
	uint8_t *p;
	size_t len;
};

static inline int kt_buf_alloc(struct kt_buf *b, size_t len, size_t mis)
{
	size_t inner = (mis + len + KT_PAGE - 1) & ~(KT_PAGE - 1);

	if (!inner)
		inner = KT_PAGE;
	b->maplen = inner + 2 * KT_PAGE;
	b->map = mmap(NULL, b->maplen, PROT_NONE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (b->map == MAP_FAILED)
		return -1;
	if (mprotect((uint8_t *)b->map + KT_PAGE, inner,
		     PROT_READ | PROT_WRITE)) {
		munmap(b->map, b->maplen);
		return -1;
	}
	b->p = (uint8_t *)b->map + KT_PAGE + mis;
	b->len = len;
	/* Sentinel in the slack before and after the buffer. */
	memset((uint8_t *)b->map + KT_PAGE, 0xee, inner);
	return 0;
}

/* Bytes of the page slack around the buffer that are not the sentinel. */
static inline int kt_buf_slack_ok(const struct kt_buf *b)
{
	uint8_t *start = (uint8_t *)b->map + KT_PAGE;
	uint8_t *end = (uint8_t *)b->map + b->maplen - KT_PAGE;

	return kt_check_byte(start, b->p - start, 0xee) < 0 &&
	       kt_check_byte(b->p + b->len, end - (b->p + b->len), 0xee) < 0;
}

static inline void kt_buf_free(struct kt_buf *b)
{
	if (b->map && b->map != MAP_FAILED)
		munmap(b->map, b->maplen);
	b->map = NULL;
}

/* ---- device access ------------------------------------------------------ */

static inline int kt_open_unit(unsigned int unit)
{
	char path[64];

	snprintf(path, sizeof(path), KT_DEV_FMT, unit);
	return open(path, O_RDWR | O_CLOEXEC);
}

static inline int kt_info(int fd, struct kesync_info *info)
{
	memset(info, 0, sizeof(*info));
	return ioctl(fd, KESYNC_IOC_INFO, info);
}

static inline int kt_stats(int fd, struct kesync_stats *st)
{
	memset(st, 0, sizeof(*st));
	return ioctl(fd, KESYNC_IOC_STATS, st);
}

static inline int kt_hw(int fd, struct kesync_hw_stats *hw)
{
	memset(hw, 0, sizeof(*hw));
	return ioctl(fd, KESYNC_IOC_HW_STATS, hw);
}

/* Wait (bounded) until the controller has finished @n more resets than @from. */
static inline int kt_wait_resets(int fd, unsigned int from, unsigned int n, double s)
{
	double end = kt_now() + s;
	struct kesync_hw_stats hw;

	do {
		if (kt_hw(fd, &hw))
			return -1;
		if (hw.resets - from >= n)
			return 0;
		kt_msleep(10);
	} while (kt_now() < end);
	return -1;
}

static inline int kt_set_timeout(int fd, unsigned int t)
{
	__u32 v = t;

	return ioctl(fd, KESYNC_IOC_SET_TIMEOUT, &v);
}

static inline int kt_get_timeout(int fd)
{
	__u32 v = 0;

	if (ioctl(fd, KESYNC_IOC_GET_TIMEOUT, &v))
		return -1;
	return v;
}

static inline int kt_fault(int fd, unsigned int kind, unsigned int count,
			   unsigned int arg)
{
	struct kesync_fault f;

	memset(&f, 0, sizeof(f));
	f.kind = kind;
	f.count = count;
	f.arg = arg;
	return ioctl(fd, KESYNC_IOC_FAULT, &f);
}

static inline int kt_fault_ex(int fd, unsigned int kind, unsigned int count,
			      unsigned int arg, unsigned int flags,
			      unsigned int reset_delay_us)
{
	struct kesync_fault f;

	memset(&f, 0, sizeof(f));
	f.kind = kind;
	f.count = count;
	f.arg = arg;
	f.flags = flags;
	f.reset_delay_us = reset_delay_us;
	return ioctl(fd, KESYNC_IOC_FAULT, &f);
}

/* The driver's debugfs state file (module/kesync-debugfs.c), or NULL. */
static inline FILE *kt_state_open(void)
{
	glob_t g;
	FILE *f = NULL;

	if (!glob("/sys/kernel/debug/kesync/*/state", 0, NULL, &g) &&
	    g.gl_pathc == 1)
		f = fopen(g.gl_pathv[0], "r");
	globfree(&g);
	return f;
}

/*
 * Unit @unit's interrupt-side state from the state file: whether a
 * transfer of it is on the device (@busy) and that transfer's tag (@tag).
 * 0, or -1 without the file.
 */
static inline int kt_unit_isr(unsigned int unit, int *busy, unsigned int *tag)
{
	FILE *f = kt_state_open();
	int cur = -1, ret = -1;
	char line[512];
	unsigned int u;

	if (!f)
		return -1;
	while (ret && fgets(line, sizeof(line), f)) {
		const char *b = strstr(line, " busy "), *t = strstr(line, " tag ");

		if (sscanf(line, "unit %u ", &u) == 1)
			cur = u;
		else if (cur == (int)unit && !strncmp(line, "  isr: timer_count ", 19) &&
			 b && t && sscanf(b, " busy %d", busy) == 1 &&
			 sscanf(t, " tag %u", tag) == 1)
			ret = 0;
	}
	fclose(f);
	return ret;
}

/* Is a controller reset in progress (the state file's view)?  Or -1. */
static inline int kt_ctrl_resetting(void)
{
	FILE *f = kt_state_open();
	int r = -1, v;
	char line[512];

	if (!f)
		return -1;
	while (r < 0 && fgets(line, sizeof(line), f))
		if (sscanf(line, "  isr: resetting %d ", &v) == 1)
			r = v;
	fclose(f);
	return r;
}

static inline unsigned int kt_units(void)
{
	struct kesync_info info;
	int fd = kt_open_unit(0);
	unsigned int n = 0;

	if (fd < 0)
		return 0;
	if (!kt_info(fd, &info))
		n = info.units;
	close(fd);
	return n;
}

/* Whole buffer I/O that reports the first short count or error as is. */
static inline ssize_t kt_pwrite_pat(int fd, size_t len, uint64_t off,
				    uint64_t seed)
{
	struct kt_buf b;
	ssize_t r;

	if (kt_buf_alloc(&b, len, 0))
		return -1;
	kt_fill(b.p, len, seed, off);
	r = pwrite(fd, b.p, len, off);
	kt_buf_free(&b);
	return r;
}

/*
 * Read len bytes at off and compare with the pattern: returns 0 if equal,
 * 1 on a mismatch, -1 with errno on an I/O error or short read.
 */
static inline int kt_pread_check(int fd, size_t len, uint64_t off,
				 uint64_t seed)
{
	struct kt_buf b;
	ssize_t r;
	int ret;

	if (kt_buf_alloc(&b, len, 0))
		return -1;
	r = pread(fd, b.p, len, off);
	if (r != (ssize_t)len) {
		int e = errno;

		kt_buf_free(&b);
		errno = r < 0 ? e : EIO;
		return -1;
	}
	ret = kt_check(b.p, len, seed, off) >= 0 ? 1 : 0;
	kt_buf_free(&b);
	return ret;
}

/*
 * Stats deltas.  f is a member name: using it twice has no side effects,
 * and (a).(f) would not compile.
 */
/* checkpatch-ok: MACRO_ARG_REUSE: member name; checkpatch-ok: MACRO_ARG_PRECEDENCE: idem */
#define KT_D(a, b, f)	((long long)((a).f - (b).f))

/* All units' stats at once (units <= KESYNC_MAX_UNITS). */
struct kt_snap {
	unsigned int units;
	struct kesync_stats st[KESYNC_MAX_UNITS];
	struct kesync_hw_stats hw;
};

static inline int kt_snap(struct kt_snap *s)
{
	unsigned int u;

	memset(s, 0, sizeof(*s));
	s->units = kt_units();
	if (!s->units || s->units > KESYNC_MAX_UNITS)
		return -1;
	for (u = 0; u < s->units; u++) {
		int fd = kt_open_unit(u);

		if (fd < 0)
			return -1;
		if (kt_stats(fd, &s->st[u]) || (u == 0 && kt_hw(fd, &s->hw))) {
			close(fd);
			return -1;
		}
		close(fd);
	}
	return 0;
}

/* Sum of one stats field over all units of a snapshot. */
#define KT_SUM(s, f) ({						\
	const struct kt_snap *__s = (s);				\
	unsigned long long __sum = 0;					\
	unsigned int __u;						\
	for (__u = 0; __u < __s->units; __u++)				\
		__sum += __s->st[__u].f;				\
	__sum; })

/*
 * Interrupts the CPUs took on the driver's vectors or line: the sum of the
 * /proc/interrupts counts of every line naming "kesync".  -1 if none.
 */
static inline long long kt_cpu_irqs(void)
{
	FILE *f = fopen("/proc/interrupts", "r");
	char line[4096];
	long long sum = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *p, *e;

		if (!strstr(line, "kesync"))
			continue;
		p = strchr(line, ':');
		if (!p)
			continue;
		if (sum < 0)
			sum = 0;
		for (p++;; p = e) {
			long long v = strtoll(p, &e, 10);

			if (e == p)
				break;
			sum += v;
		}
	}
	fclose(f);
	return sum;
}

/* ---- children, bounded waits --------------------------------------------- */

static inline int kt_pidfd(pid_t pid)
{
	return syscall(SYS_pidfd_open, pid, 0);
}

/*
 * Wait at most timeout_s for child pid to exit; fills *status.  Returns 0,
 * or -1 (ETIMEDOUT) if it is still running.
 */
static inline int kt_waitpid(pid_t pid, double timeout_s, int *status)
{
	double end = kt_now() + timeout_s;
	int pfd = kt_pidfd(pid);
	int st = 0;

	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid) {
			if (status)
				*status = st;
			if (pfd >= 0)
				close(pfd);
			return 0;
		}
		if (r < 0 && errno != EINTR) {
			if (pfd >= 0)
				close(pfd);
			return -1;
		}
		double left = end - kt_now();

		if (left <= 0) {
			if (pfd >= 0)
				close(pfd);
			errno = ETIMEDOUT;
			return -1;
		}
		if (pfd >= 0) {
			struct pollfd p = { .fd = pfd, .events = POLLIN };

			poll(&p, 1, (int)(left * 1000) + 1);
		} else {
			kt_msleep(5);
		}
	}
}

/* Kill and reap a child that may still be running (cleanup paths). */
static inline void kt_kill_reap(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGKILL);
	kt_waitpid(pid, 30, NULL);
}

/* 1 if thread tid of pid is in syscall nr, 0 if not, -1 if it is gone. */
static inline int kt_in_syscall(pid_t pid, pid_t tid, long nr)
{
	char path[96], buf[256];
	ssize_t n;
	char *e;
	long v;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/syscall", pid, tid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	v = strtol(buf, &e, 10);
	return e != buf && v == nr;
}

/* The thread sleeps: its state is S or D (not just entered a syscall). */
static inline int kt_thread_sleeps(pid_t pid, pid_t tid)
{
	char sp[96], st[512];
	ssize_t m;
	char *rp;
	int sfd;

	snprintf(sp, sizeof(sp), "/proc/%d/task/%d/stat", pid, tid);
	sfd = open(sp, O_RDONLY);
	if (sfd < 0)
		return 0;
	m = read(sfd, st, sizeof(st) - 1);
	close(sfd);
	if (m <= 0)
		return 0;
	st[m] = 0;
	rp = strrchr(st, ')');
	return rp && (rp[2] == 'S' || rp[2] == 'D');
}

/*
 * Wait until task tid of process pid sleeps inside syscall nr (one of
 * read/write/pread64/pwrite64): /proc/PID/task/TID/syscall starts with the
 * number while the task is blocked in it.  Returns 0, or -1 on timeout or
 * if the task ended.
 */
static inline int kt_wait_blocked(pid_t pid, pid_t tid, long nr,
				  double timeout_s)
{
	double end = kt_now() + timeout_s;
	int stable = 0;

	while (kt_now() < end) {
		int in = kt_in_syscall(pid, tid, nr);

		if (in < 0)
			return -1;
		/* And it sleeps (S or D), not just entered. */
		if (in && kt_thread_sleeps(pid, tid)) {
			/* Twice in a row, 2 ms apart. */
			if (++stable >= 2)
				return 0;
			kt_msleep(2);
			continue;
		}
		stable = 0;
		kt_msleep(2);
	}
	errno = ETIMEDOUT;
	return -1;
}

/*
 * An I/O request run by a child process with its own open file, so that
 * the test can signal it, kill it, or let it time out.
 */
enum kt_sigmode {
	KT_SIG_DFL,		/* default dispositions */
	KT_SIG_HANDLER,		/* SIGUSR1 handler, no SA_RESTART */
	KT_SIG_RESTART,		/* SIGUSR1 handler with SA_RESTART */
};

struct kt_res {
	ssize_t ret;
	int err;
	int nsig;		/* handler invocations */
	double t0, t1;		/* around the syscall, CLOCK_MONOTONIC */
	ssize_t bad;		/* first wrong byte of a read, or -1 */
};

struct kt_op {
	/* in */
	unsigned int unit;
	int write;
	size_t len;
	uint64_t off;
	uint64_t seed;
	enum kt_sigmode sigmode;
	/* out */
	pid_t pid;
	int rfd;
	int have;
	struct kt_res res;
	int status;
	int reaped;
};

/* A read of @len bytes at @off of @unit, checked against @seed's pattern. */
static inline void kt_op_init(struct kt_op *op, unsigned int unit, size_t len,
			      uint64_t off, uint64_t seed)
{
	memset(op, 0, sizeof(*op));
	op->unit = unit;
	op->len = len;
	op->off = off;
	op->seed = seed;
}

/* checkpatch-ok: VOLATILE: written by a signal handler (C11 7.14.1.1) */
static volatile sig_atomic_t kt_nsig;

static inline void kt_sig_count(int sig)
{
	(void)sig;
	kt_nsig++;
}

static inline void kt_op_child(struct kt_op *op, int wfd)
{
	struct kt_res r;
	struct kt_buf b;
	int fd;

	memset(&r, 0, sizeof(r));
	r.bad = -1;
	if (op->sigmode != KT_SIG_DFL) {
		struct sigaction sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = kt_sig_count;
		sa.sa_flags = op->sigmode == KT_SIG_RESTART ? SA_RESTART : 0;
		sigaction(SIGUSR1, &sa, NULL);
	}
	fd = kt_open_unit(op->unit);
	if (fd < 0 || kt_buf_alloc(&b, op->len, 0)) {
		r.ret = -1;
		r.err = errno;
		goto out;
	}
	if (op->write)
		kt_fill(b.p, op->len, op->seed, op->off);
	r.t0 = kt_now();
	if (op->write)
		r.ret = pwrite(fd, b.p, op->len, op->off);
	else
		r.ret = pread(fd, b.p, op->len, op->off);
	r.err = r.ret < 0 ? errno : 0;
	r.t1 = kt_now();
	if (!op->write && r.ret > 0)
		r.bad = kt_check(b.p, r.ret, op->seed, op->off);
	if (!kt_buf_slack_ok(&b))
		r.bad = -2;
out:
	r.nsig = kt_nsig;
	if (write(wfd, &r, sizeof(r)) != sizeof(r))
		_exit(3);
	_exit(0);
}

/* Start op in a child; returns 0 or -1. */
static inline int kt_op_start(struct kt_op *op)
{
	int p[2];

	op->have = 0;
	op->reaped = 0;
	if (pipe2(p, O_CLOEXEC))
		return -1;
	fflush(stdout);
	fflush(stderr);
	op->pid = fork();
	if (op->pid < 0)
		return -1;
	if (op->pid == 0) {
		close(p[0]);
		kt_op_child(op, p[1]);
	}
	close(p[1]);
	op->rfd = p[0];
	return 0;
}

static inline long kt_op_nr(const struct kt_op *op)
{
	return op->write ? SYS_pwrite64 : SYS_pread64;
}

/* Wait until the op's child sleeps in its request (in the driver). */
static inline int kt_op_blocked(struct kt_op *op, double timeout_s)
{
	return kt_wait_blocked(op->pid, op->pid, kt_op_nr(op), timeout_s);
}

/*
 * Wait at most timeout_s for the op's result.  Returns 1 with op->res
 * filled, 0 if the child ended without a result (killed), -1 on timeout.
 */
static inline int kt_op_wait(struct kt_op *op, double timeout_s)
{
	struct pollfd p = { .fd = op->rfd, .events = POLLIN };
	int ms = (int)(timeout_s * 1000);
	ssize_t n;

	if (op->have)
		return 1;
	if (poll(&p, 1, ms) <= 0)
		return -1;
	n = read(op->rfd, &op->res, sizeof(op->res));
	if (n == sizeof(op->res)) {
		op->have = 1;
		return 1;
	}
	return 0;
}

/* Reap the op's child (bounded); 0 or -1. */
static inline int kt_op_reap(struct kt_op *op, double timeout_s)
{
	if (op->reaped)
		return 0;
	if (kt_waitpid(op->pid, timeout_s, &op->status))
		return -1;
	op->reaped = 1;
	close(op->rfd);
	return 0;
}

static inline void kt_op_cleanup(struct kt_op *op)
{
	if (op->pid > 0 && !op->reaped) {
		kill(op->pid, SIGKILL);
		kt_op_reap(op, 30);
	}
}

/* ---- module and sysfs ---------------------------------------------------- */

static inline int kt_write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;
	int e;

	if (fd < 0)
		return -1;
	n = write(fd, s, strlen(s));
	e = errno;
	close(fd);
	errno = e;
	return n == (ssize_t)strlen(s) ? 0 : -1;
}

static inline int kt_wait_path(const char *path, int present, double timeout_s)
{
	double end = kt_now() + timeout_s;

	for (;;) {
		int there = access(path, F_OK) == 0;

		if (there == present)
			return 0;
		if (kt_now() > end)
			return -1;
		kt_msleep(10);
	}
}

/* Wait for all nodes of an n-unit controller to appear (or vanish). */
static inline int kt_wait_nodes(unsigned int n, int present, double timeout_s)
{
	char path[64];
	unsigned int u;

	for (u = 0; u < n; u++) {
		snprintf(path, sizeof(path), KT_DEV_FMT, u);
		if (kt_wait_path(path, present, timeout_s))
			return -1;
	}
	return 0;
}

static inline int kt_rmmod(void)
{
	return syscall(SYS_delete_module, KT_MODULE, O_NONBLOCK);
}

/* insmod kesync.ko with the boot's parameters and @more. */
static inline int kt_insmod_with(const char *more)
{
	int fd = open(KT_MODULE_PATH, O_RDONLY | O_CLOEXEC);
	char params[512];
	int r, e;

	if (fd < 0)
		return -1;
	snprintf(params, sizeof(params), "%s %s",
		 kt_env_str("KESYNC_MODPARAMS", ""), more);
	r = syscall(SYS_finit_module, fd, params, 0);
	e = errno;
	close(fd);
	errno = e;
	return r;
}

/* insmod kesync.ko with the boot's parameters. */
static inline int kt_insmod_only(void)
{
	return kt_insmod_with("");
}

/* insmod, then wait for the nodes of all units. */
static inline int kt_insmod(unsigned int units)
{
	if (kt_insmod_only())
		return -1;
	if (kt_wait_nodes(units ? units : 1, 1, 15)) {
		errno = ETIMEDOUT;
		return -1;
	}
	return 0;
}

static inline int kt_module_loaded(void)
{
	return access("/sys/module/" KT_MODULE, F_OK) == 0;
}

/* The PCI address (0000:01:00.0) of the device bound to kesync, or -1. */
static inline int kt_bdf(char *out, size_t len)
{
	DIR *d = opendir(KT_DRIVER_DIR);
	struct dirent *e;
	int ret = -1;

	if (!d)
		return -1;
	while ((e = readdir(d))) {
		if (strchr(e->d_name, ':') && strchr(e->d_name, '.')) {
			snprintf(out, len, "%s", e->d_name);
			ret = 0;
			break;
		}
	}
	closedir(d);
	return ret;
}

static inline unsigned long kt_read_hex(const char *path)
{
	char buf[32] = "";
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	return strtoul(buf, NULL, 16);
}

/* The first PCI device @vendor:@device, bound or not, or -1. */
static inline int kt_find_pci_id(unsigned long vendor, unsigned long device,
				 char *out, size_t len)
{
	DIR *d = opendir("/sys/bus/pci/devices");
	struct dirent *e;
	int ret = -1;

	if (!d)
		return -1;
	while ((e = readdir(d))) {
		char p[320];

		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s/vendor", e->d_name);
		if (kt_read_hex(p) != vendor)
			continue;
		snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s/device", e->d_name);
		if (kt_read_hex(p) != device)
			continue;
		snprintf(out, len, "%s", e->d_name);
		ret = 0;
		break;
	}
	closedir(d);
	return ret;
}

/* The kesync PCI device, bound or not (by vendor:device), or -1. */
static inline int kt_find_pci(char *out, size_t len)
{
	return kt_find_pci_id(KESYNC_PCI_VENDOR_ID, KESYNC_PCI_DEVICE_ID, out, len);
}

/*
 * An I/O worker (a child process): write/read-verify round trips on its unit
 * until a call fails, then one more call, then close.  What it saw goes to
 * shared memory; it never returns.
 */
#define KT_WLEN 65536

/* What an I/O worker saw, in memory shared with the test. */
struct kt_ioworker {
	long long ops;
	int first_err;		/* errno of the first failure */
	long long bad_errs;	/* failures with another errno than ENODEV */
	int later_err;		/* errno of a call after the first failure */
	int close_ret;
	int data_bad;
	int done;
};

static inline void kt_io_worker(struct kt_ioworker *w, unsigned int unit,
				uint64_t base, uint64_t seed)
{
	struct kt_buf b;
	int fd = kt_open_unit(unit);
	long long i;

	if (fd < 0 || kt_buf_alloc(&b, KT_WLEN, 0)) {
		w->first_err = errno ? errno : -1;
		w->done = 1;
		_exit(0);
	}
	for (i = 0;; i++) {
		uint64_t off = base + (i % 8) * KT_WLEN;
		ssize_t n;

		kt_fill(b.p, KT_WLEN, seed + i, off);
		n = pwrite(fd, b.p, KT_WLEN, off);
		if (n == KT_WLEN) {
			memset(b.p, 0, KT_WLEN);
			n = pread(fd, b.p, KT_WLEN, off);
			if (n == KT_WLEN && kt_check(b.p, KT_WLEN, seed + i, off) >= 0)
				w->data_bad++;
		}
		if (n != KT_WLEN) {
			w->first_err = n < 0 ? errno : -2;
			break;
		}
		__atomic_add_fetch(&w->ops, 1, __ATOMIC_SEQ_CST);
	}
	if (w->first_err != ENODEV)
		w->bad_errs++;
	/* The unit is gone for this file: more calls keep failing cleanly. */
	errno = 0;
	if (pread(fd, b.p, 512, 0) >= 0)
		w->later_err = -1;
	else
		w->later_err = errno;
	w->close_ret = close(fd);
	__atomic_store_n(&w->done, 1, __ATOMIC_SEQ_CST);
	_exit(0);
}

/*
 * Ask the host to act on this guest's QEMU (a QMP command, as JSON).  The
 * runner's host hook watches the console for this line and forwards the
 * command to QEMU's QMP socket; the guest then waits, bounded, for the
 * effect.  Only boots the matrix marks --host-hook have a listener.
 */
static inline void kt_host_request(const char *json)
{
	static unsigned int seq;
	char line[512];
	int n;

	fflush(stdout);
	fflush(stderr);
	n = snprintf(line, sizeof(line), "\nKESYNC-HOST-REQUEST %u %s\n", ++seq, json);
	if (write(STDOUT_FILENO, line, n) != n)
		perror("host request");
}

#ifndef KT_NO_HARNESS
/* ---- checks shared by all programs --------------------------------------- */

/*
 * The controller and every unit are sane: INFO answers, the hardware never
 * refused a START because another unit held the controller (the driver
 * serialises the controller; STAT_CTRL_BUSY counts no refusal the REFUSE
 * fault injected, the units' hw_busy does), never did DMA for an aborted
 * transfer, and a small write/read works on every unit.
 */
static inline void kt_health(struct __test_metadata *_metadata, int allow_dma_errors)
{
	struct kesync_hw_stats hw;
	unsigned int u, units = kt_units();

	ASSERT_LT(0, units)
		TH_LOG("no /dev/kesync0 or INFO fails: %s", strerror(errno));
	for (u = 0; u < units; u++) {
		struct kesync_stats st;
		struct kesync_info info;
		uint64_t off, seed = kt_seed ^ 0x4ea1u ^ u;
		int fd = kt_open_unit(u);

		ASSERT_LE(0, fd) TH_LOG("open unit %u: %s", u, strerror(errno));
		ASSERT_EQ(0, kt_info(fd, &info));
		ASSERT_EQ(u, info.unit);
		ASSERT_EQ(0, kt_stats(fd, &st));
		off = info.unit_size - 3 * KT_PAGE - 5;
		ASSERT_EQ(2 * KT_PAGE + 3, kt_pwrite_pat(fd, 2 * KT_PAGE + 3, off, seed))
			TH_LOG("unit %u write: %s", u, strerror(errno));
		ASSERT_EQ(0, kt_pread_check(fd, 2 * KT_PAGE + 3, off, seed))
			TH_LOG("unit %u read back: %s", u, strerror(errno));
		if (u == 0) {
			ASSERT_EQ(0, kt_hw(fd, &hw));
			EXPECT_EQ(0, hw.ctrl_busy)
				TH_LOG("the device refused a START: controller busy");
			EXPECT_EQ(0, hw.late_dma);
			/* checkpatch-ok: BRACES: EXPECT_*() is two statements */
			if (!allow_dma_errors) {
				EXPECT_EQ(0, hw.dma_errors);
			}
		}
		close(fd);
	}
}

/* /dev/kmsg positioned after the last record: what comes next. */
static inline int kt_kmsg_open_end(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd >= 0 && lseek(fd, 0, SEEK_END) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Does a kernel log record logged since kt_kmsg_open_end() contain @s? */
static inline bool kt_kmsg_says(int fd, const char *s)
{
	char rec[8192];
	bool found = false;
	ssize_t n;

	for (;;) {
		n = read(fd, rec, sizeof(rec) - 1);
		if (n < 0 && errno == EPIPE)
			continue;	/* records were overwritten: go on */
		if (n <= 0)
			break;
		rec[n] = 0;
		if (strstr(rec, s))
			found = true;
	}
	return found;
}

/*
 * The last test of a program: kt_health() once everything else ran.  The
 * harness runs TEST()s (its global fixture) first and fixtures in the order
 * they are declared, so this is a fixture, declared at the end.
 */
/* checkpatch-ok: MULTISTATEMENT_MACRO_USE_DO_WHILE: file-scope definitions */
#define KT_FINAL_HEALTH_TEST(allow_dma_errors)				\
	FIXTURE(zz_final) {						\
		int unused;						\
	};								\
	FIXTURE_SETUP(zz_final) {}					\
	FIXTURE_TEARDOWN(zz_final) {}					\
	TEST_F(zz_final, device_healthy)				\
	{								\
		kt_health(_metadata, allow_dma_errors);			\
	}

#endif /* KT_NO_HARNESS */

#endif /* KESYNC_TEST_H */

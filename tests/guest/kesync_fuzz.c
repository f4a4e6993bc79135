// SPDX-License-Identifier: GPL-2.0
/*
 * kesync_fuzz: a seeded random mix of ioctls (known and unknown numbers,
 * good and bad arguments), reads, writes, seeks, closes and reopens on all
 * units, for a fixed budget of calls, by a privileged and an unprivileged
 * process at once.  Nothing may crash, every error is one of the expected
 * errnos (never ERESTARTSYS, never a timeout: no hang is ever armed), and
 * the device works afterwards.  Rerun a failure with KESYNC_SEED=<seed>.
 */
#define _GNU_SOURCE
#include <limits.h>

#include "kesync_test.h"	/* and kselftest_harness.h */

#define CALLS_PER_PROC	6000	/* two processes: 12000 calls */
#define BUFSZ		(1024 * 1024)

struct fz_result {
	long long calls;
	long long ok;
	long long err[160];
	char bad[256];
	int failed;
};

struct fz {
	struct kt_rng rng;
	unsigned int units;
	uint64_t unit_size;
	int fds[KESYNC_MAX_UNITS];
	uint8_t *buf;		/* BUFSZ RW, then a PROT_NONE page */
	uint8_t *ro;		/* one read-only page */
	uint8_t *gone;		/* an unmapped page */
	int privileged;
	struct fz_result *res;
};

static uint64_t pick(struct fz *z, uint64_t n)
{
	return kt_rand(&z->rng) % n;
}

/* A pointer for an argument: mostly good, sometimes anything but. */
static void *any_ptr(struct fz *z, size_t len)
{
	switch (pick(z, 12)) {
	case 0:
		return NULL;
	case 1:
		return (void *)(uintptr_t)pick(z, 4096);
	case 2:
		return (void *)0xffffffff81000000ul;
	case 3:
		return z->ro;
	case 4:
		return z->gone;
	case 5:
		return z->buf + BUFSZ - (len ? pick(z, len) : 0); /* straddles */
	case 6:
		return (void *)(uintptr_t)-pick(z, 65536);
	default:
		return z->buf + pick(z, BUFSZ - (len < BUFSZ ? len : 0) + 1);
	}
}

static size_t any_len(struct fz *z)
{
	switch (pick(z, 10)) {
	case 0:
		return 0;
	case 1:
		return 1 + pick(z, 16);
	case 2:
		return SIZE_MAX - pick(z, 2);
	case 3:
		return (size_t)1 << pick(z, 40);
	case 4:
		return z->unit_size + pick(z, 3);
	case 5:
		return 1 + pick(z, BUFSZ);
	default: return 1 + pick(z, 65536);
	}
}

static long long any_off(struct fz *z)
{
	switch (pick(z, 10)) {
	case 0:
		return -(long long)pick(z, 1ull << 40);
	case 1:
		return LLONG_MAX - pick(z, 100000);
	case 2:
		return z->unit_size - pick(z, 4096);
	case 3:
		return z->unit_size + pick(z, 1ull << 32);
	case 4:
		return pick(z, 4096);
	default: return pick(z, z->unit_size);
	}
}

/*
 * A fault the device may arm without stalling the run: never a hang or a
 * lost interrupt, a bounded LATE, never a misdirected DMA.
 */
static void any_fault(struct fz *z, struct kesync_fault *f)
{
	memset(f, 0, sizeof(*f));
	f->kind = pick(z, KESYNC_FAULT_KIND_MAX + 3);
	f->count = pick(z, 4) ? pick(z, 4) : pick(z, 3000);
	f->arg = pick(z, 2) ? pick(z, 70000) : kt_rand(&z->rng);
	if (!pick(z, 4))
		f->flags = kt_rand(&z->rng);
	if (!pick(z, 6))
		f->reset_delay_us = kt_rand(&z->rng) % 20000000;
	if (!pick(z, 8))
		f->reserved0 = 1;
	if (!pick(z, 8))
		f->reserved[pick(z, 2)] = kt_rand(&z->rng);
	/* Keep what would be valid and slow out. */
	if (f->kind == KESYNC_FAULT_HANG)
		f->kind = KESYNC_FAULT_ERROR;
	/* A lost interrupt is found when the timeout expires: up to an hour. */
	if (f->kind == KESYNC_FAULT_LOST_IRQ)
		f->kind = KESYNC_FAULT_SPURIOUS;
	if (f->kind == KESYNC_FAULT_LATE)
		f->arg %= 20000;
	if (f->kind == KESYNC_FAULT_LATE || f->kind == KESYNC_FAULT_SPURIOUS)
		if (f->count > 3)
			f->count = 3;
	f->flags &= ~KESYNC_FAULT_F_MISDIRECT;
	if (f->flags & KESYNC_FAULT_F_RESET_DELAY)
		f->reset_delay_us %= 200000;
}

static int errno_ok(int e)
{
	switch (e) {
	case EFAULT: case EINVAL: case ENOTTY: case ENOSPC: case EPERM:
	case EOVERFLOW: case EBADF:
		return 1;
	case EIO:	/* injected KESYNC_FAULT_ERROR, or SHORT without progress */
		return 1;
	default:
		return 0;
	}
}

static int one_call(struct fz *z, char *what, size_t wlen)
{
	unsigned int u = pick(z, z->units);
	int fd = z->fds[u];
	unsigned int op = pick(z, 100);
	long r;

	if (op < 40) {			/* data */
		size_t len = any_len(z);
		void *p = pick(z, 3) ? z->buf + pick(z, 4096) : any_ptr(z, len);
		long long off = any_off(z);

		if (pick(z, 3) && len > BUFSZ - 4096)
			len = pick(z, BUFSZ - 4096);
		switch (pick(z, 4)) {
		case 0:
			snprintf(what, wlen, "pread(u%u, %p, %#zx, %lld)", u, p, len, off);
			r = pread(fd, p, len, off);
			break;
		case 1:
			snprintf(what, wlen, "pwrite(u%u, %p, %#zx, %lld)", u, p, len, off);
			r = pwrite(fd, p, len, off);
			break;
		case 2:
			snprintf(what, wlen, "read(u%u, %p, %#zx)", u, p, len);
			r = read(fd, p, len);
			break;
		default:
			snprintf(what, wlen, "write(u%u, %p, %#zx)", u, p, len);
			r = write(fd, p, len);
			break;
		}
		if (r >= 0 && (size_t)r > len)
			return -2;
	} else if (op < 45) {		/* seek */
		long long off = any_off(z);
		int whence = pick(z, 6);

		snprintf(what, wlen, "lseek(u%u, %lld, %d)", u, off, whence);
		r = lseek(fd, off, whence);
		if (r < 0 && errno == ENXIO)
			errno = EINVAL;	/* SEEK_DATA/HOLE past the end */
	} else if (op < 75) {		/* known ioctls */
		static const unsigned int cmds[] = {
			KESYNC_IOC_INFO, KESYNC_IOC_GET_TIMEOUT,
			KESYNC_IOC_SET_TIMEOUT, KESYNC_IOC_STATS,
			KESYNC_IOC_HW_STATS, KESYNC_IOC_FAULT, KESYNC_IOC_RESET, KESYNC_IOC_CANCEL,
		};
		unsigned int cmd = cmds[pick(z, ARRAY_SIZE(cmds))];
		void *arg = any_ptr(z, _IOC_SIZE(cmd));

		if (cmd == KESYNC_IOC_RESET && pick(z, 5))
			cmd = KESYNC_IOC_STATS;	/* resets cost a few ms each */
		if (cmd == KESYNC_IOC_SET_TIMEOUT && pick(z, 2)) {
			static __u32 t;

			t = pick(z, 3) ? 1 + pick(z, 3) : kt_rand(&z->rng);
			arg = &t;
		}
		if (cmd == KESYNC_IOC_FAULT) {
			static struct kesync_fault f;

			any_fault(z, &f);
			arg = &f;
		}
		snprintf(what, wlen, "ioctl(u%u, %#x, %p)", u, cmd, arg);
		r = ioctl(fd, cmd, arg);
	} else if (op < 97) {		/* unknown ioctls */
		unsigned int cmd = kt_rand(&z->rng);
		void *arg = any_ptr(z, 4096);

		if (pick(z, 2))
			cmd = (cmd & ~0xff00u) | (KESYNC_IOC_MAGIC << 8);
		{
			unsigned int i;
			static const unsigned int known[] = {
				KESYNC_IOC_INFO, KESYNC_IOC_GET_TIMEOUT,
				KESYNC_IOC_SET_TIMEOUT, KESYNC_IOC_STATS,
				KESYNC_IOC_HW_STATS, KESYNC_IOC_FAULT,
				KESYNC_IOC_RESET, KESYNC_IOC_CANCEL,
			};

			for (i = 0; i < ARRAY_SIZE(known); i++)
				if (cmd == known[i])
					cmd ^= 0x20000000;	/* never a real one */
		}
		snprintf(what, wlen, "ioctl(u%u, %#x, %p) [unknown]", u, cmd, arg);
		r = ioctl(fd, cmd, arg);
		/* The VFS answers a few generic ones itself. */
		if (r == 0 && ((cmd & 0xffff) >> 8) != KESYNC_IOC_MAGIC)
			return 0;
		if (r == 0)
			return -3;
		if (((cmd & 0xffff) >> 8) != KESYNC_IOC_MAGIC)
			return 0;	/* any errno the VFS chose */
	} else {			/* close and reopen */
		int nfd = kt_open_unit(u);

		snprintf(what, wlen, "open+close(u%u)", u);
		if (nfd < 0)	/* nobody may not open the node (mode 0600) */
			return !z->privileged && errno == EACCES ? 0 : -4;
		close(fd);
		z->fds[u] = nfd;
		r = 0;
	}
	return r < 0 ? errno : 0;
}

static void fuzz(struct fz *z)
{
	struct fz_result *res = z->res;
	char what[160];
	long long i;

	for (i = 0; i < CALLS_PER_PROC; i++) {
		int e = one_call(z, what, sizeof(what));

		res->calls++;
		if (e == 0) {
			res->ok++;
			continue;
		}
		if (e > 0 && e < 160)
			res->err[e]++;
		if (e < 0 || !errno_ok(e)) {
			if (!z->privileged && e == EPERM)
				continue;
			snprintf(res->bad, sizeof(res->bad), "call %lld: %s -> %s (%d)",
				 i, what, e > 0 ? strerror(e) : "impossible result", e);
			res->failed = 1;
			return;
		}
	}
}

static int setup_fz(struct fz *z, uint64_t seed, int privileged, struct fz_result *res)
{
	struct kesync_info info;
	unsigned int u;
	uint8_t *m;

	memset(z, 0, sizeof(*z));
	z->rng.s = seed;
	z->privileged = privileged;
	z->res = res;
	z->units = kt_units();
	if (!z->units)
		return -1;
	for (u = 0; u < z->units; u++) {
		z->fds[u] = kt_open_unit(u);
		if (z->fds[u] < 0)
			return -1;
	}
	if (kt_info(z->fds[0], &info))
		return -1;
	z->unit_size = info.unit_size;
	m = mmap(NULL, BUFSZ + 3 * KT_PAGE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return -1;
	z->buf = m;
	mprotect(m + BUFSZ, KT_PAGE, PROT_NONE);
	z->ro = m + BUFSZ + KT_PAGE;
	mprotect(z->ro, KT_PAGE, PROT_READ);
	z->gone = m + BUFSZ + 2 * KT_PAGE;
	munmap(z->gone, KT_PAGE);
	return 0;
}

FIXTURE(fuzz) {
	int unused;
};

FIXTURE_SETUP(fuzz)
{
}

FIXTURE_TEARDOWN(fuzz)
{
}

TEST_F_TIMEOUT(fuzz, random_calls, 600)
{
	struct fz_result *res;
	unsigned int k, e;
	pid_t pid[2];
	unsigned int units = kt_units();
	unsigned int saved[KESYNC_MAX_UNITS];

	ASSERT_LT(0, units);
	for (k = 0; k < units; k++) {
		int fd = kt_open_unit(k);

		ASSERT_LE(0, fd);
		saved[k] = kt_get_timeout(fd);
		close(fd);
	}
	res = mmap(NULL, 2 * sizeof(*res), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, res);
	memset(res, 0, 2 * sizeof(*res));
	TH_LOG("seed %llu, %u calls in each of 2 processes",
	       (unsigned long long)kt_seed, CALLS_PER_PROC);
	for (k = 0; k < 2; k++) {
		fflush(NULL);
		pid[k] = fork();
		ASSERT_LE(0, pid[k]);
		if (pid[k] == 0) {
			struct fz z;

			if (setup_fz(&z, kt_seed * 31 + k, k == 0, &res[k]))
				_exit(2);
			if (k == 1 && setresuid(65534, 65534, 65534))
				_exit(3);
			fuzz(&z);
			_exit(0);
		}
	}
	for (k = 0; k < 2; k++) {
		int st;

		ASSERT_EQ(0, kt_waitpid(pid[k], 580, &st)) TH_LOG("fuzzer %u stuck", k);
		EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0)
			TH_LOG("fuzzer %u died: status %#x", k, st);
		EXPECT_EQ(0, res[k].failed) TH_LOG("%s fuzzer: %s",
						   k ? "unprivileged" : "privileged",
						   res[k].bad);
		EXPECT_EQ(CALLS_PER_PROC, res[k].calls);
		TH_LOG("%s: %lld calls, %lld ok", k ? "unprivileged" : "privileged",
		       res[k].calls, res[k].ok);
		for (e = 0; e < 160; e++)
			if (res[k].err[e])
				TH_LOG("  %-8s %lld", strerror(e), res[k].err[e]);
	}
	/* Disarm and restore whatever the fuzzers changed. */
	for (k = 0; k < units; k++) {
		int fd = kt_open_unit(k);

		ASSERT_LE(0, fd);
		EXPECT_EQ(0, kt_fault(fd, KESYNC_FAULT_NONE, 0, 0));
		EXPECT_EQ(0, kt_set_timeout(fd, saved[k]));
		close(fd);
	}
}

KT_FINAL_HEALTH_TEST(0)

TEST_HARNESS_MAIN

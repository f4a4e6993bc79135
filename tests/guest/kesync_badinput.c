// SPDX-License-Identifier: GPL-2.0
/*
 * kesync_badinput: every ioctl with bad sizes, bad pointers, bad values and
 * unknown numbers; reads and writes with bad pointers, huge lengths and odd
 * offsets; reset and fault injection without CAP_SYS_ADMIN.  Each gets its
 * errno, changes nothing it should not (no fault armed, no buffer written),
 * and the unit works right after.
 */
#define _GNU_SOURCE
#include <limits.h>
#include <linux/capability.h>

#include "kesync_test.h"	/* and kselftest_harness.h */

#define KADDR	((void *)0xffffffff81000000ul)	/* kernel text */

FIXTURE(bad) {
	int fd;
	struct kesync_info info;
	unsigned int saved_timeout;
	uint8_t *rw;		/* 2 pages RW */
	uint8_t *ro;		/* 1 page RO, zero */
	uint8_t *none;		/* 1 page PROT_NONE */
	uint8_t *gone;		/* 1 page unmapped */
	uint8_t *edge;		/* RW page followed by PROT_NONE */
	struct kesync_stats st0;
};

FIXTURE_SETUP(bad)
{
	uint8_t *m;

	self->fd = kt_open_unit(0);
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, kt_info(self->fd, &self->info));
	self->saved_timeout = kt_get_timeout(self->fd);
	m = mmap(NULL, 8 * KT_PAGE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, m);
	self->rw = m;				/* pages 0-1 */
	self->ro = m + 2 * KT_PAGE;		/* page 2 */
	self->none = m + 3 * KT_PAGE;		/* page 3 */
	self->edge = m + 4 * KT_PAGE;		/* page 4 RW, 5 NONE */
	self->gone = m + 6 * KT_PAGE;		/* page 6 unmapped, 7 RW */
	memset(m, 0, 8 * KT_PAGE);
	ASSERT_EQ(0, mprotect(self->ro, KT_PAGE, PROT_READ));
	ASSERT_EQ(0, mprotect(self->none, KT_PAGE, PROT_NONE));
	ASSERT_EQ(0, mprotect(self->edge + KT_PAGE, KT_PAGE, PROT_NONE));
	ASSERT_EQ(0, munmap(self->gone, KT_PAGE));
	ASSERT_EQ(8192, kt_pwrite_pat(self->fd, 8192, 0, kt_seed ^ 0xbad));
	ASSERT_EQ(0, kt_stats(self->fd, &self->st0));
}

/* After every test: nothing armed, the unit reads its data back promptly. */
FIXTURE_TEARDOWN(bad)
{
	struct kesync_stats st;
	double t0 = kt_now();

	EXPECT_EQ(0, kt_pread_check(self->fd, 8192, 0, kt_seed ^ 0xbad))
		TH_LOG("the unit no longer works: %s", strerror(errno));
	EXPECT_GT(0.9, kt_now() - t0);
	EXPECT_EQ(0, kt_stats(self->fd, &st));
	EXPECT_EQ(0, KT_D(st, self->st0, timeouts));
	EXPECT_EQ(0, KT_D(st, self->st0, errors));
	if (self->saved_timeout)
		kt_set_timeout(self->fd, self->saved_timeout);
	close(self->fd);
}

static const unsigned int valid_cmds[] = {
	KESYNC_IOC_INFO, KESYNC_IOC_GET_TIMEOUT, KESYNC_IOC_SET_TIMEOUT,
	KESYNC_IOC_STATS, KESYNC_IOC_HW_STATS, KESYNC_IOC_RESET,
	KESYNC_IOC_FAULT, KESYNC_IOC_CANCEL,
};

static int is_valid_cmd(unsigned int cmd)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(valid_cmds); i++)
		if (cmd == valid_cmds[i])
			return 1;
	return 0;
}

/*
 * Unknown numbers, known numbers with the wrong size or direction, other
 * magics: -ENOTTY, and the argument buffer is not touched.
 */
TEST_F(bad, unknown_ioctls_enotty)
{
	static const unsigned int sizes[] = {
		0, 1, 4, 8, 16, sizeof(struct kesync_info) - 8,
		sizeof(struct kesync_info), sizeof(struct kesync_stats),
		sizeof(struct kesync_hw_stats), sizeof(struct kesync_fault),
		sizeof(struct kesync_fault) + 8, 4096,
	};
	static const unsigned int dirs[] = {
		_IOC_NONE, _IOC_READ, _IOC_WRITE, _IOC_READ | _IOC_WRITE,
	};
	/*
	 * (not 0: the VFS answers FIBMAP and FIGETBSZ itself; 0xb7, nsfs' and
	 * remoteproc's, was kesync's own up to 0.3)
	 */
	static const unsigned int magics[] = {
		KESYNC_IOC_MAGIC, KESYNC_IOC_MAGIC - 1, KESYNC_IOC_MAGIC + 1,
		0xb7, 0x01,
	};
	uint8_t *buf = self->rw;
	unsigned int m, nr, d, s, calls = 0;

	memset(buf, 0xa5, 2 * KT_PAGE);
	for (m = 0; m < ARRAY_SIZE(magics); m++) {
		for (nr = 0; nr < 40; nr++) {
			for (d = 0; d < ARRAY_SIZE(dirs); d++) {
				for (s = 0; s < ARRAY_SIZE(sizes); s++) {
					unsigned int cmd = _IOC(dirs[d], magics[m],
							       nr, sizes[s]);
					int r;

					if (is_valid_cmd(cmd))
						continue;
					if (dirs[d] == _IOC_NONE && sizes[s])
						continue;
					errno = 0;
					r = ioctl(self->fd, cmd, buf);
					calls++;
					EXPECT_EQ(-1, r) TH_LOG("cmd %#x accepted", cmd);
					EXPECT_EQ(ENOTTY, errno)
						TH_LOG("cmd %#x: %s", cmd, strerror(errno));
					if (r != -1 || errno != ENOTTY)
						return;
				}
			}
		}
	}
	/* Far numbers too, and a few well-known ones of other drivers. */
	{
		const unsigned long other[] = {
			_IOC(_IOC_READ, KESYNC_IOC_MAGIC, 255, 8),
			_IOC(_IOC_WRITE, KESYNC_IOC_MAGIC, 128, 4),
			0x5401 /* TCGETS */, 0x541b /* FIONREAD */,
			0x80081272 /* BLKGETSIZE64 */, 0xffffffff,
		};
		unsigned int i;

		for (i = 0; i < ARRAY_SIZE(other); i++) {
			errno = 0;
			EXPECT_EQ(-1, ioctl(self->fd, other[i], buf));
			EXPECT_EQ(ENOTTY, errno) TH_LOG("cmd %#lx: %s", other[i],
							strerror(errno));
			calls++;
		}
	}
	EXPECT_EQ(-1, kt_check_byte(buf, 2 * KT_PAGE, 0xa5))
		TH_LOG("an unknown ioctl wrote into its argument");
	TH_LOG("%u unknown ioctls", calls);
}

/* Pointers no ioctl can use: -EFAULT. */
TEST_F(bad, ioctl_bad_pointers_efault)
{
	static const unsigned int cmds[] = {
		KESYNC_IOC_INFO, KESYNC_IOC_GET_TIMEOUT, KESYNC_IOC_SET_TIMEOUT,
		KESYNC_IOC_STATS, KESYNC_IOC_HW_STATS, KESYNC_IOC_FAULT,
	};
	unsigned int c, p;

	for (c = 0; c < ARRAY_SIZE(cmds); c++) {
		unsigned int size = _IOC_SIZE(cmds[c]);
		void *ptrs[] = {
			NULL, (void *)1, (void *)(uintptr_t)-4096, KADDR,
			self->none, self->gone,
			/* straddles into the PROT_NONE page */
			self->edge + KT_PAGE - size / 2,
			/* starts in the unmapped page, ends in a good one */
			self->gone + KT_PAGE - size / 2,
		};

		for (p = 0; p < ARRAY_SIZE(ptrs); p++) {
			errno = 0;
			EXPECT_EQ(-1, ioctl(self->fd, cmds[c], ptrs[p]))
				TH_LOG("cmd %#x ptr %p accepted", cmds[c], ptrs[p]);
			EXPECT_EQ(EFAULT, errno)
				TH_LOG("cmd %#x ptr %p: %s", cmds[c], ptrs[p], strerror(errno));
		}
		/* The kernel may not write what it returns into a read-only page. */
		if (_IOC_DIR(cmds[c]) & _IOC_READ) {
			errno = 0;
			EXPECT_EQ(-1, ioctl(self->fd, cmds[c], self->ro));
			EXPECT_EQ(EFAULT, errno);
		}
	}
	EXPECT_EQ(-1, kt_check_byte(self->ro, KT_PAGE, 0));
	/* Input read from a read-only page is fine. */
	*(uint32_t *)self->rw = 3;
	memcpy(self->rw + 64, self->rw, 4);
	ASSERT_EQ(0, mprotect(self->rw, 2 * KT_PAGE, PROT_READ));
	EXPECT_EQ(0, ioctl(self->fd, KESYNC_IOC_SET_TIMEOUT, self->rw + 64));
	EXPECT_EQ(3, kt_get_timeout(self->fd));
	ASSERT_EQ(0, mprotect(self->rw, 2 * KT_PAGE, PROT_READ | PROT_WRITE));
	/* Misaligned but valid pointers work. */
	{
		struct kesync_info *i = (void *)(self->rw + 3);

		EXPECT_EQ(0, ioctl(self->fd, KESYNC_IOC_INFO, i));
		EXPECT_EQ(self->info.unit_size, i->unit_size);
	}
}

static int fault_ioctl(int fd, struct kesync_fault f)
{
	return ioctl(fd, KESYNC_IOC_FAULT, &f);
}

/* Bad values: -EINVAL, and nothing changes. */
TEST_F(bad, ioctl_bad_values_einval)
{
	const __u32 bad_timeouts[] = { 0, KESYNC_TIMEOUT_MAX + 1, 100000, UINT_MAX };
	struct kesync_fault f;
	unsigned long long v;
	unsigned int i;

	ASSERT_EQ(0, kt_set_timeout(self->fd, 4));
	for (i = 0; i < ARRAY_SIZE(bad_timeouts); i++) {
		errno = 0;
		EXPECT_EQ(-1, kt_set_timeout(self->fd, bad_timeouts[i]));
		EXPECT_EQ(EINVAL, errno) TH_LOG("timeout %u", bad_timeouts[i]);
	}
	EXPECT_EQ(4, kt_get_timeout(self->fd));

#define BADF(field, val) do {						\
		memset(&f, 0, sizeof(f));				\
		f.kind = KESYNC_FAULT_HANG;				\
		f.count = 1;						\
		v = (val);						\
		field = v;						\
		errno = 0;						\
		EXPECT_EQ(-1, fault_ioctl(self->fd, f))			\
			TH_LOG("%s = %#llx accepted", #field, v);	\
		EXPECT_EQ(EINVAL, errno)				\
			TH_LOG("%s = %#llx: %s", #field, v,		\
			       strerror(errno));			\
	} while (0)

	BADF(f.kind, KESYNC_FAULT_KIND_MAX + 1);
	BADF(f.kind, 255);
	BADF(f.kind, UINT_MAX);
	BADF(f.count, 1001);
	BADF(f.count, UINT_MAX);
	BADF(f.flags, 1u << 2);
	BADF(f.flags, 1u << 31);
	BADF(f.reserved0, 1);
	BADF(f.reserved[0], 1);
	BADF(f.reserved[1], 1ull << 63);
	/* The reset delay's range. */
	memset(&f, 0, sizeof(f));
	f.flags = KESYNC_FAULT_F_RESET_DELAY;
	f.reset_delay_us = 0;
	errno = 0;
	EXPECT_EQ(-1, fault_ioctl(self->fd, f));
	EXPECT_EQ(EINVAL, errno);
	f.reset_delay_us = 10000001;
	errno = 0;
	EXPECT_EQ(-1, fault_ioctl(self->fd, f));
	EXPECT_EQ(EINVAL, errno);
	f.reset_delay_us = UINT_MAX;
	errno = 0;
	EXPECT_EQ(-1, fault_ioctl(self->fd, f));
	EXPECT_EQ(EINVAL, errno);
	/* Boundary values that are valid (harmless kinds), then disarm. */
	memset(&f, 0, sizeof(f));
	f.kind = KESYNC_FAULT_SPURIOUS;
	f.count = 1000;
	EXPECT_EQ(0, fault_ioctl(self->fd, f));
	f.kind = KESYNC_FAULT_NONE;
	f.count = 0;
	EXPECT_EQ(0, fault_ioctl(self->fd, f));
	/* The teardown proves no hang was armed by any of the above. */
#undef BADF
}

/* Buffers the device may not use: -EFAULT, or a short count of good data. */
TEST_F(bad, read_write_bad_buffers)
{
	struct { const char *what; void *p; size_t len; int wr_ok; } c[] = {
		{ "NULL", NULL, 4096, 0 },
		{ "address 1", (void *)1, 4096, 0 },
		{ "kernel address", KADDR, 4096, 0 },
		{ "top of the address space", (void *)(uintptr_t)-4096, 4096, 0 },
		{ "PROT_NONE page", self->none, 4096, 0 },
		{ "unmapped page", self->gone, 4096, 0 },
		{ "read-only page", self->ro, 4096, 1 },
	};
	unsigned int i;
	ssize_t n;

	for (i = 0; i < ARRAY_SIZE(c); i++) {
		errno = 0;
		n = pread(self->fd, c[i].p, c[i].len, 0);
		EXPECT_EQ(-1, n) TH_LOG("read into %s: %zd", c[i].what, n);
		EXPECT_EQ(EFAULT, errno) TH_LOG("read into %s: %s", c[i].what, strerror(errno));
		errno = 0;
		n = pwrite(self->fd, c[i].p, c[i].len, 1 << 20);
		if (c[i].wr_ok) {
			EXPECT_EQ((ssize_t)c[i].len, n)
				TH_LOG("write from %s: %s", c[i].what, strerror(errno));
		} else {
			EXPECT_EQ(-1, n) TH_LOG("write from %s: %zd", c[i].what, n);
			EXPECT_EQ(EFAULT, errno) TH_LOG("write from %s: %s", c[i].what,
							strerror(errno));
		}
	}
	EXPECT_EQ(-1, kt_check_byte(self->ro, KT_PAGE, 0)) TH_LOG("read-only page written");

	/* Straddling into the PROT_NONE page: EFAULT or a short count. */
	memset(self->edge, 0x11, KT_PAGE);
	errno = 0;
	n = pread(self->fd, self->edge + 100, 8192, 0);
	if (n < 0) {
		EXPECT_EQ(EFAULT, errno) TH_LOG("%s", strerror(errno));
	} else {
		EXPECT_GE(KT_PAGE - 100, n);
		EXPECT_EQ(-1, kt_check(self->edge + 100, n, kt_seed ^ 0xbad, 0));
	}
	errno = 0;
	n = pwrite(self->fd, self->edge + 100, 8192, 1 << 20);
	/* checkpatch-ok: BRACES: EXPECT_*() is two statements (kselftest_harness.h) */
	if (n < 0) {
		EXPECT_EQ(EFAULT, errno) TH_LOG("%s", strerror(errno));
	} else {
		EXPECT_GE(KT_PAGE - 100, n);
	}
}

/* Lengths far beyond the buffer or the medium. */
TEST_F(bad, huge_lengths)
{
	const size_t lens[] = {
		SIZE_MAX, (size_t)SSIZE_MAX + 1, (size_t)SSIZE_MAX, 1ull << 40,
		0x7ffff000, (size_t)self->info.unit_size + 1,
	};
	unsigned int i;
	ssize_t n;

	for (i = 0; i < ARRAY_SIZE(lens); i++) {
		/* 2 pages of buffer, a PROT_NONE page after them. */
		uint8_t *b = self->edge - KT_PAGE;

		errno = 0;
		n = pread(self->fd, b, lens[i], 0);
		if (n < 0) {
			EXPECT_TRUE(errno == EFAULT || errno == EINVAL)
				TH_LOG("read len %#zx: %s", lens[i], strerror(errno));
		} else {
			EXPECT_GE(2 * KT_PAGE, n) TH_LOG("read len %#zx: %zd", lens[i], n);
		}
		errno = 0;
		n = pwrite(self->fd, b, lens[i], 0);
		if (n < 0) {
			EXPECT_TRUE(errno == EFAULT || errno == EINVAL)
				TH_LOG("write len %#zx: %s", lens[i], strerror(errno));
		} else {
			EXPECT_GE(2 * KT_PAGE, n) TH_LOG("write len %#zx: %zd", lens[i], n);
		}
	}
	/* What the teardown reads back must still be there. */
	ASSERT_EQ(8192, kt_pwrite_pat(self->fd, 8192, 0, kt_seed ^ 0xbad));
}

/* Offsets: negative, overflowing, far beyond the end. */
TEST_F(bad, odd_offsets)
{
	const long long offs[] = {
		-1, -4096, LLONG_MIN, LLONG_MAX, LLONG_MAX - 100,
	};
	uint8_t *b = self->rw;
	unsigned int i;
	ssize_t n;

	for (i = 0; i < ARRAY_SIZE(offs); i++) {
		errno = 0;
		n = pread(self->fd, b, 4096, offs[i]);
		EXPECT_TRUE(n == 0 || (n == -1 && (errno == EINVAL || errno == EOVERFLOW)))
			TH_LOG("pread at %lld: %zd %s", offs[i], n, strerror(errno));
		errno = 0;
		n = pwrite(self->fd, b, 4096, offs[i]);
		EXPECT_TRUE(n == -1 && (errno == EINVAL || errno == ENOSPC ||
					errno == EOVERFLOW || errno == EFBIG))
			TH_LOG("pwrite at %lld: %zd %s", offs[i], n, strerror(errno));
	}
	/* Positions the file cannot take. */
	errno = 0;
	EXPECT_EQ(-1, lseek(self->fd, 0, 17));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(bad, wrong_open_mode_and_mmap)
{
	char path[64];
	uint8_t b[16];
	void *m;
	int fd;

	snprintf(path, sizeof(path), KT_DEV_FMT, 0);
	fd = open(path, O_RDONLY);
	ASSERT_LE(0, fd);
	errno = 0;
	EXPECT_EQ(-1, write(fd, b, sizeof(b)));
	EXPECT_EQ(EBADF, errno);
	EXPECT_EQ(16, pread(fd, b, sizeof(b), 0));
	close(fd);
	fd = open(path, O_WRONLY);
	ASSERT_LE(0, fd);
	errno = 0;
	EXPECT_EQ(-1, read(fd, b, sizeof(b)));
	EXPECT_EQ(EBADF, errno);
	close(fd);
	/* No mmap: data moves by DMA only. */
	m = mmap(NULL, 4096, PROT_READ, MAP_SHARED, self->fd, 0);
	EXPECT_EQ(MAP_FAILED, m);
	if (m != MAP_FAILED)
		munmap(m, 4096);
}

/* Drop CAP_SYS_ADMIN in a child: by leaving uid 0, or with capset. */
static int drop_admin(int how)
{
	if (how == 0)
		return setresuid(65534, 65534, 65534);
	{
		struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
		struct __user_cap_data_struct d[2];

		if (syscall(SYS_capget, &h, d))
			return -1;
		d[CAP_SYS_ADMIN / 32].effective &= ~(1u << (CAP_SYS_ADMIN % 32));
		d[CAP_SYS_ADMIN / 32].permitted &= ~(1u << (CAP_SYS_ADMIN % 32));
		return syscall(SYS_capset, &h, d);
	}
}

/*
 * In the child: reset, fault injection and setting the timeout (which
 * decides when the whole controller is reset; sysfs' timeout file is
 * root-only too) are refused with -EPERM and change nothing; the
 * unprivileged ioctls and I/O work.  Exit code: 0 or the failing step.
 */
static int unprivileged(int fd, int how)
{
	struct kesync_info info;
	struct kesync_stats st;
	struct kesync_hw_stats hw;
	struct kesync_fault f;
	__u32 t;

	if (drop_admin(how))
		return 10;
	errno = 0;
	if (ioctl(fd, KESYNC_IOC_RESET) != -1 || errno != EPERM)
		return 11;
	memset(&f, 0, sizeof(f));
	f.kind = KESYNC_FAULT_HANG;
	f.count = 1;
	errno = 0;
	if (ioctl(fd, KESYNC_IOC_FAULT, &f) != -1 || errno != EPERM)
		return 12;
	f.kind = 0;
	f.count = 0;
	errno = 0;
	if (ioctl(fd, KESYNC_IOC_FAULT, &f) != -1 || errno != EPERM)
		return 13;
	/* EPERM comes before the argument is even looked at. */
	errno = 0;
	if (ioctl(fd, KESYNC_IOC_FAULT, NULL) != -1 || errno != EPERM)
		return 14;
	if (kt_info(fd, &info) || kt_stats(fd, &st) || kt_hw(fd, &hw) ||
	    kt_get_timeout(fd) <= 0)
		return 15;
	t = kt_get_timeout(fd) == 1 ? 2 : 1;
	errno = 0;
	if (ioctl(fd, KESYNC_IOC_SET_TIMEOUT, &t) != -1 || errno != EPERM)
		return 17;
	if (kt_get_timeout(fd) == (int)t)
		return 18;
	if (kt_pread_check(fd, 8192, 0, kt_seed ^ 0xbad))
		return 16;
	return 0;
}

static void run_unprivileged(struct __test_metadata *_metadata, int fd, int how)
{
	pid_t pid;
	int st;

	fflush(NULL);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		_exit(unprivileged(fd, how));
	ASSERT_EQ(0, kt_waitpid(pid, 20, &st));
	ASSERT_TRUE(WIFEXITED(st));
	EXPECT_EQ(0, WEXITSTATUS(st))
		TH_LOG("step %d failed (10: could not drop the capability, 11: reset, %s)",
		       WEXITSTATUS(st),
		       "12-14: fault, 15: ioctls, 16: read, 17-18: set timeout");
}

TEST_F(bad, unprivileged_setuid_eperm)
{
	run_unprivileged(_metadata, self->fd, 0);
}

TEST_F(bad, unprivileged_capset_eperm)
{
	run_unprivileged(_metadata, self->fd, 1);
}

KT_FINAL_HEALTH_TEST(0)

TEST_HARNESS_MAIN

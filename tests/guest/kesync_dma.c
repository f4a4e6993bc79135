// SPDX-License-Identifier: GPL-2.0
/*
 * kesync_dma: the DMA API's limits on the I/O path.
 *
 * - Huge pages (hugetlbfs, and transparent huge pages) hand the driver
 *   physically contiguous runs of 2 MiB.  Each scatterlist entry must still
 *   fit both the device's segment size and what the DMA layer can map in
 *   one piece: dma_max_mapping_size(), 256 KiB when swiotlb bounces every
 *   mapping (the 'swiotlb' boot of tests/matrix, swiotlb=force, with a
 *   device whose max-transfer is larger than that).  Reads and writes of
 *   several MiB through such buffers must move the right bytes.
 * - A read into a buffer that shares its first or last cache line with
 *   other data: those bytes belong to the program, which writes them from
 *   another thread meanwhile; the read must leave them alone.  Reads into
 *   neighbouring pieces of one cache line, all mapped at once, must not
 *   give overlapping DMA mappings (DMA-API debugging reports them on the
 *   debug kernel: "cacheline tracking EEXIST").
 * - Requests queued behind a slow transfer: every unit may have
 *   KESYNC_MAX_INFLIGHT requests of 8 MiB in flight, but only the one
 *   holding the controller may be DMA-mapped; under swiotlb (64 MiB of
 *   bounce space) mapping them all at dispatch fills it ("swiotlb buffer
 *   is full") and fails them.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>

#include "kesync_test.h"	/* and kselftest_harness.h */

#define KT_HUGE		(2UL * KT_MIB)
/* One read or write moves at most this much (module/kesync-cdev.c). */
#define KT_MAX_IO	(8UL * KT_MIB)
#define NR_HUGEPAGES	"/proc/sys/vm/nr_hugepages"
#define THP_ENABLED	"/sys/kernel/mm/transparent_hugepage/enabled"
#define DMA_API_ERRORS	"/sys/kernel/debug/dma-api/error_count"
/* DMA-API debugging tracks cache lines of L1_CACHE_BYTES (64 on x86). */
#define KT_LINE		64UL
/* The neighbours the scribbler writes: up to a 128-byte line's edge. */
#define KT_NEAR		128UL

static inline uintptr_t align_down(const void *p, uintptr_t a)
{
	return (uintptr_t)p & ~(a - 1);
}

static inline uintptr_t align_up(const void *p, uintptr_t a)
{
	return ((uintptr_t)p + a - 1) & ~(a - 1);
}

static inline size_t pages_of(size_t bytes)
{
	return (bytes + KT_PAGE - 1) / KT_PAGE;
}

static long read_long(const char *path)
{
	char buf[64];
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	return strtol(buf, NULL, 10);
}

static int write_long(const char *path, long v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%ld\n", v);
	return kt_write_file(path, buf);
}

/* A "Name:   N kB" line of /proc/meminfo, in bytes; -1 if absent. */
static long meminfo_bytes(const char *name)
{
	size_t nlen = strlen(name);
	char line[256];
	long v = -1;
	FILE *f;

	f = fopen("/proc/meminfo", "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, name, nlen) && line[nlen] == ':') {
			v = strtol(line + nlen + 1, NULL, 10) * 1024;
			break;
		}
	fclose(f);
	return v;
}

/* AnonHugePages of the mapping that holds p (/proc/self/smaps), bytes. */
static long anon_huge_bytes(const void *p)
{
	unsigned long lo, hi, addr = (uintptr_t)p;
	char line[512];
	int in = 0;
	long v = -1;
	FILE *f;

	f = fopen("/proc/self/smaps", "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		/* A mapping's first line: "lo-hi perms ..." in lower-case hex. */
		if (line[strspn(line, "0123456789abcdef")] == '-' &&
		    sscanf(line, "%lx-%lx ", &lo, &hi) == 2) {
			in = addr >= lo && addr < hi;
		} else if (in && !strncmp(line, "AnonHugePages:", 14)) {
			v = strtol(line + 14, NULL, 10) * 1024;
			break;
		}
	}
	fclose(f);
	return v;
}

/*
 * Write len bytes at medium offset off from buf, check them through a
 * plain buffer, read them back into buf and check again: the device holds
 * what buf held, and buf gets what the device holds.
 */
static void roundtrip(struct __test_metadata *_metadata, int fd, uint8_t *buf,
		      size_t len, uint64_t off, uint64_t seed)
{
	struct kesync_stats a, b;
	ssize_t n, bad;

	kt_fill(buf, len, seed, off);
	ASSERT_EQ(0, kt_stats(fd, &a));
	n = pwrite(fd, buf, len, off);
	ASSERT_EQ((ssize_t)len, n) TH_LOG("pwrite %zu bytes at %llu from %p: %s",
					  len, (unsigned long long)off, buf,
					  n < 0 ? strerror(errno) : "short");
	ASSERT_EQ(0, kt_pread_check(fd, len, off, seed))
		TH_LOG("the medium does not hold what was written (%s)",
		       strerror(errno));
	memset(buf, 0xee, len);
	n = pread(fd, buf, len, off);
	ASSERT_EQ((ssize_t)len, n) TH_LOG("pread %zu bytes at %llu into %p: %s",
					  len, (unsigned long long)off, buf,
					  n < 0 ? strerror(errno) : "short");
	bad = kt_check(buf, len, seed, off);
	ASSERT_EQ(-1, bad) TH_LOG("pread into %p: byte %zd differs", buf, bad);
	ASSERT_EQ(0, kt_stats(fd, &b));
	EXPECT_EQ(0, KT_D(b, a, errors));
	EXPECT_EQ(0, KT_D(b, a, timeouts));
}

/* Whole, unaligned, and straddling a huge page boundary. */
static void huge_roundtrips(struct __test_metadata *_metadata, int fd,
			    const struct kesync_info *info, uint8_t *p,
			    size_t maplen, uint64_t seed)
{
	size_t len = maplen;

	if (len > KT_MAX_IO)
		len = KT_MAX_IO;
	if (len > info->unit_size)
		len = info->unit_size;
	TH_LOG("buffer %p, %zu bytes; max_xfer %u", p, maplen, info->max_xfer);
	roundtrip(_metadata, fd, p, len, 0, seed);
	roundtrip(_metadata, fd, p + 4095, len - 4095 - 333,
		  info->unit_size - (len - 4095 - 333), seed + 1);
	roundtrip(_metadata, fd, p + KT_HUGE - 4096 - 3, KT_HUGE + 4096 + 11,
		  12345, seed + 2);
}

FIXTURE(huge) {
	int fd;
	struct kesync_info info;
	long nr_saved;		/* nr_hugepages to restore, or -1 */
};

FIXTURE_SETUP(huge)
{
	self->nr_saved = -1;
	self->fd = kt_open_unit(0);
	ASSERT_LE(0, self->fd) TH_LOG("open /dev/kesync0: %s", strerror(errno));
	ASSERT_EQ(0, kt_info(self->fd, &self->info));
}

FIXTURE_TEARDOWN(huge)
{
	if (self->nr_saved >= 0)
		write_long(NR_HUGEPAGES, self->nr_saved);
	if (self->fd >= 0)
		close(self->fd);
}

TEST_F_TIMEOUT(huge, hugetlb_buffer, 120)
{
	long hp = meminfo_bytes("Hugepagesize"), want, before, got;
	size_t maplen;
	uint8_t *p;

	if (access(NR_HUGEPAGES, W_OK) || hp <= 0)
		SKIP(return, "the kernel has no hugetlbfs (%s)", NR_HUGEPAGES);
	want = (6 * KT_MIB + hp - 1) / hp;
	maplen = want * hp;
	before = read_long(NR_HUGEPAGES);
	ASSERT_LE(0, before);
	self->nr_saved = before;
	ASSERT_EQ(0, write_long(NR_HUGEPAGES, before + want))
		TH_LOG("write %s: %s", NR_HUGEPAGES, strerror(errno));
	got = read_long(NR_HUGEPAGES);
	if (got < before + want)
		SKIP(return, "only %ld of %ld huge pages of %ld KiB could be reserved",
		     got - before, want, hp / 1024);
	p = mmap(NULL, maplen, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	ASSERT_NE(MAP_FAILED, p) TH_LOG("mmap MAP_HUGETLB: %s", strerror(errno));
	huge_roundtrips(_metadata, self->fd, &self->info, p, maplen,
			kt_seed ^ 0x4e6e);
	munmap(p, maplen);
}

TEST_F_TIMEOUT(huge, transparent_huge_buffer, 120)
{
	size_t maplen = 6 * KT_MIB;
	uint8_t *map, *p;
	char mode[128];
	long huge;
	int fd;
	ssize_t n;

	fd = open(THP_ENABLED, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		SKIP(return, "the kernel has no transparent huge pages");
	n = read(fd, mode, sizeof(mode) - 1);
	close(fd);
	mode[n > 0 ? n : 0] = 0;
	if (strstr(mode, "[never]"))
		SKIP(return, "transparent huge pages are disabled: %s", mode);
	map = mmap(NULL, maplen + KT_HUGE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, map);
	p = (uint8_t *)align_up(map, KT_HUGE);
	ASSERT_EQ(0, madvise(p, maplen, MADV_HUGEPAGE))
		TH_LOG("madvise MADV_HUGEPAGE: %s", strerror(errno));
	memset(p, 0, maplen);
	huge = anon_huge_bytes(p);
	/* Fresh memory and MADV_HUGEPAGE, but memory may be fragmented. */
	if (!huge) {
		munmap(map, maplen + KT_HUGE);
		SKIP(return, "no transparent huge page in %p (mode %s)", p, mode);
	}
	huge_roundtrips(_metadata, self->fd, &self->info, p, maplen,
			kt_seed ^ 0x7a9e);
	EXPECT_LT(0, anon_huge_bytes(p));
	munmap(map, maplen + KT_HUGE);
}

/* ---- Cache lines shared with other data ---------------------------------- */

struct scribbler {
	uint8_t *a, *b;			/* the neighbours before and after */
	size_t alen, blen;
	atomic_uint rounds;
	atomic_bool stop;
	uint8_t last;			/* value of the last complete round */
};

/* Stores a new value into every neighbour byte, round after round. */
static void *scribble(void *arg)
{
	struct scribbler *s = arg;
	uint8_t v = 0;
	size_t i;

	while (!atomic_load(&s->stop)) {
		v = v == 0xed ? 1 : v + 1;	/* never the 0xee of the buffer */
		/* Byte stores the compiler may neither merge nor drop. */
		for (i = 0; i < s->alen; i++)
			__atomic_store_n(&s->a[i], v, __ATOMIC_RELAXED);
		for (i = 0; i < s->blen; i++)
			__atomic_store_n(&s->b[i], v, __ATOMIC_RELAXED);
		s->last = v;
		atomic_fetch_add(&s->rounds, 1);
	}
	return NULL;
}

static int wait_rounds(struct scribbler *s, unsigned int n, double timeout_s)
{
	double end = kt_now() + timeout_s;

	while (atomic_load(&s->rounds) < n) {
		if (kt_now() > end)
			return -1;
		sched_yield();
	}
	return 0;
}

static long dma_api_errors(void)
{
	return read_long(DMA_API_ERRORS);	/* -1: no DMA-API debugging */
}

FIXTURE(line) {
	int fd;
	int fd2;		/* unit 1 if there is one, else unit 0 */
	struct kesync_info info;
};

FIXTURE_VARIANT(line) {
	size_t off;		/* of the buffer in its page */
};

FIXTURE_VARIANT_ADD(line, off1) { .off = 1 };
FIXTURE_VARIANT_ADD(line, off63) { .off = 63 };
FIXTURE_VARIANT_ADD(line, off4095) { .off = 4095 };

FIXTURE_SETUP(line)
{
	self->fd = kt_open_unit(0);
	ASSERT_LE(0, self->fd) TH_LOG("open /dev/kesync0: %s", strerror(errno));
	ASSERT_EQ(0, kt_info(self->fd, &self->info));
	self->fd2 = kt_open_unit(self->info.units > 1 ? 1 : 0);
	ASSERT_LE(0, self->fd2);
}

FIXTURE_TEARDOWN(line)
{
	if (self->fd2 >= 0)
		close(self->fd2);
	if (self->fd >= 0)
		close(self->fd);
}

/*
 * Reads of lengths that are not multiples of 64 into a buffer at the
 * variant's offset in its page, while another thread keeps writing the
 * bytes around it in the same cache lines: the read's bytes are right and
 * the neighbours hold exactly what the thread wrote last.
 */
TEST_F_TIMEOUT(line, neighbours_written_during_read, 120)
{
	static const size_t lens[] = {
		1, 37, 100, 4096 + 51, 65536 + 7, 3 * 65536 + 13,
	};
	size_t off = variant->off;
	unsigned int k;

	for (k = 0; k < ARRAY_SIZE(lens); k++) {
		size_t len = lens[k], i, maplen;
		uint64_t moff = KT_MIB + off + k * 4096, seed = kt_seed + k;
		struct scribbler s = { 0 };
		uint8_t *map, *buf, *end;
		pthread_t th;
		ssize_t n, bad;

		maplen = KT_PAGE + pages_of(off + len + KT_NEAR) * KT_PAGE;
		map = mmap(NULL, maplen, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		ASSERT_NE(MAP_FAILED, map);
		buf = map + KT_PAGE + off;
		end = buf + len;
		s.a = (uint8_t *)align_down(buf, KT_NEAR);
		s.alen = buf - s.a;
		s.b = end;
		s.blen = (uint8_t *)align_up(end, KT_NEAR) - end;
		ASSERT_EQ(len, kt_pwrite_pat(self->fd, len, moff, seed));
		memset(buf, 0xee, len);

		ASSERT_EQ(0, pthread_create(&th, NULL, scribble, &s));
		ASSERT_EQ(0, wait_rounds(&s, 1, 10));
		n = pread(self->fd, buf, len, moff);
		atomic_store(&s.stop, true);
		ASSERT_EQ(0, pthread_join(th, NULL));

		ASSERT_EQ((ssize_t)len, n) TH_LOG("pread %zu at page offset %zu: %s",
						  len, off, n < 0 ? strerror(errno) : "short");
		bad = kt_check(buf, len, seed, moff);
		EXPECT_EQ(-1, bad) TH_LOG("len %zu: byte %zd of the read differs", len, bad);
		for (i = 0; i < s.alen; i++)
			if (s.a[i] != s.last)
				break;
		EXPECT_EQ(s.alen, i)
			TH_LOG("len %zu: byte %zd before the buffer is %#x, written %#x",
			       len, (ssize_t)i - (ssize_t)s.alen,
			       i < s.alen ? s.a[i] : 0, s.last);
		for (i = 0; i < s.blen; i++)
			if (s.b[i] != s.last)
				break;
		EXPECT_EQ(s.blen, i)
			TH_LOG("len %zu: byte %zu after the buffer is %#x, written %#x",
			       len, i, i < s.blen ? s.b[i] : 0, s.last);
		munmap(map, maplen);
	}
}

struct piece {
	int fd;
	uint8_t *buf;
	size_t len;
	uint64_t moff;
	atomic_int tid;
	ssize_t ret;
	int err;
};

static void *piece_read(void *arg)
{
	struct piece *pc = arg;

	atomic_store(&pc->tid, (int)syscall(SYS_gettid));
	pc->ret = pread(pc->fd, pc->buf, pc->len, pc->moff);
	pc->err = errno;
	return NULL;
}

static int join_within(pthread_t th, double s)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)s;
	return pthread_timedjoin_np(th, NULL, &ts);
}

/*
 * Three reads into one run of bytes, cut inside cache lines: the middle
 * piece (held on the device for 300 ms by a LATE fault, so that it stays
 * mapped) and the rest of its first and last cache lines, read meanwhile.
 * Every byte must be right, and DMA-API debugging (debug kernel) must
 * have found no overlapping mapping.
 */
TEST_F_TIMEOUT(line, reads_sharing_cache_lines, 60)
{
	static const size_t lens[] = { 21, 100, 4096 + 51 };
	size_t off = variant->off;
	unsigned int k, j;

	for (k = 0; k < ARRAY_SIZE(lens); k++) {
		size_t len = lens[k], maplen;
		uint64_t moff = 2 * KT_MIB + KT_PAGE, seed = kt_seed ^ (0x11e0 + k);
		struct piece pc[3];
		pthread_t th[3];
		uint8_t *map, *buf, *lo, *hi;
		long e0, e1;

		maplen = KT_PAGE + pages_of(off + len + KT_LINE) * KT_PAGE;
		map = mmap(NULL, maplen, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		ASSERT_NE(MAP_FAILED, map);
		buf = map + KT_PAGE + off;
		lo = (uint8_t *)align_down(buf, KT_LINE);
		hi = (uint8_t *)align_up(buf + len, KT_LINE);
		/* Both units' media hold the pattern under lo..hi. */
		ASSERT_EQ(hi - lo, kt_pwrite_pat(self->fd, hi - lo,
						 moff - (buf - lo), seed));
		ASSERT_EQ(hi - lo, kt_pwrite_pat(self->fd2, hi - lo,
						 moff - (buf - lo), seed));
		memset(lo, 0xee, hi - lo);

		memset(pc, 0, sizeof(pc));
		pc[0] = (struct piece){ .fd = self->fd, .buf = buf, .len = len,
					.moff = moff };
		pc[1] = (struct piece){ .fd = self->fd2, .buf = lo,
					.len = buf - lo, .moff = moff - (buf - lo) };
		pc[2] = (struct piece){ .fd = self->fd2, .buf = buf + len,
					.len = hi - buf - len, .moff = moff + len };
		e0 = dma_api_errors();

		ASSERT_EQ(0, kt_fault(self->fd, KESYNC_FAULT_LATE, 1, 300000));
		ASSERT_EQ(0, pthread_create(&th[0], NULL, piece_read, &pc[0]));
		while (!atomic_load(&pc[0].tid))
			sched_yield();
		ASSERT_EQ(0, kt_wait_blocked(getpid(), atomic_load(&pc[0].tid),
					     SYS_pread64, 10))
			TH_LOG("the middle read never blocked in the driver");
		for (j = 1; j < 3; j++)
			ASSERT_EQ(0, pthread_create(&th[j], NULL, piece_read, &pc[j]));
		for (j = 0; j < 3; j++)
			ASSERT_EQ(0, join_within(th[j], 30));

		for (j = 0; j < 3; j++) {
			ssize_t bad;

			EXPECT_EQ((ssize_t)pc[j].len, pc[j].ret)
				TH_LOG("len %zu, piece %u (%zu bytes): %s", len, j,
				       pc[j].len, strerror(pc[j].err));
			bad = kt_check(pc[j].buf, pc[j].len, seed, pc[j].moff);
			EXPECT_EQ(-1, bad) TH_LOG("len %zu, piece %u: byte %zd differs",
						  len, j, bad);
		}
		e1 = dma_api_errors();
		EXPECT_EQ(e0, e1) TH_LOG("DMA-API debugging counted %ld error(s)",
					 e1 - e0);
		munmap(map, maplen);
	}
}

/* ---- Requests queued behind a slow transfer ----------------------------- */

#define KT_SWIOTLB_FULL	"swiotlb buffer is full"

struct queued {
	int fd;
	uint8_t *buf;
	size_t len;
	uint64_t moff;
	uint64_t seed;
	bool write;
	atomic_int tid;
	ssize_t ret;
	int err;
};

static void *queued_io(void *arg)
{
	struct queued *q = arg;

	atomic_store(&q->tid, (int)syscall(SYS_gettid));
	if (q->write)
		q->ret = pwrite(q->fd, q->buf, q->len, q->moff);
	else
		q->ret = pread(q->fd, q->buf, q->len, q->moff);
	q->err = errno;
	return NULL;
}

#define KT_QUNITS	2
#define KT_QREQS	(KT_QUNITS * KESYNC_MAX_INFLIGHT)

FIXTURE(queue) {
	int fd[KT_QUNITS];
	unsigned int units;
	struct kesync_info info;
};

FIXTURE_SETUP(queue)
{
	unsigned int u;

	self->fd[0] = kt_open_unit(0);
	ASSERT_LE(0, self->fd[0]) TH_LOG("open /dev/kesync0: %s", strerror(errno));
	ASSERT_EQ(0, kt_info(self->fd[0], &self->info));
	self->units = self->info.units < KT_QUNITS ? self->info.units : KT_QUNITS;
	for (u = 1; u < self->units; u++) {
		self->fd[u] = kt_open_unit(u);
		ASSERT_LE(0, self->fd[u]);
	}
}

FIXTURE_TEARDOWN(queue)
{
	unsigned int u;

	for (u = 0; u < self->units; u++)
		if (self->fd[u] >= 0)
			close(self->fd[u]);
}

/*
 * The first transfer of unit 0 is held for 2 s (a LATE fault) while
 * KESYNC_MAX_INFLIGHT requests of 8 MiB (reads, some at odd offsets in
 * their pages, and writes of the same bytes) are queued on it and as many
 * on unit 1, which waits for the controller.  Then all must move their
 * full count with the right bytes, and the kernel never logs that the
 * swiotlb bounce space (64 MiB) ran out: at most one request holds a DMA
 * mapping per controller.
 */
TEST_F_TIMEOUT(queue, max_inflight_behind_slow_transfer, 180)
{
	struct queued *q;
	pthread_t th[KT_QREQS];
	unsigned int n = self->units * KESYNC_MAX_INFLIGHT, i;
	size_t maplen = KT_MAX_IO + 2 * KT_PAGE;
	uint8_t *map[KT_QREQS];
	int kmsg;

	ASSERT_LE(KT_MAX_IO, self->info.unit_size);
	q = calloc(KT_QREQS, sizeof(*q));
	ASSERT_NE(NULL, q);
	for (i = 0; i < self->units; i++)
		ASSERT_EQ((ssize_t)KT_MAX_IO,
			  kt_pwrite_pat(self->fd[i], KT_MAX_IO, 0,
					kt_seed ^ (0x9e0 + i)));
	for (i = 0; i < n; i++) {
		unsigned int u = i / KESYNC_MAX_INFLIGHT;

		map[i] = mmap(NULL, maplen, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		ASSERT_NE(MAP_FAILED, map[i]);
		q[i].fd = self->fd[u];
		q[i].len = KT_MAX_IO;
		q[i].seed = kt_seed ^ (0x9e0 + u);
		/* Every fourth a write of the bytes already there. */
		q[i].write = i % 4 == 3;
		/* Odd requests start inside a cache line (a bounced head). */
		q[i].buf = map[i] + KT_PAGE + (i % 2 ? 64 * i + 5 : 0);
		if (q[i].write)
			kt_fill(q[i].buf, q[i].len, q[i].seed, 0);
		else
			memset(q[i].buf, 0xee, q[i].len);
	}
	kmsg = kt_kmsg_open_end();
	ASSERT_LE(0, kmsg) TH_LOG("/dev/kmsg: %s", strerror(errno));

	ASSERT_EQ(0, kt_fault(self->fd[0], KESYNC_FAULT_LATE, 1, 2000000));
	ASSERT_EQ(0, pthread_create(&th[0], NULL, queued_io, &q[0]));
	while (!atomic_load(&q[0].tid))
		sched_yield();
	ASSERT_EQ(0, kt_wait_blocked(getpid(), atomic_load(&q[0].tid),
				     SYS_pread64, 10))
		TH_LOG("the first read never blocked in the driver");
	for (i = 1; i < n; i++)
		ASSERT_EQ(0, pthread_create(&th[i], NULL, queued_io, &q[i]));
	for (i = 0; i < n; i++)
		ASSERT_EQ(0, join_within(th[i], 120));

	for (i = 0; i < n; i++) {
		ssize_t bad;

		EXPECT_EQ((ssize_t)q[i].len, q[i].ret)
			TH_LOG("request %u (unit %u, %s): %s", i,
			       i / KESYNC_MAX_INFLIGHT,
			       q[i].write ? "write" : "read",
			       q[i].ret < 0 ? strerror(q[i].err) : "short");
		if (q[i].write || q[i].ret != (ssize_t)q[i].len)
			continue;
		bad = kt_check(q[i].buf, q[i].len, q[i].seed, 0);
		EXPECT_EQ(-1, bad) TH_LOG("request %u: byte %zd differs", i, bad);
	}
	EXPECT_FALSE(kt_kmsg_says(kmsg, KT_SWIOTLB_FULL))
		TH_LOG("the kernel log says \"" KT_SWIOTLB_FULL "\"");
	close(kmsg);
	for (i = 0; i < n; i++)
		munmap(map[i], maplen);
	free(q);
}

KT_FINAL_HEALTH_TEST(0)

TEST_HARNESS_MAIN

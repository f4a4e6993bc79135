// SPDX-License-Identifier: GPL-2.0
/*
 * kesync_data: what is written to a unit's medium reads back, whatever the
 * size (1 byte to several MiB), the user buffer's alignment, the medium
 * offset, and however many partial transfers the request needs (more
 * segments than max_segs, more bytes than max_xfer: the "map registers" of
 * the adapter object, reprogrammed from the DpcForIsr).  End of medium,
 * file position, and data kept across close/open and rmmod/insmod.
 */
#define _GNU_SOURCE
#include "kesync_test.h"	/* and kselftest_harness.h */

FIXTURE(data) {
	int fd;
	struct kesync_info info;
};

FIXTURE_SETUP(data)
{
	self->fd = kt_open_unit(0);
	ASSERT_LE(0, self->fd) TH_LOG("open /dev/kesync0: %s", strerror(errno));
	ASSERT_EQ(0, kt_info(self->fd, &self->info));
}

FIXTURE_TEARDOWN(data)
{
	if (self->fd >= 0)
		close(self->fd);
}

static unsigned int div_up(uint64_t a, uint64_t b)
{
	return (a + b - 1) / b;
}

TEST_F(data, info_sane)
{
	const char *irq = kt_env_str("KESYNC_IRQ", "auto");
	const char *pump = kt_env_str("KESYNC_PUMP", "startio");
	struct kesync_info *i = &self->info;
	struct stat st;

	EXPECT_EQ(KESYNC_VERSION, i->version);
	EXPECT_EQ(kt_env_uint("KESYNC_UNITS", i->units), i->units);
	EXPECT_LE(1, i->units);
	EXPECT_GE(KESYNC_MAX_UNITS, i->units);
	EXPECT_EQ(0, i->unit);
	EXPECT_LE(1, i->max_segs);
	EXPECT_GE(KESYNC_MAX_SEGS_LIMIT, i->max_segs);
	EXPECT_LE(1, i->max_xfer);
	EXPECT_GE(KESYNC_MAX_XFER_LIMIT, i->max_xfer);
	EXPECT_LE(KESYNC_TIMEOUT_MIN, i->timeout);
	EXPECT_GE(KESYNC_TIMEOUT_MAX, i->timeout);
	EXPECT_LE(KT_MIB, i->unit_size);
	EXPECT_EQ(0, i->reserved0);
	EXPECT_EQ(0, i->reserved[0] | i->reserved[1] | i->reserved[2] | i->reserved[3]);
	ASSERT_EQ(0, fstat(self->fd, &st));
	EXPECT_TRUE(S_ISCHR(st.st_mode));
	EXPECT_EQ(minor(st.st_rdev), i->minor);
	/* checkpatch-ok: BRACES: EXPECT_*() is two statements (kselftest_harness.h) */
	if (!strcmp(irq, "msix")) {
		EXPECT_EQ(KESYNC_IRQ_MSIX, i->irq_mode);
	} else if (!strcmp(irq, "msi")) {
		EXPECT_EQ(KESYNC_IRQ_MSI, i->irq_mode);
	} else if (!strcmp(irq, "intx")) {
		EXPECT_EQ(KESYNC_IRQ_INTX, i->irq_mode);
	}
	EXPECT_EQ(strcmp(pump, "thread") ? KESYNC_PUMP_STARTIO : KESYNC_PUMP_THREAD,
		  i->pump);
	EXPECT_EQ(i->timeout, kt_get_timeout(self->fd));
	TH_LOG("units %u max_segs %u max_xfer %u unit_size %llu timeout %u irq %u pump %u",
	       i->units, i->max_segs, i->max_xfer,
	       (unsigned long long)i->unit_size, i->timeout, i->irq_mode, i->pump);
}

TEST_F(data, zero_length)
{
	struct kesync_stats a, b;
	char c = 0x5a;

	ASSERT_EQ(0, kt_stats(self->fd, &a));
	EXPECT_EQ(0, pread(self->fd, &c, 0, 0));
	EXPECT_EQ(0, pwrite(self->fd, &c, 0, 4096));
	EXPECT_EQ(0, read(self->fd, &c, 0));
	EXPECT_EQ(0, write(self->fd, &c, 0));
	EXPECT_EQ(0, pread(self->fd, NULL, 0, 0));
	EXPECT_EQ(0x5a, c);
	ASSERT_EQ(0, kt_stats(self->fd, &b));
	EXPECT_EQ(0, KT_D(b, a, errors));
}

/*
 * Write len bytes at off from a buffer misaligned by wmis, read them back
 * into one misaligned by rmis, check data, the buffers' slack, and the
 * unit's counters.
 */
static void roundtrip(struct __test_metadata *_metadata, int fd, size_t len,
		      uint64_t off, size_t wmis, size_t rmis, uint64_t seed)
{
	struct kesync_stats a, b;
	struct kt_buf w, r;
	ssize_t n, bad;

	ASSERT_EQ(0, kt_buf_alloc(&w, len, wmis));
	ASSERT_EQ(0, kt_buf_alloc(&r, len, rmis));
	kt_fill(w.p, len, seed, off);
	ASSERT_EQ(0, kt_stats(fd, &a));
	n = pwrite(fd, w.p, len, off);
	ASSERT_EQ((ssize_t)len, n) TH_LOG("pwrite len %zu off %llu mis %zu: %s",
					  len, (unsigned long long)off, wmis,
					  n < 0 ? strerror(errno) : "short");
	n = pread(fd, r.p, len, off);
	ASSERT_EQ((ssize_t)len, n) TH_LOG("pread len %zu off %llu mis %zu: %s",
					  len, (unsigned long long)off, rmis,
					  n < 0 ? strerror(errno) : "short");
	bad = kt_check(r.p, len, seed, off);
	ASSERT_EQ(-1, bad) TH_LOG("len %zu off %llu wmis %zu rmis %zu: byte %zd differs",
				  len, (unsigned long long)off, wmis, rmis, bad);
	EXPECT_TRUE(kt_buf_slack_ok(&r)) TH_LOG("read overran its buffer (len %zu)", len);
	EXPECT_TRUE(kt_buf_slack_ok(&w));
	ASSERT_EQ(0, kt_stats(fd, &b));
	EXPECT_EQ(2, KT_D(b, a, requests));
	EXPECT_EQ(2 * (long long)len, KT_D(b, a, bytes));
	EXPECT_EQ(0, KT_D(b, a, errors));
	EXPECT_EQ(0, KT_D(b, a, timeouts));
	EXPECT_EQ(0, KT_D(b, a, lost_irqs));
	EXPECT_EQ(0, KT_D(b, a, short_xfers));
	/* Every interrupt had a completion to report (none left unacked). */
	EXPECT_EQ(0, KT_D(b, a, spurious));
	kt_buf_free(&w);
	kt_buf_free(&r);
}

TEST_F_TIMEOUT(data, sizes_offsets_alignments, 120)
{
	static const size_t sizes[] = {
		1, 2, 3, 7, 8, 9, 511, 512, 513, 4095, 4096, 4097, 8191,
		12288 + 5, 65535, 65536, 65537, 131072 + 17, 1048576 - 1,
		1048576 + 1, 3 * 1048576 + 4097, 5 * 1048576 + 333,
	};
	static const size_t mis[] = { 0, 1, 3, 7, 8, 511, 2049, 4095 };
	uint64_t size = self->info.unit_size;
	struct kt_rng rng = { kt_seed ^ 0xda7a };
	unsigned int i, k;

	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		size_t len = sizes[i];

		if (len > size)
			continue;
		for (k = 0; k < 3; k++) {
			uint64_t off;

			switch (k) {
			case 0:		/* start of the medium */
				off = 0;
				break;
			case 1:		/* end of the medium */
				off = size - len;
				break;
			default:	/* anywhere, often unaligned */
				off = kt_range(&rng, 0, size - len);
				break;
			}
			roundtrip(_metadata, self->fd, len, off,
				  mis[kt_range(&rng, 0, ARRAY_SIZE(mis) - 1)],
				  mis[kt_range(&rng, 0, ARRAY_SIZE(mis) - 1)],
				  kt_seed + i * 16 + k);
		}
	}
}

/* Physical frame of a resident page of ours (root reads /proc/self/pagemap). */
static uint64_t pfn_of(int pm, const void *va)
{
	uint64_t e = 0;

	if (pread(pm, &e, 8, ((uintptr_t)va / KT_PAGE) * 8) != 8)
		return 0;
	if (!(e & (1ull << 63)))
		return 0;
	return e & ((1ull << 55) - 1);
}

struct pfn_idx {
	uint64_t pfn;
	size_t idx;
};

static int by_pfn_desc(const void *a, const void *b)
{
	const struct pfn_idx *x = a, *y = b;

	return x->pfn < y->pfn ? 1 : x->pfn > y->pfn ? -1 : 0;
}

/*
 * npages of anonymous memory laid out so that virtually adjacent pages are
 * never physically adjacent (descending frame numbers): without an IOMMU
 * every page is its own DMA segment.  Returns the mapping or NULL; *runs
 * gets the number of physically contiguous runs found afterwards.
 */
static uint8_t *scattered(size_t npages, size_t *runs)
{
	size_t i, len = npages * KT_PAGE;
	struct pfn_idx *v;
	uint8_t *pool, *dst;
	int pm;

	pool = mmap(NULL, len, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	dst = mmap(NULL, len + 2 * KT_PAGE, PROT_NONE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	v = calloc(npages, sizeof(*v));
	pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (pool == MAP_FAILED || dst == MAP_FAILED || !v || pm < 0)
		return NULL;
	madvise(pool, len, MADV_NOHUGEPAGE);
	dst += KT_PAGE;		/* guard page on each side stays PROT_NONE */
	for (i = 0; i < npages; i++) {
		pool[i * KT_PAGE] = 1;
		v[i].idx = i;
		v[i].pfn = pfn_of(pm, pool + i * KT_PAGE);
	}
	qsort(v, npages, sizeof(*v), by_pfn_desc);
	for (i = 0; i < npages; i++) {
		if (mremap(pool + v[i].idx * KT_PAGE, KT_PAGE, KT_PAGE,
			   MREMAP_MAYMOVE | MREMAP_FIXED,
			   dst + i * KT_PAGE) == MAP_FAILED)
			return NULL;
	}
	*runs = 1;
	for (i = 1; i < npages; i++) {
		uint64_t a = pfn_of(pm, dst + (i - 1) * KT_PAGE);
		uint64_t b = pfn_of(pm, dst + i * KT_PAGE);

		if (!a || !b || b != a + 1)
			(*runs)++;
	}
	close(pm);
	free(v);
	munmap(pool, len);	/* whatever was not moved */
	return dst;
}

/*
 * One request needing many programmed transfers: more segments than
 * max_segs and more bytes than max_xfer.  partials counts the transfers
 * after the first; the hardware's transfer count must add up.
 */
TEST_F_TIMEOUT(data, many_partial_transfers, 120)
{
	struct kesync_info *i = &self->info;
	size_t npages, runs_w = 0, runs_r = 0, len, head = 123, tail = 77;
	struct kesync_stats a, b;
	struct kesync_hw_stats ha, hb;
	unsigned int need;
	uint8_t *w, *r;
	uint64_t off = 4096 + 1;
	uint64_t cap = i->unit_size - off;
	ssize_t n, bad;

	npages = 3 * (size_t)i->max_segs + 5;
	if (npages * KT_PAGE < 2 * (size_t)i->max_xfer + 3 * KT_PAGE)
		npages = (2 * (size_t)i->max_xfer) / KT_PAGE + 3;
	if (npages * KT_PAGE > cap)
		npages = cap / KT_PAGE;
	if (npages > 8192)
		npages = 8192;			/* 32 MiB */
	len = npages * KT_PAGE - head - tail;
	w = scattered(npages, &runs_w);
	r = scattered(npages, &runs_r);
	ASSERT_NE(NULL, w);
	ASSERT_NE(NULL, r);
	TH_LOG("%zu pages, %zu/%zu physical runs, len %zu, max_segs %u, max_xfer %u",
	       npages, runs_w, runs_r, len, i->max_segs, i->max_xfer);
	kt_fill(w + head, len, kt_seed ^ 0x5ca7, off);
	memset(r, 0xee, npages * KT_PAGE);

	ASSERT_EQ(0, kt_stats(self->fd, &a));
	ASSERT_EQ(0, kt_hw(self->fd, &ha));
	n = pwrite(self->fd, w + head, len, off);
	ASSERT_EQ((ssize_t)len, n) TH_LOG("pwrite: %s", strerror(errno));
	ASSERT_EQ(0, kt_stats(self->fd, &b));
	ASSERT_EQ(0, kt_hw(self->fd, &hb));
	/* The bytes alone need this many transfers... */
	need = div_up(len, i->max_xfer);
	/* ...and, when no IOMMU merges them, so do the segments. */
	if (!kt_iommu() && div_up(runs_w, i->max_segs) > need)
		need = div_up(runs_w, i->max_segs);
	TH_LOG("write: %lld transfers (at least %u needed)",
	       KT_D(b, a, partials) + 1, need);
	EXPECT_LE(need - 1, KT_D(b, a, partials));
	EXPECT_GE((long long)runs_w + div_up(len, i->max_xfer), KT_D(b, a, partials) + 1);
	EXPECT_EQ(1, KT_D(b, a, requests));
	EXPECT_EQ((long long)len, KT_D(b, a, bytes));
	/* Every programmed transfer is one the hardware completed. */
	EXPECT_EQ(KT_D(b, a, requests) + KT_D(b, a, partials), (long long)(hb.xfers - ha.xfers));
	EXPECT_EQ(0, KT_D(b, a, lost_irqs));

	a = b;
	ha = hb;
	n = pread(self->fd, r + head, len, off);
	ASSERT_EQ((ssize_t)len, n) TH_LOG("pread: %s", strerror(errno));
	ASSERT_EQ(0, kt_stats(self->fd, &b));
	ASSERT_EQ(0, kt_hw(self->fd, &hb));
	bad = kt_check(r + head, len, kt_seed ^ 0x5ca7, off);
	EXPECT_EQ(-1, bad) TH_LOG("byte %zd (page %zd) differs", bad,
				  (bad + (ssize_t)head) / (ssize_t)KT_PAGE);
	EXPECT_EQ(-1, kt_check_byte(r, head, 0xee));
	EXPECT_EQ(-1, kt_check_byte(r + head + len, tail, 0xee));
	need = div_up(len, i->max_xfer);
	if (!kt_iommu() && div_up(runs_r, i->max_segs) > need)
		need = div_up(runs_r, i->max_segs);
	EXPECT_LE(need - 1, KT_D(b, a, partials));
	EXPECT_EQ(KT_D(b, a, requests) + KT_D(b, a, partials), (long long)(hb.xfers - ha.xfers));
	EXPECT_EQ(0, KT_D(b, a, lost_irqs));
}

/* Lengths around max_xfer from a contiguous-looking buffer. */
TEST_F_TIMEOUT(data, max_xfer_boundaries, 90)
{
	struct kesync_info *i = &self->info;
	const long long d[] = { -1, 0, 1, 4096, (long long)i->max_xfer + 1 };
	unsigned int k;

	for (k = 0; k < ARRAY_SIZE(d); k++) {
		long long len = (long long)i->max_xfer + d[k];
		struct kesync_stats a, b;

		if (len <= 0 || (uint64_t)len + 7 > i->unit_size)
			continue;
		ASSERT_EQ(0, kt_stats(self->fd, &a));
		roundtrip(_metadata, self->fd, len, i->unit_size - len - 7,
			  k & 1 ? 5 : 0, k & 1 ? 0 : 9, kt_seed + 0xb0 + k);
		ASSERT_EQ(0, kt_stats(self->fd, &b));
		/* Two requests (write, read), each >= ceil(len / max_xfer). */
		EXPECT_LE(2 * ((long long)div_up(len, i->max_xfer) - 1),
			  KT_D(b, a, partials)) TH_LOG("len %lld", len);
	}
}

TEST_F(data, end_of_medium)
{
	uint64_t size = self->info.unit_size;
	struct kesync_stats a, b;
	struct kt_buf buf;
	ssize_t n;

	ASSERT_EQ(0, kt_buf_alloc(&buf, 8192, 0));
	kt_fill(buf.p, 8192, kt_seed ^ 0xe0f, size - 100);

	/* Read at and beyond the end: 0 bytes (EOF). */
	EXPECT_EQ(0, pread(self->fd, buf.p, 4096, size));
	EXPECT_EQ(0, pread(self->fd, buf.p, 1, size));
	EXPECT_EQ(0, pread(self->fd, buf.p, 4096, size + 4096));
	EXPECT_EQ(0, pread(self->fd, buf.p, 4096, 1ull << 50));

	/* Write at or beyond the end: ENOSPC. */
	errno = 0;
	EXPECT_EQ(-1, pwrite(self->fd, buf.p, 4096, size));
	EXPECT_EQ(ENOSPC, errno);
	errno = 0;
	EXPECT_EQ(-1, pwrite(self->fd, buf.p, 1, size + 12345));
	EXPECT_EQ(ENOSPC, errno);

	/* Straddling the end: short count up to the end. */
	ASSERT_EQ(0, kt_stats(self->fd, &a));
	n = pwrite(self->fd, buf.p, 8192, size - 100);
	EXPECT_EQ(100, n) TH_LOG("write across the end: %zd (%s)", n, strerror(errno));
	memset(buf.p, 0, 8192);
	n = pread(self->fd, buf.p, 8192, size - 100);
	EXPECT_EQ(100, n);
	EXPECT_EQ(-1, kt_check(buf.p, 100, kt_seed ^ 0xe0f, size - 100));
	EXPECT_EQ(-1, kt_check_byte(buf.p + 100, 8192 - 100, 0));
	ASSERT_EQ(0, kt_stats(self->fd, &b));
	EXPECT_EQ(2, KT_D(b, a, requests));
	EXPECT_EQ(200, KT_D(b, a, bytes));

	/* read(2)/write(2) at the end through the file position. */
	ASSERT_EQ((off_t)size, lseek(self->fd, size, SEEK_SET));
	EXPECT_EQ(0, read(self->fd, buf.p, 4096));
	errno = 0;
	EXPECT_EQ(-1, write(self->fd, buf.p, 4096));
	EXPECT_EQ(ENOSPC, errno);
	EXPECT_EQ((off_t)size, lseek(self->fd, 0, SEEK_CUR));
	kt_buf_free(&buf);
}

TEST_F(data, file_position_and_llseek)
{
	uint64_t size = self->info.unit_size;
	uint64_t base = size / 2 + 3;
	struct kt_buf b;
	off_t pos;
	unsigned int k;

	ASSERT_EQ(0, kt_buf_alloc(&b, 3 * 4096, 0));
	ASSERT_EQ((off_t)base, lseek(self->fd, base, SEEK_SET));
	/* Sequential writes advance the position... */
	for (k = 0; k < 3; k++) {
		kt_fill(b.p, 4096, kt_seed ^ 0x9e0, base + k * 4096);
		ASSERT_EQ(4096, write(self->fd, b.p, 4096));
		ASSERT_EQ((off_t)(base + (k + 1) * 4096), lseek(self->fd, 0, SEEK_CUR));
	}
	/* ...pwrite/pread do not. */
	kt_fill(b.p, 100, kt_seed ^ 0x9e1, 0);
	ASSERT_EQ(100, pwrite(self->fd, b.p, 100, 0));
	ASSERT_EQ(100, pread(self->fd, b.p, 100, 0));
	ASSERT_EQ((off_t)(base + 3 * 4096), lseek(self->fd, 0, SEEK_CUR));

	/* SEEK_CUR backwards, then sequential reads of odd sizes. */
	ASSERT_EQ((off_t)base, lseek(self->fd, -3 * 4096, SEEK_CUR));
	{
		size_t got = 0, chunk[] = { 1, 4095, 3000, 1096, 4096 };

		memset(b.p, 0, 3 * 4096);
		for (k = 0; k < ARRAY_SIZE(chunk); k++) {
			ASSERT_EQ((ssize_t)chunk[k], read(self->fd, b.p + got, chunk[k]));
			got += chunk[k];
		}
		ASSERT_EQ(3 * 4096, got);
		EXPECT_EQ(-1, kt_check(b.p, got, kt_seed ^ 0x9e0, base));
	}

	/* SEEK_END is the medium size; negative positions are invalid. */
	EXPECT_EQ((off_t)size, lseek(self->fd, 0, SEEK_END));
	EXPECT_EQ((off_t)size - 10, lseek(self->fd, -10, SEEK_END));
	errno = 0;
	EXPECT_EQ(-1, lseek(self->fd, -1, SEEK_SET));
	EXPECT_EQ(EINVAL, errno);
	pos = lseek(self->fd, 5, SEEK_SET);
	EXPECT_EQ(5, pos);
	errno = 0;
	EXPECT_EQ(-1, lseek(self->fd, -6, SEEK_CUR));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(5, lseek(self->fd, 0, SEEK_CUR));
	/* Beyond the end: refused, or allowed and then EOF / ENOSPC. */
	pos = lseek(self->fd, size + 4096, SEEK_SET);
	if (pos < 0) {
		EXPECT_EQ(EINVAL, errno);
	} else {
		EXPECT_EQ((off_t)size + 4096, pos);
		EXPECT_EQ(0, read(self->fd, b.p, 10));
		errno = 0;
		EXPECT_EQ(-1, write(self->fd, b.p, 10));
		EXPECT_EQ(ENOSPC, errno);
	}
	/* Negative pread/pwrite offsets. */
	errno = 0;
	EXPECT_EQ(-1, pread(self->fd, b.p, 10, -1));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(-1, pwrite(self->fd, b.p, 10, -4096));
	EXPECT_EQ(EINVAL, errno);
	kt_buf_free(&b);
}

TEST_F(data, kept_across_close_open)
{
	uint64_t off = self->info.unit_size / 3 + 1;
	int fd2;

	ASSERT_EQ(300000, kt_pwrite_pat(self->fd, 300000, off, kt_seed ^ 0xc10));
	ASSERT_EQ(0, close(self->fd));
	self->fd = -1;
	fd2 = kt_open_unit(0);
	ASSERT_LE(0, fd2);
	EXPECT_EQ(0, kt_pread_check(fd2, 300000, off, kt_seed ^ 0xc10));
	/* A second open file of the same unit sees it too. */
	self->fd = kt_open_unit(0);
	ASSERT_LE(0, self->fd);
	EXPECT_EQ(0, kt_pread_check(self->fd, 300000, off, kt_seed ^ 0xc10));
	close(fd2);
}

TEST_F(data, units_are_independent)
{
	unsigned int u, n = self->info.units;
	uint64_t off = 65536 + 3;
	int fds[KESYNC_MAX_UNITS];

	if (n < 2)
		SKIP(return, "one unit");
	for (u = 0; u < n; u++) {
		fds[u] = kt_open_unit(u);
		ASSERT_LE(0, fds[u]);
		ASSERT_EQ(200000, kt_pwrite_pat(fds[u], 200000, off, kt_seed ^ (0x1d0 + u)));
	}
	for (u = 0; u < n; u++) {
		EXPECT_EQ(0, kt_pread_check(fds[u], 200000, off, kt_seed ^ (0x1d0 + u)))
			TH_LOG("unit %u", u);
		close(fds[u]);
	}
}

/*
 * A model check: seeded random reads and writes of random sizes at random
 * offsets (a region of the medium), each read compared with a shadow copy
 * of what was written.  Interleaves reads and writes the way real clients
 * (fio's randrw) do.
 */
TEST_F_TIMEOUT(data, random_ops_match_a_model, 120)
{
	const size_t region = 8 * KT_MIB, maxlen = 128 * 1024;
	const uint64_t base = KT_MIB;
	struct kt_rng rng = { kt_seed ^ 0x30de1 };
	struct kt_buf b;
	uint8_t *shadow;
	unsigned int i, reads = 0, writes = 0;

	if (base + region > self->info.unit_size)
		SKIP(return, "medium too small");
	shadow = malloc(region);
	ASSERT_NE(NULL, shadow);
	ASSERT_EQ(0, kt_buf_alloc(&b, maxlen + 4096, 0));
	kt_fill(shadow, region, kt_seed ^ 0x30de2, base);
	ASSERT_EQ((ssize_t)region, pwrite(self->fd, shadow, region, base));
	for (i = 0; i < 1500; i++) {
		int aligned = kt_range(&rng, 0, 1);
		size_t len = kt_range(&rng, 1, maxlen);
		uint64_t off;
		uint8_t *p = b.p + (aligned ? 0 : kt_range(&rng, 0, 4095));
		ssize_t n;

		if (aligned)
			len = (len + 511) & ~511ul;
		off = kt_range(&rng, 0, region - len);
		if (aligned)
			off &= ~511ull;
		if (kt_range(&rng, 0, 1)) {
			kt_fill(p, len, kt_rand(&rng), off);
			n = pwrite(self->fd, p, len, base + off);
			ASSERT_EQ((ssize_t)len, n) TH_LOG("op %u: pwrite: %s", i, strerror(errno));
			memcpy(shadow + off, p, len);
			writes++;
		} else {
			memset(p, 0xee, len);
			n = pread(self->fd, p, len, base + off);
			ASSERT_EQ((ssize_t)len, n) TH_LOG("op %u: pread: %s", i, strerror(errno));
			if (memcmp(p, shadow + off, len)) {
				size_t k = 0;

				while (p[k] == shadow[off + k])
					k++;
				ASSERT_TRUE(0) TH_LOG("op %u: read %zu at %llu: byte %zu differs",
						      i, len, (unsigned long long)(base + off), k);
			}
			reads++;
		}
	}
	TH_LOG("%u reads and %u writes matched the model", reads, writes);
	free(shadow);
	kt_buf_free(&b);
}

/*
 * The whole medium (capped at 64 MiB) with one write(2) and one read(2)
 * loop: a request may be cut short (a char device may return a short
 * count), but every call makes progress and the data is all there.
 */
TEST_F_TIMEOUT(data, whole_medium, 120)
{
	uint64_t len = self->info.unit_size, done;
	uint64_t seed = kt_seed ^ 0x3401e;
	struct kesync_stats a, b;
	struct kt_buf w, r;
	unsigned int calls = 0;

	if (len > 64 * KT_MIB)
		len = 64 * KT_MIB;
	ASSERT_EQ(0, kt_buf_alloc(&w, len, 1));
	ASSERT_EQ(0, kt_buf_alloc(&r, len, 4093));
	kt_fill(w.p, len, seed, 0);
	ASSERT_EQ(0, kt_stats(self->fd, &a));
	ASSERT_EQ(0, lseek(self->fd, 0, SEEK_SET));
	for (done = 0; done < len; calls++) {
		ssize_t n = write(self->fd, w.p + done, len - done);

		ASSERT_LT(0, n) TH_LOG("write at %llu: %s", (unsigned long long)done,
				       n < 0 ? strerror(errno) : "no progress");
		done += n;
	}
	ASSERT_EQ(0, lseek(self->fd, 0, SEEK_SET));
	for (done = 0; done < len; calls++) {
		ssize_t n = read(self->fd, r.p + done, len - done);

		ASSERT_LT(0, n) TH_LOG("read at %llu: %s", (unsigned long long)done,
				       n < 0 ? strerror(errno) : "EOF");
		done += n;
	}
	ASSERT_EQ(0, kt_stats(self->fd, &b));
	EXPECT_EQ(0, read(self->fd, r.p, 1));	/* EOF */
	EXPECT_EQ(-1, kt_check(r.p, len, seed, 0));
	EXPECT_TRUE(kt_buf_slack_ok(&r));
	EXPECT_EQ(calls, KT_D(b, a, requests));
	EXPECT_EQ(2 * (long long)len, KT_D(b, a, bytes));
	TH_LOG("%llu bytes each way in %u calls", (unsigned long long)len, calls);
	kt_buf_free(&w);
	kt_buf_free(&r);
}

/* The medium lives in the device: it survives rmmod/insmod. */
FIXTURE(reload) {
	int unused;
};

FIXTURE_SETUP(reload)
{
}

FIXTURE_TEARDOWN(reload)
{
	if (!kt_module_loaded())
		kt_insmod(kt_env_uint("KESYNC_UNITS", 1));
}

TEST_F(reload, kept_across_rmmod_insmod)
{
	unsigned int u, units = kt_units();
	uint64_t off = 3 * KT_MIB / 2 + 11;
	int fd;

	ASSERT_LT(0, units);
	for (u = 0; u < units; u++) {
		fd = kt_open_unit(u);
		ASSERT_LE(0, fd);
		ASSERT_EQ(777777, kt_pwrite_pat(fd, 777777, off, kt_seed ^ (0x4e10 + u)));
		close(fd);
	}
	ASSERT_EQ(0, kt_rmmod()) TH_LOG("rmmod: %s", strerror(errno));
	EXPECT_EQ(0, kt_wait_nodes(units, 0, 10));
	ASSERT_EQ(0, kt_insmod(units)) TH_LOG("insmod: %s", strerror(errno));
	for (u = 0; u < units; u++) {
		fd = kt_open_unit(u);
		ASSERT_LE(0, fd);
		EXPECT_EQ(0, kt_pread_check(fd, 777777, off, kt_seed ^ (0x4e10 + u)))
			TH_LOG("unit %u lost its data across rmmod/insmod", u);
		close(fd);
	}
}

KT_FINAL_HEALTH_TEST(0)

TEST_HARNESS_MAIN

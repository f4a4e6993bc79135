// SPDX-License-Identifier: GPL-2.0
/*
 * kesync_perf: the driver's trace events (module/kesync_trace.h) through
 * perf, as 'perf stat -e kesync:*' and 'perf record' use them
 * (perf_event_open, PERF_TYPE_TRACEPOINT, every CPU).  kesync_trace reads
 * the same events through tracefs.
 *
 *   counts		1 MiB and 4 KiB writes and reads of unit 0: one
 *			queued, started and completed event per request, one
 *			programmed per transfer window and one partial per
 *			window after a request's first, and at least one
 *			interrupt and one DpcForIsr per window
 *   sample_fields	a sample of kesync_completed (PERF_SAMPLE_RAW) holds
 *			the request's unit, position, length and result at
 *			the offsets the event's format file gives
 *   timeout_reset	a hung transfer (1 s timeout): one kesync_timeout,
 *			at least one kesync_reset
 *   with_ftrace	perf and tracefs attached to the same events at once
 *			(two probes on each tracepoint): each sees every
 *			event of a 1 MiB write and read back
 *
 * Unit 0 is this program's alone while it runs (the runner runs one
 * program at a time).  Every wait is bounded.
 */
#define _GNU_SOURCE
#include <linux/perf_event.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "kesync_test.h"

#define PF_TRACING	"/sys/kernel/tracing"
#define PF_TRACEFS	PF_TRACING "/events/kesync"
#define PF_MAXCPU	64
#define PF_RING		8		/* data pages of a sampling ring */

/* One event opened on every CPU. */
struct pf_event {
	const char *name;
	int fd[PF_MAXCPU];
	void *ring[PF_MAXCPU];
	int ncpu;
};

static int pf_ncpu(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > PF_MAXCPU ? PF_MAXCPU : (int)n;
}

/* The tracepoint id of kesync:@name, or -1. */
static long long pf_id(const char *name)
{
	char path[160];
	long long id = -1;
	FILE *f;

	snprintf(path, sizeof(path), PF_TRACEFS "/%s/id", name);
	f = fopen(path, "re");
	if (!f)
		return -1;
	if (fscanf(f, "%lld", &id) != 1)
		id = -1;
	fclose(f);
	return id;
}

/*
 * Open kesync:@name on every online CPU, disabled: counting, or sampling
 * every event with its raw record (@sample).  0, or -1 with errno.
 */
static int pf_open(struct pf_event *e, const char *name, int sample)
{
	struct perf_event_attr a;
	long long id = pf_id(name);
	long psz = sysconf(_SC_PAGESIZE);
	int c;

	memset(e, 0, sizeof(*e));
	e->name = name;
	e->ncpu = pf_ncpu();
	for (c = 0; c < PF_MAXCPU; c++)
		e->fd[c] = -1;
	if (id < 0) {
		errno = ENOENT;
		return -1;
	}
	memset(&a, 0, sizeof(a));
	a.type = PERF_TYPE_TRACEPOINT;
	a.size = sizeof(a);
	a.config = id;
	a.disabled = 1;
	if (sample) {
		a.sample_period = 1;
		a.sample_type = PERF_SAMPLE_RAW;
		a.wakeup_events = 1;
	}
	for (c = 0; c < e->ncpu; c++) {
		e->fd[c] = syscall(SYS_perf_event_open, &a, -1, c, -1,
				   PERF_FLAG_FD_CLOEXEC);
		if (e->fd[c] < 0)
			return -1;
		if (!sample)
			continue;
		e->ring[c] = mmap(NULL, (1 + PF_RING) * psz,
				  PROT_READ | PROT_WRITE, MAP_SHARED,
				  e->fd[c], 0);
		if (e->ring[c] == MAP_FAILED) {
			e->ring[c] = NULL;
			return -1;
		}
	}
	return 0;
}

static void pf_close(struct pf_event *e)
{
	long psz = sysconf(_SC_PAGESIZE);
	int c;

	for (c = 0; c < PF_MAXCPU; c++) {
		if (e->ring[c])
			munmap(e->ring[c], (1 + PF_RING) * psz);
		if (e->fd[c] >= 0)
			close(e->fd[c]);
		e->ring[c] = NULL;
		e->fd[c] = -1;
	}
}

static int pf_enable(struct pf_event *e, int on)
{
	int c;

	for (c = 0; c < e->ncpu; c++)
		if (ioctl(e->fd[c], on ? PERF_EVENT_IOC_ENABLE :
			  PERF_EVENT_IOC_DISABLE, 0))
			return -1;
	return 0;
}

/* The event's count over every CPU, or -1. */
static long long pf_count(struct pf_event *e)
{
	long long sum = 0;
	uint64_t v;
	int c;

	for (c = 0; c < e->ncpu; c++) {
		if (read(e->fd[c], &v, sizeof(v)) != sizeof(v))
			return -1;
		sum += v;
	}
	return sum;
}

/*
 * The offset and size of field @field in the event's format file
 * ("field:ssize_t result;\toffset:40;\tsize:8;\tsigned:1;"): 0, or -1.
 */
static int pf_field(const char *event, const char *field, int *off, int *size)
{
	char path[160], line[256], want[64];
	int ret = -1;
	FILE *f;

	snprintf(path, sizeof(path), PF_TRACEFS "/%s/format", event);
	snprintf(want, sizeof(want), " %s;", field);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *p = strstr(line, want), *o, *s;

		if (!p || !strstr(line, "field:"))
			continue;
		o = strstr(p, "offset:");
		s = strstr(p, "size:");
		if (o && s && sscanf(o, "offset:%d", off) == 1 &&
		    sscanf(s, "size:%d", size) == 1) {
			ret = 0;
			break;
		}
	}
	fclose(f);
	return ret;
}

/* A little-endian signed field of @size bytes at @off of @raw. */
static long long pf_get(const unsigned char *raw, int off, int size)
{
	int64_t v64;
	int32_t v32;

	if (size == 8) {
		memcpy(&v64, raw + off, 8);
		return v64;
	}
	memcpy(&v32, raw + off, 4);
	return v32;
}

/*
 * The raw record of the first sample in any CPU's ring, copied to @raw
 * (at most @max bytes): its size, 0 if there is none.
 */
static size_t pf_first_sample(struct pf_event *e, unsigned char *raw, size_t max)
{
	long psz = sysconf(_SC_PAGESIZE);
	int c;

	for (c = 0; c < e->ncpu; c++) {
		struct perf_event_mmap_page *m = e->ring[c];
		unsigned char *data = (unsigned char *)m + psz;
		uint64_t tail = m->data_tail, head;
		size_t dsz = PF_RING * psz;

		head = __atomic_load_n(&m->data_head, __ATOMIC_ACQUIRE);
		while (tail + sizeof(struct perf_event_header) <= head) {
			struct perf_event_header h;
			unsigned char rec[4096];
			size_t i;
			uint32_t n;

			for (i = 0; i < sizeof(h); i++)
				((unsigned char *)&h)[i] = data[(tail + i) % dsz];
			if (h.size < sizeof(h) || h.size > sizeof(rec))
				break;
			for (i = 0; i < h.size; i++)
				rec[i] = data[(tail + i) % dsz];
			tail += h.size;
			if (h.type != PERF_RECORD_SAMPLE)
				continue;
			/* PERF_SAMPLE_RAW: u32 size, then the entry */
			memcpy(&n, rec + sizeof(h), sizeof(n));
			if (n > max || sizeof(h) + sizeof(n) + n > h.size)
				return 0;
			memcpy(raw, rec + sizeof(h) + sizeof(n), n);
			return n;
		}
	}
	return 0;
}

FIXTURE(pf) {
	int fd;
	struct kesync_info info;
	int saved_timeout;
};

FIXTURE_SETUP(pf)
{
	if (access(PF_TRACEFS, F_OK))
		SKIP(return, "no kesync trace events (tracefs or CONFIG_EVENT_TRACING missing)");
	self->fd = kt_open_unit(0);
	ASSERT_LE(0, self->fd) TH_LOG("open unit 0: %s", strerror(errno));
	ASSERT_EQ(0, kt_info(self->fd, &self->info));
	self->saved_timeout = kt_get_timeout(self->fd);
}

FIXTURE_TEARDOWN(pf)
{
	if (self->fd < 0)
		return;
	kt_fault(self->fd, KESYNC_FAULT_NONE, 0, 0);
	kt_write_file(PF_TRACEFS "/enable", "0");
	if (self->saved_timeout > 0)
		kt_set_timeout(self->fd, self->saved_timeout);
	close(self->fd);
}

enum { E_QUEUED, E_STARTED, E_COMPLETED, E_PROGRAMMED, E_PARTIAL, E_IRQ,
	E_DPC, E_N };

static const char *const pf_names[E_N] = {
	"kesync_queued", "kesync_started", "kesync_completed",
	"kesync_programmed", "kesync_partial", "kesync_irq", "kesync_dpc",
};

TEST_F_TIMEOUT(pf, counts, 120)
{
	const size_t big = KT_MIB, small = KT_PAGE;
	struct pf_event ev[E_N];
	long long n[E_N];
	unsigned int i, reqs = 0, windows = 0, per_big;
	int e;

	ASSERT_LT(0, self->info.max_xfer);
	per_big = (big + self->info.max_xfer - 1) / self->info.max_xfer;
	for (e = 0; e < E_N; e++) {
		ASSERT_EQ(0, pf_open(&ev[e], pf_names[e], 0))
			TH_LOG("perf_event_open kesync:%s: %s", pf_names[e],
			       strerror(errno));
	}
	for (e = 0; e < E_N; e++)
		ASSERT_EQ(0, pf_enable(&ev[e], 1));
	for (i = 0; i < 4; i++) {
		uint64_t off = i * big;

		ASSERT_EQ((ssize_t)big, kt_pwrite_pat(self->fd, big, off,
						      kt_seed ^ i));
		ASSERT_EQ(0, kt_pread_check(self->fd, big, off, kt_seed ^ i));
		ASSERT_EQ((ssize_t)small, kt_pwrite_pat(self->fd, small,
							off + big / 2,
							kt_seed ^ ~i));
		ASSERT_EQ(0, kt_pread_check(self->fd, small, off + big / 2,
					    kt_seed ^ ~i));
		reqs += 4;
		windows += 2 * per_big + 2;
	}
	for (e = 0; e < E_N; e++)
		ASSERT_EQ(0, pf_enable(&ev[e], 0));
	for (e = 0; e < E_N; e++) {
		n[e] = pf_count(&ev[e]);
		TH_LOG("kesync:%s %lld", pf_names[e], n[e]);
		pf_close(&ev[e]);
	}
	EXPECT_EQ(reqs, n[E_QUEUED]);
	EXPECT_EQ(reqs, n[E_STARTED]);
	EXPECT_EQ(reqs, n[E_COMPLETED]);
	/* Each window is programmed once (no fault: no retry). */
	EXPECT_EQ(windows, n[E_PROGRAMMED]);
	EXPECT_EQ(windows - reqs, n[E_PARTIAL]);
	EXPECT_LE(windows, n[E_IRQ]);
	EXPECT_LE(windows, n[E_DPC]);
}

TEST_F_TIMEOUT(pf, sample_fields, 60)
{
	const uint64_t pos = 3 * KT_MIB + 5 * KT_PAGE;
	int o_unit, s_unit, o_pos, s_pos, o_len, s_len, o_res, s_res;
	unsigned char raw[512];
	struct pf_event ev;
	size_t n;

	ASSERT_EQ(0, pf_field("kesync_completed", "unit", &o_unit, &s_unit));
	ASSERT_EQ(0, pf_field("kesync_completed", "pos", &o_pos, &s_pos));
	ASSERT_EQ(0, pf_field("kesync_completed", "len", &o_len, &s_len));
	ASSERT_EQ(0, pf_field("kesync_completed", "result", &o_res, &s_res));
	ASSERT_EQ(0, pf_open(&ev, "kesync_completed", 1))
		TH_LOG("perf_event_open kesync:kesync_completed: %s",
		       strerror(errno));
	ASSERT_EQ(0, pf_enable(&ev, 1));
	EXPECT_EQ((ssize_t)KT_PAGE, kt_pwrite_pat(self->fd, KT_PAGE, pos,
						  kt_seed ^ 0x9e5));
	ASSERT_EQ(0, pf_enable(&ev, 0));
	n = pf_first_sample(&ev, raw, sizeof(raw));
	ASSERT_LT(0, n) TH_LOG("no sample of kesync_completed in any ring");
	ASSERT_GE(n, (size_t)(o_res + s_res));
	EXPECT_EQ(self->info.minor, pf_get(raw, o_unit, s_unit))
		TH_LOG("unit field: kesync%lld", pf_get(raw, o_unit, s_unit));
	EXPECT_EQ((long long)pos, pf_get(raw, o_pos, s_pos));
	EXPECT_EQ((long long)KT_PAGE, pf_get(raw, o_len, s_len));
	EXPECT_EQ((long long)KT_PAGE, pf_get(raw, o_res, s_res));
	pf_close(&ev);
	EXPECT_EQ(0, kt_pread_check(self->fd, KT_PAGE, pos, kt_seed ^ 0x9e5));
}

TEST_F_TIMEOUT(pf, timeout_reset, 60)
{
	struct pf_event tmo, rst;
	struct kesync_hw_stats h;
	struct kt_buf buf;
	ssize_t n;

	ASSERT_EQ(0, pf_open(&tmo, "kesync_timeout", 0));
	ASSERT_EQ(0, pf_open(&rst, "kesync_reset", 0));
	ASSERT_EQ(0, kt_set_timeout(self->fd, 1));
	ASSERT_EQ(0, kt_hw(self->fd, &h));
	ASSERT_EQ(0, kt_buf_alloc(&buf, KT_PAGE, 0));
	ASSERT_EQ(0, pf_enable(&tmo, 1));
	ASSERT_EQ(0, pf_enable(&rst, 1));
	ASSERT_EQ(0, kt_fault(self->fd, KESYNC_FAULT_HANG, 1, 0));
	n = pread(self->fd, buf.p, KT_PAGE, 0);
	EXPECT_EQ(-1, n);
	EXPECT_EQ(ETIMEDOUT, errno) TH_LOG("got %s", strerror(errno));
	/* The reset ends after the request: wait for it, bounded. */
	EXPECT_EQ(0, kt_wait_resets(self->fd, h.resets, 1, 10));
	ASSERT_EQ(0, pf_enable(&tmo, 0));
	ASSERT_EQ(0, pf_enable(&rst, 0));
	EXPECT_EQ(1, pf_count(&tmo));
	EXPECT_LE(1, pf_count(&rst));
	pf_close(&tmo);
	pf_close(&rst);
	kt_buf_free(&buf);
	/* The unit works again. */
	EXPECT_EQ((ssize_t)KT_PAGE, kt_pwrite_pat(self->fd, KT_PAGE, 0,
						  kt_seed ^ 0x7e5));
	EXPECT_EQ(0, kt_pread_check(self->fd, KT_PAGE, 0, kt_seed ^ 0x7e5));
}

/* How many lines of the trace buffer record kesync:@name; -1 on error. */
static long long ftrace_count(const char *name)
{
	char line[1024], tag[64];
	long long n = 0;
	FILE *f;

	snprintf(tag, sizeof(tag), " %s: ", name);
	f = fopen(PF_TRACING "/trace", "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, tag))
			n++;
	fclose(f);
	return n;
}

/* Empty the trace buffer (an open with O_TRUNC does). */
static int ftrace_clear(void)
{
	int fd = open(PF_TRACING "/trace", O_WRONLY | O_TRUNC | O_CLOEXEC);

	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

/* Every kesync event into the trace buffer (emptied first), or none. */
static int ftrace_switch(int on)
{
	if (on && ftrace_clear())
		return -1;
	if (kt_write_file(PF_TRACEFS "/enable", on ? "1" : "0"))
		return -1;
	return kt_write_file(PF_TRACING "/tracing_on", "1");
}

TEST_F_TIMEOUT(pf, with_ftrace, 60)
{
	struct pf_event ev[E_N];
	long long n;
	int e;

	for (e = 0; e < E_N; e++)
		ASSERT_EQ(0, pf_open(&ev[e], pf_names[e], 0));
	ASSERT_EQ(0, ftrace_switch(1)) TH_LOG("tracefs: %s", strerror(errno));
	for (e = 0; e < E_N; e++)
		ASSERT_EQ(0, pf_enable(&ev[e], 1));
	ASSERT_EQ((ssize_t)KT_MIB, kt_pwrite_pat(self->fd, KT_MIB, 0,
						 kt_seed ^ 0xf7));
	ASSERT_EQ(0, kt_pread_check(self->fd, KT_MIB, 0, kt_seed ^ 0xf7));
	for (e = 0; e < E_N; e++)
		ASSERT_EQ(0, pf_enable(&ev[e], 0));
	ASSERT_EQ(0, ftrace_switch(0));
	for (e = 0; e < E_N; e++) {
		n = pf_count(&ev[e]);
		TH_LOG("kesync:%s perf %lld ftrace %lld", pf_names[e], n,
		       ftrace_count(pf_names[e]));
		EXPECT_LT(0, n);
		EXPECT_EQ(n, ftrace_count(pf_names[e]));
		pf_close(&ev[e]);
	}
	EXPECT_EQ(0, ftrace_clear());
}

TEST_HARNESS_MAIN

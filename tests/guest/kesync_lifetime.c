// SPDX-License-Identifier: GPL-2.0
/*
 * kesync_lifetime: the driver's life cycle under load.
 * - rmmod while a file is open is refused (the file holds the module);
 * - sysfs unbind while every unit runs I/O: the I/O ends with -ENODEV, the
 *   open files still close cleanly, bind brings the units (and the data on
 *   their media, which live in the device) back;
 * - unbind while a transfer hangs: it ends at once, not at its timeout;
 * - insmod/rmmod many times with I/O in between: the objects kesync's code
 *   allocated and left behind do not grow with the number of cycles
 *   (slub_debug=U boots), and kmemleak, when the kernel has it, finds
 *   nothing of kesync's.
 */
#define _GNU_SOURCE
#include "kesync_test.h"	/* and kselftest_harness.h */

#define LEN 65536

/* ---- slab accounting ----------------------------------------------------- */

#define SLAB_DEBUGFS "/sys/kernel/debug/slab"

/*
 * With slub_debug=U the allocator records the stack of every object it
 * hands out, and debugfs lists the objects still allocated by stack
 * (<cache>/alloc_traces).  %pS prints a return address that no loaded
 * module owns any more as bare hex: counted while kesync is unloaded,
 * the objects whose stack has such a frame are what kesync's code (or
 * the kernel on its behalf) allocated and nobody freed.  Exact, unlike
 * /proc/slabinfo, which counts the objects cached per CPU (CPU slabs,
 * from 7.0 sheaves) as in use and moves by whole slabs without a leak.
 */
struct orphans {
	long n;
	long most;		/* objects of the biggest record */
	char worst[640];	/* that record's cache and first line */
};

static int raw_frame(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return !strncmp(s, "0x", 2);
}

static void orphans_in(const char *path, struct orphans *o)
{
	char line[256], site[256];
	long count = 0;
	int raw = 0;
	FILE *f = fopen(path, "r");

	if (!f)
		return;
	for (;;) {
		char *got = fgets(line, sizeof(line), f);

		/* A record: "<count> <site> ... pid=...", its stack, a blank line. */
		if (!got || strstr(line, " pid=")) {
			if (raw) {
				if (count > o->most) {
					o->most = count;
					snprintf(o->worst, sizeof(o->worst), "%s: %s",
						 path, site);
				}
				o->n += count;
			}
			if (!got)
				break;
			count = strtol(line, NULL, 10);
			snprintf(site, sizeof(site), "%s", line);
			site[strcspn(site, "\n")] = 0;
			/* The site itself: the first word after the count. */
			got += strspn(got, " ");
			got += strspn(got, "0123456789");
			raw = raw_frame(got);
			continue;
		}
		if (raw_frame(line))
			raw = 1;
	}
	fclose(f);
}

/* 0 and the count in @o, or -1 without allocation tracking. */
static int count_orphans(struct orphans *o)
{
	DIR *d = opendir(SLAB_DEBUGFS);
	struct dirent *e;
	int caches = 0;

	o->n = 0;
	o->most = 0;
	o->worst[0] = 0;
	if (!d)
		return -1;
	while ((e = readdir(d))) {
		char path[300];

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), SLAB_DEBUGFS "/%s/alloc_traces", e->d_name);
		if (access(path, R_OK))
			continue;
		caches++;
		orphans_in(path, o);
	}
	closedir(d);
	return caches ? 0 : -1;
}

/* ---- helpers ------------------------------------------------------------- */

static int io_cycle(unsigned int units, uint64_t seed)
{
	unsigned int u;

	for (u = 0; u < units; u++) {
		int fd = kt_open_unit(u);

		if (fd < 0)
			return -1;
		if (kt_pwrite_pat(fd, LEN, 8192, seed + u) != LEN ||
		    kt_pread_check(fd, LEN, 8192, seed + u)) {
			close(fd);
			return -1;
		}
		close(fd);
	}
	return 0;
}

static int proc_interrupts_mention(const char *what)
{
	FILE *f = fopen("/proc/interrupts", "r");
	char line[1024];
	int found = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, what))
			found = 1;
	fclose(f);
	return found;
}

static int bind_driver(const char *bdf, int bind)
{
	return kt_write_file(bind ? KT_DRIVER_DIR "/bind" : KT_DRIVER_DIR "/unbind", bdf);
}

/* ---- tests --------------------------------------------------------------- */

TEST(rmmod_refused_while_open)
{
	struct kesync_info info;
	int fd = kt_open_unit(0);

	ASSERT_LE(0, fd);
	errno = 0;
	EXPECT_EQ(-1, kt_rmmod());
	/*
	 * delete_module(2) says EWOULDBLOCK (EAGAIN) for "in use"; EBUSY
	 * is what rmmod callers traditionally expect: either will do.
	 */
	EXPECT_TRUE(errno == EBUSY || errno == EAGAIN) TH_LOG("%s", strerror(errno));
	EXPECT_TRUE(kt_module_loaded());
	EXPECT_EQ(0, kt_info(fd, &info));
	EXPECT_EQ(LEN, kt_pwrite_pat(fd, LEN, 0, kt_seed ^ 0x11fe));
	EXPECT_EQ(0, kt_pread_check(fd, LEN, 0, kt_seed ^ 0x11fe));
	EXPECT_EQ(0, close(fd));
}

FIXTURE(life) {
	unsigned int units;
	struct kt_ioworker *w;
	pid_t pids[KESYNC_MAX_UNITS];
	char bdf[64];
	int unbound;
};

FIXTURE_SETUP(life)
{
	self->units = kt_units();
	ASSERT_LT(0, self->units);
	ASSERT_EQ(0, kt_bdf(self->bdf, sizeof(self->bdf)));
	self->w = mmap(NULL, KESYNC_MAX_UNITS * sizeof(*self->w),
		       PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->w);
	memset(self->w, 0, KESYNC_MAX_UNITS * sizeof(*self->w));
}

FIXTURE_TEARDOWN(life)
{
	unsigned int u;

	for (u = 0; u < self->units; u++)
		kt_kill_reap(self->pids[u]);
	/* Whatever happened, leave the driver bound. */
	if (self->unbound) {
		bind_driver(self->bdf, 1);
		kt_wait_nodes(self->units, 1, 10);
	}
}

/* Units' stable regions (written before, never touched during the test). */
#define STABLE_OFF	(4 * KT_MIB)
#define STABLE_SEED(u)	(kt_seed ^ (0x57ab1e + (u)))

/* Every unit's stable region written... */
/* checkpatch-ok: SPACING: FIXTURE_DATA() names a type: '*' declares a pointer */
static void stable_write(struct __test_metadata *_metadata, FIXTURE_DATA(life) *self)
{
	unsigned int u;

	for (u = 0; u < self->units; u++) {
		int f = kt_open_unit(u);

		ASSERT_LE(0, f);
		ASSERT_EQ(LEN, kt_pwrite_pat(f, LEN, STABLE_OFF, STABLE_SEED(u)));
		close(f);
	}
}

/* ...and read back after @what. */
/* checkpatch-ok: SPACING: FIXTURE_DATA() names a type: '*' declares a pointer */
static void stable_check(struct __test_metadata *_metadata, FIXTURE_DATA(life) *self,
			 const char *what)
{
	unsigned int u;

	for (u = 0; u < self->units; u++) {
		int f = kt_open_unit(u);

		ASSERT_LE(0, f);
		EXPECT_EQ(0, kt_pread_check(f, LEN, STABLE_OFF, STABLE_SEED(u)))
			TH_LOG("unit %u after the %s: %s", u, what, strerror(errno));
		close(f);
	}
}

TEST_F_TIMEOUT(life, unbind_bind_during_io, 90)
{
	struct pollfd pfd;
	struct kesync_info info;
	unsigned int u;
	double t0, dt, end;
	int keep;

	for (u = 0; u < self->units; u++) {
		int fd = kt_open_unit(u);

		ASSERT_LE(0, fd);
		ASSERT_EQ(LEN, kt_pwrite_pat(fd, LEN, STABLE_OFF, STABLE_SEED(u)));
		close(fd);
	}
	for (u = 0; u < self->units; u++) {
		fflush(NULL);
		self->pids[u] = fork();
		ASSERT_LE(0, self->pids[u]);
		if (self->pids[u] == 0)
			kt_io_worker(&self->w[u], u, 0, kt_seed ^ (0x10 * u));
	}
	/* Every worker is going. */
	end = kt_now() + 20;
	for (u = 0; u < self->units; u++)
		while (__atomic_load_n(&self->w[u].ops, __ATOMIC_SEQ_CST) < 3 &&
		       !self->w[u].done && kt_now() < end)
			kt_msleep(5);
	for (u = 0; u < self->units; u++)
		ASSERT_LE(3, self->w[u].ops) TH_LOG("worker %u never got going: %s",
						    u, strerror(self->w[u].first_err));

	/* A file kept open across the unbind: poll says what it can do. */
	keep = kt_open_unit(0);
	ASSERT_LE(0, keep);
	pfd.fd = keep;
	pfd.events = POLLIN | POLLOUT;
	EXPECT_EQ(1, poll(&pfd, 1, 0));
	EXPECT_EQ(POLLIN | POLLOUT, pfd.revents & (POLLIN | POLLOUT | POLLERR | POLLHUP));

	t0 = kt_now();
	ASSERT_EQ(0, bind_driver(self->bdf, 0)) TH_LOG("unbind: %s", strerror(errno));
	self->unbound = 1;
	dt = kt_now() - t0;
	TH_LOG("unbind took %.3f s", dt);
	pfd.revents = 0;
	EXPECT_EQ(1, poll(&pfd, 1, 0));
	EXPECT_TRUE(pfd.revents & (POLLERR | POLLHUP)) TH_LOG("revents %#x", pfd.revents);
	errno = 0;
	EXPECT_EQ(-1, ioctl(keep, KESYNC_IOC_INFO, &info));
	EXPECT_EQ(ENODEV, errno);
	EXPECT_EQ(0, close(keep));
	{
		char node[64];

		snprintf(node, sizeof(node), KT_DEV_FMT, 0);
		errno = 0;
		EXPECT_EQ(-1, open(node, O_RDWR));
		EXPECT_EQ(ENOENT, errno);
	}
	EXPECT_GT(10, dt);
	EXPECT_EQ(0, kt_wait_nodes(self->units, 0, 5));
	for (u = 0; u < self->units; u++) {
		int st;

		ASSERT_EQ(0, kt_waitpid(self->pids[u], 10, &st))
			TH_LOG("worker %u did not see the unit go", u);
		self->pids[u] = 0;
		EXPECT_EQ(ENODEV, self->w[u].first_err)
			TH_LOG("unit %u: I/O ended with %d (%s)", u, self->w[u].first_err,
			       strerror(self->w[u].first_err));
		EXPECT_EQ(ENODEV, self->w[u].later_err);
		EXPECT_EQ(0, self->w[u].close_ret);
		EXPECT_EQ(0, self->w[u].data_bad);
		TH_LOG("unit %u: %lld round trips before the unbind", u, self->w[u].ops);
	}
	/* Nothing of the driver is left on the device. */
	EXPECT_EQ(0, proc_interrupts_mention("kesync"));

	ASSERT_EQ(0, bind_driver(self->bdf, 1)) TH_LOG("bind: %s", strerror(errno));
	self->unbound = 0;
	ASSERT_EQ(0, kt_wait_nodes(self->units, 1, 10));
	for (u = 0; u < self->units; u++) {
		int fd = kt_open_unit(u);

		ASSERT_LE(0, fd);
		EXPECT_EQ(0, kt_pread_check(fd, LEN, STABLE_OFF, STABLE_SEED(u)))
			TH_LOG("unit %u lost its data across unbind/bind", u);
		close(fd);
	}
}

/* A hung transfer does not hold up the unbind until its timeout. */
TEST_F_TIMEOUT(life, unbind_with_hung_transfer, 60)
{
	struct kesync_stats s0, s1;
	struct kt_op op;
	uint8_t b[4096];
	double t0, dt;
	int fd = kt_open_unit(0);

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, kt_set_timeout(fd, 30));
	ASSERT_EQ(0, kt_fault(fd, KESYNC_FAULT_HANG, 1, 0));
	kt_op_init(&op, 0, LEN, 0, 0);
	ASSERT_EQ(0, kt_op_start(&op));
	ASSERT_EQ(0, kt_op_blocked(&op, 5));
	t0 = kt_now();
	ASSERT_EQ(0, bind_driver(self->bdf, 0)) TH_LOG("unbind: %s", strerror(errno));
	self->unbound = 1;
	dt = kt_now() - t0;
	ASSERT_EQ(1, kt_op_wait(&op, 5)) TH_LOG("the hung request outlived the unbind");
	EXPECT_EQ(-1, op.res.ret);
	EXPECT_EQ(ENODEV, op.res.err) TH_LOG("got %s", strerror(op.res.err));
	EXPECT_GT(5, dt) TH_LOG("unbind waited %.3f s", dt);
	EXPECT_GT(5, op.res.t1 - t0);
	kt_op_reap(&op, 5);
	errno = 0;
	EXPECT_EQ(-1, kt_set_timeout(fd, 3));
	EXPECT_EQ(ENODEV, errno);
	EXPECT_EQ(0, close(fd));
	ASSERT_EQ(0, bind_driver(self->bdf, 1)) TH_LOG("bind: %s", strerror(errno));
	self->unbound = 0;
	ASSERT_EQ(0, kt_wait_nodes(self->units, 1, 10));
	fd = kt_open_unit(0);
	ASSERT_LE(0, fd);
	/*
	 * The unit's SEQ went on counting before the rebind; the new
	 * completion record starts zeroed.  The first transfer after the
	 * probe hangs: the IoTimer's poll must not take the record for a
	 * completion (-EIO, a tag mismatch) but time it out.
	 */
	ASSERT_EQ(0, kt_stats(fd, &s0));
	ASSERT_EQ(0, kt_set_timeout(fd, 1));
	ASSERT_EQ(0, kt_fault(fd, KESYNC_FAULT_HANG, 1, 0));
	errno = 0;
	EXPECT_EQ(-1, pread(fd, b, sizeof(b), 0));
	EXPECT_EQ(ETIMEDOUT, errno) TH_LOG("first transfer after the probe: %s",
					   strerror(errno));
	ASSERT_EQ(0, kt_stats(fd, &s1));
	EXPECT_EQ(1, KT_D(s1, s0, timeouts));
	EXPECT_EQ(0, KT_D(s1, s0, lost_irqs));
	EXPECT_EQ(LEN, kt_pwrite_pat(fd, LEN, 0, kt_seed ^ 0xb1d));
	EXPECT_EQ(0, kt_pread_check(fd, LEN, 0, kt_seed ^ 0xb1d));
	close(fd);
}

/*
 * A reset that never finishes in time: the reset worker tries
 * KESYNC_RESET_ATTEMPTS times (reset_timeout_ms each, 1 s by default), then
 * declares the controller dead.  The hung request fails, every unit fails
 * new I/O with -EIO from then on (nothing is programmed on a controller in
 * an unknown state), and a rebind (probe resets the device) brings it all
 * back, with the data on the media.
 */
TEST_F_TIMEOUT(life, dead_controller_after_stuck_reset, 90)
{
	struct kesync_stats st;
	unsigned int u;
	double dt;
	ssize_t n;
	int fd = kt_open_unit(0);
	uint8_t b[4096];

	ASSERT_LE(0, fd);
	stable_write(_metadata, self);
	ASSERT_EQ(0, kt_set_timeout(fd, 1));
	/* 10 s: longer than the 3 attempts of 1 s. */
	ASSERT_EQ(0, kt_fault_ex(fd, KESYNC_FAULT_HANG, 1, 0,
				 KESYNC_FAULT_F_RESET_DELAY, 10000000));
	dt = kt_now();
	errno = 0;
	n = pread(fd, b, sizeof(b), 0);
	dt = kt_now() - dt;
	EXPECT_EQ(-1, n);
	EXPECT_TRUE(errno == ETIMEDOUT || errno == EIO) TH_LOG("got %s", strerror(errno));
	TH_LOG("the hung request failed after %.2f s (%s)", dt, strerror(errno));
	EXPECT_GT(1 + 1 + 0.5 + 3 * 1 + 2, dt);
	/* Dead: every unit fails at once, without touching the hardware. */
	for (u = 0; u < self->units; u++) {
		int f = kt_open_unit(u);
		double t = kt_now();

		ASSERT_LE(0, f);
		errno = 0;
		EXPECT_EQ(-1, pread(f, b, sizeof(b), 0)) TH_LOG("unit %u", u);
		EXPECT_EQ(EIO, errno) TH_LOG("unit %u: %s", u, strerror(errno));
		EXPECT_GT(0.5, kt_now() - t);
		close(f);
	}
	ASSERT_EQ(0, kt_stats(fd, &st));
	EXPECT_LE(1, st.timeouts);
	close(fd);
	/* Probe again: a working controller, the media intact. */
	ASSERT_EQ(0, bind_driver(self->bdf, 0)) TH_LOG("unbind: %s", strerror(errno));
	self->unbound = 1;
	ASSERT_EQ(0, bind_driver(self->bdf, 1)) TH_LOG("bind: %s", strerror(errno));
	self->unbound = 0;
	ASSERT_EQ(0, kt_wait_nodes(self->units, 1, 10));
	stable_check(_metadata, self, "rebind");
}

/*
 * A controller whose reset does not finish at remove(): remove() waits
 * reset_timeout_ms (1 s) for it, says so and lets go with bus mastering
 * off, instead of hanging the unbind.  The next probe's reset write is
 * ignored by the device while that reset runs (docs/hardware.md 10.2): it
 * waits the reset out (up to KESYNC_PROBE_RESET_US, 11 s) and binds, with
 * the data on the media.
 */
#define STUCK_US	10000000	/* the most KESYNC_IOC_FAULT takes */

TEST_F_TIMEOUT(life, remove_lets_go_of_stuck_reset, 90)
{
	double dt;
	int kmsg, fd = kt_open_unit(0);

	ASSERT_LE(0, fd);
	stable_write(_metadata, self);
	kmsg = kt_kmsg_open_end();
	ASSERT_LE(0, kmsg) TH_LOG("/dev/kmsg: %s", strerror(errno));
	/* The next controller reset, remove()'s, takes STUCK_US. */
	ASSERT_EQ(0, kt_fault_ex(fd, KESYNC_FAULT_NONE, 0, 0,
				 KESYNC_FAULT_F_RESET_DELAY, STUCK_US));
	close(fd);
	dt = kt_now();
	ASSERT_EQ(0, bind_driver(self->bdf, 0)) TH_LOG("unbind: %s", strerror(errno));
	self->unbound = 1;
	dt = kt_now() - dt;
	TH_LOG("unbind took %.2f s", dt);
	EXPECT_GT(STUCK_US / 1e6 / 2, dt);
	EXPECT_TRUE(kt_kmsg_says(kmsg, "reset not done at remove"));
	close(kmsg);

	dt = kt_now();
	ASSERT_EQ(0, bind_driver(self->bdf, 1)) TH_LOG("bind: %s", strerror(errno));
	self->unbound = 0;
	TH_LOG("bind took %.2f s", kt_now() - dt);
	ASSERT_EQ(0, kt_wait_nodes(self->units, 1, 10));
	stable_check(_metadata, self, "bind");
}

/*
 * insmod/rmmod with I/O on every unit in between, 3 warm-up cycles then
 * two windows of N cycles: objects left behind by kesync's code that grow
 * by half an object per cycle or more in both windows are a leak.
 */
#define CYCLES 20

/* A kernel symbol, from /proc/kallsyms (root reads real names). */
static int kernel_has_symbol(const char *sym)
{
	char line[256], name[128];
	int found = 0;
	FILE *f;

	f = fopen("/proc/kallsyms", "r");
	if (!f)
		return 0;
	while (!found && fgets(line, sizeof(line), f))
		found = sscanf(line, "%*s %*s %127s", name) == 1 &&
			!strcmp(name, sym);
	fclose(f);
	return found;
}

FIXTURE(loop) {
	int unused;
};

FIXTURE_SETUP(loop)
{
}

FIXTURE_TEARDOWN(loop)
{
	if (!kt_module_loaded())
		kt_insmod(kt_env_uint("KESYNC_UNITS", 1));
}

TEST_F_TIMEOUT(loop, insmod_rmmod_no_leak, 300)
{
	static struct orphans o[3];
	unsigned int units = kt_units(), i;
	int tracked = 1;
	double t0 = kt_now();

	ASSERT_LT(0, units);
	for (i = 0; i < 3 + 2 * CYCLES; i++) {
		ASSERT_EQ(0, io_cycle(units, kt_seed ^ (0x100 * i)))
			TH_LOG("cycle %u: I/O failed: %s", i, strerror(errno));
		ASSERT_EQ(0, kt_rmmod()) TH_LOG("cycle %u: rmmod: %s", i, strerror(errno));
		ASSERT_FALSE(kt_module_loaded());
		ASSERT_EQ(0, kt_wait_nodes(units, 0, 5));
		ASSERT_EQ(0, proc_interrupts_mention("kesync"))
			TH_LOG("cycle %u: an interrupt handler outlived rmmod", i);
		/* Counted while kesync is out: see count_orphans(). */
		if (tracked && (i == 2 || i == 2 + CYCLES || i == 2 + 2 * CYCLES))
			tracked = !count_orphans(&o[(i - 2) / CYCLES]);
		ASSERT_EQ(0, kt_insmod(units)) TH_LOG("cycle %u: insmod: %s", i, strerror(errno));
	}
	TH_LOG("%u insmod/rmmod cycles in %.1f s", 3 + 2 * CYCLES, kt_now() - t0);
	ASSERT_EQ(0, io_cycle(units, kt_seed ^ 0x1a57));
	/*
	 * KASAN's quarantine keeps freed objects allocated for a while: on
	 * such a kernel kmemleak (leak.kmemleak_clean) is the judge.
	 */
	if (kernel_has_symbol("kasan_report"))
		SKIP(return, "KASAN quarantine: kmemleak judges leaks here");
	if (!tracked)
		SKIP(return, "no allocation tracking (boot with slub_debug=U)");
	TH_LOG("objects left by unloaded kesync code after cycles 3, %u, %u: %ld, %ld, %ld",
	       3 + CYCLES, 3 + 2 * CYCLES, o[0].n, o[1].n, o[2].n);
	/*
	 * What the last rmmod freed through RCU may still be allocated: a
	 * count that does not grow with the cycles is no leak.  Half an
	 * object per cycle in both windows is one.
	 */
	EXPECT_FALSE(o[1].n - o[0].n >= CYCLES / 2 && o[2].n - o[1].n >= CYCLES / 2)
		TH_LOG("leak: the biggest record: %s", o[2].worst);
}

/* With a kmemleak kernel: nothing the scan finds points into kesync. */
FIXTURE(leak) {
	int unused;
};

FIXTURE_SETUP(leak)
{
}

FIXTURE_TEARDOWN(leak)
{
}

TEST_F_TIMEOUT(leak, kmemleak_clean, 120)
{
	const char *p = "/sys/kernel/debug/kmemleak";
	char line[512];
	int leaks = 0;
	FILE *f;

	if (access(p, F_OK))
		SKIP(return, "no kmemleak in this kernel");
	ASSERT_EQ(0, kt_write_file(p, "scan"));
	f = fopen(p, "r");
	ASSERT_NE(NULL, f);
	while (fgets(line, sizeof(line), f)) {
		if (strstr(line, "kesync")) {
			leaks++;
			TH_LOG("%s", line);
		}
	}
	fclose(f);
	EXPECT_EQ(0, leaks);
}

KT_FINAL_HEALTH_TEST(0)

TEST_HARNESS_MAIN

// SPDX-License-Identifier: GPL-2.0
/*
 * kesync_migrate: the running guest is live-migrated to another QEMU while
 * every unit runs I/O.  The guest asks the host with a host-migrate request
 * (tests/matrix --migrate: the runner starts a destination QEMU with the
 * same command line and -incoming defer, migrates this one there over
 * loopback TCP, waits for it to run and quits the source) and waits,
 * bounded, for the runner's reply on ttyS1 (KESYNC_HOST_REPLY).
 *
 *   under_fio		three migrations while fio verifies every unit in a
 *			loop (crc32c, verify_fatal): every loop goes on past
 *			each migration, with no verify error
 *   hung_transfer	a transfer of unit 0 hangs (KESYNC_FAULT_HANG) and its
 *			timeout is pending across the migration, while fio
 *			runs on the other units: it still fails with
 *			-ETIMEDOUT between T and T + 1 s after it started
 *			(guest clock; the time the guest was stopped does not
 *			count), the controller resets, nothing else times out
 *   mid_partial		a 1 MiB write, then a 1 MiB read, of a unit whose
 *			device moves at most max_xfer (64 KiB) per transfer,
 *			each window made slow (KESYNC_FAULT_LATE) so that the
 *			migration falls between its first and its last
 *			window: all bytes move, the data is right, no window
 *			times out
 *   cpu_writes		five migrations while one thread per CPU (and no
 *			other process) rewrites 256 pages in a loop and checks
 *			each still holds what it wrote there the pass before:
 *			no write of a vCPU is lost (QEMU 7.2's TCG lost those made through a TLB
 *			entry older than a dirty-bitmap sync:
 *			qemu-device/patches/, docs/testing.md)
 *
 * The hang's T and the windows' delay are sized from the longest migration
 * under_fio saw (3 times it), and each test requires that the migration
 * did fall inside the request (the request is still running when the
 * reply comes); the runner's kernel log scan covers the rest.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <termios.h>
#include "kesync_test.h"

#define MARGIN		0.5	/* emulator slack on top of [T, T+1], as kesync_timeouts */
#define KM_PLAIN	3	/* migrations under fio alone */
#define KM_OFF		(8 * KT_MIB)	/* the test's own I/O: past fio's 2 MiB */
#define KM_LEN		65536
#define KM_PARTIAL	KT_MIB
#define KM_REPLY_S	300	/* bound on one migration, request to reply */
#define KM_FIO_S	300	/* bound on fio's progress after a migration */
#define KM_LONGEST	"/tmp/km.longest"

/*
 * One unit's fio loop: 2 MiB of random writes of 512 B..128 KiB, each block
 * verified (crc32c) after, with a new seed each run, until /tmp/km.stop.U
 * exists; /tmp/km.runs.U counts the runs that passed.  Exit 1 at the first
 * run that did not.
 */
static const char km_fio_loop[] =
	"u=$1; seed=$2; n=0; echo 0 >/tmp/km.runs.$u\n"
	"while [ ! -e /tmp/km.stop.$u ]; do\n"
	"  { echo '[global]'; echo ioengine=psync; echo size=2m\n"
	"    echo bsrange=512-128k; echo verify=crc32c; echo verify_fatal=1\n"
	"    echo do_verify=1; echo randseed=$((seed + n)); echo rw=randwrite\n"
	"    echo \"[unit$u]\"; echo filename=/dev/kesync$u; } >/tmp/km.$u.fio\n"
	"  if ! fio --output=/tmp/km.$u.out /tmp/km.$u.fio >/dev/null 2>/tmp/km.$u.err ||\n"
	"     grep -q 'err= *[1-9]' /tmp/km.$u.out ||\n"
	"     grep -qi 'verify.*\\(fail\\|bad\\)' /tmp/km.$u.out /tmp/km.$u.err ||\n"
	"     ! grep -q 'err= 0' /tmp/km.$u.out; then\n"
	"    sed 's/^/# unit '$u': /' /tmp/km.$u.out /tmp/km.$u.err | tail -n 40\n"
	"    exit 1\n"
	"  fi\n"
	"  n=$((n + 1)); echo $n >/tmp/km.runs.$u\n"
	"done\n";

FIXTURE(mig) {
	unsigned int units;
	pid_t fio[KESYNC_MAX_UNITS];
	int tty;		/* the host's replies */
	unsigned int calls;
	int skip;		/* SKIP() in the setup does not stop the test */
};

static void km_path(char *buf, size_t len, const char *what, unsigned int u)
{
	snprintf(buf, len, "/tmp/km.%s.%u", what, u);
}

static long km_read_long(const char *path, long def)
{
	FILE *f = fopen(path, "r");
	long v = def;

	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = def;
		fclose(f);
	}
	return v;
}

/* Create an empty file (kt_write_file() only writes existing ones). */
static int km_touch(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0)
		return -1;
	return close(fd);
}

/* Runs unit @u's fio loop has passed since it started. */
static long km_runs(unsigned int u)
{
	char path[64];

	km_path(path, sizeof(path), "runs", u);
	return km_read_long(path, 0);
}

/* checkpatch-ok: SPACING: FIXTURE_DATA() names a type: '*' declares a pointer */
static void km_fio_start(struct __test_metadata *_metadata, FIXTURE_DATA(mig) *self,
			 unsigned int u)
{
	char path[64], unit[16], seed[32];

	km_path(path, sizeof(path), "stop", u);
	unlink(path);
	km_path(path, sizeof(path), "runs", u);
	unlink(path);
	snprintf(unit, sizeof(unit), "%u", u);
	snprintf(seed, sizeof(seed), "%llu",
		 (unsigned long long)((kt_seed ^ (0x3141u * (u + 1))) & 0xffffffu));
	fflush(NULL);
	self->fio[u] = fork();
	ASSERT_LE(0, self->fio[u]);
	if (self->fio[u] == 0) {
		execl("/bin/sh", "sh", "-c", km_fio_loop, "km_fio", unit, seed,
		      (char *)NULL);
		_exit(127);
	}
}

/* Stop unit @u's loop after its current run; that run and all must pass. */
/* checkpatch-ok: SPACING: FIXTURE_DATA() names a type: '*' declares a pointer */
static void km_fio_stop(struct __test_metadata *_metadata, FIXTURE_DATA(mig) *self,
			unsigned int u)
{
	char path[64];
	int st = 0;

	if (self->fio[u] <= 0)
		return;
	km_path(path, sizeof(path), "stop", u);
	ASSERT_EQ(0, km_touch(path));
	EXPECT_EQ(0, kt_waitpid(self->fio[u], KM_FIO_S, &st))
		TH_LOG("unit %u: fio still runs %d s after it was asked to stop",
		       u, KM_FIO_S);
	if (waitpid(self->fio[u], NULL, WNOHANG) == 0)
		kt_kill_reap(self->fio[u]);
	self->fio[u] = 0;
	EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0)
		TH_LOG("unit %u: fio verify failed (after %ld good runs)", u, km_runs(u));
}

/*
 * Wait, bounded, until each running loop has passed @more runs after
 * @at[]: with two, one run started after the migration and the one it
 * interrupted, which wrote before and verified after it, both passed.
 */
/* checkpatch-ok: SPACING: FIXTURE_DATA() names a type: '*' declares a pointer */
static void km_fio_progress(struct __test_metadata *_metadata, FIXTURE_DATA(mig) *self,
			    const long *at, long more)
{
	double end = kt_now() + KM_FIO_S;
	unsigned int u;

	for (u = 0; u < self->units; u++) {
		int st;

		if (self->fio[u] <= 0)
			continue;
		while (km_runs(u) < at[u] + more && kt_now() < end) {
			if (waitpid(self->fio[u], &st, WNOHANG) == self->fio[u]) {
				self->fio[u] = 0;
				ASSERT_TRUE(0)
					TH_LOG("unit %u: fio verify failed in run %ld",
					       u, km_runs(u) + 1);
			}
			kt_msleep(50);
		}
		EXPECT_LE(at[u] + more, km_runs(u))
			TH_LOG("unit %u: fio passed %ld runs in %d s after the migration",
			       u, km_runs(u) - at[u], KM_FIO_S);
	}
}

/*
 * Ask the host to migrate this guest; wait, bounded, for its reply (a line
 * with our request's id) and check it says completed.  *@secs: guest
 * seconds from the request to the reply.
 */
/* checkpatch-ok: SPACING: FIXTURE_DATA() names a type: '*' declares a pointer */
static int km_migrate(struct __test_metadata *_metadata, FIXTURE_DATA(mig) *self,
		      double *secs)
{
	char json[160], id[64], line[1024];
	size_t have = 0;
	double t0 = kt_now(), end = t0 + KM_REPLY_S;

	snprintf(id, sizeof(id), "km-%d-%u-%llu", getpid(), ++self->calls,
		 (unsigned long long)kt_seed);
	snprintf(json, sizeof(json),
		 "{\"execute\": \"host-migrate\", \"id\": \"%s\"}", id);
	kt_host_request(json);
	while (kt_now() < end) {
		struct pollfd p = { .fd = self->tty, .events = POLLIN };
		char *nl;
		ssize_t n;

		if (poll(&p, 1, 200) <= 0)
			continue;
		n = read(self->tty, line + have, sizeof(line) - 1 - have);
		if (n <= 0)
			continue;
		have += n;
		line[have] = 0;
		while ((nl = strchr(line, '\n'))) {
			*nl = 0;
			if (strstr(line, "KESYNC-HOST-REPLY") && strstr(line, id)) {
				*secs = kt_now() - t0;
				TH_LOG("%.2f s: %s", *secs, strchr(line, '{') ?: line);
				return strstr(line, "\"status\": \"completed\"") ? 0 : -1;
			}
			have -= nl + 1 - line;
			memmove(line, nl + 1, have + 1);
		}
		if (have == sizeof(line) - 1)
			have = 0;	/* no line of ours is that long */
	}
	TH_LOG("no reply to %s within %d s", id, KM_REPLY_S);
	return -1;
}

/* The longest migration so far, in guest seconds (under_fio measures it). */
static double km_longest(void)
{
	return km_read_long(KM_LONGEST, 5000) / 1000.0;
}

FIXTURE_SETUP(mig)
{
	const char *reply = kt_env_str("KESYNC_HOST_REPLY", NULL);
	struct termios t;
	unsigned int u;

	self->tty = -1;
	self->skip = 1;
	if (!kt_env_uint("KESYNC_HOST_HOOK", 0) || !reply)
		SKIP(return, "no host hook with replies in this boot (matrix option --migrate)");
	if (system("command -v fio >/dev/null 2>&1"))
		SKIP(return, "no fio in this guest (matrix option --extras)");
	self->skip = 0;
	self->units = kt_units();
	ASSERT_LT(0, self->units);
	self->tty = open(reply, O_RDWR | O_NOCTTY | O_CLOEXEC);
	ASSERT_LE(0, self->tty) TH_LOG("%s: %s", reply, strerror(errno));
	ASSERT_EQ(0, tcgetattr(self->tty, &t));
	cfmakeraw(&t);
	t.c_cc[VMIN] = 0;
	t.c_cc[VTIME] = 0;
	ASSERT_EQ(0, tcsetattr(self->tty, TCSANOW, &t));
	for (u = 0; u < self->units; u++)
		km_fio_start(_metadata, self, u);
}

FIXTURE_TEARDOWN(mig)
{
	unsigned int u;

	for (u = 0; u < self->units; u++) {
		char path[64];

		if (self->fio[u] <= 0)
			continue;
		km_path(path, sizeof(path), "stop", u);
		km_touch(path);
		if (kt_waitpid(self->fio[u], KM_FIO_S, NULL))
			kt_kill_reap(self->fio[u]);
	}
	if (self->tty >= 0)
		close(self->tty);
}

/* Every unit's fio loop passed a run, so all of them are going. */
/* checkpatch-ok: SPACING: FIXTURE_DATA() names a type: '*' declares a pointer */
static void km_fio_going(struct __test_metadata *_metadata, FIXTURE_DATA(mig) *self)
{
	long zero[KESYNC_MAX_UNITS] = { 0 };

	km_fio_progress(_metadata, self, zero, 1);
}

/* checkpatch-ok: SPACING: FIXTURE_DATA() names a type: '*' declares a pointer */
static void km_fio_stop_all(struct __test_metadata *_metadata, FIXTURE_DATA(mig) *self)
{
	unsigned int u;

	for (u = 0; u < self->units; u++)
		km_fio_stop(_metadata, self, u);
}

TEST_F_TIMEOUT(mig, under_fio, 900)
{
	long at[KESYNC_MAX_UNITS];
	struct kt_snap s0, s1;
	double secs, longest = 0;
	unsigned int i, u;
	FILE *f;

	if (self->skip)
		return;
	km_fio_going(_metadata, self);
	ASSERT_EQ(0, kt_snap(&s0));
	for (i = 0; i < KM_PLAIN; i++) {
		ASSERT_EQ(0, km_migrate(_metadata, self, &secs))
			TH_LOG("migration %u of %u failed", i + 1, KM_PLAIN);
		if (secs > longest)
			longest = secs;
		for (u = 0; u < self->units; u++)
			at[u] = km_runs(u);
		km_fio_progress(_metadata, self, at, 2);
	}
	km_fio_stop_all(_metadata, self);
	ASSERT_EQ(0, kt_snap(&s1));
	EXPECT_EQ(0, KT_SUM(&s1, timeouts) - KT_SUM(&s0, timeouts));
	EXPECT_EQ(0, KT_SUM(&s1, errors) - KT_SUM(&s0, errors));
	EXPECT_EQ(0, KT_SUM(&s1, hw_busy) - KT_SUM(&s0, hw_busy));
	EXPECT_EQ(0, s1.hw.late_dma);
	for (u = 0; u < self->units; u++)
		TH_LOG("unit %u: %lld requests, %lld partial transfers across the migrations",
		       u, KT_D(s1.st[u], s0.st[u], requests),
		       KT_D(s1.st[u], s0.st[u], partials));
	f = fopen(KM_LONGEST, "w");
	ASSERT_NE(NULL, f);
	fprintf(f, "%ld\n", (long)(longest * 1000));
	fclose(f);
}

TEST_F_TIMEOUT(mig, hung_transfer, 900)
{
	/* The migration must fit in the timeout with room to spare. */
	unsigned int T = 3 * km_longest() + 3;
	long at[KESYNC_MAX_UNITS];
	struct kesync_hw_stats ha;
	struct kt_snap s0, s1;
	struct kt_op op;
	double secs, dt;
	unsigned int u;
	int fd, saved;

	if (self->skip)
		return;
	if (T > 90)
		T = 90;
	km_fio_going(_metadata, self);
	km_fio_stop(_metadata, self, 0);
	fd = kt_open_unit(0);
	ASSERT_LE(0, fd);
	saved = kt_get_timeout(fd);
	ASSERT_EQ(0, kt_set_timeout(fd, T));
	ASSERT_EQ(0, kt_hw(fd, &ha));
	ASSERT_EQ(0, kt_snap(&s0));
	ASSERT_EQ(0, kt_fault(fd, KESYNC_FAULT_HANG, 1, 0));
	kt_op_init(&op, 0, KM_LEN, KM_OFF, kt_seed ^ 0x4a17);
	ASSERT_EQ(0, kt_op_start(&op));
	ASSERT_EQ(0, kt_op_blocked(&op, 10));
	ASSERT_EQ(0, km_migrate(_metadata, self, &secs)) {
		kt_op_cleanup(&op);
	}
	/* The migration fell inside the hang: its timeout was pending. */
	EXPECT_EQ(-1, kt_op_wait(&op, 0))
		TH_LOG("the hung read ended before the migration completed (T = %u s)", T);
	for (u = 0; u < self->units; u++)
		at[u] = km_runs(u);
	ASSERT_EQ(1, kt_op_wait(&op, T + 1 + MARGIN + 30)) {
		kt_op_cleanup(&op);
	}
	kt_op_reap(&op, 10);
	dt = op.res.t1 - op.res.t0;
	EXPECT_EQ(-1, op.res.ret);
	EXPECT_EQ(ETIMEDOUT, op.res.err) TH_LOG("got %s", strerror(op.res.err));
	EXPECT_LE(T - 0.02, dt) TH_LOG("timed out after %.3f s, T = %u", dt, T);
	EXPECT_GE(T + 1 + MARGIN, dt) TH_LOG("timed out after %.3f s, T = %u", dt, T);
	TH_LOG("the hung transfer timed out %.3f s after it started (T = %u s; migrated at %.3f s)",
	       dt, T, secs);
	EXPECT_EQ(0, kt_wait_resets(fd, ha.resets, 1, 10));
	/* The other units' I/O waited out the hang and goes on. */
	km_fio_progress(_metadata, self, at, 1);
	ASSERT_EQ(0, kt_snap(&s1));
	EXPECT_EQ(1, KT_D(s1.st[0], s0.st[0], timeouts));
	EXPECT_EQ(0, KT_D(s1.st[0], s0.st[0], errors));
	EXPECT_EQ(0, KT_D(s1.st[0], s0.st[0], lost_irqs));
	EXPECT_EQ(1, KT_SUM(&s1, timeouts) - KT_SUM(&s0, timeouts));
	EXPECT_EQ(0, KT_SUM(&s1, errors) - KT_SUM(&s0, errors));
	EXPECT_EQ(0, s1.hw.late_dma);
	EXPECT_EQ(0, s1.hw.ctrl_busy);
	if (saved > 0)
		kt_set_timeout(fd, saved);
	/* Unit 0 works again, under fio like the others. */
	ASSERT_EQ(KM_LEN, kt_pwrite_pat(fd, KM_LEN, KM_OFF, kt_seed ^ 0x4a18));
	ASSERT_EQ(0, kt_pread_check(fd, KM_LEN, KM_OFF, kt_seed ^ 0x4a18));
	close(fd);
	km_fio_start(_metadata, self, 0);
	km_fio_going(_metadata, self);
	km_fio_stop_all(_metadata, self);
}

/*
 * One request of KM_PARTIAL bytes on unit @u, every window @late_us late,
 * migrated after its first window and before its last.
 */
/* checkpatch-ok: SPACING: FIXTURE_DATA() names a type: '*' declares a pointer */
static void km_partial(struct __test_metadata *_metadata, FIXTURE_DATA(mig) *self,
		       int fd, unsigned int u, int wr, unsigned int late_us,
		       unsigned int windows)
{
	uint64_t seed = kt_seed ^ 0x9a27;
	struct kesync_stats a, b, m;
	double secs, end;
	struct kt_op op;

	ASSERT_EQ(0, kt_stats(fd, &a));
	/* More than the request needs; disarmed after it. */
	ASSERT_EQ(0, kt_fault(fd, KESYNC_FAULT_LATE, 4 * windows, late_us));
	kt_op_init(&op, u, KM_PARTIAL, KM_OFF, seed);
	op.write = wr;
	ASSERT_EQ(0, kt_op_start(&op));
	/* Its first window done: the request is between windows or in one. */
	end = kt_now() + 3.0 * late_us / 1e6 + 30;
	do {
		ASSERT_EQ(0, kt_stats(fd, &m));
		if (m.partials > a.partials)
			break;
		kt_msleep(20);
	} while (kt_now() < end);
	ASSERT_LT(a.partials, m.partials) TH_LOG("the first window never finished");
	ASSERT_EQ(0, km_migrate(_metadata, self, &secs)) {
		kt_op_cleanup(&op);
	}
	ASSERT_EQ(0, kt_stats(fd, &m));
	EXPECT_EQ(-1, kt_op_wait(&op, 0))
		TH_LOG("the request ended before the migration completed");
	TH_LOG("%s: migrated after %lld of its %u windows", wr ? "write" : "read",
	       KT_D(m, a, partials), windows);
	ASSERT_EQ(1, kt_op_wait(&op, (windows + 2) * (late_us / 1e6 + 1) + 60)) {
		kt_op_cleanup(&op);
	}
	kt_op_reap(&op, 10);
	ASSERT_EQ(0, kt_fault(fd, KESYNC_FAULT_NONE, 0, 0));
	EXPECT_EQ(KM_PARTIAL, op.res.ret) TH_LOG("%s", strerror(op.res.err));
	/* checkpatch-ok: BRACES: EXPECT_*() is two statements (kselftest_harness.h) */
	if (wr) {
		EXPECT_EQ(0, kt_pread_check(fd, KM_PARTIAL, KM_OFF, seed))
			TH_LOG("the medium is not what the migrated write wrote");
	} else {
		EXPECT_EQ(-1, op.res.bad) TH_LOG("the migrated read is wrong at %zd",
						 op.res.bad);
	}
	ASSERT_EQ(0, kt_stats(fd, &b));
	EXPECT_LE(windows - 1, KT_D(b, a, partials));
	EXPECT_EQ(0, KT_D(b, a, timeouts));
	EXPECT_EQ(0, KT_D(b, a, errors));
	EXPECT_EQ(0, KT_D(b, a, lost_irqs));
}

TEST_F_TIMEOUT(mig, mid_partial, 900)
{
	unsigned int u = self->units > 1 ? 1 : 0;
	struct kesync_info info;
	unsigned int late_us, windows, tmo;
	struct kt_snap s0, s1;
	int fd, saved;

	if (self->skip)
		return;
	km_fio_going(_metadata, self);
	km_fio_stop(_metadata, self, u);
	fd = kt_open_unit(u);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, kt_info(fd, &info));
	windows = (KM_PARTIAL + info.max_xfer - 1) / info.max_xfer;
	ASSERT_LE(4, windows) TH_LOG("max_xfer %u: too few windows", info.max_xfer);
	/* The windows after the first outlast the migration 3 times over. */
	late_us = 3e6 * km_longest() / (windows - 2);
	if (late_us < 200000)
		late_us = 200000;
	if (late_us > 10000000)
		late_us = 10000000;
	tmo = late_us / 1000000 + 3;
	saved = kt_get_timeout(fd);
	ASSERT_EQ(0, kt_set_timeout(fd, tmo));
	TH_LOG("%u windows of %u bytes, each %u ms late, timeout %u s", windows,
	       info.max_xfer, late_us / 1000, tmo);
	ASSERT_EQ(0, kt_snap(&s0));
	km_partial(_metadata, self, fd, u, 1, late_us, windows);
	km_partial(_metadata, self, fd, u, 0, late_us, windows);
	ASSERT_EQ(0, kt_snap(&s1));
	EXPECT_EQ(0, KT_SUM(&s1, timeouts) - KT_SUM(&s0, timeouts));
	EXPECT_EQ(0, KT_SUM(&s1, errors) - KT_SUM(&s0, errors));
	EXPECT_EQ(0, s1.hw.late_dma);
	if (saved > 0)
		kt_set_timeout(fd, saved);
	close(fd);
	km_fio_start(_metadata, self, u);
	km_fio_going(_metadata, self);
	km_fio_stop_all(_metadata, self);
}

#define KM_WPAGES	256	/* pages each writer rewrites */
#define KM_WRITES	5	/* migrations under the writers */
#define KM_WRITERS	8

/*
 * One writer: pass p stores p into the first word of each of its pages,
 * after checking that the word still holds p - 1.  @pass is its progress;
 * @bad counts the words that did not hold their last value.
 */
struct km_writer {
	pthread_t thread;
	unsigned int cpu;
	uint64_t *buf;
	uint64_t pass;
	uint64_t bad;
	uint64_t bad_page, bad_want, bad_got;
};

static int km_writers_stop;

static void *km_writer(void *arg)
{
	struct km_writer *w = arg;
	size_t step = sysconf(_SC_PAGESIZE) / sizeof(uint64_t);
	uint64_t pass;
	cpu_set_t set;
	unsigned int i;

	CPU_ZERO(&set);
	CPU_SET(w->cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
	for (pass = 1; !__atomic_load_n(&km_writers_stop, __ATOMIC_RELAXED); pass++) {
		for (i = 0; i < KM_WPAGES; i++) {
			uint64_t got = __atomic_load_n(&w->buf[i * step], __ATOMIC_RELAXED);

			if (got != pass - 1 && !w->bad++) {
				w->bad_page = i;
				w->bad_want = pass - 1;
				w->bad_got = got;
			}
			__atomic_store_n(&w->buf[i * step], pass, __ATOMIC_RELAXED);
		}
		__atomic_store_n(&w->pass, pass, __ATOMIC_RELEASE);
	}
	return NULL;
}

/* Wait (bounded) until every writer is past @at[i] + 2 passes. */
static int km_writers_wait(struct km_writer *w, unsigned int n, const uint64_t *at)
{
	double end = kt_now() + KM_FIO_S;
	unsigned int i;

	for (i = 0; i < n; i++) {
		while (__atomic_load_n(&w[i].pass, __ATOMIC_ACQUIRE) < at[i] + 2) {
			if (kt_now() > end)
				return -1;
			usleep(1000);
		}
	}
	return 0;
}

TEST_F_TIMEOUT(mig, cpu_writes, 900)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	size_t len = (size_t)KM_WPAGES * sysconf(_SC_PAGESIZE);
	struct km_writer w[KM_WRITERS] = { 0 };
	uint64_t at[KM_WRITERS] = { 0 };
	unsigned int i, m, n;
	double secs;

	if (self->skip)
		return;
	n = cpus < 1 ? 1 : cpus > KM_WRITERS ? KM_WRITERS : cpus;
	/*
	 * The writers run alone: a switch to another process (fio) reloads
	 * CR3, which empties the vCPU's TLB (TCG), and a write after that
	 * is tracked again, which would hide the loss this test looks for.
	 */
	km_fio_stop_all(_metadata, self);
	__atomic_store_n(&km_writers_stop, 0, __ATOMIC_RELAXED);
	for (i = 0; i < n; i++) {
		w[i].cpu = i;
		w[i].buf = mmap(NULL, len, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
		ASSERT_NE(MAP_FAILED, w[i].buf);
		ASSERT_EQ(0, pthread_create(&w[i].thread, NULL, km_writer, &w[i]));
	}
	ASSERT_EQ(0, km_writers_wait(w, n, at)) TH_LOG("the writers do not start");
	for (m = 0; m < KM_WRITES; m++) {
		for (i = 0; i < n; i++)
			at[i] = __atomic_load_n(&w[i].pass, __ATOMIC_ACQUIRE);
		EXPECT_EQ(0, km_migrate(_metadata, self, &secs))
			TH_LOG("migration %u of %u failed", m + 1, KM_WRITES);
		EXPECT_EQ(0, km_writers_wait(w, n, at))
			TH_LOG("a writer stopped after migration %u", m + 1);
	}
	__atomic_store_n(&km_writers_stop, 1, __ATOMIC_RELAXED);
	for (i = 0; i < n; i++) {
		pthread_join(w[i].thread, NULL);
		TH_LOG("CPU %u: %llu passes over %u pages", w[i].cpu,
		       (unsigned long long)w[i].pass, KM_WPAGES);
		EXPECT_EQ(0, w[i].bad)
			TH_LOG("CPU %u: %llu lost writes; first: page %llu held %llu, not %llu",
			       w[i].cpu, (unsigned long long)w[i].bad,
			       (unsigned long long)w[i].bad_page,
			       (unsigned long long)w[i].bad_got,
			       (unsigned long long)w[i].bad_want);
		munmap(w[i].buf, len);
	}
}

KT_FINAL_HEALTH_TEST(0)

TEST_HARNESS_MAIN

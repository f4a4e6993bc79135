// SPDX-License-Identifier: GPL-2.0
/*
 * kesync_bench_timeout: the guest-side helper of 'make bench' (not a test).
 *
 *   kesync_bench_timeout timeout DEV [-n N] [-T SECONDS]
 *	Timeout figures.  N times: arm KESYNC_FAULT_HANG for one transfer,
 *	time a 4 KiB pread(2) from the call to its return (it must fail with
 *	ETIMEDOUT: "detection"), then time from that return until the next
 *	4 KiB pread(2) of the unit succeeds ("recovery").  The unit's timeout
 *	is set to T (default 1) and restored afterwards.  Before each hung
 *	transfer it sleeps a pseudo-random 0..1 s, so the transfers start at
 *	phases spread over the driver's 1 Hz IoTimer period (without it each
 *	would start right after the tick that ended the previous one).
 *
 *   kesync_bench_timeout mmio DEV -n N -b BS -o read|write -S SIZE
 *			[-d] [--hw] [--marker RESOURCE_FILE:OFFSET]
 *	MMIO accesses per I/O.  Does N pread(2)/pwrite(2) of BS bytes (random
 *	BS-aligned offsets below SIZE for BS < 64 KiB, else sequential with
 *	wrap-around), O_DIRECT with -d.  With --hw (a kesync unit) it reads
 *	KESYNC_IOC_HW_STATS before and after and subtracts what the ioctl
 *	itself costs (measured as the difference of two back-to-back calls).
 *	With --marker it reads one 32-bit register of a PCI BAR (mmap of the
 *	sysfs resource file; needs iomem=relaxed) right before and right
 *	after the run, so a host-side QEMU trace can find the run's bounds.
 *
 * Output: one line per result, "KESYNC-BENCH-<KIND> key=value ...", which
 * scripts/bench-report.py parses.  Exit 0 when the measurement itself ran,
 * whatever the figures.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/kesync.h>
#include <linux/kesync_hw.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *xbuf(size_t len)
{
	void *p;

	if (posix_memalign(&p, 4096, len)) {
		perror("posix_memalign");
		exit(2);
	}
	memset(p, 0x5a, len);
	return p;
}

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* ---- timeout ------------------------------------------------------------ */

static int do_timeout(const char *dev, int n, unsigned int t)
{
	double *det = calloc(n, sizeof(*det)), *rec = calloc(n, sizeof(*rec));
	struct kesync_fault f;
	unsigned int saved = 0;
	int i, ok = 0, bad = 0, fd;
	void *buf = xbuf(4096);

	fd = open(dev, O_RDWR);
	if (fd < 0 || !det || !rec) {
		perror(dev);
		return 2;
	}
	if (ioctl(fd, KESYNC_IOC_GET_TIMEOUT, &saved) < 0)
		perror("KESYNC_IOC_GET_TIMEOUT");
	if (ioctl(fd, KESYNC_IOC_SET_TIMEOUT, &t) < 0) {
		perror("KESYNC_IOC_SET_TIMEOUT");
		return 2;
	}
	srandom(4321);
	/* One good transfer first: the unit is known to work. */
	if (pread(fd, buf, 4096, 0) != 4096)
		perror("first pread");
	for (i = 0; i < n; i++) {
		double t0, t1, t2;
		ssize_t r;
		int err, tries;

		usleep(random() % 1000000);
		memset(&f, 0, sizeof(f));
		f.kind = KESYNC_FAULT_HANG;
		f.count = 1;
		if (ioctl(fd, KESYNC_IOC_FAULT, &f) < 0) {
			perror("KESYNC_IOC_FAULT");
			break;
		}
		t0 = now();
		r = pread(fd, buf, 4096, 4096 * (i + 1));
		err = errno;
		t1 = now();
		if (r >= 0 || err != ETIMEDOUT) {
			printf("KESYNC-BENCH-TIMEOUT-BAD i=%d ret=%zd errno=%d(%s) t=%.6f\n",
			       i, r, r < 0 ? err : 0, r < 0 ? strerror(err) : "-",
			       t1 - t0);
			bad++;
			memset(&f, 0, sizeof(f));
			ioctl(fd, KESYNC_IOC_FAULT, &f);	/* disarm */
			continue;
		}
		/* Recovery: until the unit completes a request again. */
		for (tries = 0; tries < 100; tries++) {
			r = pread(fd, buf, 4096, 0);
			if (r == 4096)
				break;
		}
		t2 = now();
		if (r != 4096) {
			printf("KESYNC-BENCH-TIMEOUT-BAD i=%d recovery-failed errno=%d\n",
			       i, errno);
			bad++;
			continue;
		}
		det[ok] = t1 - t0;
		rec[ok] = t2 - t1;
		printf("KESYNC-BENCH-TIMEOUT-ONE i=%d detect_s=%.6f recover_s=%.6f retries=%d\n",
		       i, det[ok], rec[ok], tries);
		fflush(stdout);
		ok++;
	}
	if (saved)
		ioctl(fd, KESYNC_IOC_SET_TIMEOUT, &saved);
	printf("KESYNC-BENCH-TIMEOUT T=%u n=%d ok=%d bad=%d", t, n, ok, bad);
	if (ok) {
		qsort(det, ok, sizeof(*det), cmp_dbl);
		qsort(rec, ok, sizeof(*rec), cmp_dbl);
		printf(" detect_min=%.6f detect_med=%.6f detect_max=%.6f",
		       det[0], det[ok / 2], det[ok - 1]);
		printf(" recover_min=%.6f recover_med=%.6f recover_max=%.6f",
		       rec[0], rec[ok / 2], rec[ok - 1]);
	}
	printf("\n");
	close(fd);
	return 0;
}

/* ---- mmio --------------------------------------------------------------- */

static int hw_stats(int fd, struct kesync_hw_stats *s)
{
	memset(s, 0, sizeof(*s));
	return ioctl(fd, KESYNC_IOC_HW_STATS, s);
}

/* One 32-bit MMIO read the compiler can neither drop nor split. */
static __u32 mmio_rd(__u32 *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static __u32 *map_marker(const char *spec, off_t *off)
{
	char path[512];
	const char *colon = strrchr(spec, ':');
	void *p;
	int fd;

	if (!colon || (size_t)(colon - spec) >= sizeof(path))
		return NULL;
	memcpy(path, spec, colon - spec);
	path[colon - spec] = 0;
	*off = strtoul(colon + 1, NULL, 0);
	fd = open(path, O_RDWR | O_SYNC);
	if (fd < 0) {
		perror(path);
		return NULL;
	}
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		perror("mmap marker (boot with iomem=relaxed)");
		return NULL;
	}
	return (__u32 *)p;
}

static int do_mmio(const char *dev, int n, size_t bs, int wr, __u64 size,
		   int direct, int hw, const char *marker)
{
	struct kesync_hw_stats a, b, c, d;
	__u32 *mk = NULL;
	off_t mkoff = 0;
	__u32 mv = 0;
	__u64 blocks = size / bs, off = 0;
	int fd, i, err = 0;
	double t0, t1;
	void *buf = xbuf(bs);

	fd = open(dev, (wr ? O_WRONLY : O_RDONLY) | (direct ? O_DIRECT : 0));
	if (fd < 0 || !blocks) {
		perror(dev);
		return 2;
	}
	if (marker) {
		mk = map_marker(marker, &mkoff);
		if (!mk)
			printf("KESYNC-BENCH-MARKER-FAILED %s\n", marker);
	}
	srandom(1234);
	if (hw && (hw_stats(fd, &a) || hw_stats(fd, &b))) {
		perror("KESYNC_IOC_HW_STATS");
		return 2;
	}
	if (mk)
		mv = mmio_rd(&mk[mkoff / 4]);
	t0 = now();
	for (i = 0; i < n; i++) {
		ssize_t r;

		if (bs < 65536)
			off = ((__u64)random() % blocks) * bs;
		r = wr ? pwrite(fd, buf, bs, off) : pread(fd, buf, bs, off);
		if (r != (ssize_t)bs) {
			err++;
			if (err < 3)
				fprintf(stderr, "%s: %s at %llu: %zd (%s)\n", dev,
					wr ? "pwrite" : "pread",
					(unsigned long long)off, r,
					strerror(errno));
		}
		if (bs >= 65536)
			off = (off + bs) % (blocks * bs);
	}
	t1 = now();
	if (mk)
		mv ^= mmio_rd(&mk[mkoff / 4]);
	if (hw)
		hw_stats(fd, &c);
	printf("KESYNC-BENCH-MMIO dev=%s op=%s bs=%zu n=%d errors=%d secs=%.6f marker=%d",
	       dev, wr ? "write" : "read", bs, n, err, t1 - t0, !!mk);
	if (hw) {
		/* One ioctl's own cost: the delta of two back-to-back calls. */
		__u32 ior = b.mmio_reads - a.mmio_reads;
		__u32 iow = b.mmio_writes - a.mmio_writes;

		hw_stats(fd, &d);	/* and once more, as a check */
		printf(" ioctl_reads=%u ioctl_writes=%u ioctl_reads2=%u",
		       ior, iow, d.mmio_reads - c.mmio_reads);
		printf(" reads=%u writes=%u irqs=%u xfers=%u",
		       (__u32)(c.mmio_reads - b.mmio_reads - ior),
		       (__u32)(c.mmio_writes - b.mmio_writes - iow),
		       c.irqs - b.irqs, c.xfers - b.xfers);
	}
	printf("\n");
	(void)mv;
	close(fd);
	return 0;
}

static void usage(void)
{
	fputs("Usage: kesync_bench_timeout timeout DEV [-n N] [-T SECONDS]\n", stderr);
	fputs("       kesync_bench_timeout mmio DEV -n N -b BS -o read|write -S SIZE\n", stderr);
	fputs("                            [-d] [--hw] [--marker FILE:OFF]\n", stderr);
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "hw", no_argument, NULL, 'H' },
		{ "marker", required_argument, NULL, 'M' },
		{ NULL, 0, NULL, 0 },
	};
	const char *marker = NULL;
	unsigned int t = 1;
	int n = 20, wr = 0, direct = 0, hw = 0, c;
	size_t bs = 4096;
	__u64 size = 16 << 20;
	const char *cmd, *dev;

	if (argc < 3)
		usage();
	cmd = argv[1];
	dev = argv[2];
	optind = 3;
	while ((c = getopt_long(argc, argv, "n:T:b:o:S:d", lo, NULL)) != -1) {
		switch (c) {
		case 'n':
			n = atoi(optarg);
			break;
		case 'T':
			t = atoi(optarg);
			break;
		case 'b':
			bs = strtoul(optarg, NULL, 0);
			break;
		case 'o':
			wr = !strcmp(optarg, "write");
			break;
		case 'S':
			size = strtoull(optarg, NULL, 0);
			break;
		case 'd':
			direct = 1;
			break;
		case 'H':
			hw = 1;
			break;
		case 'M':
			marker = optarg;
			break;
		default:
			usage();
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(cmd, "timeout"))
		return do_timeout(dev, n, t);
	if (!strcmp(cmd, "mmio"))
		return do_mmio(dev, n, bs, wr, size, direct, hw, marker);
	usage();
	return 2;
}

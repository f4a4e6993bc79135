// SPDX-License-Identifier: GPL-2.0
/*
 * kesyncctl: inspect and control a kesync unit.
 *
 *   kesyncctl info     [DEV]           geometry and modes
 *   kesyncctl stats    [DEV]           the unit's driver counters
 *   kesyncctl hwstats  [DEV]           the controller's own counters
 *   kesyncctl timeout  [DEV] [SECONDS] show or set the transfer timeout
 *   kesyncctl reset    [DEV]           reset the controller (root)
 *   kesyncctl fault    [DEV] KIND COUNT [ARG] [misdirect] [reset-delay=US]
 *                                      arm a fault for the next COUNT
 *                                      transfers of the unit (root)
 *   kesyncctl clear    [DEV]           disarm the unit's faults (root)
 *   kesyncctl verify   [DEV] [BYTES [OFFSET]]
 *                                      write a pattern, read it back
 *   kesyncctl --version                the version (the project's VERSION)
 *
 * DEV defaults to /dev/kesync0; an argument with a '/' is taken for it.
 * KIND is a number or none, hang, lost-irq, late, error, short, spurious.
 *
 * Build: tools/Makefile, or the project's 'make guest' (statically linked).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <linux/kesync.h>
#include <linux/kesync_hw.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/*
 * The release, from the project's VERSION file (tools/Makefile, Makefile);
 * not KESYNC_VERSION, the device's register version in <linux/kesync_hw.h>.
 */
#ifndef KESYNC_RELEASE
#define KESYNC_RELEASE "unknown"
#endif

static const char *prog = "kesyncctl";
static const char *dev = "/dev/kesync0";

static const char *const fault_names[] = {
	[KESYNC_FAULT_NONE] = "none",
	[KESYNC_FAULT_HANG] = "hang",
	[KESYNC_FAULT_LOST_IRQ] = "lost-irq",
	[KESYNC_FAULT_LATE] = "late",
	[KESYNC_FAULT_ERROR] = "error",
	[KESYNC_FAULT_SHORT] = "short",
	[KESYNC_FAULT_SPURIOUS] = "spurious",
};

static void print_usage(void)
{
	fprintf(stderr,
		"usage: %s COMMAND [DEV] [ARGS]\n"
		"  info | stats | hwstats | reset | clear\n"
		"  timeout [SECONDS]               (%u..%u)\n"
		"  fault KIND COUNT [ARG] [misdirect] [reset-delay=US]\n"
		"        KIND: none hang lost-irq late error short spurious, or 0..%u\n"
		"        ARG: late: delay in us; short: bytes moved\n"
		"  verify [BYTES [OFFSET]]          write a pattern, read it back\n"
		"       %s --version\n"
		"DEV defaults to /dev/kesync0.\n",
		prog, KESYNC_TIMEOUT_MIN, KESYNC_TIMEOUT_MAX,
		KESYNC_FAULT_KIND_MAX, prog);
	exit(2);
}

/* Report a failed system call clearly, with a hint for the usual causes. */
static int fail(const char *what)
{
	int err = errno;
	const char *hint = "";

	if (err == EPERM || err == EACCES)
		hint = " (needs root: CAP_SYS_ADMIN)";
	else if (err == ENODEV)
		hint = " (the device was removed)";
	else if (err == ENOTTY)
		hint = " (not a kesync device?)";
	else if (err == ENOENT)
		hint = " (is kesync.ko loaded?)";
	fprintf(stderr, "%s: %s: %s: %s%s\n", prog, dev, what, strerror(err),
		hint);
	return 1;
}

static int open_dev(int flags)
{
	int fd = open(dev, flags);

	if (fd < 0) {
		fail("open");
		exit(1);
	}
	return fd;
}

static int parse_uint(const char *s, unsigned long long max,
		      unsigned long long *v)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, 0);
	if (errno || end == s || *end || *v > max) {
		fprintf(stderr, "%s: bad number '%s' (0..%llu)\n", prog, s, max);
		return -1;
	}
	return 0;
}

static int parse_kind(const char *s, __u32 *kind)
{
	unsigned long long v;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(fault_names); i++) {
		if (!strcmp(s, fault_names[i])) {
			*kind = i;
			return 0;
		}
	}
	if (parse_uint(s, ~0u, &v))
		return -1;
	*kind = v;	/* the driver checks the range */
	return 0;
}

static const char *irq_mode_name(__u32 m)
{
	switch (m) {
	case KESYNC_IRQ_MSIX:
		return "msix";
	case KESYNC_IRQ_MSI:
		return "msi";
	case KESYNC_IRQ_INTX:
		return "intx";
	}
	return "?";
}

static int cmd_info(void)
{
	struct kesync_info info;
	int fd = open_dev(O_RDONLY);

	if (ioctl(fd, KESYNC_IOC_INFO, &info))
		return fail("KESYNC_IOC_INFO");
	printf("device      %s\n", dev);
	printf("version     %u.%u\n", info.version >> 16, info.version & 0xffff);
	printf("unit        %u of %u (minor %u)\n", info.unit, info.units,
	       info.minor);
	printf("unit_size   %llu\n", (unsigned long long)info.unit_size);
	printf("max_segs    %u\n", info.max_segs);
	printf("max_xfer    %u\n", info.max_xfer);
	printf("irq_mode    %s\n", irq_mode_name(info.irq_mode));
	printf("pump        %s\n",
	       info.pump == KESYNC_PUMP_THREAD ? "thread" : "startio");
	printf("timeout     %u s\n", info.timeout);
	close(fd);
	return 0;
}

static int cmd_stats(void)
{
	struct kesync_stats st;
	int fd = open_dev(O_RDONLY);

	if (ioctl(fd, KESYNC_IOC_STATS, &st))
		return fail("KESYNC_IOC_STATS");
#define P(f) printf("%-12s %llu\n", #f, (unsigned long long)st.f)
	P(requests);
	P(bytes);
	P(partials);
	P(timeouts);
	P(lost_irqs);
	P(resets);
	P(cancels);
	P(ctrl_waits);
	P(spurious);
	P(errors);
	P(short_xfers);
	P(hw_busy);
#undef P
	close(fd);
	return 0;
}

static int cmd_hwstats(void)
{
	struct kesync_hw_stats hs;
	int fd = open_dev(O_RDONLY);

	if (ioctl(fd, KESYNC_IOC_HW_STATS, &hs))
		return fail("KESYNC_IOC_HW_STATS");
#define P(f) printf("%-12s %u\n", #f, hs.f)
	P(mmio_reads);
	P(mmio_writes);
	P(ctrl_busy);
	P(late_dma);
	P(xfers);
	P(resets);
	P(irqs);
	P(dma_errors);
#undef P
	close(fd);
	return 0;
}

static int cmd_timeout(int argc, char **argv)
{
	unsigned long long v;
	__u32 t;
	int fd = open_dev(O_RDONLY);

	if (argc > 1)
		print_usage();
	if (argc == 1) {
		if (parse_uint(argv[0], ~0u, &v))
			return 2;
		t = v;
		if (ioctl(fd, KESYNC_IOC_SET_TIMEOUT, &t))
			return fail("KESYNC_IOC_SET_TIMEOUT");
	}
	if (ioctl(fd, KESYNC_IOC_GET_TIMEOUT, &t))
		return fail("KESYNC_IOC_GET_TIMEOUT");
	printf("%u\n", t);
	close(fd);
	return 0;
}

static int cmd_reset(void)
{
	int fd = open_dev(O_RDONLY);

	if (ioctl(fd, KESYNC_IOC_RESET))
		return fail("KESYNC_IOC_RESET");
	close(fd);
	return 0;
}

static int cmd_fault(int argc, char **argv)
{
	struct kesync_fault f;
	unsigned long long v;
	int fd, i;

	memset(&f, 0, sizeof(f));
	if (argc < 2)
		print_usage();
	if (parse_kind(argv[0], &f.kind) || parse_uint(argv[1], ~0u, &v))
		return 2;
	f.count = v;
	for (i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "misdirect")) {
			f.flags |= KESYNC_FAULT_F_MISDIRECT;
		} else if (!strncmp(argv[i], "reset-delay=", 12)) {
			if (parse_uint(argv[i] + 12, ~0u, &v))
				return 2;
			f.flags |= KESYNC_FAULT_F_RESET_DELAY;
			f.reset_delay_us = v;
		} else if (i == 2) {
			if (parse_uint(argv[i], ~0u, &v))
				return 2;
			f.arg = v;
		} else {
			print_usage();
		}
	}
	fd = open_dev(O_RDONLY);
	if (ioctl(fd, KESYNC_IOC_FAULT, &f))
		return fail("KESYNC_IOC_FAULT");
	close(fd);
	return 0;
}

static int cmd_clear(void)
{
	struct kesync_fault f;
	int fd = open_dev(O_RDONLY);

	memset(&f, 0, sizeof(f));
	if (ioctl(fd, KESYNC_IOC_FAULT, &f))
		return fail("KESYNC_IOC_FAULT");
	close(fd);
	return 0;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Whole-buffer transfer: the driver moves at most 8 MiB per call. */
static int xfer_all(int fd, unsigned char *buf, size_t len, off_t off,
		    int wr, const char *what)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		if (wr)
			n = pwrite(fd, buf + done, len - done, off + done);
		else
			n = pread(fd, buf + done, len - done, off + done);
		if (n < 0)
			return fail(what);
		if (n == 0) {
			fprintf(stderr, "%s: %s: %s: end of medium after %zu bytes\n",
				prog, dev, what, done);
			return 1;
		}
		done += n;
	}
	return 0;
}

static int cmd_verify(int argc, char **argv)
{
	unsigned long long len = 1 << 20, off = 0;
	unsigned char *in, *out;
	double t0, t1, t2;
	size_t i;
	int fd;

	if (argc > 2)
		print_usage();
	if (argc >= 1 && parse_uint(argv[0], 1ull << 30, &len))
		return 2;
	if (argc == 2 && parse_uint(argv[1], ~0ull >> 1, &off))
		return 2;
	/* Odd addresses on purpose: the driver maps any user alignment. */
	in = malloc(len + 1);
	out = malloc(len + 3);
	if (!in || !out) {
		fprintf(stderr, "%s: out of memory\n", prog);
		return 1;
	}
	srand(time(NULL) ^ getpid());
	for (i = 0; i < len; i++)
		in[i + 1] = rand();
	fd = open_dev(O_RDWR);
	t0 = now();
	if (xfer_all(fd, in + 1, len, off, 1, "write"))
		return 1;
	t1 = now();
	if (xfer_all(fd, out + 3, len, off, 0, "read"))
		return 1;
	t2 = now();
	if (memcmp(in + 1, out + 3, len)) {
		for (i = 0; i < len && in[i + 1] == out[i + 3]; i++)
			;
		fprintf(stderr, "%s: %s: MISMATCH at offset %llu\n", prog, dev,
			off + i);
		return 1;
	}
	printf("verify %s: %llu bytes at %llu ok (write %.1f MB/s, read %.1f MB/s)\n",
	       dev, len, off, len / (t1 - t0) / 1e6, len / (t2 - t1) / 1e6);
	close(fd);
	free(in);
	free(out);
	return 0;
}

int main(int argc, char **argv)
{
	const char *cmd;

	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))
		print_usage();
	if (!strcmp(argv[1], "--version") && argc == 2) {
		printf("%s %s\n", prog, KESYNC_RELEASE);
		return 0;
	}
	cmd = argv[1];
	argv += 2;
	argc -= 2;
	if (argc > 0 && strchr(argv[0], '/')) {
		dev = argv[0];
		argv++;
		argc--;
	}

	if (!strcmp(cmd, "info") && !argc)
		return cmd_info();
	if (!strcmp(cmd, "stats") && !argc)
		return cmd_stats();
	if (!strcmp(cmd, "hwstats") && !argc)
		return cmd_hwstats();
	if (!strcmp(cmd, "timeout"))
		return cmd_timeout(argc, argv);
	if (!strcmp(cmd, "reset") && !argc)
		return cmd_reset();
	if (!strcmp(cmd, "fault"))
		return cmd_fault(argc, argv);
	if (!strcmp(cmd, "clear") && !argc)
		return cmd_clear();
	if (!strcmp(cmd, "verify"))
		return cmd_verify(argc, argv);
	print_usage();
	return 2;
}

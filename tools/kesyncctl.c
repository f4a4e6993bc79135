// SPDX-License-Identifier: GPL-2.0
/*
 * kesyncctl: inspect and control a kesync unit.
 *
 *   kesyncctl [-j] [-d DEV] COMMAND [ARGS]
 *
 *   info                   geometry and modes
 *   stats                  the unit's driver counters
 *   hwstats                the controller's own counters
 *   timeout [SECONDS]      show or set the transfer timeout
 *   reset                  reset the controller (CAP_SYS_ADMIN)
 *   fault KIND COUNT [ARG] [misdirect] [reset-delay=US]
 *                          arm a fault for the next COUNT transfers of the
 *                          unit (CAP_SYS_ADMIN)
 *   clear                  disarm the unit's faults (CAP_SYS_ADMIN)
 *   verify [BYTES [OFFSET]]
 *                          write random data, read it back, compare
 *
 * DEV is a name under /dev (kesync0) or a path; it defaults to /dev/kesync0.
 * For compatibility, a first argument after the command that contains a '/'
 * is taken for DEV too.  Every argument is checked before the device is
 * opened: a usage error exits 2, a device or system error 1, a verify that
 * read back other data than it wrote 3 (kesyncctl.1, EXIT STATUS).
 *
 * Build: tools/Makefile, or the project's 'make guest' (statically linked).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <linux/kesync.h>
#include <linux/kesync_hw.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
/* checkpatch-ok: PREFER_DEFINED_ATTRIBUTE_MACRO: no <linux/compiler.h> here */
#define __printf(a, b) __attribute__((format(printf, a, b)))
/* checkpatch-ok: PREFER_DEFINED_ATTRIBUTE_MACRO: idem */
#define __noreturn __attribute__((noreturn))

/*
 * The release, from the project's VERSION file (tools/Makefile, Makefile);
 * not KESYNC_VERSION, the device's register version in <linux/kesync_hw.h>.
 */
#ifndef KESYNC_RELEASE
#define KESYNC_RELEASE "unknown"
#endif

/* Exit statuses (kesyncctl.1, EXIT STATUS). */
#define KCTL_EXIT_OK		0
#define KCTL_EXIT_RUNTIME	1	/* the device or a system call failed */
#define KCTL_EXIT_USAGE		2	/* bad command line; nothing was done */
#define KCTL_EXIT_MISMATCH	3	/* verify read back other data */

/* Limits the driver enforces (struct kesync_fault of <linux/kesync.h>). */
#define KCTL_FAULT_COUNT_MAX	1000
#define KCTL_RESET_DELAY_MAX	10000000
#define KCTL_VERIFY_MAX		(1024ull * 1024 * 1024)

static const char prog[] = "kesyncctl";

static const char *const fault_names[] = {
	[KESYNC_FAULT_NONE] = "none",
	[KESYNC_FAULT_HANG] = "hang",
	[KESYNC_FAULT_LOST_IRQ] = "lost-irq",
	[KESYNC_FAULT_LATE] = "late",
	[KESYNC_FAULT_ERROR] = "error",
	[KESYNC_FAULT_SHORT] = "short",
	[KESYNC_FAULT_SPURIOUS] = "spurious",
	[KESYNC_FAULT_REFUSE] = "refuse",
	[KESYNC_FAULT_WRONG_TAG] = "wrong-tag",
};

#define KCTL_KINDS \
	"none, hang, lost-irq, late, error, short, spurious, refuse, wrong-tag"

static const char *const irq_mode_names[] = {
	[KESYNC_IRQ_MSIX] = "msix",
	[KESYNC_IRQ_MSI] = "msi",
	[KESYNC_IRQ_INTX] = "intx",
};

static const char *const pump_names[] = {
	[KESYNC_PUMP_STARTIO] = "startio",
	[KESYNC_PUMP_THREAD] = "thread",
};

/* What the command line asks for, checked in full before any open(2). */
struct ctx {
	const char *dev;	/* the path to open */
	char devbuf[PATH_MAX];
	int dev_given;
	int json;
	int set_timeout;
	__u32 timeout;
	struct kesync_fault fault;
	unsigned long long len, off;	/* verify */
	int fd;
};

struct command {
	const char *name;
	const char *args;	/* synopsis of the arguments, for --help */
	const char *help;	/* one line */
	int json;		/* has a --json output */
	void (*parse)(struct ctx *c, int argc, char **argv);
	int (*run)(struct ctx *c);
};

/* ---- messages -------------------------------------------------------- */

/* A usage error: what is wrong, a hint, exit 2.  Nothing was opened. */
static __printf(1, 2) __noreturn void usage_error(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s --help'.\n", prog);
	exit(KCTL_EXIT_USAGE);
}

/* The name of gid in /etc/group into buf, or its number. */
static void group_name(gid_t gid, char *buf, size_t len)
{
	FILE *f = fopen("/etc/group", "re");
	char line[1024], *p, *end;

	snprintf(buf, len, "gid %u", (unsigned int)gid);
	if (!f)
		return;
	/* name:password:gid:members */
	while (fgets(line, sizeof(line), f)) {
		p = strchr(line, ':');
		if (!p)
			continue;
		*p = '\0';
		p = strchr(p + 1, ':');
		if (!p || !isdigit((unsigned char)p[1]))
			continue;
		if (strtoul(p + 1, &end, 10) == gid && *end == ':' &&
		    strlen(line) < len) {
			memcpy(buf, line, strlen(line) + 1);
			break;
		}
	}
	fclose(f);
}

/* Why open(2) said EACCES, from the node's mode and owner. */
static void eacces_hint(const char *path, char *buf, size_t len)
{
	struct stat st;
	char grp[64];

	if (stat(path, &st)) {
		snprintf(buf, len, " (run as root or as a member of the unit's group)");
		return;
	}
	if ((st.st_mode & 0060) && st.st_gid != 0) {
		group_name(st.st_gid, grp, sizeof(grp));
		snprintf(buf, len,
			 " (the unit is mode %04o for group %s: add yourself to that group)",
			 (unsigned int)(st.st_mode & 07777), grp);
	} else {
		snprintf(buf, len,
			 " (the unit is mode %04o for %s only: the udev rule of kesync gives it to group kesync, mode 0660)",
			 (unsigned int)(st.st_mode & 07777),
			 st.st_uid ? "its owner" : "root");
	}
}

/*
 * A failed system call on the device: "kesyncctl: DEV: [WHAT: ]strerror
 * (hint)" on stderr.  Returns the exit status for it.
 */
static int sys_error(const struct ctx *c, const char *what, int err)
{
	char hint[256] = "";

	switch (err) {
	case EACCES:
		eacces_hint(c->dev, hint, sizeof(hint));
		break;
	case EPERM:
		/* From KESYNC_IOC_RESET and KESYNC_IOC_FAULT. */
		if (what)
			snprintf(hint, sizeof(hint),
				 " (needs CAP_SYS_ADMIN: run it as root)");
		break;
	case ENOENT:
		snprintf(hint, sizeof(hint), " (is kesync.ko loaded?)");
		break;
	case ENODEV:
	case ENXIO:
		snprintf(hint, sizeof(hint), " (the device was removed)");
		break;
	case ENOTTY:
		snprintf(hint, sizeof(hint), " (not a kesync device?)");
		break;
	}
	fflush(stdout);
	fprintf(stderr, "%s: %s: %s%s%s%s\n", prog, c->dev, what ? what : "",
		what ? ": " : "", strerror(err), hint);
	return KCTL_EXIT_RUNTIME;
}

/* ---- argument parsing (no device access) ------------------------------ */

/*
 * @s as an unsigned number in [min, max] into *v: decimal, 0x hex or
 * 0 octal; with @suffixes, a k, M or G suffix multiplies by 2^10, 2^20,
 * 2^30.  Anything else is a usage error naming @cmd, @what and @s.
 */
static unsigned long long parse_num(const char *cmd, const char *what,
				    const char *s, unsigned long long min,
				    unsigned long long max, int suffixes)
{
	unsigned long long v, mul = 1;
	char *end;

	if (s[0] == '-' && isdigit((unsigned char)s[1]))
		usage_error("%s: %s '%s' is out of range (%llu..%llu)", cmd,
			    what, s, min, max);
	if (!isdigit((unsigned char)s[0]))
		usage_error("%s: %s '%s' is not a number", cmd, what, s);
	errno = 0;
	v = strtoull(s, &end, 0);
	if (suffixes && *end && !end[1]) {
		switch (*end) {
		case 'k':
		case 'K':
			mul = 1ull << 10;
			break;
		case 'M':
			mul = 1ull << 20;
			break;
		case 'G':
			mul = 1ull << 30;
			break;
		}
		if (mul > 1)
			end++;
	}
	if (*end)
		usage_error("%s: %s '%s' is not a number", cmd, what, s);
	if (errno == ERANGE || v > ULLONG_MAX / mul || v * mul < min ||
	    v * mul > max)
		usage_error("%s: %s '%s' is out of range (%llu..%llu)", cmd,
			    what, s, min, max);
	return v * mul;
}

static void too_many(const char *cmd, const char *arg)
{
	usage_error("%s: unexpected argument '%s'", cmd, arg);
}

static void parse_none(struct ctx *c, int argc, char **argv)
{
	(void)c;
	if (argc > 1)
		too_many(argv[0], argv[1]);
}

static void parse_timeout(struct ctx *c, int argc, char **argv)
{
	if (argc > 2)
		too_many(argv[0], argv[2]);
	if (argc == 2) {
		c->timeout = parse_num(argv[0], "SECONDS", argv[1],
				       KESYNC_TIMEOUT_MIN, KESYNC_TIMEOUT_MAX, 0);
		c->set_timeout = 1;
	}
}

static __u32 parse_kind(const char *s)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(fault_names); i++)
		if (!strcmp(s, fault_names[i]))
			return i;
	if (!isdigit((unsigned char)s[0]))
		usage_error("fault: unknown fault kind '%s' (%s, or 0..%u)", s,
			    KCTL_KINDS, KESYNC_FAULT_KIND_MAX);
	return parse_num("fault", "KIND", s, 0, KESYNC_FAULT_KIND_MAX, 0);
}

static void parse_fault(struct ctx *c, int argc, char **argv)
{
	struct kesync_fault *f = &c->fault;
	static const char rd[] = "reset-delay=";
	int i;

	if (argc < 3)
		usage_error("fault: missing %s", argc < 2 ? "KIND and COUNT" :
			    "COUNT");
	f->kind = parse_kind(argv[1]);
	f->count = parse_num("fault", "COUNT", argv[2], 0,
			     KCTL_FAULT_COUNT_MAX, 0);
	for (i = 3; i < argc; i++) {
		if (!strcmp(argv[i], "misdirect")) {
			if (f->flags & KESYNC_FAULT_F_MISDIRECT)
				usage_error("fault: 'misdirect' given twice");
			f->flags |= KESYNC_FAULT_F_MISDIRECT;
		} else if (!strncmp(argv[i], rd, strlen(rd))) {
			if (f->flags & KESYNC_FAULT_F_RESET_DELAY)
				usage_error("fault: 'reset-delay=' given twice");
			f->reset_delay_us = parse_num("fault", "reset-delay",
						      argv[i] + strlen(rd), 1,
						      KCTL_RESET_DELAY_MAX, 0);
			f->flags |= KESYNC_FAULT_F_RESET_DELAY;
		} else if (i == 3) {
			f->arg = parse_num("fault", "ARG", argv[i], 0,
					   UINT32_MAX, 0);
		} else {
			usage_error("fault: unexpected argument '%s'", argv[i]);
		}
	}
}

static void parse_verify(struct ctx *c, int argc, char **argv)
{
	c->len = 1 << 20;
	c->off = 0;
	if (argc > 3)
		too_many(argv[0], argv[3]);
	if (argc >= 2)
		c->len = parse_num("verify", "BYTES", argv[1], 1,
				   KCTL_VERIFY_MAX, 1);
	if (argc >= 3)
		c->off = parse_num("verify", "OFFSET", argv[2], 0,
				   INT64_MAX - c->len, 1);
}

/*
 * The device argument: a path (it has a '/') as it is, a name as
 * /dev/NAME.  A bare number is refused: kesync3, not 3.
 */
static void set_device(struct ctx *c, const char *s)
{
	size_t i;

	if (c->dev_given)
		usage_error("the device is given twice ('%s', '%s')", c->dev,
			    s);
	c->dev_given = 1;
	if (!*s)
		usage_error("empty device name");
	if (strchr(s, '/')) {
		c->dev = s;
		return;
	}
	for (i = 0; isdigit((unsigned char)s[i]); i++)
		;
	if (!s[i])
		usage_error("'%s' is not a device: give kesync%s or /dev/kesync%s",
			    s, s, s);
	if (snprintf(c->devbuf, sizeof(c->devbuf), "/dev/%s", s) >=
	    (int)sizeof(c->devbuf))
		usage_error("device name too long: '%.40s...'", s);
	c->dev = c->devbuf;
}

/* ---- device access ---------------------------------------------------- */

/*
 * Open the unit: O_NONBLOCK so that a FIFO given by mistake does not hang
 * the open, then only a character device is accepted.
 */
static int open_dev(struct ctx *c, int flags)
{
	struct stat st;
	int fd;

	fd = open(c->dev, flags | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return sys_error(c, NULL, errno);
	if (fstat(fd, &st)) {
		close(fd);
		return sys_error(c, "fstat", errno);
	}
	if (!S_ISCHR(st.st_mode)) {
		close(fd);
		fflush(stdout);
		fprintf(stderr, "%s: %s: not a character device (not a kesync unit)\n",
			prog, c->dev);
		return KCTL_EXIT_RUNTIME;
	}
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)) {
		close(fd);
		return sys_error(c, "fcntl", errno);
	}
	c->fd = fd;
	return 0;
}

static int do_ioctl(struct ctx *c, unsigned long req, void *arg,
		    const char *name)
{
	if (ioctl(c->fd, req, arg))
		return sys_error(c, name, errno);
	return 0;
}

/* ---- output ----------------------------------------------------------- */

/* One field of a UAPI structure: its name is the JSON key. */
struct field {
	const char *name;
	size_t off;
	size_t size;
};

/* checkpatch-ok: MACRO_ARG_REUSE: f is a member name, no side effects */
#define FIELD(type, f) \
	{ #f, offsetof(struct type, f), sizeof(((struct type *)0)->f) }

static const struct field info_fields[] = {
	FIELD(kesync_info, version),
	FIELD(kesync_info, units),
	FIELD(kesync_info, unit),
	FIELD(kesync_info, minor),
	FIELD(kesync_info, max_segs),
	FIELD(kesync_info, max_xfer),
	FIELD(kesync_info, irq_mode),
	FIELD(kesync_info, pump),
	FIELD(kesync_info, timeout),
	FIELD(kesync_info, unit_size),
};

static const struct field stats_fields[] = {
	FIELD(kesync_stats, requests),
	FIELD(kesync_stats, bytes),
	FIELD(kesync_stats, partials),
	FIELD(kesync_stats, timeouts),
	FIELD(kesync_stats, lost_irqs),
	FIELD(kesync_stats, resets),
	FIELD(kesync_stats, cancels),
	FIELD(kesync_stats, ctrl_waits),
	FIELD(kesync_stats, spurious),
	FIELD(kesync_stats, errors),
	FIELD(kesync_stats, short_xfers),
	FIELD(kesync_stats, hw_busy),
};

static const struct field hw_fields[] = {
	FIELD(kesync_hw_stats, mmio_reads),
	FIELD(kesync_hw_stats, mmio_writes),
	FIELD(kesync_hw_stats, ctrl_busy),
	FIELD(kesync_hw_stats, late_dma),
	FIELD(kesync_hw_stats, xfers),
	FIELD(kesync_hw_stats, resets),
	FIELD(kesync_hw_stats, irqs),
	FIELD(kesync_hw_stats, dma_errors),
};

static unsigned long long field_get(const void *base, const struct field *f)
{
	const char *p = (const char *)base + f->off;
	__u64 v64;
	__u32 v32;

	if (f->size == sizeof(v64)) {
		memcpy(&v64, p, sizeof(v64));
		return v64;
	}
	memcpy(&v32, p, sizeof(v32));
	return v32;
}

/* Length of the valid UTF-8 sequence at s, or 0. */
static size_t utf8_len(const unsigned char *s)
{
	size_t n, i;
	unsigned int cp;

	if (s[0] < 0xc2 || s[0] > 0xf4)
		return 0;
	n = s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : 4;
	cp = s[0] & (0x7f >> n);
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return n;
}

/* s as a JSON string; bytes that are not UTF-8 become U+FFFD. */
static void json_string(const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t n;

	putchar('"');
	while (*s) {
		switch (*s) {
		case '"':
			fputs("\\\"", stdout);
			break;
		case '\\':
			fputs("\\\\", stdout);
			break;
		case '\b':
			fputs("\\b", stdout);
			break;
		case '\f':
			fputs("\\f", stdout);
			break;
		case '\n':
			fputs("\\n", stdout);
			break;
		case '\r':
			fputs("\\r", stdout);
			break;
		case '\t':
			fputs("\\t", stdout);
			break;
		default:
			if (*s < 0x20) {
				printf("\\u%04x", *s);
			} else if (*s < 0x80) {
				putchar(*s);
			} else {
				n = utf8_len(s);
				if (!n) {
					fputs("\\ufffd", stdout);
					break;
				}
				fwrite(s, 1, n, stdout);
				s += n - 1;
			}
		}
		s++;
	}
	putchar('"');
}

static const char *name_of(const char *const *names, size_t n, __u32 v)
{
	return v < n && names[v] ? names[v] : "unknown";
}

/* {"device": DEV, FIELD: value, ..., extra pairs} and a newline. */
static void json_object(const struct ctx *c, const void *base,
			const struct field *fields, size_t n,
			const char *const *extra)
{
	size_t i;

	fputs("{\"device\": ", stdout);
	json_string(c->dev);
	for (i = 0; i < n; i++)
		printf(", \"%s\": %llu", fields[i].name,
		       field_get(base, &fields[i]));
	for (; extra && extra[0]; extra += 2) {
		printf(", \"%s\": ", extra[0]);
		json_string(extra[1]);
	}
	fputs("}\n", stdout);
}

static void text_fields(const void *base, const struct field *fields,
			size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		printf("%-12s %llu\n", fields[i].name,
		       field_get(base, &fields[i]));
}

/* stdout must reach its reader: a full disk or a closed pipe is an error. */
static int flush_stdout(void)
{
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "%s: standard output: %s\n", prog,
			strerror(errno ? errno : EIO));
		return KCTL_EXIT_RUNTIME;
	}
	return 0;
}

/* ---- commands --------------------------------------------------------- */

static int cmd_info(struct ctx *c)
{
	struct kesync_info info;
	const char *irq, *pump;
	int ret;

	memset(&info, 0, sizeof(info));
	ret = do_ioctl(c, KESYNC_IOC_INFO, &info, "KESYNC_IOC_INFO");
	if (ret)
		return ret;
	irq = name_of(irq_mode_names, ARRAY_SIZE(irq_mode_names),
		      info.irq_mode);
	pump = name_of(pump_names, ARRAY_SIZE(pump_names), info.pump);
	if (c->json) {
		const char *const extra[] = {
			"irq_mode_name", irq, "pump_name", pump, NULL
		};

		json_object(c, &info, info_fields, ARRAY_SIZE(info_fields),
			    extra);
		return 0;
	}
	printf("device      %s\n", c->dev);
	printf("version     %u.%u\n", info.version >> 16, info.version & 0xffff);
	printf("unit        %u of %u (minor %u)\n", info.unit, info.units,
	       info.minor);
	printf("unit_size   %llu\n", (unsigned long long)info.unit_size);
	printf("max_segs    %u\n", info.max_segs);
	printf("max_xfer    %u\n", info.max_xfer);
	printf("irq_mode    %s\n", irq);
	printf("pump        %s\n", pump);
	printf("timeout     %u s\n", info.timeout);
	return 0;
}

static int cmd_stats(struct ctx *c)
{
	struct kesync_stats st;
	int ret;

	memset(&st, 0, sizeof(st));
	ret = do_ioctl(c, KESYNC_IOC_STATS, &st, "KESYNC_IOC_STATS");
	if (ret)
		return ret;
	if (c->json)
		json_object(c, &st, stats_fields, ARRAY_SIZE(stats_fields),
			    NULL);
	else
		text_fields(&st, stats_fields, ARRAY_SIZE(stats_fields));
	return 0;
}

static int cmd_hwstats(struct ctx *c)
{
	struct kesync_hw_stats hs;
	int ret;

	memset(&hs, 0, sizeof(hs));
	ret = do_ioctl(c, KESYNC_IOC_HW_STATS, &hs, "KESYNC_IOC_HW_STATS");
	if (ret)
		return ret;
	if (c->json)
		json_object(c, &hs, hw_fields, ARRAY_SIZE(hw_fields), NULL);
	else
		text_fields(&hs, hw_fields, ARRAY_SIZE(hw_fields));
	return 0;
}

static int cmd_timeout(struct ctx *c)
{
	__u32 t = c->timeout;
	int ret;

	if (c->set_timeout) {
		ret = do_ioctl(c, KESYNC_IOC_SET_TIMEOUT, &t,
			       "KESYNC_IOC_SET_TIMEOUT");
		if (ret)
			return ret;
	}
	ret = do_ioctl(c, KESYNC_IOC_GET_TIMEOUT, &t, "KESYNC_IOC_GET_TIMEOUT");
	if (ret)
		return ret;
	printf("%u\n", t);
	return 0;
}

static int cmd_reset(struct ctx *c)
{
	return do_ioctl(c, KESYNC_IOC_RESET, NULL, "KESYNC_IOC_RESET");
}

static int cmd_fault(struct ctx *c)
{
	return do_ioctl(c, KESYNC_IOC_FAULT, &c->fault, "KESYNC_IOC_FAULT");
}

static int cmd_clear(struct ctx *c)
{
	memset(&c->fault, 0, sizeof(c->fault));
	return do_ioctl(c, KESYNC_IOC_FAULT, &c->fault, "KESYNC_IOC_FAULT");
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Whole-buffer transfer: the driver moves at most 8 MiB per call. */
static int xfer_all(struct ctx *c, unsigned char *buf, size_t len, off_t off,
		    int wr)
{
	const char *what = wr ? "write" : "read";
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		if (wr)
			n = pwrite(c->fd, buf + done, len - done, off + done);
		else
			n = pread(c->fd, buf + done, len - done, off + done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return sys_error(c, what, errno);
		if (n == 0) {
			fprintf(stderr, "%s: %s: %s: end of medium at offset %llu\n",
				prog, c->dev, what,
				(unsigned long long)off + done);
			return KCTL_EXIT_RUNTIME;
		}
		done += n;
	}
	return 0;
}

static double rate(unsigned long long len, double t)
{
	return t > 0 ? len / t / 1e6 : 0;
}

static int cmd_verify(struct ctx *c)
{
	unsigned char *in = NULL, *out = NULL;
	struct kesync_info info;
	double t0, t1, t2;
	uint64_t x;
	size_t i;
	int ret;

	memset(&info, 0, sizeof(info));
	ret = do_ioctl(c, KESYNC_IOC_INFO, &info, "KESYNC_IOC_INFO");
	if (ret)
		return ret;
	if (c->off + c->len > info.unit_size) {
		fprintf(stderr, "%s: %s: verify: %llu bytes at %llu %s %llu bytes\n",
			prog, c->dev, c->len, c->off,
			"do not fit in the unit's",
			(unsigned long long)info.unit_size);
		return KCTL_EXIT_RUNTIME;
	}
	/* Odd addresses on purpose: the driver maps any user alignment. */
	in = malloc(c->len + 1);
	out = malloc(c->len + 3);
	if (!in || !out) {
		fprintf(stderr, "%s: out of memory for %llu bytes\n", prog,
			c->len);
		ret = KCTL_EXIT_RUNTIME;
		goto out;
	}
	x = (uint64_t)time(NULL) << 20 ^ getpid() ^ 0x9e3779b97f4a7c15ull;
	for (i = 0; i < c->len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		in[i + 1] = x >> 24;
	}
	t0 = now();
	ret = xfer_all(c, in + 1, c->len, c->off, 1);
	if (ret)
		goto out;
	t1 = now();
	ret = xfer_all(c, out + 3, c->len, c->off, 0);
	if (ret)
		goto out;
	t2 = now();
	if (memcmp(in + 1, out + 3, c->len)) {
		for (i = 0; i < c->len && in[i + 1] == out[i + 3]; i++)
			;
		fprintf(stderr, "%s: %s: verify: data mismatch at offset %llu\n",
			prog, c->dev, c->off + i);
		ret = KCTL_EXIT_MISMATCH;
		goto out;
	}
	printf("verify %s: %llu bytes at %llu ok (write %.1f MB/s, read %.1f MB/s)\n",
	       c->dev, c->len, c->off, rate(c->len, t1 - t0),
	       rate(c->len, t2 - t1));
out:
	free(in);
	free(out);
	return ret;
}

static const struct command commands[] = {
	{ "info", "", "the unit's geometry and modes", 1,
	  parse_none, cmd_info },
	{ "stats", "", "the unit's driver counters", 1,
	  parse_none, cmd_stats },
	{ "hwstats", "", "the controller's own counters", 1,
	  parse_none, cmd_hwstats },
	{ "timeout", "[SECONDS]", "show, or set (1..3600), the transfer timeout",
	  0, parse_timeout, cmd_timeout },
	{ "reset", "", "reset the unit's controller (CAP_SYS_ADMIN)", 0,
	  parse_none, cmd_reset },
	{ "fault", "KIND COUNT [ARG] [misdirect] [reset-delay=US]",
	  "arm a fault for COUNT transfers (CAP_SYS_ADMIN)", 0,
	  parse_fault, cmd_fault },
	{ "clear", "", "disarm the unit's faults (CAP_SYS_ADMIN)", 0,
	  parse_none, cmd_clear },
	{ "verify", "[BYTES [OFFSET]]",
	  "write random data, read it back (overwrites it)", 0,
	  parse_verify, cmd_verify },
};

static void print_help(void)
{
	char syn[64];
	size_t i;

	printf("Usage: %s [OPTION]... COMMAND [ARG]...\n"
	       "Inspect and control a unit of a kesync DMA transfer controller.\n"
	       "\n"
	       "Options:\n"
	       "  -d, --device=DEV  the unit: a name under /dev (kesync0) or a path\n"
	       "                    (/dev/kesync/by-path/...); default /dev/kesync0\n"
	       "  -j, --json        info, stats, hwstats: print one JSON object\n"
	       "  -h, --help        print this help and exit\n"
	       "  -V, --version     print the version and exit\n"
	       "\n"
	       "Commands:\n", prog);
	for (i = 0; i < ARRAY_SIZE(commands); i++) {
		snprintf(syn, sizeof(syn), "%s %s", commands[i].name,
			 commands[i].args);
		if (strlen(syn) > 24)
			printf("  %s\n  %-24s %s\n", syn, "", commands[i].help);
		else
			printf("  %-24s %s\n", syn, commands[i].help);
	}
	printf("\n"
	       "KIND: " KCTL_KINDS ", or 0..%u.\n"
	       "ARG: late: the delay in us; short: the bytes moved.  COUNT: 0..%u.\n"
	       "reset-delay=US: the next controller reset takes US us (1..%u).\n"
	       "BYTES (1 MiB by default, at most 1 GiB) and OFFSET may end in k, M or G.\n"
	       "Numbers are decimal, or 0x hexadecimal, or 0 octal.\n"
	       "\n"
	       "Exit status: 0 success; 1 the device or a system call failed;\n"
	       "2 usage error (nothing was done); 3 verify read back other data.\n"
	       "See kesyncctl(1).\n",
	       KESYNC_FAULT_KIND_MAX, KCTL_FAULT_COUNT_MAX,
	       KCTL_RESET_DELAY_MAX);
}

static const struct command *find_command(const char *name)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(commands); i++)
		if (!strcmp(name, commands[i].name))
			return &commands[i];
	return NULL;
}

static const struct option long_opts[] = {
	{ "device", required_argument, NULL, 'd' },
	{ "json", no_argument, NULL, 'j' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 }
};

/* A positional argument: not an option, or a negative number. */
static int is_positional(const char *s)
{
	return s[0] != '-' || !s[1] || isdigit((unsigned char)s[1]);
}

/*
 * Options may come before or after the command.  getopt_long() in
 * REQUIRE_ORDER mode ('+') parses them one at a time; the arguments in
 * between (and a negative number, an error to report as such) are
 * collected here, in order, into pos[].  Returns their number.
 */
static int parse_cmdline(struct ctx *c, int argc, char **argv, char **pos)
{
	int npos = 0, opt, at;

	optind = 1;
	opterr = 0;
	while (optind < argc) {
		at = optind;
		if (!strcmp(argv[at], "--")) {
			for (at++; at < argc; at++)
				pos[npos++] = argv[at];
			break;
		}
		if (is_positional(argv[at])) {
			pos[npos++] = argv[at];
			optind++;
			continue;
		}
		opt = getopt_long(argc, argv, "+:d:jhV", long_opts, NULL);
		switch (opt) {
		case 'd':
			set_device(c, optarg);
			break;
		case 'j':
			c->json = 1;
			break;
		case 'h':
			print_help();
			exit(flush_stdout());
		case 'V':
			printf("%s %s\n", prog, KESYNC_RELEASE);
			exit(flush_stdout());
		case ':':
			usage_error("option '%s' needs an argument",
				    !strncmp(argv[at], "--", 2) ? argv[at] :
				    "-d");
		case -1:
			/* Only after '--' or an argument: handled above. */
			optind++;
			break;
		default:
			/* getopt_long() sets optopt for "--json=x" only. */
			if (!strncmp(argv[at], "--", 2) && optopt)
				usage_error("option '%.*s' takes no argument",
					    (int)strcspn(argv[at], "="), argv[at]);
			if (!strncmp(argv[at], "--", 2))
				usage_error("unknown option '%s'", argv[at]);
			usage_error("unknown option '-%c'", optopt);
		}
	}
	return npos;
}

int main(int argc, char **argv)
{
	const struct command *cmd;
	struct ctx c;
	char **pos;
	int npos, ret;

	memset(&c, 0, sizeof(c));
	c.dev = "/dev/kesync0";
	c.fd = -1;
	pos = calloc(argc + 1, sizeof(*pos));
	if (!pos) {
		fprintf(stderr, "%s: out of memory\n", prog);
		return KCTL_EXIT_RUNTIME;
	}
	npos = parse_cmdline(&c, argc, argv, pos);
	if (!npos)
		usage_error("no command given");
	cmd = find_command(pos[0]);
	if (!cmd)
		usage_error("unknown command '%s'", pos[0]);
	/* The DEV argument of older versions: kesyncctl info /dev/kesync1. */
	if (npos > 1 && strchr(pos[1], '/')) {
		set_device(&c, pos[1]);
		memmove(&pos[1], &pos[2], (npos - 1) * sizeof(*pos));
		npos--;
	}
	if (c.json && !cmd->json)
		usage_error("%s: no JSON output (--json is for info, stats and hwstats)",
			    cmd->name);
	cmd->parse(&c, npos, pos);

	ret = open_dev(&c, !strcmp(cmd->name, "verify") ? O_RDWR : O_RDONLY);
	if (!ret)
		ret = cmd->run(&c);
	if (c.fd >= 0)
		close(c.fd);
	free(pos);
	if (flush_stdout() && ret == KCTL_EXIT_OK)
		ret = KCTL_EXIT_RUNTIME;
	return ret;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * kesync_cli: kesyncctl (/kesync/bin/kesyncctl, the project's static build)
 * against the real /dev/kesync0.  Its JSON output parses as strict JSON
 * (RFC 8259, checked by the small parser below, which checks itself first)
 * and says what the ioctls and the sysfs stats files say at the same
 * moment; the text output, device names, the timeout round trip, usage
 * errors (exit 2, nothing done, nothing on stdout) and the runtime errors
 * of a user who may not open the unit (exit 1, "Permission denied") or
 * lacks CAP_SYS_ADMIN (a hint naming it).
 *
 * KESYNCCTL in the environment names another binary to test.
 */
#define _GNU_SOURCE
#include <grp.h>
#include <limits.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <linux/capability.h>

#include "kesync_test.h"	/* and kselftest_harness.h */

#define CTL_DEFAULT	"/kesync/bin/kesyncctl"
#define CTL_TIMEOUT	20.0	/* seconds for one kesyncctl run */
#define CTL_OUT_MAX	65536
#define NOBODY		65534
#define CLS		"/sys/class/kesync/kesync0"

/* ---- a strict JSON parser ------------------------------------------------ */

enum jtype { J_NULL, J_FALSE, J_TRUE, J_NUM, J_STR, J_ARR, J_OBJ };

struct jval {
	enum jtype type;
	char *s;		/* J_STR: the decoded UTF-8; J_NUM: the literal */
	size_t n;		/* J_ARR, J_OBJ: members */
	char **keys;		/* J_OBJ */
	struct jval *v;		/* J_ARR, J_OBJ */
};

struct jparser {
	const char *p, *start, *end;
	int depth;
	char err[160];
};

#define J_MAX_DEPTH 64

static int jfail(struct jparser *jp, const char *what)
{
	if (!jp->err[0])
		snprintf(jp->err, sizeof(jp->err), "%s at byte %zu", what,
			 (size_t)(jp->p - jp->start));
	return -1;
}

static void jws(struct jparser *jp)
{
	while (jp->p < jp->end && (*jp->p == ' ' || *jp->p == '\t' ||
				   *jp->p == '\n' || *jp->p == '\r'))
		jp->p++;
}

static void jfree(struct jval *v)
{
	size_t i;

	if (v->type == J_ARR || v->type == J_OBJ) {
		for (i = 0; i < v->n; i++) {
			jfree(&v->v[i]);
			if (v->keys)
				free(v->keys[i]);
		}
		free(v->v);
		free(v->keys);
	}
	free(v->s);
	memset(v, 0, sizeof(*v));
}

static int jhex4(struct jparser *jp, unsigned int *cp)
{
	unsigned int i, c = 0;

	if (jp->end - jp->p < 4)
		return jfail(jp, "short \\u escape");
	for (i = 0; i < 4; i++) {
		char h = jp->p[i];

		c <<= 4;
		if (h >= '0' && h <= '9')
			c |= h - '0';
		else if (h >= 'a' && h <= 'f')
			c |= h - 'a' + 10;
		else if (h >= 'A' && h <= 'F')
			c |= h - 'A' + 10;
		else
			return jfail(jp, "bad \\u escape");
	}
	jp->p += 4;
	*cp = c;
	return 0;
}

static size_t utf8_put(char *o, unsigned int cp)
{
	if (cp < 0x80) {
		o[0] = cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = 0xc0 | cp >> 6;
		o[1] = 0x80 | (cp & 0x3f);
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = 0xe0 | cp >> 12;
		o[1] = 0x80 | ((cp >> 6) & 0x3f);
		o[2] = 0x80 | (cp & 0x3f);
		return 3;
	}
	o[0] = 0xf0 | cp >> 18;
	o[1] = 0x80 | ((cp >> 12) & 0x3f);
	o[2] = 0x80 | ((cp >> 6) & 0x3f);
	o[3] = 0x80 | (cp & 0x3f);
	return 4;
}

/* Length of the valid UTF-8 sequence (2 to 4 bytes) at s, or 0. */
static size_t utf8_seq(const unsigned char *s, size_t avail)
{
	unsigned int cp;
	size_t n, i;

	if (s[0] < 0xc2 || s[0] > 0xf4)
		return 0;
	n = s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : 4;
	if (avail < n)
		return 0;
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

/* A string at jp->p (on its opening quote), decoded into a new buffer. */
static int jstring(struct jparser *jp, char **out)
{
	/* Decoded, a string is never longer than its JSON text. */
	char *o = malloc(jp->end - jp->p + 1);
	size_t len = 0, n;
	unsigned int cp, lo;

	if (!o)
		return jfail(jp, "out of memory");
	jp->p++;
	for (;;) {
		unsigned char c;

		if (jp->p >= jp->end) {
			free(o);
			return jfail(jp, "unterminated string");
		}
		c = *jp->p;
		if (c == '"') {
			jp->p++;
			break;
		}
		if (c < 0x20) {
			free(o);
			return jfail(jp, "control character in a string");
		}
		if (c >= 0x80) {
			n = utf8_seq((const unsigned char *)jp->p,
				     jp->end - jp->p);
			if (!n) {
				free(o);
				return jfail(jp, "invalid UTF-8");
			}
			memcpy(o + len, jp->p, n);
			len += n;
			jp->p += n;
			continue;
		}
		jp->p++;
		if (c != '\\') {
			o[len++] = c;
			continue;
		}
		if (jp->p >= jp->end) {
			free(o);
			return jfail(jp, "unterminated escape");
		}
		c = *jp->p++;
		switch (c) {
		case '"':
		case '\\':
		case '/':
			o[len++] = c;
			break;
		case 'b':
			o[len++] = '\b';
			break;
		case 'f':
			o[len++] = '\f';
			break;
		case 'n':
			o[len++] = '\n';
			break;
		case 'r':
			o[len++] = '\r';
			break;
		case 't':
			o[len++] = '\t';
			break;
		case 'u':
			if (jhex4(jp, &cp))
				goto bad;
			if (cp >= 0xdc00 && cp <= 0xdfff) {
				jfail(jp, "lone low surrogate");
				goto bad;
			}
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (jp->end - jp->p < 2 || jp->p[0] != '\\' ||
				    jp->p[1] != 'u') {
					jfail(jp, "lone high surrogate");
					goto bad;
				}
				jp->p += 2;
				if (jhex4(jp, &lo))
					goto bad;
				if (lo < 0xdc00 || lo > 0xdfff) {
					jfail(jp, "bad low surrogate");
					goto bad;
				}
				cp = 0x10000 + ((cp - 0xd800) << 10) +
				     (lo - 0xdc00);
			}
			len += utf8_put(o + len, cp);
			break;
		default:
			jfail(jp, "unknown escape");
			goto bad;
		}
	}
	o[len] = '\0';
	*out = o;
	return 0;
bad:
	free(o);
	return -1;
}

static int isdig(char c)
{
	return c >= '0' && c <= '9';
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int jnumber(struct jparser *jp, struct jval *v)
{
	const char *s = jp->p;

	if (jp->p < jp->end && *jp->p == '-')
		jp->p++;
	if (jp->p >= jp->end || !isdig(*jp->p))
		return jfail(jp, "bad number");
	if (*jp->p == '0') {
		jp->p++;
		if (jp->p < jp->end && isdig(*jp->p))
			return jfail(jp, "leading zero");
	} else {
		while (jp->p < jp->end && isdig(*jp->p))
			jp->p++;
	}
	if (jp->p < jp->end && *jp->p == '.') {
		jp->p++;
		if (jp->p >= jp->end || !isdig(*jp->p))
			return jfail(jp, "no digit after '.'");
		while (jp->p < jp->end && isdig(*jp->p))
			jp->p++;
	}
	if (jp->p < jp->end && (*jp->p == 'e' || *jp->p == 'E')) {
		jp->p++;
		if (jp->p < jp->end && (*jp->p == '+' || *jp->p == '-'))
			jp->p++;
		if (jp->p >= jp->end || !isdig(*jp->p))
			return jfail(jp, "no digit in the exponent");
		while (jp->p < jp->end && isdig(*jp->p))
			jp->p++;
	}
	v->type = J_NUM;
	v->s = strndup(s, jp->p - s);
	return v->s ? 0 : jfail(jp, "out of memory");
}

static int jvalue(struct jparser *jp, struct jval *v);

/* Append a zeroed member to an array or object; NULL without memory. */
static struct jval *jgrow(struct jval *v)
{
	struct jval *nv = realloc(v->v, (v->n + 1) * sizeof(*nv));

	if (!nv)
		return NULL;
	v->v = nv;
	if (v->type == J_OBJ) {
		char **nk = realloc(v->keys, (v->n + 1) * sizeof(*nk));

		if (!nk)
			return NULL;
		v->keys = nk;
		v->keys[v->n] = NULL;
	}
	memset(&v->v[v->n], 0, sizeof(*nv));
	return &v->v[v->n++];
}

/* An array or object at jp->p (on its opening bracket). */
static int jcontainer(struct jparser *jp, struct jval *v, int obj)
{
	char close = obj ? '}' : ']';
	struct jval *m;
	size_t i;
	char *key;

	if (++jp->depth > J_MAX_DEPTH)
		return jfail(jp, "nested too deeply");
	v->type = obj ? J_OBJ : J_ARR;
	jp->p++;
	jws(jp);
	if (jp->p < jp->end && *jp->p == close) {
		jp->p++;
		jp->depth--;
		return 0;
	}
	for (;;) {
		key = NULL;
		if (obj) {
			jws(jp);
			if (jp->p >= jp->end || *jp->p != '"')
				return jfail(jp, "expected a key");
			if (jstring(jp, &key))
				return -1;
			for (i = 0; i < v->n; i++) {
				if (!strcmp(v->keys[i], key)) {
					free(key);
					return jfail(jp, "duplicate key");
				}
			}
			jws(jp);
			if (jp->p >= jp->end || *jp->p != ':') {
				free(key);
				return jfail(jp, "expected ':'");
			}
			jp->p++;
		}
		m = jgrow(v);
		if (!m) {
			free(key);
			return jfail(jp, "out of memory");
		}
		if (obj)
			v->keys[v->n - 1] = key;
		if (jvalue(jp, m))
			return -1;
		jws(jp);
		if (jp->p < jp->end && *jp->p == ',') {
			jp->p++;
			continue;
		}
		if (jp->p < jp->end && *jp->p == close) {
			jp->p++;
			jp->depth--;
			return 0;
		}
		return jfail(jp, obj ? "expected ',' or '}'" :
			     "expected ',' or ']'");
	}
}

static int jliteral(struct jparser *jp, const char *word, struct jval *v,
		    enum jtype t)
{
	size_t n = strlen(word);

	if ((size_t)(jp->end - jp->p) < n || memcmp(jp->p, word, n))
		return jfail(jp, "unexpected character");
	jp->p += n;
	v->type = t;
	return 0;
}

static int jvalue(struct jparser *jp, struct jval *v)
{
	jws(jp);
	if (jp->p >= jp->end)
		return jfail(jp, "unexpected end");
	switch (*jp->p) {
	case '{':
		return jcontainer(jp, v, 1);
	case '[':
		return jcontainer(jp, v, 0);
	case '"':
		v->type = J_STR;
		return jstring(jp, &v->s);
	case 't':
		return jliteral(jp, "true", v, J_TRUE);
	case 'f':
		return jliteral(jp, "false", v, J_FALSE);
	case 'n':
		return jliteral(jp, "null", v, J_NULL);
	default:
		if (*jp->p != '-' && !isdig(*jp->p))
			return jfail(jp, "unexpected character");
		return jnumber(jp, v);
	}
}

/*
 * Parse len bytes of text as one JSON value (and whitespace around it)
 * into *v.  Returns 0, or -1 with the reason in err (and *v freed).
 */
static int json_parse(const char *text, size_t len, struct jval *v,
		      char *err, size_t errlen)
{
	struct jparser jp = { .p = text, .start = text, .end = text + len };

	memset(v, 0, sizeof(*v));
	if (!jvalue(&jp, v)) {
		jws(&jp);
		if (jp.p == jp.end)
			return 0;
		jfail(&jp, "trailing characters");
	}
	snprintf(err, errlen, "%s", jp.err);
	jfree(v);
	return -1;
}

static const struct jval *json_get(const struct jval *obj, const char *key)
{
	size_t i;

	if (obj->type != J_OBJ)
		return NULL;
	for (i = 0; i < obj->n; i++)
		if (!strcmp(obj->keys[i], key))
			return &obj->v[i];
	return NULL;
}

/* A number that is a non-negative integer below 2^64, into *u. */
static int json_u64(const struct jval *v, unsigned long long *u)
{
	char *end;

	if (!v || v->type != J_NUM || !isdig(v->s[0]) ||
	    v->s[strspn(v->s, "0123456789")])
		return -1;
	errno = 0;
	*u = strtoull(v->s, &end, 10);
	return errno || *end ? -1 : 0;
}

/* ---- running kesyncctl --------------------------------------------------- */

struct run {
	int status;		/* exit status; -1: killed or timed out */
	size_t outlen, errlen;
	char out[CTL_OUT_MAX];
	char err[CTL_OUT_MAX];
};

/* Who the child runs as. */
enum who {
	AS_ROOT,		/* the test's own credentials */
	AS_NOBODY,		/* uid/gid 65534, no supplementary group */
	AS_GROUP,		/* nobody, with the unit's group */
	AS_NO_ADMIN,		/* root without CAP_SYS_ADMIN */
};

static const char *ctl_path(void)
{
	return kt_env_str("KESYNCCTL", CTL_DEFAULT);
}

static int drop_sys_admin(void)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct d[2];

	/* Out of the bounding set: exec does not give it back to root. */
	if (prctl(PR_CAPBSET_DROP, CAP_SYS_ADMIN, 0, 0, 0))
		return -1;
	if (syscall(SYS_capget, &h, d))
		return -1;
	d[CAP_SYS_ADMIN / 32].effective &= ~(1u << (CAP_SYS_ADMIN % 32));
	d[CAP_SYS_ADMIN / 32].permitted &= ~(1u << (CAP_SYS_ADMIN % 32));
	d[CAP_SYS_ADMIN / 32].inheritable &= ~(1u << (CAP_SYS_ADMIN % 32));
	return syscall(SYS_capset, &h, d);
}

static void ctl_child(enum who as, gid_t group, const char **argv,
		      int ofd, int efd)
{
	int nul = open("/dev/null", O_RDONLY);
	int ret = 0;

	if (nul < 0 || dup2(nul, 0) < 0 || dup2(ofd, 1) < 0 ||
	    dup2(efd, 2) < 0)
		_exit(125);
	switch (as) {
	case AS_ROOT:
		break;
	case AS_NOBODY:
	case AS_GROUP:
		ret = setgroups(as == AS_GROUP ? 1 : 0, &group);
		if (!ret)
			ret = setgid(NOBODY);
		if (!ret)
			ret = setuid(NOBODY);
		break;
	case AS_NO_ADMIN:
		ret = drop_sys_admin();
		break;
	}
	if (ret) {
		dprintf(2, "kesync_cli: dropping privileges: %s\n",
			strerror(errno));
		_exit(126);
	}
	execv(argv[0], (char *const *)argv);
	dprintf(2, "kesync_cli: exec %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

/*
 * Run kesyncctl ARGS... (a NULL-terminated list) as @as, bounded; its
 * stdout, stderr and exit status into *r.  Returns 0, or -1 if it could
 * not be run or did not finish in time.
 */
static int ctl_run(struct run *r, enum who as, gid_t group,
		   const char *const *args)
{
	const char *argv[32];
	struct pollfd p[2];
	int o[2], e[2], st = 0, n = 1, open_fds = 2;
	double end = kt_now() + CTL_TIMEOUT;
	pid_t pid;

	memset(r, 0, offsetof(struct run, out));
	r->out[0] = '\0';
	r->err[0] = '\0';
	r->status = -1;
	argv[0] = ctl_path();
	while (*args && n < (int)ARRAY_SIZE(argv) - 1)
		argv[n++] = *args++;
	argv[n] = NULL;
	if (pipe2(o, O_CLOEXEC))
		return -1;
	if (pipe2(e, O_CLOEXEC)) {
		close(o[0]);
		close(o[1]);
		return -1;
	}
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0)
		ctl_child(as, group, argv, o[1], e[1]);
	close(o[1]);
	close(e[1]);
	p[0].fd = o[0];
	p[1].fd = e[0];
	p[0].events = POLLIN;
	p[1].events = POLLIN;
	while (open_fds) {
		int left = (int)((end - kt_now()) * 1000), i;

		if (left <= 0 || poll(p, 2, left) <= 0)
			break;
		for (i = 0; i < 2; i++) {
			char *buf = i ? r->err : r->out;
			size_t *len = i ? &r->errlen : &r->outlen;
			ssize_t got;

			if (p[i].fd < 0 || !p[i].revents)
				continue;
			got = read(p[i].fd, buf + *len, CTL_OUT_MAX - 1 - *len);
			if (got > 0) {
				*len += got;
				buf[*len] = '\0';
				continue;
			}
			close(p[i].fd);
			p[i].fd = -1;
			open_fds--;
		}
	}
	if (p[0].fd >= 0)
		close(p[0].fd);
	if (p[1].fd >= 0)
		close(p[1].fd);
	if (open_fds || kt_waitpid(pid, end > kt_now() ? end - kt_now() : 1,
				   &st)) {
		kt_kill_reap(pid);
		return -1;
	}
	if (WIFEXITED(st))
		r->status = WEXITSTATUS(st);
	return 0;
}

/* Run and assert it ran; the command line is logged on failure. */
#define RUN(r, who, group, ...) do {					\
	const char *const __a[] = { __VA_ARGS__, NULL };		\
	ASSERT_EQ(0, ctl_run((r), (who), (group), __a))			\
		TH_LOG("%s %s...: did not finish in %.0f s",		\
		       ctl_path(), __a[0], CTL_TIMEOUT);		\
} while (0)

/* One JSON object: the output, parsed, with nothing else on stdout. */
static int parse_output(struct __test_metadata *_metadata,
			const struct run *r, struct jval *v)
{
	char err[200];

	if (r->outlen == 0 || r->out[r->outlen - 1] != '\n' ||
	    memchr(r->out, '\n', r->outlen - 1)) {
		TH_LOG("not one line: '%s'", r->out);
		return -1;
	}
	if (json_parse(r->out, r->outlen, v, err, sizeof(err))) {
		TH_LOG("invalid JSON (%s): %s", err, r->out);
		return -1;
	}
	if (v->type != J_OBJ) {
		TH_LOG("not a JSON object: %s", r->out);
		jfree(v);
		return -1;
	}
	return 0;
}

/* A field of a UAPI structure: its name is the JSON key. */
struct field {
	const char *name;
	size_t off;
	size_t size;
};

/* checkpatch-ok: MACRO_ARG_REUSE: f is a member name, no side effects */
#define FIELD(type, f) \
	{ #f, offsetof(struct type, f), sizeof(((struct type *)0)->f) }

static const struct field info_fields[] = {
	FIELD(kesync_info, version), FIELD(kesync_info, units),
	FIELD(kesync_info, unit), FIELD(kesync_info, minor),
	FIELD(kesync_info, max_segs), FIELD(kesync_info, max_xfer),
	FIELD(kesync_info, irq_mode), FIELD(kesync_info, pump),
	FIELD(kesync_info, timeout), FIELD(kesync_info, unit_size),
};

static const struct field stats_fields[] = {
	FIELD(kesync_stats, requests), FIELD(kesync_stats, bytes),
	FIELD(kesync_stats, partials), FIELD(kesync_stats, timeouts),
	FIELD(kesync_stats, lost_irqs), FIELD(kesync_stats, resets),
	FIELD(kesync_stats, cancels), FIELD(kesync_stats, ctrl_waits),
	FIELD(kesync_stats, spurious), FIELD(kesync_stats, errors),
	FIELD(kesync_stats, short_xfers), FIELD(kesync_stats, hw_busy),
};

static const struct field hw_fields[] = {
	FIELD(kesync_hw_stats, mmio_reads), FIELD(kesync_hw_stats, mmio_writes),
	FIELD(kesync_hw_stats, ctrl_busy), FIELD(kesync_hw_stats, late_dma),
	FIELD(kesync_hw_stats, xfers), FIELD(kesync_hw_stats, resets),
	FIELD(kesync_hw_stats, irqs), FIELD(kesync_hw_stats, dma_errors),
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

/*
 * Every key of obj is one of fields[] or of the strings in extra[] (NULL
 * terminated), and every field is there as an integer: returns the number
 * of problems, logged.
 */
static int check_keys(struct __test_metadata *_metadata,
		      const struct jval *obj, const struct field *fields,
		      size_t n, const char *const *extra)
{
	unsigned long long u;
	int bad = 0, known;
	size_t i, k;

	for (i = 0; i < obj->n; i++) {
		known = 0;
		for (k = 0; k < n; k++)
			known |= !strcmp(obj->keys[i], fields[k].name);
		for (k = 0; extra[k]; k++) {
			if (strcmp(obj->keys[i], extra[k]))
				continue;
			known = 1;
			if (obj->v[i].type != J_STR) {
				TH_LOG("\"%s\" is not a string", extra[k]);
				bad++;
			}
		}
		if (!known) {
			TH_LOG("unknown key \"%s\" (not in kesyncctl.1)",
			       obj->keys[i]);
			bad++;
		}
	}
	for (k = 0; k < n; k++) {
		if (json_u64(json_get(obj, fields[k].name), &u)) {
			TH_LOG("\"%s\" missing or not an unsigned integer",
			       fields[k].name);
			bad++;
		}
	}
	return bad;
}

/* /sys/class/kesync/kesync0/stats/<name> of every counter into v[]. */
static int sysfs_stats(unsigned long long *v)
{
	char path[160], buf[64];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(stats_fields); i++) {
		int fd;
		ssize_t n;

		snprintf(path, sizeof(path), CLS "/stats/%s",
			 stats_fields[i].name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return -1;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			return -1;
		buf[n] = '\0';
		v[i] = strtoull(buf, NULL, 10);
	}
	return 0;
}

/* ---- the tests ----------------------------------------------------------- */

/* The parser takes what RFC 8259 allows and nothing else. */
TEST(json_parser_is_strict)
{
	static const char *const good[] = {
		"{}", "[]", " 0 ", "-0.5e+3", "\"\\/\"", "null", "true",
		"{\"a\": [1, -0.5E-3, true, false, null, {}], \"b\": {\"c\": \"\"}}",
		"\"\\u00e9\\ud83d\\ude00\\n\\t\\\"\\\\ \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"",
		"{\"n\": 18446744073709551615}",
	};
	static const char *const bad[] = {
		"", " ", "{", "}", "{\"a\":1,}", "[1,]", "[1 2]", "{'a':1}",
		"{\"a\":01}", "{\"a\":1.}", "{\"a\":.5}", "{\"a\":+1}",
		"{\"a\":NaN}", "{\"a\":-}", "1e", "tru", "nul", "\"abc",
		"\"a\x01\"", "\"\\q\"", "\"\\ud800\"", "\"\\udc00\"",
		"\"\\ud800\\u0041\"", "\"\\u12g4\"", "\"\xc0\x80\"", "\"\xff\"",
		"\"\xed\xa0\x80\"", "{\"a\":1}x", "{\"a\":1 \"b\":2}",
		"{\"a\" 1}", "{\"a\":1,\"a\":2}", "{1:2}", "[1]]", "0x10",
	};
	static const char too_big[] = "{\"n\": 18446744073709551616}";
	unsigned long long u = 0;
	struct jval v;
	char err[200];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(good); i++) {
		EXPECT_EQ(0, json_parse(good[i], strlen(good[i]), &v, err,
					sizeof(err)))
			TH_LOG("refused valid JSON %s: %s", good[i], err);
		jfree(&v);
	}
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		EXPECT_EQ(-1, json_parse(bad[i], strlen(bad[i]), &v, err,
					 sizeof(err)))
			TH_LOG("took invalid JSON '%s'", bad[i]);
		jfree(&v);
	}
	/* What a string decodes to, and a u64 at its limit. */
	ASSERT_EQ(0, json_parse(good[8], strlen(good[8]), &v, err, sizeof(err)));
	EXPECT_STREQ("\xc3\xa9\xf0\x9f\x98\x80\n\t\"\\ \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80",
		     v.s);
	jfree(&v);
	ASSERT_EQ(0, json_parse(good[9], strlen(good[9]), &v, err, sizeof(err)));
	EXPECT_EQ(0, json_u64(json_get(&v, "n"), &u));
	EXPECT_EQ(ULLONG_MAX, u);
	jfree(&v);
	ASSERT_EQ(0, json_parse(too_big, strlen(too_big), &v, err,
				sizeof(err)));
	EXPECT_EQ(-1, json_u64(json_get(&v, "n"), &u));
	jfree(&v);
}

FIXTURE(cli) {
	int fd;
	struct kesync_info info;
	unsigned int timeout;
	struct run r;
};

FIXTURE_SETUP(cli)
{
	ASSERT_EQ(0, access(ctl_path(), X_OK))
		TH_LOG("%s: %s", ctl_path(), strerror(errno));
	self->fd = kt_open_unit(0);
	ASSERT_LE(0, self->fd) TH_LOG("open /dev/kesync0: %s", strerror(errno));
	ASSERT_EQ(0, kt_info(self->fd, &self->info));
	self->timeout = self->info.timeout;
}

FIXTURE_TEARDOWN(cli)
{
	/* Whatever a test did to the timeout, it is put back. */
	if (self->fd >= 0) {
		kt_set_timeout(self->fd, self->timeout);
		close(self->fd);
	}
}

/* info --json says what KESYNC_IOC_INFO says, before and after it. */
TEST_F(cli, info_json_matches_ioctl)
{
	static const char *const extra[] = {
		"device", "irq_mode_name", "pump_name", NULL
	};
	static const char *const irq[] = { "msix", "msi", "intx" };
	static const char *const pump[] = { "startio", "thread" };
	struct kesync_info before, after;
	const struct jval *s;
	unsigned long long u;
	struct jval v;
	size_t i;

	ASSERT_EQ(0, kt_info(self->fd, &before));
	RUN(&self->r, AS_ROOT, 0, "info", "--json");
	ASSERT_EQ(0, kt_info(self->fd, &after));
	ASSERT_EQ(0, self->r.status) TH_LOG("stderr: %s", self->r.err);
	EXPECT_EQ(0, self->r.errlen) TH_LOG("stderr: %s", self->r.err);
	ASSERT_EQ(0, memcmp(&before, &after, sizeof(before)));
	ASSERT_EQ(0, parse_output(_metadata, &self->r, &v));
	EXPECT_EQ(0, check_keys(_metadata, &v, info_fields,
				ARRAY_SIZE(info_fields), extra));
	for (i = 0; i < ARRAY_SIZE(info_fields); i++) {
		u = ~0ull;
		json_u64(json_get(&v, info_fields[i].name), &u);
		EXPECT_EQ(field_get(&before, &info_fields[i]), u)
			TH_LOG("\"%s\"", info_fields[i].name);
	}
	s = json_get(&v, "device");
	ASSERT_TRUE(s && s->type == J_STR);
	EXPECT_STREQ("/dev/kesync0", s->s);
	s = json_get(&v, "irq_mode_name");
	ASSERT_TRUE(s && s->type == J_STR);
	ASSERT_GT(ARRAY_SIZE(irq), before.irq_mode);
	EXPECT_STREQ(irq[before.irq_mode], s->s);
	s = json_get(&v, "pump_name");
	ASSERT_TRUE(s && s->type == J_STR);
	ASSERT_GT(ARRAY_SIZE(pump), before.pump);
	EXPECT_STREQ(pump[before.pump], s->s);
	jfree(&v);
}

/*
 * stats --json says what the sysfs files and KESYNC_IOC_STATS say at the
 * same moment: nothing moves data in between (checked: the files read the
 * same before and after; a retry if anything else did I/O meanwhile).
 */
TEST_F(cli, stats_json_matches_sysfs_and_ioctl)
{
	static const char *const extra[] = { "device", NULL };
	unsigned long long before[ARRAY_SIZE(stats_fields)];
	unsigned long long after[ARRAY_SIZE(stats_fields)];
	struct kesync_stats st;
	unsigned long long u;
	int tries, quiet = 0;
	struct jval v;
	size_t i;

	/* Some counters other than zero: a few requests of our own. */
	ASSERT_EQ(4096, kt_pwrite_pat(self->fd, 4096, 0, kt_seed ^ 0xc11));
	ASSERT_EQ(0, kt_pread_check(self->fd, 4096, 0, kt_seed ^ 0xc11));
	for (tries = 0; tries < 5 && !quiet; tries++) {
		ASSERT_EQ(0, sysfs_stats(before)) TH_LOG("%s/stats", CLS);
		RUN(&self->r, AS_ROOT, 0, "-d", "kesync0", "--json", "stats");
		ASSERT_EQ(0, kt_stats(self->fd, &st));
		ASSERT_EQ(0, sysfs_stats(after));
		quiet = !memcmp(before, after, sizeof(before));
	}
	ASSERT_TRUE(quiet) TH_LOG("the counters kept moving: other I/O?");
	ASSERT_EQ(0, self->r.status) TH_LOG("stderr: %s", self->r.err);
	EXPECT_EQ(0, self->r.errlen) TH_LOG("stderr: %s", self->r.err);
	ASSERT_EQ(0, parse_output(_metadata, &self->r, &v));
	EXPECT_EQ(0, check_keys(_metadata, &v, stats_fields,
				ARRAY_SIZE(stats_fields), extra));
	EXPECT_LT(0, before[0]);	/* requests */
	for (i = 0; i < ARRAY_SIZE(stats_fields); i++) {
		u = ~0ull;
		json_u64(json_get(&v, stats_fields[i].name), &u);
		EXPECT_EQ(before[i], u) TH_LOG("\"%s\" vs sysfs",
					       stats_fields[i].name);
		EXPECT_EQ(field_get(&st, &stats_fields[i]), u)
			TH_LOG("\"%s\" vs KESYNC_IOC_STATS",
			       stats_fields[i].name);
	}
	jfree(&v);
}

/*
 * hwstats --json: every counter of KESYNC_IOC_HW_STATS, between what the
 * ioctl says before and after (reading them is MMIO the device counts).
 */
TEST_F(cli, hwstats_json_within_ioctl_reads)
{
	static const char *const extra[] = { "device", NULL };
	struct kesync_hw_stats before, after;
	unsigned long long u;
	struct jval v;
	size_t i;

	ASSERT_EQ(0, kt_hw(self->fd, &before));
	RUN(&self->r, AS_ROOT, 0, "hwstats", "-j");
	ASSERT_EQ(0, kt_hw(self->fd, &after));
	ASSERT_EQ(0, self->r.status) TH_LOG("stderr: %s", self->r.err);
	ASSERT_EQ(0, parse_output(_metadata, &self->r, &v));
	EXPECT_EQ(0, check_keys(_metadata, &v, hw_fields,
				ARRAY_SIZE(hw_fields), extra));
	for (i = 0; i < ARRAY_SIZE(hw_fields); i++) {
		u = ~0ull;
		json_u64(json_get(&v, hw_fields[i].name), &u);
		EXPECT_LE(field_get(&before, &hw_fields[i]), u)
			TH_LOG("\"%s\"", hw_fields[i].name);
		EXPECT_GE(field_get(&after, &hw_fields[i]), u)
			TH_LOG("\"%s\"", hw_fields[i].name);
	}
	jfree(&v);
}

/* The text info: exit 0, the ioctl's values, nothing on stderr. */
TEST_F(cli, info_text)
{
	unsigned int unit, units, minor, t;
	unsigned long long size;
	char want[64];
	const char *p;
	int n;

	RUN(&self->r, AS_ROOT, 0, "info");
	ASSERT_EQ(0, self->r.status) TH_LOG("stderr: %s", self->r.err);
	EXPECT_EQ(0, self->r.errlen) TH_LOG("stderr: %s", self->r.err);
	EXPECT_EQ(0, strncmp(self->r.out, "device      /dev/kesync0\n", 25))
		TH_LOG("%s", self->r.out);
	p = strstr(self->r.out, "\nunit ");
	ASSERT_NE(NULL, p) TH_LOG("%s", self->r.out);
	n = sscanf(p, " unit %u of %u (minor %u)", &unit, &units, &minor);
	ASSERT_EQ(3, n);
	EXPECT_EQ(self->info.unit, unit);
	EXPECT_EQ(self->info.units, units);
	EXPECT_EQ(self->info.minor, minor);
	p = strstr(self->r.out, "\nunit_size ");
	ASSERT_NE(NULL, p);
	n = sscanf(p, " unit_size %llu", &size);
	ASSERT_EQ(1, n);
	EXPECT_EQ(self->info.unit_size, size);
	p = strstr(self->r.out, "\ntimeout ");
	ASSERT_NE(NULL, p);
	n = sscanf(p, " timeout %u", &t);
	ASSERT_EQ(1, n);
	EXPECT_EQ(self->info.timeout, t);
	snprintf(want, sizeof(want), "\nversion     %u.%u\n",
		 self->info.version >> 16, self->info.version & 0xffff);
	EXPECT_NE(NULL, strstr(self->r.out, want)) TH_LOG("%s", self->r.out);
}

/* kesync0, /dev/kesync0 and the old positional DEV name the same unit. */
TEST_F(cli, device_names)
{
	static const char *const forms[][3] = {
		{ "-d", "kesync0", "info" },
		{ "--device=kesync0", "info", NULL },
		{ "-d", "/dev/kesync0", "info" },
		{ "info", "/dev/kesync0", NULL },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(forms); i++) {
		const char *const a[] = {
			forms[i][0], forms[i][1], forms[i][2], NULL
		};

		ASSERT_EQ(0, ctl_run(&self->r, AS_ROOT, 0, a));
		EXPECT_EQ(0, self->r.status)
			TH_LOG("%s %s: %s", a[0], a[1], self->r.err);
		EXPECT_EQ(0, strncmp(self->r.out, "device      /dev/kesync0\n",
				     25))
			TH_LOG("%s %s: %s", a[0], a[1], self->r.out);
	}
	if (self->info.units > 1) {
		unsigned long long u = ~0ull;
		struct jval v;

		RUN(&self->r, AS_ROOT, 0, "-j", "-d", "kesync1", "info");
		ASSERT_EQ(0, self->r.status) TH_LOG("%s", self->r.err);
		ASSERT_EQ(0, parse_output(_metadata, &self->r, &v));
		EXPECT_EQ(0, json_u64(json_get(&v, "unit"), &u));
		EXPECT_EQ(1, u);
		ASSERT_NE(NULL, json_get(&v, "device"));
		EXPECT_STREQ("/dev/kesync1", json_get(&v, "device")->s);
		jfree(&v);
	}
}

/* timeout: show, set, show, restore, each as KESYNC_IOC_GET_TIMEOUT says. */
TEST_F(cli, timeout_round_trip)
{
	unsigned int was = kt_get_timeout(self->fd);
	unsigned int want = was == 7 ? 9 : 7;
	char buf[32];

	RUN(&self->r, AS_ROOT, 0, "timeout");
	ASSERT_EQ(0, self->r.status) TH_LOG("%s", self->r.err);
	snprintf(buf, sizeof(buf), "%u\n", was);
	EXPECT_STREQ(buf, self->r.out);

	snprintf(buf, sizeof(buf), "%u", want);
	RUN(&self->r, AS_ROOT, 0, "-d", "kesync0", "timeout", buf);
	ASSERT_EQ(0, self->r.status) TH_LOG("%s", self->r.err);
	EXPECT_EQ(want, kt_get_timeout(self->fd));
	strcat(buf, "\n");
	EXPECT_STREQ(buf, self->r.out);

	RUN(&self->r, AS_ROOT, 0, "timeout");
	EXPECT_STREQ(buf, self->r.out);

	/* Hexadecimal, as documented. */
	RUN(&self->r, AS_ROOT, 0, "timeout", "0x10");
	ASSERT_EQ(0, self->r.status) TH_LOG("%s", self->r.err);
	EXPECT_EQ(16, kt_get_timeout(self->fd));

	snprintf(buf, sizeof(buf), "%u", was);
	RUN(&self->r, AS_ROOT, 0, "timeout", buf);
	ASSERT_EQ(0, self->r.status) TH_LOG("%s", self->r.err);
	EXPECT_EQ(was, kt_get_timeout(self->fd));
}

/*
 * Usage errors: exit 2, a message naming the bad argument and nothing on
 * stdout, and nothing done (the timeout stays).
 */
TEST_F(cli, usage_errors_change_nothing)
{
	static const char *const cases[][4] = {
		{ "timeout", "abc", NULL, "'abc'" },
		{ "timeout", "0", NULL, "'0'" },
		{ "timeout", "-1", NULL, "'-1'" },
		{ "timeout", "4294967303", NULL, "'4294967303'" },
		{ "timeout", "5", "6", "'6'" },
		{ "fault", "bogus", "1", "'bogus'" },
		{ "fault", "hang", "1001", "'1001'" },
		{ "verify", "0", NULL, "'0'" },
		{ "bogus", NULL, NULL, "'bogus'" },
		{ "stats", "--json", "extra", "'extra'" },
		{ "--frobnicate", "info", NULL, "'--frobnicate'" },
	};
	unsigned int was = kt_get_timeout(self->fd);
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		const char *const a[] = {
			cases[i][0], cases[i][1], cases[i][2], NULL
		};

		ASSERT_EQ(0, ctl_run(&self->r, AS_ROOT, 0, a));
		EXPECT_EQ(2, self->r.status) TH_LOG("%s %s", a[0], a[1]);
		EXPECT_EQ(0, self->r.outlen)
			TH_LOG("%s %s: stdout: %s", a[0], a[1], self->r.out);
		EXPECT_NE(NULL, strstr(self->r.err, cases[i][3]))
			TH_LOG("%s %s: stderr: %s", a[0], a[1], self->r.err);
		EXPECT_NE(NULL, strstr(self->r.err, "--help"))
			TH_LOG("%s %s: stderr: %s", a[0], a[1], self->r.err);
		EXPECT_EQ(was, kt_get_timeout(self->fd));
	}
}

/*
 * A user who may not open the unit (nobody; the unit is 0600 root here,
 * or 0660 for a group nobody is not in) gets exit 1 and a message naming
 * the device and "Permission denied", nothing on stdout.
 */
TEST_F(cli, non_root_permission_denied)
{
	static const char *const cmds[][3] = {
		{ "-d", "kesync0", "info" },
		{ "--json", "stats", NULL },
		{ "timeout", "5", NULL },
	};
	struct stat st;
	size_t i;

	ASSERT_EQ(0, stat("/dev/kesync0", &st));
	if ((st.st_mode & 0006) || (st.st_gid == NOBODY && (st.st_mode & 0060)))
		SKIP(return, "/dev/kesync0 is mode %04o group %u: nobody may open it",
		     st.st_mode & 07777, st.st_gid);
	for (i = 0; i < ARRAY_SIZE(cmds); i++) {
		const char *const a[] = { cmds[i][0], cmds[i][1], cmds[i][2],
					  NULL };

		ASSERT_EQ(0, ctl_run(&self->r, AS_NOBODY, 0, a));
		ASSERT_GT(125, self->r.status) TH_LOG("%s", self->r.err);
		EXPECT_EQ(1, self->r.status) TH_LOG("%s: %s", a[0], self->r.err);
		EXPECT_EQ(0, self->r.outlen) TH_LOG("stdout: %s", self->r.out);
		EXPECT_NE(NULL, strstr(self->r.err,
				       "kesyncctl: /dev/kesync0: Permission denied"))
			TH_LOG("stderr: %s", self->r.err);
		EXPECT_EQ(NULL, strstr(self->r.err, "CAP_SYS_ADMIN"))
			TH_LOG("a wrong hint: %s", self->r.err);
	}
	EXPECT_EQ(self->timeout, kt_get_timeout(self->fd));
}

/*
 * A member of the unit's group (the udev rule's 0660 kesync) uses it
 * without root; reset still needs CAP_SYS_ADMIN and says so.
 */
TEST_F(cli, group_member_uses_unit)
{
	struct stat st;
	struct jval v;

	ASSERT_EQ(0, stat("/dev/kesync0", &st));
	if (!st.st_gid || (st.st_mode & 0060) != 0060)
		SKIP(return, "/dev/kesync0 is mode %04o group %u: no group to join",
		     st.st_mode & 07777, st.st_gid);
	RUN(&self->r, AS_GROUP, st.st_gid, "info", "--json");
	ASSERT_EQ(0, self->r.status) TH_LOG("%s", self->r.err);
	ASSERT_EQ(0, parse_output(_metadata, &self->r, &v));
	jfree(&v);
	RUN(&self->r, AS_GROUP, st.st_gid, "reset");
	EXPECT_EQ(1, self->r.status);
	EXPECT_NE(NULL, strstr(self->r.err, "Operation not permitted"))
		TH_LOG("%s", self->r.err);
	EXPECT_NE(NULL, strstr(self->r.err, "CAP_SYS_ADMIN"))
		TH_LOG("%s", self->r.err);
}

/* Root without CAP_SYS_ADMIN: reset and clear fail, and the hint says why. */
TEST_F(cli, no_cap_sys_admin_hint)
{
	static const char *const cmds[][2] = {
		{ "reset", NULL }, { "clear", NULL },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cmds); i++) {
		ASSERT_EQ(0, ctl_run(&self->r, AS_NO_ADMIN, 0, cmds[i]));
		ASSERT_GT(125, self->r.status) TH_LOG("%s", self->r.err);
		EXPECT_EQ(1, self->r.status) TH_LOG("%s", cmds[i][0]);
		EXPECT_EQ(0, self->r.outlen);
		EXPECT_NE(NULL, strstr(self->r.err, "kesyncctl: /dev/kesync0: "))
			TH_LOG("%s", self->r.err);
		EXPECT_NE(NULL, strstr(self->r.err, "Operation not permitted"))
			TH_LOG("%s", self->r.err);
		EXPECT_NE(NULL, strstr(self->r.err, "CAP_SYS_ADMIN"))
			TH_LOG("%s", self->r.err);
	}
	/* And with it, clear works. */
	RUN(&self->r, AS_ROOT, 0, "clear");
	EXPECT_EQ(0, self->r.status) TH_LOG("%s", self->r.err);
}

/* verify: a small pattern at an odd offset, exit 0 and its line. */
TEST_F(cli, verify_small)
{
	char off[32];

	snprintf(off, sizeof(off), "%llu",
		 (unsigned long long)self->info.unit_size - 8192 - 3);
	RUN(&self->r, AS_ROOT, 0, "verify", "4k", off);
	ASSERT_EQ(0, self->r.status) TH_LOG("%s", self->r.err);
	EXPECT_EQ(0, strncmp(self->r.out, "verify /dev/kesync0: 4096 bytes at ",
			     35)) TH_LOG("%s", self->r.out);
	/* Beyond the end of the unit: a runtime error, exit 1. */
	snprintf(off, sizeof(off), "%llu",
		 (unsigned long long)self->info.unit_size);
	RUN(&self->r, AS_ROOT, 0, "verify", "1", off);
	EXPECT_EQ(1, self->r.status) TH_LOG("%s", self->r.err);
	EXPECT_EQ(0, self->r.outlen);
}

KT_FINAL_HEALTH_TEST(0)

TEST_HARNESS_MAIN

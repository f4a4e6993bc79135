// SPDX-License-Identifier: GPL-2.0
/*
 * kesync_udev: the real udev rule (udev/60-kesync.rules, as 'make install'
 * puts it in /usr/lib/udev/rules.d) under Debian's real systemd-udevd,
 * which scripts/guest-udev.sh puts in the initramfs.  Each test starts
 * systemd-udevd --daemon, has it apply the rule to the units (udevadm
 * trigger --subsystem-match=kesync --action=add; udevadm settle), checks,
 * then stops it and puts the nodes back as devtmpfs made them, for the
 * programs that run after this one:
 * - every /dev/kesync<N> is root:kesync, mode 0660;
 * - /dev/kesync/by-path/pci-<address>-unit<I> names each unit, with I the
 *   unit's index on its controller as KESYNC_IOC_INFO reports it, also
 *   after an unbind and bind that gives the units other numbers N;
 * - a user in group kesync (a supplementary group) opens a unit, writes,
 *   reads the data back and uses the unprivileged ioctls; KESYNC_IOC_RESET
 *   and KESYNC_IOC_FAULT still fail with EPERM: they need CAP_SYS_ADMIN;
 * - a user not in the group gets EACCES from open.
 * The users and the group come from the guest's /etc/passwd and /etc/group
 * (scripts/initramfs.sh).  Without udev in the guest, or in a kernel
 * without the sockets udevd needs (the debug kernel), the program skips.
 */
#define _GNU_SOURCE
#include <grp.h>
#include <limits.h>
#include <sys/socket.h>
#include <linux/netlink.h>

#include "kesync_test.h"	/* and kselftest_harness.h */

#define UDEVD		"/lib/systemd/systemd-udevd"
#define UDEVADM		"/bin/udevadm"
#define RULE		"/usr/lib/udev/rules.d/60-kesync.rules"
#define BY_PATH		"/dev/kesync/by-path"
#define CLASS_DIR	"/sys/class/kesync"
#define GROUP		"kesync"
#define MEMBER		"kesyncuser"
#define NON_MEMBER	"kesyncother"
#define CMD_LOG		"/tmp/kesync_udev.out"
#define MAX_NODES	64
#define MAX_GROUPS	32

/* ---- users and groups, from /etc/passwd and /etc/group ------------------ */

struct user {
	uid_t uid;
	gid_t gid;
	int ngroups;
	gid_t groups[MAX_GROUPS];
};

/* Field @i (0-based) of a colon-separated line, copied into @out. */
static int field(const char *line, int i, char *out, size_t len)
{
	const char *p = line, *e;

	while (i-- > 0) {
		p = strchr(p, ':');
		if (!p)
			return -1;
		p++;
	}
	e = strpbrk(p, ":\n");
	if (!e)
		e = p + strlen(p);
	if ((size_t)(e - p) >= len)
		return -1;
	memcpy(out, p, e - p);
	out[e - p] = 0;
	return 0;
}

static int group_gid(const char *name, gid_t *gid)
{
	FILE *f = fopen("/etc/group", "r");
	char line[512], w[256];
	int ret = -1;

	if (!f)
		return -1;
	while (ret && fgets(line, sizeof(line), f)) {
		if (field(line, 0, w, sizeof(w)) || strcmp(w, name))
			continue;
		if (!field(line, 2, w, sizeof(w))) {
			*gid = strtoul(w, NULL, 10);
			ret = 0;
		}
	}
	fclose(f);
	return ret;
}

/* What initgroups(3) would give @name, without NSS (a static program). */
static int user_lookup(const char *name, struct user *u)
{
	FILE *f = fopen("/etc/passwd", "r");
	char line[512], w[256];
	int found = 0;

	if (!f)
		return -1;
	memset(u, 0, sizeof(*u));
	while (!found && fgets(line, sizeof(line), f)) {
		char g[32];

		if (field(line, 0, w, sizeof(w)) || strcmp(w, name))
			continue;
		if (field(line, 2, w, sizeof(w)) || field(line, 3, g, sizeof(g)))
			break;
		u->uid = strtoul(w, NULL, 10);
		u->gid = strtoul(g, NULL, 10);
		found = 1;
	}
	fclose(f);
	if (!found)
		return -1;
	u->groups[u->ngroups++] = u->gid;
	f = fopen("/etc/group", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f) && u->ngroups < MAX_GROUPS) {
		char gid[32], *m, *save = NULL;

		if (field(line, 2, gid, sizeof(gid)) || field(line, 3, w, sizeof(w)))
			continue;
		for (m = strtok_r(w, ",", &save); m; m = strtok_r(NULL, ",", &save))
			if (!strcmp(m, name))
				u->groups[u->ngroups++] = strtoul(gid, NULL, 10);
	}
	fclose(f);
	return 0;
}

/* In a child: become @u for good (all capabilities go with uid 0). */
static int become(const struct user *u)
{
	if (setgroups(u->ngroups, u->groups) || setgid(u->gid) || setuid(u->uid))
		return -1;
	return 0;
}

/* The effective capability set of this process (/proc/self/status). */
static unsigned long long cap_eff(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	unsigned long long v = ~0ull;
	char line[256];

	if (!f)
		return v;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &v) == 1)
			break;
	fclose(f);
	return v;
}

/* ---- commands ----------------------------------------------------------- */

/* Print the output of the last command, as TAP comments. */
static void cmd_log(void)
{
	FILE *f = fopen(CMD_LOG, "r");
	char line[512];

	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		printf("#   %s%s", line, strchr(line, '\n') ? "" : "\n");
	fclose(f);
	fflush(stdout);
}

/*
 * Run @argv (output to CMD_LOG), at most @timeout_s seconds.  Returns its
 * exit status, 128 + signal, or -1 if it had to be killed.
 */
static int run(double timeout_s, const char *const argv[])
{
	int fd, st = 0;
	pid_t pid;

	fd = open(CMD_LOG, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		close(fd);
		return -1;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		dup2(null, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(fd);
	if (kt_waitpid(pid, timeout_s, &st)) {
		kt_kill_reap(pid);
		printf("# %s %s: still running after %.0f s, killed\n",
		       argv[0], argv[1] ? argv[1] : "", timeout_s);
		return -1;
	}
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return WEXITSTATUS(st);
}

/* Run a udevadm command; on failure show what it said. */
static int run_udevadm(double timeout_s, const char *const argv[])
{
	int ret = run(timeout_s, argv);

	if (ret) {
		printf("# udevadm %s: exit %d\n", argv[1], ret);
		cmd_log();
	}
	return ret;
}

/* ---- udevd -------------------------------------------------------------- */

/*
 * The processes of udev now running: udevd and its workers are all
 * udevadm (systemd-udevd is a link to it).  Zombies have no exe.
 */
static int udev_pids(pid_t *pids, int max)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d))) {
		char path[64], exe[PATH_MAX];
		ssize_t len;

		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/exe", e->d_name);
		len = readlink(path, exe, sizeof(exe) - 1);
		if (len <= 0)
			continue;
		exe[len] = 0;
		if (strcmp(exe, UDEVADM))
			continue;
		if (n < max)
			pids[n] = atoi(e->d_name);
		n++;
	}
	closedir(d);
	return n;
}

/* Wait at most @timeout_s for every udev process to be gone. */
static int udev_wait_gone(double timeout_s)
{
	double end = kt_now() + timeout_s;
	pid_t pids[MAX_NODES];

	while (udev_pids(pids, MAX_NODES)) {
		if (kt_now() > end)
			return -1;
		kt_msleep(20);
	}
	return 0;
}

/*
 * Stop udevd: ask it (udevadm control --exit waits for it), wait, and kill
 * what is left of it.  Only ever udev processes this program started: main()
 * runs nothing if a udevd ran before.  A udevd slow to exit (once, a
 * process still there 20 s after the request, a 6.12 guest under TCG with
 * three guests on two host cores) is udev's own latency, not the rule's or
 * the driver's: it is killed and noted.  Returns -1 only if something is
 * left after that.
 */
static int udev_stop(void)
{
	static const char *const argv[] = {
		UDEVADM, "control", "--exit", "--timeout=10", NULL
	};
	pid_t pids[MAX_NODES];
	int n, i;

	if (!udev_pids(pids, MAX_NODES))
		return 0;
	/* What counts is whether udev is gone, not how the request ended. */
	run_udevadm(20, argv);
	if (!udev_wait_gone(10))
		return 0;
	n = udev_pids(pids, MAX_NODES);
	printf("# %d udev process(es) still there: killing them\n", n);
	for (i = 0; i < n && i < MAX_NODES; i++)
		kill(pids[i], SIGKILL);
	return udev_wait_gone(10);
}

/* Start udevd and wait (bounded) until it answers on its control socket. */
static int udev_start(void)
{
	static const char *const start[] = { UDEVD, "--daemon", NULL };
	static const char *const ping[] = {
		UDEVADM, "control", "--ping", "--timeout=5", NULL
	};
	double end;

	if (run(20, start)) {
		printf("# %s --daemon failed\n", UDEVD);
		cmd_log();
		return -1;
	}
	end = kt_now() + 20;
	while (run(10, ping)) {
		if (kt_now() > end) {
			printf("# udevd does not answer udevadm control --ping\n");
			cmd_log();
			return -1;
		}
		kt_msleep(100);
	}
	return 0;
}

/* ---- units -------------------------------------------------------------- */

struct unit {
	unsigned int n;		/* /dev/kesync<n> */
	char bdf[32];		/* its controller's PCI address */
	dev_t rdev;
	int index;		/* KESYNC_IOC_INFO's unit, -1 if unknown */
};

static int read_line(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

static int unit_cmp(const void *a, const void *b)
{
	const struct unit *x = a, *y = b;

	return (x->n > y->n) - (x->n < y->n);
}

/* The units the kernel has now (sysfs), sorted by N. */
static int get_units(struct unit *units, int max)
{
	DIR *d = opendir(CLASS_DIR);
	struct dirent *e;
	int n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)) && n < max) {
		struct unit *u = &units[n];
		char path[PATH_MAX], buf[PATH_MAX], *p;
		struct kesync_info info;
		unsigned int maj, min;
		ssize_t len;
		int fd;

		if (sscanf(e->d_name, "kesync%u", &u->n) != 1)
			continue;
		snprintf(path, sizeof(path), CLASS_DIR "/%s/device", e->d_name);
		len = readlink(path, buf, sizeof(buf) - 1);
		if (len <= 0)
			continue;
		buf[len] = 0;
		p = strrchr(buf, '/');
		snprintf(u->bdf, sizeof(u->bdf), "%s", p ? p + 1 : buf);
		snprintf(path, sizeof(path), CLASS_DIR "/%s/dev", e->d_name);
		if (read_line(path, buf, sizeof(buf)) ||
		    sscanf(buf, "%u:%u", &maj, &min) != 2)
			continue;
		u->rdev = makedev(maj, min);
		u->index = -1;
		snprintf(path, sizeof(path), KT_DEV_FMT, u->n);
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd >= 0) {
			if (!kt_info(fd, &info))
				u->index = info.unit;
			close(fd);
		}
		n++;
	}
	closedir(d);
	qsort(units, n, sizeof(*units), unit_cmp);
	return n;
}

static void link_path(const struct unit *u, char *buf, size_t len)
{
	snprintf(buf, len, BY_PATH "/pci-%s-unit%d", u->bdf, u->index);
}

/* Entries of the by-path directory (0 when it does not exist). */
static int by_path_count(void)
{
	DIR *d = opendir(BY_PATH);
	struct dirent *e;
	int n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* The node of unit @u is root:@gid 0660.  With @why, says what it is. */
static int node_ok(const struct unit *u, gid_t gid, char *why, size_t len)
{
	char node[64];
	struct stat st;

	snprintf(node, sizeof(node), KT_DEV_FMT, u->n);
	if (lstat(node, &st) || !S_ISCHR(st.st_mode) || st.st_rdev != u->rdev) {
		snprintf(why, len, "%s: no such char device %u:%u", node,
			 major(u->rdev), minor(u->rdev));
		return 0;
	}
	if ((st.st_mode & 07777) != 0660 || st.st_uid != 0 || st.st_gid != gid) {
		snprintf(why, len, "%s: %u:%u mode %04o, not 0:%u 0660", node,
			 st.st_uid, st.st_gid, st.st_mode & 07777, gid);
		return 0;
	}
	return 1;
}

/* The by-path link of unit @u is there and resolves to its node. */
static int link_ok(const struct unit *u, char *why, size_t len)
{
	char node[64], lnk[PATH_MAX], real[PATH_MAX];
	struct stat st;

	snprintf(node, sizeof(node), KT_DEV_FMT, u->n);
	if (u->index < 0) {
		snprintf(why, len, "%s: KESYNC_IOC_INFO fails", node);
		return 0;
	}
	link_path(u, lnk, sizeof(lnk));
	if (lstat(lnk, &st) || !S_ISLNK(st.st_mode)) {
		snprintf(why, len, "no symlink %s (unit %d of %s)", lnk,
			 u->index, node);
		return 0;
	}
	if (!realpath(lnk, real) || strcmp(real, node)) {
		snprintf(why, len, "%s resolves to %s, not %s", lnk,
			 realpath(lnk, real) ? real : "nothing", node);
		return 0;
	}
	return 1;
}

/* Unit @u is as the rule makes it: node and link. */
static int unit_ok(const struct unit *u, gid_t gid, char *why, size_t len)
{
	return node_ok(u, gid, why, len) && link_ok(u, why, len);
}

/*
 * udev made the by-path link of every unit and no other: it has run the
 * rule (the links come last: after the node's owner and mode).
 */
static int links_ready(char *why, size_t len)
{
	struct unit units[MAX_NODES];
	int i, n = get_units(units, MAX_NODES);

	if (!n) {
		snprintf(why, len, "no units in " CLASS_DIR);
		return 0;
	}
	for (i = 0; i < n; i++)
		if (!link_ok(&units[i], why, len))
			return 0;
	if (by_path_count() != n) {
		snprintf(why, len, BY_PATH " has %d entries for %d units",
			 by_path_count(), n);
		return 0;
	}
	return 1;
}

/*
 * udevadm settle; then, since settle has nothing to wait for if udevd has
 * not read the kernel's events yet, wait (bounded) for the links of every
 * unit, and settle once more.
 */
static int settle(char *why, size_t len)
{
	static const char *const argv[] = {
		UDEVADM, "settle", "--timeout=30", NULL
	};
	double end = kt_now() + 30;

	if (run_udevadm(40, argv))
		return -1;
	while (!links_ready(why, len)) {
		if (kt_now() > end)
			return -1;
		kt_msleep(50);
	}
	return run_udevadm(40, argv);
}

static int trigger(void)
{
	static const char *const argv[] = {
		UDEVADM, "trigger", "--subsystem-match=kesync", "--action=add", NULL
	};

	return run_udevadm(20, argv);
}

/* ---- node state to put back --------------------------------------------- */

struct node {
	unsigned int n;
	uid_t uid;
	gid_t gid;
	mode_t mode;
};

static struct node saved[MAX_NODES];
static int nsaved;

/*
 * Remember the nodes as they are before udev touches them: main() does,
 * once, so that the tests (children of main) all put them back the same.
 */
static void nodes_save(void)
{
	struct unit units[MAX_NODES];
	int i, n = get_units(units, MAX_NODES);

	nsaved = 0;
	for (i = 0; i < n; i++) {
		char node[64];
		struct stat st;

		snprintf(node, sizeof(node), KT_DEV_FMT, units[i].n);
		if (stat(node, &st))
			continue;
		saved[nsaved].n = units[i].n;
		saved[nsaved].uid = st.st_uid;
		saved[nsaved].gid = st.st_gid;
		saved[nsaved].mode = st.st_mode & 07777;
		nsaved++;
	}
}

/*
 * Put the nodes back as they were (a node made anew by a rebind as the
 * first one was: devtmpfs makes them all alike), remove what udev made.
 * Returns the number of nodes that could not be put back.
 */
static int nodes_restore(void)
{
	static const char *const rm[] = {
		"/bin/rm", "-rf", "/dev/kesync", "/run/udev", NULL
	};
	struct unit units[MAX_NODES];
	int i, j, bad = 0, n = get_units(units, MAX_NODES);

	for (i = 0; i < n && nsaved; i++) {
		const struct node *s = &saved[0];
		char node[64];

		for (j = 0; j < nsaved; j++)
			if (saved[j].n == units[i].n)
				s = &saved[j];
		snprintf(node, sizeof(node), KT_DEV_FMT, units[i].n);
		if (chown(node, s->uid, s->gid) || chmod(node, s->mode))
			bad++;
	}
	if (run(20, rm))
		bad++;
	return bad;
}

/*
 * What a test killed at its time limit left (no teardown ran): udevd
 * running, the nodes udev's.  Before each test and at exit of the program.
 */
static void leftovers(void)
{
	pid_t pids[MAX_NODES];

	if (udev_pids(pids, MAX_NODES)) {
		printf("# udev still runs (a test was killed?): stopping it\n");
		udev_stop();
	}
	nodes_restore();
}

/* ---- the tests ---------------------------------------------------------- */

/*
 * Per test: udevd started, the rule applied to every unit; after it, udevd
 * stopped with nothing of it left running, the nodes as they were.
 */
FIXTURE(udev) {
	gid_t gid;
	struct user member, other;
	char bdf[64];
};

FIXTURE_SETUP(udev)
{
	char why[PATH_MAX + 128] = "";
	int ret;

	ASSERT_EQ(0, group_gid(GROUP, &self->gid));
	ASSERT_EQ(0, user_lookup(MEMBER, &self->member));
	ASSERT_EQ(0, user_lookup(NON_MEMBER, &self->other));
	ASSERT_EQ(0, kt_bdf(self->bdf, sizeof(self->bdf)));
	ASSERT_LT(0, nsaved) TH_LOG("no /dev/kesync<N> when the program started");
	leftovers();

	ret = udev_start();
	if (!ret)
		ret = trigger();
	if (!ret)
		ret = settle(why, sizeof(why));
	if (ret) {
		udev_stop();
		nodes_restore();
	}
	ASSERT_EQ(0, ret) TH_LOG("the rule did not apply: %s", why);
}

/* EXPECT only: an ASSERT here would jump back into the harness's teardown. */
FIXTURE_TEARDOWN(udev)
{
	struct unit units[MAX_NODES];
	int i, n;

	EXPECT_EQ(0, udev_stop()) TH_LOG("udevd did not exit when asked");
	EXPECT_EQ(0, nodes_restore());
	EXPECT_EQ(0, udev_wait_gone(1)) TH_LOG("udev processes left running");
	n = get_units(units, MAX_NODES);
	for (i = 0; i < n; i++) {
		char node[64];
		struct stat st;

		snprintf(node, sizeof(node), KT_DEV_FMT, units[i].n);
		if (stat(node, &st)) {
			EXPECT_EQ(0, errno) TH_LOG("%s: %s", node, strerror(errno));
			continue;
		}
		EXPECT_EQ(saved[0].mode, st.st_mode & 07777) TH_LOG("%s", node);
		EXPECT_EQ(saved[0].uid, st.st_uid) TH_LOG("%s", node);
		EXPECT_EQ(saved[0].gid, st.st_gid) TH_LOG("%s", node);
	}
}

/* Every unit's node: root:kesync, 0660; its by-path link: see below. */
TEST_F_TIMEOUT(udev, nodes_group_kesync_mode_0660, 120)
{
	struct unit units[MAX_NODES];
	int i, n = get_units(units, MAX_NODES);

	ASSERT_LT(0, n);
	EXPECT_EQ(0, access(RULE, R_OK)) TH_LOG("%s is missing", RULE);
	for (i = 0; i < n; i++) {
		char node[64];
		struct stat st;

		snprintf(node, sizeof(node), KT_DEV_FMT, units[i].n);
		ASSERT_EQ(0, stat(node, &st)) TH_LOG("%s: %s", node, strerror(errno));
		EXPECT_TRUE(S_ISCHR(st.st_mode));
		EXPECT_EQ(units[i].rdev, st.st_rdev);
		EXPECT_EQ(0660, st.st_mode & 07777) TH_LOG("%s: mode %04o", node,
							   st.st_mode & 07777);
		EXPECT_EQ(0, st.st_uid);
		EXPECT_EQ(self->gid, st.st_gid) TH_LOG("%s: group %u", node, st.st_gid);
	}
}

/*
 * /dev/kesync/by-path/pci-<address>-unit<I>: one per unit, on the unit's
 * node, I the unit index KESYNC_IOC_INFO reports, nothing else there.
 */
TEST_F_TIMEOUT(udev, by_path_names_unit_index, 120)
{
	struct unit units[MAX_NODES];
	int i, n = get_units(units, MAX_NODES);
	char why[PATH_MAX + 128];

	ASSERT_LT(0, n);
	for (i = 0; i < n; i++) {
		char lnk[PATH_MAX];

		ASSERT_LE(0, units[i].index)
			TH_LOG("kesync%u: no KESYNC_IOC_INFO", units[i].n);
		EXPECT_STREQ(self->bdf, units[i].bdf);
		link_path(&units[i], lnk, sizeof(lnk));
		why[0] = 0;
		EXPECT_TRUE(unit_ok(&units[i], self->gid, why, sizeof(why)))
			TH_LOG("%s", why);
		TH_LOG("%s -> kesync%u", lnk, units[i].n);
	}
	EXPECT_EQ(n, by_path_count());
}

/* What a child running as a user could do with a unit. */
struct as_user {
	int done;
	uid_t uid;
	int in_group;
	unsigned long long cap_eff;
	int open_err, open_ro_err;	/* 0, or errno */
	int info_err, get_err, set_err, set_changed, stats_err, hw_err;
	int write_err, read_err;
	int reset_err, fault_err;
	unsigned int info_unit;
	unsigned long long resets_before, resets_after;
};

/* 0 or errno, for a call that returns 0 or -1. */
static int err_of(int r)
{
	return r ? (errno ? errno : -1) : 0;
}

static void as_user_child(const struct user *u, gid_t gid, const char *path,
			  struct as_user *r)
{
	struct kesync_info info;
	struct kesync_stats st;
	struct kesync_hw_stats hw;
	uint64_t off, seed = kt_seed ^ 0x0de5;
	int fd, i, t;

	if (become(u))
		_exit(2);
	r->uid = getuid();
	for (i = 0; i < u->ngroups; i++)
		if (u->groups[i] == gid)
			r->in_group = 1;
	r->cap_eff = cap_eff();
	fd = open(path, O_RDONLY | O_CLOEXEC);
	r->open_ro_err = fd < 0 ? errno : 0;
	if (fd >= 0)
		close(fd);
	fd = open(path, O_RDWR | O_CLOEXEC);
	r->open_err = fd < 0 ? errno : 0;
	if (fd < 0) {
		r->done = 1;
		_exit(0);
	}
	errno = 0;
	r->info_err = err_of(kt_info(fd, &info));
	r->info_unit = info.unit;
	t = kt_get_timeout(fd);
	r->get_err = t < 0 ? errno : 0;
	/*
	 * SET_TIMEOUT needs CAP_SYS_ADMIN, as the sysfs timeout file does (a
	 * timeout resets the whole controller): refused, nothing changed.
	 */
	if (t > 0) {
		errno = 0;
		r->set_err = err_of(kt_set_timeout(fd, t == 7 ? 8 : 7));
		r->set_changed = kt_get_timeout(fd) != t;
	}
	r->stats_err = err_of(kt_stats(fd, &st));
	r->resets_before = st.resets;
	r->hw_err = err_of(kt_hw(fd, &hw));
	/* Data: a pattern out and back, in the middle of the medium. */
	off = (info.unit_size / 2) & ~(KT_PAGE - 1);
	r->write_err = kt_pwrite_pat(fd, 2 * KT_PAGE + 17, off, seed) ==
		       2 * KT_PAGE + 17 ? 0 : (errno ? errno : -1);
	r->read_err = kt_pread_check(fd, 2 * KT_PAGE + 17, off, seed);
	if (r->read_err < 0)
		r->read_err = errno ? errno : -1;
	else if (r->read_err)
		r->read_err = -2;	/* data differ */
	/* Privileged: these need CAP_SYS_ADMIN. */
	errno = 0;
	r->reset_err = err_of(ioctl(fd, KESYNC_IOC_RESET));
	errno = 0;
	r->fault_err = err_of(kt_fault(fd, 0, 0, 0));
	kt_stats(fd, &st);
	r->resets_after = st.resets;
	close(fd);
	r->done = 1;
	_exit(0);
}

/* Fork a child that becomes @u and tries @path; its findings in @out. */
static int as_user(const struct user *u, gid_t gid, const char *path,
		   struct as_user *out)
{
	struct as_user *r;
	pid_t pid;
	int st = 0, ret = -1;

	r = mmap(NULL, sizeof(*r), PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (r == MAP_FAILED)
		return -1;
	/* -1 everywhere: not got that far. */
	memset(r, 0, sizeof(*r));
	r->open_err = -1;
	r->open_ro_err = -1;
	r->info_err = -1;
	r->get_err = -1;
	r->set_err = -1;
	r->stats_err = -1;
	r->hw_err = -1;
	r->write_err = -1;
	r->read_err = -1;
	r->reset_err = -1;
	r->fault_err = -1;
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		goto out;
	if (pid == 0)
		as_user_child(u, gid, path, r);
	if (kt_waitpid(pid, 60, &st)) {
		kt_kill_reap(pid);
		goto out;
	}
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0 && r->done)
		ret = 0;
	*out = *r;
out:
	munmap(r, sizeof(*r));
	return ret;
}

/*
 * A member of group kesync, through the by-path name of each unit: open,
 * write and read back, every ioctl that needs no privilege; SET_TIMEOUT,
 * which needs CAP_SYS_ADMIN, is refused.
 */
TEST_F_TIMEOUT(udev, member_does_io_and_ioctls, 120)
{
	struct unit units[MAX_NODES];
	int i, n = get_units(units, MAX_NODES);

	ASSERT_LT(0, n);
	for (i = 0; i < n; i++) {
		struct as_user r;
		char lnk[PATH_MAX];

		link_path(&units[i], lnk, sizeof(lnk));
		ASSERT_EQ(0, as_user(&self->member, self->gid, lnk, &r))
			TH_LOG("the child as " MEMBER " failed");
		ASSERT_NE(0, r.uid);
		ASSERT_EQ(1, r.in_group);
		ASSERT_NE(self->gid, self->member.gid)
			TH_LOG("kesync should be a supplementary group of " MEMBER);
		EXPECT_EQ(0, r.cap_eff) TH_LOG("capabilities %#llx", r.cap_eff);
		ASSERT_EQ(0, r.open_err) TH_LOG("open %s as " MEMBER ": %s", lnk,
						strerror(r.open_err));
		EXPECT_EQ(0, r.open_ro_err);
		EXPECT_EQ(0, r.info_err) TH_LOG("INFO: %s", strerror(r.info_err));
		EXPECT_EQ(units[i].index, r.info_unit);
		EXPECT_EQ(0, r.get_err) TH_LOG("GET_TIMEOUT: %s", strerror(r.get_err));
		EXPECT_EQ(EPERM, r.set_err) TH_LOG("SET_TIMEOUT: %d", r.set_err);
		EXPECT_EQ(0, r.set_changed) TH_LOG("the timeout changed");
		EXPECT_EQ(0, r.stats_err) TH_LOG("STATS: %s", strerror(r.stats_err));
		EXPECT_EQ(0, r.hw_err) TH_LOG("HW_STATS: %s", strerror(r.hw_err));
		EXPECT_EQ(0, r.write_err) TH_LOG("write: %d", r.write_err);
		EXPECT_EQ(0, r.read_err) TH_LOG("read back: %d (-2: other data)",
						r.read_err);
	}
}

/* The same member: reset and fault injection still need CAP_SYS_ADMIN. */
TEST_F_TIMEOUT(udev, member_reset_and_fault_eperm, 120)
{
	struct unit units[MAX_NODES];
	struct as_user r;
	char lnk[PATH_MAX];
	int fd, n = get_units(units, MAX_NODES);

	ASSERT_LT(0, n);
	link_path(&units[0], lnk, sizeof(lnk));
	ASSERT_EQ(0, as_user(&self->member, self->gid, lnk, &r));
	ASSERT_EQ(0, r.open_err) TH_LOG("open: %s", strerror(r.open_err));
	EXPECT_EQ(EPERM, r.reset_err) TH_LOG("KESYNC_IOC_RESET: %d (%s)",
					     r.reset_err, strerror(r.reset_err));
	EXPECT_EQ(EPERM, r.fault_err) TH_LOG("KESYNC_IOC_FAULT: %d (%s)",
					     r.fault_err, strerror(r.fault_err));
	EXPECT_EQ(r.resets_before, r.resets_after) TH_LOG("a reset happened");
	/* The control: the same disarming fault request works for root. */
	fd = open(lnk, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, kt_fault(fd, 0, 0, 0)) TH_LOG("root: %s", strerror(errno));
	close(fd);
}

/* A user not in group kesync cannot open a unit, by either name. */
TEST_F_TIMEOUT(udev, non_member_eacces, 120)
{
	struct unit units[MAX_NODES];
	int i, n = get_units(units, MAX_NODES);

	ASSERT_LT(0, n);
	for (i = 0; i < n; i++) {
		char node[64], lnk[PATH_MAX];
		struct as_user r;
		int j;

		for (j = 0; j < self->other.ngroups; j++)
			ASSERT_NE(self->gid, self->other.groups[j]);
		snprintf(node, sizeof(node), KT_DEV_FMT, units[i].n);
		link_path(&units[i], lnk, sizeof(lnk));
		ASSERT_EQ(0, as_user(&self->other, self->gid, node, &r));
		ASSERT_NE(0, r.uid);
		EXPECT_EQ(EACCES, r.open_err) TH_LOG("%s O_RDWR: %d", node, r.open_err);
		EXPECT_EQ(EACCES, r.open_ro_err) TH_LOG("%s O_RDONLY: %d", node,
							r.open_ro_err);
		ASSERT_EQ(0, as_user(&self->other, self->gid, lnk, &r));
		EXPECT_EQ(EACCES, r.open_err) TH_LOG("%s O_RDWR: %d", lnk, r.open_err);
	}
}

/* Unbind and bind the controller; wait for @units units (bounded). */
static int rebind(const char *bdf, int units)
{
	struct unit u[MAX_NODES];
	double end;

	if (kt_write_file(KT_DRIVER_DIR "/unbind", bdf))
		return -1;
	end = kt_now() + 10;
	while (get_units(u, MAX_NODES)) {
		if (kt_now() > end)
			return -1;
		kt_msleep(20);
	}
	if (kt_write_file(KT_DRIVER_DIR "/bind", bdf))
		return -1;
	end = kt_now() + 20;
	while (get_units(u, MAX_NODES) < units) {
		if (kt_now() > end)
			return -1;
		kt_msleep(20);
	}
	return 0;
}

/*
 * The by-path index is the unit's index on its controller, not a rank of
 * N: a file kept open on kesync0 across an unbind keeps minor 0 taken (a
 * unit's number is freed when its last file closes), so that after the
 * bind unit 0 is kesync1, unit 1 kesync2, and so on.  Then again with
 * nothing open: the units get their numbers back, for the tests after
 * this one.
 */
TEST_F_TIMEOUT(udev, by_path_index_after_rebind, 240)
{
	struct unit units[MAX_NODES];
	char why[PATH_MAX + 128] = "";
	int i, fd, n = get_units(units, MAX_NODES);

	ASSERT_LT(0, n);
	fd = kt_open_unit(0);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, rebind(self->bdf, n)) TH_LOG("unbind/bind %s", self->bdf);
	ASSERT_EQ(0, settle(why, sizeof(why))) TH_LOG("%s", why);
	ASSERT_EQ(n, get_units(units, MAX_NODES));
	for (i = 0; i < n; i++) {
		char lnk[PATH_MAX];

		link_path(&units[i], lnk, sizeof(lnk));
		TH_LOG("%s -> kesync%u", lnk, units[i].n);
		EXPECT_TRUE(unit_ok(&units[i], self->gid, why, sizeof(why)))
			TH_LOG("%s", why);
		EXPECT_EQ(i, units[i].index);
	}
	EXPECT_NE(0, units[0].n)
		TH_LOG("unit 0 is kesync0 again: the open file did not keep minor 0");
	close(fd);

	ASSERT_EQ(0, rebind(self->bdf, n)) TH_LOG("unbind/bind %s", self->bdf);
	ASSERT_EQ(0, settle(why, sizeof(why))) TH_LOG("%s", why);
	ASSERT_EQ(n, get_units(units, MAX_NODES));
	for (i = 0; i < n; i++) {
		EXPECT_EQ(i, units[i].n) TH_LOG("unit %d is kesync%u", i, units[i].n);
		EXPECT_EQ(i, units[i].index);
		EXPECT_TRUE(unit_ok(&units[i], self->gid, why, sizeof(why)))
			TH_LOG("%s", why);
	}
}

/*
 * udevd needs its control socket (AF_UNIX) and the kernel's uevents
 * (NETLINK_KOBJECT_UEVENT): the debug kernel, built without networking,
 * has neither.
 */
static int kernel_has_sockets(void)
{
	int u = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	int nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC,
			NETLINK_KOBJECT_UEVENT);

	if (u >= 0)
		close(u);
	if (nl >= 0)
		close(nl);
	return u >= 0 && nl >= 0;
}

/* TEST_HARNESS_MAIN, after a check that there is a udev to test. */
static void __attribute__((constructor)) kesync_udev_order_last(void)
{
	if (!__constructor_order)
		__constructor_order = _CONSTRUCTOR_ORDER_BACKWARD;
}

int main(int argc, char **argv)
{
	struct user u;
	pid_t pids[4];
	gid_t gid;

	if (access(UDEVD, X_OK) || access(UDEVADM, X_OK)) {
		ksft_print_header();
		ksft_exit_skip("no udev in this guest (%s: scripts/guest-udev.sh)\n",
			       UDEVD);
	}
	if (!kernel_has_sockets()) {
		ksft_print_header();
		ksft_exit_skip("no AF_UNIX or uevent netlink sockets in this kernel: no udevd\n");
	}
	if (group_gid(GROUP, &gid) || user_lookup(MEMBER, &u) ||
	    user_lookup(NON_MEMBER, &u)) {
		ksft_print_header();
		ksft_exit_skip("no group " GROUP " or users " MEMBER ", " NON_MEMBER
			       " in /etc (scripts/initramfs.sh)\n");
	}
	if (udev_pids(pids, 4)) {
		ksft_print_header();
		ksft_exit_skip("a udevd runs already: not ours to stop\n");
	}
	nodes_save();
	atexit(leftovers);
	return test_harness_run(argc, argv);
}

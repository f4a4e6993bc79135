// SPDX-License-Identifier: GPL-2.0
/*
 * kesync_inject: a helper, not a test.  Until SIGTERM/SIGINT (or SECONDS)
 * it keeps every unit armed with batches of the faults the driver must
 * absorb without the caller noticing: SHORT (a seeded random byte count),
 * SPURIOUS, LATE (up to 20 ms) and LOST_IRQ.  Unit u starts with kind u of
 * that list, so with four units all four are armed from the first transfer
 * on; when a unit has done as many transfers as its batch had (its
 * requests + partials counters), it gets the next kind (at most two lost
 * interrupts per unit: each costs a timeout).  Used by
 * kesync_fio.sh to run fio "while faults are injected".
 *
 * Unit timeouts are 1 s meanwhile (a lost interrupt is found when the
 * timeout expires), restored at the end, and every fault is disarmed.  It
 * prints how many of each it armed and how many the driver counted (stats
 * deltas), and exits 0 only if the driver absorbed at least one short
 * transfer and one lost interrupt and no request failed.  A SPURIOUS
 * interrupt comes half way through a transfer; on the fast device of the
 * real-client boot (20 us) an emulated CPU mostly reaches it only once the
 * transfer has ended, when nothing is spurious any more (0 or 1 of ~300 in
 * two runs), so its count is a figure here; kesync_timeouts requires it
 * on a device the emulator can follow (1 ms).
 *
 *   kesync_inject [SECONDS]
 */
#define _GNU_SOURCE
#define KT_NO_HARNESS	/* a tool, not a test */
#include "kesync_test.h"

/* checkpatch-ok: VOLATILE: written by a signal handler (C11 7.14.1.1) */
static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static const unsigned int kinds[] = {
	KESYNC_FAULT_SHORT, KESYNC_FAULT_SPURIOUS, KESYNC_FAULT_LATE,
	KESYNC_FAULT_LOST_IRQ,
};

/*
 * Transfers per batch.  SHORT: one, for SHORT moves min(ARG, len - 1)
 * bytes, so a run of them can leave a 1-byte remainder that moves nothing,
 * and three transfers without progress fail the request by design (-EIO).
 * LOST_IRQ: one, it costs a timeout (1-2 s).
 */
static const unsigned int batch[] = { 1, 8, 8, 1 };

static unsigned long long transfers(const struct kesync_stats *st)
{
	return st->requests + st->partials;
}

int main(int argc, char **argv)
{
	static const char *const names[] = {
		"none", "hang", "lost-irq", "late", "error", "short", "spurious",
	};
	unsigned long armed[KESYNC_FAULT_KIND_MAX + 1] = { 0 };
	struct kesync_stats st0[KESYNC_MAX_UNITS], st;
	unsigned long long since[KESYNC_MAX_UNITS];
	unsigned int saved[KESYNC_MAX_UNITS], round[KESYNC_MAX_UNITS];
	unsigned int nlost[KESYNC_MAX_UNITS] = { 0 };
	unsigned long long shorts = 0, spurious = 0, lost = 0, errors = 0;
	struct kt_rng rng = { kt_seed ^ 0x1ec7 };
	int fds[KESYNC_MAX_UNITS];
	unsigned int units = kt_units(), u, k;
	double end = kt_now() + (argc > 1 ? atof(argv[1]) : 600);

	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	if (!units) {
		fprintf(stderr, "kesync_inject: no /dev/kesync0\n");
		return 1;
	}
	for (u = 0; u < units; u++) {
		fds[u] = kt_open_unit(u);
		if (fds[u] < 0) {
			perror("kesync_inject: open");
			return 1;
		}
		saved[u] = kt_get_timeout(fds[u]);
		if (kt_stats(fds[u], &st0[u]) || kt_set_timeout(fds[u], 1)) {
			perror("kesync_inject: ioctl");
			return 1;
		}
		round[u] = u;
		since[u] = ~0ull;	/* arm at once */
	}
	while (kt_now() < end && !stop) {
		for (u = 0; u < units; u++) {
			unsigned int i = round[u] % 4, kind = kinds[i], arg = 0;

			if (kt_stats(fds[u], &st)) {
				perror("kesync_inject: KESYNC_IOC_STATS");
				return 1;
			}
			if (since[u] != ~0ull && transfers(&st) - since[u] < batch[i])
				continue;
			if (since[u] != ~0ull) {	/* that batch is done */
				round[u]++;
				/* Two lost interrupts per unit are plenty. */
				if (kinds[round[u] % 4] == KESYNC_FAULT_LOST_IRQ &&
				    nlost[u] >= 2)
					round[u]++;
				i = round[u] % 4;
				kind = kinds[i];
			}
			if (kind == KESYNC_FAULT_LOST_IRQ)
				nlost[u]++;
			if (kind == KESYNC_FAULT_SHORT)
				arg = kt_range(&rng, 1, 4095);
			else if (kind == KESYNC_FAULT_LATE)
				arg = kt_range(&rng, 1, 20000);
			if (kt_fault(fds[u], kind, batch[i], arg)) {
				perror("kesync_inject: KESYNC_IOC_FAULT");
				return 1;
			}
			since[u] = transfers(&st);
			armed[kind] += batch[i];
		}
		kt_msleep(20);
	}
	for (u = 0; u < units; u++) {
		kt_fault(fds[u], KESYNC_FAULT_NONE, 0, 0);
		kt_set_timeout(fds[u], saved[u]);
		if (!kt_stats(fds[u], &st)) {
			shorts += st.short_xfers - st0[u].short_xfers;
			spurious += st.spurious - st0[u].spurious;
			lost += st.lost_irqs - st0[u].lost_irqs;
			errors += st.errors - st0[u].errors;
		}
		close(fds[u]);
	}
	printf("# kesync_inject armed:");
	for (k = 0; k <= KESYNC_FAULT_KIND_MAX; k++)
		if (armed[k])
			printf(" %s %lu", names[k], armed[k]);
	printf("\n# kesync_inject absorbed: short %llu spurious %llu lost-irq %llu; errors %llu\n",
	       shorts, spurious, lost, errors);
	return shorts && lost && !errors ? 0 : 2;
}

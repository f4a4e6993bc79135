// SPDX-License-Identifier: GPL-2.0
/*
 * kesync: KUnit tests of the driver's state machines (kesync-state.h).
 *
 * The helpers are the inline code kesync-io.c and kesync-hw.c run, so the
 * tests need neither a device nor a symbol of kesync.ko: each case builds
 * a controller and its units in memory, takes the locks the helpers
 * assert, and plays the contexts' steps in a chosen order.  Every context
 * of the driver changes this state under io.lock (or isr.lock for the
 * timer counter), so a race between two of them is one of the orders in
 * which their critical sections can run; the race cases try each order.
 */
#include <kunit/test.h>
#include <linux/list.h>
#include <linux/spinlock.h>

#include "kesync-dev.h"
#include "kesync-state.h"

#define NUNITS	4
#define NREQS	4

struct kesync_fixture {
	struct kesync_dev *kdev;
	struct kesync_unit *u[NUNITS];
	struct kesync_req *r[NREQS];
	/* How many times each request was ended (must end at most once). */
	int ended[NREQS];
};

static int kesync_test_init(struct kunit *test)
{
	struct kesync_fixture *f;
	int i;

	f = kunit_kzalloc(test, sizeof(*f), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, f);
	f->kdev = kunit_kzalloc(test, sizeof(*f->kdev), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, f->kdev);
	spin_lock_init(&f->kdev->io.lock);
	spin_lock_init(&f->kdev->isr.lock);
	INIT_LIST_HEAD(&f->kdev->io.tq);
	INIT_LIST_HEAD(&f->kdev->io.ctrl_waiters);
	for (i = 0; i < NUNITS; i++) {
		struct kesync_unit *u;

		u = kunit_kzalloc(test, sizeof(*u), GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, u);
		u->kdev = f->kdev;
		u->index = i;
		INIT_LIST_HEAD(&u->queue);
		INIT_LIST_HEAD(&u->reqs);
		INIT_LIST_HEAD(&u->ctrl_node);
		u->isr.timer_count = -1;
		f->kdev->units[i] = u;
		f->u[i] = u;
	}
	for (i = 0; i < NREQS; i++) {
		struct kesync_req *r;

		r = kunit_kzalloc(test, sizeof(*r), GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, r);
		INIT_LIST_HEAD(&r->node);
		INIT_LIST_HEAD(&r->unode);
		r->unit = f->u[0];
		r->id = i;
		f->r[i] = r;
	}
	test->priv = f;
	return 0;
}

/* ---- Timer counter ------------------------------------------------------- */

static enum kesync_tcount tick(struct kesync_dev *kdev, struct kesync_unit *u)
{
	enum kesync_tcount t;

	spin_lock_irq(&kdev->isr.lock);
	t = kesync_tcount_tick(&u->isr);
	spin_unlock_irq(&kdev->isr.lock);
	return t;
}

/* An idle counter (-1) is never decremented: no timeout without a transfer. */
static void kesync_tcount_idle_test(struct kunit *test)
{
	struct kesync_fixture *f = test->priv;
	struct kesync_unit *u = f->u[0];
	int i;

	for (i = 0; i < 10; i++)
		KUNIT_EXPECT_EQ(test, tick(f->kdev, u), KESYNC_TCOUNT_IDLE);
	KUNIT_EXPECT_EQ(test, u->isr.timer_count, -1);
}

/* Armed with timeout T, the counter expires on the (T + 1)-th tick. */
static void kesync_tcount_expiry_test(struct kunit *test)
{
	struct kesync_fixture *f = test->priv;
	struct kesync_unit *u = f->u[0];
	u32 timeouts[] = { 0, 1, 2, 5, 30 };
	unsigned int i, n;

	for (i = 0; i < ARRAY_SIZE(timeouts); i++) {
		kesync_tcount_arm(&u->isr, timeouts[i]);
		KUNIT_EXPECT_EQ(test, u->isr.timer_count, (int)timeouts[i] + 1);
		for (n = 0; n < timeouts[i]; n++)
			KUNIT_EXPECT_EQ_MSG(test, tick(f->kdev, u),
					    KESYNC_TCOUNT_RUNNING,
					    "timeout %u tick %u", timeouts[i], n);
		KUNIT_EXPECT_EQ(test, tick(f->kdev, u), KESYNC_TCOUNT_EXPIRED);
		/* Left at zero for the caller's poll or reset to stop it. */
		KUNIT_EXPECT_EQ(test, u->isr.timer_count, 0);
		kesync_tcount_stop(&u->isr);
		KUNIT_EXPECT_EQ(test, tick(f->kdev, u), KESYNC_TCOUNT_IDLE);
	}
}

/* The ISR's -1 before expiry: no timeout, whatever the ticks after it. */
static void kesync_tcount_isr_stops_test(struct kunit *test)
{
	struct kesync_fixture *f = test->priv;
	struct kesync_unit *u = f->u[0];
	int i;

	kesync_tcount_arm(&u->isr, 3);
	KUNIT_EXPECT_EQ(test, tick(f->kdev, u), KESYNC_TCOUNT_RUNNING);
	KUNIT_EXPECT_EQ(test, tick(f->kdev, u), KESYNC_TCOUNT_RUNNING);
	kesync_tcount_stop(&u->isr);		/* the ISR */
	for (i = 0; i < 10; i++)
		KUNIT_EXPECT_EQ(test, tick(f->kdev, u), KESYNC_TCOUNT_IDLE);
}

/* A reprogramming (next transfer, retry) starts the count over. */
static void kesync_tcount_rearm_test(struct kunit *test)
{
	struct kesync_fixture *f = test->priv;
	struct kesync_unit *u = f->u[0];

	kesync_tcount_arm(&u->isr, 2);
	KUNIT_EXPECT_EQ(test, tick(f->kdev, u), KESYNC_TCOUNT_RUNNING);
	KUNIT_EXPECT_EQ(test, tick(f->kdev, u), KESYNC_TCOUNT_RUNNING);
	kesync_tcount_arm(&u->isr, 2);
	KUNIT_EXPECT_EQ(test, tick(f->kdev, u), KESYNC_TCOUNT_RUNNING);
	KUNIT_EXPECT_EQ(test, tick(f->kdev, u), KESYNC_TCOUNT_RUNNING);
	KUNIT_EXPECT_EQ(test, tick(f->kdev, u), KESYNC_TCOUNT_EXPIRED);
}

/*
 * A tick of a counter already at zero (expired, its poll or reset not yet
 * done) reports nothing new and leaves it at zero: it never expires twice
 * and never wraps to -1 (idle) or below, whatever it is called with.
 */
static void kesync_tcount_tick_at_zero_test(struct kunit *test)
{
	struct kesync_fixture *f = test->priv;
	struct kesync_unit *u = f->u[0];
	int i;

	kesync_tcount_arm(&u->isr, 0);
	KUNIT_EXPECT_EQ(test, tick(f->kdev, u), KESYNC_TCOUNT_EXPIRED);
	for (i = 0; i < 5; i++) {
		KUNIT_EXPECT_NE_MSG(test, tick(f->kdev, u), KESYNC_TCOUNT_EXPIRED,
				    "tick %d after expiry expired again", i);
		KUNIT_EXPECT_EQ(test, u->isr.timer_count, 0);
	}
	/* Out-of-range values written by a bug: idle, never counted down. */
	u->isr.timer_count = -5;
	KUNIT_EXPECT_EQ(test, tick(f->kdev, u), KESYNC_TCOUNT_IDLE);
	KUNIT_EXPECT_EQ(test, u->isr.timer_count, -5);
	/* The largest timeout still arms a positive count. */
	kesync_tcount_arm(&u->isr, KESYNC_TIMEOUT_MAX);
	KUNIT_EXPECT_EQ(test, u->isr.timer_count, KESYNC_TIMEOUT_MAX + 1);
	kesync_tcount_arm(&u->isr, U32_MAX);
	KUNIT_EXPECT_GT(test, u->isr.timer_count, 0);
}

/* ---- Completion status --------------------------------------------------- */

/* The refusals as docs/hardware.md 8.4 words them, and what is not one. */
static void kesync_status_refusal_test(struct kunit *test)
{
	static const struct {
		u32 state, err;
		enum kesync_refusal want;
	} cases[] = {
		/* ERR_CTRL_BUSY: the unit is idle, STATUS = ERROR | CTRL_BUSY */
		{ KESYNC_STATE_ERROR, KESYNC_ERR_CTRL_BUSY, KESYNC_REFUSAL_CTRL_BUSY },
		/* ERR_UNIT_BUSY: its transfer still runs, BUSY | UNIT_BUSY */
		{ KESYNC_STATE_BUSY, KESYNC_ERR_UNIT_BUSY, KESYNC_REFUSAL_UNIT_BUSY },
		{ KESYNC_STATE_DONE, KESYNC_ERR_NONE, KESYNC_REFUSAL_NONE },
		{ KESYNC_STATE_BUSY, KESYNC_ERR_NONE, KESYNC_REFUSAL_NONE },
		{ KESYNC_STATE_ERROR, KESYNC_ERR_DMA, KESYNC_REFUSAL_NONE },
		{ KESYNC_STATE_ERROR, KESYNC_ERR_INJECTED, KESYNC_REFUSAL_NONE },
		{ KESYNC_STATE_ABORTED, KESYNC_ERR_NONE, KESYNC_REFUSAL_NONE },
	};
	unsigned int i;
	u32 st;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		st = cases[i].state | cases[i].err << KESYNC_USTAT_ERR_SHIFT;
		KUNIT_EXPECT_EQ_MSG(test, kesync_status_refusal(st), cases[i].want,
				    "status 0x%x", st);
	}
}

/* ---- A register that reads all ones ------------------------------------- */

/* Stand-ins for kesync_hw_absent()'s configuration read, which they count. */
static unsigned int absent_calls;

static bool cfg_absent(struct kesync_dev *kdev)
{
	absent_calls++;
	return true;
}

static bool cfg_present(struct kesync_dev *kdev)
{
	absent_calls++;
	return false;
}

static enum kesync_ones verdict(struct kesync_dev *kdev,
				bool (*absent)(struct kesync_dev *kdev))
{
	enum kesync_ones v;

	spin_lock_irq(&kdev->isr.lock);
	v = kesync_ones_verdict(kdev, absent);
	spin_unlock_irq(&kdev->isr.lock);
	return v;
}

static int refusal(struct kesync_dev *kdev)
{
	int r;

	spin_lock_irq(&kdev->isr.lock);
	r = kesync_program_refusal_locked(kdev);
	spin_unlock_irq(&kdev->isr.lock);
	return r;
}

/*
 * Confirmed absent: marked gone for good, every transfer over and its
 * counter stopped (no timeout of an absent device is waited for), nothing
 * programmed any more (-ENODEV, not -EAGAIN: no reset will ever end), and
 * the next all-ones read costs no configuration read.
 */
static void kesync_ones_gone_test(struct kunit *test)
{
	struct kesync_fixture *f = test->priv;
	struct kesync_dev *kdev = f->kdev;
	unsigned int i;

	kdev->nunits = NUNITS;
	for (i = 0; i < NUNITS; i += 2) {
		f->u[i]->isr.busy = true;
		kesync_tcount_arm(&f->u[i]->isr, 3);
	}
	absent_calls = 0;
	KUNIT_EXPECT_EQ(test, refusal(kdev), 0);
	KUNIT_EXPECT_EQ(test, verdict(kdev, cfg_absent), KESYNC_ONES_GONE);
	KUNIT_EXPECT_EQ(test, absent_calls, 1u);
	KUNIT_EXPECT_TRUE(test, kdev->isr.gone);
	KUNIT_EXPECT_FALSE(test, kdev->isr.bad_read);
	for (i = 0; i < NUNITS; i++) {
		KUNIT_EXPECT_FALSE(test, f->u[i]->isr.busy);
		KUNIT_EXPECT_EQ(test, tick(kdev, f->u[i]), KESYNC_TCOUNT_IDLE);
	}
	KUNIT_EXPECT_EQ(test, refusal(kdev), -ENODEV);
	/* Gone outranks a reset or an offline controller. */
	kdev->isr.resetting = true;
	KUNIT_EXPECT_EQ(test, refusal(kdev), -ENODEV);
	KUNIT_EXPECT_EQ(test, verdict(kdev, cfg_absent), KESYNC_ONES_NOTHING);
	KUNIT_EXPECT_EQ(test, verdict(kdev, cfg_present), KESYNC_ONES_NOTHING);
	KUNIT_EXPECT_EQ(test, absent_calls, 1u);
	KUNIT_EXPECT_TRUE(test, kdev->isr.gone);
}

/* Absence found while a reset runs: gone all the same, not left to it. */
static void kesync_ones_gone_resetting_test(struct kunit *test)
{
	struct kesync_fixture *f = test->priv;
	struct kesync_dev *kdev = f->kdev;

	kdev->nunits = NUNITS;
	kdev->isr.resetting = true;
	absent_calls = 0;
	KUNIT_EXPECT_EQ(test, refusal(kdev), -EAGAIN);
	KUNIT_EXPECT_EQ(test, verdict(kdev, cfg_absent), KESYNC_ONES_GONE);
	KUNIT_EXPECT_EQ(test, refusal(kdev), -ENODEV);
}

/*
 * There: a bad read.  The controller must be reset, with bus mastering
 * off (bad_read), unless a reset runs already; never marked gone, and
 * programming goes on after the reset.
 */
static void kesync_ones_present_test(struct kunit *test)
{
	struct kesync_fixture *f = test->priv;
	struct kesync_dev *kdev = f->kdev;

	kdev->nunits = NUNITS;
	absent_calls = 0;
	KUNIT_EXPECT_EQ(test, verdict(kdev, cfg_present), KESYNC_ONES_RESET);
	KUNIT_EXPECT_EQ(test, absent_calls, 1u);
	KUNIT_EXPECT_TRUE(test, kdev->isr.bad_read);
	KUNIT_EXPECT_FALSE(test, kdev->isr.gone);
	KUNIT_EXPECT_EQ(test, refusal(kdev), 0);

	/* A reset under way (SynchCritSection_2 ran): nothing more. */
	kdev->isr.bad_read = false;
	kdev->isr.resetting = true;
	KUNIT_EXPECT_EQ(test, verdict(kdev, cfg_present), KESYNC_ONES_NOTHING);
	KUNIT_EXPECT_FALSE(test, kdev->isr.bad_read);
	KUNIT_EXPECT_FALSE(test, kdev->isr.gone);
	KUNIT_EXPECT_EQ(test, refusal(kdev), -EAGAIN);
}

/*
 * Offline (a reset of the function, sleep, D3hot): the BARs read all ones
 * by design; no configuration read, no verdict, programming waits.
 */
static void kesync_ones_offline_test(struct kunit *test)
{
	struct kesync_fixture *f = test->priv;
	struct kesync_dev *kdev = f->kdev;

	kdev->nunits = NUNITS;
	kdev->isr.offline = true;
	absent_calls = 0;
	KUNIT_EXPECT_EQ(test, verdict(kdev, cfg_absent), KESYNC_ONES_NOTHING);
	KUNIT_EXPECT_EQ(test, verdict(kdev, cfg_present), KESYNC_ONES_NOTHING);
	KUNIT_EXPECT_EQ(test, absent_calls, 0u);
	KUNIT_EXPECT_FALSE(test, kdev->isr.gone);
	KUNIT_EXPECT_FALSE(test, kdev->isr.bad_read);
	KUNIT_EXPECT_EQ(test, refusal(kdev), -EAGAIN);
}

/* ---- Controller object --------------------------------------------------- */

/* Make @r the current STARTING request of @u, as StartIo's caller does. */
static void start(struct kesync_unit *u, struct kesync_req *r)
{
	r->unit = u;
	u->cur = r;
	r->state = KESYNC_REQ_STARTING;
}

static bool acquire(struct kesync_dev *kdev, struct kesync_unit *u)
{
	bool granted;

	spin_lock(&kdev->io.lock);
	granted = kesync_ctrl_acquire_locked(kdev, u, u->cur);
	spin_unlock(&kdev->io.lock);
	return granted;
}

static struct kesync_unit *release(struct kesync_dev *kdev)
{
	struct kesync_unit *next;

	spin_lock(&kdev->io.lock);
	next = kesync_ctrl_release_locked(kdev);
	spin_unlock(&kdev->io.lock);
	return next;
}

static void kesync_ctrl_free_grant_test(struct kunit *test)
{
	struct kesync_fixture *f = test->priv;

	start(f->u[0], f->r[0]);
	KUNIT_EXPECT_TRUE(test, acquire(f->kdev, f->u[0]));
	KUNIT_EXPECT_PTR_EQ(test, f->kdev->io.ctrl_owner, f->u[0]);
	KUNIT_EXPECT_EQ(test, f->r[0]->state, KESYNC_REQ_STARTING);
	KUNIT_EXPECT_TRUE(test, list_empty(&f->kdev->io.ctrl_waiters));
	KUNIT_EXPECT_NULL(test, release(f->kdev));
	KUNIT_EXPECT_NULL(test, f->kdev->io.ctrl_owner);
	/* Free again: the next unit gets it at once. */
	start(f->u[1], f->r[1]);
	KUNIT_EXPECT_TRUE(test, acquire(f->kdev, f->u[1]));
	KUNIT_EXPECT_PTR_EQ(test, f->kdev->io.ctrl_owner, f->u[1]);
}

/* Waiters get the controller object in the order they asked for it. */
static void kesync_ctrl_fifo_test(struct kunit *test)
{
	struct kesync_fixture *f = test->priv;
	int i;

	for (i = 0; i < NUNITS; i++)
		start(f->u[i], f->r[i]);
	KUNIT_EXPECT_TRUE(test, acquire(f->kdev, f->u[0]));
	/* Out of index order on purpose: FIFO, not by unit number. */
	KUNIT_EXPECT_FALSE(test, acquire(f->kdev, f->u[2]));
	KUNIT_EXPECT_FALSE(test, acquire(f->kdev, f->u[1]));
	KUNIT_EXPECT_FALSE(test, acquire(f->kdev, f->u[3]));
	KUNIT_EXPECT_PTR_EQ(test, f->kdev->io.ctrl_owner, f->u[0]);
	for (i = 1; i < NUNITS; i++)
		KUNIT_EXPECT_EQ(test, f->r[i]->state, KESYNC_REQ_WAIT_CTRL);

	KUNIT_EXPECT_PTR_EQ(test, release(f->kdev), f->u[2]);
	KUNIT_EXPECT_EQ(test, f->r[2]->state, KESYNC_REQ_STARTING);
	KUNIT_EXPECT_PTR_EQ(test, f->kdev->io.ctrl_owner, f->u[2]);
	/* u0's next request queues behind the units already waiting. */
	start(f->u[0], f->r[0]);
	KUNIT_EXPECT_FALSE(test, acquire(f->kdev, f->u[0]));
	KUNIT_EXPECT_PTR_EQ(test, release(f->kdev), f->u[1]);
	KUNIT_EXPECT_PTR_EQ(test, release(f->kdev), f->u[3]);
	KUNIT_EXPECT_PTR_EQ(test, release(f->kdev), f->u[0]);
	KUNIT_EXPECT_NULL(test, release(f->kdev));
	KUNIT_EXPECT_NULL(test, f->kdev->io.ctrl_owner);
	KUNIT_EXPECT_TRUE(test, list_empty(&f->kdev->io.ctrl_waiters));
	for (i = 0; i < NUNITS; i++)
		KUNIT_EXPECT_TRUE(test, list_empty(&f->u[i]->ctrl_node));
}

/* The owner's look: cancellation wins over io.err; a clean one goes on. */
static void kesync_owner_check_test(struct kunit *test)
{
	struct kesync_fixture *f = test->priv;
	struct kesync_dev *kdev = f->kdev;
	struct kesync_req *r = f->r[0];
	ssize_t res;

	start(f->u[0], r);
	spin_lock(&kdev->io.lock);
	res = kesync_owner_check_locked(kdev, r, -EINTR);
	spin_unlock(&kdev->io.lock);
	KUNIT_EXPECT_EQ(test, res, 0);
	KUNIT_EXPECT_EQ(test, r->state, KESYNC_REQ_STARTING);
	KUNIT_EXPECT_PTR_EQ(test, f->u[0]->cur, r);

	kdev->io.err = -ENODEV;
	spin_lock(&kdev->io.lock);
	res = kesync_owner_check_locked(kdev, r, -EINTR);
	spin_unlock(&kdev->io.lock);
	KUNIT_EXPECT_EQ(test, res, -ENODEV);
	KUNIT_EXPECT_EQ(test, r->state, KESYNC_REQ_DONE);
	KUNIT_EXPECT_NULL(test, f->u[0]->cur);
	KUNIT_EXPECT_FALSE(test, r->cancelled);

	start(f->u[0], r);
	r->cancel = true;
	spin_lock(&kdev->io.lock);
	res = kesync_owner_check_locked(kdev, r, 4096);
	spin_unlock(&kdev->io.lock);
	KUNIT_EXPECT_EQ(test, res, 4096);	/* a partial count */
	KUNIT_EXPECT_TRUE(test, r->cancelled);
	KUNIT_EXPECT_EQ(test, r->state, KESYNC_REQ_DONE);
}

/* ---- Thread pump ---------------------------------------------------------- */

static bool thread_ready(struct kesync_dev *kdev)
{
	bool ready;

	spin_lock(&kdev->io.lock);
	ready = kesync_thread_ready_locked(kdev);
	spin_unlock(&kdev->io.lock);
	return ready;
}

/*
 * The pump thread is woken only for a request it can start: an empty
 * interlocked queue, or one holding only requests of busy units, is no
 * reason; a request of an idle unit anywhere in it is.
 */
static void kesync_thread_ready_test(struct kunit *test)
{
	struct kesync_fixture *f = test->priv;
	struct kesync_dev *kdev = f->kdev;

	KUNIT_EXPECT_FALSE(test, thread_ready(kdev));

	start(f->u[0], f->r[0]);		/* unit 0 busy */
	f->r[1]->unit = f->u[0];
	f->r[1]->state = KESYNC_REQ_QUEUED;
	list_add_tail(&f->r[1]->node, &kdev->io.tq);
	KUNIT_EXPECT_FALSE(test, thread_ready(kdev));

	start(f->u[1], f->r[2]);		/* unit 1 busy too */
	f->r[3]->unit = f->u[1];
	f->r[3]->state = KESYNC_REQ_QUEUED;
	list_add_tail(&f->r[3]->node, &kdev->io.tq);
	KUNIT_EXPECT_FALSE(test, thread_ready(kdev));

	/* Unit 1's request ends: its queued one, second in line, can go. */
	spin_lock(&kdev->io.lock);
	kesync_retire_locked(f->u[1], f->r[2]);
	spin_unlock(&kdev->io.lock);
	KUNIT_EXPECT_TRUE(test, thread_ready(kdev));

	/* The pump takes it: nothing startable is left. */
	list_del_init(&f->r[3]->node);
	KUNIT_EXPECT_FALSE(test, thread_ready(kdev));
}

/* ---- Cancel-safe queue --------------------------------------------------- */

static enum kesync_cancel_act cancel(struct kesync_fixture *f, int i)
{
	struct kesync_req *r = f->r[i];
	enum kesync_cancel_act act;

	spin_lock(&f->kdev->io.lock);
	act = kesync_cancel_transition_locked(r, f->kdev->io.removed);
	spin_unlock(&f->kdev->io.lock);
	if (act == KESYNC_CANCEL_END || act == KESYNC_CANCEL_END_NEXT)
		f->ended[i]++;
	return act;
}

/* The owner's look before ControllerControl; counts the end it makes. */
static bool owner_check(struct kesync_fixture *f, int i)
{
	ssize_t res;

	spin_lock(&f->kdev->io.lock);
	res = kesync_owner_check_locked(f->kdev, f->r[i], -EINTR);
	spin_unlock(&f->kdev->io.lock);
	if (res)
		f->ended[i]++;
	return !res;
}

static void queue(struct kesync_unit *u, struct kesync_req *r)
{
	r->unit = u;
	r->state = KESYNC_REQ_QUEUED;
	list_add_tail(&r->node, &u->queue);
}

static struct kesync_req *next_req(struct kesync_fixture *f,
				   struct kesync_unit *u)
{
	struct kesync_req *r;

	spin_lock(&f->kdev->io.lock);
	r = kesync_next_req_locked(u);
	spin_unlock(&f->kdev->io.lock);
	return r;
}

static void kesync_cancel_states_test(struct kunit *test)
{
	struct kesync_fixture *f = test->priv;
	struct kesync_unit *u = f->u[0];

	queue(u, f->r[0]);
	KUNIT_EXPECT_EQ(test, cancel(f, 0), KESYNC_CANCEL_END);
	KUNIT_EXPECT_EQ(test, f->r[0]->state, KESYNC_REQ_DONE);
	KUNIT_EXPECT_TRUE(test, f->r[0]->cancelled);
	KUNIT_EXPECT_TRUE(test, list_empty(&u->queue));

	start(u, f->r[1]);
	KUNIT_EXPECT_EQ(test, cancel(f, 1), KESYNC_CANCEL_NONE);
	KUNIT_EXPECT_TRUE(test, f->r[1]->cancel);
	KUNIT_EXPECT_EQ(test, f->r[1]->state, KESYNC_REQ_STARTING);
	KUNIT_EXPECT_PTR_EQ(test, u->cur, f->r[1]);

	f->r[2]->unit = u;
	u->cur = f->r[2];
	f->r[2]->state = KESYNC_REQ_ACTIVE;
	KUNIT_EXPECT_EQ(test, cancel(f, 2), KESYNC_CANCEL_KICK);
	KUNIT_EXPECT_EQ(test, f->r[2]->state, KESYNC_REQ_ACTIVE);
	f->kdev->io.removed = true;
	KUNIT_EXPECT_EQ(test, cancel(f, 2), KESYNC_CANCEL_NONE);

	f->r[3]->unit = u;
	f->r[3]->state = KESYNC_REQ_DONE;
	KUNIT_EXPECT_EQ(test, cancel(f, 3), KESYNC_CANCEL_NONE);
	KUNIT_EXPECT_FALSE(test, f->r[3]->cancel);
}

/* A second cancellation (signal, then close) never ends it again. */
static void kesync_cancel_twice_test(struct kunit *test)
{
	struct kesync_fixture *f = test->priv;

	queue(f->u[0], f->r[0]);
	cancel(f, 0);
	cancel(f, 0);
	KUNIT_EXPECT_EQ(test, f->ended[0], 1);

	start(f->u[2], f->r[2]);
	f->kdev->io.ctrl_owner = f->u[3];
	KUNIT_EXPECT_FALSE(test, acquire(f->kdev, f->u[2]));
	KUNIT_EXPECT_EQ(test, cancel(f, 2), KESYNC_CANCEL_END_NEXT);
	KUNIT_EXPECT_EQ(test, cancel(f, 2), KESYNC_CANCEL_NONE);
	KUNIT_EXPECT_EQ(test, f->ended[2], 1);
	KUNIT_EXPECT_TRUE(test, list_empty(&f->u[2]->ctrl_node));
}

/*
 * Cancel against the pump's dequeue: queued requests r0, r1 on an idle
 * unit.  Either the canceller takes r0 off the queue (and ends it) and
 * the pump starts r1, or the pump starts r0 first, and the cancellation
 * only flags it, for its owner to end.  r0 is ended exactly once.
 */
static void kesync_race_cancel_dequeue_test(struct kunit *test)
{
	struct kesync_fixture *f = test->priv;
	struct kesync_unit *u = f->u[0];
	int order;

	for (order = 0; order < 2; order++) {
		struct kesync_req *got;

		memset(f->ended, 0, sizeof(f->ended));
		u->cur = NULL;
		f->r[0]->cancel = false;
		f->r[0]->cancelled = false;
		queue(u, f->r[0]);
		queue(u, f->r[1]);
		if (order == 0) {
			KUNIT_EXPECT_EQ(test, cancel(f, 0), KESYNC_CANCEL_END);
			got = next_req(f, u);
			KUNIT_EXPECT_PTR_EQ(test, got, f->r[1]);
		} else {
			got = next_req(f, u);
			KUNIT_EXPECT_PTR_EQ(test, got, f->r[0]);
			KUNIT_EXPECT_EQ(test, cancel(f, 0), KESYNC_CANCEL_NONE);
			/* StartIo's look ends it; the pump goes on with r1. */
			KUNIT_EXPECT_FALSE(test, owner_check(f, 0));
			KUNIT_EXPECT_NULL(test, u->cur);
			KUNIT_EXPECT_PTR_EQ(test, next_req(f, u), f->r[1]);
		}
		KUNIT_EXPECT_EQ_MSG(test, f->ended[0], 1, "order %d", order);
		KUNIT_EXPECT_EQ(test, f->ended[1], 0);
		KUNIT_EXPECT_EQ(test, f->r[0]->state, KESYNC_REQ_DONE);
		KUNIT_EXPECT_EQ(test, f->r[1]->state, KESYNC_REQ_STARTING);
		KUNIT_EXPECT_TRUE(test, list_empty(&u->queue));
	}
}

/*
 * Cancel against IoFreeController: u1's request waits for the controller
 * u0 holds.  Cancelled before the release, it leaves the waiters (ended
 * by the canceller) and the controller goes to u2; cancelled after, it is
 * u1's STARTING request and ControllerControl's look ends it.  Either way
 * exactly one end, and the FIFO goes on.
 */
static void kesync_race_cancel_release_test(struct kunit *test)
{
	struct kesync_fixture *f = test->priv;
	struct kesync_dev *kdev = f->kdev;
	int order;

	for (order = 0; order < 2; order++) {
		memset(f->ended, 0, sizeof(f->ended));
		kdev->io.ctrl_owner = NULL;
		f->r[1]->cancel = false;
		f->r[1]->cancelled = false;
		start(f->u[0], f->r[0]);
		start(f->u[1], f->r[1]);
		start(f->u[2], f->r[2]);
		KUNIT_EXPECT_TRUE(test, acquire(kdev, f->u[0]));
		KUNIT_EXPECT_FALSE(test, acquire(kdev, f->u[1]));
		KUNIT_EXPECT_FALSE(test, acquire(kdev, f->u[2]));
		if (order == 0) {
			KUNIT_EXPECT_EQ(test, cancel(f, 1),
					KESYNC_CANCEL_END_NEXT);
			KUNIT_EXPECT_PTR_EQ(test, release(kdev), f->u[2]);
		} else {
			KUNIT_EXPECT_PTR_EQ(test, release(kdev), f->u[1]);
			KUNIT_EXPECT_EQ(test, cancel(f, 1), KESYNC_CANCEL_NONE);
			/* ControllerControl ends it, frees the object. */
			KUNIT_EXPECT_FALSE(test, owner_check(f, 1));
			KUNIT_EXPECT_PTR_EQ(test, release(kdev), f->u[2]);
		}
		KUNIT_EXPECT_EQ_MSG(test, f->ended[1], 1, "order %d", order);
		KUNIT_EXPECT_EQ(test, f->r[1]->state, KESYNC_REQ_DONE);
		KUNIT_EXPECT_NULL(test, f->u[1]->cur);
		KUNIT_EXPECT_EQ(test, f->r[2]->state, KESYNC_REQ_STARTING);
		KUNIT_EXPECT_TRUE(test, owner_check(f, 2));
		KUNIT_EXPECT_NULL(test, release(kdev));
	}
}

/*
 * Every state a canceller can meet, followed by every owner step that can
 * come after it: the canceller and the owner never both end the request.
 */
static void kesync_race_never_twice_test(struct kunit *test)
{
	struct kesync_fixture *f = test->priv;
	enum kesync_req_state s;

	for (s = KESYNC_REQ_QUEUED; s <= KESYNC_REQ_DONE; s++) {
		struct kesync_unit *u = f->u[1];
		struct kesync_req *r = f->r[0];
		enum kesync_cancel_act act;

		memset(f->ended, 0, sizeof(f->ended));
		INIT_LIST_HEAD(&u->queue);
		INIT_LIST_HEAD(&f->kdev->io.ctrl_waiters);
		INIT_LIST_HEAD(&u->ctrl_node);
		f->kdev->io.ctrl_owner = NULL;
		f->kdev->io.removed = false;
		r->cancel = false;
		r->cancelled = false;
		u->cur = NULL;
		switch (s) {
		case KESYNC_REQ_QUEUED:
			queue(u, r);
			break;
		case KESYNC_REQ_WAIT_CTRL:
			start(u, r);
			f->kdev->io.ctrl_owner = f->u[0];
			acquire(f->kdev, u);
			break;
		case KESYNC_REQ_DONE:
			r->unit = u;
			r->state = s;
			f->ended[0] = 1;	/* its owner ended it */
			break;
		default:
			start(u, r);
			r->state = s;
			break;
		}
		KUNIT_ASSERT_EQ(test, r->state, s);
		act = cancel(f, 0);

		/* The owner's steps that may still run after the canceller. */
		switch (s) {
		case KESYNC_REQ_QUEUED:
			KUNIT_EXPECT_NULL(test, next_req(f, u));
			break;
		case KESYNC_REQ_WAIT_CTRL:
			/* u0 frees the controller: nobody waits now. */
			KUNIT_EXPECT_NULL(test, release(f->kdev));
			break;
		case KESYNC_REQ_STARTING:
			owner_check(f, 0);
			break;
		case KESYNC_REQ_ACTIVE:
			KUNIT_EXPECT_EQ(test, act, KESYNC_CANCEL_KICK);
			/* The DpcForIsr aborts it and ends it, once. */
			KUNIT_EXPECT_TRUE(test, r->cancel);
			spin_lock(&f->kdev->io.lock);
			kesync_retire_locked(u, r);
			spin_unlock(&f->kdev->io.lock);
			f->ended[0]++;
			break;
		case KESYNC_REQ_DONE:
			break;
		}
		/* And a late second cancellation (close after a signal). */
		KUNIT_EXPECT_EQ(test, cancel(f, 0), KESYNC_CANCEL_NONE);
		KUNIT_EXPECT_EQ_MSG(test, f->ended[0], 1, "state %d", s);
		KUNIT_EXPECT_EQ(test, r->state, KESYNC_REQ_DONE);
		KUNIT_EXPECT_NULL(test, u->cur);
	}
}

static struct kunit_case kesync_test_cases[] = {
	KUNIT_CASE(kesync_tcount_idle_test),
	KUNIT_CASE(kesync_tcount_expiry_test),
	KUNIT_CASE(kesync_tcount_isr_stops_test),
	KUNIT_CASE(kesync_tcount_rearm_test),
	KUNIT_CASE(kesync_tcount_tick_at_zero_test),
	KUNIT_CASE(kesync_status_refusal_test),
	KUNIT_CASE(kesync_ones_gone_test),
	KUNIT_CASE(kesync_ones_gone_resetting_test),
	KUNIT_CASE(kesync_ones_present_test),
	KUNIT_CASE(kesync_ones_offline_test),
	KUNIT_CASE(kesync_ctrl_free_grant_test),
	KUNIT_CASE(kesync_ctrl_fifo_test),
	KUNIT_CASE(kesync_owner_check_test),
	KUNIT_CASE(kesync_thread_ready_test),
	KUNIT_CASE(kesync_cancel_states_test),
	KUNIT_CASE(kesync_cancel_twice_test),
	KUNIT_CASE(kesync_race_cancel_dequeue_test),
	KUNIT_CASE(kesync_race_cancel_release_test),
	KUNIT_CASE(kesync_race_never_twice_test),
	{}
};

static struct kunit_suite kesync_test_suite = {
	.name = "kesync",
	.init = kesync_test_init,
	.test_cases = kesync_test_cases,
};

kunit_test_suite(kesync_test_suite);

MODULE_DESCRIPTION("KUnit tests of the kesync driver's state machines");
MODULE_LICENSE("GPL");

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kesync: the pure bookkeeping of the NT design, as inline helpers.
 *
 * These are the state machines the driver's contexts share, with no
 * hardware access, no tracing and no waking: the timer counter of
 * IoTimer, the controller object's FIFO (IoAllocateController and
 * IoFreeController), the request pumps' dequeue and the cancel-safe
 * queue's transitions.  kesync-io.c and kesync-hw.c call them; being
 * inline, the KUnit suite (kesync-kunit.c, CONFIG_KESYNC_KUNIT_TEST) tests
 * the very same code without any symbol exported from kesync.ko.
 *
 * Locking is stated for each helper; the callers hold the lock.
 */
#ifndef _KESYNC_STATE_H
#define _KESYNC_STATE_H

#include <linux/compiler.h>
#include <linux/errno.h>
#include <linux/list.h>
#include <linux/lockdep.h>
#include <linux/minmax.h>

#include "kesync-dev.h"

/* ---- The timer counter (NT: the IoTimer counter) ------------------------- */

/* What one IoTimer tick made of the counter. */
enum kesync_tcount {
	KESYNC_TCOUNT_IDLE,		/* -1: nothing programmed, or finished */
	KESYNC_TCOUNT_RUNNING,		/* decremented, still above zero */
	KESYNC_TCOUNT_EXPIRED,		/* reached zero: lost interrupt or hang */
};

/*
 * StartIo (the programming routines): arm the counter to @timeout + 1
 * ticks, so a timeout is seen between @timeout and @timeout + 1 s later.
 * Context: under kesync_dev.isr.lock (a SynchCritSection).
 */
static inline void kesync_tcount_arm(struct kesync_unit_isr *ui, u32 timeout)
{
	/* The ioctl and sysfs keep it in range; never arm an idle counter. */
	WRITE_ONCE(ui->timer_count, min_t(u32, timeout, KESYNC_TIMEOUT_MAX) + 1);
}

/*
 * The ISR (or a reset, or an abort): the transfer is over, the counter
 * idles at -1.  Context: under kesync_dev.isr.lock.
 */
static inline void kesync_tcount_stop(struct kesync_unit_isr *ui)
{
	WRITE_ONCE(ui->timer_count, -1);
}

/*
 * SynchCritSection_1's counting: an idle counter (-1) is left alone;
 * otherwise it is decremented, and reaching zero means the caller must look
 * for a completion (lost interrupt) or reset the controller (timeout).  The
 * counter is left at zero: the caller's poll or reset sets it to -1.  A
 * counter already at zero (expired, its poll or reset still pending) or
 * below -1 (never written so by the driver) is reported idle and left as it
 * is: an expiry is reported once, and the count never wraps to -1 or below.
 * Context: under kesync_dev.isr.lock.
 */
static inline enum kesync_tcount kesync_tcount_tick(struct kesync_unit_isr *ui)
{
	int n = ui->timer_count;

	if (n <= 0)
		return KESYNC_TCOUNT_IDLE;
	WRITE_ONCE(ui->timer_count, n - 1);
	return n > 1 ? KESYNC_TCOUNT_RUNNING : KESYNC_TCOUNT_EXPIRED;
}

/* ---- Completion status --------------------------------------------------- */

/* A refused START, as the unit's STATUS reports it (docs/hardware.md 8.4). */
enum kesync_refusal {
	KESYNC_REFUSAL_NONE,		/* not a refusal */
	KESYNC_REFUSAL_CTRL_BUSY,	/* another unit held the controller */
	KESYNC_REFUSAL_UNIT_BUSY,	/* the unit's own transfer still runs */
};

/*
 * Classify a completion's unit status.  The state field says what the unit
 * really does (docs/hardware.md 8.4): a CTRL_BUSY refusal leaves the unit
 * idle, ERROR | CTRL_BUSY << 8; a UNIT_BUSY refusal leaves the unit's own
 * transfer running, BUSY | UNIT_BUSY << 8, not ERROR.
 * Context: any.
 */
static inline enum kesync_refusal kesync_status_refusal(u32 status)
{
	u32 state = status & KESYNC_USTAT_STATE_MASK;
	u32 err = (status & KESYNC_USTAT_ERR_MASK) >> KESYNC_USTAT_ERR_SHIFT;

	if (state == KESYNC_STATE_ERROR && err == KESYNC_ERR_CTRL_BUSY)
		return KESYNC_REFUSAL_CTRL_BUSY;
	if (state == KESYNC_STATE_BUSY && err == KESYNC_ERR_UNIT_BUSY)
		return KESYNC_REFUSAL_UNIT_BUSY;
	return KESYNC_REFUSAL_NONE;
}

/* ---- A register that reads all ones ------------------------------------- */

/*
 * What a controller register read of all ones means, and what to do.  No
 * register of a working controller reads all ones (INTR_STATUS has a few
 * bits, MAGIC a fixed value, a unit's STATUS a state of 0..4): either the
 * function is gone (surprise removal, a link down) or the read was bad (a
 * poisoned completion, a wedged device, D3hot).
 */
enum kesync_ones {
	KESYNC_ONES_NOTHING,	/* already accounted for: nothing new to do */
	KESYNC_ONES_GONE,	/* the function is absent: fail all, -ENODEV */
	KESYNC_ONES_RESET,	/* it is there: reset the controller */
};

/*
 * Configuration space confirmed that the function is absent: from now on
 * no transfer is programmed (kesync_program_refusal_locked()) and no
 * timer counter runs, so nothing waits for a timeout of the absent device;
 * each unit's transfer is over (no DMA without a link).  The caller has the
 * reset worker fail every request with -ENODEV.
 * Context: under kesync_dev.isr.lock.
 */
static inline void kesync_mark_gone_locked(struct kesync_dev *kdev)
	__must_hold(&kdev->isr.lock)
{
	unsigned int i;

	lockdep_assert_held(&kdev->isr.lock);
	WRITE_ONCE(kdev->isr.gone, true);
	for (i = 0; i < kdev->nunits; i++) {
		struct kesync_unit_isr *ui = &kdev->units[i]->isr;

		ui->busy = false;
		kesync_tcount_stop(ui);
	}
}

/*
 * The verdict on a register that read all ones (INTR_STATUS in the shared
 * or controller ISR, never in an MSI-X unit's, which reads no register;
 * the IoTimer's MAGIC; an abort's unit STATUS).  Already gone, or offline
 * (the function is being reset or is in D3hot, where the BARs read all
 * ones): nothing new.  Otherwise @absent (a configuration read, which the
 * verdict needs only then) decides: absent, the controller is marked gone;
 * present, the read was bad and a controller reset must stop whatever the
 * device may still do, unless one is under way already; bad_read then
 * tells the reset worker to keep bus mastering off until the reset is
 * over, so no buffer is unmapped while the device might still write it.
 * The caller acts on GONE and RESET (programs the reset, queues the reset
 * worker) once it may.
 * Context: under kesync_dev.isr.lock (an ISR or a SynchCritSection).
 */
static inline enum kesync_ones
kesync_ones_verdict(struct kesync_dev *kdev,
		    bool (*absent)(struct kesync_dev *kdev))
	__must_hold(&kdev->isr.lock)
{
	lockdep_assert_held(&kdev->isr.lock);
	if (kdev->isr.gone || kdev->isr.offline)
		return KESYNC_ONES_NOTHING;
	if (absent(kdev)) {
		kesync_mark_gone_locked(kdev);
		return KESYNC_ONES_GONE;
	}
	if (kdev->isr.resetting)
		return KESYNC_ONES_NOTHING;
	WRITE_ONCE(kdev->isr.bad_read, true);	/* the reset worker peeks */
	return KESYNC_ONES_RESET;
}

/*
 * May a transfer be programmed now?  Not once the function is gone
 * (-ENODEV: the reset worker fails the request), nor during a controller
 * reset or while offline (-EAGAIN: the unit is marked reset_hit and its
 * DpcForIsr programs it again afterwards).
 * Context: under kesync_dev.isr.lock.
 * Return: 0, -ENODEV or -EAGAIN.
 */
static inline int kesync_program_refusal_locked(struct kesync_dev *kdev)
	__must_hold(&kdev->isr.lock)
{
	lockdep_assert_held(&kdev->isr.lock);
	if (kdev->isr.gone)
		return -ENODEV;
	if (kdev->isr.resetting || kdev->isr.offline)
		return -EAGAIN;
	return 0;
}

/* ---- Requests ------------------------------------------------------------ */

/*
 * The request leaves its unit; whoever does this completes it, exactly
 * once.  Context: under kesync_dev.io.lock.
 */
static inline void kesync_retire_locked(struct kesync_unit *u,
					struct kesync_req *req)
	__must_hold(&u->kdev->io.lock)
{
	lockdep_assert_held(&u->kdev->io.lock);
	req->state = KESYNC_REQ_DONE;
	if (u->cur == req)
		u->cur = NULL;
}

/*
 * The owner of a STARTING request looks at it before it goes on: a
 * cancelled request is ended with @cancel_res, and one the controller can
 * no longer serve with io.err.  Either way it is retired here and the
 * caller completes it.
 * Context: under kesync_dev.io.lock; the caller owns @req (STARTING).
 * Return: 0 to go on, or the result to complete @req with.
 */
static inline ssize_t kesync_owner_check_locked(struct kesync_dev *kdev,
						struct kesync_req *req,
						ssize_t cancel_res)
	__must_hold(&kdev->io.lock)
{
	ssize_t res = 0;

	lockdep_assert_held(&kdev->io.lock);
	if (req->cancel) {
		req->cancelled = true;
		res = cancel_res;
	} else if (kdev->io.err) {
		res = kdev->io.err;
	}
	if (res)
		kesync_retire_locked(req->unit, req);
	return res;
}

/*
 * IoStartNextPacket's dequeue (startio pump): when @u is idle, its next
 * queued request becomes its current one, owned by the caller (STARTING).
 * Context: under kesync_dev.io.lock.
 * Return: the request to StartIo, or NULL.
 */
static inline struct kesync_req *kesync_next_req_locked(struct kesync_unit *u)
	__must_hold(&u->kdev->io.lock)
{
	struct kesync_req *req;

	lockdep_assert_held(&u->kdev->io.lock);
	req = u->cur ? NULL : list_first_entry_or_null(&u->queue,
						struct kesync_req, node);
	if (req) {
		list_del_init(&req->node);
		u->cur = req;
		req->state = KESYNC_REQ_STARTING;
	}
	return req;
}

/*
 * The thread pump's wake-up test (IoStartNextPacket, pump=thread): does
 * the interlocked queue hold a request the pump thread can start now, one
 * whose unit is idle?  Only then is the thread woken: a request of a busy
 * unit waits for that unit's completion, which asks again.
 * Context: under kesync_dev.io.lock.
 */
static inline bool kesync_thread_ready_locked(struct kesync_dev *kdev)
	__must_hold(&kdev->io.lock)
{
	struct kesync_req *req;

	lockdep_assert_held(&kdev->io.lock);
	list_for_each_entry(req, &kdev->io.tq, node)
		if (!req->unit->cur)
			return true;
	return false;
}

/* ---- The controller object ----------------------------------------------- */

/*
 * IoAllocateController's bookkeeping: take the free controller object, or
 * queue @u behind the units already waiting (FIFO), its request @req
 * (its current one, STARTING) then WAIT_CTRL.
 * Context: under kesync_dev.io.lock.
 * Return: true when granted: the caller runs ControllerControl.
 */
static inline bool kesync_ctrl_acquire_locked(struct kesync_dev *kdev,
					      struct kesync_unit *u,
					      struct kesync_req *req)
	__must_hold(&kdev->io.lock)
{
	lockdep_assert_held(&kdev->io.lock);
	if (!kdev->io.ctrl_owner) {
		kdev->io.ctrl_owner = u;
		return true;
	}
	list_add_tail(&u->ctrl_node, &kdev->io.ctrl_waiters);
	req->state = KESYNC_REQ_WAIT_CTRL;
	return false;
}

/*
 * IoFreeController's bookkeeping: hand the controller object to the unit
 * that has waited longest; its request becomes STARTING (the caller owns
 * it: a canceller only flags it).  With no waiter the object is free.
 * Context: under kesync_dev.io.lock; the caller holds the object.
 * Return: the new owner, whose ControllerControl the caller runs, or NULL.
 */
static inline struct kesync_unit *kesync_ctrl_release_locked(struct kesync_dev *kdev)
	__must_hold(&kdev->io.lock)
{
	struct kesync_unit *next;

	lockdep_assert_held(&kdev->io.lock);
	next = list_first_entry_or_null(&kdev->io.ctrl_waiters,
					struct kesync_unit, ctrl_node);
	if (next) {
		list_del_init(&next->ctrl_node);
		next->cur->state = KESYNC_REQ_STARTING;
	}
	kdev->io.ctrl_owner = next;
	return next;
}

/* ---- The cancel-safe queue ----------------------------------------------- */

/* What a canceller does once it dropped io.lock. */
enum kesync_cancel_act {
	KESYNC_CANCEL_NONE,
	KESYNC_CANCEL_END,		/* end it */
	KESYNC_CANCEL_END_NEXT,		/* end it, start the unit's next */
	KESYNC_CANCEL_KICK,		/* kick the DpcForIsr */
};

/*
 * The cancel routine's decision: a request on a queue (QUEUED, or its unit
 * waiting for the controller, WAIT_CTRL) is taken off and retired, for the
 * canceller to end; one with an owner (STARTING, ACTIVE) is only flagged,
 * and its owner ends it; a DONE one is left alone.  @removed: remove() has
 * begun (an ACTIVE request is then failed by remove(), not kicked).
 * Context: under kesync_dev.io.lock.
 */
static inline enum kesync_cancel_act
kesync_cancel_transition_locked(struct kesync_req *req, bool removed)
	__must_hold(&req->unit->kdev->io.lock)
{
	struct kesync_unit *u = req->unit;

	lockdep_assert_held(&u->kdev->io.lock);
	switch (req->state) {
	case KESYNC_REQ_QUEUED:
		list_del_init(&req->node);
		req->cancel = true;
		req->cancelled = true;
		kesync_retire_locked(u, req);
		return KESYNC_CANCEL_END;
	case KESYNC_REQ_WAIT_CTRL:
		list_del_init(&u->ctrl_node);
		req->cancel = true;
		req->cancelled = true;
		kesync_retire_locked(u, req);
		return KESYNC_CANCEL_END_NEXT;
	case KESYNC_REQ_STARTING:
		req->cancel = true;
		return KESYNC_CANCEL_NONE;
	case KESYNC_REQ_ACTIVE:
		req->cancel = true;
		return removed ? KESYNC_CANCEL_NONE : KESYNC_CANCEL_KICK;
	case KESYNC_REQ_DONE:
		break;
	}
	return KESYNC_CANCEL_NONE;
}

#endif /* _KESYNC_STATE_H */

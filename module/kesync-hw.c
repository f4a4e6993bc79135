// SPDX-License-Identifier: GPL-2.0
/*
 * kesync: the interrupt side.
 *
 * KeSynchronizeExecution becomes kesync_sync_exec(): it runs one
 * SynchCritSection routine with the interrupt spin lock (kesync_dev.isr.lock)
 * held and interrupts off, the lock every ISR of the controller takes.  As in
 * the NT design, each routine does one discrete job and returns at once:
 *
 *   kesync_scs_timer_tick	SynchCritSection_1: the IoTimer's counter
 *   kesync_scs_reset		SynchCritSection_2: program a controller reset
 *   kesync_scs_reset_finish	... and forget it once the device is done
 *   kesync_scs_program_read	program a medium -> host transfer
 *   kesync_scs_program_write	program a host -> medium transfer
 *   kesync_scs_program_control	program a unit's fault injection
 *   kesync_scs_abort		abort a unit's transfer (cancellation)
 *   kesync_scs_collect		DpcForIsr: take what the ISR left for it
 *   kesync_scs_snapshot	debugfs: copy the shared state
 *   kesync_scs_offline		a function reset, sleep or error recovery begins
 *   kesync_scs_online		... and is over: the hardware is set up again
 *
 * Nothing else reads or writes the "isr" sub-structs, except IoTimer's
 * lockless look at the timer counter, which the NT design also does.
 *
 * A register that reads all ones is never taken at its word: the shared
 * and controller ISRs (INTR_STATUS; the MSI-X unit ISR reads no register,
 * only its completion record), the IoTimer's expiry (MAGIC) and the abort
 * (the unit's STATUS) ask configuration space whether the function is
 * still there (kesync_all_ones()).  Gone, nothing is
 * programmed any more and every request fails with -ENODEV at once; there,
 * the controller is reset, with bus mastering off until the reset is over.
 */

#include <linux/bitops.h>
#include <linux/jump_label.h>
#include <linux/lockdep.h>
#include <linux/minmax.h>
#include <linux/pci.h>
#include <linux/sched/clock.h>
#include <linux/workqueue.h>

#include "kesync-hw.h"
#include "kesync-state.h"
#include "kesync_trace.h"

const char *const kesync_scs_names[KESYNC_SCS_NR] = {
	[KESYNC_SCS_ISR]		= "isr",
	[KESYNC_SCS_TIMER]		= "timer_tick (SynchCritSection_1)",
	[KESYNC_SCS_RESET]		= "reset (SynchCritSection_2)",
	[KESYNC_SCS_RESET_FINISH]	= "reset_finish",
	[KESYNC_SCS_READ]		= "program_read",
	[KESYNC_SCS_WRITE]		= "program_write",
	[KESYNC_SCS_CONTROL]		= "program_control",
	[KESYNC_SCS_ABORT]		= "abort",
	[KESYNC_SCS_COLLECT]		= "collect (DpcForIsr)",
	[KESYNC_SCS_SNAPSHOT]		= "snapshot (debugfs)",
	[KESYNC_SCS_OFFLINE]		= "offline (reset, sleep, AER)",
	[KESYNC_SCS_ONLINE]		= "online (reset, sleep, AER)",
};

/* ---- Interrupts-off accounting ----------------------------------------- */

/*
 * Enabled while the irqoff_stats parameter is on (kesync-pci.c).  While it
 * is off, the two local_clock() calls of each hold are patched out.
 */
DEFINE_STATIC_KEY_FALSE(kesync_irqoff_key);

/* The start of a hold, or 0 when the accounting is off. */
static u64 kesync_irqoff_start(void)
{
	if (static_branch_unlikely(&kesync_irqoff_key))
		return local_clock();
	return 0;
}

static void kesync_irqoff_account(struct kesync_dev *kdev,
				  enum kesync_scs_id id, u64 t0)
	__must_hold(&kdev->isr.lock)
{
	struct kesync_irqoff *st = &kdev->irqoff[id];
	unsigned int b = 0;
	u64 ns;

	/* Off, or switched on during this hold (t0 is 0 then). */
	if (!static_branch_unlikely(&kesync_irqoff_key) || !t0)
		return;
	ns = local_clock() - t0;
	if (ns >= 256)
		b = min_t(unsigned int, fls64(ns >> 8),
			  KESYNC_IRQOFF_BUCKETS - 1);
	/* WRITE_ONCE: debugfs reads these without the lock. */
	WRITE_ONCE(st->count, st->count + 1);
	WRITE_ONCE(st->total_ns, st->total_ns + ns);
	if (ns > st->max_ns)
		WRITE_ONCE(st->max_ns, ns);
	WRITE_ONCE(st->hist[b], st->hist[b] + 1);
}

/**
 * kesync_sync_exec - KeSynchronizeExecution
 * @kdev: the controller
 * @scs: the SynchCritSection routine
 * @ctx: its argument
 *
 * Runs @scs->routine with the interrupt spin lock held and local interrupts
 * off, so it cannot overlap any ISR of the controller on any CPU.  With
 * irqoff_stats on, the time the lock is held is accounted to @scs (debugfs
 * "irqoff").
 *
 * Context: process, kthread, workqueue or softirq context (the DpcForIsr,
 * the IoTimer; not hardirq); takes kesync_dev.isr.lock, the innermost
 * lock of the driver.
 * Return: what the routine returned.
 */
bool kesync_sync_exec(struct kesync_dev *kdev, const struct kesync_scs *scs,
		      void *ctx)
{
	unsigned long flags;
	bool ret;
	u64 t0;

	spin_lock_irqsave(&kdev->isr.lock, flags);
	t0 = kesync_irqoff_start();
	ret = scs->routine(kdev, ctx);
	kesync_irqoff_account(kdev, scs->id, t0);
	spin_unlock_irqrestore(&kdev->isr.lock, flags);
	return ret;
}

/* ---- Absence ------------------------------------------------------------ */

/**
 * kesync_hw_absent - is the function really gone?
 * @kdev: the controller
 *
 * A BAR read of all ones does not say: a poisoned completion, a wedged
 * device or D3hot give it too.  Configuration space does: the PCI core
 * knows the function disconnected, or its vendor ID reads all ones (the
 * port's answer to a request no function takes).
 *
 * Context: any, hardirq included; a configuration read under the PCI
 * core's raw pci_lock, no sleeping.
 * Return: true when the function is absent.
 */
bool kesync_hw_absent(struct kesync_dev *kdev)
{
	u16 vendor;

	if (pci_dev_is_disconnected(kdev->pdev))
		return true;
	/* On failure the accessor leaves all ones in vendor too. */
	pci_read_config_word(kdev->pdev, PCI_VENDOR_ID, &vendor);
	return PCI_POSSIBLE_ERROR(vendor);
}

static bool kesync_scs_reset_fn(struct kesync_dev *kdev, void *ctx)
	__must_hold(&kdev->isr.lock);

/*
 * kesync_all_ones - a register of the controller read all ones
 *
 * kesync_ones_verdict() decides, with a configuration read when it must.
 * GONE: the controller is marked gone.  RESET: the device is there but
 * cannot be trusted; SynchCritSection_2 programs a controller reset, which
 * ends every transfer in flight (their units are marked reset_hit and keep
 * their buffers until the reset is over).  On either, the caller queues
 * the reset worker once it has dropped the lock: it fails everything with
 * -ENODEV, or sees the reset through with bus mastering off.
 *
 * Context: under kesync_dev.isr.lock (an ISR or a SynchCritSection).
 */
static enum kesync_ones kesync_all_ones(struct kesync_dev *kdev)
	__must_hold(&kdev->isr.lock)
{
	enum kesync_ones v = kesync_ones_verdict(kdev, kesync_hw_absent);

	if (v == KESYNC_ONES_RESET)
		kesync_scs_reset_fn(kdev, NULL);
	return v;
}

/* ---- Completions -------------------------------------------------------- */

/*
 * kesync_read_cmpl - the unit's latest completion, if it is new
 *
 * With completion records (always, on the device this driver was written
 * for) only coherent memory is read: no MMIO on the interrupt hot path.
 */
static bool kesync_read_cmpl(struct kesync_unit *u, struct kesync_snap *s)
	__must_hold(&u->kdev->isr.lock)
{
	const struct kesync_cmpl *rec = u->rec;

	if (u->kdev->has_records) {
		s->seq = le32_to_cpu(READ_ONCE(rec->seq));
		if (s->seq == u->isr.seen_seq)
			return false;
		/*
		 * The device writes seq last; read the other fields only
		 * after seeing seq change, so they belong to this seq.
		 */
		dma_rmb();
		s->tag = le32_to_cpu(READ_ONCE(rec->tag));
		s->status = le32_to_cpu(READ_ONCE(rec->status));
		s->bytes = le32_to_cpu(READ_ONCE(rec->bytes));
		return true;
	}
	s->seq = kesync_unit_rd(u, KESYNC_UNIT_SEQ);
	if (s->seq == u->isr.seen_seq)
		return false;
	s->status = kesync_unit_rd(u, KESYNC_UNIT_STATUS);
	/* All ones: no completion (the caller's INTR_STATUS or MAGIC tells). */
	if (s->seq == ~0u && s->status == ~0u)
		return false;
	s->tag = kesync_unit_rd(u, KESYNC_UNIT_TAG);
	s->bytes = kesync_unit_rd(u, KESYNC_UNIT_BYTES);
	return true;
}

enum kesync_poll {
	KESYNC_POLL_NOTHING,	/* no new completion: a spurious interrupt */
	KESYNC_POLL_STALE,	/* a completion of a transfer given up on */
	KESYNC_POLL_DONE,	/* the programmed transfer finished */
};

/*
 * kesync_unit_poll - the ISR's work for one unit
 *
 * Hands a new completion to the DpcForIsr and sets the timer counter to -1,
 * as the NT ISR does.  Also used by SynchCritSection_1 to tell a lost
 * interrupt from a hang.
 */
static enum kesync_poll kesync_unit_poll(struct kesync_unit *u,
					 struct kesync_snap *s)
	__must_hold(&u->kdev->isr.lock)
{
	if (!kesync_read_cmpl(u, s))
		return KESYNC_POLL_NOTHING;
	u->isr.seen_seq = s->seq;
	if (!u->isr.busy)
		return KESYNC_POLL_STALE;
	u->isr.busy = false;
	u->isr.snap = *s;
	u->isr.done = true;
	kesync_tcount_stop(&u->isr);
	return KESYNC_POLL_DONE;
}

/* After the lock is dropped: schedule the DpcForIsr, or count a spurious. */
static void kesync_unit_poll_done(struct kesync_unit *u, enum kesync_poll r,
				  const struct kesync_snap *s)
{
	switch (r) {
	case KESYNC_POLL_DONE:
		trace_kesync_irq(u, s->seq, s->status, s->bytes, true);
		kesync_dpc_queue(&u->dpc);	/* IoRequestDpc */
		break;
	case KESYNC_POLL_NOTHING:
		trace_kesync_irq(u, s->seq, 0, 0, false);
		kesync_stat_inc(u, KESYNC_STAT_SPURIOUS);
		break;
	case KESYNC_POLL_STALE:
		break;
	}
}

/* ---- Interrupt service routines ---------------------------------------- */

/**
 * kesync_isr_unit - ISR of a unit's MSI-X vector
 * @irq: the vector
 * @data: the unit
 *
 * The hot path: reads the unit's completion record in coherent memory and
 * nothing else; no MMIO at all.  A DOORBELL START clears the unit's
 * INTR_STATUS bit, and MSI-X messages need no acknowledgment.
 *
 * Context: hardirq; takes kesync_dev.isr.lock.
 * Return: IRQ_HANDLED (the vector is the unit's alone; a message with no
 * new completion is counted as spurious).
 */
irqreturn_t kesync_isr_unit(int irq, void *data)
{
	struct kesync_unit *u = data;
	struct kesync_dev *kdev = u->kdev;
	struct kesync_snap s = {};
	enum kesync_poll r;
	u64 t0;

	spin_lock(&kdev->isr.lock);
	t0 = kesync_irqoff_start();
	r = kesync_unit_poll(u, &s);
	kesync_irqoff_account(kdev, KESYNC_SCS_ISR, t0);
	spin_unlock(&kdev->isr.lock);

	kesync_unit_poll_done(u, r, &s);
	return IRQ_HANDLED;
}

/* Controller events under the lock; returns the ones to act on after it. */
static u32 kesync_isr_ctrl_events(struct kesync_dev *kdev, u32 st)
	__must_hold(&kdev->isr.lock)
{
	if (st & KESYNC_INTR_SW)
		kdev->isr.sw_irqs++;
	return st & KESYNC_INTR_RESET_DONE;
}

/* RESET_DONE only wakes the reset worker: it reads the hardware itself. */
static void kesync_isr_ctrl_done(struct kesync_dev *kdev, u32 events)
{
	if (events & KESYNC_INTR_RESET_DONE) {
		atomic_inc(&kdev->reset_irqs);
		wake_up(&kdev->reset_wq);
	}
}

/**
 * kesync_isr_ctrl - ISR of the controller's MSI-X vector
 * @irq: the vector
 * @data: the controller
 *
 * INTR_STATUS reading all ones is handed to kesync_all_ones(), which
 * confirms with configuration space whether the device is gone.
 *
 * Context: hardirq; takes kesync_dev.isr.lock; queues the reset worker.
 * Return: IRQ_HANDLED when a controller event was pending.
 */
irqreturn_t kesync_isr_ctrl(int irq, void *data)
{
	struct kesync_dev *kdev = data;
	enum kesync_ones ones;
	u32 st, events;
	u64 t0;

	spin_lock(&kdev->isr.lock);
	t0 = kesync_irqoff_start();
	st = kesync_rd(kdev, KESYNC_REG_INTR_STATUS);
	if (st == ~0u) {			/* gone, or a bad read */
		ones = kesync_all_ones(kdev);
		spin_unlock(&kdev->isr.lock);
		if (ones != KESYNC_ONES_NOTHING)
			queue_work(kdev->wq, &kdev->reset_work);
		return IRQ_NONE;
	}
	st &= KESYNC_INTR_CTRL_MASK;
	if (st)
		kesync_wr(kdev, KESYNC_REG_INTR_STATUS, st);	/* W1C */
	events = kesync_isr_ctrl_events(kdev, st);
	kesync_irqoff_account(kdev, KESYNC_SCS_ISR, t0);
	spin_unlock(&kdev->isr.lock);

	kesync_isr_ctrl_done(kdev, events);
	return st ? IRQ_HANDLED : IRQ_NONE;
}

/**
 * kesync_isr_shared - ISR of the single MSI vector or of the INTx line
 * @irq: the interrupt
 * @data: the controller
 *
 * Claims only what the device raised: INTR_STATUS & the enabled events.
 * Acknowledges by writing them back (W1C) before looking at the records, so
 * a completion that lands meanwhile raises its bit again.  For the level
 * INTx line the acknowledgment is flushed with a read, so the line is low
 * before the interrupt is unmasked.  A read of all ones is not ours to
 * claim, and says the device is gone or cannot be read: kesync_all_ones()
 * asks configuration space which, so that an interrupt dismissed at a
 * surprise removal fails the I/O now instead of leaving it to a timeout,
 * and a device that is there is reset.
 *
 * Context: hardirq; takes kesync_dev.isr.lock; queues the reset worker.
 * Return: IRQ_NONE when the device raised nothing (shared INTx).
 */
irqreturn_t kesync_isr_shared(int irq, void *data)
{
	struct kesync_dev *kdev = data;
	struct kesync_snap s[KESYNC_MAX_UNITS];
	enum kesync_poll r[KESYNC_MAX_UNITS];
	enum kesync_ones ones;
	unsigned long units;
	unsigned int i;
	u32 st, events;
	u64 t0;

	spin_lock(&kdev->isr.lock);
	t0 = kesync_irqoff_start();
	st = kesync_rd(kdev, KESYNC_REG_INTR_STATUS);
	if (st == ~0u) {
		ones = kesync_all_ones(kdev);
		spin_unlock(&kdev->isr.lock);
		if (ones != KESYNC_ONES_NOTHING)
			queue_work(kdev->wq, &kdev->reset_work);
		return IRQ_NONE;
	}
	st &= kdev->intr_mask;
	if (!st) {
		spin_unlock(&kdev->isr.lock);
		return IRQ_NONE;
	}
	kesync_wr(kdev, KESYNC_REG_INTR_STATUS, st);		/* W1C */
	if (kdev->irq_mode == KESYNC_IRQ_INTX)
		kesync_rd(kdev, KESYNC_REG_INTR_STATUS);	/* flush it */

	units = st & KESYNC_INTR_UNITS_MASK;
	for_each_set_bit(i, &units, kdev->nunits) {
		s[i] = (struct kesync_snap){};
		r[i] = kesync_unit_poll(kdev->units[i], &s[i]);
	}
	events = kesync_isr_ctrl_events(kdev, st);
	kesync_irqoff_account(kdev, KESYNC_SCS_ISR, t0);
	spin_unlock(&kdev->isr.lock);

	for_each_set_bit(i, &units, kdev->nunits)
		kesync_unit_poll_done(kdev->units[i], r[i], &s[i]);
	kesync_isr_ctrl_done(kdev, events);
	return IRQ_HANDLED;
}

/* ---- SynchCritSection routines ----------------------------------------- */

/**
 * kesync_scs_reset_fn - SynchCritSection_2: program a controller reset
 * @kdev: the controller
 * @ctx: unused
 *
 * The transfer in flight, if any, is lost: its unit is marked reset_hit and
 * its timer counter stopped; its DpcForIsr retries it (or fails it, if it
 * timed out) once kesync_scs_reset_finish_fn() has seen the reset through.
 * A START during the reset would be ignored by the device, so the
 * programming routines refuse until then.  Writing RESET again while a
 * reset runs (a retry of a stuck reset) is harmless.  While the controller
 * is offline (kesync_scs_offline_fn()) nothing runs to reset and the
 * function itself is being reset or powered down: nothing is programmed.
 *
 * Context: SynchCritSection (kesync_dev.isr.lock held, interrupts off),
 * from kesync_sync_exec() or from SynchCritSection_1.
 * Return: true.
 */
static bool kesync_scs_reset_fn(struct kesync_dev *kdev, void *ctx)
	__must_hold(&kdev->isr.lock)
{
	unsigned int i;

	lockdep_assert_held(&kdev->isr.lock);
	if (kdev->isr.offline)
		return true;
	for (i = 0; i < kdev->nunits; i++) {
		struct kesync_unit *u = kdev->units[i];

		if (!u->isr.busy)
			continue;
		u->isr.busy = false;
		u->isr.reset_hit = true;
		kesync_tcount_stop(&u->isr);
	}
	kdev->isr.resetting = true;
	kdev->isr.resets++;
	kesync_wr(kdev, KESYNC_REG_CTRL, KESYNC_CTRL_RESET);
	return true;
}

const struct kesync_scs kesync_scs_reset = {
	.id = KESYNC_SCS_RESET,
	.routine = kesync_scs_reset_fn,
};

/**
 * kesync_scs_timer_tick_fn - SynchCritSection_1: count the timer down
 * @kdev: the controller
 * @ctx: struct kesync_tick_ctx
 *
 * Only this routine and the ISR maintain the timer counter.  At -1 (the
 * ISR saw the transfer finish) it does nothing.  Otherwise it decrements
 * it; at zero it first looks at the completion record (or UNIT_SEQ): if the
 * transfer did finish, only its interrupt was lost and the completion is
 * handed to the DpcForIsr as the ISR would have.  Otherwise the transfer
 * timed out and SynchCritSection_2 programs a controller reset.
 *
 * The record is in memory and says nothing about the device: an interrupt
 * lost at a surprise removal is found here after the device left.  So at
 * expiry MAGIC is read too; all ones goes to kesync_all_ones().  Gone, the
 * completion found is still handed over (its data did move), but nothing
 * is programmed any more: the I/O fails now, not one timeout later.
 *
 * Context: SynchCritSection, from the IoTimer (softirq).
 * Return: true when the tick found something (see @ctx->result).
 */
static bool kesync_scs_timer_tick_fn(struct kesync_dev *kdev, void *ctx)
	__must_hold(&kdev->isr.lock)
{
	struct kesync_tick_ctx *t = ctx;
	struct kesync_unit *u = t->unit;
	struct kesync_snap s;
	bool found;

	lockdep_assert_held(&kdev->isr.lock);
	t->result = KESYNC_TICK_NONE;
	t->ones = KESYNC_ONES_NOTHING;
	if (kesync_tcount_tick(&u->isr) != KESYNC_TCOUNT_EXPIRED)
		return false;

	found = kesync_unit_poll(u, &s) == KESYNC_POLL_DONE;
	if (kesync_rd(kdev, KESYNC_REG_MAGIC) == ~0u)
		t->ones = kesync_all_ones(kdev);
	if (found) {
		u->isr.lost_irq = true;
		t->result = KESYNC_TICK_LOST_IRQ;
		return true;
	}
	if (kdev->isr.gone) {
		t->result = KESYNC_TICK_GONE;
		return true;
	}
	u->isr.timed_out = true;
	t->result = KESYNC_TICK_TIMEOUT;
	/* Unless kesync_all_ones() programmed it already. */
	if (t->ones != KESYNC_ONES_RESET)
		kesync_scs_reset_fn(kdev, NULL);
	return true;
}

const struct kesync_scs kesync_scs_timer_tick = {
	.id = KESYNC_SCS_TIMER,
	.routine = kesync_scs_timer_tick_fn,
};

/**
 * kesync_scs_reset_finish_fn - the end of a controller reset
 * @kdev: the controller
 * @ctx: struct kesync_reset_fin_ctx
 *
 * Called once the device reported the reset done.  STATUS is read again
 * here, under the lock SynchCritSection_2 holds to program a reset, so a
 * reset programmed after the caller's look is not mistaken for over.
 * Lets the programming routines work again and resynchronises each unit's
 * sequence number from UNIT_SEQ: a reset drops the records and interrupts
 * of completions not yet delivered, so the next record must be compared
 * with the register.  Reports the units whose transfer the reset ended,
 * for their DpcForIsr; while the controller is offline it leaves them to
 * kesync_scs_online_fn(), which reports them once the hardware is back.
 * A reset for a bad read (kesync_all_ones()) is over too: the caller turns
 * bus mastering on again before those units go on.
 *
 * Context: SynchCritSection, from the reset worker.
 * Return: true when a reset was pending and is over.
 */
static bool kesync_scs_reset_finish_fn(struct kesync_dev *kdev, void *ctx)
	__must_hold(&kdev->isr.lock)
{
	struct kesync_reset_fin_ctx *f = ctx;
	unsigned int i;

	lockdep_assert_held(&kdev->isr.lock);
	f->finished = false;
	f->again = false;
	f->kick = 0;
	f->set_master = false;
	if (!kdev->isr.resetting)
		return false;
	if (kesync_rd(kdev, KESYNC_REG_STATUS) & KESYNC_STATUS_RESETTING) {
		f->again = true;
		return false;
	}
	kdev->isr.resetting = false;
	f->set_master = kdev->isr.bad_read;
	WRITE_ONCE(kdev->isr.bad_read, false);	/* the reset worker peeks */
	for (i = 0; i < kdev->nunits; i++) {
		struct kesync_unit *u = kdev->units[i];

		kesync_unit_resync_seq(u);
		if (u->isr.reset_hit && !kdev->isr.offline)
			__set_bit(i, &f->kick);
	}
	f->finished = true;
	return true;
}

const struct kesync_scs kesync_scs_reset_finish = {
	.id = KESYNC_SCS_RESET_FINISH,
	.routine = kesync_scs_reset_finish_fn,
};

/*
 * The part the read and write routines share: arm the timer counter as
 * StartIo does in the NT design (timeout + 1 s, in case IoTimer just ran)
 * and ring the doorbell.  The descriptor address registers were written at
 * probe and survive controller resets, so the doorbell is the only MMIO.
 * Refused during a reset or offline (-EAGAIN, retried after), and once the
 * device is gone (-ENODEV): nothing is written into an absent device.
 */
static bool kesync_program_xfer(struct kesync_dev *kdev,
				struct kesync_prog_ctx *p)
	__must_hold(&kdev->isr.lock)
{
	struct kesync_unit *u = p->unit;

	p->ret = kesync_program_refusal_locked(kdev);
	if (p->ret) {
		/* Gone: the reset worker fails the request, nothing to retry. */
		if (p->ret == -EAGAIN)
			u->isr.reset_hit = true;
		return false;
	}
	u->isr.tag = p->tag;
	u->isr.busy = true;
	kesync_tcount_arm(&u->isr, p->timeout);
	/*
	 * writel() orders the descriptor's stores to coherent memory before
	 * the doorbell reaches the device (memory-barriers.txt, "KERNEL I/O
	 * BARRIER EFFECTS"), so no dma_wmb() is needed here.
	 */
	kesync_unit_wr(u, KESYNC_UNIT_DOORBELL, KESYNC_DB_START);
	p->ret = 0;
	return true;
}

/**
 * kesync_scs_program_read_fn - program a read (medium to host) transfer
 * @kdev: the controller
 * @ctx: struct kesync_prog_ctx; the unit's descriptor is filled in
 *
 * Called through KeSynchronizeExecution by ControllerControl for the first
 * transfer of a request and by DpcForIsr for each further partial transfer.
 *
 * Context: SynchCritSection; the caller holds the controller object.
 * Return: true when the transfer was started.
 */
static bool kesync_scs_program_read_fn(struct kesync_dev *kdev, void *ctx)
	__must_hold(&kdev->isr.lock)
{
	struct kesync_prog_ctx *p = ctx;

	lockdep_assert_held(&kdev->isr.lock);
	p->unit->desc->flags = cpu_to_le32(0);	/* medium -> host */
	return kesync_program_xfer(kdev, p);
}

const struct kesync_scs kesync_scs_program_read = {
	.id = KESYNC_SCS_READ,
	.routine = kesync_scs_program_read_fn,
};

/**
 * kesync_scs_program_write_fn - program a write (host to medium) transfer
 * @kdev: the controller
 * @ctx: struct kesync_prog_ctx; the unit's descriptor is filled in
 *
 * As kesync_scs_program_read_fn(), for the other direction.
 *
 * Context: SynchCritSection; the caller holds the controller object.
 * Return: true when the transfer was started.
 */
static bool kesync_scs_program_write_fn(struct kesync_dev *kdev, void *ctx)
	__must_hold(&kdev->isr.lock)
{
	struct kesync_prog_ctx *p = ctx;

	lockdep_assert_held(&kdev->isr.lock);
	p->unit->desc->flags = cpu_to_le32(KESYNC_DESC_DIR_TO_DEV);
	return kesync_program_xfer(kdev, p);
}

const struct kesync_scs kesync_scs_program_write = {
	.id = KESYNC_SCS_WRITE,
	.routine = kesync_scs_program_write_fn,
};

/**
 * kesync_scs_program_control_fn - program a control request (faults)
 * @kdev: the controller
 * @ctx: struct kesync_ctl_ctx, already validated
 *
 * The device samples a unit's fault registers when it fetches a
 * descriptor, so they are written under the same lock as the doorbells.
 * FAULT_COUNT goes last: writing it latches KIND and ARG.
 *
 * Context: SynchCritSection, from the KESYNC_IOC_FAULT ioctl.
 * Return: true.
 */
static bool kesync_scs_program_control_fn(struct kesync_dev *kdev, void *ctx)
	__must_hold(&kdev->isr.lock)
{
	struct kesync_ctl_ctx *c = ctx;
	const struct kesync_fault *f = c->fault;

	lockdep_assert_held(&kdev->isr.lock);
	if (f->flags & KESYNC_FAULT_F_RESET_DELAY)
		kesync_wr(kdev, KESYNC_REG_RESET_DELAY_US, f->reset_delay_us);
	if (f->flags & KESYNC_FAULT_F_MISDIRECT)
		kesync_wr(kdev, KESYNC_REG_DEV_FAULT,
			  KESYNC_DEV_FAULT_MISDIRECT);
	kesync_unit_wr(c->unit, KESYNC_UNIT_FAULT_KIND, f->kind);
	kesync_unit_wr(c->unit, KESYNC_UNIT_FAULT_ARG, f->arg);
	kesync_unit_wr(c->unit, KESYNC_UNIT_FAULT_COUNT, f->count);
	return true;
}

const struct kesync_scs kesync_scs_program_control = {
	.id = KESYNC_SCS_CONTROL,
	.routine = kesync_scs_program_control_fn,
};

/**
 * kesync_scs_abort_fn - abort a unit's transfer (cancellation)
 * @kdev: the controller
 * @ctx: struct kesync_abort_ctx
 *
 * DOORBELL ABORT is synchronous on this device and raises no interrupt and
 * writes no record.  Reading UNIT_STATUS flushes the posted doorbell write
 * and tells the outcomes apart: ABORTED, the device will not touch the
 * transfer's buffers again; all ones, kesync_all_ones() asks configuration
 * space: gone, the device does no DMA either; there, the abort cannot be
 * trusted, a controller reset ends the transfer instead and the unit is
 * marked reset_hit, so its buffers stay mapped until the reset (with bus
 * mastering off) is over; anything else, the transfer had finished first.
 * Its record and interrupt may still be on their way (or lost), but the
 * unit registers already hold the completion: it is handed to the
 * DpcForIsr here, as the ISR would, so the cancellation does not wait for
 * them.  (Should the interrupt come after all, the ISR finds nothing new
 * and counts it as spurious.)
 *
 * Context: SynchCritSection, from DpcForIsr.
 * Return: true when the transfer was stopped by the abort (or is over for
 * good: the device is gone).
 */
static bool kesync_scs_abort_fn(struct kesync_dev *kdev, void *ctx)
	__must_hold(&kdev->isr.lock)
{
	struct kesync_abort_ctx *a = ctx;
	struct kesync_unit *u = a->unit;
	u32 state, seq;

	lockdep_assert_held(&kdev->isr.lock);
	a->aborted = false;
	a->finished = false;
	a->reset = false;
	a->ones = KESYNC_ONES_NOTHING;
	a->status = 0;
	if (!u->isr.busy && !a->force)
		return false;
	kesync_unit_wr(u, KESYNC_UNIT_DOORBELL, KESYNC_DB_ABORT);
	a->status = kesync_unit_rd(u, KESYNC_UNIT_STATUS);
	if (a->status == ~0u) {
		a->ones = kesync_all_ones(kdev);
		if (!kdev->isr.gone) {
			/* Ended by a reset: this one, or one already due. */
			u->isr.busy = false;
			u->isr.reset_hit = true;
			kesync_tcount_stop(&u->isr);
			a->reset = true;
			return false;
		}
	}
	state = a->status & KESYNC_USTAT_STATE_MASK;
	if (a->status != ~0u && state != KESYNC_STATE_ABORTED) {
		seq = kesync_unit_rd(u, KESYNC_UNIT_SEQ);
		if (!u->isr.busy || seq == u->isr.seen_seq)
			return false;
		u->isr.seen_seq = seq;
		u->isr.snap.seq = seq;
		u->isr.snap.status = a->status;
		u->isr.snap.tag = kesync_unit_rd(u, KESYNC_UNIT_TAG);
		u->isr.snap.bytes = kesync_unit_rd(u, KESYNC_UNIT_BYTES);
		u->isr.done = true;
		u->isr.busy = false;
		kesync_tcount_stop(&u->isr);
		a->finished = true;
		return false;
	}
	u->isr.busy = false;
	kesync_tcount_stop(&u->isr);
	a->aborted = true;
	return true;
}

const struct kesync_scs kesync_scs_abort = {
	.id = KESYNC_SCS_ABORT,
	.routine = kesync_scs_abort_fn,
};

/**
 * kesync_scs_collect_fn - DpcForIsr takes what the ISR left for it
 * @kdev: the controller
 * @ctx: struct kesync_collect_ctx
 *
 * Moves a completion (from the ISR or a lost-interrupt recovery) and the
 * reset marks of the unit into @ctx and clears them.  A completion is taken
 * even while a reset runs: the transfer finished before the reset began
 * (the reset clears busy, so no later one is handed over).  Reset marks are
 * left until the reset is over: the reset worker kicks the DPC then.
 *
 * Context: SynchCritSection, from DpcForIsr.
 * Return: true when something was collected.
 */
static bool kesync_scs_collect_fn(struct kesync_dev *kdev, void *ctx)
	__must_hold(&kdev->isr.lock)
{
	struct kesync_collect_ctx *c = ctx;
	struct kesync_unit *u = c->unit;

	lockdep_assert_held(&kdev->isr.lock);
	/* Offline is a reset too: what it ended waits for it to be over. */
	c->resetting = kdev->isr.resetting || kdev->isr.offline;
	c->busy = u->isr.busy;
	c->completed = false;
	c->lost_irq = false;
	c->reset_hit = false;
	c->timed_out = false;
	if (u->isr.done) {
		c->completed = true;
		c->lost_irq = u->isr.lost_irq;
		c->snap = u->isr.snap;
		u->isr.done = false;
		u->isr.lost_irq = false;
	}
	if (u->isr.reset_hit && !c->resetting) {
		c->reset_hit = true;
		c->timed_out = u->isr.timed_out;
		u->isr.reset_hit = false;
		u->isr.timed_out = false;
	}
	return c->completed || c->reset_hit;
}

const struct kesync_scs kesync_scs_collect = {
	.id = KESYNC_SCS_COLLECT,
	.routine = kesync_scs_collect_fn,
};

/**
 * kesync_scs_snapshot_fn - copy the ISR-shared state for debugfs
 * @kdev: the controller
 * @ctx: struct kesync_snapshot_ctx
 *
 * Context: SynchCritSection, from a debugfs read.
 * Return: true.
 */
static bool kesync_scs_snapshot_fn(struct kesync_dev *kdev, void *ctx)
	__must_hold(&kdev->isr.lock)
{
	struct kesync_snapshot_ctx *s = ctx;
	unsigned int i;

	lockdep_assert_held(&kdev->isr.lock);
	s->resetting = kdev->isr.resetting;
	s->resets = kdev->isr.resets;
	s->sw_irqs = kdev->isr.sw_irqs;
	for (i = 0; i < kdev->nunits; i++)
		s->units[i] = kdev->units[i]->isr;
	return true;
}

const struct kesync_scs kesync_scs_snapshot = {
	.id = KESYNC_SCS_SNAPSHOT,
	.routine = kesync_scs_snapshot_fn,
};

/**
 * kesync_scs_offline_fn - the function is about to be reset, suspended or
 * recovered from an error
 * @kdev: the controller
 * @ctx: struct kesync_offline_ctx
 *
 * From now until kesync_scs_online_fn() no transfer is programmed (the
 * programming routines refuse as during a controller reset, and mark the
 * unit reset_hit) and no controller reset is started.  A transfer in
 * flight is ended as a controller reset ends it: its unit is marked
 * reset_hit and its timer counter stopped, so the IoTimer counts nothing
 * while the controller is offline, however long that lasts.  When the
 * device answers MMIO the transfer is stopped on it here with CTRL.RESET
 * (no DMA after that write, docs/hardware.md 10.2); otherwise the reset of
 * the function that follows stops it.  Either way its buffers stay mapped
 * until the DpcForIsr retries it after kesync_scs_online_fn().
 *
 * Context: SynchCritSection, from kesync-pci.c's quiesce.
 * Return: true when a transfer was in flight.
 */
static bool kesync_scs_offline_fn(struct kesync_dev *kdev, void *ctx)
	__must_hold(&kdev->isr.lock)
{
	struct kesync_offline_ctx *o = ctx;
	unsigned int i;

	lockdep_assert_held(&kdev->isr.lock);
	WRITE_ONCE(kdev->isr.offline, true);
	o->stopped = false;
	for (i = 0; i < kdev->nunits; i++) {
		struct kesync_unit *u = kdev->units[i];

		if (!u->isr.busy)
			continue;
		u->isr.busy = false;
		u->isr.reset_hit = true;
		kesync_tcount_stop(&u->isr);
		o->stopped = true;
	}
	if (o->stopped && o->touch_hw) {
		kdev->isr.resets++;
		kesync_wr(kdev, KESYNC_REG_CTRL, KESYNC_CTRL_RESET);
	}
	return o->stopped;
}

const struct kesync_scs kesync_scs_offline = {
	.id = KESYNC_SCS_OFFLINE,
	.routine = kesync_scs_offline_fn,
};

/**
 * kesync_scs_online_fn - the hardware is set up again after a function
 * reset, a sleep or an error recovery
 * @kdev: the controller
 * @ctx: struct kesync_reset_fin_ctx
 *
 * The caller has reset the controller and programmed DESC, CMPL_ADDR and
 * INTR_ENABLE again.  Any controller reset of before is over (the function
 * was reset, or the caller's own reset finished): programming is allowed
 * again.  Each unit's sequence number is resynchronised from UNIT_SEQ,
 * which a reset of the function set back to 0.  Reports the units whose
 * transfer was ended or refused meanwhile, for their DpcForIsr, which
 * programs them again, and whether bus mastering, which the reset worker
 * turned off for a bad read, must be turned on again.
 *
 * Context: SynchCritSection, from kesync-pci.c's restart.
 * Return: true.
 */
static bool kesync_scs_online_fn(struct kesync_dev *kdev, void *ctx)
	__must_hold(&kdev->isr.lock)
{
	struct kesync_reset_fin_ctx *f = ctx;
	unsigned int i;

	lockdep_assert_held(&kdev->isr.lock);
	f->finished = true;
	f->again = false;
	f->kick = 0;
	WRITE_ONCE(kdev->isr.offline, false);
	kdev->isr.resetting = false;
	/* The function was reset: a bad read's reset is over too. */
	f->set_master = kdev->isr.bad_read;
	WRITE_ONCE(kdev->isr.bad_read, false);	/* the reset worker peeks */
	for (i = 0; i < kdev->nunits; i++) {
		struct kesync_unit *u = kdev->units[i];

		kesync_unit_resync_seq(u);
		if (u->isr.reset_hit)
			__set_bit(i, &f->kick);
	}
	return true;
}

const struct kesync_scs kesync_scs_online = {
	.id = KESYNC_SCS_ONLINE,
	.routine = kesync_scs_online_fn,
};

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kesync: register accessors, KeSynchronizeExecution and the SynchCritSection
 * routines, interrupt service routines.
 */
#ifndef _KESYNC_HW_H
#define _KESYNC_HW_H

#include <linux/interrupt.h>
#include <linux/io.h>
#include <linux/jump_label.h>

#include "kesync-dev.h"
#include "kesync-state.h"

/* ---- Register accessors ------------------------------------------------- */

static inline u32 kesync_rd(struct kesync_dev *kdev, u32 reg)
{
	return readl(kdev->regs + reg);
}

static inline void kesync_wr(struct kesync_dev *kdev, u32 reg, u32 val)
{
	writel(val, kdev->regs + reg);
}

static inline u32 kesync_unit_rd(struct kesync_unit *u, u32 reg)
{
	return readl(u->regs + reg);
}

static inline void kesync_unit_wr(struct kesync_unit *u, u32 reg, u32 val)
{
	writel(val, u->regs + reg);
}

/**
 * kesync_unit_resync_seq - start counting completions from the device's SEQ
 * @u: the unit
 *
 * SEQ survives controller resets and driver reloads, the completion record
 * does not (fresh, zeroed memory at probe; a record the reset dropped): set
 * the record's seq to SEQ too, or the next poll of the record (a spurious
 * interrupt, the IoTimer of a hung transfer) takes the stale record for a
 * new completion.  Nothing can write the record meanwhile.
 *
 * Context: probe before the interrupts are requested, or under
 * kesync_dev.isr.lock once a controller reset has finished.
 */
static inline void kesync_unit_resync_seq(struct kesync_unit *u)
{
	u32 seq = kesync_unit_rd(u, KESYNC_UNIT_SEQ);

	u->isr.seen_seq = seq;
	if (u->kdev->has_records)
		WRITE_ONCE(u->rec->seq, cpu_to_le32(seq));
}

/* ---- KeSynchronizeExecution -------------------------------------------- */

/* Interrupts-off accounting on (module parameter irqoff_stats). */
DECLARE_STATIC_KEY_FALSE(kesync_irqoff_key);

bool kesync_sync_exec(struct kesync_dev *kdev, const struct kesync_scs *scs,
		      void *ctx);

/*
 * SynchCritSection routines.  Each is run by kesync_sync_exec() only; the
 * context structures below are their arguments and results.
 */

/**
 * struct kesync_tick_ctx - SynchCritSection_1 argument
 * @unit: the unit whose IoTimer runs
 * @result: what the tick found, enum kesync_tick_result
 * @ones: at expiry MAGIC read all ones: the verdict (kesync_ones_verdict());
 *	on GONE or RESET the caller queues the reset worker
 */
struct kesync_tick_ctx {
	struct kesync_unit *unit;
	int result;
	enum kesync_ones ones;
};

enum kesync_tick_result {
	KESYNC_TICK_NONE,	/* counted down, or nothing to time */
	KESYNC_TICK_LOST_IRQ,	/* the transfer had finished: lost interrupt */
	KESYNC_TICK_TIMEOUT,	/* timed out: a reset is programmed */
	KESYNC_TICK_GONE,	/* timed out, and the device is gone */
};

/**
 * struct kesync_prog_ctx - argument of the transfer programming routines
 * @unit: the unit; its descriptor is built
 * @tag: the descriptor's tag
 * @timeout: the unit's timeout, seconds
 * @ret: 0, or -EAGAIN when a controller reset is in progress (the transfer
 *	is marked reset_hit and reprogrammed once the reset is done)
 */
struct kesync_prog_ctx {
	struct kesync_unit *unit;
	u32 tag;
	u32 timeout;
	int ret;
};

/**
 * struct kesync_ctl_ctx - argument of the control routine
 * @unit: the unit to arm
 * @fault: validated KESYNC_IOC_FAULT argument
 */
struct kesync_ctl_ctx {
	struct kesync_unit *unit;
	const struct kesync_fault *fault;
};

/**
 * struct kesync_abort_ctx - argument and result of the abort routine
 * @unit: the unit whose transfer is cancelled
 * @force: abort even with no transfer known to be busy (the device reported
 *	something the driver did not program)
 * @status: KESYNC_UNIT_STATUS read after the abort
 * @aborted: the transfer was stopped by the abort (or the device is gone)
 * @finished: it had finished first: its completion, taken from the unit's
 *	registers, now waits for the DpcForIsr as if the ISR had seen it
 * @reset: STATUS read all ones on a device that is there: a controller
 *	reset ends the transfer instead, and the unit is marked reset_hit;
 *	its buffers stay mapped until the DpcForIsr sees the reset through
 * @ones: STATUS read all ones: the verdict; on GONE or RESET the caller
 *	queues the reset worker
 */
struct kesync_abort_ctx {
	struct kesync_unit *unit;
	bool force;
	u32 status;
	bool aborted;
	bool finished;
	bool reset;
	enum kesync_ones ones;
};

/**
 * struct kesync_collect_ctx - what DpcForIsr collects from the ISR
 * @unit: the unit
 * @resetting: a controller reset is in progress; reset marks are left
 * @completed: @snap is a completion of the programmed transfer
 * @lost_irq: ... found by the IoTimer, not an interrupt
 * @reset_hit: the programmed transfer was ended by a reset
 * @timed_out: ... for its timeout
 * @busy: a transfer is still programmed
 * @snap: the completion
 */
struct kesync_collect_ctx {
	struct kesync_unit *unit;
	bool resetting;
	bool completed;
	bool lost_irq;
	bool reset_hit;
	bool timed_out;
	bool busy;
	struct kesync_snap snap;
};

/**
 * struct kesync_reset_fin_ctx - result of the reset completion routine
 * @finished: a reset was pending and is now over
 * @again: the device is resetting again (a reset was programmed after the
 *	caller saw the last one end): wait once more
 * @kick: units whose transfer the reset ended (bit per unit index)
 * @set_master: the reset was for a bad read (kesync_dev.isr.bad_read),
 *	whose bus mastering the reset worker turned off: turn it on again
 */
struct kesync_reset_fin_ctx {
	bool finished;
	bool again;
	unsigned long kick;
	bool set_master;
};

/**
 * struct kesync_offline_ctx - the controller goes offline (kesync_dev.pm)
 * @touch_hw: the device answers MMIO: stop a transfer in flight with a
 *	controller reset (false: its link is frozen, a reset of the function
 *	follows and stops it)
 * @stopped: a transfer was in flight; its unit is marked reset_hit
 */
struct kesync_offline_ctx {
	bool touch_hw;
	bool stopped;
};

/**
 * struct kesync_snapshot_ctx - debugfs copy of the ISR-shared state
 * @resetting: kesync_dev.isr.resetting
 * @resets: kesync_dev.isr.resets
 * @sw_irqs: kesync_dev.isr.sw_irqs
 * @units: each unit's kesync_unit_isr
 */
struct kesync_snapshot_ctx {
	bool resetting;
	u64 resets;
	u64 sw_irqs;
	struct kesync_unit_isr units[KESYNC_MAX_UNITS];
};

extern const struct kesync_scs kesync_scs_timer_tick;
extern const struct kesync_scs kesync_scs_reset;
extern const struct kesync_scs kesync_scs_reset_finish;
extern const struct kesync_scs kesync_scs_program_read;
extern const struct kesync_scs kesync_scs_program_write;
extern const struct kesync_scs kesync_scs_program_control;
extern const struct kesync_scs kesync_scs_abort;
extern const struct kesync_scs kesync_scs_collect;
extern const struct kesync_scs kesync_scs_snapshot;
extern const struct kesync_scs kesync_scs_offline;
extern const struct kesync_scs kesync_scs_online;
extern const char *const kesync_scs_names[KESYNC_SCS_NR];

bool kesync_hw_absent(struct kesync_dev *kdev);

/* ---- Interrupt service routines ---------------------------------------- */

irqreturn_t kesync_isr_unit(int irq, void *data);
irqreturn_t kesync_isr_ctrl(int irq, void *data);
irqreturn_t kesync_isr_shared(int irq, void *data);

#endif /* _KESYNC_HW_H */

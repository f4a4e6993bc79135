/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kesync: DMA transfer controller driver, a port of an NT driver design.
 *
 * Driver-wide types.  The NT name of each piece is given beside it;
 * docs/driver-design.md maps every one to its Linux primitive and states
 * the locking rules.  In short:
 *
 *  - kesync_dev.isr.lock is the interrupt spin lock (NT: the lock of the
 *    interrupt object).  The ISR takes it; every other context reaches the
 *    state it guards only through kesync_sync_exec() (KeSynchronizeExecution)
 *    and a SynchCritSection routine of kesync-hw.c.  It guards the
 *    ____cacheline_aligned "isr" sub-structs of the controller and of each
 *    unit, and the programming registers.
 *  - kesync_dev.io.lock (NT: an executive spin lock) guards the request
 *    queues, the state of each request, each unit's current request, the
 *    controller object and the controller's error state.  Taken in process,
 *    kthread and softirq context (the DpcForIsr), never in hardirq: process
 *    and kthread context take it with spin_lock_bh().
 *  - kesync_unit.xfer_lock (a spin lock, _bh outside softirq) serialises
 *    the two contexts that drive a unit's active request: ControllerControl
 *    (first transfer) and the DpcForIsr.
 *  - kesync_dev.remove_rwsem keeps remove() out while a user-space entry
 *    point may touch the hardware.
 *
 * Lock order: remove_rwsem > xfer_lock > io.lock > isr.lock.
 *
 * The DpcForIsr (struct kesync_dpc, kesync-compat.h) runs in softirq
 * context, NT's DISPATCH_LEVEL: nothing it calls sleeps.  What must sleep
 * is done elsewhere: the dispatch routine unpins its buffer after its
 * wait, and the cleanup work item (kesync_dev.cleanup_work) releases a
 * request its caller left behind.
 */
#ifndef _KESYNC_DEV_H
#define _KESYNC_DEV_H

#include <linux/atomic.h>
#include <linux/cache.h>
#include <linux/cdev.h>
#include <linux/completion.h>
#include <linux/device.h>
#include <linux/fs.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/rwsem.h>
#include <linux/scatterlist.h>
#include <linux/spinlock.h>
#include <linux/timer.h>
#include <linux/types.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include <linux/kesync.h>
#include <linux/kesync_hw.h>

#include "kesync-compat.h"

#define KESYNC_NAME			"kesync"
#define KESYNC_MAX_MINORS		256

/* One read(2)/write(2) moves at most this much; the rest is a short count. */
#define KESYNC_MAX_REQ_BYTES		(8u << 20)
/*
 * Requests of one unit pinned at once (KESYNC_MAX_INFLIGHT of the UAPI, at
 * most KESYNC_MAX_REQ_BYTES each): bounds the memory one user can pin.
 * Only the request holding the controller is DMA-mapped
 * (kesync_adapter_map()), so the IOVA or bounce space is one request's.
 */
#define KESYNC_INFLIGHT_CAP		KESYNC_MAX_INFLIGHT
/* Transfers in a row that move no byte before a request fails with -EIO. */
#define KESYNC_ZERO_PROGRESS_MAX	3
/* Reprogrammings of one transfer (refused, interrupted by a reset). */
#define KESYNC_RETRY_MAX		3
/* Controller reset attempts before the controller is declared dead. */
#define KESYNC_RESET_ATTEMPTS		3

struct kesync_dev;
struct kesync_unit;
struct pci_dev;
struct dentry;
struct task_struct;

/* Per-unit counters, reported by KESYNC_IOC_STATS and sysfs stats/. */
enum kesync_stat_id {
	KESYNC_STAT_REQUESTS,
	KESYNC_STAT_BYTES,
	KESYNC_STAT_PARTIALS,
	KESYNC_STAT_TIMEOUTS,
	KESYNC_STAT_LOST_IRQS,
	KESYNC_STAT_RESETS,
	KESYNC_STAT_CANCELS,
	KESYNC_STAT_CTRL_WAITS,
	KESYNC_STAT_SPURIOUS,
	KESYNC_STAT_ERRORS,
	KESYNC_STAT_SHORT_XFERS,
	KESYNC_STAT_HW_BUSY,
	KESYNC_STAT_NR
};

extern const char *const kesync_stat_names[KESYNC_STAT_NR];

/**
 * struct kesync_snap - a completion as the ISR found it
 * @tag: tag of the finished transfer
 * @status: KESYNC_UNIT_STATUS layout: state bits 3:0, error bits 15:8
 * @bytes: bytes the transfer moved
 * @seq: the unit's completion sequence number after it
 */
struct kesync_snap {
	u32 tag;
	u32 status;
	u32 bytes;
	u32 seq;
};

/*
 * Interrupts-off accounting: for the ISR and each SynchCritSection routine,
 * how long kesync_dev.isr.lock was held.  Bucket 0 counts holds under
 * 256 ns, bucket b (b >= 1) holds in [256 << (b - 1), 256 << b) ns, and the
 * last bucket everything longer.
 */
#define KESYNC_IRQOFF_BUCKETS		12

/**
 * struct kesync_irqoff - lock-hold statistics of one routine
 * @count: times it ran
 * @total_ns: sum of the hold times
 * @max_ns: longest hold
 * @hist: histogram, see KESYNC_IRQOFF_BUCKETS
 *
 * Written under kesync_dev.isr.lock only; debugfs reads it without the lock
 * (a torn, slightly stale view is fine for statistics).
 */
struct kesync_irqoff {
	u64 count;
	u64 total_ns;
	u64 max_ns;
	u32 hist[KESYNC_IRQOFF_BUCKETS];
};

/* The routines that run with kesync_dev.isr.lock held, for accounting. */
enum kesync_scs_id {
	KESYNC_SCS_ISR,			/* the ISR itself */
	KESYNC_SCS_TIMER,		/* SynchCritSection_1 */
	KESYNC_SCS_RESET,		/* SynchCritSection_2 */
	KESYNC_SCS_RESET_FINISH,
	KESYNC_SCS_READ,
	KESYNC_SCS_WRITE,
	KESYNC_SCS_CONTROL,
	KESYNC_SCS_ABORT,
	KESYNC_SCS_COLLECT,
	KESYNC_SCS_SNAPSHOT,
	KESYNC_SCS_OFFLINE,
	KESYNC_SCS_ONLINE,
	KESYNC_SCS_NR
};

/**
 * struct kesync_scs - a SynchCritSection routine and its accounting slot
 * @id: slot in kesync_dev.irqoff (and name in kesync_scs_names[])
 * @routine: the routine; called by kesync_sync_exec() only, with
 *	kesync_dev.isr.lock held and interrupts off
 */
struct kesync_scs {
	enum kesync_scs_id id;
	bool (*routine)(struct kesync_dev *kdev, void *ctx);
};

/*
 * Life cycle of a request (struct kesync_req.state), under kesync_dev.io.lock:
 *
 *   QUEUED ----> STARTING ----> WAIT_CTRL ----> ACTIVE ----> DONE
 *      \              \______________\_____________\________/^
 *       \______________________________________________________/
 *
 * QUEUED: on a pump queue (unit->queue or kdev->io.tq); the canceller may
 *	take it off and end it.
 * STARTING: the unit's current request, owned by whoever called StartIo;
 *	a canceller only sets ->cancel, the owner ends it.
 * WAIT_CTRL: the unit is on the controller object's wait queue; a
 *	canceller may take it off that queue and end it.
 * ACTIVE: holds the controller; owned by ControllerControl, then by the
 *	DpcForIsr (under unit->xfer_lock); a canceller sets ->cancel and
 *	kicks the DPC, which aborts the transfer on the device.
 * DONE: ended; whoever moved it here completes it, exactly once
 *	(kesync_complete_request(), which does not sleep); its waiter then
 *	unpins the buffer, or, for an orphan, the cleanup work item does.
 */
enum kesync_req_state {
	KESYNC_REQ_QUEUED,
	KESYNC_REQ_STARTING,
	KESYNC_REQ_WAIT_CTRL,
	KESYNC_REQ_ACTIVE,
	KESYNC_REQ_DONE,
};

/**
 * struct kesync_req - one read(2) or write(2) (NT: an IRP)
 * @node: on unit->queue or kdev->io.tq while QUEUED, on kdev->io.orphans
 *	once DONE and left behind; io.lock
 * @unode: on unit->reqs from queueing to completion; io.lock
 * @unit: the target unit
 * @file: the file it was issued on, and @owner the files_struct, so a
 *	close() from the same process cancels it (->flush)
 * @owner: see @file
 * @id: per-unit request number, for traces
 * @state: see enum kesync_req_state; io.lock
 * @cancel: cancellation requested; io.lock
 * @stop: a handled signal asks it to end after its running transfer;
 *	io.lock
 * @cancelled: it was ended by its cancellation (stats)
 * @cancel_file: cancelled by KESYNC_IOC_CANCEL or a close (not by its
 *	caller's signal): its -EINTR is never turned into a restart; io.lock
 * @orphan: its caller stopped waiting for it (kesync_wait_cancelled()):
 *	whoever ends it frees it and gives its slot back (from softirq
 *	context through kesync_dev.cleanup_work), and nothing more is stored
 *	into the caller's memory (kesync_adapter_unmap()); io.lock
 * @write: host to medium
 * @pos: medium offset of the first byte
 * @len: bytes requested (after clamping to the medium and the cap)
 * @done: bytes moved so far; owner only
 * @result: byte count or negative errno, valid after @done_cmp
 * @done_cmp: completed exactly once, when the request is DONE
 * @pages: the pinned user pages (NT: the locked-down MDL)
 * @npages: entries in @pages
 * @page_off: offset of the buffer in its first page
 * @sgt: the scatter-gather table, built at dispatch and DMA-mapped only
 *	while the request holds the controller (NT: the adapter channel)
 * @table: @sgt is allocated
 * @mapped: @sgt is DMA-mapped (counted in kesync_dev.io.maps)
 * @bounce: a read's partial first and last cache lines, or NULL
 *	(kesync_adapter_table())
 * @head_len: bytes of the request read into @bounce at its start
 * @tail_len: bytes of the request read into @bounce at its end
 * @sg: cursor of the next byte in @sgt (NT: the map-register window)
 * @sg_left: mapped entries from @sg to the end of @sgt
 * @sg_off: offset of the next byte in @sg
 * @win_len: bytes of the transfer programmed last
 * @win_nsegs: segments of the transfer programmed last
 * @tag: tag of the transfer programmed last
 * @zero_progress: transfers in a row that moved nothing
 * @retries: reprogrammings of the current transfer
 *
 * Fields without a lock are owned by the request's owner (see
 * enum kesync_req_state) and never touched by anyone else.
 */
struct kesync_req {
	struct list_head node;
	struct list_head unode;
	struct kesync_unit *unit;
	struct file *file;
	fl_owner_t owner;
	u64 id;
	enum kesync_req_state state;
	bool cancel;
	bool stop;
	bool cancelled;
	bool cancel_file;
	bool orphan;
	bool write;
	loff_t pos;
	size_t len;
	size_t done;
	ssize_t result;
	struct completion done_cmp;

	struct page **pages;
	unsigned int npages;
	unsigned int page_off;
	struct sg_table sgt;
	bool table;
	bool mapped;
	u8 *bounce;
	unsigned int head_len;
	unsigned int tail_len;
	struct scatterlist *sg;
	unsigned int sg_left;
	unsigned int sg_off;

	u32 win_len;
	u32 win_nsegs;
	u32 tag;
	unsigned int zero_progress;
	unsigned int retries;
};

/**
 * struct kesync_unit_isr - unit state shared with the ISR
 * @timer_count: the NT timer counter.  Set to the timeout + 1 when a
 *	transfer is programmed, to -1 by the ISR when it finishes; IoTimer
 *	decrements it through SynchCritSection_1.  Written with WRITE_ONCE
 *	because IoTimer peeks at it without the lock, as in the NT design.
 * @busy: a transfer is programmed and not seen finished, reset or aborted
 * @done: @snap holds a completion the DpcForIsr has not collected yet
 * @lost_irq: @snap was found by IoTimer, not by the ISR
 * @reset_hit: the programmed transfer was ended, or its programming
 *	refused, by a controller reset
 * @timed_out: ... and that reset was for this unit's timeout
 * @seen_seq: completion sequence number consumed last
 * @tag: tag of the programmed transfer
 * @snap: the last completion, for the DpcForIsr
 *
 * Touched only by the ISR and SynchCritSection routines, under
 * kesync_dev.isr.lock; kept on its own cache lines, away from the state the
 * other contexts write.
 */
struct kesync_unit_isr {
	int timer_count;
	bool busy;
	bool done;
	bool lost_irq;
	bool reset_hit;
	bool timed_out;
	u32 seen_seq;
	u32 tag;
	struct kesync_snap snap;
} ____cacheline_aligned;

/**
 * struct kesync_next_window - window N + 1, walked while window N runs
 * @req: the request it is for, or NULL when none is ready
 * @done: the request's done it starts at (the cursor is a function of it)
 * @len: its bytes
 * @nsegs: its segments, in kesync_unit.next_segs
 * @sg: the cursor after it: entry ...
 * @sg_left: ... mapped entries left from @sg ...
 * @sg_off: ... and offset in @sg
 *
 * Under kesync_unit.xfer_lock (kesync_build_window(),
 * kesync_prebuild_window()).  @req is only compared, never dereferenced.
 */
struct kesync_next_window {
	const struct kesync_req *req;
	size_t done;
	u32 len;
	u32 nsegs;
	struct scatterlist *sg;
	unsigned int sg_left;
	unsigned int sg_off;
};

/**
 * struct kesync_unit - one unit (NT: a device object and its extension)
 * @kdev: the controller; the unit holds a reference (kref)
 * @index: index on the controller
 * @id: global number N of /dev/kesync<N>
 * @regs: the unit's register window
 * @rec: the unit's completion record (coherent memory)
 * @desc: the unit's transfer descriptor (coherent memory)
 * @desc_dma: bus address of @desc
 * @irq_name: name of the unit's MSI-X vector
 * @irq: the Linux IRQ number of the unit's interrupt (its MSI-X vector, or
 *	the controller's single MSI or INTx one), for the pump thread to run
 *	where it lands (kesync_pump_follow()); 0 before the vectors exist
 * @dev: the class device; its release frees the unit
 * @cdev: the char device, added with cdev_device_add()
 * @timeout: transfer timeout in seconds; READ_ONCE/WRITE_ONCE
 * @cur: the current request (NT: CurrentIrp); io.lock
 * @queue: requests waiting for StartIo (startio pump; NT: the device
 *	queue); io.lock
 * @reqs: every request queued and not completed; io.lock
 * @ctrl_node: on kdev->io.ctrl_waiters while waiting for the controller;
 *	io.lock
 * @next_req_id: id of the next request; io.lock
 * @inflight: requests pinned or mapped, at most KESYNC_INFLIGHT_CAP; io.lock
 * @inflight_wq: dispatchers wait here for a slot; poll() too
 * @next_tag: tag of the next programmed transfer; @xfer_lock
 * @xfer_lock: serialises ControllerControl and DpcForIsr on @cur
 * @next_segs: the segments of the window after the one in flight, walked
 *	while it runs (max_segs entries, device-managed); @xfer_lock
 * @next: what @next_segs holds; @xfer_lock
 * @dpc: the DpcForIsr (softirq: a BH work item, or a tasklet on 6.1)
 * @io_timer: the IoTimer
 * @stats: counters, lock-free
 * @isr: state shared with the ISR
 */
struct kesync_unit {
	struct kesync_dev *kdev;
	unsigned int index;
	int id;
	void __iomem *regs;
	struct kesync_cmpl *rec;
	struct kesync_desc *desc;
	dma_addr_t desc_dma;
	char irq_name[32];
	unsigned int irq;

	struct device dev;
	struct cdev cdev;

	u32 timeout;

	/* Under kdev->io.lock: */
	struct kesync_req *cur;
	struct list_head queue;
	struct list_head reqs;
	struct list_head ctrl_node;
	u64 next_req_id;
	unsigned int inflight;
	wait_queue_head_t inflight_wq;

	/* Serialises the owners of @cur once it is ACTIVE; guards @next_tag. */
	spinlock_t xfer_lock;
	u32 next_tag;
	struct kesync_seg *next_segs;
	struct kesync_next_window next;
	struct kesync_dpc dpc;
	struct timer_list io_timer;

	atomic64_t stats[KESYNC_STAT_NR];

	struct kesync_unit_isr isr;
};

/**
 * struct kesync_dev - one controller (NT: the controller extension)
 * @pdev: the PCI function; a reference is held until the last release
 * @kref: references: probe's, and one per unit
 * @regs: BAR0
 * @id: controller number, for names
 * @name: "kesync<id>", for the workqueue, thread and vectors
 * @version: KESYNC_REG_VERSION
 * @caps: KESYNC_REG_CAPS
 * @nunits: units on the controller
 * @max_segs: segments per transfer (the map registers)
 * @max_xfer: bytes per transfer
 * @max_seg_size: bytes per scatterlist entry (dma_set_max_seg_size()):
 *	a transfer's worth, at most dma_max_mapping_size()
 * @unit_size: bytes of each unit's medium
 * @irq_mode: KESYNC_IRQ_*
 * @pump: KESYNC_PUMP_*
 * @nvecs: interrupt vectors allocated
 * @has_records: the device writes completion records
 * @intr_mask: the events enabled in KESYNC_REG_INTR_ENABLE
 * @recs: the completion records (coherent memory)
 * @recs_dma: bus address of @recs
 * @units: the units
 * @wq: the workqueue of the reset and cleanup work items (process context;
 *	the DpcForIsr runs in softirq context, struct kesync_dpc)
 * @reset_work: waits for a controller reset to finish (the DPC of the
 *	controller vector)
 * @cleanup_work: releases the requests on @io.orphans (unpins their pages,
 *	frees them, gives their slots back), which the DpcForIsr, in softirq
 *	context, cannot
 * @reset_wq: woken by the ISR on KESYNC_INTR_RESET_DONE
 * @reset_irqs: RESET_DONE interrupts seen (atomic; only a wake-up hint)
 * @remove_rwsem: user-space entry points that may touch the hardware hold
 *	it for read, never while they wait for user space (pinning) or the
 *	device; remove() takes it for write to set io.removed
 * @maps_wq: remove() waits here for the last DMA mapping to go
 * @thread: the pump thread (thread pump; NT: the driver-created thread)
 * @thread_wq: the thread sleeps here (NT: the dispatcher object)
 * @debugfs: debugfs directory
 * @pm: function reset, system sleep and PCI error recovery (kesync-pci.c)
 * @pm.lock: serialises the quiesce and the restart of the controller, and
 *	the ioctls that touch registers against them (kesync_hw_enter())
 * @pm.quiesced: the controller is quiesced for one of them; @pm.lock
 * @pm.quiesces: times it was quiesced, for the kernel log; @pm.lock
 * @io: request and controller-object state, under @io.lock
 * @io.lock: the executive spin lock of the I/O state
 * @io.tq: the interlocked queue of the thread pump
 * @io.ctrl_owner: the unit holding the controller object, or NULL
 * @io.ctrl_waiters: units waiting for it, FIFO (IoAllocateController)
 * @io.orphans: requests left behind by their caller and ended in softirq
 *	context, for @cleanup_work
 * @io.err: when non-zero, new and queued requests fail with it (-ENODEV
 *	once removed or gone, -EIO once dead)
 * @io.removed: remove() has begun
 * @io.maps: requests DMA-mapped and not yet unmapped; none is added once
 *	@io.err is set, and remove() waits on @maps_wq until it is zero
 * @io.stopped: the device can no longer do DMA (reset and bus mastering
 *	off, or gone): active requests are failed without touching it
 * @irqoff: lock-hold statistics, written under @isr.lock
 * @irqoff_since: local_clock() when they started (probe): debugfs prints
 *	it, so one binding's figures are not taken for another's
 * @isr: state shared with the ISR, under @isr.lock
 * @isr.lock: the interrupt spin lock
 * @isr.resetting: a controller reset is programmed and not yet finished
 *	(cleared by kesync_scs_reset_finish())
 * @isr.resets: resets programmed
 * @isr.offline: the function is being reset, suspended or recovered
 *	(kesync_dev.pm): transfers are not programmed, resets not started;
 *	read locklessly (READ_ONCE) by the reset worker
 * @isr.gone: a register read all ones and configuration space confirmed
 *	that the function is absent (kesync_ones_verdict()): nothing is
 *	programmed any more, and the reset worker fails every request with
 *	-ENODEV.  Never cleared; read locklessly (READ_ONCE) by the reset
 *	worker and kesync_hw_gone()
 * @isr.bad_read: a register read all ones on a function that answers
 *	configuration space: the controller reset programmed for it keeps
 *	bus mastering off until it is seen through (kesync_reset_work());
 *	read locklessly (READ_ONCE) by the reset worker
 * @isr.sw_irqs: KESYNC_INTR_SW interrupts seen
 */
struct kesync_dev {
	struct pci_dev *pdev;
	struct kref kref;
	void __iomem *regs;
	int id;
	char name[16];
	u32 version;
	u32 caps;
	unsigned int nunits;
	unsigned int max_segs;
	unsigned int max_xfer;
	unsigned int max_seg_size;
	u64 unit_size;
	int irq_mode;
	int pump;
	unsigned int nvecs;
	bool has_records;
	u32 intr_mask;
	struct kesync_cmpl *recs;
	dma_addr_t recs_dma;
	struct kesync_unit *units[KESYNC_MAX_UNITS];

	struct workqueue_struct *wq;
	struct work_struct reset_work;
	struct work_struct cleanup_work;
	wait_queue_head_t reset_wq;
	atomic_t reset_irqs;
	struct rw_semaphore remove_rwsem;
	wait_queue_head_t maps_wq;
	struct task_struct *thread;
	wait_queue_head_t thread_wq;
	struct dentry *debugfs;

	/* Reset, power and PCI error recovery (kesync-pci.c): */
	struct {
		struct mutex lock;	/* guards quiesced and quiesces */
		bool quiesced;
		unsigned int quiesces;
	} pm;

	struct {
		/* guards the members of io, see above */
		spinlock_t lock;
		struct list_head tq;
		struct kesync_unit *ctrl_owner;
		struct list_head ctrl_waiters;
		struct list_head orphans;
		int err;
		bool removed;
		bool stopped;
		unsigned int maps;
	} io;

	struct kesync_irqoff irqoff[KESYNC_SCS_NR];
	u64 irqoff_since;

	struct {
		/* the interrupt spin lock: isr, units' isr, irqoff, doorbells */
		spinlock_t lock;
		bool resetting;
		bool offline;
		bool gone;
		bool bad_read;
		u64 resets;
		u64 sw_irqs;
	} ____cacheline_aligned isr;
};

static inline void kesync_stat_inc(struct kesync_unit *u, enum kesync_stat_id s)
{
	atomic64_inc(&u->stats[s]);
}

static inline void kesync_stat_add(struct kesync_unit *u,
				   enum kesync_stat_id s, u64 v)
{
	atomic64_add(v, &u->stats[s]);
}

/* kesync-pci.c */
extern unsigned int kesync_reset_timeout_ms;
void kesync_dev_put(struct kesync_dev *kdev);
const char *kesync_irq_mode_name(int mode);
const char *kesync_pump_name(int pump);

/* kesync-io.c */
int kesync_io_init(struct kesync_dev *kdev);
void kesync_unit_io_init(struct kesync_unit *u);
int kesync_io_start(struct kesync_dev *kdev);
void kesync_io_begin_remove(struct kesync_dev *kdev);
void kesync_io_fail_all(struct kesync_dev *kdev);
void kesync_io_destroy(struct kesync_dev *kdev);
ssize_t kesync_do_io(struct kesync_unit *u, struct file *file,
		     unsigned long uaddr, size_t len, loff_t pos, bool write);
bool kesync_inflight_full(struct kesync_unit *u);
void kesync_cancel_file(struct kesync_unit *u, struct file *file,
			fl_owner_t owner);
int kesync_user_reset(struct kesync_unit *u);
int kesync_user_fault(struct kesync_unit *u, const struct kesync_fault *f);
int kesync_hw_stats(struct kesync_unit *u, struct kesync_hw_stats *hs);
void kesync_io_timer(struct timer_list *t);
bool kesync_hw_gone(struct kesync_dev *kdev);
void kesync_mark_dead(struct kesync_dev *kdev, int err);

/* kesync-cdev.c */
int kesync_cdev_init(void);
void kesync_cdev_exit(void);
int kesync_unit_register(struct kesync_unit *u);
void kesync_unit_unregister(struct kesync_unit *u);
void kesync_unit_put(struct kesync_unit *u);
struct kesync_unit *kesync_unit_alloc(struct kesync_dev *kdev,
				      unsigned int index);

/* kesync-sysfs.c */
extern const struct attribute_group *kesync_unit_groups[];
extern const struct attribute_group *kesync_dev_groups[];

/* kesync-debugfs.c */
#ifdef CONFIG_DEBUG_FS
void kesync_debugfs_init(void);
void kesync_debugfs_exit(void);
void kesync_debugfs_add(struct kesync_dev *kdev);
void kesync_debugfs_remove(struct kesync_dev *kdev);
#else
static inline void kesync_debugfs_init(void) {}
static inline void kesync_debugfs_exit(void) {}
static inline void kesync_debugfs_add(struct kesync_dev *kdev) {}
static inline void kesync_debugfs_remove(struct kesync_dev *kdev) {}
#endif

#endif /* _KESYNC_DEV_H */

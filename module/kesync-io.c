// SPDX-License-Identifier: GPL-2.0
/*
 * kesync: the I/O path, in the shape of the NT design it ports.
 *
 *   Dispatch (read/write)	kesync_do_io(): pins the buffer and builds its
 *				scatter-gather table, queues the request,
 *				waits; a fatal or handled signal ends it early
 *   StartIo			kesync_start_io(), called by the startio pump
 *				when the unit is idle and from DpcForIsr on
 *				completion (IoStartNextPacket), or by the pump
 *				thread (or by the dispatch routine when the
 *				pump and the unit are idle)
 *   IoAllocateController	kesync_allocate_controller(): FIFO across the
 *   ControllerControl		units; kesync_controller_control() maps the
 *   (AdapterControl)		buffer (kesync_adapter_map()) and programs
 *   IoFreeController		the first transfer; kesync_free_controller()
 *				hands the controller to the next unit
 *   DpcForIsr			kesync_dpc_for_isr(), in softirq context (a BH
 *				work item, or a tasklet on 6.1: struct
 *				kesync_dpc): completes the request
 *				(unmapping it before it frees the
 *				controller) or reprograms the next partial
 *				transfer through the same SynchCritSection;
 *				it never sleeps: the dispatch routine unpins
 *				after its wait, kesync_cleanup_work() for a
 *				request its caller left
 *   IoTimer			kesync_io_timer(), once a second per unit
 *   driver-created thread	kesync_pump_thread(), pump=thread
 *   Cancel routine		kesync_cancel(), kesync_cancel_file()
 *
 * Contexts: the dispatch routines, cancellers and ioctls run in process
 * context, the pump thread in a kthread, the reset and cleanup work items
 * in a workqueue (all may sleep); the DpcForIsr, and StartIo,
 * ControllerControl and IoFreeController when it calls them, and the
 * IoTimer run in softirq context and never sleep.  io.lock and
 * unit->xfer_lock are taken with spin_lock_bh() (a no-op nesting in
 * softirq), isr.lock through kesync_sync_exec().
 *
 * docs/driver-design.md has the request life cycle and the race analysis.
 */

#include <linux/bitops.h>
#include <linux/cache.h>
#include <linux/dma-mapping.h>
#include <linux/freezer.h>
#include <linux/highmem.h>
#include <linux/irq.h>
#include <linux/jiffies.h>
#include <linux/kthread.h>
#include <linux/lockdep.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/pci.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>

#include "kesync-hw.h"
#include "kesync-state.h"
#include "kesync_trace.h"

/* NT's IO_ALLOCATION_ACTION, what ControllerControl returns. */
enum kesync_alloc_action {
	KESYNC_KEEP_OBJECT,		/* a transfer runs: keep it */
	KESYNC_DEALLOCATE_OBJECT,	/* the request ended: free it */
};

static bool kesync_start_io(struct kesync_req *req);
static void kesync_start_next(struct kesync_unit *u);
static void kesync_inflight_put(struct kesync_unit *u);

static int kesync_io_error(struct kesync_dev *kdev)
{
	int err;

	spin_lock_bh(&kdev->io.lock);
	err = kdev->io.err;
	spin_unlock_bh(&kdev->io.lock);
	return err;
}

/**
 * kesync_hw_gone - has the device disappeared (surprise removal)?
 * @kdev: the controller
 *
 * A register read of all ones alone does not say (kesync_hw_absent()).
 *
 * Context: any; reads configuration space, no sleeping.
 * Return: true when the controller was marked gone, or configuration
 * space says the function is absent.
 */
bool kesync_hw_gone(struct kesync_dev *kdev)
{
	return READ_ONCE(kdev->isr.gone) || kesync_hw_absent(kdev);
}

/* ---- Adapter object: pinned user pages, DMA-mapped ---------------------- */

/*
 * kesync_adapter_pin - probe and lock the caller's pages (NT: the MDL)
 *
 * Pins the caller's pages; for a read the device stores into them
 * (FOLL_WRITE).  If only a prefix of the buffer can be pinned, the request
 * shrinks to it (a short count).  This may wait for page faults as long as
 * user space likes (userfaultfd, FUSE): it takes no lock of the driver, so
 * remove() and every other entry point go on meanwhile.
 *
 * Context: process context of the caller (its mm); sleeps.
 */
static int kesync_adapter_pin(struct kesync_req *req, unsigned long uaddr)
{
	unsigned int off = offset_in_page(uaddr);
	unsigned int npages = DIV_ROUND_UP(off + req->len, PAGE_SIZE);
	int pinned;

	req->pages = kvmalloc_array(npages, sizeof(*req->pages), GFP_KERNEL);
	if (!req->pages)
		return -ENOMEM;
	pinned = pin_user_pages_fast(uaddr & PAGE_MASK, npages,
				     req->write ? 0 : FOLL_WRITE, req->pages);
	if (pinned <= 0) {
		kvfree(req->pages);
		req->pages = NULL;
		return pinned ? pinned : -EFAULT;
	}
	if (pinned < npages)
		req->len = (size_t)pinned * PAGE_SIZE - off;
	req->npages = pinned;
	req->page_off = off;
	return 0;
}

/* A mapping ended: remove() may be waiting for the last one. */
static void kesync_map_put(struct kesync_dev *kdev)
{
	spin_lock_bh(&kdev->io.lock);
	if (!--kdev->io.maps)
		wake_up(&kdev->maps_wq);
	spin_unlock_bh(&kdev->io.lock);
}

static bool kesync_maps_idle(struct kesync_dev *kdev)
{
	bool idle;

	spin_lock_bh(&kdev->io.lock);
	idle = !kdev->io.maps;
	spin_unlock_bh(&kdev->io.lock);
	return idle;
}

/*
 * The alignment and width of what a read maps of the caller's memory: a
 * cache line the device writes into holds nothing else.
 * dma_get_cache_alignment() is the DMA API's rule ("the absolute minimum
 * alignment and width" of a mapping): where caches are not coherent, the
 * invalidation of a partial line at map time loses the CPU's stores to
 * the rest of it.  It is 1 on x86, where caches are coherent, but DMA-API
 * debugging checks every kernel at L1_CACHE_BYTES: two device-writable
 * mappings starting in one line are "overlapping mappings" (an error, a
 * WARN: fatal under panic_on_warn), and two reads into neighbouring
 * pieces of one buffer, or a read next to another driver's buffer in the
 * same line, make them.  Hence the larger of the two.
 */
static unsigned int kesync_dma_line(void)
{
	return max_t(unsigned int, dma_get_cache_alignment(), L1_CACHE_BYTES);
}

/*
 * kesync_adapter_table - the scatter-gather table of a request
 *
 * The pinned pages, in entries of at most max_seg_size bytes.  For a read
 * whose first or last bytes share a cache line (kesync_dma_line()) with
 * memory outside the buffer, those bytes are read into a small kernel
 * buffer instead, @req->bounce: its head line at offset 0, its tail line at
 * offset kesync_dma_line() (kmalloc() aligns a power-of-two size to
 * itself, so each sits alone in its lines), and kesync_unbounce() copies
 * them into the pages after the transfer.  At most 2 * (line - 1) bytes
 * of a request are copied; everything else stays zero copy.  Writes map
 * the pages as they are: the device only reads them, and a mapping for
 * DMA_TO_DEVICE cleans (writes back) a cache line but never discards it.
 * Built at dispatch; mapped only once the request gets the controller
 * (kesync_adapter_map()).
 *
 * Context: process (dispatch); sleeps (GFP_KERNEL).
 * Return: 0 or -ENOMEM.
 */
static int kesync_adapter_table(struct kesync_dev *kdev,
				struct kesync_req *req)
{
	unsigned int line = kesync_dma_line();
	size_t start = req->page_off, end = start + req->len;
	size_t head = min_t(size_t, ALIGN(start, line) - start, req->len);
	size_t tail = req->len > head ? end - ALIGN_DOWN(end, line) : 0;
	size_t mid = req->len - head - tail, mid_off = start + head;
	unsigned int mid_pages, max_seg = kdev->max_seg_size;
	struct sg_table mid_sgt = {};
	struct scatterlist *sg, *s;
	struct page **first;
	unsigned int nents, i;
	int ret;

	if (req->write || (!head && !tail)) {
		ret = sg_alloc_table_from_pages_segment(&req->sgt, req->pages,
							req->npages, start,
							req->len, max_seg,
							GFP_KERNEL);
		req->table = !ret;
		return ret;
	}

	req->bounce = kmalloc(2 * line, GFP_KERNEL);
	if (!req->bounce)
		return -ENOMEM;
	req->head_len = head;
	req->tail_len = tail;
	if (mid) {
		first = req->pages + (mid_off >> PAGE_SHIFT);
		mid_off = offset_in_page(mid_off);
		mid_pages = DIV_ROUND_UP(mid_off + mid, PAGE_SIZE);
		ret = sg_alloc_table_from_pages_segment(&mid_sgt, first,
							mid_pages, mid_off,
							mid, max_seg,
							GFP_KERNEL);
		if (ret)
			goto free_bounce;
	}
	nents = !!head + mid_sgt.orig_nents + !!tail;
	ret = sg_alloc_table(&req->sgt, nents, GFP_KERNEL);
	if (ret)
		goto free_mid;
	sg = req->sgt.sgl;
	if (head) {
		sg_set_buf(sg, req->bounce, head);
		sg = sg_next(sg);
	}
	for_each_sgtable_sg(&mid_sgt, s, i) {
		sg_set_page(sg, sg_page(s), s->length, s->offset);
		sg = sg_next(sg);
	}
	if (tail)
		sg_set_buf(sg, req->bounce + line, tail);
	sg_free_table(&mid_sgt);	/* none without a middle */
	req->table = true;
	return 0;

free_mid:
	sg_free_table(&mid_sgt);
free_bounce:
	kfree(req->bounce);
	req->bounce = NULL;
	return ret;
}

/*
 * kesync_unbounce - copy a read's bounced head and tail into its pages
 *
 * Only the bytes the device moved (@req->done, a prefix of the request):
 * what the caller gets back is what a direct transfer would have stored,
 * and no byte beyond it changes.  The copy touches only the request's own
 * bytes, so the program's stores to the rest of those cache lines, made
 * meanwhile by any of its threads, stay.
 *
 * Context: after dma_unmap_sgtable(), before the pages are unpinned,
 * under io.lock (kesync_adapter_unmap()); does not sleep
 * (kmap_local_page()).
 */
static void kesync_unbounce(struct kesync_req *req)
{
	size_t tail_at = req->len - req->tail_len;
	size_t pos;

	if (!req->bounce)
		return;
	if (req->head_len && req->done)
		memcpy_to_page(req->pages[0], req->page_off, req->bounce,
			       min_t(size_t, req->done, req->head_len));
	if (req->tail_len && req->done > tail_at) {
		pos = req->page_off + tail_at;
		memcpy_to_page(req->pages[pos >> PAGE_SHIFT],
			       offset_in_page(pos),
			       req->bounce + kesync_dma_line(),
			       req->done - tail_at);
	}
	kfree(req->bounce);
	req->bounce = NULL;
}

/*
 * kesync_adapter_map - IoAllocateAdapterChannel, run by ControllerControl
 *
 * Maps the request's table (built at dispatch, kesync_adapter_table())
 * for DMA, zero copy, at any alignment, except the partial cache lines at
 * the ends of a read.  Only the request holding the controller object is
 * mapped: requests queued behind it (KESYNC_INFLIGHT_CAP per unit, of up
 * to KESYNC_MAX_REQ_BYTES each) hold pinned pages but no mapping, so they
 * do not fill a bounce buffer (swiotlb) or an IOMMU's address space.
 * The map registers of the NT design are the device's segment and byte
 * limits, applied per transfer by kesync_build_window().
 *
 * Each mapping is counted in io.maps under io.lock, and none is made once
 * io.err is set: remove() sets it first and at the end waits until
 * io.maps is back to zero, so no mapping outlives the binding, whoever
 * releases it (the DpcForIsr, a canceller, a close).
 *
 * Where NT's AdapterControl would wait for map registers, a mapping the
 * DMA layer refuses (swiotlb full, IOMMU space exhausted) fails the
 * request with -ENOMEM, and the controller goes to the next request: with
 * one mapping per controller, the space is short for everyone, and
 * waiting for it could wait for ever.
 *
 * Context: process, kthread or softirq context (ControllerControl); does
 * not sleep (dma_map_sgtable() may be called in atomic context); no locks
 * held; takes io.lock.  The caller owns @req (STARTING).
 * Return: 0, io.err, or -ENOMEM.
 */
static int kesync_adapter_map(struct kesync_dev *kdev, struct kesync_req *req)
{
	enum dma_data_direction dir = req->write ? DMA_TO_DEVICE :
						   DMA_FROM_DEVICE;
	int ret;

	/* Once per grant: a second mapping would count io.maps twice. */
	if (WARN_ON_ONCE(req->mapped))
		return 0;
	spin_lock_bh(&kdev->io.lock);
	ret = kdev->io.err;
	if (!ret)
		kdev->io.maps++;
	spin_unlock_bh(&kdev->io.lock);
	if (ret)
		return ret;

	ret = dma_map_sgtable(&kdev->pdev->dev, &req->sgt, dir, 0);
	if (ret) {
		kesync_map_put(kdev);
		dev_warn_ratelimited(&req->unit->dev,
				     "cannot map %zu bytes for DMA (%d): request failed\n",
				     req->len, ret);
		return -ENOMEM;
	}
	req->mapped = true;
	req->sg = req->sgt.sgl;
	req->sg_left = req->sgt.nents;
	req->sg_off = 0;
	return 0;
}

/*
 * kesync_adapter_unmap - FreeAdapterChannel
 *
 * Unmaps the request, if it is mapped, and copies a read's bounced bytes
 * into its pages (after the unmap: kesync_unbounce()).  Called when the
 * device can no longer touch the buffer: it finished, was aborted, was
 * reset, or lost bus mastering.  The DpcForIsr calls it before it frees
 * the controller, so at most one request per controller holds a mapping;
 * kesync_adapter_release() calls it again for the other paths (a no-op
 * for a request never mapped or already unmapped).
 *
 * The caller of an orphan (kesync_wait_cancelled()) has returned, and
 * its memory may be in use again: nothing more is stored into it, not by
 * a bounce buffer's copy back (swiotlb: DMA_ATTR_SKIP_CPU_SYNC) nor by
 * kesync_unbounce().  io.lock, under which the waiter makes the request
 * an orphan, is held across the unmap and the copy, so either the copy is
 * over before the call returns or it never happens.
 *
 * Context: process, kthread or softirq context (the DpcForIsr), as for
 * kesync_adapter_map(); does not sleep (the DMA API's unmap may be called
 * in atomic context); may hold unit->xfer_lock; takes io.lock.  The
 * caller owns @req.
 */
static void kesync_adapter_unmap(struct kesync_dev *kdev,
				 struct kesync_req *req)
{
	if (!req->mapped)
		return;
	spin_lock_bh(&kdev->io.lock);
	dma_unmap_sgtable(&kdev->pdev->dev, &req->sgt,
			  req->write ? DMA_TO_DEVICE : DMA_FROM_DEVICE,
			  req->orphan ? DMA_ATTR_SKIP_CPU_SYNC : 0);
	if (!req->orphan)
		kesync_unbounce(req);
	req->mapped = false;
	if (!--kdev->io.maps)
		wake_up(&kdev->maps_wq);
	spin_unlock_bh(&kdev->io.lock);
}

/*
 * kesync_adapter_release - the adapter channel and the MDL go
 *
 * Unmaps the request if it is still mapped, frees its table and its
 * bounce buffer, and unlocks the pages.  Called exactly once per request,
 * once it is DONE (or was never queued), by the dispatch routine after its
 * wait, or by kesync_release_orphan() for a request its caller left; the
 * device can no longer touch the buffer (or it never could: a request
 * ended before it got the controller was never mapped).
 *
 * Context: process or workqueue context; sleeps (page lock).
 */
static void kesync_adapter_release(struct kesync_dev *kdev,
				   struct kesync_req *req)
{
	kesync_adapter_unmap(kdev, req);
	if (req->table) {
		sg_free_table(&req->sgt);
		req->table = false;
	}
	kfree(req->bounce);	/* a read never mapped */
	req->bounce = NULL;
	if (req->pages) {
		/* A read stored into the pages: they are dirty. */
		unpin_user_pages_dirty_lock(req->pages, req->npages,
					    !req->write);
		kvfree(req->pages);
		req->pages = NULL;
	}
}

/*
 * kesync_walk_window - the segments of one transfer from a cursor
 *
 * Takes at most max_segs segments and @room bytes from the cursor
 * (@sgp, @leftp, @offp: entry, mapped entries left, offset in the entry),
 * writes them to @segs and moves the cursor past them.
 *
 * Return: the bytes taken; *@nsegs the segments.
 */
static u32 kesync_walk_window(struct kesync_dev *kdev, struct kesync_seg *segs,
			      struct scatterlist **sgp, unsigned int *leftp,
			      unsigned int *offp, u32 room, u32 *nsegs)
{
	struct scatterlist *sg = *sgp;
	unsigned int left = *leftp, off = *offp, n = 0;
	u32 total = 0, take;

	while (sg && n < kdev->max_segs && total < room) {
		take = min_t(u32, sg_dma_len(sg) - off, room - total);
		segs[n].addr = cpu_to_le64(sg_dma_address(sg) + off);
		segs[n].len = cpu_to_le32(take);
		segs[n].rsvd = 0;
		n++;
		total += take;
		off += take;
		if (off == sg_dma_len(sg)) {
			off = 0;
			sg = --left ? sg_next(sg) : NULL;
		}
	}
	*sgp = sg;
	*leftp = left;
	*offp = off;
	*nsegs = n;
	return total;
}

/*
 * kesync_build_window - the next transfer's descriptor
 *
 * Takes at most max_segs segments and max_xfer bytes from the request's
 * cursor: the "map registers" window.  The cursor itself only moves when
 * the device reports how many bytes it moved (kesync_advance()).  When
 * the device moved all of the previous window, its successor was walked
 * already while the device worked (kesync_prebuild_window()): its
 * segments are copied instead.  Leaves in @u->next where the window
 * after this one starts, for kesync_prebuild_window().
 *
 * Context: the request's owner, under unit->xfer_lock; any context but
 * hardirq.
 */
static void kesync_build_window(struct kesync_unit *u, struct kesync_req *req)
{
	struct kesync_dev *kdev = u->kdev;
	struct kesync_next_window *nw = &u->next;
	struct kesync_desc *d = u->desc;
	u32 room = min_t(size_t, kdev->max_xfer, req->len - req->done);
	u32 total, n;

	lockdep_assert_held(&u->xfer_lock);
	/* The cursor is a function of done: equal done, equal cursor. */
	if (nw->req == req && nw->done == req->done) {
		memcpy(d->segs, u->next_segs, nw->nsegs * sizeof(*d->segs));
		total = nw->len;
		n = nw->nsegs;
	} else {
		nw->sg = req->sg;
		nw->sg_left = req->sg_left;
		nw->sg_off = req->sg_off;
		total = kesync_walk_window(kdev, d->segs, &nw->sg, &nw->sg_left,
					   &nw->sg_off, room, &n);
	}
	nw->req = NULL;
	/* Tag 0 is what the device reports for a refused START. */
	if (++u->next_tag == 0)
		u->next_tag = 1;
	req->tag = u->next_tag;
	req->win_len = total;
	req->win_nsegs = n;
	d->nsegs = cpu_to_le32(n);
	d->offset = cpu_to_le64(req->pos + req->done);
	d->len = cpu_to_le32(total);
	d->tag = cpu_to_le32(req->tag);
	d->rsvd = 0;
}

/*
 * kesync_prebuild_window - walk window N + 1 while window N is in flight
 *
 * Right after the doorbell of a window, the segments of the next one (as
 * if the device moves all of this one) are taken into @u->next_segs, and
 * the DpcForIsr that sees the window complete in full copies them
 * (kesync_build_window()) instead of walking the table: the walk is done
 * while the device works, not between its interrupt and the next
 * doorbell.  A short count, a retry or another request finds @u->next
 * not matching and walks as before.  The device reads only @u->desc,
 * once per START; the copy goes there only when the previous window is
 * over.
 *
 * Context: the request's owner, under unit->xfer_lock.
 */
static void kesync_prebuild_window(struct kesync_unit *u,
				   struct kesync_req *req)
{
	struct kesync_next_window *nw = &u->next;
	size_t done = req->done + req->win_len;

	lockdep_assert_held(&u->xfer_lock);
	if (!req->win_len || done >= req->len)
		return;
	nw->len = kesync_walk_window(u->kdev, u->next_segs, &nw->sg,
				     &nw->sg_left, &nw->sg_off,
				     min_t(size_t, u->kdev->max_xfer,
					   req->len - done), &nw->nsegs);
	nw->done = done;
	nw->req = req;
}

/* Move the cursor past @bytes the device moved. */
static void kesync_advance(struct kesync_req *req, u32 bytes)
{
	u32 avail;

	req->done += bytes;
	while (bytes && req->sg) {
		avail = sg_dma_len(req->sg) - req->sg_off;
		if (bytes < avail) {
			req->sg_off += bytes;
			return;
		}
		bytes -= avail;
		req->sg_off = 0;
		req->sg = --req->sg_left ? sg_next(req->sg) : NULL;
	}
}

/*
 * kesync_program_window - build the next transfer and program it through
 * the read or write SynchCritSection (KeSynchronizeExecution), then walk
 * the one after it while the device works (kesync_prebuild_window()).
 *
 * Return: 0, or -EAGAIN when a controller reset is in progress: the unit is
 * then marked reset_hit and its DpcForIsr programs the transfer again once
 * the reset is over.
 *
 * Context: the request's owner (ControllerControl or DpcForIsr), holding
 * the controller object and unit->xfer_lock; does not sleep.
 */
static int kesync_program_window(struct kesync_unit *u, struct kesync_req *req)
{
	struct kesync_prog_ctx p = {
		.unit = u,
		.timeout = READ_ONCE(u->timeout),
	};

	lockdep_assert_held(&u->xfer_lock);
	kesync_build_window(u, req);
	p.tag = req->tag;
	kesync_sync_exec(u->kdev, req->write ? &kesync_scs_program_write :
					       &kesync_scs_program_read, &p);
	trace_kesync_programmed(req, p.ret);
	if (!p.ret)
		kesync_prebuild_window(u, req);
	return p.ret;
}

/* ---- Completion ---------------------------------------------------------- */

/* kesync_retire_locked() is in kesync-state.h. */

static ssize_t kesync_cancel_result(const struct kesync_req *req)
{
	return req->done ? (ssize_t)req->done : -EINTR;
}

/*
 * kesync_release_orphan - the end of a request its caller left behind
 *
 * Unpins its pages (kesync_adapter_release()), frees it and gives its
 * slot back: what the dispatch routine does after its wait.
 *
 * Context: process or workqueue context; sleeps.
 */
static void kesync_release_orphan(struct kesync_req *req)
{
	struct kesync_unit *u = req->unit;

	kesync_adapter_release(u->kdev, req);
	kfree(req);
	kesync_inflight_put(u);
}

/**
 * kesync_cleanup_work - release the orphans ended in softirq context
 * @work: kdev->cleanup_work
 *
 * kesync_complete_request() cannot unpin pages in the DpcForIsr: it puts
 * an orphan on io.orphans and queues this.  destroy_workqueue() (remove)
 * runs what is still queued.
 *
 * Context: workqueue; sleeps.
 */
static void kesync_cleanup_work(struct work_struct *work)
{
	struct kesync_dev *kdev = container_of(work, struct kesync_dev,
					       cleanup_work);
	struct kesync_req *req, *tmp;
	LIST_HEAD(orphans);

	spin_lock_bh(&kdev->io.lock);
	list_splice_init(&kdev->io.orphans, &orphans);
	spin_unlock_bh(&kdev->io.lock);

	list_for_each_entry_safe(req, tmp, &orphans, node) {
		list_del_init(&req->node);
		kesync_release_orphan(req);
	}
}

/**
 * kesync_complete_request - IoCompleteRequest
 * @req: a request in state DONE whose buffer the device can no longer touch
 * @result: byte count or negative errno for the caller
 *
 * Unmaps the request (unless the DpcForIsr or ControllerControl did
 * already), counts, and wakes the waiter, which may free @req at once:
 * @req is not touched after complete().  The waiter unpins the pages
 * (kesync_do_io()), in its own context, after its wait.  A request its
 * caller left behind (kesync_wait_cancelled()) is released here when the
 * caller may sleep, and otherwise (the DpcForIsr) by the cleanup work
 * item (kesync_cleanup_work()).
 *
 * Context: process, kthread or softirq context; does not sleep, except to
 * release an orphan in process context; no locks held; takes io.lock.
 */
static void kesync_complete_request(struct kesync_req *req, ssize_t result)
{
	struct kesync_unit *u = req->unit;
	struct kesync_dev *kdev = u->kdev;
	bool orphan, defer = false;

	kesync_adapter_unmap(kdev, req);
	kesync_stat_inc(u, KESYNC_STAT_REQUESTS);
	kesync_stat_add(u, KESYNC_STAT_BYTES, req->done);
	if (req->cancelled)
		kesync_stat_inc(u, KESYNC_STAT_CANCELS);
	else if (result < 0 && result != -ETIMEDOUT)
		kesync_stat_inc(u, KESYNC_STAT_ERRORS);
	trace_kesync_completed(req, result);

	spin_lock_bh(&kdev->io.lock);
	list_del_init(&req->unode);
	orphan = req->orphan;
	if (orphan && !in_task()) {
		list_add_tail(&req->node, &kdev->io.orphans);
		defer = true;
	}
	spin_unlock_bh(&kdev->io.lock);

	if (defer) {
		/* Removal drains it (destroy_workqueue()) after the last DPC. */
		queue_work(kdev->wq, &kdev->cleanup_work);
		return;
	}
	if (orphan) {
		kesync_release_orphan(req);
		return;
	}
	req->result = result;
	complete(&req->done_cmp);
}

/* Fail the requests still on the unit's StartIo queue. */
static void kesync_fail_queue(struct kesync_unit *u, int err)
{
	struct kesync_dev *kdev = u->kdev;
	struct kesync_req *req, *tmp;
	LIST_HEAD(failed);

	spin_lock_bh(&kdev->io.lock);
	list_for_each_entry_safe(req, tmp, &u->queue, node) {
		list_move_tail(&req->node, &failed);
		kesync_retire_locked(u, req);
	}
	spin_unlock_bh(&kdev->io.lock);

	list_for_each_entry_safe(req, tmp, &failed, node) {
		list_del_init(&req->node);
		kesync_complete_request(req, err);
	}
}

/* ---- Controller object --------------------------------------------------- */

/**
 * kesync_controller_control - ControllerControl
 * @u: the unit just given the controller object
 *
 * Maps the unit's current request for DMA (kesync_adapter_map(): the
 * AdapterControl of the NT design runs here too) and programs its first
 * transfer through its SynchCritSection.  A request cancelled meanwhile,
 * one the controller can no longer serve, or one the DMA layer cannot map
 * (-ENOMEM) is ended here instead, unmapped before the caller frees the
 * controller.
 *
 * Context: process, kthread or softirq context (the DpcForIsr frees the
 * controller); does not sleep; no locks held; takes @u->xfer_lock.  The
 * request is in state STARTING, owned by the caller: the DpcForIsr leaves
 * it alone until it is ACTIVE, so it is mapped before the lock is taken.
 * Return: KESYNC_KEEP_OBJECT while the transfer runs; KESYNC_DEALLOCATE_OBJECT
 * when the request was ended: the caller frees the controller and starts
 * the unit's next request.
 */
static enum kesync_alloc_action kesync_controller_control(struct kesync_unit *u)
{
	struct kesync_dev *kdev = u->kdev;
	struct kesync_req *req;
	ssize_t res = 0;
	bool skip;
	int err = 0;

	spin_lock_bh(&kdev->io.lock);
	req = u->cur;
	skip = req->cancel;	/* not worth a mapping; ended just below */
	spin_unlock_bh(&kdev->io.lock);
	if (!skip)
		err = kesync_adapter_map(kdev, req);

	spin_lock_bh(&u->xfer_lock);
	spin_lock_bh(&kdev->io.lock);
	res = kesync_owner_check_locked(kdev, req, kesync_cancel_result(req));
	if (!res && err) {
		res = err;
		kesync_retire_locked(u, req);
	}
	if (!res)
		req->state = KESYNC_REQ_ACTIVE;
	spin_unlock_bh(&kdev->io.lock);
	/* -EAGAIN (a reset is running) is retried by the DpcForIsr after it. */
	if (!res)
		kesync_program_window(u, req);
	spin_unlock_bh(&u->xfer_lock);

	if (!res)
		return KESYNC_KEEP_OBJECT;
	kesync_adapter_unmap(kdev, req);	/* the device never saw it */
	kesync_complete_request(req, res);
	return KESYNC_DEALLOCATE_OBJECT;
}

/**
 * kesync_free_controller - IoFreeController
 * @kdev: the controller
 *
 * Hands the controller object to the unit that has waited longest and runs
 * its ControllerControl here, in the caller's context.  A unit whose
 * request ends there gives it back at once, and the next waiter gets it.
 *
 * Context: process, kthread or softirq context; does not sleep; no locks
 * held; the caller holds the controller object.
 */
static void kesync_free_controller(struct kesync_dev *kdev)
{
	struct kesync_unit *next;

	for (;;) {
		spin_lock_bh(&kdev->io.lock);
		/* Ours now (STARTING): a canceller only flags it. */
		next = kesync_ctrl_release_locked(kdev);
		spin_unlock_bh(&kdev->io.lock);

		if (!next ||
		    kesync_controller_control(next) == KESYNC_KEEP_OBJECT)
			return;
		/* Its next request queues behind the units already waiting. */
		kesync_start_next(next);
	}
}

/**
 * kesync_allocate_controller - IoAllocateController
 * @u: the unit
 * @req: its current request, state STARTING
 *
 * Runs ControllerControl at once when the controller object is free;
 * otherwise queues the unit (FIFO) and returns: whoever frees the
 * controller runs it.  The hardware runs one transfer at a time, so no
 * START ever meets a busy controller.
 *
 * Context: process, kthread or softirq context; does not sleep; no locks
 * held.
 * Return: true while @u is busy with @req; false when @req was ended at
 * once (the caller starts the unit's next request).
 */
static bool kesync_allocate_controller(struct kesync_unit *u,
				       struct kesync_req *req)
{
	struct kesync_dev *kdev = u->kdev;
	bool granted = false;
	ssize_t res = 0;

	spin_lock_bh(&kdev->io.lock);
	res = kesync_owner_check_locked(kdev, req, -EINTR);
	if (!res) {
		granted = kesync_ctrl_acquire_locked(kdev, u, req);
		if (!granted)
			kesync_stat_inc(u, KESYNC_STAT_CTRL_WAITS);
	}
	spin_unlock_bh(&kdev->io.lock);

	if (res) {
		kesync_complete_request(req, res);
		return false;
	}
	if (granted &&
	    kesync_controller_control(u) == KESYNC_DEALLOCATE_OBJECT) {
		kesync_free_controller(kdev);
		return false;
	}
	return true;
}

/* ---- StartIo and the two pumps ------------------------------------------- */

/**
 * kesync_start_io - StartIo
 * @req: the unit's current request, state STARTING
 *
 * The request was pinned, and its table built, by its dispatch routine,
 * so all that is left is to get the controller object; ControllerControl
 * then maps the buffer, programs the device and arms the timer counter
 * (timeout + 1 s).
 *
 * Context: process (dispatch, canceller), kthread (pump thread) or
 * softirq (DpcForIsr) context; does not sleep; no locks held.
 * Return: true while the unit is busy with @req; false when it was ended at
 * once and the caller should start the unit's next request.
 */
static bool kesync_start_io(struct kesync_req *req)
{
	trace_kesync_started(req, 0);
	return kesync_allocate_controller(req->unit, req);
}

/**
 * kesync_start_next - IoStartNextPacket
 * @u: a unit that just became idle
 *
 * startio pump: takes the next request of the unit's queue and calls
 * StartIo.  thread pump: wakes the pump thread, and only when its queue
 * holds a request it can start now (kesync_thread_ready_locked()): a
 * request of a busy unit waits for that unit's own completion, which
 * calls this again.
 *
 * Context: process, kthread or softirq context; does not sleep; no locks
 * held.
 */
static void kesync_start_next(struct kesync_unit *u)
{
	struct kesync_dev *kdev = u->kdev;
	struct kesync_req *req;
	bool ready;

	if (kdev->pump == KESYNC_PUMP_THREAD) {
		spin_lock_bh(&kdev->io.lock);
		ready = kesync_thread_ready_locked(kdev);
		spin_unlock_bh(&kdev->io.lock);
		if (ready)
			wake_up(&kdev->thread_wq);	/* KeSetEvent */
		return;
	}
	for (;;) {
		spin_lock_bh(&kdev->io.lock);
		req = kesync_next_req_locked(u);
		spin_unlock_bh(&kdev->io.lock);
		if (!req || kesync_start_io(req))
			return;
	}
}

/* The interlocked queue: first request whose unit is idle (FIFO per unit). */
static bool kesync_thread_dequeue(struct kesync_dev *kdev,
				  struct kesync_req **reqp)
{
	struct kesync_req *req;

	spin_lock_bh(&kdev->io.lock);
	list_for_each_entry(req, &kdev->io.tq, node) {
		if (req->unit->cur)
			continue;	/* requests of a unit never overlap */
		list_del_init(&req->node);
		req->unit->cur = req;
		req->state = KESYNC_REQ_STARTING;
		*reqp = req;
		break;
	}
	spin_unlock_bh(&kdev->io.lock);
	return *reqp;
}

/*
 * kesync_pump_follow - run the pump where the unit's interrupt lands
 *
 * The DpcForIsr runs on the CPU that took the unit's interrupt and wakes
 * the pump there; a pump on that CPU is woken without an IPI and its
 * StartIo shares the CPU's caches with the DPC.  Before each StartIo the
 * pump moves to the effective affinity of the unit's vector when it is
 * not on one of its CPUs already, so it follows a change of affinity
 * (/proc/irq/N/smp_affinity, a CPU going offline) at the next request.
 * With one vector per unit (MSI-X, spread by kesync_request_irqs()) a
 * controller with several units moves the pump between their CPUs only
 * when their requests alternate.
 *
 * Context: the pump thread; may sleep (migration).
 */
static void kesync_pump_follow(struct kesync_unit *u)
{
	const struct cpumask *m;

	if (!u->irq)
		return;
	m = irq_get_effective_affinity_mask(u->irq);
	if (!m || cpumask_test_cpu(raw_smp_processor_id(), m) ||
	    !cpumask_intersects(m, cpu_online_mask))
		return;
	set_cpus_allowed_ptr(current, m);
}

/**
 * kesync_pump_thread - the driver-created thread (pump=thread)
 * @data: the controller
 *
 * Sleeps on kdev->thread_wq (the dispatcher object the dispatch routines
 * and IoStartNextPacket signal, only when a request it can start is
 * queued) until a request of an idle unit is queued, takes it off the
 * interlocked queue and calls StartIo, on the CPU of the unit's interrupt
 * (kesync_pump_follow()).  TASK_IDLE: an idle pump neither loads the
 * machine nor trips the hung-task detector.
 *
 * Context: kthread.
 * Return: 0.
 */
static int kesync_pump_thread(void *data)
{
	struct kesync_dev *kdev = data;
	struct kesync_req *req;

	for (;;) {
		req = NULL;
		wait_event_idle(kdev->thread_wq, kthread_should_stop() ||
				kesync_thread_dequeue(kdev, &req));
		if (!req)
			break;
		kesync_pump_follow(req->unit);
		kesync_start_io(req);
	}
	return 0;
}

/*
 * Dispatch: queue @req (IoStartPacket / IoCsqInsertIrp).  startio pump:
 * StartIo now when the unit is idle.  thread pump: StartIo now, in the
 * caller's context, when the unit is idle and the pump has nothing queued
 * (a wake-up and a context switch saved, FIFO order kept); otherwise on
 * the interlocked queue, waking the pump only when the unit is idle (a
 * busy unit's completion wakes it).
 */
static int kesync_queue_request(struct kesync_unit *u, struct kesync_req *req)
{
	struct kesync_dev *kdev = u->kdev;
	bool start = false, wake = false;
	int err;

	spin_lock_bh(&kdev->io.lock);
	err = kdev->io.err;
	if (err) {
		spin_unlock_bh(&kdev->io.lock);
		return err;
	}
	req->id = u->next_req_id++;
	list_add_tail(&req->unode, &u->reqs);
	if (!u->cur && list_empty(kdev->pump == KESYNC_PUMP_THREAD ?
				  &kdev->io.tq : &u->queue)) {
		u->cur = req;
		req->state = KESYNC_REQ_STARTING;
		start = true;
	} else if (kdev->pump == KESYNC_PUMP_THREAD) {
		list_add_tail(&req->node, &kdev->io.tq);
		req->state = KESYNC_REQ_QUEUED;
		wake = !u->cur;
	} else {
		list_add_tail(&req->node, &u->queue);
		req->state = KESYNC_REQ_QUEUED;
	}
	trace_kesync_queued(req, 0);
	spin_unlock_bh(&kdev->io.lock);

	if (wake)
		wake_up(&kdev->thread_wq);	/* KeSetEvent */
	else if (start && !kesync_start_io(req))
		kesync_start_next(u);
	return 0;
}

/* ---- DpcForIsr ----------------------------------------------------------- */

/*
 * Program the next (or the same) transfer of @req, unless it was cancelled
 * or asked to stop (a handled signal: end it here, between two transfers,
 * with the bytes moved so far) or the controller went away meanwhile.
 * Return: true to end @req.
 */
static bool kesync_dpc_program_next(struct kesync_unit *u,
				    struct kesync_req *req, ssize_t *res,
				    bool partial)
{
	struct kesync_dev *kdev = u->kdev;
	bool cancel;
	int err;

	spin_lock_bh(&kdev->io.lock);
	cancel = req->cancel || req->stop;
	err = kdev->io.err;
	spin_unlock_bh(&kdev->io.lock);
	if (cancel) {
		req->cancelled = true;
		*res = kesync_cancel_result(req);
		return true;
	}
	if (err) {
		*res = err;
		return true;
	}
	if (partial)
		kesync_stat_inc(u, KESYNC_STAT_PARTIALS);
	kesync_program_window(u, req);
	if (partial)
		trace_kesync_partial(req, 0);
	return false;
}

/*
 * Make sure the device no longer works on anything for the unit.
 * Return: true when it could not be told (the unit read all ones on a
 * device that is there): a controller reset stops it instead, and the
 * request must keep its buffers until its DpcForIsr sees the reset over.
 */
static bool kesync_quiesce_unit(struct kesync_unit *u)
{
	struct kesync_abort_ctx a = { .unit = u, .force = true };

	kesync_sync_exec(u->kdev, &kesync_scs_abort, &a);
	if (a.ones != KESYNC_ONES_NOTHING)
		queue_work(u->kdev->wq, &u->kdev->reset_work);
	return a.reset;
}

/* A completion of @req's transfer.  Return: true to end @req with *res. */
static bool kesync_dpc_completion(struct kesync_unit *u, struct kesync_req *req,
				  const struct kesync_collect_ctx *c,
				  ssize_t *res)
{
	const struct kesync_snap *s = &c->snap;
	u32 state = s->status & KESYNC_USTAT_STATE_MASK;
	u32 err = (s->status & KESYNC_USTAT_ERR_MASK) >> KESYNC_USTAT_ERR_SHIFT;
	enum kesync_refusal refusal = kesync_status_refusal(s->status);
	u32 bytes;

	if (refusal == KESYNC_REFUSAL_CTRL_BUSY) {
		/* Never seen with the controller object; counted, retried. */
		kesync_stat_inc(u, KESYNC_STAT_HW_BUSY);
		dev_warn_ratelimited(&u->dev,
				     "START refused: controller busy\n");
		if (++req->retries > KESYNC_RETRY_MAX) {
			*res = -EIO;
			return true;
		}
		return kesync_dpc_program_next(u, req, res, false);
	}
	if (s->tag != req->tag || refusal == KESYNC_REFUSAL_UNIT_BUSY) {
		/* The device runs something we did not program: stop it. */
		if (refusal == KESYNC_REFUSAL_UNIT_BUSY)
			kesync_stat_inc(u, KESYNC_STAT_HW_BUSY);
		dev_err_ratelimited(&u->dev,
				    "unexpected completion: tag %u (expected %u), status 0x%x\n",
				    s->tag, req->tag, s->status);
		if (kesync_quiesce_unit(u))
			return false;	/* retried after the reset */
		*res = -EIO;
		return true;
	}
	if (state != KESYNC_STATE_DONE) {
		dev_err_ratelimited(&u->dev,
				    "transfer failed: state %u error %u\n",
				    state, err);
		*res = -EIO;
		return true;
	}

	bytes = min(s->bytes, req->win_len);
	if (bytes < req->win_len)
		kesync_stat_inc(u, KESYNC_STAT_SHORT_XFERS);
	kesync_advance(req, bytes);
	req->retries = 0;
	if (bytes) {
		req->zero_progress = 0;
	} else if (++req->zero_progress >= KESYNC_ZERO_PROGRESS_MAX) {
		dev_err_ratelimited(&u->dev, "no progress in %u transfers\n",
				    req->zero_progress);
		*res = -EIO;
		return true;
	}
	if (req->done == req->len) {
		*res = req->done;
		return true;
	}
	return kesync_dpc_program_next(u, req, res, true);
}

/* @req's transfer was ended by a controller reset, now over. */
static bool kesync_dpc_reset_hit(struct kesync_unit *u, struct kesync_req *req,
				 const struct kesync_collect_ctx *c,
				 ssize_t *res)
{
	if (c->timed_out) {
		*res = -ETIMEDOUT;
		return true;
	}
	/* Another unit's timeout or a user reset: retry the transfer. */
	if (++req->retries > KESYNC_RETRY_MAX) {
		*res = -EIO;
		return true;
	}
	return kesync_dpc_program_next(u, req, res, false);
}

/* @req was cancelled while its transfer runs: abort it on the device. */
static bool kesync_dpc_abort(struct kesync_unit *u, struct kesync_req *req,
			     const struct kesync_collect_ctx *c, ssize_t *res)
{
	struct kesync_abort_ctx a = { .unit = u };
	bool aborted;

	/*
	 * Not aborted: it finished first.  Its completion was handed over by
	 * the abort routine (kick the DPC again to take it) or is on its way
	 * through the ISR, which kicks it; that run ends the request.  Ending
	 * it now would leave the completion to be taken for the unit's next
	 * request.  Or the unit read all ones on a device that is there: the
	 * controller reset programmed for it ends the transfer, and the
	 * request, marked reset_hit, ends once that reset is over.  Aborted
	 * includes a device that is gone: it does no DMA without a link.
	 */
	if (c->busy) {
		aborted = kesync_sync_exec(u->kdev, &kesync_scs_abort, &a);
		/* Gone: fail the rest; there: see the reset (a.reset) through. */
		if (a.ones != KESYNC_ONES_NOTHING)
			queue_work(u->kdev->wq, &u->kdev->reset_work);
		if (!aborted) {
			if (a.finished)
				kesync_dpc_queue(&u->dpc);
			return false;
		}
	}
	req->cancelled = true;
	*res = kesync_cancel_result(req);
	return true;
}

/**
 * kesync_dpc_for_isr - DpcForIsr
 * @dpc: the unit's DPC
 *
 * Collects what the ISR (or IoTimer, or the reset worker) left for the
 * unit's current request and acts on it: completes the request; or, when
 * bytes remain (partial transfer or a short count), reprograms the next
 * transfer through the same SynchCritSection, which re-arms the timer
 * counter as StartIo did, here, with no other hop; or retries a transfer
 * a reset interrupted; or aborts a cancelled one.  When the request ends,
 * unmaps it (the device is done with it), frees the controller, starts the
 * unit's next request and completes this one: at most one request per
 * controller is mapped.  The pages are unpinned by the waiter, not here.
 * Once the device is stopped (dead, removed) it fails what is left
 * without touching it.
 *
 * Context: softirq (NT's DISPATCH_LEVEL: kesync_dpc, kesync-compat.h), on
 * the CPU that queued it; never sleeps; takes unit->xfer_lock, io.lock,
 * isr.lock, and those of the next unit's ControllerControl.
 */
static void kesync_dpc_for_isr(struct kesync_dpc *dpc)
{
	struct kesync_unit *u = container_of(dpc, struct kesync_unit, dpc);
	struct kesync_dev *kdev = u->kdev;
	struct kesync_collect_ctx c = { .unit = u };
	struct kesync_req *req, *waiting = NULL;
	bool stopped, cancel, end = false;
	ssize_t res = 0;
	int err;

	spin_lock_bh(&u->xfer_lock);
	spin_lock_bh(&kdev->io.lock);
	stopped = kdev->io.stopped;
	err = kdev->io.err;
	req = u->cur;
	if (stopped && req && req->state == KESYNC_REQ_WAIT_CTRL) {
		list_del_init(&u->ctrl_node);
		kesync_retire_locked(u, req);
		waiting = req;
	}
	if (req && req->state != KESYNC_REQ_ACTIVE)
		req = NULL;	/* not started yet: not the DPC's */
	cancel = req && req->cancel;
	spin_unlock_bh(&kdev->io.lock);

	if (stopped) {
		/* No DMA can happen any more: fail without the device. */
		if (req) {
			res = err;
			end = true;
		}
		goto ended;
	}

	/* Also with no request: what is left for none is stale. */
	kesync_sync_exec(kdev, &kesync_scs_collect, &c);
	if (!req)
		goto ended;
	trace_kesync_dpc(req, c.completed, c.reset_hit, cancel);
	/*
	 * A completion is handled even during a reset (a next transfer is
	 * then refused and marked reset_hit).  Anything else waits for the
	 * reset to end: the reset worker kicks the DPC of every unit whose
	 * transfer it ended, and only then may their buffers be released.
	 */
	if (c.completed)
		end = kesync_dpc_completion(u, req, &c, &res);
	else if (c.reset_hit)
		end = kesync_dpc_reset_hit(u, req, &c, &res);
	else if (cancel && !c.resetting)
		end = kesync_dpc_abort(u, req, &c, &res);

ended:
	if (end) {
		/* Before IoFreeController maps the next one; no sleeping. */
		kesync_adapter_unmap(kdev, req);
		spin_lock_bh(&kdev->io.lock);
		kesync_retire_locked(u, req);
		spin_unlock_bh(&kdev->io.lock);
	}
	spin_unlock_bh(&u->xfer_lock);

	if (waiting)
		kesync_complete_request(waiting, err);
	if (end) {
		kesync_free_controller(kdev);
		kesync_start_next(u);
		kesync_complete_request(req, res);
	} else if (waiting) {
		kesync_start_next(u);
	}
	if (stopped)
		kesync_fail_queue(u, err);
}

/* ---- IoTimer and controller reset ---------------------------------------- */

/**
 * kesync_io_timer - IoTimer
 * @t: the unit's io_timer
 *
 * Runs once a second.  Returns if the timer counter is -1 (the NT design
 * reads it without synchronisation, and so does this: READ_ONCE, paired
 * with the WRITE_ONCE of its writers); otherwise counts it down through
 * SynchCritSection_1, which recovers a lost interrupt or, at zero,
 * programs a reset through SynchCritSection_2.  With the counter set to
 * timeout + 1 when the transfer is programmed, a timeout is detected
 * between T and T + 1 s after it.  When SynchCritSection_1 found the
 * device gone (or reading all ones while there), the reset worker fails
 * everything with -ENODEV (or sees the reset through) at once.
 *
 * Context: softirq (timer); takes isr.lock through kesync_sync_exec().
 */
void kesync_io_timer(struct timer_list *t)
{
	struct kesync_unit *u = timer_container_of(u, t, io_timer);
	struct kesync_dev *kdev = u->kdev;
	struct kesync_tick_ctx tick = { .unit = u };
	unsigned long next;

	if (READ_ONCE(u->isr.timer_count) != -1 &&
	    kesync_sync_exec(kdev, &kesync_scs_timer_tick, &tick)) {
		if (tick.result == KESYNC_TICK_LOST_IRQ) {
			kesync_stat_inc(u, KESYNC_STAT_LOST_IRQS);
			trace_kesync_timeout(u, true);
			kesync_dpc_queue(&u->dpc);
		} else if (tick.result == KESYNC_TICK_TIMEOUT) {
			kesync_stat_inc(u, KESYNC_STAT_TIMEOUTS);
			kesync_stat_inc(u, KESYNC_STAT_RESETS);
			trace_kesync_timeout(u, false);
			dev_warn_ratelimited(&u->dev,
					     "transfer timed out (%u s): resetting the controller\n",
					     READ_ONCE(u->timeout));
		}
		/*
		 * Once for both: a timeout that also read MAGIC all ones
		 * would otherwise queue the worker again after it started,
		 * and it would run twice for one reset.
		 */
		if (tick.result == KESYNC_TICK_TIMEOUT ||
		    tick.ones != KESYNC_ONES_NOTHING)
			queue_work(kdev->wq, &kdev->reset_work);
	}

	/*
	 * Exactly 1 s apart on average; never faster if it fell behind.
	 * Once remove() has shut the timer down, this does nothing.
	 */
	next = t->expires + HZ;
	if (time_before_eq(next, jiffies))
		next = jiffies + HZ;
	mod_timer(t, next);
}

/*
 * Wait until the device says its reset is over.  The RESET_DONE interrupt
 * wakes us; polling STATUS every 10 ms covers a lost one.
 *
 * Return: 0, -ETIMEDOUT after @ms, or -ENODEV when the device is gone.
 */
static int kesync_wait_reset(struct kesync_dev *kdev, unsigned int ms)
{
	unsigned long deadline = jiffies + msecs_to_jiffies(ms);
	int irqs;
	u32 st;

	for (;;) {
		irqs = atomic_read(&kdev->reset_irqs);
		st = kesync_rd(kdev, KESYNC_REG_STATUS);
		if (st == ~0u && kesync_hw_gone(kdev))
			return -ENODEV;
		if (!(st & KESYNC_STATUS_RESETTING))
			return 0;
		if (time_after_eq(jiffies, deadline))
			return -ETIMEDOUT;
		wait_event_timeout(kdev->reset_wq,
				   atomic_read(&kdev->reset_irqs) != irqs,
				   msecs_to_jiffies(10));
	}
}

/**
 * kesync_mark_dead - the controller will not come back
 * @kdev: the controller
 * @err: -ENODEV (the device is gone) or -EIO (it does not work)
 *
 * Stops it for good and fails its I/O with @err.  Clearing bus mastering
 * guarantees no more DMA, so the mappings of the requests still in flight
 * can be released.  Also used by kesync-pci.c when a reset of the function
 * or an error recovery does not bring the device back.
 *
 * Context: process or workqueue.
 */
void kesync_mark_dead(struct kesync_dev *kdev, int err)
{
	unsigned int i;

	if (err == -ENODEV) {
		dev_err(&kdev->pdev->dev, "device gone: failing its I/O\n");
	} else {
		dev_err(&kdev->pdev->dev,
			"controller reset did not finish after %u attempts: controller is dead\n",
			KESYNC_RESET_ATTEMPTS);
		kesync_wr(kdev, KESYNC_REG_INTR_ENABLE, 0);
	}
	pci_clear_master(kdev->pdev);

	spin_lock_bh(&kdev->io.lock);
	if (!kdev->io.err)
		kdev->io.err = err;
	kdev->io.stopped = true;
	spin_unlock_bh(&kdev->io.lock);

	for (i = 0; i < kdev->nunits; i++)
		kesync_dpc_queue(&kdev->units[i]->dpc);
	wake_up(&kdev->thread_wq);
}

/**
 * kesync_reset_work - the controller's DPC for a reset
 * @work: kdev->reset_work
 *
 * Queued after SynchCritSection_2 programmed a reset.  Waits (bounded) for
 * the device to finish it; a reset that does not finish is programmed
 * again, and after KESYNC_RESET_ATTEMPTS the controller is declared dead.
 * Then kesync_scs_reset_finish() ends the reset under the interrupt lock,
 * where no new reset can slip in unseen, and the DpcForIsr of each unit
 * whose transfer the reset ended is kicked: a timed-out request completes
 * with -ETIMEDOUT, the others are retried.
 *
 * Also queued when a register read all ones (kesync_all_ones()).  Once
 * the device is confirmed gone it fails every request with -ENODEV at
 * once.  A reset for a bad read of a device that is there runs with bus
 * mastering off (the device cannot be trusted to have stopped its DMA)
 * and turns it on again once the reset is seen through, before the units
 * go on; a dead controller keeps it off (kesync_mark_dead()).
 *
 * Context: workqueue; sleeps.
 */
static void kesync_reset_work(struct work_struct *work)
{
	struct kesync_dev *kdev = container_of(work, struct kesync_dev,
					       reset_work);
	struct kesync_reset_fin_ctx fin;
	unsigned int attempt = 1, i, ms;
	int err;

	for (;;) {
		if (READ_ONCE(kdev->isr.gone)) {
			kesync_mark_dead(kdev, -ENODEV);
			return;
		}
		/*
		 * The function is being reset, powered down or recovered
		 * (kesync_quiesce()): the device's answers mean nothing now,
		 * and kesync_scs_online() ends this reset and restarts the
		 * units once the function is back.  Looked at on every pass:
		 * the controller can go offline while this waits.
		 */
		if (READ_ONCE(kdev->isr.offline))
			return;
		if (READ_ONCE(kdev->isr.bad_read))
			pci_clear_master(kdev->pdev);
		ms = READ_ONCE(kesync_reset_timeout_ms);
		err = kesync_wait_reset(kdev, ms);
		trace_kesync_reset(kdev, attempt, err);
		if (READ_ONCE(kdev->isr.offline))
			return;
		if (!err) {
			kesync_sync_exec(kdev, &kesync_scs_reset_finish, &fin);
			if (!fin.again)
				break;
			attempt = 1;	/* a new reset began: wait for it */
			continue;
		}
		if (err == -ENODEV || attempt >= KESYNC_RESET_ATTEMPTS) {
			kesync_mark_dead(kdev, err == -ENODEV ? -ENODEV : -EIO);
			return;
		}
		dev_warn(&kdev->pdev->dev,
			 "controller reset not done after %u ms, retrying\n", ms);
		attempt++;
		kesync_sync_exec(kdev, &kesync_scs_reset, NULL);
	}
	if (fin.set_master)
		pci_set_master(kdev->pdev);
	for_each_set_bit(i, &fin.kick, kdev->nunits)
		kesync_dpc_queue(&kdev->units[i]->dpc);
}

/* ---- Dispatch ------------------------------------------------------------ */

/*
 * kesync_cancel_locked - the Cancel routine, under io.lock
 *
 * A queued request, or one waiting for the controller, is taken off its
 * queue here and the canceller ends it.  A request someone else owns
 * (STARTING, ACTIVE) is only flagged; its owner sees the flag under this
 * lock before it programs the device, or the DpcForIsr kicked here aborts
 * the transfer.  So a request is ended exactly once, by whoever moves it to
 * DONE under this lock.
 */
/* enum kesync_cancel_act and the transitions are in kesync-state.h. */
static enum kesync_cancel_act kesync_cancel_locked(struct kesync_req *req)
	__must_hold(&req->unit->kdev->io.lock)
{
	struct kesync_dev *kdev = req->unit->kdev;
	bool was_done = req->state == KESYNC_REQ_DONE;
	enum kesync_cancel_act act;

	lockdep_assert_held(&kdev->io.lock);
	/* Once removed, remove() fails an ACTIVE one (the wq may be gone). */
	act = kesync_cancel_transition_locked(req, kdev->io.removed);
	if (!was_done)
		trace_kesync_cancelled(req, req->state == KESYNC_REQ_DONE ?
					    -EINTR : 0);
	return act;
}

/**
 * kesync_cancel - cancel the caller's own request (a signal)
 * @req: the request
 *
 * A queued one is ended here; one on the device is aborted by its
 * DpcForIsr (kicked here).  The caller then waits for it
 * (kesync_wait_cancelled()).
 *
 * Context: process (the request's caller); takes remove_rwsem (read) and
 * io.lock.
 */
static void kesync_cancel(struct kesync_req *req)
{
	struct kesync_unit *u = req->unit;
	struct kesync_dev *kdev = u->kdev;
	enum kesync_cancel_act act;

	down_read(&kdev->remove_rwsem);
	spin_lock_bh(&kdev->io.lock);
	act = kesync_cancel_locked(req);
	spin_unlock_bh(&kdev->io.lock);

	switch (act) {
	case KESYNC_CANCEL_END:
		kesync_complete_request(req, -EINTR);
		break;
	case KESYNC_CANCEL_END_NEXT:
		kesync_complete_request(req, -EINTR);
		kesync_start_next(u);
		break;
	case KESYNC_CANCEL_KICK:
		kesync_dpc_queue(&u->dpc);
		break;
	case KESYNC_CANCEL_NONE:
		break;
	}
	up_read(&kdev->remove_rwsem);
}

/**
 * kesync_cancel_file - cancel a process's requests in flight on a file
 * @u: the unit
 * @file: the file
 * @owner: the process's files_struct
 *
 * The last close of @file in a process (->flush()) and KESYNC_IOC_CANCEL:
 * only requests issued through @file by the same files_struct (any thread
 * of the process) are cancelled, not those of a forked child sharing the
 * file.
 *
 * Context: process; sleeps.
 */
void kesync_cancel_file(struct kesync_unit *u, struct file *file,
			fl_owner_t owner)
{
	struct kesync_dev *kdev = u->kdev;
	struct kesync_req *req, *tmp;
	bool kick = false, next = false;
	LIST_HEAD(ended);

	down_read(&kdev->remove_rwsem);
	spin_lock_bh(&kdev->io.lock);
	list_for_each_entry(req, &u->reqs, unode) {
		if (req->file != file || req->owner != owner || req->cancel)
			continue;
		/* Not if it ended already (a signal stopped it first). */
		if (req->state != KESYNC_REQ_DONE)
			req->cancel_file = true;
		switch (kesync_cancel_locked(req)) {
		case KESYNC_CANCEL_END_NEXT:
			next = true;
			fallthrough;
		case KESYNC_CANCEL_END:
			list_add_tail(&req->node, &ended);
			break;
		case KESYNC_CANCEL_KICK:
			kick = true;
			break;
		case KESYNC_CANCEL_NONE:
			break;
		}
	}
	spin_unlock_bh(&kdev->io.lock);

	/* Only ended requests are touched: the others may complete any time. */
	list_for_each_entry_safe(req, tmp, &ended, node) {
		list_del_init(&req->node);
		kesync_complete_request(req, -EINTR);
	}
	if (next)
		kesync_start_next(u);
	if (kick)
		kesync_dpc_queue(&u->dpc);
	up_read(&kdev->remove_rwsem);
}

/*
 * A signal that concerns the call (kesync_signal_ends_io()) asks the
 * request to stop at the end of its running transfer, with the bytes moved
 * so far: no transfer is thrown away, so a
 * caller whose signals come faster than one request takes (a profiling
 * timer) still makes progress.  If none ends within this grace, the
 * request is cancelled outright (a hung or queued one).
 */
#define KESYNC_STOP_GRACE	(HZ / 5)
/* How often a waiter looks again while a stop or trap is pending. */
#define KESYNC_SIGNAL_POLL	(HZ / 10)

/**
 * kesync_signal_ends_io - does a pending signal end the caller's request?
 *
 * Every signal get_signal() acts on ends it: one with a handler, one whose
 * default action kills (also those not turned into SIGKILL when sent, such
 * as a core-dumping SIGQUIT), and any signal to a ptraced task, which its
 * tracer must see.  The kernel delivers it once the call returns
 * (-ERESTARTSYS).  What is left must not disturb the I/O: a stop signal
 * with its default action (job control; the SIGSTOP of a ptrace attach), a
 * ptrace trap or the freezer's fake signal, neither of which queues a
 * signal, and, for a task not ptraced, a signal get_signal() would throw
 * away (SIG_IGN, or a default action of ignore, such as SIGCHLD's).
 *
 * Context: process; takes the caller's own siglock (its sighand is only
 * replaced by its own exec, so no RCU walk is needed).
 * Return: true when the request should end.
 */
static bool kesync_signal_ends_io(void)
{
	struct sighand_struct *sh;
	void __user *handler;
	sigset_t set;
	int sig;

	if (fatal_signal_pending(current))
		return true;
	sh = rcu_dereference_protected(current->sighand, true);
	spin_lock_irq(&sh->siglock);
	sigorsets(&set, &current->pending.signal,
		  &current->signal->shared_pending.signal);
	sigandnsets(&set, &set, &current->blocked);
	for (sig = 1; sig <= _NSIG; sig++) {
		if (!sigismember(&set, sig))
			continue;
		handler = sh->action[sig - 1].sa.sa_handler;
		/* What get_signal() would drop without a word. */
		if (handler == SIG_DFL && sig_kernel_stop(sig))
			sigdelset(&set, sig);
		else if (!current->ptrace &&
			 (handler == SIG_IGN ||
			  (handler == SIG_DFL && sig_kernel_ignore(sig))))
			sigdelset(&set, sig);
	}
	spin_unlock_irq(&sh->siglock);
	return !sigisemptyset(&set);
}

/**
 * kesync_stop - ask the caller's request to end after its running transfer
 * @req: the request
 *
 * The DpcForIsr ends it there with the bytes moved so far (see
 * KESYNC_STOP_GRACE); a request not on the device is left as it is.
 *
 * Context: process (the request's caller); takes io.lock.
 */
static void kesync_stop(struct kesync_req *req)
{
	struct kesync_dev *kdev = req->unit->kdev;

	spin_lock_bh(&kdev->io.lock);
	req->stop = true;
	spin_unlock_bh(&kdev->io.lock);
}

/*
 * How long the caller of a cancelled request waits for it while the
 * controller is quiesced before leaving it behind: well below the
 * hung-task limit (120 s by default), well above a reset of the function.
 */
#define KESYNC_CANCEL_WAIT	(5 * HZ)

/**
 * kesync_wait_cancelled - wait for the caller's cancelled request to end
 * @req: the request, cancelled (kesync_cancel())
 * @res: set when @req is left behind: a write's partial count, else -EINTR
 *
 * The DpcForIsr aborts its transfer at once; or after the controller reset
 * in progress (at most KESYNC_RESET_ATTEMPTS * reset_timeout_ms, 3 s by
 * default; then the controller is dead and its I/O fails); or, while the
 * controller is quiesced (a reset of the function, a sleep, a PCI error
 * recovery: kesync-pci.c), once it is back, however long that takes.
 * Uninterruptible, since the buffer stays mapped until then, but woken
 * every second, and bounded: KESYNC_CANCEL_WAIT after the cancel, once
 * the controller is quiesced, the caller leaves the request behind
 * (@req->orphan).  The
 * device stopped its transfer when the controller went offline and does
 * no DMA for it any more; whoever ends it later releases the buffer, frees
 * it and gives its slot back (kesync_complete_request()).
 *
 * Context: process; sleeps; takes io.lock.
 * Return: true when @req ended (@req->result is valid); false when it was
 * left behind: the caller must not touch it again.
 */
static bool kesync_wait_cancelled(struct kesync_req *req, ssize_t *res)
{
	struct kesync_dev *kdev = req->unit->kdev;
	unsigned long give_up = jiffies + KESYNC_CANCEL_WAIT;
	bool orphan = false;
	unsigned int s = 0;

	while (!wait_for_completion_timeout(&req->done_cmp, HZ)) {
		if (++s == 10)
			dev_err(&req->unit->dev,
				"cancelled request %llu not ended after 10 s\n",
				req->id);
		if (time_before(jiffies, give_up) ||
		    !READ_ONCE(kdev->isr.offline))
			continue;
		/* Its completer takes it off unode under the same lock. */
		spin_lock_bh(&kdev->io.lock);
		orphan = !list_empty(&req->unode);
		req->orphan = orphan;
		/*
		 * A write's partial count stands: the medium changed.  A
		 * read's bytes may not have reached the caller's memory
		 * (swiotlb copies at the unmap, which skips an orphan).
		 */
		if (orphan)
			*res = req->write && req->done ?
			       (ssize_t)req->done : -EINTR;
		spin_unlock_bh(&kdev->io.lock);
		if (orphan)
			return false;
		/* Being completed: complete() follows at once. */
		wait_for_completion(&req->done_cmp);
		break;
	}
	return true;
}

/**
 * kesync_wait - the dispatch routine's wait, with the kernel's signal rules
 * @req: the queued request
 * @res: the call's result
 *
 * Interruptible.  A signal that concerns the call (kesync_signal_ends_io():
 * a handled, a fatal one, any to a ptraced task) asks the request to stop
 * after its running transfer (kesync_stop()); if it has not within
 * KESYNC_STOP_GRACE, or at once on SIGKILL, it is cancelled.  With nothing
 * moved, the call then returns -ERESTARTSYS, and the kernel delivers the
 * signal: it kills, runs the handler and fails the call with EINTR, or
 * restarts it (SA_RESTART).  A stop (SIGSTOP, SIGTSTP), a ptrace trap and
 * the freezer do not touch the request: the task freezes here if asked,
 * and otherwise waits on, looking again every KESYNC_SIGNAL_POLL for a
 * signal that matters (the pending stop keeps it from sleeping
 * interruptibly).
 *
 * Context: process; sleeps.
 * Return: true when @req ended; false when it was left behind
 * (kesync_wait_cancelled()): the caller must not touch it again.
 */
static bool kesync_wait(struct kesync_req *req, ssize_t *res)
{
	bool signalled = false;
	long left;

	for (;;) {
		if (!wait_for_completion_interruptible(&req->done_cmp))
			goto ended;
		if (kesync_signal_ends_io())
			break;
		try_to_freeze();
		left = wait_for_completion_killable_timeout(&req->done_cmp,
							    KESYNC_SIGNAL_POLL);
		if (left > 0)
			goto ended;
		if (left < 0)
			break;
	}
	signalled = true;
	kesync_stop(req);
	/* (A wait that succeeds consumes the completion.) */
	left = wait_for_completion_killable_timeout(&req->done_cmp,
						    KESYNC_STOP_GRACE);
	if (left <= 0) {
		kesync_cancel(req);
		if (!kesync_wait_cancelled(req, res))
			return false;
	}
ended:
	*res = req->result;
	/*
	 * Stopped by a signal with nothing moved: -ERESTARTSYS, only while a
	 * signal is pending (another thread may have taken it), so that 512
	 * never reaches user space; and not when KESYNC_IOC_CANCEL or a close
	 * cancelled it meanwhile: that cancel's result is -EINTR, not a
	 * restart.
	 */
	if (*res == -EINTR && signalled && !req->cancel_file &&
	    signal_pending(current))
		*res = -ERESTARTSYS;
	return true;
}

/*
 * Take one of the unit's slots for a request in flight, if one is free.
 * Context: process; takes io.lock.
 */
static bool kesync_inflight_try(struct kesync_unit *u)
{
	bool ok;

	spin_lock_bh(&u->kdev->io.lock);
	ok = u->inflight < KESYNC_INFLIGHT_CAP;
	if (ok)
		u->inflight++;
	spin_unlock_bh(&u->kdev->io.lock);
	return ok;
}

/*
 * Wait for a slot (or -EAGAIN with O_NONBLOCK).  A signal ends the wait
 * with -ERESTARTSYS: nothing was pinned or moved yet.
 * Context: process; sleeps; takes io.lock.
 */
static int kesync_inflight_get(struct kesync_unit *u, bool nonblock)
{
	if (kesync_inflight_try(u))
		return 0;
	if (nonblock)
		return -EAGAIN;
	return wait_event_interruptible(u->inflight_wq, kesync_inflight_try(u));
}

/*
 * Give a slot back: at the end of kesync_do_io(), or when a request its
 * caller left behind is released (kesync_release_orphan()).
 * Context: process, kthread or workqueue; takes io.lock.
 */
static void kesync_inflight_put(struct kesync_unit *u)
{
	spin_lock_bh(&u->kdev->io.lock);
	u->inflight--;
	spin_unlock_bh(&u->kdev->io.lock);
	wake_up(&u->inflight_wq);
}

/**
 * kesync_inflight_full - are all of the unit's slots taken?
 * @u: the unit
 *
 * For poll(): a read or write would block (or fail with -EAGAIN).
 * Context: any but hardirq.
 * Return: true when KESYNC_INFLIGHT_CAP requests are in flight.
 */
bool kesync_inflight_full(struct kesync_unit *u)
{
	bool full;

	spin_lock_bh(&u->kdev->io.lock);
	full = u->inflight >= KESYNC_INFLIGHT_CAP;
	spin_unlock_bh(&u->kdev->io.lock);
	return full;
}

/**
 * kesync_do_io - the read and write dispatch routines
 * @u: the unit
 * @file: the file the request comes through
 * @uaddr: the caller's buffer
 * @len: bytes, already clamped to the medium and KESYNC_MAX_REQ_BYTES
 * @pos: medium offset
 * @write: host to medium
 *
 * Takes one of the unit's KESYNC_INFLIGHT_CAP slots (waits for one, or
 * -EAGAIN with O_NONBLOCK), pins the buffer and builds its table (outside
 * remove_rwsem; ControllerControl maps it), queues the request and waits for it (kesync_wait(): the
 * signal rules), then unpins the buffer and frees the table
 * (kesync_adapter_release()): the DpcForIsr that completed it runs in
 * softirq context and leaves that to the caller's context.  A request
 * ended early returns the bytes already moved;
 * with none, -ERESTARTSYS after a signal (the kernel delivers it, and turns
 * the result into -EINTR, or restarts the call under SA_RESTART; only while
 * a signal is pending, so 512 never reaches user space), else -EINTR
 * (KESYNC_IOC_CANCEL, a close, a request left behind while the controller
 * is quiesced).
 *
 * The slot is taken before the pages are pinned, on purpose: the cap
 * exists to bound the memory a unit's callers can pin.  Pinning
 * first would let any number of callers pin up to KESYNC_MAX_REQ_BYTES
 * each while they wait for a slot.  So a caller whose buffer faults slowly
 * (a held userfaultfd or FUSE page) holds its slot meanwhile, as a request
 * queued behind a hung transfer does; sixteen of either make the unit
 * refuse others (-EAGAIN, or wait) until they end, which is the cap doing
 * its job, not a lock held while waiting for user space.
 *
 * Context: process; sleeps.
 * Return: bytes transferred or a negative errno.
 */
ssize_t kesync_do_io(struct kesync_unit *u, struct file *file,
		     unsigned long uaddr, size_t len, loff_t pos, bool write)
{
	struct kesync_dev *kdev = u->kdev;
	struct kesync_req *req;
	ssize_t ret;

	ret = kesync_inflight_get(u, file->f_flags & O_NONBLOCK);
	if (ret)
		return ret;
	req = kzalloc(sizeof(*req), GFP_KERNEL);
	if (!req) {
		ret = -ENOMEM;
		goto put_slot;
	}
	INIT_LIST_HEAD(&req->node);
	INIT_LIST_HEAD(&req->unode);
	init_completion(&req->done_cmp);
	req->unit = u;
	req->file = file;
	req->owner = current->files;
	req->write = write;
	req->pos = pos;
	req->len = len;

	/*
	 * Pinning may wait on user space for ever (a userfaultfd or FUSE
	 * page): no lock.  The table is built here, where sleeping is fine;
	 * the mapping is made when the request gets the controller
	 * (kesync_adapter_map()).  Only the queueing, which may start the
	 * device, is under remove_rwsem, and it waits for nothing.
	 */
	ret = kesync_adapter_pin(req, uaddr);
	if (ret)
		goto free_req;
	ret = kesync_adapter_table(kdev, req);
	if (!ret) {
		down_read(&kdev->remove_rwsem);
		ret = kesync_queue_request(u, req);
		up_read(&kdev->remove_rwsem);
	}
	if (ret) {
		kesync_adapter_release(kdev, req);
		goto free_req;
	}

	if (!kesync_wait(req, &ret))
		return ret;	/* left behind: its slot goes with it */
	kesync_adapter_release(kdev, req);	/* unmapped at completion */
free_req:
	kfree(req);
put_slot:
	kesync_inflight_put(u);
	return ret;
}

/* ---- Ioctl back ends ----------------------------------------------------- */

/**
 * kesync_user_reset - KESYNC_IOC_RESET: reset the controller and wait
 * @u: the unit asking
 *
 * Transfers the reset interrupts are retried, not failed.
 *
 * Context: process; sleeps (bounded by the reset attempts).
 * Return: 0, -ENODEV once removed, -EIO when the controller is dead.
 */
int kesync_user_reset(struct kesync_unit *u)
{
	struct kesync_dev *kdev = u->kdev;
	int ret;

	down_read(&kdev->remove_rwsem);
	ret = kesync_io_error(kdev);
	if (!ret) {
		kesync_stat_inc(u, KESYNC_STAT_RESETS);
		kesync_sync_exec(kdev, &kesync_scs_reset, NULL);
		queue_work(kdev->wq, &kdev->reset_work);
		flush_work(&kdev->reset_work);
		ret = kesync_io_error(kdev);
	}
	up_read(&kdev->remove_rwsem);
	return ret;
}

/**
 * kesync_hw_enter - may an ioctl touch the device's registers?
 * @kdev: the controller
 *
 * Not while the controller is quiesced (kesync-pci.c: its function is
 * being reset, is in D3hot, or recovers from a PCI error): its registers
 * are then being reset, or not there at all.  A quiesce in progress is
 * waited for (bounded by a reset attempt, reset_timeout_ms).  On success
 * the caller touches the registers and then calls kesync_hw_exit(); no
 * quiesce begins meanwhile.
 *
 * Context: process; sleeps; the caller holds remove_rwsem (read); takes
 * pm.lock (before isr.lock, as kesync_quiesce() does).
 * Return: 0 with pm.lock held; -EBUSY while quiesced, or -EINTR on a
 * fatal signal.
 */
static int kesync_hw_enter(struct kesync_dev *kdev)
{
	if (mutex_lock_killable(&kdev->pm.lock))
		return -EINTR;
	if (kdev->pm.quiesced) {
		mutex_unlock(&kdev->pm.lock);
		return -EBUSY;
	}
	return 0;
}

/* The end of kesync_hw_enter()'s section.  Context: process. */
static void kesync_hw_exit(struct kesync_dev *kdev)
{
	mutex_unlock(&kdev->pm.lock);
}

/**
 * kesync_user_fault - KESYNC_IOC_FAULT: arm a fault through the control
 * SynchCritSection
 * @u: the unit
 * @f: the validated request
 *
 * Context: process; sleeps (kesync_hw_enter()).
 * Return: 0, the controller's error, or -EBUSY while it is quiesced.
 */
int kesync_user_fault(struct kesync_unit *u, const struct kesync_fault *f)
{
	struct kesync_ctl_ctx c = { .unit = u, .fault = f };
	struct kesync_dev *kdev = u->kdev;
	int ret;

	down_read(&kdev->remove_rwsem);
	ret = kesync_io_error(kdev);
	if (!ret)
		ret = kesync_hw_enter(kdev);
	if (!ret) {
		kesync_sync_exec(kdev, &kesync_scs_program_control, &c);
		kesync_hw_exit(kdev);
	}
	up_read(&kdev->remove_rwsem);
	return ret;
}

/**
 * kesync_hw_stats - KESYNC_IOC_HW_STATS: read the device's counters
 * @u: the unit
 * @hs: filled in; reserved fields are left as the caller zeroed them
 *
 * Context: process; sleeps (kesync_hw_enter()).
 * Return: 0, -ENODEV once removed, or -EBUSY while the controller is
 * quiesced.
 */
int kesync_hw_stats(struct kesync_unit *u, struct kesync_hw_stats *hs)
{
	struct kesync_dev *kdev = u->kdev;
	int ret = -ENODEV;

	down_read(&kdev->remove_rwsem);
	if (!kdev->io.removed)
		ret = kesync_hw_enter(kdev);
	if (!ret) {
		hs->mmio_reads = kesync_rd(kdev, KESYNC_REG_STAT_MMIO_READS);
		hs->mmio_writes = kesync_rd(kdev, KESYNC_REG_STAT_MMIO_WRITES);
		hs->ctrl_busy = kesync_rd(kdev, KESYNC_REG_STAT_CTRL_BUSY);
		hs->late_dma = kesync_rd(kdev, KESYNC_REG_STAT_LATE_DMA);
		hs->xfers = kesync_rd(kdev, KESYNC_REG_STAT_XFERS);
		hs->resets = kesync_rd(kdev, KESYNC_REG_STAT_RESETS);
		hs->irqs = kesync_rd(kdev, KESYNC_REG_STAT_IRQS);
		hs->dma_errors = kesync_rd(kdev, KESYNC_REG_STAT_DMA_ERRORS);
		kesync_hw_exit(kdev);
	}
	up_read(&kdev->remove_rwsem);
	return ret;
}

/* ---- Set-up and teardown ------------------------------------------------- */

/**
 * kesync_io_init - initialise the controller's I/O state
 * @kdev: the controller
 *
 * Context: probe.
 * Return: 0 or -ENOMEM.
 */
int kesync_io_init(struct kesync_dev *kdev)
{
	spin_lock_init(&kdev->io.lock);
	INIT_LIST_HEAD(&kdev->io.tq);
	INIT_LIST_HEAD(&kdev->io.ctrl_waiters);
	INIT_LIST_HEAD(&kdev->io.orphans);
	spin_lock_init(&kdev->isr.lock);
	INIT_WORK(&kdev->reset_work, kesync_reset_work);
	INIT_WORK(&kdev->cleanup_work, kesync_cleanup_work);
	init_waitqueue_head(&kdev->reset_wq);
	init_waitqueue_head(&kdev->thread_wq);
	init_waitqueue_head(&kdev->maps_wq);
	init_rwsem(&kdev->remove_rwsem);
	/*
	 * The reset and cleanup work items, which sleep.  The DpcForIsr is
	 * not here: it runs in softirq context (kesync_dpc_queue()).
	 */
	kdev->wq = alloc_workqueue("%s", WQ_HIGHPRI | WQ_PERCPU, 0, kdev->name);
	return kdev->wq ? 0 : -ENOMEM;
}

/**
 * kesync_unit_io_init - initialise a unit's I/O state
 * @u: the unit
 *
 * Context: probe.
 */
void kesync_unit_io_init(struct kesync_unit *u)
{
	INIT_LIST_HEAD(&u->queue);
	INIT_LIST_HEAD(&u->reqs);
	INIT_LIST_HEAD(&u->ctrl_node);
	init_waitqueue_head(&u->inflight_wq);
	spin_lock_init(&u->xfer_lock);
	kesync_dpc_init(&u->dpc, kesync_dpc_for_isr);	/* IoInitializeDpcRequest */
	timer_setup(&u->io_timer, kesync_io_timer, 0);
	u->isr.timer_count = -1;
}

/**
 * kesync_io_start - start the pump thread and the IoTimers
 * @kdev: the controller, interrupts enabled
 *
 * Context: probe.
 * Return: 0 or the error of kthread_run().
 */
int kesync_io_start(struct kesync_dev *kdev)
{
	unsigned int i;

	if (kdev->pump == KESYNC_PUMP_THREAD) {
		kdev->thread = kthread_run(kesync_pump_thread, kdev, "%s-pump",
					   kdev->name);
		if (IS_ERR(kdev->thread)) {
			int err = PTR_ERR(kdev->thread);

			kdev->thread = NULL;
			return err;
		}
	}
	for (i = 0; i < kdev->nunits; i++)	/* IoStartTimer */
		mod_timer(&kdev->units[i]->io_timer, jiffies + HZ);
	return 0;
}

/**
 * kesync_io_begin_remove - first step of remove(): no new I/O, no timers
 * @kdev: the controller
 *
 * After this, new and queued requests fail with -ENODEV, no user-space
 * entry point touches the hardware, and the IoTimers, the pump thread and
 * the reset worker are stopped.  Requests in flight keep their buffers
 * until kesync_io_fail_all(), after the device is stopped.
 *
 * Context: process (remove, probe failure); sleeps.
 */
void kesync_io_begin_remove(struct kesync_dev *kdev)
{
	unsigned int i;

	down_write(&kdev->remove_rwsem);
	spin_lock_bh(&kdev->io.lock);
	kdev->io.removed = true;
	kdev->io.err = -ENODEV;
	spin_unlock_bh(&kdev->io.lock);
	up_write(&kdev->remove_rwsem);

	for (i = 0; i < kdev->nunits; i++)
		timer_shutdown_sync(&kdev->units[i]->io_timer);
	if (kdev->thread) {
		kthread_stop(kdev->thread);
		kdev->thread = NULL;
	}
	cancel_work_sync(&kdev->reset_work);
}

/**
 * kesync_io_fail_all - fail every request left, once the device is stopped
 * @kdev: the controller; its device can no longer do DMA and its
 *	interrupts are freed
 *
 * Context: process (remove); sleeps.
 */
void kesync_io_fail_all(struct kesync_dev *kdev)
{
	struct kesync_req *req, *tmp;
	unsigned int i;
	LIST_HEAD(failed);

	spin_lock_bh(&kdev->io.lock);
	kdev->io.stopped = true;
	list_for_each_entry_safe(req, tmp, &kdev->io.tq, node) {
		list_move_tail(&req->node, &failed);
		kesync_retire_locked(req->unit, req);
	}
	spin_unlock_bh(&kdev->io.lock);

	list_for_each_entry_safe(req, tmp, &failed, node) {
		list_del_init(&req->node);
		kesync_complete_request(req, -ENODEV);
	}
	/*
	 * Each DpcForIsr fails its unit's current and queued requests.  One
	 * that ran before io.stopped may have queued the reset worker, which
	 * kicks the DPCs when it ends: it is cancelled (or waited for), and
	 * the DPCs flushed again.  Nothing else queues them any more (no
	 * interrupt, no timer; an ACTIVE request's cancel is not kicked once
	 * removed, and a DPC of a stopped controller queues no reset): after
	 * this they never run again, and the units may be freed.
	 */
	for (i = 0; i < kdev->nunits; i++)
		kesync_dpc_queue(&kdev->units[i]->dpc);
	for (i = 0; i < kdev->nunits; i++)
		kesync_dpc_flush(&kdev->units[i]->dpc);
	cancel_work_sync(&kdev->reset_work);
	for (i = 0; i < kdev->nunits; i++)
		kesync_dpc_flush(&kdev->units[i]->dpc);
	/*
	 * No mapping may outlive the binding.  The last ones may be released
	 * by a canceller (signal, close) that retired its request just before
	 * us, or by a ControllerControl that mapped its request just before
	 * io.err was set and now ends it: both are on their way and wait for
	 * nothing.
	 */
	wait_event(kdev->maps_wq, kesync_maps_idle(kdev));
}

/**
 * kesync_io_destroy - release the workqueue
 * @kdev: the controller, all work done
 *
 * destroy_workqueue() runs what is still queued first: the cleanup work
 * item of orphans the last DpcForIsr ended.
 *
 * Context: process (remove, probe failure).
 */
void kesync_io_destroy(struct kesync_dev *kdev)
{
	if (kdev->wq) {
		destroy_workqueue(kdev->wq);
		kdev->wq = NULL;
	}
}

/*
 * kesync-pci: the transfer engine, its DMA and its interrupts
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Reentrancy: the MMIO handler, the bottom half and both timers run under
 * the BQL.  Every DMA of the device's own work (descriptor fetch, data,
 * records, the interrupts of completions and of a reset done) is issued from
 * one bottom half created with qemu_bh_new_guarded(); the two timers only
 * hand their events to it.  So a DMA that targets this device's own BARs is
 * refused by the memory core and reported as KESYNC_ERR_DMA.
 *
 * Unplug: a DMA or an MSI message the device sends can unplug it there and
 * then, e.g. a write to its slot's control register through MMCFG, which
 * belongs to the host bridge and so is outside our reentrancy guard.  The
 * bottom half and the config write hold a reference to the device across
 * their work (an MMIO access is held by the memory core's flat view), and
 * after every DMA or message they stop at once if the device is no longer
 * realized (kesync_gone()): its config space, bus master address space, BH
 * and timers are gone.
 */

#include "qemu/osdep.h"
#include "qemu/log.h"
#include "qemu/main-loop.h"
#include "hw/pci/msi.h"
#include "hw/pci/msix.h"
#include "kesync.h"
#include "trace.h"

/* ---- Interrupts ---------------------------------------------------------- */

void kesync_update_intx(KesyncState *s)
{
    PCIDevice *pdev = PCI_DEVICE(s);
    bool level = !s->removed && !msix_enabled(pdev) && !msi_enabled(pdev) &&
                 (s->intr_status & s->intr_enable);

    if (level && !s->intx_level) {
        s->stat_irqs++;
    }
    if (level != s->intx_level) {
        trace_kesync_intx(level);
    }
    s->intx_level = level;
    pci_set_irq(pdev, level);
}

/*
 * Record a new event: set its INTR_STATUS bit and, if enabled, send one
 * MSI-X/MSI message (every event, even if the bit was already set) or
 * assert INTx.
 */
void kesync_signal(KesyncState *s, uint32_t bit, unsigned vector)
{
    PCIDevice *pdev = PCI_DEVICE(s);

    if (s->removed) {
        return;
    }
    s->intr_status |= bit;
    if (s->intr_enable & bit) {
        if (msix_enabled(pdev)) {
            trace_kesync_irq(bit, "msix", vector);
            if (!msix_is_masked(pdev, vector)) {
                s->stat_irqs++;
            }
            msix_notify(pdev, vector);
        } else if (msi_enabled(pdev)) {
            trace_kesync_irq(bit, "msi", 0);
            s->stat_irqs++;
            msi_notify(pdev, 0);
        }
        if (kesync_gone(s)) {
            return;
        }
    }
    kesync_update_intx(s);
}

/* ---- Completion ---------------------------------------------------------- */

static void kesync_write_record(KesyncState *s, unsigned u, KesyncUnit *un)
{
    uint64_t base = ((uint64_t)s->cmpl_hi << 32) | s->cmpl_lo;
    uint64_t addr;
    uint32_t rec[3];
    uint32_t seq;
    MemTxResult res;

    if (!base || !s->conf.cmpl_records) {
        return;
    }
    if (base & (KESYNC_CMPL_ALIGN - 1)) {
        qemu_log_mask(LOG_GUEST_ERROR, "kesync: CMPL_ADDR 0x%" PRIx64
                      " not %u-byte aligned, record not written\n",
                      base, KESYNC_CMPL_ALIGN);
        return;
    }
    addr = base + (uint64_t)u * KESYNC_CMPL_SIZE;
    if (addr < base || addr + KESYNC_CMPL_SIZE < addr) {
        qemu_log_mask(LOG_GUEST_ERROR, "kesync: CMPL_ADDR 0x%" PRIx64
                      " wraps, record not written\n", base);
        return;
    }
    trace_kesync_record(u, addr, un->note_tag, un->note_status,
                        un->note_bytes, un->note_seq);
    rec[0] = cpu_to_le32(un->note_tag);
    rec[1] = cpu_to_le32(un->note_status);
    rec[2] = cpu_to_le32(un->note_bytes);
    res = pci_dma_write(PCI_DEVICE(s), addr, rec, sizeof(rec));
    if (kesync_gone(s)) {
        return;
    }
    if (res == MEMTX_OK) {
        /* seq last: a driver that sees it change sees the rest too. */
        seq = cpu_to_le32(un->note_seq);
        res = pci_dma_write(PCI_DEVICE(s), addr + sizeof(rec), &seq,
                            sizeof(seq));
    }
    if (res != MEMTX_OK) {
        s->stat_dma_errors++;
        trace_kesync_err_record(u, addr, res);
        qemu_log_mask(LOG_GUEST_ERROR, "kesync: unit %u: completion record "
                      "write to 0x%" PRIx64 " failed\n", u, addr);
    }
}

/* Deliver pending completions: record first, then the interrupt. */
static void kesync_flush_notes(KesyncState *s)
{
    unsigned u;

    if (s->removed) {
        return;
    }
    for (u = 0; u < s->conf.units; u++) {
        KesyncUnit *un = &s->unit[u];

        if (!un->note_pending) {
            continue;
        }
        un->note_pending = false;
        kesync_write_record(s, u, un);
        if (kesync_gone(s)) {
            return;
        }
        if (un->note_irq) {
            kesync_signal(s, KESYNC_INTR_UNIT(u), KESYNC_MSIX_VEC_UNIT(u));
            if (kesync_gone(s)) {
                return;
            }
        }
    }
}

/* Queue the record and interrupt of a completion, SEQ already bumped. */
static void kesync_post(KesyncState *s, unsigned u, uint32_t tag,
                        uint32_t status, uint32_t bytes, bool irq)
{
    KesyncUnit *un = &s->unit[u];

    trace_kesync_complete(u, tag, status, bytes, un->seq);
    un->note_pending = true;
    un->note_irq = irq;
    un->note_tag = tag;
    un->note_status = status;
    un->note_bytes = bytes;
    un->note_seq = un->seq;
}

/* Release the controller; no DMA for the transfer after this. */
static void kesync_release(KesyncState *s)
{
    timer_del(&s->xfer_timer);
    s->live_gen = 0;
    s->xfer.phase = KESYNC_PH_IDLE;
}

/* End the controller's transfer: registers, then queue record and irq. */
static void kesync_complete(KesyncState *s, uint32_t state, uint32_t err,
                            uint32_t bytes, bool irq)
{
    unsigned u = s->xfer.unit;
    KesyncUnit *un = &s->unit[u];

    kesync_release(s);
    un->state = state;
    un->err = err;
    un->bytes = bytes;
    un->tag = s->xfer.tag;
    if (s->xfer.fault == KESYNC_FAULT_WRONG_TAG) {
        un->tag++;
    }
    un->seq++;
    un->stat_xfers++;
    un->stat_bytes += bytes;
    s->stat_xfers++;
    kesync_post(s, u, un->tag, kesync_unit_status(un), bytes, irq);
}

/*
 * A START that is refused (controller or unit busy).  It completes like a
 * transfer with tag 0 and 0 bytes; the state field keeps what the unit
 * really does: ERROR for an idle unit, BUSY for the unit's own transfer,
 * which goes on untouched.
 */
static void kesync_refuse(KesyncState *s, unsigned u, uint32_t err)
{
    KesyncUnit *un = &s->unit[u];

    trace_kesync_refuse(u, err);
    qemu_log_mask(LOG_GUEST_ERROR, "kesync: unit %u: START refused (%s)\n",
                  u, err == KESYNC_ERR_CTRL_BUSY ? "controller busy"
                                                 : "unit busy");
    if (un->state != KESYNC_STATE_BUSY) {
        un->state = KESYNC_STATE_ERROR;
    }
    un->err = err;
    un->bytes = 0;
    un->tag = 0;
    un->seq++;
    kesync_post(s, u, 0, kesync_unit_status(un), 0, true);
    qemu_bh_schedule(s->bh);
}

/* ---- Descriptor fetch (bottom half) -------------------------------------- */


/* Copy the descriptor out of guest memory and validate it. */
static uint32_t kesync_load_desc(KesyncState *s, KesyncXfer *x)
{
    PCIDevice *pdev = PCI_DEVICE(s);
    uint8_t hdr[KESYNC_DESC_HDR_SIZE];
    uint8_t segs[KESYNC_MAX_SEGS_LIMIT * KESYNC_SEG_SIZE];
    uint64_t addr = x->desc_addr, rsvd, end, sum = 0;
    uint32_t nsegs, i;
    unsigned u = x->unit;
    MemTxResult res;

    if (addr & (KESYNC_DESC_ALIGN - 1)) {
        trace_kesync_err_desc(u, addr, KESYNC_ERR_BAD_DESC, "unaligned");
        return KESYNC_ERR_BAD_DESC;
    }
    if (addr + KESYNC_DESC_HDR_SIZE < addr) {
        trace_kesync_err_desc(u, addr, KESYNC_ERR_BAD_DESC, "wraps");
        return KESYNC_ERR_BAD_DESC;
    }
    res = pci_dma_read(pdev, addr, hdr, sizeof(hdr));
    if (kesync_gone(s)) {
        return KESYNC_ERR_DMA;
    }
    if (res != MEMTX_OK) {
        s->stat_dma_errors++;
        trace_kesync_err_desc(u, addr, KESYNC_ERR_BAD_DESC, "unreadable");
        return KESYNC_ERR_BAD_DESC;
    }
    x->flags = ldl_le_p(hdr + 0);
    nsegs = ldl_le_p(hdr + 4);
    x->offset = ldq_le_p(hdr + 8);
    x->len = ldl_le_p(hdr + 16);
    x->tag = ldl_le_p(hdr + 20);
    rsvd = ldq_le_p(hdr + 24);
    trace_kesync_fetch(u, addr, x->flags, nsegs, x->offset, x->len, x->tag);

    if (x->flags & ~KESYNC_DESC_FLAGS_VALID) {
        trace_kesync_err_desc(u, addr, KESYNC_ERR_BAD_DESC, "flags");
        return KESYNC_ERR_BAD_DESC;
    }
    if (rsvd) {
        trace_kesync_err_desc(u, addr, KESYNC_ERR_BAD_DESC, "rsvd");
        return KESYNC_ERR_BAD_DESC;
    }
    if (nsegs == 0) {
        trace_kesync_err_desc(u, addr, KESYNC_ERR_BAD_DESC, "no segments");
        return KESYNC_ERR_BAD_DESC;
    }
    if (nsegs > s->conf.max_segs) {
        trace_kesync_err_desc(u, addr, KESYNC_ERR_TOO_LONG, "nsegs");
        return KESYNC_ERR_TOO_LONG;
    }
    if (x->len == 0) {
        trace_kesync_err_desc(u, addr, KESYNC_ERR_BAD_DESC, "len 0");
        return KESYNC_ERR_BAD_DESC;
    }
    if (x->len > s->conf.max_xfer) {
        trace_kesync_err_desc(u, addr, KESYNC_ERR_TOO_LONG, "len");
        return KESYNC_ERR_TOO_LONG;
    }
    if (x->offset > s->conf.unit_size ||
        x->len > s->conf.unit_size - x->offset) {
        trace_kesync_err_desc(u, addr, KESYNC_ERR_BAD_RANGE, "range");
        return KESYNC_ERR_BAD_RANGE;
    }
    end = addr + KESYNC_DESC_HDR_SIZE + (uint64_t)nsegs * KESYNC_SEG_SIZE;
    if (end < addr) {
        trace_kesync_err_desc(u, addr, KESYNC_ERR_BAD_DESC, "wraps");
        return KESYNC_ERR_BAD_DESC;
    }
    res = pci_dma_read(pdev, addr + KESYNC_DESC_HDR_SIZE, segs,
                       nsegs * KESYNC_SEG_SIZE);
    if (kesync_gone(s)) {
        return KESYNC_ERR_DMA;
    }
    if (res != MEMTX_OK) {
        s->stat_dma_errors++;
        trace_kesync_err_desc(u, addr, KESYNC_ERR_BAD_DESC, "segs unreadable");
        return KESYNC_ERR_BAD_DESC;
    }
    for (i = 0; i < nsegs; i++) {
        const uint8_t *p = segs + i * KESYNC_SEG_SIZE;
        uint64_t sa = ldq_le_p(p);
        uint32_t sl = ldl_le_p(p + 8);

        if (!kesync_seg_ok(sa, sl) || ldl_le_p(p + 12) != 0) {
            trace_kesync_err_desc(u, addr, KESYNC_ERR_BAD_DESC, "segment");
            return KESYNC_ERR_BAD_DESC;
        }
        x->seg_addr[i] = sa;
        x->seg_len[i] = sl;
        sum += sl;
    }
    if (sum != x->len) {
        trace_kesync_err_desc(u, addr, KESYNC_ERR_BAD_DESC, "len != sum");
        return KESYNC_ERR_BAD_DESC;
    }
    x->nsegs = nsegs;
    return KESYNC_ERR_NONE;
}

static void kesync_fetch(KesyncState *s)
{
    KesyncXfer *x = &s->xfer;
    KesyncUnit *un = &s->unit[x->unit];
    int64_t now = qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL);
    uint64_t delay;
    uint32_t err;

    err = kesync_load_desc(s, x);
    if (kesync_gone(s)) {
        return;
    }
    if (err != KESYNC_ERR_NONE) {
        qemu_log_mask(LOG_GUEST_ERROR, "kesync: unit %u: descriptor at 0x%"
                      PRIx64 " rejected (error %u)\n", x->unit, x->desc_addr,
                      err);
        kesync_complete(s, KESYNC_STATE_ERROR, err, 0, true);
        return;
    }

    /*
     * Faults apply to transfers whose descriptor is valid.  REFUSE is
     * taken by the START (kesync_start()); armed after it, it waits for
     * the next one.
     */
    x->fault = KESYNC_FAULT_NONE;
    x->fault_arg = 0;
    if (un->fault_count && un->armed_kind != KESYNC_FAULT_REFUSE) {
        un->fault_count--;
        x->fault = un->armed_kind;
        x->fault_arg = un->armed_arg;
    }
    x->misdirect = s->dev_fault & KESYNC_DEV_FAULT_MISDIRECT;
    s->dev_fault &= ~KESYNC_DEV_FAULT_MISDIRECT;

    delay = s->conf.latency_ns + (uint64_t)x->len * s->conf.ns_per_byte;
    if (x->fault == KESYNC_FAULT_LATE) {
        delay += (uint64_t)x->fault_arg * SCALE_US;
    }
    x->due_ns = now + delay;
    trace_kesync_schedule(x->unit, x->gen, x->due_ns,
                          kesync_fault_names[x->fault]);

    if (x->fault == KESYNC_FAULT_HANG) {
        x->phase = KESYNC_PH_HANG;
        return;
    }
    x->phase = KESYNC_PH_RUN;
    s->timer_gen = x->gen;
    if (x->fault == KESYNC_FAULT_SPURIOUS) {
        x->timer_event = KESYNC_TEV_SPURIOUS;
        timer_mod(&s->xfer_timer, now + delay / 2);
    } else {
        x->timer_event = KESYNC_TEV_FINISH;
        timer_mod(&s->xfer_timer, x->due_ns);
    }
}

/* ---- Data DMA (bottom half, at the due time) ----------------------------- */

/* Move @want bytes of transfer @gen; *done is what was moved. */
static uint32_t kesync_data_dma(KesyncState *s, uint64_t gen, uint32_t want,
                                uint32_t *done)
{
    KesyncXfer *x = &s->xfer;
    KesyncUnit *un = &s->unit[x->unit];
    bool to_dev = x->flags & KESYNC_DESC_DIR_TO_DEV;
    uint32_t i;

    *done = 0;
    for (i = 0; i < x->nsegs && *done < want; i++) {
        uint32_t n = MIN(x->seg_len[i], want - *done);
        uint64_t addr = x->seg_addr[i];
        uint64_t off = x->offset + *done;
        MemTxResult res;

        if (gen == 0 || gen != s->live_gen) {
            /* Must never happen: the transfer was aborted or reset. */
            s->stat_late_dma++;
            trace_kesync_err_late_dma(x->unit, gen, s->live_gen);
            return KESYNC_ERR_RESET;
        }
        if (x->misdirect) {
            uint64_t end;

            /* As rule 11: the moved segment's end must not pass 2^64. */
            if (uadd64_overflow(addr, KESYNC_MISDIRECT_OFFSET + n, &end)) {
                s->stat_dma_errors++;
                trace_kesync_err_dma(x->unit, addr, n, MEMTX_DECODE_ERROR);
                qemu_log_mask(LOG_GUEST_ERROR, "kesync: unit %u: misdirected "
                              "DMA at 0x%" PRIx64 " (+%u) wraps\n", x->unit,
                              addr, n);
                return KESYNC_ERR_DMA;
            }
            addr += KESYNC_MISDIRECT_OFFSET;
        }
        trace_kesync_dma(x->unit, i, addr, off, n, to_dev);
        if (to_dev) {
            res = pci_dma_read(PCI_DEVICE(s), addr, un->data + off, n);
        } else {
            res = pci_dma_write(PCI_DEVICE(s), addr, un->data + off, n);
        }
        if (kesync_gone(s)) {
            return KESYNC_ERR_DMA;
        }
        if (to_dev) {
            memory_region_set_dirty(&un->medium, off, n);
        }
        if (res != MEMTX_OK) {
            s->stat_dma_errors++;
            trace_kesync_err_dma(x->unit, addr, n, res);
            qemu_log_mask(LOG_GUEST_ERROR, "kesync: unit %u: data DMA at 0x%"
                          PRIx64 " (+%u) failed\n", x->unit, addr, n);
            return KESYNC_ERR_DMA;
        }
        *done += n;
    }
    return KESYNC_ERR_NONE;
}

static void kesync_finish(KesyncState *s, uint64_t gen)
{
    KesyncXfer *x = &s->xfer;
    uint32_t want = x->len, done = 0, err = KESYNC_ERR_NONE;

    switch (x->fault) {
    case KESYNC_FAULT_ERROR:
        err = KESYNC_ERR_INJECTED;
        break;
    case KESYNC_FAULT_SHORT:
        want = MIN(x->fault_arg, x->len - 1);
        break;
    default:
        break;
    }
    if (err == KESYNC_ERR_NONE) {
        err = kesync_data_dma(s, gen, want, &done);
        if (kesync_gone(s)) {
            return;
        }
    }
    if (gen == 0 || gen != s->live_gen) {
        return; /* dead transfer: no completion either */
    }
    kesync_complete(s, err ? KESYNC_STATE_ERROR : KESYNC_STATE_DONE, err,
                    err ? (err == KESYNC_ERR_DMA ? done : 0) : done,
                    x->fault != KESYNC_FAULT_LOST_IRQ);
}

/*
 * The transfer timer fired: the event it stands for, if the bottom half
 * has not done it yet.
 */
static void kesync_xfer_event(KesyncState *s)
{
    KesyncXfer *x = &s->xfer;

    if (x->timer_event == KESYNC_TEV_SPURIOUS_OWED) {
        x->timer_event = KESYNC_TEV_FINISH;
        trace_kesync_spurious(x->unit);
        kesync_signal(s, KESYNC_INTR_UNIT(x->unit),
                      KESYNC_MSIX_VEC_UNIT(x->unit));
        if (kesync_gone(s)) {
            return;
        }
    }
    if (x->timer_event == KESYNC_TEV_FINISH &&
        !timer_pending(&s->xfer_timer)) {
        kesync_finish(s, s->timer_gen);
    }
}

/*
 * No DMA here: the event goes to the guarded bottom half.  An event that
 * falls due while the device is surprise-removed is dropped, and the
 * transfer hangs.  A SPURIOUS transfer's timer is re-armed for its end at
 * once, so that its end is due at due_ns whenever the bottom half runs.
 */
void kesync_xfer_timer(void *opaque)
{
    KesyncState *s = opaque;
    KesyncXfer *x = &s->xfer;

    if (s->removed) {
        trace_kesync_removed_drop(x->unit);
        x->phase = KESYNC_PH_HANG;
        return;
    }
    if (x->timer_event == KESYNC_TEV_SPURIOUS) {
        x->timer_event = KESYNC_TEV_SPURIOUS_OWED;
        timer_mod(&s->xfer_timer, x->due_ns);
    }
    qemu_bh_schedule(s->bh);
}

/* ---- Abort and reset ----------------------------------------------------- */

void kesync_abort(KesyncState *s, unsigned u)
{
    KesyncUnit *un = &s->unit[u];

    if (s->xfer.phase == KESYNC_PH_IDLE || s->xfer.unit != u) {
        trace_kesync_abort(u, 0);
        return;
    }
    trace_kesync_abort(u, 1);
    kesync_release(s);
    un->state = KESYNC_STATE_ABORTED;
    un->err = KESYNC_ERR_NONE;
    un->bytes = 0;
}

void kesync_ctrl_reset(KesyncState *s)
{
    unsigned u;
    bool busy = s->xfer.phase != KESYNC_PH_IDLE;

    if (s->resetting) {
        trace_kesync_reset_ignored();
        return;
    }
    trace_kesync_reset_start(s->reset_delay_us);
    kesync_release(s);
    for (u = 0; u < KESYNC_MAX_UNITS; u++) {
        KesyncUnit *un = &s->unit[u];

        un->state = KESYNC_STATE_IDLE;
        un->err = KESYNC_ERR_NONE;
        un->bytes = 0;
        un->tag = 0;
        un->fault_kind = un->fault_count = un->fault_arg = 0;
        un->armed_kind = un->armed_arg = 0;
        un->note_pending = false;
    }
    if (busy) {
        s->unit[s->xfer.unit].state = KESYNC_STATE_ERROR;
        s->unit[s->xfer.unit].err = KESYNC_ERR_RESET;
        s->unit[s->xfer.unit].tag = s->xfer.tag;
    }
    s->intr_status &= ~(KESYNC_INTR_UNITS_MASK | KESYNC_INTR_RESET_DONE);
    s->dev_fault = 0;
    s->resetting = true;
    timer_mod(&s->reset_timer, qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL) +
              (int64_t)s->reset_delay_us * SCALE_US);
    s->reset_delay_us = 0;
    kesync_update_intx(s);
}

static void kesync_reset_done(KesyncState *s)
{
    s->resetting = false;
    s->stat_resets++;
    trace_kesync_reset_done();
    kesync_signal(s, KESYNC_INTR_RESET_DONE,
                  KESYNC_MSIX_VEC_CTRL(s->conf.units));
}

/* The end of a controller reset goes to the bottom half too. */
void kesync_reset_timer(void *opaque)
{
    KesyncState *s = opaque;

    qemu_bh_schedule(s->bh);
}

/* ---- Bottom half --------------------------------------------------------- */

/*
 * All the device's own work that may do DMA.  It is a guarded BH, so none
 * of that DMA reaches our own BARs.  What to do is read from the state: a
 * fetch to make, a timer that has fired, records and interrupts to deliver.
 * Nothing is done while the device is surprise-removed.
 */
static void kesync_bh_work(KesyncState *s)
{
    if (s->removed) {
        return;
    }
    /* Earlier completions first, so none is merged into a newer one. */
    kesync_flush_notes(s);
    if (kesync_gone(s)) {
        return;
    }
    if (s->xfer.phase == KESYNC_PH_RUN) {
        kesync_xfer_event(s);
    } else if (s->xfer.phase == KESYNC_PH_FETCH) {
        kesync_fetch(s);
    }
    if (kesync_gone(s)) {
        return;
    }
    if (s->resetting && !timer_pending(&s->reset_timer)) {
        kesync_reset_done(s);
        if (kesync_gone(s)) {
            return;
        }
    }
    kesync_flush_notes(s);
}

/* The device stays allocated while we work, even if our DMA unplugs it. */
void kesync_bh(void *opaque)
{
    KesyncState *s = opaque;

    object_ref(OBJECT(s));
    kesync_bh_work(s);
    kesync_unref(s);
}

/* ---- Doorbell START (from regs.c) ---------------------------------------- */

void kesync_start(KesyncState *s, unsigned u)
{
    KesyncUnit *un = &s->unit[u];
    KesyncXfer *x = &s->xfer;

    s->intr_status &= ~KESYNC_INTR_UNIT(u);
    kesync_update_intx(s);

    if (s->resetting) {
        qemu_log_mask(LOG_GUEST_ERROR, "kesync: unit %u: START during "
                      "controller reset ignored\n", u);
        return;
    }
    if (x->phase != KESYNC_PH_IDLE) {
        if (x->unit == u) {
            kesync_refuse(s, u, KESYNC_ERR_UNIT_BUSY);
        } else {
            s->stat_ctrl_busy++;
            kesync_refuse(s, u, KESYNC_ERR_CTRL_BUSY);
        }
        return;
    }
    if (un->fault_count && un->armed_kind == KESYNC_FAULT_REFUSE) {
        /*
         * As if another bus master held the controller.  Not counted in
         * STAT_CTRL_BUSY: that counts the conflicts the guest caused.
         */
        un->fault_count--;
        kesync_refuse(s, u, KESYNC_ERR_CTRL_BUSY);
        return;
    }
    memset(x, 0, sizeof(*x));
    x->unit = u;
    x->phase = KESYNC_PH_FETCH;
    x->desc_addr = ((uint64_t)un->desc_hi << 32) | un->desc_lo;
    x->gen = ++s->next_gen;
    s->live_gen = x->gen;
    un->state = KESYNC_STATE_BUSY;
    un->err = KESYNC_ERR_NONE;
    trace_kesync_start(u, x->desc_addr, x->gen);
    qemu_bh_schedule(s->bh);
}

/*
 * kesync-pci: migration (VMState) and the checks of a loaded state
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/error-report.h"
#include "qemu/main-loop.h"
#include "hw/pci/msix.h"
#include "hw/pci/pcie_aer.h"
#include "migration/vmstate.h"
#include "kesync.h"

/* A loaded transfer's copy of its descriptor passes 7.1's rules again. */
static bool kesync_xfer_desc_ok(KesyncState *s, const KesyncXfer *x)
{
    uint64_t sum = 0;
    uint32_t i;

    if ((x->flags & ~KESYNC_DESC_FLAGS_VALID) ||
        x->nsegs == 0 || x->nsegs > s->conf.max_segs ||
        x->len == 0 || x->len > s->conf.max_xfer ||
        x->offset > s->conf.unit_size ||
        x->len > s->conf.unit_size - x->offset) {
        return false;
    }
    for (i = 0; i < x->nsegs; i++) {
        if (!kesync_seg_ok(x->seg_addr[i], x->seg_len[i])) {
            return false;
        }
        sum += x->seg_len[i];
    }
    return sum == x->len;
}

/*
 * What is wrong with a loaded state, or NULL.  The bottom half, the timers
 * and the data DMA trust the transfer's unit, phase, generation and copied
 * descriptor as kesync_start() and kesync_fetch() leave them, so a stream
 * must hold a state the device could have reached, in every phase.
 */
static const char *kesync_loaded_bad(KesyncState *s)
{
    KesyncXfer *x = &s->xfer;
    bool armed = timer_pending(&s->xfer_timer);
    uint32_t intr_valid = kesync_units_mask(s) | KESYNC_INTR_CTRL_MASK;
    unsigned u;

    /*
     * Only what writes and events can leave there: an INTR_STATUS bit of
     * no event is one no W1C clears (INTx would stay asserted for good).
     */
    if ((s->intr_status | s->intr_enable) & ~intr_valid) {
        return "interrupt bits the device does not have";
    }
    if (s->dev_fault & ~KESYNC_DEV_FAULT_MISDIRECT) {
        return "reserved DEV_FAULT bits";
    }
    if (x->unit >= s->conf.units) {
        return "transfer unit out of range";
    }
    if (x->timer_event > KESYNC_TEV_MAX) {
        return "bad transfer timer event";
    }
    if (s->live_gen > s->next_gen || s->timer_gen > s->next_gen) {
        return "generation from the future";
    }
    /*
     * Generation 0 means "no live transfer": the next START would take
     * ++next_gen = 0 and never run, holding the controller busy until a
     * reset.  No device reaches 2^64 - 1 transfers.
     */
    if (s->next_gen == UINT64_MAX) {
        return "generation counter exhausted";
    }
    if (s->resetting && x->phase != KESYNC_PH_IDLE) {
        return "transfer during a controller reset";
    }
    if (!s->resetting && timer_pending(&s->reset_timer)) {
        return "reset timer armed without a reset";
    }
    switch (x->phase) {
    case KESYNC_PH_IDLE:
        /* Only kesync_release() goes idle; it ends the generation too. */
        if (s->live_gen) {
            return "idle controller with a live transfer";
        }
        if (armed) {
            return "transfer timer armed with no transfer";
        }
        break;
    case KESYNC_PH_FETCH:
        /* Not fetched yet: START left the copy empty and set no timer. */
        if (!x->gen || s->live_gen != x->gen) {
            return "transfer not live";
        }
        if (x->nsegs || x->len) {
            return "descriptor of a transfer not fetched yet";
        }
        if (armed) {
            return "transfer timer armed before the fetch";
        }
        break;
    case KESYNC_PH_RUN:
    case KESYNC_PH_HANG:
        if (!x->gen || s->live_gen != x->gen) {
            return "transfer not live";
        }
        if (!kesync_xfer_desc_ok(s, x)) {
            return "bad transfer descriptor";
        }
        /* REFUSE is taken by a START, never by a transfer. */
        if (x->fault > KESYNC_FAULT_KIND_MAX ||
            x->fault == KESYNC_FAULT_REFUSE) {
            return "bad transfer fault kind";
        }
        /* RUN may have seen its timer fire already, HANG never arms it. */
        if (x->phase == KESYNC_PH_RUN && s->timer_gen != x->gen) {
            return "transfer timer of another transfer";
        }
        /*
         * SPURIOUS's half-way event re-arms the timer for the end as it
         * fires (KESYNC_TEV_SPURIOUS_OWED): unarmed, nothing would end it.
         */
        if (x->phase == KESYNC_PH_RUN &&
            x->timer_event == KESYNC_TEV_SPURIOUS && !armed) {
            return "half-way event of a transfer timer not armed";
        }
        if (x->phase == KESYNC_PH_HANG && armed) {
            return "transfer timer armed for a hung transfer";
        }
        break;
    default:
        return "bad transfer phase";
    }
    for (u = 0; u < KESYNC_MAX_UNITS; u++) {
        if (s->unit[u].armed_kind > KESYNC_FAULT_KIND_MAX ||
            s->unit[u].fault_kind > KESYNC_FAULT_KIND_MAX) {
            return "bad fault kind";
        }
    }
    return NULL;
}

static int kesync_post_load(void *opaque, int version_id)
{
    KesyncState *s = opaque;
    KesyncXfer *x = &s->xfer;
    const char *bad = kesync_loaded_bad(s);
    unsigned u;

    if (bad) {
        error_report("kesync-pci: bad migration stream: %s", bad);
        return -EINVAL;
    }
    for (u = 0; u < KESYNC_MAX_UNITS; u++) {
        if (s->unit[u].note_pending) {
            s->resume_bh = true;
        }
    }
    /* A fetch, or a timer that fired before the bottom half ran. */
    if (x->phase == KESYNC_PH_FETCH ||
        (x->phase == KESYNC_PH_RUN &&
         (x->timer_event == KESYNC_TEV_SPURIOUS_OWED ||
          !timer_pending(&s->xfer_timer))) ||
        (s->resetting && !timer_pending(&s->reset_timer))) {
        s->resume_bh = true;
    }
    return 0;
}

/*
 * Work the BH had queued (a fetch, records and interrupts) waits for the
 * VM to run: during the load, other devices (the IOMMU, the interrupt
 * controllers) and, with postcopy, guest RAM may not be there yet.
 */
void kesync_vm_state_change(void *opaque, bool running,
                                   RunState state)
{
    KesyncState *s = opaque;

    if (running && s->resume_bh) {
        s->resume_bh = false;
        qemu_bh_schedule(s->bh);
    }
}

static bool kesync_aer_needed(void *opaque)
{
    return pci_is_express(PCI_DEVICE(opaque));
}

/* PCIe only: the AER error log (the registers are in config space). */
static const VMStateDescription vmstate_kesync_aer = {
    .name = "kesync-pci/aer",
    .version_id = 1,
    .minimum_version_id = 1,
    .needed = kesync_aer_needed,
    .fields = (VMStateField[]) {
        VMSTATE_STRUCT(parent_obj.exp.aer_log, KesyncState, 0,
                       vmstate_pcie_aer_log, PCIEAERLog),
        VMSTATE_END_OF_LIST()
    }
};

static const VMStateDescription vmstate_kesync_unit = {
    .name = "kesync-pci/unit",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (VMStateField[]) {
        VMSTATE_UINT32(desc_lo, KesyncUnit),
        VMSTATE_UINT32(desc_hi, KesyncUnit),
        VMSTATE_UINT32(state, KesyncUnit),
        VMSTATE_UINT32(err, KesyncUnit),
        VMSTATE_UINT32(bytes, KesyncUnit),
        VMSTATE_UINT32(tag, KesyncUnit),
        VMSTATE_UINT32(seq, KesyncUnit),
        VMSTATE_UINT32(fault_kind, KesyncUnit),
        VMSTATE_UINT32(fault_count, KesyncUnit),
        VMSTATE_UINT32(fault_arg, KesyncUnit),
        VMSTATE_UINT32(armed_kind, KesyncUnit),
        VMSTATE_UINT32(armed_arg, KesyncUnit),
        VMSTATE_UINT32(stat_xfers, KesyncUnit),
        VMSTATE_UINT64(stat_bytes, KesyncUnit),
        VMSTATE_BOOL(note_pending, KesyncUnit),
        VMSTATE_BOOL(note_irq, KesyncUnit),
        VMSTATE_UINT32(note_tag, KesyncUnit),
        VMSTATE_UINT32(note_status, KesyncUnit),
        VMSTATE_UINT32(note_bytes, KesyncUnit),
        VMSTATE_UINT32(note_seq, KesyncUnit),
        VMSTATE_END_OF_LIST()
    }
};

static const VMStateDescription vmstate_kesync_xfer = {
    .name = "kesync-pci/xfer",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (VMStateField[]) {
        VMSTATE_UINT32(unit, KesyncXfer),
        VMSTATE_UINT32(phase, KesyncXfer),
        VMSTATE_UINT64(desc_addr, KesyncXfer),
        VMSTATE_UINT64(gen, KesyncXfer),
        VMSTATE_UINT32(flags, KesyncXfer),
        VMSTATE_UINT32(nsegs, KesyncXfer),
        VMSTATE_UINT64(offset, KesyncXfer),
        VMSTATE_UINT32(len, KesyncXfer),
        VMSTATE_UINT32(tag, KesyncXfer),
        VMSTATE_UINT64_ARRAY(seg_addr, KesyncXfer, KESYNC_MAX_SEGS_LIMIT),
        VMSTATE_UINT32_ARRAY(seg_len, KesyncXfer, KESYNC_MAX_SEGS_LIMIT),
        VMSTATE_UINT32(fault, KesyncXfer),
        VMSTATE_UINT32(fault_arg, KesyncXfer),
        VMSTATE_BOOL(misdirect, KesyncXfer),
        VMSTATE_INT64(due_ns, KesyncXfer),
        VMSTATE_UINT32(timer_event, KesyncXfer),
        VMSTATE_END_OF_LIST()
    }
};

const VMStateDescription vmstate_kesync = {
    .name = TYPE_KESYNC_PCI,
    .version_id = 1,
    .minimum_version_id = 1,
    .post_load = kesync_post_load,
    .fields = (VMStateField[]) {
        VMSTATE_PCI_DEVICE(parent_obj, KesyncState),
        VMSTATE_MSIX(parent_obj, KesyncState),
        VMSTATE_UINT32(scratch, KesyncState),
        VMSTATE_UINT32(intr_status, KesyncState),
        VMSTATE_UINT32(intr_enable, KesyncState),
        VMSTATE_UINT32(cmpl_lo, KesyncState),
        VMSTATE_UINT32(cmpl_hi, KesyncState),
        VMSTATE_UINT32(dev_fault, KesyncState),
        VMSTATE_UINT32(reset_delay_us, KesyncState),
        VMSTATE_BOOL(resetting, KesyncState),
        VMSTATE_BOOL(intx_level, KesyncState),
        VMSTATE_UINT32(stat_mmio_reads, KesyncState),
        VMSTATE_UINT32(stat_mmio_writes, KesyncState),
        VMSTATE_UINT32(stat_ctrl_busy, KesyncState),
        VMSTATE_UINT32(stat_late_dma, KesyncState),
        VMSTATE_UINT32(stat_xfers, KesyncState),
        VMSTATE_UINT32(stat_resets, KesyncState),
        VMSTATE_UINT32(stat_irqs, KesyncState),
        VMSTATE_UINT32(stat_dma_errors, KesyncState),
        VMSTATE_UINT64(next_gen, KesyncState),
        VMSTATE_UINT64(live_gen, KesyncState),
        VMSTATE_UINT64(timer_gen, KesyncState),
        VMSTATE_BOOL(removed, KesyncState),
        VMSTATE_STRUCT(xfer, KesyncState, 1, vmstate_kesync_xfer, KesyncXfer),
        VMSTATE_STRUCT_ARRAY(unit, KesyncState, KESYNC_MAX_UNITS, 1,
                             vmstate_kesync_unit, KesyncUnit),
        VMSTATE_TIMER(xfer_timer, KesyncState),
        VMSTATE_TIMER(reset_timer, KesyncState),
        VMSTATE_END_OF_LIST()
    },
    .subsections = (const VMStateDescription * []) {
        &vmstate_kesync_aer,
        NULL
    }
};

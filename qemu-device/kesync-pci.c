/*
 * kesync-pci: a PCI bus-master DMA transfer controller with several units
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The register map is include/uapi/linux/kesync_hw.h of the kesync project,
 * copied here as standard-headers/misc/kesync_hw.h; docs/hardware.md is the
 * specification this file implements.  In short:
 *
 * - BAR0 holds the registers (32-bit, little-endian), BAR1 the MSI-X table
 *   and PBA.  Interrupts are MSI-X (one vector per unit plus one for
 *   controller events), else MSI (one vector), else level INTx pin A.
 * - Each unit has a RAM-backed medium (a RAM MemoryRegion that is never
 *   mapped, so it migrates as RAM).  The controller runs one transfer at a
 *   time.  DOORBELL=START only latches the descriptor address: the
 *   descriptor is fetched and validated by a bottom half, the data DMA
 *   happens on a QEMU_CLOCK_VIRTUAL timer, never in the MMIO handler.
 * - Completion: unit registers, then a completion record in guest memory
 *   (tag/status/bytes first, seq last), then the interrupt.
 * - Deterministic fault injection per unit (registers) and per device (host
 *   side, through QOM properties settable with qom-set).
 *
 * PCI Express when plugged into a PCIe port (a root or downstream port):
 * an endpoint with Function Level Reset, Advanced Error Reporting (so the
 * HMP command pcie_aer_inject_error can raise errors on it) and a power
 * management capability with D0 and D3hot.  Elsewhere (a conventional bus,
 * or the root complex's own bus) it is a conventional PCI function with
 * the power management capability only.
 *
 * Not modelled: an IOMMU of its own (DMA goes through the PCI bus master
 * address space, so a vIOMMU applies), PME, D1/D2/D3cold, the medium's
 * contents surviving a QEMU restart.
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
#include "qemu/error-report.h"
#include "qemu/host-utils.h"
#include "qemu/log.h"
#include "qemu/main-loop.h"
#include "qemu/module.h"
#include "qemu/timer.h"
#include "qemu/units.h"
#include "qapi/error.h"
#include "qapi/visitor.h"
#include "exec/memory.h"
#include "hw/pci/pci.h"
#include "hw/pci/msi.h"
#include "hw/pci/msix.h"
#include "hw/pci/pcie.h"
#include "hw/pci/pcie_aer.h"
#include "hw/pci/pci_bus.h"
#include "hw/qdev-properties.h"
#include "migration/vmstate.h"
#include "qom/object.h"
#include "sysemu/runstate.h"
#include "trace.h"
#include "standard-headers/misc/kesync_hw.h"

#define TYPE_KESYNC_PCI "kesync-pci"
OBJECT_DECLARE_SIMPLE_TYPE(KesyncState, KESYNC_PCI)

/* Limits of the realize-time properties (see docs/hardware.md). */
#define KESYNC_UNIT_SIZE_MAX        (1 * GiB)
#define KESYNC_MAX_XFER_MIN         512
#define KESYNC_LATENCY_NS_MAX       (10 * NANOSECONDS_PER_SECOND)
#define KESYNC_NS_PER_BYTE_MAX      1000000

#define KESYNC_CMPL_SIZE            16  /* sizeof(struct kesync_cmpl) */
#define KESYNC_DESC_HDR_SIZE        32  /* sizeof(struct kesync_desc) */
#define KESYNC_SEG_SIZE             16  /* sizeof(struct kesync_seg) */

/* PCIe only: the AER extended capability, first in extended config space. */
#define KESYNC_AER_OFFSET           0x100

/* Where the controller's single transfer slot is. */
enum KesyncPhase {
    KESYNC_PH_IDLE = 0,     /* no transfer holds the controller */
    KESYNC_PH_FETCH = 1,    /* START accepted, descriptor fetch queued */
    KESYNC_PH_RUN = 2,      /* descriptor copied and valid, timer armed */
    KESYNC_PH_HANG = 3,     /* KESYNC_FAULT_HANG: no timer, holds on */
};

/*
 * What the transfer timer is armed for.  Once it has fired (the timer is
 * no longer pending), the bottom half does what it stands for.
 */
enum KesyncTimerEvent {
    KESYNC_TEV_FINISH = 0,  /* data DMA and completion */
    KESYNC_TEV_SPURIOUS = 1, /* KESYNC_FAULT_SPURIOUS: half way */
    /* Half way passed: the interrupt is owed, the timer is armed for FINISH */
    KESYNC_TEV_SPURIOUS_OWED = 2,
    KESYNC_TEV_MAX = KESYNC_TEV_SPURIOUS_OWED,
};

typedef struct KesyncUnit {
    MemoryRegion medium;    /* RAM, never mapped; migrates as RAM */
    uint8_t *data;          /* host pointer of @medium */

    /* Registers of the unit window. */
    uint32_t desc_lo;
    uint32_t desc_hi;
    uint32_t state;         /* enum kesync_unit_state */
    uint32_t err;           /* enum kesync_err */
    uint32_t bytes;
    uint32_t tag;
    uint32_t seq;
    uint32_t fault_kind;    /* FAULT_KIND as last written */
    uint32_t fault_count;   /* transfers still armed */
    uint32_t fault_arg;     /* FAULT_ARG as last written */
    uint32_t armed_kind;    /* KIND latched by the FAULT_COUNT write */
    uint32_t armed_arg;     /* ARG latched by the FAULT_COUNT write */
    uint32_t stat_xfers;
    uint64_t stat_bytes;

    /*
     * A completion whose record and interrupt are not delivered yet.  The
     * registers above already show it; kesync_flush_notes() writes the
     * record and raises the interrupt outside the MMIO handler.
     */
    bool note_pending;
    bool note_irq;          /* false for KESYNC_FAULT_LOST_IRQ */
    uint32_t note_tag;
    uint32_t note_status;
    uint32_t note_bytes;
    uint32_t note_seq;
} KesyncUnit;

/* The controller's one transfer, copied out of guest memory. */
typedef struct KesyncXfer {
    uint32_t unit;
    uint32_t phase;         /* enum KesyncPhase */
    uint64_t desc_addr;     /* DESC latched by DOORBELL=START */
    uint64_t gen;           /* generation number of this transfer */
    uint32_t flags;
    uint32_t nsegs;
    uint64_t offset;
    uint32_t len;
    uint32_t tag;
    uint64_t seg_addr[KESYNC_MAX_SEGS_LIMIT];
    uint32_t seg_len[KESYNC_MAX_SEGS_LIMIT];
    uint32_t fault;         /* enum kesync_fault_kind taken at fetch */
    uint32_t fault_arg;
    bool misdirect;         /* KESYNC_DEV_FAULT_MISDIRECT taken at fetch */
    int64_t due_ns;         /* QEMU_CLOCK_VIRTUAL completion time */
    uint32_t timer_event;   /* enum KesyncTimerEvent */
} KesyncXfer;

struct KesyncState {
    PCIDevice parent_obj;

    MemoryRegion mmio;
    QEMUBH *bh;             /* descriptor fetch, record/interrupt delivery */
    VMChangeStateEntry *vmsc;
    bool resume_bh;         /* loaded with work for the BH: run it on resume */
    QEMUTimer xfer_timer;   /* the transfer's due time (or half of it) */
    QEMUTimer reset_timer;  /* end of a controller reset */

    /* Realize-time properties. */
    struct {
        uint32_t units;
        uint64_t unit_size;
        uint32_t max_segs;
        uint32_t max_xfer;
        uint64_t latency_ns;
        uint32_t ns_per_byte;
        bool msix;
        bool msi;
    } conf;

    /* Controller registers. */
    uint32_t scratch;
    uint32_t intr_status;
    uint32_t intr_enable;
    uint32_t cmpl_lo;
    uint32_t cmpl_hi;
    uint32_t dev_fault;     /* KESYNC_DEV_FAULT_MISDIRECT only */
    uint32_t reset_delay_us;
    bool resetting;
    bool intx_level;        /* what we last drove on INTx */

    uint32_t stat_mmio_reads;
    uint32_t stat_mmio_writes;
    uint32_t stat_ctrl_busy;
    uint32_t stat_late_dma;
    uint32_t stat_xfers;
    uint32_t stat_resets;
    uint32_t stat_irqs;
    uint32_t stat_dma_errors;

    KesyncXfer xfer;
    /*
     * Generations: every accepted START takes ++next_gen.  live_gen is the
     * one transfer allowed to do DMA (0: none); abort and reset zero it.
     * timer_gen is the transfer xfer_timer was armed for.  The data DMA
     * checks timer_gen == live_gen, so a timer that outlived its transfer
     * is caught and counted in STAT_LATE_DMA instead of touching memory.
     */
    uint64_t next_gen;
    uint64_t live_gen;
    uint64_t timer_gen;

    bool removed;           /* host-side surprise removal */
    uint8_t pm_cap;         /* config offset of the PM capability */

    /* Host-side fault injection staging (QOM, not guest visible). */
    uint32_t qom_fault_unit;
    uint32_t qom_fault_kind;
    uint32_t qom_fault_arg;

    KesyncUnit unit[KESYNC_MAX_UNITS];
};

static const char *const kesync_fault_names[] = {
    [KESYNC_FAULT_NONE] = "none",
    [KESYNC_FAULT_HANG] = "hang",
    [KESYNC_FAULT_LOST_IRQ] = "lost-irq",
    [KESYNC_FAULT_LATE] = "late",
    [KESYNC_FAULT_ERROR] = "error",
    [KESYNC_FAULT_SHORT] = "short",
    [KESYNC_FAULT_SPURIOUS] = "spurious",
};

static uint32_t kesync_unit_status(const KesyncUnit *un)
{
    return (un->state & KESYNC_USTAT_STATE_MASK) |
           ((un->err << KESYNC_USTAT_ERR_SHIFT) & KESYNC_USTAT_ERR_MASK);
}

static uint32_t kesync_units_mask(const KesyncState *s)
{
    return MAKE_64BIT_MASK(0, s->conf.units);
}

/*
 * Unplugged by a DMA (or message) of its own, which just returned: nothing
 * of the PCI device may be used any more, and no timer or BH armed.
 */
static bool kesync_gone(KesyncState *s)
{
    return !qatomic_read(&DEVICE(s)->realized);
}

static void kesync_unref_bh(void *opaque)
{
    object_unref(opaque);
}

/*
 * Drop the reference that kesync_bh() or kesync_write_config() took.  Once
 * the device is unplugged it may be the last one; the bottom half's caller
 * still writes the reentrancy guard inside the device after we return, so
 * drop it from a BH of its own.
 */
static void kesync_unref(KesyncState *s)
{
    if (kesync_gone(s)) {
        aio_bh_schedule_oneshot(qemu_get_aio_context(), kesync_unref_bh,
                                OBJECT(s));
    } else {
        object_unref(OBJECT(s));
    }
}

/*
 * PMCSR reads D3hot: the function answers configuration cycles only (its
 * BARs read all ones, writes are dropped) and has nothing in flight, since
 * entering D3hot reset it (see kesync_write_config()).
 */
static bool kesync_d3hot(KesyncState *s)
{
    PCIDevice *pdev = PCI_DEVICE(s);

    return s->pm_cap &&
           (pci_get_word(pdev->config + s->pm_cap + PCI_PM_CTRL) &
            PCI_PM_CTRL_STATE_MASK) == 3;
}

/* ---- Interrupts ---------------------------------------------------------- */

static void kesync_update_intx(KesyncState *s)
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
static void kesync_signal(KesyncState *s, uint32_t bit, unsigned vector)
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

    if (!base) {
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

/* ---- Descriptor fetch (bottom half) ------------------------------------- */

/* Rule 11 of a segment but its reserved word. */
static bool kesync_seg_ok(uint64_t addr, uint32_t len)
{
    return len != 0 && addr + len > addr;
}

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

    /* Faults apply to transfers whose descriptor is valid. */
    x->fault = KESYNC_FAULT_NONE;
    x->fault_arg = 0;
    if (un->fault_count) {
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
static void kesync_xfer_timer(void *opaque)
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

static void kesync_abort(KesyncState *s, unsigned u)
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

static void kesync_ctrl_reset(KesyncState *s)
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
static void kesync_reset_timer(void *opaque)
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
static void kesync_bh(void *opaque)
{
    KesyncState *s = opaque;

    object_ref(OBJECT(s));
    kesync_bh_work(s);
    kesync_unref(s);
}

/* ---- MMIO ---------------------------------------------------------------- */

static void kesync_start(KesyncState *s, unsigned u)
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

static bool kesync_unit_read(KesyncState *s, unsigned u, hwaddr reg,
                             uint32_t *val)
{
    KesyncUnit *un = &s->unit[u];

    switch (reg) {
    case KESYNC_UNIT_DESC_LO:
        *val = un->desc_lo;
        break;
    case KESYNC_UNIT_DESC_HI:
        *val = un->desc_hi;
        break;
    case KESYNC_UNIT_STATUS:
        *val = kesync_unit_status(un);
        break;
    case KESYNC_UNIT_BYTES:
        *val = un->bytes;
        break;
    case KESYNC_UNIT_TAG:
        *val = un->tag;
        break;
    case KESYNC_UNIT_SEQ:
        *val = un->seq;
        break;
    case KESYNC_UNIT_FAULT_KIND:
        *val = un->fault_kind;
        break;
    case KESYNC_UNIT_FAULT_COUNT:
        *val = un->fault_count;
        break;
    case KESYNC_UNIT_FAULT_ARG:
        *val = un->fault_arg;
        break;
    case KESYNC_UNIT_STAT_XFERS:
        *val = un->stat_xfers;
        break;
    case KESYNC_UNIT_STAT_BYTES_LO:
        *val = un->stat_bytes;
        break;
    case KESYNC_UNIT_STAT_BYTES_HI:
        *val = un->stat_bytes >> 32;
        break;
    default:
        return false;
    }
    return true;
}

static bool kesync_ctrl_read(KesyncState *s, hwaddr addr, uint32_t *val)
{
    switch (addr) {
    case KESYNC_REG_MAGIC:
        *val = KESYNC_MAGIC;
        break;
    case KESYNC_REG_VERSION:
        *val = KESYNC_VERSION;
        break;
    case KESYNC_REG_CAPS:
        *val = s->conf.units | KESYNC_CAPS_CMPL_RECORDS |
               (s->conf.msix ? KESYNC_CAPS_MSIX : 0) |
               (s->conf.msi ? KESYNC_CAPS_MSI : 0);
        break;
    case KESYNC_REG_MAX_SEGS:
        *val = s->conf.max_segs;
        break;
    case KESYNC_REG_MAX_XFER:
        *val = s->conf.max_xfer;
        break;
    case KESYNC_REG_UNIT_SIZE_LO:
        *val = s->conf.unit_size;
        break;
    case KESYNC_REG_UNIT_SIZE_HI:
        *val = s->conf.unit_size >> 32;
        break;
    case KESYNC_REG_SCRATCH:
        *val = s->scratch;
        break;
    case KESYNC_REG_CTRL:
        *val = s->resetting ? KESYNC_CTRL_RESET : 0;
        break;
    case KESYNC_REG_STATUS:
        *val = s->resetting ? KESYNC_STATUS_RESETTING : 0;
        if (s->xfer.phase != KESYNC_PH_IDLE) {
            *val |= KESYNC_STATUS_BUSY |
                    (s->xfer.unit << KESYNC_STATUS_UNIT_SHIFT);
        }
        break;
    case KESYNC_REG_INTR_STATUS:
        *val = s->intr_status;
        break;
    case KESYNC_REG_INTR_ENABLE:
        *val = s->intr_enable;
        break;
    case KESYNC_REG_CMPL_ADDR_LO:
        *val = s->cmpl_lo;
        break;
    case KESYNC_REG_CMPL_ADDR_HI:
        *val = s->cmpl_hi;
        break;
    case KESYNC_REG_STAT_MMIO_READS:
        *val = s->stat_mmio_reads;
        break;
    case KESYNC_REG_STAT_MMIO_WRITES:
        *val = s->stat_mmio_writes;
        break;
    case KESYNC_REG_STAT_CTRL_BUSY:
        *val = s->stat_ctrl_busy;
        break;
    case KESYNC_REG_STAT_LATE_DMA:
        *val = s->stat_late_dma;
        break;
    case KESYNC_REG_STAT_XFERS:
        *val = s->stat_xfers;
        break;
    case KESYNC_REG_STAT_RESETS:
        *val = s->stat_resets;
        break;
    case KESYNC_REG_STAT_IRQS:
        *val = s->stat_irqs;
        break;
    case KESYNC_REG_STAT_DMA_ERRORS:
        *val = s->stat_dma_errors;
        break;
    case KESYNC_REG_DEV_FAULT:
        *val = s->dev_fault;
        break;
    case KESYNC_REG_RESET_DELAY_US:
        *val = s->reset_delay_us;
        break;
    default:
        return false;
    }
    return true;
}

/* Which unit window @addr is in, or -1. */
static int kesync_unit_of(KesyncState *s, hwaddr addr, hwaddr *reg)
{
    hwaddr u;

    if (addr < KESYNC_UNIT_BASE(0)) {
        return -1;
    }
    u = (addr - KESYNC_UNIT_BASE(0)) / KESYNC_UNIT_STRIDE;
    if (u >= s->conf.units) {
        return -1;
    }
    *reg = (addr - KESYNC_UNIT_BASE(0)) % KESYNC_UNIT_STRIDE;
    return u;
}

static uint64_t kesync_mmio_read(void *opaque, hwaddr addr, unsigned size)
{
    KesyncState *s = opaque;
    uint32_t val = 0;
    hwaddr reg = 0;
    bool ok;
    int u;

    if (s->removed || kesync_d3hot(s)) {
        return MAKE_64BIT_MASK(0, size * 8);
    }
    if (size != 4 || (addr & 3)) {
        qemu_log_mask(LOG_GUEST_ERROR, "kesync: bad read size %u at 0x%"
                      HWADDR_PRIx "\n", size, addr);
        return 0;
    }
    s->stat_mmio_reads++;
    u = kesync_unit_of(s, addr, &reg);
    if (u >= 0) {
        ok = kesync_unit_read(s, u, reg, &val);
        if (reg == KESYNC_UNIT_DOORBELL) {
            qemu_log_mask(LOG_GUEST_ERROR, "kesync: read of write-only "
                          "DOORBELL at 0x%" HWADDR_PRIx "\n", addr);
            ok = true;
        }
    } else {
        ok = kesync_ctrl_read(s, addr, &val);
        if (addr == KESYNC_REG_INTR_RAISE) {
            qemu_log_mask(LOG_GUEST_ERROR, "kesync: read of write-only "
                          "INTR_RAISE\n");
            ok = true;
        }
    }
    if (!ok) {
        qemu_log_mask(LOG_GUEST_ERROR, "kesync: read of unknown register "
                      "0x%" HWADDR_PRIx "\n", addr);
        val = 0;
    }
    trace_kesync_mmio_read(addr, val);
    return val;
}

static void kesync_unit_write(KesyncState *s, unsigned u, hwaddr reg,
                              uint32_t val)
{
    KesyncUnit *un = &s->unit[u];

    switch (reg) {
    case KESYNC_UNIT_DESC_LO:
        un->desc_lo = val;
        break;
    case KESYNC_UNIT_DESC_HI:
        un->desc_hi = val;
        break;
    case KESYNC_UNIT_DOORBELL:
        if (val == KESYNC_DB_START) {
            kesync_start(s, u);
        } else if (val == KESYNC_DB_ABORT) {
            kesync_abort(s, u);
        } else {
            qemu_log_mask(LOG_GUEST_ERROR, "kesync: unit %u: bad doorbell "
                          "command 0x%x\n", u, val);
        }
        break;
    case KESYNC_UNIT_FAULT_KIND:
        if (val > KESYNC_FAULT_KIND_MAX) {
            qemu_log_mask(LOG_GUEST_ERROR, "kesync: unit %u: bad fault kind "
                          "%u\n", u, val);
            break;
        }
        un->fault_kind = val;
        break;
    case KESYNC_UNIT_FAULT_COUNT:
        un->fault_count = val;
        un->armed_kind = un->fault_kind;
        un->armed_arg = un->fault_arg;
        trace_kesync_fault_arm(u, kesync_fault_names[un->armed_kind],
                               un->armed_arg, val);
        break;
    case KESYNC_UNIT_FAULT_ARG:
        un->fault_arg = val;
        break;
    case KESYNC_UNIT_STATUS:
    case KESYNC_UNIT_BYTES:
    case KESYNC_UNIT_TAG:
    case KESYNC_UNIT_SEQ:
    case KESYNC_UNIT_STAT_XFERS:
    case KESYNC_UNIT_STAT_BYTES_LO:
    case KESYNC_UNIT_STAT_BYTES_HI:
        qemu_log_mask(LOG_GUEST_ERROR, "kesync: unit %u: write to read-only "
                      "register 0x%" HWADDR_PRIx "\n", u, reg);
        break;
    default:
        qemu_log_mask(LOG_GUEST_ERROR, "kesync: unit %u: write to unknown "
                      "register 0x%" HWADDR_PRIx "\n", u, reg);
        break;
    }
}

static void kesync_ctrl_write(KesyncState *s, hwaddr addr, uint32_t val)
{
    uint32_t valid = kesync_units_mask(s) | KESYNC_INTR_CTRL_MASK;
    uint32_t dummy;

    switch (addr) {
    case KESYNC_REG_SCRATCH:
        s->scratch = val;
        break;
    case KESYNC_REG_CTRL:
        if (val & KESYNC_CTRL_RESET) {
            kesync_ctrl_reset(s);
        }
        break;
    case KESYNC_REG_INTR_STATUS:
        s->intr_status &= ~(val & valid);
        kesync_update_intx(s);
        break;
    case KESYNC_REG_INTR_ENABLE:
        s->intr_enable = val & valid;
        kesync_update_intx(s);
        break;
    case KESYNC_REG_INTR_RAISE:
        kesync_signal(s, KESYNC_INTR_SW, KESYNC_MSIX_VEC_CTRL(s->conf.units));
        break;
    case KESYNC_REG_CMPL_ADDR_LO:
        s->cmpl_lo = val;
        break;
    case KESYNC_REG_CMPL_ADDR_HI:
        s->cmpl_hi = val;
        break;
    case KESYNC_REG_DEV_FAULT:
        if (val & ~KESYNC_DEV_FAULT_MISDIRECT) {
            qemu_log_mask(LOG_GUEST_ERROR, "kesync: DEV_FAULT bits 0x%x are "
                          "read-only or reserved\n",
                          val & ~KESYNC_DEV_FAULT_MISDIRECT);
        }
        s->dev_fault = val & KESYNC_DEV_FAULT_MISDIRECT;
        break;
    case KESYNC_REG_RESET_DELAY_US:
        s->reset_delay_us = val;
        break;
    default:
        if (kesync_ctrl_read(s, addr, &dummy)) {
            qemu_log_mask(LOG_GUEST_ERROR, "kesync: write to read-only "
                          "register 0x%" HWADDR_PRIx "\n", addr);
        } else {
            qemu_log_mask(LOG_GUEST_ERROR, "kesync: write to unknown "
                          "register 0x%" HWADDR_PRIx "\n", addr);
        }
        break;
    }
}

static void kesync_mmio_write(void *opaque, hwaddr addr, uint64_t val64,
                              unsigned size)
{
    KesyncState *s = opaque;
    uint32_t val = val64;
    hwaddr reg = 0;
    int u;

    if (s->removed) {
        return;
    }
    if (size != 4 || (addr & 3)) {
        qemu_log_mask(LOG_GUEST_ERROR, "kesync: bad write size %u at 0x%"
                      HWADDR_PRIx "\n", size, addr);
        return;
    }
    if (kesync_d3hot(s)) {
        trace_kesync_d3hot_drop(addr);
        return;
    }
    s->stat_mmio_writes++;
    trace_kesync_mmio_write(addr, val);
    u = kesync_unit_of(s, addr, &reg);
    if (u >= 0) {
        kesync_unit_write(s, u, reg, val);
    } else {
        kesync_ctrl_write(s, addr, val);
    }
}

static const MemoryRegionOps kesync_mmio_ops = {
    .read = kesync_mmio_read,
    .write = kesync_mmio_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    /* Every size reaches the handlers, which refuse all but aligned 4. */
    .valid = {
        .min_access_size = 1,
        .max_access_size = 8,
        .unaligned = true,
    },
    .impl = {
        .min_access_size = 1,
        .max_access_size = 8,
        .unaligned = true,
    },
};

/*
 * A PMCSR write that changes the power state (docs/hardware.md 2.1): D0 to
 * D3hot stops everything as a power-on reset of the registers does; D3hot to
 * D0 is a function reset (No_Soft_Reset is 0), configuration space included,
 * as for FLR.  Other states are not supported and read back the old one.
 */
static void kesync_write_pmcsr(KesyncState *s, bool was_d3hot)
{
    PCIDevice *pdev = PCI_DEVICE(s);
    uint8_t *pmcsr;
    uint16_t state;

    if (!s->pm_cap) {
        return;
    }
    pmcsr = pdev->config + s->pm_cap + PCI_PM_CTRL;
    state = pci_get_word(pmcsr) & PCI_PM_CTRL_STATE_MASK;
    if (state != 0 && state != 3) {
        qemu_log_mask(LOG_GUEST_ERROR, "kesync: power state D%u not "
                      "supported\n", state);
        state = was_d3hot ? 3 : 0;
        pci_set_word(pmcsr, (pci_get_word(pmcsr) & ~PCI_PM_CTRL_STATE_MASK) |
                     state);
    }
    if (state == 3 && !was_d3hot) {
        trace_kesync_power_state(3);
        device_cold_reset(DEVICE(s));
    } else if (state == 0 && was_d3hot) {
        trace_kesync_power_state(0);
        pci_device_reset(pdev);
    }
}

/*
 * While surprise-removed the function is off the link: a configuration
 * read completes with all ones, as the port answers a request nobody
 * claims, and a write is dropped, as for the BARs (section 11.3).
 */
static uint32_t kesync_read_config(PCIDevice *pdev, uint32_t addr, int len)
{
    if (KESYNC_PCI(pdev)->removed) {
        return MAKE_64BIT_MASK(0, len * 8);
    }
    return pci_default_read_config(pdev, addr, len);
}

/*
 * MSI/MSI-X enable changes decide whether INTx is driven.
 *
 * Clearing the MSI-X function mask sends the pending messages from inside
 * pci_default_write_config().  Config cycles come through the host bridge,
 * so the memory core does not engage this device's reentrancy guard for
 * them as it does for accesses to BAR0/BAR1: engage it here, so that those
 * messages are refused by our own BARs just as when an unmask through the
 * MSI-X table (BAR1) sends them.
 */
static void kesync_write_config(PCIDevice *pdev, uint32_t addr, uint32_t val,
                                int len)
{
    KesyncState *s = KESYNC_PCI(pdev);
    MemReentrancyGuard *guard = &DEVICE(pdev)->mem_reentrancy_guard;
    bool engaged = guard->engaged_in_io;
    bool was_d3hot = kesync_d3hot(s);

    if (s->removed) {
        return;
    }
    /* Those messages may unplug the device too (see kesync_gone()). */
    object_ref(OBJECT(s));
    guard->engaged_in_io = true;
    pci_default_write_config(pdev, addr, val, len);
    guard->engaged_in_io = engaged;
    if (kesync_gone(s)) {
        goto out;
    }
    if (pci_is_express(pdev)) {
        /* Either may reset the function (FLR) or log an error (AER). */
        pcie_cap_flr_write_config(pdev, addr, val, len);
        pcie_aer_write_config(pdev, addr, val, len);
    }
    kesync_write_pmcsr(s, was_d3hot);
    kesync_update_intx(s);
out:
    kesync_unref(s);
}

/* ---- Host-side fault injection (QOM) ------------------------------------- */

enum {
    KESYNC_QOM_FAULT_UNIT,
    KESYNC_QOM_FAULT_KIND,
    KESYNC_QOM_FAULT_ARG,
    KESYNC_QOM_FAULT_COUNT,
    KESYNC_QOM_RESET_DELAY_US,
    KESYNC_QOM_LATE_DMA,
    KESYNC_QOM_MMIO_READS,
    KESYNC_QOM_MMIO_WRITES,
    KESYNC_QOM_CTRL_BUSY,
    KESYNC_QOM_XFERS,
};

static void kesync_qom_get(Object *obj, Visitor *v, const char *name,
                           void *opaque, Error **errp)
{
    KesyncState *s = KESYNC_PCI(obj);
    uint32_t val = 0;

    switch ((uintptr_t)opaque) {
    case KESYNC_QOM_FAULT_UNIT:
        val = s->qom_fault_unit;
        break;
    case KESYNC_QOM_FAULT_KIND:
        val = s->qom_fault_kind;
        break;
    case KESYNC_QOM_FAULT_ARG:
        val = s->qom_fault_arg;
        break;
    case KESYNC_QOM_FAULT_COUNT:
        if (s->qom_fault_unit < s->conf.units) {
            val = s->unit[s->qom_fault_unit].fault_count;
        }
        break;
    case KESYNC_QOM_RESET_DELAY_US:
        val = s->reset_delay_us;
        break;
    case KESYNC_QOM_LATE_DMA:
        val = s->stat_late_dma;
        break;
    case KESYNC_QOM_MMIO_READS:
        val = s->stat_mmio_reads;
        break;
    case KESYNC_QOM_MMIO_WRITES:
        val = s->stat_mmio_writes;
        break;
    case KESYNC_QOM_CTRL_BUSY:
        val = s->stat_ctrl_busy;
        break;
    case KESYNC_QOM_XFERS:
        val = s->stat_xfers;
        break;
    }
    visit_type_uint32(v, name, &val, errp);
}

static void kesync_qom_set(Object *obj, Visitor *v, const char *name,
                           void *opaque, Error **errp)
{
    KesyncState *s = KESYNC_PCI(obj);
    KesyncUnit *un;
    uint32_t val;

    if (!visit_type_uint32(v, name, &val, errp)) {
        return;
    }
    switch ((uintptr_t)opaque) {
    case KESYNC_QOM_FAULT_UNIT:
        if (val >= s->conf.units) {
            error_setg(errp, "fault-unit %u out of range (units=%u)", val,
                       s->conf.units);
            return;
        }
        s->qom_fault_unit = val;
        break;
    case KESYNC_QOM_FAULT_KIND:
        if (val > KESYNC_FAULT_KIND_MAX) {
            error_setg(errp, "fault-kind %u out of range (0..%u)", val,
                       KESYNC_FAULT_KIND_MAX);
            return;
        }
        s->qom_fault_kind = val;
        break;
    case KESYNC_QOM_FAULT_ARG:
        s->qom_fault_arg = val;
        break;
    case KESYNC_QOM_FAULT_COUNT:
        if (s->qom_fault_unit >= s->conf.units) {
            error_setg(errp, "fault-unit %u out of range (units=%u)",
                       s->qom_fault_unit, s->conf.units);
            return;
        }
        un = &s->unit[s->qom_fault_unit];
        un->fault_kind = un->armed_kind = s->qom_fault_kind;
        un->fault_arg = un->armed_arg = s->qom_fault_arg;
        un->fault_count = val;
        trace_kesync_fault_arm(s->qom_fault_unit,
                               kesync_fault_names[un->armed_kind],
                               un->armed_arg, val);
        break;
    case KESYNC_QOM_RESET_DELAY_US:
        s->reset_delay_us = val;
        break;
    default:
        error_setg(errp, "property %s is read-only", name);
        break;
    }
}

static bool kesync_get_removed(Object *obj, Error **errp)
{
    return KESYNC_PCI(obj)->removed;
}

static void kesync_set_removed(Object *obj, bool value, Error **errp)
{
    KesyncState *s = KESYNC_PCI(obj);

    trace_kesync_removed(value);
    s->removed = value;
    if (!DEVICE(s)->realized) {
        return;
    }
    kesync_update_intx(s);
    if (!value) {
        /*
         * Deliver what was held back (records, interrupts); a reset that
         * fell due while removed ends now.
         */
        qemu_bh_schedule(s->bh);
    }
}

static bool kesync_get_misdirect(Object *obj, Error **errp)
{
    return KESYNC_PCI(obj)->dev_fault & KESYNC_DEV_FAULT_MISDIRECT;
}

static void kesync_set_misdirect(Object *obj, bool value, Error **errp)
{
    KesyncState *s = KESYNC_PCI(obj);

    if (value) {
        s->dev_fault |= KESYNC_DEV_FAULT_MISDIRECT;
    } else {
        s->dev_fault &= ~KESYNC_DEV_FAULT_MISDIRECT;
    }
}

/* ---- VMState ------------------------------------------------------------- */

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
    unsigned u;

    if (x->unit >= s->conf.units) {
        return "transfer unit out of range";
    }
    if (x->timer_event > KESYNC_TEV_MAX) {
        return "bad transfer timer event";
    }
    if (s->live_gen > s->next_gen || s->timer_gen > s->next_gen) {
        return "generation from the future";
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
        if (x->fault > KESYNC_FAULT_KIND_MAX) {
            return "bad transfer fault kind";
        }
        /* RUN may have seen its timer fire already, HANG never arms it. */
        if (x->phase == KESYNC_PH_RUN && s->timer_gen != x->gen) {
            return "transfer timer of another transfer";
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
static void kesync_vm_state_change(void *opaque, bool running,
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

static const VMStateDescription vmstate_kesync = {
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

/* ---- Device life cycle --------------------------------------------------- */

/* Power-on reset: everything but the media and the host-side settings. */
static void kesync_reset(DeviceState *dev)
{
    KesyncState *s = KESYNC_PCI(dev);
    unsigned u;

    timer_del(&s->xfer_timer);
    timer_del(&s->reset_timer);
    qemu_bh_cancel(s->bh);
    s->resume_bh = false;
    memset(&s->xfer, 0, sizeof(s->xfer));
    s->live_gen = s->timer_gen = 0;
    s->scratch = s->intr_status = s->intr_enable = 0;
    s->cmpl_lo = s->cmpl_hi = s->dev_fault = s->reset_delay_us = 0;
    s->resetting = false;
    s->stat_mmio_reads = s->stat_mmio_writes = s->stat_ctrl_busy = 0;
    s->stat_late_dma = s->stat_xfers = s->stat_resets = 0;
    s->stat_irqs = s->stat_dma_errors = 0;
    for (u = 0; u < KESYNC_MAX_UNITS; u++) {
        KesyncUnit *un = &s->unit[u];

        un->desc_lo = un->desc_hi = 0;
        un->state = KESYNC_STATE_IDLE;
        un->err = un->bytes = un->tag = un->seq = 0;
        un->fault_kind = un->fault_count = un->fault_arg = 0;
        un->armed_kind = un->armed_arg = 0;
        un->stat_xfers = 0;
        un->stat_bytes = 0;
        un->note_pending = false;
    }
    s->intx_level = false;
    pci_set_irq(PCI_DEVICE(s), 0);
}

/*
 * The power management capability (D0 and D3hot, No_Soft_Reset 0, no PME)
 * and, on a PCIe port, the PCI Express endpoint capability with FLR and the
 * AER extended capability.
 */
static int kesync_init_caps(KesyncState *s, Error **errp)
{
    PCIDevice *pdev = PCI_DEVICE(s);
    int pos;

    pos = pci_add_capability(pdev, PCI_CAP_ID_PM, 0, PCI_PM_SIZEOF, errp);
    if (pos < 0) {
        return pos;
    }
    s->pm_cap = pos;
    pci_set_word(pdev->config + pos + PCI_PM_PMC, 3);  /* PCI PM 1.2 */
    pci_set_word(pdev->wmask + pos + PCI_PM_CTRL, PCI_PM_CTRL_STATE_MASK);

    if (!pci_is_express(pdev)) {
        return 0;
    }
    pos = pcie_endpoint_cap_init(pdev, 0);
    if (pos < 0) {
        error_setg(errp, "cannot add the PCI Express capability");
        return pos;
    }
    pcie_cap_deverr_init(pdev);
    pcie_cap_flr_init(pdev);
    pos = pcie_aer_init(pdev, PCI_ERR_VER, KESYNC_AER_OFFSET, PCI_ERR_SIZEOF,
                        errp);
    if (pos < 0) {
        pcie_cap_exit(pdev);
        return pos;
    }
    return 0;
}

static void kesync_uninit_caps(KesyncState *s)
{
    PCIDevice *pdev = PCI_DEVICE(s);

    if (pci_is_express(pdev)) {
        pcie_aer_exit(pdev);
        pcie_cap_exit(pdev);
    }
}

static void kesync_realize(PCIDevice *pdev, Error **errp)
{
    ERRP_GUARD();
    KesyncState *s = KESYNC_PCI(pdev);
    unsigned u, v;

    if (s->conf.units < 1 || s->conf.units > KESYNC_MAX_UNITS) {
        error_setg(errp, "units must be 1..%u", KESYNC_MAX_UNITS);
        return;
    }
    if (s->conf.unit_size == 0 || s->conf.unit_size > KESYNC_UNIT_SIZE_MAX) {
        error_setg(errp, "unit-size must be 1..%" PRIu64,
                   (uint64_t)KESYNC_UNIT_SIZE_MAX);
        return;
    }
    if (s->conf.max_segs < 1 || s->conf.max_segs > KESYNC_MAX_SEGS_LIMIT) {
        error_setg(errp, "max-segments must be 1..%u", KESYNC_MAX_SEGS_LIMIT);
        return;
    }
    if (s->conf.max_xfer < KESYNC_MAX_XFER_MIN ||
        s->conf.max_xfer > KESYNC_MAX_XFER_LIMIT) {
        error_setg(errp, "max-transfer must be %u..%u", KESYNC_MAX_XFER_MIN,
                   KESYNC_MAX_XFER_LIMIT);
        return;
    }
    if (s->conf.latency_ns > KESYNC_LATENCY_NS_MAX) {
        error_setg(errp, "latency-ns must be at most %" PRIu64,
                   (uint64_t)KESYNC_LATENCY_NS_MAX);
        return;
    }
    if (s->conf.ns_per_byte > KESYNC_NS_PER_BYTE_MAX) {
        error_setg(errp, "ns-per-byte must be at most %u",
                   KESYNC_NS_PER_BYTE_MAX);
        return;
    }

    pci_config_set_interrupt_pin(pdev->config, 1);
    memory_region_init_io(&s->mmio, OBJECT(s), &kesync_mmio_ops, s,
                          "kesync-regs", KESYNC_BAR0_SIZE);
    pci_register_bar(pdev, KESYNC_BAR_REGS, PCI_BASE_ADDRESS_SPACE_MEMORY,
                     &s->mmio);

    if (kesync_init_caps(s, errp)) {
        return;
    }
    if (s->conf.msi && msi_init(pdev, 0, 1, true, false, errp)) {
        kesync_uninit_caps(s);
        return;
    }
    if (s->conf.msix) {
        if (msix_init_exclusive_bar(pdev, s->conf.units + 1,
                                    KESYNC_BAR_MSIX, errp)) {
            msi_uninit(pdev);
            kesync_uninit_caps(s);
            return;
        }
        for (v = 0; v <= s->conf.units; v++) {
            msix_vector_use(pdev, v);
        }
    }

    for (u = 0; u < s->conf.units; u++) {
        KesyncUnit *un = &s->unit[u];
        g_autofree char *name = g_strdup_printf("kesync-unit%u", u);

        memory_region_init_ram(&un->medium, OBJECT(s), name,
                               s->conf.unit_size, errp);
        if (*errp) {
            while (u--) {
                vmstate_unregister_ram(&s->unit[u].medium, DEVICE(s));
            }
            if (s->conf.msix) {
                msix_uninit_exclusive_bar(pdev);
            }
            msi_uninit(pdev);
            kesync_uninit_caps(s);
            return;
        }
        un->data = memory_region_get_ram_ptr(&un->medium);
    }

    s->bh = qemu_bh_new_guarded(kesync_bh, s,
                                &DEVICE(s)->mem_reentrancy_guard);
    timer_init_ns(&s->xfer_timer, QEMU_CLOCK_VIRTUAL, kesync_xfer_timer, s);
    timer_init_ns(&s->reset_timer, QEMU_CLOCK_VIRTUAL, kesync_reset_timer, s);
    s->vmsc = qemu_add_vm_change_state_handler(kesync_vm_state_change, s);
}

static void kesync_exit(PCIDevice *pdev)
{
    KesyncState *s = KESYNC_PCI(pdev);
    unsigned u;

    qemu_del_vm_change_state_handler(s->vmsc);
    timer_del(&s->xfer_timer);
    timer_del(&s->reset_timer);
    qemu_bh_delete(s->bh);
    for (u = 0; u < s->conf.units; u++) {
        vmstate_unregister_ram(&s->unit[u].medium, DEVICE(s));
    }
    if (s->conf.msix) {
        msix_uninit_exclusive_bar(pdev);
    }
    msi_uninit(pdev);
    kesync_uninit_caps(s);
}

/*
 * units is range-checked when it is set, not only at realize: fault-unit and
 * fault-count, which may be set before realize too (-global, -device), check
 * their unit against it and then index unit[] with it.
 */
static void kesync_get_units(Object *obj, Visitor *v, const char *name,
                             void *opaque, Error **errp)
{
    Property *prop = opaque;
    uint32_t *ptr = object_field_prop_ptr(obj, prop);

    visit_type_uint32(v, name, ptr, errp);
}

static void kesync_set_units(Object *obj, Visitor *v, const char *name,
                             void *opaque, Error **errp)
{
    Property *prop = opaque;
    uint32_t *ptr = object_field_prop_ptr(obj, prop);
    uint32_t val;

    if (!visit_type_uint32(v, name, &val, errp)) {
        return;
    }
    if (val < 1 || val > KESYNC_MAX_UNITS) {
        error_setg(errp, "units must be 1..%u", KESYNC_MAX_UNITS);
        return;
    }
    *ptr = val;
}

static void kesync_set_default_units(ObjectProperty *op, const Property *prop)
{
    object_property_set_default_uint(op, prop->defval.u);
}

static const PropertyInfo kesync_prop_units = {
    .name = "uint32",
    .description = "number of units, 1-8",
    .get = kesync_get_units,
    .set = kesync_set_units,
    .set_default_value = kesync_set_default_units,
};

static Property kesync_properties[] = {
    DEFINE_PROP_UNSIGNED("units", KesyncState, conf.units, 2,
                         kesync_prop_units, uint32_t),
    DEFINE_PROP_SIZE("unit-size", KesyncState, conf.unit_size, 16 * MiB),
    DEFINE_PROP_UINT32("max-segments", KesyncState, conf.max_segs, 16),
    DEFINE_PROP_UINT32("max-transfer", KesyncState, conf.max_xfer, 64 * KiB),
    DEFINE_PROP_UINT64("latency-ns", KesyncState, conf.latency_ns, 20000),
    DEFINE_PROP_UINT32("ns-per-byte", KesyncState, conf.ns_per_byte, 1),
    DEFINE_PROP_BOOL("msix", KesyncState, conf.msix, true),
    DEFINE_PROP_BOOL("msi", KesyncState, conf.msi, true),
    DEFINE_PROP_END_OF_LIST(),
};

static void kesync_add_u32(ObjectClass *oc, const char *name, uintptr_t id,
                           bool writable, const char *desc)
{
    object_class_property_add(oc, name, "uint32", kesync_qom_get,
                              writable ? kesync_qom_set : NULL, NULL,
                              (void *)id);
    object_class_property_set_description(oc, name, desc);
}

static DeviceRealize kesync_parent_dc_realize;

/*
 * PCI Express on a PCIe port, conventional PCI elsewhere.  Decided before
 * the PCI core sizes configuration space (4 KiB for PCIe).
 */
static void kesync_dc_realize(DeviceState *dev, Error **errp)
{
    PCIBus *bus = PCI_BUS(qdev_get_parent_bus(dev));

    if (pci_bus_is_express(bus) && !pci_bus_is_root(bus)) {
        PCI_DEVICE(dev)->cap_present |= QEMU_PCI_CAP_EXPRESS;
    }
    kesync_parent_dc_realize(dev, errp);
}

static void kesync_class_init(ObjectClass *oc, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(oc);
    PCIDeviceClass *pc = PCI_DEVICE_CLASS(oc);

    pc->realize = kesync_realize;
    pc->exit = kesync_exit;
    pc->config_read = kesync_read_config;
    pc->config_write = kesync_write_config;
    pc->vendor_id = KESYNC_PCI_VENDOR_ID;
    pc->device_id = KESYNC_PCI_DEVICE_ID;
    pc->revision = KESYNC_PCI_REVISION;
    pc->class_id = KESYNC_PCI_CLASS >> 8;
    dc->desc = "kesync DMA transfer controller";
    dc->reset = kesync_reset;
    dc->vmsd = &vmstate_kesync;
    device_class_set_parent_realize(dc, kesync_dc_realize,
                                    &kesync_parent_dc_realize);
    device_class_set_props(dc, kesync_properties);
    set_bit(DEVICE_CATEGORY_MISC, dc->categories);

    kesync_add_u32(oc, "fault-unit", KESYNC_QOM_FAULT_UNIT, true,
                   "unit the next fault-count write arms");
    kesync_add_u32(oc, "fault-kind", KESYNC_QOM_FAULT_KIND, true,
                   "fault kind (enum kesync_fault_kind) to arm");
    kesync_add_u32(oc, "fault-arg", KESYNC_QOM_FAULT_ARG, true,
                   "fault argument to arm");
    kesync_add_u32(oc, "fault-count", KESYNC_QOM_FAULT_COUNT, true,
                   "arm fault-unit with fault-kind/arg for N transfers");
    kesync_add_u32(oc, "reset-delay-us", KESYNC_QOM_RESET_DELAY_US, true,
                   "the next controller reset takes this long (us)");
    kesync_add_u32(oc, "late-dma", KESYNC_QOM_LATE_DMA, false,
                   "STAT_LATE_DMA");
    kesync_add_u32(oc, "mmio-reads", KESYNC_QOM_MMIO_READS, false,
                   "STAT_MMIO_READS");
    kesync_add_u32(oc, "mmio-writes", KESYNC_QOM_MMIO_WRITES, false,
                   "STAT_MMIO_WRITES");
    kesync_add_u32(oc, "ctrl-busy", KESYNC_QOM_CTRL_BUSY, false,
                   "STAT_CTRL_BUSY");
    kesync_add_u32(oc, "xfers", KESYNC_QOM_XFERS, false, "STAT_XFERS");
    object_class_property_add_bool(oc, "surprise-removal", kesync_get_removed,
                                   kesync_set_removed);
    object_class_property_set_description(oc, "surprise-removal",
        "host only: MMIO reads all ones, writes, DMA and interrupts dropped");
    object_class_property_add_bool(oc, "misdirect-dma", kesync_get_misdirect,
                                   kesync_set_misdirect);
    object_class_property_set_description(oc, "misdirect-dma",
        "DEV_FAULT.MISDIRECT: next transfer's data DMA is misdirected");
}

static const TypeInfo kesync_info = {
    .name = TYPE_KESYNC_PCI,
    .parent = TYPE_PCI_DEVICE,
    .instance_size = sizeof(KesyncState),
    .class_init = kesync_class_init,
    .interfaces = (InterfaceInfo[]) {
        { INTERFACE_CONVENTIONAL_PCI_DEVICE },
        { INTERFACE_PCIE_DEVICE },
        { }
    },
};

static void kesync_register_types(void)
{
    type_register_static(&kesync_info);
}

type_init(kesync_register_types)

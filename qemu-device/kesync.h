/*
 * kesync-pci: internal interface between the device's files
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The state of the device and what its files call of each other:
 *   pci.c        the PCI function: realize/exit, class and properties,
 *                configuration space, PM, FLR and AER, reset
 *   regs.c       the BAR0 registers (MMIO)
 *   xfer.c       the transfer engine: doorbells, descriptor fetch, data
 *                DMA, completions, interrupts, controller reset, the BH
 *   fault.c      host-side fault injection and statistics (QOM properties)
 *   migration.c  VMState and the checks of a loaded state
 * kesync_hw.h is the register map, generated from the kesync project's
 * include/uapi/linux/kesync_hw.h when the device is grafted into QEMU.
 */

#ifndef HW_MISC_KESYNC_KESYNC_H
#define HW_MISC_KESYNC_KESYNC_H

#include "exec/memory.h"
#include "hw/pci/pci.h"
#include "qemu/timer.h"
#include "qemu/units.h"
#include "qom/object.h"
#include "sysemu/runstate.h"
#include "kesync_hw.h"

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
        bool cmpl_records;  /* off: CAPS_CMPL_RECORDS clear, no record */
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

static inline uint32_t kesync_unit_status(const KesyncUnit *un)
{
    return (un->state & KESYNC_USTAT_STATE_MASK) |
           ((un->err << KESYNC_USTAT_ERR_SHIFT) & KESYNC_USTAT_ERR_MASK);
}

static inline uint32_t kesync_units_mask(const KesyncState *s)
{
    return MAKE_64BIT_MASK(0, s->conf.units);
}

/*
 * Unplugged by a DMA (or message) of its own, which just returned: nothing
 * of the PCI device may be used any more, and no timer or BH armed.
 */
static inline bool kesync_gone(KesyncState *s)
{
    return !qatomic_read(&DEVICE(s)->realized);
}

/*
 * PMCSR reads D3hot: the function answers configuration cycles only (its
 * BARs read all ones, writes are dropped) and has nothing in flight, since
 * entering D3hot reset it (see kesync_write_config()).
 */
static inline bool kesync_d3hot(KesyncState *s)
{
    PCIDevice *pdev = PCI_DEVICE(s);

    return s->pm_cap &&
           (pci_get_word(pdev->config + s->pm_cap + PCI_PM_CTRL) &
            PCI_PM_CTRL_STATE_MASK) == 3;
}

/* Rule 11 of a segment but its reserved word. */
static inline bool kesync_seg_ok(uint64_t addr, uint32_t len)
{
    return len != 0 && addr + len > addr;
}

/* pci.c */
void kesync_unref(KesyncState *s);

/* regs.c */
extern const MemoryRegionOps kesync_mmio_ops;

/* xfer.c */
void kesync_update_intx(KesyncState *s);
void kesync_signal(KesyncState *s, uint32_t bit, unsigned vector);
void kesync_start(KesyncState *s, unsigned u);
void kesync_abort(KesyncState *s, unsigned u);
void kesync_ctrl_reset(KesyncState *s);
void kesync_bh(void *opaque);
void kesync_xfer_timer(void *opaque);
void kesync_reset_timer(void *opaque);

/* fault.c */
extern const char *const kesync_fault_names[];
void kesync_fault_class_init(ObjectClass *oc);

/* migration.c */
extern const VMStateDescription vmstate_kesync;
void kesync_vm_state_change(void *opaque, bool running, RunState state);

#endif

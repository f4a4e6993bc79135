/*
 * kesync-pci: the registers of BAR0
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/log.h"
#include "kesync.h"
#include "trace.h"

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
        *val = s->conf.units |
               (s->conf.cmpl_records ? KESYNC_CAPS_CMPL_RECORDS : 0) |
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

const MemoryRegionOps kesync_mmio_ops = {
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

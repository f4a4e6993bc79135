/*
 * kesync-pci: host-side fault injection and statistics (QOM properties)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/main-loop.h"
#include "qapi/error.h"
#include "qapi/visitor.h"
#include "kesync.h"
#include "trace.h"

/* Names of enum kesync_fault_kind, for the trace events. */
const char *const kesync_fault_names[] = {
    [KESYNC_FAULT_NONE] = "none",
    [KESYNC_FAULT_HANG] = "hang",
    [KESYNC_FAULT_LOST_IRQ] = "lost-irq",
    [KESYNC_FAULT_LATE] = "late",
    [KESYNC_FAULT_ERROR] = "error",
    [KESYNC_FAULT_SHORT] = "short",
    [KESYNC_FAULT_SPURIOUS] = "spurious",
    [KESYNC_FAULT_REFUSE] = "refuse",
    [KESYNC_FAULT_WRONG_TAG] = "wrong-tag",
};

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

static void kesync_add_u32(ObjectClass *oc, const char *name, uintptr_t id,
                           bool writable, const char *desc)
{
    object_class_property_add(oc, name, "uint32", kesync_qom_get,
                              writable ? kesync_qom_set : NULL, NULL,
                              (void *)id);
    object_class_property_set_description(oc, name, desc);
}

/* The host-side properties, added to the device's class. */
void kesync_fault_class_init(ObjectClass *oc)
{
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

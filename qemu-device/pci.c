/*
 * kesync-pci: a PCI bus-master DMA transfer controller with several units
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * What the device is, its properties and how to use it: kesync-pci.rst
 * (qemu-device/docs/ of the kesync project).  The specification it
 * implements is the project's docs/hardware.md; the register map is
 * include/uapi/linux/kesync_hw.h, generated here as kesync_hw.h.
 *
 * This file is the PCI function: realize and exit, class and properties,
 * configuration space, power management, FLR, AER and reset.  kesync.h
 * says what the other files hold.
 */

#include "qemu/osdep.h"
#include "qemu/log.h"
#include "qemu/main-loop.h"
#include "qapi/error.h"
#include "qapi/visitor.h"
#include "hw/pci/msi.h"
#include "hw/pci/msix.h"
#include "hw/pci/pcie.h"
#include "hw/pci/pcie_aer.h"
#include "hw/pci/pci_bus.h"
#include "hw/qdev-properties.h"
#include "migration/vmstate.h"
#include "kesync.h"
#include "trace.h"

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
void kesync_unref(KesyncState *s)
{
    if (kesync_gone(s)) {
        aio_bh_schedule_oneshot(qemu_get_aio_context(), kesync_unref_bh,
                                OBJECT(s));
    } else {
        object_unref(OBJECT(s));
    }
}

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

/* ---- Device life cycle --------------------------------------------------- */

/*
 * Power-on reset (docs/hardware.md 10.3): system reset, a secondary bus reset
 * of the port above, FLR and D3hot to D0 (pci_device_reset()), entering D3hot
 * (device_cold_reset(), configuration space kept) and hot plug.  Everything
 * but the media and the host-side settings.
 *
 * Resettable phases: enter puts the state back and stops the timers and the
 * bottom half, touching nothing outside the device; hold drives INTx low.
 * There is no exit phase: after a reset nothing runs until the guest writes
 * a register.  MSI, MSI-X and configuration space are the PCI core's, reset
 * after these phases by pci_device_reset() or the bus's reset.
 */
static void kesync_reset_enter(Object *obj, ResetType type)
{
    KesyncState *s = KESYNC_PCI(obj);
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
}

static void kesync_reset_hold(Object *obj)
{
    pci_set_irq(PCI_DEVICE(obj), 0);
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
    DEFINE_PROP_BOOL("cmpl-records", KesyncState, conf.cmpl_records, true),
    DEFINE_PROP_END_OF_LIST(),
};


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
    ResettableClass *rc = RESETTABLE_CLASS(oc);

    pc->realize = kesync_realize;
    pc->exit = kesync_exit;
    pc->config_read = kesync_read_config;
    pc->config_write = kesync_write_config;
    pc->vendor_id = KESYNC_PCI_VENDOR_ID;
    pc->device_id = KESYNC_PCI_DEVICE_ID;
    pc->revision = KESYNC_PCI_REVISION;
    pc->class_id = KESYNC_PCI_CLASS >> 8;
    dc->desc = "kesync DMA transfer controller";
    dc->vmsd = &vmstate_kesync;
    rc->phases.enter = kesync_reset_enter;
    rc->phases.hold = kesync_reset_hold;
    device_class_set_parent_realize(dc, kesync_dc_realize,
                                    &kesync_parent_dc_realize);
    device_class_set_props(dc, kesync_properties);
    set_bit(DEVICE_CATEGORY_MISC, dc->categories);

    kesync_fault_class_init(oc);
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

// SPDX-License-Identifier: GPL-2.0
/*
 * kesync: PCI bus glue.  Probe identifies the device, sets up DMA, the
 * completion records and descriptors, the interrupt vectors (MSI-X, else
 * MSI, else INTx) and the units; remove tears them down in the order
 * docs/driver-design.md explains.  A reset of the function, a system sleep
 * and PCI error recovery quiesce the controller and set its hardware up
 * again (kesync_quiesce(), kesync_reinit(), kesync_unquiesce()).
 */

#include <linux/dma-mapping.h>
#include <linux/cpumask.h>
#include <linux/idr.h>
#include <linux/interrupt.h>
#include <linux/iopoll.h>
#include <linux/kstrtox.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/sched/clock.h>
#include <linux/slab.h>
#include <linux/sysfs.h>

#include "kesync-hw.h"

#define KESYNC_IRQ_AUTO		(-1)

static char *irq_mode = "auto";
module_param(irq_mode, charp, 0444);
MODULE_PARM_DESC(irq_mode,
		 "interrupt mode: auto (MSI-X, then MSI, then INTx), msix, msi or intx");

static char *pump = "startio";
module_param(pump, charp, 0444);
MODULE_PARM_DESC(pump,
		 "request pump: startio (StartIo from dispatch and DpcForIsr) or thread (a kthread per controller)");

static unsigned int timeout = 5;
module_param(timeout, uint, 0444);
MODULE_PARM_DESC(timeout, "initial transfer timeout of each unit, seconds (1..3600)");

unsigned int kesync_reset_timeout_ms = 1000;

/*
 * 0 would declare the controller dead at its first reset; hours would hold
 * the reset worker, remove() and KESYNC_IOC_RESET that long.
 */
#define KESYNC_RESET_TIMEOUT_MS_MIN	10
#define KESYNC_RESET_TIMEOUT_MS_MAX	60000

static int kesync_reset_timeout_set(const char *val,
				    const struct kernel_param *kp)
{
	unsigned int ms;
	int ret;

	ret = kstrtouint(val, 0, &ms);
	if (ret)
		return ret;
	if (ms < KESYNC_RESET_TIMEOUT_MS_MIN || ms > KESYNC_RESET_TIMEOUT_MS_MAX)
		return -EINVAL;
	WRITE_ONCE(*(unsigned int *)kp->arg, ms);
	return 0;
}

static const struct kernel_param_ops kesync_reset_timeout_ops = {
	.set = kesync_reset_timeout_set,
	.get = param_get_uint,
};
module_param_cb(reset_timeout_ms, &kesync_reset_timeout_ops,
		&kesync_reset_timeout_ms, 0644);
__MODULE_PARM_TYPE(reset_timeout_ms, "uint");
MODULE_PARM_DESC(reset_timeout_ms,
		 "how long one controller reset attempt may take (ms, 10..60000); 3 attempts, then the controller is dead");

/*
 * irqoff_stats: the interrupts-off accounting of debugfs "irqoff".  Off by
 * default (it reads the clock twice per lock hold); can be switched at any
 * time through /sys/module/kesync/parameters/irqoff_stats.
 */
static int kesync_irqoff_stats_set(const char *val,
				   const struct kernel_param *kp)
{
	bool on;
	int ret;

	/* A bare "irqoff_stats" means on, as for a bool parameter. */
	ret = kstrtobool(val ?: "1", &on);
	if (ret)
		return ret;
	if (on)
		static_branch_enable(&kesync_irqoff_key);
	else
		static_branch_disable(&kesync_irqoff_key);
	return 0;
}

static int kesync_irqoff_stats_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%c\n",
			  static_key_enabled(&kesync_irqoff_key) ? 'Y' : 'N');
}

static const struct kernel_param_ops kesync_irqoff_stats_ops = {
	.flags = KERNEL_PARAM_OPS_FL_NOARG,
	.set = kesync_irqoff_stats_set,
	.get = kesync_irqoff_stats_get,
};
module_param_cb(irqoff_stats, &kesync_irqoff_stats_ops, NULL, 0644);
__MODULE_PARM_TYPE(irqoff_stats, "bool");
MODULE_PARM_DESC(irqoff_stats,
		 "account how long the ISR and each SynchCritSection keep interrupts off (debugfs irqoff)");

/* Parsed at module load. */
static int kesync_irq_mode_param;
static int kesync_pump_param;

/* Controller numbers, for names. */
static DEFINE_IDA(kesync_ctrl_ida);

/* How long probe waits for a reset: the longest RESET_DELAY_US, plus 1 s. */
#define KESYNC_PROBE_RESET_US	(11 * USEC_PER_SEC)

static const char *const kesync_irq_mode_names[] = {
	[KESYNC_IRQ_MSIX] = "msix",
	[KESYNC_IRQ_MSI] = "msi",
	[KESYNC_IRQ_INTX] = "intx",
};

static const char *const kesync_pump_names[] = {
	[KESYNC_PUMP_STARTIO] = "startio",
	[KESYNC_PUMP_THREAD] = "thread",
};

const char *kesync_irq_mode_name(int mode)
{
	return mode >= 0 && mode < ARRAY_SIZE(kesync_irq_mode_names) ?
	       kesync_irq_mode_names[mode] : "none";
}

const char *kesync_pump_name(int p)
{
	return p >= 0 && p < ARRAY_SIZE(kesync_pump_names) ?
	       kesync_pump_names[p] : "none";
}

static void kesync_dev_release(struct kref *kref)
{
	struct kesync_dev *kdev = container_of(kref, struct kesync_dev, kref);

	ida_free(&kesync_ctrl_ida, kdev->id);
	mutex_destroy(&kdev->pm.lock);
	pci_dev_put(kdev->pdev);
	kfree(kdev);
}

/**
 * kesync_dev_put - drop a reference on the controller structure
 * @kdev: the controller
 *
 * The structure outlives remove() while units (open files) use it.
 *
 * Context: any sleepable context.
 */
void kesync_dev_put(struct kesync_dev *kdev)
{
	kref_put(&kdev->kref, kesync_dev_release);
}

/* ---- Identification and hardware set-up --------------------------------- */

static int kesync_identify(struct kesync_dev *kdev)
{
	struct device *dev = &kdev->pdev->dev;
	u32 magic, max_segs, max_xfer;

	magic = kesync_rd(kdev, KESYNC_REG_MAGIC);
	if (magic != KESYNC_MAGIC) {
		dev_err(dev, "not a kesync controller: MAGIC reads 0x%08x, expected 0x%08x%s\n",
			magic, KESYNC_MAGIC,
			magic == ~0u ? " (device gone?)" : "");
		return -ENODEV;
	}
	kdev->version = kesync_rd(kdev, KESYNC_REG_VERSION);
	if (kdev->version >> 16 != KESYNC_VERSION_MAJOR) {
		dev_err(dev, "unsupported kesync interface version %u.%u (driver supports %u.x)\n",
			kdev->version >> 16, kdev->version & 0xffff,
			KESYNC_VERSION_MAJOR);
		return -ENODEV;
	}
	kdev->caps = kesync_rd(kdev, KESYNC_REG_CAPS);
	kdev->nunits = kdev->caps & KESYNC_CAPS_UNITS_MASK;
	max_segs = kesync_rd(kdev, KESYNC_REG_MAX_SEGS);
	max_xfer = kesync_rd(kdev, KESYNC_REG_MAX_XFER);
	kdev->unit_size = kesync_rd(kdev, KESYNC_REG_UNIT_SIZE_LO) |
			  (u64)kesync_rd(kdev, KESYNC_REG_UNIT_SIZE_HI) << 32;
	if (kdev->nunits < 1 || kdev->nunits > KESYNC_MAX_UNITS ||
	    max_segs < 1 || max_segs > KESYNC_MAX_SEGS_LIMIT ||
	    max_xfer < 1 || max_xfer > KESYNC_MAX_XFER_LIMIT ||
	    !kdev->unit_size || kdev->unit_size > LLONG_MAX) {	/* loff_t */
		dev_err(dev, "bad geometry: units %u, max segments %u, max transfer %u, unit size %llu\n",
			kdev->nunits, max_segs, max_xfer, kdev->unit_size);
		return -ENODEV;
	}
	kdev->max_segs = max_segs;
	kdev->max_xfer = max_xfer;
	kdev->has_records = kdev->caps & KESYNC_CAPS_CMPL_RECORDS;
	return 0;
}

/*
 * Reset and wait, polling: the ISR is not connected (probe) or gone.
 * STATUS reading all ones ends the wait only when configuration space
 * confirms the function is gone; otherwise it is a reset not done yet.
 */
static int kesync_hw_reset_poll(struct kesync_dev *kdev, u64 timeout_us)
{
	u32 st;
	int ret;

	kesync_wr(kdev, KESYNC_REG_CTRL, KESYNC_CTRL_RESET);
	ret = readl_poll_timeout(kdev->regs + KESYNC_REG_STATUS, st,
				 !(st & KESYNC_STATUS_RESETTING) ||
				 (st == ~0u && kesync_hw_absent(kdev)),
				 100, timeout_us);
	if (!ret && st == ~0u)
		ret = -ENODEV;
	return ret;
}

/*
 * Quiet the device, reset it, and tell it where the completion records and
 * each unit's descriptor are: they survive controller resets, so the
 * transfer hot path is the doorbell write alone.  At probe it runs before
 * the ISR is connected, so the ISR-shared state is set up here directly
 * (@resync); after a reset of the function the controller is offline and
 * kesync_scs_online() does that under the interrupt lock.
 */
static int kesync_hw_init(struct kesync_dev *kdev, bool resync)
{
	unsigned int i;
	int ret;

	kesync_wr(kdev, KESYNC_REG_INTR_ENABLE, 0);
	ret = kesync_hw_reset_poll(kdev, KESYNC_PROBE_RESET_US);
	if (ret) {
		dev_err(&kdev->pdev->dev, "controller reset failed: %d\n", ret);
		return ret;
	}
	kesync_wr(kdev, KESYNC_REG_INTR_STATUS, ~0u);	/* W1C: all clear */
	if (kdev->has_records) {
		kesync_wr(kdev, KESYNC_REG_CMPL_ADDR_LO,
			  lower_32_bits(kdev->recs_dma));
		kesync_wr(kdev, KESYNC_REG_CMPL_ADDR_HI,
			  upper_32_bits(kdev->recs_dma));
	}
	for (i = 0; i < kdev->nunits; i++) {
		struct kesync_unit *u = kdev->units[i];

		kesync_unit_wr(u, KESYNC_UNIT_DESC_LO,
			       lower_32_bits(u->desc_dma));
		kesync_unit_wr(u, KESYNC_UNIT_DESC_HI,
			       upper_32_bits(u->desc_dma));
		if (resync)
			kesync_unit_resync_seq(u);
	}
	kdev->intr_mask = GENMASK(kdev->nunits - 1, 0) | KESYNC_INTR_CTRL_MASK;
	return 0;
}

/*
 * Stop the device for good: no interrupts, no transfer, no DMA.  A reset
 * that does not finish in time (stuck reset) is left to finish on its own:
 * with bus mastering off the device can do no DMA anyway.
 */
static void kesync_hw_stop(struct kesync_dev *kdev)
{
	unsigned long deadline;

	if (!kesync_hw_gone(kdev)) {
		kesync_wr(kdev, KESYNC_REG_INTR_ENABLE, 0);
		kesync_sync_exec(kdev, &kesync_scs_reset, NULL);
		deadline = jiffies +
			   msecs_to_jiffies(READ_ONCE(kesync_reset_timeout_ms));
		while (kesync_rd(kdev, KESYNC_REG_STATUS) &
		       KESYNC_STATUS_RESETTING) {
			if (time_after(jiffies, deadline) ||
			    kesync_hw_gone(kdev)) {
				dev_warn(&kdev->pdev->dev,
					 "reset not done at remove; bus mastering off\n");
				break;
			}
			usleep_range(100, 200);
		}
	}
	pci_clear_master(kdev->pdev);
}

/* ---- Interrupt vectors --------------------------------------------------- */

static int kesync_alloc_vectors(struct kesync_dev *kdev)
{
	struct pci_dev *pdev = kdev->pdev;
	int mode = kesync_irq_mode_param;
	int nvec = kdev->nunits + 1;
	int ret;

	if (mode == KESYNC_IRQ_AUTO || mode == KESYNC_IRQ_MSIX) {
		ret = pci_alloc_irq_vectors(pdev, nvec, nvec, PCI_IRQ_MSIX);
		if (ret == nvec) {
			kdev->irq_mode = KESYNC_IRQ_MSIX;
			kdev->nvecs = nvec;
			return 0;
		}
		if (mode == KESYNC_IRQ_MSIX) {
			dev_err(&pdev->dev, "irq_mode=msix: cannot get %d MSI-X vectors (%d)\n",
				nvec, ret);
			return ret < 0 ? ret : -ENOSPC;
		}
	}
	if (mode == KESYNC_IRQ_AUTO || mode == KESYNC_IRQ_MSI) {
		ret = pci_alloc_irq_vectors(pdev, 1, 1, PCI_IRQ_MSI);
		if (ret == 1) {
			kdev->irq_mode = KESYNC_IRQ_MSI;
			kdev->nvecs = 1;
			return 0;
		}
		if (mode == KESYNC_IRQ_MSI) {
			dev_err(&pdev->dev, "irq_mode=msi: no MSI (%d)\n", ret);
			return ret < 0 ? ret : -ENOSPC;
		}
	}
	ret = pci_alloc_irq_vectors(pdev, 1, 1, PCI_IRQ_INTX);
	if (ret != 1) {
		dev_err(&pdev->dev, "no interrupt: no INTx line (%d)\n", ret);
		return ret < 0 ? ret : -ENOSPC;
	}
	kdev->irq_mode = KESYNC_IRQ_INTX;
	kdev->nvecs = 1;
	return 0;
}

static void kesync_free_irq_handlers(struct kesync_dev *kdev,
				     unsigned int nunits, bool ctrl)
{
	struct pci_dev *pdev = kdev->pdev;
	unsigned int i, vec = KESYNC_MSIX_VEC_CTRL(kdev->nunits);
	int irq;

	for (i = 0; i < kdev->nunits; i++)
		kdev->units[i]->irq = 0;
	if (kdev->irq_mode != KESYNC_IRQ_MSIX) {
		if (ctrl)
			free_irq(pci_irq_vector(pdev, 0), kdev);
		return;
	}
	if (ctrl)
		free_irq(pci_irq_vector(pdev, vec), kdev);
	for (i = 0; i < nunits; i++) {
		irq = pci_irq_vector(pdev, KESYNC_MSIX_VEC_UNIT(i));
		/* free_irq() warns about a hint left set. */
		irq_update_affinity_hint(irq, NULL);
		free_irq(irq, kdev->units[i]);
	}
}

/*
 * kesync_spread_irq - where a unit's MSI-X vector interrupts
 *
 * Unit i's vector goes to the i-th CPU of cpumask_local_spread() (the
 * CPUs of the device's NUMA node first), and the same CPU is its hint
 * (/proc/irq/N/affinity_hint), as nvme spreads its queues' vectors: units
 * used at once complete on different CPUs, and a submitter that runs on
 * its unit's CPU (/proc/irq/N/effective_affinity_list, N the line of
 * "kesync-ctlC-uI" in /proc/interrupts) has its DpcForIsr, the DPC's
 * wake-up and its own return on one CPU.  The vectors are not managed
 * (no PCI_IRQ_AFFINITY): the administrator may move them, and a vector
 * whose CPU goes offline moves to another one instead of shutting down,
 * which would leave the unit's completions to the IoTimer.  A failure
 * leaves the vector where the IRQ core put it.
 *
 * Called before request_irq(): the vector starts on its CPU.  Once
 * started, an x86 vector without interrupt remapping moves only at its
 * next interrupt, which then still lands on the old CPU, and
 * effective_affinity_list names the old CPU until then.
 */
static void kesync_spread_irq(struct kesync_dev *kdev, unsigned int index,
			      int irq)
{
	unsigned int cpu = cpumask_local_spread(index,
						dev_to_node(&kdev->pdev->dev));
	int ret;

	ret = irq_set_affinity_and_hint(irq, cpumask_of(cpu));
	if (ret)
		dev_dbg(&kdev->pdev->dev,
			"unit %u: interrupt not moved to CPU %u (%d)\n",
			index, cpu, ret);
}

/*
 * Connect the ISRs: per unit and controller with MSI-X, else one shared.
 * Each unit's vector is spread over the CPUs (kesync_spread_irq()); the
 * controller's vector, rare events only, is left where it lands.
 */
static int kesync_request_irqs(struct kesync_dev *kdev)
{
	struct pci_dev *pdev = kdev->pdev;
	unsigned int i, vec = KESYNC_MSIX_VEC_CTRL(kdev->nunits);
	int ret, irq;

	if (kdev->irq_mode != KESYNC_IRQ_MSIX) {
		irq = pci_irq_vector(pdev, 0);
		ret = request_irq(irq, kesync_isr_shared,
				  kdev->irq_mode == KESYNC_IRQ_INTX ?
				  IRQF_SHARED : 0, kdev->name, kdev);
		for (i = 0; !ret && i < kdev->nunits; i++)
			kdev->units[i]->irq = irq;
		return ret;
	}

	for (i = 0; i < kdev->nunits; i++) {
		struct kesync_unit *u = kdev->units[i];

		snprintf(u->irq_name, sizeof(u->irq_name), "%s-u%u",
			 kdev->name, i);
		irq = pci_irq_vector(pdev, KESYNC_MSIX_VEC_UNIT(i));
		kesync_spread_irq(kdev, i, irq);
		ret = request_irq(irq, kesync_isr_unit, 0, u->irq_name, u);
		if (ret) {
			irq_update_affinity_hint(irq, NULL);
			goto free_units;
		}
		u->irq = irq;
	}
	ret = request_irq(pci_irq_vector(pdev, vec), kesync_isr_ctrl, 0,
			  kdev->name, kdev);
	if (ret)
		goto free_units;
	return 0;

free_units:
	kesync_free_irq_handlers(kdev, i, false);
	return ret;
}

/* free_irq() waits for running handlers: this is the synchronize_irq(). */
static void kesync_free_irqs(struct kesync_dev *kdev)
{
	kesync_free_irq_handlers(kdev, kdev->nunits, true);
	pci_free_irq_vectors(kdev->pdev);
}

/* ---- Function reset, system sleep, PCI error recovery --------------------- */

/* No ISR of the controller runs any more on any CPU. */
static void kesync_sync_irqs(struct kesync_dev *kdev)
{
	unsigned int i;

	for (i = 0; i < kdev->nvecs; i++)
		synchronize_irq(pci_irq_vector(kdev->pdev, i));
}

static bool kesync_io_stopped(struct kesync_dev *kdev)
{
	bool stopped;

	spin_lock_bh(&kdev->io.lock);
	stopped = kdev->io.stopped;
	spin_unlock_bh(&kdev->io.lock);
	return stopped;
}

/**
 * kesync_quiesce - stop the controller before its function is reset,
 * suspended, or recovered from an error
 * @kdev: the controller
 * @touch_hw: the device answers MMIO (false: an error froze its link)
 *
 * Takes the controller offline (kesync_scs_offline()): from here until
 * kesync_unquiesce() no transfer is programmed, so the IoTimer counts
 * nothing, and requests wait where they are: queued, waiting for the
 * controller object, or, the one whose transfer was in flight, marked to
 * be programmed again afterwards (the device copies a transfer's data only
 * when it completes, so a transfer cut short moved no byte; a retry is
 * safe).  That transfer is stopped with a controller reset; a reset the
 * IoTimer or KESYNC_IOC_RESET had started is waited for (bounded by the
 * reset attempts); then the device's interrupts are disabled, and the ISRs
 * and the units' DpcForIsr are waited for.  With @touch_hw false nothing
 * of the device is touched: the reset of the function that follows stops
 * it.
 *
 * A DpcForIsr that runs after this finds nothing to take from the device:
 * no ISR runs, the IoTimer's counters are stopped, a cancel does not abort
 * while the controller is offline, and programming is refused; it touches
 * no register.  So the DPCs (softirq, kesync_dpc) need no disabling, and
 * kesync_unquiesce() kicks the units it concerns.
 *
 * Context: process; sleeps; under the device lock (PCI core).
 */
static void kesync_quiesce(struct kesync_dev *kdev, bool touch_hw)
{
	struct kesync_offline_ctx o = { .touch_hw = touch_hw };
	unsigned int i;
	u32 st;

	mutex_lock(&kdev->pm.lock);
	if (kdev->pm.quiesced)
		goto unlock;
	kdev->pm.quiesced = true;
	kdev->pm.quiesces++;
	kesync_sync_exec(kdev, &kesync_scs_offline, &o);
	flush_work(&kdev->reset_work);
	if (touch_hw && !kesync_io_stopped(kdev)) {
		kesync_wr(kdev, KESYNC_REG_INTR_ENABLE, 0);
		/*
		 * The transfer stopped at the CTRL.RESET write, which this
		 * read flushes; the reset itself ends soon after.
		 */
		if (readl_poll_timeout(kdev->regs + KESYNC_REG_STATUS, st,
				       !(st & KESYNC_STATUS_RESETTING) ||
				       (st == ~0u && kesync_hw_absent(kdev)),
				       100, READ_ONCE(kesync_reset_timeout_ms) *
				       USEC_PER_MSEC))
			dev_warn(&kdev->pdev->dev,
				 "controller reset not done before the function reset (STATUS 0x%x)\n",
				 st);
	}
	kesync_sync_irqs(kdev);
	/* One the ISR queued before the line went quiet may still run. */
	for (i = 0; i < kdev->nunits; i++)
		kesync_dpc_flush(&kdev->units[i]->dpc);
	dev_dbg(&kdev->pdev->dev, "quiesced (%u), %s\n", kdev->pm.quiesces,
		o.stopped ? "a transfer stopped" : "idle");
unlock:
	mutex_unlock(&kdev->pm.lock);
}

/**
 * kesync_reinit - set the hardware up again once its function is back
 * @kdev: the controller, quiesced
 *
 * A reset of the function (FLR, D3hot to D0, a secondary bus reset, QEMU's
 * reset on an S3 wake-up) clears DESC, CMPL_ADDR and INTR_ENABLE: the
 * hardware initialisation of probe runs again.  If the device does not
 * come back, the controller is declared dead: its requests fail with
 * -EIO (-ENODEV when it is gone) instead of waiting for ever.
 *
 * Context: process; sleeps; under the device lock (PCI core).
 * Return: 0, or the error that killed the controller.
 */
static int kesync_reinit(struct kesync_dev *kdev)
{
	int ret = 0;
	u32 magic;

	mutex_lock(&kdev->pm.lock);
	if (!kdev->pm.quiesced)
		goto unlock;
	if (kesync_io_stopped(kdev)) {
		/* Dead already (gone, or its resets failed): not recovered. */
		ret = -EIO;
		goto unlock;
	}
	/* Not restored (no saved state), the BAR would read zeros. */
	magic = kesync_rd(kdev, KESYNC_REG_MAGIC);
	if (magic != KESYNC_MAGIC) {
		dev_err(&kdev->pdev->dev, "MAGIC reads 0x%08x after the reset\n",
			magic);
		ret = magic == ~0u && kesync_hw_absent(kdev) ? -ENODEV : -EIO;
	} else {
		ret = kesync_hw_init(kdev, false);
	}
	if (ret) {
		dev_err(&kdev->pdev->dev,
			"not working after a reset of the function (%d)\n",
			ret);
		kesync_mark_dead(kdev, ret == -ENODEV ? -ENODEV : -EIO);
	}
unlock:
	mutex_unlock(&kdev->pm.lock);
	return ret;
}

/**
 * kesync_unquiesce - let the requests go on
 * @kdev: the controller
 *
 * After kesync_reinit(): the controller comes back online, its interrupts
 * are enabled, bus mastering is on again if the reset worker had turned it
 * off for a bad read (the function was reset since), and the DpcForIsr of
 * every unit whose transfer was stopped or refused meanwhile programs it
 * again.
 *
 * Context: process; under the device lock (PCI core).
 */
static void kesync_unquiesce(struct kesync_dev *kdev)
{
	struct kesync_reset_fin_ctx fin;
	unsigned int i;

	mutex_lock(&kdev->pm.lock);
	if (!kdev->pm.quiesced)
		goto unlock;
	kdev->pm.quiesced = false;
	if (kesync_io_stopped(kdev))
		goto unlock;	/* dead: the DpcForIsr fail everything */
	kesync_sync_exec(kdev, &kesync_scs_online, &fin);
	if (fin.set_master)
		pci_set_master(kdev->pdev);
	kesync_wr(kdev, KESYNC_REG_INTR_ENABLE, kdev->intr_mask);
	for_each_set_bit(i, &fin.kick, kdev->nunits)
		kesync_dpc_queue(&kdev->units[i]->dpc);
unlock:
	mutex_unlock(&kdev->pm.lock);
}

static void kesync_reset_prepare(struct pci_dev *pdev)
{
	kesync_quiesce(pci_get_drvdata(pdev), true);
}

static void kesync_reset_done(struct pci_dev *pdev)
{
	struct kesync_dev *kdev = pci_get_drvdata(pdev);

	kesync_reinit(kdev);
	kesync_unquiesce(kdev);
}

/*
 * PCI error recovery (Documentation/PCI/pci-error-recovery.rst).  A
 * non-fatal error leaves the link up: quiesce, reset the controller and
 * set it up again in mmio_enabled.  A fatal one froze the link: quiesce
 * without touching the device; the PCI core resets the link (a secondary
 * bus reset, a reset of the function), then slot_reset sets the hardware
 * up again.  resume lets the requests go on.  A permanent failure kills
 * the controller: its requests fail with -ENODEV.
 */
static pci_ers_result_t kesync_error_detected(struct pci_dev *pdev,
					      pci_channel_state_t state)
{
	struct kesync_dev *kdev = pci_get_drvdata(pdev);

	dev_info(&pdev->dev, "PCI error (channel state %d): quiescing\n",
		 state);
	switch (state) {
	case pci_channel_io_normal:
		kesync_quiesce(kdev, true);
		return PCI_ERS_RESULT_CAN_RECOVER;
	case pci_channel_io_frozen:
		kesync_quiesce(kdev, false);
		return PCI_ERS_RESULT_NEED_RESET;
	case pci_channel_io_perm_failure:
		break;
	}
	kesync_quiesce(kdev, false);
	kesync_mark_dead(kdev, -ENODEV);
	return PCI_ERS_RESULT_DISCONNECT;
}

static pci_ers_result_t kesync_mmio_enabled(struct pci_dev *pdev)
{
	return kesync_reinit(pci_get_drvdata(pdev)) ?
	       PCI_ERS_RESULT_DISCONNECT : PCI_ERS_RESULT_RECOVERED;
}

/*
 * The link reset (a secondary bus reset) reset the function's
 * configuration too, and the PCI core does not restore it: restore what
 * probe saved, and save it again for the next time.
 */
static pci_ers_result_t kesync_slot_reset(struct pci_dev *pdev)
{
	pci_restore_state(pdev);
	pci_save_state(pdev);
	return kesync_reinit(pci_get_drvdata(pdev)) ?
	       PCI_ERS_RESULT_DISCONNECT : PCI_ERS_RESULT_RECOVERED;
}

static void kesync_error_resume(struct pci_dev *pdev)
{
	struct kesync_dev *kdev = pci_get_drvdata(pdev);

	kesync_unquiesce(kdev);
	dev_info(&pdev->dev, "recovered from the PCI error\n");
}

static const struct pci_error_handlers kesync_err_handlers = {
	.error_detected	= kesync_error_detected,
	.mmio_enabled	= kesync_mmio_enabled,
	.slot_reset	= kesync_slot_reset,
	.resume		= kesync_error_resume,
	.reset_prepare	= kesync_reset_prepare,
	.reset_done	= kesync_reset_done,
};

/*
 * System sleep: suspend, freeze (hibernation image) and poweroff quiesce;
 * the PCI core then saves the configuration and puts the function in
 * D3hot.  resume, thaw and restore find it reset (D3hot to D0 resets it,
 * and QEMU resets every device on an S3 wake-up): set it up again.
 */
static int kesync_suspend(struct device *dev)
{
	kesync_quiesce(dev_get_drvdata(dev), true);
	return 0;
}

static int kesync_resume(struct device *dev)
{
	struct kesync_dev *kdev = dev_get_drvdata(dev);

	kesync_reinit(kdev);
	kesync_unquiesce(kdev);
	return 0;
}

static DEFINE_SIMPLE_DEV_PM_OPS(kesync_pm_ops, kesync_suspend, kesync_resume);

/* ---- Probe and remove ---------------------------------------------------- */

static int kesync_alloc_dma(struct kesync_dev *kdev)
{
	struct device *dev = &kdev->pdev->dev;
	unsigned int i;

	kdev->recs = dmam_alloc_coherent(dev, kdev->nunits *
					 sizeof(struct kesync_cmpl),
					 &kdev->recs_dma, GFP_KERNEL);
	if (!kdev->recs)
		return -ENOMEM;
	/* Page-aligned, so KESYNC_CMPL_ALIGN and KESYNC_DESC_ALIGN hold. */
	for (i = 0; i < kdev->nunits; i++) {
		struct kesync_unit *u = kdev->units[i];

		u->rec = &kdev->recs[i];
		u->desc = dmam_alloc_coherent(dev,
					      KESYNC_DESC_SIZE(kdev->max_segs),
					      &u->desc_dma, GFP_KERNEL);
		if (!u->desc)
			return -ENOMEM;
		/* Window N + 1's segments (kesync_prebuild_window()). */
		u->next_segs = devm_kcalloc(dev, kdev->max_segs,
					    sizeof(*u->next_segs), GFP_KERNEL);
		if (!u->next_segs)
			return -ENOMEM;
	}
	return 0;
}

static void kesync_put_units(struct kesync_dev *kdev)
{
	unsigned int i;

	for (i = 0; i < kdev->nunits; i++) {
		if (kdev->units[i])
			kesync_unit_put(kdev->units[i]);
		kdev->units[i] = NULL;
	}
}

static int kesync_alloc_units(struct kesync_dev *kdev)
{
	struct kesync_unit *u;
	unsigned int i;

	for (i = 0; i < kdev->nunits; i++) {
		u = kesync_unit_alloc(kdev, i);
		if (IS_ERR(u))
			return PTR_ERR(u);
		u->regs = kdev->regs + KESYNC_UNIT_BASE(i);
		u->timeout = timeout;
		kdev->units[i] = u;
	}
	return 0;
}

/*
 * kesync_set_max_seg_size - what one scatterlist entry may hold
 *
 * A transfer's worth, in whole pages (sg tables are built from pages):
 * longer entries are split per transfer anyway (kesync_build_window()),
 * and this keeps the DMA layer (an IOMMU merging entries, DMA-API debug)
 * in agreement.  And no more than the DMA layer can map in one piece:
 * when swiotlb bounces (swiotlb=force, a DMA mask below some memory, a
 * confidential guest) that is dma_max_mapping_size(), 256 KiB by default,
 * and a huge page would otherwise give one entry of 2 MiB that swiotlb
 * refuses (the request fails with EIO).  dma_max_mapping_size() depends
 * on the DMA mask: called after it is set.
 *
 * dma_set_max_seg_size() returns an error on 6.1 and nothing from 6.12
 * on (it warns there): reading the value back checks it on every kernel.
 *
 * Context: probe; process.
 * Return: 0, or -EIO when the device cannot map one page or keep the size.
 */
static int kesync_set_max_seg_size(struct kesync_dev *kdev)
{
	struct device *dev = &kdev->pdev->dev;
	size_t map_max = dma_max_mapping_size(dev);
	size_t seg = max_t(size_t, rounddown(kdev->max_xfer, PAGE_SIZE),
			   PAGE_SIZE);

	if (map_max < PAGE_SIZE) {
		dev_err(dev, "the DMA layer maps only %zu bytes at once\n",
			map_max);
		return -EIO;
	}
	if (seg > rounddown(map_max, PAGE_SIZE)) {
		seg = rounddown(map_max, PAGE_SIZE);
		dev_info(dev, "DMA segments of at most %zu bytes (dma_max_mapping_size())\n",
			 seg);
	}
	kdev->max_seg_size = seg;
	dma_set_max_seg_size(dev, kdev->max_seg_size);
	if (dma_get_max_seg_size(dev) != kdev->max_seg_size) {
		dev_err(dev, "cannot set the DMA segment size\n");
		return -EIO;
	}
	return 0;
}

static int kesync_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct device *dev = &pdev->dev;
	struct kesync_dev *kdev;
	unsigned int i, registered = 0;
	int ret;

	ret = pcim_enable_device(pdev);
	if (ret)
		return dev_err_probe(dev, ret, "cannot enable device\n");
	ret = pcim_iomap_regions(pdev, BIT(KESYNC_BAR_REGS), KESYNC_NAME);
	if (ret)
		return dev_err_probe(dev, ret, "cannot map BAR%d\n",
				     KESYNC_BAR_REGS);
	if (pci_resource_len(pdev, KESYNC_BAR_REGS) < KESYNC_BAR0_SIZE) {
		dev_err(dev, "BAR%d too small\n", KESYNC_BAR_REGS);
		return -ENODEV;
	}

	kdev = kzalloc(sizeof(*kdev), GFP_KERNEL);
	if (!kdev)
		return -ENOMEM;
	kref_init(&kdev->kref);
	mutex_init(&kdev->pm.lock);
	kdev->irqoff_since = local_clock();
	kdev->id = ida_alloc(&kesync_ctrl_ida, GFP_KERNEL);
	if (kdev->id < 0) {
		ret = kdev->id;
		kfree(kdev);
		return ret;
	}
	kdev->pdev = pci_dev_get(pdev);
	kdev->regs = pcim_iomap_table(pdev)[KESYNC_BAR_REGS];
	kdev->pump = kesync_pump_param;
	kdev->irq_mode = -1;
	snprintf(kdev->name, sizeof(kdev->name), KESYNC_NAME "-ctl%d",
		 kdev->id);
	pci_set_drvdata(pdev, kdev);

	ret = kesync_identify(kdev);
	if (ret)
		goto put_kdev;
	ret = dma_set_mask_and_coherent(dev, DMA_BIT_MASK(64));
	if (ret)
		ret = dma_set_mask_and_coherent(dev, DMA_BIT_MASK(32));
	if (ret) {
		dev_err(dev, "no usable DMA mask\n");
		goto put_kdev;
	}
	ret = kesync_set_max_seg_size(kdev);
	if (ret)
		goto put_kdev;
	pci_set_master(pdev);

	ret = kesync_io_init(kdev);
	if (ret)
		goto destroy_io;
	ret = kesync_alloc_units(kdev);
	if (ret)
		goto put_units;
	ret = kesync_alloc_dma(kdev);
	if (ret)
		goto put_units;
	ret = kesync_hw_init(kdev, true);
	if (ret)
		goto put_units;

	ret = kesync_alloc_vectors(kdev);
	if (ret)
		goto put_units;
	ret = kesync_request_irqs(kdev);
	if (ret) {
		dev_err(dev, "cannot request interrupts: %d\n", ret);
		goto free_vectors;
	}
	kesync_wr(kdev, KESYNC_REG_INTR_ENABLE, kdev->intr_mask);

	ret = kesync_io_start(kdev);
	if (ret)
		goto stop_io;
	for (registered = 0; registered < kdev->nunits; registered++) {
		ret = kesync_unit_register(kdev->units[registered]);
		if (ret)
			goto unregister_units;
	}
	kesync_debugfs_add(kdev);
	kesync_aer_enable(pdev);
	pci_save_state(pdev);	/* for slot_reset */

	dev_info(dev, "kesync %u.%u: %u unit(s) of %llu bytes, %u segments x %u bytes per transfer, %s, %s pump, /dev/%s..\n",
		 kdev->version >> 16, kdev->version & 0xffff, kdev->nunits,
		 kdev->unit_size, kdev->max_segs, kdev->max_xfer,
		 kesync_irq_mode_name(kdev->irq_mode),
		 kesync_pump_name(kdev->pump), dev_name(&kdev->units[0]->dev));
	return 0;

unregister_units:
	for (i = 0; i < registered; i++)
		kesync_unit_unregister(kdev->units[i]);
stop_io:
	kesync_io_begin_remove(kdev);
	kesync_hw_stop(kdev);
	kesync_free_irqs(kdev);
	kesync_io_fail_all(kdev);
	goto put_units;
free_vectors:
	pci_free_irq_vectors(pdev);
put_units:
	kesync_put_units(kdev);
destroy_io:
	kesync_io_destroy(kdev);
put_kdev:
	pci_set_drvdata(pdev, NULL);
	kesync_dev_put(kdev);
	return ret;
}

/*
 * Teardown order: no new opens or I/O; timers, pump thread and reset
 * worker stopped; the device quiesced (interrupts off, reset, bus mastering
 * off); the ISRs disconnected (free_irq() waits for running ones); the
 * bottom halves fail what is left and release its buffers; then the units
 * and the controller are released, when their last open file closes.
 */
static void kesync_remove(struct pci_dev *pdev)
{
	struct kesync_dev *kdev = pci_get_drvdata(pdev);
	unsigned int i;

	kesync_aer_disable(pdev);
	kesync_debugfs_remove(kdev);
	for (i = 0; i < kdev->nunits; i++)
		kesync_unit_unregister(kdev->units[i]);
	kesync_io_begin_remove(kdev);
	kesync_hw_stop(kdev);
	kesync_free_irqs(kdev);
	kesync_io_fail_all(kdev);
	kesync_io_destroy(kdev);
	kesync_put_units(kdev);
	pci_set_drvdata(pdev, NULL);
	kesync_dev_put(kdev);
}

/* Reboot or kexec: no DMA into memory the next kernel owns. */
static void kesync_shutdown(struct pci_dev *pdev)
{
	struct kesync_dev *kdev = pci_get_drvdata(pdev);

	if (kdev)
		kesync_hw_stop(kdev);
}

static const struct pci_device_id kesync_pci_ids[] = {
	{ PCI_DEVICE(KESYNC_PCI_VENDOR_ID, KESYNC_PCI_DEVICE_ID) },
	{ }
};
MODULE_DEVICE_TABLE(pci, kesync_pci_ids);

static struct pci_driver kesync_pci_driver = {
	.name		= KESYNC_NAME,
	.id_table	= kesync_pci_ids,
	.probe		= kesync_probe,
	.remove		= kesync_remove,
	.shutdown	= kesync_shutdown,
	.err_handler	= &kesync_err_handlers,
	.driver.pm	= pm_sleep_ptr(&kesync_pm_ops),
	.dev_groups	= kesync_dev_groups,
};

static int kesync_parse_params(void)
{
	int i;

	if (!strcmp(irq_mode, "auto")) {
		kesync_irq_mode_param = KESYNC_IRQ_AUTO;
	} else {
		i = match_string(kesync_irq_mode_names,
				 ARRAY_SIZE(kesync_irq_mode_names), irq_mode);
		if (i < 0) {
			pr_err(KESYNC_NAME ": irq_mode=%s: use auto, msix, msi or intx\n",
			       irq_mode);
			return -EINVAL;
		}
		kesync_irq_mode_param = i;
	}
	i = match_string(kesync_pump_names, ARRAY_SIZE(kesync_pump_names),
			 pump);
	if (i < 0) {
		pr_err(KESYNC_NAME ": pump=%s: use startio or thread\n", pump);
		return -EINVAL;
	}
	kesync_pump_param = i;
	if (timeout < KESYNC_TIMEOUT_MIN || timeout > KESYNC_TIMEOUT_MAX) {
		pr_err(KESYNC_NAME ": timeout=%u: must be %u..%u\n", timeout,
		       KESYNC_TIMEOUT_MIN, KESYNC_TIMEOUT_MAX);
		return -EINVAL;
	}
	return 0;
}

static int __init kesync_init(void)
{
	int ret;

	ret = kesync_parse_params();
	if (ret)
		return ret;
	ret = kesync_cdev_init();
	if (ret)
		return ret;
	kesync_debugfs_init();
	ret = pci_register_driver(&kesync_pci_driver);
	if (ret)
		goto exit_debugfs;
	return 0;

exit_debugfs:
	kesync_debugfs_exit();
	kesync_cdev_exit();
	return ret;
}
module_init(kesync_init);

static void __exit kesync_exit(void)
{
	pci_unregister_driver(&kesync_pci_driver);
	kesync_debugfs_exit();
	kesync_cdev_exit();
	ida_destroy(&kesync_ctrl_ida);
}
module_exit(kesync_exit);

MODULE_DESCRIPTION("kesync DMA transfer controller (NT design port)");
MODULE_LICENSE("GPL");
MODULE_AUTHOR("The kesync developers");
#ifdef KESYNC_RELEASE
MODULE_VERSION(KESYNC_RELEASE);
#endif

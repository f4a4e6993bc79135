/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kesync: what differs between the kernels Debian ships (6.1, 6.12, 7.x).
 *
 * The driver is written against the newest kernel API; this header maps
 * each new name back for the kernels that lack it.  Each mapping tests
 * what the headers provide, never LINUX_VERSION_CODE: stable kernels
 * carry backported APIs (Debian's 6.1.0-57, from 6.1.y, has
 * timer_shutdown_sync(), a 6.2 API), so a version number says little.  Macros are tested with
 * #ifdef; functions and enum constants, which the preprocessor cannot
 * see, are found by the Kbuild probes of module/Kbuild, which define
 * KESYNC_HAVE_<NAME> when the kernel's headers declare NAME.
 *
 * Delete a mapping once no supported kernel needs it.
 */
#ifndef _KESYNC_COMPAT_H
#define _KESYNC_COMPAT_H

#include <linux/interrupt.h>
#include <linux/pci.h>
#include <linux/timer.h>
#include <linux/wait_bit.h>
#include <linux/workqueue.h>

/* 6.8 renamed PCI_IRQ_LEGACY to PCI_IRQ_INTX; 6.10 removed the old name. */
#ifndef PCI_IRQ_INTX
#define PCI_IRQ_INTX PCI_IRQ_LEGACY
#endif

/* 6.16 renamed from_timer() to timer_container_of(). */
#ifndef timer_container_of
#define timer_container_of(var, timer, field) from_timer(var, timer, field)
#endif

/* 6.2 renamed del_timer_sync() to timer_delete_sync(); 6.15 removed it. */
#ifndef KESYNC_HAVE_TIMER_DELETE_SYNC
#define timer_delete_sync(timer) del_timer_sync(timer)
#endif

/*
 * 6.2 added timer_shutdown_sync(): stop a timer for good, so that a
 * callback re-arming itself cannot bring it back.  del_timer_sync() also
 * waits out a running callback and then removes what it re-armed; what it
 * cannot stop is a later mod_timer() from elsewhere, and the IoTimer is
 * only armed from its own callback and from probe.
 */
#ifndef KESYNC_HAVE_TIMER_SHUTDOWN_SYNC
#define timer_shutdown_sync(timer) del_timer_sync(timer)
#endif

/*
 * 6.17 added WQ_PERCPU: a workqueue that is neither WQ_UNBOUND nor
 * WQ_PERCPU makes alloc_workqueue() warn on 7.x, where unbound becomes
 * the default.  Before, per-CPU was the default and the flag is 0.
 */
#ifndef KESYNC_HAVE_WQ_PERCPU
#define WQ_PERCPU 0
#endif

/*
 * The DpcForIsr runs at NT's DISPATCH_LEVEL, which Linux spells softirq
 * context: struct kesync_dpc, queued with kesync_dpc_queue() (IoRequestDpc)
 * from any context, hardirq included, and waited for with
 * kesync_dpc_flush() (process context).  As an NT DPC, it runs on the CPU
 * that queued it, never twice at once, and once for several queueings
 * made before it ran.
 *
 * 6.9 added BH workqueues (WQ_BH): a work item on system_bh_highpri_wq
 * runs in the HI_SOFTIRQ of the queuing CPU, and flush_work() waits for it
 * as for any work item.  Before, the same softirq runs a tasklet
 * (tasklet_hi_schedule()); a tasklet has no flush, so kesync_dpc_flush()
 * waits for a scheduled run to start (TASKLET_STATE_SCHED clears, with a
 * wake_up_var(), once TASKLET_STATE_RUN is set) and then for the run to
 * end (tasklet_unlock_wait()).  Unlike tasklet_kill(), it never holds
 * TASKLET_STATE_SCHED itself, so a kesync_dpc_queue() meanwhile is not
 * lost.
 */
struct kesync_dpc;
typedef void (*kesync_dpc_fn)(struct kesync_dpc *dpc);

#ifdef KESYNC_HAVE_WQ_BH
struct kesync_dpc {
	struct work_struct work;
	kesync_dpc_fn fn;
};

static inline void kesync_dpc_run(struct work_struct *work)
{
	struct kesync_dpc *dpc = container_of(work, struct kesync_dpc, work);

	dpc->fn(dpc);
}

static inline void kesync_dpc_init(struct kesync_dpc *dpc, kesync_dpc_fn fn)
{
	dpc->fn = fn;
	INIT_WORK(&dpc->work, kesync_dpc_run);
}

static inline void kesync_dpc_queue(struct kesync_dpc *dpc)
{
	queue_work(system_bh_highpri_wq, &dpc->work);
}

static inline void kesync_dpc_flush(struct kesync_dpc *dpc)
{
	flush_work(&dpc->work);
}
#else
struct kesync_dpc {
	struct tasklet_struct tasklet;
	kesync_dpc_fn fn;
};

static inline void kesync_dpc_run(struct tasklet_struct *t)
{
	struct kesync_dpc *dpc = container_of(t, struct kesync_dpc, tasklet);

	dpc->fn(dpc);
}

static inline void kesync_dpc_init(struct kesync_dpc *dpc, kesync_dpc_fn fn)
{
	dpc->fn = fn;
	tasklet_setup(&dpc->tasklet, kesync_dpc_run);
}

static inline void kesync_dpc_queue(struct kesync_dpc *dpc)
{
	tasklet_hi_schedule(&dpc->tasklet);
}

static inline void kesync_dpc_flush(struct kesync_dpc *dpc)
{
	struct tasklet_struct *t = &dpc->tasklet;

	wait_var_event(&t->state, !test_bit(TASKLET_STATE_SCHED, &t->state));
	tasklet_unlock_wait(t);
}
#endif

/*
 * 6.4 made the PCI core enable error reporting on every device whose AER
 * the OS controls, and 6.5 removed pci_enable_pcie_error_reporting().
 * Before, a driver with error handlers enables it itself, or the device's
 * errors never reach the root port.
 */
#ifdef KESYNC_HAVE_PCI_ENABLE_PCIE_ERROR_REPORTING
#include <linux/aer.h>

static inline void kesync_aer_enable(struct pci_dev *pdev)
{
	pci_enable_pcie_error_reporting(pdev);	/* -EIO: not the OS's AER */
}

static inline void kesync_aer_disable(struct pci_dev *pdev)
{
	pci_disable_pcie_error_reporting(pdev);
}
#else
static inline void kesync_aer_enable(struct pci_dev *pdev) {}
static inline void kesync_aer_disable(struct pci_dev *pdev) {}
#endif

#endif /* _KESYNC_COMPAT_H */

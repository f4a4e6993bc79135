// SPDX-License-Identifier: GPL-2.0
/*
 * kesync: debugfs, /sys/kernel/debug/kesync/<pci address>/:
 *   state	controller, units, current requests, registers, counters
 *   irqoff	how long the ISR and each SynchCritSection held the
 *		interrupt lock: count, mean, max and a histogram (counted
 *		while the irqoff_stats parameter is on)
 *
 * remove() deletes the directory first; debugfs waits for readers, so the
 * registers are still mapped whenever these files are read.
 */

#include <linux/debugfs.h>
#include <linux/pci.h>
#include <linux/seq_file.h>
#include <linux/slab.h>

#include "kesync-hw.h"

static struct dentry *kesync_debugfs_root;

static const char *const kesync_req_state_names[] = {
	[KESYNC_REQ_QUEUED]	= "queued",
	[KESYNC_REQ_STARTING]	= "starting",
	[KESYNC_REQ_WAIT_CTRL]	= "wait_ctrl",
	[KESYNC_REQ_ACTIVE]	= "active",
	[KESYNC_REQ_DONE]	= "done",
};

/* What the io.lock protects, copied under it to be printed after. */
struct kesync_dbg_unit {
	bool has_cur;
	u64 id;
	int state;
	bool write;
	bool cancel;
	bool stop;
	loff_t pos;
	size_t len;
	size_t done;
	u32 tag;
	unsigned int queued;
	bool waiting;
};

static void kesync_dbg_copy_unit(struct kesync_unit *u,
				 struct kesync_dbg_unit *d)
{
	struct kesync_req *req;

	memset(d, 0, sizeof(*d));
	spin_lock_bh(&u->kdev->io.lock);
	req = u->cur;
	if (req) {
		d->has_cur = true;
		d->id = req->id;
		d->state = req->state;
		d->write = req->write;
		d->cancel = req->cancel;
		d->stop = req->stop;
		d->pos = req->pos;
		d->len = req->len;
		d->done = req->done;	/* owner's; a racy view is fine */
		d->tag = req->tag;
	}
	list_for_each_entry(req, &u->queue, node)
		d->queued++;
	d->waiting = !list_empty(&u->ctrl_node);
	spin_unlock_bh(&u->kdev->io.lock);
}

static int kesync_state_show(struct seq_file *m, void *v)
{
	struct kesync_dev *kdev = m->private;
	struct kesync_snapshot_ctx *snap;
	struct kesync_dbg_unit d;
	int err, owner = -1, tq = 0;
	bool removed, stopped;
	struct kesync_req *req;
	unsigned int i, s;

	snap = kzalloc(sizeof(*snap), GFP_KERNEL);
	if (!snap)
		return -ENOMEM;
	kesync_sync_exec(kdev, &kesync_scs_snapshot, snap);

	spin_lock_bh(&kdev->io.lock);
	err = kdev->io.err;
	removed = kdev->io.removed;
	stopped = kdev->io.stopped;
	if (kdev->io.ctrl_owner)
		owner = kdev->io.ctrl_owner->index;
	list_for_each_entry(req, &kdev->io.tq, node)
		tq++;
	spin_unlock_bh(&kdev->io.lock);

	seq_printf(m, "controller %s (%s): version %u.%u, %u unit(s) of %llu bytes, max_segs %u, max_xfer %u\n",
		   kdev->name, pci_name(kdev->pdev), kdev->version >> 16,
		   kdev->version & 0xffff, kdev->nunits, kdev->unit_size,
		   kdev->max_segs, kdev->max_xfer);
	seq_printf(m, "  irq_mode %s (%u vectors), pump %s, records %s\n",
		   kesync_irq_mode_name(kdev->irq_mode), kdev->nvecs,
		   kesync_pump_name(kdev->pump),
		   kdev->has_records ? "yes" : "no");
	seq_printf(m, "  io: err %d removed %d stopped %d controller owner %d thread queue %d\n",
		   err, removed, stopped, owner, tq);
	seq_printf(m, "  isr: resetting %d resets %llu sw_irqs %llu reset_irqs %d\n",
		   snap->resetting, snap->resets, snap->sw_irqs,
		   atomic_read(&kdev->reset_irqs));
	seq_printf(m, "  regs: STATUS 0x%08x CTRL 0x%08x INTR_STATUS 0x%08x INTR_ENABLE 0x%08x\n",
		   kesync_rd(kdev, KESYNC_REG_STATUS),
		   kesync_rd(kdev, KESYNC_REG_CTRL),
		   kesync_rd(kdev, KESYNC_REG_INTR_STATUS),
		   kesync_rd(kdev, KESYNC_REG_INTR_ENABLE));

	for (i = 0; i < kdev->nunits; i++) {
		struct kesync_unit *u = kdev->units[i];
		struct kesync_unit_isr *ui = &snap->units[i];

		kesync_dbg_copy_unit(u, &d);
		seq_printf(m, "unit %u (%s): timeout %u s, %u queued%s\n", i,
			   dev_name(&u->dev), READ_ONCE(u->timeout), d.queued,
			   d.waiting ? ", waiting for the controller" : "");
		if (d.has_cur)
			seq_printf(m, "  cur: req %llu %s %s pos %lld len %zu done %zu tag %u%s%s\n",
				   d.id, kesync_req_state_names[d.state],
				   d.write ? "write" : "read", d.pos, d.len,
				   d.done, d.tag, d.cancel ? " cancel" : "",
				   d.stop ? " stop" : "");
		seq_printf(m, "  isr: timer_count %d busy %d done %d lost_irq %d reset_hit %d timed_out %d seen_seq %u tag %u\n",
			   ui->timer_count, ui->busy, ui->done, ui->lost_irq,
			   ui->reset_hit, ui->timed_out, ui->seen_seq, ui->tag);
		seq_printf(m, "  record: tag %u status 0x%x bytes %u seq %u\n",
			   le32_to_cpu(READ_ONCE(u->rec->tag)),
			   le32_to_cpu(READ_ONCE(u->rec->status)),
			   le32_to_cpu(READ_ONCE(u->rec->bytes)),
			   le32_to_cpu(READ_ONCE(u->rec->seq)));
		seq_printf(m, "  regs: STATUS 0x%08x SEQ %u TAG %u BYTES %u\n",
			   kesync_unit_rd(u, KESYNC_UNIT_STATUS),
			   kesync_unit_rd(u, KESYNC_UNIT_SEQ),
			   kesync_unit_rd(u, KESYNC_UNIT_TAG),
			   kesync_unit_rd(u, KESYNC_UNIT_BYTES));
		seq_puts(m, "  stats:");
		for (s = 0; s < KESYNC_STAT_NR; s++)
			seq_printf(m, " %s %lld", kesync_stat_names[s],
				   atomic64_read(&u->stats[s]));
		seq_putc(m, '\n');
	}
	kfree(snap);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(kesync_state);

static int kesync_irqoff_show(struct seq_file *m, void *v)
{
	struct kesync_dev *kdev = m->private;
	unsigned int i, b;

	if (!static_key_enabled(&kesync_irqoff_key))
		seq_puts(m, "# accounting is off: irqoff_stats=1 turns it on\n");
	seq_printf(m, "# since %llu ns (probe)\n", kdev->irqoff_since);
	seq_puts(m, "# lock hold time with interrupts off, per routine; histogram buckets:\n");
	seq_puts(m, "# <256ns <512ns <1us <2us <4us <8us <16us <33us <66us <131us <262us >=262us\n");
	seq_printf(m, "%-34s %10s %10s %10s  histogram\n", "routine", "count",
		   "mean_ns", "max_ns");
	for (i = 0; i < KESYNC_SCS_NR; i++) {
		const struct kesync_irqoff *st = &kdev->irqoff[i];
		u64 count = READ_ONCE(st->count);

		u64 mean = count ? div64_u64(READ_ONCE(st->total_ns), count) : 0;

		seq_printf(m, "%-34s %10llu %10llu %10llu ",
			   kesync_scs_names[i], count, mean,
			   READ_ONCE(st->max_ns));
		for (b = 0; b < KESYNC_IRQOFF_BUCKETS; b++)
			seq_printf(m, " %u", READ_ONCE(st->hist[b]));
		seq_putc(m, '\n');
	}
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(kesync_irqoff);

/**
 * kesync_debugfs_add - the controller's debugfs directory
 * @kdev: the controller
 *
 * Context: probe.
 */
void kesync_debugfs_add(struct kesync_dev *kdev)
{
	kdev->debugfs = debugfs_create_dir(pci_name(kdev->pdev),
					   kesync_debugfs_root);
	debugfs_create_file("state", 0400, kdev->debugfs, kdev,
			    &kesync_state_fops);
	debugfs_create_file("irqoff", 0400, kdev->debugfs, kdev,
			    &kesync_irqoff_fops);
}

/**
 * kesync_debugfs_remove - remove it, waiting for its readers
 * @kdev: the controller
 *
 * Context: remove.
 */
void kesync_debugfs_remove(struct kesync_dev *kdev)
{
	debugfs_remove_recursive(kdev->debugfs);
	kdev->debugfs = NULL;
}

void kesync_debugfs_init(void)
{
	kesync_debugfs_root = debugfs_create_dir(KESYNC_NAME, NULL);
}

void kesync_debugfs_exit(void)
{
	debugfs_remove_recursive(kesync_debugfs_root);
}

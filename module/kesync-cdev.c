// SPDX-License-Identifier: GPL-2.0
/*
 * kesync: the character devices, /dev/kesync<N>, one per unit (the NT
 * Dispatch routines).
 *
 * Each unit is a medium of fixed size.  read(2)/write(2)/pread(2)/pwrite(2)
 * move data by DMA straight to and from the caller's buffer:
 *  - reads at or past the end return 0; writes starting at or past the end
 *    fail with -ENOSPC; a transfer crossing the end is truncated to it;
 *  - one call moves at most KESYNC_MAX_REQ_BYTES (8 MiB) and returns the
 *    count, as a pipe or socket may;
 *  - at most KESYNC_MAX_INFLIGHT reads and writes of a unit are in flight
 *    (pinned; only the one on the controller is DMA-mapped) at once; more
 *    wait, or fail with -EAGAIN on an O_NONBLOCK file;
 *  - poll(2) reports the medium readable and writable, as for a block
 *    device, while a request slot is free (EPOLLERR | EPOLLHUP once the
 *    device is removed).
 *
 * Lifetime: the unit is a struct device; each open file holds a reference,
 * and the device's release frees the unit and drops its reference on the
 * controller.  After remove() the files stay valid and every operation
 * fails with -ENODEV.
 */

#include <linux/capability.h>
#include <linux/fdtable.h>
#include <linux/fs.h>
#include <linux/idr.h>
#include <linux/minmax.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/poll.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "kesync-dev.h"

/*
 * A static class (class_register()), as drivers have used since 6.4
 * removed class_create()'s owner argument: no allocation, no API that
 * differs between the kernels kesync supports.
 */
static struct class kesync_class = {
	.name = KESYNC_NAME,
};

static dev_t kesync_devt;
/* Unit numbers N of /dev/kesync<N>, global across controllers. */
static DEFINE_IDA(kesync_minor_ida);

static bool kesync_removed(struct kesync_dev *kdev)
{
	bool removed;

	spin_lock_bh(&kdev->io.lock);
	removed = kdev->io.removed;
	spin_unlock_bh(&kdev->io.lock);
	return removed;
}

static int kesync_open(struct inode *inode, struct file *file)
{
	struct kesync_unit *u = container_of(inode->i_cdev,
					     struct kesync_unit, cdev);

	get_device(&u->dev);
	file->private_data = u;
	return 0;
}

static int kesync_release(struct inode *inode, struct file *file)
{
	struct kesync_unit *u = file->private_data;

	put_device(&u->dev);
	return 0;
}

static int kesync_same_file(const void *file, struct file *f,
			    unsigned int fd)
{
	return f == file;
}

/*
 * close(2), on every close of a descriptor: NT's cleanup, which runs when
 * the last handle goes.  Only when no other descriptor of the closing
 * process refers to this open file any more are the process's requests on
 * it cancelled; closing a duplicate (close(dup(fd))) cancels nothing,
 * since the I/O on the remaining descriptor still has an owner.  At exit
 * (PF_EXITING, files already detached from the task) it always cancels.
 * KESYNC_IOC_CANCEL cancels explicitly.
 */
static int kesync_flush(struct file *file, fl_owner_t id)
{
	struct kesync_unit *u = file->private_data;

	if (!(current->flags & PF_EXITING) && id == current->files &&
	    iterate_fd(current->files, 0, kesync_same_file, file))
		return 0;
	kesync_cancel_file(u, file, id);
	return 0;
}

static ssize_t kesync_rw(struct file *file, unsigned long uaddr, size_t len,
			 loff_t *ppos, bool write)
{
	struct kesync_unit *u = file->private_data;
	u64 size = u->kdev->unit_size;
	loff_t pos = *ppos;
	ssize_t ret;

	if (pos < 0)
		return -EINVAL;
	if (!len)
		return 0;
	if (pos >= size)
		return write ? -ENOSPC : 0;
	len = min_t(u64, len, size - pos);
	len = min_t(size_t, len, KESYNC_MAX_REQ_BYTES);

	ret = kesync_do_io(u, file, uaddr, len, pos, write);
	if (ret > 0)
		*ppos = pos + ret;
	return ret;
}

static ssize_t kesync_read(struct file *file, char __user *buf, size_t len,
			   loff_t *ppos)
{
	return kesync_rw(file, (unsigned long)buf, len, ppos, false);
}

static ssize_t kesync_write(struct file *file, const char __user *buf,
			    size_t len, loff_t *ppos)
{
	return kesync_rw(file, (unsigned long)buf, len, ppos, true);
}

static loff_t kesync_llseek(struct file *file, loff_t offset, int whence)
{
	struct kesync_unit *u = file->private_data;

	return fixed_size_llseek(file, offset, whence, u->kdev->unit_size);
}

static __poll_t kesync_poll(struct file *file, poll_table *wait)
{
	struct kesync_unit *u = file->private_data;

	poll_wait(file, &u->inflight_wq, wait);
	if (kesync_removed(u->kdev))
		return EPOLLERR | EPOLLHUP;
	if (kesync_inflight_full(u))
		return 0;
	return EPOLLIN | EPOLLRDNORM | EPOLLOUT | EPOLLWRNORM;
}

/* KESYNC_IOC_FAULT argument check: everything unknown must be zero. */
static int kesync_fault_check(const struct kesync_fault *f)
{
	if (f->kind > KESYNC_FAULT_KIND_MAX || f->count > 1000)
		return -EINVAL;
	if (f->flags & ~(KESYNC_FAULT_F_MISDIRECT | KESYNC_FAULT_F_RESET_DELAY))
		return -EINVAL;
	if (f->reserved0 || f->reserved[0] || f->reserved[1])
		return -EINVAL;
	if (f->flags & KESYNC_FAULT_F_RESET_DELAY) {
		if (f->reset_delay_us < 1 || f->reset_delay_us > 10000000)
			return -EINVAL;
	} else if (f->reset_delay_us) {
		return -EINVAL;
	}
	return 0;
}

static void kesync_fill_info(struct kesync_unit *u, struct kesync_info *info)
{
	struct kesync_dev *kdev = u->kdev;

	info->version = kdev->version;
	info->units = kdev->nunits;
	info->unit = u->index;
	info->minor = MINOR(u->dev.devt);
	info->max_segs = kdev->max_segs;
	info->max_xfer = kdev->max_xfer;
	info->irq_mode = kdev->irq_mode;
	info->pump = kdev->pump;
	info->timeout = READ_ONCE(u->timeout);
	info->unit_size = kdev->unit_size;
}

static void kesync_fill_stats(struct kesync_unit *u, struct kesync_stats *st)
{
	st->requests = atomic64_read(&u->stats[KESYNC_STAT_REQUESTS]);
	st->bytes = atomic64_read(&u->stats[KESYNC_STAT_BYTES]);
	st->partials = atomic64_read(&u->stats[KESYNC_STAT_PARTIALS]);
	st->timeouts = atomic64_read(&u->stats[KESYNC_STAT_TIMEOUTS]);
	st->lost_irqs = atomic64_read(&u->stats[KESYNC_STAT_LOST_IRQS]);
	st->resets = atomic64_read(&u->stats[KESYNC_STAT_RESETS]);
	st->cancels = atomic64_read(&u->stats[KESYNC_STAT_CANCELS]);
	st->ctrl_waits = atomic64_read(&u->stats[KESYNC_STAT_CTRL_WAITS]);
	st->spurious = atomic64_read(&u->stats[KESYNC_STAT_SPURIOUS]);
	st->errors = atomic64_read(&u->stats[KESYNC_STAT_ERRORS]);
	st->short_xfers = atomic64_read(&u->stats[KESYNC_STAT_SHORT_XFERS]);
	st->hw_busy = atomic64_read(&u->stats[KESYNC_STAT_HW_BUSY]);
}

static long kesync_ioctl(struct file *file, unsigned int cmd,
			 unsigned long arg)
{
	struct kesync_unit *u = file->private_data;
	void __user *argp = (void __user *)arg;
	int ret;

	switch (cmd) {
	case KESYNC_IOC_INFO:
	case KESYNC_IOC_GET_TIMEOUT:
	case KESYNC_IOC_SET_TIMEOUT:
	case KESYNC_IOC_STATS:
	case KESYNC_IOC_HW_STATS:
	case KESYNC_IOC_RESET:
	case KESYNC_IOC_FAULT:
	case KESYNC_IOC_CANCEL:
		break;
	default:
		return -ENOTTY;
	}
	if (kesync_removed(u->kdev))
		return -ENODEV;

	switch (cmd) {
	case KESYNC_IOC_INFO: {
		struct kesync_info info = {};

		kesync_fill_info(u, &info);
		return copy_to_user(argp, &info, sizeof(info)) ? -EFAULT : 0;
	}
	case KESYNC_IOC_GET_TIMEOUT:
		return put_user(READ_ONCE(u->timeout), (__u32 __user *)argp);
	case KESYNC_IOC_SET_TIMEOUT: {
		u32 t;

		/*
		 * A timeout resets the whole controller, so it is the
		 * administrator's, as the root-only sysfs timeout file is,
		 * not any reader's of one unit.
		 */
		if (!capable(CAP_SYS_ADMIN))
			return -EPERM;
		if (get_user(t, (__u32 __user *)argp))
			return -EFAULT;
		if (t < KESYNC_TIMEOUT_MIN || t > KESYNC_TIMEOUT_MAX)
			return -EINVAL;
		/* Applies from the next programmed transfer on. */
		WRITE_ONCE(u->timeout, t);
		return 0;
	}
	case KESYNC_IOC_STATS: {
		struct kesync_stats st = {};

		kesync_fill_stats(u, &st);
		return copy_to_user(argp, &st, sizeof(st)) ? -EFAULT : 0;
	}
	case KESYNC_IOC_HW_STATS: {
		struct kesync_hw_stats hs = {};

		ret = kesync_hw_stats(u, &hs);
		if (ret)
			return ret;
		return copy_to_user(argp, &hs, sizeof(hs)) ? -EFAULT : 0;
	}
	case KESYNC_IOC_CANCEL:
		/* NT's CancelIoEx(file, NULL): this process's I/O on the file. */
		kesync_cancel_file(u, file, current->files);
		return 0;
	case KESYNC_IOC_RESET:
		if (!capable(CAP_SYS_ADMIN))
			return -EPERM;
		return kesync_user_reset(u);
	case KESYNC_IOC_FAULT: {
		struct kesync_fault f;

		if (!capable(CAP_SYS_ADMIN))
			return -EPERM;
		if (copy_from_user(&f, argp, sizeof(f)))
			return -EFAULT;
		ret = kesync_fault_check(&f);
		if (ret)
			return ret;
		return kesync_user_fault(u, &f);
	}
	}
	return -ENOTTY;
}

static const struct file_operations kesync_fops = {
	.owner		= THIS_MODULE,
	.open		= kesync_open,
	.release	= kesync_release,
	.flush		= kesync_flush,
	.read		= kesync_read,
	.write		= kesync_write,
	.llseek		= kesync_llseek,
	.poll		= kesync_poll,
	.unlocked_ioctl	= kesync_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
};

/* ---- Units as devices ---------------------------------------------------- */

static void kesync_unit_release(struct device *dev)
{
	struct kesync_unit *u = container_of(dev, struct kesync_unit, dev);
	struct kesync_dev *kdev = u->kdev;

	ida_free(&kesync_minor_ida, u->id);
	kfree(u);
	kesync_dev_put(kdev);
}

/**
 * kesync_unit_alloc - allocate a unit and its (not yet added) device
 * @kdev: the controller; the unit takes a reference on it
 * @index: the unit's index on the controller
 *
 * Context: probe.
 * Return: the unit, or an ERR_PTR.  Undo with kesync_unit_put().
 */
struct kesync_unit *kesync_unit_alloc(struct kesync_dev *kdev,
				      unsigned int index)
{
	struct kesync_unit *u;
	int id, ret;

	id = ida_alloc_max(&kesync_minor_ida, KESYNC_MAX_MINORS - 1,
			   GFP_KERNEL);
	if (id < 0)
		return ERR_PTR(id);
	u = kzalloc(sizeof(*u), GFP_KERNEL);
	if (!u) {
		ida_free(&kesync_minor_ida, id);
		return ERR_PTR(-ENOMEM);
	}
	kref_get(&kdev->kref);
	u->kdev = kdev;
	u->index = index;
	u->id = id;
	kesync_unit_io_init(u);

	/* From here on the device's release frees the unit. */
	device_initialize(&u->dev);
	u->dev.class = &kesync_class;
	u->dev.parent = &kdev->pdev->dev;
	u->dev.devt = MKDEV(MAJOR(kesync_devt), id);
	u->dev.groups = kesync_unit_groups;
	u->dev.release = kesync_unit_release;
	dev_set_drvdata(&u->dev, u);
	ret = dev_set_name(&u->dev, KESYNC_NAME "%d", id);
	if (ret) {
		put_device(&u->dev);
		return ERR_PTR(ret);
	}
	cdev_init(&u->cdev, &kesync_fops);
	u->cdev.owner = THIS_MODULE;
	return u;
}

/**
 * kesync_unit_register - make /dev/kesync<N> appear
 * @u: the unit, fully set up
 *
 * Context: probe.
 * Return: 0 or -errno.
 */
int kesync_unit_register(struct kesync_unit *u)
{
	return cdev_device_add(&u->cdev, &u->dev);
}

/**
 * kesync_unit_unregister - make /dev/kesync<N> disappear; open files stay
 * @u: a registered unit
 *
 * Context: remove.
 */
void kesync_unit_unregister(struct kesync_unit *u)
{
	cdev_device_del(&u->cdev, &u->dev);
}

/**
 * kesync_unit_put - drop the controller's reference on a unit
 * @u: the unit
 *
 * Context: probe failure, remove.
 */
void kesync_unit_put(struct kesync_unit *u)
{
	put_device(&u->dev);
}

/**
 * kesync_cdev_init - the class and the char device region
 *
 * Context: module init.
 * Return: 0 or -errno.
 */
int kesync_cdev_init(void)
{
	int ret;

	ret = alloc_chrdev_region(&kesync_devt, 0, KESYNC_MAX_MINORS,
				  KESYNC_NAME);
	if (ret)
		return ret;
	ret = class_register(&kesync_class);
	if (ret)
		unregister_chrdev_region(kesync_devt, KESYNC_MAX_MINORS);
	return ret;
}

/**
 * kesync_cdev_exit - undo kesync_cdev_init()
 *
 * Context: module exit, all units released.
 */
void kesync_cdev_exit(void)
{
	class_unregister(&kesync_class);
	unregister_chrdev_region(kesync_devt, KESYNC_MAX_MINORS);
	ida_destroy(&kesync_minor_ida);
}

// SPDX-License-Identifier: GPL-2.0
/*
 * kesync: sysfs attributes.
 *
 * Per unit, /sys/class/kesync/kesync<N>/:
 *   timeout	rw  transfer timeout in seconds (1..3600)
 *   stats/<name>	ro  one counter per file, as KESYNC_IOC_STATS
 * Per controller, on the PCI device:
 *   irq_mode	ro  msix, msi or intx
 *   pump	ro  startio or thread
 *   units	ro  number of units
 */

#include <linux/device.h>
#include <linux/kernel.h>
#include <linux/sysfs.h>

#include "kesync-dev.h"

const char *const kesync_stat_names[KESYNC_STAT_NR] = {
	[KESYNC_STAT_REQUESTS]		= "requests",
	[KESYNC_STAT_BYTES]		= "bytes",
	[KESYNC_STAT_PARTIALS]		= "partials",
	[KESYNC_STAT_TIMEOUTS]		= "timeouts",
	[KESYNC_STAT_LOST_IRQS]		= "lost_irqs",
	[KESYNC_STAT_RESETS]		= "resets",
	[KESYNC_STAT_CANCELS]		= "cancels",
	[KESYNC_STAT_CTRL_WAITS]	= "ctrl_waits",
	[KESYNC_STAT_SPURIOUS]		= "spurious",
	[KESYNC_STAT_ERRORS]		= "errors",
	[KESYNC_STAT_SHORT_XFERS]	= "short_xfers",
	[KESYNC_STAT_HW_BUSY]		= "hw_busy",
};

/* ---- Unit ---------------------------------------------------------------- */

static ssize_t timeout_show(struct device *dev, struct device_attribute *attr,
			    char *buf)
{
	struct kesync_unit *u = dev_get_drvdata(dev);

	return sysfs_emit(buf, "%u\n", READ_ONCE(u->timeout));
}

static ssize_t timeout_store(struct device *dev, struct device_attribute *attr,
			     const char *buf, size_t count)
{
	struct kesync_unit *u = dev_get_drvdata(dev);
	u32 t;
	int ret;

	ret = kstrtou32(buf, 0, &t);
	if (ret)
		return ret;
	if (t < KESYNC_TIMEOUT_MIN || t > KESYNC_TIMEOUT_MAX)
		return -EINVAL;
	WRITE_ONCE(u->timeout, t);
	return count;
}
static DEVICE_ATTR_RW(timeout);

static struct attribute *kesync_unit_attrs[] = {
	&dev_attr_timeout.attr,
	NULL
};

static const struct attribute_group kesync_unit_group = {
	.attrs = kesync_unit_attrs,
};

struct kesync_stat_attr {
	struct device_attribute attr;
	enum kesync_stat_id id;
};

static ssize_t kesync_stat_show(struct device *dev,
				struct device_attribute *attr, char *buf)
{
	struct kesync_stat_attr *sa;
	struct kesync_unit *u = dev_get_drvdata(dev);

	sa = container_of(attr, struct kesync_stat_attr, attr);
	return sysfs_emit(buf, "%lld\n", atomic64_read(&u->stats[sa->id]));
}

#define KESYNC_STAT_ATTR(_name, _id)					\
	static struct kesync_stat_attr kesync_stat_attr_##_name = {	\
		.attr = __ATTR(_name, 0444, kesync_stat_show, NULL),	\
		.id = _id,						\
	}

KESYNC_STAT_ATTR(requests, KESYNC_STAT_REQUESTS);
KESYNC_STAT_ATTR(bytes, KESYNC_STAT_BYTES);
KESYNC_STAT_ATTR(partials, KESYNC_STAT_PARTIALS);
KESYNC_STAT_ATTR(timeouts, KESYNC_STAT_TIMEOUTS);
KESYNC_STAT_ATTR(lost_irqs, KESYNC_STAT_LOST_IRQS);
KESYNC_STAT_ATTR(resets, KESYNC_STAT_RESETS);
KESYNC_STAT_ATTR(cancels, KESYNC_STAT_CANCELS);
KESYNC_STAT_ATTR(ctrl_waits, KESYNC_STAT_CTRL_WAITS);
KESYNC_STAT_ATTR(spurious, KESYNC_STAT_SPURIOUS);
KESYNC_STAT_ATTR(errors, KESYNC_STAT_ERRORS);
KESYNC_STAT_ATTR(short_xfers, KESYNC_STAT_SHORT_XFERS);
KESYNC_STAT_ATTR(hw_busy, KESYNC_STAT_HW_BUSY);

static struct attribute *kesync_stats_attrs[] = {
	&kesync_stat_attr_requests.attr.attr,
	&kesync_stat_attr_bytes.attr.attr,
	&kesync_stat_attr_partials.attr.attr,
	&kesync_stat_attr_timeouts.attr.attr,
	&kesync_stat_attr_lost_irqs.attr.attr,
	&kesync_stat_attr_resets.attr.attr,
	&kesync_stat_attr_cancels.attr.attr,
	&kesync_stat_attr_ctrl_waits.attr.attr,
	&kesync_stat_attr_spurious.attr.attr,
	&kesync_stat_attr_errors.attr.attr,
	&kesync_stat_attr_short_xfers.attr.attr,
	&kesync_stat_attr_hw_busy.attr.attr,
	NULL
};

static const struct attribute_group kesync_stats_group = {
	.name = "stats",
	.attrs = kesync_stats_attrs,
};

const struct attribute_group *kesync_unit_groups[] = {
	&kesync_unit_group,
	&kesync_stats_group,
	NULL
};

/* ---- Controller ---------------------------------------------------------- */

static ssize_t irq_mode_show(struct device *dev, struct device_attribute *attr,
			     char *buf)
{
	struct kesync_dev *kdev = dev_get_drvdata(dev);

	return sysfs_emit(buf, "%s\n", kesync_irq_mode_name(kdev->irq_mode));
}
static DEVICE_ATTR_RO(irq_mode);

static ssize_t pump_show(struct device *dev, struct device_attribute *attr,
			 char *buf)
{
	struct kesync_dev *kdev = dev_get_drvdata(dev);

	return sysfs_emit(buf, "%s\n", kesync_pump_name(kdev->pump));
}
static DEVICE_ATTR_RO(pump);

static ssize_t units_show(struct device *dev, struct device_attribute *attr,
			  char *buf)
{
	struct kesync_dev *kdev = dev_get_drvdata(dev);

	return sysfs_emit(buf, "%u\n", kdev->nunits);
}
static DEVICE_ATTR_RO(units);

static struct attribute *kesync_dev_attrs[] = {
	&dev_attr_irq_mode.attr,
	&dev_attr_pump.attr,
	&dev_attr_units.attr,
	NULL
};

static const struct attribute_group kesync_dev_group = {
	.attrs = kesync_dev_attrs,
};

const struct attribute_group *kesync_dev_groups[] = {
	&kesync_dev_group,
	NULL
};

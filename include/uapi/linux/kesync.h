/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * kesync: user-space interface of the kesync driver.
 *
 * Each unit of a kesync controller is a character device /dev/kesync<N>: a
 * medium of fixed size that read(2)/write(2)/pread(2)/pwrite(2)/lseek(2)
 * reach by DMA straight from and to the caller's buffer.  The ioctls below
 * inspect and control a unit.  All structures have fixed-width fields and
 * reserved space; reserved fields must be zero on input and are zero on
 * output.
 */
#ifndef _UAPI_LINUX_KESYNC_H
#define _UAPI_LINUX_KESYNC_H

#include <linux/ioctl.h>
#include <linux/types.h>

/*
 * Not listed in the kernel's Documentation/userspace-api/ioctl/ioctl-number.rst
 * (tests/host/uapi-ioctl-magic.sh checks it).  Up to kesync 0.3 it was 0xb7,
 * which nsfs and remoteproc use.
 */
#define KESYNC_IOC_MAGIC	0xb9

/* enum values of kesync_info.irq_mode */
#define KESYNC_IRQ_MSIX		0
#define KESYNC_IRQ_MSI		1
#define KESYNC_IRQ_INTX		2

/* enum values of kesync_info.pump */
#define KESYNC_PUMP_STARTIO	0
#define KESYNC_PUMP_THREAD	1

/*
 * Reads and writes of one unit in flight at once (each pins and maps up to
 * 8 MiB of the caller's memory); more wait for a slot, or fail with EAGAIN
 * on an O_NONBLOCK file, and poll(2) reports a unit with no free slot as
 * neither readable nor writable.
 */
#define KESYNC_MAX_INFLIGHT	16

#define KESYNC_TIMEOUT_MIN	1	/* seconds */
#define KESYNC_TIMEOUT_MAX	3600

/**
 * struct kesync_info - what KESYNC_IOC_INFO returns
 * @version: the device's KESYNC_REG_VERSION
 * @units: units on this controller
 * @unit: this unit's index on its controller
 * @minor: this char device's minor number
 * @max_segs: segments per programmed transfer (the "map registers")
 * @max_xfer: bytes per programmed transfer
 * @irq_mode: KESYNC_IRQ_*
 * @pump: KESYNC_PUMP_*
 * @timeout: the unit's transfer timeout, seconds
 * @unit_size: bytes on the unit's medium
 * @reserved: zero
 */
struct kesync_info {
	__u32 version;
	__u32 units;
	__u32 unit;
	__u32 minor;
	__u32 max_segs;
	__u32 max_xfer;
	__u32 irq_mode;
	__u32 pump;
	__u32 timeout;
	__u32 reserved0;
	__u64 unit_size;
	__u64 reserved[4];
};

/**
 * struct kesync_stats - a unit's counters (KESYNC_IOC_STATS)
 * @requests: read/write requests completed (any result)
 * @bytes: bytes transferred by completed requests
 * @partials: programmed transfers after the first of a request
 * @timeouts: transfers the IoTimer declared timed out
 * @lost_irqs: completions found by the IoTimer without an interrupt
 * @resets: controller resets this unit asked for
 * @cancels: requests cancelled by a signal, a close or KESYNC_IOC_CANCEL
 * @ctrl_waits: times the unit had to wait for the controller
 * @spurious: interrupts with nothing finished
 * @errors: requests that ended with an error other than a timeout or cancel
 * @short_xfers: transfers that moved fewer bytes than programmed
 * @hw_busy: START refusals seen from the hardware, controller or unit
 *	busy (0 unless the device's KESYNC_FAULT_REFUSE is armed: the
 *	controller object prevents them)
 * @reserved: zero
 */
struct kesync_stats {
	__u64 requests;
	__u64 bytes;
	__u64 partials;
	__u64 timeouts;
	__u64 lost_irqs;
	__u64 resets;
	__u64 cancels;
	__u64 ctrl_waits;
	__u64 spurious;
	__u64 errors;
	__u64 short_xfers;
	__u64 hw_busy;
	__u64 reserved[4];
};

/**
 * struct kesync_hw_stats - the controller's own counters (KESYNC_IOC_HW_STATS)
 * @mmio_reads: MMIO reads the device served
 * @mmio_writes: MMIO writes the device served
 * @ctrl_busy: START commands the device refused because it was busy
 * @late_dma: DMA the device did for an aborted or reset transfer (must be 0)
 * @xfers: transfers the device completed
 * @resets: controller resets the device completed
 * @irqs: interrupts the device raised
 * @dma_errors: DMA accesses that failed
 * @reserved: zero
 */
struct kesync_hw_stats {
	__u32 mmio_reads;
	__u32 mmio_writes;
	__u32 ctrl_busy;
	__u32 late_dma;
	__u32 xfers;
	__u32 resets;
	__u32 irqs;
	__u32 dma_errors;
	__u32 reserved[8];
};

/* enum values of kesync_fault.kind: the device's KESYNC_FAULT_* kinds */
#define KESYNC_FAULT_F_MISDIRECT	(1u << 0) /* kesync_fault.flags */
#define KESYNC_FAULT_F_RESET_DELAY	(1u << 1)

/**
 * struct kesync_fault - arm a fault on this unit (KESYNC_IOC_FAULT)
 * @kind: a KESYNC_FAULT_* kind of <linux/kesync_hw.h>, or 0 to disarm
 * @count: how many of the next transfers take the fault (0..1000)
 * @arg: kind-specific: LATE delay in µs, SHORT byte count
 * @flags: KESYNC_FAULT_F_MISDIRECT: the next transfer DMAs to a wrong
 *	address (for the IOMMU negative control);
 *	KESYNC_FAULT_F_RESET_DELAY: the next controller reset takes
 *	@reset_delay_us ("stuck reset")
 * @reset_delay_us: with KESYNC_FAULT_F_RESET_DELAY, 1..10000000
 * @reserved: zero
 */
struct kesync_fault {
	__u32 kind;
	__u32 count;
	__u32 arg;
	__u32 flags;
	__u32 reset_delay_us;
	__u32 reserved0;
	__u64 reserved[2];
};

#define KESYNC_IOC_INFO		_IOR(KESYNC_IOC_MAGIC, 0, struct kesync_info)
#define KESYNC_IOC_GET_TIMEOUT	_IOR(KESYNC_IOC_MAGIC, 1, __u32)
#define KESYNC_IOC_STATS	_IOR(KESYNC_IOC_MAGIC, 3, struct kesync_stats)
/*
 * HW_STATS and FAULT touch the device's registers: while its function is
 * being reset, is suspended (D3hot) or recovers from a PCI error, they
 * fail with EBUSY (after waiting, at most a controller reset attempt, for
 * the quiesce in progress); try again once it is over.
 */
#define KESYNC_IOC_HW_STATS	_IOR(KESYNC_IOC_MAGIC, 4, struct kesync_hw_stats)
/*
 * Cancel the reads and writes the calling process has in flight on this
 * open file, from any of its threads (NT: CancelIoEx): each returns -EINTR
 * or its partial count (never restarted, even when a signal with an
 * SA_RESTART handler interrupted it too).  A close() cancels them only when it drops the
 * process's last descriptor of the file.
 */
#define KESYNC_IOC_CANCEL	_IO(KESYNC_IOC_MAGIC, 7)
/* CAP_SYS_ADMIN (a timeout resets the whole controller, as a reset does): */
#define KESYNC_IOC_SET_TIMEOUT	_IOW(KESYNC_IOC_MAGIC, 2, __u32)
#define KESYNC_IOC_RESET	_IO(KESYNC_IOC_MAGIC, 5)
#define KESYNC_IOC_FAULT	_IOW(KESYNC_IOC_MAGIC, 6, struct kesync_fault)

#endif /* _UAPI_LINUX_KESYNC_H */

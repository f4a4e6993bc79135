/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * kesync-pci: register map of the kesync DMA transfer controller.
 *
 * This header is the one source of truth for the hardware interface.  The
 * Linux driver (module/) includes it directly; QEMU's device model
 * (qemu-device/) includes a generated copy in its own directory, with the
 * kernel's fixed-width types rewritten to <stdint.h> ones, as QEMU does for
 * its standard-headers.
 * docs/hardware.md describes every register, its reset value and its side
 * effects; this file only names them.
 *
 * All registers are 32 bits wide, little-endian, and must be accessed with
 * naturally aligned 32-bit accesses.  64-bit quantities are split in _LO/_HI
 * halves.  Data structures the device reads from or writes to host memory are
 * little-endian.
 */
#ifndef _UAPI_LINUX_KESYNC_HW_H
#define _UAPI_LINUX_KESYNC_HW_H

#include <linux/types.h>

/* PCI identification */
#define KESYNC_PCI_VENDOR_ID		0x1b36	/* Red Hat, Inc. (QEMU) */
#define KESYNC_PCI_DEVICE_ID		0x00f5	/* unassigned, project-local */
#define KESYNC_PCI_REVISION		0x01
#define KESYNC_PCI_CLASS		0x088000 /* system peripheral, other */

/* BAR0: registers (KESYNC_BAR0_SIZE bytes).  BAR1: MSI-X table and PBA. */
#define KESYNC_BAR_REGS			0
#define KESYNC_BAR_MSIX			1
#define KESYNC_BAR0_SIZE		0x1000

#define KESYNC_MAGIC			0x4e59534b	/* "KSYN" */
#define KESYNC_VERSION_MAJOR		1
#define KESYNC_VERSION_MINOR		0
#define KESYNC_VERSION \
	((KESYNC_VERSION_MAJOR << 16) | KESYNC_VERSION_MINOR)

#define KESYNC_MAX_UNITS		8
#define KESYNC_MAX_SEGS_LIMIT		256	/* upper bound of max-segments */
#define KESYNC_MAX_XFER_LIMIT		(16u << 20) /* upper bound of max-transfer */

/* ---- Controller registers ---------------------------------------------- */

#define KESYNC_REG_MAGIC		0x000	/* RO  KESYNC_MAGIC */
#define KESYNC_REG_VERSION		0x004	/* RO  KESYNC_VERSION */
#define KESYNC_REG_CAPS			0x008	/* RO */
#define  KESYNC_CAPS_UNITS_MASK		0x0000000f /* number of units, 1..8 */
#define  KESYNC_CAPS_MSIX		(1u << 8)  /* MSI-X capability present */
#define  KESYNC_CAPS_MSI		(1u << 9)  /* MSI capability present */
#define  KESYNC_CAPS_CMPL_RECORDS	(1u << 10) /* completion records */
#define KESYNC_REG_MAX_SEGS		0x00c	/* RO  segments per transfer */
#define KESYNC_REG_MAX_XFER		0x010	/* RO  bytes per transfer */
#define KESYNC_REG_UNIT_SIZE_LO		0x014	/* RO  medium size per unit */
#define KESYNC_REG_UNIT_SIZE_HI		0x018	/* RO */
#define KESYNC_REG_SCRATCH		0x01c	/* RW  no side effect */

#define KESYNC_REG_CTRL			0x020	/* RW */
/* CTRL.RESET: write 1 to reset the controller; reads 1 until it is done */
#define  KESYNC_CTRL_RESET		(1u << 0)
#define KESYNC_REG_STATUS		0x024	/* RO */
#define  KESYNC_STATUS_BUSY		(1u << 0)  /* a transfer holds it */
#define  KESYNC_STATUS_UNIT_SHIFT	4	   /* which unit, when BUSY */
#define  KESYNC_STATUS_UNIT_MASK	(0xfu << KESYNC_STATUS_UNIT_SHIFT)
#define  KESYNC_STATUS_RESETTING	(1u << 8)  /* reset in progress */

#define KESYNC_REG_INTR_STATUS		0x028	/* RW1C pending events */
#define  KESYNC_INTR_UNIT(u)		(1u << (u)) /* unit u finished */
#define  KESYNC_INTR_UNITS_MASK		0x000000ff
#define  KESYNC_INTR_RESET_DONE		(1u << 16) /* controller reset done */
#define  KESYNC_INTR_SW			(1u << 17) /* raised by INTR_RAISE */
#define  KESYNC_INTR_CTRL_MASK		(KESYNC_INTR_RESET_DONE | KESYNC_INTR_SW)
#define KESYNC_REG_INTR_ENABLE		0x02c	/* RW  1 = event may interrupt */
#define KESYNC_REG_INTR_RAISE		0x030	/* WO  sets KESYNC_INTR_SW */
#define KESYNC_REG_CMPL_ADDR_LO		0x034	/* RW  completion records base */
#define KESYNC_REG_CMPL_ADDR_HI		0x038	/* RW  (0 = no records) */

/* Statistics: RO, 32-bit wrapping counters, cleared by power-on reset only. */
#define KESYNC_REG_STAT_MMIO_READS	0x040	/* reads served (this one too) */
#define KESYNC_REG_STAT_MMIO_WRITES	0x044	/* writes served */
#define KESYNC_REG_STAT_CTRL_BUSY	0x048	/* START refused: controller busy */
#define KESYNC_REG_STAT_LATE_DMA	0x04c	/* DMA for an aborted/reset xfer */
#define KESYNC_REG_STAT_XFERS		0x050	/* transfers completed */
#define KESYNC_REG_STAT_RESETS		0x054	/* controller resets done */
#define KESYNC_REG_STAT_IRQS		0x058	/* interrupt messages/assertions */
#define KESYNC_REG_STAT_DMA_ERRORS	0x05c	/* failed DMA accesses */

/* Whole-device fault modes (tests only). */
#define KESYNC_REG_DEV_FAULT		0x060	/* RW */
/*
 * MISDIRECT: the next transfer's data DMA goes to addr +
 * KESYNC_MISDIRECT_OFFSET; self-clearing.  REMOVED: surprise removal, set by
 * the host only (QOM property), read-only to the guest.
 */
#define  KESYNC_DEV_FAULT_MISDIRECT	(1u << 0)
#define  KESYNC_DEV_FAULT_REMOVED	(1u << 1)
#define KESYNC_MISDIRECT_OFFSET		0x40000000ull /* 1 GiB */
/* RW  "stuck reset": the next controller reset takes this long (µs) */
#define KESYNC_REG_RESET_DELAY_US	0x064

/* ---- Unit registers: window of unit u at KESYNC_UNIT_BASE(u) ------------ */

#define KESYNC_UNIT_BASE(u)		(0x100 + (u) * KESYNC_UNIT_STRIDE)
#define KESYNC_UNIT_STRIDE		0x80

#define KESYNC_UNIT_DESC_LO		0x00	/* RW  descriptor address */
#define KESYNC_UNIT_DESC_HI		0x04	/* RW  (8-byte aligned) */
#define KESYNC_UNIT_DOORBELL		0x08	/* WO  a KESYNC_DB_* command */
#define  KESYNC_DB_START		0x1	/* start the transfer at DESC */
#define  KESYNC_DB_ABORT		0x2	/* abort the unit's transfer */
#define KESYNC_UNIT_STATUS		0x0c	/* RO */
#define  KESYNC_USTAT_STATE_MASK	0x0000000f
#define  KESYNC_USTAT_ERR_SHIFT		8
#define  KESYNC_USTAT_ERR_MASK		(0xffu << KESYNC_USTAT_ERR_SHIFT)
#define KESYNC_UNIT_BYTES		0x10	/* RO  bytes moved by last xfer */
#define KESYNC_UNIT_TAG			0x14	/* RO  tag of last finished xfer */
#define KESYNC_UNIT_SEQ			0x18	/* RO  count of finished xfers */
#define KESYNC_UNIT_FAULT_KIND		0x20	/* RW  a KESYNC_FAULT_* kind */
#define KESYNC_UNIT_FAULT_COUNT		0x24	/* RW  arm for the next N xfers */
#define KESYNC_UNIT_FAULT_ARG		0x28	/* RW  kind-specific argument */
#define KESYNC_UNIT_STAT_XFERS		0x30	/* RO  transfers finished */
#define KESYNC_UNIT_STAT_BYTES_LO	0x34	/* RO  bytes moved */
#define KESYNC_UNIT_STAT_BYTES_HI	0x38	/* RO */

/* Unit state (KESYNC_UNIT_STATUS bits 3:0, completion record status). */
enum kesync_unit_state {
	KESYNC_STATE_IDLE	= 0,	/* never started since reset */
	KESYNC_STATE_BUSY	= 1,	/* a transfer is in flight */
	KESYNC_STATE_DONE	= 2,	/* last transfer finished, no error */
	KESYNC_STATE_ERROR	= 3,	/* last transfer failed: see ERR */
	KESYNC_STATE_ABORTED	= 4,	/* last transfer aborted */
};

/* Error codes (KESYNC_UNIT_STATUS bits 15:8, completion record status). */
enum kesync_err {
	KESYNC_ERR_NONE		= 0,
	/* START while another unit's transfer holds the controller */
	KESYNC_ERR_CTRL_BUSY	= 1,
	KESYNC_ERR_UNIT_BUSY	= 2,	/* START while this unit is busy */
	KESYNC_ERR_BAD_DESC	= 3,	/* descriptor unreadable or invalid */
	KESYNC_ERR_BAD_RANGE	= 4,	/* offset + length beyond the medium */
	/* more than max-transfer bytes or max-segments segments */
	KESYNC_ERR_TOO_LONG	= 5,
	KESYNC_ERR_DMA		= 6,	/* a data DMA access failed */
	KESYNC_ERR_INJECTED	= 7,	/* KESYNC_FAULT_ERROR */
	KESYNC_ERR_RESET	= 8,	/* ended by a controller reset */
};

/* Per-unit fault kinds, armed for the next FAULT_COUNT transfers. */
enum kesync_fault_kind {
	KESYNC_FAULT_NONE	= 0,
	KESYNC_FAULT_HANG	= 1,	/* never finishes until reset/abort */
	KESYNC_FAULT_LOST_IRQ	= 2,	/* finishes, no interrupt raised */
	KESYNC_FAULT_LATE	= 3,	/* finishes ARG µs later than due */
	KESYNC_FAULT_ERROR	= 4,	/* finishes with ERR_INJECTED, no DMA */
	KESYNC_FAULT_SHORT	= 5,	/* moves only ARG bytes (< length) */
	/* an extra interrupt mid-transfer, with nothing finished */
	KESYNC_FAULT_SPURIOUS	= 6,
	/* the START is refused with ERR_CTRL_BUSY, the unit left idle */
	KESYNC_FAULT_REFUSE	= 7,
	/* finishes, but reports the descriptor's tag + 1 */
	KESYNC_FAULT_WRONG_TAG	= 8,
	KESYNC_FAULT_KIND_MAX	= KESYNC_FAULT_WRONG_TAG,
};

/* ---- Host-memory structures --------------------------------------------- */

/* Descriptor flags */
/* set: host -> medium (a write); clear: medium -> host (a read) */
#define KESYNC_DESC_DIR_TO_DEV		(1u << 0)
#define KESYNC_DESC_FLAGS_VALID		KESYNC_DESC_DIR_TO_DEV

/**
 * struct kesync_seg - one scatter-gather segment
 * @addr: bus address of the segment
 * @len: length in bytes, 1..max-transfer
 * @rsvd: must be zero
 */
struct kesync_seg {
	__le64 addr;
	__le32 len;
	__le32 rsvd;
};

/**
 * struct kesync_desc - a transfer descriptor, read by the device on START
 * @flags: KESYNC_DESC_* flags; other bits must be zero
 * @nsegs: number of entries in @segs, 1..max-segments
 * @offset: byte offset on the unit's medium
 * @len: total bytes, must equal the sum of the segment lengths
 * @tag: opaque, echoed in KESYNC_UNIT_TAG and the completion record
 * @rsvd: must be zero
 * @segs: the segments, in medium order
 */
struct kesync_desc {
	__le32 flags;
	__le32 nsegs;
	__le64 offset;
	__le32 len;
	__le32 tag;
	__le64 rsvd;
	struct kesync_seg segs[];
};

/**
 * struct kesync_cmpl - completion record, one per unit
 * @tag: tag of the finished transfer
 * @status: state (bits 3:0) and error (bits 15:8), as KESYNC_UNIT_STATUS
 * @bytes: bytes moved
 * @seq: the unit's KESYNC_UNIT_SEQ after this completion; written last
 *
 * When CMPL_ADDR is set, the device writes the record of unit u at
 * CMPL_ADDR + u * sizeof(struct kesync_cmpl) before it raises the unit's
 * interrupt, so a driver learns of a completion without an MMIO read.
 */
struct kesync_cmpl {
	__le32 tag;
	__le32 status;
	__le32 bytes;
	__le32 seq;
};

#define KESYNC_DESC_ALIGN		8
#define KESYNC_CMPL_ALIGN		64
#define KESYNC_DESC_SIZE(nsegs) \
	(sizeof(struct kesync_desc) + (nsegs) * sizeof(struct kesync_seg))

/* MSI-X vectors: one per unit, then one for controller events. */
#define KESYNC_MSIX_VEC_UNIT(u)		(u)
#define KESYNC_MSIX_VEC_CTRL(units)	(units)

#endif /* _UAPI_LINUX_KESYNC_HW_H */

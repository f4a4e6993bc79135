#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Write the seed corpus of the kesync-pci generic-fuzz run (scripts/fuzz.sh)
into qemu-device/tests/fuzz-corpus/: the qtest's valid transfers, spelled in
generic-fuzz's input language (QEMU's tests/qtest/fuzz/generic_fuzz.c).

An input is a list of commands separated by b"FUZZ"; a command is an opcode
byte (taken modulo 10) and the bytes of that opcode's argument struct, copied
with memcpy, so with the struct's padding:
  OP_READ  2: u8 size, u8 region, 2 pad, u32 offset
  OP_WRITE 3: u8 size, u8 region, 2 pad, u32 offset, u64 value
  OP_ADD_DMA_PATTERN 7: u8 index, u8 stride, pattern bytes
  OP_CLEAR_DMA_PATTERNS 8, OP_CLOCK_STEP 9: no argument
size 2 is a 32-bit access; region is the index of the matched MMIO region in
address order: 0 is BAR0, the registers (BAR1's MSI-X table and PBA follow).
Each DMA read the device makes from guest RAM is filled with the next DMA
pattern, in turn: the descriptor header, then its segments, then the data.

Run it again after a change of the register map or the descriptor layout;
the files are committed.
"""

import os
import struct
import sys

OP_READ, OP_WRITE, OP_ADD_DMA, OP_CLEAR_DMA, OP_STEP = 2, 3, 7, 8, 9
SEP = b"FUZZ"

# include/uapi/linux/kesync_hw.h
REG_CTRL, REG_INTR_STATUS, REG_INTR_ENABLE = 0x020, 0x028, 0x02c
REG_CMPL_LO, REG_CMPL_HI = 0x034, 0x038
REG_DEV_FAULT, REG_RESET_DELAY_US = 0x060, 0x064
DEV_FAULT_MISDIRECT = 1
CTRL_RESET = 1
DESC_LO, DESC_HI, DOORBELL, STATUS = 0x00, 0x04, 0x08, 0x0c
FAULT_KIND, FAULT_COUNT, FAULT_ARG = 0x20, 0x24, 0x28
DB_START, DB_ABORT = 1, 2
DIR_TO_DEV = 1
(F_HANG, F_LOST_IRQ, F_LATE, F_ERROR, F_SHORT, F_SPURIOUS, F_REFUSE,
 F_WRONG_TAG) = range(1, 9)

DESC = 0x100000         # guest addresses: descriptor, data, records
DATA = 0x200000
CMPL = 0x300000


def unit(u, reg):
    return 0x100 + u * 0x80 + reg


def wr(off, val):
    return bytes([OP_WRITE]) + struct.pack("<BBxxIQ", 2, 0, off, val)


def rd(off):
    return bytes([OP_READ]) + struct.pack("<BBxxI", 2, 0, off)


def pattern(data):
    return bytes([OP_ADD_DMA, 0, 0]) + data


def step(n=1):
    return [bytes([OP_STEP])] * n


def header(flags, nsegs, offset, length, tag):
    return struct.pack("<IIQIIQ", flags, nsegs, offset, length, tag, 0)


def segs(*pairs):
    return b"".join(struct.pack("<QII", a, n, 0) for a, n in pairs)


def xfer(u, flags, offset, pairs, tag, data=None, steps=3):
    """One transfer on unit u: its DMA patterns, START, the clock run to
    its end, STATUS read."""
    length = sum(n for _, n in pairs)
    cmds = [bytes([OP_CLEAR_DMA]),
            pattern(header(flags, len(pairs), offset, length, tag)),
            pattern(segs(*pairs))]
    if flags & DIR_TO_DEV:
        # (a pattern repeats to fill a longer read)
        cmds.append(pattern(data or bytes((i * 7 + tag) & 0xff
                                          for i in range(min(length, 256)))))
    cmds += [wr(unit(u, DESC_LO), DESC), wr(unit(u, DESC_HI), 0),
             wr(unit(u, DOORBELL), DB_START)]
    return cmds + step(steps) + [rd(unit(u, STATUS))]


def arm(u, kind, count, arg):
    return [wr(unit(u, FAULT_KIND), kind), wr(unit(u, FAULT_ARG), arg),
            wr(unit(u, FAULT_COUNT), count)]


def records():
    return [wr(REG_CMPL_LO, CMPL), wr(REG_CMPL_HI, 0),
            wr(REG_INTR_ENABLE, 0xffffffff)]


SEEDS = {
    # /kesync/dma/rw: a write, then the read back of it.
    "rw": xfer(0, DIR_TO_DEV, 0, [(DATA, 64)], 1) +
          xfer(0, 0, 0, [(DATA + 0x1000, 64)], 2),
    # three segments, unaligned buffers and offset, completion records.
    "segments": records() +
        xfer(1, DIR_TO_DEV, 4093, [(DATA + 3, 7), (DATA + 0x100, 511),
                                   (DATA + 0x400, 513)], 3) +
        xfer(1, 0, 4093, [(DATA + 0x2005, 1031)], 4),
    # the last bytes of a medium, on the last unit.
    "edge": xfer(3, DIR_TO_DEV, (1 << 20) - 4096, [(DATA, 4096)], 5) +
            xfer(3, 0, (1 << 20) - 4096, [(DATA + 0x2000, 4096)], 6),
    # faults armed through the unit registers, each on one transfer.
    "faults": records() +
        arm(0, F_SHORT, 1, 100) + xfer(0, DIR_TO_DEV, 0, [(DATA, 512)], 7) +
        arm(0, F_LATE, 1, 50) + xfer(0, 0, 0, [(DATA, 512)], 8) +
        arm(1, F_SPURIOUS, 1, 0) + xfer(1, 0, 0, [(DATA, 256)], 9) +
        arm(2, F_ERROR, 1, 0) + xfer(2, DIR_TO_DEV, 0, [(DATA, 64)], 10) +
        arm(2, F_LOST_IRQ, 1, 0) + xfer(2, 0, 0, [(DATA, 64)], 11) +
        arm(3, F_REFUSE, 1, 0) + xfer(3, 0, 0, [(DATA, 64)], 17) +
        arm(3, F_WRONG_TAG, 1, 0) + xfer(3, 0, 0, [(DATA, 64)], 18),
    # a hung transfer, aborted, then a controller reset with a delay.
    "abort-reset": records() +
        arm(0, F_HANG, 1, 0) + xfer(0, DIR_TO_DEV, 0, [(DATA, 64)], 12) +
        [wr(unit(0, DOORBELL), DB_ABORT)] + step(2) +
        arm(1, F_HANG, 1, 0) + xfer(1, 0, 0, [(DATA, 64)], 13) +
        [wr(REG_RESET_DELAY_US, 100), wr(REG_CTRL, CTRL_RESET)] + step(3) +
        [rd(REG_CTRL), wr(REG_INTR_STATUS, 0xffffffff)] +
        xfer(0, DIR_TO_DEV, 0, [(DATA, 64)], 14),
    # the misdirect device fault: the data lands 1 GiB off.
    "misdirect": [wr(REG_DEV_FAULT, DEV_FAULT_MISDIRECT)] +
        xfer(0, 0, 0, [(DATA, 64)], 15) +
        [wr(REG_DEV_FAULT, 0)] + xfer(0, 0, 0, [(DATA, 64)], 16),
}


def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                       "fuzz-corpus")
    os.makedirs(out, exist_ok=True)
    for name, cmds in SEEDS.items():
        for c in cmds:
            assert SEP not in c, (name, c)
        with open(os.path.join(out, name), "wb") as f:
            f.write(SEP.join(cmds))
    return 0


if __name__ == "__main__":
    sys.exit(main())

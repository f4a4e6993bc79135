#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The table of 'make coverage' (scripts/coverage.sh): gcovr JSON files
(one per guest boot for the driver, one for the device) merged by source
file, then per file lines run, branches taken and the functions never
run, with a total for module/ and one for qemu-device/.

    coverage-report.py [--summary FILE] [--markdown FILE] [--src DIR] JSON...

A line or branch counts once however many boots ran it; a line is code
when gcov says so (gcovr's noncode and excluded lines are left out).  The
summary line ("coverage: module/ L% lines, B% branches; qemu-device/ ...")
goes to FILE too, for 'make check' to print.  After the table, for each
boot, the lines of module/ it alone runs (0: every line it runs, another
boot runs too; a boot to leave out of the next run, unless it tests
something coverage does not show).  --markdown writes the table as
docs/testing.md shows it.

With --src (the driver's sources the counts were taken from), module/'s
branches are also given without those inside kernel macros: a line whose
statement is a lockdep assertion, a bit operation, a wait_event*() or
whose call is readl_poll_timeout() or a dev_*_ratelimited() has branches
of the macro's own code (an assertion that fires only on a bug, a
poll loop's deadline, the ratelimit), not decisions of the driver; the
lines themselves still count.  Both figures are printed."""

import argparse
import json
import os
import re
import sys

# Lines of module/ whose branches are the kernel macro's own (see above).
MACRO_LINE = re.compile(
    r"^\s*(lockdep_assert\w*|__set_bit|set_bit|__clear_bit|clear_bit|"
    r"wait_event\w*|wait_var_event\w*)\(|\b(readl_poll_timeout\w*|readx_poll_timeout\w*|"
    r"dev_\w+_ratelimited)\(")


def short(path):
    """module/NAME for the kernel tree's copy of the driver, qemu-device/
    for QEMU's copy of the device."""
    base = os.path.basename(path)
    if "/drivers/misc/kesync/" in path:
        return "module/" + base
    if "/hw/misc/kesync/" in "/" + path:
        return "qemu-device/" + base
    return path


class File:
    def __init__(self):
        self.lines = {}     # line number -> run at all
        self.branches = {}  # (line, index) -> taken at all
        self.funcs = {}     # (name, line) -> run at all
        self.macro = set()  # lines whose branches are a kernel macro's

    def own_branches(self):
        """Branches taken and branches, those of self.macro left out."""
        own = [t for (n, _), t in self.branches.items()
               if n not in self.macro]
        return sum(own), len(own)

    def add(self, rec):
        for ln in rec.get("lines", []):
            if ln.get("gcovr/noncode") or ln.get("gcovr/excluded"):
                continue
            n = ln["line_number"]
            self.lines[n] = self.lines.get(n, False) or ln["count"] > 0
            for i, b in enumerate(ln.get("branches", [])):
                k = (n, i)
                self.branches[k] = self.branches.get(k, False) or \
                    b["count"] > 0
        for fn in rec.get("functions", []):
            k = (fn["name"], fn["lineno"])
            self.funcs[k] = self.funcs.get(k, False) or \
                fn["execution_count"] > 0


def pct(part, whole):
    return 100.0 * part / whole if whole else 100.0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--summary")
    ap.add_argument("--markdown")
    ap.add_argument("--src", help="the driver's sources of the counts")
    ap.add_argument("json", nargs="+")
    args = ap.parse_args()

    files = {}
    boots = []
    # Per boot of the driver: the (file, line) it runs.
    ran = {}
    for path in args.json:
        with open(path) as f:
            data = json.load(f)
        name = os.path.basename(path)[:-len(".json")]
        if name.startswith("module-"):
            boot = name[len("module-"):]
            boots.append(boot)
            ran[boot] = set()
        for rec in data.get("files", []):
            files.setdefault(short(rec["file"]), File()).add(rec)
            if name.startswith("module-"):
                one = File()
                one.add(rec)
                ran[boot].update((short(rec["file"]), n)
                                 for n, r in one.lines.items() if r)

    if args.src:
        for name, f in files.items():
            path = os.path.join(args.src, os.path.basename(name))
            if not name.startswith("module/") or not os.path.exists(path):
                continue
            with open(path, errors="replace") as fh:
                f.macro = {i for i, text in enumerate(fh, 1)
                           if MACRO_LINE.search(text)}

    groups = {"module/": [0] * 6, "qemu-device/": [0] * 6}
    md = ["| file | lines | branches | branches, kernel macros' left out "
          "| functions never run |", "|---|---|---|---|---|"]
    print("%-28s %14s %14s %14s  %s" % ("file", "lines", "branches",
                                        "own branches", "functions never run"))
    for name in sorted(files):
        f = files[name]
        lr, lt = sum(f.lines.values()), len(f.lines)
        br, bt = sum(f.branches.values()), len(f.branches)
        orr, ot = f.own_branches()
        never = sorted((ln, fn) for (fn, ln), run in f.funcs.items()
                       if not run)
        print("%-28s %5.1f%% %3d/%-4d %5.1f%% %3d/%-4d %5.1f%% %3d/%-4d  %s" % (
            name, pct(lr, lt), lr, lt, pct(br, bt), br, bt,
            pct(orr, ot), orr, ot, ", ".join(fn for _, fn in never) or "-"))
        md.append("| %s | %.1f%% (%d/%d) | %.1f%% (%d/%d) | %.1f%% (%d/%d) | %s |" % (
            name, pct(lr, lt), lr, lt, pct(br, bt), br, bt,
            pct(orr, ot), orr, ot,
            ", ".join("`%s`" % fn for _, fn in never) or "-"))
        for g, acc in groups.items():
            if name.startswith(g):
                for i, v in enumerate((lr, lt, br, bt, orr, ot)):
                    acc[i] += v
    parts = []
    for g, (lr, lt, br, bt, orr, ot) in groups.items():
        if lt:
            own = ""
            if ot != bt:
                own = " (%.1f%% without kernel macros' own)" % pct(orr, ot)
            parts.append("%s %.1f%% lines, %.1f%% branches%s" %
                         (g, pct(lr, lt), pct(br, bt), own))
            md.append("| **%s** | **%.1f%%** (%d/%d) | **%.1f%%** (%d/%d) "
                      "| **%.1f%%** (%d/%d) | |" % (
                          g, pct(lr, lt), lr, lt, pct(br, bt), br, bt,
                          pct(orr, ot), orr, ot))
    if len(ran) > 1:
        print("lines of module/ only one boot runs:")
        for b in sorted(ran):
            others = set().union(*(v for k, v in ran.items() if k != b))
            print("  %-22s %4d of %d" % (b, len(ran[b] - others),
                                         len(ran[b])))
    summary = "coverage: %s (driver: %d boot%s on the debug kernel)" % (
        "; ".join(parts) or "no data", len(boots),
        "" if len(boots) == 1 else "s")
    print(summary)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write("\n".join(md) + "\n")
    if args.summary:
        with open(args.summary, "w") as f:
            f.write(summary + "\n")
    return 0 if files else 1


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""kesync benchmark: host-side control and report (see docs/benchmarks.md).

  bench-report.py watch --log RESULTS --qmp SOCK --trace-dir DIR --psi FILE --pid PID
      Follows what the guest job writes on its results port (a file) while
      the guest runs.  On 'KESYNC-BENCH RUN-BEGIN id=X' and 'RUN-END id=X'
      it appends the host's /proc/pressure/cpu totals to FILE.  On
      'TRACE-ON NAME' it points QEMU's log at DIR/trace-NAME.log, enables
      the memory_region_ops_read/write trace events over QMP and injects
      an NMI, which the guest waits for; 'TRACE-OFF NAME' disables them and
      injects another NMI.

  bench-report.py report --dir DIR [--accel A --qemu-version V --wall S ...]
      Parses DIR/results.log (one fio JSON per run, the per-run context
      switch and interrupt counts, the ftrace floor runs, MMIO runs,
      debugfs irqs-off statistics, timeout figures), DIR/psi.log and
      DIR/trace-*.log.gz (both devices' MMIO accesses), and writes
      DIR/results.json, DIR/table.txt and DIR/bench.png (gnuplot), and
      prints the table.
"""
import argparse
import gzip
import json
import math
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import irqoff  # noqa: E402  (scripts/irqoff.py)

# The goals of issue 13 (figures, not pass/fail; docs/benchmarks.md).
TARGETS = {
    "rr4k_p50_vs_nvme": {"startio": 0.7, "thread": 0.8},   # <=, thread-pool nvme
    "rr4k_p50_vs_uring": {"startio": 1.0},                 # <=, io_uring nvme
    "rr4k_p50_vs_floor": 1.6,                              # <=, each pump
    "seq1m_vs_nvme": 1.0,                                  # >=, read and write
    "partial_vs_floor": 1.25,                              # <=, per 64 KiB window
    "ctx_per_io_4k": {"startio": 2.5, "thread": 3.5},      # <=
    "mmio_vs_nvme": "<=",            # MMIO accesses per I/O <= nvme's
    "msix_hot_path_reads": 0,        # no MMIO read per I/O with MSI-X
    "detect_window_s": [0, 1],       # T <= detection <= T + 1 s
    "recovery_max_s": 0.1,           # recovery < 100 ms
}

TESTS = {  # name: fio direction, what it is, key figure, higher is better
    "rr4k": ("read", "QD1 4 KiB random read", "clat_p50_us", False),
    "rw4k": ("write", "QD1 4 KiB random write", "clat_p50_us", False),
    "sr1m": ("read", "1 MiB sequential read", "mib_s", True),
    "sw1m": ("write", "1 MiB sequential write", "mib_s", True),
}
SIDES = ["nvme", "uring", "nvme-b", "kesync", "kesync-ua", "nvme-other", "kesync-other"]
SIDE_DESC = {
    "nvme": "nvme, thread-pool backend (aio=threads), namespace 1",
    "nvme-b": "nvme, thread pool, namespace 2 (the noise floor: nvme against itself)",
    "uring": "nvme, aio=io_uring backend, namespace 1",
    "kesync": "kesync unit 0, page-aligned buffers",
    "kesync-ua": "kesync unit 0, fio's default (unaligned, malloc) buffers",
    "nvme-other": "nvme, fio on the CPU that does not take kesync's interrupt",
    "kesync-other": "kesync, fio on the CPU that does not take its interrupt",
}
# Each side's ratio is against these (same block, same repetition).
REFS = {"nvme-b": ["nvme"], "uring": ["nvme"], "kesync": ["nvme", "uring"],
        "kesync-ua": ["nvme", "kesync"], "nvme-other": ["nvme"],
        "kesync-other": ["nvme-other", "kesync"]}


def test_info(test):
    if test in TESTS:
        return TESTS[test]
    if test.startswith("rr4k-j"):
        return ("read", "4 KiB random read, %s jobs on %s units" % (test[6:], test[6:]),
                "iops", True)
    return ("read", test, "iops", True)


# ---------------------------------------------------------------- watch ---

class Qmp:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(30)
        self.s.connect(path)
        self.f = self.s.makefile("rwb")
        self._read()                      # greeting
        self.cmd("qmp_capabilities")

    def _read(self):
        line = self.f.readline()
        if not line:
            raise OSError("QMP connection closed")
        return json.loads(line)

    def cmd(self, execute, **arguments):
        msg = {"execute": execute}
        if arguments:
            msg["arguments"] = arguments
        self.f.write((json.dumps(msg) + "\n").encode())
        self.f.flush()
        while True:
            r = self._read()
            if "return" in r:
                return r["return"]
            if "error" in r:
                raise RuntimeError("QMP %s: %s" % (execute, r["error"]))


def alive(pid):
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:  # a zombie is not alive
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def psi_totals():
    """The host's CPU pressure so far: (some, full) total stall, µs."""
    some = full = None
    try:
        with open("/proc/pressure/cpu") as f:
            for l in f:
                d = dict(re.findall(r"(\w+)=(\S+)", l))
                if l.startswith("some"):
                    some = int(d.get("total", 0))
                elif l.startswith("full"):
                    full = int(d.get("total", 0))
    except OSError:
        pass
    return some, full


def watch(a):
    wlog = open(os.path.join(a.trace_dir, "watch.log"), "a")
    psi = open(a.psi, "a")

    def note(msg):
        wlog.write("%.3f %s\n" % (time.time(), msg))
        wlog.flush()

    qmp = None
    pos = 0
    buf = b""
    events = ("memory_region_ops_read", "memory_region_ops_write")
    while True:
        running = alive(a.pid)
        if qmp is None and os.path.exists(a.qmp):
            try:
                qmp = Qmp(a.qmp)
                note("QMP connected")
            except OSError as e:
                qmp = None
                note("QMP connect: %s" % e)
        try:
            with open(a.log, "rb") as f:
                f.seek(pos)
                data = f.read()
                pos += len(data)
        except OSError:
            data = b""
        buf += data
        *lines, buf = buf.split(b"\n")
        for raw in lines:
            line = raw.decode("utf-8", "replace").strip("\r")
            m = re.search(r"KESYNC-BENCH RUN-(BEGIN|END) id=(\S+)", line)
            if m:
                some, full = psi_totals()
                psi.write("%s %s %.6f %s %s %s\n" % (
                    m.group(1), m.group(2), time.time(), some, full,
                    os.getloadavg()[0]))
                psi.flush()
                continue
            m = re.search(r"KESYNC-BENCH TRACE-(ON|OFF) (\S+)", line)
            if not m:
                continue
            if qmp is None:
                note("TRACE-%s but no QMP" % m.group(1))
                continue
            on = m.group(1) == "ON"
            try:
                if on:
                    path = os.path.join(a.trace_dir, "trace-%s.log" % m.group(2))
                    qmp.cmd("human-monitor-command",
                            **{"command-line": "logfile " + path})
                for ev in events:
                    qmp.cmd("trace-event-set-state", name=ev, enable=on)
                qmp.cmd("inject-nmi")
                note("trace %s %s" % (m.group(1), m.group(2)))
            except (OSError, RuntimeError, ValueError) as e:
                note("QMP: %s" % e)
        if not running:
            break
        time.sleep(0.02)
    note("guest ended")
    return 0


# --------------------------------------------------------------- parsing ---

def kv(s):
    return dict(re.findall(r"(\w+)=(\S+)", s))


def num(v):
    try:
        return int(v)
    except (TypeError, ValueError):
        try:
            return float(v)
        except (TypeError, ValueError):
            return v


def fio_metrics(js, direction):
    """A run's figures from its fio JSON (one reporting group)."""
    jobs = js.get("jobs", [])
    if not jobs:
        return None
    job = jobs[0]
    d = job[direction]
    clat = d.get("clat_ns", {})
    pct = clat.get("percentile", {})

    def p(q):
        for k, v in pct.items():
            if abs(float(k) - q) < 1e-6:
                return v / 1000.0
        return None
    return {
        "iops": d.get("iops"),
        "mib_s": d.get("bw_bytes", 0) / 1048576.0,
        "clat_mean_us": clat.get("mean", 0) / 1000.0,
        "clat_p50_us": p(50.0),
        "clat_p99_us": p(99.0),
        "clat_max_us": clat.get("max", 0) / 1000.0,
        "ios": sum(job[x].get("total_ios", 0) for x in ("read", "write")
                   if isinstance(job.get(x), dict)),
        "errors": job.get("error", 0),
        "usr_cpu": job.get("usr_cpu"),
        "sys_cpu": job.get("sys_cpu"),
    }


def take_block(lines, i, end):
    """The lines from lines[i] up to the one holding end, and the index
    after that one."""
    body = []
    while i < len(lines) and end not in lines[i]:
        body.append(lines[i])
        i += 1
    return body, i + 1


def parse_results(path):
    res = {"runs": {}, "fio": {}, "mmio": [], "debugfs": {}, "timeout": {},
           "info": {}, "nvme": {}, "irqs": [], "configs": {}, "floor": {},
           "stages": {}, "problems": []}
    with open(path, "rb") as f:
        lines = [l.decode("utf-8", "replace").rstrip("\r\n") for l in f]
    i = 0
    n = len(lines)
    while i < n:
        l = lines[i]
        i += 1
        if "KESYNC-BENCH " not in l:
            continue
        body = l[l.index("KESYNC-BENCH ") + len("KESYNC-BENCH "):]
        word, _, rest = body.partition(" ")
        if word == "INFO":
            res["info"] = kv(rest)
        elif word == "NVME":
            d = kv(rest)
            res["nvme"][d.get("ctrl")] = d
        elif word == "IRQ":
            res["irqs"].append({k: num(v) for k, v in kv(rest).items()})
        elif word == "CONFIG":
            d = kv(rest)
            res["configs"][d["target"]] = d
        elif word == "RUN-END":
            d = kv(rest)
            d["irqs"] = [int(x) for x in d.get("irqs", "0,0,0").split(",")]
            res["runs"][d["n"]] = d
        elif word == "FIO-BEGIN":
            d = kv(rest)
            text, i = take_block(lines, i, "KESYNC-BENCH FIO-END")
            try:
                # fio may print notes before its JSON
                t = "\n".join(text)
                res["fio"][d["n"]] = json.loads(t[t.index("{"):])
            except ValueError as e:
                res["problems"].append("fio JSON of run %s (%s): %s"
                                       % (d.get("n"), d.get("id"), e))
        elif word == "FIO-FAILED":
            res["problems"].append("fio failed: " + rest)
        elif word == "FLOOR-BEGIN":
            d = kv(rest)
            ev, i = take_block(lines, i, "KESYNC-BENCH FLOOR-END")
            res["floor"][d["target"]] = {"cpu": num(d.get("cpu")),
                                         "big_bs": d.get("big_bs"), "events": ev}
        elif word == "STAGES-BEGIN":
            d = kv(rest)
            ev, i = take_block(lines, i, "KESYNC-BENCH STAGES-END")
            res["stages"][d["target"]] = {"cpu": num(d.get("cpu")), "events": ev}
        elif word == "MMIO-RUN":
            d = {k: num(v) for k, v in kv(rest).items()}
            res["mmio"].append(d)
        elif word == "DEBUGFS-BEGIN":
            d = kv(rest)
            text, i = take_block(lines, i, "KESYNC-BENCH DEBUGFS-END")
            res["debugfs"].setdefault(d["target"], {})[d["file"]] = "\n".join(text)
        elif word == "TIMEOUT-BEGIN":
            d = kv(rest)
            one, summ, bad = [], {}, []
            while i < n and "KESYNC-BENCH TIMEOUT-END" not in lines[i]:
                t = lines[i]
                if "KESYNC-BENCH-TIMEOUT-ONE" in t:
                    one.append({k: num(v) for k, v in kv(t).items()})
                elif "KESYNC-BENCH-TIMEOUT-BAD" in t:
                    bad.append(t.split("KESYNC-BENCH-TIMEOUT-BAD", 1)[1].strip())
                elif "KESYNC-BENCH-TIMEOUT " in t:
                    summ = {k: num(v) for k, v in kv(t).items()}
                i += 1
            i += 1
            res["timeout"][d["target"]] = {"runs": one, "summary": summ,
                                           "bad": bad}
        elif word in ("LOAD-FAILED", "NVME-FAILED", "NVME-INSMOD-FAILED",
                      "TRACE-SYNC-FAILED", "FLOOR-FAILED", "FLOOR-FIO-FAILED",
                      "STAGES-FAILED", "STAGES-FIO-FAILED", "STAGES-NO-EVENT"):
            res["problems"].append(body)
        elif word == "DONE":
            res["done"] = True
    return res


def parse_psi(path):
    """{run id: {"some_pct", "full_pct", "load1"}} from the watcher's log."""
    begin, out = {}, {}
    try:
        f = open(path)
    except OSError:
        return out
    with f:
        for l in f:
            p = l.split()
            if len(p) < 6:
                continue
            kind, rid, t = p[0], p[1], float(p[2])
            some = int(p[3]) if p[3].isdigit() else None
            full = int(p[4]) if p[4].isdigit() else None
            if kind == "BEGIN":
                begin[rid] = (t, some, full)
            elif kind == "END" and rid in begin:
                t0, s0, f0 = begin.pop(rid)
                dt = (t - t0) * 1e6
                out[rid] = {
                    "wall_s": round(t - t0, 3),
                    "some_pct": None if s0 is None or some is None or dt <= 0
                    else round(100.0 * (some - s0) / dt, 1),
                    "full_pct": None if f0 is None or full is None or dt <= 0
                    else round(100.0 * (full - f0) / dt, 1),
                    "load1": float(p[5]),
                }
    return out


def pctl(xs, q):
    xs = sorted(xs)
    if not xs:
        return None
    k = (len(xs) - 1) * q
    lo = int(math.floor(k))
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def floor_stats(fl):
    """Device round trip + one interrupt, from one floor run's trace: each
    I/O start event (kesync_programmed, right after the doorbell write;
    nvme_setup_cmd, right before it) paired with the next irq_handler_exit
    of the device's vectors.  Sections: '4k' (4 KiB random reads) and
    'big' (1 MiB reads on kesync, so one sample per 64 KiB window, 64 KiB
    reads on nvme).  For kesync's big section also the window cycle: from
    one window's programming to the next one's, within a request."""
    sec = None
    start = None
    samples = {"4k": [], "big": []}
    cycle = []
    last_prog = None
    for l in fl["events"]:
        p = l.split(None, 3)
        if len(p) < 3:
            continue
        try:
            ts = float(p[0])
        except ValueError:
            continue
        ev, det = p[2], p[3] if len(p) > 3 else ""
        if ev == "tracing_mark_write":
            m = re.search(r"KFLOOR (\w+)", det)
            if m:
                sec = m.group(1) if m.group(1) in samples else None
                start = None
                last_prog = None
            continue
        if sec is None:
            continue
        if ev in ("kesync_programmed", "nvme_setup_cmd"):
            start = ts
            if ev == "kesync_programmed" and sec == "big":
                m = re.search(r"req=(\d+)", det)
                rq = m.group(1) if m else None
                if last_prog and last_prog[0] == rq:
                    cycle.append((ts - last_prog[1]) * 1e6)
                last_prog = (rq, ts)
        elif ev == "irq_handler_exit" and start is not None:
            samples[sec].append((ts - start) * 1e6)
            start = None
    out = {"cpu": fl.get("cpu"), "big_bs": fl.get("big_bs")}
    for k, xs in samples.items():
        out[k] = {"n": len(xs), "p50_us": pctl(xs, 0.5), "p10_us": pctl(xs, 0.1),
                  "p90_us": pctl(xs, 0.9)}
    out["window_cycle"] = {"n": len(cycle), "p50_us": pctl(cycle, 0.5),
                           "p10_us": pctl(cycle, 0.1), "p90_us": pctl(cycle, 0.9)}
    return out


def stage_label(ev, task, det, same_cpu):
    """One traced event of a read's path, as the breakdown names it."""
    def who(comm):
        if comm.startswith("swapper") or comm == "<idle>":
            return "idle"
        if comm.startswith("fio"):
            return "fio"
        if comm.startswith("kesync"):
            return "pump"
        if comm.startswith("kworker"):
            return "kworker"
        return "other"
    if ev == "sys_enter":
        lab = "read()"
    elif ev == "sys_exit":
        lab = "return"
    elif ev == "irq_handler_entry":
        lab = "hardirq"
    elif ev == "irq_handler_exit":
        lab = "hardirq end"
    elif ev == "softirq_entry":
        lab = "softirq"
    elif ev == "softirq_exit":
        lab = "softirq end"
    elif ev == "sched_wakeup":
        m = re.search(r"comm=(\S+)", det)
        lab = "wake " + who(m.group(1) if m else "")
    elif ev == "sched_switch":
        a = re.search(r"prev_comm=(\S+)", det)
        b = re.search(r"next_comm=(\S+)", det)
        lab = "switch %s>%s" % (who(a.group(1) if a else ""),
                                who(b.group(1) if b else ""))
    elif ev.startswith("kesync_"):
        lab = ev[len("kesync_"):]
    elif ev.startswith("nvme_"):
        lab = ev[len("nvme_"):]
    else:
        lab = ev
    return lab if same_cpu else lab + " (other CPU)"


def stage_stats(st):
    """Where a read's time goes, from one stages run's trace (every hop of
    its path traced, scripts/jobs/bench.sh stages_run): each read runs
    from fio's pread64 entry to its exit (fio's preads that reach no
    driver are left out); its events in time order make hops (event A ->
    event B).  Per section ('4k', 'big'): the reads, the commonest path
    and its share, the share of the device's interrupts taken on the
    read's CPU, and per hop its count per read and its p50 and mean in
    microseconds, in the order of the commonest path when at least half
    the reads take it, else the 16 hops of the largest total; the other
    hops are summed as 'other hops'.  The means per read add up to the
    mean traced read."""
    out = {"cpu": st.get("cpu")}
    sec = None
    cur = None
    reads = {"4k": [], "big": []}
    for line in st["events"]:
        p = line.split(None, 4)
        if len(p) < 4:
            continue
        try:
            ts, cpu = float(p[0]), int(p[1])
        except ValueError:
            continue
        task, ev = p[2], p[3].rstrip(":")
        det = p[4] if len(p) > 4 else ""
        if ev == "tracing_mark_write":
            m = re.search(r"KSTAGES (\w+)", det)
            if m:
                sec = m.group(1) if m.group(1) in reads else None
                cur = None
            continue
        if sec is None:
            continue
        if ev == "sys_enter" and task.startswith("fio"):
            cur = {"cpu": cpu, "task": task, "ev": [(ts, "read()")]}
            continue
        if cur is None:
            continue
        lab = stage_label(ev, task, det, cpu == cur["cpu"])
        cur["ev"].append((ts, lab))
        if ev == "sys_exit" and task == cur["task"]:
            # fio's own preads (of /proc, of its files) reach no driver
            labs = [lab.split(" (")[0] for _, lab in cur["ev"]]
            if "queued" in labs or "setup_cmd" in labs:
                reads[sec].append(cur["ev"])
            cur = None
    for sec, rs in reads.items():
        if not rs:
            continue
        sigs = {}
        for r in rs:
            k = tuple(lab for _, lab in r)
            sigs[k] = sigs.get(k, 0) + 1
        best = max(sigs.items(), key=lambda x: x[1])[0]
        hops = {}
        for r in rs:
            for (t0, a), (t1, b) in zip(r, r[1:]):
                hops.setdefault((a, b), []).append((t1 - t0) * 1e6)
        share = sigs[best] / float(len(rs))
        if share >= 0.5:
            order = list(dict.fromkeys(zip(best, best[1:])))
        else:
            # no path most reads take (a 1 MiB read's windows): the
            # hops that cost the most, each read's total time shared out
            order = sorted(hops, key=lambda k: -sum(hops[k]))[:16]
        rows, other = [], 0.0
        nr = float(len(rs))
        for k in order:
            xs = hops.pop(k)
            rows.append({"hop": "%s -> %s" % k, "per_read": len(xs) / nr,
                         "p50_us": pctl(xs, 0.5), "mean_us": sum(xs) / len(xs),
                         "us_per_read": sum(xs) / nr})
        for xs in hops.values():
            other += sum(xs)
        tot = [(r[-1][0] - r[0][0]) * 1e6 for r in rs]
        irqs = [lab for r in rs for _, lab in r
                if lab in ("hardirq", "hardirq (other CPU)")]
        out[sec] = {"reads": len(rs), "path_share": sigs[best] / nr,
                    "irq_same_cpu": (sum(1 for lab in irqs if lab == "hardirq") /
                                     float(len(irqs))) if irqs else None,
                    "hops": rows, "other_us_per_read": other / nr,
                    "p50_us": pctl(tot, 0.5), "mean_us": sum(tot) / nr,
                    "ctx_per_read": sum(1 for r in rs for _, lab in r
                                        if lab.startswith("switch")) / nr}
    return out


def trace_sections(path, marker_name, marker_addr):
    """MMIO accesses between pairs of marker reads: each marker is a read of
    the device's own BAR (region marker_name, absolute address
    marker_addr); the accesses counted are those to that same region (the
    'mr' pointer of the marker) and to MSI-X tables."""
    secs = []
    cur = None
    mr = None
    pat = re.compile(r"memory_region_ops_(read|write) cpu -?\d+ mr (0x[0-9a-f]+) "
                     r"addr 0x([0-9a-f]+) value 0x[0-9a-f]+ size \d+ name '([\w-]+)'")
    with gzip.open(path, "rt", errors="replace") as f:
        for l in f:
            m = pat.search(l)
            if not m:
                continue
            rw, ptr, addr, name = m.group(1), m.group(2), int(m.group(3), 16), m.group(4)
            if name == marker_name and rw == "read" and addr == marker_addr:
                mr = ptr
                if cur is None:
                    cur = {"reads": 0, "writes": 0, "msix": 0}
                else:
                    secs.append(cur)
                    cur = None
                continue
            if cur is None:
                continue
            if name == marker_name and ptr == mr:
                cur[rw + "s"] += 1
            elif name.startswith("msix"):
                cur["msix"] += 1
    return secs


# ---------------------------------------------------------------- report ---

def side_dev(side):
    """Index of the side's device in a run's interrupt counts."""
    return 1 if side == "uring" else 2 if side.startswith("kesync") else 0


def summarize(vals):
    vals = [v for v in vals if isinstance(v, (int, float))]
    if not vals:
        return None
    med = statistics.median(vals)
    return {"median": med, "min": min(vals), "max": max(vals), "n": len(vals),
            "spread_pct": 100.0 * (max(vals) - min(vals)) / med if med else None}


def outliers(runs, k):
    """Reps whose key figure is far from the row's median: more than 3
    scaled MADs and more than 10 % away."""
    vals = [(r["rep"], r[k]) for r in runs if isinstance(r.get(k), (int, float))]
    if len(vals) < 3:
        return []
    med = statistics.median(v for _, v in vals)
    mad = statistics.median(abs(v - med) for _, v in vals)
    lim = max(3 * 1.4826 * mad, 0.10 * abs(med))
    return [rep for rep, v in vals if abs(v - med) > lim]


def floor_target(block, side):
    if side == "uring":
        return "uring"
    if side.startswith("nvme"):
        return "nvme"
    return block


def windows_per_mib(side, cfg):
    """64 KiB windows (kesync partial transfers) in a 1 MiB request: a
    page-aligned buffer needs 1 MiB / max transfer, an unaligned one one
    more.  For nvme the same count, as 'per 64 KiB'."""
    mx = int((cfg or {}).get("max_xfer", 65536) or 65536)
    w = max(1, 1048576 // mx)
    return w + 1 if side == "kesync-ua" else w


def build(a):
    rpath = os.path.join(a.dir, "results.log")
    if not os.path.exists(rpath):
        rpath = os.path.join(a.dir, "console.log")
    con = parse_results(rpath)
    psi = parse_psi(os.path.join(a.dir, "psi.log"))

    # debugfs: what the driver really ran with, per configuration.
    for t, files in con["debugfs"].items():
        for fn, text in files.items():
            m = re.search(r"irq_mode (\w+) \((\d+) vectors\), pump (\w+), records (\w+)", text)
            if m and t in con["configs"]:
                c = con["configs"][t]
                c.update({"driver_irq_mode": m.group(1), "vectors": int(m.group(2)),
                          "driver_pump": m.group(3), "records": m.group(4)})
                if t.split("/")[1:] != [m.group(3), m.group(1)]:
                    con["problems"].append("%s: the driver ran with pump %s, irq_mode %s"
                                           % (t, m.group(3), m.group(1)))
            m = re.search(r"max_segs (\d+), max_xfer (\d+)", text)
            if m and t in con["configs"]:
                con["configs"][t].update({"max_segs": int(m.group(1)),
                                          "max_xfer": int(m.group(2))})

    floors = {t: floor_stats(fl) for t, fl in con["floor"].items()}
    stages = {t: stage_stats(st) for t, st in con["stages"].items()}
    # The pinned runs are meant to share the interrupt's CPU, the -other
    # ones not: the stages runs see where the interrupts really land.
    for t, st in stages.items():
        share = (st.get("4k") or {}).get("irq_same_cpu")
        if share is None:
            continue
        if t.endswith("/other") and share > 0.1:
            con["problems"].append("%s: %.0f%% of the interrupts on fio's CPU, "
                                   "meant to be on the other one" % (t, 100 * share))
        elif not t.endswith("/other") and share < 0.9:
            con["problems"].append("%s: only %.0f%% of the interrupts on fio's CPU "
                                   "(the placement read from effective_affinity_list is "
                                   "not where they land)" % (t, 100 * share))

    # Every run: its own figures only.
    runs = []
    for n, r in sorted(con["runs"].items(), key=lambda x: int(x[0])):
        block, test, rep, side = r["id"].split("|")
        direction = test_info(test)[0]
        js = con["fio"].get(n)
        m = fio_metrics(js, direction) if js else None
        if m is None:
            con["problems"].append("run %s (%s): no fio figures" % (n, r["id"]))
            continue
        ios = m["ios"] or 0
        m.update({"n": int(n), "block": block, "test": test, "rep": int(rep),
                  "side": side, "rc": int(r.get("rc", 0)), "cpus": r.get("cpus"),
                  "ctx": int(r.get("ctx", 0)),
                  "ctx_per_io": int(r.get("ctx", 0)) / ios if ios else None,
                  "irqs_per_io": r["irqs"][side_dev(side)] / ios if ios else None,
                  "host_psi": psi.get(r["id"])})
        fl = floors.get(floor_target(block, side))
        cfg = con["configs"].get(block)
        if fl:
            if test.endswith("4k") or test.startswith("rr4k"):
                f4 = fl["4k"]["p50_us"]
                m["floor_us"] = f4
                m["p50_x_floor"] = ratio(m["clat_p50_us"], f4)
                m["p99_x_floor"] = ratio(m["clat_p99_us"], f4)
            else:
                fb = fl["big"]["p50_us"]
                w = windows_per_mib(side, cfg)
                m["windows"] = w
                m["per_window_us"] = (m["clat_p50_us"] / w) if m["clat_p50_us"] else None
                m["floor_us"] = fb
                m["per_window_x_floor"] = ratio(m["per_window_us"], fb)
        runs.append(m)

    # Rows: one block's runs of one test on one side.
    rows = {}
    for m in runs:
        rows.setdefault((m["block"], m["test"], m["side"]), []).append(m)
    rowl = []
    for (block, test, side), rr in rows.items():
        rr.sort(key=lambda x: x["rep"])
        k, hib = test_info(test)[2], test_info(test)[3]
        ok = [x for x in rr if isinstance(x.get(k), (int, float))]
        srt = sorted(ok, key=lambda x: x[k])
        med_run = srt[(len(srt) - 1) // 2] if srt else None
        row = {"block": block, "test": test, "side": side, "key": k,
               "higher_is_better": hib, "runs": [x["n"] for x in rr],
               "median_run": med_run, "key_stats": summarize([x.get(k) for x in rr]),
               "outlier_reps": outliers(rr, k), "ratios": {}}
        for f_ in ("ctx_per_io", "irqs_per_io", "p50_x_floor", "per_window_x_floor",
                   "clat_p99_us"):
            row[f_ + "_stats"] = summarize([x.get(f_) for x in rr])
        row["host_psi_some_pct"] = summarize([(x.get("host_psi") or {}).get("some_pct")
                                             for x in rr])
        for ref in REFS.get(side, []):
            refr = {x["rep"]: x for x in rows.get((block, test, ref), [])}
            if not refr:
                continue
            rd = {}
            for f_ in ("clat_p50_us", "clat_p99_us", "iops", "mib_s", "ctx_per_io"):
                rd[f_] = summarize([ratio(x.get(f_), refr[x["rep"]].get(f_))
                                    for x in rr if x["rep"] in refr])
            row["ratios"][ref] = rd
        rowl.append(row)
    border = {}
    for r in runs:
        border.setdefault(r["block"], r["n"])
    rowl.sort(key=lambda r: (border.get(r["block"], 0), list(TESTS).index(r["test"])
                             if r["test"] in TESTS else 9, SIDES.index(r["side"])
                             if r["side"] in SIDES else 9))

    # MMIO per I/O, one instrument: QEMU's trace of each device's BAR.
    mmio = {}
    by_trace = {}
    for d in con["mmio"]:
        by_trace.setdefault(d.get("trace"), []).append(d)
    serial_of = {"nvme": "kbench-tp", "uring": "kbench-ur"}
    for tn, lst in by_trace.items():
        t = lst[0].get("target")
        if t in serial_of:
            ctl = [c for c in con["nvme"].values() if c.get("serial", "").startswith(serial_of[t])]
            bar0 = ctl[0].get("bar0") if ctl else None
            mname, moff, dev = "nvme", 8, (1 if t == "uring" else 0)
        else:
            bar0 = con["configs"].get(t, {}).get("bar0")
            mname, moff, dev = "kesync-regs", 0, 2
        tf = os.path.join(a.dir, "trace-%s.log.gz" % tn)
        secs = []
        if bar0 and os.path.exists(tf):
            secs = trace_sections(tf, mname, int(bar0, 16) + moff)
        if len(secs) != len(lst):
            con["problems"].append("%s MMIO trace: %d marked sections for %d runs"
                                   % (t, len(secs), len(lst)))
        for d, s in zip(lst, secs):
            nn = d.get("n") or 1
            irq = str(d.get("irqs", "0,0,0")).split(",")
            mmio.setdefault(t, {})[d["test"]] = {
                "n": nn, "reads_per_io": s["reads"] / nn, "writes_per_io": s["writes"] / nn,
                "msix_table_per_io": s["msix"] / nn,
                "irqs_per_io": int(irq[dev]) / nn if len(irq) > dev else None,
                "errors": d.get("errors")}

    irqoffs = {}
    for t, files in con["debugfs"].items():
        for fn, text in files.items():
            if "irqoff" in os.path.basename(fn):
                irqoffs.setdefault(t, {}).update(irqoff.parse_text(text))

    timeout = {}
    for t, d in con["timeout"].items():
        s = d["summary"]
        T = s.get("T", 1)
        e = {"T_s": T, "n": s.get("n"), "ok": s.get("ok"), "bad": d["bad"]}
        if d["runs"]:
            det = sorted(r["detect_s"] for r in d["runs"])
            rec = sorted(r["recover_s"] for r in d["runs"])
            e.update({"detect_min_s": det[0], "detect_median_s": statistics.median(det),
                      "detect_max_s": det[-1],
                      "detect_in_window": sum(T <= x <= T + 1 for x in det),
                      "recover_min_s": rec[0], "recover_median_s": statistics.median(rec),
                      "recover_max_s": rec[-1],
                      "recover_under_100ms": sum(x < 0.1 for x in rec),
                      "detect_s": det, "recover_s": rec})
        timeout[t] = e

    host = {
        "kernel": platform.release(),
        "cpu": cpu_model(),
        "cpus": os.cpu_count(),
        "loadavg_end": open("/proc/loadavg").read().split()[:3],
        "os": os_release(),
    }
    meta = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "host": host,
        "qemu": {"version": a.qemu_version, "accel": a.accel,
                 "devices": "kesync-pci latency-ns=0,ns-per-byte=0 (rp0); "
                            "nvme + nvme-ns x4 aio=threads (rp1); nvme + nvme-ns x4 "
                            "aio=io_uring (rp2); namespaces RAM-backed files in /dev/shm"},
        "guest": con["info"],
        "settings": a.settings,
        "wall_s": a.wall,
        "guest_rc": a.guest_rc,
        "complete": bool(con.get("done")),
        "git": git_rev(),
    }
    R = {"meta": meta, "targets": TARGETS, "sides": SIDE_DESC, "rows": rowl,
         "runs": runs, "floors": floors, "stages": stages, "mmio": mmio, "irqoff": irqoffs,
         "timeout": timeout, "nvme_info": con["nvme"], "irq_placement": con["irqs"],
         "kesync_configs": con["configs"], "debugfs_raw": con["debugfs"],
         "problems": con["problems"]}
    R["target_figures"] = target_figures(R)
    return R


def ratio(a, b):
    if a is None or b in (None, 0):
        return None
    return a / b


def find_row(R, block, test, side):
    for r in R["rows"]:
        if r["block"] == block and r["test"] == test and r["side"] == side:
            return r
    return None


def target_figures(R):
    """The figures issue 13 sets goals for, each a median over the paired
    repetitions with its min..max."""
    T = R["targets"]
    out = []

    def add(label, st, goal=None, op=None):
        ok = None
        if goal is not None and st and st.get("median") is not None:
            ok = st["median"] <= goal if op == "<=" else st["median"] >= goal
        out.append({"figure": label, "stats": st, "goal": goal, "op": op, "ok": ok})

    blocks = []
    for r in R["rows"]:
        if r["side"] == "kesync" and r["block"] not in blocks:
            blocks.append(r["block"])
    for b in blocks:
        if not b.endswith("/msix"):
            continue
        pump = b.split("/")[1]
        r = find_row(R, b, "rr4k", "kesync")
        if not r:
            continue
        add("%s: 4K randread p50 / nvme (threads)" % b,
            r["ratios"].get("nvme", {}).get("clat_p50_us"),
            T["rr4k_p50_vs_nvme"].get(pump), "<=")
        add("%s: 4K randread p50 / nvme (io_uring)" % b,
            r["ratios"].get("uring", {}).get("clat_p50_us"),
            T["rr4k_p50_vs_uring"].get(pump), "<=")
        add("%s: 4K randread p50 / floor" % b, r.get("p50_x_floor_stats"),
            T["rr4k_p50_vs_floor"], "<=")
        add("%s: context switches per 4K read" % b, r.get("ctx_per_io_stats"),
            T["ctx_per_io_4k"].get(pump), "<=")
        for test, what in (("sr1m", "read"), ("sw1m", "write")):
            r = find_row(R, b, test, "kesync")
            if not r:
                continue
            add("%s: 1 MiB seq %s MiB/s / nvme (threads)" % (b, what),
                r["ratios"].get("nvme", {}).get("mib_s"), T["seq1m_vs_nvme"], ">=")
            add("%s: 1 MiB seq %s MiB/s / nvme (io_uring)" % (b, what),
                r["ratios"].get("uring", {}).get("mib_s"))
            add("%s: 1 MiB seq %s, per 64 KiB partial / floor" % (b, what),
                r.get("per_window_x_floor_stats"), T["partial_vs_floor"], "<=")
    for b in dict.fromkeys(r["block"] for r in R["rows"]):
        r = find_row(R, b, "rr4k", "nvme-b")
        if r:
            add("noise floor (%s): nvme ns2 / nvme ns1, 4K randread p50" % b,
                r["ratios"].get("nvme", {}).get("clat_p50_us"))
        r = find_row(R, b, "sr1m", "nvme-b")
        if r:
            add("noise floor (%s): nvme ns2 / nvme ns1, 1 MiB read MiB/s" % b,
                r["ratios"].get("nvme", {}).get("mib_s"))
    return out


def cpu_model():
    try:
        for l in open("/proc/cpuinfo"):
            if l.startswith("model name"):
                return l.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def os_release():
    try:
        for l in open("/etc/os-release"):
            if l.startswith("PRETTY_NAME="):
                return l.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return ""


def git_rev():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        r = subprocess.run(["git", "-C", root, "describe", "--always", "--dirty"],
                           capture_output=True, text=True, timeout=10)
        return r.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""




# ---------------------------------------------------------------- table ---

def f(v, fmt="%.1f"):
    return "-" if v is None else fmt % v


def fx(st, fmt="%.2f"):
    """A ratio's median and its range over the paired runs."""
    if not st:
        return "-"
    return ("%s [%s..%s]" % (fmt, fmt, fmt)) % (st["median"], st["min"], st["max"])


def mark(ok):
    return "" if ok is None else ("ok" if ok else "MISS")


def psi_of(run):
    p = (run or {}).get("host_psi") or {}
    return p.get("some_pct")


def table(R):
    out = []
    m = R["meta"]
    g = m["guest"]
    out.append("kesync vs nvme, one guest boot (ratios: side / reference, median of the paired "
               "runs [min..max])")
    out.append("host:  %s, %s CPUs, %s, Linux %s, load at the end %s"
               % (m["host"]["cpu"], m["host"]["cpus"], m["host"]["os"],
                  m["host"]["kernel"], " ".join(m["host"]["loadavg_end"])))
    out.append("qemu:  %s, accel %s; %s" % (m["qemu"]["version"], m["qemu"]["accel"],
                                           m["qemu"]["devices"]))
    out.append("guest: Linux %s, %s vCPUs, %s MiB, %s; fio psync, %s"
               % (g.get("guest_kernel", "?"), g.get("vcpus", "?"),
                  int(g.get("mem_kib", 0) or 0) // 1024, g.get("cpu", "?").replace("_", " "),
                  g.get("fio", "?")))
    psis = [psi_of(r) for r in R["runs"] if psi_of(r) is not None]
    out.append("run:   %s s wall, %d fio runs, %s%s" % (
        m["wall_s"], len(R["runs"]), m["settings"] or "default settings",
        "" if m["complete"] else ", INCOMPLETE"))
    if psis:
        out.append("host CPU pressure during the runs (/proc/pressure/cpu 'some', %% of each "
                   "run's time): median %.0f %%, max %.0f %%" % (statistics.median(psis),
                                                                 max(psis)))

    out.append("")
    out.append("TARGETS (issue 13)")
    out.append("%-72s %-22s %-8s %s" % ("figure", "median [min..max]", "goal", ""))
    for t in R["target_figures"]:
        goal = "" if t["goal"] is None else "%s %s" % (t["op"], t["goal"])
        out.append("%-72s %-22s %-8s %s" % (t["figure"], fx(t["stats"]), goal, mark(t["ok"])))

    def row_lines(tests, cols):
        lines = []
        for r in R["rows"]:
            if r["test"] not in tests:
                continue
            mr = r["median_run"] or {}
            ks = r["key_stats"] or {}
            cells = [c(r, mr) for _, c in cols]
            vs = []
            for ref in REFS.get(r["side"], []):
                st = r["ratios"].get(ref, {}).get(r["key"])
                if st:
                    vs.append("/%s %s" % (ref, fx(st)))
            lines.append("%-20s %-6s %-12s %s %6s %4s %5s  %s" % (
                r["block"].replace("kesync/", "k/"), r["test"], r["side"],
                " ".join(cells), f(ks.get("spread_pct"), "%.0f%%"),
                ",".join(str(x) for x in r["outlier_reps"]) or "-",
                f(psi_of(mr), "%.0f"), "  ".join(vs)))
        return lines

    out.append("")
    out.append("QD1 4 KiB: each row is the run with the median p50 of its %s runs, all its figures "
               "from that run;" % max((len(r["runs"]) for r in R["rows"]), default=0))
    out.append("spread = (max - min) / median of p50 over the runs; outl = runs flagged as "
               "outliers (rep numbers); psi = host CPU pressure % during that run")
    cols4 = [("p50 us", lambda r, m: "%8s" % f(m.get("clat_p50_us"))),
             ("xfloor", lambda r, m: "%6s" % f(m.get("p50_x_floor"), "%.2f")),
             ("p99 us", lambda r, m: "%8s" % f(m.get("clat_p99_us"))),
             ("IOPS", lambda r, m: "%6s" % f(m.get("iops"), "%.0f")),
             ("ctx/IO", lambda r, m: "%6s" % f(m.get("ctx_per_io"), "%.2f")),
             ("irq/IO", lambda r, m: "%6s" % f(m.get("irqs_per_io"), "%.2f"))]
    out.append("%-20s %-6s %-12s %s %6s %4s %5s  %s" % (
        "block", "test", "side", " ".join("%8s" % "p50 us" if n == "p50 us" else
                                           "%8s" % n if n == "p99 us" else "%6s" % n
                                           for n, _ in cols4),
        "spread", "outl", "psi", "p50 ratio vs reference"))
    out += row_lines(("rr4k", "rw4k"), cols4)

    scale = sorted({r["test"] for r in R["rows"] if r["test"].startswith("rr4k-j")})
    if scale:
        out.append("")
        out.append("Scaling: 4 KiB random reads, N jobs on N units / namespaces (IOPS, "
                   "ratio of IOPS)")
        colsj = [("IOPS", lambda r, m: "%6s" % f(m.get("iops"), "%.0f")),
                 ("ctx/IO", lambda r, m: "%6s" % f(m.get("ctx_per_io"), "%.2f"))]
        out += row_lines(scale, colsj)

    out.append("")
    out.append("1 MiB sequential: the run with the median MiB/s; per window = p50 / 64 KiB windows "
               "per request (kesync's partial transfers; 16, 17 unaligned)")
    cols1 = [("MiB/s", lambda r, m: "%6s" % f(m.get("mib_s"), "%.0f")),
             ("p50 us", lambda r, m: "%8s" % f(m.get("clat_p50_us"), "%.0f")),
             ("win us", lambda r, m: "%6s" % f(m.get("per_window_us"))),
             ("xfloor", lambda r, m: "%6s" % f(m.get("per_window_x_floor"), "%.2f")),
             ("ctx/IO", lambda r, m: "%6s" % f(m.get("ctx_per_io"), "%.1f")),
             ("irq/IO", lambda r, m: "%6s" % f(m.get("irqs_per_io"), "%.1f"))]
    out.append("%-20s %-6s %-12s %s %6s %4s %5s  %s" % (
        "block", "test", "side", " ".join("%8s" % n if n == "p50 us" else "%6s" % n
                                           for n, _ in cols1),
        "spread", "outl", "psi", "MiB/s ratio vs reference"))
    out += row_lines(("sr1m", "sw1m"), cols1)

    if R["floors"]:
        out.append("")
        out.append("Floor: device round trip + one interrupt (guest ftrace: I/O start event -> "
                   "the device's irq_handler_exit), us: p50 [p10..p90] n")
        out.append("%-22s %-28s %-34s %s" % ("configuration", "4 KiB read",
                                             "64 KiB window (nvme: 64 KiB read)",
                                             "kesync window cycle in a 1 MiB read"))
        for t, fl in R["floors"].items():
            def fs(d):
                if not d or not d.get("n"):
                    return "-"
                return "%.1f [%.1f..%.1f] %d" % (d["p50_us"], d["p10_us"], d["p90_us"], d["n"])
            out.append("%-22s %-28s %-34s %s" % (t, fs(fl["4k"]), fs(fl["big"]),
                                                 fs(fl["window_cycle"])))

    for t, st in R.get("stages", {}).items():
        for sec, what in (("4k", "4 KiB random read"), ("big", "1 MiB read")):
            d = st.get(sec)
            if not d:
                continue
            out.append("")
            share = d.get("irq_same_cpu")
            out.append("Where a %s's time goes, %s (fio on CPU %s; every hop traced: about "
                       "1 us per event): %d reads, p50 %.1f us, mean %.1f us, %.2f context "
                       "switches, %s of the interrupts on fio's CPU; the commonest path "
                       "(%.0f%% of reads):"
                       % (what, t, st.get("cpu"), d["reads"], d["p50_us"], d["mean_us"],
                          d["ctx_per_read"], "-" if share is None else "%.0f%%" % (100 * share),
                          100 * d["path_share"]))
            out.append("  %-60s %8s %8s %8s %9s" % ("hop", "per read", "p50 us", "mean us",
                                                    "us / read"))
            for h in d["hops"]:
                out.append("  %-60s %8.2f %8.1f %8.1f %9.1f" % (
                    h["hop"], h["per_read"], h["p50_us"], h["mean_us"], h["us_per_read"]))
            out.append("  %-60s %8s %8s %8s %9.1f" % ("other hops", "", "", "",
                                                      d["other_us_per_read"]))

    if R["mmio"]:
        out.append("")
        out.append("MMIO accesses per I/O (QEMU trace of each device's BAR), reads/writes, and "
                   "interrupts per I/O")
        out.append("%-22s %-18s %-18s %-18s %-18s" % ("", "4K randread", "4K randwrite",
                                                      "1M read", "1M write"))
        nvm = R["mmio"].get("nvme", {})
        for t, d in R["mmio"].items():
            cells = []
            for test in ("rr4k", "rw4k", "sr1m", "sw1m"):
                x = d.get(test)
                if not x:
                    cells.append("%-18s" % "-")
                    continue
                ok = None
                if t.startswith("kesync") and test in nvm:
                    ok = (x["reads_per_io"] + x["writes_per_io"]
                          <= nvm[test]["reads_per_io"] + nvm[test]["writes_per_io"] + 1e-9)
                    if t.endswith("/msix") and x["reads_per_io"] > 0.01:
                        ok = False
                cells.append("%-18s" % ("%.2f/%.2f i%s %s" % (
                    x["reads_per_io"], x["writes_per_io"], f(x.get("irqs_per_io"), "%.1f"),
                    mark(ok))))
            out.append("%-22s %s" % (t, " ".join(cells)))

    if R["irqoff"]:
        routines = []
        for d in R["irqoff"].values():
            for name, st in d.items():
                if st.get("count") and name not in routines:
                    routines.append(name)
        out.append("")
        out.append("irqs-off time under the interrupt spin lock (driver debugfs irqoff), us: "
                   "max / p99 (p99 = histogram bucket bound)")
        out.append("%-22s %s" % ("", " ".join("%-19s" % r.split(" (")[0][:19]
                                              for r in routines)))
        for t, d in R["irqoff"].items():
            cells = []
            for r in routines:
                st = d.get(r)
                if not st or not st.get("count"):
                    cells.append("%-19s" % "-")
                    continue
                p99 = st.get("p99_ns")
                cells.append("%-19s" % ("%.1f / %s%.1f" % (
                    st["max_ns"] / 1e3, ">=" if st.get("p99_at_least") else "<=",
                    (p99 or 0) / 1e3)))
            out.append("%-22s %s" % (t.replace("kesync/", "kesync "), " ".join(cells)))

    for t, e in R["timeout"].items():
        out.append("")
        out.append("timeouts (%s): T = %s s, %s hung transfers, %s ended ETIMEDOUT"
                   % (t.replace("kesync/", "kesync "), e["T_s"], e.get("n"), e.get("ok")))
        if "detect_min_s" in e:
            T = e["T_s"]
            out.append("  detection  min %.3f  median %.3f  max %.3f s   target [%d, %d] s: %s "
                       "(%d/%d inside)" % (e["detect_min_s"], e["detect_median_s"],
                                           e["detect_max_s"], T, T + 1,
                                           mark(e["detect_in_window"] == len(e["detect_s"])),
                                           e["detect_in_window"], len(e["detect_s"])))
            out.append("  recovery   min %.1f  median %.1f  max %.1f ms   target < 100 ms: %s "
                       "(%d/%d under)" % (e["recover_min_s"] * 1e3, e["recover_median_s"] * 1e3,
                                          e["recover_max_s"] * 1e3,
                                          mark(e["recover_under_100ms"] == len(e["recover_s"])),
                                          e["recover_under_100ms"], len(e["recover_s"])))
        for b in e["bad"][:5]:
            out.append("  unexpected: " + b)

    out.append("")
    out.append("Sides: " + "; ".join("%s = %s" % (k, v) for k, v in R["sides"].items()))
    out.append("fio is pinned (cpus_allowed) to the CPU that takes kesync unit 0's interrupt, "
               "for both drivers (-other: the other CPU).")
    if R["problems"]:
        out.append("")
        out.append("problems:")
        out += ["  " + p for p in R["problems"]]
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- plot ---

def plot(R, d):
    rows = [r for r in R["rows"] if r["side"] in ("kesync", "kesync-ua", "kesync-other",
                                                   "nvme-b", "uring")]
    if not rows:
        return None
    dat = os.path.join(d, "plot")
    os.makedirs(dat, exist_ok=True)

    def lab(r):
        b = r["block"].replace("kesync/", "").replace("startio", "sio").replace("thread", "thr")
        s = {"kesync": "", "kesync-ua": " unal", "kesync-other": " othercpu",
             "nvme-b": " nvme-b", "uring": " uring"}[r["side"]]
        return (b + s).replace(" ", "_")

    def trip(st):
        if not st:
            return "NaN NaN NaN"
        return "%.3f %.3f %.3f" % (st["median"], st["min"], st["max"])

    with open(os.path.join(dat, "lat.dat"), "w") as fh:
        fh.write("# cfg p50/nvme lo hi p50/uring lo hi\n")
        for r in rows:
            if r["test"] != "rr4k":
                continue
            fh.write("%s %s %s\n" % (lab(r), trip(r["ratios"].get("nvme", r["ratios"].get(
                "nvme-other", {})).get("clat_p50_us")),
                trip(r["ratios"].get("uring", {}).get("clat_p50_us"))))
    with open(os.path.join(dat, "tput.dat"), "w") as fh:
        fh.write("# cfg read lo hi write lo hi\n")
        for r in rows:
            if r["test"] != "sr1m":
                continue
            w = find_row(R, r["block"], "sw1m", r["side"])
            fh.write("%s %s %s\n" % (lab(r), trip(r["ratios"].get("nvme", {}).get("mib_s")),
                                     trip((w or {"ratios": {}})["ratios"].get("nvme", {})
                                          .get("mib_s"))))
    with open(os.path.join(dat, "floor.dat"), "w") as fh:
        fh.write("# cfg 4k-p50/floor lo hi window/floor lo hi\n")
        for r in R["rows"]:
            if r["test"] != "rr4k" or r["side"] not in ("kesync", "nvme", "uring"):
                continue
            w = find_row(R, r["block"], "sr1m", r["side"])
            fh.write("%s %s %s\n" % (
                (r["block"].replace("kesync/", "") + "_" + r["side"]).replace("/", "-"),
                trip(r.get("p50_x_floor_stats")),
                trip((w or {}).get("per_window_x_floor_stats"))))
    m = R["meta"]
    title = "kesync vs QEMU nvme -- %s, QEMU %s (%s), guest Linux %s, %s" % (
        m["date"][:10], m["qemu"]["version"], m["qemu"]["accel"],
        m["guest"].get("guest_kernel", "?"), m["host"]["cpu"][:40])
    png = os.path.join(d, "bench.png")
    v = {"png": png, "dat": dat, "title": title.replace('"', "'")}
    gp = r"""
set terminal pngcairo size 1600,1100 font "DejaVu Sans,10"
set output '%(png)s'
set datafile missing 'NaN'
set termoption noenhanced
set multiplot layout 3,1 title "%(title)s" font ",12"
set style data histogram
set style histogram errorbars gap 1 lw 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set grid ytics
set key top left
set xtics rotate by -20
set yrange [0:*]
set title "QD1 4 KiB random read p50, ratio to nvme (median of paired runs, bars min..max; lower is better)"
plot '%(dat)s/lat.dat' using 2:3:4:xtic(1) title '/ nvme (threads or same CPU)', \
     '' using 5:6:7 title '/ nvme (io_uring)', 1 w l dt 2 lc rgb 'black' notitle
set title "1 MiB sequential MiB/s, ratio to nvme (threads) (higher is better; goal >= 1.0)"
plot '%(dat)s/tput.dat' using 2:3:4:xtic(1) title 'read', '' using 5:6:7 title 'write', \
     1 w l lw 2 lc rgb 'red' notitle
set title "Multiples of the floor (device round trip + one interrupt): 4 KiB p50 (goal <= 1.6), 1 MiB per 64 KiB window (goal <= 1.25)"
plot '%(dat)s/floor.dat' using 2:3:4:xtic(1) title '4 KiB p50 / floor', \
     '' using 5:6:7 title 'per window / floor', 1.6 w l lc rgb 'red' notitle, \
     1.25 w l dt 2 lc rgb 'red' notitle
unset multiplot
""" % v
    with open(os.path.join(dat, "bench.gp"), "w") as fh:
        fh.write(gp)
    r = subprocess.run(["gnuplot", os.path.join(dat, "bench.gp")],
                       capture_output=True, text=True)
    if r.returncode != 0:
        sys.stderr.write("gnuplot: %s\n" % r.stderr[-2000:])
        return None
    return png


def report(a):
    R = build(a)
    with open(os.path.join(a.dir, "results.json"), "w") as fh:
        json.dump(R, fh, indent=1, sort_keys=False)
    t = table(R)
    with open(os.path.join(a.dir, "table.txt"), "w") as fh:
        fh.write(t)
    sys.stdout.write(t)
    png = plot(R, a.dir)
    print("\nresults: %s/results.json, %s/table.txt, %s"
          % (a.dir, a.dir, png or "(no plot)"))
    return 0 if R["meta"]["complete"] else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("watch")
    w.add_argument("--log", required=True)
    w.add_argument("--qmp", required=True)
    w.add_argument("--trace-dir", required=True)
    w.add_argument("--psi", required=True)
    w.add_argument("--pid", type=int, required=True)
    r = sub.add_parser("report")
    r.add_argument("--dir", required=True)
    r.add_argument("--accel", default="?")
    r.add_argument("--qemu-version", default="?")
    r.add_argument("--wall", type=int, default=0)
    r.add_argument("--guest-rc", type=int, default=0)
    r.add_argument("--settings", default="")
    a = ap.parse_args()
    return watch(a) if a.cmd == "watch" else report(a)


if __name__ == "__main__":
    sys.exit(main())

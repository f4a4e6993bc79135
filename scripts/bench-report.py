#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""kesync benchmark: host-side control and report (see docs/benchmarks.md).

  bench-report.py watch --log CONSOLE --qmp SOCK --trace-dir DIR --pid PID
      Follows the guest console while the guest runs.  On the job's
      'KESYNC-BENCH TRACE-ON NAME' it points QEMU's log at DIR/trace-NAME.log,
      enables the memory_region_ops_read/write trace events over QMP and
      injects an NMI, which the guest waits for; 'TRACE-OFF NAME' disables
      them and injects another NMI.

  bench-report.py report --dir DIR [--accel A --qemu-version V --wall S ...]
      Parses DIR/console.log (fio JSON, MMIO counts, debugfs irqs-off
      statistics, timeout figures) and DIR/trace-*.log.gz (the nvme peer's
      MMIO accesses), and writes DIR/results.json, DIR/table.txt and
      DIR/bench.png (gnuplot), and prints the table.
"""
import argparse
import base64
import gzip
import hashlib
import json
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

# Goals, not pass/fail (docs/benchmarks.md).
TARGETS = {
    "latency_ratio_max": 0.8,     # kesync QD1 4 KiB latency <= 0.8 x nvme
    "throughput_ratio_min": 1.0,  # kesync 1 MiB throughput >= 1.0 x nvme
    "mmio_vs_nvme": "<=",         # MMIO accesses per I/O <= nvme's
    "msix_hot_path_reads": 0,     # no MMIO read per I/O with MSI-X
    "detect_window_s": [0, 1],    # T <= detection <= T + 1 s
    "recovery_max_s": 0.1,        # recovery < 100 ms
}

TESTS = [  # name, fio direction, what it is
    ("rr4k", "read", "QD1 4 KiB random read"),
    ("rw4k", "write", "QD1 4 KiB random write"),
    ("sr1m", "read", "1 MiB sequential read"),
    ("sw1m", "write", "1 MiB sequential write"),
]


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


def watch(a):
    wlog = open(os.path.join(a.trace_dir, "watch.log"), "a")

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
        time.sleep(0.05)
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


def fio_metrics(job, direction):
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
        "ios": d.get("total_ios"),
        "errors": job.get("error", 0),
    }


def parse_irqoff(text):
    """debugfs irqoff: {routine: count, mean_ns, max_ns, p99_ns, ...}."""
    return irqoff.parse_text(text)


def parse_console(path):
    res = {"fio": {}, "mmio": [], "debugfs": {}, "timeout": {}, "info": {},
           "nvme": {}, "configs": {}, "problems": []}
    with open(path, "rb") as f:
        lines = [l.decode("utf-8", "replace").rstrip("\r\n") for l in f]
    i = 0
    n = len(lines)
    while i < n:
        l = lines[i]
        i += 1
        if "KESYNC-BENCH " not in l:
            if l.startswith("KESYNC-JOB-END"):
                res["job_rc"] = num(kv(l).get("rc"))
            continue
        body = l[l.index("KESYNC-BENCH ") + len("KESYNC-BENCH "):]
        word, _, rest = body.partition(" ")
        if word == "INFO":
            res["info"] = kv(rest)
        elif word == "NVME":
            res["nvme"] = kv(rest)
        elif word == "CONFIG":
            d = kv(rest)
            res["configs"][d["target"]] = d
        elif word == "FIO-BEGIN":
            d = kv(rest)
            blob = []
            while i < n and "KESYNC-BENCH FIO-END" not in lines[i]:
                if re.fullmatch(r"[A-Za-z0-9+/=]+", lines[i].strip()):
                    blob.append(lines[i].strip())
                i += 1
            i += 1
            try:
                raw = base64.b64decode("".join(blob))
                if hashlib.md5(raw).hexdigest() != d.get("md5"):
                    raise ValueError("md5 mismatch")
                js = json.loads(gzip.decompress(raw))
            except (ValueError, OSError) as e:
                res["problems"].append("fio %s: %s" % (d.get("target"), e))
                continue
            res["fio"][d["target"]] = js
        elif word == "FIO-FAILED":
            res["problems"].append("fio failed: " + rest)
        elif word == "MMIO-RUN":
            d = {k: num(v) for k, v in kv(rest).items()}
            res["mmio"].append(d)
        elif word == "DEBUGFS-BEGIN":
            d = kv(rest)
            text = []
            while i < n and "KESYNC-BENCH DEBUGFS-END" not in lines[i]:
                text.append(lines[i])
                i += 1
            i += 1
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
                      "TRACE-SYNC-FAILED"):
            res["problems"].append(body)
        elif word == "DONE":
            res["done"] = True
    return res


def trace_sections(path, bar0):
    """Accesses to the nvme BAR between pairs of marker reads (BAR0 + 8)."""
    secs = []
    cur = None
    marker = bar0 + 8
    pat = re.compile(r"memory_region_ops_(read|write) cpu -?\d+ mr 0x[0-9a-f]+ "
                     r"addr 0x([0-9a-f]+) value 0x[0-9a-f]+ size \d+ name '([\w-]+)'")
    with gzip.open(path, "rt", errors="replace") as f:
        for l in f:
            m = pat.search(l)
            if not m:
                continue
            rw, addr, name = m.group(1), int(m.group(2), 16), m.group(3)
            if name == "nvme" and rw == "read" and addr == marker:
                if cur is None:
                    cur = {"reads": 0, "writes": 0, "msix": 0}
                else:
                    secs.append(cur)
                    cur = None
                continue
            if cur is None:
                continue
            if name == "nvme":
                cur[rw + "s"] += 1
            else:
                cur["msix"] += 1
    return secs


# ---------------------------------------------------------------- report ---

def ratio(a, b):
    if a is None or b in (None, 0):
        return None
    return a / b


def mean(xs):
    xs = [x for x in xs if x is not None]
    return sum(xs) / len(xs) if xs else None


def build(a):
    con = parse_console(os.path.join(a.dir, "console.log"))
    # One fio run per configuration; each reporting group is one repetition
    # of one workload on one side, named SIDE.TEST.REP.uN.  A figure is the
    # median over the repetitions.
    reps = {}
    for target, js in con["fio"].items():
        for job in js.get("jobs", []):
            parts = job.get("jobname", "").split(".")
            if len(parts) < 3:
                continue
            side, test = parts[0], parts[1]
            direction = "write" if test.startswith(("rw", "sw")) else "read"
            if side == "nvme":
                t = "nvme" if target == "nvme" else "nvme@" + target
            else:
                t = target
            reps.setdefault(t, {}).setdefault(test, []).append(
                fio_metrics(job, direction))
    perf = {}
    for t, tests in reps.items():
        for test, runs in tests.items():
            m = {}
            for k in runs[0]:
                vals = [r[k] for r in runs if isinstance(r.get(k), (int, float))]
                if vals:
                    m[k] = statistics.median(vals)
            m["reps"] = runs
            perf.setdefault(t, {})[test] = m
    # nvme: each kesync configuration's workloads ran right after the same
    # workload on nvme ("nvme@<config>"); its ratios are against those paired
    # runs.  The nvme row of the table is the mean of every nvme run.
    nv_targets = sorted(t for t in perf if t == "nvme" or t.startswith("nvme@"))
    nvme = {}
    for test in sorted({t for nt in nv_targets for t in perf[nt]}):
        runs = [perf[nt][test] for nt in nv_targets if test in perf[nt]]
        nvme[test] = {k: mean([r[k] for r in runs]) for k in runs[0]
                      if isinstance(runs[0][k], (int, float))}
        nvme[test]["runs"] = len(runs)
        nvme[test]["range"] = {k: [min(r[k] for r in runs), max(r[k] for r in runs)]
                               for k in ("iops", "mib_s", "clat_p50_us", "clat_p99_us")
                               if all(r.get(k) is not None for r in runs)}
    ks_targets = [t for t in perf if t.startswith("kesync/")]
    order = {"startio": 0, "thread": 1, "msix": 0, "msi": 1, "intx": 2}
    ks_targets.sort(key=lambda t: [order.get(x, 9) for x in t.split("/")[1:]])

    ratios = {}
    for t in ks_targets:
        r = {}
        for test, m in perf[t].items():
            ref = perf.get("nvme@" + t, {}).get(test) or nvme.get(test)
            if not ref:
                continue
            r[test] = {k: ratio(m.get(k), ref.get(k))
                       for k in ("iops", "mib_s", "clat_p50_us", "clat_p99_us")}
            r[test]["paired"] = test in perf.get("nvme@" + t, {})
        ratios[t] = r

    # MMIO per I/O.
    mmio = {}
    trace_file = os.path.join(a.dir, "trace-nvme.log.gz")
    nv_runs = [d for d in con["mmio"] if str(d.get("target", "")).startswith("nvme")]
    if nv_runs:
        secs = []
        bar0 = con["nvme"].get("bar0")
        if os.path.exists(trace_file) and bar0:
            secs = trace_sections(trace_file, int(bar0, 16))
        if len(secs) != len(nv_runs):
            con["problems"].append("nvme MMIO trace: %d marked sections for %d runs"
                                   % (len(secs), len(nv_runs)))
        for d, s in zip(nv_runs, secs):
            mmio.setdefault("nvme", {})[d["test"]] = {
                "n": d["n"], "reads_per_io": s["reads"] / d["n"],
                "writes_per_io": s["writes"] / d["n"],
                "msix_per_io": s["msix"] / d["n"], "errors": d.get("errors")}
    for d in con["mmio"]:
        if not str(d.get("target", "")).startswith("kesync/") or "reads" not in d:
            continue
        mmio.setdefault(d["target"], {})[d["test"]] = {
            "n": d["n"], "reads_per_io": d["reads"] / d["n"],
            "writes_per_io": d["writes"] / d["n"],
            "irqs_per_io": d.get("irqs", 0) / d["n"],
            "xfers_per_io": d.get("xfers", 0) / d["n"],
            "ioctl_reads": d.get("ioctl_reads"), "ioctl_writes": d.get("ioctl_writes"),
            "errors": d.get("errors")}

    irqoff = {}
    for t, files in con["debugfs"].items():
        for fn, text in files.items():
            if "irqoff" in os.path.basename(fn):
                irqoff.setdefault(t, {}).update(parse_irqoff(text))

    # What the driver really ran with (debugfs state), per configuration.
    for t, files in con["debugfs"].items():
        for fn, text in files.items():
            m = re.search(r"irq_mode (\w+) \((\d+) vectors\), pump (\w+), records (\w+)", text)
            if m and t in con["configs"]:
                c = con["configs"][t]
                c.update({"driver_irq_mode": m.group(1), "vectors": int(m.group(2)),
                          "driver_pump": m.group(3), "records": m.group(4)})
                want = t.split("/")[1:]
                if want != [m.group(3), m.group(1)]:
                    con["problems"].append("%s: the driver ran with pump %s, irq_mode %s"
                                           % (t, m.group(3), m.group(1)))
            m = re.search(r"max_segs (\d+), max_xfer (\d+)", text)
            if m and t in con["configs"]:
                con["configs"][t].update({"max_segs": int(m.group(1)),
                                          "max_xfer": int(m.group(2))})

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
                            "nvme + nvme-ns x4, RAM-backed files in /dev/shm (rp1)"},
        "guest": con["info"],
        "settings": a.settings,
        "wall_s": a.wall,
        "guest_rc": a.guest_rc,
        "complete": bool(con.get("done")),
        "git": git_rev(),
    }
    return {"meta": meta, "targets": TARGETS, "nvme": nvme, "perf": perf,
            "ratios": ratios, "mmio": mmio, "irqoff": irqoff, "timeout": timeout,
            "nvme_info": con["nvme"], "kesync_configs": con["configs"],
            "debugfs_raw": con["debugfs"], "problems": con["problems"]}


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


def fr(v):
    return "" if v is None else "(%.2fx)" % v


def mark(ok):
    return "" if ok is None else (" ok" if ok else " MISS")


def table(R):
    out = []
    m = R["meta"]
    g = m["guest"]
    out.append("kesync vs nvme, one guest boot (ratios are kesync/nvme)")
    out.append("host:  %s, %s CPUs, %s, Linux %s, load %s"
               % (m["host"]["cpu"], m["host"]["cpus"], m["host"]["os"],
                  m["host"]["kernel"], " ".join(m["host"]["loadavg_end"])))
    out.append("qemu:  %s, accel %s; %s" % (m["qemu"]["version"], m["qemu"]["accel"],
                                           m["qemu"]["devices"]))
    out.append("guest: Linux %s, %s vCPUs, %s MiB, %s; fio psync, %s"
               % (g.get("guest_kernel", "?"), g.get("vcpus", "?"),
                  int(g.get("mem_kib", 0) or 0) // 1024, g.get("cpu", "?").replace("_", " "),
                  g.get("fio", "?")))
    out.append("run:   %s s wall, %s%s" % (m["wall_s"], m["settings"] or "default settings",
                                           "" if m["complete"] else ", INCOMPLETE"))
    nv = R["nvme"]
    rows = [("nvme (reference)", nv, None)]
    for t in R["ratios"]:
        rows.append((t.replace("kesync/", "kesync "), R["perf"][t], R["ratios"][t]))

    tl = R["targets"]["latency_ratio_max"]
    out.append("")
    out.append("QD1 4 KiB, completion latency (us) and IOPS     target: latency <= %.1fx nvme" % tl)
    hdr = "%-22s %-27s %-27s %-16s | %-27s %-27s %-16s" % (
        "", "randread p50", "p99", "IOPS", "randwrite p50", "p99", "IOPS")
    out.append(hdr)
    for name, p, r in rows:
        cells = []
        for test in ("rr4k", "rw4k"):
            pm = p.get(test, {})
            rm = (r or {}).get(test, {})
            for k in ("clat_p50_us", "clat_p99_us"):
                rv = rm.get(k)
                cells.append("%-27s" % ("%s %s%s" % (f(pm.get(k)), fr(rv),
                                                     mark(None if rv is None else rv <= tl))))
            cells.append("%-16s" % ("%s %s" % (f(pm.get("iops"), "%.0f"), fr(rm.get("iops")))))
        out.append("%-22s %s %s %s | %s %s %s" % ((name,) + tuple(cells)))

    tt = R["targets"]["throughput_ratio_min"]
    scale = sorted({t for p in R["perf"].values() for t in p if t.startswith("rr4k-j")})
    out.append("")
    out.append("1 MiB sequential (MiB/s), target >= %.1fx nvme;  scaling: 4 KiB randread IOPS, "
               "N jobs on N units" % tt)
    out.append("%-22s %-24s %-24s | %-18s %s" % ("", "read", "write", "1 job",
                                                 " ".join("%-18s" % ("%s jobs" % s[6:])
                                                          for s in scale)))
    for name, p, r in rows:
        cells = []
        for test in ("sr1m", "sw1m"):
            rv = (r or {}).get(test, {}).get("mib_s")
            cells.append("%-24s" % ("%s %s%s" % (f(p.get(test, {}).get("mib_s")), fr(rv),
                                                 mark(None if rv is None else rv >= tt))))
        sc = []
        for test in ["rr4k"] + scale:
            sc.append("%-18s" % ("%s %s" % (f(p.get(test, {}).get("iops"), "%.0f"),
                                            fr((r or {}).get(test, {}).get("iops")))))
        out.append("%-22s %s %s | %s" % (name, cells[0], cells[1], " ".join(sc)))

    out.append("")
    out.append("MMIO accesses per I/O, reads/writes    target: reads+writes <= nvme's, "
               "0 reads per I/O with MSI-X")
    out.append("%-22s %-18s %-18s %-18s %-18s" % ("", "4K randread", "4K randwrite",
                                                  "1M read", "1M write"))
    nvm = R["mmio"].get("nvme", {})
    for t, d in [("nvme", nvm)] + [(k, v) for k, v in R["mmio"].items() if k != "nvme"]:
        cells = []
        for test in ("rr4k", "rw4k", "sr1m", "sw1m"):
            x = d.get(test)
            if not x:
                cells.append("%-18s" % "-")
                continue
            ok = None
            if t != "nvme" and test in nvm:
                ok = (x["reads_per_io"] + x["writes_per_io"]
                      <= nvm[test]["reads_per_io"] + nvm[test]["writes_per_io"] + 1e-9)
                if t.endswith("/msix") and x["reads_per_io"] > 0.01:
                    ok = False
            cells.append("%-18s" % ("%.2f/%.2f%s" % (x["reads_per_io"], x["writes_per_io"],
                                                     mark(ok))))
        out.append("%-22s %s" % (t.replace("kesync/", "kesync "), " ".join(cells)))

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
            out.append("  detection  min %.3f  median %.3f  max %.3f s   target [%d, %d] s:%s "
                       "(%d/%d inside)" % (e["detect_min_s"], e["detect_median_s"],
                                           e["detect_max_s"], T, T + 1,
                                           mark(e["detect_in_window"] == len(e["detect_s"])),
                                           e["detect_in_window"], len(e["detect_s"])))
            out.append("  recovery   min %.1f  median %.1f  max %.1f ms   target < 100 ms:%s "
                       "(%d/%d under)" % (e["recover_min_s"] * 1e3, e["recover_median_s"] * 1e3,
                                          e["recover_max_s"] * 1e3,
                                          mark(e["recover_under_100ms"] == len(e["recover_s"])),
                                          e["recover_under_100ms"], len(e["recover_s"])))
        for b in e["bad"][:5]:
            out.append("  unexpected: " + b)

    if nv:
        out.append("")
        nreps = max((len(v.get("reps", [])) for p in R["perf"].values()
                     for v in p.values()), default=0)
        out.append("Each figure is the median of %d runs; nvme and kesync runs of a workload "
                   "alternate, and each kesync" % nreps)
        out.append("ratio is against the nvme runs interleaved with it.  The nvme row is the "
                   "mean over the %d configurations." % max(v.get("runs", 0) for v in nv.values()))
        out.append("Spread of nvme between configurations (min..max): " + ", ".join(
            "%s %s" % (t, ("%.0f..%.0f IOPS" % tuple(v["range"]["iops"])) if t.startswith("rr4k") or
                       t.startswith("rw4k") else "%.0f..%.0f MiB/s" % tuple(v["range"]["mib_s"]))
            for t, v in nv.items() if v.get("range")))
    if R["problems"]:
        out.append("")
        out.append("problems:")
        out += ["  " + p for p in R["problems"]]
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- plot ---

def plot(R, d):
    ks = list(R["ratios"])
    if not ks and not R["nvme"]:
        return None
    dat = os.path.join(d, "plot")
    os.makedirs(dat, exist_ok=True)
    short = lambda t: t.replace("kesync/", "").replace("startio", "sio").replace("thread", "thr")
    # 1: latency ratios
    with open(os.path.join(dat, "lat.dat"), "w") as fh:
        fh.write("# cfg rr_p50 rr_p99 rw_p50 rw_p99\n")
        for t in ks:
            r = R["ratios"][t]
            g = lambda test, k: r.get(test, {}).get(k)
            fh.write("%s %s %s %s %s\n" % (short(t), *[
                "%.3f" % v if v is not None else "NaN" for v in
                (g("rr4k", "clat_p50_us"), g("rr4k", "clat_p99_us"),
                 g("rw4k", "clat_p50_us"), g("rw4k", "clat_p99_us"))]))
    with open(os.path.join(dat, "tput.dat"), "w") as fh:
        fh.write("# cfg read write rr_iops rw_iops\n")
        for t in ks:
            r = R["ratios"][t]
            fh.write("%s %s\n" % (short(t), " ".join(
                "%.3f" % v if v is not None else "NaN" for v in
                (r.get("sr1m", {}).get("mib_s"), r.get("sw1m", {}).get("mib_s"),
                 r.get("rr4k", {}).get("iops"), r.get("rw4k", {}).get("iops")))))
    scale = ["rr4k"] + sorted({t for p in R["perf"].values() for t in p
                               if t.startswith("rr4k-j")})
    cols = [("nvme", R["nvme"])] + [(short(t), R["perf"][t]) for t in ks]
    with open(os.path.join(dat, "scale.dat"), "w") as fh:
        fh.write("jobs " + " ".join(c for c, _ in cols) + "\n")
        for test in scale:
            j = 1 if test == "rr4k" else int(test[6:])
            fh.write("%d %s\n" % (j, " ".join(
                "%.0f" % p[test]["iops"] if test in p else "NaN" for _, p in cols)))
    with open(os.path.join(dat, "mmio.dat"), "w") as fh:
        fh.write("# cfg 4k_reads 4k_writes 1m_reads 1m_writes\n")
        for t, dd in R["mmio"].items():
            vals = []
            for test in ("rr4k", "sr1m"):
                x = dd.get(test, {})
                for k in ("reads_per_io", "writes_per_io"):
                    # log scale: 0 is not drawn
                    vals.append("%.3f" % x[k] if x and x[k] > 0 else "NaN")
            fh.write("%s %s\n" % (short(t), " ".join(vals)))
    m = R["meta"]
    title = "kesync vs QEMU nvme -- %s, QEMU %s (%s), guest Linux %s, %s" % (
        m["date"][:10], m["qemu"]["version"], m["qemu"]["accel"],
        m["guest"].get("guest_kernel", "?"), m["host"]["cpu"][:40])
    png = os.path.join(d, "bench.png")
    v = {"png": png, "dat": dat, "title": title.replace('"', "'"), "ncols": len(cols) + 1,
         "xmax": len(ks) - 0.4, "mxmax": len(R["mmio"]) - 0.4}

    def empty(what):
        return ('set label 1 "%s" at graph 0.5,0.5 center\n'
                'plot [0:1][0:1] NaN notitle\nunset label 1\n' % what)
    gp = r"""
set terminal pngcairo size 1600,1100 font "DejaVu Sans,10"
set output '%(png)s'
set datafile missing 'NaN'
set multiplot layout 2,2 title "%(title)s" font ",12"
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set grid ytics
set key top left
set xtics rotate by -25
set xrange [-0.6:%(xmax)s]
set logscale y 2
set yrange [0.125:*]
set key below horizontal
set title "QD1 4 KiB completion latency, kesync / nvme (log scale; lower is better; goal <= 0.8)"
""" % v
    if ks:
        gp += r"""plot '%(dat)s/lat.dat' using 2:xtic(1) title 'randread p50', '' u 3 t 'randread p99', \
     '' u 4 t 'randwrite p50', '' u 5 t 'randwrite p99', 0.8 w l lw 2 lc rgb 'red' t 'goal 0.8', 1 w l dt 2 lc rgb 'black' t 'parity'
""" % v
    else:
        gp += empty("no kesync figures")
    gp += ('unset logscale y\nset yrange [0:*]\nset offsets 0,0,0.2,0\n'
           'set title "Throughput, kesync / nvme (higher is better; 1 MiB goal >= 1.0)"\n')
    if ks:
        gp += r"""plot '%(dat)s/tput.dat' using 2:xtic(1) title '1 MiB seq read', '' u 3 t '1 MiB seq write', \
     '' u 4 t '4 KiB randread IOPS', '' u 5 t '4 KiB randwrite IOPS', 1 w l lw 2 lc rgb 'red' t 'goal 1.0 (1 MiB)'
""" % v
    else:
        gp += empty("no kesync figures")
    gp += r"""set style data linespoints
set key inside top left vertical
set title "Scaling: 4 KiB randread IOPS, N jobs on N units (N = 1, 2, 4)"
set xtics norotate
set xlabel 'jobs (= units / namespaces)'
set logscale x 2
set xrange [0.8:5]
set offsets 0,0,0,0
set key top left
plot for [i=2:%(ncols)d] '%(dat)s/scale.dat' using 1:i with linespoints lw 2 pt 7 title columnheader(i)
unset logscale x
unset xlabel
set xrange [-0.6:%(mxmax)s]
set style data histogram
set xtics rotate by -25
set title "MMIO accesses per I/O: 4 KiB random read, 1 MiB sequential read (log scale; 0 is not drawn)"
set logscale y 2
set yrange [0.5:128]
set key top left
""" % v
    if R["mmio"]:
        gp += r"""plot '%(dat)s/mmio.dat' u 3:xtic(1) t '4 KiB: writes' lc rgb '#4070c0', '' u 2 t '4 KiB: reads' lc rgb '#d04040', \
     '' u 5 t '1 MiB: writes' lc rgb '#90b0e0', '' u 4 t '1 MiB: reads' lc rgb '#f0a0a0'
""" % v
    else:
        gp += empty("no MMIO counts")
    gp += "unset multiplot\n"
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

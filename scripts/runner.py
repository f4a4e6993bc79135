#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""kesync test runner: host-side device tests and in-guest kselftests.

Runs the host-side qtest binary and every guest configuration of
tests/matrix (one boot each), parses the TAP 13 each program prints, scans
every guest's kernel log for reports (BUG, WARNING, lockdep, KASAN, ...),
checks the IOMMU configurations for DMA faults, drives host-side steps
(QMP) for the boots that ask for them, shows each failure with its log, and
ends with the line 'N passed, N failed, N skipped'.
"""
import argparse
import base64
import concurrent.futures
import hashlib
import io
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("KESYNC_BUILD", os.path.join(ROOT, "build"))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import irqoff  # noqa: E402  (scripts/irqoff.py)
import qmp  # noqa: E402  (scripts/qmp.py)

# Kernel log lines that fail a guest run, whatever its tests said.
KLOG_BAD = re.compile(
    r"BUG:|WARNING:|Oops|INFO: task .* blocked|general protection|KASAN|"
    r"kmemleak:|possible circular locking|possible recursive locking|"
    r"inconsistent lock state|lockdep|DMA-API:|UBSAN:|"
    r"Kernel panic|Call Trace:|suspicious RCU usage|"
    r"sleeping function called from invalid context|DMAR: \[DMA|"
    r"kernel BUG at|BUG \S+ \(|list_(add|del) corruption|refcount_t:|"
    r"nobody cared|Disabling IRQ #|soft lockup|hard LOCKUP|"
    r"rcu: INFO|rcu_\w+ detected stalls|Unable to handle kernel|"
    r"ODEBUG:|stack-protector|segfault at|Bad page state|"
    r"unreferenced object|DMAR: DRHD: handling fault|"
    r"kesync.*not ended after")

# Boot banners of the debug kernel's checkers: they say the checker is on,
# not that it found anything.
KLOG_OK = re.compile(
    r"RCU lockdep checking is enabled|DMA-API: preallocated \d+ debug entries|"
    r"DMA-API: debugging enabled by kernel config|"
    r"kmemleak: Kernel memory leak detector initialized|"
    r"kmemleak: Automatic memory scanning thread|"
    r"kmemleak: Cannot allocate a scan area|"
    # dma-debug's own allocation failed (only under fault injection): it
    # turns itself off, it found nothing.
    r"DMA-API: cacheline tracking ENOMEM, dma-debug disabled")

# IOMMU faults: reported by the guest's DMAR driver, and by QEMU's
# intel-iommu model on its stderr (which run-guest.sh merges in the log).
DMAR_FAULT = re.compile(r"DMAR: (\[DMA (Read|Write)|\[INTR-REMAP|"
                        r"DRHD: handling fault)")
QEMU_IOMMU_FAULT = re.compile(
    r"vtd_\w+: detected|New fault is not recorded|"
    r"detected translation failure")

TAP_LINE = re.compile(r"^(not ok|ok)\b\s*(\d+)?\s*-?\s*(.*)$")
TAP_PLAN = re.compile(r"^1\.\.(\d+)")
TAP_RUN = re.compile(r"^#\s+RUN\s+(\S+)")
TERM_CTL = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[c78]")
HOST_REQ = re.compile(r"KESYNC-HOST-REQUEST (\d+) (\{.*\})\s*$")

# What a guest may ask the host to do on its QEMU.
HOST_ALLOWED = {"device_del", "device_add", "qom-set", "qom-get",
                "query-pci", "query-status", "system_wakeup",
                "human-monitor-command"}

# Runner-level matrix options (not passed to run-guest.sh).
RUNNER_OPTS = {"--host-hook", "--expect-iommu-fault", "--dkms", "--migrate"}

# The guest kernel of a matrix line that names none (--kernel NAME).
DEFAULT_KERNEL = "6.1"


# Inputs of make check's generic-fuzz run (scripts/fuzz.sh --check): about
# a minute at the 58 inputs/s of 2 cores shared with other builds, 135 s at
# the 26/s of busier moments.
FUZZ_RUNS = 3500

# What a sanitizer writes when it finds something (not its warnings).
SANITIZER_REPORT = re.compile(r"ERROR: (Address|Leak)Sanitizer|"
                              r"runtime error:|^SUMMARY: \w+Sanitizer", re.M)

# The run's Progress (main); say() prints a line through it.
PROGRESS = None


def say(text):
    if PROGRESS:
        PROGRESS.line(text)
    else:
        print(text, flush=True)


def kernel_names():
    """The kernels of kernel/targets, in its order."""
    out = subprocess.run([os.path.join(ROOT, "scripts/kernel.sh"), "names"],
                         stdout=subprocess.PIPE, text=True, check=True)
    return out.stdout.split()


class Result:
    def __init__(self, rerun=None):
        self.passed = []
        self.failed = []   # (name, detail, rerun command or None)
        self.skipped = []
        self.irqoff = {}   # the boot's irqs-off figures, irqoff.Merger
        self.kernel = ""   # the guest's uname -r
        self.rerun = rerun  # the command that reruns this step

    def fail(self, name, detail, rerun=None):
        self.failed.append((name, detail, rerun or self.rerun))

    def merge(self, other):
        self.passed += other.passed
        self.failed += other.failed
        self.skipped += other.skipped


def parse_tap(prefix, lines, res, rerun=None):
    """Count the top-level TAP results of one program.  Returns (seen,
    failed, plan).  A failure's detail is its own slice of the output:
    from its '# RUN' line (else the line after the previous result) to its
    'not ok' line."""
    seen = 0
    nfail = 0
    plan = None
    last_run = None
    start = 0
    for i, line in enumerate(lines):
        m = TAP_RUN.match(line)
        if m:
            last_run = m.group(1)
            start = i
            continue
        m = TAP_PLAN.match(line)
        if m and plan is None:
            plan = int(m.group(1))
            continue
        m = TAP_LINE.match(line)
        if not m:
            continue
        seen += 1
        status, num, desc = m.groups()
        # "ok 3 # SKIP reason" (the harness names no test on a skip)
        if desc.startswith("#"):
            title, directive = "", desc[1:].strip()
        elif " # " in desc:
            title, directive = desc.split(" # ", 1)
            directive = directive.strip()
        else:
            title, directive = desc, ""
        title = title.strip() or last_run or "test %s" % (num or seen)
        name = "%s: %s" % (prefix, title)
        if status == "ok" and directive.upper().startswith("SKIP"):
            res.skipped.append(name + " (" + directive[4:].strip() + ")")
        elif status == "ok":
            res.passed.append(name)
        elif directive.upper().startswith("TODO"):
            res.skipped.append(name)
        else:
            res.fail(name, "\n".join(lines[start:i + 1][-200:]),
                     rerun(title) if rerun else None)
            nfail += 1
        last_run = None
        start = i + 1
    return seen, nfail, plan


def load_matrix(path):
    """tests/matrix: 'NAME  options...  :  test test ...'."""
    configs = []
    with open(path) as f:
        for raw in f:
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            head, _, tests = line.partition(":")
            words = shlex.split(head)
            if "--kernel" not in words and "--debug" not in words:
                words += ["--kernel", DEFAULT_KERNEL]
            configs.append({
                "name": words[0],
                "opts": [w for w in words[1:] if w not in RUNNER_OPTS],
                "flags": set(w for w in words[1:] if w in RUNNER_OPTS),
                "tests": tests.split()})
    return configs


# 'make coverage' boots every program on the debug kernel built with gcov,
# which runs them slower than the debug tier's budgets (.settings) allow:
# kesync_test (scripts/guest-lib.sh) multiplies each by this.
COVERAGE_TIMEOUT_SCALE = 3


def guest_job(cfg, seed, timeout_scale=1):
    # /init runs the job in a child shell: the helpers must be sourced.
    lines = [". /etc/kesync/lib.sh", "export KESYNC_SEED=%d" % seed]
    if timeout_scale != 1:
        lines.append("export KESYNC_TIMEOUT_SCALE=%d" % timeout_scale)
    if cfg["flags"] & {"--host-hook", "--migrate"}:
        lines.append("export KESYNC_HOST_HOOK=1")
    if "--migrate" in cfg["flags"]:
        # The host's replies (HostHook.send_reply) come on ttyS1.
        lines.append("export KESYNC_HOST_REPLY=/dev/ttyS1")
    # The driver's interrupts-off accounting, printed as figures after
    # each boot (kesync_irqoff_dump in scripts/guest-lib.sh).
    lines.append('export KESYNC_MODPARAMS="${KESYNC_MODPARAMS:-} '
                 'irqoff_stats=1"')
    lines.append('echo "KESYNC-KERNEL $(uname -r)"')
    lines.append("kesync_job_setup")
    lines.append("kesync_load || echo 'KESYNC-LOAD-FAILED'")
    for t in cfg["tests"]:
        exe = "/kesync/bin/" + t
        if os.path.exists(os.path.join(ROOT, "tests/guest", t + ".sh")):
            exe += ".sh"
        lines.append("kesync_test %s %s" % (t, exe))
    lines.append("kesync_job_end")
    # On the debug kernel: kesync's gcov counters, for 'make coverage'.
    lines.append("kesync_gcov_dump")
    return "\n".join(lines) + "\n"


class HostHook(threading.Thread):
    """Watches a running guest's console log for KESYNC-HOST-REQUEST lines
    and forwards each QMP command to the guest's QEMU.

    In a --migrate boot the guest also gets an answer to each request, as
    the line 'KESYNC-HOST-REPLY NUM JSON' on its second serial port
    (ttyS1, run-guest.sh --host-reply), and it may ask for
    {"execute": "host-migrate"}: the runner live-migrates it to a new QEMU
    (migrate_guest()), which from then on is the one the requests go to."""

    def __init__(self, name, logf, sock, done, mdir=None, reply=None):
        super().__init__(daemon=True)
        self.name_ = name
        self.logf = logf
        self.sock = sock
        self.done = done
        self.mdir = mdir        # run-guest.sh --migratable DIR, or None
        self.reply = reply      # this QEMU's --host-reply socket, or None
        self.rsock = None       # our connection to it
        self.q = None
        self.log = []
        self.errors = []
        self.handled = 0
        self.migrations = []    # figures of each migration (query-migrate)
        self.dests = []         # the destination QEMUs we started
        self.lock = threading.Lock()

    def note(self, msg):
        self.log.append("[%.1f] %s" % (time.time() % 10000, msg))

    def send_reply(self, num, reply, obj):
        """'KESYNC-HOST-REPLY NUM JSON' on the guest's ttyS1, with the
        request's "id" (the guest matches on it)."""
        if not self.reply:
            return
        if "id" in obj and "id" not in reply:
            reply = dict(reply, id=obj["id"])
        line = "KESYNC-HOST-REPLY %s %s\n" % (num, json.dumps(reply))
        try:
            if self.rsock is None:
                self.rsock = connect_unix(self.reply, 10)
            self.rsock.sendall(line.encode())
        except OSError as e:
            self.errors.append("request %s: cannot reply: %s" % (num, e))

    def request(self, num, text):
        try:
            obj = json.loads(text)
        except ValueError as e:
            self.errors.append("request %s: bad JSON %r: %s" % (num, text, e))
            return
        what = obj.get("execute") if isinstance(obj, dict) else None
        if what == "host-migrate" and self.mdir:
            reply = self.migrate_guest(num)
            self.note("request %s: %s -> %s" % (num, text, json.dumps(reply)))
            self.send_reply(num, reply, obj)
            self.handled += 1
            return
        if what not in HOST_ALLOWED:
            self.errors.append("request %s: %s is not allowed" % (num, what))
            self.send_reply(num, {"error": {"desc": "not allowed"}}, obj)
            return
        reply = {"error": {"desc": "no answer"}}
        try:
            if self.q is None:
                self.q = qmp.QMP(self.sock, connect_timeout=10)
            reply = self.q.execute(obj)
            self.note("request %s: %s -> %s" % (num, text, json.dumps(reply)))
            if "error" in reply:
                self.errors.append("request %s: %s: %s" %
                                   (num, text, reply["error"]))
            if obj["execute"] == "device_del":
                ev = self.q.wait_event("DEVICE_DELETED", 60)
                self.note("request %s: %s" % (
                    num, "DEVICE_DELETED" if ev else
                    "no DEVICE_DELETED within 60 s"))
        except (qmp.QMPError, OSError) as e:
            self.errors.append("request %s: %s: %s" % (num, text, e))
            reply = {"error": {"desc": str(e)}}
        self.send_reply(num, reply, obj)
        self.handled += 1

    def start_dest(self, n):
        """A destination QEMU: the source's command line (DIR/qemu.argv),
        sockets of its own, -incoming defer; its console appended to the
        same log.  A thread reaps it and writes DIR/exit.<pid>."""
        with open(os.path.join(self.mdir, "qemu.argv"), "rb") as f:
            argv = [a.decode() for a in f.read().split(b"\0")[:-1]]
        dqmp = os.path.join(self.mdir, "qmp.%d.sock" % n)
        drep = os.path.join(self.mdir, "reply.%d.sock" % n)
        argv += ["-qmp", "unix:%s,server=on,wait=off" % dqmp]
        if self.reply:
            argv += ["-chardev", "socket,id=hostreply,path=%s,server=on,"
                     "wait=off" % drep, "-serial", "chardev:hostreply"]
        argv += ["-incoming", "defer"]
        with open(self.logf, "ab") as out:
            p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                 stderr=subprocess.STDOUT)
        with self.lock:
            self.dests.append(p)

        def reap():
            rc = p.wait()
            path = os.path.join(self.mdir, "exit.%d" % p.pid)
            with open(path + ".tmp", "w") as f:
                f.write("%d\n" % (rc if rc >= 0 else 128 - rc))
            os.rename(path + ".tmp", path)
        threading.Thread(target=reap, daemon=True).start()
        return p, dqmp, drep if self.reply else None

    def migrate_guest(self, num, bound=120.0):
        """Live migration to a new QEMU on this host: start it with
        -incoming defer, migrate-incoming on a loopback TCP port of its
        choosing, migrate the source there, wait (bounded) for
        'completed' and for the destination to run, then quit the source;
        the destination's QMP and reply sockets are used from now on.
        Returns the reply for the guest: {"return": {status, times}} or
        {"error": {"desc": ...}}."""
        n = len(self.migrations) + 1
        t0 = time.monotonic()
        dest = dq = None
        try:
            if self.q is None:
                self.q = qmp.QMP(self.sock, connect_timeout=10)
            dest, dqmp, drep = self.start_dest(n)
            dq = qmp.QMP(dqmp, connect_timeout=30)
            dq.cmd("migrate-incoming", {"uri": "tcp:127.0.0.1:0"})
            addr = dq.cmd("query-migrate").get("socket-address") or []
            port = [a["port"] for a in addr if a.get("type") == "inet"]
            if not port:
                raise qmp.QMPError("the destination listens on no TCP "
                                   "port: %s" % addr)
            # Loopback: no reason to throttle to the 128 MiB/s default.
            self.q.cmd("migrate-set-parameters",
                       {"max-bandwidth": 4 << 30})
            self.q.cmd("migrate", {"uri": "tcp:127.0.0.1:%s" % port[0]})
            end = t0 + bound
            while True:
                info = self.q.cmd("query-migrate")
                st = info.get("status")
                if st == "completed":
                    break
                if st in ("failed", "cancelled"):
                    raise qmp.QMPError("migration %s: %s" % (
                        st, info.get("error-desc", "")))
                if time.monotonic() > end:
                    self.q.cmd("migrate_cancel")
                    raise qmp.QMPError("migration not completed within "
                                       "%.0f s (%s)" % (bound, st))
                time.sleep(0.05)
            while True:
                st = dq.cmd("query-status")
                if st.get("status") == "running":
                    break
                if dest.poll() is not None:
                    raise qmp.QMPError("the destination exited (%d)"
                                       % dest.returncode)
                if time.monotonic() > end:
                    raise qmp.QMPError("the destination is %s, not "
                                       "running" % st.get("status"))
                time.sleep(0.05)
        except (qmp.QMPError, OSError, ValueError, KeyError) as e:
            self.errors.append("request %s: migration %d: %s" % (num, n, e))
            # The guest lives on in the source (resumed if it had stopped
            # for the switch-over), so that its test can say so.
            if dest is not None:
                dest.kill()
            if dq is not None:
                dq.close()
            try:
                if self.q.cmd("query-status").get("status") != "running":
                    self.q.cmd("cont")
            except (qmp.QMPError, OSError, AttributeError):
                pass
            return {"error": {"desc": "migration %d: %s" % (n, e)}}
        wall = time.monotonic() - t0
        # The destination runs the guest: from now on the source is not
        # followed but its successor (run-guest.sh --migratable).
        path = os.path.join(self.mdir, "successor")
        with open(path + ".tmp", "w") as f:
            f.write("%d\n" % dest.pid)
        os.rename(path + ".tmp", path)
        try:
            self.q.execute({"execute": "quit"}, timeout=10)
        except (qmp.QMPError, OSError):
            pass        # QEMU may close the socket before it answers
        self.q.close()
        self.q, self.sock = dq, dqmp
        if self.rsock is not None:
            self.rsock.close()
            self.rsock = None
        self.reply = drep
        fig = {"status": "completed", "migration": n,
               "total-time": info.get("total-time"),
               "downtime": info.get("downtime"),
               "setup-time": info.get("setup-time"),
               "transferred": (info.get("ram") or {}).get("transferred"),
               "wall-ms": int(wall * 1000)}
        self.migrations.append(fig)
        return {"return": fig}

    def stop(self):
        """After the boot: no destination QEMU outlives it."""
        for s in (self.q, self.rsock):
            if s is not None:
                s.close()
        with self.lock:
            for p in self.dests:
                if p.poll() is None:
                    p.kill()
                    p.wait()

    def run(self):
        pos = 0
        pending = ""
        while True:
            finished = self.done.is_set()
            try:
                with open(self.logf, "rb") as f:
                    f.seek(pos)
                    chunk = f.read()
                    pos += len(chunk)
            except OSError:
                chunk = b""
            pending += chunk.decode(errors="replace").replace("\r", "")
            *lines, pending = pending.split("\n")
            for line in lines:
                m = HOST_REQ.search(line)
                if m:
                    self.request(m.group(1), m.group(2))
            if finished:
                break
            time.sleep(0.05)


def connect_unix(path, timeout):
    """A connection to a unix socket a QEMU listens on (it may not yet)."""
    end = time.monotonic() + timeout
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(path)
            return s
        except OSError:
            s.close()
            if time.monotonic() > end:
                raise
            time.sleep(0.1)


def migration_figures(migs):
    """One line of figures on a boot's live migrations (not tests)."""
    def span(key):
        v = [m[key] for m in migs if m.get(key) is not None]
        return "%d..%d ms" % (min(v), max(v)) if v else "-"
    return ("%d live migration%s: downtime %s, total %s (setup %s), "
            "%s sent at most" % (
                len(migs), "" if len(migs) == 1 else "s", span("downtime"),
                span("total-time"), span("setup-time"),
                "%.0f MiB" % (max(m.get("transferred") or 0 for m in migs)
                              / 1048576.0)))


def scan_log(name, cfg, log, klog, res, died=False):
    """Kernel log reports, IOMMU faults; adds results to res.  When the
    guest died, its log tail is already shown with that failure."""
    tail = "" if died else "\n".join(log[-120:])
    expect_fault = "--expect-iommu-fault" in cfg["flags"]
    iommu = "--iommu" in cfg["opts"]
    dmar = [ln for ln in klog if DMAR_FAULT.search(ln)]
    qemu = [ln for ln in log if QEMU_IOMMU_FAULT.search(ln)]
    bad = [ln for ln in klog if KLOG_BAD.search(ln) and
           not KLOG_OK.search(ln) and
           not (expect_fault and DMAR_FAULT.search(ln))]
    if bad:
        res.fail("%s: kernel log clean" % name, "\n".join(bad[:40]) +
                 ("\n--- log tail ---\n" + tail if tail else ""))
    else:
        res.passed.append("%s: kernel log clean" % name)
    if died:
        return
    if expect_fault:
        for what, lines in (("guest DMAR fault reported", dmar),
                            ("QEMU translation failure reported", qemu)):
            if lines:
                res.passed.append("%s: negative control: %s" % (name, what))
            else:
                res.fail(
                    "%s: negative control: %s" % (name, what),
                    "the misdirected DMA was not reported: an IOMMU fault "
                    "would go unseen\n--- log tail ---\n" + tail)
    elif iommu:
        for what, lines in (("no DMAR fault in the guest", dmar),
                            ("no translation failure in QEMU", qemu)):
            if lines:
                res.fail("%s: %s" % (name, what),
                                   "\n".join(lines[:40]))
            else:
                res.passed.append("%s: %s" % (name, what))


KLOG_TIME = re.compile(r"^\[\s*(\d+\.\d+)\]")


def guest_time(words):
    """The guest uptime of a marker's last word, or None (an older
    initramfs printed none)."""
    try:
        return float(words[-1])
    except (IndexError, ValueError):
        return None


def klog_window(klog, t0, t1, limit=60):
    """The kernel log lines stamped between t0 and t1 (guest seconds)."""
    if t0 is None or t1 is None:
        return []
    out = []
    for line in klog:
        m = KLOG_TIME.match(line)
        if m and t0 <= float(m.group(1)) <= t1 + 0.5:
            out.append(line)
    if len(out) > limit:
        out = out[:limit // 2] + ["... %d lines ..." % (len(out) - limit)] \
            + out[-limit // 2:]
    return out


def rerun_guest(cfg, args, prog=None):
    """The command that reruns one configuration (one program of it)."""
    cmd = ["scripts/check.sh", "--no-host", "--only",
           "^%s$" % re.sub(r"([.^$*+?{}\[\]\\|()])", r"\\\1",
                           cfg["name"])]
    if prog:
        cmd += ["--tests", prog]
    if "--debug" in cfg["opts"]:
        cmd.append("--debug-tier")
    if "--dkms" in cfg["flags"]:
        cmd.append("--packaging")
    cmd += ["--seed", str(args.seed)]
    return " ".join(shlex.quote(w) for w in cmd)


def run_config(cfg, args):
    res = Result(rerun_guest(cfg, args))
    name = cfg["name"]
    if "--debug" in cfg["opts"]:
        if not os.path.exists(os.path.join(BUILD, "debug", "bzImage")):
            res.skipped.append("%s: debug kernel not built ('make debug')"
                               % name)
            return name, res, 0.0
        if not args.debug_tier:
            res.skipped.append("%s: debug tier not asked for (--debug-tier "
                               "or KESYNC_DEBUG_TIER=1)" % name)
            return name, res, 0.0
    hook = None
    with tempfile.TemporaryDirectory(prefix="kesync-") as tmp:
        job = os.path.join(tmp, "job.sh")
        with open(job, "w") as f:
            f.write(guest_job(cfg, args.seed, COVERAGE_TIMEOUT_SCALE
                              if args.coverage else 1))
        logf = os.path.join(args.logdir, name + ".log")
        if os.path.exists(logf):
            os.unlink(logf)
        cmd = [os.path.join(ROOT, "scripts/run-guest.sh"), "--quiet",
               "--job", job, "--log", logf,
               "--timeout", str(args.guest_timeout)] + cfg["opts"] + \
            shlex.split(args.guest_opts)
        if "--dkms" in cfg["flags"]:
            # The module DKMS built from the kesync-dkms package.
            cmd += ["--initrd", os.path.join(BUILD, "initramfs-dkms.cpio.gz")]
        done = threading.Event()
        if "--migrate" in cfg["flags"]:
            sock = os.path.join(tmp, "qmp.0.sock")
            reply = os.path.join(tmp, "reply.0.sock")
            cmd += ["--qmp", sock, "--host-reply", reply,
                    "--migratable", tmp]
            hook = HostHook(name, logf, sock, done, mdir=tmp, reply=reply)
            hook.start()
        elif "--host-hook" in cfg["flags"]:
            sock = os.path.join(tmp, "qmp.sock")
            cmd += ["--qmp", sock]
            hook = HostHook(name, logf, sock, done)
            hook.start()
        t0 = time.time()
        env = dict(os.environ, KESYNC_QEMU=os.path.join(
            args.qemu_dir, "qemu-system-x86_64"))
        p = subprocess.run(cmd, stdout=subprocess.PIPE, env=env,
                           stderr=subprocess.STDOUT, text=True)
        wall = time.time() - t0
        done.set()
        if hook:
            hook.join(30)
            hook.stop()
    try:
        with open(logf, errors="replace") as f:
            log = f.read().splitlines()
    except OSError:
        log = p.stdout.splitlines()
    # SeaBIOS (the firmware of the S3 boot) clears the screen before the
    # guest's first line: no terminal control sequence may hide a marker.
    log = [TERM_CTL.sub("", ln) for ln in log]
    if args.gcov_dir:
        save_gcov(name, log, args.gcov_dir, res)
    analyse_boot(cfg, args, res, log, p.returncode, p.stdout, hook)
    return name, res, wall


GCOV_LINE = re.compile(r"KESYNC-GCOV ([A-Za-z0-9+/=]+)\s*$")
GCOV_END = re.compile(r"KESYNC-GCOV-END (\d+) ([0-9a-f]{32})")


def save_gcov(name, log, gdir, res):
    """The boot's kesync .gcda files (kesync_gcov_dump in guest-lib.sh)
    into GDIR/NAME/; a copy that does not match its length and checksum
    is said, not failed: the boot's tests still count."""
    data, end = [], None
    for ln in log:
        m = GCOV_LINE.search(ln)
        if m:
            data.append(m.group(1))
            continue
        m = GCOV_END.search(ln)
        if m:
            end = (int(m.group(1)), m.group(2))
    if end is None:
        return
    try:
        blob = base64.b64decode("".join(data))
    except ValueError:
        blob = b""
    if len(blob) != end[0] or hashlib.md5(blob).hexdigest() != end[1]:
        say("%s: the gcov copy from the guest is damaged (%d of %d "
            "bytes): not counted" % (name, len(blob), end[0]))
        return
    out = os.path.join(gdir, name)
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    with tarfile.open(fileobj=io.BytesIO(blob)) as t:
        for m in t.getmembers():
            if m.isfile() and re.fullmatch(r"\./[\w.-]+\.gcda", m.name):
                with open(os.path.join(out, m.name[2:]), "wb") as f:
                    f.write(t.extractfile(m).read())


def last_coverage(args):
    """The summary line of the last 'make coverage', with its age: the
    figures are not remeasured by this run."""
    path = os.path.join(BUILD, "coverage", "summary.txt")
    if args.coverage or not os.path.exists(path):
        return
    with open(path) as f:
        line = f.read().strip()
    age = time.strftime("%Y-%m-%d %H:%M",
                        time.localtime(os.path.getmtime(path)))
    print("last 'make coverage' (%s): %s" % (age, line))


def coverage_configs(configs):
    """'make coverage': every boot on the debug kernel (gcov), once per
    distinct set of options and programs: the kernels section's boots
    test the same code on another kernel, and are left out, as are the
    DKMS boots (the DKMS module is not profiled)."""
    out, seen = [], set()
    for c in configs:
        kernel = c["opts"][c["opts"].index("--kernel") + 1] \
            if "--kernel" in c["opts"] else DEFAULT_KERNEL
        if "--dkms" in c["flags"] or kernel != DEFAULT_KERNEL:
            continue
        opts, skip = [], False
        for w in c["opts"]:
            if skip:
                skip = False
            elif w == "--kernel":
                skip = True
            elif w != "--debug":
                opts.append(w)
        key = (tuple(opts), tuple(sorted(c["flags"])), tuple(c["tests"]))
        if key in seen:
            continue
        seen.add(key)
        out.append(dict(c, opts=opts + ["--debug"]))
    return out


def select_configs(configs, args):
    """The boots to run: those --only names, then (--coverage) one per
    distinct configuration, then the programs --tests names.  The names
    are matched first: a boot --only names (debug-reset) is not lost to
    an earlier boot of the same configuration it names not (reset)."""
    if args.only:
        configs = [c for c in configs if re.search(args.only, c["name"])]
    if args.coverage:
        configs = coverage_configs(configs)
    if args.tests:
        want = set(args.tests.split(","))
        for c in configs:
            c["tests"] = [t for t in c["tests"] if t in want]
        configs = [c for c in configs if c["tests"]]
    return configs


def analyse_boot(cfg, args, res, log, returncode, output, hook=None):
    """The results of one boot, from its console log (and run-guest.sh's
    exit code and output): per-program TAP, the kernel log, the IOMMU."""
    name = cfg["name"]
    tail = "\n".join(log[-120:])
    for line in log:
        i = line.find("KESYNC-KERNEL ")
        if i >= 0:
            res.kernel = line[i:].split()[1] if len(line[i:].split()) > 1 \
                else "?"
            break

    died = returncode in (124, 125) or not any(
        ln.startswith("KESYNC-JOB-END") for ln in log)
    if died:
        why = "timed out" if returncode == 124 else "died"
        res.fail("%s: guest %s" % (name, why), output[-2000:] + "\n" + tail)
        # Still count what ran before the guest died.
    if any("KESYNC-LOAD-FAILED" in ln for ln in log):
        res.fail("%s: insmod kesync.ko" % name, tail)
    if hook:
        for e in hook.errors:
            res.fail("%s: host hook" % name, e + "\n" + "\n".join(hook.log))
        if hook.migrations:
            say("  %s: %s" % (name, migration_figures(hook.migrations)))
        with open(os.path.join(args.logdir, name + ".host.log"), "w") as f:
            f.write("\n".join(hook.log + hook.errors) + "\n")

    # The interrupts-off figures the guest dumped after each program.
    merger = irqoff.Merger()
    for line in log:
        i = line.find("KESYNC-IRQOFF ")
        if i >= 0:
            parts = line[i:].split(None, 2)
            if len(parts) == 3:
                merger.add(parts[1], parts[2])
    res.irqoff = merger.result()

    # The kernel log the guest printed at the end (dmesg).
    klog = []
    inside = False
    for line in log:
        if line.startswith("KESYNC-DMESG-BEGIN"):
            inside = True
        elif line.startswith("KESYNC-DMESG-END"):
            inside = False
        elif inside:
            klog.append(line)

    # Per-program TAP between markers ("KESYNC-TEST-BEGIN NAME T0" and
    # "KESYNC-TEST-END NAME rc=RC T1", T in seconds of guest uptime).
    cur = None
    body = []
    ended = set()
    begun = set()
    t_begin = None
    for line in log:
        if line.startswith("KESYNC-TEST-BEGIN "):
            words = line.split()
            cur = words[1]
            begun.add(cur)
            t_begin = guest_time(words[2:])
            body = []
        elif line.startswith("KESYNC-TEST-END ") and cur:
            words = line.split()
            rc = int(words[2].split("=", 1)[1])
            prog = "%s/%s" % (name, cur)
            kwin = klog_window(klog, t_begin, guest_time(words[3:]))
            first = len(res.failed)
            seen, nfail, plan = parse_tap(
                prog, body, res, lambda _, c=cur: rerun_guest(cfg, args, c))
            ended.add(cur)
            why = None
            if seen == 0 and not (rc == 4 and plan == 0):
                why = "no TAP output (rc=%d)" % rc
            elif rc in (124, 137):
                why = "killed at its settings timeout"
            elif plan is None or seen != plan:
                why = "%d tests reported, plan %s (rc=%d)" % (seen, plan, rc)
            elif rc not in (0, 4) and nfail == 0:
                why = "exited with rc=%d" % rc
            elif rc == 4 and plan == 0:
                res.skipped.append("%s: %s" % (prog, " ".join(
                    ln for ln in body if "SKIP" in ln)[:200]))
            if why:
                res.fail("%s: %s" % (prog, why), "\n".join(body[-80:]),
                         rerun_guest(cfg, args, cur))
            # Each failure of this program shows the kernel's lines of
            # the program's run.
            for k in range(first, len(res.failed)):
                n, d, r = res.failed[k]
                if kwin:
                    d += "\n--- kernel log while %s ran ---\n%s" % (
                        cur, "\n".join(kwin))
                res.failed[k] = (n, d, r)
            cur = None
        elif cur is not None:
            body.append(line)
    for t in cfg["tests"]:
        if t in ended:
            continue
        if t in begun:
            res.fail("%s/%s: did not finish" % (name, t),
                     "\n".join(body[-80:]), rerun_guest(cfg, args, t))
        else:
            res.fail("%s/%s: did not start" % (name, t), "",
                     rerun_guest(cfg, args, t))

    # The kernel log must be clean; IOMMU boots must (not) see faults.
    if not klog:
        klog = log
    scan_log(name, cfg, log, klog, res, died)


def run_tap_command(label, cmd, args, env=None, cwd=None, rerun=None,
                    rerun_one=None):
    """Run a host-side program that prints TAP; count its results.  rerun
    is the command that runs it again, rerun_one(title) one test of it."""
    res = Result(rerun or " ".join(shlex.quote(
        os.path.relpath(w, ROOT) if w.startswith(ROOT + "/") else w)
        for w in cmd))
    t0 = time.time()
    try:
        p = subprocess.run(cmd, env=env, cwd=cwd,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=args.host_timeout)
        out, rc = p.stdout, p.returncode
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode(errors="replace") if isinstance(
            e.stdout, bytes) else (e.stdout or "")
        rc = -1
        res.fail("%s: timed out" % label, out[-3000:])
    except OSError as e:
        out, rc = str(e), -1
    lines = out.splitlines()
    seen, nfail, plan = parse_tap(label, lines, res, rerun_one)
    if seen == 0 or (rc != 0 and nfail == 0):
        res.fail("%s: exited rc=%d" % (label, rc),
                           "\n".join(lines[-80:]))
    elif plan != seen:
        res.fail("%s: %d tests reported, plan %s" %
                           (label, seen, plan), "\n".join(lines[-80:]))
    with open(os.path.join(args.logdir, label.replace("/", "-") + ".log"),
              "w") as f:
        f.write(out)
    return res, time.time() - t0


def run_host(args):
    """The device's qtest: libqtest drives kesync-pci, no guest kernel."""
    qdir = args.qemu_dir
    env = dict(os.environ,
               QTEST_QEMU_BINARY=os.path.join(qdir, "qemu-system-x86_64"))
    base = "cd %s && QTEST_QEMU_BINARY=./qemu-system-x86_64 " \
        "./kesync-pci-test --tap -k" % show_path(qdir)
    res, wall = run_tap_command(
        "host/qtest", [os.path.join(qdir, "kesync-pci-test"), "--tap", "-k"],
        args, env=env, cwd=qdir, rerun=base,
        rerun_one=lambda t: "%s -p %s" % (base, shlex.quote(t.split()[0])))
    return "host", res, wall


# The sanitizer tier: every report is fatal, and written to a file of its
# own (log_path, one per process) so that a report in a QEMU the qtest only
# sees die, or one that does not stop a process, still fails the step.
# A report ends the process with status 86, not 1: a QEMU whose load of a
# bad migration stream must fail with 1 cannot pass for one that crashed.
# Leaks are not checked: QEMU leaves its start-up allocations to exit.
def sanitizer_env(report):
    return {"ASAN_OPTIONS": "halt_on_error=1:exitcode=86:detect_leaks=0:"
            "log_path=%s" % report,
            "UBSAN_OPTIONS": "halt_on_error=1:exitcode=86:print_stacktrace=1:"
            "log_path=%s" % report}


def run_asan(args):
    """The device's qtest again, on the ASan+UBSan build of QEMU (the
    test program is built with them too); any sanitizer report fails."""
    qdir = args.fuzz_dir
    report = os.path.join(args.logdir, "asan-report")
    for f in os.listdir(args.logdir):
        if f.startswith("asan-report."):
            os.unlink(os.path.join(args.logdir, f))
    env = dict(os.environ, **sanitizer_env(report),
               QTEST_QEMU_BINARY=os.path.join(qdir, "qemu-system-x86_64"))
    base = "cd %s && ASAN_OPTIONS=halt_on_error=1:detect_leaks=0 " \
        "UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 " \
        "QTEST_QEMU_BINARY=./qemu-system-x86_64 ./kesync-pci-test --tap -k" \
        % show_path(qdir)
    if not os.path.exists(os.path.join(qdir, "kesync-pci-test")):
        res = Result(base)
        res.fail("asan: no sanitizer build in %s" % show_path(qdir),
                 "", "scripts/qemu.sh --fuzz")
        return "asan", res, 0.0
    targs = argparse.Namespace(**vars(args))
    targs.host_timeout = max(args.host_timeout, 1800)
    res, wall = run_tap_command(
        "asan/qtest", [os.path.join(qdir, "kesync-pci-test"), "--tap", "-k"],
        targs, env=env, cwd=qdir, rerun=base,
        rerun_one=lambda t: "%s -p %s" % (base, shlex.quote(t.split()[0])))
    name = "asan: no sanitizer report"
    found = sorted(f for f in os.listdir(args.logdir)
                   if f.startswith("asan-report."))
    nrep = 0
    for f in found:
        with open(os.path.join(args.logdir, f), errors="replace") as fh:
            text = fh.read()
        # ASan also logs warnings there (QEMU's coroutines switch stacks
        # with swapcontext): only a report fails.
        if SANITIZER_REPORT.search(text):
            nrep += 1
            res.fail("%s (%s)" % (name, show_path(os.path.join(
                args.logdir, f))), text[-6000:])
        else:
            os.unlink(os.path.join(args.logdir, f))
    if not nrep:
        res.passed.append(name)
    return "asan", res, wall


def run_fuzz(args):
    """QEMU's generic-fuzz on kesync-pci (scripts/fuzz.sh --check): the
    seed corpus, a fixed libFuzzer seed, a fixed number of inputs."""
    cmd = [os.path.join(ROOT, "scripts/fuzz.sh"), "--check",
           "--runs", str(args.fuzz_runs), "--seed", "1"]
    res = Result(" ".join(os.path.relpath(cmd[0], ROOT).split() + cmd[1:]))
    t0 = time.time()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True)
    with open(os.path.join(args.logdir, "fuzz.log"), "w") as f:
        f.write(p.stdout)
    summary = [ln for ln in p.stdout.splitlines() if ln.startswith("fuzz: ")]
    name = "fuzz: generic-fuzz, %d inputs, no crash" % args.fuzz_runs
    if p.returncode != 0 or not summary:
        res.fail(name, p.stdout[-6000:])
    else:
        res.passed.append(name)
        say("  " + summary[-1])
    return "fuzz", res, time.time() - t0


def run_host_tests(args):
    """tests/host/*: host-side TAP programs that need no device: the
    runner's own output, kesyncctl's conventions, the installer's checks.
    They find the build in $KESYNC_BUILD (kesyncctl: build/host/)."""
    total = Result()
    t0 = time.time()
    env = dict(os.environ, KESYNC_BUILD=BUILD,
               KESYNCCTL=os.path.join(BUILD, "host", "kesyncctl"))
    hdir = os.path.join(ROOT, "tests", "host")
    for f in sorted(os.listdir(hdir)):
        path = os.path.join(hdir, f)
        if not os.access(path, os.X_OK) or os.path.isdir(path):
            continue
        res, _ = run_tap_command("host/" + f, [path], args, env=env,
                                 rerun="tests/host/" + f)
        total.merge(res)
    return "tools", total, time.time() - t0


def run_kunit(args):
    """scripts/kunit.sh: the KUnit suite (module/.kunitconfig) on a kernel
    of its own under kunit.py, no device and no initramfs."""
    # The first run builds that kernel: 10 to 18 minutes on 2 cores.
    targs = argparse.Namespace(**vars(args))
    targs.host_timeout = max(args.host_timeout, 3600)
    res, wall = run_tap_command(
        "kunit", [os.path.join(ROOT, "scripts/kunit.sh")], targs)
    return "kunit", res, wall


def run_kbuild(args):
    """kesync.ko for every kernel of kernel/targets (W=1, no warning
    allowed; scripts/kernel.sh build), and each kernel's initramfs."""
    res = Result()
    t0 = time.time()
    for k in kernel_names():
        out = os.path.join(BUILD, "kernels", k)
        p = subprocess.run([os.path.join(ROOT, "scripts/kernel.sh"), "build",
                            k, out], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
        kver = ""
        try:
            with open(os.path.join(out, "kver")) as f:
                kver = f.read().strip()
        except OSError:
            pass
        name = "kbuild/%s%s: kesync.ko builds, W=1, no warning" % (
            k, " (%s)" % kver if kver else "")
        initrd = os.path.join(BUILD, "initramfs-%s.cpio.gz" % k)
        if os.path.exists(initrd):
            os.unlink(initrd)   # no boot of an older module
        if p.returncode != 0:
            res.fail(name, p.stdout[-4000:], "scripts/kernel.sh build %s "
                     "build/kernels/%s" % (k, k))
            say("  kbuild %-9s FAILED" % k)
            continue
        res.passed.append(name)
        say("  kbuild %-9s %s: W=1, 0 warnings" % (k, kver))
        p = subprocess.run([os.path.join(ROOT, "scripts/mkguest.sh"),
                            initrd, out, os.path.join(BUILD, "guest", "bin")],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True)
        if p.returncode != 0:
            res.fail("kbuild/%s: initramfs" % k, p.stdout[-4000:])
    return "kbuild", res, time.time() - t0


def run_packaging(args):
    """scripts/test-packaging.sh: the .debs, and DKMS building the module
    from kesync-dkms for a second kernel; that module's initramfs for the
    --dkms boot."""
    initrd = os.path.join(BUILD, "initramfs-dkms.cpio.gz")
    if os.path.exists(initrd):
        os.unlink(initrd)
    res, wall = run_tap_command(
        "packaging", [os.path.join(ROOT, "scripts/test-packaging.sh")], args)
    kos = []
    for dirpath, _, files in os.walk(os.path.join(BUILD, "dkms")):
        kos += [dirpath for f in files if f == "kesync.ko"]
    if len(kos) != 1:
        res.fail("packaging: one module built by DKMS",
                           "found %d: %s" % (len(kos), kos))
    else:
        p = subprocess.run([os.path.join(ROOT, "scripts/mkguest.sh"),
                            os.path.join(BUILD, "initramfs-dkms.cpio.gz"),
                            kos[0], os.path.join(BUILD, "guest", "bin")],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True)
        if p.returncode != 0:
            res.fail("packaging: dkms initramfs", p.stdout[-4000:])
    return "packaging", res, wall


def run_lint(args):
    """scripts/lint.sh: checkpatch, W=1, sparse, coccicheck, shellcheck."""
    res, wall = run_tap_command(
        "lint", [os.path.join(ROOT, "scripts/lint.sh")], args)
    return "lint", res, wall


def default_jobs():
    """One boot more than there are CPUs, as memory allows (up to 2 GiB of
    guest, the debug kernel's, and about 0.5 GiB of QEMU each).  A guest
    spends much of its time waiting out device timeouts with its vCPUs
    idle: on 2 cores, 2 boots at
    a time kept them 30 % busy, 3 at a time take 4 min instead of 5 min 40 s
    with every timing check still well inside its margin."""
    try:
        with open("/proc/meminfo") as f:
            avail = next(int(ln.split()[1]) for ln in f
                         if ln.startswith("MemAvailable:"))
    except (OSError, StopIteration, ValueError):
        avail = 4 << 20
    return max(1, min((os.cpu_count() or 1) + 1, avail // (5 << 19)))


def print_irqoff(figures, args):
    """The irqs-off figures of every boot go to the log directory (the
    whole table); the console gets one line that says where.  Figures,
    not tests."""
    if not figures:
        return
    full = ["irqs-off: how long kesync held its interrupt spin lock with "
            "interrupts off (debugfs irqoff, irqoff_stats=1), per boot and "
            "routine.", "count, max / p99 in us (p99 = histogram bucket "
            "bound).  Under TCG the times include the emulator's own work "
            "and are an upper bound;", "debug-kernel boots run under "
            "lockdep and KASAN.  Figures, not pass/fail.", "",
            "%-22s %-22s %s" % ("boot", "ISR", "longest SynchCritSection")]
    for name, fig in figures:
        isr = fig.get("isr")
        scs = [(st["max_ns"], r) for r, st in fig.items() if r != "isr"]
        worst = max(scs)[1] if scs else None
        full.append("%-22s %-22s %s" % (
            name, irqoff.fmt(isr) if isr else "-",
            "%s %s" % (worst.split(" (")[0], irqoff.fmt(fig[worst]))
            if worst else "-"))
    full.append("")
    for name, fig in figures:
        full.append(name)
        for r in sorted(fig, key=lambda r: -fig[r]["max_ns"]):
            full.append("  %-34s %9d  %s" % (r, fig[r]["count"],
                                             irqoff.fmt(fig[r])))
    path = os.path.join(args.logdir, "irqoff.txt")
    with open(path, "w") as f:
        f.write("\n".join(full) + "\n")
    print("irqs-off figures of %d boots (not tests): %s" %
          (len(figures), show_path(path)), flush=True)


def show_path(path):
    """A path as the user should read it: relative to the current
    directory when it is below it."""
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else rel


def fmt_wall(sec):
    sec = int(sec + 0.5)
    return "%dm%02ds" % (sec // 60, sec % 60) if sec >= 60 else "%ds" % sec


class Progress:
    """What the user sees while the run goes on.  Results print as each
    step ends.  On a terminal a status line under them says what is
    running now; elsewhere (CI, a pipe) a plain line says it every two
    minutes while nothing else is printed."""

    def __init__(self, stream=None):
        self.out = stream or sys.stdout
        self.tty = self.out.isatty() and os.environ.get("TERM") != "dumb"
        self.lock = threading.Lock()
        self.running = {}   # name -> start time
        self.status = ""    # the status line now on screen
        self.last = time.time()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.tick, daemon=True)
        self.thread.start()

    def _clear(self):
        if self.status:
            self.out.write("\r\033[K")
            self.status = ""

    def line(self, text):
        with self.lock:
            self._clear()
            self.out.write(text + "\n")
            self.out.flush()
            self.last = time.time()
            self._draw()

    def start(self, name):
        with self.lock:
            self.running[name] = time.time()
            self._draw()

    def end(self, name):
        with self.lock:
            self.running.pop(name, None)
            self._draw()

    def _running(self):
        now = time.time()
        return ", ".join("%s %s" % (n, fmt_wall(now - t))
                         for n, t in sorted(self.running.items(),
                                            key=lambda kv: kv[1]))

    def _draw(self):
        if not self.tty:
            return
        self._clear()
        if self.running:
            cols = 0
            try:
                cols = os.get_terminal_size(self.out.fileno()).columns
            except OSError:
                pass
            cols = cols if cols > 20 else 80   # a pty may report 0
            self.status = ("  running: " + self._running())[:cols - 1]
            self.out.write(self.status)
        self.out.flush()

    def tick(self):
        while not self.stop.wait(1.0):
            with self.lock:
                if self.tty:
                    self._draw()
                elif self.running and time.time() - self.last >= 120:
                    self.out.write("  ... still running: %s\n" %
                                   self._running())
                    self.out.flush()
                    self.last = time.time()

    def close(self):
        self.stop.set()
        self.thread.join()
        with self.lock:
            self._clear()
            self.out.flush()


def counts(res):
    return "%3d passed, %d failed, %d skipped" % (
        len(res.passed), len(res.failed), len(res.skipped))


def host_step(prog, total, label, what, fn, args):
    """Announce a host-side step, run it, print its counts, add them up."""
    prog.line("%s: %s" % (label, what))
    prog.start(label)
    try:
        _, res, wall = fn(args)
    finally:
        prog.end(label)
    prog.line("%-10s %s (%s)" % (label, counts(res), fmt_wall(wall)))
    total.merge(res)


def print_failures(total):
    """Each failure: its own slice of output, and the command that reruns
    just it."""
    shown = {}
    for name, detail, rerun in total.failed:
        print("\n=== FAILED: %s" % name)
        detail = detail.rstrip()
        if detail in shown:
            detail = "(the output shown for %s above)" % shown[detail]
        elif detail:
            shown[detail] = name
        if len(detail) > 6000:
            detail = "[... %d characters before ...]\n%s" % (
                len(detail) - 6000, detail[-6000:])
        if detail:
            print(detail)
        if rerun:
            print("--- rerun: %s" % rerun)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--matrix", default=os.path.join(ROOT, "tests/matrix"))
    ap.add_argument("--only", help="run configs whose name matches this regex")
    ap.add_argument("--tests",
                    help="run only these programs of each config "
                    "(comma-separated names, e.g. kesync_cancel)")
    ap.add_argument("--no-host", action="store_true",
                    help="skip the host-side device and tool tests")
    ap.add_argument("--no-guest", action="store_true")
    ap.add_argument("--lint", action="store_true",
                    help="also run scripts/lint.sh (static analysis)")
    ap.add_argument("--packaging", action="store_true",
                    help="also build the .debs and run DKMS "
                    "(scripts/test-packaging.sh) and boot its module")
    ap.add_argument("--kbuild", action="store_true",
                    help="build kesync.ko for every kernel even with "
                    "--no-guest")
    ap.add_argument("--list", action="store_true",
                    help="list the guest configurations and exit")
    ap.add_argument("--seed", type=int,
                    default=int(os.environ.get("KESYNC_SEED", "0")) or
                    int(time.time()) % 1000000007,
                    help="seed of all random data (default: the time)")
    ap.add_argument("-j", "--jobs", type=int,
                    default=int(os.environ.get("KESYNC_JOBS", "0")) or
                    default_jobs(),
                    help="guest boots at a time (default: CPUs + 1, as "
                    "memory allows; KESYNC_JOBS)")
    ap.add_argument("--guest-timeout", type=int, default=600)
    ap.add_argument("--guest-opts", default="",
                    help="more run-guest.sh options for every boot, e.g. "
                    "'--initrd build/other.cpio.gz'")
    ap.add_argument("--debug-tier", action="store_true",
                    default=os.environ.get("KESYNC_DEBUG_TIER") == "1",
                    help="also run the --debug configurations (the debug "
                    "kernel of 'make debug': lockdep, KASAN, kmemleak)")
    ap.add_argument("--host-timeout", type=int, default=600)
    ap.add_argument("--logdir", default=os.path.join(BUILD, "logs"))
    ap.add_argument("--qemu-dir", default=BUILD,
                    help="where qemu-system-x86_64 and kesync-pci-test are "
                    "(default build/; 'make coverage': its gcov build)")
    ap.add_argument("--fuzz-tier", action="store_true",
                    default=os.environ.get("KESYNC_FUZZ_TIER") == "1",
                    help="also run the qtest on the ASan+UBSan build of "
                    "QEMU and a bounded generic-fuzz run ('scripts/qemu.sh "
                    "--fuzz' builds them)")
    ap.add_argument("--fuzz-dir", default=os.path.join(BUILD, "fuzz", "qemu"),
                    help="the sanitizer/fuzzer build of --fuzz-tier")
    ap.add_argument("--fuzz-runs", type=int, default=FUZZ_RUNS,
                    help="inputs of the bounded fuzz run (default %d)"
                    % FUZZ_RUNS)
    ap.add_argument("--gcov-dir",
                    help="save each debug-kernel boot's kesync .gcda files "
                    "under DIR/<boot>/")
    ap.add_argument("--coverage", action="store_true",
                    help="every boot on the debug kernel, once per distinct "
                    "configuration (scripts/coverage.sh)")
    args = ap.parse_args()
    os.makedirs(args.logdir, exist_ok=True)

    configs = select_configs(load_matrix(args.matrix), args)
    if args.list:
        for c in configs:
            print("%-22s %s : %s" % (c["name"], " ".join(
                c["opts"] + sorted(c["flags"])), " ".join(c["tests"])))
        return 0

    total = Result()
    t0 = time.time()
    global PROGRESS
    prog = PROGRESS = Progress()
    prog.line("seed %d (rerun with --seed %d); logs in %s" %
              (args.seed, args.seed, show_path(args.logdir)))
    if not args.no_host:
        host_step(prog, total, "host", "the device model under libqtest, "
                  "no guest (about 1 minute)", run_host, args)
    # 'make coverage' measures the device's qtest and the guest boots:
    # the host tools, KUnit's kernel and the kbuild step run no profiled
    # code.
    if not args.no_host and not args.coverage and args.fuzz_tier:
        host_step(prog, total, "asan", "the qtest again on QEMU built "
                  "with ASan and UBSan, any report fatal (2 to 4 minutes)",
                  run_asan, args)
        host_step(prog, total, "fuzz", "QEMU's generic-fuzz on kesync-pci, "
                  "%d inputs from the seed corpus (1 to 3 minutes)"
                  % args.fuzz_runs, run_fuzz, args)
    if not args.no_host and not args.coverage:
        host_step(prog, total, "tools", "host-side tests of the runner, "
                  "kesyncctl and the installer (tests/host)",
                  run_host_tests, args)
    if not args.no_host and not args.coverage:
        host_step(prog, total, "kunit", "the KUnit suite under kunit.py "
                  "(the first time a kernel build of 10 to 18 minutes)",
                  run_kunit, args)
    if (not args.no_guest and not args.coverage) or args.kbuild:
        host_step(prog, total, "kbuild", "kesync.ko for every kernel of "
                  "kernel/targets, W=1", run_kbuild, args)
    if args.packaging:
        host_step(prog, total, "packaging", "the .debs, and DKMS building "
                  "the module (about 2 minutes)", run_packaging, args)
    elif not args.no_guest:
        for c in configs:
            if "--dkms" in c["flags"]:
                total.skipped.append("%s: the DKMS module is built by the "
                                     "packaging step (--packaging)" %
                                     c["name"])
        configs = [c for c in configs if "--dkms" not in c["flags"]]
    if args.lint:
        host_step(prog, total, "lint", "checkpatch, sparse on every "
                  "kernel, coccicheck, shellcheck (about 3 minutes)",
                  run_lint, args)
    guest_wall = 0.0
    figures = []
    if not args.no_guest and configs:
        tg = time.time()
        # The longest boots (the debug kernel's) start first, so they
        # do not end the run alone.
        order = sorted(configs, key=lambda c: "--debug" not in c["opts"])
        ndebug = sum(1 for c in order if "--debug" in c["opts"])
        prog.line("guest: %d boot%s, %d at a time%s" % (
            len(order), "" if len(order) == 1 else "s", args.jobs,
            "; the %d debug-kernel boots (lockdep, KASAN) take the longest"
            % ndebug if ndebug and args.debug_tier else ""))
        width = len(str(len(order)))

        def one(c):
            prog.start(c["name"])
            try:
                return run_config(c, args)
            finally:
                prog.end(c["name"])

        with concurrent.futures.ThreadPoolExecutor(args.jobs) as ex:
            futs = [ex.submit(one, c) for c in order]
            for k, fut in enumerate(concurrent.futures.as_completed(futs), 1):
                name, r, wall = fut.result()
                prog.line("[%*d/%d] %-22s %-24s %s (%s)" % (
                    width, k, len(order), name,
                    r.kernel or ("-" if not wall else "(no kernel seen)"),
                    counts(r), fmt_wall(wall)))
                total.merge(r)
                if r.irqoff:
                    figures.append((name, r.irqoff))
        guest_wall = time.time() - tg
    prog.close()
    PROGRESS = None
    figures.sort()
    print_irqoff(figures, args)

    print_failures(total)
    if total.skipped:
        print("\nskipped:")
        for name in total.skipped:
            print("  " + name)
    if total.failed:
        print("\nfailed:")
        for name, _, _ in total.failed:
            print("  " + name)
    last_coverage(args)
    print("wall time %s (guests %s); seed %d; logs in %s" %
          (fmt_wall(time.time() - t0), fmt_wall(guest_wall), args.seed,
           show_path(args.logdir)))
    print("%d passed, %d failed, %d skipped" %
          (len(total.passed), len(total.failed), len(total.skipped)))
    return 1 if total.failed else 0


if __name__ == "__main__":
    sys.exit(main())

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
import concurrent.futures
import json
import os
import re
import shlex
import subprocess
import sys
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
    r"unreferenced object|DMAR: DRHD: handling fault")

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
HOST_REQ = re.compile(r"KESYNC-HOST-REQUEST (\d+) (\{.*\})\s*$")

# What a guest may ask the host to do on its QEMU.
HOST_ALLOWED = {"device_del", "device_add", "qom-set", "qom-get",
                "query-pci", "query-status"}

# Runner-level matrix options (not passed to run-guest.sh).
RUNNER_OPTS = {"--host-hook", "--expect-iommu-fault", "--dkms"}

# The guest kernel of a matrix line that names none (--kernel NAME).
DEFAULT_KERNEL = "6.1"


def kernel_names():
    """The kernels of kernel/targets, in its order."""
    out = subprocess.run([os.path.join(ROOT, "scripts/kernel.sh"), "names"],
                         stdout=subprocess.PIPE, text=True, check=True)
    return out.stdout.split()


class Result:
    def __init__(self):
        self.passed = []
        self.failed = []   # (name, detail)
        self.skipped = []
        self.irqoff = {}   # the boot's irqs-off figures, irqoff.Merger
        self.kernel = ""   # the guest's uname -r

    def merge(self, other):
        self.passed += other.passed
        self.failed += other.failed
        self.skipped += other.skipped


def parse_tap(prefix, lines, res):
    """Count the top-level TAP results of one program.  Returns (seen,
    failed, plan)."""
    seen = 0
    nfail = 0
    plan = None
    last_run = None
    for line in lines:
        m = TAP_RUN.match(line)
        if m:
            last_run = m.group(1)
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
            res.failed.append((name, "\n".join(lines)))
            nfail += 1
        last_run = None
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


def guest_job(cfg, seed):
    # /init runs the job in a child shell: the helpers must be sourced.
    lines = [". /etc/kesync/lib.sh", "export KESYNC_SEED=%d" % seed]
    if "--host-hook" in cfg["flags"]:
        lines.append("export KESYNC_HOST_HOOK=1")
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
    return "\n".join(lines) + "\n"


class HostHook(threading.Thread):
    """Watches a running guest's console log for KESYNC-HOST-REQUEST lines
    and forwards each QMP command to the guest's QEMU."""

    def __init__(self, name, logf, sock, done):
        super().__init__(daemon=True)
        self.name_ = name
        self.logf = logf
        self.sock = sock
        self.done = done
        self.log = []
        self.errors = []
        self.handled = 0

    def note(self, msg):
        self.log.append("[%.1f] %s" % (time.time() % 10000, msg))

    def request(self, q, num, text):
        try:
            obj = json.loads(text)
        except ValueError as e:
            self.errors.append("request %s: bad JSON %r: %s" % (num, text, e))
            return q
        if obj.get("execute") not in HOST_ALLOWED:
            self.errors.append("request %s: %s is not allowed" %
                               (num, obj.get("execute")))
            return q
        try:
            if q is None:
                q = qmp.QMP(self.sock, connect_timeout=10)
            reply = q.execute(obj)
            self.note("request %s: %s -> %s" % (num, text, json.dumps(reply)))
            if "error" in reply:
                self.errors.append("request %s: %s: %s" %
                                   (num, text, reply["error"]))
            if obj["execute"] == "device_del":
                ev = q.wait_event("DEVICE_DELETED", 60)
                self.note("request %s: %s" % (
                    num, "DEVICE_DELETED" if ev else
                    "no DEVICE_DELETED within 60 s"))
        except (qmp.QMPError, OSError) as e:
            self.errors.append("request %s: %s: %s" % (num, text, e))
        self.handled += 1
        return q

    def run(self):
        q = None
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
                    q = self.request(q, m.group(1), m.group(2))
            if finished:
                break
            time.sleep(0.05)
        if q is not None:
            q.close()


def scan_log(name, cfg, log, klog, res):
    """Kernel log reports, IOMMU faults; adds results to res."""
    tail = "\n".join(log[-120:])
    expect_fault = "--expect-iommu-fault" in cfg["flags"]
    iommu = "--iommu" in cfg["opts"]
    dmar = [ln for ln in klog if DMAR_FAULT.search(ln)]
    qemu = [ln for ln in log if QEMU_IOMMU_FAULT.search(ln)]
    bad = [ln for ln in klog if KLOG_BAD.search(ln) and
           not KLOG_OK.search(ln) and
           not (expect_fault and DMAR_FAULT.search(ln))]
    if bad:
        res.failed.append(("%s: kernel log clean" % name,
                           "\n".join(bad[:40]) + "\n--- log tail ---\n" + tail))
    else:
        res.passed.append("%s: kernel log clean" % name)
    if expect_fault:
        for what, lines in (("guest DMAR fault reported", dmar),
                            ("QEMU translation failure reported", qemu)):
            if lines:
                res.passed.append("%s: negative control: %s" % (name, what))
            else:
                res.failed.append((
                    "%s: negative control: %s" % (name, what),
                    "the misdirected DMA was not reported: an IOMMU fault "
                    "would go unseen\n--- log tail ---\n" + tail))
    elif iommu:
        for what, lines in (("no DMAR fault in the guest", dmar),
                            ("no translation failure in QEMU", qemu)):
            if lines:
                res.failed.append(("%s: %s" % (name, what),
                                   "\n".join(lines[:40])))
            else:
                res.passed.append("%s: %s" % (name, what))


def run_config(cfg, args):
    res = Result()
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
            f.write(guest_job(cfg, args.seed))
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
        if "--host-hook" in cfg["flags"]:
            sock = os.path.join(tmp, "qmp.sock")
            cmd += ["--qmp", sock]
            hook = HostHook(name, logf, sock, done)
            hook.start()
        t0 = time.time()
        p = subprocess.run(cmd, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
        wall = time.time() - t0
        done.set()
        if hook:
            hook.join(30)
    try:
        with open(logf, errors="replace") as f:
            log = f.read().splitlines()
    except OSError:
        log = p.stdout.splitlines()
    tail = "\n".join(log[-120:])
    for line in log:
        i = line.find("KESYNC-KERNEL ")
        if i >= 0:
            res.kernel = line[i:].split()[1] if len(line[i:].split()) > 1 \
                else "?"
            break

    if p.returncode in (124, 125) or not any(
            ln.startswith("KESYNC-JOB-END") for ln in log):
        why = "timed out" if p.returncode == 124 else "died"
        res.failed.append(("%s: guest %s" % (name, why),
                           p.stdout[-2000:] + "\n" + tail))
        # Still count what ran before the guest died.
    if any("KESYNC-LOAD-FAILED" in ln for ln in log):
        res.failed.append(("%s: insmod kesync.ko" % name, tail))
    if hook:
        for e in hook.errors:
            res.failed.append(("%s: host hook" % name, e + "\n" +
                               "\n".join(hook.log)))
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

    # Per-program TAP between markers.
    cur = None
    body = []
    ended = set()
    for line in log:
        if line.startswith("KESYNC-TEST-BEGIN "):
            cur = line.split()[1]
            body = []
        elif line.startswith("KESYNC-TEST-END ") and cur:
            rc = int(line.rsplit("rc=", 1)[1])
            prog = "%s/%s" % (name, cur)
            seen, nfail, plan = parse_tap(prog, body, res)
            ended.add(cur)
            if seen == 0 and not (rc == 4 and plan == 0):
                res.failed.append(("%s: no TAP output (rc=%d)" % (prog, rc),
                                   "\n".join(body[-80:])))
            elif rc in (124, 137):
                res.failed.append(("%s: killed at its settings timeout" % prog,
                                   "\n".join(body[-80:])))
            elif plan is None or seen != plan:
                res.failed.append(("%s: %d tests reported, plan %s (rc=%d)" %
                                   (prog, seen, plan, rc),
                                   "\n".join(body[-80:])))
            elif rc not in (0, 4) and nfail == 0:
                res.failed.append(("%s: exited with rc=%d" % (prog, rc),
                                   "\n".join(body[-80:])))
            elif rc == 4 and plan == 0:
                res.skipped.append("%s: %s" % (prog, " ".join(
                    ln for ln in body if "SKIP" in ln)[:200]))
            cur = None
        elif cur is not None:
            body.append(line)
    for t in cfg["tests"]:
        if t not in ended:
            res.failed.append(("%s/%s: did not finish" % (name, t),
                               "\n".join(body[-80:]) if cur == t else tail))

    # The kernel log must be clean; IOMMU boots must (not) see faults.
    klog = []
    inside = False
    for line in log:
        if line.startswith("KESYNC-DMESG-BEGIN"):
            inside = True
        elif line.startswith("KESYNC-DMESG-END"):
            inside = False
        elif inside:
            klog.append(line)
    if not klog:
        klog = log
    scan_log(name, cfg, log, klog, res)
    return name, res, wall


def run_tap_command(label, cmd, args, env=None, cwd=None):
    """Run a host-side program that prints TAP; count its results."""
    res = Result()
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
        res.failed.append(("%s: timed out" % label, out[-3000:]))
    except OSError as e:
        out, rc = str(e), -1
    lines = out.splitlines()
    seen, nfail, plan = parse_tap(label, lines, res)
    if seen == 0 or (rc != 0 and nfail == 0):
        res.failed.append(("%s: exited rc=%d" % (label, rc),
                           "\n".join(lines[-80:])))
    elif plan != seen:
        res.failed.append(("%s: %d tests reported, plan %s" %
                           (label, seen, plan), "\n".join(lines[-80:])))
    with open(os.path.join(args.logdir, label.replace("/", "-") + ".log"),
              "w") as f:
        f.write(out)
    return res, time.time() - t0


def run_host(args):
    """The device's qtest: libqtest drives kesync-pci, no guest kernel."""
    env = dict(os.environ,
               QTEST_QEMU_BINARY=os.path.join(BUILD, "qemu-system-x86_64"))
    res, wall = run_tap_command(
        "host/qtest", [os.path.join(BUILD, "kesync-pci-test"), "--tap", "-k"],
        args, env=env, cwd=BUILD)
    return "host", res, wall


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
            res.failed.append((name, p.stdout[-4000:]))
            print("  kbuild %-9s FAILED" % k, flush=True)
            continue
        res.passed.append(name)
        print("  kbuild %-9s %s: W=1, 0 warnings" % (k, kver), flush=True)
        p = subprocess.run([os.path.join(ROOT, "scripts/mkguest.sh"),
                            initrd, out, os.path.join(BUILD, "guest", "bin")],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True)
        if p.returncode != 0:
            res.failed.append(("kbuild/%s: initramfs" % k, p.stdout[-4000:]))
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
        res.failed.append(("packaging: one module built by DKMS",
                           "found %d: %s" % (len(kos), kos)))
    else:
        p = subprocess.run([os.path.join(ROOT, "scripts/mkguest.sh"),
                            os.path.join(BUILD, "initramfs-dkms.cpio.gz"),
                            kos[0], os.path.join(BUILD, "guest", "bin")],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True)
        if p.returncode != 0:
            res.failed.append(("packaging: dkms initramfs", p.stdout[-4000:]))
    return "packaging", res, wall


def run_lint(args):
    """scripts/lint.sh: checkpatch, W=1, sparse, coccicheck, shellcheck."""
    res, wall = run_tap_command(
        "lint", [os.path.join(ROOT, "scripts/lint.sh")], args)
    return "lint", res, wall


def default_jobs():
    """One boot more than there are CPUs, as memory allows (up to 2 GiB of
    guest, the debug kernel's, and about 0.5 GiB of QEMU each).  A guest spends much of its time
    waiting out device timeouts with its vCPUs idle: on 2 cores, 2 boots at
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
    """The irqs-off figures of every boot: one line per boot here, the
    whole table in the log directory.  Figures, not tests."""
    if not figures:
        return
    full = ["irqs-off: how long kesync held its interrupt spin lock with "
            "interrupts off (debugfs irqoff, irqoff_stats=1), per boot and "
            "routine:", "count, max / p99 in us (p99 = histogram bucket "
            "bound)", ""]
    print("\nirqs-off figures (driver debugfs irqoff; us, max / p99 bucket "
          "bound; debug-kernel boots run under lockdep and KASAN):")
    print("  %-17s %-20s %s" % ("boot", "ISR", "longest SynchCritSection"))
    for name, fig in figures:
        isr = fig.get("isr")
        scs = [(st["max_ns"], r) for r, st in fig.items() if r != "isr"]
        worst = max(scs)[1] if scs else None
        print("  %-17s %-20s %s" % (
            name, irqoff.fmt(isr) if isr else "-",
            "%s %s" % (worst.split(" (")[0], irqoff.fmt(fig[worst]))
            if worst else "-"))
        full.append(name)
        for r in sorted(fig, key=lambda r: -fig[r]["max_ns"]):
            full.append("  %-34s %9d  %s" % (r, fig[r]["count"],
                                             irqoff.fmt(fig[r])))
    path = os.path.join(args.logdir, "irqoff.txt")
    with open(path, "w") as f:
        f.write("\n".join(full) + "\n")
    print("  every routine: %s" % path)


def stage(total, label, res, wall):
    """Print one host-side step's counts and add them to the total."""
    print("%s: %d passed, %d failed, %d skipped (%.0f s)" %
          (label, len(res.passed), len(res.failed), len(res.skipped), wall),
          flush=True)
    total.merge(res)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--matrix", default=os.path.join(ROOT, "tests/matrix"))
    ap.add_argument("--only", help="run configs whose name matches this regex")
    ap.add_argument("--no-host", action="store_true")
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
    args = ap.parse_args()
    os.makedirs(args.logdir, exist_ok=True)

    configs = load_matrix(args.matrix)
    if args.only:
        configs = [c for c in configs if re.search(args.only, c["name"])]
    if args.list:
        for c in configs:
            print("%-22s %s : %s" % (c["name"], " ".join(
                c["opts"] + sorted(c["flags"])), " ".join(c["tests"])))
        return 0

    total = Result()
    t0 = time.time()
    print("seed %d (rerun with --seed %d)" % (args.seed, args.seed),
          flush=True)
    if not args.no_host:
        _, r, wall = run_host(args)
        print("host qtest: %d passed, %d failed, %d skipped (%.0f s)" %
              (len(r.passed), len(r.failed), len(r.skipped), wall),
              flush=True)
        total.merge(r)
    if not args.no_guest or args.kbuild:
        print("kbuild: kesync.ko for every kernel of kernel/targets",
              flush=True)
        stage(total, "kbuild", *run_kbuild(args)[1:])
    if args.packaging:
        stage(total, "packaging", *run_packaging(args)[1:])
    elif not args.no_guest:
        for c in configs:
            if "--dkms" in c["flags"]:
                total.skipped.append("%s: the DKMS module is built by the "
                                     "packaging step (--packaging)" %
                                     c["name"])
        configs = [c for c in configs if "--dkms" not in c["flags"]]
    if args.lint:
        stage(total, "lint", *run_lint(args)[1:])
    guest_wall = 0.0
    figures = []
    if not args.no_guest:
        tg = time.time()
        # The longest boots (the debug kernel's) start first, so they
        # do not end the run alone.
        order = sorted(configs, key=lambda c: "--debug" not in c["opts"])
        with concurrent.futures.ThreadPoolExecutor(args.jobs) as ex:
            futs = [ex.submit(run_config, c, args) for c in order]
            for fut in futs:
                name, r, wall = fut.result()
                print("guest %-22s %-24s %3d passed, %d failed, %d skipped "
                      "(%.0f s)" % (name, r.kernel or "(no kernel seen)",
                                    len(r.passed), len(r.failed),
                                    len(r.skipped), wall), flush=True)
                total.merge(r)
                if r.irqoff:
                    figures.append((name, r.irqoff))
        guest_wall = time.time() - tg
    print_irqoff(figures, args)

    for name, detail in total.failed:
        print("\n=== FAILED: %s" % name)
        print(detail.rstrip()[-6000:])
    if total.skipped:
        print("\nskipped:")
        for name in total.skipped:
            print("  " + name)
    if total.failed:
        print("\nfailed:")
        for name, _ in total.failed:
            print("  " + name)
    print("wall time %.0f s (guests %.0f s); seed %d; logs in %s" %
          (time.time() - t0, guest_wall, args.seed, args.logdir))
    print("%d passed, %d failed, %d skipped" %
          (len(total.passed), len(total.failed), len(total.skipped)))
    return 1 if total.failed else 0


if __name__ == "__main__":
    sys.exit(main())

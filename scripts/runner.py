#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""kesync test runner: host-side device tests and in-guest kselftests.

Runs the host-side qtest binary and every guest configuration of
tests/matrix, parses the TAP each prints, scans every guest's kernel log for
reports (BUG, WARNING, lockdep, KASAN, ...), shows each failure with its
log, and ends with the line 'N passed, N failed, N skipped'.
"""
import argparse
import concurrent.futures
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("KESYNC_BUILD", os.path.join(ROOT, "build"))

# Kernel log lines that fail a guest run, whatever its tests said.
KLOG_BAD = re.compile(
    r"BUG:|WARNING:|Oops|INFO: task .* blocked|general protection|KASAN|"
    r"kmemleak:|possible circular locking|possible recursive locking|"
    r"inconsistent lock state|lockdep|DMA-API:|UBSAN:|"
    r"Kernel panic|Call Trace:|suspicious RCU usage|"
    r"sleeping function called from invalid context|DMAR: \[DMA")

TAP_LINE = re.compile(r"^(not ok|ok)\b\s*(\d+)?\s*-?\s*(.*)$")


class Result:
    def __init__(self):
        self.passed = []
        self.failed = []   # (name, detail)
        self.skipped = []

    def merge(self, other):
        self.passed += other.passed
        self.failed += other.failed
        self.skipped += other.skipped


def parse_tap(prefix, lines, res):
    """Count the top-level TAP results of one program."""
    seen = 0
    nfail = 0
    for line in lines:
        m = TAP_LINE.match(line)
        if not m:
            continue
        seen += 1
        status, _, desc = m.groups()
        name = "%s: %s" % (prefix, desc.split(" # ")[0].strip())
        directive = desc.split(" # ", 1)[1].strip() if " # " in desc else ""
        if status == "ok" and directive.upper().startswith("SKIP"):
            res.skipped.append(name)
        elif status == "ok":
            res.passed.append(name)
        elif directive.upper().startswith("TODO"):
            res.skipped.append(name)
        else:
            res.failed.append((name, "\n".join(lines)))
            nfail += 1
    return seen, nfail


def load_matrix(path):
    """tests/matrix: 'NAME  run-guest options...  :  test test ...'."""
    configs = []
    with open(path) as f:
        for raw in f:
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            head, _, tests = line.partition(":")
            words = shlex.split(head)
            configs.append({"name": words[0], "opts": words[1:],
                            "tests": tests.split()})
    return configs


def guest_job(tests):
    lines = ["kesync_load || echo 'KESYNC-LOAD-FAILED'"]
    for t in tests:
        exe = "/kesync/bin/" + t
        lines.append("kesync_test %s %s" % (t, exe))
    return "\n".join(lines) + "\n"


def run_config(cfg, args):
    res = Result()
    name = cfg["name"]
    with tempfile.TemporaryDirectory(prefix="kesync-") as tmp:
        job = os.path.join(tmp, "job.sh")
        with open(job, "w") as f:
            f.write(guest_job(cfg["tests"]))
        logf = os.path.join(args.logdir, name + ".log")
        cmd = [os.path.join(ROOT, "scripts/run-guest.sh"), "--quiet",
               "--job", job, "--log", logf,
               "--timeout", str(args.guest_timeout)] + cfg["opts"]
        t0 = time.time()
        p = subprocess.run(cmd, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
        wall = time.time() - t0
    try:
        with open(logf, errors="replace") as f:
            log = f.read().splitlines()
    except OSError:
        log = p.stdout.splitlines()
    tail = "\n".join(log[-120:])

    if p.returncode in (124, 125) or not any(
            l.startswith("KESYNC-JOB-END") for l in log):
        why = "timed out" if p.returncode == 124 else "died"
        res.failed.append(("%s: guest %s" % (name, why),
                           p.stdout[-2000:] + "\n" + tail))
        # Still count what ran before the guest died.
    if any("KESYNC-LOAD-FAILED" in l for l in log):
        res.failed.append(("%s: insmod kesync.ko" % name, tail))

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
            seen, nfail = parse_tap("%s/%s" % (name, cur), body, res)
            ended.add(cur)
            if seen == 0:
                res.failed.append(("%s/%s: no TAP output (rc=%d)" %
                                   (name, cur, rc), "\n".join(body[-80:])))
            elif rc not in (0, 4) and nfail == 0:
                res.failed.append(("%s/%s: exited with rc=%d" %
                                   (name, cur, rc), "\n".join(body[-80:])))
            cur = None
        elif cur is not None:
            body.append(line)
    for t in cfg["tests"]:
        if t not in ended:
            res.failed.append(("%s/%s: did not finish" % (name, t),
                               "\n".join(body[-80:]) if cur == t else tail))

    # The kernel log must be clean.
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
    bad = [l for l in klog if KLOG_BAD.search(l)]
    if bad:
        res.failed.append(("%s: kernel log clean" % name,
                           "\n".join(bad[:40]) + "\n--- log tail ---\n" + tail))
    else:
        res.passed.append("%s: kernel log clean" % name)
    return name, res, wall


def run_host(args):
    res = Result()
    qt = os.path.join(BUILD, "kesync-pci-test")
    env = dict(os.environ,
               QTEST_QEMU_BINARY=os.path.join(BUILD, "qemu-system-x86_64"))
    t0 = time.time()
    try:
        p = subprocess.run([qt, "--tap", "-k"], env=env, cwd=BUILD,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=args.host_timeout)
        out, rc = p.stdout, p.returncode
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode(errors="replace") if isinstance(
            e.stdout, bytes) else (e.stdout or "")
        rc = -1
        res.failed.append(("host/qtest: timed out", out[-3000:]))
    lines = out.splitlines()
    seen, nfail = parse_tap("host/qtest", lines, res)
    if seen == 0 or (rc != 0 and nfail == 0):
        res.failed.append(("host/qtest: exited rc=%d" % rc,
                           "\n".join(lines[-80:])))
    with open(os.path.join(args.logdir, "host-qtest.log"), "w") as f:
        f.write(out)
    return "host", res, time.time() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--matrix", default=os.path.join(ROOT, "tests/matrix"))
    ap.add_argument("--only", help="run configs whose name matches this regex")
    ap.add_argument("--no-host", action="store_true")
    ap.add_argument("--no-guest", action="store_true")
    ap.add_argument("-j", "--jobs", type=int,
                    default=int(os.environ.get("KESYNC_JOBS", "1")))
    ap.add_argument("--guest-timeout", type=int, default=600)
    ap.add_argument("--host-timeout", type=int, default=600)
    ap.add_argument("--logdir", default=os.path.join(BUILD, "logs"))
    args = ap.parse_args()
    os.makedirs(args.logdir, exist_ok=True)

    total = Result()
    t0 = time.time()
    if not args.no_host:
        _, r, wall = run_host(args)
        print("host qtest: %d passed, %d failed, %d skipped (%.0f s)" %
              (len(r.passed), len(r.failed), len(r.skipped), wall),
              flush=True)
        total.merge(r)
    if not args.no_guest:
        configs = load_matrix(args.matrix)
        if args.only:
            configs = [c for c in configs if re.search(args.only, c["name"])]
        with concurrent.futures.ThreadPoolExecutor(args.jobs) as ex:
            futs = [ex.submit(run_config, c, args) for c in configs]
            for fut in futs:
                name, r, wall = fut.result()
                print("guest %-24s %d passed, %d failed, %d skipped (%.0f s)"
                      % (name, len(r.passed), len(r.failed), len(r.skipped),
                         wall), flush=True)
                total.merge(r)

    for name, detail in total.failed:
        print("\n=== FAILED: %s" % name)
        print(detail.rstrip()[-6000:])
    if total.failed:
        print("\nfailed:")
        for name, _ in total.failed:
            print("  " + name)
    print("wall time %.0f s; logs in %s" % (time.time() - t0, args.logdir))
    print("%d passed, %d failed, %d skipped" %
          (len(total.passed), len(total.failed), len(total.skipped)))
    return 1 if total.failed else 0


if __name__ == "__main__":
    sys.exit(main())

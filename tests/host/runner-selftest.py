#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Tests of what scripts/runner.py shows the user, on synthetic console
logs and stand-in boots (no QEMU): a failure shows its own slice of output
and the kernel log of its program's run, with the command that reruns
just that program in that configuration; boots print as they finish, with
a [k/N] counter.  TAP 13 on stdout."""
import contextlib
import io
import os
import pty
import socket
import sys
import tempfile
import threading

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import runner  # noqa: E402

RESULTS = []


def check(name, cond, diag=""):
    RESULTS.append((name, bool(cond), diag))


class Args:
    seed = 7
    logdir = "/nonexistent"


def boot_log(fail_msg):
    """A console log of two programs: kesync_a passes, the second test
    of kesync_b fails with fail_msg."""
    return """KESYNC-KERNEL 6.1.0-test
KESYNC-JOB-BEGIN
KESYNC-TEST-BEGIN kesync_a 10.00
TAP version 13
1..2
#  RUN           a.one ...
#            OK  a.one
ok 1 a.one
#  RUN           a.two ...
#            OK  a.two
ok 2 a.two
KESYNC-TEST-END kesync_a rc=0 20.00
KESYNC-TEST-BEGIN kesync_b 21.00
TAP version 13
1..3
#  RUN           b.one ...
#            OK  b.one
ok 1 b.one
#  RUN           b.two ...
# kesync_b.c:42:two:%s
#          FAIL  b.two
not ok 2 b.two
#  RUN           b.three ...
#            OK  b.three
ok 3 b.three
# totals
KESYNC-TEST-END kesync_b rc=1 30.00

KESYNC-JOB-END rc=0
KESYNC-DMESG-BEGIN
[   15.000000] kesync 0000:01:00.0: during kesync_a
[   25.000000] kesync 0000:01:00.0: during kesync_b
KESYNC-DMESG-END
""" % fail_msg


def cfg(name, debug=False):
    opts = ["--irq", "msix"] + (["--debug"] if debug else [])
    return {"name": name, "opts": opts, "flags": set(),
            "tests": ["kesync_a", "kesync_b"]}


def test_slice():
    res = runner.Result(runner.rerun_guest(cfg("c1"), Args))
    runner.analyse_boot(cfg("c1"), Args, res,
                        boot_log("Expected 1 == 2").splitlines(), 0, "")
    check("slice: 5 passed (4 tests, kernel log clean)",
          len(res.passed) == 5, res.passed)
    check("slice: one failure", len(res.failed) == 1, res.failed)
    if len(res.failed) != 1:
        return
    name, detail, rerun = res.failed[0]
    check("slice: named config/program: test",
          name == "c1/kesync_b: b.two", name)
    lines = detail.splitlines()
    check("slice: starts at its RUN line", lines[0].startswith("#  RUN") and
          "b.two" in lines[0], lines[:1])
    check("slice: has the failing check", "Expected 1 == 2" in detail)
    check("slice: holds no other test's output",
          "b.one" not in detail and "b.three" not in detail and
          "a.one" not in detail and "TAP version" not in detail, detail)
    check("slice: kernel log of the program's window only",
          "during kesync_b" in detail and "during kesync_a" not in detail,
          detail)
    check("slice: rerun command of one program in one config",
          rerun == "scripts/check.sh --no-host --only '^c1$' "
          "--tests kesync_b --seed 7", rerun)


def test_coverage_selection():
    """make coverage names debug-reset in its boots; reset, earlier in
    tests/matrix, has the same options but --debug.  Both ran as one
    boot named reset, which the name filter then dropped: the PM and
    AER callbacks were never counted."""
    class A:
        only = "^(debug|debug-reset)$"
        coverage = True
        tests = None
    reset = dict(cfg("reset"), opts=["--irq", "msix"])
    dreset = dict(cfg("debug-reset", debug=True))
    debug = dict(cfg("debug", debug=True), tests=["kesync_a"])
    got = runner.select_configs([reset, debug, dreset], A)
    names = [c["name"] for c in got]
    check("coverage: the boots named run, under their own names",
          names == ["debug", "debug-reset"], names)
    check("coverage: every boot on the debug kernel",
          all(c["opts"].count("--debug") == 1 for c in got),
          [c["opts"] for c in got])
    A.only = None
    names = [c["name"] for c in runner.select_configs(
        [reset, debug, dreset], A)]
    check("coverage: one boot per configuration",
          names == ["reset", "debug"], names)


def test_coverage_timeouts():
    """Under 'make coverage' (gcov on the debug kernel) every program
    gets COVERAGE_TIMEOUT_SCALE times its budget: kesync_lifetime was
    killed at its 400 s, and what it had not yet run was not counted."""
    c = dict(cfg("debug", debug=True), tests=["kesync_a"])
    plain = runner.guest_job(c, 7)
    scaled = runner.guest_job(c, 7, runner.COVERAGE_TIMEOUT_SCALE)
    check("coverage: programs get a longer budget",
          "export KESYNC_TIMEOUT_SCALE=%d" % runner.COVERAGE_TIMEOUT_SCALE
          in scaled and runner.COVERAGE_TIMEOUT_SCALE > 1, scaled)
    check("coverage: other runs keep the budgets of .settings",
          "KESYNC_TIMEOUT_SCALE" not in plain, plain)


def test_debug_rerun():
    r = runner.rerun_guest(cfg("debug", debug=True), Args, "kesync_b")
    check("rerun: debug config asks for the debug tier",
          r.endswith("--debug-tier --seed 7") and "'^debug$'" in r, r)


def test_two_failures_printed_once_each():
    total = runner.Result()
    for c in ("c1", "c2"):
        res = runner.Result(runner.rerun_guest(cfg(c), Args))
        runner.analyse_boot(cfg(c), Args, res,
                            boot_log("UNIQUE-%s" % c).splitlines(), 0, "")
        total.merge(res)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        runner.print_failures(total)
    text = out.getvalue()
    check("print: each failure's message printed once",
          text.count("UNIQUE-c1") == 1 and text.count("UNIQUE-c2") == 1,
          text)
    check("print: a rerun line per failure",
          text.count("--- rerun: scripts/check.sh") == 2, text)


def test_died():
    res = runner.Result(runner.rerun_guest(cfg("c3"), Args))
    log = boot_log("x").split("KESYNC-TEST-BEGIN kesync_b")[0]
    runner.analyse_boot(cfg("c3"), Args, res, log.splitlines(), 125,
                        "[kesync] guest died")
    names = [f[0] for f in res.failed]
    check("died: the boot fails and the next program did not start",
          "c3: guest died" in names and
          "c3/kesync_b: did not start" in names, names)
    check("died: the boot's rerun runs the whole config",
          all(f[2].startswith("scripts/check.sh --no-host --only '^c3$'")
              for f in res.failed), res.failed)


def test_progress_order():
    """Boots print as they end: the second config, submitted last, ends
    first (the first waits for it) and must be printed first, as 1/2."""
    second_printed = threading.Event()

    class Progress(runner.Progress):
        def line(self, text):
            super().line(text)
            if "] second" in text:
                second_printed.set()

    def fake_run_config(c, args):
        res = runner.Result()
        if c["name"] == "first":
            second_printed.wait(30)
        res.passed.append("%s: x" % c["name"])
        return c["name"], res, 1.0

    tmp = tempfile.TemporaryDirectory(prefix="kesync-runner-selftest.")
    matrix = os.path.join(tmp.name, "matrix")
    with open(matrix, "w") as f:
        f.write("first --irq msix : kesync_a\nsecond --irq msi : kesync_a\n")
    saved = (runner.run_config, runner.run_kbuild, sys.argv,
             runner.Progress)
    runner.run_config = fake_run_config
    runner.Progress = Progress
    runner.run_kbuild = lambda a: ("kbuild", runner.Result(), 0.0)
    logdir = os.path.join(tmp.name, "logs")
    sys.argv = ["runner.py", "--no-host", "--matrix", matrix, "-j", "2",
                "--logdir", logdir]
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            rc = runner.main()
    finally:
        (runner.run_config, runner.run_kbuild, sys.argv,
         runner.Progress) = saved
        tmp.cleanup()
    lines = out.getvalue().splitlines()
    prog = [ln for ln in lines if ln.startswith("[")]
    check("progress: main returns 0", rc == 0, out.getvalue())
    check("progress: [1/2] is the boot that ended first",
          len(prog) == 2 and prog[0].startswith("[1/2] second") and
          prog[1].startswith("[2/2] first"), prog)
    check("progress: last line is the total",
          lines[-1] == "2 passed, 0 failed, 0 skipped", lines[-1:])
    check("progress: no terminal control sequences off a terminal",
          "\033" not in out.getvalue() and "\r" not in out.getvalue())


def test_tty_status():
    """On a terminal: a status line names what runs, a result line
    replaces it, and nothing of it is left after close()."""
    pid, fd = pty.fork()
    if pid == 0:
        p = runner.Progress()
        p.start("boot-a")
        p.line("[1/2] boot-b done")
        p.end("boot-a")
        p.close()
        sys.stdout.write("END\n")
        sys.stdout.flush()
        os._exit(0)
    out = b""
    while True:
        try:
            d = os.read(fd, 4096)
        except OSError:
            break
        if not d:
            break
        out += d
    os.waitpid(pid, 0)
    text = out.decode(errors="replace")
    check("tty: the status line names the running boot",
          "  running: boot-a 0s" in text, repr(text))
    check("tty: a result line clears the status line first",
          "\r\033[K[1/2] boot-b done" in text, repr(text))
    check("tty: close() leaves the line clean",
          text.endswith("\r\033[KEND\r\n"), repr(text))


def test_host_reply():
    """A --migrate boot's hook answers every request on the guest's reply
    port, with the request's id; a boot that cannot migrate refuses
    host-migrate."""
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "reply.sock")
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(path)
        srv.listen(1)
        hook = runner.HostHook("b", os.path.join(d, "log"),
                               os.path.join(d, "qmp.sock"),
                               threading.Event(), reply=path)
        hook.request("3", '{"execute": "host-migrate", "id": "km-1"}')
        conn, _ = srv.accept()
        conn.settimeout(10)
        got = b""
        while not got.endswith(b"\n"):
            chunk = conn.recv(4096)
            if not chunk:
                break
            got += chunk
        hook.stop()
        conn.close()
        srv.close()
    line = got.decode()
    check("host reply: one line, the request's number and id",
          line.startswith("KESYNC-HOST-REPLY 3 {") and
          '"id": "km-1"' in line and line.count("\n") == 1, repr(line))
    check("host reply: host-migrate refused without --migratable",
          '"error"' in line and
          any("host-migrate is not allowed" in e for e in hook.errors),
          repr((line, hook.errors)))
    check("migration figures: ranges of downtime and total time",
          runner.migration_figures([
              {"downtime": 12, "total-time": 900, "setup-time": 1,
               "transferred": 300 << 20},
              {"downtime": 30, "total-time": 700, "setup-time": 2,
               "transferred": 200 << 20}]) ==
          "2 live migrations: downtime 12..30 ms, total 700..900 ms "
          "(setup 1..2 ms), 300 MiB sent at most")


def main():
    test_host_reply()
    test_tty_status()
    test_slice()
    test_debug_rerun()
    test_coverage_selection()
    test_coverage_timeouts()
    test_two_failures_printed_once_each()
    test_died()
    test_progress_order()
    print("TAP version 13")
    print("1..%d" % len(RESULTS))
    for i, (name, ok, diag) in enumerate(RESULTS, 1):
        if not ok:
            for ln in str(diag).splitlines()[:40]:
                print("# " + ln)
        print("%s %d - %s" % ("ok" if ok else "not ok", i, name))
    return 0 if all(ok for _, ok, _ in RESULTS) else 1


if __name__ == "__main__":
    sys.exit(main())

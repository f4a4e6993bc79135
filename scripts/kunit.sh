#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# kesync's KUnit suite (module/kesync-kunit.c) on a small kernel of its own,
# no device and no initramfs: the kernel's tools/testing/kunit/kunit.py run
# with module/.kunitconfig (kesync built in, lockdep and list debugging),
# booted in the project's QEMU.  Prints TAP 13: one line per KUnit case
# ("ok N - kesync: CASE"), then one for the kernel log (a lockdep, KASAN,
# list-debugging or other report fails the run, and the case it came in);
# exit status nonzero when any line is "not ok".
#
#   scripts/kunit.sh            build (incrementally) and run
#   KESYNC_KUNIT_ARGS='...'     more 'kunit.py exec' options (a filter glob,
#                               --kernel_args=...)
#
# The source is the kesync tree of 'linux-src.sh --kesync' (shared with the
# debug kernel); the build directory is in the cache, keyed by
# .kunitconfig, that tree (source version, patches) and RECIPE: after the
# first build only what changed is rebuilt.  kunit.py's own output and the
# guest's console are in that directory (kunit-run.log, test.log).
set -euo pipefail
. "$(dirname "$0")/common.sh"

# Bump RECIPE when a change of this script changes what the build produces.
RECIPE=1
kunitconfig=$KESYNC_ROOT/module/.kunitconfig
qemu=$KESYNC_BUILD/qemu-system-x86_64

# fail WHAT [LOGFILE]: the run cannot report cases; say so in TAP and stop.
fail() {
	echo "TAP version 13"
	echo "1..1"
	echo "not ok 1 - kesync: $1"
	[ -z "${2:-}" ] || tail -n 60 "$2" | sed 's/^/# /'
	exit 1
}

[ -x "$qemu" ] || fail "no $qemu: run 'make qemu'"
[ -r "$kunitconfig" ] || fail "no $kunitconfig"
# One user of the kesync tree at a time (it is refreshed from module/).
mkdir -p "$KESYNC_CACHE/linux-src"
exec 9>"$KESYNC_CACHE/linux-src/kesync-tree.lock"
flock 9
tree=$(KESYNC_KTREE_LOCKED=1 "$KESYNC_ROOT/scripts/linux-src.sh" --kesync) ||
	fail "the kesync kernel tree (scripts/linux-src.sh --kesync)"
key=$( { echo "recipe $RECIPE"; echo "tree ${tree##*/}"; cat "$kunitconfig"; } |
	sha256sum | cut -c1-12)
bdir=$KESYNC_CACHE/kunit/$key
mkdir -p "$bdir"
rm -f "$bdir/test.log"

# 'kunit.py run' is 'build' then 'exec': run as two steps, so that the
# accelerator probe (scripts/accel.sh: whether KVM works here, cached)
# runs while the kernel builds.
accel_f=$bdir/accel
{ "$KESYNC_ROOT/scripts/accel.sh" 2>/dev/null || echo tcg; } >"$accel_f" &
apid=$!
: >"$bdir/kunit-run.log"
# kunit.py starts 'qemu-system-x86_64' from PATH: the project's build.
kunit() {
	PATH=$KESYNC_BUILD:$PATH PYTHONDONTWRITEBYTECODE=1 \
		python3 "$tree/tools/testing/kunit/kunit.py" "$@" --arch=x86_64 \
		--kunitconfig="$kunitconfig" --build_dir="$bdir" \
		</dev/null >>"$bdir/kunit-run.log" 2>&1
}
t0=$(date +%s)
rc=0
kunit build --jobs="$(nproc)" || rc=$?
wait "$apid" || true
accel=$(cat "$accel_f")
t1=$(date +%s)
[ "$rc" -eq 0 ] ||
	fail "kunit.py build: the KUnit kernel did not configure or build (log: $bdir/kunit-run.log)" \
		"$bdir/kunit-run.log"
# That QEMU has no firmware of its own (--disable-install-blobs): -L
# points it at Debian's (qboot.rom, which kunit.py asks for, and
# linuxboot_dma.bin for -kernel are in /usr/share/qemu).
read -r -a extra <<<"${KESYNC_KUNIT_ARGS:-}"
kunit exec --timeout=300 --qemu_args="-L /usr/share/qemu -L /usr/share/seabios -accel ${accel:-tcg}" \
	"${extra[@]}" || rc=$?
t2=$(date +%s)
[ -s "$bdir/test.log" ] ||
	fail "kunit.py exec: the KUnit kernel did not boot (exit $rc; log: $bdir/kunit-run.log)" \
		"$bdir/kunit-run.log"

# The guest's console to TAP: the kesync suite's case lines (the indented
# "ok N name" at the indentation of its "# Subtest:"), each with the
# kernel reports printed while it ran; a case the plan announces that
# never reported (a crash) is "not ok".
python3 - "$bdir/test.log" "$rc" "build $((t1 - t0)) s, boot and run $((t2 - t1)) s" "$bdir" <<'EOF'
import re
import sys

log, kunit_rc, took, bdir = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
# As scripts/runner.py's KLOG_BAD and KLOG_OK.
BAD = re.compile(
    r"BUG:|WARNING:|Oops|INFO: task .* blocked|general protection|KASAN|"
    r"kmemleak:|possible circular locking|possible recursive locking|"
    r"inconsistent lock state|lockdep|DMA-API:|UBSAN:|"
    r"Kernel panic|Call Trace:|suspicious RCU usage|"
    r"sleeping function called from invalid context|"
    r"kernel BUG at|BUG \S+ \(|list_(add|del) corruption|refcount_t:|"
    r"soft lockup|hard LOCKUP|rcu: INFO|rcu_\w+ detected stalls|"
    r"ODEBUG:|stack-protector|Bad page state")
OK = re.compile(r"RCU lockdep checking is enabled|"
                r"kmemleak: Kernel memory leak detector initialized")
STAMP = re.compile(r"^\[\s*\d+\.\d+\]\s?")
SUITE = "kesync"

with open(log, errors="replace") as f:
    lines = [STAMP.sub("", ln.rstrip("\r\n")) for ln in f]

indent = None        # the case lines' indentation, once the suite started
plan = None
cases = []           # (ok, name, directive, notes)
notes = []           # diagnostics and reports since the last case line
outside = []         # kernel reports outside the suite
done = False
for ln in lines:
    if indent is None:
        m = re.match(r"^(\s*)# Subtest: (\S+)$", ln)
        if m and m.group(2) == SUITE:
            indent = m.group(1)
            continue
        if BAD.search(ln) and not OK.search(ln):
            outside.append(ln)
        continue
    if done:
        if BAD.search(ln) and not OK.search(ln):
            outside.append(ln)
        continue
    if plan is None:
        m = re.match("^" + indent + r"1\.\.(\d+)$", ln)
        if m:
            plan = int(m.group(1))
            continue
    m = re.match("^" + indent + r"(not ok|ok) \d+ (?:- )?([^#]*?)\s*(#.*)?$", ln)
    if m:
        ok = m.group(1) == "ok"
        bad = [n for n in notes if n[0] == "report"]
        cases.append((ok and not bad, m.group(2), m.group(3) or "", notes))
        notes = []
        continue
    # The suite's own result line, less indented: the suite is over.
    if re.match(r"^\s*(not ok|ok) \d+ (- )?" + SUITE + r"\b", ln) and \
            len(ln) - len(ln.lstrip()) < len(indent):
        done = True
        continue
    # A case's own lines (its failed expectations) are indented as the
    # case lines; kernel reports while it ran are attributed to it.
    if BAD.search(ln) and not OK.search(ln):
        notes.append(("report", ln))
    elif ln.startswith(indent) and ln.strip():
        notes.append(("diag", ln))

out = []
n = 0
nfail = 0


def result(ok, desc, comments=()):
    """One TAP line, numbered, with its comment lines."""
    global n, nfail
    n += 1
    nfail += 0 if ok else 1
    out.append("%s %d - kesync: %s" % ("ok" if ok else "not ok", n, desc))
    out.extend("# " + c for c in comments)


for ok, name, directive, ns in cases:
    result(ok, name + (" " + directive if directive else ""),
           [] if ok else [("kernel: " if kind == "report" else "") +
                          re.sub(r"^\s*(# )?", "", t) for kind, t in ns[:40]])
if indent is None:
    result(False, "the suite did not run (no '# Subtest: %s' in %s/test.log)"
           % (SUITE, bdir), lines[-40:])
else:
    for i in range(len(cases), plan or 0):
        result(False, "case %d of %d never reported (the kernel stopped: "
               "%s/test.log)" % (i + 1, plan, bdir))
    outside += [t for kind, t in notes if kind == "report"]
result(not outside, "kernel log clean (no lockdep, KASAN, list debugging, "
       "BUG or WARNING report)", outside[:40])
if kunit_rc != 0 and nfail == 0:
    result(False, "kunit.py exec exit status %d (log: %s/kunit-run.log)"
           % (kunit_rc, bdir))
print("TAP version 13")
print("# kunit.py: %s (%s)" % (took, bdir))
print("1..%d" % n)
print("\n".join(out))
sys.exit(1 if nfail else 0)
EOF

# SPDX-License-Identifier: GPL-2.0
"""The driver's interrupts-off figures (debugfs irqoff), for runner.py and
bench-report.py.

A line of the debugfs file is 'routine count mean_ns max_ns h0 .. h11';
the routine's name may hold spaces ("timer_tick (SynchCritSection_1)").
Bucket 0 of the histogram counts holds under 256 ns, bucket b holds under
256 << b ns, the last bucket everything longer (module/kesync-dev.h).
"""

BUCKETS = 12
BOUNDS = [256 << b for b in range(BUCKETS - 1)]


def parse_line(line):
    """(name, {"count", "total_ns", "max_ns", "hist"}) of one line of the
    file, or None for a header or a line that is not one."""
    toks = line.split()
    if not toks or line.startswith("#") or toks[0] == "routine":
        return None
    if len(toks) < BUCKETS + 4:
        return None
    try:
        hist = [int(x) for x in toks[-BUCKETS:]]
        cnt, mean_ns, max_ns = (int(x) for x in toks[-BUCKETS - 3:-BUCKETS])
    except ValueError:
        return None
    return " ".join(toks[:-BUCKETS - 3]), {
        "count": cnt, "total_ns": cnt * mean_ns, "max_ns": max_ns,
        "hist": hist}


def p99(st):
    """(p99_ns, open): the upper bound of the bucket holding the 99th
    percentile (the max when that is smaller); open is True when it is the
    last, open bucket (p99 is then at least its lower bound)."""
    hist = st["hist"]
    total = sum(hist)
    if not total:
        return None, False
    cum = 0
    for b, h in enumerate(hist):
        cum += h
        if cum >= 0.99 * total:
            break
    if b < len(BOUNDS):
        return min(BOUNDS[b], st["max_ns"]), False
    return BOUNDS[-1], True


def parse_text(text):
    """The whole debugfs file: {routine: figures with p99_ns}."""
    out = {}
    for line in text.splitlines():
        r = parse_line(line)
        if r:
            out[r[0]] = finish(r[1])
    return out


def finish(st):
    st = dict(st)
    st["mean_ns"] = st["total_ns"] // st["count"] if st["count"] else 0
    st["p99_ns"], st["p99_at_least"] = p99(st)
    return st


class Merger:
    """Adds up successive dumps of the cumulative file from one boot.  Each
    dump starts with the device's probe time ('# since N ns'): a new one
    means the device was probed again (module reload, rebind), so the
    figures dumped before are that binding's last and are kept."""

    def __init__(self):
        self.done = {}   # (dev, routine) -> figures of ended bindings
        self.last = {}   # (dev, routine) -> latest dump of this binding
        self.since = {}  # dev -> probe time of the latest dump

    def add(self, dev, line):
        toks = line.split()
        if toks[:2] == ["#", "since"] and len(toks) > 2:
            if self.since.get(dev) not in (None, toks[2]):
                for key in [k for k in self.last if k[0] == dev]:
                    self.done[key] = add(self.done.get(key),
                                         self.last.pop(key))
            self.since[dev] = toks[2]
            return
        r = parse_line(line)
        if r:
            self.last[(dev, r[0])] = r[1]

    def result(self):
        """{routine: figures} over all devices and loads."""
        out = {}
        for key in set(self.done) | set(self.last):
            st = add(self.done.get(key), self.last.get(key))
            out[key[1]] = add(out.get(key[1]), st)
        return {k: finish(v) for k, v in out.items() if v["count"]}


def add(a, b):
    if not a:
        return dict(b) if b else None
    if not b:
        return dict(a)
    return {"count": a["count"] + b["count"],
            "total_ns": a["total_ns"] + b["total_ns"],
            "max_ns": max(a["max_ns"], b["max_ns"]),
            "hist": [x + y for x, y in zip(a["hist"], b["hist"])]}


def fmt(st):
    """'max / p99' in microseconds."""
    return "%.1f / %s%.1f" % (st["max_ns"] / 1e3,
                              ">=" if st["p99_at_least"] else "<=",
                              (st["p99_ns"] or 0) / 1e3)

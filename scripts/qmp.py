#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""A tiny QMP client for host-driven test steps (device_del, qom-set, ...).

As a module:
    with QMP("/tmp/qmp.sock") as q:
        q.cmd("device_del", {"id": "kesync0"})
        q.wait_event("DEVICE_DELETED", 60)

From the shell:
    qmp.py SOCK '{"execute": "qom-get", "arguments": {...}}'
    qmp.py SOCK --event DEVICE_DELETED [--timeout 60]
"""
import json
import os
import socket
import sys
import time


class QMPError(Exception):
    pass


class QMP:
    """One QMP session on a unix socket (QEMU's -qmp unix:PATH,server=on)."""

    def __init__(self, path, connect_timeout=10.0):
        self.path = path
        self.events = []
        self.buf = b""
        end = time.monotonic() + connect_timeout
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.connect(path)
                break
            except OSError as e:
                self.sock.close()
                if time.monotonic() > end:
                    raise QMPError("cannot connect to %s: %s" % (path, e))
                time.sleep(0.1)
        greeting = self._read(connect_timeout)
        if "QMP" not in greeting:
            raise QMPError("not a QMP greeting: %r" % greeting)
        self.cmd("qmp_capabilities")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def _read(self, timeout):
        """The next JSON object from QEMU (a reply or an event)."""
        end = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = end - time.monotonic()
            if left <= 0:
                raise QMPError("no answer from QEMU within %.0f s" % timeout)
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                raise QMPError("QEMU closed the QMP socket")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def execute(self, obj, timeout=30.0):
        """Send a command object; return its reply ({"return": ...} or
        {"error": ...}); events seen meanwhile are kept."""
        self.sock.sendall(json.dumps(obj).encode() + b"\n")
        end = time.monotonic() + timeout
        while True:
            msg = self._read(max(0.1, end - time.monotonic()))
            if "event" in msg:
                self.events.append(msg)
                continue
            return msg

    def cmd(self, name, arguments=None, timeout=30.0):
        """Run a command; return its result or raise QMPError."""
        obj = {"execute": name}
        if arguments is not None:
            obj["arguments"] = arguments
        reply = self.execute(obj, timeout)
        if "error" in reply:
            raise QMPError("%s: %s" % (name, reply["error"].get("desc", reply)))
        return reply.get("return")

    def wait_event(self, name, timeout):
        """Wait for an event by name; return it, or None on timeout."""
        for i, ev in enumerate(self.events):
            if ev.get("event") == name:
                return self.events.pop(i)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                msg = self._read(end - time.monotonic())
            except QMPError as e:
                if "within" in str(e):
                    return None
                raise
            if msg.get("event") == name:
                return msg
            self.events.append(msg)
        return None


def main(argv):
    if len(argv) < 3 or argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if len(argv) > 1 else 2
    path = argv[1]
    if not os.path.exists(path):
        print("qmp.py: no socket %s" % path, file=sys.stderr)
        return 1
    with QMP(path) as q:
        if argv[2] == "--event":
            timeout = 60.0
            if "--timeout" in argv:
                timeout = float(argv[argv.index("--timeout") + 1])
            ev = q.wait_event(argv[3], timeout)
            print(json.dumps(ev))
            return 0 if ev else 1
        reply = q.execute(json.loads(argv[2]))
        print(json.dumps(reply))
        return 1 if "error" in reply else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

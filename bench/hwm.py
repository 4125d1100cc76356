#!/usr/bin/env python3
"""Memory of a busy mailnook: starts ./mailnook on 127.0.0.1, reads VmHWM
and VmRSS, delivers MESSAGES messages over SESSIONS concurrent smtplib
sessions, and reads them again.  Prints the figures; passes or fails
nothing.

    python3 bench/hwm.py [MESSAGES [SESSIONS [BYTES]]]     (default 1000 16 1024)
"""
import os
import smtplib
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
from mntest import Server, TOP, maildir_files  # noqa: E402
from mnops import proc_status  # noqa: E402


def status(pid):
    s = proc_status(pid)
    return {k: s[k] for k in ("VmHWM", "VmRSS", "VmSize")}


def run_workers(worker, per):
    """Runs worker(n) in one thread per entry of per; returns the seconds
    until all finished (each is given at most 600 s)."""
    t0 = time.time()
    threads = [threading.Thread(target=worker, args=(n,)) for n in per]
    for th in threads:
        th.start()
    for th in threads:
        th.join(600)
    return time.time() - t0


def main():
    messages = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    sessions = int(sys.argv[2]) if len(sys.argv) > 2 else 16
    size = int(sys.argv[3]) if len(sys.argv) > 3 else 1024
    binary = os.environ.get("MAILNOOK_BIN", os.path.join(TOP, "mailnook"))
    srv = Server(binary, ["domain=localhost", "mailbox=user@localhost,@DIR@/user",
                          "max-sessions=%d" % max(sessions, 1),
                          "max-sessions-per-ip=%d" % max(sessions, 1)]).start()
    pid = srv.proc.pid
    before = status(pid)
    body = ("Subject: load\r\n\r\n" + ("x" * 70 + "\r\n") * (size // 72 + 1))[:size] + "\r\n"
    errors = []
    per = [messages // sessions + (1 if i < messages % sessions else 0) for i in range(sessions)]

    def worker(n):
        try:
            with smtplib.SMTP("127.0.0.1", srv.port, timeout=60) as c:
                c.ehlo("load.test")
                for _ in range(n):
                    c.sendmail("load@remote.example", ["user@localhost"], body)
        except Exception as e:  # noqa: BLE001 -- report every failure
            errors.append(repr(e))

    elapsed = run_workers(worker, per)
    after = status(pid)
    stored = len(maildir_files(srv.maildir("user")))
    srv.stop()
    srv.cleanup()
    print("binary      %s" % binary)
    print("messages    %d over %d sessions, %d bytes each, %.1f s (%.0f msg/s)"
          % (messages, sessions, size, elapsed, messages / elapsed if elapsed else 0))
    print("stored      %d   errors %d %s" % (stored, len(errors), errors[:3]))
    print("start-up    VmHWM %s  VmRSS %s" % (before.get("VmHWM"), before.get("VmRSS")))
    print("after load  VmHWM %s  VmRSS %s" % (after.get("VmHWM"), after.get("VmRSS")))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""stats-file: Prometheus text format, written at start, every 10 s, on
SIGUSR1 and at shutdown, replaced atomically (FILE.tmp, then rename); the
counters match what was done: deliveries, refusals by reason, sessions,
failures, bytes, commit batches."""
import os
import re
import shutil
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mntest import Tap, Server, Raw, binaries, maildir_files  # noqa: E402
from mnops import parse_prom, read_text, usr1_until, transaction, code, features  # noqa: E402

t = Tap()
M = "mailnook_"


def wait_file(path, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        text = read_text(path)
        if text:
            return text
        time.sleep(0.05)
    return None


def stored_sizes(*dirs):
    """S= of every distinct message file in the new/ of dirs (a message
    linked into several Maildirs has the same name in each)."""
    sizes = {}
    for d in dirs:
        for name in maildir_files(d):
            m = re.search(r",S=(\d+),W=\d+$", name)
            if m:
                sizes[name] = int(m.group(1))
    return sum(sizes.values())


def delta(now, before, key):
    return now.get(key, 0) - before.get(key, 0)


for label, binary in binaries():
    if "stats" not in features(binary):
        t.skip(label + "stats-file", "built without CONFIG_STATS")
        continue
    srv = Server(binary, ["domain=localhost", "mailbox=user@localhost,@DIR@/user",
                          "mailbox=bob@localhost,@DIR@/bob", "mailbox=broken@localhost,@DIR@/broken",
                          "max-message-size=64k", "max-sessions=4", "max-sessions-per-ip=2",
                          "strict-crlf", "stats-file=@DIR@/stats/mailnook.prom"])
    sdir = os.path.join(srv.dir, "stats")
    path = os.path.join(sdir, "mailnook.prom")
    os.makedirs(sdir)
    t0 = time.time()
    srv.start()

    text = wait_file(path)
    t.ok(text is not None, label + "the stats file is written at start, without a signal")
    s0, errs = parse_prom(text or "")
    t.eq(errs, [], label + "  every line is valid Prometheus text format")
    for name in ("connections_accepted_total", "sessions_active", "recipients_accepted_total",
                 "messages_delivered_total", "stored_bytes_total", "storage_errors_total",
                 "commit_batches_total", "commit_batch_size_count", "start_time_seconds"):
        t.ok(M + name in s0, label + "  has " + M + name, sorted(s0))
    for fam, lab, vals in (("connections_refused_total", "reason", ("busy", "per_ip", "allow_from")),
                           ("recipients_refused_total", "reason", ("unknown", "relay", "nospace", "temp")),
                           ("messages_rejected_total", "reason", ("bare_lf", "bare_cr", "nul", "size", "loop")),
                           ("messages_failed_total", "reason", ("temp", "nospace", "perm", "aborted")),
                           ("tls_handshakes_total", "result", ("ok", "failed"))):
        t.ok(all('%s%s{%s="%s"}' % (M, fam, lab, v) in s0 for v in vals),
             label + "  %s{%s=%s} all present" % (fam, lab, "|".join(vals)))
    t.ok(abs(s0.get(M + "start_time_seconds", 0) - t0) < 120, label + "  start_time_seconds is the start")
    mode = os.stat(path).st_mode & 0o777
    t.eq(mode, 0o644, label + "  file mode 0644 (readable by a collector)")

    # a quiet start: the probe session of Server.start() has ended
    base, errs, _ = usr1_until(srv, path, lambda s: s.get(M + "sessions_active") == 0)
    t.eq(base.get(M + "sessions_active"), 0, label + "sessions_active 0 at rest")

    # deliveries and recipient refusals
    body = b"Subject: s\r\n\r\nstats test\r\n"
    r1 = transaction(srv.port, ["user@localhost"], body)
    r2 = transaction(srv.port, ["user@localhost", "bob@localhost", "nobody@localhost", "x@other.example"],
                     body + b"two mailboxes\r\n")
    r3 = transaction(srv.port, ["bob@localhost"], body)
    t.eq((r1[-1], r2[1:5], r2[-1], r3[-1]),
         ("250 2.0.0", ["250 2.1.5", "250 2.1.5", "550 5.1.1", "550 5.7.1"], "250 2.0.0", "250 2.0.0"),
         label + "three deliveries, an unknown user and a relay refused")
    # content refusals
    rej = [transaction(srv.port, ["user@localhost"], b"Subject: lf\r\n\r\nbare\nlf\r\n")[-1],
           transaction(srv.port, ["user@localhost"], b"Subject: nul\r\n\r\na\0b\r\n")[-1],
           transaction(srv.port, ["user@localhost"], b"Subject: big\r\n\r\n" + (b"y" * 998 + b"\r\n") * 70)[-1],
           transaction(srv.port, ["user@localhost"],
                       b"".join(b"Received: from h%d by x; Mon, 1 Jan 2024 00:00:00 +0000\r\n" % i
                                for i in range(101)) + b"Subject: loop\r\n\r\nloop\r\n")[-1]]
    t.eq(rej, ["550 5.6.0", "550 5.6.0", "552 5.3.4", "554 5.4.6"], label + "bare LF, NUL, size, loop refused")
    # a client that goes away in the middle of DATA
    c = Raw(srv.port)
    c.reply()
    c.cmd("EHLO gone.test")
    c.cmd("MAIL FROM:<a@remote.example>")
    c.cmd("RCPT TO:<user@localhost>")
    t.ok(code(c.cmd("DATA")).startswith("354"), label + "DATA for a client that goes away")
    c.send("Subject: half\r\n\r\nhalf a message")
    time.sleep(0.2)
    c.close()
    # a Maildir broken while running: tmp/ replaced by a file
    btmp = os.path.join(srv.maildir("broken"), "tmp")
    shutil.rmtree(btmp)
    open(btmp, "w").close()
    rb = transaction(srv.port, ["broken@localhost"], body)
    t.eq(rb[-1], "451 4.3.0", label + "broken Maildir: 451 4.3.0")
    os.unlink(btmp)
    os.mkdir(btmp, 0o700)

    # two sessions held, a third from the same IP refused (per-IP limit 2)
    a, b = Raw(srv.port), Raw(srv.port)
    a.reply(), b.reply()
    third = Raw(srv.port)
    t.eq(code(third.reply()), "421 4.3.2", label + "per-IP limit: 421 4.3.2")
    third.close()
    s, errs, _ = usr1_until(srv, path, lambda s: s.get(M + "sessions_active") == 2)
    t.eq(s.get(M + "sessions_active"), 2, label + "sessions_active 2 while two are open")
    a.cmd("QUIT"), b.cmd("QUIT")
    a.close(), b.close()

    want_delivered = base[M + "messages_delivered_total"] + 3
    s, errs, text = usr1_until(srv, path, lambda s: s.get(M + "sessions_active") == 0 and
                               s.get(M + "messages_delivered_total") == want_delivered and
                               delta(s, base, M + 'messages_failed_total{reason="aborted"}') == 1)
    t.eq(errs, [], label + "after the traffic: still valid Prometheus text")
    log = srv.log()
    sessions = len(re.findall(r"session ip=127\.0\.0\.1 .*result=(?!busy)", log))
    exp = {
        "connections_accepted_total": 3 + 4 + 1 + 1 + 2,
        'connections_refused_total{reason="per_ip"}': 1,
        'connections_refused_total{reason="busy"}': 0,
        'connections_refused_total{reason="allow_from"}': 0,
        "messages_delivered_total": 3,
        "recipients_accepted_total": 1 + 2 + 1 + 4 + 1 + 1,
        'recipients_refused_total{reason="unknown"}': 1,
        'recipients_refused_total{reason="relay"}': 1,
        'messages_rejected_total{reason="bare_lf"}': 1,
        'messages_rejected_total{reason="nul"}': 1,
        'messages_rejected_total{reason="size"}': 1,
        'messages_rejected_total{reason="loop"}': 1,
        'messages_rejected_total{reason="bare_cr"}': 0,
        'messages_failed_total{reason="aborted"}': 1,
        'messages_failed_total{reason="temp"}': 1,
        'messages_failed_total{reason="nospace"}': 0,
        "storage_errors_total": 1,
        "stored_bytes_total": stored_sizes(srv.maildir("user"), srv.maildir("bob")),
        "commit_batch_size_sum": 3,
    }
    for k, v in exp.items():
        t.eq(delta(s, base, M + k), v, label + "counter " + k)
    t.eq(s.get(M + "connections_accepted_total"), sessions,
         label + "connections_accepted_total matches the session log lines")
    t.eq(s.get(M + "commit_batches_total"), s.get(M + "commit_batch_size_count"),
         label + "commit_batches_total is the histogram's count")
    cum = [v for k, v in sorted(((k, v) for k, v in s.items() if k.startswith(M + "commit_batch_size_bucket")),
                                key=lambda kv: float(re.search(r'le="([^"]+)"', kv[0]).group(1)))]
    t.ok(cum == sorted(cum) and cum and cum[-1] == s.get(M + "commit_batch_size_count"),
         label + "histogram buckets are cumulative, +Inf is the count", cum)

    # atomic replacement: a reader never sees a partial file, while SIGUSR1
    # rewrites it as fast as it can
    bad, reads, inodes = [], [0], set()
    stop = threading.Event()

    def reader():
        while not stop.is_set():
            try:
                with open(path) as f:
                    inodes.add(os.fstat(f.fileno()).st_ino)
                    x = f.read()
            except FileNotFoundError:
                bad.append("missing")
                continue
            reads[0] += 1
            if not x.endswith("\n") or M + "commit_batch_size_count" not in x or parse_prom(x)[1]:
                bad.append(x[-200:])

    th = threading.Thread(target=reader)
    th.start()
    for i in range(300):
        srv.signal(signal.SIGUSR1)
        time.sleep(0.005)
    time.sleep(0.2)
    stop.set()
    th.join(10)
    t.eq(bad[:3], [], label + "%d reads during 300 rewrites: never partial, never missing" % reads[0])
    t.ok(len(inodes) > 1, label + "the file is replaced (new inode), not rewritten in place")
    t.eq(sorted(os.listdir(sdir)), ["mailnook.prom"], label + "no temporary file left behind")

    # a write that fails (the name is taken by a directory): logged, no
    # FILE.tmp left, the server goes on, and the next write works
    os.unlink(path)
    os.mkdir(path)
    srv.signal(signal.SIGUSR1)
    deadline = time.time() + 10
    while "cannot write" not in srv.log() and time.time() < deadline:
        time.sleep(0.05)
    t.like(srv.log(), r"stats-file \S+mailnook\.prom: cannot write", label + "failed write logged")
    t.eq(sorted(os.listdir(sdir)), ["mailnook.prom"], label + "  and no FILE.tmp left")
    t.eq(transaction(srv.port, ["user@localhost"], body)[-1], "250 2.0.0", label + "  the server goes on")
    os.rmdir(path)
    s, errs, _ = usr1_until(srv, path, lambda s: s.get(M + "messages_delivered_total") == want_delivered + 1)
    t.eq(s.get(M + "messages_delivered_total"), want_delivered + 1, label + "  the next write works")
    t.ok("written again" in srv.log(), label + "  and says so")

    # every 10 s without a signal
    r = transaction(srv.port, ["bob@localhost"], body)
    deadline = time.time() + 25
    s = {}
    while time.time() < deadline:
        s = parse_prom(read_text(path) or "")[0]
        if s.get(M + "messages_delivered_total") == want_delivered + 2:
            break
        time.sleep(0.2)
    t.eq(s.get(M + "messages_delivered_total"), want_delivered + 2,
         label + "rewritten within the 10 s interval without a signal")

    # once more at shutdown
    c = Raw(srv.port)
    c.reply()
    t.eq(transaction(srv.port, ["bob@localhost"], body)[-1], "250 2.0.0", label + "one more delivery")
    t.eq(srv.stop(), 0, label + "SIGTERM: exit 0")
    c.close()
    s, errs = parse_prom(read_text(path) or "")
    t.eq((s.get(M + "messages_delivered_total"), s.get(M + "sessions_active"), errs),
         (want_delivered + 3, 0, []), label + "written at shutdown with the final counts")
    t.eq(sorted(os.listdir(sdir)), ["mailnook.prom"], label + "no temporary file left at exit")
    srv.check_sanitizer(t, label)
    srv.cleanup()

    # busy (max-sessions) and allow-from refusals
    srv = Server(binary, ["domain=localhost", "mailbox=user@localhost,@DIR@/user", "max-sessions=1",
                          "allow-from=10.0.0.0/8", "stats-file=@DIR@/s.prom"]).start()
    path = os.path.join(srv.dir, "s.prom")
    base, errs, _ = usr1_until(srv, path, lambda s: s.get(M + "sessions_active") == 0)
    a = Raw(srv.port)
    t.eq(code(a.reply()), "554 5.7.1", label + "allow-from refuses: 554 5.7.1")
    b = Raw(srv.port)
    t.eq(code(b.reply()), "421 4.3.2", label + "max-sessions=1: the second gets 421 4.3.2")
    b.close()
    a.cmd("QUIT")
    a.close()
    s, errs, _ = usr1_until(srv, path, lambda s: s.get(M + "sessions_active") == 0 and
                            delta(s, base, M + 'connections_refused_total{reason="busy"}') == 1)
    t.eq((delta(s, base, M + 'connections_refused_total{reason="allow_from"}'),
          delta(s, base, M + 'connections_refused_total{reason="busy"}'),
          delta(s, base, M + "connections_accepted_total")), (1, 1, 0),
         label + "refused: allow_from 1, busy 1; accepted 0")
    t.eq(srv.stop(), 0, label + "exit 0")
    srv.check_sanitizer(t, label)
    srv.cleanup()

t.done()

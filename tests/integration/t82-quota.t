#!/usr/bin/env python3
"""Mailbox limits (contract section 9): quota=, rotate=, expire=.

- RCPT to a mailbox at its quota: 452 4.2.2, while another mailbox's
  recipient in the same transaction is accepted and gets the message;
- a message that would take a mailbox over its quota: 452 4.2.2 at the end
  of data and no recipient has it (not the other mailbox's either);
- maildirsize agrees with the files (sum of S= and count) after deliveries;
- rotate=: the oldest datable message goes (across new/, cur/ and a
  folder), the rest stay, each deletion logged; a message larger than the
  quota is refused even so, and nothing is deleted for it;
- expire=: at start-up, old datable messages go, from folders too; nothing
  else (folders, dovecot* files, undatable names, newer mail);
- the stats file and `-t` report the usage;
- kill -9 while deliveries (and rotations) run: after the restart's
  recalculation maildirsize matches the files, and every message answered
  250 is there.
"""
import os
import random
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mntest import Tap, Server, Raw, binaries, maildir_files  # noqa: E402
from mnops import maildir_usage, read_maildirsize  # noqa: E402

t = Tap()
DAY = 86400


def put(path, size, mtime=None):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(b"x" * size)
    if mtime:
        os.utime(path, (mtime, mtime))


def prepare(md):
    for sub in ("tmp", "new", "cur"):
        os.makedirs(os.path.join(md, sub), exist_ok=True)


def wait_log(srv, regex, timeout=15, start=0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        m = re.search(regex, srv.log()[start:])
        if m:
            return m
        time.sleep(0.05)
    return None


def message(tag, size):
    body = ("Subject: %s\r\n\r\n" % tag) + ("y" * 76 + "\r\n") * (size // 78)
    return body


def send(port, rcpts, body):
    """[replies to each RCPT], reply to the end of data (None when no
    RCPT was accepted)."""
    c = Raw(port)
    c.reply()
    c.cmd("EHLO test")
    c.cmd("MAIL FROM:<s@test>")
    rr = [c.cmd("RCPT TO:<%s>" % r) for r in rcpts]
    end = None
    if any(r.startswith("250") for r in rr):
        if c.cmd("DATA").startswith("354"):
            c.send(body.replace("\r\n.", "\r\n..") + "\r\n.\r\n")
            end = c.reply(30)
    c.cmd("QUIT")
    c.close()
    return rr, end


def files(md):
    out = []
    for root, _dirs, names in os.walk(md):
        for n in names:
            out.append(os.path.relpath(os.path.join(root, n), md))
    return sorted(out)


for label, binary in binaries():
    v = subprocess.run([binary, "-V"], stdout=subprocess.PIPE, timeout=30).stdout.decode()
    if not re.search(r"^features:.* quota\b", v, re.M):
        t.skip(label + "mailbox limits", "this build has no CONFIG_QUOTA")
        continue
    now = int(time.time())
    srv = Server(binary, [
        "domain=example.org",
        "mailbox=full@example.org,@DIR@/full",
        "mailbox=b@example.org,@DIR@/b",
        "mailbox=c@example.org,@DIR@/c",
        "mailbox=r@example.org,@DIR@/r",
        "mailbox=x@example.org,@DIR@/x",
        "quota=full@example.org,1000",
        "quota=b@example.org,3000,10",
        "quota=r@example.org,3000",
        "rotate=r@example.org",
        "expire=x@example.org,2",
        "stats-file=@DIR@/stats",
    ])
    D = srv.dir
    full, b, c, r, x = (os.path.join(D, n) for n in ("full", "b", "c", "r", "x"))
    for md in (full, b, c, r, x):
        prepare(md)
    put(full + "/cur/1600000000.M1P1.h,S=1200:2,S", 1200)
    # r: 2710 bytes; the oldest is in a folder's cur/
    put(r + "/.Sub/cur/1500000000.M1P1.h,S=900:2,S", 900)
    put(r + "/new/1500000100.M1P1.h,S=900", 900)
    put(r + "/cur/1500000200.M1P1.h,S=900:2,", 900)
    put(r + "/new/nodate,S=10", 10)
    put(r + "/dovecot-uidlist", 50)
    put(r + "/dovecot.index", 50)
    # x: expire=2 days
    put(x + "/new/%d.M1P1.h,S=5" % (now - 10 * DAY), 5)
    put(x + "/cur/%d.M2P1.h,S=5:2,S" % (now - 5 * DAY), 5)
    put(x + "/.Old/cur/%d.M3P1.h,S=5:2,S" % (now - 30 * DAY), 5)
    put(x + "/new/%d.M4P1.h,S=5" % (now - 1 * DAY), 5)
    put(x + "/new/nodate", 5, now - 100 * DAY)
    put(x + "/cur/dovecot-keywords", 5, now - 100 * DAY)
    put(x + "/dovecot-uidlist", 5, now - 100 * DAY)
    put(x + "/tmp/%d.M5P1.h" % (now - 10 * DAY), 5, now - 1000)

    # -t: configuration OK and each quota'd mailbox's usage
    p = subprocess.run([binary, "-t", "-c", srv.conf], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=30)
    out = p.stdout.decode()
    t.eq(p.returncode, 0, label + "-t exits 0")
    t.like(out, r"quota full@example.org: 1200 of 1000 bytes", label + "-t prints full@'s usage")
    t.like(out, r"quota r@example.org: 2710 of 3000 bytes, 4 of 0 messages",
           label + "-t prints r@'s usage (folders and undatable names count)")

    srv.start()
    for who in ("full", "b", "r"):
        t.ok(wait_log(srv, r"quota %s@example.org: \d+ bytes, \d+ messages \(recalculated\)" % who),
             label + "start-up recalculation of %s@ logged" % who, srv.log()[-2000:])
    t.ok(wait_log(srv, r"rotate=deleted file=\S+/\.Old/cur/\S+ size=\d+ reason=expire"), label + "expiry reached the folder", srv.log()[-2000:])
    time.sleep(0.3)

    # ---- expiry at start-up
    left = files(x)
    t.eq(left, sorted(["cur/dovecot-keywords", "dovecot-uidlist", "new/%d.M4P1.h,S=5" % (now - DAY),
                       "new/nodate", "tmp/%d.M5P1.h" % (now - 10 * DAY)]),
         label + "expire: old datable messages gone (inbox, folder); the rest kept")
    t.ok(os.path.isdir(x + "/.Old/cur"), label + "expire: the folder itself stays")
    t.eq(len(re.findall(r"rotate=deleted file=\S+ size=\d+ reason=expire", srv.log())), 3, label + "expire: each deletion logged")

    # ---- RCPT at quota; a mixed transaction
    rr, end = send(srv.port, ["full@example.org", "c@example.org"], message("mixed", 300))
    t.like(rr[0], r"^452 4\.2\.2 ", label + "RCPT to a full mailbox: 452 4.2.2")
    t.like(rr[1], r"^250 ", label + "another mailbox's RCPT in the same transaction: 250")
    t.like(end, r"^250 ", label + "the mixed transaction is delivered")
    t.eq(len(maildir_files(c)), 1, label + "c@ has it")
    t.eq(len(maildir_files(full)), 0, label + "full@ has nothing new")

    # ---- end of data over the quota
    rr, end = send(srv.port, ["b@example.org"], message("first", 1500))
    t.like(end, r"^250 ", label + "b@: a message under the quota is delivered")
    rr, end = send(srv.port, ["b@example.org", "c@example.org"], message("second", 1500))
    t.eq([x_[:3] for x_ in rr], ["250", "250"], label + "b@ not full yet: RCPT accepted")
    t.like(end, r"^452 4\.2\.2", label + "a message taking b@ over its quota: 452 4.2.2 at the end of data")
    t.eq(len(maildir_files(b)), 1, label + "  b@ does not have it")
    t.eq(len(maildir_files(c)), 1, label + "  nor c@ (no recipient has it)")
    t.like(srv.log(), r"result=failed reason=quota", label + "  logged reason=quota")
    t.eq(read_maildirsize(b)[1], maildir_usage(b), label + "b@'s maildirsize agrees with the files")
    t.like(open(b + "/maildirsize").read(), r"^3000S,10C\n", label + "maildirsize header: 3000S,10C")

    # ---- rotation
    before = files(r)
    rr, end = send(srv.port, ["r@example.org"], message("rotated-in", 800))
    t.like(end, r"^250 ", label + "rotate: the message is delivered")
    after = files(r)
    t.ok(".Sub/cur/1500000000.M1P1.h,S=900:2,S" not in after, label + "rotate: the oldest (in a folder) is gone")
    for keep in ("new/1500000100.M1P1.h,S=900", "cur/1500000200.M1P1.h,S=900:2,", "new/nodate,S=10",
                 "dovecot-uidlist", "dovecot.index"):
        t.ok(keep in after, label + "rotate: kept " + keep)
    t.ok(os.path.isdir(r + "/.Sub/cur"), label + "rotate: the folder stays")
    t.eq(len(after), len(before), label + "rotate: one out, one in")
    t.like(srv.log(), r"rotate=deleted file=\S+/r/\.Sub/cur/1500000000\.M1P1\.h,S=900:2,S",
           label + "rotate: the deletion is logged")
    t.eq(read_maildirsize(r)[1], maildir_usage(r), label + "rotate: maildirsize agrees with the files")
    ub, _ = maildir_usage(r)
    t.ok(ub <= 3000, label + "rotate: within the quota (%d bytes)" % ub)

    before = files(r)
    rr, end = send(srv.port, ["r@example.org"], message("huge", 4000))
    t.like(end, r"^452 4\.2\.2", label + "rotate: a message larger than the quota is still refused")
    t.eq(files(r), before, label + "  and nothing is deleted for it")

    # ---- stats
    srv.signal(signal.SIGUSR1)
    time.sleep(0.5)
    st = open(os.path.join(D, "stats")).read()
    bb, bc = maildir_usage(b)
    t.like(st, r'mailnook_mailbox_bytes\{mailbox="b@example.org"\} %d\n' % bb, label + "stats: mailbox_bytes of b@")
    t.like(st, r'mailnook_mailbox_messages\{mailbox="b@example.org"\} %d\n' % bc, label + "stats: mailbox_messages of b@")
    t.ok('mailbox="c@example.org"' not in st, label + "stats: no usage for a mailbox without quota")
    t.like(st, r"mailnook_rotated_total 1\n", label + "stats: rotated_total 1")
    t.like(st, r"mailnook_expired_total 3\n", label + "stats: expired_total 3")
    t.like(st, r'mailnook_recipients_refused_total\{reason="full"\} 1\n', label + "stats: one RCPT refused full")
    t.eq(srv.stop(), 0, label + "stops cleanly")
    srv.check_sanitizer(t, label)

    # ---- kill -9 while delivering and rotating
    srv2 = Server(binary, [
        "domain=example.org",
        "mailbox=k@example.org,@DIR@/k",
        "mailbox=kr@example.org,@DIR@/kr",
        "quota=k@example.org,100M",
        "quota=kr@example.org,20000",
        "rotate=kr@example.org",
    ])
    k, kr = srv2.maildir("k"), srv2.maildir("kr")
    acked = []
    rnd = random.Random(82)
    for rnd_i in range(3):
        start = len(srv2.log())
        srv2.start()
        wait_log(srv2, r"quota kr@example.org: .*recalculated", start=start)
        deadline = time.time() + 0.3 + rnd.random() * 0.7
        i = 0
        try:
            while time.time() < deadline:
                tag = "k%d-%d" % (rnd_i, i)
                rr, end = send(srv2.port, ["k@example.org", "kr@example.org"], message(tag, 2000))
                if end and end.startswith("250"):
                    acked.append(tag)
                i += 1
            # the kill lands in the middle of a transaction's commit or
            # rotation as often as the timing allows
            cl = Raw(srv2.port)
            cl.reply()
            cl.send("EHLO t\r\nMAIL FROM:<s@test>\r\nRCPT TO:<k@example.org>\r\nRCPT TO:<kr@example.org>\r\n"
                    "DATA\r\n")
            cl.replies(5)
            cl.send(message("dying", 2000) + "\r\n.\r\n")
            time.sleep(rnd.random() * 0.003)
        except (OSError, EOFError):
            pass
        srv2.proc.send_signal(signal.SIGKILL)
        srv2.proc.wait(10)
        srv2.proc = None
        srv2.logf.close()
    start = len(srv2.log())
    srv2.start()
    ok = wait_log(srv2, r"quota k@example.org: .*recalculated", start=start) and \
        wait_log(srv2, r"quota kr@example.org: .*recalculated", start=start)
    t.ok(ok, label + "kill -9: the restart recalculates", srv2.log()[-2000:])
    t.eq(read_maildirsize(k)[1], maildir_usage(k), label + "kill -9: k@'s maildirsize agrees with the files")
    t.eq(read_maildirsize(kr)[1], maildir_usage(kr), label + "kill -9: kr@'s (rotating) maildirsize agrees with the files")
    t.ok(maildir_usage(kr)[0] <= 20000, label + "kill -9: kr@ within its quota")
    have = set()
    for sub in ("new", "cur"):
        for n in maildir_files(k, sub):
            m = re.search(rb"Subject: (\S+)", open(os.path.join(k, sub, n), "rb").read())
            if m:
                have.add(m.group(1).decode())
    lost = [a for a in acked if a not in have]
    t.ok(acked and not lost, label + "kill -9: every message answered 250 is in k@ (%d)" % len(acked), lost)
    t.ok(re.search(r"rotate=deleted", srv2.log()), label + "kill -9: kr@ rotated meanwhile")
    t.eq(srv2.stop(), 0, label + "stops cleanly after the kills")
    srv2.check_sanitizer(t, label)
    srv2.cleanup()
    srv.cleanup()

t.done()

#!/usr/bin/env python3
"""mailnook's quota and Dovecot's quota plugin (maildir backend, the same
limits) agree on a mailbox's usage while both change it (contract section
9, issue 14): the real server delivers over SMTP; Dovecot's own imap,
preauthenticated over a pipe as an unprivileged account (nobody, with
mailnook running as user=nobody too, when we are root), reads the same
Maildir.

- after deliveries, Dovecot's GETQUOTAROOT (STORAGE in KiB rounded up,
  MESSAGE exact) equals mailnook's stats (mailnook_mailbox_bytes and
  _messages, written on SIGUSR1), maildirsize's sums and the files' S=;
- Dovecot deletes mail (STORE \\Deleted, EXPUNGE: its "-BYTES -COUNT" line
  goes into maildirsize): all of them agree again -- the stats too, before
  any RCPT has looked at the file again -- and again after mailnook's next
  deliveries;
- Dovecot adds mail (APPEND, COPY into a folder) and rewrites maildirsize
  from scratch; mailnook counts it and appends to Dovecot's file;
- maildirsize at the 5120 bytes both readers rebuild at;
- filled up to the limit, one message at a time: mailnook's RCPT answers
  452 4.2.2 exactly when Dovecot's usage says full (messages limit; bytes
  limit filled to the byte), and a message that would go over is refused
  at the end of data while Dovecot still says there is room;
- rotate=: mailnook deletes the oldest message to make room, and Dovecot
  (whose index still had it) agrees on the usage after, lists the rest,
  deletes one more, and both agree once more;
- Dovecot logs no error or warning.
"""
import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mntest import Tap, Server, Raw, binaries  # noqa: E402
from mnops import maildir_usage, read_maildirsize  # noqa: E402
import mndovecot  # noqa: E402

t = Tap()

Q_BYTES, Q_MSGS = 20480, 6      # q@: the messages limit is reached first
S_BYTES = 8192                  # s@: bytes only, filled to the byte
ROOM = 1500                     # s@: what is left before the last one
R_BYTES = 4000                  # r@: rotate=, room for three


def body(tag, size):
    """A message of about size bytes (LF line ends), CRLF on the wire."""
    text = "Subject: %s\n\n" % tag
    line = "z" * 60 + "\n"
    while len(text) + len(line) < size:
        text += line
    text += "e" * max(0, size - len(text) - 1) + "\n"
    return text


def send(port, rcpt, text):
    """(RCPT reply, end-of-data reply or None)."""
    c = Raw(port, timeout=15)
    try:
        c.reply()
        c.cmd("EHLO dove.test")
        c.cmd("MAIL FROM:<s@dove.test>")
        rr = c.cmd("RCPT TO:<%s>" % rcpt)
        end = None
        if rr.startswith("250") and c.cmd("DATA").startswith("354"):
            c.send(text.replace("\n", "\r\n") + ".\r\n")
            end = c.reply(15)
        c.cmd("QUIT")
    finally:
        c.close()
    return rr, end


class Side:
    """One mailbox as mailnook and Dovecot see it."""

    def __init__(self, srv, acct, name, rule):
        self.srv, self.acct, self.name = srv, acct, name
        self.addr = name + "@localhost"
        self.md = os.path.join(srv.dir, "mail", name)
        self.home = os.path.join(srv.dir, "dovecot-" + name)
        os.mkdir(self.home)
        self.conf = mndovecot.write_conf(
            self.home, self.md,
            "mail_plugins = quota\n"
            "protocol imap {\n  mail_plugins = $mail_plugins imap_quota\n}\n"
            "plugin {\n  quota = maildir:User quota\n  quota_rule = *:%s\n}\n" % rule)
        mndovecot.chown_tree(self.home, acct)

    def imap(self, *cmds):
        tagged = [(b"t%d" % i, c.encode()) for i, c in enumerate(cmds + ("LOGOUT",))]
        out, _ = mndovecot.session(self.home, self.conf, self.acct, tagged)
        return out.decode("utf-8", "replace")

    def dovecot(self, out=None):
        """Dovecot's {"STORAGE": (used KiB, limit KiB), "MESSAGE": (used,
        limit)} from GETQUOTAROOT (one session unless out is given)."""
        if out is None:
            out = self.imap("GETQUOTAROOT INBOX")
        m = re.search(r'\* QUOTA "User quota" \(([^)]*)\)', out)
        if not m:
            return {"reply": out[-600:]}
        words = m.group(1).split()
        return {words[i]: (int(words[i + 1]), int(words[i + 2])) for i in range(0, len(words), 3)}

    def stats(self):
        """mailnook's (bytes, messages) for the mailbox: its stats file,
        written anew on SIGUSR1."""
        path = os.path.join(self.srv.dir, "mail", "stats")
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        self.srv.signal(signal.SIGUSR1)
        deadline = time.time() + 10
        rx = re.compile(r'mailnook_mailbox_(bytes|messages)\{mailbox="%s"\} (\d+)\n' % re.escape(self.addr))
        while time.time() < deadline:
            try:
                got = dict(rx.findall(open(path).read()))
                if len(got) == 2:
                    return int(got["bytes"]), int(got["messages"])
            except FileNotFoundError:
                pass
            time.sleep(0.05)
        return None


def agree(label, side, out=None):
    """Dovecot, mailnook's stats, maildirsize and the files: one usage."""
    files = maildir_usage(side.md)
    _, sums = read_maildirsize(side.md)
    st = side.stats()
    dv = side.dovecot(out)
    t.eq(sums, files, label + ": maildirsize's sums are the files' usage")
    t.eq(st, files, label + ": mailnook's stats are the files' usage")
    # Dovecot reports only the resources it has a limit for
    want = {"STORAGE": (files[0] + 1023) // 1024, "MESSAGE": files[1]}
    want = {k: v for k, v in want.items() if k == "STORAGE" or k in dv}
    got = {k: dv[k][0] for k in want if k in dv}
    t.eq(got, want, label + ": Dovecot's GETQUOTAROOT says the same (%d bytes, %d messages)" % files)
    return dv


def full(dv):
    """Dovecot's usage at its limit.  STORAGE is in KiB rounded up: the
    tests keep byte usage out of the last KiB below the limit, where it
    would say full too early."""
    return any(used >= lim > 0 for used, lim in (dv.get("STORAGE", (0, 0)), dv.get("MESSAGE", (0, 0))))


def stored_size(srv, reply):
    """The size mailnook logged for the delivery its 250 reply names."""
    m = re.search(r"delivered as (\S+)", reply or "")
    if not m:
        return None
    deadline = time.time() + 5
    while time.time() < deadline:
        s = re.search(r"id=%s result=delivered size=(\d+)" % re.escape(m.group(1)), srv.log())
        if s:
            return int(s.group(1))
        time.sleep(0.05)
    return None


def run(label, binary, acct):
    lines = ["domain=localhost",
             "mailbox=q@localhost,@DIR@/mail/q",
             "mailbox=s@localhost,@DIR@/mail/s",
             "mailbox=r@localhost,@DIR@/mail/r",
             "quota=q@localhost,%d,%d" % (Q_BYTES, Q_MSGS),
             "quota=s@localhost,%d" % S_BYTES,
             "quota=r@localhost,%d" % R_BYTES,
             "rotate=r@localhost",
             "stats-file=@DIR@/mail/stats"]
    if acct[0] is not None:
        lines.append("user=" + acct[2])
    srv = Server(binary, lines)
    try:
        os.mkdir(os.path.join(srv.dir, "mail"), 0o700)
        mndovecot.chown_tree(os.path.join(srv.dir, "mail"), acct)
        os.chmod(srv.dir, 0o711)        # so the account reaches its files
        q = Side(srv, acct, "q", "storage=%dB:messages=%d" % (Q_BYTES, Q_MSGS))
        s = Side(srv, acct, "s", "storage=%dB" % S_BYTES)
        r = Side(srv, acct, "r", "storage=%dB" % R_BYTES)
        srv.start()
        deadline = time.time() + 10
        while time.time() < deadline and len(re.findall(r"\(recalculated\)", srv.log())) < 3:
            time.sleep(0.05)

        # ---- q@: deliver, Dovecot agrees; Dovecot deletes, all agree;
        # deliver again, all agree
        for i in range(4):
            rr, end = send(srv.port, q.addr, body("q%d" % i, 1500 + 500 * i))
            t.like(end, r"^250 ", label + "q@: message %d delivered" % i)
        head, _ = read_maildirsize(q.md)
        t.eq(head, "%dS,%dC" % (Q_BYTES, Q_MSGS), label + "q@: maildirsize has the configured limits")
        dv = agree(label + "q@ after 4 deliveries", q)
        t.eq((dv.get("STORAGE", (0, 0))[1], dv.get("MESSAGE", (0, 0))[1]), (Q_BYTES // 1024, Q_MSGS),
             label + "q@: Dovecot's limits are the same")

        out = q.imap("SELECT INBOX", "STORE 1:2 +FLAGS.SILENT (\\Deleted)", "EXPUNGE",
                     "GETQUOTAROOT INBOX")
        t.eq(len(re.findall(r"\* \d+ EXPUNGE", out)), 2, label + "q@: Dovecot expunged two messages")
        text = open(os.path.join(q.md, "maildirsize")).read()
        t.like(text, r"\n-\d+ -2\n$", label + "q@: Dovecot appended its deletion to maildirsize")
        agree(label + "q@ after Dovecot's EXPUNGE", q, out)

        for i in range(2):
            rr, end = send(srv.port, q.addr, body("q-again%d" % i, 1200))
            t.like(end, r"^250 ", label + "q@: delivered again (%d)" % i)
        t.ok(open(os.path.join(q.md, "maildirsize")).read().startswith(text),
             label + "q@: mailnook appended to Dovecot's lines (no rebuild)")
        agree(label + "q@ after delivering again", q)

        # ---- q@ up to the messages limit: RCPT 452 exactly when Dovecot
        # says full
        seen = []
        for i in range(Q_MSGS + 2):
            dv = q.dovecot()
            rr, end = send(srv.port, q.addr, body("fill%d" % i, 800))
            seen.append((full(dv), rr[:9]))
            if rr.startswith("452"):
                break
            t.like(end, r"^250 ", label + "q@: fill %d delivered" % i)
        t.ok(all(f == rr.startswith("452 4.2.2") for f, rr in seen) and seen[-1][0],
             label + "q@: RCPT 452 4.2.2 exactly when Dovecot says full (%d steps)" % len(seen), seen)
        dv = agree(label + "q@ full", q)
        t.eq(dv.get("MESSAGE"), (Q_MSGS, Q_MSGS), label + "q@: full by its messages limit")

        # Dovecot makes room; mailnook takes one more, then refuses again
        out = q.imap("SELECT INBOX", "STORE 1 +FLAGS.SILENT (\\Deleted)", "EXPUNGE",
                     "GETQUOTAROOT INBOX")
        t.ok(not full(q.dovecot(out)), label + "q@: Dovecot expunged one: not full")
        rr, end = send(srv.port, q.addr, body("room", 800))
        t.like(end, r"^250 ", label + "q@: mailnook delivers into the room Dovecot made")
        rr, end = send(srv.port, q.addr, body("over", 800))
        t.like(rr, r"^452 4\.2\.2 ", label + "q@: full again: RCPT 452 4.2.2")
        t.ok(full(agree(label + "q@ full again", q)), label + "q@: Dovecot says full")

        # maildirsize gone: Dovecot recalculates and writes it first;
        # mailnook takes Dovecot's file as it is and appends to it
        os.unlink(os.path.join(q.md, "maildirsize"))
        out = q.imap("SELECT INBOX", "STORE 1 +FLAGS.SILENT (\\Deleted)", "EXPUNGE",
                     "GETQUOTAROOT INBOX")
        dv = q.dovecot(out)
        text = open(os.path.join(q.md, "maildirsize")).read()
        t.eq(text, "%dS,%dC\n%d %d\n" % ((Q_BYTES, Q_MSGS) + maildir_usage(q.md)),
             label + "q@: Dovecot wrote maildirsize anew: its limits, one usage line")
        t.ok(not full(dv), label + "q@: Dovecot expunged one more: not full")
        agree(label + "q@ with Dovecot's maildirsize", q, out)
        rr, end = send(srv.port, q.addr, body("into-dovecots", 800))
        t.like(end, r"^250 ", label + "q@: delivered into the room")
        t.ok(open(os.path.join(q.md, "maildirsize")).read().startswith(text),
             label + "q@: mailnook appended to Dovecot's file (no rebuild)")
        t.ok(full(agree(label + "q@ after appending to Dovecot's file", q)),
             label + "q@: both say full")
        rr, end = send(srv.port, q.addr, body("over2", 800))
        t.like(rr, r"^452 4\.2\.2 ", label + "q@: RCPT 452 4.2.2 again")

        # ---- s@: bytes only, filled to the byte
        rr, end = send(srv.port, s.addr, body("s0", 3000))
        size = stored_size(srv, end)
        t.ok(size, label + "s@: first message delivered (%s bytes)" % size)
        size = size or 3000
        overhead = size - len(body("s0", 3000))
        rest = S_BYTES - maildir_usage(s.md)[0] - ROOM
        rr, end = send(srv.port, s.addr, body("s1", rest - overhead))
        t.like(end, r"^250 ", label + "s@: delivered up to %d bytes under the limit" % ROOM)
        dv = agree(label + "s@ %d bytes under" % ROOM, s)
        t.ok(not full(dv), label + "s@: Dovecot says not full", dv)
        rr, end = send(srv.port, s.addr, body("s-over", ROOM + 1 - overhead))
        t.like(rr, r"^250 ", label + "s@: not full: RCPT 250")
        t.like(end, r"^452 4\.2\.2 ", label + "s@: 1 byte too many: 452 4.2.2 at the end of data")
        dv = agree(label + "s@ after the refusal", s)
        t.ok(not full(dv), label + "s@: Dovecot still says not full")
        rr, end = send(srv.port, s.addr, body("s-exact", ROOM - overhead))
        t.like(end, r"^250 ", label + "s@: exactly the room left: delivered")
        t.eq(maildir_usage(s.md)[0], S_BYTES, label + "s@: at the limit to the byte")
        dv = agree(label + "s@ at the limit", s)
        t.ok(full(dv), label + "s@: Dovecot says full (%s)" % (dv.get("STORAGE"),))
        rr, end = send(srv.port, s.addr, body("s-full", 100))
        t.like(rr, r"^452 4\.2\.2 ", label + "s@: full: RCPT 452 4.2.2")
        out = s.imap("SELECT INBOX", "STORE 1 +FLAGS.SILENT (\\Deleted)", "EXPUNGE",
                     "GETQUOTAROOT INBOX")
        t.ok(not full(agree(label + "s@ after Dovecot's EXPUNGE", s, out)),
             label + "s@: Dovecot expunged one: not full")
        rr, end = send(srv.port, s.addr, body("s-after", 100))
        t.like(end, r"^250 ", label + "s@: RCPT and delivery accepted again")

        # Dovecot adds mail too (APPEND and COPY, of the smallest, into a
        # folder): mailnook counts Dovecot's lines and the folder; up to
        # the limit again
        ap = "Subject: appended\r\n\r\n" + ("a" * 70 + "\r\n") * 8
        out = s.imap("CREATE Pics", "APPEND Pics {%d+}\r\n%s" % (len(ap), ap), "SELECT INBOX",
                     "COPY 3 Pics", "GETQUOTAROOT INBOX")
        t.eq(len(re.findall(r"(?:^|\r\n)t[0-3] OK", out)), 4, label + "s@: Dovecot's CREATE, APPEND and COPY")
        t.ok(os.path.isdir(os.path.join(s.md, ".Pics", "cur")), label + "s@: the folder is .Pics")
        agree(label + "s@ after Dovecot's APPEND and COPY", s, out)
        seen = []
        for i in range(8):
            dv = s.dovecot()
            # first to ROOM under the limit, then to the byte
            left = S_BYTES - maildir_usage(s.md)[0] - (0 if i else ROOM)
            rr, end = send(srv.port, s.addr, body("sfill%d" % i, max(left - overhead, 100)))
            seen.append((full(dv), dv.get("STORAGE"), rr[:9], (end or "")[:9]))
            if rr.startswith("452"):
                break
        t.ok(seen[-1][0] and all(f == rr.startswith("452 4.2.2") for f, _, rr, _ in seen),
             label + "s@: RCPT 452 4.2.2 exactly when Dovecot says full", seen)
        t.eq([e[:3] for _, _, rr, e in seen if rr.startswith("250")], ["250", "250"],
             label + "s@: both deliveries before it were accepted")
        agree(label + "s@ full after Dovecot's additions", s)
        out = s.imap("APPEND Pics {%d+}\r\n%s" % (len(ap), ap))
        t.like(out, r"\r\nt0 NO \[OVERQUOTA\]", label + "s@: Dovecot refuses an APPEND too")

        # ---- r@: rotation, with Dovecot's index knowing the message
        sizes = []
        for i in range(3):
            rr, end = send(srv.port, r.addr, body("r%d" % i, 900))
            t.like(end, r"^250 ", label + "r@: message %d delivered" % i)
            sizes.append(stored_size(srv, end))
            time.sleep(1.05 if i == 0 else 0)   # r0 the oldest by its name's time
        out = r.imap("SELECT INBOX", "FETCH 1:* (UID FLAGS)")
        t.eq(len(re.findall(r"\* \d+ FETCH", out)), 3, label + "r@: Dovecot indexed the three")
        agree(label + "r@ before rotation", r)
        mark = len(srv.log())
        rr, end = send(srv.port, r.addr, body("r3", 900))
        t.like(end, r"^250 ", label + "r@: a message over the quota is delivered (rotation)")
        gone = re.findall(r"rotate=deleted file=(\S+) size=(\d+) reason=quota", srv.log()[mark:])
        t.ok(len(gone) == 1, label + "r@: one message rotated away", srv.log()[mark:])
        remaining = [open(os.path.join(r.md, sub, n)).read() for sub in ("new", "cur")
                     for n in os.listdir(os.path.join(r.md, sub))]
        t.eq(sorted(re.search(r"Subject: (\S+)", x).group(1) for x in remaining), ["r1", "r2", "r3"],
             label + "r@: the oldest (r0) went, the rest stay")
        t.ok(maildir_usage(r.md)[0] <= R_BYTES, label + "r@: within the quota")
        agree(label + "r@ after rotation", r)
        out = r.imap("SELECT INBOX", "FETCH 1:* (UID FLAGS)", "STORE 1 +FLAGS.SILENT (\\Deleted)",
                     "EXPUNGE", "GETQUOTAROOT INBOX")
        t.eq(len(re.findall(r"\* \d+ FETCH", out)), 3, label + "r@: Dovecot lists the three left")
        agree(label + "r@ after Dovecot's EXPUNGE", r, out)
        rr, end = send(srv.port, r.addr, body("r4", 900))
        t.like(end, r"^250 ", label + "r@: delivered after Dovecot's deletion")
        agree(label + "r@ after delivering again", r)

        # maildirsize just under the 5120 bytes both rebuild at: mailnook's
        # next line takes it over, Dovecot rebuilds it, mailnook reads the
        # new file
        b_, c_ = maildir_usage(r.md)
        text = "%dS\n%d %d\n" % (R_BYTES, b_, c_)
        text += "0 0\n" * ((5118 - len(text)) // 4)
        tmp = os.path.join(r.md, "tmp", "t83.maildirsize")
        with open(tmp, "w") as f:
            f.write(text)
        mndovecot.chown_tree(tmp, acct)
        os.rename(tmp, os.path.join(r.md, "maildirsize"))
        rr, end = send(srv.port, r.addr, body("r5", 900))
        t.like(end, r"^250 ", label + "r@: delivered with maildirsize at %d bytes" % len(text))
        t.ok(os.path.getsize(os.path.join(r.md, "maildirsize")) >= 5120,
             label + "r@: mailnook's line took it to 5120 bytes or more")
        agree(label + "r@ with a maildirsize too big to trust", r)
        t.ok(os.path.getsize(os.path.join(r.md, "maildirsize")) < 100,
             label + "r@: rebuilt small (%d bytes)" % os.path.getsize(os.path.join(r.md, "maildirsize")))
        rr, end = send(srv.port, r.addr, body("r6", 900))
        t.like(end, r"^250 ", label + "r@: delivered after the rebuild")
        agree(label + "r@ after the rebuild", r)

        bad = mndovecot.log_problems(q.home) + mndovecot.log_problems(s.home) + mndovecot.log_problems(r.home)
        t.ok(not bad, label + "Dovecot logs no error or warning", "\n".join(bad[:20]))
        t.eq(srv.stop(), 0, label + "mailnook stops cleanly")
        srv.check_sanitizer(t, label)
    finally:
        srv.cleanup()


acct = mndovecot.account()
if not mndovecot.installed():
    t.skip("mailnook and Dovecot agree on quota", "dovecot-imapd not installed (%s)" % mndovecot.IMAP)
elif acct is None:
    t.skip("mailnook and Dovecot agree on quota", "no unprivileged account (nobody) to run Dovecot as")
else:
    for label, binary in binaries():
        v = subprocess.run([binary, "-V"], stdout=subprocess.PIPE, timeout=30).stdout.decode()
        if not re.search(r"^features:.* quota\b", v, re.M):
            t.skip(label + "mailnook and Dovecot agree on quota", "this build has no CONFIG_QUOTA")
            continue
        run(label, binary, acct)
t.done()

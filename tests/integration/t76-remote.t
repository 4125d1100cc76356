#!/usr/bin/env python3
"""Hostile remote clients against the SMTP engine, from outside on loopback
(issue 10, items 1, 2, 5 and 6): a client idle in the middle of DATA or of
a BDAT chunk is cut after `timeout`, not 10 x `timeout`; BDAT without an
accepted RCPT (before HELO too) is 503 5.5.1 with its chunk read and
dropped; a client refused by allow-from stays refused through BDAT; a NUL
in BDAT content refuses the message with 550 5.6.0; C1 control characters
in SMTPUTF8 addresses never reach the stored file."""
import os
import select
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mntest import Tap, Server, Raw, binaries, maildir_files, read_new, standard_lines  # noqa: E402
from mnops import code  # noqa: E402

t = Tap()
TIMEOUT = 3
# Well below 10 x TIMEOUT (what an idle DATA/BDAT used to get), well above
# TIMEOUT + 1 (when the 421 is due): a slow machine does not make it fail.
BOUND = 5 * TIMEOUT
C1 = set(range(0x80, 0xa0))


def open_tx(port, rcpt="user@localhost", sender="a@remote.example", params="", helo="remote.test"):
    """A session up to an accepted RCPT; returns the client and the codes."""
    c = Raw(port, timeout=BOUND + 5)
    c.reply()
    c.cmd("EHLO " + helo)
    out = [code(c.cmd("MAIL FROM:<%s>%s" % (sender, params))), code(c.cmd("RCPT TO:<%s>" % rcpt))]
    return c, out


def wait_reply(c, timeout=BOUND):
    """(reply code or what happened, seconds waited)."""
    t0 = time.time()
    try:
        r = code(c.reply(timeout=timeout))
    except EOFError:
        r = "closed"
    except OSError as e:
        r = "no reply: %r" % e
    return r, time.time() - t0


def idle_cut(c, label, what):
    """The client sends nothing more: 421 4.4.2 after TIMEOUT, then the close."""
    r, waited = wait_reply(c)
    t.eq(r, "421 4.4.2", label + what + ": 421 4.4.2 (%.1f s)" % waited)
    t.ok(waited >= TIMEOUT - 0.1, label + "  not before the timeout")
    t.ok(c.closed(), label + "  and closed")
    c.close()


def refused_trickle(port, res, limit=45):
    """A refused client trickling a huge BDAT chunk, an octet a second:
    res gets its greeting, how it ended and when (seconds after connecting)."""
    t0 = time.time()
    c = Raw(port)
    try:
        res["greet"] = code(c.reply())
        c.send(b"BDAT 100000000\r\n")
        while time.time() - t0 < limit:
            if select.select([c.sock], [], [], 1.0)[0]:
                data = c.sock.recv(4096)
                c.buf += data
                if not data or b"\n" in c.buf:
                    res["end"] = code(c.buf.decode(errors="replace").split("\r\n")[0]) or "closed"
                    break
            else:
                c.sock.send(b"x")
    except OSError as e:
        res["end"] = "error: %r" % e
    res["t"] = time.time() - t0
    c.close()


def header_text(msg):
    """The trace fields mailnook wrote: everything before the client's first line."""
    return msg.split(b"\nX-Client: ", 1)[0]


for label, binary in binaries():
    # A refused client's 30 s hold also while it sends a chunk: timeout=10
    # here, so the 10 x timeout a chunk would get otherwise is 100 s.  It
    # runs while the other tests run.
    refused = Server(binary, standard_lines() + ["allow-from=10.0.0.0/8", "timeout=10"]).start()
    trickle = {}
    th = threading.Thread(target=refused_trickle, args=(refused.port, trickle))
    th.start()

    srv = Server(binary, standard_lines() + ["timeout=%d" % TIMEOUT]).start()
    user = srv.maildir("user")
    stored = 0

    # ---- item 1: idle in DATA / in a BDAT chunk ------------------------
    c, out = open_tx(srv.port)
    t.eq(out + [code(c.cmd("DATA"))[:3]], ["250 2.1.0", "250 2.1.5", "354"], label + "DATA accepted")
    idle_cut(c, label, "idle in DATA, nothing sent")

    c, _ = open_tx(srv.port)
    c.cmd("DATA")
    c.send(b"Subject: half\r\n\r\nhalf a li")
    idle_cut(c, label, "idle in DATA after some text")

    c, _ = open_tx(srv.port)
    c.send(b"BDAT 100000\r\n" + b"x" * 100)
    idle_cut(c, label, "idle inside a BDAT chunk")

    c = Raw(srv.port, timeout=BOUND + 5)
    c.reply()
    c.send(b"BDAT 100000000\r\n")
    idle_cut(c, label, "idle inside a huge BDAT chunk sent before HELO")
    t.eq(len(maildir_files(user)), stored, label + "  nothing stored by the idle clients")

    # a client that keeps sending is not idle: one octet every TIMEOUT/3 s
    # for 2 x TIMEOUT, both in DATA and in a BDAT chunk
    for how in ("DATA", "BDAT"):
        c, _ = open_tx(srv.port)
        body = b"Subject: slow " + how.encode() + b"\r\n\r\ntrickled\r\n"
        if how == "DATA":
            c.cmd("DATA")
            tail = b".\r\n"
        else:
            c.send(b"BDAT %d LAST\r\n" % len(body))
            tail = b""
        data = body + tail
        steps = int(2 * TIMEOUT / (TIMEOUT / 3.0)) + 1
        head, rest = data[:steps], data[steps:]
        for i in range(len(head)):
            c.send(head[i:i + 1])
            time.sleep(TIMEOUT / 3.0)
        c.send(rest)
        r, _ = wait_reply(c)
        t.eq(r, "250 2.0.0", label + "%s trickled past the timeout, an octet at a time: stored" % how)
        c.cmd("QUIT")
        c.close()
        stored += 1

    # ---- item 1: BDAT without an accepted RCPT -------------------------
    c = Raw(srv.port)
    c.reply()
    c.send(b"BDAT 12\r\nQUIT\r\nRSET\r\nNOOP\r\n")
    t.eq([code(r) for r in c.replies(2)], ["503 5.5.1", "250 2.0.0"],
         label + "BDAT before HELO: 503 5.5.1, the chunk never taken as commands")
    c.cmd("EHLO remote.test")
    c.send(b"BDAT 6 LAST\r\nQUIT\r\nNOOP\r\n")
    t.eq([code(r) for r in c.replies(2)], ["503 5.5.1", "250 2.0.0"],
         label + "BDAT before MAIL: 503 5.5.1, chunk dropped")
    c.cmd("MAIL FROM:<a@remote.example>")
    t.eq(code(c.cmd("RCPT TO:<nobody@localhost>")), "550 5.1.1", label + "  unknown recipient refused")
    c.send(b"BDAT 6\r\nQUIT\r\nNOOP\r\n")
    t.eq([code(r) for r in c.replies(2)], ["503 5.5.1", "250 2.0.0"],
         label + "BDAT with no accepted RCPT: 503 5.5.1, chunk dropped")
    t.eq(code(c.cmd("RCPT TO:<user@localhost>")), "250 2.1.5", label + "  the session goes on")
    c.send(b"BDAT 9 LAST\r\nX: ok\r\n\r\n")
    t.eq(code(c.reply()), "250 2.0.0", label + "  and delivers")
    stored += 1
    c.cmd("QUIT")
    c.close()

    # ---- item 6: NUL in BDAT -------------------------------------------
    for name, chunks in (("a middle chunk", [b"Subject: n\r\n\r\na\0b\r\n", b"tail\r\n"]),
                         ("the LAST chunk", [b"Subject: n\r\n\r\nbody\0\r\n"]),
                         ("the header section", [b"Subject: \0n\r\n", b"\r\nbody\r\n"]),
                         ("the first octet after a chunk's CR", [b"Subject: n\r\n\r\nbody\r", b"\0\r\n"])):
        c, _ = open_tx(srv.port)
        replies = []
        for i, ch in enumerate(chunks):
            last = i == len(chunks) - 1
            c.send(b"BDAT %d%s\r\n" % (len(ch), b" LAST" if last else b"") + ch)
            replies.append(code(c.reply()))
        t.eq(replies[-1], "550 5.6.0", label + "NUL in BDAT, in %s: 550 5.6.0 after LAST" % name)
        t.eq(code(c.cmd("NOOP")), "250 2.0.0", label + "  the session goes on")
        c.cmd("QUIT")
        c.close()
    t.eq(len(maildir_files(user)), stored, label + "  no message with a NUL stored")

    # ---- item 5: C1 controls in SMTPUTF8 addresses ---------------------
    sender = "s\u0085e\u009fnder@remote.example"
    rcpt = "r\u0085c\u009f\u0080pt\u00e9@catch.test"
    c, out = open_tx(srv.port, rcpt=rcpt, sender=sender, params=" SMTPUTF8", helo="h\u0085lo.test")
    t.eq(out, ["250 2.1.0", "250 2.1.5"], label + "SMTPUTF8 MAIL/RCPT with U+0085, U+009F, U+0080 accepted")
    t.eq(code(c.cmd("DATA"))[:3], "354", label + "  DATA")
    c.send(b"X-Client: c1\r\n\r\nbody\r\n.\r\n")
    t.eq(code(c.reply()), "250 2.0.0", label + "  stored")
    c.cmd("QUIT")
    c.close()
    msgs = read_new(srv.maildir("catchall"))
    t.eq(len(msgs), 1, label + "  one file in the catch-all")
    head = header_text(msgs[0]) if msgs else b""
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    t.ok(text is not None, label + "  the trace fields are valid UTF-8", head)
    t.ok(text is not None and not any(ord(ch) in C1 for ch in text),
         label + "  no C1 control character in Return-Path:/Received:", head)
    t.ok(text is not None and "Return-Path: <s??e??nder@remote.example>" in text,
         label + "  Return-Path: with each C1 control as ??", head)
    t.ok(text is not None and "for <r??c????pt\u00e9@catch.test>;" in text,
         label + "  Received: for <...> likewise, other UTF-8 kept", head)
    t.ok(text is not None and "Received: from h??lo.test (" in text,
         label + "  Received: from HELO with U+0085 as ??", head)

    t.eq(srv.stop(), 0, label + "exit 0")
    srv.check_sanitizer(t, label)
    srv.cleanup()

    # ---- item 2: a client refused by allow-from, and BDAT --------------
    srv = refused
    c = Raw(srv.port)
    t.eq(code(c.reply()), "554 5.7.1", label + "refused client: 554 5.7.1")
    c.send(b"BDAT 6\r\nQUIT\r\n")
    got = [code(c.reply())]
    for line in ("MAIL FROM:<a@remote.example>", "RCPT TO:<user@localhost>", "DATA"):
        got.append(code(c.cmd(line)))
    chunk = b"EHLO x\r\nMAIL FROM:<a@b>\r\n"
    c.send(b"BDAT %d LAST\r\n" % len(chunk) + chunk)
    got.append(code(c.reply()))
    got.append(code(c.cmd("RCPT TO:<user@localhost>")))
    t.eq(got, ["503 5.5.1"] * 6, label + "  BDAT then MAIL/RCPT/DATA: 503 5.5.1 each, never 250")
    # commands 7..10, BDATs among them, then the close
    c.send(b"BDAT 1\r\nxNOOP\r\nBDAT 0 LAST\r\nNOOP\r\nBDAT 3\r\nabc")
    t.eq([code(r) for r in c.replies(5)], ["503 5.5.1"] * 4 + ["421 4.7.0"],
         label + "  10 commands, BDATs counted: then 421 4.7.0")
    t.ok(c.closed(), label + "  and closed")
    c.close()
    t.eq(maildir_files(srv.maildir("user")), [], label + "  nothing stored")
    th.join(60)
    t.eq(trickle.get("greet"), "554 5.7.1", label + "refused client trickling a huge BDAT chunk")
    t.eq(trickle.get("end"), "421 4.7.0", label + "  421 4.7.0 at the 30 s cap, mid-chunk")
    t.ok(29 <= trickle.get("t", 0) < 44, label + "  after 30 s, not 10 x timeout (%.1f s)" % trickle.get("t", 0))
    t.eq(srv.stop(), 0, label + "exit 0")
    srv.check_sanitizer(t, label)
    srv.cleanup()

t.done()

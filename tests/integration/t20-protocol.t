#!/usr/bin/env python3
"""The SMTP dialogue on a raw socket against the real binary: reply codes
(RFC 5321, enhanced codes RFC 3463), PIPELINING, BDAT, and DATA smuggling
sequences."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mntest import Tap, Server, Raw, binaries, standard_lines, read_new  # noqa: E402
from mnops import code, smuggle  # noqa: E402

t = Tap()


for label, binary in binaries():
    srv = Server(binary, standard_lines()).start()
    d_user = srv.maildir("user")

    c = Raw(srv.port)
    t.like(c.reply(), r"^220 mx\.test ESMTP", label + "greeting 220")
    t.eq(code(c.cmd("MAIL FROM:<a@b.example>")), "503 5.5.1", label + "MAIL before EHLO 503")
    t.eq(c.cmd("EHLO").split("\n")[0], "250-mx.test", label + "EHLO without argument 250 (devices send it)")
    t.eq(c.cmd("HELO client.test"), "250 mx.test", label + "HELO 250 HOSTNAME")
    t.eq(code(c.cmd("RCPT TO:<user@localhost>")), "503 5.5.1", label + "RCPT before MAIL 503")
    t.eq(code(c.cmd("DATA")), "503 5.5.1", label + "DATA before RCPT 503")
    t.eq(code(c.cmd("FROB")), "500 5.5.1", label + "unknown command 500")
    t.eq(code(c.cmd("MAIL FROM:<a@b.example> FOO=1")), "555 5.5.4", label + "unknown MAIL parameter 555")
    t.eq(code(c.cmd("MAIL FROM:<a b>")), "501 5.1.3", label + "bad address 501 5.1.3")
    t.eq(code(c.cmd("MAIL FROM:<a@b.example> BODY=8BITMIME")), "250 2.1.0", label + "MAIL 250 2.1.0")
    t.eq(code(c.cmd("MAIL FROM:<a@b.example>")), "503 5.5.1", label + "nested MAIL 503")
    t.eq(code(c.cmd("RSET")), "250 2.0.0", label + "RSET 250 2.0.0")
    t.eq(code(c.cmd("VRFY user")), "252 2.5.0", label + "VRFY 252 2.5.0")
    t.eq(c.cmd("HELP")[:3], "214", label + "HELP 214")
    t.eq(code(c.cmd("NOOP")), "250 2.0.0", label + "NOOP 250 2.0.0")
    t.eq(code(c.cmd("X" * 1200)), "500 5.5.2", label + "over-long line 500 5.5.2")
    t.eq(code(c.cmd("NOOP")), "250 2.0.0", label + "session goes on after a long line")
    t.eq(code(c.cmd("QUIT")), "221 2.0.0", label + "QUIT 221 2.0.0")
    t.ok(c.closed(), label + "closed after QUIT")
    c.close()

    # PIPELINING: a whole transaction in one write, replies in order.
    c = Raw(srv.port)
    c.reply()
    c.send("EHLO pipe.test\r\nMAIL FROM:<p@remote.example>\r\nRCPT TO:<user@localhost>\r\n"
           "RCPT TO:<nobody@localhost>\r\nRCPT TO:<x@other.example>\r\nDATA\r\n")
    r = c.replies(6)
    t.eq([code(x)[:3] for x in r], ["250", "250", "250", "550", "550", "354"], label + "pipelined replies in order")
    c.send("Subject: piped\r\n\r\nhello\r\n.\r\nQUIT\r\n")
    r = c.replies(2)
    t.like(r[0], r"^250 2\.0\.0 .*\b[0-9A-Za-z]+$", label + "250 2.0.0 ... ID after DATA")
    t.eq(code(r[1]), "221 2.0.0", label + "QUIT after pipelined DATA")
    c.close()
    t.eq(len(read_new(d_user)), 1, label + "pipelined message stored")

    # BDAT, with a CRLF split across chunks, pipelined, then LAST.
    c = Raw(srv.port)
    c.reply()
    c.cmd("EHLO bdat.test")
    c.send("MAIL FROM:<b@remote.example>\r\nRCPT TO:<user@localhost>\r\n"
           "BDAT 13\r\nSubject: b\r\n\rBDAT 16 LAST\r\n\nline1\r\nQUIT\r\n\r\n")
    r = c.replies(4)
    t.eq([code(x) for x in r[:3]], ["250 2.1.0", "250 2.1.5", "250 2.0.0"], label + "BDAT chunk replies")
    t.eq(code(r[3]), "250 2.0.0", label + "BDAT LAST 250 2.0.0")
    t.eq(code(c.cmd("DATA")), "503 5.5.1", label + "DATA without a transaction after BDAT 503")
    c.cmd("MAIL FROM:<b@remote.example>")
    c.cmd("RCPT TO:<user@localhost>")
    c.send("BDAT 5\r\nhello")
    t.eq(code(c.reply()), "250 2.0.0", label + "BDAT chunk in a new transaction")
    t.eq(code(c.cmd("DATA")), "503 5.5.1", label + "DATA after BDAT in one transaction 503")
    c.send("BDAT 0 LAST\r\n")
    t.eq(code(c.reply()), "250 2.0.0", label + "BDAT 0 LAST ends it")
    c.close()
    files = read_new(d_user)
    t.ok(any(f.endswith(b"Subject: b\n\nline1\nQUIT\n\n") for f in files),
         label + "BDAT content stored with CRLF to LF, commands inside not executed")

    # Smuggling: none of these ends DATA; the text after them is body.  A
    # bare LF is a line end by default (section 4), so a message whose only
    # fault is bare LF is stored, the smuggled commands in it as text; a
    # bare CR or a NUL refuses it.  (t33-devices.t: the same with strict-crlf.)
    lf_only = (b"\n.\n", b"\n.\r\n", b"\r\n.\n")
    for seq in lf_only + (b"\r.\r", b"\r\n.\r", b"\r\n\x00.\r\n", b"\r\n.\x00\r\n"):
        r, noop = smuggle(srv.port, seq)
        if seq in lf_only:
            t.eq(r, "250 2.0.0", label + "smuggling %r: no end, stored at the real end" % seq)
        else:
            t.eq(r, "550 5.6.0", label + "smuggling %r refused with 550 5.6.0 at the real end" % seq)
        t.eq(noop, "250 2.0.0", label + "next reply is for NOOP: nothing was executed (%r)" % seq)
    new = [f for f in read_new(d_user) if b"Subject: smuggle" in f]
    t.ok(len(new) == len(lf_only) and
         all(b"MAIL FROM:<evil@remote.example>\nRCPT TO:<user@localhost>\nDATA\nevil\n" in f for f in new),
         label + "smuggling: only the bare-LF ones stored, the commands in them as text", new)

    # Ten errors end the session.
    c = Raw(srv.port)
    c.reply()
    c.send("".join("BOGUS%d\r\n" % i for i in range(12)))
    r = []
    try:
        while len(r) < 20:
            r.append(c.reply(5))
    except (EOFError, OSError):
        pass
    t.eq(code(r[-1]) if r else None, "421 4.7.0", label + "too many errors: 421 4.7.0 last")
    t.ok(sum(1 for x in r if x.startswith("500")) <= 10, label + "at most 10 errors answered before it")
    t.ok(c.closed(), label + "closed after too many errors")
    c.close()

    t.eq(srv.stop(), 0, label + "exit 0")
    srv.check_sanitizer(t, label)
    srv.cleanup()

t.done()

#!/usr/bin/env python3
"""Configuration options seen from a client: tag-folders, allow-bare-lf (the
old flag, still accepted: bare LF is a line end by default),
timeout, max-sessions, max-sessions-per-ip, allow-from, recipient-delimiter."""
import os
import smtplib
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mntest import Tap, Server, Raw, binaries, read_new  # noqa: E402

t = Tap()


def code(r):
    return r.split("\n")[-1][:9]


def send(port, rcpts, body="Subject: t\r\n\r\nx\r\n"):
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as c:
        c.ehlo("opt.test")
        return c.sendmail("a@remote.example", rcpts, body)


for label, binary in binaries():
    srv = Server(binary, ["domain=localhost", "mailbox=user@localhost,@DIR@/user", "tag-folders",
                          "recipient-delimiter=+-", "allow-bare-lf", "timeout=2",
                          "max-sessions=3", "max-sessions-per-ip=2"]).start()
    d = srv.maildir("user")
    for sub in ("tmp", "new", "cur"):
        os.makedirs(os.path.join(d, ".news", sub), exist_ok=True)

    t.eq(send(srv.port, ["user+news@localhost"]), {}, label + "user+news accepted")
    t.eq(len(read_new(os.path.join(d, ".news"))), 1, label + "tag-folders: into .news when it exists")
    t.eq(send(srv.port, ["user-nothere@localhost", '"user+../news"@localhost']), {},
         label + "other tags accepted (second delimiter too)")
    t.eq(len(read_new(d)), 1, label + "missing folder or unsafe tag: inbox, stored once")
    t.eq(len(read_new(os.path.join(d, ".news"))), 1, label + "nothing else went to .news")

    c = Raw(srv.port)
    c.reply()
    c.send("EHLO lf.test\r\nMAIL FROM:<a@remote.example>\r\nRCPT TO:<user@localhost>\r\nDATA\r\n")
    c.replies(4)
    c.send("Subject: lf\n\nbare\nlines\n.\nstill body\r\n.\r\n")
    t.eq(code(c.reply()), "250 2.0.0", label + "allow-bare-lf (a no-op now): bare LF accepted, only CRLF.CRLF ends")
    c.close()
    t.ok(any(f.endswith(b"Subject: lf\n\nbare\nlines\n\nstill body\n") for f in read_new(d)),
         label + "bare LF lines stored, LF.LF did not end DATA")

    # max-sessions-per-ip=2: the third from 127.0.0.1 is turned away.
    a, b = Raw(srv.port), Raw(srv.port)
    a.reply(), b.reply()
    third = Raw(srv.port)
    t.eq(code(third.reply()), "421 4.3.2", label + "per-IP limit: 421 4.3.2")
    t.ok(third.closed(), label + "  and closed")
    # timeout=2: idle sessions get 421 4.4.2, not before 2 s.
    t0 = time.time()
    r = a.reply(timeout=10)
    waited = time.time() - t0
    t.eq(code(r), "421 4.4.2", label + "idle timeout: 421 4.4.2")
    t.ok(1.9 <= waited <= 6, label + "  after the timeout, not before (%.1f s)" % waited)
    for x in (a, b, third):
        x.close()
    t.eq(srv.stop(), 0, label + "exit 0")
    srv.cleanup()

    srv = Server(binary, ["domain=localhost", "mailbox=user@localhost,@DIR@/user",
                          "allow-from=10.0.0.0/8", "allow-from=fd00::/8"]).start()
    c = Raw(srv.port)
    t.eq(code(c.reply()), "554 5.7.1", label + "allow-from refuses loopback: 554 5.7.1")
    t.eq(code(c.cmd("EHLO x.test")), "503 5.5.1", label + "  then 503 5.5.1")
    t.eq(code(c.cmd("QUIT")), "221 2.0.0", label + "  QUIT 221")
    t.ok(c.closed(), label + "  closed")
    c.close()
    t.eq(srv.stop(), 0, label + "exit 0")
    srv.check_sanitizer(t, label)
    srv.cleanup()

t.done()

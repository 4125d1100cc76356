#!/usr/bin/env python3
"""End-to-end delivery with Python's smtplib, read back with mailbox.Maildir:
headers, file names, modes, multi-recipient, alias, catch-all, +tag,
postmaster, 8-bit bodies, a 5 MB message, refusals at RCPT."""
import mailbox
import os
import re
import smtplib
import stat
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mntest import Tap, Server, binaries, standard_lines, maildir_files, read_new  # noqa: E402
from mnops import features  # noqa: E402

t = Tap()
NAME_RE = r"^\d+\.M\d+P\d+Q\d+R[0-9a-f]+\.[^/:]+,S=(\d+),W=(\d+)$"
RECEIVED_RE = (r"^Received: from (\S+) \(\[([^\]]+)\]\) by mx\.test \(mailnook\) "
               r"with (E?SMTP) id ([0-9A-Za-z]+)(?: for <([^>]+)>)?; "
               r"\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}$")


def check_names(t, label, path):
    for name in maildir_files(path):
        m = re.match(NAME_RE, name)
        if not t.ok(m, label + "file name pattern " + name):
            continue
        full = os.path.join(path, "new", name)
        st = os.stat(full)
        data = open(full, "rb").read()
        t.eq(int(m.group(1)), st.st_size, label + "S= is the file size")
        t.eq(int(m.group(2)), st.st_size + data.count(b"\n"), label + "W= counts CRLF line ends")
        t.eq(stat.S_IMODE(st.st_mode), 0o600, label + "mode 0600")


for label, binary in binaries():
    srv = Server(binary, standard_lines()).start()
    d_user, d_bob, d_carol = srv.maildir("user"), srv.maildir("bob"), srv.maildir("carol")

    # One message, one recipient.
    body = "Subject: hello\r\nFrom: a@b.example\r\n\r\nfirst line\r\n.dot line\r\nlast\r\n"
    with smtplib.SMTP("127.0.0.1", srv.port, local_hostname="client.test", timeout=10) as c:
        code, _ = c.ehlo()
        t.eq(code, 250, label + "EHLO 250")
        for ext in ("pipelining", "size", "8bitmime", "enhancedstatuscodes", "smtputf8", "chunking", "help"):
            if ext == "chunking" and "chunking" not in features(binary):
                t.ok(not c.has_extn(ext), label + "EHLO does not list CHUNKING (built without it)")
                continue
            t.ok(c.has_extn(ext), label + "EHLO lists " + ext.upper())
        t.eq(c.esmtp_features.get("size"), "10485760", label + "SIZE is max-message-size")
        t.ok(not c.has_extn("starttls"), label + "no STARTTLS without TLS")
        refused = c.sendmail("sender@remote.example", ["user@localhost"], body)
        t.eq(refused, {}, label + "sendmail accepted")
        code, msg = c.noop()
        t.eq((code, msg[:5]), (250, b"2.0.0"), label + "NOOP 250 2.0.0")

    files = read_new(d_user)
    t.eq(len(files), 1, label + "one file in new/")
    check_names(t, label, d_user)
    t.eq(maildir_files(d_user, "tmp"), [], label + "tmp/ is empty after delivery")
    if files:
        lines = files[0].split(b"\n")
        t.eq(lines[0], b"Return-Path: <sender@remote.example>", label + "Return-Path first")
        t.like(lines[1].decode(), RECEIVED_RE, label + "Received header format")
        m = re.match(RECEIVED_RE, lines[1].decode())
        if m:
            t.eq(m.group(1), "client.test", label + "Received names the HELO")
            t.eq(m.group(2), "127.0.0.1", label + "Received names the IP")
            t.eq(m.group(3), "ESMTP", label + "protocol ESMTP")
            t.eq(m.group(5), "user@localhost", label + "single recipient: for <rcpt>")
            t.ok(("id=" + m.group(4)) in srv.log(), label + "the id appears in the log")
        t.eq(b"\n".join(lines[2:]), body.replace("\r\n", "\n").replace("\n.dot", "\n.dot").encode(),
             label + "body stored as sent, CRLF to LF")
        t.ok(b"\r" not in files[0], label + "no CR in the stored file")

    mb = mailbox.Maildir(d_user, factory=None, create=False)
    msgs = list(mb)
    t.eq(len(msgs), 1, label + "mailbox.Maildir reads one message")
    if msgs:
        t.eq(msgs[0]["Subject"], "hello", label + "mailbox.Maildir parses the Subject")
        t.eq(msgs[0].get_payload(), "first line\n.dot line\nlast\n", label + "payload round trip")

    # Several recipients: one Maildir twice, another via alias, a catch-all.
    with smtplib.SMTP("127.0.0.1", srv.port, timeout=10) as c:
        c.ehlo("multi.test")
        refused = c.sendmail("<>" if False else "", ["BOB@Example.org", "team@example.org",
                                                     "bob+news@example.org", "anything@catch.test"],
                             "Subject: multi\r\n\r\nto many\r\n")
        t.eq(refused, {}, label + "four recipients accepted")
    bob, carol, catch = read_new(d_bob), read_new(d_carol), read_new(srv.maildir("catchall"))
    t.eq(len(bob), 1, label + "bob gets one copy for three addresses")
    t.eq(len(carol), 1, label + "carol gets the alias copy")
    t.eq(len(catch), 1, label + "catch-all gets one")
    if bob and carol:
        t.eq(bob[0], carol[0], label + "identical file in each Maildir")
        t.ok(bob[0].startswith(b"Return-Path: <>\n"), label + "null sender is Return-Path: <>")
        t.ok(b" for <" not in bob[0].split(b"\n")[1], label + "no 'for' with several recipients")
        st_b = os.stat(os.path.join(d_bob, "new", maildir_files(d_bob)[0]))
        st_c = os.stat(os.path.join(d_carol, "new", maildir_files(d_carol)[0]))
        t.eq(st_b.st_ino, st_c.st_ino, label + "hard-linked, one file on disk")

    # Refusals at RCPT, and postmaster.
    with smtplib.SMTP("127.0.0.1", srv.port, timeout=10) as c:
        c.ehlo("refuse.test")
        c.mail("x@remote.example")
        code, msg = c.rcpt("nobody@localhost")
        t.eq((code, msg[:5]), (550, b"5.1.1"), label + "unknown local user 550 5.1.1")
        code, msg = c.rcpt("user@elsewhere.example")
        t.eq((code, msg[:5]), (550, b"5.7.1"), label + "other domain 550 5.7.1 (no relay)")
        code, msg = c.rcpt('"../user"@localhost')
        t.eq((code, msg[:5]), (550, b"5.1.1"), label + "traversal-looking local part is just unknown")
        code, msg = c.rcpt("postmaster@example.org")
        t.eq((code, msg[:5]), (250, b"2.1.5"), label + "postmaster@domain accepted")
        code, msg = c.rcpt("<postmaster>")
        t.eq((code, msg[:5]), (250, b"2.1.5"), label + "bare <postmaster> accepted")
        code, msg = c.data("Subject: pm\r\n\r\nfor postmaster\r\n")
        t.eq((code, msg[:5]), (250, b"2.0.0"), label + "postmaster message stored")
    t.eq(len(read_new(d_user)), 2, label + "postmaster goes to the first mailbox")

    # 8-bit body, SMTPUTF8 sender, and a 5 MB message.
    body8 = "Subject: =?utf-8?q?caf=C3=A9?=\r\n\r\nCafé, naïve, 日本語\r\n".encode("utf-8")
    with smtplib.SMTP("127.0.0.1", srv.port, timeout=10) as c:
        c.ehlo("eight.test")
        t.eq(c.sendmail("s@remote.example", ["carol@example.org"], body8,
                        mail_options=["BODY=8BITMIME"]), {}, label + "8-bit body accepted")
        code, _ = c.mail("jöran@remote.example", ["SMTPUTF8"])
        t.eq(code, 250, label + "UTF-8 sender with SMTPUTF8 accepted")
        c.rset()
        big = ("Subject: big\r\n\r\n" + ("x" * 998 + "\r\n") * 5200).encode()
        t.eq(c.sendmail("s@remote.example", ["carol@example.org"], big), {}, label + "5 MB message accepted")
    carol = read_new(d_carol)
    t.ok(any(f.endswith(body8.split(b"\r\n\r\n", 1)[1].replace(b"\r\n", b"\n")) for f in carol),
         label + "8-bit body stored byte for byte")
    t.ok(any(len(f) > 5_000_000 and f.endswith(b"x" * 998 + b"\n") for f in carol),
         label + "5 MB message stored whole")

    # Over the size limit (SIZE= and actual).
    with smtplib.SMTP("127.0.0.1", srv.port, timeout=10) as c:
        c.ehlo("big.test")
        code, msg = c.mail("s@remote.example", ["SIZE=20000000"])
        t.eq((code, msg[:5]), (552, b"5.3.4"), label + "SIZE= over the limit 552 5.3.4")
        code, _ = c.mail("s@remote.example")
        c.rcpt("carol@example.org")
        n_before = len(read_new(d_carol))
        code, msg = c.data(b"Subject: huge\r\n\r\n" + (b"y" * 1000 + b"\r\n") * 11000)
        t.eq((code, msg[:5]), (552, b"5.3.4"), label + "message over the limit 552 5.3.4")
        t.eq(len(read_new(d_carol)), n_before, label + "nothing stored for it")
        code, _ = c.noop()
        t.eq(code, 250, label + "session goes on after 552")

    log = srv.log()
    t.like(log, r"id=\S+ result=delivered size=\d+ nrcpt=\d+ ip=127\.0\.0\.1 from=<sender@remote\.example> "
           r"to=<user@localhost>\n",
           label + "message log line")
    t.like(log, r"result=rejected", label + "rejected message logged")
    t.eq(srv.stop(), 0, label + "SIGTERM: exit 0")
    srv.check_sanitizer(t, label)
    srv.cleanup()

t.done()

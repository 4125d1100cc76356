#!/usr/bin/env python3
"""Devices get through (issue 11): raw-socket
replays of the device transcripts of devices.md that concern tolerance --
a camera's EHLO then HELO, vCenter's MAIL ... SIZE=1459 AUTH=<>, a UPS
card's "HELO " with nothing after the space, a PLC's bare "HELO", an EHLO
with an underscore -- each delivering its message with the Received header
showing the HELO sanitised or "unknown"; the MAIL/RCPT parameters accepted
and ignored once and refused twice; bare LF from curl -T and Python smtplib
stored by default, refused with 550 5.6.0 under strict-crlf (nothing
stored, no bare-LF smuggling ever ends DATA) unless the client is in
allow-bare-lf=CIDR."""
import os
import shutil
import smtplib
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mntest import Tap, Server, Raw, binaries, read_new, standard_lines  # noqa: E402
from mnops import code, reload, smuggle  # noqa: E402

t = Tap()
LF_FILE = b"From: router@lan.example\nSubject: curl lf\n\nline one\nline two\n"
PY_BYTES = b"Subject: py lf\n\nbare\nlines\n.dot\n"


def by_sender(d, sender):
    """The stored message whose Return-Path is sender, or None."""
    want = b"Return-Path: <" + sender.encode() + b">\n"
    got = [f for f in read_new(d) if f.startswith(want)]
    return got[0] if len(got) == 1 else None


def replay(port, helo_lines, sender, mail_params="", subject="device"):
    """The device's commands one by one, then a CRLF message; the reply
    codes from the greeting to QUIT."""
    c = Raw(port)
    try:
        out = [code(c.reply())]
        for h in helo_lines:
            c.send(h + "\r\n")
            out.append(code(c.reply()))
        out.append(code(c.cmd("MAIL FROM:<%s>%s" % (sender, mail_params))))
        out.append(code(c.cmd("RCPT TO:<user@localhost>")))
        out.append(code(c.cmd("DATA"))[:3])
        c.send("Subject: %s\r\n\r\nalert from %s\r\n.\r\n" % (subject, sender))
        out.append(code(c.reply()))
        out.append(code(c.cmd("QUIT")))
    finally:
        c.close()
    return out


def curl_lf(port, sender):
    """curl -T of a file with LF line ends: (exit code, output)."""
    with tempfile.NamedTemporaryFile("wb", suffix=".txt", delete=False) as f:
        f.write(LF_FILE)
        path = f.name
    try:
        r = subprocess.run(["curl", "-sS", "-v", "--max-time", "30", "-T", path,
                            "smtp://127.0.0.1:%d/router.lan" % port,
                            "--mail-from", sender, "--mail-rcpt", "user@localhost"],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=60)
    finally:
        os.unlink(path)
    return r.returncode, r.stdout.decode(errors="replace")


def py_lf(port, sender):
    """smtplib.sendmail with bytes holding bare LF: 'ok' or 'CODE TEXT'."""
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as c:
            c.sendmail(sender, ["user@localhost"], PY_BYTES)
        return "ok"
    except smtplib.SMTPResponseException as e:
        return "%d %s" % (e.smtp_code, e.smtp_error.decode(errors="replace")[:5])


DELIVERED = ["220", "250 2.1.0", "250 2.1.5", "354", "250 2.0.0", "221 2.0.0"]
LF_SEQS = (b"\n.\n", b"\n.\r\n", b"\r\n.\n", b"\n\n.\r\n")

for label, binary in binaries():
    srv = Server(binary, standard_lines()).start()
    d = srv.maildir("user")

    # ---- HELO/EHLO tolerance --------------------------------------------
    for name, helos, sender, shown in (
            ("camera: EHLO localhost, then HELO localhost", ["EHLO localhost", "HELO localhost"],
             "cam@camera.example", b"localhost"),
            ("UPS card: 'HELO ' with nothing after the space", ["HELO "], "ups@ups.example", b"unknown"),
            ("PLC: HELO with no domain", ["HELO"], "plc@plc.example", b"unknown"),
            ("drive: EHLO with an underscore", ["EHLO under_score"], "drive@drive.example",
             b"under_score"),
            ("EHLO with a bare IP address", ["EHLO 192.0.2.7"], "ip@ip.example", b"192.0.2.7")):
        r = replay(srv.port, helos, sender)
        n = len(helos)
        t.eq(([x[:3] for x in r[1:1 + n]], r[1 + n:]), (["250"] * n, DELIVERED[1:]),
             label + name + ": 250 to each HELO/EHLO, then delivered")
        f = by_sender(d, sender)
        t.ok(f is not None and (b"\nReceived: from " + shown + b" ([127.0.0.1]) by mx.test") in f
             and b"alert from " + sender.encode() in f,
             label + name + ": delivered, Received: from " + shown.decode(), f)

    # ---- MAIL/RCPT parameters --------------------------------------------
    r = replay(srv.port, ["EHLO vc.example"], "alerts@vc.example", " SIZE=1459 AUTH=<>")
    t.eq(r[2:], DELIVERED[1:], label + "vCenter: MAIL FROM:<alerts@vc.example> SIZE=1459 AUTH=<> delivers")
    f = by_sender(d, "alerts@vc.example")
    t.ok(f is not None and b"Received: from vc.example ([127.0.0.1]) by mx.test (mailnook) with ESMTP" in f,
         label + "vCenter: message stored", f)
    c = Raw(srv.port)
    c.reply()
    c.cmd("EHLO dsn.test")
    t.eq(code(c.cmd("MAIL FROM:<a@remote.example> auth=<> RET=HDRS envid=QQ+2B1")), "250 2.1.0",
         label + "MAIL: AUTH=, RET=, ENVID= accepted, any case")
    t.eq(code(c.cmd("RCPT TO:<user@localhost> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;user@localhost")),
         "250 2.1.5", label + "RCPT: NOTIFY=, ORCPT= accepted")
    t.eq(code(c.cmd("RCPT TO:<user@localhost> NOTIFY=NEVER notify=NEVER")), "501 5.5.4",
         label + "RCPT: NOTIFY twice: 501 5.5.4")
    t.eq(code(c.cmd("RCPT TO:<user@localhost> RET=FULL")), "555 5.5.4",
         label + "RCPT: a MAIL parameter: 555 5.5.4")
    t.eq(code(c.cmd("RSET")), "250 2.0.0", label + "RSET")
    t.eq(code(c.cmd("MAIL FROM:<a@remote.example> AUTH=<> AUTH=<>")), "501 5.5.4",
         label + "MAIL: AUTH twice: 501 5.5.4")
    t.eq(code(c.cmd("MAIL FROM:<a@remote.example> FOO=bar")), "555 5.5.4",
         label + "MAIL: an unknown parameter: 555 5.5.4")
    ehlo = c.cmd("EHLO dsn.test")
    t.ok("DSN" not in ehlo.split("\n") and "AUTH" not in ehlo, label + "EHLO offers neither DSN nor AUTH", ehlo)
    c.cmd("QUIT")
    c.close()

    # ---- bare LF: a line end by default ------------------------------------
    if shutil.which("curl"):
        rc, out = curl_lf(srv.port, "curl@router.example")
        t.eq(rc, 0, label + "curl -T with an LF-only file delivers", )
        f = by_sender(d, "curl@router.example")
        t.ok(f is not None and b"Subject: curl lf\n\nline one\nline two\n" in f and b"\r" not in f,
             label + "  stored with LF line ends", (f, out[-1500:]))
    else:
        t.skip(label + "curl -T with LF", "curl not installed")
    t.eq(py_lf(srv.port, "py@remote.example"), "ok", label + "smtplib.sendmail(bytes with bare LF) delivers")
    f = by_sender(d, "py@remote.example")
    t.ok(f is not None and b"Subject: py lf\n\nbare\nlines\n.dot\n" in f,
         label + "  stored, LF lines dot-unstuffed", f)
    for seq in LF_SEQS:
        t.eq(smuggle(srv.port, seq), ("250 2.0.0", "250 2.0.0"),
             label + "default: %r is no end of data, what follows is text" % seq)
    new = [f for f in read_new(d) if b"Subject: smuggle" in f]
    t.ok(len(new) == len(LF_SEQS) and all(b"\nMAIL FROM:<evil@remote.example>\nRCPT TO:<user@localhost>\n"
                                          b"DATA\nevil\n" in f for f in new),
         label + "  the smuggled commands were stored as message text, never run", new)
    t.eq(srv.stop(), 0, label + "exit 0")
    srv.check_sanitizer(t, label)
    srv.cleanup()

    # ---- strict-crlf ------------------------------------------------------
    lines = standard_lines() + ["strict-crlf", "allow-bare-lf", "allow-bare-lf=10.0.0.0/8"]
    srv = Server(binary, lines).start()
    d = srv.maildir("user")
    if shutil.which("curl"):
        rc, out = curl_lf(srv.port, "curl@router.example")
        t.ok(rc != 0 and "< 550 5.6.0" in out, label + "strict-crlf: curl -T LF-only gets 550 5.6.0",
             out[-1500:])
    else:
        t.skip(label + "strict-crlf: curl", "curl not installed")
    t.eq(py_lf(srv.port, "py@remote.example"), "550 5.6.0",
         label + "strict-crlf: smtplib bytes with bare LF get 550 5.6.0")
    for seq in LF_SEQS:
        t.eq(smuggle(srv.port, seq), ("550 5.6.0", "250 2.0.0"),
             label + "strict-crlf: %r refused at the real end, nothing run after it" % seq)
    t.eq(read_new(d), [], label + "strict-crlf: nothing stored")
    t.eq(srv.log().count("result=rejected reason=bare-lf"), len(LF_SEQS) + 1 + bool(shutil.which("curl")),
         label + "strict-crlf: each logged result=rejected reason=bare-lf")
    t.eq(replay(srv.port, ["EHLO crlf.test"], "crlf@remote.example")[2:], DELIVERED[1:],
         label + "strict-crlf: a CRLF message delivers")

    # allow-bare-lf=127.0.0.1/32 (through a reload): this client may again
    t.ok(reload(srv, lines + ["allow-bare-lf=127.0.0.1/32"]), label + "reload with allow-bare-lf=127.0.0.1/32")
    if shutil.which("curl"):
        rc, out = curl_lf(srv.port, "curl@router.example")
        t.eq(rc, 0, label + "strict-crlf, allow-bare-lf=127.0.0.1/32: curl -T LF-only delivers")
        t.ok(by_sender(d, "curl@router.example") is not None, label + "  stored", out[-1500:])
    t.eq(py_lf(srv.port, "py@remote.example"), "ok",
         label + "strict-crlf, allow-bare-lf=127.0.0.1/32: smtplib bytes deliver")
    t.eq(srv.stop(), 0, label + "exit 0")
    srv.check_sanitizer(t, label)
    srv.cleanup()

t.done()

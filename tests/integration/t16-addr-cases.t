#!/usr/bin/env python3
"""One list of addresses (tests/addr_cases.txt) for `mailnook -t` and for
RCPT TO on a running server: -t accepts mailbox=ADDRESS exactly when RCPT
TO:<ADDRESS> then gets 250; for the others RCPT answers the 501 or 550 the
list gives.  (tests/unit/t_addr_cases.c checks the same list in-process.)"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mntest import TOP, Tap, Server, Raw, binaries  # noqa: E402
from mnops import code  # noqa: E402

t = Tap()


def read_cases():
    """[(line number, code, address as bytes)]"""
    out = []
    with open(os.path.join(TOP, "tests", "addr_cases.txt"), "rb") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip(b"\n")
            if not line or line.startswith(b"#"):
                continue
            want, addr = int(line[:3]), line[4:]
            addr = re.sub(rb"\\x([0-9a-fA-F]{2})", lambda m: bytes([int(m.group(1), 16)]), addr)
            out.append((n, want, addr))
    return out


def domain_of(addr):
    d = addr.rpartition(b"@")[2] if b"@" in addr else b""
    return d or b"example.org"


def check(binary, conf_bytes):
    """`mailnook -t` on a file holding conf_bytes: (exit code, stderr)."""
    d = tempfile.mkdtemp(prefix="mailnook-addr-")
    try:
        path = os.path.join(d, "t.conf")
        with open(path, "wb") as f:
            f.write(conf_bytes.replace(b"@DIR@", d.encode()))
        r = subprocess.run([binary, "-t", "-c", path], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        return r.returncode, r.stderr.decode("utf-8", "replace")
    finally:
        shutil.rmtree(d, ignore_errors=True)


def rcpt(port, addr):
    """RCPT TO:<addr> in a session of its own; the reply's code."""
    c = Raw(port)
    try:
        c.reply()
        c.cmd("EHLO cases.test")
        smtputf8 = b" SMTPUTF8" if any(b > 0x7f for b in addr) else b""
        c.send(b"MAIL FROM:<>" + smtputf8 + b"\r\n")
        mail = code(c.reply())
        if not mail.startswith("250"):
            return "MAIL " + mail
        c.send(b"RCPT TO:<" + addr + b">\r\n")
        r = code(c.reply())
        c.cmd("QUIT")
        return r
    finally:
        c.close()


cases = read_cases()
t.ok(len(cases) > 20, "tests/addr_cases.txt read (%d cases)" % len(cases))

for label, binary in binaries():
    # -t, one case at a time
    accepted = []
    for n, want, addr in cases:
        d = domain_of(addr)
        conf = b"domain=example.org\n"
        if d != b"example.org":
            conf += b"domain=" + d + b"\n"
        conf += b"mailbox=" + addr + b",@DIR@/m\n"
        rc, err = check(binary, conf)
        if rc == 0:
            accepted.append((n, addr))
        t.ok((rc == 0) == (want == 250),
             "%s-t %s line %d" % (label, "accepts" if want == 250 else "refuses", n),
             "exit %d\n%s" % (rc, err))
        if rc != 0 and want != 250:
            t.ok("mailbox" in err, "%s  line %d: the message is about mailbox=" % (label, n), err)

    # one server with every mailbox -t accepted, and the domains they need
    domains = []
    for n, addr in accepted:
        d = domain_of(addr)
        if d != b"example.org" and d not in domains:
            domains.append(d)
    srv = Server(binary, ["domain=example.org"])
    body = b"listen=127.0.0.1:%d\nhostname=mx.test\ndomain=example.org\n" % srv.port
    body += b"mailbox=base@example.org," + srv.dir.encode() + b"/base\n"
    for d in domains:
        body += b"domain=" + d + b"\n"
    for i, (n, addr) in enumerate(accepted):
        body += b"mailbox=" + addr + b"," + srv.dir.encode() + b"/m%d\n" % i
    with open(srv.conf, "wb") as f:
        f.write(body)
    srv.start()
    for n, want, addr in cases:
        got = rcpt(srv.port, addr)
        t.eq(got[:3], str(want), "%sRCPT line %d: %d" % (label, n, want))
    t.eq(srv.stop(), 0, label + "server stops cleanly")
    srv.check_sanitizer(t, label)
    srv.cleanup()

t.done()

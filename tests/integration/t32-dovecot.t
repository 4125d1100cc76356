#!/usr/bin/env python3
"""Dovecot reads what mailnook stores (",S=SIZE,W=VSIZE" in the file name,
VSIZE the size as Dovecot reads it).  Messages with every line-end mixture
go in by DATA and by BDAT (CR before CRLF, a CR ending one chunk and the LF
starting the next, lone CRs, long lines, empty bodies); then Dovecot's own
imap binary, run as an unprivileged user in preauth mode over a pipe with
its own configuration, SELECTs the Maildir and FETCHes every message twice.
For each: BODY[] is the file with a CR added before each LF that has none
(computed here, independently of mailnook), RFC822.SIZE is the W= of the
name, S= is the file's size; Dovecot logs no error or warning (a wrong W=
shows as "Maildir filename has wrong W value" and "Broken virtual size",
and the FETCH is cut short) and renames no file (beyond the ":2," it adds
when moving new/ to cur/)."""
import os
import re
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mntest import Tap, Server, Raw, binaries, maildir_files  # noqa: E402
from mnops import code  # noqa: E402
import mndovecot  # noqa: E402

t = Tap()
NAME_RE = re.compile(r"^[^/:]+,S=(\d+),W=(\d+)$")
BAD_LOG = re.compile(r"Error|Warning|Fatal|Panic|wrong [SW] value|Broken|corrupt",
                     re.IGNORECASE)
LONG = b"x" * 30000

# name: DATA body as sent (dot-stuffed; it ends with CRLF or is empty, as
# only CRLF . CRLF ends DATA)
DATA_CASES = {
    "d-crlf": b"Subject: crlf\r\n\r\nline one\r\nline two\r\n",
    "d-lf": b"Subject: lf\n\nline one\nline two\n\n\r\n",
    "d-mixed": b"Subject: mixed\r\nX-A: b\n\nline one\r\nline two\n\r\n\n..dot\r\nend\r\n",
    "d-long": b"Subject: long\r\n\r\n" + LONG + b"\r\n" + LONG + b"\n" + LONG + b"\r\n",
    "d-nobody": b"Subject: no body\r\n\r\n",
    "d-headers-only": b"Subject: headers only\r\n",
    "d-empty": b"",
}

# name: BDAT chunks (the last one is sent with LAST)
BIG = b"".join(b"line %d\r\r\n" % i for i in range(3000)) + b"\r"
BDAT_CASES = {
    "b-crcrlf": [b"Subject: cr before crlf\r\n\r\nline one\r\r\nline two\r\r\n"],
    "b-cr-lf-split": [b"Subject: split\r\n\r\nline one\r", b"\nline two\r", b"\n"],
    "b-crcr-lf-split": [b"Subject: split2\r\n\r\nline one\r\r", b"\nline two\r", b"\r\n"],
    "b-cr-crlf-split": [b"Subject: split3\r\n\r\nline one\r", b"\r\nline two\r\r\n"],
    "b-lone-cr": [b"Subject: lone\r\n\r\na\rb\r\rc\n\r\nd\r", b"e\r"],
    "b-bare-lf": [b"Subject: bare\n\nline one\nline two\n\n\r\n\n"],
    "b-bytes": [bytes([c]) for c in b"Subject: bytes\r\n\r\na\r\r\nb\r\nc\nd\r\re\r\n\r"],
    "b-long": [b"Subject: long\r\n\r\n" + LONG + b"\r\r\n" + LONG + b"\n", LONG + b"\r", b"\n"],
    "b-big-8191": [BIG[i:i + 8191] for i in range(0, len(BIG), 8191)],
    "b-big-8192": [BIG[i:i + 8192] for i in range(0, len(BIG), 8192)],
    "b-big-8193": [BIG[i:i + 8193] for i in range(0, len(BIG), 8193)],
    "b-big-2047": [BIG[i:i + 2047] for i in range(0, len(BIG), 2047)],
    "b-empty": [b""],
    # right after the Received header mailnook writes (which ends in LF)
    "b-lf-first": [b"\nno header, a bare LF first\r\n"],
    "b-cr-lf-first": [b"\r", b"\nx"],
    "b-crcrlf-first": [b"\r\r\n"],
}


def data_stored(wire):
    """What section 5 says the file holds after the headers: dot-unstuffed
    (a bare LF is a line end too), every CRLF turned into LF."""
    lines = re.split(rb"(?<=\n)", wire)
    body = b"".join(ln[1:] if ln.startswith(b"..") else ln for ln in lines)
    return body.replace(b"\r\n", b"\n")


def as_dovecot_reads(b):
    """The file as Dovecot presents it: a CR added before each LF without one."""
    return re.sub(rb"(?<!\r)\n", b"\r\n", b)


def send_data(port, sender, wire):
    c = Raw(port, timeout=30)
    try:
        c.reply()
        c.cmd("EHLO data.test")
        out = [code(c.cmd("MAIL FROM:<%s>" % sender)), code(c.cmd("RCPT TO:<box@localhost>")),
               code(c.cmd("DATA"))[:3]]
        # in pieces, so that line ends also fall across reads
        data = wire + b".\r\n"
        for i in range(0, len(data), 4093):
            c.send(data[i:i + 4093])
        out.append(code(c.reply(timeout=30)))
        c.cmd("QUIT")
    finally:
        c.close()
    return out


def send_bdat(port, sender, chunks):
    c = Raw(port, timeout=30)
    try:
        c.reply()
        c.cmd("EHLO bdat.test")
        out = [code(c.cmd("MAIL FROM:<%s>" % sender)), code(c.cmd("RCPT TO:<box@localhost>"))]
        for i, ch in enumerate(chunks):
            last = " LAST" if i == len(chunks) - 1 else ""
            c.send(b"BDAT %d%s\r\n" % (len(ch), last.encode()) + ch)
            out.append(code(c.reply(timeout=30)))
        c.cmd("QUIT")
    finally:
        c.close()
    return out


def fetched(out):
    """{the Return-Path sender's local part: (RFC822.SIZE, BODY[])} of the
    FETCH responses."""
    res = {}
    rx = re.compile(rb"\* \d+ FETCH \(([^{]*?)BODY\[\] \{(\d+)\}\r\n")
    pos = 0
    while True:
        m = rx.search(out, pos)
        if not m:
            return res
        size = re.search(rb"RFC822\.SIZE (\d+)", m.group(1))
        start = m.end()
        body = out[start:start + int(m.group(2))]
        pos = start + len(body)
        who = re.match(rb"Return-Path: <([^@>]*)@", body)
        if who and size:
            res[who.group(1).decode()] = (int(size.group(1)), body)


def check(label, srv, acct):
    md = srv.maildir("box")
    names = maildir_files(md)
    files = {}
    for n in names:
        data = open(os.path.join(md, "new", n), "rb").read()
        who = re.match(rb"Return-Path: <([^@>]*)@", data)
        files[who.group(1).decode() if who else n] = (n, data)
    cases = {k: ("data", v) for k, v in DATA_CASES.items()}
    cases.update({k: ("bdat", v) for k, v in BDAT_CASES.items()})
    t.eq(sorted(files), sorted(cases), label + "one file per message, each found by its sender")

    # the file holds what section 5 says, and its name's S= and W=
    for k, (how, v) in sorted(cases.items()):
        if k not in files:
            continue
        n, data = files[k]
        body = data_stored(v) if how == "data" else b"".join(v).replace(b"\r\n", b"\n")
        head = data[:len(data) - len(body)]
        t.ok(data.endswith(body) and re.fullmatch(
            rb"Return-Path: <[^>\r\n]*>\nReceived: [^\r]*\n", head),
            label + k + ": the file is the two headers and the message, CRLF to LF",
            "%r" % data[-300:])
        m = NAME_RE.match(n)
        t.ok(m and int(m.group(1)) == len(data)
             and int(m.group(2)) == len(as_dovecot_reads(data)),
             label + k + ": S= is the file's size, W= its size as Dovecot reads it",
             "%s: size %d, as Dovecot reads it %d" % (n, len(data), len(as_dovecot_reads(data))))

    # Dovecot: a private configuration, a preauthenticated imap process
    home = tempfile.mkdtemp(prefix="mailnook-dovecot-")
    try:
        conf = mndovecot.write_conf(home, md)
        if acct[0] is not None:
            mndovecot.chown_tree(home, acct)
            mndovecot.chown_tree(md, acct)
            os.chmod(srv.dir, 0o711)    # so the account can reach the Maildir
        logs = []
        for sel in ("SELECT", "EXAMINE"):
            out, err = mndovecot.session(home, conf, acct, [
                (b"a", sel.encode() + b" INBOX"),
                (b"b", b"FETCH 1:* (UID RFC822.SIZE BODY.PEEK[])"), (b"c", b"LOGOUT")], timeout=60)
            logs.append(err.decode("utf-8", "replace"))
            t.ok(re.search(rb"\r\nb OK ", out) and re.search(rb"\r\nc OK ", out),
                 label + sel + ": Dovecot's FETCH and LOGOUT complete",
                 out[-1500:].decode("utf-8", "replace") + "\n" + logs[-1][-1500:])
            got = fetched(out)
            t.eq(sorted(got), sorted(files), label + sel + ": Dovecot returns every message")
            for k in sorted(files):
                if k not in got:
                    continue
                n, data = files[k]
                size, body = got[k]
                want = as_dovecot_reads(data)
                t.ok(body == want, label + sel + " " + k + ": BODY[] is the file, LF as CRLF",
                     "got  %d %r\nwant %d %r" % (len(body), body[-200:], len(want), want[-200:]))
                t.eq(size, int(NAME_RE.match(n).group(2)),
                     label + sel + " " + k + ": RFC822.SIZE is W=")
        try:
            logs.append(open(os.path.join(home, "dovecot.log"), "rb").read().decode("utf-8", "replace"))
        except FileNotFoundError:
            pass
        bad = [ln for ln in "\n".join(logs).splitlines() if BAD_LOG.search(ln)]
        t.ok(not bad, label + "Dovecot logs no error or warning", "\n".join(bad[:20]))
        now = sorted(x.split(":", 1)[0] for x in maildir_files(md, "cur") + maildir_files(md))
        t.eq(now, sorted(names), label + "Dovecot renamed no file (only new/ to cur/ with :2,)")
    finally:
        shutil.rmtree(home, ignore_errors=True)


acct = mndovecot.account()
if not mndovecot.installed():
    t.skip("Dovecot reads mailnook's Maildir", "dovecot-imapd not installed (%s)" % mndovecot.IMAP)
elif acct is None:
    t.skip("Dovecot reads mailnook's Maildir", "no unprivileged account (nobody) to run it as")
else:
    for label, binary in binaries():
        # allow-bare-lf: a bare LF in DATA is a line end (section 3)
        srv = Server(binary, ["domain=localhost", "mailbox=box@localhost,@DIR@/box",
                              "allow-bare-lf"]).start()
        try:
            for k, v in sorted(DATA_CASES.items()):
                t.eq(send_data(srv.port, k + "@remote.example", v),
                     ["250 2.1.0", "250 2.1.5", "354", "250 2.0.0"],
                     label + k + ": DATA accepted")
            for k, v in sorted(BDAT_CASES.items()):
                t.eq(send_bdat(srv.port, k + "@remote.example", v),
                     ["250 2.1.0", "250 2.1.5"] + ["250 2.0.0"] * len(v),
                     label + k + ": BDAT accepted")
            check(label, srv, acct)
            srv.check_sanitizer(t, label)
        finally:
            srv.cleanup()
t.done()

#!/usr/bin/env python3
"""Large messages (issue 15): the commit process and the read spill.

- A build with CONFIG_COMMIT_CHILD runs one child, "mailnook-commit", that
  holds no descriptor of the server's but its own socket (no listener, no
  session, no pid file); it goes when the server stops.
- 8 sessions at once, each sending 5 messages of 300 KiB to 2 MiB with
  dot-stuffed lines and bare LFs across every read boundary: each stored
  once, byte for byte, with its S= and W= right.
- While a large message's commit waits on the disk (fault shim: the fsync
  of new/ takes 2 s), another session's DATA is answered 354 before the
  first one's 250: the loop reads on.  (Before, the loop waited in the
  commit and the 354 came after the 250.)
- The commit process killed while it commits: that message gets 451 and is
  in no new/ and no tmp/; the next large message is stored (the loop
  commits it) and the log says why.  Killed while idle: it is logged and reaped at
  once, and the next large message is stored, once.
- EIO from the fsync of a large message's file, in the child: 451, nothing
  stored; the session goes on.
- The spill: 3000 NOOPs pipelined behind a 1 MiB message's end are all
  answered, in order, after its 250; 3000 RSETs behind STARTTLS are never
  answered, in plaintext or after the handshake.
"""
import os
import re
import signal
import socket
import ssl
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mntest import Tap, Server, Raw, binaries, maildir_files  # noqa: E402
from mnops import build_fault_shim, fd_links, features, make_cert, wait_log  # noqa: E402

t = Tap()


def children(pid):
    """Pids whose parent is pid."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                st = f.read()
        except OSError:
            continue
        if int(st[st.rindex(")") + 2:].split()[1]) == pid:
            out.append(int(name))
    return out


def comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return ""


def body(n, size):
    """A message of about size octets whose lines start with dots, end in
    bare LFs now and then, and fall across every read boundary."""
    head = b"Subject: large %d\r\n\r\n" % n
    lines, total, i = [], len(head), 0
    while total < size:
        k = 1 + (i * 7919 + n * 104729) % 997
        line = (b"." if i % 3 == 0 else b"") + (b"%d-" % i) * (k // 6 + 1)
        line = line[:k] + (b"\n" if i % 11 == 5 else b"\r\n")
        lines.append(line)
        total += len(line)
        i += 1
    return head + b"".join(lines) + b"end\r\n"


def wire(msg):
    """msg as sent in DATA: CRLF line ends kept, bare LFs too, dots doubled
    (msg ends in CRLF)."""
    out = []
    for line in msg.split(b"\n"):
        out.append((b"." + line) if line.startswith(b".") else line)
    return b"\n".join(out) + b".\r\n"


def stored(msg):
    """msg as mailnook stores it: LF line ends."""
    return msg.replace(b"\r\n", b"\n")


def open_data(port, rcpt="user@localhost"):
    c = Raw(port, timeout=30)
    c.reply()
    c.cmd("EHLO large.test")
    c.cmd("MAIL FROM:<cam@remote.example>")
    c.cmd("RCPT TO:<%s>" % rcpt)
    return c


def nothing_waiting(c, wait=0.0):
    c.sock.settimeout(max(wait, 0.01))
    try:
        got = c.sock.recv(4096)
    except socket.timeout:
        return True
    c.buf += got
    return False


def new_bodies(maildir):
    out = {}
    for name in maildir_files(maildir):
        with open(os.path.join(maildir, "new", name), "rb") as f:
            out[name] = f.read()
    return out


def received_stripped(data):
    """The stored file without the lines mailnook adds on top
    (Return-Path:, Received: and their continuations)."""
    m = re.match(rb"(?:(?:Return-Path|Received): [^\n]*\n(?:[ \t][^\n]*\n)*)*", data)
    return data[m.end():]


SHIM, _ = build_fault_shim()

for label, binary in binaries():
    feats = features(binary)
    child_build = "commit-process" in feats
    flag = tempfile.mktemp(prefix="mailnook-fault-")
    env = {"LD_PRELOAD": SHIM, "MAILNOOK_FAULT": flag,
           "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:verify_asan_link_order=0"} if SHIM else None
    srv = Server(binary, ["domain=localhost", "mailbox=user@localhost,@DIR@/user",
                          "mailbox=other@localhost,@DIR@/other", "max-sessions=16",
                          "pid-file=@DIR@/pid"], env=env).start()
    user = srv.maildir("user")
    pid = srv.proc.pid

    # ---- the child --------------------------------------------------------------
    kids = children(pid)
    if child_build:
        t.eq([comm(k) for k in kids], ["mailnook-commit"], label + "one child, mailnook-commit")
        fds = fd_links(kids[0]) if kids else {}
        others = {n: v for n, v in fds.items() if n > 2}
        t.ok(len(others) == 1 and list(others.values())[0].startswith("socket:"),
             label + "  it holds one descriptor beyond 0-2, its socket", repr(fds))
        t.ok(not any(v.endswith("/pid") for v in fds.values()),
             label + "  not the pid file", repr(fds))
    else:
        t.eq(kids, [], label + "no commit process in this build")

    # ---- 8 sessions of large messages, byte for byte ---------------------------
    sent = {}
    conns = []
    for i in range(8):
        conns.append(open_data(srv.port))
    ok = 0
    for rnd in range(5):
        for i, c in enumerate(conns):
            n = rnd * 8 + i
            msg = body(n, 300 * 1024 + (n * 397 * 1024) % (1800 * 1024))
            sent[n] = msg
            c.send("DATA\r\n")
        for i, c in enumerate(conns):
            c.reply()
        for i, c in enumerate(conns):
            c.send(wire(sent[rnd * 8 + i]))
        for i, c in enumerate(conns):
            ok += c.reply(30).startswith("250 2.0.0")
            if rnd < 4:
                c.cmd("MAIL FROM:<cam@remote.example>")
                c.cmd("RCPT TO:<user@localhost>")
    for c in conns:
        c.cmd("QUIT")
        c.close()
    t.eq(ok, 40, label + "40 large messages from 8 sessions at once: 250 each")
    got = new_bodies(user)
    t.eq(len(got), 40, label + "  40 files in new/")
    want = sorted(stored(m) for m in sent.values())
    have = sorted(received_stripped(v) for v in got.values())
    t.ok(want == have, label + "  each byte for byte (dots, CRLF, bare LFs across reads)")
    sizes_ok = all(re.search(r",S=%d,W=%d$" % (len(v), len(v) + v.count(b"\n")), k)
                   for k, v in got.items())
    t.ok(sizes_ok, label + "  S= and W= right in every name")
    t.eq(maildir_files(user, "tmp"), [], label + "  tmp/ empty")

    # ---- the loop reads on while a large commit waits on the disk ---------------
    if not SHIM or not child_build:
        t.skip(label + "354 while a commit waits", "no shim" if not SHIM else "no commit process")
        t.skip(label + "commit process killed", "no shim" if not SHIM else "no commit process")
        t.skip(label + "EIO in the child", "no shim" if not SHIM else "no commit process")
    else:
        a = open_data(srv.port)
        b = open_data(srv.port, "other@localhost")
        a.cmd("DATA")
        with open(flag, "w") as f:
            f.write("slowdir")
        a.send(wire(body(100, 200 * 1024)))
        time.sleep(0.5)         # a's message is read; its commit sleeps 2 s
        r = b.cmd("DATA", timeout=10)
        a_quiet = nothing_waiting(a)
        t.ok(r.startswith("354") and a_quiet,
             label + "354 to another session while a large commit waits (its 250 not yet sent)",
             "b: %r, a had a reply: %s" % (r, not a_quiet))
        t.like(a.reply(20), r"^250 2\.0\.0", label + "  then the large one's 250")
        os.unlink(flag)
        b.send(wire(body(101, 1000)))
        t.like(b.reply(20), r"^250 2\.0\.0", label + "  and the other message's")
        a.cmd("QUIT")
        b.cmd("QUIT")
        a.close()
        b.close()

        # ---- EIO in the child ----------------------------------------------------
        before = len(maildir_files(user))
        c = open_data(srv.port)
        c.cmd("DATA")
        with open(flag, "w") as f:
            f.write("file")
        c.send(wire(body(102, 500 * 1024)))
        t.like(c.reply(20), r"^451 4\.3\.0", label + "EIO from fsync of a large message's file: 451 4.3.0")
        os.unlink(flag)
        t.eq((len(maildir_files(user)), maildir_files(user, "tmp")), (before, []),
             label + "  nothing in new/ or tmp/")
        c.cmd("RSET")
        c.cmd("MAIL FROM:<cam@remote.example>")
        c.cmd("RCPT TO:<user@localhost>")
        c.cmd("DATA")
        c.send(wire(body(103, 500 * 1024)))
        t.like(c.reply(20), r"^250 2\.0\.0", label + "  the session goes on: the next one is stored")
        c.cmd("QUIT")
        c.close()

        # ---- the commit process killed while it commits ---------------------------
        before = len(maildir_files(user))
        kid = children(pid)[0]
        c = open_data(srv.port)
        c.cmd("DATA")
        with open(flag, "w") as f:
            f.write("hangdir")
        c.send(wire(body(104, 400 * 1024)))
        deadline = time.time() + 10
        while len(maildir_files(user)) == before and time.time() < deadline:
            time.sleep(0.02)        # linked; now the fsync of new/ hangs
        os.kill(kid, signal.SIGKILL)
        os.unlink(flag)         # the loop's own fsyncs of new/ are next
        t.like(c.reply(20), r"^451 4\.3\.0", label + "commit process killed mid-commit: 451 4.3.0")
        t.eq((len(maildir_files(user)), maildir_files(user, "tmp")), (before, []),
             label + "  its link undone, nothing in tmp/")
        t.ok(wait_log(srv, "commit process ended"), label + "  logged")
        c.cmd("MAIL FROM:<cam@remote.example>")
        c.cmd("RCPT TO:<user@localhost>")
        c.cmd("DATA")
        c.send(wire(body(105, 400 * 1024)))
        t.like(c.reply(20), r"^250 2\.0\.0", label + "  the next large message is stored (in the loop)")
        t.eq(len(maildir_files(user)), before + 1, label + "  once")
        c.cmd("QUIT")
        c.close()

    # ---- the spill: pipelined input behind a large message --------------------
    c = open_data(srv.port)
    c.cmd("DATA")
    c.send(wire(body(106, 1024 * 1024)) + b"NOOP\r\n" * 3000)
    first = c.reply(30)
    noops = c.replies(3000, 30)
    t.ok(first.startswith("250 2.0.0") and all(r.startswith("250 2.0.0") for r in noops),
         label + "3000 NOOPs pipelined behind a 1 MiB message: its 250, then 3000 replies",
         "%r %r" % (first, [r for r in noops if not r.startswith("250")][:3]))
    t.eq(c.cmd("QUIT")[:3], "221", label + "  then QUIT, in order")
    c.close()

    t.eq(srv.stop(), 0, label + "exit 0")
    t.eq([k for k in kids if os.path.exists("/proc/%d" % k) and comm(k) == "mailnook-commit"], [],
         label + "the commit process is gone too")
    srv.check_sanitizer(t, label)
    srv.cleanup()

    # ---- the commit process killed while idle ---------------------------------
    if child_build:
        srv = Server(binary, ["domain=localhost", "mailbox=user@localhost,@DIR@/user"]).start()
        kid = children(srv.proc.pid)
        for k in kid:
            os.kill(k, signal.SIGKILL)
        t.ok(wait_log(srv, "commit process has ended"),
             label + "commit process killed while idle: logged at once")
        deadline = time.time() + 5
        while any(os.path.exists("/proc/%d" % k) for k in kid) and time.time() < deadline:
            time.sleep(0.02)
        t.ok(kid and not any(os.path.exists("/proc/%d" % k) for k in kid),
             label + "  and reaped (no zombie left)")
        c = open_data(srv.port)
        c.cmd("DATA")
        c.send(wire(body(107, 300 * 1024)))
        t.like(c.reply(20), r"^250 2\.0\.0", label + "commit process killed while idle: the next large message 250")
        t.eq(len(maildir_files(srv.maildir("user"))), 1, label + "  stored once")
        t.eq(srv.log().count("commit process has ended"), 1, label + "  logged once")
        c.cmd("QUIT")
        c.close()
        t.eq(srv.stop(), 0, label + "  exit 0")
        srv.check_sanitizer(t, label)
        srv.cleanup()

    # ---- STARTTLS with plaintext behind it, more than a receive buffer ---------
    if "tls" not in feats:
        t.skip(label + "STARTTLS with 18 KiB behind it", "built without TLS")
        continue
    d = tempfile.mkdtemp(prefix="mailnook-tls-")
    crt, key = make_cert(d)
    srv = Server(binary, ["domain=localhost", "mailbox=user@localhost,@DIR@/user",
                          "tls-cert=" + crt, "tls-key=" + key]).start()
    c = Raw(srv.port)
    c.reply()
    c.cmd("EHLO inject.test")
    c.send(b"STARTTLS\r\n" + b"RSET\r\n" * 3000)
    t.like(c.reply(), r"^220 2\.0\.0", label + "STARTTLS with 3000 RSETs behind it: 220")
    t.ok(nothing_waiting(c, 0.5) and c.buf == b"", label + "  no plaintext reply to any RSET")
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    first = None
    try:
        c.sock.settimeout(10)
        tls = ctx.wrap_socket(c.sock, server_hostname="mx.test")
        tls.sendall(b"EHLO inject.test\r\n")
        first = tls.recv(4096).decode(errors="replace")
        tls.close()
    except (ssl.SSLError, OSError):
        first = "handshake failed"     # the RSETs reached the TLS layer
    t.ok(first == "handshake failed" or first.startswith("250-mx.test"),
         label + "  after the handshake: EHLO's reply first, no RSET's", first)
    t.eq(srv.stop(), 0, label + "  exit 0")
    srv.check_sanitizer(t, label)
    srv.cleanup()

t.done()

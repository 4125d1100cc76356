#!/usr/bin/env python3
"""Signals and the process: SIGHUP with a good and a broken configuration
while sessions are open, SIGTERM and SIGINT with a message in flight (it
finishes and gets 250, idle sessions get 421 4.3.2, exit 0; one that does
not finish is cut after 10 s), SIGUSR1, SIGPIPE ignored, user= (uid, gid
and groups of nobody), pid-file, the warning when running as root."""
import grp
import os
import pwd
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mntest import Tap, Server, Raw, binaries, maildir_files  # noqa: E402
from mnops import code, features, proc_status, read_text, transaction, wait_log, write_conf  # noqa: E402

t = Tap()
BODY = b"Subject: sig\r\n\r\nsignal test\r\n"


def start_txn(port, rcpt="user@localhost", data=True):
    """A session with MAIL and RCPT done (and DATA's 354 when data)."""
    c = Raw(port)
    c.reply()
    c.cmd("EHLO sig.test")
    c.cmd("MAIL FROM:<a@remote.example>")
    r = code(c.cmd("RCPT TO:<%s>" % rcpt))
    if data and r.startswith("250"):
        r = code(c.cmd("DATA"))
    return c, r


def idle(port):
    c = Raw(port)
    c.reply()
    c.cmd("EHLO idle.test")
    return c


def wait_file(path, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if os.path.exists(path):
            return True
        time.sleep(0.05)
    return False


def refused(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        return False
    except OSError:
        return True


for label, binary in binaries():
    stats = "stats" in features(binary)
    # ---- SIGHUP --------------------------------------------------------------
    lines = ["domain=localhost", "mailbox=user@localhost,@DIR@/user"]
    srv = Server(binary, lines).start()
    a, r = start_txn(srv.port, data=False)
    t.eq(r, "250 2.1.5", label + "session A: a transaction open")
    t.eq(code(a.cmd("RCPT TO:<new@localhost>")), "550 5.1.1", label + "  new@ unknown before the reload")
    write_conf(srv, lines + ["mailbox=new@localhost,@DIR@/new", "max-message-size=2M"])
    srv.signal(signal.SIGHUP)
    t.ok(wait_log(srv, "reload: configuration reloaded"), label + "SIGHUP: configuration reloaded", srv.log()[-2000:])
    t.ok(os.path.isdir(os.path.join(srv.maildir("new"), "new")), label + "  the new Maildir is created")
    t.eq(code(a.cmd("NOOP")), "250 2.0.0", label + "  the open session goes on")
    b = Raw(srv.port)
    b.reply()
    t.like(b.cmd("EHLO new.test"), r"(?m)^250[- ]SIZE 2097152$", label + "  a new session sees the new limits")
    b.cmd("QUIT")
    b.close()
    t.eq(transaction(srv.port, ["new@localhost"], BODY)[-1], "250 2.0.0",
         label + "  a new session delivers to the new mailbox")
    t.eq(len(maildir_files(srv.maildir("new"))), 1, label + "  stored there")

    # a second reload waits for A's transaction, begun two configurations ago
    write_conf(srv, lines + ["mailbox=new@localhost,@DIR@/new", "mailbox=third@localhost,@DIR@/third"])
    srv.signal(signal.SIGHUP)
    t.ok(wait_log(srv, "reload: waiting for 1 transactions"), label + "second SIGHUP waits for the old transaction",
         srv.log()[-2000:])
    t.ok(code(a.cmd("DATA")).startswith("354"), label + "  session A: DATA")
    a.send(BODY + b".\r\n")
    t.eq(code(a.reply()), "250 2.0.0", label + "  session A's message stored under its configuration")
    t.ok(wait_log(srv, "reload: configuration reloaded", 2), label + "  then the reload is done")
    t.eq(transaction(srv.port, ["third@localhost"], BODY)[-1], "250 2.0.0", label + "  third@ now delivers")

    # a broken configuration: logged, the old one kept
    write_conf(srv, lines + ["frobnicate=yes"])
    srv.signal(signal.SIGHUP)
    t.ok(wait_log(srv, "reload: configuration invalid, keeping the old one"),
         label + "broken configuration: logged, old one kept", srv.log()[-2000:])
    t.like(srv.log(), r"reload: \S+mailnook\.conf:\d+: .*frobnicate", label + "  the error names FILE:LINE")
    t.eq(code(a.cmd("NOOP")), "250 2.0.0", label + "  the open session goes on")
    t.eq(transaction(srv.port, ["third@localhost"], BODY)[-1], "250 2.0.0",
         label + "  new sessions use the old (good) configuration")
    a.cmd("QUIT")
    a.close()
    # a configuration whose Maildir cannot be made is refused as well
    open(os.path.join(srv.dir, "blocker"), "w").close()
    write_conf(srv, lines + ["mailbox=x@localhost,@DIR@/blocker/Maildir"])
    srv.signal(signal.SIGHUP)
    t.ok(wait_log(srv, "reload: configuration invalid, keeping the old one", 2),
         label + "unusable Maildir in the new configuration: old one kept")
    t.eq(transaction(srv.port, ["third@localhost"], BODY)[-1], "250 2.0.0", label + "  still serving")

    # ---- SIGPIPE -----------------------------------------------------------
    c = Raw(srv.port)
    c.send(b"EHLO pipe.test\r\n" + b"NOOP\r\n" * 5000)
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    c.close()                           # RST, replies unread
    srv.signal(signal.SIGPIPE)
    time.sleep(0.3)
    t.ok(srv.proc.poll() is None, label + "SIGPIPE (sent, and a client gone before reading): still running")
    t.eq(transaction(srv.port, ["user@localhost"], BODY)[-1], "250 2.0.0", label + "  and serving")
    if os.geteuid() == 0:
        t.ok("running as root: set user=NAME" in srv.log(), label + "root without user=: a warning is logged")
    else:
        t.skip(label + "root without user= warning", "not running as root")
    t.eq(srv.stop(), 0, label + "exit 0")
    srv.check_sanitizer(t, label)
    srv.cleanup()

    # ---- SIGTERM / SIGINT with a message in flight --------------------------
    for sig, name in ((signal.SIGTERM, "SIGTERM"), (signal.SIGINT, "SIGINT")):
        srv = Server(binary, ["domain=localhost", "mailbox=user@localhost,@DIR@/user"] +
                     (["stats-file=@DIR@/stats.prom"] if stats else [])).start()
        user = srv.maildir("user")
        if sig == signal.SIGTERM and stats:
            spath = os.path.join(srv.dir, "stats.prom")
            deadline = time.time() + 10
            while not os.path.exists(spath) and time.time() < deadline:
                time.sleep(0.05)
            os.unlink(spath)
            srv.signal(signal.SIGUSR1)
            t.ok(wait_file(spath), label + "SIGUSR1 writes the stats file")
        x, r = start_txn(srv.port)
        x.send(b"Subject: in flight\r\n\r\nfirst half\r\n")
        y, z = idle(srv.port), idle(srv.port)
        stalled = None
        if sig == signal.SIGINT:
            stalled, _ = start_txn(srv.port)
            stalled.send(b"Subject: stalled\r\n\r\nnever finished\r\n")
        time.sleep(0.3)
        t0 = time.time()
        srv.signal(sig)
        t.eq(code(y.reply()), "421 4.3.2", label + name + ": an idle session gets 421 4.3.2")
        t.eq(code(z.reply()), "421 4.3.2", label + name + ": another idle session too")
        t.ok(y.closed() and z.closed(), label + "  and they are closed")
        t.ok(refused(srv.port), label + "  no longer listening")
        time.sleep(1)
        x.send(b"second half\r\n.\r\n")
        t.eq(code(x.reply()), "250 2.0.0", label + "  the message in DATA finishes: 250")
        t.eq(code(x.reply()), "421 4.3.2", label + "  then 421 4.3.2")
        t.ok(x.closed(), label + "  and closed")
        if stalled:
            t.eq(code(stalled.reply(timeout=30)), "421 4.3.2",
                 label + "  DATA not finished within 10 s: 421 4.3.2")
            waited = time.time() - t0
            t.ok(waited >= 9.5, label + "  ... not before 10 s (%.1f s)" % waited)
        try:
            rc = srv.proc.wait(30)
        except Exception:
            rc = None
        t.eq(rc, 0, label + name + ": exit 0")
        srv.stop()
        files = [open(os.path.join(user, "new", n), "rb").read() for n in maildir_files(user)]
        t.eq(len(files), 1, label + "  one message stored")
        t.ok(files and b"second half\n" in files[0], label + "  the whole message")
        t.eq(maildir_files(user, "tmp"), [], label + "  tmp/ empty")
        if stats:
            st = read_text(os.path.join(srv.dir, "stats.prom")) or ""
            t.ok("mailnook_messages_delivered_total 1\n" in st, label + "  stats written at exit")
        for c in (x, y, z, stalled):
            if c:
                c.close()
        srv.check_sanitizer(t, label)
        srv.cleanup()

    # ---- user= and pid-file -----------------------------------------------------
    try:
        pw = pwd.getpwnam("nobody")
    except KeyError:
        pw = None
    if os.geteuid() != 0:
        t.skip(label + "user=nobody", "not running as root")
    elif pw is None:
        t.skip(label + "user=nobody", "no user nobody on this system")
    else:
        srv = Server(binary, ["domain=localhost", "mailbox=user@localhost,@DIR@/nb/Maildir", "user=nobody",
                              "pid-file=@DIR@/mailnook.pid"])
        os.chmod(srv.dir, 0o711)
        os.mkdir(os.path.join(srv.dir, "nb"), 0o700)
        os.chown(os.path.join(srv.dir, "nb"), pw.pw_uid, pw.pw_gid)
        srv.start()
        pid = srv.proc.pid
        status = proc_status(pid)
        uids = status["Uid"].split()
        gids = status["Gid"].split()
        groups = sorted(int(g) for g in status.get("Groups", "").split())
        want_groups = sorted(set(os.getgrouplist("nobody", pw.pw_gid)))
        t.eq(uids, [str(pw.pw_uid)] * 4, label + "user=nobody: real, effective, saved, fs uid")
        t.eq(gids, [str(pw.pw_gid)] * 4, label + "  gid is nobody's group (%s)" % grp.getgrgid(pw.pw_gid).gr_name)
        t.eq(groups, want_groups, label + "  supplementary groups are nobody's")
        t.eq((read_text(os.path.join(srv.dir, "mailnook.pid")) or "").strip(), str(pid),
             label + "pid-file holds the pid")
        t.eq(transaction(srv.port, ["user@localhost"], BODY)[-1], "250 2.0.0", label + "  delivers as nobody")
        md = os.path.join(srv.dir, "nb", "Maildir")
        names = maildir_files(md)
        st = os.stat(os.path.join(md, "new", names[0])) if names else None
        t.ok(st and st.st_uid == pw.pw_uid and (st.st_mode & 0o777) == 0o600,
             label + "  the file is nobody's, mode 0600")
        t.ok("running as root" not in srv.log(), label + "  no root warning")
        t.eq(srv.stop(), 0, label + "exit 0")
        pidf = read_text(os.path.join(srv.dir, "mailnook.pid"))
        t.ok(not pidf, label + "  pid-file removed or emptied at exit")
        srv.check_sanitizer(t, label)
        srv.cleanup()

t.done()

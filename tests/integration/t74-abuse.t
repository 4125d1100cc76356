#!/usr/bin/env python3
"""Load and abuse on loopback, bounded in count and time: more clients than
max-sessions, slowloris clients (timeout=2), a pipelining flood of 200k
commands read only at the end, a 100 MB DATA over the size limit, a client
that stops reading.  A well-behaved client is served while each runs, and
afterwards the server holds as many descriptors as before and its peak
memory (VmHWM, measured after a warm-up; normal build only) has not grown."""
import os
import re
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mntest import Tap, Server, Raw, binaries, maildir_files  # noqa: E402
from mnops import close_all, code, fd_count, hold, reload, transaction, vm_kb  # noqa: E402

t = Tap()
MAX = 8
BODY = b"Subject: good\r\n\r\nwell-behaved client\r\n"
HWM_SLACK_KB = 16       # page-granular noise; the buffers were all used in the warm-up


def good(port):
    """A well-behaved client's delivery: the final reply code."""
    try:
        return transaction(port, ["user@localhost"], BODY, helo="good.test")[-1]
    except (OSError, EOFError) as e:
        return "error: %r" % e


def wait_fds(pid, want, timeout=20):
    deadline = time.time() + timeout
    n = fd_count(pid)
    while n != want and time.time() < deadline:
        time.sleep(0.1)
        n = fd_count(pid)
    return n


def flood_cmds(n):
    """n commands in a pattern whose replies can be told apart: NOOP, NOOP,
    HELO (250 2.0.0 Ok, 250 2.0.0 Ok, 250 mx.test)."""
    pat = [b"NOOP\r\n", b"NOOP\r\n", b"HELO flood.test\r\n"]
    want = ["250 2.0.0 Ok", "250 2.0.0 Ok", "250 mx.test"]
    return b"".join(pat[i % 3] for i in range(n)), [want[i % 3] for i in range(n)]


def flood(port, n, during=None):
    """Writes n pipelined commands, reading nothing until they are all
    written (or until TCP's buffers are full, when a client has to read);
    then reads every reply.  Returns (replies in order == expected, the
    write finished before reading, result of during())."""
    data, want = flood_cmds(n)
    c = Raw(port, timeout=60)
    c.reply()
    c.cmd("EHLO flood.test")
    done = threading.Event()

    def writer():
        try:
            c.sock.sendall(data)
        except OSError:
            pass
        done.set()

    th = threading.Thread(target=writer)
    th.start()
    other = during() if during else None
    wrote_all = done.wait(20)
    got, buf = [], b""
    deadline = time.time() + 120
    c.sock.settimeout(5)
    while len(got) < n and time.time() < deadline:
        try:
            chunk = c.sock.recv(1 << 20)
        except socket.timeout:
            continue
        if not chunk:
            break
        buf += chunk
        lines = buf.split(b"\r\n")
        buf = lines.pop()
        got.extend(x.decode() for x in lines)
    th.join(30)
    c.cmd("QUIT")
    c.close()
    bad = next((i for i, (g, w) in enumerate(zip(got, want)) if g != w), None)
    return len(got) == n and bad is None, wrote_all, other, (len(got), bad, got[bad] if bad is not None else None)


def big_data(port, total, during=None):
    """DATA of total bytes, generated lazily in 64 KiB pieces; the reply."""
    c = Raw(port, timeout=120)
    c.reply()
    c.cmd("EHLO big.test")
    c.cmd("MAIL FROM:<a@remote.example>")
    c.cmd("RCPT TO:<user@localhost>")
    r = code(c.cmd("DATA"))
    if not r.startswith("354"):
        c.close()
        return r, None
    line = b"x" * 1022 + b"\r\n"
    piece = b"Subject: huge\r\n\r\n" + line * 64
    result = {}

    def writer():
        sent = 0
        try:
            while sent < total:
                c.sock.sendall(piece)
                sent += len(piece)
            c.sock.sendall(b".\r\n")
        except OSError as e:
            result["error"] = repr(e)

    th = threading.Thread(target=writer)
    th.start()
    other = during() if during else None
    th.join(300)
    r = code(c.reply(timeout=120)) if "error" not in result else result["error"]
    c.cmd("QUIT")
    c.close()
    return r, other


def slowloris(port, n, step=0.4, limit=20):
    """n clients that each trickle one byte of a command every step seconds;
    returns the list of their final replies (421 4.4.2 expected)."""
    conns = [Raw(port) for _ in range(n)]
    for c in conns:
        c.reply()
    finals = [None] * n
    text = b"EHLO slow.example.org and more text that never ends"
    deadline = time.time() + limit
    i = 0
    while None in finals and time.time() < deadline:
        for k, c in enumerate(conns):
            if finals[k] is not None:
                continue
            try:
                c.sock.send(text[i % len(text):i % len(text) + 1])
                data = c.sock.recv(4096, socket.MSG_DONTWAIT)
                if data:
                    finals[k] = data.decode(errors="replace").split("\r\n")[0][:9]
                elif data == b"":
                    finals[k] = "closed"
            except BlockingIOError:
                pass
            except OSError:
                finals[k] = "closed"
        i += 1
        time.sleep(step)
    close_all(conns)
    return finals


def non_reader(port):
    """A client that writes NOOPs and never reads, until its socket is full."""
    c = Raw(port)
    c.reply()
    c.sock.setblocking(False)
    sent = 0
    deadline = time.time() + 20
    chunk = b"NOOP\r\n" * 10000
    while time.time() < deadline:
        try:
            sent += c.sock.send(chunk)
        except BlockingIOError:
            time.sleep(0.5)
            try:
                c.sock.send(chunk)
            except BlockingIOError:
                break
    return c, sent


def compiled_sessions(binary):
    out = subprocess.run([binary, "-V"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, timeout=30).stdout
    m = re.search(rb"sessions=(\d+)", out)
    return int(m.group(1)) if m else MAX


for label, binary in binaries():
    measure = label == ""
    MAX = min(8, compiled_sessions(binary))
    N_SLOW = MAX - 3 if MAX > 3 else 1
    # timeout=2 only while slowloris clients run (switched by SIGHUP): the
    # other abuse, on a loaded machine, must not be cut by a timeout meant
    # for them
    # every client here is 127.0.0.1: it may take every slot
    NORMAL = ["domain=localhost", "mailbox=user@localhost,@DIR@/user", "max-sessions=%d" % MAX,
              "max-sessions-per-ip=%d" % MAX, "timeout=60"]
    SLOW = NORMAL[:-1] + ["timeout=2"]
    srv = Server(binary, NORMAL).start()
    user = srv.maildir("user")
    pid = srv.proc.pid
    time.sleep(0.5)
    fd_idle = fd_count(pid)     # no session open: listeners, signal pipe, stdio

    # warm-up: every buffer and code path used once, at a small scale
    held = hold(srv.port, MAX)
    extra = Raw(srv.port)
    extra.reply()
    close_all([c for c, _ in held] + [extra])
    wait_fds(pid, fd_idle)
    flood(srv.port, 3000)
    big_data(srv.port, 11 << 20)
    good(srv.port)
    c, _ = non_reader(srv.port)
    c.close()
    transaction(srv.port, ["user@localhost"], b"Subject: w\r\n\r\n" + b"w" * 2_000_000 + b"\r\n")
    t.ok(reload(srv, SLOW), label + "warm-up: reloaded with timeout=2")
    slowloris(srv.port, 2)
    t.ok(reload(srv, NORMAL), label + "warm-up: reloaded with timeout=60")
    fd0 = wait_fds(pid, fd_idle)
    t.eq(fd0, fd_idle, label + "after the warm-up: as many descriptors as at the start (%d)" % fd_idle)
    hwm0 = vm_kb(pid, "VmHWM")
    n_new = len(maildir_files(user))
    t.diag("%safter the warm-up: %d fds, VmHWM %d kB" % (label, fd0, hwm0))

    # more clients than max-sessions
    held = hold(srv.port, MAX)
    t.ok(all(r.startswith("220") for _, r in held), label + "%d sessions open (max-sessions)" % MAX)
    excess = hold(srv.port, 4)
    t.eq([r for _, r in excess], ["421 4.3.2"] * 4, label + "  4 more: 421 4.3.2 each")
    t.ok(all(c.closed() for c, _ in excess), label + "  and closed")
    close_all(c for c, _ in excess)
    t.eq([code(c.cmd("NOOP")) for c, _ in held], ["250 2.0.0"] * MAX, label + "  the first %d are served" % MAX)
    c0 = held[0][0]
    c0.cmd("EHLO held.test")
    c0.cmd("MAIL FROM:<a@remote.example>")
    c0.cmd("RCPT TO:<user@localhost>")
    c0.cmd("DATA")
    c0.send(BODY + b".\r\n")
    t.eq(code(c0.reply()), "250 2.0.0", label + "  and deliver")
    for c, _ in held:
        c.cmd("QUIT")
    close_all(c for c, _ in held)
    n_new += 1

    # pipelining flood, 200k commands, read only at the end
    ok, wrote_all, other, why = flood(srv.port, 200000, during=lambda: good(srv.port))
    t.ok(ok, label + "flood of 200k pipelined commands: every reply, in order", why)
    t.diag("%sflood: all written before reading: %s" % (label, wrote_all))
    t.eq(other, "250 2.0.0", label + "  a good client is served during the flood")
    n_new += 1

    # 100 MB of DATA over the 10M limit
    r, other = big_data(srv.port, 100 << 20, during=lambda: good(srv.port))
    t.eq(r, "552 5.3.4", label + "100 MB DATA over the limit: 552 5.3.4 after the end")
    t.eq(other, "250 2.0.0", label + "  a good client is served meanwhile")
    n_new += 1
    t.eq(len(maildir_files(user)), n_new, label + "  nothing stored for it")
    t.eq(maildir_files(user, "tmp"), [], label + "  tmp/ empty")

    # a client that stops reading
    c, sent = non_reader(srv.port)
    t.diag("%snon-reader wrote %d bytes before its socket filled" % (label, sent))
    t.eq(good(srv.port), "250 2.0.0", label + "a client that stops reading: others are served")
    n_new += 1
    t.eq(code(transaction(srv.port, ["nobody@localhost"], BODY)[1]), "550 5.1.1",
         label + "  and answered at once")
    c.close()

    # slowloris: all slots but three trickled into; a good client is served meanwhile
    t.ok(reload(srv, SLOW), label + "reloaded with timeout=2")
    res = {}
    th = threading.Thread(target=lambda: res.setdefault("slow", slowloris(srv.port, N_SLOW)))
    th.start()
    time.sleep(0.5)
    t.eq(good(srv.port), "250 2.0.0", label + "slowloris: a good client is served meanwhile")
    th.join(60)
    n_new += 1
    t.eq(res.get("slow"), ["421 4.4.2"] * N_SLOW,
         label + "slowloris: each of %d cut with 421 4.4.2 (timeout=2)" % N_SLOW)
    held = hold(srv.port, MAX)
    t.ok(all(r.startswith("220") for _, r in held), label + "  their slots are free again: %d sessions" % MAX)
    for c, _ in held:
        c.cmd("QUIT")
    close_all(c for c, _ in held)

    # afterwards: the same descriptors, the same peak memory
    fd1 = wait_fds(pid, fd0)
    t.eq(fd1, fd0, label + "open descriptors after the abuse: as before (%d)" % fd0)
    hwm1 = vm_kb(pid, "VmHWM")
    t.diag("%sVmHWM before %d kB, after %d kB" % (label, hwm0, hwm1))
    if measure:
        t.ok(hwm1 - hwm0 <= HWM_SLACK_KB, label + "VmHWM has not grown (%d -> %d kB)" % (hwm0, hwm1))
    else:
        t.skip(label + "VmHWM", "measured on the normal build only (ASan's allocator has its own life)")
    t.eq(len(maildir_files(user)), n_new, label + "every good delivery stored")
    t.eq(srv.stop(), 0, label + "exit 0")
    srv.check_sanitizer(t, label)
    srv.cleanup()

t.done()

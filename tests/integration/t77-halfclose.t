#!/usr/bin/env python3
"""A client that half-closes still gets every reply (issue 10
item 4).  As Exim does: the end of the message and QUIT in
one write, then shutdown(SHUT_WR), then read until mailnook closes.  The
250 and the 221 must both arrive and the message is stored exactly once.
For DATA and BDAT LAST, 20 times each; with several recipients and a large
message (a longer commit); with 3000 NOOPs pipelined behind the message
end while the client's receive buffer is tiny (the engine's input buffer is
full during the commit, and the replies take many writes); over implicit
TLS and STARTTLS, with and without a close_notify before the FIN.  Then the
things that must still close at once: a half-close in the middle of DATA
(the message is dropped) and a RST after the end of data."""
import os
import shutil
import socket
import ssl
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mntest import Tap, Server, binaries, free_port, maildir_files  # noqa: E402
from mnops import features, make_cert, wait_log  # noqa: E402

t = Tap()
RUNS = 20
READ_LIMIT_S = 20
NOOPS = 10000


def body(n, size=0):
    text = b"Subject: half-close %d\r\n\r\nline one\r\n" % n
    while len(text) < size:
        text += b"x" * 998 + b"\r\n"
    return text


class Plain:
    def __init__(self, port, rcvbuf=0):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            # before connect(): the window the server sees stays small
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(10)
        self.sock.connect(("127.0.0.1", port))
        self.buf = b""
        self.chunk = 65536      # a slow reader: small reads, a pause before each
        self.pause = 0

    def send(self, data):
        self.sock.sendall(data)

    def recv(self):
        time.sleep(self.pause)
        return self.sock.recv(self.chunk)

    def half_close(self):
        self.sock.shutdown(socket.SHUT_WR)

    def close(self):
        self.sock.close()


class Tls(Plain):
    """TLS over memory BIOs on a plain socket: the test decides when the
    close_notify and the FIN go out, and keeps reading after both."""

    def __init__(self, port, starttls=False):
        super().__init__(port)
        self.eof = False
        self.greeted = starttls
        if starttls:
            self.plain_expect("220 ")
            self.sock.sendall(b"EHLO hc.test\r\n")
            self.plain_expect("250 ")
            self.sock.sendall(b"STARTTLS\r\n")
            self.plain_expect("220 ")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        self.inc, self.out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.obj = ctx.wrap_bio(self.inc, self.out, server_hostname="mx.test")
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                self.obj.do_handshake()
                break
            except ssl.SSLWantReadError:
                self._push()
                self._fill()
        self._push()

    def plain_expect(self, want):
        deadline = time.time() + 10
        while time.time() < deadline:
            while b"\r\n" in self.buf:
                line, self.buf = self.buf.split(b"\r\n", 1)
                if line.decode(errors="replace").startswith(want):
                    return
            chunk = self.sock.recv(4096)
            if not chunk:
                break
            self.buf += chunk
        raise EOFError("no %r before STARTTLS" % want)

    def _push(self):
        data = self.out.read()
        if data:
            self.sock.sendall(data)

    def _fill(self):
        time.sleep(self.pause)
        data = self.sock.recv(self.chunk)
        if data:
            self.inc.write(data)
        else:
            self.inc.write_eof()
            self.eof = True

    def send(self, data):
        self.obj.write(data)
        self._push()

    def recv(self):
        while True:
            try:
                return self.obj.read(65536)
            except ssl.SSLWantReadError:
                if self.eof:
                    return b""
                self._fill()
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                return b""

    def close_notify(self):
        try:
            self.obj.unwrap()
        except ssl.SSLWantReadError:
            pass                # sent; the server's comes later
        self._push()


def read_to_eof(c):
    """Everything the server sends until it closes (or READ_LIMIT_S)."""
    got = b""
    deadline = time.time() + READ_LIMIT_S
    c.sock.settimeout(1)
    while time.time() < deadline:
        try:
            chunk = c.recv()
        except socket.timeout:
            continue
        except (ConnectionResetError, BrokenPipeError, ssl.SSLError) as e:
            return got, "reset (%s)" % e
        if not chunk:
            return got, "eof"
        got += chunk
    return got, "still open after %d s" % READ_LIMIT_S


def lines(data):
    return [x for x in data.decode("utf-8", "replace").split("\r\n") if x]


def expect(c, want):
    """Reads replies until one starts with want (bounded)."""
    got = b""
    deadline = time.time() + 10
    while time.time() < deadline:
        for line in lines(got):
            if line.startswith(want) and line[3:4] != "-":
                return got
        chunk = c.recv()
        if not chunk:
            break
        got += chunk
    raise EOFError("no %r in %r" % (want, got))


def open_txn(c, rcpts):
    if not getattr(c, "greeted", False):
        expect(c, "220 ")
    c.send(b"EHLO hc.test\r\n")
    expect(c, "250 ")
    c.send(b"MAIL FROM:<a@remote.example>\r\n")
    expect(c, "250 ")
    for r in rcpts:
        c.send(b"RCPT TO:<%s>\r\n" % r.encode())
        expect(c, "250 ")


def last_write(mode, n, size=0, noops=0):
    b = body(n, size)
    tail = b"NOOP\r\n" * noops + b"QUIT\r\n"
    if mode == "data":
        return b + b".\r\n" + tail
    return b"BDAT %d LAST\r\n" % len(b) + b + tail


def session(c, mode, n, rcpts=("user@localhost",), size=0, noops=0, notify=False,
            slow=False):
    """One half-closing session; returns (the replies after the last write,
    how it ended).  slow: the last write and the half-close from a thread
    (they may block until replies are read), and the replies read late,
    1 KiB at a time, so that mailnook's writes block while it reads the
    last commands and the EOF."""
    global sessions
    sessions += 1
    try:
        open_txn(c, rcpts)
        if mode == "data":
            c.send(b"DATA\r\n")
            expect(c, "354 ")

        def finish():
            try:
                c.send(last_write(mode, n, size, noops))
                if notify:
                    c.close_notify()
                c.half_close()
            except OSError:
                pass
        if slow:
            w = threading.Thread(target=finish, daemon=True)
            w.start()
            time.sleep(0.5)
            c.chunk, c.pause = 1024, 0.001
        else:
            finish()
        got, how = read_to_eof(c)
        if slow:
            w.join(10)
        return lines(got), how
    except (OSError, EOFError, ssl.SSLError) as e:
        return [], "error %r" % e
    finally:
        c.close()


def complete(replies, how, noops=0):
    """The 250 for the message, every NOOP's 250, the 221, then the close."""
    codes = [r[:9] for r in replies]
    return (how == "eof" and len(codes) == noops + 2 and codes[0] == "250 2.0.0"
            and all(x == "250 2.0.0" for x in codes[1:-1]) and codes[-1] == "221 2.0.0")


def count(d):
    return len(maildir_files(d))


tls_ok = shutil.which("openssl") is not None

for label, binary in binaries():
    L = label
    tls = tls_ok and "tls" in features(binary)
    tls_port = free_port()
    lines_conf = ["domain=localhost", "domain=example.org",
                  "mailbox=user@localhost,@DIR@/user",
                  "mailbox=bob@example.org,@DIR@/bob",
                  "mailbox=carol@example.org,@DIR@/carol",
                  "mailbox=dave@example.org,@DIR@/dave",
                  "max-message-size=20000000", "timeout=5"]
    if tls:
        lines_conf += ["listen-tls=127.0.0.1:%d" % tls_port,
                       "tls-cert=@DIR@/ec.crt", "tls-key=@DIR@/ec.key"]
    srv = Server(binary, lines_conf)
    if tls:
        make_cert(srv.dir)
    srv.start()
    user = srv.maildir("user")
    stored = 0
    sessions = 0

    # ---- DATA and BDAT LAST, 20 times each ------------------------------
    for mode in ("data", "bdat"):
        bad = []
        for i in range(RUNS):
            replies, how = session(Plain(srv.port), mode, i)
            if not complete(replies, how):
                bad.append((i, replies, how))
        stored += RUNS
        t.ok(not bad, L + "%s, end of data + QUIT + half-close: 250 and 221 in %d of %d runs"
             % (mode.upper(), RUNS - len(bad), RUNS), bad[:3])
        t.ok(wait_log(srv, "result=delivered", stored) and count(user) == stored,
             L + "%s: each message stored once (%d files, want %d)"
             % (mode.upper(), count(user), stored))

    # ---- a longer commit: four mailboxes, 1 MB --------------------------
    rc = ("user@localhost", "bob@example.org", "carol@example.org", "dave@example.org")
    for mode in ("data", "bdat"):
        bad = []
        for i in range(3):
            replies, how = session(Plain(srv.port), mode, 100 + i, rcpts=rc, size=1 << 20)
            if not complete(replies, how):
                bad.append((i, replies, how))
        stored += 3
        t.ok(not bad, L + "%s, 4 recipients, 1 MB, half-close: every reply" % mode.upper(), bad[:3])
    t.ok(wait_log(srv, "result=delivered", stored) and count(user) == stored and
         all(count(srv.maildir(m)) == 6 for m in ("bob", "carol", "dave")),
         L + "each large message stored once in each of the four mailboxes")

    # ---- commands the engine holds while it commits --------------------
    # 300 NOOPs fit in its input buffer: read with the EOF during the
    # commit, answered after it (several writes: 4 KiB of replies)
    for mode in ("data", "bdat"):
        bad = []
        for i in range(5):
            replies, how = session(Plain(srv.port), mode, 150 + i, noops=300)
            if not complete(replies, how, noops=300):
                bad.append((i, len(replies), replies[:2], replies[-2:], how))
        stored += 5
        t.ok(not bad, L + "%s + 300 pipelined NOOPs + QUIT, half-close: all 302 replies"
             % mode.upper(), bad[:3])

    # ---- back-pressure: NOOPs behind the message, a slow reader ---------
    for mode in ("data", "bdat"):
        replies, how = session(Plain(srv.port, rcvbuf=2048), mode, 200, noops=NOOPS, slow=True)
        stored += 1
        t.ok(complete(replies, how, noops=NOOPS),
             L + "%s + %d pipelined NOOPs + QUIT, half-close, slow reader: all %d replies"
             % (mode.upper(), NOOPS, NOOPS + 2),
             "got %d replies, %s; last %r" % (len(replies), how, replies[-3:]))
    t.ok(wait_log(srv, "result=delivered", stored) and count(user) == stored,
         L + "back-pressure: each message stored once")

    # ---- TLS -------------------------------------------------------------
    if not tls:
        t.skip(L + "TLS half-close", "no openssl command or no TLS in this build")
    else:
        cases = [("implicit TLS, close_notify + FIN", lambda: Tls(tls_port), True),
                 ("implicit TLS, FIN only", lambda: Tls(tls_port), False),
                 ("STARTTLS, close_notify + FIN", lambda: Tls(srv.port, starttls=True), True),
                 ("STARTTLS, FIN only", lambda: Tls(srv.port, starttls=True), False)]
        for name, make, notify in cases:
            for mode in ("data", "bdat"):
                bad = []
                for i in range(5):
                    try:
                        c = make()
                    except (OSError, EOFError, ssl.SSLError) as e:
                        bad.append((i, "connect", repr(e)))
                        continue
                    if isinstance(c, Tls) and c.obj.version() is None:
                        bad.append((i, "no handshake"))
                        continue
                    replies, how = session(c, mode, 300 + i, notify=notify)
                    stored += 1
                    if not complete(replies, how):
                        bad.append((i, replies, how))
                t.ok(not bad, L + "%s, %s: 250 and 221 in every run" % (name, mode.upper()),
                     "%r\n%s" % (bad[:3], srv.log()[-1500:]) if bad else None)
        for notify in (True, False):
            replies, how = session(Tls(tls_port), "data", 400, noops=NOOPS, notify=notify,
                                   slow=True)
            stored += 1
            t.ok(complete(replies, how, noops=NOOPS),
                 L + "implicit TLS: DATA + %d NOOPs + QUIT, %s, slow reader: every reply"
                 % (NOOPS, "close_notify + FIN" if notify else "FIN only"),
                 "got %d replies, %s; last %r" % (len(replies), how, replies[-3:]))
        t.ok(wait_log(srv, "result=delivered", stored) and count(user) == stored,
             L + "TLS: each message stored once (%d files, want %d)" % (count(user), stored))

    # ---- what still ends at once ---------------------------------------
    c = Plain(srv.port)
    open_txn(c, ["user@localhost"])
    c.send(b"DATA\r\n")
    expect(c, "354 ")
    c.send(b"Subject: cut\r\n\r\nno end of data\r\n")
    c.half_close()
    t0 = time.time()
    got, how = read_to_eof(c)
    c.close()
    t.ok(how == "eof" and not lines(got) and time.time() - t0 < 5,
         L + "half-close inside DATA: closed at once, no reply", (got, how))
    t.ok(wait_log(srv, "result=failed reason=aborted") and count(user) == stored,
         L + "... and that message is dropped")

    c = Plain(srv.port)
    open_txn(c, ["user@localhost"])
    c.send(b"DATA\r\n")
    expect(c, "354 ")
    c.send(body(500) + b".\r\nQUIT\r\n")
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    c.close()               # a RST, not a FIN
    stored += 1
    t.ok(wait_log(srv, "result=delivered", stored) and count(user) == stored,
         L + "RST after the end of data: the message is stored, once")
    t.ok(wait_log(srv, "helo=hc.test", sessions + 2, timeout=15),
         L + "every session logged its end")

    srv.stop()
    srv.check_sanitizer(t, L)
    srv.cleanup()

t.done()

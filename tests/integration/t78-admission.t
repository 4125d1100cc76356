#!/usr/bin/env python3
"""Who gets a session, and what the log says about it.

- allow-from on a listen-tls listener: a refused client is closed at once,
  before any TLS handshake (no byte from the server, no ServerHello), logged
  as result=refused and counted as allow_from in the stats; on a plain
  listener it still gets its 554 5.7.1; an allowed client (127.0.0.2) still
  gets TLS.
- max-sessions-per-ip defaults to half of max-sessions, rounded up: with
  max-sessions=4 the third session from 127.0.0.1 gets 421 4.3.2 and the
  close (another address, 127.0.0.2, still gets in); with max-sessions=5 the
  fourth; the same on ::1 when IPv6 is there.
- The log's fixed fields come before any text the client chose, and client
  text is capped: a 250-octet UTF-8 sender domain and a long UTF-8
  recipient leave every fixed field of the message line in place, 250
  spaces or 255 quotes of HELO those of the session line; the cut
  is marked with "..." and never splits a \\xNN escape.
Everything on loopback, every wait bounded."""
import os
import re
import shutil
import socket
import ssl
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mntest import Tap, Server, Raw, binaries, free_port  # noqa: E402
from mnops import close_all, code, features, hold, make_cert, usr1_until, wait_log  # noqa: E402

t = Tap()
M = "mailnook_"
LOG_LINE_MAX = 1024     # platform/log.h: a line's text, NUL included
ESC = r"(?:[!#-\[\]-~]|\\x[0-9a-f]{2})"     # one character as log_clean() writes it
LINE_RE = re.compile(r"^\S+ mailnook\[\d+\]: (.*)$")


def lines(srv, start):
    """The log's text of each line (prefix off) that starts with start."""
    out = []
    for raw in srv.log().split("\n"):
        m = LINE_RE.match(raw)
        if m and m.group(1).startswith(start):
            out.append(m.group(1))
    return out


def wait_lines(srv, start, n, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline and len(lines(srv, start)) < n:
        time.sleep(0.05)
    return lines(srv, start)


def connect_from(port, src, host="127.0.0.1", timeout=10):
    """A Raw client whose socket is bound to the source address src."""
    c = Raw.__new__(Raw)
    c.sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    c.sock.settimeout(timeout)
    c.sock.bind((src, 0))
    c.sock.connect((host, port))
    c.buf = b""
    return c


def raw_read(sock, timeout=5):
    """What the server sends until it closes: (bytes, how it ended)."""
    got = b""
    sock.settimeout(timeout)
    deadline = time.time() + timeout
    try:
        while time.time() < deadline:
            chunk = sock.recv(4096)
            if not chunk:
                return got, "eof"
            got += chunk
    except ConnectionResetError:
        return got, "reset"
    except socket.timeout:
        return got, "timeout"
    return got, "timeout"


def delta(s, base, key):
    return s.get(key, 0) - base.get(key, 0)


def probe_ended(srv):
    """Server.start()'s probe connection is a session of its own: wait for
    its log line, so that it holds no slot when the counting starts."""
    return wait_log(srv, "session ip=", 1)


def per_ip_case(label, binary, max_sessions, want, host="127.0.0.1"):
    """max-sessions=max_sessions, no max-sessions-per-ip: want sessions
    from host get in, the next gets 421 4.3.2 and the close."""
    extra = ["listen=[::1]:%d" % free_port()] if host == "::1" else []
    srv = Server(binary, ["domain=localhost", "mailbox=user@localhost,@DIR@/user",
                          "max-sessions=%d" % max_sessions, "timeout=30"] + extra).start()
    port = int(extra[0].rsplit(":", 1)[1]) if extra else srv.port
    L = "%smax-sessions=%d, %s: " % (label, max_sessions, host)
    probe_ended(srv)
    held = hold(port, want, host)
    t.ok(all(r.startswith("220") for _, r in held), L + "%d sessions from one address get in" % want,
         [r for _, r in held])
    over = Raw(port, host=host)
    try:
        r = code(over.reply())
    except (OSError, EOFError) as e:
        r = "error: %r" % e
    t.eq(r, "421 4.3.2", L + "the next one gets 421 4.3.2")
    t.ok(over.closed(), L + "  and is closed")
    over.close()
    if host == "127.0.0.1" and want < max_sessions:
        other = connect_from(port, "127.0.0.2")
        t.ok(other.reply().startswith("220"), L + "another address (127.0.0.2) still gets in")
        other.cmd("QUIT")
        other.close()
    t.eq([code(c.cmd("NOOP")) for c, _ in held], ["250 2.0.0"] * want, L + "the first %d are served" % want)
    for c, _ in held:
        c.cmd("QUIT")
    close_all(c for c, _ in held)
    busy = [x for x in wait_lines(srv, "session ip=", 1) if "result=busy" in x]
    t.eq(busy, ["session ip=%s msgs=0 result=busy reason=max-sessions-per-ip duration=0s helo=" % host],
         L + "logged as busy, reason=max-sessions-per-ip")
    t.eq(srv.stop(), 0, L + "exit 0")
    srv.check_sanitizer(t, L)
    srv.cleanup()


for label, binary in binaries():
    feats = features(binary)

    # ---- allow-from on listen-tls: closed before the handshake --------------
    if "tls" not in feats:
        t.skip(label + "allow-from on listen-tls", "this build has no TLS")
    elif not shutil.which("openssl"):
        t.skip(label + "allow-from on listen-tls", "the openssl command is needed for a certificate")
    else:
        L = label + "allow-from, listen-tls: "
        tls_port = free_port()
        srv = Server(binary, ["domain=localhost", "mailbox=user@localhost,@DIR@/user",
                              "listen-tls=127.0.0.1:%d" % tls_port, "allow-from=127.0.0.2/32",
                              "tls-cert=@DIR@/ec.crt", "tls-key=@DIR@/ec.key", "timeout=30",
                              "stats-file=@DIR@/s.prom"])
        make_cert(srv.dir)
        srv.start()
        path = os.path.join(srv.dir, "s.prom")
        probe_ended(srv)
        base, errs, _ = usr1_until(srv, path, lambda s: s.get(M + "sessions_active") == 0)
        n0 = len(lines(srv, "session ip="))

        # a client that sends nothing: the close, with no byte
        s = socket.create_connection(("127.0.0.1", tls_port), timeout=10)
        got, how = raw_read(s, timeout=5)
        s.close()
        t.eq((got, how), (b"", "eof"), L + "a refused client that sends nothing: closed at once, zero bytes")

        # a real ClientHello: no ServerHello, the handshake fails
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        raw = socket.create_connection(("127.0.0.1", tls_port), timeout=10)
        try:
            with ctx.wrap_socket(raw, server_hostname="mx.test") as tls:
                hs = "handshake done, then: %r" % tls.recv(100)
        except (ssl.SSLError, ConnectionResetError, BrokenPipeError, EOFError) as e:
            hs = "failed"
            t.diag("%shandshake: %r" % (label, e))
        except socket.timeout:
            hs = "timeout"
        finally:
            raw.close()
        t.eq(hs, "failed", L + "a refused client's ClientHello gets no ServerHello: the handshake fails")

        refused = wait_lines(srv, "session ip=", n0 + 2)[n0:]
        t.eq(refused, ["session ip=127.0.0.1 msgs=0 result=refused reason=allow-from duration=0s helo="] * 2,
             L + "each logged: result=refused reason=allow-from")
        s_now, errs, _ = usr1_until(srv, path, lambda s: delta(s, base, M + 'connections_refused_total{reason="allow_from"}') >= 2)
        t.eq((delta(s_now, base, M + 'connections_refused_total{reason="allow_from"}'),
              delta(s_now, base, M + "connections_accepted_total"), errs),
             (2, 0, []), L + "counted: connections_refused_total{reason=\"allow_from\"} +2, accepted +0")

        # an allowed client on the same listener still gets TLS
        raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        raw.settimeout(10)
        raw.bind(("127.0.0.2", 0))
        raw.connect(("127.0.0.1", tls_port))
        try:
            with ctx.wrap_socket(raw, server_hostname="mx.test") as tls:
                greet = tls.recv(200).decode(errors="replace")
                tls.sendall(b"QUIT\r\n")
                tls.recv(200)
        except (OSError, ssl.SSLError) as e:
            greet = "error: %r" % e
        t.like(greet, r"^220 mx\.test ", L + "an allowed client (127.0.0.2) gets TLS and 220")

        # the plain listener: the 554 as before
        c = Raw(srv.port)
        t.eq(code(c.reply()), "554 5.7.1", label + "allow-from, plain listener: still 554 5.7.1")
        t.eq(code(c.cmd("QUIT")), "221 2.0.0", label + "  QUIT 221")
        c.close()
        t.ok(wait_log(srv, "session ip=127.0.0.1 msgs=0 result=refused duration="),
             label + "  logged as refused")
        t.eq(srv.stop(), 0, L + "exit 0")
        srv.check_sanitizer(t, L)
        srv.cleanup()

    # ---- max-sessions-per-ip: half of max-sessions by default ---------------
    per_ip_case(label, binary, 4, 2)
    per_ip_case(label, binary, 5, 3)
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
        v6 = True
    except OSError:
        v6 = False
    if v6 and "ipv6" in feats:
        per_ip_case(label, binary, 4, 2, host="::1")
    else:
        t.skip(label + "max-sessions-per-ip on ::1", "no IPv6 on loopback, or not compiled in")

    # ---- log lines: fixed fields first, client text capped ------------------
    L = label + "log: "
    srv = Server(binary, ["domain=localhost", "mailbox=user@localhost,@DIR@/user",
                          "domain=catch.test", "mailbox=@catch.test,@DIR@/catch", "timeout=30"]).start()
    probe_ended(srv)
    n0 = len(lines(srv, "session ip="))
    # 250 octets: four labels of 30 "é" (60 octets each), dots, ".abcdef"
    domain = ".".join(["\u00e9" * 30] * 4) + ".abcdef"
    assert len(domain.encode()) == 250
    local = "\u00e9" * 32          # 64 octets, the longest local part
    c = Raw(srv.port)
    c.reply()
    c.cmd("EHLO long.test")
    t.eq(code(c.cmd("MAIL FROM:<a@%s> SMTPUTF8" % domain)), "250 2.1.0", L + "MAIL with a 250-octet UTF-8 domain")
    t.eq(code(c.cmd("RCPT TO:<%s@catch.test>" % local)), "250 2.1.5", L + "RCPT with a 64-octet UTF-8 local part")
    t.eq(code(c.cmd("DATA"))[:3], "354", L + "DATA")
    c.send(b"Subject: long\r\n\r\nbody\r\n.\r\n")
    t.eq(code(c.reply()), "250 2.0.0", L + "delivered")
    c.cmd("QUIT")
    c.close()
    n0 = len(wait_lines(srv, "session ip=", n0 + 1))
    msg = wait_lines(srv, "id=", 1)
    t.eq(len(msg), 1, L + "one message line")
    line = msg[0] if msg else ""
    t.like(line, r"^id=\S+ result=delivered size=\d+ nrcpt=1 ip=127\.0\.0\.1 from=<a@%s*\.\.\.> "
           r"to=<%s*\.\.\.>$" % (ESC, ESC),
           L + "message line: id result size nrcpt ip, then from=<...> to=<...>, each cut with ...")
    t.ok(line.startswith("id=") and line.endswith(">") and len(line) < LOG_LINE_MAX - 1,
         L + "  the line is whole (%d octets)" % len(line), line)
    m = re.search(r"from=<(.*)> to=<(.*)>$", line)
    t.ok(m and all(re.fullmatch(r"%s*\.\.\." % ESC, x) for x in (m.group(1)[2:], m.group(2))),
         L + "  no \\xNN escape is split by the cut", line)
    t.ok(m and len(m.group(1)) <= 255 and len(m.group(2)) <= 255, L + "  each client field at most 255 octets")

    # 250 spaces inside a HELO argument (leading and trailing ones are
    # trimmed), and 255 quotes (each escaped as \x22)
    for helo, what in (("HELO a" + " " * 250 + "b", "250 spaces of HELO"),
                       ("EHLO " + '"' * 255, "255 quotes of EHLO")):
        c = Raw(srv.port)
        c.reply()
        r = code(c.cmd(helo))
        c.cmd("QUIT")
        c.close()
        got = wait_lines(srv, "session ip=", n0 + 1)[n0:]
        n0 += len(got)
        line = got[0] if len(got) == 1 else repr(got)
        t.eq(r[:3], "250", L + what + ": accepted")
        t.like(line, r"^session ip=127\.0\.0\.1 msgs=0 result=quit duration=\d+s helo=%s*\.\.\.$" % ESC,
               L + what + ": session line ip msgs result duration, then helo= cut with ...")
        t.ok(len(line) < LOG_LINE_MAX - 1, L + "  the line is whole (%d octets)" % len(line))

    t.eq(srv.stop(), 0, L + "exit 0")
    srv.check_sanitizer(t, L)
    srv.cleanup()

t.done()

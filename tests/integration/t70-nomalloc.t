#!/usr/bin/env python3
"""No malloc after start-up (design: Memory), proven on the real binary.

tests/alloc/alloc_count.c, built here as a shared object and preloaded,
counts every allocation and free of the process into a file it maps
(MAILNOOK_ALLOC_FILE).  Once mailnook listens and has served one session,
the counts are read; then it serves deliveries (several recipients, an
alias, a tag folder, BDAT, pipelining, 1 MB, STARTTLS and implicit TLS when
built in), rejects (unknown user, relaying, bare LF, over the size, SIZE=),
errors up to the 421, an idle timeout, per-IP and allow-from refusals, a
client that vanishes mid-DATA, SIGUSR1 (stats), and SIGHUP with a good and
with a broken configuration -- and the counts must not have moved.  On a
failure the interposer's ring names the size and the caller of the last
allocations (resolved with /proc/PID/maps and addr2line).  In a HOOK
build every delivery also runs an on-delivery hook that writes a line and
fails (output, exit status, and a few left waiting in the queue), the
detached run one that succeeds.

Runs against the normal build only: the ASan build has its own allocator."""
import os
import shutil
import signal
import smtplib
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mntest import Tap, Server, Raw, TOP, binaries, free_port, read_new, standard_lines  # noqa: E402
from mnops import make_cert, wait_log  # noqa: E402

t = Tap()
KINDS = ("malloc", "calloc", "realloc", "free", "memalign")
RING = 16
FMT = "<8sQ%dQQQ%dQ" % (len(KINDS), RING * 3)


def run(argv, timeout=60):
    return subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=timeout)


binary = next((b for label, b in binaries() if not label), None)   # not the ASan build
if not binary or isinstance(binary, (list, tuple)) or not os.path.exists(binary):
    t.skip("no malloc after start-up", "no native mailnook binary to test")
    t.done()
cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
if not cc or not shutil.which(cc.split()[0]):
    t.skip("no malloc after start-up", "no C compiler for the interposer")
    t.done()

work = tempfile.mkdtemp(prefix="mailnook-alloc-")
so = os.path.join(work, "alloc_count.so")
r = run([cc, "-shared", "-fPIC", "-O2", "-o", so, os.path.join(TOP, "tests", "alloc", "alloc_count.c"), "-ldl"])
if not t.eq(r.returncode, 0, "the allocation counter builds"):
    t.diag(r.stdout.decode(errors="replace"))
    t.done()

version = run([binary, "-V"]).stdout.decode(errors="replace")
has_tls = " tls" in version and shutil.which("openssl") is not None
has_stats = " stats" in version
has_hook = "hook" in next((x for x in version.splitlines() if x.startswith("features:")), "").split()


class Counts:
    def __init__(self, path):
        self.path = path

    def read(self):
        with open(self.path, "rb") as f:
            raw = f.read(struct.calcsize(FMT))
        if len(raw) < struct.calcsize(FMT):
            return None
        v = struct.unpack(FMT, raw)
        if v[0] != b"mnalloc1":
            return None
        n = len(KINDS)
        ring = [v[4 + n + 3 * i: 7 + n + 3 * i] for i in range(RING)]
        return {"pid": v[1], "count": dict(zip(KINDS, v[2:2 + n])),
                "armed": v[2 + n], "next": v[3 + n], "ring": ring}

    def arm(self):
        off = struct.calcsize("<8sQ%dQ" % len(KINDS))
        with open(self.path, "r+b") as f:
            f.seek(off)
            f.write(struct.pack("<Q", 1))


def resolve(pid, addr):
    """'function at file:line' or 'lib+0xoffset' for a caller address."""
    try:
        maps = open("/proc/%d/maps" % pid).read().splitlines()
    except OSError:
        return hex(addr)
    for line in maps:
        f = line.split()
        lo, hi = (int(x, 16) for x in f[0].split("-"))
        if lo <= addr < hi and len(f) >= 6:
            path, off = f[5], addr - lo + int(f[2], 16)
            where = "%s+%#x" % (os.path.basename(path), off)
            if shutil.which("addr2line"):
                a = run(["addr2line", "-f", "-C", "-e", path, "%#x" % (off - 1)]).stdout.decode(errors="replace").split("\n")
                if a and a[0] and a[0] != "??":
                    where += " (%s %s)" % (a[0], a[1] if len(a) > 1 else "")
            return where
    return hex(addr)


def code(reply):
    return reply.split("\n")[-1][:9]


def tls_ctx():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def raw_from(port, source):
    c = Raw.__new__(Raw)
    c.sock = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0))
    c.buf = b""
    return c


def send(port, rcpts, body="Subject: t\r\n\r\nbody\r\n", sender="a@remote.example", **kw):
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as c:
        c.ehlo("alloc.test")
        return c.sendmail(sender, rcpts, body, **kw)


def refused(port, rcpts, body="Subject: t\r\n\r\nbody\r\n", **kw):
    """The refusal, as "550 5.1.1" (the first recipient's), or None."""
    try:
        send(port, rcpts, body, **kw)
        return None
    except smtplib.SMTPRecipientsRefused as e:
        c, m = list(e.recipients.values())[0]
    except smtplib.SMTPResponseException as e:
        c, m = e.smtp_code, e.smtp_error
    return "%d %s" % (c, m.decode(errors="replace")[:5])


alloc_file = os.path.join(work, "counts")
counts = Counts(alloc_file)
lines = standard_lines() + ["timeout=3", "max-sessions-per-ip=4", "max-message-size=2M",
                            "tag-folders", "allow-from=127.0.0.1/32", "pid-file=@DIR@/pid",
                            "strict-crlf"]
if has_stats:
    lines.append("stats-file=@DIR@/stats.prom")
if has_hook:
    lines += ["on-delivery=/bin/sh,-c,echo hook $MAILNOOK_ID; exit 3", "on-delivery-max=1"]
tls_port = None
if has_tls:
    try:
        crt, key = make_cert(work)
    except RuntimeError:
        crt = key = None
    if crt:
        tls_port = free_port()
        lines += ["tls-cert=" + crt, "tls-key=" + key, "listen-tls=127.0.0.1:%d" % tls_port]
    else:
        has_tls = False

srv = Server(binary, lines, env={"LD_PRELOAD": so, "MAILNOOK_ALLOC_FILE": alloc_file}).start()
port = srv.port
user = srv.maildir("user")
for sub in ("tmp", "new", "cur"):
    os.makedirs(os.path.join(user, ".news", sub), exist_ok=True)

# start-up is over once it listens and has served a session (the probe)
time.sleep(0.3)
before = counts.read()
if not t.ok(before is not None and before["pid"] == srv.proc.pid,
            "the counter is preloaded into mailnook", repr(before)):
    srv.cleanup()
    t.done()
t.diag("start-up: %s" % ", ".join("%s %d" % kv for kv in before["count"].items()))
counts.arm()

# an idle session, to be timed out while the rest goes on
idle = Raw(port)
idle.reply()
idle_since = time.time()

# deliveries
t.eq(send(port, ["user@localhost"]), {}, "delivery")
t.eq(send(port, ["bob@example.org", "carol@example.org", "team@example.org", "x@catch.test",
                 "user+news@localhost", "Postmaster@example.org"]), {},
     "several recipients: alias, catch-all, tag folder, postmaster")
big = "Subject: big\r\n\r\n" + ("0123456789" * 7 + "\r\n") * 14564
t.eq(send(port, ["user@localhost"], big), {}, "1 MB message")

c = Raw(port)
c.reply()
chunk1, chunk2 = "Subject: bdat\r\n\r\nbody", " line\r\n"
c.send("EHLO alloc.test\r\nMAIL FROM:<a@remote.example>\r\nRCPT TO:<bob@example.org>\r\n"
       "BDAT %d\r\n%sBDAT %d LAST\r\n%sQUIT\r\n" % (len(chunk1), chunk1, len(chunk2), chunk2))
rs = c.replies(6)
t.eq([code(x) for x in rs[3:]], ["250 2.0.0", "250 2.0.0", "221 2.0.0"], "BDAT, pipelined")
c.close()

c = Raw(port)
c.reply()
c.send("EHLO alloc.test\r\nMAIL FROM:<> SIZE=100\r\nRCPT TO:<user@localhost>\r\nDATA\r\n")
c.replies(4)
c.send("Subject: pipe\r\n\r\n..dot\r\n.\r\nRSET\r\nNOOP\r\nVRFY user\r\nHELP\r\nEXPN x\r\nQUIT\r\n")
rs = c.replies(7)
t.eq([code(x)[:3] for x in rs], ["250", "250", "250", "252", "214", "502", "221"],
     "pipelined DATA, RSET, NOOP, VRFY, HELP, EXPN, QUIT")
c.close()

# rejects
t.eq(refused(port, ["nobody@localhost"]), "550 5.1.1", "unknown user: 550 5.1.1")
t.eq(refused(port, ["someone@elsewhere.example"]), "550 5.7.1", "relaying: 550 5.7.1")
t.eq(refused(port, ["user@localhost"], "Subject: x\r\n\r\n" + "y" * 2200000 + "\r\n"), "552 5.3.4", "over the size: 552 5.3.4")
t.eq(refused(port, ["user@localhost"], mail_options=["SIZE=99999999"]), "552 5.3.4",
     "SIZE= over the limit: 552 5.3.4")
c = Raw(port)
c.reply()
c.send("EHLO alloc.test\r\nMAIL FROM:<a@remote.example>\r\nRCPT TO:<user@localhost>\r\nDATA\r\n")
c.replies(4)
c.send("Subject: lf\r\n\r\nbare\nlf\r\n.\r\n")
t.eq(code(c.reply()), "550 5.6.0", "bare LF under strict-crlf: 550 5.6.0")
c.send("MAIL FROM:<bad address>\r\nNOOP " + "x" * 1200 + "\r\nNO\0OP\r\n")
t.eq([code(x)[:3] for x in c.replies(3)], ["501", "500", "500"], "bad address, long line, NUL")
c.send("".join("BOGUS%d\r\n" % i for i in range(10)))
rs = []
while len(rs) < 10 and not rs[-1:] == ["421"]:
    rs.append(c.reply()[:3])
t.ok(rs[-1] == "421" and set(rs[:-1]) == {"500"}, "10 errors: 421 4.7.0", rs)
t.ok(c.closed(), "  and closed")
c.close()

# the store fails (tmp/ gone): 451, and the error is logged
os.rename(os.path.join(srv.maildir("carol"), "tmp"), os.path.join(srv.maildir("carol"), "tmp.away"))
t.eq(refused(port, ["carol@example.org"]), "451 4.3.0", "store failure: 451 4.3.0")
os.rename(os.path.join(srv.maildir("carol"), "tmp.away"), os.path.join(srv.maildir("carol"), "tmp"))

# a client that goes away in the middle of DATA
c = Raw(port)
c.reply()
c.send("EHLO alloc.test\r\nMAIL FROM:<a@remote.example>\r\nRCPT TO:<user@localhost>\r\nDATA\r\n")
c.replies(4)
c.send("Subject: gone\r\n\r\n" + "z" * 100000)
c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
c.close()

# allow-from: 127.0.0.2 is refused
try:
    c = raw_from(port, "127.0.0.2")
    t.eq(code(c.reply()), "554 5.7.1", "allow-from refuses 127.0.0.2: 554 5.7.1")
    t.eq([code(c.cmd(x)) for x in ("EHLO x.test", "MAIL FROM:<a@b.example>", "QUIT")],
         ["503 5.5.1", "503 5.5.1", "221 2.0.0"], "  503 for all but QUIT")
    c.close()
except OSError as e:
    t.skip("allow-from refusal", "cannot connect from 127.0.0.2: %s" % e)

# TLS
if has_tls:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
        s.ehlo("alloc.test")
        s.starttls(context=tls_ctx())
        s.ehlo("alloc.test")
        t.eq(s.sendmail("a@remote.example", ["user@localhost"], "Subject: tls\r\n\r\nsecret\r\n"), {},
             "STARTTLS delivery")
    with smtplib.SMTP_SSL("127.0.0.1", tls_port, timeout=30, context=tls_ctx()) as s:
        s.ehlo("alloc.test")
        t.eq(s.sendmail("a@remote.example", ["bob@example.org"], "Subject: tls\r\n\r\nimplicit\r\n"), {},
             "implicit TLS delivery")
    junk = socket.create_connection(("127.0.0.1", tls_port), timeout=10)
    junk.sendall(b"GET / HTTP/1.0\r\n\r\n")
    try:
        junk.recv(100)
    except OSError:
        pass
    junk.close()

# the idle session times out (timeout=3)
time.sleep(max(0, idle_since + 3.5 - time.time()))
t.eq(code(idle.reply(timeout=10)), "421 4.4.2", "idle session: 421 4.4.2")
idle.close()

# per-IP limit
time.sleep(0.3)
held = [Raw(port) for _ in range(4)]
for h in held:
    h.reply()
fifth = Raw(port)
t.eq(code(fifth.reply()), "421 4.3.2", "per-IP limit: the fifth gets 421 4.3.2")
for h in held + [fifth]:
    h.close()

# SIGUSR1
if has_stats:
    stats = os.path.join(srv.dir, "stats.prom")
    before_m = os.stat(stats).st_mtime_ns if os.path.exists(stats) else 0
    time.sleep(0.02)
    srv.signal(signal.SIGUSR1)
    deadline = time.time() + 5
    while time.time() < deadline and (not os.path.exists(stats) or os.stat(stats).st_mtime_ns == before_m):
        time.sleep(0.05)
    t.ok(os.path.exists(stats) and os.stat(stats).st_mtime_ns != before_m, "SIGUSR1 writes the stats file")
else:
    srv.signal(signal.SIGUSR1)

# SIGHUP, good then broken
conf = open(srv.conf).read()
with open(srv.conf, "w") as f:
    f.write(conf + "mailbox=new@example.org,%s\n" % srv.maildir("new"))
srv.signal(signal.SIGHUP)
t.ok(wait_log(srv, "reload: configuration reloaded", 1), "SIGHUP: reloaded", srv.log()[-2000:])
t.eq(send(port, ["new@example.org"]), {}, "  the new mailbox takes mail")
with open(srv.conf, "w") as f:
    f.write(conf + "mailbox=new@example.org,%s\nbogus-option=1\n" % srv.maildir("new"))
srv.signal(signal.SIGHUP)
t.ok(wait_log(srv, "configuration invalid, keeping the old one", 1), "SIGHUP with a broken file: kept",
     srv.log()[-2000:])
t.eq(send(port, ["new@example.org", "user@localhost"]), {}, "  mail still flows")
with open(srv.conf, "w") as f:
    f.write(conf)
srv.signal(signal.SIGHUP)
t.ok(wait_log(srv, "reload: configuration reloaded", 2), "SIGHUP back to the first file")
t.eq(refused(port, ["new@example.org"]), "550 5.1.1", "  the new mailbox is gone again")

if has_hook:
    delivered = srv.log().count("result=delivered")
    t.ok(wait_log(srv, "hook=exit:3", delivered, timeout=30) and "hook=output id=" in srv.log(),
         "hooks ran for the deliveries (%d), their output logged" % delivered, srv.log()[-1500:])
time.sleep(0.3)
after = counts.read()
moved = {k: after["count"][k] - before["count"][k] for k in KINDS if after["count"][k] != before["count"][k]}
if not t.ok(not moved, "no allocation after start-up (%d recorded while armed)" % after["next"],
            ", ".join("%s +%d" % kv for kv in moved.items())):
    n = min(after["next"], RING)
    seen = []
    for i in range(n):
        kind, size, caller = after["ring"][(after["next"] - n + i) % RING]
        hint = "%s(%d) from %s" % (KINDS[kind], size, resolve(srv.proc.pid, caller))
        if seen and seen[-1][0] == hint:
            seen[-1][1] += 1
        else:
            seen.append([hint, 1])
    t.diag("the last %d allocations:" % n)
    for hint, k in seen:
        t.diag("  " + hint + (" (x%d)" % k if k > 1 else ""))

t.eq(len(read_new(srv.maildir("new"))), 2, "what was delivered is there")
t.eq(srv.stop(), 0, "exit 0")
srv.cleanup()

# Detached (no -f), as in production: logs go to syslog.
d = tempfile.mkdtemp(prefix="mailnook-alloc-d-")
dport = free_port()
dconf, pidf, dcounts = os.path.join(d, "m.conf"), os.path.join(d, "pid"), Counts(os.path.join(d, "counts"))
base = ["listen=127.0.0.1:%d" % dport, "hostname=mx.test", "domain=localhost",
        "mailbox=user@localhost,%s" % os.path.join(d, "user"), "pid-file=" + pidf, "timeout=2"]
if has_hook:
    base.append("on-delivery=/bin/sh,-c,echo hook")
with open(dconf, "w") as f:
    f.write("\n".join(base) + "\n")
env = dict(os.environ, LD_PRELOAD=so, MAILNOOK_ALLOC_FILE=dcounts.path)
r = subprocess.run([binary, "-c", dconf], env=env, cwd=d, stdin=subprocess.DEVNULL,
                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
pid = None
deadline = time.time() + 10
while time.time() < deadline and pid is None:
    try:
        pid = int(open(pidf).read())
        socket.create_connection(("127.0.0.1", dport), timeout=1).close()
    except (OSError, ValueError):
        pid = None
        time.sleep(0.05)
if t.ok(r.returncode == 0 and pid, "detached: started", r.stdout.decode(errors="replace")):
    time.sleep(0.3)
    before = dcounts.read()
    dcounts.arm()
    t.eq(send(dport, ["user@localhost"]), {}, "detached: delivery")
    t.eq(refused(dport, ["nobody@localhost"]), "550 5.1.1", "detached: unknown user")
    c = Raw(dport)
    c.reply()
    t.eq(code(c.reply(timeout=10)), "421 4.4.2", "detached: idle timeout")
    c.close()
    with open(dconf, "w") as f:
        f.write("\n".join(base + ["domain=example.org"]) + "\n")
    os.kill(pid, signal.SIGHUP)
    os.kill(pid, signal.SIGUSR1)
    deadline = time.time() + 10
    while time.time() < deadline and refused(dport, ["user@example.org"]) != "550 5.1.1":
        time.sleep(0.1)     # relaying (550 5.7.1) until the reload, then unknown user
    t.eq(refused(dport, ["user@example.org"]), "550 5.1.1", "detached: reloaded (a new domain)")
    with open(dconf, "w") as f:
        f.write("junk\n")
    os.kill(pid, signal.SIGHUP)
    time.sleep(0.5)
    t.eq(send(dport, ["user@localhost"]), {}, "detached: a broken reload keeps the old configuration")
    time.sleep(0.3)
    after = dcounts.read()
    moved = {k: after["count"][k] - before["count"][k] for k in KINDS
             if after["count"][k] != before["count"][k]}
    if not t.ok(not moved, "detached: no allocation after start-up",
                ", ".join("%s +%d" % kv for kv in moved.items())):
        n = min(after["next"], RING)
        for i in range(n):
            kind, size, caller = after["ring"][(after["next"] - n + i) % RING]
            t.diag("%s(%d) from %s" % (KINDS[kind], size, resolve(pid, caller)))
if pid:
    os.kill(pid, signal.SIGTERM)
    deadline = time.time() + 15
    while time.time() < deadline and os.path.exists("/proc/%d" % pid):
        time.sleep(0.05)
    t.ok(not os.path.exists("/proc/%d" % pid), "detached: stopped")
shutil.rmtree(d, ignore_errors=True)
shutil.rmtree(work, ignore_errors=True)
t.done()

#!/usr/bin/env python3
"""TLS for devices: a TLS ClientHello on a plain
listener (HP printers) becomes implicit TLS when TLS is configured and is
closed without a reply when it is not; two certificates, RSA and EC, each
client getting the one it can use (EC preferred), also after SIGHUP; the
tls=failed log line with the reason and the client's highest version; -t
errors for the pairs; and, on a build with CONFIG_TLS_LEGACY (which this
test builds itself when the suite's build lacks it), tls-min-version=1.0
and 1.1 with openssl s_client -tls1 / -tls1_1 and an RSA-key-exchange CBC
client, refused again under the default 1.2."""
import os
import re
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mntest import Tap, Server, binaries, free_port, read_new  # noqa: E402
from mnops import features, log_has, make_cert  # noqa: E402

t = Tap()
REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def run(argv, timeout=60, input=None, cwd=None):
    return subprocess.run(argv, input=input, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=timeout, cwd=cwd,
                          stdin=None if input is not None else subprocess.DEVNULL)


def prefix(binary):
    return list(binary) if isinstance(binary, (list, tuple)) else [binary]


if not shutil.which("openssl"):
    t.skip("TLS devices", "the openssl command is needed")
    t.done()
if "tls" not in features(binaries()[0][1]):
    t.skip("TLS devices", "this build has no TLS (CONFIG_TLS is off)")
    t.done()


def der(crt):
    with open(crt) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


def unverified(ciphers=None, maxv=None, minv=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if ciphers:
        ctx.set_ciphers(ciphers)
    if maxv:
        ctx.maximum_version = maxv
    if minv:
        ctx.minimum_version = minv
    return ctx


def peer_cert(port, ctx):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        with ctx.wrap_socket(s) as tls:
            return tls.getpeercert(binary_form=True)


def s_client(port, args, data=b"EHLO dev.test\nQUIT\n", timeout=30):
    r = run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port] + args +
            ["-crlf", "-ign_eof"], timeout=timeout, input=data)
    return r.returncode, r.stdout.decode(errors="replace")


def client_hello():
    """The bytes a TLS client sends first, as a printer would."""
    ctx = unverified()
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname="mx.test")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


def read_all(sock, limit=5):
    """Everything until EOF (bounded in time), and whether EOF came."""
    sock.settimeout(limit)
    data, deadline = b"", time.time() + limit
    while time.time() < deadline:
        try:
            chunk = sock.recv(4096)
        except ConnectionResetError:
            return data, True
        except socket.timeout:
            return data, False
        if not chunk:
            return data, True
        data += chunk
    return data, False


MSG = b"From: printer@dev.example\r\nSubject: @S@\r\n\r\nscan done\r\n"


def subjects(md):
    got = {}
    for f in read_new(md):
        m = re.search(rb"\nSubject: (\S+)\n", f)
        if m:
            got[m.group(1).decode()] = f
    return got


def received(stored):
    m = re.search(rb"Received: .*? with (\S+) id", stored, re.S)
    return m.group(1).decode() if m else None


def legacy_binaries():
    """Builds with CONFIG_TLS_LEGACY=y: the suite's own when it has it,
    else built here (normal, and sanitizer when the suite runs one)."""
    bins = binaries()
    if all("tls-legacy" in features(b) for _, b in bins):
        return bins, None
    conf = os.path.join(REPO, ".config")
    if not os.path.exists(conf):
        conf = os.path.join(REPO, "configs", "defconfig")
    with open(conf) as f:
        lines = [ln for ln in f if "CONFIG_TLS_LEGACY" not in ln]
    os.makedirs(os.path.join(REPO, "build"), exist_ok=True)
    cfg = os.path.join(REPO, "build", "t61-legacy.config")
    text = "".join(lines) + "CONFIG_TLS_LEGACY=y\n"
    old = open(cfg).read() if os.path.exists(cfg) else None
    if old != text:
        with open(cfg, "w") as f:
            f.write(text)
    out = []
    for label, _ in bins:
        san = "san" in label.lower()
        build = "build/t61-legacy" + ("-san" if san else "")
        argv = ["make", "-s", "KCONFIG_CONFIG=" + cfg, "BUILD=" + build, "BIN=%s/mailnook" % build,
                "%s/mailnook" % build]
        if san:
            argv.insert(2, "SANITIZE=1")
        r = run(argv, timeout=900, cwd=REPO)
        if r.returncode != 0:
            return None, r.stdout.decode(errors="replace")[-2000:]
        out.append((label, os.path.join(REPO, build, "mailnook")))
    return out, None


for label, binary in binaries():
    L = label
    V = features(binary)

    # ---- two certificates, a ClientHello on the plain listener ---------------
    tls_port = free_port()
    srv = Server(binary, ["domain=localhost", "mailbox=user@localhost,@DIR@/user",
                          "listen-tls=127.0.0.1:%d" % tls_port,
                          "tls-cert=@DIR@/rsa.crt", "tls-key=@DIR@/rsa.key",
                          "tls-cert=@DIR@/ec.crt", "tls-key=@DIR@/ec.key", "timeout=5"])
    rsa_crt, _ = make_cert(srv.dir, "rsa")
    ec_crt, _ = make_cert(srv.dir, "ec")
    srv.start()
    md = srv.maildir("user")
    t.ok(log_has(srv, r"TLS: RSA-2048 key.*\n.*TLS: EC-P256 key"), L + "both certificates loaded",
         srv.log()[-800:])

    for when in ("", "after SIGHUP: "):
        for port, where in ((srv.port, "listen= (ClientHello first)"), (tls_port, "listen-tls=")):
            got = peer_cert(port, unverified(maxv=ssl.TLSVersion.TLSv1_2))
            t.ok(got == der(ec_crt), L + when + "an EC-capable client gets the EC certificate on " + where)
            got = peer_cert(port, unverified("ECDHE-RSA-AES128-GCM-SHA256", maxv=ssl.TLSVersion.TLSv1_2))
            t.ok(got == der(rsa_crt), L + when + "an RSA-only client (-cipher ECDHE-RSA-...) gets the RSA "
                 "certificate on " + where)
        rc, out = s_client(tls_port, ["-tls1_2", "-sigalgs", "RSA+SHA256"])
        t.ok("Server public key is 2048 bit" in out and "221 2.0.0" in out,
             L + when + "s_client -sigalgs RSA+SHA256 gets the RSA key", out[-800:])
        rc, out = s_client(tls_port, ["-tls1_2"])
        t.ok("Server public key is 256 bit" in out and "221 2.0.0" in out,
             L + when + "s_client with defaults gets the EC key", out[-800:])
        if not when:
            n = srv.log().count("reload: configuration reloaded")
            srv.signal(signal.SIGHUP)
            t.ok(log_has(srv, r"(?s)(reload: configuration reloaded.*){%d}" % (n + 1)),
                 L + "SIGHUP reloads with two certificates", srv.log()[-800:])

    # an implicit-TLS client on the plain port: smtplib.SMTP_SSL
    with smtplib.SMTP_SSL("127.0.0.1", srv.port, timeout=20, context=unverified()) as c:
        code, ehlo = c.ehlo("printer.test")
        t.ok(code == 250 and b"STARTTLS" not in ehlo,
             L + "ClientHello on listen=: the session is SMTP over TLS, EHLO without STARTTLS")
        t.eq(c.docmd("STARTTLS")[0], 503, L + "  STARTTLS inside it: 503")
        c.sendmail("printer@dev.example", ["user@localhost"], MSG.replace(b"@S@", b"hello-first"))
    # the normal plaintext path on the same listener, STARTTLS included
    with smtplib.SMTP("127.0.0.1", srv.port, timeout=20) as c:
        code, ehlo = c.ehlo("plain.test")
        t.ok(b"STARTTLS" in ehlo, L + "a plaintext client on the same listener: EHLO offers STARTTLS")
        c.sendmail("printer@dev.example", ["user@localhost"], MSG.replace(b"@S@", b"plain"))
        c.starttls(context=unverified())
        c.ehlo("plain.test")
        c.sendmail("printer@dev.example", ["user@localhost"], MSG.replace(b"@S@", b"starttls"))
    got = subjects(md)
    t.eq(sorted(got), ["hello-first", "plain", "starttls"], L + "three messages stored")
    if len(got) == 3:
        t.eq(received(got["hello-first"]), "ESMTPS", L + "ClientHello first: Received says ESMTPS")
        t.eq(received(got["plain"]), "ESMTP", L + "plaintext: ESMTP")
        t.eq(received(got["starttls"]), "ESMTPS", L + "STARTTLS: ESMTPS")
    t.ok("5.5.2" not in srv.log() and "500 " not in srv.log(), L + "no 500 anywhere")

    # a ClientHello after the greeting went out (the client read it first):
    # closed at once, no reply to the handshake bytes
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    s.settimeout(10)
    greeting = s.recv(4096)
    s.sendall(client_hello())
    rest, eof = read_all(s)
    s.close()
    t.ok(greeting.startswith(b"220 ") and rest == b"" and eof,
         L + "a ClientHello after the plaintext greeting: closed, no reply", (greeting, rest, eof))

    # ---- the tls=failed line ----------------------------------------------------
    for args, reason, version, name in (
            (["-tls1", "-cipher", "DEFAULT@SECLEVEL=0"], "no-common-version", "TLS1.0", "-tls1"),
            (["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"], "no-common-version", "TLS1.1", "-tls1_1"),
            (["-tls1_2", "-cipher", "AES128-SHA"], "no-common-suite", "TLS1.2", "-cipher AES128-SHA")):
        for port in (tls_port, srv.port):
            n = srv.log().count("tls=failed reason=%s client-version=%s ip=127.0.0.1\n" % (reason, version))
            rc, out = s_client(port, args, b"QUIT\n")
            t.ok("220 mx.test" not in out, L + "s_client %s on port %d is refused" % (name, port), out[-600:])
            t.ok(log_has(srv, r"(?s)(tls=failed reason=%s client-version=%s ip=127\.0\.0\.1\n.*){%d}"
                         % (reason, re.escape(version), n + 1)),
                 L + "  logged: tls=failed reason=%s client-version=%s ip=..." % (reason, version),
                 srv.log()[-1200:])
    junk = socket.create_connection(("127.0.0.1", tls_port), timeout=10)
    junk.sendall(b"GET / HTTP/1.0\r\n\r\n")
    read_all(junk)
    junk.close()
    t.ok(log_has(srv, r"tls=failed reason=bad-record client-version=unknown ip=127\.0\.0\.1\n"),
         L + "not TLS at all on listen-tls=: tls=failed reason=bad-record client-version=unknown",
         srv.log()[-1200:])
    line = [ln for ln in srv.log().splitlines() if "tls=failed" in ln][-1]
    t.ok(re.search(r"tls=failed reason=\S+ client-version=\S+ ip=\S+$", line) is not None,
         L + "fixed fields only, in the README's order", line)
    srv.stop()
    srv.check_sanitizer(t, L)
    srv.cleanup()

    # ---- without TLS: a ClientHello is closed without a reply ------------------
    srv = Server(binary, ["domain=localhost", "mailbox=user@localhost,@DIR@/user"])
    srv.start()
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    s.sendall(client_hello())
    data, eof = read_all(s)
    s.close()
    lines = data.split(b"\r\n")
    t.ok(eof and data.startswith(b"220 ") and data.count(b"\r\n") == 1,
         L + "no TLS configured: a ClientHello gets nothing but the greeting, then the close", data)
    t.ok(b"500" not in data and b"5.5.2" not in data, L + "  no 500 5.5.2 for the handshake bytes", lines)
    t.ok(log_has(srv, r"result=tls-hello "), L + "  logged as result=tls-hello", srv.log()[-600:])
    with smtplib.SMTP("127.0.0.1", srv.port, timeout=20) as c:
        c.sendmail("printer@dev.example", ["user@localhost"], MSG.replace(b"@S@", b"after"))
    t.ok("after" in subjects(srv.maildir("user")), L + "  the plaintext path still delivers")
    srv.stop()
    srv.check_sanitizer(t, L)
    srv.cleanup()

    # ---- -t: the pairs, and tls-min-version without the legacy build --------------
    srv = Server(binary, ["domain=localhost", "mailbox=user@localhost,@DIR@/user"])
    make_cert(srv.dir, "rsa")
    make_cert(srv.dir, "rsa", "rsa2")
    make_cert(srv.dir, "ec")
    cases = [
        (["tls-cert=@DIR@/rsa.crt", "tls-key=@DIR@/rsa.key", "tls-cert=@DIR@/rsa2.crt",
          "tls-key=@DIR@/rsa2.key"], 6, "same key type as the first (one RSA, one EC)", "two RSA certificates"),
        (["tls-cert=@DIR@/rsa.crt", "tls-key=@DIR@/rsa.key", "tls-cert=@DIR@/ec.crt"], 6,
         "tls-cert: given without tls-key", "a second tls-cert without its key"),
        (["tls-cert=@DIR@/rsa.crt", "tls-key=@DIR@/rsa.key", "tls-cert=@DIR@/ec.crt",
          "tls-key=@DIR@/rsa2.key"], 7, "key does not match certificate", "a key that is not its cert's"),
        (["tls-cert=@DIR@/rsa.crt", "tls-key=@DIR@/ec.key", "tls-cert=@DIR@/ec.crt",
          "tls-key=@DIR@/rsa.key"], 5, "key does not match certificate", "pairs swapped"),
        (["tls-cert=@DIR@/a", "tls-key=@DIR@/a", "tls-cert=@DIR@/b", "tls-key=@DIR@/b",
          "tls-cert=@DIR@/c"], 8, "given more than twice", "a third tls-cert"),
    ]
    if "tls-legacy" not in V:
        cases.append((["tls-min-version=1.0"], 4, "this build has no TLS 1.0/1.1: CONFIG_TLS_LEGACY",
                      "tls-min-version=1.0 without CONFIG_TLS_LEGACY"))
    for extra, line, text, name in cases:
        with open(srv.conf, "w") as f:
            f.write("listen=127.0.0.1:%d\nhostname=mx.test\ndomain=localhost\n" % srv.port)
            for ln in extra:
                f.write(ln.replace("@DIR@", srv.dir) + "\n")
            f.write("mailbox=user@localhost,%s/user\n" % srv.dir)
        r = run(prefix(binary) + ["-t", "-c", srv.conf])
        out = r.stdout.decode(errors="replace")
        t.ok(r.returncode == 1 and re.search(r"%s:%d: .*%s" % (re.escape(srv.conf), line, re.escape(text)), out),
             L + "-t: %s is an error at line %d" % (name, line), out)
    with open(srv.conf, "w") as f:
        f.write("listen=127.0.0.1:%d\nhostname=mx.test\ndomain=localhost\n"
                "tls-cert=%s/ec.crt\ntls-key=%s/ec.key\ntls-cert=%s/rsa.crt\ntls-key=%s/rsa.key\n"
                "mailbox=user@localhost,%s/user\n" % ((srv.port,) + (srv.dir,) * 5))
    r = run(prefix(binary) + ["-t", "-c", srv.conf])
    t.ok(r.returncode == 0, L + "-t: an EC and an RSA pair, either order, is OK", r.stdout)
    srv.cleanup()

# ---- CONFIG_TLS_LEGACY: tls-min-version=1.0 / 1.1 ---------------------------------
legacy, why = legacy_binaries()
if not legacy:
    t.ok(False, "a CONFIG_TLS_LEGACY build", why)
    t.done()
for label, binary in legacy:
    L = label + "TLS_LEGACY: "
    t.ok("tls-legacy" in features(binary), L + "-V lists tls-legacy")
    for minv in ("1.0", "1.1", None):
        tls_port = free_port()
        lines = ["domain=localhost", "mailbox=user@localhost,@DIR@/user", "listen-tls=127.0.0.1:%d" % tls_port,
                 "tls-cert=@DIR@/rsa.crt", "tls-key=@DIR@/rsa.key",
                 "tls-cert=@DIR@/ec.crt", "tls-key=@DIR@/ec.key", "timeout=5"]
        if minv:
            lines.append("tls-min-version=" + minv)
        srv = Server(binary, lines)
        make_cert(srv.dir, "rsa")
        make_cert(srv.dir, "ec")
        srv.start()
        M = L + "tls-min-version=%s: " % (minv or "default")
        # Debian's openssl allows TLS 1.0/1.1 and SHA-1 only at SECLEVEL=0
        for args, vmin, name in (
                (["-tls1", "-cipher", "DEFAULT@SECLEVEL=0"], "1.0", "s_client -tls1"),
                (["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"], "1.1", "s_client -tls1_1"),
                (["-tls1", "-cipher", "AES128-SHA@SECLEVEL=0"], "1.0",
                 "a TLS 1.0 TLS_RSA_WITH_AES_128_CBC_SHA-only client"),
                (["-tls1_2", "-cipher", "AES128-SHA"], "1.0", "a TLS 1.2 CBC-only client")):
            for port in (tls_port, srv.port):
                rc, out = s_client(port, args)
                works = minv is not None and minv <= vmin
                if name.startswith("a TLS 1.2"):
                    works = minv is not None
                ok = "220 mx.test" in out and "221 2.0.0" in out
                t.ok(ok == works, M + "%s on port %d %s" % (name, port, "works" if works else "is refused"),
                     out[-800:])
        if minv == "1.0":
            with smtplib.SMTP_SSL("127.0.0.1", srv.port, timeout=20, context=unverified()) as c:
                c.sendmail("printer@dev.example", ["user@localhost"], MSG.replace(b"@S@", b"legacy"))
            t.ok("legacy" in subjects(srv.maildir("user")), M + "a message over TLS still delivers")
            t.ok(log_has(srv, r"tls=TLSv1\.0 cipher=AES128-SHA "), M + "the session line names TLSv1.0 AES128-SHA",
                 srv.log()[-1500:])
        if minv is None:
            t.ok(log_has(srv, r"tls=failed reason=no-common-version client-version=TLS1\.0 ip="),
                 M + "a TLS 1.0 client is logged as tls=failed ... client-version=TLS1.0", srv.log()[-1500:])
        srv.stop()
        srv.check_sanitizer(t, M)
        srv.cleanup()
t.done()

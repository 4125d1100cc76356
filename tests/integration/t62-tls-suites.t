#!/usr/bin/env python3
"""Every suite, group and key the TLS profile offers (platform/tls_algs.c),
each with a real client, openssl s_client, that carries a 64 KiB message
through it (many records, both directions): ECDHE-ECDSA and ECDHE-RSA with
AES-128-GCM, AES-256-GCM and ChaCha20-Poly1305; ECDHE over X25519, P-256,
P-384 and P-521 (X25519 whenever the client has it); EC keys on P-256,
P-384 and P-521 besides RSA, each also with ECDHE on its curve; and, on a
build with CONFIG_TLS_LEGACY and tls-min-version=1.0, each CBC suite.  The
session line names the suite the client asked for, and the message is
stored byte for byte.  A client offering every suite gets the server's
first choice, ChaCha20-Poly1305 or AES-128-GCM."""
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mntest import Tap, Server, binaries, free_port, read_new  # noqa: E402
from mnops import features, log_has, make_cert  # noqa: E402

t = Tap()


def run(argv, timeout=60, input=None):
    return subprocess.run(argv, input=input, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=timeout,
                          stdin=None if input is not None else subprocess.DEVNULL)


if not shutil.which("openssl"):
    t.skip("TLS suites", "the openssl command is needed")
    t.done()
if "tls" not in features(binaries()[0][1]):
    t.skip("TLS suites", "this build has no TLS (CONFIG_TLS is off)")
    t.done()


def ec_cert(d, curve, name):
    key, crt = os.path.join(d, name + ".key"), os.path.join(d, name + ".crt")
    for argv in (["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:" + curve,
                  "-out", key],
                 ["openssl", "req", "-new", "-x509", "-key", key, "-subj", "/CN=mx.test", "-days", "2",
                  "-out", crt]):
        r = run(argv, timeout=120)
        if r.returncode != 0:
            raise RuntimeError("openssl: %s" % r.stdout.decode(errors="replace"))
    return crt, key


GROUPS = {"X25519": "X25519", "P-256": "ECDH, prime256v1", "P-384": "ECDH, secp384r1",
          "P-521": "ECDH, secp521r1"}
BODY = b"".join(b"%05d %s\n" % (i, b"0123456789abcdef" * 4) for i in range(920))   # 64 KiB


def deliver(port, helo, args, minv="-tls1_2"):
    """s_client on implicit TLS: one message; returns (client output, stored
    messages with this HELO)."""
    script = (b"EHLO " + helo.encode() + b"\nMAIL FROM:<s@remote.example>\nRCPT TO:<user@localhost>\n"
              b"DATA\nSubject: " + helo.encode() + b"\n\n" + BODY + b".\nQUIT\n")
    r = run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-brief", "-ign_eof", "-crlf",
             minv] + args, input=script)
    return r.stdout.decode(errors="replace")


def stored(md, helo):
    return [m for m in read_new(md) if b"\nSubject: " + helo.encode() + b"\n" in m]


def check(srv, md, port, helo, args, suite, L, what, temp_key=None, minv="-tls1_2"):
    out = deliver(port, helo, args, minv)
    t.ok(log_has(srv, r"tls=TLSv1\.[0-2] cipher=%s helo=%s\n" % (re.escape(suite), re.escape(helo))),
         L + what + ": the session line names " + suite, out[-1200:] + srv.log()[-800:])
    got = stored(md, helo)
    t.ok(len(got) == 1 and got[0].endswith(b"\n\n" + BODY), L + what + ": the 64 KiB message stored as sent",
         out[-1200:])
    if temp_key:
        t.like(out, r"(?m)^(Peer|Server) Temp Key: " + temp_key, L + what + ": ECDHE over " + temp_key)


for label, binary in binaries():
    legacy = "tls-legacy" in features(binary)
    tls_port = free_port()
    lines = ["domain=localhost", "mailbox=user@localhost,@DIR@/user",
             "listen-tls=127.0.0.1:%d" % tls_port,
             "tls-cert=@DIR@/ec.crt", "tls-key=@DIR@/ec.key",
             "tls-cert=@DIR@/rsa.crt", "tls-key=@DIR@/rsa.key", "timeout=10"]
    if legacy:
        lines.append("tls-min-version=1.0")
    srv = Server(binary, lines)
    make_cert(srv.dir, "ec")
    make_cert(srv.dir, "rsa")
    srv.start()
    md = srv.maildir("user")
    n = 0

    # ---- the AEAD suites, with the key each one needs -------------------------
    for kx in ("ECDSA", "RSA"):
        for enc in ("AES128-GCM-SHA256", "AES256-GCM-SHA384", "CHACHA20-POLY1305"):
            suite = "ECDHE-%s-%s" % (kx, enc)
            n += 1
            check(srv, md, tls_port, "s%d.test" % n, ["-cipher", suite], suite, label, suite)

    # ---- the server's choice among them ---------------------------------------
    n += 1
    out = deliver(tls_port, "s%d.test" % n, [])
    t.ok(log_has(srv, r"cipher=ECDHE-ECDSA-(CHACHA20-POLY1305|AES128-GCM-SHA256) helo=s%d\.test\n" % n),
         label + "a client offering everything gets ECDHE-ECDSA with ChaCha20-Poly1305 or AES-128-GCM "
         "first", out[-1200:] + srv.log()[-800:])

    # ---- the groups (under RSA: in TLS 1.2 a client's groups also limit the
    # curve of an ECDSA certificate it takes; the EC keys' own are below) -------
    for group in GROUPS:
        suite = "ECDHE-RSA-AES128-GCM-SHA256"
        n += 1
        check(srv, md, tls_port, "s%d.test" % n, ["-cipher", suite, "-groups", group], suite, label,
              "%s over %s" % (suite, group), temp_key=GROUPS[group])
    n += 1
    check(srv, md, tls_port, "s%d.test" % n, ["-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256"],
          "ECDHE-ECDSA-AES128-GCM-SHA256", label, "a client with every group gets X25519", temp_key="X25519")

    # ---- a client whose groups leave out the EC key's curve (P-256) cannot
    # take that certificate (RFC 8422 5.1.1; OpenSSL refuses it): it gets
    # the RSA one ----------------------------------------------------------------
    for groups in ("X25519", "P-384:P-521"):
        n += 1
        check(srv, md, tls_port, "s%d.test" % n,
              ["-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256", "-groups", groups],
              "ECDHE-RSA-AES128-GCM-SHA256", label, "a client with groups %s, both suites" % groups)
    t.eq(srv.stop(), 0, label + "exit 0")
    srv.check_sanitizer(t, label)
    srv.cleanup()

    # ---- EC keys on P-384 and P-521 ---------------------------------------------
    for curve in ("P-384", "P-521"):
        port = free_port()
        srv = Server(binary, ["domain=localhost", "mailbox=user@localhost,@DIR@/user",
                              "listen-tls=127.0.0.1:%d" % port,
                              "tls-cert=@DIR@/k.crt", "tls-key=@DIR@/k.key", "timeout=10"])
        ec_cert(srv.dir, curve, "k")
        srv.start()
        for enc in ("AES128-GCM-SHA256", "CHACHA20-POLY1305"):
            suite = "ECDHE-ECDSA-" + enc
            n += 1
            check(srv, srv.maildir("user"), port, "s%d.test" % n, ["-cipher", suite], suite, label,
                  "an EC %s key, %s" % (curve, suite))
        n += 1
        check(srv, srv.maildir("user"), port, "s%d.test" % n,
              ["-cipher", "ECDHE-ECDSA-AES256-GCM-SHA384", "-groups", curve], "ECDHE-ECDSA-AES256-GCM-SHA384",
              label, "an EC %s key, ECDHE over %s too" % (curve, curve), temp_key=GROUPS[curve])
        t.eq(srv.stop(), 0, label + "EC %s: exit 0" % curve)
        srv.check_sanitizer(t, label + "EC %s: " % curve)
        srv.cleanup()

    # ---- the CBC suites of tls-min-version=1.0 ----------------------------------
    if not legacy:
        t.skip(label + "the CBC suites", "this build has no CONFIG_TLS_LEGACY")
        continue
    port = free_port()
    srv = Server(binary, ["domain=localhost", "mailbox=user@localhost,@DIR@/user",
                          "listen-tls=127.0.0.1:%d" % port,
                          "tls-cert=@DIR@/ec.crt", "tls-key=@DIR@/ec.key",
                          "tls-cert=@DIR@/rsa.crt", "tls-key=@DIR@/rsa.key",
                          "tls-min-version=1.0", "timeout=10"])
    make_cert(srv.dir, "ec")
    make_cert(srv.dir, "rsa")
    srv.start()
    md = srv.maildir("user")
    for suite, versions in (("ECDHE-ECDSA-AES128-SHA256", ("-tls1_2",)),
                            ("ECDHE-ECDSA-AES128-SHA", ("-tls1_2", "-tls1")),
                            ("ECDHE-ECDSA-AES256-SHA", ("-tls1_2", "-tls1_1")),
                            ("ECDHE-RSA-AES128-SHA256", ("-tls1_2",)),
                            ("ECDHE-RSA-AES128-SHA", ("-tls1_2", "-tls1")),
                            ("ECDHE-RSA-AES256-SHA", ("-tls1_2", "-tls1_1")),
                            ("AES128-SHA256", ("-tls1_2",)),
                            ("AES256-SHA256", ("-tls1_2",)),
                            ("AES128-SHA", ("-tls1_2", "-tls1")),
                            ("AES256-SHA", ("-tls1_2", "-tls1_1"))):
        for v in versions:
            n += 1
            check(srv, md, port, "s%d.test" % n, ["-cipher", suite + "@SECLEVEL=0"], suite, label,
                  "%s %s" % (suite, v), minv=v)
    t.eq(srv.stop(), 0, label + "legacy: exit 0")
    srv.check_sanitizer(t, label + "legacy: ")
    srv.cleanup()

t.done()

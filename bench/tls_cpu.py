#!/usr/bin/env python3
"""What TLS costs the server, in its own CPU time (from /proc, so a client
sharing the machine does not count): per full handshake, for each key type
(EC P-256, RSA-2048) and ECDHE group (X25519, P-256), and per MiB of a
message carried, for each AEAD suite.  Starts ./mailnook (or MAILNOOK_BIN)
with implicit TLS on 127.0.0.1 and certificates made here; the client is
Python's ssl module.  For comparing two builds (one implementation of a
primitive against another): run it on each.  Prints figures; passes or
fails nothing.

    python3 bench/tls_cpu.py [HANDSHAKES [MIB]]          (default 300 64)
"""
import os
import smtplib
import socket
import ssl
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
from mntest import Server, TOP, free_port  # noqa: E402


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def make_cert(d, kind):
    key, crt = os.path.join(d, kind + ".key"), os.path.join(d, kind + ".crt")
    opt = "ec_paramgen_curve:P-256" if kind == "ec" else "rsa_keygen_bits:2048"
    subprocess.run(["openssl", "genpkey", "-algorithm", "EC" if kind == "ec" else "RSA",
                    "-pkeyopt", opt, "-out", key], check=True, capture_output=True)
    subprocess.run(["openssl", "req", "-new", "-x509", "-key", key, "-subj", "/CN=mx.test",
                    "-days", "2", "-out", crt], check=True, capture_output=True)


def ctx_for(suite, group=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers(suite)
    if group:
        ctx.set_ecdh_curve(group)
    # a fresh context per run and no session kept: every handshake is full
    return ctx


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    mib = int(sys.argv[2]) if len(sys.argv) > 2 else 64
    binary = os.environ.get("MAILNOOK_BIN", os.path.join(TOP, "mailnook"))
    port = free_port()
    srv = Server(binary, ["domain=localhost", "mailbox=user@localhost,@DIR@/user",
                          "listen-tls=127.0.0.1:%d" % port, "max-message-size=%dM" % (mib + 2),
                          "tls-cert=@DIR@/ec.crt", "tls-key=@DIR@/ec.key",
                          "tls-cert=@DIR@/rsa.crt", "tls-key=@DIR@/rsa.key"])
    make_cert(srv.dir, "ec")
    make_cert(srv.dir, "rsa")
    srv.start()
    pid = srv.proc.pid
    print("binary      %s" % binary)
    for kx, label in (("ECDSA", "EC P-256"), ("RSA", "RSA-2048")):
        # the client's default groups get X25519 (the server's first);
        # prime256v1 alone gets P-256
        for group in (None, "prime256v1"):
            ctx = ctx_for("ECDHE-%s-AES128-GCM-SHA256" % kx, group)
            cpu0 = cpu_seconds(pid)
            for _ in range(n):
                with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
                    with ctx.wrap_socket(s) as t:
                        t.recv(100)         # the greeting: the handshake is done
            cpu = cpu_seconds(pid) - cpu0
            print("handshake   %-9s ECDHE %-10s %6.2f ms server CPU each (%d in %.2f s)"
                  % (label, group or "X25519", 1000 * cpu / n, n, cpu))
    body = (b"x" * 78 + b"\r\n") * (mib * 1024 * 1024 // 80)
    msg = b"Subject: bulk\r\n\r\n" + body
    for suite in ("ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
                  "ECDHE-ECDSA-CHACHA20-POLY1305"):
        with smtplib.SMTP_SSL("127.0.0.1", port, timeout=120, context=ctx_for(suite)) as c:
            c.ehlo("bulk.test")
            cpu0 = cpu_seconds(pid)
            c.sendmail("s@remote.example", ["user@localhost"], msg)
            cpu = cpu_seconds(pid) - cpu0
        print("bulk        %-30s %6.2f ms server CPU per MiB (%d MiB in %.2f s; storing included)"
              % (suite, 1000 * cpu / mib, mib, cpu))
    srv.stop()
    srv.cleanup()


main()

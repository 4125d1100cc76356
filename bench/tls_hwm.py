#!/usr/bin/env python3
"""Memory of a busy mailnook over TLS (bench/hwm.py's figures, with TLS):
starts ./mailnook on 127.0.0.1 with a certificate made here by openssl,
reads VmHWM and VmRSS, delivers MESSAGES messages over SESSIONS concurrent
smtplib sessions, each over STARTTLS or implicit TLS, and reads them again.
Prints the figures; passes or fails nothing.

    python3 bench/tls_hwm.py [MESSAGES [SESSIONS [BYTES [ec|rsa [starttls|implicit]]]]]
                                                   (default 1000 16 1024 ec implicit)
"""
import os
import smtplib
import ssl
import subprocess
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
from mntest import Server, TOP, free_port, maildir_files  # noqa: E402
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hwm import run_workers, status  # noqa: E402


def make_cert(d, kind):
    key, crt = os.path.join(d, "key.pem"), os.path.join(d, "cert.pem")
    opt = "ec_paramgen_curve:P-256" if kind == "ec" else "rsa_keygen_bits:2048"
    subprocess.run(["openssl", "genpkey", "-algorithm", "EC" if kind == "ec" else "RSA",
                    "-pkeyopt", opt, "-out", key], check=True, capture_output=True)
    subprocess.run(["openssl", "req", "-new", "-x509", "-key", key, "-subj", "/CN=mx.test",
                    "-days", "2", "-out", crt], check=True, capture_output=True)


def main():
    messages = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    sessions = int(sys.argv[2]) if len(sys.argv) > 2 else 16
    size = int(sys.argv[3]) if len(sys.argv) > 3 else 1024
    kind = sys.argv[4] if len(sys.argv) > 4 else "ec"
    mode = sys.argv[5] if len(sys.argv) > 5 else "implicit"
    binary = os.environ.get("MAILNOOK_BIN", os.path.join(TOP, "mailnook"))
    tls_port = free_port()
    srv = Server(binary, ["domain=localhost", "mailbox=user@localhost,@DIR@/user",
                          "max-sessions=%d" % max(sessions, 1),
                          "max-sessions-per-ip=%d" % max(sessions, 1),
                          "listen-tls=127.0.0.1:%d" % tls_port,
                          "tls-cert=@DIR@/cert.pem", "tls-key=@DIR@/key.pem"])
    make_cert(srv.dir, kind)
    srv.start()
    pid = srv.proc.pid
    before = status(pid)
    body = ("Subject: load\r\n\r\n" + ("x" * 70 + "\r\n") * (size // 72 + 1))[:size] + "\r\n"
    errors = []
    per = [messages // sessions + (1 if i < messages % sessions else 0) for i in range(sessions)]
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    # all sessions connected before any sends: the peak has every slot in TLS
    barrier = threading.Barrier(sessions)

    def worker(n):
        try:
            if mode == "starttls":
                c = smtplib.SMTP("127.0.0.1", srv.port, timeout=120)
                c.starttls(context=ctx)
            else:
                c = smtplib.SMTP_SSL("127.0.0.1", tls_port, timeout=120, context=ctx)
            with c:
                c.ehlo("load.test")
                barrier.wait(120)
                for _ in range(n):
                    c.sendmail("load@remote.example", ["user@localhost"], body)
        except Exception as e:  # noqa: BLE001 -- report every failure
            errors.append(repr(e))

    elapsed = run_workers(worker, per)
    after = status(pid)
    stored = len(maildir_files(srv.maildir("user")))
    log = srv.log()
    srv.stop()
    srv.cleanup()
    suites = sorted(set(x.split("cipher=")[1].split()[0] for x in log.splitlines() if "cipher=" in x))
    print("binary      %s" % binary)
    print("tls         %s key, %s, suites %s" % (kind.upper(), mode, ", ".join(suites)))
    print("messages    %d over %d sessions, %d bytes each, %.1f s (%.0f msg/s)"
          % (messages, sessions, size, elapsed, messages / elapsed if elapsed else 0))
    print("stored      %d   errors %d %s" % (stored, len(errors), errors[:3]))
    print("start-up    VmHWM %s  VmRSS %s" % (before.get("VmHWM"), before.get("VmRSS")))
    print("after load  VmHWM %s  VmRSS %s" % (after.get("VmHWM"), after.get("VmRSS")))


main()

#!/usr/bin/env python3
"""TLS handshakes per second: starts ./mailnook with implicit TLS on
127.0.0.1 and an EC P-256 or RSA-2048 certificate made here, runs
`openssl s_time -connect ... -new -time SECONDS` against it (a full
handshake per connection, no resumption), and prints the handshakes per
second together with the server's own CPU time from /proc, so the figure
per server CPU-second is what one core of this machine sustains even when
the client shares the machine.  Prints figures; passes or fails nothing.

    python3 bench/tls_handshakes.py [ec|rsa [SECONDS]]     (default ec 10)
"""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
from mntest import Server, TOP, free_port  # noqa: E402


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    kind = sys.argv[1] if len(sys.argv) > 1 else "ec"
    secs = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    binary = os.environ.get("MAILNOOK_BIN", os.path.join(TOP, "mailnook"))
    port = free_port()
    srv = Server(binary, ["domain=localhost", "mailbox=user@localhost,@DIR@/user",
                          "listen-tls=127.0.0.1:%d" % port,
                          "tls-cert=@DIR@/cert.pem", "tls-key=@DIR@/key.pem"])
    key, crt = os.path.join(srv.dir, "key.pem"), os.path.join(srv.dir, "cert.pem")
    opt = "ec_paramgen_curve:P-256" if kind == "ec" else "rsa_keygen_bits:2048"
    subprocess.run(["openssl", "genpkey", "-algorithm", "EC" if kind == "ec" else "RSA",
                    "-pkeyopt", opt, "-out", key], check=True, capture_output=True)
    subprocess.run(["openssl", "req", "-new", "-x509", "-key", key, "-subj", "/CN=mx.test",
                    "-days", "2", "-out", crt], check=True, capture_output=True)
    srv.start()
    pid = srv.proc.pid
    cpu0 = cpu_seconds(pid)
    cmd = ["openssl", "s_time", "-connect", "127.0.0.1:%d" % port, "-new", "-time", str(secs)]
    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=secs + 60)
    cpu = cpu_seconds(pid) - cpu0
    log = srv.log()
    srv.stop()
    srv.cleanup()
    m = re.search(r"(\d+) connections in (\d+) real seconds", r.stdout)
    conns = int(m.group(1)) if m else 0
    wall = float(m.group(2)) if m else 0
    suites = sorted(set(x.split("cipher=")[1].split()[0] for x in log.splitlines() if "cipher=" in x))
    print("command     %s" % " ".join(cmd))
    print("key         %s, suites %s" % ("EC P-256" if kind == "ec" else "RSA-2048", ", ".join(suites)))
    print("handshakes  %d in %.1f s wall: %.0f/s (client and server share the machine)"
          % (conns, wall, conns / wall if wall else 0))
    print("server CPU  %.2f s: %.0f handshakes per server CPU-second (one core)"
          % (cpu, conns / cpu if cpu else 0))
    if not m:
        print(r.stdout[-2000:], r.stderr[-2000:])


main()

#!/usr/bin/env python3
"""What the leaner platform code still does (the static build leaves out
the C library's gmtime_r, inet_pton and strerror): a foreground log line
is stamped with the UTC time of day, each listener binds the address it
names (not the wildcard), and an errno reads as the C library says it."""
import calendar
import os
import re
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mntest import Tap, Server, binaries, free_port  # noqa: E402

t = Tap()
STAMP = re.compile(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)Z mailnook\[(\d+)\]: ")


def refused(host, port):
    try:
        socket.create_connection((host, port), timeout=2).close()
        return False
    except ConnectionRefusedError:
        return True
    except OSError:
        return False


for label, binary in binaries():
    v6 = "ipv6" in subprocess.run([binary, "-V"], capture_output=True, text=True).stdout
    p2, p6 = free_port(), free_port()
    lines = ["domain=localhost", "mailbox=user@localhost,@DIR@/Maildir",
             "listen=127.0.0.2:%d" % p2]
    if v6:
        lines.append("listen=[::1]:%d" % p6)
    before = time.time()
    srv = Server(binary, lines).start()
    after = time.time()

    # ---- the stamp: YYYY-MM-DDTHH:MM:SSZ, now, and our pid ------------------
    first = srv.log().split("\n")[0]
    m = STAMP.match(first)
    t.ok(m is not None, label + "a log line starts with a UTC stamp and mailnook[PID]", first)
    if m:
        y, mo, d, h, mi, s, pid = (int(x) for x in m.groups())
        stamp = calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0))
        t.ok(int(before) - 1 <= stamp <= after + 1,
             label + "  the time it was written (UTC)", "%s, start %.0f-%.0f" % (first, before, after))
        t.eq(pid, srv.proc.pid, label + "  and the server's pid")
    else:
        t.skip(label + "  the time it was written (UTC)", "no stamp")
        t.skip(label + "  and the server's pid", "no stamp")

    # ---- listeners on the addresses they name --------------------------------
    s = socket.create_connection(("127.0.0.2", p2), timeout=5)
    greeting = s.makefile("rb").readline().decode()
    s.close()
    t.ok(greeting.startswith("220 mx.test "), label + "listen=127.0.0.2: answers there", greeting)
    t.ok(refused("127.0.0.3", p2), label + "  and on 127.0.0.3 nothing listens (not the wildcard)")
    if v6:
        try:
            s = socket.create_connection(("::1", p6), timeout=5)
            greeting = s.makefile("rb").readline().decode()
            s.close()
        except OSError as e:
            greeting = str(e)
        t.ok(greeting.startswith("220 mx.test "), label + "listen=[::1]: answers there", greeting)
    else:
        t.skip(label + "listen=[::1]: answers there", "built without IPv6")

    # ---- an errno text: the port taken ---------------------------------------
    other = Server(binary, ["domain=localhost", "mailbox=user@localhost,@DIR@/Maildir"],
                   port=srv.port)
    r = subprocess.run([binary, "-f", "-c", other.conf], capture_output=True, text=True,
                       timeout=15, cwd=other.dir)
    t.ok(r.returncode == 1 and re.search(r"listen 127\.0\.0\.1:%d: Address (already )?in use"
                                         % srv.port, r.stderr),
         label + "a port in use: the errno's text (musl: Address in use)", r.stderr)
    other.cleanup()

    t.eq(srv.stop(), 0, label + "exit 0")
    srv.check_sanitizer(t, label)
    srv.cleanup()

t.done()

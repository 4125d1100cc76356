#!/usr/bin/env python3
"""The command line and the configuration file as a user meets them: -t, -V,
-h, errors naming FILE:LINE, the command line winning over the file."""
import os
import re
import shutil
import smtplib
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mntest import Tap, Server, binaries, free_port, read_new  # noqa: E402

t = Tap()


def run(argv, cwd=None):
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30, cwd=cwd)
    return r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")


for label, binary in binaries():
    d = tempfile.mkdtemp(prefix="mailnook-cli-")
    good = os.path.join(d, "good.conf")
    with open(good, "w") as f:
        f.write("# a comment\n\nlisten = 127.0.0.1:%d\n  domain=localhost  \n"
                "mailbox=user@localhost, %s/Maildir\nallow-bare-lf\n" % (free_port(), d))
    rc, out, err = run([binary, "-t", "-c", good])
    t.eq((rc, out.strip()), (0, "mailnook: configuration OK"), label + "-t on a good file")
    t.ok(os.path.isdir(os.path.join(d, "Maildir", "new")), label + "-t creates the Maildir")
    t.ok("postmaster" in err, label + "-t warns that postmaster is not configured", err)
    rc, out, err = run([binary, "--test", "--conf-file=" + good])
    t.eq(rc, 0, label + "--test --conf-file=")

    bad = os.path.join(d, "bad.conf")
    with open(bad, "w") as f:
        f.write("domain=localhost\n"                      # 1
                "frobnicate=yes\n"                        # 2
                "max-message-size=12k\n"                  # 3
                "max-recipients=50\n"                     # 4
                "listen=127.0.0.1:99999\n"                # 5
                "mailbox=user@localhost,%s/M\n"           # 6
                "alias=x@localhost,nobody@localhost\n"    # 7
                "timeout=soon\n" % d)                     # 8
    rc, out, err = run([binary, "-t", "-c", bad])
    t.eq(rc, 1, label + "-t on a bad file exits 1")
    for line in (2, 3, 4, 5, 7, 8):
        t.like(err, r"(?m)^%s:%d: \S" % (re.escape(bad), line), label + "error names %s:%d" % ("bad.conf", line))
    t.ok("configuration OK" not in out, label + "no OK on errors")

    rc, out, err = run([binary, "-t", "-c", os.path.join(d, "missing.conf")])
    t.ok(rc == 1 and "missing.conf" in err, label + "missing file named", err)

    rc, out, err = run([binary, "-t", "-c", good, "--no-such-option=1"])
    t.ok(rc == 1 and "no-such-option" in err, label + "unknown command-line option is an error", err)
    rc, out, err = run([binary, "-t", "-c", good, "--max-message-size=1k"])
    t.ok(rc == 1 and "max-message-size" in err, label + "bad command-line value is an error", err)

    # user= names an account of /etc/passwd; one that is not there stops the
    # start with a message that says so
    port = free_port()
    rc, out, err = run([binary, "-f", "-c", good, "--listen=127.0.0.1:%d" % port,
                        "--user=no-such-user-mailnook"])
    t.ok(rc != 0 and "user no-such-user-mailnook: no such user in /etc/passwd" in out + err,
         label + "user= not in /etc/passwd: a clear error, no start", out + err)

    rc, out, err = run([binary, "-V"])
    t.ok(rc == 0 and re.search(r"mailnook \d+\.\d+", out + err) and "\nfeatures:" in out + err,
         label + "-V prints version and features", out + err)
    rc, out, err = run([binary, "-h"])
    t.ok(rc == 0 and "--conf-file" in out + err and "max-message-size" in out + err, label + "-h prints usage")

    # The command line wins over the file: the server listens where it says
    # and uses its max-message-size.
    port = free_port()
    srv = Server(binary, ["domain=localhost", "mailbox=user@localhost,@DIR@/user", "max-message-size=10M"],
                 args=["--listen=127.0.0.1:%d" % port, "--max-message-size=100k"])
    srv.port = port
    srv.start()
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as c:
        c.ehlo("cli.test")
        t.eq(c.esmtp_features.get("size"), "102400", label + "command line overrides the file")
    t.eq(srv.stop(), 0, label + "exit 0")
    srv.cleanup()

    # A listener that cannot bind is a start-up error, not a silent failure.
    srv = Server(binary, ["domain=localhost", "mailbox=user@localhost,@DIR@/user"])
    srv.start()
    srv2 = Server(binary, ["domain=localhost", "mailbox=user@localhost,@DIR@/user"], port=srv.port)
    srv2.start(wait=False)
    try:
        rc = srv2.proc.wait(15)
    except subprocess.TimeoutExpired:
        rc = None
    t.eq(rc, 1, label + "a port in use: exit 1")
    srv2.stop()
    t.ok(str(srv.port) in srv2.log(), label + "the error names the address", srv2.log())
    srv2.cleanup()
    srv.cleanup()
    shutil.rmtree(d, ignore_errors=True)

t.done()

#!/usr/bin/env python3
"""What the bare system calls that stand in for C library calls still do:
the default host name is the system's (uname(2)), a relative Maildir path
is taken from the directory mailnook started in (getcwd), and the Maildir
check tests new/ as the user= user (faccessat), so `-t` refuses a new/
that user cannot write."""
import os
import pwd
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mntest import Tap, Server, Raw, binaries, maildir_files  # noqa: E402
from mnops import transaction  # noqa: E402

t = Tap()
BODY = b"Subject: bare\r\n\r\nbody\r\n"

for label, binary in binaries():
    # ---- no hostname=: the system's node name ------------------------------
    srv = Server(binary, ["domain=localhost", "mailbox=user@localhost,rel/Maildir"])
    with open(srv.conf) as f:
        lines = [ln for ln in f if not ln.startswith("hostname=")]
    with open(srv.conf, "w") as f:
        f.writelines(lines)
    srv.start()
    c = Raw(srv.port)
    greeting = c.reply()
    c.cmd("QUIT")
    node = os.uname().nodename
    t.eq(greeting, "220 %s ESMTP mailnook" % node, label + "no hostname=: the greeting names the system (%s)" % node)
    # ---- a relative Maildir: under the start directory ----------------------
    t.eq(transaction(srv.port, ["user@localhost"], BODY)[-1], "250 2.0.0", label + "delivers to rel/Maildir")
    t.eq(len(maildir_files(os.path.join(srv.dir, "rel", "Maildir"))), 1,
         label + "  into the start directory's rel/Maildir/new")
    t.eq(srv.stop(), 0, label + "exit 0")
    srv.check_sanitizer(t, label)
    srv.cleanup()

    # ---- -t with user=: new/ checked as that user ---------------------------
    try:
        pw = pwd.getpwnam("nobody")
    except KeyError:
        pw = None
    if os.geteuid() != 0 or pw is None:
        t.skip(label + "-t user=nobody, new/ not nobody's", "needs root and a user nobody")
        continue
    d = tempfile.mkdtemp(prefix="mailnook-bare-")
    os.chmod(d, 0o711)
    md = os.path.join(d, "Maildir")
    for sub in ("", "tmp", "new", "cur"):
        os.mkdir(os.path.join(md, sub), 0o700)
        os.chown(os.path.join(md, sub), pw.pw_uid, pw.pw_gid)
    conf = os.path.join(d, "mailnook.conf")
    with open(conf, "w") as f:
        f.write("listen=127.0.0.1:2525\ndomain=localhost\nuser=nobody\n"
                "mailbox=user@localhost,%s\n" % md)

    def check():
        r = subprocess.run([binary, "-t", "-c", conf], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
        return r.returncode, r.stdout.decode(errors="replace")
    rc, out = check()
    t.ok(rc == 0 and "configuration OK" in out, label + "-t user=nobody: nobody's Maildir is OK", out)
    os.chown(os.path.join(md, "new"), 0, 0)
    os.chmod(os.path.join(md, "new"), 0o755)
    rc, out = check()
    t.ok(rc == 1 and "not usable" in out and "Permission denied" in out,
         label + "  new/ root's, 0755: not usable, Permission denied", out)
    shutil.rmtree(d)

t.done()

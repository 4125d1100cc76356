#!/usr/bin/env python3
"""Cross build for armhf (make CROSS_COMPILE=arm-linux-gnueabihf-), then the
unit tests and one delivery on loopback under qemu-arm."""
import glob
import os
import shutil
import smtplib
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mntest import Tap, Server, TOP, read_new  # noqa: E402

t = Tap()
PREFIX = "arm-linux-gnueabihf-"
SYSROOT = "/usr/arm-linux-gnueabihf"
build = os.path.join("build", "cross-armhf")
binpath = os.path.join(TOP, build, "mailnook")

if not shutil.which(PREFIX + "gcc") or not shutil.which("qemu-arm"):
    t.skip("cross test", "needs gcc-arm-linux-gnueabihf and qemu-user (scripts/deps.sh test)")
    t.done()

r = subprocess.run(["make", "-s", "CROSS_COMPILE=" + PREFIX, "BUILD=" + build, "BIN=" + os.path.join(build, "mailnook"),
                    os.path.join(build, "mailnook"), "unit"],
                   cwd=TOP, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600)
if not t.eq(r.returncode, 0, "make CROSS_COMPILE=%s builds" % PREFIX):
    t.diag(r.stdout.decode(errors="replace")[-3000:])
    t.done()

out = subprocess.run(["file", binpath], stdout=subprocess.PIPE).stdout.decode() if shutil.which("file") else "ARM"
t.ok("ARM" in out, "the binary is for ARM", out)

qemu = ["qemu-arm", "-L", SYSROOT]
for unit in sorted(glob.glob(os.path.join(TOP, build, "tests", "*.t"))):
    r = subprocess.run(qemu + [unit], cwd=TOP, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=300)
    text = r.stdout.decode(errors="replace")
    t.ok(r.returncode == 0 and "not ok" not in text, "armhf unit test %s" % os.path.basename(unit),
         "\n".join(x for x in text.splitlines() if x.startswith("not ok") or x.startswith("#"))[:3000])

srv = Server(qemu + [binpath], ["domain=localhost", "mailbox=user@localhost,@DIR@/user"]).start()
with smtplib.SMTP("127.0.0.1", srv.port, timeout=30) as c:
    c.ehlo("arm.test")
    t.eq(c.sendmail("a@remote.example", ["user@localhost"], "Subject: arm\r\n\r\nfrom qemu\r\n"), {},
         "armhf binary accepts a message")
files = read_new(srv.maildir("user"))
t.ok(len(files) == 1 and files[0].endswith(b"Subject: arm\n\nfrom qemu\n"), "armhf binary stored it")
t.eq(srv.stop(), 0, "armhf binary exits 0 on SIGTERM")
srv.cleanup()
t.done()

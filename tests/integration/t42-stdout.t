#!/usr/bin/env python3
"""--help, -V and -t's OK go to stdout through write(2), not stdio: all of
it reaches a pipe, and a stdout that takes nothing (/dev/full) makes the
exit status 1 instead of a silent 0."""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mntest import Tap, binaries, free_port  # noqa: E402

t = Tap()


def run(argv, stdout=subprocess.PIPE):
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=stdout,
                       stderr=subprocess.PIPE, timeout=30)
    out = r.stdout.decode(errors="replace") if r.stdout is not None else None
    return r.returncode, out, r.stderr.decode(errors="replace")


for label, binary in binaries():
    d = tempfile.mkdtemp(prefix="mailnook-stdout-")
    good = os.path.join(d, "good.conf")
    with open(good, "w") as f:
        f.write("listen = 127.0.0.1:%d\ndomain=localhost\n"
                "mailbox=postmaster@localhost, %s/Maildir\n" % (free_port(), d))
    cases = (("-V", ["-V"], r"\Amailnook \S+\nfeatures:.*\nlimits: .*\n"
              r"static footprint: .*total \d+ bytes\n\Z"),
             ("--help", ["--help"], r"\Ausage: mailnook (.*\n)+  --\S+ +\S.*\n\Z"),
             ("-t", ["-t", "-c", good], r"\Amailnook: configuration OK\n\Z"))
    for name, args, whole in cases:
        rc, out, err = run([binary] + args)
        t.eq(rc, 0, label + name + " to a pipe exits 0")
        t.like(out, whole, label + name + ": all of it, ending in a newline")
        with open("/dev/full", "wb") as full:
            rc, out, err = run([binary] + args, stdout=full)
        t.eq(rc, 1, label + name + " to /dev/full exits 1")

t.done()

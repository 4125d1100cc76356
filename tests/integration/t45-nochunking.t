#!/usr/bin/env python3
"""A build without CONFIG_CHUNKING (configs/tiny_defconfig, built here with
the system compiler unless the suite's binary already lacks it): -V does
not list chunking, EHLO does not offer CHUNKING, HELP does not name BDAT,
BDAT is 502 5.5.1 and the session goes on, and DATA delivers."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mntest import Tap, Server, Raw, TOP, binaries, maildir_files  # noqa: E402
from mnops import features, transaction  # noqa: E402

t = Tap()
BODY = b"Subject: no chunking\r\n\r\nbody\r\n"


def without_chunking():
    """(label, binary) builds without CHUNKING: the suite's own where they
    lack it, else configs/tiny_defconfig built into build/t45-tiny."""
    bins = [(label, b) for label, b in binaries() if "chunking" not in features(b)]
    if bins:
        return bins, None
    build = "build/t45-tiny"
    r = subprocess.run(["make", "-s", "KCONFIG_CONFIG=configs/tiny_defconfig", "BUILD=" + build,
                        "BIN=%s/mailnook" % build, "%s/mailnook" % build],
                       cwd=TOP, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=900)
    if r.returncode != 0:
        return None, r.stdout.decode(errors="replace")[-2000:]
    return [("tiny: ", os.path.join(TOP, build, "mailnook"))], None


bins, err = without_chunking()
if bins is None:
    t.ok(False, "configs/tiny_defconfig builds", err)
    t.done()

for label, binary in bins:
    t.ok("chunking" not in features(binary) and "mailnook" in subprocess.run(
         [binary, "-V"], stdout=subprocess.PIPE, timeout=30).stdout.decode(),
         label + "-V: no chunking among the features")
    srv = Server(binary, ["domain=localhost", "mailbox=user@localhost,@DIR@/Maildir"]).start()
    c = Raw(srv.port)
    c.reply()
    ehlo = c.cmd("EHLO client.test")
    t.ok(ehlo.startswith("250-") and "PIPELINING" in ehlo and "SMTPUTF8" in ehlo
         and "CHUNKING" not in ehlo, label + "EHLO: no CHUNKING, the rest as before", ehlo)
    help_ = c.cmd("HELP")
    t.ok(help_.startswith("214 ") and " DATA " in help_ and "BDAT" not in help_,
         label + "HELP: no BDAT", help_)
    t.eq(c.cmd("MAIL FROM:<a@remote.example>")[:3], "250", label + "MAIL")
    t.eq(c.cmd("RCPT TO:<user@localhost>")[:3], "250", label + "RCPT")
    bdat = c.cmd("BDAT 0 LAST")
    t.eq(bdat, "502 5.5.1 Command not implemented", label + "BDAT: 502 5.5.1")
    t.eq(c.cmd("DATA")[:3], "354", label + "  the transaction goes on: DATA after it")
    c.send(BODY + b".\r\n")
    t.eq(c.reply()[:3], "250", label + "  and delivers")
    t.eq(c.cmd("QUIT")[:3], "221", label + "QUIT")
    t.eq(transaction(srv.port, ["user@localhost"], BODY)[-1], "250 2.0.0", label + "a second message")
    t.eq(len(maildir_files(srv.maildir("Maildir"))), 2, label + "two messages in the Maildir")
    t.eq(srv.stop(), 0, label + "exit 0")
    srv.check_sanitizer(t, label)
    srv.cleanup()

t.done()

#!/usr/bin/env python3
"""The open-file limit: a soft RLIMIT_NOFILE below what max-sessions needs
(3 a session, one a listener, 16 more) is raised to it, within the hard
limit, and a hard limit below it keeps the soft one where it can go, with a
warning.  platform/single_thread.c sets it with the bare system call, which
is the whole effect only while mailnook has one thread: that is checked
too.  (user=, through the same file, is checked by t73.)"""
import os
import resource
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mntest import Tap, Server, binaries  # noqa: E402
from mnops import proc_status, transaction  # noqa: E402
import subprocess  # noqa: E402

t = Tap()
BODY = b"Subject: limits\r\n\r\nbody\r\n"
SESSIONS = 2
BASE_NEED = SESSIONS * 3 + 1 + 16


def need(binary):
    """BASE_NEED, and with on-delivery (-V: hooks=N) its pipes and
    children: 3 + N + 1 (platform/hook.h HOOK_FDS)."""
    out = subprocess.run([binary, "-V"], stdout=subprocess.PIPE, timeout=30).stdout.decode()
    for word in out.split():
        if word.startswith("hooks="):
            return BASE_NEED + 3 + int(word[6:]) + 1
    return BASE_NEED


# runs argv[3:] with RLIMIT_NOFILE at (argv[1], argv[2])
LIMITED = ("import os, resource, sys\n"
           "resource.setrlimit(resource.RLIMIT_NOFILE, (int(sys.argv[1]), int(sys.argv[2])))\n"
           "os.execv(sys.argv[3], sys.argv[3:])\n")


def nofile(pid):
    """(soft, hard) "Max open files" of /proc/PID/limits, as strings."""
    with open("/proc/%d/limits" % pid) as f:
        for line in f:
            if line.startswith("Max open files"):
                return tuple(line.split()[3:5])
    return None


hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
for label, binary in binaries():
    NEED = need(binary)
    lines = ["domain=localhost", "mailbox=user@localhost,@DIR@/Maildir",
             "max-sessions=%d" % SESSIONS]
    if hard != resource.RLIM_INFINITY and hard < NEED + 1:
        t.skip(label + "soft limit raised", "hard open-file limit %d here" % hard)
    else:
        srv = Server([sys.executable, "-c", LIMITED, "20", str(hard), binary], lines).start()
        pid = srv.proc.pid
        t.eq(nofile(pid), (str(NEED), "unlimited" if hard == resource.RLIM_INFINITY else str(hard)),
             label + "soft open-file limit 20 raised to %d, the hard one kept" % NEED)
        t.eq(proc_status(pid).get("Threads"), "1", label + "  one thread")
        t.eq(transaction(srv.port, ["user@localhost"], BODY)[-1], "250 2.0.0", label + "  delivers")
        t.ok("open-file limit" not in srv.log() and "setrlimit" not in srv.log(),
             label + "  no warning about it", srv.log())
        t.eq(srv.stop(), 0, label + "  exit 0")
        srv.check_sanitizer(t, label)
        srv.cleanup()

    srv = Server([sys.executable, "-c", LIMITED, "20", "20", binary], lines).start()
    t.eq(nofile(srv.proc.pid), ("20", "20"), label + "hard limit 20 below %d: the soft one stays 20" % NEED)
    t.ok("warning: open-file limit 20 is below the %d max-sessions needs" % NEED in srv.log(),
         label + "  with a warning", srv.log())
    t.eq(srv.stop(), 0, label + "  exit 0")
    srv.check_sanitizer(t, label)
    srv.cleanup()

t.done()

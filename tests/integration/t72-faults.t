#!/usr/bin/env python3
"""Storage faults while the server runs: a Maildir made unwritable (tmp/ a
file, chattr +i on tmp/ or new/), a Maildir removed (before and during
DATA), ENOSPC on a small tmpfs, min-free-space at MAIL and before the
commit, EIO from fsync (an LD_PRELOAD shim), kill -9 during DATA and a
restart.  Each failed transaction gets 451 4.3.0 or 452 4.3.1, leaves
nothing in new/ and nothing of ours in tmp/, and the session and the server
go on."""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mntest import Tap, Server, Raw, binaries, maildir_files  # noqa: E402
from mnops import build_fault_shim, code, features, usr1_until  # noqa: E402

t = Tap()
ROOT = os.geteuid() == 0
BODY = b"Subject: fault\r\n\r\nfault test\r\n"


class Session:
    """One SMTP session kept open across transactions."""

    def __init__(self, port):
        self.c = Raw(port)
        self.c.reply()
        self.c.cmd("EHLO faults.test")

    def send(self, rcpt, body=BODY, sender="a@remote.example"):
        """MAIL, RCPT, DATA: the first reply that is not a success, or the
        final reply after the data."""
        r = code(self.c.cmd("MAIL FROM:<%s>" % sender))
        if not r.startswith("250"):
            return r
        r = code(self.c.cmd("RCPT TO:<%s>" % rcpt))
        if not r.startswith("250"):
            self.c.cmd("RSET")
            return r
        r = code(self.c.cmd("DATA"))
        if not r.startswith("354"):
            self.c.cmd("RSET")
            return r
        self.c.send(body + b".\r\n")
        return code(self.c.reply(timeout=30))

    def close(self):
        try:
            self.c.cmd("QUIT")
        except (OSError, EOFError):
            pass
        self.c.close()


def ours(d):
    try:
        return [n for n in maildir_files(d, "tmp") if n.startswith("mailnook.")]
    except NotADirectoryError:
        return []


def clean(t, label, d, what):
    t.eq((maildir_files(d), ours(d)), ([], []), label + what + ": nothing in new/, nothing of ours in tmp/")


def chattr(flag, path):
    try:
        return subprocess.run(["chattr", flag, path], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def mount_tmpfs(path, size):
    """None when mounted, else the reason it could not be."""
    if not ROOT:
        return "mounting a tmpfs needs root"
    os.makedirs(path, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s,mode=0700" % size, "tmpfs", path],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=10)
    if r.returncode != 0:
        return "mount -t tmpfs not permitted here: " + r.stdout.decode(errors="replace").strip()
    return None


def umount(path):
    for _ in range(50):
        if subprocess.run(["umount", path], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                          timeout=10).returncode == 0:
            return
        time.sleep(0.1)


def free_bytes(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


SHIM, SHIM_WHY = build_fault_shim()

for label, binary in binaries():
    stats = "stats" in features(binary)
    stats_line = ["stats-file=@DIR@/stats.prom"] if stats else []
    # ---- unwritable and vanishing Maildirs ---------------------------------
    srv = Server(binary, ["domain=localhost", "mailbox=user@localhost,@DIR@/user",
                          "mailbox=other@localhost,@DIR@/other"]).start()
    user, other = srv.maildir("user"), srv.maildir("other")
    s = Session(srv.port)

    tmp = os.path.join(user, "tmp")
    os.rmdir(tmp)
    open(tmp, "w").close()
    t.eq(s.send("user@localhost"), "451 4.3.0", label + "tmp/ is a file: 451 4.3.0")
    clean(t, label, user, "tmp/ a file")
    t.eq(s.send("other@localhost"), "250 2.0.0", label + "  the same session delivers elsewhere")
    os.unlink(tmp)
    os.mkdir(tmp, 0o700)
    t.eq(s.send("user@localhost"), "250 2.0.0", label + "  and to the repaired Maildir")
    n_user = len(maildir_files(user))

    if ROOT:
        ok_tmp = chattr("+i", tmp)
        if ok_tmp:
            try:
                t.eq(s.send("user@localhost"), "451 4.3.0", label + "chattr +i tmp/: 451 4.3.0")
            finally:
                chattr("-i", tmp)
            t.eq((len(maildir_files(user)), ours(user)), (n_user, []),
                 label + "  nothing new in new/, nothing of ours in tmp/")
        else:
            t.skip(label + "chattr +i tmp/", "chattr +i not supported on this file system")
        new = os.path.join(user, "new")
        if ok_tmp and chattr("+i", new):
            try:
                t.eq(s.send("user@localhost", BODY + b"x" * 20000 + b"\r\n"), "451 4.3.0",
                     label + "chattr +i new/: the link fails, 451 4.3.0 after the data")
            finally:
                chattr("-i", new)
            t.eq((len(maildir_files(user)), ours(user)), (n_user, []),
                 label + "  nothing new in new/, the tmp/ file removed")
        else:
            t.skip(label + "chattr +i new/", "chattr +i not supported on this file system")
    else:
        os.chmod(tmp, 0o500)
        t.eq(s.send("user@localhost"), "451 4.3.0", label + "tmp/ not writable (mode 0500): 451 4.3.0")
        os.chmod(tmp, 0o700)
        t.eq((len(maildir_files(user)), ours(user)), (n_user, []), label + "  nothing left anywhere")
    t.eq(s.send("user@localhost"), "250 2.0.0", label + "  writable again: 250")
    n_user += 1

    # the Maildir removed while the server runs
    shutil.rmtree(user)
    t.eq(s.send("user@localhost"), "451 4.3.0", label + "Maildir removed: 451 4.3.0")
    t.ok(not os.path.exists(user), label + "  nothing was created in its place")
    t.eq(s.send("other@localhost"), "250 2.0.0", label + "  other mailboxes go on in the same session")
    for sub in ("tmp", "new", "cur"):
        os.makedirs(os.path.join(user, sub), 0o700)
    t.eq(s.send("user@localhost"), "250 2.0.0", label + "  a recreated Maildir is used again")

    # ... and removed in the middle of DATA (the file is open in tmp/)
    c = s.c
    c.cmd("MAIL FROM:<a@remote.example>")
    c.cmd("RCPT TO:<user@localhost>")
    c.cmd("DATA")
    c.send(b"Subject: half\r\n\r\n" + b"h" * 30000 + b"\r\n")
    deadline = time.time() + 10
    while not ours(user) and time.time() < deadline:
        time.sleep(0.02)
    t.ok(ours(user), label + "DATA in progress: the message is in tmp/")
    shutil.rmtree(user)
    c.send(b"the end\r\n.\r\n")
    t.eq(code(c.reply(timeout=30)), "451 4.3.0", label + "Maildir removed during DATA: 451 4.3.0")
    t.ok(not os.path.exists(user), label + "  nothing was created in its place")
    t.eq(s.send("other@localhost"), "250 2.0.0", label + "  the session goes on")
    s.close()
    t.eq(maildir_files(other, "tmp"), [], label + "the other Maildir's tmp/ is empty")
    t.like(srv.log(), r"result=failed reason=store-error", label + "failures are logged")
    t.eq(srv.stop(), 0, label + "exit 0")
    srv.check_sanitizer(t, label)
    srv.cleanup()

    # ---- ENOSPC and min-free-space on a small tmpfs -------------------------
    base = tempfile.mkdtemp(prefix="mailnook-small-")
    small = os.path.join(base, "fs")
    why = mount_tmpfs(small, "512k")
    if why:
        t.skip(label + "ENOSPC and min-free-space on a 512k tmpfs", why)
    else:
        try:
            sm = os.path.join(small, "Maildir")
            # min-free-space=0: the file system itself runs out
            srv = Server(binary, ["domain=localhost", "mailbox=small@localhost," + sm,
                                  "mailbox=big@localhost,@DIR@/big", "min-free-space=0"] + stats_line).start()
            s = Session(srv.port)
            big = BODY + (b"n" * 998 + b"\r\n") * 700          # about 700 KB
            t.eq(s.send("small@localhost", big), "452 4.3.1", label + "ENOSPC: 452 4.3.1 after the data")
            clean(t, label, sm, "ENOSPC")
            t.eq(s.send("small@localhost"), "250 2.0.0", label + "  a small message fits again: 250")
            t.eq(s.send("big@localhost", big), "250 2.0.0", label + "  a big one elsewhere: 250")
            s.close()
            t.like(srv.log(), r"result=failed reason=no-space", label + "  logged as no-space")
            if stats:
                st, _, _ = usr1_until(srv, os.path.join(srv.dir, "stats.prom"),
                                      lambda x: x.get("mailnook_messages_delivered_total") == 2)
                t.eq((st.get('mailnook_messages_failed_total{reason="nospace"}'),
                      st.get("mailnook_storage_errors_total")),
                     (1, 1), label + "  stats: failed{nospace} 1, storage_errors 1")
            t.eq(srv.stop(), 0, label + "exit 0")
            srv.check_sanitizer(t, label)
            srv.cleanup()
            shutil.rmtree(os.path.join(sm, "new"))
            os.mkdir(os.path.join(sm, "new"), 0o700)

            # min-free-space=300k: free space is about 500k
            srv = Server(binary, ["domain=localhost", "mailbox=small@localhost," + sm,
                                  "min-free-space=300k"] + stats_line).start()
            s = Session(srv.port)
            t.ok(free_bytes(small) > 300 * 1024, label + "tmpfs free above min-free-space (%d)" % free_bytes(small))
            t.eq(s.send("small@localhost"), "250 2.0.0", label + "  above min-free-space: 250")
            mid = BODY + (b"m" * 998 + b"\r\n") * 250          # about 250 KB
            t.eq(s.send("small@localhost", mid), "452 4.3.1",
                 label + "a message that takes the free space below min-free-space: 452 4.3.1 before the commit")
            t.eq((len(maildir_files(sm)), ours(sm)), (1, []), label + "  nothing new in new/, tmp/ clean")
            filler = os.path.join(small, "filler")
            with open(filler, "wb") as f:
                f.write(b"f" * max(0, free_bytes(small) - 200 * 1024))
            t.ok(free_bytes(small) < 300 * 1024, label + "filled below min-free-space (%d)" % free_bytes(small))
            t.eq(code(s.c.cmd("MAIL FROM:<a@remote.example>")), "452 4.3.1",
                 label + "below min-free-space: MAIL 452 4.3.1")
            os.unlink(filler)
            t.eq(s.send("small@localhost"), "250 2.0.0", label + "  space freed: 250 again")
            s.close()
            t.like(srv.log(), r"result=failed reason=min-free-space", label + "  logged as min-free-space")
            if stats:
                st, _, _ = usr1_until(srv, os.path.join(srv.dir, "stats.prom"),
                                      lambda x: x.get("mailnook_messages_delivered_total") == 2)
                t.eq((st.get('mailnook_messages_failed_total{reason="nospace"}'),
                      st.get("mailnook_storage_errors_total"),
                      st.get('mailnook_mail_refused_total{reason="nospace"}')),
                     (1, 0, 1), label + "  stats: failed{nospace} 1, storage_errors 0, mail_refused{nospace} 1")
            t.eq(srv.stop(), 0, label + "exit 0")
            srv.check_sanitizer(t, label)
            srv.cleanup()
        finally:
            umount(small)
            shutil.rmtree(base, ignore_errors=True)

    # ---- EIO from fsync (LD_PRELOAD shim) -------------------------------------
    if not SHIM:
        t.skip(label + "EIO from fsync", SHIM_WHY)
    else:
        flag = tempfile.mktemp(prefix="mailnook-fault-")
        srv = Server(binary, ["domain=localhost", "mailbox=user@localhost,@DIR@/user",
                              "mailbox=other@localhost,@DIR@/other", "alias=both@localhost,user@localhost,other@localhost"],
                     env={"LD_PRELOAD": SHIM, "MAILNOOK_FAULT": flag,
                          "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:verify_asan_link_order=0"}).start()
        user, other = srv.maildir("user"), srv.maildir("other")
        s = Session(srv.port)
        try:
            with open(flag, "w") as f:
                f.write("file")
            t.eq(s.send("user@localhost"), "451 4.3.0", label + "EIO from fsync of the file: 451 4.3.0")
            clean(t, label, user, "fsync EIO")
            with open(flag, "w") as f:
                f.write("dir")
            t.eq(s.send("both@localhost"), "451 4.3.0", label + "EIO from fsync of new/: 451 4.3.0")
            clean(t, label, user, "new/ fsync EIO")
            clean(t, label, other, "new/ fsync EIO, second Maildir")
        finally:
            if os.path.exists(flag):
                os.unlink(flag)
        t.eq(s.send("both@localhost"), "250 2.0.0", label + "  EIO gone: 250, the session goes on")
        t.eq((len(maildir_files(user)), len(maildir_files(other))), (1, 1), label + "  stored in both")
        s.close()
        t.eq(srv.stop(), 0, label + "exit 0")
        srv.check_sanitizer(t, label)
        srv.cleanup()

    # ---- kill -9 during DATA, then a restart -------------------------------------
    srv = Server(binary, ["domain=localhost", "mailbox=user@localhost,@DIR@/user"]).start()
    user = srv.maildir("user")
    tmpd = os.path.join(user, "tmp")
    foreign = os.path.join(tmpd, "1700000000.M1P2.dovecot")
    stale = os.path.join(tmpd, "1600000000.M1P3.stale")
    for p in (foreign, stale):
        with open(p, "w") as f:
            f.write("another agent's file\n")
    old = time.time() - 40 * 3600
    os.utime(stale, (old, old))
    c = Raw(srv.port)
    c.reply()
    c.cmd("EHLO kill.test")
    c.cmd("MAIL FROM:<a@remote.example>")
    c.cmd("RCPT TO:<user@localhost>")
    c.cmd("DATA")
    c.send(b"Subject: killed\r\n\r\n" + b"k" * 50000 + b"\r\n")
    deadline = time.time() + 10
    while not (ours(user) and os.path.getsize(os.path.join(tmpd, ours(user)[0])) > 0) and time.time() < deadline:
        time.sleep(0.02)
    t.ok(ours(user), label + "kill -9: a partial message in tmp/")
    srv.proc.send_signal(signal.SIGKILL)
    srv.proc.wait(10)
    c.close()
    t.eq(maildir_files(user), [], label + "  nothing in new/")
    srv.stop()
    srv.start()
    left = sorted(maildir_files(user, "tmp"))
    t.eq(left, [os.path.basename(foreign)],
         label + "restart: our files and the 36-hour-old one removed from tmp/, a fresh foreign one kept")
    t.eq(maildir_files(user), [], label + "  still nothing in new/")
    s = Session(srv.port)
    t.eq(s.send("user@localhost"), "250 2.0.0", label + "  after the restart: 250")
    s.close()
    t.eq(len(maildir_files(user)), 1, label + "  one message in new/")
    t.eq(srv.stop(), 0, label + "exit 0")
    srv.check_sanitizer(t, label)
    srv.cleanup()

if SHIM:
    shutil.rmtree(os.path.dirname(SHIM), ignore_errors=True)
t.done()

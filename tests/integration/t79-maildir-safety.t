#!/usr/bin/env python3
"""Maildir safety.  Symbolic links inside a Maildir
are never followed, also when mailnook runs as root: a tmp/ that points
elsewhere is skipped by the start-up clean-up (mailnook.* and 40-hour-old
files where it points stay); a new/ that points elsewhere, made before
start-up or swapped in while running, fails the delivery with 451 4.3.0
and nothing appears where it points; a cur/ that points elsewhere gets
nothing; a +tag folder that is a link (tag-folders) is not written
through.  Other mailboxes keep working.  And a file-size limit
(RLIMIT_FSIZE) fails the message that crosses it with
452 4.3.1, leaves no partial file, and the process goes on."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mntest import Tap, Server, binaries, maildir_files, read_new  # noqa: E402
from mnops import transaction, wait_log  # noqa: E402

t = Tap()
BODY = b"Subject: safety\r\n\r\nbody\r\n"
FSIZE = 100000
# runs argv[1:] with RLIMIT_FSIZE at FSIZE, and SIGXFSZ back at its default
# (Python ignores it, and an ignored signal stays ignored across exec)
LIMITED = ("import os, resource, signal, sys\n"
           "hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]\n"
           "resource.setrlimit(resource.RLIMIT_FSIZE, (%d, hard))\n"
           "signal.signal(signal.SIGXFSZ, signal.SIG_DFL)\n"
           "os.execv(sys.argv[1], sys.argv[1:])\n" % FSIZE)


def maildir(path, link=None, target=None):
    """An empty Maildir at path; its subdirectory link (if any) is a
    symbolic link to the directory target, made empty."""
    for sub in ("tmp", "new", "cur"):
        os.makedirs(os.path.join(path, sub), exist_ok=True)
    if link:
        os.makedirs(target, exist_ok=True)
        os.rmdir(os.path.join(path, link))
        os.symlink(target, os.path.join(path, link))


def listing(d):
    return sorted(os.listdir(d))


def links_test(label, binary):
    srv = Server(binary, ["domain=localhost", "tag-folders",
                          "mailbox=user@localhost,@DIR@/user",
                          "mailbox=tmplink@localhost,@DIR@/tmplink",
                          "mailbox=newlink@localhost,@DIR@/newlink",
                          "mailbox=curlink@localhost,@DIR@/curlink",
                          "mailbox=late@localhost,@DIR@/late"])
    v = lambda name: os.path.join(srv.dir, "victim-" + name)  # noqa: E731
    user = srv.maildir("user")
    maildir(user)
    maildir(srv.maildir("tmplink"), "tmp", v("tmp"))
    maildir(srv.maildir("newlink"), "new", v("new"))
    maildir(srv.maildir("curlink"), "cur", v("cur"))
    maildir(srv.maildir("late"))
    # where tmp/ points: one of "our" names and a file untouched for 40 h
    for name in ("mailnook.x", "old"):
        with open(os.path.join(v("tmp"), name), "w") as f:
            f.write("not mailnook's\n")
    old = time.time() - 40 * 3600
    os.utime(os.path.join(v("tmp"), "old"), (old, old))
    # a +tag folder that is a link to a complete Maildir elsewhere
    maildir(v("tag"))
    os.symlink(v("tag"), os.path.join(user, ".tag"))
    try:
        srv.start()
    except RuntimeError as e:
        t.ok(False, label + "starts with links inside some Maildirs", e)
        srv.cleanup()
        return
    t.ok(True, label + "starts with links inside some Maildirs")
    t.eq(listing(v("tmp")), ["mailnook.x", "old"],
         label + "clean-up removed nothing where a linked tmp/ points")
    t.ok(wait_log(srv, "cannot clean tmp/"),
         label + "  and logged that it skipped that tmp/", srv.log())

    r = transaction(srv.port, ["tmplink@localhost"], BODY)
    t.eq(r[-1], "451 4.3.0", label + "linked tmp/: 451 4.3.0")
    t.eq(listing(v("tmp")), ["mailnook.x", "old"],
         label + "  nothing created where tmp/ points")

    r = transaction(srv.port, ["newlink@localhost"], BODY)
    t.ok(r[-2].startswith("354") and r[-1] == "451 4.3.0",
         label + "linked new/ (before start-up): 451 4.3.0 at end of data", r)
    t.eq(listing(v("new")), [], label + "  nothing where new/ points")
    t.eq(maildir_files(srv.maildir("newlink"), "tmp"), [],
         label + "  its tmp/ is empty")

    # swapped while running, as a mailbox owner may do at any moment
    os.rmdir(os.path.join(srv.maildir("late"), "new"))
    os.makedirs(v("late"))
    os.symlink(v("late"), os.path.join(srv.maildir("late"), "new"))
    r = transaction(srv.port, ["late@localhost", "user@localhost"], BODY)
    t.eq(r[-1], "451 4.3.0",
         label + "new/ made a link while running: 451 4.3.0 (with a good "
         "recipient too)")
    t.eq(listing(v("late")), [], label + "  nothing where new/ points")
    t.eq(maildir_files(user), [], label + "  and not in the good one either")

    r = transaction(srv.port, ["curlink@localhost"], BODY)
    t.eq(listing(v("cur")), [],
         label + "linked cur/: nothing where it points (delivery: %s)" % r[-1])

    r = transaction(srv.port, ["user+tag@localhost"], BODY)
    t.eq(r[-1], "250 2.0.0", label + "linked .tag folder: accepted")
    t.ok(maildir_files(v("tag")) == [] and maildir_files(v("tag"), "tmp") == [],
         label + "  nothing written through the link")
    t.eq(len(read_new(user)), 1, label + "  into the inbox instead")

    r = transaction(srv.port, ["user@localhost"], BODY)
    t.eq(r[-1], "250 2.0.0", label + "another mailbox still receives")
    t.eq(len(read_new(user)), 2, label + "  and has it")
    t.ok(srv.proc.poll() is None, label + "still running")
    srv.check_sanitizer(t, label)
    srv.cleanup()


def fsize_test(label, binary):
    srv = Server([sys.executable, "-c", LIMITED, binary],
                 ["domain=localhost", "mailbox=user@localhost,@DIR@/user",
                  "max-message-size=1M"])
    user = srv.maildir("user")
    maildir(user)
    srv.start()
    big = b"Subject: big\r\n\r\n" + b"x" * 78 + b"\r\n"
    big = big * (3 * FSIZE // len(big))
    try:
        r = transaction(srv.port, ["user@localhost"], big)[-1]
    except (OSError, EOFError) as e:
        r = "error: %r" % e
    t.eq(r, "452 4.3.1", label + "past the file-size limit: 452 4.3.1")
    t.ok(srv.proc.poll() is None, label + "  the process goes on",
         srv.log()[-2000:])
    t.ok(maildir_files(user) == [] and maildir_files(user, "tmp") == [],
         label + "  no file in new/ nor left in tmp/")
    try:
        r = transaction(srv.port, ["user@localhost"], BODY)[-1]
    except (OSError, EOFError) as e:
        r = "error: %r" % e
    t.eq(r, "250 2.0.0", label + "a small message afterwards: 250")
    got = read_new(user)
    t.ok(len(got) == 1 and got[0].endswith(b"\n\nbody\n"), label + "  stored",
         got)
    srv.check_sanitizer(t, label)
    srv.cleanup()


for label, binary in binaries():
    links_test(label, binary)
    fsize_test(label, binary)
t.done()

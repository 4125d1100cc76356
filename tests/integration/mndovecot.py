"""Dovecot's own imap binary for mailnook's integration tests: run
preauthenticated over a pipe with a private configuration, as an
unprivileged account (nobody when we are root, else us), so that it reads
and changes a Maildir mailnook delivers to.  Every wait is bounded and every
imap process is waited for (killed after its deadline)."""
import os
import pwd
import re
import select
import subprocess
import time

IMAP = "/usr/lib/dovecot/imap"


def installed():
    return os.access(IMAP, os.X_OK)


def account():
    """(uid, gid, name) for Dovecot: uid None when we are not root (it runs
    as us); None when root and there is no nobody."""
    if os.geteuid() != 0:
        pw = pwd.getpwuid(os.geteuid())
        return None, None, pw.pw_name
    try:
        pw = pwd.getpwnam("nobody")
    except KeyError:
        return None
    return pw.pw_uid, pw.pw_gid, pw.pw_name


def chown_tree(top, acct):
    """Hands top and everything in it to the account (when we are root)."""
    uid, gid, _ = acct
    if uid is None:
        return
    os.chown(top, uid, gid)
    for d, dirs, files in os.walk(top):
        for n in dirs + files:
            os.lchown(os.path.join(d, n), uid, gid)


def write_conf(home, maildir, extra=""):
    """A private dovecot.conf in home (its log in home/dovecot.log, its
    runtime directory home/run); its path."""
    conf = os.path.join(home, "dovecot.conf")
    os.makedirs(os.path.join(home, "run"), exist_ok=True)
    with open(conf, "w") as f:
        f.write("base_dir = %s/run\n" % home)
        f.write("log_path = %s/dovecot.log\n" % home)
        f.write("info_log_path = %s/dovecot.log\n" % home)
        f.write("mail_location = maildir:%s\n" % maildir)
        f.write("protocols = imap\nssl = no\nfirst_valid_uid = 1\n")
        f.write(extra)
    return conf


def session(home, conf, acct, commands, timeout=30):
    """Dovecot's imap, preauthenticated over a pipe: each (tag, command) is
    sent once the previous one's tagged reply is in (so its output is never
    cut short by the end of its input).  Its stdout and stderr (bytes)."""
    uid, gid, name = acct
    env = {"USER": name, "HOME": home, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    kw = {}
    if uid is not None:
        kw = {"user": uid, "group": gid, "extra_groups": []}
    errpath = os.path.join(home, "stderr")
    with open(errpath, "ab") as errf:
        start = errf.tell()
        p = subprocess.Popen([IMAP, "-c", conf], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=errf, cwd=home, env=env, **kw)
    out = b""
    deadline = time.time() + timeout
    try:
        for tag, cmd in commands:
            p.stdin.write(b"%s %s\r\n" % (tag, cmd))
            p.stdin.flush()
            done = re.compile(rb"(^|\r\n)%s (OK|NO|BAD) [^\r\n]*\r\n$" % tag)
            while not done.search(out) and time.time() < deadline:
                r, _, _ = select.select([p.stdout], [], [], max(0.05, deadline - time.time()))
                chunk = os.read(p.stdout.fileno(), 65536) if r else b""
                if r and not chunk:
                    break
                out += chunk
        p.stdin.close()
        p.wait(max(1, deadline - time.time()))
    except (subprocess.TimeoutExpired, OSError) as e:
        p.kill()
        p.wait(10)
        out += b"\r\n(mndovecot: %r; imap killed)" % e
    p.stdout.close()
    with open(errpath, "rb") as f:
        f.seek(start)
        return out, f.read()


def log_problems(home):
    """Lines of Dovecot's log and stderr that report a problem."""
    bad = re.compile(r"Error|Warning|Fatal|Panic|corrupt|Broken", re.IGNORECASE)
    lines = []
    for n in ("dovecot.log", "stderr"):
        try:
            with open(os.path.join(home, n), "rb") as f:
                lines += f.read().decode("utf-8", "replace").splitlines()
        except FileNotFoundError:
            pass
    return [ln for ln in lines if bad.search(ln)]

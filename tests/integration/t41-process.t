#!/usr/bin/env python3
"""The process against a local attacker and careless parents: an option
given twice in the file (-t), the pid file (a FIFO, a hard link or a
symbolic link planted at its path; a second mailnook with the same pid
file; the daemon's own pid), the stats file's FILE.tmp planted as a link,
descriptors inherited from the parent, and user= with primary group 0."""
import atexit
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mntest import Tap, Server, binaries, free_port  # noqa: E402
from mnops import fd_links, features, parse_prom, read_text, usr1_until  # noqa: E402

t = Tap()
DIRS = []       # each label's scratch directory


def reap():
    """Stops any mailnook still running on a configuration of ours (a
    detached daemon this test started and lost track of, e.g. after a
    failure), then removes the directories."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if any(d.encode() + b"/" in a for d in DIRS for a in argv):
            kill_pid(int(pid))
    for d in DIRS:
        shutil.rmtree(d, ignore_errors=True)


atexit.register(reap)
ENV = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0",
           UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")
VICTIM = b"precious data, not mailnook's\n"


def run(argv, timeout=20):
    """(exit code, stdout + stderr); a run that outlives timeout is killed
    and reported as exit code None."""
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, env=ENV)
    try:
        out, _ = p.communicate(timeout=timeout)
        return p.returncode, out.decode(errors="replace")
    except subprocess.TimeoutExpired:
        p.kill()
        out, _ = p.communicate(timeout=10)
        return None, out.decode(errors="replace")


def write(path, lines):
    with open(path, "w") as f:
        f.write("".join(line + "\n" for line in lines))


def listening(port, proc=None, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def daemon_pid(port, pidf):
    """The pid in pidf once a detached mailnook listens on port, or None."""
    if not listening(port):
        return None
    try:
        return int(read_text(pidf) or "")
    except ValueError:
        return None


def wait_gone(pid, timeout=15):
    """Until pid has exited (gone, or a zombie nobody reaps yet)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with open("/proc/%d/stat" % pid) as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except OSError:
            return True
        time.sleep(0.05)
    return False


def kill_pid(pid):
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    if not wait_gone(pid):
        os.kill(pid, signal.SIGKILL)
        wait_gone(pid, 5)


def rm(path):
    if os.path.lexists(path):
        os.unlink(path)


def victim(path):
    with open(path, "wb") as f:
        f.write(VICTIM)
    os.chmod(path, 0o600)


def untouched(path):
    st = os.stat(path)
    with open(path, "rb") as f:
        return f.read() == VICTIM and (st.st_mode & 0o7777) == 0o600


def base(d, port):
    return ["listen=127.0.0.1:%d" % port, "hostname=mx.test", "domain=localhost",
            "mailbox=user@localhost,%s/user" % d]


for label, binary in binaries():
    feats = features(binary)
    d = tempfile.mkdtemp(prefix="mailnook-proc-")
    DIRS.append(d)
    conf = os.path.join(d, "m.conf")

    # ---- an option given twice (item 9) -------------------------------------
    lines = base(d, free_port()) + ["timeout=30", "# comment", "timeout=60"]   # 5, 7
    if "tls" in feats:
        lines += ["tls-min-version=1.2", "tls-min-version=1.2",                   # 8, 9
                  "tls-cert=%s/rsa.crt" % d, "tls-key=%s/rsa.key" % d,            # 10, 11
                  "tls-cert=%s/ec.crt" % d, "tls-key=%s/ec.key" % d]              # 12, 13
    write(conf, lines)
    rc, out = run([binary, "-t", "-c", conf])
    t.eq(rc, 1, label + "-t: a non-repeatable option twice: exit 1")
    t.ok("configuration OK" not in out, label + "  no 'configuration OK'", out)
    t.like(out, r"(?m)^%s:7: timeout given twice \(first at line 5\)$" % re.escape(conf),
           label + "  FILE:LINE of the second timeout=, naming the first line")
    if "tls" in feats:
        t.like(out, r"(?m)^%s:9: tls-min-version given twice \(first at line 8\)$" % re.escape(conf),
               label + "  tls-min-version twice: named at both lines")
        t.ok("tls-cert given twice" not in out and "tls-key given twice" not in out,
             label + "  tls-cert/tls-key twice (an RSA and an EC pair) is not an error", out)
    else:
        t.skip(label + "  tls-min-version twice", "built without CONFIG_TLS")
        t.skip(label + "  tls-cert/tls-key twice", "built without CONFIG_TLS")
    write(conf, base(d, free_port()) + ["timeout=300", "listen=127.0.0.1:%d" % free_port(),
                                        "domain=example.org", "allow-from=127.0.0.0/8",
                                        "allow-from=::1/128"])
    rc, out = run([binary, "-t", "-c", conf, "--timeout=5", "--timeout=6"])
    t.ok(rc == 0 and "configuration OK" in out,
         label + "-t: --timeout over the file's timeout=, repeatable options twice: OK", out)

    # ---- the pid file (item 11) ---------------------------------------------
    port = free_port()
    pidf = os.path.join(d, "mailnook.pid")
    write(conf, base(d, port) + ["pid-file=" + pidf])

    os.mkfifo(pidf, 0o644)
    t0 = time.time()
    rc, out = run([binary, "-f", "-c", conf], timeout=10)
    t.ok(rc == 1 and "pid-file %s" % pidf in out and "FIFO" in out,
         label + "pid-file a FIFO: exit 1 at once with a clear error, no hang",
         "exit %r after %.1f s: %s" % (rc, time.time() - t0, out))
    rm(pidf)

    vic = os.path.join(d, "victim")
    victim(vic)
    os.link(vic, pidf)
    p = subprocess.Popen([binary, "-f", "-c", conf], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=ENV)
    try:
        out = p.communicate(timeout=10)[0].decode(errors="replace")
    except subprocess.TimeoutExpired:
        p.terminate()           # it started: the old behaviour
        out = p.communicate(timeout=15)[0].decode(errors="replace")
    t.ok(p.returncode == 1 and "hard link" in out,
         label + "pid-file a hard link to another file: exit 1 with a clear error", out)
    t.ok(untouched(vic), label + "  the other file is untouched (content and mode 0600)")
    rm(pidf)

    victim(vic)
    os.symlink(vic, pidf)
    rc, out = run([binary, "-f", "-c", conf], timeout=10)
    t.ok(rc == 1 and "pid-file %s" % pidf in out and "symbolic link" in out,
         label + "pid-file a symbolic link: refused", out)
    t.ok(untouched(vic), label + "  its target is untouched")
    rm(pidf)

    # start-up failing after the pid file was taken (the port is in use)
    busy = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    busy.bind(("127.0.0.1", port))
    busy.listen(1)
    rc, out = run([binary, "-f", "-c", conf], timeout=20)
    busy.close()
    t.ok(rc == 1 and not os.path.lexists(pidf),
         label + "start-up fails (port in use): exit 1, no pid file left behind", "exit %r: %s" % (rc, out))
    rm(pidf)

    # a stale pid file (no mailnook holds it) is taken over
    with open(pidf, "w") as f:
        f.write("999999\n")
    first = subprocess.Popen([binary, "-f", "-c", conf], stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    t.ok(listening(port, first), label + "a stale pid file: mailnook starts")
    t.eq((read_text(pidf) or "").strip(), str(first.pid), label + "  and the pid file holds its pid")

    # a second mailnook with the same configuration, and one on another port
    for what, args in (("the same configuration", []),
                       ("another port", ["--listen=127.0.0.1:%d" % free_port()])):
        rc, out = run([binary, "-f", "-c", conf] + args, timeout=20)
        t.ok(rc == 1 and "mailnook: already running (pid %d)" % first.pid in out,
             label + "a second mailnook (%s): exit 1, already running (pid N)" % what, out)
        t.eq((read_text(pidf) or "").strip(), str(first.pid),
             label + "  the pid file still holds the first's pid")
    first.send_signal(signal.SIGTERM)
    try:
        t.eq(first.wait(15), 0, label + "the first exits 0 on SIGTERM")
    except subprocess.TimeoutExpired:
        first.kill()
        first.wait(5)
        t.ok(False, label + "the first exits 0 on SIGTERM")
    t.ok(not os.path.exists(pidf), label + "  and removes its pid file")

    # detached: the pid written is the daemon's, and the lock outlives the
    # parent that took it
    rc, out = run([binary, "-c", conf], timeout=20)
    t.eq(rc, 0, label + "detached: the parent exits 0")
    dpid = daemon_pid(port, pidf)
    t.ok(dpid is not None and os.path.exists("/proc/%d" % dpid) and
         any(("socket:" in v) for v in fd_links(dpid).values()),
         label + "  the pid file holds the pid of the daemon that listens", read_text(pidf))
    if dpid:
        rc, out = run([binary, "-f", "-c", conf], timeout=20)
        t.ok(rc == 1 and "already running (pid %d)" % dpid in out,
             label + "  a second mailnook: already running (pid of the daemon)", out)
        kill_pid(dpid)
        t.ok(not os.path.exists(pidf), label + "  the daemon removes its pid file at exit")
    else:
        t.ok(False, label + "  a second mailnook: already running (pid of the daemon)")
        t.ok(False, label + "  the daemon removes its pid file at exit")

    # detached with 0-2 closed by the parent: the pid file's descriptor must
    # not land there (daemonize() puts /dev/null on 0-2), or the lock goes
    p = subprocess.Popen([binary, "-c", conf], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, env=ENV,
                         preexec_fn=lambda: [os.close(k) for k in (0, 1, 2)])
    try:
        p.wait(20)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait(5)
    dpid = daemon_pid(port, pidf)
    rc, out = run([binary, "-f", "-c", conf, "--listen=127.0.0.1:%d" % free_port()], timeout=20)
    t.ok(dpid and rc == 1 and "already running (pid %d)" % dpid in out,
         label + "detached with 0-2 closed: the pid file stays locked", "pid %r, exit %r: %s" % (dpid, rc, out))
    if dpid:
        kill_pid(dpid)      # (a second one that started was killed by run())
    rm(pidf)

    # ---- descriptors from the parent (item 14) ------------------------------
    marker = os.path.join(d, "inherited")
    victim(marker)
    for mode in ("foreground", "detached"):
        r, w = os.pipe()
        mfd = os.open(marker, os.O_RDONLY)
        os.dup2(mfd, 10)
        os.dup2(w, 251)
        os.close(mfd)
        os.close(w)
        argv = [binary, "-c", conf] + (["-f"] if mode == "foreground" else [])
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, env=ENV, pass_fds=(10, 251))
        os.close(10)
        os.close(251)
        pid = None
        if mode == "foreground":
            if listening(port, p):
                pid = p.pid
        else:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
            if listening(port):
                try:
                    pid = int(read_text(pidf) or "")
                except ValueError:
                    pass
        links = fd_links(pid) if pid else {}
        pipe_ino = "pipe:[%d]" % os.fstat(r).st_ino
        # 10 may be mailnook's own again (it opens a dozen descriptors):
        # what it points at is what counts
        t.ok(pid and marker not in links.values() and pipe_ino not in links.values()
             and 251 not in links,
             label + "%s: the descriptors inherited at 10 and 251 are closed" % mode,
             "\n".join("%d -> %s" % kv for kv in sorted(links.items())))
        if mode == "foreground":
            p.terminate()
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
        elif pid:
            kill_pid(pid)
        os.close(r)
    t.ok(untouched(marker), label + "  the inherited file is untouched")

    # ---- user= with primary group 0 (item 14) -------------------------------
    write(conf, base(d, free_port()) + ["user=root"])             # line 5
    rc, out = run([binary, "-t", "-c", conf])
    t.ok(rc == 1 and re.search(r"(?m)^%s:5: user: its primary group is 0 \(root\)$"
                               % re.escape(conf), out) and "configuration OK" not in out,
         label + "-t: user=root (primary group 0): exit 1, FILE:LINE of user=", out)
    port = free_port()
    write(conf, base(d, port) + ["user=root"])
    rc, out = run([binary, "-f", "-c", conf], timeout=20)
    t.ok(rc == 1 and "%s:5: user: its primary group is 0 (root)" % conf in out,
         label + "start: user=root refused the same way", out)
    # an ordinary account whose primary group is 0, in a passwd file of our
    # own bind-mounted over /etc/passwd in a mount namespace of its own
    unshare = shutil.which("unshare")
    if os.geteuid() != 0 or not unshare:
        t.skip(label + "-t: user= with gid 0", "needs root and unshare(1)")
    else:
        pw = os.path.join(d, "passwd")
        write(pw, ["root:x:0:0:root:/root:/bin/sh", "mnwheel:x:4242:0::/nonexistent:/bin/false"])
        write(conf, base(d, free_port()) + ["# comment", "user=mnwheel"])   # line 6
        rc, out = run([unshare, "-m", "sh", "-c", 'mount --bind "$1" /etc/passwd && exec "$2" -t -c "$3"',
                       "sh", pw, binary, conf])
        if rc != 1 and "mount" in out:
            t.skip(label + "-t: user= with gid 0", "no mount namespace here: " + out.strip())
        else:
            t.ok(rc == 1 and re.search(r"(?m)^%s:6: user: its primary group is 0 \(root\)$"
                                       % re.escape(conf), out),
                 label + "-t: user= an account with uid 4242, gid 0: exit 1, FILE:LINE", out)

    # ---- the stats file's FILE.tmp (item 12) --------------------------------
    if "stats" not in feats:
        t.skip(label + "stats-file FILE.tmp", "built without CONFIG_STATS")
    else:
        stats = os.path.join(d, "s", "mailnook.prom")
        tmp = stats + ".tmp"
        os.mkdir(os.path.join(d, "s"))
        vic = os.path.join(d, "s", "victim")
        victim(vic)
        os.link(vic, tmp)       # planted before start: the first write
        srv = Server(binary, ["domain=localhost", "mailbox=user@localhost,@DIR@/user",
                              "stats-file=" + stats])
        srv.start()
        deadline = time.time() + 10
        while read_text(stats) is None and time.time() < deadline:
            time.sleep(0.05)
        t.ok(untouched(vic) and parse_prom(read_text(stats) or "")[1] == [],
             label + "stats-file with FILE.tmp a hard link at start: written, the other file untouched",
             read_text(stats))
        for what in ("hard link", "symbolic link"):
            before = parse_prom(read_text(stats) or "")[0].get("mailnook_connections_accepted_total", 0)
            rm(tmp)
            if what == "hard link":
                os.link(vic, tmp)
            else:
                os.symlink(vic, tmp)
            socket.create_connection(("127.0.0.1", srv.port), timeout=5).close()
            samples, errors, text = usr1_until(
                srv, stats, lambda s: s.get("mailnook_connections_accepted_total", 0) > before)
            t.ok(samples.get("mailnook_connections_accepted_total", 0) > before and errors == [],
                 label + "stats-file with FILE.tmp a %s planted while running: written on SIGUSR1" % what,
                 text)
            t.ok(untouched(vic), label + "  the other file is untouched")
            t.ok(not os.path.lexists(tmp) and (os.stat(stats).st_mode & 0o777) == 0o644
                 and os.stat(vic).st_nlink == 1,
                 label + "  no FILE.tmp left; the stats file is a file of its own, 0644")
        t.eq(srv.stop(), 0, label + "stats: exit 0")
        srv.check_sanitizer(t, label)
        srv.cleanup()


t.done()

#!/usr/bin/env python3
"""on-delivery (contract section 8) on the real binary.

- A recording hook (Python, reading /proc/self/environ and cmdline: what
  execve() gave it, before any interpreter adds to it) proves argv and the
  exact environment: PATH and the ten MAILNOOK_* variables, nothing else;
  arguments with ";", "$(...)", backquotes and spaces arrive literally, and
  nothing ran them through a shell; the descriptors it inherits are 0-2
  only; one run per file (a message to two mailboxes: two runs, each with
  its own file, mailbox and recipient); the client had its 250 before the
  hook started.
- Concurrency never above on-delivery-max under 50 quick deliveries, all 50
  run; then 500 deliveries with hooks leave VmHWM and the open descriptors
  as they were.
- A hook that sleeps forever is killed (with what it started) at
  on-delivery-timeout; a missing program and one that fails lose nothing and
  change no reply; -t refuses a missing or relative PROGRAM.
- Queue full: hook=skipped; SIGTERM drops the waiting runs, lets a running
  one finish and kills the other at 10 s; mailnook_hooks_total counts them.
- A build without CONFIG_HOOK: the options are errors.
"""
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mntest import Tap, Server, Raw, TOP, binaries, read_new  # noqa: E402
from mnops import code, features, fd_count, parse_prom, read_text, reload, \
    transaction, usr1_until, vm_kb, wait_log  # noqa: E402

t = Tap()
BODY = b"Subject: hook\r\n\r\nbody\r\n"

RECORDER = r'''#!/usr/bin/python3
import os, sys, time
start = time.time()
env = open("/proc/self/environ", "rb").read()
argv = open("/proc/self/cmdline", "rb").read()
fds = sorted(int(x) for x in os.listdir("/proc/self/fd"))
out = os.path.join(%r, "rec.%%s.%%d" %% (os.environ.get("MAILNOOK_ID", "x"), os.getpid()))
with open(out + ".tmp", "wb") as f:
    f.write(repr({"start": start, "env": env, "argv": argv, "fds": fds,
                  "targets": {n: os.readlink("/proc/self/fd/%%d" %% n) for n in (0, 1, 2)}}).encode())
os.rename(out + ".tmp", out)
print("recorded", os.environ.get("MAILNOOK_ID"))
'''

CONC = r'''#!/bin/sh
# how many runs are going on at once: each leaves a file while it runs
d=%s
: > "$d/live.$$"
sleep 0.05
ls "$d" | grep -c '^live\.' > "$d/seen.$$"
rm -f "$d/live.$$"
'''

FOREVER = r'''#!/bin/sh
d=%s
sleep 1000 &
echo "$$ $!" > "$d/forever.$MAILNOOK_ID"
wait
'''

STOPPER = r'''#!/bin/sh
case "$MAILNOOK_SENDER" in
long*) sleep 1000 ;;
short*) sleep 2; echo short done ;;
*) sleep 1000 ;;
esac
'''


def script(d, name, text):
    p = os.path.join(d, name)
    with open(p, "w") as f:
        f.write(text)
    os.chmod(p, 0o755)
    return p


def records(d):
    out = []
    for n in sorted(os.listdir(d)):
        if n.startswith("rec.") and not n.endswith(".tmp"):
            out.append(eval(open(os.path.join(d, n)).read()))
    return out


def wait_files(d, prefix, n, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if len([x for x in os.listdir(d) if x.startswith(prefix) and not x.endswith(".tmp")]) >= n:
            return True
        time.sleep(0.05)
    return False


def send_timed(port, rcpts, sender="cam@example.org", helo="cam.test"):
    """One message; returns (final reply code, time the client had it)."""
    c = Raw(port)
    try:
        c.reply()
        c.cmd("EHLO " + helo)
        c.cmd("MAIL FROM:<%s>" % sender)
        for r in rcpts:
            c.cmd("RCPT TO:<%s>" % r)
        c.cmd("DATA")
        c.send(BODY + b".\r\n")
        r = c.reply(timeout=30)
        got = time.time()
        c.cmd("QUIT")
    finally:
        c.close()
    return code(r), got


def alive(pid):
    """A process that still exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def run(argv):
    return subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=30)


def lines_base():
    return ["domain=example.org", "mailbox=alice@example.org,@DIR@/alice",
            "mailbox=bob@example.org,@DIR@/bob", "alias=both@example.org,alice@example.org,bob@example.org"]


T0 = time.time()


def elapsed(what):
    t.diag("%s: %.1f s" % (what, time.time() - T0))


for label, binary in binaries():
    if isinstance(binary, (list, tuple)):
        continue
    feats = features(binary)
    if "hook" not in feats:
        srv = Server(binary, lines_base())
        r = run([binary, "-t", "-c", srv.conf, "--on-delivery=/bin/true"])
        t.ok(r.returncode == 1 and b"CONFIG_HOOK" in r.stdout,
             label + "no CONFIG_HOOK: on-delivery is an error", r.stdout)
        srv.cleanup()
        continue
    san = label != ""

    # ---- argv, environment, descriptors, one run per file, order ----
    args = ["a b; touch @DIR@/PWNED", "$(touch @DIR@/PWNED)", "`touch @DIR@/PWNED`",
            "'\"quoted\"'", "|&><*?"]
    srv = Server(binary, lines_base() + ["on-delivery=@DIR@/recorder," + ",".join(args)])
    args = [a.replace("@DIR@", srv.dir) for a in args]
    rec = os.path.join(srv.dir, "rec")
    os.mkdir(rec)
    script(srv.dir, "recorder", RECORDER % rec)
    srv.start()
    r = run([binary, "-t", "-c", srv.conf])
    t.eq(r.returncode, 0, label + "-t accepts an executable PROGRAM")
    rc, got = send_timed(srv.port, ["alice@example.org"], helo="cam\x01x.test")
    t.eq(rc, "250 2.0.0", label + "delivered: 250")
    t.ok(wait_files(rec, "rec.", 1), label + "the hook ran", srv.log()[-2000:])
    recs = records(rec)
    files = [os.path.join(srv.maildir("alice"), "new", n) for n in os.listdir(os.path.join(srv.maildir("alice"), "new"))]
    if t.eq(len(recs), 1, label + "one run for one file"):
        r0 = recs[0]
        argv = r0["argv"].split(b"\0")[:-1]
        t.eq([a.decode() for a in argv[2:]], args, label + "arguments arrive literally, one each")
        t.ok(not os.path.exists(os.path.join(srv.dir, "PWNED")), label + "  and no shell ran them")
        env = dict(x.decode().split("=", 1) for x in r0["env"].split(b"\0") if x)
        t.eq(sorted(env), sorted(["PATH", "MAILNOOK_FILE", "MAILNOOK_MAILDIR", "MAILNOOK_MAILBOX",
                                  "MAILNOOK_RECIPIENT", "MAILNOOK_SENDER", "MAILNOOK_SIZE",
                                  "MAILNOOK_ID", "MAILNOOK_CLIENT_IP", "MAILNOOK_HELO",
                                  "MAILNOOK_AUTH"]), label + "exactly PATH and the MAILNOOK_ variables")
        t.eq(env.get("PATH"), "/usr/sbin:/usr/bin:/sbin:/bin", label + "PATH")
        t.eq([env.get("MAILNOOK_FILE")], files, label + "MAILNOOK_FILE: the file in new/, absolute")
        t.eq(env.get("MAILNOOK_MAILDIR"), srv.maildir("alice"), label + "MAILNOOK_MAILDIR")
        t.eq((env.get("MAILNOOK_MAILBOX"), env.get("MAILNOOK_RECIPIENT"), env.get("MAILNOOK_SENDER")),
             ("alice@example.org", "alice@example.org", "cam@example.org"),
             label + "MAILNOOK_MAILBOX, _RECIPIENT, _SENDER")
        t.eq(env.get("MAILNOOK_SIZE"), str(os.path.getsize(files[0])) if files else None,
             label + "MAILNOOK_SIZE: the file's size")
        t.ok(env.get("MAILNOOK_ID") and ("id=%s result=delivered" % env["MAILNOOK_ID"]) in srv.log(),
             label + "MAILNOOK_ID: the log's id")
        t.eq((env.get("MAILNOOK_CLIENT_IP"), env.get("MAILNOOK_HELO"), env.get("MAILNOOK_AUTH")),
             ("127.0.0.1", "cam?x.test", ""), label + "MAILNOOK_CLIENT_IP, _HELO (sanitised), _AUTH")
        t.eq(r0["fds"][:3], [0, 1, 2], label + "stdin, stdout, stderr open")
        t.eq(r0["targets"][0], "/dev/null", label + "stdin is /dev/null")
        t.ok(r0["targets"][1].startswith("pipe:") and r0["targets"][1] == r0["targets"][2],
             label + "stdout and stderr: one pipe", r0["targets"])
        t.ok(len(r0["fds"]) <= 4, label + "no descriptor of mailnook inherited (the listing's own aside)",
             r0["fds"])
        t.ok(got < r0["start"], label + "the client had its 250 before the hook started (%.3f s before)"
             % (r0["start"] - got))
    t.ok(wait_log(srv, "hook=exit:0 id=") and "hook=output id=" in srv.log() and
         "recorded " in srv.log(), label + "logged: its output and hook=exit:0", srv.log()[-1500:])

    # a message for two mailboxes (through an alias, and directly): a run each
    for n in os.listdir(rec):
        os.unlink(os.path.join(rec, n))
    c = Raw(srv.port)
    c.reply()
    c.cmd("EHLO two.test")
    c.cmd("MAIL FROM:<>")
    c.cmd("RCPT TO:<Bob@Example.org>")
    c.cmd("RCPT TO:<both@example.org>")
    c.cmd("DATA")
    c.send(BODY + b".\r\n")
    t.eq(code(c.reply()), "250 2.0.0", label + "two mailboxes: 250")
    c.cmd("QUIT")
    c.close()
    t.ok(wait_files(rec, "rec.", 2), label + "two mailboxes: two runs")
    time.sleep(0.2)
    envs = sorted((dict(x.decode().split("=", 1) for x in r["env"].split(b"\0") if x) for r in records(rec)),
                  key=lambda e: e["MAILNOOK_MAILBOX"])
    t.eq([(e["MAILNOOK_MAILBOX"], e["MAILNOOK_RECIPIENT"], e["MAILNOOK_SENDER"]) for e in envs],
         [("alice@example.org", "both@example.org", ""), ("bob@example.org", "Bob@Example.org", "")],
         label + "  each with its mailbox and the first address given for it")
    t.ok(len(envs) == 2 and envs[0]["MAILNOOK_FILE"] != envs[1]["MAILNOOK_FILE"] and
         all(os.path.exists(e["MAILNOOK_FILE"]) for e in envs), label + "  and its own file")

    # the example hook that files images, as mailnook runs it
    photos = os.path.join(srv.dir, "photos")
    t.ok(reload(srv, lines_base() + ["on-delivery=%s,%s" % (os.path.join(TOP, "examples", "hooks", "file-images"),
                                                           photos)]),
         label + "reload: examples/hooks/file-images")
    n_ok = srv.log().count("hook=exit:0")
    img = (b"Subject: snap\r\nDate: Wed, 02 Dec 2026 23:59:58 +0000\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: multipart/mixed; boundary=b1\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\n"
           b"motion\r\n--b1\r\nContent-Type: image/png; name=snap.png\r\nContent-Transfer-Encoding: base64"
           b"\r\n\r\niVBORw0KGgoAAQID\r\n--b1--\r\n")
    t.eq(transaction(srv.port, ["alice@example.org"], img)[-1], "250 2.0.0", label + "  an image: 250")
    want = os.path.join(photos, "2026", "12", "02", "snap.png")
    t.ok(wait_log(srv, "hook=exit:0", n_ok + 1) and os.path.exists(want) and
         open(want, "rb").read() == b"\x89PNG\r\n\x1a\n\x00\x01\x02\x03",
         label + "  filed as photos/2026/12/02/snap.png", srv.log()[-1000:])
    t.eq(srv.stop(), 0, label + "exit 0")
    if san:
        srv.check_sanitizer(t, label)
    srv.cleanup()

    elapsed(label + "argv and environment")
    # ---- concurrency, then memory and descriptors over 500 runs ----
    srv = Server(binary, lines_base() + ["on-delivery=@DIR@/conc.sh", "on-delivery-max=2"])
    d = os.path.join(srv.dir, "conc")
    os.mkdir(d)
    script(srv.dir, "conc.sh", CONC % d)
    srv.start()
    codes = [transaction(srv.port, ["alice@example.org"], BODY)[-1] for _ in range(50)]
    t.eq(codes.count("250 2.0.0"), 50, label + "50 quick deliveries: 250 each")
    ok_all = wait_log(srv, "hook=exit:0", 50, timeout=30)
    seen = [int(open(os.path.join(d, n)).read().strip() or 0) for n in os.listdir(d) if n.startswith("seen.")]
    t.ok(ok_all and len(seen) == 50, label + "  50 runs (%d)" % len(seen))
    t.ok(seen and max(seen) <= 2, label + "  never more than on-delivery-max=2 at once (at most %s)"
         % (max(seen) if seen else "?"))
    t.ok(seen and max(seen) == 2, label + "  and two at once when busy")
    if not san:
        # warm now: 500 more, with a quick hook (a run for each; the
        # queue never fills)
        t.ok(reload(srv, lines_base() + ["on-delivery=/bin/true", "on-delivery-max=2"]),
             label + "reload: on-delivery=/bin/true")
        for i in range(20):
            transaction(srv.port, ["alice@example.org"], BODY)
        wait_log(srv, "hook=exit:0", 70, timeout=30)
        time.sleep(0.2)
        pid = srv.proc.pid
        hwm, fds = vm_kb(pid, "VmHWM"), fd_count(pid)
        t0 = time.time()
        for i in range(500):
            transaction(srv.port, ["alice@example.org"], BODY)
        wait_log(srv, "hook=exit:0", 570, timeout=60)
        time.sleep(0.2)
        t.diag("500 deliveries with hooks: %.1f s" % (time.time() - t0))
        t.eq(vm_kb(pid, "VmHWM"), hwm, label + "500 more with hooks: VmHWM as before (%d KiB)" % hwm)
        t.eq(fd_count(pid), fds, label + "  and the open descriptors (%d)" % fds)
        t.eq(srv.log().count("hook=exit:0"), 570, label + "  570 runs in all")
    t.eq(srv.stop(), 0, label + "exit 0")
    if san:
        srv.check_sanitizer(t, label)
    srv.cleanup()

    elapsed(label + "concurrency and 500")
    # ---- timeout, missing, failing; -t ----
    srv = Server(binary, lines_base() + ["on-delivery=/bin/true", "on-delivery-timeout=1",
                                         "stats-file=@DIR@/stats.prom"]).start()
    script(srv.dir, "forever", FOREVER % srv.dir)
    t.ok(reload(srv, lines_base() + ["on-delivery=@DIR@/forever", "on-delivery-timeout=1",
                                     "stats-file=@DIR@/stats.prom"]), label + "reload: a hook that never ends")
    rc, got = send_timed(srv.port, ["alice@example.org"])
    t.eq(rc, "250 2.0.0", label + "  250 at once")
    ok_kill = wait_log(srv, "reason=timeout", timeout=10)
    t.ok(ok_kill and "hook=killed id=" in srv.log(), label + "  killed at the timeout: hook=killed ... reason=timeout",
         srv.log()[-1500:])
    m = [l for l in srv.log().splitlines() if "hook=killed" in l]
    dur = int(m[0].split("duration=")[1].split("ms")[0]) if m else -1
    t.ok(900 <= dur < 4000, label + "  after about 1 s (%d ms)" % dur)
    pids = []
    for n in os.listdir(srv.dir):
        if n.startswith("forever."):
            pids = [int(x) for x in open(os.path.join(srv.dir, n)).read().split()]
    deadline = time.time() + 5
    while time.time() < deadline and any(alive(p) for p in pids):
        time.sleep(0.05)
    t.ok(len(pids) == 2 and not any(alive(p) for p in pids), label + "  with the process it started", pids)

    t.ok(reload(srv, lines_base() + ["on-delivery=%s/missing/program,x" % srv.dir,
                                     "stats-file=@DIR@/stats.prom"]), label + "reload: a missing program")
    before = len(read_new(srv.maildir("alice")))
    t.eq(transaction(srv.port, ["alice@example.org"], BODY)[-1], "250 2.0.0", label + "  250 as ever")
    t.ok(wait_log(srv, "hook=failed id=") and "error=No such file or directory" in srv.log(),
         label + "  hook=failed ... error=No such file or directory", srv.log()[-1000:])
    t.eq(len(read_new(srv.maildir("alice"))), before + 1, label + "  and the message is stored")
    t.ok(reload(srv, lines_base() + ["on-delivery=/bin/sh,-c,echo failing; exit 3",
                                     "stats-file=@DIR@/stats.prom"]), label + "reload: a program that fails")
    t.eq(transaction(srv.port, ["alice@example.org", "bob@example.org"], BODY)[-1], "250 2.0.0",
         label + "  250 as ever")
    t.ok(wait_log(srv, "hook=exit:3", 2) and "hook=output id=" in srv.log() and " failing" in srv.log(),
         label + "  hook=exit:3 for each file, its output logged")
    t.eq(len(read_new(srv.maildir("alice"))), before + 2, label + "  and the message is stored")
    samples, errors, _ = usr1_until(srv, os.path.join(srv.dir, "stats.prom"),
                                    lambda s: s.get('mailnook_hooks_total{result="failed"}', 0) >= 3)
    t.eq(errors, [], label + "stats: a valid file")
    t.eq([samples.get('mailnook_hooks_total{result="%s"}' % k) for k in ("ok", "failed", "killed", "skipped")],
         [0.0, 3.0, 1.0, 0.0], label + "stats: hooks_total ok, failed, killed, skipped")
    t.eq(srv.stop(), 0, label + "exit 0")
    if san:
        srv.check_sanitizer(t, label)
    for value, why in (("%s/missing/program" % srv.dir, "No such file or directory"),
                       (srv.conf, "Permission denied"), ("relative/prog", "absolute path")):
        r = run([binary, "-t", "-c", srv.conf, "--on-delivery=" + value])
        t.ok(r.returncode == 1 and why.encode() in r.stdout, label + "-t: %s: %s" % (value, why), r.stdout)
    srv.cleanup()

    elapsed(label + "timeout, missing, failing")
    # ---- queue full, then SIGTERM with hooks running and waiting ----
    srv = Server(binary, lines_base() + ["on-delivery=@DIR@/stopper", "on-delivery-max=2",
                                         "stats-file=@DIR@/stats.prom"])
    script(srv.dir, "stopper", STOPPER)
    srv.start()
    t.eq(transaction(srv.port, ["alice@example.org"], BODY, sender="long@x.example")[-1], "250 2.0.0",
         label + "a run that never ends")
    t.eq(transaction(srv.port, ["alice@example.org"], BODY, sender="short@x.example")[-1], "250 2.0.0",
         label + "a run of 2 s")
    # 64 wait, the 65th is skipped; one session, pipelined, to be quick
    c = Raw(srv.port)
    c.reply()
    c.cmd("EHLO many.test")
    c.send(b"".join(b"MAIL FROM:<w@x.example>\r\nRCPT TO:<alice@example.org>\r\nDATA\r\n" + BODY + b".\r\n"
                    for _ in range(65)))
    rs = [code(c.reply(timeout=30)) for _ in range(65 * 4)]
    c.cmd("QUIT")
    c.close()
    t.eq([x[:3] if x.startswith("354") else x for x in rs],
         ["250 2.1.0", "250 2.1.5", "354", "250 2.0.0"] * 65, label + "65 more, pipelined: every reply as ever")
    t.ok(wait_log(srv, "reason=queue-full"), label + "the queue holds 64: hook=skipped ... reason=queue-full",
         srv.log()[-1000:])
    t.eq(srv.log().count("hook=skipped"), 1, label + "  once")
    t.eq(len(read_new(srv.maildir("alice"))), 67, label + "  every message stored")
    t0 = time.time()
    srv.signal(signal.SIGTERM)
    try:
        srv.proc.wait(20)
    except subprocess.TimeoutExpired:
        pass
    took = time.time() - t0
    rc = srv.stop()
    t.eq(rc, 0, label + "SIGTERM: exit 0")
    t.ok(9.5 <= took < 14, label + "  after the 10 s given to running hooks (%.1f s)" % took)
    log = srv.log()
    t.ok("short done" in log and log.count("hook=exit:0") == 1, label + "  the one that ends in time ends",
         log[-2000:])
    t.ok(log.count("reason=shutdown") == 65 and "hook=killed" in log and
         [l for l in log.splitlines() if "hook=killed" in l][0].endswith("reason=shutdown"),
         label + "  the one that does not is killed; the 64 waiting are skipped (reason=shutdown)")
    text = read_text(os.path.join(srv.dir, "stats.prom")) or ""
    samples, errors = parse_prom(text)
    t.eq([samples.get('mailnook_hooks_total{result="%s"}' % k) for k in ("ok", "failed", "killed", "skipped")],
         [1.0, 0.0, 1.0, 65.0], label + "stats at exit: hooks_total ok, failed, killed, skipped")
    if san:
        srv.check_sanitizer(t, label)
    srv.cleanup()
    elapsed(label + "queue full and SIGTERM")

t.done()

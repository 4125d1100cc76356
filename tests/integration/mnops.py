"""Helpers for the operations tests (t71-t74): the stats file in Prometheus
text format, /proc figures of a running server, and short SMTP exchanges on
a raw socket.  Every wait is bounded."""
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

from mntest import Raw

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\["\\n])*"'
SAMPLE_RE = re.compile(r"^(%s)(\{(?:%s)(?:,%s)*\})? (-?[0-9]+(?:\.[0-9]+)?(?:e[+-]?[0-9]+)?|[+-]Inf|NaN)$"
                       % (NAME, LABEL, LABEL))
HELP_RE = re.compile(r"^# HELP (%s) (.*)$" % NAME)
TYPE_RE = re.compile(r"^# TYPE (%s) (counter|gauge|histogram|summary|untyped)$" % NAME)


def parse_prom(text):
    """Checks text line by line against the Prometheus text exposition
    format (0.0.4) and returns (samples, errors): samples maps
    'name{labels}' (labels as written) to a float; errors lists what is
    wrong, empty when the file is valid."""
    errors, samples, types, helps = [], {}, {}, {}
    if not text.endswith("\n"):
        errors.append("does not end with a newline")
    for n, line in enumerate(text.split("\n")[:-1], 1):
        if line.startswith("#"):
            m = HELP_RE.match(line)
            if m:
                if m.group(1) in helps:
                    errors.append("line %d: second HELP for %s" % (n, m.group(1)))
                helps[m.group(1)] = m.group(2)
                continue
            m = TYPE_RE.match(line)
            if m:
                if m.group(1) in types:
                    errors.append("line %d: second TYPE for %s" % (n, m.group(1)))
                types[m.group(1)] = m.group(2)
                continue
            errors.append("line %d: bad comment %r" % (n, line))
            continue
        m = SAMPLE_RE.match(line)
        if not m:
            errors.append("line %d: bad sample %r" % (n, line))
            continue
        name, labels, value = m.group(1), m.group(2) or "", m.group(3)
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        family = name if name in types else base
        if family not in types:
            errors.append("line %d: %s has no TYPE before it" % (n, name))
        elif family not in helps:
            errors.append("line %d: %s has no HELP" % (n, name))
        elif types[family] == "counter" and not name.endswith("_total"):
            errors.append("line %d: counter %s does not end in _total" % (n, name))
        key = name + labels
        if key in samples:
            errors.append("line %d: duplicate series %s" % (n, key))
        samples[key] = float(value)
    return samples, errors


def read_text(path):
    try:
        with open(path, "r") as f:
            return f.read()
    except OSError:
        return None


def usr1_until(srv, path, cond, timeout=10):
    """Sends SIGUSR1 and reads the stats file until cond(samples) holds (or
    timeout); returns (samples, errors, text) of the last read."""
    deadline = time.time() + timeout
    samples, errors, text = {}, ["no file"], None
    while True:
        srv.signal(signal.SIGUSR1)
        time.sleep(0.1)
        text = read_text(path)
        if text is not None:
            samples, errors = parse_prom(text)
            if cond(samples):
                break
        if time.time() > deadline:
            break
    return samples, errors, text


def proc_status(pid):
    """/proc/PID/status as a dict of strings."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def vm_kb(pid, key):
    """VmHWM, VmRSS, ... in KiB."""
    return int(proc_status(pid)[key].split()[0])


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def code(r):
    """'250 2.0.0' of a reply (its last line)."""
    return r.split("\n")[-1][:9]


def transaction(port, rcpts, body, sender="a@remote.example", helo="ops.test"):
    """One whole session: EHLO, MAIL, RCPTs, DATA with body (bytes, sent as
    is; it must end with CRLF), QUIT.  Returns the list of reply codes:
    MAIL, each RCPT, then DATA's 354 and the final reply when DATA was
    accepted."""
    c = Raw(port)
    try:
        c.reply()
        c.cmd("EHLO " + helo)
        out = [code(c.cmd("MAIL FROM:<%s>" % sender))]
        for r in rcpts:
            out.append(code(c.cmd("RCPT TO:<%s>" % r)))
        if any(x.startswith("250") for x in out[1:]):
            r = code(c.cmd("DATA"))
            out.append(r)
            if r.startswith("354"):
                if isinstance(body, str):
                    body = body.encode()
                c.send(body + b".\r\n")
                out.append(code(c.reply(timeout=30)))
        c.cmd("QUIT")
    finally:
        c.close()
    return out


def write_conf(srv, lines):
    """Rewrites srv's configuration file as Server() first wrote it (for a
    SIGHUP), atomically."""
    tmp = srv.conf + ".new"
    with open(tmp, "w") as f:
        f.write("listen=127.0.0.1:%d\nhostname=mx.test\n" % srv.port)
        for line in lines:
            f.write(line.replace("@DIR@", srv.dir) + "\n")
    os.rename(tmp, srv.conf)


def wait_log(srv, text, count=1, timeout=10):
    """Waits until text appears count times in the server's log."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if srv.log().count(text) >= count:
            return True
        time.sleep(0.05)
    return False


def log_has(srv, pattern, timeout=5):
    """Waits until the regular expression pattern matches the server's log."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if re.search(pattern, srv.log()):
            return True
        time.sleep(0.05)
    return re.search(pattern, srv.log()) is not None


def reload(srv, lines, timeout=10):
    """New configuration lines, SIGHUP, and wait until it is in use."""
    n = srv.log().count("reload: configuration reloaded")
    write_conf(srv, lines)
    srv.signal(signal.SIGHUP)
    return wait_log(srv, "reload: configuration reloaded", n + 1, timeout)


def features(binary):
    """The compiled-in features `mailnook -V` lists (tls, ipv6, stats, ...)."""
    import subprocess
    try:
        out = subprocess.run([binary, "-V"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, timeout=30).stdout.decode(errors="replace")
    except (OSError, subprocess.TimeoutExpired):
        return set()
    for line in out.splitlines():
        if line.startswith("features:"):
            return set(line.split(":", 1)[1].split())
    return set()


def hold(port, n, host="127.0.0.1"):
    """Opens n connections and reads each one's first reply code (or the
    error); returns [(Raw, code)]."""
    from mntest import Raw
    out = []
    for _ in range(n):
        c = Raw(port, host=host)
        try:
            out.append((c, code(c.reply())))
        except (OSError, EOFError) as e:
            out.append((c, "error: %r" % e))
    return out


def close_all(conns):
    for c in conns:
        try:
            c.close()
        except OSError:
            pass


def make_cert(d, kind="ec", name=None):
    """A self-signed certificate for mx.test and 127.0.0.1 with its key, kind
    'ec' (P-256) or 'rsa' (2048 bits): d/NAME.crt and d/NAME.key, NAME the
    kind unless given.  Returns (crt, key); raises RuntimeError with
    openssl's words when it fails."""
    import subprocess
    name = name or kind
    key, crt = os.path.join(d, name + ".key"), os.path.join(d, name + ".crt")
    if kind == "ec":
        gen = ["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key]
    else:
        gen = ["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", key]
    for argv in (gen, ["openssl", "req", "-new", "-x509", "-key", key, "-subj", "/CN=mx.test",
                       "-addext", "subjectAltName=DNS:mx.test,IP:127.0.0.1", "-days", "2", "-out", crt]):
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=120)
        if r.returncode != 0:
            raise RuntimeError("openssl: %s" % r.stdout.decode(errors="replace"))
    return crt, key


def smuggle(port, seq):
    """A bare-LF smuggling attempt: (final reply, reply to the NOOP after)."""
    from mntest import Raw
    c = Raw(port)
    try:
        c.reply()
        c.cmd("EHLO smuggle.test")
        c.send(b"MAIL FROM:<s@remote.example>\r\nRCPT TO:<user@localhost>\r\nDATA\r\n")
        c.replies(3)
        c.send(b"Subject: smuggle\r\n\r\nbody" + seq +
               b"MAIL FROM:<evil@remote.example>\r\nRCPT TO:<user@localhost>\r\nDATA\r\nevil\r\n.\r\n")
        r = code(c.reply())
        return r, code(c.cmd("NOOP"))
    finally:
        c.close()


def fd_links(pid):
    """{descriptor: what it points at} of a running process."""
    out = {}
    d = "/proc/%d/fd" % pid
    for name in os.listdir(d):
        try:
            out[int(name)] = os.readlink(os.path.join(d, name))
        except OSError:
            pass
    return out


def build_fault_shim():
    """fault_shim.c (fsync faults and delays on demand, see its comment)
    built into a temporary directory: (path, None) or (None, reason)."""
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not cc:
        return None, "no C compiler for the LD_PRELOAD shim"
    d = tempfile.mkdtemp(prefix="mailnook-shim-")
    so = os.path.join(d, "fault_shim.so")
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fault_shim.c")
    r = subprocess.run([cc, "-shared", "-fPIC", "-O1", "-o", so, src, "-ldl"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    if r.returncode != 0:
        return None, "cannot build the shim: " + r.stdout.decode(errors="replace")[-300:]
    return so, None


def maildir_usage(md):
    """(bytes, count) from the names' S= (or the file size), as a reader
    recalculates: new/ and cur/ of the inbox and of every folder."""
    b = c = 0
    dirs = [md] + [os.path.join(md, d) for d in os.listdir(md)
                   if d.startswith(".") and os.path.isdir(os.path.join(md, d))]
    for d in dirs:
        for sub in ("new", "cur"):
            p = os.path.join(d, sub)
            for n in os.listdir(p) if os.path.isdir(p) else []:
                if n.startswith("."):
                    continue
                m = re.search(r",S=(\d+)(?=[:,]|$)", n)
                b += int(m.group(1)) if m else os.stat(os.path.join(p, n)).st_size
                c += 1
    return b, c


def read_maildirsize(md):
    """(header, (bytes, count) summed over the usage lines) of md's
    maildirsize, or (None, None) when there is none."""
    try:
        lines = open(os.path.join(md, "maildirsize")).read().split("\n")
    except FileNotFoundError:
        return None, None
    b = c = 0
    for line in lines[1:]:
        if line.strip():
            x, y = line.split()
            b += int(x)
            c += int(y)
    return lines[0], (b, c)

"""Helpers for mailnook's integration tests: TAP output, a server on
127.0.0.1 with its own Maildirs in a temporary directory, and a raw SMTP
client.  Every server started here is stopped at exit; every wait is bounded.
"""
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

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))


class Tap:
    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, cond, name, diag=None):
        self.n += 1
        if not cond:
            self.failed += 1
        print("%sok %d - %s" % ("" if cond else "not ", self.n, name), flush=True)
        if not cond and diag is not None:
            for line in str(diag).splitlines()[:40]:
                print("#   " + line)
        return bool(cond)

    def eq(self, got, want, name):
        return self.ok(got == want, name, "got:  %r\nwant: %r" % (got, want))

    def like(self, got, regex, name):
        return self.ok(got is not None and re.search(regex, got) is not None,
                       name, "got: %r\nwant match: %r" % (got, regex))

    def skip(self, name, reason):
        self.n += 1
        print("ok %d - %s # skip %s" % (self.n, name, reason), flush=True)

    def diag(self, msg):
        for line in str(msg).splitlines():
            print("# " + line, flush=True)

    def done(self):
        print("1..%d" % self.n, flush=True)
        sys.exit(1 if self.failed else 0)


def binaries():
    """The builds to test: (label, path).  `make test` passes the normal
    and the ASan+UBSan build."""
    out = []
    for label, var in (("", "MAILNOOK_BIN"), ("san: ", "MAILNOOK_SAN_BIN")):
        path = os.environ.get(var)
        if path:
            out.append((label, path))
    if not out:
        out.append(("", os.path.join(TOP, "mailnook")))
    return out


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


_servers = []


def _stop_all():
    for srv in list(_servers):
        srv.stop()


atexit.register(_stop_all)


class Server:
    """mailnook on 127.0.0.1:port with a config made of lines; Maildirs
    and files live in self.dir."""

    def __init__(self, binary, lines, port=None, args=(), env=None):
        self.binary = binary
        self.dir = tempfile.mkdtemp(prefix="mailnook-it-")
        self.port = port or free_port()
        self.conf = os.path.join(self.dir, "mailnook.conf")
        with open(self.conf, "w") as f:
            f.write("listen=127.0.0.1:%d\n" % self.port)
            f.write("hostname=mx.test\n")
            for line in lines:
                f.write(line.replace("@DIR@", self.dir) + "\n")
        self.logpath = os.path.join(self.dir, "log")
        self.args = list(args)
        self.env = dict(os.environ)
        self.env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        self.env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
        if env:
            self.env.update(env)
        self.proc = None
        self.returncode = None

    def start(self, wait=True):
        self.logf = open(self.logpath, "ab")
        prefix = list(self.binary) if isinstance(self.binary, (list, tuple)) else [self.binary]
        self.proc = subprocess.Popen(prefix + ["-f", "-c", self.conf] + self.args,
                                     stdin=subprocess.DEVNULL, stdout=self.logf,
                                     stderr=subprocess.STDOUT, cwd=self.dir,
                                     env=self.env)
        _servers.append(self)
        if wait:
            deadline = time.time() + 15
            while time.time() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError("mailnook exited %d:\n%s" % (self.proc.returncode, self.log()))
                try:
                    socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.05)
            else:
                raise RuntimeError("mailnook did not listen:\n" + self.log())
            # The probe connection above is a session of its own; let it end.
            time.sleep(0.05)
        return self

    def maildir(self, name):
        return os.path.join(self.dir, name)

    def log(self):
        try:
            with open(self.logpath, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=15):
        """SIGTERM, then wait; returns the exit code (SIGKILL after timeout)."""
        if self.proc is None:
            return self.returncode
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.returncode = self.proc.returncode
        self.proc = None
        self.logf.close()
        if self in _servers:
            _servers.remove(self)
        return self.returncode

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def check_sanitizer(self, t, label):
        """A test that the log holds no ASan or UBSan report (the
        sanitizer build logs them to stderr, which is the log)."""
        log = self.log()
        return t.ok("AddressSanitizer" not in log and "runtime error" not in log,
                    label + "no sanitizer report", log[-3000:])


def standard_lines():
    """A config with two domains, several mailboxes, an alias and a
    catch-all; Maildirs under the server's directory."""
    return [
        "domain=localhost",
        "domain=Example.ORG",
        "mailbox=user@localhost,@DIR@/user",
        "mailbox=bob@example.org,@DIR@/bob",
        "mailbox=carol@example.org,@DIR@/carol",
        "mailbox=@catch.test,@DIR@/catchall",
        "domain=catch.test",
        "alias=team@example.org,bob@example.org,carol@example.org",
    ]


class Raw:
    """A plain socket SMTP client that sends exactly what it is given and
    reads replies one by one."""

    def __init__(self, port, host="127.0.0.1", timeout=10):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _line(self, deadline):
        while b"\n" not in self.buf:
            self.sock.settimeout(max(0.05, deadline - time.time()))
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r").decode("utf-8", "replace")

    def reply(self, timeout=10):
        """One whole reply, multi-line joined by \\n."""
        deadline = time.time() + timeout
        lines = []
        while True:
            line = self._line(deadline)
            lines.append(line)
            if len(line) < 4 or line[3] != "-":
                return "\n".join(lines)

    def replies(self, n, timeout=10):
        return [self.reply(timeout) for _ in range(n)]

    def cmd(self, line, timeout=10):
        self.send(line + "\r\n")
        return self.reply(timeout)

    def closed(self, timeout=5):
        """True when the server closes the connection (nothing more to read)."""
        deadline = time.time() + timeout
        try:
            while time.time() < deadline:
                self.sock.settimeout(max(0.05, deadline - time.time()))
                chunk = self.sock.recv(4096)
                if not chunk:
                    return True
                self.buf += chunk
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False
        return False

    def close(self):
        self.sock.close()


def maildir_files(path, sub="new"):
    d = os.path.join(path, sub)
    try:
        return sorted(os.listdir(d))
    except FileNotFoundError:
        return []


def read_new(path):
    """Contents of every file in path/new, sorted by name."""
    return [open(os.path.join(path, "new", n), "rb").read() for n in maildir_files(path)]

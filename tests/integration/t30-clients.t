#!/usr/bin/env python3
"""Real clients against the real binary: swaks, curl smtp://, and mutt
reading the Maildir back."""
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mntest import Tap, Server, binaries, standard_lines, read_new, maildir_files  # noqa: E402

t = Tap()


def run(argv, timeout=60, **kw):
    return subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=timeout, **kw)


for label, binary in binaries():
    srv = Server(binary, standard_lines()).start()
    d_user, d_bob = srv.maildir("user"), srv.maildir("bob")

    if shutil.which("swaks"):
        r = run(["swaks", "--server", "127.0.0.1:%d" % srv.port, "--to", "user@localhost",
                 "--from", "swaks@remote.example", "--helo", "swaks.test",
                 "--header", "Subject: from swaks", "--body", "swaks body line"])
        t.eq(r.returncode, 0, label + "swaks delivers", )
        files = read_new(d_user)
        t.ok(any(b"Subject: from swaks" in f and b"swaks body line" in f for f in files),
             label + "swaks message in the Maildir", r.stdout.decode(errors="replace")[-2000:])
        r = run(["swaks", "--server", "127.0.0.1:%d" % srv.port, "--to", "user@elsewhere.example",
                 "--from", "swaks@remote.example", "--quit-after", "RCPT"])
        t.ok(b"550 5.7.1" in r.stdout, label + "swaks sees 550 5.7.1 for another domain")
        r = run(["swaks", "--server", "127.0.0.1:%d" % srv.port, "--to", "bob@example.org",
                 "--pipeline", "--body", "piped by swaks"])
        t.eq(r.returncode, 0, label + "swaks --pipeline delivers")
    else:
        t.skip(label + "swaks", "swaks not installed")

    if shutil.which("curl"):
        with tempfile.NamedTemporaryFile("wb", delete=False) as f:
            f.write(b"From: curl@remote.example\r\nSubject: from curl\r\n\r\ncurl body\r\n.leading dot\r\n")
            path = f.name
        r = run(["curl", "-sS", "--max-time", "30", "smtp://127.0.0.1:%d/curl.test" % srv.port,
                 "--mail-from", "curl@remote.example", "--mail-rcpt", "bob@example.org",
                 "--upload-file", path])
        os.unlink(path)
        t.eq(r.returncode, 0, label + "curl smtp:// delivers")
        t.ok(any(b"Subject: from curl" in f and f.endswith(b"curl body\n.leading dot\n") for f in read_new(d_bob)),
             label + "curl message stored, dot-stuffing undone")
    else:
        t.skip(label + "curl", "curl not installed")

    if shutil.which("mutt") and shutil.which("script"):
        home = tempfile.mkdtemp(prefix="mailnook-mutt-")
        out = os.path.join(home, "out.txt")
        cmd = ("TERM=vt100 mutt -n -F /dev/null -R -f %s -e 'set wait_key=no folder=%s spoolfile=%s' "
               "-e 'push \"<pipe-message>cat > %s<enter><exit>\"'") % (d_bob, home, d_bob, out)
        run(["script", "-qec", cmd, os.path.join(home, "typescript")], env=dict(os.environ, HOME=home))
        got = open(out, "rb").read() if os.path.exists(out) else b""
        first = read_new(d_bob)
        t.ok(got.strip() != b"" and any(got.strip() in f for f in first), label + "mutt reads a message from the Maildir",
             got[:300])
        shutil.rmtree(home, ignore_errors=True)
    else:
        t.skip(label + "mutt", "mutt or script not installed")

    t.eq(maildir_files(d_user, "tmp"), [], label + "tmp/ empty")
    t.eq(srv.stop(), 0, label + "exit 0")
    srv.check_sanitizer(t, label)
    srv.cleanup()

t.done()

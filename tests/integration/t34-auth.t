#!/usr/bin/env python3
"""SMTP AUTH (contract section 7) with real clients and device replays.

Without auth-users or auth-any, AUTH is not advertised, and a client that
sends it anyway (cameras do, and give up on an error) goes through with any
credentials, granting nothing: the raw-socket replays of a camera (EHLO,
HELO, AUTH LOGIN, the exact prompts), a Konica-style `AUTH LOGIN <b64 user>`
and a Xerox-style prompt check each deliver.  With auth-any, EHLO lists
AUTH PLAIN LOGIN and Python's smtplib.login() (STARTTLS and implicit TLS),
swaks --auth PLAIN / LOGIN, curl --user and msmtp with `auth on` log in and
deliver.  The password never appears in the log, the stats file or the
Maildir; mailnook_auth_total counts the logins."""
import base64
import os
import re
import shutil
import smtplib
import ssl
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mntest import Tap, Server, Raw, binaries, free_port, read_new, maildir_files  # noqa: E402
from mnops import code, features, usr1_until  # noqa: E402

t = Tap()
USER = "camera01"
PASSWORD = "Pw-s3cret-7f1a"     # grepped for afterwards: must be nowhere
SECRETS = [PASSWORD.encode(), base64.b64encode(PASSWORD.encode()),
           base64.b64encode(b"\0" + USER.encode() + b"\0" + PASSWORD.encode())]


def b64(s):
    return base64.b64encode(s.encode()).decode()


def run(argv, timeout=60, input=None):
    return subprocess.run(argv, input=input, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=timeout,
                          stdin=None if input is not None else subprocess.DEVNULL)


def make_cert(d):
    key, crt = os.path.join(d, "ec.key"), os.path.join(d, "ec.crt")
    for argv in (["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                  "ec_paramgen_curve:P-256", "-out", key],
                 ["openssl", "req", "-new", "-x509", "-key", key, "-subj", "/CN=mx.test",
                  "-days", "2", "-out", crt]):
        r = run(argv)
        if r.returncode != 0:
            raise RuntimeError("openssl: %s" % r.stdout.decode(errors="replace"))
    return crt, key


def received(stored):
    m = re.search(rb"Received: .*? with (\S+) id", stored, re.S)
    return m.group(1).decode() if m else None


def deliver(c, subject):
    """MAIL, RCPT, DATA on an open Raw session: the final reply."""
    out = [c.cmd("MAIL FROM:<dev@remote.example>"), c.cmd("RCPT TO:<user@localhost>"),
           c.cmd("DATA")]
    c.send("Subject: %s\r\n\r\nalert\r\n.\r\n" % subject)
    out.append(c.reply(timeout=30))
    return [code(r) for r in out]


def nowhere(srv, label):
    """The password (plain or base64) is in no file under the server's
    directory: log, stats, Maildir."""
    found = []
    for root, _dirs, files in os.walk(srv.dir):
        for n in files:
            p = os.path.join(root, n)
            if p.endswith((".key", ".crt")):
                continue
            try:
                data = open(p, "rb").read()
            except OSError:
                continue
            for s in SECRETS:
                if s in data:
                    found.append("%s holds %r" % (p, s))
    t.ok(not found, label + "the password is in no log, stats or Maildir file", "\n".join(found))


if "auth" not in features(binaries()[0][1]):
    t.skip("AUTH", "this build has no AUTH (CONFIG_AUTH is off)")
    t.done()

for L, binary in binaries():
    L = L or ""
    # ---- AUTH not configured: devices that log in anyway ------------------
    srv = Server(binary, ["domain=localhost", "mailbox=user@localhost,@DIR@/user",
                          "stats-file=@DIR@/stats"]).start()
    md = srv.maildir("user")
    try:
        c = Raw(srv.port)
        c.reply()
        ehlo = c.cmd("EHLO localhost")
        t.ok(ehlo.startswith("250-mx.test") and "AUTH" not in ehlo,
             L + "quiet: EHLO does not list AUTH", ehlo)
        t.eq(c.cmd("HELO localhost"), "250 mx.test", L + "camera: HELO after EHLO")
        t.eq(c.cmd("AUTH LOGIN"), "334 VXNlcm5hbWU6", L + "camera: AUTH LOGIN prompts Username:")
        t.eq(c.cmd(b64(USER)), "334 UGFzc3dvcmQ6", L + "camera: then Password:")
        t.like(c.cmd(b64(PASSWORD)), r"^235 2\.7\.0", L + "camera: any credentials, 235 2.7.0")
        t.eq(deliver(c, "camera"), ["250 2.1.0", "250 2.1.5", "354 End d", "250 2.0.0"],
             L + "camera: the alert is delivered")
        t.like(c.cmd("QUIT"), r"^221", L + "camera: QUIT")
        c.close()
        msgs = read_new(md)
        t.ok(len(msgs) == 1 and received(msgs[0]) == "SMTP",
             L + "camera: stored, Received says SMTP (nothing granted)", msgs)

        c = Raw(srv.port)
        c.reply()
        c.cmd("EHLO konica.test")
        t.eq(c.cmd("AUTH LOGIN " + b64(USER)), "334 UGFzc3dvcmQ6",
             L + "Konica: AUTH LOGIN <b64 user> prompts Password: only")
        t.like(c.cmd(b64(PASSWORD)), r"^235 2\.7\.0", L + "Konica: 235 2.7.0")
        t.eq(deliver(c, "konica")[-1], "250 2.0.0", L + "Konica: delivered")
        c.cmd("QUIT")
        c.close()

        c = Raw(srv.port)
        c.reply()
        c.cmd("EHLO xerox.test")
        c.send("AUTH LOGIN\r\n")
        line = c.reply()
        t.ok(line == "334 VXNlcm5hbWU6" and base64.b64decode(line[4:]) == b"Username:",
             L + "Xerox: the prompt is exactly Username:", line)
        line = c.cmd(b64(USER))
        t.ok(line == "334 UGFzc3dvcmQ6" and base64.b64decode(line[4:]) == b"Password:",
             L + "Xerox: the prompt is exactly Password:", line)
        c.cmd(b64(PASSWORD))
        t.eq(deliver(c, "xerox")[-1], "250 2.0.0", L + "Xerox: delivered")
        c.cmd("QUIT")
        c.close()
        t.eq(len(maildir_files(md)), 3, L + "quiet: three devices, three messages")
        samples, errors, text = usr1_until(
            srv, srv.maildir("stats"), lambda s: s.get('mailnook_auth_total{result="ok"}') == 3)
        t.ok(not errors and samples.get('mailnook_auth_total{result="ok"}') == 3 and
             samples.get('mailnook_auth_total{result="failed"}') == 0,
             L + "stats: mailnook_auth_total ok 3, failed 0", text)
        t.ok("auth=" not in srv.log(), L + "quiet: no auth= in the log (nothing checked)",
             srv.log()[-1500:])
    finally:
        srv.stop()
    srv.check_sanitizer(t, L)
    nowhere(srv, L + "quiet: ")
    srv.cleanup()

    # ---- auth-any: real clients that need AUTH advertised ------------------
    d = tempfile.mkdtemp(prefix="mailnook-t34-")
    crt, key = make_cert(d)
    tls_port = free_port()
    srv = Server(binary, ["domain=localhost", "mailbox=user@localhost,@DIR@/user", "auth-any",
                          "stats-file=@DIR@/stats", "tls-cert=" + crt, "tls-key=" + key,
                          "listen-tls=127.0.0.1:%d" % tls_port]).start()
    md = srv.maildir("user")
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    logins = 0
    try:
        c = Raw(srv.port)
        c.reply()
        ehlo = c.cmd("EHLO any.test")
        t.ok("250-AUTH PLAIN LOGIN" in ehlo, L + "auth-any: EHLO lists AUTH PLAIN LOGIN", ehlo)
        t.like(c.cmd("AUTH PLAIN " + b64("\0x\0y")), r"^235 2\.7\.0", L + "auth-any: PLAIN, 235")
        t.like(c.cmd("AUTH PLAIN " + b64("\0x\0y")), r"^503 5\.5\.1",
               L + "auth-any: AUTH after a successful AUTH: 503 5.5.1")
        c.cmd("QUIT")
        c.close()
        logins += 1

        for how in ("STARTTLS", "implicit TLS"):
            before = len(maildir_files(md))
            try:
                if how == "STARTTLS":
                    s = smtplib.SMTP("127.0.0.1", srv.port, timeout=30)
                    s.starttls(context=ctx)
                else:
                    s = smtplib.SMTP_SSL("127.0.0.1", tls_port, timeout=30, context=ctx)
                s.ehlo("smtplib.test")
                r = s.login(USER, PASSWORD)
                s.sendmail("py@remote.example", ["user@localhost"],
                           b"Subject: smtplib %s\r\n\r\nlogged in\r\n" % how.encode())
                s.quit()
                res = r[0]
            except (smtplib.SMTPException, OSError) as e:
                res = repr(e)
            t.ok(res == 235 and len(maildir_files(md)) == before + 1,
                 L + "smtplib.login() over %s, delivered" % how, res)
            logins += 1

        if shutil.which("swaks"):
            for mech in ("PLAIN", "LOGIN"):
                before = len(maildir_files(md))
                r = run(["swaks", "--server", "127.0.0.1:%d" % srv.port, "--to", "user@localhost",
                         "--from", "swaks@remote.example", "--helo", "swaks.test",
                         "--auth", mech, "--auth-user", USER, "--auth-password", PASSWORD,
                         "--header", "Subject: swaks " + mech])
                out = r.stdout.decode(errors="replace")
                t.ok(r.returncode == 0 and "235 2.7.0" in out and
                     len(maildir_files(md)) == before + 1,
                     L + "swaks --auth %s delivers" % mech, out[-2000:])
                logins += 1
        else:
            t.skip(L + "swaks --auth", "swaks not installed")

        if shutil.which("curl"):
            with tempfile.NamedTemporaryFile("wb", delete=False, dir=d) as f:
                f.write(b"From: curl@remote.example\r\nSubject: curl\r\n\r\ncurl --user\r\n")
                path = f.name
            before = len(maildir_files(md))
            r = run(["curl", "-sS", "-v", "-k", "--max-time", "30",
                     "smtp://127.0.0.1:%d/curl.test" % srv.port, "--user", USER + ":" + PASSWORD,
                     "--mail-from", "curl@remote.example", "--mail-rcpt", "user@localhost",
                     "--upload-file", path])
            out = r.stdout.decode(errors="replace")
            t.ok(r.returncode == 0 and re.search(r"> AUTH (PLAIN|LOGIN)", out) and
                 len(maildir_files(md)) == before + 1, L + "curl --user logs in and delivers",
                 out[-2000:])
            logins += 1
        else:
            t.skip(L + "curl --user", "curl not installed")

        if shutil.which("msmtp"):
            rc = os.path.join(d, "msmtprc")
            with open(rc, "w") as f:
                f.write("account default\nhost 127.0.0.1\nport %d\nfrom msmtp@remote.example\n"
                        "auth on\nuser %s\npassword %s\ntls on\ntls_starttls on\n"
                        "tls_certcheck off\n" % (srv.port, USER, PASSWORD))
            os.chmod(rc, 0o600)
            before = len(maildir_files(md))
            r = run(["msmtp", "-C", rc, "user@localhost"],
                    input=b"Subject: msmtp\r\n\r\nauth on\r\n")
            t.ok(r.returncode == 0 and len(maildir_files(md)) == before + 1,
                 L + "msmtp with auth on logs in and delivers", r.stdout.decode(errors="replace"))
            logins += 1
        else:
            t.skip(L + "msmtp", "msmtp not installed")

        samples, errors, text = usr1_until(
            srv, srv.maildir("stats"),
            lambda s: s.get('mailnook_auth_total{result="ok"}') == logins)
        t.ok(not errors and samples.get('mailnook_auth_total{result="ok"}') == logins,
             L + "stats: mailnook_auth_total ok counts every login (%d)" % logins, text)
        msgs = read_new(md)
        t.ok(msgs and all(received(m) in ("ESMTP", "ESMTPS") for m in msgs),
             L + "auth-any grants nothing: Received says ESMTP/ESMTPS, never ...A",
             [received(m) for m in msgs])
    finally:
        srv.stop()
    srv.check_sanitizer(t, L)
    nowhere(srv, L + "auth-any: ")
    srv.cleanup()
    shutil.rmtree(d, ignore_errors=True)

t.done()

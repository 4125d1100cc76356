#!/usr/bin/env python3
"""SMTP AUTH (RFC 4954) with real clients and device replays.

Without auth-users or auth-any, AUTH is not advertised, and a client that
sends it anyway (cameras do, and give up on an error) goes through with any
credentials, granting nothing: the raw-socket replays of a camera (EHLO,
HELO, AUTH LOGIN, the exact prompts), a Konica-style `AUTH LOGIN <b64 user>`
and a Xerox-style prompt check each deliver.  With auth-any, EHLO lists
AUTH PLAIN LOGIN and Python's smtplib.login() (STARTTLS and implicit TLS),
swaks --auth PLAIN / LOGIN, curl --user and msmtp with `auth on` log in and
deliver.  The password never appears in the log, the stats file or the
Maildir; mailnook_auth_total counts the logins.

With auth-users (crypt(3) $6$ and $5$ hashes made by openssl passwd), the
right password logs in and the wrong one is refused, with smtplib, swaks,
curl and msmtp over STARTTLS and implicit TLS; a session without TLS gets
538 5.7.11 (unless auth-plaintext); a ,auth listener answers MAIL with 530
5.7.0 until a checked login; a checked login makes Received say ESMTPSA
and adds auth=NAME to both log lines, a failure logs "auth=failed user=...
ip=...".  The 535 comes after a pause that does not hold up another
session (its NOOP is answered first: order, not speed); the third failure
is followed by 421 4.7.0 and the close; a client that half-closes after a
wrong password still gets its 535 and 221; SIGHUP re-reads the file."""
import base64
import os
import select
import signal
import socket
import re
import shutil
import smtplib
import ssl
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import struct
from mntest import Tap, Server, Raw, TOP, binaries, free_port, read_new, maildir_files  # noqa: E402
from mnops import code, features, usr1_until, wait_log, reload  # noqa: E402

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


def hash_of(kind, password):
    r = run(["openssl", "passwd", "-" + kind, password])
    return r.stdout.decode().strip()


def tls_session(port, ctx, starttls):
    """An smtplib session over TLS, EHLO done."""
    if starttls:
        s = smtplib.SMTP("127.0.0.1", port, timeout=30)
        s.starttls(context=ctx)
    else:
        s = smtplib.SMTP_SSL("127.0.0.1", port, timeout=30, context=ctx)
    s.ehlo("tls.test")
    return s


def smtplib_login(port, ctx, starttls, user, password, subject):
    """235 and a delivery, or the error."""
    try:
        s = tls_session(port, ctx, starttls)
        r = s.login(user, password)
        s.sendmail("py@remote.example", ["user@localhost"],
                   b"Subject: %s\r\n\r\nchecked\r\n" % subject.encode())
        s.quit()
        return r[0]
    except smtplib.SMTPAuthenticationError as e:
        return e.smtp_code
    except (smtplib.SMTPException, OSError) as e:
        return repr(e)


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

    # ---- auth-users: checked passwords, over TLS ----------------------------
    d = tempfile.mkdtemp(prefix="mailnook-t34-")
    crt, key = make_cert(d)
    tls_port, auth_port = free_port(), free_port()
    srv = Server(binary, ["domain=localhost", "mailbox=user@localhost,@DIR@/user",
                          "auth-users=@DIR@/users", "stats-file=@DIR@/stats",
                          "tls-cert=" + crt, "tls-key=" + key,
                          "listen-tls=127.0.0.1:%d" % tls_port,
                          "listen=127.0.0.1:%d,auth" % auth_port])
    with open(os.path.join(srv.dir, "users"), "w") as f:
        f.write("# camera and printer\n%s:%s\nprinter:%s\n" %
                (USER, hash_of("6", PASSWORD), hash_of("5", PASSWORD + "5")))
    srv.start()
    md = srv.maildir("user")
    ok_n = failed_n = 0
    try:
        c = Raw(srv.port)
        c.reply()
        ehlo = c.cmd("EHLO plain.test")
        t.ok("AUTH" not in ehlo and "STARTTLS" in ehlo,
             L + "auth-users: no AUTH offered without TLS", ehlo)
        t.like(c.cmd("AUTH PLAIN " + b64("\0%s\0%s" % (USER, PASSWORD))),
               r"^538 5\.7\.11 Encryption required",
               L + "auth-users: AUTH without TLS gets 538 5.7.11")
        c.cmd("QUIT")
        c.close()

        for starttls, port, user, pw, how in (
                (True, srv.port, USER, PASSWORD, "STARTTLS $6$"),
                (False, tls_port, "printer", PASSWORD + "5", "implicit TLS $5$")):
            before = len(maildir_files(md))
            t.eq(smtplib_login(port, ctx, starttls, user, pw, "smtplib " + how), 235,
                 L + "smtplib.login() %s: right password, 235" % how)
            t.eq(len(maildir_files(md)), before + 1, L + "  and delivered")
            t.eq(smtplib_login(port, ctx, starttls, user, "wrong-" + pw, "never"), 535,
                 L + "smtplib.login() %s: wrong password, 535" % how)
            ok_n += 1
            failed_n += 2       # smtplib tries PLAIN, then LOGIN
        msgs = read_new(md)
        t.ok(len(msgs) == 2 and all(received(m) == "ESMTPSA" for m in msgs),
             L + "a checked login: Received says ESMTPSA", [received(m) for m in msgs])
        log = srv.log()
        t.ok(re.search(r"result=delivered .* ip=127\.0\.0\.1 auth=%s from=<" % USER, log) and
             re.search(r"session ip=127\.0\.0\.1 .*auth=%s helo=" % USER, log) and
             re.search(r"auth=printer from=<", log),
             L + "auth=NAME on the message and the session line", log[-2000:])
        t.ok(wait_log(srv, "auth=failed user=%s ip=127.0.0.1" % USER, 2),
             L + "a failure logs auth=failed user=NAME ip=IP", srv.log()[-2000:])

        if shutil.which("swaks"):
            for opt, port, mech, pw, want in (("--tls", srv.port, "PLAIN", PASSWORD, 0),
                                              ("--tlsc", tls_port, "LOGIN", PASSWORD, 0),
                                              ("--tls", srv.port, "LOGIN", "bad" + PASSWORD, 1)):
                r = run(["swaks", "--server", "127.0.0.1:%d" % port, opt, "--to", "user@localhost",
                         "--from", "swaks@remote.example", "--auth", mech, "--auth-user", USER,
                         "--auth-password", pw, "--header", "Subject: swaks checked"])
                out = r.stdout.decode(errors="replace")
                good = r.returncode == 0 and "235 2.7.0" in out
                bad = r.returncode != 0 and "535 5.7.8" in out
                t.ok(good if want == 0 else bad,
                     L + "swaks %s --auth %s, %s password" % (opt, mech, "right" if want == 0 else "wrong"),
                     out[-1500:])
                ok_n += want == 0
                failed_n += want
        else:
            t.skip(L + "swaks --auth checked", "swaks not installed")

        if shutil.which("curl"):
            with tempfile.NamedTemporaryFile("wb", delete=False, dir=d) as f:
                f.write(b"From: curl@remote.example\r\nSubject: curl checked\r\n\r\nx\r\n")
                path = f.name
            for url, pw, want in (("smtp://127.0.0.1:%d/c.test" % srv.port, PASSWORD, 0),
                                  ("smtps://127.0.0.1:%d/c.test" % tls_port, PASSWORD, 0),
                                  ("smtps://127.0.0.1:%d/c.test" % tls_port, "no" + PASSWORD, 67)):
                argv = ["curl", "-sS", "-k", "--max-time", "30", url, "--user", USER + ":" + pw,
                        "--mail-from", "curl@remote.example", "--mail-rcpt", "user@localhost",
                        "--upload-file", path]
                if url.startswith("smtp:"):
                    argv.insert(1, "--ssl-reqd")
                r = run(argv)
                t.eq(r.returncode, want, L + "curl --user %s, %s password" %
                     (url.split(":")[0], "right" if want == 0 else "wrong"))
                ok_n += want == 0
                failed_n += want != 0
        else:
            t.skip(L + "curl --user checked", "curl not installed")

        if shutil.which("msmtp"):
            for pw, want in ((PASSWORD, True), ("x" + PASSWORD, False)):
                rc = os.path.join(d, "msmtprc")
                with open(rc, "w") as f:
                    f.write("account default\nhost 127.0.0.1\nport %d\nfrom m@remote.example\n"
                            "auth on\nuser %s\npassword %s\ntls on\ntls_starttls off\n"
                            "tls_certcheck off\n" % (tls_port, USER, pw))
                os.chmod(rc, 0o600)
                r = run(["msmtp", "-C", rc, "user@localhost"], input=b"Subject: msmtp\r\n\r\nx\r\n")
                t.eq(r.returncode == 0, want, L + "msmtp implicit TLS, %s password" %
                     ("right" if want else "wrong"))
                ok_n += want
                failed_n += not want
        else:
            t.skip(L + "msmtp checked", "msmtp not installed")

        # a ,auth listener: 530 before a checked login
        try:
            s = smtplib.SMTP("127.0.0.1", auth_port, timeout=30)
            s.ehlo("auth.test")
            r1 = s.mail("a@remote.example")[0]
            s.starttls(context=ctx)
            s.ehlo("auth.test")
            r2 = s.mail("a@remote.example")[0]
            s.rset()
            r3 = s.login(USER, PASSWORD)[0]
            r4 = s.mail("a@remote.example")[0]
            s.quit()
            res = (r1, r2, r3, r4)
        except (smtplib.SMTPException, OSError) as e:
            res = repr(e)
        t.eq(res, (530, 530, 235, 250), L + ",auth listener: MAIL 530 5.7.0 until a checked login")
        ok_n += 1

        # the third failure: 421 4.7.0 and the close
        s = tls_session(tls_port, ctx, False)
        replies = [s.docmd("AUTH", "PLAIN " + b64("\0%s\0bad%d" % (USER, i)))[0] for i in range(3)]
        replies.append(s.getreply()[0])
        t.eq(replies, [535, 535, 535, 421], L + "the third failure: 535, then 421 4.7.0")
        try:
            s.docmd("NOOP")
            closed = False
        except (smtplib.SMTPServerDisconnected, OSError):
            closed = True
        t.ok(closed, L + "  and the connection is closed")
        s.close()
        failed_n += 3

        samples, errors, text = usr1_until(
            srv, srv.maildir("stats"),
            lambda x: x.get('mailnook_auth_total{result="failed"}') == failed_n)
        t.ok(not errors and samples.get('mailnook_auth_total{result="ok"}') == ok_n and
             samples.get('mailnook_auth_total{result="failed"}') == failed_n,
             L + "stats: auth_total ok %d, failed %d" % (ok_n, failed_n), text)
    finally:
        srv.stop()
    srv.check_sanitizer(t, L)
    nowhere(srv, L + "auth-users: ")
    srv.cleanup()

    # ---- auth-users with auth-plaintext: the pause, half-close, reload -----
    srv = Server(binary, ["domain=localhost", "mailbox=user@localhost,@DIR@/user",
                          "auth-users=@DIR@/users", "auth-plaintext"])
    users = os.path.join(srv.dir, "users")
    with open(users, "w") as f:
        f.write("%s:%s\n" % (USER, hash_of("6", PASSWORD)))
    srv.start()
    try:
        a, b = Raw(srv.port), Raw(srv.port)
        a.reply()
        b.reply()
        t.ok("250-AUTH PLAIN LOGIN" in a.cmd("EHLO a.test"),
             L + "auth-plaintext: AUTH offered without TLS")
        b.cmd("EHLO b.test")
        a.send("AUTH PLAIN %s\r\n" % b64("\0%s\0wrong" % USER))
        nb = b.cmd("NOOP")
        waiting = not select.select([a.sock], [], [], 0)[0]
        ra = a.reply()
        t.ok(nb.startswith("250") and waiting and ra.startswith("535 5.7.8"),
             L + "the pause after a failure holds up no other session (its NOOP first)",
             (nb, waiting, ra))
        a.cmd("QUIT")
        a.close()
        b.close()

        c = Raw(srv.port)
        c.reply()
        c.cmd("EHLO half.test")
        c.send("AUTH PLAIN %s\r\nQUIT\r\n" % b64("\0%s\0wrong" % USER))
        c.sock.shutdown(socket.SHUT_WR)
        got = [c.reply(), c.reply()]
        t.ok(got[0].startswith("535 5.7.8") and got[1].startswith("221"),
             L + "a half-close after a wrong password still gets 535 and 221", got)
        c.close()

        with open(users + ".new", "w") as f:
            f.write("%s:%s\ncarol:%s\n" % (USER, hash_of("6", PASSWORD), hash_of("6", "Carol-pw")))
        os.rename(users + ".new", users)
        n = srv.log().count("reload: configuration reloaded")
        srv.signal(signal.SIGHUP)
        t.ok(wait_log(srv, "reload: configuration reloaded", n + 1), L + "SIGHUP reloads")
        c = Raw(srv.port)
        c.reply()
        c.cmd("EHLO carol.test")
        t.like(c.cmd("AUTH PLAIN " + b64("\0carol\0Carol-pw")), r"^235 2\.7\.0",
               L + "SIGHUP re-reads auth-users: a new user logs in")
        c.cmd("QUIT")
        c.close()
    finally:
        srv.stop()
    srv.check_sanitizer(t, L)
    nowhere(srv, L + "auth-plaintext: ")
    srv.cleanup()

    # ---- configuration errors -----------------------------------------------
    conf = os.path.join(d, "bad.conf")
    with open(os.path.join(d, "users"), "w") as f:
        f.write("ok:%s\nmd5:%s\nshort:$6$salt$abc\nnocolon\n" %
                (hash_of("6", "x"), hash_of("1", "x")))
    for lines, want in (
            (["auth-users=%s/users" % d, "auth-plaintext"],
             [r"users:2: the hash must be a crypt\(3\) \$5\$ or \$6\$",
              r"users:3: crypt\(3\) cannot check this hash", r"users:4: not a NAME:HASH line"]),
            (["auth-users=%s/users" % d], [r"auth-users: needs tls-cert or auth-plaintext"]),
            (["auth-any", "listen=127.0.0.1:2,auth"], [r"listen: ,auth needs auth-users"])):
        with open(conf, "w") as f:
            f.write("domain=localhost\nmailbox=user@localhost,%s/md\n%s\n" % (d, "\n".join(lines)))
        prefix = list(binary) if isinstance(binary, (list, tuple)) else [binary]
        r = run(prefix + ["-t", "-c", conf])
        out = r.stdout.decode(errors="replace")
        t.ok(r.returncode == 1 and all(re.search(w, out) for w in want),
             L + "-t: %s" % want[0].replace("\\", ""), out)
    shutil.rmtree(d, ignore_errors=True)


# ---- no malloc for a login: crypt_r() into static scratch ---------------
# (normal build only; the counter is tests/alloc/alloc_count.c, as in
# t70-nomalloc.t: a malloc/calloc/realloc/free/memalign count per kind)
binary = next((b for label, b in binaries() if not label), None)
cc = shutil.which(os.environ.get("CC") or "cc") or shutil.which("gcc")
if binary and not isinstance(binary, (list, tuple)) and cc:
    work = tempfile.mkdtemp(prefix="mailnook-t34-alloc-")
    so, counts = os.path.join(work, "alloc_count.so"), os.path.join(work, "counts")
    r = run([cc, "-shared", "-fPIC", "-O2", "-o", so,
             os.path.join(TOP, "tests", "alloc", "alloc_count.c"), "-ldl"])
    if t.eq(r.returncode, 0, "the allocation counter builds"):
        fmt = "<8sQ5Q"

        def count():
            try:
                with open(counts, "rb") as f:
                    v = struct.unpack(fmt, f.read(struct.calcsize(fmt)))
            except (OSError, struct.error):
                return None     # not preloaded: a static binary
            return v[2:] if v[0] == b"mnalloc1" and v[1] == srv.proc.pid else None

        srv = Server(binary, ["domain=localhost", "mailbox=user@localhost,@DIR@/user",
                              "auth-users=@DIR@/users", "auth-plaintext"],
                     env={"LD_PRELOAD": so, "MAILNOOK_ALLOC_FILE": counts})
        with open(os.path.join(srv.dir, "users"), "w") as f:
            f.write("%s:%s\nprinter:%s\n" % (USER, hash_of("6", PASSWORD), hash_of("5", "x")))
        srv.start()
        try:
            time.sleep(0.3)
            before = count()
            if before is None:
                t.skip("no allocation for logins", "the counter cannot be preloaded "
                       "(a static binary)")
            else:
                for user, pw in ((USER, PASSWORD), (USER, "wrong"), ("printer", "x"),
                                 ("nobody", "x")):
                    c = Raw(srv.port)
                    c.reply()
                    c.cmd("EHLO alloc.test")
                    c.cmd("AUTH LOGIN " + b64(user))
                    c.cmd(b64(pw))
                    c.cmd("QUIT")
                    c.close()
                srv.signal(signal.SIGHUP)        # re-reads (and re-checks) the users
                wait_log(srv, "reload: configuration reloaded")
                time.sleep(0.3)
                t.eq(count(), before, "no allocation for right and wrong logins, nor for a reload")
        finally:
            srv.stop()
        srv.cleanup()
    shutil.rmtree(work, ignore_errors=True)

t.done()

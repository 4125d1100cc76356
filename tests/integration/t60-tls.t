#!/usr/bin/env python3
"""TLS with real clients: STARTTLS on listen=, implicit TLS on listen-tls=,
with an EC P-256 and an RSA-2048 certificate that the test makes with
openssl.  Python's smtplib (starttls, SMTP_SSL), swaks --tls / --tlsc, curl
--ssl-reqd smtp:// and smtps://, openssl s_client -starttls smtp and
-connect.  What must be refused is refused: TLS 1.1, CBC-only, RSA key
exchange only, garbage instead of a ClientHello (and it costs only that
session), a stalled handshake (ended by the timeout).  The STARTTLS
injection ("STARTTLS\\r\\nRSET\\r\\n" in one write) never runs the RSET.  A
message over TLS is stored byte for byte as over plaintext, the trace header
aside, which says ESMTPS.  -t reports a broken or mismatched pair at the
tls-cert / tls-key line."""
import os
import re
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mntest import Tap, Server, Raw, binaries, free_port, read_new, maildir_files  # noqa: E402
from mnops import features, log_has, make_cert  # noqa: E402

t = Tap()


def run(argv, timeout=60, input=None):
    return subprocess.run(argv, input=input, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=timeout,
                          stdin=None if input is not None else subprocess.DEVNULL)


if not shutil.which("openssl"):
    t.skip("TLS", "the openssl command is needed to make certificates")
    t.done()
if "tls" not in features(binaries()[0][1]):
    t.skip("TLS", "this build has no TLS (CONFIG_TLS is off)")
    t.done()


def client_ctx(cafile=None):
    if cafile:
        ctx = ssl.create_default_context(cafile=cafile)
        ctx.check_hostname = True
    else:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


MSG = (b"From: sender@remote.example\r\nTo: user@localhost\r\nSubject: @S@\r\n"
       b"Message-ID: <fixed@remote.example>\r\n\r\nline one\r\n.line with a dot\r\n"
       b"\r\n8bit: caf\xc3\xa9\r\n" + b"x" * 998 + b"\r\nlast line\r\n")


def msg(subject):
    return MSG.replace(b"@S@", subject.encode())


def body_of(stored):
    """The stored message without the lines mailnook adds."""
    lines = stored.split(b"\n")
    i = 0
    while i < len(lines) and (lines[i].startswith(b"Return-Path:") or lines[i].startswith(b"Received:")
                              or (i > 0 and lines[i][:1] in (b" ", b"\t"))):
        i += 1
    return b"\n".join(lines[i:])


def received(stored):
    m = re.search(rb"Received: .*? with (\S+) id", stored, re.S)
    return m.group(1).decode() if m else None


def s_client(args, data, timeout=30):
    r = run(["openssl", "s_client"] + args + ["-crlf", "-quiet", "-verify_quiet"],
            timeout=timeout, input=data)
    return r.returncode, r.stdout.decode(errors="replace")


for label, binary in binaries():
    for kind in ("ec", "rsa"):
        L = "%s%s: " % (label, kind.upper())
        tls_port = free_port()
        srv = Server(binary, ["domain=localhost", "mailbox=user@localhost,@DIR@/user",
                              "listen-tls=127.0.0.1:%d" % tls_port,
                              "tls-cert=@DIR@/%s.crt" % kind, "tls-key=@DIR@/%s.key" % kind,
                              "timeout=3", "stats-file=@DIR@/stats.prom"])
        crt, key = make_cert(srv.dir, kind)
        srv.start()
        md = srv.maildir("user")
        ctx = client_ctx()
        suite_kind = "ECDSA" if kind == "ec" else "RSA"

        # ---- STARTTLS with smtplib, verifying against the test's own cert --
        with smtplib.SMTP("127.0.0.1", srv.port, timeout=20) as c:
            code, ehlo = c.ehlo("plain.test")
            t.ok(b"STARTTLS" in ehlo, L + "EHLO offers STARTTLS on listen=")
            code, _ = c.starttls(context=client_ctx(crt))
            t.eq(code, 220, L + "smtplib starttls() (certificate verified against the test's own)")
            code, ehlo = c.ehlo("tls.test")
            t.ok(code == 250 and b"STARTTLS" not in ehlo, L + "STARTTLS not offered after TLS")
            t.eq(c.docmd("STARTTLS")[0], 503, L + "a second STARTTLS: 503")
            t.ok(c.docmd("NOOP")[0] == 250, L + "the session goes on after it")
            c.sendmail("sender@remote.example", ["user@localhost"], msg("starttls"))
        t.ok(log_has(srv, r"result=quit duration=\d+s tls=TLSv1\.2 cipher=ECDHE-%s-" % suite_kind),
             L + "the session log line names TLSv1.2 and the ECDHE-%s suite" % suite_kind, srv.log()[-1500:])

        # ---- the same message in plaintext, then implicit TLS -----------------
        with smtplib.SMTP("127.0.0.1", srv.port, timeout=20) as c:
            c.sendmail("sender@remote.example", ["user@localhost"], msg("plain"))
        with smtplib.SMTP_SSL("127.0.0.1", tls_port, timeout=20, context=ctx) as c:
            code, ehlo = c.ehlo("implicit.test")
            t.ok(code == 250 and b"STARTTLS" not in ehlo, L + "SMTP_SSL on listen-tls=: EHLO, no STARTTLS")
            t.eq(c.docmd("STARTTLS")[0], 503, L + "STARTTLS inside implicit TLS: 503")
            c.sendmail("sender@remote.example", ["user@localhost"], msg("implicit"))
        got = {}
        for f in read_new(md):
            m = re.search(rb"\nSubject: (\w+)\n", f)
            if m:
                got[m.group(1).decode()] = f
        t.eq(sorted(got), ["implicit", "plain", "starttls"], L + "three messages stored")
        if len(got) == 3:
            t.eq(received(got["plain"]), "ESMTP", L + "plaintext: Received says ESMTP")
            t.eq(received(got["starttls"]), "ESMTPS", L + "STARTTLS: Received says ESMTPS")
            t.eq(received(got["implicit"]), "ESMTPS", L + "implicit TLS: Received says ESMTPS")
            plain = body_of(got["plain"]).replace(b"Subject: plain", b"Subject: X")
            t.eq(body_of(got["starttls"]).replace(b"Subject: starttls", b"Subject: X"), plain,
                 L + "STARTTLS message byte-identical to plaintext, trace header aside")
            t.eq(body_of(got["implicit"]).replace(b"Subject: implicit", b"Subject: X"), plain,
                 L + "implicit-TLS message byte-identical to plaintext, trace header aside")

        # ---- swaks ------------------------------------------------------------
        if shutil.which("swaks") and run(["perl", "-MIO::Socket::SSL", "-e1"]).returncode == 0:
            for opt, port in (("--tls", srv.port), ("--tlsc", tls_port)):
                before = len(maildir_files(md))
                r = run(["swaks", "--server", "127.0.0.1:%d" % port, opt, "--to", "user@localhost",
                         "--from", "swaks@remote.example", "--helo", "swaks.test",
                         "--header", "Subject: swaks %s" % opt, "--body", "over TLS"])
                out = r.stdout.decode(errors="replace")
                t.ok(r.returncode == 0 and len(maildir_files(md)) == before + 1,
                     L + "swaks %s delivers" % opt, out[-2000:])
                t.ok(re.search(r"TLS connection established|TLSv1\.2", out) is not None,
                     L + "swaks %s reports TLS" % opt, out[-1500:])
        else:
            t.skip(L + "swaks --tls/--tlsc", "swaks or IO::Socket::SSL not installed")

        # ---- curl -------------------------------------------------------------
        if shutil.which("curl"):
            with tempfile.NamedTemporaryFile("wb", delete=False) as f:
                f.write(b"From: curl@remote.example\r\nSubject: curl\r\n\r\ncurl over TLS\r\n")
                path = f.name
            for url in ("smtp://127.0.0.1:%d/curl.test" % srv.port, "smtps://127.0.0.1:%d/curl.test" % tls_port):
                before = len(maildir_files(md))
                argv = ["curl", "-sS", "-k", "--max-time", "30", url, "--mail-from", "curl@remote.example",
                        "--mail-rcpt", "user@localhost", "--upload-file", path]
                if url.startswith("smtp:"):
                    argv.insert(1, "--ssl-reqd")
                r = run(argv)
                t.ok(r.returncode == 0 and len(maildir_files(md)) == before + 1,
                     L + "curl %s delivers" % url.split(":")[0] + (" --ssl-reqd" if url.startswith("smtp:") else ""),
                     r.stdout.decode(errors="replace"))
            os.unlink(path)
        else:
            t.skip(L + "curl", "curl not installed")

        # ---- openssl s_client --------------------------------------------------
        rc, out = s_client(["-connect", "127.0.0.1:%d" % srv.port, "-starttls", "smtp"], b"EHLO ossl.test\nQUIT\n")
        t.ok("250 HELP" in out and "221 2.0.0" in out, L + "openssl s_client -starttls smtp", out[-1500:])
        rc, out = s_client(["-connect", "127.0.0.1:%d" % tls_port], b"EHLO ossl.test\nQUIT\n")
        t.ok("220 mx.test" in out and "221 2.0.0" in out, L + "openssl s_client -connect (implicit TLS)", out[-1500:])
        for args, alert, name in (
                (["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"], 70, "a TLS 1.1 client"),
                (["-tls1_2", "-cipher", "AES128-SHA"], 40, "a CBC-only client (-cipher AES128-SHA)"),
                (["-tls1_2", "-cipher", "AES128-GCM-SHA256"], 40,
                 "an RSA-key-exchange-only client (-cipher AES128-GCM-SHA256)")):
            seen = srv.log().count("result=tls-error reason=alert-sent-%d " % alert)
            rc, out = s_client(["-connect", "127.0.0.1:%d" % tls_port] + args, b"QUIT\n")
            t.ok(rc != 0 and "220 mx.test" not in out, L + "%s is refused" % name, out[-800:])
            t.ok(log_has(srv, r"(?s)(result=tls-error reason=alert-sent-%d .*){%d}" % (alert, seen + 1)),
                 L + "  the server refused it (alert %d)" % alert, srv.log()[-1500:])

        # ---- the STARTTLS injection --------------------------------------------
        c = Raw(srv.port)
        c.reply()
        c.cmd("EHLO inject.test")
        c.send("STARTTLS\r\nRSET\r\n")
        t.like(c.reply(), r"^220 2\.0\.0", L + "injection: STARTTLS answered 220")
        c.sock.settimeout(0.5)
        try:
            extra = c.buf + c.sock.recv(4096)
        except socket.timeout:
            extra = c.buf
        t.eq(extra, b"", L + "injection: no plaintext reply for the pipelined RSET before the handshake")
        c.sock.settimeout(20)
        tls = ctx.wrap_socket(c.sock, server_hostname="mx.test")
        tls.sendall(b"EHLO inject.test\r\n")
        data = b""
        while b"250 HELP\r\n" not in data:
            chunk = tls.recv(4096)
            if not chunk:
                break
            data += chunk
        t.ok(data.startswith(b"250-mx.test\r\n") and b"250 2.0.0" not in data,
             L + "injection: after the handshake the first reply is EHLO's, the RSET never ran", data)
        tls.sendall(b"QUIT\r\n")
        t.ok(tls.recv(4096).startswith(b"221"), L + "injection: QUIT inside TLS")
        tls.close()

        # ---- garbage and stalls cost only their own session ----------------------
        good = smtplib.SMTP_SSL("127.0.0.1", tls_port, timeout=20, context=ctx)
        good.ehlo("good.test")
        junk = socket.create_connection(("127.0.0.1", tls_port), timeout=10)
        junk.sendall(b"GET / HTTP/1.0\r\nHost: mx.test\r\n\r\n")
        junk.settimeout(10)
        try:
            rest = junk.recv(4096)
            closed = rest == b"" or not rest.startswith(b"220")
        except (ConnectionResetError, socket.timeout):
            closed = True
        t.ok(closed, L + "garbage instead of a ClientHello: that connection ends, no greeting")
        junk.close()
        stall = socket.create_connection(("127.0.0.1", tls_port), timeout=10)
        stall.sendall(b"\x16\x03\x01\x00")       # half a record header, then nothing
        t0 = time.time()
        t.eq(good.docmd("NOOP")[0], 250, L + "another TLS session is served meanwhile")
        good.sendmail("sender@remote.example", ["user@localhost"], b"Subject: meanwhile\r\n\r\nyes\r\n")
        good.quit()
        stall.settimeout(15)
        try:
            rest = stall.recv(4096)
        except (ConnectionResetError, socket.timeout):
            rest = b""
        waited = time.time() - t0
        t.ok(rest == b"" and 2 <= waited <= 10,
             L + "a handshake stalled mid-record ends at the timeout (%.1f s)" % waited)
        stall.close()
        t.ok(log_has(srv, r"result=tls-error reason=unsupported-version"),
             L + "the garbage session is logged as tls-error", srv.log()[-1500:])
        t.ok(log_has(srv, r"result=tls-timeout"), L + "the stalled one as tls-timeout", srv.log()[-1500:])

        # a STARTTLS client that never sends a ClientHello: the timeout too
        c = Raw(srv.port)
        c.reply()
        t.like(c.cmd("STARTTLS"), r"^220", L + "STARTTLS, then silence")
        t0 = time.time()
        t.ok(c.closed(timeout=15), L + "  closed by the timeout (%.1f s)" % (time.time() - t0))
        c.close()

        # ---- SIGHUP re-reads the TLS files -------------------------------------
        if kind == "ec":
            d2 = tempfile.mkdtemp(prefix="mailnook-tls-rsa-")
            rcrt, rkey = make_cert(d2, "rsa")
            shutil.copyfile(rcrt, crt)
            shutil.copyfile(rkey, key)
            n = srv.log().count("reload: configuration reloaded")
            srv.signal(signal.SIGHUP)
            t.ok(log_has(srv, r"(?s)(reload: configuration reloaded.*){%d}" % (n + 1)),
                 L + "SIGHUP reloads", srv.log()[-1000:])
            with smtplib.SMTP_SSL("127.0.0.1", tls_port, timeout=20, context=ctx) as c:
                c.ehlo("reload.test")
            t.ok(log_has(srv, r"cipher=ECDHE-RSA-\S+ helo=reload\.test\n"),
                 L + "after the reload the new (RSA) key serves", srv.log()[-1000:])
            with open(key, "w") as f:
                f.write("broken\n")
            srv.signal(signal.SIGHUP)
            t.ok(log_has(srv, r"tls-key: .*no private key found") and
                 log_has(srv, r"keeping the old one"),
                 L + "a broken key on reload is reported and the old one kept", srv.log()[-1000:])
            with smtplib.SMTP_SSL("127.0.0.1", tls_port, timeout=20, context=ctx) as c:
                t.eq(c.ehlo("kept.test")[0], 250, L + "  TLS still works with the old key")
            shutil.rmtree(d2, ignore_errors=True)

        # ---- stats: handshakes counted by result -------------------------------
        stats = os.path.join(srv.dir, "stats.prom")
        before = os.stat(stats).st_mtime_ns if os.path.exists(stats) else 0
        srv.signal(signal.SIGUSR1)
        deadline = time.time() + 5
        while time.time() < deadline and (not os.path.exists(stats) or os.stat(stats).st_mtime_ns == before):
            time.sleep(0.05)
        text = open(stats).read() if os.path.exists(stats) else ""
        m_ok = re.search(r'(?m)^mailnook_tls_handshakes_total\{result="ok"\} (\d+)$', text)
        m_bad = re.search(r'(?m)^mailnook_tls_handshakes_total\{result="failed"\} (\d+)$', text)
        t.ok(m_ok and int(m_ok.group(1)) >= 3, L + "stats count the finished handshakes", text[-1500:])
        t.ok(m_bad and int(m_bad.group(1)) >= 1, L + "stats count the failed handshakes", text[-1500:])

        # ---- SIGTERM: TLS sessions get their 421 through TLS -------------------
        idle = smtplib.SMTP_SSL("127.0.0.1", tls_port, timeout=20, context=ctx)
        idle.ehlo("idle.test")
        stall = socket.create_connection(("127.0.0.1", tls_port), timeout=10)
        time.sleep(0.2)
        t.eq(maildir_files(md, "tmp"), [], L + "tmp/ empty")
        t0 = time.time()
        srv.signal(signal.SIGTERM)
        try:
            r421 = idle.getreply()
        except (smtplib.SMTPException, OSError) as e:
            r421 = (0, repr(e))
        t.eq(r421[0], 421, L + "SIGTERM: an idle TLS session gets 421 through TLS")
        idle.close()
        stall.close()
        t.eq(srv.stop(), 0, L + "exit 0")
        t.ok(time.time() - t0 < 5, L + "  promptly, a handshake in progress does not hold it up (%.1f s)"
             % (time.time() - t0))
        srv.check_sanitizer(t, L)
        srv.cleanup()

    # ---- -t: broken and mismatched pairs, at their lines --------------------------
    d = tempfile.mkdtemp(prefix="mailnook-tls-t-")
    ec_crt, ec_key = make_cert(d, "ec")
    rsa_crt, rsa_key = make_cert(d, "rsa")
    enc = os.path.join(d, "enc.key")
    run(["openssl", "pkcs8", "-topk8", "-in", ec_key, "-passout", "pass:x", "-out", enc])
    garbage = os.path.join(d, "garbage.crt")
    with open(garbage, "w") as f:
        f.write("not a certificate\n")

    def conf(cert, key):
        path = os.path.join(d, "m.conf")
        with open(path, "w") as f:
            f.write("listen=127.0.0.1:%d\n"        # 1
                    "domain=localhost\n"            # 2
                    "mailbox=user@localhost,%s/M\n"  # 3
                    "tls-cert=%s\n"                 # 4
                    "# the key\n"                   # 5
                    "tls-key=%s\n" % (free_port(), d, cert, key))  # 6
        return path

    prefix = list(binary) if isinstance(binary, (list, tuple)) else [binary]
    r = subprocess.run(prefix + ["-t", "-c", conf(ec_crt, ec_key)], stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    t.eq((r.returncode, r.stdout.strip()), (0, b"mailnook: configuration OK"), label + "-t: a good pair is OK")
    cases = [
        (ec_crt, rsa_key, 6, r"tls-key: .*key does not match certificate", "EC certificate, RSA key"),
        (rsa_crt, ec_key, 6, r"tls-key: .*key does not match certificate", "RSA certificate, EC key"),
        (ec_crt, enc, 6, r"tls-key: .*encrypted keys are not supported", "encrypted key"),
        (garbage, ec_key, 4, r"tls-cert: .*no certificate found", "not a certificate"),
        (os.path.join(d, "missing.crt"), ec_key, 4, r"tls-cert: .*No such file", "missing certificate"),
    ]
    for cert, key, line, text, name in cases:
        cf = conf(cert, key)
        r = subprocess.run(prefix + ["-t", "-c", cf], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        err = r.stderr.decode(errors="replace")
        t.ok(r.returncode == 1 and re.search(r"(?m)^%s:%d: %s" % (re.escape(cf), line, text), err),
             label + "-t: %s reported at %s:%d" % (name, "m.conf", line), err)
        t.ok(b"configuration OK" not in r.stdout, label + "  and no OK")
    # starting with a bad pair fails before listening
    cf = conf(ec_crt, rsa_key)
    r = subprocess.run(prefix + ["-f", "-c", cf], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30)
    t.ok(r.returncode == 1 and b"key does not match certificate" in r.stderr,
         label + "start-up with a mismatched pair exits 1 with the message", r.stderr)
    shutil.rmtree(d, ignore_errors=True)

t.done()

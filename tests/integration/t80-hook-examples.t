#!/usr/bin/env python3
"""The example on-delivery hooks in examples/hooks/, run as mailnook runs
them (the MAILNOOK_* environment of contract section 8 and nothing else but
PATH) against a sample message stored as mailnook stores it (LF line ends,
Return-Path and Received first):

- notify posts the (unfolded) subject to an ntfy-style endpoint, a local
  HTTP server on 127.0.0.1 here, with curl; publishes it with mosquitto_pub
  for an mqtt:// URL (a stand-in mosquitto_pub records its arguments);
  a refused POST is exit status 2;
- file-images saves every image/* part, and nothing else, under
  DEST/YYYY/MM/DD from the Date header, with safe names, never overwriting.
"""
import base64
import http.server
import os
import subprocess
import sys
import tempfile
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mntest import Tap, TOP  # noqa: E402

t = Tap()
TMP = tempfile.mkdtemp(prefix="mailnook-hookex-")
HOOKS = os.path.join(TOP, "examples", "hooks")
PATH = "/usr/sbin:/usr/bin:/sbin:/bin"

JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4 + b"\xff\xd9"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x01\x02" * 100


def b64(data):
    s = base64.b64encode(data).decode()
    return "\n".join(s[i:i + 76] for i in range(0, len(s), 76))


MESSAGE = """Return-Path: <cam@example.org>
Received: from cam ([192.0.2.7]) by mx (mailnook) with ESMTP id 0123456789abcdef; Thu, 03 Dec 2026 10:00:00 +0000
From: Front camera <cam@example.org>
To: alice@example.org
Subject: Motion detected
 at the front door
Date: Wed, 02 Dec 2026 23:59:58 +0000
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b1"

--b1
Content-Type: text/plain; charset=us-ascii

Motion at 23:59:58.
--b1
Content-Type: image/jpeg; name="snap.jpg"
Content-Disposition: attachment; filename="../../etc/snap.jpg"
Content-Transfer-Encoding: base64

%s
--b1
Content-Type: image/png
Content-Disposition: inline
Content-Transfer-Encoding: base64

%s
--b1
Content-Type: application/pdf; name="report.pdf"
Content-Disposition: attachment; filename="report.pdf"
Content-Transfer-Encoding: base64

%s
--b1--
""" % (b64(JPEG), b64(PNG), b64(b"%PDF-1.4 not an image"))

maildir = os.path.join(TMP, "Maildir")
for sub in ("tmp", "new", "cur"):
    os.makedirs(os.path.join(maildir, sub))
msgfile = os.path.join(maildir, "new", "1764756000.M1P2Q3R0123456789abcdef.mx,S=%d,W=%d"
                       % (len(MESSAGE), len(MESSAGE) + MESSAGE.count("\n")))
with open(msgfile, "w") as f:
    f.write(MESSAGE)


def hook_env(extra_path=None):
    return {
        "PATH": (extra_path + ":" + PATH) if extra_path else PATH,
        "MAILNOOK_FILE": msgfile,
        "MAILNOOK_MAILDIR": maildir,
        "MAILNOOK_MAILBOX": "alice@example.org",
        "MAILNOOK_RECIPIENT": "alice+cam@example.org",
        "MAILNOOK_SENDER": "cam@example.org",
        "MAILNOOK_SIZE": str(len(MESSAGE)),
        "MAILNOOK_ID": "0123456789abcdef",
        "MAILNOOK_CLIENT_IP": "192.0.2.7",
        "MAILNOOK_HELO": "cam",
        "MAILNOOK_AUTH": "",
    }


def run_hook(argv, env):
    r = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    return r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")


# ---- notify: HTTP POST to a local ntfy stand-in ------------------------------

posts = []


class Ntfy(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        posts.append((self.path, dict(self.headers), body))
        code = 404 if self.path.startswith("/missing") else 200
        self.send_response(code)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


srv = http.server.HTTPServer(("127.0.0.1", 0), Ntfy)
port = srv.server_address[1]
th = threading.Thread(target=srv.serve_forever, daemon=True)
th.start()
notify = os.path.join(HOOKS, "notify")
try:
    if not os.path.exists("/usr/bin/curl"):
        t.skip("notify over HTTP", "curl not installed")
    else:
        rc, out, err = run_hook([notify, "http://127.0.0.1:%d/camera" % port], hook_env())
        t.eq(rc, 0, "notify: exit 0 after the POST (%s)" % err.strip())
        t.eq(len(posts), 1, "notify: one POST")
        if posts:
            path, headers, body = posts[0]
            t.eq(path, "/camera", "notify: to the topic's path")
            t.eq(body, b"Motion detected at the front door",
                 "notify: the body is the subject, unfolded")
            t.eq(headers.get("Title"),
                 "Mail from cam@example.org to alice+cam@example.org",
                 "notify: ntfy Title names sender and recipient")
        rc, out, err = run_hook([notify, "http://127.0.0.1:%d/missing" % port], hook_env())
        t.eq(rc, 2, "notify: a refused POST is exit status 2")
finally:
    srv.shutdown()
    srv.server_close()

# ---- notify: MQTT through mosquitto_pub -------------------------------------

fake = os.path.join(TMP, "fakebin")
os.makedirs(fake)
record = os.path.join(TMP, "mqtt-args")
with open(os.path.join(fake, "mosquitto_pub"), "w") as f:
    f.write("#!/bin/sh\nfor a in \"$@\"; do printf '%%s\\n' \"$a\"; done > %s\n" % record)
os.chmod(os.path.join(fake, "mosquitto_pub"), 0o755)
rc, out, err = run_hook([notify, "mqtt://broker.lan:1884/cameras/front"], hook_env(fake))
t.eq(rc, 0, "notify mqtt: exit 0 (%s)" % err.strip())
try:
    with open(record) as f:
        args = f.read().splitlines()
except OSError:
    args = None
t.eq(args, ["-h", "broker.lan", "-p", "1884", "-t", "cameras/front", "-m",
            "Mail from cam@example.org to alice+cam@example.org: "
            "Motion detected at the front door"],
     "notify mqtt: mosquitto_pub gets host, port, topic and the subject")
rc, out, err = run_hook([notify], hook_env())
t.eq(rc, 1, "notify: no URL is exit status 1")

# ---- file-images ------------------------------------------------------------

dest = os.path.join(TMP, "photos")
fi = os.path.join(HOOKS, "file-images")
rc, out, err = run_hook([fi, dest], hook_env())
t.eq(rc, 0, "file-images: exit 0 (%s)" % err.strip())
day = os.path.join(dest, "2026", "12", "02")
got = sorted(os.listdir(day)) if os.path.isdir(day) else None
t.eq(got, ["image-2.png", "snap.jpg"],
     "file-images: the two image parts, by the Date header's day, safe names, "
     "no PDF")
if got:
    with open(os.path.join(day, "snap.jpg"), "rb") as f:
        t.eq(f.read(), JPEG, "file-images: the JPEG decoded intact")
    with open(os.path.join(day, "image-2.png"), "rb") as f:
        t.eq(f.read(), PNG, "file-images: the unnamed inline PNG intact")
t.eq(sorted(out.splitlines()),
     sorted("saved %s (%d bytes)" % (os.path.join(day, n), len(d))
            for n, d in (("snap.jpg", JPEG), ("image-2.png", PNG))),
     "file-images: prints each file saved (mailnook logs it)")
t.ok(not os.path.exists(os.path.join(TMP, "etc")),
     "file-images: a ../ in the file name stays inside DEST")
rc, out, err = run_hook([fi, dest], hook_env())
got = sorted(os.listdir(day)) if os.path.isdir(day) else None
t.eq((rc, got), (0, ["image-2-1.png", "image-2.png", "snap-1.jpg", "snap.jpg"]),
     "file-images: a second delivery never overwrites")
rc, out, err = run_hook([fi], hook_env())
t.eq(rc, 1, "file-images: no DEST is exit status 1")

subprocess.run(["rm", "-rf", TMP])
t.done()

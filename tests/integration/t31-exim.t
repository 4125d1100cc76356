#!/usr/bin/env python3
"""A real Exim relays to mailnook (issue 10 item 4).  Exim 4.96 sends the
end of the message and QUIT in one write and then shuts down its sending
side; when that cost the 250, Exim logged "Remote host closed connection in
response to pipelined end of data", kept the message and delivered it again
later: every message twice.  A private Exim (its own configuration, spool
and logs in a temporary directory; never the system service, and no
daemon) hands N messages over BDAT and N over DATA to mailnook on its test
port, each on its own connection (-odi), and N over STARTTLS (Exim sends a
close_notify before its FIN), then runs its queue once as a retry would.
mailnook must hold exactly one file per message, and Exim's log must show
each message delivered once, nothing deferred, no "Remote host closed"."""
import grp
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mntest import Tap, Server, binaries, maildir_files  # noqa: E402
from mnops import features, make_cert, wait_log  # noqa: E402

t = Tap()
N = 5
EXIM = shutil.which("exim4") or shutil.which("exim")

if not EXIM:
    t.skip("Exim relaying to mailnook", "no exim4 command (Debian: exim4-daemon-light)")
    t.done()
if os.geteuid() != 0:
    t.skip("Exim relaying to mailnook", "a private Exim instance needs root here")
    t.done()

# Deliveries run as the Exim user of the build (Debian: Debian-exim); the
# spool and log directories must be theirs.
try:
    exim_pw = pwd.getpwnam("Debian-exim")
except KeyError:
    try:
        exim_pw = pwd.getpwnam("exim")
    except KeyError:
        exim_pw = None
if exim_pw is None:
    t.skip("Exim relaying to mailnook", "no Debian-exim or exim user")
    t.done()

CONF = """\
primary_hostname = exim.test
qualify_domain = exim.test
spool_directory = @DIR@/spool
log_file_path = @DIR@/log/%slog
pid_file_path = @DIR@/exim.pid
exim_user = @USER@
exim_group = @GROUP@
keep_environment =
log_selector = +pipelining +smtp_connection +smtp_protocol_error

begin routers
# viadata@ goes over DATA, viatls@ over STARTTLS (BDAT), everything else
# over BDAT in plain text (mailnook offers CHUNKING, which Exim then uses)
tls:
  driver = manualroute
  local_parts = viatls
  route_list = * 127.0.0.1
  self = send
  transport = to_mailnook_tls
  no_more
data:
  driver = manualroute
  local_parts = viadata
  route_list = * 127.0.0.1
  self = send
  transport = to_mailnook_data
  no_more
bdat:
  driver = manualroute
  route_list = * 127.0.0.1
  self = send
  transport = to_mailnook
  no_more

begin transports
to_mailnook:
  driver = smtp
  port = @PORT@
  allow_localhost
  hosts_avoid_tls = *
to_mailnook_data:
  driver = smtp
  port = @PORT@
  allow_localhost
  hosts_avoid_tls = *
  hosts_try_chunking =
to_mailnook_tls:
  driver = smtp
  port = @PORT@
  allow_localhost
  hosts_require_tls = *
  tls_verify_certificates = @DIR@/ec.crt
  tls_verify_cert_hostnames =
  tls_verify_hosts = *

begin retry
* * F,1h,1m
"""


def exim(d, args, data=None, timeout=60):
    return subprocess.run([EXIM, "-C", os.path.join(d, "exim.conf")] + args,
                          input=data, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          stdin=None if data is not None else subprocess.DEVNULL,
                          timeout=timeout)


def exim_dir(port, crt):
    d = tempfile.mkdtemp(prefix="mailnook-exim-")
    os.chmod(d, 0o755)
    if crt:
        shutil.copy(crt, os.path.join(d, "ec.crt"))
        os.chmod(os.path.join(d, "ec.crt"), 0o644)
    for sub in ("spool", "log"):
        os.mkdir(os.path.join(d, sub))
        os.chown(os.path.join(d, sub), exim_pw.pw_uid, exim_pw.pw_gid)
    conf = (CONF.replace("@DIR@", d).replace("@PORT@", str(port))
            .replace("@USER@", exim_pw.pw_name)
            .replace("@GROUP@", grp.getgrgid(exim_pw.pw_gid).gr_name))
    with open(os.path.join(d, "exim.conf"), "w") as f:
        f.write(conf)
    return d


def queued(d):
    r = exim(d, ["-bp"])
    return re.findall(r"^\s*\S+\s+\S+\s+(\S+-\S+-\S+)\s", r.stdout.decode(errors="replace"), re.M)


def mainlog(d):
    try:
        with open(os.path.join(d, "log", "mainlog"), errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def purge(d):
    """Every message left in this Exim's queue is removed, then the
    directory; no Exim process outlives its command (-odi, no daemon)."""
    ids = queued(d)
    if ids:
        exim(d, ["-Mrm"] + ids)
    shutil.rmtree(d, ignore_errors=True)


for label, binary in binaries():
    L = label
    tls = shutil.which("openssl") is not None and "tls" in features(binary)
    lines = ["domain=localhost", "mailbox=user@localhost,@DIR@/user",
             "mailbox=viadata@localhost,@DIR@/viadata",
             "mailbox=viatls@localhost,@DIR@/viatls", "timeout=10"]
    if tls:
        lines += ["tls-cert=@DIR@/ec.crt", "tls-key=@DIR@/ec.key"]
    srv = Server(binary, lines)
    crt = make_cert(srv.dir)[0] if tls else None
    srv.start()
    d = exim_dir(srv.port, crt)
    boxes = [("user", "BDAT"), ("viadata", "DATA")]
    if tls:
        boxes.append(("viatls", "STARTTLS"))
    else:
        t.skip(L + "Exim over STARTTLS", "no openssl command or no TLS in this build")
    try:
        sent = 0
        for i in range(N):
            for rcpt in [b + "@localhost" for b, _ in boxes]:
                msg = ("From: sender@exim.test\nTo: %s\nSubject: exim %d\n\nmessage %d for %s\n"
                       % (rcpt, i, i, rcpt)).encode()
                r = exim(d, ["-odi", "-f", "sender@exim.test", rcpt], data=msg)
                sent += 1
                if r.returncode != 0:
                    t.diag("exim exited %d: %s" % (r.returncode, r.stdout.decode(errors="replace")))
        # what a retry would do: run the queue once, deferred ones included
        exim(d, ["-qff"])
        log = mainlog(d)
        t.ok(wait_log(srv, "result=delivered", sent),
             L + "mailnook logged %d deliveries" % sent, srv.log()[-2000:])
        for box, how in boxes:
            n = len(maildir_files(srv.maildir(box)))
            t.eq(n, N, L + "Exim over %s: %d messages stored once each (no duplicates)" % (how, N))
        t.eq(srv.log().count("result=delivered"), sent,
             L + "mailnook logged no delivery twice")
        received = re.findall(r"^\S+ \S+ (\S+) <= ", log, re.M)
        delivered = re.findall(r"^\S+ \S+ (\S+) => ", log, re.M)
        t.eq(len(received), sent, L + "Exim took %d messages" % sent)
        t.ok(sorted(delivered) == sorted(received),
             L + "Exim delivered each exactly once", log[-3000:])
        t.ok(" == " not in log and "defer" not in log,
             L + "Exim deferred nothing", log[-3000:])
        t.ok("Remote host closed connection" not in log,
             L + "no 'Remote host closed connection in response to pipelined end of data'",
             log[-3000:])
        t.ok(re.search(r'C="250 2\.0\.0 ', log) is not None,
             L + "Exim saw mailnook's 250 2.0.0", log[-1500:])
        t.eq(queued(d), [], L + "Exim's queue is empty")
        if tls:
            t.eq(len(re.findall(r" => viatls@localhost .* X=TLS", log)), N,
                 L + "the STARTTLS ones went over TLS")
        t.ok(srv.log().count("result=quit") >= sent,
             L + "every Exim session ended with QUIT answered", srv.log()[-2000:])
    finally:
        purge(d)
    srv.stop()
    srv.check_sanitizer(t, L)
    srv.cleanup()

t.done()

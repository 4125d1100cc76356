#!/usr/bin/env python3
"""Figures for `make size` (scripts/size.sh): what a link map says the
bytes are, and what a running mailnook holds in memory.  Prints; passes or
fails nothing.

    size_report.py map MAPFILE [N]     bytes by origin, the N largest objects, and
                                       the N largest C library members with what
                                       they pull in, by the object that asked
    size_report.py mem BINARY [tls]    VmHWM/VmRSS/VmSize at start-up, under
                                       max-sessions clients each sending 1 MB
                                       (twice), and over TLS when asked;
                                       one "key value..." line per figure
"""
import collections
import os
import re
import smtplib
import ssl
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))


# --- link map -------------------------------------------------------------

def map_sizes(path):
    """(group, object) -> bytes of the sections the link kept (no .bss)."""
    lines = open(path, encoding="utf-8", errors="replace").read().split("\n")
    try:
        lines = lines[lines.index("Linker script and memory map"):]
    except ValueError:
        pass
    out = collections.Counter()
    pending = None
    for line in lines:
        m = re.match(r"^ (\.\S+)\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S+)", line)
        if m:
            name, size, obj = m.group(1), int(m.group(3), 16), m.group(4)
        else:
            m1 = re.match(r"^ (\.\S+)$", line)
            if m1:
                pending = m1.group(1)
                continue
            m2 = re.match(r"^\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S+)", line)
            if not (m2 and pending):
                pending = None
                continue
            name, size, obj = pending, int(m2.group(2), 16), m2.group(3)
            pending = None
        kind = name.split(".")[1] if name.count(".") else name
        if size == 0 or kind.startswith(("bss", "tbss", "comment", "debug", "note")):
            continue
        if "libbearssl" in obj:
            group, short = "BearSSL", obj.split("(")[-1].rstrip(")")
        elif "libc.a" in obj or "musl" in obj:
            group, short = "musl libc", obj.split("(")[-1].rstrip(")")
        elif ".ltrans" in obj:          # link-time optimised: no file
            group, short = "mailnook, LTO", os.path.basename(obj)
        elif re.search(r"/(core|store|platform)/[^/]+\.o$", obj):
            parts = obj.split("/")
            group, short = "mailnook " + parts[-2] + "/", parts[-2] + "/" + parts[-1]
        else:
            group, short = "gcc, crt", os.path.basename(obj.split("(")[-1].rstrip(")"))
        out[(group, short)] += size
    return out


def pulled_in(path, sizes):
    """The C library's members by who pulled them in: [(bytes, member,
    object, symbol)] for each member that a mailnook (or crt) object asked
    for, bytes counting the members it pulled in turn (each member counted
    once, under the first that asked for it), largest first."""
    lines = open(path, encoding="utf-8", errors="replace").read().split("\n")
    try:
        i = lines.index("Archive member included to satisfy reference by file (symbol)") + 1
    except ValueError:
        return []
    member = lambda s: s.split("(")[-1].rstrip(")") if s.endswith(")") else s  # noqa: E731
    by, kids = {}, collections.defaultdict(list)
    while i + 1 < len(lines):
        m = re.match(r"^(\S+)$", lines[i])
        r = re.match(r"^\s+(\S+) \((\S+)\)$", lines[i + 1])
        if not lines[i].strip():
            if by:
                break
            i += 1
            continue
        if not (m and r):
            break
        k = member(m.group(1))
        by[k] = (r.group(1), r.group(2))
        kids[member(r.group(1))].append(k)
        i += 2
    own = collections.Counter()
    for (g, o), v in sizes.items():
        if g == "musl libc":
            own[o] += v

    def total(k):
        return own[k] + sum(total(c) for c in kids[k])
    out = []
    for k, (obj, sym) in by.items():
        if ".a(" in obj:
            continue
        parts = obj.split("/")
        out.append((total(k), k, "/".join(parts[-2:]), sym))
    return sorted(out, reverse=True)


def cmd_map(path, n=20):
    sizes = map_sizes(path)
    groups = collections.Counter()
    for (g, _), v in sizes.items():
        groups[g] += v
    total = sum(groups.values())
    print("  %-22s %8s %6s" % ("origin", "bytes", "share"))
    for g, v in groups.most_common():
        print("  %-22s %8d %5.1f%%" % (g, v, 100.0 * v / total))
    print("  %-22s %8d" % ("total", total))
    # scripts/static.sh links an LTO build twice: this map is the one
    # without LTO (per file); the shipped binary's own is beside it, and
    # its ltrans objects name no file, so only its total is worth telling
    lto = os.path.join(os.path.dirname(path), "mailnook.lto.map")
    if os.path.basename(path) == "mailnook.map" and os.path.exists(lto):
        shipped = sum(map_sizes(lto).values())
        print("  (per file before link-time optimisation; the shipped LTO build: %d, %+d)"
              % (shipped, shipped - total))
    print()
    print("  %-10s %-30s %8s" % ("largest", "object", "bytes"))
    for (g, o), v in sizes.most_common(n):
        print("  %-10s %-30s %8d" % (g.split()[0], o, v))
    pulls = pulled_in(path, sizes)
    if pulls:
        print()
        print("  %-30s %8s  %s" % ("musl libc, with what it pulls", "bytes", "first asked for by"))
        for v, k, obj, sym in pulls[:n]:
            print("  %-30s %8d  %s (%s)" % (k, v, obj, sym))


# --- memory ---------------------------------------------------------------

def status(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmHWM", "VmRSS", "VmSize"):
                out[k] = int(v.split()[0])
    return out


def make_cert(d):
    key, crt = os.path.join(d, "key.pem"), os.path.join(d, "cert.pem")
    subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-out", key], check=True, capture_output=True)
    subprocess.run(["openssl", "req", "-new", "-x509", "-key", key, "-subj", "/CN=mx.test",
                    "-days", "2", "-out", crt], check=True, capture_output=True)


def max_sessions(binary):
    out = subprocess.run([binary, "-V"], capture_output=True, text=True).stdout
    m = re.search(r"sessions=(\d+)", out)
    f = re.search(r"^features:(.*)$", out, re.M)
    return (int(m.group(1)) if m else 16), bool(f and "tls" in f.group(1).split())


def load(srv, port, sessions, body, tls_ctx=None, tls_port=None):
    """sessions clients, all connected (and through the handshake) before any
    sends, each sending one message of body; returns the errors."""
    errors = []
    barrier = threading.Barrier(sessions)

    def worker():
        try:
            if tls_ctx is not None:
                c = smtplib.SMTP_SSL("127.0.0.1", tls_port, timeout=300, context=tls_ctx)
            else:
                c = smtplib.SMTP("127.0.0.1", port, timeout=300)
            with c:
                c.ehlo("size.test")
                barrier.wait(120)
                c.sendmail("load@remote.example", ["user@localhost"], body)
        except Exception as e:  # noqa: BLE001 -- every failure is reported
            errors.append(repr(e))
            try:
                barrier.abort()
            except Exception:  # noqa: BLE001
                pass

    threads = [threading.Thread(target=worker) for _ in range(sessions)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(600)
    return errors


def cmd_mem(binary, want_tls):
    from mntest import Server, free_port, maildir_files  # noqa: E402
    sessions, has_tls = max_sessions(binary)
    tls = want_tls and has_tls
    lines = ["domain=localhost", "mailbox=user@localhost,@DIR@/user", "max-sessions=%d" % sessions,
             "max-sessions-per-ip=%d" % sessions, "max-message-size=2M"]
    tls_port = None
    if tls:
        tls_port = free_port()
        lines += ["listen-tls=127.0.0.1:%d" % tls_port, "tls-cert=@DIR@/cert.pem", "tls-key=@DIR@/key.pem"]
    srv = Server(binary, lines)
    if tls:
        make_cert(srv.dir)
    srv.start()
    time.sleep(0.3)
    pid = srv.proc.pid
    line = ("Subject: size\r\n\r\n" + ("y" * 78 + "\r\n") * 13000)
    body = line[:1024 * 1024 - 2] + "\r\n"

    def report(key, errs=None):
        s = status(pid)
        print("%s %d %d %d %s" % (key, s["VmHWM"], s["VmRSS"], s["VmSize"],
                                  ("errors=%d" % len(errs)) if errs else "ok"), flush=True)
        for e in (errs or [])[:3]:
            print("# " + e, flush=True)

    print("sessions %d" % sessions)
    report("startup")
    errs = load(srv, srv.port, sessions, body)
    time.sleep(0.3)
    report("plain", errs)
    errs = load(srv, srv.port, sessions, body)
    time.sleep(0.3)
    report("plain-again", errs)
    if tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        errs = load(srv, srv.port, sessions, body, ctx, tls_port)
        time.sleep(0.3)
        report("tls", errs)
        errs = load(srv, srv.port, sessions, body, ctx, tls_port)
        time.sleep(0.3)
        report("tls-again", errs)
    elif want_tls:
        print("tls-skip this build has no TLS")
    stored = len(maildir_files(srv.maildir("user")))
    print("stored %d" % stored)
    srv.stop()
    srv.cleanup()


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "map":
        cmd_map(sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 20)
    elif len(sys.argv) >= 3 and sys.argv[1] == "mem":
        cmd_mem(os.path.abspath(sys.argv[2]), len(sys.argv) > 3 and sys.argv[3] == "tls")
    else:
        sys.stderr.write(__doc__)
        sys.exit(2)


main()

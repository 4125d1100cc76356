#!/usr/bin/env python3
"""The cross matrix: for each architecture, `make CROSS_COMPILE=PREFIX` with
the repository's configuration, then the unit tests and a delivery (and,
in a TLS build, a delivery over STARTTLS) on loopback under qemu-user.

    armhf   arm-linux-gnueabihf-  qemu-arm      BearSSL by multiarch
    arm64   aarch64-linux-gnu-    qemu-aarch64  BearSSL by multiarch
    mipsel  mipsel-linux-gnu-     qemu-mipsel   BearSSL by multiarch
    mips    mips-linux-gnu-       qemu-mips     big-endian; BearSSL built from
                                                Debian's source (scripts/bearssl.sh)

MAILNOOK_CROSS_ARCHS picks the architectures (default: all four).  An
architecture whose toolchain, qemu or target BearSSL is missing is skipped
with the reason.  `make test` runs this with whatever scripts/deps.sh test
installed (armhf and mipsel at least); `make test-cross` installs all four
first (scripts/deps.sh cross)."""
import glob
import os
import shutil
import smtplib
import ssl
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mntest import Tap, Server, TOP, read_new  # noqa: E402
from mnops import make_cert  # noqa: E402

ARCHS = {
    # name: (prefix, qemu, ELF word in `file`, byte order in `file`, multiarch name or None)
    "armhf": ("arm-linux-gnueabihf-", "qemu-arm", "ARM", "LSB", "armhf"),
    "arm64": ("aarch64-linux-gnu-", "qemu-aarch64", "aarch64", "LSB", "arm64"),
    "mipsel": ("mipsel-linux-gnu-", "qemu-mipsel", "MIPS", "LSB", "mipsel"),
    "mips": ("mips-linux-gnu-", "qemu-mips", "MIPS", "MSB", None),
}

t = Tap()
want = os.environ.get("MAILNOOK_CROSS_ARCHS", "armhf arm64 mipsel mips").split()

# The configuration `make` uses; a cross build links BearSSL only with TLS.
dotconfig = os.path.join(TOP, os.environ.get("KCONFIG_CONFIG", ".config"))
if not os.path.exists(dotconfig):
    dotconfig = os.path.join(TOP, "configs", "defconfig")
with open(dotconfig) as f:
    TLS = any(line.strip() == "CONFIG_TLS=y" for line in f)

# A sub-make must not inherit the outer make's variables (CC=..., -j
# with a jobserver this process does not hold).
ENV = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "CC", "CFLAGS",
                                                         "CPPFLAGS", "LDFLAGS", "BUILD", "BIN")}



# Unit tests that start host programs: a qemu-user guest cannot exec them.
SPAWNS_HOST_PROGRAMS = {"t_hook.t", "t_quota_dovecot.t"}

def run(argv, timeout=900, **kw):
    return subprocess.run(argv, cwd=TOP, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=timeout, env=kw.pop("env", ENV), **kw)


def bearssl_for(arch, prefix, multiarch):
    """('', None) to use the toolchain's own BearSSL, (dir, None) for a
    BEARSSL_DIR, or (None, reason) to skip."""
    if not TLS:
        return "", None
    if multiarch:
        triplet = prefix.rstrip("-")
        if glob.glob("/usr/lib/%s/libbearssl.*" % triplet):
            return "", None
        return None, "needs libbearssl-dev:%s (scripts/deps.sh cross)" % multiarch
    r = run(["sh", "scripts/bearssl.sh", prefix + "gcc"], timeout=900)
    if r.returncode != 0:
        return None, "no BearSSL for %s: %s" % (arch, r.stdout.decode(errors="replace").strip().splitlines()[-1:])
    return r.stdout.decode().strip().splitlines()[-1], None


def one(arch):
    prefix, qemu_bin, elf, order, multiarch = ARCHS[arch]
    missing = [x for x in (prefix + "gcc", qemu_bin) if not shutil.which(x)]
    sysroot = "/usr/" + prefix.rstrip("-")
    if not missing and not os.path.isdir(sysroot):
        missing.append(sysroot)
    if missing:
        t.skip("%s cross build and tests" % arch,
               "%s missing (scripts/deps.sh cross installs it)" % ", ".join(missing))
        return
    bearssl, why = bearssl_for(arch, prefix, multiarch)
    if why:
        t.skip("%s cross build and tests" % arch, why)
        return

    build = os.path.join("build", "cross-" + arch)
    binpath = os.path.join(TOP, build, "mailnook")
    argv = ["make", "-s", "-j2", "CROSS_COMPILE=" + prefix, "BUILD=" + build,
            "BIN=" + os.path.join(build, "mailnook"), os.path.join(build, "mailnook"), "unit"]
    if bearssl:
        argv.insert(3, "BEARSSL_DIR=" + bearssl)
    r = run(argv)
    if not t.eq(r.returncode, 0, "%s: make CROSS_COMPILE=%s%s builds with -Werror" %
                (arch, prefix, " BEARSSL_DIR=..." if bearssl else "")):
        t.diag(r.stdout.decode(errors="replace")[-3000:])
        return

    if shutil.which("file"):
        out = subprocess.run(["file", "-L", binpath], stdout=subprocess.PIPE).stdout.decode()
        t.ok(elf in out and order in out, "%s: the binary is %s %s" % (arch, order, elf), out)

    qemu = [qemu_bin, "-L", sysroot]
    r = subprocess.run(qemu + [binpath, "-V"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    version = r.stdout.decode(errors="replace")
    t.ok(r.returncode == 0 and version.startswith("mailnook "), "%s: mailnook -V runs under %s" % (arch, qemu_bin),
         version)
    has_tls = " tls" in version
    t.eq(has_tls, TLS, "%s: TLS compiled in as configured" % arch)

    units = sorted(glob.glob(os.path.join(TOP, build, "tests", "*.t")))
    t.ok(len(units) > 0, "%s: unit tests built" % arch)
    for unit in units:
        if os.path.basename(unit) in SPAWNS_HOST_PROGRAMS:
            t.skip("%s: unit test %s" % (arch, os.path.basename(unit)),
                   "it runs host programs (sh, Dovecot), which qemu-user cannot start from a guest")
            continue
        r = run(qemu + [unit], timeout=600)
        text = r.stdout.decode(errors="replace")
        t.ok(r.returncode == 0 and "\nnot ok" not in "\n" + text,
             "%s: unit test %s" % (arch, os.path.basename(unit)),
             "\n".join(x for x in text.splitlines() if x.startswith("not ok") or x.startswith("#"))[:3000])

    lines = ["domain=localhost", "mailbox=user@localhost,@DIR@/user"]
    if has_tls:
        lines += ["tls-cert=@DIR@/ec.crt", "tls-key=@DIR@/ec.key"]
    srv = Server(qemu + [binpath], lines)
    try:
        if has_tls:
            make_cert(srv.dir)
        srv.start()
        with smtplib.SMTP("127.0.0.1", srv.port, timeout=60) as c:
            c.ehlo("cross.test")
            t.eq(c.sendmail("a@remote.example", ["user@localhost"], "Subject: %s\r\n\r\nfrom qemu\r\n" % arch), {},
                 "%s: accepts a message" % arch)
        if has_tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            with smtplib.SMTP("127.0.0.1", srv.port, timeout=60) as c:
                c.ehlo("cross.test")
                c.starttls(context=ctx)
                c.ehlo("cross.test")
                t.eq(c.sendmail("a@remote.example", ["user@localhost"],
                                "Subject: %s tls\r\n\r\nover TLS\r\n" % arch), {},
                     "%s: accepts a message over STARTTLS (BearSSL on the target)" % arch)
        files = read_new(srv.maildir("user"))
        t.ok(any(f.endswith(("Subject: %s\n\nfrom qemu\n" % arch).encode()) for f in files),
             "%s: stored it in the Maildir" % arch, files)
        if has_tls:
            t.ok(any(b"with ESMTPS" in f and f.endswith(b"\n\nover TLS\n") for f in files),
                 "%s: stored the TLS one, marked ESMTPS" % arch, files)
        t.eq(srv.stop(), 0, "%s: exits 0 on SIGTERM" % arch)
    except Exception as e:  # noqa: BLE001 -- one arch failing must not hide the others
        t.ok(False, "%s: smoke test" % arch, "%r\n%s" % (e, srv.log()[-2000:]))
    finally:
        srv.cleanup()


for a in want:
    if a not in ARCHS:
        t.ok(False, "known architecture %s" % a, "MAILNOOK_CROSS_ARCHS: pick from %s" % " ".join(ARCHS))
        continue
    one(a)
t.done()

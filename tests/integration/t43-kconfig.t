#!/usr/bin/env python3
"""scripts/genconfig.sh against Kconfig: both shipped configs build, every
int option is accepted at the ends of its Kconfig `range` and refused one
past them (and when not a number) with a message naming the option, the
value, the range and the config file, and a refused config leaves no
config.h for make to build with.  Options and ranges are read from Kconfig
here, so a new option is covered without touching this file."""
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mntest import Tap, TOP  # noqa: E402

t = Tap()
TMP = tempfile.mkdtemp(prefix="mailnook-kconfig-")


def run(argv):
    r = subprocess.run(argv, cwd=TOP, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    return r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")


def genconfig(path):
    return run(["sh", "scripts/genconfig.sh", "Kconfig", path])


def write_config(name, text):
    path = os.path.join(TMP, name)
    with open(path, "w") as f:
        f.write(text)
    return path


# {name: (type, lo, hi)} from Kconfig's `config`, `int`/`bool` and `range` lines
options = {}
cur = None
with open(os.path.join(TOP, "Kconfig")) as f:
    for line in f:
        m = re.match(r"config\s+(\w+)", line)
        if m:
            cur = m.group(1)
            options[cur] = [None, None, None]
            continue
        m = re.match(r"\s+(int|bool)\b", line)
        if cur and m and options[cur][0] is None:
            options[cur][0] = m.group(1)
        m = re.match(r"\s+range\s+(-?\d+)\s+(-?\d+)\s*$", line)
        if cur and m:
            options[cur][1:] = [int(m.group(1)), int(m.group(2))]
ints = sorted(k for k, (typ, lo, hi) in options.items() if typ == "int" and lo is not None)
t.ok(len(ints) >= 8 and "MAX_SESSIONS" in ints and "MAX_MAILBOXES" in ints,
     "Kconfig parsed: %d int options with a range" % len(ints), options)

with open(os.path.join(TOP, "configs", "defconfig")) as f:
    defconfig = f.read()

for cfg in ("defconfig", "tiny_defconfig"):
    rc, out, err = genconfig(os.path.join("configs", cfg))
    t.ok(rc == 0 and err == "" and out.rstrip().endswith("#endif")
         and all("#define CFG_%s " % k in out for k in options),
         "configs/%s: config.h with every option" % cfg, "rc=%d\n%s%s" % (rc, err, out))


def with_value(name, value):
    """defconfig with CONFIG_name set to value (added when defconfig lacks it)."""
    line = "CONFIG_%s=%s" % (name, value)
    text, n = re.subn(r"(?m)^CONFIG_%s=.*$" % name, line, defconfig)
    return text if n else text + line + "\n"


for k in ints:
    typ, lo, hi = options[k]
    for v in (lo, hi):
        path = write_config("%s-%d" % (k, v), with_value(k, v))
        rc, out, err = genconfig(path)
        t.ok(rc == 0 and re.search(r"(?m)^#define CFG_%s %d$" % (k, v), out),
             "CONFIG_%s=%d (end of %d..%d) accepted" % (k, v, lo, hi), "rc=%d\n%s%s" % (rc, err, out))
    for v in (lo - 1, hi + 1):
        path = write_config("%s-%d" % (k, v), with_value(k, v))
        rc, out, err = genconfig(path)
        t.ok(rc != 0 and out == "" and "%s: CONFIG_%s=%d" % (path, k, v) in err
             and "%d..%d" % (lo, hi) in err,
             "CONFIG_%s=%d (outside %d..%d) refused, naming file, option and range" % (k, v, lo, hi),
             "rc=%d\nstderr: %s\nstdout: %s" % (rc, err, out[:300]))
    for v in ("16k", "", "0x10"):
        path = write_config("%s-nan" % k, with_value(k, v))
        rc, out, err = genconfig(path)
        t.ok(rc != 0 and out == "" and "CONFIG_%s=%s" % (k, v) in err and path in err,
             "CONFIG_%s=%r (not a number) refused" % (k, v), "rc=%d\nstderr: %s" % (rc, err))

# Leading zeros are a decimal number, not C's octal: 0016 must not reach
# config.h as 0016 (14).
k = "MAX_SESSIONS"
rc, out, err = genconfig(write_config("octal", with_value(k, "0016")))
t.ok(rc == 0 and re.search(r"(?m)^#define CFG_%s 16$" % k, out), "CONFIG_%s=0016 is 16" % k, out + err)

# Through make: a refused config leaves no config.h, and make keeps refusing
# (never builds with the config.h of an earlier good .config).
build = os.path.join(TMP, "build")
target = os.path.join(build, "config.h")
bad = write_config("bad.config", with_value("MAX_SESSIONS", 0))


def make(cfg):
    return run(["make", "-s", "KCONFIG_CONFIG=" + cfg, "BUILD=" + build, target])


rc, out, err = make(bad)
t.ok(rc != 0 and not os.path.exists(target) and "CONFIG_MAX_SESSIONS=0 is outside its range 1..1024" in err,
     "make with a refused config fails and writes no config.h", "rc=%d\n%s%s" % (rc, out, err))
good = write_config("good.config", defconfig)
rc, out, err = make(good)
t.ok(rc == 0 and os.path.exists(target), "make with defconfig writes config.h", out + err)
with open(good, "w") as f:
    f.write(with_value("MAX_MAILBOXES", 99999))
st = os.stat(target)
os.utime(good, (st.st_atime + 2, st.st_mtime + 2))
for i in (1, 2):
    rc, out, err = make(good)
    t.ok(rc != 0 and "CONFIG_MAX_MAILBOXES=99999 is outside its range 1..4096" in err,
         "after the config goes bad, make fails (run %d)" % i, "rc=%d\n%s%s" % (rc, out, err))
with open(target) as f:
    t.ok("#define CFG_MAX_MAILBOXES 64" in f.read(), "the earlier config.h is left as it was")

t.done()

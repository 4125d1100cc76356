#!/usr/bin/env python3
"""The libFuzzer targets, briefly: builds tests/fuzz/fuzz_*.c with clang
-fsanitize=fuzzer,address,undefined (`make fuzz-build`, into build/fuzz/),
then runs each from its seed corpus for a few seconds (FUZZ_TEST_SECONDS,
default 5).  One ok per target; skipped, with the reason, when clang or
libFuzzer is missing, and fuzz_tls (platform/'s TLS glue) when .config has
no CONFIG_TLS=y.  `make fuzz` runs them longer."""
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))
from mntest import Tap  # noqa: E402

TARGETS = ("engine", "addr", "conf", "tls")
SECONDS = int(os.environ.get("FUZZ_TEST_SECONDS", "5"))
FUZZ_CC = os.environ.get("FUZZ_CC", "clang")
WHY_DEPS = "scripts/deps.sh test installs clang libclang-rt-14-dev"

t = Tap()


def skip_all(reason):
    for name in TARGETS:
        t.skip("fuzz_%s" % name, reason)
    t.done()


# the build below is a make of its own, not part of the make that runs us
env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}

if not shutil.which(FUZZ_CC):
    skip_all("%s not installed (%s)" % (FUZZ_CC, WHY_DEPS))

with tempfile.TemporaryDirectory(prefix="mailnook-fuzz-") as tmp:
    probe = os.path.join(tmp, "probe.c")
    with open(probe, "w") as f:
        f.write("#include <stddef.h>\n#include <stdint.h>\n"
                "int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);\n"
                "int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)"
                " { (void)d; (void)n; return 0; }\n")
    r = subprocess.run([FUZZ_CC, "-fsanitize=fuzzer,address,undefined", "-o",
                        os.path.join(tmp, "probe"), probe],
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=120)
    if r.returncode != 0:
        t.diag(r.stdout.decode(errors="replace")[-1500:])
        skip_all("%s cannot link libFuzzer (%s)" % (FUZZ_CC, WHY_DEPS))

r = subprocess.run(["make", "-s", "FUZZ_CC=" + FUZZ_CC, "fuzz-build"], cwd=TOP, env=env,
                   stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                   stderr=subprocess.STDOUT, timeout=900)
if not t.eq(r.returncode, 0, "make fuzz-build (clang -fsanitize=fuzzer,address,undefined)"):
    t.diag(r.stdout.decode(errors="replace")[-3000:])
    t.done()


def config_tls():
    """CONFIG_TLS=y in .config (which make fuzz-build made if missing)"""
    try:
        with open(os.path.join(TOP, ".config")) as f:
            return any(line.strip() == "CONFIG_TLS=y" for line in f)
    except OSError:
        return False


fuzz_dir = os.path.join(TOP, "build", "fuzz")
for name in TARGETS:
    if name == "tls" and not config_tls():
        t.skip("fuzz_tls", "CONFIG_TLS is off in .config")
        continue
    binary = os.path.join(fuzz_dir, "fuzz_" + name)
    seeds = os.path.join(TOP, "tests", "fuzz", "corpus", name)
    with tempfile.TemporaryDirectory(prefix="mailnook-fuzz-%s-" % name) as work:
        # new inputs go to the scratch corpus; crashes stay in build/fuzz/
        cmd = [binary, "-max_total_time=%d" % SECONDS, "-timeout=10",
               "-rss_limit_mb=512", "-max_len=16384", "-print_final_stats=1",
               "-artifact_prefix=%s/crash-%s-" % (fuzz_dir, name),
               "-dict=" + os.path.join(TOP, "tests", "fuzz", name + ".dict"), work, seeds]
        try:
            r = subprocess.run(cmd, cwd=TOP, env=env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               timeout=SECONDS * 4 + 120)
            out, rc = r.stdout.decode(errors="replace"), r.returncode
        except subprocess.TimeoutExpired as e:
            out, rc = (e.output or b"").decode(errors="replace"), "timeout"
    runs = [line.rsplit(":", 1)[1].strip() for line in out.splitlines()
            if line.startswith("stat::number_of_executed_units:")]
    if t.ok(rc == 0, "fuzz_%s: %s s from %d seeds, %s runs, no crash"
            % (name, SECONDS, len(os.listdir(seeds)), runs[0] if runs else "?")):
        continue
    # the report and how to replay it
    lines = out.splitlines()
    start = next((i for i, line in enumerate(lines)
                  if "ERROR:" in line or "invariant" in line or "differ" in line),
                 max(0, len(lines) - 40))
    t.diag("\n".join(lines[max(0, start - 2):start + 40]))
    t.diag("replay: %s build/fuzz/crash-%s-<hash>" % (os.path.relpath(binary, TOP), name))
t.done()

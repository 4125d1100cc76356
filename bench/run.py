#!/usr/bin/env python3
"""mailnook's benchmark: speed against the limits of this machine.

`make bench` builds what this needs into build/bench/ and runs it:

    python3 bench/run.py [--build build/bench] [--seconds N] [--runs 3]
                         [--work DIR] [--results bench/RESULTS.md] [--no-write]
    python3 bench/run.py --syscalls       (strace -c: system calls per message)

Scenarios, each run BENCH_SECONDS (default 10) and reported as the median of
--runs runs:
  (a) 1 session, 1 KiB messages;
  (b) 32 concurrent sessions, 1 KiB;
  (c) 8 concurrent sessions, 100 KiB;
  (e) 8 concurrent sessions, 2 MiB (a camera's burst);
each against
  - mailnook (build/bench/store: defconfig with 64 session slots), counting
    the files that landed in new/, the server's CPU time (utime + stime from
    /proc/PID/stat) and its VmHWM (/proc/PID/status);
  - the protocol-only baseline (build/bench/discard: BENCH_DISCARD=y, the
    store replaced by a sink that discards);
  - the storage limit, bench/fsync_limit: the same bytes delivered straight
    into a Maildir, one at a time (K=1) and in batches (K=32 for 1 KiB, K=8
    for 100 KiB), with the flush primitives mailnook uses.
Then every flush primitive in fsync_limit, for the record.

Ratios: (a) against 1 / (1/protocol-only + 1/storage one at a time), the
serial limit; (b) against the K=32 batched limit; (c) and (e) against the
K=8 limit for their size -- the faster of fsync and syncfs.  A disk's speed drifts from
minute to minute, so each run's ratio is taken against the mean of its
limit measured just before and just after it, and the median of the runs'
ratios is reported.  Prints one table and writes it into RESULTS.md between
the "bench:begin" and "bench:end" markers, with the date, the machine and
the commit.  Figures only: nothing here passes or fails on time.

Environment: BENCH_SECONDS, BENCH_RUNS, BENCH_DIR (where the Maildirs go;
default build/bench/work, on the disk being measured).
"""
import argparse
import datetime
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SCENARIOS = [
    # key, sessions, size, batch K of the storage limit it is held against
    ("a", 1, 1024, 1),
    ("b", 32, 1024, 32),
    ("c", 8, 102400, 8),
    ("e", 8, 2 << 20, 8),       # a camera's burst: 8 sessions of 2 MiB
]
TARGETS = {"a": 0.85, "b": 0.70, "c": 0.85, "e": 0.85}
MODES = ["fsync", "fdatasync", "srf", "syncfs"]


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def proc_cpu(pid):
    """(utime, stime) of pid and its children (the commit process), in
    seconds."""
    hz = os.sysconf("SC_CLK_TCK")
    user = sys_ = 0.0
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # fields[0] is the state (field 3), [1] the parent (field 4):
        # utime and stime are fields 14, 15
        if int(name) == pid or int(fields[1]) == pid:
            user += int(fields[11]) / hz
            sys_ += int(fields[12]) / hz
    return user, sys_


def proc_status(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])     # kB
    return 0


class Server:
    """mailnook on 127.0.0.1 with one mailbox in a fresh directory."""

    def __init__(self, binary, work, prefix=None):
        self.dir = tempfile.mkdtemp(prefix="mailnook-bench-", dir=work)
        self.port = free_port()
        self.maildir = os.path.join(self.dir, "user")
        self.stats = os.path.join(self.dir, "stats") if has_stats(binary) else None
        conf = os.path.join(self.dir, "mailnook.conf")
        with open(conf, "w") as f:
            f.write("listen=127.0.0.1:%d\nhostname=mx.bench\n"
                    "domain=localhost\nmailbox=user@localhost,%s\n"
                    "max-sessions=64\nmax-sessions-per-ip=64\ntimeout=120\n"
                    % (self.port, self.maildir))
            if self.stats:
                f.write("stats-file=%s\n" % self.stats)
            f.write("pid-file=%s\n" % os.path.join(self.dir, "pid"))
        self.log = open(os.path.join(self.dir, "log"), "wb")
        self.proc = subprocess.Popen(list(prefix or []) + [binary, "-f", "-c", conf],
                                     stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT, cwd=self.dir)
        deadline = time.time() + 15
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("mailnook exited %d: %s" % (self.proc.returncode,
                                                               self.log_text()))
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if time.time() > deadline:
                    raise RuntimeError("mailnook did not listen: " + self.log_text())
                time.sleep(0.05)
        while not os.path.exists(os.path.join(self.dir, "pid")):
            if time.time() > deadline:
                raise RuntimeError("mailnook wrote no pid file: " + self.log_text())
            time.sleep(0.05)
        time.sleep(0.1)         # let the probe's session end

    def log_text(self):
        with open(os.path.join(self.dir, "log"), "rb") as f:
            return f.read().decode("utf-8", "replace")[-2000:]

    def pid(self):
        """mailnook's pid (under strace, the pid file's: Popen's is strace)."""
        with open(os.path.join(self.dir, "pid")) as f:
            return int(f.read().split()[0])

    def stored(self):
        try:
            return len(os.listdir(os.path.join(self.maildir, "new")))
        except OSError:
            return 0

    def stop(self):
        """Stops the server; returns the mean commit batch size from its
        stats file (written at exit), or None."""
        if self.proc.poll() is None:
            try:
                os.kill(self.pid(), signal.SIGTERM)
            except (OSError, ValueError, IndexError):
                self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()
        batch = None
        try:
            with open(self.stats) as f:
                v = dict(line.split()[:2] for line in f
                         if line.startswith("mailnook_commit_batch_size_"))
            if float(v["mailnook_commit_batch_size_count"]) > 0:
                batch = (float(v["mailnook_commit_batch_size_sum"])
                         / float(v["mailnook_commit_batch_size_count"]))
        except (OSError, TypeError, KeyError, ValueError):
            pass
        shutil.rmtree(self.dir, ignore_errors=True)
        os.sync()       # the deletions' journal commits (and discards) now
        return batch


_features = {}


def has_stats(binary):
    """Whether binary was built with CONFIG_STATS (it takes stats-file=)."""
    if binary not in _features:
        out = subprocess.run([binary, "-V"], capture_output=True, text=True, timeout=10)
        _features[binary] = out.stdout
    return " stats" in _features[binary]


def parse_kv(line):
    return {k: v for k, v in re.findall(r"(\w+)=(\S+)", line)}


def loadgen(tools, port, sessions, size, seconds):
    out = subprocess.run([os.path.join(tools, "loadgen"), "-p", str(port),
                          "-c", str(sessions), "-s", str(size), "-t", str(seconds)],
                         capture_output=True, text=True, timeout=seconds + 180)
    res = None
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            res = parse_kv(line)
    if res is None:
        raise RuntimeError("loadgen: no result\n" + out.stdout + out.stderr)
    if out.stderr.strip():
        sys.stderr.write(out.stderr)
    return {k: float(v) for k, v in res.items()}


def fsync_limit(tools, work, mode, k, size, seconds, cpu=None):
    """Deliveries/s; cpu, a list, gets the CPU seconds per 1000."""
    out = subprocess.run([os.path.join(tools, "fsync_limit"), "-d", work, "-m", mode,
                          "-k", str(k), "-s", str(size), "-t", str(seconds)],
                         capture_output=True, text=True, timeout=seconds + 600)
    if out.returncode != 0:
        raise RuntimeError("fsync_limit: " + out.stderr)
    kv = parse_kv(out.stdout)
    if cpu is not None:
        cpu.append(float(kv["cpu_per_1000"]))
    return float(kv["per_s"])


def run_server(binary, tools, work, sessions, size, seconds):
    srv = Server(binary, work)
    try:
        pid = srv.pid()
        cpu0 = proc_cpu(pid)
        r = loadgen(tools, srv.port, sessions, size, seconds)
        cpu1 = proc_cpu(pid)
        r["user"] = cpu1[0] - cpu0[0]
        r["sys"] = cpu1[1] - cpu0[1]
        r["cpu"] = r["user"] + r["sys"]
        r["hwm"] = proc_status(pid, "VmHWM")
        r["stored"] = srv.stored()
    finally:
        r_batch = srv.stop()
    r["batch"] = r_batch
    return r


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def sh(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, cwd=TOP,
                              timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"


def machine(work):
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    df = sh(["df", "-T", work]).splitlines()
    dev = df[-1].split() if len(df) > 1 else ["?", "?"]
    opts = "?"
    try:
        with open("/proc/mounts") as f:
            best = ""
            for line in f:
                p = line.split()
                if os.path.realpath(work).startswith(p[1]) and len(p[1]) >= len(best):
                    best, opts = p[1], p[3]
    except OSError:
        pass
    commit = sh(["git", "rev-parse", "--short", "HEAD"])
    if sh(["git", "status", "--porcelain", "--untracked-files=no"]):
        commit += " (with uncommitted changes)"
    return {
        "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "kernel": platform.release(),
        "fs": "%s on %s (stat -f: %s; %s)" % (dev[1], dev[0],
                                               sh(["stat", "-f", "-c", "%T", work]), opts),
        "commit": commit,
    }


def fmt_rate(x):
    return "%.0f" % x if x == x else "-"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(TOP, "build", "bench"))
    ap.add_argument("--servers", default=None,
                    help="directory with store/mailnook and discard/mailnook "
                         "(default: --build)")
    ap.add_argument("--servers-name", default="",
                    help="how the servers were built, for the table")
    ap.add_argument("--seconds", type=float,
                    default=float(os.environ.get("BENCH_SECONDS", "10")))
    ap.add_argument("--runs", type=int, default=int(os.environ.get("BENCH_RUNS", "3")))
    ap.add_argument("--work", default=os.environ.get("BENCH_DIR"))
    ap.add_argument("--results", default=os.path.join(TOP, "bench", "RESULTS.md"))
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--syscalls", action="store_true")
    ap.add_argument("--only", default="abce",
                    help="scenarios to run, e.g. c; the table is then printed, not written")
    a = ap.parse_args()
    a.build = os.path.abspath(a.build)
    a.seconds = max(1.0, min(a.seconds, 600.0))
    a.runs = max(1, min(a.runs, 9))
    servers = os.path.abspath(a.servers or a.build)
    store = os.path.join(servers, "store", "mailnook")
    discard = os.path.join(servers, "discard", "mailnook")
    for p in (store, discard, os.path.join(a.build, "loadgen"),
              os.path.join(a.build, "fsync_limit")):
        if not os.access(p, os.X_OK):
            sys.exit("bench: %s missing: run `make bench`" % p)
    work = os.path.abspath(a.work or os.path.join(a.build, "work"))
    os.makedirs(work, exist_ok=True)
    if a.syscalls:
        return syscalls(store, a.build, work)
    m = machine(work)
    print("bench: %s, %d x %s, Linux %s, %s, commit %s" % (
        m["date"], m["nproc"], m["cpu"], m["kernel"], m["fs"], m["commit"]), flush=True)
    print("bench: %d runs of %.0f s per figure (median)" % (a.runs, a.seconds), flush=True)

    res = {}
    scenarios = [sc for sc in SCENARIOS if sc[0] in a.only]
    if len(scenarios) < len(SCENARIOS):
        a.no_write = True
    for key, sessions, size, k in scenarios:
        lim = {}                        # "fsync 1" -> ([per_s], [cpu per 1000])
        disc, mn = [], []
        ratios = []
        for r in range(a.runs):
            # the disk's speed drifts (other tenants, other builds): the
            # limit a run is held against is measured right before it, and
            # the ratio is taken run by run
            disc.append(run_server(discard, a.build, work, sessions, size, a.seconds))
            for mode, kk in [("fsync", 1)] + ([("fsync", k), ("syncfs", k)] if k > 1 else []):
                rates, cpus = lim.setdefault("%s %d" % (mode, kk), ([], []))
                rates.append(fsync_limit(a.build, work, mode, kk, size, a.seconds, cpus))
            mn.append(run_server(store, a.build, work, sessions, size, a.seconds))
            # and again right after it, with the primitive that was faster
            name = max((n for n in lim if n.endswith(" %d" % k)), key=lambda n: lim[n][0][-1])
            before = lim[name][0][-1]
            rates, cpus = lim[name]
            rates.append(fsync_limit(a.build, work, name.split()[0], k, size, a.seconds, cpus))
            held = (before + rates[-1]) / 2
            if key == "a":
                held = 1.0 / (1.0 / disc[-1]["rate"] + 1.0 / held)
            ratios.append(mn[-1]["rate"] / held if held > 0 else float("nan"))
            print("bench: (%s) run %d: mailnook %.0f msg/s (batch %.1f), protocol-only %.0f, "
                  "storage %s (%s before/after %.0f/%.0f): ratio %.0f %%" % (
                      key, r + 1, mn[-1]["rate"], mn[-1]["batch"] or 0, disc[-1]["rate"],
                      ", ".join("%s %.0f" % (n, v[0][-1]) for n, v in lim.items() if n != name),
                      name, before, rates[-1], ratios[-1] * 100), flush=True)
        res[key] = {
            "sessions": sessions, "size": size, "k": k,
            "lim": {n: (median(v[0]), median(v[1])) for n, v in lim.items()},
            "ratio": median(ratios),
            "ratios": ratios,
            "disc": median([x["rate"] for x in disc]),
            "rate": median([x["rate"] for x in mn]),
            "p50": median([x["p50_ms"] for x in mn]),
            "p99": median([x["p99_ms"] for x in mn]),
            "max": max(x["max_ms"] for x in mn),
            "batch": median([x["batch"] for x in mn if x["batch"]]),
            "errors": sum(x["errors"] for x in mn) + sum(x["errors"] for x in disc),
            "sent": sum(x["messages"] for x in mn),
            "stored": sum(x["stored"] for x in mn),
            "user1000": median([x["user"] / x["messages"] * 1000 for x in mn if x["messages"]]),
            "sys1000": median([x["sys"] / x["messages"] * 1000 for x in mn if x["messages"]]),
            "cpu_core": median([x["cpu"] / x["seconds"] for x in mn if x["seconds"] > 0]),
            "hwm": max(x["hwm"] for x in mn),
            "disc_hwm": max(x["hwm"] for x in disc),
        }

    prim = []
    pt = max(2.0, a.seconds / 2)
    for size, kk in sorted({(size, kk) for key, sessions, size, k in scenarios
                            for kk in (1, k)} if not a.no_write else ()):
        row = [fsync_limit(a.build, work, mode, kk, size, pt) for mode in MODES]
        prim.append((size, kk, row))

    text = table(m, a, res, prim)
    print()
    print(text)
    if not a.no_write:
        write_results(a.results, text)
        print("bench: table written to %s" % os.path.relpath(a.results, TOP))
    return 0


def limit_of(r):
    """The storage limit a scenario is held against, and its CPU per 1000:
    K=1 for one session; for a batch, the faster of fsync and syncfs."""
    if r["k"] == 1:
        return r["lim"]["fsync 1"]
    return max(r["lim"]["fsync %d" % r["k"]], r["lim"]["syncfs %d" % r["k"]])


def size_name(size):
    if size >= 1 << 20:
        return "%d MiB" % (size >> 20)
    return "1 KiB" if size == 1024 else "%d KiB" % (size // 1024)


def table(m, a, res, prim):
    L = []
    L.append("Measured %s on %d CPUs (%s), Linux %s; mail file system: %s; "
             "commit %s.  Medians of %d runs of %.0f s each; a ratio is the median of "
             "the runs' ratios, each against the mean of its limit measured just "
             "before and just after it "
             "(`make bench BENCH_SECONDS=%.0f`).%s" % (
                 m["date"], m["nproc"], m["cpu"], m["kernel"], m["fs"], m["commit"],
                 a.runs, a.seconds, a.seconds,
                 "  Servers: %s." % a.servers_name if a.servers_name else ""))
    L.append("")
    L.append("| scenario | mailnook msg/s | latency p50 / p99 / max ms | mean batch "
             "| protocol-only msg/s | storage limit msg/s | held against | ratio (target) "
             "| stored / sent, errors | CPU s per 1000 msgs: user + sys (storage alone) "
             "| CPU, share of a core | VmHWM KiB (protocol-only) |")
    L.append("| --- | ---: | ---: | ---: | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for key, sessions, size, k in SCENARIOS:
        if key not in res:
            continue
        r = res[key]
        lim, lim_cpu = limit_of(r)
        storage = "; ".join("%s %s %.0f" % ("K=%s" % n.split()[1], n.split()[0], v[0])
                            for n, v in r["lim"].items())
        if key == "a":
            serial = 1.0 / (1.0 / r["disc"] + 1.0 / lim)
            against = "serial: 1/(1/%.0f + 1/%.0f) = %.0f" % (r["disc"], lim, serial)
            lim = serial
        else:
            against = "batched K=%d: %.0f" % (k, lim)
        ratio = r["ratio"]
        L.append("| (%s) %d session%s, %s | %s | %.1f / %.1f / %.1f | %.1f | %s | %s | %s "
                 "| **%.0f %%** (>= %.0f %%; runs %s) | %d / %d, %d | %.3f + %.3f = %.3f (%.3f) "
                 "| %.0f %% | %d (%d) |" % (
                     key, sessions, "" if sessions == 1 else "s", size_name(size),
                     fmt_rate(r["rate"]), r["p50"], r["p99"], r["max"], r["batch"],
                     fmt_rate(r["disc"]), storage, against, ratio * 100, TARGETS[key] * 100,
                     " ".join("%.0f" % (x * 100) for x in r["ratios"]),
                     r["stored"], r["sent"], r["errors"], r["user1000"], r["sys1000"],
                     r["user1000"] + r["sys1000"], lim_cpu, r["cpu_core"] * 100,
                     r["hwm"], r["disc_hwm"]))
    if not prim:
        return "\n".join(L)
    L.append("")
    L.append("Flush primitives in bench/fsync_limit, deliveries/s (one run of %.0f s each; "
             "new/ is fsync'ed once per batch in every mode):" % max(2.0, a.seconds / 2))
    L.append("")
    L.append("| message | batch K | " + " | ".join(MODES) + " |")
    L.append("| --- | ---: | " + " | ".join("---:" for _ in MODES) + " |")
    for size, kk, row in prim:
        L.append("| %s | %d | %s |" % (size_name(size), kk,
                                      " | ".join("%.0f" % v for v in row)))
    return "\n".join(L)


def write_results(path, text):
    begin, end = "<!-- bench:begin -->", "<!-- bench:end -->"
    old = ""
    if os.path.exists(path):
        with open(path) as f:
            old = f.read()
    block = begin + "\n" + text + "\n" + end
    if begin in old and end in old:
        new = old[:old.index(begin)] + block + old[old.index(end) + len(end):]
    else:
        new = old + ("\n" if old and not old.endswith("\n") else "") + block + "\n"
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(new)
    os.replace(tmp, path)


def syscalls(store, tools, work):
    """strace -c over one server run: system calls per message, for 1
    session x 2000 messages and 32 sessions x 100 messages of 1 KiB."""
    if not shutil.which("strace"):
        sys.exit("bench: strace not installed")
    for sessions, per in ((1, 2000), (32, 100)):
        out = os.path.join(work, "strace.%d" % sessions)
        srv = Server(store, work, prefix=["strace", "-c", "-S", "calls", "-o", out])
        try:
            r = subprocess.run([os.path.join(tools, "loadgen"), "-p", str(srv.port),
                                "-c", str(sessions), "-n", str(per), "-s", "1024"],
                               capture_output=True, text=True, timeout=600)
        finally:
            srv.stop()
        n = sessions * per
        print("== %d session%s x %d messages: %s" % (sessions, "" if sessions == 1 else "s",
                                                    per, r.stdout.strip().splitlines()[0]))
        with open(out) as f:
            lines = f.read().splitlines()
        os.unlink(out)
        print("%-18s %10s %10s" % ("syscall", "calls", "per msg"))
        for line in lines:
            p = line.split()
            if len(p) >= 5 and p[0][0].isdigit() and p[-1] not in ("total",):
                calls = int(p[3])
                print("%-18s %10d %10.2f" % (p[-1], calls, calls / n))
            elif len(p) >= 5 and p[-1] == "total":
                print("%-18s %10d %10.2f" % ("total", int(p[3]), int(p[3]) / n))
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""The packaging in contrib/, the man pages and `make install`, checked as
far as this machine can: shell syntax (sh -n, and shellcheck when
installed), `systemd-analyze verify` of the unit, the OpenWrt UCI-to-conf
translation run in a stub of OpenWrt's functions.sh and procd and checked
with `mailnook -t`, the sysvinit script starting, reloading and stopping
the real binary, the OpenWrt and Buildroot recipes run through small stubs
of their frameworks with the host compiler, both man pages through
`mandoc -T lint` (or `man --warnings`), and `make install DESTDIR=...`."""
import os
import re
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mntest import Tap, TOP, binaries, free_port  # noqa: E402

t = Tap()
BIN = binaries()[0][1]
TMP = tempfile.mkdtemp(prefix="mailnook-pkg-")
C = os.path.join(TOP, "contrib")


def run(argv, timeout=300, **kw):
    env = kw.pop("env", None)
    if env is not None:
        env = dict(os.environ, **env)
        for k in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL"):
            env.pop(k, None)
    return subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          timeout=timeout, env=env, **kw)


def text(r):
    return r.stdout.decode(errors="replace")


def version():
    return text(run([BIN, "-V"]))


FEATURES = (re.search(r"^features:(.*)$", version(), re.M) or re.match("()", "")).group(1).split()

# --- shell syntax -----------------------------------------------------------
SCRIPTS = ["contrib/sysvinit/mailnook", "contrib/openwrt/files/mailnook.init",
           "scripts/static.sh", "scripts/size.sh", "scripts/bearssl.sh", "scripts/deps.sh"]
for s in SCRIPTS:
    r = run(["sh", "-n", os.path.join(TOP, s)])
    t.ok(r.returncode == 0, "sh -n %s" % s, text(r))
if shutil.which("shellcheck"):
    r = run(["shellcheck", "-S", "warning"] + [os.path.join(TOP, s) for s in SCRIPTS])
    t.ok(r.returncode == 0, "shellcheck -S warning finds nothing", text(r))
else:
    t.skip("shellcheck", "shellcheck is not installed")

# --- man pages --------------------------------------------------------------
MANS = ["doc/mailnook.8", "doc/mailnook.conf.5"]
if shutil.which("mandoc"):
    for m in MANS:
        r = run(["mandoc", "-T", "lint", "-W", "warning", os.path.join(TOP, m)])
        t.ok(r.returncode == 0 and not r.stdout.strip(), "mandoc -T lint %s is clean" % m, text(r))
elif shutil.which("man"):
    for m in MANS:
        r = run(["man", "--warnings", "-E", "UTF-8", "-l", os.path.join(TOP, m)],
                env={"MANWIDTH": "80", "MAN_KEEP_STDERR": "1", "LC_ALL": "C.UTF-8"})
        r2 = subprocess.run(["man", "--warnings", "-E", "UTF-8", "-l", os.path.join(TOP, m)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=dict(os.environ, MANWIDTH="80"))
        t.ok(r.returncode == 0 and not r2.stderr.strip(), "man --warnings %s is clean" % m, r2.stderr.decode())
else:
    t.skip("man page lint", "neither mandoc (Debian: mandoc) nor man is installed")

# that the man pages describe every option of the option table, with its
# help line and default: t44-optlist.t

# --- make install -----------------------------------------------------------
dest = os.path.join(TMP, "destdir")
# -o: the binary under test is installed as it is, never rebuilt here
r = run(["make", "-s", "-o", os.path.relpath(BIN, TOP), "install", "DESTDIR=" + dest, "PREFIX=/usr",
         "BIN=" + os.path.relpath(BIN, TOP)], cwd=TOP, env={})
t.ok(r.returncode == 0, "make install DESTDIR=... PREFIX=/usr", text(r))
for f in ("usr/sbin/mailnook", "usr/share/man/man8/mailnook.8", "usr/share/man/man5/mailnook.conf.5",
          "usr/share/doc/mailnook/mailnook.conf.example"):
    t.ok(os.path.isfile(os.path.join(dest, f)), "installs /%s" % f)

# --- systemd ----------------------------------------------------------------
unit = os.path.join(C, "systemd", "mailnook.service")
if shutil.which("systemd-analyze"):
    d = os.path.join(TMP, "systemd")
    for sub in ("man8", "man5"):
        os.makedirs(os.path.join(d, "man", sub))
    shutil.copy(os.path.join(TOP, "doc", "mailnook.8"), os.path.join(d, "man", "man8"))
    shutil.copy(os.path.join(TOP, "doc", "mailnook.conf.5"), os.path.join(d, "man", "man5"))
    # verify wants the binary where ExecStart says: point it at this build
    with open(unit) as f:
        body = f.read().replace("/usr/sbin/mailnook", BIN)
    with open(os.path.join(d, "mailnook.service"), "w") as f:
        f.write(body)
    r = run(["systemd-analyze", "verify", os.path.join(d, "mailnook.service")], cwd=d,
            env={"MANPATH": os.path.join(d, "man"), "SYSTEMD_LOG_LEVEL": "notice"})
    t.ok(r.returncode == 0 and not text(r).strip(), "systemd-analyze verify mailnook.service", text(r))
else:
    t.skip("systemd-analyze verify", "systemd-analyze is not installed (Debian: systemd)")
with open(unit) as f:
    u = f.read()
for need in ("ProtectSystem=strict", "ReadWritePaths=", "NoNewPrivileges=yes", "PrivateTmp=yes", "ProtectHome=yes",
             "CapabilityBoundingSet=CAP_NET_BIND_SERVICE", "AmbientCapabilities=CAP_NET_BIND_SERVICE",
             "ExecStartPre=/usr/sbin/mailnook -t", "ExecStart=/usr/sbin/mailnook -f"):
    t.ok(need in u, "the unit has %s" % need)

# --- OpenWrt: UCI to mailnook.conf ------------------------------------------
# A stub of /lib/functions.sh with OpenWrt's semantics: the UCI file is
# shell (config/option/list), config_get gives "" for a missing option,
# config_get_bool takes 1/yes/on/true/enabled, config_foreach walks the
# sections of a type in order, config_list_foreach calls back with each
# item and the extra arguments, and config_load calls config_cb,
# option_cb and list_cb for each section, option and list item.
STUB_FUNCTIONS = r'''
UCI_SECTIONS=
UCI_N=0
config_cb() { return 0; }
option_cb() { return 0; }
list_cb() { return 0; }
config() {
	UCI_N=$((UCI_N + 1))
	UCI_CUR=${2:-cfg$UCI_N}
	UCI_SECTIONS="$UCI_SECTIONS $UCI_CUR"
	eval "UCI_TYPE_$UCI_CUR=\$1"
	config_cb "$1" "$UCI_CUR"
}
option() { eval "UCI_${UCI_CUR}_$1=\$2"; option_cb "$1" "$2"; }
list() {
	eval "n=\${UCI_${UCI_CUR}_$1_N:-0}"
	n=$((n + 1))
	eval "UCI_${UCI_CUR}_$1_N=$n; UCI_${UCI_CUR}_$1_$n=\$2"
	list_cb "$1" "$2"
}
config_load() { . "$UCI_DIR/$1"; }
config_get() { eval "$1=\${UCI_$2_$3:-\$4}"; }
config_get_bool() {
	local _v
	eval "_v=\${UCI_$2_$3:-\$4}"
	case "$_v" in
	1|yes|on|true|enabled) eval "$1=1" ;;
	*) eval "$1=0" ;;
	esac
}
config_foreach() {
	local _f="$1" _t="$2" _s _st
	shift 2
	for _s in $UCI_SECTIONS; do
		eval "_st=\$UCI_TYPE_$_s"
		[ "$_st" = "$_t" ] && "$_f" "$_s" "$@"
	done
	return 0
}
config_list_foreach() {
	local _s="$1" _o="$2" _f="$3" _n _i=1 _v
	shift 3
	eval "_n=\${UCI_${_s}_${_o}_N:-0}"
	while [ "$_i" -le "$_n" ]; do
		eval "_v=\$UCI_${_s}_${_o}_$_i"
		"$_f" "$_v" "$@"
		_i=$((_i + 1))
	done
}
logger() { cat >&2; }
procd_open_instance() { echo "procd: open" >> "$PROCD_LOG"; }
procd_set_param() { echo "procd: $*" >> "$PROCD_LOG"; }
procd_close_instance() { echo "procd: close" >> "$PROCD_LOG"; }
procd_send_signal() { echo "procd: signal $*" >> "$PROCD_LOG"; }
procd_add_reload_trigger() { echo "procd: trigger $*" >> "$PROCD_LOG"; }
'''


def openwrt_run(uci_text, calls):
    """Runs calls (shell) with the init script sourced over the stub, UCI
    file uci_text; returns (returncode, output, conf text or None, procd log)."""
    d = tempfile.mkdtemp(prefix="uci-", dir=TMP)
    os.makedirs(os.path.join(d, "uci"))
    with open(os.path.join(d, "uci", "mailnook"), "w") as f:
        f.write(uci_text)
    with open(os.path.join(d, "functions.sh"), "w") as f:
        f.write(STUB_FUNCTIONS)
    conf = os.path.join(d, "var", "etc", "mailnook.conf")
    script = ('UCI_DIR="%s/uci"; PROCD_LOG="%s/procd.log"; . "%s/functions.sh"; . "%s"; '
              'PROG="%s"; CONF="%s"; %s' % (d, d, d, os.path.join(C, "openwrt", "files", "mailnook.init"),
                                             BIN, conf, calls))
    r = run(["sh", "-c", script], timeout=60)
    body = open(conf).read() if os.path.exists(conf) else None
    log = open(os.path.join(d, "procd.log")).read() if os.path.exists(os.path.join(d, "procd.log")) else ""
    return r.returncode, text(r), body, log


with open(os.path.join(C, "openwrt", "files", "mailnook.config")) as f:
    sample = f.read()
mdir = os.path.join(TMP, "uci-mail")
port = free_port()
uci = (sample.replace("/mnt/sda1/mail", mdir)
       .replace("option enabled '0'", "option enabled '1'")
       .replace("option user 'mailnook'", "")
       .replace("list listen '0.0.0.0:25'", "list listen '127.0.0.1:%d'\n\tlist listen '127.0.0.2:%d'" % (port, port))
       .replace("#list allow_from '192.168.1.0/24'", "list allow_from '192.168.1.0/24'\n\tlist allow_from '127.0.0.0/8'")
       .replace("#option tag_folders '1'", "option tag_folders 'yes'\n\toption timeout '120'")
       + "\nconfig alias\n\toption address 'family@lan'\n\tlist target 'admin@lan'\n\tlist target '@lan'\n")
if "stats" in FEATURES:
    uci = uci.replace("#option stats_file '/var/run/mailnook.prom'", "option stats_file '%s/stats.prom'" % TMP)
rc, out, body, log = openwrt_run(uci, 'config_load mailnook; mailnook_write_conf "$CONF"')
t.eq(rc, 0, "UCI: mailnook_write_conf translates the sample /etc/config/mailnook")
if not t.ok(body is not None, "UCI: it wrote mailnook.conf", out):
    body = ""
lines = [x for x in body.splitlines() if x and not x.startswith("#")]
for want in ("listen=127.0.0.1:%d" % port, "listen=127.0.0.2:%d" % port, "hostname=router.lan", "domain=lan",
             "max-message-size=10M", "max-sessions=8", "timeout=120", "allow-from=192.168.1.0/24",
             "allow-from=127.0.0.0/8", "tag-folders", "mailbox=admin@lan,%s/admin/Maildir" % mdir,
             "mailbox=@lan,%s/devices/Maildir" % mdir, "alias=postmaster@lan,admin@lan",
             "alias=family@lan,admin@lan,@lan"):
    t.ok(want in lines, "UCI: conf has %s" % want, body)
t.ok("enabled" not in body and "user=" not in body, "UCI: nothing that is not a mailnook option", body)
conf_path = os.path.join(TMP, "uci.conf")
with open(conf_path, "w") as f:
    f.write(body)
r = run([BIN, "-t", "-c", conf_path])
t.ok(r.returncode == 0 and "configuration OK" in text(r), "UCI: the generated conf passes mailnook -t", text(r))

rc, out, body, log = openwrt_run(uci, "start_service")
t.eq(rc, 0, "UCI: start_service succeeds", )
t.ok("procd: command %s -f -c " % BIN in log and "procd: respawn" in log and "procd: close" in log,
     "UCI: start_service starts mailnook -f -c CONF under procd", log + out)
rc, out, body, log = openwrt_run(uci, "reload_service")
t.ok(rc == 0 and "signal mailnook * HUP" in log, "UCI: reload_service re-translates and sends SIGHUP", log + out)
rc, out, body, log = openwrt_run(uci.replace("option enabled '1'", "option enabled '0'"), "start_service")
t.ok(rc == 0 and "procd: open" not in log, "UCI: enabled 0 starts nothing", log)
rc, out, body, log = openwrt_run(uci.replace("option hostname 'router.lan'", "option hostname 'a\nlisten=0.0.0.0:2526'"),
                                 'config_load mailnook; mailnook_write_conf "$CONF"')
t.ok(rc != 0 and body is None and "newline" in out, "UCI: a value with a newline is refused, no conf written", out)
rc, out, body, log = openwrt_run(uci + "\nconfig mailbox\n\toption address 'x@lan'\n",
                                 'config_load mailnook; mailnook_write_conf "$CONF"')
t.ok(rc != 0 and "needs address and maildir" in out, "UCI: a mailbox without maildir is refused", out)
rc, out, body, log = openwrt_run(uci.replace("list domain 'lan'", "list domain 'lan'\n\toption max_recipients '5'"),
                                 "start_service")
t.ok(rc != 0 and "procd: open" not in log and "max-recipients" in out,
     "UCI: a conf that fails mailnook -t is not started, the error is shown", out + log)
# No option is listed in the script: every option of the main section
# passes through, a list one line per item, a flag (as --help shows it) a
# UCI boolean; an unknown one is left for mailnook -t to name.
more = uci.replace("list domain 'lan'", "list domain 'lan'\n\toption strict_crlf 'on'\n"
                   "\tlist allow_bare_lf '10.0.0.0/8'\n\tlist allow_bare_lf '192.168.0.0/16'\n"
                   "\toption auth_any '0'\n\toption recipient_delimiter '-'")
rc, out, body, log = openwrt_run(more, 'config_load mailnook; mailnook_write_conf "$CONF"')
lines = [x for x in (body or "").splitlines() if x and not x.startswith("#")]
for want in ("strict-crlf", "allow-bare-lf=10.0.0.0/8", "allow-bare-lf=192.168.0.0/16", "recipient-delimiter=-"):
    t.ok(rc == 0 and want in lines, "UCI: passed through generically: %s" % want, out + (body or ""))
t.ok(not [x for x in lines if x.startswith("auth-any")], "UCI: a flag set to 0 is left out", body)
rc, out, body, log = openwrt_run(uci.replace("list domain 'lan'", "list domain 'lan'\n\toption allow_bare_lf '1'"),
                                 'config_load mailnook; mailnook_write_conf "$CONF"')
t.ok(rc == 0 and "allow-bare-lf" not in (body or ""), "UCI: the old allow_bare_lf boolean still means the default",
     out + (body or ""))
rc, out, body, log = openwrt_run(uci.replace("list domain 'lan'", "list domain 'lan'\n\toption max_sesions '4'"),
                                 "start_service")
t.ok(rc != 0 and "procd: open" not in log and "unknown option 'max-sesions'" in out,
     "UCI: a misspelt option is named by mailnook -t, nothing started", out + log)

# --- sysvinit: start, status, reload, stop the real binary -----------------
d = os.path.join(TMP, "sysv")
os.makedirs(d)
port = free_port()
conf = os.path.join(d, "mailnook.conf")
with open(conf, "w") as f:
    f.write("listen=127.0.0.1:%d\ndomain=localhost\nmailbox=user@localhost,%s/user\n" % (port, d))
defaults = os.path.join(d, "defaults")
pidfile = os.path.join(d, "mailnook.pid")
with open(defaults, "w") as f:
    f.write('DAEMON="%s"\nMAILNOOK_CONF="%s"\nPIDFILE="%s"\n' % (BIN, conf, pidfile))
init = os.path.join(C, "sysvinit", "mailnook")
env = {"MAILNOOK_DEFAULTS": defaults}


def listening(p, wait=10):
    deadline = time.time() + wait
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", p), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.1)
    return False


r = run(["sh", init, "check"], env=env)
t.ok(r.returncode == 0 and "configuration OK" in text(r), "sysvinit: check", text(r))
r = run(["sh", init, "start"], env=env)
t.ok(r.returncode == 0 and listening(port), "sysvinit: start (mailnook detaches and listens)", text(r))
pid = None
for _ in range(50):
    if os.path.exists(pidfile) and open(pidfile).read().strip():
        pid = int(open(pidfile).read())
        break
    time.sleep(0.1)
t.ok(pid is not None, "sysvinit: the pid file is written")
r = run(["sh", init, "status"], env=env)
t.ok(r.returncode == 0 and "running" in text(r), "sysvinit: status says running", text(r))
r = run(["sh", init, "start"], env=env)
t.ok(r.returncode == 0 and "already running" in text(r), "sysvinit: a second start does nothing", text(r))
r = run(["sh", init, "reload"], env=env)
time.sleep(0.5)
t.ok(r.returncode == 0 and pid and os.path.exists("/proc/%d" % pid) and listening(port, 2),
     "sysvinit: reload (SIGHUP) keeps it running", text(r))
r = run(["sh", init, "stop"], env=env)
gone = pid is not None and not os.path.exists("/proc/%d" % pid)
t.ok(r.returncode == 0 and gone and not os.path.exists(pidfile), "sysvinit: stop ends it and removes the pid file",
     text(r))
if pid and not gone:
    os.kill(pid, 9)
r = run(["sh", init, "status"], env=env)
t.eq(r.returncode, 3, "sysvinit: status after stop exits 3 (LSB: not running)")

# --- the OpenWrt and Buildroot recipes, through stubs of their frameworks ---
# Neither framework is here; these stubs run the recipes' own steps
# (prepare, configure, compile, install) with the host compiler, which is
# what can go wrong in them short of a real target toolchain.  Without TLS:
# the TLS variant only adds the BearSSL build (run it with
# MAILNOOK_PACKAGING_TLS=1 when Debian's BearSSL source is cached).
uthash_h = None
for cand in ("/usr/include/uthash.h",):
    if os.path.exists(cand):
        uthash_h = cand
tls_variant = os.environ.get("MAILNOOK_PACKAGING_TLS") == "1"
cache = os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.join(os.environ.get("HOME", "/tmp"), ".cache")),
                     "mailnook", "src")
bearssl_orig = sorted(x for x in (os.listdir(cache) if os.path.isdir(cache) else []) if ".orig.tar." in x)


def fake_uthash(dl):
    """the layout of uthash's release tarball, from the system's header"""
    os.makedirs(dl, exist_ok=True)
    p = os.path.join(dl, "uthash-2.3.0.tar.gz")
    with tarfile.open(p, "w:gz") as tf:
        tf.add(uthash_h, arcname="uthash-2.3.0/src/uthash.h")
    return p


OPENWRT_RULES = r'''
INCLUDE_DIR := $(TOPDIR)/include
PKG_BUILD_DIR = $(BUILD_ROOT)/$(PKG_NAME)-$(PKG_VERSION)
TARGET_CC := gcc
TARGET_AR := ar
TARGET_CFLAGS := -Os -pipe
TARGET_CPPFLAGS :=
TARGET_LDFLAGS :=
CP := cp -fpR
TAR := tar
INSTALL_DIR := install -d -m0755
INSTALL_BIN := install -m0755
INSTALL_CONF := install -m0600
'''
OPENWRT_PACKAGE = r'''
Download = $(eval DOWNLOADS += $(1))
define BuildPackage
compile:
	$$(Build/Prepare)
	$$(Build/Configure)
	$$(Build/Compile)
	$$(call Package/$(1)/install,$$(INSTALL_ROOT))
endef
'''
if uthash_h is None:
    t.skip("OpenWrt and Buildroot recipes", "uthash.h is not installed (uthash-dev)")
else:
    top = os.path.join(TMP, "openwrt")
    os.makedirs(os.path.join(top, "include"))
    with open(os.path.join(top, "rules.mk"), "w") as f:
        f.write(OPENWRT_RULES)
    with open(os.path.join(top, "include", "package.mk"), "w") as f:
        f.write(OPENWRT_PACKAGE)
    dl = os.path.join(top, "dl")
    fake_uthash(dl)
    argv = ["make", "-C", os.path.join(C, "openwrt"), "TOPDIR=" + top, "DL_DIR=" + dl,
            "BUILD_ROOT=" + os.path.join(top, "build"), "INSTALL_ROOT=" + os.path.join(top, "root"),
            "CONFIG_MAILNOOK_IPV6=y", "CONFIG_MAILNOOK_MAX_SESSIONS=4", "compile"]
    if tls_variant and bearssl_orig:
        shutil.copy(os.path.join(cache, bearssl_orig[-1]), dl)
        argv.insert(-1, "CONFIG_MAILNOOK_TLS=y")
    r = run(argv, timeout=900, env={})
    t.ok(r.returncode == 0, "OpenWrt recipe: prepare, configure, compile, install (stub SDK, host gcc%s)"
         % (", TLS" if "CONFIG_MAILNOOK_TLS=y" in argv else ""), text(r)[-3000:])
    root = os.path.join(top, "root")
    for f in ("usr/sbin/mailnook", "etc/init.d/mailnook", "etc/config/mailnook"):
        t.ok(os.path.isfile(os.path.join(root, f)), "OpenWrt recipe: installs /%s" % f)
    r = run([os.path.join(root, "usr/sbin/mailnook"), "-V"])
    t.ok(r.returncode == 0 and "sessions=4" in text(r)
         and ((" tls" in text(r)) == ("CONFIG_MAILNOOK_TLS=y" in argv)),
         "OpenWrt recipe: the binary has the menu's choices (4 sessions, TLS as chosen)", text(r))

    BR_STUB = r'''
# a stub of Buildroot's generic-package: each step's commands, in order,
# with $(@D) the package's build directory
TARGET_CONFIGURE_OPTS = CC=gcc AR=ar STRIP=strip CFLAGS="$(TARGET_CFLAGS)" LDFLAGS="$(TARGET_LDFLAGS)"
TARGET_CFLAGS = -Os
TARGET_CPPFLAGS = -isystem $(STAGING_DIR)/usr/include
TARGET_LDFLAGS =
TARGET_MAKE_ENV = PATH=$(PATH)
INSTALL = install
TAR = tar
qstrip = $(strip $(subst ",,$(1)))
UPPERCASE = $(shell echo $(1) | tr a-z- A-Z_)
pkgdir = $(dir $(lastword $(MAKEFILE_LIST)))
pkgname = $(lastword $(subst /, ,$(pkgdir)))
define inner-generic
$(2)_DIR := $(BUILD_DIR)/$(1)
$$($(2)_DIR)/.stamp_done:
	rm -rf $$(@D) && mkdir -p $$(@D)
	$$(if $$(filter local,$$($(2)_SITE_METHOD)),tar -C $$($(2)_SITE) --exclude=./build --exclude=./.git --exclude=./mailnook --exclude=./.config -cf - . | tar -C $$(@D) -xf -,tar -xzf $(DL_DIR)/$$($(2)_SOURCE) -C $$(@D) --strip-components=1)
	$$($(2)_CONFIGURE_CMDS)
	$$($(2)_BUILD_CMDS)
	$$($(2)_INSTALL_STAGING_CMDS)
	$$($(2)_INSTALL_TARGET_CMDS)
	$$($(2)_INSTALL_INIT_SYSV)
	$$($(2)_INSTALL_INIT_SYSTEMD)
	touch $$@
ALL_STAMPS += $$($(2)_DIR)/.stamp_done
endef
generic-package = $(call inner-generic,$(pkgname),$(call UPPERCASE,$(pkgname)))
include $(BR2_EXTERNAL_MAILNOOK_PATH)/external.mk
all: $(BUILD_DIR)/mailnook-uthash/.stamp_done $(BUILD_DIR)/mailnook/.stamp_done
'''
    br = os.path.join(TMP, "buildroot")
    os.makedirs(br)
    with open(os.path.join(br, "Makefile"), "w") as f:
        f.write(BR_STUB)
    dl = os.path.join(br, "dl")
    os.makedirs(dl)
    shutil.copy(fake_uthash(dl), os.path.join(dl, "v2.3.0.tar.gz"))
    argv = ["make", "-C", br, "BR2_EXTERNAL_MAILNOOK_PATH=" + os.path.join(C, "buildroot"),
            "BUILD_DIR=" + os.path.join(br, "build"), "DL_DIR=" + dl, "STAGING_DIR=" + os.path.join(br, "staging"),
            "TARGET_DIR=" + os.path.join(br, "target"), "BR2_PACKAGE_MAILNOOK_MAX_SESSIONS=4",
            "BR2_TOOLCHAIN_HAS_IPV6=y", "all"]
    r = run(argv, timeout=900, env={})
    t.ok(r.returncode == 0, "Buildroot recipe: configure, build, install (stub, host gcc)", text(r)[-3000:])
    target = os.path.join(br, "target")
    for f in ("usr/sbin/mailnook", "etc/mailnook.conf", "etc/init.d/S50mailnook",
              "usr/lib/systemd/system/mailnook.service"):
        t.ok(os.path.isfile(os.path.join(target, f)), "Buildroot recipe: installs /%s" % f)
    t.ok(os.path.isfile(os.path.join(br, "staging", "usr", "include", "uthash.h")),
         "Buildroot recipe: mailnook-uthash puts uthash.h in staging")
    r = run([os.path.join(target, "usr/sbin/mailnook"), "-V"])
    t.ok(r.returncode == 0 and "sessions=4" in text(r), "Buildroot recipe: the binary has 4 sessions", text(r))

shutil.rmtree(TMP, ignore_errors=True)
t.done()

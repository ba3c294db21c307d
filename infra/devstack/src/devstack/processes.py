"""Start and stop child processes so that none of them can outlive us.

Every child started through :func:`spawn`:

* leads a new session, hence its own process group, so :func:`stop_process` can signal the
  child together with everything it forked;
* asks the kernel (``PR_SET_PDEATHSIG``) to send it a signal when the thread that started it
  dies, so even a ``kill -9`` of the parent, which runs no cleanup, takes the child down;
* never shares the caller's stdin, stdout or stderr: its output goes to a log file or to a
  pipe the caller drains, so a lingering child can't keep a terminal or a pytest capture open.

Caveat inherited from the kernel: the death signal is tied to the *thread* that forked the
child, not to the process. Spawn from a thread that lives as long as the child (the main
thread, the event loop's thread, a supervisor's monitor thread), never from a short-lived
worker such as ``asyncio.to_thread``.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import pwd
import signal
import socket
import subprocess
import sys
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

__all__ = [
    "ProcessExitedError",
    "cpu_seconds_by_root",
    "describe_exit",
    "free_port",
    "group_listens_on",
    "log_path_of",
    "pid_is_alive",
    "port_is_open",
    "process_name",
    "spawn",
    "stop_process",
    "tail",
    "wait_for_port",
]

_PR_SET_PDEATHSIG = 1

# Loaded once here: the pre-exec hook runs between fork and exec, where loading a library
# (and taking the locks that involves) could deadlock if another thread held them at fork time.
_libc: ctypes.CDLL | None = (
    ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    if sys.platform.startswith("linux")
    else None
)

# Which log file each spawned child writes to, so errors can quote it without the caller
# having to carry the path around. Weak keys: the entry goes away with the Popen object.
_LOG_PATHS: weakref.WeakKeyDictionary[subprocess.Popen[bytes], Path] = weakref.WeakKeyDictionary()


class ProcessExitedError(RuntimeError):
    """A child exited (or never became ready) while we were waiting for it to serve."""


def _make_preexec(parent_pid: int, death_signal: int) -> Callable[[], None]:
    def preexec() -> None:
        # Runs in the child after fork and after any uid/gid switch (the kernel clears the
        # death signal when credentials change, so setting it last is what makes it stick).
        if _libc is not None:
            _libc.prctl(_PR_SET_PDEATHSIG, death_signal, 0, 0, 0)
        # If the parent died between fork() and prctl(), nobody will ever send the signal:
        # we have already been re-parented, so give up now instead of running orphaned.
        if os.getppid() != parent_pid:
            os.kill(os.getpid(), signal.SIGKILL)

    return preexec


def spawn(
    argv: Sequence[str | os.PathLike[str]],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    log_path: Path | None = None,
    stdout: int | IO[bytes] | None = None,
    user: str | None = None,
    death_signal: int = signal.SIGKILL,
) -> subprocess.Popen[bytes]:
    """Start ``argv`` as a contained child process.

    Output: with ``log_path`` stdout and stderr are appended to that file; otherwise they go to
    ``stdout`` (for example ``subprocess.PIPE``, which the caller must then drain), and when
    neither is given to ``/dev/null``. stderr always follows stdout.

    ``user`` runs the child as that account (its primary group, no supplementary groups),
    which needs root. ``death_signal`` is what the child receives if our thread dies first.
    """
    if log_path is not None and stdout is not None:
        raise ValueError("give either log_path or stdout, not both")
    uid: int | None = None
    gid: int | None = None
    if user is not None:
        entry = pwd.getpwnam(user)
        uid, gid = entry.pw_uid, entry.pw_gid
    log_file: IO[bytes] | None = None
    if log_path is not None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_file = open(log_path, "ab")  # noqa: SIM115 - handed to the child, closed below
        out: int | IO[bytes] = log_file
    else:
        out = subprocess.DEVNULL if stdout is None else stdout
    try:
        proc = subprocess.Popen(  # noqa: S603 - argv comes from our own code, never a shell
            [os.fspath(a) for a in argv],
            env=dict(env) if env is not None else None,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            user=uid,
            group=gid,
            extra_groups=[] if uid is not None else None,
            preexec_fn=_make_preexec(os.getpid(), death_signal),
        )
    finally:
        # The child holds its own descriptor now; ours would only leak.
        if log_file is not None:
            log_file.close()
    if log_path is not None:
        _LOG_PATHS[proc] = log_path
    return proc


def log_path_of(proc: subprocess.Popen[bytes]) -> Path | None:
    """The log file a child started by :func:`spawn` writes to, if any."""
    return _LOG_PATHS.get(proc)


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def stop_process(
    proc: subprocess.Popen[bytes],
    timeout: float = 10.0,
    *,
    sig: int = signal.SIGTERM,
    whole_group: bool = True,
) -> int | None:
    """Stop a child started by :func:`spawn` and everything in its process group.

    Sends ``sig`` (to the whole group, or to the leader only when ``whole_group`` is false,
    for servers such as PostgreSQL that want the signal on their main process), waits up to
    ``timeout`` seconds, then SIGKILLs the group. Returns the leader's exit code. Safe to call
    twice or on a child that already exited.
    """
    pgid = proc.pid  # a session leader's pid is also its process group id
    if proc.poll() is None:
        if whole_group:
            _signal_group(pgid, sig)
        else:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            _signal_group(pgid, signal.SIGKILL)
            proc.wait()
    # Sweep up grandchildren that outlived the leader. Only while some are alive: they keep
    # the group id reserved, whereas an empty group's id could by now belong to a stranger.
    if _live_members(pgid):
        _signal_group(pgid, signal.SIGKILL)
        # Signals land asynchronously: wait until the members are really gone, so that
        # "stopped" means no process of ours holds a port or a file any more.
        deadline = time.monotonic() + 5.0
        while _live_members(pgid) and time.monotonic() < deadline:
            time.sleep(0.01)
    for stream in (proc.stdout, proc.stderr, proc.stdin):
        if stream is not None:
            stream.close()
    return proc.returncode


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free right now (another process could still take it before us)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def port_is_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def tail(path: Path | None, lines: int = 30) -> str:
    """The last ``lines`` lines of a text file, or a note saying why there are none."""
    if path is None:
        return "(no log file)"
    try:
        with open(path, "rb") as handle:
            # Reading the end only: a long-running server's log can be large.
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 64 * 1024))
            data = handle.read()
    except OSError as exc:
        return f"(cannot read {path}: {exc.strerror})"
    text = data.decode("utf-8", "replace").splitlines()[-lines:]
    return "\n".join(text) if text else f"({path} is empty)"


def describe_exit(returncode: int) -> str:
    """``exit code 3`` or ``killed by SIGKILL``, for messages."""
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit code {returncode}"


def _socket_inodes(pid: int) -> set[str]:
    inodes: set[str] = set()
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return inodes
    for fd in fds:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def _stat_fields() -> dict[int, list[str]]:
    """Every process's /proc/<pid>/stat fields after the command name (state, ppid, pgrp, ...);
    the name is in parentheses and may hold spaces, so the split starts after the last ')'."""
    table: dict[int, list[str]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        table[int(entry)] = stat.rpartition(")")[2].split()
    return table


def _group_members(pgid: int) -> list[int]:
    return [
        pid
        for pid, fields in _stat_fields().items()
        if len(fields) > 2 and fields[2] == str(pgid)  # state, ppid, pgrp
    ]


def descendants(root: int) -> set[int]:
    """Every live process below ``root`` (children, their children, ...), from /proc's parent
    links: what a test checks is gone after it stopped a launcher."""
    parents = {pid: int(fields[1]) for pid, fields in _stat_fields().items() if len(fields) > 1}
    found: set[int] = set()
    frontier = {root}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return {pid for pid in found if pid_is_alive(pid)}


_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds_by_root(roots: Mapping[str, int | None]) -> dict[str, float]:
    """CPU seconds (user and system) used so far by each named process and everything below
    it, from one reading of /proc.

    Each live process counts its own time plus that of the children it reaped, so a
    PostgreSQL backend that exited since is still counted (in the postmaster's share)."""
    table = _stat_fields()
    children: dict[int, list[int]] = {}
    for pid, fields in table.items():
        if len(fields) > 1:
            children.setdefault(int(fields[1]), []).append(pid)

    def own(pid: int) -> float:
        # utime, stime, cutime, cstime: fields 14-17 of proc(5), counted from 1.
        fields = table[pid]
        return sum(int(fields[i]) for i in (11, 12, 13, 14)) / _TICKS

    result: dict[str, float] = {}
    for name, root in roots.items():
        total = 0.0
        todo = [root] if root is not None and root in table else []
        while todo:
            pid = todo.pop()
            total += own(pid)
            todo.extend(children.get(pid, []))
        result[name] = total
    return result


def _live_members(pgid: int) -> list[int]:
    return [pid for pid in _group_members(pgid) if pid_is_alive(pid)]


def group_listens_on(pgid: int, port: int) -> bool:
    """Whether some process in group ``pgid`` has a TCP socket listening on ``port``.

    Tells our server apart from a stranger that already held the port: a plain connect()
    would succeed either way and declare the wrong process ready.
    """
    inodes: set[str] = set()
    for pid in _group_members(pgid):
        inodes |= _socket_inodes(pid)
    if not inodes:
        return False
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            # local_address is HEXIP:HEXPORT, state 0A is LISTEN, field 9 is the inode.
            if (
                len(fields) > 9
                and fields[3] == "0A"
                and int(fields[1].rsplit(":", 1)[1], 16) == port
                and fields[9] in inodes
            ):
                return True
    return False


def _program_name(proc: subprocess.Popen[bytes]) -> str:
    args = proc.args
    first = args[0] if isinstance(args, list | tuple) else args
    return Path(os.fsdecode(first)).name if isinstance(first, str | bytes | os.PathLike) else "?"


def wait_for_port(
    host: str,
    port: int,
    timeout: float,
    proc: subprocess.Popen[bytes] | None = None,
    *,
    log_path: Path | None = None,
    name: str | None = None,
) -> None:
    """Block until ``host:port`` accepts connections.

    With ``proc``, the listener must be that process (or one in its group), and we fail as
    soon as it exits instead of waiting out the timeout.
    Errors quote the end of the child's log (``log_path``, or the one :func:`spawn` recorded).
    """
    label = name or (_program_name(proc) if proc is not None else f"{host}:{port}")
    if log_path is None and proc is not None:
        log_path = log_path_of(proc)
    deadline = time.monotonic() + timeout
    while True:
        if proc is not None and proc.poll() is not None:
            raise ProcessExitedError(
                f"{label} exited ({describe_exit(proc.returncode)}) before listening on "
                f"{host}:{port}; end of its log {log_path or ''}:\n{tail(log_path)}"
            )
        if port_is_open(host, port, timeout=0.2) and (
            proc is None or group_listens_on(proc.pid, port)
        ):
            return
        if time.monotonic() >= deadline:
            raise ProcessExitedError(
                f"{label} did not listen on {host}:{port} within {timeout:.0f} s; "
                f"end of its log {log_path or ''}:\n{tail(log_path)}"
            )
        time.sleep(0.05)


def pid_is_alive(pid: int) -> bool:
    """Whether a process with this pid exists and has not exited.

    Zombies count as dead: an orphan whose new parent is slow to reap it still shows up in
    the process table, but it holds no ports, files or locks any more.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:  # pragma: no cover - /proc unreadable: fall back to asking the kernel
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    # The state letter follows the command name, which is in parentheses and may hold spaces.
    state = stat.rpartition(")")[2].split()[0]
    return state not in ("Z", "X")


def process_name(pid: int) -> str | None:
    """The kernel's short command name of a live process (``postgres``), or None."""
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return None

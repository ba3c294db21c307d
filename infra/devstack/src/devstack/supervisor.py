"""Run a few long-lived commands side by side, like a tiny Procfile runner.

Each child's output is shown line by line behind a ``name |`` prefix. A child that exits on
its own is started again after a back-off that doubles from 0.5 s up to 30 s and drops back
to 0.5 s once a run has lasted a minute, so a crash loop neither spins nor stalls forever.
On SIGINT or SIGTERM every child's process group gets SIGTERM, then SIGKILL if it lingers.

One thread per child reads its output and restarts it; that same thread spawns it, which
matters because a child's parent-death signal is bound to the thread that forked it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType, TracebackType
from typing import TextIO

from devstack.processes import describe_exit, spawn, stop_process

__all__ = ["ProcessSpec", "Supervisor", "http_ok"]

_COLOURS = ("36", "33", "35", "32", "34", "91", "96", "93")
_SUPERVISOR = "devstack"

# Plain HTTP to loopback: a proxy from the environment (HTTP_PROXY) must not get in the way.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_ok(url: str, timeout: float = 2.0) -> bool:
    """Whether a GET of ``url`` answers 200."""
    try:
        with _opener.open(url, timeout=timeout) as response:
            return bool(response.status == 200)
    except (OSError, urllib.error.URLError, ValueError):
        return False


@dataclass(frozen=True)
class ProcessSpec:
    """One command to keep running. ``env`` is the child's whole environment when given."""

    name: str
    argv: Sequence[str]
    env: Mapping[str, str] | None = None
    ready_url: str | None = None
    cwd: Path | None = None


@dataclass
class _Child:
    spec: ProcessSpec
    proc: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    generation: int = 0
    ready: bool = False
    last_exit: int | None = None
    threads: list[threading.Thread] = field(default_factory=list)


class Supervisor:
    """Keeps every :class:`ProcessSpec` running until :meth:`stop` (or a signal in :meth:`run`)."""

    def __init__(
        self,
        specs: Sequence[ProcessSpec],
        *,
        out: TextIO | None = None,
        stop_timeout: float = 10.0,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        healthy_after: float = 60.0,
        ready_interval: float = 0.5,
    ) -> None:
        names = [spec.name for spec in specs]
        if len(set(names)) != len(names):
            raise ValueError(f"process names must be unique: {names}")
        self._children = {spec.name: _Child(spec) for spec in specs}
        self._out = out if out is not None else sys.stdout
        self.stop_timeout = stop_timeout
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.healthy_after = healthy_after
        self.ready_interval = ready_interval
        self._lock = threading.Lock()
        self._ready_changed = threading.Condition(self._lock)
        self._out_lock = threading.Lock()
        self._stopping = threading.Event()
        self._stop_requested = threading.Event()
        self._started = False
        colour = _wants_colour(self._out)
        width = max([len(_SUPERVISOR), *map(len, names)])
        self._prefixes = {
            name: _prefix(name, width, _COLOURS[i % len(_COLOURS)] if colour else None)
            for i, name in enumerate([_SUPERVISOR, *names])
        }

    # -- output ------------------------------------------------------------------------

    def log(self, text: str, name: str = _SUPERVISOR) -> None:
        """Print ``text`` behind ``name``'s prefix (the supervisor's own by default)."""
        prefix = self._prefixes.get(name, f"{name} | ")
        lines = [f"{prefix}{line}".rstrip() + "\n" for line in text.splitlines() or [""]]
        # A closed or broken stdout (`devstack up | head`) must not kill the thread that
        # drains a child's pipe: the child would block on its next write.
        with self._out_lock, contextlib.suppress(OSError, ValueError):
            self._out.write("".join(lines))
            self._out.flush()

    # -- queries -----------------------------------------------------------------------

    @property
    def names(self) -> list[str]:
        return list(self._children)

    def pid(self, name: str) -> int | None:
        proc = self._children[name].proc
        return proc.pid if proc is not None else None

    def restarts(self, name: str) -> int:
        return self._children[name].restarts

    def last_exit(self, name: str) -> int | None:
        return self._children[name].last_exit

    def is_ready(self, name: str) -> bool:
        child = self._children[name]
        return child.ready if child.spec.ready_url else child.proc is not None

    def not_ready(self) -> list[str]:
        return [name for name in self._children if not self.is_ready(name)]

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Block until every child with a ``ready_url`` answers 200 there (or stop/timeout)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._ready_changed:
            while self.not_ready():
                if self._stop_requested.is_set() or self._stopping.is_set():
                    return False
                remaining = 0.2 if deadline is None else min(0.2, deadline - time.monotonic())
                if remaining <= 0:
                    return False
                self._ready_changed.wait(remaining)
            return True

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        if self._started:
            raise RuntimeError("a Supervisor can be started once")
        self._started = True
        for child in self._children.values():
            monitor = threading.Thread(
                target=self._monitor, args=(child,), name=f"supervise-{child.spec.name}"
            )
            child.threads.append(monitor)
            if child.spec.ready_url:
                probe = threading.Thread(
                    target=self._watch_ready, args=(child,), name=f"ready-{child.spec.name}"
                )
                child.threads.append(probe)
            for thread in child.threads:
                thread.daemon = True
                thread.start()

    def _monitor(self, child: _Child) -> None:
        spec = child.spec
        backoff = self.backoff_initial
        while True:
            with self._lock:
                # Checked under the lock stop() takes, so no child is born after stop()
                # collected the ones to kill.
                if self._stopping.is_set():
                    return
                try:
                    proc = spawn(spec.argv, env=spec.env, cwd=spec.cwd, stdout=subprocess.PIPE)
                except OSError as exc:
                    proc = None
                    self.log(f"{spec.name}: cannot start {spec.argv[0]!r}: {exc}")
                else:
                    child.proc = proc
                    child.generation += 1
            started = time.monotonic()
            if proc is not None:
                assert proc.stdout is not None
                for raw in proc.stdout:
                    self.log(raw.decode("utf-8", "replace").rstrip("\r\n"), spec.name)
                code = proc.wait()
                # Whatever it forked goes with it; this also closes our end of the pipe.
                stop_process(proc, timeout=0)
                with self._ready_changed:
                    child.proc = None
                    child.ready = False
                    child.last_exit = code
                    self._ready_changed.notify_all()
                if self._stopping.is_set():
                    return
                ran = time.monotonic() - started
                if ran >= self.healthy_after:
                    backoff = self.backoff_initial
                what = f"{spec.name} exited ({describe_exit(code)}) after {ran:.1f} s"
            else:
                what = f"{spec.name} failed to start"
            child.restarts += 1
            self.log(f"{what}; restart {child.restarts} in {backoff:g} s")
            if self._stopping.wait(backoff):
                return
            backoff = min(backoff * 2, self.backoff_max)

    def _watch_ready(self, child: _Child) -> None:
        url = child.spec.ready_url
        assert url is not None
        while not self._stopping.is_set():
            generation, proc = child.generation, child.proc
            if proc is not None and not child.ready and http_ok(url):
                with self._ready_changed:
                    # Only if it is still the same run that answered.
                    if child.generation == generation and child.proc is proc:
                        child.ready = True
                        self._ready_changed.notify_all()
                        self.log(f"{child.spec.name} is ready ({url})")
                continue
            self._stopping.wait(self.ready_interval)

    def request_stop(self) -> None:
        """Ask :meth:`run` to return; safe from a signal handler or another thread."""
        self._stop_requested.set()

    def stop(self) -> None:
        """Stop every child (SIGTERM to its group, SIGKILL after ``stop_timeout``)."""
        with self._lock:
            self._stopping.set()
            procs = [(n, c.proc) for n, c in self._children.items() if c.proc is not None]
        # Signal all first so they shut down in parallel, then wait for each in turn.
        for _name, proc in procs:
            # Only while the leader is unreaped does its pid still name our group.
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout
        for name, proc in procs:
            try:
                proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                self.log(f"{name} did not stop within {self.stop_timeout:g} s: killed")
        # Each monitor thread then reads its child's output to the end, sweeps the rest of
        # the child's group and exits; the pipes are theirs to close, not ours.
        for child in self._children.values():
            for thread in child.threads:
                thread.join(timeout=self.stop_timeout)
        with self._ready_changed:
            self._ready_changed.notify_all()

    def run(
        self,
        on_ready: Callable[[list[str]], None] | None = None,
        *,
        ready_timeout: float = 120.0,
    ) -> int:
        """Start everything and block until SIGINT/SIGTERM (or :meth:`request_stop`), then stop.

        ``on_ready`` is called once, with an empty list when every child reported ready, or
        with the names still not ready after ``ready_timeout`` seconds.
        """
        previous: dict[signal.Signals, Callable[[int, FrameType | None], object] | int | None]
        previous = {}
        if threading.current_thread() is threading.main_thread():

            def on_signal(signum: int, frame: FrameType | None) -> None:
                self.request_stop()

            for sig in (signal.SIGINT, signal.SIGTERM):
                previous[sig] = signal.signal(sig, on_signal)
        try:
            self.start()
            if on_ready is not None:
                self.wait_ready(ready_timeout)
                if not self._stop_requested.is_set():
                    on_ready(self.not_ready())
            # A timed wait keeps the main thread able to run signal handlers.
            while not self._stop_requested.wait(0.5):
                pass
            self.log("stopping")
        finally:
            self.stop()
            for sig, handler in previous.items():
                if handler is not None:  # None: installed outside Python, cannot restore
                    signal.signal(sig, handler)
        return 0

    def __enter__(self) -> Supervisor:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _wants_colour(out: TextIO) -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    try:
        return out.isatty()
    except (AttributeError, ValueError):
        return False


def _prefix(name: str, width: int, colour: str | None) -> str:
    label = f"{name:<{width}} |"
    return f"\x1b[{colour}m{label}\x1b[0m " if colour else f"{label} "

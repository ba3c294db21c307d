"""What every embedded server shares: an address on loopback, a start that returns once the
server answers (or fails quoting its log), a stop that leaves nothing behind, restart and kill.

A subclass says how to launch its server (:meth:`EmbeddedServer._launch`: a child process
through :func:`devstack.processes.spawn`, or a thread in this process), how to tell it is
ready (:meth:`EmbeddedServer._probe`) and how to halt it (:meth:`EmbeddedServer._halt`).
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import ClassVar, Self

from devstack.errors import DevstackError
from devstack.processes import describe_exit, free_port, port_is_open, stop_process, tail

__all__ = ["HOST", "EmbeddedServer", "ServerError"]

HOST = "127.0.0.1"


class ServerError(DevstackError):
    """An embedded server could not be started, or did not answer."""


class EmbeddedServer:
    """One server on ``<host>:<port>``, 127.0.0.1 and a free port (chosen once) by default."""

    #: The server's name in messages: "PostgreSQL", "the broker".
    label: ClassVar[str] = "the server"
    #: What a failure to start raises.
    error: ClassVar[type[ServerError]] = ServerError

    def __init__(
        self, port: int | None = None, *, host: str = HOST, log_path: Path | None = None
    ) -> None:
        self._host = host
        self._port = port
        self.log_path = log_path
        self._proc: subprocess.Popen[bytes] | None = None

    # -- addresses ---------------------------------------------------------------------

    @property
    def host(self) -> str:
        return self._host

    @property
    def port(self) -> int:
        if self._port is None:
            self._port = free_port(self.host)
        return self._port

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        """The server's process while it runs in a child process of ours."""
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    # -- what a subclass provides ------------------------------------------------------

    def _launch(self) -> subprocess.Popen[bytes] | None:
        """Start the server; its child process, or None when it runs in this process."""
        raise NotImplementedError

    def _probe(self) -> str | None:
        """None once the server answers on its port, else why not yet. Blocks at most ~1 s."""
        raise NotImplementedError

    def _halt(self, proc: subprocess.Popen[bytes] | None, timeout: float) -> None:
        """Stop the server ``_launch`` started (``proc`` is what it returned)."""
        if proc is not None:
            stop_process(proc, timeout)

    def _stopped(self) -> None:
        """Clean up after the server stopped or was killed (temp files, sockets)."""

    # -- lifecycle ---------------------------------------------------------------------

    def _begin(self) -> None:
        if port_is_open(self.host, self.port):
            raise self.error(f"cannot start {self.label}: {self.address} is already in use")
        self._proc = self._launch()

    def _check(self, deadline: float, timeout: float) -> bool:
        """One readiness attempt: True when ready; raises once the server exited or the
        deadline passed, quoting the end of its log."""
        proc = self._proc
        if proc is not None and proc.poll() is not None:
            raise self.error(
                f"{self.label} exited ({describe_exit(proc.returncode)}) during startup on "
                f"port {self.port}; end of {self.log_path}:\n{tail(self.log_path)}"
            )
        reason = self._probe()
        if reason is None:
            return True
        if time.monotonic() >= deadline:
            raise self.error(
                f"{self.label} did not answer on {self.address} within {timeout:.0f} s "
                f"({reason}); end of {self.log_path}:\n{tail(self.log_path)}"
            )
        return False

    def start(self, timeout: float = 60.0) -> None:
        """Start the server and block until it answers. A child process started here dies
        with the calling thread: call from a thread that lives as long as the server."""
        if self.running:
            return
        self._begin()
        deadline = time.monotonic() + timeout
        try:
            while not self._check(deadline, timeout):
                time.sleep(0.05)
        except BaseException:
            self.stop()
            raise

    async def astart(self, timeout: float = 60.0) -> None:
        """Like :meth:`start`, but yields to the event loop while waiting."""
        if self.running:
            return
        # Launched on the loop's own thread, never in a worker thread: the child's
        # parent-death signal belongs to the thread that forked it.
        self._begin()
        deadline = time.monotonic() + timeout
        try:
            # The probe blocks for up to a second, so it runs off the loop's thread.
            while True:
                if await asyncio.to_thread(self._check, deadline, timeout):
                    break
                await asyncio.sleep(0.05)
        except BaseException:
            self.stop()
            raise

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the server and everything it started; safe to call twice or when not running."""
        proc, self._proc = self._proc, None
        try:
            self._halt(proc, timeout)
        finally:
            self._stopped()

    async def astop(self, timeout: float = 30.0) -> None:
        await asyncio.to_thread(self.stop, timeout)

    def restart(self, timeout: float = 60.0) -> None:
        """Stop and start again on the same port."""
        self.stop()
        self.start(timeout)

    def kill(self) -> None:
        """SIGKILL the server, as a crash would, and wait until everything it started is gone."""
        proc, self._proc = self._proc, None
        try:
            if proc is not None:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                stop_process(proc, timeout=0)
            else:
                self._halt(None, 0)
        finally:
            self._stopped()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        await self.astart()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.astop()

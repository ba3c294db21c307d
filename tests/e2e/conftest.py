"""The three services as separate processes, exactly as `make dev` runs them, on the test's
own databases, topic namespace and SMTP server."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from devstack.processes import free_port, spawn, stop_process
from devstack.smtp_sink import SmtpSink
from devstack.testing import KafkaHandle

from tests.support.services import OPERATOR_KEY

SERVICES = ("profile", "matching", "notification")


@dataclass(frozen=True)
class Stack:
    urls: dict[str, str]
    logs: dict[str, Path]
    namespace: str
    #: Each service's DATABASE_URL, for tests that look into what a service keeps.
    databases: dict[str, str]

    def log_tail(self, lines: int = 30) -> str:
        tails = []
        for name, path in self.logs.items():
            text = path.read_text(errors="replace").splitlines()[-lines:] if path.exists() else []
            tails.append(f"--- {name} ---\n" + "\n".join(text))
        return "\n".join(tails)


@pytest.fixture
async def stack(
    kafka: KafkaHandle,
    namespace: str,
    new_database: Callable[[str], Awaitable[str]],
    smtp_sink: SmtpSink,
    tmp_path: Path,
) -> AsyncIterator[Stack]:
    ports = {name: free_port() for name in SERVICES}
    logs = {name: tmp_path / f"{name}.log" for name in SERVICES}
    databases: dict[str, str] = {}
    processes = []
    try:
        for name in SERVICES:
            databases[name] = await new_database(name)
            env = {
                **os.environ,
                "DATABASE_URL": databases[name],
                "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
                "KAFKA_TOPIC_NAMESPACE": namespace,
                "KAFKA_SESSION_TIMEOUT_MS": "4000",
                "KAFKA_HEARTBEAT_INTERVAL_MS": "1000",
                "OUTBOX_POLL_INTERVAL_SECONDS": "0.2",
                "HTTP_PORT": str(ports[name]),
                "SMTP_HOST": "127.0.0.1",
                "SMTP_PORT": str(smtp_sink.port),
                "LOG_FORMAT": "json",
                "OPERATOR_API_KEY": OPERATOR_KEY,
                # The matcher's operator dashboard reads the other two services' /metrics.
                "DASHBOARD_PROFILE_URL": f"http://127.0.0.1:{ports['profile']}",
                "DASHBOARD_NOTIFICATION_URL": f"http://127.0.0.1:{ports['notification']}",
            }
            processes.append(
                spawn([sys.executable, "-m", f"{name}_service"], env=env, log_path=logs[name])
            )
        stack = Stack(
            urls={name: f"http://127.0.0.1:{port}" for name, port in ports.items()},
            logs=logs,
            namespace=namespace,
            databases=databases,
        )
        await _wait_until_ready(stack)
        yield stack
    finally:
        for process in processes:
            stop_process(process)


async def _wait_until_ready(stack: Stack) -> None:
    deadline = time.monotonic() + 90
    async with httpx.AsyncClient(timeout=2) as client:
        for name, url in stack.urls.items():
            while True:
                try:
                    if (await client.get(f"{url}/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise AssertionError(f"{name} did not become ready\n{stack.log_tail()}")
                await asyncio.sleep(0.2)

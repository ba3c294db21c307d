"""The life of a service process: connect, migrate, set up topics, consume, relay, serve, stop.

Each service describes itself (settings, migrations, consumers, background workers) and gets
a FastAPI lifespan that starts everything in order and stops it in reverse on SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Annotated, Protocol

import asyncpg
from aiokafka.errors import KafkaError
from fastapi import APIRouter, Depends, FastAPI, Request
from faststream.kafka import KafkaBroker

from ..contracts.topics import topic_partitions
from . import metrics
from .auth import bearer_token, is_operator
from .broker import create_broker, ensure_topics, subscribe
from .consumer import EventConsumer
from .database import apply_migrations, connect_pool, load_migrations, plumbing_migrations
from .http import ERROR_RESPONSES, ApiError, install_error_handlers, install_operational_routes
from .limits import RequestBodyLimit
from .outbox import OutboxRelay, pending_count
from .settings import ServiceSettings

log = logging.getLogger(__name__)


class BackgroundWorker(Protocol):
    """A long-running task of a service, such as the mail dispatcher."""

    async def start(self, pool: asyncpg.Pool) -> None: ...

    async def stop(self) -> None: ...


class ServiceRuntime:
    """Owns a service's pool, broker, outbox relay, consumers and workers."""

    def __init__(
        self,
        settings: ServiceSettings,
        *,
        migrations_dir: Path,
        consumers: Sequence[EventConsumer] = (),
        workers: Sequence[BackgroundWorker] = (),
    ) -> None:
        self.settings = settings
        self._migrations_dir = migrations_dir
        self.consumers = list(consumers)
        self._workers = list(workers)
        self.broker: KafkaBroker = create_broker(
            settings.kafka_bootstrap_servers,
            enable_idempotence=settings.kafka_enable_idempotence,
            client_id=settings.service_name,
        )
        for consumer in self.consumers:
            subscribe(
                self.broker,
                consumer,
                namespace=settings.kafka_topic_namespace,
                group_prefix=settings.consumer_group_prefix,
                session_timeout_ms=settings.kafka_session_timeout_ms,
                heartbeat_interval_ms=settings.kafka_heartbeat_interval_ms,
            )
        self._pool: asyncpg.Pool | None = None
        self.relay: OutboxRelay | None = None

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("the service has not started")
        return self._pool

    async def start(self) -> None:
        settings = self.settings
        started = time.monotonic()
        self._pool = await connect_pool(
            settings.database_url,
            min_size=settings.db_pool_min_size,
            max_size=settings.db_pool_max_size,
            timeout=settings.startup_timeout_seconds,
        )
        await apply_migrations(
            self._pool,
            plumbing_migrations() + load_migrations("service", self._migrations_dir),
        )
        if settings.kafka_create_topics:
            await ensure_topics(
                settings.kafka_bootstrap_servers,
                topic_partitions(settings.kafka_topic_namespace),
                timeout=settings.startup_timeout_seconds,
            )
        self.relay = OutboxRelay(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            service=settings.service_name,
            topic_namespace=settings.kafka_topic_namespace,
            enable_idempotence=settings.kafka_enable_idempotence,
            batch_size=settings.outbox_batch_size,
            poll_interval=settings.outbox_poll_interval_seconds,
            retention_hours=settings.outbox_retention_hours,
        )
        await self.relay.start(self._pool)
        for consumer in self.consumers:
            consumer.bind(
                self._pool,
                producer=settings.service_name,
                max_attempts=settings.consumer_max_attempts,
                retry_base_seconds=settings.consumer_retry_base_seconds,
            )
        await self._start_broker()
        for worker in self._workers:
            await worker.start(self._pool)
        log.info(
            "%s started in %.1f s",
            settings.service_name,
            time.monotonic() - started,
            extra={"http": f"http://{settings.http_host}:{settings.http_port}"},
        )

    async def _start_broker(self) -> None:
        deadline = time.monotonic() + self.settings.startup_timeout_seconds
        delay = 0.2
        while True:
            try:
                await self.broker.start()
                return
            except (KafkaError, OSError) as error:
                with contextlib.suppress(Exception):
                    await self.broker.stop()
                if time.monotonic() + delay > deadline:
                    raise RuntimeError(
                        f"Kafka at {self.settings.kafka_bootstrap_servers} did not answer: {error!r}"
                    ) from error
                log.info("waiting for Kafka (%s)", type(error).__name__)
                await asyncio.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 5.0)

    async def stop(self) -> None:
        for worker in reversed(self._workers):
            with contextlib.suppress(Exception):
                await worker.stop()
        # Stopping the broker cancels in-flight handlers before they commit their offsets;
        # their transactions roll back and the events are delivered again after a restart.
        with contextlib.suppress(Exception):
            await self.broker.stop()
        if self.relay is not None:
            await self.relay.stop()
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
        log.info("%s stopped", self.settings.service_name)

    async def readiness(self) -> dict[str, str]:
        checks: dict[str, str] = {}
        try:
            async with self.pool.acquire(timeout=2) as conn:
                pending = await pending_count(conn)
            metrics.OUTBOX_PENDING.labels(self.settings.service_name).set(pending)
            checks["database"] = "ok"
        except Exception as error:
            checks["database"] = f"unavailable: {type(error).__name__}"
        try:
            checks["broker"] = "ok" if await self.broker.ping(timeout=2) else "unavailable"
        except Exception as error:
            checks["broker"] = f"unavailable: {type(error).__name__}"
        checks["outbox_relay"] = (
            "ok" if self.relay is not None and self.relay.running else "stopped"
        )
        return checks

    @contextlib.asynccontextmanager
    async def lifespan(self, app: FastAPI) -> AsyncIterator[None]:
        app.state.runtime = self
        try:
            await self.start()
            yield
        finally:
            # Also after a failed start: whatever did start (pool, relay) is stopped.
            await self.stop()


def _runtime(request: Request) -> ServiceRuntime:
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime


def _pool(request: Request) -> asyncpg.Pool:
    return _runtime(request).pool


#: FastAPI dependency: the service's connection pool.
PoolDep = Annotated[asyncpg.Pool, Depends(_pool)]
RuntimeDep = Annotated[ServiceRuntime, Depends(_runtime)]


def create_service_app(
    runtime: ServiceRuntime, *, title: str, description: str, routers: Sequence[APIRouter]
) -> FastAPI:
    """A FastAPI app with the runtime's lifespan, the shared error shape and operational routes."""
    app = FastAPI(title=title, description=description, version="1.0.0", lifespan=runtime.lifespan)
    app.state.runtime = runtime
    install_error_handlers(app)
    app.add_middleware(RequestBodyLimit, max_bytes=runtime.settings.max_request_body_bytes)
    install_operational_routes(app, runtime.readiness)
    for router in routers:
        # Every route documents our 422 body instead of FastAPI's default one.
        app.include_router(router, responses=ERROR_RESPONSES)
    return app


def _operator(request: Request, runtime: RuntimeDep) -> None:
    """Operator routes: the operator key as a bearer token, or 401/403."""
    token = bearer_token(request)
    if runtime.settings.operator_api_key is None:
        raise ApiError(
            403,
            "operator_key_not_configured",
            "This service was started without OPERATOR_API_KEY, so operator calls are refused; "
            "set it in the service's environment.",
        )
    if not is_operator(token, runtime.settings.operator_api_key):
        raise ApiError(403, "forbidden", "This call needs the operator key.")


#: FastAPI dependency for routes only operators may call.
OperatorDep = Annotated[None, Depends(_operator)]

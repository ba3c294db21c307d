"""The life of a service process: connect, migrate, set up topics, consume, relay, serve, stop.

Each service describes itself (settings, migrations, consumers, background workers) and gets
a FastAPI lifespan that starts everything in order and stops it in reverse on SIGTERM.

The service's consumers share one Kafka consumer, in one consumer group named after the service
(`ConsumerGroup`). Stopping (uvicorn runs the lifespan's exit on SIGTERM) goes: the consumers
stop taking records and their partitions are paused; the batch in hand gets
`SHUTDOWN_GRACE_SECONDS` to finish its transactions and is cancelled otherwise; what is
finished is committed (see `ConsumerGroup.drain`); then the workers, the broker (FastStream's
own graceful wait finds nothing in flight), the outbox relay (pending rows stay pending for the
next instance) and the pool stop.

While running, a monitor samples each consumer's lag into a `StallDetector`; `/healthz` answers
503 when a consumer made no progress for `CONSUMER_STALL_SECONDS` while it had lag.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

import asyncpg
from aiokafka.errors import KafkaError
from fastapi import APIRouter, FastAPI
from faststream.kafka import KafkaBroker
from starlette.types import ASGIApp, Receive, Scope, Send

from ..contracts.topics import topic_partitions
from . import metrics
from .asyncapi import asyncapi_document, document_publications
from .broker import create_broker, ensure_topics
from .consumer import EventConsumer
from .consumer_group import ConsumerGroup
from .database import (
    apply_migrations,
    connect_pool,
    load_migrations,
    plumbing_migrations,
)
from .http import ERROR_RESPONSES, install_error_handlers, install_operational_routes
from .limits import RequestBodyLimit
from .liveness import LagMonitor, Stall
from .relay import OutboxRelay, pending_count
from .retry import until_available
from .settings import ServiceSettings
from .subscription import subscribe
from .tracing import Tracing, configure_tracing, http_telemetry
from .unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

S = TypeVar("S", bound=ServiceSettings)
R = TypeVar("R")

#: Sets a service's own gauges from its database (through its repository) before a scrape.
MetricsRefresher = Callable[[R], Awaitable[None]]


class BackgroundWorker(Protocol):
    """A long-running task of a service, such as the mail dispatcher."""

    async def start(self, pool: asyncpg.Pool) -> None: ...

    async def stop(self) -> None: ...


class ServiceRuntime(Generic[S, R]):
    """Owns a service's pool, unit of work, broker, outbox relay, consumers and workers.

    `uow` is the service's unit of work (its repository and the outbox in every transaction);
    the runtime binds it to the pool at start-up, before anything uses it. `publishes` names the topics the service's events go to (for
    the AsyncAPI document); `metrics_refreshers` set the service's own gauges before each
    scrape of `/metrics`."""

    def __init__(
        self,
        settings: S,
        *,
        uow: UnitOfWork[R],
        migrations_dir: Path,
        consumers: Sequence[EventConsumer] = (),
        workers: Sequence[BackgroundWorker] = (),
        publishes: Sequence[str] = (),
        metrics_refreshers: Sequence[MetricsRefresher[R]] = (),
    ) -> None:
        self.settings = settings
        self.uow = uow
        self._migrations_dir = migrations_dir
        self.consumers = list(consumers)
        self.consumer_group = ConsumerGroup(
            settings.service_name, self.consumers, namespace=settings.kafka_topic_namespace
        )
        self._workers = list(workers)
        self._metrics_refreshers = list(metrics_refreshers)
        self.broker: KafkaBroker = create_broker(
            settings.kafka_bootstrap_servers,
            enable_idempotence=settings.kafka_enable_idempotence,
            client_id=settings.service_name,
        )
        self._subscriptions = (
            [
                (
                    self.consumer_group,
                    subscribe(
                        self.broker,
                        self.consumer_group,
                        group_id=settings.consumer_group,
                        session_timeout_ms=settings.kafka_session_timeout_ms,
                        heartbeat_interval_ms=settings.kafka_heartbeat_interval_ms,
                        batch_size=settings.consumer_batch_size,
                        fetch_max_wait_ms=settings.kafka_fetch_max_wait_ms,
                    ),
                )
            ]
            if self.consumers
            else []
        )
        # Documentation only: the outbox relay publishes with its own producer.
        document_publications(
            self.broker,
            service=settings.service_name,
            topics=publishes,
            consumed_topics=[consumer.topic for consumer in self.consumers],
            namespace=settings.kafka_topic_namespace,
        )
        self._pool: asyncpg.Pool | None = None
        self._tracing: Tracing | None = None
        self.relay: OutboxRelay | None = None
        self.lag = LagMonitor(
            settings.service_name,
            self._subscriptions,
            stall_seconds=settings.consumer_stall_seconds,
        )

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("the service has not started")
        return self._pool

    async def start(self) -> None:
        settings = self.settings
        started = time.monotonic()
        self._tracing = configure_tracing(settings.service_name, settings)
        self._pool = await connect_pool(
            settings.database_url,
            min_size=settings.db_pool_min_size,
            max_size=settings.db_pool_max_size,
            timeout=settings.startup_timeout_seconds,
        )
        self.uow.bind(self._pool)
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
            linger_seconds=settings.outbox_linger_ms / 1000,
            retention_hours=settings.outbox_retention_hours,
        )
        await self.relay.start(self._pool)
        names = [consumer.name for consumer in self.consumers]
        self.consumer_group.bind(
            self.uow,
            max_attempts=settings.consumer_max_attempts,
            retry_base_seconds=settings.consumer_retry_base_seconds,
            on_progress=lambda: self.lag.detector.progressed(*names),
            commit_interval_seconds=settings.consumer_commit_interval_ms / 1000,
        )
        await self._start_broker()
        if self.consumers:
            self.lag.start()
        for worker in self._workers:
            await worker.start(self._pool)
        log.info(
            "%s started in %.1f s",
            settings.service_name,
            time.monotonic() - started,
            extra={"http": f"http://{settings.http_host}:{settings.http_port}"},
        )

    async def _start_broker(self) -> None:
        async def attempt() -> None:
            try:
                await self.broker.start()
            except BaseException:
                with contextlib.suppress(Exception):
                    await self.broker.stop()
                raise

        await until_available(
            attempt,
            what=f"Kafka at {self.settings.kafka_bootstrap_servers}",
            transient=(KafkaError, OSError),
            timeout=self.settings.startup_timeout_seconds,
            hint="is it running and is KAFKA_BOOTSTRAP_SERVERS right?",
        )

    async def _drain_consumers(self) -> None:
        """Stop taking records, let the batch in hand finish within the grace period and
        cancel it otherwise, then commit what is finished."""
        grace = self.settings.shutdown_grace_seconds
        for group, subscriber in self._subscriptions:
            group.stop_accepting()
            kafka_consumer: Any = subscriber.consumer
            if kafka_consumer is not None:
                with contextlib.suppress(Exception):  # no assignment yet, or already stopped
                    kafka_consumer.pause(*kafka_consumer.assignment())
        in_flight = sum(group.in_flight for group, _ in self._subscriptions)
        if in_flight:
            log.info("waiting up to %.1f s for %d batch(es) of events in hand", grace, in_flight)
        abandoned = await asyncio.gather(*(group.drain(grace) for group, _ in self._subscriptions))
        if sum(abandoned):
            log.warning(
                "%d batch(es) of events cancelled at shutdown: their unfinished events will "
                "be delivered again",
                sum(abandoned),
            )

    async def stop(self) -> None:
        await self.lag.stop()
        # First the consumers, while the pool and the relay still run: handlers that finish
        # within the grace period commit their effect and then their offset, the others are
        # cancelled before finishing and their records are delivered again after a restart.
        await self._drain_consumers()
        for worker in reversed(self._workers):
            with contextlib.suppress(Exception):
                await worker.stop()
        with contextlib.suppress(Exception):
            await self.broker.stop()
        if self.relay is not None:
            await self.relay.stop()
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
        if self._tracing is not None:
            # Last: the spans of the shutdown itself go out too. Blocking, so in a thread.
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self._tracing.shutdown)
            self._tracing = None
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

    async def refresh_metrics(self) -> None:
        """Set the gauges that describe state: outbox backlog, consumer lag and the service's
        own. Bounded in time; a failure is logged and leaves the last values."""
        await self.lag.refresh_gauge()
        if self._pool is None:
            return
        try:
            async with asyncio.timeout(2.0), self._pool.acquire() as conn:
                pending = await pending_count(conn)
                metrics.OUTBOX_PENDING.labels(self.settings.service_name).set(pending)
            if self._metrics_refreshers:
                async with asyncio.timeout(2.0), self.uow.reading() as repo:
                    for refresh in self._metrics_refreshers:
                        await refresh(repo)
        except Exception as error:
            log.warning("metrics not refreshed from the database: %r", error)

    def stalls(self) -> list[Stall]:
        """Consumers that made no progress for CONSUMER_STALL_SECONDS while they had lag
        (what `/healthz` reports); in memory only, no database or broker is asked."""
        return self.lag.stalls()

    def asyncapi(self, *, title: str, version: str, description: str) -> dict[str, Any]:
        """The service's AsyncAPI document: what it consumes and publishes, with the payloads."""
        return asyncapi_document(
            self.broker, self._subscriptions, title=title, version=version, description=description
        )

    @contextlib.asynccontextmanager
    async def lifespan(self, app: FastAPI) -> AsyncIterator[None]:
        app.state.runtime = self
        try:
            await self.start()
            yield
        finally:
            # Also after a failed start: whatever did start (pool, relay) is stopped.
            await self.stop()


class _RefreshMetricsBeforeScrape:
    """Pure ASGI middleware: `GET /metrics` first refreshes the runtime's state gauges."""

    def __init__(self, app: ASGIApp, *, runtime: ServiceRuntime[Any, Any]) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/metrics" and scope["method"] == "GET":
            await self.runtime.refresh_metrics()
        await self.app(scope, receive, send)


def create_service_app(
    runtime: ServiceRuntime[Any, Any], *, title: str, description: str, routers: Sequence[APIRouter]
) -> FastAPI:
    """A FastAPI app with the runtime's lifespan, the shared error shape and operational routes."""
    app = FastAPI(
        title=title,
        description=description,
        version="1.0.0",
        lifespan=runtime.lifespan,
        telemetry=http_telemetry(),
    )
    app.state.runtime = runtime
    install_error_handlers(app)
    app.add_middleware(RequestBodyLimit, max_bytes=runtime.settings.max_request_body_bytes)
    app.add_middleware(_RefreshMetricsBeforeScrape, runtime=runtime)
    install_operational_routes(app, runtime.readiness, liveness=runtime.stalls)
    for router in routers:
        # Every route documents our 422 body instead of FastAPI's default one.
        app.include_router(router, responses=ERROR_RESPONSES)
    return app

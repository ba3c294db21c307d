"""The life of a service process: connect, migrate, set up topics, consume, relay, serve, stop.

Each service describes itself (settings, migrations, consumers, background workers) and gets
a FastAPI lifespan that starts everything in order and stops it in reverse on SIGTERM.

Stopping (uvicorn runs the lifespan's exit on SIGTERM) goes: the consumers stop taking records
and their partitions are paused; in-flight handlers get `SHUTDOWN_GRACE_SECONDS` to finish
their transaction and their offset commit, and the rest are cancelled before committing (see
`EventConsumer.drain`); then the workers, the broker (FastStream's own graceful wait finds
nothing in flight), the outbox relay (pending rows stay pending for the next instance) and the
pool stop.

While running, a monitor samples each consumer's lag into a `StallDetector`; `/healthz` answers
503 when a consumer made no progress for `CONSUMER_STALL_SECONDS` while it had lag.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

import asyncpg
from aiokafka.errors import KafkaError
from fastapi import APIRouter, FastAPI
from faststream.kafka import KafkaBroker
from starlette.types import ASGIApp, Receive, Scope, Send

from ..contracts.topics import topic_partitions
from . import metrics
from .broker import (
    asyncapi_document,
    create_broker,
    document_publications,
    ensure_topics,
    subscribe,
)
from .consumer import EventConsumer
from .database import (
    apply_migrations,
    connect_pool,
    load_migrations,
    plumbing_migrations,
)
from .http import ERROR_RESPONSES, install_error_handlers, install_operational_routes
from .limits import RequestBodyLimit
from .liveness import Stall, StallDetector, TopicPartitionKey, sample_interval
from .outbox import OutboxRelay, pending_count
from .retry import until_available
from .settings import ServiceSettings
from .tracing import Tracing, configure_tracing, http_telemetry
from .unit_of_work import UnitOfWork
from .worker import cancel_and_wait

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
        self._workers = list(workers)
        self._metrics_refreshers = list(metrics_refreshers)
        self.broker: KafkaBroker = create_broker(
            settings.kafka_bootstrap_servers,
            enable_idempotence=settings.kafka_enable_idempotence,
            client_id=settings.service_name,
        )
        self._subscriptions = [
            (
                consumer,
                subscribe(
                    self.broker,
                    consumer,
                    namespace=settings.kafka_topic_namespace,
                    group_prefix=settings.consumer_group_prefix,
                    session_timeout_ms=settings.kafka_session_timeout_ms,
                    heartbeat_interval_ms=settings.kafka_heartbeat_interval_ms,
                    batch_size=settings.consumer_batch_size,
                    fetch_max_wait_ms=settings.kafka_fetch_max_wait_ms,
                ),
            )
            for consumer in self.consumers
        ]
        # Documentation only: the outbox relay publishes with its own producer.
        document_publications(
            self.broker,
            service=settings.service_name,
            topics=publishes,
            consumed_topics=[consumer.topic for consumer in self.consumers],
            namespace=settings.kafka_topic_namespace,
        )
        self._lag_series: set[tuple[str, str, str, str]] = set()
        self._pool: asyncpg.Pool | None = None
        self._tracing: Tracing | None = None
        self.relay: OutboxRelay | None = None
        self.stall_detector = StallDetector(settings.consumer_stall_seconds)
        self._monitor: asyncio.Task[None] | None = None
        # consumer name -> end offsets the broker reported at the monitor's last asking.
        self._end_offsets: dict[str, dict[TopicPartitionKey, int]] = {}

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
        for consumer in self.consumers:
            consumer.bind(
                self.uow,
                max_attempts=settings.consumer_max_attempts,
                retry_base_seconds=settings.consumer_retry_base_seconds,
                on_progress=functools.partial(self.stall_detector.progressed, consumer.name),
            )
        await self._start_broker()
        if self.consumers:
            self._monitor = asyncio.create_task(
                self._monitor_liveness(), name=f"{settings.service_name}-liveness"
            )
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
        """Stop taking records, let in-flight handlers finish within the grace period, and
        cancel the rest before they commit."""
        grace = self.settings.shutdown_grace_seconds
        for consumer, subscriber in self._subscriptions:
            consumer.stop_accepting()
            kafka_consumer: Any = subscriber.consumer
            if kafka_consumer is not None:
                with contextlib.suppress(Exception):  # no assignment yet, or already stopped
                    kafka_consumer.pause(*kafka_consumer.assignment())
        in_flight = sum(consumer.in_flight for consumer in self.consumers)
        if in_flight:
            log.info("waiting up to %.1f s for %d in-flight event handler(s)", grace, in_flight)
        abandoned = await asyncio.gather(*(c.drain(grace) for c in self.consumers))
        if sum(abandoned):
            log.warning(
                "%d event handler(s) cancelled at shutdown, uncommitted: they will be "
                "delivered again",
                sum(abandoned),
            )

    async def stop(self) -> None:
        if self._monitor is not None:
            await cancel_and_wait(self._monitor)
            self._monitor = None
        # First the consumers, while the pool and the relay still run: handlers that finish
        # within the grace period commit their effect and then their offset, the others are
        # cancelled before committing and their records are delivered again after a restart.
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
        await self._refresh_consumer_lag()
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

    async def _read_consumer_lags(
        self, *, end_offsets: Mapping[str, Mapping[TopicPartitionKey, int]] | None = None
    ) -> dict[str, dict[TopicPartitionKey, int]]:
        """Per consumer, high watermark minus position of every assigned partition (or the
        first unfinished record of the batch in hand, if earlier). Both are
        what the aiokafka consumer already knows from its last fetch: nothing is asked of the
        broker, and a partition whose position is not known yet is left out. `end_offsets`
        (what the broker said lately) count too where they are ahead of the high watermark."""
        lags: dict[str, dict[TopicPartitionKey, int]] = {}
        for consumer, subscriber in self._subscriptions:
            kafka_consumer: Any = subscriber.consumer
            if kafka_consumer is None:
                continue
            reported = (end_offsets or {}).get(consumer.name, {})
            found: dict[TopicPartitionKey, int] = {}
            try:
                for partition in kafka_consumer.assignment():
                    key = (partition.topic, partition.partition)
                    highwater = kafka_consumer.highwater(partition)
                    ends = [highwater, reported.get(key)]
                    known = [end for end in ends if end is not None]
                    if not known:
                        continue
                    try:
                        async with asyncio.timeout(0.05):
                            position = await kafka_consumer.position(partition)
                    except TimeoutError:
                        continue
                    if highwater is not None and highwater < position:
                        await _restart_truncated_partition(
                            kafka_consumer, partition, position, highwater
                        )
                        continue
                    # Records of the batch in hand count as lag until they are finished.
                    unfinished = consumer.unfinished_offset(*key)
                    if unfinished is not None:
                        position = min(position, unfinished)
                    found[key] = max(0, max(known) - position)
            except Exception as error:  # a rebalance in progress: the next reading has it
                log.debug("consumer lag of %s not read: %r", consumer.name, error)
            lags[consumer.name] = found
        return lags

    async def _ask_end_offsets(self) -> None:
        """Ask the broker for the end offset of every assigned partition (one ListOffsets
        request per consumer): a fetcher that hangs stops updating the high watermark, so
        records that arrive afterwards would not show as lag otherwise."""
        for consumer, subscriber in self._subscriptions:
            kafka_consumer: Any = subscriber.consumer
            self._end_offsets.pop(consumer.name, None)  # an answer or nothing, never stale
            if kafka_consumer is None:
                continue
            try:
                assignment = list(kafka_consumer.assignment())
                if not assignment:
                    continue
                async with asyncio.timeout(5.0):
                    offsets = await kafka_consumer.end_offsets(assignment)
            except Exception as error:
                log.debug("end offsets of %s not read: %r", consumer.name, error)
                continue
            self._end_offsets[consumer.name] = {
                (partition.topic, partition.partition): offset
                for partition, offset in offsets.items()
            }

    async def _monitor_liveness(self) -> None:
        """Feed the stall detector: lag every `sample_interval`, end offsets from the broker
        every quarter of the stall time (at most every 30 s)."""
        # At least every second: a reading also notices a log the broker lost (see
        # `_restart_truncated_partition`), and the sooner, the fewer records pass our old position.
        interval = min(1.0, sample_interval(self.settings.consumer_stall_seconds))
        ask_every = max(interval, min(30.0, self.settings.consumer_stall_seconds / 4))
        next_ask = 0.0
        while True:
            try:
                if time.monotonic() >= next_ask:
                    await self._ask_end_offsets()
                    next_ask = time.monotonic() + ask_every
                lags = await self._read_consumer_lags(end_offsets=self._end_offsets)
                for name, partitions in lags.items():
                    self.stall_detector.observe(name, partitions)
            except Exception as error:
                log.warning("consumer liveness not sampled: %r", error)
            await asyncio.sleep(interval)

    def stalls(self) -> list[Stall]:
        """Consumers that made no progress for CONSUMER_STALL_SECONDS while they had lag
        (what `/healthz` reports); in memory only, no database or broker is asked."""
        return self.stall_detector.stalls()

    async def _refresh_consumer_lag(self) -> None:
        """Set the lag gauge from what the aiokafka consumers know (see `_read_consumer_lags`)."""
        service = self.settings.service_name
        current: dict[tuple[str, str, str, str], int] = {}
        for name, partitions in (await self._read_consumer_lags()).items():
            for (topic, partition), lag in partitions.items():
                current[(service, name, topic, str(partition))] = lag
        for labels in self._lag_series - current.keys():
            with contextlib.suppress(KeyError):
                metrics.CONSUMER_LAG.remove(*labels)
        for labels, lag in current.items():
            metrics.CONSUMER_LAG.labels(*labels).set(lag)
        self._lag_series = set(current)

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


async def _restart_truncated_partition(
    kafka_consumer: Any, partition: Any, position: int, highwater: int
) -> None:
    """The partition's log now ends before our position: the broker lost or recreated it (the
    embedded broker keeps topics in memory, so a restart empties them). Records the new log
    gives offsets below our old position would be skipped for good; read it from the start
    instead (handlers are idempotent, so anything seen before changes nothing)."""
    log.warning(
        "%s[%d] ends at %d, before our position %d: the broker lost the log; reading it again "
        "from the start",
        partition.topic,
        partition.partition,
        highwater,
        position,
    )
    await kafka_consumer.seek_to_beginning(partition)


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

"""Consuming events exactly once in effect: manual commits, a processed-events inbox, dead letters.

For each record its `ConsumerGroup` hands it (`process_all`), an `EventConsumer`:

1. parses the envelope, then the payload model registered for its `event_type` (types nobody
   registered are acknowledged and skipped: new event types are additive);
2. in one transaction, records the event id in `processed_events` and runs the handler, so a
   redelivered event finds its id and does nothing;
3. reports the record finished to its `ConsumerGroup`, which commits its Kafka offset only
   after that.

A message that cannot be parsed, has a schema version newer than the code, or keeps failing
after `max_attempts` is written to `<topic>.dlq` through the outbox, with the error and the
original headers, and the partition moves on. While the database is unreachable the consumer
waits and retries instead: those failures say nothing about the message.

A dead letter that an operator replays (`devstack dlq replay`) comes back with a
`dlq-replayed-from` header. Its event id is already in `processed_events` as dead-lettered, so
for a replay, and only for one, that row is taken over: the replayed record is processed once
(or dead-lettered once more), and a redelivery of the same record is still a no-op.

A service's consumers share one Kafka consumer: see `consumer_group`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from dataclasses import dataclass
from typing import Any, TypeVar

from opentelemetry.trace import Span
from pydantic import ValidationError

from ..contracts.envelope import EventEnvelope, EventPayload
from . import metrics, tracing
from .database import TRANSIENT_DB_ERRORS
from .dead_letters import PoisonMessage, content_id, is_replay, park
from .inbox import Delivery, record_handled, record_processed
from .retry import backoff_delay
from .unit_of_work import Transaction, UnitOfWork

log = logging.getLogger(__name__)

P = TypeVar("P", bound=EventPayload)
_T = TypeVar("_T")
#: An event handler: the open transaction (the service's repository and outbox), the envelope
#: and the payload.
Handler = Callable[[Transaction[Any], EventEnvelope, P], Awaitable[None]]
#: Longest handler retry delay, whatever the attempt count.
_MAX_RETRY_DELAY = 60.0


@dataclass
class _Registration:
    model: type[EventPayload]
    handler: Handler[Any]


class EventConsumer:
    """The handlers of one topic for one service, per event type. Its name keys the
    processed-events inbox, its metrics and its spans; a `ConsumerGroup` feeds it records."""

    def __init__(self, name: str, topic: str, *, description: str = "") -> None:
        self.name = name
        self.topic = topic
        self.description = description
        self._handlers: dict[str, _Registration] = {}
        self._uow: UnitOfWork[Any] | None = None
        self._producer = ""
        self._max_attempts = 5
        self._retry_base = 0.2
        self._on_progress: Callable[[], None] = _nothing
        self._on_finished: Callable[[Delivery], None] = _nothing_finished

    def on(self, model: type[P]) -> Callable[[Handler[P]], Handler[P]]:
        """Register the handler of one event type (decorator)."""

        def register(handler: Handler[P]) -> Handler[P]:
            if model.event_type in self._handlers:
                raise ValueError(f"{self.name} already handles {model.event_type}")
            self._handlers[model.event_type] = _Registration(model, handler)
            return handler

        return register

    @property
    def event_types(self) -> list[str]:
        return sorted(self._handlers)

    def bind(
        self,
        uow: UnitOfWork[Any],
        *,
        max_attempts: int = 5,
        retry_base_seconds: float = 0.2,
        on_progress: Callable[[], None] | None = None,
        on_finished: Callable[[Delivery], None] | None = None,
    ) -> None:
        """Attach the runtime resources (done once at service start-up). `on_progress` is
        called whenever a message is finished or retried (the liveness check listens),
        `on_finished` with each record finished (its consumer group listens)."""
        self._uow = uow
        self._producer = uow.producer
        self._max_attempts = max_attempts
        self._retry_base = retry_base_seconds
        self._on_progress = on_progress or _nothing
        self._on_finished = on_finished or _nothing_finished

    async def process_all(self, deliveries: list[Delivery]) -> None:
        """Process records in order: several together in one transaction when they all parse
        and all handlers succeed, otherwise (or for one record) each on its own, with retries
        and dead letters."""
        if len(deliveries) > 1 and await self._process_together(deliveries):
            return
        for delivery in deliveries:
            await self.process(delivery)

    async def _process_together(self, deliveries: list[Delivery]) -> bool:
        """One transaction for the whole batch: one commit (one WAL flush) instead of one per
        record. Any failure rolls the batch back and returns False, and the caller processes
        the records again one at a time, where failures are retried and dead-lettered as
        usual; the inbox rows rolled back with the batch, so nothing is skipped or doubled."""
        parsed = []
        for delivery in deliveries:
            try:
                parsed.append(self._parse(delivery))
            except PoisonMessage:
                return False
        handled = [
            (delivery, envelope)
            for delivery, (envelope, registration, _) in zip(deliveries, parsed, strict=True)
            if registration is not None
        ]
        event_ids = [envelope.event_id for _, envelope in handled]
        if len(set(event_ids)) < len(event_ids) or any(is_replay(d) for d, _ in handled):
            # An event twice in one batch, or a replayed dead letter (whose inbox row may be
            # taken over): the one-at-a-time path knows what to do with each.
            return False
        started = time.monotonic()
        outcomes: list[str] = []
        try:
            async with self._transaction() as tx:
                # Every inbox row of the batch in one statement, before the handlers.
                new = await record_handled(tx.conn, self.name, handled)
                for delivery, (envelope, registration, payload) in zip(
                    deliveries, parsed, strict=True
                ):
                    with self._span(delivery) as span:
                        outcome = await self._handle_in(
                            tx,
                            delivery,
                            envelope,
                            registration,
                            payload,
                            first_time=envelope.event_id in new,
                        )
                        span.set_attribute("mentorship.outcome", outcome)
                    outcomes.append(outcome)
        except Exception as error:
            log.info(
                "a batch of %d events failed (%r); processing them one at a time",
                len(deliveries),
                error,
                extra={"consumer": self.name},
            )
            metrics.HANDLER_RETRIES.labels(self.name, "batch").inc()
            return False
        share = (time.monotonic() - started) / len(deliveries)
        for delivery, (envelope, _, _), outcome in zip(deliveries, parsed, outcomes, strict=True):
            if outcome != "ignored":
                metrics.HANDLER_SECONDS.labels(self.name, envelope.event_type).observe(share)
            self._finish(outcome, delivery, envelope.event_type)
        return True

    def _span(self, delivery: Delivery) -> AbstractContextManager[Span]:
        """The consumer span of one record, continuing the trace its headers carry."""
        return tracing.consumer_span(
            f"{self._producer}/{self.name}",
            delivery.topic,
            delivery.partition,
            delivery.offset,
            delivery.headers,
        )

    async def process(self, delivery: Delivery) -> str:
        """Process one delivery to the end (handled, duplicate, ignored or dead-lettered),
        in a span that continues the trace the record's headers carry: the events and mail
        intents the handler raises carry it on."""
        with self._span(delivery) as span:
            outcome = await self._process(delivery)
            span.set_attribute("mentorship.outcome", outcome)
            return outcome

    async def _process(self, delivery: Delivery) -> str:
        started = time.monotonic()
        try:
            envelope, registration, payload = self._parse(delivery)
        except PoisonMessage as poison:
            await self._retrying_transient(self._dead_letter, delivery, poison, None)
            return self._finish("dead_lettered", delivery, "unknown")
        if registration is None:
            return self._finish("ignored", delivery, envelope.event_type)

        attempt = 0
        while True:
            attempt += 1
            try:
                outcome = await self._retrying_transient(
                    self._handle, delivery, envelope, registration, payload
                )
                break
            except Exception as error:
                if attempt >= self._max_attempts:
                    log.exception(
                        "event failed %d times; sending it to the dead-letter topic",
                        attempt,
                        extra={"consumer": self.name, "event_id": str(envelope.event_id)},
                    )
                    failure = PoisonMessage("handler_failed", repr(error))
                    await self._retrying_transient(self._dead_letter, delivery, failure, envelope)
                    outcome = "dead_lettered"
                    break
                metrics.HANDLER_RETRIES.labels(self.name, "error").inc()
                self._on_progress()
                delay = backoff_delay(attempt, base=self._retry_base, cap=_MAX_RETRY_DELAY)
                log.warning(
                    "event handler failed (attempt %d of %d, retrying in %.2f s): %r",
                    attempt,
                    self._max_attempts,
                    delay,
                    error,
                    extra={"consumer": self.name, "event_id": str(envelope.event_id)},
                )
                await asyncio.sleep(delay)
        metrics.HANDLER_SECONDS.labels(self.name, envelope.event_type).observe(
            time.monotonic() - started
        )
        return self._finish(outcome, delivery, envelope.event_type)

    def _finish(self, outcome: str, delivery: Delivery, event_type: str) -> str:
        self._on_finished(delivery)
        metrics.EVENTS_CONSUMED.labels(self.name, self.topic, event_type, outcome).inc()
        self._on_progress()
        return outcome

    def _parse(
        self, delivery: Delivery
    ) -> tuple[EventEnvelope, _Registration | None, EventPayload | None]:
        try:
            envelope = EventEnvelope.from_json(delivery.value)
        except ValidationError as error:
            raise PoisonMessage("malformed_envelope", _short(error)) from error
        registration = self._handlers.get(envelope.event_type)
        if registration is None:
            return envelope, None, None
        if envelope.schema_version > registration.model.schema_version:
            raise PoisonMessage(
                "unsupported_schema_version",
                f"{envelope.event_type} v{envelope.schema_version}; this consumer reads up to "
                f"v{registration.model.schema_version}",
            )
        try:
            payload = registration.model.model_validate(envelope.payload)
        except ValidationError as error:
            raise PoisonMessage("invalid_payload", _short(error)) from error
        return envelope, registration, payload

    async def _handle(
        self,
        delivery: Delivery,
        envelope: EventEnvelope,
        registration: _Registration,
        payload: EventPayload | None,
    ) -> str:
        async with self._transaction() as tx:
            return await self._handle_in(tx, delivery, envelope, registration, payload)

    async def _handle_in(
        self,
        tx: Transaction[Any],
        delivery: Delivery,
        envelope: EventEnvelope,
        registration: _Registration | None,
        payload: EventPayload | None,
        *,
        first_time: bool | None = None,
    ) -> str:
        """The effect of one event inside the caller's transaction: its inbox row, then its
        handler (nothing for an event type this consumer does not handle). `first_time` says
        whether the caller already recorded the inbox row (None: record it now)."""
        if registration is None:
            return "ignored"
        if first_time is None:
            first_time = await record_processed(
                tx.conn,
                self.name,
                envelope.event_id,
                envelope.event_type,
                delivery,
                "handled",
                replay=is_replay(delivery),
            )
        if not first_time:
            return "duplicate"
        await registration.handler(tx, envelope, payload)
        return "handled"

    async def _dead_letter(
        self, delivery: Delivery, poison: PoisonMessage, envelope: EventEnvelope | None
    ) -> None:
        event_id = envelope.event_id if envelope is not None else content_id(delivery)
        event_type = envelope.event_type if envelope is not None else "unknown"
        async with self._transaction() as tx:
            first_time = await record_processed(
                tx.conn,
                self.name,
                event_id,
                event_type,
                delivery,
                "dead_lettered",
                replay=is_replay(delivery),
            )
            if not first_time:
                return
            await park(
                tx.outbox,
                delivery,
                poison,
                topic=self.topic,
                consumer=f"{self._producer}/{self.name}",
                event_type=event_type,
            )
        metrics.DEAD_LETTERS.labels(self.name, self.topic, poison.reason).inc()
        log.error(
            "message sent to the dead-letter topic: %s",
            poison,
            extra={
                "consumer": self.name,
                "topic": delivery.topic,
                "partition": delivery.partition,
                "offset": delivery.offset,
            },
        )

    async def _retrying_transient(self, action: Callable[..., Awaitable[_T]], *args: Any) -> _T:
        """Run `action`, waiting out database outages (they say nothing about the message)."""
        failures = 0
        while True:
            try:
                return await action(*args)
            except TRANSIENT_DB_ERRORS as error:
                failures += 1
                metrics.HANDLER_RETRIES.labels(self.name, "transient").inc()
                self._on_progress()
                delay = backoff_delay(failures, base=0.2, cap=10.0)
                log.warning(
                    "database unavailable (%r); retrying in %.1f s",
                    error,
                    delay,
                    extra={"consumer": self.name},
                )
                await asyncio.sleep(delay)

    def _transaction(self) -> AbstractAsyncContextManager[Transaction[Any]]:
        if self._uow is None:
            raise RuntimeError(f"consumer {self.name} is not bound to a service")
        return self._uow()


def _nothing() -> None:
    pass


def _nothing_finished(_: Delivery) -> None:
    pass


def _short(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in item['loc']) or '<message>'}: {item['msg']}"
        for item in error.errors()[:5]
    )

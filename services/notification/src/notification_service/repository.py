"""Contacts and notifications in PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mentorship_shared.contracts.events import MenteeProfile, MentorProfile
from mentorship_shared.plumbing.database import Connection
from mentorship_shared.plumbing.outbox import forget_published
from mentorship_shared.plumbing.tracing import current_traceparent

from .templates import SIGN_IN_LINK_KEY

#: Where `NotificationIntent.awaits_erasure_of` is kept inside the stored context.
_AWAITS_ERASURE_KEY = "_awaits_erasure_of"
#: First key of the advisory lock that serialises sends to one recipient (the daily limit).
_RECIPIENT_LOCK_CLASS = 0x6D61696C  # 'mail'
#: What an erasure leaves of a stored subject or error that may have named the person.
ERASED = "[erased]"


@dataclass(frozen=True)
class NotificationIntent:
    id: uuid.UUID
    source_event_id: uuid.UUID
    source_event_type: str
    recipient_id: uuid.UUID
    recipient_role: str
    #: The other person the mail names; None for a mail that names nobody.
    counterpart_id: uuid.UUID | None
    template: str
    context: dict[str, Any]
    message_id: str
    #: A mail saying that someone left waits until that person's deletion has arrived here:
    #: until then the service cannot tell which of the two left, and must not mail the one who
    #: did.
    awaits_erasure_of: uuid.UUID | None = None


@dataclass(frozen=True)
class DueNotification:
    """A pending intent whose recipient (and counterpart, if it names one) can be reached,
    locked for sending."""

    intent: NotificationIntent
    attempts: int
    recipient_name: str
    recipient_email: str
    counterpart_name: str | None
    #: Read with the name; only the templates decide whether a mail may show it.
    counterpart_email: str | None = None
    #: The counterpart's booking link as last published (mentors only); checked again and
    #: shown only in the accepted mail to the mentee.
    counterpart_booking_url: str | None = None
    #: The trace the mail was queued in (W3C traceparent); its send continues it.
    traceparent: str | None = None


@dataclass(frozen=True)
class NotificationRecord:
    id: uuid.UUID
    source_event_id: uuid.UUID
    source_event_type: str
    recipient_id: uuid.UUID
    recipient_role: str
    recipient_email: str | None
    channel: str
    status: str
    subject: str | None
    attempts: int
    last_error: str | None
    message_id: str
    created_at: datetime
    sent_at: datetime | None


class NotificationRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def upsert_contact(self, profile: MenteeProfile | MentorProfile) -> bool:
        """Keep the newest name and address of a profile; False if stale or erased."""
        return bool(
            await self._conn.fetchval(
                """
                INSERT INTO contacts (profile_id, kind, name, email, version, booking_url)
                SELECT $1::uuid, $2::text, $3::text, $4::text, $5::integer, $6::text
                WHERE NOT EXISTS (SELECT 1 FROM erased_profiles WHERE id = $1::uuid)
                ON CONFLICT (profile_id) DO UPDATE SET
                    name = EXCLUDED.name, email = EXCLUDED.email,
                    version = EXCLUDED.version, booking_url = EXCLUDED.booking_url,
                    updated_at = now()
                WHERE contacts.version < EXCLUDED.version
                RETURNING true
                """,
                profile.profile_id,
                profile.kind,
                profile.name,
                profile.email,
                profile.version,
                profile.booking_url if isinstance(profile, MentorProfile) else None,
            )
        )

    async def erase_contact(self, profile_id: uuid.UUID) -> None:
        """Forget the person: contact gone, unsent mail to or about them cancelled, and the
        mail history to or about them anonymised.

        The rows stay (the other person's history, and a redelivered event still finds its row
        and queues nothing), but their subject (it names the other person), context (free text
        such as a mentor's reason) and error (a refusal quotes the address) are blanked. The
        published NotificationSent/Failed events of mail to them and dead letters keyed by
        them leave the outbox."""
        await self._conn.execute("DELETE FROM contacts WHERE profile_id = $1", profile_id)
        await self._conn.execute(
            "INSERT INTO erased_profiles (id) VALUES ($1) ON CONFLICT DO NOTHING", profile_id
        )
        mail_to_them: list[uuid.UUID] = [
            row["id"]
            for row in await self._conn.fetch(
                """
                UPDATE notifications SET
                    status = CASE WHEN status = 'pending' THEN 'cancelled' ELSE status END,
                    last_error = CASE WHEN status = 'pending' THEN 'profile deleted'
                                      WHEN last_error IS NULL THEN NULL ELSE $2 END,
                    subject = CASE WHEN subject IS NULL THEN NULL ELSE $2 END,
                    context = '{}'::jsonb
                WHERE recipient_id = $1 OR counterpart_id = $1
                RETURNING id, recipient_id
                """,
                profile_id,
                ERASED,
            )
            if row["recipient_id"] == profile_id
        ]
        await forget_published(self._conn, [str(profile_id), *map(str, mail_to_them)])

    async def add_intents(self, intents: Sequence[NotificationIntent]) -> int:
        """Queue notifications; returns how many were new (one whose (event, recipient,
        channel) is queued already is left out).

        A notification to or about someone who was erased is recorded cancelled at once and
        without context, as `erase_contact` leaves the ones queued before the erasure."""
        contexts = []
        for intent in intents:
            context = dict(intent.context)
            if intent.awaits_erasure_of is not None:
                context[_AWAITS_ERASURE_KEY] = str(intent.awaits_erasure_of)
            contexts.append(context)
        # One statement: whether either person was erased is decided inside the insert.
        # An erased one's notification is never sent, and its context may hold their free text.
        rows = await self._conn.fetch(
            """
            INSERT INTO notifications (id, source_event_id, source_event_type, recipient_id,
                                       recipient_role, counterpart_id, template, context,
                                       message_id, status, last_error, traceparent)
            SELECT i.id, i.source_event_id, i.source_event_type, i.recipient_id,
                   i.recipient_role, i.counterpart_id, i.template,
                   CASE WHEN erased THEN '{}'::jsonb ELSE i.context END,
                   i.message_id,
                   CASE WHEN erased THEN 'cancelled' ELSE 'pending' END,
                   CASE WHEN erased THEN 'profile deleted' END,
                   $10::text
            FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::uuid[], $5::text[], $6::uuid[],
                        $7::text[], $8::jsonb[], $9::text[])
                 AS i(id, source_event_id, source_event_type, recipient_id, recipient_role,
                      counterpart_id, template, context, message_id)
            CROSS JOIN LATERAL (
                SELECT EXISTS (SELECT 1 FROM erased_profiles
                               WHERE id = i.recipient_id OR id = i.counterpart_id) AS erased
            ) AS person
            ON CONFLICT (source_event_id, recipient_id, channel) DO NOTHING
            RETURNING 1
            """,
            [intent.id for intent in intents],
            [intent.source_event_id for intent in intents],
            [intent.source_event_type for intent in intents],
            [intent.recipient_id for intent in intents],
            [intent.recipient_role for intent in intents],
            [intent.counterpart_id for intent in intents],
            [intent.template for intent in intents],
            contexts,
            [intent.message_id for intent in intents],
            current_traceparent(),
        )
        return len(rows)

    async def lock_due(self, limit: int) -> list[DueNotification]:
        """Up to `limit` of the oldest due notifications whose people are known, locked;
        others skip them.

        Due means: the recipient is a known contact, so is the counterpart if the mail names
        one, and the person it waits to see erased (if any) has been."""
        rows = await self._conn.fetch(
            """
            SELECT n.id, n.source_event_id, n.source_event_type, n.recipient_id,
                   n.recipient_role, n.counterpart_id, n.template, n.context, n.message_id,
                   n.attempts, n.traceparent, r.name AS recipient_name, r.email AS recipient_email,
                   c.name AS counterpart_name, c.email AS counterpart_email,
                   c.booking_url AS counterpart_booking_url
            FROM notifications n
            JOIN contacts r ON r.profile_id = n.recipient_id
            LEFT JOIN contacts c ON c.profile_id = n.counterpart_id
            WHERE n.status = 'pending' AND n.next_attempt_at <= now()
              AND (n.counterpart_id IS NULL OR c.profile_id IS NOT NULL)
              AND (NOT (n.context ? $1) OR EXISTS (
                      SELECT 1 FROM erased_profiles e WHERE e.id = (n.context ->> $1)::uuid))
            ORDER BY n.next_attempt_at, n.created_at
            LIMIT $2
            FOR UPDATE OF n SKIP LOCKED
            """,
            _AWAITS_ERASURE_KEY,
            limit,
        )
        return [_due(row) for row in rows]

    async def lock_recipients(self, recipient_ids: list[uuid.UUID]) -> None:
        """Take the daily-limit locks of these recipients (see `daily_limit_frees_at`) now, in
        one global order: a transaction that sends several mails would otherwise take them in
        its own order, and two of them could wait for each other."""
        keys = await self._conn.fetch(
            "SELECT DISTINCT hashtext(r::text) AS key FROM unnest($1::uuid[]) AS r ORDER BY key",
            recipient_ids,
        )
        await self._conn.executemany(
            "SELECT pg_advisory_xact_lock($1, $2)",
            [(_RECIPIENT_LOCK_CLASS, row["key"]) for row in keys],
        )

    async def mark_sent(self, subjects: Mapping[uuid.UUID, str]) -> dict[uuid.UUID, datetime]:
        """Mark these notifications sent, each with the subject it went out with; when each
        was marked, by id."""
        rows = await self._conn.fetch(
            "UPDATE notifications AS n SET status = 'sent', sent_at = now(), subject = s.subject, "
            "attempts = n.attempts + 1, last_error = NULL, context = n.context - $3::text "
            "FROM unnest($1::uuid[], $2::text[]) AS s(id, subject) WHERE n.id = s.id "
            "RETURNING n.id, n.sent_at",
            list(subjects),
            list(subjects.values()),
            SIGN_IN_LINK_KEY,
        )
        return {row["id"]: row["sent_at"] for row in rows}

    async def daily_limit_frees_at(self, recipient_id: uuid.UUID, limit: int) -> datetime | None:
        """None if fewer than `limit` mails went to the recipient in the last 24 hours, else
        when the oldest of the last `limit` turns a day old and a mail may go again.

        Takes a lock on the recipient until the transaction ends, so two dispatchers cannot
        both send the last mail the limit allows: one waits for the other's send and mark."""
        await self._conn.execute(
            "SELECT pg_advisory_xact_lock($1, hashtext($2::uuid::text))",
            _RECIPIENT_LOCK_CLASS,
            recipient_id,
        )
        frees_at: datetime | None = await self._conn.fetchval(
            """
            SELECT sent_at + interval '24 hours' FROM notifications
            WHERE recipient_id = $1 AND status = 'sent'
              AND sent_at > now() - interval '24 hours'
            ORDER BY sent_at DESC
            OFFSET $2 - 1 LIMIT 1
            """,
            recipient_id,
            limit,
        )
        return frees_at

    async def defer(self, notification_id: uuid.UUID, until: datetime, reason: str) -> None:
        """Keep the notification pending and try it again at `until`; no attempt is counted."""
        await self._conn.execute(
            "UPDATE notifications SET next_attempt_at = $2, last_error = $3 WHERE id = $1",
            notification_id,
            until,
            reason,
        )

    async def mark_attempt_failed(
        self, notification_id: uuid.UUID, error: str, *, retry_in_seconds: float | None
    ) -> None:
        """Record a failed send: retry later, or give up when `retry_in_seconds` is None."""
        if retry_in_seconds is None:
            await self._conn.execute(
                "UPDATE notifications SET status = 'failed', attempts = attempts + 1, "
                "last_error = $2, context = context - $3::text WHERE id = $1",
                notification_id,
                error,
                SIGN_IN_LINK_KEY,
            )
        else:
            await self._conn.execute(
                "UPDATE notifications SET attempts = attempts + 1, last_error = $2, "
                "next_attempt_at = now() + make_interval(secs => $3) WHERE id = $1",
                notification_id,
                error,
                retry_in_seconds,
            )

    async def recent(self, limit: int) -> list[NotificationRecord]:
        rows = await self._conn.fetch(
            """
            SELECT n.id, n.source_event_id, n.source_event_type, n.recipient_id,
                   n.recipient_role, r.email AS recipient_email, n.channel, n.status,
                   n.subject, n.attempts, n.last_error, n.message_id, n.created_at, n.sent_at
            FROM notifications n LEFT JOIN contacts r ON r.profile_id = n.recipient_id
            ORDER BY n.created_at DESC, n.id
            LIMIT $1
            """,
            limit,
        )
        return [NotificationRecord(**dict(row)) for row in rows]


def _due(row: Any) -> DueNotification:
    context = dict(row["context"])
    awaits = context.pop(_AWAITS_ERASURE_KEY, None)
    intent = NotificationIntent(
        id=row["id"],
        source_event_id=row["source_event_id"],
        source_event_type=row["source_event_type"],
        recipient_id=row["recipient_id"],
        recipient_role=row["recipient_role"],
        counterpart_id=row["counterpart_id"],
        template=row["template"],
        context=context,
        message_id=row["message_id"],
        awaits_erasure_of=uuid.UUID(awaits) if awaits else None,
    )
    return DueNotification(
        intent=intent,
        attempts=row["attempts"],
        recipient_name=row["recipient_name"],
        recipient_email=row["recipient_email"],
        counterpart_name=row["counterpart_name"],
        counterpart_email=row["counterpart_email"],
        counterpart_booking_url=row["counterpart_booking_url"],
        traceparent=row["traceparent"],
    )

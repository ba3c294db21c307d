"""Profiles in PostgreSQL."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg
from mentorship_shared.contracts.events import AnyProfile
from mentorship_shared.plumbing.database import Connection
from mentorship_shared.plumbing.outbox import forget_published
from mentorship_shared.plumbing.sessions import ProfileKind
from pydantic import TypeAdapter

from .domain import Profile

_PROFILE = TypeAdapter[Profile](AnyProfile)


class EmailTaken(Exception):
    """Another profile already uses this email address."""


@dataclass(frozen=True)
class StoredProfile:
    profile: Profile
    created_at: datetime
    updated_at: datetime


class PostgresProfileStore:
    """Reads and writes profiles on one connection (the caller owns the transaction)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def add(self, profile: Profile, token_hash: bytes) -> StoredProfile:
        """Store a new profile, or raise EmailTaken. A taken address is no error for
        PostgreSQL (nothing is inserted), so the caller's transaction can still commit."""
        row = await self._conn.fetchrow(
            "INSERT INTO profiles (id, kind, email, version, data, token_hash) "
            "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING "
            "RETURNING data, created_at, updated_at",
            profile.profile_id,
            profile.kind,
            profile.email,
            profile.version,
            profile.model_dump(mode="json"),
            token_hash,
        )
        if row is None:
            raise EmailTaken(profile.email)
        return _stored(row)

    async def get(self, profile_id: uuid.UUID, *, for_update: bool = False) -> StoredProfile | None:
        query = "SELECT data, created_at, updated_at FROM profiles WHERE id = $1"
        row = await self._conn.fetchrow(f"{query} FOR UPDATE" if for_update else query, profile_id)
        return _stored(row) if row is not None else None

    async def token_hash(self, profile_id: uuid.UUID) -> bytes | None:
        value: bytes | None = await self._conn.fetchval(
            "SELECT token_hash FROM profiles WHERE id = $1", profile_id
        )
        return value

    async def set_token_hash(self, profile_id: uuid.UUID, token_hash: bytes) -> None:
        await self._conn.execute(
            "UPDATE profiles SET token_hash = $2 WHERE id = $1", profile_id, token_hash
        )

    async def replace(self, profile: Profile) -> StoredProfile:
        try:
            row = await self._conn.fetchrow(
                "UPDATE profiles SET email = $2, version = $3, data = $4, updated_at = now() "
                "WHERE id = $1 RETURNING data, created_at, updated_at",
                profile.profile_id,
                profile.email,
                profile.version,
                profile.model_dump(mode="json"),
            )
        except asyncpg.UniqueViolationError as error:
            raise EmailTaken(profile.email) from error
        assert row is not None
        return _stored(row)

    async def delete(self, profile_id: uuid.UUID) -> None:
        """Erase the profile and the published events about it, which carry its name and
        address (events still pending go out first; the relay's retention purge takes them)."""
        await self._conn.execute("DELETE FROM profiles WHERE id = $1", profile_id)
        await forget_published(self._conn, [str(profile_id)])

    async def find_by_email(self, email: str) -> tuple[uuid.UUID, ProfileKind] | None:
        """The id and kind of the profile with this address, whatever its case."""
        row = await self._conn.fetchrow(
            "SELECT id, kind FROM profiles WHERE lower(email) = lower($1)", email
        )
        return (row["id"], row["kind"]) if row is not None else None

    async def add_sign_in_link(
        self, token_hash: bytes, profile_id: uuid.UUID, expires_at: datetime
    ) -> None:
        # Links a day past their expiry are of no use to anyone: they go as new ones come.
        await self._conn.execute(
            "DELETE FROM sign_in_links WHERE expires_at < now() - interval '1 day'"
        )
        await self._conn.execute(
            "INSERT INTO sign_in_links (token_hash, profile_id, expires_at) VALUES ($1, $2, $3)",
            token_hash,
            profile_id,
            expires_at,
        )

    async def use_sign_in_link(self, token_hash: bytes) -> tuple[uuid.UUID, ProfileKind] | None:
        """Mark an unused, unexpired link used and say whose it is; None for any other link.
        The row lock of the UPDATE makes the use single: a concurrent second use finds it
        used."""
        row = await self._conn.fetchrow(
            "UPDATE sign_in_links AS l SET used_at = now() FROM profiles AS p "
            "WHERE l.token_hash = $1 AND l.used_at IS NULL AND l.expires_at > now() "
            "AND p.id = l.profile_id RETURNING p.id, p.kind",
            token_hash,
        )
        return (row["id"], row["kind"]) if row is not None else None

    async def count_attempt(self, limits: Sequence[RateLimit], *, window_seconds: int) -> None:
        """Count one attempt (a registration, a sign-in link request) against every limit, or
        raise RateLimited for the first full one; raised inside the caller's transaction, the
        error rolls back every count, so a refused attempt counts nothing at all.

        The counts live in PostgreSQL, one upsert per limit, so concurrent attempts on several
        instances never pass a limit together.
        """
        enabled = [limit for limit in limits if limit.limit > 0]
        if not enabled:
            return
        await self._conn.execute(
            "DELETE FROM registration_attempts "
            "WHERE window_start < now() - make_interval(secs => $1::integer)",
            window_seconds,
        )
        for limit in enabled:
            counted = await self._conn.fetchval(
                _COUNT_ATTEMPT, limit.bucket, window_seconds, limit.limit
            )
            if counted is None:
                seconds: int = await self._conn.fetchval(_SECONDS_LEFT, window_seconds)
                raise RateLimited(limit, max(1, seconds))


def _stored(row: asyncpg.Record) -> StoredProfile:
    return StoredProfile(
        profile=_PROFILE.validate_python(row["data"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


@dataclass(frozen=True)
class RateLimit:
    """At most `limit` attempts per window for one `key` of a kind (0: no limit)."""

    name: str  # what is counted: "address", "email", "sign-in address", "sign-in email"
    key: str
    limit: int

    @property
    def bucket(self) -> bytes:
        return hashlib.sha256(f"{self.name}:{self.key}".encode()).digest()


class RateLimited(Exception):
    """The attempt would exceed `limit`; the window frees in `retry_after` seconds."""

    def __init__(self, limit: RateLimit, retry_after: int) -> None:
        super().__init__(f"{limit.name} rate limit of {limit.limit} reached")
        self.limit = limit
        self.retry_after = retry_after


# One more attempt in the current fixed window, unless the window is full: then no row.
_COUNT_ATTEMPT = """
WITH current_window AS (
    SELECT to_timestamp(floor(extract(epoch FROM now()) / $2::integer) * $2::integer) AS start
)
INSERT INTO registration_attempts AS a (bucket, window_start, attempts)
SELECT $1, start, 1 FROM current_window
ON CONFLICT (bucket, window_start) DO UPDATE SET attempts = a.attempts + 1
WHERE a.attempts < $3
RETURNING a.attempts
"""

_SECONDS_LEFT = """
SELECT ceil(extract(epoch FROM
    to_timestamp((floor(extract(epoch FROM now()) / $1::integer) + 1) * $1::integer) - now()
))::integer
"""

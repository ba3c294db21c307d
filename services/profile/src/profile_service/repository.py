"""Profiles in PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

import asyncpg
from mentorship_shared.contracts.events import AnyProfile
from mentorship_shared.plumbing.database import Connection
from mentorship_shared.plumbing.outbox import Outbox
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
        try:
            row = await self._conn.fetchrow(
                "INSERT INTO profiles (id, kind, email, version, data, token_hash) "
                "VALUES ($1, $2, $3, $4, $5, $6) RETURNING data, created_at, updated_at",
                profile.profile_id,
                profile.kind,
                profile.email,
                profile.version,
                profile.model_dump(mode="json"),
                token_hash,
            )
        except asyncpg.UniqueViolationError as error:
            raise EmailTaken(profile.email) from error
        assert row is not None
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
        await self._conn.execute("DELETE FROM profiles WHERE id = $1", profile_id)


def _stored(row: asyncpg.Record) -> StoredProfile:
    return StoredProfile(
        profile=_PROFILE.validate_python(row["data"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


@asynccontextmanager
async def unit_of_work(pool: asyncpg.Pool) -> AsyncIterator[tuple[PostgresProfileStore, Outbox]]:
    """A transaction with the profile store and the outbox on the same connection."""
    async with pool.acquire() as conn, conn.transaction():
        yield PostgresProfileStore(conn), Outbox(conn, producer="profile")

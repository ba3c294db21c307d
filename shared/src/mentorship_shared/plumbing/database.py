"""PostgreSQL: a pool that waits for the server, and versioned SQL migrations.

Migrations are plain SQL files named `NNNN_description.sql`, applied in order, each in its own
transaction, recorded with a checksum so an edited migration is refused rather than silently
skipped. An advisory lock lets several instances of a service start at once.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import asyncpg.pool

from .retry import until_available

log = logging.getLogger(__name__)

#: A connection, whether opened alone or borrowed from a pool.
Connection = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy

_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
# Any constant shared by every instance of a service works; this one spells "migrate".
_MIGRATION_LOCK = 0x6D696772617465
#: Errors that mean "the server is not reachable right now", as opposed to a bad query.
TRANSIENT_DB_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.AdminShutdownError,
    asyncpg.SerializationError,
    asyncpg.DeadlockDetectedError,
)


def describe_url(url: str) -> str:
    """host:port/database of a URL, without credentials, for logs and errors."""
    parts = urlsplit(url)
    return f"{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path}"


async def connect_pool(
    url: str, *, min_size: int = 2, max_size: int = 10, timeout: float = 60.0
) -> asyncpg.Pool:
    """Open a pool, retrying with backoff until the server answers or `timeout` passes."""

    async def attempt() -> asyncpg.Pool:
        pool: asyncpg.Pool = await asyncpg.create_pool(
            url, min_size=min_size, max_size=max_size, command_timeout=30, init=_init_connection
        )
        return pool

    return await until_available(
        attempt,
        what=f"PostgreSQL at {describe_url(url)}",
        transient=TRANSIENT_DB_ERRORS,
        timeout=timeout,
        hint="is it running and is DATABASE_URL right?",
    )


async def _init_connection(conn: asyncpg.Connection) -> None:
    # json and jsonb columns read and write Python objects instead of strings.
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(
            type_name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
        )


@dataclass(frozen=True)
class Migration:
    source: str
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations(source: str, directory: Path) -> list[Migration]:
    """Read `NNNN_*.sql` files from `directory`, in version order."""
    migrations = []
    for path in sorted(directory.iterdir()):
        match = _MIGRATION_NAME.match(path.name)
        if match is None:
            if path.suffix == ".sql":
                raise ValueError(f"migration {path} is not named NNNN_description.sql")
            continue
        migrations.append(Migration(source, int(match.group(1)), path.stem, path.read_text()))
    versions = [m.version for m in migrations]
    if len(versions) != len(set(versions)):
        raise ValueError(f"two migrations in {directory} share a version number")
    return migrations


def plumbing_migrations() -> list[Migration]:
    """The tables the shared plumbing needs in every service's database (outbox, inbox)."""
    directory = Path(str(resources.files(__package__).joinpath("migrations")))
    return load_migrations("plumbing", directory)


async def apply_migrations(pool: asyncpg.Pool, migrations: list[Migration]) -> list[Migration]:
    """Apply the migrations not applied yet; return the ones applied now."""
    applied_now: list[Migration] = []
    async with pool.acquire() as conn:
        await conn.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK)
        try:
            await conn.execute(
                """
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    source     text        NOT NULL,
                    version    integer     NOT NULL,
                    name       text        NOT NULL,
                    checksum   text        NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now(),
                    PRIMARY KEY (source, version)
                )
                """
            )
            done = {
                (row["source"], row["version"]): row["checksum"]
                for row in await conn.fetch(
                    "SELECT source, version, checksum FROM schema_migrations"
                )
            }
            for migration in migrations:
                key = (migration.source, migration.version)
                if key in done:
                    if done[key] != migration.checksum:
                        raise RuntimeError(
                            f"migration {migration.source}/{migration.name} changed after it was "
                            "applied; add a new migration instead of editing an applied one"
                        )
                    continue
                async with conn.transaction():
                    await conn.execute(migration.sql)
                    await conn.execute(
                        "INSERT INTO schema_migrations (source, version, name, checksum) "
                        "VALUES ($1, $2, $3, $4)",
                        migration.source,
                        migration.version,
                        migration.name,
                        migration.checksum,
                    )
                log.info("applied migration %s/%s", migration.source, migration.name)
                applied_now.append(migration)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK)
    return applied_now


#: Conflicts between concurrent transactions: running the transaction again is the answer.
RETRYABLE_CONFLICTS: tuple[type[BaseException], ...] = (
    asyncpg.SerializationError,
    asyncpg.DeadlockDetectedError,
)

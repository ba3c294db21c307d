"""Fixtures of the matching service's own integration tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
from matching_service.config import MIGRATIONS_DIR
from mentorship_shared.plumbing.database import (
    apply_migrations,
    connect_pool,
    load_migrations,
    plumbing_migrations,
)


@pytest.fixture
async def matching_pool(matching_db: str) -> AsyncIterator[asyncpg.Pool]:
    """A fresh matching database, migrated the way ServiceRuntime does it (no service running)."""
    pool = await connect_pool(matching_db, min_size=1, max_size=4)
    try:
        await apply_migrations(
            pool, plumbing_migrations() + load_migrations("service", MIGRATIONS_DIR)
        )
        yield pool
    finally:
        await pool.close()

"""The weights commands against a real matching database: the outcomes the matcher kept are
read back as they were stored (in a window of end dates), exported, and fitted on."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest
from matching_service.matcher.scoring import default_config
from matching_service.repository import MatchingRepository
from matching_service.weights.__main__ import main
from matching_service.weights.dataset import read_export
from matching_service.weights.synthetic import generate

pytestmark = pytest.mark.integration


async def test_outcomes_kept_by_the_matcher_are_exported_and_fitted_on(
    matching_pool: asyncpg.Pool, matching_db: str, tmp_path: Path
) -> None:
    outcomes = generate(300, default_config(), seed=11)
    async with matching_pool.acquire() as conn:
        repo = MatchingRepository(conn)
        assert all([await repo.add_outcome(o) for o in outcomes])
        assert not await repo.add_outcome(outcomes[0])  # once per match
        read_back = await repo.outcomes()
        middle = sorted(o.ended_at for o in outcomes)[150]
        later = await repo.outcomes(since=middle)
    assert sorted(read_back, key=lambda o: o.match_id) == sorted(outcomes, key=lambda o: o.match_id)
    assert [o.ended_at for o in read_back] == sorted(o.ended_at for o in outcomes)
    assert len(later) == 150
    assert min(o.ended_at for o in later) == middle

    export = tmp_path / "outcomes.json"
    # The commands run their own event loop, as from a shell.
    assert (
        await asyncio.to_thread(
            main, ["export", "--database-url", matching_db, "--output", str(export)]
        )
        == 0
    )
    assert sorted(read_export(export), key=lambda o: o.match_id) == sorted(
        outcomes, key=lambda o: o.match_id
    )

    code = await asyncio.to_thread(
        main,
        [
            "fit",
            "--database-url",
            matching_db,
            "--since",
            datetime(2000, 1, 1, tzinfo=UTC).date().isoformat(),
            "--output-dir",
            str(tmp_path / "weights"),
            "--folds",
            "3",
        ],
    )
    assert code == 0
    fitted = json.loads((tmp_path / "weights" / "weights-v2.json").read_text())
    assert fitted["fitted"]["outcomes"] == 300
    # The database by host, port and name: never the credentials of its URL.
    source = fitted["fitted"]["source"]
    assert source.endswith(matching_db.rsplit("/", 1)[1])
    assert "@" not in source


async def test_a_database_without_the_outcomes_table_is_named(
    new_database: Callable[[str], Awaitable[str]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    empty = await new_database("not_matching")

    code = await asyncio.to_thread(
        main, ["export", "--database-url", empty, "--output", str(tmp_path / "x.json")]
    )

    assert code == 2
    assert "no outcomes table" in capsys.readouterr().err

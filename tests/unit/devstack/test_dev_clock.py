"""devstack's side of the mentorship service's development clock: the settings that turn it
on, and an offset file the service reads as it runs (its reader is the service's own clock,
tested in tests/unit/mentorship/test_mentorship_clock.py; here both meet)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from devstack.clock import DevClock
from mentorship_service.clock import OffsetFileClock
from mentorship_service.config import MentorshipSettings


def test_the_settings_turn_the_services_clock_control_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = DevClock(tmp_path / "offset")
    for name, value in clock.settings.items():
        monkeypatch.setenv(name, value)
    settings = MentorshipSettings(database_url="postgresql://x@127.0.0.1/mentorship")
    assert settings.offset_file == (tmp_path / "offset").absolute()


def test_the_service_reads_what_the_clock_wrote(tmp_path: Path) -> None:
    real = datetime(2026, 12, 1, tzinfo=UTC)
    clock = DevClock(tmp_path / "offset")
    service = OffsetFileClock(clock.path, lambda: real)
    assert service() == real
    clock.advance(timedelta(days=13))
    assert service() == real + timedelta(days=13)
    clock.advance(timedelta(hours=1, milliseconds=250))
    assert service() == real + timedelta(days=13, hours=1, milliseconds=250)
    assert not list(tmp_path.glob(".*.new")), "the draft is renamed over the file"


def test_it_moves_to_a_moment_and_never_back(tmp_path: Path) -> None:
    clock = DevClock(tmp_path / "offset")
    target = datetime.now(UTC) + timedelta(days=12)
    reached = clock.advance_to(target)
    assert reached >= target
    assert clock.offset >= timedelta(days=12) - timedelta(seconds=5)
    before = clock.offset
    clock.advance_to(datetime.now(UTC))  # already past: stays
    assert clock.offset == before
    with pytest.raises(ValueError, match="only moves forward"):
        clock.advance(timedelta(seconds=-1))

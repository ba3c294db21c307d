"""The mentorship service's clock: the system's, or (development and tests only) the system's
moved ahead by an offset file that both settings must ask for."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from mentorship_service.clock import OffsetFileClock, clock_for, system_clock
from mentorship_service.config import MentorshipSettings
from pydantic import ValidationError

SYSTEM_NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def fixed() -> datetime:
    return SYSTEM_NOW


def write(path: Path, text: str) -> None:
    """As a test moves the clock: a new file renamed over the old one."""
    draft = path.with_suffix(".new")
    draft.write_text(text, encoding="utf-8")
    os.replace(draft, path)


def test_the_system_clock_is_aware() -> None:
    assert system_clock().tzinfo is not None


def test_without_the_file_the_clock_is_the_system_clock(tmp_path: Path) -> None:
    clock = OffsetFileClock(tmp_path / "offset", fixed)
    assert clock() == SYSTEM_NOW


def test_the_offset_moves_the_clock_while_it_runs(tmp_path: Path) -> None:
    path = tmp_path / "offset"
    write(path, "3600")
    clock = OffsetFileClock(path, fixed)
    assert clock() == SYSTEM_NOW + timedelta(hours=1)
    write(path, str(13 * 86400))
    assert clock() == SYSTEM_NOW + timedelta(days=13)
    write(path, "1209600.5\n")
    assert clock() == SYSTEM_NOW + timedelta(days=14, milliseconds=500)


@pytest.mark.parametrize("text", ["soon", "-60", "nan", "inf"])
def test_an_unreadable_or_negative_offset_is_ignored(tmp_path: Path, text: str) -> None:
    path = tmp_path / "offset"
    write(path, "60")
    clock = OffsetFileClock(path, fixed)
    write(path, text)
    assert clock() == SYSTEM_NOW + timedelta(seconds=60)


def test_time_never_goes_back(tmp_path: Path) -> None:
    path = tmp_path / "offset"
    write(path, "86400")
    clock = OffsetFileClock(path, fixed)
    write(path, "60")
    assert clock() == SYSTEM_NOW + timedelta(days=1)
    path.unlink()
    assert clock() == SYSTEM_NOW + timedelta(days=1)


def settings(**values: object) -> MentorshipSettings:
    return MentorshipSettings(database_url="postgresql://x@127.0.0.1/mentorship", **values)


def test_production_runs_on_the_system_clock() -> None:
    plain = settings()
    assert plain.offset_file is None
    assert clock_for(plain.offset_file) is system_clock


def test_the_offset_file_is_honoured_only_with_the_explicit_flag(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="DEV_CLOCK_CONTROL"):
        settings(dev_clock_offset_file=tmp_path / "offset")
    with pytest.raises(ValidationError, match="DEV_CLOCK_OFFSET_FILE"):
        settings(dev_clock_control=True)
    moved = settings(dev_clock_control=True, dev_clock_offset_file=tmp_path / "offset")
    assert moved.offset_file == tmp_path / "offset"
    assert isinstance(clock_for(moved.offset_file), OffsetFileClock)


def test_the_settings_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEV_CLOCK_CONTROL", "true")
    monkeypatch.setenv("DEV_CLOCK_OFFSET_FILE", str(tmp_path / "offset"))
    assert settings().offset_file == tmp_path / "offset"
    monkeypatch.delenv("DEV_CLOCK_CONTROL")
    with pytest.raises(ValidationError, match="development and tests only"):
        settings()

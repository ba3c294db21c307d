"""Reading versioned SQL migrations from a directory (`load_migrations`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mentorship_shared.plumbing.database import load_migrations, plumbing_migrations

REPO = Path(__file__).resolve().parents[3]


def write(directory: Path, name: str, sql: str = "SELECT 1;") -> None:
    (directory / name).write_text(sql)


def test_migrations_come_in_version_order(tmp_path: Path) -> None:
    write(tmp_path, "0010_add_index.sql", "CREATE INDEX i ON t (c);")
    write(tmp_path, "0002_add_column.sql", "ALTER TABLE t ADD c int;")
    write(tmp_path, "0001_create_table.sql", "CREATE TABLE t ();")

    migrations = load_migrations("profile", tmp_path)

    assert [m.version for m in migrations] == [1, 2, 10]
    assert [m.name for m in migrations] == [
        "0001_create_table",
        "0002_add_column",
        "0010_add_index",
    ]
    assert migrations[0].sql == "CREATE TABLE t ();"
    assert {m.source for m in migrations} == {"profile"}


@settings(max_examples=50, deadline=None)
@given(versions=st.sets(st.integers(1, 9999), min_size=1, max_size=12))
def test_any_set_of_versions_loads_sorted(versions: set[int]) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as directory:
        for version in versions:
            write(Path(directory), f"{version:04d}_step.sql")
        loaded = load_migrations("x", Path(directory))
    assert [m.version for m in loaded] == sorted(versions)


def test_other_files_are_skipped(tmp_path: Path) -> None:
    write(tmp_path, "0001_init.sql")
    write(tmp_path, "README.md", "# notes")
    write(tmp_path, "0002_init.sql.bak")
    assert [m.name for m in load_migrations("x", tmp_path)] == ["0001_init"]


@pytest.mark.parametrize(
    "bad_name",
    ["1_init.sql", "01_init.sql", "0001-init.sql", "0001_Init.sql", "init.sql", "0001_.sql"],
)
def test_misnamed_sql_file_is_refused(tmp_path: Path, bad_name: str) -> None:
    write(tmp_path, "0001_ok.sql")
    write(tmp_path, bad_name)
    with pytest.raises(ValueError, match="NNNN_description"):
        load_migrations("x", tmp_path)


def test_duplicate_version_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "0001_create_profiles.sql")
    write(tmp_path, "0001_create_tokens.sql")
    with pytest.raises(ValueError, match="share a version"):
        load_migrations("x", tmp_path)


def test_checksum_follows_the_sql(tmp_path: Path) -> None:
    write(tmp_path, "0001_init.sql", "CREATE TABLE a ();")
    first = load_migrations("x", tmp_path)[0].checksum
    assert load_migrations("x", tmp_path)[0].checksum == first
    write(tmp_path, "0001_init.sql", "CREATE TABLE b ();")
    assert load_migrations("x", tmp_path)[0].checksum != first


def test_empty_directory_has_no_migrations(tmp_path: Path) -> None:
    assert load_migrations("x", tmp_path) == []


def test_shipped_plumbing_migrations_load() -> None:
    migrations = plumbing_migrations()
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))
    assert all(m.sql.strip() for m in migrations)


@pytest.mark.parametrize("service", ["profile", "matching", "notification"])
def test_shipped_service_migrations_load(service: str) -> None:
    migrations = load_migrations(service, REPO / "services" / service / "migrations")
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))
    assert migrations

"""What a Stack gives each service process: its address, database, topics, SMTP server, peers
and settings. No server starts here: every server is given by address."""

from __future__ import annotations

from pathlib import Path

import pytest
from devstack.services import SERVICES, SYSTEM, ServiceSpec
from devstack.stack import Stack

ADMIN_URL = "postgresql://postgres@127.0.0.1:5999/postgres"


def stack(tmp_path: Path, **options: object) -> Stack:
    return Stack(
        tmp_path,
        postgres=ADMIN_URL,
        broker="127.0.0.1:9999",
        smtp=("127.0.0.1", 2599),
        **options,  # type: ignore[arg-type]
    )


def env_of(stack: Stack, name: str) -> dict[str, str]:
    process = next(p for p in stack.processes if p.name == name)
    spec = stack._spec(process)
    assert spec.env is not None
    return dict(spec.env)


def test_every_part_of_the_system_runs_once_on_a_port_of_its_own(tmp_path: Path) -> None:
    running = stack(tmp_path)

    assert [p.name for p in running.processes] == [s.name for s in SYSTEM]
    assert len({p.port for p in running.processes}) == len(SYSTEM)
    assert running.urls == {p.name: f"http://127.0.0.1:{p.port}" for p in running.processes}
    # The tools (the operator console) run only when asked, as `devstack up` asks.
    assert "console" not in running.urls
    assert {s.name for s in SERVICES} - {s.name for s in SYSTEM} == {"console"}


def test_the_console_is_told_where_every_service_is(tmp_path: Path) -> None:
    running = stack(tmp_path, services=SERVICES, operator_api_key="key-of-the-test")
    env = env_of(running, "console")

    assert env["PROFILE_URL"] == running.url("profile")
    assert env["MATCHING_URL"] == running.url("matching")
    assert env["NOTIFICATION_URL"] == running.url("notification")
    assert "console" not in running.databases


def test_replicas_get_numbered_names_and_the_first_one_answers_for_the_service(
    tmp_path: Path,
) -> None:
    running = stack(tmp_path, replicas={"matching": 3})

    assert running.names_of("matching") == ["matching-1", "matching-2", "matching-3"]
    assert running.url("matching") == running.processes[1].url
    assert (
        env_of(running, "matching-2")["DATABASE_URL"]
        == env_of(running, "matching-3")["DATABASE_URL"]
    )


def test_fixed_ports_are_kept(tmp_path: Path) -> None:
    running = stack(tmp_path, ports={"profile": 18001})

    assert running.url("profile") == "http://127.0.0.1:18001"
    assert env_of(running, "profile")["HTTP_PORT"] == "18001"


def test_a_process_is_wired_to_its_database_topics_smtp_and_peers(tmp_path: Path) -> None:
    running = stack(
        tmp_path, namespace="t1.", database_suffix="_t1", operator_api_key="key-of-the-test"
    )
    env = env_of(running, "matching")

    assert env["DATABASE_URL"] == "postgresql://postgres@127.0.0.1:5999/matching_t1"
    assert env["KAFKA_BOOTSTRAP_SERVERS"] == "127.0.0.1:9999"
    assert env["KAFKA_TOPIC_NAMESPACE"] == "t1."
    assert (env["SMTP_HOST"], env["SMTP_PORT"]) == ("127.0.0.1", "2599")
    assert env["OPERATOR_API_KEY"] == "key-of-the-test"
    assert running.databases["notification"].endswith("/notification_t1")


def test_settings_win_over_the_environment_which_wins_over_the_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KAFKA_SESSION_TIMEOUT_MS", "9000")
    monkeypatch.setenv("LOG_FORMAT", "json")
    monkeypatch.setenv("HTTP_PORT", "1")  # the stack's wiring wins over everything
    running = stack(tmp_path, settings={"LOG_FORMAT": "text"})
    env = env_of(running, "profile")

    assert env["KAFKA_SESSION_TIMEOUT_MS"] == "9000"
    assert env["KAFKA_HEARTBEAT_INTERVAL_MS"] == "1000"
    assert env["LOG_FORMAT"] == "text"
    assert env["HTTP_PORT"] != "1"


def test_a_service_without_a_database_gets_none_and_no_smtp_without_a_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("DATABASE_URL", "SMTP_HOST", "SMTP_PORT"):
        monkeypatch.delenv(name, raising=False)
    front = ServiceSpec("front", "front_service", 8900, database=False, peers=(("API", "front"),))
    running = Stack(tmp_path, services=(front,), postgres=ADMIN_URL, broker="127.0.0.1:9999")
    env = env_of(running, "front")

    assert "DATABASE_URL" not in env
    assert "SMTP_HOST" not in env
    assert running.databases == {}
    assert env["API"] == running.url("front")
    assert running.pids() == {"front": None}


def test_not_started_means_nothing_is_ready_and_stop_is_harmless(tmp_path: Path) -> None:
    running = stack(tmp_path)

    assert running.not_ready() == [p.name for p in running.processes]
    running.stop()
    running.stop()

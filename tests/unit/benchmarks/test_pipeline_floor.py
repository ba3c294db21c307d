"""The anchors' floor in the pipeline report: what it adds up, and what it leaves out."""

from __future__ import annotations

from typing import Any

import pytest

from benchmarks.pipeline.report import (
    CpuFloor,
    busy_machine_ms,
    cpu_floor,
    ratios,
    targets,
    targets_section,
)


def hello_step(
    rate: float, server_ms: float, generator_ms: float, *, passed: bool
) -> dict[str, Any]:
    return {
        "rate": rate,
        "passed": passed,
        "cpu_ms_per_request": server_ms,
        "generator_cpu_ms_per_request": generator_ms,
        "http": {"p50_ms": 2.0},
    }


def figures(*, hello: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "machine": {"cores": 2},
        "hello": hello,
        "kafka": {"p50_ms": 1.0, "cpu_ms_per_message": {"broker": 0.02, "load generator": 0.03}},
        "postgres": {
            "p50_ms": 0.5,
            "concurrent_per_second": 4000.0,
            "cpu_ms_per_transaction": {"postgres": 0.2, "load generator": 0.3},
        },
        "smtp": {"cpu_ms_per_mail": {"sink": 0.9, "load generator": 0.7}},
        "steps": [
            {
                "rate": 40.0,
                "passed": True,
                "accepted": 100,
                "latency": {"p50_ms": 100.0},
                "cpu_ms_per_registration": 20.0,
                "transactions_per_registration": 8.0,
                # 2.0 s in the stack's processes, 0.4 s in the sink and load generator.
                "cpu_seconds": {
                    "profile": 1.0,
                    "postgres": 1.0,
                    "sink": 0.3,
                    "load generator": 0.1,
                },
            }
        ],
    }


def test_the_floor_adds_one_request_five_transactions_four_messages_and_two_mails() -> None:
    fast = hello_step(1600, 0.3, 0.35, passed=True)
    floor = cpu_floor(figures(hello=[hello_step(50, 0.8, 0.8, passed=True), fast]))

    # Stack: 0.3 + 5 x 0.5 + 4 x 0.05 + 2 x 0.7 (the sender's share of a mail).
    assert floor == CpuFloor(pytest.approx(4.4), pytest.approx(4.4 + 0.35 + 2 * 0.9), floor.parts)
    assert "one hello-world request (0.30 ms" in floor.parts


def test_the_floor_takes_the_highest_sustained_hello_world_rate() -> None:
    steps = [hello_step(800, 0.4, 0.4, passed=True), hello_step(1600, 0.1, 0.1, passed=False)]
    floor = cpu_floor(figures(hello=steps))

    assert floor is not None
    assert floor.stack_ms == pytest.approx(0.4 + 2.5 + 0.2 + 1.4)


def test_no_sustained_hello_world_step_means_no_floor() -> None:
    data = figures(hello=[hello_step(50, 0.8, 0.8, passed=False)])

    assert cpu_floor(data) is None
    assert not [what for what, _, _ in ratios(data) if "floor allows" in what]


def test_the_ratios_state_the_rate_the_floor_allows_and_the_pipeline_against_it() -> None:
    data = figures(hello=[hello_step(1600, 0.3, 0.35, passed=True)])
    rows = {what: (value, how) for what, value, how in ratios(data)}

    assert busy_machine_ms(data["steps"][0]) == pytest.approx(24.0)
    assert rows["CPU a registration / the anchors' floor"][0] == f"{20.0 / 4.4:.1f}x"
    value, how = rows["registrations a second the anchors' floor allows"]
    assert value == f"{2000 / 6.55:,.0f}"
    assert "this pipeline spends 24.0 ms, which allows 83" in how


def test_the_targets_compare_the_sustained_rate_and_the_cpu_with_the_floor() -> None:
    data = figures(hello=[hello_step(1600, 0.3, 0.35, passed=True)])
    rate, cpu = targets(data)

    # The floor allows 2000 / 6.55 = 305/s; 40/s is 0.13 of it. 20 ms is 4.5 times 4.4 ms.
    assert (rate.measured, rate.holds) == ("0.13", False)
    assert "the target asks for 92/s" in rate.how
    assert (cpu.measured, cpu.holds) == ("4.5x", False)
    assert "the target asks for 13.2 ms" in cpu.how


def test_targets_hold_when_the_pipeline_is_close_enough_to_the_floor() -> None:
    data = figures(hello=[hello_step(1600, 0.3, 0.35, passed=True)])
    step = data["steps"][0]
    step.update(rate=100.0, cpu_ms_per_registration=13.0)

    assert [t.holds for t in targets(data)] == [True, True]
    page = "\n".join(targets_section(data))
    assert "| CPU a registration / the anchors' floor | 3.0x | at most 3x | holds |" in page


def test_without_a_floor_the_targets_are_not_measured() -> None:
    data = figures(hello=[hello_step(50, 0.8, 0.8, passed=False)])

    assert [t.holds for t in targets(data)] == [None, None]

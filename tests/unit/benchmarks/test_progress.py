"""The one progress bar of the command-line tools (the benchmarks' among them) and the
benchmarks' machine description."""

from __future__ import annotations

import io

import pytest
from mentorship_shared.plumbing import progress
from mentorship_shared.plumbing.progress import Progress

from benchmarks import machine


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_in_a_log_a_short_step_writes_only_its_last_line() -> None:
    log = io.StringIO()
    bar = Progress("(a) shortlists", 10, stream=log)
    for _ in range(10):
        bar.advance()
    bar.close()

    [line] = log.getvalue().splitlines()
    assert line.startswith("  (a) shortlists: 10 in ")


def test_in_a_log_a_long_step_writes_a_line_every_ten_seconds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = [100.0]
    monkeypatch.setattr(progress.time, "monotonic", lambda: clock[0])
    log = io.StringIO()
    bar = Progress("step 1 load", 60, stream=log)
    for second in range(1, 31):
        clock[0] = 100.0 + second
        bar.update(second, f"{second}/60 s")
    bar.close("sent 30")

    assert log.getvalue().splitlines() == [
        "  step 1 load [####....................]  17%  10/60 s",
        "  step 1 load [########................]  33%  20/60 s",
        "  step 1 load [############............]  50%  30/60 s",
        "  step 1 load: sent 30",
    ]


def test_on_a_terminal_the_bar_is_redrawn_in_place_with_what_is_left() -> None:
    screen = Terminal()
    bar = Progress("explanations", 4, stream=screen)
    bar.advance(4)

    assert screen.getvalue().startswith("\r\033[K  explanations [")
    assert "4/4" in screen.getvalue()
    assert "\n" not in screen.getvalue()


def test_the_machine_rows_name_what_is_known_and_leave_out_what_is_not() -> None:
    host = machine.describe()
    host["ram_gib"] = None
    rows = machine.markdown_rows(host)

    assert rows[:2] == ["| | |", "|---|---|"]
    assert f"| Python | {host['python']} |" in rows
    assert not [row for row in rows if row.startswith("| RAM")]
    assert not [row for row in rows if row.startswith("| numpy")]
    assert [row for row in machine.markdown_rows(machine.describe(numeric=True)) if "BLAS" in row]

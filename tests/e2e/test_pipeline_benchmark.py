"""`make bench` cannot rot: the pipeline benchmark's smoke run (`--quick`, one tiny rate) goes
through the whole embedded stack and writes a report and a plot with plausible figures.

Nothing here depends on how fast the machine is: the test checks that registrations were
accepted and mailed, none lost, and that every figure the report promises is there."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(400)]

REPO = Path(__file__).resolve().parents[2]


def test_quick_run_writes_a_report_with_every_section(tmp_path: Path) -> None:
    report, plot, raw = (
        tmp_path / "pipeline.md",
        tmp_path / "pipeline-latency.png",
        tmp_path / "f.json",
    )
    command = [
        sys.executable,
        *("-m", "benchmarks.pipeline", "--quick", "--rates", "3"),
        *("--output", str(report), "--json", str(raw), "--work-dir", str(tmp_path / "work")),
    ]
    done = subprocess.run(
        command, cwd=REPO, capture_output=True, text=True, timeout=360, check=False
    )
    assert done.returncode == 0, f"stdout:\n{done.stdout[-3000:]}\nstderr:\n{done.stderr[-6000:]}"

    text = report.read_text(encoding="utf-8")
    for section in ("## Machine", "## Settings", "## Pipeline", "## Anchors", "## Ratios"):
        assert section in text, section
    assert "## How to read this" in text
    assert "load average" in text
    assert "![Latency against offered rate](pipeline-latency.png)" in text
    assert plot.is_file()
    assert plot.read_bytes().startswith(b"\x89PNG")

    figures = json.loads(raw.read_text(encoding="utf-8"))
    [step] = figures["steps"]
    assert step["rate"] == 3
    assert step["accepted"] > 0
    assert step["refused"] == 0
    assert step["gave_up"] == 0
    assert step["lost"] == 0
    assert step["delivered"] == step["accepted"]
    assert 0 < step["latency"]["p50_ms"] <= step["latency"]["p99_ms"]
    assert step["cpu_ms_per_registration"] > 0
    assert step["transactions_per_registration"] > 0
    assert figures["kafka"]["p50_ms"] > 0
    assert figures["kafka"]["through_per_second"] > 0
    assert figures["postgres"]["p50_ms"] > 0
    assert figures["postgres"]["concurrent_per_second"] > 0
    assert figures["postgres"]["cpu_ms_per_transaction"]["postgres"] > 0
    assert sum(figures["kafka"]["cpu_ms_per_message"].values()) > 0
    assert figures["smtp"]["p50_ms"] > 0
    assert figures["smtp"]["concurrent_per_second"] > 0
    assert figures["smtp"]["cpu_ms_per_mail"]["sink"] > 0
    assert "the anchors' floor" in text
    assert figures["hello"]
    assert all(h["accepted"] > 0 for h in figures["hello"])
    assert not math.isnan(figures["hello"][0]["http"]["p50_ms"])

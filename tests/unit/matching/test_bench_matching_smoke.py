"""`make bench-matching` still runs: its main at tiny sizes, checking the report's shape and
that its figures are sane. Never a time assertion."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.matching.cli import main
from benchmarks.matching.sizes import QUICK


def test_quick_benchmark_writes_a_sane_report(tmp_path: Path) -> None:
    report_path = tmp_path / "matching.md"
    figures_path = tmp_path / "matching.json"
    tiny = ["--mentees", "600", "--mentors", "120", "--online", "10"]
    tiny += ["--cohort-mentees", "300", "--cohort-mentors", "60"]
    tiny += ["--small-cohorts", "2", "--check-mentees", "100", "--check-mentors", "20"]
    tiny += ["--sample-mentees", "60", "--sample-mentors", "15"]
    argv = ["--quick", *tiny, "--output", str(report_path), "--json", str(figures_path)]

    assert main(argv) == 0

    report = report_path.read_text(encoding="utf-8")
    for heading in ("## Machine", "## (a) Top-5 shortlists", "## (b) One online match", "## (c)"):
        assert heading in report
    assert "## Reading" in report

    figures = json.loads(figures_path.read_text(encoding="utf-8"))
    shortlisted = figures["shortlists"]
    assert shortlisted["mentees"] == 600
    assert 0 < shortlisted["pairs_shown"] <= 600 * QUICK.shortlist
    assert shortlisted["pairs_explained"] == shortlisted["pairs_shown"]
    assert shortlisted["exposure_used"] <= shortlisted["exposure_limit_total"]
    lists = ("mentees_full_list", "mentees_partial_list", "mentees_empty_list")
    assert sum(shortlisted[name] for name in lists) == 600

    online = figures["online"]
    assert online["match"]["samples"] == 10
    assert online["use_case"]["samples"] == 10
    assert 0 < online["match"]["p50_ms"] <= online["match"]["p99_ms"]
    assert online["proposed"] == 10
    # After the first full read, each refresh reads the few rows that changed, not the table.
    assert online["rows_read_per_refresh"] < 5

    cohort = figures["cohort"]
    optimal, greedy = cohort["optimal"], cohort["greedy"]
    for outcome in (optimal, greedy):
        assert 0 < outcome["matched"] <= min(cohort["mentees"], cohort["slots"])
        assert outcome["slots_used"] == outcome["matched"]
        assert outcome["full"] + outcome["partly_used"] + outcome["unused"] == cohort["mentors"]
    assert optimal["total_score"] >= greedy["total_score"] - 1e-9

    exactness = figures["exactness"]
    for ratios in (*exactness["top_k"].values(), exactness["greedy_full"]):
        assert 0 < ratios["min"] <= ratios["mean"] <= 1 + 1e-9
    check = exactness["check"]
    assert check["top_k"][str(check["k"])]["total_score"] <= check["exact"]["total_score"] + 1e-9
    # The round is proven optimal, so it reaches scipy's exact optimum.
    assert check["round_proven"]
    assert abs(check["round"]["total_score"] - check["exact"]["total_score"]) <= 1e-9
    assert cohort["proven"]

    whole = figures["whole_round"]
    assert whole["mentees"] == 600
    assert whole["peak_mib"] >= whole["population_mib"] > 0
    assert whole["sample"]["round_total"] <= whole["sample"]["exact_total"] + 1e-9

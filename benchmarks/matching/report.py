"""The matching benchmark's Markdown report: one function per section, from the figures the
sections measured (also written as --json), and the reading paragraph that says what they mean
for the product."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from matching_service.matcher.scoring import ALGORITHM_VERSION, N_LEVELS, N_SKILLS
from mentorship_shared.contracts.skills import TAXONOMY

from benchmarks.machine import markdown_rows
from benchmarks.matching.population import (
    INDUSTRIES,
    REFERENCE_INSTANT,
    SECOND_LANGUAGES,
    TARGET_ROLE_WEIGHTS,
    TARGET_ROLES,
    ZONES,
)
from benchmarks.matching.sizes import Sizes


def _time(seconds: float) -> str:
    if seconds >= 100:
        return f"{seconds:,.0f} s"
    if seconds >= 1:
        return f"{seconds:.1f} s"
    if seconds >= 0.001:
        return f"{seconds * 1000:.1f} ms"
    return f"{seconds * 1e6:.0f} µs"


def _ms(value: float) -> str:
    return _time(value / 1000.0)


def _share(value: float) -> str:
    return f"{value:.0%}" if value >= 0.1 or value == 0 else f"{value:.1%}"


def _ratio(numerator: float, denominator: float) -> str:
    return f"{numerator / denominator:,.1f}x" if denominator > 0 else "n/a"


def _profile_table(
    add: Callable[[str], None], figures: dict[str, Any], cumulative: bool = False, top: int = 6
) -> None:
    rows = figures["cumulative" if cumulative else "functions"][:top]
    if cumulative:
        add("| function, with what it calls (nested rows overlap) | share |")
    else:
        add("| function (own time) | share |")
    add("|---|---:|")
    for row in rows:
        label = row["function"].replace("|", "\\|")
        add(f"| {label} | {row['share']:.0%} |")
    if not cumulative:
        add(f"| everything else | {1.0 - sum(row['share'] for row in rows):.0%} |")
    add("")
    add("By package: " + _packages(figures) + ".")


def _packages(figures: dict[str, Any]) -> str:
    shown = [row for row in figures["packages"] if row["share"] >= 0.01]
    return ", ".join(f"{row['package']} {row['share']:.0%}" for row in shown)


def render(sizes: Sizes, command: str, figures: dict[str, Any], population: dict[str, Any]) -> str:
    sections = (
        title_section(command, figures),
        machine_section(figures),
        population_section(sizes, figures, population),
        shortlists_section(sizes, figures),
        online_section(sizes, figures),
        cohort_section(figures),
        reading_section(sizes, figures),
    )
    return "\n".join(line for section in sections for line in section)


def title_section(command: str, figures: dict[str, Any]) -> list[str]:
    """What the report is and how it was made."""
    lines: list[str] = []
    add = lines.append
    add("# Matching benchmark")
    add("")
    add(
        f"Written by `make bench-matching` (`{command}`). One run's wall-clock figures on the "
        "machine below; nothing here is a pass/fail threshold. Each part is set against an "
        "anchor measured in the same process: the bare numpy matrix product of the shape the "
        "scoring works on (mentors one-hot by level, "
        f"{N_SKILLS} skills x {N_LEVELS} levels = {N_SKILLS * N_LEVELS} columns), so the "
        "ratios say how far the matcher is from arithmetic it cannot avoid. Score "
        f"`{ALGORITHM_VERSION}`, weights `{figures['weights_version']}`."
    )
    add("")
    return lines


def machine_section(figures: dict[str, Any]) -> list[str]:
    """The machine, and how busy it was at the start and the end."""
    host = figures["machine"]
    lines: list[str] = []
    add = lines.append
    add("## Machine")
    add("")
    lines.extend(markdown_rows(host))
    if host["load_average"] is not None and figures["load_at_start"] is not None:
        add(
            f"| load average (1 min) at start / end | {figures['load_at_start']:.1f} / "
            f"{host['load_average'][0]:.1f} (other work on the machine slows every figure) |"
        )
    add("")
    return lines


def population_section(
    sizes: Sizes, figures: dict[str, Any], population: dict[str, Any]
) -> list[str]:
    """Who was generated, for each part, and the traits measured on the population of (a)."""
    a, b, c, e = (figures[part] for part in ("shortlists", "online", "cohort", "exactness"))
    lines: list[str] = []
    add = lines.append
    add("## Population")
    add("")
    add(
        f"Seed {sizes.seed}; every part draws its own people from it, so a part's population "
        "does not change when another part's size does. UTC offsets are read at "
        f"{REFERENCE_INSTANT:%Y-%m-%d %H:%M} UTC (northern winter) from a weighted list of "
        f"{len(ZONES)} IANA zones across the Americas, Europe, India and East Asia; engineers "
        "weigh more towards India, product managers towards the US and Europe."
    )
    add("")
    add("| part | mentees | mentors | mentor capacity |")
    add("|---|---:|---:|---|")
    add(f"| (a) shortlists | {a['mentees']:,} | {a['mentors']:,} | 1-5, mostly 1-2 |")
    add(
        f"| (b) online matches | {sizes.online:,} new, one at a time"
        f" | {b['mentors']:,} (as in a) | 1-5 |"
    )
    add(f"| (c) cohort round | {c['mentees']:,} | {c['mentors']:,} | 1-5, mostly 1-2 |")
    add(f"| (c) small cohorts | {e['cohorts']} x {e['mentees']} | {e['mentors']} each | 1-3 |")
    if e["check"] is not None:
        add(
            f"| (c) exactness check | {e['check']['mentees']:,} | {e['check']['mentors']:,} | 1-5 |"
        )
    add("")
    strong = population["mentor_strong_share"]
    by_group = population["gap_share_by_group"]
    add("Measured on the population of (a):")
    add("")
    add("| trait | value |")
    add("|---|---|")
    add(
        f"| skill gaps per mentee (target 3-5 above the current level) | "
        f"{population['gaps_per_mentee_mean']:.1f} on average (2-6); "
        f"{_share(by_group['build'])} on 'build' skills, {_share(by_group['career'])} on "
        f"'career', {_share(by_group['bring'])} on 'bring' |"
    )
    add(
        f"| mentors strong (4-5) per skill | "
        f"{population['strengths_per_mentor_mean']:.1f} strong skills per mentor; "
        + ", ".join(
            f"{TAXONOMY.by_id(skill).short_name} {_share(strong[skill])}"
            for skill in sorted(strong, key=lambda s: strong[s])
        )
        + " |"
    )
    add(
        f"| languages | {_share(population['mentees_with_second_language'])} of mentees speak a "
        f"second language ({', '.join(SECOND_LANGUAGES)}), "
        f"{_share(population['mentees_without_english'])} no English "
        f"(mentors: {_share(population['mentors_without_english'])}) |"
    )
    add(
        f"| timezone limit | {_share(population['mentees_with_timezone_limit'])} of mentees "
        "accept at most 3-8 hours apart |"
    )
    add(
        f"| mentors | capacity {population['mentor_capacity_mean']:.1f} on average "
        f"({population['mentor_slots']:,} slots); "
        f"{_share(population['mentors_was_engineer'])} were engineers |"
    )
    add(
        f"| target roles | {', '.join(str(role) for role in TARGET_ROLES)} "
        f"({', '.join(_share(w) for w in TARGET_ROLE_WEIGHTS)}); industries: "
        f"{len(INDUSTRIES)}, mentees 0-2, mentors 1-3 |"
    )
    add("")
    return lines


#: The targets the report sets each figure against (ratios to anchors measured in the same run).
SHORTLIST_TARGET = 3.0  # shortlists and explanations / bare products of the same blocks
ONLINE_P99_TARGET_MS = 3.0  # one online match at 10,000 mentors, directory refresh included
ROUND_SECONDS_TARGET = 20.0  # cohort round 20,000 x 4,000, computation
ROUND_EXACT_TARGET = 0.995  # share of the exact optimum on the exactness check


def _verdict(holds: bool) -> str:
    return "holds" if holds else "**missed**"


def shortlists_section(sizes: Sizes, figures: dict[str, Any]) -> list[str]:
    """(a) shortlists and their explanations against the bare products."""
    a = figures["shortlists"]
    lines: list[str] = []
    add = lines.append
    total_a = a["shortlist_seconds"] + a["explain_seconds"]
    ratio = total_a / a["anchor_seconds"] if a["anchor_seconds"] else float("inf")
    add(
        f"## (a) Top-{a['k']} shortlists for {a['mentees']:,} mentees against {a['mentors']:,} mentors"
    )
    add("")
    add(
        f"`ranking.shortlists` with the hard constraints (shared language, free slot, timezone "
        f"limit) and the exposure limit ({sizes.exposure_per_slot} shortlists per free slot), "
        f"{sizes.block} mentees per block: one fused product per block against the mentors "
        "who still have exposure left, each row's best found from group maxima, and the order "
        "of service settled for the whole block at once. Then `ranking.proposals_for` for "
        "every pair shown: components and explanation for those pairs only."
    )
    add("")
    add("| step | time | rate |")
    add("|---|---:|---:|")
    add(f"| `MentorPool` from {a['mentors']:,} mentors | {_time(a['pool_seconds'])} | |")
    add(
        f"| `shortlists` (scores, constraints, exposure, top-{a['k']}) | "
        f"{_time(a['shortlist_seconds'])} | "
        f"{a['mentees'] / a['shortlist_seconds']:,.0f} mentees/s |"
    )
    per_pair = a["explain_seconds"] / a["pairs_explained"] if a["pairs_explained"] else 0.0
    add(
        f"| explanations: `proposals_for` for the {a['pairs_explained']:,} pairs shown | "
        f"{_time(a['explain_seconds'])} | {_time(per_pair)} per pair |"
    )
    add(
        f"| **shortlists and explanations** | **{_time(total_a)}** | "
        f"{a['mentees'] / total_a:,.0f} mentees/s |"
    )
    add(
        f"| anchor: bare ({a['mentors']:,} x {N_SKILLS * N_LEVELS}) @ "
        f"({N_SKILLS * N_LEVELS} x {sizes.block}) products, same {a['blocks']:,} blocks | "
        f"{_time(a['anchor_seconds'])} | |"
    )
    add(
        f"| **shortlists and explanations / anchor** | **{ratio:,.2f}x** | target at most "
        f"{SHORTLIST_TARGET:g}x: {_verdict(ratio <= SHORTLIST_TARGET)} |"
    )
    if a.get("unbound_mentees"):
        unbound_ratio = _ratio(a["unbound_seconds"], a["unbound_anchor_seconds"])
        add(
            f"| `shortlists` for the first {a['unbound_mentees']:,} mentees with no binding "
            f"exposure limit (every list full, no block cut short) | "
            f"{_time(a['unbound_seconds'])} | {unbound_ratio} its anchor "
            f"({_time(a['unbound_anchor_seconds'])}) |"
        )
    add("")
    add("| outcome | |")
    add("|---|---:|")
    add(f"| mentees with a full list of {a['k']} | {a['mentees_full_list']:,} |")
    add(f"| mentees with 1-{a['k'] - 1} mentors | {a['mentees_partial_list']:,} |")
    add(f"| mentees with an empty list | {a['mentees_empty_list']:,} |")
    if a["first_empty_list"] is not None:
        add(f"| first mentee (in serving order) with an empty list | #{a['first_empty_list']:,} |")
    add(
        f"| empty lists among the first / last {a['tenth']:,} mentees served | "
        f"{a['empty_in_first_tenth']:,} / {a['empty_in_last_tenth']:,} |"
    )
    add(f"| pairs shown | {a['pairs_shown']:,} of {a['mentees'] * a['k']:,} |")
    add(
        f"| exposure used / allowed (free slots x {sizes.exposure_per_slot}) | "
        f"{a['exposure_used']:,} / {a['exposure_limit_total']:,} |"
    )
    add(
        f"| mentors shown at least once / at their exposure limit | "
        f"{a['mentors_shown']:,} / {a['mentors_at_exposure_limit']:,} of {a['mentors']:,} |"
    )
    if a["empty_sample"]:
        add(
            f"| of {a['empty_sample']:,} mentees sampled from the empty lists: an eligible mentor "
            "who can teach part of the gap was still below the exposure limit at the end / no "
            f"eligible mentor at all | {a['empty_sample_could_be_shown']:,} / "
            f"{a['empty_sample_nobody_eligible']:,} |"
        )
    add("")
    early, late = a["early_profile"], a["late_profile"]
    add(
        f"Where the time of `shortlists` goes (cProfile), for the first {a['profile_mentees']:,} "
        f"mentees served ({_time(early['seconds'])} profiled, "
        f"{_time(early['seconds'] / a['profile_mentees'])} a mentee):"
    )
    add("")
    _profile_table(add, early)
    add("")
    add(
        f"and for mentees #{a['late_profile_first']:,} to "
        f"#{a['late_profile_first'] + a['late_profile_mentees'] - 1:,}, with the exposure the run "
        f"had left them ({_time(late['seconds'])} profiled, "
        f"{_time(late['seconds'] / a['late_profile_mentees'])} a mentee):"
    )
    add("")
    _profile_table(add, late)
    add("")
    add(
        "Where the time of the explanations goes (`proposals_for` on about 2,000 pairs, "
        f"{_time(a['proposal_profile']['seconds'])} profiled):"
    )
    add("")
    _profile_table(add, a["proposal_profile"], cumulative=True)
    add("")
    return lines


def online_section(sizes: Sizes, figures: dict[str, Any]) -> list[str]:
    """(b) one online match in the service's code path, against a real database."""
    b = figures["online"]
    lines: list[str] = []
    add = lines.append
    add(f"## (b) One online match against {b['mentors']:,} mentors, in the service's code path")
    add("")
    add(
        f"The {b['mentors']:,} mentors of (a) stored in PostgreSQL (the embedded server of "
        f"`make dev`), then {sizes.online:,} new mentees one at a time, each in its own "
        "transaction as a consumer runs it. **The match**: the mentor directory's refresh "
        "through the repository (one indexed read of the mentor rows changed since the "
        "last match: the slot the previous proposal took, and every "
        f"{b['profile_changes'] and sizes.online // max(b['profile_changes'], 1)}th match a "
        "mentor profile changed by another transaction, re-encoded alone; the mentee's closed "
        "pairs in the same statement), scores, constraints, ranking and the explanation of "
        "the best. **The use case**: "
        "`propose_mentor` as a whole, the match plus locking the mentee, reserving the slot "
        "under the mentor's row lock, storing the proposal and its event."
    )
    add("")
    threads = b["blas_threads"] or "default"
    match_p99 = b["match"]["p99_ms"]
    add("| | BLAS threads | p50 | p99 | mean | p50 / anchor p50 |")
    add("|---|---:|---:|---:|---:|---:|")
    product = f"({b['mentors']:,} x {N_SKILLS * N_LEVELS}) @ ({N_SKILLS * N_LEVELS},)"
    rows_b = (
        (f"anchor: one bare {product} product", threads, "anchor", "anchor"),
        ("**the match** (directory refresh included)", threads, "match", "anchor"),
        ("the use case `propose_mentor`, writes included", threads, "use_case", "anchor"),
        ("anchor: one `SELECT 1` round trip to PostgreSQL", "", "round_trip", "round_trip"),
    )
    for label, thread_count, key, base in rows_b:
        row = b[key]
        add(
            f"| {label} | {thread_count} | {_ms(row['p50_ms'])} | {_ms(row['p99_ms'])} | "
            f"{_ms(row['mean_ms'])} | {_ratio(row['p50_ms'], b[base]['p50_ms'])} |"
        )
    add("")
    add(
        f"**Match p99 {_ms(match_p99)}** (target under "
        f"{ONLINE_P99_TARGET_MS:g} ms: {_verdict(match_p99 < ONLINE_P99_TARGET_MS)}); it makes "
        "one statement (the directory's refresh, which reads the closed pairs too), and one "
        "bare round "
        f"trip took {_ms(b['round_trip']['p50_ms'])} (p99 {_ms(b['round_trip']['p99_ms'])}) "
        "in the same run. The "
        f"directory's first full read of the {b['mentors']:,} mentors took "
        f"{_time(b['first_read_seconds'])}; afterwards a refresh read "
        f"{b['rows_read_per_refresh']:.1f} mentor rows on average. "
        f"{b['proposed']:,} of {sizes.online:,} mentees got a proposal."
    )
    add("")
    add(
        f"Where the time of the match goes without the database (cProfile, "
        f"{b['match_profile_samples']} matches, {_time(b['match_profile']['seconds'])} profiled):"
    )
    add("")
    _profile_table(add, b["match_profile"], cumulative=True)
    add("")
    return lines


def cohort_section(figures: dict[str, Any]) -> list[str]:
    """(c) the cohort round, optimal against greedy, and both against the exact optimum; (d)
    a round of the whole population."""
    c, e = figures["cohort"], figures["exactness"]
    lines: list[str] = []
    add = lines.append
    opt, gre = c["optimal"], c["greedy"]
    add(f"## (c) A cohort round: {c['mentees']:,} mentees, {c['mentors']:,} mentors")
    add("")
    add(
        f"{c['slots']:,} free slots. `assignment.optimal_round`, as the service's round runs: "
        f"a candidate graph of each mentee's {c['per_mentee']} best allowed mentors and each "
        "mentor's best mentees (one fused product per block), a minimum-cost flow on it "
        "(OR-Tools, mentor capacities as arc capacities), then its dual prices: a pair left "
        "out can only raise the total if it scores above its mentee's surplus plus its "
        "mentor's price, so only the pairs whose cut-offs allow that are scored again, those "
        "that would gain join the graph, and the flow is solved again until none is left: "
        "optimal over every allowed pair, not only over the graph. `assign_greedy` is first "
        "come, first served on the final graph."
    )
    add("")
    holds = c["round_seconds"] < ROUND_SECONDS_TARGET
    add("| step | time |")
    add("|---|---:|")
    add(
        f"| **round (graph, {c['solves']} flows, proof)** | **{_time(c['round_seconds'])}** "
        f"(target under {ROUND_SECONDS_TARGET:g} s: {_verdict(holds)}) |"
    )
    add(f"| `assign_greedy` | {_time(c['greedy_seconds'])} |")
    add("")
    add(
        f"Final graph {c['edges']:,} edges; {c['pairs_checked']:,} pairs scored again for "
        f"the proof ({c['pairs_checked'] / max(c['pairs_total'], 1):.1f} times the "
        f"{c['pairs_total']:,} pairs of the cohort). "
        + (
            "Proven optimal over every allowed pair."
            if c["proven"]
            else f"Not proven within its flows: at least {opt['total_score'] / c['bound']:.4%} "
            "of the optimum (the dual bound)."
        )
    )
    add("")
    add("| | optimal | greedy |")
    add("|---|---:|---:|")
    add(f"| mentees matched | {opt['matched']:,} | {gre['matched']:,} |")
    add(f"| total score | {opt['total_score']:,.1f} | {gre['total_score']:,.1f} |")
    add(f"| mean score per match | {opt['mean_score']:.3f} | {gre['mean_score']:.3f} |")
    add(f"| mentors full | {opt['full']:,} | {gre['full']:,} |")
    add(f"| mentors partly used | {opt['partly_used']:,} | {gre['partly_used']:,} |")
    add(f"| mentors unused | {opt['unused']:,} | {gre['unused']:,} |")
    add(f"| slots used | {opt['slots_used']:,} | {gre['slots_used']:,} |")
    add("")
    add(f"Optimal over greedy: **{c['gain_percent']:+.1f}%** total score.")
    add("")
    add(
        f"Against the exact optimum (every allowed pair, scipy's dense `linear_sum_assignment` "
        f"on slot-expanded columns, `assign_dense`): {e['cohorts']} cohorts of {e['mentees']} "
        f"mentees x {e['mentors']} mentors (capacity 1-3), on average "
        f"{e['exact_matched_mean']:.1f} matched by the exact optimum. The top-k rows are the "
        "flow on each mentee's top-k alone, without the proof: what cutting the lists costs."
    )
    add("")
    add("| assignment | total / exact, mean | worst cohort | matched / exact |")
    add("|---|---:|---:|---:|")
    add("| exact optimum | 1.000 | 1.000 | 1.000 |")
    row = e["round"]
    add(
        f"| the round (`optimal_round`) | {row['mean']:.4f} | {row['min']:.4f} | "
        f"{row['matched_mean']:.3f} |"
    )
    for k, row in e["top_k"].items():
        add(
            f"| flow on each mentee's top-{k} | {row['mean']:.3f} | {row['min']:.3f} | "
            f"{row['matched_mean']:.3f} |"
        )
    row = e["greedy_full"]
    add(
        f"| first-come greedy (every allowed pair) | {row['mean']:.3f} | {row['min']:.3f} | "
        f"{row['matched_mean']:.3f} |"
    )
    check = e["check"]
    if check is not None:
        exact = check["exact"]
        share = (
            check["round"]["total_score"] / exact["total_score"] if exact["total_score"] else 1.0
        )
        add("")
        add(
            f"The exactness check: one larger cohort, {check['mentees']:,} mentees x "
            f"{check['mentors']:,} mentors (capacity 1-5, {check['edges']:,} allowed pairs):"
        )
        add("")
        add("| assignment | matched | total score | total / exact |")
        add("|---|---:|---:|---:|")
        rows = (
            ("exact optimum (scipy, dense)", exact),
            ("**the round (`optimal_round`)**", check["round"]),
            (f"flow on each mentee's top-{check['k']} alone", check["top_k"][check["k"]]),
            (f"first-come greedy on the top-{check['k']}", check["greedy_top_k"]),
            ("first-come greedy (every allowed pair)", check["greedy_full"]),
        )
        for label, outcome in rows:
            add(
                f"| {label} | {outcome['matched']:,} | {outcome['total_score']:,.2f} | "
                f"{outcome['total_score'] / exact['total_score'] if exact['total_score'] else 1.0:.4f} |"
            )
        add("")
        add(
            f"**The round keeps {share:.4%} of the exact optimum** (target at least "
            f"{ROUND_EXACT_TARGET:.1%}: {_verdict(share >= ROUND_EXACT_TARGET - 1e-12)})."
        )
    add("")
    whole = figures.get("whole_round")
    if whole is not None:
        lines.extend(_whole_round_lines(whole))
    return lines


def _whole_round_lines(d: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    add = lines.append
    opt = d["optimal"]
    sample = d["sample"]
    add(f"## (d) A round of everyone in (a): {d['mentees']:,} mentees, {d['mentors']:,} mentors")
    add("")
    add(
        f"{d['slots']:,} free slots; the same `optimal_round`, in a process of its own so that "
        "its memory peak is its own."
    )
    add("")
    add("| | |")
    add("|---|---:|")
    add(f"| computation | {_time(d['round_seconds'])} ({d['solves']} flows solved) |")
    add(
        f"| memory peak of the process | {d['peak_mib']:,.0f} MiB "
        f"({d['population_mib']:,.0f} MiB with the population alone) |"
    )
    add(f"| final graph | {d['edges']:,} edges |")
    add(f"| mentees matched | {opt['matched']:,} |")
    add(f"| total score | {opt['total_score']:,.1f} (greedy {d['greedy']['total_score']:,.1f}) |")
    add(
        "| optimality | "
        + (
            "proven over every allowed pair"
            if d["proven"]
            else f"at least {opt['total_score'] / d['bound']:.4%} of the optimum (dual bound)"
        )
        + " |"
    )
    share = sample["round_total"] / sample["exact_total"] if sample["exact_total"] else 1.0
    add(
        f"| sampled sub-cohort ({sample['mentees']:,} mentees x {sample['mentors']:,} mentors): "
        f"the round's total / scipy's exact optimum | {share:.4%} |"
    )
    add("")
    return lines


def reading_section(sizes: Sizes, figures: dict[str, Any]) -> list[str]:
    """What the figures mean for the product, in one paragraph."""
    lines: list[str] = []
    add = lines.append
    add("## Reading")
    add("")
    add(reading(sizes, figures))
    add("")
    return lines


def _share_of(figures: dict[str, Any], suffix: str) -> float | None:
    for row in figures["cumulative"]:
        if row["function"].endswith(suffix):
            share: float = row["share"]
            return share
    return None


def reading(sizes: Sizes, figures: dict[str, Any]) -> str:
    """One paragraph on what the figures mean for the product."""
    a = figures["shortlists"]
    b = figures["online"]
    c = figures["cohort"]
    e = figures["exactness"]
    places = a["mentees"] * a["k"]
    total_a = a["shortlist_seconds"] + a["explain_seconds"]
    text = [
        f"Shortlisting {a['mentees']:,} engineers against {a['mentors']:,} product managers "
        f"with explanations took {_time(total_a)} "
        f"({a['mentees'] / total_a:,.0f} a second), "
        f"{_ratio(total_a, a['anchor_seconds'])} the bare matrix products of the same blocks "
        f"(target at most {SHORTLIST_TARGET:g}x). Blocks stop costing anything once every "
        "mentor's exposure is used up, since nobody after can be shown anyone"
        + (
            f"; with no binding limit the kernel takes "
            f"{_ratio(a['unbound_seconds'], a['unbound_anchor_seconds'])} its anchor: one "
            "fused product per block (every component and soft factor together) plus finding "
            "each row's best."
            if a.get("unbound_mentees")
            else "."
        )
    ]
    if a["mentees_empty_list"]:
        unused = a["exposure_limit_total"] - a["exposure_used"]
        served = a["mentees"] - a["mentees_empty_list"]
        sentence = (
            f"With {a['mentees'] / a['mentors']:.0f} engineers per mentor, the exposure limit, "
            f"not the computation, decides what people see: the {a['exposure_limit_total']:,} "
            f"showings it allows ({sizes.exposure_per_slot} per free slot) "
            + ("were all taken" if unused == 0 else f"minus {unused:,} unused were taken")
            + f" by {served:,} engineers, and {a['mentees_empty_list']:,} "
            f"({a['mentees_empty_list'] / a['mentees']:.0%}) saw an empty list"
        )
        if unused and a["empty_sample_could_be_shown"]:
            sentence += (
                f", although {a['empty_sample_could_be_shown']:,} of {a['empty_sample']:,} "
                "sampled engineers with an empty list had an eligible mentor below the limit"
            )
        text.append(sentence + ".")
    early, late = a["early_profile"], a["late_profile"]
    early_each = early["seconds"] / max(a["profile_mentees"], 1)
    late_each = late["seconds"] / max(a["late_profile_mentees"], 1)
    if late_each > 1.5 * early_each and late["functions"]:
        hottest = late["functions"][0]
        walk = (
            ", which walks the rest of the ranking one mentor at a time looking for one below "
            "the limit"
            if hottest["function"].endswith("_fill_shortlist")
            else ""
        )
        text.append(
            f"The engineers served last are the expensive ones: {_time(late_each)} each under "
            f"the profiler against {_time(early_each)} for the first, "
            f"{hottest['share']:.0%} of it in `{hottest['function']}`{walk}."
        )
    per_pair = a["explain_seconds"] / a["pairs_explained"] if a["pairs_explained"] else 0.0
    if per_pair:
        text.append(
            f"An explanation costs {_time(per_pair)} a pair; explaining every place of full "
            f"shortlists ({places:,} pairs) would take about {_time(places * per_pair)}."
        )
    text.append(
        f"One online match in the service's code path, the mentor directory's refresh from "
        f"PostgreSQL included, takes {_ms(b['match']['p50_ms'])} (p99 "
        f"{_ms(b['match']['p99_ms'])}; target under {ONLINE_P99_TARGET_MS:g} ms) against "
        f"{b['mentors']:,} mentors: the directory reads only the "
        f"{b['rows_read_per_refresh']:.1f} mentor rows changed since the previous match, so "
        "its cost follows the changes, not the number of mentors; the whole use case with "
        f"its writes takes {_ms(b['use_case']['p50_ms'])} (p99 {_ms(b['use_case']['p99_ms'])})."
    )
    opt, gre = c["optimal"], c["greedy"]
    text.append(
        f"A cohort round for {c['mentees']:,} engineers and {c['mentors']:,} mentors takes "
        f"{_time(c['round_seconds'])} of computation (target under {ROUND_SECONDS_TARGET:g} s) "
        + ("and is proven optimal over every allowed pair" if c["proven"] else "")
        + f"; the optimum matches {opt['matched'] - gre['matched']:+,} engineers against first "
        f"come, first served and scores {c['gain_percent']:+.1f}% in total "
        f"({opt['mean_score']:.2f} against {gre['mean_score']:.2f} a match)."
    )
    check = e["check"]
    if check is not None and check["exact"]["total_score"] > 0:
        kept = check["top_k"][check["k"]]["total_score"] / check["exact"]["total_score"]
        share = check["round"]["total_score"] / check["exact"]["total_score"]
        text.append(
            f"On the {check['mentees']:,} x {check['mentors']:,} exactness check the round keeps "
            f"{share:.2%} of scipy's exact optimum (target at least {ROUND_EXACT_TARGET:.1%}); "
            f"the flow on each engineer's top {check['k']} alone would keep {kept:.2%}."
        )
    whole = figures.get("whole_round")
    if whole is not None:
        text.append(
            f"A round of all {whole['mentees']:,} engineers against {whole['mentors']:,} mentors "
            f"finishes in {_time(whole['round_seconds'])} with a memory peak of "
            f"{whole['peak_mib']:,.0f} MiB" + (", proven optimal." if whole["proven"] else ".")
        )
    return " ".join(text)

"""Matching benchmark: shortlists, one online match and a cohort round on a seeded synthetic
population of engineers moving into product management (mentees) and product-manager mentors.

    make bench-matching                                   # full sizes, about 5 minutes
    .venv/bin/python -m benchmarks.matching --quick --output /tmp/matching.md

It prints figures and writes them to a Markdown report (and, with --json, as raw numbers); it
never asserts on time. Timings are wall-clock in this one process. Each part is set against an
anchor measured in the same process: the bare numpy matrix product of the shape the scoring
works on (mentors one-hot by level, 84 columns, times a lookup table), so a reader can tell how
far the matcher is from the arithmetic it cannot avoid, on any machine.

The service code is only called, never changed or re-implemented: `ranking.shortlists`,
`ranking.rank_mentors`, `ranking.proposals_for`, `assignment.candidate_graph`,
`assignment.assign_optimal` and `assignment.assign_greedy`.

One module a section of the report: `population` draws the people, `shortlists` measures (a),
`online` (b), `cohort` and `exactness` (c); `report` renders each section, `cli` runs them.
"""

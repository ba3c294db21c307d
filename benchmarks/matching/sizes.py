"""The sizes of a matching benchmark run: the full run `make bench-matching` makes and the quick
one a smoke test makes; each command-line size overrides one field."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Sizes:
    mentees: int = 100_000  # (a) shortlists
    mentors: int = 10_000  # (a) and (b)
    shortlist: int = 5
    exposure_per_slot: int = 3
    unbound_mentees: int = 20_000  # (a) the kernel again, exposure not binding
    online: int = 300  # (b) new mentees matched one at a time
    cohort_mentees: int = 20_000  # (c)
    cohort_mentors: int = 4_000
    round_candidates: int = 60  # the service's default first candidate lists
    whole_round: int = 1  # (d) a round of every mentee of (a) against every mentor (0: skip)
    sample_mentees: int = 2_000  # (d) the sampled sub-cohort checked against scipy's optimum
    sample_mentors: int = 200
    small_cohorts: int = 10  # (c) against the exact optimum
    small_mentees: int = 60
    small_mentors: int = 20
    check_mentees: int = 2_000  # (c) one larger cohort against the exact optimum
    check_mentors: int = 400
    block: int = 256  # mentees scored at once, as domain.shortlists and candidate_graph do
    seed: int = 20261126


FULL = Sizes()
QUICK = Sizes(
    mentees=1_500,
    mentors=300,
    unbound_mentees=600,
    online=25,
    cohort_mentees=800,
    cohort_mentors=160,
    small_cohorts=3,
    check_mentees=200,
    check_mentors=40,
    sample_mentees=200,
    sample_mentors=40,
)
SMALL_COHORT_K = (3, 5, 10)
#: The larger check also shows the flow on each mentee's top-25 alone, without the proof.
CHECK_TOP_K = 25

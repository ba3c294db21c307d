"""A cohort round (the operator's): every waiting mentee at once, the total score maximised."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from ..matcher.assignment import assign_greedy, assign_optimal, candidate_graph
from ..matcher.ranking import proposal_for
from ..matcher.scoring import IntArray
from ..repository import RoundRecord
from .common import Matchmaker, publish_proposal
from .plans import issue_learning_plan
from .ports import EventSink, MatchingStore

log = logging.getLogger(__name__)

_BLOCK = 256  # mentees scored together


@dataclass(frozen=True)
class RoundOutcome:
    record: RoundRecord
    match_ids: list[uuid.UUID]


async def run_round(repo: MatchingStore, events: EventSink, matchmaker: Matchmaker) -> RoundOutcome:
    """Assign every waiting mentee at once, maximising the total score within every mentor's
    free slots, and publish the proposals. The first-come greedy assignment of the same
    cohort is computed alongside, for the report. A mentee no mentor with a free slot suits
    at all is given a learning plan (once per plan version)."""
    started_at = datetime.now(UTC)
    round_id = uuid.uuid4()
    waiting_ids = await repo.lock_waiting_mentees(None, limit=1_000_000)
    mentees = await repo.get_mentees(waiting_ids, waiting_only=True)
    pool = await matchmaker.mentors.available(repo)
    excluded_by_mentee = await repo.closed_pairs([m.id for m in mentees])
    excluded = [excluded_by_mentee[m.id] for m in mentees]
    graph = candidate_graph(mentees, pool, excluded, matchmaker.policy.round_candidates_per_mentee)
    capacity = pool.free_slots.copy()
    optimal = assign_optimal(graph, capacity)
    greedy = assign_greedy(graph, capacity)
    match_ids = []
    assigned = np.flatnonzero(optimal.mentor_of >= 0)
    for start in range(0, len(assigned), _BLOCK):
        rows = assigned[start : start + _BLOCK]
        batch = [mentees[row] for row in rows]
        scores = pool.score(batch)  # again, for each pair's breakdown and explanation
        for i, row in enumerate(rows):
            column = int(optimal.mentor_of[row])
            proposal = proposal_for(batch[i], pool, scores, i, column)
            if not await repo.reserve_slot(proposal.mentor_id):
                # Taken by a concurrent proposal since the pool was read; the mentee stays
                # waiting for the next round (or an online proposal).
                continue
            match = await publish_proposal(
                repo, events, matchmaker, batch[i].id, proposal, origin="round", round_id=round_id
            )
            match_ids.append(match.id)
    for row in np.setdiff1d(np.arange(len(mentees)), graph.mentee):
        await issue_learning_plan(repo, events, matchmaker, mentees[int(row)])
    record = RoundRecord(
        id=round_id,
        started_at=started_at,
        finished_at=datetime.now(UTC),
        method=optimal.method,
        mentees_waiting=len(mentees),
        mentors_with_slots=int((pool.free_slots > 0).sum()),
        proposed=len(match_ids),
        total_score=round(optimal.total_score, 4),
        greedy_matched=greedy.matched,
        greedy_total_score=round(greedy.total_score, 4),
        mentor_load={
            "optimal": _load_histogram(optimal.mentor_load(len(pool)), capacity),
            "greedy": _load_histogram(greedy.mentor_load(len(pool)), capacity),
        },
    )
    await repo.add_round(record)
    log.info(
        "cohort round finished",
        extra={"round_id": str(round_id), "proposed": len(match_ids), "method": optimal.method},
    )
    return RoundOutcome(record=record, match_ids=match_ids)


def _load_histogram(load: IntArray, capacity: IntArray) -> dict[str, int]:
    """How many mentors ended with each share of their free slots used."""
    with_slots = capacity > 0
    used = load[with_slots]
    return {
        "mentors_with_slots": int(with_slots.sum()),
        "unused": int((used == 0).sum()),
        "partly_used": int(((used > 0) & (used < capacity[with_slots])).sum()),
        "full": int((used == capacity[with_slots]).sum()),
        "slots_used": int(used.sum()),
        "slots_free": int(capacity[with_slots].sum()),
    }

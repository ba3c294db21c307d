"""Learning plans: what a mentee can work on where no mentor covers a gap. Mailed (through
`LearningPlanIssued`) when the matcher finds nobody for them, once per plan version; read by
the mentee at any time, beside the gaps their current mentor covers."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from mentorship_shared.contracts.events import LearningPlanIssued
from mentorship_shared.contracts.learning_resources import CURRENT_CATALOGUE_VERSION

from ..match import Match
from ..matcher.explain import covered_gaps
from ..matcher.learning import PlannedGap, learning_gaps, plan_digest, plan_gaps
from ..matcher.pool import Mentee
from ..repository import IssuedPlan
from .common import UNKNOWN_MENTEE, Matchmaker, MatchNotFound
from .ports import EventSink, MatchingStore

log = logging.getLogger(__name__)


async def issue_learning_plan(
    repo: MatchingStore, events: EventSink, matchmaker: Matchmaker, mentee: Mentee
) -> LearningPlanIssued | None:
    """The matcher found no mentor for this waiting mentee: publish their learning plan, unless
    the plan they were last sent is the same (then nothing: no second mail). The caller holds
    the mentee's row lock."""
    role_weights = matchmaker.policy.config.role_for(mentee.target_role).weights
    gaps = learning_gaps(plan_gaps(mentee, role_weights))
    if not gaps:
        return None  # no gap, nothing to learn
    version = CURRENT_CATALOGUE_VERSION
    plan_version = await repo.record_learning_plan(mentee.id, plan_digest(gaps, version), version)
    if plan_version is None:
        return None
    event = LearningPlanIssued(
        mentee_id=mentee.id, plan_version=plan_version, resources_version=version, gaps=gaps
    )
    await events.publish(event)
    log.info(
        "no mentor for a waiting mentee: learning plan issued",
        extra={"mentee_id": str(mentee.id), "plan_version": plan_version},
    )
    return event


@dataclass(frozen=True)
class MenteePlan:
    """A mentee's gaps as they stand: those their current mentor covers, and resources for the
    rest."""

    mentee_id: uuid.UUID
    match: Match | None
    gaps: list[PlannedGap]
    resources_version: int
    last_issued: IssuedPlan | None


async def plan_of(repo: MatchingStore, matchmaker: Matchmaker, mentee_id: uuid.UUID) -> MenteePlan:
    """The mentee's plan now. With a proposed or accepted match, the gaps its mentor is at or
    above target on count as covered (from the mentor's current profile; from the proposal
    when the matcher no longer knows the mentor)."""
    mentee = await repo.get_mentee(mentee_id)
    if mentee is None:
        raise MatchNotFound("mentee_not_found", UNKNOWN_MENTEE)
    match = await repo.open_match(mentee_id)
    covered: list[str] = []
    if match is not None:
        mentor = (await repo.mentors_by_id([match.mentor_id])).get(match.mentor_id)
        covered = covered_gaps(mentee, mentor)[0] if mentor is not None else match.covered_skills
    role_weights = matchmaker.policy.config.role_for(mentee.target_role).weights
    return MenteePlan(
        mentee_id=mentee_id,
        match=match,
        gaps=plan_gaps(mentee, role_weights, covered),
        resources_version=CURRENT_CATALOGUE_VERSION,
        last_issued=await repo.latest_learning_plan(mentee_id),
    )

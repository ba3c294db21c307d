"""What the mentorship service does: start mentorships, change them on behalf of the two
people, let time act on them, and forget people who leave.

Each use case runs in the caller's transaction: it locks the mentorship, lets the domain
decide, writes the result and puts the domain's events into the outbox, so the change and its
events commit together. Time comes in as `now`, from the service's clock.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Protocol

from mentorship_shared.contracts.envelope import EventPayload
from mentorship_shared.contracts.events import (
    MatchAccepted,
    MenteeProfile,
    MenteeSkill,
    MentorProfile,
)
from mentorship_shared.plumbing.outbox import EventSink

from . import domain
from .domain import (
    Decision,
    Mentorship,
    MentorshipFacts,
    MentorshipPolicy,
    NewMilestone,
    Party,
    PeriodFigures,
)
from .repository import Assessment, CheckInNote

#: The service's "now": the system clock in production, a settable one in tests.
Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


class MentorshipStore(Protocol):
    """The repository as the use cases need it (MentorshipRepository in production)."""

    async def lock_people(self, profile_ids: Sequence[uuid.UUID]) -> None: ...

    async def upsert_person(
        self,
        profile_id: uuid.UUID,
        *,
        kind: str,
        version: int,
        credential: str | None,
        skills: Sequence[MenteeSkill] = (),
    ) -> bool: ...

    async def mentee_skills(self, mentee_id: uuid.UUID) -> list[MenteeSkill] | None: ...

    async def any_erased(self, profile_ids: Sequence[uuid.UUID]) -> bool: ...

    async def erase_person(
        self, profile_id: uuid.UUID, mentorship_ids: Sequence[uuid.UUID]
    ) -> None: ...

    async def add(self, mentorship: Mentorship, wake_at: datetime | None) -> bool: ...

    async def get(
        self, mentorship_id: uuid.UUID, *, for_update: bool = False
    ) -> Mentorship | None: ...

    async def lock_if_due(self, mentorship_id: uuid.UUID, now: datetime) -> Mentorship | None: ...

    async def ids_of_person(self, profile_id: uuid.UUID) -> list[uuid.UUID]: ...

    async def without_baseline(self, mentee_id: uuid.UUID) -> list[uuid.UUID]: ...

    async def save(self, mentorship: Mentorship, wake_at: datetime | None) -> None: ...

    async def add_check_in(self, note: CheckInNote) -> None: ...

    async def add_assessment(self, assessment: Assessment) -> None: ...

    async def report_facts(
        self, since: datetime, until: datetime
    ) -> tuple[list[MentorshipFacts], list[domain.AnswerFacts]]: ...


class MentorshipNotFound(Exception):
    pass


# --- from other services' events -------------------------------------------------------------


async def record_person(
    store: MentorshipStore,
    profile: MenteeProfile | MentorProfile,
    credential: str | None,
    policy: MentorshipPolicy,
) -> None:
    """Keep who the person is (their credential) and a mentee's self-assessment; mentorships
    that started before the mentee's profile arrived get their gaps now."""
    skills = profile.skills if isinstance(profile, MenteeProfile) else ()
    await store.lock_people([profile.profile_id])
    stored = await store.upsert_person(
        profile.profile_id,
        kind=profile.kind,
        version=profile.version,
        credential=credential,
        skills=skills,
    )
    if not stored or not isinstance(profile, MenteeProfile):
        return
    gaps = domain.gap_skills(profile.skills)
    for mentorship_id in await store.without_baseline(profile.profile_id):
        mentorship = await store.get(mentorship_id, for_update=True)
        if mentorship is not None:
            updated = domain.with_baseline(mentorship, gaps)
            await store.save(updated, domain.wake_at(updated, policy))


async def start_mentorship(
    store: MentorshipStore, events: EventSink, accepted: MatchAccepted, policy: MentorshipPolicy
) -> Mentorship | None:
    """A mentorship for an accepted match, from the moment the second side accepted; None
    when the match has one already or one of the two was erased."""
    await store.lock_people([accepted.mentee_id, accepted.mentor_id])
    if await store.any_erased([accepted.mentee_id, accepted.mentor_id]):
        return None
    skills = await store.mentee_skills(accepted.mentee_id)
    mentorship, started = domain.start(
        mentorship_id=uuid.uuid4(),
        match_id=accepted.match_id,
        mentee_id=accepted.mentee_id,
        mentor_id=accepted.mentor_id,
        now=accepted.accepted_at,
        skills=domain.gap_skills(skills or ()),
    )
    if not await store.add(mentorship, domain.wake_at(mentorship, policy)):
        return None
    await _publish(events, started)
    return mentorship


async def forget_person(
    store: MentorshipStore,
    events: EventSink,
    profile_id: uuid.UUID,
    now: datetime,
    policy: MentorshipPolicy,
) -> int:
    """The person deleted their profile: their running mentorships end, every text in their
    mentorships is erased, and so is what the service kept of them. Returns how many
    mentorships ended."""
    await store.lock_people([profile_id])
    mentorship_ids = await store.ids_of_person(profile_id)
    ended = 0
    for mentorship_id in mentorship_ids:
        mentorship = await store.get(mentorship_id, for_update=True)
        if mentorship is None:
            continue
        leaving = mentorship.party_of(profile_id)
        if leaving is None:
            continue
        was_active = mentorship.active
        erased, raised = domain.end_for_erasure(mentorship, leaving, now, policy)
        await store.save(erased, domain.wake_at(erased, policy))
        await _publish(events, raised)
        ended += was_active
    await store.erase_person(profile_id, mentorship_ids)
    return ended


# --- on behalf of the two people ---------------------------------------------------------------


async def change(
    store: MentorshipStore,
    events: EventSink,
    mentorship_id: uuid.UUID,
    decide: Callable[[Mentorship], Decision],
    policy: MentorshipPolicy,
) -> Mentorship:
    """Lock the mentorship, let `decide` change it, write the result and its events."""
    mentorship = await store.get(mentorship_id, for_update=True)
    if mentorship is None:
        raise MentorshipNotFound(mentorship_id)
    changed, raised = decide(mentorship)
    if changed != mentorship:
        await store.save(changed, domain.wake_at(changed, policy))
    await _publish(events, raised)
    return changed


async def propose_goal(
    store: MentorshipStore,
    events: EventSink,
    mentorship_id: uuid.UUID,
    by: Party,
    *,
    skill: str,
    title: str,
    milestones: Sequence[tuple[str, date]],
    now: datetime,
    policy: MentorshipPolicy,
) -> tuple[Mentorship, uuid.UUID]:
    goal_id = uuid.uuid4()
    new_milestones = [NewMilestone(uuid.uuid4(), text, due_on) for text, due_on in milestones]
    changed = await change(
        store,
        events,
        mentorship_id,
        lambda m: domain.propose_goal(
            m, by, goal_id=goal_id, skill=skill, title=title, milestones=new_milestones, now=now
        ),
        policy,
    )
    return changed, goal_id


async def add_milestone(
    store: MentorshipStore,
    events: EventSink,
    mentorship_id: uuid.UUID,
    goal_id: uuid.UUID,
    *,
    title: str,
    due_on: date,
    policy: MentorshipPolicy,
) -> tuple[Mentorship, uuid.UUID]:
    milestone = NewMilestone(uuid.uuid4(), title, due_on)
    changed = await change(
        store,
        events,
        mentorship_id,
        lambda m: (domain.add_milestone(m, goal_id, milestone), []),
        policy,
    )
    return changed, milestone.id


async def log_check_in(
    store: MentorshipStore,
    events: EventSink,
    mentorship_id: uuid.UUID,
    by: Party,
    *,
    discussed: str,
    next_step: str,
    now: datetime,
    policy: MentorshipPolicy,
) -> Mentorship:
    changed = await change(
        store, events, mentorship_id, lambda m: domain.log_check_in(m, by, now), policy
    )
    await store.add_check_in(
        CheckInNote(
            mentorship_id=mentorship_id,
            number=changed.check_ins,
            logged_by=by,
            logged_at=now,
            discussed=discussed,
            next_step=next_step,
        )
    )
    return changed


async def reassess(
    store: MentorshipStore,
    events: EventSink,
    mentorship_id: uuid.UUID,
    by: Party,
    levels: Mapping[str, int],
    *,
    now: datetime,
    policy: MentorshipPolicy,
) -> Mentorship:
    changed = await change(
        store, events, mentorship_id, lambda m: domain.reassess(m, by, levels, now), policy
    )
    await store.add_assessment(
        Assessment(
            id=uuid.uuid4(), mentorship_id=mentorship_id, assessed_at=now, levels=dict(levels)
        )
    )
    return changed


# --- time --------------------------------------------------------------------------------------


async def act_on_time(
    store: MentorshipStore,
    events: EventSink,
    mentorship_id: uuid.UUID,
    now: datetime,
    policy: MentorshipPolicy,
) -> list[EventPayload]:
    """What time does to one mentorship (a reminder, a nudge, the lapse, the outcome), if it
    is due and no other scheduler holds it. Returns the events raised."""
    mentorship = await store.lock_if_due(mentorship_id, now)
    if mentorship is None:
        return []
    changed, raised = domain.tick(mentorship, now, policy)
    # Saved even when nothing happened: the stored wake-up time then moves to the next
    # moment instead of bringing the scheduler back at once.
    await store.save(changed, domain.wake_at(changed, policy))
    await _publish(events, raised)
    return raised


# --- reports -----------------------------------------------------------------------------------


async def program_report(
    store: MentorshipStore, first_month: str, last_month: str
) -> tuple[list[PeriodFigures], PeriodFigures]:
    since = _month_start(first_month)
    until = _month_start(_next_month(last_month))
    mentorships, answers = await store.report_facts(since, until)
    return domain.program_report(first_month, last_month, mentorships, answers)


def _month_start(month: str) -> datetime:
    year, number = (int(part) for part in month.split("-"))
    return datetime(year, number, 1, tzinfo=UTC)


def _next_month(month: str) -> str:
    year, number = (int(part) for part in month.split("-"))
    return f"{year + 1:04d}-01" if number == 12 else f"{year:04d}-{number + 1:02d}"


async def _publish(events: EventSink, payloads: Sequence[EventPayload]) -> None:
    for payload in payloads:
        await events.publish(payload)

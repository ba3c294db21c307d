"""What a mentee reads about the gaps no mentor covers: the resources in the proposal mail,
and the learning plan mailed when no mentor suits them yet (once, to them alone)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from mentorship_shared.contracts.envelope import EventEnvelope
from mentorship_shared.contracts.events import (
    GapResources,
    LearningGap,
    LearningPlanIssued,
    MatchProposed,
    SuggestedResource,
)
from mentorship_shared.contracts.learning_resources import CATALOGUE
from notification_service.templates import LEARNING_PLAN, render
from notification_service.use_cases import deliver, queue_learning_plan_mail, queue_match_mails

from tests.support.fakes import FakeMailer, RecordingSink
from tests.unit.notification.test_notification_use_cases import (
    POLICY,
    FakeNotificationRepository,
    due,
    match_proposed,
)

PRICING = "pricing_monetisation"
METRICS = "product_metrics"


def suggested(resource_id: str) -> SuggestedResource:
    resource = CATALOGUE.by_id(resource_id)
    return SuggestedResource(**resource.model_dump(exclude={"skills"}))


PRICE_ONE_FEATURE = suggested("practice-price-one-feature")
PRICE_COURSE = suggested("course-pragmatic-price")
MONETIZING = suggested("book-monetizing-innovation")
METRICS_BOOK = suggested("book-lean-analytics")


def plan(version: int = 1) -> LearningPlanIssued:
    return LearningPlanIssued(
        mentee_id=uuid.UUID(int=1),
        plan_version=version,
        resources_version=1,
        gaps=[
            LearningGap(
                skill=PRICING,
                current=1,
                target=4,
                resources=[PRICE_ONE_FEATURE, PRICE_COURSE, MONETIZING],
            ),
            LearningGap(skill=METRICS, current=2, target=4, resources=[METRICS_BOOK]),
        ],
    )


def plan_context(event: LearningPlanIssued) -> dict[str, Any]:
    return {
        "plan_version": event.plan_version,
        "gaps": [gap.model_dump(mode="json") for gap in event.gaps],
    }


# --- the proposal mail -------------------------------------------------------------------------


def proposal_with_resources() -> MatchProposed:
    _, event = match_proposed()
    return event.model_copy(
        update={
            "uncovered_skills": [PRICING],
            "learning_resources": [
                GapResources(skill=PRICING, resources=[PRICE_ONE_FEATURE, MONETIZING])
            ],
            "resources_version": 1,
        }
    )


async def proposal_mails(event: MatchProposed) -> dict[str, str]:
    repo = FakeNotificationRepository()
    envelope = EventEnvelope.wrap(event, producer="matching")
    await queue_match_mails(repo, envelope, event, POLICY.message_id_domain)
    bodies = {}
    for intent in repo.intents.values():
        mailer = FakeMailer()
        assert await deliver(repo, RecordingSink(), mailer, due(intent), POLICY)
        [message] = mailer.messages
        bodies[intent.recipient_role] = str(message.get_content())
    return bodies


async def test_the_mentee_s_proposal_mail_names_where_to_start_on_each_uncovered_gap() -> None:
    bodies = await proposal_mails(proposal_with_resources())

    mentee = bodies["mentee"]
    assert "Where to start on the gaps to work on elsewhere:" in mentee
    assert "Pricing:" in mentee
    assert f"- Practice: {PRICE_ONE_FEATURE.title}. {PRICE_ONE_FEATURE.summary}" in mentee
    assert f"- Book: {MONETIZING.title} ({MONETIZING.by})" in mentee
    # The mentor's mail is about the gaps they cover.
    assert MONETIZING.title not in bodies["mentor"]


async def test_a_proposal_covering_every_gap_or_from_before_resources_names_none() -> None:
    _, older = match_proposed()  # published before proposals carried resources

    bodies = await proposal_mails(older)

    assert "Where to start" not in bodies["mentee"]


# --- the learning plan ---------------------------------------------------------------------------


async def test_a_plan_is_one_mail_to_the_mentee_naming_nobody_and_only_once() -> None:
    repo = FakeNotificationRepository()
    event = plan()
    envelope = EventEnvelope.wrap(event, producer="matching")

    assert await queue_learning_plan_mail(repo, envelope, event, POLICY.message_id_domain) == 1
    assert await queue_learning_plan_mail(repo, envelope, event, POLICY.message_id_domain) == 0

    [intent] = repo.intents.values()
    assert (intent.recipient_id, intent.recipient_role) == (event.mentee_id, "mentee")
    assert intent.counterpart_id is None
    assert intent.awaits_erasure_of is None
    assert intent.template == LEARNING_PLAN
    assert intent.source_event_id == envelope.event_id
    mailer = FakeMailer()
    assert await deliver(repo, RecordingSink(), mailer, due(intent), POLICY)
    [message] = mailer.messages
    assert message["Subject"] == "Your learning plan for the move into product management"


def test_the_plan_lists_every_gap_with_its_levels_and_resources() -> None:
    mail = render(
        LEARNING_PLAN,
        recipient_role="mentee",
        recipient_name="Ada",
        counterpart_name=None,
        context=plan_context(plan()),
    )

    body = mail.body
    assert body.startswith("Hello Ada,")
    assert "Pricing (you 1 -> 4):" in body
    assert "Product metrics (you 2 -> 4):" in body
    assert body.index("Pricing (you") < body.index("Product metrics (you")
    assert f"- Course: {PRICE_COURSE.title} ({PRICE_COURSE.by})" in body
    assert f"- Book: {METRICS_BOOK.title} ({METRICS_BOOK.by})" in body
    assert "Plan version 1." in body
    assert "Match reference" not in body  # nothing to answer


def test_a_later_plan_says_it_is_an_update() -> None:
    mail = render(
        LEARNING_PLAN,
        recipient_role="mentee",
        recipient_name="Ada",
        counterpart_name=None,
        context=plan_context(plan(version=3)),
    )

    assert mail.subject.startswith("Your updated learning plan")
    assert "Plan version 3." in mail.body


def test_skill_names_keep_their_capitals() -> None:
    event = plan().model_copy(
        update={
            "gaps": [
                LearningGap(skill="ux_feasibility", current=1, target=3, resources=[METRICS_BOOK])
            ]
        }
    )

    body = render(
        LEARNING_PLAN,
        recipient_role="mentee",
        recipient_name="Ada",
        counterpart_name=None,
        context=plan_context(event),
    ).body

    assert "UX and feasibility trade-offs (you 1 -> 3):" in body


@pytest.mark.parametrize(
    ("role", "gaps", "error"),
    [("mentor", None, "mentee only"), ("mentee", [], "at least one gap")],
)
def test_a_plan_for_a_mentor_or_without_gaps_cannot_be_written(
    role: str, gaps: list[Any] | None, error: str
) -> None:
    context = plan_context(plan())
    if gaps is not None:
        context["gaps"] = gaps

    with pytest.raises(ValueError, match=error):
        render(
            LEARNING_PLAN,
            recipient_role=role,
            recipient_name="Grace",
            counterpart_name=None,
            context=context,
        )

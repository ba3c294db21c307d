"""The learning plan of a mentee nobody suits, from match.events to the SMTP server: one mail
to the mentee, never twice, naming nobody else."""

from __future__ import annotations

import pytest
from devstack.smtp_sink import SmtpSink
from devstack.testing import KafkaHandle
from mentorship_shared.contracts.envelope import EventEnvelope
from mentorship_shared.contracts.events import (
    LearningGap,
    LearningPlanIssued,
    MenteeProfile,
    SuggestedResource,
)
from mentorship_shared.contracts.learning_resources import CATALOGUE
from mentorship_shared.contracts.topics import MATCH_EVENTS, PROFILE_EVENTS

from tests.support.kafka import produce
from tests.support.profiles import mentee, registered
from tests.support.services import mail_received

pytestmark = pytest.mark.integration

PRICING = "pricing_monetisation"


def plan_of(engineer: MenteeProfile) -> bytes:
    resources = [
        SuggestedResource(**CATALOGUE.by_id(resource_id).model_dump(exclude={"skills"}))
        for resource_id in ("practice-price-one-feature", "book-monetizing-innovation")
    ]
    event = LearningPlanIssued(
        mentee_id=engineer.profile_id,
        plan_version=1,
        resources_version=1,
        gaps=[LearningGap(skill=PRICING, current=1, target=4, resources=resources)],
    )
    return EventEnvelope.wrap(event, producer="matching").to_json()


async def test_a_plan_is_mailed_to_the_mentee_once(
    notifier: object, kafka: KafkaHandle, namespace: str, smtp_sink: SmtpSink, unique: str
) -> None:
    engineer = mentee({PRICING: (1, 4)}, name="Ada", email=f"ada-{unique}@example.com")
    marker = mentee({PRICING: (0, 2)}, name="Marker", email=f"marker-{unique}@example.com")
    plan = plan_of(engineer)
    await produce(
        kafka.bootstrap_servers,
        f"{namespace}{PROFILE_EVENTS}",
        [registered(engineer), registered(marker)],
    )
    # Delivered twice, then another mentee's plan: once that one is in, the first one's
    # redelivery has long been handled.
    await produce(kafka.bootstrap_servers, f"{namespace}{MATCH_EVENTS}", [plan, plan], key=b"plans")
    await produce(
        kafka.bootstrap_servers, f"{namespace}{MATCH_EVENTS}", [plan_of(marker)], key=b"plans"
    )

    mails = await mail_received(smtp_sink, 2)
    to_ada = [m for m in mails if m["To"].addresses[0].addr_spec == f"ada-{unique}@example.com"]
    assert len(to_ada) == 1
    [mail] = to_ada
    assert str(mail["Subject"]) == "Your learning plan for the move into product management"
    body = mail.get_content()
    assert "Pricing (you 1 -> 4):" in body
    assert "- Practice: Price one feature." in body
    assert "- Book: Monetizing Innovation (Madhavan Ramanujam and Georg Tacke)" in body

"""What the match-proposed mails say to the mentee and to the mentor."""

from __future__ import annotations

import inspect
import uuid
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mentorship_shared.contracts.skills import TAXONOMY
from notification_service.templates import MATCH_PROPOSED, render

MATCH_ID = str(uuid.UUID(int=42))
EXPLANATION = (
    "Covers your gap in pricing (you 1 -> 5, mentor 5). Not covered: product metrics. "
    "Made the move from engineering to product too."
)


def context(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "match_id": MATCH_ID,
        "score": 0.8765,
        "explanation": EXPLANATION,
        "covered_skills": ["pricing_monetisation"],
        "uncovered_skills": ["product_metrics"],
        "expires_at": "2025-03-14T09:00:00+00:00",
    }
    return base | overrides


def mail(role: str, **overrides: Any) -> tuple[str, str]:
    recipient, counterpart = ("Ada", "Grace") if role == "mentee" else ("Grace", "Ada")
    rendered = render(
        MATCH_PROPOSED,
        recipient_role=role,
        recipient_name=recipient,
        counterpart_name=counterpart,
        context=context(**overrides),
    )
    return rendered.subject, rendered.body


def test_mentee_mail_names_the_mentor_and_explains_why() -> None:
    subject, body = mail("mentee")
    assert "Grace" in subject
    assert body.startswith("Hello Ada,")
    assert "Grace" in body
    assert EXPLANATION in body
    assert "pricing" in body  # covered gap by short name
    assert "product metrics" in body  # gap to work on elsewhere
    assert "88/100" in body
    assert "2025-03-14" in body
    assert MATCH_ID in body


def test_mentor_mail_names_the_mentee_and_what_they_were_told() -> None:
    subject, body = mail("mentor")
    assert "Ada" in subject
    assert body.startswith("Hello Grace,")
    assert "Ada" in body
    assert EXPLANATION in body
    assert "reserved" in body  # the mentor learns a slot is taken
    assert MATCH_ID in body


def test_mentee_and_mentor_mails_differ() -> None:
    assert mail("mentee") != mail("mentor")


def test_mails_never_carry_an_email_address() -> None:
    # The renderer is not even given addresses: nothing it writes can leak the counterpart's.
    parameters = inspect.signature(render).parameters
    assert not any("email" in name or "address" in name for name in parameters)
    for role in ("mentee", "mentor"):
        subject, body = mail(role)
        assert "@" not in subject + body


def test_no_expiry_means_no_expiry_sentence() -> None:
    _, body = mail("mentee", expires_at=None)
    assert "stays open until" not in body


def test_skill_ids_unknown_to_the_taxonomy_are_shown_as_they_are() -> None:
    _, body = mail("mentee", covered_skills=["ai_product_sense"], uncovered_skills=[])
    assert "ai_product_sense" in body
    assert "none" in body  # no uncovered gaps


def test_unknown_template_raises() -> None:
    with pytest.raises(ValueError, match="unknown mail template"):
        render(
            "weekly_digest",
            recipient_role="mentee",
            recipient_name="Ada",
            counterpart_name="Grace",
            context=context(),
        )


@pytest.mark.parametrize("missing", ["match_id", "score", "explanation", "covered_skills"])
def test_missing_context_raises_key_error(missing: str) -> None:
    broken = context()
    del broken[missing]
    with pytest.raises(KeyError):
        render(
            MATCH_PROPOSED,
            recipient_role="mentee",
            recipient_name="Ada",
            counterpart_name="Grace",
            context=broken,
        )


@settings(max_examples=100, deadline=None)
@given(
    role=st.sampled_from(["mentee", "mentor"]),
    score=st.floats(0.0, 1.0),
    covered=st.lists(st.sampled_from(TAXONOMY.ids), unique=True, max_size=4),
)
def test_score_is_shown_out_of_one_hundred_and_covered_gaps_by_short_name(
    role: str, score: float, covered: list[str]
) -> None:
    _, body = mail(role, score=score, covered_skills=covered)
    assert f"{round(score * 100)}/100" in body
    for skill in covered:
        assert TAXONOMY.by_id(skill).short_name in body
    assert body.endswith("\n")

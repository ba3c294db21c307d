"""What the mails say: pure functions from a notification's context to subject and body."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mentorship_shared.contracts.skills import TAXONOMY

MATCH_PROPOSED = "match_proposed"


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    body: str


def render(
    template: str,
    *,
    recipient_role: str,
    recipient_name: str,
    counterpart_name: str,
    context: dict[str, Any],
) -> RenderedMail:
    if template != MATCH_PROPOSED:
        raise ValueError(f"unknown mail template {template!r}")
    return _match_proposed(recipient_role, recipient_name, counterpart_name, context)


def _skill_names(skill_ids: list[str]) -> str:
    names = [TAXONOMY.by_id(s).short_name if s in TAXONOMY else s for s in skill_ids]
    return ", ".join(names) if names else "none"


def _match_proposed(
    role: str, recipient: str, counterpart: str, context: dict[str, Any]
) -> RenderedMail:
    score = round(float(context["score"]) * 100)
    expires = str(context.get("expires_at") or "")[:10]
    if role == "mentee":
        subject = f"{counterpart} could be your product-management mentor"
        lines = [
            f"Hello {recipient},",
            "",
            f"We found a mentor for your move into product management: {counterpart}.",
            "",
            f"Why: {context['explanation']}",
            f"Match score: {score}/100.",
            "",
            f"Gaps {counterpart} covers: {_skill_names(context['covered_skills'])}.",
            f"Gaps to work on elsewhere: {_skill_names(context['uncovered_skills'])}.",
        ]
    else:
        subject = f"A new mentee for you: {counterpart}"
        lines = [
            f"Hello {recipient},",
            "",
            f"{counterpart}, an engineer moving into product management, has been matched "
            "with you. One of your mentoring slots is reserved for this match.",
            "",
            f"Their gaps you cover: {_skill_names(context['covered_skills'])}.",
            f"Match score: {score}/100.",
            "",
            f"What we told {counterpart}: {context['explanation']}",
        ]
    if expires:
        lines += ["", f"The proposal stays open until {expires}."]
    lines += ["", f"Match reference: {context['match_id']}", "", "Mentorship Matching"]
    return RenderedMail(subject=subject, body="\n".join(lines) + "\n")

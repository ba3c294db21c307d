"""The mentorship pages: a person's mentorships, one mentorship (goals, check-ins, progress,
surveys, the ending) and the forms that change it.

Each route makes its call to the mentorship API with the person's session credential, so the
API decides what the person sees and may do; what it refuses comes back onto the page, a
422's fields beside their controls, and nothing is changed.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response

from .clients import ApiRefused
from .forms import GENERAL, ApiRequest, FormData, field_errors, text
from .mentorship_forms import (
    CADENCE_CHOICES,
    MILESTONE_ROWS,
    cadence_body,
    check_in_body,
    ending_body,
    goal_body,
    level_control,
    levels_body,
    survey_body,
)
from .pages import Pages, PagesDep, refusal_fields, skill_names_of

#: The survey rounds by the name the API gives them, as the pages say them.
ROUND_TITLES = {
    "first_check_in": "Survey after the first check-in",
    "closing": "Closing survey",
}

_NOTICES = {
    "goal-proposed": "Your goal is proposed; your mentor agrees to it next.",
    "goal-agreed": "You agreed to the goal.",
    "goal-achieved": "The goal is marked achieved.",
    "goal-removed": "The goal is removed.",
    "milestone": "The milestone is updated.",
    "check-in": "The check-in is logged; the next one is counted from today.",
    "survey": "Thank you: your answer is saved.",
    "levels": "Your levels are saved.",
    "cadence": "The check-in schedule is changed; the next check-in is counted from today.",
    "completion-proposed": "You proposed completing the mentorship; it completes when the "
    "other side agrees.",
    "completed": "The mentorship is completed. The closing survey is open.",
    "ended": "The mentorship has ended. The closing survey is open.",
}


class MentorshipNotFound(Exception):
    """The mentorship API knows no such mentorship of the signed-in person's."""


def _other_side(side: str | None) -> str:
    return "mentor" if side == "mentee" else "mentee"


async def _view(pages: Pages, mentorship_id: uuid.UUID) -> dict[str, Any]:
    session = pages.signed_in()
    try:
        return await pages.web.apis.mentorship(session.credential, mentorship_id)
    except ApiRefused as refused:
        if refused.error == "not_found":
            raise MentorshipNotFound from refused
        raise


async def _render_mentorship(
    pages: Pages,
    view: Mapping[str, Any],
    *,
    notice: str | None = None,
    error_message: str | None = None,
    errors: Mapping[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    side = view["your_side"]
    return pages.render(
        "mentorship.html",
        status=status,
        title=f"Mentorship with your {_other_side(side)}",
        page="mentorships",
        m=view,
        side=side,
        other=_other_side(side),
        skill_names=await skill_names_of(pages),
        round_titles=ROUND_TITLES,
        cadences=CADENCE_CHOICES,
        notice=notice,
        error_message=error_message,
        errors=dict(errors or {}),
    )


async def _send(
    pages: Pages,
    mentorship_id: uuid.UUID,
    method: str,
    action: str,
    request: ApiRequest | None = None,
) -> dict[str, Any] | ApiRefused:
    """One change to the mentorship: the mentorship afterwards, or the API's refusal."""
    session = pages.signed_in()
    try:
        return await pages.web.apis.act_on_mentorship(
            session.credential,
            mentorship_id,
            method,
            action,
            request.body if request is not None else None,
        )
    except ApiRefused as refused:
        if refused.error == "not_found":
            raise MentorshipNotFound from refused
        return refused


def _back_to(pages: Pages, mentorship_id: uuid.UUID, notice: str) -> Response:
    return pages.redirect(f"/mentorships/{mentorship_id}?notice={notice}")


# --- reading -------------------------------------------------------------------------------


async def mentorships(pages: PagesDep) -> Response:
    """The person's mentorships; the one itself when there is only one."""
    session = pages.signed_in()
    found = await pages.web.apis.mentorships(session.credential, session.claims.profile_id)
    if len(found) == 1:
        return pages.redirect(f"/mentorships/{found[0]['id']}")
    return pages.render(
        "mentorships.html",
        title="My mentorships",
        page="mentorships",
        mentorships=found,
        other=_other_side(session.claims.kind),
    )


async def mentorship(pages: PagesDep, mentorship_id: uuid.UUID, notice: str = "") -> Response:
    view = await _view(pages, mentorship_id)
    return await _render_mentorship(pages, view, notice=_NOTICES.get(notice))


# --- small changes from the mentorship page -------------------------------------------------


async def _change_on_page(
    pages: Pages,
    mentorship_id: uuid.UUID,
    method: str,
    action: str,
    notice: str,
    request: ApiRequest | None = None,
) -> Response:
    """A button or small form of the mentorship page (its CSRF token checked): back to the
    page with a notice, or the page again with the API's refusal."""
    answer = await _send(pages, mentorship_id, method, action, request)
    if isinstance(answer, ApiRefused):
        view = await _view(pages, mentorship_id)
        errors = field_errors(refusal_fields(answer), request) if request is not None else {}
        errors.pop(GENERAL, None)
        return await _render_mentorship(
            pages, view, error_message=answer.message, errors=errors, status=answer.status
        )
    return _back_to(pages, mentorship_id, notice)


async def agree_goal(pages: PagesDep, mentorship_id: uuid.UUID, goal_id: uuid.UUID) -> Response:
    await pages.form()
    return await _change_on_page(
        pages, mentorship_id, "POST", f"goals/{goal_id}/agreement", "goal-agreed"
    )


async def achieve_goal(pages: PagesDep, mentorship_id: uuid.UUID, goal_id: uuid.UUID) -> Response:
    await pages.form()
    return await _change_on_page(
        pages, mentorship_id, "POST", f"goals/{goal_id}/achievement", "goal-achieved"
    )


async def remove_goal(pages: PagesDep, mentorship_id: uuid.UUID, goal_id: uuid.UUID) -> Response:
    await pages.form()
    return await _change_on_page(pages, mentorship_id, "DELETE", f"goals/{goal_id}", "goal-removed")


async def mark_milestone(
    pages: PagesDep, mentorship_id: uuid.UUID, goal_id: uuid.UUID, milestone_id: uuid.UUID
) -> Response:
    form = await pages.form()
    done = bool(text(form, "done"))
    return await _change_on_page(
        pages,
        mentorship_id,
        "PUT",
        f"goals/{goal_id}/milestones/{milestone_id}",
        "milestone",
        ApiRequest({"done": done}),
    )


async def change_cadence(pages: PagesDep, mentorship_id: uuid.UUID) -> Response:
    form = await pages.form()
    return await _change_on_page(
        pages, mentorship_id, "PUT", "cadence", "cadence", cadence_body(form)
    )


async def propose_completion(pages: PagesDep, mentorship_id: uuid.UUID) -> Response:
    await pages.form()
    answer = await _send(pages, mentorship_id, "POST", "completion")
    if isinstance(answer, ApiRefused):
        view = await _view(pages, mentorship_id)
        return await _render_mentorship(
            pages, view, error_message=answer.message, status=answer.status
        )
    completed = answer["status"] == "completed"
    return _back_to(pages, mentorship_id, "completed" if completed else "completion-proposed")


# --- the forms on pages of their own --------------------------------------------------------


def _levels_of(view: Mapping[str, Any]) -> FormData:
    """The re-assessment's values at first: each gap skill at the level last assessed."""
    return {
        level_control(entry["skill"]): [str(entry["current"])]
        for entry in view["progress"]["skills"]
    }


@dataclass(frozen=True)
class FormPage:
    """A form on a page of its own, at `/mentorships/{id}/<path>`: shown by GET, sent by POST
    as one call to the mentorship API (`api_method` on `/v1/mentorships/{id}/<api_action>`),
    then back to the mentorship with `notice`, or the form again with the API's messages."""

    path: str
    template: str
    title: str
    api_method: str
    api_action: str
    body: Callable[[FormData], ApiRequest]
    notice: str
    #: The form's values before anything was typed (none: empty).
    initial: Callable[[Mapping[str, Any]], FormData] | None = None
    context: Mapping[str, Any] = field(default_factory=dict)

    def action(self, mentorship_id: uuid.UUID | str) -> str:
        return f"/mentorships/{mentorship_id}/{self.path}"

    async def render(
        self,
        pages: Pages,
        view: Mapping[str, Any],
        *,
        values: FormData | None = None,
        errors: Mapping[str, str] | None = None,
        status: int = 200,
    ) -> HTMLResponse:
        if values is None and self.initial is not None:
            values = self.initial(view)
        return pages.render(
            self.template,
            status=status,
            title=self.title,
            page="mentorships",
            m=view,
            side=view["your_side"],
            other=_other_side(view["your_side"]),
            skill_names=await skill_names_of(pages),
            action=self.action(view["id"]),
            values=values or {},
            errors=dict(errors or {}),
            **self.context,
        )

    async def show(self, pages: PagesDep, mentorship_id: uuid.UUID) -> Response:
        return await self.render(pages, await _view(pages, mentorship_id))

    async def submit(self, pages: PagesDep, mentorship_id: uuid.UUID) -> Response:
        form = await pages.form()
        request = self.body(form)
        answer = await _send(pages, mentorship_id, self.api_method, self.api_action, request)
        if isinstance(answer, ApiRefused):
            return await self.render(
                pages,
                await _view(pages, mentorship_id),
                values=form,
                errors=field_errors(refusal_fields(answer), request),
                status=answer.status,
            )
        return _back_to(pages, mentorship_id, self.notice)


def _survey(round_: str, title: str) -> FormPage:
    return FormPage(
        path=f"surveys/{round_}",
        template="survey_form.html",
        title=title,
        api_method="POST",
        api_action="feedback",
        body=lambda form: survey_body(form, round_),
        notice="survey",
        context={"round": round_},
    )


FORM_PAGES = (
    FormPage(
        path="goals/new",
        template="goal_form.html",
        title="Propose a goal",
        api_method="POST",
        api_action="goals",
        body=goal_body,
        notice="goal-proposed",
        context={"milestone_rows": MILESTONE_ROWS},
    ),
    FormPage(
        path="check-ins/new",
        template="check_in_form.html",
        title="Log a check-in",
        api_method="POST",
        api_action="check-ins",
        body=check_in_body,
        notice="check-in",
    ),
    *(_survey(round_, title) for round_, title in ROUND_TITLES.items()),
    FormPage(
        path="levels",
        template="levels_form.html",
        title="Re-assess your levels",
        api_method="POST",
        api_action="assessments",
        body=levels_body,
        notice="levels",
        initial=_levels_of,
    ),
    FormPage(
        path="ending",
        template="ending_form.html",
        title="End the mentorship early",
        api_method="POST",
        api_action="ending",
        body=ending_body,
        notice="ended",
    ),
)


# --- errors --------------------------------------------------------------------------------


async def _on_not_found(request: Request, _: Exception) -> Response:
    return Pages(request).problem(
        "No such mentorship",
        "You have no mentorship at this address. Your mentorships are listed on "
        "your mentorships page.",
        status=404,
        next_href="/mentorships",
        next_label="My mentorships",
    )


def install(app: FastAPI) -> None:
    """The mentorship pages' routes and their error page."""
    base = "/mentorships/{mentorship_id}"
    goal = base + "/goals/{goal_id}"
    routes: list[tuple[str, str, Any]] = [
        ("GET", "/mentorships", mentorships),
        ("GET", base, mentorship),
        ("POST", base + "/cadence", change_cadence),
        ("POST", goal + "/agree", agree_goal),
        ("POST", goal + "/achieve", achieve_goal),
        ("POST", goal + "/remove", remove_goal),
        ("POST", goal + "/milestones/{milestone_id}", mark_milestone),
        ("POST", base + "/completion", propose_completion),
    ]
    for form_page in FORM_PAGES:
        routes.append(("GET", f"{base}/{form_page.path}", form_page.show))
        routes.append(("POST", f"{base}/{form_page.path}", form_page.submit))
    for method, path, endpoint in routes:
        app.add_api_route(path, endpoint, methods=[method], response_class=HTMLResponse)
    app.add_exception_handler(MentorshipNotFound, _on_not_found)

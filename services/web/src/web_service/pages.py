"""The pages: each route reads the request (a form, the session), makes its call to a
service's API and renders the answer.

Every form post is checked for its CSRF token first; pages for a signed-in person read the
session cookie and act with the credential it holds, so the services themselves decide what
the person may see.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from mentorship_shared.plumbing.limits import client_address
from starlette.exceptions import HTTPException as StarletteHTTPException

from . import csrf
from .clients import ApiRefused, ApiUnavailable
from .context import WebContext
from .forms import FormData, Kind, field_errors, form_from_profile, parse_form, profile_body, text
from .session import COOKIE as SESSION_COOKIE
from .session import Session, read_session

#: How long a sign-in link works, as the profile service is configured by default; said on
#: the pages only, the profile service enforces its own setting.
LINK_MINUTES = 15

STATUS_WORDS = {
    "proposed": "Proposed",
    "accepted": "Accepted by both",
    "declined": "Declined",
    "expired": "Expired",
    "concluded": "Mentorship ended",
}

#: How the pages name the kinds of learning resources.
RESOURCE_KIND_WORDS = {"practice": "At work", "course": "Course", "book": "Book"}

_REGISTRATION = {
    "mentee": ("/register/engineer", "Register as an engineer", "register-mentee"),
    "mentor": ("/register/mentor", "Register as a mentor", "register-mentor"),
}


class FormRefused(Exception):
    """A form post without a valid CSRF token, or from another site."""


class SignInNeeded(Exception):
    """A page for a signed-in person, asked for without a valid session."""


def _web(request: Request) -> WebContext:
    web: WebContext = request.app.state.web
    return web


class Pages:
    """Rendering with what every page shares: the session, the CSRF token, security headers."""

    def __init__(self, request: Request) -> None:
        self.request = request
        self.web = _web(request)
        self.session = read_session(request.cookies.get(SESSION_COOKIE), self.web.public_key)
        seed = request.cookies.get(csrf.COOKIE)
        self._new_seed = None if seed else csrf.new_seed()
        self.csrf_seed: str = seed or self._new_seed or ""

    @property
    def secure(self) -> bool:
        return bool(self.web.settings.serves_https or self.request.url.scheme == "https")

    def signed_in(self) -> Session:
        if self.session is None:
            raise SignInNeeded
        return self.session

    def render(
        self, template: str, *, status: int = 200, session: Session | None = None, **context: Any
    ) -> HTMLResponse:
        body = self.web.templates.get_template(template).render(
            session=session if session is not None else self.session,
            csrf_token=csrf.token_for(self.web.csrf_secret, self.csrf_seed),
            page=context.pop("page", ""),
            **context,
        )
        response = HTMLResponse(body, status_code=status)
        # Pages show personal data and tokens: no cache keeps them.
        response.headers["Cache-Control"] = "no-store"
        self.finish(response)
        return response

    def problem(
        self,
        title: str,
        message: str,
        *,
        status: int = 200,
        next_href: str = "/",
        next_label: str = "Home",
    ) -> HTMLResponse:
        """A page that says one thing and where to go next."""
        return self.render(
            "problem.html",
            status=status,
            title=title,
            message=message,
            next_href=next_href,
            next_label=next_label,
        )

    def redirect(self, to: str) -> RedirectResponse:
        response = RedirectResponse(to, status_code=303)
        self.finish(response)
        return response

    def finish(self, response: Response) -> None:
        if self._new_seed is not None:
            response.set_cookie(
                csrf.COOKIE,
                self._new_seed,
                httponly=True,
                secure=self.secure,
                samesite="lax",
                path="/",
            )

    def start_session(self, response: Response, credential: str, expires_in: int) -> None:
        response.set_cookie(
            SESSION_COOKIE,
            credential,
            max_age=max(0, expires_in),
            httponly=True,
            secure=self.secure,
            samesite="lax",
            path="/",
        )

    def end_session(self, response: Response) -> None:
        response.delete_cookie(
            SESSION_COOKIE, httponly=True, secure=self.secure, samesite="lax", path="/"
        )

    async def form(self) -> FormData:
        """The posted form, once its CSRF token is checked."""
        if self.request.headers.get("sec-fetch-site") == "cross-site":
            raise FormRefused
        form = parse_form(await self.request.body())
        submitted = text(form, csrf.FIELD)
        if not csrf.is_valid(
            self.web.csrf_secret, self.request.cookies.get(csrf.COOKIE), submitted
        ):
            raise FormRefused
        return form

    def client_address(self) -> str:
        return client_address(self.request, self.web.settings.trusted_proxy_hops)


async def _pages(request: Request) -> Pages:
    return Pages(request)


PagesDep = Annotated[Pages, Depends(_pages)]


def refusal_fields(refused: ApiRefused) -> list[tuple[str, str]]:
    return refused.fields or ([("", refused.message)] if refused.message else [])


def _seconds_to_words(seconds: str | None) -> str:
    try:
        minutes = max(1, round(int(seconds or "0") / 60))
    except ValueError:
        return "a while"
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


# --- public pages --------------------------------------------------------------------------


async def home(pages: PagesDep) -> HTMLResponse:
    skills = await pages.web.apis.skills()
    return pages.render("home.html", title="Welcome", page="home", skill_count=len(skills))


def _registration_page(
    pages: Pages,
    kind: Kind,
    skills: Sequence[Any],
    *,
    values: FormData | None = None,
    errors: Mapping[str, str] | None = None,
    general_message: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    action, title, page = _REGISTRATION[kind]
    return pages.render(
        "register.html",
        status=status,
        title=title,
        page=page,
        action=action,
        kind=kind,
        skills=skills,
        timezones=pages.web.timezones,
        values=values or {},
        errors=dict(errors or {}),
        general_message=general_message,
    )


async def _show_registration(pages: Pages, kind: Kind) -> HTMLResponse:
    return _registration_page(pages, kind, await pages.web.apis.skills())


async def _register(pages: Pages, kind: Kind) -> Response:
    form = await pages.form()
    apis = pages.web.apis
    skills = await apis.skills()
    request = profile_body(form, kind, skills)
    try:
        registered = await apis.register(kind, request.body, client_address=pages.client_address())
    except ApiRefused as refused:
        errors = field_errors(refusal_fields(refused), request)
        general = refused.message if refused.status == 429 else None
        return _registration_page(
            pages,
            kind,
            skills,
            values=form,
            errors=errors,
            general_message=general,
            status=refused.status,
        )
    # Signed in at once: the owner token, just handed out, buys a session credential; the
    # token itself is shown once below and kept nowhere.
    session_answer = await apis.open_session(uuid.UUID(registered["id"]), registered["token"])
    session = read_session(session_answer["session_credential"], pages.web.public_key)
    response = pages.render(
        "registered.html",
        title="Registered",
        session=session,
        profile=registered,
        token=registered["token"],
    )
    pages.start_session(
        response, session_answer["session_credential"], int(session_answer["expires_in_seconds"])
    )
    return response


async def register_engineer_form(pages: PagesDep) -> HTMLResponse:
    return await _show_registration(pages, "mentee")


async def register_engineer(pages: PagesDep) -> Response:
    return await _register(pages, "mentee")


async def register_mentor_form(pages: PagesDep) -> HTMLResponse:
    return await _show_registration(pages, "mentor")


async def register_mentor(pages: PagesDep) -> Response:
    return await _register(pages, "mentor")


def _sign_in_page(
    pages: Pages,
    *,
    values: FormData | None = None,
    errors: Mapping[str, str] | None = None,
    general_message: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    return pages.render(
        "sign_in.html",
        status=status,
        title="Sign in",
        page="sign-in",
        values=values or {},
        errors=dict(errors or {}),
        general_message=general_message,
        link_minutes=LINK_MINUTES,
    )


async def sign_in_form(pages: PagesDep) -> HTMLResponse:
    return _sign_in_page(pages)


async def request_sign_in_link(pages: PagesDep) -> HTMLResponse:
    form = await pages.form()
    email = text(form, "email")
    try:
        await pages.web.apis.request_sign_in_link(email, client_address=pages.client_address())
    except ApiRefused as refused:
        if refused.status == 429:
            return _sign_in_page(
                pages,
                values=form,
                general_message=(
                    "Too many sign-in links were asked for. Try again in "
                    f"{_seconds_to_words(refused.retry_after)}."
                ),
                status=429,
            )
        errors = {
            "email": "; ".join(m for f, m in refused.fields if f == "email") or refused.message
        }
        return _sign_in_page(pages, values=form, errors=errors, status=refused.status)
    return pages.render(
        "sign_in_sent.html", title="Check your email", email=email, link_minutes=LINK_MINUTES
    )


async def sign_in_link(pages: PagesDep, token: str = "") -> HTMLResponse:
    # Opening the link only shows a button: mail scanners that fetch links must not use it up.
    return pages.render("sign_in_link.html", title="Sign in", token=token)


async def redeem_sign_in_link(pages: PagesDep) -> Response:
    form = await pages.form()
    try:
        answer = await pages.web.apis.redeem_sign_in_link(text(form, "token"))
    except ApiRefused:
        return _sign_in_page(
            pages,
            general_message=(
                "This sign-in link has expired or was used already. Ask for a new one below."
            ),
            status=400,
        )
    response = pages.redirect("/matches")
    pages.start_session(response, answer["session_credential"], int(answer["expires_in_seconds"]))
    return response


async def sign_out(pages: PagesDep) -> Response:
    await pages.form()
    response = pages.redirect("/")
    pages.end_session(response)
    return response


# --- a signed-in person's pages ------------------------------------------------------------


async def skill_names_of(pages: Pages) -> dict[str, str]:
    return {skill.id: skill.name for skill in await pages.web.apis.skills()}


async def matches(pages: PagesDep, notice: str = "") -> HTMLResponse:
    return await _matches_page(pages, notice=_NOTICES.get(notice))


_NOTICES = {
    "accepted": "You accepted the match.",
    "declined": "You declined the match.",
    "asked": "You asked the mentor; they accept or decline next.",
    "saved": "Your profile is saved.",
    "paused": "You are paused: no new mentees are proposed to you.",
    "resumed": "You take mentees again.",
}


async def _matches_page(
    pages: Pages, *, notice: str | None = None, error_message: str | None = None, status: int = 200
) -> HTMLResponse:
    session = pages.signed_in()
    apis = pages.web.apis
    waiting = False
    found: list[Any] = []
    try:
        found = await apis.matches(
            session.credential, session.claims.kind, session.claims.profile_id
        )
    except ApiRefused as refused:
        if refused.status != 404:
            raise
        waiting = True  # registered a moment ago: the matcher has not read the profile yet
    plan = await _plan(pages, session) if found and session.is_mentee else None
    return pages.render(
        "matches.html",
        status=status,
        title="My matches",
        page="matches",
        matches=found,
        waiting_for_matcher=waiting,
        skill_names=await skill_names_of(pages),
        status_words=STATUS_WORDS,
        resource_kinds=RESOURCE_KIND_WORDS,
        learning_gaps=_learning_gaps_by_match(plan),
        notice=notice,
        error_message=error_message,
    )


async def _plan(pages: Pages, session: Session) -> dict[str, Any] | None:
    """The mentee's learning plan; None while the matcher has not read the profile."""
    try:
        return await pages.web.apis.plan(session.credential, session.claims.profile_id)
    except ApiRefused as refused:
        if refused.status != 404:
            raise
        return None


def _learning_gaps_by_match(plan: Mapping[str, Any] | None) -> dict[str, list[Any]]:
    """The plan's gaps that its match's mentor does not cover, with their resources, by the
    id of that match (the plan speaks of the mentee's open match only)."""
    if plan is None or plan.get("match_id") is None:
        return {}
    return {
        plan["match_id"]: [
            gap for gap in plan["gaps"] if not gap["covered_by_mentor"] and gap["resources"]
        ]
    }


async def _answer(pages: Pages, match_id: uuid.UUID, *, accept: bool) -> Response:
    form = await pages.form()
    session = pages.signed_in()
    try:
        await pages.web.apis.answer_match(
            session.credential, match_id, accept=accept, reason=text(form, "reason")
        )
    except ApiRefused as refused:
        return await _matches_page(pages, error_message=refused.message, status=refused.status)
    return pages.redirect(f"/matches?notice={'accepted' if accept else 'declined'}")


async def accept_match(pages: PagesDep, match_id: uuid.UUID) -> Response:
    return await _answer(pages, match_id, accept=True)


async def decline_match(pages: PagesDep, match_id: uuid.UUID) -> Response:
    return await _answer(pages, match_id, accept=False)


async def _suggestions_page(
    pages: Pages, *, error_message: str | None = None, status: int = 200
) -> HTMLResponse:
    session = pages.signed_in()
    if not session.is_mentee:
        return pages.problem(
            "Suggestions are for engineers",
            "Mentors are proposed to engineers; your proposals are on your matches page.",
            status=404,
            next_href="/matches",
            next_label="My matches",
        )
    waiting = False
    found: list[Any] = []
    try:
        found = await pages.web.apis.suggestions(session.credential, session.claims.profile_id)
    except ApiRefused as refused:
        if refused.status != 404:
            raise
        waiting = True
    return pages.render(
        "suggestions.html",
        status=status,
        title="Suggestions",
        page="suggestions",
        suggestions=found,
        waiting_for_matcher=waiting,
        skill_names=await skill_names_of(pages),
        error_message=error_message,
    )


async def suggestions(pages: PagesDep) -> HTMLResponse:
    return await _suggestions_page(pages)


async def learning_plan(pages: PagesDep) -> HTMLResponse:
    session = pages.signed_in()
    if not session.is_mentee:
        return pages.problem(
            "Learning plans are for engineers",
            "An engineer's plan lists their gaps, the ones their mentor covers and what to "
            "read or practise for the others.",
            status=404,
            next_href="/matches",
            next_label="My matches",
        )
    return pages.render(
        "plan.html",
        title="My learning plan",
        page="plan",
        plan=await _plan(pages, session),
        skill_names=await skill_names_of(pages),
        resource_kinds=RESOURCE_KIND_WORDS,
    )


async def ask_mentor(pages: PagesDep) -> Response:
    form = await pages.form()
    session = pages.signed_in()
    try:
        mentor_id = uuid.UUID(text(form, "mentor_id"))
    except ValueError:
        return await _suggestions_page(
            pages, error_message="Pick a mentor from the list.", status=422
        )
    try:
        await pages.web.apis.ask_mentor(session.credential, session.claims.profile_id, mentor_id)
    except ApiRefused as refused:
        return await _suggestions_page(pages, error_message=refused.message, status=refused.status)
    return pages.redirect("/matches?notice=asked")


def _profile_page(
    pages: Pages,
    profile: Mapping[str, Any],
    skills: Sequence[Any],
    *,
    values: FormData | None = None,
    errors: Mapping[str, str] | None = None,
    general_message: str | None = None,
    notice: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    return pages.render(
        "profile.html",
        status=status,
        title="My profile",
        page="profile",
        kind=profile["kind"],
        profile_id=profile["id"],
        paused=profile.get("accepting_mentees") is False,
        skills=skills,
        timezones=pages.web.timezones,
        values=values if values is not None else form_from_profile(profile),
        errors=dict(errors or {}),
        general_message=general_message,
        notice=notice,
    )


async def profile(pages: PagesDep, notice: str = "") -> HTMLResponse:
    session = pages.signed_in()
    apis = pages.web.apis
    found = await apis.profile(session.credential, session.claims.profile_id)
    return _profile_page(pages, found, await apis.skills(), notice=_NOTICES.get(notice))


async def change_profile(pages: PagesDep) -> Response:
    form = await pages.form()
    session = pages.signed_in()
    apis = pages.web.apis
    skills = await apis.skills()
    request = profile_body(form, session.claims.kind, skills, for_change=True)
    try:
        await apis.change_profile(session.credential, session.claims.profile_id, request.body)
    except ApiRefused as refused:
        current = await apis.profile(session.credential, session.claims.profile_id)
        return _profile_page(
            pages,
            current,
            skills,
            values=form,
            errors=field_errors(refusal_fields(refused), request),
            status=refused.status,
        )
    return pages.redirect("/profile?notice=saved")


async def pause(pages: PagesDep) -> Response:
    form = await pages.form()
    session = pages.signed_in()
    paused = bool(text(form, "paused"))
    await pages.web.apis.change_profile(
        session.credential, session.claims.profile_id, {"accepting_mentees": not paused}
    )
    return pages.redirect(f"/profile?notice={'paused' if paused else 'resumed'}")


async def replace_token(pages: PagesDep) -> HTMLResponse:
    await pages.form()
    session = pages.signed_in()
    answer = await pages.web.apis.rotate_token(session.credential, session.claims.profile_id)
    return pages.render("token.html", title="Your new API token", token=answer["token"])


async def delete_form(pages: PagesDep) -> HTMLResponse:
    pages.signed_in()
    return pages.render("delete.html", title="Delete your profile?", page="profile")


async def delete_profile(pages: PagesDep) -> HTMLResponse:
    await pages.form()
    session = pages.signed_in()
    await pages.web.apis.delete_profile(session.credential, session.claims.profile_id)
    response = pages.problem(
        "Your profile is deleted",
        "Your profile and your data are erased. Thank you for taking part.",
    )
    pages.end_session(response)
    return response


# --- errors --------------------------------------------------------------------------------


async def _on_form_refused(request: Request, _: Exception) -> Response:
    return Pages(request).problem(
        "This form has expired",
        "The form could not be accepted: it was shown too long ago, or sent from another "
        "site. Go back, reload the page and send it again.",
        status=403,
    )


async def _on_sign_in_needed(request: Request, _: Exception) -> Response:
    pages = Pages(request)
    response = pages.redirect("/sign-in")
    pages.end_session(response)
    return response


async def _on_refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiRefused)
    pages = Pages(request)
    if exc.status in (401, 404) and pages.session is not None:
        # The credential no longer opens the profile (deleted, say): sign in again.
        return await _on_sign_in_needed(request, exc)
    return pages.problem(
        "That did not work",
        exc.message,
        status=exc.status,
    )


async def _on_http_error(request: Request, exc: Exception) -> Response:
    """An address no page has (or a malformed id in it): a page, not the framework's JSON."""
    status = exc.status_code if isinstance(exc, StarletteHTTPException) else 404
    if status not in (404, 422):
        assert isinstance(exc, StarletteHTTPException)
        return await http_exception_handler(request, exc)
    return Pages(request).problem(
        "Page not found",
        "There is no page at this address. It may have been mistyped.",
        status=404,
    )


async def _on_unavailable(request: Request, _: Exception) -> Response:
    return Pages(request).problem(
        "Please try again in a moment",
        "A service behind these pages does not answer right now. Nothing was changed.",
        status=503,
    )


def install(app: FastAPI) -> None:
    """Every page route and the error pages."""
    routes: list[tuple[str, str, Any]] = [
        ("GET", "/", home),
        ("GET", "/register/engineer", register_engineer_form),
        ("POST", "/register/engineer", register_engineer),
        ("GET", "/register/mentor", register_mentor_form),
        ("POST", "/register/mentor", register_mentor),
        ("GET", "/sign-in", sign_in_form),
        ("POST", "/sign-in", request_sign_in_link),
        ("GET", "/sign-in/link", sign_in_link),
        ("POST", "/sign-in/link", redeem_sign_in_link),
        ("POST", "/sign-out", sign_out),
        ("GET", "/matches", matches),
        ("POST", "/matches/{match_id}/accept", accept_match),
        ("POST", "/matches/{match_id}/decline", decline_match),
        ("GET", "/suggestions", suggestions),
        ("GET", "/plan", learning_plan),
        ("POST", "/suggestions/ask", ask_mentor),
        ("GET", "/profile", profile),
        ("POST", "/profile", change_profile),
        ("POST", "/profile/pause", pause),
        ("POST", "/profile/token", replace_token),
        ("GET", "/profile/delete", delete_form),
        ("POST", "/profile/delete", delete_profile),
    ]
    for method, path, endpoint in routes:
        app.add_api_route(path, endpoint, methods=[method], response_class=HTMLResponse)
    app.add_exception_handler(FormRefused, _on_form_refused)
    app.add_exception_handler(SignInNeeded, _on_sign_in_needed)
    app.add_exception_handler(ApiRefused, _on_refused)
    app.add_exception_handler(ApiUnavailable, _on_unavailable)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(RequestValidationError, _on_http_error)

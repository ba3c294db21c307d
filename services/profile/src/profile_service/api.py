"""HTTP routes of the profile service: each turns a request into one use-case call."""

from __future__ import annotations

import functools
import hmac
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from mentorship_shared.contracts.skills import TAXONOMY
from mentorship_shared.plumbing.auth import bearer_token, hash_token, is_operator
from mentorship_shared.plumbing.deps import ServiceDeps
from mentorship_shared.plumbing.http import ERROR_RESPONSES, ApiError, ErrorBody, FieldError
from mentorship_shared.plumbing.limits import client_address
from mentorship_shared.plumbing.sessions import SessionSigner, is_session_credential, verify_session
from mentorship_shared.plumbing.unit_of_work import UnitOfWork
from pydantic import ValidationError

from . import use_cases
from .config import ProfileSettings
from .domain import FieldRejected, check_booking_link
from .repository import (
    EmailTaken,
    PostgresProfileStore,
    RateLimit,
    RateLimited,
    StoredProfile,
)
from .schemas import (
    MenteeRegistration,
    MentorRegistration,
    ProfilePatch,
    ProfileView,
    RegistrationView,
    SessionKeyView,
    SessionView,
    SignInLinkAccepted,
    SignInLinkRedemption,
    SignInLinkRequest,
    SkillView,
)

router = APIRouter(prefix="/v1")

deps = ServiceDeps[ProfileSettings, PostgresProfileStore]()
SettingsDep = Annotated[ProfileSettings, Depends(deps.settings)]
UowDep = Annotated[UnitOfWork[PostgresProfileStore], Depends(deps.uow)]

_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "No such profile, or not yours."}
}
_AUTH: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "No bearer token."}
}
_CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorBody, "description": "The email address is already registered."}
}
_RATE_LIMITED: dict[int | str, dict[str, Any]] = {
    429: {
        "model": ErrorBody,
        "description": (
            "Too many registration attempts from this client address "
            "(REGISTRATION_RATE_PER_ADDRESS, 20 per hour by default) or for this email address "
            "(REGISTRATION_RATE_PER_EMAIL, 5 per hour, `fields` names `email`). Attempts that "
            "pass validation count, whether they succeed or not. Nothing was stored."
        ),
        "headers": {
            "Retry-After": {
                "description": "Seconds until the window ends and attempts are admitted again.",
                "schema": {"type": "integer"},
            }
        },
    }
}


@router.get("/skills", tags=["skills"], summary="The product-management skill taxonomy")
async def list_skills(response: Response) -> list[SkillView]:
    response.headers["X-Taxonomy-Version"] = str(TAXONOMY.version)
    return [
        SkillView(id=s.id, name=s.name, description=s.description, group=s.group)
        for s in TAXONOMY.skills
    ]


@router.post(
    "/mentees",
    status_code=201,
    tags=["profiles"],
    summary="Register as a mentee (an engineer moving into product management)",
    responses={**ERROR_RESPONSES, **_CONFLICT, **_RATE_LIMITED},
)
async def register_mentee(
    body: MenteeRegistration,
    request: Request,
    settings: SettingsDep,
    uow: UowDep,
    response: Response,
) -> RegistrationView:
    return await _register(request, settings, uow, body, response)


@router.post(
    "/mentors",
    status_code=201,
    tags=["profiles"],
    summary="Register as a mentor (a product manager)",
    responses={**ERROR_RESPONSES, **_CONFLICT, **_RATE_LIMITED},
)
async def register_mentor(
    body: MentorRegistration,
    request: Request,
    settings: SettingsDep,
    uow: UowDep,
    response: Response,
) -> RegistrationView:
    return await _register(request, settings, uow, body, response)


async def _register(
    request: Request,
    settings: ProfileSettings,
    uow: UnitOfWork[PostgresProfileStore],
    body: MenteeRegistration | MentorRegistration,
    response: Response,
) -> RegistrationView:
    # A valid request is counted before it is tried: a refused one stores and publishes
    # nothing, and an attempt on a taken address (409) counts as well, so the limits also slow
    # down probing which addresses are registered. The count and the registration share one
    # transaction; only a booking link, whose host is looked up outside any transaction, is
    # counted in one of its own first, so that the limits hold back the lookups too.
    limits = [
        RateLimit("address", _client(request, settings), settings.registration_rate_per_address),
        RateLimit("email", body.email.strip().lower(), settings.registration_rate_per_email),
    ]
    window = settings.registration_rate_window_seconds
    try:
        counted = False
        if isinstance(body, MentorRegistration) and body.booking_url is not None:
            async with uow() as tx:
                await tx.repo.count_attempt(limits, window_seconds=window)
            counted = True
            await _check_link(body.booking_url)
        async with uow() as tx:
            if not counted:
                await tx.repo.count_attempt(limits, window_seconds=window)
            try:
                registered = await use_cases.register(tx.repo, tx.outbox, body)
            except EmailTaken:
                # Nothing was written but the count, which commits.
                registered = None
    except RateLimited as refused:
        raise _rate_limited(refused, window) from refused
    if registered is None:
        raise _email_taken()
    stored, token = registered
    response.headers["Location"] = f"/v1/profiles/{stored.profile.profile_id}"
    return RegistrationView(**_view_fields(stored), token=token)


def _client(request: Request, settings: ProfileSettings) -> str:
    """The client address the rate limits count: the browser's for the web front end."""
    hops = settings.client_hops(request.headers.get("x-frontend-key"))
    return client_address(request, hops)


@functools.cache
def _signer(signing_key: str) -> SessionSigner:
    return SessionSigner(signing_key)


def _session_signer(settings: ProfileSettings) -> SessionSigner:
    if settings.session_signing_key is None:
        raise ApiError(
            503,
            "sign_in_not_configured",
            "This profile service was started without SESSION_SIGNING_KEY, so nobody can sign "
            "in to the web pages; owner tokens work as before.",
        )
    return _signer(settings.session_signing_key.get_secret_value())


async def _authorize(
    request: Request, profile_id: uuid.UUID, settings: SettingsDep, uow: UowDep
) -> uuid.UUID:
    """The owner's token, a session credential signed for this profile, or the operator key;
    anyone else learns nothing (404)."""
    token = bearer_token(request)
    if is_operator(token, settings.operator_api_key):
        return profile_id
    if is_session_credential(token):
        key = settings.session_signing_key
        claims = verify_session(token, _signer(key.get_secret_value()).public_key if key else None)
        if claims is None or claims.profile_id != profile_id:
            raise _not_found()
        return profile_id
    return await _authorize_owner(request, profile_id, uow)


async def _authorize_owner(request: Request, profile_id: uuid.UUID, uow: UowDep) -> uuid.UUID:
    """The owner's token only."""
    token = bearer_token(request)
    async with uow.reading() as store:
        stored_hash = await store.token_hash(profile_id)
    if stored_hash is None or not hmac.compare_digest(stored_hash, hash_token(token)):
        raise _not_found()
    return profile_id


AuthorizedProfileId = Annotated[uuid.UUID, Depends(_authorize)]
OwnerProfileId = Annotated[uuid.UUID, Depends(_authorize_owner)]

_SIGN_IN_UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {"model": ErrorBody, "description": "No SESSION_SIGNING_KEY is configured."}
}


@router.get(
    "/session-key",
    tags=["sign-in"],
    summary="The public key of the session credentials",
    description=(
        "What the other services need (SESSION_PUBLIC_KEY) to check the session credentials "
        "this service signs."
    ),
    responses=_SIGN_IN_UNAVAILABLE,
)
async def session_key(settings: SettingsDep) -> SessionKeyView:
    return SessionKeyView(public_key=_session_signer(settings).public_key_text)


@router.post(
    "/sign-in-links",
    status_code=202,
    tags=["sign-in"],
    summary="Mail a one-time sign-in link",
    description=(
        "If the address belongs to a profile, a link that signs in to the web pages is mailed "
        "to it: it works once, for SIGN_IN_LINK_MINUTES (15). The answer is the same whether "
        "or not the address is registered. Requests are limited per email address and per "
        "client address (429)."
    ),
    responses={**ERROR_RESPONSES, **_RATE_LIMITED, **_SIGN_IN_UNAVAILABLE},
)
async def request_sign_in_link(
    body: SignInLinkRequest, request: Request, settings: SettingsDep, uow: UowDep
) -> SignInLinkAccepted:
    _session_signer(settings)
    limits = [
        RateLimit("sign-in address", _client(request, settings), settings.sign_in_rate_per_address),
        RateLimit("sign-in email", body.email.strip().lower(), settings.sign_in_rate_per_email),
    ]
    try:
        async with uow() as tx:
            await tx.repo.count_attempt(limits, window_seconds=settings.sign_in_rate_window_seconds)
    except RateLimited as refused:
        raise _rate_limited(refused, settings.sign_in_rate_window_seconds) from refused
    async with uow() as tx:
        await use_cases.request_sign_in_link(
            tx.repo,
            tx.outbox,
            body.email,
            now=datetime.now(UTC),
            lifetime=timedelta(minutes=settings.sign_in_link_minutes),
        )
    return SignInLinkAccepted()


@router.post(
    "/sessions",
    status_code=201,
    tags=["sign-in"],
    summary="Sign in with a mailed link: a session credential",
    description=(
        "Uses the link's token (once) and returns a session credential for its profile: a "
        "bearer token the profile and matching APIs accept for that profile only, until "
        "`expires_at`. The web pages keep it in the person's session cookie."
    ),
    responses={**ERROR_RESPONSES, **_SIGN_IN_UNAVAILABLE},
)
async def redeem_sign_in_link(
    body: SignInLinkRedemption, settings: SettingsDep, uow: UowDep
) -> SessionView:
    signer = _session_signer(settings)
    try:
        async with uow() as tx:
            credential, claims = await use_cases.redeem_sign_in_link(
                tx.repo,
                signer,
                body.sign_in_token,
                now=datetime.now(UTC),
                lifetime=timedelta(hours=settings.session_hours),
            )
    except use_cases.SignInLinkRefused as refused:
        raise ApiError(
            400,
            "sign_in_link_invalid",
            "This sign-in link is unknown, used already or expired; ask for a new one.",
            field="sign_in_token",
        ) from refused
    return _session_view(credential, claims.profile_id, claims.kind, claims.expires_at)


@router.post(
    "/profiles/{profile_id}/sessions",
    status_code=201,
    tags=["sign-in"],
    summary="A session credential for your owner token",
    description=(
        "Signs the owner in to the web pages (the pages do this right after registering). "
        "Only the owner token opens it: a session credential cannot extend itself."
    ),
    responses={**_AUTH, **_NOT_FOUND, **_SIGN_IN_UNAVAILABLE},
)
async def open_session(
    profile_id: OwnerProfileId, settings: SettingsDep, uow: UowDep
) -> SessionView:
    signer = _session_signer(settings)
    async with uow.reading() as store:
        stored = await store.get(profile_id)
    if stored is None:
        raise _not_found()
    credential, claims = signer.issue(
        profile_id,
        stored.profile.kind,
        now=datetime.now(UTC),
        lifetime=timedelta(hours=settings.session_hours),
    )
    return _session_view(credential, profile_id, claims.kind, claims.expires_at)


def _session_view(
    credential: str, profile_id: uuid.UUID, kind: str, expires_at: datetime
) -> SessionView:
    seconds = int((expires_at - datetime.now(UTC)).total_seconds())
    return SessionView(
        profile_id=profile_id,
        kind=kind,
        session_credential=credential,
        expires_at=expires_at,
        expires_in_seconds=max(0, seconds),
    )


@router.get(
    "/profiles/{profile_id}",
    tags=["profiles"],
    summary="Read your profile",
    responses={**_AUTH, **_NOT_FOUND},
)
async def get_profile(profile_id: AuthorizedProfileId, uow: UowDep) -> ProfileView:
    async with uow.reading() as store:
        stored = await store.get(profile_id)
    if stored is None:
        raise _not_found()
    return ProfileView(**_view_fields(stored))


@router.patch(
    "/profiles/{profile_id}",
    tags=["profiles"],
    summary="Change your profile (only the fields you send)",
    responses={**ERROR_RESPONSES, **_AUTH, **_NOT_FOUND, **_CONFLICT},
)
async def patch_profile(
    profile_id: AuthorizedProfileId, body: ProfilePatch, uow: UowDep
) -> ProfileView:
    changes: dict[str, Any] = body.model_dump(exclude_unset=True)
    await _check_link(changes.get("booking_url"))
    try:
        async with uow() as tx:
            stored = await use_cases.update_profile(tx.repo, tx.outbox, profile_id, changes)
    except use_cases.ProfileNotFound as error:
        raise _not_found() from error
    except EmailTaken as error:
        raise _email_taken() from error
    except FieldRejected as error:
        raise ApiError(422, "invalid_request", error.message, field=error.field) from error
    except ValidationError as error:
        raise _invalid(error) from error
    return ProfileView(**_view_fields(stored))


@router.delete(
    "/profiles/{profile_id}",
    status_code=204,
    tags=["profiles"],
    summary="Delete your profile and erase your data",
    responses={**_AUTH, **_NOT_FOUND},
)
async def delete_profile(profile_id: AuthorizedProfileId, uow: UowDep) -> Response:
    try:
        async with uow() as tx:
            await use_cases.delete_profile(tx.repo, tx.outbox, profile_id)
    except use_cases.ProfileNotFound as error:
        raise _not_found() from error
    return Response(status_code=204)


@router.post(
    "/profiles/{profile_id}/token",
    tags=["profiles"],
    summary="Rotate your token",
    description=(
        "Issues a new token and retires the old one, here at once and in the other services "
        "within seconds. The new token is shown only in this response."
    ),
    responses={**_AUTH, **_NOT_FOUND},
)
async def rotate_token(profile_id: AuthorizedProfileId, uow: UowDep) -> RegistrationView:
    try:
        async with uow() as tx:
            stored, token = await use_cases.rotate_token(tx.repo, tx.outbox, profile_id)
    except use_cases.ProfileNotFound as error:
        raise _not_found() from error
    return RegistrationView(**_view_fields(stored), token=token)


def _view_fields(stored: StoredProfile) -> dict[str, Any]:
    data = stored.profile.model_dump()
    data["id"] = data.pop("profile_id")
    return {**data, "created_at": stored.created_at, "updated_at": stored.updated_at}


async def _check_link(url: str | None) -> None:
    """Resolve a booking link's host before any transaction starts (a slow name must not hold
    a database connection): 422 naming the field when it is not public."""
    try:
        await check_booking_link(url)
    except FieldRejected as error:
        raise ApiError(422, "invalid_request", error.message, field=error.field) from error


def _not_found() -> ApiError:
    return ApiError(404, "not_found", "No such profile, or the token does not belong to it.")


def _email_taken() -> ApiError:
    return ApiError(
        409, "email_taken", "A profile with this email address exists already.", field="email"
    )


def _rate_limited(refused: RateLimited, window_seconds: int) -> ApiError:
    what, _, counted = refused.limit.name.rpartition(" ")
    whose = "this client address" if counted == "address" else "this email address"
    attempts = "sign-in link requests" if what == "sign-in" else "registration attempts"
    return ApiError(
        429,
        "rate_limited",
        f"Too many {attempts} for {whose}: at most {refused.limit.limit} every "
        f"{window_seconds} seconds. Try again in {refused.retry_after} seconds.",
        field="email" if counted == "email" else None,
        headers={"Retry-After": str(refused.retry_after)},
    )


def _invalid(error: ValidationError) -> ApiError:
    first = error.errors()[0]
    field = ".".join(str(part) for part in first["loc"])
    message = str(first["msg"]).removeprefix("Value error, ")
    api_error = ApiError(422, "invalid_request", f"The change is invalid. {field}: {message}")
    api_error.fields = [
        FieldError(
            field=".".join(str(part) for part in item["loc"]),
            message=str(item["msg"]).removeprefix("Value error, "),
        )
        for item in error.errors()
    ]
    return api_error

"""FastAPI dependencies every service shares: its settings and unit of work, typed, and the
operator check.

A service declares its own typed aliases once:

    deps = ServiceDeps[MatchingSettings, MatchingRepository]()
    SettingsDep = Annotated[MatchingSettings, Depends(deps.settings)]
    UowDep = Annotated[UnitOfWork[MatchingRepository], Depends(deps.uow)]

Dependencies are coroutines on purpose: FastAPI runs a plain `def` one in a worker thread, and
that hand-off costs more than the dependency itself on every request.
"""

from __future__ import annotations

from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Request

from .auth import bearer_token, is_operator
from .http import ApiError
from .settings import ServiceSettings
from .unit_of_work import UnitOfWork

S = TypeVar("S", bound=ServiceSettings)
R = TypeVar("R")


def _runtime(request: Request) -> Any:
    # Set by `create_service_app`; a ServiceRuntime[S, R] of the app's own service.
    return request.app.state.runtime


class ServiceDeps(Generic[S, R]):
    """The dependencies of one service's routes, typed by its settings and repository."""

    async def settings(self, request: Request) -> S:
        settings: S = _runtime(request).settings
        return settings

    async def uow(self, request: Request) -> UnitOfWork[R]:
        uow: UnitOfWork[R] = _runtime(request).uow
        return uow


async def _operator(request: Request) -> None:
    """Operator routes: the operator key as a bearer token, or 401/403."""
    token = bearer_token(request)
    settings: ServiceSettings = _runtime(request).settings
    if settings.operator_api_key is None:
        raise ApiError(
            403,
            "operator_key_not_configured",
            "This service was started without OPERATOR_API_KEY, so operator calls are refused; "
            "set it in the service's environment.",
        )
    if not is_operator(token, settings.operator_api_key):
        raise ApiError(403, "forbidden", "This call needs the operator key.")


#: FastAPI dependency for routes only operators may call.
OperatorDep = Annotated[None, Depends(_operator)]

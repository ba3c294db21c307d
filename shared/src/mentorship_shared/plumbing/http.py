"""HTTP plumbing every service uses: one JSON error shape, health, readiness and metrics."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from .liveness import Stall


class FieldError(BaseModel):
    field: str = Field(description="Dotted path of the offending field, such as 'skills.0.target'.")
    message: str = Field(description="What is wrong with it.")


class ErrorBody(BaseModel):
    """Every 4xx and 5xx answer has this shape."""

    error: str = Field(description="Machine-readable error code, such as 'invalid_request'.")
    message: str = Field(description="What went wrong and what to do, for a person.")
    fields: list[FieldError] = Field(default_factory=list, description="Offending fields, if any.")


class ApiError(Exception):
    """An error a use case or route raises to answer with `ErrorBody`."""

    def __init__(
        self,
        status: int,
        error: str,
        message: str,
        *,
        field: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.fields = [FieldError(field=field, message=message)] if field else []
        self.headers = dict(headers or {})


def error_response(
    status: int, error: str, message: str, fields: Sequence[FieldError] = ()
) -> JSONResponse:
    body = ErrorBody(error=error, message=message, fields=list(fields))
    return JSONResponse(body.model_dump(), status_code=status)


def _field_path(location: Sequence[int | str]) -> str:
    # FastAPI prefixes the part of the request ("body", "query", "path"); the field is the rest.
    parts = (
        list(location[1:])
        if location and location[0] in {"body", "query", "path"}
        else list(location)
    )
    return ".".join(str(part) for part in parts) or str(location[0] if location else "body")


async def _on_validation_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    fields = []
    for item in exc.errors():
        message = str(item.get("msg", "invalid value"))
        # Pydantic prefixes messages of custom validators with "Value error, "; drop the noise.
        message = message.removeprefix("Value error, ")
        # A body that is not JSON at all has the character offset as its location.
        field = "body" if item.get("type") == "json_invalid" else _field_path(item.get("loc", ()))
        fields.append(FieldError(field=field, message=message))
    summary = "; ".join(f"{f.field}: {f.message}" for f in fields[:3])
    return error_response(422, "invalid_request", f"The request is invalid. {summary}", fields)


async def _on_api_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    response = error_response(exc.status, exc.error, exc.message, exc.fields)
    response.headers.update(exc.headers)
    return response


async def _on_http_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    codes = {
        404: "not_found",
        405: "method_not_allowed",
        401: "unauthorized",
        403: "forbidden",
        413: "payload_too_large",
    }
    response = error_response(
        exc.status_code, codes.get(exc.status_code, "http_error"), str(exc.detail)
    )
    if exc.headers:
        response.headers.update(exc.headers)
    return response


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(ApiError, _on_api_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {
        "model": ErrorBody,
        "description": "The request body could not be read (not UTF-8 text, for example).",
    },
    422: {
        "model": ErrorBody,
        "description": "The request is invalid; `fields` names the culprits.",
    },
    413: {
        "model": ErrorBody,
        "description": (
            "The request body is larger than the service accepts (MAX_REQUEST_BODY_BYTES, "
            "64 KiB unless the operator changed it)."
        ),
    },
}


ReadinessCheck = Callable[[], Awaitable[dict[str, str]]]
#: The stalled consumers, from memory only (no database, no broker).
LivenessCheck = Callable[[], Sequence[Stall]]


class StalledPartition(BaseModel):
    consumer: str = Field(description="The consumer that made no progress.")
    topic: str = Field(description="A topic partition with records waiting for it...")
    partition: int = Field(description="...and its number.")
    lag: int = Field(description="Records waiting on that partition.")
    seconds_without_progress: float = Field(
        description="How long the consumer has finished no message while this partition lagged."
    )


class Health(BaseModel):
    """`/healthz`: `ok`, or `stalled` with the consumers that stopped making progress."""

    status: str = Field(description="'ok' or 'stalled'.")
    stalled: list[StalledPartition] = Field(
        default_factory=list,
        description=(
            "Partitions whose consumer made no progress for CONSUMER_STALL_SECONDS (only in a "
            "503 answer)."
        ),
    )


def install_operational_routes(
    app: FastAPI, readiness: ReadinessCheck, *, liveness: LivenessCheck | None = None
) -> None:
    """`/healthz` (the process is alive and its consumers are not stuck), `/readyz` (its
    dependencies answer), `/metrics`."""

    @app.get(
        "/healthz",
        tags=["operations"],
        summary="Liveness: the process answers and no consumer is stuck",
        response_model=Health,
        responses={
            503: {
                "model": Health,
                "description": (
                    "A consumer made no progress for CONSUMER_STALL_SECONDS while a partition "
                    "it owns had records waiting: restart the process."
                ),
            }
        },
    )
    async def healthz() -> Response:
        # Cheap on purpose: what the consumers reported, in memory; no database, no broker.
        stalls = liveness() if liveness is not None else ()
        if not stalls:
            return JSONResponse({"status": "ok"})
        body = Health(
            status="stalled",
            stalled=[
                StalledPartition(
                    consumer=stall.consumer,
                    topic=stall.topic,
                    partition=stall.partition,
                    lag=stall.lag,
                    seconds_without_progress=round(stall.seconds_without_progress, 1),
                )
                for stall in stalls
            ],
        )
        return JSONResponse(body.model_dump(), status_code=503)

    @app.get(
        "/readyz",
        tags=["operations"],
        summary="Readiness: the database and the broker answer",
        responses={503: {"description": "A dependency does not answer."}},
    )
    async def readyz() -> Response:
        checks = await readiness()
        ready = all(value == "ok" for value in checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "not_ready", "checks": checks},
            status_code=200 if ready else 503,
        )

    @app.get(
        "/metrics",
        tags=["operations"],
        summary="Prometheus metrics",
        response_class=Response,
        responses={
            200: {
                "description": "Metrics in the Prometheus text format.",
                "content": {"text/plain": {"schema": {"type": "string"}}},
            }
        },
    )
    async def prometheus_metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

"""One JSON error shape for every 4xx: validation errors, ApiError and routing errors."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI, HTTPException, Query, Request
from mentorship_shared.plumbing.auth import bearer_token, hash_token, is_operator
from mentorship_shared.plumbing.http import (
    ApiError,
    install_error_handlers,
    install_operational_routes,
)
from pydantic import BaseModel, ConfigDict, Field, SecretStr


class Line(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    sku: str = Field(min_length=1)
    quantity: int = Field(ge=1)


class Order(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    customer: str
    lines: list[Line] = Field(min_length=1)


def build_app(ready: dict[str, str] | None = None) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    async def readiness() -> dict[str, str]:
        return ready or {"database": "ok"}

    install_operational_routes(app, readiness)

    @app.post("/orders", status_code=201)
    async def create_order(order: Order) -> dict[str, int]:
        return {"lines": len(order.lines)}

    @app.get("/orders")
    async def list_orders(limit: int = Query(10, ge=1, le=100)) -> dict[str, int]:
        return {"limit": limit}

    @app.get("/conflict")
    async def conflict() -> None:
        raise ApiError(409, "email_taken", "A profile with this address exists.", field="email")

    @app.get("/teapot")
    async def teapot() -> None:
        raise ApiError(418, "teapot", "I am a teapot.")

    @app.get("/challenge")
    async def challenge() -> None:
        raise HTTPException(401, "who are you?", headers={"WWW-Authenticate": "Bearer"})

    @app.get("/whoami")
    async def whoami(request: Request) -> dict[str, str]:
        return {"token": bearer_token(request)}

    return app


def http_client(app: FastAPI) -> httpx.AsyncClient:
    # httpx over ASGI rather than starlette's TestClient, which warns about its httpx use.
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with http_client(build_app()) as test_client:
        yield test_client


def fields_of(body: dict[str, object]) -> list[str]:
    fields = body["fields"]
    assert isinstance(fields, list)
    return [f["field"] for f in fields]


async def test_valid_body_passes(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/orders", json={"customer": "c", "lines": [{"sku": "a", "quantity": 2}]}
    )
    assert response.status_code == 201
    assert response.json() == {"lines": 1}


async def test_bad_body_answers_422_with_dotted_field_paths(client: httpx.AsyncClient) -> None:
    body = {"customer": "c", "lines": [{"sku": "a", "quantity": 1}, {"sku": "", "quantity": 0}]}
    response = await client.post("/orders", json=body)

    assert response.status_code == 422
    payload = response.json()
    assert payload["error"] == "invalid_request"
    assert set(fields_of(payload)) == {"lines.1.sku", "lines.1.quantity"}
    assert all(f["message"] for f in payload["fields"])
    assert "lines.1" in payload["message"]
    assert set(payload) == {"error", "message", "fields"}


async def test_wrong_types_and_unknown_fields_are_named(client: httpx.AsyncClient) -> None:
    body = {"customer": 5, "lines": [{"sku": "a", "quantity": "2"}], "discount": 10}
    response = await client.post("/orders", json=body)
    assert response.status_code == 422
    assert set(fields_of(response.json())) == {"customer", "lines.0.quantity", "discount"}


async def test_missing_or_broken_body_is_invalid_request(client: httpx.AsyncClient) -> None:
    missing = await client.post("/orders")
    assert missing.status_code == 422
    assert missing.json()["error"] == "invalid_request"
    assert fields_of(missing.json()) == ["body"]


async def test_malformed_json_is_invalid_request(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/orders", content=b'{"customer": "c",,}', headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_request"
    assert response.json()["fields"]


async def test_malformed_json_names_the_body_not_a_character_offset(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/orders", content=b'{"customer": "c",,}', headers={"content-type": "application/json"}
    )
    assert fields_of(response.json()) == ["body"]


async def test_query_parameter_errors_name_the_parameter(client: httpx.AsyncClient) -> None:
    response = await client.get("/orders", params={"limit": 0})
    assert response.status_code == 422
    assert fields_of(response.json()) == ["limit"]


async def test_api_error_maps_to_its_status_and_body(client: httpx.AsyncClient) -> None:
    response = await client.get("/conflict")
    assert response.status_code == 409
    assert response.json() == {
        "error": "email_taken",
        "message": "A profile with this address exists.",
        "fields": [{"field": "email", "message": "A profile with this address exists."}],
    }
    teapot = await client.get("/teapot")
    assert teapot.status_code == 418
    assert teapot.json() == {"error": "teapot", "message": "I am a teapot.", "fields": []}


async def test_routing_errors_use_the_same_shape(client: httpx.AsyncClient) -> None:
    missing = await client.get("/nowhere")
    assert missing.status_code == 404
    assert missing.json()["error"] == "not_found"
    wrong_method = await client.delete("/orders")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"] == "method_not_allowed"


async def test_http_exception_keeps_its_headers(client: httpx.AsyncClient) -> None:
    response = await client.get("/challenge")
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "header", [None, "", "Bearer", "Bearer   ", "Basic dXNlcjpwYXNz", "Token abc"]
)
async def test_missing_or_foreign_credentials_answer_401(
    client: httpx.AsyncClient, header: str | None
) -> None:
    headers = {"Authorization": header} if header is not None else {}
    response = await client.get("/whoami", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER"])
async def test_bearer_token_is_read_whatever_the_scheme_case(
    client: httpx.AsyncClient, scheme: str
) -> None:
    response = await client.get("/whoami", headers={"Authorization": f"{scheme} s3cret "})
    assert response.status_code == 200
    assert response.json() == {"token": "s3cret"}


def test_operator_key_check() -> None:
    key = SecretStr("key-123")
    assert is_operator("key-123", key)
    assert not is_operator("key-124", key)
    assert not is_operator("key-12", key)
    assert not is_operator("", SecretStr(""))  # an empty key never grants anything
    assert not is_operator("anything", None)


def test_token_hash_is_stable_and_distinguishes_tokens() -> None:
    assert hash_token("a") == hash_token("a")
    assert hash_token("a") != hash_token("b")
    assert len(hash_token("a")) == 32


async def test_health_and_readiness(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checks": {"database": "ok"}}
    assert (await client.get("/metrics")).status_code == 200


async def test_not_ready_when_a_dependency_fails() -> None:
    async with http_client(build_app({"database": "ok", "kafka": "unreachable"})) as test_client:
        response = await test_client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["status"] == "not_ready"
    assert response.json()["checks"]["kafka"] == "unreachable"

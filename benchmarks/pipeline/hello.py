"""The hello-world anchor of the pipeline benchmark: a FastAPI app with one route, served by the
services' own entry point (`mentorship_shared.plumbing.entrypoint.run_service`: the same
uvicorn configuration, logging and settings loading), so the only difference from the profile
service is what the request does.

    HTTP_PORT=8100 python -m benchmarks.pipeline.hello

It answers `POST /v1/mentees` with `201 {"id": ...}` without reading the body, so the
registration load driver (`devstack.load`) can drive it unchanged.
"""

from __future__ import annotations

import sys

from fastapi import FastAPI
from mentorship_shared.plumbing.entrypoint import run_service
from mentorship_shared.plumbing.settings import ServiceSettings
from pydantic import Field


class HelloSettings(ServiceSettings):
    service_name: str = Field(default="hello", description="Service name.")
    database_url: str = Field(default="unused", description="Not used.")
    http_port: int = Field(default=8100, ge=1, le=65535, description="HTTP port.")


def create_app(settings: HelloSettings) -> FastAPI:
    app = FastAPI(title="hello")

    @app.post("/v1/mentees", status_code=201)
    async def hello() -> dict[str, str]:
        return {"id": "hello"}

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def main() -> int:
    return run_service("Hello-world anchor of the pipeline benchmark.", HelloSettings, create_app)


if __name__ == "__main__":
    sys.exit(main())

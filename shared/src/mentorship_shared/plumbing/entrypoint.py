"""The command line every service shares: `python -m <name>_service [--host H] [--port P]`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import TypeVar

import uvicorn
from fastapi import FastAPI
from pydantic import ValidationError

from .logs import configure_logging
from .settings import HttpSettings

S = TypeVar("S", bound=HttpSettings)


def run_service(
    description: str,
    load_settings: Callable[[], S],
    create_app: Callable[[S], FastAPI],
    argv: Sequence[str] | None = None,
) -> int:
    parser = argparse.ArgumentParser(
        description=description,
        epilog=(
            "Configuration comes from environment variables (DATABASE_URL, "
            "KAFKA_BOOTSTRAP_SERVERS, HTTP_PORT, LOG_LEVEL, LOG_FORMAT, ...); every one, with its "
            "default and meaning, is in docs/configuration.md."
        ),
    )
    parser.add_argument("--host", help="address to listen on (default: HTTP_HOST)")
    parser.add_argument("--port", type=int, help="port to listen on (default: HTTP_PORT)")
    parser.add_argument(
        "--print-settings", action="store_true", help="print the effective settings and exit"
    )
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except ValidationError as error:
        print(f"invalid configuration:\n{error}", file=sys.stderr)
        return 2
    overrides = {
        key: value
        for key, value in (("http_host", args.host), ("http_port", args.port))
        if value is not None
    }
    if overrides:
        settings = settings.model_copy(update=overrides)
    if args.print_settings:
        print(settings.model_dump_json(indent=2))
        return 0
    configure_logging(settings.service_name, settings.log_level, settings.log_format)
    serve(create_app(settings), settings.http_host, settings.http_port)
    return 0


def serve(app: FastAPI, host: str, port: int) -> None:
    """Serve `app` until SIGINT or SIGTERM, as every service does: our own logging (configured
    before), no access log, in-flight requests given 10 s on the way out."""
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=host,
            port=port,
            log_config=None,
            access_log=False,
            # uvloop and httptools (dependencies of the shared package) where they install.
            loop="auto",
            http="auto",
            timeout_graceful_shutdown=10,
        )
    )
    server.run()

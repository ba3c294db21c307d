"""Write the documents generated from the code into docs/: each service's OpenAPI and AsyncAPI
document (docs/api/), the configuration reference (docs/configuration.md) and the events
reference (docs/events.md).

    make docs                                  # write them
    .venv/bin/python -m tools.gen_docs --check # exit 1, naming every stale document

Per service, `api/<service>.openapi.json` is the FastAPI app's document (what `/openapi.json`
serves) and `api/<service>.asyncapi.json` is the AsyncAPI 3.0 document FastStream generates
from the service's broker (as `faststream docs gen` would), with the payloads of the events the
service consumes and publishes and the dead-letter topics it writes to. `configuration.md`
lists every setting of every service (tools/configuration_doc.py), `events.md` every topic and
event with who publishes and consumes it (tools/events_doc.py). The services are the
folders of services/ (tools/services.py), so a new one is documented without a change here.

The apps are built, never started: no database, broker or network is needed. The settings are
the defaults, whatever the environment says, and the JSON has sorted keys and a fixed indent,
so the documents only change when the code does.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar, cast

from fastapi import FastAPI
from mentorship_shared.plumbing.runtime import ServiceRuntime
from pydantic_settings import BaseSettings

from tools import configuration_doc, events_doc
from tools.services import ROOT, Service, discover

DOCS_DIR = ROOT / "docs"
#: The generated API documents, relative to DOCS_DIR; a file here that is not generated is stale.
API_DOCUMENTS = "api/*.*api.json"

#: Building an app connects to nothing; the URL is never used.
UNUSED_DATABASE = "postgresql://nobody@localhost/unused"

S = TypeVar("S", bound=BaseSettings)


def defaults_of(settings_cls: type[S]) -> S:
    """`settings_cls` with its defaults only: the environment and dotenv files are not read."""

    def init_only(
        cls: type[BaseSettings], settings_cls: type[BaseSettings], /, **sources: Any
    ) -> tuple[Any, ...]:
        return (sources["init_settings"],)

    isolated = cast(
        type[S],
        type(
            settings_cls.__name__,
            (settings_cls,),
            {"settings_customise_sources": classmethod(init_only)},
        ),
    )
    return isolated(database_url=UNUSED_DATABASE)


def _builder(service: Service) -> Callable[[], FastAPI]:
    return lambda: service.create_app(defaults_of(service.settings_class))


#: How each service's app is built, by service name: the services with an API and events
#: (the web front end serves pages only).
SERVICES: dict[str, Callable[[], FastAPI]] = {
    service.name: _builder(service) for service in discover() if service.keeps_data
}


def render(document: Any) -> str:
    """The one spelling of a document: sorted keys, two-space indent, final newline."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def documents() -> dict[str, str]:
    """Every document by its path under docs/, rendered."""
    rendered: dict[str, str] = {}
    asyncapi: dict[str, dict[str, Any]] = {}
    for name, build in SERVICES.items():
        app = build()
        runtime: ServiceRuntime[Any, Any] = app.state.runtime
        rendered[f"api/{name}.openapi.json"] = render(app.openapi())
        asyncapi[name] = runtime.asyncapi(
            title=app.title, version=app.version, description=app.description
        )
        rendered[f"api/{name}.asyncapi.json"] = render(asyncapi[name])
    rendered["configuration.md"] = configuration_doc.render(discover())
    rendered["events.md"] = events_doc.render(asyncapi)
    return rendered


def stale(directory: Path, expected: dict[str, str]) -> list[str]:
    """What is wrong with `directory`, one line per file (empty when it is current)."""
    problems = []
    for name, text in sorted(expected.items()):
        path = directory / name
        if not path.exists():
            problems.append(f"{_shown(path)} is missing")
        elif path.read_text(encoding="utf-8") != text:
            problems.append(f"{_shown(path)} is out of date")
    for path in sorted(directory.glob(API_DOCUMENTS)):
        if path.relative_to(directory).as_posix() not in expected:
            problems.append(f"{_shown(path)} is no longer generated")
    return problems


def write(directory: Path, expected: dict[str, str]) -> list[str]:
    """Write the documents that changed, delete the ones no longer generated; what changed."""
    changed = []
    for name, text in sorted(expected.items()):
        path = directory / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            changed.append(f"wrote {_shown(path)}")
    for path in sorted(directory.glob(API_DOCUMENTS)):
        if path.relative_to(directory).as_posix() not in expected:
            path.unlink()
            changed.append(f"deleted {_shown(path)}")
    return changed


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.gen_docs",
        description=(
            "Generate each service's OpenAPI and AsyncAPI document (JSON) into docs/api/ and "
            "the configuration reference docs/configuration.md, without a database or broker."
        ),
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 and name every document that is missing or out of date",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=DOCS_DIR,
        help=f"directory of the documents (default: {_shown(DOCS_DIR)})",
    )
    args = parser.parse_args(argv)
    expected = documents()
    if args.check:
        problems = stale(args.output, expected)
        for problem in problems:
            print(f"{problem}: run make docs", file=sys.stderr)
        if not problems:
            print(f"{len(expected)} documents in {_shown(args.output)} are current")
        return 1 if problems else 0
    changes = write(args.output, expected)
    for change in changes:
        print(change)
    print(f"{len(expected)} documents in {_shown(args.output)}, {len(changes)} changed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

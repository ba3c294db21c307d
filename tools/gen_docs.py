"""Write the OpenAPI and AsyncAPI documents of every service into docs/api/.

    make docs                                  # write them
    .venv/bin/python -m tools.gen_docs --check # exit 1, naming every stale document

Per service, `<service>.openapi.json` is the FastAPI app's document (what `/openapi.json`
serves) and `<service>.asyncapi.json` is the AsyncAPI 3.0 document FastStream generates from
the service's broker (as `faststream docs gen` would), with the payloads of the events the
service consumes and publishes and the dead-letter topics it writes to.

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
from matching_service.app import create_app as create_matching
from matching_service.config import MatchingSettings
from mentorship_service.app import create_app as create_mentorship
from mentorship_service.config import MentorshipSettings
from mentorship_shared.plumbing.runtime import ServiceRuntime
from notification_service.app import create_app as create_notification
from notification_service.config import NotificationSettings
from profile_service.app import create_app as create_profile
from profile_service.config import ProfileSettings
from pydantic_settings import BaseSettings

ROOT = Path(__file__).resolve().parent.parent
DOCS_DIR = ROOT / "docs" / "api"

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


#: How each service's app is built, by service name.
SERVICES: dict[str, Callable[[], FastAPI]] = {
    "profile": lambda: create_profile(defaults_of(ProfileSettings)),
    "matching": lambda: create_matching(defaults_of(MatchingSettings)),
    "notification": lambda: create_notification(defaults_of(NotificationSettings)),
    "mentorship": lambda: create_mentorship(defaults_of(MentorshipSettings)),
}


def render(document: Any) -> str:
    """The one spelling of a document: sorted keys, two-space indent, final newline."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def documents() -> dict[str, str]:
    """Every document by file name, rendered."""
    rendered: dict[str, str] = {}
    for name, build in SERVICES.items():
        app = build()
        runtime: ServiceRuntime[Any, Any] = app.state.runtime
        rendered[f"{name}.openapi.json"] = render(app.openapi())
        rendered[f"{name}.asyncapi.json"] = render(
            runtime.asyncapi(title=app.title, version=app.version, description=app.description)
        )
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
    for path in sorted(directory.glob("*.*api.json")):
        if path.name not in expected:
            problems.append(f"{_shown(path)} is no longer generated")
    return problems


def write(directory: Path, expected: dict[str, str]) -> list[str]:
    """Write the documents that changed, delete the ones no longer generated; what changed."""
    directory.mkdir(parents=True, exist_ok=True)
    changed = []
    for name, text in sorted(expected.items()):
        path = directory / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            changed.append(f"wrote {_shown(path)}")
    for path in sorted(directory.glob("*.*api.json")):
        if path.name not in expected:
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
            "Generate each service's OpenAPI and AsyncAPI document (JSON) into docs/api/, "
            "without a database or broker."
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

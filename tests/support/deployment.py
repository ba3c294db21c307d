"""Reading docker-compose.yml and the services' apps, for the tests of the deployment files
(tests/unit/test_deployment_files.py, tests/unit/test_monitoring_files.py)."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from fastapi import FastAPI
from starlette.routing import Match

from tools.services import by_name

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"

#: The services of the tree (the folders of services/), by name.
SERVICES = by_name()
NAMES = sorted(SERVICES)
#: Those with a database and the broker (all but the web front end, which keeps no data).
DATA_NAMES = sorted(name for name, service in SERVICES.items() if service.keeps_data)

# Any URL works: creating an app connects to nothing.
_OFFLINE_DATABASE_URL = "postgresql://x@localhost/x"


@cache
def compose() -> dict[str, Any]:
    document = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(document, dict), "docker-compose.yml is not a mapping"
    return document


def services() -> dict[str, dict[str, Any]]:
    found = compose().get("services")
    assert isinstance(found, dict), "docker-compose.yml has no services"
    return found


def service(name: str) -> dict[str, Any]:
    assert name in services(), f"docker-compose.yml has no service {name!r}"
    return services()[name]


def environment(name: str) -> dict[str, str]:
    raw = service(name).get("environment") or {}
    assert isinstance(raw, dict), f"{name}: write environment as a mapping"
    return {str(key): "" if value is None else str(value) for key, value in raw.items()}


def depends_on(name: str) -> dict[str, str]:
    """Dependency -> condition."""
    raw = service(name).get("depends_on") or {}
    assert isinstance(raw, dict), f"{name}: write depends_on with a condition per dependency"
    return {dep: spec.get("condition", "service_started") for dep, spec in raw.items()}


def build_args(name: str) -> dict[str, str]:
    build = service(name).get("build")
    assert isinstance(build, dict), f"{name}: build must name its context and arguments"
    return {str(key): str(value) for key, value in (build.get("args") or {}).items()}


def http_port(name: str) -> int:
    """The port the container listens on: its HTTP_PORT, from Compose or the image."""
    return int(environment(name).get("HTTP_PORT") or build_args(name)["HTTP_PORT"])


@dataclass(frozen=True)
class PortMapping:
    host_ip: str
    host_first: int
    host_last: int
    container: int


def published_ports(name: str) -> list[PortMapping]:
    """The `[ip:]host[-last]:container` entries of a service's ports."""
    mappings = []
    for entry in service(name).get("ports") or []:
        found = re.fullmatch(r"(?:([\d.]+):)?(\d+)(?:-(\d+))?:(\d+)", str(entry))
        assert found, f"{name}: write ports as [ip:]host[-last]:container, not {entry!r}"
        ip, first, last, container = found.groups()
        mappings.append(PortMapping(ip or "", int(first), int(last or first), int(container)))
    return mappings


def probe(name: str) -> tuple[int, str]:
    """(port, path) the Compose healthcheck of an application service calls."""
    test = service(name).get("healthcheck", {}).get("test")
    assert test, f"{name} has no healthcheck"
    command = test if isinstance(test, str) else " ".join(test)
    return probe_of(command, http_port(name))


def probe_of(command: str, http_port: int) -> tuple[int, str]:
    """(port, path) a probe command calls; `os.environ['HTTP_PORT']` is the container's port."""
    assert "urllib.request" in command, "slim images have no curl"
    url = re.search(
        r"'http://127\.0\.0\.1:(?:(\d+)|' \+ os\.environ\['HTTP_PORT'\] \+ ')(/[\w/-]*)'", command
    )
    assert url, f"the probe calls no URL of the container: {command}"
    return int(url.group(1) or http_port), url.group(2)


def strings_in(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from strings_in(key)
            yield from strings_in(value)
    elif isinstance(node, list):
        for item in node:
            yield from strings_in(item)


# ${VAR}, ${VAR:-default}, ${VAR:?error}, ... and $VAR; $$ is a literal dollar sign.
_INTERPOLATION = re.compile(
    r"(?<!\$)\$(?:\{(?P<braced>[A-Za-z_]\w*)(?P<modifier>:?[-?+])?[^}]*\}|(?P<bare>[A-Za-z_]\w*))"
)


def with_placeholders(text: str) -> str:
    """The text with each interpolation replaced by `<<NAME>>`, so that a `:?message` inside
    it cannot break the parsing of, say, a URL."""
    return _INTERPOLATION.sub(lambda m: f"<<{m.group('braced') or m.group('bare')}>>", text)


def placeholder_name(text: str) -> str | None:
    """NAME if the text is exactly one placeholder `<<NAME>>`."""
    found = re.fullmatch(r"<<(\w+)>>", text)
    return found.group(1) if found else None


def interpolated_variables() -> dict[str, bool]:
    """Every variable docker-compose.yml interpolates -> whether it is required (`?`)."""
    found: dict[str, bool] = {}
    for text in strings_in(compose()):
        for match in _INTERPOLATION.finditer(text.replace("$$", "")):
            variable = match.group("braced") or match.group("bare")
            required = "?" in (match.group("modifier") or "")
            found[variable] = found.get(variable, False) or required
    return found


def bind_mounts(name: str) -> dict[str, Path]:
    """Container path -> the repository path a service mounts there (`./...` sources only)."""
    mounted = {}
    for volume in service(name).get("volumes", []):
        source, target = str(volume).split(":")[:2]
        if source.startswith("."):
            mounted[target] = (ROOT / source).resolve()
    return mounted


def mounted_at(name: str, container_path: str) -> Path | None:
    """The repository path behind a path inside a service's container, if it is bind-mounted."""
    for target, source in bind_mounts(name).items():
        if container_path == target or container_path.startswith(target.rstrip("/") + "/"):
            return source / container_path[len(target) :].lstrip("/")
    return None


def command_options(name: str) -> dict[str, str]:
    """`--key=value` words of a service's command."""
    command = service(name).get("command") or []
    words = shlex.split(command) if isinstance(command, str) else [str(word) for word in command]
    return dict(word[2:].partition("=")[::2] for word in words if word.startswith("--"))


@cache
def app_instance(name: str) -> FastAPI:
    app = SERVICES[name]
    return app.create_app(app.settings_class(database_url=_OFFLINE_DATABASE_URL))


def serves(name: str, path: str) -> bool:
    """Whether the app has a GET route for this path (routers included)."""
    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "root_path": "",
        "headers": [],
        "query_string": b"",
    }
    return any(route.matches(scope)[0] is Match.FULL for route in app_instance(name).routes)

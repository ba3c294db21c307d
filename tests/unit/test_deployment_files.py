"""The deployment files agree with the code.

docker-compose.yml, the services' Dockerfiles, the Kafka topic script, the PostgreSQL init
script, .env.example and the monitoring profile (Prometheus' scrape configuration, Grafana's
provisioning and dashboard) are checked against what the services actually read and serve:
their settings classes, default ports, HTTP routes, topic partition counts, database URLs and
Prometheus metrics. No Docker engine is needed: the files are parsed, the apps are created but
never started.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shlex
import sys
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
import yaml
from fastapi import FastAPI
from matching_service.app import create_app as create_matching_app
from matching_service.config import MatchingSettings
from mentorship_service.app import create_app as create_mentorship_app
from mentorship_service.config import MentorshipSettings
from mentorship_shared.contracts.topics import TOPIC_PARTITIONS
from mentorship_shared.plumbing.settings import ServiceSettings
from notification_service.app import create_app as create_notification_app
from notification_service.config import NotificationSettings
from profile_service.app import create_app as create_profile_app
from profile_service.config import ProfileSettings
from prometheus_client import REGISTRY
from prometheus_client.metrics import MetricWrapperBase
from starlette.routing import Match

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
DOCKERIGNORE = ROOT / ".dockerignore"
KAFKA_TOPICS_SCRIPT = ROOT / "infra" / "kafka" / "create-topics.sh"
POSTGRES_INIT_DIR = ROOT / "infra" / "postgres" / "init"
POSTGRES_INIT_SCRIPT = POSTGRES_INIT_DIR / "10-service-databases.sh"
PROMETHEUS_CONFIG = ROOT / "infra" / "prometheus" / "prometheus.yml"
GRAFANA_PROVISIONING = ROOT / "infra" / "grafana" / "provisioning"
GRAFANA_DASHBOARDS = ROOT / "infra" / "grafana" / "dashboards"

#: The services of the optional monitoring profile (`docker compose --profile monitoring`).
MONITORING_PROFILE = "monitoring"
MONITORING_SERVICES = ("grafana", "prometheus")

# Any URL works: creating an app connects to nothing.
_OFFLINE_DATABASE_URL = "postgresql://x@localhost/x"


@dataclass(frozen=True)
class App:
    name: str
    settings_class: type[ServiceSettings]
    create_app: Callable[[Any], FastAPI]

    @property
    def module(self) -> str:
        return f"{self.name}_service"

    @property
    def package(self) -> str:
        return f"{self.name}-service"

    @property
    def dockerfile(self) -> Path:
        return ROOT / "services" / self.name / "Dockerfile"

    @property
    def default_port(self) -> int:
        port = self.settings_class.model_fields["http_port"].default
        assert isinstance(port, int)
        return port


APPS = {
    app.name: app
    for app in (
        App("profile", ProfileSettings, create_profile_app),
        App("matching", MatchingSettings, create_matching_app),
        App("notification", NotificationSettings, create_notification_app),
        App("mentorship", MentorshipSettings, create_mentorship_app),
    )
}
APP_NAMES = sorted(APPS)


# --- docker-compose.yml ------------------------------------------------------------------


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
    """The environment a service sets, in either of Compose's two forms."""
    raw = service(name).get("environment") or {}
    if isinstance(raw, list):
        listed: dict[str, str] = {}
        for item in raw:
            key, _, value = str(item).partition("=")
            listed[key] = value
        return listed
    return {str(key): "" if value is None else str(value) for key, value in raw.items()}


def built_services() -> list[str]:
    return sorted(name for name, spec in services().items() if "build" in spec)


def build_of(name: str) -> tuple[Path, Path]:
    """(context, Dockerfile) of a built service, as Compose resolves them."""
    build = service(name)["build"]
    if isinstance(build, str):
        build = {"context": build}
    context = ROOT / build.get("context", ".")
    return context, context / build.get("dockerfile", "Dockerfile")


def depends_on(name: str) -> dict[str, str]:
    """Dependency -> condition (Compose's short list form means service_started)."""
    raw = service(name).get("depends_on") or {}
    if isinstance(raw, list):
        return dict.fromkeys(raw, "service_started")
    return {dep: spec.get("condition", "service_started") for dep, spec in raw.items()}


@dataclass(frozen=True)
class PortMapping:
    host_ip: str
    host_first: int | None  # None: Docker picks an ephemeral port
    host_last: int | None
    container: int


def _port_range(text: str) -> tuple[int, int]:
    first, _, last = text.partition("-")
    return int(first), int(last or first)


def published_ports(name: str) -> list[PortMapping]:
    mappings = []
    for entry in service(name).get("ports") or []:
        if isinstance(entry, dict):
            published = entry.get("published")
            first, last = _port_range(str(published)) if published else (None, None)
            mappings.append(
                PortMapping(entry.get("host_ip", ""), first, last, int(entry["target"]))
            )
            continue
        text = str(entry).split("/", 1)[0]
        parts = text.rsplit(":", 2)
        container_first, container_last = _port_range(parts[-1])
        assert container_first == container_last, f"{name}: container port range in {entry!r}"
        host_ip = parts[0] if len(parts) == 3 else ""
        host = parts[-2] if len(parts) >= 2 else ""
        first, last = _port_range(host) if host else (None, None)
        mappings.append(PortMapping(host_ip, first, last, container_first))
    return mappings


def healthcheck_url(spec: dict[str, Any]) -> str:
    test = spec.get("healthcheck", {}).get("test")
    assert test, "no healthcheck"
    text = test if isinstance(test, str) else " ".join(test)
    found = re.search(r"https?://[^\s'\"]+", text)
    assert found, f"the healthcheck calls no URL: {text}"
    return found.group(0)


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


# --- Dockerfiles ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str
    stage: int  # index of the FROM this instruction belongs to


@cache
def dockerfile_instructions(path: Path) -> tuple[Instruction, ...]:
    instructions: list[Instruction] = []
    stage = -1
    pending = ""
    for raw_line in path.read_text().splitlines():
        line = raw_line.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        keyword, _, arguments = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            stage += 1
        instructions.append(Instruction(keyword, arguments.strip(), stage))
    assert not pending, f"{path}: the last instruction ends with a line continuation"
    return tuple(instructions)


def instructions(app: App, keyword: str, *, final_stage: bool = False) -> list[Instruction]:
    every = dockerfile_instructions(app.dockerfile)
    last_stage = max(i.stage for i in every)
    return [i for i in every if i.keyword == keyword and (not final_stage or i.stage == last_stage)]


def options_and_operands(arguments: str) -> tuple[dict[str, str], list[str]]:
    options: dict[str, str] = {}
    words = shlex.split(arguments)
    while words and words[0].startswith("--"):
        key, _, value = words.pop(0)[2:].partition("=")
        options[key] = value
    return options, words


def exec_form(arguments: str) -> list[str]:
    parsed = json.loads(arguments)
    assert isinstance(parsed, list), f"not the exec (JSON) form: {arguments}"
    return [str(word) for word in parsed]


def dockerfile_env(app: App) -> dict[str, str]:
    env: dict[str, str] = {}
    for instruction in instructions(app, "ENV", final_stage=True):
        for word in shlex.split(instruction.arguments):
            key, _, value = word.partition("=")
            env[key] = value
    return env


@cache
def dockerignore_patterns() -> tuple[tuple[bool, re.Pattern[str]], ...]:
    """(is an exception '!', pattern) per line of .dockerignore, in order."""
    patterns = []
    for raw_line in DOCKERIGNORE.read_text().splitlines() if DOCKERIGNORE.exists() else []:
        line = raw_line.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        pattern = line.removeprefix("!").strip().strip("/")
        patterns.append((negated, re.compile(_glob_to_regex(pattern))))
    return tuple(patterns)


def _glob_to_regex(pattern: str) -> str:
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        elif pattern[i] == "[":
            end = pattern.index("]", i)
            out, i = out + "[" + pattern[i + 1 : end].replace("!", "^", 1) + "]", end + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return out


def dockerignored(relative: str) -> bool:
    """Whether .dockerignore keeps this path (or a folder above it) out of the build context."""
    parts = relative.strip("/").split("/")
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    excluded = False
    for negated, pattern in dockerignore_patterns():
        if any(pattern.fullmatch(candidate) for candidate in candidates):
            excluded = not negated
    return excluded


# --- the apps --------------------------------------------------------------------------------


@cache
def app_instance(name: str) -> FastAPI:
    app = APPS[name]
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


def env_names(settings_class: type[ServiceSettings]) -> set[str]:
    """The environment variables a settings class reads, lower-cased (names are case-blind)."""
    prefix = str(settings_class.model_config.get("env_prefix", ""))
    names = set()
    for field_name, field in settings_class.model_fields.items():
        alias = field.validation_alias or field.alias
        names.add(str(alias).lower() if isinstance(alias, str) else f"{prefix}{field_name}".lower())
    return names


# --- the init scripts ------------------------------------------------------------------------


def kafka_topic_table() -> dict[str, int]:
    block = re.search(r"^topics='(.*?)'", KAFKA_TOPICS_SCRIPT.read_text(), re.DOTALL | re.MULTILINE)
    assert block, f"{KAFKA_TOPICS_SCRIPT} has no topics='...' table"
    table: dict[str, int] = {}
    for line in block.group(1).splitlines():
        if not line.strip():
            continue
        row = re.fullmatch(r"\s*(\S+)\s+(\d+)\s+(\S+)\s*", line)
        assert row, f"unreadable row in the topic table: {line!r}"
        assert row.group(1) not in table, f"{row.group(1)} appears twice"
        table[row.group(1)] = int(row.group(2))
    return table


def provisioned_databases() -> dict[str, tuple[str, str]]:
    """database -> (role, password variable), from the `provision` lines of the init script."""
    rows = re.findall(
        r"^\s*provision\s+(\S+)\s+(\S+)\s+(\S+)\s*$",
        POSTGRES_INIT_SCRIPT.read_text(),
        re.MULTILINE,
    )
    return {database: (role, variable) for database, role, variable in rows}


# --- monitoring: Prometheus, Grafana and the metrics the services export ------------------------


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
def prometheus_config() -> dict[str, Any]:
    document = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    assert isinstance(document, dict), f"{PROMETHEUS_CONFIG} is not a mapping"
    return document


def scrape_jobs() -> dict[str, dict[str, Any]]:
    jobs: dict[str, dict[str, Any]] = {}
    for job in prometheus_config().get("scrape_configs") or []:
        assert job["job_name"] not in jobs, f"scrape job {job['job_name']} appears twice"
        jobs[job["job_name"]] = job
    return jobs


def dns_discovered_services() -> dict[str, list[tuple[str, int]]]:
    """Name -> (job, port) of every A-record DNS discovery in the scrape configuration: on the
    Compose network a service name resolves to one address per container, so every replica
    of a scaled service is a target."""
    found: dict[str, list[tuple[str, int]]] = {}
    for job_name, job in scrape_jobs().items():
        for discovery in job.get("dns_sd_configs") or []:
            assert discovery.get("type") == "A", f"{job_name}: use type A (Docker's DNS has no SRV)"
            assert "port" in discovery, f"{job_name}: type A needs the port"
            for name in discovery.get("names") or []:
                found.setdefault(str(name), []).append((job_name, int(discovery["port"])))
    return found


def grafana_provisioning(kind: str) -> list[dict[str, Any]]:
    """The documents of provisioning/<kind>/*.yml (kind: datasources, dashboards)."""
    folder = GRAFANA_PROVISIONING / kind
    files = sorted([*folder.glob("*.yml"), *folder.glob("*.yaml")])
    assert files, f"nothing in {folder}"
    return [yaml.safe_load(file.read_text()) for file in files]


@cache
def dashboards() -> dict[str, dict[str, Any]]:
    files = sorted(GRAFANA_DASHBOARDS.glob("*.json"))
    assert files, f"no dashboard in {GRAFANA_DASHBOARDS}"
    return {file.name: json.loads(file.read_text()) for file in files}


def dashboard_panels(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel of a dashboard, those inside (collapsed) rows included."""
    for panel in node.get("panels") or []:
        yield panel
        yield from dashboard_panels(panel)


def dashboard_queries() -> list[tuple[str, str]]:
    """(where, PromQL expression) of every query of every dashboard."""
    found = []
    for file, dashboard in dashboards().items():
        for panel in dashboard_panels(dashboard):
            for target in panel.get("targets") or []:
                if target.get("expr"):
                    found.append((f"{file}: {panel.get('title')!r}", str(target["expr"])))
    return found


def datasource_uids(node: Any) -> Iterator[str]:
    """The uid of every `datasource` reference in a dashboard (panels and queries)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "datasource" and isinstance(value, dict) and "uid" in value:
                yield str(value["uid"])
            else:
                yield from datasource_uids(value)
    elif isinstance(node, list):
        for item in node:
            yield from datasource_uids(item)


# Series Prometheus writes itself for every target: not exported by any service.
PROMETHEUS_SERIES = {"up": set[str]()}
# Labels Prometheus attaches to every series it scrapes.
TARGET_LABELS = {"job", "instance"}

# The sample names a metric family of each type exposes (prometheus_client's exposition).
_SAMPLE_SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "summary": ("", "_count", "_sum", "_created"),
    "info": ("_info",),
    "gaugehistogram": ("_bucket", "_gcount", "_gsum"),
}


@cache
def exported_series() -> dict[str, frozenset[str]]:
    """Every series name the services expose on /metrics -> its label names.

    Names come from prometheus_client's default registry, which holds every metric the shared
    plumbing and the three services (imported above, apps created) define. Label names come
    from the metric objects of those modules; a series of another collector (process_*,
    python_*) has none besides Prometheus' own."""
    for name in APP_NAMES:
        app_instance(name)  # whatever an app registers when it is created
    labels: dict[str, tuple[str, ...]] = {}
    packages = ("mentorship_shared", *(app.module for app in APPS.values()))
    for module_name, module in list(sys.modules.items()):
        if module is None or module_name.split(".")[0] not in packages:
            continue
        for value in vars(module).values():
            if isinstance(value, MetricWrapperBase):
                for family in value.describe():
                    labels[family.name] = tuple(value._labelnames)
    series: dict[str, frozenset[str]] = {}
    for family in REGISTRY.collect():
        extra = {"le"} if family.type in {"histogram", "gaugehistogram"} else set()
        for suffix in _SAMPLE_SUFFIXES.get(family.type, ("",)):
            names = set(labels.get(family.name, ()))
            if suffix == "_bucket":
                names |= extra
            series[family.name + suffix] = frozenset(names)
    return series


_AGGREGATIONS = {
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
    "bottomk", "topk", "quantile", "limitk", "limit_ratio",
}  # fmt: skip
_GROUPING = {"by", "without", "on", "ignoring", "group_left", "group_right"}
_OPERATOR_WORDS = {"and", "or", "unless", "bool", "offset", "atan2", "inf", "nan"}
_PROMQL_TOKEN = re.compile(
    r"""(?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
      | (?P<range>\[[^\]]*\])
      | (?P<matchers>\{(?:"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|[^}"'])*\})
      | (?P<number>\d[\w.]*)
      | (?P<variable>\$\w+)
      | (?P<name>[A-Za-z_:][\w:]*)
      | (?P<space>\s+)
      | (?P<other>.)""",
    re.VERBOSE | re.DOTALL,
)
_MATCHER = re.compile(r"""([A-Za-z_]\w*)\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')""")


@dataclass(frozen=True)
class Selector:
    metric: str
    matchers: tuple[tuple[str, str, str], ...]  # (label, operator, value)


@dataclass(frozen=True)
class PromQL:
    selectors: tuple[Selector, ...]
    grouping_labels: frozenset[str]  # named in by / without / on / ignoring / group_*


def parse_promql(expr: str) -> PromQL:
    """The series selectors and grouping labels of a PromQL expression: enough of PromQL for
    the queries of a dashboard (Grafana's $__variables only appear inside range brackets)."""
    tokens = [
        (match.lastgroup or "", match.group())
        for match in _PROMQL_TOKEN.finditer(expr)
        if match.lastgroup != "space"
    ]
    selectors: list[Selector] = []
    grouping: set[str] = set()
    i = 0
    while i < len(tokens):
        kind, text = tokens[i]
        following = tokens[i + 1] if i + 1 < len(tokens) else ("", "")
        if kind == "matchers":
            raise AssertionError(f"a selector without a metric name in {expr!r}")
        if kind != "name":
            i += 1
            continue
        if text in _GROUPING and following == ("other", "("):
            i += 2
            while i < len(tokens) and tokens[i] != ("other", ")"):
                if tokens[i][0] == "name":
                    grouping.add(tokens[i][1])
                i += 1
        elif following == ("other", "(") or text in _AGGREGATIONS | _GROUPING | _OPERATOR_WORDS:
            i += 1
        else:
            matchers: tuple[tuple[str, str, str], ...] = ()
            if following[0] == "matchers":
                matchers = tuple(
                    (label, operator, value[1:-1])
                    for label, operator, value in _MATCHER.findall(following[1])
                )
                i += 1
            selectors.append(Selector(text, matchers))
            i += 1
    return PromQL(tuple(selectors), frozenset(grouping))


# =============================================================================================
# The tests
# =============================================================================================


@pytest.mark.parametrize("name", APP_NAMES)
def test_each_service_is_built_from_its_own_dockerfile(name: str) -> None:
    spec = service(name)
    assert "build" in spec, f"{name} is not built from source"
    context, dockerfile = build_of(name)
    assert context.resolve() == ROOT, f"{name}: the build context must be the repository root"
    assert dockerfile.resolve() == APPS[name].dockerfile
    assert spec.get("restart") == "unless-stopped"


@pytest.mark.parametrize("name", built_services())
def test_every_build_context_and_dockerfile_exists(name: str) -> None:
    context, dockerfile = build_of(name)
    assert context.is_dir(), f"{name}: build context {context} does not exist"
    assert dockerfile.is_file(), f"{name}: {dockerfile} does not exist"


@pytest.mark.parametrize("name", APP_NAMES)
def test_dockerfile_runs_its_service_module(name: str) -> None:
    app = APPS[name]
    commands = instructions(app, "CMD", final_stage=True)
    assert len(commands) == 1, f"{app.dockerfile}: one CMD expected in the final stage"
    assert exec_form(commands[0].arguments) == ["python", "-m", app.module]
    assert importlib.util.find_spec(f"{app.module}.__main__") is not None


@pytest.mark.parametrize("name", APP_NAMES)
def test_dockerfile_installs_only_its_package_from_the_lock_file(name: str) -> None:
    app = APPS[name]
    syncs = [i for i in instructions(app, "RUN") if "uv sync" in i.arguments]
    assert syncs, f"{app.dockerfile} never runs uv sync"
    for sync in syncs:
        words = shlex.split(sync.arguments)
        assert "--frozen" in words or "--locked" in words, sync.arguments
        assert "--no-dev" in words or "--no-default-groups" in words, sync.arguments
        assert words[words.index("--package") + 1] == app.package, sync.arguments
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    sources = {p["name"]: p.get("source", {}) for p in lock["package"]}
    assert sources.get(app.package) == {"editable": f"services/{name}"}


@pytest.mark.parametrize("name", APP_NAMES)
def test_dockerfile_stages_use_one_slim_python_base(name: str) -> None:
    app = APPS[name]
    bases = {shlex.split(i.arguments)[0] for i in instructions(app, "FROM")}
    assert len(bases) == 1, f"builder and runtime differ ({bases}): the venv links to Python"
    (base,) = bases
    assert re.fullmatch(r"python:3\.1[1-9]-slim(-\w+)?", base), base
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    minimum = re.search(r">=\s*3\.(\d+)", requires)
    assert minimum
    assert int(base.split(":")[1].split("-")[0].split(".")[1]) >= int(minimum.group(1))


@pytest.mark.parametrize("name", APP_NAMES)
def test_dockerfile_copies_exist_in_the_build_context(name: str) -> None:
    app = APPS[name]
    for copy in instructions(app, "COPY"):
        options, operands = options_and_operands(copy.arguments)
        if "from" in options:
            continue
        for source in operands[:-1]:
            path = ROOT / source
            assert path.exists(), f"{app.dockerfile}: COPY {source}: no such path"
            assert not dockerignored(source), f".dockerignore excludes {source}"
            files = [path] if path.is_file() else path.rglob("*")
            for file in files:
                relative = file.relative_to(ROOT).as_posix()
                if file.suffix in {".py", ".sql", ".json", ".toml", ".lock"}:
                    assert not dockerignored(relative), f".dockerignore excludes {relative}"


@pytest.mark.parametrize("name", APP_NAMES)
def test_dockerfile_runtime_stage(name: str) -> None:
    app = APPS[name]
    users = instructions(app, "USER", final_stage=True)
    assert users, f"{app.dockerfile}: the final stage runs as root"
    assert users[-1].arguments.split(":")[0] not in {"root", "0"}

    env = dockerfile_env(app)
    assert env.get("HTTP_HOST") == "0.0.0.0", "the service must listen on the container's address"
    assert env.get("HTTP_PORT", str(app.default_port)) == str(app.default_port)
    settings_names = env_names(app.settings_class)
    for key in env:
        if key in {"PATH", "VIRTUAL_ENV"} or key.startswith(("PYTHON", "UV_")):
            continue
        assert key.lower() in settings_names, f"{app.dockerfile}: ENV {key} is no setting"

    exposed = [
        int(word.split("/")[0]) for i in instructions(app, "EXPOSE") for word in i.arguments.split()
    ]
    assert exposed == [app.default_port]


@pytest.mark.parametrize("name", APP_NAMES)
def test_dockerfile_healthcheck_calls_a_route_of_the_app(name: str) -> None:
    app = APPS[name]
    checks = instructions(app, "HEALTHCHECK", final_stage=True)
    assert len(checks) == 1, f"{app.dockerfile}: one HEALTHCHECK expected"
    _, operands = options_and_operands(checks[0].arguments)
    assert operands[0] == "CMD"
    command = " ".join(exec_form(checks[0].arguments.split("CMD", 1)[1].strip()))
    assert "urllib.request" in command, "slim images have no curl"
    path = re.search(r"'(/[\w/-]*)'", command)
    assert path, f"no path in the healthcheck: {command}"
    assert serves(name, path.group(1)), f"{name} has no route {path.group(1)}"
    port = re.search(r"HTTP_PORT', '(\d+)'", command) or re.search(r":(\d+)/", command)
    assert port, f"no port in the healthcheck: {command}"
    assert int(port.group(1)) == app.default_port


@pytest.mark.parametrize("name", APP_NAMES)
def test_compose_environment_is_made_of_settings(name: str) -> None:
    known = env_names(APPS[name].settings_class)
    unknown = sorted(key for key in environment(name) if key.lower() not in known)
    assert not unknown, f"{name} ignores {unknown}: not fields of its settings class"


@pytest.mark.parametrize("name", APP_NAMES)
def test_compose_sets_every_setting_without_a_default(name: str) -> None:
    settings_class = APPS[name].settings_class
    set_names = {key.lower() for key in environment(name)}
    required = {
        field_name
        for field_name, field in settings_class.model_fields.items()
        if field.is_required()
    }
    # The defaults of these point at the dev stack on the loopback address: wrong in a container.
    required |= {"database_url", "kafka_bootstrap_servers"}
    missing = sorted(required - set_names)
    assert not missing, f"{name} does not set {missing}"


@pytest.mark.parametrize("name", APP_NAMES)
def test_published_port_is_the_service_port(name: str) -> None:
    app = APPS[name]
    mappings = published_ports(name)
    assert mappings, f"{name} publishes no port"
    assert {m.container for m in mappings} == {app.default_port}
    assert environment(name).get("HTTP_PORT", str(app.default_port)) == str(app.default_port)


@pytest.mark.parametrize("name", APP_NAMES)
def test_compose_healthcheck_calls_a_route_of_the_app(name: str) -> None:
    url = urlsplit(healthcheck_url(service(name)))
    assert url.port == APPS[name].default_port
    assert serves(name, url.path), f"{name} has no route {url.path}"


def test_host_ports_do_not_overlap() -> None:
    taken: list[tuple[str, str, int, int]] = []
    for name in services():
        for mapping in published_ports(name):
            if mapping.host_first is None or mapping.host_last is None:
                continue
            for other, ip, first, last in taken:
                same_address = ip == mapping.host_ip or "" in {ip, mapping.host_ip}
                overlap = first <= mapping.host_last and mapping.host_first <= last
                assert not (same_address and overlap), (
                    f"{name} and {other} both publish host ports {first}-{last}"
                )
            taken.append((name, mapping.host_ip, mapping.host_first, mapping.host_last))


def test_matching_scales_to_three_replicas() -> None:
    spec = service("matching")
    assert "container_name" not in spec, "a fixed container name cannot be scaled"
    for mapping in published_ports("matching"):
        if mapping.host_first is None or mapping.host_last is None:
            continue  # an ephemeral host port per replica
        width = mapping.host_last - mapping.host_first + 1
        assert width >= 3, f"matching publishes {width} host port(s): --scale matching=3 clashes"
    # Compose waits for each replica's readiness, and Prometheus finds each one (below).
    assert healthcheck_url(spec)
    assert "matching" in dns_discovered_services(), "Prometheus would scrape one replica only"


def test_kafka_init_creates_every_topic_with_its_partition_count() -> None:
    assert kafka_topic_table() == TOPIC_PARTITIONS


def test_kafka_init_runs_the_topic_script() -> None:
    spec = service("kafka-init")
    mounted = {}
    for volume in spec.get("volumes", []):
        source, target = str(volume).split(":")[:2]
        mounted[target] = (ROOT / source).resolve()
    command = [*(spec.get("entrypoint") or []), *(spec.get("command") or [])]
    scripts = [word for word in command if word in mounted]
    assert scripts, f"kafka-init runs none of the scripts it mounts: {command}"
    assert mounted[scripts[0]] == KAFKA_TOPICS_SCRIPT
    assert spec.get("restart") in {None, "no"}, "a one-shot job must not be restarted"


@pytest.mark.parametrize("name", APP_NAMES)
def test_services_that_do_not_create_topics_wait_for_kafka_init(name: str) -> None:
    creates = environment(name).get("KAFKA_CREATE_TOPICS", "true").lower() in {"true", "1", "yes"}
    if not creates:
        assert depends_on(name).get("kafka-init") == "service_completed_successfully"


@pytest.mark.parametrize("name", APP_NAMES)
def test_kafka_bootstrap_servers_are_advertised_by_the_broker(name: str) -> None:
    advertised = {
        urlsplit(listener).netloc
        for listener in environment("kafka")["KAFKA_ADVERTISED_LISTENERS"].split(",")
    }
    for server in environment(name)["KAFKA_BOOTSTRAP_SERVERS"].split(","):
        assert server.strip() in advertised, f"{name}: {server} is not a listener of kafka"


@pytest.mark.parametrize("name", sorted(services()))
def test_dependencies_exist_and_wait_for_health(name: str) -> None:
    for dependency, condition in depends_on(name).items():
        assert dependency in services(), f"{name} depends on unknown {dependency}"
        if "healthcheck" in service(dependency):
            assert condition == "service_healthy", f"{name} starts before {dependency} is healthy"
        elif service(dependency).get("restart") in {None, "no"}:
            assert condition == "service_completed_successfully", f"{name} -> {dependency}"


def test_interpolated_variables_are_documented_in_env_example() -> None:
    listed: dict[str, bool] = {}  # name -> commented out
    for line in ENV_EXAMPLE.read_text().splitlines():
        entry = re.match(r"^\s*(#\s*)?([A-Za-z_]\w*)=", line)
        if entry:
            listed[entry.group(2)] = entry.group(1) is not None
    used = interpolated_variables()
    assert used, "docker-compose.yml interpolates nothing: where do the secrets come from?"
    missing = sorted(set(used) - set(listed))
    assert not missing, f".env.example does not list {missing}"
    commented_required = sorted(v for v, required in used.items() if required and listed[v])
    assert not commented_required, (
        f"required but commented out in .env.example: {commented_required}"
    )
    unused = sorted(set(listed) - set(used))
    assert not unused, f".env.example lists variables docker-compose.yml never reads: {unused}"


def test_postgres_passwords_come_from_the_environment() -> None:
    literal = {
        key: value
        for key, value in environment("postgres").items()
        if "PASSWORD" in key and placeholder_name(with_placeholders(value)) is None
    }
    assert not literal, f"passwords written into docker-compose.yml: {sorted(literal)}"


def test_postgres_init_creates_the_database_and_role_of_every_service() -> None:
    provisioned = provisioned_databases()
    assert provisioned, f"{POSTGRES_INIT_SCRIPT} provisions nothing"
    seen: dict[str, str] = {}
    for name in APP_NAMES:
        url = urlsplit(with_placeholders(environment(name)["DATABASE_URL"]))
        assert url.scheme in {"postgresql", "postgres"}
        assert url.hostname in services(), f"{name}: {url.hostname} is no Compose service"
        assert depends_on(name).get(url.hostname) == "service_healthy"
        database, user = url.path.lstrip("/"), unquote(url.username or "")
        assert database in provisioned, f"{name}: database {database} is not created"
        role, password_variable = provisioned[database]
        assert user == role, f"{name} connects as {user}, the database belongs to {role}"
        # The same variable gives the role its password (postgres) and the service its URL.
        assert placeholder_name(unquote(url.password or "")) == password_variable, (
            f"{name}: the password in DATABASE_URL must be ${{{password_variable}}}"
        )
        postgres_value = environment(url.hostname).get(password_variable, "")
        assert placeholder_name(with_placeholders(postgres_value)) == password_variable, (
            f"the postgres service does not get {password_variable} from the environment"
        )
        assert seen.setdefault(database, name) == name, f"{name} shares {database}"
        assert seen.setdefault(f"role:{role}", name) == name, f"{name} shares role {role}"
    unused = sorted(set(provisioned) - {seen_key for seen_key in seen if ":" not in seen_key})
    assert not unused, f"databases no service uses: {unused}"


def test_postgres_runs_the_init_scripts_and_keeps_its_data() -> None:
    spec = service("postgres")
    volumes = [str(volume).split(":") for volume in spec.get("volumes", [])]
    targets = {target: source for source, target, *_ in volumes}
    init_source = targets.get("/docker-entrypoint-initdb.d")
    assert init_source, "the init scripts are not mounted"
    assert (ROOT / init_source).resolve() == POSTGRES_INIT_DIR
    version = re.search(r"postgres:(\d+)", spec["image"])
    assert version, f"pin the PostgreSQL major version: {spec['image']}"
    major = int(version.group(1))
    data_dir = "/var/lib/postgresql" if major >= 18 else "/var/lib/postgresql/data"
    assert data_dir in targets, f"PostgreSQL {major} keeps its data in {data_dir}"


def test_named_volumes_are_declared_and_bind_mounts_exist() -> None:
    declared = set(compose().get("volumes") or {})
    for name, spec in services().items():
        for volume in spec.get("volumes", []):
            source = str(volume).split(":")[0]
            if source.startswith((".", "/")):
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"
            else:
                assert source in declared, f"{name} uses undeclared volume {source}"


# --- the monitoring profile ----------------------------------------------------------------


@pytest.mark.parametrize("name", APP_NAMES)
def test_prometheus_scrapes_every_replica_of_each_service_at_its_metrics_route(name: str) -> None:
    app = APPS[name]
    discovered = dns_discovered_services().get(name)
    assert discovered, f"Prometheus does not discover the containers of {name}"
    for job_name, port in discovered:
        assert port == app.default_port, (
            f"{job_name} scrapes port {port}, {name} serves {app.default_port}"
        )
        job = scrape_jobs()[job_name]
        path = job.get("metrics_path", "/metrics")
        assert serves(name, path), f"{job_name}: {name} has no route {path}"
        assert job.get("scheme", "http") == "http", "the services serve plain HTTP"
        statics = [
            target
            for config in job.get("static_configs") or []
            for target in config.get("targets") or []
        ]
        assert not statics, f"{job_name}: a static target reaches one replica per scrape"
    assert environment(name).get("HTTP_PORT", str(app.default_port)) == str(app.default_port)


def test_prometheus_scrapes_only_services_of_the_stack() -> None:
    assert scrape_jobs(), f"{PROMETHEUS_CONFIG} scrapes nothing"
    for name, discovered in dns_discovered_services().items():
        assert name in services(), f"{[job for job, _ in discovered]} look up unknown {name}"
    for job_name, job in scrape_jobs().items():
        for config in job.get("static_configs") or []:
            for target in config.get("targets") or []:
                host = str(target).rsplit(":", 1)[0]
                assert host in services() or host in {"localhost", "127.0.0.1"}, (
                    f"{job_name} scrapes {target}, not a Compose service"
                )


@pytest.mark.parametrize("name", MONITORING_SERVICES)
def test_monitoring_runs_only_with_its_profile_on_pinned_images(name: str) -> None:
    spec = service(name)
    assert spec.get("profiles") == [MONITORING_PROFILE], f"{name} must be opt-in"
    image = str(spec.get("image", ""))
    repository, _, tag = image.rpartition(":")
    assert repository, f"{name}: pin the image version ({image})"
    assert "/" not in tag, f"{name}: pin the image version ({image})"
    assert tag != "latest", f"{name}: pin the image version ({image})"
    assert re.search(r"\d+\.\d+", tag), f"{name}: pin the image version ({image})"
    assert spec.get("restart") == "unless-stopped"
    assert spec.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
    for mapping in published_ports(name):
        assert mapping.host_ip == "127.0.0.1", f"{name} has no login for writes: loopback only"


def test_the_default_stack_does_not_need_the_monitoring_profile() -> None:
    for name, spec in services().items():
        if name in MONITORING_SERVICES:
            continue
        assert not spec.get("profiles"), f"`make up` would not start {name}"
        missing = set(depends_on(name)) & set(MONITORING_SERVICES)
        assert not missing, f"{name} depends on {missing}, which only run with the profile"


def test_prometheus_reads_the_scrape_configuration_of_the_repository() -> None:
    config_file = command_options("prometheus").get("config.file")
    assert config_file, "start Prometheus with --config.file"
    assert mounted_at("prometheus", config_file) == PROMETHEUS_CONFIG.resolve()
    assert prometheus_config()["global"]["scrape_interval"]


def test_grafana_is_provisioned_from_the_repository() -> None:
    for kind in ("datasources", "dashboards"):
        mounted = mounted_at("grafana", f"/etc/grafana/provisioning/{kind}")
        assert mounted == (GRAFANA_PROVISIONING / kind).resolve(), f"{kind}: not provisioned"

    # The data source is the Prometheus of the stack, at the address it listens on.
    datasources = [
        source
        for document in grafana_provisioning("datasources")
        for source in document.get("datasources") or []
    ]
    assert datasources, "no data source is provisioned"
    listen = command_options("prometheus").get("web.listen-address", ":9090")
    for source in datasources:
        assert source["type"] == "prometheus"
        url = urlsplit(source["url"])
        assert url.hostname == "prometheus", f"{source['name']} is not the stack's Prometheus"
        assert url.port == int(listen.rsplit(":", 1)[1]), f"Prometheus listens on {listen}"
    assert depends_on("grafana").get("prometheus") == "service_healthy"

    # Each dashboard provider reads a folder that holds the dashboards of the repository.
    providers = [
        provider
        for document in grafana_provisioning("dashboards")
        for provider in document.get("providers") or []
    ]
    assert providers, "no dashboard provider"
    for provider in providers:
        assert mounted_at("grafana", provider["options"]["path"]) == GRAFANA_DASHBOARDS.resolve()

    # Every dashboard uses a provisioned data source, so no panel says "data source not found".
    uids = {str(source.get("uid")) for source in datasources}
    for file, dashboard in dashboards().items():
        used = set(datasource_uids(dashboard))
        assert used, f"{file} names no data source"
        assert used <= uids, f"{file} uses data sources {sorted(used - uids)} nobody provisions"
        assert dashboard.get("uid"), f"{file} needs a fixed uid (links to it must not break)"

    home = environment("grafana").get("GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH")
    if home:
        found = mounted_at("grafana", home)
        assert found is not None, f"home dashboard {home} is not mounted"
        assert found.is_file(), f"home dashboard {home}: no such file in the repository"


def test_grafana_admin_password_comes_from_the_env_file_and_anonymous_users_only_read() -> None:
    env = environment("grafana")
    password = with_placeholders(env.get("GF_SECURITY_ADMIN_PASSWORD", ""))
    assert placeholder_name(password) == "GRAFANA_ADMIN_PASSWORD"
    if env.get("GF_AUTH_ANONYMOUS_ENABLED", "false").lower() == "true":
        assert env.get("GF_AUTH_ANONYMOUS_ORG_ROLE") == "Viewer", "anonymous users may only read"
    assert env.get("GF_USERS_ALLOW_SIGN_UP", "false").lower() == "false"


def test_every_dashboard_query_names_metrics_and_labels_the_services_export() -> None:
    series = {**exported_series(), **PROMETHEUS_SERIES}
    queries = dashboard_queries()
    assert queries, "the dashboards have no queries"
    for where, expr in queries:
        parsed = parse_promql(expr)
        assert parsed.selectors, f"{where}: no metric in {expr!r}"
        known_labels = set(TARGET_LABELS)
        for selector in parsed.selectors:
            assert selector.metric in series, (
                f"{where}: {selector.metric} is exported by no service (in {expr!r})"
            )
            labels = series[selector.metric] | TARGET_LABELS
            known_labels |= labels
            for label, operator, value in selector.matchers:
                assert label in labels | {"__name__"}, (
                    f"{where}: {selector.metric} has no label {label!r}"
                )
                if label == "job" and operator in {"=", "=~"}:
                    values = value.split("|") if operator == "=~" else [value]
                    unknown = sorted(set(values) - set(scrape_jobs()))
                    assert not unknown, f"{where}: no scrape job is named {unknown}"
        unknown_grouping = sorted(parsed.grouping_labels - known_labels)
        assert not unknown_grouping, f"{where}: {expr!r} groups by unknown {unknown_grouping}"


def test_the_dashboard_shows_every_metric_family_operators_rely_on() -> None:
    used = {
        selector.metric
        for _, expr in dashboard_queries()
        for selector in parse_promql(expr).selectors
    }
    families = {re.sub(r"_(total|bucket|count|sum|created)$", "", name) for name in used}
    expected = {
        name.removesuffix("_total")
        for name in exported_series()
        if name.startswith("mentorship_") and not name.endswith(("_created", "_count", "_sum"))
    }
    expected = {re.sub(r"_bucket$", "", name) for name in expected}
    missing = sorted(expected - families)
    assert not missing, f"no panel shows {missing}"


def test_promql_parser_finds_metrics_labels_and_grouping() -> None:
    # The parser the two tests above rely on; a query it misreads would pass them unchecked.
    parsed = parse_promql(
        'histogram_quantile(0.99, sum by (job, le) (rate(a_bucket{job=~"x|y", k!="}"}'
        "[$__rate_interval]))) / on (job) group_left max without (z) (b) * 60 > bool 1e3"
    )
    assert [s.metric for s in parsed.selectors] == ["a_bucket", "b"]
    assert parsed.selectors[0].matchers == (("job", "=~", "x|y"), ("k", "!=", "}"))
    assert parsed.grouping_labels == {"job", "le", "z"}
    assert [s.metric for s in parse_promql("sum(up) by (job)").selectors] == ["up"]
    with pytest.raises(AssertionError):
        parse_promql('{__name__="up"}')


# --- the operator dashboard ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "peer"),
    [("DASHBOARD_PROFILE_URL", "profile"), ("DASHBOARD_NOTIFICATION_URL", "notification")],
)
def test_the_dashboard_reads_the_metrics_of_the_peers_of_the_stack(setting: str, peer: str) -> None:
    value = environment("matching").get(setting)
    assert value, f"matching does not set {setting}: the dashboard would look on 127.0.0.1"
    default = re.fullmatch(r"\$\{\w+:-([^}]*)\}", value)
    url = urlsplit(default.group(1) if default else value)
    assert url.hostname == peer, f"{setting} names {url.hostname}, not the {peer} service"
    assert url.port == APPS[peer].default_port
    assert serves(peer, "/metrics")

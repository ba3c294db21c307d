"""The deployment files agree with the code.

The one Dockerfile, docker-compose.yml, the Kafka topic script, the PostgreSQL init script and
.env.example are checked against what the services actually read and serve: their settings
classes, default ports, HTTP routes, console scripts, topic partition counts and database URLs.
The services are the folders of services/ (tools.services), so a new one is checked as soon as
it exists. No Docker engine is needed: the files are parsed, the apps are created but never
started. The monitoring profile has its own test, test_monitoring_files.py.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shlex
import tomllib
from dataclasses import dataclass
from functools import cache
from urllib.parse import unquote, urlsplit

import pytest
from mentorship_shared.contracts.topics import TOPIC_PARTITIONS
from mentorship_shared.plumbing.settings import ServiceSettings

from tests.support.deployment import (
    DATA_NAMES,
    NAMES,
    ROOT,
    SERVICES,
    PortMapping,
    bind_mounts,
    build_args,
    compose,
    depends_on,
    environment,
    http_port,
    interpolated_variables,
    placeholder_name,
    probe,
    probe_of,
    published_ports,
    serves,
    service,
    services,
    with_placeholders,
)
from tools.services import Service, discover

DOCKERFILE = ROOT / "Dockerfile"
ENV_EXAMPLE = ROOT / ".env.example"
DOCKERIGNORE = ROOT / ".dockerignore"
KAFKA_TOPICS_SCRIPT = ROOT / "infra" / "kafka" / "create-topics.sh"
POSTGRES_INIT_DIR = ROOT / "infra" / "postgres" / "init"
POSTGRES_INIT_SCRIPT = POSTGRES_INIT_DIR / "10-service-databases.sh"

#: The link the image starts (CMD) to the console script of the service it was built for; not
#: of the form `<name>-service`, so that it never collides with a service's own script.
LAUNCHER = "serve"


# --- the Dockerfile ------------------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str
    stage: int  # index of the FROM this instruction belongs to (-1: before the first)


@cache
def dockerfile() -> tuple[Instruction, ...]:
    instructions: list[Instruction] = []
    stage, pending = -1, ""
    for raw_line in DOCKERFILE.read_text().splitlines():
        line = raw_line.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        keyword, _, arguments = line.partition(" ")
        if keyword.upper() == "FROM":
            stage += 1
        instructions.append(Instruction(keyword.upper(), arguments.strip(), stage))
    assert not pending, "the Dockerfile's last instruction ends with a line continuation"
    return tuple(instructions)


def instructions(keyword: str, *, final_stage: bool = False) -> list[Instruction]:
    last = max(i.stage for i in dockerfile())
    return [
        i for i in dockerfile() if i.keyword == keyword and (not final_stage or i.stage == last)
    ]


def build_arg_names() -> set[str]:
    """The ARGs declared before the first FROM: what `docker build --build-arg` sets."""
    return {i.arguments.split("=")[0] for i in instructions("ARG") if i.stage == -1}


def substituted(text: str, args: dict[str, str]) -> str:
    """`text` with ${NAME} and $NAME of the build arguments filled in."""
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: args.get(m[1] or m[2], m[0]), text)


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


def runtime_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for instruction in instructions("ENV", final_stage=True):
        for word in shlex.split(instruction.arguments):
            key, _, value = word.partition("=")
            env[key] = value
    return env


@cache
def dockerignore_patterns() -> tuple[tuple[bool, re.Pattern[str]], ...]:
    """(is an exception '!', pattern) per line of .dockerignore, in order."""
    patterns = []
    for raw_line in DOCKERIGNORE.read_text().splitlines():
        line = raw_line.strip()
        if line and not line.startswith("#"):
            pattern = line.removeprefix("!").strip().strip("/")
            patterns.append((line.startswith("!"), re.compile(_glob_to_regex(pattern))))
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


def copied_sources(args: dict[str, str]) -> list[str]:
    """The build-context paths (globs expanded) the Dockerfile copies for these arguments."""
    found = []
    for copy in instructions("COPY"):
        options, operands = options_and_operands(substituted(copy.arguments, args))
        if "from" in options:
            continue
        for source in operands[:-1]:
            matches = sorted(p.relative_to(ROOT).as_posix() for p in ROOT.glob(source))
            assert matches, f"Dockerfile: COPY {source}: no such path (arguments {args})"
            found.extend(matches)
    return found


# --- the settings ----------------------------------------------------------------------------


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
    for line in filter(str.strip, block.group(1).splitlines()):
        row = re.fullmatch(r"\s*(\S+)\s+(\d+)\s+(\S+)\s*", line)
        assert row, f"unreadable row in the topic table: {line!r}"
        assert row.group(1) not in table, f"{row.group(1)} appears twice"
        table[row.group(1)] = int(row.group(2))
    return table


def provisioned_databases() -> dict[str, tuple[str, str]]:
    """database -> (role, password variable), from the `provision` lines of the init script."""
    rows = re.findall(
        r"^\s*provision\s+(\S+)\s+(\S+)\s+(\S+)\s*$", POSTGRES_INIT_SCRIPT.read_text(), re.M
    )
    return {database: (role, variable) for database, role, variable in rows}


# =============================================================================================
# The image: one Dockerfile, built once per service
# =============================================================================================


def test_every_service_of_the_tree_is_built_from_the_one_dockerfile() -> None:
    built = {name: spec for name, spec in services().items() if "build" in spec}
    assert sorted(built) == NAMES, "each folder of services/ is one Compose service, no other"
    for name in NAMES:
        build = service(name)["build"]
        assert (ROOT / build.get("context", ".")).resolve() == ROOT, f"{name}: context is the root"
        assert (ROOT / build.get("dockerfile", "Dockerfile")).resolve() == DOCKERFILE
        assert DOCKERFILE.is_file()
        assert build_args(name).keys() == build_arg_names(), f"{name}: pass every build argument"
        assert build_args(name)["SERVICE"] == name
        assert service(name).get("restart") == "unless-stopped"
    assert not list(ROOT.glob("services/*/Dockerfile")), "one Dockerfile, not one per service"


def test_every_variable_the_dockerfile_uses_is_declared_in_its_stage() -> None:
    # A build argument not declared again after FROM is empty in that stage.
    assert build_arg_names() == {"SERVICE", "HTTP_PORT"}
    for stage in range(max(i.stage for i in dockerfile()) + 1):
        known = {"PATH"}
        for instruction in (i for i in dockerfile() if i.stage == stage):
            used = set(re.findall(r"\$\{?([A-Z_][A-Z0-9_]*)", instruction.arguments))
            if instruction.keyword == "ENV":
                used -= {word.split("=")[0] for word in shlex.split(instruction.arguments)}
            assert used <= known, f"stage {stage}: {instruction.keyword} uses {used - known}"
            if instruction.keyword in {"ARG", "ENV"}:
                known |= {w.split("=")[0] for w in shlex.split(instruction.arguments)}


def test_the_image_starts_the_console_script_of_its_service() -> None:
    commands = instructions("CMD", final_stage=True)
    assert len(commands) == 1, "one CMD expected in the final stage"
    assert exec_form(commands[0].arguments) == [LAUNCHER]
    links = [i.arguments for i in instructions("RUN") if f"/bin/{LAUNCHER}" in i.arguments]
    assert len(links) == 1, f"the builder must link {LAUNCHER} once"
    assert f'ln -s "${{SERVICE}}-service" /app/.venv/bin/{LAUNCHER}' in links[0]
    for app in SERVICES.values():
        # The link's target is the console script of the distribution `<SERVICE>-service`.
        assert app.distribution == f"{app.name}-service"
        assert app.distribution != LAUNCHER, "the link would overwrite the service's script"
        scripts = app.pyproject["project"]["scripts"]  # type: ignore[index]
        assert scripts[app.distribution] == f"{app.package}.__main__:main"
        assert importlib.util.find_spec(f"{app.package}.__main__") is not None


def test_the_image_installs_only_its_service_from_the_lock_file() -> None:
    syncs = [i for i in instructions("RUN") if "uv sync" in i.arguments]
    assert syncs, "the Dockerfile never runs uv sync"
    for sync in syncs:
        words = shlex.split(sync.arguments)
        assert "--frozen" in words or "--locked" in words, sync.arguments
        assert "--no-dev" in words or "--no-default-groups" in words, sync.arguments
        assert words[words.index("--package") + 1] == "${SERVICE}-service", sync.arguments
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    sources = {p["name"]: p.get("source", {}) for p in lock["package"]}
    for app in SERVICES.values():
        assert sources.get(app.distribution) == {"editable": f"services/{app.name}"}


def test_the_image_sees_every_workspace_member_as_locked() -> None:
    # uv resolves the workspace from every member's pyproject.toml; a member the dependency
    # layer does not copy fails the build of every service.
    root = tomllib.loads((ROOT / "pyproject.toml").read_text())
    members = {
        (path / "pyproject.toml").relative_to(ROOT).as_posix()
        for pattern in root["tool"]["uv"]["workspace"]["members"]
        for path in ROOT.glob(pattern)
        if (path / "pyproject.toml").is_file()
    }
    copied = set(copied_sources({"SERVICE": NAMES[0], "HTTP_PORT": "1"}))
    assert members - copied == set(), "copy these pyproject.toml files before uv sync"


def test_dockerfile_stages_use_one_slim_python_base() -> None:
    bases = {shlex.split(i.arguments)[0] for i in instructions("FROM")}
    assert len(bases) == 1, f"builder and runtime differ ({bases}): the venv links to Python"
    (base,) = bases
    assert re.fullmatch(r"python:3\.1[1-9]-slim(-\w+)?", base), base
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    minimum = re.search(r">=\s*3\.(\d+)", requires)
    assert minimum
    assert int(base.split(":")[1].split("-")[0].split(".")[1]) >= int(minimum.group(1))


@pytest.mark.parametrize("name", NAMES)
def test_dockerfile_copies_exist_in_the_build_context(name: str) -> None:
    for source in copied_sources(build_args(name)):
        assert not dockerignored(source), f".dockerignore excludes {source}"
        path = ROOT / source
        for file in [path] if path.is_file() else path.rglob("*"):
            relative = file.relative_to(ROOT).as_posix()
            if file.suffix in {".py", ".sql", ".json", ".toml", ".lock"}:
                assert not dockerignored(relative), f".dockerignore excludes {relative}"


def test_dockerfile_runtime_stage() -> None:
    users = instructions("USER", final_stage=True)
    assert users, "the final stage runs as root"
    assert users[-1].arguments.split(":")[0] not in {"root", "0"}
    env = runtime_env()
    assert env.get("HTTP_HOST") == "0.0.0.0", "the service must listen on the container's address"
    assert env.get("HTTP_PORT") == "${HTTP_PORT}", "the image listens on the port it is built for"
    for app in SERVICES.values():
        settings_names = env_names(app.settings_class)
        for key in env:
            if key in {"PATH", "VIRTUAL_ENV"} or key.startswith(("PYTHON", "UV_")):
                continue
            assert key.lower() in settings_names, f"ENV {key} is no setting of {app.name}"
    exposed = [word for i in instructions("EXPOSE") for word in i.arguments.split()]
    assert exposed == ["${HTTP_PORT}"]


@pytest.mark.parametrize("name", NAMES)
def test_the_port_the_image_is_built_for_is_the_service_port(name: str) -> None:
    assert int(build_args(name)["HTTP_PORT"]) == SERVICES[name].default_port
    assert http_port(name) == SERVICES[name].default_port


@pytest.mark.parametrize("name", NAMES)
def test_dockerfile_healthcheck_calls_a_route_of_the_app(name: str) -> None:
    checks = instructions("HEALTHCHECK", final_stage=True)
    assert len(checks) == 1, "one HEALTHCHECK expected"
    _, operands = options_and_operands(checks[0].arguments)
    assert operands[0] == "CMD"
    command = " ".join(exec_form(checks[0].arguments.split("CMD", 1)[1].strip()))
    port, path = probe_of(command, int(build_args(name)["HTTP_PORT"]))
    assert serves(name, path), f"{name} has no route {path}"
    assert port == SERVICES[name].default_port


def test_probe_reads_literal_and_environment_ports() -> None:
    # The parser the healthcheck tests rely on: a probe of another port or no URL must show.
    literal = "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9/readyz')"
    from_env = (
        "import os, urllib.request; "
        "urllib.request.urlopen('http://127.0.0.1:' + os.environ['HTTP_PORT'] + '/healthz')"
    )
    assert probe_of(literal, 8001) == (9, "/readyz")
    assert probe_of(from_env, 8001) == (8001, "/healthz")
    with pytest.raises(AssertionError):
        probe_of("import urllib.request; urllib.request.urlopen(url)", 8001)


# =============================================================================================
# The Compose services of the application
# =============================================================================================


@pytest.mark.parametrize("name", NAMES)
def test_compose_environment_is_made_of_settings(name: str) -> None:
    known = env_names(SERVICES[name].settings_class)
    unknown = sorted(key for key in environment(name) if key.lower() not in known)
    assert not unknown, f"{name} ignores {unknown}: not fields of its settings class"


@pytest.mark.parametrize("name", NAMES)
def test_compose_sets_every_setting_without_a_default(name: str) -> None:
    settings_class = SERVICES[name].settings_class
    set_names = {key.lower() for key in environment(name)}
    required = {field for field, info in settings_class.model_fields.items() if info.is_required()}
    # The defaults of these point at the dev stack on the loopback address: wrong in a container.
    required |= {"database_url", "kafka_bootstrap_servers"} & set(settings_class.model_fields)
    missing = sorted(required - set_names)
    assert not missing, f"{name} does not set {missing}"


@pytest.mark.parametrize("name", NAMES)
def test_published_port_is_the_service_port(name: str) -> None:
    mappings = published_ports(name)
    assert mappings, f"{name} publishes no port"
    assert {m.container for m in mappings} == {SERVICES[name].default_port}


@pytest.mark.parametrize("name", NAMES)
def test_compose_healthcheck_calls_a_route_of_the_app(name: str) -> None:
    port, path = probe(name)
    assert port == SERVICES[name].default_port
    assert serves(name, path), f"{name} has no route {path}"


def test_host_ports_do_not_overlap() -> None:
    taken: list[tuple[str, PortMapping]] = []
    for name in services():
        for mapping in published_ports(name):
            for other, seen in taken:
                same_address = seen.host_ip == mapping.host_ip or "" in {
                    seen.host_ip,
                    mapping.host_ip,
                }
                overlap = (
                    seen.host_first <= mapping.host_last and mapping.host_first <= seen.host_last
                )
                assert not (same_address and overlap), f"{name} and {other} publish the same port"
            taken.append((name, mapping))


def test_matching_scales_to_three_replicas() -> None:
    spec = service("matching")
    assert "container_name" not in spec, "a fixed container name cannot be scaled"
    for mapping in published_ports("matching"):
        width = mapping.host_last - mapping.host_first + 1
        assert width >= 3, f"matching publishes {width} host port(s): --scale matching=3 clashes"
    # Compose waits for each replica's readiness (test_monitoring_files: Prometheus finds each).
    assert probe("matching")


# =============================================================================================
# Kafka, PostgreSQL, secrets and volumes
# =============================================================================================


def test_kafka_init_creates_every_topic_with_its_partition_count() -> None:
    assert kafka_topic_table() == TOPIC_PARTITIONS


def test_kafka_init_runs_the_topic_script() -> None:
    spec = service("kafka-init")
    command = [*(spec.get("entrypoint") or []), *(spec.get("command") or [])]
    scripts = [word for word in command if word in bind_mounts("kafka-init")]
    assert scripts, f"kafka-init runs none of the scripts it mounts: {command}"
    assert bind_mounts("kafka-init")[scripts[0]] == KAFKA_TOPICS_SCRIPT
    assert spec.get("restart") in {None, "no"}, "a one-shot job must not be restarted"


@pytest.mark.parametrize("name", NAMES)
def test_services_that_do_not_create_topics_wait_for_kafka_init(name: str) -> None:
    creates = environment(name).get("KAFKA_CREATE_TOPICS", "true").lower() in {"true", "1", "yes"}
    if not creates:
        assert depends_on(name).get("kafka-init") == "service_completed_successfully"


@pytest.mark.parametrize("name", DATA_NAMES)
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
    owners: dict[str, str] = {}  # database or role -> the service using it
    for name in DATA_NAMES:
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
        assert owners.setdefault(database, name) == name, f"{name} shares {database}"
        assert owners.setdefault(f"role:{role}", name) == name, f"{name} shares role {role}"
    unused = sorted(set(provisioned) - set(owners))
    assert not unused, f"databases no service uses: {unused}"


def test_postgres_runs_the_init_scripts_and_keeps_its_data() -> None:
    spec = service("postgres")
    targets = {
        target: source for source, target, *_ in (str(v).split(":") for v in spec["volumes"])
    }
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


def test_the_services_of_the_tree_are_found() -> None:
    # Every check above is parametrised by discover(); an empty or partial result would pass them.
    assert {"profile", "matching", "notification"} <= set(NAMES)
    for app in discover():
        assert isinstance(app, Service)
        assert app.package == f"{app.name}_service"
        assert app.settings_class.model_fields["service_name"].default == app.name

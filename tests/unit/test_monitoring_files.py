"""The monitoring profile agrees with the stack and the code.

Prometheus' scrape configuration finds every container of every service at the port and path
it serves; Grafana is provisioned from the repository, and every query of its dashboard names
metrics and labels the services really export (prometheus_client's registry, filled by
creating the apps). The files are parsed; nothing is started.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from prometheus_client import REGISTRY
from prometheus_client.metrics import MetricWrapperBase

from tests.support.deployment import (
    NAMES,
    ROOT,
    SERVICES,
    app_instance,
    command_options,
    depends_on,
    environment,
    http_port,
    mounted_at,
    placeholder_name,
    published_ports,
    serves,
    service,
    services,
    with_placeholders,
)

PROMETHEUS_CONFIG = ROOT / "infra" / "prometheus" / "prometheus.yml"
GRAFANA_PROVISIONING = ROOT / "infra" / "grafana" / "provisioning"
GRAFANA_DASHBOARDS = ROOT / "infra" / "grafana" / "dashboards"

MONITORING_PROFILE = "monitoring"
MONITORING_SERVICES = ("grafana", "prometheus")


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
    return [
        (f"{file}: {panel.get('title')!r}", str(target["expr"]))
        for file, dashboard in dashboards().items()
        for panel in dashboard_panels(dashboard)
        for target in panel.get("targets") or []
        if target.get("expr")
    ]


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
    plumbing and the services (apps created) define. Label names come from the metric objects
    of those modules; a series of another collector (process_*, python_*) has none besides
    Prometheus' own."""
    for name in NAMES:
        app_instance(name)  # whatever an app registers when it is created
    labels: dict[str, tuple[str, ...]] = {}
    packages = ("mentorship_shared", *(app.package for app in SERVICES.values()))
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


@pytest.mark.parametrize("name", NAMES)
def test_prometheus_scrapes_every_replica_of_each_service_at_its_metrics_route(name: str) -> None:
    discovered = dns_discovered_services().get(name)
    assert discovered, f"Prometheus does not discover the containers of {name}"
    for job_name, port in discovered:
        assert port == http_port(name), f"{job_name} scrapes port {port}, {name} serves another"
        job = scrape_jobs()[job_name]
        path = job.get("metrics_path", "/metrics")
        assert serves(name, path), f"{job_name}: {name} has no route {path}"
        assert job.get("scheme", "http") == "http", "the services serve plain HTTP"
        statics = [t for c in job.get("static_configs") or [] for t in c.get("targets") or []]
        assert not statics, f"{job_name}: a static target reaches one replica per scrape"


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
    assert re.fullmatch(r"[^/]*\d+\.\d+[^/]*", tag), f"{name}: pin the image version ({image})"
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
        s for d in grafana_provisioning("datasources") for s in d.get("datasources") or []
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
    providers = [p for d in grafana_provisioning("dashboards") for p in d.get("providers") or []]
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
            assert selector.metric in series, f"{where}: no service exports {selector.metric}"
            labels = series[selector.metric] | TARGET_LABELS
            known_labels |= labels
            for label, operator, value in selector.matchers:
                assert label in labels | {"__name__"}, f"{where}: {selector.metric} has no {label}"
                if label == "job" and operator in {"=", "=~"}:
                    values = value.split("|") if operator == "=~" else [value]
                    unknown = sorted(set(values) - set(scrape_jobs()))
                    assert not unknown, f"{where}: no scrape job is named {unknown}"
        unknown_grouping = sorted(parsed.grouping_labels - known_labels)
        assert not unknown_grouping, f"{where}: {expr!r} groups by unknown {unknown_grouping}"


def test_the_dashboard_shows_every_metric_family_operators_rely_on() -> None:
    used = {s.metric for _, expr in dashboard_queries() for s in parse_promql(expr).selectors}
    families = {re.sub(r"_(total|bucket|count|sum|created)$", "", name) for name in used}
    expected = {
        re.sub(r"_bucket$", "", name.removesuffix("_total"))
        for name in exported_series()
        if name.startswith("mentorship_") and not name.endswith(("_created", "_count", "_sum"))
    }
    missing = sorted(expected - families)
    assert not missing, f"no panel shows {missing}"


def test_matching_replicas_are_each_scraped() -> None:
    # `--scale matching=3`: one A record per container, so each replica is its own target.
    assert "matching" in dns_discovered_services(), "Prometheus would scrape one replica only"


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

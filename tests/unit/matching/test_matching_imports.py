"""The matching service's modules import each other without cycles, and its pure core (the
`matcher` package, the match lifecycle and the policy) imports no database, broker or web
library, and nothing of the service outside that core."""

from __future__ import annotations

import ast
from collections.abc import Mapping, Set
from pathlib import Path

import matching_service
import pytest

PACKAGE = Path(matching_service.__file__).parent
IO_LIBRARIES = {"asyncpg", "fastapi", "faststream", "aiokafka", "starlette", "httpx", "aiosmtplib"}
PURE = ("matching_service.matcher", "matching_service.match", "matching_service.policy")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imports(module: str) -> tuple[set[str], set[str]]:
    """What `module` imports: (modules of this package, top-level names of other packages).
    Imports under `if TYPE_CHECKING:` count too: a cycle hidden there is still a cycle."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    inside: set[str] = set()
    outside: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in MODULES:
                    inside.add(alias.name)
                else:
                    outside.add(alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            else:
                base = node.module or ""
            if base.split(".")[0] != "matching_service":
                outside.add(base.split(".")[0])
                continue
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                inside.add(submodule if submodule in MODULES else base)
    return inside - {module}, outside


def cycles(graph: Mapping[str, Set[str]]) -> list[list[str]]:
    """Every cycle a depth-first walk meets, each as the modules along it."""
    found: list[list[str]] = []
    state: dict[str, str] = {}

    def visit(module: str, trail: list[str]) -> None:
        state[module] = "open"
        for target in sorted(graph.get(module, ())):
            if state.get(target) == "open":
                found.append([*trail[trail.index(target) :], target])
            elif target not in state:
                visit(target, [*trail, target])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    return found


def test_imports_are_read_as_written() -> None:
    assert {
        "matching_service.api",
        "matching_service.repository",
        "matching_service.directory",
        "matching_service.match",
        "matching_service.matcher.ranking",
        "matching_service.use_cases.answers",
    } <= set(MODULES)
    assert "matching_service.matcher.pool" in imports("matching_service.matcher.ranking")[0]
    assert "matching_service.metrics" in imports("matching_service.use_cases.common")[0]
    assert "matching_service.repository" in imports("matching_service.directory")[0]
    assert "fastapi" in imports("matching_service.api")[1]


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}

    assert cycles(graph) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": set(), "c": {"a", "b"}}) == []


def test_no_import_cycle_among_the_matching_service_modules() -> None:
    graph = {module: imports(module)[0] for module in MODULES}

    assert cycles(graph) == []


@pytest.mark.parametrize(
    "module", [m for m in MODULES if m.startswith(PURE)], ids=lambda module: module
)
def test_the_pure_core_imports_no_io_and_nothing_outside_the_core(module: str) -> None:
    inside, outside = imports(module)

    assert not outside & IO_LIBRARIES
    assert {target for target in inside if not target.startswith(PURE)} == set()

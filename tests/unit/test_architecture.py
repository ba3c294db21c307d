"""The architecture the tree promises, checked on the source: which package may import which,
and no import cycle inside a package.

- The modules of each service package, of `mentorship_shared` and of `devstack` import each
  other without a cycle, so each package reads as layers (entrypoint, handlers, use cases,
  domain) rather than a knot.
- No service imports another service's package, nor the development stack: services meet only
  through events and HTTP.
- `mentorship_shared` imports no service package and not `devstack`, and its plumbing has no
  module named after the domain: it holds contracts and plumbing, never domain logic.

The import graph is built statically with `ast`, so nothing is imported to check it. Imports
under `if TYPE_CHECKING:` are left out: they exist for the type checker only and never run.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: Words of the domain: module names of the shared plumbing must not contain them.
DOMAIN_WORDS = ("mentee", "mentor", "match", "profile", "notification", "mail", "skill", "score")


@dataclass(frozen=True)
class Package:
    name: str
    directory: Path  # the folder holding __init__.py


def service_packages() -> list[Package]:
    found = [
        Package(init.parent.name, init.parent)
        for init in sorted(ROOT.glob("services/*/src/*/__init__.py"))
    ]
    assert found, "no service package under services/*/src"
    return found


SHARED = Package("mentorship_shared", ROOT / "shared" / "src" / "mentorship_shared")
DEVSTACK = Package("devstack", ROOT / "infra" / "devstack" / "src" / "devstack")
SERVICES = service_packages()
SERVICE_NAMES = {package.name for package in SERVICES}


def module_name(package: Package, path: Path) -> str:
    parts = [package.name, *path.relative_to(package.directory).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules(package: Package) -> dict[str, Path]:
    """Module name -> source file, for every module of the package."""
    return {module_name(package, path): path for path in sorted(package.directory.rglob("*.py"))}


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node, except what sits under `if TYPE_CHECKING:`."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            yield from (n for child in node.orelse for n in [child, *_runtime_nodes(child)])
            continue
        yield node
        yield from _runtime_nodes(node)


def imported(module: str, path: Path, known: Iterable[str]) -> set[str]:
    """The modules a module imports at run time, relative imports resolved; a name taken
    from a package is the submodule of that name when there is one."""
    known = set(known)
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                source = ".".join([*base, node.module] if node.module else base)
            else:
                source = node.module or ""
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                found.add(submodule if submodule in known else source)
    return found


def import_graph(package: Package) -> dict[str, set[str]]:
    """Module -> the modules of the same package it imports."""
    files = modules(package)
    return {
        module: {
            target
            for target in imported(module, path, files)
            if target in files and target != module
        }
        for module, path in files.items()
    }


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as [a, b, ..., a], or None: a depth-first search that reports
    the first edge back to a module still on its path."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def top_level_imports(package: Package) -> dict[str, set[str]]:
    """Top-level package imported -> the modules of `package` importing it."""
    files = modules(package)
    users: dict[str, set[str]] = {}
    for module, path in files.items():
        for target in imported(module, path, files):
            users.setdefault(target.split(".")[0], set()).add(module)
    return users


@pytest.mark.parametrize("package", [*SERVICES, SHARED, DEVSTACK], ids=lambda p: p.name)
def test_no_import_cycle_among_the_modules_of_a_package(package: Package) -> None:
    graph = import_graph(package)
    assert len(graph) > 1, f"{package.name}: no modules found in {package.directory}"
    cycle = find_cycle(graph)
    assert cycle is None, f"{package.name} has an import cycle: {' -> '.join(cycle or [])}"


@pytest.mark.parametrize("package", SERVICES, ids=lambda p: p.name)
def test_a_service_imports_no_other_service_nor_the_development_stack(package: Package) -> None:
    users = top_level_imports(package)
    assert "mentorship_shared" in users, f"{package.name} does not use the shared package?"
    forbidden = (SERVICE_NAMES - {package.name}) | {"devstack"}
    wrong = {name: sorted(users[name]) for name in sorted(forbidden & set(users))}
    assert wrong == {}, f"{package.name} imports {wrong}"


def test_the_shared_package_imports_no_service_and_not_the_development_stack() -> None:
    users = top_level_imports(SHARED)
    wrong = {
        name: sorted(users[name]) for name in sorted((SERVICE_NAMES | {"devstack"}) & set(users))
    }
    assert wrong == {}, f"mentorship_shared imports {wrong}"


def test_the_shared_plumbing_has_no_module_named_after_the_domain() -> None:
    prefix = "mentorship_shared.plumbing."
    plumbing = [name.removeprefix(prefix) for name in modules(SHARED) if name.startswith(prefix)]
    assert plumbing
    named = [name for name in plumbing if any(word in name for word in DOMAIN_WORDS)]
    assert named == [], f"domain logic belongs in a service, not in the plumbing: {named}"


# --- the checks can fail ---------------------------------------------------------------------


def test_the_cycle_finder_reports_a_cycle_and_passes_a_layered_graph() -> None:
    layered = {"api": {"use_cases"}, "use_cases": {"domain", "repository"}, "repository": set()}
    assert find_cycle(layered) is None
    knotted = {**layered, "domain": {"scoring"}, "scoring": {"use_cases"}}
    assert find_cycle(knotted) == ["use_cases", "domain", "scoring", "use_cases"]
    assert find_cycle({"a": {"a"}}) == ["a", "a"]


def test_the_import_graph_of_a_package_with_a_cycle(tmp_path: Path) -> None:
    package = Package("shop", tmp_path / "shop")
    (package.directory / "sub").mkdir(parents=True)
    sources = {
        "__init__.py": "from .api import app\n",
        "api.py": "from . import orders\nimport json\n",
        "orders.py": "from typing import TYPE_CHECKING\nfrom .sub.tax import rate\n"
        "if TYPE_CHECKING:\n    from .api import app\n",
        "sub/__init__.py": "",
        "sub/tax.py": "def rate():\n    from ..orders import total\n    import billing_service\n",
    }
    for name, text in sources.items():
        (package.directory / name).write_text(text)
    graph = import_graph(package)
    assert graph["shop"] == {"shop.api"}
    assert graph["shop.api"] == {"shop.orders"}
    assert graph["shop.orders"] == {"shop.sub.tax"}  # the TYPE_CHECKING import is left out
    assert graph["shop.sub.tax"] == {"shop.orders"}  # a function's import counts
    assert find_cycle(graph) == ["shop.orders", "shop.sub.tax", "shop.orders"]
    assert top_level_imports(package)["billing_service"] == {"shop.sub.tax"}

"""The README's "Repository layout" section is true to the tree.

Every folder the section names holds files under version control, and every top-level folder
and every service of the tree is named there, so the section fails this test when the tree
changes and the README does not.

The section is a code block of entries `path/  what it holds`. An entry indented by two
spaces is relative to the entry above it with less indentation; a line indented further is the
continuation of a description. A placeholder such as `<name>` stands for each of the folders
named beside it (`services/<name>/migrations/` must hold for every service listed).
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
SECTION = "## Repository layout"
#: Entries are indented by at most this much; deeper lines continue a description.
MAX_ENTRY_INDENT = 4
_PLACEHOLDER = re.compile(r"<(\w+)>")


@dataclass(frozen=True)
class Entry:
    path: str  # from the repository root, ending in "/"
    parent: str  # the entry it is nested in ("" at the top)


def layout_block(readme: str) -> list[str]:
    """The lines of the first code block after the section's heading."""
    assert SECTION in readme, f"the README has no {SECTION!r} section"
    after = readme.split(SECTION, 1)[1]
    block = re.search(r"^```[^\n]*\n(.*?)^```", after, re.DOTALL | re.MULTILINE)
    assert block, f"{SECTION} has no code block"
    return block.group(1).splitlines()


def entries(lines: Iterable[str]) -> list[Entry]:
    found: list[Entry] = []
    stack: list[tuple[int, str]] = []  # (indent, path) of the entries still open
    for line in lines:
        entry = re.match(r"^( *)(\S+/)(?:\s|$)", line)
        if not entry or len(entry.group(1)) > MAX_ENTRY_INDENT:
            continue
        indent = len(entry.group(1))
        while stack and stack[-1][0] >= indent:
            stack.pop()
        parent = stack[-1][1] if stack else ""
        found.append(Entry(parent + entry.group(2), parent))
        stack.append((indent, parent + entry.group(2)))
    return found


def expanded(entry: Entry, siblings: dict[str, list[str]]) -> list[str]:
    """The paths an entry stands for: each placeholder replaced by each named sibling."""
    names = _PLACEHOLDER.findall(entry.path)
    if not names:
        return [entry.path]
    values = siblings.get(entry.parent, [])
    assert values, f"{entry.path}: a placeholder needs folders named beside it"
    return [_PLACEHOLDER.sub(value, entry.path) for value in values]


def named_paths(found: list[Entry]) -> list[str]:
    siblings: dict[str, list[str]] = {}
    for entry in found:
        if not _PLACEHOLDER.search(entry.path):
            siblings.setdefault(entry.parent, []).append(entry.path[len(entry.parent) :].strip("/"))
    return [path for entry in found for path in expanded(entry, siblings)]


def tracked_directories(files: Iterable[str]) -> set[str]:
    """Every folder that holds a tracked file, as `a/b/`."""
    folders = set()
    for file in files:
        parts = file.split("/")[:-1]
        folders.update("/".join(parts[: n + 1]) + "/" for n in range(len(parts)))
    return folders


def problems(readme: str, files: list[str]) -> list[str]:
    """What the layout section gets wrong about a tree of tracked files."""
    found = entries(layout_block(readme))
    named = named_paths(found)
    folders = tracked_directories(files)
    wrong = [f"{path} is named but holds no tracked file" for path in named if path not in folders]
    top_named = {path.split("/")[0] for path in named}
    for top in sorted({file.split("/")[0] for file in files if "/" in file}):
        if top not in top_named:
            wrong.append(f"{top}/ is not named")
    paths = [file.split("/") for file in files]
    for service in sorted({p[1] for p in paths if p[0] == "services" and len(p) > 2}):
        if f"services/{service}/" not in named:
            wrong.append(f"services/{service}/ is not named")
    return wrong


def tracked_files() -> list[str]:
    try:
        listed = subprocess.run(
            ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError) as error:
        pytest.skip(f"not a git checkout, so no tracked files to compare with: {error}")
    return listed.stdout.splitlines()


def test_the_layout_section_and_the_tree_agree() -> None:
    wrong = problems(README.read_text(encoding="utf-8"), tracked_files())
    assert wrong == [], "update the README's Repository layout section: " + "; ".join(wrong)


def test_the_layout_names_the_services_and_the_test_tiers() -> None:
    named = named_paths(entries(layout_block(README.read_text(encoding="utf-8"))))
    for tier in ("unit", "integration", "e2e", "faults"):
        assert f"tests/{tier}/" in named
    # The `<name>` placeholder stands for every service listed.
    for service in ("profile", "matching", "mentorship", "notification", "web"):
        assert f"services/{service}/src/{service}_service/" in named


SYNTHETIC_README = """\
## Repository layout

```
services/                    the services
  alpha/                     one service
  beta/                      another
  <name>/migrations/         its migrations,
                             over two lines
docs/                        pages
```
"""


def test_a_tree_that_drifts_from_the_section_is_reported() -> None:
    tree = [
        "services/alpha/migrations/0001.sql",
        "services/beta/migrations/0001.sql",
        "docs/index.md",
        "README.md",
    ]
    assert problems(SYNTHETIC_README, tree) == []
    assert named_paths(entries(layout_block(SYNTHETIC_README))) == [
        "services/",
        "services/alpha/",
        "services/beta/",
        "services/alpha/migrations/",
        "services/beta/migrations/",
        "docs/",
    ]
    # A new service, a new top-level folder, and a folder that went away.
    drifted = [
        *[file for file in tree if not file.startswith("docs/")],
        "services/gamma/pyproject.toml",
        "web/app.py",
    ]
    assert problems(SYNTHETIC_README, drifted) == [
        "docs/ is named but holds no tracked file",
        "web/ is not named",
        "services/gamma/ is not named",
    ]
    # A service without the folder a placeholder entry promises for every service.
    assert problems(SYNTHETIC_README, [*tree[:1], "services/beta/pyproject.toml", tree[2]]) == [
        "services/beta/migrations/ is named but holds no tracked file"
    ]

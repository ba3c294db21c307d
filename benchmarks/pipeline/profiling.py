"""Where a step's CPU and database round trips go: py-spy on every service process and
PostgreSQL's statement statistics, while the load runs (`--profile`).

py-spy samples each service's Python stacks (only threads on a CPU: an event loop waiting in
epoll is not sampled) into collapsed stacks, one file a service; `summarise` turns a file into
the functions with the largest inclusive and self shares and the self share of each library.
`pg_stat_statements` (preloaded into the run's PostgreSQL when profiling) counts every statement
of the step's databases, so the summary gives calls and time a registration per statement.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import asyncpg

#: py-spy's sampling rate (samples a second per process): enough for shares of a few percent
#: over half a minute, and little enough that the profiled processes barely notice.
SAMPLE_RATE = 67
#: A frame of py-spy's raw output: `function (path:line)`.
_FRAME = re.compile(r"^(?P<function>.*) \((?P<path>[^:()]+)(?::\d+)?\)$")
#: Libraries a frame's file is attributed to, by the first path component that names one.
_LIBRARIES = (
    "asyncpg",
    "aiokafka",
    "faststream",
    "fast_depends",
    "fastapi",
    "starlette",
    "uvicorn",
    "pydantic",
    "pydantic_core",
    "opentelemetry",
    "prometheus_client",
    "aiosmtplib",
    "numpy",
    "scipy",
    "sklearn",
    "mentorship_shared",
    "profile_service",
    "matching_service",
    "notification_service",
    "mentorship_service",
    "logging",
    "asyncio",
    "email",
    "json",
    "uuid",
)


#: The event loop's own frame (uvloop's run loop has no Python frames of its own below it).
_LOOP = "Runner.run ("
#: A sample in the loop itself: its C code (polling, socket reads and writes, callbacks'
#: bookkeeping), or waiting for a CPU on a busy machine.
_IN_LOOP = "(the event loop itself)"


def py_spy() -> str | None:
    """The py-spy beside this interpreter, or on PATH."""
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


async def record(pids: dict[str, int], seconds: float, folder: Path) -> dict[str, Path]:
    """Sample every process in `pids` for `seconds` at once; the collapsed stacks by name."""
    binary = py_spy()
    if binary is None:
        raise RuntimeError("--profile needs py-spy (pip install py-spy)")
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    outputs = {name: folder / f"{name}.collapsed.txt" for name in pids}
    runs = [
        await asyncio.create_subprocess_exec(
            binary,
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(max(1, round(seconds))),
            "--rate",
            str(SAMPLE_RATE),
            "--format",
            "raw",
            "--nonblocking",
            "--output",
            str(outputs[name]),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        for name, pid in pids.items()
    ]
    await asyncio.gather(*(run.wait() for run in runs))
    return {name: path for name, path in outputs.items() if path.exists()}


@dataclass(frozen=True)
class StackProfile:
    """One process's samples: inclusive and self counts by function, self counts by library."""

    samples: int
    inclusive: Counter[str]
    own: Counter[str]
    libraries: Counter[str]
    #: By the coroutine the event loop ran (the frame right under the loop's own).
    tasks: Counter[str]


def library_of(path: str) -> str:
    """The library a file belongs to: the first component of its path that names one."""
    for part in re.split(r"[/\\]", path):
        name = part.removesuffix(".py")
        if name in _LIBRARIES:
            return name
    return "other"


def parse_collapsed(text: str) -> StackProfile:
    """Aggregate py-spy's raw format: one `frame;frame;... count` line per distinct stack,
    outermost frame first."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    libraries: Counter[str] = Counter()
    tasks: Counter[str] = Counter()
    samples = 0
    for line in text.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        samples += count
        frames = [frame for frame in stack.split(";") if frame]
        if not frames:
            continue
        names = [_short(frame) for frame in frames]
        for name in set(names):
            inclusive[name] += count
        own[names[-1]] += count
        found = _FRAME.match(frames[-1])
        libraries[library_of(found.group("path")) if found else "other"] += count
        loop = next((i for i, name in enumerate(names) if name.startswith(_LOOP)), None)
        if loop is None:
            tasks[names[0]] += count
        else:
            tasks[names[loop + 1] if loop + 1 < len(names) else _IN_LOOP] += count
    return StackProfile(samples, inclusive, own, libraries, tasks)


def _short(frame: str) -> str:
    """`function (package/module.py)`: the line number dropped, the path from the package on."""
    found = _FRAME.match(frame)
    if found is None:
        return frame
    path = found.group("path")
    marker = "site-packages/"
    path = path.split(marker, 1)[1] if marker in path else "/".join(path.split("/")[-2:])
    return f"{found.group('function')} ({path})"


# --- PostgreSQL ----------------------------------------------------------------------------


def postgres_cpu(postmaster: int) -> dict[int, tuple[str, float]]:
    """CPU seconds so far of each process under the postmaster, with what it is: a backend
    names its database (`backend profile_s1`), the others their role (`walwriter`...)."""
    ticks = os.sysconf("SC_CLK_TCK")
    found: dict[int, tuple[str, float]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
            title = Path(entry.path, "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) != postmaster:
            continue
        words = title.removeprefix("postgres: ").split()
        # A backend's title is `postgres: <user> <database> <client> <state>`.
        label = (
            f"backend {words[1]}" if len(words) >= 3 and "(" in words[2] else " ".join(words[:2])
        )
        found[int(entry.name)] = (label, (int(fields[11]) + int(fields[12])) / ticks)
    return found


def postgres_cpu_by_label(
    before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]
) -> dict[str, float]:
    """CPU seconds between two readings, by what the processes are (those alive at both)."""
    spent: dict[str, float] = {}
    for pid, (label, seconds) in after.items():
        if pid in before:
            spent[label] = spent.get(label, 0.0) + seconds - before[pid][1]
    return spent


PRELOAD = {"shared_preload_libraries": "pg_stat_statements", "pg_stat_statements.max": "2000"}


async def reset_statements(admin_url: str) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        await conn.execute("SELECT pg_stat_statements_reset()")
    finally:
        await conn.close()


@dataclass(frozen=True)
class Statement:
    database: str
    query: str
    calls: int
    total_ms: float
    rows: int


async def read_statements(admin_url: str, databases: list[str]) -> list[Statement]:
    conn = await asyncpg.connect(admin_url)
    try:
        rows = await conn.fetch(
            "SELECT d.datname, s.query, s.calls, s.total_exec_time, s.rows "
            "FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid "
            "WHERE d.datname = ANY($1::text[]) ORDER BY s.total_exec_time DESC",
            databases,
        )
    finally:
        await conn.close()
    return [
        Statement(
            r["datname"], " ".join(r["query"].split()), r["calls"], r["total_exec_time"], r["rows"]
        )
        for r in rows
    ]


# --- the summary ---------------------------------------------------------------------------


def summarise(
    profiles: dict[str, StackProfile],
    statements: list[Statement],
    *,
    registrations: int,
    cpu_seconds: dict[str, float],
    postgres: dict[str, float] | None = None,
    sampled_registrations: int = 0,
    top: int = 25,
) -> str:
    """A Markdown page: per process its CPU a registration, libraries and top functions; then
    the statements by time, with calls a registration."""
    n = max(registrations, 1)
    lines = ["# Profile of one step", ""]
    lines.append(
        f"{registrations:,} registrations during the sampling. CPU a registration is over the "
        "whole step (the process's share of the step's CPU), samples are py-spy's while it ran."
    )
    lines.append("")
    for name, profile in sorted(profiles.items()):
        total = max(profile.samples, 1)
        ms = cpu_seconds.get(name, 0.0)
        lines += [f"## {name}", "", f"{profile.samples:,} samples; {ms:.1f} ms a registration", ""]
        lines += ["| library (self) | share |", "|---|---:|"]
        for library, count in profile.libraries.most_common(12):
            lines.append(f"| {library} | {count / total:.1%} |")
        lines += ["", "| what the event loop ran | share |", "|---|---:|"]
        for task, count in profile.tasks.most_common(15):
            lines.append(f"| `{task}` | {count / total:.1%} |")
        lines += ["", "| function (inclusive) | share |", "|---|---:|"]
        # Frames under every stack (the entry point, the loop) say nothing.
        common = [
            (function, count)
            for function, count in profile.inclusive.most_common()
            if count < 0.9 * total
        ]
        for function, count in common[:top]:
            lines.append(f"| `{function}` | {count / total:.1%} |")
        lines += ["", "| function (self) | share |", "|---|---:|"]
        for function, count in profile.own.most_common(top):
            lines.append(f"| `{function}` | {count / total:.1%} |")
        lines.append("")
    if postgres:
        m = max(sampled_registrations, 1)
        lines += [
            "## PostgreSQL processes",
            "",
            f"While py-spy sampled; {sampled_registrations:,} registrations then.",
            "",
            "| process | ms / registration |",
            "|---|---:|",
        ]
        for label, seconds in sorted(postgres.items(), key=lambda item: -item[1]):
            lines.append(f"| {label} | {seconds / m * 1000:.2f} |")
        lines.append("")
    if statements:
        lines += [
            "## Statements",
            "",
            f"Over the whole load and drain; {n:,} registrations.",
            "",
            "| database | calls / registration | ms / call | total ms / registration | statement |",
            "|---|---:|---:|---:|---|",
        ]
        for s in statements[:60]:
            lines.append(
                f"| {s.database} | {s.calls / n:.2f} | {s.total_ms / max(s.calls, 1):.3f} | "
                f"{s.total_ms / n:.3f} | `{s.query[:140].replace('|', '/')}` |"
            )
        lines.append("")
    return "\n".join(lines)

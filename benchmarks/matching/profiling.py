"""Timing a call, and where a call spends its time (cProfile), summed by function and package."""

from __future__ import annotations

import cProfile
import linecache
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


def timed(call: Callable[[], T]) -> tuple[T, float]:
    started = time.perf_counter()
    result = call()
    return result, time.perf_counter() - started


def profile(call: Callable[[], object]) -> dict[str, Any]:
    """Where one call spends its time (cProfile): own time per function, cumulative time of
    the largest sub-calls (nested ones overlap), and own time summed by package."""
    profiler = cProfile.Profile()
    profiler.enable()
    call()
    profiler.disable()
    profiler.create_stats()
    own = {key: float(entry[2]) for key, entry in profiler.stats.items()}
    cumulative = {key: float(entry[3]) for key, entry in profiler.stats.items()}
    total = sum(own.values()) or 1.0
    by_package: dict[str, float] = {}
    for key, seconds in own.items():
        package = _package(key[0], key[2])
        by_package[package] = by_package.get(package, 0.0) + seconds
    # Sub-calls: leave out the wrappers around everything (the call itself, comprehensions).
    inner = [key for key in cumulative if cumulative[key] < 0.95 * total]
    return {
        "seconds": total,
        "functions": [
            {"function": _function_label(*key), "seconds": own[key], "share": own[key] / total}
            for key in sorted(own, key=lambda key: -own[key])[:8]
        ],
        "cumulative": [
            {
                "function": _function_label(*key),
                "seconds": cumulative[key],
                "share": cumulative[key] / total,
            }
            for key in sorted(inner, key=lambda key: -cumulative[key])[:8]
        ],
        "packages": [
            {"package": package, "seconds": seconds, "share": seconds / total}
            for package, seconds in sorted(by_package.items(), key=lambda item: -item[1])
        ],
    }


def _package(filename: str, name: str) -> str:
    if filename == "~":  # a C function: numpy's, or a Python built-in
        return "numpy" if "numpy" in name else "Python built-ins"
    parts = Path(filename).parts
    if "site-packages" in parts and parts.index("site-packages") + 1 < len(parts):
        return parts[parts.index("site-packages") + 1].removesuffix(".py")
    for package in ("matching_service", "mentorship_shared", "benchmarks"):
        if package in parts:
            return package
    return "Python standard library"


def _function_label(filename: str, line: int, name: str) -> str:
    if filename == "~":
        return name.strip("<>")
    path = Path(filename)
    parts = path.parts
    if "matching_service" in parts:
        dotted = ".".join([*parts[parts.index("matching_service") : -1], path.stem])
        label = f"{dotted}.{name}"
        if name.startswith("<"):  # a comprehension: show its line of code
            code = linecache.getline(filename, line).strip()
            label = f"{dotted}:{line} `{code}`"
        return label
    if "site-packages" in parts:
        module = [*parts[parts.index("site-packages") + 1 : -1], path.stem]
        return ".".join([*module, name])
    return f"{path.stem}.{name}"

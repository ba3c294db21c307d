"""The machine a benchmark ran on, described once for every benchmark report.

Figures from one run mean little without the machine under them: its CPU and cores, memory,
operating system, Python, the commit measured and how busy the machine was. Reports that
depend on numerical libraries add their versions and BLAS (``describe(numeric=True)``).
"""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def describe(*, numeric: bool = False) -> dict[str, Any]:
    """The machine now: every value a plain number or string, ``None`` when unknown."""
    host: dict[str, Any] = {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "ram_gib": _ram_gib(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "commit": commit(),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "load_average": load_average(),
    }
    if numeric:
        host.update(numeric_libraries())
    return host


def load_average() -> tuple[float, float, float] | None:
    """The 1, 5 and 15 minute load averages (other work on the machine slows every figure)."""
    return os.getloadavg() if hasattr(os, "getloadavg") else None


def blas_threads() -> int | None:
    """Threads the BLAS numpy uses will start for one product."""
    from threadpoolctl import threadpool_info  # type: ignore[import-untyped]

    for library in threadpool_info():
        if library.get("user_api") == "blas":
            threads: int = library["num_threads"]
            return threads
    return None


def numeric_libraries() -> dict[str, Any]:
    """numpy, its BLAS and how many threads that uses, scipy."""
    import numpy as np
    import scipy

    blas = "unknown"
    try:
        config: Any = np.show_config(mode="dicts")
        found = config["Build Dependencies"]["blas"]
        blas = f"{found['name']} {found['version']}"
    except (TypeError, KeyError):
        pass
    return {
        "numpy": np.__version__,
        "blas": blas,
        "blas_threads": blas_threads(),
        "scipy": scipy.__version__,
    }


def commit() -> str:
    """The commit measured, marked when the work tree has uncommitted changes."""
    git = shutil.which("git")
    if git is None:
        return "unknown"
    try:
        found = subprocess.run(  # noqa: S603 - fixed argv
            [git, "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(  # noqa: S603 - fixed argv
            [git, "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return found + (" (with uncommitted changes)" if dirty else "")


def markdown_rows(host: dict[str, Any]) -> list[str]:
    """The rows every report's machine table starts with (a two-column Markdown table)."""
    rows = ["| | |", "|---|---|", f"| CPU | {host['cpu']} |"]
    cores = f"{host['cores']}"
    if host.get("cores_usable") not in (None, host["cores"]):
        cores += f" ({host['cores_usable']} usable)"
    rows.append(f"| cores | {cores} |")
    if host.get("ram_gib") is not None:
        rows.append(f"| RAM | {host['ram_gib']:.0f} GiB |")
    rows.append(f"| OS | {host['os']} |")
    rows.append(f"| Python | {host['python']} |")
    if "numpy" in host:
        rows.append(
            f"| numpy | {host['numpy']} (BLAS: {host['blas']}, "
            f"{host['blas_threads'] or 'default'} threads) |"
        )
        rows.append(f"| scipy | {host['scipy']} |")
    if host.get("commit"):
        rows.append(f"| commit | {host['commit']} |")
    rows.append(f"| date | {host['date']} |")
    return rows


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _ram_gib() -> float | None:
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 2**20
    return None

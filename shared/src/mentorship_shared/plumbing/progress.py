"""Progress on stderr for the long steps of command-line tools (benchmarks, offline jobs),
and their one-line notes.

On a terminal the bar is redrawn in place a few times a second. Anywhere else (a log file, CI)
it writes a line at most every ten seconds, the first after ten seconds, so a short step stays
silent and a long one shows it is alive without flooding the log.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

WIDTH = 24
LIVE_INTERVAL = 0.25
LOG_INTERVAL = 10.0


class Progress:
    """One progress bar: ``advance`` by a count, or ``update`` to an amount done with a detail
    (seconds of a load step, mails received); ``close`` writes the step's last line."""

    def __init__(self, label: str, total: float, stream: TextIO | None = None) -> None:
        self.label = label
        self.total = max(total, 1e-9)
        self.done: float = 0
        self.stream = stream if stream is not None else sys.stderr
        self.live = self.stream.isatty()
        self.started = time.monotonic()
        self._drawn = 0.0 if self.live else self.started

    def advance(self, n: int = 1) -> None:
        self.update(self.done + n)

    def update(self, done: float, detail: str = "") -> None:
        self.done = done
        now = time.monotonic()
        finished = done >= self.total
        if now - self._drawn < (LIVE_INTERVAL if self.live else LOG_INTERVAL) and not (
            self.live and finished
        ):
            return
        self._drawn = now
        share = min(max(done / self.total, 0.0), 1.0)
        filled = int(share * WIDTH)
        line = (
            f"  {self.label} [{'#' * filled}{'.' * (WIDTH - filled)}] {share:4.0%}  "
            f"{detail or self._eta(now)}"
        )
        if self.live:
            self.stream.write("\r\033[K" + line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def _eta(self, now: float) -> str:
        elapsed = now - self.started
        left = elapsed / self.done * (self.total - self.done) if self.done else 0.0
        return (
            f"{self.done:,.0f}/{self.total:,.0f}, {elapsed:.0f} s, about {max(left, 0):.0f} s left"
        )

    def close(self, detail: str | None = None) -> None:
        if self.live:
            self.stream.write("\r\033[K")
        elapsed = time.monotonic() - self.started
        self.stream.write(f"  {self.label}: {detail or f'{self.done:,.0f} in {elapsed:.1f} s'}\n")
        self.stream.flush()


@contextmanager
def progress(label: str, total: int) -> Iterator[Progress]:
    """A bar counting ``total`` items, closed with how many were done and how long it took."""
    bar = Progress(label, total)
    try:
        yield bar
    finally:
        bar.close()


def note(message: str) -> None:
    """One line of what the tool is doing now, on stderr (its report goes to stdout)."""
    print(message, file=sys.stderr, flush=True)

"""Where the service's "now" comes from.

In production: the system clock, always. Reminders, nudges and lapses are days and weeks
apart, so a test that runs the service as a process (the end-to-end and fault-injection
tests) and a developer trying the flow need time to pass faster. With
``DEV_CLOCK_CONTROL=true`` the clock runs ahead of the system clock by the seconds written in
``DEV_CLOCK_OFFSET_FILE``, read again whenever the file changes, so the whole service (the
API, the scheduler, the consumers) moves on together while it runs; everything else (the
outbox, the broker, the other services, the mail) stays real.

Safety: both settings must be given (one without the other stops the service at start-up),
neither has a default nor appears in the images or Compose, the offset comes from a local
file (nothing on the network can move it), time never goes back (a smaller or unreadable
offset is ignored), and the service says in its log that its clock is moved, and by how much.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

log = logging.getLogger(__name__)

#: The service's "now": the system clock in production; in-process tests pass one they move.
Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


def clock_for(offset_file: Path | None) -> Clock:
    """The clock the settings ask for: the system clock, or (DEV_CLOCK_CONTROL on) the system
    clock moved ahead by the offset file."""
    if offset_file is None:
        return system_clock
    return OffsetFileClock(offset_file, system_clock)


class OffsetFileClock:
    """The system clock plus the offset a file holds: seconds, as a decimal number (such as
    ``1123200`` for 13 days). A missing file is no offset; the offset only grows."""

    def __init__(self, path: Path, system: Clock) -> None:
        self.path = path
        self._system = system
        self._offset = timedelta(0)
        #: What identified the file when it was last read (inode, size, modification time):
        #: a writer replaces it (write, then rename), so any change shows here.
        self._seen: tuple[int, int, int] | None = None
        log.warning(
            "DEV_CLOCK_CONTROL is on: this service's clock runs ahead of the system clock by "
            "the seconds in %s (development and tests only)",
            path,
        )
        self.offset()

    def __call__(self) -> datetime:
        return self._system() + self.offset()

    def offset(self) -> timedelta:
        """The offset now: the file's, read again when it changed."""
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            return self._offset
        seen = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
        if seen != self._seen:
            self._seen = seen
            self._take(self.path.read_text(encoding="utf-8", errors="replace").strip())
        return self._offset

    def _take(self, text: str) -> None:
        try:
            seconds = float(text) if text else 0.0
        except ValueError:
            seconds = math.nan
        if not math.isfinite(seconds) or seconds < 0:
            log.warning(
                "%s holds %r, not a number of seconds of 0 or more; the clock keeps its offset "
                "of %s",
                self.path,
                text[:40],
                self._offset,
            )
            return
        offset = timedelta(seconds=seconds)
        if offset < self._offset:
            log.warning(
                "%s asks for an offset of %s, less than the %s already taken: time does not "
                "go back, the offset stays",
                self.path,
                offset,
                self._offset,
            )
            return
        if offset != self._offset:
            self._offset = offset
            log.warning("the clock now runs %s ahead of the system clock", offset)

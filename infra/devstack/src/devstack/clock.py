"""Moving the clock of a running stack's mentorship service, so that check-ins due in two
weeks, their reminders, nudges and lapses happen within a test.

The service honours this only with ``DEV_CLOCK_CONTROL=true`` and ``DEV_CLOCK_OFFSET_FILE``
naming the file (:attr:`DevClock.settings` gives both to a :class:`devstack.stack.Stack`); it
reads the file again whenever it changes, so the running service moves on at once: its API,
its scheduler and its consumers all see the same "now". Everything else is real: the events go
through the outbox and the broker, and the notification service mails what the scheduler
raised. The offset only grows: the service ignores a smaller one.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

__all__ = ["DevClock"]


class DevClock:
    """The offset file of the services of one stack, and the settings that make them read it."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.offset = timedelta(0)

    @property
    def settings(self) -> dict[str, str]:
        """What a stack gives its services so that this file moves their clocks."""
        return {"DEV_CLOCK_CONTROL": "true", "DEV_CLOCK_OFFSET_FILE": str(self.path.absolute())}

    def now(self) -> datetime:
        """The services' "now", as this clock has set it."""
        return datetime.now(UTC) + self.offset

    def advance(self, delta: timedelta) -> datetime:
        """Move the services' clocks ``delta`` further ahead; their new "now"."""
        if delta < timedelta(0):
            raise ValueError(f"the clock only moves forward, not by {delta}")
        self.offset += delta
        self._write()
        return self.now()

    def advance_to(self, moment: datetime) -> datetime:
        """Move the services' clocks on until it is ``moment`` there (if it is not already)."""
        return self.advance(max(timedelta(0), moment - self.now()))

    def _write(self) -> None:
        # Written aside and renamed over: the service never reads half a number.
        self.path.parent.mkdir(parents=True, exist_ok=True)
        draft = self.path.with_name(f".{self.path.name}.new")
        draft.write_text(f"{self.offset.total_seconds():.6f}\n", encoding="utf-8")
        os.replace(draft, self.path)

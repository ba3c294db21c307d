"""The one error the `devstack` command reports in a line, without a traceback: every failure
of its own (a port in use, a server that did not start, an unknown dead-letter topic)."""

from __future__ import annotations

__all__ = ["DevstackError"]


class DevstackError(RuntimeError):
    """A problem to report in one line, without a traceback."""

"""The benchmarks' progress bars and notes: the shared ones every command-line tool uses."""

from mentorship_shared.plumbing.progress import Progress, note, progress

__all__ = ["Progress", "note", "progress"]

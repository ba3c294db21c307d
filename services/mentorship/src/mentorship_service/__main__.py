"""`python -m mentorship_service`: serve the mentorship API, consume match and profile events,
and run the check-in scheduler."""

from __future__ import annotations

import sys

from mentorship_shared.plumbing.entrypoint import run_service

from .app import create_app
from .config import MentorshipSettings


def main() -> int:
    return run_service(
        "Mentorship service: goals, check-ins, surveys and progress from the accepted match to "
        "the outcome.",
        MentorshipSettings,
        create_app,
    )


if __name__ == "__main__":
    sys.exit(main())

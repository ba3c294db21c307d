"""`python -m profile_service`: serve the profile API and its outbox relay."""

from __future__ import annotations

import sys

from mentorship_shared.plumbing.entrypoint import run_service

from .app import create_app
from .config import ProfileSettings


def main() -> int:
    return run_service(
        "Profile service: registers mentees and mentors and publishes profile events.",
        ProfileSettings,
        create_app,
    )


if __name__ == "__main__":
    sys.exit(main())

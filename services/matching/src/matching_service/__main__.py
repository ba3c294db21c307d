"""`python -m matching_service`: serve the matching API, consume profile events, propose matches."""

from __future__ import annotations

import sys

from mentorship_shared.plumbing.entrypoint import run_service

from .app import create_app
from .config import MatchingSettings


def main() -> int:
    return run_service(
        "Matching service: proposes the mentor who best covers each mentee's skill gaps.",
        MatchingSettings,
        create_app,
    )


if __name__ == "__main__":
    sys.exit(main())

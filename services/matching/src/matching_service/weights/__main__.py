"""`python -m matching_service.weights`: fit the score's weights from mentorship outcomes
offline, replay past proposals with them, make a synthetic outcome set, export outcomes."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from mentorship_shared.plumbing.database import describe_url
from mentorship_shared.plumbing.progress import note, progress

from ..config import MatchingSettings
from ..matcher.scoring import COMPONENTS, ScoringConfig, parse_config
from ..outcome import MatchOutcome
from .dataset import (
    SUCCESS_THRESHOLD,
    TARGET_PARTS,
    OutcomeSet,
    read_database,
    read_export,
    write_export,
)
from .files import packaged_document, read_document, write_fitted
from .fitting import fit_weights
from .replay import describe, replay
from .synthetic import DEFAULT_TRUE_WEIGHTS, generate, parse_weights

DEFAULT_OUTPUT_DIR = Path("var/weights")
#: Fewer outcomes than this are refused by `fit` (override with --min-outcomes).
MIN_OUTCOMES = 50


class UsageError(Exception):
    """Something the operator can fix: the message says what."""


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        result: int = args.run(args)
    except (UsageError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return result


# --- commands --------------------------------------------------------------------------------


def run_fit(args: argparse.Namespace) -> int:
    data = _outcome_set(args)
    if len(data) < args.min_outcomes:
        raise UsageError(
            f"{len(data)} usable outcomes, fewer than --min-outcomes {args.min_outcomes}: wait "
            "for more mentorships to end, or lower --min-outcomes knowing the fit is noisier"
        )
    base_document, base = _weights(args.base)
    steps = len(args.alphas) * args.folds + args.folds + 1
    with progress("fitting", steps) as bar:
        fit = fit_weights(
            data,
            base,
            folds=args.folds,
            seed=args.seed,
            alphas=tuple(args.alphas),
            on_step=bar.advance,
        )
    period = data.period()
    assert period is not None  # at least --min-outcomes outcomes
    validation = fit.validation()
    fitted = {
        "base_version": base.version,
        "fitted_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "outcomes": len(data),
        "skipped_outcomes": data.skipped,
        "did_well": int(data.success.sum()),
        "ended_from": period[0].isoformat(),
        "ended_to": period[1].isoformat(),
        "source": args.outcomes.name if args.outcomes else describe_url(args.database_url),
        "target": {"parts": TARGET_PARTS, "did_well_from": SUCCESS_THRESHOLD},
        "model": "ridge regression, non-negative coefficients, scaled to sum to 1",
        "intercept": fit.intercept,
        "coefficients": fit.coefficients,
        "cross_validation": validation,
    }
    path = write_fitted(args.output_dir, base_document, fit.weights, fitted)
    print(f"wrote {path}")
    print(
        f"{len(data)} outcomes ended {period[0]:%Y-%m-%d} to {period[1]:%Y-%m-%d}; "
        f"alpha {fit.alpha}; held-out NDCG {validation['ndcg_fitted']['mean']:.4f} fitted "
        f"against {validation['ndcg_base']['mean']:.4f} for {base.version}"
    )
    print(", ".join(f"{name} {fit.weights[name]:.4f}" for name in COMPONENTS))
    print(
        f"Compare on all outcomes: python -m matching_service.weights replay --candidate {path}; "
        f"to use it, set SCORING_WEIGHTS_FILE={path} and restart the matcher."
    )
    return 0


def run_replay(args: argparse.Namespace) -> int:
    data = _outcome_set(args)
    if len(data) == 0:
        raise UsageError("no usable outcomes to replay")
    _, current = _weights(args.current)
    _, candidate = _weights(args.candidate)
    report = replay(data, current, candidate)
    print(json.dumps(report.as_dict(), indent=2) if args.json else describe(report))
    return 0


def run_generate(args: argparse.Namespace) -> int:
    true_weights = parse_weights(args.true_weights)
    _, scored_with = _weights(args.scored_with)
    with progress("generating outcomes", args.count) as bar:
        outcomes = generate(
            args.count,
            scored_with,
            true_weights,
            seed=args.seed,
            noise=args.noise,
            on_step=bar.advance,
        )
    write_export(args.output, outcomes)
    print(f"wrote {len(outcomes)} synthetic outcomes to {args.output}")
    return 0


def run_export(args: argparse.Namespace) -> int:
    outcomes = _read_outcomes(args)
    write_export(args.output, outcomes)
    print(f"wrote {len(outcomes)} outcomes to {args.output}")
    return 0


# --- shared pieces ---------------------------------------------------------------------------


def _read_outcomes(args: argparse.Namespace) -> list[MatchOutcome]:
    if getattr(args, "outcomes", None) is not None:
        return read_export(args.outcomes)
    note(f"reading outcomes from {describe_url(args.database_url)}")
    try:
        return asyncio.run(read_database(args.database_url, args.since, args.until))
    except asyncpg.UndefinedTableError as error:
        raise UsageError(
            f"{describe_url(args.database_url)} has no outcomes table: is it the matching "
            "database, and has the matcher started on it since its last upgrade?"
        ) from error
    except (OSError, TimeoutError, RuntimeError, asyncpg.PostgresError) as error:
        raise UsageError(
            f"cannot read outcomes from the matching database: {error} (without the database "
            "at hand, read an export with --outcomes)"
        ) from error


def _outcome_set(args: argparse.Namespace) -> OutcomeSet:
    outcomes = [
        o
        for o in _read_outcomes(args)
        if (args.since is None or o.ended_at >= args.since)
        and (args.until is None or o.ended_at < args.until)
    ]
    data = OutcomeSet.of(outcomes)
    if data.skipped:
        note(f"left out {data.skipped} outcomes whose proposals lack a part of today's score")
    return data


def _weights(path: Path | None) -> tuple[dict[str, Any], ScoringConfig]:
    """A weights file's document and configuration; without a path, the weights the matcher
    runs with (SCORING_WEIGHTS_FILE, else the packaged ones)."""
    chosen = path or _configured_weights_file()
    document = read_document(chosen) if chosen is not None else packaged_document()
    return document, parse_config(document)


def _configured_weights_file() -> Path | None:
    configured = os.environ.get("SCORING_WEIGHTS_FILE", "").strip()
    return Path(configured) if configured else None


def _date(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date such as 2026-01-31") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m matching_service.weights",
        description=(
            "Fit the match score's weights offline from the outcomes of finished mentorships, "
            "and replay past proposals with them. The matcher uses new weights only when "
            "SCORING_WEIGHTS_FILE names the file and it is restarted."
        ),
    )
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")
    default_url = os.environ.get(
        "DATABASE_URL", str(MatchingSettings.model_fields["database_url"].default)
    )

    def outcome_source(command: argparse.ArgumentParser, *, file: bool = True) -> None:
        source = command.add_mutually_exclusive_group()
        source.add_argument(
            "--database-url",
            default=default_url,
            help="the matching database to read outcomes from (default: DATABASE_URL, else "
            "the dev stack's matching database)",
        )
        if file:
            source.add_argument(
                "--outcomes",
                type=Path,
                metavar="FILE",
                help="read outcomes from a JSON file (from `export` or `generate`) instead",
            )
        command.add_argument(
            "--since", type=_date, help="only mentorships that ended on or after this date"
        )
        command.add_argument(
            "--until", type=_date, help="only mentorships that ended before this date"
        )

    fit = commands.add_parser(
        "fit",
        help="fit new weights and write weights-vN.json",
        description=(
            "Fit the components' weights with a non-negative ridge regression of how well each "
            "mentorship went (gap closed, completed, CSAT, NPS) over the parts of its proposal's "
            "score, the regularisation chosen by cross-validation; write the next "
            "weights-vN.json into --output-dir."
        ),
    )
    outcome_source(fit)
    fit.add_argument(
        "--output-dir",
        type=Path,
        default=DEFAULT_OUTPUT_DIR,
        help="folder to write weights-vN.json into (default: %(default)s)",
    )
    fit.add_argument(
        "--base",
        type=Path,
        metavar="FILE",
        help="weights file to start from and compare with (default: SCORING_WEIGHTS_FILE, "
        "else the packaged weights-v1)",
    )
    fit.add_argument("--folds", type=int, default=5, help="cross-validation folds (default: 5)")
    fit.add_argument(
        "--alphas",
        type=float,
        nargs="+",
        default=[0.001, 0.01, 0.1, 1.0, 10.0],
        help="regularisation strengths to try (default: %(default)s)",
    )
    fit.add_argument("--seed", type=int, default=0, help="seed of the fold split (default: 0)")
    fit.add_argument(
        "--min-outcomes",
        type=int,
        default=MIN_OUTCOMES,
        help="refuse to fit on fewer outcomes (default: %(default)s)",
    )
    fit.set_defaults(run=run_fit)

    replay_command = commands.add_parser(
        "replay",
        help="rank past proposals with a weights file, against the current weights",
        description=(
            "Score every past proposal again from its recorded parts with the current weights "
            "and with --candidate, rank them, and report how well each ranking puts the "
            "mentorships that went well first (NDCG, their mean rank, pairs ranked right)."
        ),
    )
    outcome_source(replay_command)
    replay_command.add_argument(
        "--candidate", type=Path, required=True, metavar="FILE", help="the weights file to try"
    )
    replay_command.add_argument(
        "--current",
        type=Path,
        metavar="FILE",
        help="the weights to compare with (default: SCORING_WEIGHTS_FILE, else the packaged "
        "weights-v1)",
    )
    replay_command.add_argument("--json", action="store_true", help="print the report as JSON")
    replay_command.set_defaults(run=run_replay)

    generate_command = commands.add_parser(
        "generate",
        help="write a synthetic outcome set from known true weights",
        description=(
            "Make finished mentorships whose outcomes follow known true weights (plus noise), "
            "their proposals scored with the current weights, to try fit and replay on."
        ),
    )
    generate_command.add_argument("--output", type=Path, required=True, metavar="FILE")
    generate_command.add_argument(
        "--count", type=int, default=2000, help="mentorships to make (default: %(default)s)"
    )
    generate_command.add_argument(
        "--true-weights",
        default=",".join(f"{name}={value}" for name, value in DEFAULT_TRUE_WEIGHTS.items()),
        help="name=weight for every component (default: %(default)s)",
    )
    generate_command.add_argument(
        "--scored-with",
        type=Path,
        metavar="FILE",
        help="weights the proposals were scored with (default: the current weights)",
    )
    generate_command.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    generate_command.add_argument(
        "--noise",
        type=float,
        default=0.05,
        help="noise on each mentorship's quality (default: 0.05)",
    )
    generate_command.set_defaults(run=run_generate)

    export_command = commands.add_parser(
        "export",
        help="write the outcomes in the matching database to a JSON file",
        description="Write the outcomes the matcher kept to a JSON file fit and replay read.",
    )
    outcome_source(export_command, file=False)
    export_command.add_argument("--output", type=Path, required=True, metavar="FILE")
    export_command.set_defaults(run=run_export)
    return parser


if __name__ == "__main__":
    sys.exit(main())

"""Weights files: reading one for the matcher to score with, and writing the next version.

A weights file has the format of the packaged `data/weights-v1.json` (the components' weights,
the role profiles and the constants of the score); a fitted one adds `fitted`, what the fit saw
and its validation figures. Versions are `weights-v<N>`: a fit writes the next number after the
one it started from and every file in the folder, and never overwrites a file.
"""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

from ..matcher.scoring import COMPONENTS, ScoringConfig, parse_config

_VERSION = re.compile(r"^weights-v(\d+)$")


def packaged_document() -> dict[str, Any]:
    """The weights the matcher uses unless an operator chose a file."""
    text = resources.files("matching_service").joinpath("data/weights-v1.json").read_text()
    data: dict[str, Any] = json.loads(text)
    return data


def read_document(path: Path) -> dict[str, Any]:
    """A weights file's JSON, checked to be one the matcher can score with; a ValueError that
    names the file and what is wrong otherwise."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ValueError(f"cannot read weights file {path}: {error.strerror or error}") from error
    except json.JSONDecodeError as error:
        raise ValueError(f"weights file {path} is not JSON: {error}") from error
    if not isinstance(data, dict):
        raise ValueError(f"weights file {path} must hold a JSON object")
    try:
        parse_config(data)
    except (KeyError, TypeError) as error:
        raise ValueError(f"weights file {path} lacks or misspells {error}") from error
    except ValueError as error:
        raise ValueError(f"weights file {path}: {error}") from error
    return data


def read_weights(path: Path) -> ScoringConfig:
    """The scoring configuration of a weights file (see `read_document`)."""
    return parse_config(read_document(path))


def version_number(version: str) -> int:
    found = _VERSION.match(version)
    if found is None:
        raise ValueError(f"weights version {version!r} is not of the form weights-v<N>")
    return int(found.group(1))


def next_version(directory: Path, base_version: str) -> str:
    """One above the base's number and every `weights-v<N>.json` in the folder."""
    numbers = [version_number(base_version)]
    if directory.is_dir():
        for path in directory.glob("weights-v*.json"):
            found = _VERSION.match(path.stem)
            if found is not None:
                numbers.append(int(found.group(1)))
    return f"weights-v{max(numbers) + 1}"


def write_fitted(
    directory: Path,
    base: dict[str, Any],
    components: dict[str, float],
    fitted: dict[str, Any],
) -> Path:
    """Write the next version: the base file with the fitted components and `fitted` beside
    them. Returns the new file's path."""
    if set(components) != set(COMPONENTS):
        raise ValueError(f"fitted weights must name exactly {COMPONENTS}")
    version = next_version(directory, str(base["version"]))
    document = {
        **base,
        "version": version,
        "note": (
            f"Fitted offline from mentorship outcomes, starting from {base['version']}: the "
            "components' weights are the fit's, everything else is the base's. A matcher uses "
            "it only when SCORING_WEIGHTS_FILE names this file."
        ),
        "components": components,
        "fitted": fitted,
    }
    parse_config(document)  # what is written can be read back
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{version}.json"
    with path.open("x", encoding="utf-8") as out:  # never overwrite a version
        out.write(json.dumps(document, indent=2) + "\n")
    return path

"""The product-management skill taxonomy, loaded from versioned data.

The taxonomy is data, not code, so that a new version is a new JSON file reviewed like a
contract change. Skill ids are stable within a version; events and profiles refer to skills by id.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SkillGroup = Literal["bring", "build", "career"]


class Skill(BaseModel):
    """One product-management skill."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(description="Stable identifier used in profiles and events.")
    name: str = Field(description="Human-readable name.")
    short_name: str = Field(description="Short form used inside sentences and explanations.")
    group: SkillGroup = Field(
        description=(
            "'bring': engineers usually arrive with it; 'build': engineers usually need to "
            "develop it; 'career': about getting into a product role."
        )
    )
    description: str = Field(description="What the skill covers.")


class SkillTaxonomy(BaseModel):
    """A versioned list of skills."""

    model_config = ConfigDict(frozen=True)

    version: int = Field(
        ge=1, description="Taxonomy version; bumped when skills are added or removed."
    )
    note: str = Field(default="", description="What the taxonomy is for.")
    skills: tuple[Skill, ...] = Field(description="The skills, in display order.")

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(skill.id for skill in self.skills)

    def by_id(self, skill_id: str) -> Skill:
        for skill in self.skills:
            if skill.id == skill_id:
                return skill
        raise KeyError(skill_id)

    def __contains__(self, skill_id: object) -> bool:
        return skill_id in self.ids


CURRENT_TAXONOMY_VERSION = 1


@cache
def load_taxonomy(version: int = CURRENT_TAXONOMY_VERSION) -> SkillTaxonomy:
    """Load a taxonomy version from the package data."""
    data = (
        resources.files(__package__).joinpath("data", f"skills-v{version}.json").read_text("utf-8")
    )
    taxonomy = SkillTaxonomy.model_validate(json.loads(data))
    if taxonomy.version != version:
        raise ValueError(f"skills-v{version}.json declares version {taxonomy.version}")
    if len(set(taxonomy.ids)) != len(taxonomy.ids):
        raise ValueError(f"skills-v{version}.json repeats a skill id")
    return taxonomy


TAXONOMY = load_taxonomy()
SKILL_IDS: tuple[str, ...] = TAXONOMY.ids

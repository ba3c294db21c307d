"""The learning-resource catalogue: practices, courses and books per skill, loaded from
versioned data like the skill taxonomy.

The matcher names a few of them for every gap a mentor does not cover, and the notification
service renders what the events carry. The catalogue is data, not code: a new version is a new
JSON file, reviewed like a contract change, and events name the version their resources come
from.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from .skills import load_taxonomy

ResourceKind = Literal["practice", "course", "book"]
#: The kinds in the order a plan offers them: something to do at work first, then to study.
RESOURCE_KINDS: tuple[ResourceKind, ...] = ("practice", "course", "book")


class LearningResource(BaseModel):
    """One practice, course or book."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(description="Stable identifier within the catalogue version.")
    kind: ResourceKind = Field(
        description=(
            "'practice': something to do in the current role or a side project; 'course': a "
            "course or certification; 'book': a book."
        )
    )
    title: str = Field(description="Title of the work, or a short name of the practice.")
    by: str | None = Field(default=None, description="Authors or provider; null for a practice.")
    skills: tuple[str, ...] = Field(
        min_length=1,
        description="Skill ids it helps with, the one it helps most with first.",
    )
    summary: str = Field(description="What it is and why it helps, in a sentence or two.")


class LearningCatalogue(BaseModel):
    """A versioned list of learning resources."""

    model_config = ConfigDict(frozen=True)

    version: int = Field(ge=1, description="Catalogue version; bumped when resources change.")
    taxonomy_version: int = Field(ge=1, description="Version of the skill taxonomy it refers to.")
    note: str = Field(default="", description="What the catalogue is for.")
    resources: tuple[LearningResource, ...] = Field(description="The resources, curated order.")

    def by_id(self, resource_id: str) -> LearningResource:
        for resource in self.resources:
            if resource.id == resource_id:
                return resource
        raise KeyError(resource_id)

    def for_skill(self, skill_id: str) -> list[LearningResource]:
        """Resources that help with the skill: those made for it first (it is their first
        skill), then those that help with it as well, each group in catalogue order."""
        helping = [r for r in self.resources if skill_id in r.skills]
        return sorted(helping, key=lambda r: r.skills.index(skill_id) > 0)


CURRENT_CATALOGUE_VERSION = 1


@cache
def load_catalogue(version: int = CURRENT_CATALOGUE_VERSION) -> LearningCatalogue:
    """Load a catalogue version from the package data."""
    name = f"learning-resources-v{version}.json"
    data = resources.files(__package__).joinpath("data", name).read_text("utf-8")
    catalogue = parse_catalogue(json.loads(data), name)
    if catalogue.version != version:
        raise ValueError(f"{name} declares version {catalogue.version}")
    return catalogue


def parse_catalogue(data: object, source: str = "catalogue") -> LearningCatalogue:
    """A catalogue from its JSON data, checked: unique ids, and only skills its taxonomy
    version knows. `source` names the data in errors."""
    catalogue = LearningCatalogue.model_validate(data)
    ids = [resource.id for resource in catalogue.resources]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{source} repeats a resource id")
    taxonomy = load_taxonomy(catalogue.taxonomy_version)
    for resource in catalogue.resources:
        unknown = [skill for skill in resource.skills if skill not in taxonomy]
        if unknown:
            raise ValueError(f"{source}: {resource.id} names unknown skills {unknown}")
    return catalogue


CATALOGUE = load_catalogue()

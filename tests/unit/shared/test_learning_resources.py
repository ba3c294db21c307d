"""The learning-resource catalogue: loaded and checked like the skill taxonomy, and complete
enough that every gap gets something to do, a course and a book."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from mentorship_shared.contracts import learning_resources
from mentorship_shared.contracts.learning_resources import (
    CATALOGUE,
    RESOURCE_KINDS,
    load_catalogue,
    parse_catalogue,
)
from mentorship_shared.contracts.skills import TAXONOMY

DATA = Path(learning_resources.__file__).parent / "data"


def test_the_catalogue_is_a_version_of_its_own_and_names_its_taxonomy() -> None:
    assert CATALOGUE.version == 1
    assert CATALOGUE.taxonomy_version == TAXONOMY.version
    assert load_catalogue(CATALOGUE.version) == CATALOGUE


@pytest.mark.parametrize("skill_id", TAXONOMY.ids)
@pytest.mark.parametrize("kind", RESOURCE_KINDS)
def test_every_skill_has_a_practice_a_course_and_a_book(skill_id: str, kind: str) -> None:
    assert [r.id for r in CATALOGUE.for_skill(skill_id) if r.kind == kind]


def test_ids_are_unique_slugs_and_every_entry_is_described() -> None:
    ids = [r.id for r in CATALOGUE.resources]
    assert len(set(ids)) == len(ids)
    for resource in CATALOGUE.resources:
        assert re.fullmatch(r"(practice|course|book)-[a-z0-9-]+", resource.id), resource.id
        assert resource.id.startswith(f"{resource.kind}-")
        assert resource.title.strip()
        assert len(resource.summary) >= 40, resource.id
        # Works have authors or a provider; a practice is ours.
        assert (resource.by is None) == (resource.kind == "practice"), resource.id
        assert set(resource.skills) <= set(TAXONOMY.ids)


def test_a_skill_lists_the_resources_made_for_it_before_those_that_also_help() -> None:
    listed = CATALOGUE.for_skill("customer_insight")

    primary = [r.skills[0] == "customer_insight" for r in listed]
    assert primary == sorted(primary, reverse=True)
    assert any(primary)
    assert not all(primary)
    assert CATALOGUE.by_id(listed[0].id) is listed[0]
    with pytest.raises(KeyError):
        CATALOGUE.by_id("book-nothing")


def valid() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DATA / "learning-resources-v1.json").read_text())
    return data


def test_a_repeated_id_fails_loudly() -> None:
    data = valid()
    data["resources"] = [*data["resources"], data["resources"][0]]

    with pytest.raises(ValueError, match="repeats a resource id"):
        parse_catalogue(data)


def test_an_unknown_skill_fails_loudly() -> None:
    data = valid()
    first, *rest = data["resources"]
    data["resources"] = [{**first, "skills": ["juggling"]}, *rest]

    with pytest.raises(ValueError, match="juggling"):
        parse_catalogue(data)


def test_an_unknown_kind_or_a_resource_for_no_skill_fails_loudly() -> None:
    first, *rest = valid()["resources"]

    with pytest.raises(ValueError, match="kind"):
        parse_catalogue({**valid(), "resources": [{**first, "kind": "podcast"}, *rest]})
    with pytest.raises(ValueError, match="skills"):
        parse_catalogue({**valid(), "resources": [{**first, "skills": []}, *rest]})


def test_a_missing_version_fails_loudly() -> None:
    with pytest.raises(FileNotFoundError):
        load_catalogue(CATALOGUE.version + 1000)

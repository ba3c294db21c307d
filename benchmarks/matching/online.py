"""(b) One online match at a time in the service's own code path, against a real PostgreSQL
(the embedded server `make dev` uses) holding every mentor of (a): the mentor directory's
refresh through the repository (the change feed: only rows changed since the last match), the
ranking and the explanation; and the whole `propose_mentor` use case with its writes. Set
against one bare matrix-vector product of the scoring's shape, measured in the same process."""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
from devstack.postgres import EmbeddedPostgres
from matching_service.config import MIGRATIONS_DIR
from matching_service.directory import MentorDirectory
from matching_service.matcher.pool import Mentee, Mentor, MentorPool, utc_offset_hours
from matching_service.matcher.ranking import rank_mentors
from matching_service.matcher.scoring import N_LEVELS, N_SKILLS, SKILL_IDS
from matching_service.policy import MatchPolicy
from matching_service.repository import MatchingRepository
from matching_service.use_cases.common import Matchmaker
from matching_service.use_cases.proposals import propose_mentor
from mentorship_shared.contracts.events import (
    MenteeProfile,
    MenteeSkill,
    MentorProfile,
    MentorSkill,
)
from mentorship_shared.plumbing.database import (
    apply_migrations,
    connect_pool,
    load_migrations,
    plumbing_migrations,
)
from mentorship_shared.plumbing.outbox import Outbox

from benchmarks.machine import blas_threads
from benchmarks.matching.population import REFERENCE_INSTANT, ZONES
from benchmarks.matching.profiling import profile
from benchmarks.matching.sizes import Sizes
from benchmarks.progress import note, progress

#: A mentor's profile changes (a new version, committed by another transaction) once every
#: this many matches, so that some refreshes re-encode a mentor, not only read slots.
PROFILE_CHANGE_EVERY = 25


def percentiles(seconds: Sequence[float]) -> dict[str, float]:
    values = np.asarray(seconds) * 1000.0
    return {
        "p50_ms": float(np.percentile(values, 50)),
        "p99_ms": float(np.percentile(values, 99)),
        "mean_ms": float(values.mean()),
        "samples": len(values),
    }


def bench_online(
    sizes: Sizes,
    pool: MentorPool,
    mentors: Sequence[Mentor],
    newcomers: Sequence[Mentee],
    rng: np.random.Generator,
) -> dict[str, Any]:
    vector = rng.random(N_SKILLS * N_LEVELS)

    def anchor_products() -> list[float]:
        for _ in range(5):
            _ = pool.one_hot @ vector  # warm-up
        seconds = []
        for _ in range(max(500, 5 * len(newcomers))):
            began = time.perf_counter()
            _ = pool.one_hot @ vector
            seconds.append(time.perf_counter() - began)
        return seconds

    anchor = anchor_products()
    with tempfile.TemporaryDirectory(prefix="bench-matching-") as scratch:
        served = asyncio.run(_serve(sizes, mentors, newcomers, Path(scratch)))
    note("  (b) profiling the match without the database ...")
    some = newcomers[:50]
    match_profile = profile(lambda: [rank_mentors(m, pool, limit=1) for m in some])
    return {
        "mentors": len(mentors),
        "blas_threads": blas_threads(),
        "anchor": percentiles(anchor),
        "match_profile": match_profile,
        "match_profile_samples": len(some),
        **served,
    }


async def _serve(
    sizes: Sizes, mentors: Sequence[Mentor], newcomers: Sequence[Mentee], scratch: Path
) -> dict[str, Any]:
    server = EmbeddedPostgres(scratch / "data", log_path=scratch / "postgres.log")
    note("  (b) starting PostgreSQL and storing the mentors ...")
    server.start()
    try:
        admin = await connect_pool(server.admin_url, min_size=1, max_size=1)
        async with admin.acquire() as conn:
            await conn.execute("CREATE DATABASE bench_matching")
        await admin.close()
        db = await connect_pool(server.url("bench_matching"), min_size=2, max_size=2)
        try:
            await apply_migrations(
                db, plumbing_migrations() + load_migrations("service", MIGRATIONS_DIR)
            )
            return await _matches(sizes, db, mentors, newcomers)
        finally:
            await db.close()
    finally:
        server.stop()


async def _matches(
    sizes: Sizes, db: Any, mentors: Sequence[Mentor], newcomers: Sequence[Mentee]
) -> dict[str, Any]:
    profiles = [_mentor_profile(mentor) for mentor in mentors]
    async with db.acquire() as conn, conn.transaction():
        repo = MatchingRepository(conn)
        for mentor_profile in profiles:
            await repo.upsert_mentor(mentor_profile)
        for mentee in newcomers:
            await repo.upsert_mentee(_mentee_profile(mentee))
    matchmaker = Matchmaker.with_directory(
        MatchPolicy(proposal_ttl=timedelta(days=3), waiting_mentees_per_event=1)
    )
    async with db.acquire() as conn, db.acquire() as other:
        repo = MatchingRepository(conn)
        directory = matchmaker.mentors
        assert isinstance(directory, MentorDirectory)
        began = time.perf_counter()
        await directory.refresh(repo)
        first_read = time.perf_counter() - began
        rows_at_start, refreshes_at_start = directory.rows_read, directory.refreshes
        # The database's own floor: one round trip of the simplest statement.
        round_trips = []
        for _ in range(max(200, len(newcomers))):
            began = time.perf_counter()
            await conn.fetchval("SELECT 1")
            round_trips.append(time.perf_counter() - began)
        match_seconds: list[float] = []
        use_case_seconds: list[float] = []
        proposed = 0
        with progress("(b) online matches, service path", 2 * len(newcomers)) as bar:
            for i, mentee in enumerate(newcomers):
                if i % PROFILE_CHANGE_EVERY == PROFILE_CHANGE_EVERY - 1:
                    await _change_a_profile(other, profiles, i)
                # The match: the directory's refresh, scores, constraints, ranking, explanation,
                # with the process's BLAS threads as the service has them (one mentee's product
                # is a sparse product, no BLAS; switching the BLAS threads around each match,
                # as this benchmark once did, cost more than any match's arithmetic).
                async with conn.transaction():
                    began = time.perf_counter()
                    await _match(matchmaker, repo, mentee)
                    match_seconds.append(time.perf_counter() - began)
                bar.advance()
                # The whole use case: lock, match, reserve the slot, store and publish.
                async with conn.transaction():
                    outbox = Outbox(conn, producer="bench")
                    began = time.perf_counter()
                    made = await propose_mentor(repo, outbox, matchmaker, mentee.id)
                    use_case_seconds.append(time.perf_counter() - began)
                    proposed += made is not None
                bar.advance()
    refreshes = max(directory.refreshes - refreshes_at_start, 1)
    return {
        "first_read_seconds": first_read,
        "round_trip": percentiles(round_trips),
        "match": percentiles(match_seconds),
        "use_case": percentiles(use_case_seconds),
        "proposed": proposed,
        "profile_changes": len(newcomers) // PROFILE_CHANGE_EVERY,
        "rows_read_per_refresh": (directory.rows_read - rows_at_start) / refreshes,
    }


async def _match(matchmaker: Matchmaker, repo: MatchingRepository, mentee: Mentee) -> None:
    """One match, its view of the pool gone when it returns, as in a handler of the service
    (a view kept alive would make the directory copy its arrays on the next profile change)."""
    pool, excluded = await matchmaker.mentors.available_to(
        repo, mentee.id, sorted(mentee.languages)
    )
    rank_mentors(mentee, pool, excluded, limit=1)


async def _change_a_profile(conn: Any, profiles: list[MentorProfile], i: int) -> None:
    """Another matcher's transaction: a mentor raises one skill (a new profile version)."""
    index = (i * 7919) % len(profiles)
    current = profiles[index]
    skills = [
        MentorSkill(skill=s.skill, level=min(5, s.level + 1) if j == 0 else s.level)
        for j, s in enumerate(current.skills)
    ]
    changed = current.model_copy(update={"version": current.version + 1, "skills": skills})
    profiles[index] = changed
    async with conn.transaction():
        await MatchingRepository(conn).upsert_mentor(changed)


def _zone_at(offset: float) -> str:
    for zone in ZONES:
        if _offset_of(zone.name) == offset:
            return zone.name
    return "UTC"


def _offset_of(zone: str) -> float:
    return utc_offset_hours(zone, REFERENCE_INSTANT)


def _mentor_profile(mentor: Mentor) -> MentorProfile:
    return MentorProfile(
        profile_id=mentor.id,
        version=1,
        name="Bench mentor",
        email=f"mentor-{mentor.id.hex[:12]}@example.com",
        timezone=_zone_at(mentor.utc_offset_hours),
        languages=sorted(mentor.languages),
        industries=sorted(mentor.industries),
        skills=[
            MentorSkill(skill=skill, level=int(level))
            for skill, level in zip(SKILL_IDS, mentor.strengths, strict=True)
        ],
        capacity=max(1, mentor.free_slots),
        was_engineer=mentor.was_engineer,
    )


def _mentee_profile(mentee: Mentee) -> MenteeProfile:
    return MenteeProfile(
        profile_id=mentee.id,
        version=1,
        name="Bench mentee",
        email=f"mentee-{mentee.id.hex[:12]}@example.com",
        timezone=_zone_at(mentee.utc_offset_hours),
        languages=sorted(mentee.languages),
        industries=sorted(mentee.industries),
        target_role=mentee.target_role,
        max_timezone_difference_hours=mentee.max_timezone_difference_hours,
        skills=[
            MenteeSkill(skill=skill, current=int(current), target=int(target))
            for skill, current, target in zip(SKILL_IDS, mentee.current, mentee.target, strict=True)
            if target > current or current > 0
        ],
    )

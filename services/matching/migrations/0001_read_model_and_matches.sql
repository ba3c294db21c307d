-- The matcher's own copy of what it needs from profiles (no names or emails), and matches.

CREATE TABLE mentees (
    id                  uuid        PRIMARY KEY,
    version             integer     NOT NULL,
    timezone            text        NOT NULL,
    languages           text[]      NOT NULL,
    skills              jsonb       NOT NULL,  -- [{"skill", "current", "target"}]
    target_role         text,
    industries          text[]      NOT NULL DEFAULT '{}',
    max_timezone_difference_hours integer,
    registered_at       timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE mentors (
    id                  uuid        PRIMARY KEY,
    version             integer     NOT NULL,
    timezone            text        NOT NULL,
    languages           text[]      NOT NULL,
    skills              jsonb       NOT NULL,  -- [{"skill", "level"}]
    industries          text[]      NOT NULL DEFAULT '{}',
    was_engineer        boolean     NOT NULL,
    accepting_mentees   boolean     NOT NULL,
    capacity            integer     NOT NULL CHECK (capacity BETWEEN 1 AND 10),
    -- Open matches (proposed or accepted) holding one of the mentor's slots. A reservation
    -- increments it with a guarded UPDATE that takes the mentor's row lock; the CHECK is the
    -- last line: no mentor above capacity, whatever any instance of the matcher does.
    load                integer     NOT NULL DEFAULT 0 CHECK (load >= 0),
    registered_at       timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT mentor_within_capacity CHECK (load <= capacity)
);

CREATE INDEX mentors_with_free_slots_idx ON mentors (id) WHERE accepting_mentees AND load < capacity;

CREATE TABLE matches (
    id                  uuid        PRIMARY KEY,
    mentee_id           uuid        NOT NULL,
    mentor_id           uuid        NOT NULL,
    status              text        NOT NULL
                                    CHECK (status IN ('proposed', 'accepted', 'declined', 'expired')),
    score               double precision NOT NULL CHECK (score BETWEEN 0 AND 1),
    score_breakdown     jsonb       NOT NULL,
    explanation         text        NOT NULL,
    covered_skills      text[]      NOT NULL,
    uncovered_skills    text[]      NOT NULL,
    algorithm_version   text        NOT NULL,
    end_reason          text,
    proposed_at         timestamptz NOT NULL DEFAULT now(),
    expires_at          timestamptz,
    ended_at            timestamptz,
    CHECK (mentee_id <> mentor_id)
);

-- A mentee has at most one open match, enforced by the database.
CREATE UNIQUE INDEX matches_one_open_per_mentee ON matches (mentee_id)
    WHERE status IN ('proposed', 'accepted');
CREATE INDEX matches_by_mentee_idx ON matches (mentee_id, proposed_at DESC);
CREATE INDEX matches_open_by_mentor_idx ON matches (mentor_id) WHERE status IN ('proposed', 'accepted');

-- Profiles that were deleted: a replayed registration must not bring them back.
CREATE TABLE erased_profiles (
    id          uuid        PRIMARY KEY,
    erased_at   timestamptz NOT NULL DEFAULT now()
);

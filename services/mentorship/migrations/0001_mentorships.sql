-- The people of mentorships (from profile events) and each mentorship from the accepted match
-- to its outcome: goals and milestones, check-ins, survey answers, re-assessments.

-- What the service keeps of a profile: who may see their mentorships (the SHA-256 of the
-- owner's token) and, for mentees, the self-assessment the gaps are measured against.
CREATE TABLE people (
    profile_id  uuid        PRIMARY KEY,
    kind        text        NOT NULL CHECK (kind IN ('mentee', 'mentor')),
    version     integer     NOT NULL,
    credential  text,
    skills      jsonb       NOT NULL DEFAULT '[]'::jsonb,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Profiles that were deleted: a replayed registration must not bring them back, nor a
-- replayed acceptance start a mentorship for them.
CREATE TABLE erased_profiles (
    id          uuid        PRIMARY KEY,
    erased_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE mentorships (
    id                     uuid        PRIMARY KEY,
    -- One mentorship per accepted match, whatever redelivers the acceptance.
    match_id               uuid        NOT NULL UNIQUE,
    mentee_id              uuid        NOT NULL,
    mentor_id              uuid        NOT NULL,
    status                 text        NOT NULL DEFAULT 'active'
                                       CHECK (status IN ('active', 'completed', 'ended_early', 'lapsed')),
    cadence_weeks          integer     NOT NULL CHECK (cadence_weeks IN (1, 2, 4)),
    started_at             timestamptz NOT NULL,
    schedule_anchor        timestamptz NOT NULL,
    check_ins              integer     NOT NULL DEFAULT 0 CHECK (check_ins >= 0),
    reminded_for           integer     NOT NULL DEFAULT 0,
    nudged_for             integer     NOT NULL DEFAULT 0,
    completion_proposed_by text        CHECK (completion_proposed_by IN ('mentee', 'mentor')),
    ended_at               timestamptz,
    ending                 text        CHECK (ending IN ('completed', 'ended_early', 'lapsed')),
    end_cause              text,
    ended_by               text        CHECK (ended_by IN ('mentee', 'mentor')),
    end_reason             text,
    feedback_due_by        timestamptz,
    outcome_recorded_at    timestamptz,
    -- The next moment the scheduler has something to do for this mentorship (a reminder, a
    -- nudge, the lapse, the outcome); NULL once nothing ever will.
    wake_at                timestamptz,
    CHECK ((status = 'active') = (ended_at IS NULL)),
    CHECK (status = 'active' OR status = ending)
);

CREATE INDEX mentorships_by_mentee_idx ON mentorships (mentee_id);
CREATE INDEX mentorships_by_mentor_idx ON mentorships (mentor_id);
CREATE INDEX mentorships_wake_idx ON mentorships (wake_at) WHERE wake_at IS NOT NULL;
CREATE INDEX mentorships_started_idx ON mentorships (started_at);
CREATE INDEX mentorships_ended_idx ON mentorships (ended_at) WHERE ended_at IS NOT NULL;

-- The mentee's gaps in one mentorship: the level at the start, the target, the latest level.
CREATE TABLE mentorship_skills (
    mentorship_id  uuid    NOT NULL REFERENCES mentorships (id) ON DELETE CASCADE,
    skill          text    NOT NULL,
    start_level    integer NOT NULL CHECK (start_level BETWEEN 0 AND 5),
    target_level   integer NOT NULL CHECK (target_level BETWEEN 0 AND 5),
    current_level  integer NOT NULL CHECK (current_level BETWEEN 0 AND 5),
    PRIMARY KEY (mentorship_id, skill)
);

-- At most five goals a mentorship: each holds one of five positions, which the database keeps
-- unique, so two concurrent proposals cannot make a sixth.
CREATE TABLE goals (
    id             uuid        PRIMARY KEY,
    mentorship_id  uuid        NOT NULL REFERENCES mentorships (id) ON DELETE CASCADE,
    position       integer     NOT NULL CHECK (position BETWEEN 1 AND 5),
    skill          text        NOT NULL,
    title          text        NOT NULL,
    status         text        NOT NULL CHECK (status IN ('proposed', 'agreed')),
    proposed_at    timestamptz NOT NULL,
    agreed_at      timestamptz,
    achieved_at    timestamptz,
    UNIQUE (mentorship_id, position)
);

CREATE TABLE milestones (
    id        uuid        PRIMARY KEY,
    goal_id   uuid        NOT NULL REFERENCES goals (id) ON DELETE CASCADE,
    position  integer     NOT NULL CHECK (position BETWEEN 1 AND 10),
    title     text        NOT NULL,
    due_on    date        NOT NULL,
    done_at   timestamptz,
    UNIQUE (goal_id, position)
);

CREATE TABLE check_ins (
    mentorship_id  uuid        NOT NULL REFERENCES mentorships (id) ON DELETE CASCADE,
    number         integer     NOT NULL CHECK (number >= 1),
    logged_by      text        NOT NULL CHECK (logged_by IN ('mentee', 'mentor')),
    logged_at      timestamptz NOT NULL,
    discussed      text        NOT NULL,
    next_step      text        NOT NULL,
    PRIMARY KEY (mentorship_id, number)
);

-- One answer per side and round; the free text is shown to the other side only with consent.
CREATE TABLE feedback (
    mentorship_id  uuid        NOT NULL REFERENCES mentorships (id) ON DELETE CASCADE,
    party          text        NOT NULL CHECK (party IN ('mentee', 'mentor')),
    round          text        NOT NULL CHECK (round IN ('first_check_in', 'closing')),
    csat           integer     NOT NULL CHECK (csat BETWEEN 1 AND 5),
    nps            integer     NOT NULL CHECK (nps BETWEEN 0 AND 10),
    comment        text,
    share_comment  boolean     NOT NULL DEFAULT false,
    given_at       timestamptz NOT NULL,
    PRIMARY KEY (mentorship_id, party, round)
);

CREATE INDEX feedback_given_idx ON feedback (given_at);

-- Every re-assessment as it was given (the latest levels are in mentorship_skills).
CREATE TABLE assessments (
    id             uuid        PRIMARY KEY,
    mentorship_id  uuid        NOT NULL REFERENCES mentorships (id) ON DELETE CASCADE,
    assessed_at    timestamptz NOT NULL,
    levels         jsonb       NOT NULL
);

CREATE INDEX assessments_by_mentorship_idx ON assessments (mentorship_id, assessed_at);

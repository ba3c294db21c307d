-- An accepted match concludes when its mentorship ends; the pair is never proposed again.
ALTER TABLE matches DROP CONSTRAINT matches_status_check;
ALTER TABLE matches ADD CONSTRAINT matches_status_check
    CHECK (status IN ('proposed', 'accepted', 'declined', 'expired', 'concluded'));

-- Spelled as the repository spells the closed pairs, so that the planner uses the index.
DROP INDEX matches_closed_pairs_idx;
CREATE INDEX matches_closed_pairs_idx ON matches (mentee_id, mentor_id)
    WHERE status IN ('declined', 'concluded') OR end_reason IN ('timeout');

-- The outcome of each finished mentorship, beside what the matcher knew when it proposed the
-- pair (the score's parts and the weights version): what the weights are fitted on offline.
-- Only ids, numbers and the ending: no free text, so nothing here names a person.
CREATE TABLE match_outcomes (
    match_id            uuid        PRIMARY KEY,
    mentorship_id       uuid        NOT NULL,
    mentee_id           uuid        NOT NULL,
    mentor_id           uuid        NOT NULL,
    ending              text        NOT NULL CHECK (ending IN ('completed', 'ended_early', 'lapsed')),
    completed           boolean     NOT NULL,
    mentee_csat         smallint    CHECK (mentee_csat BETWEEN 1 AND 5),
    mentor_csat         smallint    CHECK (mentor_csat BETWEEN 1 AND 5),
    mentee_nps          smallint    CHECK (mentee_nps BETWEEN 0 AND 10),
    mentor_nps          smallint    CHECK (mentor_nps BETWEEN 0 AND 10),
    gap_closed          double precision CHECK (gap_closed BETWEEN 0 AND 1),
    gap_closed_by_skill jsonb       NOT NULL DEFAULT '{}',
    check_ins           integer     NOT NULL DEFAULT 0,
    started_at          timestamptz NOT NULL,
    ended_at            timestamptz NOT NULL,
    score               double precision NOT NULL,
    score_breakdown     jsonb       NOT NULL,
    algorithm_version   text        NOT NULL,
    weights_version     text,
    origin              text        NOT NULL,
    proposed_at         timestamptz NOT NULL,
    recorded_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX match_outcomes_by_end_idx ON match_outcomes (ended_at);

-- The proposal lifecycle (each side's answer), the mentor's own capacity wish, shortlist
-- exposure and cohort rounds.

-- What the mentor asked for. `capacity` stays the effective ceiling the CHECK guards: it never
-- drops below the load of accepted matches, and comes down to the wish as they end.
ALTER TABLE mentors ADD COLUMN requested_capacity integer;
UPDATE mentors SET requested_capacity = capacity;
ALTER TABLE mentors ALTER COLUMN requested_capacity SET NOT NULL;
ALTER TABLE mentors ADD CONSTRAINT mentor_requested_capacity CHECK (requested_capacity BETWEEN 1 AND 10);

ALTER TABLE matches
    ADD COLUMN origin             text NOT NULL DEFAULT 'online'
                                  CHECK (origin IN ('online', 'request', 'round')),
    ADD COLUMN round_id           uuid,
    ADD COLUMN weights_version    text,
    ADD COLUMN mentee_accepted_at timestamptz,
    ADD COLUMN mentor_accepted_at timestamptz,
    ADD COLUMN accepted_at        timestamptz,
    ADD COLUMN declined_by        text CHECK (declined_by IN ('mentee', 'mentor')),
    ADD COLUMN decline_reason     text;

-- Pairs that must never be proposed again: declined, or left unanswered until they lapsed.
CREATE INDEX matches_closed_pairs_idx ON matches (mentee_id, mentor_id)
    WHERE status = 'declined' OR end_reason = 'timeout';
CREATE INDEX matches_expiring_idx ON matches (expires_at) WHERE status = 'proposed';

-- Which mentors a mentee was shown on a shortlist, and when: a mentor appears on at most a few
-- shortlists per free slot, so one star mentor does not top every list.
CREATE TABLE shortlist_exposure (
    mentee_id   uuid        NOT NULL,
    mentor_id   uuid        NOT NULL,
    shown_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (mentee_id, mentor_id)
);
CREATE INDEX shortlist_exposure_by_mentor_idx ON shortlist_exposure (mentor_id, shown_at);

CREATE TABLE rounds (
    id                  uuid        PRIMARY KEY,
    started_at          timestamptz NOT NULL DEFAULT now(),
    finished_at         timestamptz,
    method              text        NOT NULL,
    mentees_waiting     integer     NOT NULL,
    mentors_with_slots  integer     NOT NULL,
    proposed            integer     NOT NULL,
    total_score         double precision NOT NULL,
    greedy_matched      integer     NOT NULL,
    greedy_total_score  double precision NOT NULL,
    mentor_load         jsonb       NOT NULL  -- {"optimal": {...}, "greedy": {...}} load histograms
);

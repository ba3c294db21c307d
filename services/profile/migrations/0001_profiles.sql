-- Profiles of mentees and mentors. The profile document (`data`) has the shape of the
-- MenteeProfile / MentorProfile contract, so events are built from it without mapping;
-- the columns beside it are what the service looks profiles up by.
CREATE TABLE profiles (
    id          uuid        PRIMARY KEY,
    kind        text        NOT NULL CHECK (kind IN ('mentee', 'mentor')),
    email       text        NOT NULL,
    version     integer     NOT NULL DEFAULT 1 CHECK (version >= 1),
    data        jsonb       NOT NULL,
    token_hash  bytea       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- One profile per email address, whatever its case.
CREATE UNIQUE INDEX profiles_email_key ON profiles (lower(email));

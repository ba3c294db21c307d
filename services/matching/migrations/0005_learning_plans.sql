-- Learning plans mailed to mentees no mentor with a free slot suits: one row per version of a
-- mentee's plan. A plan is issued again only when its content changes (the digest of its gaps,
-- levels and resources), so retries and later attempts to match do not mail it twice.
CREATE TABLE learning_plans (
    mentee_id           uuid        NOT NULL,
    version             integer     NOT NULL CHECK (version >= 1),
    digest              text        NOT NULL,
    resources_version   integer     NOT NULL,
    issued_at           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (mentee_id, version)
);

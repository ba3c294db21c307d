-- One-time links to sign in to the web pages. Only the SHA-256 of a link's token is kept (the
-- token itself travels once, in the event that has it mailed); a link works until it expires
-- or is used, whichever comes first. Deleting a profile deletes its links.
CREATE TABLE sign_in_links (
    token_hash  bytea       PRIMARY KEY,
    profile_id  uuid        NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX sign_in_links_expires_at ON sign_in_links (expires_at);
CREATE INDEX sign_in_links_profile_id ON sign_in_links (profile_id);

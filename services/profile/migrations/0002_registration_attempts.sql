-- Registration attempts per client address and per email address, counted in fixed windows,
-- so every profile instance enforces the same limits. `bucket` is the SHA-256 of
-- 'address:<client address>' or 'email:<lower-case email>': the table holds neither in the
-- clear, and rows of past windows are deleted as registrations come in.
CREATE TABLE registration_attempts (
    bucket        bytea       NOT NULL,
    window_start  timestamptz NOT NULL,
    attempts      integer     NOT NULL CHECK (attempts >= 1),
    PRIMARY KEY (bucket, window_start)
);

CREATE INDEX registration_attempts_window_start ON registration_attempts (window_start);

-- SHA-256 (hex) of each profile owner's bearer token, from the profile events, so the matcher
-- can tell the owner of a mentee, a mentor or a match without asking the profile service.
ALTER TABLE mentees ADD COLUMN credential text;
ALTER TABLE mentors ADD COLUMN credential text;

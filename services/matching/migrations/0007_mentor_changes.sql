-- A change feed of the mentors table for the matcher's in-process mentor directory, so that a
-- match reads only the mentor rows that changed since the directory's last read, never the
-- whole table.
--
-- Every insert or update of a mentor row (a profile, a slot taken or given back, a pause) is
-- stamped with the id of the transaction that made it, by a trigger, so no statement can
-- forget it. Transaction ids rather than a sequence: sequence values are taken before commit,
-- so rows commit out of order and a reader remembering the highest value it saw would skip
-- the late ones. A reader instead remembers the oldest transaction still running when it
-- read (its snapshot's xmin); every row committed after that read carries an id at least as
-- high, so reading the rows stamped from there on misses nothing.
ALTER TABLE mentors ADD COLUMN changed_in xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX mentors_changed_in_idx ON mentors (changed_in);

CREATE FUNCTION stamp_mentor_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.changed_in := pg_current_xact_id();
    RETURN NEW;
END
$$;

CREATE TRIGGER mentors_stamp_change BEFORE INSERT OR UPDATE ON mentors
    FOR EACH ROW EXECUTE FUNCTION stamp_mentor_change();

-- Erased mentors leave no row to stamp: the erasure is recorded, stamped the same way.
CREATE TABLE mentor_erasures (
    mentor_id   uuid NOT NULL,
    erased_in   xid8 NOT NULL DEFAULT pg_current_xact_id()
);
CREATE INDEX mentor_erasures_erased_in_idx ON mentor_erasures (erased_in);

CREATE FUNCTION record_mentor_erasure() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO mentor_erasures (mentor_id) VALUES (OLD.id);
    RETURN OLD;
END
$$;

CREATE TRIGGER mentors_record_erasure AFTER DELETE ON mentors
    FOR EACH ROW EXECUTE FUNCTION record_mentor_erasure();

-- Which database a reader's horizon belongs to: transaction ids are the cluster's, so a reader
-- moved to another database (or one restored from a backup) must read everything again.
CREATE TABLE mentor_feed (
    feed_id     uuid NOT NULL DEFAULT gen_random_uuid()
);
INSERT INTO mentor_feed DEFAULT VALUES;

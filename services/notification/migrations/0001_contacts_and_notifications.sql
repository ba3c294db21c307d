-- Who can be reached (from profile events) and every notification intent and its outcome.

CREATE TABLE contacts (
    profile_id  uuid        PRIMARY KEY,
    kind        text        NOT NULL CHECK (kind IN ('mentee', 'mentor')),
    name        text        NOT NULL,
    email       text        NOT NULL,
    version     integer     NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Profiles that were deleted: a replayed registration must not bring their contact back.
CREATE TABLE erased_profiles (
    id          uuid        PRIMARY KEY,
    erased_at   timestamptz NOT NULL DEFAULT now()
);

-- One row per (event, recipient, channel): the intent is committed before the mail is sent and
-- marked sent after, so a redelivered event finds its row and sends nothing.
CREATE TABLE notifications (
    id                uuid        PRIMARY KEY,
    source_event_id   uuid        NOT NULL,
    source_event_type text        NOT NULL,
    recipient_id      uuid        NOT NULL,
    recipient_role    text        NOT NULL CHECK (recipient_role IN ('mentee', 'mentor')),
    counterpart_id    uuid,
    channel           text        NOT NULL DEFAULT 'email' CHECK (channel IN ('email')),
    template          text        NOT NULL,
    context           jsonb       NOT NULL,
    status            text        NOT NULL DEFAULT 'pending'
                                  CHECK (status IN ('pending', 'sent', 'failed', 'cancelled')),
    attempts          integer     NOT NULL DEFAULT 0,
    next_attempt_at   timestamptz NOT NULL DEFAULT now(),
    last_error        text,
    message_id        text        NOT NULL UNIQUE,
    subject           text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    sent_at           timestamptz,
    UNIQUE (source_event_id, recipient_id, channel)
);

CREATE INDEX notifications_due_idx ON notifications (next_attempt_at) WHERE status = 'pending';
CREATE INDEX notifications_recent_idx ON notifications (created_at DESC);
CREATE INDEX notifications_by_recipient_idx ON notifications (recipient_id);

-- Wake the dispatcher when an intent is queued or a contact it waits for arrives.
CREATE FUNCTION notifications_wake_dispatcher() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('notifications_due', '');
    RETURN NULL;
END;
$$;

CREATE TRIGGER notifications_queued
    AFTER INSERT ON notifications
    FOR EACH STATEMENT EXECUTE FUNCTION notifications_wake_dispatcher();

CREATE TRIGGER contacts_changed
    AFTER INSERT OR UPDATE ON contacts
    FOR EACH STATEMENT EXECUTE FUNCTION notifications_wake_dispatcher();

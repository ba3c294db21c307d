-- Processed-events inbox: a consumer records each event id in the same transaction as the
-- event's effect and commits the Kafka offset only afterwards, so a redelivered event is a no-op.
CREATE TABLE processed_events (
    consumer     text        NOT NULL,
    event_id     uuid        NOT NULL,
    event_type   text        NOT NULL,
    outcome      text        NOT NULL DEFAULT 'handled'
                             CHECK (outcome IN ('handled', 'dead_lettered')),
    source_topic text,
    source_partition integer,
    source_offset bigint,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);

-- The W3C traceparent of the consumer that queued the mail: the dispatcher sends it later,
-- from another task, and its span continues that trace (the registration's, say). NULL for
-- mails queued before tracing, or outside any span; those are sent in a trace of their own.
ALTER TABLE notifications ADD COLUMN traceparent text;

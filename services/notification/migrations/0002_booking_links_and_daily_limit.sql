-- A mentor's booking link, kept with the contact like the address: the accepted mail to the
-- mentee reads it when it is sent, and an erased contact takes it along.
ALTER TABLE contacts ADD COLUMN booking_url text;

-- The daily limit per recipient counts what was sent to them in the last 24 hours.
CREATE INDEX notifications_sent_to_recipient_idx
    ON notifications (recipient_id, sent_at) WHERE status = 'sent';

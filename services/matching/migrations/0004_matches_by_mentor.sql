-- A mentor's matches, newest first (GET /v1/mentors/{id}/matches), whatever their status.
CREATE INDEX matches_by_mentor_idx ON matches (mentor_id, proposed_at DESC);

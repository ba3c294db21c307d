-- The mentor directory's refresh (`MatchingRepository.mentor_changes`) as a function planned
-- once per connection. Run as a plain statement, PostgreSQL planned it afresh at every match:
-- with the horizon unknown, its generic plan looks as if it read a third of the mentors, so
-- the plan cache kept choosing a custom plan, and planning took several times what executing
-- does (a few changed rows through the `changed_in` index). The generic plan is the right one
-- whatever the horizon, as the rows read are the rows changed since the last read.
--
-- STABLE: the whole query runs in the calling statement's snapshot, so the rows, the erasures,
-- the horizon (that snapshot's oldest running transaction) and the closed pairs are read at
-- one instant, as the plain statement read them. The closed pairs are spelled as the partial
-- index `matches_closed_pairs_idx` spells them (migration 0006), so that the index is used.
CREATE FUNCTION mentor_changes(since bigint, also uuid[], closed_for uuid)
RETURNS TABLE (
    kind                text,
    version             integer,
    stamp               bigint,
    id                  uuid,
    languages           text[],
    skills              jsonb,
    was_engineer        boolean,
    industries          text[],
    timezone            text,
    capacity            integer,
    load                integer,
    accepting_mentees   boolean
)
LANGUAGE plpgsql STABLE
SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    SELECT 'mentor'::text, m.version, m.changed_in::text::bigint, m.id, m.languages, m.skills,
           m.was_engineer, m.industries, m.timezone, m.capacity, m.load, m.accepting_mentees
    FROM mentors m
    WHERE m.changed_in >= since::text::xid8 OR m.id = ANY(also)
    UNION ALL
    SELECT 'erased', NULL, e.erased_in::text::bigint, e.mentor_id,
           NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
    FROM mentor_erasures e
    WHERE e.erased_in >= since::text::xid8
    UNION ALL
    SELECT 'horizon', NULL, pg_snapshot_xmin(pg_current_snapshot())::text::bigint,
           (SELECT f.feed_id FROM mentor_feed f LIMIT 1),
           NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
    UNION ALL
    SELECT 'closed', NULL, NULL, c.mentor_id,
           NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
    FROM matches c
    WHERE c.mentee_id = closed_for
      AND (c.status IN ('declined', 'concluded') OR c.end_reason IN ('timeout'));
END
$$;

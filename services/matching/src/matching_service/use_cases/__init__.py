"""What the matcher does, by what people do:

- `profiles`: keep mentees' and mentors' profiles, re-evaluate open proposals when they change,
  forget a profile;
- `proposals`: propose mentors to waiting mentees and offer freed slots;
- `answers`: a proposal is accepted, declined, or lapses;
- `shortlists`: a mentee's suggestions, and the mentor the mentee picks from them;
- `rounds`: a cohort round for every waiting mentee at once.

Every use case runs inside one transaction that the caller owns (for events, the same one that
records the event as processed), so a redelivered event or a retried request changes nothing
twice. Row locks are taken mentee first, then match, then mentor (the order the database
sees in `reserve_slot` and `release_slot`); paths that cannot keep that order rely on
PostgreSQL's deadlock detection, and their callers retry.

Use cases work through ports (`ports.MatchingStore`, `ports.MentorPools`, `EventSink`) and the
`Matchmaker` the service builds at start-up; unit tests hand them fakes.
"""

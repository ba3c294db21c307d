"""What the mentorship services share.

`contracts` holds the event envelope, the event models, topic names and the skill taxonomy.
`plumbing` holds the delivery machinery every service uses the same way: settings, logging,
database pool and migrations, the transactional outbox and its relay, the processed-events
inbox, broker set-up and the health and metrics endpoints. Domain logic lives in the services.
"""

"""Pipeline benchmark: registrations through the public HTTP API, open loop at rising rates, until
both proposal mails reach the SMTP sink; set against the machine's own anchors.

    make bench                                            # default rates, 60 s each
    .venv/bin/python -m benchmarks.pipeline --quick --output /tmp/pipeline.md

For each rate it starts the four services that consume a registration (with an SMTP sink,
databases and topics of their own) on one embedded PostgreSQL and one Tansu broker, registers
enough mentors for every mentee of the step, then sends mentee registrations at the rate for
the step's duration and waits for the mail. It measures registrations accepted a second, the latency from the moment
a registration was due to leave to the later of its two mails (the mentee's and the mentor's),
registrations accepted whose mail never came, and the CPU time of every process of the stack
per registration. It stops after the first rate that fails (p99 at or above 1 s, a lost or
refused registration, or fewer than 95% of the offered registrations accepted a second).

Anchors, in the same run with the same tools: an aiokafka round trip through the same broker,
an asyncpg transaction writing a row plus an outbox row on the same PostgreSQL, and a FastAPI
hello-world served by the services' entry point and driven by the same load generator. The
report gives the pipeline's figures as ratios to them. It prints figures; it never asserts.

`plan` says what a run does, `stack` starts what it drives, `open_loop` sends the load, `steps`
runs one rate, `anchors` and `hello` measure the anchors, `report` renders each section and
`cli` runs them in order.
"""

"""The operator console: a small web server apart from the services, showing at a glance who
waits for a mentor, how full the mentors are, how proposals fare, which skills are missing,
whether mail goes out and whether events flow. It reads the services over HTTP (the matcher's
operator stats, everyone's /metrics) and keeps nothing.

    devstack console                  # against `make dev`'s services, on http://127.0.0.1:8090
    python -m devstack.console --matching-url http://127.0.0.1:8010

`devstack up` runs it with the services (:data:`devstack.services.SERVICES`).
"""

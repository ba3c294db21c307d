"""`python -m devstack.console`: the operator console (see the package's doc)."""

from devstack.console.app import main

raise SystemExit(main())

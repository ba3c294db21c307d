"""`python -m benchmarks.matching`, as `make bench-matching` runs it (see the package's doc)."""

from benchmarks.matching.cli import main

raise SystemExit(main())

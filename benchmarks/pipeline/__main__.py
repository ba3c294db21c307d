"""`python -m benchmarks.pipeline`, as `make bench` runs it (see the package's doc)."""

from benchmarks.pipeline.cli import main

raise SystemExit(main())

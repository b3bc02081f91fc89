"""`python -m bench`: run the benchmarks, print the table, write bench/RESULTS.md."""

from bench.cli import main

raise SystemExit(main())

"""`python -m bench`: run every benchmark scenario."""

from bench.run import main

raise SystemExit(main())

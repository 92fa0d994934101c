"""`python -m router` runs the omnirouter command."""

import sys

from router.cli import main

sys.exit(main())

"""`python -m copilot.cli`: the same as the `copilot` script (tests and servers start it so)."""

import sys

from copilot.cli import main

sys.exit(main())

"""`python -m ttcustom ...` is the `ttcustom` command."""

import sys

from ttcustom.cli import main

sys.exit(main())

"""`python -m synthgen`: the same as the `synthgen` command."""

import sys

from synthgen.cli import main

sys.exit(main())

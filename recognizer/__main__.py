"""`python -m recognizer`: the same as the `recognizer` command."""

import sys

from recognizer.cli import main

sys.exit(main())

"""The `recognizer` command line: the CRNN trainer's commands arrive with the recognizer issue."""

from __future__ import annotations

import argparse
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments; with no commands yet, print what exists and exit."""
    parser = argparse.ArgumentParser(
        prog="recognizer",
        description="CRNN word recognizer (train, eval, predict, export). No command is available in this version yet.",
    )
    parser.parse_args(argv)
    parser.print_help()
    return 2

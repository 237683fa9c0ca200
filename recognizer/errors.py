"""The recognizer's named errors (kept free of heavy imports: the command line catches them)."""

from __future__ import annotations


class CheckpointError(ValueError):
    """A file that is not a readable, safe checkpoint of this project; the message names the file and why."""

"""What the bench scripts share about `recognizer train` runs: the folder a run printed, and its chosen checkpoint."""

from __future__ import annotations

from pathlib import Path


def run_folder(output: str) -> Path:
    """The run folder named by the last `run: PATH` line of `recognizer train`'s output."""
    for line in reversed(output.splitlines()):
        if line.strip().startswith("run: "):
            return Path(line.strip()[len("run: "):].split()[0])
    raise RuntimeError("`recognizer train` printed no 'run: PATH' line")


def chosen_checkpoint(run: Path) -> Path:
    """best.pt (chosen on validation) when the run wrote one, else last.pt."""
    best = run / "checkpoints" / "best.pt"
    return best if best.exists() else run / "checkpoints" / "last.pt"

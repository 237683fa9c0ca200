"""What a corpus mix produces: source shares, lengths, character frequencies against the charset, rejections."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from synthgen.charset import Charset
from synthgen.corpus.balancer import character_shares
from synthgen.corpus.mixer import Rejections, TextSample


@dataclass(frozen=True)
class CorpusStatistics:
    """Figures over n drawn strings."""

    count: int
    source_shares: dict[str, float]
    length_counts: dict[int, int]  # characters per string -> strings
    character_shares: dict[str, float]  # over non-space characters, every charset character
    min_share: float
    rejections: Rejections

    @classmethod
    def measure(
        cls, samples: Sequence[TextSample], charset: Charset, min_share: float, rejections: Rejections
    ) -> "CorpusStatistics":
        """Count everything over the samples."""
        sources = Counter(sample.source for sample in samples)
        return cls(
            count=len(samples),
            source_shares={name: count / len(samples) for name, count in sources.most_common()},
            length_counts=dict(sorted(Counter(len(sample.text) for sample in samples).items())),
            character_shares=character_shares([sample.text for sample in samples], charset.visible),
            min_share=min_share,
            rejections=rejections,
        )

    def rarest(self, count: int = 5) -> list[tuple[str, float]]:
        """The least frequent charset characters with their shares."""
        return sorted(self.character_shares.items(), key=lambda item: item[1])[:count]

    def below_minimum(self) -> str:
        """Characters drawn, but under the minimum share."""
        return "".join(c for c, share in self.character_shares.items() if 0 < share < self.min_share)

    def never_drawn(self) -> str:
        """Charset characters that never appeared."""
        return "".join(c for c, share in self.character_shares.items() if share == 0)

    def report(self) -> str:
        """A plain-text report."""
        lines = [f"{self.count} strings"]
        lines.append("source shares:   " + ", ".join(f"{name} {share:.3f}" for name, share in self.source_shares.items()))
        lines.append("length (chars):  " + length_histogram(self.length_counts, self.count))
        lines.append("rarest 5:        " + ", ".join(f"{c!r} {share:.5f}" for c, share in self.rarest()))
        lines.append(f"under min share {self.min_share}: {self.below_minimum()!r}")
        lines.append(f"never drawn:     {self.never_drawn()!r}")
        rejected = {name: dict(counter) for name, counter in self.rejections.by_source.items()}
        lines.append(f"rejected:        {self.rejections.total()} {rejected}")
        if self.rejections.by_character:
            lines.append(f"outside charset: {dict(self.rejections.by_character.most_common(20))}")
        return "\n".join(lines)


def length_histogram(counts: dict[int, int], total: int, bucket: int = 5) -> str:
    """Share of strings per length bucket, e.g. `1-5 0.31 | 6-10 0.40 | ...`."""
    buckets: Counter = Counter()
    for length, count in counts.items():
        buckets[(max(length, 1) - 1) // bucket] += count
    return " | ".join(
        f"{index * bucket + 1}-{(index + 1) * bucket} {count / total:.3f}" for index, count in sorted(buckets.items())
    )


def plot_character_shares(before: CorpusStatistics, after: CorpusStatistics, path: str | Path) -> Path:
    """Bar chart of every charset character's share, before and after balancing, with the minimum marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    characters = list(after.character_shares)
    positions = range(len(characters))
    figure, axis = plt.subplots(figsize=(max(12, len(characters) * 0.16), 4.5))
    axis.bar([p - 0.2 for p in positions], [before.character_shares[c] for c in characters], 0.4, label="before")
    axis.bar([p + 0.2 for p in positions], [after.character_shares[c] for c in characters], 0.4, label="after")
    axis.axhline(after.min_share, color="red", linewidth=0.8, label=f"minimum share {after.min_share}")
    axis.set_yscale("log")
    axis.set_xticks(list(positions), [repr(c)[1:-1] for c in characters], fontsize=7)
    axis.set_ylabel("share of non-space characters")
    axis.set_title(f"Character frequencies before and after balancing ({after.count} strings)")
    axis.legend()
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path

"""What a lab writes: the comparison table (Markdown and JSON), the real-accuracy curves and the gallery of disagreements."""

from __future__ import annotations

import base64
import html
import statistics
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from recognizer.data import READING  # noqa: E402
from recognizer.lab import ArmRun, ArmSection, LabConfig, scored_reading  # noqa: E402
from recognizer.plots import save  # noqa: E402
from synthgen.datasets import open_dataset  # noqa: E402
from synthgen.files import write_json_atomically  # noqa: E402
from synthgen.paths import resolve_path  # noqa: E402

METRICS = ("accuracy_case_insensitive", "accuracy", "cer_case_insensitive")


def spread(values: list[float]) -> dict[str, Any]:
    """Mean, standard deviation over seeds (0 for one seed) and the values themselves."""
    return {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0,
            "values": values}


def summarize(lab: LabConfig, runs: list[ArmRun], scores: dict) -> dict[str, Any]:
    """Per arm: every seed's figures and, per real set and metric, the mean and spread over finished seeds. Runs
    scored by an older reading (records whose checkpoints are elsewhere) form their own row, never mixed in."""
    arms = []
    for arm in lab.arms:
        mine = [run for run in runs if run.arm.name == arm.name]
        finished = {run.seed: scores[(arm.name, run.seed)] for run in mine if (arm.name, run.seed) in scores}
        readings = sorted({scored_reading(figures) for figures in finished.values()} - {READING}, reverse=True)
        for reading in (READING, *readings):
            group = {seed: figures for seed, figures in finished.items() if scored_reading(figures) == reading}
            arms.append(arm_summary(lab, arm, mine[0].key[:10], group, reading))
    first = runs[0].config
    return {
        "lab": lab.name, "budget": lab.budget, "steps": first.steps, "batch_size": first.data.batch_size,
        "preset": first.model.preset, "seeds": list(lab.seeds), "recipe": lab.recipe,
        "recipe_overrides": list(lab.recipe_overrides),
        "validation": {"config": lab.validation.config, "overrides": list(lab.validation.overrides),
                       "samples": lab.validation_samples},
        "real": {name: str(path) for name, path in lab.real.items()}, "reading": READING, "arms": arms,
    }


def arm_summary(lab: LabConfig, arm: ArmSection, key: str, finished: dict[int, dict], reading: int) -> dict[str, Any]:
    """One row of the table: an arm's runs scored by one reading."""
    sets = {name: {metric: spread([figures["sets"][name][metric] for figures in finished.values()]) for metric in METRICS}
            if finished else None for name in lab.real}
    return {
        "name": arm.name if reading == READING else f"{arm.name} (reading {reading})", "arm": arm.name,
        "reading": reading, "description": arm.description,
        "source": arm.synthetic if arm.synthetic is not None else arm.dataset,
        "overrides": list(arm.overrides), "key": key,
        "seeds_finished": sorted(finished), "seeds": {str(seed): without_predictions(figures) for seed, figures in finished.items()},
        "samples_per_second": statistics.fmean(f["samples_per_second"] for f in finished.values()) if finished else None,
        "sets": sets,
    }


def without_predictions(figures: dict[str, Any]) -> dict[str, Any]:
    """A run's figures without the per-crop readings (they feed the gallery, not the table)."""
    sets = {name: {key: value for key, value in point.items() if key != "predictions"} for name, point in figures["sets"].items()}
    return {**figures, "sets": sets}


def figure(value: dict | None, metric: str) -> str:
    """mean ± spread of one metric, or a dash when no seed has finished."""
    if value is None:
        return "-"
    cell = value[metric]
    return f"{cell['mean']:.3f} ± {cell['std']:.3f}" if len(cell["values"]) > 1 else f"{cell['mean']:.3f}"


def markdown(summary: dict[str, Any]) -> str:
    """The headline table (case-insensitive accuracy per arm and real set) and one detailed table per set."""
    sets = list(summary["real"])
    lines = [
        f"# Lab `{summary['lab']}`", "",
        f"Budget: {summary['budget']:,} samples per run ({summary['steps']:,} steps of {summary['batch_size']}), "
        f"`{summary['preset']}` preset, seeds {', '.join(map(str, summary['seeds']))}. The checkpoint is chosen on "
        f"synthetic validation only (held-out fonts of `{summary['validation']['config'] or 'built-in defaults'}`), "
        "never on a real set. Figures: mean ± standard deviation over the finished seeds. Crops are read as "
        f"`recognizer predict` reads them (reading {summary['reading']})." + older_readings(summary), "",
        "| arm | " + " | ".join(f"{name} (case-insensitive)" for name in sets) + " | samples/s | seeds |",
        "|---|" + "---|" * (len(sets) + 2),
    ]
    for arm in summary["arms"]:
        speed = f"{arm['samples_per_second']:.0f}" if arm["samples_per_second"] else "-"
        cells = [figure(arm["sets"][name], "accuracy_case_insensitive") for name in sets]
        lines.append(f"| {arm['name']} | " + " | ".join(cells) + f" | {speed} | {len(arm['seeds_finished'])} |")
    for name in sets:
        lines += ["", f"## {name}: `{summary['real'][name]}`", "",
                  "| arm | accuracy, case-insensitive | accuracy, exact | CER, case-insensitive |", "|---|---|---|---|"]
        for arm in summary["arms"]:
            lines.append(f"| {arm['name']} | " + " | ".join(figure(arm["sets"][name], m) for m in METRICS) + " |")
    lines += ["", "## Arms", ""]
    for arm in summary["arms"]:
        overrides = f" with `{' '.join(arm['overrides'])}`" if arm["overrides"] else ""
        lines.append(f"- **{arm['name']}**: `{arm['source']}`{overrides}. {arm['description']}".rstrip())
    return "\n".join(lines) + "\n"


def older_readings(summary: dict[str, Any]) -> str:
    """A sentence on rows scored by an older reading, or nothing when there are none."""
    if all(arm["reading"] == summary["reading"] for arm in summary["arms"]):
        return ""
    return (" Rows marked *(reading 1)* hold runs whose checkpoints are on another machine, scored before that: each "
            "batch widened to its labels' length and no paper after the crop. They are not comparable with the "
            "others; retraining them (or scoring their checkpoints here) moves them into their arm's row.")


def plot_curves(summary: dict[str, Any], path: Path) -> Path:
    """Real accuracy against samples seen, one panel per real set, one line per arm (band: lowest to highest seed)."""
    sets = list(summary["real"])
    columns = max(1, len(sets))
    plot, axes = plt.subplots(1, columns, figsize=(5.5 * columns, 4.2), squeeze=False)
    for axis, name in zip(axes[0], sets):
        for arm in summary["arms"]:
            curves = [seed["curves"][name] for seed in arm["seeds"].values()]
            if not curves:
                continue
            length = min(len(curve) for curve in curves)
            samples = [curves[0][i][0] / 1000 for i in range(length)]
            values = [[curve[i][1] for curve in curves] for i in range(length)]
            line, = axis.plot(samples, [statistics.fmean(v) for v in values], marker="o", ms=3, label=arm["name"])
            if len(curves) > 1:
                axis.fill_between(samples, [min(v) for v in values], [max(v) for v in values], color=line.get_color(), alpha=0.15)
        axis.set(title=name, xlabel="thousand samples seen", ylabel="word accuracy (case-insensitive)", ylim=(0, 1))
        axis.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8, loc="lower right")
    return save(plot, path)


def crop_data(data: bytes) -> str:
    """A data URI of an encoded crop (PNG or JPEG bytes as stored)."""
    kind = "jpeg" if data[:3] == b"\xff\xd8\xff" else "png"
    return f"data:image/{kind};base64," + base64.b64encode(data).decode()


def disagreements(predictions: dict[str, list[str]], truths: list[str], limit: int) -> list[int]:
    """Positions where some arms read the crop right (case-insensitively) and others wrong, spread over the set."""
    contested = [position for position, truth in enumerate(truths)
                 if len({predictions[arm][position].casefold() == truth.casefold() for arm in predictions}) > 1]
    if len(contested) <= limit:
        return contested
    return [contested[round(i * (len(contested) - 1) / max(limit - 1, 1))] for i in range(limit)]


def write_gallery(summary: dict[str, Any], scores: dict, path: Path, limit: int) -> Path:
    """An HTML page per lab: for each real set, crops the arms disagree on, with every arm's reading."""
    parts = [f"<!doctype html><meta charset='utf-8'><title>{html.escape(summary['lab'])}: disagreements</title>",
             "<style>body{font-family:sans-serif}td{padding:3px 8px;border-bottom:1px solid #ddd}"
             ".right{background:#d8f5d0}.wrong{background:#f8d4d4}code{font-size:14px}img{height:40px}</style>",
             f"<h1>{html.escape(summary['lab'])}: where the arms disagree</h1>",
             "<p>Each arm's reading with the checkpoint chosen on synthetic validation, lowest finished seed; "
             "green is right (case-insensitive), red wrong.</p>"]
    for name, location in summary["real"].items():
        chosen_sets = {arm["name"]: scores[(arm["arm"], min(arm["seeds_finished"]))]["sets"][name]
                       for arm in summary["arms"] if arm["seeds_finished"]}
        arms = {arm: figures["predictions"] for arm, figures in chosen_sets.items()
                if "predictions" in figures}  # records rebuilt from a published table have none
        if len(arms) < 2:
            continue
        reader = open_dataset(resolve_path(location))
        truths = reader.labels()
        chosen = disagreements(arms, truths, limit)
        parts.append(f"<h2>{html.escape(name)}: {len(chosen)} crops shown</h2><table><tr><th>crop</th><th>truth</th>"
                     + "".join(f"<th>{html.escape(arm)}</th>" for arm in arms) + "</tr>")
        for position in chosen:
            truth = truths[position]
            cells = "".join(
                f"<td class='{'right' if arms[arm][position].casefold() == truth.casefold() else 'wrong'}'>"
                f"<code>{html.escape(arms[arm][position]) or '&empty;'}</code></td>" for arm in arms)
            parts.append(f"<tr><td><img src='{crop_data(reader.raw(position)[0])}'></td>"
                         f"<td><code>{html.escape(truth)}</code></td>{cells}</tr>")
        parts.append("</table>")
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


def write_report(lab: LabConfig, runs: list[ArmRun], scores: dict) -> dict[str, Any]:
    """results.json, results.md, curves.png and disagreements.html under the lab's folder; returns the summary."""
    out = Path(lab.out)
    out.mkdir(parents=True, exist_ok=True)
    summary = summarize(lab, runs, scores)
    write_json_atomically(out / "results.json", summary)
    (out / "results.md").write_text(markdown(summary), encoding="utf-8")
    if lab.real:
        plot_curves(summary, out / "curves.png")
        write_gallery(summary, scores, out / "disagreements.html", lab.gallery_limit)
    return summary

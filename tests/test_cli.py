"""The command line, run the way a user runs it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from synthgen.cli import main
from synthgen.paths import PROJECT_ROOT

ONLY_MATPLOTLIB = ["--set", "fonts.system_fonts=false", "--set", "fonts.font_dirs=[]"]


def test_fonts_audit_writes_json_sheet_and_html(planted_fonts, tmp_path, capsys):
    out = tmp_path / "out"
    cache = ["--set", f"fonts.audit_cache={tmp_path / 'cache'}"]
    code = main(
        ["fonts", "audit", str(next(iter(planted_fonts.values())).parent), "--json", str(out / "audit.json"),
         "--sheet", str(out / "sheet.png"), "--html", str(out / "sheet.html"), *cache]
    )
    assert code == 0
    document = json.loads((out / "audit.json").read_text(encoding="utf-8"))
    assert len(document["fonts"]) == len(planted_fonts)
    assert (out / "sheet.png").stat().st_size > 0
    assert "Planted Swapped" in (out / "sheet.html").read_text(encoding="utf-8")
    assert "by status:" in capsys.readouterr().out


def test_fonts_list_prints_probabilities_that_sum_to_one(tmp_path, capsys):
    code = main(["fonts", "list", *ONLY_MATPLOTLIB, "--set", f"fonts.audit_cache={tmp_path / 'cache'}"])
    assert code == 0
    lines = capsys.readouterr().out.splitlines()
    rows = [line for line in lines if re.match(r"\s*\d+\.\d+\s", line)]
    assert rows and abs(sum(float(row.split()[0]) for row in rows) - 1.0) < 1e-3
    assert any("DejaVu Sans" in row for row in rows)
    assert not any("cmsy10" in row for row in rows)  # a symbol face is never usable


def test_config_errors_exit_with_a_message(capsys):
    assert main(["fonts", "list", "--set", "fonts.bold_rat=0.1"]) == 2
    assert "unknown key 'bold_rat'" in capsys.readouterr().err


def test_audit_of_a_folder_without_fonts_is_an_error(tmp_path, capsys):
    assert main(["fonts", "audit", str(tmp_path), "--json", str(tmp_path / "a.json")]) == 2
    assert "no font files" in capsys.readouterr().err


def test_python_dash_m_entry_points_run():
    for module in ("synthgen", "recognizer"):
        result = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True, cwd=PROJECT_ROOT)
        assert result.returncode == 0 and "usage" in result.stdout


def test_corpus_sample_is_reproducible_and_prints_jsonl(capsys):
    arguments = ["corpus", "sample", "-n", "12", "--seed", "4", "--set", "corpus.balance.enabled=false"]
    assert main(arguments) == 0
    first = capsys.readouterr().out.splitlines()
    assert main(arguments) == 0
    assert capsys.readouterr().out.splitlines() == first and len(first) == 12
    assert main([*arguments, "--jsonl"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [row["text"] for row in rows] == first and all(row["source"] for row in rows)


def test_corpus_stats_reports_and_plots(tmp_path, capsys):
    plot = tmp_path / "chars.png"
    assert main(["corpus", "stats", "configs/receipt.yaml", "-n", "2000", "--plot", str(plot)]) == 0
    out = capsys.readouterr().out
    assert "before balancing" in out and "after balancing" in out and "source shares:" in out and "rarest 5:" in out
    assert plot.stat().st_size > 10000


def test_write_refuses_a_non_empty_folder_and_names_the_cause(tmp_path, capsys):
    (tmp_path / "keep.txt").write_text("mine")
    assert main(["write", "--count", "5", "--out", str(tmp_path)]) == 2
    assert "not empty" in capsys.readouterr().err and (tmp_path / "keep.txt").exists()
    assert main(["write", "--count", "5", "--out", str(tmp_path / "x"), "--shard", "3/2"]) == 2
    assert "--shard" in capsys.readouterr().err


def untrained_checkpoint(path: Path) -> Path:
    """A freshly initialised `tiny` checkpoint over the project's charset."""
    import torch

    from recognizer.checkpoints import save_checkpoint
    from recognizer.config import TrainConfig
    from recognizer.model import build_model, model_config
    from recognizer.trainer import TrainingState, checkpoint_payload
    from synthgen.charset import Charset
    from synthgen.codec import Codec

    codec = Codec(Charset.from_file(PROJECT_ROOT / "corpora" / "charset.txt"))
    model = build_model(model_config("tiny", codec.classes))
    optimizer = torch.optim.AdamW(model.parameters())
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    save_checkpoint(path, checkpoint_payload(model, optimizer, scheduler, TrainingState(), TrainConfig(), codec))
    return path


def crops_folder(folder: Path, labels: list[str]) -> Path:
    """White 32x60 crops with the given labels, as a folder dataset."""
    import cv2
    import numpy as np

    folder.mkdir()
    for number in range(len(labels)):
        cv2.imwrite(str(folder / f"{number}.png"), np.full((32, 60), 255, np.uint8))
    (folder / "labels.tsv").write_text("".join(f"{n}.png\t{label}\n" for n, label in enumerate(labels)), encoding="utf-8")
    return folder


def test_recognizer_refuses_labels_outside_its_charset_with_counts(tmp_path, capsys):
    from recognizer.cli import main as recognizer_main

    untrained_checkpoint(tmp_path / "model.pt")
    data = crops_folder(tmp_path / "data", ["naïve", "œuvre ï"])
    assert recognizer_main(["eval", str(tmp_path / "model.pt"), str(data)]) == 2
    error = capsys.readouterr().err
    assert "2 label(s)" in error and "'ï' x2" in error and "'œ' x1" in error
    assert recognizer_main(["predict", str(tmp_path / "model.pt"), str(data / "0.png"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[0])["image"].endswith("0.png")


def test_eval_reports_the_ece_beside_its_noise_floor_and_calibrate_refuses_a_set_it_cannot_fit(tmp_path, capsys):
    from recognizer.cli import main as recognizer_main
    from recognizer.data import READING

    model = untrained_checkpoint(tmp_path / "model.pt")
    data = crops_folder(tmp_path / "data", ["TOTAL", "12.99", "RM", ":"] * 6)
    assert recognizer_main(["eval", str(model), str(data), "--json", str(tmp_path / "report.json")]) == 0
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    mean, high = report["ece_noise"]
    assert 0.0 <= mean <= high <= 1.0 and 0.0 <= report["ece"] <= 1.0
    assert report["reading"] == READING  # which reading scored it: figures of two readings must not be compared
    assert f"a perfectly calibrated model would measure {mean:.3f}" in capsys.readouterr().out
    code = recognizer_main(["calibrate", str(model), str(data), "--out", str(tmp_path / "calibrated.pt")])
    assert code == 2 and "cannot fit a calibration" in capsys.readouterr().err  # an untrained model is wrong on every crop
    assert not (tmp_path / "calibrated.pt").exists()

"""The command line, run the way a user runs it."""

from __future__ import annotations

import json
import re
import subprocess
import sys

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

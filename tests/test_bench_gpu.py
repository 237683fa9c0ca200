"""bench/gpu.py, the script a GPU session runs, stays runnable: end to end on a CPU with a tiny step count."""

from __future__ import annotations

import json
import subprocess
import sys

from synthgen.paths import PROJECT_ROOT


def test_gpu_bench_runs_end_to_end_on_cpu(tmp_path):
    cache = tmp_path / "audit-cache"
    fonts = ["fonts.system_fonts=false", "fonts.font_dirs=[]", f"fonts.audit_cache={cache}"]
    real = tmp_path / "real"
    subprocess.run([sys.executable, "-m", "synthgen", "write", "--count", "6", "--format", "folder", "--out", str(real),
                    *[item for o in fonts for item in ("--set", o)]], cwd=PROJECT_ROOT, check=True, capture_output=True)
    command = [sys.executable, "bench/gpu.py", "--device", "cpu", "--precision", "fp32", "--presets", "tiny", "--steps", "2",
               "--batch", "4", "--workers", "0", "--runs", str(tmp_path / "runs"), "--real", str(real),
               *[item for o in fonts for item in ("--synthgen-set", o)]]
    output = subprocess.run(command, cwd=PROJECT_ROOT, check=True, capture_output=True, text=True).stdout
    rows = json.loads((tmp_path / "runs" / "gpu-summary.json").read_text())
    assert [row["preset"] for row in rows] == ["tiny"]
    assert rows[0]["samples_per_second"] > 0 and 0 <= rows[0]["data_wait_share"] <= 1
    assert "glyph atlases of" in output and list((cache / "glyphs").iterdir()), "atlases drawn before training"
    assert rows[0]["real"]["crops"] == 6
    assert "on 6 crops" in output.splitlines()[-3]  # the table's row, after the header

"""bench/gpu_bundle.py packs the most likely faces under a size budget, the audit cache and real crops, and unpacks them."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile

from synthgen.paths import PROJECT_ROOT


def test_a_bundle_carries_the_likeliest_faces_within_budget_and_unpacks_into_a_project(tmp_path):
    cache = tmp_path / "audit-cache"
    overrides = ["fonts.system_fonts=false", "fonts.font_dirs=[]", f"fonts.audit_cache={cache}"]
    real = tmp_path / "words"
    subprocess.run([sys.executable, "-m", "synthgen", "write", "--count", "3", "--format", "folder", "--out", str(real),
                    *[item for o in overrides for item in ("--set", o)]], cwd=PROJECT_ROOT, check=True, capture_output=True)
    bundle = tmp_path / "bundle"
    budget_mib = 1.5
    subprocess.run([sys.executable, "bench/gpu_bundle.py", "--out", str(bundle), "--font-mib", str(budget_mib),
                    "--real", str(real), *[item for o in overrides for item in ("--synthgen-set", o)]],
                   cwd=PROJECT_ROOT, check=True, capture_output=True)
    summary = json.loads((bundle / "bundle.json").read_text())
    with tarfile.open(bundle / "fonts.tar.xz") as archive:
        members = archive.getmembers()
    assert 0 < len(members) == summary["font_files"] < summary["faces_in_config"]
    assert sum(member.size for member in members) <= budget_mib * 2**20
    assert 0 < summary["face_probability_carried"] < 1

    project = tmp_path / "project"
    subprocess.run([sys.executable, "bench/gpu_bundle.py", "--unpack", str(bundle), "--root", str(project)],
                   cwd=PROJECT_ROOT, check=True, capture_output=True)
    assert sorted(p.name for p in (project / "fonts" / "carried").iterdir()) == sorted(m.name for m in members)
    assert len(list((project / "fonts" / ".audit-cache").glob("*.json"))) == len(list(cache.glob("*.json"))) > 0
    assert (bundle / "real" / "words" / "labels.tsv").read_text() == (real / "labels.tsv").read_text()

"""The audit flags exactly the defects planted in fonts built with fontTools, and nothing else."""

from __future__ import annotations

import json
import string

import pytest
from font_factory import PLANTED

from synthgen.fonts.audit import FontReport, AuditCache, audit_face, audit_faces, write_audit_json
from synthgen.fonts.files import discover_faces


def audit_one(path, charset):
    (face,) = discover_faces([path])
    return audit_face(face, charset)


@pytest.mark.parametrize("maker", list(PLANTED), ids=lambda maker: maker.__name__)
def test_audit_flags_exactly_the_planted_problems(maker, planted_fonts, charset):
    report = audit_one(planted_fonts[maker.__name__], charset)
    found = {problem.code: set(problem.chars) for problem in report.problems}
    assert found == {code: set(chars) for code, chars in PLANTED[maker].items()}


def test_a_good_face_is_ok_for_the_whole_charset(planted_fonts, charset):
    report = audit_one(planted_fonts["good_font"], charset)
    assert report.status == "ok"
    assert report.coverage == charset.characters
    assert report.family == "Planted Good"


def test_missing_glyphs_restrict_coverage_and_are_grouped_by_class(planted_fonts, charset):
    report = audit_one(planted_fonts["missing_digits_font"], charset)
    assert report.status == "restricted"
    assert not set(string.digits) & set(report.coverage)
    assert "digits: 0123456789" in report.problems[0].detail


def test_caps_faces_are_restricted_to_upper_case_text(planted_fonts, charset):
    for name in ("caps_only_font", "small_caps_font"):
        report = audit_one(planted_fonts[name], charset)
        assert report.status == "restricted"
        assert report.case_policy == "upper"
        assert set(string.ascii_uppercase) <= set(report.coverage)
        assert not set(string.ascii_lowercase) & set(report.coverage)


def test_symbol_faces_are_rejected(planted_fonts, charset):
    report = audit_one(planted_fonts["symbol_font"], charset)
    assert report.status == "rejected"
    assert "wrong_glyphs" in report.problem_codes()
    assert report.coverage == ""  # a rejected face may be used for nothing, so its report lists nothing
    cached = FontReport.from_json({**report.to_json(), "coverage": "abc"})  # a report cached before that rule
    assert cached.coverage == ""


def test_unreadable_files_are_rejected_without_crashing(planted_fonts, charset):
    for name in ("truncated_font", "not_a_font"):
        report = audit_one(planted_fonts[name], charset)
        assert report.status == "rejected"
        assert report.problem_codes() == ["unreadable"]
        assert report.coverage == ""


def test_audit_json_has_the_documented_shape(planted_fonts, charset, tmp_path):
    faces = discover_faces(planted_fonts.values())
    reports = audit_faces(faces, charset, progress=False, workers=1)
    write_audit_json(reports, charset, tmp_path / "audit.json")
    document = json.loads((tmp_path / "audit.json").read_text(encoding="utf-8"))
    assert document["charset"] == charset.characters
    assert len(document["fonts"]) == len(planted_fonts)
    for entry in document["fonts"]:
        assert {"path", "face", "family", "style", "status", "problems", "coverage"} <= set(entry)
        assert entry["status"] in ("ok", "restricted", "rejected")
        for problem in entry["problems"]:
            assert set(problem) == {"code", "chars", "detail"}


def test_cached_reports_are_reused_and_follow_the_file(planted_fonts, charset, tmp_path):
    cache = AuditCache(tmp_path / "cache")
    faces = discover_faces([planted_fonts["good_font"], planted_fonts["symbol_font"]])
    first = audit_faces(faces, charset, cache, progress=False)
    assert len(list((tmp_path / "cache").glob("*.json"))) == 2
    moved = tmp_path / "moved.ttf"
    moved.write_bytes(planted_fonts["good_font"].read_bytes())
    (face,) = discover_faces([moved])
    cached = cache.load(face, charset)
    assert cached is not None and cached.path == str(moved)
    assert cached.status == first[0].status and cached.coverage == first[0].coverage


def test_a_cache_folder_that_cannot_be_written_warns_once_and_the_audit_goes_on(planted_fonts, charset, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    faces = discover_faces([planted_fonts["good_font"], planted_fonts["symbol_font"]])
    with pytest.warns(RuntimeWarning, match="cannot be kept") as warned:
        reports = audit_faces(faces, charset, AuditCache(blocker / "cache"), progress=False, workers=1)
    assert len(warned) == 1
    assert [report.status for report in reports] == [report.status for report in audit_faces(faces, charset, progress=False, workers=1)]


def test_parallel_audit_matches_serial_audit(planted_fonts, charset):
    faces = discover_faces(planted_fonts.values())
    serial = audit_faces(faces, charset, progress=False, workers=1)
    parallel = audit_faces(faces * 2, charset, progress=False, workers=2)
    assert parallel[: len(faces)] == serial



def test_discovery_reads_every_face_of_a_collection_and_counts_copies_once(planted_fonts, tmp_path):
    from fontTools.ttLib import TTCollection, TTFont

    collection = TTCollection()
    collection.fonts = [TTFont(str(planted_fonts["good_font"])), TTFont(str(planted_fonts["caps_only_font"]))]
    collection.save(str(tmp_path / "pair.ttc"))
    (tmp_path / "copy").mkdir()
    (tmp_path / "copy" / "same.ttf").write_bytes(planted_fonts["good_font"].read_bytes())
    (tmp_path / "copy" / "again.TTF").write_bytes(planted_fonts["good_font"].read_bytes())
    (tmp_path / "notes.txt").write_text("not a font", encoding="utf-8")
    faces = discover_faces([tmp_path])
    assert sorted((face.path.endswith(".ttc"), face.index) for face in faces) == [(False, 0), (True, 0), (True, 1)]


def test_each_face_of_a_collection_is_audited_on_its_own(planted_fonts, charset, tmp_path):
    from fontTools.ttLib import TTCollection, TTFont

    collection = TTCollection()
    collection.fonts = [TTFont(str(planted_fonts["good_font"])), TTFont(str(planted_fonts["caps_only_font"]))]
    collection.save(str(tmp_path / "pair.ttc"))
    reports = [audit_face(face, charset) for face in discover_faces([tmp_path / "pair.ttc"])]
    assert [(report.family, report.status, report.case_policy) for report in reports] == [
        ("Planted Good", "ok", "any"),
        ("Planted Caps", "restricted", "upper"),
    ]

"""The font validity audit: which characters each face can really draw, and why not the others."""

from __future__ import annotations

import json
import logging
import os
import string
import warnings
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from multiprocessing import get_context
from pathlib import Path

import numpy as np
from fontTools.ttLib import TTFont
from tqdm import tqdm

from synthgen.charset import Charset
from synthgen.files import write_bytes_atomically
from synthgen.fonts.files import FontFace
from synthgen.fonts.shapes import (
    RENDER_SIZE,
    Glyph,
    box_vector,
    cap_height,
    load_font,
    reference_shapes,
    render_glyph,
    shape_vector,
)

AUDIT_VERSION = 4  # bump when the audit's rules change, so cached results are redone
SHARED_BITMAP_MIN = 4  # this many different characters (case aside) drawn as one bitmap: a placeholder box
WRONG_MARGIN = 0.2  # a glyph this much closer to another character's references than to its own is wrong
UNRECOGNISABLE = 0.35  # a glyph correlating less than this with its own references is not that character
SYMBOL_FACE_SHARE = 0.4  # this share of letters and digits wrong: a symbol or dingbat face
CASE_MATCH_SIMILARITY = 0.93  # lowercase this close in shape to its capital is a capital form
CASE_MATCH_MIN = 18  # of 26 letters matching their capital: a caps-only or small-caps face
MIN_SPACE_ADVANCE = 0.12  # of an em: a narrower space does not separate words
ALPHABET_MIN = 20  # a face drawing fewer distinct letters (either case) is rejected
NOTDEF_PROBES = ("\U0010fffd", "\ue000", "\ufffe", "\U000e0fff")  # code points fonts almost never map
logging.getLogger("fontTools").setLevel(logging.ERROR)  # its timestamp warnings would bury the progress bar
PROBLEM_CODES = ("unreadable", "missing_glyphs", "tofu", "empty_glyphs", "case_mismatch", "wrong_glyphs")


@dataclass(frozen=True)
class Problem:
    """One kind of defect found in a face, with the characters it affects."""

    code: str
    chars: str
    detail: str


@dataclass(frozen=True)
class FontReport:
    """What the audit found for one face: status, problems, and the characters it may be used for."""

    path: str
    face: int
    sha256: str
    family: str
    style: str
    status: str  # ok | restricted | rejected
    problems: tuple[Problem, ...]
    coverage: str
    case_policy: str = "any"  # any | upper (the face draws capitals for lowercase letters)
    bold: bool = False
    italic: bool = False
    audit_version: int = AUDIT_VERSION
    charset_fingerprint: str = ""

    @property
    def usable(self) -> bool:
        """Whether the sampler may draw this face for some strings."""
        return self.status != "rejected"

    def problem_codes(self) -> list[str]:
        """The codes of this face's problems, in audit order."""
        return [problem.code for problem in self.problems]

    def to_json(self) -> dict:
        """Plain data in the audit JSON shape."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "FontReport":
        """Rebuild a report from its JSON form."""
        problems = tuple(Problem(**problem) for problem in data.get("problems", ()))
        coverage = "" if data.get("status") == "rejected" else data.get("coverage", "")  # reports cached before the rule
        return cls(**{**data, "problems": problems, "coverage": coverage})


@dataclass
class FaceNames:
    """Names and style flags read from a face's tables."""

    family: str = "unknown"
    style: str = "unknown"
    bold: bool = False
    italic: bool = False
    cmap: dict[int, str] = field(default_factory=dict)


def audit_face(face: FontFace, charset: Charset) -> FontReport:
    """Audit one face against the charset; never raises for a broken font."""
    try:
        names = read_face_names(face)
        font = load_font(face.path, face.index)
        glyphs = {character: render_glyph(font, character) for character in charset.visible}
        unmapped = [probe for probe in NOTDEF_PROBES if ord(probe) not in names.cmap]
        notdef = render_glyph(font, unmapped[0]) if unmapped else None
        space_advance = font.getlength(" ") / RENDER_SIZE
    except Exception as error:  # noqa: BLE001 - any failure to parse or draw means the file is unusable
        return unreadable_report(face, charset, f"{type(error).__name__}: {error}")
    return judge_face(face, charset, names, glyphs, notdef, space_advance)


def unreadable_report(face: FontFace, charset: Charset, detail: str) -> FontReport:
    """The report of a face that cannot be parsed or drawn."""
    return FontReport(
        path=face.path,
        face=face.index,
        sha256=face.sha256,
        family="unknown",
        style="unknown",
        status="rejected",
        problems=(Problem("unreadable", "", detail[:300]),),
        coverage="",
        charset_fingerprint=charset.fingerprint,
    )


def read_face_names(face: FontFace) -> FaceNames:
    """Family, style, bold/italic flags and the character map of a face, via fontTools."""
    with TTFont(face.path, fontNumber=face.index, lazy=True) as font:
        table = font["name"]
        family = name_record(table, 16) or name_record(table, 1) or Path(face.path).stem
        style = name_record(table, 17) or name_record(table, 2) or "Regular"
        cmap = font.getBestCmap() or {}
        selection = font["OS/2"].fsSelection if "OS/2" in font else 0
        weight = font["OS/2"].usWeightClass if "OS/2" in font else 400
        mac_style = font["head"].macStyle if "head" in font else 0
    lowered = style.lower()
    bold = bool(selection & 0x20 or mac_style & 1 or weight >= 600 or "bold" in lowered or "black" in lowered)
    italic = bool(selection & 1 or mac_style & 2 or "italic" in lowered or "oblique" in lowered)
    return FaceNames(family.strip(), style.strip(), bold, italic, dict(cmap))


def name_record(table, name_id: int) -> str | None:
    """A name-table string, preferring the Windows English record."""
    record = table.getName(name_id, 3, 1, 0x409) or table.getName(name_id, 1, 0, 0)
    if record is None:
        return None
    try:
        return record.toUnicode().strip() or None
    except UnicodeDecodeError:
        return None


def judge_face(
    face: FontFace,
    charset: Charset,
    names: FaceNames,
    glyphs: dict[str, Glyph],
    notdef: Glyph | None,
    space_advance: float,
) -> FontReport:
    """Apply every check to the drawn glyphs and decide the face's status and coverage."""
    missing = "".join(character for character in charset.characters if ord(character) not in names.cmap)
    present = {character: glyph for character, glyph in glyphs.items() if character not in missing}
    tofu = find_tofu(present, names.cmap, notdef)
    drawn = {character: glyph for character, glyph in present.items() if character not in tofu}
    empty = "".join(character for character, glyph in drawn.items() if not glyph.has_ink)
    if " " in charset and " " not in missing and space_advance < MIN_SPACE_ADVANCE:
        empty = " " + empty  # a space without width would join two words the label keeps apart
    inked = {character: glyph for character, glyph in drawn.items() if glyph.has_ink}
    case_matched = find_case_matches(inked)
    if case_matched:  # capitals in lowercase slots are the case policy's business, not wrong glyphs
        inked = {character: glyph for character, glyph in inked.items() if character not in case_matched}
    wrong = find_wrong_glyphs(inked, charset)
    problems = [
        problem
        for problem in (
            grouped_problem("missing_glyphs", missing, charset, "not in the character map"),
            grouped_problem("tofu", tofu, charset, "drawn as the .notdef box or a bitmap shared by many characters"),
            grouped_problem("empty_glyphs", empty, charset, "characters drawn with no ink (or a space with no width)"),
            case_problem(case_matched),
            grouped_problem("wrong_glyphs", wrong, charset, "drawn as another character or a symbol"),
        )
        if problem is not None
    ]
    excluded = set(missing + tofu + empty + wrong)
    if case_matched:
        excluded |= set(string.ascii_lowercase)
    coverage = "".join(character for character in charset.characters if character not in excluded)
    status = decide_status(charset, coverage, wrong, inked)
    return FontReport(
        path=face.path,
        face=face.index,
        sha256=face.sha256,
        family=names.family,
        style=names.style,
        status=status,
        problems=tuple(problems),
        coverage="" if status == "rejected" else coverage,  # what the face may be used for: nothing once rejected
        case_policy=case_policy(coverage, bool(case_matched)),
        bold=names.bold,
        italic=names.italic,
        charset_fingerprint=charset.fingerprint,
    )


def find_tofu(glyphs: dict[str, Glyph], cmap: dict[int, str], notdef: Glyph | None) -> str:
    """Characters mapped to .notdef, drawn like .notdef, or sharing one bitmap with many other characters."""
    by_bitmap: dict[bytes, list[str]] = defaultdict(list)
    for character, glyph in glyphs.items():
        if glyph.has_ink:
            by_bitmap[glyph.fingerprint].append(character)
    shared = {
        character
        for group in by_bitmap.values()
        if len({member.casefold() for member in group}) >= SHARED_BITMAP_MIN
        for character in group
    }
    notdef_like = set(by_bitmap.get(notdef.fingerprint, ())) if notdef and notdef.has_ink else set()
    mapped_to_notdef = {character for character in glyphs if cmap.get(ord(character)) in (".notdef", "glyph0")}
    flagged = shared | notdef_like | mapped_to_notdef
    return "".join(character for character in glyphs if character in flagged)


def find_case_matches(glyphs: dict[str, Glyph]) -> str:
    """Every drawn lowercase letter when most are drawn as their capital (same shape at any size), else none."""
    pairs = [(lower, lower.upper()) for lower in string.ascii_lowercase if lower in glyphs and lower.upper() in glyphs]
    matched = [
        lower for lower, upper in pairs if float(box_vector(glyphs[lower]) @ box_vector(glyphs[upper])) >= CASE_MATCH_SIMILARITY
    ]
    return "".join(lower for lower, _ in pairs) if len(matched) >= CASE_MATCH_MIN else ""


def find_wrong_glyphs(glyphs: dict[str, Glyph], charset: Charset) -> str:
    """Characters whose drawing looks much more like another character, or like no character at all."""
    references = reference_shapes(charset.visible)
    cap_pixels = cap_height(glyphs)
    judged = [character for character in glyphs if character in references.characters]
    if not judged:
        return ""
    scores = references.similarities(np.stack([shape_vector(glyphs[character], cap_pixels) for character in judged]))
    own_columns = [references.characters.index(character) for character in judged]
    rows = np.arange(len(judged))
    own = scores[rows, own_columns]
    scores[rows, own_columns] = -np.inf
    closest_other = scores.max(axis=1)
    wrong = (own < UNRECOGNISABLE) | (closest_other - own > WRONG_MARGIN)
    return "".join(character for character, flag in zip(judged, wrong) if flag)


def grouped_problem(code: str, characters: str, charset: Charset, summary: str) -> Problem | None:
    """A problem listing the characters, with the detail grouped by character class."""
    if not characters:
        return None
    groups = "; ".join(f"{name}: {members}" for name, members in charset.by_class(characters).items())
    return Problem(code, characters, f"{len(characters)} {summary} ({groups})")


def case_problem(matched: str) -> Problem | None:
    """The case_mismatch problem: lowercase letters that are capitals in disguise."""
    if not matched:
        return None
    detail = "lowercase letters are drawn as capitals or small capitals; usable for upper-case text only"
    return Problem("case_mismatch", matched, detail)


def decide_status(charset: Charset, coverage: str, wrong: str, inked: dict[str, Glyph]) -> str:
    """ok for the whole charset; rejected for symbol faces or too few letters; else restricted."""
    alphanumerics = [character for character in inked if character.isalnum()]
    wrong_share = sum(character.isalnum() for character in wrong) / max(len(alphanumerics), 1)
    letters = {character.lower() for character in coverage if character in string.ascii_letters}
    if wrong_share >= SYMBOL_FACE_SHARE or len(letters) < ALPHABET_MIN:
        return "rejected"
    return "ok" if coverage == charset.characters else "restricted"


def case_policy(coverage: str, case_matched: bool) -> str:
    """upper when the face may only draw upper-case text, else any."""
    has_lower = any(character in coverage for character in string.ascii_lowercase)
    return "upper" if case_matched or not has_lower else "any"


class AuditCache:
    """Audit results on disk, one JSON file per face content hash, charset and audit version."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.writable = True

    def path_for(self, face: FontFace, charset: Charset) -> Path:
        """Where the report of this face under this charset is kept."""
        return self.folder / f"{face.key}-{charset.fingerprint}-v{AUDIT_VERSION}.json"

    def load(self, face: FontFace, charset: Charset) -> FontReport | None:
        """The cached report, re-pointed at the face's current path, or None."""
        path = self.path_for(face, charset)
        try:
            report = FontReport.from_json(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            return None
        return replace(report, path=face.path)

    def store(self, face: FontFace, charset: Charset, report: FontReport) -> None:
        """Write a report atomically (a crash never leaves a half-written entry); a folder that cannot be written
        only means auditing again next time, warned once."""
        if not self.writable:
            return
        try:
            write_bytes_atomically(self.path_for(face, charset), json.dumps(report.to_json()).encode("utf-8"))
        except OSError as error:
            self.writable = False
            warnings.warn(f"font audits cannot be kept in {self.folder} ({error.strerror or error}): they will be "
                          "redone by every run", RuntimeWarning, stacklevel=2)


def audit_faces(
    faces: Sequence[FontFace],
    charset: Charset,
    cache: AuditCache | None = None,
    workers: int | None = None,
    progress: bool = True,
) -> list[FontReport]:
    """Audit many faces, reusing cached reports and auditing the rest in parallel with a progress bar."""
    reports: dict[int, FontReport] = {}
    todo: list[int] = []
    for position, face in enumerate(faces):
        cached = cache.load(face, charset) if cache else None
        if cached is None:
            todo.append(position)
        else:
            reports[position] = cached
    for position, report in run_audits([faces[position] for position in todo], charset, workers, progress):
        reports[todo[position]] = report
        if cache:
            cache.store(faces[todo[position]], charset, report)
    return [reports[position] for position in range(len(faces))]


def run_audits(faces: Sequence[FontFace], charset: Charset, workers: int | None, progress: bool):
    """Yield (position, report) for each face, in worker processes when there are many."""
    workers = workers or os.cpu_count() or 1
    bar = tqdm(total=len(faces), desc="auditing fonts", unit="face", disable=not progress or not faces)
    if workers == 1 or len(faces) < 8:
        for position, face in enumerate(faces):
            yield position, audit_face(face, charset)
            bar.update()
    else:
        jobs = [(position, face, charset) for position, face in enumerate(faces)]
        with get_context("spawn").Pool(workers) as pool:
            for position, report in pool.imap_unordered(audit_job, jobs, chunksize=2):
                yield position, report
                bar.update()
    bar.close()


def audit_job(job: tuple[int, FontFace, Charset]) -> tuple[int, FontReport]:
    """Worker entry point: audit one face and keep its position."""
    position, face, charset = job
    return position, audit_face(face, charset)


def write_audit_json(reports: Sequence[FontReport], charset: Charset, path: str | Path) -> None:
    """Write the audit in its documented JSON shape, atomically."""
    document = {
        "charset": charset.characters,
        "charset_fingerprint": charset.fingerprint,
        "audit_version": AUDIT_VERSION,
        "fonts": [report.to_json() for report in reports],
    }
    write_bytes_atomically(Path(path), json.dumps(document, indent=1, ensure_ascii=False).encode("utf-8"))


def summarize(reports: Sequence[FontReport]) -> dict[str, dict[str, int]]:
    """Counts of faces by status and by problem code."""
    by_status: dict[str, int] = defaultdict(int)
    by_problem: dict[str, int] = defaultdict(int)
    for report in reports:
        by_status[report.status] += 1
        for code in set(report.problem_codes()):
            by_problem[code] += 1
    return {"status": dict(by_status), "problems": {code: by_problem[code] for code in PROBLEM_CODES if code in by_problem}}

"""The sampler follows the catalog's weights and never picks a face lacking a character of the string."""

from __future__ import annotations

import string
from collections import Counter

import numpy as np
import pytest

from synthgen.config import FontConfig
from synthgen.fonts.audit import FontReport
from synthgen.fonts.catalog import CatalogEntry, FontCatalog
from synthgen.fonts.sampler import FontCoverageError, FontSampler

DRAWS = 20000


def report(family, coverage, bold=False, italic=False, name=None):
    """A hand-made audit report (the sampler never opens the file)."""
    status = "ok" if coverage else "rejected"
    return FontReport(
        path=f"/fonts/{name or family}.ttf", face=0, sha256="0" * 64, family=family, style="Regular",
        status=status, problems=(), coverage=coverage, bold=bold, italic=italic,
    )


CATALOG = FontCatalog(
    floor_weight=1.0,
    families=(
        CatalogEntry("Popular", ("sans",), ("Popular*",), weight=6.0),
        CatalogEntry("Receipt", ("thermal",), ("Receipt",), weight=2.0),
        CatalogEntry("Excluded", ("display",), ("Excluded",), weight=0.0),
        CatalogEntry("Tagged tail", ("script",), ("Tail Script",)),
    ),
)


@pytest.fixture
def reports(charset):
    full = charset.characters
    return [
        report("Popular One", full),
        report("Popular Two", full),
        report("Receipt", full.replace("a", "").translate(str.maketrans("", "", string.ascii_lowercase))),
        report("Excluded", full),
        report("Tail Script", full),
        report("Plain Tail", full.translate(str.maketrans("", "", string.digits))),
        report("Broken", ""),
    ]


def frequencies(sampler, text, draws=DRAWS, seed=0):
    rng = np.random.default_rng(seed)
    counts = Counter(sampler.sample(text, rng).face.family for _ in range(draws))
    return {family: count / draws for family, count in counts.items()}


def test_weights_follow_the_catalog(reports, charset):
    sampler = FontSampler(reports, CATALOG, FontConfig(), charset)
    # Popular 6 split over two families, Receipt 2, two tail families at floor 1, Excluded 0: total 10.
    expected = {"Popular One": 0.3, "Popular Two": 0.3, "Receipt": 0.2, "Tail Script": 0.1, "Plain Tail": 0.1}
    observed = frequencies(sampler, "TOTAL")
    assert set(observed) == set(expected)
    for family, share in expected.items():
        assert observed[family] == pytest.approx(share, abs=0.015)


def test_tag_weights_reweight_groups(reports, charset):
    config = FontConfig(tag_weights={"thermal": 4.0, "sans": 0.5})
    sampler = FontSampler(reports, CATALOG, config, charset)
    # Popular 6 * 0.5 = 3, Receipt 2 * 4 = 8, tails 1 + 1: total 13.
    observed = frequencies(sampler, "TOTAL")
    assert observed["Receipt"] == pytest.approx(8 / 13, abs=0.015)
    assert observed["Popular One"] == pytest.approx(1.5 / 13, abs=0.015)


def test_uniform_weighting_gives_every_family_the_same_share_before_tag_weights(reports, charset):
    sampler = FontSampler(reports, CATALOG, FontConfig(weighting="uniform", tag_weights={"thermal": 2.0}), charset)
    # Five families at 1 (Excluded stays out: weight 0 is a choice made by hand), Receipt doubled by its tag: total 6.
    observed = frequencies(sampler, "TOTAL")
    assert observed["Receipt"] == pytest.approx(2 / 6, abs=0.015)
    assert observed["Popular One"] == pytest.approx(1 / 6, abs=0.015) and "Excluded" not in observed


def test_ignoring_the_audit_uses_faces_for_characters_they_lack(reports, charset):
    sampler = FontSampler(reports, CATALOG, FontConfig(audit="ignore"), charset)
    chosen = {sampler.sample("total 12", np.random.default_rng(seed)).face.family for seed in range(400)}
    assert {"Receipt", "Plain Tail", "Broken"} <= chosen  # no lower case, no digits, rejected: all used anyway


def test_never_returns_a_face_lacking_a_character(reports, charset):
    sampler = FontSampler(reports, CATALOG, FontConfig(), charset)
    rng = np.random.default_rng(1)
    texts = ["total", "TOTAL 12", "Qty 3", "€9,99", "x", "A-B/C"]
    for index in range(3000):
        text = texts[index % len(texts)]
        choice = sampler.sample(text, rng)
        assert set(text) <= set(choice.face.coverage), (text, choice.face.family)
        assert choice.face.family not in ("Excluded", "Broken")


def test_no_covering_face_raises_naming_the_characters(charset):
    only_upper = [report("Caps", string.ascii_uppercase + " "), report("Digits", string.digits + string.ascii_lowercase)]
    sampler = FontSampler(only_upper, CATALOG, FontConfig(), charset)
    with pytest.raises(FontCoverageError) as raised:
        sampler.sample("PRICE £5", np.random.default_rng(0))
    assert raised.value.characters == "£"
    with pytest.raises(FontCoverageError, match="no single usable face"):
        sampler.sample("A1", np.random.default_rng(0))
    with pytest.raises(FontCoverageError, match="outside the charset"):
        sampler.sample("naïve", np.random.default_rng(0))


def test_bold_and_italic_rates_are_honoured(charset):
    full = charset.characters
    family = [
        report("Popular One", full, name="regular"),
        report("Popular One", full, bold=True, name="bold"),
        report("Popular One", full, italic=True, name="italic"),
        report("Popular One", full, bold=True, italic=True, name="bolditalic"),
    ]
    sampler = FontSampler(family, CATALOG, FontConfig(bold_rate=0.3, italic_rate=0.2), charset)
    rng = np.random.default_rng(2)
    styles = Counter()
    for _ in range(DRAWS):
        face = sampler.sample("Word", rng).face
        styles[(face.bold, face.italic)] += 1
    assert styles[(True, False)] / DRAWS == pytest.approx(0.3 * 0.8, abs=0.015)
    assert styles[(False, True)] / DRAWS == pytest.approx(0.7 * 0.2, abs=0.015)
    assert styles[(True, True)] / DRAWS == pytest.approx(0.3 * 0.2, abs=0.01)


def test_sizes_stay_in_the_configured_range_and_draws_are_reproducible(reports, charset):
    sampler = FontSampler(reports, CATALOG, FontConfig(size_min=20, size_max=22, size_step=1), charset)
    first = [sampler.sample("ok", np.random.default_rng([7, index])) for index in range(50)]
    again = [sampler.sample("ok", np.random.default_rng([7, index])) for index in range(50)]
    assert first == again
    assert {choice.size for choice in first} == {20, 21, 22}


def test_the_project_catalog_loads_and_keeps_the_long_tail():
    from synthgen.paths import PROJECT_ROOT

    catalog = FontCatalog.from_file(PROJECT_ROOT / "fonts" / "catalog.yaml")
    assert catalog.floor_weight > 0
    assert len([entry for entry in catalog.families if entry.weight]) >= 40
    assert catalog.entry_for("Nimbus Sans").name.startswith("Helvetica")
    assert catalog.entry_for("Some Unknown Family") is None


def test_train_and_heldout_splits_are_disjoint_families_that_cover_everything(charset):
    families = [f"Family {number}" for number in range(200)]
    reports = [report(family, charset.characters, bold=bold, name=f"{family}-{bold}") for family in families
               for bold in (False, True)]
    split = {name: {face.report.family for face in FontSampler(reports, CATALOG, FontConfig(split=name), charset).faces}
             for name in ("all", "train", "heldout")}
    assert split["train"].isdisjoint(split["heldout"]) and split["train"] | split["heldout"] == split["all"]
    assert 0.04 < len(split["heldout"]) / len(families) < 0.2  # heldout_share 0.1 of the families
    faces = FontSampler(reports, CATALOG, FontConfig(split="heldout"), charset).faces
    assert all(sum(face.report.family == family for face in faces) == 2 for family in split["heldout"])  # whole families

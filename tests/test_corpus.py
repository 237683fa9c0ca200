"""The corpus mixer: valid strings per source, reproducibility, weights, balancing, rejection, bad input."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from dataclasses import replace

import numpy as np
import pytest

from synthgen.config import BalanceConfig, ConfigError, load_config
from synthgen.corpus.amounts import Prices
from synthgen.corpus.balancer import character_shares
from synthgen.corpus.books import TextFolderBooks, strip_gutenberg
from synthgen.corpus.choices import CorpusInputError
from synthgen.corpus.codes import Codes, barcode
from synthgen.corpus.dates import DateStrings
from synthgen.corpus.mixer import CorpusExhaustedError, CorpusMixer
from synthgen.corpus.web_addresses import WebAddresses
from synthgen.text_normalization import normalize_text

DRAWS = 3000
UNBALANCED = load_config(None, ["corpus.balance.enabled=false", "corpus.shape.word=0", "corpus.shape.line=0"]).corpus


def rngs(count, seed=0):
    return (np.random.default_rng([seed, index]) for index in range(count))


@pytest.fixture(scope="module")
def unbalanced_mixer(charset):
    return CorpusMixer(UNBALANCED, charset)


def test_dates_parse_back_with_the_format_they_were_drawn_from():
    source = DateStrings(load_config().corpus.sources.dates)
    formats = Counter()
    for rng in rngs(DRAWS):
        text, parse_format = source.sample_with_format(rng)
        parsed = dt.datetime.strptime(text, parse_format)
        assert 1990 <= parsed.year <= 2035 or "%Y" not in parse_format
        formats[parse_format] += 1
    assert len(formats) >= 20


PRICE = re.compile(
    r"(\$|£|€|RM|USD |EUR |S\$|A\$|¥)?-?\(?\d{1,3}(,\d{3})*\.\d\d\)?-?( (EA|ea|T|F|N|S|A))?"  # 1,234.56 and variants
    r"|€?\d{1,3}(\.\d{3})*,\d\d"  # 1.234,56
    r"|\$?\d+\.\d\d"  # 12.99 without thousands separators
    r"|\d+(\.\d)?%"  # 7.5%
    r"|x\d+|\d+ x"  # x2
    r"|(\d+ )?@ \d{1,3}(,\d{3})*\.\d\d"  # @ 3.99
    r"|\d+\.\d\d (kg|lb|g|oz|KG|LB|L|ml)"  # 2.50 kg
)


def test_prices_match_their_patterns():
    source = Prices()
    for rng in rngs(DRAWS):
        text = source.sample(rng)
        assert PRICE.fullmatch(text), text


URL = re.compile(r"(https?://)?(www\.)?[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}(/[a-z_]+(\?[a-z_]+=\d+)?)?")
EMAIL = re.compile(r"[a-z0-9._%+-]+@[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}")


def test_urls_and_emails_match_their_patterns():
    source = WebAddresses(load_config().corpus.sources.urls)
    kinds = Counter()
    for rng in rngs(DRAWS):
        text = source.sample(rng)
        kind = "email" if "@" in text else "url"
        assert (EMAIL if kind == "email" else URL).fullmatch(text), text
        kinds[kind] += 1
    assert kinds["email"] > DRAWS * 0.1 and kinds["url"] > DRAWS * 0.5


def test_barcodes_carry_a_valid_check_digit_and_codes_are_printable():
    for rng in rngs(500):
        code = barcode(rng).replace(" ", "")
        weights = [1, 3] * 6 + [1]
        assert len(code) == 13 and sum(int(d) * w for d, w in zip(code, weights)) % 10 == 0
    texts = [Codes().sample(rng) for rng in rngs(DRAWS)]
    assert any(re.fullmatch(r"R\d{9}", text) for text in texts)
    assert any(re.fullmatch(r"\*{4}\d{4}", text) for text in texts)


def test_same_seed_same_strings_other_seed_other_strings(unbalanced_mixer):
    first = [unbalanced_mixer.sample(rng) for rng in rngs(300, seed=5)]
    again = [unbalanced_mixer.sample(rng) for rng in rngs(300, seed=5)]
    other = [unbalanced_mixer.sample(rng) for rng in rngs(300, seed=6)]
    assert first == again and first != other


def test_source_weights_are_honoured(unbalanced_mixer):
    weights = {name: getattr(UNBALANCED.sources, name).weight for name in unbalanced_mixer.names}
    total = sum(weights.values())
    drawn = Counter(unbalanced_mixer.sample(rng).source for rng in rngs(20000, seed=1))
    for name, weight in weights.items():
        # Rejected strings are redrawn from the same source, so shares follow the weights.
        assert drawn[name] / 20000 == pytest.approx(weight / total, abs=0.012), name


@pytest.fixture(scope="module")
def shaped_mixers(charset):
    """One mixer per crop shape, from the default text mix."""
    def mixer(phrase, word, line, *extra):
        overrides = [f"corpus.shape.phrase={phrase}", f"corpus.shape.word={word}", f"corpus.shape.line={line}", *extra]
        return CorpusMixer(load_config(None, overrides).corpus, charset)
    return {"word": mixer(0, 1, 0, "corpus.upper_rate=0"), "line": mixer(0, 0, 1), "upper": mixer(1, 0, 0, "corpus.upper_rate=1")}


def test_word_crops_hold_one_token_and_are_short(shaped_mixers):
    texts = [shaped_mixers["word"].sample(rng).text for rng in rngs(DRAWS, seed=3)]
    assert all(" " not in text and text for text in texts)
    assert np.median([len(text) for text in texts]) <= 6
    assert Counter(texts)[":"] >= 5  # lone marks come from the field labels, as on receipts


def test_lines_join_phrases_up_to_the_line_length(shaped_mixers, charset):
    low, high = load_config().corpus.shape.line_chars
    samples = [shaped_mixers["line"].sample(rng) for rng in rngs(DRAWS, seed=4)]
    lengths = [len(sample.text) for sample in samples]
    assert max(lengths) <= high and np.mean([length >= 26 for length in lengths]) > 0.3
    assert all(sample.source == "lines" and set(sample.text) <= set(charset.characters) for sample in samples)
    assert all("  " not in sample.text and sample.text == sample.text.strip() for sample in samples)


def test_the_upper_rate_prints_labels_in_capitals(shaped_mixers):
    texts = [shaped_mixers["upper"].sample(rng).text for rng in rngs(500, seed=5)]
    assert sum(text == text.upper() for text in texts) == len(texts)


def test_a_bad_field_vocabulary_names_the_line(tmp_path, charset):
    vocabulary = tmp_path / "fields.tsv"
    vocabulary.write_text("3\tTOTAL\nlots\tQty\n", encoding="utf-8")
    config = load_config(None, [f"corpus.sources.fields.vocabularies=[{vocabulary}]"]).corpus
    with pytest.raises(CorpusInputError, match=r"fields.tsv:2"):
        CorpusMixer(config, charset)


def test_every_string_is_in_the_charset_and_within_the_length(unbalanced_mixer, charset):
    for rng in rngs(DRAWS, seed=2):
        text = unbalanced_mixer.sample(rng).text
        assert text and len(text) <= UNBALANCED.max_chars and set(text) <= set(charset.characters)
        assert text == normalize_text(text)


def test_balancing_lifts_the_rarest_characters_to_the_minimum_share(unbalanced_mixer, charset):
    balanced = CorpusMixer(replace(UNBALANCED, balance=BalanceConfig(enabled=True, min_share=0.0015)), charset)
    before = character_shares([unbalanced_mixer.sample(rng).text for rng in rngs(20000, seed=3)], charset.visible)
    after = character_shares([balanced.sample(rng).text for rng in rngs(20000, seed=3)], charset.visible)
    assert min(before.values()) < 0.0015 * 0.2  # books-heavy text lacks many symbols
    assert min(after.values()) >= 0.0015 * 0.85  # sampling noise of 20000 strings allowed for
    assert sum(before[c] < 0.0015 for c in before) > 3 * sum(after[c] < 0.0015 * 0.95 for c in after)


def test_out_of_charset_text_is_rejected_and_counted_never_altered(tmp_path, charset):
    folder = tmp_path / "books"
    folder.mkdir()
    (folder / "book.txt").write_text("café naïve “quoted” text – dash ﬁne\n" * 50, encoding="utf-8")
    corpus = replace(UNBALANCED, max_words=1, upper_rate=0.0, sources=replace(
        UNBALANCED.sources, books=replace(UNBALANCED.sources.books, text_dir=str(folder)),
        upc=replace(UNBALANCED.sources.upc, weight=0), dates=replace(UNBALANCED.sources.dates, weight=0),
        prices=replace(UNBALANCED.sources.prices, weight=0), urls=replace(UNBALANCED.sources.urls, weight=0),
        codes=replace(UNBALANCED.sources.codes, weight=0), entities=replace(UNBALANCED.sources.entities, weight=0),
        fields=replace(UNBALANCED.sources.fields, weight=0)))
    mixer = CorpusMixer(corpus, charset)
    texts = {mixer.sample(rng).text for rng in rngs(400)}
    assert texts == {'"quoted"', "text", "-", "dash", "fine"}  # normalized by the table, never by guessing
    assert mixer.rejections.by_source["books"]["outside_charset"] > 0
    assert set(mixer.rejections.by_character) == {"é", "ï"}


def test_retries_are_bounded_and_report_their_reasons(charset):
    corpus = replace(UNBALANCED, max_chars=1, max_attempts=7)
    mixer = CorpusMixer(replace(corpus, sources=replace(corpus.sources, books=replace(corpus.sources.books, weight=0))), charset)
    with pytest.raises(CorpusExhaustedError, match="after 7 attempts") as raised:
        for rng in rngs(50):
            mixer.sample(rng)
    assert sum(raised.value.reasons.values()) == 7


def test_gutenberg_header_and_footer_are_stripped():
    book = (
        "The Project Gutenberg eBook of A Tiny Book\nThis eBook is for the use of anyone anywhere\n"
        "*** START OF THE PROJECT GUTENBERG EBOOK A TINY BOOK ***\n\nIt was a dark night.\n"
        "*** END OF THE PROJECT GUTENBERG EBOOK A TINY BOOK ***\nSection 1. General Terms of Use\n"
    )
    assert strip_gutenberg(book).split() == ["It", "was", "a", "dark", "night."]
    assert strip_gutenberg("no markers here") == "no markers here"


def test_bad_book_folders_are_named(tmp_path):
    books = load_config().corpus.sources.books
    with pytest.raises(CorpusInputError, match="not found: .*missing"):
        TextFolderBooks(replace(books, text_dir=str(tmp_path / "missing")), 3)
    (tmp_path / "empty").mkdir()
    with pytest.raises(CorpusInputError, match="holds no .txt files"):
        TextFolderBooks(replace(books, text_dir=str(tmp_path / "empty")), 3)
    (tmp_path / "latin1").mkdir()
    (tmp_path / "latin1" / "old.txt").write_bytes("caf\xe9 au lait".encode("latin-1"))
    with pytest.raises(CorpusInputError, match=r"old.txt is not UTF-8"):
        TextFolderBooks(replace(books, text_dir=str(tmp_path / "latin1")), 3)


def test_bad_weights_and_unknown_sources_are_config_errors():
    with pytest.raises(ConfigError, match=r"corpus.sources.upc.weight must be >= 0.0, got -1"):
        load_config(None, ["corpus.sources.upc.weight=-1"])
    with pytest.raises(ConfigError, match=r"unknown key 'recipes' in section 'corpus.sources'.*valid keys: books, upc"):
        load_config(None, ["corpus.sources.recipes={weight: 1}"])


def test_normalization_maps_typographic_look_alikes_only():
    assert normalize_text("“Hello” – it’s\u00a0ﬁne…") == "\"Hello\" - it's fine..."
    assert normalize_text("  two   spaces\tand tab ") == "two spaces and tab"
    assert normalize_text("e\u0301") == "é"  # NFC composes; the charset decides whether é is allowed

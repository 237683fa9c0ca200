"""The CTC codec: blank at 0, exact round trips, characters outside the charset are errors with counts."""

from __future__ import annotations

import pytest

from synthgen.codec import BLANK, Codec, LabelOutsideCharsetError


@pytest.fixture(scope="module")
def codec(charset):
    return Codec(charset)


@pytest.mark.parametrize("text", ["", "a", "hello", "aa", "Mississippi", "1000", "  ", "$12.99 / £3", "a\\b|c"])
def test_decode_inverts_encode(codec, text):
    assert codec.decode(codec.encode(text)) == text


def test_every_charset_character_round_trips_and_none_is_the_blank(codec, charset):
    encoded = codec.encode(charset.characters)
    assert BLANK not in encoded and sorted(encoded) == list(range(1, codec.classes))
    assert codec.decode(encoded) == charset.characters


@pytest.mark.parametrize("text", ["", "aa", "Mississippi", "0011", "x"])
def test_a_ctc_path_with_blanks_between_repeats_collapses_to_the_text(codec, text):
    path = [BLANK]
    for index in codec.encode(text):
        path += [index, index] if path[-1] != index else [BLANK, index]
        path.append(BLANK)
    assert codec.decode_path(path) == text


def test_repeats_without_a_blank_merge(codec):
    a = codec.encode("a")[0]
    assert codec.decode_path([a, a, a]) == "a"


def test_characters_outside_the_charset_are_counted(codec):
    with pytest.raises(LabelOutsideCharsetError) as caught:
        codec.check(["ok", "naïve", "ïï", "fine"])
    assert caught.value.counts == {"ï": 3} and caught.value.labels == 2
    with pytest.raises(LabelOutsideCharsetError, match="'ï'"):
        codec.encode("naïve")

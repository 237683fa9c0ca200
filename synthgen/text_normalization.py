"""Text enters once through here: NFC, then an explicit table for typographic look-alikes."""

from __future__ import annotations

import unicodedata

# Characters documents contain that our labels write differently; nothing else is ever changed.
REPLACEMENTS = {
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",  # single quotes, prime
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',  # double quotes
    "\u00ab": '"', "\u00bb": '"',  # guillemets
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-", "\u2212": "-",
    "\u00a0": " ", "\u2007": " ", "\u2009": " ", "\u200a": " ", "\u202f": " ", "\u2002": " ", "\u2003": " ",
    "\u200b": "", "\u00ad": "", "\ufeff": "",  # zero-width space, soft hyphen, byte-order mark
    "\u2026": "...",
    "\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi", "\ufb04": "ffl", "\ufb05": "st", "\ufb06": "st",
    "\u00b7": "•", "\u2219": "•",  # middle dots read as the charset's bullet
    "\u2715": "×",
    "\t": " ",
}
TRANSLATION = str.maketrans(REPLACEMENTS)


def normalize_text(text: str) -> str:
    """NFC, look-alikes mapped by the table, any run of whitespace made one space, ends stripped."""
    return " ".join(unicodedata.normalize("NFC", text).translate(TRANSLATION).split())

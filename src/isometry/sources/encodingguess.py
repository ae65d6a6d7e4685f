"""Which legacy encoding a sample of text that is not UTF-8 is in.

A guess is charset-normalizer's best, except that the common Western encoding (cp1252,
``PREFERRED_LEGACY``) is taken when it reads the sample as Western text reads (accented letters
within words, words in capitals, the usual quotes and signs) and the best guess, if any, is not
clearly better, not counting against cp1252 what charset-normalizer takes for mess in Western
text (a € against the digits of its amount, ``ÄÖÜ``, ``créé``): a few accented letters are valid
Big5 or Shift-JIS too, and a € is a letter in old DOS encodings (``€3`` is ``Ć3`` in cp775).
Two or three capitals alone (``ÄÖÜ``, ``ÉÈ``) are Western text too, though they are also the
bytes of one Chinese character or of a few half-width katakana; more in a row are not (they are
Cyrillic or Greek in capitals, ``ИВАНОВ`` in cp1251). And among Chinese, Japanese and Korean
encodings that read it equally well, the one that reads it in its own script.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from charset_normalizer import CharsetMatch, from_bytes
from charset_normalizer.constant import TOO_SMALL_SEQUENCE

from isometry.errors import SourceUnreadable

# Among encodings that read a sample equally well, the one most CSV exports were written in.
PREFERRED_LEGACY = "cp1252"
# CSV's syntax: an encoding a CSV file is guessed to be in writes these as ASCII does.
CSV_SYNTAX = '\r\n,;\t|"'


def guess_encoding(path: Path, sample: bytes) -> str:
    """The encoding of a sample that is not UTF-8 (see the module docstring)."""
    matches = [m for m in from_bytes(sample) if ascii_compatible(m.encoding)]
    best = matches[0] if matches else None
    tied = [
        m
        for m in matches
        if best is not None and m.chaos <= best.chaos and m.coherence >= best.coherence
    ]
    if any(PREFERRED_LEGACY in m.could_be_from_charset for m in tied):
        return PREFERRED_LEGACY
    if _reads_as_western(sample) and not _reads_clearly_better(best, sample):
        return PREFERRED_LEGACY
    if best is None:
        raise SourceUnreadable(f"{path} is not text in an encoding this importer knows")
    # Chinese, Japanese and Korean encodings often read a short sample equally well; the one
    # that reads it in its own script wins (Hangul for Korean, not Hangul among ideographs).
    if best.language in _SCRIPTS:
        best = max(tied, key=_own_script_share)
    return str(best.encoding)


def _reads_clearly_better(best: CharsetMatch | None, sample: bytes) -> bool:
    """Whether charset-normalizer's best guess (None: it has none) reads ``sample`` clearly
    better than cp1252, which reads it as Western text, does, that reading measured as
    ``_measured`` has it. Short samples are read equally well by many encodings (chaos and
    coherence 0): the best guess has to be clearly better to win over the common one. Without
    one (every reading of a few short cells of amounts is too messy for charset-normalizer),
    cp1252 is taken unless its reading is too messy as well."""
    western = from_bytes(_measured(sample), cp_isolation=[PREFERRED_LEGACY]).best()
    if western is None:
        return True
    if best is None:
        return False
    if best.chaos + _CLEARLY_LESS_CHAOS <= western.chaos:
        return True
    # No language is told from a few letters (charset-normalizer's TOO_SMALL_SEQUENCE), so
    # a reading with a few more, that makes letters of signs (``€3`` as ``Ć3`` in cp775), is
    # not more coherent for telling one. Nor is a messier reading better for being coherent:
    # the Cyrillic capital A that cp1125 makes of every € in a budget is a language to it.
    letters = sum(c.isalpha() for c in sample.decode(PREFERRED_LEGACY))
    return (
        letters > TOO_SMALL_SEQUENCE
        and best.chaos <= western.chaos
        and best.coherence >= western.coherence + _CLEARLY_MORE_COHERENT
    )


def _measured(sample: bytes) -> bytes:
    """``sample``, which reads as Western text in cp1252, as charset-normalizer is to measure
    that reading's mess. It takes for mess what Western text has: a sign beside digits (a sign
    of another block of Unicode than theirs, many signs among few letters) and two accented
    letters in a row that are both capitals or the same letter (``ÄÖÜ``, ``créé``); in a short
    sample one or two are enough to make cp1252 read clearly worse than an encoding with other
    letters there (``Lunch,€12`` reads ``Lunch,Ç12`` in cp437, ``ÄÖÜ`` half-width katakana in
    Shift-JIS), or too messy to be a guess at all. So a sign of a number beside a digit is
    measured as a digit, part of its number, and an accented letter after another as its letter
    without the accent."""
    text = _SIGN_BY_DIGIT.sub("0", sample.decode(PREFERRED_LEGACY))
    text = _ACCENTED_RUN.sub(lambda found: found[0][0] + found[0][1:].translate(_UNACCENTED), text)
    return text.encode(PREFERRED_LEGACY)


def _own_script_share(match: CharsetMatch) -> float:
    """The share of the characters that are not ASCII that are of the script of the match's
    language, when it is Chinese, Japanese or Korean; 0 for another language."""
    own = _SCRIPTS.get(match.language)
    if own is None:
        return 0.0
    counts = dict.fromkeys(("ideographs", "hangul", "kana", "other"), 0)
    for c in str(match):
        if c.isascii():
            continue
        code = ord(c)
        if 0x4E00 <= code <= 0x9FFF:
            counts["ideographs"] += 1
        elif 0xAC00 <= code <= 0xD7A3:
            counts["hangul"] += 1
        elif 0x3040 <= code <= 0x30FF:
            counts["kana"] += 1
        else:
            counts["other"] += 1
    total = sum(counts.values())
    return sum(counts[script] for script in own) / total if total else 0.0


# The scripts of the languages of Chinese, Japanese and Korean encodings, by the names
# charset-normalizer gives them.
_SCRIPTS = {
    "Chinese": ("ideographs",),
    "Japanese": ("ideographs", "kana"),
    "Korean": ("hangul",),
}
_CLEARLY_LESS_CHAOS = 0.1
_CLEARLY_MORE_COHERENT = 0.2
# Signs that sit among words in Western text: single and double quotes (curly, low, angle),
# en and em dash, ellipsis, bullet, middle dot, acute accent (an apostrophe), inverted ! and ?,
# no-break space.
_TEXT_SIGNS = frozenset(
    "\u2018\u2019\u201c\u201d\u201a\u201e\u2039\u203a\xab\xbb"
    "\u2013\u2014\u2026\u2022\xb7\xb4\xa1\xbf\xa0"
)
# Signs of numbers, money and the like: beside digits or spaces, not before a letter.
_NUMBER_SIGNS = frozenset("€£¥¢°±²³¹¼½¾\xd7÷§©®™‰†‡µ")
_NOT_ASCII_RUN = re.compile(r"[^\x00-\x7f]+")
# A sign of a number against a digit of it: €12, 12€.
_SIGN = f"[{''.join(sorted(_NUMBER_SIGNS))}]"
_SIGN_BY_DIGIT = re.compile(f"(?<=[0-9]){_SIGN}|{_SIGN}(?=[0-9])")
# The letters of cp1252 that are letters of ASCII with an accent, to those letters.
_UNACCENTED = {
    ord(c): unicodedata.normalize("NFD", c)[0]
    for c in bytes(range(0x80, 0x100)).decode(PREFERRED_LEGACY, "ignore")
    if c.isalpha() and unicodedata.normalize("NFD", c)[0].isascii()
}
_ACCENTED_RUN = re.compile(f"[{''.join(map(chr, sorted(_UNACCENTED)))}]{{2,}}")
# The most capitals in a row that are not ASCII in Western text (ÄÖÜ); longer runs are the
# bytes of other scripts in capitals (ИВАНОВ in cp1251 reads ÈÂÀÍÎÂ in cp1252).
_CAPITALS = 3
# At most this share of the characters that are not ASCII may look out of place.
_ODD_SHARE = 0.1


def _reads_as_western(sample: bytes) -> bool:
    """Whether ``sample`` read as cp1252 looks like Western text: its characters that are not
    ASCII are accented letters within words (at most two in a row, next to a letter that is
    ASCII, or alone; up to three capitals in a word in capitals, or as one) and the usual signs,
    not the runs of signs and letters that the bytes of Chinese, Japanese or Korean text make
    in it."""
    try:
        text = sample.decode(PREFERRED_LEGACY)
    except UnicodeDecodeError:
        return False
    good = odd = 0
    for found in _NOT_ASCII_RUN.finditer(text):
        run = found.group()
        before = text[found.start() - 1] if found.start() else " "
        after = text[found.end()] if found.end() < len(text) else " "
        if _western_run(run, before, after):
            good += len(run)
        else:
            odd += len(run)
    return good > 0 and odd <= _ODD_SHARE * (good + odd)


def _western_run(run: str, before: str, after: str) -> bool:
    """Whether a run of characters that are not ASCII, between ``before`` and ``after``, is
    as Western text has them (see ``_reads_as_western``)."""
    # Capitals within a word in capitals, or as a word: PEÑA, ÉCOLE, ÄÖÜ GmbH.
    if (
        len(run) <= _CAPITALS
        and run.isupper()
        and run.isalpha()
        and not (before.islower() or after.islower())
    ):
        return True
    if len(run) > 2:
        return False
    if any(c.isalpha() and c not in _NUMBER_SIGNS for c in run):
        if not all(c.isalpha() or c in _TEXT_SIGNS for c in run):
            return False
        if len(run) == 2 and not (before.isalpha() or after.isalpha()):
            return False
        previous = before
        for c in run:
            if c.isupper() and previous.islower():  # an upper case letter within a word
                return False
            previous = c
        return True
    if len(run) == 2:
        return False
    if run in _NUMBER_SIGNS:
        return not after.isalpha() or (run == "°" and after in "CF")
    return run in _TEXT_SIGNS


def ascii_compatible(encoding: str) -> bool:
    try:
        return CSV_SYNTAX.encode(encoding) == CSV_SYNTAX.encode("ascii")
    except (LookupError, UnicodeError):
        return False

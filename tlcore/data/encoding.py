"""Which text encoding a data file is in, and its text.

In order: a byte-order mark decides; a file that decodes as UTF-8 is UTF-8 (plain ASCII included); a file with
zero bytes is UTF-16 or UTF-32 saved without a mark (the detector picks the byte order); anything else goes to
the detector (charset-normalizer), which chooses among the encodings that spreadsheets and older systems write
around the world (``LEGACY_ENCODINGS``). When the detector's best candidates read as *different* text and it
cannot tell them apart, a reading with symbols inside words ("Przesy³ka") drops out; Windows-1252 wins what is
left of a tie, because every non-UTF-8 file was read as Windows-1252 (else Latin-1) before detection existed
and those files must keep their text; any other tie is refused with the likely encodings and their readings
named: a wrong guess would be silent mojibake ("Ïðèâåò"). The user can always name the encoding.
"""
from __future__ import annotations

import codecs
import unicodedata
from dataclasses import dataclass
from typing import Mapping

from ..errors import DatasetError, quoted

# The encodings the detector chooses among, with what they are for. Mac and DOS code pages are left out on
# purpose: they are rare today, and a short Greek file reads "cleanly" as mac_greek nonsense.
LEGACY_ENCODINGS = {
    "cp1252": "Western European, Windows", "latin_1": "Western European, ISO-8859-1",
    "iso8859_15": "Western European, ISO-8859-15", "cp1250": "Central European, Windows",
    "iso8859_2": "Central European, ISO-8859-2", "cp1251": "Cyrillic, Windows", "koi8_r": "Russian, KOI8-R",
    "koi8_u": "Ukrainian, KOI8-U", "iso8859_5": "Cyrillic, ISO-8859-5", "cp1253": "Greek, Windows",
    "iso8859_7": "Greek, ISO-8859-7", "cp1254": "Turkish, Windows", "iso8859_9": "Turkish, ISO-8859-9",
    "cp1255": "Hebrew, Windows", "iso8859_8": "Hebrew, ISO-8859-8", "cp1256": "Arabic, Windows",
    "iso8859_6": "Arabic, ISO-8859-6", "cp1257": "Baltic, Windows", "iso8859_13": "Baltic, ISO-8859-13",
    "cp1258": "Vietnamese, Windows", "cp874": "Thai, Windows", "shift_jis": "Japanese, Shift-JIS",
    "cp932": "Japanese, Windows Shift-JIS", "euc_jp": "Japanese, EUC-JP", "gbk": "Simplified Chinese, GBK",
    "gb18030": "Chinese, GB18030", "big5": "Traditional Chinese, Big5", "euc_kr": "Korean, EUC-KR",
    "cp949": "Korean, Windows",
}
# What a user may choose (the app's Encoding box): Unicode first, then the legacy encodings.
ENCODINGS = {"utf-8": "Unicode, UTF-8", "utf-16": "Unicode, UTF-16 with a byte-order mark",
             "utf-16-le": "Unicode, UTF-16 little-endian", "utf-16-be": "Unicode, UTF-16 big-endian",
             **LEGACY_ENCODINGS}
_WIDE = {"utf_16_le": "utf-16-le", "utf_16_be": "utf-16-be", "utf_32_le": "utf-32-le", "utf_32_be": "utf-32-be"}
_BOMS = ((b"\xff\xfe\x00\x00", "utf-32"), (b"\x00\x00\xfe\xff", "utf-32"), (b"\xef\xbb\xbf", "utf-8-sig"),
         (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))
# Two candidates closer than this in the detector's "mess" (chaos) and language fit (coherence) are a tie it
# cannot break. charset-normalizer itself calls 0.005 / 0.02 a tie; wider margins, because a short file of
# Japanese reads almost as cleanly as Korean (0.007 apart) and a wrong pick is worse than a question.
CHAOS_MARGIN = 0.02
COHERENCE_MARGIN = 0.1
SOURCES = {"bom": "byte-order mark", "utf-8": "valid UTF-8", "detector": "detected", "user": "chosen"}


@dataclass(frozen=True)
class Decoded:
    """A file's text and how its encoding was found (recorded in ``frame.attrs`` by ``read_table``)."""

    text: str
    encoding: str
    confidence: float | None  # 1.0 for a byte-order mark or valid UTF-8, the detector's 1 - chaos, None if chosen
    source: str               # a key of SOURCES


def check_encoding(name: str) -> str:
    """The canonical name of a text encoding the user gave ("Windows-1251" -> "cp1251"); a DatasetError that
    lists common names for an unknown one (or a codec that is not a text encoding, such as base64)."""
    text = str(name).strip()
    try:
        b"a".decode(text, "ignore")  # also refuses bytes-to-bytes codecs (base64, zip); b"" would not
        return codecs.lookup(text).name
    except (LookupError, ValueError):
        raise DatasetError(f"unknown encoding {quoted(name)}; give a text encoding Python knows, such as utf-8, "
                           "cp1252 (Western European), cp1251 (Cyrillic), shift_jis (Japanese), gbk (Chinese) or "
                           "euc_kr (Korean).") from None


def describe_encoding(info: Mapping) -> str | None:
    """'cp1251 (detected, 98% confidence)', 'utf-8', 'cp1251 (chosen)': for reports, from ``frame.attrs`` or
    a validation report's info."""
    encoding = info.get("encoding")
    if not encoding:
        return None
    source, confidence = info.get("encoding_source"), info.get("encoding_confidence")
    if source == "detector" and confidence is not None:
        return f"{encoding} (detected, {confidence:.0%} confidence)"
    if source in ("bom", "user"):
        return f"{encoding} ({SOURCES[source]})"
    return str(encoding)


def decode(raw: bytes, name: str, encoding: str | None = None) -> Decoded:
    """The text of a data file's bytes: in ``encoding`` when given, else found as the module docstring says.

    Raises DatasetError for an empty file, bytes that are not text, bytes the named encoding cannot read,
    and a file whose encoding the detector cannot make out (naming the likely ones and how to choose).
    """
    if encoding is not None:
        return _chosen(raw, name, check_encoding(encoding))
    marked = _with_bom(raw, name)
    if marked:
        return marked
    if not raw.strip():
        raise DatasetError(f"{name} is empty; upload a file with a header row and at least one data row.")
    sample = raw[:4096]
    if b"\x00" in sample:
        return _wide(raw, name, sample)
    try:
        return Decoded(raw.decode("utf-8"), "utf-8", 1.0, "utf-8")
    except UnicodeDecodeError as exc:
        return _detect(raw, name, exc.start)


def binary_error(name: str, detail: str) -> DatasetError:
    return DatasetError(f"{name} looks like a binary file ({detail}), not a text table; "
                        "export the data as CSV (UTF-8) with a header row, for example text,label.")


# -- the steps ----------------------------------------------------------------------------------------------

def _with_bom(raw: bytes, name: str) -> Decoded | None:
    encoding = next((enc for bom, enc in _BOMS if raw.startswith(bom)), None)
    if encoding is None:
        return None
    skip = {"utf-32": 0, "utf-8-sig": 3}.get(encoding, 2)  # the utf-32 codec reads its own BOM
    codec = {"utf-8-sig": "utf-8"}.get(encoding, encoding)
    try:
        text = raw[skip:].decode(codec)
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{name} starts with a {encoding.upper()} byte-order mark but byte {exc.start + skip} "
                           "does not decode as that encoding (the file may be cut short or damaged); "
                           "save it again as UTF-8.") from None
    return Decoded(text.lstrip("\ufeff"), encoding, 1.0, "bom")


def _chosen(raw: bytes, name: str, codec: str) -> Decoded:
    try:
        text = raw.decode(codec)
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{name} is not in {codec}: byte {exc.start:,} (line {_line_of(raw, exc.start)}) "
                           "cannot be read in that encoding; choose another encoding, or let TransferLab detect "
                           "it.") from None
    return Decoded(text.lstrip("\ufeff"), codec, None, "user")


def _wide(raw: bytes, name: str, sample: bytes) -> Decoded:
    """UTF-16 or UTF-32 without a byte-order mark: zero bytes wherever a character's other byte is not needed.

    The detector picks the byte order; a table read in the right one has line breaks (in the wrong one they
    turn into other characters), so a text file with a stray zero byte is not taken for UTF-16 nonsense.
    """
    from charset_normalizer import from_bytes

    for match in from_bytes(raw, cp_isolation=list(_WIDE), preemptive_behaviour=False):
        encoding = _WIDE[match.encoding]
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\n" in text[:65536] or "\r" in text[:65536]:
            return Decoded(text, encoding, _confidence(match), "detector")
    raise binary_error(name, f"{sample.count(0)} zero bytes in its first {len(sample):,} bytes")


def _detect(raw: bytes, name: str, not_utf8_at: int) -> Decoded:
    from charset_normalizer import from_bytes

    matches = list(from_bytes(raw, cp_isolation=list(LEGACY_ENCODINGS), preemptive_behaviour=False))
    if not matches and not raw[:not_utf8_at].isascii():  # UTF-8 letters, then a byte that is not
        raise DatasetError(f"{name} is mostly UTF-8, but byte {not_utf8_at:,} (line {_line_of(raw, not_utf8_at)}) is "
                           "not: the file mixes encodings (text pasted from another file?). Retype that line or "
                           "save the whole file again as UTF-8; or choose the encoding with --encoding NAME.")
    if not matches:
        raise DatasetError(f"{name} is not UTF-8, and no common encoding reads it as clean text (it may mix "
                           "encodings, or not be text). Choose the encoding with --encoding NAME if you know it "
                           "(for example cp1252 for Western European text), or save the file as UTF-8.")
    best = matches[0]
    tied = [best] + [m for m in matches[1:] if abs(m.chaos - best.chaos) < CHAOS_MARGIN
                     and abs(m.coherence - best.coherence) < COHERENCE_MARGIN]
    readings = _readings(raw, name, tied)
    if len(readings) > 1:  # a wrong single-byte encoding leaves symbols inside words ("Przesy³ka"): drop those
        symbols = {text: _in_word_symbols(text) for text in readings}
        readings = {text: m for text, m in readings.items() if symbols[text] == min(symbols.values())}
    legacy_text, legacy_encoding = _legacy(raw)
    if legacy_text in readings:  # Windows-1252 is (part of) the answer: read the file as it always was read
        return Decoded(legacy_text, legacy_encoding, _confidence(readings[legacy_text]), "detector")
    if len(readings) > 1:
        raise _unsure(name, readings)
    text, best = next(iter(readings.items()))
    return Decoded(text, best.encoding, _confidence(best), "detector")


def _readings(raw: bytes, name: str, matches: list) -> dict:
    """{text: match} of the candidates that read the whole file (the detector reads samples of a large one)."""
    readings: dict = {}
    failed: list[tuple] = []
    for match in matches:
        try:
            readings.setdefault(raw.decode(match.encoding), match)
        except UnicodeDecodeError as exc:
            failed.append((match, exc.start))
    if not readings:
        match, start = failed[0]
        raise DatasetError(f"{name} reads as {match.encoding} ({_what(match.encoding)}) at first, but byte "
                           f"{start:,} (line {_line_of(raw, start)}) is not valid there: the file mixes encodings "
                           "or is damaged. Save it again as UTF-8, or choose the encoding with --encoding NAME.")
    return readings


def _in_word_symbols(text: str) -> int:
    """Non-ASCII symbols between two letters in the first 64k characters: "Przesy³ka" is Polish read as
    Windows-1252. Marks count as letters (Thai and Hebrew vowels sit inside words)."""
    sample = text[:65536]
    letter = [unicodedata.category(ch)[0] in "LM" for ch in sample]
    return sum(1 for i in range(1, len(sample) - 1)
               if ord(sample[i]) > 127 and not letter[i] and letter[i - 1] and letter[i + 1])


def _legacy(raw: bytes) -> tuple[str, str]:
    """How TransferLab read a non-UTF-8 file before detection: Windows-1252, else Latin-1 (reads any bytes)."""
    try:
        return raw.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        return raw.decode("latin-1"), "latin-1"


def _confidence(match) -> float:
    return round(max(0.0, 1.0 - float(match.chaos)), 3)


def _what(encoding: str) -> str:
    return LEGACY_ENCODINGS.get(encoding, encoding)


def _unsure(name: str, readings: dict) -> DatasetError:
    """Name the likely encodings (best first) and show each one's text where the first two part."""
    shown = list(readings.items())[:3]
    first, second = shown[0][0], shown[1][0]
    at = next((i for i, (a, b) in enumerate(zip(first, second)) if a != b), 0)
    how = " or ".join(f"as {m.encoding} ({_what(m.encoding)}): {quoted(_around(text, at), 40)}" for text, m in shown)
    names = " or ".join(m.encoding for _, m in shown)
    return DatasetError(f"{name} is not UTF-8 and its encoding is unclear: it reads {how}. Choose the encoding with "
                        f"--encoding NAME ({names} here: the one whose text is right), or save the file as UTF-8.")


def _around(text: str, at: int) -> str:
    """The words of ``text`` around character ``at``, on one line."""
    start = max(text.rfind("\n", 0, at) + 1, at - 20)
    end = text.find("\n", at)
    end = len(text) if end < 0 else end
    return text[start:min(end, at + 30)]


def _line_of(raw: bytes, offset: int) -> int:
    return raw.count(b"\n", 0, offset) + 1

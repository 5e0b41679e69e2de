"""Files from outside Western Europe: every one loads with exactly its text, or is refused with a message that
names its encoding and says how to choose it; none loads as mojibake. The corpus is in tests/data/encodings/
(written by tests/data/make_encodings.py, whose CORPUS holds each file's encoding and rows).
"""
from __future__ import annotations

import codecs
import importlib.util
import json
from pathlib import Path

import pytest

from tlcore.cli import main
from tlcore.data import ENCODINGS, read_table
from tlcore.data.encoding import LEGACY_ENCODINGS
from tlcore.errors import DatasetError

DATA = Path(__file__).resolve().parent
ENCODED = DATA / "encodings"
_spec = importlib.util.spec_from_file_location("make_encodings", DATA / "make_encodings.py")
make_encodings = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_encodings)
CORPUS = make_encodings.CORPUS
REFUSED = {"japanese_shift_jis_short.csv", "chinese_gbk_one_row.csv"}  # too short to tell CJK encodings apart
LOADS = sorted(set(CORPUS) - REFUSED)


def _text(file: str) -> str:
    encoding, rows = CORPUS[file]
    return make_encodings.csv_text(rows)


def _same_text_encodings(file: str) -> set[str]:
    """Every detectable encoding that reads the file's bytes as its true text (GBK's superset GB18030 does)."""
    raw = (ENCODED / file).read_bytes()
    found = set()
    for encoding in LEGACY_ENCODINGS:
        try:
            if raw.decode(encoding) == _text(file):
                found.add(encoding)
        except UnicodeDecodeError:
            pass
    return found


def test_the_corpus_is_here_and_reproducible(tmp_path):
    assert {p.name for p in ENCODED.iterdir()} == set(CORPUS)
    make_encodings.OUT = tmp_path
    try:
        make_encodings.main()
    finally:
        make_encodings.OUT = ENCODED
    for name in CORPUS:
        assert (tmp_path / name).read_bytes() == (ENCODED / name).read_bytes(), name
    for name in CORPUS:
        raw = (ENCODED / name).read_bytes()
        assert not raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF8))
        if "utf16" in name:  # Cyrillic in UTF-16-LE: all bytes below 128, so valid UTF-8; the zero bytes tell
            assert raw.count(0) > 80  # commas and line ends: ASCII characters with a zero byte
        else:
            with pytest.raises(UnicodeDecodeError):  # none of the others is UTF-8 in disguise
                raw.decode("utf-8")


@pytest.mark.parametrize("file", LOADS)
def test_each_file_loads_with_exactly_its_text(file):
    encoding, rows = CORPUS[file]
    frame = read_table(ENCODED / file)
    assert frame["text"].tolist() == [text for text, _ in rows]
    assert frame["label"].tolist() == [label for _, label in rows]
    assert (ENCODED / file).read_bytes().decode(frame.attrs["encoding"]) == _text(file)
    assert frame.attrs["encoding_source"] == "detector"
    assert 0.9 <= frame.attrs["encoding_confidence"] <= 1.0


def test_windows_1252_keeps_its_name_and_utf16_its_byte_order():
    assert read_table(ENCODED / "western_cp1252.csv").attrs["encoding"] == "cp1252"  # as before detection
    assert read_table(ENCODED / "russian_utf16le_no_bom.csv").attrs["encoding"] == "utf-16-le"
    assert read_table(ENCODED / "japanese_utf16be_no_bom.csv").attrs["encoding"] == "utf-16-be"


@pytest.mark.parametrize("file", sorted(REFUSED))
def test_a_file_too_short_to_tell_is_refused_naming_its_encoding(file):
    with pytest.raises(DatasetError) as refused:
        read_table(ENCODED / file)
    message = str(refused.value)
    assert "\n" not in message and message.startswith(f"{file} is not UTF-8 and its encoding is unclear")
    assert any(f"as {encoding} (" in message for encoding in _same_text_encodings(file)), message
    assert _text(file).splitlines()[1][:10] in message  # the right reading is shown, to pick it by eye
    assert "--encoding NAME" in message


def test_a_stray_zero_byte_is_not_taken_for_utf16():
    """A zero byte sends a file to the UTF-16/32 check, which must find line breaks, not nonsense that reads cleanly."""
    with pytest.raises(DatasetError, match="looks like a binary file"):
        read_table(b"text,label\na\x00b,pos\nok,neg\n", name="nul.csv")


def test_a_polish_file_is_not_read_as_windows_1252():
    text = make_encodings.csv_text([("Przesyłka dotarła szybko, polecam.", "dobry"),
                                    ("Słuchawki zepsuły się po tygodniu.", "zły")])
    frame = read_table(text.encode("cp1250"), name="polish.csv")
    assert frame["text"].iloc[0] == "Przesyłka dotarła szybko, polecam." and frame.attrs["encoding"] == "cp1250"


# -- choosing the encoding -----------------------------------------------------------------------------------

def test_the_chosen_encoding_reads_a_refused_file():
    frame = read_table(ENCODED / "japanese_shift_jis_short.csv", encoding="Shift-JIS")
    assert frame["text"].tolist() == [text for text, _ in CORPUS["japanese_shift_jis_short.csv"][1]]
    assert (frame.attrs["encoding"], frame.attrs["encoding_confidence"], frame.attrs["encoding_source"]) == \
        ("shift_jis", None, "user")
    with open(ENCODED / "chinese_gbk_one_row.csv", "rb") as upload:  # a file object, as Streamlit gives it
        frame = read_table(upload, name="chinese_gbk_one_row.csv", encoding="gbk", delimiter=",")
    assert frame["text"].iloc[0] == "菜很好吃，服务也很周到。"


def test_a_wrong_or_unknown_encoding_is_a_clear_error():
    with pytest.raises(DatasetError, match=r"is not in utf-8: byte 1\d \(line 2\) cannot be read"):
        read_table(ENCODED / "russian_cp1251.csv", encoding="utf-8")
    for name in ("klingon", "base64"):  # base64 is a codec, but not a text encoding
        with pytest.raises(DatasetError, match=f"unknown encoding '{name}'; give a text encoding"):
            read_table(ENCODED / "russian_cp1251.csv", encoding=name)


def test_every_encoding_offered_in_the_app_is_known():
    from tlcore.data import check_encoding

    for name in ENCODINGS:
        assert codecs.lookup(check_encoding(name)).name == codecs.lookup(name).name


# -- the command line ----------------------------------------------------------------------------------------

def _one_error_line(capsys) -> tuple[str, str]:
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return out, lines[0]


def test_validate_json_reports_the_encoding_and_confidence(capsys):
    assert main(["validate", str(ENCODED / "greek_iso8859_7.csv"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)["info"]
    assert info["encoding"] in _same_text_encodings("greek_iso8859_7.csv")
    assert info["encoding_source"] == "detector" and 0.9 <= info["encoding_confidence"] <= 1.0
    assert info["class_counts"] == {"θετικό": 12, "αρνητικό": 12}


def test_validate_text_report_says_how_the_encoding_was_found(capsys):
    assert main(["validate", str(ENCODED / "russian_cp1251.csv")]) == 0
    head = capsys.readouterr().out.splitlines()[0]
    assert head.startswith("russian_cp1251.csv (csv, cp1251 (detected, ") and "% confidence)" in head


def test_validate_refuses_an_unclear_encoding_with_exit_2(capsys):
    assert main(["validate", str(ENCODED / "japanese_shift_jis_short.csv")]) == 2
    out, error = _one_error_line(capsys)
    assert not out and "encoding is unclear" in error and "--encoding NAME" in error


def test_validate_with_encoding_reads_the_refused_file(capsys):
    main(["validate", str(ENCODED / "japanese_shift_jis_short.csv"), "--encoding", "shift_jis", "--json"])
    info = json.loads(capsys.readouterr().out)["info"]
    assert (info["encoding"], info["encoding_source"]) == ("shift_jis", "user") and "encoding_confidence" not in info
    assert info["class_counts"] == {"良い": 2, "悪い": 2}


def test_the_real_command_refuses_an_unclear_encoding_and_reads_the_chosen_one(tlcore_cli):
    short = str(ENCODED / "japanese_shift_jis_short.csv")
    refused = tlcore_cli("validate", short, timeout=120)
    assert refused.returncode == 2 and not refused.stdout and "Traceback" not in refused.stderr
    assert refused.stderr.startswith("error: ") and refused.stderr.count("\n") == 1
    chosen = tlcore_cli("validate", short, "--encoding", "cp932", "--json", timeout=120)
    assert json.loads(chosen.stdout)["info"]["class_counts"] == {"良い": 2, "悪い": 2}, chosen.stderr


@pytest.mark.parametrize("command", [
    ["validate", "data.csv"], ["run", "--train", "data.csv"], ["compare", "--train", "data.csv"],
    ["best", "--train", "data.csv"], ["compare", "--learning-curve", "--train", "data.csv"],
    ["predict", "--run", "r", "--input", "data.csv", "--output", "out.csv"],
    ["evaluate", "--run", "r", "--data", "data.csv"], ["slices", "--run", "r", "--column", "length"],
    ["probe", "--run", "r", "--data", "data.csv"],
])
def test_every_command_that_reads_data_refuses_an_unknown_encoding(command, capsys):
    assert main([*command, "--encoding", "klingon"]) == 2
    out, error = _one_error_line(capsys)
    assert "argument --encoding: unknown encoding 'klingon'" in error and not out


def test_run_reads_its_files_in_the_chosen_encoding(tmp_path):
    """What `tlcore run/compare/best` train on: --encoding and --delimiter reach every file they read."""
    from tlcore.cli.main import _load, build_parser

    train = tmp_path / "train.txt"
    train.write_bytes(make_encodings.csv_text(CORPUS["japanese_shift_jis.csv"][1]).replace(",", ";")
                      .encode("shift_jis"))
    args = build_parser().parse_args(["run", "--train", str(train), "--test", str(train), "--model", "minilm",
                                      "--method", "zero-shot", "--encoding", "sjis", "--delimiter", "semicolon"])
    data, test, _ = _load(args)
    assert data.texts == test.texts == [text for text, _ in CORPUS["japanese_shift_jis.csv"][1]]

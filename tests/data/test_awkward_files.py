"""Every awkward file an analyst really has, through the library and through `tlcore validate`.

The files are in tests/data/awkward/ (written by tests/data/make_awkward.py). For each one the table below
says what must happen: it loads with N rows (and the validation report has exactly the listed issue codes),
or reading fails with a DatasetError whose message contains the given words. The CLI must give the same
outcome: exit 0 for a usable file, exit 2 with exactly one `error:` line on stderr for an unreadable file
or a report with errors, and never a traceback.
"""
from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

import tlcore
import tlcore.data.reading
from tlcore.cli import main
from tlcore.data import DataWarning, read_table, row_numbers
from tlcore.data.validation import validate
from tlcore.errors import DatasetError

pytestmark = pytest.mark.filterwarnings("ignore::tlcore.data.reading.DataWarning")

DATA = Path(__file__).resolve().parent
AWKWARD = DATA / "awkward"


@dataclass(frozen=True)
class Case:
    file: str
    rows: int | None = None          # loads with this many rows
    error: str | None = None         # or: read_table raises DatasetError with this in its message
    issues: tuple[str, ...] = ()     # the validation report's codes (errors and warnings), exactly
    blocking: bool = False           # the report has errors: `tlcore validate` exits 2
    sheet: str | None = None
    test: str | None = None
    shots: int | None = None

    @property
    def id(self) -> str:
        extra = [f"sheet={self.sheet}" if self.sheet else "", f"test={self.test}" if self.test else "",
                 f"shots={self.shots}" if self.shots else ""]
        return "-".join([self.file, *filter(None, extra)])


CASES = [
    # formats and separators
    Case("comma_ok.csv", rows=40),
    Case("semicolon.csv", rows=40),
    Case("pipe_separated.txt", rows=40),
    Case("tab_separated.tsv", rows=40),
    Case("tab_in_csv_named.csv", rows=40),
    Case("duplicate_column_names.csv", rows=40),
    Case("numbers_as_labels.csv", rows=40),
    Case("data.parquet", rows=40),
    Case("records.json", rows=40),
    Case("wrapped_data.json", rows=40),
    Case("columns.json", rows=40),
    Case("json_lines_named.json", rows=40),
    Case("broken_line.jsonl", rows=40, issues=("skipped_lines",)),
    Case("two_sheets.xlsx", rows=2, issues=("columns",), blocking=True),  # first sheet: notes, one column
    Case("two_sheets.xlsx", rows=40, sheet="Data"),
    Case("two_sheets.xlsx", sheet="Summary", error="has no sheet 'Summary'; its sheets are: 'Notes', 'Data'"),
    # encodings, line endings, quoting, scripts
    Case("utf8_bom.csv", rows=44),
    Case("utf16_excel_unicode.txt", rows=44),
    Case("utf16_no_bom.csv", rows=40),
    Case("cp1252_excel.csv", rows=44),
    Case("mixed_line_endings.csv", rows=40),
    Case("quoted_newlines.csv", rows=24),
    Case("emoji.csv", rows=40),
    Case("rtl_arabic_hebrew.csv", rows=20),
    Case("blank_lines.csv", rows=12, issues=("missing_label",)),
    # not usable as a table
    Case("empty.csv", error="is empty"),
    Case("whitespace_only.csv", error="is empty"),
    Case("header_only.csv", error="has a header but no data rows"),
    Case("binary_junk.csv", error="looks like a binary file"),
    Case("html_page.csv", error="is an HTML page"),
    Case("prose.txt", error="does not look like a table"),
    Case("gzipped.csv", error="gzip-compressed; decompress it first"),
    Case("old_excel.xls", error="old Excel format (.xls)"),
    Case("workbook_renamed.csv", error="Excel workbook; rename it to .xlsx"),
    Case("csv_renamed.xlsx", error="probably a CSV file renamed to .xlsx"),
    Case("damaged.parquet", error="could not be read as a Parquet file"),
    Case("dict_of_lists.json", error="JSON object with keys 'positive', 'negative'"),
    Case("scalar_list.json", error="item 1 of the list is a JSON string, not an object"),
    Case("truncated.json", error="is not valid JSON"),
    Case("mostly_ragged.csv", error="30 of 30 rows have more fields than the 2 columns of the header"),
    Case("unclosed_quote.csv", error="quote (\") opened on line 8 (row 8) closes only on line 15"),
    # readable, with problems the report names
    Case("ragged_unquoted_commas.csv", rows=38, issues=("skipped_rows",)),
    Case("float_labels.csv", rows=40, issues=("float_labels",), blocking=True),
    Case("single_class.csv", rows=30, issues=("single_class",), blocking=True),
    Case("tiny_class.csv", rows=41, issues=("class_too_small",), blocking=True),
    Case("one_column.csv", rows=40, issues=("columns",), blocking=True),
    Case("missing_values.csv", rows=40, issues=("missing_text", "missing_label")),
    Case("duplicates.csv", rows=44, issues=("duplicate_texts", "near_duplicate_texts")),
    Case("conflicting_labels.csv", rows=42, issues=("conflicting_labels",)),
    Case("label_variants.csv", rows=40, issues=("label_variants",)),
    Case("imbalanced.csv", rows=50, issues=("class_imbalance",)),
    Case("many_classes.csv", rows=30, issues=("many_classes",)),
    Case("long_texts.csv", rows=30, issues=("long_texts",)),
    Case("very_long_cell.csv", rows=40, issues=("texts_truncated", "long_texts")),
    Case("no_header.csv", rows=39, issues=("header_looks_like_data",)),
    Case("leak_train.csv", rows=40, test="leak_test.csv", issues=("test_overlap",)),
    Case("leak_train.csv", rows=40, test="unseen_labels_test.csv", issues=("test_unseen_labels",), blocking=True),
    # 40 rows: a 4-per-class test split, no validation rows (too few to judge), 16 training rows per class
    Case("leak_train.csv", rows=40, shots=17, issues=("shots_short",)),
]


def test_the_corpus_is_big_and_every_file_is_in_the_table():
    files = {p.name for p in AWKWARD.iterdir()}
    covered = {c.file for c in CASES} | {c.test for c in CASES if c.test}
    assert len(files) >= 30
    assert files == covered, f"untested: {sorted(files - covered)}; missing: {sorted(covered - files)}"


def _load(case: Case):
    frame = read_table(AWKWARD / case.file, sheet=case.sheet)
    test = read_table(AWKWARD / case.test) if case.test else None
    return frame, validate(frame, test_frame=test, shots=case.shots)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_library(case: Case):
    if case.error:
        with pytest.raises(DatasetError) as caught:
            read_table(AWKWARD / case.file, sheet=case.sheet)
        assert case.error in str(caught.value)
        assert "\n" not in str(caught.value)
        return
    frame, report = _load(case)
    assert len(frame) == case.rows
    assert sorted(report.codes) == sorted(case.issues), [i.message for i in report.errors + report.warnings]
    assert report.ok is not case.blocking
    for issue in report.errors + report.warnings:
        assert issue.message and issue.message[-1] in ".)", issue.message
        assert json.dumps(issue.to_dict())


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_cli(case: Case, capsys):
    args = ["validate", str(AWKWARD / case.file)]
    args += ["--sheet", case.sheet] if case.sheet else []
    args += ["--test", str(AWKWARD / case.test)] if case.test else []
    args += ["--shots", str(case.shots)] if case.shots else []
    code = main(args)
    out, err = capsys.readouterr()
    errors = err.strip().splitlines()
    if case.error or case.blocking:
        assert code == 2
        assert len(errors) == 1 and errors[0].startswith("error: "), err
    else:
        assert code == 0 and not err, err
    if case.error:
        assert case.error in errors[0] and not out
    else:
        for issue_code in case.issues:
            assert f"[{issue_code}]" in out
        assert out.index("info:") > max((out.index(f"[{c}]") for c in case.issues), default=0)
        if case.blocking:
            assert "cannot be used as it is" in errors[0]


# -- what each kind of file must look like once read ---------------------------------------------------------

@pytest.mark.parametrize("file, encoding, delimiter", [
    ("comma_ok.csv", "utf-8", ","), ("semicolon.csv", "utf-8", ";"), ("pipe_separated.txt", "utf-8", "|"),
    ("tab_separated.tsv", "utf-8", "\t"), ("tab_in_csv_named.csv", "utf-8", "\t"),
    ("utf8_bom.csv", "utf-8-sig", ","), ("utf16_excel_unicode.txt", "utf-16-le", "\t"),
    ("utf16_no_bom.csv", "utf-16-le", ","), ("cp1252_excel.csv", "cp1252", ","),
    ("records.json", "utf-8", None), ("data.parquet", None, None),
])
def test_encoding_and_delimiter_are_recorded(file, encoding, delimiter):
    frame = read_table(AWKWARD / file)
    assert frame.attrs["encoding"] == encoding
    assert frame.attrs["delimiter"] == delimiter
    assert frame.attrs["format"] == Path(file).suffix[1:]
    assert "text" in frame.columns or "review" in frame.columns  # no BOM left in the first column name


def test_text_survives_every_encoding():
    frames = {f: read_table(AWKWARD / f) for f in ("utf8_bom.csv", "utf16_excel_unicode.txt", "cp1252_excel.csv")}
    for frame in frames.values():
        assert frame["text"].iloc[0] == "My fiancé and I came in the middle of the day and we were greeted and " \
                                        "seated right away."
    assert any("\u2019" in t for t in frames["cp1252_excel.csv"]["text"])   # Windows-1252 curly apostrophe
    assert any("crêpe" in t for t in frames["utf16_excel_unicode.txt"]["text"])


def test_emoji_right_to_left_and_quoted_newlines_are_kept():
    emoji = read_table(AWKWARD / "emoji.csv")
    assert emoji["text"].iloc[0].endswith("😍") and emoji["text"].iloc[5].endswith("👎🏽")
    rtl = read_table(AWKWARD / "rtl_arabic_hebrew.csv")
    assert rtl["text"].iloc[0] == "الطعام كان لذيذا جدا والخدمة ممتازة"
    assert rtl["text"].iloc[6] == "האוכל היה טעים מאוד והשירות מצוין"
    quoted = read_table(AWKWARD / "quoted_newlines.csv")
    assert quoted["text"].str.contains("\n").sum() == 24
    assert quoted["text"].iloc[-1].endswith("\n\n-- sent from my phone")  # CRLF inside quotes: normalised
    mixed = read_table(AWKWARD / "mixed_line_endings.csv")
    assert mixed.equals(read_table(AWKWARD / "comma_ok.csv"))


def test_row_numbers_are_the_file_rows():
    blank = read_table(AWKWARD / "blank_lines.csv")  # rows 6 and 7 of the file are blank
    assert row_numbers(blank)[:6] == [2, 3, 4, 5, 8, 9]
    assert validate(blank).issue("missing_label").rows == [4]
    missing = validate(read_table(AWKWARD / "missing_values.csv"))
    assert missing.issue("missing_text").rows == [5, 12]
    assert missing.issue("missing_label").rows == [8, 23, 32]
    assert "rows 8, 23, 32. These rows will be dropped" in missing.issue("missing_label").message
    assert missing.info["rows_usable"] == 35 == len(tlcore.to_labeled(read_table(AWKWARD / "missing_values.csv")))
    jsonl = read_table(AWKWARD / "broken_line.jsonl")
    report = validate(jsonl)
    assert report.issue("skipped_lines").rows == [18]
    assert "line 18 is not valid JSON" in report.issue("skipped_lines").message
    assert row_numbers(jsonl)[16:18] == [17, 19]


def test_messages_show_five_rows_then_how_many_more():
    report = validate(read_table(AWKWARD / "float_labels.csv"))
    message = report.issue("float_labels").message
    assert "rows 2, 3, 4, 5, 6 and 35 more" in message and "looks like a score, not a class" in message
    assert "--label-column" in message


def test_duplicates_conflicts_and_label_variants_name_their_rows():
    dup = validate(read_table(AWKWARD / "duplicates.csv"))
    assert dup.issue("duplicate_texts").rows == [42, 43]
    assert "row 42 repeats row 2" in dup.issue("duplicate_texts").message
    assert dup.issue("near_duplicate_texts").rows == [44, 45]
    conflict = validate(read_table(AWKWARD / "conflicting_labels.csv"))
    assert conflict.issue("conflicting_labels").rows == [4, 13, 42, 43]
    variants = read_table(AWKWARD / "label_variants.csv")
    report = validate(variants)
    mapping = report.issue("label_variants").details["mapping"]
    assert mapping == {"POSITIVE": "positive", "Positive": "positive"}  # 'positive ' is trimmed anyway
    merged = tlcore.data.merge_labels(variants, "label", mapping)
    again = validate(merged)
    assert again.ok and not again.warnings and again.info["class_counts"] == {"negative": 20, "positive": 20}


def test_imbalance_says_what_accuracy_to_beat():
    report = validate(read_table(AWKWARD / "imbalanced.csv"))
    assert report.info["majority_class"] == "ham" and report.info["majority_class_accuracy"] == 0.9
    assert "must beat 90.0% accuracy" in report.issue("class_imbalance").message


def test_long_texts_use_the_tokenizer_when_given():
    frame = read_table(AWKWARD / "long_texts.csv")
    estimated = validate(frame).issue("long_texts")
    assert "estimated as characters / 4" in estimated.message and estimated.details["estimated"]
    counted = validate(frame, tokenizer_max_length=64, count_tokens=lambda text: len(text.split()))
    assert "counted with the model's tokenizer" in counted.issue("long_texts").message
    assert counted.issue("long_texts").rows == list(range(2, 12))
    assert validate(frame, tokenizer_max_length=10_000).issue("long_texts") is None


def test_test_file_overlap_and_unseen_labels():
    train = read_table(AWKWARD / "leak_train.csv")
    leak = validate(train, test_frame=read_table(AWKWARD / "leak_test.csv"))
    overlap = leak.issue("test_overlap")
    assert overlap.rows == [17, 18, 19] and leak.info["test_overlap"] == 3
    assert "3 test texts (17% of the test rows) also appear in the training file (leakage)" in overlap.message
    unseen = validate(train, test_frame=read_table(AWKWARD / "unseen_labels_test.csv")).issue("test_unseen_labels")
    assert unseen.details["labels"] == ["mixed", "neutral"] and unseen.rows == [14, 15]


def test_excel_sheets_are_listed_and_chosen():
    with open(AWKWARD / "two_sheets.xlsx", "rb") as upload:  # a file object, as Streamlit gives it
        frame = read_table(upload, name="two_sheets.xlsx", sheet="data")
    assert frame.attrs["sheet"] == "Data" and frame.attrs["sheets"] == ["Notes", "Data"]
    notes = validate(read_table(AWKWARD / "two_sheets.xlsx"))
    assert "also has the sheet 'Data'; choose one with --sheet" in notes.errors[0].message


def test_long_cells_are_cut_with_a_warning():
    with pytest.warns(DataWarning, match="longer than 20,000 characters"):
        frame = read_table(AWKWARD / "very_long_cell.csv")
    assert len(frame["text"].iloc[0]) == tlcore.data.reading.MAX_TEXT_CHARS == 20_000
    assert frame.attrs["truncated_texts"] == 1


def test_json_report_is_one_document(capsys):
    assert main(["validate", str(AWKWARD / "float_labels.csv"), "--json"]) == 2
    out, err = capsys.readouterr()
    report = json.loads(out)
    assert report["ok"] is False and report["errors"][0]["code"] == "float_labels"
    assert report["info"]["rows_read"] == 40 and report["info"]["encoding"] == "utf-8"
    assert err.startswith("error: ") and err.count("\n") == 1


# -- limits that protect the machine -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def fifty_mb(tmp_path_factory) -> Path:
    """A 50 MB CSV of real review sentences: far more rows than MAX_ROWS (never committed)."""
    rows = "".join(f'"{text}",{label}\n' for text, label in zip(*_yelp()))
    path = tmp_path_factory.mktemp("big") / "fifty_mb.csv"
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("text,label\n")
        while handle.tell() < 50 * 1024 * 1024:
            handle.write(rows)
    return path


def _yelp():
    frame = tlcore.load_sample("yelp")
    return [t.replace('"', '""') for t in frame["text"]], list(frame["label"])


def test_fifty_mb_file_is_refused_with_a_hint_to_sample(fifty_mb):
    assert fifty_mb.stat().st_size >= 50 * 1024 * 1024
    with pytest.raises(DatasetError, match=r"more than 200,000 rows.*take a random sample"):
        read_table(fifty_mb)


def test_row_cap_is_a_setting(monkeypatch):
    monkeypatch.setattr(tlcore.data.reading, "MAX_ROWS", 39)
    with pytest.raises(DatasetError, match="more than 39 rows"):
        read_table(AWKWARD / "comma_ok.csv")
    assert len(read_table(AWKWARD / "comma_ok.csv", max_rows=40)) == 40


def test_file_over_100_mb_is_refused_before_reading(tmp_path):
    path = tmp_path / "huge.csv"
    with open(path, "wb") as handle:
        handle.truncate(101 * 1024 * 1024)  # sparse: no disk space used
    with pytest.raises(DatasetError, match=r"huge.csv is 101.0 MB; TransferLab reads files up to 100.0 MB"):
        read_table(path)


# -- the real command, as a user runs it ---------------------------------------------------------------------

@pytest.mark.parametrize("args, code, stderr", [
    (("comma_ok.csv",), 0, None),
    (("html_page.csv",), 2, "is an HTML page"),
    (("float_labels.csv", "--json"), 2, "cannot be used as it is: 1 error (float_labels)"),
])
def test_command_line(args, code, stderr, tlcore_cli):
    result = tlcore_cli("validate", *[str(AWKWARD / a) if a.endswith((".csv", ".xlsx")) else a for a in args],
                        timeout=120)
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    if stderr is None:
        assert result.stderr == "" and "OK" in result.stdout.splitlines()[0]
    else:
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and stderr in lines[0]
    if "--json" in args:
        json.loads(result.stdout)


def test_command_line_fifty_mb(fifty_mb, tlcore_cli):
    result = tlcore_cli("validate", str(fifty_mb), timeout=120)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith("error: ") and "more than 200,000 rows" in result.stderr


# -- the corpus is reproducible ------------------------------------------------------------------------------

def test_generator_reproduces_the_corpus(tmp_path):
    spec = importlib.util.spec_from_file_location("make_awkward", DATA / "make_awkward.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.OUT = tmp_path
    module.main()
    made = {p.name for p in tmp_path.iterdir()}
    assert made == {p.name for p in AWKWARD.iterdir()}
    for name in sorted(made):
        if name.endswith((".xlsx", ".parquet")) and name != "csv_renamed.xlsx":
            if name != "damaged.parquet":
                pd.testing.assert_frame_equal(read_table(tmp_path / name, sheet="Data" if "sheets" in name else None),
                                              read_table(AWKWARD / name, sheet="Data" if "sheets" in name else None))
        elif name != "workbook_renamed.csv":
            assert (tmp_path / name).read_bytes() == (AWKWARD / name).read_bytes(), name

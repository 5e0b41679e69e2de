"""Checking a labeled table before any training: a report of blocking errors and informative warnings.

``validate(frame, text_column, label_column)`` looks at a table read by ``read_table`` (or any DataFrame) and
returns a :class:`ValidationReport`. Errors block a run (no usable rows, a single class, a class too small to
split, labels that are scores, a test file with labels the training file lacks, missing columns); warnings
inform (rows that will be dropped, duplicates, conflicting labels, label spelling variants, long texts, class
imbalance, train/test overlap, rows the reader skipped). Every message says what was found, where (row numbers
as the file shows them, see ``tlcore.data.labeled.row_numbers``) and how to fix it.
"""
from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Callable, Mapping

import pandas as pd

from ..errors import DatasetError, quoted
from .encoding import describe_encoding
from .labeled import LabeledData, _label_string, guess_columns, make_split, rows_taken
from .reading import row_numbers, row_word

DEFAULT_TOKEN_LIMIT = 128   # the training methods' default max_length
CHARS_PER_TOKEN = 4         # rough estimate when no tokenizer is given
IMBALANCE_SHARE = 0.8       # majority share above this: warning
MIN_ROWS_PER_CLASS = 5      # fewer rows per class on average: warning
SHOW = 5                    # row numbers / examples shown in a message


@dataclass
class Issue:
    """One finding: a stable ``code``, a message for people, the file rows concerned, optional details."""

    code: str
    message: str
    rows: list[int] = field(default_factory=list)
    details: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"code": self.code, "message": self.message, "rows": list(self.rows), "details": dict(self.details)}


@dataclass
class ValidationReport:
    """Errors block training; warnings inform; ``info`` holds the counts (see :func:`validate`)."""

    errors: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)
    info: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def codes(self) -> list[str]:
        return [issue.code for issue in self.errors + self.warnings]

    def issue(self, code: str) -> Issue | None:
        return next((i for i in self.errors + self.warnings if i.code == code), None)

    def to_dict(self) -> dict:
        return {"ok": self.ok, "errors": [i.to_dict() for i in self.errors],
                "warnings": [i.to_dict() for i in self.warnings], "info": dict(self.info)}

    def lines(self) -> list[str]:
        """The report as readable lines: a summary, the errors, the warnings, then the info."""
        info = self.info
        where = ", ".join(str(v) for v in (info.get("format"), describe_encoding(info),
                                           f"sheet {info['sheet']!r}" if info.get("sheet") else None,
                                           f"delimiter {info['delimiter_name']}" if info.get("delimiter_name")
                                           else None) if v)
        head = f"{info.get('name', 'data')}" + (f" ({where})" if where else "")
        counts = f"{info.get('rows_read', 0)} rows read, {info.get('rows_usable', 0)} usable"
        if "classes" in info:
            counts += f", {_plural(info['classes'], 'class', 'classes')}"
        verdict = "OK" if self.ok else f"{len(self.errors)} error{'s' if len(self.errors) != 1 else ''}"
        out = [f"{head}: {counts}; {verdict}, {len(self.warnings)} warning{'s' if len(self.warnings) != 1 else ''}"]
        for title, issues in (("ERROR", self.errors), ("WARNING", self.warnings)):
            out += [f"{title} [{i.code}] {i.message}" for i in issues]
        out.append("info:")
        out += [f"  {key}: {value}" for key, value in info.items()]
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())


# -- helpers ------------------------------------------------------------------------------------------------

def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else plural or word + 's'}"


def _where(numbers: list[int], word: str = "row") -> str:
    """'row 7' / 'rows 2, 5, 9, 12, 15 and 3 more'."""
    numbers = list(numbers)
    shown = ", ".join(str(n) for n in numbers[:SHOW])
    more = f" and {len(numbers) - SHOW:,} more" if len(numbers) > SHOW else ""
    return f"{word if len(numbers) == 1 else word + 's'} {shown}{more}"


class _Punctuation(dict):
    """str.translate table deleting punctuation (Unicode category P*), filled lazily per code point."""

    def __missing__(self, code: int):
        value = None if unicodedata.category(chr(code)).startswith("P") else code
        self[code] = value
        return value


_PUNCTUATION = _Punctuation()
_SPACES = re.compile(r"\s+")


def normalize_text(text: str) -> str:
    """Lower case, without punctuation, whitespace collapsed: texts equal under this are near-duplicates."""
    return " ".join(str(text).casefold().translate(_PUNCTUATION).split())


def _label_key(label: str) -> str:
    return _SPACES.sub(" ", re.sub(r"[\s_\-.]+", " ", label.casefold())).strip()


def _as_number(value) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value if isinstance(value, (int, float)) else str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _present(series: pd.Series, as_label: bool) -> pd.Series:
    """Each cell as the text/label string ``to_labeled`` would use; "" where it is missing or blank."""
    convert = _label_string if as_label else (lambda v: str(v).strip())
    if pd.api.types.is_string_dtype(series):  # all strings: convert each distinct value once
        table = {value: convert(value) for value in series.dropna().unique()}
        return series.map(table).fillna("").astype(object)
    return series.map(lambda v: "" if _missing(v) else convert(v)).astype(object)


def _missing(value) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def merge_labels(frame: pd.DataFrame, label_column: str, mapping: Mapping[str, str]) -> pd.DataFrame:
    """A copy of ``frame`` with labels renamed by ``mapping`` (old -> new), matched after trimming spaces.

    Use the mapping that ``validate`` suggests for spelling variants (``report.issue("label_variants")
    .details["mapping"]``), e.g. ``{"Positive": "positive", "POSITIVE": "positive"}``.
    """
    if label_column not in frame.columns:
        raise DatasetError(f"no label column {label_column!r}; the columns found are: "
                           f"{', '.join(map(str, frame.columns))}.")
    table = {str(k).strip(): v for k, v in mapping.items()}
    out = frame.copy()
    out[label_column] = out[label_column].map(
        lambda v: v if _missing(v) else table.get(_label_string(v), v))
    # What was renamed, row by row, goes with the table (tlcore.data.versions records it in a version's log).
    renamed = [{"row": i, "column": str(label_column), "old_label": str(old), "new_label": str(new)}
               for i, (old, new) in enumerate(zip(frame[label_column], out[label_column]))
               if not _missing(old) and str(old) != str(new)]
    out.attrs["merged_labels"] = [*(frame.attrs.get("merged_labels") or []), *renamed]
    return out


# -- the checks ---------------------------------------------------------------------------------------------

def validate(frame: pd.DataFrame, text_column: str | None = None, label_column: str | None = None, *,
             test_frame: pd.DataFrame | None = None, shots: int | None = None,
             tokenizer_max_length: int | None = None, count_tokens: Callable[[str], int] | None = None,
             name: str | None = None, test_name: str | None = None) -> ValidationReport:
    """Check a labeled table (and optionally a separate test table) before training on it.

    ``text_column`` / ``label_column`` default to the guessed ones. ``shots`` checks that every class can give
    K few-shot examples after the default test hold-out. ``tokenizer_max_length`` (default 128, the training
    default) and ``count_tokens`` (a callable text -> number of tokens; without it tokens are estimated as
    characters / 4) set the long-text check. Row numbers are those of the file (``tlcore.data.labeled.row_numbers``).
    """
    report = ValidationReport()
    name = name or frame.attrs.get("name") or "the data"
    word = row_word(frame)
    info = report.info
    info.update(name=name, format=frame.attrs.get("format"), encoding=frame.attrs.get("encoding"),
                encoding_confidence=frame.attrs.get("encoding_confidence"),
                encoding_source=frame.attrs.get("encoding_source"), delimiter=frame.attrs.get("delimiter"),
                delimiter_name={",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}.get(
                    frame.attrs.get("delimiter"), frame.attrs.get("delimiter")),
                sheet=frame.attrs.get("sheet"), rows_read=len(frame), rows_usable=0,
                columns=[str(c) for c in frame.columns])
    info = {k: v for k, v in info.items() if v is not None}
    report.info = info
    for warning in frame.attrs.get("load_warnings", []):
        report.warnings.append(Issue(warning["code"], warning["message"], list(warning.get("rows", []))))

    columns = _resolve_columns(frame, text_column, label_column, name, report)
    if columns is None:
        return report
    text_column, label_column = columns
    info.update(text_column=text_column, label_column=label_column)
    _check_header(frame, text_column, label_column, report)

    numbers = row_numbers(frame)
    texts = _present(frame[text_column], as_label=False)
    labels = _present(frame[label_column], as_label=True)
    no_text, no_label = texts == "", labels == ""
    usable = ~no_text & ~no_label
    info["rows_usable"] = int(usable.sum())
    info["rows_dropped"] = int((~usable).sum())
    for mask, code, what, column in ((no_text, "missing_text", "no text", text_column),
                                     (no_label, "missing_label", "no label", label_column)):
        rows = [numbers[i] for i in mask.to_numpy().nonzero()[0]]
        if rows:
            report.warnings.append(Issue(code, (
                f"{_plural(len(rows), word)} {'have' if len(rows) > 1 else 'has'} {what} (column {column!r} "
                f"empty): {_where(rows, word)}. These rows will be dropped; fill in the {what[3:]} or delete "
                f"the rows."), rows))
    if not usable.any():
        report.errors.append(Issue("no_rows", (
            f"no row of {name} has both a text (column {text_column!r}) and a label (column {label_column!r}); "
            "check that the right columns are chosen (--text-column, --label-column) and that they are filled "
            "in."), []))
        return report

    positions = usable.to_numpy().nonzero()[0]
    used_numbers = [numbers[i] for i in positions]
    used_texts = texts.iloc[positions].tolist()
    used_labels = labels.iloc[positions].tolist()
    raw_labels = frame[label_column].iloc[positions].tolist()
    data = LabeledData(used_texts, used_labels)
    counts = Counter(used_labels)
    info["classes"] = len(counts)
    info["class_counts"] = dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
    majority, majority_n = max(sorted(counts.items()), key=lambda kv: kv[1])
    info["majority_class"] = majority
    info["majority_class_accuracy"] = round(majority_n / len(data), 4)
    info["fingerprint"] = data.fingerprint()

    scores = _check_float_labels(raw_labels, used_numbers, label_column, word, report)
    _check_classes(data, counts, used_numbers, test_frame is not None, shots, word, report, scores)
    _check_label_variants(used_labels, used_numbers, label_column, word, report)
    _check_duplicates(used_texts, used_labels, used_numbers, word, report)
    _check_lengths(used_texts, used_numbers, tokenizer_max_length, count_tokens, word, report)
    if test_frame is not None:
        _check_test(test_frame, text_column, label_column, data, used_numbers, word, test_name, report)
    return report


def _resolve_columns(frame, text_column, label_column, name, report) -> tuple[str, str] | None:
    found = ", ".join(map(str, frame.columns))
    sheets = [s for s in frame.attrs.get("sheets", []) if s != frame.attrs.get("sheet")]
    sheet_hint = (f" This workbook also has the sheet{'s' if len(sheets) > 1 else ''} "
                  f"{', '.join(map(repr, sheets))}; choose one with --sheet.") if sheets else ""
    if text_column is None or label_column is None:
        try:
            guessed_text, guessed_label = guess_columns(frame)
        except DatasetError as exc:
            report.errors.append(Issue("columns", f"{name}: {exc}{sheet_hint}", []))
            return None
        report.info["columns_guessed"] = [r for r, c in (("text", text_column), ("label", label_column)) if c is None]
        text_column = text_column or guessed_text
        label_column = label_column or guessed_label
    for role, column in (("text", text_column), ("label", label_column)):
        if column not in frame.columns:
            report.errors.append(Issue("missing_column", (
                f"{name} has no {role} column {column!r}; the columns found are: {found}. Choose one with "
                f"--{role}-column.{sheet_hint}"), []))
    if text_column == label_column:
        report.errors.append(Issue("missing_column", (
            f"the text and label columns are both {text_column!r}; choose two different columns "
            f"(found: {found})."), []))
    return None if report.errors else (text_column, label_column)


def _check_header(frame, text_column, label_column, report) -> None:
    if frame.attrs.get("format") not in ("csv", "tsv", "txt", "xlsx"):
        return
    label_values = {_label_string(v) for v in frame[label_column].head(1000) if not _missing(v)}
    suspicious = [c for c in (text_column, label_column) if str(c) in label_values]
    if len(str(text_column)) > 40 or len(str(text_column).split()) > 5:
        suspicious.insert(0, text_column)
    if suspicious:
        report.warnings.append(Issue("header_looks_like_data", (
            f"the header row looks like data: {', '.join(quoted(s) for s in suspicious)} "
            f"{'is' if len(suspicious) == 1 else 'are'} used as column name{'s' if len(suspicious) > 1 else ''}. "
            "If the file has no header row, add one such as text,label; otherwise its first example is lost."),
            [frame.attrs.get("first_row", 2) - 1]))


def _check_float_labels(raw_labels, numbers, label_column, word, report) -> bool:
    try:
        distinct = {value: _as_number(value) for value in set(raw_labels)}
        values = [distinct[v] for v in raw_labels]
    except (TypeError, KeyError):  # unhashable cells
        values = [_as_number(v) for v in raw_labels]
    numeric = [v for v in values if v is not None]
    fractional = sorted({v for v in numeric if not v.is_integer()})
    if not fractional or len(numeric) < 0.9 * len(values):
        return False
    rows = [n for n, v in zip(numbers, values) if v is not None and not v.is_integer()]
    shown = ", ".join(f"{v:g}" for v in fractional[:SHOW]) + (", ..." if len(fractional) > SHOW else "")
    report.errors.append(Issue("float_labels", (
        f"the label column {label_column!r} holds numbers with decimals ({shown}; "
        f"{len(set(numeric)):,} distinct values, {_where(rows, word)}): it looks like a score, not a class, "
        "and each value would become its own class. Choose a column of class names with --label-column, or "
        "turn the score into classes first (for example 'positive' where score >= 0.5, else 'negative')."),
        rows, {"distinct_values": len(set(numeric))}))
    return True


def _check_classes(data, counts, numbers, has_test, shots, word, report, scores) -> None:
    by_label = defaultdict(list)
    for n, label in zip(numbers, data.labels):
        by_label[label].append(n)
    if len(counts) == 1:
        only = next(iter(counts))
        report.errors.append(Issue("single_class", (
            f"every usable row has the label {only!r}: a classifier needs at least two classes. Check that the "
            "label column is the right one (--label-column), or add rows of the other classes."), []))
        return
    if not has_test and not scores:
        small = sorted(label for label, n in counts.items() if n < 2)
        if small:
            rows = sorted(n for label in small for n in by_label[label])
            report.errors.append(Issue("class_too_small", (
                f"{_plural(len(small), 'class', 'classes')} {'has' if len(small) == 1 else 'have'} a single row "
                f"({', '.join(map(repr, small[:SHOW]))}{', ...' if len(small) > SHOW else ''}; {_where(rows, word)}),"
                f" so {'it' if len(small) == 1 else 'they'} cannot appear in both the training and the test split. "
                f"Add rows to {'it' if len(small) == 1 else 'them'}, remove {'it' if len(small) == 1 else 'them'}, "
                "or give a separate test file (--test)."), rows, {"classes": small}))
    if not scores and len(data) / len(counts) < MIN_ROWS_PER_CLASS:
        report.warnings.append(Issue("many_classes", (
            f"{len(counts):,} classes for {len(data):,} rows: {len(data) / len(counts):.1f} rows per class on "
            f"average, too few to learn or to test each class. Merge rare classes, collect more rows (at least "
            f"{MIN_ROWS_PER_CLASS} to 10 per class), or check that the label column is the right one."), [],
            {"rows_per_class": round(len(data) / len(counts), 2)}))
    majority, majority_n = max(sorted(counts.items()), key=lambda kv: kv[1])
    share = majority_n / len(data)
    if share > IMBALANCE_SHARE:
        report.warnings.append(Issue("class_imbalance", (
            f"{majority!r} is {share:.0%} of the rows ({majority_n:,} of {len(data):,}): a model that always "
            f"answers {majority!r} is already {share:.1%} accurate, so a model must beat {share:.1%} accuracy to "
            "be useful. Judge models by macro-F1 too, and consider more rows of the smaller classes or "
            "balanced class weights."), [], {"majority_class": majority, "majority_share": round(share, 4)}))
    if shots:
        available, where = _training_rows_per_class(data)
        short = {label: n for label, n in sorted(available.items()) if n < shots}
        if short:
            listed = ", ".join(f"{label!r} ({n})" for label, n in list(short.items())[:SHOW])
            report.warnings.append(Issue("shots_short", (
                f"{shots} shots per class were asked, but with the default split ({where}) "
                f"{_plural(len(short), 'class has', 'classes have')} fewer training rows: {listed}. "
                "They will get fewer examples; lower --shots or add rows to those classes."),
                sorted(n for label in short for n in by_label[label]), {"training_rows": short}))


def _training_rows_per_class(data: LabeledData) -> tuple[dict[str, int], str]:
    """Training rows per class under the default split, and which splits took the others (for the message)."""
    counts = Counter(data.labels)
    try:
        split = make_split(data)
    except DatasetError:
        return {label: n - max(1, round(n * 0.2)) for label, n in counts.items()}, "a 20 % test hold-out"
    available = Counter(split.train.labels)
    return {label: available.get(label, 0) for label in counts}, rows_taken(split)


def _check_label_variants(labels, numbers, label_column, word, report) -> None:
    spelled = defaultdict(Counter)
    for label, n in Counter(labels).items():
        spelled[_label_key(label)][label] += n
    groups = [variants for variants in spelled.values() if len(variants) > 1]
    if not groups:
        return
    mapping, parts = {}, []
    for variants in groups:
        canonical = max(sorted(variants), key=lambda v: (variants[v], v == v.lower()))
        for variant in sorted(variants):
            if variant != canonical:
                mapping[variant] = canonical
        parts.append(" / ".join(f"{v!r} ({variants[v]})" for v in sorted(variants, key=lambda v: -variants[v])))
    rows = [n for n, label in zip(numbers, labels) if label in mapping]
    suggestion = ", ".join(f"{k!r} -> {v!r}" for k, v in mapping.items())
    report.warnings.append(Issue("label_variants", (
        f"some labels in column {label_column!r} differ only in case, spaces or punctuation and look like one "
        f"class: {'; '.join(parts[:SHOW])}. As they are they count as separate classes. Merge them ({suggestion}): "
        f"fix the file, or in Python use tlcore.merge_labels(frame, {label_column!r}, mapping) ({_where(rows, word)} "
        "would change)."), rows, {"mapping": mapping}))


def _check_duplicates(texts, labels, numbers, word, report) -> None:
    keys = [normalize_text(t) for t in texts]
    groups: dict[str, list[int]] = defaultdict(list)
    for i, key in enumerate(keys):
        groups[key].append(i)
    conflicts = [members for members in groups.values() if len({labels[i] for i in members}) > 1]
    in_conflict = {i for members in conflicts for i in members}
    if conflicts:
        examples = []
        for members in conflicts[:3]:
            by_label = defaultdict(list)
            for i in members:
                by_label[labels[i]].append(numbers[i])
            examples.append(f"{quoted(texts[members[0]])} is labelled " + " and ".join(
                f"{label!r} ({_where(rows, word)})" for label, rows in by_label.items()))
        rows = sorted(numbers[i] for i in in_conflict)
        report.warnings.append(Issue("conflicting_labels", (
            f"{_plural(len(conflicts), 'text')} appear{'s' if len(conflicts) == 1 else ''} with different labels "
            f"({_plural(len(rows), word)}): {'; '.join(examples)}{'; ...' if len(conflicts) > 3 else ''}. A model "
            "cannot learn both; correct the labels or remove those rows."), rows,
            {"groups": [[numbers[i] for i in members] for members in conflicts[:100]]}))
    exact, near = [], []
    first_exact: dict[str, int] = {}
    first_key: dict[str, int] = {}
    for i, (text, key) in enumerate(zip(texts, keys)):
        if i in in_conflict:
            continue
        if text in first_exact:
            exact.append((i, first_exact[text]))
        elif key in first_key:
            near.append((i, first_key[key]))
        first_exact.setdefault(text, i)
        first_key.setdefault(key, i)
    if exact:
        pairs = [(numbers[i], numbers[j]) for i, j in exact]
        shown = ", ".join(f"{word} {a} repeats {word} {b}" for a, b in pairs[:SHOW])
        report.warnings.append(Issue("duplicate_texts", (
            f"{_plural(len(exact), word)} repeat{'s' if len(exact) == 1 else ''} an earlier text exactly ({shown}"
            f"{f' and {len(pairs) - SHOW:,} more' if len(pairs) > SHOW else ''}). Repeats weigh those texts more "
            "in training and can land in both the training and the test split, which inflates the test score; "
            "remove them (keep one of each)."), [a for a, _ in pairs], {"pairs": pairs[:1000]}))
    if near:
        pairs = [(numbers[i], numbers[j]) for i, j in near]
        shown = "; ".join(f"{word} {numbers[i]} {quoted(texts[i], 40)} ~ {word} {numbers[j]} {quoted(texts[j], 40)}"
                          for i, j in near[:3])
        report.warnings.append(Issue("near_duplicate_texts", (
            f"{_plural(len(near), word)} {'is a near-duplicate' if len(near) == 1 else 'are near-duplicates'} of an "
            f"earlier text (the same once case, spaces and punctuation are ignored): {shown}"
            f"{f'; and {len(near) - 3:,} more' if len(near) > 3 else ''}. Consider removing them, as for exact "
            "duplicates."), [a for a, _ in pairs], {"pairs": pairs[:1000]}))


def _check_lengths(texts, numbers, limit, count_tokens, word, report) -> None:
    limit = limit or DEFAULT_TOKEN_LIMIT
    lengths = [len(t) for t in texts]
    ordered = sorted(lengths)
    report.info["text_chars"] = {"min": ordered[0], "median": ordered[len(ordered) // 2], "max": ordered[-1]}
    report.info["token_limit"] = limit
    if count_tokens is not None:
        tokens = [int(count_tokens(t)) for t in texts]
        how = "counted with the model's tokenizer"
    else:
        tokens = [math.ceil(n / CHARS_PER_TOKEN) for n in lengths]
        how = f"estimated as characters / {CHARS_PER_TOKEN}; the real count depends on the tokenizer"
    report.info["tokens_estimated"] = count_tokens is None
    rows = [n for n, t in zip(numbers, tokens) if t > limit]
    report.info["texts_over_token_limit"] = len(rows)
    if rows:
        share = len(rows) / len(texts)
        report.warnings.append(Issue("long_texts", (
            f"{_plural(len(rows), 'text')} ({share:.0%}) {'is' if len(rows) == 1 else 'are'} longer than the "
            f"model's limit of {limit} tokens ({how}; the longest has about {max(tokens):,}): only the first "
            f"{limit} tokens of each are read ({_where(rows, word)}). If the ends matter, raise --max-length "
            "(slower, more memory) or split long texts into parts."), rows,
            {"limit": limit, "estimated": count_tokens is None, "max_tokens": max(tokens)}))


def _check_test(test_frame, text_column, label_column, data, train_numbers, train_word, test_name, report) -> None:
    info = report.info
    test_name = test_name or test_frame.attrs.get("name") or "the test file"
    word = row_word(test_frame)
    info["test_name"] = test_name
    info["test_rows_read"] = len(test_frame)
    for warning in test_frame.attrs.get("load_warnings", []):
        report.warnings.append(Issue("test_" + warning["code"], warning["message"], list(warning.get("rows", []))))
    missing = [c for c in (text_column, label_column) if c not in test_frame.columns]
    if missing:
        report.errors.append(Issue("test_missing_column", (
            f"the test file {test_name} has no column {', '.join(map(repr, missing))}; its columns are: "
            f"{', '.join(map(str, test_frame.columns))}. Give it the same text and label columns as the "
            "training file."), []))
        return
    numbers = row_numbers(test_frame)
    texts = _present(test_frame[text_column], as_label=False)
    labels = _present(test_frame[label_column], as_label=True)
    usable = (texts != "") & (labels != "")
    info["test_rows_usable"] = int(usable.sum())
    dropped = [numbers[i] for i in (~usable).to_numpy().nonzero()[0]]
    if dropped:
        report.warnings.append(Issue("test_missing_values", (
            f"{_plural(len(dropped), word)} of the test file {'lack' if len(dropped) > 1 else 'lacks'} a text or a "
            f"label: {_where(dropped, word)}. These rows will be dropped; fill them in or delete them."), dropped))
    if not usable.any():
        report.errors.append(Issue("test_no_rows", (
            f"no row of the test file {test_name} has both a text ({text_column!r}) and a label "
            f"({label_column!r}); check the file and its columns."), []))
        return
    positions = usable.to_numpy().nonzero()[0]
    test_numbers = [numbers[i] for i in positions]
    test_texts = texts.iloc[positions].tolist()
    test_labels = labels.iloc[positions].tolist()
    info["test_class_counts"] = dict(sorted(Counter(test_labels).items(), key=lambda kv: (-kv[1], kv[0])))
    known = set(data.labels)
    unseen = sorted(set(test_labels) - known)
    if unseen:
        rows = [n for n, label in zip(test_numbers, test_labels) if label not in known]
        report.errors.append(Issue("test_unseen_labels", (
            f"the test file has {_plural(len(unseen), 'label')} that the training file lacks: "
            f"{', '.join(map(repr, unseen[:SHOW]))}{', ...' if len(unseen) > SHOW else ''} ({_where(rows, word)}). "
            "A model cannot predict a class it never saw; add training rows of those classes, or fix the "
            "labels (spelling and case must match)."), rows, {"labels": unseen}))
    train_keys: dict[str, int] = {}
    for n, text in zip(train_numbers, data.texts):
        train_keys.setdefault(normalize_text(text), n)
    overlap = [(n, train_keys[normalize_text(t)], t) for n, t in zip(test_numbers, test_texts)
               if normalize_text(t) in train_keys]
    info["test_overlap"] = len(overlap)
    if overlap:
        examples = "; ".join(f"test {word} {n} {quoted(t, 40)} = training {train_word} {m}" for n, m, t in overlap[:3])
        report.warnings.append(Issue("test_overlap", (
            f"{_plural(len(overlap), 'test text')} ({len(overlap) / len(test_texts):.0%} of the test rows) also "
            f"appear{'s' if len(overlap) == 1 else ''} in the training file (leakage): {examples}"
            f"{'; ...' if len(overlap) > 3 else ''}. The test score will be inflated; remove them from one of "
            "the files."), [n for n, _, _ in overlap], {"pairs": [(n, m) for n, m, _ in overlap[:1000]]}))

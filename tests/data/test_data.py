"""Reading tables and the split contract that makes runs comparable."""
from __future__ import annotations

import pytest

import tlcore
from tlcore.errors import DatasetError


def test_read_csv_and_guess_columns(sms_path):
    frame = tlcore.read_table(sms_path)
    assert list(frame.columns) == ["text", "label"]
    assert tlcore.data.guess_columns(frame) == ("text", "label")
    data = tlcore.to_labeled(frame)
    assert data.class_counts() == {"ham": 320, "spam": 80}


def test_guess_columns_by_content():
    rows = b"".join(b"%d;%s;a free text of some length number %d\n" % (i, b"good" if i % 2 else b"bad", i)
                    for i in range(6))
    frame = tlcore.read_table(b"id;verdict;body\n" + rows, name="x.csv")
    assert tlcore.data.guess_columns(frame) == ("body", "verdict")


def test_integer_and_boolean_labels_become_strings():
    data = tlcore.to_labeled(tlcore.read_table(b"text,label\nhello,1\nbye,0\nyes,True\n", name="x.csv"))
    assert data.labels == ["1", "0", "True"]


def test_missing_column_names_what_was_found(sms_path):
    with pytest.raises(DatasetError, match=r"no label column 'category'.*columns found are: text, label"):
        tlcore.to_labeled(tlcore.read_table(sms_path), "text", "category")


@pytest.mark.parametrize("raw, name, message", [
    (b"", "empty.csv", "is empty"),
    (b"text,label\n", "header.csv", "no data rows"),
    (b"<!DOCTYPE html><html><body>hi</body></html>", "page.csv", "HTML page"),
    (b"\x00\x01\x02binary", "blob.csv", "binary"),
    (b"text,label\nx,y\n", "data.docx", "unsupported file type"),
])
def test_unreadable_files_say_why(raw, name, message):
    with pytest.raises(DatasetError, match=message):
        tlcore.read_table(raw, name=name)


def test_windows_1252_file_is_decoded():
    frame = tlcore.read_table("text,label\ncafé – ok,pos\nnaïve,neg\n".encode("cp1252"), name="x.csv")
    assert frame["text"].tolist() == ["café – ok", "naïve"]


def test_split_is_stratified_seeded_and_disjoint(sms):
    split = tlcore.make_split(sms, test_size=0.25, split_seed=3)
    again = tlcore.make_split(sms, test_size=0.25, split_seed=3)
    other = tlcore.make_split(sms, test_size=0.25, split_seed=4)
    assert split.fingerprint == again.fingerprint != other.fingerprint
    assert split.test.class_counts() == {"ham": 80, "spam": 20}  # stratified: 25 % of each class
    train, val, test = (set(zip(p.texts, p.labels)) for p in (split.train, split.val, split.test))
    assert not (train & test) and not (val & test) and not (train & val)
    assert len(split.train) + len(split.val) + len(split.test) == len(sms)


def test_per_class_sampling_keeps_the_test_rows(sms):
    small = tlcore.make_split(sms, test_size=100, per_class=8, sample_seed=0)
    large = tlcore.make_split(sms, test_size=100, per_class=32, sample_seed=1)
    assert small.fingerprint == large.fingerprint  # same test rows, whatever the training size
    assert small.train.class_counts() == {"ham": 8, "spam": 8}
    assert large.train.class_counts() == {"ham": 32, "spam": 32}


def test_single_class_and_tiny_classes_are_refused():
    with pytest.raises(DatasetError, match="only one class"):
        tlcore.make_split(tlcore.data.LabeledData(["a", "b", "c"], ["x", "x", "x"]))
    with pytest.raises(DatasetError, match=r"classes \['y'\] have fewer than 2 rows"):
        tlcore.make_split(tlcore.data.LabeledData(["a", "b", "c", "d"], ["x", "x", "x", "y"]))


def test_separate_test_file_with_unseen_label_is_refused(yelp):
    test = tlcore.data.LabeledData(["fine"], ["neutral"])
    with pytest.raises(DatasetError, match=r"labels the training file lacks: \['neutral'\]"):
        tlcore.make_split(yelp, test)

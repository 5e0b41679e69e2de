"""The validation hold-out (make_split's ``val_choice`` / ``val_policy``): never silently taken out of scarce training
rows, and errors that name the split that took the rows."""
from __future__ import annotations

import pytest

import tlcore
from tlcore.data import LabeledData
from tlcore.data.labeled import MIN_VAL_ROWS


def rows(per_class: int, labels=("neg", "pos"), tag: str = "") -> LabeledData:
    return LabeledData([f"{tag}{label} text {i}" for label in labels for i in range(per_class)],
                       [label for label in labels for _ in range(per_class)])


def test_eight_per_class_with_a_separate_test_file_all_train():
    split = tlcore.make_split(rows(8), rows(5, tag="test "))
    assert len(split.val) == 0 and split.train.class_counts() == {"neg": 8, "pos": 8}
    assert split.info["val_choice"] == "none"
    assert "too few to judge early stopping" in split.info["val_policy"] and "every row trains" in \
        split.info["val_policy"]


def test_a_hold_out_large_enough_to_judge_is_taken_from_the_training_rows():
    split = tlcore.make_split(rows(150), rows(5, tag="test "))  # 300 training rows: 10 % is 30
    assert len(split.val) == MIN_VAL_ROWS and split.info["val_choice"] == "held-out"
    assert len(split.train) == 300 - MIN_VAL_ROWS
    smaller = tlcore.make_split(rows(140), rows(5, tag="test "))  # 10 % would be 28: not worth 28 training rows
    assert len(smaller.val) == 0 and len(smaller.train) == 280 and smaller.info["val_choice"] == "none"


def test_rows_the_per_class_sample_leaves_unused_are_spare(sms):
    split = tlcore.make_split(sms, test_size=100, per_class=8)
    assert split.info["val_choice"] == "spare" and len(split.val) == 30  # 10 % of the 300 rows left
    assert split.train.class_counts() == {"ham": 8, "spam": 8} and "no training row spent" in split.info["val_policy"]
    # A class too small to give both: the hold-out would cost its training rows, and 10 % of 32 rows cannot judge.
    short = tlcore.make_split(rows(16), rows(5, tag="test "), per_class=16)
    assert short.info["val_choice"] == "none" and short.train.class_counts() == {"neg": 16, "pos": 16}


def test_a_row_count_or_a_file_is_taken_as_given_and_zero_takes_none():
    asked = tlcore.make_split(rows(8), rows(5, tag="test "), val_size=4)
    assert len(asked.val) == 4 and asked.info["val_choice"] == "asked" and "as asked" in asked.info["val_policy"]
    given = tlcore.make_split(rows(8), rows(5, tag="test "), val=rows(3, tag="val "))
    assert len(given.val) == 6 and given.info["val_choice"] == "file" and len(given.train) == 16
    none = tlcore.make_split(rows(200), rows(5, tag="test "), val_size=0)
    assert len(none.val) == 0 and none.info["val_choice"] == "none" and "validation size 0" in none.info["val_policy"]


def test_few_shot_uses_all_eight_rows_and_an_error_names_the_split_that_took_rows(runs_dir):
    store = tlcore.RunStore(runs_dir)
    config = tlcore.RunConfig(model="minilm", method="few-shot", method_options={"shots": 8})
    run = tlcore.create_run(config, rows(8), rows(5, tag="test "), store=store)  # issue 18: 8 per class = 8 shots
    assert run.split().train.class_counts() == {"neg": 8, "pos": 8}
    too_many = tlcore.RunConfig(model="minilm", method="few-shot", method_options={"shots": 9})
    with pytest.raises(tlcore.DatasetError) as separate:
        tlcore.create_run(too_many, rows(8), rows(5, tag="test "), store=store)
    assert "fewer training rows" in str(separate.value) and "test split" not in str(separate.value)
    assert "the test rows come from the separate test file; no validation rows were held out" in str(separate.value)
    held = tlcore.RunConfig(model="minilm", method="few-shot", method_options={"shots": 9}, test_size=4, val_size=2)
    with pytest.raises(tlcore.DatasetError) as held_out:
        tlcore.create_run(held, rows(10), store=store)
    assert ("the test split took 2 rows per class; the validation hold-out took 1 row per class"
            in str(held_out.value))

"""Shared fixtures: small slices of real datasets and a fresh runs folder per test."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

import tlcore

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATASETS = ROOT.parent / "shared" / "datasets"


@pytest.fixture(autouse=True)
def runs_dir(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "runs"
    monkeypatch.setenv("TLCORE_RUNS_DIR", str(path))
    return path


@pytest.fixture(scope="session")
def yelp() -> tlcore.LabeledData:
    return tlcore.to_labeled(tlcore.load_sample("yelp"), "text", "label")


@pytest.fixture(scope="session")
def sms() -> tlcore.LabeledData:
    return tlcore.to_labeled(tlcore.load_sample("sms_spam"), "text", "label")


@pytest.fixture(scope="session")
def tiny_split(yelp) -> tlcore.Split:
    """8 training rows (4 per class), 4 validation rows, 12 test rows of real Yelp review sentences."""
    return tlcore.make_split(yelp, test_size=12, val_size=4, per_class=4)


def shared_dataset(*parts: str) -> Path:
    path = SHARED_DATASETS.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared dataset {path} is not present")
    return path


@pytest.fixture(scope="session")
def trec_path() -> Path:
    return shared_dataset("trec", "trec_train.csv")


@pytest.fixture(scope="session")
def sms_path() -> Path:
    return ROOT / "tlcore" / "data" / "bundled" / "sms_spam_sample.csv"


def cli_env() -> dict:
    return {**os.environ, "PYTHONUNBUFFERED": "1"}

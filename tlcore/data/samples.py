"""Sample datasets bundled with the package (see bundled/SAMPLES.md for sources and licenses)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..errors import DatasetError

SAMPLES_DIR = Path(__file__).parent / "bundled"


@dataclass(frozen=True)
class Sample:
    name: str
    file: str
    title: str
    description: str
    source: str
    license: str

    @property
    def path(self) -> Path:
        return SAMPLES_DIR / self.file


SAMPLES = {
    "sms_spam": Sample(
        "sms_spam", "sms_spam_sample.csv", "SMS spam (400 messages)",
        "Is a text message spam or ham? Imbalanced: 80 % ham.",
        "SMS Spam Collection v.1 — Almeida, Gómez Hidalgo & Yamakami, DocEng 2011 (UCI ML Repository)",
        "© the authors; free use, no warranty; CC BY 4.0 at UCI. Cite the paper."),
    "yelp": Sample(
        "yelp", "yelp_reviews.csv", "Yelp review sentiment (996 sentences)",
        "Positive or negative restaurant review sentences.",
        "Sentiment Labelled Sentences — Kotzias, Denil, de Freitas & Smyth, KDD 2015 (UCI ML Repository)",
        "No license stated by the authors; hosted by UCI (CC BY 4.0). Cite the paper."),
    "amazon": Sample(
        "amazon", "amazon_reviews.csv", "Amazon review sentiment (990 sentences)",
        "Positive or negative product review sentences (same labels as Yelp).",
        "Sentiment Labelled Sentences — Kotzias, Denil, de Freitas & Smyth, KDD 2015 (UCI ML Repository)",
        "No license stated by the authors; hosted by UCI (CC BY 4.0). Cite the paper."),
}


def list_samples() -> list[Sample]:
    return list(SAMPLES.values())


def sample_path(name: str) -> Path:
    if name not in SAMPLES:
        raise DatasetError(f"unknown sample dataset {name!r}; choose one of {', '.join(SAMPLES)}.")
    return SAMPLES[name].path


def load_sample(name: str) -> pd.DataFrame:
    from .reading import read_table

    return read_table(sample_path(name))

"""How the zero- and few-shot rules were chosen: calibration modes and refined label vectors on validation rows.

The method table's splits (64 training rows per class; sms_spam: 500 test rows held out, trec: its test file)
have validation rows with the data's real class balance (466 sms_spam, 538 trec). This script scores them once
per model and replays each rule on those scores, taking the calibration offsets from the validation texts as a
run takes them from its test texts. The test rows are never read.

    .venv/bin/python bench/zero_shot_rules.py                   # both models (10-17 min on 2 cores, most of it SmolLM2)
    .venv/bin/python bench/zero_shot_rules.py --models minilm   # 20 s
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
from method_table import DESCRIPTIONS  # noqa: E402

RULES = ("prior", "match")


def split_for(dataset: str):
    import pandas as pd

    from tlcore.data import make_split, to_labeled

    pool, test = common.DATASET_FILES[dataset]
    read = lambda name: to_labeled(pd.read_csv(common.DATASETS / name, keep_default_na=False))  # noqa: E731
    held_out = read(test) if test else None
    return make_split(read(pool), held_out, test_size=0.2 if test else 500, per_class=64)


def scores(model: str, dataset: str, split) -> dict[str, np.ndarray]:
    """Raw (uncalibrated) scores of the validation rows for zero-shot and few-shot, texts x labels."""
    from tlcore.engine.channel_scoring import ChannelScorer
    from tlcore.engine.decoder_scoring import Demonstration
    from tlcore.engine.encoders import embed
    from tlcore.engine.models import model_folder, resolve_model
    from tlcore.methods.label_vectors import refine_label_vectors
    from tlcore.methods.zero_shot import label_frequencies

    labels = split.labels
    descriptions = dict(DESCRIPTIONS[dataset])
    folder = str(model_folder(resolve_model(model)))
    if model == "minilm":
        temperature = 0.05
        texts = embed(split.val.texts, folder, max_length=256)
        described = embed([descriptions[label] for label in labels], folder)
        train = embed(split.train.texts, folder, max_length=256)
        refined = refine_label_vectors(described, train, label_frequencies(split.train, labels), temperature, 3)
        shots = np.stack([train[[y == label for y in split.train.labels]].mean(axis=0) for label in labels])
        shots /= np.linalg.norm(shots, axis=1, keepdims=True)
        return {"zero-shot": texts @ described.T / temperature, "zero-shot, refined": texts @ refined.T / temperature,
                "few-shot (K = 64)": texts @ shots.T / temperature}
    rng = np.random.default_rng(0)  # few-shot's own choice of K = 4 examples per class (seed 0)
    chosen = [int(i) for label in labels
              for i in rng.permutation([j for j, y in enumerate(split.train.labels) if y == label])[:4]]
    chosen = [int(i) for i in rng.permutation(chosen)]
    shots = [Demonstration(split.train.texts[i], split.train.labels[i]) for i in chosen]
    out = {}
    for name, demonstrations in (("zero-shot", []), ("few-shot (K = 4)", shots)):
        scorer = ChannelScorer(folder, labels, label_texts=descriptions, demonstrations=demonstrations)
        out[name] = scorer.score(split.val.texts)
        common.say(f"  {dataset} {model} {name}: scored {len(split.val)} validation rows")
    return out


def evaluate(raw: np.ndarray, gold: np.ndarray, prior: list[float], rule: str) -> tuple[float, float]:
    from sklearn.metrics import f1_score

    from tlcore.methods.score_offsets import calibration_offsets

    predicted = (raw + calibration_offsets(rule, raw, prior, lambda: None)).argmax(axis=1)
    return float((predicted == gold).mean()), float(f1_score(gold, predicted, average="macro"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="zero-/few-shot rules on the method table's validation rows")
    parser.add_argument("--models", default="minilm,smollm2-135m")
    args = parser.parse_args(argv)
    from tlcore.methods.zero_shot import label_frequencies

    lines = ["| dataset | model | scores | " + " | ".join(RULES) + " |", "|---|---|---|" + "---|" * len(RULES)]
    for dataset in DESCRIPTIONS:
        split = split_for(dataset)
        prior = label_frequencies(split.val, split.labels)  # as a run records it: label counts only
        gold = np.array([split.labels.index(y) for y in split.val.labels])
        for model in args.models.split(","):
            for name, raw in scores(model, dataset, split).items():
                cells = [evaluate(raw, gold, prior, rule) for rule in RULES]
                lines.append(f"| {dataset} | {model} | {name} | "
                             + " | ".join(f"{acc:.1%} ({f1:.3f})" for acc, f1 in cells) + " |")
    print("\nAccuracy (macro-F1) on the validation rows:\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())

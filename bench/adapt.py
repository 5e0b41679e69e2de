"""Domain-adaptive pre-training: does continuing minilm's pre-training on a dataset's unlabeled texts help the
methods that use it?

Per dataset (sms_spam: text messages; rt_polarity: tokenised movie-review snippets; both far from the web and
question-answer pairs all-MiniLM-L6-v2 was trained on):

1. Test rows: a stratified hold-out of ``TEST_ROWS`` rows (``tlcore.make_split``, split seed 0). They are kept out of
   everything below, the adaptation texts included.
2. Adaptation: ``tlcore.engine.adapt.adapt_model("minilm", texts)`` on every other row's text (labels unused), with
   the default AdaptConfig (masked-LM, full weights, 300 steps of 32 texts after 40 head warm-up steps), as
   ``tlcore adapt`` runs it. The held-out masked-LM loss before and after is recorded.
3. Linear probe and LoRA at 8 and 64 examples per class, seeds 0..SEEDS-1 (the same rows drawn per seed for both
   models, ``make_split(per_class=N, sample_seed=seed)``), once on minilm and once on the adapted model, judged on the
   same test rows. The linear probe runs at its defaults. LoRA runs at its defaults except the schedule: a fixed
   ``LORA_EPOCHS`` passes (40 steps of 16 rows at 8 per class, 48 at 64) instead of the auto ~300 steps, to keep the
   suite within an hour on a shared 2-core machine; both models get the same schedule.

The effect is adapted minus base accuracy, paired by seed (same training rows, same test rows): its mean with a 95 %
t-interval over seeds (training-sample noise), and a 95 % paired bootstrap interval over test rows (resampling the
rows, the mean over seeds of the two models' difference; test-set noise).

Run: ``.venv/bin/python bench/adapt.py`` (about 40-60 minutes on 2 busy cores); ``--quick`` is a smoke run (60 steps,
one seed, 8 per class, 200 test rows) whose numbers mean nothing. Writes bench/results/adapt.json (adapt_quick.json).
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

DATASETS = ("sms_spam", "rt_polarity")
TEST_ROWS = 500
SIZES = (8, 64)
SEEDS = 3
METHODS = ("linear-probe", "lora")
LORA_EPOCHS = {8: 40, 64: 6}
BOOTSTRAP = 2000


def evaluate(model: str, method: str, part, test, labels, seed: int, size: int) -> dict:
    """Fit one method on the training rows and score the test rows; per-row correctness kept for pairing."""
    import tlcore
    from tlcore.data import LabeledData
    from tlcore.engine.callbacks import Callback
    from tlcore.engine.models import model_folder
    from tlcore.runs.metrics import classification_metrics, predicted_labels

    spec = tlcore.engine.resolve_model(model)
    entry = tlcore.methods.get_method(method)
    options = {"seed": seed, **({"epochs": LORA_EPOCHS[size]} if method == "lora" else {})}
    instance = entry.method_cls(entry.config_cls.from_dict(options), spec, model_folder(spec), labels)
    started = time.perf_counter()
    instance.fit(part.train, LabeledData([], []), Callback())  # no validation rows: the schedule runs to its end
    predicted = predicted_labels(instance.predict_proba(test.texts), labels)
    metrics = classification_metrics(test.labels, predicted, labels)
    return {"accuracy": metrics["accuracy"], "macro_f1": metrics["macro_f1"],
            "correct": [int(p == g) for p, g in zip(predicted, test.labels)],
            "seconds": round(time.perf_counter() - started, 1)}


def t_interval(values: list[float]) -> tuple[float, float, float]:
    """(mean, low, high): 95 % Student t-interval of the mean."""
    from scipy import stats

    mean = statistics.fmean(values)
    if len(values) < 2:
        return mean, math.nan, math.nan
    half = stats.t.ppf(0.975, len(values) - 1) * statistics.stdev(values) / math.sqrt(len(values))
    return mean, mean - half, mean + half


def bootstrap_interval(adapted: list[list[int]], base: list[list[int]], seed: int = 0) -> tuple[float, float]:
    """95 % interval of the mean (over seeds) accuracy difference, resampling test rows (the same rows for all)."""
    import numpy as np

    diff = np.asarray(adapted, dtype=float) - np.asarray(base, dtype=float)  # seeds x rows
    rows = diff.shape[1]
    picks = np.random.default_rng(seed).integers(0, rows, size=(BOOTSTRAP, rows))
    means = diff[:, picks].mean(axis=(0, 2))
    return float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))


def run_dataset(name: str, plan: dict, root: Path) -> dict:
    import tlcore
    from tlcore.engine.adapt import AdaptConfig, adapt_model
    from tlcore.engine.callbacks import Callback

    pool_frame, _ = common.read_dataset(name)
    data = tlcore.to_labeled(pool_frame, "text", "label")

    def split(size: int | None, seed: int = 0):
        return tlcore.make_split(data, test_size=plan["test_rows"], val_size=0, split_seed=0, per_class=size,
                                 sample_seed=seed)

    whole = split(None)
    test, labels = whole.test, whole.labels

    class Progress(Callback):
        def on_log(self, event: dict) -> None:
            if event["step"] % 50 == 0:
                common.say(f"  {name} adapt step {event['step']}/{event['total_steps']} loss "
                           f"{event['train_loss']:.3f} ({event['elapsed']:.0f} s)")

    common.say(f"{name}: adapting minilm on {len(whole.train):,} unlabeled texts ({len(test)} test rows kept out)")
    test_texts = set(test.texts)
    texts = [t for t in whole.train.texts if t not in test_texts]  # a test text repeated in the pool stays out
    started = time.perf_counter()
    result = adapt_model("minilm", texts, AdaptConfig(steps=plan["adapt_steps"]), name=f"minilm + {name}",
                         source=f"{name} (unlabeled training texts)", callback=Progress(), root=root)
    adapt_seconds = time.perf_counter() - started
    common.say(f"  {name}: adapted in {adapt_seconds:.0f} s, held-out loss {result.record['held_out_loss']}")
    models = {"base": "minilm", "adapted": result.folder}
    cells = []
    for method in METHODS:
        for size in plan["sizes"]:
            for seed in range(plan["seeds"]):
                part = split(size, seed)
                scored = {arm: evaluate(model, method, part, test, labels, seed, size) for arm, model in models.items()}
                cells.append({"method": method, "size": size, "seed": seed, **{
                    arm: s for arm, s in scored.items()}})
                common.say(f"  {name} {method} n={size} seed={seed}: base {scored['base']['accuracy']:.3f} "
                           f"adapted {scored['adapted']['accuracy']:.3f} "
                           f"({scored['base']['seconds']:.0f} + {scored['adapted']['seconds']:.0f} s)")
    effects = []
    for method in METHODS:
        for size in plan["sizes"]:
            group = [c for c in cells if c["method"] == method and c["size"] == size]
            diffs = [c["adapted"]["accuracy"] - c["base"]["accuracy"] for c in group]
            f1_diffs = [c["adapted"]["macro_f1"] - c["base"]["macro_f1"] for c in group]
            mean, low, high = t_interval(diffs)
            boot = bootstrap_interval([c["adapted"]["correct"] for c in group], [c["base"]["correct"] for c in group])
            effects.append({"dataset": name, "method": method, "size": size, "seeds": len(group),
                            "base_accuracy": statistics.fmean(c["base"]["accuracy"] for c in group),
                            "adapted_accuracy": statistics.fmean(c["adapted"]["accuracy"] for c in group),
                            "effect": mean, "seed_interval": [low, high], "test_row_interval": list(boot),
                            "per_seed": diffs, "macro_f1_effect": statistics.fmean(f1_diffs)})
    for cell in cells:  # per-row correctness is only needed for the intervals above
        for arm in models:
            cell[arm].pop("correct")
    return {"dataset": name, "n_test": len(test), "labels": labels, "test_fingerprint": whole.fingerprint,
            "adaptation_texts": len(texts), "adaptation": result.record, "adapt_seconds": round(adapt_seconds, 1),
            "cells": cells, "effects": effects}


def points(value: float) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value * 100:+.1f}"


def report(results: list[dict]) -> str:
    rows = []
    for result in results:
        for e in result["effects"]:
            rows.append({"dataset": e["dataset"], "method": e["method"], "n": e["size"],
                         "base": f"{e['base_accuracy']:.1%}", "adapted": f"{e['adapted_accuracy']:.1%}",
                         "effect": f"{points(e['effect'])} pts",
                         "seeds": f"[{points(e['seed_interval'][0])}, {points(e['seed_interval'][1])}]",
                         "rows": f"[{points(e['test_row_interval'][0])}, {points(e['test_row_interval'][1])}]",
                         "per seed": " ".join(points(d) for d in e["per_seed"])})
    table = common.markdown_table(rows, [("dataset", "dataset"), ("method", "method"), ("n", "per class"),
                                         ("base", "minilm"), ("adapted", "adapted"), ("effect", "effect"),
                                         ("seeds", "95 % CI (seeds, t)"), ("rows", "95 % CI (test rows, bootstrap)"),
                                         ("per seed", "per seed (pts)")])
    losses = "; ".join(f"{r['dataset']}: {r['adaptation_texts']:,} texts, {r['adaptation']['steps']} steps in "
                       f"{r['adapt_seconds']:.0f} s, held-out masked-LM loss {r['adaptation']['held_out_loss']}"
                       for r in results)
    return f"{table}\n\nAdaptation: {losses}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run; its numbers mean nothing")
    parser.add_argument("--datasets", default=",".join(DATASETS))
    args = parser.parse_args()
    plan = ({"test_rows": 200, "sizes": (8,), "seeds": 1, "adapt_steps": 60} if args.quick else
            {"test_rows": TEST_ROWS, "sizes": SIZES, "seeds": SEEDS, "adapt_steps": 300})
    started = time.time()
    machine = common.machine()
    results = []
    with tempfile.TemporaryDirectory(prefix="tl-adapt-bench-") as root:  # a fresh folder: no stale feature cache
        for name in args.datasets.split(","):
            results.append(run_dataset(name, plan, Path(root)))
    text = report(results)
    command = "python bench/adapt.py" + (" --quick" if args.quick else "") + (
        f" --datasets {args.datasets}" if args.datasets != ",".join(DATASETS) else "")
    minutes = (time.time() - started) / 60
    print(f"{text}\n\nMeasured with `{command}` in {minutes:.1f} min on {machine.get('cpu')}, "
          f"{machine.get('logical_cpus')} logical CPUs, torch {machine.get('torch')}, load average at start "
          f"{machine.get('load_average_at_start')}.")
    out = common.RESULTS / ("adapt_quick.json" if args.quick else "adapt.json")
    out.write_text(json.dumps({"command": command, "machine": machine, "minutes": round(minutes, 1),
                               "plan": {**plan, "lora_epochs": LORA_EPOCHS, "methods": METHODS},
                               "results": results, "report": text}, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())

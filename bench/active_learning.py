"""Does choosing what to label beat labeling at random? An active-learning simulation on the shared datasets.

The analyst's loop, simulated: a pool of texts whose labels are hidden (an ``Oracle`` reveals a label only when a
strategy asks for that row, and counts what was spent); 8 labeled rows per class to start; then batches of 16
rows picked by a strategy, labeled, and the model retrained, until 128 labels are spent in all. Each step is
scored on the same test rows. Strategies, at the same label budget:

- ``random``: the baseline (what labeling "the next rows of the file" amounts to);
- ``margin`` (the app's default, chosen by this bench), ``entropy``: the least certain rows first;
- ``margin+diversity``: the 5n least certain rows, of which n are kept by k-center greedy on
  the sentence embeddings.

Every strategy ranks with ``tlcore.use.suggest.rank_pool``, the code ``suggest_next`` and ``tlcore suggest`` use.

The model is the linear probe on MiniLM (frozen sentence vectors + logistic regression, the probe's defaults:
C=1, no class weights), fitted here on the vectors directly: a step costs milliseconds, because the vectors of the
pool and the test rows are computed once per dataset (and cached on disk by the probe's own FeatureCache, so a
rerun costs no model time). A fine-tuned method would cost minutes per step on a CPU, times 4 datasets x 5 seeds
x 4 strategies x up to 8 steps. Uncertainty from a probe is what ``suggest_next`` gives for a probe run.

Rows: the test rows are fixed for every seed and strategy (trec: its official 500-row test file; the others: a
stratified hold-out of 500 rows, split seed 0, as find_best.py and the method table hold out). The pool is
POOL_ROWS rows drawn (seed 0, class balance as in the data) from the rest, the same for every seed. The seed
draws the 8 starting rows per class (the same start for every strategy of a seed, so strategies are compared in
pairs) and drives the random strategy. Nothing is tuned on the test rows.

Reported per dataset: accuracy against labels spent (mean ± std over seeds) for each strategy; the area under that
curve (mean accuracy over the budget, trapezoids) and the accuracy at 128 labels; and for each active strategy its
gain over random, paired by seed (mean, std, seeds won, paired t-test p). Pooled over the datasets too.

    .venv/bin/python bench/active_learning.py                        # 4 datasets x 5 seeds (~10 min on 2 cores)
    .venv/bin/python bench/active_learning.py --datasets sms_spam --seeds 2 --pool-rows 1000    # a part

Measured here (2026-12-04, 2-core AMD EPYC, 5 seeds, 4,000 pool rows, 500 test rows), gain over random in
accuracy points, paired by seed, pooled over the four datasets (20 pairs):

- margin: +2.2 ± 4.5 mean accuracy over the budget (13/20 pairs won, p=0.048); +3.3 ± 6.0 at 128 labels (16/20,
  p=0.023);
- entropy: +0.8 ± 4.5 (12/20, p=0.43); +1.3 ± 5.4 at 128 labels (12/20);
- margin+diversity: +1.3 ± 4.1 (10/20, p=0.17); +2.2 ± 5.4 at 128 labels (13/20, p=0.08).

Largest on sms_spam (87 % ham: margin finds the spam, ending near 64/64 labels against random's ~105/23; +6.7 at
128 labels, 5/5 seeds); +3.8 on trec (4/5, noisy), +1.9 on rt_polarity and none measurable on subj (+0.7). Pool
rows that are also test rows (trec's training file repeats a few of its test texts) are left out of the pool.
Diversity (k-center over the 5n least certain) added nothing over margin at batches of 16 on these
exactly-deduplicated pools, and on subj its first batch cut accuracy at 32 labels to 66 ± 13 % (random: 81 %; -2.1
over the budget, 0/5 seeds); what it buys is a batch that is not near-duplicates of one text.

Results: bench/results/active_learning.json (every curve, with the machine and the command) and
bench/results/active_learning.html (plotly curves with ±1 std bands; plotly.js from its CDN).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

from tlcore.data import LabeledData, make_split, to_labeled  # noqa: E402
from tlcore.engine.models import model_folder, resolve_model  # noqa: E402
from tlcore.methods.linear_probe import FeatureCache, LinearProbeConfig  # noqa: E402
from tlcore.use.suggest import rank_pool  # noqa: E402

DATASETS = ("sms_spam", "trec", "rt_polarity", "subj")
STRATEGIES = ("random", "margin", "entropy", "margin+diversity")
ACTIVE = STRATEGIES[1:]
START_PER_CLASS = 8
BATCH = 16
BUDGET = 128
TEST_ROWS = 500
POOL_ROWS = 4000  # "thousands of unlabeled rows"; the whole pool would only cost more embedding time
SEEDS = 5
MODEL = "minilm"
OUT = common.RESULTS / "active_learning.json"
FIGURE = common.RESULTS / "active_learning.html"


class Oracle:
    """The pool's labels, hidden: a strategy sees texts and vectors, and gets a label only by asking for a row."""

    def __init__(self, labels: list[str]) -> None:
        self._labels = list(labels)
        self.asked: set[int] = set()

    def reveal(self, rows) -> list[str]:
        rows = [int(r) for r in rows]
        repeated = self.asked.intersection(rows)
        if repeated or len(set(rows)) != len(rows):
            raise common.BenchError(f"rows {sorted(repeated)[:5]} were asked for twice; a label is paid for once.")
        self.asked.update(rows)
        return [self._labels[r] for r in rows]

    @property
    def spent(self) -> int:
        return len(self.asked)


@dataclass
class Dataset:
    name: str
    pool_vectors: np.ndarray
    pool_labels: list[str]  # only the Oracle and the starting draw read these
    test_vectors: np.ndarray
    test_labels: np.ndarray
    labels: list[str]
    embed_seconds: float
    pool_rows_available: int


@dataclass
class Curve:
    strategy: str
    seed: int
    labels_spent: list[int] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    pick_seconds: float = 0.0
    fit_seconds: float = 0.0
    final_class_counts: dict = field(default_factory=dict)

    def area(self) -> float:
        """Mean accuracy over the budget: the trapezoid area under accuracy against labels, over its width."""
        x, y = np.asarray(self.labels_spent, float), np.asarray(self.accuracy, float)
        return float(np.sum((y[1:] + y[:-1]) / 2 * np.diff(x)) / (x[-1] - x[0]))


def load(name: str, pool_rows: int) -> Dataset:
    """Fixed test rows, a fixed pool drawn from the rest, and MiniLM vectors of both (as the probe computes them)."""
    pool_frame, test_frame = common.read_dataset(name)
    data = to_labeled(pool_frame, "text", "label")
    test = to_labeled(test_frame, "text", "label") if test_frame is not None else None
    split = make_split(data, test, test_size=TEST_ROWS, val_size=0, split_seed=0)
    # trec's training file repeats some of its test file's texts: a pool row must never be a test row
    test_texts = set(split.test.texts)
    keep = [i for i, text in enumerate(split.train.texts) if text not in test_texts]
    rest = LabeledData([split.train.texts[i] for i in keep], [split.train.labels[i] for i in keep])
    take = np.random.default_rng(0).permutation(len(rest))[:pool_rows]
    pool_texts = [rest.texts[i] for i in take]
    pool_labels = [rest.labels[i] for i in take]
    probe = LinearProbeConfig()
    cache = FeatureCache(model_folder(resolve_model(MODEL)), probe.max_length)
    started = time.perf_counter()
    vectors = cache.get(pool_texts + list(split.test.texts), "cpu", None)
    seconds = time.perf_counter() - started
    return Dataset(name=name, pool_vectors=vectors[:len(pool_texts)], pool_labels=pool_labels,
                   test_vectors=vectors[len(pool_texts):], test_labels=np.asarray(split.test.labels),
                   labels=sorted(set(split.labels)), embed_seconds=seconds, pool_rows_available=len(rest))


def starting_rows(labels: list[str], seed: int) -> list[int]:
    """8 rows per class, drawn with the seed (the analyst's first labels)."""
    rng = np.random.default_rng(seed)
    rows = []
    for label in sorted(set(labels)):
        members = [i for i, y in enumerate(labels) if y == label]
        rows += rng.choice(members, size=min(START_PER_CLASS, len(members)), replace=False).tolist()
    return rows


def fit(vectors: np.ndarray, labels: list[str], seed: int):
    """The linear probe's head with its defaults (tlcore.methods.linear_probe: C=1, max_iter 2000)."""
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=LinearProbeConfig().C, max_iter=2000, random_state=seed).fit(vectors, labels)


def simulate(data: Dataset, strategy: str, seed: int) -> Curve:
    oracle = Oracle(data.pool_labels)
    start = starting_rows(data.pool_labels, seed)
    labeled = dict(zip(start, oracle.reveal(start)))
    curve = Curve(strategy, seed)
    step = 0
    while True:
        rows = list(labeled)
        began = time.perf_counter()
        head = fit(data.pool_vectors[rows], [labeled[r] for r in rows], seed)
        curve.fit_seconds += time.perf_counter() - began
        curve.labels_spent.append(oracle.spent)
        curve.accuracy.append(float(np.mean(head.predict(data.test_vectors) == data.test_labels)))
        if oracle.spent >= BUDGET:
            break
        unlabeled = np.setdiff1d(np.arange(len(data.pool_labels)), rows)
        began = time.perf_counter()
        proba = head.predict_proba(data.pool_vectors[unlabeled])
        batch = min(BATCH, BUDGET - oracle.spent)
        picked = unlabeled[rank_pool(proba, batch, strategy, seed=seed * 1000 + step,
                                     embeddings=data.pool_vectors[unlabeled])]
        curve.pick_seconds += time.perf_counter() - began
        labeled.update(zip(picked.tolist(), oracle.reveal(picked)))
        step += 1
    counts = {label: 0 for label in data.labels}
    for label in labeled.values():
        counts[label] += 1
    curve.final_class_counts = counts
    return curve


def paired(active: list[Curve], random: list[Curve]) -> dict:
    """Active minus random, seed by seed: area under the curve and accuracy at the full budget."""
    from scipy.stats import ttest_rel

    by_seed = {c.seed: c for c in random}
    out = {}
    for key, value in (("auc", Curve.area), ("final", lambda c: c.accuracy[-1])):
        a = [value(c) for c in active]
        r = [value(by_seed[c.seed]) for c in active]
        diffs = [x - y for x, y in zip(a, r)]
        p = float(ttest_rel(a, r).pvalue) if len(diffs) > 1 and any(d != diffs[0] for d in diffs) else None
        out[key] = {"gain_mean": statistics.fmean(diffs),
                    "gain_std": statistics.stdev(diffs) if len(diffs) > 1 else 0.0,
                    "wins": sum(d > 0 for d in diffs), "ties": sum(d == 0 for d in diffs), "seeds": len(diffs),
                    "p_paired_t": p, "diffs": diffs}
    return out


def summarize(curves: dict[str, list[Curve]]) -> dict:
    table = {}
    for strategy, runs in curves.items():
        points = np.asarray([c.accuracy for c in runs])
        table[strategy] = {"labels_spent": runs[0].labels_spent, "mean": points.mean(0).tolist(),
                           "std": points.std(0, ddof=1).tolist() if len(runs) > 1 else [0.0] * points.shape[1],
                           "auc_mean": statistics.fmean(c.area() for c in runs),
                           "final_mean": statistics.fmean(c.accuracy[-1] for c in runs)}
    gains = {s: paired(curves[s], curves["random"]) for s in curves if s != "random"}
    return {"strategies": table, "gain_over_random": gains}


def pooled(results: dict) -> dict:
    """Each active strategy against random over every (dataset, seed) pair."""
    from scipy.stats import ttest_rel

    out = {}
    for strategy in ACTIVE:
        row = {}
        for key in ("auc", "final"):
            diffs = [d for r in results.values() if strategy in r["gain_over_random"]
                     for d in r["gain_over_random"][strategy][key]["diffs"]]
            if not diffs:
                continue
            row[key] = {"gain_mean": statistics.fmean(diffs),
                        "gain_std": statistics.stdev(diffs) if len(diffs) > 1 else 0.0,
                        "wins": sum(d > 0 for d in diffs), "pairs": len(diffs),
                        "p_paired_t": float(ttest_rel(diffs, [0.0] * len(diffs)).pvalue) if len(diffs) > 1 else None}
        out[strategy] = row
    return out


def figure(results: dict, path: Path) -> None:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    names = list(results)
    cols = 2 if len(names) > 1 else 1
    fig = make_subplots(rows=(len(names) + 1) // 2, cols=cols, subplot_titles=names)
    colors = {"random": "#7f7f7f", "margin": "#1f77b4", "entropy": "#2ca02c", "margin+diversity": "#d62728"}
    for i, name in enumerate(names):
        row, col = i // cols + 1, i % cols + 1
        for strategy, s in results[name]["strategies"].items():
            x, mean, std = s["labels_spent"], np.asarray(s["mean"]), np.asarray(s["std"])
            fig.add_trace(go.Scatter(x=x + x[::-1], y=(mean + std).tolist() + (mean - std)[::-1].tolist(),
                                     mode="lines", fill="toself", fillcolor=colors[strategy], opacity=0.15,
                                     line={"width": 0},
                                     hoverinfo="skip", showlegend=False, legendgroup=strategy), row=row, col=col)
            fig.add_trace(go.Scatter(x=x, y=mean, mode="lines+markers", name=strategy, legendgroup=strategy,
                                     line={"color": colors[strategy]}, showlegend=i == 0), row=row, col=col)
        fig.update_xaxes(title_text="labels spent", row=row, col=col)
        fig.update_yaxes(title_text="test accuracy", tickformat=".0%", row=row, col=col)
    fig.update_layout(title="Active learning vs random (linear probe on MiniLM; mean ± 1 std over seeds)",
                      height=420 * ((len(names) + 1) // 2), width=1100)
    fig.write_html(path, include_plotlyjs="cdn")


def report(name: str, result: dict) -> None:
    print(f"\n{name}: accuracy against labels spent, mean ± std over {result['seeds']} seeds "
          f"({result['pool_rows']} pool rows, {result['test_rows']} test rows)")
    table = result["strategies"]
    spent = table["random"]["labels_spent"]
    print(f"{'strategy':<17}" + "".join(f"{n:>14}" for n in spent) + f"{'AUC':>8}")
    for strategy, s in table.items():
        cells = "".join(f"{m * 100:>8.1f} ± {d * 100:>3.1f}" for m, d in zip(s["mean"], s["std"]))
        print(f"{strategy:<17}{cells}{s['auc_mean'] * 100:>8.1f}")
    for strategy, g in result["gain_over_random"].items():
        auc, final = g["auc"], g["final"]
        print(f"  {strategy} - random: AUC {auc['gain_mean'] * 100:+.1f} ± {auc['gain_std'] * 100:.1f} points "
              f"(wins {auc['wins']}/{auc['seeds']}, p={_p(auc['p_paired_t'])}); at {spent[-1]} labels "
              f"{final['gain_mean'] * 100:+.1f} ± {final['gain_std'] * 100:.1f} "
              f"(wins {final['wins']}/{final['seeds']}, "
              f"p={_p(final['p_paired_t'])})")


def _p(p: float | None) -> str:
    return "–" if p is None else "<0.001" if p < 0.001 else f"{p:.3f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--seeds", type=int, default=SEEDS)
    parser.add_argument("--pool-rows", type=int, default=POOL_ROWS)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--figure", type=Path, default=FIGURE)
    args = parser.parse_args()
    started = time.perf_counter()
    machine = common.machine()
    results = {}
    for name in args.datasets.split(","):
        data = load(name, args.pool_rows)
        common.say(f"{name}: {len(data.pool_labels)} pool rows, {len(data.test_labels)} test rows, "
                   f"{len(data.labels)} classes; vectors in {data.embed_seconds:.0f} s")
        curves = {s: [simulate(data, s, seed) for seed in range(args.seeds)] for s in STRATEGIES}
        result = summarize(curves)
        result.update(seeds=args.seeds, pool_rows=len(data.pool_labels), test_rows=len(data.test_labels),
                      pool_rows_available=data.pool_rows_available, classes=data.labels,
                      embed_seconds=data.embed_seconds,
                      seconds={s: {"pick": sum(c.pick_seconds for c in cs), "fit": sum(c.fit_seconds for c in cs)}
                               for s, cs in curves.items()},
                      curves={s: [{"seed": c.seed, "labels_spent": c.labels_spent, "accuracy": c.accuracy,
                                   "auc": c.area(), "final_class_counts": c.final_class_counts} for c in cs]
                              for s, cs in curves.items()})
        results[name] = result
        report(name, result)
    overall = pooled(results)
    print(f"\nPooled over {', '.join(results)} (paired by dataset and seed):")
    for strategy, row in overall.items():
        auc, final = row["auc"], row["final"]
        print(f"  {strategy} - random: AUC {auc['gain_mean'] * 100:+.2f} ± {auc['gain_std'] * 100:.2f} points "
              f"(wins {auc['wins']}/{auc['pairs']}, p={_p(auc['p_paired_t'])}); at {BUDGET} labels "
              f"{final['gain_mean'] * 100:+.2f} ± {final['gain_std'] * 100:.2f} "
              f"(wins {final['wins']}/{final['pairs']}, "
              f"p={_p(final['p_paired_t'])})")
    payload = {"benchmark": "active_learning", "command": " ".join([Path(sys.executable).name, *sys.argv]),
               "machine": machine, "model": MODEL, "method": "linear probe (LogisticRegression head, probe defaults)",
               "start_per_class": START_PER_CLASS, "batch": BATCH, "budget": BUDGET, "test_rows": TEST_ROWS,
               "strategies": list(STRATEGIES), "datasets": results, "pooled_gain_over_random": overall,
               "wall_seconds": time.perf_counter() - started}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=1))
    figure(results, args.figure)
    common.say(f"wrote {args.out} and {args.figure} in {payload['wall_seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Counterfactual probe: swap gendered words and first names in the texts and see whether predictions move.

Each pair is swapped both ways ("he" -> "she" and "she" -> "he") as whole words, keeping the case of the
original ("He" -> "She", "HIS" -> "HER"). Only texts that contain a term are scored; the original and the
swapped texts go through the model in one call, so methods with batch calibration see both under the
same calibration. Reported per run: how often the predicted label flips, and the mean change in the
probability of the originally predicted class.

Known limits: "her" is both possessive and object, so "his" <-> "her" turns "saw her" into "saw his";
one-to-one swaps cannot be grammatical for every sentence. Names stand for groups only statistically.
"""
from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass, field
from typing import Sequence

import numpy as np

from ...errors import ConfigError, RunError, quoted
from ...runs.store import Run
from . import store

# Gendered words, then first names (gender), then first names of different origins (after Bertrand &
# Mullainathan 2004, "Are Emily and Greg more employable than Lakisha and Jamal?"). Editable everywhere.
DEFAULT_PAIRS: tuple[tuple[str, str], ...] = (
    ("he", "she"), ("his", "her"), ("himself", "herself"), ("man", "woman"), ("men", "women"), ("boy", "girl"),
    ("boys", "girls"), ("father", "mother"), ("dad", "mom"), ("husband", "wife"), ("son", "daughter"),
    ("brother", "sister"), ("boyfriend", "girlfriend"), ("actor", "actress"), ("king", "queen"),
    ("mr", "mrs"), ("gentleman", "lady"),
    ("John", "Mary"), ("David", "Sarah"),
    ("Greg", "Jamal"), ("Emily", "Lakisha"), ("Michael", "Mohammed"), ("Anna", "Fatima"), ("James", "Wei"),
    ("Jennifer", "Priya"), ("Robert", "Carlos"),
)
MAX_FLIPPED_KEPT = 50
_TERM = re.compile(r"^[\w][\w' .-]*$")


def format_pairs(pairs: Sequence[tuple[str, str]]) -> str:
    """Pairs as the CLI and the app write them: "he:she, his:her"."""
    return ", ".join(f"{a}:{b}" for a, b in pairs)


def parse_pairs(text: str) -> list[tuple[str, str]]:
    """Read "he:she, his:her" (commas or new lines between pairs; ':' or '=' or '/' inside one)."""
    pairs = []
    for item in re.split(r"[,\n;]+", text or ""):
        item = item.strip()
        if not item:
            continue
        parts = [p.strip() for p in re.split(r"\s*[:=/]\s*", item)]
        if len(parts) != 2 or not all(parts):
            raise ConfigError(f"term pair {quoted(item)} is not two words joined by ':' (for example he:she).")
        pairs.append((parts[0], parts[1]))
    return check_pairs(pairs)


def check_pairs(pairs: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """Refuse empty, odd or conflicting pairs: a term in two pairs would have two swaps."""
    pairs = [(str(a).strip(), str(b).strip()) for a, b in pairs]
    if not pairs:
        raise ConfigError("no term pairs given; give at least one, for example he:she.")
    seen: dict[str, tuple[str, str]] = {}
    for pair in pairs:
        if pair[0].casefold() == pair[1].casefold():
            raise ConfigError(f"pair {pair[0]}:{pair[1]} swaps a word with itself.")
        for term in pair:
            if not _TERM.match(term):
                raise ConfigError(f"term {quoted(term)} in pair {quoted(pair[0] + ':' + pair[1])} must be a word or "
                                  "words (letters, digits, spaces, apostrophes, hyphens).")
            key = term.casefold()
            if key in seen:
                other = seen[key]
                raise ConfigError(f"term {term!r} is in two pairs ({other[0]}:{other[1]} and {pair[0]}:{pair[1]}), "
                                  "so its swap would be ambiguous; keep it in one pair.")
            seen[key] = pair
    return pairs


class Swapper:
    """Swaps every term with its partner, as whole words, keeping the original's case."""

    def __init__(self, pairs: Sequence[tuple[str, str]]) -> None:
        self.pairs = check_pairs(pairs)
        self.partner = {}
        for a, b in self.pairs:
            self.partner[a.casefold()] = b
            self.partner[b.casefold()] = a
        terms = sorted(self.partner, key=len, reverse=True)  # "boyfriend" before "boy"
        self.pattern = re.compile(r"(?<!\w)(" + "|".join(re.escape(t) for t in terms) + r")(?!\w)", re.IGNORECASE)

    @staticmethod
    def _cased(original: str, replacement: str) -> str:
        if len(original) > 1 and original.isupper():
            return replacement.upper()
        if original[:1].isupper():
            return replacement[:1].upper() + replacement[1:]
        return replacement.lower()

    def swap(self, text: str) -> tuple[str, int]:
        """(swapped text, number of terms swapped)."""
        count = 0

        def replace(match: re.Match) -> str:
            nonlocal count
            count += 1
            return self._cased(match.group(0), self.partner[match.group(0).casefold()])

        return self.pattern.sub(replace, text), count


@dataclass
class ProbeResult:
    """One run's sensitivity to the swaps on one set of texts."""

    run_id: str
    method: str
    model: str
    pairs: list[list[str]]
    source: str  # which texts: "test split" or a file name
    texts_fingerprint: str
    n_texts: int  # texts scanned
    n_affected: int  # texts that contain at least one term (only these are scored)
    n_flipped: int
    mean_abs_delta: float | None  # mean |p_swapped(c) - p_original(c)|, c = the originally predicted class
    mean_delta: float | None  # signed: below 0 the swap lowers the model's confidence on average
    flips_to: dict[str, int] = field(default_factory=dict)  # flipped predictions by their new label
    flipped: list[dict] = field(default_factory=list)  # up to MAX_FLIPPED_KEPT, largest change first
    seconds: float = 0.0
    created: float = 0.0

    @property
    def flip_rate(self) -> float | None:
        return self.n_flipped / self.n_affected if self.n_affected else None

    def to_dict(self) -> dict:
        return {**asdict(self), "flip_rate": self.flip_rate}

    @classmethod
    def from_dict(cls, values: dict) -> "ProbeResult":
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in values.items() if k in known})


def _fingerprint(texts: Sequence[str]) -> str:
    return store.digest(list(texts))


def probe_counterfactual(run: Run, pairs: Sequence[tuple[str, str]] = DEFAULT_PAIRS,
                         texts: Sequence[str] | None = None, *, source: str | None = None, method=None,
                         device: str = "auto", callback=None, reuse: bool = True, save: bool = True) -> ProbeResult:
    """Swap ``pairs`` in ``texts`` (default: the run's test texts) and measure how the predictions move.

    With ``reuse`` a saved probe of the same run, pairs and texts is returned without loading the model.
    """
    from ...use.predict import check_usable, load_method, predict_texts

    config = check_usable(run)
    swapper = Swapper(pairs)
    if texts is None:
        predictions = run.predictions()
        if predictions is None:
            raise RunError(f"run {run.id} has no predictions.csv, so it has no test texts to probe.")
        texts, source = predictions["text"].astype(str).tolist(), source or "test split"
    texts = [str(t) for t in texts]
    source = source or "texts"
    key = _probe_key(swapper.pairs, texts)
    if reuse:
        saved = saved_probe(run, swapper.pairs, texts)
        if saved is not None:
            return saved
    started = time.perf_counter()
    swapped = [swapper.swap(text) for text in texts]
    affected = [i for i, (_, n) in enumerate(swapped) if n]
    labels = list(config["labels"])
    result = ProbeResult(run_id=run.id, method=config["method"], model=config["model"],
                         pairs=[list(p) for p in swapper.pairs], source=source, texts_fingerprint=_fingerprint(texts),
                         n_texts=len(texts), n_affected=len(affected), n_flipped=0, mean_abs_delta=None,
                         mean_delta=None, created=time.time())
    if affected:
        method = method or load_method(run, device)
        batch = [texts[i] for i in affected] + [swapped[i][0] for i in affected]
        proba = predict_texts(method, batch, callback)  # one call: one calibration for both halves
        before, after = proba[:len(affected)], proba[len(affected):]
        chosen = before.argmax(axis=1)
        rows = np.arange(len(affected))
        delta = after[rows, chosen] - before[rows, chosen]
        now = after.argmax(axis=1)
        flipped = [k for k in rows if now[k] != chosen[k]]
        result.n_flipped = len(flipped)
        result.mean_abs_delta = float(np.abs(delta).mean())
        result.mean_delta = float(delta.mean())
        for k in flipped:
            result.flips_to[labels[now[k]]] = result.flips_to.get(labels[now[k]], 0) + 1
        flipped.sort(key=lambda k: -abs(delta[k]))
        result.flipped = [{"text": texts[affected[k]], "swapped": swapped[affected[k]][0],
                           "before": labels[chosen[k]], "after": labels[now[k]],
                           "confidence_before": float(before[k, chosen[k]]),
                           "confidence_after": float(after[k, now[k]]), "delta": float(delta[k])}
                          for k in flipped[:MAX_FLIPPED_KEPT]]
    result.seconds = time.perf_counter() - started
    if save:
        store.save(run, store.CHECKS, f"probe-{key}", result.to_dict())
    return result


def _probe_key(pairs: Sequence[tuple[str, str]], texts: Sequence[str]) -> str:
    return store.digest([list(p) for p in pairs], _fingerprint(texts))


def saved_probe(run: Run, pairs: Sequence[tuple[str, str]], texts: Sequence[str] | None = None) -> ProbeResult | None:
    """The saved probe of ``run`` with these pairs on these texts (default: its test texts), if any."""
    if texts is None:
        predictions = run.predictions()
        if predictions is None:
            return None
        texts = predictions["text"].astype(str).tolist()
    saved = store.load(run, store.CHECKS, f"probe-{_probe_key(check_pairs(pairs), [str(t) for t in texts])}")
    return ProbeResult.from_dict(saved) if saved and saved.get("run_id") == run.id else None


def load_probes(run: Run) -> list[ProbeResult]:
    return [ProbeResult.from_dict(item) for item in store.load_all(run, store.CHECKS, "probe-")]


def sensitivity_verdicts(results: Sequence[ProbeResult]) -> list[str]:
    """For each trained run, whether training made it more or less sensitive than the base model's zero-shot
    (else few-shot) run of the same model on the same texts and pairs. Based on the flip rate, with counts,
    because confidence scales differ between methods."""
    from ...methods import reference_methods

    base_methods = reference_methods()  # they never update the model's weights: the base model's own sensitivity
    lines = []
    for result in results:
        if result.method in base_methods or not result.n_affected:
            continue
        base = next((other for name in base_methods for other in results
                     if other.method == name and other.model == result.model
                     and other.texts_fingerprint == result.texts_fingerprint and other.pairs == result.pairs), None)
        if base is None or not base.n_affected:
            continue
        if result.n_flipped > base.n_flipped:
            word = "amplified"
        elif result.n_flipped < base.n_flipped:
            word = "reduced"
        else:
            word = "did not change"
        lines.append(f"{result.method} ({result.model}) flips {result.n_flipped} of {result.n_affected} "
                     f"({result.flip_rate:.1%}) vs {base.method} {base.n_flipped} of {base.n_affected} "
                     f"({base.flip_rate:.1%}): training {word} the base model's sensitivity to the swaps"
                     + (" (a difference of a few texts can be chance)" if abs(result.n_flipped - base.n_flipped) < 3
                        and word != "did not change" else "") + ".")
    return lines

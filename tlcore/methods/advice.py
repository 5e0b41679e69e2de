"""Which method to start with, for this much labeled data on this hardware (rules drawn from our benchmark
runs, bench/README.md)."""
from __future__ import annotations

from dataclasses import dataclass

# What `tlcore compare --train ...` runs when no --methods are given: the floor (zero-shot), what a few examples
# buy (few-shot) and the default fine-tuning method.
DEFAULT_COMPARISON = ("zero-shot", "few-shot", "lora")


@dataclass
class Recommendation:
    method: str
    model: str
    reason: str


def recommend(n_train: int, n_labels: int, has_gpu: bool = False) -> Recommendation:
    """A method for this much labeled data on this hardware (rules drawn from our benchmark runs)."""
    per_class = n_train / max(1, n_labels)
    if per_class < 2:
        return Recommendation("zero-shot", "smollm2-135m",
                              "Almost no labeled examples: let the instruction-tuned decoder pick from the label "
                              "names (write label descriptions if the names are terse).")
    if per_class < 8:
        return Recommendation("few-shot", "smollm2-135m",
                              f"About {per_class:.0f} examples per class: show them to the decoder in its prompt; "
                              "no training needed.")
    if per_class < 24 or (n_train > 2000 and not has_gpu):
        return Recommendation("linear-probe", "minilm",
                              "A frozen sentence encoder plus logistic regression trains in seconds and is hard to "
                              "beat at this size" + (" on a CPU." if n_train > 2000 else "."))
    if has_gpu:
        return Recommendation("full", "minilm",
                              "Enough data and a GPU: full fine-tuning is fast and the most flexible.")
    return Recommendation("lora", "minilm",
                          f"About {per_class:.0f} examples per class: LoRA adapts the encoder with ~1.5 % of its "
                          "weights, matching full fine-tuning here at a fraction of the cost.")

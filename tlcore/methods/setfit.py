"""SetFit (Tunstall et al., 2022): contrastive fine-tuning of a sentence encoder, then a logistic-regression head.

1. Pairs of training rows are labelled 1 (same class) or 0 (different classes); the encoder body learns to
   make the cosine similarity of the two pooled embeddings match that label (CosineSimilarityLoss). The pooling,
   prompt and normalisation are the folder's own when it is a sentence-transformers folder
   (tlcore.engine.sentence_config), else mean pooling; the saved body carries them as sentence-transformers files.
2. The training rows are embedded with the fine-tuned body and a logistic regression is fitted on them.

Why sentence-transformers' own trainer and not the ``setfit`` package (both tried with transformers 5.25 and
sentence-transformers 6.3): setfit 1.2.0 trains the body with this same trainer (its BCSentenceTransformersTrainer
subclasses SentenceTransformerTrainer), but it adds ``evaluate``, ``aiohttp`` and a dozen more packages and saves
its head with joblib (a pickle, which our exports refuse), so we would bypass its saving anyway. The trainer
gives SetFit's exact body training (loss, AdamW, linear schedule, shuffled batches) with one extra dependency
(``datasets``); the pairs (SetFit's sampling) and the head are a few lines here. Predicting does not import
sentence-transformers at all: ``tlcore.engine.encoders`` pools the saved transformers folder as its recipe says,
so a run loads quickly and its export needs transformers + numpy (or sentence-transformers) alone.

Pairs, as SetFit samples them: every unique pair of training rows (a row with itself included), shuffled and
cycled through until each row has had ``iterations`` same-class and as many different-class pairs (2 x iterations
x rows pairs). The default, 20, is the SetFit paper's num_iterations, the setting of its published results. The
setfit 1.x library instead takes every unique pair once by default (``iterations=0`` here): 144 pairs, 9 steps,
at 8 rows per class of two classes, and the first step's learning rate is 0 (warm-up). On validation rows
(rt_polarity and subj, 8 per class, seeds 0-2, 400 rows each) ~600 pairs scored 0.8 points above those 144 on
average: within noise, but in the paper's direction. ``max_pairs`` caps the count at 640, the paper's own count
at 8 rows per class of two classes (40 steps): the count grows with the rows, while the contrastive step mostly
reshapes the embedding space and the head sees every row anyway, so a fixed budget keeps larger data from
costing hours on a CPU for little gain.
"""
from __future__ import annotations

import functools
import json
import math
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

import numpy as np

from ..data import LabeledData
from ..engine.callbacks import Callback
from ..engine.encoders import encode_texts
from ..engine.sentence_config import ST_CONFIG, read_sentence_config, write_sentence_config
from ..errors import MethodError
from .base import FlopEstimate, Method, MethodConfig, Workload, option, register_method

HEAD_FILE = "setfit_head.json"  # inside artifacts/model/, so the "model" export carries it beside the body
PREDICT_BATCH = 64
WARMUP = 0.1  # SetFit's warmup_proportion


@dataclass
class SetFitConfig(MethodConfig):
    epochs: int = option(1, "Passes over the sentence pairs (SetFit's default: 1).", min=1, max=20)
    lr: float = option(2e-5, "Peak learning rate of the encoder body (AdamW, 10 % linear warm-up, then linear "
                             "decay; SetFit's default 2e-5).", min=1e-7, max=1e-2)
    batch_size: int = option(16, "Sentence pairs per optimisation step (SetFit's default: 16).", min=1, max=512)
    iterations: int = option(20, "Pairs per training row: each row gets this many same-class and as many "
                                 "different-class pairs (SetFit's num_iterations; the paper's default 20). 0: every "
                                 "unique pair once, the rarer kind repeated (setfit 1.x's default).",
                             min=0, max=1000)
    max_pairs: int = option(640, "At most this many sentence pairs (half same-class, half different-class) train "
                                 "the body; training time grows with it.", min=2, max=1_000_000)
    max_length: int = option(128, "Tokens per text; longer texts are cut.", min=8, max=4096)
    C: float = option(1.0, "Inverse L2 regularisation strength of the logistic-regression head (SetFit's and "
                           "scikit-learn's default: 1).", min=1e-6, max=1e6)


def contrastive_pairs(classes: Sequence[int], iterations: int, max_pairs: int,
                      seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(pairs of row indexes, shape (n, 2); their labels, 1.0 same class / 0.0 different), as SetFit samples them.

    Same-class and different-class pairs alternate, as many of each; seeded, so a run repeats exactly.
    """
    y = np.asarray(classes)
    rng = np.random.default_rng(seed)
    n = len(y)
    if n * (n + 1) // 2 <= 2_000_000:
        a, b = np.triu_indices(n)  # every unique pair, a row with itself included (SetFit does)
    else:  # too many to list (2,000+ rows): a random sample, far more than max_pairs allows, and the self-pairs
        a, b = np.concatenate([rng.integers(0, n, size=(2, 2_000_000)), np.tile(np.arange(n), (2, 1))], axis=1)
    order = rng.permutation(len(a))
    a, b = a[order], b[order]
    same = y[a] == y[b]
    positive, negative = np.stack([a[same], b[same]], 1), np.stack([a[~same], b[~same]], 1)
    # Each kind cycles through its shuffled pairs; the cap keeps the first of them (a random subset).
    side = min(iterations * n if iterations else max(len(positive), len(negative)), max_pairs // 2)
    take = np.arange(side)
    pairs = np.stack([positive[take % len(positive)], negative[take % len(negative)]], 1).reshape(-1, 2)
    return pairs, np.tile([1.0, 0.0], side)


def planned_pairs(n_train: int, n_labels: int, iterations: int, max_pairs: int) -> int:
    """How many pairs ``contrastive_pairs`` gives for ``n_train`` rows in ``n_labels`` equal classes."""
    if iterations:
        return 2 * min(iterations * n_train, max_pairs // 2)
    per_class = n_train / max(1, n_labels)
    positive = n_labels * per_class * (per_class + 1) / 2
    negative = n_train * (n_train + 1) / 2 - positive
    return int(2 * min(max(positive, negative), max_pairs // 2))


class SetFit(Method):
    description = ("SetFit: fine-tunes the encoder on pairs of training texts (same class or not) so that texts of "
                   "a class embed close together, then fits a logistic regression on the new embeddings. Strong "
                   "with 8-64 rows per class. Encoder (sentence-embedding) models only: a decoder's pooled states "
                   "are not trained as sentence embeddings.")
    when_to_use = ("Prefer it with a few labeled rows per class (8-64) on an encoder, when a linear probe is not "
                   "enough: it often beats the probe there, for a minute or two of CPU instead of seconds.")
    kinds = ("encoder",)
    trains = True
    # Its epochs pass over sentence pairs, not over the rows: the rows' schedule and passes (planning, the
    # footprint) do not apply; estimate_flops counts the pairs.
    takes_epochs = False
    mixed_precision_fit = False  # sentence-transformers' trainer: no loss scaling for fp16 there
    in_portfolio = True
    export_kind = "model"  # the fine-tuned body is a transformers folder; the head rides along as JSON
    required_artifacts = ("model/config.json", "model/model.safetensors", f"model/{HEAD_FILE}")

    # -- training ---------------------------------------------------------------------------------------------

    def fit(self, train: LabeledData, val: LabeledData, callback: Callback) -> None:
        from sklearn.linear_model import LogisticRegression

        if self.model_spec.kind != "encoder":  # the registry refuses it first; this guards direct use
            raise MethodError(f"setfit needs an encoder model; {self.model_spec.name!r} is a "
                              f"{self.model_spec.kind}. Use linear-probe or lora with it instead.")
        y = np.asarray([self.labels.index(label) for label in train.labels])
        self.training = self._train_body(list(train.texts), y, callback)
        features = self._embed(train.texts, callback)
        self.head = LogisticRegression(C=self.config.C, max_iter=2000, random_state=self.config.seed)
        self.head.fit(features, y)
        self._count_parameters()
        if len(val):  # nothing above used the validation rows; score them for the Train page's chart
            proba = self.predict_proba(val.texts, callback)
            gold = np.asarray([self.labels.index(label) for label in val.labels])
            right = np.clip(proba[np.arange(len(gold)), gold], 1e-12, 1.0)
            callback.on_evaluate({"step": self.training.steps, "epoch": self.training.epochs_completed,
                                  "total_steps": self.training.steps, "val_loss": float(-np.log(right).mean()),
                                  "val_accuracy": float((proba.argmax(1) == gold).mean()),
                                  "elapsed": self.training.train_seconds})

    def _train_body(self, texts: list[str], y: np.ndarray, callback: Callback):
        """Contrastive fine-tuning of the body with sentence-transformers' trainer; sets self.model / tokenizer."""
        import tempfile

        import torch
        from datasets import Dataset
        from sentence_transformers import SentenceTransformer, SentenceTransformerTrainingArguments
        from sentence_transformers.base.modules import Transformer
        from sentence_transformers.sentence_transformer.losses import CosineSimilarityLoss
        from sentence_transformers.sentence_transformer.modules import Pooling
        from transformers.trainer_callback import PrinterCallback, ProgressCallback

        from ..engine.models import SAFE_LOAD, load_tokenizer, quiet_transformers
        from ..engine.runtime import free_cores
        from ..engine.training import TrainingResult

        quiet_transformers()
        config = self.config
        recipe = read_sentence_config(self.folder)
        if recipe.delegate:
            raise MethodError(f"setfit fine-tunes a transformer with a pooling layer; {self.model_spec.name!r} has "
                              f"the sentence-transformers modules {' -> '.join(recipe.modules)}, which it does not "
                              "train. Use linear-probe or lora with this model instead.")
        source = str(Path(self.folder) / recipe.transformer_path)
        pairs, similar = contrastive_pairs(y, config.iterations, config.max_pairs, config.seed)
        dataset = Dataset.from_dict({"sentence_1": [texts[i] for i in pairs[:, 0]],
                                     "sentence_2": [texts[j] for j in pairs[:, 1]], "label": similar.tolist()})
        # The folder's own pooling and prompt (mean pooling for a plain folder): prediction pools the same way.
        body = Transformer(source, max_seq_length=recipe.length(config.max_length), do_lower_case=recipe.lower_case,
                           model_kwargs={"dtype": torch.float32, **SAFE_LOAD})
        modes = recipe.modes[0] if len(recipe.modes) == 1 else recipe.modes
        pooling = Pooling(body.get_embedding_dimension(), pooling_mode=modes, include_prompt=recipe.include_prompt)
        encoder = SentenceTransformer(modules=[body, pooling], device=self.device)
        self.model, self.tokenizer = body.auto_model, load_tokenizer(source)
        self.recipe = replace(recipe, transformer_path="")  # the saved body is a folder of its own
        self.embedding = recipe.to_dict()
        self.pairs_trained = len(pairs)
        trainer_cls, relay_cls = _trainer_classes()
        relay = relay_cls(callback, math.ceil(len(pairs) / config.batch_size) * config.epochs)
        with tempfile.TemporaryDirectory(prefix="tlcore-setfit-") as scratch:
            args = SentenceTransformerTrainingArguments(
                output_dir=scratch, num_train_epochs=config.epochs, per_device_train_batch_size=config.batch_size,
                learning_rate=config.lr, warmup_steps=WARMUP, lr_scheduler_type="linear", weight_decay=0.0,
                seed=config.seed, data_seed=config.seed, logging_steps=1, report_to="none", save_strategy="no",
                prompts=recipe.prompt or None,
                disable_tqdm=True, use_cpu=self.device == "cpu", dataloader_pin_memory=False)
            trainer = trainer_cls(model=encoder, args=args, train_dataset=dataset,
                                    loss=CosineSimilarityLoss(encoder), callbacks=[relay])
            for noisy in (PrinterCallback, ProgressCallback):  # they print to stdout, which `--json` owns
                trainer.remove_callback(noisy)
            callback.on_train_begin(self.model)
            with free_cores():
                trainer.train()
        self.model.eval()
        seconds = time.perf_counter() - relay.start
        return TrainingResult(steps=relay.steps, epochs=config.epochs, epochs_completed=config.epochs,
                              stopped_early=False, train_seconds=seconds,
                              examples_per_second=relay.steps * config.batch_size / seconds if seconds else 0.0)

    # -- predicting -------------------------------------------------------------------------------------------

    def _embed(self, texts: Sequence[str], callback: Callback | None = None) -> np.ndarray:
        """Sentence vectors from the (fine-tuned) body, pooled as its recipe says (as trained)."""
        progress = (lambda d, t: callback.on_progress("encoding", d, t)) if callback else None
        return encode_texts(self.model, self.tokenizer, texts, self.recipe, self.device, PREDICT_BATCH,
                            self.recipe.length(self.config.max_length), progress,
                            callback.should_stop if callback else None)

    def predict_proba(self, texts: Sequence[str], callback: Callback | None = None) -> np.ndarray:
        proba = np.zeros((len(texts), len(self.labels)))
        if len(texts):
            proba[:, self.head.classes_] = self.head.predict_proba(self._embed(texts, callback))
        return proba

    # -- saving -----------------------------------------------------------------------------------------------

    def save(self, folder: Path) -> None:
        target = folder / "model"
        self.model.save_pretrained(target)  # config.json + model.safetensors
        self.tokenizer.save_pretrained(target)
        if self.recipe.source == ST_CONFIG:  # the folder's pooling and prompt travel with the body (plain: mean)
            write_sentence_config(self.recipe, target, self.model.config.hidden_size, self.config.max_length)
        training = getattr(self, "training", None)
        self._write_json(target / HEAD_FILE, {
            "classes": self.head.classes_.tolist(), "coef": self.head.coef_.tolist(),
            "intercept": self.head.intercept_.tolist(), "max_length": self.config.max_length,
            "pooling": self.recipe.describe(),
            "note": "classes are indexes into labels; with one row of coef (two classes) p(classes[1]) = "
                    "sigmoid(x.coef[0] + intercept[0]), else softmax(x.coef.T + intercept)",
            "config": self.config.to_dict(),
            "pairs_trained": getattr(self, "pairs_trained", None),
            "steps": training.steps if training else None})

    def load(self, folder: Path) -> None:
        import torch
        from sklearn.linear_model import LogisticRegression
        from transformers import AutoModel

        from ..engine.models import SAFE_LOAD, load_tokenizer, quiet_transformers

        quiet_transformers()
        source = folder / "model"
        self.tokenizer = load_tokenizer(str(source))
        self.model = AutoModel.from_pretrained(str(source), dtype=torch.float32, **SAFE_LOAD).to(self.device).eval()
        self.recipe = read_sentence_config(source)  # runs saved before recipes were: a plain folder, mean pooling
        state = json.loads((source / HEAD_FILE).read_text(encoding="utf-8"))
        self.head = LogisticRegression()
        self.head.classes_ = np.asarray(state["classes"])
        self.head.coef_ = np.asarray(state["coef"])
        self.head.intercept_ = np.asarray(state["intercept"])
        self._count_parameters()

    def _count_parameters(self) -> None:
        # Everything trains: the body contrastively (BERT's pooler excepted: mean pooling never reads it), then
        # the head. The pooler is still part of the saved model, so it counts in the total.
        body = dict(self.model.named_parameters())
        head = self.head.coef_.size + self.head.intercept_.size
        self.trainable_params = int(sum(p.numel() for n, p in body.items() if "pooler" not in n) + head)
        self.total_params = int(sum(p.numel() for p in body.values()) + head)

    # -- costs ------------------------------------------------------------------------------------------------

    @classmethod
    def count_parameters(cls, model, n_labels: int, options: dict, folder: Path) -> tuple[int, int]:
        named = list(model.base_model.named_parameters())  # the body, without transformers' own new head
        head = (model.config.hidden_size + 1) * (1 if n_labels == 2 else n_labels)
        return (sum(p.numel() for n, p in named if "pooler" not in n) + head,
                sum(p.numel() for _, p in named) + head)

    @classmethod
    def options_ran_with(cls, artifacts: Path) -> dict:
        path = artifacts / "model" / HEAD_FILE
        if not path.is_file():
            return {}
        state = json.loads(path.read_text(encoding="utf-8"))
        return {**state.get("config", {}), "pairs_trained": state.get("pairs_trained")}

    @classmethod
    def estimate_flops(cls, work: Workload, options: dict) -> FlopEstimate:
        config = cls.config_cls.from_dict({k: v for k, v in options.items() if k != "pairs_trained"})
        pairs = (options.get("pairs_trained")
                 or planned_pairs(work.n_train, work.n_labels, config.iterations, config.max_pairs))
        forward = 2 * work.compute_params * work.tokens  # per text
        # Each pair is two texts, forward and backward (~2x forward); then the rows are embedded once for the head.
        training = (pairs * config.epochs * 2 * 3 * forward + work.n_train * forward) if work.n_train else 0.0
        return FlopEstimate(training, work.n_test * forward,
                            f"2 x params x tokens x (3 x 2 texts x {pairs:,} pairs x {config.epochs} epochs + 1 per "
                            "training row + 1 per prediction)")

    # -- exporting --------------------------------------------------------------------------------------------

    @classmethod
    def load_snippet(cls, config: dict, model_kind: str, base: str, bundled: bool, artifacts: Path) -> list[str]:
        head = [
            f"head = json.load(open(f\"{{FOLDER}}/{HEAD_FILE}\"))",
            'coef, intercept = np.asarray(head["coef"]), np.asarray(head["intercept"])',
            'labels = json.load(open(f"{FOLDER}/labels.json"))',
            "",
            "",
            "def classify(vectors):",
            '    """Class probabilities from unit sentence vectors, columns in label order."""',
            "    z = vectors @ coef.T + intercept",
            "    z = np.hstack([-z / 2, z / 2]) if z.shape[1] == 1 else z  # two classes: a sigmoid",
            "    z = np.exp(z - z.max(axis=1, keepdims=True))",
            "    proba = np.zeros((len(vectors), len(labels)))",
            '    proba[:, head["classes"]] = z / z.sum(axis=1, keepdims=True)',
            "    return proba",
            "",
            "",
        ]
        example = ['proba = predict_proba(["Your text here."])', "print(labels[proba[0].argmax()], proba[0].max())"]
        recipe = read_sentence_config(artifacts / "model")
        if recipe.key:  # not plain mean pooling: the folder's sentence-transformers files say how, only they
            intro = (f"The fine-tuned encoder is a sentence-transformers folder (`modules.json`, `model.safetensors`, "
                     f"tokenizer) and the classification head is `{HEAD_FILE}` (logistic-regression weights over "
                     f"its sentence vectors: {recipe.describe()}). With sentence-transformers and numpy "
                     "(`pip install sentence-transformers numpy`); the folder's own configuration (pooling, "
                     "normalisation, default prompt) embeds as the run did:")
        else:
            intro = (f"The fine-tuned encoder is a transformers folder (`config.json`, `model.safetensors`, tokenizer) "
                     f"and the classification head is `{HEAD_FILE}` (logistic-regression weights over the "
                     "L2-normalised mean of the last hidden states). With sentence-transformers and numpy (`pip "
                     "install sentence-transformers numpy`); its mean pooling is what the run used:")
        with_sentence_transformers = [
            intro,
            "",
            "```python",
            "import json", "", "import numpy as np", "from sentence_transformers import SentenceTransformer", "",
            'FOLDER = "."  # this folder', "",
            "# Texts are cut at the tokenizer's model_max_length, as in the run.",
            'encoder = SentenceTransformer(FOLDER, device="cpu")',
            *head,
            "def predict_proba(texts):",
            '    """Class probabilities, one row per text, columns in label order."""',
            f"    return classify(encoder.encode(list(texts), normalize_embeddings={recipe.normalize}))",
            "", "",
            *example,
            "```", ""]
        with_transformers = [
            "Or with transformers and numpy only (`pip install transformers torch numpy`):", "",
            "```python",
            "import json", "", "import numpy as np", "import torch",
            "from transformers import AutoModel, AutoTokenizer", "",
            'FOLDER = "."  # this folder', "",
            "tokenizer = AutoTokenizer.from_pretrained(FOLDER)",
            "model = AutoModel.from_pretrained(FOLDER, dtype=torch.float32).eval()",
            *head,
            "def predict_proba(texts):",
            '    """Class probabilities, one row per text, columns in label order."""',
            '    batch = tokenizer(list(texts), padding=True, truncation=True, max_length=head["max_length"],',
            '                      return_tensors="pt")',
            "    with torch.no_grad():",
            "        hidden = model(**batch).last_hidden_state",
            '    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)',
            "    pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)",
            "    return classify(torch.nn.functional.normalize(pooled, dim=-1).numpy())",
            "", "",
            *example,
            "```", ""]
        return [
            *with_sentence_transformers, *([] if recipe.key else with_transformers),
            f"The encoder started as `{base}` and was fine-tuned: this folder holds all of it, no base model is "
            "needed.",
        ]


@functools.cache
def _trainer_classes():
    """(trainer, relay) classes; built on first use, since they subclass what importing transformers costs."""
    from sentence_transformers import SentenceTransformerTrainer
    from transformers import TrainerCallback

    class QuietTrainer(SentenceTransformerTrainer):
        def add_model_card_callback(self, default_args_dict: dict) -> None:
            """No model card: it costs a pass over the pairs (widget examples) and we write our own card."""

    class Relay(TrainerCallback):
        """Passes the trainer's step logs to our Callback; its should_stop() cancels before the next step."""

        def __init__(self, callback: Callback, total_steps: int) -> None:
            self.callback, self.total_steps = callback, total_steps
            self.steps, self.start = 0, time.perf_counter()

        def on_train_begin(self, args, state, control, **kwargs):
            self.start = time.perf_counter()

        def on_step_begin(self, args, state, control, **kwargs):
            # Before the step, not after it: transformers logs a step after on_step_end, so a stop set there
            # would cost one more step. The trainer holds nothing to clean up but the scratch folder.
            if self.callback.should_stop():
                raise InterruptedError("training cancelled")

        def on_step_end(self, args, state, control, **kwargs):
            self.steps = state.global_step

        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "loss" in logs:  # a step's log (the summary at the end has train_loss instead)
                elapsed = time.perf_counter() - self.start
                self.callback.on_log({"step": state.global_step, "epoch": round(float(state.epoch or 0), 4),
                                      "total_steps": self.total_steps, "train_loss": float(logs["loss"]),
                                      "learning_rate": float(logs.get("learning_rate", 0.0)),
                                      "examples_per_s": state.global_step * args.per_device_train_batch_size
                                      / elapsed if elapsed else 0.0, "elapsed": elapsed})

    return QuietTrainer, Relay


register_method(name="setfit", config_cls=SetFitConfig, method_cls=SetFit)

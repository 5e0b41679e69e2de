"""`tlcore adapt`: continue pre-training a base model on unlabeled texts of your domain (tlcore.engine.adapt).

tlcore adapt --model minilm --texts FILE [--text-column C] [--name "minilm + tickets"] [--mode full|lora]
             [--steps N] [--json]

It runs here, in the foreground, as an adaptation job (tlcore.runs.adapt_job), so the app lists it with its loss
curve. The model appears as ``<cache>/adapted/<slug of name>/`` (``--out`` elsewhere), usable as ``--model`` by
every method. ``--json`` prints one document: the job id, the folder and slug, and the record of
``tlcore_adapted.json`` (name, base, base_path, kind, objective, mode, texts, held_out_texts, steps,
head_warmup_steps, final_loss, held_out_loss, seconds, created, source, config).

Exit codes: 0 when the model is saved; 2 for bad input (one `error:` line, before anything loads: too few texts,
a name taken, a model that cannot do the objective); 1 when cancelled or on an internal failure.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..data import read_table
from ..engine.adapt import MIN_TEXTS, MODES, AdaptConfig, mode_named, texts_from_frame
from ..errors import ConfigError
from ..runs.adapt_job import create_adapt_job, execute_adapt_job
from .arg_types import add_reading_args, device_name, positive_float, positive_int, reading_options, whole_number
from .output import print_json

DESCRIPTION = (
    "Continues the base model's own pre-training on unlabeled texts of your domain (masked-LM for encoders, "
    "next-token prediction for decoders), with every weight or LoRA adapters merged at the end, and saves it as a "
    f"new local model every method can use. Needs at least {MIN_TEXTS} distinct texts; blanks and repeats are "
    "dropped. The defaults (300 steps of 32 texts) take a few minutes on a laptop CPU with minilm.")


def _mode(text: str) -> str:
    try:
        return mode_named(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _probability(text: str) -> float:
    value = positive_float(text)
    if value >= 1:
        raise argparse.ArgumentTypeError(f"expected a fraction between 0 and 1, got {text[:40]}")
    return value


def add_adapt_parser(sub) -> None:
    """Add `tlcore adapt` to the `tlcore` parser's subparsers."""
    defaults = AdaptConfig()
    p = sub.add_parser("adapt", help="continue pre-training a model on your unlabeled texts (a new base model)",
                       description=DESCRIPTION)
    p.add_argument("--model", required=True, help="the base model: minilm, smollm2-135m or a model folder")
    p.add_argument("--texts", required=True, help="file of unlabeled texts (CSV, TSV, TXT with a header, JSONL, "
                                                  "JSON, XLSX, Parquet); labeled files work too")
    p.add_argument("--text-column", help="column with the texts (default: 'text', else the longest)")
    add_reading_args(p)
    p.add_argument("--name", help="name of the new model (default: '<model> + <file name>')")
    p.add_argument("--mode", type=_mode, default=defaults.mode,
                   help=f"{MODES[0]} (or full): every weight trains; {MODES[1]} (or lora): LoRA adapters train "
                        f"and are merged into the weights (default {defaults.mode})")
    p.add_argument("--steps", type=positive_int, help=f"optimisation steps (default {defaults.steps})")
    p.add_argument("--epochs", type=positive_int, help="passes over the texts instead of --steps")
    p.add_argument("--lr", type=positive_float, help="peak learning rate (default 5e-5 full, 5e-4 LoRA)")
    p.add_argument("--batch-size", type=positive_int, help=f"texts per step (default {defaults.batch_size})")
    p.add_argument("--max-length", type=lambda t: whole_number(t, 8, 8192),
                   help=f"tokens per text, 8 to 8192 (default {defaults.max_length})")
    p.add_argument("--mask-probability", type=_probability,
                   help=f"masked-LM: share of tokens hidden (default {defaults.mask_probability})")
    p.add_argument("--head-warmup", type=lambda t: whole_number(t, 0, 10_000),
                   help=f"masked-LM: steps that train a new prediction head alone first (default "
                        f"{defaults.head_warmup})")
    p.add_argument("--seed", type=lambda t: whole_number(t, 0, 2**32 - 1), help="seed (default 0)")
    p.add_argument("--device", type=device_name, help="auto, cpu, cuda, cuda:N or mps (default auto)")
    p.add_argument("--out", help="folder of adapted models (default: <cache>/adapted; TLCORE_CACHE moves the cache)")
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")


def cmd_adapt(args) -> int:
    frame = read_table(args.texts, **reading_options(args))
    texts = texts_from_frame(frame, args.text_column, name=Path(args.texts).name)
    options = {key: getattr(args, key) for key in ("steps", "epochs", "lr", "batch_size", "max_length",
                                                   "mask_probability", "head_warmup", "seed", "device")
               if getattr(args, key) is not None}
    config = AdaptConfig(mode=args.mode, **options)
    job = create_adapt_job(args.model, texts, config, name=args.name, source=Path(args.texts).name, root=args.out)
    echo = None if args.quiet else (lambda message: print(f"[adapt] {message}", file=sys.stderr, flush=True))
    if echo:
        echo(f"adapting {args.model} on {job.config()['texts']} texts as {job.config()['name']!r} (job {job.id})")
    record = execute_adapt_job(job, echo=echo)
    if args.json:
        print_json({"job_id": job.id, **record})
    else:
        losses = ", ".join(f"{k.replace('_', ' ')} {v:.3f}" for k, v in record["held_out_loss"].items())
        print(f"{record['name']}: saved in {record['folder']} ({record['steps']} steps, held-out loss {losses}); "
              f"use it with --model {record['folder']}")
    return 0

"""The `tlcore` command. Exit codes: 0 success, 2 bad input (one `error:` line), 1 internal failure."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from .. import __version__
from ..data import guess_columns, read_table, to_labeled
from ..engine.catalog import describe, fetch_model, list_models
from ..engine.models import BUNDLED, model_folder, resolve_model, stay_offline
from ..engine.precision import PRECISION_CHOICES
from ..errors import TLCoreError
from ..methods import list_methods, reference_methods
from ..methods.advice import DEFAULT_COMPARISON
from ..methods.base import MAX_SEED
from ..runs.create import create_run, method_options
from ..runs.store import RunConfig, RunStore
from ..use.tracking import DEFAULT_EXPERIMENT, DEFAULT_LOGDIR, TARGETS
from .adapt import add_adapt_parser, cmd_adapt
from .arg_types import add_reading_args, device_name, positive_float, positive_int, reading_options, whole_number
from .checks import CHECK_COMMANDS, add_check_parsers
from .command import OPTION_FLAGS, RUN_DEFAULTS, parse_option_value
from .label_issues import add_label_issues_parser, cmd_label_issues
from .output import ProgressPrinter, print_json, table
from .suggest import add_suggest_parser, cmd_suggest
from .sweep import add_sweep_parser, cmd_sweep

RESULT_KEYS = ("run_id", "model", "method", "n_train", "n_test", "labels", "accuracy", "macro_f1", "accuracy_ci",
               "macro_f1_ci", "train_seconds", "predict_seconds", "trainable_params", "total_params")
DEFAULT_COMPARE = ",".join(DEFAULT_COMPARISON)


class UsageError(TLCoreError):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2 (argparse's default prints usage too)
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def _seed(text: str) -> int:
    return whole_number(text, 0, MAX_SEED)


def _key_value(text: str) -> tuple[str, str]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected LABEL=TEXT, got {text!r}")
    key, value = text.split("=", 1)
    return key.strip(), value.strip()


def _option(text: str) -> tuple[str, object]:
    name, _, value = text.partition("=")
    if not name.strip() or "=" not in text:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name.strip(), parse_option_value(value.strip())


def _val_size(text: str) -> float:
    """--val-size: like --test-size, but 0 (no validation rows) is allowed."""
    try:
        return 0.0 if float(text) == 0 else positive_float(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"expected 0 (no validation rows), a fraction below 1 or a row count, "
                                         f"got {text[:40]!r}") from None
    except ValueError:
        return positive_float(text)  # not a number: its message says so


def _add_data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--train", help="labeled data file (CSV, TSV, JSONL, JSON, XLSX, Parquet); required")
    p.add_argument("--test", help="separate labeled test file; default: a stratified hold-out of --train")
    p.add_argument("--val", help="separate labeled validation file; default: a stratified hold-out of --train")
    p.add_argument("--text-column", help="column with the text (default: guessed)")
    p.add_argument("--label-column", help="column with the label (default: guessed)")
    add_reading_args(p)
    p.add_argument("--model", help="minilm, smollm2-135m, a Hugging Face Hub id found in the local cache "
                                   "(BAAI/bge-small-en-v1.5), an adapted model, or a model folder; required "
                                   "(`tlcore models` lists them)")
    p.add_argument("--allow-download", action="store_true",
                   help="fetch a Hub model that is not in the local cache (size shown first; safetensors only)")
    p.add_argument("--per-class", type=positive_int, help="sample N training rows per class (after the test split)")
    p.add_argument("--test-size", type=positive_float,
                   help="test hold-out: a fraction below 1 or a row count (default 0.2)")
    p.add_argument("--split-seed", type=_seed, help="seed of the train/val/test split (default 0)")
    p.add_argument("--val-size", type=_val_size,
                   help="validation hold-out: a fraction below 1 or a row count; 0 for none (default 0.1)")
    p.add_argument("--seed", type=_seed, help="seed of sampling, shots and training (default 0)")
    p.add_argument("--shots", type=positive_int, help="few-shot: examples per class (K)")
    p.add_argument("--epochs", type=positive_int, help="fine-tuning: passes over the training rows")
    p.add_argument("--lr", type=positive_float, help="fine-tuning: peak learning rate")
    p.add_argument("--batch-size", type=positive_int, help="fine-tuning: examples per step")
    p.add_argument("--max-length", type=positive_int, help="tokens per text; longer texts are cut")
    p.add_argument("--option", action="append", type=_option, default=[], metavar="NAME=VALUE",
                   help="any method option (see `tlcore methods --json`); VALUE is read as JSON when it can be "
                        "(16, 1e-4, true, [\"query\"]), else as text (repeatable)")
    p.add_argument("--label-description", action="append", type=_key_value, default=[], metavar="LABEL=TEXT",
                   help="zero/few-shot: text to use for a terse label name (repeatable)")
    p.add_argument("--device", type=device_name, help="auto (default: a GPU when torch sees one), cpu, cuda, cuda:N "
                                                      "or mps")
    p.add_argument("--precision", choices=PRECISION_CHOICES,
                   help="auto (default: bf16 where this CPU and model measure faster in it and agree with fp32, "
                        "bf16 or fp16 for large models on a GPU, else fp32; TLCORE_PRECISION=fp32 makes it fp32), "
                        "fp32, bf16 or fp16")
    p.add_argument("--runs-dir", default=None, help="where run folders go (default ./runs or $TLCORE_RUNS_DIR)")
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="tlcore", description="Transfer learning from pretrained language models.")
    parser.add_argument("--version", action="version", version=f"tlcore {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("models", help="list the models this machine can use; --download fetches one from the Hub",
                       description="Lists the bundled models, models adapted to your texts, models in the local "
                                   "Hugging Face cache (HF_HUB_CACHE) and model folders used recently: name, kind, "
                                   "where from, parameters, size, license. Nothing is downloaded unless --download "
                                   "names a Hub id: then its size is shown first and only safetensors weights and the "
                                   "files beside them are fetched into the Hugging Face cache.")
    p.add_argument("--download", metavar="HUB_ID", help="fetch owner/name from the Hugging Face Hub into the cache")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("methods", help="list the transfer methods")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("prepare", help="convert the bundled models once, so later runs load in seconds")
    p.add_argument("--model", action="append", help="model to prepare (default: all bundled)")
    p = sub.add_parser("validate", help="check a data file: errors that block a run, warnings, counts",
                       description="Read a labeled data file and report errors (which block a run), warnings and "
                                   "counts. Exit codes: 0 the data is usable (warnings may remain); 2 the file "
                                   "cannot be read (one `error:` line on stderr), or the report has errors (the "
                                   "report on stdout and one `error:` line on stderr).")
    p.add_argument("data", help="data file (CSV, TSV, TXT, JSONL, JSON, XLSX, Parquet)")
    p.add_argument("--text-column", help="column with the text (default: guessed)")
    p.add_argument("--label-column", help="column with the label (default: guessed)")
    p.add_argument("--test", metavar="DATA", help="separate test file: checked for leakage and unseen labels")
    p.add_argument("--sheet", metavar="NAME", help="Excel sheet of DATA to read (default: the first)")
    add_reading_args(p)
    p.add_argument("--shots", type=positive_int, metavar="K", help="check that each class can give K examples")
    p.add_argument("--max-length", type=positive_int, metavar="TOKENS",
                   help="token limit for the long-text check (default 128, estimated at 4 characters per token)")
    p.add_argument("--json", action="store_true", help="print the report as one JSON document on stdout")
    p = sub.add_parser("run", help="run one method and print its test metrics")
    _add_data_args(p)
    p.add_argument("--method", help="see `tlcore methods`; required")
    p.add_argument("--config", help="a run's settings as YAML (the app's 'Download config'); flags override it")
    p = sub.add_parser(
        "compare", help="compare finished runs, run several methods on one test split, or a learning curve",
        description="Three forms. (1) tlcore compare RUN_ID RUN_ID ... compares finished runs (see `tlcore runs`); "
                    "they must share a test split (exit 2 names the runs of each test set otherwise). (2) tlcore "
                    "compare --train DATA --model M --methods a,b runs each method on one test split. (3) tlcore "
                    "compare --learning-curve --train DATA --model M --method M2 --sizes 8,16,32,all --seeds 3 runs "
                    "M2 at each size (examples per class) with each seed on the same test rows, one run after "
                    "another, plus zero-shot and few-shot references (reused when already run on those rows), and "
                    "prints one JSON document: points (per_class, seed, accuracy, macro_f1, run_id), summary (per "
                    "size: mean and std of accuracy across seeds, macro_f1_mean, macro_f1_std) and references.")
    p.add_argument("runs", nargs="*", metavar="RUN_ID", help="finished runs to compare (form 1)")
    _add_data_args(p)
    p.add_argument("--methods", default=None, help=f"form 2: comma-separated (default {DEFAULT_COMPARE})")
    p.add_argument("--learning-curve", action="store_true", help="form 3: run a learning curve, print it as JSON")
    p.add_argument("--method", dest="curve_method", metavar="METHOD",
                   help="form 3: the method to run at each size (one that trains)")
    p.add_argument("--sizes", help="form 3: examples per class, comma-separated, 'all' for every training row "
                                   "(default 8,16,32,... below the smallest class, and all)")
    p.add_argument("--seeds", type=positive_int, default=3,
                   help="form 3: seeds per size, counting up from --seed (default 3)")
    references = ",".join(reference_methods())
    p.add_argument("--references", default=references,
                   help=f"form 3: reference methods on the same test rows, or 'none' (default {references})")
    p = sub.add_parser("best", help="find the best method: run a small portfolio, pick on validation rows",
                       description="Runs each method of a small portfolio (zero-shot, few-shot, linear probe, LoRA, "
                                   "... as the model's kind allows) at its defaults on one split, picks the method "
                                   "with the best validation accuracy, and reports it on the test rows with a 95 % "
                                   "interval and paired verdicts against the others. --json prints one document.")
    _add_data_args(p)
    p.add_argument("--methods", default=None, help="comma-separated methods to try (default: the portfolio)")
    p = sub.add_parser("runs", help="list runs")
    p.add_argument("--runs-dir", default=None)
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("predict", help="label a data file with a finished run's model; write a CSV")
    p.add_argument("--run", required=True, help="run id (see `tlcore runs`) or run folder")
    p.add_argument("--input", required=True, help="data file (CSV, TSV, JSONL, JSON, XLSX, Parquet)")
    add_reading_args(p)
    p.add_argument("--output", required=True, help="CSV file to write: the input's columns plus predicted, "
                                                   "confidence and p_<label> per class")
    p.add_argument("--text-column", help="column with the text (default: the run's, else guessed)")
    p.add_argument("--device", type=device_name, help="auto, cpu, cuda, cuda:N or mps")
    p.add_argument("--runs-dir", default=None, help="where run folders are (default ./runs or $TLCORE_RUNS_DIR)")
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p = sub.add_parser("export", help="export a finished run's model with a model card, loadable without tlcore")
    p.add_argument("--run", required=True, help="run id (see `tlcore runs`) or run folder")
    p.add_argument("--to", required=True, help="new folder to write (with --zip: DIR.zip)")
    p.add_argument("--zip", action="store_true", help="write one .zip file instead of a folder")
    p.add_argument("--runs-dir", default=None, help="where run folders are (default ./runs or $TLCORE_RUNS_DIR)")
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    p = sub.add_parser("import", help="bring an export (folder or .zip from `tlcore export`) back as a run")
    p.add_argument("path", metavar="PATH", help="the export: a folder or .zip written by `tlcore export`")
    p.add_argument("--runs-dir", default=None, help="where run folders are (default ./runs or $TLCORE_RUNS_DIR)")
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    p = sub.add_parser(
        "export-tracking", help="log a finished run to MLflow or TensorBoard",
        description="Log a finished run to an experiment tracker. MLflow: its settings as params, every training "
                    "step as metrics, the final metrics (with 95 % intervals as *_low/*_high), tags and its export as "
                    "the artifact folder export/; a run already logged there (tag transferlab.run_id) is not logged "
                    "twice. TensorBoard: event files in LOGDIR/RUN_ID, replaced when logged again. Needs pip install "
                    "'tlcore[mlflow]' or 'tlcore[tensorboard]'.")
    p.add_argument("--run", required=True, help="run id (see `tlcore runs`) or run folder")
    p.add_argument("--to", required=True, choices=TARGETS, help="the tracker")
    p.add_argument("--uri", help="mlflow: tracking server or store (default: $MLFLOW_TRACKING_URI, else MLflow's "
                                 "default, sqlite:///mlflow.db in the current folder)")
    p.add_argument("--experiment", help=f"mlflow: experiment name (default {DEFAULT_EXPERIMENT})")
    p.add_argument("--logdir", help=f"tensorboard: log folder; the run goes in LOGDIR/RUN_ID "
                                    f"(default ./{DEFAULT_LOGDIR})")
    p.add_argument("--runs-dir", default=None, help="where run folders are (default ./runs or $TLCORE_RUNS_DIR)")
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    add_check_parsers(sub)  # evaluate, slices, probe, footprint (tlcore/checks/commands.py)
    add_sweep_parser(sub, _add_data_args)  # tlcore/cli/sweep.py
    add_label_issues_parser(sub)  # tlcore/cli/label_issues.py
    add_suggest_parser(sub)  # tlcore/cli/suggest.py
    add_adapt_parser(sub)  # tlcore/cli/adapt.py
    return parser


def _cmd_models(args) -> int:
    if args.download:
        spec = fetch_model(args.download, progress=lambda message: print(message, file=sys.stderr, flush=True))
        if args.json:
            print_json(describe(spec))
        else:
            print(f"{spec.name}: in the Hugging Face cache at {spec.path}")
        return 0
    rows = [describe(spec) for spec in list_models()]
    if args.json:
        print_json(rows)
    else:
        print(table([{**r, "params": f"{r['params'] / 1e6:,.1f}M" if r["params"] else "?",
                      "size_mb": r["size_mb"] or ""} for r in rows],
                    ("name", "kind", "source", "params", "size_mb", "available_offline", "license")))
    return 0


def _cmd_methods(args) -> int:
    rows = [entry.to_dict() for entry in list_methods()]
    if args.json:
        print_json(rows)
    else:
        print(table([{**r, "kinds": ",".join(r["kinds"])} for r in rows], ("name", "kinds", "description")))
    return 0


def _cmd_prepare(args) -> int:
    for name in args.model or list(BUNDLED):
        folder = model_folder(resolve_model(name), progress=lambda m: print(m, file=sys.stderr, flush=True))
        print(f"{name}: ready in {folder}")
    return 0


def _cmd_validate(args) -> int:
    import warnings

    from ..data import DataWarning
    from ..data.validation import validate

    with warnings.catch_warnings():  # what reading changed is part of the report
        warnings.simplefilter("ignore", DataWarning)
        frame = read_table(args.data, sheet=args.sheet, **reading_options(args))
        test = read_table(args.test, **reading_options(args)) if args.test else None
    report = validate(frame, args.text_column, args.label_column, test_frame=test, shots=args.shots,
                      tokenizer_max_length=args.max_length)
    if args.json:
        print_json(report.to_dict())
    else:
        print("\n".join(report.lines()))
    if report.ok:
        return 0
    codes = ", ".join(dict.fromkeys(issue.code for issue in report.errors))
    raise UsageError(f"{args.data} cannot be used as it is: {len(report.errors)} error"
                     f"{'s' if len(report.errors) > 1 else ''} ({codes}); see the report above and fix "
                     f"{'them' if len(report.errors) > 1 else 'it'}.")




def _apply_config_file(args) -> None:
    """Fill flags the user did not give from --config (YAML written by Run.config_yaml), then defaults."""
    settings: dict = {}
    if getattr(args, "config", None):
        import yaml

        try:
            settings = yaml.safe_load(Path(args.config).read_text()) or {}
        except FileNotFoundError:
            raise UsageError(f"config file {args.config!r} does not exist; check the path.") from None
        except (OSError, yaml.YAMLError) as exc:
            raise UsageError(f"config file {args.config!r} is not valid YAML: {str(exc).splitlines()[0]}") from None
        if not isinstance(settings, dict):
            raise UsageError(f"config file {args.config!r} must hold key: value settings, not a "
                             f"{type(settings).__name__}.")
    options = dict(settings.get("method_options") or {})
    for key in ("train", "test", "val", "model", "method", "text_column", "label_column", "test_size",
                "split_seed", "per_class", "device", "precision", "val_size"):
        if getattr(args, key, None) is None and settings.get(key) is not None:
            setattr(args, key, settings[key])
    if args.seed is None and "seed" in options:
        args.seed = options["seed"]
    for key, value in RUN_DEFAULTS.items():
        if getattr(args, key, None) is None:
            setattr(args, key, value)
    args.config_options = options
    missing = [flag for flag in ("train", "model", "method") if getattr(args, flag, "") is None]
    if missing:
        raise UsageError(f"the following arguments are required: {', '.join('--' + m for m in missing)} "
                         "(or give them in --config FILE)")


def _load(args):
    """(train, test or None, validation or None); guessed columns are written back to args, so the
    test and validation files are read with the same columns and the run's config records them."""
    frame = read_table(args.train, **reading_options(args))
    if args.text_column is None or args.label_column is None:
        guessed_text, guessed_label = guess_columns(frame)
        args.text_column = args.text_column or guessed_text
        args.label_column = args.label_column or guessed_label
    data = to_labeled(frame, args.text_column, args.label_column, name=args.train)
    extra = [to_labeled(read_table(path, **reading_options(args)), args.text_column, args.label_column, name=path)
             if path else None for path in (args.test, args.val)]
    return data, extra[0], extra[1]


def _options(args, method: str, strict: bool) -> dict:
    given = {name: getattr(args, flag[2:].replace("-", "_")) for name, flag in OPTION_FLAGS.items()}
    given.update({"seed": args.seed,
                  "label_descriptions": dict(args.label_description) or None})
    given = {**getattr(args, "config_options", {}), **{k: v for k, v in given.items() if v is not None},
             **dict(getattr(args, "option", []))}
    kept = method_options(method, given, strict=False)
    from_flags = {k for k, v in given.items() if v is not None and k not in getattr(args, "config_options", {})}
    ignored = sorted(k for k in from_flags if k not in kept and k != "seed")
    if strict and ignored:
        named = dict(getattr(args, "option", []))
        flags = ", ".join(f"--option {k}" if k in named else "--" + k.replace("_", "-") for k in ignored)
        raise UsageError(f"{flags} does not apply to method {method!r}; see its options with `tlcore methods`.")
    return kept


def _run_one(args, method: str, data, test, val, strict: bool) -> dict:
    from ..runs.executor import executor_name
    from ..runs.series import execute_series
    from ..runs.worker import execute

    config = RunConfig(model=args.model, method=method, method_options=_options(args, method, strict),
                       data_name=Path(args.train).name, text_column=args.text_column,
                       label_column=args.label_column, test_size=args.test_size,
                       split_seed=args.split_seed, per_class=args.per_class, device=args.device,
                       precision=args.precision,
                       val_size=args.val_size, test_name=Path(args.test).name if args.test else None,
                       val_name=Path(args.val).name if args.val else None)
    run = create_run(config, data, test, RunStore(args.runs_dir), sample_seed=args.seed, val=val)
    echo = None if args.quiet else (lambda m: print(f"[{method}] {m}", file=sys.stderr, flush=True))
    if echo:
        echo(f"run {run.id}: {config.model}, {config.method}")
    if executor_name() == "ray":  # a Ray task on the cluster; this waits for it as for a local run
        done = execute_series([run], echo=echo, stop_on_error=True)
        if not done:
            raise InterruptedError("cancelled")
        metrics = done[0]
    else:
        metrics = execute(run, echo=echo)
    return {**{k: metrics[k] for k in RESULT_KEYS}, **metrics}


def _with_interval(m: dict, key: str) -> str:
    """A score and, when known, its 95 % interval: "0.750 (0.583-0.917)"."""
    interval = m.get(f"{key}_ci")
    return f"{m[key]:.3f}" + (f" ({interval[0]:.3f}-{interval[1]:.3f})" if interval else "")


def _summary_line(m: dict) -> str:
    return (f"{m['method']:<14} {m['model']:<14} accuracy {_with_interval(m, 'accuracy')}  "
            f"macro-F1 {_with_interval(m, 'macro_f1')}  "
            f"train {m['train_seconds']:.1f}s  predict {m['predict_seconds']:.1f}s  "
            f"trainable {m['trainable_params']:,}  run {m['run_id']}")


def _print_verdicts(records: list[dict]) -> None:
    """The paired verdicts (each run against the best) under the table, when there are two runs or more."""
    verdicts = [record["paired"]["verdict"] for record in records if record.get("paired")]
    if verdicts:
        print("can the test set tell them apart? (each run against the best: paired bootstrap + exact McNemar)")
        for verdict in verdicts:
            print(f"  {verdict}")


def _cmd_run(args) -> int:
    _apply_config_file(args)
    data, test, val = _load(args)
    result = _run_one(args, args.method, data, test, val, strict=True)
    print_json(result) if args.json else print(_summary_line(result))
    return 0


def _compare_runs(args) -> int:
    """Form 1: finished runs that share a test split, side by side."""
    from ..compare.comparison import comparison_records, load_comparison, majority_metrics

    given = [flag for flag, value in (("--train", args.train), ("--methods", args.methods),
                                      ("--learning-curve", args.learning_curve), ("--model", args.model)) if value]
    if given:
        raise UsageError(f"give run ids to compare finished runs, or {', '.join(given)} to make new ones, not both.")
    comparison = load_comparison(args.runs, RunStore(args.runs_dir))
    records = comparison_records(comparison)
    if args.json:
        print_json(records)
        return 0
    print(f"test rows: {comparison.n_test} (split {comparison.test_fingerprint})")
    for record in records:
        print(_summary_line(record))
    majority = majority_metrics(comparison)
    print(f"{'majority class':<14} {majority['label']:<14} accuracy {majority['accuracy']:.3f}  "
          f"macro-F1 {majority['macro_f1']:.3f}  (always predicts the most common test class)")
    _print_verdicts(records)
    return 0


def _compare_curve(args) -> int:
    """Form 3: a learning curve, run here one run after another; one JSON document on stdout."""
    from ..data import make_split
    from ..runs.learning_curve import default_sizes, parse_sizes, run_learning_curve

    if not args.curve_method:
        raise UsageError("--learning-curve needs --method, a method that trains (e.g. linear-probe or lora).")
    for flag, value in (("--per-class", args.per_class), ("--methods", args.methods)):
        if value:
            raise UsageError(f"{flag} does not apply to --learning-curve; give the sizes with --sizes and the "
                             "method with --method.")
    args.method = args.curve_method
    _apply_config_file(args)
    references = [] if args.references.strip().lower() == "none" else [
        m.strip() for m in args.references.split(",") if m.strip()]
    data, test, val = _load(args)
    if args.sizes:
        sizes = parse_sizes(args.sizes)
    else:
        split = make_split(data, test, test_size=args.test_size, val_size=args.val_size, split_seed=args.split_seed,
                           val=val)
        sizes = default_sizes(split.train.class_counts())
    base = RunConfig(model=args.model, method=args.method, method_options=_options(args, args.method, True),
                     data_name=Path(args.train).name, text_column=args.text_column, label_column=args.label_column,
                     test_size=args.test_size, split_seed=args.split_seed, device=args.device,
                     precision=args.precision,
                     val_size=args.val_size, test_name=Path(args.test).name if args.test else None,
                     val_name=Path(args.val).name if args.val else None)
    echo = None if args.quiet else (lambda m: print(f"[curve] {m}", file=sys.stderr, flush=True))
    payload = run_learning_curve(base, data, sizes, [args.seed + i for i in range(args.seeds)],
                                 RunStore(args.runs_dir), test, val, references,
                                 reference_options=lambda method: _options(args, method, False), echo=echo)
    print_json(payload)
    return 0


def _cmd_compare(args) -> int:
    if args.runs:
        return _compare_runs(args)
    if args.learning_curve:
        return _compare_curve(args)
    _apply_config_file(args)
    methods = [m.strip() for m in (args.methods or DEFAULT_COMPARE).split(",") if m.strip()]
    if not methods:
        raise UsageError("--methods is empty; give a comma-separated list such as zero-shot,few-shot,lora.")
    from ..methods import check_supported, get_method

    spec = resolve_model(args.model)
    for method in methods:  # refuse a bad list before the first run starts
        check_supported(get_method(method), spec)
    data, test, val = _load(args)
    results = [_run_one(args, method, data, test, val, strict=False) for method in methods]
    _add_paired(results, args.runs_dir)
    if args.json:
        print_json(results)
    else:
        print(f"test rows: {results[0]['n_test']} (split {results[0]['test_fingerprint']})")
        for result in results:
            print(_summary_line(result))
        _print_verdicts(results)
    return 0


def _add_paired(results: list[dict], runs_dir) -> None:
    """Give each result its ``paired`` comparison with the best run (null for the best), as form 1 does."""
    from ..compare.comparison import load_comparison, paired_with_best

    paired = paired_with_best(load_comparison([r["run_id"] for r in results], RunStore(runs_dir)))
    for result in results:
        result["paired"] = paired[result["run_id"]].to_dict() if result["run_id"] in paired else None


def _cmd_best(args) -> int:
    from ..compare.best_method import create_search, search_result
    from ..runs.series import execute_series

    _apply_config_file(args)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()] if args.methods else None
    data, test, val = _load(args)
    base = RunConfig(model=args.model, method="", data_name=Path(args.train).name, text_column=args.text_column,
                     label_column=args.label_column, test_size=args.test_size, split_seed=args.split_seed,
                     per_class=args.per_class, device=args.device, precision=args.precision, val_size=args.val_size,
                     test_name=Path(args.test).name if args.test else None,
                     val_name=Path(args.val).name if args.val else None)
    runs = create_search(base, data, test, val, RunStore(args.runs_dir), methods)
    echo = None if args.quiet else (lambda m: print(m, file=sys.stderr, flush=True))
    execute_series(runs, echo=echo)
    result = search_result(runs)
    if args.json:
        print_json(result.to_dict())
    else:
        for candidate in result.candidates:
            scores = (f"validation {candidate.val_accuracy:.3f}  test {candidate.accuracy:.3f}"
                      if candidate.val_accuracy is not None else candidate.error or candidate.status)
            print(f"{candidate.method:<14} {scores}  run {candidate.run_id}")
        print("\n".join(result.summary))
    return 0 if result.picked else 1


def _cmd_runs(args) -> int:
    rows = [vars(s) for s in RunStore(args.runs_dir).summaries()]
    if args.json:
        print_json(rows)
    else:
        print(table(rows, ("id", "status", "model", "method", "accuracy", "macro_f1")))
    return 0


def _cmd_predict(args) -> int:
    from ..runs.store import as_run
    from ..use.predict import predict_file

    run = as_run(args.run, args.runs_dir)
    report = predict_file(run, args.input, args.output, text_column=args.text_column, device=args.device,
                          callback=None if args.quiet else ProgressPrinter(), **reading_options(args))
    if args.json:
        print_json({**report.to_dict(), "output": str(args.output)})
    else:
        for warning in report.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        print(f"{report.summary()}; wrote {args.output}")
    return 0


def _cmd_export(args) -> int:
    from ..runs.store import as_run
    from ..use.export import export_kind, export_run

    run = as_run(args.run, args.runs_dir)
    path = export_run(run, Path(args.to), zip=args.zip)
    files = sorted(p.name for p in path.iterdir()) if path.is_dir() else [path.name]
    if args.json:
        print_json({"run_id": run.id, "output": str(path), "kind": export_kind(run.config()["method"]),
                     "zip": args.zip, "files": files})
    else:
        print(f"exported run {run.id} to {path}")
    return 0


def _cmd_import(args) -> int:
    from ..use.importing import import_export

    run = import_export(args.path, RunStore(args.runs_dir))
    config, metrics = run.config(), run.metrics() or {}
    payload = {"run_id": run.id, "path": str(run.path), "source": args.path,
               "original_run_id": config["imported_from"].get("run_id"), "model": config["model"],
               "method": config["method"], "labels": config["labels"], "accuracy": metrics.get("accuracy"),
               "macro_f1": metrics.get("macro_f1")}
    if args.json:
        print_json(payload)
    else:
        accuracy = f", test accuracy {payload['accuracy']:.3f}" if payload["accuracy"] is not None else ""
        print(f"imported {args.path} as run {run.id} ({config['method']}, {config['model']}{accuracy})")
    return 0


def _cmd_export_tracking(args) -> int:
    from ..runs.store import as_run
    from ..use.tracking import export_tracking

    applies = (("--uri", args.uri, "mlflow"), ("--experiment", args.experiment, "mlflow"),
               ("--logdir", args.logdir, "tensorboard"))
    wrong = [flag for flag, value, target in applies if value is not None and target != args.to]
    if wrong:
        raise UsageError(f"{', '.join(wrong)} does not apply to --to {args.to}; see `tlcore export-tracking --help`.")
    run = as_run(args.run, args.runs_dir)
    result = export_tracking(run, args.to, uri=args.uri, experiment=args.experiment, logdir=args.logdir)
    if args.json:
        print_json(result.to_dict())
    else:
        print(result.message)
    return 0


COMMANDS = {"models": _cmd_models, "methods": _cmd_methods, "prepare": _cmd_prepare, "validate": _cmd_validate,
            "run": _cmd_run, "compare": _cmd_compare, "best": _cmd_best, "runs": _cmd_runs, "predict": _cmd_predict,
            "export": _cmd_export, "import": _cmd_import, "export-tracking": _cmd_export_tracking, **CHECK_COMMANDS,
            "sweep": lambda args: cmd_sweep(args, _apply_config_file, _load, _options), "suggest": cmd_suggest,
            "label-issues": cmd_label_issues, "adapt": cmd_adapt}


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        if getattr(args, "allow_download", False) and getattr(args, "model", None):
            # Before any command reads the model: fetched into the Hugging Face cache (size printed first).
            fetch_model(args.model, progress=None if args.quiet else lambda m: print(m, file=sys.stderr, flush=True))
        elif not getattr(args, "download", None):
            stay_offline()  # this process is ours: it loads local folders and the cache only
        return COMMANDS[args.command](args)
    except TLCoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except InterruptedError:
        print("error: cancelled", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

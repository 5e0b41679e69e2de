"""The checks' subcommands of the `tlcore` command: evaluate, slices, probe, footprint.

tlcore evaluate  --run R --data OTHER [--text-column C] [--label-column C] [--map OLD=NEW ...] [--json]
tlcore slices    --run R --column C [--data FILE] [--min-size N] [--json]
tlcore probe     --run R [--pairs he:she,his:her] [--data FILE] [--json]
tlcore footprint --run R [--run R2 ...] [--watts W] [--grid G] [--json]

Bad input raises a TLCoreError, which tlcore.cli turns into exit code 2 and one `error:` line.
"""
from __future__ import annotations

import argparse
import sys

from ..compare.checks.counterfactual import DEFAULT_PAIRS, format_pairs, parse_pairs, probe_counterfactual
from ..compare.checks.footprint import FootprintAssumptions, compare_compute, compute_footprint
from ..compare.checks.ood import evaluate_ood
from ..compare.checks.report_section import flops_text
from ..compare.checks.slices import MIN_SLICE_SIZE, TEXT_LENGTH, slice_metrics
from ..compare.formatting import percent
from ..errors import ConfigError
from .arg_types import add_reading_args, device_name, positive_float, positive_int, reading_options
from .output import print_json

RUNS_DIR_HELP = "where run folders are (default ./runs or $TLCORE_RUNS_DIR)"


def _mapping(text: str) -> tuple[str, str]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected FILE_LABEL=RUN_LABEL, got {text!r}")
    old, new = text.split("=", 1)
    return old.strip(), new.strip()


def add_check_parsers(sub) -> None:
    """Add the checks' subcommands to the `tlcore` parser's subparsers."""
    p = sub.add_parser("evaluate", help="score a finished run on another labeled file (out-of-domain) and show "
                                        "the gap to its own test accuracy")
    p.add_argument("--run", required=True, help="run id (see `tlcore runs`) or run folder")
    p.add_argument("--data", required=True, help="labeled file with the run's labels (CSV, TSV, JSONL, JSON, "
                                                 "XLSX, Parquet)")
    p.add_argument("--text-column", help="column with the text (default: the run's, else guessed)")
    p.add_argument("--label-column", help="column with the label (default: the run's, else guessed)")
    p.add_argument("--map", action="append", type=_mapping, default=[], metavar="FILE_LABEL=RUN_LABEL",
                   help="map a label of the file onto one of the run's (repeatable); labels that differ only in "
                        "case or spaces are matched without it")
    p.add_argument("--name", help="name to save the evaluation under (default: the file's name)")
    add_reading_args(p)
    p.add_argument("--fresh", action="store_true", help="score again even if this evaluation is saved")
    p.add_argument("--device", type=device_name, default="auto")
    p.add_argument("--runs-dir", default=None, help=RUNS_DIR_HELP)
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")

    p = sub.add_parser("slices", help="accuracy, macro-F1 and error rate of a run's test predictions per value of "
                                      "another column")
    p.add_argument("--run", required=True, help="run id (see `tlcore runs`) or run folder")
    p.add_argument("--column", required=True,
                   help=f"column of --data to slice by, or 'length' for the built-in {TEXT_LENGTH!r}")
    p.add_argument("--data", help="the data file the run was trained on, with the column (joined on the text)")
    add_reading_args(p)
    p.add_argument("--text-column", help="text column of --data (default: the run's)")
    p.add_argument("--min-size", type=positive_int, default=MIN_SLICE_SIZE,
                   help=f"slices with fewer test rows are too small to judge (default {MIN_SLICE_SIZE})")
    p.add_argument("--runs-dir", default=None, help=RUNS_DIR_HELP)
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")

    p = sub.add_parser("probe", help="swap term pairs (he/she, names) in the texts and count prediction flips")
    p.add_argument("--run", required=True, help="run id (see `tlcore runs`) or run folder")
    p.add_argument("--pairs", help=f"comma-separated A:B pairs, swapped both ways (default: {len(DEFAULT_PAIRS)} "
                                   f"pairs: {format_pairs(DEFAULT_PAIRS[:4])}, ... and first names)")
    p.add_argument("--data", help="probe the texts of this file instead of the run's test split")
    add_reading_args(p)
    p.add_argument("--text-column", help="text column of --data (default: the run's, else guessed)")
    p.add_argument("--show", type=int, default=5, help="flipped examples to print (default 5)")
    p.add_argument("--fresh", action="store_true", help="score again even if this probe is saved")
    p.add_argument("--device", type=device_name, default="auto")
    p.add_argument("--runs-dir", default=None, help=RUNS_DIR_HELP)
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")

    p = sub.add_parser("footprint", help="trainable parameters, FLOPs, wall time, energy and CO2e of finished runs")
    p.add_argument("--run", required=True, action="append", help="run id or folder (repeat to compare runs)")
    p.add_argument("--watts", type=positive_float, help="assumed average power in W (default: cores x --watts-per-core "
                                                 "on a CPU, --gpu-watts on a GPU)")
    p.add_argument("--watts-per-core", type=positive_float, default=15.0, help="W per CPU core in use (default 15)")
    p.add_argument("--cores", type=positive_int, help="CPU cores in use (default: this machine's)")
    p.add_argument("--gpu-watts", type=positive_float, default=300.0, help="W per GPU (default 300)")
    p.add_argument("--grid", type=float, default=400.0, help="grid intensity, g CO2e per kWh (default 400)")
    p.add_argument("--runs-dir", default=None, help=RUNS_DIR_HELP)
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")


def _run(args):
    from ..runs.store import as_run

    return as_run(args.run, args.runs_dir)


def cmd_evaluate(args) -> int:
    data = args.data
    if reading_options(args):  # read here with the user's encoding / delimiter; the file keeps its name
        from ..data import read_table

        data = read_table(args.data, **reading_options(args))
    result = evaluate_ood(_run(args), data, name=args.name, text_column=args.text_column,
                          label_column=args.label_column, label_map=dict(args.map), device=args.device,
                          reuse=not args.fresh)
    if args.json:
        print_json(result.to_dict())
        return 0
    ood, ind = result.out_of_domain, result.in_domain
    print(f"run {result.run_id} ({result.method}, {result.model})")
    print(f"  in-domain      accuracy {percent(ind.get('accuracy'))}  macro-F1 {ind.get('macro_f1') or 0:.3f}  "
          f"({ind.get('n')} test rows of {ind.get('data_name')})")
    print(f"  out-of-domain  accuracy {percent(ood['accuracy'])}  macro-F1 {ood['macro_f1']:.3f}  "
          f"({result.n} rows of {result.data_name})")
    if result.gap_accuracy is not None:
        print(f"  gap            {100 * result.gap_accuracy:+.1f} points of accuracy")
    if result.label_mapping:
        print("  labels mapped: " + ", ".join(f"{k} -> {v}" for k, v in result.label_mapping.items()))
    for note in result.notes():
        print(f"warning: {note}", file=sys.stderr)
    return 0


def cmd_slices(args) -> int:
    from ..data import read_table

    source = read_table(args.data, **reading_options(args)) if args.data else None
    column = args.column
    if column in ("length", TEXT_LENGTH) and (source is None or column not in source.columns):
        column = TEXT_LENGTH
    report = slice_metrics(_run(args), column, source, text_column=args.text_column, min_size=args.min_size,
                           source_name=args.data or "")
    if args.json:
        print_json(report.to_dict())
        return 0
    print(f"run {report.run_id} ({report.method}, {report.model}) by {report.column}: {report.n_matched} of "
          f"{report.n_test} test rows placed" + (f", {report.n_unmatched} not found in the file" if report.n_unmatched
                                                 else "")
          + (f", {report.n_ambiguous} ambiguous" if report.n_ambiguous else ""))
    width = max([len(r.value) for r in report.rows] + [5])
    print(f"  {'slice'.ljust(width)}  {'rows':>5}  {'accuracy':>8}  {'macro-F1':>8}  {'errors':>7}")
    for r in report.rows:
        flag = "  <- worst" if r.value == report.worst else f"  (too small to judge: < {report.min_size} rows)" \
            if r.too_small else ""
        print(f"  {r.value.ljust(width)}  {r.n:>5}  {percent(r.accuracy):>8}  {r.macro_f1:>8.3f}  "
              f"{percent(r.error_rate):>7}{flag}")
    return 0


def cmd_probe(args) -> int:
    if args.show < 0:
        raise ConfigError(f"--show must be 0 or more, not {args.show}.")
    pairs = parse_pairs(args.pairs) if args.pairs is not None else DEFAULT_PAIRS
    run, texts, source = _run(args), None, None
    if args.data:
        from ..data import read_table
        from ..use.predict import _texts, choose_text_column

        frame = read_table(args.data, **reading_options(args))
        column = choose_text_column(frame, args.text_column, run.config().get("text_column"), name=args.data)
        texts, source = _texts(frame[column])[0], args.data
    result = probe_counterfactual(run, pairs, texts, source=source, device=args.device,
                                  reuse=not args.fresh)
    if args.json:
        print_json(result.to_dict())
        return 0
    where = "its test split" if result.source == "test split" else result.source
    print(f"run {result.run_id} ({result.method}, {result.model}) on {where}: "
          f"{result.n_affected} of {result.n_texts} texts contain a term")
    if result.n_affected:
        print(f"  flipped {result.n_flipped} ({percent(result.flip_rate)}); mean |change in confidence| "
              f"{result.mean_abs_delta:.3f} (signed {result.mean_delta:+.3f})")
    for item in result.flipped[:args.show]:
        print(f"  {item['before']} -> {item['after']} ({item['delta']:+.2f}): {item['swapped']}")
    return 0


def cmd_footprint(args) -> int:
    from ..runs.store import as_run

    values = {"cpu_watts_per_core": args.watts_per_core, "gpu_watts": args.gpu_watts, "grid_g_per_kwh": args.grid,
              "watts": args.watts}
    if args.cores:
        values["cpu_cores"] = args.cores
    assumptions = FootprintAssumptions(**values)
    footprints = [compute_footprint(as_run(run, args.runs_dir), assumptions) for run in args.run]
    if args.json:
        payload = [f.to_dict() for f in footprints]
        print_json({"assumptions": assumptions.to_dict(), "runs": payload,
                     "comparison": compare_compute(footprints)} if len(payload) > 1 else
                    {**payload[0], "assumptions": assumptions.to_dict()})
        return 0
    for f in footprints:
        print(f"run {f.run_id} ({f.method}, {f.model}): accuracy {percent(f.accuracy)}, trainable "
              f"{f.trainable_params:,} of {f.total_params:,} params")
        print(f"  training {flops_text(f.training_flops)}, test prediction {flops_text(f.prediction_flops)} "
              f"[{f.flops_formula}; {f.train_tokens:.1f} tokens per training text]")
        print(f"  wall {f.wall_seconds:.1f} s x {f.power_basis} = {1000 * f.energy_kwh:.3f} Wh -> "
              f"{f.co2e_g:.3f} g CO2e at {f.grid_g_per_kwh:g} g/kWh")
    for line in compare_compute(footprints):
        print(line)
    return 0


CHECK_COMMANDS = {"evaluate": cmd_evaluate, "slices": cmd_slices, "probe": cmd_probe, "footprint": cmd_footprint}


"""`tlcore sweep`: one method at every combination of a few option values, picked on validation rows.

tlcore sweep --train DATA [--test DATA] --model M --method M --grid lr=1e-4,3e-4,1e-3 epochs=3,10 [--json]

The runs go through ``execute_series`` (tlcore.runs.series) one after another in this process, as a best-method
search does. ``--json`` prints one document, ``SweepResult.to_dict``: sweep, method, model, varied (the option
names the grid varies), n_val, n_test, live, configurations (each: run_id, options, label, status, val_accuracy,
val_macro_f1, accuracy, accuracy_ci, macro_f1, train_seconds, error), picked, runner_up and best_on_test (a
configuration or null), paired (the pick against the runner-up on the test rows, as `tlcore compare` gives it, or
null), tie_broken_by_cost, caution (too few validation rows, or null) and summary (plain-words lines).

Exit codes: 0 with a pick; 2 for bad input, a bad grid included (one `error:` line, before any run is created);
1 when no configuration finished.

The data flags and the shared loading live in tlcore.cli.main, which hands them over (``add_sweep_parser``,
``cmd_sweep``), so this module needs no import of it.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable

from ..compare.sweep import MAX_SWEEP_RUNS, create_sweep, sweep_result
from ..engine.models import resolve_model
from ..errors import ConfigError
from ..runs.series import execute_series
from ..runs.store import RunConfig, RunStore
from .command import OPTION_FLAGS
from .output import print_json

DESCRIPTION = (
    "Runs one method at every combination of the --grid values (at most "
    f"{MAX_SWEEP_RUNS} runs) on one split, one after another, picks the configuration with the best validation "
    "accuracy (a tie goes to the cheaper one), and reports it on the test rows with a 95 % interval and a paired "
    "verdict against the runner-up. Options the grid does not vary come from the usual flags. --json prints one "
    "document: configurations (options, validation and test scores, run ids), picked, runner_up, best_on_test, "
    "paired, caution and summary.")


def add_sweep_parser(sub, add_data_args: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add `tlcore sweep` to the `tlcore` parser's subparsers; ``add_data_args`` gives the usual run flags."""
    p = sub.add_parser("sweep", help="run one method over a grid of option values, pick on validation rows",
                       description=DESCRIPTION)
    add_data_args(p)
    p.add_argument("--method", help="see `tlcore methods`; required")
    p.add_argument("--grid", nargs="+", action="extend", default=[], metavar="NAME=V1,V2",
                   help="option values to try, e.g. --grid lr=1e-4,3e-4,1e-3 epochs=3,10 (the method's option "
                        "names, see `tlcore methods --json`; repeatable); required")


def _given_by_flag(args) -> set[str]:
    """Options the user set with a flag of their own or --option (the grid may not set them again)."""
    given = {name for name, flag in OPTION_FLAGS.items() if getattr(args, flag[2:].replace("-", "_"), None) is not None}
    return given | {name for name, _ in getattr(args, "option", [])}


def cmd_sweep(args, apply_config: Callable, load: Callable, options: Callable) -> int:
    """The sweep: ``apply_config``, ``load`` and ``options`` are tlcore.cli.main's config-file, data and option
    helpers (shared by every command that runs)."""
    apply_config(args)
    if not args.grid:
        raise ConfigError("a sweep needs --grid, e.g. --grid lr=1e-4,3e-4,1e-3 epochs=3,10.")
    twice = sorted({item.partition("=")[0].strip() for item in args.grid} & _given_by_flag(args))
    if twice:
        raise ConfigError(f"{', '.join(twice)} is given both by a flag and in --grid; give it in one place.")
    from ..compare.sweep import parse_grid

    base_options = options(args, args.method, True)
    grid = parse_grid(args.grid, args.method, resolve_model(args.model).kind, base_options)  # before reading data
    data, test, val = load(args)
    base = RunConfig(model=args.model, method=args.method, method_options=base_options,
                     data_name=Path(args.train).name, text_column=args.text_column, label_column=args.label_column,
                     test_size=args.test_size, split_seed=args.split_seed, per_class=args.per_class,
                     device=args.device, val_size=args.val_size, test_name=Path(args.test).name if args.test else None,
                     val_name=Path(args.val).name if args.val else None,
                     **({"precision": args.precision} if getattr(args, "precision", None) else {}))
    runs = create_sweep(base, data, grid, test, val, RunStore(args.runs_dir), seed=args.seed)
    echo = None if args.quiet else (lambda m: print(f"[sweep] {m}", file=sys.stderr, flush=True))
    if echo:
        echo(f"{len(runs)} configurations of {args.method} on {args.model}, sweep {runs[0].config()['sweep']}")
    execute_series(runs, echo=echo)
    result = sweep_result(runs)
    if args.json:
        print_json(result.to_dict())
        return 0 if result.picked else 1
    picked = result.picked.run_id if result.picked else None
    rows = [(c.label, f"{c.val_accuracy:.3f}" if c.val_accuracy is not None else "–",
             f"{c.accuracy:.3f}" if c.accuracy is not None else (c.error or c.status)[:60], c.run_id,
             "← picked" if c.run_id == picked else "") for c in result.configurations]
    header = ("configuration", "validation", "test", "run", "")
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip())
    print("\n".join(result.summary))
    return 0 if result.picked else 1

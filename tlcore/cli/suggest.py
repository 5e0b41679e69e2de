"""`tlcore suggest`: the unlabeled texts a finished run's model would learn most from, to label next.

tlcore suggest --run RUN --pool FILE [--text-column C] [--label-column C] [--n 20]
               [--strategy margin|margin+diversity|entropy|random] [--seed S] [--json]

The pool is a data file: every row, or, when it has a label column (--label-column, else the run's own label
column or one named label/labels), the rows whose label is empty. Empty texts, repeats and texts the run already
has a label for are skipped and counted.

``--json`` prints one document::

    {"run_id": str, "strategy": str, "labels": [str], "pool_file": str, "text_column": str,
     "label_column": str | null, "pool": int (texts in the pool), "labeled_rows": int (file rows left out because
     they have a label), "ranked": int, "skipped": {"empty": int, "duplicate": int, "labeled": int},
     "suggestions": [{"rank": 1.., "row": int (the file's row number), "index": int (position in the pool),
                      "text", "predicted", "confidence", "score", "reason"}]}

Exit codes: 0 with suggestions; 2 for bad input (one `error:` line: unknown run, a run that did not succeed, a
missing file or column, nothing left to suggest); 1 for an internal failure.
"""
from __future__ import annotations

import argparse

from ..methods.base import MAX_SEED
from ..use.suggest import STRATEGIES, read_pool, suggest_report
from .arg_types import add_reading_args, device_name, positive_int, reading_options, whole_number
from .output import ProgressPrinter, print_json, table

DESCRIPTION = (
    "Ranks a pool of unlabeled texts by how unsure a finished run's model is about them (margin between the two "
    "likeliest labels, or entropy) and, by default, keeps a diverse batch of the most uncertain (k-center on "
    "sentence embeddings), so the texts you label next teach the model most. Texts the run already has a label "
    "for, repeats and empty texts are never suggested. --json prints one document: suggestions (rank, file row, "
    "text, predicted, confidence, score, reason) and what was skipped.")
TEXT_WIDTH = 70  # characters of each text in the table; --json has them whole


def add_suggest_parser(sub) -> None:
    """Add `tlcore suggest` to the `tlcore` parser's subparsers."""
    p = sub.add_parser("suggest", help="which unlabeled texts to label next, from a finished run",
                       description=DESCRIPTION)
    p.add_argument("--run", required=True, help="run id (see `tlcore runs`) or run folder; it must have succeeded")
    p.add_argument("--pool", required=True, help="data file of texts to choose from (CSV, TSV, JSONL, JSON, XLSX, "
                                                 "Parquet); rows with a label are left out")
    add_reading_args(p)
    p.add_argument("--text-column", help="column with the text (default: the run's, else guessed)")
    p.add_argument("--label-column", help="column whose empty cells mark the rows to choose from (default: the "
                                          "run's label column or one named label, when the file has it)")
    p.add_argument("--n", type=positive_int, default=20, help="how many texts to suggest (default 20)")
    p.add_argument("--strategy", choices=STRATEGIES, default=STRATEGIES[0],
                   help="margin (default): the texts whose two likeliest labels are closest; margin+diversity: a "
                        "diverse batch of the least certain texts; entropy: the most spread-out probabilities; "
                        "random: the baseline")
    p.add_argument("--seed", type=lambda text: whole_number(text, 0, MAX_SEED), default=0,
                   help="seed of the random strategy (default 0)")
    p.add_argument("--device", type=device_name, help="auto, cpu, cuda, cuda:N or mps")
    p.add_argument("--runs-dir", default=None, help="where run folders are (default ./runs or $TLCORE_RUNS_DIR)")
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")


def cmd_suggest(args: argparse.Namespace) -> int:
    pool = read_pool(args.pool, args.text_column, args.label_column, run=args.run, runs_dir=args.runs_dir,
                     **reading_options(args))
    report = suggest_report(args.run, pool.texts, args.n, args.strategy, args.seed, runs_dir=args.runs_dir,
                            device=args.device or "auto", callback=None if args.quiet else ProgressPrinter())
    rows = [{"rank": rank, "row": pool.rows[s.index], **s.to_dict()}
            for rank, s in enumerate(report.suggestions, start=1)]
    if args.json:
        document = report.to_dict()
        document.update(pool_file=str(args.pool), text_column=pool.text_column, label_column=pool.label_column,
                        labeled_rows=pool.labeled_rows, suggestions=rows)
        print_json(document)
        return 0
    print(table([{"#": r["rank"], "row": r["row"], "predicted": r["predicted"], "conf.": f"{r['confidence']:.2f}",
                  "text": _short(r["text"]), "why": r["reason"]} for r in rows],
                ("#", "row", "predicted", "conf.", "text", "why")))
    skipped = {"empty": report.skipped_empty, "repeated": report.skipped_duplicate,
               "already labeled in the run": report.skipped_labeled}
    note = ", ".join(f"{count} {why}" for why, count in skipped.items() if count)
    print(f"{len(rows)} of {report.ranked} pool texts suggested by run {report.run_id} ({report.strategy})"
          + (f"; skipped {note}" if note else "") + ".")
    return 0


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= TEXT_WIDTH else text[:TEXT_WIDTH - 1] + "…"

"""`tlcore label-issues`: rows whose label looks wrong, with the label the model suggests and its confidence.

tlcore label-issues --data FILE [--text-column C] [--label-column C] [--model minilm] [--folds 5] [--json]

``--json`` prints one document, ``LabelIssueReport.to_dict`` (tlcore.compare.label_issues) plus the file: data,
text_column, label_column, n_rows, n_checked, n_issues, labels, model, folds, agreement (share of rows whose
out-of-sample prediction is their label), method, seconds, skipped_classes, summary (plain-words lines) and issues,
most suspicious first, each: rank, row (the table row, from 0, header not counted), file_row (the row number as
the file shows it: a spreadsheet's row, a JSONL line), text, given, suggested, confidence (the model's
out-of-sample probability of the suggested label) and given_probability.

Exit codes: 0 (whether or not issues were found); 2 for bad input (one `error:` line).
"""
from __future__ import annotations

import sys

from ..compare.label_issues import MAX_FOLDS, find_label_issues
from ..data import guess_columns, read_table, row_numbers, to_labeled
from ..data.versions import labeled_rows
from .arg_types import add_reading_args, device_name, reading_options, whole_number
from .output import print_json, table

DESCRIPTION = (
    "Finds rows whose label looks wrong: every labeled row gets an out-of-sample probability (the model's frozen "
    "sentence vectors and a logistic regression, stratified k-fold), then confident learning (cleanlab) lists the "
    "rows that fit their label worst, with the label the model suggests and its confidence, most suspicious first. "
    "Nothing is changed: fix the rows in the app's Label page (which saves a new version of the file) or by hand.")


def _folds(text: str) -> int:
    return whole_number(text, 2, 20)


def add_label_issues_parser(sub) -> None:
    """Add `tlcore label-issues` to the `tlcore` parser's subparsers."""
    p = sub.add_parser("label-issues", help="list rows whose label looks wrong, with a suggested label",
                       description=DESCRIPTION)
    p.add_argument("--data", required=True, metavar="FILE",
                   help="labeled data file (CSV, TSV, JSONL, JSON, XLSX, Parquet); required")
    p.add_argument("--text-column", help="column with the text (default: guessed)")
    p.add_argument("--label-column", help="column with the label (default: guessed)")
    add_reading_args(p)
    p.add_argument("--model", default="minilm", help="model whose sentence vectors check the labels: minilm "
                                                     "(default), smollm2-135m or a local model folder")
    p.add_argument("--folds", type=_folds, default=MAX_FOLDS,
                   help=f"folds of the out-of-sample check, 2 to 20 (default {MAX_FOLDS}; fewer when a class has "
                        "fewer rows)")
    p.add_argument("--seed", type=lambda t: whole_number(t, 0, 2**31 - 1), default=0, help="fold seed (default 0)")
    p.add_argument("--device", type=device_name, default="auto", help="auto (default), cpu, cuda, cuda:N or mps")
    p.add_argument("--limit", type=lambda t: whole_number(t, 1, 10**9), default=50,
                   help="rows to print without --json (default 50; --json lists all)")
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")


def cmd_label_issues(args) -> int:
    frame = read_table(args.data, **reading_options(args))
    if args.text_column is None or args.label_column is None:
        guessed_text, guessed_label = guess_columns(frame)
        args.text_column = args.text_column or guessed_text
        args.label_column = args.label_column or guessed_label
    data = to_labeled(frame, args.text_column, args.label_column, name=args.data)
    rows = labeled_rows(frame, args.text_column, args.label_column)
    file_rows = row_numbers(frame)
    shown: dict[str, int] = {}

    def progress(stage: str, done: int, total: int) -> None:
        percent = 100 * done // max(total, 1)
        if not args.quiet and (stage not in shown or percent >= shown[stage] + 25 or done == total):
            shown[stage] = percent
            print(f"[label-issues] {stage} {done}/{total}", file=sys.stderr, flush=True)

    report = find_label_issues(data, args.model, rows=rows, folds=args.folds, seed=args.seed, device=args.device,
                               progress=progress)
    payload = {"data": args.data, "text_column": args.text_column, "label_column": args.label_column,
               **report.to_dict()}
    for issue in payload["issues"]:
        issue["file_row"] = file_rows[issue["row"]]
    if args.json:
        print_json(payload)
        return 0
    print("\n".join(report.summary()))
    if report.issues:
        print(table([{"rank": i["rank"], "row": i["file_row"], "given": i["given"], "suggested": i["suggested"],
                      "confidence": f"{i['confidence']:.2f}", "text": " ".join(i["text"].split())[:70]}
                     for i in payload["issues"][:args.limit]],
                    ("rank", "row", "given", "suggested", "confidence", "text")))
        if len(report.issues) > args.limit:
            print(f"... and {len(report.issues) - args.limit} more (--limit, or --json for all)")
    return 0

"""Run every benchmark: `.venv/bin/python bench/run_all.py [--quick] [--only a,b] [--readme]`.

Prints one report (the machine, each benchmark's table, every target met or missed) and writes
bench/results/<name>.json per benchmark plus bench/results/report.md. With --readme the report also
replaces the generated block of bench/README.md. --quick is a few-minute smoke version (smaller
workloads, fewer cells); its numbers are indicative only.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

BENCHMARKS = ("throughput", "kv_cache", "first_result", "precision", "memory", "portfolio_time", "accuracy")
BEGIN, END = "<!-- bench:begin (written by run_all.py --readme) -->", "<!-- bench:end -->"


def report(machine: dict, results: list[dict], quick: bool, seconds: float) -> str:
    lines = [f"Measured {time.strftime('%Y-%m-%d %H:%M')} with `bench/run_all.py{' --quick' if quick else ''}` "
             f"in {seconds / 60:.1f} min on: {machine['cpu']}, {machine.get('physical_cores')} cores "
             f"({machine['logical_cpus']} logical, {', '.join(machine.get('simd', []))}), torch {machine['torch']} "
             f"on {machine['threads_used']} of its {machine['torch_threads']} threads (TLCORE_THREADS), transformers "
             f"{machine['transformers']}, peft {machine['peft']}, Python {machine['python']}; load average "
             f"{machine['load_average_at_start']} at the start.", ""]
    headline = [t for result in results for t in result["targets"] if t.get("headline")]
    if headline:  # issue 22's speed targets first: each against a reference measured in this same run
        lines += ["**Speed targets (issue 22)**", "", "| target | met | measured | note |", "|---|---|---|---|"]
        lines += [_target_row(t) for t in headline]
        lines += ["", "**Every target**", ""]
    lines += ["| target | met | measured | note |", "|---|---|---|---|"]
    for result in results:
        for t in result["targets"]:
            lines.append(_target_row(t))
    for result in results:
        lines += ["", f"### {result['title']}", "", result["table"]]
    return "\n".join(lines) + "\n"


def _target_row(t: dict) -> str:
    met = "–" if t["met"] is None else ("yes" if t["met"] else "**no**")
    return f"| {t['target']} | {met} | {t['measured']} | {t['note']} |"


def update_readme(text: str) -> None:
    readme = common.BENCH / "README.md"
    content = readme.read_text()
    if BEGIN not in content or END not in content:
        raise common.BenchError(f"{readme} lacks the markers {BEGIN} ... {END}")
    head, rest = content.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(head + BEGIN + "\n" + text + END + tail)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="TransferLab CPU benchmarks: throughput, KV cache, time to first "
                                                 "result, precision, memory, time to a verdict, accuracy.")
    parser.add_argument("--quick", action="store_true", help="a few-minute smoke version with small workloads")
    parser.add_argument("--only", help=f"comma-separated subset of: {', '.join(BENCHMARKS)}")
    parser.add_argument("--readme", action="store_true", help="write the report into bench/README.md")
    args = parser.parse_args(argv)
    chosen = [b.strip() for b in args.only.split(",")] if args.only else list(BENCHMARKS)
    unknown = [b for b in chosen if b not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    common.RESULTS.mkdir(parents=True, exist_ok=True)
    machine = common.machine()
    # One thread count for every cell, so that ratios between cells compare like with like: every core torch
    # sees (a benchmark wants an idle machine; the load average at the start is in the report), unless
    # TLCORE_THREADS is set. tlcore's own choice from the cores left free would take the load average left
    # over from earlier work for other processes and measure on fewer cores than the machine has.
    os.environ.setdefault("TLCORE_THREADS", str(machine["torch_threads"]))
    machine["threads_used"] = int(os.environ["TLCORE_THREADS"])
    started = time.perf_counter()
    results = []
    for name in chosen:
        module_started = time.perf_counter()
        result = __import__(name).run(quick=args.quick)
        result["seconds"] = time.perf_counter() - module_started
        result["quick"] = args.quick
        result["machine"] = machine
        common.say(f"{name}: {result['seconds']:.0f} s")
        (common.RESULTS / f"{name}{'_quick' if args.quick else ''}.json").write_text(
            json.dumps(result, indent=2, default=str))
        results.append(result)
    text = report(machine, results, args.quick, time.perf_counter() - started)
    (common.RESULTS / f"report{'_quick' if args.quick else ''}.md").write_text(text)
    print(text)
    if args.readme:
        update_readme(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

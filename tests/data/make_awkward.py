"""Write the corpus of awkward data files in tests/data/awkward/ (run from anywhere; deterministic).

    python tests/data/make_awkward.py [OUT_DIR]

Each file is small and imitates something an analyst really has: an Excel export in UTF-16 or
Windows-1252, a semicolon CSV, a JSONL file with a cut-off line, an HTML page saved as .csv, a label
column of scores, and so on. The texts are real review sentences and SMS messages from the samples
bundled with tlcore (tlcore/data/bundled, see SAMPLES.md for their sources). What each file must do
(load with N rows, fail with a given message, or raise a given validation issue) is tested in
tests/test_awkward_files.py. The 50 MB and over-100 MB files are made by that test in a temporary
folder, never committed.
"""
from __future__ import annotations

import csv
import gzip
import io
import json
import random
import sys
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "tlcore" / "data" / "bundled"
OUT = Path(__file__).resolve().parent / "awkward"


def _sample(file: str) -> list[tuple[str, str]]:
    with open(SAMPLES / file, encoding="utf-8", newline="") as handle:
        return [(row["text"], row["label"]) for row in csv.DictReader(handle)]


YELP = _sample("yelp_reviews.csv")
SMS = _sample("sms_spam_sample.csv")


def balanced(rows: list[tuple[str, str]], per_class: int, skip: int = 0) -> list[tuple[str, str]]:
    """The first ``per_class`` rows of each label (after ``skip`` of each), alternating labels."""
    by_label: dict[str, list[tuple[str, str]]] = {}
    for text, label in rows:
        by_label.setdefault(label, []).append((text, label))
    columns = [v[skip:skip + per_class] for _, v in sorted(by_label.items())]
    return [row for group in zip(*columns) for row in group]


BASE = balanced(YELP, 20)            # 40 rows, 20 positive / 20 negative
OTHER = balanced(YELP, 10, skip=40)  # 20 different rows


def csv_text(rows, header=("text", "label"), delimiter=",", newline="\n") -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator=newline, quoting=csv.QUOTE_MINIMAL)
    if header:
        writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def write(name: str, data: str | bytes, encoding: str = "utf-8") -> None:
    path = OUT / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode(encoding))


def xlsx(sheets: dict[str, list[list]]) -> bytes:
    import openpyxl

    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    fixed = datetime(2024, 1, 1)
    book.properties.created = book.properties.modified = fixed
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def parquet(rows, columns=("text", "label")) -> bytes:
    import pandas as pd

    buffer = io.BytesIO()
    pd.DataFrame(rows, columns=list(columns)).to_parquet(buffer, index=False)
    return buffer.getvalue()


def records(rows) -> list[dict]:
    return [{"text": text, "label": label} for text, label in rows]


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    rng = random.Random(0)

    # -- formats and delimiters that load -------------------------------------------------------------------
    write("comma_ok.csv", csv_text(BASE))
    write("semicolon.csv", csv_text([(i + 1, t, l) for i, (t, l) in enumerate(BASE)], ("id", "review", "label"), ";"))
    write("pipe_separated.txt", csv_text(BASE, delimiter="|"))
    write("tab_separated.tsv", csv_text(BASE, delimiter="\t"))
    write("tab_in_csv_named.csv", csv_text(BASE, delimiter="\t"))
    write("duplicate_column_names.csv", csv_text([(t, t.upper(), l) for t, l in BASE], ("text", "text", "label")))
    write("numbers_as_labels.csv", csv_text([(t, "1" if l == "positive" else "0") for t, l in BASE]))
    # -- encodings ------------------------------------------------------------------------------------------
    accented = [row for row in YELP if any(ord(c) > 127 for c in row[0])]
    curly = [(t.replace("'", "\u2019"), l) for t, l in BASE]
    write("utf8_bom.csv", "\ufeff" + csv_text(accented + BASE))
    # Excel "Unicode Text": UTF-16 little-endian with a byte-order mark, tab-separated, CRLF.
    write("utf16_excel_unicode.txt", "\ufeff" + csv_text(accented + curly, delimiter="\t", newline="\r\n"),
          "utf-16-le")
    write("utf16_no_bom.csv", csv_text(BASE), "utf-16-le")
    write("cp1252_excel.csv", csv_text(accented + curly, newline="\r\n"), "cp1252")
    # -- line endings, quoting, scripts ---------------------------------------------------------------------
    endings = ["\r\n", "\n", "\r"]
    lines = csv_text(BASE).splitlines()
    write("mixed_line_endings.csv", "".join(line + endings[i % 3] for i, line in enumerate(lines)))
    joined = [(f"{a}\n{b}", la) for (a, la), (b, _) in zip(BASE[:20], BASE[20:])]
    write("quoted_newlines.csv", csv_text(joined + [(f"{t}\r\n\r\n-- sent from my phone", l) for t, l in BASE[1:8:2]]))
    smileys = ["😍", "👍", "🙂", "😡", "🤮", "👎🏽", "🍕🍺", "❤️"]
    write("emoji.csv", csv_text([(f"{t} {smileys[i % 8]}", l) for i, (t, l) in enumerate(BASE)]))
    # Short restaurant reviews in Arabic and Hebrew (written for this corpus), right to left.
    rtl = [("الطعام كان لذيذا جدا والخدمة ممتازة", "positive"), ("المكان نظيف والموظفون لطفاء", "positive"),
           ("سأعود مرة أخرى بالتأكيد، أنصح به", "positive"), ("الطعام بارد والانتظار طويل", "negative"),
           ("الأسعار مرتفعة جدا مقابل الجودة", "negative"), ("لن أعود إلى هذا المطعم أبدا", "negative"),
           ("האוכל היה טעים מאוד והשירות מצוין", "positive"), ("מקום נעים, נחזור בשמחה", "positive"),
           ("המלצר היה אדיב ומהיר", "positive"), ("האוכל הגיע קר ואחרי שעה", "negative"),
           ("יקר מדי ולא טעים", "negative"), ("השירות היה איטי וגס", "negative")]
    write("rtl_arabic_hebrew.csv", csv_text(rtl + [(f"{t} (ok)", l) for t, l in BASE[:8]]))
    # -- files that are not usable tables -------------------------------------------------------------------
    write("empty.csv", b"")
    write("whitespace_only.csv", "\n \n\t\n")
    write("header_only.csv", "text,label\n")
    write("binary_junk.csv", bytes(rng.randrange(256) for _ in range(4096)))
    write("html_page.csv", "<!DOCTYPE html>\n<html lang=\"en\">\n<head><title>Sign in</title></head>\n<body>\n"
                           "<form action=\"/login\" method=\"post\"><input name=\"user\"><input type=\"password\" "
                           "name=\"pass\"><button>Sign in to download reviews.csv</button></form>\n</body>\n</html>\n")
    prose = []
    texts = [t for t, _ in YELP[100:160]]
    for start in range(0, len(texts), 6):
        prose.append(" ".join(texts[start:start + 6]))
    write("prose.txt", "\n\n".join(prose) + "\n")
    write("gzipped.csv", gzip.compress(csv_text(BASE).encode(), mtime=0))
    write("old_excel.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504) + b"Workbook")
    workbook = xlsx({"Sheet1": [["text", "label"], *[list(r) for r in BASE]]})
    write("workbook_renamed.csv", workbook)
    write("csv_renamed.xlsx", csv_text(BASE))
    # -- malformed rows -------------------------------------------------------------------------------------
    ragged = csv_text(BASE).splitlines()
    ragged[5] = f"{BASE[4][0].replace(',', '')}, really,{BASE[4][1]}"  # unquoted comma: 3 fields
    ragged[9] = f"Good food, good service, good price,{BASE[8][1]}"
    write("ragged_unquoted_commas.csv", "\n".join(ragged) + "\n")
    write("mostly_ragged.csv", "text,label\n" + "".join(f"{t},{l}\n" for t, l in BASE if "," in t)
          + "".join(f"{t}, and more, and more,{l}\n" for t, l in BASE[:20]))
    unclosed = csv_text(BASE[:20]).splitlines()
    unclosed[7] = '"' + unclosed[7]  # a quote opened and never closed
    write("unclosed_quote.csv", "\n".join(unclosed) + "\n")
    blank = csv_text(BASE[:12]).splitlines()
    blank[3] = blank[3].rsplit(",", 1)[0] + ","  # row 4: no label
    write("blank_lines.csv", "\n".join(blank[:5]) + "\n\n\n" + "\n".join(blank[5:]) + "\n")
    # -- Excel and Parquet ----------------------------------------------------------------------------------
    notes = [["Reviews export"], ["Exported from the survey tool, see the Data sheet."], ["Contact: analytics team"]]
    write("two_sheets.xlsx", xlsx({"Notes": notes, "Data": [["text", "label"], *[list(r) for r in BASE]]}))
    write("data.parquet", parquet(BASE))
    write("damaged.parquet", parquet(BASE)[:-300])
    # -- JSON and JSON Lines --------------------------------------------------------------------------------
    jsonl = [json.dumps(r, ensure_ascii=False) for r in records(BASE)]
    jsonl.insert(17, jsonl[17][: len(jsonl[17]) // 2])  # a line cut off in the middle
    write("broken_line.jsonl", "\n".join(jsonl) + "\n")
    write("records.json", json.dumps(records(BASE), ensure_ascii=False, indent=2))
    write("wrapped_data.json", json.dumps({"meta": {"source": "yelp", "exported": "2024-01-01"},
                                           "data": records(BASE)}, ensure_ascii=False, indent=2))
    write("columns.json", json.dumps({"text": [t for t, _ in BASE], "label": [l for _, l in BASE]}, ensure_ascii=False))
    write("dict_of_lists.json", json.dumps({"positive": [t for t, l in BASE if l == "positive"],
                                            "negative": [t for t, l in BASE if l == "negative"][:7]},
                                           ensure_ascii=False, indent=2))
    write("json_lines_named.json", "\n".join(json.dumps(r, ensure_ascii=False) for r in records(BASE)) + "\n")
    write("scalar_list.json", json.dumps([t for t, _ in BASE], ensure_ascii=False))
    write("truncated.json", json.dumps(records(BASE), ensure_ascii=False, indent=2)[:1500])
    # -- readable tables with problems the validation report names -----------------------------------------
    scores = [(t, f"{(0.55 + 0.4 * rng.random()) if l == 'positive' else (0.05 + 0.4 * rng.random()):.2f}")
              for t, l in BASE]
    write("float_labels.csv", csv_text(scores, ("text", "score")))
    write("single_class.csv", csv_text([(t, l) for t, l in YELP if l == "positive"][:30]))
    missing = [list(r) for r in BASE]
    missing[3][0] = ""
    missing[10][0] = "   "
    missing[6][1] = ""
    missing[21][1] = ""
    missing[30][1] = ""
    write("missing_values.csv", csv_text(missing))
    dup = list(BASE) + [BASE[0], BASE[5], (BASE[7][0].upper() + "!!", BASE[7][1]),
                        ("  " + BASE[9][0].lower().rstrip(".!") + "  ", BASE[9][1])]
    write("duplicates.csv", csv_text(dup))
    conflict = list(BASE) + [(BASE[2][0], "positive" if BASE[2][1] == "negative" else "negative"),
                             (BASE[11][0].lower(), "positive" if BASE[11][1] == "negative" else "negative")]
    write("conflicting_labels.csv", csv_text(conflict))
    spellings = ["positive", "Positive", "positive ", "positive", "POSITIVE"]
    variants = [(t, spellings[(i // 2) % 5] if l == "positive" else "negative") for i, (t, l) in enumerate(BASE)]
    write("label_variants.csv", csv_text(variants))
    ham = [r for r in SMS if r[1] == "ham"][:45]
    spam = [r for r in SMS if r[1] == "spam"][:5]
    write("imbalanced.csv", csv_text(ham[:15] + spam[:2] + ham[15:30] + spam[2:] + ham[30:]))
    write("tiny_class.csv", csv_text(BASE + [(YELP[500][0], "neutral")]))
    topics = ["food", "service", "price", "ambience", "drinks", "location", "cleanliness", "wait", "staff",
              "dessert", "parking", "music"]
    write("many_classes.csv", csv_text([(t, topics[i % len(topics)]) for i, (t, _) in enumerate(BASE[:30])]))
    long_rows = [(" ".join(t for t, _ in YELP[200 + 12 * i: 212 + 12 * i]), l) for i, (_, l) in enumerate(BASE[:10])]
    write("long_texts.csv", csv_text(long_rows + BASE[10:30]))
    huge = " ".join(t for t, _ in YELP) * 1
    write("very_long_cell.csv", csv_text([(huge[:25_000], "positive")] + BASE[1:]))
    write("no_header.csv", csv_text(BASE, header=None))
    write("one_column.csv", csv_text([(t,) for t, _ in BASE], header=("text",)))
    # -- a training file with a test file -------------------------------------------------------------------
    write("leak_train.csv", csv_text(BASE))
    write("leak_test.csv", csv_text(OTHER[:15] + [BASE[1], BASE[4], (BASE[12][0].lower(), BASE[12][1])]))
    write("unseen_labels_test.csv", csv_text(OTHER[:12] + [(YELP[700][0], "neutral"), (YELP[701][0], "mixed")]))


if __name__ == "__main__":
    if len(sys.argv) > 1:
        OUT = Path(sys.argv[1])
    main()
    print(f"wrote {len(list(OUT.iterdir()))} files to {OUT}")

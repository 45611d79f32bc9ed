"""Print a markdown table of accuracy from one or more ``handocr eval --out FILE`` JSON files.

Usage: python scripts/results_table.py bench/results/eval_val.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def _num(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def table(results: dict) -> str:
    """The markdown table for one eval result file."""
    rows = [
        "| set | pages | det. precision | det. recall | mAP@0.5 | mAP@0.5:0.95 | line CER | line CER (no case) "
        "| line WER | page CER | page WER | order: pages in order | Kendall tau | ms/page (median / p95) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in results["sets"]:
        det, lines, page = s["detection"], s["lines_on_gt_boxes"], s["page_end_to_end"]
        order, latency = s.get("reading_order", {}), s["latency_ms"]
        cells = [
            f"{Path(s['dataset']).name} {s['split']}",
            str(s["pages"]),
            _num(det["precision"]),
            _num(det["recall"]),
            _num(det["map50"]),
            _num(det["map50_95"]),
            _pct(lines["cer"]),
            _pct(lines["cer_case_insensitive"]),
            _pct(lines["wer"]),
            _pct(page["cer"]),
            _pct(page["wer"]),
            _pct(order.get("pages_in_order")),
            _num(order.get("mean_kendall_tau")),
            f"{_num(latency['median'], 0)} / {_num(latency['p95'], 0)}",
        ]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


if __name__ == "__main__":
    for name in sys.argv[1:]:
        print(table(json.loads(Path(name).read_text())))

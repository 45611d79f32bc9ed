"""Print a markdown table of accuracy from one or more ``handocr eval --out FILE`` JSON files.

Usage: python scripts/results_table.py bench/results/eval_val.json

Three tables: accuracy per set (CERs and WERs with their 95% intervals over pages, where the
file has them); where the page CER is lost (recognizer alone, with the detector's
boxes, with our reading order); the ``needs_review`` figures (calibration, share flagged, errors caught).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def _rate(section: dict, key: str) -> str:
    """``section[key]`` as a percentage, with its 95% interval when the file has one (``KEY_ci95``)."""
    interval = section.get(f"{key}_ci95")
    if interval is None or section.get(key) is None:
        return _pct(section.get(key))
    return f"{_pct(section[key])} [{100 * interval[0]:.1f}, {100 * interval[1]:.1f}]"


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
            _rate(lines, "cer"),
            _pct(lines["cer_case_insensitive"]),
            _rate(lines, "wer"),
            _rate(page, "cer"),
            _rate(page, "wer"),
            _pct(order.get("pages_in_order")),
            _num(order.get("mean_kendall_tau")),
            f"{_num(latency['median'], 0)} / {_num(latency['p95'], 0)}",
        ]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def page_loss_table(results: dict) -> str:
    """The markdown table of page CER stage by stage: what the detector and the reading order add."""
    rows = [
        "| set | page CER on ground-truth boxes | + detected boxes (true order) | + our reading order |",
        "|---|---|---|---|",
    ]
    for s in results["sets"]:
        page = s["page_end_to_end"]
        if "cer_on_gt_boxes" not in page:
            continue
        cells = [
            f"{Path(s['dataset']).name} {s['split']}",
            _pct(page["cer_on_gt_boxes"]),
            _pct(page["cer_in_true_order"]),
            _pct(page["cer"]),
        ]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def review_table(results: dict) -> str:
    """The markdown table of the ``review`` figures: calibration and what the review flags catch."""
    rows = [
        "| set | line ECE | lines flagged | char. errors in them | CER of the rest | suggested line threshold "
        "| word ECE | words flagged | wrong words caught | wrong among the rest | suggested word threshold |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in results["sets"]:
        review = s.get("review")
        if not review or not review["lines"].get("n"):
            continue
        lines, words = review["lines"], review["words"]
        at_line, at_word = lines["at_threshold"], words.get("at_threshold", {})
        cells = [
            f"{Path(s['dataset']).name} {s['split']}",
            _num(lines["ece"]),
            f"{_pct(at_line['flagged'])} (< {at_line['threshold']})",
            _pct(at_line["errors_caught"]),
            _pct(at_line["cer_kept"]),
            _num(lines["suggested_threshold"], 2),
            _num(words.get("ece")),
            f"{_pct(at_word.get('flagged'))} (< {at_word.get('threshold')})",
            _pct(at_word.get("errors_caught")),
            _pct(at_word.get("wrong_among_kept")),
            _num(words.get("suggested_threshold"), 2),
        ]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


if __name__ == "__main__":
    for name in sys.argv[1:]:
        data = json.loads(Path(name).read_text())
        print(table(data))
        print()
        print(page_loss_table(data))
        print()
        print(review_table(data))

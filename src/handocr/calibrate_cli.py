"""``handocr calibrate``: fit a recognizer's character-confidence map on annotated pages.

The recognizer reads every line on its ground-truth box once; its own decoder (greedy, or beam
search with its language model, as ``model.json`` sets it; with language decoders, the one it picks
for each page as the reader does) gives the text, and a predicted character
is correct when an edit alignment matches it to the reference. An isotonic map from the raw
character confidence to the observed accuracy is fitted (:func:`fit_char_map`). Word confidences
(the product of their characters') and line confidences (their geometric mean) follow from the
mapped characters.

The report is honest about fitting and testing on the same split: it cross-fits by page (a map
fitted on every other page scores the rest, and the other way round). ``--write`` then stores the
map fitted on all the pages in the model's ``model.json`` (``char_calibration``).

Exit codes: 0 done; 2 usage error (no pages, unknown model, a recognizer without CTC posteriors).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path

from handocr.errors import HandocrError

EXIT_OK, EXIT_USAGE = 0, 2


def add_calibrate_command(sub: argparse._SubParsersAction) -> None:
    """Register ``calibrate``."""
    p = sub.add_parser("calibrate", help="fit the recognizer's confidence calibration on annotated pages")
    p.add_argument("--data", type=Path, action="append", required=True, help="dataset folder (repeatable)")
    p.add_argument("--split", default="val", help="split to fit on (default: val)")
    p.add_argument("--recognizer", default="line-recognizer", help="recognizer model name or folder")
    p.add_argument("--threads", type=int, help="ONNX Runtime threads (default: CPUs available)")
    p.add_argument("--out", type=Path, help="write the report JSON here")
    p.add_argument("--write", action="store_true", help="store the fitted map in the model's model.json")
    p.set_defaults(func=cmd_calibrate)


def cmd_calibrate(args: argparse.Namespace) -> int:
    """Fit, report and optionally store the character-confidence map."""
    try:
        report = calibrate(args.recognizer, args.data, args.split, threads=args.threads, write=args.write)
    except HandocrError as exc:
        print(f"handocr: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(format_report(report))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    return EXIT_OK


def calibrate(
    recognizer_name: str, folders: list[Path], split: str, threads: int | None = None, write: bool = False
) -> dict:
    """Fit the map on ``folders``' ``split``; return the cross-fit report (and store the map if ``write``)."""
    from handocr.datasets.collection import load_pages
    from handocr.evaluation.calibration_eval import char_map_report, collect_samples, fit_char_map
    from handocr.models import find_model, load_recognizer

    spec = find_model(recognizer_name)
    recognizer = load_recognizer(recognizer_name, threads=threads)
    decoder = getattr(recognizer, "decoder", None)
    if decoder is None or not hasattr(recognizer, "log_probs"):
        raise HandocrError(f"{spec.folder}: only CTC recognizers (ctc-onnx) have a character calibration")
    raw_decoder = replace(decoder, temperature=1.0, char_calibration=None)
    pages = load_pages(folders, split, prefer="pages")
    if not pages:
        raise HandocrError(f"no pages in the {split!r} split of {', '.join(map(str, folders))}")
    samples = collect_samples(recognizer, pages=pages)
    if not samples:
        raise HandocrError("no annotated lines with text on those pages")
    characters = recognizer.charset.characters
    raw_decoders = {None: raw_decoder} | {  # by language code (None: the general decoder)
        code: replace(d, temperature=1.0, char_calibration=None) for code, d in recognizer.language_decoders.items()
    }
    by_page: dict[str, list] = {}
    for sample in samples:
        by_page.setdefault(sample.page, []).append(sample.log_probs)
    page_language = {page: recognizer.page_language(log_probs) for page, log_probs in by_page.items()}
    decoder_of = {id(s.log_probs): raw_decoders[page_language[s.page]] for s in samples}  # as the reader picks
    decode = lambda log_probs, _chars: decoder_of[id(log_probs)](log_probs)  # noqa: E731 - the model's own
    report = char_map_report(samples, characters, decode)
    char_map = fit_char_map(samples, characters, decode)
    report.update(
        {
            "recognizer": str(spec.folder),
            "decoder": raw_decoder.method,
            "page_languages": dict(Counter(code or "any" for code in page_language.values())),
            "data": [str(f) for f in folders],
            "split": split,
            "char_calibration": char_map.to_dict(),
            "written": False,
        }
    )
    if write:
        settings_file = spec.folder / "model.json"
        settings = json.loads(settings_file.read_text())
        settings["char_calibration"] = char_map.to_dict()
        settings["calibration_fit_on"] = f"{', '.join(str(f) for f in folders)} [{split}], {len(samples)} lines"
        settings_file.write_text(json.dumps(settings, indent=2, ensure_ascii=False) + "\n")
        report["written"] = True
    return report


def format_report(report: dict) -> str:
    """A small table: ECE and mean confidence vs accuracy per level, before and after (held out)."""
    rows = [
        f"{report['recognizer']} ({report['decoder']} decoder): {report['pages']} pages, {report['lines']} lines "
        f"of {', '.join(report['data'])} [{report['split']}]",
        "pages read with the decoder of: "
        + ", ".join(f"{code} {n}" for code, n in sorted(report.get("page_languages", {}).items())),
        "two-fold cross-fit by page (each half scored with the map fitted on the other):",
        f"  {'level':<5} {'n':>7} {'accuracy':>9} {'conf before':>12} {'ECE before':>11} {'conf after':>11} "
        f"{'ECE after':>10}",
    ]
    for level in ("char", "word", "line"):
        b, a = report["before"][level], report["after"][level]
        if not b["n"]:
            continue
        rows.append(
            f"  {level:<5} {b['n']:>7} {b['accuracy']:>9.3f} {b['confidence']:>12.3f} {b['ece']:>11.4f} "
            f"{a['confidence']:>11.3f} {a['ece']:>10.4f}"
        )
    points = len(report["char_calibration"]["x"])
    rows.append(f"map fitted on all pages: {points} points" + ("; written to model.json" if report["written"] else ""))
    return "\n".join(rows)

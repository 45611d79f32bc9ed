"""Compare CTC decoders (greedy, beam, beam + character LM) on a dataset split: CER, WER, time per line.

    python scripts/decode_eval.py --data /work/shared/data/real/copiste --split val \
        --recognizer models/line-recognizer --lm models/languages/char-lm-cased.npz --limit-pages 5

The recognizer runs once per line (ground-truth boxes, as ``handocr eval`` does); every decoder then
reads the same log-probabilities. With ``--lexicon``, each beam + LM setting is also tried with each
``--oov-penalty`` (see :mod:`handocr.recognition.lexicon`). Prints a table and writes JSON
(``--out``). ``--calibration`` adds the expected calibration error of character, word and line
confidences (greedy text) before and after a temperature fitted on half of the pages and applied
to the other half, and with isotonic maps, for word confidence taken as the lowest or the product
of its characters' (see :mod:`handocr.evaluation.calibration_eval`). ``--half`` keeps every other
page, to tune the LM weights on one half of ``val`` and report on the other.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from pathlib import Path

import numpy as np

from handocr.evaluation.calibration_eval import LineSample, collect_samples, cross_fit_report
from handocr.evaluation.text_metrics import ErrorRate
from handocr.models import load_recognizer
from handocr.recognition.beam import beam_decode
from handocr.recognition.ctc import greedy_decode
from handocr.recognition.lexicon import Lexicon
from handocr.recognition.lm import CharNgramLM

RULES = ("min", "product")


def _decoders(args: argparse.Namespace, lm: CharNgramLM | None, lexicon: Lexicon | None = None) -> dict:
    out = {"greedy": lambda lp, chars: greedy_decode(lp, chars)}
    penalties = args.oov_penalty if lexicon is not None else [0.0]
    for width in args.beam_width:
        out[f"beam{width}"] = lambda lp, chars, w=width: beam_decode(
            lp, chars, beam_width=w, prune_threshold=args.prune_threshold
        )
        if lm is None:
            continue
        for alpha, beta, penalty in itertools.product(args.lm_weight, args.insertion_bonus, penalties):
            name = f"beam{width}+lm a={alpha} b={beta}" + (f" oov={penalty}" if lexicon is not None else "")
            out[name] = lambda lp, chars, w=width, a=alpha, b=beta, p=penalty: beam_decode(
                lp,
                chars,
                beam_width=w,
                lm=lm,
                lm_weight=a,
                insertion_bonus=b,
                prune_threshold=args.prune_threshold,
                lexicon=lexicon,
                oov_penalty=p,
            )
    return out


def evaluate_decoders(samples: list[LineSample], characters: str, decoders: dict) -> dict[str, dict]:
    """CER (case-sensitive and not), WER and median/mean ms per line of each decoder over ``samples``."""
    results = {}
    for name, decode in decoders.items():
        cer, cer_nocase, wer = ErrorRate(), ErrorRate(), ErrorRate()
        times = []
        for sample in samples:
            start = time.perf_counter()
            text = decode(sample.log_probs, characters).text
            times.append((time.perf_counter() - start) * 1000)
            cer.add(sample.reference, text)
            cer_nocase.add(sample.reference.lower(), text.lower())
            wer.add(sample.reference.split(), text.split())
        results[name] = {
            "cer": cer.value,
            "cer_case_insensitive": cer_nocase.value,
            "wer": wer.value,
            "ms_per_line_median": float(np.median(times)) if times else None,
            "ms_per_line_mean": float(np.mean(times)) if times else None,
        }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="dataset folder (ALTO or PAGE-XML)")
    parser.add_argument("--split", default="val")
    parser.add_argument("--recognizer", default="line-recognizer", help="model folder or name")
    parser.add_argument("--limit-pages", type=int, default=None)
    parser.add_argument("--lm", type=Path, default=None, help="character LM (.npz from handocr.recognition.lm)")
    parser.add_argument("--beam-width", type=int, nargs="*", default=[8])
    parser.add_argument("--lm-weight", type=float, nargs="*", default=[0.3, 0.6])
    parser.add_argument("--insertion-bonus", type=float, nargs="*", default=[0.0, 1.0])
    parser.add_argument("--lexicon", type=Path, default=None, help="word lexicon (from handocr.recognition.lexicon)")
    parser.add_argument("--oov-penalty", type=float, nargs="*", default=[-3.0], help="with --lexicon (zero or below)")
    parser.add_argument("--prune-threshold", type=float, default=1e-3, help="least probability to start a character")
    parser.add_argument(
        "--half",
        choices=["a", "b"],
        default=None,
        help="keep every other page (sorted by name; a: 1st, 3rd, ...): tune weights on one half, report the other",
    )
    parser.add_argument("--calibration", action="store_true", help="also report confidence calibration")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None, help="JSON results (default: print only)")
    args = parser.parse_args()

    recognizer = load_recognizer(args.recognizer, threads=args.threads)
    recognizer.temperature = 1.0  # decoders and calibration read raw posteriors
    lm = CharNgramLM.load(args.lm) if args.lm else None
    lexicon = Lexicon.load(args.lexicon) if args.lexicon else None
    start = time.perf_counter()
    samples = collect_samples(recognizer, args.data, args.split, limit_pages=args.limit_pages)
    model_s = time.perf_counter() - start
    if args.half:
        pages = sorted({s.page for s in samples})
        kept = set(pages[0 if args.half == "a" else 1 :: 2])
        samples = [s for s in samples if s.page in kept]
    characters = recognizer.charset.characters
    results = evaluate_decoders(samples, characters, _decoders(args, lm, lexicon))
    report: dict = {
        "data": str(args.data),
        "split": args.split,
        "half": args.half,
        "recognizer": str(args.recognizer),
        "lm": str(args.lm) if args.lm else None,
        "lexicon": str(args.lexicon) if args.lexicon else None,
        "prune_threshold": args.prune_threshold,
        "lines": len(samples),
        "pages": len({s.page for s in samples}),
        "model_seconds": round(model_s, 2),
        "decoders": results,
    }
    print(f"{args.data} [{args.split}] {report['pages']} pages, {len(samples)} lines")
    print(f"{'decoder':<36} {'CER':>7} {'CER-nc':>7} {'WER':>7} {'ms/line':>8}")
    for name, r in results.items():
        cer, cer_nc, wer, ms = r["cer"], r["cer_case_insensitive"], r["wer"], r["ms_per_line_median"]
        print(f"{name:<36} {cer:7.4f} {cer_nc:7.4f} {wer:7.4f} {ms:8.2f}")
    if args.calibration:  # greedy text; the temperature is fitted on word correctness
        report["calibration"] = {rule: cross_fit_report(samples, characters, word_rule=rule) for rule in RULES}
        for rule, cal in report["calibration"].items():
            print(f"word confidence = {rule} of characters: temperature fitted on half A {cal['temperature']:.2f}")
            print(f"  {'level':<5} {'n':>6} {'acc':>6} {'ECE T=1':>8} {'ECE fit':>8} {'ECE iso':>8}")
            for level in ("char", "word", "line"):
                before, after, iso = cal["before"][level], cal["after"][level], cal["isotonic"][level]
                acc = before["accuracy"] if before["accuracy"] is not None else float("nan")
                eces = f"{before['ece']:8.4f} {after['ece']:8.4f} {iso['ece']:8.4f}"
                print(f"  {level:<5} {before['n']:>6} {acc:6.3f} {eces}")
    if args.out:
        args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False))
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

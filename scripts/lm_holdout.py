"""Character LMs compared on pages that neither they nor the recognizer have read: its training holdout.

    python scripts/lm_holdout.py --recognizer line-recognizer-lite --seed 2 --set copiste --language fr \
        --config 9/1,1,1,1,2,2,2,2,2/lower --config 9/1/cased --lm-weight 0.6 0.7 0.8

``handocr train recognizer`` holds out a share of the `train` pages (``--holdout``, ``--seed``,
over the ``--data`` folders in their order) to choose its checkpoints, so the recognizer never
learnt from them (give the run's own ``--seed``: the model cards say it). This script takes the
same pages, builds each LM configuration from the other `train` pages of ``--set`` (as
``python -m handocr.recognition.lm --data`` builds the shipped ones from all of them), and decodes
the held-out pages' ground-truth lines of ``--set`` (cut as ``handocr eval`` cuts them) with the
recognizer's decoder for ``--language`` (its beam, lexicon and penalty), the LM, its weight
(``--lm-weight``) and the insertion bonus (``--insertion-bonus``) swapped. A configuration is
``ORDER/MIN_COUNTS/CASE``: ``MIN_COUNTS`` one count for every order or one per order,
comma-separated; ``CASE`` ``lower`` (the text lowercased, as by default) or ``cased``. Prints line
CER and WER for each configuration, weight and bonus. `val` stays out of the choice; confirm it
there.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, replace
from itertools import product
from pathlib import Path

from handocr.datasets.collection import load_pages, recognition_lines
from handocr.datasets.records import PageRecord
from handocr.evaluation.text_metrics import ErrorRate
from handocr.models import load_recognizer
from handocr.pipeline import ReadOptions, ground_truth_line_crops
from handocr.recognition.lm import build_char_lm
from handocr.training.recognizer import RecognizerTrainConfig, split_holdout

DEFAULT_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "real"


@dataclass(frozen=True)
class LmConfig:
    """An LM's order, least count kept per order, and whether it keeps letter case."""

    order: int
    min_counts: tuple[int, ...]
    cased: bool

    @classmethod
    def parse(cls, text: str) -> LmConfig:
        """From ``ORDER/MIN_COUNTS/CASE``, e.g. ``9/1,1,1,1,2,2,2,2,2/lower`` or ``9/1/cased``."""
        try:
            order_text, counts_text, case = text.split("/")
            order = int(order_text)
            counts = tuple(int(c) for c in counts_text.split(","))
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"{text!r}: expected ORDER/MIN_COUNTS/CASE") from exc
        if case not in ("lower", "cased") or len(counts) not in (1, order):
            raise argparse.ArgumentTypeError(f"{text!r}: CASE is lower or cased; one count, or one per order")
        return cls(order, counts * order if len(counts) == 1 else counts, case == "cased")

    def __str__(self) -> str:
        return f"{self.order}/{','.join(map(str, self.min_counts))}/{'cased' if self.cased else 'lower'}"


def in_folder(page: PageRecord, folder: Path) -> bool:
    """Whether a page's image lies in a dataset folder."""
    return page.image_path.resolve().is_relative_to(folder.resolve())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recognizer", default="line-recognizer-lite", help="model name or folder")
    parser.add_argument("--data", type=Path, action="append", help="the training run's --data folders, in order")
    parser.add_argument("--set", default="copiste", help="name of the --data folder to build the LMs from and score")
    parser.add_argument("--language", help="the recognizer's decoder to use (default: its general one)")
    parser.add_argument("--config", type=LmConfig.parse, action="append", help="ORDER/MIN_COUNTS/CASE (repeatable)")
    parser.add_argument("--lm-weight", type=float, nargs="+", help="default: the decoder's own")
    parser.add_argument("--insertion-bonus", type=float, nargs="+", help="default: the decoder's own")
    parser.add_argument("--holdout", type=float, default=RecognizerTrainConfig.holdout_fraction)
    parser.add_argument(
        "--seed", type=int, required=True, help="the training run's --seed (the lite's and the default's: 2)"
    )
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    folders = args.data or [DEFAULT_DATA / "copiste", DEFAULT_DATA / "hooker"]
    chosen = [f for f in folders if f.name == args.set]
    if not chosen:
        parser.error(f"--set {args.set!r} names none of the --data folders")
    configs = args.config or [LmConfig.parse("9/1,1,1,1,2,2,2,2,2/lower")]
    recognizer = load_recognizer(args.recognizer, threads=args.threads, runtime="onnxruntime")
    decoder = recognizer.language_decoders[args.language] if args.language else recognizer.decoder

    trained, held = split_holdout(load_pages(folders, "train", prefer="lines"), args.holdout, args.seed)
    texts = [text for page in trained if in_folder(page, chosen[0]) for _, text in recognition_lines(page)]
    scored = []  # (page index, target, log-probabilities) of every held-out line of the set
    for index, page in enumerate(page for page in held if in_folder(page, chosen[0])):
        lines = ground_truth_line_crops(page, ReadOptions.crop_margin, ReadOptions.min_line_height)
        log_probs = recognizer.log_probs([crop for _, crop in lines])
        scored.extend((index, target, lp) for (target, _), lp in zip(lines, log_probs, strict=True))
    pages = len({index for index, _, _ in scored})
    print(f"{args.set}: LMs from {len(texts)} lines; scored on {len(scored)} held-out lines of {pages} pages")
    for config in configs:
        lm = build_char_lm([], texts, order=config.order, lowercase=not config.cased, min_counts=config.min_counts)
        for weight, bonus in product(
            args.lm_weight or [decoder.lm_weight], args.insertion_bonus or [decoder.insertion_bonus]
        ):
            decode = replace(decoder, method="beam", lm=lm, lm_weight=weight, insertion_bonus=bonus)
            cer, wer = ErrorRate(), ErrorRate()
            for index, target, log_probs in scored:
                text = decode(log_probs).text
                cer.add(target, text, index)
                wer.add(target.split(), text.split(), index)
            print(f"{config} α {weight:g} β {bonus:g}: line CER {100 * cer.value:.2f}%, WER {100 * wer.value:.2f}%")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

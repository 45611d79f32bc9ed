"""Line CER/WER of a CTC recognizer on ground-truth lines, run as a runtime, precision and padding say.

    python scripts/padding_eval.py --recognizer line-recognizer-lite --runtime openvino --precision f32 \
        --pad-multiple 4

A batch of lines is padded to one width, and the network reads the blank columns after each line
too, so what a line reads can depend on the lines beside it and on how far its batch is padded.
This script separates that from the runtime and its precision: each page's lines are cut as
``handocr eval`` cuts them (ground-truth boxes, the reader's crop margin), read in the
recognizer's width buckets of ``--batch-size`` lines padded to a multiple of ``--pad-multiple``
columns (default: the runtime's own, 256 on OpenVINO and the network's stride on ONNX Runtime), and
decoded by the recognizer's page decoders. Prints line CER and WER per set with their 95% intervals
over pages, and ms per line (network and decoding, the first batches of each shape included).
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

from handocr.datasets.detect import open_dataset
from handocr.evaluation.text_metrics import ErrorRate
from handocr.models import load_recognizer
from handocr.openvino_session import PRECISIONS
from handocr.pipeline import ReadOptions, ground_truth_line_crops
from handocr.runtime import describe_session

DEFAULT_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "real"


def load(args: argparse.Namespace):
    """The recognizer, on OpenVINO at ``--precision`` when one is given, with its padding and batch size set."""
    if args.precision:
        recognizer = load_recognizer(
            args.recognizer, threads=args.threads, runtime="openvino", openvino={"precision": args.precision}
        )
    else:
        recognizer = load_recognizer(args.recognizer, threads=args.threads, runtime=args.runtime)
    if args.pad_multiple:
        recognizer.pad_multiple = math.lcm(recognizer.downsample, args.pad_multiple)
    if args.batch_size:
        recognizer.batch_size = args.batch_size
    return recognizer


def score_set(recognizer, folder: Path, split: str) -> dict:
    """Line CER, WER (with 95% intervals over pages) and ms per line of one dataset folder's split."""
    cer, wer = ErrorRate(), ErrorRate()
    seconds, lines = 0.0, 0
    for page_index, page in enumerate(open_dataset(folder, prefer="pages").pages(split)):
        scored = ground_truth_line_crops(page, ReadOptions.crop_margin, ReadOptions.min_line_height)
        start = time.perf_counter()
        read = recognizer.recognize([crop for _, crop in scored])
        seconds += time.perf_counter() - start
        lines += len(scored)
        for (target, _), line in zip(scored, read, strict=True):
            cer.add(target, line.text, page_index)
            wer.add(target.split(), line.text.split(), page_index)
    return {
        "cer": cer.value,
        "cer_ci95": cer.interval(),
        "wer": wer.value,
        "wer_ci95": wer.interval(),
        "ms_per_line": seconds * 1000 / max(1, lines),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recognizer", default="line-recognizer-lite", help="model name or folder")
    parser.add_argument("--runtime", default="onnxruntime", choices=("auto", "onnxruntime", "openvino"))
    parser.add_argument("--precision", choices=PRECISIONS, help="OpenVINO's inference precision (implies openvino)")
    parser.add_argument("--pad-multiple", type=int, default=0, help="pad each batch to a multiple of this width")
    parser.add_argument("--batch-size", type=int, default=0, help="lines a batch at most (1: each line alone)")
    parser.add_argument("--data", type=Path, action="append", help="dataset folder (repeatable)")
    parser.add_argument("--split", default="val")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    recognizer = load(args)
    runs_on = describe_session(recognizer.session)
    print(f"{args.recognizer} on {runs_on}, padded to {recognizer.pad_multiple}, {recognizer.batch_size} lines a batch")
    for folder in args.data or [DEFAULT_DATA / "copiste", DEFAULT_DATA / "hooker"]:
        s = score_set(recognizer, folder, args.split)
        cer, wer = [
            f"{100 * s[k]:.2f}% [{100 * s[k + '_ci95'][0]:.2f}, {100 * s[k + '_ci95'][1]:.2f}]" for k in ("cer", "wer")
        ]
        print(f"{folder.name}: line CER {cer}, WER {wer}, {s['ms_per_line']:.2f} ms a line")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

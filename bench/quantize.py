"""Does int8 quantization of the line recognizer pay? Time per line and CER, side by side with fp32.

Three variants of the same ONNX recognizer, built in a temporary folder with ONNX Runtime's
quantization tools: ``fp32`` (as shipped), ``int8-dynamic`` (weights of Conv and MatMul in int8,
activations quantized on the fly) and ``int8-static`` (QDQ, activations calibrated on line crops of
the ``train`` pages, never ``val``). Every variant reads the same ground-truth line crops of the
``val`` pages in batches of ``--batch`` lines (the variants take turns batch by batch, so drifts in
machine load hit them alike); each is decoded with the model's own decoder (beam search and LM as
``model.json`` sets it) and greedily.

Run from the repository root:  .venv/bin/python -m bench.quantize --threads 2
"""

from __future__ import annotations

import copy
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import (
    base_parser,
    load_pages,
    machine_description,
    markdown_table,
    output_stem,
    report,
    split_list,
    summarize,
    write_results,
)
from handocr.evaluation.text_metrics import ErrorRate
from handocr.models import DEFAULT_RECOGNIZER, find_model, load_recognizer
from handocr.pipeline import ReadOptions, ground_truth_line_crops
from handocr.recognition.ctc import greedy_decode
from handocr.runtime import make_session

VARIANTS = ("fp32", "int8-dynamic", "int8-static")
CER_BUDGET = 0.003  # the recognizer issue: int8 ships only if CER rises by at most 0.3 points


def line_crops(pages: list, margin: int = ReadOptions.crop_margin) -> list[tuple[str, np.ndarray, str]]:
    """``(set, crop, reference)`` for every scored line of ``pages``, cut as the pipeline cuts them."""
    return [
        (page.set_name, crop, target) for page in pages for target, crop in ground_truth_line_crops(page.record, margin)
    ]


def build_variants(source: Path, calibration_crops: list[np.ndarray], folder: Path, height: int) -> dict[str, Path]:
    """Write the int8 variants of ``source`` into ``folder``; return every variant's ONNX path."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_dynamic,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from handocr.recognition.preprocess import normalise_line, pad_batch

    prepared = folder / "prepared.onnx"
    quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
    dynamic, static = folder / "int8-dynamic.onnx", folder / "int8-static.onnx"
    quantize_dynamic(prepared, dynamic, weight_type=QuantType.QUInt8, op_types_to_quantize=["Conv", "MatMul"])

    class Crops(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = iter(
                [{"images": pad_batch([normalise_line(c, height)], multiple=8)[0]} for c in calibration_crops]
            )

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.batches, None)

    quantize_static(
        prepared,
        static,
        Crops(),
        quant_format=QuantFormat.QDQ,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        per_channel=False,  # per-channel QDQ needs opset 13; PP-OCR's graph is older
        op_types_to_quantize=["Conv", "MatMul"],
    )
    return {"fp32": source, "int8-dynamic": dynamic, "int8-static": static}


def measure(recognizers: dict[str, Any], lines: list[tuple[str, np.ndarray, str]], batch: int) -> dict[str, dict]:
    """Network time per line (batches of ``batch``, variants in turn) and CER per set for each variant."""
    times: dict[str, list[float]] = {name: [] for name in recognizers}
    scores: dict[str, dict[str, dict]] = {name: {} for name in recognizers}
    for start in range(0, len(lines), batch):
        chunk = lines[start : start + batch]
        crops = [crop for _, crop, _ in chunk]
        for name, recognizer in recognizers.items():
            began = time.perf_counter()
            posteriors = recognizer.log_probs(crops)
            times[name].append((time.perf_counter() - began) * 1000 / len(crops))
            characters = recognizer.charset.characters
            for (set_name, _, reference), line_scores in zip(chunk, posteriors, strict=True):
                tally = scores[name].setdefault(set_name, {"shipped": ErrorRate(), "greedy": ErrorRate(), "lines": 0})
                tally["shipped"].add(reference, recognizer.decoder(line_scores).text)
                tally["greedy"].add(reference, greedy_decode(line_scores, characters).text)
                tally["lines"] += 1
    return {
        name: {
            "ms_per_line": summarize(times[name]),
            "cer": {s: t["shipped"].value for s, t in scores[name].items()},
            "cer_greedy": {s: t["greedy"].value for s, t in scores[name].items()},
            "lines": {s: t["lines"] for s, t in scores[name].items()},
        }
        for name in recognizers
    }


def main(argv: list[str] | None = None) -> int:
    """Build the variants, measure them side by side, print the table and write JSON and markdown."""
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--recognizer", default=DEFAULT_RECOGNIZER, help="recognizer model name or folder")
    parser.add_argument("--batch", type=int, default=20, help="lines per network call (default 20)")
    parser.add_argument("--calibration-pages", type=int, default=6, help="train pages per set to calibrate on")
    args = parser.parse_args(argv)
    sets = split_list(args.sets)
    spec = find_model(args.recognizer)
    base = load_recognizer(args.recognizer, threads=args.threads)
    lines = line_crops(load_pages(args.data, sets, args.split, args.pages))
    calibration = [c for _, c, _ in line_crops(load_pages(args.data, sets, "train", args.calibration_pages))][::3]
    with tempfile.TemporaryDirectory() as tmp:
        paths = build_variants(spec.onnx_path, calibration, Path(tmp), base.height)
        sizes = {name: path.stat().st_size / 2**20 for name, path in paths.items()}
        base.batch_size = args.batch
        recognizers = {"fp32": base}
        for name, path in paths.items():
            if name != "fp32":  # the same recognizer (decoder, LM) around the quantized network
                recognizers[name] = copy.copy(base)
                recognizers[name].session = make_session(path, args.threads)
        results = measure(recognizers, lines, args.batch)
    base_ms = results["fp32"]["ms_per_line"]["median"]
    rows = []
    for name in VARIANTS:
        r = results[name]
        deltas = [r["cer"][s] - results["fp32"]["cer"][s] for s in sets]
        r["size_mib"] = sizes[name]
        r["speed_ratio"] = r["ms_per_line"]["median"] / base_ms if base_ms else float("nan")
        r["within_cer_budget"] = all(d <= CER_BUDGET for d in deltas)
        cells = [f"{100 * r['cer'][s]:.2f}% ({100 * d:+.2f})" for s, d in zip(sets, deltas, strict=True)]
        rows.append(
            [name, f"{sizes[name]:.1f}", r["ms_per_line"]["median"], r["ms_per_line"]["p95"], r["speed_ratio"], *cells]
        )
    headers = ["variant", "MiB", "ms/line median", "ms/line p95", "time vs fp32"]
    headers += [f"{s} CER (vs fp32, points)" for s in sets]
    table = markdown_table(headers, rows, digits=2)
    n_lines = ", ".join(f"{s} {results['fp32']['lines'].get(s, 0)}" for s in sets)
    markdown = (
        f"### int8 recognizer, {args.split} ground-truth lines ({n_lines}), batches of {args.batch}, "
        f"{args.threads or 'all'} threads\n\n{table}\n\nCER with the model's decoder ({base.decoder.method}); "
        f"int8 ships only if it is faster and CER rises by at most {100 * CER_BUDGET:.1f} points on every set.\n"
    )
    payload = {"machine": machine_description(), "recognizer": str(spec.folder), "results": results}
    files = write_results(output_stem(args.out, "quantize", args.tag), payload, markdown)
    report(markdown, files)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

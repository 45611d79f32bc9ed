"""Line detection side by side on `val`: handocr's detector and RapidOCR's (PP-OCR DB) in one run.

Both see the same page images and are scored the same way as ``handocr eval`` scores ours
(:class:`handocr.evaluation.detection_metrics.DetectionScorer`, Copiste's ignore band included):
precision and recall at each system's own operating threshold, mAP@0.5 and mAP@0.5:0.95 over the
whole precision-recall curve (handocr: every box scoring >= 0.001; RapidOCR: its box threshold
lowered to ``--rapidocr-curve-thresh``, its boxes the bounding rectangles of its quadrilaterals).
Time per page is wall time of the detection call alone, the systems in a shuffled order on each page.

Run from the repository root:

    .venv/bin/python -m bench.detectors --threads 2
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from PIL import Image

from bench.common import (
    base_parser,
    interleave_by_set,
    load_pages,
    machine_description,
    markdown_table,
    output_stem,
    report,
    safe_ratio,
    split_list,
    summarize,
    turn_order,
    write_results,
)
from handocr.evaluation.detection_metrics import DetectionScorer
from handocr.evaluation.runner import MAP_MIN_SCORE
from handocr.models import DEFAULT_DETECTOR, load_detector
from handocr.runtime import describe_session


class HandocrDetector:
    """The shipped (or a named) handocr detector: boxes on the whole curve, its own threshold."""

    def __init__(self, model: str, threads: int | None, name: str = "handocr") -> None:
        self.name = name
        self.detector = load_detector(model, threads=threads)
        self.operating_threshold = float(self.detector.conf_threshold)
        self.config = {
            **self.detector.info.model_dump(),
            "score_threshold": self.operating_threshold,
            "runtime": describe_session(self.detector.session),
        }

    def detect(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Boxes ``(n, 4)`` and scores for one RGB page."""
        found = self.detector.detect(rgb, min_score=MAP_MIN_SCORE)
        boxes = np.array([d.box for d in found], dtype=np.float64).reshape(-1, 4)
        return boxes, np.array([d.score for d in found], dtype=np.float64)


class RapidOcrDetector:
    """RapidOCR 3.x's text detector alone (``use_det`` only), with its box threshold lowered for the curve."""

    name = "rapidocr"

    def __init__(self, threads: int | None, curve_thresh: float) -> None:
        from importlib.metadata import version

        from rapidocr import RapidOCR

        params: dict[str, Any] = {"Global.log_level": "warning", "Global.use_cls": False}
        if threads:
            params["EngineConfig.onnxruntime.intra_op_num_threads"] = threads
            params["EngineConfig.onnxruntime.inter_op_num_threads"] = 1
        self.engine = RapidOCR(params=params)
        self.curve_thresh = curve_thresh
        self.operating_threshold = float(self.engine.cfg.Det.box_thresh)
        self.config = {
            "version": version("rapidocr"),
            "det": f"{self.engine.cfg.Det.ocr_version.value} det {self.engine.cfg.Det.model_type.value}",
            "box_thresh": self.operating_threshold,
            "curve_box_thresh": curve_thresh,
        }

    def detect(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Bounding boxes of RapidOCR's quadrilaterals and their scores, for one RGB page."""
        bgr = np.ascontiguousarray(rgb[:, :, ::-1])
        result = self.engine(bgr, use_det=True, use_cls=False, use_rec=False, box_thresh=self.curve_thresh)
        if result.boxes is None or not len(result.boxes):
            return np.zeros((0, 4)), np.zeros(0)
        quads = np.asarray(result.boxes, dtype=np.float64)
        boxes = np.concatenate([quads.min(axis=1), quads.max(axis=1)], axis=1)
        return boxes, np.asarray(result.scores, dtype=np.float64)


def run(systems: list[Any], pages: list) -> dict[str, dict[str, Any]]:
    """Score every system on every page; per set and system: detection metrics and ms per page."""
    scorers: dict[tuple[str, str], DetectionScorer] = {}
    times: dict[tuple[str, str], list[float]] = {}
    for n, page in enumerate(pages):
        rgb = np.asarray(Image.open(page.image_path).convert("RGB"))
        gt = np.array([ln.box for ln in page.record.lines], dtype=np.float64).reshape(-1, 4)
        for system in turn_order(systems, n):
            key = (page.set_name, system.name)
            start = time.perf_counter()
            boxes, scores = system.detect(rgb)
            times.setdefault(key, []).append((time.perf_counter() - start) * 1000)
            scorer = scorers.setdefault(key, DetectionScorer(operating_threshold=system.operating_threshold))
            scorer.add(boxes, scores, gt, page.record.ignore_regions)
    out: dict[str, dict[str, Any]] = {}
    for (set_name, name), scorer in scorers.items():
        out.setdefault(set_name, {})[name] = {**scorer.summary(), "ms": summarize(times[(set_name, name)])}
    return out


def tables(results: dict[str, dict[str, Any]], names: list[str]) -> str:
    """One markdown table: per set and system, detection metrics and time per page."""
    rows = []
    for set_name, per_system in results.items():
        for name in names:
            r = per_system[name]
            metrics = [r["precision"], r["recall"], r["map50"], r["map50_95"]]
            rows.append([set_name, name, *metrics, r["ms"]["median"], r["ms"]["p95"]])
    table = markdown_table(
        ["set", "system", "precision", "recall", "mAP@0.5", "mAP@0.5:0.95", "ms/page median", "p95"], rows, digits=3
    )
    ratios = []
    if len(names) == 2:
        for set_name, per_system in results.items():
            a, b = (per_system[n]["ms"]["median"] for n in names)
            ratios.append(f"- {set_name}: {names[0]} / {names[1]} time per page (median) = {safe_ratio(a, b):.2f}")
    return table + ("\n\n" + "\n".join(ratios) if ratios else "")


def main(argv: list[str] | None = None) -> int:
    """Run the detectors side by side; print the table, write JSON and markdown."""
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--detector", default=DEFAULT_DETECTOR, help="handocr detector model name or folder")
    parser.add_argument(
        "--systems",
        default="handocr,rapidocr",
        help="comma-separated: handocr (--detector), handocr:NAME (another detector, by name or folder), rapidocr",
    )
    parser.add_argument(
        "--rapidocr-curve-thresh", type=float, default=0.1, help="RapidOCR box threshold for the mAP curve"
    )
    args = parser.parse_args(argv)
    wanted = split_list(args.systems)
    systems: list[Any] = []
    for name in wanted:
        if name == "handocr":
            systems.append(HandocrDetector(args.detector, args.threads))
        elif name.startswith("handocr:"):
            systems.append(HandocrDetector(name.split(":", 1)[1], args.threads, name))
        elif name == "rapidocr":
            systems.append(RapidOcrDetector(args.threads, args.rapidocr_curve_thresh))
        else:
            parser.error(f"unknown system {name!r}")
    pages = interleave_by_set(load_pages(args.data, split_list(args.sets), args.split, args.pages))
    for system in systems:  # warm-up
        system.detect(np.asarray(Image.open(pages[0].image_path).convert("RGB")))
    results = run(systems, pages)
    names = [s.name for s in systems]
    markdown = (
        f"# Line detection side by side ({args.split}, {len(pages)} pages, {args.threads or 'all'} threads)\n\n"
        + tables(results, names)
        + "\n"
    )
    payload = {
        "machine": machine_description(),
        "systems": {s.name: s.config for s in systems},
        "results": results,
    }
    files = write_results(output_stem(args.out, "detectors", args.tag), payload, markdown)
    report(markdown, files)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Time and memory of a recognizer training step: PP-OCRv6 small as converted, simplified, channels-last.

Three variants of :class:`handocr.training.ppocr.PpOcrRecognizer`: ``converted`` (the plain
``onnx2torch`` graph, ``simplified=False, channels_last=False``), ``simplified`` (the graph rewrites
of :mod:`handocr.training.graph_simplify`) and ``channels-last`` (those rewrites with the weights
and feature maps channels-last in memory: what training uses). All start from the same weights and
take the same training steps (the trainer's own step, :func:`handocr.training.recognizer.ctc_step`:
forward, CTC loss, backward, gradient clipping, AdamW), in turns step by step, so drifts in machine
load hit them alike. The batches are real line crops of the ``train``
pages (never ``val``), cut and normalised as the trainer does (unaugmented), grouped by width as
the trainer groups them, and ``--steps`` of them taken evenly from the narrowest to the widest.

Peak memory cannot be told apart inside one process: each variant first takes the same steps alone
in a child process, which reports its own peak resident memory (``VmHWM``, Linux).

Run from the repository root:  .venv/bin/python -m bench.train_step --threads 1
"""

from __future__ import annotations

import argparse
import pickle
import subprocess
import sys
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
    safe_ratio,
    split_list,
    summarize,
    write_results,
)

VARIANTS = ("converted", "simplified", "channels-last")  # the last: simplified and channels-last


def training_batches(
    data: Path, sets: list[str], pages: int, batch: int, steps: int
) -> list[tuple[list[np.ndarray], list[str]]]:
    """``steps`` batches (normalised line arrays, texts) of the first ``pages`` train pages' line
    crops, from narrow to wide."""
    from handocr.recognition.preprocess import normalise_line
    from handocr.training.line_data import base_crop, cut_lines
    from handocr.training.ppocr import PPOCR_SHAPE

    records = [page.record for page in load_pages(data, sets, "train", pages)]
    samples = cut_lines(records)
    order = sorted(range(len(samples)), key=lambda i: samples[i].gray.shape[1])
    groups = [order[i : i + batch] for i in range(0, len(order) - batch + 1, batch)]
    chosen = [groups[round(k)] for k in np.linspace(0, len(groups) - 1, min(steps, len(groups)))]
    height = PPOCR_SHAPE.line_height
    return [
        ([normalise_line(base_crop(samples[i]), height) for i in group], [samples[i].text for i in group])
        for group in chosen
    ]


class Stepper:
    """One variant of the model with its optimiser: :meth:`step` is one training step, the trainer's
    (:func:`handocr.training.recognizer.ctc_step`)."""

    def __init__(self, variant: str, state: dict[str, Any] | None) -> None:
        import torch
        from torch import nn

        from handocr.recognition.charset import Charset
        from handocr.training.ppocr import PPOCR_SHAPE, PpOcrRecognizer

        self.charset = Charset()
        torch.manual_seed(0)
        simplified, channels_last = variant != "converted", variant == "channels-last"
        self.model = PpOcrRecognizer(self.charset, simplified=simplified, channels_last=channels_last)
        if state is not None:
            self.model.load_state_dict(state)
        self.model.train()
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=1e-5, weight_decay=1e-4)
        self.ctc = nn.CTCLoss(blank=0, zero_infinity=True)
        self.downsample = PPOCR_SHAPE.downsample

    def step(self, arrays: list[np.ndarray], texts: list[str]) -> float:
        """One training step on the lines (padded to the widest, each with its own CTC length); its loss."""
        from handocr.training.recognizer import ctc_step, ctc_tensors

        batch = ctc_tensors(arrays, texts, self.charset, self.downsample)
        loss, _ = ctc_step(self.model, self.optimizer, self.ctc, batch)
        return loss.item()


def shared_state() -> dict[str, Any] | None:
    """The shipped default recognizer's torch weights when it is a ppocrv6-small model, else None."""
    import torch

    from handocr.models import DEFAULT_RECOGNIZER, find_model

    path = find_model(DEFAULT_RECOGNIZER).folder / "model.pt"
    if not path.is_file():
        return None
    checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    return checkpoint["model"] if checkpoint.get("architecture") == "ppocrv6-small" else None


def child_main(variant: str, batches_path: Path, threads: int) -> None:
    """Take every batch's step with one variant (in a child process), then print the process's peak
    resident memory in KiB (``VmHWM``: this process image's own, not inherited from its parent)."""
    import torch

    torch.set_num_threads(threads)
    batches = pickle.loads(batches_path.read_bytes())
    stepper = Stepper(variant, shared_state())
    for arrays, texts in batches:
        stepper.step(arrays, texts)
    status = Path("/proc/self/status").read_text()
    print(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")))


def child_peak_mib(variant: str, batches_path: Path, threads: int) -> float:
    """Peak resident memory (MiB) of a child process taking the steps with ``variant`` (Linux)."""
    command = [sys.executable, "-m", "bench.train_step", "--child", variant, str(batches_path)]
    command += ["--threads", str(threads)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=Path(__file__).resolve().parent.parent)
    if done.returncode != 0:
        raise SystemExit(f"the {variant} child failed (exit {done.returncode}):\n{done.stderr[-2000:]}")
    return int(done.stdout.split()[-1]) / 1024


def main(argv: list[str] | None = None) -> None:
    parser = base_parser(__doc__.splitlines()[0])
    parser.set_defaults(pages=12)
    parser.add_argument("--batch", type=int, default=16, help="lines a step (the recipe's --batch)")
    parser.add_argument("--steps", type=int, default=16, help="steps each variant takes (batches, narrow to wide)")
    parser.add_argument("--rounds", type=int, default=2, help="times each variant takes every step")
    parser.add_argument("--child", nargs=2, metavar=("VARIANT", "BATCHES"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    threads = args.threads or 1
    if args.child:
        child_main(args.child[0], Path(args.child[1]), threads)
        return
    import torch

    torch.set_num_threads(threads)
    batches = training_batches(args.data, split_list(args.sets), args.pages, args.batch, args.steps)
    lines = sum(len(texts) for _, texts in batches)
    widths = f"{max(a.shape[1] for a in batches[0][0])}-{max(a.shape[1] for a in batches[-1][0])} columns"
    print(f"{len(batches)} batches of {args.batch} lines, {widths}", flush=True)
    with tempfile.TemporaryDirectory() as folder:
        batches_path = Path(folder) / "batches.pkl"
        batches_path.write_bytes(pickle.dumps(batches))
        peaks = {variant: child_peak_mib(variant, batches_path, threads) for variant in VARIANTS}
    state = shared_state()
    steppers = {variant: Stepper(variant, state) for variant in VARIANTS}
    times: dict[str, list[float]] = {variant: [] for variant in VARIANTS}
    losses: dict[str, list[float]] = {variant: [] for variant in VARIANTS}
    for round_index in range(args.rounds):
        for index, (arrays, texts) in enumerate(batches):
            turn = VARIANTS if (index + round_index) % 2 == 0 else VARIANTS[::-1]
            for variant in turn:
                start = time.perf_counter()
                losses[variant].append(steppers[variant].step(arrays, texts))
                times[variant].append((time.perf_counter() - start) * 1000)
    base = summarize(times["converted"])
    rows, results = [], {}
    for variant in VARIANTS:
        stats = summarize(times[variant])
        per_line = summarize([t / args.batch for t in times[variant]])
        gap = max(abs(a - b) for a, b in zip(losses[variant], losses["converted"], strict=True))
        results[variant] = {"step_ms": stats, "line_ms": per_line, "peak_rss_mib": peaks[variant], "max_loss_gap": gap}
        rows.append(
            [
                variant,
                stats["n"],
                stats["median"],
                stats["p95"],
                per_line["median"],
                safe_ratio(stats["median"], base["median"]),
                sum(times[variant]) / sum(times["converted"]),
                peaks[variant],
                gap,
            ]
        )
    headers = [
        "variant",
        "steps",
        "ms/step median",
        "ms/step p95",
        "ms/line median",
        "median ratio",
        "total ratio",
        "peak RSS MiB",
        "max loss gap",
    ]
    markdown = (
        f"Training steps of PP-OCRv6 small, {len(batches)} batches of {args.batch} train lines "
        f"({lines} lines, {widths}) x {args.rounds} rounds, "
        f"{threads} torch thread(s), variants in turns\n\n" + markdown_table(headers, rows, digits=3)
    )
    stem = output_stem(args.out, "train_step", args.tag)
    payload = {"machine": machine_description(), "args": vars(args), "results": results}
    report(markdown, write_results(stem, payload, markdown))


if __name__ == "__main__":
    main()

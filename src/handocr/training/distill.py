"""Knowledge distillation for the recognizer: a small student learns a large teacher's posteriors.

A CTC model's per-frame posteriors say more than its transcription: where each character sits,
which look-alikes it was weighed against. A small, fast student can be trained to match them frame
by frame (a KL term beside its own CTC loss). How much that adds is measured, not assumed: for the
shipped fast recognizer, half a point of holdout CER after 2,085 steps (see its model card).

The teacher is any CTC ONNX recognizer (by default the shipped one). Its posteriors are computed
once for every training line, read unaugmented as training crops are (no ``crop_trim``), and kept
in the run folder as float16. A distillation batch shows the student the same crops with ink,
blur, contrast and noise changes only, which move no column, so the teacher's frames still line up
with the student's. Online (``teacher_online``), the teacher instead reads each distillation batch
as the student sees it, fully augmented (margins, slant, width), and generated lines too: the
student then learns the teacher on far more varied crops, at the cost of running the teacher every
such step. Either way, the frames line up when both cut a line into the same number: the teacher
reads ``line_height_t`` rows at one frame per ``downsample_t`` columns, the student
``line_height_s`` rows at ``width_scale`` of the width, one frame per ``downsample_s`` columns; the
frames match when ``line_height_s * width_scale / downsample_s == line_height_t / downsample_t``
(the compact CRNN, 32 rows and 4 columns a frame, against PP-OCRv6, 48 rows and 8 columns a frame:
``width_scale`` 0.75). :func:`check_geometry` checks it before any training starts.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from handocr.errors import HandocrError
from handocr.recognition.charset import Charset

FRAME_SLACK = 2  # frames a line's teacher and student lengths may differ by (rounding) and still be distilled


def frames_per_column(height: int, downsample: int, width_scale: float) -> float:
    """CTC frames a model makes per column of a line scaled to one row high (its reading geometry)."""
    return height * width_scale / downsample


def load_teacher(name: str | Path, threads: int):
    """The teacher recognizer (a CTC ONNX model by name or folder), set to read crops untrimmed."""
    from handocr.models import load_recognizer
    from handocr.recognition.ctc_onnx import CtcOnnxRecognizer

    teacher = load_recognizer(name, threads=threads)
    if not isinstance(teacher, CtcOnnxRecognizer):
        raise HandocrError(f"teacher {name!r}: distillation needs a CTC ONNX recognizer")
    teacher.crop_trim = 0.0  # training crops are cut to the annotated box, as the teacher was trained
    return teacher


def check_geometry(teacher, height: int, downsample: int, width_scale: float) -> None:
    """Refuse a student whose frames would not line up with the teacher's (see the module docstring)."""
    wanted = frames_per_column(teacher.height, teacher.downsample, teacher.width_scale)
    student = frames_per_column(height, downsample, width_scale)
    if abs(student / wanted - 1.0) > 1e-6:
        raise HandocrError(
            f"the student reads {student / wanted:.3g} frames for each of the teacher's: with {height} rows "
            f"and {downsample} columns a frame it needs --width-scale {wanted * downsample / height:g}"
        )


def class_map(teacher: Charset, student: Charset) -> np.ndarray:
    """For each student class, the teacher class of the same character (``-1`` for none; blank to blank)."""
    index = {c: i + 1 for i, c in enumerate(teacher.characters)}
    return np.array([0] + [index.get(c, -1) for c in student.characters], dtype=np.int64)


def teacher_posteriors(
    teacher, crops: Sequence[np.ndarray], student: Charset, every: int = 500, progress: bool = True
) -> list[np.ndarray]:
    """The teacher's log-posteriors ``(frames, student classes)`` of each crop, float16.

    Classes are reordered to the student's charset; a student class the teacher lacks gets
    log-probability ``-30`` (none of the teacher's mass). With ``progress``, a line is printed
    every ``every`` crops.
    """
    mapping = class_map(teacher.charset, student)
    missing = mapping < 0
    out: list[np.ndarray] = []
    for start in range(0, len(crops), every):
        for scores in teacher.log_probs(list(crops[start : start + every])):
            mapped = scores[:, np.where(missing, 0, mapping)]
            mapped[:, missing] = -30.0
            out.append(mapped.astype(np.float16))
        if progress:
            print(f"teacher posteriors: {len(out)} / {len(crops)} lines", flush=True)
    return out


def distillation_loss(
    student_log_probs: torch.Tensor, frames: torch.Tensor, targets: Sequence[np.ndarray | None]
) -> torch.Tensor | None:
    """Mean per-frame KL divergence from the teacher's posteriors to the student's.

    ``student_log_probs`` is ``(N, T, C)``; ``frames[i]`` the valid frames of line ``i``;
    ``targets[i]`` the teacher's ``(frames, C)`` log-posteriors, or ``None`` for a line with none
    (a generated line). Lines whose lengths differ by more than ``FRAME_SLACK`` frames are left out;
    the others are compared over their common frames. ``None`` when no line is left.
    """
    terms, count = [], 0
    for i, target in enumerate(targets):
        if target is None:
            continue
        n = min(int(frames[i]), len(target))
        if abs(int(frames[i]) - len(target)) > FRAME_SLACK or n < 1:
            continue
        teacher = torch.from_numpy(target[:n].astype(np.float32))
        p = teacher.exp()
        terms.append((p * (teacher - student_log_probs[i, :n])).sum())
        count += n
    if not count:
        return None
    return torch.stack(terms).sum() / count

"""Install a trained recognizer as a model folder that ``handocr read --recognizer NAME`` finds.

The folder gets ``model.onnx`` (and ``model.pt`` to fine-tune from again), ``model.json`` and a
``README.md`` model card with the holdout CER before and after training.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from handocr.errors import HandocrError
from handocr.models import DEFAULT_DETECTOR, DEFAULT_RECOGNIZER, model_roots

PROTECTED = {DEFAULT_DETECTOR, DEFAULT_RECOGNIZER}


def install_root() -> Path:
    """Where ``--install NAME`` puts its folder: the first entry of ``HANDOCR_MODELS`` when set,
    else the first model root that exists and is writable (the repository's ``models/`` in a checkout)."""
    if os.environ.get("HANDOCR_MODELS"):
        return model_roots()[0]
    for root in model_roots():
        if root.is_dir() and os.access(root, os.W_OK):
            return root
    return model_roots()[-1]


def install_target(name: str) -> Path:
    """The folder for ``name``: a path as given when it names a folder (has a separator), else a
    sub-folder of :func:`install_root`. The shipped model names are refused."""
    if Path(name).name in PROTECTED:
        raise HandocrError(f"--install {name!r} would replace a shipped model: choose another name")
    if "/" in name or os.sep in name:
        return Path(name)
    return install_root() / name


def _fmt(value: float | None) -> str:
    return "n/a (trained from scratch)" if value is None else f"{value:.4f}"


def install_recognizer(checkpoint: Path, name: str, summary: dict[str, Any]) -> Path:
    """Export ``checkpoint`` into the model folder for ``name`` with ``model.json`` and a model card.

    ``summary`` holds ``init`` (what training started from), ``cer_before``, ``cer_after`` (holdout
    CER, fractions), ``steps``, ``minutes``, ``data`` (folders), ``split``, ``train_lines``,
    ``holdout_lines``, ``charset_added`` (characters added to the charset) and, when generated pages
    were mixed in, ``synth`` (folders), ``synth_ratio`` and ``synth_lines``; ``teacher`` (the
    recognizer distilled from, if any) and ``teacher_online`` (whether it read augmented crops on the
    fly); ``width_scale`` (the
    share of their width lines are read at, as trained) goes into ``model.json``.
    """
    from handocr.training.recognizer import export_recognizer

    folder = install_target(name)
    export_recognizer(checkpoint, folder / "model.onnx")
    model_name = folder.name
    settings = {
        "name": model_name,
        "version": time.strftime("%Y%m%d-%H%M"),
        "kind": "recognizer",
        "backend": "ctc-onnx",
        "file": "model.onnx",
        "temperature": 1.0,
        "width_scale": summary.get("width_scale", 1.0),
        "base": summary.get("init", "scratch"),
        "holdout_cer_before": summary.get("cer_before"),
        "holdout_cer_after": summary.get("cer_after"),
    }
    (folder / "model.json").write_text(json.dumps(settings, indent=2) + "\n")
    (folder / "README.md").write_text(model_card(model_name, summary))
    return folder


def model_card(name: str, summary: dict[str, Any]) -> str:
    """The ``README.md`` of an installed fine-tuned recognizer."""
    data = ", ".join(str(d) for d in summary.get("data", [])) or "?"
    added = summary.get("charset_added") or ""
    synth = ", ".join(str(d) for d in summary.get("synth", []))
    teacher = summary.get("teacher")
    online = " (online: on augmented crops)" if summary.get("teacher_online") else ""
    teacher_row = f"| distilled from | {teacher}{online} |\n" if teacher else ""
    synth_row = (
        f"| synthetic lines | {summary.get('synth_lines', '?')} from {synth}, "
        f"{summary.get('synth_ratio', 0):.0%} of each epoch |\n"
        if synth
        else ""
    )
    return f"""# {name}: line recognizer trained with `handocr train recognizer`

| | |
|---|---|
| started from | {summary.get("init", "scratch")} |
| data | {data} (split `{summary.get("split", "train")}`) |
| lines | {summary.get("train_lines", "?")} for training, {summary.get("holdout_lines", "?")} held out (by page) |
{synth_row}{teacher_row}| steps | {summary.get("steps", "?")} ({summary.get("minutes", 0):.1f} min of training) |
| holdout CER before | {_fmt(summary.get("cer_before"))} |
| holdout CER after | {_fmt(summary.get("cer_after"))} |
| characters added | {repr(added) if added else "none"} |

The holdout pages come from the training folder itself (a few pages set aside, never trained on),
so the CER above says how well the model reads *more pages like these*; measure on a separate
`val` split for a number to report (`handocr eval --recognizer {name} --data DIR --split val`).

Use it: `handocr read --recognizer {name} page.jpg`. Files: `model.onnx` (inference, charset in its
metadata), `model.pt` (torch weights to fine-tune from: `--from <this folder>`), `model.json`.
"""

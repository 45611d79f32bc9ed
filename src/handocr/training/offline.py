"""Make Ultralytics and torch run with no network and a bounded number of threads."""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def prepare_ultralytics_offline(config_dir: Path) -> None:
    """Configure Ultralytics so it never touches the network.

    Sets ``YOLO_OFFLINE``, ``YOLO_AUTOINSTALL`` and ``YOLO_CONFIG_DIR`` and places a font named
    ``Arial.ttf`` where Ultralytics looks for it (it otherwise downloads one while checking data).
    Must run before ``ultralytics`` is imported.
    """
    config_dir = config_dir.resolve()
    font_dir = config_dir / "Ultralytics"
    font_dir.mkdir(parents=True, exist_ok=True)
    os.environ["YOLO_OFFLINE"] = "1"
    os.environ["YOLO_AUTOINSTALL"] = "false"
    os.environ["YOLO_CONFIG_DIR"] = str(config_dir)
    for name in ("Arial.ttf", "Arial.Unicode.ttf"):
        target = font_dir / name
        if not target.exists():
            shutil.copyfile(_any_ttf(), target)


def _any_ttf() -> Path:
    """A TTF file that is on this machine: matplotlib ships DejaVuSans."""
    import matplotlib

    path = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    if not path.is_file():
        raise FileNotFoundError("no TTF font found to stand in for Arial.ttf")
    return path


def set_torch_threads(threads: int) -> None:
    """Set torch's intra-op threads (1 is fastest when other work shares 2 cores)."""
    import torch

    torch.set_num_threads(max(1, threads))

"""Start recognizer training from existing weights: the shipped model, a checkpoint or a weights file.

Weights files (``model.pt`` beside a model's ``model.onnx``) hold ``{"model": state_dict,
"charset": str, "architecture": "crnn-v1" or "ppocrv6-small", "line_height": 32 or 48,
"downsample": 4 or 8}``; a bare state_dict is read too (a ``crnn-v1``), its charset then taken from
the ``model.onnx`` beside it. When the training texts have
characters the weights cannot write, the charset is extended at its end and the classifier gets new
rows; the rows of the known characters are kept, so what the model knows is not reset.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch

from handocr.errors import ModelNotFound
from handocr.models import DEFAULT_RECOGNIZER, model_roots
from handocr.recognition.charset import Charset
from handocr.training.architectures import CRNN_V1, Architecture

WEIGHTS_FILE = "model.pt"
CLASSIFIER = ("classifier.weight", "classifier.bias")


@dataclass
class InitialWeights:
    """Weights to start from, the charset they were trained with, where they came from, the
    architecture they belong to and the width scale they read lines at (``width_scale``)."""

    state: dict[str, torch.Tensor]
    charset: Charset
    source: str
    architecture: str = CRNN_V1.name
    width_scale: float = 1.0


def shipped_weights_path(name: str = DEFAULT_RECOGNIZER) -> Path:
    """``model.pt`` of the shipped recognizer (first model root that has one)."""
    for root in model_roots():
        candidate = root / name / WEIGHTS_FILE
        if candidate.is_file():
            return candidate
    searched = ", ".join(str(r / name) for r in model_roots())
    raise ModelNotFound(f"no {WEIGHTS_FILE} for {name!r} (searched {searched}); train with --from scratch")


def resolve_init(spec: str) -> InitialWeights | None:
    """``scratch`` → ``None``; ``shipped`` → the shipped weights; else a ``.pt``/``.ckpt`` file or a
    folder holding ``model.pt`` (a model folder) or ``best.ckpt`` (a run folder)."""
    if spec == "scratch":
        return None
    if spec == "shipped":
        return read_weights(shipped_weights_path())
    path = Path(spec)
    if path.is_dir():
        for name in (WEIGHTS_FILE, "best.ckpt", "last.ckpt"):
            if (path / name).is_file():
                return read_weights(path / name)
        raise ModelNotFound(f"{path}: no {WEIGHTS_FILE}, best.ckpt or last.ckpt inside")
    if not path.is_file():
        raise ModelNotFound(f"--from {spec!r}: not 'scratch', 'shipped', a weights file or a folder")
    return read_weights(path)


def load_weights_file(path: Path) -> object:
    """What ``path`` (a weights file or a trainer checkpoint) holds, as stored: read it once and
    pass it to :func:`read_weights` and whatever else needs the file's other entries."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception:
        if path.suffix != ".ckpt":  # only our own checkpoints (they hold RNG state) are unpickled in full
            raise
        return torch.load(path, map_location="cpu", weights_only=False)


def read_weights(path: Path, loaded: object = None) -> InitialWeights:
    """Read a weights file or a trainer checkpoint (see the module docstring); ``loaded`` is what
    :func:`load_weights_file` already read from ``path``, so the file is not read again."""
    obj = load_weights_file(path) if loaded is None else loaded
    architecture = CRNN_V1.name
    if isinstance(obj, dict) and isinstance(obj.get("model"), dict):
        # a run that kept a weight average is read by it (see RecognizerTrainer): what it measured
        state, characters = obj.get("ema") or obj["model"], obj.get("charset")
        architecture = obj.get("architecture", architecture)
    else:
        state, characters = obj, None
    if characters is None:
        characters = _charset_beside(path, state)
    return InitialWeights(
        state=dict(state),
        charset=Charset(characters),
        source=str(path),
        architecture=architecture,
        width_scale=_width_scale_of(path, obj),
    )


def _width_scale_of(path: Path, obj: object) -> float:
    """The width scale the weights read at: a checkpoint's training setting, else the ``model.json``
    beside a ``model.pt``, else 1."""
    if isinstance(obj, dict) and isinstance(obj.get("config"), dict) and "width_scale" in obj["config"]:
        return float(obj["config"]["width_scale"])
    settings = path.with_name("model.json")
    if settings.is_file():
        return float(json.loads(settings.read_text()).get("width_scale", 1.0))
    return 1.0


def _charset_beside(path: Path, state: dict) -> str:
    onnx_path = path.with_name("model.onnx")
    if onnx_path.is_file():
        from handocr.runtime import make_session, model_metadata

        meta = model_metadata(make_session(onnx_path, threads=1))
        if "charset" in meta:
            return Charset.from_json(meta["charset"]).characters
    rows = state[CLASSIFIER[0]].shape[0]
    if rows == Charset().num_classes:
        return Charset().characters
    raise ModelNotFound(f"{path}: no charset stored with the weights and no model.onnx beside them")


def extend_charset(charset: Charset, texts: list[str]) -> Charset:
    """``charset`` with the characters of ``texts`` it lacks appended (sorted, so runs agree)."""
    missing = sorted({c for text in texts for c in charset.unknown(text)})
    return Charset(charset.characters + "".join(missing)) if missing else charset


def adapt_classifier(
    state: dict[str, torch.Tensor],
    old: Charset,
    new: Charset,
    keys: tuple[str, str] = CLASSIFIER,
    class_dim: int = 0,
) -> dict[str, torch.Tensor]:
    """``state`` with classifier rows for ``new`` (which must start with ``old``'s characters).

    ``keys`` name the classifier's weight and bias; ``class_dim`` is the weight's class dimension
    (0 for ``nn.Linear``, 1 for a ``(hidden, classes)`` matrix). Known characters keep their rows; a
    new character starts with small random weights and a bias a little under the average, so it is
    learnable without disturbing what the model reads already.
    """
    if not new.characters.startswith(old.characters):
        raise ValueError("the new charset must extend the old one at its end")
    extra = new.num_classes - old.num_classes
    if extra == 0:
        return state
    weight, bias = state[keys[0]].movedim(class_dim, 0), state[keys[1]]
    generator = torch.Generator().manual_seed(0)
    new_rows = torch.randn(extra, weight.shape[1], generator=generator) * weight[1:].std() * 0.1
    new_bias = torch.full((extra,), float(bias[1:].mean() - 1.0))
    out = dict(state)
    out[keys[0]] = torch.cat([weight, new_rows.to(weight.dtype)]).movedim(0, class_dim).contiguous()
    out[keys[1]] = torch.cat([bias, new_bias.to(bias.dtype)])
    return out


def weights_payload(state: dict[str, torch.Tensor], charset: Charset, arch: Architecture = CRNN_V1) -> dict:
    """The content of a ``model.pt`` weights file."""
    return {
        "model": {k: v.detach().cpu() for k, v in state.items()},
        "charset": charset.characters,
        "architecture": arch.name,
        "line_height": arch.line_height,
        "downsample": arch.downsample,
    }


def save_weights(state: dict[str, torch.Tensor], charset: Charset, target: Path, arch: Architecture = CRNN_V1) -> Path:
    """Write a ``model.pt`` weights file (loadable with ``torch.load(weights_only=True)``)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    torch.save(weights_payload(state, charset, arch), tmp)
    tmp.replace(target)
    return target

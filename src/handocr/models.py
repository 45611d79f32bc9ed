"""Find and load the shipped (or user-installed) models by name.

A model is a folder holding ``model.onnx``, ``model.json`` (name, version, kind, run-time
settings) and a ``README.md`` model card. Folders are looked up in ``HANDOCR_MODELS`` (if set), in
the package's bundled ``_models`` (wheels), then in the repository's ``models/``.

A recognizer's decoder files (the character LMs and word lexicons its ``model.json`` names as
``lm`` and ``lexicon``, also under ``languages``) are read from its own folder when they are there,
else from the shared folder :data:`LANGUAGE_FOLDER` of the model folders (searched in the same
order): the shipped recognizers share one copy of each file there.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from handocr.errors import ModelNotFound
from handocr.schema import ModelInfo

DEFAULT_DETECTOR = "line-detector"
DEFAULT_RECOGNIZER = "line-recognizer"
LANGUAGE_FOLDER = "languages"  # the character LMs and lexicons the shipped recognizers share
DECODER_FILE_KEYS = ("lm", "lexicon")  # the model.json keys that name a decoder file


def model_roots() -> list[Path]:
    """Folders searched for models, in order."""
    roots = []
    if os.environ.get("HANDOCR_MODELS"):
        roots.extend(Path(p) for p in os.environ["HANDOCR_MODELS"].split(os.pathsep) if p)
    package = Path(__file__).resolve().parent
    roots.append(package / "_models")
    roots.append(package.parent.parent / "models")
    return roots


@dataclass(frozen=True)
class ModelSpec:
    """A model folder and its ``model.json`` settings."""

    folder: Path
    settings: dict[str, Any]

    @property
    def onnx_path(self) -> Path:
        """The ONNX file."""
        return self.folder / self.settings.get("file", "model.onnx")

    @property
    def info(self) -> ModelInfo:
        """Name and version for results."""
        return ModelInfo(name=self.settings["name"], version=str(self.settings["version"]))


def find_model(name_or_path: str | Path) -> ModelSpec:
    """Resolve a model by folder path or by name in :func:`model_roots`."""
    candidates = [Path(name_or_path)] + [root / str(name_or_path) for root in model_roots()]
    for folder in candidates:
        settings_file = folder / "model.json"
        if settings_file.is_file():
            settings = json.loads(settings_file.read_text())
            spec = ModelSpec(folder, settings)
            if not spec.onnx_path.is_file():
                raise ModelNotFound(f"{folder}: model.json found but {spec.onnx_path.name} is missing")
            return spec
    searched = ", ".join(str(r) for r in model_roots())
    raise ModelNotFound(f"model {str(name_or_path)!r} not found (searched {searched})")


def decoder_file(folder: Path, name: str) -> Path:
    """The decoder file ``name`` (a character LM or lexicon) of the recognizer in ``folder``: in
    ``folder`` itself, else in the :data:`LANGUAGE_FOLDER` of :func:`model_roots`, the first that
    holds it, as an absolute path (a relative one would be read against the model folder again);
    ``ModelNotFound`` names the folders searched when none does."""
    candidates = [Path(folder)] + [root / LANGUAGE_FOLDER for root in model_roots()]
    for candidate in candidates:
        if (candidate / name).is_file():
            return (candidate / name).absolute()
    raise ModelNotFound(f"{folder}: decoder file {name!r} not found (searched {', '.join(map(str, candidates))})")


def decoder_settings(spec: ModelSpec) -> dict[str, Any]:
    """A recognizer's ``model.json`` settings with each decoder file it names (``lm`` and
    ``lexicon``, also in every ``languages`` entry) as a full path, found by :func:`decoder_file`."""

    def resolved(entry: dict[str, Any]) -> dict[str, Any]:
        files = {key: str(decoder_file(spec.folder, entry[key])) for key in DECODER_FILE_KEYS if entry.get(key)}
        return {**entry, **files}

    settings = resolved(spec.settings)
    languages = spec.settings.get("languages")
    if isinstance(languages, dict):
        settings["languages"] = {
            code: resolved(entry) if isinstance(entry, dict) else entry for code, entry in languages.items()
        }
    return settings


def load_detector(name: str | Path = DEFAULT_DETECTOR, threads: int | None = None, runtime: str | None = None):
    """Load a line detector by name or folder (backend from its ``model.json``) to run on ``runtime``
    (see :mod:`handocr.runtime`; ``None``: ``HANDOCR_RUNTIME`` or ``auto``)."""
    spec = find_model(name)
    backend = spec.settings.get("backend", "yolo-onnx")
    if backend != "yolo-onnx":
        raise ModelNotFound(f"{spec.folder}: unknown detector backend {backend!r}")
    from handocr.detection.yolo_onnx import YoloOnnxDetector

    return YoloOnnxDetector(
        spec.onnx_path,
        spec.info,
        conf_threshold=float(spec.settings.get("conf_threshold", 0.25)),
        iou_threshold=float(spec.settings.get("iou_threshold", 0.5)),
        threads=threads,
        box_adjust=_box_adjust(spec.settings.get("box_adjust")),
        imgsz=int(spec.settings.get("imgsz", 640)),
        runtime=runtime,
        openvino=spec.settings.get("openvino"),
    )


def _box_adjust(setting: dict | None) -> tuple[float, float, float, float]:
    """``box_adjust`` of a detector's ``model.json`` (``{"left": .., "top": .., "right": .., "bottom": ..}``)."""
    setting = setting or {}
    from handocr.detection.boxes import BOX_SIDES

    return tuple(float(setting.get(side, 0.0)) for side in BOX_SIDES)  # type: ignore[return-value]


def recognizer_languages(name: str | Path = DEFAULT_RECOGNIZER) -> tuple[str, ...]:
    """The language codes a recognizer has a decoder of its own for (``languages`` in its
    ``model.json``), without loading it."""
    return tuple(find_model(name).settings.get("languages") or {})


def check_recognizer_language(name: str | Path, language: str) -> None:
    """Raise ``UnknownLanguage`` unless recognizer ``name`` reads ``language`` (``ModelNotFound``
    when there is no such recognizer), without loading it: for checks made before workers start."""
    from handocr.recognition.language import check_language

    check_language(language, recognizer_languages(name))


def load_recognizer(
    name: str | Path = DEFAULT_RECOGNIZER,
    threads: int | None = None,
    runtime: str | None = None,
    openvino: dict[str, Any] | None = None,
):
    """Load a line recognizer by name or folder (backend from its ``model.json``); a CTC one runs on
    ``runtime`` (see :mod:`handocr.runtime`; ``None``: ``HANDOCR_RUNTIME`` or ``auto``), with
    ``openvino`` (e.g. ``{"precision": "f32"}``) in place of its ``model.json``'s ``openvino`` entry
    when given."""
    spec = find_model(name)
    backend = spec.settings.get("backend", "ctc-onnx")
    if backend == "ctc-onnx":
        from handocr.recognition.beam import CtcDecoder
        from handocr.recognition.ctc_onnx import CtcOnnxRecognizer
        from handocr.recognition.language import language_choices

        recognizer = CtcOnnxRecognizer(
            spec.onnx_path,
            spec.info,
            threads=threads,
            crop_trim=float(spec.settings.get("crop_trim", 0.0)),
            width_scale=float(spec.settings.get("width_scale", 1.0)),
            runtime=runtime,
            openvino=spec.settings.get("openvino") if openvino is None else openvino,
        )
        characters, settings = recognizer.charset.characters, decoder_settings(spec)
        recognizer.decoder = CtcDecoder.from_settings(settings, spec.folder, characters)
        languages = settings.get("languages") or {}
        reserved = [code for code in languages if code in language_choices(())]
        if reserved or not all(isinstance(entry, dict) for entry in languages.values()):
            raise ModelNotFound(f"{spec.folder}: 'languages' maps codes (not auto or any) to decoder settings")
        recognizer.language_decoders = {  # each language's settings replace the general ones it names
            code: CtcDecoder.from_settings({**settings, **entry}, spec.folder, characters)
            for code, entry in languages.items()
        }
        return recognizer
    if backend == "trocr":
        from handocr.recognition.trocr import TrOCRRecognizer

        return TrOCRRecognizer(
            spec.folder,
            spec.info,
            device=str(spec.settings.get("device", "auto")),
            batch_size=int(spec.settings.get("batch_size", 8)),
            num_beams=int(spec.settings.get("num_beams", 1)),
            max_new_tokens=spec.settings.get("max_new_tokens"),
            threads=threads,
        )
    raise ModelNotFound(f"{spec.folder}: unknown recognizer backend {backend!r}")

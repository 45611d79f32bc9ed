"""Train the CTC line recognizer (PyTorch), resumable and time-bounded, and export it to ONNX."""

from __future__ import annotations

import copy
import hashlib
import json
import math
import pickle
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from handocr.datasets.linefolder import is_line_image
from handocr.datasets.records import PageRecord
from handocr.evaluation.text_metrics import cer
from handocr.recognition.charset import Charset
from handocr.recognition.ctc import greedy_decode
from handocr.recognition.preprocess import normalise_line, pad_batch
from handocr.training.architectures import CRNN_V1, Architecture, get_architecture
from handocr.training.average import average
from handocr.training.distill import check_geometry, distillation_loss, load_teacher, teacher_posteriors
from handocr.training.finetune import (
    WEIGHTS_FILE,
    InitialWeights,
    adapt_classifier,
    extend_charset,
    load_weights_file,
    read_weights,
    save_weights,
)
from handocr.training.line_data import LineSample, augment, augment_in_place, base_crop, cut_lines
from handocr.training.offline import set_torch_threads


@dataclass
class RecognizerTrainConfig:
    """Settings of one recognizer training run."""

    out_dir: Path = Path("runs/recognizer")
    hours: float | None = None
    epochs: int = 30
    batch: int = 24
    lr: float = 1e-3
    threads: int = 1
    seed: int = 0
    holdout_fraction: float = 0.05
    checkpoint_minutes: float = 5.0
    eval_minutes: float = 10.0
    max_steps: int | None = None
    device: str = "cpu"
    patience: int | None = None
    eval_steps: int | None = None
    extend_charset: bool = True
    init: str = "scratch"
    arch: str = CRNN_V1.name
    warmup_steps: int = 300
    synth_ratio: float = 0.0  # share of synthetic lines in each epoch (when synthetic pages are given)
    width_scale: float = 1.0  # lines are read squeezed to this share of their width (model.json width_scale)
    min_line_height: float = 0.0  # thin line boxes grown to this share of the page's median (see cut_lines)
    teacher: str | None = None  # a recognizer to distil from (see handocr.training.distill)
    distill_weight: float = 1.0  # weight of the distillation term beside the CTC loss
    distill_share: float = 0.5  # share of batches that are distillation batches (crops with no pixel moved)
    teacher_online: bool = False  # the teacher reads each distillation batch fully augmented, on the fly
    ema_decay: float = 0.0  # above 0: keep an exponential moving average of the weights (see RecognizerTrainer)


def split_holdout(pages: list[PageRecord], fraction: float, seed: int) -> tuple[list[PageRecord], list[PageRecord]]:
    """Split pages (never lines) into training and held-out pages for checkpoint selection.

    Line images (see :mod:`handocr.datasets.linefolder`) are split by the folder they sit in when
    there are several (IAM: one folder per form), so that lines of one page stay together.
    """
    folders = sorted({str(p.image_path.parent) for p in pages})
    if len(folders) > 1 and all(is_line_image(p) for p in pages):
        random.Random(seed).shuffle(folders)
        held_folders = set(folders[: max(1, int(len(folders) * fraction))])
        train = [p for p in pages if str(p.image_path.parent) not in held_folders]
        return train, [p for p in pages if str(p.image_path.parent) in held_folders]
    order = list(range(len(pages)))
    random.Random(seed).shuffle(order)
    n = max(1, int(len(pages) * fraction)) if len(pages) > 1 else 0
    held = set(order[:n])
    return [p for i, p in enumerate(pages) if i not in held], [p for i, p in enumerate(pages) if i in held]


def width_batches(samples: list[LineSample], batch: int, rng: random.Random) -> list[list[int]]:
    """Batches of similar-width lines (less padding), in random order."""
    order = sorted(range(len(samples)), key=lambda i: samples[i].gray.shape[1] * rng.uniform(0.9, 1.1))
    batches = [order[i : i + batch] for i in range(0, len(order), batch)]
    rng.shuffle(batches)
    return batches


def ctc_tensors(
    arrays: list[np.ndarray], texts: list[str], charset: Charset, downsample: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """A training batch of normalised line arrays and their texts, as :func:`ctc_step` takes it:
    the images padded to one width ``(n, 1, height, W)``, each line's own number of CTC frames (its
    width over ``downsample``), the concatenated target codes and each target's length."""
    images, widths = pad_batch(arrays, multiple=downsample)
    targets = [charset.encode(t) for t in texts]
    return (
        torch.from_numpy(images),
        torch.from_numpy(widths // downsample),
        torch.tensor([c for t in targets for c in t], dtype=torch.long),
        torch.tensor([len(t) for t in targets], dtype=torch.long),
    )


def ctc_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    ctc: nn.CTCLoss,
    batch: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor],
    device: torch.device | str = "cpu",
    distill_targets: list[np.ndarray | None] | None = None,
    distill_weight: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """One training step on ``batch`` (from :func:`ctc_tensors`): the CTC loss, plus
    ``distill_weight`` times the distillation loss to ``distill_targets`` when given (a teacher's
    per-frame posteriors for each line, ``None`` for a line without; see
    :func:`~handocr.training.distill.distillation_loss`), backward, gradients clipped to norm 5,
    and the optimiser's step. Returns the loss and the distillation term (``None`` without one)."""
    images, frames, targets, target_lengths = batch
    scores = torch.log_softmax(model(images.to(device)), dim=-1).float().cpu()
    loss = ctc(scores.permute(1, 0, 2), targets, frames, target_lengths)
    distill = distillation_loss(scores, frames, distill_targets) if distill_targets is not None else None
    if distill is not None:
        loss = loss + distill_weight * distill
    optimizer.zero_grad()
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), 5.0)
    optimizer.step()
    return loss, distill


def predict_texts(
    model: nn.Module, arrays: list[np.ndarray], charset: Charset, downsample: int, batch: int = 32
) -> list[str]:
    """Greedy-decoded texts of normalised line arrays with a torch model (``downsample`` columns a frame)."""
    device = next(model.parameters()).device
    model.eval()
    order = sorted(range(len(arrays)), key=lambda i: arrays[i].shape[1])
    out: dict[int, str] = {}
    with torch.no_grad():
        for start in range(0, len(order), batch):
            idx = order[start : start + batch]
            images, widths = pad_batch([arrays[i] for i in idx], multiple=downsample)
            log_probs = torch.log_softmax(model(torch.from_numpy(images).to(device)), dim=-1).cpu().numpy()
            for k, i in enumerate(idx):
                frames = max(1, int(widths[k]) // downsample)
                out[i] = greedy_decode(log_probs[k, :frames], charset.characters).text
    model.train()
    return [out[i] for i in range(len(arrays))]


def _lr_factor(progress: float, step: int, warmup: int = 300) -> float:
    if step < warmup:
        return (step + 1) / warmup
    return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def _cpu_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """A model's weights and buffers on the CPU, as checkpoints keep them."""
    return {k: v.cpu() for k, v in model.state_dict().items()}


class RecognizerTrainer:
    """Runs, checkpoints and resumes one recognizer training run (see :class:`RecognizerTrainConfig`).

    With ``config.ema_decay`` above 0 it also keeps an exponential moving average of the weights
    (and of BatchNorm's running statistics), updated after every step at that decay (lower in the
    first steps: ``min(decay, (1 + n) / (10 + n))`` after ``n`` updates). The average is what the
    holdout measures, what chooses ``best.ckpt`` and what an export reads (a checkpoint's ``ema``);
    the raw weights (``model``) go on training and are what a resumed run continues.
    """

    def __init__(
        self,
        pages: list[PageRecord],
        config: RecognizerTrainConfig,
        charset: Charset | None = None,
        init: InitialWeights | None = None,
        synth_pages: list[PageRecord] | None = None,
    ) -> None:
        """Cut the lines of ``pages`` and build the model: from scratch, or from ``init``'s weights.

        The charset is ``init``'s (else ``charset``, else the default), extended with the characters
        of the training texts it lacks when ``config.extend_charset`` (new classifier rows). The
        architecture is ``init``'s, else ``config.arch``.

        Lines of ``synth_pages`` (generated pages, see :mod:`handocr.datasets.synth`) are mixed into
        every epoch as ``config.synth_ratio`` of its lines; they never enter the holdout, and those
        with a character outside the charset are left out (the charset grows from real text only).
        """
        self.config = config
        self.out = Path(config.out_dir)
        self.out.mkdir(parents=True, exist_ok=True)
        torch.manual_seed(config.seed)
        set_torch_threads(config.threads)
        self.rng = random.Random(config.seed)
        self.arch: Architecture = get_architecture(init.architecture if init is not None else config.arch)
        self.train_samples, self.holdout_samples = self._load_samples(pages)
        self.holdout_inputs = [self.to_input(base_crop(s)) for s in self.holdout_samples]
        base = init.charset if init is not None else (charset or Charset())
        self.charset = extend_charset(base, [s.text for s in self.train_samples]) if config.extend_charset else base
        if self.charset != base:
            added = self.charset.characters[len(base.characters) :]
            print(f"charset extended with {len(added)} new characters: {added!r}", flush=True)
        self.synth_samples = self._load_synth(synth_pages or []) if config.synth_ratio > 0 else []
        use_cuda = config.device != "cpu" and torch.cuda.is_available()
        self.device = torch.device(
            f"cuda:{config.device}" if use_cuda and config.device.isdigit() else ("cuda" if use_cuda else "cpu")
        )
        self.init_source = init.source if init is not None else "scratch"
        self._build(init.state if init is not None else None, base)
        self.ctc = nn.CTCLoss(blank=0, zero_infinity=True)
        self.step, self.epoch, self.elapsed, self.best_cer = 0, 0, 0.0, float("inf")
        self.history: list[dict] = []
        self.bad_evals = 0
        self.teacher = load_teacher(config.teacher, config.threads) if config.teacher else None
        if self.teacher is not None:
            check_geometry(self.teacher, self.arch.line_height, self.arch.downsample, config.width_scale)
        self.teacher_targets: list[np.ndarray] = []

    def _build(self, state: dict | None, state_charset: Charset) -> None:
        """A fresh model and optimiser for ``self.charset``, loading ``state`` (trained with ``state_charset``)."""
        self.model = self.arch.build(self.charset)
        if state is not None:
            keys, class_dim = self.arch.classifier(self.model)
            self.model.load_state_dict(adapt_classifier(state, state_charset, self.charset, keys, class_dim))
        self.model.to(self.device)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=self.config.lr, weight_decay=1e-4)
        self.ema_model = copy.deepcopy(self.model).eval() if self.config.ema_decay > 0 else None
        self.ema_updates = 0

    def _update_ema(self) -> None:
        """Move the weight average towards the current weights (see the class docstring)."""
        if self.ema_model is None:
            return
        decay = min(self.config.ema_decay, (1 + self.ema_updates) / (10 + self.ema_updates))
        with torch.no_grad():
            current = self.model.state_dict()
            for name, value in self.ema_model.state_dict().items():
                if value.dtype.is_floating_point:
                    value.mul_(decay).add_(current[name], alpha=1 - decay)
                else:
                    value.copy_(current[name])
        self.ema_updates += 1

    def to_input(self, gray: np.ndarray) -> np.ndarray:
        """The normalised model input for a grayscale crop (see :mod:`handocr.recognition.preprocess`),
        squeezed to ``config.width_scale`` of its width as the exported model will read it."""
        return normalise_line(gray, self.arch.line_height, self.config.width_scale)

    def _cached(self, name: str, cut: Callable[[], Any]) -> Any:
        """Lines cut once per run folder: ``out_dir/name`` if it is there, else ``cut()`` saved there.

        Lines cut from grown boxes (``config.min_line_height`` above 0) are kept apart, named with
        the setting (``lines.pkl`` -> ``lines-grown0.8.pkl``), so a run never reuses crops cut
        another way.
        """
        least = self.config.min_line_height
        cache = self.out / (name if least <= 0 else name.replace(".pkl", f"-grown{least:g}.pkl"))
        if cache.is_file():
            return pickle.loads(cache.read_bytes())
        data = cut()
        cache.write_bytes(pickle.dumps(data))
        return data

    def _load_samples(self, pages: list[PageRecord]) -> tuple[list[LineSample], list[LineSample]]:
        """Training and holdout lines, cached under a name that carries the split when it is not the
        default one (``lines-holdout0.1-seed1.pkl``): a ``lines.pkl`` copied in from another run
        never brings another seed's holdout pages with it."""
        fraction, seed = self.config.holdout_fraction, self.config.seed
        train_pages, held_pages = split_holdout(pages, fraction, seed)
        least = self.config.min_line_height
        default = (fraction, seed) == (RecognizerTrainConfig.holdout_fraction, RecognizerTrainConfig.seed)
        name = "lines.pkl" if default else f"lines-holdout{fraction:g}-seed{seed}.pkl"
        return self._cached(name, lambda: (cut_lines(train_pages, least), cut_lines(held_pages, least)))

    def _load_synth(self, pages: list[PageRecord]) -> list[LineSample]:
        known = set(self.charset.characters)
        lines = self._cached("synth_lines.pkl", lambda: cut_lines(pages, self.config.min_line_height))
        return [s for s in lines if s.text and set(s.text) <= known]

    def _load_teacher_targets(self) -> list[np.ndarray]:
        """The teacher's posteriors of every training line (base crops), for the current charset:
        computed once per run folder, teacher (name and version) and charset, then read from
        ``out_dir``."""
        assert self.teacher is not None
        charset = hashlib.sha1(self.charset.characters.encode("utf-8")).hexdigest()[:8]
        key = f"{self.teacher.info.name}-{self.teacher.info.version}-{charset}"
        crops = [base_crop(s) for s in self.train_samples]
        return self._cached(f"teacher-{key}.pkl", lambda: teacher_posteriors(self.teacher, crops, self.charset))

    @property
    def synth_per_epoch(self) -> int:
        """How many synthetic lines each epoch draws: ``config.synth_ratio`` of the epoch's lines, at
        most as many as there are."""
        ratio = self.config.synth_ratio
        if not self.synth_samples or ratio <= 0:
            return 0
        return min(round(len(self.train_samples) * ratio / (1 - ratio)), len(self.synth_samples))

    def epoch_samples(self) -> list[LineSample]:
        """The lines of one epoch: every real training line, plus :attr:`synth_per_epoch` synthetic
        lines drawn at random."""
        if not self.synth_per_epoch:
            return self.train_samples
        return self.train_samples + self.rng.sample(self.synth_samples, self.synth_per_epoch)

    def save(self, name: str) -> None:
        """Write a checkpoint (model, optimiser, counters, RNG) to ``out_dir/name``."""
        state = {
            "model": _cpu_state(self.model),
            **({} if self.ema_model is None else {"ema": _cpu_state(self.ema_model), "ema_updates": self.ema_updates}),
            "optimizer": self.optimizer.state_dict(),
            "step": self.step,
            "epoch": self.epoch,
            "elapsed": self.elapsed,
            "best_cer": self.best_cer,
            "history": self.history,
            "charset": self.charset.characters,
            "architecture": self.arch.name,
            "config": {k: str(v) for k, v in asdict(self.config).items()},
            "rng": self.rng.getstate(),
            "init": self.init_source,
            "bad_evals": self.bad_evals,
        }
        tmp = self.out / f"{name}.tmp"
        torch.save(state, tmp)
        tmp.replace(self.out / name)

    def resume(self) -> bool:
        """Load ``last.ckpt`` if present; return whether it was."""
        path = self.out / "last.ckpt"
        if not path.is_file():
            return False
        state = torch.load(path, weights_only=False, map_location=self.device)
        if state.get("architecture", CRNN_V1.name) != self.arch.name:
            raise ValueError(f"{path} is a {state.get('architecture', CRNN_V1.name)} run, not {self.arch.name}")
        if state["charset"] != self.charset.characters:  # the run began with another charset: keep it
            self.charset = Charset(state["charset"])
            self._build(None, self.charset)
        self.model.load_state_dict(state["model"])
        if self.ema_model is not None:  # a run resumed with an average it did not keep starts one here
            self.ema_model.load_state_dict(state.get("ema", state["model"]))
            self.ema_updates = int(state.get("ema_updates", 0))
        self.optimizer.load_state_dict(state["optimizer"])
        self.step, self.epoch, self.elapsed = state["step"], state["epoch"], state["elapsed"]
        self.best_cer, self.history = state["best_cer"], state["history"]
        self.rng.setstate(state["rng"])
        self.init_source = state.get("init", self.init_source)
        self.bad_evals = state.get("bad_evals", 0)
        return True

    def _progress(self, steps_per_epoch: int) -> float:
        if self.config.hours:
            return self.elapsed / (self.config.hours * 3600)
        return self.step / max(1, self.config.epochs * steps_per_epoch)

    def evaluate_holdout(self) -> float:
        """Greedy CER on the held-out pages' lines (read by the weight average when there is one)."""
        if not self.holdout_samples:
            return float("nan")
        model = self.ema_model if self.ema_model is not None else self.model
        texts = predict_texts(model, self.holdout_inputs, self.charset, self.arch.downsample)
        return cer([s.text for s in self.holdout_samples], texts)

    @property
    def initial_cer(self) -> float | None:
        """Holdout CER of the starting weights (``None`` when training from scratch)."""
        first = next((h for h in self.history if h.get("initial")), None)
        return None if first is None else first["holdout_cer"]

    def patience_spent(self) -> bool:
        """True when ``config.patience`` evaluations in a row brought no improvement."""
        return bool(self.config.patience) and self.bad_evals >= self.config.patience

    def train(self) -> Path:
        """Train until the time or epoch budget is spent, or the holdout CER stops improving
        (``config.patience``); return the path of the best checkpoint.

        Starting from weights, the holdout CER is measured first: ``best.ckpt`` is then never worse
        than the starting point.
        """
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(self.out / "tb"))
        steps_per_epoch = math.ceil((len(self.train_samples) + self.synth_per_epoch) / self.config.batch)
        last_ckpt = last_eval = time.monotonic()
        online = self.teacher is not None and self.config.teacher_online
        if self.teacher is not None and not online and not self.teacher_targets:
            self.teacher_targets = self._load_teacher_targets()
        real = len(self.train_samples)  # epoch lines below this index are real lines, with teacher targets
        if self.init_source != "scratch" and not self.history:
            self._eval_and_keep(writer, initial=True)
        self.model.train()
        while self._progress(steps_per_epoch) < 1.0:
            epoch = self.epoch_samples()
            for batch_idx in width_batches(epoch, self.config.batch, self.rng):
                t0 = time.monotonic()
                samples = [epoch[i] for i in batch_idx]
                distil = (online or bool(self.teacher_targets)) and self.rng.random() < self.config.distill_share
                perturb = augment_in_place if distil and not online else augment
                crops = [perturb(s, self.rng) for s in samples]
                arrays = [self.to_input(crop) for crop in crops]
                texts = [s.text for s in samples]
                batch = ctc_tensors(arrays, texts, self.charset, self.arch.downsample)
                for group in self.optimizer.param_groups:
                    progress = self._progress(steps_per_epoch)
                    group["lr"] = self.config.lr * _lr_factor(progress, self.step, self.config.warmup_steps)
                wanted = None
                if distil and online:
                    wanted = teacher_posteriors(self.teacher, crops, self.charset, progress=False)
                elif distil:
                    wanted = [self.teacher_targets[i] if i < real else None for i in batch_idx]
                loss, distill = ctc_step(
                    self.model, self.optimizer, self.ctc, batch, self.device, wanted, self.config.distill_weight
                )
                self._update_ema()
                self.step += 1
                self.elapsed += time.monotonic() - t0
                if self.step % 20 == 0:
                    writer.add_scalar("train/loss", loss.item(), self.step)
                    writer.add_scalar("train/lr", self.optimizer.param_groups[0]["lr"], self.step)
                    if distill is not None:
                        writer.add_scalar("train/distill", distill.item(), self.step)
                    print(
                        f"epoch {self.epoch} step {self.step} loss {loss.item():.3f} "
                        f"elapsed {self.elapsed / 60:.1f} min",
                        flush=True,
                    )
                now = time.monotonic()
                every = self.config.eval_steps
                if now - last_eval > self.config.eval_minutes * 60 or (every and self.step % every == 0):
                    self._eval_and_keep(writer)
                    last_eval = time.monotonic()
                if now - last_ckpt > self.config.checkpoint_minutes * 60:
                    self.save("last.ckpt")
                    last_ckpt = now
                done = self._progress(steps_per_epoch) >= 1.0 or self.patience_spent()
                if done or (self.config.max_steps and self.step >= self.config.max_steps):
                    break
            else:
                self.epoch += 1
                continue
            break
        if self.patience_spent():
            print(f"early stop: no holdout improvement in {self.bad_evals} evaluations", flush=True)
        if not self.history or self.history[-1]["step"] != self.step:
            self._eval_and_keep(writer)
        self.save("last.ckpt")
        writer.close()
        return self.out / "best.ckpt"

    def _eval_and_keep(self, writer, initial: bool = False) -> None:
        holdout_cer = self.evaluate_holdout()
        writer.add_scalar("holdout/cer", holdout_cer, self.step)
        entry = {"step": self.step, "epoch": self.epoch, "elapsed_min": round(self.elapsed / 60, 1)}
        self.history.append({**entry, "holdout_cer": holdout_cer, **({"initial": True} if initial else {})})
        print(f"holdout CER {holdout_cer:.4f} at step {self.step}", flush=True)
        if not initial and not math.isnan(holdout_cer):
            self.bad_evals = 0 if holdout_cer < self.best_cer else self.bad_evals + 1
        if holdout_cer <= self.best_cer or not (self.out / "best.ckpt").exists():
            self.best_cer = holdout_cer
            self.save("best.ckpt")


def export_recognizer(checkpoint: Path | Sequence[Path], target: Path) -> Path:
    """Export a checkpoint (or a ``model.pt``) to ONNX: input ``images (N, 1, H, W)``, output ``log_probs (N, W/d, C)``.

    Given several checkpoints, it exports the uniform mean of their weights
    (:func:`~handocr.training.average.average`). See :func:`export_weights`.
    """
    return export_weights(*read_export_sources(checkpoint), target)


def read_export_sources(checkpoint: Path | Sequence[Path]) -> tuple[InitialWeights, dict[str, Any]]:
    """The weights to export from ``checkpoint`` (one file, or several to average, each read once)
    and their provenance for ``model.train.json``: the file(s) and the training histories (none in
    a ``model.pt``)."""
    sources = [Path(checkpoint)] if isinstance(checkpoint, str | Path) else [Path(p) for p in checkpoint]
    loaded = [load_weights_file(path) for path in sources]
    weights = [read_weights(path, obj) for path, obj in zip(sources, loaded, strict=True)]
    histories = [obj.get("history", []) if isinstance(obj, dict) else [] for obj in loaded]
    if len(sources) == 1:
        return weights[0], {"checkpoint": str(sources[0]), "history": histories[0]}
    provenance = {"checkpoints": [str(p) for p in sources], "average": "uniform", "histories": histories}
    return average(weights), provenance


def export_weights(weights: InitialWeights, provenance: dict[str, Any], target: Path) -> Path:
    """Write ``weights`` to ONNX at ``target``. The charset, geometry (``line_height`` H, ``downsample``
    d) and architecture go into the ONNX metadata, so the file is self-contained. The torch weights
    with their charset are written beside it as ``model.pt``, to fine-tune from; ``provenance`` as
    ``model.train.json``."""
    import onnx

    charset, arch_name, state = weights.charset, weights.architecture, weights.state
    arch = get_architecture(arch_name)
    model = arch.build(charset)
    model.load_state_dict(state)
    target.parent.mkdir(parents=True, exist_ok=True)
    arch.export(model, target)
    proto = onnx.load(str(target))
    meta = {
        "charset": charset.to_json(),
        "line_height": str(arch.line_height),
        "downsample": str(arch.downsample),
        "architecture": arch.name,
    }
    for key, value in meta.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(proto, str(target))
    target.with_suffix(".train.json").write_text(json.dumps(provenance, indent=1))
    save_weights(state, charset, target.with_name(WEIGHTS_FILE), arch)  # to fine-tune from (--from)
    return target

"""Fine-tuning: start from weights (charset kept, extended for new characters), early stop, install."""

from __future__ import annotations

import argparse
import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

import torch

from conftest import write_generated_pages
from handocr.recognition.charset import Charset


@pytest.fixture(scope="module")
def base_model(two_page_set, tmp_path_factory) -> Path:
    """A 2-step model whose charset lacks 'e', exported as a model folder (model.onnx + model.pt)."""
    from handocr.datasets import load_pages
    from handocr.training.recognizer import RecognizerTrainConfig, RecognizerTrainer, export_recognizer

    out = tmp_path_factory.mktemp("base")
    narrow = Charset(Charset().characters.replace("e", ""))
    config = RecognizerTrainConfig(
        out_dir=out / "run", max_steps=2, batch=4, holdout_fraction=0.5, epochs=1, extend_charset=False
    )
    trainer = RecognizerTrainer(load_pages([two_page_set], None), config, charset=narrow)
    export_recognizer(trainer.train(), out / "models" / "base" / "model.onnx")
    return out / "models" / "base"


def _train_cli(argv: list[str]) -> int:
    from handocr.training_cli import add_training_commands

    parser = argparse.ArgumentParser(prog="handocr")
    add_training_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def test_export_writes_weights_with_charset(base_model):
    from handocr.training.finetune import read_weights

    weights = torch.load(base_model / "model.pt", weights_only=True)
    assert weights["architecture"] == "crnn-v1" and "e" not in weights["charset"]
    init = read_weights(base_model / "model.pt")
    assert init.charset.characters == weights["charset"]
    # a bare state_dict takes its charset from the model.onnx beside it
    torch.save(weights["model"], base_model / "bare.pt")
    assert read_weights(base_model / "bare.pt").charset == init.charset


def test_adapt_classifier_keeps_known_rows():
    from handocr.training.crnn import CRNN
    from handocr.training.finetune import adapt_classifier, extend_charset

    old = Charset("abc")
    state = CRNN(old.num_classes).state_dict()
    new = extend_charset(old, ["cab", "zebra"])
    assert new.characters == "abcerz"
    adapted = adapt_classifier(state, old, new)
    assert adapted["classifier.weight"].shape[0] == new.num_classes == 7
    assert torch.equal(adapted["classifier.weight"][:4], state["classifier.weight"])
    assert torch.equal(adapted["classifier.bias"][:4], state["classifier.bias"])
    CRNN(new.num_classes).load_state_dict(adapted)
    with pytest.raises(ValueError):
        adapt_classifier(state, old, Charset("xyz"))


def test_finetune_from_weights_extends_charset_and_installs(two_page_set, base_model, tmp_path, monkeypatch):
    from handocr.models import find_model, load_recognizer

    models = tmp_path / "models"
    models.mkdir()
    monkeypatch.setenv("HANDOCR_MODELS", str(models))
    argv = ["train", "recognizer", "--data", str(two_page_set), "--split", "all", "--out", str(tmp_path / "run")]
    argv += ["--from", str(base_model), "--max-steps", "2", "--batch", "4", "--holdout", "0.5", "--install", "mine"]
    assert _train_cli(argv) == 0
    state = torch.load(tmp_path / "run" / "best.ckpt", weights_only=False)
    assert state["init"] == str(base_model / "model.pt")
    assert state["charset"].startswith(Charset().characters.replace("e", "")) and state["charset"].endswith("e")
    assert state["history"][0]["initial"] is True and state["history"][0]["step"] == 0
    folder = models / "mine"
    settings = json.loads((folder / "model.json").read_text())
    assert settings["kind"] == "recognizer" and settings["holdout_cer_before"] is not None
    assert settings["holdout_cer_after"] <= settings["holdout_cer_before"]  # best.ckpt is never worse
    card = (folder / "README.md").read_text()
    assert "holdout CER before" in card and "'e'" in card
    assert find_model("mine").folder == folder and (folder / "model.pt").is_file()
    recognizer = load_recognizer("mine", threads=1)
    assert recognizer.charset.characters == state["charset"]
    assert len(recognizer.recognize([np.full((40, 200), 255, np.uint8)])) == 1


def test_patience_stops_on_a_plateau(two_page_set, base_model, tmp_path):
    from handocr.datasets import load_pages
    from handocr.training.finetune import read_weights
    from handocr.training.recognizer import RecognizerTrainConfig, RecognizerTrainer

    config = RecognizerTrainConfig(
        out_dir=tmp_path / "run", max_steps=20, batch=4, holdout_fraction=0.5, patience=2, eval_steps=1
    )
    trainer = RecognizerTrainer(load_pages([two_page_set], None), config, init=read_weights(base_model / "model.pt"))
    trainer.evaluate_holdout = lambda: 0.5  # a plateau from the start
    trainer.train()
    assert trainer.step == 2 and trainer.patience_spent() and trainer.initial_cer == 0.5
    resumed = RecognizerTrainer(load_pages([two_page_set], None), config)  # default charset: resume restores it
    assert resumed.resume() and resumed.bad_evals == 2 and resumed.charset == trainer.charset


def test_from_shipped_and_protected_names(two_page_set, base_model, tmp_path, monkeypatch, capsys):
    import handocr.training.finetune as finetune

    roots = tmp_path / "roots"
    monkeypatch.setattr(finetune, "model_roots", lambda: [roots])
    run = ["train", "recognizer", "--data", str(two_page_set), "--split", "all", "--max-steps", "1", "--batch", "4"]
    run += ["--holdout", "0.5", "--out", str(tmp_path / "run")]
    assert _train_cli([*run, "--from", "shipped"]) == 2
    assert "--from scratch" in capsys.readouterr().err
    (roots / "line-recognizer").mkdir(parents=True)
    shutil.copy(base_model / "model.pt", roots / "line-recognizer" / "model.pt")
    assert finetune.resolve_init("shipped").source == str(roots / "line-recognizer" / "model.pt")
    assert finetune.resolve_init("scratch") is None
    assert _train_cli([*run, "--install", "line-recognizer"]) == 2
    assert _train_cli([*run, "--from", str(tmp_path / "nowhere")]) == 2


@pytest.fixture(scope="module")
def synth_set(tmp_path_factory) -> Path:
    """Two small generated pages."""
    return write_generated_pages(tmp_path_factory.mktemp("synth") / "set", 2, seed=3, long_side=480)


def test_synthetic_lines_make_up_the_asked_share_of_each_epoch(two_page_set, synth_set, tmp_path):
    from handocr.datasets import load_pages
    from handocr.training.recognizer import RecognizerTrainConfig, RecognizerTrainer

    real = load_pages([two_page_set], None)
    synth = load_pages([synth_set], "train", prefer="pages")
    config = RecognizerTrainConfig(out_dir=tmp_path / "run", max_steps=1, batch=4, holdout_fraction=0.5)
    trainer = RecognizerTrainer(real, replace(config, synth_ratio=0.2), synth_pages=synth)
    known = set(trainer.charset.characters)
    assert trainer.synth_samples and all(set(s.text) <= known for s in trainer.synth_samples)
    synth_texts = {s.text for s in trainer.synth_samples}
    assert not synth_texts & {s.text for s in trainer.holdout_samples}  # never in the holdout
    epoch = trainer.epoch_samples()
    n_real = len(trainer.train_samples)
    wanted = min(round(n_real * 0.2 / 0.8), len(trainer.synth_samples))
    assert len(epoch) == n_real + wanted
    assert all(a is b for a, b in zip(epoch[:n_real], trainer.train_samples, strict=True))
    synth_ids = {id(s) for s in trainer.synth_samples}
    assert all(id(s) in synth_ids for s in epoch[n_real:]) and len({id(s) for s in epoch[n_real:]}) == wanted
    plain = RecognizerTrainer(real, config, synth_pages=synth)  # ratio 0: real lines only
    assert plain.synth_samples == [] and plain.epoch_samples() is plain.train_samples


def test_synth_options_on_the_command_line(two_page_set, synth_set, base_model, tmp_path, monkeypatch, capsys):
    models = tmp_path / "models"
    models.mkdir()
    monkeypatch.setenv("HANDOCR_MODELS", str(models))
    run = ["train", "recognizer", "--data", str(two_page_set), "--split", "all", "--max-steps", "1", "--batch", "4"]
    run += ["--holdout", "0.5", "--from", str(base_model), "--synth", str(synth_set)]
    assert _train_cli([*run, "--out", str(tmp_path / "a"), "--synth-ratio", "1"]) == 2
    assert "--synth-ratio" in capsys.readouterr().err
    assert _train_cli([*run, "--out", str(tmp_path / "b"), "--synth", str(tmp_path / "empty")]) == 2
    assert _train_cli([*run, "--out", str(tmp_path / "c"), "--synth-ratio", "0.3", "--install", "mixed"]) == 0
    card = (models / "mixed" / "README.md").read_text()
    assert f"from {synth_set}" in card and "30% of each epoch" in card


def test_a_width_scale_trains_exports_and_installs_narrow_reading(two_page_set, base_model, tmp_path, monkeypatch):
    from handocr.models import load_recognizer
    from handocr.training.finetune import read_weights

    models = tmp_path / "models"
    models.mkdir()
    monkeypatch.setenv("HANDOCR_MODELS", str(models))
    run = ["train", "recognizer", "--data", str(two_page_set), "--split", "all", "--max-steps", "1", "--batch", "4"]
    run += ["--holdout", "0.5", "--from", str(base_model), "--out", str(tmp_path / "run")]
    assert _train_cli([*run, "--width-scale", "0.1"]) == 2
    assert _train_cli([*run, "--width-scale", "0.7", "--install", "narrow"]) == 0
    assert read_weights(tmp_path / "run" / "best.ckpt").width_scale == 0.7
    assert json.loads((models / "narrow" / "model.json").read_text())["width_scale"] == 0.7
    assert load_recognizer("narrow", threads=1).width_scale == 0.7
    out = tmp_path / "exported"
    export = ["export", "recognizer", "--checkpoint", str(tmp_path / "run" / "best.ckpt"), "--out", str(out)]
    assert _train_cli([*export, "--name", "narrow-2", "--version", "0"]) == 0
    assert json.loads((out / "model.json").read_text())["width_scale"] == 0.7
    chosen = {"crop_trim": 0.13, "lexicon": "lexicon.txt.gz", "oov_penalty": -3.0, "openvino": {"precision": "bf16"}}
    chosen |= {"languages": {"fr": {"lm": "char-lm-fr-cased.npz"}}, "lm_weight": 0.7, "char_calibration": {"x": [0, 1]}}
    settings = json.loads((out / "model.json").read_text())
    (out / "model.json").write_text(json.dumps({**settings, **chosen, "width_scale": 0.5}))
    assert _train_cli([*export, "--name", "narrow-2", "--version", "1"]) == 0  # exported again into the folder
    again_settings = json.loads((out / "model.json").read_text())
    assert {k: again_settings.get(k) for k in chosen} == {**chosen, "char_calibration": None}  # a map of old weights
    assert again_settings["width_scale"] == 0.7 and again_settings["version"] == "1"  # the weights' own
    again = ["train", "recognizer", "--data", str(two_page_set), "--split", "all", "--max-steps", "1", "--batch", "4"]
    again += ["--holdout", "0.5", "--from", str(models / "narrow"), "--out", str(tmp_path / "again")]
    assert _train_cli(again) == 0  # no --width-scale: the starting model's own
    assert read_weights(tmp_path / "again" / "best.ckpt").width_scale == 0.7


def test_the_trainer_reads_holdout_lines_at_its_width_scale(two_page_set, tmp_path):
    from handocr.datasets import load_pages
    from handocr.training.line_data import base_crop
    from handocr.training.recognizer import RecognizerTrainConfig, RecognizerTrainer

    config = RecognizerTrainConfig(out_dir=tmp_path / "run", max_steps=1, batch=4, holdout_fraction=0.5)
    pages = load_pages([two_page_set], None)
    plain = RecognizerTrainer(pages, config)
    narrow = RecognizerTrainer(pages, replace(config, out_dir=tmp_path / "narrow", width_scale=0.6))
    for sample, wide, squeezed in zip(plain.holdout_samples, plain.holdout_inputs, narrow.holdout_inputs, strict=True):
        crop = base_crop(sample)
        assert wide.shape[1] == round(crop.shape[1] * 32 / crop.shape[0])
        assert squeezed.shape[1] == round(crop.shape[1] * 32 / crop.shape[0] * 0.6)


def test_lines_cut_from_grown_boxes_are_cached_apart(two_page_set, tmp_path):
    from handocr.datasets import load_pages
    from handocr.training.recognizer import RecognizerTrainConfig, RecognizerTrainer

    run = tmp_path / "run"
    config = RecognizerTrainConfig(out_dir=run, max_steps=1, batch=4, holdout_fraction=0.5)
    pages = load_pages([two_page_set], None)
    RecognizerTrainer(pages, config)
    RecognizerTrainer(pages, replace(config, min_line_height=0.8))
    assert sorted(p.name for p in run.glob("*.pkl")) == [
        "lines-holdout0.5-seed0-grown0.8.pkl",
        "lines-holdout0.5-seed0.pkl",
    ]


def test_a_cached_split_is_never_reused_by_another_seed(two_page_set, tmp_path):
    from handocr.datasets import load_pages
    from handocr.training.recognizer import RecognizerTrainConfig, RecognizerTrainer

    run = tmp_path / "run"
    pages = load_pages([two_page_set], None)
    config = RecognizerTrainConfig(out_dir=run, max_steps=1, batch=4, holdout_fraction=0.5, seed=0)
    held = {}
    for seed in range(8):  # two pages, one held out: some seed holds out the other page than seed 0
        trainer = RecognizerTrainer(pages, replace(config, seed=seed))
        held[seed] = sorted(s.text for s in trainer.holdout_samples)
        fresh = RecognizerTrainer(pages, replace(config, out_dir=tmp_path / f"fresh{seed}", seed=seed))
        assert held[seed] == sorted(s.text for s in fresh.holdout_samples)
    assert len({tuple(texts) for texts in held.values()}) == 2
    assert (run / "lines-holdout0.5-seed3.pkl").is_file()


def test_export_of_several_checkpoints_writes_the_mean_of_their_weights(base_model, tmp_path, capsys, monkeypatch):
    from handocr.models import load_recognizer
    from handocr.training.architectures import CRNN_V1
    from handocr.training.finetune import save_weights

    base = torch.load(base_model / "model.pt", weights_only=True)
    charset = Charset(base["charset"])
    shifted = {k: v + 1.0 if v.is_floating_point() else v + 5 for k, v in base["model"].items()}
    save_weights(base["model"], charset, tmp_path / "a" / "model.pt", CRNN_V1)
    save_weights(shifted, charset, tmp_path / "b" / "model.pt", CRNN_V1)
    out = tmp_path / "soup"
    export = ["export", "recognizer", "--checkpoint", str(tmp_path / "a" / "model.pt")]
    export += ["--checkpoint", str(tmp_path / "b" / "model.pt"), "--out", str(out)]
    reads, real_load = [], torch.load
    monkeypatch.setattr(torch, "load", lambda path, *a, **k: reads.append(Path(path)) or real_load(path, *a, **k))
    assert _train_cli(export) == 0
    monkeypatch.undo()
    assert sorted(reads) == [tmp_path / "a" / "model.pt", tmp_path / "b" / "model.pt"]  # each file read once
    mean = torch.load(out / "model.pt", weights_only=True)
    assert mean["charset"] == base["charset"] and mean.keys() == base.keys()
    for key, tensor in base["model"].items():
        expected = tensor + 0.5 if tensor.is_floating_point() else tensor  # counters: the first file's
        assert torch.allclose(mean["model"][key], expected, atol=1e-6), key
    provenance = json.loads((out / "model.train.json").read_text())
    assert provenance["average"] == "uniform" and len(provenance["checkpoints"]) == 2
    assert load_recognizer(out, threads=1).charset.characters == charset.characters  # a working model folder
    capsys.readouterr()

    other = Charset(charset.characters[:-1])
    classifier = {k: v[:-1] if k.startswith("classifier") else v for k, v in base["model"].items()}
    save_weights(classifier, other, tmp_path / "c" / "model.pt", CRNN_V1)
    mixed = ["export", "recognizer", "--checkpoint", str(tmp_path / "a" / "model.pt")]
    mixed += ["--checkpoint", str(tmp_path / "c" / "model.pt"), "--out", str(tmp_path / "mixed")]
    assert _train_cli(mixed) == 2
    assert "another charset" in capsys.readouterr().err
    assert not (tmp_path / "mixed" / "model.onnx").exists()

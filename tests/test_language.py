"""Language-specific decoders: the per-page guess, the choice a recognizer makes, and the settings."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from handocr.errors import ModelNotFound, UnknownLanguage
from handocr.recognition.language import ANY, AUTO, check_language, guess_language
from handocr.recognition.lexicon import Lexicon
from test_beam import peaked_line

REPO = Path(__file__).resolve().parent.parent
FRENCH = ["le chat dort dans la maison", "les enfants jouent avec leurs amis", "nous avons mangé une pomme"]
ENGLISH = ["the cat sleeps in the house", "the children play with their friends", "we have eaten an apple"]


@pytest.fixture(scope="module")
def lexicons() -> dict[str, Lexicon]:
    french = "le chat dort dans la maison les enfants jouent avec leurs amis nous avons mangé une pomme"
    english = "the cat sleeps in the house children play with their friends we have eaten an apple"
    return {"fr": Lexicon(french.split()), "en": Lexicon(english.split())}


def test_the_guess_counts_words_only_one_language_knows(lexicons):
    assert guess_language(FRENCH, lexicons) == "fr"
    assert guess_language(ENGLISH, lexicons) == "en"
    assert guess_language(["cat chat cat chat cat chat"], lexicons) is None  # "cat"/"chat" are in both
    assert guess_language(["1888 12/76 ...", ""], lexicons) is None  # nothing to judge
    assert guess_language(["the house", "la maison"], lexicons) is None  # too few words
    mixed = [FRENCH[0], ENGLISH[0]]  # 6 French-only words against 5 English-only: unclear
    assert guess_language(mixed, lexicons) is None
    assert guess_language(mixed, lexicons, min_ratio=1.0) == "fr"
    assert guess_language(FRENCH[:1], lexicons, min_words=7) is None


def test_a_language_must_be_one_the_recognizer_reads():
    check_language(AUTO, ())
    check_language(ANY, ())
    check_language("fr", ("fr", "en"))
    with pytest.raises(UnknownLanguage, match="reads auto, any, fr, en"):
        check_language("de", ("fr", "en"))
    with pytest.raises(ValueError):  # UnknownLanguage is a ValueError too
        check_language("fr", ())


@pytest.fixture(scope="module")
def shipped():
    from handocr.models import load_recognizer

    return load_recognizer("line-recognizer", threads=1)


def _lines(texts: list[str], characters: str) -> list[np.ndarray]:
    return [peaked_line(text, seed=i, chars=characters) for i, text in enumerate(texts)]


def test_the_shipped_recognizer_decodes_each_page_with_its_language(shipped):
    assert shipped.languages == ("fr", "en")
    characters = shipped.charset.characters
    french, english = _lines(FRENCH, characters), _lines(ENGLISH, characters)
    assert shipped.page_decoder(french) is shipped.language_decoders["fr"]
    assert shipped.page_decoder(english) is shipped.language_decoders["en"]
    assert shipped.page_decoder(_lines(["1888", "12 / 76"], characters)) is shipped.decoder  # unclear: general
    assert shipped.page_decoder(french, ANY) is shipped.decoder
    assert shipped.page_decoder(french, "en") is shipped.language_decoders["en"]
    with pytest.raises(UnknownLanguage):
        shipped.page_decoder(french, "de")
    for code, decoder in shipped.language_decoders.items():  # each its own LM and lexicon, the rest shared
        assert decoder.lm is not shipped.decoder.lm and decoder.lexicon is not shipped.decoder.lexicon, code
        assert (decoder.lm_weight, decoder.beam_width) == (shipped.decoder.lm_weight, shipped.decoder.beam_width)
        assert decoder.char_calibration == shipped.decoder.char_calibration


def test_recognize_reads_a_page_in_the_language_asked(shipped):
    crops = [np.full((48, 200), 255, np.uint8)]
    assert len(shipped.recognize(crops, language="fr")) == 1
    with pytest.raises(UnknownLanguage):
        shipped.recognize(crops, language="de")


def _model_with_languages(tmp_path: Path, languages: object) -> Path:
    folder = tmp_path / "model"
    shutil.copytree(REPO / "models" / "line-recognizer-crnn", folder)
    shutil.copy(REPO / "models" / "languages" / "char-lm-6gram.npz", folder / "char-lm-cased.npz")  # its own LM
    settings = json.loads((folder / "model.json").read_text())
    settings.update({"decoder": "beam", "lm": "char-lm-cased.npz", "lm_weight": 0.5, "languages": languages})
    (folder / "model.json").write_text(json.dumps(settings))
    return folder


def test_language_settings_replace_only_the_keys_they_name(tmp_path):
    from handocr.models import load_recognizer, recognizer_languages

    folder = _model_with_languages(tmp_path, {"xx": {"lm_weight": 0.9}, "yy": {"lm": None}})
    recognizer = load_recognizer(folder, threads=1)
    assert recognizer_languages(folder) == ("xx", "yy") == recognizer.languages
    xx, yy = recognizer.language_decoders["xx"], recognizer.language_decoders["yy"]
    assert xx.lm_weight == 0.9 and xx.lm is not None and xx.method == "beam"
    assert yy.lm is None and yy.lm_weight == 0.5


@pytest.mark.parametrize("languages", [{"auto": {}}, {"any": {}}, {"fr": "char-lm.npz"}])
def test_a_model_json_with_bad_languages_is_refused(tmp_path, languages):
    from handocr.models import load_recognizer

    with pytest.raises(ModelNotFound, match="languages"):
        load_recognizer(_model_with_languages(tmp_path, languages), threads=1)


def test_the_reader_passes_its_language_and_refuses_unknown_ones(page_image):
    from fakes import FixedTextRecognizer, InkBandDetector
    from handocr.pipeline import Reader, ReadOptions

    asked = []

    class Recorder(FixedTextRecognizer):
        languages = ("fr",)

        def recognize(self, crops, language="auto"):
            asked.append(language)
            return super().recognize(crops, language)

    Reader(InkBandDetector(), Recorder(), ReadOptions(language="fr")).read_images([page_image])
    Reader(InkBandDetector(), Recorder()).read_images([page_image])
    assert asked[0] == "fr" and set(asked[1:]) == {"auto"}
    with pytest.raises(UnknownLanguage):
        Reader(InkBandDetector(), Recorder(), ReadOptions(language="en"))
    with pytest.raises(UnknownLanguage):  # a recognizer without languages reads auto and any only
        Reader(InkBandDetector(), FixedTextRecognizer(), ReadOptions(language="fr"))


def test_the_cli_takes_a_language_and_refuses_unknown_ones(tmp_path, capsys):
    from handocr.cli import main

    example = REPO / "examples" / "copiste_0212.jpg"
    assert main(["read", str(example), "--language", "de", "--threads", "1"]) == 2
    assert "unknown language 'de'" in capsys.readouterr().err
    assert main(["read", str(example), "--language", "de", "-j", "2", "-o", str(tmp_path), "--threads", "1"]) == 2
    assert main(["read", str(example), "--language", "fr", "--threads", "1"]) == 0
    assert "mathématicien" in capsys.readouterr().out
    assert main(["models"]) == 0
    assert "languages: fr,en" in capsys.readouterr().out
    assert main(["eval", "--data", str(tmp_path), "--language", "de", "--threads", "1"]) == 2
    assert "unknown language 'de'" in capsys.readouterr().err


def test_the_service_refuses_a_language_its_recognizer_lacks(monkeypatch):
    pytest.importorskip("fastapi")
    from handocr.service import ServiceConfigError, Settings
    from handocr.service.server import check_language as check_service_language

    check_service_language(Settings(language="en"))
    with pytest.raises(ServiceConfigError, match="HANDOCR_LANGUAGE"):
        check_service_language(Settings(language="de"))
    check_service_language(Settings(language="de", recognizer="no-such-model"))  # left to the model load


def test_each_page_says_which_language_read_it():
    from PIL import Image

    from handocr.pipeline import Reader, ReadOptions

    example = Image.open(REPO / "examples" / "copiste_0212.jpg")
    reader = Reader.load(threads=1)
    page = reader.read_images([example]).pages[0]
    assert page.language == "fr" and "mathématicien" in page.text
    turned = reader.read_images([example.rotate(180, expand=True)]).pages[0]
    assert (turned.rotation, turned.language) == (180, "fr")  # the page turned back keeps it
    general = Reader(reader.detector, reader.recognizer, ReadOptions(language="any"))
    assert general.read_images([example]).pages[0].language is None
    assert '"language":"fr"' in reader.read_images([example]).model_dump_json()


def test_the_service_reads_each_request_in_the_language_it_asks_for():
    pytest.importorskip("fastapi")
    from fakes import FixedTextRecognizer, InkBandDetector
    from handocr.pipeline import Reader
    from test_service_jobs import wait_for
    from test_service_support import AUTH, client_for, png

    asked = []

    class Recorder(FixedTextRecognizer):
        languages = ("fr", "en")

        def recognize(self, crops, language="auto"):
            asked.append(language)
            return super().recognize(crops, language)

    image = {**AUTH, "Content-Type": "image/png"}
    with client_for(Reader(InkBandDetector(), Recorder())) as client:
        assert client.get("/readyz").json()["languages"] == ["fr", "en"]
        asked.clear()  # the warm-up read
        assert client.post("/v1/read?language=fr", content=png(), headers=image).status_code == 200
        assert client.post("/v1/read", content=png(), headers=image).status_code == 200
        assert asked == ["fr", "auto"]
        refused = client.post("/v1/read?language=de", content=png(), headers=image)
        assert refused.status_code == 422 and "unknown language 'de'" in refused.json()["detail"]
        assert asked == ["fr", "auto"]  # refused before reading
        files = [("files", ("a.png", png(), "image/png")), ("files", ("b.png", png(), "image/png"))]
        assert client.post("/v1/read:batch?language=en", files=files, headers=AUTH).status_code == 200
        assert asked[2:] == ["en", "en"]
        job = client.post("/v1/jobs?language=any", content=png(), headers=image)
        assert wait_for(client, job.headers["operation-location"], AUTH)["status"] == "succeeded"
        assert asked[-1] == "any"
        assert client.post("/v1/jobs?language=de", content=png(), headers=image).status_code == 422


def test_decoder_files_come_from_the_model_folder_first_then_the_shared_languages_folder(tmp_path):
    from handocr.models import decoder_settings, find_model, load_recognizer

    languages = {"fr": {"lm": "char-lm-fr-cased.npz", "lexicon": "lexicon-fr.txt.gz"}}
    folder = _model_with_languages(tmp_path, languages)  # holds its own char-lm-cased.npz, not the French files
    settings = decoder_settings(find_model(folder))
    assert settings["lm"] == str(folder / "char-lm-cased.npz")  # its own, though languages/ has one too
    shared = REPO / "models" / "languages"
    french = {"lm": str(shared / "char-lm-fr-cased.npz"), "lexicon": str(shared / "lexicon-fr.txt.gz")}
    assert settings["languages"]["fr"] == french
    assert json.loads((folder / "model.json").read_text())["languages"] == languages  # model.json keeps the names
    assert load_recognizer(folder, threads=1).language_decoders["fr"].lexicon is not None


def test_a_model_folder_given_as_a_relative_path_finds_its_own_decoder_files(tmp_path, monkeypatch):
    from handocr.models import load_recognizer

    folder = _model_with_languages(tmp_path / "runs", {"fr": {"lm": "char-lm-fr-cased.npz"}})
    monkeypatch.chdir(tmp_path)
    recognizer = load_recognizer(folder.relative_to(tmp_path), threads=1)  # its own LM, by a relative path
    assert recognizer.decoder.lm is not None and recognizer.language_decoders["fr"].lm is not None


def test_a_languages_folder_in_handocr_models_comes_before_the_shipped_one(tmp_path, monkeypatch):
    from handocr.models import decoder_settings, find_model

    root = tmp_path / "mine"
    (root / "languages").mkdir(parents=True)
    shutil.copy(REPO / "models" / "languages" / "lexicon-en.txt.gz", root / "languages")
    monkeypatch.setenv("HANDOCR_MODELS", str(root))
    folder = _model_with_languages(tmp_path, {"en": {"lexicon": "lexicon-en.txt.gz"}})
    english = decoder_settings(find_model(folder))["languages"]["en"]
    assert english["lexicon"] == str(root / "languages" / "lexicon-en.txt.gz")


def test_a_decoder_file_found_nowhere_is_a_clear_error(tmp_path):
    from handocr.models import load_recognizer

    folder = _model_with_languages(tmp_path, {"fr": {"lm": "char-lm-xx.npz"}})
    with pytest.raises(ModelNotFound, match=r"decoder file 'char-lm-xx\.npz' not found"):
        load_recognizer(folder, threads=1)


def test_every_shipped_recognizer_finds_its_decoder_files():
    from handocr.models import DECODER_FILE_KEYS, decoder_settings, find_model

    recognizers = [s.parent for s in (REPO / "models").glob("*/model.json") if '"recognizer"' in s.read_text()]
    assert len(recognizers) >= 5
    for folder in recognizers:
        settings = decoder_settings(find_model(folder))
        entries = [settings, *(settings.get("languages") or {}).values()]
        assert all(Path(e[k]).is_file() for e in entries for k in DECODER_FILE_KEYS if e.get(k)), folder

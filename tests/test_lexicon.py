"""The word lexicon of beam search: what is judged, the file, and the choice it changes."""

from __future__ import annotations

import gzip

import pytest

from handocr.recognition.beam import CtcDecoder, beam_decode, prefix_beam_search
from handocr.recognition.ctc import greedy_decode
from handocr.recognition.lexicon import Lexicon, lexicon_key, main
from test_beam import CHARS, peaked_line, table


def test_only_plain_words_are_judged():
    assert lexicon_key("Grenoble.") == "grenoble"
    assert lexicon_key("«Été»") == "été"
    assert lexicon_key("(1788)") is None and lexicon_key("l'album") is None and lexicon_key("P.S.") is None
    assert lexicon_key("...") is None and lexicon_key("") is None
    lexicon = Lexicon(["Cat", "été", "12", "a-b"])
    assert lexicon.words == {"cat", "été"}
    assert lexicon.knows("CAT,") and lexicon.knows("1788") and lexicon.knows("l'album")
    assert not lexicon.knows("cax")


@pytest.mark.parametrize("lexicon_words", [["Cat", "été", "zebra", "ab", "abc"], ["chat"], []])
def test_knows_each_answers_as_knows_does(lexicon_words):
    lexicon = Lexicon(lexicon_words)
    words = ["cat", "CAT,", "été", "Été!", "zebras", "zebr", "a", "ab", "abc", "abcd", "chat", "chats"]
    words += ["1788", "l'album", "", "...", "catcatcatcatcat", "«zebra»", "x" * 40, "œuvre", "ÉTÉ"]
    assert lexicon.knows_each(words) == [lexicon.knows(word) for word in words]
    assert lexicon.knows_each([]) == []


def test_a_lexicon_file_round_trips_and_is_deterministic(tmp_path):
    lexicon = Lexicon(["zebra", "apple", "Apple"])
    lexicon.save(tmp_path / "a.txt.gz")
    lexicon.save(tmp_path / "b.txt.gz")
    assert (tmp_path / "a.txt.gz").read_bytes() == (tmp_path / "b.txt.gz").read_bytes()
    assert gzip.decompress((tmp_path / "a.txt.gz").read_bytes()).decode() == "#handocr-lexicon 1\napple\nzebra\n"
    loaded = Lexicon.load(tmp_path / "a.txt.gz")
    assert loaded.words == {"apple", "zebra"} and loaded.knows("Zebra!") and not loaded.knows("zebras")
    (tmp_path / "plain.txt").write_text("Two\none\nOne\n")  # any word list: normalised and sorted
    assert Lexicon.load(tmp_path / "plain.txt").words == {"one", "two"}
    (tmp_path / "bad.txt").write_text("#handocr-lexicon 1\nzebra\napple\n")
    with pytest.raises(ValueError, match="sorted"):
        Lexicon.load(tmp_path / "bad.txt")
    assert len(Lexicon([])) == 0 and not Lexicon([]).knows("word")


def test_the_build_command_reads_word_lists_and_train_transcriptions(tmp_path, capsys):
    from conftest import write_generated_pages
    from handocr.datasets.collection import recognition_lines
    from handocr.datasets.detect import open_dataset

    pages = write_generated_pages(tmp_path / "pages", 1, seed=4, long_side=600)
    (tmp_path / "words.txt").write_text("Zanzibar\nquokka\n")
    out = tmp_path / "lexicon.txt.gz"
    main([str(out), "--lang", "--word-list", str(tmp_path / "words.txt"), "--data", str(pages)])
    words = Lexicon.load(out).words
    assert {"zanzibar", "quokka"} <= words
    texts = [t for page in open_dataset(pages, prefer="pages").pages("train") for _, t in recognition_lines(page)]
    plain = {k for t in texts for w in t.split() if (k := lexicon_key(w))}
    assert plain and plain <= words
    assert "words" in capsys.readouterr().out


def _torn_line():
    """ "ca" then a frame torn between x (0.55) and t (0.45), then a space: greedy reads "cax "."""
    chars = "actx "
    rows = [{"c": 0.95}, {"-": 0.95}, {"a": 0.95}, {"-": 0.95}, {"x": 0.55, "t": 0.45}, {"-": 0.95}, {" ": 0.9}]
    return chars, table(rows, chars)


def test_a_word_the_lexicon_lacks_pays_the_penalty():
    chars, lp = _torn_line()
    assert greedy_decode(lp, chars).text == "cax "
    lexicon = Lexicon(["cat"])
    assert beam_decode(lp, chars, beam_width=8, lexicon=lexicon).text == "cax "  # no penalty: no effect
    assert beam_decode(lp, chars, beam_width=8, lexicon=lexicon, oov_penalty=-1.0).text == "cat "
    assert beam_decode(lp, chars, beam_width=8, lexicon=Lexicon(["cax"]), oov_penalty=-1.0).text == "cax "
    # the last word of the line is judged too, with no space after it
    end = lp[:-1]
    assert beam_decode(end, chars, beam_width=8, lexicon=lexicon, oov_penalty=-1.0).text == "cat"
    with pytest.raises(ValueError, match="oov_penalty"):
        prefix_beam_search(lp, characters=chars, lexicon=lexicon, oov_penalty=0.5)


def test_confident_lines_keep_their_words_with_a_lexicon(tmp_path):
    text = "the quick brown fox jumps over the lazy dog"
    lexicon = Lexicon(["the", "lazy", "dog"])  # most of the words unknown: a clear reading still wins
    for seed in range(5):
        assert beam_decode(peaked_line(text, seed=seed), CHARS, lexicon=lexicon, oov_penalty=-3.0).text == text


def test_the_decoder_reads_its_lexicon_from_model_settings(tmp_path):
    Lexicon(["cat"]).save(tmp_path / "lexicon.txt.gz")
    chars, lp = _torn_line()
    settings = {"decoder": "beam", "lexicon": "lexicon.txt.gz", "oov_penalty": -1.0}
    decoder = CtcDecoder.from_settings(settings, tmp_path, chars)
    assert decoder.lexicon is not None and decoder.oov_penalty == -1.0
    assert decoder(lp).text == "cat "
    assert CtcDecoder.from_settings({"decoder": "beam"}, tmp_path, chars)(lp).text == "cax "

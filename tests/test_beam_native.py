"""The C beam search and alignment (handocr.recognition._ctcbeam) against the Python reference.

Both must give the same labels and spans: they run the same steps in the same floating-point order.
The C module is built by ``pip install`` when a C compiler is there; without it these tests skip,
except under CI=true (or HANDOCR_REQUIRE_NATIVE_BEAM=1), where it must be built.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from handocr.recognition import beam
from handocr.recognition.beam import CtcDecoder, forced_alignment, native_available, prefix_beam_search
from handocr.recognition.ctc import log_softmax
from handocr.recognition.lexicon import Lexicon
from handocr.recognition.lm import CharNgramLM, build_char_lm

MODELS = Path(__file__).resolve().parents[1] / "models" / "languages"
CHARS = "abcdefghijklmnopqrstuvwxyzéèàçABCDEÉ .,;'-0123"


def _require_native() -> None:
    if native_available():
        return
    if os.environ.get("CI") or os.environ.get("HANDOCR_REQUIRE_NATIVE_BEAM"):
        pytest.fail("the C beam search is not built here (CI): pip install -e . needs a C compiler")
    pytest.skip("the C beam search is not built")


@pytest.fixture(scope="module")
def shipped_lm() -> CharNgramLM:
    return CharNgramLM.load(MODELS / "char-lm-fr-cased.npz")


@pytest.fixture(scope="module")
def shipped_lexicon() -> Lexicon:
    return Lexicon.load(MODELS / "lexicon-fr.txt.gz")


def noisy_line(rng: np.random.Generator, frames: int, classes: int) -> np.ndarray:
    """Log-probabilities of a line read with varying confidence: a random path, half of it blank,
    raised over noise by 2-8 nats, the noise itself scaled 0.5-3x (so some frames are close calls)."""
    logits = rng.normal(0, 1, (frames, classes)) * rng.uniform(0.5, 3.0)
    path = rng.integers(0, classes, frames)
    path[rng.random(frames) < 0.5] = 0
    logits[np.arange(frames), path] += rng.uniform(2.0, 8.0)
    return log_softmax(logits)


def test_the_c_search_is_built_where_required():
    _require_native()
    assert beam._use_native(None) or os.environ.get("HANDOCR_PURE_PYTHON_BEAM")


@pytest.mark.parametrize("seed", range(8))
def test_c_and_python_searches_agree(seed, shipped_lm, shipped_lexicon):
    _require_native()
    rng = np.random.default_rng(seed)
    for case in range(30):
        lp = noisy_line(rng, int(rng.integers(1, 150)), len(CHARS) + 1)
        settings = {
            "beam_width": int(rng.integers(1, 16)),
            "characters": CHARS,
            "prune_threshold": float(rng.choice([1e-4, 1e-3, 1e-2, 0.1])),
            "max_candidates": int(rng.integers(1, 12)),
            "beam_threshold": float(rng.choice([5.0, 10.0, np.inf])),
        }
        if case % 3:
            settings.update(
                lm=shipped_lm, lm_weight=float(rng.uniform(0.1, 1.0)), insertion_bonus=float(rng.uniform(-1, 3))
            )
        if case % 3 == 2:
            settings.update(lexicon=shipped_lexicon, oov_penalty=float(rng.uniform(-5, -0.5)))
        python = prefix_beam_search(lp, native=False, **settings)
        c = prefix_beam_search(lp, native=True, **settings)
        assert c == python, f"seed {seed} case {case}: {settings}"


def test_c_and_python_agree_with_a_small_lm_of_every_order():
    _require_native()
    rng = np.random.default_rng(42)
    words = ["abc", "cab", "bad", "dab", "ace", "bead", "deed", "cede"]
    chars = "abcde "
    for order in (1, 2, 3, 5):
        lm = build_char_lm(
            words=words * 3, texts=["abc cab bad", "dab ace"], order=order, min_counts=(1,), min_char_count=1
        )
        lexicon = Lexicon(words)
        for _ in range(20):
            lp = noisy_line(rng, int(rng.integers(2, 40)), len(chars) + 1)
            settings = {
                "beam_width": 6,
                "characters": chars,
                "lm": lm,
                "lm_weight": 0.7,
                "insertion_bonus": 0.5,
                "lexicon": lexicon,
                "oov_penalty": -2.0,
                "prune_threshold": 0.01,
            }
            assert prefix_beam_search(lp, native=True, **settings) == prefix_beam_search(lp, native=False, **settings)


@pytest.mark.parametrize("seed", range(5))
def test_c_and_python_alignments_agree(seed):
    _require_native()
    rng = np.random.default_rng(seed)
    for _ in range(20):
        frames = int(rng.integers(1, 80))
        lp = noisy_line(rng, frames, len(CHARS) + 1)
        labels = [int(c) for c in rng.integers(1, len(CHARS) + 1, size=int(rng.integers(1, max(2, frames // 2))))]
        try:
            python = forced_alignment(lp, labels, native=False)
        except ValueError:
            with pytest.raises(ValueError):
                forced_alignment(lp, labels, native=True)
            continue
        assert forced_alignment(lp, labels, native=True) == python


def test_c_alignment_rejects_impossible_and_invalid_labels():
    _require_native()
    lp = log_softmax(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="cannot be aligned"):
        forced_alignment(lp, [1, 1], native=True)  # "aa" needs three frames
    with pytest.raises(ValueError, match="not a character class"):
        forced_alignment(lp, [3], native=True)
    assert forced_alignment(lp, [], native=True) == []


def test_c_search_rejects_bad_arrays_with_errors_not_crashes(shipped_lm):
    _require_native()
    from handocr.recognition import _ctcbeam

    lp = log_softmax(np.zeros((4, 3)))
    args = (np.log(1e-3), 10, 4, 10.0, None, None, 0.5, 0.0, None, -1, 0.0, "ab")
    assert _ctcbeam.search(lp, *args) == prefix_beam_search(lp, native=False, characters="ab")
    with pytest.raises(TypeError):
        _ctcbeam.search(lp.astype(np.float32), *args)
    with pytest.raises(ValueError, match=r"\(T, C\)"):
        _ctcbeam.search(lp[0], *args)
    with pytest.raises(ValueError, match="beam_width"):
        _ctcbeam.search(lp, np.log(1e-3), 10, 0, *args[3:])
    bad_symbols = np.array([0, 1, 10**6], dtype=np.int64)
    with pytest.raises(ValueError, match="out of range"):
        _ctcbeam.search(lp, np.log(1e-3), 10, 4, 10.0, shipped_lm.tables(), bad_symbols, 0.5, 0.0, None, -1, 0.0, "ab")
    with pytest.raises(ValueError, match="one symbol per class"):
        _ctcbeam.search(
            lp, np.log(1e-3), 10, 4, 10.0, shipped_lm.tables(), bad_symbols[:2], 0.5, 0.0, None, -1, 0.0, "ab"
        )


def test_c_search_reads_nothing_outside_badly_made_lm_indexes(shipped_lm):
    """The LM's hash indexes and context starts (CharNgramLM.tables) are checked for their shape;
    values inside that point outside the arrays are kept within them, not followed."""
    _require_native()
    from handocr.recognition import _ctcbeam

    rng = np.random.default_rng(3)
    lp = log_softmax(rng.normal(size=(40, 4)) * 3)
    symbols = shipped_lm.class_symbols("ab ")
    tables = shipped_lm.tables()
    good = _ctcbeam.search(lp, np.log(1e-3), 10, 8, 10.0, tables, symbols, 0.5, 0.0, None, -1, 0.0, "ab ")
    assert good == prefix_beam_search(lp, lm=shipped_lm, characters="ab ", beam_width=8, native=False)

    def spoiled(index: np.ndarray) -> np.ndarray:  # the shape kept: bits, first and last starts
        out = index.copy()
        bits = int(out[0])
        inner_starts, positions = out[2 : 1 + 2**bits], out[2 + 2**bits :]
        for values in (inner_starts, positions):
            values[::3] = 2**31 - 1
            values[1::3] = -(2**31)
        return out

    starts = [s.copy() for s in tables[10]]
    for s in starts:
        if s.size > 2:
            s[1:-1] = rng.integers(-(10**9), 10**9, size=s.size - 2)
    bad = (*tables[:10], starts, [spoiled(i) for i in tables[11]], [spoiled(i) for i in tables[12]])
    labels = _ctcbeam.search(lp, np.log(1e-3), 10, 8, 10.0, bad, symbols, 0.5, 0.0, None, -1, 0.0, "ab ")
    assert all(1 <= c <= 3 for c in labels)
    with pytest.raises(ValueError, match="hash index"):
        broken = (*tables[:11], [i[:-1] for i in tables[11]], tables[12])
        _ctcbeam.search(lp, np.log(1e-3), 10, 8, 10.0, broken, symbols, 0.5, 0.0, None, -1, 0.0, "ab ")
    with pytest.raises(ValueError, match="starts"):
        broken = (*tables[:10], [s[:-1] for s in tables[10]], *tables[11:])
        _ctcbeam.search(lp, np.log(1e-3), 10, 8, 10.0, broken, symbols, 0.5, 0.0, None, -1, 0.0, "ab ")


def test_empty_lines_read_as_nothing_either_way():
    _require_native()
    empty = np.zeros((0, 4))
    for native in (True, False):
        assert prefix_beam_search(empty, characters="ab ", native=native) == []
        assert forced_alignment(empty, [], native=native) == []
    with pytest.raises(ValueError, match="cannot be aligned"):
        forced_alignment(empty, [1], native=True)


def test_a_lexicon_error_propagates_from_the_c_search():
    _require_native()

    class Broken:
        def knows(self, word: str) -> bool:
            raise RuntimeError(f"cannot judge {word!r}")

    chars = "ab "
    lp = log_softmax(np.array([[0, 9, 0, 0], [9, 0, 0, 0], [0, 0, 0, 9], [9, 0, 0, 0], [0, 0, 9, 0]], dtype=float))
    with pytest.raises(RuntimeError, match="cannot judge 'a'"):
        prefix_beam_search(lp, characters=chars, lexicon=Broken(), oov_penalty=-1.0, native=True)


def test_native_choice(monkeypatch):
    monkeypatch.setenv("HANDOCR_PURE_PYTHON_BEAM", "1")
    assert not beam._use_native(None)
    assert not beam._use_native(False)
    monkeypatch.setattr(beam, "_ctcbeam", None)
    assert not native_available()
    with pytest.raises(RuntimeError, match="not built"):
        prefix_beam_search(log_softmax(np.zeros((2, 3))), native=True)
    assert prefix_beam_search(log_softmax(np.zeros((2, 3))), beam_width=2) == prefix_beam_search(
        log_softmax(np.zeros((2, 3))), beam_width=2, native=False
    )


def test_decoder_gives_the_same_line_either_way(shipped_lm, shipped_lexicon):
    _require_native()
    rng = np.random.default_rng(7)
    settings = {
        "method": "beam",
        "lm": shipped_lm,
        "lm_weight": 0.6,
        "insertion_bonus": 2.0,
        "lexicon": shipped_lexicon,
        "oov_penalty": -3.0,
    }
    c, python = CtcDecoder(CHARS, native=True, **settings), CtcDecoder(CHARS, native=False, **settings)
    for _ in range(20):
        lp = noisy_line(rng, int(rng.integers(5, 100)), len(CHARS) + 1)
        a, b = c(lp), python(lp)
        assert (a.text, a.spans) == (b.text, b.spans)
        assert np.allclose(a.char_confidences, b.char_confidences)


def _spelled(word: str, characters: str) -> np.ndarray:
    """Log-probabilities that spell ``word`` (0.9 a character, a blank between), each character with
    the digit ``1`` as its runner-up: swapping one in makes a word the lexicon does not judge."""
    rows = []
    for ch in word:
        row = np.full(len(characters) + 1, 1e-4)
        row[characters.index(ch) + 1], row[characters.index("1") + 1] = 0.9, 0.09
        rows += [row / row.sum(), np.eye(len(characters) + 1)[0] * 0.99 + 0.01 / (len(characters) + 1)]
    return np.log(np.array(rows))


def test_the_c_lexicon_judges_words_as_lexicon_knows_does():
    """The search keeps a spelled word exactly when the lexicon knows it or does not judge it (a huge
    penalty otherwise swaps in a digit), in C from the lexicon's tables, in C through ``knows`` and in
    Python: the same answers as :meth:`Lexicon.knows` on case, accents, ligatures, punctuation at the
    ends and inside, and words longer than any in the lexicon."""
    _require_native()
    chars = "abcdefghijklmnopqrstuvwxyzACTÉLNŒUFéœ'-,()1 "
    lexicon = Lexicon(["cat", "élan", "œuf", "zebra"])
    words = ["cat", "CAT,", "Cat", "cax", "(élan)", "ÉLAN", "œuf", "ŒUF", "l'album", "a-b", "--", "zebras", "catcatcat"]
    expected = {w: lexicon.knows(w) for w in words}
    assert not all(expected.values()) and any(expected.values())
    assert lexicon.native_tables(chars) is lexicon.native_tables(chars)  # built once per charset

    class Callback:  # the same lexicon, seen only through ``knows``
        def knows(self, word: str) -> bool:
            return lexicon.knows(word)

    for judge in (lexicon, Callback()):
        for native in (True, False):
            for word in words:
                labels = prefix_beam_search(
                    _spelled(word, chars),
                    beam_width=16,
                    characters=chars,
                    lexicon=judge,
                    oov_penalty=-100.0,
                    native=native,
                )
                read = "".join(chars[c - 1] for c in labels)
                assert (read == word) == expected[word], (word, read, native, type(judge).__name__)


def test_the_c_lexicon_steps_aside_for_a_final_sigma():
    assert Lexicon(["λόγος"]).native_tables("λόγοςΣ ") is None  # 'Σ'.lower() depends on its place
    assert beam._native_lexicon(Lexicon(["ab"]), "abΣ ").__name__ == "knows"


def test_the_c_search_lets_other_threads_run(shipped_lm, shipped_lexicon):
    """With the lexicon's tables the search releases the GIL: lines decoded on two threads give the
    labels they give one after the other."""
    _require_native()
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(3)
    lines = [log_softmax(rng.normal(size=(60, len(CHARS) + 1)) * 3) for _ in range(24)]

    def decode(lp: np.ndarray) -> list[int]:
        return prefix_beam_search(
            lp,
            beam_width=8,
            lm=shipped_lm,
            characters=CHARS,
            lm_weight=0.6,
            lexicon=shipped_lexicon,
            oov_penalty=-3.0,
            native=True,
        )

    with ThreadPoolExecutor(2) as pool:
        assert list(pool.map(decode, lines)) == [decode(lp) for lp in lines]

"""The character n-gram language model: normalisation, preferences, storage, case folding."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from handocr.recognition.lm import WORD_LISTS, CharNgramLM, build_char_lm, main, read_word_list

WORDS = ["chat", "chien", "cheval", "the", "there", "these", "cat", "catch", "dog", "dogs", "aujourd'hui"] * 2
TEXTS = ["the cat and the dog", "le chat et le chien", "these dogs, there."]


@pytest.fixture(scope="module")
def lm() -> CharNgramLM:
    return build_char_lm(WORDS, TEXTS, order=5, min_counts=(1,), min_char_count=1)


@pytest.mark.parametrize("context", ["", "the ", "ch", "zzzz", "le chat et", "aujourd'"])
def test_next_character_distribution_sums_to_one(lm, context):
    total = sum(np.exp(lm.log_prob(context, c)) for c in lm.vocab)
    assert total == pytest.approx(1.0, abs=1e-3)


def test_pruned_model_still_normalised():
    pruned = build_char_lm(WORDS, TEXTS, order=5, min_counts=(1, 1, 2, 3, 3), min_char_count=1)
    full = build_char_lm(WORDS, TEXTS, order=5, min_counts=(1,), min_char_count=1)
    assert sum(len(k) for k in pruned.ngram_keys) < sum(len(k) for k in full.ngram_keys)
    for context in ["", "the", "chi", "dog"]:
        assert sum(np.exp(pruned.log_prob(context, c)) for c in pruned.vocab) == pytest.approx(1.0, abs=1e-3)


@pytest.mark.parametrize("context", ["", "the ", "chev", "q", "these dogs, th"])
def test_distribution_matches_the_backoff_chain(context):
    pruned = build_char_lm(WORDS, TEXTS, order=5, min_counts=(1, 1, 2, 2, 3), min_char_count=1)
    state = pruned.state_of(context)
    dense = pruned.distribution(state)
    for symbol in range(len(pruned.vocab) + 1):
        assert dense[symbol] == pytest.approx(pruned.log_prob_backoff(state, symbol), abs=1e-6)


def test_the_distribution_cache_is_bounded_and_compact(monkeypatch):
    from array import array

    from handocr.recognition import lm as lm_module

    model = build_char_lm(WORDS, TEXTS, order=5, min_counts=(1,), min_char_count=1)
    monkeypatch.setattr(lm_module, "CACHE_STATES", 4)
    contexts = ["", "t", "th", "the", "the ", "c", "ch", "cha", "chat", "d"]
    first = [list(model.distribution(model.state_of(c))) for c in contexts]
    assert 0 < len(model._cache) <= 4
    assert all(isinstance(values, array) and values.typecode == "d" for values in model._cache.values())
    again = [list(model.distribution(model.state_of(c))) for c in contexts]  # rebuilt after the cache emptied
    assert again == first


def test_a_tiny_cache_gives_the_same_distributions_as_a_large_one(monkeypatch):
    """Each order's distribution is cached by its own context; emptying the cache in the middle of
    a climb (a cap of 3) must change no value, whatever order the states come in."""
    from handocr.recognition import lm as lm_module

    def model() -> CharNgramLM:
        return build_char_lm(WORDS, TEXTS, order=6, min_counts=(1, 1, 2, 2, 2, 3), min_char_count=1)

    large = model()
    states = [large.state_of(text[:end]) for text in [*TEXTS, "zzq the chat"] for end in range(len(text) + 1)]
    expected = [list(large.distribution(state)) for state in states]
    monkeypatch.setattr(lm_module, "CACHE_STATES", 3)
    tiny = model()
    for _ in range(2):  # the second pass finds some orders cached, others emptied
        assert [list(tiny.distribution(state)) for state in states[::-1]] == expected[::-1]
    for state, values in zip(states, expected, strict=True):
        backoff = [tiny.log_prob_backoff(state, symbol) for symbol in range(len(tiny.vocab) + 1)]
        assert values == pytest.approx(backoff, abs=1e-6)


def test_prefers_known_words(lm):
    assert lm.score("the cat") > lm.score("teh cta")
    assert lm.log_prob("chie", "n") > lm.log_prob("chie", "x")
    assert lm.log_prob("the ca", "t") > lm.log_prob("the ca", "e")


def test_case_folding_and_unknown_characters(lm):
    assert lm.score("The Cat") == pytest.approx(lm.score("the cat"))
    assert lm.log_prob("the", "€") == lm.unk_logprob
    cased = build_char_lm(WORDS, TEXTS, order=4, lowercase=False, min_counts=(1,), min_char_count=1)
    assert cased.log_prob("", "T") == cased.unk_logprob


def test_state_matches_text_context(lm):
    state = lm.start_state
    for ch in "the c":
        state = lm.next_state(state, lm.symbol(ch))
    assert state == lm.state_of("the c")
    assert lm.log_prob_symbol(state, lm.symbol("a")) == pytest.approx(lm.log_prob("the c", "a"))
    # only the last order - 1 characters matter
    assert lm.state_of("xx the c") == lm.state_of("zz the c")  # order 5: the last four characters
    assert lm.state_of("the c") != lm.state_of("tha c")


def test_save_and_load(lm, tmp_path: Path):
    path = tmp_path / "lm.npz"
    lm.save(path)
    loaded = CharNgramLM.load(path)
    assert loaded.vocab == lm.vocab and loaded.order == lm.order and loaded.lowercase == lm.lowercase
    for text in [*TEXTS, "zebra crossing"]:
        assert loaded.score(text) == pytest.approx(lm.score(text), abs=0.05 * max(1, len(text)))


def test_load_refuses_keys_out_of_order(lm, tmp_path: Path):
    """The lookups (binary searches, in Python and in C) need strictly increasing keys: a file whose
    keys are not is refused at load, not read wrong."""
    import numpy as np

    path = tmp_path / "lm.npz"
    lm.save(path)
    with np.load(path) as data:
        arrays = {name: data[name] for name in data.files}
    k = next(k for k in range(lm.order) if arrays[f"ngram_keys_{k}"].size > 2)
    keys = arrays[f"ngram_keys_{k}"].copy()
    keys[1] = keys[0]  # a duplicate
    arrays[f"ngram_keys_{k}"] = keys
    broken = tmp_path / "broken.npz"
    np.savez_compressed(broken, **arrays)
    with pytest.raises(ValueError, match="not strictly increasing"):
        CharNgramLM.load(broken)


def test_read_word_list_skips_blanks_and_phrases(tmp_path: Path):
    path = tmp_path / "words"
    path.write_text("cat\n\n  dog \nice cream\n", encoding="utf-8")
    assert read_word_list(path) == ["cat", "dog"]


def test_builder_command(tmp_path: Path, capsys):
    words = tmp_path / "words"
    words.write_text("\n".join(WORDS), encoding="utf-8")
    text = tmp_path / "text.txt"
    text.write_text("\n".join(TEXTS), encoding="utf-8")
    out = tmp_path / "lm.npz"
    main([str(out), "--lang", "--word-list", str(words), "--text", str(text), "--order", "4"])
    assert out.is_file() and "n-grams" in capsys.readouterr().out
    assert CharNgramLM.load(out).order == 4


@pytest.mark.skipif(not Path(WORD_LISTS["en"][0]).is_file(), reason="wamerican not installed")
def test_english_word_list_model_prefers_english():
    words = read_word_list(Path(WORD_LISTS["en"][0]))[::20]
    lm = build_char_lm(words, order=4)
    assert lm.score("house") > lm.score("hquse")


def _find(index, keys, key: int) -> int:
    """A lookup in a hash_index, as the C search makes it."""
    from handocr.recognition.lm import HASH_MULTIPLIER

    bits = int(index[0])
    starts, positions = index[1 : 2 + 2**bits], index[2 + 2**bits :]
    bucket = (key * HASH_MULTIPLIER) % 2**64 >> (64 - bits)
    for p in range(int(starts[bucket]), int(starts[bucket + 1])):
        if int(keys[positions[p]]) == key:
            return int(positions[p])
    return -1


def test_hash_index_finds_every_key_and_nothing_else():
    import numpy as np

    from handocr.recognition.lm import hash_index

    rng = np.random.default_rng(0)
    for size in (0, 1, 2, 7, 1000):
        keys = np.unique(rng.integers(0, 2**62, size=size, dtype=np.int64))
        index = hash_index(keys)
        bits = int(index[0])
        assert index.dtype == np.int32 and index.size == 1 + 2**bits + 1 + keys.size and 2**bits >= keys.size
        assert all(_find(index, keys, int(key)) == i for i, key in enumerate(keys))
        assert all(_find(index, keys, int(key)) == -1 for key in rng.integers(0, 2**62, size=50) if key not in keys)


def test_tables_give_each_used_context_its_ngrams(lm):
    import numpy as np

    tables = lm.tables()
    keys, used, starts, used_index, context_index = tables[5], tables[9], tables[10], tables[11], tables[12]
    for k in range(lm.order):
        assert starts[k][0] == 0 and starts[k][-1] == keys[k].size and starts[k].size == used[k].size + 1
        for u, context in enumerate(used[k]):
            grams = keys[k][starts[k][u] : starts[k][u + 1]]
            assert grams.size > 0 and np.all(grams // lm.base == context)
            assert _find(used_index[k], used[k], int(context)) == u
        assert all(_find(context_index[k], tables[7][k], int(c)) == j for j, c in enumerate(tables[7][k]))


def _lm_holdout_script():
    import importlib.util
    import sys

    script = Path(__file__).resolve().parent.parent / "scripts" / "lm_holdout.py"
    spec = importlib.util.spec_from_file_location("lm_holdout", script)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up there
    spec.loader.exec_module(module)
    return module


def test_lm_holdout_configurations_parse_and_refuse_nonsense():
    import argparse

    script = _lm_holdout_script()
    config = script.LmConfig.parse("4/1,1,2,2/cased")
    assert (config.order, config.min_counts, config.cased) == (4, (1, 1, 2, 2), True)
    assert script.LmConfig.parse("3/2/lower").min_counts == (2, 2, 2) and str(config) == "4/1,1,2,2/cased"
    for bad in ("3/1,1/lower", "3/1/upper", "x/1/lower", "3/1"):
        with pytest.raises(argparse.ArgumentTypeError):
            script.LmConfig.parse(bad)


def test_lm_holdout_script_scores_each_configuration_on_the_held_out_pages(tmp_path, capsys):
    from conftest import write_generated_pages

    pages = write_generated_pages(tmp_path / "pages", 4, seed=8, long_side=700)
    script = _lm_holdout_script()
    args = ["--recognizer", "line-recognizer-fast", "--data", str(pages), "--set", "pages", "--seed", "0"]
    assert (
        script.main([*args, "--holdout", "0.5", "--config", "3/1/lower", "--config", "3/1/cased", "--threads", "1"])
        == 0
    )
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("pages: LMs from ") and "held-out lines of 2 pages" in out[0]
    assert [line.split(" α ")[0] for line in out[1:]] == ["3/1,1,1/lower", "3/1,1,1/cased"]
    assert all(" line CER " in line and line.endswith("%") for line in out[1:])
    with pytest.raises(SystemExit):
        script.main([*args[:4], "--set", "other", "--seed", "0"])

"""A character n-gram language model for CTC beam search, built offline from word lists and text.

The model is an interpolated Kneser-Ney character n-gram (order 6 by default) stored in backoff
form: for every kept n-gram ``h c`` its log-probability, for every context ``h`` its log backoff
weight, as sorted integer keys in one compressed ``.npz`` file (a few MB). Loading it needs only
NumPy; the word lists are read by :func:`build_char_lm` alone.

Text is modelled as it appears on a line: a sequence starts with ``order - 1`` spaces (which stand
for the line start, as real text never holds two spaces in a row) and ends with one space; a word
from a word list is a sequence on its own, so word starts and ends are learnt from the lists and
what lies between words from any running text given. With ``lowercase`` the model is trained and
queried on lowercased text (case-insensitive scoring). Characters it has never seen score
``unk_logprob``.
"""

from __future__ import annotations

import argparse
import math
from array import array
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

WORD_LISTS = {
    "fr": ("/usr/share/dict/french",),
    "en": ("/usr/share/dict/american-english", "/usr/share/dict/british-english"),
}
FORMAT_VERSION = 1
# Distributions kept by a model (of any order, by context): up to 50,000 of about 100 doubles (some 40 MB;
# a state's is rebuilt from the n-gram tables when it is needed again after the cache was emptied)
CACHE_STATES = 50_000


HASH_MULTIPLIER = 0x9E3779B97F4A7C15  # Fibonacci hashing; the C search computes the same buckets


def hash_index(keys: np.ndarray) -> np.ndarray:
    """A hash index of distinct int64 ``keys`` for the C beam search: int32 ``[bits, starts
    (2 ** bits + 1), positions (len(keys))]``, where the keys of bucket ``h`` (``key *
    HASH_MULTIPLIER mod 2 ** 64``, its top ``bits`` bits) are at ``positions[starts[h]:starts[h + 1]]``
    in ``keys``. There are at least as many buckets as keys, so a lookup reads one or two."""
    keys = np.asarray(keys, dtype=np.int64)
    bits = max(1, int(keys.size).bit_length())
    if keys.size >= 2**31 or bits > 30:
        raise ValueError(f"{keys.size} keys are too many for a hash index")
    buckets = (keys.view(np.uint64) * np.uint64(HASH_MULTIPLIER)) >> np.uint64(64 - bits)
    positions = np.argsort(buckets, kind="stable")
    starts = np.searchsorted(buckets[positions], np.arange(2**bits + 1, dtype=np.uint64))
    return np.concatenate([[bits], starts, positions]).astype(np.int32)


class CharNgramLM:
    """Character n-gram model in backoff form; query with :meth:`log_prob` (natural log).

    ``ngram_keys[k]`` / ``ngram_logp[k]`` hold the kept ``(k+1)``-grams (context then character,
    first symbol most significant, base ``len(vocab) + 1``); ``context_keys[k]`` / ``backoff[k]`` the
    contexts of length ``k`` with their log backoff weights (``k >= 1``).
    """

    def __init__(
        self,
        vocab: str,
        order: int,
        ngram_keys: list[np.ndarray],
        ngram_logp: list[np.ndarray],
        context_keys: list[np.ndarray],
        backoff: list[np.ndarray],
        lowercase: bool = True,
        unk_logprob: float = -6.0,
    ) -> None:
        self.vocab = vocab
        self.order = order
        self.base = len(vocab) + 1
        self.ngram_keys = ngram_keys
        self.ngram_logp = ngram_logp
        self.context_keys = context_keys
        self.backoff = backoff
        self.lowercase = lowercase
        self.unk_logprob = unk_logprob
        self._index = {c: i + 1 for i, c in enumerate(vocab)}
        self._space = self._index[" "]
        self._mods = [self.base**m for m in range(order)]
        self._cache: dict[int, array] = {}  # order k's distribution by base**k + its context
        self._stopped: set[int] = set()  # keys of contexts never seen (the climb ends there)
        unigram = np.full(self.base, unk_logprob, dtype=np.float64)
        unigram[ngram_keys[0]] = ngram_logp[0]
        unigram[0] = unk_logprob
        self._unigram = array("d", unigram.tobytes())
        self.start_state = sum(self._space * self.base**m for m in range(order - 1))
        self._tables: tuple | None = None
        self._class_symbols: dict[str, np.ndarray] = {}

    # -- queries -----------------------------------------------------------------------------

    def symbol(self, char: str) -> int:
        """The model's index of ``char`` (0 when unknown), after lowercasing if the model does."""
        if self.lowercase:
            char = char.lower()
        return self._index.get(char, 0) if len(char) == 1 else 0

    def next_state(self, state: int, symbol: int) -> int:
        """The context after ``symbol`` (an unknown character counts as a space: a word boundary)."""
        return (state * self.base + (symbol or self._space)) % self._mods[self.order - 1]

    def log_prob_symbol(self, state: int, symbol: int) -> float:
        """``log P(symbol | state)``; ``state`` encodes the last ``order - 1`` symbols."""
        return self.distribution(state)[symbol]

    def distribution(self, state: int) -> Sequence[float]:
        """``log P(s | state)`` for every symbol ``s`` (index 0: an unknown character), cached.

        Built from the unigrams up: at each order, the n-grams stored for the context replace the
        lower order's values, which the others keep plus the context's backoff weight; the first
        context never seen ends the climb. Each order's distribution is cached by its own context
        (the last ``k`` symbols), so a new state usually costs one order's work on top of a shorter
        context that many states share, not the whole climb.
        """
        top = self.order - 1
        cached = self._cache.get(self._mods[top] + state) if top else None
        return cached if cached is not None else self._level(top, state)

    def _level(self, k: int, context: int) -> array:
        """The distribution after orders ``1..k`` for ``context`` (the last ``k`` symbols)."""
        if k == 0:
            return self._unigram
        key = self._mods[k] + context  # contexts of length k lie in [0, base**k): keys never collide
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        shorter = context % self._mods[k - 1]
        lower = self._level(k - 1, shorter)
        if k > 1 and self._mods[k - 1] + shorter in self._stopped:
            out, stopped = lower, True  # an order below was never seen: no longer context is stored either
        else:
            base = self.base
            keys = self.ngram_keys[k]
            lo, hi = np.searchsorted(keys, (context * base, context * base + base)).tolist()
            ctx_keys = self.context_keys[k]
            j = int(np.searchsorted(ctx_keys, context))
            bow = float(self.backoff[k][j]) if j < len(ctx_keys) and ctx_keys[j] == context else 0.0
            stopped = lo == hi and bow == 0.0
            if stopped:
                out = lower
            else:
                logp = np.frombuffer(lower, dtype=np.float64) + bow
                if hi > lo:
                    logp[keys[lo:hi] - context * base] = self.ngram_logp[k][lo:hi]
                logp[0] = self.unk_logprob
                out = array("d")  # 8 bytes a value (a list would hold a 24-byte float object for each)
                out.frombytes(logp.tobytes())
        if len(self._cache) >= CACHE_STATES:
            self._cache.clear()
            self._stopped.clear()
        self._cache[key] = out
        if stopped:
            self._stopped.add(key)
        return out

    def log_prob_backoff(self, state: int, symbol: int) -> float:
        """``log P(symbol | state)`` by walking the backoff chain from the longest context (the
        reference for :meth:`distribution`; slower per query)."""
        if symbol == 0:
            return self.unk_logprob
        total = 0.0
        for k in range(self.order - 1, -1, -1):
            context = state % self._mods[k]
            gram = context * self.base + symbol
            keys = self.ngram_keys[k]
            i = int(np.searchsorted(keys, gram))
            if i < len(keys) and keys[i] == gram:
                return total + float(self.ngram_logp[k][i])
            if k > 0:
                ctx_keys = self.context_keys[k]
                j = int(np.searchsorted(ctx_keys, context))
                if j < len(ctx_keys) and ctx_keys[j] == context:
                    total += float(self.backoff[k][j])
        return self.unk_logprob

    def log_prob(self, context: str, char: str) -> float:
        """``log P(char | context)``, ``context`` being the text of the line so far."""
        return self.log_prob_symbol(self.state_of(context), self.symbol(char))

    def state_of(self, text: str) -> int:
        """The state after reading ``text`` from the line start."""
        state = self.start_state
        for char in text:
            state = self.next_state(state, self.symbol(char))
        return state

    def score(self, text: str, end: bool = True) -> float:
        """Total log-probability of a line's ``text`` (with the closing space when ``end``)."""
        state, total = self.start_state, 0.0
        for char in [*text, " "] if end else text:
            symbol = self.symbol(char)
            total += self.log_prob_symbol(state, symbol)
            state = self.next_state(state, symbol)
        return total

    def perplexity(self, texts: Iterable[str]) -> float:
        """Per-character perplexity over ``texts`` (closing spaces included)."""
        total, n = 0.0, 0
        for text in texts:
            total += self.score(text)
            n += len(text) + 1
        return math.exp(-total / max(n, 1))

    def tables(self) -> tuple:
        """``(order, base, space symbol, unk_logprob, unigram, ngram_keys, ngram_logp, context_keys,
        backoff, used_contexts, used_starts, used_index, context_index)``, the tables as contiguous
        int64 / float64 arrays (one list per order), for the C beam search
        (:mod:`handocr.recognition.beam`); made on the first call (float32 to float64 is exact, so
        its scores are :meth:`distribution`'s). ``used_contexts[k]`` are the contexts that have
        ``(k+1)``-grams, whose n-grams are ``ngram_keys[k][used_starts[k][u]:used_starts[k][u + 1]]``;
        ``used_index`` and ``context_index`` hold a :func:`hash_index` of ``used_contexts`` and
        ``context_keys``, so that the search finds a context in one or two probes."""
        if self._tables is None:
            keys = [np.ascontiguousarray(k, dtype=np.int64) for k in self.ngram_keys]
            contexts = [np.ascontiguousarray(k, dtype=np.int64) for k in self.context_keys]
            used, starts = [], []
            for k in keys:
                context_of_key = k // self.base
                used_k, first = np.unique(context_of_key, return_index=True)
                used.append(used_k)
                starts.append(np.append(first, k.size).astype(np.int64))
            self._tables = (
                self.order,
                self.base,
                self._space,
                float(self.unk_logprob),
                np.frombuffer(self._unigram, dtype=np.float64),
                keys,
                [np.ascontiguousarray(v, dtype=np.float64) for v in self.ngram_logp],
                contexts,
                [np.ascontiguousarray(v, dtype=np.float64) for v in self.backoff],
                used,
                starts,
                [hash_index(k) for k in used],
                [hash_index(k) for k in contexts],
            )
        return self._tables

    def class_symbols(self, characters: str) -> np.ndarray:
        """The model's symbol of each CTC class (class ``i`` is ``characters[i - 1]``; class 0, the
        blank, and characters the model lacks map to 0), as int64, cached by ``characters``."""
        symbols = self._class_symbols.get(characters)
        if symbols is None:
            symbols = np.array([0] + [self.symbol(c) for c in characters], dtype=np.int64)
            self._class_symbols[characters] = symbols
        return symbols

    # -- storage -----------------------------------------------------------------------------

    def save(self, path: Path) -> None:
        """Write the model as a compressed ``.npz`` file."""
        arrays: dict[str, np.ndarray] = {
            "meta_vocab": np.array(self.vocab),
            "meta_order": np.array(self.order),
            "meta_lowercase": np.array(self.lowercase),
            "meta_unk": np.array(self.unk_logprob),
            "meta_version": np.array(FORMAT_VERSION),
        }
        for k in range(self.order):
            arrays[f"ngram_keys_{k}"] = self.ngram_keys[k]
            arrays[f"ngram_logp_{k}"] = self.ngram_logp[k].astype(np.float16)
            arrays[f"context_keys_{k}"] = self.context_keys[k]
            arrays[f"backoff_{k}"] = self.backoff[k].astype(np.float16)
        with open(path, "wb") as f:
            np.savez_compressed(f, **arrays)

    @classmethod
    def load(cls, path: Path, unk_logprob: float | None = None) -> CharNgramLM:
        """Read a model written by :meth:`save` (``unk_logprob`` overrides the stored one)."""
        with np.load(Path(path)) as data:
            if int(data["meta_version"]) != FORMAT_VERSION:
                raise ValueError(f"{path}: unsupported language-model format {int(data['meta_version'])}")
            order = int(data["meta_order"])
            ngram_keys = [data[f"ngram_keys_{k}"].astype(np.int64) for k in range(order)]
            context_keys = [data[f"context_keys_{k}"].astype(np.int64) for k in range(order)]
            for keys in ngram_keys + context_keys:  # the lookups (here and in C) rely on it
                if keys.size > 1 and not bool(np.all(keys[1:] > keys[:-1])):
                    raise ValueError(f"{path}: the language model's keys are not strictly increasing")
            return cls(
                vocab=str(data["meta_vocab"]),
                order=order,
                ngram_keys=ngram_keys,
                ngram_logp=[data[f"ngram_logp_{k}"].astype(np.float32) for k in range(order)],
                context_keys=context_keys,
                backoff=[data[f"backoff_{k}"].astype(np.float32) for k in range(order)],
                lowercase=bool(data["meta_lowercase"]),
                unk_logprob=float(data["meta_unk"]) if unk_logprob is None else unk_logprob,
            )


# -- building ---------------------------------------------------------------------------------


def read_word_list(path: Path) -> list[str]:
    """Words of a word list (one per line; blank lines and whitespace inside entries dropped)."""
    words = []
    for line in Path(path).read_text(encoding="utf-8", errors="replace").splitlines():
        word = line.strip()
        if word and " " not in word:
            words.append(word)
    return words


def word_list_words(langs: Iterable[str] = (), extra: Iterable[Path] = ()) -> list[str]:
    """The words of the Debian word lists of ``langs`` (:data:`WORD_LISTS`), then of the ``extra``
    word lists, in order (duplicates kept). Raises ``FileNotFoundError`` for a missing list."""
    words: list[str] = []
    for path in [Path(p) for lang in langs for p in WORD_LISTS[lang]] + [Path(p) for p in extra]:
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing (Debian's lists: apt-get install wfrench wamerican wbritish)")
        words.extend(read_word_list(path))
    return words


def add_source_arguments(parser: argparse.ArgumentParser) -> None:
    """The options that name where words and text come from, shared by the LM and lexicon builders:
    ``--lang``, ``--word-list``, ``--data`` and ``--split`` (read them with :func:`word_list_words`
    and :func:`transcriptions`)."""
    parser.add_argument("--lang", nargs="*", default=["fr", "en"], choices=sorted(WORD_LISTS))
    parser.add_argument("--word-list", nargs="*", type=Path, default=[], help="more word lists (one word a line)")
    parser.add_argument(
        "--data", nargs="*", type=Path, default=[], help="dataset folders whose --split transcriptions are added"
    )
    parser.add_argument("--split", default="train", help="split of --data to read (never val)")


def transcriptions(folders: Iterable[Path], split: str) -> list[str]:
    """The recognition targets of every readable line of ``split`` in dataset ``folders`` (any
    page format :func:`handocr.datasets.detect.open_dataset` reads)."""
    from handocr.datasets.collection import recognition_lines
    from handocr.datasets.detect import open_dataset

    return [
        text
        for folder in folders
        for page in open_dataset(Path(folder), prefer="pages").pages(split)
        for _, text in recognition_lines(page)
    ]


def _encode(sequences: list[str], index: dict[str, int], order: int, space: int) -> np.ndarray:
    """One array of symbols: each sequence padded (``order - 1`` spaces before, one after), -1 between."""
    parts = []
    pad = [space] * (order - 1)
    for text in sequences:
        parts.append(np.array([*pad, *(index.get(c, space) for c in text), space, -1], dtype=np.int64))
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def _grams(symbols: np.ndarray, n: int, base: int) -> np.ndarray:
    """Keys of all ``n``-grams that do not cross a sequence boundary (-1)."""
    if len(symbols) < n:
        return np.zeros(0, dtype=np.int64)
    windows = np.lib.stride_tricks.sliding_window_view(symbols, n)
    valid = (windows >= 0).all(axis=1)
    windows = windows[valid]
    keys = np.zeros(len(windows), dtype=np.int64)
    for j in range(n):
        keys = keys * base + windows[:, j]
    return keys


def _discount(counts: np.ndarray) -> float:
    n1, n2 = int((counts == 1).sum()), int((counts == 2).sum())
    return n1 / (n1 + 2 * n2) if n1 + n2 else 0.5


def _lookup(keys: np.ndarray, values: np.ndarray, queries: np.ndarray, default: float) -> tuple[np.ndarray, np.ndarray]:
    i = np.clip(np.searchsorted(keys, queries), 0, max(len(keys) - 1, 0))
    found = keys[i] == queries if len(keys) else np.zeros(len(queries), dtype=bool)
    return np.where(found, values[i] if len(keys) else default, default), found


def _backoff_query(lm: dict, k: int, contexts: np.ndarray, symbols: np.ndarray, base: int) -> np.ndarray:
    """Vectorised ``log P(symbol | context)`` with the orders ``0..k`` built so far (contexts of length ``k``)."""
    out = np.zeros(len(symbols))
    done = np.zeros(len(symbols), dtype=bool)
    for j in range(k, -1, -1):
        ctx = contexts % base**j
        logp, found = _lookup(lm["keys"][j], lm["logp"][j], ctx * base + symbols, 0.0)
        out = np.where(~done & found, out + logp, out)
        newly = ~done & found
        if j > 0:
            bow, _ = _lookup(lm["ctx"][j], lm["bow"][j], ctx, 0.0)
            out = np.where(~done & ~found, out + bow, out)
        done |= newly
    return out


def build_char_lm(
    words: Iterable[str] = (),
    texts: Iterable[str] = (),
    order: int = 6,
    lowercase: bool = True,
    min_counts: tuple[int, ...] = (1, 1, 1, 2, 2, 3),
    min_char_count: int = 3,
    unk_logprob: float = -6.0,
) -> CharNgramLM:
    """Train an interpolated Kneser-Ney character n-gram on ``words`` (one sequence each) and ``texts``.

    ``min_counts[k]`` is the least raw count an n-gram of order ``k + 1`` needs to be kept (pruning
    keeps the file small); backoff weights are renormalised after pruning. Characters seen fewer than
    ``min_char_count`` times are left out of the vocabulary (they score ``unk_logprob``).
    """
    sequences = [s.lower() if lowercase else s for s in [*words, *texts]]
    sequences = [" ".join(s.split()) for s in sequences]
    sequences = [s for s in sequences if s]
    chars = Counter(c for s in sequences for c in s)
    vocab = " " + "".join(sorted(c for c, n in chars.items() if n >= min_char_count and c != " "))
    base = len(vocab) + 1
    if base**order >= 2**62:
        raise ValueError(f"order {order} with {len(vocab)} symbols does not fit 64-bit keys")
    index = {c: i + 1 for i, c in enumerate(vocab)}
    symbols = _encode(sequences, index, order, index[" "])
    # raw counts of the highest order; continuation counts (distinct left neighbours) below it
    raw: list[tuple[np.ndarray, np.ndarray]] = [(np.zeros(0, np.int64), np.zeros(0, np.int64))] * order
    for n in range(1, order + 1):
        raw[n - 1] = np.unique(_grams(symbols, n, base), return_counts=True)
    counts: list[np.ndarray] = [np.zeros(0)] * order
    for n in range(1, order + 1):
        keys = raw[n - 1][0]
        if n == order:
            counts[n - 1] = raw[n - 1][1].astype(np.float64)
        else:
            higher, _ = raw[n]
            cont_keys, cont = np.unique(higher % base**n, return_counts=True)
            c, found = _lookup(cont_keys, cont.astype(np.float64), keys, 0.0)
            # n-grams that only occur at a sequence start have no left neighbour: count them once
            counts[n - 1] = np.where(found, c, 1.0)
    lm: dict[str, list[np.ndarray]] = {"keys": [], "logp": [], "ctx": [], "bow": []}
    interp_prev: np.ndarray | None = None  # interpolated probabilities of order n - 1 over its keys
    for n in range(1, order + 1):
        keys, cnt = raw[n - 1][0], counts[n - 1]
        ctx = keys // base
        ctx_keys, inverse = np.unique(ctx, return_inverse=True)
        totals = np.bincount(inverse, weights=cnt)
        types = np.bincount(inverse).astype(np.float64)
        d = _discount(cnt)
        gamma = d * types / totals
        if n == 1:
            lower = np.full(len(keys), 1.0 / len(vocab))
        else:
            assert interp_prev is not None
            lower, _ = _lookup(raw[n - 2][0], interp_prev, keys % base ** (n - 1), 1.0 / len(vocab))
        interp = np.maximum(cnt - d, 0.0) / totals[inverse] + gamma[inverse] * lower
        interp_prev = interp
        keep = raw[n - 1][1] >= min_counts[min(n - 1, len(min_counts) - 1)] if n > 1 else np.ones(len(keys), bool)
        kept_keys, kept_p = keys[keep], interp[keep]
        lm["keys"].append(kept_keys)
        lm["logp"].append(np.log(kept_p))
        if n == 1:
            lm["ctx"].append(np.zeros(0, np.int64))
            lm["bow"].append(np.zeros(0))
            continue
        # backoff weight: the mass left after the kept n-grams over the lower model's mass for the rest
        kept_ctx = kept_keys // base
        lower_kept = np.exp(_backoff_query(lm, n - 2, kept_ctx % base ** (n - 2), kept_keys % base, base))
        ctx_idx = np.searchsorted(ctx_keys, kept_ctx)
        num = 1.0 - np.bincount(ctx_idx, weights=kept_p, minlength=len(ctx_keys))
        den = 1.0 - np.bincount(ctx_idx, weights=lower_kept, minlength=len(ctx_keys))
        bow = np.log(np.clip(num, 1e-12, None)) - np.log(np.clip(den, 1e-12, None))
        useful = np.abs(bow) > 1e-4  # a zero weight is what an absent context means anyway
        lm["ctx"].append(ctx_keys[useful])
        lm["bow"].append(bow[useful])
    return CharNgramLM(
        vocab, order, lm["keys"], lm["logp"], lm["ctx"], lm["bow"], lowercase=lowercase, unk_logprob=unk_logprob
    )


def main(argv: list[str] | None = None) -> None:
    """``python -m handocr.recognition.lm OUT.npz [--lang fr en] [--text FILE ...] [--data DIR ...]``: build a model."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("out", type=Path)
    add_source_arguments(parser)
    parser.add_argument("--text", nargs="*", type=Path, default=[], help="running text files (one line a sequence)")
    parser.add_argument("--order", type=int, default=6)
    parser.add_argument("--min-counts", default="1,1,1,2,2,3", help="least count kept per order, comma-separated")
    parser.add_argument("--case-sensitive", action="store_true")
    args = parser.parse_args(argv)
    try:
        words = list(dict.fromkeys(word_list_words(args.lang, args.word_list)))
    except FileNotFoundError as exc:
        parser.error(str(exc))
    texts = [line for path in args.text for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    texts.extend(transcriptions(args.data, args.split))
    lm = build_char_lm(
        words,
        texts,
        order=args.order,
        lowercase=not args.case_sensitive,
        min_counts=tuple(int(x) for x in args.min_counts.split(",")),
    )
    lm.save(args.out)
    n = sum(len(k) for k in lm.ngram_keys)
    size = args.out.stat().st_size / 1e6
    print(f"{args.out}: order {lm.order}, {len(lm.vocab)} symbols, {n} n-grams, {size:.1f} MB")


if __name__ == "__main__":
    main()

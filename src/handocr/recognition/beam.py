"""CTC prefix beam search in NumPy, with optional character language-model scoring.

The search keeps, for every prefix, the log-probability of all paths that produce it ending in a
blank (``p_b``) and in its last character (``p_nb``); a prefix's score is their sum plus
``lm_weight * log P_lm(prefix) + insertion_bonus * len(prefix)``, plus ``oov_penalty`` for each of
its finished words a word lexicon lacks (:mod:`handocr.recognition.lexicon`). Per frame, only characters with
a probability of at least ``prune_threshold`` may start a new character (most frames are
blank-dominated, so most frames extend no prefix); prefixes scoring more than ``beam_threshold``
below the best are dropped as well as those beyond ``beam_width``.

The chosen text is then aligned to the frames (Viterbi forced alignment of its label sequence), so
the result carries per-character confidences and frame spans exactly like greedy decoding.

The search runs in C (``handocr.recognition._ctcbeam``, built when the package is installed) when
that module is there, and otherwise in Python, here: the same steps in the same floating-point
order, so both give the same labels (the tests hold them to it); the C one takes about a tenth of
the time (1-2 ms a line on ``val`` against 10-20; ``python -m bench.decoder``).
``HANDOCR_PURE_PYTHON_BEAM=1`` forces the Python one. The Viterbi alignment has a C twin too.
"""

from __future__ import annotations

import itertools
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from handocr.recognition.calibration import IsotonicCalibrator, SpanConfidences
from handocr.recognition.ctc import DecodedLine, greedy_decode

if TYPE_CHECKING:
    from handocr.recognition.lexicon import Lexicon
    from handocr.recognition.lm import CharNgramLM

try:
    from handocr.recognition import _ctcbeam
except ImportError:  # not built (no C compiler when installed): the Python search is used
    _ctcbeam = None

NATIVE_ABI_VERSION = 3  # the _ctcbeam interface this module calls
NEG_INF = -math.inf
Beams = dict[tuple[int, ...], list]  # prefix (class indices) -> [p_b, p_nb, lm score, LM state]


def _lse(a: float, b: float) -> float:
    """``log(exp(a) + exp(b))`` for scalars."""
    if a < b:
        a, b = b, a
    if b == NEG_INF:
        return a
    return a + math.log1p(math.exp(b - a))


def prefix_beam_search(
    log_probs: np.ndarray,
    beam_width: int = 8,
    lm: CharNgramLM | None = None,
    characters: str = "",
    lm_weight: float = 0.5,
    insertion_bonus: float = 0.0,
    prune_threshold: float = 1e-3,
    beam_threshold: float = 10.0,
    max_candidates: int = 10,
    lexicon: Lexicon | None = None,
    oov_penalty: float = 0.0,
    native: bool | None = None,
) -> list[int]:
    """Best label sequence (class indices, no blanks) for one line's ``(T, C)`` log-probabilities.

    With ``lexicon``, every word that ends (at a space or at the line's end) and that the lexicon
    does not know adds ``oov_penalty`` (zero or below) to its prefix's score.
    ``characters[i - 1]`` is the character of class ``i`` (needed with ``lm`` or ``lexicon``). Scores are in
    natural log; ``beam_threshold`` is in nats; at most ``max_candidates`` classes per frame may
    start a character. A run of frames where no class may start one is applied in one step (the
    paths that leave the last character after the run's first frame, each under ``prune_threshold``,
    are left out).

    This is the decoder's hot loop, written for CPython: a beam is a list ``[p_b, p_nb, lm, state]``,
    log-sum-exp is inlined where it runs most, and each beam reads its LM distribution once per
    frame. With the LM's per-order cache this takes 0.69-0.73x the time of the earlier version on
    the ``val`` lines, with the same results (see the README's Speed section).

    ``native``: run the search in C (``None``: when it is built and ``HANDOCR_PURE_PYTHON_BEAM`` is
    not set; ``True`` raises ``RuntimeError`` when it is not built), or here in Python.
    """
    log_probs = np.ascontiguousarray(log_probs, dtype=np.float64)
    frames = log_probs.shape[0]
    use_lm = lm is not None and lm_weight != 0.0
    if oov_penalty > 0:
        raise ValueError(f"oov_penalty must be zero or below, not {oov_penalty}")
    judge = lexicon if lexicon is not None and oov_penalty != 0.0 and " " in characters else None
    space_class = characters.index(" ") + 1 if judge is not None else -1
    log_threshold = float(np.log(prune_threshold))
    if _use_native(native):
        return _ctcbeam.search(
            log_probs,
            log_threshold,
            max_candidates,
            beam_width,
            beam_threshold,
            lm.tables() if use_lm and lm is not None else None,
            lm.class_symbols(characters) if use_lm and lm is not None else None,
            lm_weight,
            insertion_bonus,
            _native_lexicon(judge, characters),
            space_class,
            oov_penalty,
            characters,
        )
    exp, log1p = math.exp, math.log1p
    if use_lm and lm is not None:
        lm_symbols = lm.class_symbols(characters).tolist()  # by class; 0: a character the LM lacks
        start_state, distribution = lm.start_state, lm.distribution
        next_states = lm.next_state
    else:
        lm_symbols, start_state, distribution, next_states = [], 0, None, None
    beams: Beams = {(): [0.0, NEG_INF, 0.0, start_state]}
    offsets, flat = _candidate_arrays(log_probs, log_threshold, max_candidates)
    cumulative = np.vstack([np.zeros((1, log_probs.shape[1])), np.cumsum(log_probs, axis=0)])
    flat_list = flat.tolist()
    candidates = [flat_list[a:b] for a, b in itertools.pairwise(offsets.tolist())]
    rows = log_probs.tolist()
    best_score = 0.0
    bonus_floor = max(insertion_bonus, 0.0)
    t = 0
    while t < frames:
        if not candidates[t]:  # a run of frames with nothing to start: stay, in one step
            end = t + 1
            while end < frames and not candidates[end]:
                end += 1
            blank = float(cumulative[end, 0] - cumulative[t, 0])
            for prefix, beam in beams.items():
                last = float(cumulative[end, prefix[-1]] - cumulative[t, prefix[-1]]) if prefix else NEG_INF
                beam[0], beam[1] = _lse(beam[0], beam[1]) + blank, beam[1] + last
            best_score += blank  # the best prefix stays the best within the run, to a close bound
            t = end
            continue
        row = rows[t]
        # an extension scoring below the best prefix (with this frame's best class) less the threshold
        # cannot survive pruning; LM terms only lower a score, by at least the insertion bonus
        floor = best_score + max(row) - beam_threshold - bonus_floor
        nxt: Beams = {}
        blank, cands = row[0], candidates[t]
        for prefix, beam in beams.items():
            p_b, p_nb, beam_lm, state = beam
            hi, lo = (p_b, p_nb) if p_b >= p_nb else (p_nb, p_b)
            total = hi if lo == NEG_INF else hi + log1p(exp(lo - hi))
            last = prefix[-1] if prefix else 0
            # stay: a blank, or the last character repeated (may merge with an extension made earlier)
            stay_nb = p_nb + row[last] if prefix else NEG_INF
            target = nxt.get(prefix)
            if target is None:
                nxt[prefix] = [total + blank, stay_nb, beam_lm, state]
            else:
                target[0] = total + blank
                target[1] = _lse(target[1], stay_nb)
            dist = None
            for c in cands:  # best first
                p = row[c]
                if total + beam_lm + p < floor:
                    break
                # a repeated character needs a blank between: only paths ending in blank extend
                extend = (p_b if c == last else total) + p
                if extend == NEG_INF:
                    continue
                new = (*prefix, c)
                target = nxt.get(new)
                if target is not None:
                    hi, lo = (target[1], extend) if target[1] >= extend else (extend, target[1])
                    target[1] = hi if lo == NEG_INF else hi + log1p(exp(lo - hi))
                    continue
                lm_score, new_state = beam_lm + insertion_bonus, state
                if distribution is not None:
                    if dist is None:
                        dist = distribution(state)
                    symbol = lm_symbols[c]
                    lm_score += lm_weight * dist[symbol]
                    new_state = next_states(state, symbol)
                if c == space_class and judge is not None and not judge.knows(_last_word(prefix, characters)):
                    lm_score += oov_penalty
                nxt[new] = [NEG_INF, extend, lm_score, new_state]
        beams, best_score = _prune(nxt, beam_width, beam_threshold)
        t += 1
    if use_lm and lm is not None:  # the line ends: score the closing boundary
        space = lm.symbol(" ")
        for beam in beams.values():
            beam[2] += lm_weight * lm.log_prob_symbol(beam[3], space)
    if judge is not None:  # and its last word
        for prefix, beam in beams.items():
            if not judge.knows(_last_word(prefix, characters)):
                beam[2] += oov_penalty
    best = max(beams.items(), key=lambda item: _lse(item[1][0], item[1][1]) + item[1][2])
    return list(best[0])


def _last_word(prefix: tuple[int, ...], characters: str) -> str:
    """The characters of ``prefix`` after its last space (read back from the end: only that word)."""
    word: list[str] = []
    for c in reversed(prefix):
        char = characters[c - 1]
        if char == " ":
            break
        word.append(char)
    return "".join(reversed(word))


def _native_lexicon(lexicon: Lexicon | None, characters: str) -> Any:
    """The ``knows`` argument of the C search: ``None``, the lexicon's tables (the search then runs
    without the GIL), or its ``knows`` method where the tables cannot stand in for it."""
    if lexicon is None:
        return None
    tables_of = getattr(lexicon, "native_tables", None)  # any object with ``knows`` may judge words
    tables = tables_of(characters) if tables_of is not None else None
    return tables if tables is not None else lexicon.knows


def _use_native(native: bool | None) -> bool:
    """Whether to run the C search (see :func:`prefix_beam_search`'s ``native``)."""
    built = native_available()
    if native is None:
        return built and not os.environ.get("HANDOCR_PURE_PYTHON_BEAM")
    if native and not built:
        raise RuntimeError("the C beam search (handocr.recognition._ctcbeam) is not built; reinstall handocr")
    return native


def native_available() -> bool:
    """Whether the C beam search is built and matches this module."""
    return _ctcbeam is not None and getattr(_ctcbeam, "ABI_VERSION", None) == NATIVE_ABI_VERSION


def _candidate_arrays(log_probs: np.ndarray, log_threshold: float, limit: int) -> tuple[np.ndarray, np.ndarray]:
    """Per frame, the classes (not blank) whose log-probability is at least ``log_threshold``, at
    most ``limit``, best first (equal ones by class): frame ``t``'s are ``classes[offsets[t]:offsets[t + 1]]``."""
    scores = log_probs[:, 1:]
    frames, classes = np.nonzero(scores >= log_threshold)
    values = scores[frames, classes]
    order = np.lexsort((classes, -values, frames))
    frames, classes = frames[order], classes[order]
    counts = np.bincount(frames, minlength=len(scores))
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    keep = np.arange(len(frames)) - starts[frames] < limit
    offsets = np.concatenate([[0], np.cumsum(np.minimum(counts, limit))]).astype(np.int64)
    return offsets, (classes[keep] + 1).astype(np.int64)


def _prune(beams: Beams, width: int, threshold: float) -> tuple[Beams, float]:
    """The best ``width`` prefixes within ``threshold`` of the best, and the best score."""
    scored = [(_lse(b[0], b[1]) + b[2], prefix) for prefix, b in beams.items()]
    scored.sort(key=lambda x: x[0], reverse=True)
    best = scored[0][0]
    return {prefix: beams[prefix] for score, prefix in scored[:width] if score >= best - threshold}, best


def forced_alignment(log_probs: np.ndarray, labels: list[int], native: bool | None = None) -> list[tuple[int, int]]:
    """Frame span ``(first, last)`` (inclusive) of each label on the best CTC path producing ``labels``.

    Viterbi over the blank-extended sequence ``[0, l1, 0, l2, ..., 0]``; spans are in order, do not
    overlap and lie in ``[0, T)``. Raises ``ValueError`` when no path of ``T`` frames yields ``labels``.
    ``native``: in C or in Python, as for :func:`prefix_beam_search` (the same spans).
    """
    if not labels:
        return []
    if _use_native(native):
        return _ctcbeam.align(np.ascontiguousarray(log_probs, dtype=np.float64), np.asarray(labels, dtype=np.int64))
    log_probs = np.asarray(log_probs, dtype=np.float64)
    frames = log_probs.shape[0]
    ext = np.zeros(2 * len(labels) + 1, dtype=np.int64)
    ext[1::2] = labels
    n = len(ext)
    skip = np.zeros(n, dtype=bool)  # may jump from s - 2 to s (a label differing from the one before)
    skip[3::2] = ext[3::2] != ext[1:-2:2]
    emit = log_probs[:, ext]
    jump_penalty = np.where(skip, 0.0, NEG_INF)
    padded = np.full(n + 2, NEG_INF)  # padded[s + 2] = delta[s]
    padded[2] = emit[0, 0]
    padded[3] = emit[0, 1]
    back = np.zeros((frames, n), dtype=np.int8)
    for t in range(1, frames):
        stay, step, jump = padded[2:], padded[1:-1], padded[:-2] + jump_penalty
        best = np.maximum(stay, step)
        arg = (step > stay).astype(np.int8)
        take_jump = jump > best
        arg[take_jump] = 2
        back[t] = arg
        padded[2:] = np.where(take_jump, jump, best) + emit[t]
    delta = padded[2:]
    end = n - 1 if delta[n - 1] >= delta[n - 2] else n - 2
    if delta[end] == NEG_INF:
        raise ValueError(f"{len(labels)} labels cannot be aligned to {frames} frames")
    states = np.empty(frames, dtype=np.int64)
    s = end
    for t in range(frames - 1, -1, -1):
        states[t] = s
        s -= int(back[t, s])
    spans = []
    for i in range(len(labels)):
        where = np.flatnonzero(states == 2 * i + 1)
        spans.append((int(where[0]), int(where[-1])))
    return spans


def aligned_line(log_probs: np.ndarray, labels: list[int], characters: str, native: bool | None = None) -> DecodedLine:
    """A :class:`DecodedLine` for ``labels``: spans from :func:`forced_alignment` (``native``: see
    there), and as in greedy decoding each character's confidence is its highest frame probability
    within its span."""
    spans = forced_alignment(log_probs, labels, native)
    confs = [float(np.exp(log_probs[t0 : t1 + 1, c].max())) for c, (t0, t1) in zip(labels, spans, strict=True)]
    return DecodedLine("".join(characters[c - 1] for c in labels), confs, spans)


def beam_decode(
    log_probs: np.ndarray,
    characters: str,
    beam_width: int = 8,
    lm: CharNgramLM | None = None,
    lm_weight: float = 0.5,
    insertion_bonus: float = 0.0,
    prune_threshold: float = 1e-3,
    lexicon: Lexicon | None = None,
    oov_penalty: float = 0.0,
    native: bool | None = None,
    best_path: DecodedLine | None = None,
) -> DecodedLine:
    """Beam-search decode one line's ``(T, C)`` log-probabilities (class 0 = blank) into a
    :class:`DecodedLine` (text, per-character confidences and frame spans), like ``greedy_decode``
    (``lexicon``, ``oov_penalty`` and ``native``: see :func:`prefix_beam_search`).

    When the search agrees with the best path, the greedy result is returned: the best path is then
    also the best alignment of the text, so spans and confidences are the same, without the Viterbi.
    ``best_path``: that greedy result when the caller has it already (``greedy_decode`` of the same
    ``log_probs`` and ``characters``), so it is not decoded twice.
    """
    labels = prefix_beam_search(
        log_probs,
        beam_width=beam_width,
        lm=lm,
        characters=characters,
        lm_weight=lm_weight,
        insertion_bonus=insertion_bonus,
        prune_threshold=prune_threshold,
        lexicon=lexicon,
        oov_penalty=oov_penalty,
        native=native,
    )
    greedy = best_path if best_path is not None else greedy_decode(log_probs, characters)
    if greedy.text == "".join(characters[c - 1] for c in labels):
        return greedy
    return aligned_line(log_probs, labels, characters, native)


DECODERS = ("greedy", "beam")


@dataclass
class CtcDecoder:
    """Decodes ``(T, C)`` log-probabilities at temperature 1 into a :class:`DecodedLine`.

    The text comes from ``method`` (``"greedy"`` or ``"beam"``, with the optional language model);
    character confidences are then read at ``temperature`` and mapped by ``char_calibration`` (an
    isotonic map fitted on ``val`` for this decoder, see ``handocr calibrate``). Both change
    confidences only, never the text. ``native``: the beam search in C or in Python (``None``: C
    when built; see :func:`prefix_beam_search`).
    """

    characters: str
    method: str = "greedy"
    beam_width: int = 8
    lm: CharNgramLM | None = None
    lm_weight: float = 0.5
    insertion_bonus: float = 0.0
    prune_threshold: float = 1e-3
    temperature: float = 1.0
    char_calibration: IsotonicCalibrator | None = None
    lexicon: Lexicon | None = None
    oov_penalty: float = 0.0
    native: bool | None = None

    def __post_init__(self) -> None:
        if self.method not in DECODERS:
            raise ValueError(f"decoder must be one of {DECODERS}, not {self.method!r}")
        self._index = {c: i + 1 for i, c in enumerate(self.characters)}

    def __call__(self, log_probs: np.ndarray, best_path: DecodedLine | None = None) -> DecodedLine:
        """Decode one line (``log_probs`` at temperature 1, class 0 = blank); ``best_path``: its
        ``greedy_decode`` when the caller has it already (see :func:`beam_decode`)."""
        if self.method == "greedy":
            decoded = best_path if best_path is not None else greedy_decode(log_probs, self.characters)
        else:
            decoded = beam_decode(
                log_probs,
                self.characters,
                beam_width=self.beam_width,
                lm=self.lm,
                lm_weight=self.lm_weight,
                insertion_bonus=self.insertion_bonus,
                prune_threshold=self.prune_threshold,
                lexicon=self.lexicon,
                oov_penalty=self.oov_penalty,
                native=self.native,
                best_path=best_path,
            )
        if self.temperature != 1.0 and decoded.text:
            labels = [self._index[c] for c in decoded.text]
            confs = SpanConfidences(log_probs, labels, decoded.spans).at(self.temperature)
            decoded = DecodedLine(decoded.text, [float(c) for c in confs], decoded.spans)
        if self.char_calibration is not None and decoded.text:
            confs = self.char_calibration(decoded.char_confidences)
            decoded = DecodedLine(decoded.text, [float(c) for c in confs], decoded.spans, decoded.confidence)
        return decoded

    @classmethod
    def from_settings(cls, settings: dict[str, Any], folder: Path, characters: str) -> CtcDecoder:
        """From a ``model.json``: ``decoder``, ``beam_width``, ``lm`` (a file in ``folder``, or a full
        path: :func:`handocr.models.decoder_settings` gives them so), ``lm_weight``,
        ``insertion_bonus``, ``prune_threshold``, ``lexicon`` (the same),
        ``oov_penalty``, ``temperature`` and ``char_calibration`` (``{"x": [...], "y": [...]}``);
        absent keys keep greedy decoding, no lexicon and uncalibrated confidences."""
        from handocr.recognition.lexicon import Lexicon
        from handocr.recognition.lm import CharNgramLM

        lm_file = settings.get("lm")
        lexicon_file = settings.get("lexicon")
        calibration = settings.get("char_calibration")
        return cls(
            characters,
            method=str(settings.get("decoder", "greedy")),
            beam_width=int(settings.get("beam_width", 8)),
            lm=CharNgramLM.load(Path(folder) / lm_file) if lm_file else None,
            lm_weight=float(settings.get("lm_weight", 0.5)),
            insertion_bonus=float(settings.get("insertion_bonus", 0.0)),
            prune_threshold=float(settings.get("prune_threshold", 1e-3)),
            temperature=float(settings.get("temperature", 1.0)),
            char_calibration=IsotonicCalibrator.from_dict(calibration) if calibration else None,
            lexicon=Lexicon.load(Path(folder) / lexicon_file) if lexicon_file else None,
            oov_penalty=float(settings.get("oov_penalty", 0.0)),
        )

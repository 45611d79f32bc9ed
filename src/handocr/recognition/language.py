"""Which language a page is written in, guessed from a first, greedy reading of its lines.

A recognizer may ship one decoder per language (a character LM and a word lexicon built for that
language, ``languages`` in its ``model.json``) beside its general one. ``language="auto"`` reads a
page's lines greedily (no beam, no LM: a fraction of a millisecond a line), counts the words that
exactly one language's lexicon knows, and decodes the page with that language's decoder when the
count is clear (:func:`guess_language`); otherwise, and with ``language="any"``, the general
decoder reads it. A named language (``"fr"``, ``"en"``) skips the guess.

On the 66 ``val`` pages, greedy readings of Copiste pages give 6 to 76 French-only words against
0 to 7 English-only ones, and Hooker pages the reverse, except two pages with too few words to
tell (they keep the general decoder).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from handocr.errors import UnknownLanguage

if TYPE_CHECKING:
    from handocr.recognition.lexicon import Lexicon

AUTO = "auto"  # guess each page's language among the recognizer's
ANY = "any"  # the recognizer's general decoder, no guess
MIN_WORDS = 5  # least words known to one language only, to choose it
MIN_RATIO = 2.0  # ... and at least this many times as many as any other language's


def language_choices(languages: Iterable[str]) -> tuple[str, ...]:
    """What ``language`` may be for a recognizer with these language-specific decoders."""
    return (AUTO, ANY, *languages)


def check_language(language: str, languages: Iterable[str]) -> None:
    """Raise :class:`~handocr.errors.UnknownLanguage` unless ``language`` is one of :func:`language_choices`."""
    choices = language_choices(languages)
    if language not in choices:
        raise UnknownLanguage(f"unknown language {language!r}: this recognizer reads {', '.join(choices)}")


def guess_language(
    texts: Iterable[str], lexicons: Mapping[str, Lexicon], min_words: int = MIN_WORDS, min_ratio: float = MIN_RATIO
) -> str | None:
    """The language of ``lexicons`` whose words ``texts`` use, or ``None`` when unclear.

    Only words that exactly one lexicon knows count (names, numbers and words shared by the
    languages tell nothing); the most counted language wins if it has at least ``min_words`` of
    them and ``min_ratio`` times the next language's count.
    """
    words = [word for text in texts for word in text.split()]
    known = {code: lexicon.knows_each(words) for code, lexicon in lexicons.items()}
    counts: Counter[str] = Counter()
    for i in range(len(words)):
        knowing = [code for code, known_here in known.items() if known_here[i]]
        if len(knowing) == 1:
            counts[knowing[0]] += 1
    ranked = counts.most_common(2)
    if not ranked or ranked[0][1] < min_words:
        return None
    runner_up = ranked[1][1] if len(ranked) > 1 else 0
    return ranked[0][0] if ranked[0][1] >= min_ratio * runner_up else None

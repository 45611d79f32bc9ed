"""Text to write on the synthetic pages, in French and English, with no network.

Three sources are mixed: short public-domain passages kept here (the 1789 Declaration, La Fontaine,
Hugo, Austen, Lincoln, ...), templates filled with names, places and dates (letters, notes,
encyclopaedic sentences like those the Copiste writers copied), and sentences built from the word
lists of Faker (``fr_FR`` and ``en_US``, from PyPI) mixed with the languages' common short words.
Without Faker the templates use small built-in name lists and the built sentences use the words of
the passages. Own text (a novel, the ``train`` transcriptions of a real set) can replace the
sentences: :meth:`TextSource.from_lines` and :meth:`TextSource.from_files`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np

LANGUAGES = ("fr", "en")


def _words(text: str) -> list[str]:
    return text.split()


CLASSICS = {
    "fr": [
        "Les hommes naissent et demeurent libres et égaux en droits.",
        "Les distinctions sociales ne peuvent être fondées que sur l'utilité commune.",
        "La liberté consiste à pouvoir faire tout ce qui ne nuit pas à autrui.",
        "Maître Corbeau, sur un arbre perché, tenait en son bec un fromage.",
        "Maître Renard, par l'odeur alléché, lui tint à peu près ce langage.",
        "La Cigale, ayant chanté tout l'été, se trouva fort dépourvue quand la bise fut venue.",
        "Rien ne sert de courir ; il faut partir à point.",
        "La raison du plus fort est toujours la meilleure.",
        "Demain, dès l'aube, à l'heure où blanchit la campagne, je partirai.",
        "Longtemps, je me suis couché de bonne heure.",
        "Il faut cultiver notre jardin.",
        "Le cœur a ses raisons que la raison ne connaît point.",
        "Il pleure dans mon cœur comme il pleut sur la ville.",
        "Heureux qui, comme Ulysse, a fait un beau voyage.",
        "Ô temps, suspends ton vol ! et vous, heures propices, suspendez votre cours !",
        "Un coup de dés jamais n'abolira le hasard.",
        "Les sanglots longs des violons de l'automne blessent mon cœur d'une langueur monotone.",
        "Nous étions à l'étude, quand le Proviseur entra, suivi d'un nouveau habillé en bourgeois.",
    ],
    "en": [
        "It is a truth universally acknowledged, that a single man in possession of a good fortune, "
        "must be in want of a wife.",
        "It was the best of times, it was the worst of times.",
        "Four score and seven years ago our fathers brought forth on this continent a new nation.",
        "We hold these truths to be self-evident, that all men are created equal.",
        "Shall I compare thee to a summer's day? Thou art more lovely and more temperate.",
        "The quality of mercy is not strained; it droppeth as the gentle rain from heaven.",
        "I wandered lonely as a cloud that floats on high o'er vales and hills.",
        "Call me Ishmael.",
        "Whose woods these are I think I know.",
        "Many thanks for your kind letter, which reached me this morning.",
        "I have sent you the specimens by this post, and shall be glad to hear your opinion of them.",
        "The seeds arrived in good condition and have been sown in the greenhouse.",
        "Pray give my kind regards to Mrs. Dyer and believe me ever yours sincerely.",
        "The weather has been very cold here, and the garden suffered much from the frost.",
    ],
}
SHORT_WORDS = {
    "fr": _words(
        "le la les un une des de du et à en dans pour par sur avec sans que qui ne pas plus il elle nous vous "
        "ils on je se son sa ses leur mais ou donc car comme très bien aussi tout cette ce est sont a ont été"
    ),
    "en": _words(
        "the a an of and to in for on with by at from that which who it he she we you they his her their is "
        "are was were be have has had not but or as so very all this there my your our"
    ),
}
MONTHS = {
    "fr": _words("janvier février mars avril mai juin juillet août septembre octobre novembre décembre"),
    "en": _words("January February March April May June July August September October November December"),
}
_NAMES = {
    "fr": (
        _words("Jean Marie Louise Pierre Françoise Hélène André Cécile Joseph Thérèse Benoît Élise"),
        _words("Martin Bernard Dubois Lefèvre Moreau Girard Bonnet Mercier Chevalier Gauthier Lemaître"),
        _words("Paris Lyon Québec Montréal Nantes Genève Bordeaux Trois-Rivières Besançon Périgueux Sherbrooke"),
    ),
    "en": (
        _words("John Mary William Elizabeth George Margaret Thomas Alice Henry Charlotte Edward Emily"),
        _words("Smith Jones Taylor Brown Williams Wilson Evans Thomson Hooker Darwin Dyer Baxter"),
        _words("London Kew Edinburgh Bristol Oxford Cambridge Boston Calcutta Sydney York Dublin"),
    ),
}
_TEMPLATES = {
    "fr": [
        "{place} est une commune française située dans le département de {region}.",
        "{name} est né le {date} à {place}.",
        "Je vous remercie de votre lettre du {date}.",
        "La réunion aura lieu le {date} à {hour} heures, salle {number}.",
        "J'ai bien reçu le colis que vous m'avez envoyé de {place}.",
        "Nous partirons pour {place} le {date}, si le temps le permet.",
        "Ne pas oublier : acheter {number} timbres et écrire à {name}.",
    ],
    "en": [
        "{name} was born on the {date} at {place}.",
        "Thank you for your letter of the {date}.",
        "The meeting will be held on the {date} at {hour} o'clock, room {number}.",
        "I have received the parcel you sent me from {place}.",
        "We leave for {place} on the {date}, weather permitting.",
        "Remember to buy {number} stamps and to write to {name}.",
        "{place} is a small town in the county of {region}.",
    ],
}
_SNIPPETS = {
    "fr": {
        "salutation": ["Cher Monsieur,", "Chère Madame,", "Mon cher ami,", "Chère {first},", "Bonjour {first},"],
        "closing": ["Bien à vous,", "Amitiés,", "Je vous embrasse,", "Veuillez agréer mes salutations distinguées."],
        "note": ["voir p. {number}", "N.B.", "à revoir", "cf. lettre", "urgent", "déjà fait", "{number} fr.", "oui"],
        "stamp": ["ARCHIVES", "COPIE", "REÇU LE", "CONFIDENTIEL", "PAYÉ", "ORIGINAL"],
    },
    "en": {
        "salutation": ["Dear Sir,", "Dear Madam,", "My dear {last},", "Dear {first},", "My dear friend,"],
        "closing": ["Yours sincerely,", "Ever yours,", "With kind regards,", "Yours truly,", "Believe me,"],
        "note": ["see p. {number}", "N.B.", "p.t.o.", "copy sent", "urgent", "done", "£{number}", "yes"],
        "stamp": ["RECEIVED", "COPY", "ARCHIVES", "PAID", "CONFIDENTIAL", "ORIGINAL"],
    },
}
_ELISION = re.compile(r"\b(le|la|de|je|me|te|se|ne|que) (?=[aeiouéèêâîôûh])", re.IGNORECASE)


class TextSource:
    """Sentences, names, places and dates in the page's language; every draw comes from ``rng``.

    ``corpus`` replaces the built sentences: ``{"fr": [...], "en": [...]}``, or ``{"*": [...]}``
    for text of any language. ``use_faker=None`` uses Faker when it is installed.
    """

    def __init__(self, corpus: dict[str, list[str]] | None = None, use_faker: bool | None = None):
        self.corpus = {k: [s for s in v if s.strip()] for k, v in (corpus or {}).items() if v}
        self._fakers: dict[str, object] = {}
        self._faker_ok = use_faker is not False and _faker_installed()
        if use_faker and not self._faker_ok:
            raise ImportError("Faker is not installed: pip install faker")
        self.languages = tuple(k for k in self.corpus if k != "*") or LANGUAGES
        if "*" in self.corpus:
            self.languages = LANGUAGES

    @classmethod
    def from_lines(cls, lines: Iterable[str], language: str = "*") -> TextSource:
        """Sentences from ``lines`` (one or more sentences a line), for ``language`` (``*``: any)."""
        return cls({language: [" ".join(line.split()) for line in lines if line.strip()]})

    @classmethod
    def from_files(cls, paths: Iterable[Path | str], language: str = "*") -> TextSource:
        """Sentences from UTF-8 text files: paragraphs are split at sentence ends."""
        sentences: list[str] = []
        for path in paths:
            text = " ".join(Path(path).read_text(encoding="utf-8").split())
            sentences.extend(s for s in re.split(r"(?<=[.!?;])\s+", text) if len(s) > 1)
        return cls({language: sentences})

    def __getstate__(self) -> dict:  # Faker instances stay behind when sent to worker processes
        return {**self.__dict__, "_fakers": {}}

    @property
    def uses_faker(self) -> bool:
        """True when names, places and built sentences come from Faker."""
        return self._faker_ok

    def _faker(self, lang: str, rng: np.random.Generator):
        if lang not in self._fakers:
            from faker import Faker

            self._fakers[lang] = Faker("fr_FR" if lang == "fr" else "en_US")
        fake = self._fakers[lang]
        fake.seed_instance(int(rng.integers(2**31)))  # type: ignore[attr-defined]
        return fake

    def sentence(self, rng: np.random.Generator, lang: str) -> str:
        """One sentence: from the corpus when one was given, else a passage, a template or built words."""
        own = self.corpus.get(lang) or self.corpus.get("*")
        if own:
            return own[int(rng.integers(len(own)))]
        pick = rng.random()
        if pick < 0.3:
            return CLASSICS[lang][int(rng.integers(len(CLASSICS[lang])))]
        if pick < 0.5:
            template = _TEMPLATES[lang][int(rng.integers(len(_TEMPLATES[lang])))]
            return self.fill(template, rng, lang)
        return self.built_sentence(rng, lang)

    def built_sentence(self, rng: np.random.Generator, lang: str) -> str:
        """Words of the language in a random order, with commas, elisions and an end mark."""
        if self._faker_ok:
            content = list(self._faker(lang, rng).words(int(rng.integers(4, 14))))  # type: ignore[attr-defined]
        else:
            pool = " ".join(CLASSICS[lang]).replace(",", "").replace(".", "").split()
            content = [pool[int(i)].lower() for i in rng.integers(0, len(pool), int(rng.integers(4, 14)))]
        words = []
        for word in content:
            if rng.random() < 0.45:
                words.append(SHORT_WORDS[lang][int(rng.integers(len(SHORT_WORDS[lang])))])
            words.append(word + ("," if rng.random() < 0.08 else ""))
        text = " ".join(words).rstrip(",")
        if lang == "fr":
            text = _ELISION.sub(lambda m: m.group(1)[:-1] + "'", text)
            text = text.replace("' ", "'")
        end = rng.choice([".", ".", ".", ".", "!", "?", " ;", ":", "..."])
        return text[:1].upper() + text[1:] + str(end)

    def fill(self, template: str, rng: np.random.Generator, lang: str) -> str:
        """``template`` with ``{name} {first} {last} {place} {region} {date} {hour} {number}`` filled in."""
        first, last = self.first_name(rng, lang), self.last_name(rng, lang)
        values = {
            "name": f"{first} {last}",
            "first": first,
            "last": last,
            "place": self.place(rng, lang),
            "region": self.region(rng, lang),
            "date": self.date(rng, lang),
            "hour": str(int(rng.integers(7, 20))),
            "number": str(int(rng.integers(1, 400))),
        }
        return template.format(**values)

    def first_name(self, rng: np.random.Generator, lang: str) -> str:
        if self._faker_ok:
            return str(self._faker(lang, rng).first_name())  # type: ignore[attr-defined]
        return _pick(rng, _NAMES[lang][0])

    def last_name(self, rng: np.random.Generator, lang: str) -> str:
        if self._faker_ok:
            return str(self._faker(lang, rng).last_name())  # type: ignore[attr-defined]
        return _pick(rng, _NAMES[lang][1])

    def place(self, rng: np.random.Generator, lang: str) -> str:
        if self._faker_ok:
            return str(self._faker(lang, rng).city())  # type: ignore[attr-defined]
        return _pick(rng, _NAMES[lang][2])

    def region(self, rng: np.random.Generator, lang: str) -> str:
        if self._faker_ok and lang == "fr":
            return str(self._faker(lang, rng).department_name())  # type: ignore[attr-defined]
        return self.place(rng, lang)

    def date(self, rng: np.random.Generator, lang: str) -> str:
        """A date as people write it: ``12 mars 1894``, ``3rd April 1902``, ``12/3/94``."""
        day, month, year = int(rng.integers(1, 29)), int(rng.integers(12)), int(rng.integers(1850, 2025))
        style = rng.random()
        if style < 0.2:
            return f"{day}/{month + 1}/{year % 100:02d}"
        if lang == "fr":
            return f"{'1er' if day == 1 else day} {MONTHS['fr'][month]} {year}"
        suffix = "th" if 10 < day < 14 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
        return f"{day}{suffix} {MONTHS['en'][month]} {year}" if style < 0.6 else f"{MONTHS['en'][month]} {day}, {year}"

    def snippet(self, rng: np.random.Generator, lang: str, kind: str) -> str:
        """A short piece: ``salutation``, ``closing``, ``note``, ``stamp``, ``signature`` or ``dateline``."""
        if kind == "signature":
            return (
                f"{self.first_name(rng, lang)[:1]}. {self.last_name(rng, lang)}"
                if rng.random() < 0.5
                else (f"{self.first_name(rng, lang)} {self.last_name(rng, lang)}")
            )
        if kind == "dateline":
            date = self.date(rng, lang)
            return f"{self.place(rng, lang)}, le {date}" if lang == "fr" else f"{self.place(rng, lang)}, {date}"
        return self.fill(_pick(rng, _SNIPPETS[lang][kind]), rng, lang)

    def paragraph(self, rng: np.random.Generator, lang: str, sentences: int) -> list[str]:
        """The words of ``sentences`` sentences."""
        return " ".join(self.sentence(rng, lang) for _ in range(sentences)).split()


def _pick(rng: np.random.Generator, items: list[str]) -> str:
    return items[int(rng.integers(len(items)))]


def _faker_installed() -> bool:
    try:
        import faker  # noqa: F401
    except ImportError:
        return False
    return True

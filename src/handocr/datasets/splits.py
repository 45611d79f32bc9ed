"""Split names and the deterministic split used when a dataset brings no split of its own.

Every reader accepts the same split names: ``train``, ``val`` (aliases ``valid``, ``validation``,
``dev``), ``test``, and ``all`` (or ``None``) for everything. When a folder has no split file, the
split is made here: whole groups (a writer, a page, a page folder) go to one side, never single lines,
so that ``val`` measures generalisation to unseen pages or hands.
"""

from __future__ import annotations

import random
from collections.abc import Iterable

from handocr.errors import DatasetError

VAL_FRACTION = 0.1
SPLIT_SEED = 0
_ALIASES = {"valid": "val", "validation": "val", "dev": "val", "tr": "train", "va": "val", "te": "test"}


def canonical_split(split: str | None) -> str | None:
    """``None`` for every item, else one of ``train``, ``val``, ``test`` (other names pass through)."""
    if split is None or split == "all":
        return None
    return _ALIASES.get(split, split)


def deterministic_groups(
    groups: Iterable[str], val_fraction: float = VAL_FRACTION, seed: int = SPLIT_SEED
) -> dict[str, str]:
    """Assign each distinct group key to ``train`` or ``val``: sorted, shuffled with ``seed``, the first
    ``val_fraction`` (at least one group when there are two or more) to ``val``.

    The assignment depends only on the set of keys and the seed, not on their order.
    """
    keys = sorted(set(groups))
    random.Random(seed).shuffle(keys)
    n_val = max(1, round(len(keys) * val_fraction)) if len(keys) > 1 else 0
    return {key: ("val" if i < n_val else "train") for i, key in enumerate(keys)}


def select_by_group(
    items: list, group_of, split: str | None, where: str, seed: int = SPLIT_SEED, val_fraction: float = VAL_FRACTION
) -> list:
    """The items of ``split`` under the deterministic split by ``group_of(item)``.

    Raises :class:`DatasetError` for ``test`` (there is no test split without a split file) and for
    unknown split names; ``where`` names the folder in messages.
    """
    wanted = canonical_split(split)
    if wanted is None:
        return list(items)
    if wanted not in ("train", "val"):
        raise DatasetError(f"{where}: no split file, so only the splits train, val and all exist (asked {split!r})")
    assignment = deterministic_groups((group_of(i) for i in items), val_fraction, seed)
    return [i for i in items if assignment[group_of(i)] == wanted]

"""A short run of the decode fuzzer (bench/fuzz_decode.py): no unexpected exception, no slow input."""

from __future__ import annotations

import random

import pytest
from bench.fuzz_decode import LIMITS, MUTATORS, check_one, fuzz, make_seeds


def test_seeds_decode() -> None:
    for name, data in make_seeds().items():
        assert check_one(data) == "ok", name


def test_every_mutator_returns_bytes() -> None:
    rng = random.Random(1)
    seeds = list(make_seeds().values())
    for name, mutator in MUTATORS.items():
        for seed in seeds:
            assert isinstance(mutator(rng, bytearray(seed), seeds), bytearray | bytes), name


def test_short_fuzz_run_finds_nothing() -> None:
    report = fuzz(iterations=300, seed=0, budget_s=5.0)
    assert report.iterations == 300
    assert report.failures == []
    assert report.slow == []
    assert report.outcomes["ok"] >= len(make_seeds())
    assert report.outcomes["ImageTooLarge"] > 0  # huge declared dimensions are caught


def test_check_one_lets_unexpected_errors_through(monkeypatch: pytest.MonkeyPatch) -> None:
    import bench.fuzz_decode as fuzz_module

    def broken(data: bytes, limits: object) -> list[object]:
        raise KeyError("bug")

    monkeypatch.setattr(fuzz_module, "decode_pages", broken)
    with pytest.raises(KeyError):
        check_one(b"\x89PNG\r\n\x1a\n", LIMITS)

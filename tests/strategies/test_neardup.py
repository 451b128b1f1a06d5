"""The near-duplicate rule compared in bulk: the same pairs and the same folds as the rule applied pair by pair,
whether every pair is compared or only those sharing a rare word or a MinHash band."""

from __future__ import annotations

import itertools
import random

import pytest
from reworded import batch, fold_pairwise, reword, FACTS

from fanout.strategies import neardup
from fanout.strategies.answers import extract_findings
from fanout.strategies.neardup import Matches, fold, similar


@pytest.fixture(params=["all pairs", "bands"])
def tier(request, monkeypatch):
    """The characters rule compared on every pair, or (ALL_PAIRS 0) only on pairs whose MinHash bands agree."""
    if request.param == "bands":
        monkeypatch.setattr(neardup, "ALL_PAIRS", 0)
    return request.param


def findings(branches: int) -> list[str]:
    return [f for _, text in batch(branches) for f in extract_findings(text)]


def pairs_found_and_expected(texts):
    m = Matches(texts)
    found = {(i, j) for i, near in enumerate(m.near) for j in near if i < j}
    expected = {(i, j) for i, j in itertools.combinations(range(len(m.keys)), 2) if similar(m.keys[i], m.keys[j])}
    return m, found, expected


def test_the_pairs_found_are_the_rules_pairs(tier):
    texts = findings(60) + ["a b c d e", "e d c b a", "quantum supremacy", "quantum supremacyy", "...", "n"]
    m, found, expected = pairs_found_and_expected(texts)
    assert found == expected
    by_chars_alone = {(i, j) for i, j in expected if not words_shared(m.keys[i], m.keys[j])}
    assert len(expected) > 100 and len(by_chars_alone) > 30  # the data holds many pairs of each rule
    assert (m.keys.index("a b c d e"), m.keys.index("e d c b a")) in found  # all words shared, few characters in order
    assert (m.keys.index("quantum supremacy"), m.keys.index("quantum supremacyy")) in by_chars_alone


def test_rapidfuzzs_float_scores_only_sieve_the_integers_decide(tier, monkeypatch):
    monkeypatch.setattr(neardup, "_SIEVE", 0.4)  # the C++ loop now lets through pairs far under either threshold
    _, found, expected = pairs_found_and_expected(findings(40))
    assert found == expected


def test_more_distinct_words_than_characters_are_compared_as_sets(monkeypatch):
    monkeypatch.setattr(neardup, "_SPELLABLE", 10)  # as if the findings held over a million distinct words
    _, found, expected = pairs_found_and_expected(findings(40) + ["a b c d e", "e d c b a"])
    assert found == expected


def words_shared(a: str, b: str) -> bool:
    wa, wb = set(a.split()), set(b.split())
    return len(wa & wb) / len(wa | wb) >= 0.8


def test_folds_as_the_rule_does_pair_by_pair(tier):
    rng = random.Random(3)
    texts = findings(50)
    rng.shuffle(texts)
    pairs = [(t, f"v{i % 7}") for i, t in enumerate(texts)]
    assert fold(pairs) == fold_pairwise(pairs)


def test_a_finding_joins_the_earliest_entry_it_is_alike_to():
    # b is alike to a and to c; a and c are not alike: folded in the order a, c, b, b joins a (the first entry).
    a, b, c = "alpha beta gamma delta", "alpha beta gamma delta epsilon", "beta gamma delta epsilon"
    assert similar(a, b) and similar(b, c) and not similar(a, c)
    assert [e["found_by"] for e in fold([(a, "x"), (c, "y"), (b, "z")])] == [["x", "z"], ["y"]]


def test_an_empty_finding_is_no_ones_duplicate(tier):
    assert [e["found_by"] for e in fold([("...", "x"), ("!!!", "y"), ("...", "z")])] == [["x"], ["y"], ["z"]]


# 17 of 20 characters in order (3 of 20 replaced: Indel distance 6 of 40): exactly the 85 % the rule asks for.
EXACTLY_85 = ("abcdefghijklmnopqrst", "abc1efghij2lmnopq3st")


def test_the_rules_thresholds():
    assert similar(*EXACTLY_85) and not similar(EXACTLY_85[0], "abc1efghij2lmnopq34t")  # 85 % is; 80 % is not
    assert Matches(EXACTLY_85).near == [[1], [0]]  # compared in bulk: the same integers decide
    assert similar("alpha beta gamma delta", "delta gamma beta alpha epsilon")  # 4 of 5 words: 80 %
    assert not similar("alpha beta gamma", "gamma beta alpha epsilon zeta")  # 3 of 5 words, characters apart
    fact = FACTS[0]
    assert all(similar(fact, reword(fact, random.Random(seed))) for seed in range(20))

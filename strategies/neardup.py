"""Near-duplicate findings: the rule the `union` aggregator and the quality figures fold by, for two texts and for
many at once.

The rule: normalised (`answers.normalise`), two findings are near-duplicates when they are equal, share 80 % of
their distinct words (Jaccard), or are 85 % similar character by character (rapidfuzz's Indel similarity: twice the
longest common subsequence over both lengths). An empty finding is no one's duplicate.

Compared pair by pair, n findings cost n² comparisons. `Matches` compares each distinct finding once, and only the
pairs that could match: those sharing one of their rarest words (prefix filtering, exact for the words rule: two
sets sharing 80 % must share one of the first |A| - ⌈0.8·|A|⌉ + 1 words of each in one global order), and for the
characters rule every pair in rapidfuzz's C++ loop while there are at most `ALL_PAIRS`, above that the pairs whose
MinHash of character 4-grams agree on a band (one-permutation hashing: one hash per 4-gram). A pair that band
misses has 85 % of its characters in common and fewer than about half of its 4-grams: edits scattered through
every word, not a finding reworded.
"""

from __future__ import annotations

import itertools
import random
from collections import Counter, defaultdict
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

from .answers import normalise

WORDS_SHARED = (4, 5)  # 80 % of the words: Jaccard as a fraction, so the prefix bound is exact integer arithmetic
CHARS_SIMILAR = 0.85
ALL_PAIRS = 100_000  # distinct findings compared all pairs with all pairs up to this many pairs (~450 findings)
# MinHash: 64 bins, a band of 3 that agree makes a candidate. The chance that a pair whose 5-gram sets have Jaccard J
# is compared: J 0.7: 99.9 %, 0.6: 99 %, 0.5: 94 %, 0.1: 2 %.
BAND_ROWS, BANDS = 3, 21
GRAM = 5


def _indel() -> Any:
    """rapidfuzz's Indel scorer, imported on first use: a start-up that compares nothing does not pay for it."""
    from rapidfuzz.distance import Indel

    return Indel


def _words_shared(wa: frozenset[str], wb: frozenset[str]) -> bool:
    shared = len(wa & wb)
    num, den = WORDS_SHARED
    return den * shared >= num * (len(wa) + len(wb) - shared)


def _chars_similar(a: str, b: str, ratio: Any) -> bool:
    return ratio(a, b, score_cutoff=CHARS_SIMILAR) >= CHARS_SIMILAR


def similar(a: str, b: str) -> bool:
    """Near-duplicates: the same words in another order or with small edits."""
    na, nb = normalise(a), normalise(b)
    if not na or not nb:
        return False
    return (na == nb or _words_shared(frozenset(na.split()), frozenset(nb.split()))
            or _chars_similar(na, nb, _indel().normalized_similarity))


class Matches:
    """Which of many texts are near-duplicates of which, each distinct normalised text compared once."""

    def __init__(self, texts: Iterable[str]) -> None:
        self._key: dict[str, int | None] = {}  # text -> its normalised form's index; None: empty, alike to nothing
        index: dict[str, int] = {}
        for text in texts:
            if text not in self._key:
                norm = normalise(text)
                self._key[text] = index.setdefault(norm, len(index)) if norm else None
        self.keys = list(index)
        words = [frozenset(k.split()) for k in self.keys]
        self.near: list[list[int]] = [[] for _ in self.keys]  # the other keys each key is alike to
        for i, j in sorted(_alike_pairs(self.keys, words)):
            self.near[i].append(j)
            self.near[j].append(i)

    def key(self, text: str) -> int | None:
        """The index of the text's normalised form (the text must be one of those given); None when empty."""
        return self._key[text]

    def alike(self, key: int) -> list[int]:
        """The key and every key near it."""
        return [key, *self.near[key]]

    def fold(self, findings: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
        """(finding, who found it) folded into distinct findings, first wording kept, in order of appearance: each
        finding joins the earliest entry whose first wording it is alike to."""
        folded: list[dict[str, Any]] = []
        entry_of: dict[int, int] = {}  # the key of an entry's first wording -> the entry (no two entries share one)
        for text, who in findings:
            key = self._key[text]
            hit = None if key is None else min((entry_of[k] for k in self.alike(key) if k in entry_of), default=None)
            if hit is None:
                if key is not None:
                    entry_of[key] = len(folded)
                folded.append({"text": text, "found_by": [who]})
            elif who not in folded[hit]["found_by"]:
                folded[hit]["found_by"].append(who)
        return folded


def fold(findings: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
    """(finding, who found it) pairs folded into distinct findings, first wording kept, in order of appearance."""
    return Matches(text for text, _ in findings).fold(findings)


def _alike_pairs(keys: Sequence[str], words: Sequence[frozenset[str]]) -> set[tuple[int, int]]:
    """The pairs (i < j) of distinct keys that are alike: under the words rule every one; under the characters
    rule every one up to ALL_PAIRS pairs and, above, those whose 4-grams are not mostly unlike."""
    alike = {(i, j) for i, j in set(_sharing_a_rare_word(words)) if _words_shared(words[i], words[j])}
    if len(keys) * (len(keys) - 1) // 2 <= ALL_PAIRS:
        alike.update(_close_in_characters(keys, {i: range(i + 1, len(keys)) for i in range(len(keys))}))
    else:
        later: dict[int, list[int]] = defaultdict(list)
        for i, j in set(_sharing_a_band(keys)) - alike:
            later[i].append(j)
        alike.update(_close_in_characters(keys, later))
    return alike


def _sharing_a_rare_word(words: Sequence[frozenset[str]]) -> Iterator[tuple[int, int]]:
    df = Counter(w for ws in words for w in ws)
    num, den = WORDS_SHARED
    posting: dict[str, list[int]] = defaultdict(list)
    for i, ws in enumerate(words):
        prefix = len(ws) - -(-num * len(ws) // den) + 1
        for w in sorted(ws, key=lambda w: (df[w], w))[:prefix]:
            posting[w].append(i)
    for ids in posting.values():
        yield from itertools.combinations(ids, 2)


def _close_in_characters(keys: Sequence[str], pairs: Mapping[int, Sequence[int]]) -> Iterator[tuple[int, int]]:
    """Of the pairs (i, each of pairs[i]), those alike under the characters rule: one C++ loop per key."""
    from rapidfuzz import process

    ratio = _indel().normalized_similarity
    for i, js in pairs.items():
        choices = [keys[j] for j in js]
        for _, _, at in process.extract(keys[i], choices, scorer=ratio, score_cutoff=CHARS_SIMILAR, limit=None):
            yield i, js[at]


def _sharing_a_band(keys: Sequence[str]) -> Iterator[tuple[int, int]]:
    """Pairs whose MinHash signatures of character 5-grams agree on every row of some band."""
    grams = [[padded[p:p + GRAM] for p in range(len(key))] for key in keys for padded in (key + _PAD,)]
    draw = random.Random(0).getrandbits  # one random order of all 5-grams, drawn as they are first met: every run
    ranks = {gram: draw(_RANK_BITS) for gram in dict.fromkeys(itertools.chain.from_iterable(grams))}
    signatures = [_minhash(map(ranks.__getitem__, gs)) for gs in grams]
    for b in range(0, BANDS * BAND_ROWS, BAND_ROWS):
        buckets: dict[tuple[int, ...], list[int]] = defaultdict(list)
        for i, signature in enumerate(signatures):
            buckets[tuple(signature[b:b + BAND_ROWS])].append(i)
        for ids in buckets.values():
            yield from itertools.combinations(ids, 2)


_RANK_BITS = 30  # small ints sort and hash fastest; two 5-grams of one rank only ever make an extra candidate
_BIN = _RANK_BITS - 6  # a rank's top 6 bits are its bin: 64 bins
_UNSEEN = 1 << _RANK_BITS  # above every rank: a bin no 5-gram fell in
_PAD = "\x00" * (GRAM - 1)  # a key shorter than a 5-gram still has one; normalised text holds no NUL


def _minhash(ranks: Iterable[int]) -> list[int]:
    """One-permutation MinHash of a key's 5-gram ranks: in each bin, the lowest rank that fell in it. An empty bin
    takes the next filled bin's rank, rehashed by the distance: the same rule for every key, so two keys still agree
    where their 5-grams do, and a band of copies is no copy of its neighbour's band."""
    descending = sorted(ranks, reverse=True)
    lowest = dict(zip(map(_BIN.__rrshift__, descending), descending))  # the last written, the lowest, stays
    if len(lowest) == 1 << (_RANK_BITS - _BIN):
        return [lowest[b] for b in range(1 << (_RANK_BITS - _BIN))]
    signature = [_UNSEEN] * (1 << (_RANK_BITS - _BIN))
    filled, distance = lowest[max(lowest)], 0
    for b in range(max(lowest), max(lowest) - len(signature), -1):  # backwards round the end, from a filled bin
        rank = lowest.get(b % len(signature))
        if rank is None:
            distance += 1
            signature[b] = (filled * 0x9E3779B1 + distance) % _UNSEEN
        else:
            filled, distance = rank, 0
            signature[b] = rank
    return signature

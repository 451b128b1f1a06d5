"""Near-duplicate findings: the rule the `union` aggregator and the quality figures fold by, for two texts and for
many at once.

The rule: normalised (`answers.normalise`), two findings are near-duplicates when they are equal, share 80 % of
their distinct words (Jaccard), or are 85 % similar character by character (rapidfuzz's Indel similarity: twice the
longest common subsequence over both lengths). An empty finding is no one's duplicate.

Compared pair by pair, n findings cost n² comparisons. `Matches` compares each distinct finding once, and only the
pairs that could match: those sharing one of their rarest words (prefix filtering, exact for the words rule: two
sets sharing 80 % must share one of the first |A| - ⌈0.8·|A|⌉ + 1 words of each in one global order), and for the
characters rule every pair in rapidfuzz's C++ loop while there are at most `ALL_PAIRS`, above that the pairs whose
MinHash signatures of character 5-grams agree on a band (one-permutation hashing: one rank per 5-gram, 64 bins).
The bands may miss a pair whose 5-grams are mostly unlike (Jaccard under about 0.5) although 85 % of its characters
are in order: edits scattered through every word rather than a finding reworded.
"""

from __future__ import annotations

import zlib
from collections import Counter, defaultdict
from typing import Any, Callable, Iterable, Iterator, Sequence

from .answers import normalise

# The thresholds as fractions: the rule is decided in integers (80 % of 5 words is 4 of them, exactly), never by a
# float that lands a hair under its cutoff.
WORDS_SHARED = (4, 5)  # Jaccard of the word sets
CHARS_SIMILAR = (17, 20)  # Indel similarity: (len a + len b - Indel distance) / (len a + len b)
_SIEVE = 1e-6  # rapidfuzz's float scores, compared this far below a threshold, let every pair that reaches it through
ALL_PAIRS = 100_000  # up to this many pairs of distinct findings (~450 findings), every pair is compared
# MinHash: 64 bins, a band of 3 that agree makes a candidate. The chance that a pair whose 5-gram sets have Jaccard J
# is compared: J 0.7: 99.9 %, 0.6: 99 %, 0.5: 94 %, 0.1: 2 %.
BAND_ROWS, BANDS = 3, 21
GRAM = 5


def _indel() -> Any:
    """rapidfuzz's Indel scorer, imported on first use: a start-up that compares nothing does not pay for it."""
    from rapidfuzz.distance import Indel

    return Indel


def _words_shared(wa: frozenset[str], wb: frozenset[str]) -> bool:
    return _jaccard_reached(len(wa & wb), len(wa) + len(wb))


def _jaccard_reached(shared: int, sizes: int) -> bool:
    num, den = WORDS_SHARED
    return den * shared >= num * (sizes - shared)


def _chars_reached(distance: int, lengths: int) -> bool:
    num, den = CHARS_SIMILAR
    return den * (lengths - distance) >= num * lengths


def similar(a: str, b: str) -> bool:
    """Near-duplicates: the same words in another order or with small edits."""
    na, nb = normalise(a), normalise(b)
    if not na or not nb:
        return False
    return (na == nb or _words_shared(frozenset(na.split()), frozenset(nb.split()))
            or _chars_reached(_indel().distance(na, nb), len(na) + len(nb)))


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
        for i, j in _alike_pairs(self.keys, words):
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
    rule every one up to ALL_PAIRS pairs and, above, those whose 5-grams are not mostly unlike. Candidates come as
    groups (every pair in a group may match) and are scored in rapidfuzz's C++ loop, one call per key."""
    alike = _sharing_words(words)
    everyone = len(keys) * (len(keys) - 1) // 2 <= ALL_PAIRS
    num, den = CHARS_SIMILAR
    alike.update(_scored(keys, [list(range(len(keys)))] if everyone else _band_groups(keys), num / den,
                         _chars_reached))
    return alike


def _sharing_words(words: Sequence[frozenset[str]]) -> set[tuple[int, int]]:
    """The pairs alike under the words rule. Each word spelt as one character, a key's words sorted: their Indel
    similarity is the Dice coefficient and their Indel distance |A| + |B| - 2 |A ∩ B|, scored in C++; with more
    distinct words than characters to spell them, the sets are compared in Python."""
    vocabulary = dict.fromkeys(w for ws in words for w in ws)
    if len(vocabulary) > _SPELLABLE:
        return {(i, j) for ids in _rare_word_groups(words) for n, i in enumerate(ids) for j in ids[n + 1:]
                if _words_shared(words[i], words[j])}
    code = {w: chr(0xE000 + n) for n, w in enumerate(vocabulary)}  # from the private use area up: no surrogates
    tokens = ["".join(sorted(code[w] for w in ws)) for ws in words]
    num, den = WORDS_SHARED
    return set(_scored(tokens, _rare_word_groups(words), 2 * num / (num + den),
                       lambda distance, sizes: _jaccard_reached((sizes - distance) // 2, sizes)))


def _scored(texts: Sequence[str], groups: Iterable[list[int]], cutoff: float,
            reached: Callable[[int, int], bool]) -> Iterator[tuple[int, int]]:
    """The pairs (i < j) within some group that reach a threshold: `reached(Indel distance, both lengths)`, for
    the pairs whose similarity rapidfuzz scores at least just under `cutoff`."""
    from rapidfuzz import process

    later: dict[int, set[int]] = defaultdict(set)
    for ids in groups:
        for n, i in enumerate(ids[:-1]):
            later[i].update(ids[n + 1:])
    ratio = _indel().normalized_similarity
    for i, js in later.items():
        js = sorted(js)
        choices = [texts[j] for j in js]
        for choice, score, at in process.extract(texts[i], choices, scorer=ratio, score_cutoff=cutoff - _SIEVE,
                                                 limit=None):
            lengths = len(texts[i]) + len(choice)
            if reached(round((1 - score) * lengths), lengths):  # the float score is the integer distance, exactly
                yield i, js[at]


def _rare_word_groups(words: Sequence[frozenset[str]]) -> Iterator[list[int]]:
    """For each word, the keys that have it among their rarest |A| - ⌈0.8·|A|⌉ + 1 (prefix filtering)."""
    df = Counter(w for ws in words for w in ws)
    rarest_first = {w: n for n, w in enumerate(sorted(df, key=lambda w: (df[w], w)))}
    num, den = WORDS_SHARED
    posting: dict[str, list[int]] = defaultdict(list)
    for i, ws in enumerate(words):
        prefix = len(ws) - -(-num * len(ws) // den) + 1
        for w in sorted(ws, key=rarest_first.__getitem__)[:prefix]:
            posting[w].append(i)
    return iter(posting.values())


def _band_groups(keys: Sequence[str]) -> Iterator[list[int]]:
    """The keys whose MinHash signatures of character 5-grams agree on every row of a band, band by band."""
    signatures = [_minhash(_gram_ranks(key)) for key in keys]
    for b in range(0, BANDS * BAND_ROWS, BAND_ROWS):
        buckets: dict[tuple[int, ...], list[int]] = defaultdict(list)
        for i, signature in enumerate(signatures):
            buckets[tuple(signature[b:b + BAND_ROWS])].append(i)
        yield from buckets.values()


_SPELLABLE = 0x10FFFF - 0xE000  # characters from the private use area to the last code point
_RANK_BITS = 30  # small ints hash and compare fastest
_BINS = 64  # a rank's top 6 bits are its bin; the bands read 63 of them
_BIN = _RANK_BITS - 6
_UNSEEN = 1 << _RANK_BITS  # above every rank: a bin no 5-gram fell in
_PAD = "\x00" * (GRAM - 1)  # a key shorter than a 5-gram still has one; normalised text holds no NUL


def _gram_ranks(key: str) -> list[int]:
    """Each 5-gram of the key (the last ones padded) as a 30-bit rank: the CRC-32 of its UTF-32 bytes, multiplied
    by the golden ratio so that related 5-grams do not get related ranks. The same in every process, as Python's
    own string hash is not."""
    data = (key + _PAD).encode("utf-32-le")
    crc32 = zlib.crc32
    return [((crc32(data[at:at + 4 * GRAM]) * 0x9E3779B1) & 0xFFFFFFFF) >> (32 - _RANK_BITS)
            for at in range(0, 4 * len(key), 4)]


def _minhash(ranks: Iterable[int]) -> list[int]:
    """One-permutation MinHash of a key's 5-gram ranks: in each bin, the lowest rank that fell in it. An empty bin
    takes the next filled bin's rank, rehashed by the distance: the same rule for every key, so two keys still agree
    where their 5-grams do, and a band of copies is no copy of its neighbour's band."""
    signature = [_UNSEEN] * _BINS
    for rank in ranks:
        if rank < signature[rank >> _BIN]:
            signature[rank >> _BIN] = rank
    if _UNSEEN in signature:
        last = next(b for b in range(_BINS - 1, -1, -1) if signature[b] != _UNSEEN)
        filled, distance = signature[last], 0
        for b in range(last - 1, last - _BINS, -1):  # backwards round the end: the next filled bin is the last seen
            if signature[b] == _UNSEEN:
                distance += 1
                signature[b] = (filled * 0x9E3779B1 + distance) % _UNSEEN
            else:
                filled, distance = signature[b], 0
    return signature

"""Constrained output on the embedded model: a GBNF grammar (a JSON schema's, compiled; or a grounded answer's,
providers/citing.py) that constrains sampling.

Putting llama.cpp's grammar sampler first in the chain checks every one of the vocabulary's ~49k tokens against
the grammar at every step (about a second a token for a schema with string lengths). Like llama.cpp's own
`common_sampler`, this samples without the grammar first and asks the grammar only about that one token; the
whole vocabulary goes through the grammar only when the grammar rejects it.
"""

from __future__ import annotations

import ctypes
import json
import math
from typing import Any

import numpy as np


# llama-cpp-python's converter lets a JSON string hold any character but a quote or a backslash; JSON forbids raw
# control characters there (a newline in a title makes the answer unparseable), as llama.cpp's own converter says.
_LOOSE_CHAR = 'char ::= [^"\\\\] |'
_STRICT_CHAR = 'char ::= [^"\\\\\\x7F\\x00-\\x1F] |'


def strict_strings(gbnf: str) -> str:
    """The grammar with JSON's own rule for a string's characters (no raw control characters)."""
    return gbnf.replace(_LOOSE_CHAR, _STRICT_CHAR)


def schema_grammar(schema: dict) -> str:
    """The GBNF grammar of the JSON documents a schema allows (ValueError etc. for a schema it cannot compile)."""
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    return strict_strings(json_schema_to_gbnf(json.dumps(schema)))


class GrammarSampler:
    def __init__(self, lib: Any, vocab: Any, gbnf: str) -> None:
        self._lib = lib
        self.grammar = lib.llama_sampler_init_grammar(vocab, gbnf.encode(), b"root")
        if not self.grammar:
            raise ValueError("llama.cpp rejected the grammar")
        self._n_vocab = lib.llama_vocab_n_tokens(vocab)
        self._one = lib.llama_token_data()
        self._one_array = lib.llama_token_data_array(ctypes.pointer(self._one), 1, -1, False)
        self._all: np.ndarray | None = None

    def sample(self, chain: Any, ctx: Any, index: int) -> int:
        lib = self._lib
        token = lib.llama_sampler_sample(chain, ctx, index)  # the unconstrained choice, accepted by the chain
        self._one.id, self._one.logit, self._one.p = token, 0.0, 0.0
        self._one_array.size, self._one_array.selected, self._one_array.sorted = 1, -1, False
        lib.llama_sampler_apply(self.grammar, ctypes.byref(self._one_array))
        if math.isinf(self._one.logit):  # the grammar forbids it: choose again among what it allows
            token = self._resample(chain, ctx, index)
        lib.llama_sampler_accept(self.grammar, token)
        return token

    def _resample(self, chain: Any, ctx: Any, index: int) -> int:
        lib = self._lib
        if self._all is None:
            self._all = np.zeros(self._n_vocab, dtype=np.dtype([("id", "i4"), ("logit", "f4"), ("p", "f4")]))
            self._all["id"] = np.arange(self._n_vocab, dtype="i4")
        logits = np.ctypeslib.as_array(lib.llama_get_logits_ith(ctx, index), shape=(self._n_vocab,))
        self._all["logit"] = logits
        self._all["p"] = 0.0
        data = self._all.ctypes.data_as(lib.llama_token_data_p)
        array = lib.llama_token_data_array(data, self._n_vocab, -1, False)
        lib.llama_sampler_apply(self.grammar, ctypes.byref(array))
        lib.llama_sampler_apply(chain, ctypes.byref(array))
        token = int(array.data[array.selected].id)
        lib.llama_sampler_accept(chain, token)
        return token

    def free(self) -> None:
        self._lib.llama_sampler_free(self.grammar)


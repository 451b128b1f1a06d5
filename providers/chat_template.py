"""The model's own chat template, rendered the way llama-cpp-python's `create_chat_completion` renders it.

For a GGUF that carries `tokenizer.chat_template` (SmolLM2 does), `Llama` formats messages with its
`Jinja2ChatFormatter` over that template and tokenises the result with special tokens parsed and no extra BOS;
this does the same, so prompts are token for token what the pooled `Llama` objects used to build. A GGUF without
a template falls back to llama.cpp's built-in default (chatml).
"""

from __future__ import annotations

import ctypes
from typing import Any


class ChatTemplate:
    def __init__(self, lib: Any, model: Any, vocab: Any) -> None:
        self._lib = lib
        self._vocab = vocab
        template = _meta(lib, model, "tokenizer.chat_template")
        self._jinja = None
        if template:
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            def text(token: int) -> str:
                return lib.llama_vocab_get_text(vocab, token).decode("utf-8", "replace") if token != -1 else ""

            self._jinja = Jinja2ChatFormatter(
                template=template,
                eos_token=text(lib.llama_vocab_eos(vocab)),
                bos_token=text(lib.llama_vocab_bos(vocab)),
            )

    def render(self, messages: list[dict[str, str]]) -> str:
        if self._jinja is not None:
            return self._jinja(messages=messages).prompt
        lib = self._lib
        chat = (lib.llama_chat_message * len(messages))()
        keep = []  # the encoded strings must outlive the call
        for i, m in enumerate(messages):
            role, content = m["role"].encode(), m["content"].encode()
            keep += [role, content]
            chat[i].role, chat[i].content = role, content
        size = 256 + 2 * sum(len(b) for b in keep)
        buf = ctypes.create_string_buffer(size)
        n = lib.llama_chat_apply_template(None, chat, len(messages), True, buf, size)
        if n < 0:
            raise ValueError("llama.cpp has no default chat template for this model")
        if n > size:
            buf = ctypes.create_string_buffer(n)
            n = lib.llama_chat_apply_template(None, chat, len(messages), True, buf, n)
        return buf.raw[:n].decode("utf-8", "replace")

    def tokenize(self, text: str) -> list[int]:
        data = text.encode("utf-8")
        size = len(data) + 8
        tokens = (self._lib.llama_token * size)()
        # add_special False: the template already wrote the special tokens; parse_special True: read them as such.
        n = self._lib.llama_tokenize(self._vocab, data, len(data), tokens, size, False, True)
        if n < 0:
            tokens = (self._lib.llama_token * -n)()
            n = self._lib.llama_tokenize(self._vocab, data, len(data), tokens, -n, False, True)
        return list(tokens[:n])


def _meta(lib: Any, model: Any, key: str) -> str:
    size = 4096
    while True:
        buf = ctypes.create_string_buffer(size)
        n = lib.llama_model_meta_val_str(model, key.encode(), buf, size)
        if n < 0:
            return ""
        if n < size:
            return buf.value.decode("utf-8", "replace")
        size = n + 1

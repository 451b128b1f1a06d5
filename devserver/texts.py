"""The text the server answers with: deterministic words, counted the way the wire formats report them."""

from __future__ import annotations

import hashlib
import random
import re
from typing import Any

_WORDS = (
    "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda", "mu",
    "nu", "xi", "omicron", "pi", "rho", "sigma", "tau", "upsilon", "phi", "chi", "psi", "omega",
)  # fmt: skip
_WORD_RE = re.compile(r"\S+\s*")


def default_text(prompt: str, model: str = "", tokens: int = 12) -> str:
    """The default responder's text: ``tokens`` words derived from a hash of the model and prompt."""
    digest = hashlib.blake2b(f"{model}\x00{prompt}".encode("utf-8", "surrogatepass"), digest_size=16).digest()
    rng = random.Random(int.from_bytes(digest, "big"))
    return " ".join(f"{_WORDS[rng.randrange(len(_WORDS))]}-{rng.getrandbits(12):03x}" for _ in range(tokens))


def split_words(text: str) -> list[str]:
    """Split text into the streamed chunks: words with their trailing whitespace (``"".join`` gives back text)."""
    chunks = _WORD_RE.findall(text)
    lead = len(text) - len(text.lstrip())
    if lead:
        if chunks:
            chunks[0] = text[:lead] + chunks[0]
        else:
            chunks = [text]
    return chunks


def content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            part["text"]
            for part in content
            if isinstance(part, dict) and isinstance(part.get("text"), str) and part.get("type", "text") in ("text", "input_text")
        )
    return ""


def _turns(body: dict) -> list:
    """The conversation: chat `messages`, or the Responses API's `input` (a string is one user turn)."""
    turns = body.get("messages", body.get("input"))
    if isinstance(turns, str):
        return [{"role": "user", "content": turns}]
    return turns if isinstance(turns, list) else []


def last_user_text(body: dict) -> str:
    for message in reversed(_turns(body)):
        if isinstance(message, dict) and message.get("role") == "user":
            return content_text(message.get("content"))
    return ""


def prompt_words(body: dict) -> int:
    n = len(content_text(body.get("system", body.get("instructions"))).split())
    for message in _turns(body):
        if isinstance(message, dict):
            n += len(content_text(message.get("content")).split())
    return n


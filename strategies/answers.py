"""Reading an answer out of model text: a label from a fixed set, a JSON object or field, a list of findings."""

from __future__ import annotations

import json
import re
from typing import Any, Sequence

_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)
# What a reviewer writes when it found nothing: not a finding.
_NOTHING = frozenset({"none", "no issues", "no problems", "nothing", "n a", "no issues found", "no problems found"})
_OPENING = re.compile(r"[{\[]")
_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+(.*\S)\s*$")


def normalise(text: str) -> str:
    """Lower case, punctuation to spaces, runs of white space folded: how labels and findings are compared."""
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def extract_label(text: str, labels: Sequence[str]) -> str | None:
    """The label the text gives, or None (the voter abstains).

    Rule: the label whose normalised form appears first in the normalised text, as whole words; a longer label
    wins over a shorter one starting at the same place ("not spam" over "spam")."""
    body = f" {normalise(text)} "
    best: tuple[int, int, str] | None = None
    for label in labels:
        needle = f" {normalise(label)} "
        if needle.strip() == "":
            continue
        at = body.find(needle)
        if at >= 0:
            key = (at, -len(needle), label)
            if best is None or key < best:
                best = key
    return best[2] if best else None


def find_json(text: str) -> Any:
    """The first JSON value in the text: a fenced ```json block, the whole text, or the first {...} / [...] span.
    Raises ValueError with the reason when there is none."""
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    for candidate in candidates:
        candidate = candidate.strip()
        try:
            return json.loads(candidate)
        except ValueError:
            pass
    decoder = json.JSONDecoder()
    for opening in _OPENING.finditer(text):
        try:
            value, _ = decoder.raw_decode(text, opening.start())
            return value
        except ValueError:
            continue
    raise ValueError("no JSON object in the answer")


def extract_field(text: str, field: str, labels: Sequence[str] = ()) -> str | None:
    try:
        data = find_json(text)
    except ValueError:
        return None
    if not isinstance(data, dict) or field not in data:
        return None
    value = data[field]
    if isinstance(value, (dict, list)) or value is None:
        return None
    value = str(value)
    return extract_label(value, labels) if labels else value.strip()


def extract_findings(text: str) -> list[str]:
    """Findings as a model lists them: a JSON list (of strings, or of objects with a text-ish field), else
    bullet or numbered lines, else non-empty lines; "none" and its kin are no finding."""
    return [f for f in _findings(text) if normalise(f) not in _NOTHING]


def _findings(text: str) -> list[str]:
    try:
        data = find_json(text) if "[" in text or "{" in text else None  # only a list or an object holds findings
        if isinstance(data, dict):
            data = next((v for v in data.values() if isinstance(v, list)), None)
        if isinstance(data, list):
            out = []
            for item in data:
                if isinstance(item, str):
                    out.append(item)
                elif isinstance(item, dict):
                    value = next((item[k] for k in ("finding", "issue", "text", "title", "description") if k in item), None)
                    if isinstance(value, str):
                        out.append(value)
            return [f.strip() for f in out if f.strip()]
    except ValueError:
        pass
    lines = [m.group(1) for m in map(_BULLET.match, text.splitlines()) if m]
    if not lines:
        lines = [line.strip() for line in text.splitlines() if len(line.strip()) > 3]
    return lines


def read_answer(text: str, labels: Sequence[str], json_field: str, schema: str) -> dict[str, Any]:
    """What a branch's text says, for votes, checks and merges: {"answer": ...} and/or {"json": ...}; a schema
    branch whose text holds no JSON gets {"json_error": reason}."""
    out: dict[str, Any] = {}
    if json_field:
        out["answer"] = extract_field(text, json_field, labels)
    elif labels:
        out["answer"] = extract_label(text, labels)
    if schema:
        try:
            out["json"] = find_json(text)
        except ValueError as err:
            out["json_error"] = str(err)
    return out

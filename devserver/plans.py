"""A responder that plays a planner: requests asking for a plan get the plans it was given, in turn (the last one
again once they run out); requests asking for a follow-up plan get the follow-ups it was given, in turn, or,
with none given, the answer that the subject is covered (no angles); every other request gets the default text.

A request asks for a plan when its JSON Schema (OpenAI's `response_format`) has an `angles` property, or, for
APIs without structured output, when its last user message asks for `"angles"`. It asks for a follow-up plan
when it also allows no angles at all: the schema's `minItems` is 0, or the message offers `{"angles": []}` as an
answer. The server knows nothing of fanout: that is the wire-level shape of any planner call.
"""

from __future__ import annotations

from typing import Any, Sequence

from .faults import Request
from .texts import default_text

COVERED = '{"angles": []}'  # a follow-up planner's answer: nothing more to research


def _schema(req: Request) -> dict[str, Any]:
    fmt = req.body.get("response_format")
    if not isinstance(fmt, dict):
        return {}
    schema = (fmt.get("json_schema") or {}).get("schema") or fmt.get("schema") or {}
    return schema if isinstance(schema, dict) else {}


def asks_for_plan(req: Request) -> bool:
    return "angles" in (_schema(req).get("properties") or {}) or '"angles"' in req.prompt


def asks_for_follow_up(req: Request) -> bool:
    if not asks_for_plan(req):
        return False
    angles = (_schema(req).get("properties") or {}).get("angles")
    return (isinstance(angles, dict) and angles.get("minItems") == 0) or COVERED in req.prompt


class PlanResponder:
    def __init__(self, *plans: str, follow_ups: Sequence[str] = (), tokens: int = 12) -> None:
        if not plans:
            raise ValueError("give at least one plan")
        self.plans = list(plans)
        self.follow_ups = list(follow_ups) or [COVERED]
        self.tokens = tokens
        self.asked = 0  # planner requests seen (follow-ups not included)
        self.requests: list[Request] = []  # the planner requests, for tests to read
        self.follow_up_requests: list[Request] = []  # the follow-up planner requests

    def __call__(self, req: Request) -> str:
        if not asks_for_plan(req):
            return default_text(req.prompt, str(req.body.get("model", "")), self.tokens)
        if asks_for_follow_up(req):
            self.follow_up_requests.append(req)
            return self.follow_ups[min(len(self.follow_up_requests), len(self.follow_ups)) - 1]
        self.requests.append(req)
        plan = self.plans[min(self.asked, len(self.plans) - 1)]
        self.asked += 1
        return plan

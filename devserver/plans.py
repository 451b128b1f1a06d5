"""A responder that plays a planner: requests asking for a plan get the plans it was given, in turn (the last one
again once they run out); every other request gets the default text.

A request asks for a plan when its JSON Schema (OpenAI's `response_format`) has an `angles` property, or, for
APIs without structured output, when its last user message asks for `"angles"`. The server knows nothing of
fanout: that is the wire-level shape of any planner call.
"""

from __future__ import annotations

from .faults import Request
from .texts import default_text


def asks_for_plan(req: Request) -> bool:
    fmt = req.body.get("response_format")
    if isinstance(fmt, dict):
        schema = (fmt.get("json_schema") or {}).get("schema") or fmt.get("schema") or {}
        if isinstance(schema, dict) and "angles" in (schema.get("properties") or {}):
            return True
    return '"angles"' in req.prompt


class PlanResponder:
    def __init__(self, *plans: str, tokens: int = 12) -> None:
        if not plans:
            raise ValueError("give at least one plan")
        self.plans = list(plans)
        self.tokens = tokens
        self.asked = 0  # planner requests seen
        self.requests: list[Request] = []  # the planner requests, for tests to read

    def __call__(self, req: Request) -> str:
        if not asks_for_plan(req):
            return default_text(req.prompt, str(req.body.get("model", "")), self.tokens)
        self.requests.append(req)
        plan = self.plans[min(self.asked, len(self.plans) - 1)]
        self.asked += 1
        return plan

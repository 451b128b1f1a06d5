"""What the tests of waves share: a follow-up plan for the solid-state batteries plans the planned tests use, and
what each request to the loopback server was."""

from __future__ import annotations

import json

from fanout.devserver import Request, asks_for_follow_up, asks_for_plan

# Follows up "Electrolyte chemistry" and "Manufacturing at scale", two angles of every such plan.
FOLLOW_UP = json.dumps({"angles": [
    {"title": "Sulfide stability", "brief": "Why sulfides degrade.", "after": ["Electrolyte chemistry"]},
    {"title": "Factory costs", "brief": "What a gigafactory line costs.",
     "after": ["Manufacturing at scale", "Sulfide stability"]},
]})
WAVE_2 = ["sulfide-stability", "factory-costs"]


def kinds(requests: list[Request]) -> list[str]:
    """What each request was: the plan, a follow-up plan, a branch (by the title it focuses on), or the
    synthesis."""
    out = []
    for r in requests:
        if asks_for_follow_up(r):
            out.append("follow-up")
        elif asks_for_plan(r):
            out.append("plan")
        elif "focusing on: " in r.prompt:
            out.append(r.prompt.split("focusing on: ", 1)[1].split(".", 1)[0])
        else:
            out.append("aggregate")
    return out

"""A storm of mixed faults for soak runs: each prompt's first request may get one fault, chosen from a hash of the
prompt, so the mix is the same on every run and every injected fault is on record.

Installed on a LoopbackServer, a Storm injects, at the given rates: 429 with Retry-After, a connection dropped
mid-stream, a stall mid-stream (the client's stall timeout must end it) and a 500. A prompt's later requests
(the client's retries) are answered normally, so each faulted branch costs exactly one retry. `phase` is stamped
on each record: a test that kills the client sets it before starting the next one, and then knows which process
saw which fault.
"""

from __future__ import annotations

import hashlib
import threading
from collections import Counter
from dataclasses import dataclass, field

from .faults import Fault, Request
from .texts import default_text

RATES = {"429": 0.10, "drop": 0.05, "stall": 0.02, "500": 0.01}


@dataclass
class Injected:
    kind: str
    phase: int


@dataclass
class Storm:
    rates: dict[str, float] = field(default_factory=lambda: dict(RATES))
    retry_after: float = 1.0  # seconds, sent as Retry-After on the 429s
    seed: str = "storm"
    phase: int = 1
    injected: dict[str, Injected] = field(default_factory=dict)  # by prompt: at most one fault each
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def kind_for(self, prompt: str) -> str | None:
        """The fault this prompt's first request gets, if any: fixed by the prompt and the seed."""
        digest = hashlib.sha256(f"{self.seed}\0{prompt}".encode()).digest()
        u = int.from_bytes(digest[:8], "big") / 2**64
        edge = 0.0
        for kind, rate in self.rates.items():
            edge += rate
            if u < edge:
                return kind
        return None

    def faults(self) -> dict[str, Fault]:
        return {
            "429": Fault(status=429, retry_after=self.retry_after, message="storm: rate limited"),
            "drop": Fault(disconnect_after=3),
            "stall": Fault(stall_after=2),
            "500": Fault(status=500, message="storm: internal error"),
        }

    def install(self, server) -> None:
        for kind, fault in self.faults().items():
            server.add_fault(fault, times=1 << 40, match=lambda req, kind=kind: self._take(req, kind))

    def _take(self, req: Request, kind: str) -> bool:
        with self._lock:
            if req.prompt in self.injected or self.kind_for(req.prompt) != kind:
                return False
            self.injected[req.prompt] = Injected(kind, self.phase)
            return True

    def counts(self, phase: int | None = None) -> Counter:
        with self._lock:
            return Counter(i.kind for i in self.injected.values() if phase is None or i.phase == phase)


def storm_recipe(branches: int) -> str:
    """A parallel batch recipe of `branches` items, each named `#NNNN#` in its prompt, joined by concat (no
    aggregate call: every request is a branch's)."""
    items = ", ".join(f'"#{n:04d}#"' for n in range(branches))
    return (
        'name = "storm"\nstrategy = "parallel"\non_error = "continue"\nprompt = "Answer for {item}."\n'
        f'[[branches]]\nid = "b"\ntitle = "Storm"\nitems = [{items}]\n[aggregate]\nkind = "concat"\n'
    )


def audit(storm: Storm, doc: dict, requests: list[Request], tokens: int, model: str = "m") -> list[str]:
    """What is wrong with a storm run's final JSON document (from `fanout run` or `fanout resume`): every branch
    must be done, its text the server's whole answer exactly once, and its retries and throttles exactly the
    faults injected in the process that finished it (a kept branch: the first; any other: the last)."""
    prompt_of: dict[str, str] = {}
    for req in requests:
        if req.prompt.startswith("Answer for #"):
            prompt_of[req.prompt[len("Answer for "):][:6]] = req.prompt
    last = storm.phase
    problems = []
    throttles = retries = 0
    for n, b in enumerate(doc["branches"]):
        prompt = prompt_of.get(f"#{n:04d}#")
        if b["status"] != "done" or prompt is None:
            problems.append(f"{b['id']}: {b['status']} {b['error']}")
            continue
        want = default_text(prompt, model, tokens)
        if b["text"] != want:
            problems.append(f"{b['id']}: text {len(b['text'])} chars, the server sent {len(want)}")
        injected = storm.injected.get(prompt)
        phase = 1 if b.get("kept") else last
        faulted = injected is not None and injected.phase == phase
        expect = (int(faulted), int(faulted and injected.kind == "429"))
        got = (b["metrics"]["retries"], b["metrics"]["throttles"])
        if got != expect:
            problems.append(f"{b['id']}: retries, throttles {got}; the server injected {expect}")
        retries += expect[0]
        throttles += expect[1]
    m = doc["metrics"] or {}
    if (m.get("retries"), m.get("throttles")) != (retries, throttles):
        problems.append(f"run: retries, throttles {m.get('retries')}, {m.get('throttles')}; injected {retries}, "
                        f"{throttles}")
    return problems

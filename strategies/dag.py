"""The recipe as a DAG: dependency order, cycles, and the longest path through measured latencies.

All walks are iterative: a 1,000-step sequential chain is as deep as a DAG gets, and recursion would not survive it.
"""

from __future__ import annotations

import heapq
from typing import Mapping, Sequence


def find_cycle(deps: Mapping[str, Sequence[str]]) -> list[str] | None:
    """A dependency cycle as a closed path [a, b, ..., a], or None."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = finished
    for root in deps:
        if root in state:
            continue
        path: list[str] = [root]
        stack = [iter(deps.get(root, ()))]
        state[root] = 1
        while stack:
            dep = next(stack[-1], None)
            if dep is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(dep) == 1:
                return path[path.index(dep) :] + [dep]
            elif dep not in state:
                state[dep] = 1
                path.append(dep)
                stack.append(iter(deps.get(dep, ())))
    return None


def topological_order(ids: Sequence[str], deps: Mapping[str, Sequence[str]]) -> list[str]:
    """Dependency order that keeps the recipe's own order wherever the dependencies allow it (Kahn's algorithm
    with the ready branches taken in recipe order: linear in the edges, for 1,000-branch runs)."""
    position = {node: i for i, node in enumerate(ids)}
    waiting = {node: 0 for node in ids}
    dependents: dict[str, list[str]] = {node: [] for node in ids}
    for node in ids:
        for dep in deps.get(node, ()):
            if dep in position:
                waiting[node] += 1
                dependents[dep].append(node)
    ready = [position[n] for n in ids if waiting[n] == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        node = ids[heapq.heappop(ready)]
        order.append(node)
        for later in dependents[node]:
            waiting[later] -= 1
            if waiting[later] == 0:
                heapq.heappush(ready, position[later])
    if len(order) != len(ids):
        raise ValueError(f"dependency cycle among {[n for n in ids if waiting[n]]}")
    return order


def longest_path(
    ids: Sequence[str], deps: Mapping[str, Sequence[str]], weight: Mapping[str, float]
) -> tuple[float, list[str]]:
    """The heaviest dependency chain: (total weight, the chain's ids in order)."""
    best: dict[str, tuple[float, str | None]] = {}
    for node in topological_order(ids, deps):
        prior = max(
            ((best[d][0], d) for d in deps.get(node, ()) if d in best), key=lambda x: x[0], default=(0.0, None)
        )
        best[node] = (prior[0] + weight.get(node, 0.0), prior[1])
    if not best:
        return 0.0, []
    end = max(best, key=lambda n: best[n][0])
    chain: list[str] = []
    node: str | None = end
    while node is not None:
        chain.append(node)
        node = best[node][1]
    return best[end][0], chain[::-1]

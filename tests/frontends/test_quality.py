"""The output's quality on hand-made outputs: findings, distinct findings, redundancy, overlap, contradictions."""

from __future__ import annotations

import pytest
from reworded import batch, fold_pairwise

from fanout.frontends.quality import MATRIX_UP_TO, TOP_PAIRS, count_contradictions, findings_of, measure
from fanout.frontends.report import to_json, to_markdown
from fanout.frontends.state import RunState
from fanout.strategies import events as ev
from fanout.strategies import neardup
from fanout.strategies.neardup import similar

QUBITS = "- IBM reached 1,121 qubits on Condor\n- Error rates fell below 0.1 % on two-qubit gates\n- Google showed error correction below threshold"
FUNDING = "1. Venture funding reached $1.2 billion in 2025\n2. Banks pilot quantum risk models\n3. Cloud access drives most revenue"


def test_identical_outputs_are_all_redundant_but_one():
    q = measure([("a", QUBITS), ("b", QUBITS), ("c", QUBITS)])
    assert (q.findings, q.distinct) == (9, 3)
    assert q.redundancy == round(1 - 3 / 9, 4)
    assert q.overlap["a"]["b"] == 1.0 and q.overlap["c"]["a"] == 1.0


def test_disjoint_outputs_have_no_redundancy():
    q = measure([("hardware", QUBITS), ("commercial", FUNDING)])
    assert (q.findings, q.distinct, q.redundancy) == (6, 6, 0.0)
    assert q.overlap == {"hardware": {"commercial": 0.0}, "commercial": {"hardware": 0.0}}


def test_partly_overlapping_outputs_and_near_duplicates_fold_across_branches():
    other = "- IBM reached 1121 qubits on Condor.\n- Photonic machines scale differently\n- Venture funding reached $1.2 billion in 2025"
    q = measure([("a", QUBITS), ("b", other), ("c", FUNDING)])
    assert q.findings == 9 and q.distinct == 7  # the Condor line (punctuation aside) and the funding line fold
    assert q.redundancy == round(1 - 7 / 9, 4)
    assert q.overlap["a"] == {"b": round(1 / 3, 4), "c": 0.0}
    assert q.overlap["b"] == {"a": round(1 / 3, 4), "c": round(1 / 3, 4)}


def test_a_branch_repeating_itself_has_not_repeated_another():
    q = measure([("a", QUBITS + "\n- IBM reached 1,121 qubits on Condor"), ("b", FUNDING)])
    assert (q.findings, q.distinct, q.redundancy) == (6, 6, 0.0)


def test_an_empty_branch_has_no_findings_and_no_overlap_share():
    q = measure([("a", QUBITS), ("b", "")])
    assert q.per_branch == {"a": 3, "b": 0} and q.findings == 3 and q.redundancy == 0.0
    assert q.overlap["b"]["a"] is None and q.overlap["a"]["b"] == 0.0
    nothing = measure([("a", ""), ("b", "none")])
    assert nothing.findings == 0 and nothing.redundancy is None


def run_state(texts: dict[str, str | None], aggregate: str) -> RunState:
    """A finished run; a None text is a branch that failed."""
    info = tuple(ev.BranchInfo(b, b.title()) for b in texts)
    events: list[ev.Event] = [ev.RunStarted(0.0, "s", "research", "parallel", "p", "m", {}, info, "synthesize", 0.0)]
    for i, (b, text) in enumerate(texts.items()):
        events.append(ev.BranchStarted(0.1, b))
        events.append(ev.BranchFailed(1.0, b, "500 server error") if text is None
                      else ev.BranchDone(1.0 + i, b, text, ev.BranchMetrics(latency=1.0)))
    events += [ev.AggregateDone(5.0, "synthesize", aggregate), ev.RunDone(5.0, "partial", ev.RunMetrics(wall=5.0))]
    return RunState.from_events(events)


def test_a_failed_branch_is_left_out_and_the_report_carries_the_figures():
    synthesis = "## Overall\nFine.\n\n## Contradictions\n- Qubit counts differ between reports\n- Funding totals disagree\n"
    state = run_state({"a": QUBITS, "b": QUBITS, "c": None}, synthesis)
    q = state.quality
    assert q.per_branch == {"a": 3, "b": 3} and "c" not in q.overlap
    assert (q.findings, q.distinct, q.contradictions) == (6, 3, 2)
    doc = to_json(state)["metrics"]["quality"]
    assert doc["redundancy"] == 0.5 and doc["overlap"]["a"]["b"] == 1.0 and doc["contradictions"] == 2
    md = to_markdown(state)
    assert "## Quality" in md and "redundancy 50 %" in md and "contradictions flagged 2" in md
    assert "| a | — | 100 % | 3 |" in md


def test_quality_follows_the_events_not_a_stale_copy():
    state = run_state({"a": QUBITS, "b": FUNDING}, "")
    assert state.quality.redundancy == 0.0
    state.apply(ev.BranchStarted(6.0, "b", attempt=2))  # retried after the run: b's old answer no longer counts
    assert state.quality.per_branch == {"a": 3}
    state.apply(ev.BranchDone(7.0, "b", QUBITS, ev.BranchMetrics(latency=1.0)))
    assert state.quality.redundancy == 0.5


def test_contradictions_under_the_research_recipes_numbered_heading():
    text = (
        "1. Overall state\nQuantum is growing.\n\n2. Key findings by angle\nHardware: more qubits.\n\n"
        "3. Contradictions or tensions between findings\n- Hardware says 1,000 qubits, academic says 400\n"
        "- Commercial sees revenue now; security says years away\n  - (a sub-point of the second)\n"
        "- Error rates are quoted differently\n\n4. What is missing from this research\n- Costs\n- Energy use\n"
    )
    assert count_contradictions(text) == 4  # the three and the indented sub-point; not the two under 4.


def test_contradictions_none_absent_paragraphs_and_own_numbering():
    assert count_contradictions("**Contradictions:** none found.\n\n**Missing:** costs") == 0
    assert count_contradictions("## Contradictions\nThere are no contradictions between the reports.") == 0
    assert count_contradictions("A summary that never mentions the topic of disagreement.") is None
    assert count_contradictions("Overall, the reports show no contradictions and broadly agree on the state of play.") is None
    paragraphs = "### Contradictions\nHardware and academic disagree on counts.\n\nFunding figures differ.\n\n### Missing\nx"
    assert count_contradictions(paragraphs) == 2
    own = "3. Contradictions\n1. Counts differ\n2. Dates differ\n4. Missing\n1. Costs"
    assert count_contradictions(own) == 2


def measured_pair_by_pair(outputs):
    """The figures as first written: every finding against every other with the rule, and the overlap's pairs
    (share > 0) ordered by share, then branch order."""
    own = {bid: [e["text"] for e in fold_pairwise([(f, bid) for f in findings_of(text)])] for bid, text in outputs}
    folded = fold_pairwise([(f, bid) for bid, fs in own.items() for f in fs])
    order = list(own)
    shares = [(sum(1 for f in own[a] if any(similar(f, g) for g in own[b])) / len(own[a]), a, b)
              for a in own for b in own if a != b and own[a]]
    top = sorted((s for s in shares if s[0] > 0), key=lambda s: (-s[0], order.index(s[1]), order.index(s[2])))
    return (sum(len(fs) for fs in own.values()), len(folded),
            [{"branch": a, "found_by": b, "share": round(share, 4)} for share, a, b in top[:TOP_PAIRS]])


@pytest.mark.parametrize("bands", [False, True], ids=["all pairs", "bands"])
def test_a_batch_is_measured_and_gives_its_most_overlapping_pairs(bands, monkeypatch):
    if bands:  # the characters rule only on pairs whose MinHash bands agree, as for a large batch
        monkeypatch.setattr(neardup, "ALL_PAIRS", 0)
    outputs = batch(MATRIX_UP_TO + 16)
    outputs.append(("copy", outputs[7][1]))  # one branch says what another said: the pair overlaps most
    q = measure(outputs)
    findings, distinct, top = measured_pair_by_pair(outputs)
    assert (q.findings, q.distinct) == (findings, distinct) and q.redundancy == round(1 - distinct / findings, 4)
    assert q.overlap == top and len(top) == TOP_PAIRS and top[-1]["share"] > 0
    assert top[:2] == [{"branch": "t0007", "found_by": "copy", "share": 1.0},
                       {"branch": "copy", "found_by": "t0007", "share": 1.0}]
    assert q.as_dict()["overlap"] == top


def test_a_batch_reports_its_pairs_not_a_matrix():
    state = run_state({f"t{i}": QUBITS if i % 2 else FUNDING for i in range(MATRIX_UP_TO + 1)}, "")
    doc = to_json(state)["metrics"]["quality"]
    assert doc["overlap"][0] == {"branch": "t0", "found_by": "t2", "share": 1.0} and len(doc["overlap"]) == TOP_PAIRS
    assert (doc["findings"], doc["distinct"]) == (3 * (MATRIX_UP_TO + 1), 6)
    md = to_markdown(state)
    assert "| t0 | t2 | 100 % |" in md and "| found by → |" not in md


def test_least_redundant_is_named_only_when_one_strategy_is_lowest():
    from fanout.frontends.compare import Row, table, verdict

    def row(strategy, redundancy):
        return Row(strategy, "ok", 1.0, 100, False, 6, 0.0, 10, 1.0, 0, findings=10, distinct=10, redundancy=redundancy)

    tied = [row("sequential", 0.0), row("parallel", 0.0), row("hybrid", 0.2)]
    assert verdict(tied).least_redundant is None
    assert "Least redundant: a tie between sequential, parallel (0 %)" in table(tied)
    assert verdict([row("sequential", 0.1), row("parallel", 0.3)]).least_redundant == "sequential"
    assert "Least redundant" not in table([row("sequential", None), row("parallel", None)])


def test_copied_report_markers_are_no_findings():
    # What SmolLM2-135M does when shown earlier reports: it copies them, fanout's markers and all.
    plain = "Qubit counts are growing fast.\n\nError rates are falling every year."  # lines, not bullets
    copied = "<<<report 09f2fc2d6af21bb9 id=hardware title=Hardware>>>>\n\n" + plain + "\n<<<end 09f2fc2d6af21bb9 id=hardware>>>"
    q = measure([("hardware", plain), ("software", copied)])
    assert q.per_branch == {"hardware": 2, "software": 2} and q.redundancy == 0.5

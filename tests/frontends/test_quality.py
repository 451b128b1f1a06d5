"""The output's quality on hand-made outputs: findings, distinct findings, redundancy, overlap, contradictions."""

from __future__ import annotations

from fanout.frontends.quality import MAX_BRANCHES, count_contradictions, measure
from fanout.frontends.report import to_json, to_markdown
from fanout.frontends.state import RunState
from fanout.strategies import events as ev

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


def test_a_batch_beyond_the_limit_is_not_measured_and_says_why():
    q = measure([(f"t{i}", f"- ticket {i}") for i in range(MAX_BRANCHES + 1)])
    assert q.redundancy is None and f"{MAX_BRANCHES + 1} branches" in q.skipped


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

"""The compact list's lines: what a glance needs (issue 30, many branches)."""

from __future__ import annotations

from fanout.frontends.state import BranchState
from fanout.frontends.status import Status
from fanout.strategies.events import BranchInfo, BranchMetrics
from fanout.tui.widgets.branch_list import answers_summary, bar, what_it_says


def branch(bid: str, status: Status = Status.DONE, text: str = "", tokens: int = 0, **fields) -> BranchState:
    b = BranchState(BranchInfo(bid, bid.title()), status=status, final_text=text,
                    metrics=BranchMetrics(output_tokens=tokens), **fields)
    return b


def test_a_line_says_the_answer_the_first_line_or_the_cause():
    assert what_it_says(branch("t1", text="Billing.\nBecause of the invoice.", result={"answer": "billing"})) == \
        "billing"
    assert what_it_says(branch("t2", text="\x1b[31mNo label here", result={"answer": None})) == "unparsed"
    assert what_it_says(branch("r", text="\n\n  First finding: 25 mS/cm.\nSecond.")) == "First finding: 25 mS/cm."
    failed = branch("f", Status.FAILED, error="400 bad request: context too long")
    assert what_it_says(failed) == "400 · context too long"
    assert "\x1b" not in what_it_says(branch("x", text="\x1b[2Jclear the screen"))  # model text never drives it


def test_a_batch_is_summed_up_most_common_first():
    lanes = [branch(f"t{i}", result={"answer": a}) for i, a in
             enumerate(["bug", "billing", "bug", None, "bug", "billing", None, None])]
    assert answers_summary(lanes) == "bug 3 · billing 2 · 3 unparsed"
    assert answers_summary([branch("r", text="prose")]) == ""  # no answer form: no summary


def test_the_bar_is_the_tokens_against_the_most():
    assert bar(0, 100) == " " * 6 and bar(100, 100) == "█" * 6 and bar(50, 100) == "███   "
    assert bar(1, 0) == " " * 6

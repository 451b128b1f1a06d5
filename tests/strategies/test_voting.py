"""Votes and answer extraction on hand-made inputs."""

from __future__ import annotations

import pytest

from fanout.strategies.answers import extract_field, extract_findings, extract_label, find_json
from fanout.strategies.voting import Ballot, fold, similar, vote


def ballots(*answers, weights=None):
    weights = weights or [1.0] * len(answers)
    return [Ballot(f"v{i + 1}", a, w) for i, (a, w) in enumerate(zip(answers, weights))]


def test_majority_two_of_three():
    r = vote(ballots("vulnerable", "vulnerable", "safe"))
    assert r["answer"] == "vulnerable" and r["confidence"] == pytest.approx(2 / 3, abs=1e-4)
    assert r["status"] == "confident" and r["tally"] == {"vulnerable": 2, "safe": 1}


def test_tie_has_no_winner():
    r = vote(ballots("a", "b", "a", "b"))
    assert r["answer"] is None and r["status"] == "no consensus" and r["confidence"] == 0.5


def test_plurality_without_majority_needs_review():
    r = vote(ballots("a", "a", "b", "c", "d"))
    assert r["answer"] == "a" and r["status"] == "needs review"


def test_unanimous_agreement_and_failure():
    assert vote(ballots("approve", "approve", "approve"), "unanimous")["status"] == "confident"
    r = vote(ballots("approve", "approve", "reject"), "unanimous")
    assert r["status"] == "needs review" and r["answer"] == "approve"


def test_unanimous_with_an_abstention_is_not_unanimous():
    r = vote(ballots("approve", "approve", None), "unanimous")
    assert r["status"] == "needs review" and r["abstained"] == ["v3"]


def test_threshold_just_below_and_at():
    below = vote(ballots("critical", "critical", "critical", "minor", "minor"), "threshold", threshold=0.7)
    assert below["confidence"] == 0.6 and below["status"] == "needs review"
    at = vote(ballots(*["critical"] * 7, *["minor"] * 3), "threshold", threshold=0.7)
    assert at["confidence"] == 0.7 and at["status"] == "confident"
    above = vote(ballots("x", "x", "x", "y"), "threshold", threshold=0.7)
    assert above["status"] == "confident"


def test_weighted_reverses_a_plain_majority():
    plain = vote(ballots("A", "B", "A"))
    assert plain["answer"] == "A"
    weighted = vote(ballots("A", "B", "B", "A", weights=[1.0, 1.5, 1.5, 0.5]), "weighted")
    assert weighted["answer"] == "B" and weighted["tally"] == {"B": 3.0, "A": 1.5}
    assert weighted["confidence"] == pytest.approx(3.0 / 4.5, abs=1e-4)
    # the worked example of weighted voting: A = 2.0, B = 1.5
    worked = vote(ballots("A", "B", "A", weights=[1.0, 1.5, 1.0]), "weighted")
    assert worked["answer"] == "A" and worked["confidence"] == pytest.approx(2.0 / 3.5, abs=1e-4)


def test_abstaining_and_failed_voters_count_against_confidence():
    bs = [Ballot("v1", "yes"), Ballot("v2", "yes"), Ballot("v3", None), Ballot("v4", None, failed=True)]
    r = vote(bs)
    assert r["answer"] == "yes" and r["confidence"] == 0.5 and r["status"] == "needs review"
    assert r["abstained"] == ["v3"] and r["failed"] == ["v4"] and r["voters"]["v4"] == "failed"


def test_everyone_abstains():
    r = vote(ballots(None, None))
    assert r["answer"] is None and r["status"] == "no consensus" and r["confidence"] == 0.0


def test_union_deduplicates_and_folds_near_duplicates():
    bs = [
        Ballot("v1", None, findings=("SQL injection in login()", "Unbounded cache growth")),
        Ballot("v2", None, findings=("sql injection in login", "Missing input validation")),
        Ballot("v3", None, findings=("SQL Injection in Login()!",)),
    ]
    r = vote(bs, "union")
    texts = [f["text"] for f in r["findings"]]
    assert texts[0] == "SQL injection in login()"
    assert r["findings"][0]["found_by"] == ["v1", "v2", "v3"] and r["findings"][0]["support"] == 1.0
    assert len(texts) == 3 and r["status"] == "confident"


def test_similarity():
    assert similar("Use parameterised queries", "use parameterised queries.")
    assert similar("the cache grows without a bound", "the cache grows without bound")
    assert not similar("SQL injection", "Cross-site scripting")
    assert [e["found_by"] for e in fold([("a b c d e", "x"), ("a b c d e f", "y")])] == [["x", "y"]]


@pytest.mark.parametrize(
    "text,answer",
    [
        ("SPAM.", "spam"),
        ("I think this is not spam at all", "not spam"),
        ("Label: ham", "ham"),
        ("The answer is: Spam! Definitely.", "spam"),
        ("no idea", None),
    ],
)
def test_label_extraction(text, answer):
    assert extract_label(text, ["spam", "ham", "not spam"]) == answer


def test_json_extraction():
    assert find_json('Sure! ```json\n{"verdict": "fail"}\n```') == {"verdict": "fail"}
    assert find_json('prefix {"a": [1, 2]} suffix') == {"a": [1, 2]}
    with pytest.raises(ValueError):
        find_json("no json here")
    assert extract_field('{"label": "Hate"}', "label", ["hate", "ok"]) == "hate"
    assert extract_field('{"label": 3}', "label") == "3"
    assert extract_field('{"other": 1}', "label") is None
    assert extract_field("broken {", "label") is None


def test_findings_extraction():
    assert extract_findings("Findings:\n- one issue\n* two issue\n3) three issue") == ["one issue", "two issue", "three issue"]
    assert extract_findings('["a", "b"]') == ["a", "b"]
    assert extract_findings("- None.") == [] and extract_findings("- no issues found\n- real one") == ["real one"]
    assert extract_findings('{"issues": [{"issue": "x"}, {"text": "y"}]}') == ["x", "y"]
